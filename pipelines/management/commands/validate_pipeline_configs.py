"""``manage.py validate_pipeline_configs``: check every config and shipped FOCUS mapping; exit
non-zero listing problems."""

from django.core.management.base import BaseCommand, CommandError

from pipelines.configs import (
    CONFIG_SOURCES,
    configs_root,
    pipeline_configs_all,
    pipeline_configs_cache_clear,
    pipeline_configs_validate_all,
)


class Command(BaseCommand):
    help = "Validate every pipeline config and FOCUS mapping under PIPELINE_CONFIGS_DIR."

    def handle(self, *args, **options) -> None:
        pipeline_configs_cache_clear()  # read the files as they are now
        issues = pipeline_configs_validate_all()
        valid_files: list[str] = []
        for source in CONFIG_SOURCES:
            source_issues, source_valid = source.issues()
            issues.extend(source_issues)
            valid_files.extend(source_valid)
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
        for file in valid_files:
            self.stdout.write(f"ok  {file}")
        self.stdout.write(self.style.SUCCESS(f"{len(valid_files)} FOCUS mapping(s) valid."))
