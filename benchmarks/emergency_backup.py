"""The backup module's runner (``_backup``) vs the floor of its schedule, against the lab's YBA simulator, same run.

    .venv/bin/python benchmarks/emergency_backup.py [--sizes 4,16,64] [--seconds 3] [--concurrency 4] [--reuse]

Starts a throw-away lab (scenario healthy) in ``$YBA_LAB_DIR`` (default /tmp/yba-lab-bench; ``--reuse`` takes a lab
already up there and leaves it up), adds universes until there are max(--sizes) (``ybalab add-universes``), makes every platform backup take
--seconds (``ybalab backup-speed``: a fixed time, a tiny staged file), then for each size N backs up N universes
with ``max_concurrent`` c through the module's own plan + runner (no verification: the bucket check is measured by
benchmarks/storage_probe.py's kin, not here). Reported per N:

- floor: ceil(N / c) x t, the wall time of c perfectly packed lanes of backups of t seconds each (YBA runs one
  backup per universe at a time and the runner c universes at once);
- wall: the runner's wall time, and wall / floor (goal <= 1.2);
- server: the mean time the platform itself took per backup (task create -> backup completion), to tell the
  simulator's own overhead above t from the runner's;
- calls: API requests per backup during the run (POST, polls, reading the backup back), and task polls per backup
  (no busy polling: the poll interval backs off with the time waited).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.yba.remediation.plugins.module_utils import _api  # noqa: E402
from ansible_collections.yba.remediation.plugins.module_utils import _backup  # noqa: E402
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi  # noqa: E402

PARAMS = {"universes": None, "backup_types": ["ysql"], "storage_config": None, "only_if_older_than": 0.0,
          "rpo_factor": 1.5, "rpo_seconds": {}, "default_rpo_seconds": None, "retention": 1, "retention_unit": "DAYS",
          "keep_forever": False, "backup_category": None, "wait_timeout": 900.0, "poll_interval": 2.0,
          "max_poll_interval": 30.0, "conflict_max_delay": 30.0, "restart_retries": 1, "verify": False}


def lab(*argv: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "tests", "lab"))
    proc = subprocess.run([sys.executable, "-m", "ybalab", *argv], env=env, capture_output=True, text=True,
                          check=False, timeout=900)
    if proc.returncode != 0:
        raise SystemExit("ybalab %s failed:\n%s%s" % (" ".join(argv), proc.stdout, proc.stderr))
    return proc.stdout


def server_seconds(client: _api.YBAClient, items: list) -> float | None:
    """Mean platform-side duration of the backups taken: createTime -> completionTime of each backup."""
    took = []
    for item in items:
        if item.get("backup_uuid"):
            b = client.get(client.cpath("backups/%s" % item["backup_uuid"]))
            f = bi._backup_fields(b)
            if f["create_time"] and f["completion_time"]:
                took.append(f["completion_time"] - f["create_time"])
    return statistics.mean(took) if took else None


def run_size(client: _api.YBAClient, names: list, concurrency: int, seconds: float) -> dict:
    params = dict(PARAMS, universes=names, max_concurrent=concurrency)
    inventory = _backup.read_inventory(client)
    items = _backup.plan(inventory, params, lambda u, wanted: {})
    planned = [i for i in items if i["action"] == "planned"]
    assert len(planned) == len(names), [i["reason"] for i in items if i["action"] != "planned"]
    requests_before = client.request_count
    polls_before = sum(1 for r in client.requests if "/tasks/" in r[1])
    started = time.monotonic()
    _backup.Runner(client, params).run(items)
    wall = time.monotonic() - started
    calls = client.request_count - requests_before
    polls = sum(1 for r in client.requests if "/tasks/" in r[1]) - polls_before
    failed = [i for i in items if i["action"] != "created"]
    if failed:
        raise SystemExit("backups failed: %s" % json.dumps([(i["universe"], i["error"]) for i in failed])[:2000])
    floor = math.ceil(len(names) / concurrency) * seconds
    return {"universes": len(names), "max_concurrent": concurrency, "backup_seconds": seconds,
            "floor_s": round(floor, 1), "wall_s": round(wall, 1), "wall_over_floor": round(wall / floor, 3),
            "server_mean_s": round(server_seconds(client, items) or 0.0, 2),
            "calls_per_backup": round(calls / len(names), 2), "task_polls_per_backup": round(polls / len(names), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sizes", default="4,16,64")
    ap.add_argument("--seconds", type=float, default=3.0, help="simulated time of one backup (t)")
    ap.add_argument("--concurrency", type=int, default=4, help="max_concurrent (c)")
    ap.add_argument("--reuse", action="store_true", help="use the lab already up in $YBA_LAB_DIR and leave it up")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ.setdefault("YBA_LAB_DIR", "/tmp/yba-lab-bench")
    if not args.reuse:
        lab("up", "--scenario", "healthy")
    try:
        state = json.loads(open(os.path.join(os.environ["YBA_LAB_DIR"], "lab.json"), encoding="utf-8").read())
        lab("backup-speed", "--seconds", str(args.seconds), "--bytes-per-second", "0", "--stage-bytes", "4096")
        more = max(sizes) - len(state["platform"]["universes"])
        if more > 0:
            lab("add-universes", str(more))
        platform = state["platform"]
        client = _api.YBAClient(platform["url"], token=platform["token"], ca_path=platform["ca_cert"])
        universes = sorted(u["name"] for u in client.get(client.cpath("universes")))
        results = [run_size(client, universes[:n], args.concurrency, args.seconds) for n in sizes]
    finally:
        if not args.reuse:
            lab("down", "--purge")
    print(json.dumps(results, indent=2))
    columns = ("N", "c", "t", "floor s", "wall s", "wall/floor", "server s", "calls/bk", "polls/bk")
    print("%6s %4s %5s %8s %8s %11s %9s %10s %11s" % columns)
    for r in results:
        print("%6d %4d %5.1f %8.1f %8.1f %11.3f %9.2f %10.2f %11.2f" % (
            r["universes"], r["max_concurrent"], r["backup_seconds"], r["floor_s"], r["wall_s"],
            r["wall_over_floor"], r["server_mean_s"], r["calls_per_backup"], r["task_polls_per_backup"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
