# Unit tests of the YBA REST client (_api.py) against a real local HTTP server.
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils._api import (
    YBAAuthError, YBAClient, YBAConflict, YBAError, YBANotFound, YBATaskFailed, YBATimeout,
    YBAUnreachable, YBAValidationError, backoff_delay, fail_json_from_error, redact,
)

TOKEN = "tok-SECRET-1234567890"


class Server:
    """A scripted HTTP server: each request pops the next (status, body, headers, delay) answer."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, object, dict, float]] = []
        self.default: tuple[int, object, dict, float] | None = None
        self.seen: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(dict(method=self.command, path=self.path,
                                        headers={k.lower(): v for k, v in self.headers.items()},
                                        body=json.loads(body) if body else None))
                status, payload, headers, delay = server.answers.pop(0) if server.answers else server.default
                if delay:
                    time.sleep(delay)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status=200, body=None, headers=None, delay=0.0, times=1):
        for _n in range(times):
            self.answers.append((status, {} if body is None else body, headers or {}, delay))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def srv():
    s = Server()
    yield s
    s.close()


class Sleeper:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(srv, **kw):
    kw.setdefault("sleep", Sleeper())
    kw.setdefault("retries", 3)
    kw.setdefault("max_delay", 2)
    kw.setdefault("timeout", 5)
    return YBAClient(srv.url, token=TOKEN, **kw)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_get_sends_token_and_parses_json(srv):
    srv.answer(body={"a": 1})
    c = client(srv)
    assert c.get("/api/v1/customers/x/universes", params={"name": "u 1", "flag": True, "none": None}) == {"a": 1}
    req = srv.seen[0]
    assert req["headers"]["x-auth-yw-api-token"] == TOKEN
    assert req["path"] == "/api/v1/customers/x/universes?name=u+1&flag=true"
    assert c.requests == [("GET", "/api/v1/customers/x/universes", 200)]


def test_post_sends_json_body_and_relative_paths_get_prefix(srv):
    srv.answer(body={"taskUUID": "t"})
    c = client(srv)
    assert c.post("customers/x/backups", {"k": [1]}) == {"taskUUID": "t"}
    assert srv.seen[0]["path"] == "/api/v1/customers/x/backups"
    assert srv.seen[0]["body"] == {"k": [1]}
    assert srv.seen[0]["headers"]["content-type"] == "application/json"


def test_app_version_has_no_token_and_reports_latency(srv):
    srv.answer(body={"version": "2.18.1.0-b84"})
    c = YBAClient(srv.url)  # no token at all
    v = c.app_version(timeout=2)
    assert v["version"] == "2.18.1.0-b84"
    assert v["latency_ms"] >= 0
    assert "x-auth-yw-api-token" not in srv.seen[0]["headers"]


def test_auth_request_without_token_fails_clearly():
    c = YBAClient("https://yba.example.com")
    with pytest.raises(YBAAuthError, match="yba_api_token is required"):
        c.get("/api/v1/customers")


@pytest.mark.parametrize("bad", ["", None, "yba.example.com", "ftp://x"])
def test_bad_url_rejected(bad):
    with pytest.raises(YBAError, match="yba_url"):
        YBAClient(bad)


def test_5xx_retried_then_succeeds_with_bounded_jitter(srv):
    srv.answer(503, {"success": False, "error": "busy"}, times=2)
    srv.answer(body=[1])
    sleeper = Sleeper()
    c = client(srv, sleep=sleeper, retries=3, max_delay=2)
    assert c.get("/api/v1/x") == [1]
    assert len(srv.seen) == 3
    assert len(sleeper.calls) == 2
    assert all(0 <= d <= 2 for d in sleeper.calls)


def test_5xx_gives_up_after_retries(srv):
    srv.default = (500, {"success": False, "error": "boom"}, {}, 0)
    sleeper = Sleeper()
    c = client(srv, sleep=sleeper, retries=3, max_delay=1.5)
    with pytest.raises(YBAError) as ei:
        c.get("/api/v1/x")
    assert ei.value.status == 500
    assert "boom" in str(ei.value)
    assert len(srv.seen) == 4  # 1 + 3 retries
    assert len(sleeper.calls) == 3
    assert sum(sleeper.calls) <= 3 * 1.5


def test_post_500_not_retried_but_503_is(srv):
    srv.default = (500, {"error": "boom"}, {}, 0)
    c = client(srv)
    with pytest.raises(YBAError):
        c.post("/api/v1/x", {})
    assert len(srv.seen) == 1
    srv.default = None
    srv.answer(503, {"error": "starting"})
    srv.answer(body={"ok": True})
    assert c.post("/api/v1/x", {}) == {"ok": True}


def test_retry_after_header_is_honoured_but_capped(srv):
    srv.answer(503, {"error": "later"}, headers={"Retry-After": "100"})
    srv.answer(body={})
    sleeper = Sleeper()
    c = client(srv, sleep=sleeper, max_delay=3)
    c.get("/api/v1/x")
    assert sleeper.calls == [3]


@pytest.mark.parametrize("status,exc", [(400, YBAValidationError), (401, YBAAuthError), (403, YBAAuthError),
                                        (404, YBANotFound), (409, YBAConflict), (422, YBAError)])
def test_4xx_never_retried_and_typed(srv, status, exc):
    srv.default = (status, {"success": False, "error": "nope"}, {}, 0)
    c = client(srv)
    with pytest.raises(exc) as ei:
        c.get("/api/v1/x")
    assert ei.value.status == status
    assert len(srv.seen) == 1


def test_validation_error_carries_field_errors(srv):
    srv.answer(400, {"success": False, "error": {"data.BACKUP_LOCATION": ["bucket not reachable"],
                                                 "configName": "taken"}})
    c = client(srv)
    with pytest.raises(YBAValidationError) as ei:
        c.post("/api/v1/customers/c/configs", {"data": {}})
    assert ei.value.field_errors == {"data.BACKUP_LOCATION": ["bucket not reachable"], "configName": ["taken"]}
    assert "bucket not reachable" in str(ei.value)
    assert "POST /api/v1/customers/c/configs HTTP 400" in str(ei.value)


def test_token_never_in_error_messages_even_if_server_echoes_it(srv):
    srv.answer(401, {"success": False, "error": "Invalid token %s" % TOKEN})
    c = client(srv)
    with pytest.raises(YBAAuthError) as ei:
        c.get("/api/v1/customers")
    assert TOKEN not in str(ei.value)
    assert TOKEN not in json.dumps(ei.value.body)
    assert "check yba_api_token" in str(ei.value)


def test_registered_secret_scrubbed(srv):
    srv.answer(400, {"error": "bad key AKIA-very-secret"})
    c = client(srv)
    c.add_secret("AKIA-very-secret")
    with pytest.raises(YBAValidationError) as ei:
        c.get("/api/v1/x")
    assert "AKIA-very-secret" not in str(ei.value)


def test_non_json_error_body(srv):
    srv.answer(502, "<html>Bad Gateway</html>", times=5)
    c = client(srv, retries=0)
    with pytest.raises(YBAError, match="Bad Gateway"):
        c.get("/api/v1/x")


def test_get_or_none_maps_404(srv):
    srv.answer(404, {"error": "Invalid Backup UUID"})
    assert client(srv).get_or_none("/api/v1/customers/c/backups/b") is None


def test_connection_refused_is_unreachable_and_retried():
    sleeper = Sleeper()
    c = YBAClient("http://127.0.0.1:%d" % free_port(), token=TOKEN, retries=2, max_delay=1, sleep=sleeper)
    with pytest.raises(YBAUnreachable) as ei:
        c.get("/api/v1/customers")
    assert ei.value.status is None
    assert len(sleeper.calls) == 2
    assert TOKEN not in str(ei.value)


def test_timeout_get_retried_post_not(srv):
    srv.default = (200, {}, {}, 1.0)
    sleeper = Sleeper()
    c = client(srv, sleep=sleeper, retries=1, timeout=0.3)
    with pytest.raises(YBATimeout):
        c.get("/api/v1/x")
    assert len(sleeper.calls) == 1
    sleeper.calls.clear()
    with pytest.raises(YBATimeout):
        c.post("/api/v1/x", {})
    assert sleeper.calls == []
    with pytest.raises(YBATimeout):
        c.post("/api/v1/x/page", {}, idempotent=True)
    assert len(sleeper.calls) == 1


def test_backoff_delay_bounds():
    for attempt in range(0, 40):
        assert 0 <= backoff_delay(attempt, 7) <= 7
    assert backoff_delay(0, 100, rng=lambda: 1.0) == 1.0
    assert backoff_delay(3, 100, rng=lambda: 1.0) == 8.0
    assert backoff_delay(10, 5, rng=lambda: 1.0) == 5.0


def test_customer_uuid_discovery(srv):
    srv.answer(body=[{"uuid": "c-1", "code": "admin", "name": "n"}])
    c = client(srv)
    assert c.customer_uuid() == "c-1"
    assert c.cpath("backups/page") == "/api/v1/customers/c-1/backups/page"
    assert len(srv.seen) == 1  # cached
    srv.answer(body=["c-2"])
    assert client(srv).customer_uuid() == "c-2"


def test_customer_uuid_option_wins_and_ambiguity_fails(srv):
    assert client(srv, customer_uuid="given").customer_uuid() == "given"
    assert srv.seen == []
    srv.answer(body=[{"uuid": "a"}, {"uuid": "b"}])
    with pytest.raises(YBAError, match="sees 2 customers"):
        client(srv).customer_uuid()


def test_paged_follows_has_next(srv):
    srv.answer(body={"entities": [{"i": 1}, {"i": 2}], "hasNext": True, "hasPrev": False, "totalCount": 3})
    srv.answer(body={"entities": [{"i": 3}], "hasNext": False, "hasPrev": True, "totalCount": 3})
    c = client(srv, customer_uuid="c")
    got = list(c.paged(c.cpath("backups/page"), {"sortBy": "createTime", "filter": {}}, limit=2))
    assert [e["i"] for e in got] == [1, 2, 3]
    assert [r["body"]["offset"] for r in srv.seen] == [0, 2]
    assert srv.seen[0]["body"]["limit"] == 2
    assert srv.seen[0]["body"]["direction"] == "DESC"


def test_wait_for_task_success(srv):
    srv.answer(body={"status": "Running", "percent": 10})
    srv.answer(body={"status": "Success", "percent": 100, "title": "Backup"})
    c = client(srv, customer_uuid="c")
    assert c.wait_for_task("t-1", 30, poll_interval=0.01)["status"] == "Success"
    assert srv.seen[0]["path"] == "/api/v1/customers/c/tasks/t-1"


def test_wait_for_task_failure(srv):
    srv.answer(body={"status": "Failure", "title": "Create Backup", "details": {"taskDetails": [
        {"state": "Failure", "extraDetails": "S3 unreachable"}]}})
    c = client(srv, customer_uuid="c")
    with pytest.raises(YBATaskFailed, match="S3 unreachable") as ei:
        c.wait_for_task("t-1", 30, poll_interval=0.01)
    assert ei.value.task["status"] == "Failure"


def test_wait_for_task_really_bounds_the_wait(srv):
    srv.default = (200, {"status": "Running", "percent": 50}, {}, 0)
    c = YBAClient(srv.url, token=TOKEN, customer_uuid="c", retries=5, max_delay=10)
    start = time.monotonic()
    with pytest.raises(YBATimeout, match="still Running"):
        c.wait_for_task("t-1", 1.5, poll_interval=0.2, max_poll_interval=10)
    assert time.monotonic() - start < 2.5


def test_wait_for_task_bounded_when_server_hangs(srv):
    srv.default = (200, {"status": "Running"}, {}, 5.0)
    c = YBAClient(srv.url, token=TOKEN, customer_uuid="c", retries=5, max_delay=10, timeout=30)
    start = time.monotonic()
    with pytest.raises(YBATimeout):
        c.wait_for_task("t-1", 1.0)
    assert time.monotonic() - start < 2.5


def test_redact_masks_leaves_only():
    data = {"BACKUP_LOCATION": "s3://b/p", "AWS_SECRET_ACCESS_KEY": "s", "nested": [{"PROXY_PASSWORD": "p"}],
            "AWS_HOST_BASE": "http://h"}
    out = redact(data)
    assert out == {"BACKUP_LOCATION": "s3://b/p", "AWS_SECRET_ACCESS_KEY": _api.MASK,
                   "nested": [{"PROXY_PASSWORD": _api.MASK}], "AWS_HOST_BASE": "http://h"}


class FakeModule:
    def __init__(self, params):
        self.params = params
        self.failed = None

    def fail_json(self, **kw):
        self.failed = kw
        raise SystemExit(1)


def test_fail_json_from_error_one_clear_message_without_secret():
    m = FakeModule({"yba_api_token": TOKEN})
    err = YBAValidationError("bad %s" % TOKEN, field_errors={"f": ["x"]}, status=400, method="PUT", path="/api/v1/p")
    with pytest.raises(SystemExit):
        fail_json_from_error(m, err, "cannot edit the storage config")
    assert m.failed["msg"].startswith("cannot edit the storage config: PUT /api/v1/p HTTP 400: bad ")
    assert TOKEN not in m.failed["msg"]
    assert m.failed["status"] == 400
    assert m.failed["field_errors"] == {"f": ["x"]}
    assert m.failed["error_type"] == "YBAValidationError"


def test_from_module_bad_url_fails_module():
    m = FakeModule(dict(yba_url=None, yba_api_token=TOKEN, validate_certs=True, ca_path=None, customer_uuid=None,
                        request_timeout=30, backoff_retries=1, backoff_max_delay=1))
    with pytest.raises(SystemExit):
        YBAClient.from_module(m)
    assert "yba_url is required" in m.failed["msg"]


def test_tls_failure_not_retried_and_explained(tmp_path):
    import ssl
    import subprocess
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    s = Server()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    s.httpd.socket = ctx.wrap_socket(s.httpd.socket, server_side=True)
    s.default = (200, {"version": "x"}, {}, 0)
    try:
        sleeper = Sleeper()
        url = s.url.replace("http://", "https://")
        c = YBAClient(url, token=TOKEN, retries=3, sleep=sleeper)
        with pytest.raises(YBAUnreachable, match="ca_path"):
            c.get("/api/v1/customers")
        assert sleeper.calls == []
        assert YBAClient(url, token=TOKEN, ca_path=str(cert)).app_version()["version"] == "x"
        assert YBAClient(url, token=TOKEN, validate_certs=False).app_version()["version"] == "x"
    finally:
        s.close()


@pytest.mark.parametrize("body,message,fields", [
    # YBPError (forms/PlatformResults.java): a plain message with the request line.
    ({"success": False, "httpMethod": "PUT", "requestUri": "/api/v1/customers/c/schedules/s",
      "error": "Both schedule frequency and cron expression cannot be null"},
     "Both schedule frequency and cron expression cannot be null", {}),
    # YBPStructuredError: field errors only, no errorJson, no method or URI.
    ({"success": False, "error": {"data.BACKUP_LOCATION": ["Unable to execute HTTP request: Read timed out"]}},
     "data.BACKUP_LOCATION: Unable to execute HTTP request: Read timed out",
     {"data.BACKUP_LOCATION": ["Unable to execute HTTP request: Read timed out"]}),
    # A global bean error (CustomerConfigValidator.validateConfigRemoval) has the empty field name.
    ({"success": False, "error": {"": ["Configuration s3 is used in scheduled backup and can't be deleted"]}},
     "Configuration s3 is used in scheduled backup and can't be deleted",
     {"": ["Configuration s3 is used in scheduled backup and can't be deleted"]}),
    # Older bodies: the error as a JSON string plus errorJson.
    ({"success": False, "error": "{\"configName\": [\"taken\"]}", "errorJson": {"configName": ["taken"]}},
     "{\"configName\": [\"taken\"]}", {"configName": ["taken"]}),
])
def test_parse_error_body_yba_shapes(body, message, fields):
    got_message, got_fields, parsed = _api._parse_error_body(json.dumps(body).encode())
    assert (got_message, got_fields, parsed) == (message, fields, body)


def test_error_kind_names_client_side_causes_and_the_rest():
    from ansible_collections.yba.remediation.plugins.module_utils import _api as api
    assert api.error_kind(api.YBAAuthError("no", status=401)) == "auth"
    assert api.error_kind(api.YBATLSError("x", kind="ca_file")) == "ca_file"
    assert api.error_kind(api.YBATimeout("slow")) == "timeout"
    assert api.error_kind(api.YBAUnreachable("refused")) == "unreachable"
    assert api.error_kind(api.YBAError("boom", status=503)) == "server"
    assert api.error_kind(api.YBANotFound("gone", status=404)) == "other"


def test_a_ca_sent_as_content_is_named_ca_content_not_its_temporary_path(tmp_path):
    from ansible_collections.yba.remediation.plugins.module_utils import _api as api
    path = api.ca_file_from_content("not a pem", str(tmp_path))
    client = api.YBAClient("https://yba.example", token="t", ca_path=path, ca_label="ca_content", retries=0)
    with pytest.raises(api.YBATLSError) as err:
        client.get("/api/v1/customers")
    assert err.value.kind == "ca_file" and "ca_content holds no PEM certificate on " in str(err.value)
    assert path not in str(err.value)
