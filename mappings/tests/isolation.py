"""Objects of a tenant that the mappings routes can name, for the URL-conf isolation walk."""


def extra_b_objects(tenant) -> dict:
    from pathlib import Path

    from mappings.services import mapping_create
    from tenants.services.audit import Actor

    definition = (Path(__file__).parents[1] / "library" / "oci.yml").read_text()
    row = mapping_create(
        tenant=tenant,
        name="b_oci",
        definition=definition.replace("name: oci\n", "name: b_oci\n"),
        actor=Actor.system("test"),
    )
    return {"mapping_id": row.pk}
