# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the backup catalog of YBA against the objects in its buckets, one
# streamed listing, by YBA's own location layout. Dangling catalog entries, orphan prefixes, size mismatches.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catalog <-> bucket reconciliation (API-CAPABILITIES §8.2).

Every object key under a storage config's ``BACKUP_LOCATION`` belongs to a *backup folder*, the part of its key
YBA's ``BackupUtil.BACKUP_IDENTIFIER_STRING`` names: ``(.*?)(nfsBucket/)?(univ-<uuid>/)((ybc_)?backup-(.*))``,
cut at the first ``/`` after the backup id. That covers the V2 layout
(``univ-<u>/ybc_backup-<base uuid, no dashes>/full|incremental/<ts>/keyspace-<ks>_<paramsId>``, increments in the
folder of their full backup) and the V1 script layout (``univ-<u>/backup-<ts>-<n>/keyspace-<ks>``).

The listing is sorted (S3 returns keys in UTF-8 binary order), so all keys of one folder arrive together: the
reconciler keeps only the folder at hand and, for the catalog's own locations, four numbers each; memory is flat in
the number of objects (the catalog index is a dict of the expected folders, one entry per catalog backup).

Classes:

* dangling - a ``Completed`` catalog entry one of whose locations holds no object, lacks its writer's marker
  (YBC ``success``, script ``SnapshotInfoPB``: ``_backupverify.MARKERS``) or holds the marker alone;
* orphan - a backup folder with objects and no catalog entry in any state but ``Deleted``, whose newest object is
  older than the grace period, in a universe with no backup in progress; ``backup_keys.json`` (KMS keys YBA keeps
  beside a backup, ``BackupUtil.BACKUP_KEYS_JSON``) never makes a folder an orphan, keys outside the layout (YBA's
  storage validation canary ``<prefix>/<uuid>.txt``, this collection's canary directory) are never folders;
* size mismatch - a Completed entry whose locations' bytes differ from the catalog's ``totalBackupSizeInBytes`` by
  more than ``max(size_tolerance_bytes, size_tolerance x catalog)`` (markers and metadata are not counted the same
  way by every YBA version; a catalog size of 0 means unknown and is not compared).
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv
from ansible_collections.yba.remediation.plugins.module_utils import _retention
from ansible_collections.yba.remediation.plugins.module_utils import _s3

# BackupUtil.BACKUP_IDENTIFIER_STRING (common/backuprestore/BackupUtil.java), cut at the end of the backup id.
FOLDER = re.compile(r"^(.*?)(nfsBucket/)?(univ-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                    r"[0-9a-fA-F]{12})/)((ybc_)?backup-([^/]+))(?=/)")
BACKUP_KEYS_JSON = bv.BACKUP_KEYS_JSON
DELETED = frozenset(("Deleted",))
DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1000 keys
CLASSES = ("dangling", "orphans", "size_mismatches")
DEFAULT_TOLERANCE = 0.1
DEFAULT_TOLERANCE_BYTES = 1048576


def folder_of(key: str) -> tuple[str, str, str] | None:
    """(folder key, universe uuid, backup id) of an object key or a location key, else None."""
    m = FOLDER.match(key)
    if not m:
        return None
    return m.group(0), m.group(4).lower(), m.group(7)


def backup_uuid_of(backup_id: str) -> str | None:
    """The base backup's uuid a V2 folder is named after (32 hex digits), else None (V1 folders carry a time)."""
    if re.fullmatch(r"[0-9a-fA-F]{32}", backup_id or ""):
        h = backup_id.lower()
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
    return None


def _region_locations(backup: dict[str, t.Any]) -> list[str]:
    """The regional locations of a multi-region backup. BackupUtil.getCommonBackupInfo fills
    ``responseList[].perRegionLocations`` with ``BackupUtil.RegionLocations`` (``REGION``, ``LOCATION``,
    ``HOST_BASE``); ``regionLocation`` is read as well for answers that spell it so."""
    out = []
    for sub in (backup.get("commonBackupInfo") or {}).get("responseList") or []:
        if isinstance(sub, dict):
            for reg in sub.get("perRegionLocations") or []:
                if isinstance(reg, dict):
                    location = reg.get("LOCATION") or reg.get("regionLocation")
                    if location:
                        out.append(str(location))
    return out


class Catalog:
    """The expected folders: every location of every catalog backup not Deleted, by (bucket, folder key)."""

    def __init__(self) -> None:
        self.folders: dict[tuple[str, str], list[dict[str, t.Any]]] = {}
        self.entries: list[dict[str, t.Any]] = []
        self.seen_uuids: set[str] = set()
        self.in_progress_universes: set[str] = set()
        self.universe_names: dict[str, str] = {}
        self.universes: set[str] = set()  # every universe the catalog names (any state, deleted universes too)
        self.unplaced = 0  # entries with no location in the layout (hidden, not S3, unknown layout)

    def add(self, backup: dict[str, t.Any]) -> bool:
        """Add one BackupResp (backups/page); False when already there (paging overlaps) or Deleted."""
        f = bi._backup_fields(backup)
        uuid = str(f["backup_uuid"] or "")
        if not uuid or uuid in self.seen_uuids:
            return False
        self.seen_uuids.add(uuid)
        state = str(f["state"] or "")
        universe = str(f["universe_uuid"] or "").lower()
        if universe:
            self.universes.add(universe)
        if universe and f["universe_name"]:
            self.universe_names.setdefault(universe, str(f["universe_name"]))
        if state in bi.RUNNING_BACKUP:
            self.in_progress_universes.add(universe)
        if state in DELETED:
            return False
        entry: dict[str, t.Any] = {
            "backup_uuid": uuid, "universe_uuid": universe, "universe": f["universe_name"], "state": state,
            "category": bv.category_of(backup), "create_time": f["create_time"], "expiry": f["expiry"],
            "storage_config_uuid": f["storage_config_uuid"], "size": _retention.size_of(backup), "locations": [],
            "judged": False, "stats": None}
        placed = False
        for location in bv.locations_of(backup) + _region_locations(backup):
            if not location.startswith("s3://") or bv._masked(location):
                continue
            bucket, key = _s3.parse_location(location)
            folder = folder_of(key + "/")
            if folder is None:
                continue
            placed = True
            self.folders.setdefault((bucket, folder[0]), []).append(entry)
            entry["locations"].append((bucket, key.rstrip("/")))
        if not placed:
            self.unplaced += 1
        self.entries.append(entry)
        return True


class Reconciler:
    """Feed it the sorted listing of each listed prefix, then ``finish()``: counts, per universe, samples."""

    def __init__(self, catalog: Catalog, now: float, grace_seconds: float = 3600.0, max_samples: int = 20,
                 size_tolerance: float = DEFAULT_TOLERANCE, size_tolerance_bytes: int = DEFAULT_TOLERANCE_BYTES,
                 created_after: float | None = None, orphan_min_age: float | None = None,
                 collect_limit: int = 0, judge: t.Callable[[dict[str, t.Any]], bool] | None = None) -> None:
        self.catalog = catalog
        self.now = now
        self.grace = grace_seconds
        self.max_samples = max_samples
        self.tolerance = size_tolerance
        self.tolerance_bytes = size_tolerance_bytes
        self.created_after = created_after
        self.orphan_min_age = orphan_min_age
        self.collect_limit = collect_limit  # deletable orphans / dangling uuids kept for an action (+1 to tell more)
        self.judge = judge or (lambda entry: True)
        self.scopes: list[tuple[str, str]] = []
        self.source: t.Any = None
        self.counts = {"listed_objects": 0, "listed_bytes": 0, "folders": 0, "catalogued_folders": 0,
                       "other_objects": 0, "excluded_objects": 0, "orphan_objects": 0, "orphan_bytes": 0,
                       "young_folders": 0, "in_progress_folders": 0, "outside_window_folders": 0,
                       "keys_only_folders": 0}
        self.samples: dict[str, list[dict[str, t.Any]]] = {c: [] for c in CLASSES}
        self.totals = {c: 0 for c in CLASSES}
        self.per_universe: dict[str, dict[str, int]] = {}
        self.deletable_orphans: list[dict[str, t.Any]] = []
        self.deletable_orphan_count = 0
        self.dangling_entries: list[dict[str, t.Any]] = []

    # ------------------------------------------------------------------ the stream
    def feed(self, bucket: str, list_prefix: str, objects: t.Iterable[tuple[str, int, float]],
             source: t.Any = None) -> None:
        """One listing of ``bucket`` under ``list_prefix``: (key, size, last modified epoch) in key order.
        ``source`` (the caller's name for the endpoint listed) is kept on each deletable orphan."""
        self.scopes.append((bucket, list_prefix))
        self.source = source
        cur: str | None = None
        cur_slash = ""
        agg: dict[str, t.Any] = {}
        counts = self.counts
        for key, size, mtime in objects:
            counts["listed_objects"] += 1
            counts["listed_bytes"] += size
            if cur is not None and key.startswith(cur_slash):
                self._add(agg, key, size, mtime)
                continue
            if cur is not None:
                self._close(bucket, agg)
            found = folder_of(key)
            if found is None:
                cur = None
                if key.rsplit("/", 1)[-1] == BACKUP_KEYS_JSON:
                    counts["excluded_objects"] += 1
                else:
                    counts["other_objects"] += 1
                continue
            cur, universe, backup_id = found
            cur_slash = cur + "/"
            entries = self.catalog.folders.get((bucket, cur))
            agg = {"folder": cur, "universe": universe, "backup_id": backup_id, "entries": entries, "objects": 0,
                   "bytes": 0, "newest": 0.0, "keys_only": True, "locs": None}
            if entries:
                agg["locs"] = [(loc[1] + "/", e) for e in entries for loc in e["locations"] if loc[0] == bucket]
            self._add(agg, key, size, mtime)
        if cur is not None:
            self._close(bucket, agg)

    def _add(self, agg: dict[str, t.Any], key: str, size: int, mtime: float) -> None:
        agg["objects"] += 1
        agg["bytes"] += size
        if mtime > agg["newest"]:
            agg["newest"] = mtime
        name = key.rsplit("/", 1)[-1]
        if name != BACKUP_KEYS_JSON:
            agg["keys_only"] = False
        elif agg["locs"] is None:
            self.counts["excluded_objects"] += 1
        if agg["locs"]:
            for prefix, entry in agg["locs"]:
                if key.startswith(prefix):
                    stats = entry["stats"]
                    if stats is None:
                        stats = entry["stats"] = {}
                    st = stats.setdefault(prefix[:-1], [0, 0, False, 0])  # objects, bytes, marker, data
                    st[0] += 1
                    st[1] += size
                    kind = bv.object_kind(key[len(prefix):], entry["category"])
                    if kind == bv.MARKER:
                        st[2] = True
                    elif kind == bv.DATA:
                        st[3] += 1
                    break

    def _universe(self, uuid: str) -> dict[str, int]:
        if uuid not in self.per_universe:
            self.per_universe[uuid] = {c: 0 for c in CLASSES}
            self.per_universe[uuid].update(orphan_objects=0, orphan_bytes=0)
        return self.per_universe[uuid]

    def _close(self, bucket: str, agg: dict[str, t.Any]) -> None:
        counts = self.counts
        counts["folders"] += 1
        if agg["entries"]:
            counts["catalogued_folders"] += 1
            return
        if agg["keys_only"]:
            counts["keys_only_folders"] += 1
            return
        universe = agg["universe"]
        age = self.now - agg["newest"]
        if universe in self.catalog.in_progress_universes:
            counts["in_progress_folders"] += 1
            return
        if age < self.grace:
            counts["young_folders"] += 1
            return
        if self.created_after is not None and agg["newest"] < self.created_after:
            counts["outside_window_folders"] += 1
            return
        self.totals["orphans"] += 1
        counts["orphan_objects"] += agg["objects"]
        counts["orphan_bytes"] += agg["bytes"]
        per = self._universe(universe)
        per["orphans"] += 1
        per["orphan_objects"] += agg["objects"]
        per["orphan_bytes"] += agg["bytes"]
        item = {"prefix": "s3://%s/%s/" % (bucket, agg["folder"]), "bucket": bucket, "key_prefix": agg["folder"] + "/",
                "universe_uuid": universe, "universe": self.catalog.universe_names.get(universe),
                "backup_uuid": backup_uuid_of(agg["backup_id"]), "objects": agg["objects"], "bytes": agg["bytes"],
                "newest": bi.iso(agg["newest"]), "age_seconds": int(age)}
        if len(self.samples["orphans"]) < self.max_samples:
            self.samples["orphans"].append(item)
        if self.orphan_min_age is not None and age >= self.orphan_min_age:
            self.deletable_orphan_count += 1
            if len(self.deletable_orphans) <= self.collect_limit:
                self.deletable_orphans.append(dict(item, source=self.source))

    # ------------------------------------------------------------------ the catalog side
    def in_scope(self, entry: dict[str, t.Any]) -> bool:
        """Every location of the entry lies under a prefix that was listed (else nothing can be said)."""
        if not entry["locations"]:
            return False
        for bucket, key in entry["locations"]:
            if not any(b == bucket and (key + "/").startswith(p) for b, p in self.scopes):
                return False
        return True

    def _entry_problem(self, entry: dict[str, t.Any]) -> tuple[str | None, str | None, int, int]:
        stats = entry["stats"] or {}
        objects = sum(s[0] for s in stats.values())
        size = sum(s[1] for s in stats.values())
        for bucket, key in entry["locations"]:
            st = stats.get(key) or [0, 0, False, 0]
            problem, error_class = bv.location_problem("s3://%s/%s" % (bucket, key), entry["category"], st[0], st[2],
                                                       st[3])
            if problem:
                return problem, error_class, objects, size
        return None, None, objects, size

    def finish(self) -> dict[str, t.Any]:
        judged = unchecked = outside = 0
        for entry in self.catalog.entries:
            if entry["state"] != bi.COMPLETED:
                continue
            if self.created_after is not None and (entry["create_time"] or 0) < self.created_after:
                outside += 1
                continue
            if not self.judge(entry):  # e.g. another storage config's entry: its bucket was not listed
                unchecked += 1
                continue
            if not self.in_scope(entry):
                unchecked += 1
                continue
            judged += 1
            problem, error_class, objects, size = self._entry_problem(entry)
            base = {"backup_uuid": entry["backup_uuid"], "universe": entry["universe"],
                    "universe_uuid": entry["universe_uuid"], "state": entry["state"],
                    "create_time": bi.iso(entry["create_time"]),
                    "expired": bool(entry["expiry"] and entry["expiry"] < self.now),
                    "location": "s3://%s/%s" % entry["locations"][0], "objects": objects, "bytes": size}
            if problem:
                self.totals["dangling"] += 1
                self._universe(entry["universe_uuid"])["dangling"] += 1
                if len(self.samples["dangling"]) < self.max_samples:
                    self.samples["dangling"].append(dict(base, problem=problem, error_class=error_class))
                if len(self.dangling_entries) <= self.collect_limit:
                    self.dangling_entries.append(dict(base, storage_config_uuid=entry["storage_config_uuid"]))
                continue
            catalog_size = entry["size"]
            allowed = max(self.tolerance_bytes, self.tolerance * catalog_size)
            if catalog_size > 0 and abs(size - catalog_size) > allowed:
                self.totals["size_mismatches"] += 1
                self._universe(entry["universe_uuid"])["size_mismatches"] += 1
                if len(self.samples["size_mismatches"]) < self.max_samples:
                    self.samples["size_mismatches"].append(dict(base, catalog_bytes=catalog_size,
                                                                difference=size - catalog_size))
        counts = dict(self.counts, catalog_entries=len(self.catalog.entries), judged_entries=judged,
                      unchecked_entries=unchecked, outside_window_entries=outside,
                      **self.totals)
        universes = []
        for uuid, per in sorted(self.per_universe.items(),
                                key=lambda kv: (-(kv[1]["dangling"] + kv[1]["orphans"]), kv[0])):
            universes.append(dict(per, universe_uuid=uuid, universe=self.catalog.universe_names.get(uuid)))
        return {"counts": counts, "universes": universes, "dangling": self.samples["dangling"],
                "orphans": self.samples["orphans"], "size_mismatches": self.samples["size_mismatches"]}


# ---------------------------------------------------------------------------------- S3 side

def list_objects(s3: t.Any, bucket: str, prefix: str, page_size: int | None = None
                 ) -> t.Iterator[tuple[str, int, float]]:
    """(key, size, last modified epoch) of every object under ``prefix``, page by page (nothing kept); pages of the
    server's default size (1000 on S3) unless ``page_size``."""
    kwargs: dict[str, t.Any] = {"Bucket": bucket}
    if page_size:
        kwargs["PaginationConfig"] = {"PageSize": page_size}
    if prefix:
        kwargs["Prefix"] = prefix
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents") or ():
            mtime = obj.get("LastModified")
            yield obj["Key"], int(obj.get("Size") or 0), mtime.timestamp() if mtime is not None else 0.0


def delete_prefix(s3: t.Any, bucket: str, key_prefix: str, max_mtime: float | None = None) -> dict[str, t.Any]:
    """Delete every object under ``key_prefix`` with DeleteObjects, 1000 keys a request, streaming the listing.
    ``max_mtime``: an object modified after it (written since the plan) stops the deletion of this prefix, with
    the objects deleted so far reported. Returns {deleted, bytes, errors: [first few], stopped}."""
    out: dict[str, t.Any] = {"deleted": 0, "bytes": 0, "errors": [], "error_count": 0, "stopped": None}
    batch: list[tuple[str, int]] = []

    def flush() -> None:
        if not batch:
            return
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k, _size in batch], "Quiet": True})
        failed = {e.get("Key"): e for e in answer.get("Errors") or []}
        for key, size in batch:
            if key in failed:
                out["error_count"] += 1
                if len(out["errors"]) < 5:
                    out["errors"].append("%s: %s %s" % (key, failed[key].get("Code"), failed[key].get("Message")))
            else:
                out["deleted"] += 1
                out["bytes"] += size
        del batch[:]

    for key, size, mtime in list_objects(s3, bucket, key_prefix):
        if max_mtime is not None and mtime > max_mtime:
            out["stopped"] = "%s was written after the plan (%s): the prefix is in use, not deleted further" % (
                key, bi.iso(mtime))
            break
        batch.append((key, size))
        if len(batch) >= DELETE_BATCH:
            flush()
    flush()
    return out


# ---------------------------------------------------------------------------------- API side

def read_catalog(client: t.Any, catalog: Catalog, universe_uuids: t.Sequence[str] = (), page_size: int = 500,
                 max_entries: int | None = None) -> int:
    """Every backup of every state into ``catalog``, newest first (offset paging: a new backup shifts the pages and
    shows twice, deduplicated; a row deleted behind the cursor shifts them the other way and one row can be
    missed - which is why no orphan is deleted on this read alone, see ``still_orphans``). Twice:
    ``onlyShowDeletedUniverses`` false, then true, so the backups of deleted universes are there whichever way a YBA
    version reads the flag (API-CAPABILITIES §8.1). Returns the requests' entity count."""
    seen = 0
    for deleted in (False, True):
        flt = dict(bi.BACKUP_FILTER, onlyShowDeletedUniverses=deleted)
        if universe_uuids:
            flt["universeUUIDList"] = list(universe_uuids)
        for backup in client.paged(client.cpath("backups/page"),
                                   {"filter": flt, "sortBy": "createTime", "direction": "DESC"}, limit=page_size):
            seen += 1
            catalog.add(backup)
            if max_entries is not None and len(catalog.entries) > max_entries:
                return seen
    return seen


def delete_dangling(client: t.Any, entries: t.Sequence[dict[str, t.Any]], batch: int = 100,
                    wait_timeout: float = 0.0) -> dict[str, t.Any]:
    """``POST backups/delete`` with ``deleteForcefully`` (BackupsController.deleteYb; the forced DeleteBackupYb
    removes the catalog row even when deleting its objects fails, which is the point for objects already gone).
    With ``wait_timeout`` each DeleteBackupYb task is waited for (it queues the backup for the GC and ends).
    Returns {requested, queued: [uuid], dropped: [uuid], failed: [{backup_uuid, error}]} (YBA skips some uuids
    with a log line only: dropped)."""
    requested = [e["backup_uuid"] for e in entries]
    tasks: dict[str, str] = {}
    for i in range(0, len(requested), batch):
        chunk = requested[i:i + batch]
        answer = client.post(client.cpath("backups/delete"), {
            "deleteBackupInfos": [{"backupUUID": u} for u in chunk], "deleteForcefully": True}) or {}
        for x in answer.get("ybpTaskList") or []:
            if isinstance(x, dict) and str(x.get("resourceUUID")) in chunk:
                tasks[str(x["resourceUUID"])] = str(x.get("taskUUID") or "")
    failed = []
    if wait_timeout > 0:
        for b, task in tasks.items():
            if not task:
                continue
            try:
                client.wait_for_task(task, wait_timeout, poll_interval=0.5, max_poll_interval=2.0)
            except _api.YBAError as err:
                failed.append({"backup_uuid": b, "error": _api.one_line(err.message, 300)})
    bad = {f["backup_uuid"] for f in failed}
    return {"requested": len(requested), "queued": [u for u in requested if u in tasks and u not in bad],
            "dropped": [u for u in requested if u not in tasks], "failed": failed}


# ---------------------------------------------------------------------------------- inputs and outputs

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class UnknownUniverse(Exception):
    pass


def is_uuid(value: t.Any) -> bool:
    return bool(_UUID.match(str(value or "")))


def parse_duration(value: t.Any) -> float:
    """``90``, ``30s``, ``15m``, ``36h``, ``4d``, ``2w`` to seconds."""
    m = _DURATION.match(str(value if value is not None else ""))
    if not m:
        raise ValueError("%r is not a duration such as 0, 90s, 30m, 12h, 7d or 2w" % (value,))
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_since(value: t.Any, now: float) -> float:
    """An ISO 8601 time, or an age (``4d``) meaning now minus it, to epoch seconds."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    ts = bi.parse_time(str(value))
    if ts is None:
        raise ValueError("%r is neither an ISO 8601 time (2026-12-01T00:00:00Z) nor an age such as 4d or 36h"
                         % (value,))
    return ts


def resolve_universes(client: t.Any, wanted: t.Sequence[str]) -> list[str]:
    """UUIDs of the universes named (names or uuids); a deleted universe by the name its backups carry."""
    live = client.get(client.cpath("universes")) or []
    by_name = {str(u.get("name")): str(u.get("universeUUID")).lower() for u in live}
    out = []
    for item in wanted:
        if is_uuid(item):
            out.append(item.lower())
        elif item in by_name:
            out.append(by_name[item])
        else:
            flt = dict(bi.BACKUP_FILTER, universeNameList=[item])
            hit = next(iter(client.paged(client.cpath("backups/page"), {"filter": flt, "sortBy": "createTime"},
                                         limit=1, max_items=1)), None)
            if hit is None:
                raise UnknownUniverse("universes: %s is neither a universe of this YBA (%s) nor the universe of any "
                                      "backup" % (item, ", ".join(sorted(by_name)) or "none"))
            out.append(str(hit.get("universeUUID")).lower())
    return sorted(set(out))


def still_dangling(client: t.Any, entries: t.Sequence[dict[str, t.Any]]
                   ) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    """Each planned entry read again (``GET backups/{b}``): only one still Completed is deleted."""
    todo, skipped = [], []
    for entry in entries:
        try:
            now = client.get(client.cpath("backups/%s" % entry["backup_uuid"])) or {}
        except (_api.YBANotFound, _api.YBAValidationError):
            skipped.append({"backup_uuid": entry["backup_uuid"], "reason": "no longer in the catalog"})
            continue
        state = bi._backup_fields(now)["state"]
        if state != bi.COMPLETED:
            skipped.append({"backup_uuid": entry["backup_uuid"], "reason": "now %s" % state})
            continue
        todo.append(entry)
    return todo, skipped


def still_orphans(client: t.Any, items: t.Sequence[dict[str, t.Any]], catalog: Catalog | None = None,
                  page_size: int = 500) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    """The planned orphan folders read against the catalog again; only those still orphans are returned to delete.

    * the folder's ``univ-<uuid>`` must be a universe of THIS customer (a live one, or one ``catalog`` names, deleted
      universes included): a bucket shared with another customer or another YBA holds folders this catalog cannot
      speak for, and YBA answers 400 "Invalid customer or backup UUID" for another customer's backup as for a
      deleted one;
    * a V2 folder names its backup: ``GET backups/{b}`` must find it gone (``_retention.is_gone``); any other error
      keeps the folder;
    * a V1 folder (``backup-<time>``) names no backup: the universe's catalog is read again (one read of a few
      pages, not the offset paging of the whole catalog) and must not place a backup in it, nor run one."""
    todo: list[dict[str, t.Any]] = []
    skipped: list[dict[str, t.Any]] = []
    if not items:
        return todo, skipped
    known = set(catalog.universes) if catalog is not None else set()
    try:
        known |= {str(u.get("universeUUID") or "").lower() for u in client.get(client.cpath("universes")) or []}
    except _api.YBAError as err:
        return [], [{"prefix": i["prefix"], "reason": "the universes of this customer could not be read (%s): not "
                     "deleted" % _api.one_line(err.message, 200)} for i in items]
    again: dict[str, Catalog] = {}
    for item in items:
        universe = str(item.get("universe_uuid") or "").lower()
        if universe not in known:
            skipped.append({"prefix": item["prefix"], "reason": "foreign/unknown universe %s (neither a universe of "
                            "this customer nor named by its catalog), not deleted" % universe})
            continue
        if item["backup_uuid"]:
            try:
                found = client.get(client.cpath("backups/%s" % item["backup_uuid"]))
            except _api.YBAError as err:
                if not _retention.is_gone(err):
                    skipped.append({"prefix": item["prefix"], "reason": "backup %s could not be read again (%s): "
                                    "not deleted" % (item["backup_uuid"], _api.one_line(err.message, 200))})
                    continue
                found = None
            if found:
                skipped.append({"prefix": item["prefix"], "reason": "the catalog has backup %s (%s)" % (
                    item["backup_uuid"], bi._backup_fields(found)["state"])})
                continue
        else:
            if universe not in again:
                fresh = Catalog()
                try:
                    read_catalog(client, fresh, [universe], page_size=page_size)
                except _api.YBAError as err:
                    skipped.append({"prefix": item["prefix"], "reason": "the catalog of universe %s could not be "
                                    "read again (%s): not deleted" % (universe, _api.one_line(err.message, 200))})
                    continue
                again[universe] = fresh
            fresh = again[universe]
            folder = item["key_prefix"].rstrip("/")
            if (item["bucket"], folder) in fresh.folders:
                skipped.append({"prefix": item["prefix"], "reason": "the catalog now has backup %s in it" % ", ".join(
                    e["backup_uuid"] for e in fresh.folders[(item["bucket"], folder)])})
                continue
            if universe in fresh.in_progress_universes:
                skipped.append({"prefix": item["prefix"], "reason": "universe %s now has a backup in progress"
                                % universe})
                continue
        todo.append(item)
    return todo, skipped


def action_counts(actions: dict[str, t.Any]) -> dict[str, t.Any]:
    d, o = actions["delete_dangling"], actions["delete_orphans"]
    return {"delete_dangling": {"enabled": d["enabled"], "planned": d["planned"], "requested": d["requested"],
                                "queued": len(d["queued"]), "dropped": len(d["dropped"]),
                                "skipped": len(d["skipped"])},
            "delete_orphans": {"enabled": o["enabled"], "planned": o["planned"],
                               "deleted_prefixes": len(o["deleted_prefixes"]), "deleted_objects": o["deleted_objects"],
                               "deleted_bytes": o["deleted_bytes"], "skipped": len(o["skipped"]),
                               "errors": len(o["errors"])}}


def summary_line(counts: dict[str, t.Any], actions: dict[str, t.Any], check_mode: bool) -> str:
    line = ("dangling %d, orphan folders %d (%d objects, %d bytes), size mismatches %d; %d of %d catalog entries "
            "judged, %d objects listed" % (counts["dangling"], counts["orphans"], counts["orphan_objects"],
                                           counts["orphan_bytes"], counts["size_mismatches"],
                                           counts["judged_entries"], counts["catalog_entries"],
                                           counts["listed_objects"]))
    d, o = actions["delete_dangling"], actions["delete_orphans"]
    verb = "would delete" if check_mode else "deleted"
    if d["enabled"]:
        n = d["planned"] if check_mode else len(d["queued"])
        line += "; %s %d dangling catalog entries" % ("would delete" if check_mode else "queued for deletion", n)
        if d["dropped"]:
            line += " (YBA dropped %d)" % len(d["dropped"])
        if d["failed"]:
            line += " (%d deletion tasks failed)" % len(d["failed"])
    if o["enabled"]:
        n = o["planned"] if check_mode else len(o["deleted_prefixes"])
        line += "; %s %d orphan folders" % (verb, n)
        if not check_mode:
            line += " (%d objects)" % o["deleted_objects"]
    return line
