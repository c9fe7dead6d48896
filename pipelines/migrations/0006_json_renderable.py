"""Every JSON column refuses, from now on, a value no answer could carry (StoredJSONEncoder,
a check in Python at every write: nothing changes in the database, so the field change is
state only); rows written before that hold one are reported, not changed."""

from django.db import migrations, models

import core.parsers
from core.migration_ops import json_rows_report


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0005_slot_counter_fillfactor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="pipelinerun",
                    name="parameters",
                    field=models.JSONField(blank=True, default=dict, encoder=core.parsers.StoredJSONEncoder),
                ),
                migrations.AlterField(
                    model_name="steprun",
                    name="details",
                    field=models.JSONField(blank=True, default=dict, encoder=core.parsers.StoredJSONEncoder),
                ),
            ],
        ),
        json_rows_report("pipelines.PipelineRun", ("parameters",)),
        json_rows_report("pipelines.StepRun", ("details",)),
    ]
