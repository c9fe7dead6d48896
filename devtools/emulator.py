"""The local BigQuery emulator (bqemulator): install its offline extension, start it, await it."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class EmulatorError(RuntimeError):
    """The emulator could not be prepared or did not start."""


def spatial_extension_install() -> None:
    """Install DuckDB's spatial extension from its PyPI wheel; the emulator cannot download it."""
    import duckdb
    import duckdb_extension_spatial

    files = list(Path(duckdb_extension_spatial.__file__).parent.rglob("*.duckdb_extension"))
    if not files:
        raise EmulatorError("duckdb-extension-spatial ships no extension file")
    conn = duckdb.connect()
    try:
        conn.execute("LOAD spatial")
    except duckdb.Error:
        conn.execute(f"INSTALL '{files[0]}'")
        conn.execute("LOAD spatial")
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emulator_start(
    *,
    project: str,
    rest_port: int,
    grpc_port: int | None = None,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    die_with_parent: bool = False,
) -> subprocess.Popen:
    """Start bqemulator in the background; persistent when ``data_dir`` is given.

    ``die_with_parent`` (Linux): the kernel sends it SIGTERM when the calling thread ends, so
    a killed parent leaves no orphan on the port. Only for a caller's main thread.
    """
    spatial_extension_install()
    if importlib.util.find_spec("bqemulator") is None:
        raise EmulatorError("bqemulator is not installed (pip install -r requirements-dev.txt)")
    # Through the fixes module: it mends the emulator's gaps, then runs its command line.
    command = [
        sys.executable,
        "-m",
        "devtools.emulator_fixes",
        "start",
        "--project",
        project,
        "--rest-port",
        str(rest_port),
        "--grpc-port",
        str(grpc_port or free_port()),
        "--log-level",
        "warning",
    ]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        command += ["--persistent", "--data-dir", str(data_dir)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(  # noqa: S603
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
        preexec_fn=_parent_death_signal if die_with_parent and sys.platform == "linux" else None,
    )


def _parent_death_signal() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent dies (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def emulator_wait(endpoint: str, *, process: subprocess.Popen | None = None, timeout: float = 60):
    """Block until the emulator answers HTTP, or raise EmulatorError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmulatorError(f"bqemulator exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{endpoint}/bigquery/v2/projects/p/datasets", timeout=1)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.2)
    raise EmulatorError(f"bqemulator did not answer at {endpoint} within {timeout:.0f}s")
