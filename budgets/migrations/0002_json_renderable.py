"""Every JSON column refuses, from now on, a value no answer could carry (StoredJSONEncoder,
a check in Python at every write: nothing changes in the database, so the field change is
state only); rows written before that hold one are reported, not changed."""

from django.db import migrations, models

import core.parsers
from core.migration_ops import json_rows_report


class Migration(migrations.Migration):
    dependencies = [
        ("budgets", "0001_budgets_alerts_webhooks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="budget",
                    name="thresholds",
                    field=models.JSONField(default=list, encoder=core.parsers.StoredJSONEncoder),
                ),
            ],
        ),
        json_rows_report("budgets.Budget", ("thresholds",)),
    ]
