# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: YBA backup schedules (select, which API moves a status, request bodies).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What YBA allows with a backup schedule's status, as pure functions.

``Schedule.State`` is Active, Paused or Stopped; Paused is internal (``Schedule.setFailureCount`` sets it at
``MAX_FAIL_COUNT = 3`` failures) and a user may send only Active or Stopped (models/Schedule.java).

Two ways to move a status (controllers/ScheduleController.java):

- ``PUT /customers/{c}/schedules/{s}`` (``editBackupSchedule``, EditBackupScheduleParams, every release; deprecated
  since 2024.2 but still served): ``Paused`` is refused (400 "State paused is an internal state ..."), ``Stopped``
  is saved as it is, ``Active`` needs exactly one of ``frequency`` (with ``frequencyTimeUnit``) and
  ``cronExpression`` (400 "Both schedule frequency and cron expression cannot be null/provided"), so a resume
  echoes the schedule's own; an Active schedule whose ``runningState`` is set answers 409 "Cannot edit schedule as
  it is running.". ``failureCount`` is not reset.
- ``PUT /customers/{c}/universes/{u}/schedules/{s}/pause_resume`` (``toggleSchedule``, 2.23 = 2024.2 and later,
  BackupScheduleToggleParams ``{status, runImmediateBackupOnResume}``): ``verifyScheduleToggle`` allows only
  Stopped -> Active and Active -> Stopped (400 "Invalid state transition from Paused to Active" otherwise, and
  "Schedule is already in X state."); ``Schedule.toggleBackupSchedule`` refuses to stop a running schedule
  ("Schedule is currently locked", a RuntimeException: HTTP 500). A Paused schedule therefore moves through the
  classic PUT on every release (forms/backuprestore/BackupScheduleToggleParams.java).
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils._version import numbers

ACTIVE, PAUSED, STOPPED = "Active", "Paused", "Stopped"
STATES = (ACTIVE, PAUSED, STOPPED)
DESIRED = {"active": ACTIVE, "stopped": STOPPED}
MAX_FAIL_COUNT = 3  # Schedule.MAX_FAIL_COUNT
TASK_TYPE = "CreateBackup"
CLASSIC, TOGGLE = "classic", "pause_resume"
# YBA releases that serve pause_resume: 2.23 (preview of 2024.2), 2.25..., 2024.2 and later stable releases.
TOGGLE_SINCE_STABLE = (2024, 2)
TOGGLE_SINCE_PREVIEW = (2, 23)
# A status change YBA refuses only because the schedule runs now: 409 of editBackupSchedule, 500 of
# Schedule.toggleBackupSchedule.
_RUNNING = re.compile(r"as it is running|currently locked", re.I)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SCHEDULE_FILTER = {"status": [], "taskTypes": [TASK_TYPE], "universeUUIDList": []}


def is_uuid(value: t.Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def serves_toggle(version: t.Any) -> bool | None:
    """Whether this YBA release has pause_resume; None when the version cannot be read."""
    parsed = numbers(version)
    if parsed is None or len(parsed) < 2:
        return None
    major_minor = parsed[:2]
    if parsed[0] >= 2000:
        return major_minor >= TOGGLE_SINCE_STABLE
    return major_minor >= TOGGLE_SINCE_PREVIEW


def method_for(current: str, desired: str, toggle: bool) -> str:
    """The API that moves ``current`` to ``desired``: pause_resume where the release has it and its
    verifyScheduleToggle allows the move (Active <-> Stopped), else the classic PUT (the only way out of Paused)."""
    if toggle and {current, desired} == {ACTIVE, STOPPED}:
        return TOGGLE
    return CLASSIC


def classic_body(schedule: dict[str, t.Any], desired: str, run_immediate: bool = False) -> dict[str, t.Any]:
    """EditBackupScheduleParams that sets ``desired``; a resume echoes the schedule's own recurrence (exactly one
    of frequency + frequencyTimeUnit and cronExpression, as GET schedules/{s} answers them). ValueError when the
    schedule has neither. ``run_immediate`` adds ``runImmediateBackupOnResume`` (the releases with pause_resume
    read it in editBackupSchedule too; older ones do not know the field: the caller sends it only to those)."""
    if desired == STOPPED:
        return {"status": STOPPED}
    cron = schedule.get("cronExpression")
    freq = schedule.get("frequency")
    unit = schedule.get("frequencyTimeUnit")
    extra = {"runImmediateBackupOnResume": True} if run_immediate else {}
    if cron:
        return dict({"status": ACTIVE, "cronExpression": cron}, **extra)
    if isinstance(freq, int) and not isinstance(freq, bool) and freq > 0:
        if not unit:
            raise ValueError("schedule %s has a frequency but no frequencyTimeUnit" % name_of(schedule))
        return dict({"status": ACTIVE, "frequency": freq, "frequencyTimeUnit": unit}, **extra)
    raise ValueError("schedule %s has neither a frequency nor a cron expression to resume with"
                     % name_of(schedule))


def toggle_body(desired: str, run_immediate: bool) -> dict[str, t.Any]:
    """BackupScheduleToggleParams."""
    body: dict[str, t.Any] = {"status": desired}
    if desired == ACTIVE:
        body["runImmediateBackupOnResume"] = bool(run_immediate)
    return body


def is_running_conflict(status: int | None, message: t.Any) -> bool:
    """YBA refused the change only because the schedule is running now: wait and send it again."""
    return status in (409, 500) and bool(_RUNNING.search(str(message or "")))


def name_of(schedule: dict[str, t.Any]) -> str:
    return str(schedule.get("scheduleName") or schedule.get("scheduleUUID") or "?")


def failure_count(schedule: dict[str, t.Any]) -> int:
    try:
        return int(schedule.get("failureCount") or 0)
    except (TypeError, ValueError):
        return 0


def select(schedules: t.Sequence[dict[str, t.Any]], universes: t.Sequence[dict[str, t.Any]],
           names: t.Sequence[str] | None = None, universe_refs: t.Sequence[str] | None = None
           ) -> tuple[list[dict[str, t.Any]], list[str]]:
    """The CreateBackup schedules picked by schedule names/UUIDs, or by universe names/UUIDs, or all; and the
    problems (a name that matches nothing, or a schedule name two schedules share). Order: as asked, else by name."""
    backups = [s for s in schedules if (s.get("taskType") or TASK_TYPE) == TASK_TYPE]
    problems: list[str] = []
    picked: list[dict[str, t.Any]] = []

    def add(s: dict[str, t.Any]) -> None:
        if all(p.get("scheduleUUID") != s.get("scheduleUUID") for p in picked):
            picked.append(s)

    if names:
        for ref in names:
            if is_uuid(ref):
                hits = [s for s in backups if str(s.get("scheduleUUID", "")).lower() == ref.lower()]
            else:
                hits = [s for s in backups if s.get("scheduleName") == ref]
            if not hits:
                problems.append("no backup schedule %s %s" % ("with UUID" if is_uuid(ref) else "named", ref))
            elif len(hits) > 1:
                problems.append("%d backup schedules are named %s (%s): name them by UUID" % (
                    len(hits), ref, ", ".join(str(h.get("scheduleUUID")) for h in hits)))
            else:
                add(hits[0])
        return picked, problems
    if universe_refs:
        for ref in universe_refs:
            if is_uuid(ref):
                uni = next((u for u in universes if str(u.get("universeUUID", "")).lower() == ref.lower()), None)
            else:
                uni = next((u for u in universes if u.get("name") == ref), None)
            if uni is None:
                problems.append("no universe %s %s" % ("with UUID" if is_uuid(ref) else "named", ref))
                continue
            for s in sorted(backups, key=name_of):
                if str(bi.schedule_universe(s) or "").lower() == str(uni.get("universeUUID")).lower():
                    add(s)
        return picked, problems
    return sorted(backups, key=name_of), problems
