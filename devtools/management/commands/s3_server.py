"""Run the local S3 + STS server (moto) in the foreground on S3_ENDPOINT_URL's port.

The server is this command's child: a SIGTERM, SIGINT or SIGHUP to the command stops it too,
and on Linux it is also told to stop if the command dies any other way, so no orphan keeps
holding the port. moto keeps buckets in memory (large objects spooled under ``--data-dir``):
what the walk-through puts there is gone after a restart.
"""

import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.object_stores import (
    ObjectStoreServerError,
    s3_server_start,
    s3_server_stop,
    s3_server_wait,
)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum, frame) -> None:
    raise _Stop(signal.Signals(signum).name)


class Command(BaseCommand):
    help = "Start the local S3 + STS server (moto) on S3_ENDPOINT_URL's port."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=str(Path(settings.VAR_DIR) / "s3"))

    def handle(self, *args, data_dir: str, **options):
        endpoint = settings.S3_ENDPOINT_URL
        parsed = urlparse(endpoint)
        if parsed.hostname not in {"127.0.0.1", "localhost"} or not parsed.port:
            raise CommandError(f"S3_ENDPOINT_URL {endpoint!r} is not a local server address")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", parsed.port)) == 0:
                raise CommandError(
                    f"Port {parsed.port} is already in use (another S3 server?). Stop it, or set "
                    "S3_ENDPOINT_URL to a free port."
                )
        previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
        process: subprocess.Popen | None = None
        try:
            process = s3_server_start(
                port=parsed.port, data_dir=Path(data_dir), die_with_parent=True
            )
            s3_server_wait(endpoint, process=process)
            self.stdout.write(f"S3 + STS server (moto) ready at {endpoint} (in memory)")
            self.stdout.flush()
            code = process.wait()
            if code:
                raise CommandError(f"moto's server exited with code {code}")
        except _Stop as stop:
            self.stdout.write(f"Stopping the S3 server ({stop}).")
        except ObjectStoreServerError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            # A second stop signal (make forwards one, the terminal sends another) must not
            # break off the stop and leave the server behind.
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            if process is not None:
                s3_server_stop(process)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
