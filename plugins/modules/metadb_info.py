#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: inspect YBA's metadata DB (yugaware) for what breaks backups, read-only.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: metadb_info
short_description: Inspect the YBA metadata database (yugaware) for damage that breaks backups
version_added: 1.0.0
description:
  - Runs on the YBA host and queries the C(yugaware) PostgreSQL database through the host's own C(psql),
    in one invocation, and returns what is wrong with it. Every finding comes with a count and a sample of ids.
  - Reachability and server version; database and table sizes and dead-tuple bloat.
  - Every btree index of the C(public) schema is checked; a corrupt index is listed with its error. With the
    C(amcheck) extension in the database (YBA never creates it; O(install_amcheck=true) installs it when the server
    ships it) by C(bt_index_check); without it, by reading each index in full through a forced index scan and
    comparing its row count with a sequential scan of the table, in one snapshot (a damaged page fails the read
    with C(invalid page in block) or C(could not read block), a lost entry changes the count). An index that could
    not be checked is a finding (C(indexes not checked)), never silence.
  - Flyway C(schema_version) rows with C(success = false).
  - Backups C(In Progress), C(Stopping) or C(DeleteInProgress) with no live task (their C(task_info) row is
    missing or finished), and the backups in those states that do have a live task.
  - Incomplete C(task_info) rows (C(Created), C(Initializing), C(Running), C(Abort)) not updated for O(stale_age) seconds.
  - Schedules C(Paused) or C(Error) with their failure counts; expired backups not yet deleted, counting the
    C(FailedToDelete) ones (YBA's garbage collector never retries them) apart; backups whose universe or storage
    config no longer exists; a per-universe backup summary.
  - Reads go to the table heap (index scans and merge joins are disabled in the session), so a corrupt index
    cannot skew or break the answers.
  - A database that cannot be reached is not a module failure; RV(metadb.reachable=false) and RV(metadb.error) say why.
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.host
  - yba.remediation.metadb
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, except with O(install_amcheck=true), which it does not do in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  stale_age:
    description:
      - Seconds without an update after which an incomplete task counts as stale.
    type: int
    default: 3600
  sample_size:
    description:
      - How many ids each finding's C(sample) lists at most.
    type: int
    default: 10
  amcheck:
    description:
      - Check every btree index, with the C(amcheck) extension when the database has it, else by full index scans.
      - V(false) skips the index check (C(checked) is V(false) in RV(metadb.amcheck), a finding says so).
    type: bool
    default: true
  install_amcheck:
    description:
      - Install the C(amcheck) extension (C(CREATE EXTENSION amcheck), PostgreSQL contrib) when it is missing and
        the server ships it. This is the only change this module can make; the module reports a change when it
        does. When the server does not ship it, the index check falls back to full index scans.
    type: bool
    default: false
  heapallindexed:
    description:
      - With C(amcheck), also verify that every heap tuple has an index entry
        (C(bt_index_check(heapallindexed => true))). Slower. The full-index-scan check always compares the counts.
    type: bool
    default: false
  dump_dir:
    description:
      - Directory on the host (under O(host_root)) where M(yba.remediation.metadb_repair) would write its dump.
        When set, RV(dump_space) says on which filesystem it is, its free space and whether the dump fits, so a
        runbook can keep that space free (the dump lands on the volume a disk cleanup just freed).
    type: path
  dump_reserve_bytes:
    description:
      - Free space M(yba.remediation.metadb_repair) keeps on top of the dump's estimate (its O(yba.remediation.metadb_repair#module:dump_reserve_bytes)).
    type: int
    default: 1048576
seealso:
  - module: yba.remediation.metadb_repair
"""

EXAMPLES = r"""
- name: Inspect the metadata DB of the YBA host
  yba.remediation.metadb_info:
  become: true
  register: metadb

- name: Show the corrupt indexes
  ansible.builtin.debug:
    msg: "{{ metadb.metadb.amcheck.corrupt | map(attribute='index') | list }}"

- name: Inspect a database reached another way
  yba.remediation.metadb_info:
    login_host: 127.0.0.1
    login_port: 5432
    psql_path: /usr/lib/postgresql/15/bin/psql
    install_amcheck: true

- name: How big a repair's dump would be, and whether its directory has room for it
  yba.remediation.metadb_info:
    dump_dir: /var/backups/yba-remediation/metadb
  become: true
  register: metadb

- name: Keep that much free on the dump's filesystem while cleaning up the disk
  ansible.builtin.debug:
    msg: >-
      {{ metadb.dump_space.needed_bytes }} bytes needed on {{ metadb.dump_space.mount }}
      ({{ metadb.dump_space.free_bytes }} free)
"""

RETURN = r"""
metadb:
  description: What the module found. When the database cannot be reached, every key is present with an empty value.
  returned: always
  type: dict
  contains:
    reachable:
      description: Whether the query ran.
      type: bool
      sample: true
    error:
      description: Why the database could not be queried, else V(null).
      type: str
      sample: "cannot connect to the metadata DB at localhost:5432/yugaware: connection refused"
    server_version:
      description: PostgreSQL server version.
      type: str
      sample: "15.5"
    database_size_bytes:
      description: Size of the database.
      type: int
    dump_estimate_bytes:
      description:
        - Upper estimate of the size of a C(pg_dump -Fc) of the database, the dump
          M(yba.remediation.metadb_repair) takes before a repair. It is the size of the table data,
          C(pg_table_size) (heap and TOAST) summed over every user table; the dump holds the rows as compressed
          C(COPY) text and only the DDL of the indexes, so it is smaller. V(null) when unreachable.
      type: int
      sample: 1951424
    tables:
      description: Tables of the C(public) schema, largest first.
      type: list
      elements: dict
      sample: [{"name": "backup", "size_bytes": 2269184, "live_tuples": 5000, "dead_tuples": 12, "dead_ratio": 0.0024}]
    amcheck:
      description:
        - The index check (the key keeps its name; C(amcheck) is one of its two methods).
        - C(checked) whether it ran; C(method) V(amcheck) or V(index_scan); C(reason) why it did not run or why
          it used full index scans; C(indexes_checked); C(corrupt) the indexes found corrupt with the error;
          C(skipped) the indexes it could not check (each also a finding); C(installed) whether this run
          installed amcheck.
      type: dict
      sample: {"checked": true, "method": "index_scan", "indexes_checked": 17, "installed": false, "skipped": [],
               "reason": "the amcheck extension is not installed in this database; indexes checked by full index scans",
               "corrupt": [{"index": "public.ix_backup_task_uuid", "table": "public.backup",
                            "error": "invalid page in block 3 of relation base/16384/16496"}]}
    failed_migrations:
      description: Flyway rows that failed.
      type: list
      elements: dict
      sample: [{"version": "231", "description": "add column", "script": "V231__add_column.sql"}]
    stale_backups:
      description: Backups in progress (or stopping, or deleting) with no live task.
      type: dict
      sample: {"count": 20, "oldest_age_seconds": 280000, "by_state": {"In Progress": 20}, "sample": ["uuid"]}
    live_backups:
      description: Backups in those states whose task is alive; a repair leaves them alone.
      type: dict
      sample: {"count": 1, "sample": ["uuid"]}
    stale_tasks:
      description: Incomplete tasks not updated for O(stale_age) seconds (C(top_level) counts the parents), with their subtasks.
      type: dict
      sample: {"count": 2, "top_level": 1, "oldest_age_seconds": 172800, "sample": ["uuid"]}
    schedules:
      description: Schedules C(Paused) (by YBA after repeated failures) and C(Error).
      type: dict
      sample: {"paused": {"count": 1, "sample": [{"uuid": "uuid", "name": "daily", "failure_count": 3}]},
               "error": {"count": 0, "sample": []}}
    expired_not_deleted:
      description:
        - Backups past their expiry in a state the garbage collector deletes (C(Completed), C(Failed), C(Stopped),
          C(Skipped)), still present, plus every C(FailedToDelete) backup.
        - C(failed_to_delete) counts the latter apart. YBA's garbage collector moves a backup it cannot delete
          (storage unreachable or invalid) to C(FailedToDelete) and never retries it, so a count that moves from
          the first group to the second is not a fix.
      type: dict
      sample: {"count": 120, "failed_to_delete": 10, "oldest_expiry_age_seconds": 86400, "sample": ["uuid"]}
    orphans:
      description: Backups whose universe or storage config no longer exists.
      type: dict
      sample: {"count": 0, "missing_universe": 0, "missing_storage_config": 0, "sample": []}
    backup_summary:
      description:
        - Per universe, the last Completed backup time (as stored, UTC), Failed backups in 24 h and the newest of them,
          In Progress count.
      type: list
      elements: dict
      sample: [{"universe_uuid": "uuid", "universe_name": "orders", "last_completed_time": "2024-01-28T02:00:00",
                "failed_24h": 4, "last_failed_time": "2024-01-28T08:00:00", "in_progress": 1}]
    findings:
      description: One line per problem found, for people.
      type: list
      elements: str
      sample: ["corrupt index public.ix_backup_task_uuid on public.backup", "20 backups in progress with no live task"]
dump_space:
  description:
    - Where a repair's dump would go (O(dump_dir)) and whether it fits; V(null) when O(dump_dir) is not set.
    - C(path) the directory as given (a host path); C(exists) whether it exists yet; C(mount) the mount point (host
      path) of the filesystem holding it, or its nearest existing parent; C(free_bytes) and C(size_bytes) of that
      filesystem (free for an unprivileged writer); C(estimate_bytes) = RV(metadb.dump_estimate_bytes);
      C(reserve_bytes) = O(dump_reserve_bytes); C(needed_bytes) their sum, the free space the repair requires
      (V(null) when the DB is unreachable); C(fits) whether C(free_bytes) covers it; C(problem) why a dump could
      not be written there (not a directory, not writable), else V(null).
  returned: always
  type: dict
  sample: {"path": "/var/backups/yba-remediation/metadb", "exists": true, "mount": "/", "free_bytes": 5368709120,
           "size_bytes": 53687091200, "estimate_bytes": 1951424, "reserve_bytes": 1048576, "needed_bytes": 3000000,
           "fits": true, "problem": null}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _metadb


def module_runner(module: AnsibleModule) -> _metadb.Runner:
    def run(args, data, env):
        return module.run_command(args, data=data, environ_update=env, check_rc=False, binary_data=False)
    return run


def layout_for(host_root: str):
    from ansible_collections.yba.remediation.plugins.module_utils import _layout  # pylint: disable=import-outside-toplevel
    try:
        return _layout.detect(host_root)
    except ValueError:
        return None


def main() -> None:
    spec = _metadb.metadb_argument_spec()
    spec.update(
        stale_age=dict(type="int", default=3600),
        sample_size=dict(type="int", default=10),
        amcheck=dict(type="bool", default=True),
        install_amcheck=dict(type="bool", default=False),
        heapallindexed=dict(type="bool", default=False),
        dump_dir=dict(type="path"),
        dump_reserve_bytes=dict(type="int", default=_metadb.DUMP_RESERVE_DEFAULT),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    for name in ("stale_age", "sample_size", "connect_timeout", "dump_reserve_bytes"):
        if p[name] < 0:
            module.fail_json(msg="%s must be >= 0, got %d" % (name, p[name]))
    layout = layout_for(p["host_root"])
    if layout is None:
        module.fail_json(msg="host_root %s is not a directory" % p["host_root"])
    if p["dump_dir"] is not None and not os.path.isabs(p["dump_dir"]):
        module.fail_json(msg="dump_dir must be an absolute path on the host, got %s" % p["dump_dir"])
    info = _metadb.collect_info(
        p, layout, module_runner(module), stale_age=p["stale_age"], sample_size=p["sample_size"], amcheck=p["amcheck"],
        install_amcheck=p["install_amcheck"] and not module.check_mode, heapallindexed=p["heapallindexed"])
    changed = bool((info.get("amcheck") or {}).get("installed"))
    space = None
    if p["dump_dir"] is not None:
        from ansible_collections.yba.remediation.plugins.module_utils import _layout  # pylint: disable=import-outside-toplevel
        real_dir = _layout.join_root(p["host_root"], p["dump_dir"])
        try:
            space = _metadb.dump_space(p["dump_dir"], real_dir, p["host_root"], info.get("dump_estimate_bytes"),
                                       p["dump_reserve_bytes"])
        except OSError as exc:
            module.fail_json(msg="cannot look at dump_dir %s: %s" % (p["dump_dir"], exc), metadb=info)
    module.exit_json(changed=changed, metadb=info, dump_space=space)


if __name__ == "__main__":
    main()
