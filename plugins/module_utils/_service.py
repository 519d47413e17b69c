# Private module_util: control the YBA services (yba-ctl, systemd units, Replicated) and find the platform process.
#
# This is the ONE place that answers "is the platform process running, what is its pid, is it stopped
# (SIGSTOP) or a zombie". Backends are small objects over an injectable command runner so the systemd
# and Replicated paths are unit-tested against recorded command outputs.
from __future__ import annotations

import glob
import json
import os
import re
import shlex
import signal
import subprocess
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.yba.remediation.plugins.module_utils import _heap

PLATFORM = "yb-platform"
POSTGRES = "postgres"
PROMETHEUS = "prometheus"
SERVICES = (POSTGRES, PROMETHEUS, PLATFORM)  # also the start order: the metadata DB before the platform

# Normalised service states.
RUNNING = "running"
STOPPED = "stopped"
FAILED = "failed"
NOT_INSTALLED = "not-installed"
UNMANAGED = "unmanaged"
UNKNOWN = "unknown"

# The YBA platform's JVM command line. The unit's ExecStart is the Play/sbt-native-packager start script
# <version>/yb-platform/yugaware/bin/yugaware (yba-installer's config/templates/yba-installer-platform.yml), which execs
# `java ... -Dconfig.file=<...>/yb-platform.conf ... play.core.server.ProdServerStart` (Play's main class). Only the
# PROGRAM of a process counts (argv[0], or the script an interpreter runs): an argument naming the platform, as in
# `journalctl -fu yb-platform`, `tail -f .../yb-platform.log` or `less .../yb-platform.conf`, is not the platform.
_MAIN_CLASS = "play.core.server.ProdServerStart"
_CONFIG_ARG = re.compile(r"^-Dconfig\.file=(.*/)?yb-platform\.conf$")
_START_SCRIPT = re.compile(r"(^|/)yugaware/bin/yugaware$")
_JAVA = re.compile(r"^java$")
# interpreters that run a script named by their first non-option argument (the start script is a shell script)
_INTERPRETERS = re.compile(r"^(sh|bash|dash|ksh|zsh|python[0-9.]*)$")
# programs that are never the platform by themselves, even when a unit's ExecStart names one of them
_GENERIC_PROGRAMS = re.compile(r"^(java|env|sh|bash|dash|ksh|zsh|python[0-9.]*|sudo|runuser|nohup|timeout)$")


class ServiceError(Exception):
    """A service command failed or the service could not be controlled."""


@dataclass
class CmdResult:
    argv: t.List[str]
    rc: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    @property
    def command(self) -> str:
        return " ".join(shlex.quote(a) for a in self.argv)

    def summary(self) -> str:
        if self.timed_out:
            return "%s timed out" % self.command
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "%s exited %d%s" % (self.command, self.rc, (": " + text[-1]) if text else "")


Runner = t.Callable[[t.List[str], t.Optional[float]], CmdResult]


def run_command(argv: t.List[str], timeout: t.Optional[float] = None, cwd: t.Optional[str] = None) -> CmdResult:
    """Run a command without a shell (in ``cwd`` when given); never raises (a missing binary is rc 127, a timeout
    rc 124).

    The command runs in its own session (process group): on a timeout the whole group is killed (SIGKILL), so what
    it started (yba-ctl's backup script, its systemctl calls) does not run on unseen. A child that started a session
    of its own (a daemon) is not in the group and is left alone."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                close_fds=True, cwd=cwd, start_new_session=True)
    except FileNotFoundError as exc:
        return CmdResult(list(argv), 127, "", str(exc))
    except OSError as exc:
        return CmdResult(list(argv), 126, "", str(exc))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:  # the group is dead: its pipes close; a member that left the group may still hold them
            out, _err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out = b""
            proc.kill()
            proc.wait()
        return CmdResult(list(argv), 124, (out or b"").decode("utf-8", "replace"),
                         "timed out after %ss: killed with its process group" % timeout, timed_out=True)
    return CmdResult(list(argv), proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group ``proc`` leads (start_new_session), or ``proc`` alone when that fails."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


@dataclass
class ServiceStatus:
    name: str
    state: str
    raw: str = ""
    pid: t.Optional[int] = None

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"name": self.name, "state": self.state, "raw": self.raw, "pid": self.pid}


# --------------------------------------------------------------------------- parsers (pure)

_YBACTL_STATES = (
    ("Not managed by yba installer", UNMANAGED),
    ("Not Installed", NOT_INSTALLED),
    ("Unlicensed", FAILED),
    ("Running", RUNNING),
    ("Stopped", STOPPED),
    ("Errored", FAILED),
)


def _ybactl_state(text: str) -> t.Optional[t.Tuple[str, str]]:
    low = text.strip().lower()
    for label, state in _YBACTL_STATES:
        if low.startswith(label.lower()):
            return label, state
    return None


def parse_ybactl_status(text: str) -> t.Dict[str, ServiceStatus]:
    """Parse the ``Services:`` table of ``yba-ctl status``.

    Column sets differ across versions (2.18: ``Log File Locations``; later ``Binary Directory``,
    ``Since``), so the table is not parsed strictly: a row is a line whose first cell is a service
    name, and its state is the first cell that reads as a yba-ctl status string.
    """
    found: t.Dict[str, ServiceStatus] = {}
    for line in text.splitlines():
        if "|" not in line:
            continue
        cells = [c.strip() for c in line.split("|")]
        name = cells[0]
        if name not in SERVICES:
            continue
        state = None
        for cell in cells[1:]:
            state = _ybactl_state(cell)
            if state:
                break
        label, norm = state if state else (cells[-1], UNKNOWN)
        found[name] = ServiceStatus(name, norm, label)
    return found


def parse_systemctl_show(text: str) -> t.Dict[str, str]:
    """``Key=Value`` lines of ``systemctl show -p ...`` (one unit) into a dict."""
    props: t.Dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def systemd_state(name: str, props: t.Mapping[str, str]) -> ServiceStatus:
    """Normalise systemd's LoadState/ActiveState/SubState/MainPID of one unit."""
    load = props.get("LoadState", "")
    active = props.get("ActiveState", "")
    sub = props.get("SubState", "")
    try:
        pid: t.Optional[int] = int(props.get("MainPID", "0")) or None
    except ValueError:
        pid = None
    raw = "%s/%s/%s" % (load or "?", active or "?", sub or "?")
    if load == "not-found":
        return ServiceStatus(name, NOT_INSTALLED, raw)
    if active in ("active", "reloading") and sub in ("running", "start", "reload", "exited", ""):
        return ServiceStatus(name, RUNNING, raw, pid)
    if active == "activating":
        # auto-restart after a crash (Restart=always) or start-pre: not serving yet
        return ServiceStatus(name, FAILED if sub == "auto-restart" else STOPPED, raw, pid)
    if active == "failed":
        return ServiceStatus(name, FAILED, raw)
    if active in ("inactive", "deactivating"):
        return ServiceStatus(name, STOPPED, raw)
    return ServiceStatus(name, UNKNOWN, raw, pid)


def parse_replicated_app_status(text: str) -> t.Dict[str, t.Any]:
    """``replicatedctl app status`` prints a JSON list with one object per app (State, DesiredState...)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ServiceError("cannot parse 'replicatedctl app status' output: %s" % text.strip()[:200])
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        raise ServiceError("unexpected 'replicatedctl app status' output: %s" % text.strip()[:200])
    return data


def parse_docker_inspect(text: str) -> t.Dict[str, t.Tuple[str, int]]:
    """Lines ``<name> <status> <pid>`` from ``docker inspect --format '{{.Name}} {{.State.Status}} {{.State.Pid}}'``."""
    found: t.Dict[str, t.Tuple[str, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            try:
                found[parts[0].lstrip("/")] = (parts[1], int(parts[2]))
            except ValueError:
                continue
    return found


# --------------------------------------------------------------------------- backends

class Backend:
    """Controls the YBA services of one install type."""

    name = "none"
    per_service = True  # False: start/stop act on the whole application (Replicated)

    def __init__(self, runner: Runner = run_command, command_timeout: float = 300.0) -> None:
        self.runner = runner
        self.command_timeout = command_timeout
        self.history: t.List[CmdResult] = []

    def _run(self, argv: t.List[str], timeout: t.Optional[float] = None, check: bool = True) -> CmdResult:
        limit = self.command_timeout if timeout is None else min(timeout, self.command_timeout)
        result = self.runner(argv, max(limit, 1.0))
        self.history.append(result)
        if check and (result.rc != 0 or result.timed_out):
            raise ServiceError(result.summary())
        return result

    def status(self, services: t.Sequence[str]) -> t.Dict[str, ServiceStatus]:
        raise NotImplementedError

    def command(self, action: str, service: str) -> t.List[str]:
        """The argv that performs ``action`` (start, stop, restart) on ``service``."""
        raise NotImplementedError

    def act(self, action: str, service: str, timeout: t.Optional[float] = None) -> CmdResult:
        return self._run(self.command(action, service), timeout)

    def describe(self, action: str, service: str) -> str:
        """The command line(s) ``act`` runs, for check mode and the run record."""
        return " ".join(shlex.quote(a) for a in self.command(action, service))


class YbaCtlBackend(Backend):
    """yba-installer hosts: ``yba-ctl status|start|stop|restart [service]`` (from the installed path)."""

    name = "yba-ctl"

    def __init__(self, yba_ctl: str, runner: Runner = run_command, command_timeout: float = 300.0) -> None:
        super().__init__(runner, command_timeout)
        self.yba_ctl = yba_ctl

    def status(self, services: t.Sequence[str]) -> t.Dict[str, ServiceStatus]:
        result = self._run([self.yba_ctl, "status"], timeout=60, check=False)
        if result.timed_out or result.rc == 127:
            raise ServiceError(result.summary())
        found = parse_ybactl_status(result.stdout)
        if not found and result.rc != 0:
            raise ServiceError(result.summary())
        return {s: found.get(s, ServiceStatus(s, UNKNOWN, "not listed by yba-ctl status")) for s in services}

    def command(self, action: str, service: str) -> t.List[str]:
        return [self.yba_ctl, action, service]

    def stop_pending_restart(self, service: str, wait_seconds: float, systemctl: t.Optional[str] = None,
                             poll: float = 0.5, clock: t.Callable[[], float] = time.monotonic,
                             sleep: t.Callable[[float], None] = time.sleep) -> t.List[str]:
        """Stop a unit that ``yba-ctl stop`` leaves alone: yba-installer's Stop() acts only on a Running unit
        (cmd/platform.go, Status() maps systemd's ``activating (auto-restart)`` to Errored), so a crash-looping
        platform comes back after RestartSec. With systemd: ``systemctl stop <unit>``, which cancels the pending
        restart. Without it: wait (up to ``wait_seconds``) for the pending restart, then ``yba-ctl stop`` the
        now Running unit. Both go through the service manager, so Restart= does not apply. Returns what was done."""
        done: t.List[str] = []
        status = self.status([service])[service]
        if status.state != FAILED:
            return done
        if systemctl:
            result = self._run([systemctl, "stop", service + ".service"], check=False)
            done.append(result.command)
            if result.rc == 0:
                return done
        deadline = clock() + max(wait_seconds, 0.0)
        while status.state == FAILED and clock() < deadline:
            sleep(min(poll, max(deadline - clock(), 0.0)))
            status = self.status([service])[service]
        if status.state == RUNNING:
            done.append(self._run(self.command("stop", service)).command)
        return done


class SystemdBackend(Backend):
    """Plain systemd units yb-platform, postgres, prometheus (``systemctl``)."""

    name = "systemd"

    def __init__(self, systemctl: str = "systemctl", runner: Runner = run_command,
                 command_timeout: float = 300.0) -> None:
        super().__init__(runner, command_timeout)
        self.systemctl = systemctl

    def status(self, services: t.Sequence[str]) -> t.Dict[str, ServiceStatus]:
        found: t.Dict[str, ServiceStatus] = {}
        for service in services:
            result = self._run([self.systemctl, "show", "-p", "LoadState", "-p", "ActiveState", "-p", "SubState",
                                "-p", "MainPID", service + ".service"], timeout=60, check=False)
            if result.rc != 0:
                raise ServiceError(result.summary())
            found[service] = systemd_state(service, parse_systemctl_show(result.stdout))
        return found

    def command(self, action: str, service: str) -> t.List[str]:
        return [self.systemctl, action, service + ".service"]

    def daemon_reload(self) -> CmdResult:
        return self._run([self.systemctl, "daemon-reload"], timeout=60)


class ReplicatedBackend(Backend):
    """Legacy Replicated installs: the app is stopped and started as a whole (``replicatedctl app``)."""

    name = "replicated"
    per_service = False
    CONTAINERS = {PLATFORM: "yugaware", POSTGRES: "postgres", PROMETHEUS: "prometheus"}

    def __init__(self, replicatedctl: str = "replicatedctl", docker: str = "docker", runner: Runner = run_command,
                 command_timeout: float = 900.0, poll_interval: float = 2.0,
                 sleep: t.Callable[[float], None] = time.sleep, clock: t.Callable[[], float] = time.monotonic) -> None:
        super().__init__(runner, command_timeout)
        self.replicatedctl = replicatedctl
        self.docker = docker
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock

    def app_state(self) -> t.Dict[str, t.Any]:
        return parse_replicated_app_status(self._run([self.replicatedctl, "app", "status"], timeout=60).stdout)

    def status(self, services: t.Sequence[str]) -> t.Dict[str, ServiceStatus]:
        app = self.app_state()
        app_state = str(app.get("State", "unknown")).lower()
        names = [self.CONTAINERS[s] for s in services]
        inspect = self._run([self.docker, "inspect", "--format", "{{.Name}} {{.State.Status}} {{.State.Pid}}"]
                            + names, timeout=60, check=False)
        containers = parse_docker_inspect(inspect.stdout)
        found: t.Dict[str, ServiceStatus] = {}
        for service in services:
            cstate, pid = containers.get(self.CONTAINERS[service], ("missing", 0))
            raw = "app %s, container %s" % (app_state, cstate)
            if app_state == "started" and cstate == "running":
                found[service] = ServiceStatus(service, RUNNING, raw, pid or None)
            elif cstate in ("restarting", "dead") or app_state == "failed":
                found[service] = ServiceStatus(service, FAILED, raw)
            else:
                found[service] = ServiceStatus(service, STOPPED, raw)
        return found

    def command(self, action: str, service: str) -> t.List[str]:
        return [self.replicatedctl, "app", action]

    def describe(self, action: str, service: str) -> str:
        if action == "restart":
            return "%s app stop; %s app start" % (self.replicatedctl, self.replicatedctl)
        return super().describe(action, service)

    def _wait_app(self, want: str, timeout: float) -> None:
        deadline = self.clock() + timeout
        while True:
            state = self.app_state()
            if str(state.get("State", "")).lower() == want and not state.get("IsTransitioning"):
                return
            if self.clock() >= deadline:
                raise ServiceError("Replicated app did not reach state %r within %ss (State=%s)"
                                   % (want, int(timeout), state.get("State")))
            self.sleep(self.poll_interval)

    def act(self, action: str, service: str, timeout: t.Optional[float] = None) -> CmdResult:
        budget = self.command_timeout if timeout is None else timeout
        start = self.clock()
        if action == "restart":
            self._run([self.replicatedctl, "app", "stop"], budget)
            self._wait_app("stopped", max(budget - (self.clock() - start), 1.0))
            action = "start"
        result = self._run([self.replicatedctl, "app", action], max(budget - (self.clock() - start), 1.0))
        return result


def select_backend(install_type: str, yba_ctl_bin: t.Optional[str] = None, backend: str = "auto",
                   runner: Runner = run_command, which: t.Optional[t.Callable[[str], t.Optional[str]]] = None,
                   command_timeout: float = 300.0) -> Backend:
    """Choose the backend from the detected install type (or the user's explicit choice).

    Raises ServiceError with a clear message when there is no way to control the services.
    """
    which = which or find_executable
    if backend == "auto":
        if install_type == "yba-installer":
            backend = "yba-ctl" if yba_ctl_bin and os.access(yba_ctl_bin, os.X_OK) else "systemd"
        elif install_type == "replicated":
            backend = "replicated"
        else:
            raise ServiceError("no YBA install found on this host (install type %r): cannot control its services"
                               % install_type)
    if backend == "yba-ctl":
        if not yba_ctl_bin or not os.access(yba_ctl_bin, os.X_OK):
            raise ServiceError("yba-ctl not found or not executable at %s" % yba_ctl_bin)
        return YbaCtlBackend(yba_ctl_bin, runner, command_timeout)
    if backend == "systemd":
        systemctl = which("systemctl")
        if not systemctl:
            raise ServiceError("neither yba-ctl nor systemctl is available: no way to control the YBA services")
        return SystemdBackend(systemctl, runner, command_timeout)
    if backend == "replicated":
        ctl = which("replicatedctl")
        if not ctl:
            raise ServiceError("Replicated install detected but replicatedctl is not on PATH")
        return ReplicatedBackend(ctl, which("docker") or "docker", runner, max(command_timeout, 900.0))
    raise ServiceError("unknown service backend %r" % backend)


def find_executable(name: str) -> t.Optional[str]:
    """Path of an executable on PATH or in the usual system directories, or None."""
    for directory in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(os.pathsep) + [
            "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]:
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def systemd_running(proc_root: str = "/proc") -> bool:
    """True when systemd is PID 1 (``/run/systemd/system`` exists), i.e. systemctl can work."""
    del proc_root
    return os.path.isdir("/run/systemd/system")


# --------------------------------------------------------------------------- the platform process

@dataclass
class ProcessInfo:
    pid: int
    state: str  # /proc/<pid>/stat state letter: R S D T t Z X I
    cmdline: t.List[str] = field(default_factory=list)
    rss_bytes: t.Optional[int] = None
    start_ticks: t.Optional[int] = None
    java_opts: t.Optional[str] = None

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")

    @property
    def stopped(self) -> bool:
        """Stopped by a signal (SIGSTOP/SIGTSTP) or traced: it accepts TCP connections but never answers."""
        return self.state in ("T", "t")

    def age_seconds(self, proc_root: str = "/proc") -> t.Optional[float]:
        if self.start_ticks is None:
            return None
        try:
            with open(os.path.join(proc_root, "uptime"), encoding="ascii") as handle:
                uptime = float(handle.read().split()[0])
            hertz = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None
        return max(uptime - self.start_ticks / float(hertz), 0.0)

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"pid": self.pid, "state": self.state, "stopped": self.stopped, "rss_bytes": self.rss_bytes,
                "cmdline": self.safe_cmdline}

    @property
    def safe_cmdline(self) -> t.List[str]:
        """The command line with secrets (proxy credentials in -D options, URL passwords) masked: the one form
        that may leave a module."""
        return _heap.redact_args(self.cmdline)


def parse_proc_stat(text: str) -> t.Tuple[str, t.Optional[int]]:
    """State letter and start time (clock ticks after boot) from ``/proc/<pid>/stat``."""
    # comm may contain spaces and parentheses: split after the LAST ')'
    rest = text[text.rfind(")") + 2:].split()
    state = rest[0] if rest else "?"
    try:
        start = int(rest[19])
    except (IndexError, ValueError):
        start = None
    return state, start


def parse_proc_status_rss(text: str) -> t.Optional[int]:
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def process_program(argv: t.Sequence[str]) -> t.Optional[str]:
    """The program a command line runs: argv[0], or for an interpreter (sh, bash, python) the script it runs; None
    for an inline program (``sh -c``, ``python -c/-m``) or an empty command line. Pure."""
    if not argv:
        return None
    if not _INTERPRETERS.match(os.path.basename(argv[0])):
        return argv[0]
    for arg in argv[1:]:
        if arg in ("-c", "-m"):
            return None
        if not arg.startswith("-"):
            return arg
    return None


def is_platform_cmdline(argv: t.Sequence[str], exec_paths: t.Sequence[str] = ()) -> bool:
    """True for the command line of the YBA platform's JVM, or of its start script before it execs java. Pure.

    The program (``process_program``) must be either java carrying the platform's main class or its
    ``-Dconfig.file=...yb-platform.conf``, or the start script ``.../yugaware/bin/yugaware``, or the unit's ExecStart
    program (``exec_paths``, unless that is a generic program such as java or a shell). Arguments alone never
    match: ``journalctl -fu yb-platform``, ``systemctl status yb-platform``, ``yba-ctl restart yb-platform``,
    ``tail -f .../yb-platform.log``, ``less .../yugaware/bin/yugaware`` are decoys.
    """
    program = process_program(argv)
    if not program:
        return False
    name = os.path.basename(program)
    if _JAVA.match(name):
        return any(arg == _MAIN_CLASS or _CONFIG_ARG.match(arg) for arg in argv[1:])
    if _START_SCRIPT.search(program):
        return True
    return program in exec_paths and not _GENERIC_PROGRAMS.match(name)


def unit_exec_start(unit_text: str) -> t.List[str]:
    """argv of the last non-empty ExecStart= of a unit file (prefixes such as ``-``/``@`` stripped)."""
    argv: t.List[str] = []
    text = re.sub(r"\\\n", " ", unit_text)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ExecStart="):
            value = line[len("ExecStart="):].strip().lstrip("-@:+!")
            if value:
                try:
                    argv = shlex.split(value)
                except ValueError:
                    argv = value.split()
    return argv


def _read(path: str, binary: bool = False) -> t.Any:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data if binary else data.decode("utf-8", "replace")


def read_process(pid: int, proc_root: str = "/proc") -> t.Optional[ProcessInfo]:
    """Read what we need of one process; None when it does not exist (or vanished meanwhile)."""
    base = os.path.join(proc_root, str(pid))
    stat = _read(os.path.join(base, "stat"))
    if stat is None:
        return None
    state, start = parse_proc_stat(stat)
    cmd = _read(os.path.join(base, "cmdline"), binary=True) or b""
    argv = [a.decode("utf-8", "replace") for a in cmd.split(b"\0") if a]
    status = _read(os.path.join(base, "status")) or ""
    environ = _read(os.path.join(base, "environ"), binary=True) or b""
    java_opts = None
    for item in environ.split(b"\0"):
        if item.startswith(b"JAVA_OPTS="):
            java_opts = item[len(b"JAVA_OPTS="):].decode("utf-8", "replace")
    return ProcessInfo(pid, state, argv, parse_proc_status_rss(status), start, java_opts)


def read_pid_file(path: str) -> t.Optional[int]:
    text = _read(path)
    if not text:
        return None
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match else None


def find_platform_process(proc_root: str = "/proc", hint_pids: t.Sequence[t.Optional[int]] = (),
                          pid_files: t.Sequence[str] = (), exec_paths: t.Sequence[str] = (),
                          host_root: str = "/") -> t.Optional[ProcessInfo]:
    """The live YBA platform process, or None.

    Tries, in order: pids a backend reported (systemd MainPID, the container's pid), pid files, then a
    scan of ``proc_root`` for a platform command line (``exec_paths``: the unit's ExecStart binary, as
    an extra marker). A candidate must not be a zombie; in a scan the largest RSS wins (the JVM, not a
    wrapper script). With a ``host_root`` other than ``/`` (a lab: several hosts on one machine) a
    scanned process must have been started from under host_root, so another host's platform is not ours.
    """
    root = os.path.realpath(host_root) if host_root not in ("", "/") else None
    for pid in list(hint_pids) + [read_pid_file(p) for p in pid_files]:
        if not pid:
            continue
        info = read_process(pid, proc_root)
        if info and info.alive and (pid in hint_pids or is_platform_cmdline(info.cmdline, exec_paths)):
            return info
    try:
        entries = [e for e in os.listdir(proc_root) if e.isdigit()]
    except OSError:
        return None
    matches: t.List[ProcessInfo] = []
    own = os.getpid()
    for entry in entries:
        pid = int(entry)
        if pid == own:
            continue
        raw = _read(os.path.join(proc_root, entry, "cmdline"), binary=True)
        if not raw:
            continue
        argv = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
        if not is_platform_cmdline(argv, exec_paths):
            continue
        if root and not any(a == root or a.startswith(root + "/") or "=" + root + "/" in a for a in argv):
            continue
        info = read_process(pid, proc_root)
        if info and info.alive:
            matches.append(info)
    if not matches:
        return None
    # a java child of the platform's start script: prefer the process with the largest RSS (the JVM)
    matches.sort(key=lambda p: (p.rss_bytes or 0, -(p.start_ticks or 0)), reverse=True)
    return matches[0]


def platform_process(layout: t.Any, hint_pids: t.Sequence[t.Optional[int]] = (),
                     proc_root: str = "/proc") -> t.Optional[ProcessInfo]:
    """The platform process of the host a ``_layout.Layout`` describes (unit ExecStart and host_root aware)."""
    exec_paths: t.List[str] = []
    unit = getattr(layout, "platform_unit", None)
    if unit:
        text = _read(unit)
        argv = unit_exec_start(text) if text else []
        if argv:
            exec_paths = [argv[0], layout.host_path(argv[0])]
    return find_platform_process(proc_root, hint_pids=hint_pids, exec_paths=exec_paths,
                                 host_root=getattr(layout, "host_root", "/"))


# --------------------------------------------------------------------------- keeping the platform down

STAY_DOWN_MARGIN = 5.0  # seconds past the unit's RestartSec: systemd's restart job has had time to run
STAY_DOWN_CAP = 60.0  # a longer watch belongs to the caller (stay_down_seconds), not the default
SYSTEMD_DEFAULT_RESTART_SEC = 0.1  # systemd.service(5): RestartSec= defaults to 100ms
_TIMESPAN_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0,
                   "seconds": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0,
                   "hour": 3600.0, "hours": 3600.0}


def parse_timespan(text: str) -> t.Optional[float]:
    """Seconds of a systemd time span (``10``, ``10s``, ``500ms``, ``1min 30s``), None when unreadable. Pure."""
    parts = re.findall(r"([0-9.]+)\s*([a-z]*)", text.strip().lower())
    if not parts or re.sub(r"[0-9.a-z\s]", "", text.strip().lower()):
        return None
    total = 0.0
    for number, unit in parts:
        if unit not in _TIMESPAN_UNITS:
            return None
        try:
            total += float(number) * _TIMESPAN_UNITS[unit]
        except ValueError:
            return None
    return total


def unit_restart(unit_path: t.Optional[str]) -> t.Tuple[t.Optional[str], t.Optional[float]]:
    """``Restart=`` and ``RestartSec=`` (seconds) of a unit and its drop-ins (``<unit>.d/*.conf`` in name order, the
    last setting wins, as systemd applies them); (None, None) when the unit cannot be read."""
    text = _read(unit_path) if unit_path else None
    if text is None:
        return None, None
    texts = [text] + [_read(p) or "" for p in sorted(glob.glob(os.path.join(glob.escape(unit_path + ".d"), "*.conf")))]
    restart: t.Optional[str] = "no"
    restart_sec = SYSTEMD_DEFAULT_RESTART_SEC
    for part in texts:
        for line in part.splitlines():
            line = line.strip()
            if line.startswith("Restart="):
                restart = line.split("=", 1)[1].strip() or "no"
            elif line.startswith("RestartSec="):
                value = parse_timespan(line.split("=", 1)[1])
                restart_sec = value if value is not None else restart_sec
    return restart, restart_sec


def stay_down_default(layout: t.Any) -> float:
    """How long to watch a stopped platform by default: its unit's RestartSec plus a margin, capped; the margin alone
    when there is no unit to read (Replicated: the app's containers)."""
    _restart, restart_sec = unit_restart(getattr(layout, "platform_unit", None))
    return min((restart_sec or 0.0) + STAY_DOWN_MARGIN, STAY_DOWN_CAP)


def watch_stays_down(observe: t.Callable[[], t.Optional[str]], seconds: float, interval: float = 1.0,
                     clock: t.Callable[[], float] = time.monotonic,
                     sleep: t.Callable[[float], None] = time.sleep) -> t.Tuple[float, t.Optional[str], int]:
    """Watch that the platform stays down for ``seconds``: ``observe()`` returns None while it is down, else what shows
    it up (a pid, a service state). Returns (seconds watched, evidence or None, observations); stops at the first
    evidence. Observes at least twice (now and at the end), so a 0-second watch still checks once."""
    start = clock()
    deadline = start + max(seconds, 0.0)
    count = 0
    while True:
        evidence = observe()
        count += 1
        if evidence:
            return clock() - start, evidence, count
        remaining = deadline - clock()
        if remaining <= 0:
            return clock() - start, None, count
        sleep(min(interval, remaining))


def platform_up_evidence(layout: t.Any, backend: t.Optional[Backend] = None,
                         proc_root: str = "/proc") -> t.Optional[str]:
    """None when the platform is down (no platform process, and the backend, if given, does not say Running), else
    what shows it up. The one check of "the platform is down" for platform_service and metadb_repair."""
    status = None
    if backend is not None:
        try:
            status = backend.status([PLATFORM]).get(PLATFORM)
        except ServiceError as err:
            return "its state cannot be read (%s)" % err
    proc = platform_process(layout, [status.pid] if status and status.pid else [], proc_root=proc_root)
    if proc is not None:
        return "process %d is running (state %s)" % (proc.pid, proc.state)
    if status is not None and status.running:
        return "%s says it is %s" % (backend.name if backend else "the service manager", status.raw)
    return None


def running_software_versions(layout: t.Any, proc_root: str = "/proc") -> t.List[str]:
    """The ``software/<version>`` dirs the running platform was started from (its command line's paths, through
    ``active``). A host runs an older version than ``active`` until the restart an upgrade left pending; read from
    the process, so it works with the metadata DB down."""
    soft = getattr(layout, "software_dir", None)
    proc = platform_process(layout, proc_root=proc_root) if soft else None
    if proc is None or not soft:
        return []
    root = getattr(layout, "host_root", "/").rstrip("/")
    versions: t.List[str] = []
    for arg in proc.cmdline:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if not value.startswith("/"):
            continue
        real = os.path.realpath(value if root and value.startswith(root + "/") else layout.host_path(value))
        rel = os.path.relpath(real, os.path.realpath(soft))
        version = rel.split(os.sep)[0]
        if not rel.startswith("..") and version not in (".", "active") and version not in versions:
            versions.append(version)
    return versions


def process_alive(pid: int, proc_root: str = "/proc") -> bool:
    info = read_process(pid, proc_root)
    return bool(info and info.alive)


# --------------------------------------------------------------------------- planning (pure)

@dataclass
class Action:
    action: str  # start | stop | restart
    service: str
    reason: str

    def as_dict(self) -> t.Dict[str, str]:
        return {"action": self.action, "service": self.service, "reason": self.reason}


def order_services(services: t.Iterable[str], stopping: bool = False) -> t.List[str]:
    wanted = [s for s in SERVICES if s in set(services)]
    return list(reversed(wanted)) if stopping else wanted


def plan_actions(state: str, services: t.Sequence[str], statuses: t.Mapping[str, ServiceStatus],
                 platform_problem: t.Optional[str] = None) -> t.List[Action]:
    """What to do to reach ``state``. Pure.

    ``platform_problem`` names why the running platform is unhealthy (hung, failing probe), or None.
    Start order: postgres, prometheus, yb-platform (after a disk-full crash the platform needs its DB);
    stop order is the reverse. ``healthy`` restarts only what is down or (the platform) unhealthy.
    """
    actions: t.List[Action] = []
    if state == "stopped":
        for service in order_services(services, stopping=True):
            st = statuses[service]
            if st.state in (RUNNING, FAILED, UNKNOWN):
                actions.append(Action("stop", service, "is %s" % st.raw))
        return actions
    for service in order_services(services):
        st = statuses[service]
        if st.state in (NOT_INSTALLED, UNMANAGED):
            continue
        if state == "restarted":
            actions.append(Action("restart", service, "restart requested"))
        elif not st.running:
            actions.append(Action("restart" if st.state == FAILED else "start", service, "is %s" % st.raw))
        elif state == "healthy" and service == PLATFORM and platform_problem:
            actions.append(Action("restart", service, platform_problem))
    return actions


def collapse_app_actions(actions: t.Sequence[Action]) -> t.List[Action]:
    """For a backend that only controls the whole application (Replicated): one action instead of one per
    service. A restart wins over a start (it also starts what is down). Pure."""
    if not actions:
        return []
    kinds = {a.action for a in actions}
    action = "stop" if kinds == {"stop"} else ("restart" if "restart" in kinds or "stop" in kinds else "start")
    reason = "; ".join("%s %s" % (a.service, a.reason) for a in actions)
    return [Action(action, "application", reason)]


def backoff_delays(max_delay: float, base: float = 0.5) -> t.Iterator[float]:
    """Capped exponential delays 0.5, 1, 2, 4 ... max_delay (jitter is the caller's business)."""
    delay = base
    while True:
        yield min(delay, max_delay)
        delay *= 2


# --------------------------------------------------------------------------- health of the platform API

@dataclass
class Health:
    """One probe's verdict. A failure is either the platform's (down, hung, failing) or the CLIENT's: ``client_error``
    names a TLS/CA/token problem of where the probe runs (``_api.CLIENT_SIDE_KINDS``), which says nothing about the
    platform and which no restart fixes."""

    healthy: bool
    failed_check: t.Optional[str] = None  # app_version | auth | tls | None
    message: str = ""
    version: t.Optional[str] = None
    latency_ms: t.Optional[float] = None
    hung: bool = False  # answered nothing within the probe timeout (accepts TCP, never answers)
    refused: bool = False  # nothing listening
    client_error: t.Optional[str] = None  # auth | ca_file | tls_verify | tls_handshake

    @property
    def auth_rejected(self) -> bool:
        """401/403: a credentials problem a restart does not fix."""
        return self.client_error == "auth"

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"healthy": self.healthy, "failed_check": self.failed_check, "message": self.message,
                "version": self.version, "latency_ms": self.latency_ms, "hung": self.hung,
                "client_error": self.client_error}


CLIENT_CONFIG_FIX = ("set yba_ca_path to the CA that signed the YBA certificate (the roles send the controller's CA "
                     "file to the host), or the module's ca_path to a CA file readable on the YBA host, or check "
                     "yba_url and validate_certs")
AUTH_FIX = "check yba_api_token (valid, not expired, allowed to list customers)"


def client_config_message(health: Health) -> str:
    """The one message for a probe that failed on the client side: what failed, that the platform was not judged
    (and is not restarted for it), and the fix."""
    if health.client_error == "auth":
        return ("the platform answered but rejected yba_api_token (%s): a client-side problem a restart would not "
                "fix, so the platform is not restarted for it; %s" % (health.message, AUTH_FIX))
    return ("the health probe failed on the client side (%s): %s. That is a problem of the probe's configuration, "
            "not evidence against the platform, so it is not restarted for it; %s"
            % (health.client_error, health.message, CLIENT_CONFIG_FIX))


def probe_health(client: t.Any, timeout: float, auth_path: str = "/api/v1/customers") -> Health:
    """One health probe: ``GET /api/v1/app_version`` answers 200 with a version, then an authenticated call.

    ``client`` is a ``_api.YBAClient``; no retries here (the caller's wait loop retries). Never raises
    for an API failure: the result names the failed check.
    """
    from ansible_collections.yba.remediation.plugins.module_utils import _api  # pylint: disable=import-outside-toplevel

    try:
        answer = client.app_version(timeout=timeout, retries=0)
    except _api.YBATimeout as err:
        return Health(False, "app_version", "%s (hung)" % err.message, hung=True)
    except _api.YBATLSError as err:
        return Health(False, "tls", err.message, client_error=err.kind)
    except _api.YBAUnreachable as err:
        return Health(False, "app_version", "not answering: %s" % err.message, refused=True)
    except _api.YBAError as err:
        return Health(False, "app_version", str(err))
    version = answer.get("version")
    if not version:
        return Health(False, "app_version", "GET /api/v1/app_version answered without a version",
                      latency_ms=answer.get("latency_ms"))
    try:
        client.get(auth_path, timeout=timeout, retries=0)
    except _api.YBAAuthError as err:
        return Health(False, "auth", str(err), version, answer.get("latency_ms"), client_error="auth")
    except _api.YBATimeout as err:
        return Health(False, "auth", "authenticated call: %s (hung)" % err.message, version,
                      answer.get("latency_ms"), hung=True)
    except _api.YBAError as err:
        return Health(False, "auth", "authenticated call failed: %s" % err, version, answer.get("latency_ms"))
    return Health(True, None, "app_version %s and an authenticated call answered" % version, version,
                  answer.get("latency_ms"))


def wait_healthy(probe: t.Callable[[float], Health], wait_timeout: float, probe_timeout: float,
                 max_delay: float = 15.0, clock: t.Callable[[], float] = time.monotonic,
                 sleep: t.Callable[[float], None] = time.sleep) -> t.Tuple[Health, int, float]:
    """Probe until healthy or ``wait_timeout`` seconds have passed; returns (last health, probes, waited).

    The bound is real: a probe never gets more time than is left, and no sleep outlasts the deadline.
    A client-side failure (token, CA, TLS) stops the wait at once: waiting does not fix the probe's configuration.
    """
    start = clock()
    deadline = start + wait_timeout
    delays = backoff_delays(max(max_delay, 0.5))
    attempts = 0
    while True:
        remaining = deadline - clock()
        health = probe(max(min(probe_timeout, remaining), 0.5))
        attempts += 1
        if health.healthy or health.client_error:
            return health, attempts, clock() - start
        remaining = deadline - clock()
        if remaining <= 0:
            return health, attempts, clock() - start
        sleep(min(next(delays), remaining))
