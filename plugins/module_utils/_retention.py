# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: backup retention through the YBA API with a minimum-redundancy floor
# (plan: pure over what the API answered; apply: batched POST backups/delete, then wait until the GC has deleted).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backups retention deletes, which the floor keeps, and the deletion itself (API-CAPABILITIES §6).

Candidates (full backups only: an incremental goes with its full, ``DeleteBackupYb`` queues the whole chain):

* ``expired`` - ``expiry < now`` in a state YBA's GC deletes (``Backup.getCompletedExpiredBackups``: Completed,
  Failed, Stopped, Skipped), except what YBA keeps on purpose: the newest ``minNumBackupsToRetain`` (3) Completed
  backups of each schedule (``BackupGarbageCollector.getBackupsToDeleteForSchedule``; not candidates at all) and the
  backups of a paused universe (kept, said why);
* ``failed_to_delete`` - ``FailedToDelete``: a deletion that failed (the GC's canary failed while the storage was
  down); YBA's expiry sweep never picks it again, only an API delete does;
* ``stuck`` - ``QueuedForDeletion``/``QueuedForForcedDeletion``/``DeleteInProgress`` not updated for two GC
  intervals: reported only, YBA refuses to delete a backup in those states (``BackupHelper.createDeleteBackupTasks``
  skips ``IN_PROGRESS_STATES``);
* ``policy`` - Completed and older than ``keep_days``, or beyond the newest ``keep_last`` per universe (or
  schedule).

The floor, which no candidate reason overrides: per universe x backup type x keyspace set, the newest
``min_redundancy`` good chains are kept - a chain is good when its full is Completed, no increment is in progress,
and, with verification, every location of the full and of its Completed increments holds its data objects and marker
in the bucket (``_backupverify``; a Failed/Stopped/Skipped increment does not stop the full from restoring); a catalog
entry whose objects are gone does not count (Barman's ``minimum_redundancy``, counted on verified backups). When the floor is not
met, only candidates found dangling are deleted: retention never deletes below the floor. Never deleted either: a
pinned backup (named in ``pinned``, or ``expiry`` null = never expires unless it is FailedToDelete), a chain with
an increment in progress (``DeleteBackupYb`` refuses it), a backup whose storage config is gone.
"""
from __future__ import annotations

import typing as t
from urllib.parse import quote

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr

EXPIRABLE = frozenset(("Completed", "Failed", "Stopped", "Skipped"))  # Backup.getCompletedExpiredBackups
FAILED_TO_DELETE = "FailedToDelete"
QUEUED = frozenset(("QueuedForDeletion", "QueuedForForcedDeletion", "DeleteInProgress"))
IN_PROGRESS = frozenset(("InProgress", "In Progress", "Stopping"))  # a chain member still being written
PENDING_STATES = ["QueuedForDeletion", "QueuedForForcedDeletion", "DeleteInProgress", FAILED_TO_DELETE]
DEFAULT_BATCH_SIZE = 10  # yb.backup.delete_expired_backup_max_gc_size
DEFAULT_GC_INTERVAL = 900.0  # yb.backupGC.gc_run_interval (15 min)
DEFAULT_MIN_REDUNDANCY = 1
# The floor examines at most max(FLOOR_WALK_MIN, FLOOR_WALK_FACTOR x min_redundancy) Completed fulls per universe and
# type (each is verified in the bucket); candidates older than the last one examined are kept when the floor is not
# met by then (whether they are good is not known).
FLOOR_WALK_MIN = 50
FLOOR_WALK_FACTOR = 10
# verification outcomes that say the objects are not there (the chain is dangling); any other problem (network,
# credentials, a hidden location) means the floor cannot be established
DANGLING_CLASSES = frozenset(("missing", "no_marker", "no_data"))


def size_of(info: dict[str, t.Any]) -> int:
    """Bytes of a BackupResp or a CommonBackupInfo: totalBackupSizeInBytes, else the sum over its responseList."""
    common = info.get("commonBackupInfo") if isinstance(info.get("commonBackupInfo"), dict) else info
    total = int(common.get("totalBackupSizeInBytes") or 0)
    if total:
        return total
    return sum(int(r.get("backupSizeInBytes") or 0) for r in common.get("responseList") or [] if isinstance(r, dict))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return ("%d %s" % (size, unit)) if unit == "B" else ("%.1f %s" % (size, unit))
        size /= 1024.0
    return "%d B" % n  # pragma: no cover


def fields(b: dict[str, t.Any]) -> dict[str, t.Any]:
    f = bi._backup_fields(b)
    common = b.get("commonBackupInfo") if isinstance(b.get("commonBackupInfo"), dict) else {}
    f["base_uuid"] = str(common.get("baseBackupUUID") or b.get("baseBackupUUID") or f["backup_uuid"])
    f["backup_uuid"] = str(f["backup_uuid"])
    f["backup_type"] = fr.backup_type(b)
    f["schedule_name"] = b.get("scheduleName") or None
    f["size"] = size_of(b)
    f["keyspaces"] = keyspaces_of(b)
    return f


def keyspaces_of(b: dict[str, t.Any]) -> tuple[str, ...]:
    """The sorted keyspaces of a backup (``commonBackupInfo.responseList[].keyspace``): a universe backed up per
    keyspace has one floor per keyspace set."""
    common = b.get("commonBackupInfo") if isinstance(b.get("commonBackupInfo"), dict) else b
    return tuple(sorted({str(r["keyspace"]) for r in common.get("responseList") or []
                         if isinstance(r, dict) and r.get("keyspace")}))


def label(floor: dict[str, t.Any], sep: str = "/") -> str:
    """``universe/type`` of a floor, with ``[ks1,ks2]`` when its backups name keyspaces."""
    ks = floor.get("keyspaces") or []
    return "%s%s%s%s" % (floor["universe"], sep, floor["backup_type"], (" [%s]" % ",".join(ks)) if ks else "")


def chain_entries(chain: t.Sequence[dict[str, t.Any]], base_uuid: str) -> list[dict[str, t.Any]]:
    """The increments of a list_increments answer (YBA lists the whole chain, full included, newest first)."""
    return [c for c in chain if str(c.get("backupUUID")) != base_uuid]


def in_progress_member(chain: t.Sequence[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    return next((c for c in chain if str(c.get("state")) in IN_PROGRESS), None)


class Planner:
    """The plan over one read of the catalog. ``chain_of(base_uuid)`` answers list_increments; ``verify(backup,
    chain)`` answers ``{verified, problem, error_class}`` for a chain (only called for the floor walk)."""

    def __init__(self, backups: t.Sequence[dict[str, t.Any]], now: float, params: dict[str, t.Any],
                 chain_of: t.Callable[[str], list[dict[str, t.Any]]],
                 verify: t.Callable[[dict[str, t.Any], list[dict[str, t.Any]]], dict[str, t.Any]] | None,
                 configs: t.Collection[str] | None = None, min_retain: t.Mapping[str, int] | None = None,
                 paused: t.Collection[str] = ()) -> None:
        self.now = now
        self.p = params
        self.chain_of = chain_of
        self.verify = verify
        self.configs = set(configs) if configs is not None else None
        self.paused = set(paused)
        self.rows = []
        every = [fields(b) for b in backups]
        # what YBA's GC keeps on purpose past expiry (newest minNumBackupsToRetain Completed per schedule)
        self.retained = bi.schedule_retained(every, min_retain or {})
        for b, f in zip(backups, every):
            if f["base_uuid"] != f["backup_uuid"]:
                continue  # an increment: it goes with its full
            f["raw"] = b
            self.rows.append(f)
        self._chains: dict[str, list[dict[str, t.Any]]] = {}

    def chain(self, f: dict[str, t.Any], always: bool = False) -> list[dict[str, t.Any]] | None:
        """The chain (None: gone). A full whose BackupResp says hasIncrementalBackups false (YBA computes it from
        the chain, BackupUtil.toBackupResp) is not looked up."""
        uuid = f["backup_uuid"]
        if uuid not in self._chains:
            if not always and f["raw"].get("hasIncrementalBackups") is False:
                return [{"backupUUID": uuid, "state": f["state"]}]
            self._chains[uuid] = self.chain_of(uuid)
        return self._chains[uuid]

    # ---------------------------------------------------------------------------------------- candidates
    def reason(self, f: dict[str, t.Any], policy_old: set[str]) -> str | None:
        state = f["state"]
        if state == FAILED_TO_DELETE:
            return "failed_to_delete"
        if state in QUEUED:
            updated = f["update_time"] or f["create_time"] or self.now
            return "stuck" if self.now - updated > 2 * float(self.p["gc_interval"]) else None
        if state in EXPIRABLE and f["expiry"] is not None and f["expiry"] < self.now \
                and f["backup_uuid"] not in self.retained:
            return "expired"
        if f["backup_uuid"] in policy_old:
            return "policy"
        return None

    def policy_old(self, groups: dict[tuple[str, str, tuple[str, ...]], list[dict[str, t.Any]]]) -> set[str]:
        """Completed fulls past keep_days or beyond keep_last (per universe x type x keyspaces, or per schedule)."""
        out: set[str] = set()
        keep_days, keep_last = float(self.p.get("keep_days") or 0), int(self.p.get("keep_last") or 0)
        if not keep_days and not keep_last:
            return out
        by: dict[t.Any, list[dict[str, t.Any]]] = {}
        for key, rows in groups.items():
            for f in rows:
                if f["state"] != bi.COMPLETED:
                    continue
                k = (f["schedule_uuid"] or "on-demand:" + key[0]) if self.p.get("policy_by") == "schedule" else key
                by.setdefault(k, []).append(f)
        for rows in by.values():
            rows.sort(key=lambda f: f["create_time"] or 0, reverse=True)
            for i, f in enumerate(rows):
                old = keep_days and f["create_time"] is not None and self.now - f["create_time"] > keep_days * 86400
                if old or (keep_last and i >= keep_last):
                    out.add(f["backup_uuid"])
        return out

    # --------------------------------------------------------------------------------------------- floor
    def floor(self, key: tuple[str, str, tuple[str, ...]], rows: list[dict[str, t.Any]],
              oldest: float) -> dict[str, t.Any]:
        """Walk the Completed fulls newest first until min_redundancy good chains are found, the walk passes the
        oldest candidate (nothing older matters), or the walk limit is reached."""
        need = int(self.p["min_redundancy"])
        limit = max(FLOOR_WALK_MIN, FLOOR_WALK_FACTOR * need)
        out: dict[str, t.Any] = {"universe": rows[0]["universe_name"], "universe_uuid": key[0],
                                 "backup_type": fr.api_name(key[1]), "keyspaces": list(key[2]),
                                 "min_redundancy": need, "kept": [],
                                 "not_counted": [], "met": need == 0, "unverifiable": None, "examined": 0,
                                 "not_examined_before": None, "dangling": []}
        for f in sorted(rows, key=lambda f: f["create_time"] or 0, reverse=True):
            if len(out["kept"]) >= need or (f["create_time"] or 0) < oldest:
                break
            if f["state"] != bi.COMPLETED:
                continue
            if out["examined"] >= limit:
                out["not_examined_before"] = bi.iso(f["create_time"]) or "?"
                break
            out["examined"] += 1
            chain = self.chain(f)
            if chain is None:
                out["not_counted"].append({"backup_uuid": f["backup_uuid"], "why": "gone (deleted meanwhile)"})
                continue
            members = chain_entries(chain, f["backup_uuid"])
            busy = in_progress_member(members)
            if busy is not None:
                out["not_counted"].append({"backup_uuid": f["backup_uuid"], "why": "increment %s is %s" % (
                    busy.get("backupUUID"), busy.get("state"))})
                continue
            # a Failed/Stopped/Skipped increment does not make the chain unrestorable: the full (and the Completed
            # increments) still restore, so only those are verified and the chain counts
            if self.verify is not None:
                res = self.verify(f["raw"], [c for c in members if str(c.get("state")) == bi.COMPLETED])
                if not res.get("verified"):
                    if res.get("error_class") not in DANGLING_CLASSES:
                        out["unverifiable"] = "cannot verify %s in the bucket: %s" % (
                            f["backup_uuid"], res.get("problem"))
                        return out
                    out["not_counted"].append({"backup_uuid": f["backup_uuid"],
                                               "why": "dangling: %s" % res.get("problem")})
                    out["dangling"].append(f["backup_uuid"])
                    continue
            out["kept"].append(f["backup_uuid"])
        out["met"] = len(out["kept"]) >= need
        return out

    # ---------------------------------------------------------------------------------------------- plan
    def plan(self) -> dict[str, t.Any]:
        self.pinned = {str(u) for u in self.p.get("pinned") or []}
        # the floor is per universe x backup type x keyspace set: a universe backed up per keyspace keeps each
        groups: dict[tuple[str, str, tuple[str, ...]], list[dict[str, t.Any]]] = {}
        for f in self.rows:
            groups.setdefault((str(f["universe_uuid"] or ""), f["backup_type"], f["keyspaces"]), []).append(f)
        policy_old = self.policy_old(groups)
        items, floors = [], []
        for key in sorted(groups, key=lambda k: (groups[k][0]["universe_name"] or "", k)):
            rows = groups[key]
            cands = [(f, r) for f, r in ((f, self.reason(f, policy_old)) for f in rows) if r]
            if not cands:
                continue
            floor = self.floor(key, rows, min(f["create_time"] or 0 for f, _r in cands))
            floors.append(floor)
            for f, reason in sorted(cands, key=lambda c: c[0]["create_time"] or 0):
                items.append(self.item(f, reason, floor))
        return {"items": items, "floors": floors}

    def item(self, f: dict[str, t.Any], reason: str, floor: dict[str, t.Any]) -> dict[str, t.Any]:
        out = {"backup_uuid": f["backup_uuid"], "universe": f["universe_name"], "universe_uuid": f["universe_uuid"],
               "backup_type": fr.api_name(f["backup_type"]), "state": f["state"], "reason": reason,
               "created": bi.iso(f["create_time"]), "expiry": bi.iso(f["expiry"]), "schedule": f["schedule_name"],
               "storage_config_uuid": f["storage_config_uuid"], "size_bytes": f["size"], "increments": [],
               "action": "delete", "why": None}
        out["keyspaces"] = list(f["keyspaces"])
        where = label(floor, " ")
        if reason == "stuck":
            out.update(action="report", why="%s since %s: YBA refuses to delete a backup in that state; its GC "
                       "retries it every run (check the GC in the YBA log)" % (f["state"], bi.iso(f["update_time"])))
            return out
        # expiry null pins, except a FailedToDelete backup: that was a requested deletion (only ``pinned`` pins it)
        if reason in ("expired", "policy") and str(f["universe_uuid"] or "") in self.paused:
            out.update(action="keep", why="universe %s is paused: YBA's GC does not expire the backups of a paused "
                       "universe (Backup.getCompletedExpiredBackups); resume it first" % out["universe"])
            return out
        if f["backup_uuid"] in self.pinned or (f["expiry"] is None and reason != "failed_to_delete"):
            out.update(action="keep", why="pinned (%s)" % ("named in pinned" if f["backup_uuid"] in self.pinned
                                                           else "never expires"))
            return out
        if floor["unverifiable"]:
            out.update(action="keep", why="floor unknown for %s: %s" % (where, floor["unverifiable"]))
            return out
        if floor["not_examined_before"] and bi.iso(f["create_time"]) and \
                bi.iso(f["create_time"]) <= floor["not_examined_before"]:
            out.update(action="keep", why="floor: only %d of %d verified chains of %s among the newest %d examined; "
                       "older ones are kept unexamined" % (len(floor["kept"]), floor["min_redundancy"], where,
                                                           floor["examined"]))
            return out
        if f["backup_uuid"] in floor["kept"]:
            rank = floor["kept"].index(f["backup_uuid"]) + 1
            out.update(action="keep", why="floor: newest verified chain %d of %d of %s (min_redundancy %d)" % (
                rank, len(floor["kept"]), where, floor["min_redundancy"]))
            return out
        if not floor["met"] and f["backup_uuid"] not in floor["dangling"]:
            out.update(action="keep", why="floor not met: only %d of %d verified chains of %s; retention refuses to "
                       "delete below the floor (only chains found dangling in the bucket are deleted)" % (
                           len(floor["kept"]), floor["min_redundancy"], where))
            return out
        if self.configs is not None and str(f["storage_config_uuid"]) not in self.configs:
            out.update(action="keep", why="its storage config %s is gone: YBA cannot delete its objects (re-home it "
                       "with PUT backups/{b} storageConfigUUID first)" % f["storage_config_uuid"])
            return out
        chain = self.chain(f)
        if chain is None:
            out.update(action="gone", why="deleted by YBA's GC meanwhile", result="gone")
            return out
        members = chain_entries(chain, f["backup_uuid"])
        out["increments"] = [str(c.get("backupUUID")) for c in members]
        out["size_bytes"] = f["size"] + sum(size_of(c) for c in members)
        busy = in_progress_member(members)
        if busy is not None:
            out.update(action="keep", why="increment %s is %s: YBA refuses to delete the chain" % (
                busy.get("backupUUID"), busy.get("state")))
            return out
        return out


# ------------------------------------------------------------------------------------------------ API side

def paused_universes(universes: t.Sequence[dict[str, t.Any]]) -> set[str]:
    """UUIDs of the paused universes (universeDetails.universePaused): YBA's GC skips their expired backups."""
    return {str(u.get("universeUUID")) for u in universes if fr.universe_state(u) == "paused"}


def read_min_retain(client: t.Any, backups: t.Sequence[dict[str, t.Any]], now: float) -> dict[str, int]:
    """minNumBackupsToRetain of each schedule owning an expired Completed backup (GET schedules/{s} taskParams;
    schedules/page lacks it). A schedule that cannot be read keeps YBA's default (3)."""
    out: dict[str, int] = {}
    # retain_lookups asks for backups expired longer than the GC grace: shifting now by it asks for every expired one
    for sched_uuid in bi.retain_lookups(backups, [], now + bi.GC_GRACE_SECONDS):
        try:
            value = bi.schedule_min_retain(client.get(client.cpath("schedules/%s" % quote(sched_uuid, safe="")),
                                                      idempotent=True) or {})
        except (_api.YBANotFound, _api.YBAValidationError):
            continue
        if value is not None:
            out[sched_uuid] = value
    return out


def read_backups(client: t.Any, universe_uuids: t.Sequence[str] | None, page_size: int) -> list[dict[str, t.Any]]:
    """Every backup (all states) of the given universes (all when None), oldest first. Read twice, with
    ``onlyShowDeletedUniverses`` false then true (as ``_reconcile.read_catalog``), so the backups of deleted universes
    are there whichever way a YBA version reads the flag; de-duplicated by backup UUID."""
    seen: dict[str, dict[str, t.Any]] = {}
    for deleted in (False, True):
        flt = dict(bi.BACKUP_FILTER, onlyShowDeletedUniverses=deleted, universeUUIDList=list(universe_uuids or []))
        for b in client.paged(client.cpath("backups/page"), {"filter": flt, "direction": "ASC",
                                                             "sortBy": "createTime"}, limit=page_size):
            seen.setdefault(str(fields(b)["backup_uuid"]), b)
    return sorted(seen.values(), key=lambda b: fields(b)["create_time"] or 0)


def is_gone(err: _api.YBAError) -> bool:
    """The collection's one check that a backup is gone (other module_utils import it rather than guess from any 400):
    404, or the 400 of Backup.getOrBadRequest ("Invalid customer: <c> or backup: <b>") once the GC deleted the row.
    Any other 400 (a refused request, a bad customer UUID) is not a gone backup."""
    if isinstance(err, _api.YBANotFound) or err.status == 404:
        return True
    text = str(err.message or "").lower()
    return err.status == 400 and "invalid customer" in text and "backup" in text


def list_increments(client: t.Any, base_uuid: str) -> list[dict[str, t.Any]] | None:
    """GET backups/{b}/list_increments (BackupsController.listIncrementalBackups): the chain, newest first; None
    when the backup is gone (YBA's GC deleted it meanwhile)."""
    try:
        answer = client.get(client.cpath("backups/%s/list_increments" % quote(base_uuid, safe="")), idempotent=True)
    except _api.YBAError as err:
        if is_gone(err):
            return None
        raise
    return [c for c in answer or [] if isinstance(c, dict)]


def backup_state(client: t.Any, uuid: str) -> str | None:
    """The backup's state now, None when it is gone."""
    try:
        answer = client.get(client.cpath("backups/%s" % quote(uuid, safe="")), idempotent=True)
    except _api.YBAError as err:
        if is_gone(err):
            return None
        raise
    return str((answer or {}).get("state") or "")


class Deleter:
    """POST backups/delete in batches; each batch is watched until YBA's tasks queued it, then (``wait``) every
    queued backup until YBA's GC has deleted it. A backup's state is read with one backups/page per universe
    (narrowed to the batch's creation times), not one GET per backup; a backup the page no longer lists is gone.
    The backups of a deleted universe (``deleted_universes``) are also read with ``onlyShowDeletedUniverses`` true:
    a YBA version may hide them otherwise, and a hidden backup must not pass for deleted."""

    def __init__(self, client: t.Any, params: dict[str, t.Any], deleted_universes: t.Collection[str] = ()) -> None:
        self.client = client
        self.p = params
        self.deleted_universes = {str(u) for u in deleted_universes}
        self.batches: list[dict[str, t.Any]] = []

    def run(self, items: list[dict[str, t.Any]]) -> None:
        todo = [i for i in items if i["action"] == "delete"]
        size = int(self.p["batch_size"])
        stop = None
        for n, start in enumerate(range(0, len(todo), size)):
            batch = todo[start:start + size]
            if stop is not None:
                for item in batch:
                    item.update(result="not_requested", detail=stop)
                continue
            if n:
                self.client._sleep(float(self.p["batch_interval"]))
            stop = self.batch(n + 1, batch)
        if self.p["wait"]:
            self.wait([i for i in todo if i.get("result") == "queued"])

    def states(self, items: t.Sequence[dict[str, t.Any]]) -> dict[str, str]:
        """uuid -> state now of the backups of ``items`` that YBA still lists (absent = gone)."""
        out: dict[str, str] = {}
        by_u: dict[str, list[float]] = {}
        for i in items:
            by_u.setdefault(str(i["universe_uuid"] or ""), []).append(bi.parse_time(i["created"]) or 0.0)
        for u, times in sorted(by_u.items()):
            for deleted in (False, True) if u in self.deleted_universes else (False,):
                flt = dict(bi.BACKUP_FILTER, universeUUIDList=[u] if u else [], onlyShowDeletedUniverses=deleted,
                           dateRangeStart=bi.iso(min(times) - 1), dateRangeEnd=bi.iso(max(times) + 1))
                for b in self.client.paged(self.client.cpath("backups/page"), {"filter": flt}, limit=500):
                    f = fields(b)
                    out[f["backup_uuid"]] = str(f["state"])
        return out

    def task_state(self, task: str) -> tuple[str, str]:
        answer = self.client.get(self.client.cpath("tasks/%s" % quote(task, safe="")), idempotent=True) or {}
        return str(answer.get("status") or ""), _api._task_error_text(answer)

    def batch(self, n: int, batch: list[dict[str, t.Any]]) -> str | None:
        """One POST backups/delete; returns why to stop when a backup of it could not be queued."""
        started = self.client._clock()
        body = {"deleteBackupInfos": [{"backupUUID": i["backup_uuid"]} for i in batch], "deleteForcefully": False}
        answer = self.client.post(self.client.cpath("backups/delete"), body, idempotent=False) or {}
        tasks = {str(x.get("resourceUUID")): str(x.get("taskUUID")) for x in answer.get("ybpTaskList") or []
                 if isinstance(x, dict)}
        self.batches.append({"batch": n, "requested": [i["backup_uuid"] for i in batch], "queued": sorted(tasks),
                             "dropped": [i["backup_uuid"] for i in batch if i["backup_uuid"] not in tasks]})
        waiting = {}
        for item in batch:
            task = tasks.get(item["backup_uuid"])
            if task is None:
                self.dropped(item)
            else:
                item["task_uuid"] = task
                waiting[item["backup_uuid"]] = item
        deadline = started + float(self.p["task_timeout"])
        delay = 0.2
        while waiting:
            self.client._sleep(delay)
            delay = min(2.0, delay * 2)
            now = self.states(list(waiting.values()))
            for uuid, item in list(waiting.items()):
                state = now.get(uuid)
                if state is None:
                    waiting.pop(uuid).update(result="deleted", detail="queued by task %s and already deleted by "
                                             "YBA's GC" % item["task_uuid"])
                elif state in QUEUED:
                    waiting.pop(uuid).update(result="queued", detail="queued for deletion by task %s" %
                                             item["task_uuid"])
                elif state == FAILED_TO_DELETE or self.client._clock() > deadline:
                    # a FailedToDelete backup stays so until its task ran: the task says which
                    status, error = self.task_state(item["task_uuid"])
                    if status in _api.TASK_FAILED:
                        waiting.pop(uuid).update(result="failed_to_queue", detail="YBA could not queue it (task %s "
                                                 "%s%s); it is %s" % (item["task_uuid"], status, error, state))
                    elif status in _api.TASK_SUCCESS and state != FAILED_TO_DELETE:
                        waiting.pop(uuid).update(result="dropped", detail="task %s succeeded but it is %s: YBA "
                                                 "did not queue it" % (item["task_uuid"], state))
                    elif self.client._clock() > deadline:
                        waiting.pop(uuid).update(result="timeout", detail="task %s still %s after %.0f s" % (
                            item["task_uuid"], status or "unknown", float(self.p["task_timeout"])))
        self.batches[-1]["seconds"] = round(self.client._clock() - started, 1)
        failures = [i for i in batch if i.get("result") in ("failed_to_queue", "timeout")]
        if failures:
            return ("stopped after batch %d: %d backup(s) could not be queued (first: %s %s); is the storage "
                    "broken again?" % (n, len(failures), failures[0]["backup_uuid"], failures[0]["detail"]))
        return None

    def state_or_gone(self, uuid: str) -> str:
        try:
            return backup_state(self.client, uuid) or "gone"
        except _api.YBAError as err:
            return "unknown (%s)" % _api.one_line(str(err), 200)

    def dropped(self, item: dict[str, t.Any]) -> None:
        """YBA left it out of ybpTaskList (BackupHelper.createDeleteBackupTasks skips unknown, in-progress and
        Completed incremental backups): say why from its state now."""
        state = self.state_or_gone(item["backup_uuid"])
        if state == "gone":
            item.update(result="gone", detail="already deleted (YBA's GC was first)")
        elif state in QUEUED:
            item.update(result="queued", detail="dropped by YBA: already %s (its GC queued it)" % state)
        else:
            item.update(result="dropped", detail="dropped by YBA without a task; it is %s" % state)

    def wait(self, queued: list[dict[str, t.Any]]) -> None:
        """Until YBA's GC has deleted each queued backup (the page no longer lists it), it failed
        (FailedToDelete), or wait_timeout passes."""
        deadline = self.client._clock() + float(self.p["wait_timeout"])
        pending = {i["backup_uuid"]: i for i in queued}
        while pending:
            now = self.states(list(pending.values()))
            for uuid in list(pending):
                state = now.get(uuid)
                if state is None:
                    pending.pop(uuid).update(result="deleted", detail="deleted by YBA's GC")
                elif state == FAILED_TO_DELETE:
                    pending.pop(uuid).update(result="failed_to_delete", detail="YBA's GC could not delete its "
                                             "objects (FailedToDelete): see the YBA log and probe the storage")
                elif state not in QUEUED:
                    pending.pop(uuid).update(result="not_deleted", detail="it is %s again" % state)
            remaining = deadline - self.client._clock()
            if not pending or remaining <= 0:
                break
            self.client._sleep(min(float(self.p["poll_interval"]), remaining))
        for item in pending.values():
            item.update(result="timeout", detail="still queued after %.0f s: YBA's GC deletes queued backups once "
                        "per GC interval (yb.backupGC.gc_run_interval)" % float(self.p["wait_timeout"]))


# ------------------------------------------------------------------------------------------------- results

DONE = ("deleted", "gone")


def summary(items: t.Sequence[dict[str, t.Any]], check_mode: bool) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"candidates": len(items), "planned": 0, "kept": 0, "reported": 0, "bytes_planned": 0}
    for i in items:
        if i["action"] == "delete":
            out["planned"] += 1
            out["bytes_planned"] += int(i["size_bytes"] or 0)
        elif i["action"] == "keep":
            out["kept"] += 1
        elif i["action"] == "report":
            out["reported"] += 1
        if i.get("result") and (not check_mode or i["action"] == "gone"):
            out[i["result"]] = out.get(i["result"], 0) + 1
    for r in ("queued", "deleted", "gone", "failed_to_delete", "failed_to_queue", "dropped", "timeout",
              "not_requested", "not_deleted"):
        out.setdefault(r, 0)
    return out


def line(i: dict[str, t.Any]) -> str:
    return "%s %s/%s %s %s %s%s" % (i["backup_uuid"], i["universe"], i["backup_type"], i["state"], i["created"],
                                    human_size(int(i["size_bytes"] or 0)),
                                    (" +%d increments" % len(i["increments"])) if i["increments"] else "")


def diff(items: t.Sequence[dict[str, t.Any]], check_mode: bool) -> dict[str, str]:
    """Before: every candidate; after: those that stay (in check mode: all but the planned deletions)."""
    before = [line(i) for i in items]
    if check_mode:
        after = [line(i) for i in items if i["action"] != "delete"]
    else:
        after = [line(i) for i in items if i.get("result") not in DONE]
    return {"before": "\n".join(before) + ("\n" if before else ""), "after": "\n".join(after) + ("\n" if after else ""),
            "before_header": "expired or policy candidates", "after_header": "after retention"}


def failed_items(items: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [i for i in items if i["action"] == "delete" and i.get("result") not in DONE + ("queued",)]


def record(items: t.Sequence[dict[str, t.Any]], floors: t.Sequence[dict[str, t.Any]], check_mode: bool,
           requests: int, wait: bool) -> dict[str, t.Any]:
    s = summary(items, check_mode)
    short = [f for f in floors if not f["met"] or f["unverifiable"]]
    if check_mode:
        text = "retention plan: %d to delete (%s), %d kept, %d reported" % (
            s["planned"], human_size(s["bytes_planned"]), s["kept"], s["reported"])
    else:
        text = "retention: %d deleted (%d already gone), %d queued, %d failed, %d kept, %d reported" % (
            s["deleted"], s["gone"], s["queued"], len(failed_items(items)), s["kept"],
            s["reported"])
    if short:
        text += "; floor not met for %s" % ", ".join(label(f) for f in short)
    ok = not failed_items(items) if not check_mode else True
    if not check_mode and wait:
        ok = ok and s["queued"] == 0
    return {"ok": ok, "summary": text, "check_mode": check_mode, "counts": s, "requests": requests,
            "floor_short": [label(f) for f in short]}
