# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the guarded YBA upgrade with yba-ctl (module platform_upgrade).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# yba-ctl output parsers, bundle and archive handling (pure or file-only), and the Upgrade runner: the checks, then
# the step (preflight | backup | upgrade), with the command runner, the API client, the metadata DB readers and the
# clock injected, so the whole sequence runs in unit tests against fakes and a fake yba-ctl. Version order: _version.
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import tarfile
import tempfile
import time
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _layout, _lock, _metadb, _service
from ansible_collections.yba.remediation.plugins.module_utils._version import (
    compare_versions,
    is_stable,
    parse_version,
    version_matches,
)

CHECKS = ("bundle", "installed_version", "target_newer", "install_type", "disk_space", "yba_ctl_preflight",
          "no_running_tasks", "platform_healthy", "metadb_clean", "host_lock")
NOT_SKIPPABLE = ("bundle", "installed_version", "target_newer", "install_type")
STEPS = ("preflight", "backup", "upgrade")
PASS, WARNING, FAIL, SKIPPED = "pass", "warning", "fail", "skipped"
PREFLIGHT_STATUSES = ("Pass", "Warning", "Critical", "Skipped")  # pkg/preflight/checks/result.go
# models/TaskInfo.java State: not finished yet; Abort is "abort requested", the task still runs until it sees it
RUNNING_TASK_STATES = ("Created", "Initializing", "Running", "Abort")
BUNDLE_PENDING = "copied to the host after these checks"
DUMP_MEMBER = "platform_dump.sql"
VERSION_MEMBER = "version_metadata_backup.json"  # yb_platform_backup.sh: restoreBackup reads the version from it
DUMP_MAGIC = b"PGDMP"  # pg_dump -Fc (yb_platform_backup.sh create_postgres_backup)
PLAIN_SQL_HEADER = b"--"  # ysql_dump (a YBDB-metadata install) writes plain SQL: it opens with a "--" comment
READY_POLL = 5.0
ROLLBACK_SINCE = "2.23.0.0"  # yba-ctl upgrade --rollback (default on), release 2.23.0.0-b413
TARBALL_SUFFIXES = (".tar.gz", ".tgz")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
SKIP_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class UpgradeError(Exception):
    """A step failed; ``step`` is the result's failed_step."""

    def __init__(self, message: str, step: str) -> None:
        super().__init__(message)
        self.step = step


# --------------------------------------------------------------------------- yba-ctl version output (pure)

def parse_ybactl_version(text: str) -> t.Dict[str, t.Optional[str]]:
    """``yba-ctl version``: ``YBA Installer: <v>`` and ``YugabyteDB Anywhere: <v>`` (cmd/version.go)."""
    out: t.Dict[str, t.Optional[str]] = {"installer": None, "yba": None}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "yba installer":
            out["installer"] = value.strip() or None
        elif key == "yugabytedb anywhere":
            out["yba"] = value.strip() or None
    return out


def metadata_version(data: t.Mapping[str, t.Any]) -> str:
    """``<version_number>-b<build_number>`` of a version_metadata.json (ValueError when it has no version)."""
    number = str(data.get("version_number") or "").strip()
    build = str(data.get("build_number") or "").strip()
    if not number:
        raise ValueError("version_metadata.json has no version_number")
    version = "%s-b%s" % (number, build) if build else number
    parse_version(version)
    return version


def read_version_metadata(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return metadata_version(json.load(fh))


# --------------------------------------------------------------------------- yba-ctl preflight table (pure)

_LOG_LINE = re.compile(r"^\s*(?:DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b")


def parse_preflight(text: str) -> t.List[t.Dict[str, str]]:
    """Rows of ``yba-ctl preflight``'s table (pkg/preflight/preflight.go PrintPreflightResults): a tabwriter table
    ``#  Check name  Status  Error`` (tabs turned into space padding). Cells are cut at the header's column starts,
    so a check name or an error with spaces stays whole; tab-separated rows are split on tabs. Log lines and text
    before the header are ignored; a line that does not start with a row number continues the previous error."""
    rows: t.List[t.Dict[str, str]] = []
    cols: t.Optional[t.Tuple[int, int, int]] = None
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if cols is None:
            m = re.match(r"^\s*#(\s+)Check name(\s+)Status(\s+)Error\s*$", line.replace("\t", " "))
            if m and "\t" not in line:
                cols = (line.index("Check name"), line.index("Status"), line.index("Error"))
            elif m:
                cols = (-1, -1, -1)
            continue
        if not line.strip() or _LOG_LINE.match(line):
            continue
        if "\t" in line:
            cells = [c.strip() for c in line.split("\t")]
            if cells and cells[0].isdigit() and len(cells) >= 3:
                rows.append({"name": cells[1], "status": cells[2], "error": "\t".join(cells[3:]).strip()})
                continue
        elif cols[0] >= 0 and line[:cols[0]].strip().isdigit():
            status = line[cols[1]:cols[2]].strip()
            if status in PREFLIGHT_STATUSES:
                rows.append({"name": line[cols[0]:cols[1]].strip(), "status": status, "error": line[cols[2]:].strip()})
                continue
        m = re.match(r"^\s*(\d+)\s+(.+?)\s+(%s)(?:\s+(.*))?$" % "|".join(PREFLIGHT_STATUSES), line)
        if m:
            rows.append({"name": m.group(2), "status": m.group(3), "error": (m.group(4) or "").strip()})
        elif rows:
            rows[-1]["error"] = (rows[-1]["error"] + " " + line.strip()).strip()
    return rows


# --------------------------------------------------------------------------- files: hashes, bundle, archive

def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_tarball(path: str) -> bool:
    return path.endswith(TARBALL_SUFFIXES)


def _is_dot(member: tarfile.TarInfo) -> bool:
    """The archive's own directory (``./`` or ``.``, first in a tarball made with ``tar -C dir .``)."""
    return os.path.normpath(member.name) == "." and member.isdir()


def _unsafe_member(member: tarfile.TarInfo, top: t.Optional[str]) -> t.Optional[str]:
    name = member.name
    norm = os.path.normpath(name)
    if _is_dot(member):
        return None
    if name.startswith("/") or norm == ".." or norm.startswith("../") or "/../" in "/%s/" % name:
        return "%s leaves the bundle directory" % name
    if top is None:
        return None
    if norm.split("/", 1)[0] != top:
        return "%s is not under the bundle's top directory %s" % (name, top)
    if not (member.isfile() or member.isdir() or member.issym()):
        return "%s is not a file, directory or symlink" % name
    if member.issym():
        target = os.path.normpath(os.path.join(os.path.dirname(norm), member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../") or \
                target.split("/", 1)[0] != top:
            return "symlink %s -> %s points outside the bundle directory" % (name, member.linkname)
    return None


def inspect_tarball(path: str) -> t.Tuple[str, str]:
    """``(top dir, version)`` of a bundle tarball: one top directory holding ``version_metadata.json``; every member
    stays inside it (no absolute path, no ``..``, no link leading out, no device). ValueError otherwise."""
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _unsafe_member(member, None)
                if problem:
                    raise ValueError("refusing to extract %s: %s" % (path, problem))
            tops = {os.path.normpath(m.name).split("/", 1)[0] for m in members if not _is_dot(m)}
            if len(tops) != 1:
                raise ValueError("%s must hold one top directory, holds %s" % (path, ", ".join(sorted(tops)) or "nothing"))
            top = tops.pop()
            for member in members:
                problem = _unsafe_member(member, top)
                if problem:
                    raise ValueError("refusing to extract %s: %s" % (path, problem))
            meta = next((m for m in members if os.path.normpath(m.name) == top + "/version_metadata.json"
                         and m.isfile()), None)
            if meta is None:
                raise ValueError("%s has no %s/version_metadata.json: not a YBA installer bundle" % (path, top))
            handle = tar.extractfile(meta)
            version = metadata_version(json.loads(handle.read().decode("utf-8")) if handle else {})
    except (tarfile.TarError, OSError, UnicodeDecodeError) as exc:
        raise ValueError("cannot read the bundle tarball %s: %s" % (path, exc))
    if top in (".", "..") or "/" in top:
        raise ValueError("%s: bad top directory %r" % (path, top))
    return top, version


def extract_tarball(path: str, top: str) -> str:
    """Extract a checked tarball (``inspect_tarball``) beside itself into ``<dir>/<top>``, atomically (a temporary
    directory renamed into place). Returns the bundle directory."""
    parent = os.path.dirname(path)
    dest = os.path.join(parent, top)
    tmp = tempfile.mkdtemp(prefix=".%s.extract-" % top, dir=parent)
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar.getmembers():
                if _is_dot(member):  # the archive's own directory: the temporary directory stands for it
                    continue
                if _unsafe_member(member, top):  # checked before; the archive may have changed since
                    raise ValueError("refusing to extract %s: %s" % (path, _unsafe_member(member, top)))
                tar.extract(member, tmp, set_attrs=True, **_extract_kw())
        os.rename(os.path.join(tmp, top), dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _extract_kw() -> t.Dict[str, t.Any]:
    # Python 3.12+ (and security backports) take a filter; 'tar' keeps modes but still refuses what escapes
    return {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}


def bundle_dir_problem(path: str) -> t.Optional[str]:
    if not os.path.isfile(os.path.join(path, "version_metadata.json")):
        return "%s has no version_metadata.json: not an extracted YBA installer bundle" % path
    if not os.access(os.path.join(path, "yba-ctl"), os.X_OK):
        return "%s has no executable yba-ctl" % path
    return None


def archive_name(name: str) -> str:
    """A member's name as ``tar -tzf`` would match it: yb_platform_backup.sh tars ``-C <dir> .``, so its members are
    ``./platform_dump.sql``; the leading ``./`` (and a trailing ``/``) cut off, ``.`` for the archive's own dir."""
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/") or "."


def dump_header_ok(head: bytes) -> bool:
    """A platform_dump.sql yb_platform_backup.sh writes: ``pg_dump -Fc`` (a YBA on PostgreSQL) starts with
    ``PGDMP``; ``ysql_dump`` (a YBA whose metadata is in YBDB) writes plain SQL, which starts with a ``--`` comment
    line (blank lines before it allowed)."""
    return head.startswith(DUMP_MAGIC) or head.lstrip(b"\r\n").startswith(PLAIN_SQL_HEADER)


def verify_archive(path: str) -> t.Dict[str, t.Any]:
    """What ``tar -tzf`` shows of a createBackup archive, and its dump's header: ``{path, size, sha256, members,
    dump_ok}``. ValueError when it is missing, empty, unreadable, has no ``platform_dump.sql`` or no
    ``version_metadata_backup.json`` at its root (restoreBackup needs both), or the dump is neither a pg_dump
    custom-format file nor plain SQL (``dump_header_ok``)."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ValueError("backup archive %s: %s" % (path, exc.strerror or exc))
    if size <= 0:
        raise ValueError("backup archive %s is empty" % path)
    dump_ok = False
    try:
        with tarfile.open(path, "r:gz") as tar:
            infos = tar.getmembers()
            members = [n for n in (archive_name(m.name) for m in infos) if n != "."]
            dump = next((m for m in infos if archive_name(m.name) == DUMP_MEMBER and m.isfile()), None)
            has_version = any(archive_name(m.name) == VERSION_MEMBER and m.isfile() for m in infos)
            if dump is not None:
                handle = tar.extractfile(dump)
                dump_ok = bool(handle) and dump_header_ok(handle.read(256))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError("backup archive %s is not a readable .tgz: %s" % (path, exc))
    missing = [n for n, ok in ((DUMP_MEMBER, dump is not None), (VERSION_MEMBER, has_version)) if not ok]
    if missing:
        raise ValueError("backup archive %s holds no %s at its root (yba-ctl restoreBackup needs it)"
                         % (path, " and no ".join(missing)))
    if not dump_ok:
        raise ValueError("backup archive %s: %s is neither a pg_dump custom-format dump (PGDMP header) nor a plain "
                         "SQL dump (a -- header line)" % (path, DUMP_MEMBER))
    top_members = sorted({m.split("/", 1)[0] if not m.startswith("data/") else "/".join(m.split("/")[:3])
                          for m in members})
    return {"path": path, "size": size, "sha256": sha256_file(path), "members": top_members, "dump_ok": dump_ok}


def newest_backup(out_dir: str, since: float) -> t.Optional[str]:
    """The newest ``backup_*.tgz`` in out_dir modified at or after ``since`` (createBackup names it
    backup_<YY-MM-DD-HH-MM>.tgz, yb_platform_backup.sh; the real yba-ctl logs the path, it does not print it)."""
    try:
        names = [n for n in os.listdir(out_dir) if n.startswith("backup_") and n.endswith(".tgz")]
    except OSError:
        return None
    found = []
    for name in names:
        full = os.path.join(out_dir, name)
        try:
            mtime = os.path.getmtime(full)
        except OSError:
            continue
        if mtime >= since - 1 and os.path.isfile(full):
            found.append((mtime, full))
    return max(found)[1] if found else None


def tree_bytes(path: t.Optional[str]) -> int:
    """Bytes of the files under path (a file's own size; 0 when missing; symlinks not followed)."""
    if not path or not os.path.lexists(path):
        return 0
    if not os.path.isdir(path) or os.path.islink(path):
        try:
            return os.lstat(path).st_size
        except OSError:
            return 0
    total = 0
    for base, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total


def estimate_backup_bytes(layout: t.Any, db_bytes: t.Optional[int], exclude_prometheus: bool,
                          exclude_releases: bool) -> int:
    """Upper estimate of a createBackup archive: the yugaware DB's size plus what yb_platform_backup.sh tars from the
    data dir (keys, certs, licenses, swamper targets/rules; releases and Prometheus unless excluded)."""
    paths: t.List[t.Optional[str]] = [layout.keys_dir] + list(layout.certs_dirs) + list(layout.license_files) + \
        list(layout.swamper_dirs)
    if not exclude_releases:
        paths.append(layout.releases_dir)
    if not exclude_prometheus:
        paths.append(layout.prometheus_storage)
    return int(db_bytes or 0) + sum(tree_bytes(p) for p in paths)


def free_mib(path: str) -> int:
    st = os.statvfs(_layout.existing_parent(path))
    return int(st.f_bavail * st.f_frsize // (1 << 20))


def same_volume(a: str, b: str) -> bool:
    return os.stat(_layout.existing_parent(a)).st_dev == os.stat(_layout.existing_parent(b)).st_dev


def mib(n_bytes: int) -> int:
    return int((n_bytes + (1 << 20) - 1) // (1 << 20))


def size_text(mebibytes: int) -> str:
    return "%d GiB" % (mebibytes // 1024) if mebibytes and mebibytes % 1024 == 0 else "%d MiB" % mebibytes


# --------------------------------------------------------------------------- the runner

class Check:
    def __init__(self, status: str, message: str) -> None:
        self.status = status
        self.message = message

    def as_dict(self) -> t.Dict[str, str]:
        return {"status": self.status, "message": self.message}


Runner = t.Callable[..., _service.CmdResult]  # (argv, timeout, cwd=None) -> CmdResult, as _service.run_command


class Upgrade:
    """One run of the module: ``run()`` fills ``result`` and returns it, or raises UpgradeError with ``result``
    filled as far as it got. Nothing changes in check mode (``check_mode``) or when the checks fail.

    ``client`` is a ``_api.YBAClient``; ``metadb`` a callable returning metadb_info's ``metadb`` dict;
    ``restores`` a callable returning the number of running restores (raising when the DB is unreachable)."""

    def __init__(self, params: t.Mapping[str, t.Any], layout: t.Any, client: t.Any,
                 metadb: t.Callable[[], t.Dict[str, t.Any]], restores: t.Callable[[], int],
                 check_mode: bool = False, runner: Runner = _service.run_command,
                 clock: t.Callable[[], float] = time.monotonic, wall: t.Callable[[], float] = time.time,
                 sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.p = params
        self.layout = layout
        self.client = client
        self.metadb_reader = metadb
        self.restores_reader = restores
        self.check_mode = check_mode
        self.runner = runner
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.step = params["step"]
        self.host_root = layout.host_root
        self.yba_ctl = _layout.join_root(self.host_root, params["yba_ctl_path"]) if params.get("yba_ctl_path") \
            else layout.yba_ctl_bin
        self.backup_dir_host = params.get("backup_dir") or os.path.join(layout.to_host(layout.install_root), "backups")
        self.backup_dir = _layout.join_root(self.host_root, self.backup_dir_host)
        self.checks: t.Dict[str, Check] = {}
        self.commands: t.List[str] = []
        self.bundle_dir: t.Optional[str] = None  # real path of the extracted bundle (None: not there yet)
        self.bundle_tarball: t.Optional[t.Tuple[str, str]] = None  # (real tarball, top dir) still to extract
        self.bundle_version: t.Optional[str] = None
        self.installed: t.Optional[str] = None
        self.health: t.Optional[_service.Health] = None
        self.metadb: t.Optional[t.Dict[str, t.Any]] = None
        self.action = "upgrade"
        self.phase = "preflight"  # the step under way: failed_step of an unexpected error
        self.upgrade_ran = False  # yba-ctl upgrade was started (the installed software may have changed)
        self.timings: t.Dict[str, float] = {}
        self.result: t.Dict[str, t.Any] = {
            "changed": False, "checks": {}, "yba_ctl_preflight": [], "installed_version": None,
            "target_version": None, "action": None, "plan": [], "backup": None, "upgraded": False, "verify": None,
            "failed_step": None, "way_back": None, "timings": self.timings,
        }

    # ------------------------------------------------------------------ helpers

    def host(self, real: t.Optional[str]) -> t.Optional[str]:
        return self.layout.to_host(real) if real else real

    def run_cmd(self, argv: t.List[str], timeout: float, cwd: t.Optional[str] = None) -> _service.CmdResult:
        self.commands.append(" ".join(shlex.quote(self.host(a) if a.startswith(self.host_root + "/") and
                                                  self.host_root != "/" else a) for a in argv))
        if cwd is None:
            return self.runner(argv, timeout)
        return self.runner(argv, timeout, cwd=cwd)

    def skip_arg(self) -> t.List[str]:
        names = self.p.get("yba_ctl_skip_preflight") or []
        return ["-s", ",".join(names)] if names else []

    def timed(self, name: str, start: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + self.clock() - start, 2)

    def failed_step(self) -> str:
        """failed_step for an error no step handled: ``verify`` once yba-ctl upgrade ran, else the step under way."""
        return "verify" if self.upgrade_ran or self.result.get("upgraded") else self.phase

    def set(self, name: str, status: str, message: str) -> None:
        if status == FAIL and name in (self.p.get("skip_checks") or []):
            status, message = SKIPPED, "skipped (skip_checks) instead of failing: " + message
        self.checks[name] = Check(status, message)
        self.result["checks"][name] = self.checks[name].as_dict()

    # ------------------------------------------------------------------ checks

    def check_bundle(self) -> None:
        given = self.p["bundle"]
        real = _layout.join_root(self.host_root, given)
        if not os.path.exists(real):
            # the caller copies the bundle after a step=preflight, and never in check mode
            if self.p.get("bundle_pending") and (self.check_mode or self.step == "preflight"):
                self.set("bundle", SKIPPED, "%s is %s" % (given, BUNDLE_PENDING))
                return
            self.set("bundle", FAIL, "%s does not exist on the host" % given)
            return
        notes = []
        try:
            if os.path.isdir(real):
                problem = bundle_dir_problem(real)
                if problem:
                    raise ValueError(problem.replace(real, given))
                version = read_version_metadata(os.path.join(real, "version_metadata.json"))
                self.bundle_dir = real
            elif is_tarball(real):
                if self.p.get("bundle_sha256"):
                    digest = sha256_file(real)
                    if digest.lower() != self.p["bundle_sha256"].lower():
                        raise ValueError("sha256 of %s is %s, bundle_sha256 says %s"
                                         % (given, digest, self.p["bundle_sha256"].lower()))
                    notes.append("sha256 verified")
                top, version = inspect_tarball(real)
                existing = os.path.join(os.path.dirname(real), top)
                if os.path.isdir(existing) and bundle_dir_problem(existing) is None and \
                        read_version_metadata(os.path.join(existing, "version_metadata.json")) == version:
                    self.bundle_dir = existing
                    notes.append("already extracted at %s" % self.host(existing))
                elif os.path.lexists(existing):
                    raise ValueError("%s exists and is not the extracted bundle of %s; move it away"
                                     % (self.host(existing), given))
                else:
                    self.bundle_tarball = (real, top)
                    notes.append("to be extracted to %s" % self.host(existing))
            else:
                raise ValueError("%s is neither a bundle directory nor a .tar.gz/.tgz tarball" % given)
        except (ValueError, OSError) as exc:
            self.set("bundle", FAIL, str(exc))
            return
        self.bundle_version = version
        if not version_matches(self.p["target_version"], version):
            self.set("bundle", FAIL, "%s is version %s, not the target_version %s"
                     % (given, version, self.p["target_version"]))
            return
        self.set("bundle", PASS, "%s is YBA %s%s" % (given, version, (" (%s)" % ", ".join(notes)) if notes else ""))

    def check_installed_version(self) -> None:
        ctl_version = None
        res = self.run_cmd([self.yba_ctl, "version"], 60)
        if res.rc == 0:
            ctl_version = parse_ybactl_version(res.stdout).get("yba")
        self.health = _service.probe_health(self.client, float(self.p.get("request_timeout") or 30))
        api_version = self.health.version
        if ctl_version and api_version:
            if ctl_version != api_version and compare_versions(ctl_version, api_version) != 0:
                self.set("installed_version", FAIL, "yba-ctl version says %s but the API's app_version says %s: "
                         "an upgrade or a restart did not finish" % (ctl_version, api_version))
                return
            self.installed = ctl_version
            self.set("installed_version", PASS, "%s (yba-ctl version and GET /api/v1/app_version agree)" % ctl_version)
        elif ctl_version:
            self.installed = ctl_version
            self.set("installed_version", WARNING, "%s from yba-ctl version alone; the API did not answer (%s)"
                     % (ctl_version, self.health.message))
        elif api_version:
            self.installed = api_version
            self.set("installed_version", WARNING, "%s from the API alone; %s" % (api_version, res.summary()))
        else:
            self.set("installed_version", FAIL, "neither yba-ctl version (%s) nor the API (%s) tell the installed "
                     "version" % (res.summary(), self.health.message))
        self.result["installed_version"] = self.installed

    def check_target_newer(self) -> None:
        target = self.bundle_version or self.p["target_version"]
        if self.installed is None:
            self.set("target_newer", FAIL, "the installed version is unknown")
            return
        order = compare_versions(target, self.installed)
        if order == 0 or version_matches(self.p["target_version"], self.installed):
            self.action = "none"
            self.set("target_newer", PASS, "%s is installed already: nothing to do" % self.installed)
        elif order < 0:
            self.set("target_newer", FAIL, "%s is older than the installed %s; downgrades are not supported"
                     % (target, self.installed))
        elif not is_stable(self.installed) and is_stable(target):
            # preview and stable are separate tracks (yugabyte's IsVersionStable); no upgrade path between them
            self.set("target_newer", FAIL, "upgrading from a preview release (%s) to a stable release (%s) is not "
                     "supported" % (self.installed, target))
        else:
            self.set("target_newer", PASS, "%s -> %s" % (self.installed, target))

    def check_install_type(self) -> None:
        kind = self.layout.install_type
        if kind == "yba-installer":
            self.set("install_type", PASS, "yba-installer install at %s" % self.host(self.layout.install_root))
        elif kind == "replicated":
            self.set("install_type", FAIL, "Replicated installs are upgraded from the Replicated admin console or "
                     "migrated first: yba-ctl replicated-migrate (docs: migrate-replicated)")
        else:
            self.set("install_type", FAIL, "no YBA install found under %s (no yba-ctl.yml, no install root)"
                     % self.host(self.layout.install_root))

    def read_metadb(self) -> t.Dict[str, t.Any]:
        if self.metadb is None:
            self.metadb = self.metadb_reader()
        return self.metadb

    def check_disk_space(self) -> None:
        root = self.layout.install_root
        root_host = self.host(root)
        need_mb = int(self.p["min_free_mb"])
        archive = 0
        note = ""
        if self.step != "upgrade":  # step upgrade: the archive exists already, its space is taken
            info = self.read_metadb()
            db = info.get("database_size_bytes")
            if db is None:
                note = "; the database size is unknown (metadata DB unreachable)"
            archive = mib(estimate_backup_bytes(self.layout, db, self.p["exclude_prometheus"],
                                                self.p["exclude_releases"]))
        free_root = free_mib(root)
        problems = []
        if same_volume(root, self.backup_dir):
            want = need_mb + archive
            what = "%s for the upgrade + the backup archive's estimated size" % size_text(need_mb) if archive else \
                "%s for the upgrade" % size_text(need_mb)
            text = "%d MiB free on %s (volume of the install root), need %d MiB (%s)%s" % (
                free_root, root_host, want, what, note)
            if free_root < want:
                problems.append(text)
        else:
            free_backup = free_mib(self.backup_dir)
            text = "%d MiB free on %s (volume of the install root), need %d MiB (%s for the upgrade); %d MiB free " \
                   "for backup_dir %s, need %d MiB (the backup archive's estimated size)%s" % (
                       free_root, root_host, need_mb, size_text(need_mb), free_backup, self.backup_dir_host,
                       archive, note)
            if free_root < need_mb or free_backup < archive:
                problems.append(text)
        self.set("disk_space", FAIL if problems else PASS, text)

    def prepare_bundle(self) -> None:
        """Extract a tarball bundle (a real run with something to do, before yba-ctl preflight)."""
        if self.bundle_tarball is None or self.check_mode or self.action != "upgrade":
            return
        real, top = self.bundle_tarball
        start = self.clock()
        self.bundle_dir = extract_tarball(real, top)
        self.bundle_tarball = None
        self.result["bundle_extracted"] = self.host(self.bundle_dir)
        check = self.checks["bundle"]
        self.set("bundle", check.status, check.message.replace("to be extracted to", "extracted to"))
        self.result["changed"] = True
        self.timed("extract", start)

    def check_yba_ctl_preflight(self) -> None:
        if self.checks["bundle"].status == SKIPPED:
            self.set("yba_ctl_preflight", SKIPPED, "the bundle is %s" % BUNDLE_PENDING)
            return
        if self.bundle_dir is None:
            if self.bundle_tarball is not None and self.check_mode:
                self.set("yba_ctl_preflight", SKIPPED, "the bundle tarball is extracted by the real run")
            else:
                self.set("yba_ctl_preflight", FAIL, "no bundle to run yba-ctl preflight from")
            return
        start = self.clock()
        res = self.run_cmd([os.path.join(self.bundle_dir, "yba-ctl"), "preflight", "--upgrade"] + self.skip_arg(),
                           300, cwd=self.bundle_dir)
        self.timed("yba_ctl_preflight", start)
        rows = parse_preflight(res.stdout)
        self.result["yba_ctl_preflight"] = rows
        critical = [r for r in rows if r["status"] == "Critical"]
        warnings = [r for r in rows if r["status"] == "Warning"]
        if critical:
            self.set("yba_ctl_preflight", FAIL, "; ".join("%s Critical: %s" % (r["name"], r["error"]) for r in critical))
        elif res.rc != 0:
            self.set("yba_ctl_preflight", FAIL, res.summary())
        elif not rows:
            self.set("yba_ctl_preflight", FAIL, "yba-ctl preflight --upgrade printed no result table")
        elif warnings:
            self.set("yba_ctl_preflight", WARNING, "; ".join("%s Warning: %s" % (r["name"], r["error"])
                                                             for r in warnings))
        else:
            self.set("yba_ctl_preflight", PASS, "%d checks passed or skipped" % len(rows))

    def check_no_running_tasks(self) -> None:
        busy: t.List[str] = []
        notes: t.List[str] = []
        try:
            tasks = self.client.get(self.client.cpath("tasks_list"), retries=0) or []
            for task in tasks if isinstance(tasks, list) else []:
                if task.get("status") in RUNNING_TASK_STATES:
                    busy.append("task %s %s (%s)" % (task.get("title") or task.get("type") or "?", task.get("id"),
                                                     task.get("status")))
        except Exception as exc:  # pylint: disable=broad-except
            unread = "the task list (GET tasks_list) was not read from the API, so a running task cannot be ruled " \
                     "out: %s" % exc
        else:
            unread = None
        info = self.read_metadb()
        if info.get("reachable"):
            live = (info.get("live_backups") or {}).get("count") or 0
            stale = ((info.get("stale_backups") or {}).get("by_state") or {}).get("In Progress") or 0
            if live or stale:
                busy.append("%d backups In Progress in the metadata DB" % (live + stale))
            try:
                restores = self.restores_reader()
            except Exception as exc:  # pylint: disable=broad-except
                notes.append("restores not read: %s" % exc)
                restores = 0
            if restores:
                busy.append("%d restores In Progress in the metadata DB" % restores)
        else:
            notes.append("backups and restores not read: metadata DB unreachable")
        if busy or unread:
            parts = []
            if busy:
                more = " (+%d more)" % (len(busy) - 10) if len(busy) > 10 else ""
                parts.append("wait for or stop: " + "; ".join(busy[:10]) + more)
            if unread:
                parts.append(unread)
            self.set("no_running_tasks", FAIL, "; ".join(parts))
        elif notes:
            self.set("no_running_tasks", WARNING, "none seen, but " + "; ".join(notes))
        else:
            self.set("no_running_tasks", PASS, "no running task, backup or restore")

    def service_states(self) -> t.Tuple[t.Dict[str, str], t.List[str]]:
        backend = _service.YbaCtlBackend(self.yba_ctl, runner=lambda argv, timeout: self.run_cmd(argv, timeout or 60))
        try:
            states = backend.status(_service.SERVICES)
        except _service.ServiceError as exc:
            return {}, ["yba-ctl status failed: %s" % exc]
        down = ["%s %s" % (s, st.raw) for s, st in states.items()
                if st.state not in (_service.RUNNING, _service.NOT_INSTALLED, _service.UNMANAGED)]
        return {s: st.raw for s, st in states.items()}, down

    def check_platform_healthy(self) -> None:
        problems = []
        if self.health is None or not self.health.healthy:
            problems.append("API: %s" % (self.health.message if self.health else "not probed"))
        _states, down = self.service_states()
        if down:
            problems.append("not Running: " + ", ".join(down))
        if problems:
            self.set("platform_healthy", FAIL, "; ".join(problems))
        else:
            self.set("platform_healthy", PASS, "API answers (app_version, authenticated GET /api/v1/customers); "
                     "yba-ctl status: every service Running")

    def check_metadb_clean(self) -> None:
        info = self.read_metadb()
        if not info.get("reachable"):
            self.set("metadb_clean", FAIL, "metadata DB unreachable: %s" % info.get("error"))
            return
        critical = _metadb.critical_findings(info)
        if critical:
            self.set("metadb_clean", FAIL, "; ".join(critical) + " (repair with yba.remediation.metadb_repair first)")
        else:
            self.set("metadb_clean", PASS, "no corrupt index, no failed migration")

    def check_host_lock(self) -> None:
        holder = _lock.read(_lock.lock_path(self.host_root))
        held = holder if holder and holder.get("alive") and holder.get("valid") else None
        owner = self.p.get("lock_owner")
        if owner:
            if held and held.get("owner") == owner:
                self.set("host_lock", PASS, "held by this run (%s)" % owner)
            elif self.check_mode and not held:  # a check run takes no lock (host_lock's check mode writes nothing)
                self.set("host_lock", PASS, "free: the real run takes it as %s" % owner)
            else:
                self.set("host_lock", FAIL, "the host lock is not held by %s: %s" % (
                    owner, _lock.describe(held) if held else "no lock is held"))
        else:
            self.set("host_lock", WARNING, "no lock_owner given; %s" % (
                "held by " + _lock.describe(held) if held else "no lock is held"))

    def run_checks(self) -> None:
        start = self.clock()
        self.check_bundle()
        self.result["target_version"] = self.bundle_version
        self.check_installed_version()
        self.check_target_newer()
        self.check_install_type()
        if self.action == "none":
            for name in CHECKS[4:]:
                self.set(name, SKIPPED, "not needed: %s is installed already" % self.installed)
        else:
            self.check_disk_space()
            if not any(c.status == FAIL for c in self.checks.values()):  # nothing changes after a failed check
                self.prepare_bundle()
            self.check_yba_ctl_preflight()
            self.check_no_running_tasks()
            self.check_platform_healthy()
            self.check_metadb_clean()
            self.check_host_lock()
        self.timed("checks", start)
        self.result["action"] = self.action
        self.result["plan"] = self.plan()

    def failed_checks(self) -> t.List[str]:
        return ["%s: %s" % (n, c.message) for n, c in self.checks.items() if c.status == FAIL]

    # ------------------------------------------------------------------ plan

    def plan(self) -> t.List[str]:
        if self.action == "none":
            return ["nothing: %s is installed already" % self.installed]
        steps = []
        bundle_host = self.host(self.bundle_dir) if self.bundle_dir else None
        if self.bundle_tarball is not None:
            bundle_host = self.host(os.path.join(os.path.dirname(self.bundle_tarball[0]), self.bundle_tarball[1]))
            steps.append("extract %s to %s" % (self.p["bundle"], bundle_host))
        bundle_host = bundle_host or "<bundle>"
        target = self.bundle_version or self.p["target_version"]
        if self.step in ("preflight", "backup"):
            steps.append("%s createBackup %s%s%s (the installed yba-ctl; it stops yb-platform while the dump is taken "
                         "and restarts it), then wait up to %d s for the API to answer again" % (
                             self.host(self.yba_ctl), self.backup_dir_host,
                             " --exclude_prometheus" if self.p["exclude_prometheus"] else "",
                             " --exclude_releases" if self.p["exclude_releases"] else "", self.p["ready_timeout"]))
            steps.append("verify the archive: lists %s (a PGDMP dump), size > 0, sha256" % DUMP_MEMBER)
        if self.step == "preflight":
            steps.append("copy the archive off the host (the caller), then step=upgrade with backup_archive")
        if self.step == "upgrade":
            if self.p.get("skip_backup"):
                steps.append("no backup (skip_backup): the upgrade cannot be undone")
            else:
                steps.append("re-verify backup_archive %s (off-host copy: %s)" % (self.p.get("backup_archive"),
                                                                                  self.p.get("backup_copy")))
        if self.step in ("preflight", "upgrade"):
            steps.append("cd %s && ./yba-ctl upgrade -f%s (timeout %d s): %s -> %s" % (
                bundle_host, (" " + " ".join(self.skip_arg())) if self.skip_arg() else "", self.p["upgrade_timeout"],
                self.installed, target))
            steps.append("verify: app_version == %s within %d s, authenticated GET /api/v1/customers, yba-ctl status "
                         "every service Running, schedules' statuses unchanged" % (target, self.p["ready_timeout"]))
        return steps

    # ------------------------------------------------------------------ steps

    def way_back(self, archive: t.Optional[str]) -> str:
        target = self.bundle_version or self.p["target_version"]
        if archive is None:
            text = "no backup was taken (skip_backup): the upgrade cannot be undone and there is no way back to %s" \
                % self.installed
        else:
            text = "the upgrade cannot be undone: reinstall %s (software/%s is kept) and run `yba-ctl restoreBackup " \
                   "%s` with it" % (self.installed, self.installed, archive)
            if self.p.get("backup_copy"):
                text += "; copy kept at %s" % self.p["backup_copy"]
        try:
            if compare_versions(target, ROLLBACK_SINCE) >= 0:
                text += "; from 2.23 on, `yba-ctl upgrade --rollback` (on by default) rolls a failed upgrade back " \
                        "itself"
        except ValueError:
            pass
        return text

    def take_backup(self) -> None:
        self.phase = "backup"
        start = self.clock()
        since = self.wall()
        os.makedirs(self.backup_dir, exist_ok=True)
        argv = [self.yba_ctl, "createBackup", self.backup_dir_host]
        if self.p["exclude_prometheus"]:
            argv.append("--exclude_prometheus")
        if self.p["exclude_releases"]:
            argv.append("--exclude_releases")
        self.result["changed"] = True  # createBackup stops and restarts yb-platform, whatever it leaves behind
        res = self.run_cmd(argv, float(self.p["upgrade_timeout"]))
        self.timed("backup", start)
        # 2.18/2.20's createBackup restarts yb-platform with systemctl and returns without waiting for the app
        # (1-3 min on a real host): wait as after the upgrade, or step=upgrade's platform_healthy check fails
        health = self.wait_platform("backup_ready")
        back = "" if health.healthy else "; the platform does not answer %d s later either: %s" % (
            self.p["ready_timeout"], health.message)
        archive = newest_backup(self.backup_dir, since)
        if res.rc != 0:
            raise UpgradeError("yba-ctl createBackup failed: %s%s" % (res.summary(), back), "backup")
        if archive is None:
            raise UpgradeError("yba-ctl createBackup exited 0 but no new backup_*.tgz is in %s" % self.backup_dir_host,
                               "backup")
        try:
            info = verify_archive(archive)
        except ValueError as exc:
            raise UpgradeError(str(exc).replace(archive, self.host(archive) or archive), "backup")
        info["path"] = self.host(archive)
        self.result["backup"] = info
        self.result["way_back"] = self.way_back(info["path"])
        if not health.healthy:
            raise UpgradeError("yba-ctl createBackup made %s, but the platform it stopped for the dump does not "
                               "answer %d s after it (ready_timeout): %s; check yba-ctl status and yb-platform's log "
                               "before step=upgrade" % (info["path"], self.p["ready_timeout"], health.message),
                               "backup")

    def wait_platform(self, timing: str) -> _service.Health:
        """Probe the API (app_version, then an authenticated call) until it answers, within ready_timeout."""
        start = self.clock()
        probe_timeout = float(self.p.get("request_timeout") or 30)
        health, _probes, _waited = _service.wait_healthy(
            lambda timeout: _service.probe_health(self.client, timeout), float(self.p["ready_timeout"]),
            probe_timeout, max_delay=READY_POLL, clock=self.clock, sleep=self.sleep)
        self.timed(timing, start)
        return health

    def reverify_backup(self) -> None:
        self.phase = "backup"
        given = self.p["backup_archive"]
        real = _layout.join_root(self.host_root, given)
        try:
            info = verify_archive(real)
        except ValueError as exc:
            raise UpgradeError(str(exc).replace(real, given), "backup")
        info["path"] = given
        if self.p.get("backup_sha256") and info["sha256"] != self.p["backup_sha256"].lower():
            raise UpgradeError("backup archive %s changed: sha256 %s, backup_sha256 %s" % (
                given, info["sha256"], self.p["backup_sha256"].lower()), "backup")
        self.result["backup"] = info
        self.result["way_back"] = self.way_back(given)

    def schedules(self) -> t.Dict[str, str]:
        items = self.client.get(self.client.cpath("schedules"), retries=1) or []
        return {str(s.get("scheduleUUID")): str(s.get("status")) for s in items if isinstance(s, dict)}

    def do_upgrade(self) -> None:
        self.phase = "upgrade"
        before = self.schedules()
        self.result["verify"] = {"app_version": None, "authenticated": False, "services": {},
                                 "schedules_before": before, "schedules_after": {}, "schedules_unchanged": False}
        start = self.clock()
        argv = [os.path.join(t.cast(str, self.bundle_dir), "yba-ctl"), "upgrade", "-f"] + self.skip_arg()
        self.result["changed"] = True
        self.upgrade_ran = True
        res = self.run_cmd(argv, float(self.p["upgrade_timeout"]), cwd=self.bundle_dir)
        self.timed("upgrade", start)
        if res.rc != 0:
            raise UpgradeError("yba-ctl upgrade failed: %s%s" % (res.summary(), (
                "; it was killed with what it started, the upgrade may be left half way" if res.timed_out else "")),
                "upgrade")
        self.result["upgraded"] = True
        self.verify()

    @staticmethod
    def is_version(actual: t.Optional[str], target: str) -> bool:
        """app_version is the target: CompareYbVersions equal (a target without a build matches any build)."""
        try:
            return actual is not None and compare_versions(actual, target) == 0
        except ValueError:
            return False

    def verify(self) -> None:
        self.phase = "verify"
        start = self.clock()
        target = t.cast(str, self.bundle_version or self.p["target_version"])
        verify = self.result["verify"]
        deadline = self.clock() + float(self.p["ready_timeout"])
        version = None
        while True:
            try:
                version = self.client.app_version(timeout=min(float(self.p.get("request_timeout") or 30),
                                                              max(deadline - self.clock(), 1.0)), retries=0)["version"]
            except Exception:  # pylint: disable=broad-except
                version = None
            if self.is_version(version, target) or self.clock() >= deadline:
                break
            self.sleep(min(READY_POLL, max(deadline - self.clock(), 0.0)))
        verify["app_version"] = version
        problems = []
        if not self.is_version(version, target):
            problems.append("app_version is %s, not %s, after %s s" % (version, target, self.p["ready_timeout"]))
        else:
            try:
                self.client.get("/api/v1/customers", retries=1)
                verify["authenticated"] = True
            except Exception as exc:  # pylint: disable=broad-except
                problems.append("authenticated GET /api/v1/customers failed: %s" % exc)
        states, down = self.service_states()
        verify["services"] = states
        if down:
            problems.append("not Running: " + ", ".join(down))
        after = None
        if verify["authenticated"]:
            try:
                after = self.schedules()
            except Exception as exc:  # pylint: disable=broad-except
                problems.append("the schedules were not read after the upgrade: %s" % exc)
        if after is not None:
            verify["schedules_after"] = after
            changed = sorted(u for u in set(verify["schedules_before"]) | set(after)
                             if verify["schedules_before"].get(u) != after.get(u))
            verify["schedules_unchanged"] = not changed
            if changed:
                problems.append("schedules changed: " + ", ".join(
                    "%s %s -> %s" % (u, verify["schedules_before"].get(u), after.get(u)) for u in changed[:5]))
        self.timed("verify", start)
        if problems:
            raise UpgradeError("the upgrade to %s ran but does not verify: %s" % (target, "; ".join(problems)), "verify")

    def run(self) -> t.Dict[str, t.Any]:
        self.run_checks()
        failed = self.failed_checks()
        if failed:
            raise UpgradeError("preflight failed: " + "; ".join(failed), "preflight")
        if self.action == "none" or self.check_mode:
            if self.check_mode:
                self.result["changed"] = self.action == "upgrade" and (
                    self.step != "preflight" or self.bundle_tarball is not None)
            return self.result
        if self.step == "backup":
            self.take_backup()
        elif self.step == "upgrade":
            if self.p.get("skip_backup"):
                self.result["way_back"] = self.way_back(None)
            else:
                self.reverify_backup()
            self.do_upgrade()
        return self.result


def validate(params: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The one message for bad input, or None (pure)."""
    try:
        parse_version(params["target_version"])
    except ValueError:
        return "target_version must be a YugabyteDB Anywhere version like 2.20.1.3-b3 or 2024.1.0.0, got %r" \
            % params["target_version"]
    if not str(params.get("bundle") or "").startswith("/"):
        return "bundle must be an absolute path on the YBA host, got %r" % params.get("bundle")
    for name in ("bundle_sha256", "backup_sha256"):
        if params.get(name) and not SHA256_RE.match(params[name]):
            return "%s must be 64 hex digits (a sha256), got %r" % (name, params[name])
    for name in ("backup_dir", "backup_archive"):
        if params.get(name) and not params[name].startswith("/"):
            return "%s must be an absolute path on the YBA host, got %r" % (name, params[name])
    for name in params.get("skip_checks") or []:
        if name in NOT_SKIPPABLE:
            return "skip_checks: %s cannot be skipped (never skippable: %s)" % (name, ", ".join(NOT_SKIPPABLE))
        if name not in CHECKS:
            return "skip_checks: unknown check %r (checks: %s)" % (name, ", ".join(CHECKS))
    for name in params.get("yba_ctl_skip_preflight") or []:
        if not SKIP_NAME_RE.match(name):
            return "yba_ctl_skip_preflight: %r is not a yba-ctl preflight check name (like disk-availability)" % name
    for name in ("upgrade_timeout", "ready_timeout"):
        if params[name] <= 0:
            return "%s must be a positive number of seconds, got %s" % (name, params[name])
    if params["min_free_mb"] < 0:
        return "min_free_mb must not be negative, got %s" % params["min_free_mb"]
    if params["step"] == "upgrade" and not params.get("skip_backup"):
        if not params.get("backup_archive"):
            return "step=upgrade needs backup_archive (the archive step=backup returned), or skip_backup: true to " \
                   "upgrade with no way back"
        if not params.get("backup_copy"):
            return "step=upgrade needs backup_copy (where the off-host copy of backup_archive is), or skip_backup: true"
    if not params.get("yba_url"):
        return "yba_url is required (or set YBA_URL): the checks and the verification call the API"
    if not params.get("yba_api_token"):
        return "yba_api_token is required (or set YBA_API_TOKEN): the checks make an authenticated call"
    return None
