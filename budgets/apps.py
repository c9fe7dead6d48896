from django.apps import AppConfig
from django.core import checks


class BudgetsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "budgets"

    def ready(self) -> None:
        checks.register(webhook_networks_check, checks.Tags.security)


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
