from django.apps import AppConfig
from django.core import checks


class BudgetsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "budgets"

    def ready(self) -> None:
        # Imported here, not at the top: models and the apps' modules load only once the
        # app registry is ready (Django's AppConfig.ready()).
        from pipelines.signals import run_finished

        checks.register(webhook_networks_check, checks.Tags.security)
        run_finished.connect(budgets_after_run, dispatch_uid="budgets_after_run")


def budgets_after_run(*, tenant_id: str, wrote_focus: bool, **kwargs) -> None:
    """A run that wrote a FOCUS table has the tenant's budgets evaluated (in the worker)."""
    if wrote_focus:
        from budgets.services.budgets import budgets_evaluate_enqueue  # models load after apps

        budgets_evaluate_enqueue(tenant_id=tenant_id)


def webhook_networks_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """WEBHOOK_ALLOW_PRIVATE_HOSTS must hold networks (a typo would fail every delivery)."""
    import ipaddress

    from django.conf import settings

    errors = []
    for network in settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"WEBHOOK_ALLOW_PRIVATE_HOSTS: {network!r} is not an IP network",
                    hint="Give addresses or CIDR networks, comma-separated.",
                    id="budgets.E001",
                )
            )
    return errors
