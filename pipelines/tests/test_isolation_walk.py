"""The isolation walk: every processor and shipped config, every reference set to a foreign one.

Like the URL-conf walk for the API, this enumerates what exists instead of listing it: every
step of every shipped config (and so every processor, which must be used by one), every
placeholder, every field that accepts a table name, every SQL text and every file parameter
is set in turn to another tenant's table (three-part, two-part, backticked, unquoted, in a
subquery or CTE), a platform dataset, a view in the tenant's own dataset over a foreign
table, INFORMATION_SCHEMA, a DELETE without FROM, an external table created over a foreign
bucket, a routine in another dataset, object and AI functions, another tenant's folder and a
foreign bucket. Each must be
refused before the warehouse is asked to read or write anything, and the emulator must show
the foreign tables unchanged and unread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping

import pytest
import sqlglot
from sqlglot import exp

from connectors.services import stores
from connectors.tests.cur import cur_month_put, s3_admin
from connectors.tests.test_sync_aws_cur import connect
from pipelines.configs import StepConfig, pipeline_configs_all
from pipelines.processors import PROCESSORS, StepContext, StepFailed, processor_for
from pipelines.processors.base import COMMON_FIELDS
from warehouse.bigquery import Column
from warehouse.isolation import AccessPolicy, AccessRefused
from warehouse.sql_identifiers import BUILTIN_IDENTIFIERS, PlaceholderError, placeholders

PROBE = "isolation_probe"
SECRET_COLUMN = "victim_secret_column"
DATA_CALLS = {"query", "load_file", "insert_rows", "table_create", "file_head"}


class RecordingWarehouse:
    """The real adapter, with every call it is asked to make recorded (name and arguments)."""

    def __init__(self, warehouse) -> None:
        self._warehouse = warehouse
        self.calls: list[tuple[str, tuple]] = []

    @property
    def project(self) -> str:
        return self._warehouse.project

    def __getattr__(self, name):
        target = getattr(self._warehouse, name)
        if not callable(target) or name in {"quoted", "table_ref"}:
            return target

        def record(*args, **kwargs):
            self.calls.append((name, args + tuple(kwargs.values())))
            return target(*args, **kwargs)

        return record


@dataclasses.dataclass(frozen=True)
class World:
    """Two tenants and the platform in one emulator: acme runs, victim must stay untouched."""

    project: str
    own: str
    victim: str
    platform: str

    @property
    def foreign(self) -> list[str]:
        """Every way to name a table acme may neither read nor write, as a placeholder value."""
        p, v = self.project, self.victim
        return [
            f"{p}.{v}.aws_cur_raw",
            f"{v}.aws_cur_raw",
            f"{p}.{v}.{SECRET_COLUMN}s",
            f"{p}.{self.platform}.control",
            f"{p}.{v}.aws_*",
        ]

    @property
    def views(self) -> list[str]:
        """Views in acme's own dataset over victim's table: writable names, never readable."""
        return ["v_foreign", f"{self.own}.v_foreign", f"{self.project}.{self.own}.v_nested"]

    def views_create(self, warehouse) -> None:
        victim_table = warehouse.quoted(self.victim, "aws_cur_raw")
        warehouse.view_create(self.own, "v_foreign", f"SELECT * FROM {victim_table}")
        inner = warehouse.quoted(self.own, "v_foreign")
        warehouse.view_create(self.own, "v_nested", f"SELECT a FROM {inner}")

    def reads_foreign(self, name: str) -> bool:
        """True if a table name read by a statement is foreign or one of the views over it."""
        name = name.replace("`", "")
        return (
            self.victim in name
            or self.platform in name
            or name.rsplit(".", 1)[-1] in {"v_foreign", "v_nested"}
            or "information_schema" in name.lower()
        )

    @property
    def queries(self) -> list[str]:
        """Tenant-written SQL naming foreign data, quoted and unquoted, direct and hidden."""
        p, v, own = self.project, self.victim, self.own
        return [
            f"SELECT * FROM `{p}.{v}.aws_cur_raw`",
            f"SELECT * FROM {v}.aws_cur_raw",
            f"SELECT * FROM `{p}`.{v}.aws_cur_raw",
            f"SELECT * FROM `{p}`.`{v}`.`aws_cur_raw` AS t",
            f"SELECT * FROM `{own}.v_foreign`",
            f"SELECT * FROM {own}.v_nested",
            f"SELECT * FROM `{p}.{self.platform}.control`",
            f"SELECT o.* FROM {own}.mine AS o WHERE o.a IN (SELECT a FROM {v}.aws_cur_raw)",
            f"WITH c AS (SELECT * FROM {v}.aws_cur_raw) SELECT * FROM c",
            f"SELECT * FROM {own}.mine UNION ALL SELECT * FROM {v}.aws_cur_raw",
            f"SELECT * FROM {own}.mine JOIN {v}.aws_cur_raw USING (a)",
            "SELECT * FROM `region-us`.INFORMATION_SCHEMA.TABLES",
            f"SELECT * FROM {v}.INFORMATION_SCHEMA.COLUMNS",
            f"SELECT * FROM `{p}.{v}.aws_*`",
            "SELECT * FROM mine",
            "SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT 1')",
            # Writes in every DML form, external tables, routines and object/AI functions.
            f"DELETE `{p}.{v}.aws_cur_raw` WHERE TRUE",
            f"CREATE OR REPLACE EXTERNAL TABLE `{p}.{own}.mine` "
            "OPTIONS(format='CSV', uris=['gs://victim-bucket/cur.csv'])",
            f"SELECT {v}.secret_udf(a) AS a FROM {own}.mine",
            f"SELECT `{p}.{v}.secret_udf`(a) AS a FROM {own}.mine",
            "SELECT OBJ.MAKE_REF('gs://victim-bucket/cur.csv', 'us.conn') AS a",
            "SELECT AI.GENERATE('x', connection_id => 'us.conn') AS a",
        ]

    @property
    def files(self) -> list[str]:
        return [
            "gs://victim-bucket/cur.csv",
            "gs://victim-bucket/../own-bucket/cur.csv",
            "../victim/cur.csv",
        ]


@pytest.fixture
def world(warehouse, settings, tmp_path):
    """acme's dataset (with a view over victim's table), victim's dataset, a platform one."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    for tenant in ("acme", "victim"):
        (tmp_path / tenant).mkdir()
        (tmp_path / tenant / "cur.csv").write_text("a\nvictim-file-row\n")
    tag = uuid.uuid4().hex[:8]
    made = World(
        project=warehouse.project,
        own=f"acme{tag}_local",
        victim=f"victim{tag}_local",
        platform=f"platform{tag}_control",
    )
    for dataset in (made.own, made.victim, made.platform):
        warehouse.dataset_create(dataset)
    raw = [Column("a", "STRING"), Column(SECRET_COLUMN, "STRING")]
    for dataset, table in (
        (made.victim, "aws_cur_raw"),
        (made.victim, f"{SECRET_COLUMN}s"),
        (made.platform, "control"),
    ):
        warehouse.table_create(dataset, table, raw)
        warehouse.insert_rows(dataset, table, [{"a": "x", SECRET_COLUMN: "victim-row"}])
    warehouse.table_create(made.own, "mine", [Column("a", "STRING")])
    made.views_create(warehouse)
    yield made
    for dataset in (made.own, made.victim, made.platform):
        warehouse.dataset_delete(dataset)


def _thaw(value):
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def _leaves(value, path=()):
    """(path, text) of every string in a step's options, the shared fields left out."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if path or key not in COMMON_FIELDS:
                yield from _leaves(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _replaced(options: dict, path: tuple, text: str) -> dict:
    copy = _thaw(options)
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = text
    return copy


@dataclasses.dataclass(frozen=True)
class Probe:
    config: object
    step: StepConfig
    variables: Mapping[str, str]
    params: Mapping[str, object]
    what: str
    # Foreign probes must be refused outright; an own view may be written, never read.
    foreign: bool = True


def probes(world: World):
    """Every foreign reference in every place a step of a shipped config can take one."""
    for config in pipeline_configs_all():
        base_vars = {k: v or "unset_variable" for k, v in config.variables.items()}
        files = [p.name for p in config.parameters if p.type == "file"]
        base_params = {"date": dt.date(2024, 1, 1), "greeting": "hi"}
        base_params |= {name: "cur.csv" for name in files}
        for step in config.steps:
            cls = PROCESSORS[step.ps_type]
            options = _thaw(step.options)
            names = set().union(*(placeholders(text) for _, text in _leaves(options)))
            for name in sorted(names - BUILTIN_IDENTIFIERS):
                for table in world.foreign + world.views:
                    variables = {**base_vars, name: table}
                    yield Probe(
                        config,
                        step,
                        variables,
                        base_params,
                        f"{{{name}}}={table}",
                        foreign=table in world.foreign,
                    )
            for path, text in _leaves(options):
                candidate = _replaced(options, path, f"{{{PROBE}}}")
                if not cls.validate(candidate):
                    # The field takes a table name: give it each foreign one.
                    changed = dataclasses.replace(step, options=candidate)
                    for table in world.foreign + world.views:
                        yield Probe(
                            config,
                            changed,
                            {**base_vars, PROBE: table},
                            base_params,
                            f"{path}={table}",
                            foreign=table in world.foreign,
                        )
                for query in world.queries:
                    candidate = _replaced(options, path, query)
                    if text.lstrip().upper().startswith(("SELECT", "WITH")) and not cls.validate(
                        candidate
                    ):
                        changed = dataclasses.replace(step, options=candidate)
                        yield Probe(config, changed, base_vars, base_params, f"{path}: {query}")
            if step.ps_type == "file.load":
                for name in files:
                    for value in world.files:
                        yield Probe(config, step, base_vars, {**base_params, name: value}, name)


def _context(world: World, recorder: RecordingWarehouse, probe: Probe) -> StepContext:
    """acme's context; it even registered victim's table as its source (which must not help)."""
    return StepContext(
        warehouse=recorder,
        tenant_id="acme",
        dataset_id=world.own,
        params=probe.params,
        variables=probe.variables,
        sources=frozenset({f"{world.project}.{world.victim}.aws_cur_raw"}),
        buckets=frozenset({"acme-bucket"}),
        run_id="walk",
    )


def _foreign_calls(world: World, calls: list[tuple[str, tuple]]) -> list[str]:
    """The data calls that read or write something of victim's or the platform's.

    A view acme replaced by a table of its own in an earlier call is acme's to read.
    """
    found, replaced = [], set()
    for name, args in calls:
        if name == "query":
            tree = sqlglot.parse_one(args[0], read="bigquery")
            targets = {
                id(node.this.this if isinstance(node.this, exp.Schema) else node.this)
                for node in tree.find_all(exp.Create, exp.Insert, exp.Merge)
            }
            if world.victim in args[0] or "victim-bucket" in args[0]:
                found.append(f"query naming victim's data: {args[0][:120]}")
                continue
            for table in tree.find_all(exp.Table):
                text = ".".join(part.name for part in table.parts)
                if id(table) in targets:
                    replaced.add(text.rsplit(".", 1)[-1])
                    if world.victim in text or world.platform in text:
                        found.append(f"query writing {text}")
                elif world.reads_foreign(text) and text.rsplit(".", 1)[-1] not in replaced:
                    found.append(f"query reading {text}")
        elif name in DATA_CALLS:
            text = " ".join(str(a) for a in args)
            replaced.update(str(a) for a in args[1:3] if name != "insert_rows")
            if world.victim in text or world.platform in text or "victim" in text:
                found.append(f"{name}({text[:120]})")
    return found


def walk(world: World, warehouse) -> tuple[int, list[str]]:
    """Run every probe; the count, and every escape (a probe not refused before a data call)."""
    escapes: list[str] = []
    count = 0
    for probe in probes(world):
        count += 1
        if not probe.foreign:
            world.views_create(warehouse)  # a legitimate own write may have replaced them
        recorder = RecordingWarehouse(warehouse)
        where = f"{probe.config.key} step {probe.step.step_id} via {probe.what}"
        refused = ""
        try:
            processor_for(probe.step).run(_context(world, recorder, probe).for_step(probe.step))
        except (AccessRefused, PlaceholderError, StepFailed) as exc:
            refused = str(exc)
        except Exception as exc:  # a warehouse error: it got that far
            refused = f"{type(exc).__name__}: {exc}"
        # The run's staging tables go when it ends, as the engine drops them after every run.
        for table in warehouse.tables_list(world.own):
            if table.endswith("__rwalk"):
                warehouse.table_delete(world.own, table)
        escapes += [f"{where}: {call}" for call in _foreign_calls(world, recorder.calls)]
        data_calls = [name for name, _ in recorder.calls if name in DATA_CALLS]
        if refused and probe.foreign and data_calls:
            escapes.append(f"{where}: refused only after {data_calls}")
        if SECRET_COLUMN in refused.replace(f"{SECRET_COLUMN}s", ""):
            escapes.append(f"{where}: the error names a foreign column")
    return count, escapes


def _victim_state(warehouse, world: World) -> dict:
    return {
        (dataset, table): warehouse.query(
            f"SELECT TO_JSON_STRING(ARRAY_AGG(t ORDER BY a)) AS rows "
            f"FROM {warehouse.quoted(dataset, table)} AS t"
        ).rows[0]["rows"]
        for dataset in (world.victim, world.platform)
        for table in warehouse.tables_list(dataset)
    }


def _victim_rows_in(warehouse, dataset: str) -> dict[str, int]:
    """Tables (not the test's own views) of a dataset holding rows copied from victim's."""
    found = {}
    for table in warehouse.tables_list(dataset):
        if warehouse.table_kind(dataset, table).type != "TABLE":
            continue
        n = warehouse.query(
            f"SELECT COUNTIF(STRPOS(TO_JSON_STRING(t), 'victim-') > 0) AS n "
            f"FROM {warehouse.quoted(dataset, table)} AS t"
        ).rows[0]["n"]
        if n:
            found[table] = n
    return found


def _jobs(warehouse) -> dict[str, str]:
    """Every query job the emulator has run: id and SQL text."""
    return {
        job.job_id: getattr(job, "query", "") or ""
        for job in warehouse._client.list_jobs(all_users=True)
    }


def test_every_processor_is_walked():
    """A new processor cannot escape the walk: it must appear in a shipped config."""
    used = {step.ps_type for config in pipeline_configs_all() for step in config.steps}
    assert set(PROCESSORS) <= used, (
        f"processors {sorted(set(PROCESSORS) - used)} are in no shipped config; add one "
        "(e.g. under configs/example/) so the isolation walk covers them"
    )


def test_every_foreign_reference_is_refused_before_the_warehouse(warehouse, world, db):
    """Every probe is refused before a warehouse read or write; victim's data is untouched.

    With the database, so steps that read the control plane (a FOCUS mapping, account names)
    get as far as a run's would."""
    before = _victim_state(warehouse, world)
    jobs_before = _jobs(warehouse)

    count, escapes = walk(world, warehouse)

    assert count > 300
    assert escapes == []
    new_jobs = [sql for job, sql in _jobs(warehouse).items() if job not in jobs_before]
    assert new_jobs  # the walk's legitimate own writes ran, so the history is being kept
    assert [sql for sql in new_jobs if world.victim in sql or world.platform in sql] == []
    assert _victim_state(warehouse, world) == before
    assert _victim_rows_in(warehouse, world.own) == {}


def test_the_walk_catches_a_bypassed_check(warehouse, world, monkeypatch, db):
    """With the access policy switched off, the same walk finds escapes (it can fail)."""
    monkeypatch.setattr(AccessPolicy, "check_read", lambda self, ref: ref)
    monkeypatch.setattr(AccessPolicy, "check_write", lambda self, ref: ref)
    monkeypatch.setattr(AccessPolicy, "check_uri", lambda self, uri, **kw: uri)

    _, escapes = walk(world, warehouse)

    assert any("gcp/cost/billing step extract_billing_costs" in e for e in escapes)
    assert any("check_focus" in e for e in escapes)
    assert any("load_cur" in e for e in escapes)
    assert _victim_rows_in(warehouse, world.own)


# Connectors: a sync reads only the export its own tenant's provider config registers. Every
# export.sync step of every shipped config is walked: a step cannot name a bucket, prefix,
# container or provider config; run parameters naming another tenant's export change nothing;
# a manifest naming an object outside the tenant's prefix is refused before it is read; and a
# tenant without a connected export reads nothing, whoever else has one.

SYNC_FIELDS = (
    "bucket",
    "prefix",
    "container",
    "account",
    "export_bucket",
    "export_prefix",
    "provider_config",
    "provider_config_id",
    "credential",
    "credential_id",
    "tenant_id",
)


def _sync_steps():
    for config in pipeline_configs_all():
        for step in config.steps:
            if step.ps_type == "export.sync":
                yield config, step


class RecordingStores:
    """Every store a sync builds, and every call that reaches it below the prefix guard."""

    def __init__(self, build) -> None:
        self._build = build
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, *args, **kwargs):
        store = self._build(*args, **kwargs)
        calls = self.calls

        class Recorded:
            location = store.location

            def list(self, prefix):
                calls.append(("list", store.location, prefix))
                return store.list(prefix)

            def read(self, key, **options):
                calls.append(("read", store.location, key))
                return store.read(key, **options)

            def read_head(self, key, **options):
                calls.append(("read_head", store.location, key))
                return store.read_head(key, **options)

            def open(self, key):
                calls.append(("open", store.location, key))
                return store.open(key)

        self.calls.append(("build", store.location, ""))
        return Recorded()


def test_every_sync_step_refuses_a_location_of_its_own():
    """No export.sync step may carry a bucket, prefix, container, credential or provider
    config: those come from the tenant's own provider config only."""
    steps = list(_sync_steps())
    assert {config.key for config, _ in steps} >= {"aws/cost/sync", "azure/cost/sync"}
    for config, step in steps:
        cls = PROCESSORS[step.ps_type]
        for name in SYNC_FIELDS:
            options = _thaw(step.options)
            for place in (options, options["source"]):
                place[name] = "victim-bucket"
                assert cls.validate(options), f"{config.key}: {name} accepted"
                del place[name]


def test_a_sync_reads_only_its_own_tenants_export(
    warehouse, onboard, s3_endpoint, tmp_path, settings, monkeypatch, db
):
    """acme's manifest names victim's part in the same bucket, and its run parameters name
    victim's bucket and config: every sync step of every shipped config is refused before the
    part is read, no store reads under victim's prefix, and no data call reaches the
    warehouse. A config whose provider acme has not connected builds no store at all."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path / "imports")
    acme, victim = onboard(f"acme_{uuid.uuid4().hex[:6]}"), onboard(f"vic_{uuid.uuid4().hex[:6]}")
    s3 = s3_admin(s3_endpoint)
    bucket = f"shared-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    theirs = cur_month_put(s3, bucket, "cur/victim", tmp_path)
    cur_month_put(s3, bucket, "cur/acme", tmp_path, extra_keys=(theirs.part_keys[0],))
    connect(acme.tenant, bucket, prefix="cur/acme")
    victim_config = connect(victim.tenant, bucket, prefix="cur/victim")
    recorder = RecordingStores(stores._store)
    monkeypatch.setattr(stores, "_store", recorder)

    walked = 0
    for config, step in _sync_steps():
        for params in (
            {},
            {
                "export_bucket": bucket,
                "export_prefix": "cur/victim",
                "provider_config": victim_config.pk,
                "tenant_id": victim.tenant.id,
            },
        ):
            walked += 1
            recorder.calls.clear()
            calls = RecordingWarehouse(warehouse)
            context = StepContext(
                warehouse=calls,
                tenant_id=acme.tenant.id,
                dataset_id=acme.dataset_id,
                params=params,
                variables=dict(config.variables),
                run_id=str(uuid.uuid4()),
                provider=config.provider,
            )
            with pytest.raises(StepFailed) as refused:
                processor_for(step).run(context.for_step(step))
            where = f"{config.key} {params}"
            assert [name for name, _ in calls.calls if name in DATA_CALLS] == [], where
            read = [key for _, _, key in recorder.calls]
            assert not [k for k in read if k.startswith("cur/victim")], (where, read)
            assert victim.tenant.id not in str(refused.value), where
            if config.provider == "aws":
                assert theirs.part_keys[0] in str(refused.value), where
                assert "prefix" in str(refused.value), where
            else:
                assert recorder.calls == [], where
    assert walked >= 8


def test_a_foreign_bucket_in_a_tenants_own_config_is_read_with_its_own_credentials(
    onboard, warehouse, tmp_path, settings, on_iam_server, db
):
    """A tenant that registers another's bucket reads it with its own credentials: on an S3
    server that enforces IAM, access denied on that bucket, nothing loaded."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path / "imports")
    acme = onboard(f"acme_{uuid.uuid4().hex[:6]}")
    key_id, secret = on_iam_server["keys"]["tenant-reader"]
    connect(
        acme.tenant,
        "other-tenant-cur",
        prefix="cur",
        kind="aws_access_key",
        secret={"access_key_id": key_id, "secret_access_key": secret},
    )
    for config, step in _sync_steps():
        if config.provider != "aws":
            continue
        calls = RecordingWarehouse(warehouse)
        context = StepContext(
            warehouse=calls,
            tenant_id=acme.tenant.id,
            dataset_id=acme.dataset_id,
            variables=dict(config.variables),
            run_id=str(uuid.uuid4()),
            provider=config.provider,
        )
        with pytest.raises(StepFailed, match=r"s3://other-tenant-cur/cur/: access denied"):
            processor_for(step).run(context.for_step(step))
        assert [name for name, _ in calls.calls if name in DATA_CALLS] == []
