"""`manage.py storage_emulator azurite|gcs` (what make run starts) never leaves its server behind
on the port, and says what it does."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

from devtools.emulator import free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal: Linux only")

SETTING = {"azurite": "AZURE_BLOB_ENDPOINT", "gcs": "STORAGE_ENDPOINT"}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait(port: int, *, up: bool, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _listening(port) == up:
            return True
        time.sleep(0.2)
    return False


def _start(service, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "convergence.settings.test",
        SETTING[service]: f"http://127.0.0.1:{port}",
        "CONVERGENCE_VAR_DIR": str(tmp_path),
    }
    wrapper = subprocess.Popen(
        [sys.executable, "manage.py", "storage_emulator", service],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # The command says it is ready once the server answers; nothing else comes before.
    assert b"ready at http://127.0.0.1:" in wrapper.stdout.readline()
    assert _listening(port)
    return wrapper, port


@pytest.mark.parametrize("service", ["azurite", "gcs"])
def test_a_sigterm_to_the_wrapper_stops_the_server(service, tmp_path):
    """SIGTERM to the wrapper (what make run sends on Ctrl-C) stops the server too, and its
    data stays under the var directory."""
    wrapper, port = _start(service, tmp_path)
    try:
        wrapper.send_signal(signal.SIGTERM)
        wrapper.wait(timeout=20)
        assert _wait(port, up=False, timeout=20), f"{service} still serves port {port}"
        assert b"(SIGTERM)" in wrapper.stdout.read()
        assert (tmp_path / service).is_dir()
    finally:
        wrapper.kill()


@pytest.mark.parametrize("service", ["azurite", "gcs"])
def test_a_killed_wrapper_takes_the_server_with_it(service, tmp_path):
    """SIGKILL cannot be handled: the kernel's parent-death signal stops the server instead."""
    wrapper, port = _start(service, tmp_path)
    wrapper.kill()
    wrapper.wait(timeout=20)
    assert _wait(port, up=False, timeout=20), f"{service} orphaned on port {port}"


def test_a_busy_port_is_named(tmp_path):
    """A port already taken: the command stops at once naming the port and the setting."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "storage_emulator", "gcs"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "convergence.settings.test",
                "STORAGE_ENDPOINT": f"http://127.0.0.1:{port}",
                "CONVERGENCE_VAR_DIR": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port} is already in use" in result.stderr
    assert "STORAGE_ENDPOINT" in result.stderr
