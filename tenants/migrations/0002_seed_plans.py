"""Seed the three plans of the SPEC; staff edit them in the admin afterwards."""

from django.db import migrations

PLANS = [
    # code, runs/day, runs/month, concurrent, team members, providers
    ("STARTER", 6, 180, 1, 2, 3),
    ("PROFESSIONAL", 25, 750, 3, 6, 6),
    ("SCALE", 100, 3000, 10, 11, 10),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    for code, day, month, concurrent, members, providers in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={
                "name": code.title(),
                "runs_per_day": day,
                "runs_per_month": month,
                "concurrent_runs": concurrent,
                "team_members": members,
                "providers": providers,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
