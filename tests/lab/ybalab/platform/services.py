"""A mini-systemd for the lab: runs the units under <host.root>/etc/systemd/system like systemd would.

``yb-platform`` and ``prometheus`` are started from the unit's ExecStart with the Environment= of the
unit AND of its drop-ins (``<unit>.service.d/*.conf``, in name order), detached (own session), with a
pid file under ``<lab dir>/run`` (yb-platform: ``platform.pid_file`` of lab.json) and output appended to
``data/logs/application.log`` (prometheus: ``data/prometheus/prometheus.log``). ``postgres`` is the lab's
real PostgreSQL, driven with pg_ctl as the postgres user (data dir and port from lab.json).
It runs inside the lab host (its own PID namespace, see ybalab/hostinit.py). ``Restart=always`` is emulated by
the ``Supervisor`` that the host's PID 1 ticks: a unit that was started and not stopped (``<unit>.want`` in the run
dir) and whose process died is started again after its ``RestartSec``; meanwhile its status is Errored (systemd's
``activating (auto-restart)``). A unit put into ``failed`` (``<unit>.failed``: systemd gave up, start limit hit)
stays down until started. Simplifications: User=/Group= are ignored (services run as the caller), and stop sends
SIGTERM then SIGCONT like systemd, which also ends a SIGSTOPped (hung) process.
"""
from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Any

from . import paths

# Status strings as yba-ctl prints them (FACTS 1.4).
RUNNING = "Running"
STOPPED = "Stopped"
NOT_INSTALLED = "Not Installed"
ERRORED = "Errored"


class ServiceError(RuntimeError):
    """A unit failed to start or stop; the message says why, as yba-ctl would."""


def parse_unit_text(text: str) -> dict[str, Any]:
    """Parse the [Service] keys systemd would use: ExecStart (last non-empty wins), Environment (accumulated)."""
    out: dict[str, Any] = {"ExecStart": "", "Environment": {}, "other": {}}
    section = ""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    if buf:
        logical.append(buf)
    for line in logical:
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        if section != "Service" or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key, value = key.strip(), value.strip()
        if key == "ExecStart":
            out["ExecStart"] = value
        elif key == "Environment":
            if not value:
                out["Environment"] = {}
                continue
            for token in shlex.split(value):
                if "=" in token:
                    k, v = token.split("=", 1)
                    out["Environment"][k] = v
        else:
            out["other"][key] = value
    return out


def load_unit(state: dict[str, Any], unit: str) -> dict[str, Any] | None:
    """The effective unit: the unit file, then each drop-in in name order (as systemd merges them)."""
    path = paths.unit_file(state, unit)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        merged = parse_unit_text(fh.read())
    for dropin in sorted(glob.glob(os.path.join(f"{path}.d", "*.conf"))):
        with open(dropin, encoding="utf-8") as fh:
            part = parse_unit_text(fh.read())
        if part["ExecStart"]:
            merged["ExecStart"] = part["ExecStart"]
        merged["Environment"].update(part["Environment"])
        merged["other"].update(part["other"])
    return merged


def read_pid(state: dict[str, Any], unit: str) -> int | None:
    try:
        with open(paths.pid_file(state, unit), encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def proc_state(pid: int) -> str | None:
    """The /proc state letter of pid (R, S, T for stopped, Z for zombie), None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            data = fh.read()
        return data[data.rindex(")") + 2]
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int | None) -> bool:
    return pid is not None and proc_state(pid) not in (None, "Z", "X")


def host_argv(state: dict[str, Any], argv: list[str]) -> list[str]:
    """Map the absolute host paths of an ExecStart (the program, and ``-Dk=/path`` / ``--k=/path`` values)
    under host.root, as the process would see them on the real host."""
    out = []
    for arg in argv:
        if arg.startswith("/"):
            out.append(paths.on_host(state, arg))
            continue
        if arg.startswith("-") and "=/" in arg:
            key, value = arg.split("=", 1)
            mapped = paths.on_host(state, value)
            if os.path.exists(os.path.dirname(mapped)):
                arg = f"{key}={mapped}"
        out.append(arg)
    return out


def _log_path(state: dict[str, Any], unit: str) -> str:
    if unit == "prometheus":
        return os.path.join(paths.data_dir(state), "prometheus", "prometheus.log")
    return paths.app_log(state)


def _pg(state: dict[str, Any]) -> dict[str, Any]:
    return state["postgres"]


def _pg_ctl(state: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    pg = _pg(state)
    cmd = [os.path.join(pg.get("bin_dir", "/usr/lib/postgresql/15/bin"), "pg_ctl"), "-D", pg["data_dir"], *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")


_CMD_MARK = {"yb-platform": b"yugaware", "prometheus": b"prometheus"}


def unit_pid_alive(unit: str, pid: int | None) -> bool:
    """pid is alive AND is that unit's program (a stale pid file may name a recycled pid)."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return _CMD_MARK.get(unit, b"") in fh.read()
    except OSError:
        return False


def _marker(state: dict[str, Any], unit: str, kind: str) -> str:
    return os.path.join(paths.run_dir(state), f"{unit}.{kind}")


def _set_marker(state: dict[str, Any], unit: str, kind: str, on: bool) -> None:
    path = _marker(state, unit, kind)
    if on:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="ascii") as fh:
            fh.write(f"{time.time():.3f}\n")
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def unit_status(state: dict[str, Any], unit: str) -> str:
    """As yba-ctl maps systemd's states: Running / Stopped / Errored (died without a stop: auto-restart pending
    or failed) / Not Installed."""
    if unit == "postgres":
        if not os.path.isdir(_pg(state).get("data_dir", "")):
            return NOT_INSTALLED
        running = _pg_ctl(state, "status").returncode == 0
    elif load_unit(state, unit) is None:
        return NOT_INSTALLED
    else:
        running = unit_pid_alive(unit, read_pid(state, unit))
    if running:
        return RUNNING
    failed = any(os.path.exists(_marker(state, unit, k)) for k in ("want", "failed"))
    return ERRORED if failed or (unit != "postgres" and read_pid(state, unit) is not None) else STOPPED


def restart_sec(state: dict[str, Any], unit: str) -> float:
    spec = load_unit(state, unit) or {"other": {}}
    try:
        return float(str(spec["other"].get("RestartSec", "10")).rstrip("s"))
    except ValueError:
        return 10.0


class Supervisor:
    """systemd's Restart=always for the lab host: ticked by the host's PID 1 (ybalab/hostinit.py)."""

    def __init__(self) -> None:
        self.died: dict[str, float] = {}

    def tick(self, state: dict[str, Any]) -> list[str]:
        restarted = []
        now = time.monotonic()
        for unit in paths.UNITS:
            if not os.path.exists(_marker(state, unit, "want")) or unit_pid(state, unit) is not None:
                self.died.pop(unit, None)
                continue
            since = self.died.setdefault(unit, now)
            if now - since < restart_sec(state, unit):
                continue
            self.died[unit] = now  # a failed start waits RestartSec again
            try:
                start_unit(state, unit, wait=False)
                restarted.append(unit)
            except ServiceError as exc:
                sys.stderr.write(f"mini-systemd: {unit}: {exc}\n")
        return restarted


def unit_pid(state: dict[str, Any], unit: str) -> int | None:
    if unit == "postgres":
        try:
            with open(os.path.join(_pg(state)["data_dir"], "postmaster.pid"), encoding="ascii") as fh:
                pid = int(fh.readline().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None
    pid = read_pid(state, unit)
    return pid if unit_pid_alive(unit, pid) else None


def _base_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/root" if os.geteuid() == 0 else os.environ.get("HOME", "/tmp"),
    }


def _spawn_detached(argv: list[str], env: dict[str, str], log: str, pid_path: str) -> int:
    """Start argv in its own session, reparented away from us (no zombie in a long-lived caller)."""
    os.makedirs(os.path.dirname(pid_path), exist_ok=True)
    helper = (
        "import json,os,subprocess,sys\n"
        "a=json.loads(sys.argv[1])\n"
        "try:\n"
        "    out=open(a['log'],'ab',buffering=0)\n"
        "except OSError:\n"
        "    out=subprocess.DEVNULL\n"
        "p=subprocess.Popen(a['argv'],env=a['env'],stdin=subprocess.DEVNULL,stdout=out,stderr=subprocess.STDOUT,"
        "cwd='/',start_new_session=True,close_fds=True)\n"
        "t=a['pid']+'.tmp'\n"
        "open(t,'w').write(str(p.pid))\n"
        "os.replace(t,a['pid'])\n"
        "print(p.pid)\n"
    )
    os.makedirs(os.path.dirname(log), exist_ok=True)
    res = subprocess.run(
        [sys.executable, "-c", helper, json.dumps({"argv": argv, "env": env, "log": log, "pid": pid_path})],
        capture_output=True, text=True, check=False,
    )
    if res.returncode != 0:
        raise ServiceError(f"failed to spawn {argv[0]}: {res.stderr.strip()}")
    return int(res.stdout.strip())


def https_answers(port: int, timeout: float = 2.0) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            with ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /api/v1/app_version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return tls.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def _http_answers(port: int, path: str, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def _arg_value(argv: list[str], prefix: str) -> str | None:
    for arg in argv:
        if arg.startswith(prefix):
            return arg[len(prefix):]
    return None


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_unit(state: dict[str, Any], unit: str, timeout: float = 60.0, wait: bool = True) -> None:
    """``systemctl start``: start one unit (no-op when running); with wait, until it answers (or died).

    PostgreSQL's unit is Type=notify, so its start always waits for the server to accept connections."""
    _set_marker(state, unit, "failed", False)
    if unit == "postgres":
        if unit_status(state, unit) == RUNNING:
            _set_marker(state, unit, "want", True)
            return
        pg = _pg(state)
        log = pg.get("log") or os.path.join(pg["data_dir"], "startup.log")
        if pg.get("socket_dir"):
            os.makedirs(pg["socket_dir"], exist_ok=True)
        if os.geteuid() == 0:
            for path in (log, pg.get("socket_dir")):
                if path:
                    if not os.path.exists(path):
                        open(path, "a", encoding="utf-8").close()
                    shutil.chown(path, "postgres", "postgres")
        _set_marker(state, unit, "want", True)
        res = _pg_ctl(state, "-o", f"-p {int(pg['port'])}", "-l", log, "-w", "-t", str(int(timeout)), "start")
        # systemd runs one start job per unit: a start that raced the supervisor's own restart is not a failure
        if res.returncode != 0 and _pg_ctl(state, "status").returncode != 0:
            raise ServiceError(f"postgres failed to start: {(res.stdout + res.stderr).strip()}")
        return
    spec = load_unit(state, unit)
    if spec is None:
        raise ServiceError(f"Unit {unit}.service not found.")
    _set_marker(state, unit, "want", True)
    if unit_pid_alive(unit, read_pid(state, unit)):
        return
    argv = host_argv(state, shlex.split(spec["ExecStart"]))
    env = _base_env()
    if unit == "yb-platform" and state.get("platform", {}).get("record"):
        env["YBA_LAB_RECORD"] = state["platform"]["record"]  # lab-only: exchange log for fidelity checks
    env.update(spec["Environment"])
    log = _log_path(state, unit)
    pid = _spawn_detached(argv, env, log, paths.pid_file(state, unit))
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise ServiceError(f"{unit} exited during start-up; last log lines:\n{_tail(log)}")
        if unit == "yb-platform":
            port = _arg_value(argv, "-Dhttps.port=")
            if port and https_answers(int(port)):
                return
        else:
            listen = _arg_value(argv, "--web.listen-address=")
            if not listen or _http_answers(int(listen.rsplit(":", 1)[1]), "/-/healthy"):
                return
        time.sleep(0.1)
    raise ServiceError(f"{unit} did not answer within {timeout:.0f}s; last log lines:\n{_tail(log)}")


def stop_unit(state: dict[str, Any], unit: str, timeout: float = 20.0) -> None:
    """``systemctl stop``: SIGTERM + SIGCONT (as systemd does), SIGKILL after timeout; removes the pid file.
    The unit is no longer wanted, so the supervisor does not bring it back."""
    _set_marker(state, unit, "want", False)
    _set_marker(state, unit, "failed", False)
    if unit == "postgres":
        if unit_status(state, unit) != RUNNING:
            return
        res = _pg_ctl(state, "-m", "fast", "-w", "-t", str(int(timeout)), "stop")
        if res.returncode != 0:
            raise ServiceError(f"postgres failed to stop: {(res.stdout + res.stderr).strip()}")
        return
    pid = read_pid(state, unit)
    if unit_pid_alive(unit, pid):
        assert pid is not None
        for sig in (signal.SIGTERM, signal.SIGCONT):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.05)
    try:
        os.unlink(paths.pid_file(state, unit))
    except FileNotFoundError:
        pass


def fail_unit(state: dict[str, Any], unit: str) -> None:
    """Kill the unit's process and leave the unit ``failed`` (start limit hit): no auto-restart, status Errored,
    the stale pid file stays, as after an OOM kill loop."""
    _set_marker(state, unit, "want", False)
    _set_marker(state, unit, "failed", True)
    pid = read_pid(state, unit)
    if unit_pid_alive(unit, pid):
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.02)


def crash_postgres(state: dict[str, Any]) -> None:
    """An immediate shutdown that keeps the unit wanted: to the supervisor it is a crash."""
    res = _pg_ctl(state, "-m", "immediate", "-w", "-t", "30", "stop")
    if res.returncode != 0 and unit_status(state, "postgres") == RUNNING:
        raise ServiceError(f"postgres did not stop: {(res.stdout + res.stderr).strip()}")


def start_all(state: dict[str, Any], units: tuple[str, ...] = paths.UNITS) -> None:
    for unit in paths.UNITS:  # postgres, then prometheus, then yb-platform
        if unit in units:
            start_unit(state, unit)


def stop_all(state: dict[str, Any], units: tuple[str, ...] = paths.UNITS) -> None:
    for unit in reversed(paths.UNITS):
        if unit in units:
            stop_unit(state, unit)
