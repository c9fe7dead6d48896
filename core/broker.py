"""Celery brokers: kombu's SQLAlchemy transport made safe on a fresh database (the zero-setup
default), and kombu's Redis transport without a new client per message.

kombu creates its tables and one ``kombu_queue`` row per queue on first use, guarded only by
a lock inside the process. Several processes starting together on a fresh SQLite file (the web
server, the worker and beat of ``make run``, or concurrent webhook deliveries) raced: the loser
got ``IntegrityError: UNIQUE constraint failed: kombu_queue.name``, a 500 for a web request and
an unrecoverable error for the worker. Here "another process created it first" is success.

kombu's Redis channel makes a new ``redis.Redis`` for every message it publishes, and redis-py
builds its table of some 170 response callbacks in each: a sixth of the Celery publish, which
is a fifth of an API run trigger's CPU. Here the channel keeps one client per connection pool
(a client is safe to share; the pool under it is the same either way).
"""

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy.exc import IntegrityError, OperationalError

ALIAS = "sqla"
TABLES = 2  # kombu_queue, kombu_message


class Channel(kombu_sqlalchemy.Channel):
    def _get_or_create(self, queue):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            # Another process inserted the queue between our look-up and our insert.
            self.session.rollback()
            return self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).one()

    def _put(self, queue, payload, **kwargs):
        try:
            return super()._put(queue, payload, **kwargs)
        except OperationalError:
            # "database is locked" at commit leaves the insert pending in the session; Celery
            # then retries the publish, and without this rollback both copies would commit.
            self.session.rollback()
            raise

    def _open(self):
        # Another process may create a table between the existence check and ours (once per
        # table at most); each retry checks again and finds more of them there.
        for _ in range(TABLES):
            try:
                return super()._open()
            except OperationalError as exc:
                if "already exists" not in str(exc):
                    raise
        return super()._open()


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel


class RedisChannel(kombu_redis.Channel):
    def _create_client(self, asynchronous=False):
        if asynchronous:  # the consumer's client, made once per channel by kombu already
            return super()._create_client(asynchronous=True)
        pool = self.pool  # made anew after a fork, so the client is too
        shared = self.__dict__.get("_shared_client")
        if shared is None or shared[0] is not pool:
            shared = self._shared_client = (pool, super()._create_client())
        return shared[1]


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


def register() -> None:
    """Make ``sqla+…`` and ``redis://`` broker URLs use these transports (called when the
    Celery app loads)."""
    TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:RedisTransport"
