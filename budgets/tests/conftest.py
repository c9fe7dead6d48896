"""Fixtures for the budgets tests: onboarded tenants, FOCUS rows, a real HTTP receiver."""

import datetime as dt
import http.server
import json
import threading

import pytest

from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401


def focus_days_write(
    warehouse, dataset_id: str, *, start, end, daily: float, table="aws_cost_focus"
):
    """A FOCUS table with one AWS EC2 line costing ``daily`` on each day from start to end."""
    warehouse.query(
        f"""CREATE OR REPLACE TABLE {warehouse.quoted(dataset_id, table)} AS
SELECT TIMESTAMP(d) AS ChargePeriodStart, 'Usage' AS ChargeCategory, 'AWS' AS ProviderName,
  'Amazon Elastic Compute Cloud' AS ServiceName, '111122223333' AS SubAccountId,
  'eu-west-1' AS RegionId, 'i-0abc' AS ResourceId, 'SKU1' AS SkuId,
  PARSE_JSON('{{"team": "data"}}') AS Tags,
  CAST(@daily AS NUMERIC) AS BilledCost, CAST(@daily AS NUMERIC) AS EffectiveCost
FROM UNNEST(GENERATE_DATE_ARRAY(@start, @end)) AS d""",
        {"start": start, "end": end, "daily": daily},
    )


class Receiver:
    """A local HTTP server in a thread that records each POST; the first ``fail`` get 503."""

    def __init__(self, fail: int = 0) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.fail = fail
        self.received = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.received:
                    if receiver.fail > 0:
                        receiver.fail -= 1
                        self.send_response(503)
                    else:
                        receiver.requests.append((dict(self.headers), body))
                        self.send_response(204)
                        receiver.received.notify_all()
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/convergence"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[dict, bytes]]:
        with self.received:
            self.received.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
        return list(self.requests)

    def payloads(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver():
    made = Receiver(fail=1)
    made.thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


MARCH = dt.date(2024, 3, 1)


@pytest.fixture
def dns(monkeypatch):
    """Host names resolved as the test says (this machine has no public DNS); others as usual.

    ``dns["hooks.example.com"] = ["93.184.215.14"]``; change an entry to rebind the name."""
    from budgets import webhooks

    names: dict[str, list[str]] = {}
    real = webhooks._resolve
    monkeypatch.setattr(
        webhooks, "_resolve", lambda host, port: names[host] if host in names else real(host, port)
    )
    return names


SPIKE_RESOURCE = "i-0spike"


def spiked_history(warehouse, onboarded, *, start, end, spike_day, daily=20.0, spike=200.0):
    """The tenant's FOCUS table with ``daily`` EC2 cost every day from start to end and one
    resource adding ``spike`` on ``spike_day``; then the shipped anomaly step runs on it (the
    real detection SQL), recorded as a completed run with its step, as the engine records it.
    Returns the step's details."""
    from django.utils import timezone

    from pipelines.configs import pipeline_config_get
    from pipelines.models import PipelineRun, RunStatus, StepRun, StepStatus
    from pipelines.processors import StepContext, processor_for

    dataset = onboarded.dataset_id
    focus_days_write(warehouse, dataset, start=start, end=end, daily=daily)
    warehouse.query(
        f"""INSERT INTO {warehouse.quoted(dataset, "aws_cost_focus")}
  (ChargePeriodStart, ChargeCategory, ProviderName, ServiceName, SubAccountId, RegionId,
   ResourceId, SkuId, Tags, BilledCost, EffectiveCost)
VALUES (TIMESTAMP(@day), 'Usage', 'AWS', 'Amazon Elastic Compute Cloud', '111122223333',
  'eu-west-1', @resource, 'SKU1', PARSE_JSON('{{"team": "data"}}'),
  CAST(@spike AS NUMERIC), CAST(@spike AS NUMERIC))""",
        {"day": spike_day, "resource": SPIKE_RESOURCE, "spike": spike},
    )
    config = pipeline_config_get("aws", "cost", "focus")
    step = next(s for s in config.steps if s.ps_type == "focus.anomalies")
    now = timezone.now()
    run = PipelineRun.objects.create(
        tenant=onboarded.tenant,
        provider="aws",
        domain="cost",
        pipeline="focus",
        pipeline_id=config.pipeline_id_for(onboarded.tenant.pk),
        status=RunStatus.COMPLETED,
        holds_slot=False,
        started_at=now,
        ended_at=now,
    )
    context = StepContext.for_run(run, config, warehouse=warehouse)
    result = processor_for(step).run(context.for_step(step))
    StepRun.objects.create(
        run=run,
        index=config.steps.index(step),
        step_id=step.step_id,
        ps_type=step.ps_type,
        status=StepStatus.COMPLETED,
        started_at=now,
        ended_at=timezone.now(),
        details=result.details,
    )
    return result.details


JULY_SPIKE = dt.date(2024, 7, 9)


def spiked_and_budgeted(warehouse, onboarded, *, thresholds: list[dict]):
    """May 1 to July 10 at 20 a day with a +200 spike on July 9, detected as the shipped step
    does; a 600 monthly budget with these thresholds, evaluated. Returns the budget and the
    alerts raised."""
    from decimal import Decimal

    from budgets.services.budgets import budget_create, budgets_evaluate
    from tenants.services.audit import Actor

    details = spiked_history(
        warehouse,
        onboarded,
        start=dt.date(2024, 5, 1),
        end=dt.date(2024, 7, 10),
        spike_day=JULY_SPIKE,
    )
    assert details["anomalies_in_window"] == 1
    budget = budget_create(
        tenant=onboarded.tenant,
        name="cloud",
        amount=Decimal("600"),
        thresholds=thresholds,
        actor=Actor.system("test"),
    )
    return budget, budgets_evaluate(tenant_id=onboarded.tenant.pk)
