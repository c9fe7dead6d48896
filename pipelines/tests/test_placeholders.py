"""Placeholders fill identifiers only: an unsafe value is refused before any warehouse call."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.configs import pipeline_configs_all
from pipelines.processors import StepContext, processor_for
from warehouse.isolation import AccessRefused
from warehouse.sql_identifiers import (
    BUILTIN_IDENTIFIERS,
    PlaceholderError,
    identifier_check,
    placeholders,
    sql_render,
)


class RecordingWarehouse:
    """Stands in for the warehouse: records any call and refuses to do anything."""

    project = "convergence-test"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"warehouse.{name} called with an unchecked identifier")

        return record


def _strings(value):
    if isinstance(value, str):
        yield value
    elif hasattr(value, "items"):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, tuple):
        for item in value:
            yield from _strings(item)


# Every (config, step, placeholder) the shipped configs contain; ``run_tag`` is made from the
# run id, never given (test_run_tag_is_a_name_whatever_the_run_id).
TARGETS = sorted(
    (config.key, step.index, name)
    for config in pipeline_configs_all()
    for step in config.steps
    for name in set().union(*(placeholders(s) for s in _strings(step.options))) - {"run_tag"}
)
CONFIGS = {c.key: c for c in pipeline_configs_all()}

UNSAFE = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=8),
    st.sampled_from(
        [
            "`",
            "'",
            '"',
            ";",
            "--",
            "\n",
            "\r",
            " ",
            "\t",
            "/*",
            "\\",
            "\x00",
            "é",
            "ß",
            "\u200b",
            "\uff53\uff45\uff4c\uff45\uff43\uff54",  # fullwidth "select"
            "a.b.c.d",
            "..",
        ]
    ),
    st.text(max_size=8),
)


def test_every_shipped_config_has_placeholders_to_attack():
    """The property below covers real placeholders, including the built-ins."""
    names = {name for _, _, name in TARGETS}
    assert len(TARGETS) >= 10
    assert "dataset" not in names or "dataset" in BUILTIN_IDENTIFIERS
    assert {"raw_table", "focus_table", "source_billing_table"} <= names


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=st.sampled_from(TARGETS), value=UNSAFE)
def test_unsafe_placeholder_value_is_refused_before_any_warehouse_call(target, value, tmp_path):
    """Backticks, quotes, ;, --, newlines, unicode in any placeholder: refused, nothing sent."""
    key, index, name = target
    config = CONFIGS[key]
    step = config.steps[index]
    warehouse = RecordingWarehouse()
    variables = {v: "safe_name" for v in config.variables}
    variables["source_billing_table"] = "other-project.billing.export"
    tenant_id, dataset_id = "acme", "acme_local"
    if name == "tenant_id":
        tenant_id = value
    elif name == "dataset":
        dataset_id = value
    else:
        variables[name] = value
    with pytest.raises(PlaceholderError):
        context = StepContext(
            warehouse=warehouse,
            tenant_id=tenant_id,
            dataset_id=dataset_id,
            params={"date": None, "source_file": str(tmp_path / "x.csv"), "greeting": "hi"},
            variables=variables,
            sources=frozenset({"other-project.billing.export"}),
        )
        processor_for(step).run(context.for_step(step))
    assert warehouse.calls == []


@given(value=UNSAFE)
@settings(max_examples=200, deadline=None)
def test_sql_render_refuses_unsafe_values(value):
    """The renderer refuses every unsafe value, for every position in a table reference."""
    for template in ("SELECT * FROM `{t}`", "SELECT {t} FROM x"):
        with pytest.raises(PlaceholderError):
            sql_render(template, {"t": value})


@pytest.mark.parametrize(
    "value",
    ["costs", "_t1", "dataset.table", "my-project-1.billing_ds.gcp_billing_export_v1_0123"],
)
def test_safe_identifiers_are_filled(value):
    """Names, dataset.table and project.dataset.table are substituted as they are."""
    assert sql_render("SELECT * FROM `{t}`", {"t": value}) == f"SELECT * FROM `{value}`"


@pytest.mark.parametrize(
    "value",
    [
        "1table",
        "a" * 129,
        "Bad-Project.ds.t",
        "my--project.ds.t",
        "proj-.ds.t",
        "abc.ds.t",
        "table\n",
        "t` UNION SELECT 1 --",
    ],
)
def test_near_miss_identifiers_are_refused(value):
    """Values that almost match an allowed pattern (trailing newline included) are refused."""
    with pytest.raises(PlaceholderError):
        identifier_check("t", value)


def test_missing_placeholder_value_is_refused():
    """A placeholder with no value (an unset run-time variable) is refused by name."""
    with pytest.raises(PlaceholderError, match=r"\{source_billing_table\} has no value"):
        sql_render("SELECT 1 FROM `{source_billing_table}`", {"source_billing_table": None})


def test_values_cannot_inject_placeholders():
    """Substitution is one pass: a value that looks like a placeholder is not expanded."""
    with pytest.raises(PlaceholderError):
        sql_render("{a}", {"a": "{b}", "b": "x"})
    assert sql_render("{a}.{b}", {"a": "b", "b": "c"}) == "b.c"


def test_a_source_table_in_another_tenants_dataset_is_refused():
    """A provider config naming another tenant's table is refused before any warehouse call."""
    config = CONFIGS["gcp/cost/focus"]
    step = config.steps[0]
    warehouse = RecordingWarehouse()
    for source in ("convergence-test.victim_local.x_meta_pipeline_runs", "victim_local.costs"):
        context = StepContext(
            warehouse=warehouse,
            tenant_id="acme",
            dataset_id="acme_local",
            params={},
            variables={**config.variables, "source_billing_table": source},
        )
        with pytest.raises(AccessRefused, match="may read only its tenant's dataset 'acme_local'"):
            processor_for(step).run(context.for_step(step))
    assert warehouse.calls == []


@given(run_id=st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_run_tag_is_a_name_whatever_the_run_id(run_id):
    """A run's staging tables are named with its run id made a safe name, whatever the id."""
    context = StepContext(
        warehouse=RecordingWarehouse(), tenant_id="acme", dataset_id="acme_local", run_id=run_id
    )
    assert sql_render("aws_cur_raw__{run_tag}", context.identifiers).startswith("aws_cur_raw__r")
