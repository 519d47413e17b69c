# Unit tests of the backup catalog summary (_backupinfo.py); the storage probe is tested in test_s3.py.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi

NOW = bi.parse_time("2024-02-01T12:00:00Z")
H = 3600
U1, U2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
S1 = "33333333-3333-3333-3333-333333333333"


def ts(seconds_ago):
    return bi.iso(NOW - seconds_ago)


def backup(uuid, universe, state, created_ago, completed_ago=None, expiry_ago=None, schedule=None, name=None):
    common = {"backupUUID": uuid, "state": state, "createTime": ts(created_ago), "taskUUID": "t-" + uuid}
    if completed_ago is not None:
        common["completionTime"] = ts(completed_ago)
        common["updateTime"] = ts(completed_ago)
    out = {"commonBackupInfo": common, "universeUUID": universe, "universeName": name or universe[:2],
           "lastBackupState": state, "scheduleUUID": schedule or bi.NIL_UUID, "isUniversePresent": True}
    if expiry_ago is not None:
        out["expiryTime"] = ts(expiry_ago)
    return out


def test_parse_time_forms():
    assert bi.parse_time("2024-02-01T12:00:00Z") == NOW
    assert bi.parse_time("2024-02-01T12:00:00.123Z") == pytest.approx(NOW + 0.123)
    assert bi.parse_time("2024-02-01T13:00:00+01:00") == NOW
    assert bi.parse_time(int(NOW * 1000)) == NOW
    assert bi.parse_time("Thu Feb 01 12:00:00 UTC 2024") == NOW
    assert bi.parse_time(None) is None and bi.parse_time("garbage") is None


def test_summary_incident_like():
    universes = [{"universeUUID": U1, "name": "orders", "universeDetails": {"universePaused": False}},
                 {"universeUUID": U2, "name": "users", "universeConfig": {"takeBackups": "false"}}]
    backups = [
        backup("b1", U1, "Completed", 80 * H, 79 * H, name="orders"),              # 3+ days old: RPO broken
        backup("b2", U1, "Failed", 2 * H, 2 * H, name="orders"),
        backup("b3", U1, "Failed", 30 * H, 30 * H, name="orders"),                 # outside the window
        backup("b4", U1, "InProgress", 50 * H, name="orders"),
        backup("b5", U1, "In Progress", 70 * H, name="orders"),
        backup("b6", U2, "Completed", 1 * H, 1 * H, name="users"),
        backup("b7", U2, "Completed", 900 * H, 899 * H, expiry_ago=100 * H, name="users"),  # expired, not deleted
        backup("b8", U2, "Failed", 800 * H, 800 * H, expiry_ago=10 * H, name="users"),      # expired failed
        backup("b9", U2, "Completed", 5 * H, 5 * H, expiry_ago=0.5 * H, name="users"),      # inside GC grace
    ]
    schedules = [{"scheduleUUID": S1, "scheduleName": "daily", "ownerUUID": U1, "status": "Paused",
                  "failureCount": 3, "taskType": "CreateBackup"},
                 {"scheduleUUID": "s2", "scheduleName": "weekly", "ownerUUID": U2, "status": "Active"}]
    out = bi.summarize(backups, universes, schedules, NOW, 24 * H, sample_size=2)
    by_name = {u["name"]: u for u in out["universes"]}
    orders, users = by_name["orders"], by_name["users"]
    assert orders["last_completed_age_seconds"] == 79 * H
    assert orders["last_completed_time"] == ts(79 * H)
    assert orders["failed_24h"] == 1 and orders["in_progress"] == 2
    assert orders["schedules"] == {"total": 1, "active": 0, "paused": 1, "stopped": 0, "error": 0}
    assert users["backups_enabled"] is False and users["last_completed_age_seconds"] == 1 * H
    assert users["expired_not_deleted"] == 2
    assert out["failed_24h"]["count"] == 1 and out["failed_24h"]["sample"][0]["backup_uuid"] == "b2"
    assert out["failed_24h"]["task_uuids"] == ["t-b2"]
    assert out["in_progress"]["count"] == 2 and out["in_progress"]["oldest_age_seconds"] == 70 * H
    assert out["expired_not_deleted"]["count"] == 2
    assert out["expired_not_deleted"]["oldest_expiry"] == ts(100 * H)
    assert out["schedules"]["paused"]["count"] == 1
    assert out["schedules"]["paused"]["sample"][0]["failure_count"] == 3
    assert out["schedules"]["active"]["count"] == 1
    assert out["scanned_backups"] == 9


def test_schedule_keeps_min_retained_completed():
    backups = [backup("c%d" % i, U1, "Completed", (10 - i) * 24 * H, (10 - i) * 24 * H, expiry_ago=10 * H,
                      schedule=S1) for i in range(5)]
    out = bi.summarize(backups, [], [], NOW)
    assert out["expired_not_deleted"]["count"] == 2  # the newest 3 are retained by the schedule
    assert {s["backup_uuid"] for s in out["expired_not_deleted"]["sample"]} == {"c0", "c1"}
    out = bi.summarize(backups, [], [], NOW, min_retain={S1: 1})
    assert out["expired_not_deleted"]["count"] == 4


def test_universe_without_backups_has_no_rpo():
    out = bi.summarize([], [{"universeUUID": U1, "name": "empty"}], [], NOW)
    assert out["universes"][0]["last_completed_time"] is None
    assert out["universes"][0]["last_completed_age_seconds"] is None


def test_task_error():
    task = {"status": "Failure", "details": {"taskDetails": [
        {"state": "Success", "title": "a"}, {"state": "Failure", "title": "Upload", "extraDetails": "S3 timeout"}]}}
    assert bi.task_error(task) == "S3 timeout"
    assert bi.task_error({"failedSubTasks": [{"errorString": "disk full"}, {"errorString": "disk full"}]}) == "disk full"
    assert bi.task_error({}) is None


# ScheduleResp as YBA 2.18's schedules/page answers it (Schedule.toScheduleResp): no ownerUUID, no taskParams,
# the universe under backupInfo, nextExpectedTask as epoch milliseconds and only while Active.
SCHEDULE_RESP_ACTIVE = {
    "scheduleUUID": S1, "customerUUID": "c", "scheduleName": "daily", "taskType": "CreateBackup", "status": "Active",
    "failureCount": 1, "frequency": 86400000, "frequencyTimeUnit": "DAYS", "runningState": False,
    "backlogStatus": False, "incrementBacklogStatus": False, "prevCompletedTask": int((NOW - 3 * H) * 1000),
    "nextExpectedTask": int((NOW + 21 * H) * 1000), "incrementalBackupFrequency": 0,
    "backupInfo": {"universeUUID": U1, "storageConfigUUID": "cfg", "keyspaceList": [], "backupType": "PGSQL_TABLE_TYPE",
                   "timeBeforeDelete": 0, "fullBackup": True, "useTablespaces": False, "expiryTimeUnit": "DAYS"}}
SCHEDULE_RESP_PAUSED = {
    "scheduleUUID": "s2", "customerUUID": "c", "scheduleName": "weekly", "taskType": "CreateBackup", "status": "Paused",
    "failureCount": 3, "frequency": 0, "cronExpression": "0 2 * * 0", "runningState": False,
    "backupInfo": {"universeUUID": U2}}


def test_summary_reads_schedule_resp():
    universes = [{"universeUUID": U1, "name": "orders"}, {"universeUUID": U2, "name": "users"}]
    out = bi.summarize([], universes, [SCHEDULE_RESP_ACTIVE, SCHEDULE_RESP_PAUSED], NOW)
    by_name = {u["name"]: u for u in out["universes"]}
    assert by_name["orders"]["schedules"] == {"total": 1, "active": 1, "paused": 0, "stopped": 0, "error": 0}
    assert by_name["users"]["schedules"] == {"total": 1, "active": 0, "paused": 1, "stopped": 0, "error": 0}
    items = {i["name"]: i for i in out["schedules"]["items"]}
    assert items["daily"]["universe_uuid"] == U1 and items["daily"]["next_time"] == ts(-21 * H)
    assert items["daily"]["frequency"] == 86400000 and items["daily"]["frequency_time_unit"] == "DAYS"
    assert items["weekly"]["next_time"] is None and items["weekly"]["cron_expression"] == "0 2 * * 0"
    assert out["schedules"]["paused"]["sample"][0]["failure_count"] == 3


def test_summary_still_reads_schedule_entities():
    entity = {"scheduleUUID": S1, "scheduleName": "daily", "ownerUUID": U1, "status": "Active",
              "nextScheduleTaskTime": ts(-2 * H), "taskParams": {"universeUUID": U1, "minNumBackupsToRetain": 1}}
    newer = dict(SCHEDULE_RESP_ACTIVE, scheduleUUID="s3", nextExpectedTask=ts(-5 * H))  # ISO in newer releases
    out = bi.summarize([], [{"universeUUID": U1, "name": "orders"}], [entity, newer], NOW)
    items = {i["schedule_uuid"]: i for i in out["schedules"]["items"]}
    assert items[S1]["universe_uuid"] == U1 and items[S1]["next_time"] == ts(-2 * H)
    assert items["s3"]["next_time"] == ts(-5 * H)
    assert out["universes"][0]["schedules"]["total"] == 2


def test_min_retain_from_entities_and_lookups_only_when_needed():
    expired = [backup("c%d" % i, U1, "Completed", (10 - i) * 24 * H, (10 - i) * 24 * H, expiry_ago=10 * H,
                      schedule=S1) for i in range(5)]
    fresh = [backup("f", U2, "Completed", H, H, expiry_ago=-10 * H, schedule="s2")]
    # A ScheduleResp has no taskParams: the schedule owning expired backups needs a GET, the other does not.
    assert bi.retain_lookups(expired + fresh, [SCHEDULE_RESP_ACTIVE, SCHEDULE_RESP_PAUSED], NOW) == [S1]
    entity = {"scheduleUUID": S1, "taskParams": {"minNumBackupsToRetain": 1}}
    assert bi.retain_lookups(expired, [entity], NOW) == []
    assert bi.schedule_min_retain(entity) == 1 and bi.schedule_min_retain(SCHEDULE_RESP_ACTIVE) is None
    assert bi.summarize(expired, [], [entity], NOW)["expired_not_deleted"]["count"] == 4
    assert bi.summarize(expired, [], [SCHEDULE_RESP_ACTIVE], NOW)["expired_not_deleted"]["count"] == 2  # default 3


def test_task_error_ignores_the_null_error_string():
    # CustomerTaskController.listFailedSubtasks writes "null" when a failed subtask has no error.
    answer = {"failedSubTasks": [{"subTaskUUID": "x", "subTaskState": "Aborted", "errorString": "null"},
                                 {"subTaskUUID": "y", "subTaskState": "Failure", "errorString": "S3 down"}]}
    assert bi.task_error(answer) == "S3 down"
    assert bi.task_error({"failedSubTasks": [{"errorString": "null", "subTaskGroupType": "Preparation"}]}) is None
