"""Keys carry a checksum from now on; the keys issued before are marked as legacy."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_seed_plans"),
    ]

    operations = [
        # Existing rows get False (issued without a checksum); new keys default to True.
        *(
            migrations.AddField(
                model_name=model,
                name="checksummed",
                field=models.BooleanField(default=False, editable=False),
            )
            for model in ("adminkey", "apikey")
        ),
        *(
            migrations.AlterField(
                model_name=model,
                name="checksummed",
                field=models.BooleanField(default=True, editable=False),
            )
            for model in ("adminkey", "apikey")
        ),
    ]
