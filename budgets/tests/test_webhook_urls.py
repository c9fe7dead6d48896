"""The SSRF guard on alert webhooks: public hosts only, https in production, checked again at
delivery (DNS rebinding), and the connection pinned to the address that was checked."""

import datetime as dt
import http.server
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from budgets.admin import WebhookEndpointForm
from budgets.models import WebhookDelivery, WebhookEndpoint
from budgets.services.alerts import WebhookFailed, webhook_deliver, webhook_set
from budgets.signing import HEADER, signature_verify
from budgets.webhooks import WebhookUrlRefused, destination_check, webhook_post
from tenants.models import AuditEvent
from tenants.services.audit import Actor
from tenants.tests.conftest import key_client

PUBLIC = "93.184.215.14"


@pytest.fixture
def strict(settings):
    """The guard as in production: no exempted network, https only."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    settings.WEBHOOK_HTTPS_ONLY = True
    return settings


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://127.0.0.1:8443/hook", "127.0.0.1 is a loopback address"),
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/hook", "is a loopback address"),
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("https://192.168.0.10/hook", "is a private address"),
        ("https://169.254.169.254/latest/meta-data", "is a link-local address"),
        ("https://[fe80::1]/hook", "is a link-local address"),
        ("https://224.0.0.1/hook", "is a multicast address"),
        ("https://0.0.0.0/hook", "is an unspecified address"),
        ("https://100.64.0.1/hook", "is a non-public address"),
        ("https://localhost/hook", "resolves to an address that is not public"),
        ("https://intranet.example.com/hook", "resolves to an address that is not public"),
        ("https://split.example.com/hook", "resolves to an address that is not public"),
        ("https://nowhere.invalid/hook", "does not resolve"),
        ("https://user:pw@hooks.example.com/hook", "must not carry a user name or password"),
        (f"http://{PUBLIC}/hook", "must use https"),
    ],
)
def test_put_refuses_urls_that_reach_no_public_host(onboard, strict, dns, url, problem):
    """400 with a detail naming the problem, nothing stored, nothing audited; a host name's
    private address is never echoed back to the tenant."""
    dns["intranet.example.com"] = ["10.20.30.40"]
    dns["split.example.com"] = [PUBLIC, "172.16.5.5"]  # one private address is enough
    dns["hooks.example.com"] = [PUBLIC]
    onboarded = onboard()
    client = key_client(onboarded.api_key)

    response = client.put(
        f"/api/v1/tenants/{onboarded.tenant.pk}/webhook", {"url": url}, format="json"
    )

    assert response.status_code == 400, response.content
    detail = str(response.json())
    assert problem in detail
    assert "10.20.30.40" not in detail and "172.16.5.5" not in detail
    assert not WebhookEndpoint.objects.filter(tenant=onboarded.tenant).exists()
    assert not AuditEvent.objects.filter(action="webhook.set").exists()


def test_a_public_https_url_is_accepted(onboard, strict, dns):
    """A host that resolves to public addresses only, over https, is stored."""
    dns["hooks.example.com"] = [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    onboarded = onboard()
    client = key_client(onboarded.api_key)
    response = client.put(
        f"/api/v1/tenants/{onboarded.tenant.pk}/webhook",
        {"url": "https://hooks.example.com/convergence"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert WebhookEndpoint.objects.get(tenant=onboarded.tenant).url.endswith("/convergence")


def test_exempted_network_and_plain_http_are_settings(settings):
    """Only the networks WEBHOOK_ALLOW_PRIVATE_HOSTS names are exempted; http only when
    WEBHOOK_HTTPS_ONLY is off (tests, local development)."""
    settings.WEBHOOK_HTTPS_ONLY = False
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    assert destination_check("http://127.0.0.1:9/x").address == "127.0.0.1"
    with pytest.raises(WebhookUrlRefused, match=r"127\.0\.0\.2 is a loopback address"):
        destination_check("http://127.0.0.2:9/x")
    settings.WEBHOOK_HTTPS_ONLY = True
    with pytest.raises(WebhookUrlRefused, match="must use https"):
        destination_check("http://127.0.0.1:9/x")


def test_admin_form_refuses_a_private_url(strict):
    """Staff editing a webhook in the admin get the same refusal."""
    form = WebhookEndpointForm(data={"url": "https://169.254.169.254/latest"})
    assert not form.is_valid()
    assert "link-local" in str(form.errors["url"])


def _hooks_delivery(onboard, receiver, *, path: str, body: str):
    """A delivery to hooks.example.com on the receiver's port, registered as it resolves now."""
    endpoint, secret = webhook_set(
        tenant=onboard().tenant,
        url=f"http://hooks.example.com:{receiver.server.server_address[1]}{path}",
        actor=Actor.system("test"),
    )
    return WebhookDelivery.objects.create(endpoint=endpoint, event="test", body=body), secret


def test_delivery_rechecks_the_host_and_refuses_a_rebound_name(onboard, dns, receiver, settings):
    """Registered while the name was public; at delivery it resolves to loopback (DNS
    rebinding): nothing is sent, the attempt is logged as refused and retried later."""
    dns["hooks.example.com"] = [PUBLIC]
    delivery, _ = _hooks_delivery(onboard, receiver, path="/hook", body="{}")
    dns["hooks.example.com"] = ["127.0.0.1"]
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []

    with pytest.raises(WebhookFailed, match="refused"):
        webhook_deliver(delivery=delivery)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_error.startswith("refused: The webhook URL's host hooks.example.com")
    assert delivery.last_status_code is None
    assert receiver.requests == []
    assert receiver.fail == 1  # not even the refusing first answer was asked for


def test_delivery_connects_to_the_checked_address(onboard, dns, receiver):
    """The connection goes to the address the check resolved (the name has no real DNS
    entry), with the URL's host in the Host header; the signed body arrives."""
    dns["hooks.example.com"] = ["127.0.0.1"]
    port = receiver.server.server_address[1]
    delivery, secret = _hooks_delivery(onboard, receiver, path="/hook?tenant=1", body='{"a": 1}')
    with pytest.raises(WebhookFailed, match="HTTP 503"):  # the receiver refuses the first
        webhook_deliver(delivery=delivery)
    webhook_deliver(delivery=delivery)

    headers, body = receiver.wait_for(1)[0]
    assert headers["Host"] == f"hooks.example.com:{port}"
    assert signature_verify(secret=secret, body=body, header=headers[HEADER])
    assert delivery.status == WebhookDelivery.Status.DELIVERED


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names hooks.example.com."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example.com")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], ssl.create_default_context(cafile=str(cert_path)), hosts
    server.shutdown()
    server.server_close()


def test_https_delivery_is_pinned_and_verifies_the_certificate_for_the_host(
    strict, dns, tls_receiver, settings
):
    """Over https the pinned connection still checks the certificate against the URL's host
    (SNI and hostname verification): the right name is delivered, another name is refused."""
    port, trust, hosts = tls_receiver
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    dns["hooks.example.com"] = ["127.0.0.1"]
    dns["other.example.com"] = ["127.0.0.1"]

    status = webhook_post(
        f"https://hooks.example.com:{port}/hook", body=b"{}", headers={}, ssl_context=trust
    )
    assert status == 204
    assert hosts == [f"hooks.example.com:{port}"]
    with pytest.raises(ssl.SSLCertVerificationError):
        webhook_post(
            f"https://other.example.com:{port}/hook", body=b"{}", headers={}, ssl_context=trust
        )


def test_a_mistyped_exempted_network_fails_the_system_check(settings):
    """Django's checks (run by `make test` and every deploy) name a bad network."""
    from budgets.apps import webhook_networks_check

    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32", "localhost"]
    errors = webhook_networks_check()
    assert [e.id for e in errors] == ["budgets.E001"]
    assert "'localhost' is not an IP network" in errors[0].msg
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32", "::1"]
    assert webhook_networks_check() == []
