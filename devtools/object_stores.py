"""Local object stores for the export connectors: moto's server (S3 and STS; it also stands in
for OCI's S3 compatibility API), started as a subprocess on a given port and awaited."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.emulator import _parent_death_signal


class ObjectStoreServerError(RuntimeError):
    """A local object store could not be started."""


def s3_server_start(
    *,
    port: int,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    enforce_iam: bool = False,
    die_with_parent: bool = False,
) -> subprocess.Popen:
    """Start moto's server (S3, STS, IAM, ... on one port) in the background.

    moto keeps its buckets in memory: they are gone when it stops. Objects bigger than 5 MB
    are spooled to temporary files, kept under ``data_dir`` when it is given (``var/s3`` for
    `make run`) rather than the system's temp directory.

    ``enforce_iam``: every request is checked against IAM (signatures, users' and roles'
    policies), as AWS does; otherwise any key is accepted. :func:`s3_server_iam` switches it
    on a running server, after the users, roles and buckets are set up.
    """
    if importlib.util.find_spec("moto") is None:
        raise ObjectStoreServerError("moto is not installed (pip install -r requirements-dev.txt)")
    environment = dict(os.environ)
    # moto reads these itself; none of them is a real credential.
    environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "0" if enforce_iam else "inf"
    environment.pop("AWS_PROFILE", None)
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        environment["TMPDIR"] = str(data_dir)
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(  # noqa: S603
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
        preexec_fn=_parent_death_signal if die_with_parent and sys.platform == "linux" else None,
    )


def s3_server_wait(
    endpoint: str, *, process: subprocess.Popen | None = None, timeout: float = 30
) -> None:
    """Block until moto's server answers HTTP, or raise ObjectStoreServerError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ObjectStoreServerError(f"moto's server exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.1)
    raise ObjectStoreServerError(
        f"moto's server did not answer at {endpoint} within {timeout:.0f}s"
    )


def s3_server_iam(endpoint: str, *, enforce: bool) -> None:
    """Switch IAM checks on (every request from now on) or off on a running moto server."""
    request = urllib.request.Request(  # noqa: S310
        f"{endpoint}/moto-api/reset-auth",
        data=b"0" if enforce else b"inf",
        method="POST",
        # Not a form: moto reads the raw body, which a form content type would consume.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


def s3_server_reset(endpoint: str) -> None:
    """Drop every bucket, user and role the server holds."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


def s3_server_stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
