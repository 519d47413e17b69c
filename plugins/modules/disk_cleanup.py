#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: free disk space on the YBA host by a tunable, target-driven, provably safe policy.
# Copyright: contributors to the yba.remediation collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: disk_cleanup
short_description: Free disk space on a YBA host by category, down to a target usage
version_added: 1.0.0
description:
  - Runs on the YBA host. Detects the install (YBA Installer or Replicated), scans it in one streaming pass and
    plans a cleanup by category. Each category is a policy you can tune or turn off with O(categories).
  - V(logs) are rotated application, audit, postgres and yba-ctl logs (never the live ones), and only files that
    are logs by name (C(*.log), C(*.log.N), C(*.log.gz), C(application-log-DATE.gz), ...).
    V(log_bundles) are C(yba-ctl log-bundle) archives; V(staging) are stale YBA staging/temp entries of the YBA
    temp directory O(tmp_dir) whose names match the category's patterns; V(backup_archives) are C(yba-ctl
    createBackup) archives (C(backup_*.tgz)) and leftover C(platform_dump.sql); V(core_dumps) are core and JVM
    heap dumps, verified by their content; V(software) are superseded YBA software versions (never C(active),
    never the one kept for rollback); V(releases) are DB release directories no universe uses.
  - With O(target_used_percent), deletes oldest-first across the enabled categories only until the volume
    holding the install is at or below the target, or everything allowed is planned; RV(outcome) says which.
    O(reserve_bytes) counts what the caller writes to the volume afterwards.
  - Never touches the metadata DB data directory, keys, certs, licenses, swamper targets and rules,
    C(yba-ctl.yml), the C(.installed) marker, the active release, the newest C(yba-ctl createBackup) archive,
    any file named after a configuration, key or license file or a copy of one (C(yba-ctl.yml.2026-11-20),
    C(yba-ctl.yml.bak), C(yba-ctl.yml~), C(*.conf.orig), C(*.json.1), C(*.pem.old), ..., that is a name with a
    C(.yml), C(.yaml), C(.conf), C(.json), C(.properties), C(.pem), C(.key), C(.crt), C(.lic), ... part),
    any file open by a running process (open
    descriptors, executables, working directories and mapped files of every process visible in C(/proc)),
    nor anything outside the install root, the yba-ctl home, O(tmp_dir) and O(extra_paths).
    Symlinks are never followed and never deleted.
  - Each unit is re-checked just before it is deleted (same inode, size and mtime, not open, parent not a
    symlink); a unit that changed since the plan is left alone and reported in RV(refused).
  - The Prometheus TSDB is never deleted file by file; its size and the C(retentionTime) lever are returned in
    RV(recommendations).
author:
  - YBA remediation maintainers (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.host
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
    details:
      - Returns the plan (per category files and bytes, and the file list) and deletes nothing.
  diff_mode:
    support: full
    details:
      - The diff lists the files and directories deleted (or that would be deleted).
  idempotent:
    support: full
    details:
      - Once the volume is at or below the target, or every allowed file is gone, a second run plans nothing.
options:
  install_root:
    description:
      - The install root as the host names it (C(installRoot) of C(yba-ctl.yml), or Replicated's storage path).
      - Default is discovered from C(yba-ctl.yml), else C(/opt/yugabyte).
    type: path
  yba_ctl_home:
    description:
      - The yba-ctl home directory as the host names it. Default is discovered (C(/opt/yba-ctl), then C(~/yba-ctl)).
    type: path
  target_used_percent:
    description:
      - Target usage (percent, as C(df) computes it) of the volume holding the install's data directory.
      - When set, oldest-first deletion stops as soon as the volume would be at or below it, and nothing is
        deleted when it already is. When not set, everything the policy allows is deleted.
    type: float
  reserve_bytes:
    description:
      - Bytes the caller will write to this volume after the cleanup, for example the metadata dump of a repair.
      - With O(target_used_percent), the target is met only when the used bytes plus this reserve are at or below
        it, so the cleanup frees the reserve too. Returned as RV(reserve_bytes).
    type: int
    default: 0
  reserve_path:
    description:
      - Where the caller writes the O(reserve_bytes) (a directory on the host, under O(host_root); it need not exist
        yet). The reserve counts only when that path is on the volume this module cleans, so a dump that goes to
        another filesystem frees nothing here. Without it the reserve always counts.
    type: path
  categories:
    description:
      - Policy per category. Unset settings take the conservative defaults given for each one.
    type: dict
    default: {}
    suboptions:
      logs:
        description: Rotated logs. Defaults C(enabled=true), C(age_days=7), C(keep=7) per log family.
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          age_days: {description: Only files older than this many days., type: float}
          keep: {description: Always keep the newest this many files of each log family., type: int}
      log_bundles:
        description: C(yba-ctl log-bundle) archives. Defaults C(enabled=true), C(age_days=1), C(keep=1).
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          age_days: {description: Only files older than this many days., type: float}
          keep: {description: Always keep the newest this many bundles., type: int}
      staging:
        description:
          - Stale YBA staging and temp entries at the top of O(tmp_dir) (a matching directory is one unit,
            aged by the newest file inside it). Defaults C(enabled=true), C(age_hours=24) and the patterns
            C(yba-*), C(yba_*), C(yb-*), C(yb_*), C(ybc-*), C(ybc_*), C(shell_process_*), C(releases-download-*),
            C(*.yba.tmp).
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          age_hours: {description: Only entries older than this many hours., type: float}
          patterns:
            description: Shell patterns of entry names that are YBA's.
            type: list
            elements: str
      backup_archives:
        description:
          - C(yba-ctl createBackup) archives and leftover C(platform_dump.sql) files anywhere in the install
            and O(extra_paths) (HA backups are left to YBA). Defaults C(enabled=true), C(age_days=3), C(keep=1)
            archive (C(keep) does not apply to C(platform_dump.sql)).
          - The newest C(createBackup) archive is never deleted, whatever the policy says (C(keep) must be at
            least 1), being the rollback of a metadata repair (C(yba-ctl restoreBackup)), the one the diagnosis
            names. One is what C(restoreBackup) needs; raise C(keep) to keep more.
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          age_days: {description: Only files older than this many days., type: float}
          keep: {description: Always keep the newest this many archives (at least 1)., type: int}
      core_dumps:
        description: Core dumps and JVM heap dumps, verified by content. Defaults C(enabled=true), C(age_days=1), C(keep=0).
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          age_days: {description: Only files older than this many days., type: float}
          keep: {description: Always keep the newest this many dumps., type: int}
      software:
        description:
          - Superseded YBA software versions. Defaults C(enabled=true), C(keep=1). C(active) and the version
            kept for rollback (the newest one older than C(active)) are never deleted; C(keep) counts it.
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          keep: {description: Keep this many non-active versions (at least 1)., type: int}
      releases:
        description:
          - DB release directories that no universe uses. Defaults C(enabled=true), C(age_days=1).
          - Skipped entirely when the releases in use are unknown (see O(releases_in_use)).
          - Also delete the release in YBA (UI, API) so its catalog does not point at a missing file.
        type: dict
        suboptions:
          enabled: {description: Plan this category., type: bool}
          age_days: {description: Only release directories older than this many days., type: float}
  releases_in_use:
    description:
      - DB versions used by universes (C(ybSoftwareVersion)), for example read from the YBA API on the controller.
      - When not given and O(releases_from_metadb=true), they are read from the metadata DB through the host's psql.
    type: list
    elements: str
  releases_from_metadb:
    description:
      - Read the releases in use from C(universe.universe_details_json) in the metadata DB when
        O(releases_in_use) is not given. If that fails the V(releases) category is skipped, with the reason in
        RV(releases_in_use_source).
    type: bool
    default: true
  tmp_dir:
    description:
      - YBA's temp directory (C(yb.filepaths.tmpDirectory)) as the host names it; the V(staging) category looks there.
      - Default C(/tmp).
    type: path
  extra_paths:
    description:
      - More directories (as the host names them) where V(backup_archives), V(core_dumps) and V(staging)
        candidates are looked for, for example the output directory of C(yba-ctl createBackup).
      - Each must exist and lie under the install root, the yba-ctl home, O(tmp_dir), C(/var/tmp),
        C(/var/crash), C(/var/lib/systemd/coredump) or C(/home); none may be or hold a protected path.
    type: list
    elements: path
    default: []
  max_listed:
    description:
      - How many paths RV(plan) and RV(deleted) list per category at most (counts and bytes are always complete).
    type: int
    default: 1000
seealso:
  - module: yba.remediation.host_lock
notes:
  - Run it with C(become=true); files it cannot read are skipped.
"""

EXAMPLES = r"""
- name: Show what would be freed to reach 80 % (check mode returns the plan)
  yba.remediation.disk_cleanup:
    target_used_percent: 80
  check_mode: true
  become: true
  register: cleanup_plan

- name: Free space down to 80 %, keeping logs for two weeks and no core dumps
  yba.remediation.disk_cleanup:
    target_used_percent: 80
    categories:
      logs:
        age_days: 14
      core_dumps:
        enabled: false
  become: true

- name: Delete everything the default policy allows, also in the createBackup output directory
  yba.remediation.disk_cleanup:
    extra_paths:
      - /opt/yugabyte/backups
    releases_in_use: ["2.18.1.0-b84"]
  become: true
"""

RETURN = r"""
install_type:
  description: Detected install type.
  returned: always
  type: str
  sample: yba-installer
install_root:
  description: The install root as the host names it.
  returned: always
  type: str
  sample: /opt/yugabyte
outcome:
  description:
    - V(target_already_met), V(target_reached), V(target_unreachable) (everything allowed is planned and the
      volume stays above the target), V(all_planned) (no target) or V(nothing_to_do).
    - After a real run also V(partial) (some planned deletions were refused, see RV(refused) and
      RV(refused_count); never reported as a reached target) or V(target_missed) (the plan was carried out but
      the volume measured after it, plus O(reserve_bytes), is still above the target).
  returned: always
  type: str
  sample: target_reached
target_met:
  description:
    - Whether the volume's used bytes plus RV(reserve_bytes) are at or below the target, measured after the
      cleanup (in check mode, projected from the plan). V(null) without a target.
  returned: always
  type: bool
  sample: true
reserve_bytes:
  description: The O(reserve_bytes) counted against the target (0 when O(reserve_path) is on another volume).
  returned: always
  type: int
  sample: 0
need_bytes:
  description: Bytes the volume had to free to meet the target (with the reserve) when planned; 0 without a target.
  returned: always
  type: int
  sample: 1073741824
refused_count:
  description: Number of planned units left alone at delete time (the length of RV(refused)).
  returned: always
  type: int
  sample: 0
outcome_message:
  description: RV(outcome) in words.
  returned: always
  type: str
target_used_percent:
  description: The target, as given.
  returned: always
  type: float
  sample: 80.0
usage_before:
  description: The volume holding the data directory before the run.
  returned: always
  type: dict
  contains:
    path: {description: Path measured., type: str}
    total_bytes: {description: Size of the volume., type: int}
    used_bytes: {description: Bytes used., type: int}
    avail_bytes: {description: Bytes available to unprivileged users., type: int}
    used_percent: {description: "Used percent as C(df) shows it: used / (used + avail).", type: float}
usage_after:
  description: Same as RV(usage_before), measured after deleting; in check mode, projected from the plan.
  returned: always
  type: dict
plan:
  description: Per category, what the plan deletes (check mode) or deleted (real run).
  returned: always
  type: dict
  sample: {"logs": {"files": 66, "bytes": 30408704, "paths": ["/opt/yugabyte/data/logs/audit-log-2023-12-22.gz"]}}
deleted:
  description: Per category, what was deleted (files, bytes freed, paths). Empty in check mode.
  returned: always
  type: dict
freed_bytes:
  description: Bytes freed (sum of the deleted units' allocated blocks); in check mode, what the plan would free.
  returned: always
  type: int
freed_by_category:
  description: RV(freed_bytes) per category.
  returned: always
  type: dict
refused:
  description: Units planned but left alone at delete time, with the reason (changed since planned, now open, ...).
  returned: always
  type: list
  elements: dict
kept:
  description: Candidates the policy kept, with the reason (protected, open, active, in use, newest kept, too young).
  returned: always
  type: list
  elements: dict
kept_count:
  description: Number of kept candidates (RV(kept) lists at most 200).
  returned: always
  type: int
kept_summary:
  description: Kept candidates counted by reason (files, bytes), complete.
  returned: always
  type: dict
  sample: {"protected path": {"files": 2, "bytes": 8392704}, "younger than the category's age": {"files": 1, "bytes": 4096}}
recommendations:
  description: Levers the module does not pull itself, such as the Prometheus retention.
  returned: always
  type: list
  elements: dict
releases_in_use:
  description: The DB versions in use that protected their release directories; V(null) when unknown.
  returned: always
  type: list
  elements: str
releases_in_use_source:
  description: Where RV(releases_in_use) came from (V(option), V(metadb)), or why it is unknown.
  returned: always
  type: str
running_software:
  description:
    - The C(software/<version>) directories the running platform was started from, read from its command line
      (so without the metadata DB). They are never deleted, even when C(active) points elsewhere (an upgrade
      whose restart is pending).
  returned: always
  type: list
  elements: str
  sample: ["2.18.1.0-b84"]
scan:
  description: Scanner counters (files and directories looked at) and seconds spent scanning and planning.
  returned: always
  type: dict
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _cleanup, _diskscan, _layout, _service

EXTRA_BASES = ("/var/tmp", "/var/crash", "/var/lib/systemd/coredump", "/home")
_CAT_SETTINGS = dict(enabled=dict(type="bool"), age_days=dict(type="float"), keep=dict(type="int"))
RELEASES_SQL = (
    "SELECT coalesce(json_agg(DISTINCT v ORDER BY v), '[]'::json) FROM ("
    " SELECT c->'userIntent'->>'ybSoftwareVersion' AS v FROM universe u,"
    " json_array_elements(u.universe_details_json::json->'clusters') c) s WHERE v IS NOT NULL;"
)


def argument_spec():
    cats = dict(
        logs=dict(type="dict", options=dict(_CAT_SETTINGS)),
        log_bundles=dict(type="dict", options=dict(_CAT_SETTINGS)),
        staging=dict(type="dict", options=dict(enabled=dict(type="bool"), age_hours=dict(type="float"),
                                               patterns=dict(type="list", elements="str"))),
        backup_archives=dict(type="dict", options=dict(_CAT_SETTINGS)),
        core_dumps=dict(type="dict", options=dict(_CAT_SETTINGS)),
        software=dict(type="dict", options=dict(enabled=dict(type="bool"), keep=dict(type="int"))),
        releases=dict(type="dict", options=dict(enabled=dict(type="bool"), age_days=dict(type="float"))),
    )
    return dict(
        host_root=dict(type="path", default="/"),
        install_root=dict(type="path"),
        yba_ctl_home=dict(type="path"),
        target_used_percent=dict(type="float"),
        reserve_bytes=dict(type="int", default=0),
        reserve_path=dict(type="path"),
        categories=dict(type="dict", default={}, options=cats),
        releases_in_use=dict(type="list", elements="str"),
        releases_from_metadb=dict(type="bool", default=True),
        tmp_dir=dict(type="path"),
        extra_paths=dict(type="list", elements="path", default=[]),
        max_listed=dict(type="int", default=1000),
    )


def releases_from_metadb(module, layout):
    """(versions, source) from the metadata DB via the host's psql; (None, reason) when that fails."""
    try:
        from ansible_collections.yba.remediation.plugins.module_utils import _metadb
    except ImportError as exc:  # pragma: no cover
        return None, "unknown: metadb support unavailable (%s)" % exc

    def run(args, data, env):
        return module.run_command(args, data=data, environ_update=env, check_rc=False, binary_data=False)

    try:
        conn = _metadb.resolve_connection({}, layout)
        versions = _metadb.Psql(conn, run).json(RELEASES_SQL)
    except _metadb.MetadbError as exc:
        return None, "unknown: %s" % exc
    return [str(v) for v in versions], "metadb"


def check_extra_paths(module, layout, tmp_dir, extra_paths, protected):
    bases = [p for p in (layout.install_root, layout.yba_ctl_home, tmp_dir) if p]
    bases += [_layout.join_root(layout.host_root, b) for b in EXTRA_BASES]
    real = []
    for given in extra_paths:
        path = _layout.resolve_in_root(layout.host_root, given)
        if not any(_layout.is_within(path, b) for b in bases):
            module.fail_json(msg="extra path %s is outside the allowed roots (%s)" % (
                given, ", ".join(sorted({layout.to_host(b) for b in bases}))))
        if _layout.is_protected(path, protected) or any(_layout.is_within(p, path) for p in protected):
            module.fail_json(msg="extra path %s is or holds a protected path" % given)
        if not os.path.isdir(path):
            module.fail_json(msg="extra path %s is not an existing directory" % given)
        real.append(path)
    return real


def by_category(layout, units, limit, freed=None):
    out = {}
    for index, unit in enumerate(units):
        cat = out.setdefault(unit.category, {"files": 0, "bytes": 0, "paths": []})
        cat["files"] += 1
        cat["bytes"] += unit.usage if freed is None else freed[index]
        if len(cat["paths"]) < limit:
            cat["paths"].append(layout.to_host(unit.path))
    return out


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    started = time.monotonic()
    try:
        target = _cleanup.validate_target(p["target_used_percent"])
        reserve = _cleanup.validate_reserve(p["reserve_bytes"])
        policy = _cleanup.validate_policy(p["categories"])
    except _cleanup.PolicyError as exc:
        module.fail_json(msg=str(exc))
    if p["max_listed"] < 0:
        module.fail_json(msg="max_listed must not be negative, got %d" % p["max_listed"])
    if not os.path.isdir(p["host_root"]):
        module.fail_json(msg="host_root %s is not a directory" % p["host_root"])
    layout = _layout.detect(p["host_root"], p["install_root"], p["yba_ctl_home"])
    if layout.install_type == "unknown" or not os.path.isdir(layout.install_root):
        module.fail_json(msg="no YBA install found at install root %s (host_root %s); set install_root" % (
            layout.to_host(layout.install_root), p["host_root"]))
    tmp_dir = _layout.resolve_in_root(layout.host_root, p["tmp_dir"]) if p["tmp_dir"] else layout.tmp_dir
    if tmp_dir and (tmp_dir == layout.host_root or _layout.is_within(layout.install_root, tmp_dir)):
        module.fail_json(msg="tmp_dir %s must be YBA's temp directory, not / nor a parent of the install root"
                         % (p["tmp_dir"] or layout.to_host(tmp_dir)))
    running = _service.running_software_versions(layout)
    protected = _layout.protected_paths(layout) + tuple(os.path.join(layout.software_dir, v) for v in running)
    extra = check_extra_paths(module, layout, tmp_dir, p["extra_paths"], protected)
    allowed = [r for r in (layout.install_root, layout.yba_ctl_home, tmp_dir) if r] + extra

    if p["releases_in_use"] is not None:
        in_use, source = list(p["releases_in_use"]), "option"
    elif policy["releases"]["enabled"] and p["releases_from_metadb"]:
        in_use, source = releases_from_metadb(module, layout)
    else:
        in_use, source = None, "unknown: not given and releases_from_metadb is false"

    opened = _diskscan.open_inodes()
    vol = _diskscan.volume(layout.data_dir if layout.data_dir and os.path.isdir(layout.data_dir)
                           else layout.install_root)
    if reserve and p["reserve_path"]:
        where = _layout.existing_parent(_layout.resolve_in_root(layout.host_root, p["reserve_path"]))
        if os.stat(where).st_dev != vol.dev:
            reserve = 0  # written to another filesystem: nothing to free here for it
    stats = _diskscan.ScanStats()
    candidates = _diskscan.scan_candidates(
        layout, tmp_dir=tmp_dir if policy["staging"]["enabled"] else None,
        staging_patterns=policy["staging"]["patterns"], extra_paths=extra, opened=opened, stats=stats)
    plan = _cleanup.plan_cleanup(
        candidates, policy, now=time.time(), protected=protected, allowed_roots=allowed,
        active_version=layout.active_version, rollback_version=layout.rollback_version, releases_in_use=in_use,
        used_bytes=vol.used, avail_bytes=vol.avail, volume_dev=vol.dev, target_used_percent=target,
        reserve_bytes=reserve)
    plan_seconds = time.monotonic() - started
    recommendation = _diskscan.prometheus_recommendation(layout)

    result = dict(
        changed=bool(plan.units), install_type=layout.install_type, install_root=layout.to_host(layout.install_root),
        target_used_percent=target, outcome=plan.outcome, outcome_message=_cleanup.OUTCOMES[plan.outcome],
        reserve_bytes=reserve, need_bytes=plan.need_bytes, refused_count=0,
        usage_before=vol.as_dict(), plan=by_category(layout, plan.units, p["max_listed"]), deleted={},
        freed_bytes=0, freed_by_category={}, refused=[], kept_count=plan.skipped_count,
        kept=[dict(k, path=layout.to_host(k["path"])) for k in plan.skipped], kept_summary=plan.kept_by_reason,
        recommendations=[recommendation] if recommendation else [], releases_in_use=in_use,
        releases_in_use_source=source, running_software=running,
    )
    planned_paths = [layout.to_host(u.path) for u in plan.units]
    if module.check_mode:
        projected = dict(vol.as_dict())
        projected["used_bytes"] = max(0, vol.used - plan.planned_bytes)
        projected["avail_bytes"] = vol.avail + plan.planned_bytes
        projected["used_percent"] = plan.projected_used_percent
        result.update(usage_after=projected, freed_bytes=plan.planned_bytes,
                      freed_by_category={c: v["bytes"] for c, v in result["plan"].items()},
                      target_met=_cleanup.target_met(projected["used_bytes"], projected["avail_bytes"], target,
                                                     reserve))
        remaining = []
    else:
        fresh_open = _diskscan.open_inodes() if plan.units else set()
        done, freed = [], []
        for unit in plan.units:
            try:
                freed_now = _diskscan.delete_unit(unit, allowed, protected, fresh_open)
            except _diskscan.DeleteRefused as exc:
                result["refused"].append({"path": layout.to_host(unit.path), "category": unit.category,
                                          "reason": str(exc)})
                continue
            except OSError as exc:
                result["deleted"] = by_category(layout, done, p["max_listed"], freed)
                module.fail_json(msg="could not delete %s: %s" % (layout.to_host(unit.path), exc.strerror or exc),
                                 **{k: v for k, v in result.items() if k != "changed"})
            done.append(unit)
            freed.append(freed_now)
        result["deleted"] = by_category(layout, done, p["max_listed"], freed)
        result["plan"] = by_category(layout, plan.units, p["max_listed"])
        result["freed_bytes"] = sum(freed)
        result["freed_by_category"] = {c: v["bytes"] for c, v in result["deleted"].items()}
        after = _diskscan.volume(vol.path)
        result["usage_after"] = after.as_dict()
        result["changed"] = bool(done)
        result["refused_count"] = len(result["refused"])
        result["target_met"] = _cleanup.target_met(after.used, after.avail, target, reserve)
        outcome = _cleanup.final_outcome(plan.outcome, result["refused_count"], result["target_met"])
        message = _cleanup.OUTCOMES[outcome]
        if outcome == "partial":
            message = "%d of %d planned deletions were refused (see refused); the volume is at %s%%%s" % (
                result["refused_count"], len(plan.units), after.used_percent,
                "" if target is None else ", target %g%% %s" % (target, "met" if result["target_met"] else "not met"))
        result.update(outcome=outcome, outcome_message=message)
        remaining = [layout.to_host(u.path) for u in plan.units if u not in done]
    result["scan"] = dict(stats.as_dict(), plan_seconds=round(plan_seconds, 3))
    if module._diff:
        result["diff"] = dict(before_header="%s (files to delete)" % layout.to_host(layout.install_root),
                              after_header="%s (after cleanup)" % layout.to_host(layout.install_root),
                              before="".join(x + "\n" for x in planned_paths),
                              after="".join(x + "\n" for x in remaining))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
