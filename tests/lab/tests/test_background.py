"""The platform's background services in a live lab, as YBA's source has them: the backup garbage collector
(BackupGarbageCollector: expired backups, queued deletions, FailedToDelete, the 10-per-run cap) and the
scheduler (Scheduler + CreateBackup.runScheduledBackup: due schedules, backlog). The GC runs at each
platform start only (lab.json platform.gc_interval_seconds = 0), so a restart is one GC run."""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import test_platform_lab as tpl  # noqa: E402
from labtest import own_lab, set_platform_keys  # noqa: E402
from test_platform_lab import live_config, pclient, reset, s3_keys, sql, wait_for, yba_ctl  # noqa: E402


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    with own_lab("yba-lab-bg-", "healthy") as (d, _own):
        set_platform_keys(d, **tpl.BACKGROUND_KEYS)
        yield d


def wait_stable(what: str, check: Any, quiet: float = 2.0, timeout: float = 30.0) -> Any:
    """check()'s value once it is truthy and has not changed for ``quiet`` seconds (a GC run is over)."""
    value = wait_for(what, check, timeout)
    since = time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = check()
        if now != value:
            value, since = now, time.monotonic()
    return value


def states(state: dict[str, Any], backups: list[str]) -> dict[str, str]:
    return dict(sql(state, "SELECT backup_uuid::text, state FROM backup WHERE backup_uuid = ANY(%s::uuid[])",
                    (backups,)))


def expired_delete_tasks(state: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sql(state, "SELECT ct.target_uuid::text, t.task_state FROM customer_task ct JOIN task_info t "
                      "ON t.uuid = ct.task_uuid WHERE ct.custom_type_name = 'Expired Backup Deletion'")


def start_backup(api: pclient.Client, cfg: str, uni: str) -> str:
    """One backup of uni; a 409 (YBA locks the universe while one of its backups runs) is retried, as a client must."""
    deadline = time.monotonic() + 120
    while True:
        status, body = api.call("POST", "/api/v1/customers/{c}/backups", {
            "storageConfigUUID": cfg, "universeUUID": uni, "backupType": "PGSQL_TABLE_TYPE",
            "keyspaceTableList": [{"keyspace": "yugabyte"}], "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS"})
        if status != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body
    return str(body["taskUUID"])


def test_gc_fails_expired_backups_on_dead_storage_and_never_retries(labdir: str) -> None:
    """Incident: the storage config points at the dead endpoint. Each GC run moves 10 expired backups to
    FailedToDelete at once (no delete task), and never picks a FailedToDelete backup up again."""
    state = reset(labdir, "incident", repair_index=True)
    yba_ctl(state, "restart", "yb-platform")  # one GC run on the repaired index
    failed_sql = "SELECT backup_uuid::text FROM backup WHERE state = 'FailedToDelete' ORDER BY 1"
    first = {r[0] for r in wait_stable("a GC run", lambda: sql(state, failed_sql))}
    assert len(first) >= 10
    yba_ctl(state, "restart", "yb-platform")
    second = {r[0] for r in wait_stable("the next GC run", lambda: len(sql(state, failed_sql)) > len(first)
                                        and sql(state, failed_sql))}
    assert len(second) == len(first) + 10 and first < second  # 10 per run; the earlier ones stay FailedToDelete
    assert expired_delete_tasks(state) == []  # invalid storage: no DeleteBackupYb task, ever
    rows = sql(state, "SELECT count(*) FROM backup WHERE state = 'FailedToDelete' AND expiry < now()")
    assert rows[0][0] == len(second)
    # metadb_info's expired count (Completed/Failed/Stopped/Skipped) no longer sees them.
    assert sql(state, "SELECT count(*) FROM backup WHERE backup_uuid = ANY(%s::uuid[]) AND state IN "
                      "('Completed', 'Failed', 'Stopped', 'Skipped')", (list(second),))[0][0] == 0


def test_gc_deletes_expired_backups_at_most_10_per_run(labdir: str) -> None:
    """Live storage: a run submits "Expired Backup Deletion" tasks for at most 10 expired backups per customer
    (they only queue them); the next run deletes the queued ones from S3 and the DB."""
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = live_config(state, api)
    unis = sorted(state["platform"]["universes"].values())
    with ThreadPoolExecutor(max_workers=4) as pool:
        tasks = list(pool.map(lambda i: start_backup(api, cfg, unis[i % len(unis)]), range(12)))
    assert [api.wait_task(t)["status"] for t in tasks] == ["Success"] * 12
    rows = sql(state, "SELECT backup_uuid::text, backup_info FROM backup WHERE task_uuid = ANY(%s::uuid[])", (tasks,))
    backups = [r[0] for r in rows]
    prefixes = {r[0]: tpl.as_json(r[1])["storageLocation"].split(f"s3://{state['s3']['bucket']}/", 1)[1] for r in rows}
    assert all(len(s3_keys(state, p)) == 3 for p in prefixes.values())
    sql(state, "UPDATE backup SET expiry = now() - interval '1 hour' WHERE backup_uuid = ANY(%s::uuid[])", (backups,))
    yba_ctl(state, "restart", "yb-platform")  # run 1
    done = wait_for("10 expired-backup delete tasks", lambda: [
        t for t in expired_delete_tasks(state) if t[1] == "Success"] if len(expired_delete_tasks(state)) >= 10 and all(
        t[1] == "Success" for t in expired_delete_tasks(state)) else None)
    assert len(done) == 10
    got = states(state, backups)
    queued = sorted(b for b, st in got.items() if st == "QueuedForDeletion")
    assert len(queued) == 10 and sorted(t[0] for t in done) == queued
    assert sorted(st for st in got.values() if st != "QueuedForDeletion") == ["Completed", "Completed"]
    assert all(len(s3_keys(state, prefixes[b])) == 3 for b in backups)  # queued, not deleted yet
    yba_ctl(state, "restart", "yb-platform")  # run 2: deletes the queued ten, queues the last two
    wait_for("the queued backups to be deleted", lambda: not set(queued) & set(states(state, backups)))
    assert all(s3_keys(state, prefixes[b]) == [] for b in queued)
    rest = wait_for("the last two to be queued", lambda: states(state, backups) if sorted(
        states(state, backups).values()) == ["QueuedForDeletion"] * 2 else None)
    assert all(len(s3_keys(state, prefixes[b])) == 3 for b in rest)


def test_api_delete_queues_then_gc_deletes_or_fails(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = live_config(state, api)
    uni = sorted(state["platform"]["universes"].values())[0]
    t_ok, t_bad = start_backup(api, cfg, uni), start_backup(api, cfg, uni)
    assert api.wait_task(t_ok)["status"] == api.wait_task(t_bad)["status"] == "Success"
    b_ok, b_bad = (sql(state, "SELECT backup_uuid::text FROM backup WHERE task_uuid = %s", (t,))[0][0]
                   for t in (t_ok, t_bad))
    # In-progress states, Completed incrementals and unknown backups are skipped without an error; the others
    # get one DeleteBackupYb task each.
    for change in ("state = 'In Progress'", "base_backup_uuid = '%s'" % b_ok):
        sql(state, f"UPDATE backup SET {change} WHERE backup_uuid = %s", (b_bad,))
        status, body = api.call("POST", "/api/v1/customers/{c}/backups/delete",
                                {"deleteBackupInfos": [{"backupUUID": b_bad}, {"backupUUID": str(uuid.uuid4())}]})
        assert status == 200 and body == {"taskUUID": [], "ybpTaskList": []}
        sql(state, "UPDATE backup SET state = 'Completed', base_backup_uuid = backup_uuid WHERE backup_uuid = %s",
            (b_bad,))
    status, body = api.call("POST", "/api/v1/customers/{c}/backups/delete",
                            {"deleteBackupInfos": [{"backupUUID": b_ok}, {"backupUUID": b_bad}]})
    assert status == 200 and [t["resourceUUID"] for t in body["ybpTaskList"]] == [b_ok, b_bad]
    assert [api.wait_task(t)["status"] for t in body["taskUUID"]] == ["Success", "Success"]
    assert states(state, [b_ok, b_bad]) == {b_ok: "QueuedForDeletion", b_bad: "QueuedForDeletion"}
    # b_bad's config gets its own copy pointing at the dead endpoint before the GC runs.
    dead_cfg = tpl.insert_config(state, tpl.s3_data(state, state["s3"]["dead_endpoint"], prefix="lab-live"), "s3-dead")
    info = tpl.as_json(sql(state, "SELECT backup_info FROM backup WHERE backup_uuid = %s", (b_bad,))[0][0])
    info["storageConfigUUID"] = dead_cfg
    sql(state, "UPDATE backup SET backup_info = %s, storage_config_uuid = %s WHERE backup_uuid = %s",
        (json.dumps(info), dead_cfg, b_bad))
    yba_ctl(state, "restart", "yb-platform")
    wait_for("the GC run", lambda: states(state, [b_ok, b_bad]) == {b_bad: "FailedToDelete"})
    _status, metrics = pclient.Client(state, token=None).call("GET", "/api/v1/prometheus_metrics")
    assert "ybp_delete_backup_failure 1.0" in metrics


def _schedule(state: dict[str, Any], uni: str, cfg: str, name: str) -> str:
    s_uuid = str(uuid.uuid4())
    params = {"storageConfigUUID": cfg, "universeUUID": uni, "customerUUID": state["platform"]["customer_uuid"],
              "backupType": "PGSQL_TABLE_TYPE", "keyspaceTableList": [{"keyspace": "yugabyte"}],
              "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS", "backupCategory": "YB_CONTROLLER",
              "minNumBackupsToRetain": 3}
    sql(state, "INSERT INTO schedule (schedule_uuid, customer_uuid, owner_uuid, schedule_name, task_type, task_params, "
               "frequency, frequency_time_unit, status, next_schedule_task_time) VALUES (%s, %s, %s, %s, 'CreateBackup', "
               "%s, 3600000, 'Hours', 'Active', now() - interval '1 minute')",
        (s_uuid, state["platform"]["customer_uuid"], uni, name, json.dumps(params)))
    return s_uuid


def test_scheduler_runs_a_due_schedule(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = live_config(state, api)
    uni = sorted(state["platform"]["universes"].values())[0]
    s_uuid = _schedule(state, uni, cfg, "lab-hourly")
    row = wait_for("the scheduled backup", lambda: sql(
        state, "SELECT backup_uuid::text, task_uuid::text, schedule_name FROM backup WHERE schedule_uuid = %s",
        (s_uuid,)))
    assert len(row) == 1 and row[0][2] == "lab-hourly"
    assert api.wait_task(row[0][1])["status"] == "Success"
    assert api.call("GET", f"/api/v1/customers/{{c}}/backups/{row[0][0]}")[1]["state"] == "Completed"
    nxt, running, backlog = sql(state, "SELECT next_schedule_task_time > now() + interval '50 minutes', running_state, "
                                       "backlog_status FROM schedule WHERE schedule_uuid = %s", (s_uuid,))[0]
    assert nxt and running is False and backlog is False
    time.sleep(2)  # more ticks: not due any more, no second backup
    assert sql(state, "SELECT count(*) FROM backup WHERE schedule_uuid = %s", (s_uuid,))[0][0] == 1


def test_scheduler_sets_backlog_while_a_backup_runs(labdir: str) -> None:
    """Incident: universe 0 has a live backup (Running task). A due schedule of it only gets backlog_status;
    once that backup's task is over, the backlog runs (and its failure counts against the schedule)."""
    state = reset(labdir, "incident", repair_index=True)
    unis = state["platform"]["universes"]
    uni = unis["northgate-payments"]
    s_uuid = _schedule(state, uni, state["platform"]["storage_config_uuid"], "lab-backlog")
    wait_for("the backlog", lambda: sql(state, "SELECT backlog_status FROM schedule WHERE schedule_uuid = %s",
                                        (s_uuid,))[0][0])
    assert sql(state, "SELECT count(*) FROM backup WHERE schedule_uuid = %s", (s_uuid,))[0][0] == 0
    assert sql(state, "SELECT next_schedule_task_time > now() FROM schedule WHERE schedule_uuid = %s", (s_uuid,))[0][0]
    from ybalab import seed

    sql(state, "UPDATE task_info SET task_state = 'Success' WHERE uuid = %s", (seed.LIVE_TASK_UUID,))
    row = wait_for("the backlogged backup", lambda: sql(
        state, "SELECT task_uuid::text FROM backup WHERE schedule_uuid = %s", (s_uuid,)))
    assert pclient.Client(state).wait_task(row[0][0])["status"] == "Failure"  # full disk / dead S3
    assert sql(state, "SELECT backlog_status, failure_count, status FROM schedule WHERE schedule_uuid = %s",
               (s_uuid,))[0] == (False, 1, "Active")  # counted, never auto-paused
