# Unit tests of the host lock logic (_lock.py).
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _lock


def test_read_absent(tmp_path):
    assert _lock.read(str(tmp_path / "nope")) is None


def test_create_then_read(tmp_path):
    path = _lock.lock_path(str(tmp_path))
    assert path == str(tmp_path / "var/lock/yba-remediation.lock")
    data = _lock.apply(path, "create", "run-1", now=1000.0)
    assert data["owner"] == "run-1" and data["time"] == "1970-01-01T00:16:40Z"
    holder = _lock.read(path, now=1060.0)
    assert holder == {"owner": "run-1", "pid": os.getpid(), "time": "1970-01-01T00:16:40Z",
                      "age_seconds": 60, "valid": True}


def test_create_refuses_existing(tmp_path):
    path = _lock.lock_path(str(tmp_path))
    _lock.apply(path, "create", "a")
    with pytest.raises(_lock.LockHeld, match="taken by a"):
        _lock.apply(path, "create", "b")


@pytest.mark.parametrize("holder,state,owner,force,expected", [
    (None, "present", "a", False, "create"),
    ({"owner": "a", "valid": True, "age_seconds": 10}, "present", "a", False, "none"),
    ({"owner": "b", "valid": True, "age_seconds": 5000}, "present", "a", False, "takeover"),
    ({"owner": "b", "valid": True, "age_seconds": 10}, "present", "a", True, "takeover"),
    ({"owner": None, "valid": False, "age_seconds": 5000}, "present", "a", False, "takeover"),
    (None, "absent", "a", False, "none"),
    ({"owner": "a", "valid": True, "age_seconds": 10}, "absent", "a", False, "remove"),
    ({"owner": "b", "valid": True, "age_seconds": 10}, "absent", "a", True, "remove"),
    ({"owner": "b", "valid": True, "age_seconds": 5000}, "absent", "a", False, "remove"),
])
def test_plan(holder, state, owner, force, expected):
    assert _lock.plan(holder, state, owner, 3600, force) == expected


def test_plan_refuses_live_lock_of_other_owner():
    holder = {"owner": "b", "pid": 7, "valid": True, "time": "2026-11-28T10:00:00Z", "age_seconds": 12}
    with pytest.raises(_lock.LockHeld) as ei:
        _lock.plan(holder, "present", "a", 3600)
    assert "held by b (pid 7) since 2026-11-28T10:00:00Z (12 s ago)" in str(ei.value)
    with pytest.raises(_lock.LockHeld, match="not by a; not released"):
        _lock.plan(holder, "absent", "a", 3600)


def test_corrupt_lock_ages_from_mtime(tmp_path):
    path = _lock.lock_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write("garbage")
    os.utime(path, (100, 100))
    holder = _lock.read(path, now=200.0)
    assert holder["valid"] is False and holder["owner"] is None and holder["age_seconds"] == 100
    assert _lock.plan(holder, "present", "a", 50) == "takeover"
    with pytest.raises(_lock.LockHeld, match="unreadable"):
        _lock.plan(holder, "present", "a", 500)


def test_takeover_and_remove(tmp_path):
    path = _lock.lock_path(str(tmp_path))
    _lock.apply(path, "create", "old", now=0.0)
    _lock.apply(path, "takeover", "new")
    with open(path) as f:
        assert json.load(f)["owner"] == "new"
    assert os.listdir(os.path.dirname(path)) == ["yba-remediation.lock"]
    _lock.apply(path, "remove", "new")
    assert not os.path.exists(path)
