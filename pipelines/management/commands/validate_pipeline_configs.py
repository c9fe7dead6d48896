"""``manage.py validate_pipeline_configs``: check every config and shipped FOCUS mapping; exit
non-zero listing problems."""

from django.core.management.base import BaseCommand, CommandError

from pipelines.configs import (
    configs_root,
    pipeline_configs_all,
    pipeline_configs_cache_clear,
    pipeline_configs_validate_all,
)


class Command(BaseCommand):
    help = "Validate every pipeline config and FOCUS mapping under PIPELINE_CONFIGS_DIR."

    def handle(self, *args, **options) -> None:
        from mappings.shipped import (
            shipped_mappings,
            shipped_mappings_cache_clear,
            shipped_mappings_validate,
        )

        pipeline_configs_cache_clear()  # read the files as they are now
        shipped_mappings_cache_clear()
        issues = [*pipeline_configs_validate_all(), *shipped_mappings_validate()]
        if issues:
            for issue in issues:
                self.stderr.write(str(issue))
            raise CommandError(
                f"{len(issues)} problem(s) in pipeline configs under {configs_root()}"
            )
        configs = pipeline_configs_all()
        for config in configs:
            self.stdout.write(f"ok  {config.key}")
        self.stdout.write(self.style.SUCCESS(f"{len(configs)} pipeline config(s) valid."))
        mappings = shipped_mappings()
        for spec in mappings:
            self.stdout.write(f"ok  {spec.file}")
        self.stdout.write(self.style.SUCCESS(f"{len(mappings)} FOCUS mapping(s) valid."))
