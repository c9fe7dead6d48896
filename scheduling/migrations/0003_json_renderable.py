"""Every JSON column refuses, from now on, a value no answer could carry (StoredJSONEncoder,
a check in Python at every write: nothing changes in the database, so the field change is
state only); rows written before that hold one are reported, not changed."""

from django.db import migrations, models

import core.parsers
from core.migration_ops import json_rows_report


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_fk_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="schedule",
                    name="parameters",
                    field=models.JSONField(blank=True, default=dict, encoder=core.parsers.StoredJSONEncoder),
                ),
                migrations.AlterField(
                    model_name="scheduledrun",
                    name="previous_run_ids",
                    field=models.JSONField(blank=True, default=list, encoder=core.parsers.StoredJSONEncoder),
                ),
            ],
        ),
        json_rows_report("scheduling.Schedule", ("parameters",)),
        json_rows_report("scheduling.ScheduledRun", ("previous_run_ids",)),
    ]
