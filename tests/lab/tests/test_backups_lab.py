"""Backups in a live lab as issue 11 needs them: the category YBA decides, the V2 object layout with YBC's success
marker written last, a duration that follows the size and run-time knobs, a per-universe S3 write fault (also one
that starts mid-backup), fetchBackupsByTaskUUID, the 2024.2 pause_resume route, a resumed schedule that produces a
Completed backup, and a platform restart during running backups."""
from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Iterator

import pytest

from labtest import load, own_lab, set_platform_keys, ybalab  # noqa: E402  (puts the lab on sys.path)

from ybalab import hostns  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402
from ybalab.platform import fidelity, lifecycle  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")

C = "/api/v1/customers/{c}"
HEX32 = "[0-9a-f]{32}"
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    with own_lab("yba-lab-bak-", "healthy") as (d, _own):
        # the scheduler ticks every second (read at each platform start, so at every reset)
        set_platform_keys(d, scheduler_interval_seconds=1, gc_interval_seconds=0)
        yield d


def reset(d: str, scenario: str = "healthy") -> dict[str, Any]:
    ybalab(d, "reset", scenario)
    return load(d)


def sql(state: dict[str, Any], query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    pg = state["postgres"]
    with psycopg.connect(host="127.0.0.1", port=pg["port"], user="postgres", dbname="yugaware", autocommit=True) as c:
        cur = c.execute(query, args)
        return cur.fetchall() if cur.description else []


def wait_for(what: str, check: Any, timeout: float = 30.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def keys(state: dict[str, Any], location: str) -> list[str]:
    """Object keys under a backup location (s3://bucket/prefix), relative to it."""
    import boto3

    s3 = state["s3"]
    bucket, prefix = location[len("s3://"):].split("/", 1)
    cli = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                       aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
    listed = cli.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/").get("Contents", [])
    return sorted(o["Key"][len(prefix) + 1:] for o in listed)


def universe(state: dict[str, Any], i: int) -> str:
    return state["platform"]["universes"][sorted(state["platform"]["universes"])[i]]


def start_backup(api: pclient.Client, state: dict[str, Any], uni: str, **extra: Any) -> str:
    body = {"storageConfigUUID": state["platform"]["storage_config_uuid"], "universeUUID": uni,
            "backupType": "PGSQL_TABLE_TYPE", "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS", **extra}
    status, res = api.call("POST", C + "/backups", body)
    assert status == 200, res
    return res["taskUUID"]


def by_task(api: pclient.Client, uni: str, task: str) -> list[dict[str, Any]]:
    status, res = api.call("GET", f"{C}/universes/{uni}/backups/tasks/{task}")
    assert status == 200, res
    return res


def locations(backup: dict[str, Any]) -> list[str]:
    return [b["storageLocation"] for b in backup["backupInfo"]["backupList"]]


def test_category_and_v2_layout_with_the_success_marker_last(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    base = f"s3://{state['s3']['bucket']}/northgate"
    uni, other = universe(state, 0), universe(state, 1)
    ybalab(labdir, "backup-speed", "--seconds", "3")
    task = start_backup(api, state, uni)  # backupCategory null on a YBC universe: YB_CONTROLLER
    running = by_task(api, uni, task)
    assert [b["state"] for b in running] == ["InProgress"] and running[0]["category"] == "YB_CONTROLLER"
    loc = locations(running[0])[0]
    b_uuid = running[0]["backupUUID"]
    assert re.fullmatch(rf"{base}/univ-{uni}/ybc_backup-{b_uuid.replace('-', '')}/full/{TS}/keyspace-yugabyte_{HEX32}",
                        loc), loc
    # data objects reach the bucket before the marker: while the backup runs there is data and no success file
    partial = wait_for("the first data object", lambda: keys(state, loc))
    assert "success" not in partial and all(k.startswith("tablet-") for k in partial)
    assert api.wait_task(task)["status"] == "Success"
    done = keys(state, loc)
    assert "success" in done and len([k for k in done if k.startswith("tablet-")]) >= 1
    marker = json.loads(_get(state, f"{loc}/success"))
    assert marker["backupUUID"] == b_uuid and marker["keyspace"] == "yugabyte"
    # the paged list names the same location and the type/category
    status, page = api.call("POST", C + "/backups/page", {
        "filter": {"universeUUIDList": [uni], "states": ["Completed"]}, "sortBy": "createTime", "direction": "DESC",
        "offset": 0, "limit": 1, "needTotalCount": False})
    assert status == 200
    resp = page["entities"][0]
    assert resp["commonBackupInfo"]["backupUUID"] == b_uuid
    assert [r["defaultLocation"] for r in resp["commonBackupInfo"]["responseList"]] == [loc]
    assert (resp["backupType"], resp["category"]) == ("PGSQL_TABLE_TYPE", "YB_CONTROLLER")
    # the size is what the location holds in the bucket
    assert resp["commonBackupInfo"]["totalBackupSizeInBytes"] == _size(state, loc) > 0
    ybalab(labdir, "backup-speed", "--reset")
    # YCQL: its own backup, YBC too; REDIS is never YBC; an explicit YB_BACKUP_SCRIPT is a script backup
    ycql = by_task(api, uni, t := start_backup(api, state, uni, backupType="YQL_TABLE_TYPE"))[0]
    assert api.wait_task(t)["status"] == "Success" and ycql["category"] == "YB_CONTROLLER"
    assert re.search(rf"/ybc_backup-{HEX32}/full/{TS}/keyspace-northgate_{HEX32}$", locations(ycql)[0])
    for extra, dump in (({"backupType": "REDIS_TABLE_TYPE"}, False),
                        ({"backupCategory": "YB_BACKUP_SCRIPT", "keyspaceTableList": [{"keyspace": "yugabyte"}]}, True)):
        t = start_backup(api, state, other, **extra)
        assert api.wait_task(t)["status"] == "Success"
        script = by_task(api, other, t)[0]
        assert script["category"] == "YB_BACKUP_SCRIPT" and script["state"] == "Completed"
        sloc = locations(script)[0]
        assert re.fullmatch(rf"{base}/univ-{other}/backup-{script['backupUUID'].replace('-', '')}/full/{TS}/"
                            rf"keyspace-[a-z_]+_{HEX32}", sloc), sloc
        got = keys(state, sloc)
        assert "SnapshotInfoPB" in got and "success" not in got and ("YSQLDump" in got) == dump, got
    # a universe without YBC: null category -> yb_backup.py
    details = json.loads(sql(state, "SELECT universe_details_json FROM universe WHERE universe_uuid = %s", (other,))[0][0])
    details["ybcInstalled"] = False
    sql(state, "UPDATE universe SET universe_details_json = %s WHERE universe_uuid = %s", (json.dumps(details), other))
    t = start_backup(api, state, other)
    assert api.wait_task(t)["status"] == "Success" and by_task(api, other, t)[0]["category"] == "YB_BACKUP_SCRIPT"
    assert by_task(api, other, "00000000-0000-0000-0000-000000000000") == []


def _get(state: dict[str, Any], location: str) -> bytes:
    import boto3

    s3 = state["s3"]
    bucket, key = location[len("s3://"):].split("/", 1)
    cli = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                       aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
    return cli.get_object(Bucket=bucket, Key=key)["Body"].read()


def _size(state: dict[str, Any], location: str) -> int:
    import boto3

    s3 = state["s3"]
    bucket, prefix = location[len("s3://"):].split("/", 1)
    cli = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                       aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
    return sum(o["Size"] for o in cli.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", []))


def test_duration_follows_the_staged_size_and_the_knobs(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    uni = universe(state, 2)

    def timed() -> float:
        t0 = time.monotonic()
        assert api.wait_task(start_backup(api, state, uni), timeout=60)["status"] == "Success"
        return time.monotonic() - t0

    assert timed() < 2.5  # default: 8 MiB at 16 MiB/s, ~0.5 s
    ybalab(labdir, "backup-speed", "--stage-bytes", str(16 << 20), "--bytes-per-second", str(8 << 20))
    assert 2.0 <= timed() < 5.0  # twice the data at half the speed: 2 s
    ybalab(labdir, "backup-speed", "--seconds", "1", "--stage-bytes", str(1 << 20))
    assert 1.1 <= timed() < 3.5  # 1 s + 1 MiB / 8 MiB/s
    out = json.loads(ybalab(labdir, "backup-speed", "--reset").stdout)
    assert out["knobs"] == {"backup_seconds": 0.0, "backup_bytes_per_second": float(16 << 20),
                            "backup_stage_bytes": 8 << 20}


def test_deny_writes_fails_only_that_universe_with_the_s3_cause(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    names = sorted(state["platform"]["universes"])
    denied, fine = universe(state, 0), universe(state, 1)
    out = json.loads(ybalab(labdir, "storage", "deny-writes", names[0]).stdout)
    assert out["deny_writes"] == {names[0]: denied}
    # POST /backups validates the storage with its canary (<prefix>/<uuid>.txt): it still passes
    bad, good = start_backup(api, state, denied), start_backup(api, state, fine)
    assert api.wait_task(good)["status"] == "Success"
    assert api.wait_task(bad)["status"] == "Failure"
    assert by_task(api, denied, bad)[0]["state"] == "Failed"
    _status, failed = api.call("GET", f"{C}/tasks/{bad}/failed_subtasks")
    sub = failed["failedSubTasks"][0]
    assert sub["subTaskType"] == "BackupTableYbc" and sub["subTaskGroupType"] == "CreatingTableBackup"
    assert "Access Denied" in sub["errorString"] and "Error Code: AccessDenied" in sub["errorString"]
    assert load(labdir)["storage_deny_writes"] == {names[0]: denied}
    ybalab(labdir, "storage", "healthy")
    assert "storage_deny_writes" not in load(labdir)
    assert api.wait_task(start_backup(api, state, denied))["status"] == "Success"


def test_a_storage_fault_mid_backup_fails_the_running_backup(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    name = sorted(state["platform"]["universes"])[3]
    uni = universe(state, 3)
    ybalab(labdir, "backup-speed", "--seconds", "4")
    task = start_backup(api, state, uni)
    loc = locations(by_task(api, uni, task)[0])[0]
    wait_for("the first data object", lambda: keys(state, loc))
    ybalab(labdir, "storage", "deny-writes", name)
    assert api.wait_task(task)["status"] == "Failure"
    failed = api.call("GET", f"{C}/tasks/{task}/failed_subtasks")[1]["failedSubTasks"]
    assert "AccessDenied" in failed[0]["errorString"]
    assert "success" not in keys(state, loc)  # no marker: the location is recognisably incomplete


def test_pause_resume_is_served_from_2024_2_as_toggle_schedule(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    status, page = api.call("POST", C + "/schedules/page", {
        "filter": {}, "sortBy": "scheduleName", "direction": "ASC", "offset": 0, "limit": 10, "needTotalCount": True})
    assert status == 200, page
    s = page["entities"][0]
    uni = s["backupInfo"]["universeUUID"]
    assert {"universeUUID", "backupType", "storageConfigUUID", "keyspaceList", "parallelism"} <= set(s["backupInfo"])
    assert s["frequency"] > 0 and s["frequencyTimeUnit"] and "failureCount" in s and "backlogStatus" in s
    path = f"{C}/universes/{uni}/schedules/{s['scheduleUUID']}/pause_resume"
    status, err = api.call("PUT", path, {"status": "Stopped"})
    assert status == 404 and err["error"].startswith("No route")  # 2.18 has no such route
    t0 = time.monotonic()
    out = json.loads(ybalab(labdir, "platform-version", "2024.2.2.0-b70").stdout)
    assert out == {"version": "2024.2.2.0-b70"} and time.monotonic() - t0 < 30
    state = load(labdir)
    assert state["platform"]["version"] == "2024.2.2.0-b70"
    api = pclient.Client(state)
    assert api.call("GET", "/api/v1/app_version")[1] == {"version": "2024.2.2.0-b70"}
    problems: list[str] = []

    def toggle(body: Any, expect: int, p: str = path) -> Any:
        status, res = api.call("PUT", p, body)
        assert status == expect, (body, status, res)
        problems.extend(fidelity.check_exchange("PUT", p.replace("{c}", api.customer), body, status, res)[0])
        return res

    assert toggle({"status": "Active"}, 400)["error"] == "Schedule is already in Active state."
    assert toggle({"status": "Stopped"}, 200) == {"success": True}
    assert api.call("GET", f"{C}/schedules/{s['scheduleUUID']}")[1]["status"] == "Stopped"
    toggle({"status": "Active", "runImmediateBackupOnResume": False}, 200)

    def new_backups() -> list[tuple[Any, ...]]:
        return sql(state, "SELECT task_uuid::text FROM backup WHERE schedule_uuid = %s AND create_time > now() - "
                          "interval '1 minute'", (s["scheduleUUID"],))

    time.sleep(1.5)  # next time = the last run + frequency, hours away: no backup now
    assert new_backups() == []
    toggle({"status": "Stopped"}, 200)
    toggle({"status": "Active", "runImmediateBackupOnResume": True}, 200)  # backlogStatus: the next tick runs one
    row = wait_for("the immediate backup on resume", new_backups, timeout=10)
    assert api.wait_task(row[0][0])["status"] == "Success"
    other = universe(state, 3) if universe(state, 3) != uni else universe(state, 2)
    assert toggle({"status": "Stopped"}, 400, path.replace(uni, other))["error"] == "Schedule not owned by Universe."
    # a Paused schedule (failureCount >= 3) cannot be resumed here: only Stopped <-> Active
    sql(state, "UPDATE schedule SET status = 'Paused', failure_count = 3 WHERE schedule_uuid = %s",
        (s["scheduleUUID"],))
    assert toggle({"status": "Active"}, 400)["error"] == "Invalid state transition from Paused to Active"
    assert problems == []
    reset(labdir)  # back to 2.18
    assert pclient.Client(load(labdir)).call("GET", "/api/v1/app_version")[1] == {"version": "2.18.1.0-b84"}


def test_a_resumed_schedule_produces_a_completed_backup_within_a_tick(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    uni = universe(state, 1)
    s_uuid, freq = sql(state, "SELECT schedule_uuid::text, frequency FROM schedule WHERE owner_uuid = %s", (uni,))[0]
    sql(state, "UPDATE schedule SET status = 'Paused', failure_count = 3, next_schedule_task_time = now() - "
               "interval '5 hours' WHERE schedule_uuid = %s", (s_uuid,))
    time.sleep(1.5)  # ticks pass: a Paused schedule never runs
    assert sql(state, "SELECT count(*) FROM backup WHERE schedule_uuid = %s AND create_time > now() - interval "
                      "'1 minute'", (s_uuid,))[0][0] == 0
    status, body = api.call("PUT", f"{C}/schedules/{s_uuid}", {"status": "Active", "frequency": freq,
                                                               "frequencyTimeUnit": "HOURS"})
    assert status == 200 and body["status"] == "Active" and body["failureCount"] == 3  # not reset
    t0 = time.monotonic()
    row = wait_for("the resumed schedule's backup", lambda: sql(
        state, "SELECT backup_uuid::text, task_uuid::text FROM backup WHERE schedule_uuid = %s AND create_time > "
               "now() - interval '1 minute'", (s_uuid,)), timeout=10)
    assert time.monotonic() - t0 < 3  # within a tick (1 s here; YBA: 2 min)
    assert api.wait_task(row[0][1])["status"] == "Success"
    b = api.call("GET", f"{C}/backups/{row[0][0]}")[1]
    assert b["state"] == "Completed" and b["scheduleUUID"] == s_uuid and b["category"] == "YB_CONTROLLER"
    assert "success" in keys(state, locations(b)[0])
    assert sql(state, "SELECT next_schedule_task_time > now() FROM schedule WHERE schedule_uuid = %s",
               (s_uuid,))[0][0]


def test_restart_resumes_a_ybc_backup_and_fails_a_script_one(labdir: str) -> None:
    state = reset(labdir)
    api = pclient.Client(state)
    ybc_uni, script_uni = universe(state, 0), universe(state, 2)
    ybalab(labdir, "backup-speed", "--seconds", "5")
    ybc_task = start_backup(api, state, ybc_uni)
    script_task = start_backup(api, state, script_uni, backupCategory="YB_BACKUP_SCRIPT")
    ybc = by_task(api, ybc_uni, ybc_task)[0]
    wait_for("both running", lambda: all(api.call("GET", f"{C}/tasks/{t}")[1]["status"] == "Running"
                                         for t in (ybc_task, script_task)))
    t0 = time.monotonic()
    hostns.run(state, ["yba-ctl", "restart", "yb-platform"], timeout=120)
    lifecycle.wait_https(state)
    restart_seconds = time.monotonic() - t0
    assert restart_seconds < 20, restart_seconds
    # the script backup ended with its task: Failed, "Platform restarted."
    assert api.call("GET", f"{C}/tasks/{script_task}")[1]["status"] == "Failure"
    assert by_task(api, script_uni, script_task)[0]["state"] == "Failed"
    failed = api.call("GET", f"{C}/tasks/{script_task}/failed_subtasks")[1]["failedSubTasks"]
    assert failed[0]["errorString"] == "Platform restarted."
    # the YBC backup resumed under a new task that customer_task points at, and completes
    new_task = sql(state, "SELECT task_uuid::text FROM backup WHERE backup_uuid = %s", (ybc["backupUUID"],))[0][0]
    assert new_task != ybc_task
    assert api.wait_task(new_task, timeout=60)["status"] == "Success"
    done = by_task(api, ybc_uni, new_task)
    assert [(b["backupUUID"], b["state"]) for b in done] == [(ybc["backupUUID"], "Completed")]
    assert locations(done[0]) == locations(ybc) and "success" in keys(state, locations(ybc)[0])


def test_add_universes_for_benchmarks(labdir: str) -> None:
    reset(labdir)
    out = json.loads(ybalab(labdir, "add-universes", "12").stdout)
    assert len(out["added"]) == 12 and out["universes"] == 16
    state = load(labdir)
    api = pclient.Client(state)
    assert len(api.call("GET", C + "/universes")[1]) == 16
    uni = state["platform"]["universes"]["bench-011"]
    t = start_backup(api, state, uni)
    assert api.wait_task(t)["status"] == "Success" and by_task(api, uni, t)[0]["category"] == "YB_CONTROLLER"
    assert len(reset(labdir)["platform"]["universes"]) == 4
