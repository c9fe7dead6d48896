"""Azurite, the local Azure Blob Storage server (a Node.js package, ``npm ci`` installs it):
find it, start it, await it."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.emulator import _parent_death_signal

ROOT = Path(__file__).resolve().parents[1]
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite-blob"
#: Azurite's well-known development account and key (public, in Microsoft's docs).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
INSTALL_HINT = "install Node.js 18+ and run `npm ci` in the repository"


class AzuriteError(RuntimeError):
    """Azurite is not installed or did not start."""


def azurite_command() -> list[str]:
    """The command that runs Azurite's blob server, or AzuriteError naming what is missing."""
    if shutil.which("node") is None:
        raise AzuriteError(f"Node.js is not installed, so Azurite cannot run: {INSTALL_HINT}")
    if not AZURITE_BIN.exists():
        raise AzuriteError(
            f"Azurite is not installed (no {AZURITE_BIN.relative_to(ROOT)}): run `npm ci`"
        )
    return [str(AZURITE_BIN)]


def azurite_account_url(port: int, account: str = ACCOUNT) -> str:
    """The blob endpoint of ``account`` on a local Azurite (accounts go in the path)."""
    return f"http://127.0.0.1:{port}/{account}"


def azurite_start(
    *,
    port: int,
    location: Path,
    log_path: Path | None = None,
    die_with_parent: bool = False,
    accounts: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> subprocess.Popen:
    """Start Azurite's blob server in the background on 127.0.0.1:``port``, its data under
    ``location``. ``accounts`` (name → base64 key) replaces the development account.
    ``tls`` (certificate, key PEM files): serve HTTPS and accept Microsoft Entra ID bearer
    tokens (``--oauth basic``: issuer, audience and lifetime are checked, not the signature)."""
    command = azurite_command()
    location.mkdir(parents=True, exist_ok=True)
    env = None
    if accounts:
        env = {**os.environ, "AZURITE_ACCOUNTS": ";".join(f"{n}:{k}" for n, k in accounts.items())}
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(  # noqa: S603
        [
            *command,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            # The SDK in requirements.txt may speak a newer API version than this Azurite.
            "--skipApiVersionCheck",
            "--loose",
            "--disableProductStyleUrl",
            "--disableTelemetry",
            *(["--oauth", "basic", "--cert", str(tls[0]), "--key", str(tls[1])] if tls else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=env,
        preexec_fn=_parent_death_signal if die_with_parent and sys.platform == "linux" else None,
    )


def azurite_wait(
    endpoint: str,
    *,
    process: subprocess.Popen | None = None,
    timeout: float = 30,
    cafile: Path | None = None,
) -> None:
    """Block until Azurite answers at ``endpoint`` (HTTPS: trusting ``cafile``), or raise
    AzuriteError."""
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AzuriteError(f"Azurite exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{endpoint}?comp=list", timeout=1, context=context)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # an answer (403 without credentials) means it is up
        except OSError:
            time.sleep(0.2)
    raise AzuriteError(f"Azurite did not answer at {endpoint} within {timeout:.0f}s")
