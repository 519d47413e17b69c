# Unit tests of the host_lock module: check mode, idempotency, refusal messages.
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.modules import host_lock


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            host_lock.main()
    return json.loads(capsys.readouterr().out)


def test_six_steps(tmp_path, capsys):
    root = str(tmp_path)
    lock = tmp_path / "var/lock/yba-remediation.lock"
    r = run(capsys, host_root=root, owner="run-1", _ansible_check_mode=True, _ansible_diff=True)
    assert r["changed"] is True and r["action"] == "create" and r["diff"]["after"]["owner"] == "run-1"
    assert not lock.exists()
    r = run(capsys, host_root=root, owner="run-1")
    assert r["changed"] is True and lock.exists() and r["lock"]["owner"] == "run-1"
    r = run(capsys, host_root=root, owner="run-1", _ansible_check_mode=True)
    assert r["changed"] is False
    r = run(capsys, host_root=root, owner="run-1")
    assert r["changed"] is False


def test_other_owner_refused_then_release(tmp_path, capsys):
    root = str(tmp_path)
    run(capsys, host_root=root, owner="run-1")
    r = run(capsys, host_root=root, owner="run-2")
    assert r["failed"] is True
    assert r["msg"].startswith("the host lock is held by run-1 (pid ")
    assert r["holder"]["owner"] == "run-1"
    r = run(capsys, host_root=root, owner="run-2", state="absent")
    assert r["failed"] is True and "not by run-2" in r["msg"]
    r = run(capsys, host_root=root, owner="run-1", state="absent", _ansible_check_mode=True)
    assert r["changed"] is True and (tmp_path / "var/lock/yba-remediation.lock").exists()
    r = run(capsys, host_root=root, owner="run-1", state="absent")
    assert r["changed"] is True and r["lock"] is None
    r = run(capsys, host_root=root, owner="run-1", state="absent")
    assert r["changed"] is False


def test_stale_lock_taken_over(tmp_path, capsys):
    root = str(tmp_path)
    run(capsys, host_root=root, owner="old")
    r = run(capsys, host_root=root, owner="new", stale_after=0)
    assert r["changed"] is True and r["action"] == "takeover" and r["previous"]["owner"] == "old"


def test_bad_input(tmp_path, capsys):
    r = run(capsys, host_root=str(tmp_path / "missing"), owner="x")
    assert r["msg"] == "host_root %s is not a directory" % (tmp_path / "missing")
    r = run(capsys, host_root=str(tmp_path), owner="  ")
    assert r["msg"] == "owner must not be empty"
    r = run(capsys, host_root=str(tmp_path), owner="x", stale_after=-1)
    assert r["msg"] == "stale_after must be 0 or more seconds, got -1"
