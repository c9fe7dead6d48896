"""`manage.py s3_server` serves moto on S3_ENDPOINT_URL's port and never leaves it behind."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

from devtools.emulator import free_port
from devtools.object_stores import s3_server_wait

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal; Linux only")


def _start(tmp_path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "convergence.settings.local",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "CONVERGENCE_VAR_DIR": str(tmp_path),
    }
    command = subprocess.Popen(
        [sys.executable, "manage.py", "s3_server"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    s3_server_wait(f"http://127.0.0.1:{port}", timeout=60)
    # The command says it is ready once its own wait sees the server, which can be a moment
    # after ours: a stop signal before that would find nothing ready to report.
    ready = command.stdout.readline()
    assert b"ready at" in ready, ready
    return command, port


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _freed(port: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _listening(port):
            return True
        time.sleep(0.2)
    return False


def test_sigterm_stops_the_server_even_twice(tmp_path):
    """SIGTERM (what make run sends on Ctrl-C), and another during the stop, frees the port."""
    command, port = _start(tmp_path)
    try:
        command.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        command.send_signal(signal.SIGTERM)
        command.wait(timeout=20)
        assert _freed(port), f"moto still serves port {port}"
        output = command.stdout.read()
        assert b"Stopping the S3 server (SIGTERM)" in output
        assert b"Traceback" not in output
    finally:
        command.kill()


def test_a_killed_command_takes_the_server_with_it(tmp_path):
    """SIGKILL cannot be handled: the kernel's parent-death signal stops moto instead."""
    command, port = _start(tmp_path)
    command.kill()
    command.wait(timeout=20)
    assert _freed(port), f"moto orphaned on port {port}"


def test_a_busy_port_is_named(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "s3_server"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "convergence.settings.local",
                "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "CONVERGENCE_VAR_DIR": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port} is already in use" in result.stderr
