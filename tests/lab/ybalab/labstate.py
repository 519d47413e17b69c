"""lab.json (the lab's one contract), lab paths, free ports and small process helpers shared by the lab."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Iterable

DEFAULT_DIR = "/tmp/yba-lab"
SCENARIOS = ("incident", "healthy", "platform-hung", "platform-crashed", "disk-exhausted")
# Where the lab host (its own mount namespace, see hostns.py) sees the lab dir: the controller's /tmp is not there.
HOST_RUN = "/run/ybalab"
PG_BIN = "/usr/lib/postgresql/15/bin"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
VENV_BIN = os.path.join(REPO, ".venv", "bin")


def lab_dir() -> str:
    return os.path.abspath(os.environ.get("YBA_LAB_DIR") or DEFAULT_DIR)


def lab_json(d: str) -> str:
    return os.path.join(d, "lab.json")


def load(d: str | None = None) -> dict[str, Any] | None:
    try:
        with open(lab_json(d or lab_dir()), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def host_view(state: dict[str, Any]) -> dict[str, Any]:
    """lab.json as the lab host sees it: host-volume paths at their real place (host.root "/"), lab-dir paths
    under HOST_RUN. What runs inside the host (yba-ctl, the platform, the mini-systemd) reads the state this way."""
    vol, d = state["host"]["root"].rstrip("/"), state["dir"].rstrip("/")

    def conv(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, str):
            if v == vol or v.startswith(vol + "/"):
                return "/" + v[len(vol):].lstrip("/")
            if v == d or v.startswith(d + "/"):
                return HOST_RUN + v[len(d):]
        return v

    out = conv(state)
    out["host"]["root"] = "/"
    out["host"]["volume"] = vol
    return out


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Write a file atomically with its mode set first: readers never see a half-written or too-open file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def save(state: dict[str, Any]) -> None:
    """Write lab.json atomically (readers never see a half-written file)."""
    write_atomic(lab_json(state["dir"]), json.dumps(state, indent=2, sort_keys=True) + "\n")


def free_port(avoid: Iterable[int] = ()) -> int:
    """A TCP port nothing listens on right now on 127.0.0.1 (the kernel picks it)."""
    avoid = set(avoid)
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def dead_port() -> int:
    """A port nobody listens on AND nobody is likely to take: below the kernel's ephemeral range, which is where
    every lab (and every other free-port picker) on this machine gets its ports from."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            low = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rnd = random.Random()
    for _attempt in range(200):
        port = rnd.randrange(20000, max(20001, low - 1))
        if not port_open(port, timeout=0.1):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    return free_port()


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        time.sleep(0.05)
    return False


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.readline().strip())
    except (OSError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """All descendants of pid (depth first), read from /proc."""
    by_parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        by_parent.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    stack = list(by_parent.get(pid, []))
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(by_parent.get(p, []))
    return out


def kill_tree(pid: int | None, timeout: float = 5.0) -> None:
    """SIGTERM a process and its descendants, SIGKILL what is left after timeout."""
    if not pid or not pid_alive(pid):
        return
    pids = [pid] + children(pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for p in pids:
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def ancestors() -> set[int]:
    """Our own process and its ancestors: never reported, never killed (e.g. the pytest that runs `down`)."""
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def processes_referencing(d: str, killable_only: bool = False) -> list[int]:
    """Pids (not ours, not our ancestors) whose command line, cwd or environment mention the lab dir.

    killable_only: only those the lab itself started: the dir in the command line, or cwd inside the dir AND
    YBA_LAB_DIR=<dir> in the environment (how the lab spawns its services). A user's shell or a test runner
    that merely has YBA_LAB_DIR set is reported, never killed.
    """
    skip = ancestors()
    hits = []
    needle = d.rstrip("/").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
            cwd = os.readlink(f"/proc/{entry}/cwd").encode()
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    env = b"\0" + fh.read()
            except OSError:
                env = b""
        except OSError:
            continue
        if not cmd:  # kernel thread or zombie
            continue
        in_cmd = bool(re.search(re.escape(needle) + rb"(?=[/\0\s]|$)", cmd))  # the dir, not a longer-named sibling
        in_cwd = cwd == needle or cwd.startswith(needle + b"/")
        in_env = (b"\0YBA_LAB_DIR=" + needle + b"\0") in env
        if in_cmd or (in_cwd and in_env) or (not killable_only and (in_cwd or in_env)):
            hits.append(int(entry))
    return hits


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, raise with its output on failure."""
    kw.setdefault("text", True)
    kw.setdefault("capture_output", True)
    cp = subprocess.run(cmd, check=False, **kw)
    if cp.returncode != 0:
        raise LabError(f"{' '.join(cmd)} failed (rc={cp.returncode}): {(cp.stderr or cp.stdout or '').strip()}")
    return cp


def notice(msg: str) -> None:
    sys.stderr.write(f"ybalab: {msg}\n")
    sys.stderr.flush()


class LabError(RuntimeError):
    """A lab operation failed; the message says what and why."""
