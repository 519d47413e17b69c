"""The lab host is its own host: mount, PID and UTS namespaces around its sshd, PostgreSQL, platform and yba-ctl.

``start`` runs ybalab.hostinit as PID 1 of new namespaces; ``run`` executes a command inside (nsenter), ``call``
a function of the lab's code inside, with lab.json in the host's own view (labstate.host_view). The controller
sees none of the host's paths (/opt/yugabyte, /usr/bin/yba-ctl, ...) or processes; ``stop`` ends them all.
``python -m ybalab.hostns call <module> <function> [json args]`` is the entry point ``call`` uses.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from ybalab.labstate import HOST_RUN, VENV_BIN, LabError, children, pid_alive, read_pid

LAB_PATH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pid_file(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "hostns.pid")


def init_pid(state: dict[str, Any]) -> int | None:
    """The global pid of the host's PID 1 (hostinit), None when the host is not running."""
    pid = read_pid(_pid_file(state))
    if not pid_alive(pid):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return pid if b"ybalab.hostinit" in fh.read() else None
    except OSError:
        return None


def running(state: dict[str, Any]) -> bool:
    return init_pid(state) is not None


def _python() -> str:
    venv = os.path.join(VENV_BIN, "python")
    return venv if os.path.exists(venv) else sys.executable


def start(state: dict[str, Any], timeout: float = 15.0) -> int:
    if (pid := init_pid(state)) is not None:
        return pid
    d = state["dir"]
    ready = os.path.join(d, "hostns.ready")
    if os.path.exists(ready):
        os.unlink(ready)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "PYTHONPATH": LAB_PATH, "YBA_LAB_DIR": d, "HOME": "/root"}
    log = open(os.path.join(d, "hostns.log"), "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--uts", "--propagation", "private",
         _python(), "-m", "ybalab.hostinit", d, state["host"].get("hostname", "yba-lab")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", env=env, start_new_session=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"the lab host did not start (unshare exit {proc.returncode}); see {d}/hostns.log")
        kids = children(proc.pid)
        if kids and os.path.exists(ready):
            with open(_pid_file(state), "w", encoding="ascii") as fh:
                fh.write(f"{kids[0]}\n")
            return kids[0]
        time.sleep(0.05)
    raise LabError(f"the lab host did not get ready in {timeout:.0f} s; see {d}/hostns.log")


def stop(state: dict[str, Any], timeout: float = 30.0) -> None:
    """Shut the host down: PID 1 stops the units (PostgreSQL cleanly), then the kernel ends the rest."""
    pid = init_pid(state)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.05)
    try:
        os.unlink(_pid_file(state))
    except FileNotFoundError:
        pass


def run(state: dict[str, Any], argv: list[str], check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run argv on the lab host (its mounts, PIDs and hostname), as root, cwd /."""
    pid = init_pid(state)
    if pid is None:
        raise LabError(f"the lab host of {state['dir']} is not running: run `ybalab up`")
    kw.setdefault("text", True)
    kw.setdefault("capture_output", True)
    env = kw.pop("env", None) or {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "LANG": "C.UTF-8", "HOME": "/root"}
    cp = subprocess.run(["nsenter", "--target", str(pid), "--mount", "--pid", "--uts", "--wd=/", *argv],
                        check=False, env=env, **kw)
    if check and cp.returncode != 0:
        raise LabError(f"on the lab host: {' '.join(argv)} failed (rc={cp.returncode}): "
                       f"{(cp.stderr or cp.stdout or '').strip()}")
    return cp


def call(state: dict[str, Any], module: str, function: str, *args: Any, timeout: float = 120.0) -> Any:
    """module.function(host_state, *args) on the lab host; returns its JSON-able result, raises LabError."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": "/root", "PYTHONPATH": LAB_PATH}
    cp = run(state, [_python(), "-m", "ybalab.hostns", "call", module, function, json.dumps(list(args))],
             check=False, env=env, timeout=timeout)
    lines = cp.stdout.strip().splitlines()
    if cp.returncode != 0 or not lines:
        raise LabError(f"on the lab host: {module}.{function} failed: {(cp.stderr or cp.stdout).strip()[-2000:]}")
    return json.loads(lines[-1])


def _main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "call":
        print("usage: python -m ybalab.hostns call <module> <function> [json args]", file=sys.stderr)
        return 2
    from ybalab.platform import paths
    state = paths.load_state(os.path.join(HOST_RUN, "lab.json"))
    args = json.loads(argv[3]) if len(argv) > 3 else []
    result = getattr(importlib.import_module(argv[1]), argv[2])(state, *args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
