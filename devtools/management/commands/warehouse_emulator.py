"""Run the local BigQuery emulator in the foreground, persistent under the var directory.

The emulator (``bqemulator``) is this command's child: a SIGTERM, SIGINT or SIGHUP to the
command stops it too, and on Linux it is also told to stop if the command dies any other way,
so no orphan keeps holding the port.
"""

import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.emulator import EmulatorError, emulator_start, emulator_wait

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum, frame) -> None:
    raise _Stop(signal.Signals(signum).name)


class Command(BaseCommand):
    help = "Start the BigQuery emulator on WAREHOUSE_ENDPOINT's port; data kept in var/bqemulator."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=str(Path(settings.VAR_DIR) / "bqemulator"))

    def handle(self, *args, data_dir: str, **options):
        endpoint = settings.WAREHOUSE_ENDPOINT
        parsed = urlparse(endpoint)
        if parsed.hostname not in {"127.0.0.1", "localhost"} or not parsed.port:
            raise CommandError(f"WAREHOUSE_ENDPOINT {endpoint!r} is not a local emulator address")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", parsed.port)) == 0:
                raise CommandError(
                    f"Port {parsed.port} is already in use (another emulator?). Stop it, or set "
                    "WAREHOUSE_ENDPOINT to a free port."
                )
        # Signals that arrive while the emulator starts must stop it as well.
        previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
        process: subprocess.Popen | None = None
        try:
            process = emulator_start(
                project=settings.WAREHOUSE_PROJECT,
                rest_port=parsed.port,
                data_dir=Path(data_dir),
                die_with_parent=True,
            )
            emulator_wait(endpoint, process=process)
            self.stdout.write(f"BigQuery emulator ready at {endpoint} (data in {data_dir})")
            self.stdout.flush()
            code = process.wait()
            if code:
                raise CommandError(f"bqemulator exited with code {code}")
        except _Stop as stop:
            self.stdout.write(f"Stopping the BigQuery emulator ({stop}).")
        except EmulatorError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if process is not None:
                _terminate(process)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
