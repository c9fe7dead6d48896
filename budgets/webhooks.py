"""The adapter for tenants' webhook receivers: which URLs may be called, and one signed POST.

A webhook URL is the tenant's, so it must not reach the platform's own network (SSRF): its host
must resolve only to public addresses (not private, loopback, link-local, multicast, reserved
or otherwise not globally routable), and it must use https unless ``WEBHOOK_HTTPS_ONLY`` is off
(local development and tests). The check runs when the URL is registered and again before each
delivery, whose connection goes to the very address that was checked, so a host name that
resolves elsewhere later (DNS rebinding) cannot redirect it. Redirects are not followed.
``WEBHOOK_ALLOW_PRIVATE_HOSTS`` lists networks exempted (the tests' local receiver).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

TIMEOUT_SECONDS = 10
RESPONSE_BYTES = 64 * 1024
NOT_PUBLIC = "private, loopback, link-local, multicast or reserved"


class WebhookUrlRefused(ValueError):
    """The URL may not be called: the message says why, naming nothing of the network."""


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect (``address``) and what to ask for there."""

    scheme: str
    host: str
    port: int
    target: str
    address: str


def address_refusal(address: str) -> str:
    """Why this IP address is not a public one ("" if it is public)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    return "" if ip.is_global else "non-public"


def _exempt(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(
        ip in ipaddress.ip_network(network, strict=False)
        for network in settings.WEBHOOK_ALLOW_PRIVATE_HOSTS
    )


def _resolve(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(info[4][0] for info in found))


def destination_check(url: str) -> Destination:
    """The URL's destination if it may be called now; WebhookUrlRefused naming why not."""
    parts = urllib.parse.urlsplit(url)
    allowed = ("https",) if settings.WEBHOOK_HTTPS_ONLY else ("https", "http")
    if parts.scheme not in allowed:
        raise WebhookUrlRefused(f"The webhook URL must use {' or '.join(allowed)}.")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRefused("The webhook URL must not carry a user name or password.")
    host = parts.hostname
    if not host:
        raise WebhookUrlRefused("The webhook URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookUrlRefused("The webhook URL's port is not a valid port.") from None
    literal = True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        literal = False
    addresses = _resolve(host, port)
    if not addresses:
        raise WebhookUrlRefused(f"The webhook URL's host {host} does not resolve.")
    for address in addresses:
        reason = address_refusal(address)
        if reason and not _exempt(address):
            if literal:
                article = "an" if reason[0] in "aeiou" else "a"
                raise WebhookUrlRefused(
                    f"The webhook URL's host {host} is {article} {reason} address; "
                    "webhooks must reach a public address."
                )
            raise WebhookUrlRefused(
                f"The webhook URL's host {host} resolves to an address that is not public "
                f"({NOT_PUBLIC}); webhooks must reach a public address."
            )
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return Destination(parts.scheme, host, port, target, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked address; the Host header still names the URL's host."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address = destination.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate must be valid for the URL's host."""

    def __init__(
        self, destination: Destination, timeout: float, context: ssl.SSLContext | None
    ) -> None:
        super().__init__(
            destination.host,
            destination.port,
            timeout=timeout,
            context=context or ssl.create_default_context(),
        )
        self._address = destination.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def webhook_post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float = TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """POST ``body`` to the URL after checking it again; the answer's status code.

    Raises WebhookUrlRefused if the URL may not be called now, OSError (and
    ``http.client.HTTPException``) if the receiver cannot be reached or answers nonsense.
    """
    destination = destination_check(url)
    if destination.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(
            destination, timeout, ssl_context
        )
    else:
        connection = _PinnedHTTPConnection(destination, timeout)
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
