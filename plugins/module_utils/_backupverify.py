# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: is a Completed backup really in the bucket? Lists each of its locations
# with boto3 (YBA's own client settings) and looks for data objects and the marker its writer leaves.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup's objects, checked in its storage (API-CAPABILITIES §4.3).

Each location of a backup (``Backup.backupInfo.backupList[].storageLocation`` from ``GET backups/{b}``, or
``BackupResp.commonBackupInfo.responseList[].defaultLocation`` from ``backups/page``) is listed under ``<key>/``
with ListObjectsV2. A location is good when it holds at least one data object and its writer's marker
(``object_kind`` / ``location_problem``, also used by ``_reconcile``; ``backup_keys.json`` is no data object):

* YB Controller backups (``category: YB_CONTROLLER``) end with a ``success`` object in each location
  (``YbcBackupUtil.YBC_SUCCESS_MARKER_FILE_NAME``; YBA's restore preflight checks it with
  ``checkFileExistsOnBackupLocation(..., "success", checkExistsOnAll=true)``);
* script backups (``YB_BACKUP_SCRIPT``, yb_backup.py) write ``SnapshotInfoPB`` (``BackupUtil.SNAPSHOT_PB``).

YBA may hide the location (``"**********"`` when the customer's ``universes.details.backups.storageLocation`` is
``hidden``, ``BackupsController.isStorageLocationMasked``): such a backup cannot be verified and says so.
"""
from __future__ import annotations

import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _s3

YBC = "YB_CONTROLLER"
SCRIPT = "YB_BACKUP_SCRIPT"
MARKERS = {YBC: "success", SCRIPT: "SnapshotInfoPB"}  # YbcBackupUtil / BackupUtil.SNAPSHOT_PB
MASK = "**********"  # BackupsController: storageLocation when hidden
BACKUP_KEYS_JSON = "backup_keys.json"  # BackupUtil.BACKUP_KEYS_JSON: KMS keys beside a backup, not its data
MARKER, DATA, OTHER = "marker", "data", "other"


def category_of(backup: dict[str, t.Any]) -> str:
    """The backup's writer: YB_CONTROLLER or YB_BACKUP_SCRIPT ("" when the answer does not say)."""
    common = backup.get("commonBackupInfo") or {}
    return str(backup.get("category") or common.get("category") or "")


def locations_of(backup: dict[str, t.Any]) -> list[str]:
    """Every storage location of a Backup (GET backups/{b}) or a BackupResp (backups/page), as YBA answers it."""
    out: list[str] = []
    info = backup.get("backupInfo")
    if isinstance(info, dict):
        for sub in info.get("backupList") or []:
            if isinstance(sub, dict):
                out.append(str(sub.get("storageLocation") or ""))
        if not out and info.get("storageLocation"):
            out.append(str(info["storageLocation"]))
        return out
    common = backup.get("commonBackupInfo")
    if isinstance(common, dict):
        for sub in common.get("responseList") or []:
            if isinstance(sub, dict):
                out.append(str(sub.get("defaultLocation") or sub.get("storageLocation") or ""))
    return out


def markers_of(category: str) -> list[str]:
    """The marker names a location of a backup of ``category`` may end with (either one when unknown)."""
    return [MARKERS[category]] if category in MARKERS else list(MARKERS.values())


def object_kind(rel: str, category: str) -> str:
    """MARKER, DATA or OTHER: one object by its name relative to the location (``<location>/``). The writer's
    marker; ``backup_keys.json`` and directory placeholders (``.../``) are no data - a location holding only the
    marker and the keys file cannot be restored."""
    if rel in markers_of(category):
        return MARKER
    if not rel or rel.endswith("/") or rel.rsplit("/", 1)[-1] == BACKUP_KEYS_JSON:
        return OTHER
    return DATA


def location_problem(location: str, category: str, objects: int, marker: bool, data_objects: int
                     ) -> tuple[str | None, str | None]:
    """(problem, error_class) of a listed location from its counts: missing, no_marker, no_data; (None, None)."""
    markers = " or ".join(markers_of(category))
    if not objects:
        return "no object under %s" % location, "missing"
    if not marker:
        return ("no %s marker under %s (%d object(s)): the backup did not finish writing" % (markers, location, objects),
                "no_marker")
    if not data_objects:
        return "only the %s marker under %s, no data object" % (markers, location), "no_data"
    return None, None


def _masked(location: str) -> bool:
    return not location or "*" * 5 in location


def _target(settings: dict[str, t.Any], location: str) -> dict[str, t.Any]:
    """The config location (BACKUP_LOCATION or a REGION_LOCATIONS entry) a backup location lies under: its
    endpoint and signing region list it. The longest matching prefix wins; BACKUP_LOCATION by default."""
    bucket, key = _s3.parse_location(location)
    best, best_len = None, -1
    for target in _s3.targets(settings):
        tb, tp = _s3.parse_location(str(target["location"] or ""))
        if tb == bucket and (not tp or key == tp or key.startswith(tp + "/")) and len(tp) > best_len:
            best, best_len = target, len(tp)
    return best or _s3.targets(settings)[0]


def _no_keys_problem() -> str:
    return ("no credentials to list the bucket with: YBA masks the config's keys, give them to the module "
            "(storage_credentials: {<config name>: {AWS_ACCESS_KEY_ID: ..., AWS_SECRET_ACCESS_KEY: ...}}) or run "
            "where an IAM role may read the bucket")


def verify_location(settings: dict[str, t.Any], location: str, category: str, timeout: float = 10.0,
                    attempts: int = 2, ca_path: str | None = None, validate_certs: bool = True,
                    clients: dict[t.Any, t.Any] | None = None) -> dict[str, t.Any]:
    """One location: {location, objects, bytes, marker, problem, error_class}; never raises for S3 errors."""
    result: dict[str, t.Any] = {"location": location, "objects": 0, "bytes": 0, "marker": False, "problem": None,
                                "error_class": None}
    if _masked(location):
        result.update(problem="YBA hides the backup's storage location (%s): the customer's runtime key "
                      "universes.details.backups.storageLocation is 'hidden'; it cannot be verified"
                      % (location or "no location"), error_class="location_hidden")
        return result
    if not location.startswith("s3://"):
        result.update(problem="the location %s is not an S3 location; only S3 backups are verified" % location,
                      error_class="invalid_config")
        return result
    bucket, key = _s3.parse_location(location)
    if not key:
        result.update(problem="the location %s names no key under the bucket" % location, error_class="invalid_config")
        return result
    target = _target(settings, location)
    cache = clients if clients is not None else {}
    cache_key = (target["location"], target["host_base"], target["signing_region"])
    data_objects = 0
    try:
        if not _s3.HAS_BOTO3:
            raise RuntimeError("boto3 is not installed for this python: %s" % _s3.BOTO3_IMPORT_ERROR)
        if cache_key not in cache:
            cache[cache_key] = _s3.s3_client(target, settings, timeout, attempts, ca_path, validate_certs)
        s3 = cache[cache_key]
        prefix = key + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents") or []:
                kind = object_kind(str(obj.get("Key", ""))[len(prefix):], category)
                result["objects"] += 1
                result["bytes"] += int(obj.get("Size") or 0)
                if kind == MARKER:
                    result["marker"] = True
                elif kind == DATA:
                    data_objects += 1
    except RuntimeError as err:
        result.update(problem=str(err), error_class="invalid_config")
        return result
    except Exception as err:  # noqa: BLE001 - every S3 failure is sorted into a class and reported
        cls, message = _s3.classify(err)
        if cls == "no_credentials":
            message = _no_keys_problem()
        result.update(problem="listing %s failed (%s): %s" % (location, cls, message), error_class=cls)
        return result
    problem, error_class = location_problem(location, category, result["objects"], result["marker"], data_objects)
    result.update(problem=problem, error_class=error_class)
    return result


def verify_backup(settings: dict[str, t.Any], backup: dict[str, t.Any], timeout: float = 10.0, attempts: int = 2,
                  ca_path: str | None = None, validate_certs: bool = True) -> dict[str, t.Any]:
    """Whether every location of ``backup`` (a Backup or a BackupResp) is complete in the bucket.

    ``settings`` is an S3 config's data with usable secrets (``_storageconfig.probe_settings``). Returns
    ``{verified, category, objects, bytes, problem, error_class, locations: [{location, objects, bytes, marker,
    problem, error_class}]}``; nothing in it is secret and it never raises for an S3 or network failure."""
    category = category_of(backup)
    locations = locations_of(backup)
    out: dict[str, t.Any] = {"verified": False, "category": category, "objects": 0, "bytes": 0, "problem": None,
                             "error_class": None, "locations": []}
    if not locations:
        out.update(problem="the backup names no storage location", error_class="location_hidden")
        return out
    clients: dict[t.Any, t.Any] = {}
    for location in locations:
        # without keys (YBA masks them) boto3 tries the host's own role; NoCredentials then says how to give keys
        res = verify_location(settings or {}, location, category, timeout, attempts, ca_path, validate_certs,
                              clients)
        out["locations"].append(res)
        out["objects"] += res["objects"]
        out["bytes"] += res["bytes"]
    bad = next((r for r in out["locations"] if r["problem"]), None)
    if bad is not None:
        out.update(problem=bad["problem"] if len(locations) == 1 else "%d of %d locations: %s" % (
            sum(1 for r in out["locations"] if r["problem"]), len(locations), bad["problem"]),
            error_class=bad["error_class"])
    out["verified"] = bad is None
    return out
