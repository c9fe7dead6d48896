"""Migration operations shared by the apps."""

from django.db import migrations


def fillfactor(table: str, *, value: int, previous: int) -> migrations.RunPython:
    """Set a PostgreSQL table's fillfactor (``previous`` when unapplied); nothing elsewhere.

    Room left on each page lets an update write the row's new version on the same page (a
    HOT update, no index writes). A storage setting with no effect on behaviour; pages
    written before it keep their packing until the table is rewritten.
    """

    def setting(percent: int):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                name = schema_editor.quote_name(table)
                schema_editor.execute(f"ALTER TABLE {name} SET (fillfactor = {int(percent)})")

        return apply

    return migrations.RunPython(setting(value), setting(previous))
