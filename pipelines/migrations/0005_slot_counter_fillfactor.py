from django.db import migrations

from core.migration_ops import fillfactor


class Migration(migrations.Migration):
    """Half of each page free: a batch admission counts runs in every tenant's slot counter
    at once, and with 70 % only about four in ten of those updates found room on their
    page (docs/benchmarks.md, the scheduler burst)."""

    dependencies = [
        ("pipelines", "0004_fk_indexes_covered_by_composites"),
    ]

    operations = [fillfactor("pipelines_slotcounter", value=45, previous=70)]
