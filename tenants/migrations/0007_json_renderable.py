"""Every JSON column refuses, from now on, a value no answer could carry (StoredJSONEncoder,
a check in Python at every write: nothing changes in the database, so the field change is
state only); rows written before that hold one are reported, not changed."""

from django.db import migrations, models

import core.parsers
from core.migration_ops import json_rows_report


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0006_usage_window_fillfactor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="details",
                    field=models.JSONField(blank=True, default=dict, encoder=core.parsers.StoredJSONEncoder),
                ),
                migrations.AlterField(
                    model_name="providerconfig",
                    name="notification_emails",
                    field=models.JSONField(blank=True, default=list, encoder=core.parsers.StoredJSONEncoder),
                ),
                migrations.AlterField(
                    model_name="providerconfig",
                    name="settings",
                    field=models.JSONField(blank=True, default=dict, encoder=core.parsers.StoredJSONEncoder),
                ),
            ],
        ),
        json_rows_report("tenants.AuditEvent", ("details",)),
        json_rows_report("tenants.ProviderConfig", ("notification_emails", "settings")),
    ]
