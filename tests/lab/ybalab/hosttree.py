"""The YBA host's filesystem under host.root: a small tmpfs laid out like a yba-installer host, and the incident's
full disk made of realistic YBA content (rotated logs, bundles, staging files, dumps, TSDB blocks, releases)."""
from __future__ import annotations

import gzip
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
import time
from typing import Any

from ybalab.labstate import PG_BIN, LabError, notice, write_atomic
from ybalab.seed import DB_VERSION, UNIVERSES, UNUSED_DB_VERSION

SIZE_MB = 256
YBA_VERSION = "2.18.1.0-b84"
OLD_YBA_VERSION = "2.16.8.0-b12"
YBC_VERSION = "2.0.0.0-b19"
TARGET_USED = 0.965     # the incident's disk: >= 95 % used, with a little room for the platform's own writes
PG_CLIENTS = ("psql", "pg_dump", "pg_restore", "pg_amcheck", "pg_isready")
DAY = 86400
MIB = 1 << 20


# --------------------------------------------------------------------------------------------- mount
def mount(state: dict[str, Any]) -> None:
    root = state["host"]["root"]
    os.makedirs(root, exist_ok=True)
    if os.path.ismount(root):
        state["host"]["mounted"] = True
        return
    if os.environ.get("YBALAB_NO_MOUNT"):  # force the fallback (tests, unprivileged containers)
        cp = subprocess.CompletedProcess([], 1, "", "YBALAB_NO_MOUNT is set")
    else:
        cp = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={state['host']['size_mb']}m,mode=0755",
                             "ybalab-host", root], capture_output=True, text=True, check=False)
    if cp.returncode == 0:
        state["host"]["mounted"] = True
    else:
        state["host"]["mounted"] = False
        notice(f"could not mount a tmpfs on {root} ({cp.stderr.strip() or cp.returncode}); using a plain "
               "directory: the incident's 'disk 95% full' is simulated by sizes, not real")


def umount(state: dict[str, Any]) -> None:
    root = state["host"]["root"]
    if os.path.ismount(root):
        cp = subprocess.run(["umount", root], capture_output=True, check=False)
        if cp.returncode != 0:
            subprocess.run(["umount", "-l", root], capture_output=True, check=False)


def usage(root: str) -> dict[str, int | float]:
    st = os.statvfs(root)
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return {"total": total, "used": used, "free": free, "pct": 100.0 * used / max(1, used + free)}


def wipe(state: dict[str, Any]) -> None:
    """Empty the host volume, keeping the metadata DB (data dir, socket dir, log) and the directories the lab host
    has mounted (emptied, not replaced: a bind mount stays on the directory it was made from)."""
    from ybalab.hostinit import VOLUME_MOUNTS
    root = os.path.normpath(state["host"]["root"])
    pg = state["postgres"]
    keep = {os.path.normpath(p) for p in (pg["data_dir"], pg["socket_dir"], pg["log"])}
    mounted = {os.path.join(root, sub) for sub, _target in VOLUME_MOUNTS}

    def empty(d: str) -> None:
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if p in keep:
                continue
            if p in mounted or any(k.startswith(p + "/") for k in keep | mounted):
                empty(p)
            elif os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)

    empty(root)


# --------------------------------------------------------------------------------------------- writers
class Writer:
    """Writes files under host.root, records them in the manifest, and gives them a real age."""

    def __init__(self, root: str, now: float) -> None:
        self.root = root
        self.now = now
        self.manifest: list[dict[str, Any]] = []
        self._rand = random.Random(20240131)
        self._block = os.urandom(MIB)

    def path(self, host_path: str) -> str:
        return os.path.join(self.root, host_path.lstrip("/"))

    def _done(self, host_path: str, category: str, age: float, deletable: bool) -> None:
        p = self.path(host_path)
        t = self.now - age
        os.utime(p, (t, t), follow_symlinks=False)
        self.manifest.append({"path": host_path, "category": category, "size": os.lstat(p).st_size,
                              "mtime": int(t), "deletable": deletable})

    def text(self, host_path: str, content: str, category: str = "config", age: float = 0.0,
             deletable: bool = False, mode: int = 0o644) -> None:
        p = self.path(host_path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(p, mode)
        self._done(host_path, category, age, deletable)

    def _noise(self, fh: Any, size: int) -> None:
        left = size
        while left > 0:
            n = min(left, MIB)
            fh.write(self._block[:n])
            left -= n

    def blob(self, host_path: str, size: int, category: str, age: float, deletable: bool,
             head: bytes = b"") -> None:
        """A file of `size` bytes: an optional real header followed by incompressible payload."""
        p = self.path(host_path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as fh:
            fh.write(head)
            self._noise(fh, max(0, size - len(head)))
        self._done(host_path, category, age, deletable)

    def gz(self, host_path: str, size: int, lines: str, category: str, age: float, deletable: bool) -> None:
        """A valid gzip file (readable log lines, then stored incompressible payload) of about `size` bytes."""
        p = self.path(host_path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=int(self.now - age)) as g:
                g.write(lines.encode())
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0, mtime=int(self.now - age)) as g:
                self._noise(g, max(0, size - raw.tell() - 64))
        self._done(host_path, category, age, deletable)

    def targz(self, host_path: str, size: int, members: dict[str, str], category: str, age: float,
              deletable: bool, payload_name: str = "payload.bin") -> None:
        """A valid .tar.gz with small text members plus one incompressible member making up the size."""
        p = self.path(host_path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        mtime = int(self.now - age)
        with tarfile.open(p, "w:gz", compresslevel=0) as tar:
            for name, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), mtime
                tar.addfile(info, io.BytesIO(data))
            n = max(0, size - 4096 * (len(members) + 2))
            info = tarfile.TarInfo(payload_name)
            info.size, info.mtime = n, mtime
            buf = io.BytesIO()
            self._noise(buf, n)
            buf.seek(0)
            tar.addfile(info, buf)
        self._done(host_path, category, age, deletable)


def log_lines(day: float, n: int = 40) -> str:
    t0 = time.gmtime(day)
    stamp = time.strftime("%Y-%m-%d", t0)
    out = []
    for i in range(n):
        hh, mm = divmod(i * 36, 60)
        lvl = "INFO" if i % 9 else "WARN"
        out.append(f"YW {stamp}T{hh % 24:02d}:{mm:02d}:{i % 60:02d}.{i:03d}Z [{lvl}] from Scheduler in "
                   f"application-akka.actor.default-dispatcher-{i % 12} - Running scheduler for backup "
                   f"schedules, {len(UNIVERSES)} schedules\n")
    return "".join(out)


def ulid(ms: int, rnd: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    n = (ms << 80) | rnd.getrandbits(80)
    return "".join(alphabet[(n >> (5 * i)) & 31] for i in reversed(range(26)))


# --------------------------------------------------------------------------------------------- layout
def yba_ctl_yml(state: dict[str, Any]) -> str:
    from ybalab.platform import paths as ppaths  # the platform port lives in platform.url
    return (
        "# yba-ctl.yml (2.18 keys, camelCase) written by the YBA lab\n"
        "installRoot: \"/opt/yugabyte\"\n"
        "host: \"127.0.0.1\"\n"
        "server_cert_path: \"\"\n"
        "server_key_path: \"\"\n"
        "service_username: \"yugabyte\"\n"
        "as_root: true\n"
        "platform:\n"
        f"  port: {ppaths.https_port(state)}\n"
        "  restartSeconds: 10\n"
        "  appSecret: \"lab-managed\"\n"
        "  keyStorePassword: \"lab-managed\"\n"
        "  useOauth: false\n"
        "  proxy:\n    enable: false\n"
        "  additional: \"\"\n"
        "postgres:\n"
        "  install:\n"
        "    enabled: true\n"
        f"    port: {state['postgres']['port']}\n"
        "    restartSeconds: 10\n"
        "    locale: \"en_US.UTF-8\"\n"
        "    ldap_enabled: false\n"
        "  useExisting:\n    enabled: false\n"
        "prometheus:\n"
        "  port: 9090\n"
        "  restartSeconds: 10\n"
        "  scrapeInterval: 10s\n"
        "  scrapeTimeout: 10s\n"
        "  maxConcurrency: 20\n"
        "  maxSamples: 5000000\n"
        "  timeout: 30s\n"
        "  retentionTime: 15d\n"
    )


def install_platform(state: dict[str, Any]) -> None:
    """software/<ver> (current + one kept older) via the platform engineer's installer stand-in."""
    try:
        from ybalab.platform import lifecycle
    except ImportError as exc:  # pragma: no cover - only before the platform package exists
        notice(f"platform package unavailable ({exc}); software dirs laid down minimally")
        lifecycle = None
    for ver, active in ((OLD_YBA_VERSION, False), (YBA_VERSION, True)):
        if lifecycle is not None:
            vdir = lifecycle.install_software(state, ver, active=active)
        else:
            vdir = os.path.join(state["host"]["root"], "opt/yugabyte/software", ver)
            os.makedirs(os.path.join(vdir, "pgsql/bin"), exist_ok=True)
        bindir = os.path.join(vdir, "pgsql", "bin")
        os.makedirs(bindir, exist_ok=True)
        for tool in PG_CLIENTS:  # "the host's own psql" is found in the install layout
            link = os.path.join(bindir, tool)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(os.path.join(PG_BIN, tool), link)


def build(state: dict[str, Any], scenario: str) -> dict[str, Any]:
    """Wipe and rebuild the host tree for the scenario; returns the manifest (also written to host_manifest.json)."""
    root = state["host"]["root"]
    if not os.path.isdir(root):
        raise LabError(f"host root {root} is missing: run `ybalab up`")
    wipe(state)
    now = time.time()
    w = Writer(root, now)
    D = "/opt/yugabyte/data"
    for d in ("logs", "postgres", "pgsql/run/postgresql", "prometheus/storage", "prometheus/swamper_targets",
              "prometheus/swamper_rules", f"yb-platform/releases/{DB_VERSION}", "yb-platform/keys",
              "yba-installer/certs", "yb-platform/ybc/releases", "yb-platform/ybc/release",
              "yb-platform/node-agent/releases"):
        os.makedirs(w.path(f"{D}/{d}"), exist_ok=True)
    for d in ("/opt/yba-ctl/log_bundles", "/tmp", "/etc/systemd/system"):
        os.makedirs(w.path(d), exist_ok=True)
    os.chmod(w.path("/tmp"), 0o1777)
    w.text(f"{D}/.version.txt", YBA_VERSION + "\n", "installer", 200 * DAY)
    w.text("/opt/yba-ctl/yba-ctl.yml", yba_ctl_yml(state), "installer", 200 * DAY, mode=0o600)
    w.text("/opt/yba-ctl/.installed", "", "installer", 200 * DAY)
    w.text("/opt/yba-ctl/yba.lic", "YBA-LAB-LICENSE-" + "0" * 48 + "\n", "installer", 200 * DAY, mode=0o600)
    w.text("/opt/yba-ctl/yba-ctl.log", "time=\"2024-01-02T10:00:00Z\" level=info msg=\"yba-ctl status\"\n",
           "installer", DAY)
    w.text(f"{D}/yb-platform/keys/{_cust(state)}/backup-encryption.key", "lab-universe-key\n", "keys", 300 * DAY,
           mode=0o600)
    for n, name in enumerate(UNIVERSES):
        w.text(f"{D}/prometheus/swamper_targets/node.{name}.json",
               json.dumps([{"targets": [f"10.20.{n}.{10 + k}:9300" for k in (1, 2, 3)],
                            "labels": {"node_prefix": f"yb-prod-{name}", "export_type": "node_export"}}]) + "\n",
               "swamper", 30 * DAY)
        w.text(f"{D}/prometheus/swamper_rules/yugaware.ad.{name}.yml", "groups: []\n", "swamper", 30 * DAY)
    w.text(f"{D}/logs/audit.log", "", "log-current", 0)
    tls = state["tls"]
    # the CA that signed the platform's certificate, where an operator keeps it on the host (the controller has
    # its own copy at tls.ca_cert): what a module running on the host verifies the platform with
    for src, dst in ((tls["server_cert"], "server.pem"), (tls["server_key"], "server.key"), (tls["ca_cert"], "ca.pem")):
        shutil.copyfile(src, w.path(f"{D}/yba-installer/certs/{dst}"))
    os.chmod(w.path(f"{D}/yba-installer/certs/server.key"), 0o600)
    install_platform(state)

    incident = scenario != "healthy"
    rel_size = 6 * MIB
    w.targz(f"{D}/yb-platform/releases/{DB_VERSION}/yugabyte-{DB_VERSION}-centos-x86_64.tar.gz", rel_size,
            {"yugabyte-2.18.1.0/version_metadata.json": json.dumps({"version_number": "2.18.1.0",
                                                                    "build_number": "84"})},
            "release-in-use", 90 * DAY, False, "yugabyte-2.18.1.0/bin/yb-tserver")
    w.targz(f"{D}/yb-platform/ybc/releases/ybc-{YBC_VERSION}-linux-x86_64.tar.gz", 2 * MIB,
            {"ybc/version": YBC_VERSION}, "ybc-release", 90 * DAY, False, "ybc/bin/yb-controller-server")
    if incident:
        _fill_incident(state, w)
    else:
        _healthy_content(w)
    manifest = {"scenario": scenario, "generated": int(now), "root": root, "mounted": state["host"]["mounted"],
                "usage": usage(root), "files": w.manifest}
    if state["host"]["mounted"]:  # the scenario's promise about the disk, checked rather than hoped
        pct = manifest["usage"]["pct"]
        if incident and pct < 95.0 or not incident and pct >= 80.0:
            raise LabError(f"host tree for {scenario} is {pct:.1f}% used, outside the scenario's range")
    write_atomic(os.path.join(state["dir"], "host_manifest.json"), json.dumps(manifest, indent=1))
    return manifest


def _cust(state: dict[str, Any]) -> str:
    return state["platform"]["customer_uuid"]


def _healthy_content(w: Writer) -> None:
    D = "/opt/yugabyte/data"
    for d in range(1, 31):
        day = w.now - d * DAY
        stamp = time.strftime("%Y-%m-%d", time.gmtime(day))
        w.gz(f"{D}/logs/application-log-{stamp}.gz", 160 * 1024, log_lines(day), "log-rotated", d * DAY - 3600,
             True)
        w.gz(f"{D}/logs/audit-log-{stamp}.gz", 24 * 1024, log_lines(day, 5), "log-rotated", d * DAY - 3600, True)
    w.text(f"{D}/logs/application.log", log_lines(w.now, 200), "log-current", 0)
    _prometheus(w, blocks=7, block_size=MIB)


def _prometheus(w: Writer, blocks: int, block_size: int) -> None:
    D = "/opt/yugabyte/data/prometheus/storage"
    rnd = random.Random(7)
    span = 2 * DAY
    for b in range(blocks):
        end = w.now - b * span
        start = end - span
        ms0, ms1 = int(start * 1000), int(end * 1000)
        name = ulid(ms1, rnd)
        meta = {"ulid": name, "minTime": ms0, "maxTime": ms1, "version": 1,
                "stats": {"numSamples": 18000000, "numSeries": 9000, "numChunks": 150000},
                "compaction": {"level": 3, "sources": [name]}}
        w.blob(f"{D}/{name}/chunks/000001", block_size, "prometheus-block", DAY * b * 2, True)
        w.text(f"{D}/{name}/index", "\x4a\x4d\xd5\x42\x02" + "i" * 64, "prometheus-block", DAY * b * 2, True)
        w.text(f"{D}/{name}/tombstones", "", "prometheus-block", DAY * b * 2, True)
        w.text(f"{D}/{name}/meta.json", json.dumps(meta, indent=1), "prometheus-block", DAY * b * 2, True)
    w.blob(f"{D}/wal/00000042", 256 * 1024, "prometheus-wal", 60, False)
    w.text(f"{D}/lock", "", "prometheus-wal", 60, False)


def _fill_incident(state: dict[str, Any], w: Writer) -> None:
    """Fill the disk to >= 95% with what really fills YBA hosts (FACTS 5.3), sized as weights of the room left."""
    D = "/opt/yugabyte/data"
    root = w.root
    u = usage(root)
    total = u["total"] if state["host"]["mounted"] else state["host"]["size_mb"] * MIB
    used = u["used"] if state["host"]["mounted"] else sum(f["size"] for f in w.manifest)
    room = int(total * TARGET_USED) - used - 64 * 4096  # minus block-rounding slack
    if room <= 0:
        return
    # weights: what share of the filled room each kind of content takes
    plan = {"app_logs": 40.0, "audit_logs": 10.0, "current_log": 3.0, "bundles": 12.0, "tmp": 10.0,
            "archive": 12.0, "dump": 6.0, "core": 10.0, "prom": 30.0, "release_unused": 12.0, "old_software": 8.0}
    unit = room / sum(plan.values())

    def sz(kind: str, n: int = 1) -> int:
        return max(4096, int(plan[kind] * unit / n) // 4096 * 4096)

    for d in range(1, 41):  # 40 days kept although maxHistory is 30: rotation cleanup stopped working
        day = w.now - d * DAY
        stamp = time.strftime("%Y-%m-%d", time.gmtime(day))
        w.gz(f"{D}/logs/application-log-{stamp}.gz", sz("app_logs", 40), log_lines(day), "log-rotated",
             d * DAY - 3600, True)
        w.gz(f"{D}/logs/audit-log-{stamp}.gz", sz("audit_logs", 40), log_lines(day, 5), "log-rotated",
             d * DAY - 3600, True)
    _app_log(w, sz("current_log"))
    for k, days in enumerate((33, 19, 6)):
        unix = int(w.now - days * DAY)
        w.targz(f"/opt/yba-ctl/log_bundles/yba_installer_bundle-{unix}.tar.gz", sz("bundles", 3),
                {"application.log": log_lines(w.now - days * DAY, 50), "yb-platform.conf": "# conf\n"},
                "log-bundle", days * DAY, True, "journalctl-yb-platform.log")
    # stale staging files in yb.filepaths.tmpDirectory, plus one fresh file that is in use
    stale = [("/tmp/yb-backup-staging-9f2c1e7a.tmp", 3), ("/tmp/ybc-upload-4b1d/part-00001", 5),
             (f"/tmp/releases-download-{UNUSED_DB_VERSION}.tar.gz.part", 9),
             ("/tmp/shell_process_out8734512093", 2), ("/tmp/yb-universe-logs-5e8a.zip", 12)]
    for path, days in stale:
        w.blob(path, sz("tmp", len(stale)), "tmp-stale", days * DAY, True)
    w.text("/tmp/ybc-upload-active.lock", "pid=4242\n", "tmp-fresh", 600, False)
    w.targz("/opt/yugabyte/backups/backup_23-12-18-02-00.tgz", sz("archive"),
            {"yugaware_backup/version.txt": "2.18.1.0-b84\n"}, "createbackup-archive", 44 * DAY, True,
            "yugaware_backup/releases.tar")
    w.blob(f"{D}/platform_dump.sql", sz("dump"), "pg-dump-leftover", 44 * DAY, True,
           head=b"PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01")
    w.blob(f"{D}/yb-platform/core.31337", sz("core"), "core-dump", 4 * DAY, True,
           head=b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00")
    _prometheus(w, blocks=20, block_size=sz("prom", 20))
    w.targz(f"{D}/yb-platform/releases/{UNUSED_DB_VERSION}/yugabyte-{UNUSED_DB_VERSION}-centos-x86_64.tar.gz",
            sz("release_unused"), {"yugabyte-2.16.8.0/version_metadata.json": "{}"}, "release-unused",
            200 * DAY, True, "yugabyte-2.16.8.0/bin/yb-tserver")
    old = f"/opt/yugabyte/software/{OLD_YBA_VERSION}"
    w.blob(f"{old}/yb-platform/yugaware/lib/yugaware.yugaware-{OLD_YBA_VERSION}-sans-externalized.jar",
           sz("old_software"), "software-superseded", 120 * DAY, False, head=b"PK\x03\x04")
    if state["host"]["mounted"]:  # top up to the target precisely (page rounding, metadata): grow the core dump
        u = usage(root)
        short = int(u["total"] * TARGET_USED) - int(u["used"])
        core = f"{D}/yb-platform/core.31337"
        if short > 4096:
            with open(w.path(core), "ab") as fh:
                w._noise(fh, short)
            t = w.now - 4 * DAY
            os.utime(w.path(core), (t, t))
            for f in w.manifest:
                if f["path"] == core:
                    f["size"] = os.path.getsize(w.path(core))


def fill_to_full(state: dict[str, Any], leave: int = 0) -> dict[str, Any]:
    """Take the volume to 100% (or to `leave` bytes free): a JVM heap dump (-XX:+HeapDumpOnOutOfMemoryError, two
    days old) grows until the disk refuses. Recorded in the manifest as a deletable core dump; returns its path
    and size."""
    root = state["host"]["root"]
    if not state["host"]["mounted"]:  # never fill the machine's own disk
        raise LabError("disk-exhausted needs the lab's tmpfs host volume (mount was not permitted)")
    path = "/opt/yugabyte/data/yb-platform/java_pid4711.hprof"
    w = Writer(root, time.time())
    p = w.path(path)
    block = b"\0" * MIB
    with open(p, "wb", buffering=0) as fh:  # unbuffered: nothing left to flush at close on a full disk
        fh.write(b"JAVA PROFILE 1.0.2\0" + b"\0" * 13)
        if leave:
            left = int(usage(root)["free"]) - leave
            while left > 0:
                left -= fh.write(block[:min(left, MIB)])
        for size in (MIB, 65536, 4096, 512, 1) if not leave else ():  # down to the last bytes
            try:
                while fh.write(block[:size]) == size:
                    pass
            except OSError:
                pass
    w._done(path, "core-dump", 2 * DAY, True)
    mpath = os.path.join(state["dir"], "host_manifest.json")
    with open(mpath, encoding="utf-8") as fh:
        manifest = json.load(fh)
    manifest["files"].append(w.manifest[-1])
    manifest["usage"] = usage(root)
    write_atomic(mpath, json.dumps(manifest, indent=1))
    return {"path": path, "size": w.manifest[-1]["size"]}


def _app_log(w: Writer, size: int) -> None:
    """The current application.log: real YBA-looking lines (the platform appends to it), about `size` bytes."""
    D = "/opt/yugabyte/data"
    lines = []
    for i in range(400, 0, -1):
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(w.now - i * 217))
        if i % 3 == 0:
            lines.append(f"YW {t}.{i % 1000:03d}Z [ERROR] from TaskExecutor in TaskPool-CreateBackup-{i % 8} - "
                         "Failed to execute task CreateBackup: java.io.IOException: No space left on device\n")
        elif i % 3 == 1:
            lines.append(f"YW {t}.{i % 1000:03d}Z [WARN] from CustomerTaskManager in main - Backup task "
                         "failed: com.amazonaws.SdkClientException: Unable to execute HTTP request: "
                         "Connect timed out\n")
        else:
            lines.append(f"YW {t}.{i % 1000:03d}Z [INFO] from HealthChecker in application-akka.actor."
                         "default-dispatcher-3 - Heap usage 90% of max (GC overhead 41%)\n")
    block = "".join(lines).encode()
    p = w.path(f"{D}/logs/application.log")
    with open(p, "wb") as fh:
        left = max(size, len(block))
        while left > 0:
            fh.write(block[:left])
            left -= len(block)
    w._done(f"{D}/logs/application.log", "log-current", 0, False)
