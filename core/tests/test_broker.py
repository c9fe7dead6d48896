"""The default SQLite broker on a fresh file: processes starting together never fail."""

import multiprocessing
import os
import uuid

import pytest
from kombu import Connection

import convergence.celery  # noqa: F401  (registers the broker transport, as every process does)
from core.broker import RedisTransport, Transport

PROCESSES = 8


def _publish(url: str, barrier, results) -> None:
    try:
        barrier.wait(timeout=30)
        with Connection(url) as conn:
            conn.SimpleQueue("celery").put({"hello": "world"})
        results.put("ok")
    except Exception as exc:  # reported by the parent's assertion
        results.put(f"{type(exc).__name__}: {exc}")


def _race(url: str) -> list[str]:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_publish, args=(url, barrier, results)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    return outcomes


def test_sqla_urls_use_the_race_free_transport(tmp_path):
    with Connection(f"sqla+sqlite:///{tmp_path / 'b.sqlite3'}") as conn:
        assert isinstance(conn.transport, Transport)


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_first_publishes_on_a_fresh_broker_all_succeed(tmp_path, attempt):
    """Eight processes publish at once to a broker file that does not exist yet: each creates
    the tables and the queue row or finds them; none fails (kombu alone raised
    ``IntegrityError: UNIQUE constraint failed: kombu_queue.name`` for the losers)."""
    url = f"sqla+sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert _race(url) == ["ok"] * PROCESSES
    with Connection(url) as conn:
        assert conn.SimpleQueue("celery").qsize() == PROCESSES


def test_redis_broker_publishes_through_one_client_per_pool():
    """On Redis, messages go through kombu's transport with one client per connection pool
    (not one per message); after a fork's pool reset the channel makes a new one."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("needs Redis: set CELERY_BROKER_URL=redis://... (the CI run does)")
    queue_name = f"test-broker-{uuid.uuid4().hex[:8]}"
    with Connection(url) as conn:
        assert isinstance(conn.transport, RedisTransport)
        channel = conn.default_channel
        assert channel._create_client() is channel._create_client()
        queue = conn.SimpleQueue(queue_name)
        for n in range(3):
            queue.put({"n": n})
        assert [queue.get(timeout=5).payload["n"] for _ in range(3)] == [0, 1, 2]
        before = channel._create_client()
        channel._disconnect_pools()
        assert channel._create_client() is not before
        queue.put({"n": 3})
        assert queue.get(timeout=5).payload == {"n": 3}
        queue.queue.delete()
        queue.close()
