# Unit tests of the backup module over the routed fake of YBA's backup API (backup_fake) and the real moto S3 of the
# unit conftest: check mode plans only, a second run takes nothing, bad input fails in one line before any request,
# a failure fails the module after the others finished, and no secret reaches any output.
from __future__ import annotations

import json

import pytest
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.modules import backup
from ansible_collections.yba.remediation.tests.unit.plugins.module_utils import backup_fake as bf
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import Done

pytestmark = pytest.mark.usefixtures("raw_results")

TOKEN = "api-token-value-123"


@pytest.fixture
def yba(monkeypatch, s3):
    return bf.install(monkeypatch, bf.FakeYBA(s3))


def creds(s3):
    return {"s3-main": {"AWS_ACCESS_KEY_ID": s3["keys"]["yba"]["AccessKeyId"],
                        "AWS_SECRET_ACCESS_KEY": s3["keys"]["yba"]["SecretAccessKey"]}}


def run(s3, check=False, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, customer_uuid=bf.C, poll_interval=0.01,
                max_poll_interval=0.05, conflict_max_delay=0.05, wait_timeout=20, storage_credentials=creds(s3),
                _ansible_check_mode=check, _ansible_diff=True)
    base.update(args)
    warnings._global_warnings.clear()
    with patch_module_args(base):
        with pytest.raises(Done) as info:
            backup.main()
    result = info.value.result
    text = json.dumps(result)
    for secret in (TOKEN, s3["keys"]["yba"]["SecretAccessKey"], s3["keys"]["yba"]["AccessKeyId"]):
        assert secret not in text, "a secret leaked into %s" % text
    return result


def test_check_mode_plans_only_then_run_then_idempotent(yba, s3):
    r = run(s3, check=True)
    assert not r["failed"] and r["changed"] is True
    assert [b["action"] for b in r["backups"]] == ["planned"] * 3 and yba.posts() == []
    assert r["summary"]["planned"] == 3 and r["record"]["check_mode"] is True
    assert r["diff"]["after"]["orders/ysql@s3-main"] == "(new backup)" and r["diff"]["before"]["orders/ysql@s3-main"] \
        is None
    assert all(not p.endswith("/backups") for m, p in [(x.split()[0], x.split()[1]) for x in r["requests"]] if m == "POST")

    r = run(s3)
    assert not r["failed"] and r["changed"] is True, r.get("msg")
    assert r["summary"] == {"created": 3, "failed": 0, "planned": 0, "fresh": 0, "skipped": 0, "unverified": 0,
                            "total": 3}
    assert all(b["verified"] and b["verified_objects"] == 2 for b in r["backups"])
    assert r["record"]["ok"] is True and r["record"]["summary"].startswith("backups: 3 created; ")
    assert r["api_calls"] == len(r["requests"]) and r["diff"]["after"]["billing/ysql@s3-main"] in yba.backups
    assert len(yba.posts()) == 3

    r = run(s3)
    assert not r["failed"] and r["changed"] is False
    assert [b["action"] for b in r["backups"]] == ["fresh"] * 3 and len(yba.posts()) == 3
    assert r["diff"]["before"] == r["diff"]["after"]

    r = run(s3, check=True, only_if_older_than=0, universes=["billing"])
    assert r["changed"] is True and r["backups"][0]["action"] == "planned" and len(yba.posts()) == 3


@pytest.mark.parametrize("args, msg", [
    (dict(retention=0), "retention must be 1 or more (got 0); keep_forever=true makes backups that never expire"),
    (dict(max_concurrent=0), "max_concurrent must be 1 or more"),
    (dict(wait_timeout=0), "wait_timeout must be more than 0"),
    (dict(only_if_older_than=-1), "only_if_older_than must be 0 or more seconds"),
    (dict(backup_types=["ysql", "redis"]), "backup_types takes auto or a list of ysql and ycql, got redis"),
    (dict(rpo_seconds={"orders": "soon"}), "rpo_seconds[orders] must be a number of seconds"),
    (dict(storage_credentials={"s3-main": {"BACKUP_LOCATION": "s3://x"}}), "takes secret fields only"),
])
def test_bad_options_fail_before_any_request(yba, s3, args, msg):
    r = run(s3, **args)
    assert r["failed"] and msg in r["msg"] and r["msg"].endswith("nothing was sent"), r["msg"]
    assert yba.seen == []


def test_bad_selection_fails_in_one_line(yba, s3):
    r = run(s3, universes=["orders", "nope"])
    assert r["failed"] and r["msg"] == "unknown universe nope; YBA has billing, orders; nothing was sent"
    r = run(s3, storage_config="gone")
    assert r["failed"] and r["msg"] == "unknown storage config gone; YBA has s3-main; nothing was sent"
    assert yba.posts() == []


def test_keep_forever_is_the_only_way_to_never_expire(yba, s3):
    r = run(s3, keep_forever=True, universes=["billing"])
    assert not r["failed"]
    assert [b for _m, _p, b in yba.posts()][0]["timeBeforeDelete"] == 0
    assert "expiryTimeUnit" not in [b for _m, _p, b in yba.posts()][0]
    r = run(s3, retention=12, retention_unit="HOURS", only_if_older_than=0, universes=["billing"])
    assert [b for _m, _p, b in yba.posts()][1]["timeBeforeDelete"] == 12 * 3600 * 1000


def test_a_failure_fails_the_module_after_the_others(yba, s3):
    orders = yba.universes[0]
    yba.fail_task[orders["universeUUID"]] = "Failed to execute task BackupTableYbc: S3 AccessDenied"
    r = run(s3)
    assert r["failed"] and r["changed"] is True
    assert r["msg"].startswith("2 of 3 backups failed: orders/ysql@s3-main: task ")
    assert "S3 AccessDenied" in r["msg"]
    actions = {(b["universe"], b["backup_type"]): b["action"] for b in r["backups"]}
    assert actions == {("orders", "ysql"): "failed", ("orders", "ycql"): "failed", ("billing", "ysql"): "created"}
    assert r["record"]["ok"] is False and r["record"]["failed"] == ["orders/ysql@s3-main", "orders/ycql@s3-main"]


def test_without_keys_verification_says_how_to_give_them(yba, s3, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    from ansible_collections.yba.remediation.plugins.module_utils import _s3
    monkeypatch.setattr(_s3, "_SESSION", [])
    r = run(s3, storage_credentials={}, universes=["billing"])
    assert not r["failed"] and r["backups"][0]["action"] == "created" and r["backups"][0]["verified"] is False
    assert "storage_credentials" in r["backups"][0]["verify_problem"]
    assert r["record"]["ok"] is False and r["summary"]["unverified"] == 1
    assert any("is not verified in the bucket" in w for w in r["warnings"])


def test_post_500_is_a_clear_failure(yba, s3):
    yba.post_error = (500, "Error executing query: index \"backup_pkey\" contains unexpected zero page at block 0")
    r = run(s3, universes=["billing"])
    assert r["failed"] and r["changed"] is False
    assert "1 of 1 backup failed: billing/ysql@s3-main: YBA refused the backup (HTTP 500): Error executing query" \
        in r["msg"]


def test_a_universe_without_config_fails_alone_after_the_others(yba, s3):
    """Two S3 configs and billing has no schedule: orders is still backed up, then the module fails naming billing."""
    orders = yba.universes[0]
    yba.add_config(bf.CFG2, "s3-dr", "dr")
    yba.add_schedule(orders, "PGSQL_TABLE_TYPE", cfg=bf.CFG)
    r = run(s3, check=True)
    assert r["failed"] and yba.posts() == []
    assert r["msg"].startswith("1 of 1 backup failed: billing/ysql@(no storage config): universe billing has no ysql schedule")
    assert "name one with storage_config" in r["msg"] and r["summary"]["planned"] == 1
    r = run(s3)
    assert r["failed"] and r["changed"] is True and len(yba.posts()) == 1
    actions = {(b["universe"], b["backup_type"]): b["action"] for b in r["backups"]}
    assert actions == {("orders", "ysql"): "created", ("billing", "ysql"): "failed"}
    assert r["msg"].startswith("1 of 2 backups failed: billing/ysql@(no storage config): universe billing has no ysql schedule")
    assert r["record"]["failed"] == ["billing/ysql@(no storage config)"]


def test_a_lost_post_answer_is_not_sent_again_by_the_client(yba, s3):
    """The module's client retries 502/503/504 (backoff_retries); the backup request must go once: YBA started the
    backup before its answer was lost, and the module follows that backup instead of starting a second one."""
    yba.lost_answers = [(504, True)]
    r = run(s3, universes=["billing"], backoff_retries=2)
    assert not r["failed"] and r["changed"] is True, r.get("msg")
    assert len(yba.posts()) == 1 and len(yba.backups) == 1
    b = r["backups"][0]
    assert b["action"] == "created" and b["backup_uuid"] in yba.backups and b["attempts"] == 1
    assert "no clear answer" in b["reason"] and b["orphaned"] is False


def test_a_task_that_failed_before_its_backup_row_is_a_change(yba, s3):
    """YBA accepted the request (a task) but the task failed before it wrote a backup row: something was started,
    so changed is true even without a backup UUID."""
    yba.no_row.add(yba.universes[1]["universeUUID"])
    r = run(s3, universes=["billing"])
    assert r["failed"] and r["changed"] is True
    b = r["backups"][0]
    assert b["action"] == "failed" and b["task_uuid"] and b["backup_uuid"] is None
    assert "no keyspace" in r["msg"]


def test_an_orphaned_backup_row_is_taken_again(yba, s3, monkeypatch):
    from ansible_collections.yba.remediation.plugins.module_utils import _backup as bk
    monkeypatch.setattr(bk, "ORPHAN_GRACE", 0.3)
    yba.orphan.add(yba.universes[1]["universeUUID"])
    r = run(s3, universes=["billing"])
    assert not r["failed"] and r["changed"] is True, r.get("msg")
    b = r["backups"][0]
    assert b["action"] == "created" and b["orphaned"] is True and b["attempts"] == 2 and len(yba.posts()) == 2
