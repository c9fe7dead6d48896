"""The PostgreSQL database a benchmark drops and re-creates (its name must contain 'bench')."""

import sys


def prepare_database(url: str) -> None:
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        sys.exit("DATABASE_URL must point at PostgreSQL.")
    name = config["NAME"]
    if "bench" not in name:
        sys.exit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    with psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
