# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the host lock that keeps two destructive runs apart on one YBA host.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
import typing as t

LOCK_RELPATH = "var/lock/yba-remediation.lock"


class LockHeld(Exception):
    """The lock belongs to another owner and is not stale."""

    def __init__(self, message: str, holder: dict[str, t.Any]) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(host_root: str) -> str:
    return os.path.join(host_root or "/", LOCK_RELPATH)


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: t.Any) -> float | None:
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return dt.timestamp()


def read(path: str, now: float | None = None) -> dict[str, t.Any] | None:
    """The current holder ``{owner, pid, time, age_seconds, valid}``, or None when there is no lock file."""
    now = time.time() if now is None else now
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        data = {}
    since = parse_iso(data.get("time"))
    valid = bool(data.get("owner")) and since is not None
    if since is None:
        since = mtime  # an unreadable lock ages from its file time
    return {
        "owner": data.get("owner") if valid else None,
        "pid": data.get("pid"),
        "time": iso(since),
        "age_seconds": max(0, int(now - since)),
        "valid": valid,
    }


def describe(holder: dict[str, t.Any]) -> str:
    who = holder.get("owner") or "an unreadable lock file"
    pid = " (pid %s)" % holder["pid"] if holder.get("pid") else ""
    return "%s%s since %s (%d s ago)" % (who, pid, holder.get("time"), holder.get("age_seconds", 0))


def content(owner: str, now: float | None = None) -> dict[str, t.Any]:
    return {"owner": owner, "pid": os.getpid(), "time": iso(time.time() if now is None else now)}


def _write_new(path: str, data: dict[str, t.Any]) -> bool:
    """Create the lock file atomically; False if it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    return True


def _replace(path: str, data: dict[str, t.Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".yba-remediation.lock.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plan(holder: dict[str, t.Any] | None, state: str, owner: str, stale_after: int, force: bool = False) -> str:
    """Pure decision: 'none' (nothing to do), 'create', 'takeover', 'remove'; raises LockHeld to refuse."""
    if state == "present":
        if holder is None:
            return "create"
        if holder.get("valid") and holder.get("owner") == owner:
            return "none"
        if holder.get("age_seconds", 0) >= stale_after or force:
            return "takeover"
        raise LockHeld("the host lock is held by %s; it becomes stale after %d s (stale_after)"
                       % (describe(holder), stale_after), holder)
    if holder is None:
        return "none"
    if (holder.get("valid") and holder.get("owner") == owner) or force or holder.get("age_seconds", 0) >= stale_after:
        return "remove"
    raise LockHeld("the host lock is held by %s, not by %s; not released (use force=true to release it anyway)"
                   % (describe(holder), owner), holder)


def apply(path: str, action: str, owner: str, now: float | None = None) -> dict[str, t.Any] | None:
    """Carry out ``plan``'s action; returns the new lock content (None when removed)."""
    if action == "none":
        return None
    if action == "remove":
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = content(owner, now)
    if action == "create":
        if not _write_new(path, data):
            holder = read(path, now) or {}
            raise LockHeld("the host lock was taken by %s while acquiring it" % describe(holder), holder)
    else:  # takeover of a stale lock
        _replace(path, data)
    # Two runs taking over one stale lock at once: the last rename wins, the other must notice.
    current = read(path, now) or {}
    if current.get("owner") != owner:
        raise LockHeld("the host lock was taken by %s while acquiring it" % describe(current), current)
    return data
