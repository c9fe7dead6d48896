from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "FOCUS mappings"

    def ready(self) -> None:
        # Imported here, not at the top: models and the apps' modules load only once the
        # app registry is ready (Django's AppConfig.ready()).
        from mappings.processors import FocusMap
        from mappings.selectors import MappingConfigs, mapping_names_for_tenant
        from pipelines.configs import config_source_register
        from pipelines.processors import processor_register
        from tenants import hooks

        processor_register(FocusMap)
        config_source_register(MappingConfigs())
        hooks.tenant_providers.append(
            lambda tenant_id: mapping_names_for_tenant(tenant_id=tenant_id)
        )
