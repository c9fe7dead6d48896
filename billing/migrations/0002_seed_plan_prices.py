"""Seed one placeholder Stripe price per plan, so the local sign-up demo works out of the box.

Real deployments replace these with their Stripe account's price ids in the admin.
"""

from django.db import migrations

PRICES = {
    "STARTER": "price_local_starter",
    "PROFESSIONAL": "price_local_professional",
    "SCALE": "price_local_scale",
}


def seed(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    PlanPrice = apps.get_model("billing", "PlanPrice")
    for code, price_id in PRICES.items():
        plan = Plan.objects.filter(code=code).first()
        if plan is not None:
            PlanPrice.objects.get_or_create(
                stripe_price_id=price_id,
                defaults={"plan": plan, "description": "Local demo price; replace with yours."},
            )


def unseed(apps, schema_editor):
    apps.get_model("billing", "PlanPrice").objects.filter(
        stripe_price_id__in=PRICES.values()
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("tenants", "0002_seed_plans"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
