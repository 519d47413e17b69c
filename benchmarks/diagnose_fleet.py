"""Diagnose across a lab fleet of 1, 3 and 6 YBA hosts: wall time vs one host, same run (issue 14, goal <= 1.5x for
6 hosts with forks >= 6).

    .venv/bin/python benchmarks/diagnose_fleet.py [--sizes 1,3,6] [--forks 6] [--scenario incident] [--repeat 1]
                                                   [--no-mux] [--reuse]

Starts a throw-away fleet of max(--sizes) hosts (``ybalab fleet up``) in ``$YBA_FLEET_DIR`` (default
``$YBA_LAB_DIR-fleet``, ``$YBA_LAB_DIR`` default /tmp/yba-lab-bench; ``--reuse`` takes the fleet already up there and
leaves it up), then for each size N runs ``ansible-playbook playbooks/diagnose.yml --limit yba-lab-1..N --forks F``
on the lab inventory and reports, median of --repeat runs:

- wall: the playbook's wall time, and its ratio to N = 1;
- controller CPU: user+sys seconds of ansible-playbook and its children (the forks, ssh);
- hosts CPU: user+sys seconds of every process in the N hosts' namespaces (sshd, the modules' python, PostgreSQL,
  the platform simulator), read from /proc before and after: with the controller's, the work the machine's cores
  must do, whose sum / cores is a floor for the wall time when everything runs on one machine, as in the lab;
- each twice: without connection sharing (ANSIBLE_SSH_ARGS ControlMaster=no, a new connection per task) and,
  unless --no-mux, with it (ControlMaster=auto, ControlPersist=60s, as the repo's ansible.cfg sets it) in a
  ControlPath of this run's own, so no master of an earlier run is reused.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LAB_PATH = os.path.join(REPO, "tests", "lab")
sys.path.insert(0, LAB_PATH)

from ybalab import hostns, labstate  # noqa: E402

BIN = os.path.dirname(sys.executable)
CLK = os.sysconf("SC_CLK_TCK")


def lab(*argv: str) -> str:
    env = dict(os.environ, PYTHONPATH=LAB_PATH)
    proc = subprocess.run([sys.executable, "-m", "ybalab", *argv], env=env, capture_output=True, text=True,
                          check=False, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit("ybalab %s failed:\n%s%s" % (" ".join(argv), proc.stdout, proc.stderr))
    return proc.stdout


def host_cpu(dirs: list[str]) -> float:
    """user+sys seconds of every live process in the hosts' PID namespaces, with their reaped children's."""
    total = 0.0
    for d in dirs:
        pid = hostns.init_pid(labstate.load(d) or {"dir": d})
        if pid is None:
            continue
        for p in [pid] + labstate.children(pid):
            try:
                with open(f"/proc/{p}/stat", encoding="ascii", errors="replace") as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
                total += sum(int(x) for x in f[11:15]) / CLK  # utime stime cutime cstime
            except (OSError, ValueError, IndexError):
                continue
    return total


def diagnose(n: int, forks: int, mux: bool, dirs: list[str], cm_dir: str) -> dict[str, float]:
    limit = ",".join(f"yba-lab-{i}" for i in range(1, n + 1))
    ssh_args = ("-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=" + os.path.join(cm_dir, "%C")
                if mux else "-o ControlMaster=no")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_SSH_ARGS=ssh_args,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
    before_c = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_h = host_cpu(dirs[:n])
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(REPO, "inventory", "lab"),
                           os.path.join(REPO, "playbooks", "diagnose.yml"), "--limit", limit, "--forks", str(forks)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=1800)
    wall = time.monotonic() - t0
    after_c = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_h = host_cpu(dirs[:n])
    if proc.returncode != 0:
        raise SystemExit(f"diagnose on {limit} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}{proc.stderr}")
    ctl = (after_c.ru_utime - before_c.ru_utime) + (after_c.ru_stime - before_c.ru_stime)
    return {"wall": wall, "controller_cpu": ctl, "hosts_cpu": max(0.0, after_h - before_h)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--sizes", default="1,3,6")
    ap.add_argument("--forks", type=int, default=6)
    ap.add_argument("--scenario", default="incident")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-mux", action="store_true", help="only without connection sharing (ControlMaster=no)")
    ap.add_argument("--reuse", action="store_true", help="use the fleet already up and leave it up")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    os.environ.setdefault("YBA_LAB_DIR", "/tmp/yba-lab-bench")
    from ybalab import fleet

    if not args.reuse:
        t0 = time.monotonic()
        lab("fleet", "up", str(max(sizes)), "--scenario", args.scenario, "--parallel", "3")
        print(f"fleet of {max(sizes)} up in {time.monotonic() - t0:.0f} s ({fleet.fleet_dir()})")
    state = fleet.load()
    if not state or len(state["hosts"]) < max(sizes):
        raise SystemExit(f"the fleet in {fleet.fleet_dir()} has fewer than {max(sizes)} hosts")
    dirs = [state["hosts"][f"yba-lab-{i}"]["dir"] for i in range(1, max(sizes) + 1)]
    cores = os.cpu_count() or 1
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="yba-bench-cm-") as cm_dir:
            for mux in ([False] if args.no_mux else [False, True]):
                for n in sizes:
                    runs = [diagnose(n, args.forks, mux, dirs, cm_dir) for _run in range(args.repeat)]
                    rows.append((mux, n, {k: statistics.median(r[k] for r in runs) for k in runs[0]}))
                    print(f"  {'mux' if mux else 'no-mux'} n={n}: {rows[-1][2]['wall']:.1f} s", flush=True)
            for sock in os.listdir(cm_dir):  # this run's persisted masters: ended now, not after ControlPersist
                subprocess.run(["ssh", "-o", "ControlPath=" + os.path.join(cm_dir, sock), "-O", "exit", "lab"],
                               capture_output=True, check=False, timeout=10)
    finally:
        if not args.reuse:
            lab("fleet", "down", "--purge")
    print(f"\ndiagnose over a lab fleet, forks {args.forks}, scenario {args.scenario}, {cores} cores, "
          f"median of {args.repeat}")
    print("| ssh | hosts | wall s | ratio to 1 host | controller CPU s | hosts CPU s | CPU s / cores |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mux in sorted({m for m, _n, _r in rows}):
        base = next(r["wall"] for m, n, r in rows if m == mux and n == sizes[0])
        for m, n, r in rows:
            if m != mux:
                continue
            print(f"| {'ControlMaster=auto' if mux else 'ControlMaster=no'} | {n} | {r['wall']:.1f} | "
                  f"{r['wall'] / base:.2f}x | {r['controller_cpu']:.1f} | {r['hosts_cpu']:.1f} | "
                  f"{(r['controller_cpu'] + r['hosts_cpu']) / cores:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
