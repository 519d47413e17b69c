"""The EDA rulebook run by the real ansible-rulebook (scripts/bootstrap-eda.sh installs it in .build/eda-venv, Java
17 runs its Drools engine) with the real ansible.eda.webhook source (vendored, see eda_collection/SOURCE), alerts
POSTed to the webhook and run_job_template pointed at a fake AWX controller that records the launches."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from ci_prerequisites import prerequisite_missing  # tests/unit/ci_prerequisites.py

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RULEBOOK = REPO / "extensions" / "eda" / "rulebooks" / "backup_failures.yml"
INVENTORY = REPO / "inventory" / "example"
COLLECTIONS = HERE / "eda_collection"
WEBHOOK_PLUGIN = COLLECTIONS / "ansible_collections/ansible/eda/extensions/eda/plugins/event_source/webhook.py"
EDA_VENV = Path(os.environ.get("YBA_EDA_VENV", REPO / ".build" / "eda-venv"))
START_TIMEOUT = 45.0  # JVM + Drools start: ~5 s on an idle machine, more on a loaded CI run
EVENT_TIMEOUT = 20.0
CONTROLLER_TOKEN = "controller-" + secrets.token_hex(8)


class FakeController:
    """The part of the AWX API ansible-rulebook's run_job_template uses: config, unified_job_templates by name,
    launch, jobs by id__in. Serves the templates extensions/awx/apply.yml creates and records every launch."""

    def __init__(self) -> None:
        apply, = yaml.safe_load((REPO / "extensions" / "awx" / "apply.yml").read_text(encoding="utf-8"))
        prefix, self.organization = apply["vars"]["yba_awx_template_prefix"], apply["vars"]["yba_awx_organization"]
        names = sorted(prefix + path.stem for path in (REPO / "playbooks").glob("*.yml"))
        self.templates = dict(enumerate(names, start=1))
        self.launches: list[dict] = []
        self.refused: list[str] = []
        self.changed = threading.Condition()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        controller = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {CONTROLLER_TOKEN}":
                    return True
                with controller.changed:
                    controller.refused.append(f"{self.command} {self.path}")
                self._reply(401, {"detail": "Authentication credentials were not provided."})
                return False

            def do_GET(self):
                if not self._authorized():
                    return
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/api/v2/config/":
                    self._reply(200, {"version": "4.6.0"})
                elif url.path == "/api/v2/unified_job_templates/":
                    results = [controller.template(index) for index, name in controller.templates.items()
                               if name == query.get("name")]
                    self._reply(200, {"count": len(results), "next": None, "results": results})
                elif url.path == "/api/v2/jobs/":
                    ids = [int(job) for job in query.get("id__in", "").split(",") if job]
                    results = [{"id": job, "status": "successful", "url": f"/api/v2/jobs/{job}/",
                                "created": "2026-01-01T00:00:00Z", "artifacts": {}} for job in ids]
                    self._reply(200, {"count": len(results), "next": None, "results": results})
                else:
                    self._reply(404, {"detail": "Not found."})

            def do_POST(self):
                if not self._authorized():
                    return
                parts = self.path.strip("/").split("/")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if len(parts) != 5 or parts[:3] != ["api", "v2", "job_templates"] or parts[4] != "launch" \
                        or int(parts[3]) not in controller.templates:
                    self._reply(404, {"detail": "Not found."})
                    return
                with controller.changed:
                    job = len(controller.launches) + 1
                    controller.launches.append({"template": controller.templates[int(parts[3])], "body": body})
                    controller.changed.notify_all()
                self._reply(201, {"id": job, "job": job, "url": f"/api/v2/jobs/{job}/", "status": "pending"})

        return Handler

    def template(self, index: int) -> dict:
        return {"id": index, "type": "job_template", "name": self.templates[index],
                "summary_fields": {"organization": {"name": self.organization}},
                "related": {"launch": f"/api/v2/job_templates/{index}/launch/"},
                "ask_limit_on_launch": True, "ask_variables_on_launch": True,
                "ask_labels_on_launch": False, "ask_inventory_on_launch": False}

    def wait_for_launch(self, limit: str, log: Path) -> None:
        """Block until a launch with this limit was recorded (events are handled in order: once a later event's
        launch is here, every earlier event has been through the rules)."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        with self.changed:
            while not any(launch["body"].get("limit") == limit for launch in self.launches):
                remaining = deadline - time.monotonic()
                assert remaining > 0, (f"no launch with limit {limit!r} within {EVENT_TIMEOUT:.0f} s; launches: "
                                       f"{self.limits()}; ansible-rulebook log:\n{tail(log)}")
                self.changed.wait(remaining)

    def limits(self) -> list[tuple[str, str]]:
        with self.changed:
            return [(launch["template"], launch["body"].get("limit")) for launch in self.launches]

    def for_hosts(self, *hosts: str) -> list[tuple[str, str]]:
        return [(template, limit) for template, limit in self.limits() if limit in hosts]


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))  # the rulebook's webhook listens on 0.0.0.0
        return sock.getsockname()[1]


class Rulebook(t.NamedTuple):
    port: int
    token: str
    controller: FakeController
    log: Path

    def post(self, payload: t.Any, authorization: str | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        authorization = f"Bearer {self.token}" if authorization is None else authorization
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/alerts", data=json.dumps(payload).encode(),
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def alert(self, host: str, alert: str = "YBABackupFailed") -> None:
        status = self.post({"alert": alert, "host": host})
        assert status == 200, f"the webhook refused a valid event ({status}); ansible-rulebook log:\n{tail(self.log)}"


def _variant(tmp: Path, port: int) -> Path:
    """The rulebook as it is, but for the webhook's port: a fixed 5000 would collide between concurrent runs."""
    rulebook = yaml.safe_load(RULEBOOK.read_text(encoding="utf-8"))
    rulebook[0]["sources"][0]["ansible.eda.webhook"]["port"] = port
    path = tmp / RULEBOOK.name
    path.write_text(yaml.safe_dump(rulebook, sort_keys=False), encoding="utf-8")
    return path


def _wait_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ansible-rulebook exited ({process.returncode}):\n{tail(log)}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the webhook did not listen on port {port} within {START_TIMEOUT:.0f} s:\n{tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    """ansible-rulebook runs in a session of its own: end that process group (the JVM lives in its process)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def rulebook(tmp_path_factory) -> t.Iterator[Rulebook]:
    executable = EDA_VENV / "bin" / "ansible-rulebook"
    if not os.access(executable, os.X_OK) or not os.access(EDA_VENV / "bin" / "ansible-galaxy", os.X_OK):
        prerequisite_missing(f"needs ansible-rulebook and ansible-galaxy in {EDA_VENV}",
                             "scripts/bootstrap-eda.sh installs it, scripts/bootstrap.sh runs it")
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and os.access(os.path.join(java_home, "bin", "java"), os.X_OK)):
        prerequisite_missing("needs Java 17+ (ansible-rulebook's Drools engine): no java on PATH nor in JAVA_HOME")

    tmp = tmp_path_factory.mktemp("eda")
    port, token, log = free_port(), secrets.token_urlsafe(16), tmp / "ansible-rulebook.log"
    controller = FakeController()
    # ansible-galaxy lists the fixture collection only: no ANSIBLE_CONFIG of the caller, no ~/.ansible of the user
    env = dict(os.environ, PATH=f"{EDA_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), YBA_EDA_WEBHOOK_TOKEN=token,
               EDA_JOB_TEMPLATE_REFRESH_DELAY="0.2", HOME=str(tmp))
    env.pop("ANSIBLE_CONFIG", None)
    # the command line the rulebook's header documents, with the controller's url and token
    command = [str(executable), "-r", str(_variant(tmp, port)), "-i", str(INVENTORY),
               "--env-vars", "YBA_EDA_WEBHOOK_TOKEN", "--controller-url", controller.url,
               "--controller-token", CONTROLLER_TOKEN]
    controller.thread.start()
    try:
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=tmp, env=env, stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_listening(process, port, log)
            yield Rulebook(port, token, controller, log)
        finally:
            _stop(process)
    finally:
        controller.server.shutdown()
        controller.server.server_close()


def test_the_vendored_webhook_source_is_the_recorded_upstream_file():
    source = (COLLECTIONS / "SOURCE").read_text(encoding="utf-8")
    digest = hashlib.sha256(WEBHOOK_PLUGIN.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in source, f"{WEBHOOK_PLUGIN.name} differs from the file SOURCE records"


@pytest.mark.parametrize("authorization", ["", "Bearer wrong-token", "Basic {token}", "Bearer", "bearer {token}"],
                         ids=["no-header", "wrong-token", "basic-scheme", "bearer-no-token", "lowercase-scheme"])
def test_the_webhook_refuses_a_missing_or_wrong_token_and_nothing_is_launched(rulebook, authorization):
    host = "yba-refused-" + secrets.token_hex(3)
    status = rulebook.post({"alert": "YBABackupFailed", "host": host}, authorization.format(token=rulebook.token))
    assert status == 401, f"expected 401 for Authorization {authorization!r}, got {status}"
    sentinel = "yba-sentinel-" + secrets.token_hex(3)
    rulebook.alert(sentinel)
    rulebook.controller.wait_for_launch(sentinel, rulebook.log)
    assert not rulebook.controller.for_hosts(host), f"a refused request launched a job: {rulebook.controller.limits()}"


def test_a_backup_alert_launches_the_diagnosis_limited_to_that_host(rulebook):
    host = "yba-prod-1"
    rulebook.alert(host)
    rulebook.controller.wait_for_launch(host, rulebook.log)
    launch, = [launch for launch in rulebook.controller.launches if launch["body"]["limit"] == host]
    assert launch["template"] == "YBA diagnose"
    assert launch["body"]["extra_vars"]["diagnose_fail_on"] == "none"
    event = launch["body"]["extra_vars"]["ansible_eda"]["event"]
    assert event["payload"] == {"alert": "YBABackupFailed", "host": host}
    # the webhook token stays out of what the job receives (the source drops the Authorization header)
    assert rulebook.token not in json.dumps(launch["body"]), "the webhook token reached the job's extra_vars"
    assert not rulebook.controller.refused, f"ansible-rulebook did not send the controller token: " \
                                            f"{rulebook.controller.refused}"


def test_a_disk_alert_launches_the_cleanup_limited_to_that_host(rulebook):
    host = "yba-disk-" + secrets.token_hex(3)
    rulebook.alert(host, "YBADiskFull")
    rulebook.controller.wait_for_launch(host, rulebook.log)
    launch, = [launch for launch in rulebook.controller.launches if launch["body"]["limit"] == host]
    assert launch["template"] == "YBA disk_cleanup"
    assert launch["body"]["extra_vars"]["disk_cleanup_target_used_percent"] == 75


def test_a_burst_for_one_host_launches_once_and_another_host_launches_on_its_own(rulebook):
    host_a, host_b = "yba-burst-a-" + secrets.token_hex(3), "yba-burst-b-" + secrets.token_hex(3)
    for host in (host_a, host_a, host_b, host_a, host_b, host_a, host_a):
        rulebook.alert(host)
    # another alert for A is another group of the throttle (per host AND alert): its own launch, once
    for alert in ["YBADiskFull"] * 3:
        rulebook.alert(host_a, alert)
    sentinel = "yba-sentinel-" + secrets.token_hex(3)
    rulebook.alert(sentinel)
    rulebook.controller.wait_for_launch(sentinel, rulebook.log)
    assert sorted(rulebook.controller.for_hosts(host_a, host_b)) == sorted([
        ("YBA diagnose", host_a), ("YBA diagnose", host_b), ("YBA disk_cleanup", host_a)]), \
        f"expected one launch per host and alert within the throttle window: {rulebook.controller.limits()}"


@pytest.mark.parametrize("host", ["all", "yba*", "yba-prod-1,yba-prod-2", "!yba-prod-1", "", "-x", "a b"])
def test_a_host_pattern_is_never_the_limit(rulebook, host):
    status = rulebook.post({"alert": "YBABackupFailed", "host": host})
    assert status == 200, f"the webhook refused the event ({status})"
    sentinel = "yba-sentinel-" + secrets.token_hex(3)
    rulebook.alert(sentinel)
    rulebook.controller.wait_for_launch(sentinel, rulebook.log)
    assert not rulebook.controller.for_hosts(host), f"the pattern {host!r} became a limit"
