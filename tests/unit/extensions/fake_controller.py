"""A small in-memory AWX /api/v2/ for tests: the generic REST behaviour the awx.awx modules rely on, recorded.

Lists with the query filters the modules send (exact fields, or__id/or__name), create (POST, 201), update (PATCH),
association sub-lists (GET, POST {"id"} / {"id", "disassociate"} -> 204), survey_spec, an approval template created
through a workflow node's create_approval_template, unified_job_templates over every template kind, and a job
template's launch (a job that is at once successful, for ansible-rulebook's run_job_template). Objects
apply.yml expects to exist already (organization, inventory, credentials, execution environment) are seeded.
It answers what awx_collection/plugins/module_utils/controller_api.py reads (count/results/next, url, id, type,
related) and records every request for the tests to assert on.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API = "/api/v2/"
TEMPLATE_KINDS = ("job_templates", "workflow_job_templates", "projects", "workflow_approval_templates")
NOTIFICATIONS = {"notification_templates_started", "notification_templates_success", "notification_templates_error"}
# the association sub-lists per collection (awx/api/urls/*.py); a workflow approval template has none, so linking
# edges on it is a 404 as on a real AWX (ansible/awx#8777)
ASSOCIATIONS = {
    "workflow_job_template_nodes": {"success_nodes", "failure_nodes", "always_nodes", "credentials", "labels",
                                    "instance_groups"},
    "job_templates": {"credentials", "labels", "instance_groups"} | NOTIFICATIONS,
    "workflow_job_templates": {"labels", "notification_templates_approvals"} | NOTIFICATIONS,
    "schedules": {"credentials", "labels", "instance_groups"},
    "projects": NOTIFICATIONS,
}
SEED = {"organizations": ["Default"], "inventories": ["YBA fleet"], "credentials": ["YBA hosts SSH", "YBA API"],
        "execution_environments": ["yba-remediation-ee"]}


class Controller:
    def __init__(self, token: str):
        self.token = token
        self.objects: dict[str, dict[int, dict]] = {}
        self.links: dict[tuple[str, int, str], list[int]] = {}
        self.surveys: dict[tuple[str, int], dict] = {}
        self.requests: list[dict] = []
        self.next_id = 1
        self.lock = threading.Lock()
        for collection, names in SEED.items():
            for name in names:
                self.create(collection, {"name": name})

    def create(self, collection: str, data: dict) -> dict:
        item_id, self.next_id = self.next_id, self.next_id + 1
        url = f"{API}{collection}/{item_id}/"
        item = {**data, "id": item_id, "type": collection[:-1], "url": url, "summary_fields": {},
                "related": {"survey_spec": f"{url}survey_spec/", "update": f"{url}update/", "copy": f"{url}copy/"}}
        if collection == "projects":
            item.setdefault("scm_revision", "")
        if collection in ("job_templates", "workflow_job_templates"):
            item["related"]["launch"] = f"{url}launch/"
            organization = self.objects.get("organizations", {}).get(data.get("organization"))
            if organization:
                item["summary_fields"]["organization"] = {"id": organization["id"], "name": organization["name"]}
        self.objects.setdefault(collection, {})[item_id] = item
        return item

    def find(self, collection: str, query: dict) -> list[dict]:
        if collection == "unified_job_templates":
            items = [item for kind in TEMPLATE_KINDS for item in self.objects.get(kind, {}).values()]
        else:
            items = list(self.objects.get(collection, {}).values())
        query = {key: value for key, value in query.items() if key not in ("page", "page_size")}
        either = {key[4:]: value for key, value in query.items() if key.startswith("or__")}
        within = {key[:-4]: value.split(",") for key, value in query.items() if key.endswith("__in")}
        exact = {key: value for key, value in query.items() if not key.startswith("or__") and not key.endswith("__in")}
        return [item for item in items
                if all(str(item.get(key)) == value for key, value in exact.items())
                and all(str(item.get(key)) in values for key, values in within.items())
                and (not either or any(str(item.get(key)) == value for key, value in either.items()))]

    def handle(self, method: str, path: str, query: dict, body):
        """(status, json) of one request."""
        parts = path[len(API):].strip("/").split("/") if path.startswith(API) else []
        if not parts or not parts[0]:
            return 404, {"detail": "Not found."}
        collection = parts[0]
        if collection == "config" and method == "GET":
            return 200, {"version": "24.6.1"}
        if len(parts) == 1:
            if method == "GET":
                results = self.find(collection, query)
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                return 201, self.create(collection, body or {})
            return 405, {}
        store = self.objects.get(collection, {})
        item = store.get(int(parts[1])) if parts[1].isdigit() else None
        if item is None:
            return 404, {"detail": "Not found."}
        if len(parts) == 2:
            if method == "GET":
                return 200, item
            if method == "PATCH":
                item.update(body or {})
                return 200, item
            if method == "DELETE":
                del store[item["id"]]
                return 204, None
            return 405, {}
        sub = parts[2]
        if sub == "survey_spec":
            key = (collection, item["id"])
            if method == "GET":
                return 200, self.surveys.get(key, {})
            if method == "POST":
                self.surveys[key] = body
                return 200, {}
            self.surveys.pop(key, None)
            return 200, {}
        if sub == "launch" and method == "POST" and collection == "job_templates":
            job = self.create("jobs", {**(body or {}), "job_template": item["id"], "name": item["name"],
                                       "status": "successful"})
            return 201, {**job, "job": job["id"]}
        if sub == "create_approval_template" and method == "POST":
            approval = self.create("workflow_approval_templates", body or {})
            item["unified_job_template"] = approval["id"]
            item["related"]["unified_job_template"] = approval["url"]
            return 201, approval
        if sub in ASSOCIATIONS.get(collection, ()):
            key = (collection, item["id"], sub)
            ids = self.links.setdefault(key, [])
            if method == "GET":
                return 200, {"count": len(ids), "next": None, "previous": None, "results": [{"id": i} for i in ids]}
            if method == "POST":
                if body.get("disassociate"):
                    ids.remove(body["id"])
                elif body["id"] not in ids:
                    ids.append(body["id"])
                return 204, None
        return 404, {"detail": "Not found."}

    def serve(self):
        """Start on 127.0.0.1 (a free port); returns the server (its .server_address, .shutdown())."""
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                split = urlsplit(self.path)
                query = dict(parse_qsl(split.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with controller.lock:
                    controller.requests.append({"method": self.command, "path": split.path, "query": query, "body": body})
                    if self.headers.get("Authorization") != f"Bearer {controller.token}":
                        status, answer = 401, {"detail": "Authentication credentials were not provided."}
                    else:
                        status, answer = controller.handle(self.command, split.path, query, body)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):  # quiet
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
