#!/usr/bin/env python
# Benchmark: metadb_repair on a 1,000,000-row backup table with 50,000 stale rows vs the bare SQL it issues (psql).
"""Run: .venv/bin/python benchmarks/metadb_repair.py [--rows N] [--stale N] [--repeat N] [--keep]

Builds a throw-away PostgreSQL 15 (initdb, free port), seeds `yugaware` from tests/lab/ybalab/schema.sql and
benchmarks/metadb_repair_seed.sql (set-based), clones it once per measured run (CREATE DATABASE ... TEMPLATE, so
every run starts from identical data), and prints a table:

  module     the metadb_repair module process as Ansible runs it on the host (python + psql), wall time,
             MINUS the dump (pg_dump -Fc + pg_restore --list), which is reported on its own line
  floor      the repair statements the module returned in `queries`, piped to ONE psql invocation
  floor+plan the same plus the planning query (index check guard + counts), i.e. every SQL statement the module
             issues except the dump

The goal is module <= 1.5 x floor. Medians over --repeat runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

import metadb_repair_pg as pgtemp  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.yba.remediation.plugins.module_utils import _metadb  # noqa: E402  pylint: disable=wrong-import-position


def run_module(pg: pgtemp.TempPostgres, db: str, host_root: str, repairs: list) -> tuple:
    args = {"login_host": pg.host, "login_port": pg.port, "login_db": db, "psql_path": pgtemp.PG_BIN,
            "host_root": host_root, "dump_dir": "/dumps", "repairs": repairs, "lock_timeout": 30}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.yba.remediation.plugins.modules.metadb_repair",
                           handle.name], capture_output=True, text=True, env=env, check=False)
    wall = time.monotonic() - start
    os.unlink(handle.name)
    result = json.loads(proc.stdout)
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return wall, result


def run_psql(pg: pgtemp.TempPostgres, db: str, sql: str) -> float:
    args = [pg.psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
            "-d", db, "-f", "-"]
    start = time.monotonic()
    proc = subprocess.run(args, input=sql, capture_output=True, text=True, check=False)
    took = time.monotonic() - start
    if proc.returncode:
        raise SystemExit("psql failed: %s" % proc.stderr)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stale", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repairs", default="stale_backups",
                        help="comma-separated repair kinds (default: stale_backups)")
    parser.add_argument("--keep", action="store_true", help="leave the server and its directory behind")
    opts = parser.parse_args()
    repairs = [r for r in opts.repairs.split(",") if r]

    pg = pgtemp.TempPostgres().start()
    host_root = tempfile.mkdtemp(prefix="metadb-bench-host-")
    try:
        t0 = time.monotonic()
        pg.create_yugaware("bench_src", rows=opts.rows, stale=opts.stale)
        pg.sql("VACUUM ANALYZE;", db="bench_src")
        seeded = time.monotonic() - t0
        print("seeded %d backups (%d stale In Progress) in %.1f s; backup table %s" % (
            opts.rows, opts.stale, seeded, pg.sql("SELECT pg_size_pretty(pg_total_relation_size('backup'))",
                                                  db="bench_src")))
        mod, dump, floor, floor_plan, rows, phases = [], [], [], [], None, []
        for i in range(opts.repeat):
            a, b = "bench_mod_%d" % i, "bench_floor_%d" % i
            pg.clone("bench_src", a)
            pg.clone("bench_src", b)
            # same cache state for both: warm each copy's tables once
            for db in (a, b):
                pg.sql("SELECT count(*) FROM backup; SELECT count(*) FROM task_info;", db=db)
            wall, result = run_module(pg, a, host_root, repairs)
            phases.append(result["timings"])
            dump.append(result["dump"]["seconds"])
            mod.append(wall - result["dump"]["seconds"])
            rows = result["changes"]
            script = "".join(result["repairs"][k]["sql"] for k in _metadb.REPAIR_KINDS if k in result["repairs"])
            floor.append(run_psql(pg, b, script))
            pg.clone("bench_src", b)
            pg.sql("SELECT count(*) FROM backup; SELECT count(*) FROM task_info;", db=b)
            only = None if "reindex" in repairs else sorted({x for k in repairs for x in _metadb.WRITES.get(k, ())})
            plan = _metadb.SESSION_SQL + _metadb.index_check_sql(False, False, only) + _metadb.plan_sql(3600, repairs)
            floor_plan.append(run_psql(pg, b, plan + script))
            for db in (a, b):
                pg.sql("DROP DATABASE %s;" % db, db="postgres")
            for name in os.listdir(os.path.join(host_root, "dumps")):
                os.unlink(os.path.join(host_root, "dumps", name))
        m, f, fp, d = (statistics.median(x) for x in (mod, floor, floor_plan, dump))
        print("repairs: %s; rows changed: %s; median of %d runs" % (",".join(repairs), rows, opts.repeat))
        print("%-44s %10s %10s" % ("measure", "seconds", "vs floor"))
        print("%-44s %10.3f %10s" % ("floor: repair SQL via one psql", f, "1.00x"))
        print("%-44s %10.3f %9.2fx" % ("floor+plan: planning + repair SQL via psql", fp, fp / f))
        print("%-44s %10.3f %9.2fx" % ("metadb_repair module (dump excluded)", m, m / f))
        print("%-44s %10.3f %10s" % ("  of which: module planning query", statistics.median(
            [p["plan"] for p in phases]), "-"))
        print("%-44s %10.3f %10s" % ("  of which: module repair statements", statistics.median(
            [p["repairs"] for p in phases]), "-"))
        print("%-44s %10.3f %10s" % ("dump: pg_dump -Fc + pg_restore --list", d, "-"))
        print("goal module <= 1.5x the SQL it issues (floor+plan): %s (%.2fx); vs the repair SQL alone: %.2fx"
              % ("MET" if m / fp <= 1.5 else "NOT MET", m / fp, m / f))
    finally:
        if opts.keep:
            print("kept %s (port %d) and %s" % (pg.dir, pg.port, host_root))
        else:
            pg.destroy()
            subprocess.run(["rm", "-rf", host_root], check=False)


if __name__ == "__main__":
    main()
