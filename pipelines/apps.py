from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: models and the apps' modules load only once the
        # app registry is ready (Django's AppConfig.ready()).
        from pipelines import configs, selectors
        from pipelines.processors.focus_anomalies import tenant_options
        from pipelines.services.quotas import slot_counters_ensure
        from tenants import hooks

        hooks.builtin_providers.append(configs.pipeline_config_providers)
        hooks.settings_checks.append(lambda settings: tenant_options(settings)[1])
        hooks.dry_run_checks.append(configs.onboarding_config_check)
        hooks.onboard_steps.append(lambda tenant: slot_counters_ensure(tenant_ids=[tenant.id]))
        hooks.active_runs.append(lambda tenant_id: selectors.runs_active_count(tenant_id=tenant_id))
