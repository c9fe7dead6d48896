"""The local Cloud Storage server (gcp-storage-emulator): start it, await it, and mend the two gaps
the adapter meets: it lists a bucket in one page (ignoring ``maxResults`` and ``pageToken``), and
serves a download whatever its ``ifGenerationMatch`` (GCS answers 412 when the object changed).

Run as ``python -m devtools.gcs_emulator --host H --port P [--data-dir D | --in-memory]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path

from gcp_storage_emulator import server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects

from devtools.emulator import _parent_death_signal

ROOT = Path(__file__).resolve().parents[1]


class GcsEmulatorError(RuntimeError):
    """The Cloud Storage emulator did not start."""


def gcs_emulator_start(
    *,
    port: int,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    die_with_parent: bool = False,
) -> subprocess.Popen:
    """Start the emulator in the background on 127.0.0.1:``port``; objects kept under
    ``data_dir`` (in memory without one)."""
    command = [sys.executable, "-m", "devtools.gcs_emulator", "--port", str(port)]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        command += ["--data-dir", str(data_dir)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(  # noqa: S603
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        preexec_fn=_parent_death_signal if die_with_parent and sys.platform == "linux" else None,
    )


def gcs_emulator_wait(
    endpoint: str, *, process: subprocess.Popen | None = None, timeout: float = 30
) -> None:
    """Block until the emulator answers HTTP, or raise GcsEmulatorError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise GcsEmulatorError(f"gcp-storage-emulator exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=1)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise GcsEmulatorError(
        f"gcp-storage-emulator did not answer at {endpoint} within {timeout:.0f}s"
    )


def _paged_ls(request, response, storage, *args, **kwargs):
    """objects.list with GCS's paging: at most ``maxResults`` items, then a ``nextPageToken``
    (here the last name returned) that the next request passes as ``pageToken``."""

    def arg(name):
        values = request.query.get(name)
        return values[0] if values else None

    try:
        files, prefixes = storage.get_file_list(
            request.params["bucket_name"], arg("prefix"), arg("delimiter"), arg("matchGlob")
        )
    except NotFound:
        response.status = HTTPStatus.NOT_FOUND
        return
    token = arg("pageToken")
    if token:
        files = [f for f in files if f["name"] > token]
    body = {"kind": "storage#objects", "prefixes": prefixes}
    limit = int(arg("maxResults") or 0)
    if limit and len(files) > limit:
        files = files[:limit]
        body["nextPageToken"] = files[-1]["name"]
    body["items"] = files
    response["Content-type"] = "application/json"
    response._content = json.dumps(body)


def _generation_checked_download(request, response, storage, *args, **kwargs):
    """objects.get?alt=media as GCS serves it: 412 when ``ifGenerationMatch`` is not the
    object's current generation."""
    wanted = request.query.get("ifGenerationMatch")
    if wanted:
        try:
            current = storage.get_file_obj(
                request.params["bucket_name"], request.params["object_id"]
            )
        except NotFound:
            response.status = HTTPStatus.NOT_FOUND
            return
        if str(current.get("generation")) != wanted[0]:
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.json({"error": {"code": 412, "message": "Precondition Failed"}})
            return
    objects.download(request, response, storage, *args, **kwargs)


def _mend() -> None:
    for _regex, handlers in server.HANDLERS:
        if handlers.get(server.GET) is objects.ls:
            handlers[server.GET] = _paged_ls
        elif handlers.get(server.GET) is objects.download:
            handlers[server.GET] = _generation_checked_download


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    _mend()
    emulator = server.create_server(
        args.host, args.port, in_memory=args.data_dir is None, data_dir=args.data_dir
    )
    print(f"gcp-storage-emulator on http://{args.host}:{args.port}", flush=True)
    emulator.run()


if __name__ == "__main__":
    main()
