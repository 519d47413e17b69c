# Unit tests of the disk_cleanup module on tmp trees: check mode, apply, idempotence, diff, bad input, Replicated.
from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.modules import disk_cleanup
from ansible_collections.yba.remediation.tests.unit.plugins.module_utils.test_diskscan import put
from ansible_collections.yba.remediation.tests.unit.plugins.module_utils.test_layout import (
    build_installer,
    build_replicated,
)


def run(args, capsys):
    with pytest.raises(SystemExit):
        with patch_module_args(args):
            disk_cleanup.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def root(tmp_path):
    host = str(tmp_path / "host")
    inst = build_installer(host)
    for day in range(1, 16):
        put(os.path.join(inst, "data/logs/application-log-2024-01-%02d.gz" % day))
    put(os.path.join(inst, "data/platform_dump.sql"))
    return host


def base(root, **kw):
    args = {"host_root": root, "releases_in_use": ["2.18.1.0-b84"]}
    args.update(kw)
    return args


def test_check_apply_idempotent(root, capsys):
    log = os.path.join(root, "opt/yugabyte/data/logs/application-log-2024-01-01.gz")
    check = run(dict(base(root), _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert check["changed"] is True
    assert check["outcome"] == "all_planned"
    assert check["plan"]["logs"]["files"] == 8  # 15 rotated, newest 7 kept
    assert check["deleted"] == {}
    assert "/opt/yugabyte/data/platform_dump.sql\n" in check["diff"]["before"]
    assert os.path.exists(log)
    applied = run(base(root), capsys)
    assert applied["changed"] is True
    assert applied["deleted"]["logs"]["files"] == 8
    assert applied["freed_bytes"] > 0
    assert not os.path.exists(log)
    again = run(base(root), capsys)
    assert again["changed"] is False and again["outcome"] == "nothing_to_do"


def test_target_already_met(root, capsys):
    res = run(base(root, target_used_percent=100), capsys)
    assert res["changed"] is False and res["outcome"] == "target_already_met"


@pytest.mark.parametrize("args, msg", [
    ({"target_used_percent": 150}, "target_used_percent must be between 0 and 100, got 150"),
    ({"categories": {"logs": {"age_days": -3}}}, "logs.age_days must not be negative, got -3"),
    ({"categories": {"bogus": {}}}, "categories.bogus"),
    ({"extra_paths": ["/etc"]}, "extra path /etc is outside the allowed roots"),
    ({"install_root": "/nowhere"}, "no YBA install found at install root /nowhere"),
    ({"max_listed": -1}, "max_listed must not be negative"),
    ({"tmp_dir": "/"}, "tmp_dir / must be YBA's temp directory"),
    ({"tmp_dir": "/opt"}, "tmp_dir /opt must be YBA's temp directory"),
])
def test_bad_input(root, capsys, args, msg):
    res = run(base(root, **args), capsys)
    assert res["failed"] is True
    assert msg in res["msg"]
    assert os.path.exists(os.path.join(root, "opt/yugabyte/data/platform_dump.sql"))


def test_replicated_host(tmp_path, capsys):
    host = str(tmp_path / "rep")
    sp = build_replicated(host)
    for day in range(1, 12):
        put(os.path.join(sp, "yugaware/data/logs/application-log-2024-01-%02d.gz" % day))
    res = run({"host_root": host, "releases_in_use": [], "_ansible_check_mode": True}, capsys)
    assert res["install_type"] == "replicated"
    assert res["plan"]["logs"]["files"] == 4
    assert any(k["reason"] == "release in use by a universe" or k["category"] == "releases" for k in res["kept"]) \
        or "releases" in res["plan"]


def test_reserve_bytes_is_counted_and_returned(root, capsys):
    """A 100 % target is always met by the volume alone, never once a reserve the size of the volume is counted.
    (The tmp volume is shared with other writers: only bounds that hold whatever they write are used.)"""
    plain = run(base(root, target_used_percent=100, _ansible_check_mode=True), capsys)
    assert plain["outcome"] == "target_already_met" and plain["changed"] is False
    assert plain["reserve_bytes"] == 0 and plain["need_bytes"] == 0 and plain["target_met"] is True
    reserve = plain["usage_before"]["total_bytes"]
    held = run(base(root, target_used_percent=100, reserve_bytes=reserve, _ansible_check_mode=True), capsys)
    assert held["reserve_bytes"] == reserve
    assert held["changed"] is True and held["outcome"] == "target_unreachable" and held["target_met"] is False
    assert held["need_bytes"] > 0 and held["freed_bytes"] > 0
    assert held["plan"]["logs"]["files"] == 8 and os.path.exists(os.path.join(root, "opt/yugabyte/data/platform_dump.sql"))
    bad = run(base(root, reserve_bytes=-1), capsys)
    assert bad["failed"] is True and "reserve_bytes must be a whole number of bytes" in bad["msg"]


def test_reserve_counts_only_on_the_cleaned_volume(root, capsys, monkeypatch):
    """A reserve written to the cleaned volume counts; one written to another filesystem frees nothing here."""
    total = run(base(root, target_used_percent=100, _ansible_check_mode=True), capsys)["usage_before"]["total_bytes"]
    same = run(base(root, target_used_percent=100, reserve_bytes=total, reserve_path="/var/backups/not-yet",
                    _ansible_check_mode=True), capsys)
    assert same["reserve_bytes"] == total and same["target_met"] is False
    elsewhere = disk_cleanup._layout.existing_parent
    monkeypatch.setattr(disk_cleanup._layout, "existing_parent", lambda path: "/proc" if "backups" in path else elsewhere(path))
    other = run(base(root, target_used_percent=100, reserve_bytes=total, reserve_path="/var/backups/not-yet",
                     _ansible_check_mode=True), capsys)
    assert other["reserve_bytes"] == 0 and other["target_met"] is True and other["changed"] is False


def test_refused_deletions_make_the_outcome_partial(root, capsys, monkeypatch):
    """A planned file opened by a process between the plan and the deletion is refused: the outcome says so."""
    victim = os.path.join(root, "opt/yugabyte/data/logs/application-log-2024-01-01.gz")
    st = os.stat(victim)
    calls = []
    real_open_inodes = disk_cleanup._diskscan.open_inodes

    def open_later():
        calls.append(1)
        found = real_open_inodes()
        return found | {(st.st_dev, st.st_ino)} if len(calls) > 1 else found  # opened after the plan

    monkeypatch.setattr(disk_cleanup._diskscan, "open_inodes", open_later)
    res = run(base(root), capsys)
    assert res["outcome"] == "partial"
    assert res["refused_count"] == 1 and res["refused"][0]["reason"] == "it is open by a running process"
    assert res["outcome_message"].startswith("1 of 9 planned deletions were refused")
    assert res["changed"] is True and res["deleted"]["logs"]["files"] == 7
    assert os.path.exists(victim)
