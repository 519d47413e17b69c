# Unit tests of _schedule: which YBA release serves pause_resume, which call moves which status, the bodies, the
# conflicts worth a retry and the selection of schedules.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _schedule as sch

U1, U2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
S1, S2, S3 = ("aaaaaaaa-0000-0000-0000-00000000000%d" % n for n in (1, 2, 3))
SCHEDULES = [
    {"scheduleUUID": S1, "scheduleName": "orders-daily", "taskType": "CreateBackup", "status": "Paused",
     "failureCount": 3, "backupInfo": {"universeUUID": U1, "storageConfigUUID": "c1"}},
    {"scheduleUUID": S2, "scheduleName": "billing-daily", "taskType": "CreateBackup", "status": "Active",
     "backupInfo": {"universeUUID": U2, "storageConfigUUID": "c1"}},
    {"scheduleUUID": S3, "scheduleName": "script", "taskType": "ExternalScript", "status": "Active"},
]
UNIVERSES = [{"universeUUID": U1, "name": "orders"}, {"universeUUID": U2, "name": "billing"}]


@pytest.mark.parametrize("version,expected", [
    ("2.18.1.0-b84", False), ("2.20.1.0-b97", False), ("2.21.1.0-b10", False), ("2024.1.3.0-b105", False),
    ("2.23.0.0-b1", True), ("2.25.1.0", True), ("2024.2.0.0-b145", True), ("2025.1.0.0-b5", True),
    ("", None), (None, None), ("unknown", None), ("2", None),
])
def test_serves_toggle(version, expected):
    assert sch.serves_toggle(version) is expected


def test_method_for_follows_verify_schedule_toggle():
    # pause_resume moves only Active <-> Stopped (BackupScheduleToggleParams.verifyScheduleToggle)
    assert sch.method_for("Stopped", "Active", toggle=True) == sch.TOGGLE
    assert sch.method_for("Active", "Stopped", toggle=True) == sch.TOGGLE
    assert sch.method_for("Paused", "Active", toggle=True) == sch.CLASSIC
    assert sch.method_for("Paused", "Stopped", toggle=True) == sch.CLASSIC
    assert sch.method_for("Stopped", "Active", toggle=False) == sch.CLASSIC


def test_classic_body_echoes_exactly_one_recurrence():
    freq = {"scheduleName": "f", "frequency": 86400000, "frequencyTimeUnit": "HOURS", "cronExpression": None}
    assert sch.classic_body(freq, "Active") == {"status": "Active", "frequency": 86400000,
                                                "frequencyTimeUnit": "HOURS"}
    cron = {"scheduleName": "c", "frequency": 0, "frequencyTimeUnit": "HOURS", "cronExpression": "0 2 * * *"}
    assert sch.classic_body(cron, "Active") == {"status": "Active", "cronExpression": "0 2 * * *"}
    assert sch.classic_body(cron, "Stopped") == {"status": "Stopped"}
    assert sch.classic_body(cron, "Active", run_immediate=True) == {"status": "Active", "cronExpression": "0 2 * * *",
                                                                    "runImmediateBackupOnResume": True}
    assert sch.classic_body(cron, "Stopped", run_immediate=True) == {"status": "Stopped"}
    with pytest.raises(ValueError, match="schedule n has neither a frequency nor a cron expression"):
        sch.classic_body({"scheduleName": "n", "frequency": 0}, "Active")
    with pytest.raises(ValueError, match="no frequencyTimeUnit"):
        sch.classic_body({"scheduleName": "u", "frequency": 3600000}, "Active")


def test_toggle_body():
    assert sch.toggle_body("Active", True) == {"status": "Active", "runImmediateBackupOnResume": True}
    assert sch.toggle_body("Stopped", True) == {"status": "Stopped"}


def test_running_conflict():
    assert sch.is_running_conflict(409, "Cannot edit schedule as it is running.")
    assert sch.is_running_conflict(500, "Schedule is currently locked")
    assert not sch.is_running_conflict(409, "Cannot run Backup task since the universe x is currently in a locked")
    assert not sch.is_running_conflict(400, "Invalid state transition from Paused to Active")


def test_select_by_name_uuid_universe_or_all():
    picked, problems = sch.select(SCHEDULES, UNIVERSES)
    assert [s["scheduleName"] for s in picked] == ["billing-daily", "orders-daily"] and not problems
    picked, problems = sch.select(SCHEDULES, UNIVERSES, names=["orders-daily", S2.upper(), "orders-daily"])
    assert [s["scheduleUUID"] for s in picked] == [S1, S2] and not problems
    picked, problems = sch.select(SCHEDULES, UNIVERSES, universe_refs=["billing", U1])
    assert [s["scheduleUUID"] for s in picked] == [S2, S1] and not problems
    _picked, problems = sch.select(SCHEDULES, UNIVERSES, names=["script", "nope", S3])
    assert problems == ["no backup schedule named script", "no backup schedule named nope",
                        "no backup schedule with UUID %s" % S3]
    _picked, problems = sch.select(SCHEDULES, UNIVERSES, universe_refs=["gone"])
    assert problems == ["no universe named gone"]
    twins = SCHEDULES + [dict(SCHEDULES[0], scheduleUUID=S3)]
    _picked, problems = sch.select(twins, UNIVERSES, names=["orders-daily"])
    assert problems and "2 backup schedules are named orders-daily" in problems[0]


def test_fields():
    # a Schedule entity (GET schedules/{s}: ownerUUID, no backupInfo) is selected by its universe like a ScheduleResp
    entity = {"scheduleUUID": S3, "scheduleName": "entity", "taskType": "CreateBackup", "ownerUUID": U2,
              "taskParams": {"storageConfigUUID": "c9"}}
    picked, problems = sch.select([entity], UNIVERSES, universe_refs=[U2])
    assert picked == [entity] and problems == []
    assert sch.failure_count(SCHEDULES[0]) == 3 and sch.failure_count({}) == 0
