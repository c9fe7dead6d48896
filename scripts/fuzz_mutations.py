"""Put each fixed 500 (issues 11 and 27) back, one at a time, and check that the API fuzz fails.

    .venv/bin/python scripts/fuzz_mutations.py            # every mutation, then the baseline
    .venv/bin/python scripts/fuzz_mutations.py limit      # the ones whose name contains "limit"
    FUZZ_FULL=1 .venv/bin/python scripts/fuzz_mutations.py stale   # the whole fuzz, not one route

Each mutation edits one source file the way the code was before its fix, runs
``convergence/tests/test_api_fuzz.py`` (by default only on the operations the fix is about,
``FUZZ_ONLY``; ``FUZZ_FULL=1`` runs every operation) and restores the file, whatever happens.
A mutation the fuzz does not catch, or a baseline that fails, exits 1. Run it on PostgreSQL
as CI does (``DATABASE_URL``, ``CELERY_BROKER_URL``); the figures are in ``docs/api-fuzz.md``.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    path: str
    old: str
    new: str
    operations: str  # FUZZ_ONLY: a substring of the operation labels to fuzz


MUTATIONS = [
    Mutation(
        "json-depth",
        "JSON bodies parsed without the depth bound (plain json.loads)",
        "core/parsers.py",
        "    try:\n        value = json.loads(text, parse_constant=_refuse_constant)\n"
        "    except RecursionError as exc:\n"
        '        raise JsonTooDeep(f"JSON nested deeper than {limit} levels.") from exc\n'
        "    json_check(value, limit=limit)\n    return value\n",
        "    return json.loads(text)\n",
        "/provider-configs",
    ),
    Mutation(
        "runs-limit",
        "no upper bound on ?limit= of GET …/runs",
        "core/pagination.py",
        "limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)",
        "limit = serializers.IntegerField(min_value=1, required=False)",
        "GET /api/v1/tenants/{tenant_id}/runs",
    ),
    Mutation(
        "backfill-dates",
        "backfill dates without the 2000-2099 range",
        "core/serializers.py",
        '        if not DATE_MIN <= parsed <= DATE_MAX:\n            self.fail("out_of_range")\n',
        "",
        "/backfill",
    ),
    Mutation(
        "stale-after",
        "no upper bound on stale_after_minutes",
        "scheduling/apis.py",
        "min_value=1, max_value=MAX_STALE_AFTER_MINUTES, default=10",
        "min_value=1, default=10",
        "cleanup-orphaned-pipelines",
    ),
    Mutation(
        "stripe-created",
        'a signed Stripe event\'s "created" not checked ("abc", 1e20)',
        "billing/stripe_client.py",
        "    if (\n        not isinstance(created, int)\n        or isinstance(created, bool)\n"
        "        or not CREATED_MIN <= created < CREATED_MAX\n    ):\n",
        "    if False:\n",
        "stripe/webhook",
    ),
    Mutation(
        "stripe-id",
        "a signed Stripe event's id length not checked (400 characters)",
        "billing/stripe_client.py",
        "if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or (required and not value):",
        "if not isinstance(value, str) or (required and not value):",
        "stripe/webhook",
    ),
    # Issue 27: bytes no answer could carry, and formats the schema does not write.
    Mutation(
        "27-charset-guard",
        "no charset guard in front of Django (rot13 and the like reach request.GET)",
        "core/middleware.py",
        "        if problem is None:\n"
        "            return self.application(environ, start_response)\n",
        "        return self.application(environ, start_response)\n",
        "/usage",
    ),
    Mutation(
        "27-json-strings",
        "JSON strings and keys not checked (lone surrogates and NUL parsed and stored)",
        "core/parsers.py",
        "def _string_problem(text: str) -> str | None:\n",
        "def _string_problem(text: str) -> str | None:\n    return None\n",
        "/provider-configs",
    ),
    Mutation(
        "27-json-finite",
        "numbers beyond a float (1e999) parsed as infinity and stored",
        "core/parsers.py",
        "            if not math.isfinite(item):\n",
        "            if False:\n",
        "stripe/webhook",
    ),
    Mutation(
        "27-iso-dates",
        "backfill dates in any spelling Python reads (2026-W45-1, 20261102, ...)",
        "core/serializers.py",
        "        if not isinstance(value, str) or not ISO_DATE.match(value):\n"
        '            self.fail("iso")\n',
        "",
        "/backfill",
    ),
    Mutation(
        "27-rfc3339",
        "run filters in any date-time spelling Python reads (no time zone, week dates, ...)",
        "core/serializers.py",
        "        if not isinstance(value, str) or not RFC3339_DATETIME.match(value):\n"
        '            self.fail("rfc3339")\n',
        "",
        "GET /api/v1/tenants/{tenant_id}/runs",
    ),
]


def _fuzz(only: str) -> tuple[int, str]:
    env = {**os.environ, "FUZZ_ONLY": "" if os.environ.get("FUZZ_FULL") else only}
    if not env["FUZZ_ONLY"]:
        env.pop("FUZZ_ONLY")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "convergence/tests/test_api_fuzz.py",
        "-k",
        "fuzz_as",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    return done.returncode, done.stdout + done.stderr


def _findings(output: str) -> list[str]:
    """The fuzz's failure lines: operation, pass, check code and title, status; or, for the
    refused pass and the read-back, what was answered instead."""
    found = []
    pattern = r"([A-Z]+ /\S+) \[(\w+)\]: Schemathesis found.*?- ([A-Z]+\d+ [^|]+)"
    ours = (
        r"([A-Z]+ /\S+) \[(refused|read back)\]: "
        r"(expected a 4xx naming .*?, got \d{3}|HTTP \d{3})"
    )
    for line in output.splitlines():
        if "first extra item" in line:  # pytest's shortened repeat of a failure
            continue
        match = re.search(pattern, line)
        if match and "..." not in match[3]:
            status = re.search(r"\[(\d{3})\] ", line)
            text = f"{match[1]} [{match[2]}] {match[3].strip()}"
            found.append(text + (f" → HTTP {status[1]}" if status else ""))
        elif match := re.search(ours, line.replace("\\'", "'")):
            found.append(f"{match[1]} [{match[2]}] {match[3]}")
    return sorted(set(found))


def main() -> int:
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    results = []
    for mutation in (m for m in MUTATIONS if wanted in m.name):
        path = ROOT / mutation.path
        original = path.read_text()
        if original.count(mutation.old) != 1:
            print(f"{mutation.name}: the fixed code is not where expected in {mutation.path}")
            return 1
        try:
            path.write_text(original.replace(mutation.old, mutation.new))
            code, output = _fuzz(mutation.operations)
        finally:
            path.write_text(original)
        findings = _findings(output)
        caught = code != 0 and bool(findings)
        results.append(caught)
        print(f"{mutation.name}: {mutation.what}")
        print(f"  fuzz {'FAILED (caught)' if caught else 'PASSED (not caught)'}, exit {code}")
        for finding in findings:
            print(f"    {finding}")
    if not wanted:
        code, output = _fuzz("")
        results.append(code == 0)
        print(f"baseline (no mutation, every operation): exit {code}")
        if code:
            print(output[-3000:])
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
