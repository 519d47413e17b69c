"""Tasks of the simulated platform: backup/delete workers that really touch disk and S3, and YBA's
start-up reconciliation of pending tasks (CustomerTaskManager.handleAllPendingTasks, FACTS 3.8)."""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
import time
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from typing import Any

from . import crypto, paths, s3client, storage_check
from .s3client import parse_location, s3_error_message  # noqa: F401 - tasks.parse_location etc. for callers

LOG = logging.getLogger("yba.tasks")

INCOMPLETE_TASK_STATES = ("Created", "Initializing", "Running", "Abort")
PLATFORM_RESTARTED = "Platform restarted."
DEFAULT_STAGE_BYTES = 8 << 20
UPLOAD_BYTES = 1 << 20
DATA_PARTS = 2  # data objects per keyspace location (the staged file's first UPLOAD_BYTES, split)
# Backup duration (lab.json platform.* keys, overridden at run time by <lab dir>/knobs.json, read at each
# backup's start: `python -m ybalab backup-speed`): backup_seconds + staged bytes / backup_bytes_per_second.
DEFAULT_BACKUP_SECONDS = 0.0
DEFAULT_BACKUP_BYTES_PER_SECOND = 16 << 20  # 8 MiB staged by default: 0.5 s
KNOB_KEYS = ("backup_seconds", "backup_bytes_per_second", "backup_stage_bytes")
KNOBS_FILE = "knobs.json"
YBC_BACKUP_IDENTIFIER = "ybc_backup"   # BackupUtil.YBC_BACKUP_IDENTIFIER
YBC_SUCCESS_MARKER = "success"         # YbcBackupUtil.YBC_SUCCESS_MARKER_FILE_NAME
SNAPSHOT_PB = "SnapshotInfoPB"         # BackupUtil.SNAPSHOT_PB (script backups)
YSQL_DUMP = "YSQLDump"                 # BackupUtil.YSQL_DUMP (script backups of YSQL)
# "All keyspaces of backupType" when a request names none (keyspaceTableList null): the lab's universes have one
# database/keyspace per API (YBA lists them from the universe's tables).
DEFAULT_KEYSPACES = {"PGSQL_TABLE_TYPE": ["yugabyte"], "YQL_TABLE_TYPE": ["northgate"],
                     "REDIS_TABLE_TYPE": ["system_redis"]}
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
TIME_UNIT_DB = {"NANOSECONDS": "NanoSeconds", "MICROSECONDS": "MicroSeconds", "MILLISECONDS": "MilliSeconds",
                "SECONDS": "Seconds", "MINUTES": "Minutes", "HOURS": "Hours", "DAYS": "Days",
                "MONTHS": "Months", "YEARS": "Years"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def fmt_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# ---------------------------------------------------------------------------- task rows
def new_task(conn: Any, cust: dict[str, Any], user: dict[str, Any], task_type: str, ct_type: str,
             target_type: str, target_name: str, target_uuid: str, params: dict[str, Any],
             state: str = "Created", custom_type_name: str | None = None) -> str:
    task_uuid = str(uuidlib.uuid4())
    conn.execute("INSERT INTO task_info (uuid, task_type, task_state, details, owner, percent_done) "
                 "VALUES (%s, %s, %s, %s, %s, 0)",
                 (task_uuid, task_type, state, json.dumps({"taskParams": params}), "127.0.0.1"))
    conn.execute("INSERT INTO customer_task (customer_uuid, task_uuid, type, target_type, target_name, "
                 "target_uuid, custom_type_name, correlation_id, user_email) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (cust["uuid"], task_uuid, ct_type, target_type, target_name, target_uuid, custom_type_name,
                  str(uuidlib.uuid4()), user.get("email")))
    return task_uuid


def _merge_details(conn: Any, task_uuid: str, extra: dict[str, Any]) -> str:
    row = conn.execute("SELECT details FROM task_info WHERE uuid = %s", (task_uuid,)).fetchone()
    details = dict(as_dict(row["details"])) if row else {}
    details.update(extra)
    return json.dumps(details)


def set_task(conn: Any, task_uuid: str, state: str, percent: int | None = None) -> None:
    conn.execute("UPDATE task_info SET task_state = %s, percent_done = COALESCE(%s, percent_done), "
                 "update_time = now() WHERE uuid = %s", (state, percent, task_uuid))


def finish_task(conn: Any, task_uuid: str, state: str, error: str | None = None) -> None:
    extra: dict[str, Any] = {}
    if error:
        extra = {"errorString": error}
    conn.execute("UPDATE task_info SET task_state = %s, percent_done = %s, update_time = now(), details = %s "
                 "WHERE uuid = %s",
                 (state, 100 if state == "Success" else None, _merge_details(conn, task_uuid, extra), task_uuid))
    conn.execute("UPDATE customer_task SET completion_time = now() WHERE task_uuid = %s", (task_uuid,))


_VERBS = {"Create": ("Creating", "Created"), "Delete": ("Deleting", "Deleted"), "Backup": ("Backing up", "Backed up"),
          "Restore": ("Restoring", "Restored"), "Update": ("Updating", "Updated"), "Edit": ("Editing", "Edited")}


def task_title(ct: dict[str, Any]) -> str:
    doing, done = _VERBS.get(ct["type"], (ct["type"], ct["type"]))
    verb = done if ct.get("completion_time") else doing
    return f"{verb} {ct['target_type']} : {ct['target_name']}"


def _details(raw: Any) -> dict[str, Any]:
    return as_dict(raw)


def task_status_json(ct: dict[str, Any], ti: dict[str, Any]) -> dict[str, Any]:
    running = ti["task_state"] in INCOMPLETE_TASK_STATES
    # As YBA's CommissionerImpl: no error text here; clients read it from tasks/{t}/failed_subtasks.
    step = {"title": ti["task_type"], "description": task_title(ct), "state": ti["task_state"],
            "extraDetails": []}
    out = {
        "title": task_title(ct), "createTime": fmt_time(ct["create_time"]),
        "completionTime": fmt_time(ct["completion_time"]), "target": ct["target_type"],
        "targetUUID": str(ct["target_uuid"]), "type": ct["type"],
        "typeName": ct["custom_type_name"] or f"{ct['type']} {ct['target_type']}",
        "status": ti["task_state"], "percent": ti["percent_done"] or 0,
        "details": {"taskDetails": [step]},
        "abortable": running and ti["task_type"] == "CreateBackup", "retryable": False,
        "correlationId": ct["correlation_id"], "userEmail": ct["user_email"],
    }
    return {k: v for k, v in out.items() if v is not None}


def customer_task_json(row: dict[str, Any]) -> dict[str, Any]:
    running = row["task_state"] in INCOMPLETE_TASK_STATES
    out = {
        "id": str(row["task_uuid"]), "title": task_title(row), "createTime": fmt_time(row["create_time"]),
        "completionTime": fmt_time(row["completion_time"]), "target": row["target_type"],
        "targetUUID": str(row["target_uuid"]), "type": row["type"],
        "typeName": row["custom_type_name"] or f"{row['type']} {row['target_type']}",
        "status": row["task_state"], "percentComplete": row["percent_done"] or 0,
        "correlationId": row["correlation_id"], "userEmail": row["user_email"],
        "abortable": running and row["task_type"] == "CreateBackup", "retryable": False,
    }
    return {k: v for k, v in out.items() if v is not None}


def failed_subtask_json(row: dict[str, Any]) -> dict[str, Any]:
    details = _details(row["details"])
    out = {"subTaskUUID": str(row["uuid"]), "subTaskType": row["task_type"], "subTaskState": row["task_state"],
           "subTaskGroupType": row["sub_task_group_type"] or "Invalid",
           "creationTime": fmt_time(row["create_time"]),
           "errorString": details.get("errorString")
           or (details["error"].get("message") if isinstance(details.get("error"), dict) else None)}
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------------------- backup state machine
# Backup.ALLOWED_TRANSITIONS (models/Backup.java, the newer map that also has DeleteInProgress ->
# QueuedForDeletion and Stopped -> FailedToDelete, as the GC read at 04dba83 needs): transitionState()
# ignores (and logs) any other move.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    "In Progress": {"Completed", "Failed", "Skipped", "FailedToDelete", "Stopping", "Stopped", "QueuedForDeletion"},
    "Completed": {"Deleted", "FailedToDelete", "Stopping", "Stopped", "QueuedForDeletion"},
    "Failed": {"Deleted", "FailedToDelete", "Stopping", "Stopped", "QueuedForDeletion"},
    "FailedToDelete": {"Deleted", "QueuedForDeletion"},
    "Stopped": {"Deleted", "QueuedForDeletion", "In Progress", "FailedToDelete"},
    "Stopping": {"Stopped", "QueuedForDeletion"},
    "Skipped": {"QueuedForDeletion"},
    "Deleted": {"QueuedForDeletion"},
    "QueuedForDeletion": {"FailedToDelete", "DeleteInProgress", "QueuedForForcedDeletion"},
    "QueuedForForcedDeletion": {"FailedToDelete", "DeleteInProgress"},
    "DeleteInProgress": {"FailedToDelete", "QueuedForDeletion"},
}
IN_PROGRESS_STATES = ("In Progress", "QueuedForDeletion", "DeleteInProgress")  # Backup.IN_PROGRESS_STATES
COMPLETED_STATES = ("Completed", "Failed", "Stopped", "Skipped")               # Backup.COMPLETED_STATES


def transition_state(conn: Any, backup_uuid: str, new_state: str) -> bool:
    """Backup.transitionState: re-read the state, move only along ALLOWED_TRANSITIONS; True when moved."""
    row = conn.execute("SELECT state FROM backup WHERE backup_uuid = %s", (backup_uuid,)).fetchone()
    if row is None or row["state"] == new_state:
        return False
    if new_state not in ALLOWED_TRANSITIONS.get(row["state"], set()):
        LOG.error("Ignored INVALID STATE TRANSITION  %s -> %s", row["state"], new_state)
        return False
    conn.execute("UPDATE backup SET state = %s, update_time = now() WHERE backup_uuid = %s AND state = %s",
                 (new_state, backup_uuid, row["state"]))
    return True


def as_dict(raw: Any) -> dict[str, Any]:
    """A json column's value as a dict, whether the column is json (psycopg parses it) or text."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def backup_locations(info: dict[str, Any]) -> list[str]:
    """BackupUtil.getBackupLocations: the backup's own location and every keyspace's."""
    locs = {info.get("storageLocation")} | {
        s.get("storageLocation") for s in info.get("backupList") or [] if isinstance(s, dict)}
    return sorted(loc for loc in locs if isinstance(loc, str) and loc)


# ---------------------------------------------------------------------------- reconciliation
UNIVERSE_TARGETS = ("Universe", "Cluster", "Node", "MasterNode")  # CustomerTask.TargetType.isUniverseTarget


def _fail_task_row(conn: Any, task_uuid: str, raw_details: Any) -> None:
    """CustomerTaskManager.setTaskError: Failure, and errorString "Platform restarted." only if absent."""
    details = as_dict(raw_details)
    if details.get("errorString") is None:
        details["errorString"] = PLATFORM_RESTARTED
    conn.execute("UPDATE task_info SET task_state = 'Failure', update_time = now(), details = %s WHERE uuid = %s",
                 (json.dumps(details), task_uuid))


def _mark_completed(conn: Any, ct_id: int) -> None:
    """CustomerTask.markAsCompleted: sets completion_time only when it is null."""
    conn.execute("UPDATE customer_task SET completion_time = now() WHERE id = %s AND completion_time IS NULL",
                 (ct_id,))


def _unlock_universe(conn: Any, universe: dict[str, Any]) -> None:
    details = as_dict(universe["universe_details_json"])
    if details.get("backupInProgress") or details.get("updateInProgress"):
        details["backupInProgress"] = False
        details["updateInProgress"] = False
        conn.execute("UPDATE universe SET universe_details_json = %s WHERE universe_uuid = %s",
                     (json.dumps(details), universe["universe_uuid"]))
        LOG.debug("Unlocked universe %s.", universe["universe_uuid"])


def handle_pending_task(conn: Any, workers: Any, ct: dict[str, Any], ti: dict[str, Any]) -> None:
    """CustomerTaskManager.handlePendingTask for one pending task (statements commit one by one, as Ebean's saves).

    Backups of a Backup/Create task that are In Progress or Stopped: script backups -> Failed (a Stopped one
    stays Stopped: Stopped -> Failed is not an allowed transition); YBC backups -> Failed only when the
    universe is gone, else the task is resumed: a new CreateBackup task re-runs the same backup row
    (``Workers.resume_backup``), customer_task.task_uuid is rewritten to it and the old task_info rows are
    deleted. The source resumes only when the universe's ``updatingTaskUUID`` is this task; the lab's backups do
    not lock the universe, so a missing ``updatingTaskUUID`` counts as a match and a different one does not.
    """
    task_uuid = str(ti["uuid"])
    try:
        for sub in conn.execute("SELECT uuid, details FROM task_info WHERE parent_uuid = %s AND task_state = ANY(%s)",
                                (task_uuid, list(INCOMPLETE_TASK_STATES))).fetchall():
            _fail_task_row(conn, str(sub["uuid"]), sub["details"])
        universe = conn.execute("SELECT * FROM universe WHERE universe_uuid = %s", (ct["target_uuid"],)).fetchone()
        unlock = ct["target_type"] in UNIVERSE_TARGETS
        resume: list[dict[str, Any]] = []
        if ct["target_type"] == "Backup":
            if ct["type"] == "Create":
                backups = conn.execute("SELECT * FROM backup WHERE task_uuid = %s AND state IN ('In Progress', "
                                       "'Stopped')", (task_uuid,)).fetchall()
                for b in backups:
                    if b["category"] == "YB_BACKUP_SCRIPT" or universe is None:
                        transition_state(conn, str(b["backup_uuid"]), "Failed")
                    else:
                        resume.append(b)
                unlock = True
            elif ct["type"] == "Restore":
                unlock = True
        elif ct["type"] == "Restore":
            unlock = True
        if unlock and universe is not None:
            _unlock_universe(conn, universe)
        if ti["task_state"] in INCOMPLETE_TASK_STATES:  # marked a failure after the universe is unlocked
            _fail_task_row(conn, task_uuid, ti["details"])
        try:
            if resume and universe is not None and ti["task_type"] == "CreateBackup" and workers is not None:
                updating = as_dict(universe["universe_details_json"]).get("updatingTaskUUID")
                if updating and str(updating) != task_uuid:
                    LOG.debug("Invalid task state: Task %s cannot be resumed", task_uuid)
                    _mark_completed(conn, ct["id"])
                    return
                new_task = workers.resume_backup(conn, ct, ti, resume[0])
                with conn.transaction():
                    conn.execute("UPDATE customer_task SET task_uuid = %s, completion_time = NULL WHERE id = %s",
                                 (new_task, ct["id"]))
                    conn.execute("DELETE FROM task_info WHERE parent_uuid = %s", (task_uuid,))
                    conn.execute("DELETE FROM task_info WHERE uuid = %s", (task_uuid,))
                workers.start_resumed(new_task)
                LOG.info("Resume Task: true (%s -> %s)", task_uuid, new_task)
            else:
                _mark_completed(conn, ct["id"])
        except Exception:
            _mark_completed(conn, ct["id"])
            raise
    except Exception as exc:  # noqa: BLE001 - as the source: log and go on with the next task
        LOG.error("Error encountered failing task %s: %s", task_uuid, str(exc).strip())


PENDING_TASKS_SQL = (
    "SELECT ti.uuid AS task_uuid, ct.id AS customer_task_id FROM task_info ti, customer_task ct "
    "WHERE ti.uuid = ct.task_uuid AND (ct.completion_time IS NULL OR ti.task_state IN "
    "('Created', 'Initializing', 'Running', 'Abort'))")


def reconcile(conn: Any, workers: Any = None) -> dict[str, Any]:
    """CustomerTaskManager.handleAllPendingTasks (AppInit step 2): only pending tasks, each handled alone.

    One exception in the initial query (e.g. a corrupted index) aborts the whole pass, as in YBA. The
    DeleteInProgress -> QueuedForDeletion step belongs to BackupGarbageCollector.start and
    Scheduler.init resets running_state (background.py); the newer CustomerTaskManager also moves schedules
    left in Creating/Editing/Deleting to Error.
    """
    counts: dict[str, Any] = {"pending": 0}
    LOG.info("Handle the pending tasks...")
    try:
        rows = conn.execute(PENDING_TASKS_SQL).fetchall()
        counts["pending"] = len(rows)
        for row in rows:
            ti = conn.execute("SELECT * FROM task_info WHERE uuid = %s", (row["task_uuid"],)).fetchone()
            ct = conn.execute("SELECT * FROM customer_task WHERE id = %s", (row["customer_task_id"],)).fetchone()
            if ti is None or ct is None:
                continue
            handle_pending_task(conn, workers, ct, ti)
    except Exception as exc:  # noqa: BLE001 - YBA logs it and keeps starting
        counts["error"] = str(exc).strip()
        LOG.error("Encountered error failing pending tasks: %s", str(exc).strip())
    try:
        counts["schedules_errored"] = conn.execute(
            "UPDATE schedule SET status = 'Error', running_state = false "
            "WHERE status IN ('Creating', 'Editing', 'Deleting') AND task_type = 'CreateBackup'").rowcount
    except Exception as exc:  # noqa: BLE001
        LOG.error("Error while updating intermediate schedules: %s", str(exc).strip())
    LOG.info("handleAllPendingTasks: %s", counts)
    return counts


# ---------------------------------------------------------------------------- S3
# One client factory and one field check for the whole platform: s3client.py, storage_check.py.
def s3_client(state: dict[str, Any], data: dict[str, Any]) -> Any:
    """The tasks' S3 client for a storage config's data (s3client.client with TASK_LIMITS and the platform's
    trusted CAs; cached)."""
    return s3client.client(data, s3client.TASK_LIMITS, s3client.ca_trust(state))


def validate_s3_config(state: dict[str, Any], data: dict[str, Any]) -> dict[str, list[str]]:
    """isCredentialUsable -> BackupHelper.validateStorageConfig as the GC uses it: the config's fields
    (storage_check.check_fields), then READ + LIST on the bucket; {} when valid, else {field: [message]}."""
    try:
        storage_check.check_fields(data)
    except storage_check.StorageInvalid as exc:
        return dict(exc.errors)
    location = data["BACKUP_LOCATION"]
    host = data.get("AWS_HOST_BASE")
    bucket, prefix = parse_location(location)
    try:
        client = s3_client(state, data)
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        for obj in listed.get("Contents", [])[:1]:
            client.head_object(Bucket=bucket, Key=obj["Key"])
    except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a field error, as in YBA
        from botocore import exceptions as bex

        if isinstance(exc, bex.ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return {"data.BACKUP_LOCATION": [f"S3 URI path {location} doesn't exist"]}
        return {"data.BACKUP_LOCATION": [f"Cannot access S3 bucket {bucket}: {s3_error_message(exc, host)}"]}
    return {}


# ---------------------------------------------------------------------------- backup category, layout, speed
def backup_category(requested: Any, backup_type: str, universe_details: dict[str, Any]) -> str:
    """BackupHelper/CreateBackup: ``ybcBackup = backupCategory != YB_BACKUP_SCRIPT && universe.isYbcEnabled() &&
    backupType != REDIS`` (Universe.isYbcEnabled = universeDetails.ybcInstalled); a null category therefore means
    YB_CONTROLLER on a YBC universe."""
    ybc = (requested != "YB_BACKUP_SCRIPT" and bool(universe_details.get("ybcInstalled"))
           and backup_type != "REDIS_TABLE_TYPE")
    return "YB_CONTROLLER" if ybc else "YB_BACKUP_SCRIPT"


def join_location(prefix: str, suffix: str) -> str:
    """BackupUtil.getPathWithPrefixSuffixJoin."""
    if not prefix:
        return suffix
    if not suffix:
        return prefix
    if prefix.endswith("/") and suffix.startswith("/"):
        return prefix[:-1] + suffix
    return prefix + suffix if prefix.endswith("/") or suffix.startswith("/") else f"{prefix}/{suffix}"


def backup_folder(universe_uuid: str, base_backup_uuid: str, ts: str, ybc: bool, full: bool = True) -> str:
    """``univ-<u>/<ybc_backup|backup>-<base uuid without dashes>/<full|incremental>/<ts>``: the part of
    BackupUtil.formatStorageLocation (V2, with backupLocationTS) every keyspace location of a backup shares."""
    label = YBC_BACKUP_IDENTIFIER if ybc else "backup"
    return (f"univ-{universe_uuid}/{label}-{base_backup_uuid.replace('-', '')}/"
            f"{'full' if full else 'incremental'}/{ts}")


def storage_location(backup_location: str, universe_uuid: str, base_backup_uuid: str, ts: str, keyspace: str,
                     params_identifier: str, ybc: bool, tables: bool = False) -> str:
    """BackupUtil.formatStorageLocation(params, isYbc, V2, backupLocationTS) joined to the config's
    BACKUP_LOCATION (updateDefaultStorageLocation): ``.../keyspace-<ks>_<paramsId>`` for a whole keyspace,
    ``.../multi-table-<ks>_<paramsId>`` when tables are named; paramsId = backupParamsIdentifier without dashes."""
    leaf = f"{'multi-table' if tables else 'keyspace'}-{keyspace}_{params_identifier.replace('-', '')}"
    return join_location(backup_location, f"{backup_folder(universe_uuid, base_backup_uuid, ts, ybc)}/{leaf}")


def knobs_path(state: dict[str, Any]) -> str:
    """``<lab dir>/knobs.json``: run-time knobs (``python -m ybalab backup-speed``), read at each backup."""
    return os.path.join(state["dir"], KNOBS_FILE)


def backup_knobs(state: dict[str, Any]) -> dict[str, float]:
    """The backup speed knobs: lab.json ``platform.{backup_seconds, backup_bytes_per_second,
    backup_stage_bytes}`` (read at platform start), each overridden by ``<lab dir>/knobs.json`` when present."""
    plat = state.get("platform") or {}
    out = {"backup_seconds": float(plat.get("backup_seconds") or DEFAULT_BACKUP_SECONDS),
           "backup_bytes_per_second": float(plat.get("backup_bytes_per_second", DEFAULT_BACKUP_BYTES_PER_SECOND)
                                            or 0),
           "backup_stage_bytes": int(plat.get("backup_stage_bytes") or DEFAULT_STAGE_BYTES)}
    try:
        with open(knobs_path(state), encoding="utf-8") as fh:
            over = json.load(fh)
    except (OSError, ValueError):
        over = {}
    if isinstance(over, dict):
        for key in KNOB_KEYS:
            if isinstance(over.get(key), (int, float)) and not isinstance(over.get(key), bool) and over[key] >= 0:
                out[key] = over[key]
    return out


def backup_duration(knobs: dict[str, float], staged_bytes: int) -> float:
    """Seconds a backup takes: backup_seconds + staged bytes / backup_bytes_per_second (0 = no size part)."""
    rate = float(knobs.get("backup_bytes_per_second") or 0)
    return float(knobs.get("backup_seconds") or 0) + (staged_bytes / rate if rate > 0 else 0.0)


# ---------------------------------------------------------------------------- workers
class BackupStopped(Exception):
    """The backup was stopped through the API."""


class Workers:
    """Runs submitted tasks in threads; each opens its own DB connection."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.lock = threading.Lock()
        self.running: dict[str, threading.Event] = {}  # backup_uuid -> stop event
        self.pending: dict[str, tuple[Any, ...]] = {}  # resumed task -> _run_backup args, until started
        # ybp_delete_backup_failure: failed GC deletions of the last run, per customer (set by background.py);
        # delete_failures is their sum, for the unlabelled line api.prometheus_metrics prints.
        self.delete_failures_by_customer: dict[str, int] = {}
        self.delete_failures = 0

    @property
    def state(self) -> dict[str, Any]:
        return self.platform.state

    def stage_bytes(self) -> int:
        return int(backup_knobs(self.state)["backup_stage_bytes"])

    def submit_backup(self, conn: Any, cust: dict[str, Any], user: dict[str, Any], uni: dict[str, Any],
                      cfg: dict[str, Any], body: dict[str, Any], unit: str, tbd: int) -> dict[str, Any]:
        """BackupHelper.createBackupTask's submission: the category as YBA decides it, one BackupTableParams per
        keyspace with its V2 location (BackupUtil.updateDefaultStorageLocation), the backup row In Progress under
        a new CreateBackup task, then the upload in a thread."""
        data = crypto.decrypt(self.state, cfg["data"]) if cfg["name"] == "S3" else {}
        backup_uuid = str(uuidlib.uuid4())
        now = utcnow()
        backup_type = body.get("backupType") or "PGSQL_TABLE_TYPE"
        category = backup_category(body.get("backupCategory"), backup_type, as_dict(uni["universe_details_json"]))
        ybc = category == "YB_CONTROLLER"
        base = data.get("BACKUP_LOCATION", "s3://unknown")
        ts = now.strftime("%Y-%m-%dT%H:%M:%S")  # Backup.create: backupLocationTS (the lab's JVM runs in UTC)
        keyspaces = body.get("keyspaceTableList") or [{"keyspace": k} for k in DEFAULT_KEYSPACES.get(backup_type, [])]
        backup_list = []
        for ks in keyspaces:
            name = (ks or {}).get("keyspace") or "yugabyte"
            tables = list((ks or {}).get("tableNameList") or [])
            table_uuids = list((ks or {}).get("tableUUIDList") or [])
            params_id = str(uuidlib.uuid4())
            backup_list.append({
                "keyspace": name, "tableNameList": tables, "tableUUIDList": table_uuids,
                "storageLocation": storage_location(base, str(uni["universe_uuid"]), backup_uuid, ts, name,
                                                    params_id, ybc, bool(tables or table_uuids)),
                "backupSizeInBytes": 0, "backupParamsIdentifier": params_id, "baseBackupUUID": backup_uuid,
                "storageConfigUUID": str(cfg["config_uuid"]), "universeUUID": str(uni["universe_uuid"]),
                "backupUuid": backup_uuid, "backupType": backup_type,
            })
        info = {
            "backupUuid": backup_uuid, "baseBackupUUID": backup_uuid, "customerUuid": str(cust["uuid"]),
            "universeUUID": str(uni["universe_uuid"]), "storageConfigUUID": str(cfg["config_uuid"]),
            "storageConfigType": cfg["name"],
            "storageLocation": join_location(base, backup_folder(str(uni["universe_uuid"]), backup_uuid, ts, ybc)),
            "backupType": backup_type, "backupList": backup_list, "timeBeforeDelete": tbd, "expiryTimeUnit": unit,
            "sse": bool(body.get("sse", False)), "parallelism": int(body.get("parallelism") or 8),
            "backupSizeInBytes": 0, "fullChainSizeInBytes": 0, "isFullBackup": True, "actionType": "CREATE",
            "tableByTableBackup": bool(body.get("tableByTableBackup", False)),
            "useTablespaces": bool(body.get("useTablespaces", False)),
            "scheduleUUID": body.get("scheduleUUID"), "scheduleName": body.get("scheduleName"),
        }
        info = {k: v for k, v in info.items() if v is not None}
        params = dict(body)
        params.update({"backupUUID": backup_uuid, "customerUUID": str(cust["uuid"]), "backupCategory": category})
        with conn.transaction():
            task_uuid = new_task(conn, cust, user, "CreateBackup", "Create", "Backup", uni["name"],
                                 str(uni["universe_uuid"]), params)
            conn.execute(
                "INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, "
                "backup_info, state, task_uuid, schedule_uuid, schedule_name, expiry_time_unit, create_time, "
                "update_time, category, version, base_backup_uuid) VALUES "
                "(%s, %s, %s, %s, %s, %s, 'In Progress', %s, %s, %s, %s, %s, %s, %s, 'V2', %s)",
                (backup_uuid, cust["uuid"], uni["universe_uuid"], cfg["config_uuid"], uni["name"], json.dumps(info),
                 task_uuid, body.get("scheduleUUID"), body.get("scheduleName"),
                 TIME_UNIT_DB.get(unit, "Days"), now, now, category, backup_uuid))
        stop = threading.Event()
        with self.lock:
            self.running[backup_uuid] = stop
        threading.Thread(target=self._run_backup, name=f"backup-{backup_uuid[:8]}",
                         args=(backup_uuid, task_uuid, data, info, tbd, stop, category), daemon=True).start()
        return {"taskUUID": task_uuid, "resourceUUID": str(uni["universe_uuid"])}

    def _stage(self, backup_uuid: str, stop: threading.Event, stage_bytes: int) -> str:
        stage_dir = os.path.join(paths.storage_path(self.state), "backup_staging")
        path = os.path.join(stage_dir, f"{backup_uuid}.tar.gz")
        os.makedirs(stage_dir, exist_ok=True)
        remaining = stage_bytes
        chunk = os.urandom(1 << 20)
        try:
            with open(path, "wb") as fh:
                while remaining > 0:
                    if stop.is_set():
                        raise BackupStopped()
                    n = min(remaining, len(chunk))
                    fh.write(chunk[:n])
                    remaining -= n
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            try:
                os.unlink(path)  # a partial staging file must not keep the disk full
            except OSError:
                pass
            raise
        return path

    @staticmethod
    def _objects(sub: dict[str, Any], category: str, backup_type: str, data: bytes) -> list[tuple[str, bytes]]:
        """(key suffix, body) of one keyspace location in upload order. YBC (YbcBackupUtil): the tablets' data,
        then the ``success`` marker LAST (restore preflight checks it; its content is the backup's metadata).
        Script (yb_backup.py): the tablets' data, the YSQL dump (YSQL only), then SnapshotInfoPB."""
        tablet = uuidlib.uuid4().hex
        step = max(1, -(-len(data) // DATA_PARTS))
        out = [(f"tablet-{tablet}/{n:06d}.sst", data[i:i + step]) for n, i in enumerate(range(0, len(data), step))]
        if category == "YB_CONTROLLER":
            marker = {"backupUUID": sub["backupUuid"], "keyspace": sub["keyspace"], "backupType": backup_type,
                      "backupParamsIdentifier": sub.get("backupParamsIdentifier"),
                      "snapshotObjectDetails": [{"tabletId": tablet, "files": len(out)}]}
            out.append((YBC_SUCCESS_MARKER, json.dumps(marker, sort_keys=True).encode()))
        else:
            if backup_type == "PGSQL_TABLE_TYPE":
                out.append((YSQL_DUMP, f"-- YSQL dump of {sub['keyspace']}\n".encode()))
            out.append((SNAPSHOT_PB, b"\x0a\x10snapshot" + tablet.encode()))
        return out

    def _run_backup(self, backup_uuid: str, task_uuid: str, data: dict[str, Any], info: dict[str, Any],
                    tbd: int, stop: threading.Event, category: str = "YB_CONTROLLER") -> None:
        """The upload: stage ``backup_stage_bytes`` on the data volume, then PUT every object of every keyspace
        location, spread over the backup's duration (``backup_knobs``) so that a storage fault that starts
        mid-backup fails it; the S3 error is the task's error (tasks/{t}/failed_subtasks)."""
        started = time.monotonic()
        knobs = backup_knobs(self.state)
        staged: str | None = None
        outcome, error = "Success", None
        try:
            with self.platform.connect() as conn:
                set_task(conn, task_uuid, "Running", 10)
            staged = self._stage(backup_uuid, stop, int(knobs["backup_stage_bytes"]))
            staged_size = os.path.getsize(staged)
            with open(staged, "rb") as fh:
                # The staged data "compresses" to its first UPLOAD_BYTES: real bytes reach S3 while moto's CPU cost
                # stays low enough for many concurrent backups on a small machine.
                head = fh.read(UPLOAD_BYTES)
            with self.platform.connect() as conn:
                set_task(conn, task_uuid, "Running", 40)
            if not data:
                raise RuntimeError("Only S3 storage configs are supported by the lab")
            client = s3_client(self.state, data)
            backup_type = info.get("backupType") or "PGSQL_TABLE_TYPE"
            puts = [(sub, suffix, body) for sub in info["backupList"]
                    for suffix, body in self._objects(sub, category, backup_type, head)]
            duration = backup_duration(knobs, staged_size)
            uploaded: dict[int, int] = {}
            for n, (sub, suffix, body) in enumerate(puts, 1):
                # each PUT at its share of the duration: the last one (a success marker) at its end
                if stop.wait(max(0.0, started + duration * n / len(puts) - time.monotonic())):
                    raise BackupStopped()
                bucket, key = parse_location(sub["storageLocation"])
                try:
                    client.put_object(Bucket=bucket, Key=f"{key}/{suffix}", Body=body)
                except Exception as exc:  # noqa: BLE001 - the keyspace's subtask fails with the SDK's message
                    self._failed_subtask(task_uuid, info["backupList"].index(sub), category,
                                         s3_error_message(exc, data.get("AWS_HOST_BASE")))
                    raise
                uploaded[id(sub)] = uploaded.get(id(sub), 0) + len(body)
            # the size YBA reports is what the backup occupies in the storage: the objects' bytes
            for sub in info["backupList"]:
                sub["backupSizeInBytes"] = uploaded.get(id(sub), 0)
            info["backupSizeInBytes"] = info["fullChainSizeInBytes"] = sum(uploaded.values())
            if stop.is_set():
                raise BackupStopped()
        except BackupStopped:
            outcome = "Aborted"
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                error = f"Failed to stage backup data: [Errno 28] No space left on device: '{exc.filename or ''}'"
            else:
                error = s3_error_message(exc, data.get("AWS_HOST_BASE")) if "botocore" in type(exc).__module__ \
                    else f"{type(exc).__name__}: {exc}"
            outcome = "Failure"
        except Exception as exc:  # noqa: BLE001 - a failed task, never a dead worker
            error = s3_error_message(exc, data.get("AWS_HOST_BASE"))
            outcome = "Failure"
        finally:
            if staged:
                try:
                    os.unlink(staged)
                except OSError:
                    pass
            with self.lock:
                self.running.pop(backup_uuid, None)
        try:
            with self.platform.connect() as conn, conn.transaction():
                now = utcnow()
                if outcome == "Success":
                    expiry = now + timedelta(milliseconds=tbd) if tbd > 0 else None
                    conn.execute("UPDATE backup SET state = 'Completed', completion_time = %s, expiry = %s, "
                                 "update_time = %s, backup_info = %s WHERE backup_uuid = %s",
                                 (now, expiry, now, json.dumps(info), backup_uuid))
                elif outcome == "Aborted":
                    conn.execute("UPDATE backup SET state = 'Stopped', update_time = %s WHERE backup_uuid = %s",
                                 (now, backup_uuid))
                else:
                    conn.execute("UPDATE backup SET state = 'Failed', update_time = %s WHERE backup_uuid = %s",
                                 (now, backup_uuid))
                    LOG.error("Backup %s failed: %s", backup_uuid, error)
                    if info.get("scheduleUUID"):
                        # A failed scheduled backup counts against its schedule. Schedule.setFailureCount would
                        # pause it at >= 3, but no caller of it was found in 2.18's backup path (SOURCE-AUDIT
                        # 2.3, UNCONFIRMED), so the lab never auto-pauses.
                        conn.execute("UPDATE schedule SET failure_count = failure_count + 1 "
                                     "WHERE schedule_uuid = %s", (info["scheduleUUID"],))
                finish_task(conn, task_uuid, outcome, error)
        except Exception:  # noqa: BLE001 - the DB may be gone; reconciliation at next start cleans up
            LOG.exception("cannot record the end of backup %s", backup_uuid)

    def _failed_subtask(self, task_uuid: str, position: int, category: str, error: str) -> None:
        """The keyspace's subtask of CreateBackup (BackupTableYbc for YBC, BackupTable for yb_backup.py; group
        CreatingTableBackup) as a Failure row under the task: what tasks/{t}/failed_subtasks lists."""
        try:
            with self.platform.connect() as conn:
                conn.execute("INSERT INTO task_info (uuid, parent_uuid, position, task_type, task_state, "
                             "sub_task_group_type, details, owner, percent_done) "
                             "VALUES (%s, %s, %s, %s, 'Failure', 'CreatingTableBackup', %s, %s, 0)",
                             (str(uuidlib.uuid4()), task_uuid, position,
                              "BackupTableYbc" if category == "YB_CONTROLLER" else "BackupTable",
                              json.dumps({"errorString": error}), "127.0.0.1"))
        except Exception:  # noqa: BLE001 - the parent task still carries the error
            LOG.exception("cannot record the failed subtask of %s", task_uuid)

    def stop(self, conn: Any, row: dict[str, Any]) -> bool:
        with self.lock:
            event = self.running.get(str(row["backup_uuid"]))
        if event is None:
            return False
        conn.execute("UPDATE backup SET state = 'Stopping', update_time = now() WHERE backup_uuid = %s "
                     "AND state = 'In Progress'", (row["backup_uuid"],))
        conn.execute("UPDATE task_info SET task_state = 'Abort' WHERE uuid = %s", (row["task_uuid"],))
        event.set()
        return True

    # ------------------------------------------------------------------ resume (handlePendingTask)
    def resume_backup(self, conn: Any, ct: dict[str, Any], ti: dict[str, Any], row: dict[str, Any]) -> str:
        """A new CreateBackup task (firstTry=false, previousTaskUUID) for an interrupted YBC backup row.

        The row keeps its UUID and location; its task_uuid moves to the new task. Started by start_resumed()
        once the caller has rewritten customer_task.task_uuid.
        """
        new_uuid = str(uuidlib.uuid4())
        params = dict(as_dict(ti["details"]).get("taskParams") or as_dict(ti["details"]))
        params.update({"firstTry": False, "previousTaskUUID": str(ti["uuid"])})
        info = dict(as_dict(row["backup_info"]))
        if not info.get("backupList"):
            loc = info.get("storageLocation") or ""
            params_id = str(uuidlib.uuid4())
            info["backupList"] = [{"keyspace": "yugabyte", "backupParamsIdentifier": params_id,
                                   "storageLocation": join_location(
                                       loc, f"keyspace-yugabyte_{params_id.replace('-', '')}"),
                                   "backupUuid": str(row["backup_uuid"]), "backupSizeInBytes": 0}]
        cfg = conn.execute("SELECT * FROM customer_config WHERE config_uuid = %s",
                           (row["storage_config_uuid"],)).fetchone()
        data = crypto.decrypt(self.state, cfg["data"]) if cfg and cfg["name"] == "S3" else {}
        with conn.transaction():
            conn.execute("INSERT INTO task_info (uuid, task_type, task_state, details, owner, percent_done) "
                         "VALUES (%s, 'CreateBackup', 'Created', %s, %s, 0)",
                         (new_uuid, json.dumps({"taskParams": params}), "127.0.0.1"))
            conn.execute("UPDATE backup SET task_uuid = %s, update_time = now() WHERE backup_uuid = %s",
                         (new_uuid, row["backup_uuid"]))
        stop = threading.Event()
        tbd = int(info.get("timeBeforeDelete") or 0)
        with self.lock:
            self.running[str(row["backup_uuid"])] = stop
            self.pending[new_uuid] = (str(row["backup_uuid"]), new_uuid, data, info, tbd, stop,
                                      row["category"] or "YB_CONTROLLER")
        return new_uuid

    def start_resumed(self, task_uuid: str) -> None:
        with self.lock:
            args = self.pending.pop(task_uuid)
        threading.Thread(target=self._run_backup, name=f"backup-{args[0][:8]}", args=args, daemon=True).start()

    # ------------------------------------------------------------------ delete (DeleteBackupYb)
    def storage_data(self, conn: Any, customer_uuid: Any, config_uuid: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """customerConfigService.getOrBadRequest + getDataObject: (config row, decrypted data)."""
        cfg = conn.execute("SELECT * FROM customer_config WHERE config_uuid = %s AND customer_uuid = %s",
                           (config_uuid, customer_uuid)).fetchone() if config_uuid else None
        if cfg is None:
            raise RuntimeError(f"Invalid StorageConfig UUID: {config_uuid}")
        return cfg, crypto.decrypt(self.state, cfg["data"])

    def submit_delete_yb(self, conn: Any, cust: dict[str, Any], user: dict[str, Any], row: dict[str, Any],
                         forced: bool, target_uuid: str, target_name: str, custom_type_name: str | None = None) -> str:
        """Submit DeleteBackupYb (from POST backups/delete or the GC's expired-backup pass); returns the task."""
        task_uuid = new_task(conn, cust, user, "DeleteBackupYb", "Delete", "Backup", target_name, target_uuid,
                             {"customerUUID": str(cust["uuid"]), "backupUUID": str(row["backup_uuid"]),
                              "deleteForcefully": forced}, custom_type_name=custom_type_name)
        threading.Thread(target=self._run_delete_yb, name=f"delete-{str(row['backup_uuid'])[:8]}",
                         args=(str(row["backup_uuid"]), str(cust["uuid"]), task_uuid, forced), daemon=True).start()
        return task_uuid

    def _run_delete_yb(self, backup_uuid: str, customer_uuid: str, task_uuid: str, forced: bool) -> None:
        """DeleteBackupYb.run: validate the storage config on the backup's locations, then only queue the
        backup (and its incrementals) for the GC; on a validation error the backup becomes FailedToDelete and
        the task fails. The objects are deleted later by the GC (background.BackupGC.delete_backup)."""
        error = None
        try:
            with self.platform.connect() as conn:
                set_task(conn, task_uuid, "Running", 10)
                row = conn.execute("SELECT * FROM backup WHERE backup_uuid = %s AND customer_uuid = %s",
                                   (backup_uuid, customer_uuid)).fetchone()
                if row is None:
                    raise RuntimeError(f"Invalid customer: {customer_uuid} or backup: {backup_uuid}")
                if row["state"] in IN_PROGRESS_STATES:
                    LOG.error("Cannot delete backup that are in %s state", row["state"])
                else:
                    try:
                        _cfg, data = self.storage_data(conn, customer_uuid, row["storage_config_uuid"])
                        validate_storage_on_backup(self.state, data, as_dict(row["backup_info"]))
                        chain = [str(r["backup_uuid"]) for r in conn.execute(
                            "SELECT backup_uuid FROM backup WHERE customer_uuid = %s AND base_backup_uuid = %s",
                            (customer_uuid, backup_uuid)).fetchall()] if str(row["base_backup_uuid"]) == backup_uuid \
                            else [backup_uuid]
                        for b in chain:
                            transition_state(conn, b, "QueuedForDeletion")
                        if forced:
                            for b in chain:
                                transition_state(conn, b, "QueuedForForcedDeletion")
                    except Exception as exc:
                        LOG.error("Errored out with: %s", exc)
                        transition_state(conn, backup_uuid, "FailedToDelete")
                        raise
        except Exception as exc:  # noqa: BLE001 - a failed task, never a dead worker
            error = s3_error_message(exc, None) if "botocore" in type(exc).__module__ else str(exc)
        try:
            with self.platform.connect() as conn:
                finish_task(conn, task_uuid, "Failure" if error else "Success", error)
        except Exception:  # noqa: BLE001
            LOG.exception("cannot record the end of delete task %s", task_uuid)


# ---------------------------------------------------------------------------- restore
# The lab's universes have no YSQL layer of their own: the universe's database `yugabyte` is this model (what
# GET universes/{u}/tables lists for it), a backup's `success` marker may name its tables (Workers._objects), and a
# restore materialises the backup's keyspace as a REAL database of the lab's PostgreSQL (same name as the target
# keyspace, tables with their rows), so a drill reads and drops it over a real SQL connection from the YBA host.
LAB_YSQL_TABLES: dict[str, tuple[tuple[str, int], ...]] = {
    "yugabyte": (("customers", 300), ("orders", 1200), ("order_lines", 3600))}
RESTORE_DB_COMMENT = "ybalab restore "  # COMMENT ON DATABASE of a database a restore created: "<prefix><restore>"
YBC_EMPTY_MARKER = "Got empty success marker response, exiting."  # tasks/subtasks/RestoreBackupYbc.java


def keyspace_of_location(location: str) -> str:
    """The source keyspace a V2 location's leaf names (``keyspace-<ks>_<paramsId>`` / ``multi-table-<ks>_<id>``,
    BackupUtil.formatStorageLocation)."""
    leaf = location.rstrip("/").rsplit("/", 1)[-1]
    for prefix in ("keyspace-", "multi-table-"):
        if leaf.startswith(prefix):
            return leaf[len(prefix):].rsplit("_", 1)[0]
    return ""


def universe_of_location(location: str) -> str | None:
    """``univ-<uuid>`` of a backup location (BackupUtil.BACKUP_IDENTIFIER_STRING), the restore's source universe."""
    import re

    m = re.search(r"univ-([0-9a-fA-F-]{36})/", location)
    return m.group(1).lower() if m else None


def ysql_tables(marker: dict[str, Any], keyspace: str) -> list[tuple[str, int]]:
    """(table, rows) a YSQL backup holds: its marker's ``tables`` when it names them, else the lab's model of the
    source database (seeded markers name none)."""
    named = [(str(t.get("tableName")), int(t.get("rows") or 0)) for t in marker.get("tables") or []
             if isinstance(t, dict) and t.get("tableName")]
    return named or list(LAB_YSQL_TABLES.get(keyspace, LAB_YSQL_TABLES["yugabyte"]))


def lab_pg(state: dict[str, Any], dbname: str = "postgres") -> Any:
    """An autocommit connection to the lab's PostgreSQL (the stand-in of the universes' YSQL layer)."""
    import psycopg

    pg = state["postgres"]
    return psycopg.connect(host=pg.get("host", "127.0.0.1"), port=int(pg["port"]), user=pg.get("user", "postgres"),
                           dbname=dbname, autocommit=True, connect_timeout=5)


def restored_databases(state: dict[str, Any]) -> dict[str, str]:
    """{database: restore uuid} of the lab PostgreSQL's databases a restore created (their comment)."""
    with lab_pg(state) as pg:
        rows = pg.execute("SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d").fetchall()
    return {r[0]: r[1][len(RESTORE_DB_COMMENT):] for r in rows if r[1] and r[1].startswith(RESTORE_DB_COMMENT)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


UNIVERSE_TABLESPACE = "ybalab_universe"


def universe_tablespace(state: dict[str, Any], pg: Any) -> str:
    """The tablespace of the restored databases, in the lab dir (``<lab dir>/universe_ysql``, as the host sees it),
    NOT on the YBA host's volume: a universe's data never lands on the YBA host (the incident's volume is ~91 %
    full). Created once, owned by the PostgreSQL server's user."""
    if pg.execute("SELECT 1 FROM pg_tablespace WHERE spcname = %s", (UNIVERSE_TABLESPACE,)).fetchone():
        return UNIVERSE_TABLESPACE
    where = os.path.join(state["dir"], "universe_ysql")
    # a directory an earlier PostgreSQL of this lab dir left (`ybalab up` rebuilt the cluster) is not a tablespace
    # of this one: PostgreSQL refuses a non-empty location ("already in use as a tablespace")
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where, exist_ok=True)
    data_dir = pg.execute("SHOW data_directory").fetchone()[0]
    st = os.stat(data_dir)
    os.chown(where, st.st_uid, st.st_gid)
    os.chmod(where, 0o700)
    pg.execute(f"CREATE TABLESPACE {UNIVERSE_TABLESPACE} LOCATION '{where}'")
    return UNIVERSE_TABLESPACE


def materialise_ysql(state: dict[str, Any], conn: Any, keyspace: str, restore_uuid: str,
                     tables: list[tuple[str, int]]) -> None:
    """CREATE DATABASE <keyspace> in the lab's PostgreSQL with the backup's tables and rows. A database of the same
    name that an earlier lab's restore left (its restore is not in this yugaware DB: a reset) is dropped first;
    any other existing one fails the restore with PostgreSQL's own error."""
    owner = restored_databases(state).get(keyspace)
    with lab_pg(state) as pg:
        if owner and not conn.execute("SELECT 1 FROM restore WHERE restore_uuid::text = %s", (owner,)).fetchone():
            pg.execute(f"DROP DATABASE IF EXISTS {_quote(keyspace)} WITH (FORCE)")
        # FILE_COPY: no WAL copy of the template; the tablespace keeps the "universe's" data off the YBA host volume
        pg.execute(f"CREATE DATABASE {_quote(keyspace)} STRATEGY = FILE_COPY TABLESPACE {universe_tablespace(state, pg)}")
        pg.execute(f"COMMENT ON DATABASE {_quote(keyspace)} IS '{RESTORE_DB_COMMENT}{restore_uuid}'")
    with lab_pg(state, keyspace) as db:
        for name, rows in tables:
            db.execute(f"CREATE TABLE {_quote(name)} (id bigint PRIMARY KEY, payload text NOT NULL)")
            db.execute(f"INSERT INTO {_quote(name)} SELECT g, md5(g::text) FROM generate_series(1, %s) g",
                       (int(rows),))
        db.execute("ANALYZE")


class RestoreFailed(Exception):
    """A keyspace's restore failed: the subtask's type and error."""

    def __init__(self, subtask: str, message: str) -> None:
        super().__init__(message)
        self.subtask = subtask


def read_backup_location(client: Any, location: str, category: str) -> tuple[dict[str, Any], int]:
    """(marker metadata, bytes read) of one backup location, every object downloaded as a restore does. YBC
    (RestoreBackupYbc) first downloads the ``success`` marker and stops on none ("Got empty success marker response,
    exiting."); yb_backup.py needs ``SnapshotInfoPB``. Raises RestoreFailed."""
    bucket, key = parse_location(location)
    prefix = key.rstrip("/") + "/"
    ybc = category == "YB_CONTROLLER"
    subtask = "RestoreBackupYbc" if ybc else "RestoreBackupYb"
    keys: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        listed = client.list_objects_v2(**kwargs)
        keys += [o["Key"] for o in listed.get("Contents", [])]
        if not listed.get("IsTruncated"):
            break
        token = listed.get("NextContinuationToken")
    marker_name = YBC_SUCCESS_MARKER if ybc else SNAPSHOT_PB
    if prefix + marker_name not in keys:
        raise RestoreFailed(subtask, YBC_EMPTY_MARKER if ybc else
                            f"Failed to download {marker_name} from {location}: the object does not exist")
    data_keys = [k for k in keys if k.endswith(".sst")]
    if not data_keys:
        raise RestoreFailed(subtask, f"No data files found in the backup location {location}")
    size = 0
    marker: dict[str, Any] = {}
    for k in keys:
        body = client.get_object(Bucket=bucket, Key=k)["Body"].read()
        size += len(body)
        if k == prefix + marker_name and ybc:
            marker = as_dict(body.decode("utf-8", "replace"))
    return marker, size


def _restore_subtask(platform: Any, task_uuid: str, position: int, subtask: str, state: str,
                     error: str | None) -> None:
    with platform.connect() as conn:
        conn.execute("INSERT INTO task_info (uuid, parent_uuid, position, task_type, task_state, "
                     "sub_task_group_type, details, owner, percent_done) "
                     "VALUES (%s, %s, %s, %s, %s, 'RestoringBackup', %s, %s, %s)",
                     (str(uuidlib.uuid4()), task_uuid, position, subtask, state,
                      json.dumps({"errorString": error} if error else {}), "127.0.0.1",
                      100 if state == "Success" else 0))


def submit_restore(workers: Any, conn: Any, cust: dict[str, Any], user: dict[str, Any], uni: dict[str, Any],
                   cfg: dict[str, Any], body: dict[str, Any], category: str) -> str:
    """BackupHelper.createRestoreTask's submission: a RestoreBackup task (customer task Restore on the target
    universe), the Restore row (models/Restore.java, state Created) and one RestoreKeyspace per
    backupStorageInfo, then the restore in a thread. Returns the task UUID."""
    infos = [dict(i) for i in body["backupStorageInfoList"]]
    first = str(infos[0].get("storageLocation") or "")
    source = universe_of_location(first)
    src_row = conn.execute("SELECT name FROM universe WHERE universe_uuid::text = %s", (source,)).fetchone() if source else None
    params = dict(body)
    params.update({"customerUUID": str(cust["uuid"]), "universeUUID": str(uni["universe_uuid"]), "category": category})
    restore_uuid = str(uuidlib.uuid4())
    with conn.transaction():
        task_uuid = new_task(conn, cust, user, "RestoreBackup", "Restore", "Universe", uni["name"],
                             str(uni["universe_uuid"]), params)
        conn.execute("INSERT INTO restore (restore_uuid, customer_uuid, universe_uuid, task_uuid, "
                     "source_universe_uuid, storage_config_uuid, source_universe_name, storage_location, state) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'Created')",
                     (restore_uuid, cust["uuid"], uni["universe_uuid"], task_uuid, source, cfg["config_uuid"],
                      src_row["name"] if src_row else None, first))
        for info in infos:
            loc = str(info.get("storageLocation") or "")
            info["_uuid"] = str(uuidlib.uuid4())
            conn.execute("INSERT INTO restore_keyspace (uuid, restore_uuid, task_uuid, source_keyspace, "
                         "storage_location, target_keyspace, table_name_list, state) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s, 'Created')",
                         (info["_uuid"], restore_uuid, task_uuid, keyspace_of_location(loc), loc,
                          info.get("keyspace") or keyspace_of_location(loc),
                          json.dumps(list(info.get("tableNameList") or []))))
    data = crypto.decrypt(workers.state, cfg["data"]) if cfg["name"] == "S3" else {}
    threading.Thread(target=run_restore, name=f"restore-{restore_uuid[:8]}",
                     args=(workers.platform, restore_uuid, task_uuid, data, infos, category), daemon=True).start()
    return task_uuid


def run_restore(platform: Any, restore_uuid: str, task_uuid: str, data: dict[str, Any], infos: list[dict[str, Any]],
                category: str) -> None:
    """RestoreBackupYbc / RestoreBackupYb per keyspace: read every object of the location from the bucket (a
    missing marker or data fails for real), then create the target keyspace (YSQL: a database of the lab's
    PostgreSQL with the backup's tables and rows). The first failure fails the task, the Restore and that
    RestoreKeyspace (YBA's RestoreBackup stops at the first failed subtask)."""
    state = platform.state
    outcome, error, total = "Success", None, 0
    try:
        with platform.connect() as conn:
            set_task(conn, task_uuid, "Running", 10)
            conn.execute("UPDATE restore SET state = 'In Progress', update_time = now() WHERE restore_uuid = %s",
                         (restore_uuid,))
        if not data:
            raise RestoreFailed("RestoreBackupYbc", "Only S3 storage configs are supported by the lab")
        client = s3_client(state, data)
        for n, info in enumerate(infos):
            loc = str(info.get("storageLocation") or "")
            target = str(info.get("keyspace") or keyspace_of_location(loc))
            subtask = "RestoreBackupYbc" if category == "YB_CONTROLLER" else "RestoreBackupYb"
            with platform.connect() as conn:
                conn.execute("UPDATE restore_keyspace SET state = 'In Progress' WHERE uuid = %s", (info["_uuid"],))
            try:
                try:
                    marker, size = read_backup_location(client, loc, category)
                except RestoreFailed:
                    raise
                except Exception as exc:  # noqa: BLE001 - an S3 failure is the subtask's error
                    raise RestoreFailed(subtask, s3_error_message(exc, data.get("AWS_HOST_BASE"))) from exc
                if (info.get("backupType") or "PGSQL_TABLE_TYPE") != "PGSQL_TABLE_TYPE":
                    raise RestoreFailed(subtask, "the lab restores YSQL keyspaces only")
                tables = ysql_tables(marker, keyspace_of_location(loc))
                with platform.connect() as conn:
                    try:
                        materialise_ysql(state, conn, target, restore_uuid, tables)
                    except Exception as exc:  # noqa: BLE001 - PostgreSQL's error is the subtask's
                        raise RestoreFailed(subtask, str(exc).strip().splitlines()[0]) from exc
                    conn.execute("UPDATE restore_keyspace SET state = 'Completed', complete_time = now(), "
                                 "table_name_list = %s, backup_size_from_storage_location = %s WHERE uuid = %s",
                                 (json.dumps([t for t, _r in tables]), size, info["_uuid"]))
                total += size
                _restore_subtask(platform, task_uuid, n, subtask, "Success", None)
            except RestoreFailed as exc:
                with platform.connect() as conn:
                    conn.execute("UPDATE restore_keyspace SET state = 'Failed', complete_time = now() "
                                 "WHERE uuid = %s", (info["_uuid"],))
                _restore_subtask(platform, task_uuid, n, exc.subtask, "Failure", str(exc))
                raise
    except RestoreFailed as exc:
        outcome, error = "Failure", str(exc)
    except Exception as exc:  # noqa: BLE001 - a failed task, never a dead worker
        outcome, error = "Failure", f"{type(exc).__name__}: {exc}"
    try:
        with platform.connect() as conn, conn.transaction():
            conn.execute("UPDATE restore SET state = %s, restore_size_in_bytes = %s, update_time = now() "
                         "WHERE restore_uuid = %s",
                         ("Completed" if outcome == "Success" else "Failed", total, restore_uuid))
            conn.execute("UPDATE restore_keyspace SET state = 'Failed' WHERE restore_uuid = %s "
                         "AND state IN ('Created', 'In Progress')", (restore_uuid,))
            finish_task(conn, task_uuid, outcome, error)
        if error:
            LOG.error("Restore %s failed: %s", restore_uuid, error)
    except Exception:  # noqa: BLE001
        LOG.exception("cannot record the end of restore %s", restore_uuid)


def validate_storage_on_backup(state: dict[str, Any], data: dict[str, Any], info: dict[str, Any]) -> None:
    """AWSUtil.validateStorageConfigOnBackup: the config's credentials must reach every bucket the backup's
    locations are in (a READ/LIST probe); raises with the SDK-shaped message."""
    endpoint = data.get("AWS_HOST_BASE")
    client = s3_client(state, data)
    for loc in backup_locations(info) or [data.get("BACKUP_LOCATION") or ""]:
        bucket, key = parse_location(loc)
        try:
            client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(f"Cannot access S3 bucket {bucket}: {s3_error_message(exc, endpoint)}") from exc


def delete_backup_objects(state: dict[str, Any], data: dict[str, Any], locations: list[str]) -> None:
    """AWSUtil.deleteKeyIfExists + deleteStorage: every object under each location; raises on any error."""
    client = s3_client(state, data)
    for loc in locations:
        bucket, key = parse_location(loc)
        token = None
        while True:
            kwargs = {"Bucket": bucket, "Prefix": key.rstrip("/") + "/"}
            if token:
                kwargs["ContinuationToken"] = token
            listed = client.list_objects_v2(**kwargs)
            objs = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
            if objs:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
            if not listed.get("IsTruncated"):
                break
            token = listed.get("NextContinuationToken")


__all__ = ["Workers", "reconcile", "validate_s3_config", "transition_state", "ZERO_UUID"]
