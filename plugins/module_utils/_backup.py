# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: on-demand (emergency) backups through YBA's API - the plan (which universe
# and backup type is stale on which storage config) and the runner (bounded concurrency across universes, serial per
# universe, 409 lock retries, a real deadline per task, platform restarts survived, verification in the bucket).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emergency backups.

YBA's rules this follows (API-CAPABILITIES §4): ``POST /customers/{c}/backups`` takes one backup type at a time
(YSQL and YCQL are separate backups); ``CreateBackup`` locks the universe for the whole backup, so a second one
answers 409 "Cannot run Backup task since the universe ... is currently in a locked state." (``BackupHelper``) or,
on newer releases, "... cannot be queued" (TaskQueue): both are waited for with jittered backoff, as Terraform's
``DispatchAndWait`` does, never failed. ``timeBeforeDelete`` 0 (the default of ``BackupRequestParams``) means the
backup never expires: it is only sent when asked for explicitly. A platform restart marks the running task
``Failure`` with "Platform restarted." (``Commissioner.handlePendingTask``); a YB Controller backup resumes under
a new task (the backup row's ``taskUUID`` moves to it), a script backup ends ``Failed`` and is submitted again.
"""
from __future__ import annotations

import concurrent.futures
import time
import typing as t
from urllib.parse import quote

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr

ACTIONS = ("created", "failed", "planned", "fresh", "skipped")
# 409 bodies that mean "the universe is busy, try again" (BackupHelper.createBackupTask; TaskQueue on newer YBA).
CONFLICT_MARKERS = ("currently in a locked state", "cannot be queued")
RESTART_MARKER = "Platform restarted"  # Commissioner.handlePendingTask / TaskExecutor on a platform restart
RETENTION_UNITS = ("MINUTES", "HOURS", "DAYS", "MONTHS", "YEARS")
RUNNING = ("InProgress", "In Progress")
ENDED_BAD = ("Failed", "Stopped", "Skipped", "FailedToDelete")
# How long a row may stay InProgress under a task YBA says does not exist before it counts as orphaned. A resumed YB
# Controller backup passes through that state: CustomerTaskManager.handlePendingTask moves the customer task to the
# new task (customerTask.updateTaskUUID) before the resumed CreateBackup writes the new task into the backup row.
ORPHAN_GRACE = 60.0


class BackupInputError(ValueError):
    """A bad option or a selection YBA cannot satisfy; nothing was sent."""


class BackupFailed(Exception):
    """One backup failed; ``state`` is the backup's state when known."""

    def __init__(self, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.state = state


def outcome_unknown(err: BaseException) -> bool:
    """Whether a failed POST may still have reached YBA and started something: no answer (a timeout, a reset),
    or a 5xx that is not YBA's own error answer (a YBPError body ``{"success": false, "error": "..."}``, for example
    "DataCorrupted": YBA refused and said why). A TLS failure never reached YBA."""
    if getattr(err, "tls", False):
        return False
    if isinstance(err, (_api.YBATimeout, _api.YBAUnreachable)):
        return True
    status = getattr(err, "status", None)
    if status is None or status < 500:
        return False
    body = getattr(err, "body", None)
    said_why = isinstance(body, dict) and isinstance(body.get("error"), (str, dict)) and bool(body.get("error"))
    return not (status == 500 and said_why)


def one_line(text: t.Any, limit: int = 600) -> str:
    return _api.one_line(text, limit)


def expiry(retention: int | None, unit: str, keep_forever: bool) -> tuple[int, str | None]:
    """(timeBeforeDelete in ms, expiryTimeUnit): ``keep_forever`` is the only way to 0 ("never expires", YBA's
    default, BackupRequestParams); ``expiryTimeUnit`` is required by YBA whenever timeBeforeDelete is not 0."""
    if keep_forever:
        return 0, None
    unit = str(unit or "DAYS").upper()
    if unit not in RETENTION_UNITS:
        raise BackupInputError("retention_unit must be one of %s, got %s" % (", ".join(RETENTION_UNITS), unit))
    if retention is None or int(retention) <= 0:
        raise BackupInputError("retention must be 1 or more (got %s); keep_forever=true makes backups that never "
                               "expire" % retention)
    return int(round(int(retention) * fr.UNIT_SECONDS[unit] * 1000.0)), unit


# ------------------------------------------------------------------------------------------------ the plan

def read_inventory(client: t.Any) -> dict[str, t.Any]:
    """What the plan needs from YBA: universes, STORAGE configs, schedules (all states)."""
    universes = client.get(client.cpath("universes")) or []
    configs = [c for c in client.get(client.cpath("configs")) or [] if c.get("type") == "STORAGE"]
    schedules = list(client.paged(client.cpath("schedules/page"),
                                  {"filter": dict(bi.SCHEDULE_FILTER), "sortBy": "scheduleName", "direction": "ASC",
                                   "needTotalCount": False}, limit=200))
    return {"universes": universes, "configs": configs, "schedules": schedules}


def select_universes(universes: t.Sequence[dict[str, t.Any]], wanted: t.Sequence[str] | None) -> list[dict[str, t.Any]]:
    """The universes named (by name or UUID, in YBA's order), all when none; unknown names fail."""
    if not wanted:
        return list(universes)
    by_key: dict[str, dict[str, t.Any]] = {}
    for u in universes:
        by_key[str(u.get("name"))] = u
        by_key[str(u.get("universeUUID", "")).lower()] = u
    unknown = [w for w in wanted if str(w) not in by_key and str(w).lower() not in by_key]
    if unknown:
        raise BackupInputError("unknown universe%s %s; YBA has %s" % (
            "s" if len(unknown) > 1 else "", ", ".join(unknown),
            ", ".join(sorted(str(u.get("name")) for u in universes)) or "no universe"))
    keys = {str(w) for w in wanted} | {str(w).lower() for w in wanted}
    return [u for u in universes if str(u.get("name")) in keys or str(u.get("universeUUID", "")).lower() in keys]


def find_config(configs: t.Sequence[dict[str, t.Any]], wanted: str) -> dict[str, t.Any]:
    """A STORAGE config by name or UUID; unknown fails with the names YBA has."""
    for c in configs:
        if wanted in (c.get("configName"), ) or str(c.get("configUUID", "")).lower() == str(wanted).lower():
            return c
    raise BackupInputError("unknown storage config %s; YBA has %s" % (
        wanted, ", ".join(sorted(str(c.get("configName")) for c in configs)) or "no storage config"))


def schedule_config(schedules: t.Sequence[dict[str, t.Any]], universe_uuid: str, backup_type: str) -> str | None:
    """The storage config UUID of the universe's schedule for this type (Active first, then Paused, Stopped)."""
    rank = {"Active": 0, "Paused": 1, "Stopped": 2}
    best: tuple[int, str] | None = None
    for s in schedules:
        info = fr.schedule_info(s)
        if info["universe_uuid"] != universe_uuid or info["backup_type"] != backup_type \
                or s.get("taskType", "CreateBackup") != "CreateBackup" or not info["storage_config_uuid"]:
            continue
        r = rank.get(str(s.get("status")), 3)
        if best is None or r < best[0]:
            best = (r, str(info["storage_config_uuid"]))
    return best[1] if best else None


def new_item(universe: dict[str, t.Any], backup_type: str, config: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """One (universe, backup type) of the result, every documented key present."""
    return {"universe": universe.get("name"), "universe_uuid": universe.get("universeUUID"),
            "backup_type": fr.api_name(backup_type), "storage_config": (config or {}).get("configName"),
            "storage_config_uuid": (config or {}).get("configUUID"), "action": "planned", "reason": None,
            "threshold_seconds": None, "threshold_source": None, "last_backup_uuid": None,
            "last_backup_age_seconds": None, "backup_uuid": None, "task_uuid": None, "state": None,
            "category": None, "duration_seconds": None, "size_bytes": None, "verified": None,
            "verified_objects": None, "verified_bytes": None, "verify_problem": None, "attempts": 0,
            "conflicts": 0, "resumed": False, "orphaned": False, "api_unreachable_polls": 0, "error": None}


def plan(inventory: dict[str, t.Any], params: dict[str, t.Any], latest_of: t.Callable[..., t.Any],
         now: float | None = None) -> list[dict[str, t.Any]]:
    """Every selected (universe, backup type): ``planned`` (stale on its config), ``fresh`` (a Completed backup
    on that config newer than the threshold) or ``skipped`` (paused, backups disabled, API not enabled).

    ``latest_of(universe_uuid, [(type, config_uuid)])`` answers _freshness.read_latest's mapping."""
    now = time.time() if now is None else now
    configs = inventory["configs"]
    schedules = inventory["schedules"]
    forced = find_config(configs, params["storage_config"]) if params.get("storage_config") else None
    wanted_types = params.get("backup_types") or "auto"
    if wanted_types != "auto":
        try:
            wanted_types = [fr.backup_type_of(b) for b in wanted_types]
        except ValueError as err:
            raise BackupInputError("backup_types: %s" % err) from None
    out: list[dict[str, t.Any]] = []
    for universe in select_universes(inventory["universes"], params.get("universes")):
        u_uuid = str(universe.get("universeUUID"))
        types = fr.targets(universe, schedules, wanted_types)
        skipped_types = [b for b in (wanted_types if wanted_types != "auto" else []) if b not in types]
        why_not = fr.universe_state(universe)
        items = []
        unconfigured = []  # (type, why): no config for it; only this item fails, the others go on
        for typ in types:
            if forced is not None:
                config = forced
            else:
                cfg_uuid = schedule_config(schedules, u_uuid, typ)
                config = next((c for c in configs if c.get("configUUID") == cfg_uuid), None) if cfg_uuid else None
                if config is None:
                    s3 = [c for c in configs if c.get("name") == "S3"]
                    if len(s3) != 1:
                        have = "no S3 storage config" if not s3 else "%d S3 storage configs (%s)" % (
                            len(s3), ", ".join(sorted(str(c.get("configName")) for c in s3)))
                        unconfigured.append((typ, "universe %s has no %s schedule %sto take the storage config "
                                             "from and YBA has %s; name one with storage_config" % (
                                                 universe.get("name"), fr.api_name(typ),
                                                 "whose storage config still exists " if cfg_uuid else "", have)))
                        continue
                    config = s3[0]
            items.append(new_item(universe, typ, config))
        for typ in skipped_types:
            item = new_item(universe, typ, forced)
            item.update(action="skipped", reason="the %s API is not enabled on the universe" % fr.api_name(typ))
            out.append(item)
        for typ, why in unconfigured:
            item = new_item(universe, typ, None)
            if why_not:  # nothing would be taken anyway
                item.update(action="skipped", reason="universe %s: %s" % (universe.get("name"), why_not))
            else:
                item.update(action="failed", reason=why, error=why)
            out.append(item)
        if why_not:
            for item in items:
                item.update(action="skipped", reason="universe %s: %s" % (universe.get("name"), why_not))
            out.extend(items)
            continue
        if not items:
            continue
        found = latest_of(u_uuid, [(fr.backup_type_of(i["backup_type"]), i["storage_config_uuid"]) for i in items])
        for item in items:
            typ = fr.backup_type_of(item["backup_type"])
            if params.get("only_if_older_than") is not None:
                threshold, source = float(params["only_if_older_than"]), "only_if_older_than"
            else:
                threshold, source = fr.rpo(universe, typ, schedules, overrides=params.get("rpo_seconds") or {},
                                           default_seconds=params.get("default_rpo_seconds"),
                                           factor=float(params.get("rpo_factor") or fr.DEFAULT_FACTOR))
            item.update(threshold_seconds=threshold, threshold_source=source)
            newest = fr.newest_for(found, u_uuid, typ, item["storage_config_uuid"])
            when = fr.success_time(newest) if newest else None
            if newest is not None and when is not None:
                age = max(0.0, now - when)
                item.update(last_backup_uuid=bi._backup_fields(newest)["backup_uuid"],
                            last_backup_age_seconds=round(age, 1))
                if age < threshold:
                    item.update(action="fresh", reason="newest Completed backup on %s is %.0f s old, under the %.0f s "
                                "threshold (%s)" % (item["storage_config"], age, threshold, source))
                    continue
                item["reason"] = "newest Completed backup on %s is %.0f s old, over the %.0f s threshold (%s)" % (
                    item["storage_config"], age, threshold, source)
            else:
                item["reason"] = "no Completed %s backup on %s" % (item["backup_type"], item["storage_config"])
        out.extend(items)
    return out


# ----------------------------------------------------------------------------------------------- the runner

class Runner:
    """Takes the ``planned`` items: universes in parallel (at most ``max_concurrent``), one backup at a time per
    universe, each with its own deadline (``wait_timeout`` from its first POST, 409 waits included)."""

    def __init__(self, client: t.Any, params: dict[str, t.Any],
                 settings_for: t.Callable[[str], dict[str, t.Any] | None] | None = None) -> None:
        self.client = client
        self.p = params
        self.settings_for = settings_for
        self._sleep = getattr(client, "_sleep", time.sleep)
        self._clock = getattr(client, "_clock", time.monotonic)
        self.task_route = True  # GET universes/{u}/backups/tasks/{t} (fetchBackupsByTaskUUID); off after a 404
        self.orphan_grace = ORPHAN_GRACE
        self.tbd, self.unit = expiry(params.get("retention"), params.get("retention_unit") or "DAYS",
                                     bool(params.get("keep_forever")))

    # ------------------------------------------------------------------------------------------ helpers
    def path(self, *parts: str) -> str:
        return self.client.cpath("/".join(quote(str(p), safe="") for p in parts))

    def body(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        out = {"universeUUID": item["universe_uuid"], "storageConfigUUID": item["storage_config_uuid"],
               "backupType": fr.backup_type_of(item["backup_type"]), "timeBeforeDelete": self.tbd}
        if self.unit:
            out["expiryTimeUnit"] = self.unit
        if self.p.get("backup_category"):
            out["backupCategory"] = self.p["backup_category"]
        return out

    def poll_delay(self, started: float) -> float:
        """Backoff proportional to the time waited so far (at most a fifth of it), between ``poll_interval`` and
        ``max_poll_interval``: few calls for a long backup, and a wall time within ~20 % of the backup's own."""
        elapsed = self._clock() - started
        return min(float(self.p.get("max_poll_interval") or 30.0),
                   max(float(self.p["poll_interval"]), 0.2 * elapsed))

    def sleep_until(self, delay: float, deadline: float) -> None:
        remaining = deadline - self._clock()
        if remaining > 0:
            self._sleep(min(delay, remaining))

    # ---------------------------------------------------------------------------------------------- run
    def run(self, items: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        by_universe: dict[str, list[dict[str, t.Any]]] = {}
        for item in items:
            if item["action"] == "planned":
                by_universe.setdefault(str(item["universe_uuid"]), []).append(item)
        if not by_universe:
            return items
        workers = max(1, min(int(self.p.get("max_concurrent") or 1), len(by_universe)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yba-backup") as pool:
            for future in [pool.submit(self.universe, group) for group in by_universe.values()]:
                future.result()
        return items

    def universe(self, group: list[dict[str, t.Any]]) -> None:
        for item in group:  # serial: YBA locks the universe for each backup
            started = self._clock()
            try:
                self.one(item)
            except BackupFailed as err:
                item.update(action="failed", error=one_line(self.client.scrub(err.message)),
                            state=err.state or item["state"])
            except _api.YBAError as err:
                item.update(action="failed", error=one_line(self.client.scrub("%s" % err)))
            except Exception as err:  # noqa: BLE001 - one universe's surprise must not hide the others' results
                item.update(action="failed", error=one_line("%s: %s" % (type(err).__name__, self.client.scrub(
                    str(err)))))
            if item["duration_seconds"] is None and item["action"] == "failed":
                item["duration_seconds"] = round(self._clock() - started, 1)

    def one(self, item: dict[str, t.Any]) -> None:
        deadline = self._clock() + float(self.p["wait_timeout"])
        restarts_left = int(self.p.get("restart_retries") or 0)
        self.submit(item, deadline)
        while True:
            outcome = self.wait(item, deadline)
            if outcome == "resubmit":
                if restarts_left <= 0:
                    raise BackupFailed("after %s (%s) the backup %s is not taken again: restart_retries (%d) is "
                                       "spent" % ("YBA lost its task" if item["orphaned"] else "a platform restart",
                                                  item.get("restart_error") or RESTART_MARKER,
                                                  item["backup_uuid"] or "-", int(self.p.get("restart_retries") or 0)),
                                       state=item["state"] if item["orphaned"] else "Failed")
                restarts_left -= 1
                self.submit(item, deadline)
                continue
            break
        self.completed(item)

    # ------------------------------------------------------------------------------------------- submit
    def submit(self, item: dict[str, t.Any], deadline: float) -> None:
        """POST the backup; a 409 lock conflict is waited for with jittered backoff until the deadline.

        The POST is sent once (``retries=0``): a request that reached YBA but whose answer was lost (a timeout, a
        reset, a 502/503/504 of a proxy) may have started a backup, and sending it again would start a second one.
        Such an unknown outcome is settled by looking for the backup it started (``adopt``)."""
        attempt = 0
        item["attempts"] += 1
        item.update(backup_uuid=None, task_uuid=None, state=None)
        item.pop("_orphan_since", None)
        while True:
            item["_submitted"] = time.time()
            try:
                answer = self.client.post(self.path("backups"), self.body(item), deadline=deadline, retries=0)
                break
            except _api.YBAConflict as err:
                if not any(m in str(err.message) for m in CONFLICT_MARKERS):
                    raise BackupFailed("YBA refused the backup (409): %s" % err.message) from None
                item["conflicts"] += 1
                delay = max(float(self.p["poll_interval"]),
                            _api.backoff_delay(attempt, float(self.p.get("conflict_max_delay") or 30.0),
                                               base=max(1.0, float(self.p["poll_interval"]))))
                attempt += 1
                if self._clock() + delay >= deadline:
                    raise BackupFailed("universe %s stayed locked (409 %s) for %.0f s, the wait_timeout: no backup "
                                       "was started" % (item["universe"], one_line(err.message, 160),
                                                        float(self.p["wait_timeout"]))) from None
                self._sleep(delay)
            except _api.YBAError as err:
                if not outcome_unknown(err):
                    raise BackupFailed("YBA refused the backup%s: %s" % (
                        " (HTTP %s)" % err.status if err.status else "", err.message)) from None
                if self.adopt(item, deadline):
                    item["reason"] = "%s; the backup request got no clear answer (%s) and backup %s it started was " \
                        "followed" % (item["reason"] or "stale", one_line(err, 200), item["backup_uuid"])
                    return
                raise BackupFailed("the backup request got no clear answer (%s) and no InProgress %s backup of "
                                   "universe %s started since appeared: YBA did not start it, or not yet; run again "
                                   "to compare" % (one_line(err, 300), item["backup_type"], item["universe"])) from None
        task = (answer or {}).get("taskUUID") if isinstance(answer, dict) else None
        if isinstance(task, list):
            task = task[0] if task else None
        if not task:
            raise BackupFailed("YBA answered the backup request without a taskUUID: %s" % one_line(answer, 200))
        item["task_uuid"] = str(task)
        item["state"] = "InProgress"
        self.find_backup(item)

    def adopt(self, item: dict[str, t.Any], deadline: float) -> bool:
        """After a POST whose outcome is unknown: the InProgress backup of the universe and type on the config
        created since the POST (YBA creates the row when the task starts, so it is looked for a few times) is
        followed under its task. False when there is none."""
        for look in range(3):
            if look:
                self.sleep_until(float(self.p["poll_interval"]), deadline)
            # createTime has whole seconds: a row of this request may read up to a second before it was sent
            try:
                backup = self.find_backup(item, since=item["_submitted"] - 2.0)
            except _api.YBAError:
                backup = None
            if backup is None:
                continue
            common = backup.get("commonBackupInfo") or {}
            task = common.get("taskUUID") or backup.get("taskUUID")
            if not task:
                try:
                    task = (self.client.get(self.path("backups", item["backup_uuid"]), deadline=deadline) or {}).get(
                        "taskUUID")
                except _api.YBAError:
                    task = None
            if task:
                item.update(task_uuid=str(task), state="InProgress")
                return True
            item["backup_uuid"] = None
        return False

    # --------------------------------------------------------------------------------------- the backup
    def find_backup(self, item: dict[str, t.Any], since: float | None = None) -> dict[str, t.Any] | None:
        """The backup of the item's task: ``GET universes/{u}/backups/tasks/{t}`` (fetchBackupsByTaskUUID), else
        backups/page of the universe and config, newest first: the one of the task, else the newest InProgress one
        of the type created since the POST (``since``, default 2 min before it). Keeps its UUID; None while YBA has
        not created it yet. Without a task (a POST whose answer was lost) only the page is read."""
        typ = fr.backup_type_of(item["backup_type"])
        if self.task_route and item["task_uuid"]:
            try:
                found = self.client.get(self.path("universes", item["universe_uuid"], "backups", "tasks",
                                                  item["task_uuid"]), retries=1)
            except _api.YBANotFound:
                self.task_route = False
                found = None
            except (_api.YBAValidationError, _api.YBAUnreachable, _api.YBATimeout):
                found = None
            for b in found or []:
                if isinstance(b, dict) and fr.backup_type(b) == typ:
                    item["backup_uuid"] = b.get("backupUUID") or item["backup_uuid"]
                    return b
            if found:
                return None
        query = {"filter": dict(bi.BACKUP_FILTER, universeUUIDList=[item["universe_uuid"]],
                                storageConfigUUIDList=[item["storage_config_uuid"]]),
                 "sortBy": "createTime", "direction": "DESC", "needTotalCount": False}
        try:
            entities = list(self.client.paged(self.path("backups", "page"), query, limit=10, max_items=10))
        except (_api.YBAUnreachable, _api.YBATimeout):
            return None
        if since is None:
            since = (item.get("_submitted") or 0) - 120.0
        best = None
        for b in entities:
            f = bi._backup_fields(b)
            common = b.get("commonBackupInfo") or {}
            if item["task_uuid"] and str(common.get("taskUUID") or b.get("taskUUID") or "") == item["task_uuid"]:
                best = b
                break
            if best is None and fr.backup_type(b) == typ and (common.get("state") or b.get("state")) in RUNNING \
                    and (f["create_time"] or 0) >= since:
                best = b
        if best is not None:
            item["backup_uuid"] = bi._backup_fields(best)["backup_uuid"] or item["backup_uuid"]
        return best

    def get_backup(self, item: dict[str, t.Any], deadline: float | None = None) -> dict[str, t.Any] | None:
        if not item["backup_uuid"]:
            self.find_backup(item)
        if not item["backup_uuid"]:
            return None
        try:
            return self.client.get(self.path("backups", item["backup_uuid"]), deadline=deadline)
        except (_api.YBANotFound, _api.YBAValidationError):
            return None

    def failure_text(self, task_uuid: str) -> str:
        """The errors of a failed task (``GET tasks/{t}/failed_subtasks``), one line."""
        try:
            answer = self.client.get(self.path("tasks", task_uuid, "failed_subtasks"), retries=2) or {}
        except _api.YBAError as err:
            return "(failed_subtasks unavailable: %s)" % one_line(err, 160)
        texts = []
        for sub in (answer.get("failedSubTasks") if isinstance(answer, dict) else answer) or []:
            if isinstance(sub, dict):
                text = str(sub.get("errorString") or "")
                if text and text != "null" and text not in texts:
                    texts.append("%s: %s" % (sub.get("subTaskType") or "task", text))
        return one_line("; ".join(texts)) or "no error text in failed_subtasks"

    # ---------------------------------------------------------------------------------------------- wait
    def wait(self, item: dict[str, t.Any], deadline: float) -> str:
        """Poll the item's task until it ends; "done" or "resubmit". An unreachable API (a platform restart) is
        polled through until the deadline; a task that is gone or ended with "Platform restarted." is judged by
        the backup row: a resumed YBC backup is followed under its new task."""
        started = self._clock()
        while True:
            if self._clock() >= deadline:
                raise BackupFailed("backup %s (task %s) still %s after wait_timeout %.0f s; it goes on in YBA" % (
                    item["backup_uuid"] or "(not yet created)", item["task_uuid"], item["state"] or "InProgress",
                    float(self.p["wait_timeout"])), state=item["state"])
            try:
                task = self.client.get(self.path("tasks", item["task_uuid"]), deadline=deadline, retries=0) or {}
            except (_api.YBANotFound, _api.YBAValidationError):
                outcome = self.after_restart(item, None, deadline)  # the task is gone (metadata restored/reset)
                if outcome != "wait":
                    return outcome
                self.sleep_until(self.poll_delay(started), deadline)
                continue
            except (_api.YBAUnreachable, _api.YBATimeout) as err:
                if getattr(err, "tls", False):
                    raise
                item["api_unreachable_polls"] += 1
                self.sleep_until(self.poll_delay(started), deadline)
                continue
            except _api.YBAError as err:
                if err.status is not None and err.status < 500:
                    raise
                item["api_unreachable_polls"] += 1  # 5xx while the platform starts
                self.sleep_until(self.poll_delay(started), deadline)
                continue
            item.pop("_orphan_since", None)
            status = str(task.get("status") or "")
            if status in _api.TASK_SUCCESS:
                return "done"
            if status in _api.TASK_FAILED:
                text = self.failure_text(item["task_uuid"])
                if RESTART_MARKER in text or RESTART_MARKER in str(task):
                    item["restart_error"] = text
                    outcome = self.after_restart(item, text, deadline)
                    if outcome != "wait":
                        return outcome
                    self.sleep_until(self.poll_delay(started), deadline)
                    continue
                backup = self.get_backup(item, deadline)
                state = (backup or {}).get("state") or ("Failed" if status == "Failure" else status)
                raise BackupFailed("task %s ended %s: %s" % (item["task_uuid"], status, text), state=state)
            self.sleep_until(self.poll_delay(started), deadline)

    def after_restart(self, item: dict[str, t.Any], text: str | None, deadline: float) -> str:
        """The backup row decides after a restart: a new taskUUID (a resumed YBC backup) is followed; Completed is
        done; Failed/Stopped is submitted again (``resubmit``, bounded by restart_retries); InProgress under the
        same task, or no row yet: ``wait``."""
        try:
            backup = self.get_backup(item, deadline)
        except (_api.YBAUnreachable, _api.YBATimeout):
            return "wait"
        if backup is None:
            # no row of this task: YBA lost it with the task (a metadata restore) or never wrote it; take it again
            item.setdefault("restart_error", text or "task %s is gone and no backup of it exists" % item["task_uuid"])
            return "resubmit"
        state = str(backup.get("state") or "")
        task = str(backup.get("taskUUID") or "")
        item["state"] = state
        if task and task != item["task_uuid"] and state in RUNNING + ("Completed",):
            item.update(task_uuid=task, resumed=True)
            return "done" if state == "Completed" and self._task_done(task) else "wait"
        if state == "Completed":
            return "done"
        if state in ENDED_BAD:
            return "resubmit"
        if text is None and state in RUNNING and task == item["task_uuid"]:
            # GET tasks/{t} said the task does not exist, yet the row is InProgress under that very task: YBA lost
            # the task (a metadata restore) and nothing will ever end this row; it stays In Progress forever. A
            # resumed YBC backup looks the same for a moment (ORPHAN_GRACE), until its row names the new task.
            since = item.setdefault("_orphan_since", self._clock())
            if self._clock() - since < self.orphan_grace:
                return "wait"
            item.update(orphaned=True, restart_error="task %s is gone from YBA while backup %s is still %s under it "
                        "(an orphaned row that never ends, e.g. after a metadata restore)" % (
                            item["task_uuid"], item["backup_uuid"], state))
            item["reason"] = "%s; backup %s stayed %s under task %s, which YBA lost (an orphaned row; it stays in " \
                "YBA)" % (item["reason"] or "stale", item["backup_uuid"], state, item["task_uuid"])
            return "resubmit"
        return "wait"

    def _task_done(self, task_uuid: str) -> bool:
        try:
            task = self.client.get(self.path("tasks", task_uuid), retries=1) or {}
        except _api.YBAError:
            return False
        return str(task.get("status") or "") in _api.TASK_SUCCESS

    # ------------------------------------------------------------------------------------------ completed
    def completed(self, item: dict[str, t.Any]) -> None:
        backup = None
        for _attempt in range(3):  # YBA writes the row's end state right after the task's; allow a moment
            backup = self.get_backup(item)
            if backup is not None and backup.get("state") == "Completed":
                break
            self._sleep(min(1.0, float(self.p["poll_interval"])))
        if backup is None:
            raise BackupFailed("task %s succeeded but its backup cannot be found" % item["task_uuid"])
        state = str(backup.get("state") or "")
        item.update(state=state, category=bv.category_of(backup), backup_uuid=backup.get("backupUUID")
                    or item["backup_uuid"], task_uuid=backup.get("taskUUID") or item["task_uuid"])
        if state != "Completed":
            raise BackupFailed("task %s succeeded but backup %s is %s" % (item["task_uuid"], item["backup_uuid"],
                                                                          state), state=state)
        info = backup.get("backupInfo") if isinstance(backup.get("backupInfo"), dict) else {}
        size = info.get("backupSizeInBytes") or info.get("fullChainSizeInBytes") \
            or (backup.get("commonBackupInfo") or {}).get("totalBackupSizeInBytes")
        item["size_bytes"] = int(size) if isinstance(size, (int, float)) else None
        f = bi._backup_fields(backup)
        if f["create_time"] and f["completion_time"]:
            item["duration_seconds"] = round(max(0.0, f["completion_time"] - f["create_time"]), 1)
        item["action"] = "created"
        item["reason"] = (item["reason"] or "stale") + "; backup taken"
        if self.p.get("verify", True):
            self.verify(item, backup)

    def verify(self, item: dict[str, t.Any], backup: dict[str, t.Any]) -> None:
        settings = self.settings_for(item["storage_config_uuid"]) if self.settings_for else None
        if settings is None:
            item.update(verified=False, verify_problem="storage config %s is not an S3 config: its objects are not "
                        "verified" % item["storage_config"])
            return
        result = bv.verify_backup(settings, backup, timeout=float(self.p.get("verify_timeout") or 10.0),
                                  ca_path=self.p.get("verify_ca_path"),
                                  validate_certs=bool(self.p.get("verify_validate_certs", True)))
        item.update(verified=result["verified"], verified_objects=result["objects"], verified_bytes=result["bytes"],
                    verify_problem=one_line(self.client.scrub(result["problem"])) if result["problem"] else None)


# ---------------------------------------------------------------------------------------------- results

def public(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """An item as returned: without the runner's private keys."""
    return {k: v for k, v in item.items() if not k.startswith("_") and k != "restart_error"}


def summary(items: t.Sequence[dict[str, t.Any]]) -> dict[str, int]:
    out = {a: 0 for a in ACTIONS}
    for item in items:
        out[item["action"]] = out.get(item["action"], 0) + 1
    out["unverified"] = sum(1 for i in items if i["action"] == "created" and i["verified"] is False)
    out["total"] = len(items)
    return out


def key(item: dict[str, t.Any]) -> str:
    return "%s/%s@%s" % (item["universe"], item["backup_type"], item["storage_config"] or "(no storage config)")


def diff(items: t.Sequence[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Newest recovery point per universe/type@config before and after."""
    before, after = {}, {}
    for item in items:
        if item["action"] == "skipped" or not item["storage_config_uuid"]:
            continue
        k = key(item)
        before[k] = item["last_backup_uuid"]
        if item["action"] == "created":
            after[k] = item["backup_uuid"]
        elif item["action"] == "planned":
            after[k] = "(new backup)"
        else:
            after[k] = item["last_backup_uuid"]
    return {"before": before, "after": after}


def record(items: t.Sequence[dict[str, t.Any]], check_mode: bool, api_calls: int, verify: bool) -> dict[str, t.Any]:
    s = summary(items)
    failed = [i for i in items if i["action"] == "failed"]
    unverified = [i for i in items if i["action"] == "created" and verify and not i["verified"]]
    parts = ["%d %s" % (s[a], a) for a in ACTIONS if s[a]]
    line = "%s: %s; %d API calls" % ("backup plan" if check_mode else "backups", ", ".join(parts) or "nothing selected",
                                     api_calls)
    if failed:
        line += "; failed: " + "; ".join("%s: %s" % (key(i), i["error"]) for i in failed)
    if unverified:
        line += "; unverified: " + "; ".join("%s: %s" % (key(i), i["verify_problem"]) for i in unverified)
    return {"summary": one_line(line, 2000), "ok": not failed and not unverified, "check_mode": check_mode,
            "counts": s, "failed": [key(i) for i in failed], "unverified": [key(i) for i in unverified],
            "created": [{"universe": i["universe"], "backup_type": i["backup_type"], "backup_uuid": i["backup_uuid"],
                         "storage_config": i["storage_config"], "verified": i["verified"]}
                        for i in items if i["action"] == "created"],
            "api_calls": api_calls}
