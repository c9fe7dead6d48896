"""Run the local BigQuery emulator in the foreground, persistent under the var directory."""

import socket
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pipelines.emulator import EmulatorError, emulator_start, emulator_wait


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
        try:
            process = emulator_start(
                project=settings.WAREHOUSE_PROJECT,
                rest_port=parsed.port,
                grpc_port=parsed.port + 10,
                data_dir=Path(data_dir),
            )
            emulator_wait(endpoint, process=process)
        except EmulatorError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"BigQuery emulator ready at {endpoint} (data in {data_dir})")
        try:
            process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=10)
