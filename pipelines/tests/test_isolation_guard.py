"""Each rule of the data path's guard, pinned by a test of its own (issue 26).

The reproductions of the review's findings (a DELETE without FROM, an external table created
over a foreign bucket, a table replaced after it was checked, routine and object/AI function
calls), the write check on every kind of write, and the INFORMATION_SCHEMA refusal where no
other rule would catch it. Each runs against the emulator through a recording warehouse:
refused, naming the rule, and nothing sent.
"""

from __future__ import annotations

import pytest

from pipelines.configs import pipeline_config_get
from pipelines.processors import StepContext, processor_for
from pipelines.tests.test_isolation_walk import DATA_CALLS, RecordingWarehouse
from tenants.models import ProviderConfig
from tenants.selectors import run_inputs_for_tenant
from tenants.tests.conftest import key_client
from warehouse.bigquery import Column
from warehouse.isolation import AccessPolicy, AccessRefused, GuardedWarehouse

WRITE_RULE = "a run may write only into its tenant's dataset"
INFORMATION_SCHEMA = "region-us.INFORMATION_SCHEMA.JOBS"


@pytest.fixture
def recorder(warehouse):
    return RecordingWarehouse(warehouse)


@pytest.fixture
def guarded(world, warehouse, recorder):
    """acme's guarded warehouse; it even registered victim's table as a source."""
    policy = AccessPolicy(
        project=warehouse.project,
        tenant_id="acme",
        dataset_id=world.own,
        sources=frozenset({f"{warehouse.project}.{world.victim}.aws_cur_raw"}),
        buckets=frozenset({"acme-bucket"}),
    )
    return GuardedWarehouse(recorder, policy)


def _victim_rows(warehouse, world) -> int:
    return warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(world.victim, 'aws_cur_raw')}"
    ).rows[0]["n"]


def _refused(guarded, recorder, sql: str, match: str) -> None:
    with pytest.raises(AccessRefused, match=match):
        guarded.query(sql)
    assert [name for name, _ in recorder.calls if name in DATA_CALLS] == []


# -- finding 3: writes in every DML form ---------------------------------------------


def test_delete_without_from_is_a_write(guarded, recorder, world, warehouse):
    """``DELETE `p.d.t` WHERE TRUE`` (no FROM) writes victim's table: refused as a write."""
    _refused(
        guarded,
        recorder,
        f"DELETE `{world.project}.{world.victim}.aws_cur_raw` WHERE TRUE",
        WRITE_RULE,
    )
    assert _victim_rows(warehouse, world) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE `{p}.{v}.stolen` AS SELECT * FROM `{p}.{o}.mine`",
        "CREATE OR REPLACE VIEW {v}.v AS SELECT * FROM {o}.mine",
        "INSERT INTO {v}.aws_cur_raw (a) SELECT a FROM {o}.mine",
        "INSERT {v}.aws_cur_raw (a) VALUES ('x')",
        "MERGE {v}.aws_cur_raw AS t USING {o}.mine AS s ON t.a = s.a "
        "WHEN NOT MATCHED THEN INSERT (a) VALUES (s.a)",
        "UPDATE {v}.aws_cur_raw AS t SET a = 'y' WHERE TRUE",
        "DELETE FROM `{p}.{v}.aws_cur_raw` AS t WHERE TRUE",
        "DELETE {v}.aws_cur_raw WHERE TRUE",
        "DROP TABLE `{p}.{v}.aws_cur_raw`",
        "DROP VIEW {v}.aws_cur_raw",
    ],
)
def test_tenant_written_writes_into_another_dataset_are_refused(
    guarded, recorder, world, warehouse, statement
):
    """Every write form naming another dataset (with or without an alias) fails the write rule."""
    sql = statement.format(p=world.project, v=world.victim, o=world.own)
    _refused(guarded, recorder, sql, WRITE_RULE)
    assert _victim_rows(warehouse, world) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda wh, v: wh.table_create(v, "stolen", [Column("a", "STRING")]),
        lambda wh, v: wh.insert_rows(v, "aws_cur_raw", [{"a": "x"}]),
        lambda wh, v: wh.load_file("gs://acme-bucket/cur.csv", v, "aws_cur_raw"),
        lambda wh, v: wh.table_delete(v, "aws_cur_raw"),
    ],
    ids=["table_create", "insert_rows", "load_file", "table_delete"],
)
def test_table_calls_on_another_dataset_are_refused(guarded, recorder, world, warehouse, call):
    with pytest.raises(AccessRefused, match=WRITE_RULE):
        call(guarded, world.victim)
    assert recorder.calls == []
    assert _victim_rows(warehouse, world) == 1


def test_writes_into_the_own_dataset_pass(guarded, world):
    """The write rule lets the tenant's own writes through (so the refusals above can fail)."""
    guarded.query(f"INSERT {world.own}.mine (a) VALUES ('own')")
    guarded.query(f"DELETE FROM `{world.project}.{world.own}.mine` AS t WHERE t.a = 'own'")
    # The emulator cannot run DELETE without FROM (real BigQuery can); the check passes it.
    own = guarded.access(f"DELETE `{world.project}.{world.own}.mine` WHERE TRUE")
    assert [str(ref) for ref in own.writes] == [f"{world.project}.{world.own}.mine"]
    guarded.table_create(world.own, "made", [Column("a", "STRING")])
    guarded.insert_rows(world.own, "made", [{"a": "x"}])
    guarded.table_delete(world.own, "made")


# -- finding 4: table kinds per statement; external tables' files checked --------------


def test_an_external_table_over_a_foreign_bucket_is_refused_when_created(guarded, recorder, world):
    _refused(
        guarded,
        recorder,
        f"CREATE OR REPLACE EXTERNAL TABLE `{world.project}.{world.own}.mine` "
        "OPTIONS(format='CSV', uris=['gs://victim-bucket/cur.csv'])",
        "buckets registered in the tenant's provider config",
    )


def test_an_external_table_over_a_registered_bucket_may_be_created(guarded, world):
    """The URIs rule passes a registered bucket (the statement reaches it: tenant identity)."""
    access = guarded.access(
        f"CREATE EXTERNAL TABLE {world.own}.ext "
        "OPTIONS(format='CSV', uris=['gs://acme-bucket/2024/*.csv'])"
    )
    assert access.uris == ("gs://acme-bucket/2024/*.csv",)
    assert access.external(world.project)


def test_a_table_replaced_after_its_check_is_checked_again(guarded, recorder, world, warehouse):
    """A name checked as a plain table, then replaced by a view over victim's table, is looked
    up again for the next statement: no run-long cache of table kinds."""
    sql = f"SELECT * FROM {world.own}.mine"
    guarded.query(sql)
    warehouse.table_delete(world.own, "mine")
    warehouse.view_create(
        world.own, "mine", f"SELECT * FROM {warehouse.quoted(world.victim, 'aws_cur_raw')}"
    )
    recorder.calls.clear()

    _refused(guarded, recorder, sql, "view .* reads what this run may not")


# -- finding 5: routines and functions that reach past the tables -----------------------


@pytest.mark.parametrize(
    "expression",
    [
        "{v}.secret_udf(1)",
        "`{p}.{v}.secret_udf`(1)",
        "{p}.{v}.secret_udf(1)",
        "OBJ.MAKE_REF('gs://victim-bucket/a.csv', 'us.conn')",
        "OBJ.FETCH_METADATA(NULL)",
        "AI.GENERATE('x', connection_id => 'us.conn')",
        "ML.PREDICT(MODEL {v}.m, (SELECT 1))",
        "KEYS.KEYSET_CHAIN('gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k', b'')",
    ],
)
def test_routines_and_object_or_ai_functions_are_refused(guarded, recorder, world, expression):
    sql = "SELECT " + expression.format(p=world.project, v=world.victim)
    _refused(guarded, recorder, sql, "not allowed in a run")


def test_built_in_function_namespaces_pass(guarded, world):
    """SAFE. and NET. are built-ins that read nothing: the function rule lets them through."""
    rows = guarded.query("SELECT SAFE.PARSE_DATE('%Y-%m-%d', '2024-01-02') AS d").rows
    assert str(rows[0]["d"]) == "2024-01-02"
    # The emulator has no NET functions (BigQuery has); the check passes them.
    assert guarded.access("SELECT NET.HOST('https://a.b/c') AS h").reads == ()


# -- INFORMATION_SCHEMA, where nothing else refuses it -----------------------------------


def test_information_schema_as_a_billing_export_is_refused_at_the_provider_config(onboard):
    """``region-us.INFORMATION_SCHEMA.JOBS`` looks like a table outside the platform project:
    only the INFORMATION_SCHEMA rule refuses it."""
    tenant = onboard("is_delta")
    client = key_client(tenant.api_key)
    response = client.post(
        "/api/v1/tenants/is_delta/provider-configs",
        {"provider": "gcp", "settings": {"billing_export_table": INFORMATION_SCHEMA}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "INFORMATION_SCHEMA views are not readable" in response.json()["detail"]
    assert not ProviderConfig.objects.filter(tenant_id="is_delta").exists()


def test_information_schema_as_a_billing_export_is_refused_at_run_time(onboard, warehouse):
    """Saved before the check (straight to the database), it is refused on the run's SQL."""
    tenant = onboard("is_echo")
    ProviderConfig.objects.create(
        tenant_id="is_echo", provider="gcp", settings={"billing_export_table": INFORMATION_SCHEMA}
    )
    inputs = run_inputs_for_tenant(tenant_id="is_echo", provider="gcp")
    assert INFORMATION_SCHEMA in inputs.sources
    config = pipeline_config_get("gcp", "cost", "billing")
    recorder = RecordingWarehouse(warehouse)
    context = StepContext(
        warehouse=recorder,
        tenant_id="is_echo",
        dataset_id=tenant.dataset_id,
        params=config.typed_parameters({"date": "2024-01-02"}),
        variables={**config.variables, **inputs.variables},
        sources=inputs.sources,
    )
    step = config.steps[0]
    with pytest.raises(AccessRefused, match="INFORMATION_SCHEMA views are not readable"):
        processor_for(step).run(context.for_step(step))
    assert [name for name, _ in recorder.calls if name in DATA_CALLS] == []


def test_table_columns_reads_the_own_dataset_and_registered_sources_only(
    guarded, recorder, world, warehouse
):
    """A table's columns (how a step tells an export's variant) are read for the tenant's
    dataset and its registered sources outside the platform project, the latter as the
    tenant's identity; another dataset of the platform project is refused, nothing asked."""
    assert [c.name for c in guarded.table_columns(world.own, "mine")] == ["a"]
    with pytest.raises(AccessRefused, match="a run may read only its tenant's dataset"):
        guarded.table_columns(world.victim, "aws_cur_raw")
    with pytest.raises(AccessRefused, match="registered in the tenant's provider config"):
        guarded.table_columns("billing", "gcp_billing_export_v1_X", project="customer-proj")
    assert [name for name, _ in recorder.calls] == ["table_columns"]
    asked = []
    foreign = GuardedWarehouse(
        recorder,
        AccessPolicy(
            project=warehouse.project,
            tenant_id="acme",
            dataset_id=world.own,
            sources=frozenset({"customer-proj.billing.gcp_billing_export_v1_X"}),
        ),
        foreign=lambda: asked.append("tenant identity") or warehouse,
    )
    with pytest.raises(Exception) as raised:
        foreign.table_columns("billing", "gcp_billing_export_v1_X", project="customer-proj")
    assert not isinstance(raised.value, AccessRefused)  # checked, then asked as the tenant
    assert asked == ["tenant identity"]
