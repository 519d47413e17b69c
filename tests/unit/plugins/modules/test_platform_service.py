# Unit tests of the platform_service module: input checks, and the decision/verification flow over a fake backend.
from __future__ import annotations

import dataclasses
import json
import typing as t

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api, _layout, _service
from ansible_collections.yba.remediation.plugins.modules import platform_service

API = dict(yba_url="https://127.0.0.1:1", yba_api_token="secret-token-value-1234")


@pytest.mark.parametrize("params,msg", [
    (dict(wait_timeout=0), "wait_timeout must be a positive number of seconds, got 0"),
    (dict(probe_timeout=-2), "probe_timeout must be a positive number of seconds, got -2"),
    (dict(services=[]), "services must name at least one of: postgres, prometheus, yb-platform"),
    (dict(yba_url=None), "yba_url is required to probe the platform's health (or set YBA_URL)"),
    (dict(yba_api_token=None), "yba_api_token is required for the authenticated health check (or set YBA_API_TOKEN)"),
])
def test_validate(params: t.Dict[str, t.Any], msg: str) -> None:
    base = dict(state="healthy", services=["yb-platform"], wait_timeout=300, probe_timeout=10, request_timeout=30,
                backoff_max_delay=15, **API)
    base.update(params)
    assert platform_service.validate(base) == msg


def test_validate_stopped_needs_no_api() -> None:
    assert platform_service.validate(dict(state="stopped", services=["yb-platform"], wait_timeout=1,
                                          probe_timeout=1)) is None


class FakeBackend(_service.Backend):
    name = "fake"

    def __init__(self, states: t.Dict[str, str], after: t.Optional[t.Dict[str, str]] = None) -> None:
        super().__init__()
        self.states = dict(states)
        self.after = after
        self.acted: t.List[t.Tuple[str, str]] = []

    def status(self, services: t.Sequence[str]) -> t.Dict[str, _service.ServiceStatus]:
        return {s: _service.ServiceStatus(s, self.states.get(s, _service.RUNNING), self.states.get(s, "running"))
                for s in services}

    def command(self, action: str, service: str) -> t.List[str]:
        return ["fakectl", action, service]

    def act(self, action: str, service: str, timeout: t.Optional[float] = None) -> _service.CmdResult:
        self.acted.append((action, service))
        self.states[service] = _service.STOPPED if action == "stop" else _service.RUNNING
        return _service.CmdResult(self.command(action, service), 0)


@pytest.fixture
def env(monkeypatch: t.Any, tmp_path: t.Any) -> t.Dict[str, t.Any]:
    state: t.Dict[str, t.Any] = {"backend": FakeBackend({}), "healths": [], "pids": [100, 200]}
    layout = _layout.Layout(host_root=str(tmp_path), install_type="yba-installer", install_root=str(tmp_path))
    state["layout"] = layout
    monkeypatch.setattr(_layout, "detect", lambda root: state["layout"])
    monkeypatch.setattr(_service, "select_backend", lambda *a, **k: state["backend"])

    def health(client: t.Any, timeout: float) -> _service.Health:
        return state["healths"].pop(0) if len(state["healths"]) > 1 else state["healths"][0]

    def process(lay: t.Any, hints: t.Any = (), proc_root: str = "/proc") -> t.Optional[_service.ProcessInfo]:
        if state["backend"].states.get(_service.PLATFORM) in (_service.STOPPED, _service.FAILED) \
                and not state.get("stray_process"):
            return None
        pid = state["pids"][0] if not state["backend"].acted else state["pids"][-1]
        info = _service.ProcessInfo(pid, state.get("proc_state", "S") if pid == 100 else "S", ["yugaware"], 1 << 20)
        info.age_seconds = lambda proc_root="/proc": state.get("age", 3600.0)  # type: ignore[method-assign]
        return info

    monkeypatch.setattr(_service, "probe_health", health)
    monkeypatch.setattr(_service, "platform_process", process)
    monkeypatch.setattr(_service, "process_alive", lambda pid, proc_root="/proc": state.get("survivor") == pid)
    monkeypatch.setattr(platform_service.PlatformService, "metrics", lambda self: None)
    return state


OK = _service.Health(True, None, "ok", "2.18.1.0-b84", 5.0)
HUNG = _service.Health(False, "app_version", "no answer within 1.0 s (hung)", hung=True)


def run(capsys: t.Any, **args: t.Any) -> t.Dict[str, t.Any]:
    args = dict(API, **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            platform_service.main()
    return json.loads(capsys.readouterr().out)


def test_healthy_platform_untouched(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["healths"] = [OK]
    r = run(capsys)
    assert r["changed"] is False and r["actions"] == [] and env["backend"].acted == []
    assert r["version_before"] == r["version_after"] == "2.18.1.0-b84" and r["downtime_seconds"] == 0


def test_hung_platform_check_mode_then_restart(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["healths"] = [HUNG]
    env["proc_state"] = "T"
    r = run(capsys, _ansible_check_mode=True, _ansible_diff=True)
    assert r["changed"] is True and r["check_mode"] is True and env["backend"].acted == []
    assert r["actions"][0]["action"] == "restart" and "stopped by a signal" in r["actions"][0]["reason"]
    assert r["commands"] == ["fakectl restart yb-platform"] and r["platform"]["stopped_before"] is True
    env["healths"] = [HUNG, OK]
    r = run(capsys, probe_timeout=1)
    assert r["changed"] is True and env["backend"].acted == [("restart", "yb-platform")]
    assert r["platform"] == dict(r["platform"], pid_before=100, pid_after=200)
    assert r["health"]["healthy"] and r["version_before"] is None and r["version_after"] == "2.18.1.0-b84"


def test_crash_after_disk_full_starts_postgres_first(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["backend"] = FakeBackend({"postgres": _service.STOPPED, "yb-platform": _service.FAILED})
    env["healths"] = [OK]
    r = run(capsys)  # services defaults to [yb-platform]: postgres is added because the platform needs it
    assert env["backend"].acted == [("start", "postgres"), ("restart", "yb-platform")]
    assert "needs its metadata DB" in r["actions"][0]["reason"]


def test_auth_rejected_fails_without_restart(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["healths"] = [_service.Health(False, "auth", "HTTP 401: bad token", "2.18", client_error="auth")]
    r = run(capsys)
    assert r["failed"] and "rejected yba_api_token" in r["msg"] and env["backend"].acted == []
    assert r["failed_check"] == "auth"


def test_not_healthy_within_wait_timeout_names_the_check(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["backend"] = FakeBackend({"yb-platform": _service.STOPPED})
    env["healths"] = [_service.Health(False, "app_version", "not answering: connection refused", refused=True)]
    r = run(capsys, wait_timeout=1.5, probe_timeout=0.5, backoff_max_delay=0.2)
    assert r["failed"] and r["failed_check"] == "app_version"
    assert r["msg"].startswith("yb-platform is not healthy after") and "connection refused" in r["msg"]
    assert r["elapsed_seconds"] < 4


def test_stopped_reverse_order(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["backend"] = FakeBackend({})
    r = run(capsys, state="stopped", services=["postgres", "yb-platform"])
    assert env["backend"].acted == [("stop", "yb-platform"), ("stop", "postgres")] and r["changed"]
    r = run(capsys, state="stopped", services=["postgres", "yb-platform"])
    assert r["changed"] is False


def test_young_platform_that_refuses_is_waited_for_not_restarted(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    refused = _service.Health(False, "app_version", "not answering: connection refused", refused=True)
    env["healths"] = [refused, refused, OK]
    env["age"] = 5.0
    r = run(capsys, backoff_max_delay=0.1)
    assert r["changed"] is False and env["backend"].acted == [] and r["startup_wait_seconds"] >= 0
    env["healths"] = [refused, OK]
    env["age"] = 500.0  # old process that refuses: broken, restart it
    r = run(capsys, backoff_max_delay=0.1)
    assert r["changed"] is True and env["backend"].acted == [("restart", "yb-platform")]


def test_old_process_that_survives_the_restart_fails(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["healths"] = [HUNG, OK]
    env["survivor"] = 100
    r = run(capsys)
    assert r["failed"] and r["msg"].startswith("the platform process 100 survived the restart")
    assert r["failed_check"] == "process"


# ---------------------------------------------------------------- client-side probe failures never restart

@pytest.mark.parametrize("kind", ["ca_file", "tls_verify", "tls_handshake"])
def test_client_side_tls_problem_fails_without_restart(env: t.Dict[str, t.Any], capsys: t.Any, kind: str) -> None:
    env["healths"] = [_service.Health(False, "tls", "ca_path /ctl/ca.pem does not exist on yba-1", client_error=kind)]
    r = run(capsys)
    assert r["failed"] and env["backend"].acted == [] and r["actions"] == []
    assert r["failed_check"] == "tls" and r["client_error"] == kind
    assert "client side" in r["msg"] and "not restarted" in r["msg"] and "yba_ca_path" in r["msg"]


def test_client_side_problem_does_not_hide_a_stopped_process(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    """The process state is evidence of its own: a SIGSTOPped platform is restarted whatever the probe says."""
    env["healths"] = [_service.Health(False, "tls", "ca missing", client_error="ca_file")]
    env["proc_state"] = "T"
    r = run(capsys)
    assert env["backend"].acted == [("restart", "yb-platform")]
    assert r["failed"] and "tls check failed" in r["msg"]


def test_ca_content_is_written_on_the_host_and_used(env: t.Dict[str, t.Any], capsys: t.Any, monkeypatch: t.Any) -> None:
    seen: t.Dict[str, t.Any] = {}
    real = _api.ca_file_from_content

    def spy(content: str, directory: str) -> str:
        seen["path"] = real(content, directory)
        with open(seen["path"], encoding="utf-8") as handle:
            seen["text"] = handle.read()
        return seen["path"]

    monkeypatch.setattr(_api, "ca_file_from_content", spy)
    env["healths"] = [OK]
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    r = run(capsys, ca_content=pem)
    assert r["changed"] is False and seen["text"] == pem
    r = run(capsys, ca_content="/etc/pki/ca.pem")
    assert r["failed"] and r["msg"].startswith("ca_content holds no PEM certificate")


# ---------------------------------------------------------------- heap pressure: restart first, then tell

def metrics_text(used_percent: float, max_bytes: int = 1 << 30) -> str:
    return ('jvm_memory_bytes_used{area="heap",} %s\njvm_memory_bytes_max{area="heap",} %s\n'
            % (float(int(max_bytes * used_percent / 100)), float(max_bytes)))


@pytest.fixture
def heap_env(env: t.Dict[str, t.Any], monkeypatch: t.Any) -> t.Dict[str, t.Any]:
    env["metrics"] = []
    env["slept"] = []
    monkeypatch.setattr(platform_service.PlatformService, "metrics",
                        lambda self: env["metrics"].pop(0) if len(env["metrics"]) > 1 else env["metrics"][0])
    monkeypatch.setattr(platform_service.time, "sleep", env["slept"].append)
    return env


def test_heap_pressure_restarts_first_and_reports_it_persists(heap_env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    heap_env["healths"] = [OK]
    heap_env["metrics"] = [metrics_text(91), metrics_text(90.5)]
    heap_env["age"] = 3600.0
    r = run(capsys, heap_pressure_percent=80, heap_settle_seconds=60)
    assert heap_env["backend"].acted == [("restart", "yb-platform")]
    assert r["actions"][0]["reason"].startswith("heap pressure: 91.0% of the max heap used (threshold 80.0%)")
    assert r["heap_before"]["heap_used_percent"] == 91.0 and r["heap"]["heap_used_percent"] == 90.5
    assert r["heap_pressure"] is True and r["heap_pressure_persists"] is True
    assert "java_opts" not in r["heap"] and "java_opts" not in r["heap_before"]


def test_heap_relieved_by_the_restart(heap_env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    heap_env["healths"] = [OK]
    heap_env["metrics"] = [metrics_text(91), metrics_text(40)]
    r = run(capsys, heap_pressure_percent=80, heap_settle_seconds=60)
    assert r["changed"] and r["heap_pressure"] is False and r["heap_pressure_persists"] is False


def test_young_process_is_measured_once_settled_not_restarted(heap_env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    heap_env["healths"] = [OK]
    heap_env["metrics"] = [metrics_text(91)]
    heap_env["age"] = 20.0  # restarted 20 s ago (say by the metadata DB repair): that restart already happened
    r = run(capsys, heap_pressure_percent=80, heap_settle_seconds=60)
    assert heap_env["backend"].acted == [] and r["changed"] is False
    assert heap_env["slept"] == [40.0] and r["heap_settle_wait_seconds"] == 40.0
    assert r["heap_pressure"] is True and r["heap_pressure_persists"] is True


def test_no_heap_pressure_no_restart_and_no_heap_option_no_wait(heap_env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    heap_env["healths"] = [OK]
    heap_env["metrics"] = [metrics_text(60)]
    r = run(capsys, heap_pressure_percent=80)
    assert r["changed"] is False and r["heap_pressure"] is False and r["heap_pressure_persists"] is False
    heap_env["metrics"] = [metrics_text(95)]
    heap_env["age"] = 1.0
    r = run(capsys)  # without heap_pressure_percent heap is reported but never acted on, and nothing waits
    assert r["changed"] is False and heap_env["slept"] == [] and "heap_pressure" not in r


def test_heap_pressure_check_mode_predicts_the_restart(heap_env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    heap_env["healths"] = [OK]
    heap_env["metrics"] = [metrics_text(91)]
    r = run(capsys, heap_pressure_percent=80, _ansible_check_mode=True)
    assert r["changed"] and heap_env["backend"].acted == [] and r["actions"][0]["reason"].startswith("heap pressure")
    assert r["heap_pressure"] is None and r["heap_pressure_persists"] is None


@pytest.mark.parametrize("params,msg", [
    (dict(heap_pressure_percent=0), "heap_pressure_percent must be more than 0 and at most 100, got 0"),
    (dict(heap_pressure_percent=120), "heap_pressure_percent must be more than 0 and at most 100, got 120"),
    (dict(heap_settle_seconds=-1), "heap_settle_seconds must not be negative, got -1"),
])
def test_validate_heap_options(params: t.Dict[str, t.Any], msg: str) -> None:
    base = dict(state="healthy", services=["yb-platform"], wait_timeout=300, probe_timeout=10, **API)
    base.update(params)
    assert platform_service.validate(base) == msg


def test_restarted_does_not_wait_for_a_young_process_to_settle(heap_env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    heap_env["healths"] = [OK]
    heap_env["metrics"] = [metrics_text(91)]
    heap_env["age"] = 1.0
    r = run(capsys, state="restarted", heap_pressure_percent=80, heap_settle_seconds=60, reason="stuck backups")
    assert heap_env["backend"].acted == [("restart", "yb-platform")] and "heap_before" not in r
    assert heap_env["slept"] == [59.0]  # only the new process is waited for (the fake's age stays 1 s)
    assert r["heap_pressure"] is True and r["heap_pressure_persists"] is True


def test_stopped_verifies_it_stays_down(env: t.Dict[str, t.Any], capsys: t.Any, tmp_path: t.Any) -> None:
    unit = tmp_path / "yb-platform.service"
    unit.write_text("[Service]\nExecStart=/x/yugaware/bin/yugaware\nRestart=always\nRestartSec=1\n")
    env["layout"] = dataclasses.replace(env["layout"], platform_unit=str(unit))
    r = run(capsys, state="stopped")
    assert r["changed"] and env["backend"].acted == [("stop", "yb-platform")]
    assert r["stay_down"] == dict(r["stay_down"], required_seconds=6.0, restart="always", restart_sec=1.0, evidence=None)
    assert r["stayed_down_seconds"] >= 6.0 and r["stay_down"]["observations"] >= 6
    r = run(capsys, state="stopped", stay_down_seconds=3)  # already down: checked once, no wait
    assert not r["changed"] and r["stay_down"]["required_seconds"] == 0 and r["stay_down"]["observations"] == 1


class ComesBack(FakeBackend):
    """A service manager that starts the platform again 1 s after it was stopped (Restart=, a watchdog)."""

    def status(self, services: t.Sequence[str]) -> t.Dict[str, _service.ServiceStatus]:
        if getattr(self, "stopped_at", None) and _service.time.monotonic() - self.stopped_at > 1:
            self.states[_service.PLATFORM] = _service.RUNNING
        return super().status(services)

    def act(self, action: str, service: str, timeout: t.Optional[float] = None) -> _service.CmdResult:
        self.stopped_at = _service.time.monotonic()
        return super().act(action, service, timeout)


def test_stopped_fails_when_the_platform_comes_back(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    env["backend"] = ComesBack({})
    r = run(capsys, state="stopped", stay_down_seconds=5)
    assert r["failed"] and r["failed_check"] == "stay_down"
    assert r["msg"].startswith("yb-platform came back ") and "process 200 is running" in r["msg"]
    assert 1 <= r["stay_down"]["watched_seconds"] < 5 and r["stay_down"]["evidence"] == "process 200 is running (state S)"


def test_stopped_refuses_a_platform_its_manager_does_not_run(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    """yba-ctl says 'Not managed by yba installer' yet a platform JVM runs: never killed, a clear failure."""
    env["backend"] = FakeBackend({"yb-platform": _service.UNMANAGED})
    env["stray_process"] = True
    r = run(capsys, state="stopped")
    assert r["failed"] and env["backend"].acted == [] and r["failed_check"] == "stay_down"
    assert r["msg"].startswith("yb-platform is not down: process 100 is running (state S), though fake does not report")


class ErroredYbaCtl(_service.YbaCtlBackend):
    """yba-ctl over a crash-looping unit: 'stop' is a no-op while Errored (yba-installer's Platform.Stop()), the
    pending restart makes it Running 1 s later."""

    def __init__(self) -> None:
        super().__init__("/usr/bin/yba-ctl", runner=self.fake)
        self.state = "Errored"
        self.since = _service.time.monotonic()
        self.argvs: t.List[t.List[str]] = []
        self.acted: t.List[t.Any] = []

    @property
    def states(self) -> t.Dict[str, str]:  # what the fixture's process lookup reads
        return {"yb-platform": _service.RUNNING if self.state == "Running" else _service.STOPPED}

    def fake(self, argv: t.List[str], timeout: t.Optional[float]) -> _service.CmdResult:
        self.argvs.append(list(argv))
        if self.state == "Errored" and _service.time.monotonic() - self.since > 1:
            self.state = "Running"
        if argv[1:] == ["stop", "yb-platform"] and self.state == "Running":
            self.state = "Stopped"
        if argv[1] == "status":
            return _service.CmdResult(argv, 0, " yb-platform | 2.18 | 443 | /l | %s |\n" % self.state)
        return _service.CmdResult(argv, 0)


def test_yba_ctl_errored_platform_is_stopped_after_its_pending_restart(env: t.Dict[str, t.Any], capsys: t.Any) -> None:
    backend = ErroredYbaCtl()
    env["backend"] = backend
    r = run(capsys, state="stopped", stay_down_seconds=2)
    assert not r.get("failed"), r
    assert r["commands"] == ["/usr/bin/yba-ctl stop yb-platform", "/usr/bin/yba-ctl stop yb-platform"]
    assert backend.state == "Stopped" and r["stayed_down_seconds"] >= 2
    with_systemctl = ErroredYbaCtl()
    assert with_systemctl.stop_pending_restart("yb-platform", 5, systemctl="/bin/systemctl") == [
        "/bin/systemctl stop yb-platform.service"]
