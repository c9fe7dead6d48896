"""One webhook delivery attempt against a real local HTTP server: recorded, signed, retried."""

import pytest

from budgets.models import WebhookDelivery
from budgets.services.alerts import WebhookFailed, webhook_deliver, webhook_set
from budgets.signing import HEADER, signature_header, signature_verify
from budgets.tests.conftest import Receiver
from tenants.services.audit import Actor


@pytest.fixture
def refusing_receiver():
    made = Receiver(fail=2)
    made.thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


def test_refused_attempts_are_logged_and_the_last_one_marks_failed(onboard, refusing_receiver):
    """A 503 raises (so the task retries) and is logged; the final refused attempt is FAILED;
    a later success delivers a body whose signature verifies."""
    tenant = onboard().tenant
    endpoint, secret = webhook_set(
        tenant=tenant, url=refusing_receiver.url, actor=Actor.system("t")
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", body='{"a": 1}')

    with pytest.raises(WebhookFailed, match="503"):
        webhook_deliver(delivery=delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
    with pytest.raises(WebhookFailed):
        webhook_deliver(delivery=delivery, final=True)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)

    delivery.status = WebhookDelivery.Status.PENDING
    webhook_deliver(delivery=delivery)
    headers, body = refusing_receiver.wait_for(1)[0]
    assert delivery.status == "delivered"
    assert body == b'{"a": 1}'
    assert signature_verify(secret=secret, body=body, header=headers[HEADER])


def test_stale_or_malformed_signatures_do_not_verify():
    """A signature older than the tolerance, or one without its fields, is refused."""
    header = signature_header(secret="s", body=b"x", timestamp=1_000)
    assert signature_verify(secret="s", body=b"x", header=header, now=1_100)
    assert not signature_verify(secret="s", body=b"x", header=header, now=1_000 + 301)
    assert not signature_verify(secret="s", body=b"x", header="v1=abc")
    assert not signature_verify(secret="s", body=b"x", header="garbage")
