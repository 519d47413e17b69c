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
