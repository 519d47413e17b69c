# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: summarise YBA backups, schedules and storage configs (pure).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import typing as t

COMPLETED = "Completed"
FAILED = "Failed"
# YBA's JSON uses the Java names; the database (and some versions' JSON) stores "In Progress".
IN_PROGRESS = frozenset(("InProgress", "In Progress", "Stopping", "QueuedForDeletion", "DeleteInProgress"))
RUNNING_BACKUP = frozenset(("InProgress", "In Progress"))
# States the backup garbage collector deletes once expired (FACTS 5.1), plus a failed deletion.
GC_STATES = frozenset(("Completed", "Failed", "Stopped", "Skipped", "FailedToDelete"))
DEFAULT_MIN_RETAIN = 3  # a schedule keeps this many Completed backups even when expired
GC_GRACE_SECONDS = 3600  # the GC runs every 15 min and deletes 10 per pass: give it an hour
NIL_UUID = "00000000-0000-0000-0000-000000000000"
# The filters of backups/page and schedules/page with every key swagger requires (narrowed by the callers).
BACKUP_FILTER = {"keyspaceList": [], "onlyShowDeletedConfigs": False, "onlyShowDeletedUniverses": False,
                 "scheduleUUIDList": [], "states": [], "storageConfigUUIDList": [], "universeNameList": [],
                 "universeUUIDList": []}
SCHEDULE_FILTER = {"status": [], "taskTypes": [], "universeUUIDList": []}


def parse_time(value: t.Any) -> float | None:
    """YBA time (``2024-01-31T10:00:00Z``, with or without fraction/offset, or epoch ms) to epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000.0 if value > 10 ** 11 else float(value)
    text = str(value).strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        for fmt in ("%a %b %d %H:%M:%S UTC %Y", "%Y-%m-%dT%H:%M:%S.%f%z"):
            try:
                dt = datetime.datetime.strptime(str(value), fmt)
                break
            except ValueError:
                continue
        else:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _backup_fields(b: dict[str, t.Any]) -> dict[str, t.Any]:
    """Flatten a BackupResp (backups/page) or a Backup (GET backups/{b}) into the fields we use."""
    common = b.get("commonBackupInfo") if isinstance(b.get("commonBackupInfo"), dict) else {}
    state = common.get("state") or b.get("lastBackupState") or b.get("state")
    schedule = b.get("scheduleUUID")
    return {
        "backup_uuid": common.get("backupUUID") or b.get("backupUUID"),
        "universe_uuid": b.get("universeUUID") or None,
        "universe_name": b.get("universeName") or None,
        "state": state,
        "create_time": parse_time(common.get("createTime") or b.get("createTime")),
        "update_time": parse_time(common.get("updateTime") or b.get("updateTime")),
        "completion_time": parse_time(common.get("completionTime") or b.get("completionTime")),
        "expiry": parse_time(b.get("expiryTime") or b.get("expiry")),
        "schedule_uuid": schedule if schedule and schedule != NIL_UUID else None,
        "task_uuid": common.get("taskUUID") or b.get("taskUUID"),
        "storage_config_uuid": common.get("storageConfigUUID") or b.get("storageConfigUUID"),
        "universe_present": b.get("isUniversePresent", True),
    }


def schedule_universe(s: dict[str, t.Any]) -> str | None:
    """The universe of a schedule: ``backupInfo.universeUUID`` of a ScheduleResp (what schedules/page answers,
    Schedule.toScheduleResp), else ``ownerUUID`` or ``taskParams.universeUUID`` of a Schedule entity."""
    info = s.get("backupInfo") if isinstance(s.get("backupInfo"), dict) else {}
    params = s.get("taskParams") if isinstance(s.get("taskParams"), dict) else {}
    return info.get("universeUUID") or s.get("ownerUUID") or params.get("universeUUID") or None


def schedule_min_retain(s: dict[str, t.Any]) -> int | None:
    """``taskParams.minNumBackupsToRetain`` of a Schedule entity (GET schedules/{s}); None when absent
    (a ScheduleResp of schedules/page never carries it)."""
    params = s.get("taskParams") if isinstance(s.get("taskParams"), dict) else {}
    value = params.get("minNumBackupsToRetain")
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def retain_lookups(backups: t.Iterable[dict[str, t.Any]], schedules: t.Sequence[dict[str, t.Any]],
                   now: float) -> list[str]:
    """Schedules whose minNumBackupsToRetain matters and is unknown: those owning an expired Completed backup
    (past the GC grace) while their entity lacks taskParams. Read each with GET schedules/{s}."""
    known = {s.get("scheduleUUID") for s in schedules if schedule_min_retain(s) is not None}
    out: list[str] = []
    for raw in backups:
        f = _backup_fields(raw)
        sched = f["schedule_uuid"]
        if (sched and sched not in known and sched not in out and f["state"] == COMPLETED
                and f["expiry"] is not None and now - f["expiry"] > GC_GRACE_SECONDS):
            out.append(sched)
    return out


def schedule_retained(fields: t.Iterable[dict[str, t.Any]], min_retain: t.Mapping[str, int]) -> set[str]:
    """The backups YBA's GC keeps past their expiry: per schedule, its newest minNumBackupsToRetain (``min_retain``,
    else 3) Completed backups (BackupGarbageCollector.getBackupsToDeleteForSchedule). ``fields`` are
    ``_backup_fields`` answers."""
    by_schedule: dict[str, list[dict[str, t.Any]]] = {}
    for f in fields:
        if f["state"] == COMPLETED and f["schedule_uuid"]:
            by_schedule.setdefault(f["schedule_uuid"], []).append(f)
    retained: set[str] = set()
    for sched, items in by_schedule.items():
        items.sort(key=lambda x: x["completion_time"] or x["create_time"] or 0, reverse=True)
        retained.update(str(f["backup_uuid"]) for f in items[:min_retain.get(sched, DEFAULT_MIN_RETAIN)])
    return retained


def _brief(f: dict[str, t.Any], now: float) -> dict[str, t.Any]:
    ref = f["completion_time"] or f["update_time"] or f["create_time"]
    return {"backup_uuid": f["backup_uuid"], "universe_name": f["universe_name"], "state": f["state"],
            "create_time": iso(f["create_time"]), "expiry": iso(f["expiry"]),
            "age_seconds": int(now - ref) if ref else None}


def summarize(backups: t.Iterable[dict[str, t.Any]], universes: t.Sequence[dict[str, t.Any]],
              schedules: t.Sequence[dict[str, t.Any]], now: float, window_seconds: float = 86400,
              sample_size: int = 5, min_retain: t.Mapping[str, int] | None = None) -> dict[str, t.Any]:
    """Pure summary of the backup catalog: per universe RPO, failures in the window, running and expired backups.

    ``backups`` are backups/page entities (any order), ``universes`` are GET universes answers, ``schedules``
    are schedules/page entities (ScheduleResp, or Schedule entities: both shapes are read). ``min_retain`` maps a
    schedule UUID to its minNumBackupsToRetain; a schedule entity's own taskParams fill what it lacks.
    """
    min_retain = dict(min_retain or {})
    for s in schedules:
        own = schedule_min_retain(s)
        if own is not None:
            min_retain.setdefault(s.get("scheduleUUID"), own)
    per_u: dict[str, dict[str, t.Any]] = {}

    def universe(uuid: str | None, name: str | None, present: bool = True) -> dict[str, t.Any]:
        key = uuid or "unknown"
        if key not in per_u:
            per_u[key] = {"universe_uuid": uuid, "name": name, "present": present, "paused": False,
                          "backups_enabled": True, "last_completed_time": None, "last_completed_age_seconds": None,
                          "failed_24h": 0, "last_failed_time": None, "in_progress": 0, "expired_not_deleted": 0,
                          "schedules": {"total": 0, "active": 0, "paused": 0, "stopped": 0, "error": 0}}
        return per_u[key]

    for u in universes:
        details = u.get("universeDetails") if isinstance(u.get("universeDetails"), dict) else {}
        config = u.get("universeConfig") if isinstance(u.get("universeConfig"), dict) else {}
        entry = universe(u.get("universeUUID"), u.get("name"))
        entry["paused"] = bool(details.get("universePaused"))
        entry["backups_enabled"] = str(config.get("takeBackups", "true")).lower() != "false"

    failed: list[dict[str, t.Any]] = []
    running: list[dict[str, t.Any]] = []
    expired: list[dict[str, t.Any]] = []
    seen: list[dict[str, t.Any]] = []
    scanned = 0
    for raw in backups:
        scanned += 1
        f = _backup_fields(raw)
        entry = universe(f["universe_uuid"], f["universe_name"], bool(f["universe_present"]))
        if entry["name"] is None:
            entry["name"] = f["universe_name"]
        state = f["state"]
        if state == COMPLETED:
            done = f["completion_time"] or f["update_time"] or f["create_time"]
            if done and (entry["last_completed_time"] is None or done > entry["last_completed_time"]):
                entry["last_completed_time"] = done
            seen.append(f)
        elif state == FAILED:
            when = f["update_time"] or f["completion_time"] or f["create_time"]
            if when and now - when <= window_seconds:
                entry["failed_24h"] += 1
                if entry["last_failed_time"] is None or when > entry["last_failed_time"]:
                    entry["last_failed_time"] = when
                failed.append(f)
        if state in IN_PROGRESS:
            entry["in_progress"] += 1
            running.append(f)
        if (state in GC_STATES and f["expiry"] is not None and now - f["expiry"] > GC_GRACE_SECONDS) \
                or state == "FailedToDelete":  # a failed deletion the GC never retries, expired or not
            expired.append(f)

    # A schedule keeps its newest N Completed backups even past expiry: those are not "not deleted".
    retained = schedule_retained(seen, min_retain)
    expired = [f for f in expired if f["backup_uuid"] not in retained]
    for f in expired:
        universe(f["universe_uuid"], f["universe_name"])["expired_not_deleted"] += 1

    sched_items = []
    by_status: dict[str, list[dict[str, t.Any]]] = {"Active": [], "Paused": [], "Stopped": [], "Error": []}
    for s in schedules:
        # nextExpectedTask (ScheduleResp; epoch ms in 2.18, an ISO string in newer releases; only while Active)
        # or nextScheduleTaskTime (the Schedule entity).
        nxt = s.get("nextExpectedTask")
        if nxt is None:
            nxt = s.get("nextScheduleTaskTime")
        item = {"schedule_uuid": s.get("scheduleUUID"), "name": s.get("scheduleName"),
                "universe_uuid": schedule_universe(s), "status": s.get("status"),
                "failure_count": int(s.get("failureCount") or 0), "task_type": s.get("taskType"),
                "next_time": iso(parse_time(nxt)),
                "frequency": s.get("frequency") or None, "frequency_time_unit": s.get("frequencyTimeUnit"),
                "cron_expression": s.get("cronExpression")}
        sched_items.append(item)
        by_status.setdefault(item["status"] or "unknown", []).append(item)
        owner = per_u.get(item["universe_uuid"] or "")
        if owner is not None:
            owner["schedules"]["total"] += 1
            key = str(item["status"] or "").lower()
            if key in owner["schedules"]:
                owner["schedules"][key] += 1

    for entry in per_u.values():
        if entry["last_completed_time"] is not None:
            entry["last_completed_age_seconds"] = int(now - entry["last_completed_time"])
        entry["last_completed_time"] = iso(entry["last_completed_time"])
        entry["last_failed_time"] = iso(entry["last_failed_time"])

    failed.sort(key=lambda x: x["update_time"] or x["create_time"] or 0, reverse=True)
    running.sort(key=lambda x: x["create_time"] or now)
    expired.sort(key=lambda x: x["expiry"] or now)

    def group(items: list[dict[str, t.Any]]) -> dict[str, t.Any]:
        return {"count": len(items), "sample": items[:sample_size]}

    return {
        "universes": sorted(per_u.values(), key=lambda e: (e["name"] or "", e["universe_uuid"] or "")),
        "failed_24h": {"count": len(failed), "window_seconds": int(window_seconds),
                       "sample": [_brief(f, now) for f in failed[:sample_size]],
                       "task_uuids": [f["task_uuid"] for f in failed[:sample_size] if f["task_uuid"]]},
        "in_progress": {"count": len(running),
                        "oldest_age_seconds": int(now - running[0]["create_time"])
                        if running and running[0]["create_time"] else None,
                        "sample": [_brief(f, now) for f in running[:sample_size]]},
        "expired_not_deleted": {"count": len(expired), "oldest_expiry": iso(expired[0]["expiry"]) if expired else None,
                                "failed_to_delete": sum(1 for f in expired if f["state"] == "FailedToDelete"),
                                "sample": [_brief(f, now) for f in expired[:sample_size]]},
        "schedules": {"count": len(sched_items), "items": sched_items,
                      "paused": group(by_status.get("Paused", [])), "error": group(by_status.get("Error", [])),
                      "stopped": group(by_status.get("Stopped", [])), "active": {"count": len(by_status["Active"])}},
        "scanned_backups": scanned,
    }


def task_error(task: dict[str, t.Any]) -> str | None:
    """The error text of a failed YBA task status answer, if it carries one."""
    details = task.get("details") if isinstance(task.get("details"), dict) else {}
    texts = []
    for key in ("error", "errorString", "errorMessage"):
        if task.get(key):
            texts.append(str(task[key]))
        if details.get(key):
            texts.append(str(details[key]))
    for sub in details.get("taskDetails") or []:
        if isinstance(sub, dict) and sub.get("state") in ("Failure", "Aborted"):
            extra = sub.get("extraDetails")
            if extra:
                texts.append(extra if isinstance(extra, str) else str(extra))
            elif sub.get("title"):
                texts.append("%s failed" % sub["title"])
    for sub in task.get("failedSubTasks") or []:
        # CustomerTaskController writes the string "null" for a subtask without an error.
        if isinstance(sub, dict) and sub.get("errorString") and sub["errorString"] != "null":
            texts.append(str(sub["errorString"]))
    seen: list[str] = []
    for text in texts:
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)[:1000] if seen else None
