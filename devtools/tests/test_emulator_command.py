"""`manage.py warehouse_emulator` never leaves its bqemulator child behind on the port."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from devtools.emulator import emulator_wait, free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; Linux only")


def _emulators_on(port: int) -> list[int]:
    """Pids of bqemulator processes serving this REST port (run through its fixes module)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        emulator = any(
            a.endswith(b"bqemulator") or a == b"devtools.emulator_fixes" for a in args[:3]
        )
        if emulator and str(port).encode() in args:
            found.append(int(entry.name))
    return found


def _start(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "convergence.settings.test",
        "WAREHOUSE_ENDPOINT": f"http://127.0.0.1:{port}",
    }
    wrapper = subprocess.Popen(
        [sys.executable, "manage.py", "warehouse_emulator", "--data-dir", str(tmp_path / "bq")],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    emulator_wait(f"http://127.0.0.1:{port}", timeout=90)
    assert _emulators_on(port), "the emulator child did not start"
    return wrapper, port


def _gone(port: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _emulators_on(port):
            return True
        time.sleep(0.2)
    return False


def test_a_sigterm_to_the_wrapper_stops_the_emulator(tmp_path):
    """SIGTERM to the wrapper (what make run sends on Ctrl-C) stops bqemulator too."""
    wrapper, port = _start(tmp_path)
    try:
        wrapper.send_signal(signal.SIGTERM)
        wrapper.wait(timeout=20)
        assert _gone(port), f"bqemulator still serves port {port}"
        assert b"Stopping the BigQuery emulator" in wrapper.stdout.read()
    finally:
        for pid in _emulators_on(port):
            os.kill(pid, signal.SIGKILL)


def test_a_killed_wrapper_takes_the_emulator_with_it(tmp_path):
    """SIGKILL cannot be handled: the kernel's parent-death signal stops the child instead."""
    wrapper, port = _start(tmp_path)
    try:
        wrapper.kill()
        wrapper.wait(timeout=20)
        assert _gone(port), f"bqemulator orphaned on port {port}"
    finally:
        for pid in _emulators_on(port):
            os.kill(pid, signal.SIGKILL)
