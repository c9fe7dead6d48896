from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: models and the apps' modules load only once the
        # app registry is ready (Django's AppConfig.ready()).
        from tenants.models import AdminKey, ApiKey
        from tenants.services.keys import key_forget

        # A deleted key (by itself, or with its tenant) or a saved one (the admin) leaves the
        # authentication cache at once; revocation does so itself.
        def forget(sender, instance, **kwargs) -> None:
            key_forget(key=instance)

        for model in (ApiKey, AdminKey):
            for signal in (post_delete, post_save):
                signal.connect(
                    forget, sender=model, weak=False, dispatch_uid=f"key_forget_{model.__name__}"
                )
