# Unit tests of the host_lock module: six steps, check mode, renewal, refusal messages, bad input.
from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.modules import host_lock


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            host_lock.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def root(tmp_path):
    yield str(tmp_path)
    lock = tmp_path / "run/lock/yba-remediation.lock"
    if lock.exists():
        lock.unlink()  # its holder lets go


def test_six_steps(root, capsys):
    lock = os.path.join(root, "run/lock/yba-remediation.lock")
    r = run(capsys, host_root=root, owner="run-1", _ansible_check_mode=True, _ansible_diff=True)
    assert r["changed"] is True and r["action"] == "create" and r["diff"]["after"]["owner"] == "run-1"
    assert r["lock"]["pid"] is None and r["path"] == lock
    assert not os.path.exists(lock) and not os.path.exists(os.path.dirname(lock))
    r = run(capsys, host_root=root, owner="run-1", _ansible_diff=True)
    assert r["changed"] is True and os.path.exists(lock) and r["lock"]["owner"] == "run-1"
    assert r["diff"]["before"] == {} and r["diff"]["after"]["pid"] == r["lock"]["pid"]
    taken = r["lock"]
    r = run(capsys, host_root=root, owner="run-1", _ansible_check_mode=True)
    assert r["changed"] is False and r["action"] == "renew"
    r = run(capsys, host_root=root, owner="run-1")
    assert r["changed"] is False and r["action"] == "renew" and "diff" not in r
    assert r["lock"]["time"] == taken["time"] and r["lock"]["pid"] != taken["pid"]


def test_other_owner_refused_then_release(root, capsys):
    taken = run(capsys, host_root=root, owner="run-1")["lock"]
    r = run(capsys, host_root=root, owner="run-2")
    assert r["failed"] is True
    assert r["msg"].startswith("the host lock %s/run/lock/yba-remediation.lock is held by run run-1 (holder pid %d on "
                               % (root, taken["pid"]))
    assert r["holder"]["owner"] == "run-1" and r["holder"]["alive"] is True and "token" not in r["holder"]
    r = run(capsys, host_root=root, owner="run-2", wait_timeout=1)
    assert r["failed"] is True and r["msg"].endswith("; waited 1 s (wait_timeout)")
    r = run(capsys, host_root=root, owner="run-2", state="absent")
    assert r["failed"] is True and "not by run run-2" in r["msg"]
    r = run(capsys, host_root=root, owner="run-1", state="absent", _ansible_check_mode=True)
    assert r["changed"] is True and os.path.exists(os.path.join(root, "run/lock/yba-remediation.lock"))
    r = run(capsys, host_root=root, owner="run-1", state="absent")
    assert r["changed"] is True and r["lock"] is None
    r = run(capsys, host_root=root, owner="run-1", state="absent")
    assert r["changed"] is False


def test_check_mode_warns_about_a_live_lock_of_another_run(root, capsys):
    run(capsys, host_root=root, owner="run-1")
    r = run(capsys, host_root=root, owner="run-2", _ansible_check_mode=True)
    assert "failed" not in r and r["changed"] is False and r["holder"]["owner"] == "run-1"
    warning = json.dumps(r["warnings"])
    assert "the host lock " in warning and "held by run run-1" in warning


def test_forced_takeover(root, capsys):
    run(capsys, host_root=root, owner="old")
    r = run(capsys, host_root=root, owner="new", force=True)
    assert r["changed"] is True and r["action"] == "takeover" and r["previous"]["owner"] == "old"
    assert r["previous"]["reason"] == "forced" and r["lock"]["owner"] == "new"


def test_empty_lock_file_taken_over(root, capsys):
    lock = os.path.join(root, "run/lock/yba-remediation.lock")
    os.makedirs(os.path.dirname(lock))
    open(lock, "w").close()
    r = run(capsys, host_root=root, owner="new")
    assert r["changed"] is True and r["action"] == "takeover"
    assert r["previous"]["valid"] is False and r["previous"]["reason"] == "unreadable lock file, no holder"


def test_bad_input(tmp_path, capsys):
    r = run(capsys, host_root=str(tmp_path / "missing"), owner="x")
    assert r["msg"] == "host_root %s is not a directory" % (tmp_path / "missing")
    r = run(capsys, host_root=str(tmp_path), owner="  ")
    assert r["msg"] == "owner must not be empty"
    r = run(capsys, host_root=str(tmp_path), owner="x", stale_after=0)
    assert r["msg"] == "stale_after must be 1 or more seconds, got 0"
    r = run(capsys, host_root=str(tmp_path), owner="x", wait_timeout=-1)
    assert r["msg"] == "wait_timeout must be 0 or more seconds, got -1"
