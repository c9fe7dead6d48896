"""Objects of a tenant that pipeline routes can name, for the isolation test."""


def extra_b_objects(tenant) -> dict:
    return {"provider": "example", "domain": "demo", "pipeline": "hello"}
