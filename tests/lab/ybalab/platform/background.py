"""YBA's background services in the simulated platform: the backup garbage collector and the scheduler.

Started by server.py after the start-up reconciliation, in AppInit's order (common/AppInit.java):
``BackupGC.start()`` (DeleteInProgress -> QueuedForDeletion, then a first run at once) and
``Scheduler.init()`` (running_state reset, expired next times refreshed, then a first run at once).

Optional lab.json keys (``platform.*``; every one has a default, so a lab.json without them works):

| key | default | YBA equivalent |
|---|---|---|
| ``gc_enabled`` | true | - (false: no GC at all, not even at start-up; for tests that need a static DB) |
| ``gc_interval_seconds`` | 60 | ``yb.backupGC.gc_run_interval`` (15 min); 0 = the start-up run only |
| ``gc_max_expired_per_run`` | 10 | ``yb.backup.delete_expired_backup_max_gc_size`` |
| ``gc_number_of_retries`` | 3 | ``yb.backupGC.number_of_retries`` (default not verified) |
| ``gc_delete_retry_sleep_seconds`` | 0.5 | the 5 s (doubling) sleep between deleteBackup's 3 tries |
| ``scheduler_enabled`` | true | - (false: init only, schedules never fire) |
| ``scheduler_interval_seconds`` | 10 | ``YB_SCHEDULER_INTERVAL`` (2 min); 0 = the start-up run only |
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from . import tasks

LOG = logging.getLogger("yba.background")

MIN_NUM_BACKUPS_TO_RETAIN = 3  # Util.MIN_NUM_BACKUPS_TO_RETAIN
BACKUP_DELETION_MAX_RETRIES_COUNT = 3  # BackupGarbageCollector
EXPIRED_BACKUP_DELETION = "Expired Backup Deletion"


def _conf(platform: Any, key: str, default: Any) -> Any:
    value = (platform.state.get("platform") or {}).get(key)
    return default if value is None else value


def _utcnow() -> datetime:
    return tasks.utcnow()


class _Loop:
    """A PlatformScheduler job: ``job`` at once, then every ``interval`` seconds (0 = once)."""

    def __init__(self, name: str, job: Any, interval: float) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(job, interval), name=name, daemon=True)

    def _run(self, job: Any, interval: float) -> None:
        while True:
            try:
                job()
            except Exception:  # noqa: BLE001 - a background job never dies
                LOG.exception("%s failed", self.thread.name)
            if interval <= 0 or self.stop_event.wait(interval):
                return


# ---------------------------------------------------------------------------- backup GC
class BackupGC:
    """BackupGarbageCollector (commissioner/BackupGarbageCollector.java)."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.workers = platform.workers
        self.enabled = bool(_conf(platform, "gc_enabled", True))
        self.interval = float(_conf(platform, "gc_interval_seconds", 60))
        self.max_gc = int(_conf(platform, "gc_max_expired_per_run", 10))
        self.retries = int(_conf(platform, "gc_number_of_retries", 3))
        self.retry_sleep = float(_conf(platform, "gc_delete_retry_sleep_seconds", 0.5))
        self.loop: _Loop | None = None
        self.runs = 0

    def start(self) -> None:
        if not self.enabled:
            LOG.info("Backup garbage collector disabled (lab.json platform.gc_enabled)")
            return
        try:
            self.handle_delete_in_progress_backups()
        except Exception as exc:  # noqa: BLE001 - AppInit would fail here; the lab logs and goes on
            LOG.error("Error handling DeleteInProgress backups: %s", str(exc).strip())
        self.loop = _Loop("backupGC", self.schedule_runner, self.interval)
        self.loop.thread.start()

    def handle_delete_in_progress_backups(self) -> None:
        with self.platform.connect() as conn:
            for cust in conn.execute("SELECT uuid FROM customer").fetchall():
                for b in conn.execute("SELECT backup_uuid FROM backup WHERE customer_uuid = %s AND state = "
                                      "'DeleteInProgress'", (cust["uuid"],)).fetchall():
                    tasks.transition_state(conn, str(b["backup_uuid"]), "QueuedForDeletion")

    # -------------------------------------------------------------- one run
    def schedule_runner(self) -> None:
        LOG.info("Running Backup Garbage Collector")
        try:
            with self.platform.connect() as conn:
                for cust in conn.execute("SELECT * FROM customer ORDER BY id").fetchall():
                    failed = 0
                    c_uuid = str(cust["uuid"])
                    for cfg in conn.execute("SELECT * FROM customer_config WHERE customer_uuid = %s AND type = "
                                            "'STORAGE' AND state = 'QueuedForDeletion'", (c_uuid,)).fetchall():
                        try:
                            for b in self._queued(conn, c_uuid):
                                info = tasks.as_dict(b["backup_info"])
                                if str(info.get("storageConfigUUID") or b["storage_config_uuid"]) == \
                                        str(cfg["config_uuid"]):
                                    failed += 0 if self.delete_backup(conn, cust, str(b["backup_uuid"])) else 1
                        except Exception as exc:  # noqa: BLE001
                            LOG.error("Error occurred while deleting backups associated with %s storage config: %s",
                                      cfg["config_name"], exc)
                        finally:
                            conn.execute("DELETE FROM customer_config WHERE config_uuid = %s", (cfg["config_uuid"],))
                            LOG.info("Customer Storage config %s is deleted", cfg["config_name"])
                    queued = self._queued(conn, c_uuid)
                    if queued:
                        LOG.info("Deleting %d backups for customer %s", len(queued), c_uuid)
                    for b in queued:
                        try:
                            if not self.delete_backup(conn, cust, str(b["backup_uuid"])):
                                failed += 1
                        except Exception:  # noqa: BLE001
                            LOG.exception("Error occurred while deleting backup")
                            failed += 1
                    self.workers.delete_failures_by_customer[c_uuid] = failed
                    self.workers.delete_failures = sum(self.workers.delete_failures_by_customer.values())
                for c_uuid, backups in self.completed_expired_backups(conn).items():
                    self.delete_expired_backups_for_customer(conn, c_uuid, backups)
        except Exception as exc:  # noqa: BLE001
            LOG.error("Error running backup garbage collector: %s", str(exc).strip())
        finally:
            self.runs += 1

    @staticmethod
    def _queued(conn: Any, c_uuid: str) -> list[dict[str, Any]]:
        """Backup.findAllBackupsQueuedForDeletion."""
        return conn.execute("SELECT * FROM backup WHERE customer_uuid = %s AND state IN ('QueuedForDeletion', "
                            "'QueuedForForcedDeletion')", (c_uuid,)).fetchall()

    def delete_backup(self, conn: Any, cust: dict[str, Any], backup_uuid: str) -> bool:
        """BackupGarbageCollector.deleteBackup: True when the row is gone (or a forced delete dropped it)."""
        row = conn.execute("SELECT * FROM backup WHERE customer_uuid = %s AND backup_uuid = %s",
                           (cust["uuid"], backup_uuid)).fetchone()
        if row is None or row["state"] == "Deleted":
            if row is not None:
                conn.execute("DELETE FROM backup WHERE backup_uuid = %s", (backup_uuid,))
            return True
        retry_limit = self.retries - 1
        forced = row["state"] == "QueuedForForcedDeletion"
        deleted = False
        try:
            info = tasks.as_dict(row["backup_info"])
            cfg, data = self.workers.storage_data(conn, cust["uuid"],
                                                  info.get("storageConfigUUID") or row["storage_config_uuid"])
            if cfg["name"] != "S3":
                tasks.transition_state(conn, backup_uuid, "FailedToDelete")
                LOG.error("Backup %s deletion failed due to invalid Config type %s provided", backup_uuid, cfg["name"])
            elif tasks.validate_s3_config(self.workers.state, data):  # isCredentialUsable -> BackupHelper.validateStorageConfig
                LOG.error("Error while deleting backup %s due to invalid storage config %s", backup_uuid,
                          cfg["config_uuid"])
                tasks.transition_state(conn, backup_uuid, "FailedToDelete")
            else:
                LOG.info("Backup %s deletion started", backup_uuid)
                tasks.transition_state(conn, backup_uuid, "DeleteInProgress")
                sleep = self.retry_sleep
                for attempt in range(BACKUP_DELETION_MAX_RETRIES_COUNT):
                    try:
                        tasks.delete_backup_objects(self.workers.state, data, tasks.backup_locations(info))
                        deleted = True
                        break
                    except Exception as exc:  # noqa: BLE001 - CloudUtil returns false; the loop retries
                        LOG.error("Delete of backup %s objects failed (try %d): %s", backup_uuid, attempt + 1,
                                  tasks.s3_error_message(exc, data.get("AWS_HOST_BASE")))
                        time.sleep(sleep)
                        sleep *= 2
                if deleted:
                    conn.execute("DELETE FROM backup WHERE backup_uuid = %s", (backup_uuid,))
                    LOG.info("Backup %s is successfully deleted", backup_uuid)
                elif (row["retry_count"] or 0) < retry_limit:
                    conn.execute("UPDATE backup SET retry_count = %s WHERE backup_uuid = %s",
                                 ((row["retry_count"] or 0) + 1, backup_uuid))
                    tasks.transition_state(conn, backup_uuid, "QueuedForDeletion")
                    LOG.info("Backup %s deletion failed on attempt %d", backup_uuid, (row["retry_count"] or 0) + 1)
                else:
                    tasks.transition_state(conn, backup_uuid, "FailedToDelete")
                    LOG.info("Backup %s deletion failed", backup_uuid)
        except Exception as exc:  # noqa: BLE001
            LOG.error("Error while deleting backup %s: %s", backup_uuid, str(exc).strip())
            tasks.transition_state(conn, backup_uuid, "FailedToDelete")
            deleted = False
        if not deleted:
            if not forced:
                return False
            LOG.info("Deleted backup %s forcefully", backup_uuid)
            conn.execute("DELETE FROM backup WHERE backup_uuid = %s", (backup_uuid,))
        return True

    # -------------------------------------------------------------- expired backups
    @staticmethod
    def completed_expired_backups(conn: Any) -> dict[str, list[dict[str, Any]]]:
        """Backup.getCompletedExpiredBackups: expiry < now, a COMPLETED state; not incrementals, not on paused
        universes; by customer."""
        rows = conn.execute("SELECT * FROM backup WHERE expiry < now() AND state = ANY(%s) ORDER BY create_time",
                            (list(tasks.COMPLETED_STATES),)).fetchall()
        paused: dict[str, bool] = {}
        out: dict[str, list[dict[str, Any]]] = {}
        for b in rows:
            if str(b["backup_uuid"]) != str(b["base_backup_uuid"]):
                continue
            u_uuid = str(tasks.as_dict(b["backup_info"]).get("universeUUID") or b["universe_uuid"])
            if u_uuid not in paused:
                uni = conn.execute("SELECT universe_details_json FROM universe WHERE universe_uuid::text = %s",
                                   (u_uuid,)).fetchone()
                paused[u_uuid] = bool(uni and tasks.as_dict(uni["universe_details_json"]).get("universePaused"))
            if not paused[u_uuid]:
                out.setdefault(str(b["customer_uuid"]), []).append(b)
        return out

    def delete_expired_backups_for_customer(self, conn: Any, c_uuid: str, expired: list[dict[str, Any]]) -> None:
        per_schedule: dict[str, list[dict[str, Any]]] = {}
        to_delete: list[dict[str, Any]] = []
        for b in expired:
            s_uuid = str(b["schedule_uuid"]) if b["schedule_uuid"] else None
            if s_uuid is None or not conn.execute("SELECT 1 FROM schedule WHERE schedule_uuid = %s",
                                                  (s_uuid,)).fetchone():
                to_delete.append(b)
            else:
                per_schedule.setdefault(s_uuid, []).append(b)
        for s_uuid, backups in per_schedule.items():
            to_delete.extend(self._to_delete_for_schedule(conn, c_uuid, s_uuid, backups))
        to_delete = to_delete[:self.max_gc]  # deleteExpiredBackupMaxGCSize
        cust = conn.execute("SELECT * FROM customer WHERE uuid = %s", (c_uuid,)).fetchone()
        for b in to_delete:
            if self.check_valid_storage_config(conn, b):
                self.run_delete_backup_task(conn, cust, b)
            else:
                LOG.error("Cannot delete expired backup %s as storage config %s does not exists",
                          b["backup_uuid"], b["storage_config_uuid"])
                tasks.transition_state(conn, str(b["backup_uuid"]), "FailedToDelete")

    @staticmethod
    def _to_delete_for_schedule(conn: Any, c_uuid: str, s_uuid: str,
                                expired: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """getBackupsToDeleteForSchedule: non-Completed expired ones always; Completed ones oldest first, keeping
        minNumBackupsToRetain Completed backups of the schedule."""
        total = conn.execute("SELECT count(*) AS n FROM backup WHERE customer_uuid = %s AND schedule_uuid = %s "
                             "AND state = 'Completed'", (c_uuid, s_uuid)).fetchone()["n"]
        sched = conn.execute("SELECT task_params FROM schedule WHERE schedule_uuid = %s", (s_uuid,)).fetchone()
        params = tasks.as_dict(sched["task_params"]) if sched else {}
        keep = int(params["minNumBackupsToRetain"]) if params.get("minNumBackupsToRetain") is not None \
            else MIN_NUM_BACKUPS_TO_RETAIN
        out = [b for b in expired if b["state"] != "Completed"]
        completed = sorted((b for b in expired if b["state"] == "Completed"), key=lambda b: b["create_time"])
        n = min(len(completed), max(0, int(total) - keep))
        return out + completed[:n]

    def check_valid_storage_config(self, conn: Any, b: dict[str, Any]) -> bool:
        """BackupHelper.validateStorageConfigOnBackup, any exception = invalid."""
        try:
            _cfg, data = self.workers.storage_data(conn, b["customer_uuid"], b["storage_config_uuid"])
            tasks.validate_storage_on_backup(self.workers.state, data, tasks.as_dict(b["backup_info"]))
        except Exception:  # noqa: BLE001
            return False
        return True

    def run_delete_backup_task(self, conn: Any, cust: dict[str, Any], b: dict[str, Any]) -> None:
        b_uuid = str(b["backup_uuid"])
        state = conn.execute("SELECT state FROM backup WHERE backup_uuid = %s", (b_uuid,)).fetchone()
        if state is None or state["state"] in tasks.IN_PROGRESS_STATES:
            LOG.warning("Cannot delete backup %s since it is in a progress state", b_uuid)
            return
        for t in conn.execute("SELECT details FROM task_info WHERE task_type = 'DeleteBackupYb' AND task_state = "
                              "ANY(%s)", (list(tasks.INCOMPLETE_TASK_STATES),)).fetchall():
            params = tasks.as_dict(t["details"]).get("taskParams") or {}
            if str(params.get("backupUUID")) == b_uuid:
                LOG.warning("Cannot delete backup %s since a delete backup task is already present", b_uuid)
                return
        target = b["universe_name"] or f"univ-{b['universe_uuid']}"
        task_uuid = self.workers.submit_delete_yb(conn, cust, {"email": None}, b, False, b_uuid, target,
                                                  EXPIRED_BACKUP_DELETION)
        LOG.info("Submitted task to delete expired backup %s, task uuid = %s.", b_uuid, task_uuid)


# ---------------------------------------------------------------------------- scheduler
def _cron_field(spec: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            a_s, b_s = part.split("-", 1)
            a, b = int(a_s), int(b_s)
        else:
            a = int(part)
            b = hi if step > 1 else a
        if a < lo or b > hi or step < 1:
            raise ValueError(f"cron field {spec!r} out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return out


def cron_next(expr: str, after: datetime) -> datetime:
    """The next minute after ``after`` matching a 5-field UNIX cron expression (cron-utils UNIX semantics:
    day-of-month and day-of-week are OR-ed when both are restricted; 0 and 7 are Sunday)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"not a 5-field cron expression: {expr!r}")
    minute, hour, dom, month = (_cron_field(fields[0], 0, 59), _cron_field(fields[1], 0, 23),
                                _cron_field(fields[2], 1, 31), _cron_field(fields[3], 1, 12))
    dow = {d % 7 for d in _cron_field(fields[4], 0, 7)}
    dom_any, dow_any = fields[2] == "*", fields[4] == "*"
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _i in range(366 * 24 * 60):
        day_ok = (t.day in dom) if dow_any else (t.isoweekday() % 7 in dow) if dom_any else \
            (t.day in dom or t.isoweekday() % 7 in dow)
        if t.month in month and day_ok and t.hour in hour and t.minute in minute:
            return t
        t += timedelta(minutes=1)
    raise ValueError(f"cron expression {expr!r} never fires")


def next_expected_task_time(last: datetime | None, sched: dict[str, Any], now: datetime) -> datetime:
    """Schedule.nextExpectedTaskTime: the next cron time, or last + k * frequency (the first one in the
    future; now + frequency without a last time)."""
    if sched["cron_expression"]:
        return cron_next(sched["cron_expression"], now)
    freq = timedelta(milliseconds=int(sched["frequency"]))
    if last is None:
        return now + freq
    nxt = last + freq
    if nxt <= now:
        nxt += freq * ((now - nxt) // freq + 1)
    return nxt


class Scheduler:
    """scheduler/Scheduler.java: Active schedules run when due, through the same CreateBackup path as the API."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.workers = platform.workers
        self.enabled = bool(_conf(platform, "scheduler_enabled", True))
        self.interval = float(_conf(platform, "scheduler_interval_seconds", 10))
        self.loop: _Loop | None = None
        self.running = threading.Lock()
        self.runs = 0

    def init(self) -> None:
        try:
            with self.platform.connect() as conn:
                # resetRunningStatus, then updateExpiredNextScheduledTaskTime
                conn.execute("UPDATE schedule SET running_state = false WHERE running_state")
                now = _utcnow()
                for s in conn.execute("SELECT * FROM schedule WHERE status = 'Active' AND "
                                      "(next_schedule_task_time IS NULL OR next_schedule_task_time < %s)",
                                      (now,)).fetchall():
                    if s["cron_expression"] or s["frequency"]:
                        conn.execute("UPDATE schedule SET next_schedule_task_time = %s WHERE schedule_uuid = %s",
                                     (next_expected_task_time(None, s, now), s["schedule_uuid"]))
        except Exception as exc:  # noqa: BLE001
            LOG.error("Scheduler init failed: %s", str(exc).strip())
        if not self.enabled:
            LOG.info("Scheduler disabled (lab.json platform.scheduler_enabled)")
            return
        LOG.info("Starting scheduling service")
        self.loop = _Loop("scheduler", self.schedule_runner, self.interval)
        self.loop.thread.start()

    def schedule_runner(self) -> None:
        if not self.running.acquire(blocking=False):
            LOG.info("Previous run of scheduler is still underway")
            return
        try:
            LOG.info("Running scheduler")
            with self.platform.connect() as conn:
                for s in conn.execute("SELECT * FROM schedule WHERE status = 'Active' ORDER BY schedule_name"
                                      ).fetchall():
                    if not s["cron_expression"] and not s["frequency"]:
                        LOG.error("Scheduled task does not have a recurrence specified %s", s["schedule_uuid"])
                        continue
                    try:
                        conn.execute("UPDATE schedule SET running_state = true WHERE schedule_uuid = %s",
                                     (s["schedule_uuid"],))
                        self._run_schedule(conn, s)
                    except Exception as exc:  # noqa: BLE001
                        LOG.error("Error running schedule %s: %s", s["schedule_uuid"], str(exc).strip())
                    finally:
                        conn.execute("UPDATE schedule SET running_state = false WHERE schedule_uuid = %s",
                                     (s["schedule_uuid"],))
        except Exception as exc:  # noqa: BLE001
            LOG.error("Error Running scheduler thread: %s", str(exc).strip())
        finally:
            self.runs += 1
            self.running.release()

    def _run_schedule(self, conn: Any, s: dict[str, Any]) -> None:
        now = _utcnow()
        # The previous scheduled task still running (ScheduleTask without completed time): its backup is
        # In Progress under an incomplete task.
        already = bool(conn.execute(
            "SELECT 1 FROM backup b JOIN task_info t ON t.uuid = b.task_uuid WHERE b.schedule_uuid = %s AND "
            "b.state = 'In Progress' AND t.task_state = ANY(%s) LIMIT 1",
            (s["schedule_uuid"], list(tasks.INCOMPLETE_TASK_STATES))).fetchone())
        expected = s["next_schedule_task_time"]
        if expected is None or expected <= now:
            nxt = next_expected_task_time(expected, s, now)
            expected = expected or nxt
            conn.execute("UPDATE schedule SET next_schedule_task_time = %s WHERE schedule_uuid = %s",
                         (nxt, s["schedule_uuid"]))
        if (expected <= now or s["backlog_status"]) and s["task_type"] == "CreateBackup":
            self.run_create_backup(conn, s, already)

    def run_create_backup(self, conn: Any, s: dict[str, Any], already: bool) -> None:
        """CreateBackup.runScheduledBackup."""
        params = tasks.as_dict(s["task_params"])
        u_uuid = params.get("universeUUID") or s["owner_uuid"]
        uni = conn.execute("SELECT * FROM universe WHERE universe_uuid::text = %s", (str(u_uuid),)).fetchone()
        if uni is None:
            conn.execute("UPDATE schedule SET status = 'Stopped' WHERE schedule_uuid = %s", (s["schedule_uuid"],))
            return
        details = tasks.as_dict(uni["universe_details_json"])
        config = details.get("universeConfig") if isinstance(details.get("universeConfig"), dict) else {}
        should_take = not details.get("universePaused") and str(config.get("takeBackups", "true")) == "true"
        # YBA's CreateBackup sets the universe's backupInProgress; the lab's backups do not lock the universe,
        # so a backup of it that is In Progress under a live task stands for that flag.
        busy = bool(details.get("backupInProgress") or details.get("updateInProgress")) or bool(conn.execute(
            "SELECT 1 FROM backup b JOIN task_info t ON t.uuid = b.task_uuid WHERE b.universe_uuid = %s AND "
            "b.state = 'In Progress' AND t.task_state = ANY(%s) LIMIT 1",
            (uni["universe_uuid"], list(tasks.INCOMPLETE_TASK_STATES))).fetchone())
        if already or not should_take or busy:
            if should_take:
                conn.execute("UPDATE schedule SET backlog_status = true WHERE schedule_uuid = %s",
                             (s["schedule_uuid"],))
                LOG.debug("Schedule %s backlog status is set to true", s["schedule_uuid"])
            LOG.warning("Cannot run Backup task on universe %s due to the state %s", uni["universe_uuid"],
                        "already running" if already else "backup in progress/locked/paused")
            return
        cust = conn.execute("SELECT * FROM customer WHERE uuid = %s", (s["customer_uuid"],)).fetchone()
        cfg = conn.execute("SELECT * FROM customer_config WHERE config_uuid::text = %s AND customer_uuid = %s",
                           (str(params.get("storageConfigUUID")), s["customer_uuid"])).fetchone()
        if cfg is None or cfg["state"] != "Active":
            LOG.error("Storage config cannot be used as it is not in Active state (schedule %s)", s["schedule_uuid"])
            return
        unit = str(params.get("expiryTimeUnit") or "DAYS").upper()
        unit = unit if unit in tasks.TIME_UNIT_DB else "DAYS"
        body = {k: params[k] for k in ("keyspaceTableList", "backupType", "backupCategory", "parallelism", "sse",
                                       "useTablespaces", "tableByTableBackup") if params.get(k) is not None}
        body.update({"scheduleUUID": str(s["schedule_uuid"]), "scheduleName": s["schedule_name"]})
        result = self.workers.submit_backup(conn, cust, {"email": s["user_email"]}, uni, cfg, body, unit,
                                            int(params.get("timeBeforeDelete") or 0))
        if s["backlog_status"]:
            conn.execute("UPDATE schedule SET backlog_status = false WHERE schedule_uuid = %s", (s["schedule_uuid"],))
        LOG.info("Submitted backup for universe: %s, task uuid = %s.", uni["universe_uuid"], result["taskUUID"])


class Background:
    """The GC and the scheduler of one platform process."""

    def __init__(self, platform: Any) -> None:
        self.gc = BackupGC(platform)
        self.scheduler = Scheduler(platform)

    def start(self) -> "Background":
        self.gc.start()
        self.scheduler.init()
        return self

    def stop(self) -> None:
        for loop in (self.gc.loop, self.scheduler.loop):
            if loop is not None:
                loop.stop_event.set()


def start(platform: Any) -> Background:
    """AppInit's order after handleAllPendingTasks: backupGC.start(), then scheduler.init()."""
    return Background(platform).start()


__all__ = ["Background", "BackupGC", "Scheduler", "start", "cron_next", "next_expected_task_time"]
