"""Mapping files are refused with every problem named: the file, the FOCUS column and the
expression; and the expression language compiles only what it allows."""

from pathlib import Path

import pytest

from mappings.expressions import Compiler, ExpressionError, expression_parse
from mappings.format import MappingInvalid, mapping_parse
from mappings.sql import MappingSourceError, mapping_sql

OCI = (Path(__file__).parents[1] / "library" / "oci.yml").read_text()
FILE = "mappings/library/oci_custom.yml"


def oci_with(**columns) -> str:
    """The shipped OCI mapping, renamed, with some column expressions replaced or removed."""
    lines = []
    for line in OCI.replace("name: oci\n", "name: oci_custom\n").splitlines():
        key = line.strip().split(":", 1)[0]
        if line.startswith("  ") and not line.startswith("   ") and key in columns:
            if columns[key] is None:
                continue
            line = f"  {key}: {columns[key]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def refused(text: str) -> list[str]:
    with pytest.raises(MappingInvalid) as caught:
        mapping_parse(text, file=FILE, name="oci_custom")
    return [str(issue) for issue in caught.value.issues]


def test_the_shipped_oci_mapping_validates():
    spec = mapping_parse(oci_with(), file=FILE, name="oci_custom")
    assert spec.billed_cost == "cost_myCost"
    assert "lineItem_intervalUsageStart" in spec.required_source_columns
    assert "lineItem_isCorrection" not in spec.required_source_columns


def test_an_unknown_function_is_refused_naming_file_column_and_expression():
    """A function outside the allow-list is refused; nothing about it reaches SQL."""
    issues = refused(oci_with(BilledCost="exec_sql(cost_myCost)"))
    assert issues == [
        f"{FILE}: BilledCost: 'exec_sql(cost_myCost)': unknown function 'exec_sql' "
        "(allowed: case, coalesce, concat, decimal, if_set, json, json_by_prefix, lookup, lower, "
        "month_end, month_start, timestamp, trim, upper)"
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "victim_dataset.aws_cur_raw.cost",
        "decimal(other_project.billing.export.cost)",
        "coalesce(cost_myCost, tenant_b.raw.cost_myCost)",
    ],
)
def test_a_foreign_table_reference_is_refused_naming_file_column_and_expression(expression):
    """A dotted name (another table's column) is refused: a mapping reads its own source."""
    issues = refused(oci_with(ChargeDescription=expression))
    assert len(issues) == 1
    assert issues[0].startswith(f"{FILE}: ChargeDescription: {expression!r}: ")
    assert "names another table" in issues[0]


def test_an_undeclared_lookup_table_is_refused():
    issues = refused(oci_with(ServiceCategory="lookup(platform_secrets, product_service)"))
    assert issues == [
        f"{FILE}: ServiceCategory: 'lookup(platform_secrets, product_service)': lookup table "
        "'platform_secrets' is not declared in this mapping's lookups (a mapping cannot read "
        "other tables)"
    ]


def test_a_missing_mandatory_focus_column_is_refused_naming_it():
    """Every column FOCUS requires must be given; each missing one is named."""
    issues = refused(oci_with(BilledCost=None, ServiceName=None))
    assert f"{FILE}: BilledCost: missing: FOCUS 1.2 requires this column (give an expression)" in (
        issues
    )
    assert any(i.startswith(f"{FILE}: ServiceName: missing") for i in issues)
    assert len(issues) == 2


def test_null_for_a_column_focus_requires_filled_is_refused():
    issues = refused(oci_with(BillingCurrency="null"))
    assert issues == [
        f"{FILE}: BillingCurrency: 'null': FOCUS requires a value on every row; null is not one"
    ]


@pytest.mark.parametrize(
    ("column", "expression", "problem"),
    [
        ("BilledCost", "cost_myCost", "gives STRING but the column is NUMERIC"),
        ("ChargePeriodStart", "lineItem_intervalUsageStart", "wrap a column in timestamp"),
        ("ServiceName", "decimal(cost_myCost)", "gives NUMERIC but the column is STRING"),
        ("ChargeCategory", "'Usage", "unexpected text"),
        ("ChargeCategory", "concat('a', )", "unexpected ')'"),
        ("ChargeCategory", "case(product_service, product_service => 'x')", "literal"),
        ("NotAFocusColumn", "'x'", "not a FOCUS 1.2 column"),
    ],
)
def test_type_and_syntax_errors_name_the_column_and_expression(column, expression, problem):
    quoted = '"' + expression.replace('"', '\\"') + '"'
    text = oci_with(**{column: quoted}) if column in OCI else oci_with() + f"  {column}: {quoted}\n"
    issues = refused(text)
    matching = [i for i in issues if i.startswith(f"{FILE}: {column}: {expression!r}: ")]
    assert matching, issues
    assert problem in matching[0]


def test_every_problem_is_reported_at_once():
    issues = refused(oci_with(BilledCost="nope(x)", ServiceName=None) + "  x_a: a.b\n")
    assert len(issues) == 3


def test_literals_become_parameters_and_columns_are_backquoted():
    """No text a mapping's author writes is spliced into the SQL: a quote-breaking literal is
    a parameter value, and a column is a checked, backquoted identifier."""
    compiler = Compiler(lookups={})
    sql = compiler.compile(
        expression_parse("concat(`product/service`, '`''; DROP TABLE x; --')"), "STRING"
    )
    assert sql == "CONCAT(NULLIF(`product_service`, ''), @map_0)"
    assert compiler.params == {"map_0": "`'; DROP TABLE x; --"}


@pytest.mark.parametrize(
    "text",
    ["`a` `b`", "decimal(a) extra", "(a)", "a;", "lower(" * 20 + "a" + ")" * 20],
)
def test_malformed_expressions_are_refused(text):
    with pytest.raises(ExpressionError):
        Compiler(lookups={}).compile(expression_parse(text), "STRING")


def test_a_source_lacking_a_required_column_is_named_at_run_time():
    spec = mapping_parse(oci_with(), file=FILE, name="oci_custom")
    columns = spec.required_source_columns - {"cost_myCost"}
    with pytest.raises(MappingSourceError, match="lacks columns the mapping reads: cost_myCost"):
        mapping_sql(spec, source="p-roject.d.s", destination="p-roject.d.t", source_columns=columns)


def test_an_expression_longer_than_the_limit_is_refused_naming_it():
    """4,000 characters are accepted; one more is refused, named at the column, even when the
    expression is otherwise valid (a long concat of columns)."""
    head = "concat(" + ", ".join(["cost_myCost"] * 300) + ", '"
    fits = head + "a" * (4000 - len(head) - 2) + "')"
    assert len(fits) == 4000
    compiled = Compiler(lookups={}).compile(expression_parse(fits), "STRING")
    assert compiled.startswith("CONCAT(")
    longer = fits.replace("')", "a')")
    with pytest.raises(ExpressionError, match="longer than 4000 characters"):
        expression_parse(longer)
    issues = refused(oci_with() + f'  x_note: "{longer}"\n')
    assert [i for i in issues if "x_note" in i and "longer than 4000 characters" in i], issues
