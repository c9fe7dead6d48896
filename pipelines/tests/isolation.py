"""Objects of a tenant that tenant-scoped routes can name, for the isolation test."""


def extra_b_objects(tenant) -> dict:
    from scheduling.services.schedules import schedule_create
    from tenants.services.audit import Actor

    schedule = schedule_create(
        tenant=tenant,
        provider="example",
        domain="demo",
        pipeline="hello",
        cron="0 6 * * *",
        actor=Actor.system("test"),
    )
    return {"provider": "example", "domain": "demo", "pipeline": "hello", "config_id": schedule.pk}
