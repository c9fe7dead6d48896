"""Pipeline configs: the shipped ones load; bad ones are refused naming file, field, problem."""

import textwrap

import pytest
from django.core.management import CommandError, call_command

from pipelines.configs import (
    PipelineConfigError,
    PipelineConfigInvalid,
    PipelineConfigNotFound,
    pipeline_config_get,
    pipeline_configs_all,
    pipeline_configs_validate_all,
)
from pipelines.processors import PROCESSORS

SHIPPED = {
    "aws/cost/focus",
    "aws/cost/sync",
    "azure/cost/focus",
    "azure/cost/sync",
    "gcp/cost/billing",
    "gcp/cost/focus",
    "focus/cost/native",
    "focus/cost/sync",
    "system/onboarding/dryrun",
    "example/demo/hello",
    "mapping/cost/focus",
    "mapping/cost/sync",
}

VALID = """
pipeline_id: "{tenant_id}_demo"
schedule: "0 2 * * *"
variables:
  destination_table: demo_table
parameters:
  date: {type: date, required: true}
steps:
  - step_id: first
    ps_type: gcp.bq_etl
    source:
      query: "SELECT @date AS d"
    destination:
      table: "{destination_table}"
      write_mode: overwrite
  - step_id: second
    ps_type: gcp.bq_etl
    source:
      query: "SELECT 1 AS n"
    destination:
      table: "{destination_table}"
      write_mode: append
"""


@pytest.fixture
def configs_dir(settings, tmp_path):
    """An empty configs root the test writes into."""
    settings.PIPELINE_CONFIGS_DIR = tmp_path / "configs"
    settings.PIPELINE_CONFIGS_DIR.mkdir()
    return settings.PIPELINE_CONFIGS_DIR


def write(root, text, key="demo/cost/daily"):
    path = root / f"{key}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_every_shipped_config_is_valid():
    """The configs in the repository load without a single problem."""
    assert pipeline_configs_validate_all() == []
    assert {c.key for c in pipeline_configs_all()} == SHIPPED


def test_config_is_typed_and_immutable():
    """A config is parsed into frozen objects: tuples, read-only mappings."""
    config = pipeline_config_get("aws", "cost", "focus")
    assert isinstance(config.steps, tuple)
    assert [s.ps_type for s in config.steps] == [
        "file.load",
        "focus.normalize",
        "dq.check",
        "focus.replace_periods",
        "focus.anomalies",
        "notify.email",
    ]
    with pytest.raises(AttributeError):
        config.schedule = "* * * * *"
    with pytest.raises(TypeError):
        config.steps[0].options["source"]["format"] = "parquet"
    assert isinstance(config.steps[2].options["checks"]["not_null"], tuple)
    assert config.pipeline_id_for("acme") == "acme_aws_cost_focus"
    assert pipeline_config_get("aws", "cost", "focus") is config  # parsed once


@pytest.mark.parametrize(
    "key", [("aws", "cost", "nope"), ("..", "cost", "focus"), ("aws", "cost/../..", "focus")]
)
def test_unknown_or_unsafe_path_is_not_found(key):
    """A missing config, or a path that tries to leave the configs dir, is NotFound."""
    with pytest.raises(PipelineConfigNotFound, match="/".join(key).replace(".", r"\.")):
        pipeline_config_get(*key)


def test_not_found_is_a_config_error():
    """Callers catching PipelineConfigError also catch a missing config."""
    assert issubclass(PipelineConfigNotFound, PipelineConfigError)


def test_valid_written_config_loads(configs_dir):
    """A well-formed config loads from the configured root."""
    write(configs_dir, VALID)
    config = pipeline_config_get("demo", "cost", "daily")
    assert config.file == "configs/demo/cost/daily.yml"
    assert config.schedule == "0 2 * * *"


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        (
            'ps_type: gcp.bq_etl\n    source:\n      query: "SELECT 1 AS n"',
            'ps_type: gcp.nope\n    source:\n      query: "SELECT 1 AS n"',
            "steps[1].ps_type",
            "unknown ps_type 'gcp.nope'",
        ),
        ("- step_id: second\n", "- description: no id\n", "steps[1].step_id", "required"),
        ("step_id: second", "step_id: first", "steps[1].step_id", "duplicate step id 'first'"),
        ('schedule: "0 2 * * *"', 'schedule: "61 2 * * *"', "schedule", "cron"),
        (
            'query: "SELECT 1 AS n"',
            'query: "SELECT * FROM `{nowhere}`"',
            "steps[1].source.query",
            "unknown placeholder {nowhere}",
        ),
        (
            "write_mode: append",
            "write_mode: upsert",
            "steps[1].destination.write_mode",
            "'upsert' is not one of append, overwrite, merge",
        ),
        (
            "write_mode: append",
            "write_mode: merge",
            "steps[1].destination.merge_keys",
            "required when write_mode is merge",
        ),
        (
            "destination_table: demo_table",
            'destination_table: "demo; DROP TABLE x"',
            "variables.destination_table",
            "not a valid identifier",
        ),
        (
            'query: "SELECT @date AS d"',
            'query: "SELECT @day AS d"',
            "steps[0].source.query",
            "@day is not a declared parameter",
        ),
        (
            "  date: {type: date, required: true}",
            "  date: {type: datum}",
            "parameters.date.type",
            "'datum' is not one of",
        ),
        (
            "      write_mode: overwrite",
            "      write_mode: overwrite\n      bogus: 1",
            "steps[0].destination.bogus",
            "unknown field",
        ),
    ],
)
def test_invalid_config_names_file_field_and_problem(configs_dir, old, new, field, problem):
    """Each kind of mistake is refused with the file, the field path and the problem."""
    assert old in VALID
    write(configs_dir, VALID.replace(old, new, 1))
    with pytest.raises(PipelineConfigInvalid) as caught:
        pipeline_config_get("demo", "cost", "daily")
    messages = [str(i) for i in caught.value.issues]
    assert any(
        m.startswith(f"configs/demo/cost/daily.yml: {field}: ") and problem in m for m in messages
    ), messages


def test_duplicate_yaml_key_is_refused(configs_dir):
    """A key given twice is an error, not a silent overwrite."""
    write(configs_dir, VALID.replace("schedule:", 'description: "x"\ndescription:'))
    with pytest.raises(PipelineConfigInvalid, match="duplicate key 'description'"):
        pipeline_config_get("demo", "cost", "daily")


def test_validate_all_lists_problems_of_every_file(configs_dir):
    """Validation reports every bad file, not only the first."""
    write(configs_dir, VALID)
    write(configs_dir, VALID.replace("write_mode: append", "write_mode: x"), "a/b/c")
    write(configs_dir, "steps: []", "a/b/d")
    issues = pipeline_configs_validate_all()
    assert {i.file for i in issues} == {"configs/a/b/c.yml", "configs/a/b/d.yml"}
    assert [c.key for c in pipeline_configs_all()] == ["demo/cost/daily"]


def test_processor_registry_knows_the_spec_types():
    """The registry holds the processor types the configs may name."""
    assert set(PROCESSORS) == {"gcp.bq_etl", "file.load", "focus.normalize", "dq.check"} | {
        "export.sync",
        "focus.anomalies",
        "focus.map",
        "focus.replace_periods",
        "notify.email",
    }


def test_parameters_are_checked_and_json_ready(settings, tmp_path):
    """Run parameters: required, typed, unknown refused; file paths kept inside the imports dir."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    config = pipeline_config_get("aws", "cost", "focus")
    values = config.resolve_parameters({"date": "2024-09-01", "source_file": "cur.csv.gz"})
    assert values == {"date": "2024-09-01", "source_file": str(tmp_path / "cur.csv.gz")}
    assert config.typed_parameters(values)["date"].isoformat() == "2024-09-01"
    for bad, message in [
        ({}, "'source_file' is required"),
        ({"source_file": "x.csv", "date": "2024-9-1"}, "YYYY-MM-DD"),
        ({"source_file": "x.csv", "nope": 1}, "unknown parameter 'nope'"),
        ({"source_file": "../../etc/passwd.csv"}, "outside the local imports directory"),
        ({"source_file": "/etc/passwd"}, "only .csv"),
        ({"source_file": "gs://bucket/a b.csv"}, "not a valid gs:// URI"),
    ]:
        with pytest.raises(PipelineConfigError, match=message):
            config.resolve_parameters(bad)


def test_date_is_accepted_by_every_pipeline():
    """The scheduler always sends ``date``; a pipeline that does not use it still accepts it."""
    config = pipeline_config_get("system", "onboarding", "dryrun")
    assert config.resolve_parameters({"date": "2024-01-31"}) == {"date": "2024-01-31"}


def test_validate_command_passes_on_shipped_configs(capsys):
    """The management command reports every shipped config valid."""
    call_command("validate_pipeline_configs")
    out = capsys.readouterr().out
    assert "12 pipeline config(s) valid." in out
    assert "2 FOCUS mapping(s) valid." in out


def test_validate_command_fails_listing_problems(configs_dir, capsys):
    """The command exits non-zero and lists each problem with its file and field."""
    write(configs_dir, VALID.replace("write_mode: append", "write_mode: upsert"))
    with pytest.raises(CommandError, match="1 problem"):
        call_command("validate_pipeline_configs")
    assert "configs/demo/cost/daily.yml: steps[1].destination.write_mode" in (
        capsys.readouterr().err
    )


def _run(config, context):
    from pipelines.processors import processor_for

    return [
        processor_for(step).run(context.for_step(step))
        for step in config.steps
        if step.runs_on == "success"
    ]


def _context(warehouse, dataset, config, parameters, **variables):
    from pipelines.processors import StepContext

    return StepContext(
        warehouse=warehouse,
        tenant_id="acme",
        dataset_id=dataset,
        params=config.typed_parameters(config.resolve_parameters(parameters)),
        variables={**config.variables, **variables},
    )


def test_onboarding_dryrun_config_runs(warehouse, scratch_dataset):
    """The onboarding dry-run writes its scratch table and its DQ check passes."""
    config = pipeline_config_get("system", "onboarding", "dryrun")
    write_result, check_result = _run(config, _context(warehouse, scratch_dataset, config, {}))
    assert write_result.rows_processed == 1
    assert check_result.details["checks"]["min_rows"] == {
        "passed": True,
        "observed": "1",
        "expected": ">= 1",
        "message": "row count",
    }


def test_hello_config_merges_by_run_date(warehouse, scratch_dataset):
    """Running the example twice for one date merges into one row; another date adds one."""
    config = pipeline_config_get("example", "demo", "hello")
    for date, greeting in [("2024-01-01", "hi"), ("2024-01-01", "hello"), ("2024-01-02", "yo")]:
        params = {"date": date, "greeting": greeting}
        _run(config, _context(warehouse, scratch_dataset, config, params))
    rows = warehouse.query(
        f"SELECT greeting, run_date FROM {warehouse.quoted(scratch_dataset, 'example_hello')} "
        "ORDER BY run_date"
    ).rows
    assert [(r["greeting"], r["run_date"].isoformat()) for r in rows] == [
        ("hello", "2024-01-01"),
        ("yo", "2024-01-02"),
    ]


def test_gcp_billing_config_appends_one_day(warehouse, scratch_dataset, tmp_path):
    """The billing pipeline copies only the date's export rows, passed as @date, and appends."""
    from devtools.gcp_export import gcp_export_load, gcp_export_rows

    export = gcp_export_rows(count=120, seed=5)
    gcp_export_load(warehouse, scratch_dataset, "export", export, tmp_path / "e.json")
    config = pipeline_config_get("gcp", "cost", "billing")
    source = warehouse.table_ref(scratch_dataset, "export")
    day = export[0]["usage_start_time"][:10]
    context = _context(
        warehouse, scratch_dataset, config, {"date": day}, source_billing_table=source
    )
    first = _run(config, context)[0].rows_processed
    second = _run(config, context)[0].rows_processed
    expected = sum(1 for r in export if r["usage_start_time"][:10] == day)
    assert first == second == expected > 0
    total = warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(scratch_dataset, 'gcp_cost_billing')}"
    ).rows[0]["n"]
    assert total == 2 * expected
