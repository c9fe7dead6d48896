from django.apps import AppConfig


class CostsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "costs"

    def ready(self) -> None:
        # Imported here, not at the top: models and the apps' modules load only once the
        # app registry is ready (Django's AppConfig.ready()).
        from pipelines.signals import run_finished

        run_finished.connect(costs_after_run, dispatch_uid="costs_after_run")


def costs_after_run(*, tenant_id: str, wrote_focus: bool, **kwargs) -> None:
    """A run that wrote a FOCUS table may have replaced a period: the tenant's cached cost
    answers are no longer current."""
    if wrote_focus:
        from costs.services import costs_version_bump  # models load after apps

        costs_version_bump(tenant_id=tenant_id)
