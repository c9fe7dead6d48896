"""A protocol-level stand-in for Google's OAuth token endpoint, the IAM and IAM Credentials
APIs and the BigQuery REST API.

Just enough of them for the real ``google-cloud-bigquery`` client and ``google-auth``'s
service-account and impersonation flows to create a service account, mint its token, create a
dataset and tables, run a query, read a table's kind and update a dataset's access list, so a
test can see which identity (bearer token) each request really carried.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    authorization: str
    body: dict[str, Any]


@dataclass
class BigQueryStandin:
    received: list[Request] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> service account email
    datasets: dict[str, dict] = field(default_factory=dict)
    # "project.dataset.table" -> the table resource (a test may put views here)
    tables: dict[str, dict] = field(default_factory=dict)
    service_accounts: dict[str, dict] = field(default_factory=dict)  # email -> resource
    jobs: dict[str, dict] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BigQueryStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def job_inserts(self) -> list[Request]:
        return [r for r in self.received if r.method == "POST" and r.path.endswith("/jobs")]

    def identity(self, request: Request) -> str:
        """The service account a request acted as, or "platform" for no token of ours."""
        token = request.authorization.removeprefix("Bearer ")
        return self.tokens.get(token, "platform")


class _Handler(BaseHTTPRequestHandler):
    owner: BigQueryStandin

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> tuple[bytes, dict]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return raw, {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        return raw, (json.loads(raw) if raw else {})

    def _handle(self) -> None:
        _, body = self._body()
        path = urlsplit(self.path).path
        owner = self.owner
        owner.received.append(
            Request(self.command, path, self.headers.get("Authorization", ""), body)
        )
        if path.startswith("/v1/projects/"):
            return self._iam(path, body)
        if path == "/token":
            # The service-account JWT bearer grant: the assertion's issuer is the account.
            payload = body["assertion"].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            token = f"tok-{uuid.uuid4().hex}"
            owner.tokens[token] = claims["iss"]
            return self._reply(200, {"access_token": token, "expires_in": 3600})
        parts = path.removeprefix("/bigquery/v2/").split("/")
        if parts[0] != "projects":
            return self._reply(404, {"error": {"code": 404, "message": f"no route {path}"}})
        project = parts[1]
        if parts[2:3] == ["datasets"] and len(parts) == 3 and self.command == "POST":
            reference = body["datasetReference"]
            key = f"{reference['projectId']}.{reference['datasetId']}"
            if key in owner.datasets:
                return self._reply(409, {"error": {"code": 409, "message": f"{key} exists"}})
            owner.datasets[key] = {**body, "access": [], "etag": "e1"}
            return self._reply(200, owner.datasets[key])
        if parts[2:3] == ["datasets"] and len(parts) == 4:
            key = f"{project}.{parts[3]}"
            dataset = owner.datasets.setdefault(
                key,
                {
                    "datasetReference": {"projectId": project, "datasetId": parts[3]},
                    "access": [],
                    "etag": "e1",
                },
            )
            if self.command == "PATCH":
                dataset.update(body)
            return self._reply(200, dataset)
        if parts[2:3] == ["datasets"] and parts[4:5] == ["tables"] and len(parts) == 5:
            if self.command == "POST":
                reference = body["tableReference"]
                key = f"{reference['projectId']}.{reference['datasetId']}.{reference['tableId']}"
                owner.tables[key] = {**body, "type": "VIEW" if "view" in body else "TABLE"}
                return self._reply(200, owner.tables[key])
            return self._reply(200, {"tables": []})
        if parts[2:3] == ["datasets"] and parts[4:5] == ["tables"]:
            key = f"{project}.{parts[3]}.{parts[5]}"
            if self.command == "DELETE":
                owner.tables.pop(key, None)
                return self._reply(200, {})
            reference = {"projectId": project, "datasetId": parts[3], "tableId": parts[5]}
            table = {"type": "TABLE", **owner.tables.get(key, {}), "tableReference": reference}
            return self._reply(200, table)
        if parts[2:3] == ["jobs"] and self.command == "POST":
            job = {
                **body,
                "jobReference": {**body["jobReference"], "projectId": project},
                "status": {"state": "DONE"},
                "statistics": {"query": {"totalBytesProcessed": "0"}},
            }
            owner.jobs[job["jobReference"]["jobId"]] = job
            return self._reply(200, job)
        if parts[2:3] == ["jobs"]:
            return self._reply(200, owner.jobs[parts[3]])
        if parts[2:3] == ["queries"]:
            job = owner.jobs[parts[3]]
            return self._reply(
                200,
                {
                    "jobReference": job["jobReference"],
                    "jobComplete": True,
                    "totalRows": "1",
                    "schema": {"fields": [{"name": "n", "type": "INTEGER"}]},
                    "rows": [{"f": [{"v": "0"}]}],
                },
            )
        return self._reply(404, {"error": {"code": 404, "message": f"no route {path}"}})

    def _iam(self, path: str, body: dict) -> None:
        """``projects.serviceAccounts.create`` and ``generateAccessToken`` (impersonation)."""
        owner = self.owner
        parts = path.removeprefix("/v1/projects/").split("/")
        if len(parts) == 2 and parts[1] == "serviceAccounts":
            email = f"{body['accountId']}@{parts[0]}.iam.gserviceaccount.com"
            if email in owner.service_accounts:
                return self._reply(409, {"error": {"code": 409, "message": "exists"}})
            owner.service_accounts[email] = {
                "name": f"projects/{parts[0]}/serviceAccounts/{email}",
                "email": email,
                "projectId": parts[0],
                **body["serviceAccount"],
            }
            return self._reply(200, owner.service_accounts[email])
        if len(parts) == 3 and parts[2].endswith(":generateAccessToken"):
            email = parts[2].removesuffix(":generateAccessToken")
            if email not in owner.service_accounts:
                return self._reply(404, {"error": {"code": 404, "message": f"no {email}"}})
            token = f"tok-{uuid.uuid4().hex}"
            owner.tokens[token] = email
            return self._reply(200, {"accessToken": token, "expireTime": "2099-01-01T00:00:00Z"})
        return self._reply(404, {"error": {"code": 404, "message": f"no route {path}"}})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle
