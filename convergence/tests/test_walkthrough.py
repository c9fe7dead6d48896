"""The README's walk-through, read from the README and run step by step against a live server
and a real Celery worker, then followed in the admin in headless Chromium.

Every command of the walk-through's shell block is interpreted here (a command this test does
not know fails it), and the ``# →`` lines of the commands that print plain text are checked
against what they printed, so a README step that stops working, or stops printing what the
README says, fails CI. Screenshots go to ``test-artifacts/browser/walkthrough-*.png``.
"""

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.tests.test_browser import ARTIFACTS, CHROMIUM, PASSWORD, chromium_page
from pipelines.models import PipelineRun, RunStatus, StepStatus
from tenants.models import Tenant, UsageWindow
from warehouse.bigquery import tenant_dataset_id

README = Path(settings.BASE_DIR) / "README.md"
TENANT = "acme_corp"
RUN_TIMEOUT = 120

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def walkthrough_steps() -> list[tuple[str, list[str]]]:
    """The walk-through's commands, each with the ``# →`` lines that follow it."""
    section = README.read_text().split("## A walk through the product", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], re.S).group(1)
    steps: list[tuple[str, list[str]]] = []
    in_expected = False  # an indented "#   " line continues the "# →" line above it only
    for raw in block.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line.startswith("# →"):
            steps[-1][1].append(line.removeprefix("# →").strip())
            in_expected = True
        elif line.startswith("#   ") and in_expected:
            steps[-1][1][-1] += " " + line.removeprefix("#").strip()
        else:
            in_expected = False
            if line and not line.startswith("#"):
                steps.append((" ".join(line.split()), []))
    return steps


def expect_printed(expected: list[str], printed: str) -> None:
    """Each expected line's text, with ``…`` standing for anything, appears in the output."""
    for line in expected:
        line = re.sub(r"\s+\(HTTP \d+[^)]*\)$", "", line)
        for fragment in (f.strip() for f in line.split("…")):
            assert fragment in printed, f"README says {line!r}; the command printed {printed!r}"


class Shell:
    """Just enough of a shell for the walk-through's commands, pointed at the live server."""

    def __init__(self, *, live_url: str, port: str, workdir: Path, imports: Path) -> None:
        self.live_url = live_url
        self.port = port
        self.workdir = workdir
        self.imports = imports
        self.vars: dict[str, str] = {}
        self.responses: list[tuple[int, str]] = []
        self.echoed: list[str] = []

    def expand(self, text: str) -> str:
        text = text.replace("${PORT:-8000}", self.port)
        return re.sub(r"\$(\w+)", lambda m: self.vars[m.group(1)], text)

    def run(self, command: str) -> str:
        if m := re.fullmatch(r"(\w+)=\$\((.*)\)", command):
            self.vars[m.group(1)] = self.run(m.group(2)).strip()
            return ""
        if command.startswith("echo "):
            self.echoed.append(self.expand(command.removeprefix("echo ")))
            return self.echoed[-1]
        if command.startswith(".venv/bin/python manage.py "):
            out = io.StringIO()
            call_command(*shlex.split(self.expand(command))[2:], stdout=out)
            return out.getvalue()
        if command.startswith(".venv/bin/python -c "):
            code = shlex.split(command)[2]
            return subprocess.run(
                [sys.executable, "-c", code],
                cwd=self.workdir,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        if m := re.fullmatch(r"mkdir -p var/imports/(\w+) && cp (\S+) var/imports/\1/", command):
            (self.imports / m.group(1)).mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(settings.BASE_DIR) / m.group(2), self.imports / m.group(1))
            return ""
        if m := re.fullmatch(r"until (curl .*?) \| (.*?); do sleep 1; done", command):
            return self.until(m.group(1), m.group(2))
        if command.startswith("curl "):
            return self.curl(command)
        pytest.fail(f"The README's walk-through has a command this test does not know: {command}")

    def curl(self, command: str) -> str:
        command = command.removesuffix("; echo")
        curl, _, pipe = command.partition(" | ")
        status, body = self.request(curl)
        self.responses.append((status, body))
        if pipe.startswith("tee "):
            target = self.workdir / pipe.removeprefix("tee ")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
        elif pipe and pipe != ".venv/bin/python -m json.tool":
            pytest.fail(f"Unknown pipe in the README's walk-through: {pipe}")
        return body

    def until(self, curl: str, check: str) -> str:
        code = shlex.split(check)[2]
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            _, body = self.request(curl)
            done = subprocess.run([sys.executable, "-c", code], input=body, text=True)
            if done.returncode == 0:
                return body
            time.sleep(1)
        pytest.fail(f"Not done within {RUN_TIMEOUT} s: {curl}")

    def request(self, curl: str) -> tuple[int, str]:
        args = shlex.split(self.expand(curl))[1:]
        method, headers, data, url = "GET", {}, None, ""
        while args:
            arg = args.pop(0)
            if arg == "-s":
                continue
            if arg == "-X":
                method = args.pop(0)
            elif arg == "-H":
                name, _, value = args.pop(0).partition(": ")
                headers[name] = value
            elif arg == "-d":
                data = args.pop(0).encode()
            elif arg.startswith("http://127.0.0.1:"):
                url = arg
            else:
                pytest.fail(f"Unknown curl argument in the README's walk-through: {arg}")
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


@pytest.fixture
def walkthrough_settings(settings, tmp_path, monkeypatch, live_server):
    """Local-like settings: emails kept in a folder, the demo webhook secret, PORT = the live
    server's port (the commands read it as the README's second shell does)."""
    settings.EMAIL_BACKEND = "core.mail.KeptEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.EMAIL_ECHO = False
    settings.STRIPE_WEBHOOK_SECRET = "whsec_walkthrough_test"
    settings.STRIPE_SECRET_KEY = ""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path / "imports")
    port = live_server.url.rsplit(":", 1)[1]
    monkeypatch.setenv("PORT", port)
    return port


def test_the_readme_walkthrough_runs_as_written_and_shows_in_the_admin(
    live_server, celery_worker, warehouse, walkthrough_settings, tmp_path, s3_endpoint
):
    """Every walk-through command does what the README says; then the admin shows the run
    (SKIPPED notice, no CANCELLED step) and the dashboard links to the tenant's cost page."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    shell = Shell(
        live_url=live_server.url,
        port=walkthrough_settings,
        workdir=tmp_path,
        imports=tmp_path / "imports",
    )
    steps = walkthrough_steps()
    assert len(steps) >= 10, steps
    try:
        for command, expected in steps:
            printed = shell.run(command)
            if command.startswith((".venv/bin/python manage.py", "echo ")) or (
                expected and expected[0].startswith("{")
            ):
                expect_printed(expected, printed)
            for line in expected:
                if m := re.search(r"\(HTTP (\d+)", line):
                    assert shell.responses[-1][0] == int(m.group(1)), (command, shell.responses[-1])

        run_id = shell.vars["RUN"]
        run = PipelineRun.objects.get(pk=run_id)
        assert (run.tenant_id, run.status, run.rows_processed) == (
            TENANT,
            RunStatus.COMPLETED,
            1281,
        )
        steps_status = dict(run.steps.values_list("step_id", "status"))
        assert steps_status["notify_failure"] == StepStatus.SKIPPED
        assert RunStatus.CANCELLED not in steps_status.values()
        detail = next(json.loads(b) for _, b in shell.responses if '"steps"' in b)
        assert detail["run_id"] == detail["pipeline_logging_id"] == run_id
        # The refused GCP run used no quota: the file's run and the sync counted today.
        assert UsageWindow.objects.get(tenant_id=TENANT, kind="day").runs_used == 2
        sync = PipelineRun.objects.get(pk=shell.vars["SYNC"])
        assert (sync.pipeline, sync.status, sync.rows_processed) == ("sync", "COMPLETED", 1281)
        tenant = Tenant.objects.select_related("subscription__plan").get(pk=TENANT)
        assert (tenant.status, tenant.subscription.plan.code) == ("ACTIVE", "SCALE")
        # The walk-through ends reading the costs it loaded through the API, to the cent.
        costs = json.loads(shell.responses[-1][1])
        assert shell.responses[-1][0] == 200
        assert [(c["currency"], c["totals"]["BilledCost"]) for c in costs["currencies"]] == [
            ("USD", "1.682308713")
        ]
        assert sum(
            Decimal(s["totals"]["BilledCost"]) for s in costs["currencies"][0]["series"]
        ) == Decimal("1.682308713")
        cost_page = shell.echoed[-1]
        assert cost_page.endswith(f"/admin/tenants/tenant/{TENANT}/overview/")

        get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
        with chromium_page() as page:
            base = live_server.url
            page.goto(f"{base}/admin/login/?next=/admin/")
            page.fill("#id_username", "staff")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#dashboard")
            page.screenshot(path=str(_artifact("walkthrough-1-dashboard")), full_page=True)
            page.click(f"#cost-page-{TENANT}")
            page.wait_for_selector("#tenant-costs svg.chart")
            assert page.url.endswith(cost_page.split(":" + walkthrough_settings, 1)[1])
            costs_text = page.inner_text("#tenant-costs h2")
            assert "2023-10-16 to 2023-11-14" in costs_text, costs_text
            assert page.locator("#tenant-costs svg.chart rect.column").count() == 14
            page.screenshot(path=str(_artifact("walkthrough-2-cost-page")), full_page=True)
            page.check("input[name=range][value=month]")
            page.fill("#cost-month", "2023-11")
            page.click("#cost-range-submit")
            page.wait_for_selector("#tenant-costs svg.chart")
            assert "2023-11-01 to 2023-11-30" in page.inner_text("#tenant-costs h2")
            assert page.locator("#tenant-costs svg.chart rect.column").count() == 14
            page.screenshot(path=str(_artifact("walkthrough-3-cost-month")), full_page=True)

            page.goto(f"{base}/admin/pipelines/pipelinerun/{run_id}/change/")
            page.wait_for_selector("#run-progress")
            assert page.inner_text("#run-id") == run_id
            assert page.inner_text("#run-status") == "COMPLETED"
            assert page.inner_text("#run-progress-text") == "6 of 6 steps done"
            assert page.inner_text("#run-rows") == "1281"
            badges = page.locator("#run-steps .status-badge").all_inner_texts()
            assert badges == ["COMPLETED"] * 5 + ["SKIPPED"], badges
            page.screenshot(path=str(_artifact("walkthrough-4-run")), full_page=True)
    finally:
        warehouse.dataset_delete(tenant_dataset_id(TENANT))


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_the_walkthrough_is_read_from_the_readme():
    """The parser finds the walk-through's commands and their printed lines."""
    steps = dict(walkthrough_steps())
    signup = next(c for c in steps if c.startswith(".venv/bin/python manage.py stripe_send_event"))
    assert "--tenant-id acme_corp" in signup
    assert any(line.startswith("processed: Tenant acme_corp onboarded") for line in steps[signup])
    assert "KEY=$(.venv/bin/python manage.py emails --api-key acme_corp)" in steps
