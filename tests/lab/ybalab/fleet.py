"""A fleet of lab YBA hosts side by side: ``ybalab fleet up N | reset | status | down`` (tests/lab/README.md, "Fleet").

Each fleet host is a whole lab (its own namespaces, sshd, PostgreSQL, platform simulator and S3) in
``<fleet dir>/yba-lab-<i>``, hostname ``yba-lab-<i>`` (scenarios.initial_state names the host after its dir). The fleet
dir is ``$YBA_FLEET_DIR``, default ``$YBA_LAB_DIR-fleet`` (``/tmp/yba-lab-fleet``): a SIBLING of the single lab's
dir, never inside it, because ``ybalab down`` of a lab ends every process whose command line names a path under its
dir (labstate.processes_referencing) and ``down --purge`` removes the whole dir: the single lab's teardown must not
take a fleet with it. ``<fleet dir>/fleet.json`` lists the hosts that are up; the lab inventory
(inventory/lab/lab.py) reads it.

S3 stays one server per host: every reset wipes moto (``/moto-api/reset``) and recreates its IAM users and buckets
(services.s3_reset), and the storage faults (``ybalab storage deny-writes``, the variants) act on the server's IAM
users; with one shared server, resetting one host would wipe the others' buckets and keys.

Every host is brought up, reset and taken down by ``python -m ybalab`` in a subprocess with ``YBA_LAB_DIR`` set to
the host's dir (the lab's own code reads its dir from there), several at once (``--parallel``, default 3).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ybalab import labstate
from ybalab.labstate import SCENARIOS, LabError

HOST_PREFIX = "yba-lab-"
MAX_HOSTS = 20
LAB_PATH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fleet_dir() -> str:
    return os.path.abspath(os.environ.get("YBA_FLEET_DIR") or labstate.lab_dir().rstrip("/") + "-fleet")


def fleet_json(d: str | None = None) -> str:
    return os.path.join(d or fleet_dir(), "fleet.json")


def host_name(i: int) -> str:
    return f"{HOST_PREFIX}{i}"


def load() -> dict[str, Any] | None:
    try:
        with open(fleet_json(), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def _present() -> dict[str, str]:
    """Every host dir under the fleet dir (up or not), by name, in index order."""
    found = {}
    for path in glob.glob(os.path.join(fleet_dir(), HOST_PREFIX + "*")):
        name = os.path.basename(path)
        if os.path.isdir(path) and re.fullmatch(re.escape(HOST_PREFIX) + r"[0-9]+", name):
            found[name] = path
    return dict(sorted(found.items(), key=lambda kv: int(kv[0][len(HOST_PREFIX):])))


def _ybalab(host_dir: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m ybalab <args>`` for one fleet host; its output also goes to <fleet dir>/<host>.log."""
    env = dict(os.environ, YBA_LAB_DIR=host_dir,
               PYTHONPATH=os.pathsep.join(filter(None, [LAB_PATH, os.environ.get("PYTHONPATH", "")])))
    env.pop("YBA_FLEET_DIR", None)
    cp = subprocess.run([sys.executable, "-m", "ybalab", *args], env=env, capture_output=True, text=True,
                        timeout=timeout, check=False, cwd="/")
    with open(f"{host_dir}.log", "a", encoding="utf-8") as log:
        log.write(f"$ ybalab {' '.join(args)} (exit {cp.returncode})\n{cp.stdout}{cp.stderr}")
    return cp


def _each(dirs: dict[str, str], parallel: int, *args: str) -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(dirs) or 1))) as pool:
        futures = {name: pool.submit(_ybalab, d, *args) for name, d in dirs.items()}
        return {name: f.result() for name, f in futures.items()}


def _save(hosts: dict[str, str], scenarios: dict[str, str]) -> dict[str, Any]:
    state = {"dir": fleet_dir(), "hosts": {name: {"dir": d, "scenario": scenarios.get(name)} for name, d in hosts.items()},
             "updated": int(time.time())}
    labstate.write_atomic(fleet_json(), json.dumps(state, indent=2, sort_keys=True) + "\n")
    return state


def _last_line(cp: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (cp.stderr + cp.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit {cp.returncode}"


def scenarios_for(count: int, scenario: str) -> list[str]:
    """One scenario per host from ``incident`` or ``healthy,incident,...`` (the last one repeats)."""
    names = [s.strip() for s in scenario.split(",") if s.strip()]
    for name in names or [scenario]:
        if name not in SCENARIOS:
            raise LabError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    return [names[min(i, len(names) - 1)] for i in range(count)]


def up(count: int, scenario: str = "incident", parallel: int = 3) -> dict[str, Any]:
    """N hosts up (idempotent: running ones are reset to their scenario), hosts beyond N taken down; fleet.json
    lists the hosts that came up. ``scenario``: one for all, or a comma-separated list, one per host (the last one
    repeats). Raises LabError naming the hosts that did not come up (the others stay up)."""
    if not 1 <= count <= MAX_HOSTS:
        raise LabError(f"fleet size {count}: 1..{MAX_HOSTS}")
    per_host = scenarios_for(count, scenario)
    d = fleet_dir()
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # postgres and ybaops traverse it to their lab dirs
    extra = {n: p for n, p in _present().items() if int(n[len(HOST_PREFIX):]) > count}
    if extra:
        _each(extra, parallel, "down", "--purge")
    wanted = {host_name(i): os.path.join(d, host_name(i)) for i in range(1, count + 1)}
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, count))) as pool:
        futures = {n: pool.submit(_ybalab, p, "up", "--scenario", per_host[i]) for i, (n, p) in enumerate(wanted.items())}
        results = {n: f.result() for n, f in futures.items()}
    ok = {n: wanted[n] for n, cp in results.items() if cp.returncode == 0}
    state = _save(ok, {n: per_host[i] for i, n in enumerate(wanted) if n in ok})
    state["up_seconds"] = round(time.monotonic() - t0, 1)
    failed = {n: _last_line(cp) for n, cp in results.items() if cp.returncode != 0}
    if failed:
        why = "; ".join(f"{n}: {line} (log {wanted[n]}.log)" for n, line in failed.items())
        raise LabError(f"fleet hosts did not come up: {why}")
    return state


def _select(names: list[str]) -> dict[str, str]:
    state = load()
    if state is None:
        raise LabError(f"no fleet at {fleet_dir()}: run `ybalab fleet up N` first")
    hosts = {n: h["dir"] for n, h in state["hosts"].items()}
    if not names:
        return hosts
    out = {}
    for name in names:
        key = host_name(int(name)) if name.isdigit() else name
        if key not in hosts:
            raise LabError(f"no fleet host {name!r}; the fleet has {', '.join(hosts) or 'none'}")
        out[key] = hosts[key]
    return out


def reset(scenario: str, names: list[str], parallel: int = 3) -> dict[str, Any]:
    """The named hosts (names or indexes; none: all) reset to a scenario, at once."""
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    chosen = _select(names)
    results = _each(chosen, parallel, "reset", scenario)
    state = load() or {"hosts": {}}
    for name, cp in results.items():
        if cp.returncode == 0:
            state["hosts"][name]["scenario"] = scenario
    state = _save({n: h["dir"] for n, h in state["hosts"].items()},
                  {n: h.get("scenario") for n, h in state["hosts"].items()})
    failed = {n: _last_line(cp) for n, cp in results.items() if cp.returncode != 0}
    if failed:
        raise LabError("fleet reset failed: " + "; ".join(f"{n}: {why}" for n, why in failed.items()))
    return state


def status() -> int:
    """``ybalab status`` of every host, prefixed with its name; exit 1 if any host has a component down."""
    state = load()
    if state is None:
        print(f"fleet: none at {fleet_dir()}")
        return 1
    results = _each({n: h["dir"] for n, h in state["hosts"].items()}, len(state["hosts"]), "status")
    bad = 0
    for name, cp in results.items():
        for line in (cp.stdout + cp.stderr).splitlines():
            print(f"{name:12} {line}")
        bad += cp.returncode != 0
    print(f"fleet: {len(results)} host(s), {bad} with a component down; {fleet_json()}")
    return 1 if bad else 0


def down(purge: bool = False, parallel: int = 3) -> list[str]:
    """Every host dir under the fleet dir taken down (listed in fleet.json or not: a half-started host too);
    returns the hosts whose down reported a problem."""
    hosts = _present()
    try:
        os.unlink(fleet_json())  # the inventory stops listing the fleet first
    except FileNotFoundError:
        pass
    results = _each(hosts, parallel, "down", *(["--purge"] if purge else []))
    bad = [f"{n}: {_last_line(cp)}" for n, cp in results.items() if cp.returncode != 0]
    if purge and not bad and os.path.isdir(fleet_dir()):
        shutil.rmtree(fleet_dir())
    return bad


def add_parser(sub: Any) -> None:
    """``fleet`` and its subcommands on the lab's command line (cli.main)."""
    p_fleet = sub.add_parser("fleet", help="several lab YBA hosts side by side in $YBA_FLEET_DIR "
                             "(default $YBA_LAB_DIR-fleet): yba-lab-1..N, listed by inventory/lab")
    fsub = p_fleet.add_subparsers(dest="fleet_cmd", required=True)
    p_up = fsub.add_parser("up", help="N hosts up (each a whole lab) and reset to a scenario; hosts beyond N down")
    p_up.add_argument("count", type=int)
    p_up.add_argument("--scenario", default="incident", help=f"one of {', '.join(SCENARIOS)} for every host, or a "
                      "comma-separated list, one per host (the last one repeats), e.g. healthy,incident")
    p_reset = fsub.add_parser("reset", help="hosts (names or indexes; default all) into a scenario")
    p_reset.add_argument("scenario", choices=SCENARIOS)
    p_reset.add_argument("hosts", nargs="*")
    fsub.add_parser("status", help="each host's `ybalab status`; exit 1 if a component is down")
    p_down = fsub.add_parser("down", help="every fleet host down")
    p_down.add_argument("--purge", action="store_true", help="also remove the fleet dir")
    for p in (p_up, p_reset, p_down):
        p.add_argument("--parallel", type=int, default=3, help="hosts handled at once (default 3)")


def main(args: argparse.Namespace) -> int:
    if args.fleet_cmd == "up":
        st = up(args.count, args.scenario, args.parallel)
        print("fleet up: " + ", ".join(f"{n} {h['scenario']}" for n, h in st["hosts"].items())
              + f" in {st['up_seconds']} s, {fleet_json()}")
        return 0
    if args.fleet_cmd == "reset":
        st = reset(args.scenario, args.hosts, args.parallel)
        print("fleet reset: " + ", ".join(f"{n} {h['scenario']}" for n, h in st["hosts"].items()))
        return 0
    if args.fleet_cmd == "status":
        return status()
    bad = down(args.purge, args.parallel)
    if bad:
        print("fleet down, with problems: " + "; ".join(bad), file=sys.stderr)
        return 1
    print("fleet down")
    return 0
