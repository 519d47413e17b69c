# Unit tests of _service: yba-ctl/systemd/Replicated backends against recorded outputs, process detection, health.
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _api, _service as s

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "service")


def fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


class FakeRunner:
    """Answers commands from a script of (argv prefix, CmdResult fields) and records every call."""

    def __init__(self, script: t.List[t.Tuple[t.List[str], int, str]]) -> None:
        self.script = list(script)
        self.calls: t.List[t.List[str]] = []

    def __call__(self, argv: t.List[str], timeout: t.Optional[float] = None) -> s.CmdResult:
        self.calls.append(list(argv))
        for i, (prefix, rc, out) in enumerate(self.script):
            if argv[:len(prefix)] == prefix:
                del self.script[i]
                return s.CmdResult(list(argv), rc, out, "" if rc == 0 else "boom")
        raise AssertionError("unexpected command %r" % argv)


# --------------------------------------------------------------------------- yba-ctl

def test_parse_ybactl_status_218() -> None:
    found = s.parse_ybactl_status(fixture("ybactl_status_2.18.txt"))
    assert {k: v.state for k, v in found.items()} == {
        "postgres": s.RUNNING, "prometheus": s.RUNNING, "yb-platform": s.STOPPED}


def test_parse_ybactl_status_220_more_columns() -> None:
    found = s.parse_ybactl_status(fixture("ybactl_status_2.20.txt"))
    assert found["postgres"].state == s.STOPPED
    assert found["prometheus"].state == s.RUNNING
    assert found["yb-platform"].state == s.FAILED
    assert found["yb-platform"].raw == "Errored"


def test_ybactl_backend_status_and_commands() -> None:
    runner = FakeRunner([(["/usr/bin/yba-ctl", "status"], 0, fixture("ybactl_status_2.18.txt")),
                         (["/usr/bin/yba-ctl", "restart", "yb-platform"], 0, "")])
    backend = s.YbaCtlBackend("/usr/bin/yba-ctl", runner)
    status = backend.status(["yb-platform", "postgres"])
    assert not status["yb-platform"].running and status["postgres"].running
    backend.act("restart", "yb-platform")
    assert runner.calls[-1] == ["/usr/bin/yba-ctl", "restart", "yb-platform"]


def test_ybactl_backend_command_failure_is_service_error() -> None:
    runner = FakeRunner([(["/usr/bin/yba-ctl", "start"], 1, "")])
    with pytest.raises(s.ServiceError, match="yba-ctl start yb-platform exited 1: boom"):
        s.YbaCtlBackend("/usr/bin/yba-ctl", runner).act("start", "yb-platform")


def test_ybactl_missing_binary() -> None:
    runner = FakeRunner([(["/nope/yba-ctl", "status"], 127, "")])
    with pytest.raises(s.ServiceError, match="exited 127"):
        s.YbaCtlBackend("/nope/yba-ctl", runner).status(["yb-platform"])


# --------------------------------------------------------------------------- systemd

@pytest.mark.parametrize("name,state,pid", [
    ("systemctl_show_running.txt", s.RUNNING, 21873),
    ("systemctl_show_failed.txt", s.FAILED, None),
    ("systemctl_show_auto_restart.txt", s.FAILED, None),
    ("systemctl_show_inactive.txt", s.STOPPED, None),
    ("systemctl_show_not_found.txt", s.NOT_INSTALLED, None),
])
def test_systemd_states(name: str, state: str, pid: t.Optional[int]) -> None:
    runner = FakeRunner([(["systemctl", "show"], 0, fixture(name))])
    status = s.SystemdBackend("systemctl", runner).status(["yb-platform"])["yb-platform"]
    assert (status.state, status.pid) == (state, pid)
    assert runner.calls[0][-1] == "yb-platform.service"


def test_systemd_commands_and_daemon_reload() -> None:
    runner = FakeRunner([(["systemctl", "restart", "postgres.service"], 0, ""),
                         (["systemctl", "daemon-reload"], 0, "")])
    backend = s.SystemdBackend("systemctl", runner)
    backend.act("restart", "postgres")
    backend.daemon_reload()
    assert runner.calls == [["systemctl", "restart", "postgres.service"], ["systemctl", "daemon-reload"]]


# --------------------------------------------------------------------------- Replicated

def test_replicated_status() -> None:
    runner = FakeRunner([(["replicatedctl", "app", "status"], 0, fixture("replicatedctl_app_status_started.json")),
                         (["docker", "inspect"], 0, fixture("docker_inspect_running.txt"))])
    status = s.ReplicatedBackend("replicatedctl", "docker", runner).status(["yb-platform", "postgres"])
    assert status["yb-platform"].state == s.RUNNING and status["yb-platform"].pid == 30411
    assert status["postgres"].running


def test_replicated_status_restarting_container_is_failed() -> None:
    runner = FakeRunner([(["replicatedctl", "app", "status"], 0, fixture("replicatedctl_app_status_started.json")),
                         (["docker", "inspect"], 1, fixture("docker_inspect_restarting.txt"))])
    status = s.ReplicatedBackend("replicatedctl", "docker", runner).status(["yb-platform", "prometheus"])
    assert status["yb-platform"].state == s.FAILED
    assert status["prometheus"].state == s.STOPPED  # missing container


def test_replicated_restart_stops_waits_and_starts_the_app() -> None:
    runner = FakeRunner([
        (["replicatedctl", "app", "stop"], 0, ""),
        (["replicatedctl", "app", "status"], 0, fixture("replicatedctl_app_status_stopping.json")),
        (["replicatedctl", "app", "status"], 0, fixture("replicatedctl_app_status_stopped.json")),
        (["replicatedctl", "app", "start"], 0, ""),
    ])
    sleeps: t.List[float] = []
    backend = s.ReplicatedBackend("replicatedctl", "docker", runner, sleep=sleeps.append, poll_interval=2)
    assert not backend.per_service
    backend.act("restart", "yb-platform")
    assert [c[-1] for c in runner.calls] == ["stop", "status", "status", "start"]
    assert backend.describe("restart", "yb-platform") == "replicatedctl app stop; replicatedctl app start"
    assert sleeps == [2]


def test_replicated_garbage_output() -> None:
    runner = FakeRunner([(["replicatedctl", "app", "status"], 0, "Error: replicated is not running")])
    with pytest.raises(s.ServiceError, match="cannot parse 'replicatedctl app status'"):
        s.ReplicatedBackend("replicatedctl", "docker", runner).status(["yb-platform"])


# --------------------------------------------------------------------------- backend selection

def test_select_backend_unknown_install() -> None:
    with pytest.raises(s.ServiceError, match="no YBA install found on this host"):
        s.select_backend("unknown", None)


def test_select_backend_falls_back_to_systemd_then_fails_clearly(tmp_path: t.Any) -> None:
    backend = s.select_backend("yba-installer", str(tmp_path / "missing"), which=lambda n: "/bin/systemctl")
    assert backend.name == "systemd"
    with pytest.raises(s.ServiceError, match="neither yba-ctl nor systemctl is available"):
        s.select_backend("yba-installer", str(tmp_path / "missing"), which=lambda n: None)


def test_select_backend_ybactl(tmp_path: t.Any) -> None:
    ctl = tmp_path / "yba-ctl"
    ctl.write_text("#!/bin/sh\n")
    ctl.chmod(0o755)
    assert s.select_backend("yba-installer", str(ctl)).name == "yba-ctl"
    with pytest.raises(s.ServiceError, match="replicatedctl is not on PATH"):
        s.select_backend("replicated", None, which=lambda n: None)


# --------------------------------------------------------------------------- planning

def st(**states: str) -> t.Dict[str, s.ServiceStatus]:
    return {k.replace("_", "-"): s.ServiceStatus(k.replace("_", "-"), v, v) for k, v in states.items()}


def test_plan_healthy_does_nothing_when_all_is_well() -> None:
    assert s.plan_actions("healthy", ["postgres", "yb-platform"], st(postgres=s.RUNNING, yb_platform=s.RUNNING)) == []


def test_plan_healthy_restarts_hung_platform_only() -> None:
    actions = s.plan_actions("healthy", ["postgres", "yb-platform"], st(postgres=s.RUNNING, yb_platform=s.RUNNING),
                             "hung: no answer")
    assert [(a.action, a.service) for a in actions] == [("restart", "yb-platform")]


def test_plan_postgres_before_platform_after_crash() -> None:
    actions = s.plan_actions("healthy", ["yb-platform", "postgres"], st(postgres=s.STOPPED, yb_platform=s.FAILED))
    assert [(a.action, a.service) for a in actions] == [("start", "postgres"), ("restart", "yb-platform")]


def test_plan_stopped_reverse_order_and_restarted() -> None:
    both = st(postgres=s.RUNNING, prometheus=s.RUNNING, yb_platform=s.RUNNING)
    stop = s.plan_actions("stopped", ["postgres", "prometheus", "yb-platform"], both)
    assert [a.service for a in stop] == ["yb-platform", "prometheus", "postgres"]
    restart = s.plan_actions("restarted", ["yb-platform", "postgres"], both)
    assert [(a.action, a.service) for a in restart] == [("restart", "postgres"), ("restart", "yb-platform")]
    assert s.plan_actions("started", ["yb-platform"], both, "hung") == []


# --------------------------------------------------------------------------- processes

def test_parse_proc_stat_with_odd_comm() -> None:
    text = "4242 (java (x) y) T 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 40 0 987654 123 456"
    assert s.parse_proc_stat(text) == ("T", 987654)


def test_is_platform_cmdline() -> None:
    assert s.is_platform_cmdline(["/usr/bin/python3", "/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware",
                                  "-Dconfig.file=/x/yb-platform.conf"])
    assert s.is_platform_cmdline(["java", "-Xmx2g", "play.core.server.ProdServerStart"])
    assert s.is_platform_cmdline(["/srv/run-me"], exec_paths=["/srv/run-me"])
    assert not s.is_platform_cmdline(["/usr/bin/python3", "-m", "http.server"])


SOFT = "/opt/yugabyte/software/2.20.1.3-b3"
# A real yba-installer host: the start script (the unit's ExecStart) before it execs java, and the JVM after.
REAL_PLATFORM_LINES = [
    ["/bin/bash", SOFT + "/yb-platform/yugaware/bin/yugaware", "-Dconfig.file=" + SOFT + "/yb-platform/conf/yb-platform.conf",
     "-Dhttp.port=disabled", "-Dhttps.port=443"],
    [SOFT + "/jdk/bin/java", "-Duser.dir=" + SOFT + "/yb-platform/yugaware", "-XX:G1PeriodicGCInterval=120000",
     "-Dconfig.file=" + SOFT + "/yb-platform/conf/yb-platform.conf", "-Dhttp.port=disabled", "-Dhttps.port=443",
     "-cp", SOFT + "/yb-platform/yugaware/lib/*", "play.core.server.ProdServerStart"],
    ["java", "-Dconfig.file=/opt/yugabyte/yb-platform.conf", "-jar", "/x/yugaware.jar"],
    # Replicated's container: the main class, another config file name
    ["/usr/lib/jvm/java-17/bin/java", "-Dconfig.file=/data/application.docker.conf", "-cp", "/opt/yugabyte/yugaware/lib/*",
     "play.core.server.ProdServerStart"],
    # the lab's simulator: the start script run by an interpreter
    ["/usr/bin/python3", "/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware", "-Xmx1g",
     "-Dconfig.file=/opt/yugabyte/software/active/yb-platform/conf/yb-platform.conf", "-Dhttps.port=8443"],
]
# What an operator runs on the same host while looking at the platform: none of it is the platform.
DECOY_LINES = [
    ["journalctl", "-fu", "yb-platform"],
    ["journalctl", "-u", "yb-platform.service", "--since", "today"],
    ["systemctl", "status", "yb-platform"],
    ["sudo", "systemctl", "restart", "yb-platform"],
    ["/usr/bin/yba-ctl", "restart", "yb-platform"],
    ["yba-ctl", "status"],
    ["tail", "-f", "/opt/yugabyte/data/logs/yb-platform.log"],
    ["tail", "-f", "/opt/yugabyte/data/logs/application.log"],
    ["less", SOFT + "/yb-platform/conf/yb-platform.conf"],
    ["vi", SOFT + "/yb-platform/yugaware/bin/yugaware"],
    ["tail", "-f", SOFT + "/yb-platform/yugaware/bin/yugaware"],
    ["grep", "-r", "play.core.server.ProdServerStart", "/opt/yugabyte"],
    ["grep", "-Dconfig.file=/x/yb-platform.conf"],
    ["bash", "-c", "tail -f /opt/yugabyte/data/logs/application.log | grep yb-platform"],
    ["sh", "-c", SOFT + "/yb-platform/yugaware/bin/yugaware"],
    ["/usr/bin/python3", "-m", "yb-platform"],
    ["python3", "/root/scripts/yb-platform.py"],
    ["yb-platform"],
    ["/usr/local/bin/yb-platform"],
    ["java", "-jar", "/opt/other/app.jar", "--name", "yb-platform"],  # another JVM on the host
    ["java", "-Dconfig.file=/etc/other/application.conf", "com.example.Main"],
    ["/usr/bin/java"],  # a generic ExecStart program alone is not enough
    ["ps", "-ef"],
    [],
]


@pytest.mark.parametrize("argv", REAL_PLATFORM_LINES)
def test_real_platform_command_lines_match(argv: t.List[str]) -> None:
    assert s.is_platform_cmdline(argv, exec_paths=[SOFT + "/yb-platform/yugaware/bin/yugaware"])
    assert s.is_platform_cmdline(argv)


@pytest.mark.parametrize("argv", DECOY_LINES)
def test_decoys_naming_the_platform_are_not_the_platform(argv: t.List[str]) -> None:
    assert not s.is_platform_cmdline(argv, exec_paths=["/usr/bin/java", SOFT + "/yb-platform/yugaware/bin/yugaware"])
    assert not s.is_platform_cmdline(argv)


def test_platform_scan_skips_decoys(tmp_path: t.Any) -> None:
    """Decoys with more memory than the platform, and with no platform at all: never picked."""
    for pid, argv in enumerate(DECOY_LINES[:-1], start=400):
        _fake_proc(tmp_path, pid, "S", argv, 5000000)
    assert s.find_platform_process(str(tmp_path)) is None
    _fake_proc(tmp_path, 999, "S", REAL_PLATFORM_LINES[1], 10)
    assert s.find_platform_process(str(tmp_path)).pid == 999
    assert s.find_platform_process(str(tmp_path), hint_pids=[400]).pid == 400  # a backend's MainPID is trusted


def _fake_proc(root: t.Any, pid: int, state: str, argv: t.List[str], rss_kb: int, env: bytes = b"") -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "stat").write_text("%d (x) %s 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0" % (pid, state, pid * 10))
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "status").write_text("Name:\tx\nVmRSS:\t  %d kB\n" % rss_kb)
    (d / "environ").write_bytes(env)


def test_find_platform_process_scan_hint_and_zombie(tmp_path: t.Any) -> None:
    launcher = "/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware"
    _fake_proc(tmp_path, 100, "S", ["bash", launcher], 2000)
    _fake_proc(tmp_path, 101, "T", ["java", "-Xmx2g", "-Dconfig.file=/c/yb-platform.conf"], 900000,
               b"A=1\0JAVA_OPTS=-Xmx2g\0")
    _fake_proc(tmp_path, 102, "Z", ["java", launcher], 0)
    _fake_proc(tmp_path, 103, "S", ["sshd"], 5000)
    found = s.find_platform_process(str(tmp_path))
    assert found is not None and found.pid == 101 and found.stopped and found.rss_bytes == 900000 * 1024
    assert found.java_opts == "-Xmx2g"
    assert s.find_platform_process(str(tmp_path), hint_pids=[103]).pid == 103
    assert s.find_platform_process(str(tmp_path), hint_pids=[102]).pid == 101  # zombie skipped
    assert s.read_process(999, str(tmp_path)) is None


def test_unit_exec_start() -> None:
    unit = "[Service]\nExecStart=/opt/y/yugaware/bin/yugaware \\\n  -Dhttps.port=443\nRestart=always\n"
    assert s.unit_exec_start(unit) == ["/opt/y/yugaware/bin/yugaware", "-Dhttps.port=443"]


# --------------------------------------------------------------------------- health

class FakeClient:
    def __init__(self, version: t.Any = None, auth: t.Any = None) -> None:
        self.version = version
        self.auth = auth

    def app_version(self, timeout: float, retries: int = 0) -> t.Dict[str, t.Any]:
        if isinstance(self.version, Exception):
            raise self.version
        return {"version": self.version, "latency_ms": 3.0}

    def get(self, path: str, timeout: float, retries: int = 0) -> t.Any:
        if isinstance(self.auth, Exception):
            raise self.auth
        return [{"uuid": "c"}]


def test_probe_health_cases() -> None:
    ok = s.probe_health(FakeClient("2.18.1.0-b84"), 5)
    assert ok.healthy and ok.version == "2.18.1.0-b84"
    hung = s.probe_health(FakeClient(_api.YBATimeout("no answer within 5.0 s")), 5)
    assert (hung.healthy, hung.failed_check, hung.hung) == (False, "app_version", True)
    down = s.probe_health(FakeClient(_api.YBAUnreachable("connection refused")), 5)
    assert down.refused and "not answering" in down.message
    noversion = s.probe_health(FakeClient(None), 5)
    assert noversion.failed_check == "app_version" and "without a version" in noversion.message
    auth = s.probe_health(FakeClient("2.18", _api.YBAAuthError("bad token", status=401)), 5)
    assert (auth.failed_check, auth.auth_rejected) == ("auth", True)
    err500 = s.probe_health(FakeClient("2.18", _api.YBAError("db down", status=500)), 5)
    assert err500.failed_check == "auth" and not err500.auth_rejected


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, delay: float) -> None:
        assert delay >= 0
        self.now += delay


def test_wait_healthy_is_bounded_by_wait_timeout() -> None:
    clock = Clock()
    timeouts: t.List[float] = []

    def probe(timeout: float) -> s.Health:
        timeouts.append(timeout)
        clock.now += timeout  # a hung platform uses the whole probe timeout
        return s.Health(False, "app_version", "hung", hung=True)

    health, probes, waited = s.wait_healthy(probe, 30, 10, max_delay=4, clock=clock, sleep=clock.sleep)
    assert not health.healthy and waited <= 30.5
    assert all(x <= 10 for x in timeouts) and probes >= 2


def test_wait_healthy_returns_when_healthy_with_capped_backoff() -> None:
    clock = Clock()
    answers = iter([s.Health(False, "app_version", "refused", refused=True)] * 5 + [s.Health(True, version="v")])
    delays: t.List[float] = []

    def sleep(delay: float) -> None:
        delays.append(delay)
        clock.now += delay

    health, probes, _w = s.wait_healthy(lambda timeout: next(answers), 300, 10, max_delay=2, clock=clock, sleep=sleep)
    assert health.healthy and probes == 6
    assert delays == [0.5, 1, 2, 2, 2]


def test_wait_healthy_stops_on_auth_rejection() -> None:
    health, probes, _w = s.wait_healthy(lambda timeout: s.Health(False, "auth", "401", client_error="auth"), 300, 10)
    assert probes == 1 and health.auth_rejected


@pytest.mark.parametrize("kind", ["ca_file", "tls_verify", "tls_handshake"])
def test_probe_health_tls_and_ca_problems_are_client_side(kind: str) -> None:
    err = _api.YBATLSError("TLS with https://yba failed on the client side", kind=kind)
    h = s.probe_health(FakeClient(err), 5)
    assert (h.healthy, h.failed_check, h.client_error) == (False, "tls", kind)
    assert not h.hung and not h.refused  # neither "down" nor "hung": the platform was not judged
    msg = s.client_config_message(h)
    assert "not restarted" in msg and "yba_ca_path" in msg and kind in msg


def test_probe_health_platform_side_failures_are_not_client_side() -> None:
    for err in (_api.YBATimeout("no answer"), _api.YBAUnreachable("connection refused"),
                _api.YBAError("boom", status=500)):
        assert s.probe_health(FakeClient(err), 5).client_error is None
    auth = s.probe_health(FakeClient("2.18", _api.YBAAuthError("bad token", status=401)), 5)
    assert auth.client_error == "auth" and "rejected yba_api_token" in s.client_config_message(auth)
    assert s.probe_health(FakeClient("2.18"), 5).as_dict()["client_error"] is None


def test_wait_healthy_stops_on_a_client_side_tls_problem() -> None:
    health, probes, _w = s.wait_healthy(
        lambda timeout: s.Health(False, "tls", "certificate verify failed", client_error="tls_verify"), 300, 10)
    assert probes == 1 and health.client_error == "tls_verify"


def test_ca_file_from_content_is_private_and_usable(tmp_path: t.Any) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    path = _api.ca_file_from_content(pem, str(tmp_path))
    assert os.path.dirname(path) == str(tmp_path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == pem + "\n"
    assert _api.ca_file_problem(path) is None


def test_find_platform_process_host_root_filter(tmp_path: t.Any) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    _fake_proc(proc, 200, "S", ["python", "/tmp/lab-a/host/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware"],
               9000)
    _fake_proc(proc, 201, "S", ["python", "/tmp/lab-b/host/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware",
                                "-Dconfig.file=/tmp/lab-b/host/x/yb-platform.conf"], 100)
    assert s.find_platform_process(str(proc)).pid == 200  # host_root "/": the biggest one
    assert s.find_platform_process(str(proc), host_root="/tmp/lab-b/host").pid == 201
    assert s.find_platform_process(str(proc), host_root="/tmp/lab-c/host") is None


def test_collapse_app_actions_for_replicated() -> None:
    acts = [s.Action("start", "postgres", "is stopped"), s.Action("restart", "yb-platform", "hung")]
    (one,) = s.collapse_app_actions(acts)
    assert (one.action, one.service) == ("restart", "application")
    assert one.reason == "postgres is stopped; yb-platform hung"
    assert s.collapse_app_actions([s.Action("stop", "yb-platform", "x"), s.Action("stop", "postgres", "y")])[0].action == "stop"
    assert s.collapse_app_actions([]) == []


def test_platform_process_is_this_hosts_own(tmp_path: t.Any) -> None:
    from ansible_collections.yba.remediation.plugins.module_utils import _layout

    host = tmp_path / "host"
    (host / "opt/yba-ctl").mkdir(parents=True)
    (host / "opt/yba-ctl/yba-ctl.yml").write_text("installRoot: /opt/yugabyte\n")
    (host / "opt/yugabyte/software").mkdir(parents=True)
    (host / "etc/systemd/system").mkdir(parents=True)
    exe = "/opt/yugabyte/software/2.18/yb-platform/yugaware/bin/yugaware"
    (host / "etc/systemd/system/yb-platform.service").write_text(
        "[Service]\nExecStart=%s -Dconfig.file=/x/yb-platform.conf\n" % exe)
    proc = tmp_path / "proc"
    proc.mkdir()
    # another lab's platform on the same machine (bigger), and this host's
    _fake_proc(proc, 100, "S", ["python", "/tmp/other-lab/host" + exe, "-Dconfig.file=/x/yb-platform.conf"], 9000)
    _fake_proc(proc, 200, "T", ["python", str(host) + exe, "-Dconfig.file=/x/yb-platform.conf"], 10)
    layout = _layout.detect(str(host))
    found = s.platform_process(layout, [], proc_root=str(proc))
    assert found is not None and found.pid == 200 and found.stopped
    (proc / "200" / "stat").unlink()
    assert s.platform_process(layout, [], proc_root=str(proc)) is None  # the other lab's is not ours


def test_running_software_versions_come_from_the_platform_command_line(tmp_path: t.Any) -> None:
    """An upgrade left its restart pending: active points at the new version, the platform still runs the old one;
    both are read without the metadata DB, from the process."""
    from ansible_collections.yba.remediation.plugins.module_utils import _layout

    host = tmp_path / "host"
    (host / "opt/yba-ctl").mkdir(parents=True)
    (host / "opt/yba-ctl/yba-ctl.yml").write_text("installRoot: /opt/yugabyte\n")
    for ver in ("2.18.1.0-b84", "2.20.1.3-b3"):
        (host / "opt/yugabyte/software" / ver / "yb-platform/yugaware/bin").mkdir(parents=True)
    (host / "opt/yugabyte/software/active").symlink_to("2.20.1.3-b3")
    (host / "etc/systemd/system").mkdir(parents=True)
    exe = "/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware"
    (host / "etc/systemd/system/yb-platform.service").write_text("[Service]\nExecStart=%s\n" % exe)
    proc = tmp_path / "proc"
    proc.mkdir()
    old = "/opt/yugabyte/software/2.18.1.0-b84/yb-platform"
    _fake_proc(proc, 300, "S", ["java", "-Dconfig.file=" + str(host) + old + "/conf/yb-platform.conf",
                                str(host) + old + "/yugaware/bin/yugaware"], 10)
    layout = _layout.detect(str(host))
    assert s.running_software_versions(layout, proc_root=str(proc)) == ["2.18.1.0-b84"]
    (proc / "300" / "stat").unlink()
    assert s.running_software_versions(layout, proc_root=str(proc)) == []


@pytest.mark.parametrize("text,seconds", [("10", 10.0), ("10s", 10.0), ("500ms", 0.5), ("1min 30s", 90.0), ("2m", 120.0),
                                          ("x", None), ("10 fortnights", None), ("", None)])
def test_parse_timespan(text: str, seconds: t.Optional[float]) -> None:
    assert s.parse_timespan(text) == seconds


def test_unit_restart_reads_dropins_and_systemd_default(tmp_path: t.Any) -> None:
    unit = tmp_path / "yb-platform.service"
    assert s.unit_restart(str(unit)) == (None, None)
    unit.write_text("[Service]\nExecStart=/x\n")
    assert s.unit_restart(str(unit)) == ("no", 0.1)
    unit.write_text("[Service]\nExecStart=/x\nRestart=always\nRestartSec=10\n")
    assert s.unit_restart(str(unit)) == ("always", 10.0)
    (tmp_path / "yb-platform.service.d").mkdir()
    (tmp_path / "yb-platform.service.d/50-x.conf").write_text("[Service]\nRestartSec=30s\n")
    assert s.unit_restart(str(unit)) == ("always", 30.0)

    class L:
        platform_unit = str(unit)
    assert s.stay_down_default(L()) == 35.0
    (tmp_path / "yb-platform.service.d/60-y.conf").write_text("[Service]\nRestartSec=5min\n")
    assert s.stay_down_default(L()) == s.STAY_DOWN_CAP
    L.platform_unit = None
    assert s.stay_down_default(L()) == s.STAY_DOWN_MARGIN


def test_watch_stays_down_is_bounded_and_stops_at_evidence() -> None:
    now = [0.0]
    seen: t.List[t.Optional[str]] = [None, None, None, "process 7 is running (state S)"]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert s.watch_stays_down(lambda: None, 3.5, clock=lambda: now[0], sleep=sleep) == (3.5, None, 5)
    now[0] = 0.0
    assert s.watch_stays_down(lambda: seen.pop(0), 10, clock=lambda: now[0], sleep=sleep) == (
        3.0, "process 7 is running (state S)", 4)
    assert s.watch_stays_down(lambda: None, 0, clock=lambda: now[0], sleep=sleep)[1:] == (None, 1)
