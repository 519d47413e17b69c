# Unit tests of _backup (plan and runner) over a routed fake of YBA's backup API (backup_fake) and the real moto S3
# of the unit conftest: freshness per config, 409 lock retries, bounded concurrency, a failing task, a platform
# restart (task gone, YBC backup resumed under a new task; script backup Failed and submitted again), the deadline.
from __future__ import annotations

import time

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backup as bk
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc
from ansible_collections.yba.remediation.tests.unit.plugins.module_utils import backup_fake as bf


@pytest.fixture
def yba(monkeypatch, s3):
    return bf.install(monkeypatch, bf.FakeYBA(s3))


def params(**over):
    p = dict(universes=[], backup_types="auto", storage_config=None, only_if_older_than=None, rpo_factor=1.5,
             rpo_seconds={}, default_rpo_seconds=86400.0, retention=7, retention_unit="DAYS", keep_forever=False,
             backup_category=None, max_concurrent=2, wait_timeout=20.0, poll_interval=0.01, max_poll_interval=0.05,
             conflict_max_delay=0.05, restart_retries=1, verify=True, verify_timeout=5.0, verify_ca_path=None,
             verify_validate_certs=True)
    p.update(over)
    return p


def client():
    return _api.YBAClient("https://yba.example", token="tok", customer_uuid=bf.C, retries=0)


def settings_for(s3, fake):
    creds = {"AWS_ACCESS_KEY_ID": s3["keys"]["yba"]["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": s3["keys"]["yba"]["SecretAccessKey"]}
    return lambda cfg: sc.probe_settings(fake.configs[cfg], creds)[0]


def plan(c, p):
    return bk.plan(bk.read_inventory(c), p, lambda u, wanted: fr.read_latest(c, u, wanted))


def run(s3, fake, **over):
    c = client()
    p = params(**over)
    items = plan(c, p)
    bk.Runner(c, p, settings_for(s3, fake)).run(items)
    return items, c


def by(items):
    return {(i["universe"], i["backup_type"]): i for i in items}


# ------------------------------------------------------------------------------------------------ expiry

def test_expiry_never_sends_never_expires_by_accident():
    assert bk.expiry(7, "DAYS", False) == (7 * 86400000, "DAYS")
    assert bk.expiry(12, "HOURS", False) == (12 * 3600000, "HOURS")
    assert bk.expiry(None, "DAYS", True) == (0, None)
    with pytest.raises(bk.BackupInputError, match="retention must be 1 or more.*keep_forever"):
        bk.expiry(0, "DAYS", False)
    with pytest.raises(bk.BackupInputError, match="retention_unit"):
        bk.expiry(1, "WEEKS", False)


# -------------------------------------------------------------------------------------------------- plan

def test_plan_types_configs_thresholds_and_skips(yba):
    orders, billing = yba.universes
    paused = bf.universe("archive", paused=True)
    disabled = bf.universe("legacy", take_backups=False)
    yba.universes += [paused, disabled]
    yba.add_schedule(orders, "PGSQL_TABLE_TYPE", frequency_hours=24)
    yba.add_backup(orders, "PGSQL_TABLE_TYPE", age_seconds=3600)  # fresh under 24 h x 1.5
    yba.add_backup(billing, "PGSQL_TABLE_TYPE", age_seconds=3 * 86400)  # 3 days: stale (default RPO 1 day)
    items = by(plan(client(), params()))
    # orders: auto = the schedule's type only (YSQL), fresh under its RPO
    assert set(k for k in items if k[0] == "orders") == {("orders", "ysql")}
    o = items[("orders", "ysql")]
    assert o["action"] == "fresh" and o["threshold_seconds"] == 36 * 3600.0
    assert o["threshold_source"].startswith("schedule ") and o["storage_config"] == "s3-main"
    # billing: no schedule, its APIs (YSQL only): stale against the default RPO
    b = items[("billing", "ysql")]
    assert b["action"] == "planned" and b["threshold_source"] == "default" and b["last_backup_age_seconds"] > 86400
    assert "over the 86400 s threshold" in b["reason"]
    assert items[("archive", "ycql")]["action"] == "skipped" and "paused" in items[("archive", "ycql")]["reason"]
    assert "takeBackups=false" in items[("legacy", "ysql")]["reason"]
    assert yba.posts() == []


def test_plan_only_if_older_than_overrides_and_api_not_enabled(yba):
    orders, billing = yba.universes
    yba.add_backup(orders, "PGSQL_TABLE_TYPE", age_seconds=100)
    items = by(plan(client(), params(only_if_older_than=50, backup_types=["ysql", "ycql"])))
    assert items[("orders", "ysql")]["action"] == "planned"
    assert items[("orders", "ysql")]["threshold_source"] == "only_if_older_than"
    assert items[("orders", "ycql")]["reason"] == "no Completed ycql backup on s3-main"
    assert items[("billing", "ycql")]["action"] == "skipped" and "not enabled" in items[("billing", "ycql")]["reason"]
    items = by(plan(client(), params(rpo_seconds={"orders": 1000}, universes=["orders"])))
    assert items[("orders", "ysql")]["action"] == "fresh" and items[("orders", "ysql")]["threshold_source"] == "override"


def test_plan_a_second_config_judges_freshness_there(yba):
    orders, _billing = yba.universes
    yba.add_config(bf.CFG2, "s3-dr", "dr")
    yba.add_backup(orders, "PGSQL_TABLE_TYPE", age_seconds=60)  # fresh on s3-main only
    items = by(plan(client(), params(universes=[orders["universeUUID"]], storage_config="s3-dr")))
    item = items[("orders", "ysql")]
    assert item["action"] == "planned" and item["storage_config"] == "s3-dr" and item["storage_config_uuid"] == bf.CFG2


def test_plan_takes_the_config_of_the_universes_schedule(yba):
    orders, billing = yba.universes
    yba.add_config(bf.CFG2, "s3-dr", "dr")
    yba.add_schedule(orders, "PGSQL_TABLE_TYPE", status="Stopped", cfg=bf.CFG)
    yba.add_schedule(orders, "PGSQL_TABLE_TYPE", status="Active", cfg=bf.CFG2)
    yba.add_schedule(billing, "PGSQL_TABLE_TYPE", status="Paused", cfg=bf.CFG2)
    yba.add_backup(orders, "PGSQL_TABLE_TYPE", age_seconds=60, cfg=bf.CFG)  # on the other config: does not count
    items = by(plan(client(), params()))
    assert {k: (i["storage_config"], i["action"]) for k, i in items.items()} == {
        ("orders", "ysql"): ("s3-dr", "planned"), ("billing", "ysql"): ("s3-dr", "planned")}


def test_plan_bad_selection_is_one_clear_line(yba):
    with pytest.raises(bk.BackupInputError, match="unknown universe nope; YBA has billing, orders"):
        plan(client(), params(universes=["orders", "nope"]))
    with pytest.raises(bk.BackupInputError, match="unknown storage config gone; YBA has s3-main"):
        plan(client(), params(storage_config="gone"))


def test_plan_a_universe_without_config_fails_alone_and_the_others_proceed(yba, s3):
    """Two S3 configs: a universe with no schedule (or one whose config is gone) cannot be given a config; only its
    item fails (with how to fix it), the universes with a schedule are still planned and backed up."""
    orders, billing = yba.universes
    yba.add_config(bf.CFG2, "s3-dr", "dr")
    yba.add_schedule(orders, "PGSQL_TABLE_TYPE", cfg=bf.CFG2)
    yba.add_schedule(orders, "YQL_TABLE_TYPE", cfg="5f000000-0000-0000-0000-00000000dead")  # config deleted
    items = by(plan(client(), params(only_if_older_than=0)))
    assert items[("orders", "ysql")]["action"] == "planned" and items[("orders", "ysql")]["storage_config"] == "s3-dr"
    for k in (("billing", "ysql"), ("orders", "ycql")):
        item = items[k]
        assert item["action"] == "failed" and item["storage_config"] is None, item
        assert "2 S3 storage configs (s3-dr, s3-main); name one with storage_config" in item["error"]
        assert item["reason"] == item["error"]
    assert "schedule whose storage config still exists" in items[("orders", "ycql")]["error"]
    assert "billing has no ysql schedule to take" in items[("billing", "ysql")]["error"]
    assert set(bk.diff(list(items.values()))["before"]) == {"orders/ysql@s3-dr"}
    got, _c = run(s3, yba, only_if_older_than=0)
    got = by(got)
    assert got[("orders", "ysql")]["action"] == "created" and got[("billing", "ysql")]["action"] == "failed"
    assert len(yba.posts()) == 1


# ------------------------------------------------------------------------------------------------ runner

def test_runner_creates_verifies_and_keeps_yba_rules(yba, s3):
    items, c = run(s3, yba, only_if_older_than=0)
    got = by(items)
    assert set(got) == {("orders", "ysql"), ("orders", "ycql"), ("billing", "ysql")}
    for item in items:
        assert item["action"] == "created" and item["state"] == "Completed", item
        assert item["verified"] is True and item["verified_objects"] == 2 and item["size_bytes"] == 101
        assert item["backup_uuid"] in yba.backups and item["category"] == "YB_CONTROLLER"
        assert item["attempts"] == 1 and item["error"] is None
    bodies = [b for _m, _p, b in yba.posts()]
    assert all(b["timeBeforeDelete"] == 7 * 86400000 and b["expiryTimeUnit"] == "DAYS" for b in bodies)
    assert {b["backupType"] for b in bodies} == {"PGSQL_TABLE_TYPE", "YQL_TABLE_TYPE"}
    assert yba.max_per_universe == 1  # never two backups of one universe at a time
    assert bk.summary(items)["created"] == 3


def test_runner_bounded_concurrency_across_universes(yba, s3):
    yba.universes = [bf.universe("u%d" % i, ysql=True, ycql=False) for i in range(5)]
    yba.polls = 4
    items, _c = run(s3, yba, only_if_older_than=0, max_concurrent=2, verify=False)
    assert all(i["action"] == "created" for i in items)
    assert yba.max_running == 2


def test_runner_waits_out_409_lock(yba, s3):
    orders = yba.universes[0]
    yba.conflicts[orders["universeUUID"]] = 3
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"])
    assert items[0]["action"] == "created" and items[0]["conflicts"] == 3 and items[0]["attempts"] == 1


def test_runner_409_until_the_deadline_fails_clearly(yba, s3):
    orders = yba.universes[0]
    yba.conflicts[orders["universeUUID"]] = 10 ** 6
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"], wait_timeout=0.5)
    item = items[0]
    assert item["action"] == "failed" and item["conflicts"] > 1
    assert "stayed locked (409" in item["error"] and "no backup was started" in item["error"]


def test_runner_failed_task_returns_failed_subtasks_and_others_finish(yba, s3):
    orders, billing = yba.universes
    yba.fail_task[orders["universeUUID"]] = "Failed to execute task BackupTableYbc: bucket unreachable"
    items, _c = run(s3, yba, only_if_older_than=0)
    got = by(items)
    for typ in ("ysql", "ycql"):
        item = got[("orders", typ)]
        assert item["action"] == "failed" and item["state"] == "Failed", item
        assert "BackupTableYbc: Failed to execute task BackupTableYbc: bucket unreachable" in item["error"]
    assert got[("billing", "ysql")]["action"] == "created"


def test_runner_restart_task_gone_follows_resumed_ybc_backup(yba, s3):
    orders = yba.universes[0]
    yba.restart_ybc.add(orders["universeUUID"])
    yba.unreachable_polls = 2  # the API is down for a moment first
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"], max_concurrent=1)
    item = items[0]
    assert item["action"] == "created" and item["resumed"] is True and item["attempts"] == 1, item
    assert item["api_unreachable_polls"] == 2
    assert yba.backups[item["backup_uuid"]]["taskUUID"] == item["task_uuid"]
    assert len(yba.posts()) == 1 and item["verified"] is True


def test_runner_polls_through_503_while_the_platform_starts(yba, s3):
    yba.unavailable_polls = 3
    items, _c = run(s3, yba, only_if_older_than=0, universes=["billing"])
    assert items[0]["action"] == "created" and items[0]["api_unreachable_polls"] == 3 and items[0]["attempts"] == 1


def test_runner_task_and_backup_gone_is_taken_again(yba, s3):
    """A metadata restore lost both the task and its backup row: the backup is submitted again (restart_retries)."""
    orders = yba.universes[0]
    yba.vanish.add(orders["universeUUID"])
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"])
    item = items[0]
    assert item["action"] == "created" and item["attempts"] == 2 and len(yba.posts()) == 2, item
    assert item["backup_uuid"] in yba.backups and item["verified"] is True


def test_runner_restart_without_task_route_finds_backup_by_page(yba, s3):
    yba.task_route = False
    orders = yba.universes[0]
    yba.restart_ybc.add(orders["universeUUID"])
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"])
    assert items[0]["action"] == "created" and items[0]["resumed"] is True and len(yba.posts()) == 1


def test_runner_restart_script_backup_is_submitted_again_once(yba, s3):
    orders = yba.universes[0]
    yba.category = "YB_BACKUP_SCRIPT"
    yba.restart_script.add(orders["universeUUID"])
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"])
    item = items[0]
    assert item["action"] == "created" and item["attempts"] == 2 and item["category"] == "YB_BACKUP_SCRIPT", item
    assert len(yba.posts()) == 2 and item["verified"] is True
    # with restart_retries 0 it is reported, not retried
    yba.restart_script.add(orders["universeUUID"])
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"], restart_retries=0)
    assert items[0]["action"] == "failed" and "Platform restarted" in items[0]["error"]
    assert "restart_retries (0) is spent" in items[0]["error"]


def test_runner_deadline_is_real_and_polls_back_off(yba, s3):
    orders = yba.universes[0]
    yba.hang.add(orders["universeUUID"])
    t0 = time.monotonic()
    items, c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"], wait_timeout=1.0,
                   poll_interval=0.05, max_poll_interval=0.2)
    elapsed = time.monotonic() - t0
    item = items[0]
    assert item["action"] == "failed" and "still InProgress after wait_timeout 1 s" in item["error"], item
    assert item["backup_uuid"] in item["error"]
    assert elapsed < 3
    polls = [r for r in c.requests if r[0] == "GET" and "/tasks/" in r[1] and "/backups/" not in r[1]]
    assert 5 <= len(polls) <= 20  # no busy polling: 1 s at >= 0.05 s growing to 0.2 s


def test_post_500_fails_with_yba_message(yba, s3):
    yba.post_error = (500, "java.lang.RuntimeException: index \"backup_pkey\" contains unexpected zero page")
    items, _c = run(s3, yba, only_if_older_than=0, universes=["billing"])
    assert items[0]["action"] == "failed" and "(HTTP 500)" in items[0]["error"]
    assert "contains unexpected zero page" in items[0]["error"]


def test_unverified_backup_is_reported(yba, s3, monkeypatch):
    items, c = run(s3, yba, only_if_older_than=0, universes=["billing"])
    # objects gone from the bucket afterwards: the same backup no longer verifies
    backup = yba.backups[items[0]["backup_uuid"]]
    loc = backup["backupInfo"]["backupList"][0]["storageLocation"]
    s3["admin"].delete_object(Bucket=bf.BUCKET, Key=loc[len("s3://%s/" % bf.BUCKET):] + "/success")
    runner = bk.Runner(c, params(), settings_for(s3, yba))
    item = dict(items[0], verified=None)
    runner.verify(item, c.get(c.cpath("backups/%s" % item["backup_uuid"])))
    assert item["verified"] is False and "no success marker" in item["verify_problem"]
    rec = bk.record([item], False, 10, True)
    assert rec["ok"] is False and "unverified: billing/ysql@s3-main: no success marker" in rec["summary"]


# ------------------------------------------------------------------------------ a POST whose answer was lost

def retrying_client():
    """A client that re-sends retryable requests (the module's default): the POST must still go once."""
    return _api.YBAClient("https://yba.example", token="tok", customer_uuid=bf.C, retries=3, max_delay=0.01)


def run_with(c, s3, fake, **over):
    p = params(**over)
    items = plan(c, p)
    bk.Runner(c, p, settings_for(s3, fake)).run(items)
    return items


@pytest.mark.parametrize("kind", ["timeout", 504, 502, 500])
def test_post_answer_lost_after_yba_started_it_is_followed_not_sent_again(yba, s3, kind):
    """The POST reached YBA, which started the backup, but the answer was lost (a timeout, a proxy's 5xx page): the
    backup is not sent a second time; the InProgress backup of the universe and type created since is followed."""
    yba.lost_answers = [(kind, True)]
    items = run_with(retrying_client(), s3, yba, only_if_older_than=0, universes=["billing"])
    item = items[0]
    assert len(yba.posts()) == 1 and len(yba.backups) == 1, yba.posts()
    assert item["action"] == "created" and item["attempts"] == 1 and item["verified"] is True, item
    assert item["backup_uuid"] in yba.backups and yba.backups[item["backup_uuid"]]["taskUUID"] == item["task_uuid"]
    assert "no clear answer" in item["reason"] and "followed" in item["reason"]


def test_post_answer_lost_before_yba_started_it_fails_without_a_second_post(yba, s3):
    yba.lost_answers = [(503, False)]
    items = run_with(retrying_client(), s3, yba, only_if_older_than=0, universes=["billing"])
    item = items[0]
    assert len(yba.posts()) == 1 and yba.backups == {}
    assert item["action"] == "failed" and item["task_uuid"] is None and item["backup_uuid"] is None
    assert "no clear answer (POST" in item["error"] and "HTTP 503" in item["error"]
    assert "no InProgress ysql backup of universe billing started since appeared" in item["error"]


def test_post_500_with_yba_error_is_refused_without_looking_for_a_backup(yba, s3):
    yba.post_error = (500, "DataCorrupted: backup_pkey")
    c = retrying_client()
    items = run_with(c, s3, yba, only_if_older_than=0, universes=["billing"])
    assert items[0]["action"] == "failed" and "YBA refused the backup (HTTP 500): DataCorrupted" in items[0]["error"]
    sent = [r[1].endswith("/backups") for r in c.requests]
    assert sum(sent) == 1 and c.requests[sent.index(True):] == [c.requests[-1]]  # once, no lookup: YBA said why


def test_outcome_unknown():
    err = _api.YBAError("x", status=500, body={"success": False, "error": "DataCorrupted"})
    assert bk.outcome_unknown(err) is False
    assert bk.outcome_unknown(_api.YBAError("x", status=500, body="<html>")) is True
    assert bk.outcome_unknown(_api.YBAError("x", status=503, body={"success": False, "error": "down"})) is True
    assert bk.outcome_unknown(_api.YBATimeout("t")) is True
    assert bk.outcome_unknown(_api.YBAUnreachable("reset")) is True
    assert bk.outcome_unknown(_api.YBATLSError("tls", kind="tls_verify")) is False
    assert bk.outcome_unknown(_api.YBAValidationError("bad", status=400)) is False


# ------------------------------------------------------------------------------ an orphaned InProgress row

def test_orphaned_row_of_a_lost_task_is_taken_again_not_waited_for(yba, s3, monkeypatch):
    """GET tasks/{t} says the task does not exist while its row is still InProgress under it (YBA lost the task,
    e.g. a metadata restore; such a row never ends): after the grace the backup is submitted again, not polled until
    wait_timeout, and the item says so."""
    monkeypatch.setattr(bk, "ORPHAN_GRACE", 0.3)
    orders = yba.universes[0]
    yba.orphan.add(orders["universeUUID"])
    t0 = time.monotonic()
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"], wait_timeout=20.0)
    item = items[0]
    assert time.monotonic() - t0 < 10
    assert item["action"] == "created" and item["attempts"] == 2 and item["orphaned"] is True, item
    assert len(yba.posts()) == 2 and item["verified"] is True
    orphan = [b for b in yba.backups.values() if b["state"] == "InProgress"]
    assert len(orphan) == 1 and orphan[0]["backupUUID"] != item["backup_uuid"]
    lost = "backup %s stayed InProgress under task %s, which YBA lost" % (orphan[0]["backupUUID"], orphan[0]["taskUUID"])
    assert lost in item["reason"]


def test_orphaned_row_with_restart_retries_spent_fails_at_once(yba, s3, monkeypatch):
    monkeypatch.setattr(bk, "ORPHAN_GRACE", 0.3)
    orders = yba.universes[0]
    yba.orphan.add(orders["universeUUID"])
    t0 = time.monotonic()
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"], wait_timeout=20.0,
                    restart_retries=0)
    item = items[0]
    assert time.monotonic() - t0 < 10
    assert item["action"] == "failed" and item["orphaned"] is True and item["state"] == "InProgress", item
    assert "after YBA lost its task (task %s is gone from YBA while backup %s is still InProgress" % (
        item["task_uuid"], item["backup_uuid"]) in item["error"]
    assert "restart_retries (0) is spent" in item["error"] and len(yba.posts()) == 1


def test_a_resumed_ybc_backup_whose_row_lags_is_followed_not_taken_again(yba, s3):
    """A platform restart resumes a YBC backup: the old task is gone at once but the row names the new task only
    when the resumed task runs. Within ORPHAN_GRACE that is not an orphan: the resumed backup is followed."""
    orders = yba.universes[0]
    yba.restart_ybc.add(orders["universeUUID"])
    yba.resume_lag = 4
    items, _c = run(s3, yba, only_if_older_than=0, universes=["orders"], backup_types=["ysql"])
    item = items[0]
    assert item["action"] == "created" and item["resumed"] is True and item["orphaned"] is False, item
    assert item["attempts"] == 1 and len(yba.posts()) == 1
