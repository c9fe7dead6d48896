"""Prepared statements for the hot paths of the API (PostgreSQL).

Django's PostgreSQL backend binds parameters on the client: every statement reaches the
server as new text, to be parsed, analysed and planned again. For the run API's statements
(a run with its steps as JSON, a page of runs, the one-statement admission) that costs more
than running them: about 0.19 ms of the 0.33 ms a run read took, measured in
``docs/benchmarks.md``.

``server_bound_cursor`` gives a cursor on the same connection (and so the same transaction)
that sends parameters apart from the text. psycopg then prepares a statement once it has
run ``prepare_threshold`` times on the connection (``DATABASES OPTIONS``, from
``DATABASE_PREPARED_STATEMENTS``; off, nothing is prepared) and keeps up to 100 per
connection. The ORM's own cursors bind on the client, and psycopg never prepares those.

Statements sent through it must be prepareable: placeholders only where a value goes, and
a fixed list of result columns (a prepared statement whose result columns change under a
migration fails with "cached plan must not change result type").
"""

from contextlib import contextmanager

from django.db import connection


def prepared_statements_enabled() -> bool:
    options = connection.settings_dict.get("OPTIONS", {})
    return connection.vendor == "postgresql" and options.get("prepare_threshold") is not None


@contextmanager
def server_bound_cursor():
    """A cursor like ``connection.cursor()`` whose statements psycopg may prepare (see the
    module's docstring); a plain cursor elsewhere or when prepared statements are off."""
    if not prepared_statements_enabled():
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # As connection.cursor() does: the health check, then the connection, then Django's
    # wrapper (query logging, execute_wrappers, database errors as Django's).
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection._prepare_cursor(ServerBindingCursor(connection.connection))
    with cursor:
        yield cursor
