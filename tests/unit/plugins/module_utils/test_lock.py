# Unit tests of the host lock (_lock.py): the pure decision, and the real holder processes, flocks and races.
from __future__ import annotations

import errno
import json
import multiprocessing
import os
import re
import signal
import stat
import threading
import time

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _lock


def gone(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return gone(pid)


@pytest.fixture
def path(tmp_path):
    p = _lock.lock_path(str(tmp_path))
    yield p
    # end any holder a test left: it lets go once its file is gone
    for name in os.listdir(os.path.dirname(p)) if os.path.isdir(os.path.dirname(p)) else []:
        if name != _lock.GUARD_NAME:
            os.unlink(os.path.join(os.path.dirname(p), name))


def entries(p):
    return sorted(os.listdir(os.path.dirname(p)))


def test_read_absent(path):
    assert _lock.read(path) is None


def test_take_creates_a_complete_lock_held_by_a_live_holder(path):
    assert path.endswith("/run/lock/yba-remediation.lock")
    r = _lock.take(path, "run-1", 3600)
    assert r["action"] == "create" and r["previous"] is None
    with open(path) as f:
        data = json.load(f)
    assert data["owner"] == "run-1" and data["stale_after"] == 3600 and len(data["token"]) == 32
    assert data["time"] == data["renewed"] and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", data["time"])
    assert data["pid"] != os.getpid() and not gone(data["pid"])
    holder = _lock.read(path)
    assert holder["alive"] is True and holder["valid"] is True and holder["pid"] == data["pid"]
    # /run/lock laid out as systemd does; no temp file left
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o1777
    assert entries(path) == [_lock.GUARD_NAME, "yba-remediation.lock"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_release_ends_the_holder_within_a_second(path):
    pid = _lock.take(path, "run-1", 3600)["lock"]["pid"]
    r = _lock.release(path, "run-1", 3600)
    assert r["action"] == "remove" and not os.path.exists(path)
    assert wait_gone(pid, 1.0)
    assert _lock.release(path, "run-1", 3600)["action"] == "none"


def test_live_lock_of_another_owner_is_refused_and_not_released(path):
    pid = _lock.take(path, "run-a", 3600)["lock"]["pid"]
    with pytest.raises(_lock.LockHeld) as ei:
        _lock.take(path, "run-b", 3600)
    assert re.match(r"^the host lock %s is held by run run-a \(holder pid %d on \S+, since \S+Z, \d+ s ago\); not taken"
                    % (re.escape(path), pid), str(ei.value))
    assert ei.value.holder["owner"] == "run-a" and ei.value.holder["alive"] is True
    with pytest.raises(_lock.LockHeld, match=r"held by run run-a .*, not by run run-b; not released"):
        _lock.release(path, "run-b", 3600)
    assert _lock.read(path)["owner"] == "run-a"
    r = _lock.release(path, "run-b", 3600, force=True)
    assert r["action"] == "remove" and r["reason"] == "forced" and wait_gone(pid)


def test_dead_holder_is_taken_over_at_once(path):
    pid = _lock.take(path, "run-a", 3600)["lock"]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    assert _lock.read(path)["alive"] is False
    r = _lock.take(path, "run-b", 3600)
    assert r["action"] == "takeover" and r["reason"] == "holder gone" and r["previous"]["owner"] == "run-a"
    assert r["lock"]["owner"] == "run-b" and not gone(r["lock"]["pid"])


@pytest.mark.parametrize("text", ["", "garbage", "[1]"])
def test_empty_or_unreadable_lock_file_is_taken_over_at_once(path, text):
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(text)
    holder = _lock.read(path)
    assert holder["valid"] is False and holder["alive"] is False and holder["age_seconds"] < 5
    r = _lock.take(path, "run-b", 3600)
    assert r["action"] == "takeover" and r["reason"] == "unreadable lock file, no holder"
    assert _lock.read(path)["owner"] == "run-b"


def test_enospc_leaves_nothing_behind(path, monkeypatch):
    started = []
    real = _lock._write_content

    def full(fd, data):
        started.append(data["pid"])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_lock, "_write_content", full)
    with pytest.raises(OSError) as ei:
        _lock.take(path, "run-1", 3600)
    assert ei.value.errno == errno.ENOSPC
    assert entries(path) == [_lock.GUARD_NAME] and not os.path.exists(path)
    assert started and wait_gone(started[0])  # the holder of the aborted attempt ended too
    monkeypatch.setattr(_lock, "_write_content", real)
    assert _lock.take(path, "run-1", 3600)["action"] == "create"


def test_same_owner_renews_the_same_lock(path):
    first = _lock.take(path, "run-1", 3600)
    token = _lock.read(path)["token"]
    time.sleep(1.1)
    r = _lock.take(path, "run-1", 1800)
    assert r["action"] == "renew"
    now = _lock.read(path)
    assert now["token"] == token and now["time"] == first["lock"]["time"] and now["renewed"] > now["time"]
    assert now["stale_after"] == 1800 and now["alive"] is True
    assert wait_gone(first["lock"]["pid"]) and not gone(now["pid"])


def test_holder_lets_go_when_its_lease_ends(path):
    pid = _lock.take(path, "run-a", 1)["lock"]["pid"]
    assert wait_gone(pid, 3.0)
    assert os.path.exists(path) and _lock.read(path)["alive"] is False
    r = _lock.take(path, "run-b", 3600)
    assert r["action"] == "takeover" and r["reason"] == "holder gone"


def test_wait_timeout_names_the_holder(path):
    pid = _lock.take(path, "run-a", 3600)["lock"]["pid"]
    start = time.monotonic()
    with pytest.raises(_lock.LockHeld) as ei:
        _lock.take(path, "run-b", 3600, wait_timeout=1)
    assert time.monotonic() - start >= 1.0
    assert re.match(r"^the host lock %s is held by run run-a \(holder pid %d on \S+, since \S+Z, \d+ s ago\); "
                    r"waited 1 s \(wait_timeout\)$" % (re.escape(path), pid), str(ei.value))
    assert "\n" not in str(ei.value)


def test_wait_until_the_holder_releases(path):
    _lock.take(path, "run-a", 3600)
    timer = threading.Timer(0.6, _lock.release, (path, "run-a", 3600))
    timer.start()
    try:
        r = _lock.take(path, "run-b", 3600, wait_timeout=10)
    finally:
        timer.join()
    assert r["action"] == "create" and r["lock"]["owner"] == "run-b" and 0.5 <= r["waited_seconds"] < 5


def _racer(path, owner, barrier, results):
    barrier.wait()
    try:
        r = _lock.take(path, owner, 3600)
        results.put((owner, r["action"]))
    except _lock.LockHeld as e:
        results.put((owner, "refused: %s" % e))


@pytest.mark.parametrize("start", ["dead", "empty", "none"])
def test_two_takers_racing_exactly_one_wins(path, start):
    ctx = multiprocessing.get_context("fork")
    for _round in range(5):
        if start == "dead":
            pid = _lock.take(path, "old", 3600)["lock"]["pid"]
            os.kill(pid, signal.SIGKILL)
            assert wait_gone(pid)
        elif start == "empty":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_racer, args=(path, owner, barrier, results)) for owner in ("r1", "r2")]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
        got = dict(results.get(timeout=5) for _proc in procs)
        winners = [o for o, outcome in got.items() if not outcome.startswith("refused")]
        assert len(winners) == 1, got
        loser = ({"r1", "r2"} - set(winners)).pop()
        assert "is held by run %s" % winners[0] in got[loser]
        assert _lock.read(path)["owner"] == winners[0] and _lock.read(path)["alive"]
        _lock.release(path, winners[0], 3600)


@pytest.mark.parametrize("holder,state,owner,force,expected", [
    (None, "present", "a", False, ("create", None)),
    ({"owner": "a", "valid": True, "alive": True, "age_seconds": 10}, "present", "a", False, ("renew", None)),
    ({"owner": "a", "valid": True, "alive": False, "age_seconds": 10}, "present", "a", False, ("takeover", "holder gone")),
    ({"owner": "b", "valid": True, "alive": False, "age_seconds": 10}, "present", "a", False, ("takeover", "holder gone")),
    ({"owner": None, "valid": False, "alive": False, "age_seconds": 1}, "present", "a", False,
     ("takeover", "unreadable lock file, no holder")),
    ({"owner": "b", "valid": True, "alive": True, "age_seconds": 5000}, "present", "a", False, ("takeover", "lease expired")),
    ({"owner": "b", "valid": True, "alive": True, "age_seconds": 10}, "present", "a", True, ("takeover", "forced")),
    (None, "absent", "a", False, ("none", None)),
    ({"owner": "a", "valid": True, "alive": True, "age_seconds": 10}, "absent", "a", False, ("remove", None)),
    ({"owner": "b", "valid": True, "alive": False, "age_seconds": 10}, "absent", "a", False, ("remove", "holder gone")),
    ({"owner": "b", "valid": True, "alive": True, "age_seconds": 10}, "absent", "a", True, ("remove", "forced")),
    ({"owner": "b", "valid": True, "alive": True, "age_seconds": 5000}, "absent", "a", False, ("remove", "lease expired")),
])
def test_plan(holder, state, owner, force, expected):
    assert _lock.plan(holder, state, owner, 3600, force) == expected


def test_plan_refuses_live_lock_of_other_owner():
    holder = {"owner": "b", "pid": 7, "host": "yba1", "valid": True, "alive": True, "time": "2026-11-28T10:00:00Z",
              "age_seconds": 12, "held_seconds": 35}
    with pytest.raises(_lock.LockHeld) as ei:
        _lock.plan(holder, "present", "a", 3600, path="/run/lock/yba-remediation.lock")
    assert str(ei.value).startswith("the host lock /run/lock/yba-remediation.lock is held by run b "
                                    "(holder pid 7 on yba1, since 2026-11-28T10:00:00Z, 35 s ago); not taken")
    with pytest.raises(_lock.LockHeld, match="not by run a; not released"):
        _lock.plan(holder, "absent", "a", 3600)


def test_old_format_lock_reads_as_dead(path):
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump({"owner": "old", "pid": 1, "time": "2026-11-28T10:00:00Z"}, f)
    holder = _lock.read(path, now=_lock.parse_iso("2026-11-28T10:01:00Z"))
    assert holder["valid"] and not holder["alive"] and holder["renewed"] == holder["time"]
    assert holder["age_seconds"] == 60
