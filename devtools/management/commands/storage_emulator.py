"""Run a local object store in the foreground, persistent under the var directory: Azurite (Azure
Blob Storage, at AZURE_BLOB_ENDPOINT) or the Cloud Storage emulator (at STORAGE_ENDPOINT).

The server is this command's child and stops with it, as the BigQuery emulator's command does.
"""

import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.azurite import AzuriteError, azurite_start, azurite_wait
from devtools.gcs_emulator import GcsEmulatorError, gcs_emulator_start, gcs_emulator_wait
from devtools.management.commands.warehouse_emulator import (
    STOP_SIGNALS,
    _raise_stop,
    _Stop,
    _terminate,
)

SERVICES = {
    "azurite": ("Azurite", "AZURE_BLOB_ENDPOINT", "azurite"),
    "gcs": ("Cloud Storage emulator", "STORAGE_ENDPOINT", "gcs"),
}


class Command(BaseCommand):
    help = "Start Azurite or the Cloud Storage emulator on its endpoint's port; data in var/."

    def add_arguments(self, parser):
        parser.add_argument("service", choices=sorted(SERVICES))

    def handle(self, *args, service: str, **options):
        name, setting, folder = SERVICES[service]
        endpoint = getattr(settings, setting)
        parsed = urlparse(endpoint)
        if parsed.hostname not in {"127.0.0.1", "localhost"} or not parsed.port:
            raise CommandError(f"{setting} {endpoint!r} is not a local address")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", parsed.port)) == 0:
                raise CommandError(
                    f"Port {parsed.port} is already in use. Stop that process, or set {setting} "
                    "to a free port."
                )
        data_dir = Path(settings.VAR_DIR) / folder
        base = f"http://127.0.0.1:{parsed.port}"
        previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
        process: subprocess.Popen | None = None
        try:
            if service == "azurite":
                process = azurite_start(port=parsed.port, location=data_dir, die_with_parent=True)
                azurite_wait(base, process=process)
            else:
                process = gcs_emulator_start(
                    port=parsed.port, data_dir=data_dir, die_with_parent=True
                )
                gcs_emulator_wait(base, process=process)
            self.stdout.write(f"{name} ready at {endpoint} (data in {data_dir})")
            self.stdout.flush()
            code = process.wait()
            if code:
                raise CommandError(f"{name} exited with code {code}")
        except _Stop as stop:
            self.stdout.write(f"Stopping: {name} ({stop}).")
        except (AzuriteError, GcsEmulatorError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if process is not None:
                _terminate(process)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
