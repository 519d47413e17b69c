#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: the backup catalog of YugabyteDB Anywhere against its buckets - dangling catalog
# entries, orphan prefixes, size mismatches - from one streamed listing; optional clean-up of either.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_reconcile
short_description: Reconcile the YugabyteDB Anywhere backup catalog with the objects in its S3 buckets
version_added: 1.0.0
description:
  - Reads the whole backup catalog through the YBA API (every state, the backups of deleted universes too, paged
    newest first) and lists the buckets of the S3 storage configs under their C(BACKUP_LOCATION) (and
    C(REGION_LOCATIONS)) with ListObjectsV2, matching both by YBA's location layout
    (C(BackupUtil.BACKUP_IDENTIFIER_STRING) - C(univ-<universe uuid>/[ybc_]backup-<id>/...), the V2 layout with
    C(full/) and C(incremental/) below it and the V1 script layout alike).
  - 'Reports three classes - dangling catalog entries (a C(Completed) backup whose location holds no object, lacks
    its writer''s marker (C(success) of a YBC backup, C(SnapshotInfoPB) of a script backup) or holds the marker
    alone; restoring it fails), orphan prefixes (a backup folder with objects and no catalog entry in any state but
    C(Deleted); C(backup_keys.json) never makes one, keys outside the layout such as YBA''s validation canary are
    never folders; a folder whose newest object is younger than O(orphan_grace), or of a universe with a backup in
    progress, is counted apart and not reported) and size mismatches (a Completed backup whose listed bytes differ
    from the catalog''s C(totalBackupSizeInBytes) by more than O(size_tolerance) of it and more than
    O(size_tolerance_bytes); a catalog size of 0 is unknown and not compared).'
  - The listing is streamed - memory stays flat in the number of objects (only the catalog is held, one small
    record per backup) - and the result stays small - counts per class and per universe and at most O(max_samples)
    examples of each class, never one line per object.
  - Read-only by default. O(delete_dangling) and O(delete_orphans) act on what the run found, at most O(max_delete)
    items a run (more refuses the run with a message; narrow it with O(created_after) or O(universes)).
  - Only the full backups of a chain are catalog entries (C(backups/page) answers those); an increment lies in the
    folder of its full backup, so its objects are never orphans, but a missing increment is not reported.
author:
  - yba.remediation contributors (@yba-remediation)
requirements:
  - boto3 on the machine the module runs on
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.storage
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is deleted; RV(actions) lists what would be and C(changed) says whether anything would.
  diff_mode:
    support: full
    details:
      - The catalog entries and prefixes deleted (or, in check mode, that would be).
  idempotent:
    support: full
    details:
      - A second run finds nothing left to delete (a forcibly deleted entry is C(QueuedForDeletion) or gone, a deleted
        prefix has no object) and changes nothing.
options:
  storage_config:
    description:
      - The S3 storage config (configName or configUUID) whose bucket to reconcile. Default - every S3 storage config.
      - Catalog entries on other configs are counted in C(unchecked_entries) of RV(counts).
    type: str
  universes:
    description:
      - Reconcile only these universes (names or UUIDs; a deleted universe by the name its backups carry). Only their
        C(univ-<uuid>/) prefixes are listed. Default - every universe and every prefix.
    type: list
    elements: str
    default: []
  created_after:
    description:
      - Judge only the catalog entries created after this time, and report only the orphan folders whose newest
        object is newer - an ISO 8601 time (C(2026-12-01T00:00:00Z)) or an age such as V(4d), V(36h), V(90m)
        (now minus it). The whole catalog is still read, so that nothing older becomes an orphan.
      - Use it to reconcile a window, for example the lifetime of a bucket lifecycle rule.
    type: str
  orphan_grace:
    description:
      - A folder without a catalog entry whose newest object is younger than this (V(1h), V(30m), V(0) ...) is
        counted in C(young_folders) and not reported - YBA writes the objects of a backup it has just catalogued.
    type: str
    default: 1h
  max_samples:
    description:
      - Examples kept of each class (RV(dangling), RV(orphans), RV(size_mismatches)); the counts are always complete.
    type: int
    default: 20
  size_tolerance:
    description:
      - A fraction of the catalog size the listed bytes may differ by.
    type: float
    default: 0.1
  size_tolerance_bytes:
    description:
      - Bytes the listed size may always differ by (markers and metadata are not counted the same way everywhere).
    type: int
    default: 1048576
  delete_dangling:
    description:
      - Delete the dangling catalog entries found (after reading each again - still C(Completed)) with
        C(POST backups/delete) and C(deleteForcefully=true), which removes a catalog row even when deleting its
        objects fails - here they are gone already. Their history is lost, which is why this is off by default -
        look at RV(dangling) first, in check mode, and narrow the run to a window.
      - A dangling entry deleted no longer counts as a copy for the SLA, nor towards a retention floor.
    type: bool
    default: false
  delete_orphans:
    description:
      - Delete the objects of every orphan folder whose newest object is older than O(orphan_min_age), with S3
        DeleteObjects (1000 keys a request). Each folder is read against the catalog again first, and kept (in
        C(skipped) of RV(actions) with the reason) unless - its C(univ-<uuid>) is a universe of this customer (live,
        or named by its catalog; a folder of a foreign/unknown universe in a shared bucket is never deleted); a V2
        folder's backup uuid is gone from the catalog (404, or 400 "Invalid customer or backup UUID"); a V1 folder
        (C(backup-<time>)) is placed by no backup of its universe's catalog read again and no backup of that universe
        is in progress. A folder with an object written since the listing is left alone.
    type: bool
    default: false
  orphan_min_age:
    description:
      - How old the newest object of an orphan folder must be for O(delete_orphans) (V(7d), V(12h), V(0) ...).
    type: str
    default: 7d
  max_delete:
    description:
      - At most this many catalog entries and this many orphan folders are deleted in a run; when more qualify the
        module fails before deleting anything and says how many.
    type: int
    default: 100
  wait_timeout:
    description:
      - Seconds to wait for the DeleteBackupYb tasks of O(delete_dangling) (each queues its backup for YBA's garbage
        collector and ends); a task that fails fails the module with its error. V(0) - do not wait.
    type: float
    default: 300
  page_size:
    description:
      - Backups per C(backups/page) request.
    type: int
    default: 500
  storage_timeout:
    description:
      - Seconds each S3 request may take.
    type: float
    default: 30
  storage_ca_path:
    description:
      - A PEM bundle of the CAs to trust for an https S3 endpoint. Default - boto3's bundle.
    type: path
  storage_validate_certs:
    description:
      - Verify the S3 endpoint's TLS certificate.
    type: bool
    default: true
notes:
  - Run it where YBA reaches its buckets from (the P(yba.remediation.backup_reconcile#role) role runs it on the YBA
    host).
  - A listing that fails (no keys, access denied, endpoint down) fails the module - a partial listing would make
    every backup look dangling.
  - The catalog is read before the listing, newest first, so a backup catalogued during the run cannot show as an
    orphan (its objects are younger than O(orphan_grace)), and one the garbage collector deletes meanwhile (objects
    first, then the row) does not either.
seealso:
  - module: yba.remediation.backup_sla
  - module: yba.remediation.backup_info
"""

EXAMPLES = r"""
- name: Reconcile the last 4 days (the bucket lifecycle) of every universe, read-only
  yba.remediation.backup_reconcile:
    created_after: 4d
    storage_credentials:
      s3-prod: {AWS_ACCESS_KEY_ID: "{{ vault_key }}", AWS_SECRET_ACCESS_KEY: "{{ vault_secret }}"}
  register: reconcile

- name: Delete the orphan folders older than a week (check mode first)
  yba.remediation.backup_reconcile:
    delete_orphans: true
    orphan_min_age: 7d
    storage_credentials: "{{ storage_config_credentials }}"
  check_mode: true
"""

RETURN = r"""
counts:
  description:
    - C(dangling), C(orphans) (folders), C(size_mismatches); C(catalog_entries) (backups read, not Deleted),
      C(judged_entries) (Completed, in the window, in a listed prefix), C(unchecked_entries) (Completed entries
      whose location was not listed - another config, hidden or not S3), C(outside_window_entries); the listing's
      C(listed_objects), C(listed_bytes), C(folders), C(catalogued_folders), C(orphan_objects), C(orphan_bytes),
      C(young_folders), C(in_progress_folders), C(outside_window_folders), C(keys_only_folders) (only
      C(backup_keys.json)), C(other_objects) (outside the layout - canaries), C(excluded_objects).
  returned: always
  type: dict
universes:
  description:
    - Per universe with a finding - C(universe_uuid), C(universe) (its name where the catalog has it),
      C(dangling), C(orphans), C(orphan_objects), C(orphan_bytes), C(size_mismatches); most findings first.
  returned: always
  type: list
  elements: dict
dangling:
  description:
    - Up to O(max_samples) dangling entries - C(backup_uuid), C(universe), C(universe_uuid), C(state),
      C(create_time), C(expired), C(location), C(objects), C(bytes), C(problem), C(error_class) (V(missing),
      V(no_marker), V(no_data)).
  returned: always
  type: list
  elements: dict
orphans:
  description:
    - Up to O(max_samples) orphan folders - C(prefix) (C(s3://bucket/key/)), C(bucket), C(key_prefix),
      C(universe_uuid), C(universe), C(backup_uuid) (what a V2 folder is named after), C(objects), C(bytes),
      C(newest), C(age_seconds).
  returned: always
  type: list
  elements: dict
size_mismatches:
  description:
    - Up to O(max_samples) entries whose bytes differ - the keys of RV(dangling) without the problem, plus
      C(catalog_bytes) and C(difference) (listed minus catalog).
  returned: always
  type: list
  elements: dict
storage:
  description:
    - Per listed location - C(config), C(config_uuid), C(location), C(prefixes) (listed), C(objects), C(seconds).
    - A location under a prefix already listed on the same endpoint and bucket (a region location under
      C(BACKUP_LOCATION), two configs with nested prefixes) is not listed again - it has C(covered_by) (the
      prefixes that hold it) and C(objects) 0.
  returned: always
  type: list
  elements: dict
actions:
  description:
    - C(delete_dangling) - C(enabled), C(planned) (count), C(requested), C(queued) (uuids YBA queued, their
      tasks done), C(dropped) (requested, not queued by YBA), C(failed) (C(backup_uuid) and C(error) of a failed
      task), C(skipped) (C(backup_uuid) and C(reason) - read again, no longer Completed or gone).
    - C(delete_orphans) - C(enabled), C(min_age_seconds), C(planned) (count), C(deleted_prefixes),
      C(deleted_objects), C(deleted_bytes), C(skipped) (prefix and reason), C(errors).
  returned: always
  type: dict
summary:
  description: One line - the counts of each class, and what was deleted.
  returned: always
  type: str
  sample: "dangling 3, orphan folders 2 (14 objects), size mismatches 0; 1,872 objects listed, 4,915 entries"
record:
  description: The run record - C(summary), C(counts), C(check_mode), C(changed), C(actions) (counts only).
  returned: always
  type: dict
requests:
  description: How many API requests the module sent.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _reconcile as rc
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc


def main():
    spec = _api.api_argument_spec()
    spec.update(
        storage_config=dict(type="str"),
        universes=dict(type="list", elements="str", default=[]),
        created_after=dict(type="str"),
        orphan_grace=dict(type="str", default="1h"),
        max_samples=dict(type="int", default=20),
        size_tolerance=dict(type="float", default=rc.DEFAULT_TOLERANCE),
        size_tolerance_bytes=dict(type="int", default=rc.DEFAULT_TOLERANCE_BYTES),
        delete_dangling=dict(type="bool", default=False),
        delete_orphans=dict(type="bool", default=False),
        orphan_min_age=dict(type="str", default="7d"),
        max_delete=dict(type="int", default=100),
        wait_timeout=dict(type="float", default=300),
        page_size=dict(type="int", default=500),
        storage_timeout=dict(type="float", default=30),
        storage_credentials=dict(type="dict", default={}, no_log=True),
        storage_ca_path=dict(type="path"),
        storage_validate_certs=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    for creds in p["storage_credentials"].values():
        module.no_log_values.update(sc.secret_values(None, creds if isinstance(creds, dict) else {}))
    now = time.time()
    problems = []
    durations = {}
    for name in ("orphan_grace", "orphan_min_age"):
        try:
            durations[name] = rc.parse_duration(p[name])
        except ValueError as err:
            problems.append("%s: %s" % (name, err))
    created_after = None
    if p["created_after"]:
        try:
            created_after = rc.parse_since(p["created_after"], now)
        except ValueError as err:
            problems.append("created_after: %s" % err)
    for name in ("max_samples", "page_size", "max_delete"):
        if p[name] < (0 if name == "max_samples" else 1):
            problems.append("%s must be %d or more, got %s" % (name, 0 if name == "max_samples" else 1, p[name]))
    if p["size_tolerance"] < 0 or p["size_tolerance_bytes"] < 0:
        problems.append("size_tolerance and size_tolerance_bytes must not be negative")
    if p["wait_timeout"] < 0:
        problems.append("wait_timeout must not be negative, got %s" % p["wait_timeout"])
    if p["storage_timeout"] <= 0:
        problems.append("storage_timeout must be more than 0, got %s" % p["storage_timeout"])
    if any(not isinstance(v, dict) for v in p["storage_credentials"].values()):
        problems.append("storage_credentials maps a config name to its secret fields (a dict)")
    if not _s3.HAS_BOTO3:
        problems.append(missing_required_lib("boto3", reason="to list the buckets on %s" % _api.this_host()))
    ca_problem = _api.ca_file_problem(p["storage_ca_path"])
    if ca_problem:
        problems.append("storage_ca_path %s %s on %s" % (p["storage_ca_path"], ca_problem, _api.this_host()))
    if problems:
        module.fail_json(msg="; ".join(problems), requests=0)

    client = _api.YBAClient.from_module(module)

    def fail(msg, **kw):
        module.fail_json(msg=msg, requests=client.request_count, **kw)

    try:
        configs = [c for c in client.get(client.cpath("configs")) or []
                   if c.get("type") == "STORAGE" and c.get("name") == "S3"]
        listed = configs
        if p["storage_config"]:
            found = sc.find_any(configs, uuid=p["storage_config"]) if rc.is_uuid(p["storage_config"]) else \
                sc.find_any(configs, name=p["storage_config"])
            if found is None:
                fail("storage_config %s is not an S3 storage config of this YBA (S3 configs: %s)"
                     % (p["storage_config"], ", ".join(sorted(str(c.get("configName")) for c in configs)) or "none"))
            listed = [found]
        universe_uuids = rc.resolve_universes(client, p["universes"]) if p["universes"] else []
        catalog = rc.Catalog()
        rc.read_catalog(client, catalog, universe_uuids, page_size=p["page_size"])
    except rc.UnknownUniverse as err:
        fail(str(err))
    except _api.YBAError as err:
        _api.fail_json_from_error(module, err, "cannot read the backup catalog from YBA", requests=client.request_count)

    act = p["delete_dangling"] or p["delete_orphans"]
    # an entry is judged only against its own config's listing: a same-named bucket of another config (another
    # endpoint) says nothing about it
    listed_uuids = {str(c.get("configUUID") or "").lower() for c in listed}
    rec = rc.Reconciler(catalog, now, grace_seconds=durations["orphan_grace"], max_samples=p["max_samples"],
                        size_tolerance=p["size_tolerance"], size_tolerance_bytes=p["size_tolerance_bytes"],
                        created_after=created_after,
                        orphan_min_age=durations["orphan_min_age"] if p["delete_orphans"] else None,
                        collect_limit=p["max_delete"] if act else 0,
                        judge=lambda entry: str(entry["storage_config_uuid"] or "").lower() in listed_uuids)
    storage = []
    clients = {}
    plan = []
    for config in listed:
        settings, _stored = sc.probe_settings(config, sc.credentials_for(config, p["storage_credentials"]))
        for target in _s3.targets(settings):
            bucket, key = _s3.parse_location(str(target["location"] or ""))
            if not bucket:
                continue
            base = key.strip("/") + "/" if key.strip("/") else ""
            prefixes = [base + "univ-%s/" % u for u in universe_uuids] if universe_uuids else [base]
            plan.append((config, settings, target, bucket, base, prefixes))
    # shortest prefixes first: a target under one already listed (a region location under BACKUP_LOCATION, two
    # configs with nested prefixes in one bucket) would feed its keys twice
    plan.sort(key=lambda x: len(x[4]))
    done = []  # (endpoint, bucket, prefix) listed
    for config, settings, target, bucket, base, prefixes in plan:
        endpoint = str(target["host_base"] or "").lower().rstrip("/")
        cover = [next((d for d in done if d[0] == endpoint and d[1] == bucket and x.startswith(d[2])), None)
                 for x in prefixes]
        if all(cover):
            storage.append({"config": config.get("configName"), "config_uuid": config.get("configUUID"),
                            "location": target["location"], "prefixes": ["s3://%s/%s" % (bucket, x) for x in prefixes],
                            "objects": 0, "seconds": 0.0,
                            "covered_by": sorted({"s3://%s/%s" % (d[1], d[2]) for d in cover})})
            continue
        prefixes = [x for x, c in zip(prefixes, cover) if c is None]
        done += [(endpoint, bucket, x) for x in prefixes]
        t0 = time.monotonic()
        before = rec.counts["listed_objects"]
        try:
            s3 = _s3.s3_client(target, settings, p["storage_timeout"], 3, p["storage_ca_path"],
                               p["storage_validate_certs"])
            clients[len(clients)] = s3
            for prefix in prefixes:
                rec.feed(bucket, prefix, rc.list_objects(s3, bucket, prefix), source=len(clients) - 1)
        except Exception as err:  # noqa: BLE001 - every S3 failure is classified and fails the run
            cls, message = _s3.classify(err)
            fail("listing %s of the storage config %s failed (%s): %s - nothing is judged on a partial listing"
                 % (target["location"], config.get("configName"), cls, message))
        storage.append({"config": config.get("configName"), "config_uuid": config.get("configUUID"),
                        "location": target["location"], "prefixes": ["s3://%s/%s" % (bucket, x) for x in prefixes],
                        "objects": rec.counts["listed_objects"] - before,
                        "seconds": round(time.monotonic() - t0, 3)})
    found = rec.finish()
    counts = found["counts"]

    actions = {"delete_dangling": {"enabled": p["delete_dangling"], "planned": 0, "requested": 0, "queued": [],
                                   "dropped": [], "failed": [], "skipped": []},
               "delete_orphans": {"enabled": p["delete_orphans"], "min_age_seconds": durations["orphan_min_age"],
                                  "planned": 0, "deleted_prefixes": [], "deleted_objects": 0, "deleted_bytes": 0,
                                  "skipped": [], "errors": []}}
    too_many = []
    if p["delete_dangling"] and counts["dangling"] > p["max_delete"]:
        too_many.append("%d dangling catalog entries" % counts["dangling"])
    if p["delete_orphans"] and rec.deletable_orphan_count > p["max_delete"]:
        too_many.append("%d orphan folders older than %s" % (rec.deletable_orphan_count, p["orphan_min_age"]))
    if too_many:
        fail("nothing deleted: %s qualify, more than max_delete %d; narrow the run with created_after or universes, "
             "or raise max_delete" % (" and ".join(too_many), p["max_delete"]), counts=counts,
             universes=found["universes"], dangling=found["dangling"], orphans=found["orphans"])
    before_lines, changed = [], False
    if p["delete_dangling"]:
        todo, skipped = rc.still_dangling(client, rec.dangling_entries)
        actions["delete_dangling"].update(planned=len(todo), skipped=skipped)
        before_lines += ["catalog entry %s of %s (%s)" % (e["backup_uuid"], e["universe"] or e["universe_uuid"],
                                                          e["create_time"]) for e in todo]
        if todo and not module.check_mode:
            try:
                out = rc.delete_dangling(client, todo, wait_timeout=p["wait_timeout"])
            except _api.YBAError as err:
                _api.fail_json_from_error(module, err, "deleting the dangling catalog entries failed",
                                          requests=client.request_count, counts=counts)
            actions["delete_dangling"].update(requested=out["requested"], queued=out["queued"],
                                              dropped=out["dropped"], failed=out["failed"])
            changed = changed or bool(out["queued"] or out["failed"])  # a failed task was still sent
        changed = changed or (module.check_mode and bool(todo))
    if p["delete_orphans"]:
        try:
            todo, skipped = rc.still_orphans(client, rec.deletable_orphans, catalog, page_size=p["page_size"])
        except _api.YBAError as err:
            _api.fail_json_from_error(module, err, "reading the catalog again before deleting orphans failed",
                                      requests=client.request_count, counts=counts)
        act_o = actions["delete_orphans"]
        act_o.update(planned=len(todo), skipped=skipped)
        before_lines += ["%s (%d objects, %d bytes, newest %s)" % (o["prefix"], o["objects"], o["bytes"],
                                                                   o["newest"]) for o in todo]
        if todo and not module.check_mode:
            for item in todo:
                s3 = clients[item["source"]]  # the client (endpoint) of the listing that found it
                try:
                    out = rc.delete_prefix(s3, item["bucket"], item["key_prefix"],
                                           max_mtime=bi.parse_time(item["newest"]) + 1)
                except Exception as err:  # noqa: BLE001 - reported per prefix; the others go on
                    cls, message = _s3.classify(err)
                    act_o["errors"].append("%s: %s (%s)" % (item["prefix"], message, cls))
                    continue
                act_o["deleted_objects"] += out["deleted"]
                act_o["deleted_bytes"] += out["bytes"]
                if out["deleted"]:
                    act_o["deleted_prefixes"].append(item["prefix"])
                if out["errors"]:
                    act_o["errors"] += ["%s: %s" % (item["prefix"], e) for e in out["errors"]]
                if out["stopped"]:
                    act_o["skipped"].append({"prefix": item["prefix"], "reason": out["stopped"]})
            changed = changed or act_o["deleted_objects"] > 0
        changed = changed or (module.check_mode and bool(todo))
    summary = rc.summary_line(counts, actions, module.check_mode)
    record = {"summary": summary, "counts": counts, "check_mode": module.check_mode, "changed": changed,
              "actions": rc.action_counts(actions)}
    result = dict(changed=changed, counts=counts, universes=found["universes"], dangling=found["dangling"],
                  orphans=found["orphans"], size_mismatches=found["size_mismatches"], storage=storage,
                  actions=actions, summary=summary, record=record, requests=client.request_count)
    if module._diff and before_lines:
        result["diff"] = {"before": "".join(line + "\n" for line in before_lines), "after": "",
                          "before_header": "catalog and bucket", "after_header": "catalog and bucket"}
    if actions["delete_orphans"]["errors"]:
        module.fail_json(msg="deleting orphan objects failed: %s" % "; ".join(actions["delete_orphans"]["errors"][:3]),
                         **result)
    if actions["delete_dangling"]["failed"]:
        module.fail_json(msg="deleting dangling catalog entries failed: %s" % "; ".join(
            "%s: %s" % (f["backup_uuid"], f["error"]) for f in actions["delete_dangling"]["failed"][:3]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
