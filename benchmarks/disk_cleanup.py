# Benchmark of yba.remediation.disk_cleanup: scan+plan of a YBA-shaped tree vs find vs a builtin find+file loop.
"""Builds a YBA-shaped host tree of N files (default 200,000) and compares, in one run:

* ``find <root> -printf '%s %T@ %p\\n'``                       the floor (C, one lstat per entry)
* the module's scan+plan as Ansible runs it                   ``ansible localhost -m yba.remediation.disk_cleanup --check``
  (also: the module's own scan+plan seconds, and the fixed cost of an Ansible run measured with ``ping``)
* ``ansible.builtin.find`` + ``ansible.builtin.file`` loop     what an Ansible user writes by hand, on a 2,000-file subset

and the module's peak RSS at two tree sizes (N/2 and N) to show memory stays flat.

    .venv/bin/python benchmarks/disk_cleanup.py [--files 200000] [--subset 2000] [--keep] [--dir DIR [--reuse]]

The builtin loop runs with --check, so the subset is not deleted and every contender sees the same tree.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
COLLECTIONS = os.path.join(REPO, ".build", "collections")
MODULE = os.path.join(REPO, "plugins", "modules", "disk_cleanup.py")
DAY = 86400
ACTIVE = "2.20.1.3-b3"
VERSIONS = ("2.16.8.0-b12", "2.18.1.0-b84", ACTIVE)
YML = """installRoot: /opt/yugabyte
platform:
  port: 443
postgres:
  install:
    enabled: true
    port: 5432
prometheus:
  retentionTime: 15d
"""


def put(path: str, size: int = 64, age: float = 0.0, now: float = 0.0) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if size:
            os.write(fd, b"y" * size)
    finally:
        os.close(fd)
    if age:
        os.utime(path, (now - age, now - age))


def build_tree(root: str, files: int) -> dict:
    """A yba-installer host: most files are software (jars, venv, JDK), Prometheus chunks, node-agent/ybc,
    plus every cleanup category. Returns counts per area."""
    now = time.time()
    inst = os.path.join(root, "opt/yugabyte")
    data = os.path.join(inst, "data")
    ctl = os.path.join(root, "opt/yba-ctl")
    for d in (ctl + "/log_bundles", data + "/logs", data + "/postgres/base/1", data + "/prometheus/swamper_targets",
              data + "/prometheus/swamper_rules", data + "/yb-platform/keys", data + "/yba-installer/certs",
              root + "/tmp", root + "/usr/bin"):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(ctl, "yba-ctl.yml"), "w", encoding="utf-8") as fh:
        fh.write(YML)
    put(os.path.join(ctl, ".installed"))
    counts: dict = {}
    made = 0

    def spread(area: str, base: str, n: int, per_dir: int = 500, size: int = 64, age: float = 0.0) -> None:
        nonlocal made
        for i in range(n):
            d = os.path.join(base, "d%04d" % (i // per_dir))
            if i % per_dir == 0:
                os.makedirs(d, exist_ok=True)
            put(os.path.join(d, "f%06d" % i), size, age, now)
        counts[area] = counts.get(area, 0) + n
        made += n

    # fixed-size cleanup content (small: the benchmark is about entries, not bytes)
    for day in range(1, 61):
        stamp = time.strftime("%Y-%m-%d", time.gmtime(now - day * DAY))
        put(os.path.join(data, "logs", "application-log-%s.gz" % stamp), 4096, day * DAY, now)
        put(os.path.join(data, "logs", "audit-log-%s.gz" % stamp), 1024, day * DAY, now)
    for k in range(5):
        put(os.path.join(ctl, "log_bundles", "yba_installer_bundle-%d.tar.gz" % (now - k * 5 * DAY)), 8192,
            k * 5 * DAY + DAY, now)
    os.makedirs(os.path.join(inst, "backups"), exist_ok=True)
    put(os.path.join(inst, "backups", "backup_23-12-18-02-00.tgz"), 8192, 40 * DAY, now)
    put(os.path.join(inst, "backups", "backup_24-01-18-02-00.tgz"), 8192, 10 * DAY, now)
    put(os.path.join(data, "platform_dump.sql"), 8192, 20 * DAY, now)
    with open(os.path.join(data, "yb-platform", "core.31337"), "wb") as fh:
        fh.write(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x04\x00" + b"\x00" * 4000)
    os.utime(os.path.join(data, "yb-platform", "core.31337"), (now - 4 * DAY, now - 4 * DAY))
    made += 60 * 2 + 5 + 3 + 1
    rest = max(0, files - made)
    shares = {"software": 0.55, "prometheus": 0.15, "releases+ybc+node-agent": 0.08, "staging": 0.10,
              "postgres": 0.07, "other": 0.05}
    per_version = int(rest * shares["software"]) // len(VERSIONS)
    for ver in VERSIONS:
        spread("software", os.path.join(inst, "software", ver, "yb-platform", "lib"), per_version, size=128,
               age=90 * DAY)
    os.symlink("/opt/yugabyte/software/" + ACTIVE, os.path.join(inst, "software", "active"))
    spread("prometheus", os.path.join(data, "prometheus", "storage"), int(rest * shares["prometheus"]), size=256)
    n_rel = int(rest * shares["releases+ybc+node-agent"])
    for ver in ("2.18.1.0-b84", "2.14.0.0-b1"):
        spread("releases", os.path.join(data, "yb-platform", "releases", ver), n_rel // 4, age=200 * DAY)
    spread("ybc", os.path.join(data, "yb-platform", "ybc", "releases"), n_rel // 4)
    spread("node-agent", os.path.join(data, "yb-platform", "node-agent", "releases"), n_rel - 3 * (n_rel // 4))
    n_stage = int(rest * shares["staging"])
    for k in range(4):
        spread("staging", os.path.join(root, "tmp", "yb-backup-staging-%d" % k), n_stage // 4, age=3 * DAY)
    spread("postgres", os.path.join(data, "postgres", "base", "1"), int(rest * shares["postgres"]), size=512)
    spread("other", os.path.join(data, "yb-platform", "misc"), max(0, files - made))
    counts["total"] = made
    return counts


def build_subset(root: str, n: int) -> None:
    """What a hand-written loop walks: n old rotated logs in one directory."""
    now = time.time()
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        put(os.path.join(root, "application-log-%05d.gz" % i), 64, 30 * DAY, now)


def env() -> dict:
    e = dict(os.environ)
    e.update(PATH=VENV_BIN + os.pathsep + e.get("PATH", ""), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
             ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
             ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
             ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    return e


def timed(cmd: list, repeat: int = 3, **kw) -> tuple:
    """Best wall time of `repeat` runs after one warm-up (page cache warm for every contender alike)."""
    out = subprocess.run(cmd, capture_output=True, text=True, env=env(), check=False, **kw)
    if out.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s%s" % (out.returncode, " ".join(cmd), out.stdout[-3000:],
                                                    out.stderr[-3000:]))
    times = []
    for _run in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env(), check=False, **kw)
        times.append(time.perf_counter() - t0)
    return min(times), out


def module_args(root: str) -> dict:
    return {"host_root": root, "releases_in_use": ["2.18.1.0-b84"], "max_listed": 50,
            "categories": {"staging": {"age_hours": 1}}}


def module_direct(root: str, check: bool = True) -> tuple:
    """Run the module file the way Ansible's local connection does (fresh interpreter, args file); returns
    (seconds, peak RSS KiB, result)."""
    args = dict(module_args(root), _ansible_check_mode=check)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
        path = fh.name
    e = env()
    e["PYTHONPATH"] = COLLECTIONS
    # peak RSS from GNU time (%M, KiB): getrusage of our own fork would also count this (big) parent's pages
    timer = ["/usr/bin/time", "-f", "maxrss=%M"] if os.path.exists("/usr/bin/time") else []
    t0 = time.perf_counter()
    proc = subprocess.run(timer + [sys.executable, MODULE, path], capture_output=True, text=True, env=e, check=False)
    seconds = time.perf_counter() - t0
    out = proc.stdout
    os.unlink(path)
    rss = [int(line.split("=", 1)[1]) for line in proc.stderr.splitlines() if line.startswith("maxrss=")]
    if not rss:
        raise SystemExit("no peak RSS measured (GNU time missing?): %s" % proc.stderr[-2000:])
    try:
        result = json.loads(out)
    except ValueError:
        raise SystemExit("module output is not JSON:\n" + out[-3000:])
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return seconds, rss[-1], result


def builtin_loop_playbook(path: str, subset: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("""---
- name: Hand-written cleanup with builtin modules
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Find old rotated logs
      ansible.builtin.find:
        paths: %s
        patterns: "*-log-*.gz"
        age: 7d
      register: old_logs
    - name: Delete them one by one
      ansible.builtin.file:
        path: "{{ item.path }}"
        state: absent
      loop: "{{ old_logs.files }}"
      loop_control:
        label: "{{ item.path | basename }}"
""" % subset)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200000, help="files in the big tree (default 200000)")
    ap.add_argument("--subset", type=int, default=2000, help="files in the builtin loop's subset (default 2000)")
    ap.add_argument("--dir", default=None, help="work directory (default: a new temp dir, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--reuse", action="store_true", help="reuse the trees of a previous --dir/--keep run")
    opts = ap.parse_args()
    work = opts.dir or tempfile.mkdtemp(prefix="yba-bench-disk-")
    os.makedirs(work, exist_ok=True)
    try:
        run(work, opts)
    finally:
        if not opts.keep and not opts.dir:
            shutil.rmtree(work, ignore_errors=True)


def run(work: str, opts: argparse.Namespace) -> None:
    small_root, big_root = os.path.join(work, "half"), os.path.join(work, "full")
    subset = os.path.join(work, "subset")
    marker = os.path.join(work, "trees.json")
    want = {"files": opts.files, "subset": opts.subset, "version": 1}
    try:
        with open(marker, encoding="utf-8") as fh:
            have = json.load(fh)
    except (OSError, ValueError):
        have = {}
    if opts.reuse and {k: have.get(k) for k in want} == want:
        counts = have["counts"]
        print("reusing the trees in %s (%d files)" % (work, counts["total"]))
    else:
        for path in (small_root, big_root, subset):
            shutil.rmtree(path, ignore_errors=True)
        if os.path.exists(marker):
            os.unlink(marker)
        t0 = time.perf_counter()
        counts = build_tree(big_root, opts.files)
        build_tree(small_root, opts.files // 2)
        build_subset(subset, opts.subset)
        with open(marker, "w", encoding="utf-8") as fh:
            json.dump(dict(want, counts=counts), fh)
        print("built trees in %.1f s: %d files (%s) and %d files; subset %d files; work dir %s" % (
            time.perf_counter() - t0, counts["total"],
            ", ".join("%s %d" % (k, v) for k, v in counts.items() if k != "total"), opts.files // 2, opts.subset,
            work))

    def progress(msg: str) -> None:
        print("... " + msg, file=sys.stderr, flush=True)

    progress("find")
    find_s, find_out = timed(["find", big_root, "-printf", r"%s %T@ %p\n"])
    find_entries = find_out.stdout.count("\n")
    del find_out

    progress("module process (find %.3f s)" % find_s)
    # the module as a fresh process (= Ansible's local execution of the module), best of 3 after a warm-up
    direct = [module_direct(big_root) for _run in range(4)][1:]
    direct_s = min(d[0] for d in direct)
    result = direct[0][2]
    inner_s = min(d[2]["scan"]["plan_seconds"] for d in direct)
    rss_full = max(d[1] for d in direct)
    half = [module_direct(small_root) for _run in range(2)]
    rss_half = max(d[1] for d in half)

    progress("ansible ad hoc (module process %.3f s, peak RSS %d KiB)" % (direct_s, rss_full))
    adhoc = ["ansible", "localhost", "-c", "local", "-m", "yba.remediation.disk_cleanup", "-a",
             json.dumps(module_args(big_root)), "--check"]
    ansible_s = timed(adhoc)[0]
    ping_s = timed(["ansible", "localhost", "-c", "local", "-m", "ansible.builtin.ping"])[0]

    progress("builtin find + file loop on %d files (ansible %.3f s, ping %.3f s); this takes minutes"
             % (opts.subset, ansible_s, ping_s))
    pb = os.path.join(work, "builtin_loop.yml")
    builtin_loop_playbook(pb, subset)
    t1 = time.perf_counter()
    loop_out = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-c", "local", "-i", "localhost,", pb,
                               "--check"], capture_output=True, text=True, env=env(), check=False)
    loop_s = time.perf_counter() - t1
    if loop_out.returncode != 0:
        raise SystemExit("builtin loop failed:\n" + loop_out.stdout[-3000:] + loop_out.stderr[-3000:])

    n = find_entries
    net_s = max(1e-9, ansible_s - ping_s)
    rows = [
        ("find -printf '%s %T@ %p' (floor)", n, find_s),
        ("disk_cleanup scan+plan inside the module", n, inner_s),
        ("disk_cleanup module process (python start + import + scan+plan)", n, direct_s),
        ("ansible localhost -m disk_cleanup --check (end to end)", n, ansible_s),
        ("  of which fixed Ansible cost (ansible -m ping)", 0, ping_s),
        ("  disk_cleanup via ansible minus the fixed cost", n, net_s),
        ("ansible.builtin.find + file loop --check (subset)", opts.subset, loop_s),
    ]
    print()
    print("%-66s %9s %9s %12s %10s" % ("contender", "entries", "seconds", "us/entry", "vs find"))
    for name, entries, secs in rows:
        per = (secs / entries * 1e6) if entries else float("nan")
        ratio = (per / (find_s / n * 1e6)) if entries else float("nan")
        print("%-66s %9d %9.3f %12.2f %9.1fx" % (name, entries, secs, per, ratio))
    per_loop = loop_s / opts.subset
    print()
    print("module: %d files looked at by name, %d files lstat'ed inside cleanup units, %d dirs; protected trees"
          " (DB, active/rollback software, TSDB via its own pass) are pruned; plans %d units" % (
              result["scan"]["files"], result["scan"]["unit_files"], result["scan"]["dirs"],
              sum(v["files"] for v in result["plan"].values())))
    print("speed vs find (in-module scan+plan):             %.2fx the time of find" % (inner_s / find_s))
    print("speed vs find (module process, as Ansible runs it): %.2fx the time of find" % (direct_s / find_s))
    print("speed vs find (ansible end to end, minus ping):  %.2fx the time of find" % (net_s / find_s))
    print("builtin loop per file / module per entry:       %.0fx (end to end) / %.0fx (process)" % (
        per_loop / (ansible_s / n), per_loop / (direct_s / n)))
    print("module peak RSS: %.1f MiB at %d files, %.1f MiB at %d files (growth %.1f%%)" % (
        rss_half / 1024.0, opts.files // 2, rss_full / 1024.0, opts.files,
        100.0 * (rss_full - rss_half) / rss_half))
    print("(find walked %d entries; builtin loop deleted nothing: --check)" % n)


if __name__ == "__main__":
    main()
