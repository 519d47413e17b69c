"""The simulated API follows YBA's source where it differs from swagger (shared/yba/SOURCE-AUDIT.md §1 #4, #5, #10,
§2.2): ScheduleResp on schedules/page, editBackupSchedule's checks, createBackupTask's checks and synchronous
storage validation (a canary object, SDK-like timeouts, refusing and black-holed endpoints), YBPError and
YBPStructuredError bodies, buildTaskStatus, failed_subtasks, config delete and backup stop.

Uses the lab at $YBA_LAB_DIR when one is up there (reset per test), else a lab of its own in /tmp."""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any, Iterator

import pytest

from labtest import load, own_lab, set_platform_keys, ybalab  # noqa: E402  (puts the lab on sys.path)
from test_platform_lab import insert_config, s3_data  # noqa: E402

from ybalab import blackhole, hostns  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402
from ybalab.platform import lifecycle, storage_check  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")
C = "/api/v1/customers/{c}"


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    with own_lab("yba-lab-src-", "healthy", reuse=True) as (d, own):
        yield d
        if not own:
            set_platform_keys(d, s3_timeouts=None)


def reset(d: str, scenario: str = "healthy") -> dict[str, Any]:
    ybalab(d, "reset", scenario)
    return load(d)


def restart_platform(state: dict[str, Any]) -> None:
    hostns.run(state, ["yba-ctl", "restart", "yb-platform"], timeout=120)  # on the lab host
    lifecycle.wait_https(state)


def sql(state: dict[str, Any], query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    pg = state["postgres"]
    with psycopg.connect(host="127.0.0.1", port=pg["port"], user="postgres", dbname="yugaware", autocommit=True) as c:
        cur = c.execute(query, args)
        return cur.fetchall() if cur.description else []


def universes(state: dict[str, Any]) -> list[str]:
    return sorted(state["platform"]["universes"].values())


# ----------------------------------------------------------------------------------------------- schedules

def test_schedules_page_answers_schedule_resp_and_get_answers_the_entity(labdir: str) -> None:
    state = reset(labdir, "incident")
    api = pclient.Client(state)
    status, page = api.call("POST", C + "/schedules/page", {
        "filter": {}, "sortBy": "scheduleName", "direction": "ASC", "offset": 0, "limit": 50, "needTotalCount": True})
    assert status == 200 and page["totalCount"] == len(page["entities"]) == 4
    by_uni = dict(state["platform"]["universes"])
    for s in page["entities"]:
        # Schedule.toScheduleResp: no ownerUUID, no taskParams (CreateBackup), the universe under backupInfo.
        assert "ownerUUID" not in s and "taskParams" not in s and "nextScheduleTaskTime" not in s
        assert s["backupInfo"]["universeUUID"] == by_uni[s["scheduleName"].replace("every-6h-", "")]
        assert s["backupInfo"]["storageConfigUUID"] == state["platform"]["storage_config_uuid"]
        assert s["status"] == "Paused" and "nextExpectedTask" not in s  # null unless Active
        status, full = api.call("GET", f"{C}/schedules/{s['scheduleUUID']}")
        assert status == 200 and full["ownerUUID"] == s["backupInfo"]["universeUUID"]
        assert full["taskParams"]["minNumBackupsToRetain"] == 3
    # An Active schedule carries its next expected run (a java.util.Date: epoch milliseconds in 2.18).
    s = page["entities"][0]
    sql(state, "UPDATE schedule SET status = 'Active', next_schedule_task_time = now() + interval '1 hour' "
               "WHERE schedule_uuid = %s", (s["scheduleUUID"],))
    status, page = api.call("POST", C + "/schedules/page", {
        "filter": {"status": ["Active"]}, "sortBy": "scheduleName", "direction": "ASC", "offset": 0, "limit": 5,
        "needTotalCount": True})
    nxt = page["entities"][0]["nextExpectedTask"]
    assert isinstance(nxt, int) and 3000 < nxt / 1000 - time.time() < 4000


def test_schedule_edit_follows_edit_backup_schedule(labdir: str) -> None:
    state = reset(labdir, "incident")
    api = pclient.Client(state)
    status, page = api.call("POST", C + "/schedules/page", {
        "filter": {"status": ["Paused"]}, "sortBy": "scheduleName", "direction": "ASC", "offset": 0, "limit": 1,
        "needTotalCount": True})
    s = page["entities"][0]
    path = f"{C}/schedules/{s['scheduleUUID']}"

    def put(body: dict[str, Any]) -> tuple[int, Any]:
        return api.call("PUT", path, body)

    # ScheduleController.editBackupSchedule, in order (status defaults to Active).
    assert put({"status": "Paused", "frequency": 1}) == (400, {
        "success": False, "httpMethod": "PUT", "requestUri": path.replace("{c}", api.customer),
        "error": "State paused is an internal state and cannot be specified by the user"})
    for body in ({}, {"status": "Active"}):
        status, err = put(body)
        assert (status, err["error"]) == (400, "Both schedule frequency and cron expression cannot be null")
    status, err = put({"frequency": 7200000, "frequencyTimeUnit": "HOURS", "cronExpression": "0 */6 * * *"})
    assert (status, err["error"]) == (400, "Both schedule frequency and cron expression cannot be provided")
    sql(state, "UPDATE schedule SET running_state = true WHERE schedule_uuid = %s", (s["scheduleUUID"],))
    status, err = put({"frequency": 7200000, "frequencyTimeUnit": "HOURS"})
    assert (status, err["error"]) == (409, "Cannot edit schedule as it is running.")
    sql(state, "UPDATE schedule SET running_state = false WHERE schedule_uuid = %s", (s["scheduleUUID"],))
    status, err = put({"frequency": 7200000})
    assert (status, err["error"]) == (400, "Please provide time unit for frequency")
    status, err = put({"frequency": 1800000, "frequencyTimeUnit": "MINUTES"})
    assert (status, err["error"]) == (400, "Minimum schedule duration is 1 hour")
    assert api.call("GET", path)[1]["status"] == "Paused"  # nothing above changed it
    # The body the collection's manual fix gives: Active with the schedule's own frequency and unit.
    status, body = put({"status": "Active", "frequency": s["frequency"], "frequencyTimeUnit": s["frequencyTimeUnit"]})
    assert status == 200 and body["status"] == "Active"
    assert body["failureCount"] == 3  # resetSchedule does not reset the failure count
    assert body["frequency"] == s["frequency"] and body["frequencyTimeUnit"] == s["frequencyTimeUnit"]
    status, body = put({"status": "Stopped"})
    assert status == 200 and body["status"] == "Stopped"
    status, body = put({"status": "Active", "cronExpression": "0 */6 * * *"})
    assert status == 200 and body["status"] == "Active" and body["cronExpression"] == "0 */6 * * *"


# ----------------------------------------------------------------------------------------------- backups

def test_create_backup_checks_in_create_backup_task_order(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = state["platform"]["storage_config_uuid"]
    uni = universes(state)[0]
    path = C + "/backups"

    def post(body: dict[str, Any]) -> tuple[int, Any]:
        return api.call("POST", path, dict({"universeUUID": uni}, **body))

    # takeBackups first: it wins over every later problem of the same body.
    assert api.call("PUT", f"{C}/universes/{uni}/update_backup_state?markActive=false")[0] == 200
    status, err = post({"parallelDBBackups": 0, "timeBeforeDelete": 5})
    assert (status, err["error"]) == (400, "Taking backups on the universe is disabled")
    assert api.call("PUT", f"{C}/universes/{uni}/update_backup_state?markActive=true")[0] == 200
    status, err = post({"parallelDBBackups": 0, "timeBeforeDelete": 5})
    assert (status, err["error"]) == (400, "invalid parallelDBBackups value provided")
    status, err = post({"timeBeforeDelete": 86400000, "storageConfigUUID": cfg})
    assert (status, err["error"]) == (400, "Please provide time unit for backup expiry")
    status, err = post({"timeBeforeDelete": 0})
    assert (status, err["error"]) == (400, "Missing StorageConfig UUID")
    queued = insert_config(state, s3_data(state), "s3-queued", status="QueuedForDeletion")
    status, err = post({"storageConfigUUID": queued})
    assert (status, err["error"]) == (400, "Cannot create backup as config is queued for deletion.")
    # Accepted: YBPTask with a null resourceUUID; while it runs, the universe is locked (409).
    status, body = post({"storageConfigUUID": cfg, "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS"})
    assert status == 200 and body["resourceUUID"] is None and uuid.UUID(body["taskUUID"])
    status, err = post({"storageConfigUUID": cfg})
    assert status == 409
    assert err["error"] == f"Cannot run Backup task since the universe {uni} is currently in a locked state."
    assert api.wait_task(body["taskUUID"])["status"] == "Success"
    status, body = post({"storageConfigUUID": cfg})  # the lock went with the task
    assert status == 200, body
    api.wait_task(body["taskUUID"])


def test_create_backup_validates_storage_synchronously(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    uni = universes(state)[1]
    dead = insert_config(state, s3_data(state, state["s3"]["dead_endpoint"]), "s3-dead")
    before = sql(state, "SELECT count(*) FROM backup")[0][0]
    t0 = time.monotonic()
    status, err = api.call("POST", C + "/backups", {"storageConfigUUID": dead, "universeUUID": uni})
    assert time.monotonic() - t0 < 5
    assert (status, err["error"]) == (400, "Storage config s3-dead cannot access backup locations")
    assert sql(state, "SELECT count(*) FROM backup")[0][0] == before  # no task, no backup row


def test_storage_timeouts_and_black_holed_endpoint(labdir: str) -> None:
    reset(labdir, "healthy")
    state = set_platform_keys(labdir, s3_timeouts={"connect": 1, "read": 1.5, "attempts": 1})
    restart_platform(state)
    port, halt = blackhole.start()
    try:
        api = pclient.Client(state)
        hole = f"http://127.0.0.1:{port}"
        body = {"configName": "s3-hole", "name": "S3", "type": "STORAGE", "data": s3_data(state, hole)}
        t0 = time.monotonic()
        status, err = api.call("POST", C + "/configs", body)
        took = time.monotonic() - t0
        # One attempt, 1.5 s read timeout: the connect succeeds, the answer never comes.
        assert status == 400 and 1.4 <= took < 4, (took, err)
        assert err == {"success": False, "error": {"data.BACKUP_LOCATION": [
            "Unable to execute HTTP request: Read timed out"]}}
        hole_cfg = insert_config(state, s3_data(state, hole), "s3-hole-stored")
        t0 = time.monotonic()
        status, err = api.call("POST", C + "/backups",
                               {"storageConfigUUID": hole_cfg, "universeUUID": universes(state)[2]})
        assert status == 400 and 1.4 <= time.monotonic() - t0 < 4
        assert err["error"] == "Storage config s3-hole-stored cannot access backup locations"
    finally:
        halt()
        set_platform_keys(labdir, s3_timeouts=None)
        restart_platform(load(labdir))


def test_storage_validation_writes_reads_lists_and_deletes_a_canary(labdir: str) -> None:
    state = reset(labdir, "healthy")
    data = s3_data(state, prefix="canary-check")
    limits = storage_check.timeouts(state)
    s3 = storage_check.client(data, limits)
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_kw: calls.append(model.name))
    storage_check.validate_s3(state, data)
    assert calls == ["PutObject", "GetObject", "ListObjectsV2", "DeleteObject", "HeadObject"]
    assert s3.list_objects_v2(Bucket=state["s3"]["bucket"], Prefix="canary-check/").get("KeyCount") == 0
    # The API runs the same validation on create: a missing bucket is refused with YBA's message.
    api = pclient.Client(state)
    bad = dict(data, BACKUP_LOCATION="s3://no-such-bucket-lab/x")
    status, err = api.call("POST", C + "/configs", {"configName": "s3-nobucket", "name": "S3", "type": "STORAGE",
                                                    "data": bad})
    assert (status, err) == (400, {"success": False, "error": {
        "data.BACKUP_LOCATION": ["S3 URI path s3://no-such-bucket-lab/x doesn't exist"]}})
    status, err = api.call("POST", C + "/configs", {"configName": "s3-nocreds", "name": "S3", "type": "STORAGE",
                                                    "data": {"BACKUP_LOCATION": "s3://b/x"}})
    assert (status, err) == (400, {"success": False, "error": {
        "data.BACKUP_LOCATION": ["Aws credentials are null and IAM profile is not used."]}})


def test_blackhole_accepts_and_never_answers() -> None:
    port, halt = blackhole.start(max_conns=2, hold_seconds=30)
    try:
        socks = []
        for _i in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        socks[-1].settimeout(1)
        with pytest.raises(socket.timeout):
            socks[-1].recv(1)  # accepted, no answer
        socks[0].settimeout(3)
        assert socks[0].recv(1) == b""  # the oldest was closed: at most max_conns are held
        for s in socks:
            s.close()
    finally:
        halt()


# ----------------------------------------------------------------------------------------------- errors, tasks

def test_error_bodies_task_status_and_failed_subtasks(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cust = state["platform"]["customer_uuid"]
    # YBPStructuredError: field errors only, no errorJson, no method or URI.
    status, err = api.call("POST", C + "/configs", {"name": "S3", "type": "STORAGE"})
    assert (status, err) == (400, {"success": False, "error": {"configName": ["This field is required"],
                                                               "data": ["This field is required"]}})
    # GET tasks/{t}: Commissioner.buildTaskStatus.
    cfg = state["platform"]["storage_config_uuid"]
    uni_name, uni = sorted(state["platform"]["universes"].items())[0]
    status, body = api.call("POST", C + "/backups", {"storageConfigUUID": cfg, "universeUUID": uni})
    t_uuid = body["taskUUID"]
    task = api.wait_task(t_uuid)
    assert task["target"] == uni_name and task["targetUUID"] == uni and task["type"] == "Create"
    assert "completionTime" not in task and "typeName" not in task
    assert isinstance(task["percent"], float) and task["percent"] == 100.0
    time.strptime(task["createTime"], "%a %b %d %H:%M:%S UTC %Y")
    assert api.call("GET", f"{C}/tasks/{t_uuid}/failed_subtasks") == (200, {"failedSubTasks": []})
    # failed_subtasks: Failure/Aborted subtasks by position descending; "null" when a subtask has no error.
    sub = [str(uuid.uuid4()) for _i in range(3)]
    for pos, (s_uuid, st, details) in enumerate(((sub[0], "Failure", {"errorString": "first"}),
                                                 (sub[1], "Success", {}), (sub[2], "Aborted", {}))):
        sql(state, "INSERT INTO task_info (uuid, parent_uuid, position, task_type, task_state, sub_task_group_type, "
                   "details) VALUES (%s, %s, %s, 'BackupTable', %s, 'CreatingTableBackup', %s)",
            (s_uuid, t_uuid, pos, st, json.dumps(details)))
    status, body = api.call("GET", f"{C}/tasks/{t_uuid}/failed_subtasks")
    got = [(f["subTaskUUID"], f["subTaskState"], f["errorString"]) for f in body["failedSubTasks"]]
    assert got == [(sub[2], "Aborted", "null"), (sub[0], "Failure", "first")]
    # No failed subtask: the parent itself when it carries an error (group Preparation).
    parent = str(uuid.uuid4())
    sql(state, "INSERT INTO task_info (uuid, task_type, task_state, details) VALUES (%s, 'CreateBackup', "
               "'Failure', %s)", (parent, json.dumps({"errorString": "Platform restarted."})))
    sql(state, "INSERT INTO customer_task (customer_uuid, task_uuid, type, target_type, target_name, target_uuid) "
               "VALUES (%s, %s, 'Create', 'Backup', %s, %s)", (cust, parent, uni_name, uni))
    status, body = api.call("GET", f"{C}/tasks/{parent}/failed_subtasks")
    assert [(f["subTaskUUID"], f["subTaskGroupType"], f["errorString"]) for f in body["failedSubTasks"]] == [
        (parent, "Preparation", "Platform restarted.")]


def test_config_delete_and_backup_stop(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cust = state["platform"]["customer_uuid"]
    cfg = insert_config(state, s3_data(state), "s3-busy")
    busy = str(uuid.uuid4())
    sql(state, "INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, "
               "backup_info, state, base_backup_uuid, create_time, update_time) "
               "VALUES (%s, %s, %s, %s, 'x', '{}', 'In Progress', %s, now(), now())",
        (busy, cust, universes(state)[0], cfg, busy))
    status, err = api.call("DELETE", f"{C}/configs/{cfg}")
    assert (status, err["error"]) == (400, f"Backup task associated with Configuration {cfg} is in progress.")
    # A backup row without a live process cannot be stopped; one not in progress neither.
    status, err = api.call("POST", f"{C}/backups/{busy}/stop")
    assert (status, err["error"]) == (400, "The process you want to stop doesn't exist.")
    sql(state, "UPDATE backup SET state = 'Failed' WHERE backup_uuid = %s", (busy,))
    status, err = api.call("POST", f"{C}/backups/{busy}/stop")
    assert (status, err["error"]) == (400, "The backup you are trying to stop is not in progress.")
    assert api.call("DELETE", f"{C}/configs/{cfg}") == (200, {"success": True, "message": f"Config {cfg} deleted"})
    assert cfg not in {c["configUUID"] for c in api.call("GET", C + "/configs")[1]}
