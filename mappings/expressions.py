"""The mapping expression language: parsed to a small tree, compiled to GoogleSQL.

An expression is a column of the source (``cost_myCost``, or its header name in backquotes,
`` `cost/myCost` ``), a literal (``'text'``, ``12.5``, ``null``) or a call of one function of
a fixed allow-list. Identifiers are checked and backquoted; every literal becomes a query
parameter, so no text a mapping's author writes reaches the SQL as SQL.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from warehouse.files import column_names_from_header
from warehouse.sql_identifiers import NAME_PATTERN

MAX_EXPRESSION = 4000
MAX_DEPTH = 16

STRING, NUMERIC, FLOAT64, TIMESTAMP, JSON, NULL = (
    "STRING",
    "NUMERIC",
    "FLOAT64",
    "TIMESTAMP",
    "JSON",
    "NULL",
)
# Tolerant ISO 8601: date, then optional time with or without seconds and fraction, then an
# optional ``Z`` or offset (``+02``, ``+0200``, ``+02:00``). Seconds and the offset's colon
# are added (pattern, replacement: RE2, applied in order) so BigQuery's own cast reads the rest.
_ISO_STEPS = (
    (r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([^:\d]|$)", r"\1:00\2"),
    (r"([T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?\s*[+-]\d{2})(\d{2})$", r"\1:\2"),
    (r"([T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?\s*[+-]\d{2})$", r"\1:00"),
)


class ExpressionError(ValueError):
    """An expression that cannot be parsed, names what it may not, or has the wrong type."""


# -- tokens -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<quoted>`[^`]{1,300}`)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<arrow>=>)
    | (?P<punct>[(),.])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def _tokens(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"unexpected text at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


# -- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: str | decimal.Decimal | None


@dataclass(frozen=True)
class ColumnRef:
    name: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple = ()
    # ``case``: the (when, then) pairs and the ``else`` expression.
    pairs: tuple = ()
    default: object = None


@dataclass(frozen=True)
class Parsed:
    tree: object
    columns: frozenset[str]
    lookups: frozenset[str]


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_EXPRESSION:
            raise ExpressionError(f"longer than {MAX_EXPRESSION} characters")
        self.tokens = _tokens(text)
        self.position = 0
        self.columns: set[str] = set()
        self.lookups: set[str] = set()

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, text: str | None = None) -> Token:
        token = self.peek()
        if token is None:
            raise ExpressionError("ends too early" + (f": expected {text!r}" if text else ""))
        if text is not None and token.text != text:
            raise ExpressionError(f"expected {text!r}, found {token.text!r}")
        self.position += 1
        return token

    def parse(self) -> Parsed:
        if not self.tokens:
            raise ExpressionError("is empty")
        tree = self.expression(0)
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek().text!r} after the expression")
        return Parsed(tree, frozenset(self.columns), frozenset(self.lookups))

    def expression(self, depth: int):
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested deeper than {MAX_DEPTH} calls")
        token = self.take()
        if token.kind == "string":
            quote = token.text[0]
            return Literal(token.text[1:-1].replace(quote * 2, quote))
        if token.kind == "number":
            return Literal(decimal.Decimal(token.text))
        if token.kind == "quoted":
            return self.column(column_names_from_header([token.text[1:-1]])[0])
        if token.kind != "name":
            raise ExpressionError(f"unexpected {token.text!r}")
        following = self.peek()
        if following is not None and following.text == ".":
            dotted = [token.text]
            while self.peek() is not None and self.peek().text == ".":
                self.take(".")
                dotted.append(self.take().text)
            raise ExpressionError(
                f"{'.'.join(dotted)!r} names another table: a mapping reads only its own "
                "source's columns (one name, no dots)"
            )
        if token.text.lower() == "null":
            return Literal(None)
        if following is None or following.text != "(":
            return self.column(token.text)
        return self.call(token.text.lower(), depth)

    def column(self, name: str) -> ColumnRef:
        if not NAME_PATTERN.match(name):
            raise ExpressionError(f"{name!r} is not a column name")
        self.columns.add(name)
        return ColumnRef(name)

    def call(self, function: str, depth: int) -> Call:
        if function not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function {function!r} (allowed: {', '.join(sorted(FUNCTIONS))})"
            )
        self.take("(")
        args, pairs, default = [], [], None
        while self.peek() is not None and self.peek().text != ")":
            if function == "case" and args and self.peek().text.lower() == "else":
                self.take()
                default = self.expression(depth + 1)
            else:
                argument = self.expression(depth + 1)
                if self.peek() is not None and self.peek().text == "=>":
                    self.take("=>")
                    if function != "case" or not args:
                        raise ExpressionError("'=>' is only for case(value, 'when' => 'then')")
                    pairs.append((argument, self.expression(depth + 1)))
                else:
                    if function == "case" and args:
                        raise ExpressionError("case takes 'when' => 'then' pairs and else")
                    args.append(argument)
            if self.peek() is not None and self.peek().text == ",":
                self.take(",")
                if self.peek() is not None and self.peek().text == ")":
                    raise ExpressionError("unexpected ')' after ','")
            elif self.peek() is None or self.peek().text != ")":
                raise ExpressionError(f"expected ',' or ')' in {function}(…)")
        self.take(")")
        if function == "lookup" and args:
            if not isinstance(args[0], ColumnRef):
                raise ExpressionError(
                    "lookup(table, value): the table is a name declared in lookups"
                )
            self.columns.discard(args[0].name)
            self.lookups.add(args[0].name)
        return Call(function, tuple(args), tuple(pairs), default)


def expression_parse(text: object) -> Parsed:
    """The parsed expression; ExpressionError naming the problem otherwise."""
    if isinstance(text, bool):
        raise ExpressionError("true and false are not FOCUS values; write 'true' or 'false'")
    if isinstance(text, int | float):
        return Parsed(Literal(decimal.Decimal(str(text))), frozenset(), frozenset())
    if text is None:
        return Parsed(Literal(None), frozenset(), frozenset())
    if not isinstance(text, str):
        raise ExpressionError("must be an expression string")
    return _Parser(text).parse()


# -- compiling --------------------------------------------------------------------------------


@dataclass
class Compiler:
    """Compiles expressions of one mapping into one statement, collecting its parameters.

    ``available`` is the source table's columns (None: not known yet, as at validation);
    a column in ``optional`` that the source lacks reads as NULL.
    """

    lookups: Mapping[str, Mapping]
    available: frozenset[str] | None = None
    optional: frozenset[str] = frozenset()
    params: dict[str, object] = field(default_factory=dict)
    prefix: str = "map_"

    def param(self, value: object) -> str:
        for name, existing in self.params.items():
            if existing == value and type(existing) is type(value):
                return f"@{name}"
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f"@{name}"

    def compile(self, parsed: Parsed, target: str) -> str:
        """SQL for the expression as a value of the FOCUS column's type ``target``."""
        sql, kind = self._sql(parsed.tree)
        return coerce(sql, kind, target)

    def _sql(self, node) -> tuple[str, str]:
        if isinstance(node, Literal):
            if node.value is None:
                return "NULL", NULL
            if isinstance(node.value, decimal.Decimal):
                return self.param(node.value), NUMERIC
            return self.param(node.value), STRING
        if isinstance(node, ColumnRef):
            if self.available is not None and node.name not in self.available:
                if node.name in self.optional:
                    return "CAST(NULL AS STRING)", STRING
                raise ExpressionError(f"the source has no column {node.name!r}")
            # An empty CSV field is NULL: BigQuery loads it into a STRING column as ''.
            return f"NULLIF(`{node.name}`, '')", STRING
        return FUNCTIONS[node.function](self, node)

    def args(self, node: Call, kinds: Iterable[str] | None = None) -> list[tuple[str, str]]:
        compiled = [self._sql(a) for a in node.args]
        if kinds is not None:
            allowed = tuple(kinds)
            for _, kind in compiled:
                if kind not in (*allowed, NULL):
                    raise ExpressionError(
                        f"{node.function}() takes {' or '.join(allowed)}, not {kind}"
                    )
        return compiled


def coerce(sql: str, kind: str, target: str) -> str:
    """``sql`` of type ``kind`` as a ``target`` value; ExpressionError if it cannot be."""
    if kind == target:
        return sql
    if kind == NULL:
        return f"CAST(NULL AS {target})"
    if kind == NUMERIC and target == FLOAT64:
        return f"CAST({sql} AS FLOAT64)"
    hint = {
        NUMERIC: "wrap a column in decimal(…)",
        FLOAT64: "wrap a column in decimal(…)",
        TIMESTAMP: "wrap a column in timestamp(…)",
        JSON: "use json_by_prefix('prefix_')",
    }.get(target, "")
    raise ExpressionError(
        f"gives {kind} but the column is {target}" + (f"; {hint}" if hint else "")
    )


def _count(node: Call, low: int, high: int | None = None) -> None:
    n = len(node.args)
    if n < low or (high is not None and n > high):
        wanted = f"{low}" if high == low else f"{low} to {high}" if high else f"at least {low}"
        raise ExpressionError(f"{node.function}() takes {wanted} arguments, got {n}")


def _timestamp(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1)
    (value, kind), *formats = c.args(node)
    if kind == TIMESTAMP:
        return value, TIMESTAMP
    if kind not in (STRING, NULL):
        raise ExpressionError(f"timestamp() parses text, not {kind}")
    if not formats:
        text = f"TRIM({value})"
        iso = text
        for pattern, replacement in _ISO_STEPS:
            iso = f"REGEXP_REPLACE({iso}, {c.param(pattern)}, {c.param(replacement)})"
        # The plain cast first: the regular expressions run only for values it cannot read.
        return (
            f"COALESCE(SAFE_CAST({text} AS TIMESTAMP), SAFE_CAST({iso} AS TIMESTAMP))",
            TIMESTAMP,
        )
    for argument, (_, form) in zip(node.args[1:], formats, strict=True):
        if not isinstance(argument, Literal) or not isinstance(argument.value, str):
            raise ExpressionError("timestamp(value, 'format', …): formats are text literals")
        if form != STRING:
            raise ExpressionError("timestamp() formats are text")
    parses = ", ".join(f"SAFE.PARSE_TIMESTAMP({fmt}, TRIM({value}))" for fmt, _ in formats)
    return (f"COALESCE({parses})" if len(formats) > 1 else parses), TIMESTAMP


def _decimal(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1, 1)
    ((value, kind),) = c.args(node, (STRING, NUMERIC))
    if kind == NUMERIC:
        return value, NUMERIC
    return f"SAFE_CAST(TRIM({value}) AS NUMERIC)", NUMERIC


def _same_kind(function: str, kinds: list[str]) -> str:
    found = {k for k in kinds if k != NULL}
    if len(found) > 1:
        raise ExpressionError(f"{function}() mixes {', '.join(sorted(found))}")
    return found.pop() if found else NULL


def _coalesce(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1)
    compiled = c.args(node)
    kind = _same_kind("coalesce", [k for _, k in compiled])
    values = [coerce(sql, k, kind) if kind != NULL else sql for sql, k in compiled]
    return f"COALESCE({', '.join(values)})", kind


def _case(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1, 1)
    if not node.pairs:
        raise ExpressionError("case(value, 'when' => 'then', …, else …) needs a pair")
    subject, subject_kind = c._sql(node.args[0])
    branches, kinds = [], []
    for when, then in node.pairs:
        if not isinstance(when, Literal) or when.value is None:
            raise ExpressionError("case: each 'when' is a text or number literal")
        when_sql, when_kind = c._sql(when)
        if subject_kind not in (when_kind, NULL):
            raise ExpressionError(f"case: compares {subject_kind} with {when_kind}")
        then_sql, then_kind = c._sql(then)
        branches.append((when_sql, then_sql, then_kind))
        kinds.append(then_kind)
    default_sql, default_kind = c._sql(node.default) if node.default is not None else ("NULL", NULL)
    kind = _same_kind("case", [*kinds, default_kind])
    whens = " ".join(
        f"WHEN {w} THEN {coerce(t, k, kind) if kind != NULL else t}" for w, t, k in branches
    )
    default = coerce(default_sql, default_kind, kind) if kind != NULL else default_sql
    return f"CASE {subject} {whens} ELSE {default} END", kind


def _if_set(c: Compiler, node: Call) -> tuple[str, str]:
    """``if_set(x, v)``: v where x is not NULL, else NULL (a column FOCUS requires only beside
    another, such as ResourceType beside ResourceId)."""
    _count(node, 2, 2)
    (test, _), (value, kind) = c.args(node)
    return f"IF({test} IS NULL, NULL, {value})", kind


def _concat(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1)
    return f"CONCAT({', '.join(sql for sql, _ in c.args(node, (STRING,)))})", STRING


def _text(function: str) -> Callable[[Compiler, Call], tuple[str, str]]:
    def compile_(c: Compiler, node: Call) -> tuple[str, str]:
        _count(node, 1, 1)
        ((value, _),) = c.args(node, (STRING,))
        return f"{function}({value})", STRING

    return compile_


def _lookup(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 2, 2)
    table = node.args[0].name
    if table not in c.lookups:
        raise ExpressionError(
            f"lookup table {table!r} is not declared in this mapping's lookups "
            "(a mapping cannot read other tables)"
        )
    value, kind = c._sql(node.args[1])
    if kind not in (STRING, NULL):
        raise ExpressionError(f"lookup() keys are text, not {kind}")
    spec = c.lookups[table]
    branches = " ".join(
        f"WHEN {c.param(str(key))} THEN {c.param(str(out))}" for key, out in spec["values"].items()
    )
    default = c.param(str(spec["default"])) if spec.get("default") is not None else "NULL"
    return f"CASE {value} {branches} ELSE {default} END", STRING


def _json_by_prefix(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1, 1)
    prefix = node.args[0]
    if not isinstance(prefix, Literal) or not isinstance(prefix.value, str) or not prefix.value:
        raise ExpressionError("json_by_prefix('prefix_'): the prefix is a text literal")
    if not NAME_PATTERN.match(prefix.value):
        raise ExpressionError(f"json_by_prefix: {prefix.value!r} cannot begin a column name")
    if c.available is None:
        return "CAST(NULL AS JSON)", JSON
    columns = sorted(n for n in c.available if n.startswith(prefix.value) and n != prefix.value)
    if not columns:
        return "CAST(NULL AS JSON)", JSON
    # Built as text: the emulator cannot build JSON from arrays (JSON_OBJECT, TO_JSON).
    members = ", ".join(
        f"IF(NULLIF(`{n}`, '') IS NULL, NULL, "
        f"CONCAT(TO_JSON_STRING({c.param(n[len(prefix.value) :])}), ':', TO_JSON_STRING(`{n}`)))"
        for n in columns
    )
    return (
        f"PARSE_JSON(CONCAT('{{', ARRAY_TO_STRING([{members}], ','), '}}'))",
        JSON,
    )


def _json(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1, 1)
    ((value, _),) = c.args(node, (STRING,))
    return f"SAFE.PARSE_JSON(NULLIF(TRIM({value}), ''))", JSON


def _month_start(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1, 1)
    ((value, _),) = c.args(node, (TIMESTAMP,))
    return f"TIMESTAMP_TRUNC({value}, MONTH)", TIMESTAMP


def _month_end(c: Compiler, node: Call) -> tuple[str, str]:
    _count(node, 1, 1)
    ((value, _),) = c.args(node, (TIMESTAMP,))
    return (
        f"TIMESTAMP(DATE_ADD(DATE_TRUNC(DATE({value}), MONTH), INTERVAL 1 MONTH))",
        TIMESTAMP,
    )


FUNCTIONS: dict[str, Callable[[Compiler, Call], tuple[str, str]]] = {
    "timestamp": _timestamp,
    "decimal": _decimal,
    "coalesce": _coalesce,
    "if_set": _if_set,
    "case": _case,
    "concat": _concat,
    "lower": _text("LOWER"),
    "upper": _text("UPPER"),
    "trim": _text("TRIM"),
    "lookup": _lookup,
    "json": _json,
    "json_by_prefix": _json_by_prefix,
    "month_start": _month_start,
    "month_end": _month_end,
}
