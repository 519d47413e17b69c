#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: enforce backup retention through the YBA API (expired, FailedToDelete and policy
# candidates) with a floor of verified chains per universe that nothing overrides, in batches, after a storage probe.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_retention
short_description: Delete expired YugabyteDB Anywhere backups through the API, keeping a floor of verified chains
version_added: 1.0.0
description:
  - Plans and enforces backup retention through the YBA REST API. YBA's own garbage collector deletes at most 10
    expired backups per run, re-runs the storage canary first, and a backup it could not delete becomes
    C(FailedToDelete) and is never retried by the expiry sweep, so after a storage outage expired backups pile up.
  - Candidates are full backups (an incremental goes with its full - YBA deletes the whole chain) that are expired
    (C(expiry) in the past, state Completed, Failed, Stopped or Skipped - except what YBA's garbage collector keeps on
    purpose, the newest C(minNumBackupsToRetain) (3 unless the schedule says otherwise) Completed backups of each
    schedule, and the backups of a paused universe, which are kept with that reason), C(FailedToDelete), stuck in
    C(QueuedForDeletion) or C(DeleteInProgress) for two O(gc_interval)s (reported only, YBA refuses to delete them
    again), or past the optional policy (O(keep_days), O(keep_last)).
  - 'The floor, which no candidate reason overrides: per universe, backup type and keyspace set (a universe backed up
    per keyspace keeps chains of each keyspace), the newest O(min_redundancy) good
    chains are never deleted. A chain is good when its full is Completed, none of its increments is in progress and,
    with O(verify=true), every location of the full and of its Completed increments holds its data objects and its
    writer''s marker in the bucket (a Failed increment does not stop the full from restoring); a catalog entry whose
    objects are gone (dangling) does not count. When fewer good chains than O(min_redundancy) exist, only the
    candidates found dangling are deleted - retention never deletes below the floor. Never deleted either: a pinned
    backup (named in O(pinned), or C(expiry) null - never expires - unless it is C(FailedToDelete), which was a
    requested deletion), a chain with an increment in progress, a backup whose storage config is
    gone. A universe whose chains cannot be verified (network, credentials) keeps every candidate.'
  - Before the first deletion every S3 storage config of the planned deletions is probed from where the module runs
    (O(probe)); a failing probe refuses the run with the probe's summary (deleting into broken storage only makes more
    C(FailedToDelete)).
  - Deletes with C(POST /backups/delete) in batches of at most O(batch_size) with O(batch_interval) seconds between
    them, awaits each queueing task, diffs the requested backups against the ones YBA queued (it silently drops some),
    stops at the first batch with a backup that could not be queued, and with O(wait=true) waits until YBA's garbage
    collector has deleted each one (C(GET backups/{b}) answers 400) or says why not.
author:
  - yba.remediation contributors (@yba-remediation)
requirements:
  - boto3 on the machine the module runs on, for O(verify=true) and O(probe=read) or O(probe=canary)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.storage
attributes:
  check_mode:
    support: full
    details:
      - The plan with sizes and the floor's reasoning; nothing is deleted. O(probe=canary) lists the prefix instead of
        writing its canary.
  diff_mode:
    support: full
    details:
      - One line per candidate before, those that stay after.
  idempotent:
    support: full
    details:
      - A second run finds only what the floor keeps and deletes nothing (unless more backups expired meanwhile).
options:
  universes:
    description:
      - The universes (names or UUIDs) whose backups are considered. Empty - every universe, and backups of deleted
        universes. A deleted universe is named by its UUID (YBA no longer knows its name); an unknown name fails.
    type: list
    elements: str
    default: []
  min_redundancy:
    description:
      - The newest good (verified) chains kept per universe, backup type and keyspace set, whatever their expiry or the
        policy (Barman's C(minimum_redundancy)). V(1) by default - the least that keeps every universe restorable; V(0)
        disables the floor.
    type: int
    default: 1
  keep_days:
    description:
      - Policy - also delete Completed backups whose full was created more than this many days ago, expired or not.
        V(0) - off.
    type: float
    default: 0
  keep_last:
    description:
      - Policy - also delete Completed backups beyond the newest this many per O(policy_by). V(0) - off.
    type: int
    default: 0
  policy_by:
    description:
      - What O(keep_last) counts per - V(universe) (and backup type and keyspace set) or V(schedule) (on-demand backups
        per universe).
    type: str
    choices: [universe, schedule]
    default: universe
  pinned:
    description:
      - Backup UUIDs never to delete, whatever their expiry or state (the only way to keep a C(FailedToDelete)
        backup).
    type: list
    elements: str
    default: []
  gc_interval:
    description:
      - YBA's backup GC interval in seconds (C(yb.backupGC.gc_run_interval)). A backup queued for deletion and not
        updated for twice this long is reported as stuck.
    type: float
    default: 900
  verify:
    description:
      - Check the chains counted by the floor in the bucket (data objects and marker of every location). V(false)
        counts Completed chains as the catalog says, which trusts dangling entries.
    type: bool
    default: true
  verify_timeout:
    description:
      - Seconds each S3 request of a verification may take.
    type: float
    default: 10
  probe:
    description:
      - How the storage configs of the planned deletions are probed before the first one, as
        M(yba.remediation.storage_probe) - V(canary) (YBA's own validation), V(read), V(reach), V(none).
    type: str
    choices: [canary, read, reach, none]
    default: canary
  probe_timeout:
    description:
      - Seconds each network step of a probe may take.
    type: float
    default: 10
  storage_ca_path:
    description:
      - A PEM bundle of the CAs to trust for an https S3 endpoint (probe and verification). Default - boto3's bundle.
    type: path
  storage_validate_certs:
    description:
      - Verify the S3 endpoint's TLS certificate.
    type: bool
    default: true
  batch_size:
    description:
      - Backups per C(POST /backups/delete); the default is YBA's own GC batch
        (C(yb.backup.delete_expired_backup_max_gc_size), 10).
    type: int
    default: 10
  batch_interval:
    description:
      - Seconds to wait between two batches (the rate limit).
    type: float
    default: 5
  task_timeout:
    description:
      - Seconds each queueing task (C(DeleteBackupYb)) may take.
    type: float
    default: 120
  wait:
    description:
      - Wait until YBA's garbage collector has deleted every queued backup. V(false) - return once they are queued.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the garbage collector after the last batch (two GC intervals by default).
    type: float
    default: 1800
  poll_interval:
    description:
      - Seconds between two looks at the queued backups.
    type: float
    default: 10
  page_size:
    description:
      - Entities per paged request.
    type: int
    default: 500
notes:
  - Run it on the YBA host (as the P(yba.remediation.backup_retention#role) role does), so the probe speaks for where
    YBA reaches the buckets from.
  - The floor is counted per universe, backup type and keyspace set over all its storage configs and schedules; YBA's
    own GC only keeps C(minNumBackupsToRetain) (3) Completed backups per schedule (which retention does not delete
    as expired either) and does not look into the bucket.
seealso:
  - module: yba.remediation.backup_sla
  - module: yba.remediation.storage_probe
"""

EXAMPLES = r"""
- name: Show what retention would delete (sizes, chains, the floor's reasoning)
  yba.remediation.backup_retention:
    storage_credentials: "{{ vault_storage_credentials }}"
  check_mode: true
  diff: true
  register: plan

- name: Delete expired and FailedToDelete backups, keeping two verified chains per universe
  yba.remediation.backup_retention:
    min_redundancy: 2
    storage_credentials: "{{ vault_storage_credentials }}"
    batch_interval: 30
"""

RETURN = r"""
backups:
  description:
    - One item per candidate - C(backup_uuid), C(universe), C(universe_uuid), C(backup_type) (V(ysql), V(ycql)),
      C(keyspaces), C(state), C(reason) (V(expired), V(failed_to_delete), V(policy), V(stuck)), C(created),
      C(expiry), C(schedule), C(storage_config_uuid), C(size_bytes) (the chain), C(increments) (UUIDs deleted with
      it), C(action) (V(delete), V(keep), V(report), V(gone) - deleted by YBA while the plan was made), C(why) (the
      reason it is kept or reported), and after a run C(result)
      (V(deleted), V(gone) - deleted by YBA meanwhile, V(queued), V(failed_to_queue), V(failed_to_delete),
      V(dropped), V(timeout), V(not_requested), V(not_deleted)), C(detail) and C(task_uuid).
  returned: always
  type: list
  elements: dict
floors:
  description:
    - Per universe, backup type and keyspace set with candidates - C(universe), C(universe_uuid), C(backup_type),
      C(keyspaces) (sorted),
      C(min_redundancy), C(kept) (the chains the floor keeps, newest first), C(not_counted) (C(backup_uuid), C(why) -
      newer chains that did not count, such as dangling ones), C(dangling) (the chains whose objects are gone),
      C(met), C(unverifiable), C(examined) (the Completed
      fulls looked at, at most max(50, 10 x O(min_redundancy)); candidates older than C(not_examined_before) are kept
      when the floor is not met by then).
  returned: always
  type: list
  elements: dict
summary:
  description:
    - Counts - C(candidates), C(planned), C(kept), C(reported), C(bytes_planned), and per C(result) of a run.
  returned: always
  type: dict
batches:
  description:
    - One item per C(POST /backups/delete) - C(batch), C(requested), C(queued) (by YBA), C(dropped) (requested but
      left out by YBA), C(seconds).
  returned: always
  type: list
  elements: dict
probes:
  description: Per storage config probed - C(config), C(config_uuid), C(ok), C(mode), C(summary).
  returned: always
  type: list
  elements: dict
plan:
  description: One line per candidate - what happens to it and why.
  returned: always
  type: list
  elements: str
record:
  description:
    - The run record - C(ok), C(summary) (one line), C(check_mode), C(counts), C(requests), C(floor_short)
      (C(universe/type [keyspaces]) with fewer good chains than O(min_redundancy)).
  returned: always
  type: dict
requests:
  description: How many API requests the module sent.
  returned: always
  type: int
"""

import re
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv
from ansible_collections.yba.remediation.plugins.module_utils import _retention as rt
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc


UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def pick_universes(universes, wanted):
    """The UUIDs of the wanted universes (names or UUIDs); a UUID YBA no longer lists is a deleted universe whose
    backups stay in the catalog, so it is taken as is. ValueError names the unknown names."""
    if not wanted:
        return None
    out, unknown = [], []
    for w in wanted:
        u = next((u for u in universes if w in (u.get("name"), u.get("universeUUID"))), None)
        if u is not None:
            out.append(str(u["universeUUID"]))
        elif UUID_RE.match(w):
            out.append(w.lower())
        else:
            unknown.append(w)
    if unknown:
        known = ", ".join(sorted(str(u.get("name")) for u in universes))
        raise ValueError("unknown universe%s: %s (YBA has %s)" % ("s" if len(unknown) > 1 else "", ", ".join(unknown),
                                                                  known))
    return out


def plan_line(i):
    what = {"delete": "delete", "keep": "keep  ", "report": "report", "gone": "gone  "}[i["action"]]
    return "%s %s (%s)%s" % (what, rt.line(i), i["reason"], (": " + i["why"]) if i["why"] else "")


def main():
    spec = _api.api_argument_spec()
    spec.update(
        universes=dict(type="list", elements="str", default=[]),
        min_redundancy=dict(type="int", default=rt.DEFAULT_MIN_REDUNDANCY),
        keep_days=dict(type="float", default=0),
        keep_last=dict(type="int", default=0),
        policy_by=dict(type="str", default="universe", choices=["universe", "schedule"]),
        pinned=dict(type="list", elements="str", default=[]),
        gc_interval=dict(type="float", default=rt.DEFAULT_GC_INTERVAL),
        verify=dict(type="bool", default=True),
        verify_timeout=dict(type="float", default=10),
        storage_credentials=dict(type="dict", default={}, no_log=True),
        probe=dict(type="str", default="canary", choices=["canary", "read", "reach", "none"]),
        probe_timeout=dict(type="float", default=10),
        storage_ca_path=dict(type="path"),
        storage_validate_certs=dict(type="bool", default=True),
        batch_size=dict(type="int", default=rt.DEFAULT_BATCH_SIZE),
        batch_interval=dict(type="float", default=5),
        task_timeout=dict(type="float", default=120),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="float", default=1800),
        poll_interval=dict(type="float", default=10),
        page_size=dict(type="int", default=500),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    for creds in p["storage_credentials"].values():
        module.no_log_values.update(sc.secret_values(None, creds if isinstance(creds, dict) else {}))
    problems = []
    for name in ("min_redundancy", "keep_last"):
        if p[name] < 0:
            problems.append("%s must be 0 or more, got %s" % (name, p[name]))
    for name in ("keep_days", "batch_interval"):
        if p[name] < 0:
            problems.append("%s must be 0 or more, got %s" % (name, p[name]))
    for name in ("gc_interval", "verify_timeout", "probe_timeout", "task_timeout", "wait_timeout", "poll_interval"):
        if p[name] <= 0:
            problems.append("%s must be more than 0, got %s" % (name, p[name]))
    for name in ("batch_size", "page_size"):
        if p[name] < 1:
            problems.append("%s must be 1 or more, got %s" % (name, p[name]))
    if any(not isinstance(v, dict) for v in p["storage_credentials"].values()):
        problems.append("storage_credentials maps a config name to its secret fields (a dict)")
    probe_mode = "read" if module.check_mode and p["probe"] == "canary" else p["probe"]
    if (p["verify"] or probe_mode in ("read", "canary")) and not _s3.HAS_BOTO3:
        problems.append(missing_required_lib("boto3", reason="for verify or probe %s on %s" % (
            p["probe"], _api.this_host())))
    ca_problem = _api.ca_file_problem(p["storage_ca_path"])
    if ca_problem:
        problems.append("storage_ca_path %s %s on %s" % (p["storage_ca_path"], ca_problem, _api.this_host()))
    if problems:
        module.fail_json(msg="; ".join(problems), requests=0)

    client = _api.YBAClient.from_module(module)
    result = dict(changed=False, backups=[], floors=[], summary=rt.summary([], True), batches=[], probes=[], plan=[])

    def done(failed_msg=None, **extra):
        items = result["backups"]
        result["summary"] = rt.summary(items, module.check_mode)
        result["record"] = rt.record(items, result["floors"], module.check_mode, client.request_count, p["wait"])
        result["requests"] = client.request_count
        result["changed"] = (any(i.get("task_uuid") for i in items)
                             or (module.check_mode and result["summary"]["planned"] > 0))
        result["plan"] = [plan_line(i) for i in items]
        if module._diff:
            result["diff"] = rt.diff(items, module.check_mode)
        result.update(extra)
        if failed_msg:
            result["record"]["ok"] = False
            module.fail_json(msg=failed_msg, **result)
        module.exit_json(**result)

    try:
        client.customer_uuid()
        universes = client.get(client.cpath("universes")) or []
        try:
            wanted = pick_universes(universes, p["universes"])
        except ValueError as err:
            module.fail_json(msg=str(err), requests=client.request_count)
        configs = [c for c in client.get(client.cpath("configs")) or [] if c.get("type") == "STORAGE"]
        by_cfg = {str(c.get("configUUID")): c for c in configs}
        backups = rt.read_backups(client, wanted, p["page_size"])

        def settings_of(config):
            return sc.probe_settings(config, sc.credentials_for(config, p["storage_credentials"]))[0]

        def verify(backup, increments):
            cfg = by_cfg.get(str(rt.fields(backup)["storage_config_uuid"]))
            if cfg is None or cfg.get("name") != "S3":
                return {"verified": False, "error_class": "unsupported",
                        "problem": "only backups on an existing S3 storage config are verified"}
            settings = settings_of(cfg)
            category = bv.category_of(backup)
            for member in [backup] + [{"commonBackupInfo": c, "category": category} for c in increments]:
                res = bv.verify_backup(settings, member, timeout=p["verify_timeout"], ca_path=p["storage_ca_path"],
                                       validate_certs=p["storage_validate_certs"])
                if not res["verified"]:
                    return res
            return {"verified": True}

        now = time.time()
        planner = rt.Planner(backups, now, p, lambda b: rt.list_increments(client, b),
                             verify if p["verify"] else None, configs=by_cfg,
                             min_retain=rt.read_min_retain(client, backups, now),
                             paused=rt.paused_universes(universes))
        plan = planner.plan()
        result["backups"], result["floors"] = plan["items"], plan["floors"]

        todo = [i for i in plan["items"] if i["action"] == "delete"]
        if todo and probe_mode != "none":
            for uuid in sorted({str(i["storage_config_uuid"]) for i in todo}):
                cfg = by_cfg[uuid]
                if cfg.get("name") != "S3":
                    result["probes"].append({"config": cfg.get("configName"), "config_uuid": uuid, "ok": None,
                                             "mode": probe_mode, "summary": "only S3 storage is probed"})
                    continue
                res = _s3.probe(settings_of(cfg), mode=probe_mode, timeout=p["probe_timeout"],
                                ca_path=p["storage_ca_path"], validate_certs=p["storage_validate_certs"])
                result["probes"].append({"config": cfg.get("configName"), "config_uuid": uuid, "ok": res["ok"],
                                         "mode": res.get("mode", probe_mode), "summary": res["summary"]})
            broken = [x for x in result["probes"] if x["ok"] is False]
            if broken:
                done("no backup was deleted: the storage fails its %s probe: %s" % (
                    probe_mode, "; ".join("%s: %s" % (x["config"], x["summary"]) for x in broken)))
        if module.check_mode or not todo:
            done()
        live = {str(u.get("universeUUID")) for u in universes}
        deleter = rt.Deleter(client, p, deleted_universes={str(i["universe_uuid"]) for i in todo
                                                           if str(i["universe_uuid"]) not in live})
        try:
            deleter.run(plan["items"])
        finally:
            result["batches"] = deleter.batches
    except _api.YBAError as err:
        msg = "backup retention failed: %s" % client.scrub(str(err))
        done(msg)
    failed = rt.failed_items(result["backups"])
    if failed:
        done("%d of %d planned backups were not deleted; first: %s %s" % (
            len(failed), len([i for i in result["backups"] if i["action"] == "delete"]), failed[0]["backup_uuid"],
            failed[0].get("detail") or failed[0].get("result")))
    done()


if __name__ == "__main__":
    main()
