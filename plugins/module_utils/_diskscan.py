# Private module_util: streaming disk scanner of a YBA host (usage by category, cleanup candidates, safe delete).
#
# Speed: one os.scandir pass per root, lstat via the dirent's cached stat, never following symlinks.
# Memory: totals are summed as the walk goes; only cleanup candidates (a few per category) are yielded
# and whole directories (software versions, release dirs, staging dirs) are aggregated to one unit.
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import time
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils._layout import (
    Layout,
    is_config_name,
    is_log_name,
    is_protected,
    is_within,
    protected_paths,
)

CATEGORIES = ("logs", "log_bundles", "staging", "backup_archives", "core_dumps", "software", "releases")
REPORT_ONLY = ("prometheus",)

# application-log-2024-01-31.gz, audit-log-2024-01-31.gz, postgres.log.1, prometheus.log.2.gz,
# yba-ctl.log-20240131.gz, postgres-2024-01-31_000000.log
_ROTATED = (
    re.compile(r"^(?P<fam>.+?)(?:[-._]log)?[-._]\d{4}-?\d{2}-?\d{2}(?:[-._T]\d+)*(?:\.log)?"
               r"(?:\.(?:gz|zip|bz2|xz|zst|lz4))?$"),
    re.compile(r"^(?P<fam>.+\.log)[-.]\d+(?:\.(?:gz|zip|bz2|xz|zst|lz4))?$"),
)
_BACKUP_ARCHIVE = re.compile(r"^backup_[\d-]+\.(?:tgz|tar\.gz|tar)$")
_PLATFORM_DUMP = "platform_dump.sql"
_CORE_NAME = re.compile(r"^(?:core(?:\.\d+)*|core\.[\w@-]+(?:\.[\w-]+)*\.(?:zst|lz4|xz|gz)|.+\.core"
                        r"|hs_err_pid\d+\.log|java_pid\d+\.hprof(?:\.\d+)?|heapdump.*\.hprof)$")


_CORE_PREFIXES = ("core", "hs_err_pid", "java_pid", "heapdump")
_COMPRESSED_MAGIC = (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"\xfd7zX")


class Candidate(t.NamedTuple):
    """One unit the planner may delete: a regular file, or a whole directory tree (kind 'dir')."""

    category: str
    path: str
    kind: str  # 'file' | 'dir'
    size: int  # apparent bytes
    usage: int  # bytes actually freed on unlink (st_blocks * 512; 0 for hard-linked files)
    mtime: float  # newest mtime inside a dir unit
    dev: int
    ino: int
    family: str  # grouping for "keep newest K" (log family, archive kind, ...)
    version: str  # software / release version, else ''
    open: bool  # held open / mapped / cwd / exe of a running process


class Volume(t.NamedTuple):
    path: str
    dev: int
    total: int
    used: int
    avail: int

    @property
    def used_percent(self) -> float:
        denom = self.used + self.avail
        return round(100.0 * self.used / denom, 2) if denom else 0.0

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"path": self.path, "total_bytes": self.total, "used_bytes": self.used,
                "avail_bytes": self.avail, "used_percent": self.used_percent}


def volume(path: str) -> Volume:
    """df-compatible figures: used% = used / (used + avail), reserved blocks excluded."""
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return Volume(path, os.stat(path).st_dev, total, used, avail)


# --------------------------------------------------------------------------- open files

def open_inodes(proc: str = "/proc") -> t.Set[t.Tuple[int, int]]:
    """(st_dev, st_ino) of every file a visible process holds: open fds, executable, cwd, mapped files."""
    found: t.Set[t.Tuple[int, int]] = set()
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        base = os.path.join(proc, pid)
        fd_dir = os.path.join(base, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            fds = []
        for fd in fds:
            try:
                st = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                found.add((st.st_dev, st.st_ino))
        for link in ("exe", "cwd"):
            try:
                st = os.stat(os.path.join(base, link))
                found.add((st.st_dev, st.st_ino))
            except OSError:
                pass
        try:
            with open(os.path.join(base, "maps"), encoding="ascii", errors="replace") as handle:
                for line in handle:
                    fields = line.split(None, 5)
                    if len(fields) >= 6 and fields[4] != "0":
                        major, _sep, minor = fields[3].partition(":")
                        try:
                            found.add((os.makedev(int(major, 16), int(minor, 16)), int(fields[4])))
                        except ValueError:
                            continue
        except OSError:
            pass
    return found


# --------------------------------------------------------------------------- tree walking

def _walk(top: str, tag: t.Any, enter: t.Callable[[str, t.Any], t.Any]) -> t.Iterator[t.Tuple[os.DirEntry, os.stat_result, t.Any]]:
    """Every entry under ``top`` as (entry, lstat, tag), depth-first, symlinks never followed, unreadable entries
    passed over. A directory is yielded, then descended into with the tag ``enter(path, its tag)`` returns (None:
    not at all), so a caller can prune subtrees or carry a category down the tree."""
    stack = [(top, tag)]
    while stack:
        current, current_tag = stack.pop()
        try:
            it = os.scandir(current)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield entry, st, current_tag
                if stat.S_ISDIR(st.st_mode):
                    sub_tag = enter(entry.path, current_tag)
                    if sub_tag is not None:
                        stack.append((entry.path, sub_tag))


def tree_stats(path: str, opened: t.Optional[t.Set[t.Tuple[int, int]]] = None,
               prune: t.Sequence[str] = ()) -> t.Tuple[int, int, float, int, bool]:
    """(apparent bytes, usage bytes, newest mtime, files, any-open) of a tree; symlinks not followed."""
    size = usage = files = 0
    newest = 0.0
    is_open = False
    for _entry, st, _tag in _walk(path, True, lambda sub, _tag: None if prune and is_protected(sub, prune) else True):
        if opened and (st.st_dev, st.st_ino) in opened:
            is_open = True
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            continue
        size += st.st_size
        if st.st_nlink <= 1 or stat.S_ISLNK(mode):
            usage += st.st_blocks * 512
        files += 1
        if st.st_mtime > newest:
            newest = st.st_mtime
    return size, usage, newest, files, is_open


def _category_roots(layout: Layout) -> t.List[t.Tuple[str, str]]:
    roots: t.List[t.Tuple[str, t.Optional[str]]] = [
        ("postgres", layout.postgres_data), ("prometheus", layout.prometheus_storage),
        ("releases", layout.releases_dir), ("ybc_releases", layout.ybc_releases_dir),
        ("logs", layout.logs_dir), ("software", layout.software_dir),
        ("log_bundles", layout.log_bundles_dir), ("postgres_backup", layout.postgres_backup_dir),
    ]
    roots += [("ha_backups", p) for p in layout.ha_backup_dirs]
    return [(c, p) for c, p in roots if p]


def usage_by_category(layout: Layout) -> t.Dict[str, int]:
    """Disk usage (bytes, st_blocks based) of the install by category, one streaming pass.

    Categories: postgres, prometheus, releases, ybc_releases, logs, software, log_bundles, postgres_backup,
    ha_backups, backup_archives (createBackup archives / platform_dump.sql at the top of the install),
    core_dumps (anywhere), other (the rest of install_root and yba-ctl home).
    """
    cats = _category_roots(layout)
    by_path = {p: c for c, p in cats}
    totals: t.Dict[str, int] = {c: 0 for c in by_path.values()}
    totals.update({"backup_archives": 0, "core_dumps": 0, "other": 0})
    roots = [r for r in (layout.install_root, layout.yba_ctl_home) if r and os.path.isdir(r)]
    seen_roots: t.List[str] = []
    for root in roots:
        if any(is_within(root, s) for s in seen_roots):
            continue
        seen_roots.append(root)
        for entry, st, cat in _walk(root, "other", by_path.get):
            if stat.S_ISDIR(st.st_mode):
                continue
            blocks = st.st_blocks * 512
            name = entry.name
            if cat == "other" and (name == _PLATFORM_DUMP or _BACKUP_ARCHIVE.match(name)):
                totals["backup_archives"] += blocks
            elif _CORE_NAME.match(name) and stat.S_ISREG(st.st_mode):
                totals["core_dumps"] += blocks
            else:
                totals[cat] += blocks
    return totals


# --------------------------------------------------------------------------- cleanup candidates

def _is_core(path: str, name: str) -> bool:
    """Verify a core/heap dump by content, so a file merely named 'core' is never taken for one."""
    if name.startswith("hs_err_pid"):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(20)
    except OSError:
        return False
    if head.startswith(b"\x7fELF") and len(head) >= 18:
        little = head[5] == 1
        e_type = int.from_bytes(head[16:18], "little" if little else "big")
        return e_type == 4  # ET_CORE
    if head.startswith(b"JAVA PROFILE"):
        return True
    # systemd-coredump style compressed cores: zstd / lz4 / xz / gzip magic
    if name.startswith("core.") and (head[:4] in _COMPRESSED_MAGIC or head[:2] == b"\x1f\x8b"):
        return True
    return False


def _file_candidate(category: str, path: str, st: os.stat_result, family: str,
                    opened: t.Set[t.Tuple[int, int]], version: str = "") -> Candidate:
    usage = st.st_blocks * 512 if st.st_nlink <= 1 else 0
    return Candidate(category, path, "file", st.st_size, usage, st.st_mtime, st.st_dev, st.st_ino, family,
                     version, (st.st_dev, st.st_ino) in opened)


class _Unit(t.NamedTuple):
    candidate: Candidate
    files: int


def _dir_candidate(category: str, path: str, st: os.stat_result, family: str,
                   opened: t.Set[t.Tuple[int, int]], version: str, prune: t.Sequence[str]) -> _Unit:
    size, usage, newest, files, is_open = tree_stats(path, opened, prune)
    is_open = is_open or (st.st_dev, st.st_ino) in opened
    # a directory is as old as the newest file in it (its own mtime moves whenever an entry is added)
    return _Unit(Candidate(category, path, "dir", size, usage, newest if files else st.st_mtime, st.st_dev,
                           st.st_ino, family, version, is_open), files)


def rotated_family(name: str) -> t.Optional[str]:
    for rx in _ROTATED:
        match = rx.match(name)
        if match:
            return match.group("fam")
    return None


class ScanStats:
    """Counters of one candidate scan (files and directories looked at, seconds)."""

    def __init__(self) -> None:
        self.files = 0
        self.dirs = 0
        self.unit_files = 0
        self.started = time.monotonic()
        self.seconds = 0.0

    def as_dict(self) -> t.Dict[str, t.Any]:
        return {"files": self.files, "dirs": self.dirs, "unit_files": self.unit_files,
                "seconds": round(self.seconds, 3)}


def scan_candidates(layout: Layout, *, tmp_dir: t.Optional[str] = None, staging_patterns: t.Sequence[str] = (),
                    extra_paths: t.Sequence[str] = (), opened: t.Optional[t.Set[t.Tuple[int, int]]] = None,
                    stats: t.Optional[ScanStats] = None) -> t.Iterator[Candidate]:
    """Stream every cleanup candidate of the install, by category, without judging policy.

    The planner (_cleanup) applies ages, keep-newest, in-use and target rules. Protected paths are pruned
    here already (never descended into) and re-checked by the planner and at delete time.
    """
    opened = opened if opened is not None else set()
    stats = stats or ScanStats()
    protected = protected_paths(layout)
    dir_units: t.Dict[str, t.Tuple[str, str]] = {}  # path -> (category, family)
    for unit_root, cat in ((layout.software_dir, "software"), (layout.releases_dir, "releases")):
        if not unit_root or not os.path.isdir(unit_root):
            continue
        with os.scandir(unit_root) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False) and entry.name != "active":
                    dir_units[entry.path] = (cat, cat)

    # the unit dirs are reported even when protected (active, rollback) so the planner can say why it kept them;
    # a protected one is not walked (its size is never needed)
    for path, (cat, fam) in sorted(dir_units.items()):
        try:
            st = os.lstat(path)
        except OSError:
            continue
        stats.dirs += 1
        if is_protected(path, protected):
            yield Candidate(cat, path, "dir", 0, 0, st.st_mtime, st.st_dev, st.st_ino, fam, os.path.basename(path),
                            (st.st_dev, st.st_ino) in opened)
            continue
        cand = _dir_candidate(cat, path, st, fam, opened, os.path.basename(path), ())
        stats.unit_files += cand.files
        yield cand.candidate

    skip_dirs = set(layout.ha_backup_dirs)  # HA backups: YBA keeps its own retention
    if layout.prometheus_storage:
        skip_dirs.add(layout.prometheus_storage)  # retention is the lever, see prometheus_recommendation
    logs_dirs = {p for p in (layout.logs_dir,) if p}
    ctl_home = layout.yba_ctl_home
    bundles = layout.log_bundles_dir

    walk_roots: t.List[t.Tuple[str, bool]] = [(r, False) for r in (layout.install_root, layout.yba_ctl_home) if r]
    walk_roots += [(p, True) for p in extra_paths]
    done: t.List[str] = []
    for root, is_extra in walk_roots:
        if not os.path.isdir(root) or any(is_within(root, d) for d in done):
            continue
        done.append(root)
        stack = [root]
        while stack:
            current = stack.pop()
            try:
                it = os.scandir(current)
            except OSError:
                continue
            stats.dirs += 1
            in_logs = current in logs_dirs or (ctl_home is not None and current == ctl_home)
            in_bundles = bundles is not None and is_within(current, bundles)
            with it:
                for entry in it:
                    # d_type answers is_dir without a syscall; only candidates by name are lstat'ed
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    path = entry.path
                    if is_dir:
                        if path in dir_units or path in skip_dirs or is_protected(path, protected):
                            continue
                        stack.append(path)
                        continue
                    stats.files += 1
                    name = entry.name
                    category = family = ""
                    if in_bundles:
                        category, family = "log_bundles", "log_bundles"
                    elif in_logs:
                        # only what is a log by name: the yba-ctl home also holds yba-ctl.yml and its dated copies
                        fam = rotated_family(name) if is_log_name(name) else None
                        if fam:
                            category, family = "logs", os.path.join(current, fam)
                    if category:
                        pass
                    elif name == _PLATFORM_DUMP:
                        category, family = "backup_archives", "platform_dump"
                    elif name.startswith("backup_") and _BACKUP_ARCHIVE.match(name):
                        category, family = "backup_archives", "createBackup"
                    elif name.startswith(_CORE_PREFIXES) or name.endswith(".core"):
                        if _CORE_NAME.match(name) and _is_core(path, name) and not is_protected(path, protected):
                            category, family = "core_dumps", "core_dumps"
                    elif is_extra and staging_patterns and any(fnmatch.fnmatchcase(name, p) for p in staging_patterns):
                        category, family = "staging", "staging"
                    if not category:
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):  # symlinks, sockets, fifos are never candidates
                        yield _file_candidate(category, path, st, family, opened)

    # staging: top-level entries of YBA's tmp directory that match the patterns (dirs as one unit)
    if tmp_dir and staging_patterns and os.path.isdir(tmp_dir):
        try:
            entries = list(os.scandir(tmp_dir))
        except OSError:
            entries = []
        for entry in entries:
            if not any(fnmatch.fnmatchcase(entry.name, p) for p in staging_patterns):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            stats.files += 1
            if stat.S_ISREG(st.st_mode):
                yield _file_candidate("staging", entry.path, st, "staging", opened)
            elif stat.S_ISDIR(st.st_mode) and not is_protected(entry.path, protected):
                unit = _dir_candidate("staging", entry.path, st, "staging", opened, "", protected)
                stats.unit_files += unit.files
                yield unit.candidate
    stats.seconds = time.monotonic() - stats.started


def prometheus_recommendation(layout: Layout) -> t.Optional[t.Dict[str, t.Any]]:
    """Size of the Prometheus TSDB and the retention lever (never deleted file by file)."""
    path = layout.prometheus_storage
    if not path or not os.path.isdir(path):
        return None
    _size, usage, _newest, files, _open = tree_stats(path)
    return {"category": "prometheus", "path": path, "bytes": usage, "files": files,
            "retention": layout.prometheus_retention,
            "config_key": "prometheus.retention_time" if layout.config_style == "snake"
            else "prometheus.retentionTime",
            "message": "Prometheus TSDB uses %d bytes with retention %s; lower %s in %s and run "
                       "'yba-ctl reconfigure' to shrink it (blocks are never deleted file by file)."
                       % (usage, layout.prometheus_retention,
                          "prometheus.retention_time" if layout.config_style == "snake" else "prometheus.retentionTime",
                          layout.to_host(layout.yba_ctl_yml) if layout.yba_ctl_yml else "yba-ctl.yml")}


# --------------------------------------------------------------------------- deleting

class DeleteRefused(Exception):
    """The unit changed since it was planned, or is no longer safe to delete."""


def delete_unit(cand: Candidate, allowed_roots: t.Sequence[str], protected: t.Sequence[str],
                opened: t.Set[t.Tuple[int, int]]) -> int:
    """Delete one planned unit after re-checking it; returns usage bytes freed. Raises DeleteRefused."""
    path = cand.path
    parent = os.path.dirname(path)
    if os.path.realpath(parent) != parent:
        raise DeleteRefused("its parent directory is now (behind) a symlink")
    if not any(is_within(path, r) and path != r for r in allowed_roots):
        raise DeleteRefused("it is outside the allowed roots")
    if is_protected(path, protected) or any(is_within(p, path) for p in protected):
        raise DeleteRefused("it is a protected path")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if (st.st_dev, st.st_ino) != (cand.dev, cand.ino) or (
            cand.kind == "file" and (st.st_size, st.st_mtime) != (cand.size, cand.mtime)):
        raise DeleteRefused("it was replaced or modified since the plan was made")
    if (st.st_dev, st.st_ino) in opened:
        raise DeleteRefused("it is open by a running process")
    if cand.kind == "file":
        if is_config_name(os.path.basename(path)):
            raise DeleteRefused("it is named after a configuration file")
        if not stat.S_ISREG(st.st_mode):
            raise DeleteRefused("it is no longer a regular file")
        freed = st.st_blocks * 512 if st.st_nlink <= 1 else 0
        os.unlink(path)
        return freed
    if not stat.S_ISDIR(st.st_mode):
        raise DeleteRefused("it is no longer a directory")
    _size, usage, _newest, _files, is_open = tree_stats(path, opened)
    if is_open:
        raise DeleteRefused("a file in it is open by a running process")
    # shutil.rmtree uses the fd-based, symlink-attack-safe implementation on Linux: links are unlinked, not followed
    shutil.rmtree(path)
    return usage
