"""Every input the schema describes is bounded, so no value can reach an overflow (the fuzz
cannot be relied on to stumble on 2**63; this walks every operation instead)."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rpartition("/")[2]]
    return node


def _unbounded(schema: dict, node: dict, where: str) -> list[str]:
    node = _resolve(schema, node)
    kind = node.get("type")
    if kind == "integer" and not (("minimum" in node and "maximum" in node) or "enum" in node):
        return [f"{where}: integer without minimum and maximum"]
    if kind == "string" and not ({"maxLength", "enum", "format"} & set(node)):
        return [f"{where}: string without maxLength"]
    if kind == "object":
        found = []
        for name, prop in node.get("properties", {}).items():
            found += _unbounded(schema, prop, f"{where}.{name}")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            found += _unbounded(schema, extra, f"{where}.*")
        return found
    if kind == "array":
        found = [] if "maxItems" in node else [f"{where}: array without maxItems"]
        return found + _unbounded(schema, node.get("items", {}), f"{where}[]")
    return []


def test_every_request_input_is_bounded(schema):
    """Query parameters and request bodies of every API operation: integers have both bounds,
    strings a length (or a format or enum), arrays a length. Path parameters are matched by
    the URL conf (digits or a segment) and looked up, never computed with."""
    problems: list[str] = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    problems += _unbounded(
                        schema, parameter["schema"], f"{label} ?{parameter['name']}"
                    )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                problems += _unbounded(schema, media.get("schema", {}), f"{label} body")
    assert problems == []
