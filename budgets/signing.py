"""Webhook signatures: HMAC-SHA256 over ``{timestamp}.{body}`` with the tenant's secret.

A receiver checks ``Convergence-Signature: t=<unix seconds>,v1=<hex digest>`` by recomputing
the digest over the timestamp, a dot and the raw body, comparing in constant time, and refusing
a timestamp older than its tolerance (replays). ``signature_verify`` is that method.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Convergence-Signature"
TOLERANCE_SECONDS = 300


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def signature_verify(
    *,
    secret: str,
    body: bytes,
    header: str,
    now: int | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and is no older than ``tolerance``."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=timestamp).split("v1=")[1]
    return hmac.compare_digest(expected, given)
