"""A minimal HTTPS client for the simulated platform, for the lab's own tests (stdlib only)."""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any


class Client:
    def __init__(self, state: dict[str, Any], token: str | None = "", timeout: float = 30.0) -> None:
        plat = state["platform"]
        self.url = plat["url"]
        self.customer = plat["customer_uuid"]
        self.token = plat["token"] if token == "" else token
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=plat["ca_cert"])

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        """(status, parsed JSON or text); ``{c}`` in path is the lab customer's UUID."""
        path = path.replace("{c}", self.customer)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["X-AUTH-YW-API-TOKEN"] = self.token
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout or self.timeout) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            status, raw, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
        text = raw.decode("utf-8", "replace")
        return status, json.loads(text) if "json" in ctype and text else text

    def wait_task(self, task_uuid: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.call("GET", f"/api/v1/customers/{{c}}/tasks/{task_uuid}")
            assert status == 200, body
            if body["status"] not in ("Created", "Initializing", "Running", "Abort"):
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_uuid} still {body['status']}")
            time.sleep(0.1)
