# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the host lock that keeps two destructive runs apart on one YBA host.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The lock is a file on /run (tmpfs on every systemd host: a data volume with zero free bytes cannot stop it),
# always complete (staged in a temp file, then linked or renamed into place), and kept alive by a small detached
# holder process that holds flock(LOCK_EX) on the file's inode. A module's own pid dies with its task, so liveness
# is "does anyone hold the flock": when the holder is gone (killed, host rebooted, lease over) the lock is dead and
# anyone may take it at once. Every take/release decides and acts under a guard flock, so two takers never both win.
from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import select
import signal
import socket
import tempfile
import time
import typing as t

LOCK_RELPATH = "run/lock/yba-remediation.lock"
GUARD_NAME = ".yba-remediation.lock.guard"
HOLDER_POLL = 0.25  # how often the holder looks whether its lock file is still in place (release noticed < 1 s)
WAIT_POLL = 0.5  # how often a waiting taker tries again
HANDSHAKE_TIMEOUT = 10.0


class LockHeld(Exception):
    """The lock belongs to a live holder of another owner: refused (the message names the holder)."""

    def __init__(self, message: str, holder: dict[str, t.Any] | None) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(host_root: str) -> str:
    return os.path.join(host_root or "/", LOCK_RELPATH)


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: t.Any) -> float | None:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return dt.timestamp()


def _flock_free(fd: int) -> bool:
    """True when nobody holds an exclusive flock on the file (its holder is gone). A shared probe, so two
    readers probing at once never see each other as a holder."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def read(path: str, now: float | None = None) -> dict[str, t.Any] | None:
    """The lock as it is: ``{owner, pid, host, time, renewed, stale_after, token, age_seconds, valid, alive}``;
    None when there is no lock file. ``age_seconds`` counts from the last renewal, ``alive`` tells whether a holder
    process still holds the file's inode."""
    now = time.time() if now is None else now
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        alive = not _flock_free(fd)
    finally:
        os.close(fd)
    try:
        data = json.loads(b"".join(chunks).decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        data = {}
    since = parse_iso(data.get("time"))
    valid = bool(data.get("owner")) and isinstance(data.get("owner"), str) and since is not None
    if since is None:
        since = st.st_mtime  # an unreadable lock ages from its file time
    renewed = parse_iso(data.get("renewed"))
    if renewed is None:
        renewed = since
    return {
        "owner": data.get("owner") if valid else None,
        "pid": data.get("pid") if isinstance(data.get("pid"), int) else None,
        "host": data.get("host") if isinstance(data.get("host"), str) else None,
        "time": iso(since),
        "renewed": iso(renewed),
        "stale_after": data.get("stale_after") if isinstance(data.get("stale_after"), int) else None,
        "token": data.get("token") if isinstance(data.get("token"), str) else None,
        "age_seconds": max(0, int(now - renewed)),
        "held_seconds": max(0, int(now - since)),
        "valid": valid,
        "alive": alive,
    }


def public(holder: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    """What a module returns about a lock (no token: it is the lock's own identity, of no use to a reader)."""
    if not holder:
        return None
    return {k: holder.get(k) for k in ("owner", "pid", "host", "time", "renewed", "stale_after")}


def describe(holder: dict[str, t.Any]) -> str:
    if not holder.get("valid"):
        who = "an unreadable lock file"
    else:
        who = "run %s" % holder["owner"]
    details = []
    if holder.get("pid"):
        details.append("holder pid %s%s" % (holder["pid"], " on %s" % holder["host"] if holder.get("host") else ""))
    details.append("since %s" % holder.get("time"))
    details.append("%d s ago" % holder.get("held_seconds", holder.get("age_seconds", 0)))
    return "%s (%s)" % (who, ", ".join(details))


def plan(holder: dict[str, t.Any] | None, state: str, owner: str, stale_after: int,
         force: bool = False, path: str = "the host lock") -> tuple[str, str | None]:
    """Pure decision: ``(action, reason)``; action is 'none', 'create', 'renew', 'takeover' or 'remove', reason says
    why a lock of another owner may be taken over or removed. Raises LockHeld to refuse."""
    mine = bool(holder) and holder.get("valid") and holder.get("owner") == owner
    if holder is None:
        why = None
    elif not holder.get("alive"):
        why = "holder gone" if holder.get("valid") else "unreadable lock file, no holder"
    elif holder.get("age_seconds", 0) >= stale_after:
        why = "lease expired"
    elif force:
        why = "forced"
    else:
        why = None
    if state == "present":
        if holder is None:
            return "create", None
        if mine and holder.get("alive"):
            return "renew", None
        if mine:
            return "takeover", why
        if why:
            return "takeover", why
        raise LockHeld("the host lock %s is held by %s; not taken: it is free once that run releases it or its"
                       " holder ends, or %d s after its last renewal (stale_after)" % (path, describe(holder), stale_after),
                       holder)
    if holder is None:
        return "none", None
    if mine:
        return "remove", None
    if why:
        return "remove", why
    raise LockHeld("the host lock %s is held by %s, not by run %s; not released (force=true releases it anyway)"
                   % (path, describe(holder), owner), holder)


def content(owner: str, stale_after: int, pid: int | None = None, now: float | None = None,
            since: str | None = None, token: str | None = None) -> dict[str, t.Any]:
    now = time.time() if now is None else now
    return {
        "owner": owner,
        "pid": pid,
        "host": socket.gethostname(),
        "time": since or iso(now),
        "renewed": iso(now),
        "stale_after": stale_after,
        "token": token or os.urandom(16).hex(),
    }


def _ensure_dir(directory: str) -> None:
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(directory)
    except FileExistsError:
        return
    if os.path.basename(directory) == "lock" and os.path.basename(parent) == "run":
        os.chmod(directory, 0o1777)  # as systemd's tmpfiles.d/legacy.conf lays /run/lock out


@contextlib.contextmanager
def _guard(path: str) -> t.Iterator[None]:
    """Serialise every decide-and-act on the lock: two takers of one dead lock cannot both win."""
    directory = os.path.dirname(path)
    _ensure_dir(directory)
    fd = os.open(os.path.join(directory, GUARD_NAME), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write_content(fd: int, data: dict[str, t.Any]) -> None:
    payload = json.dumps(data, sort_keys=True).encode("utf-8")
    while payload:
        payload = payload[os.write(fd, payload):]
    os.fsync(fd)


def _holder_main(tmp: str, path: str, pid_w: int, go_r: int) -> None:
    """The detached holder: flock the staged file, say its pid, wait for 'go', then live until the lock file is
    removed or replaced, or its lease ends."""
    fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    keep = sorted({0, 1, 2, fd, pid_w, go_r})
    # nothing of the module's (its stdout pipe to SSH, the guard's flock) may outlive it in the holder
    try:
        inherited = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        inherited = list(range(3, min(os.sysconf("SC_OPEN_MAX"), 65536)))
    for n in inherited:
        if n not in keep:
            try:
                os.close(n)
            except OSError:
                pass
    os.chdir("/")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.write(pid_w, b"%d\n" % os.getpid())
    os.close(pid_w)
    msg = b""
    while True:
        chunk = os.read(go_r, 64)
        if not chunk:
            break
        msg += chunk
    os.close(go_r)
    if not msg.startswith(b"go "):
        return  # aborted: the parent never linked the file
    deadline = float(msg.split()[1])
    mine = os.fstat(fd)
    while time.time() < deadline:
        time.sleep(HOLDER_POLL)
        try:
            st = os.stat(path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
            return


class _Staged:
    """A complete lock file under a temp name, flocked by its own freshly started holder process."""

    def __init__(self, path: str, data: dict[str, t.Any]) -> None:
        self.path = path
        self.go_w = None
        fd, self.tmp = tempfile.mkstemp(prefix=".yba-remediation.lock.", dir=os.path.dirname(path))
        try:
            os.fchmod(fd, 0o644)
            data["pid"] = self._start_holder()
            _write_content(fd, data)
        except BaseException:
            self.abort()
            raise
        finally:
            os.close(fd)
        self.data = data

    def _start_holder(self) -> int:
        pid_r, pid_w = os.pipe()
        go_r, go_w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked processes
            try:
                os.close(pid_r)
                os.close(go_w)
                os.setsid()
                if os.fork() == 0:
                    _holder_main(self.tmp, self.path, pid_w, go_r)
            except BaseException:
                pass
            os._exit(0)
        os.close(pid_w)
        os.close(go_r)
        self.go_w = go_w
        os.waitpid(child, 0)
        try:
            answer = b""
            deadline = time.monotonic() + HANDSHAKE_TIMEOUT
            while not answer.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([pid_r], [], [], left)[0]:
                    raise OSError(errno.ETIMEDOUT, "the lock holder process did not start")
                chunk = os.read(pid_r, 64)
                if not chunk:
                    raise OSError(errno.ECHILD, "the lock holder process could not lock the lock file")
                answer += chunk
        finally:
            os.close(pid_r)
        return int(answer)

    def commit(self, replace: bool) -> None:
        """Put the staged file in place: link (fails if a lock exists) or rename over a dead or renewed lock."""
        if replace:
            os.rename(self.tmp, self.path)
        else:
            os.link(self.tmp, self.path)
            os.unlink(self.tmp)
        self.tmp = None
        deadline = parse_iso(self.data["renewed"]) + self.data["stale_after"]
        os.write(self.go_w, b"go %f\n" % deadline)
        os.close(self.go_w)
        self.go_w = None

    def abort(self) -> None:
        """Nothing left behind: the temp file goes, the holder ends (its pipe closes without 'go')."""
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
            self.tmp = None
        if self.go_w is not None:
            os.close(self.go_w)
            self.go_w = None


def _take_once(path: str, owner: str, stale_after: int,
               force: bool) -> tuple[str, str | None, dict[str, t.Any] | None, dict[str, t.Any]]:
    with _guard(path):
        holder = read(path)
        action, reason = plan(holder, "present", owner, stale_after, force, path)
        if action == "renew":
            data = content(owner, stale_after, since=holder["time"], token=holder["token"])
        else:
            data = content(owner, stale_after)
        staged = _Staged(path, data)
        try:
            staged.commit(replace=action != "create")
        except FileExistsError:
            staged.abort()
            current = read(path)
            raise LockHeld("the host lock %s was taken by %s while acquiring it" % (path, describe(current or {})),
                           current)
        except BaseException:
            staged.abort()
            raise
        current = read(path) or {}
        if current.get("token") != data["token"] or current.get("pid") != data["pid"]:
            raise LockHeld("the host lock %s was taken by %s while acquiring it" % (path, describe(current)), current)
    return action, reason, holder, current


def take(path: str, owner: str, stale_after: int, force: bool = False, wait_timeout: float = 0,
         sleep: t.Callable[[float], None] = time.sleep,
         clock: t.Callable[[], float] = time.monotonic) -> dict[str, t.Any]:
    """Take (or renew) the lock for ``owner``, waiting up to ``wait_timeout`` seconds for a live holder of another
    owner to let go. Returns ``{action, reason, previous, lock, waited_seconds}``; raises LockHeld on timeout."""
    start = clock()
    while True:
        attempt = clock()
        try:
            action, reason, previous, current = _take_once(path, owner, stale_after, force)
        except LockHeld as e:
            waited = clock() - start
            if waited >= wait_timeout:
                if wait_timeout > 0:
                    holder = e.holder or {}
                    raise LockHeld("the host lock %s is held by %s; waited %d s (wait_timeout)"
                                   % (path, describe(holder), round(waited)), e.holder)
                raise
            sleep(min(WAIT_POLL, wait_timeout - waited))
            continue
        return {"action": action, "reason": reason, "previous": previous, "lock": current,
                "waited_seconds": round(attempt - start, 1)}


def release(path: str, owner: str, stale_after: int, force: bool = False) -> dict[str, t.Any]:
    """Remove the lock of ``owner`` (or a dead, expired or forced one); its holder notices within a second."""
    with _guard(path):
        holder = read(path)
        action, reason = plan(holder, "absent", owner, stale_after, force, path)
        if action == "remove":
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return {"action": action, "reason": reason, "previous": holder, "lock": None}
