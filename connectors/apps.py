from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Export connectors"

    def ready(self) -> None:
        # Imported here, not at the top: models and the apps' modules load only once the
        # app registry is ready (Django's AppConfig.ready()).
        from connectors.processors import ExportSync
        from connectors.services.ledger import ledger_after_run
        from connectors.services.stores import connector_settings_problems
        from pipelines.processors import processor_register
        from pipelines.signals import run_finished
        from tenants import hooks

        processor_register(ExportSync)
        hooks.settings_checks.append(connector_settings_problems)
        run_finished.connect(
            lambda sender, **kwargs: ledger_after_run(**kwargs),
            dispatch_uid="connectors_ledger_after_run",
            weak=False,
        )
