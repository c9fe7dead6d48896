"""Objects of a tenant that the budgets routes can name, for the URL-conf isolation walk."""


def extra_b_objects(tenant) -> dict:
    from decimal import Decimal

    from budgets.services.budgets import budget_create
    from tenants.services.audit import Actor

    budget = budget_create(
        tenant=tenant,
        name="b's budget",
        amount=Decimal("100"),
        thresholds=[{"kind": "actual", "percent": 80}],
        actor=Actor.system("test"),
    )
    return {"budget_id": budget.pk}
