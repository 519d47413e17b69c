#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: repair YBA's metadata DB (yugaware) after a verified dump, one transaction per repair.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: metadb_repair
short_description: Repair the YBA metadata database (yugaware) after a verified dump
version_added: 1.0.0
description:
  - Plans repairs of the C(yugaware) database from what it finds (the same checks as M(yba.remediation.metadb_info))
    and applies only the kinds listed in O(repairs), in this order.
  - V(reindex) rebuilds every btree index found corrupt (C(REINDEX INDEX)). Indexes are checked with the
    C(amcheck) extension when the database has it (or O(install_amcheck=true) installs it); YBA never creates it, so
    without it each index is read in full through a forced index scan and compared with the table (a damaged page
    fails the read, a lost entry changes the count). An index that could not be checked is a warning, not a failure.
  - V(stale_tasks) marks incomplete C(task_info) rows not updated for O(stale_age) seconds (and their incomplete
    subtasks) C(Failure), and completes their C(customer_task) rows, the way YBA's own start-up does
    (C(CustomerTaskManager)). The error is written as the YBA of the database's layout writes it, only when the
    task has none, C(errorString) C(Platform restarted.) inside the C(details) json (YBA 2.18 to 2.20), or, where
    C(details) was renamed C(task_params), a YBAError (C(code) C(PLATFORM_RESTARTED), C(message) and
    C(originMessage) C(Platform restarted.)) as C(error) of the new C(details) json.
  - V(stale_backups) marks backups C(In Progress) or C(Stopping) that have no live task C(Failed), and puts backups
    C(DeleteInProgress) with no live task back to C(QueuedForDeletion) so YBA's garbage collector retries them,
    as YBA's start-up does. A backup whose task is alive is never touched.
  - V(vacuum) runs C(VACUUM (ANALYZE)) on tables whose dead tuples reach O(vacuum_dead_ratio) and
    O(vacuum_min_dead_tuples), and on the tables the other repairs rewrote.
  - Prefer restarting the platform (M(yba.remediation.platform_service)) first; it reconciles stuck tasks and
    backups itself. This module is for what a restart did not clear. Returning C(Paused) schedules to C(Active)
    is not done here but through the API.
  - Before any change, dumps the database with the host's C(pg_dump -Fc) into O(dump_dir), after checking free
    space, verifies the dump with C(pg_restore --list) and makes it mode C(0600).
  - Each repair kind runs in one transaction (C(REPEATABLE READ), C(lock_timeout)), so a kill or an error in the
    middle leaves that kind unchanged. C(VACUUM) cannot run in a transaction and changes no row.
  - Refuses to change anything while the YBA platform of the host is running, unless O(quiesced=true).
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
      - Returns the exact SQL it would run and the row counts it expects; changes nothing and writes no dump.
  diff_mode:
    support: full
    details:
      - The diff shows the problems before and the expected (check mode) or measured state after.
  idempotent:
    support: full
options:
  repairs:
    description:
      - The kinds of repair to apply. They always run in the order V(reindex), V(stale_tasks), V(stale_backups), V(vacuum).
    type: list
    elements: str
    choices: [reindex, stale_tasks, stale_backups, vacuum]
    default: [reindex, stale_tasks, stale_backups]
  dump_dir:
    description:
      - Directory on the host (under O(host_root)) for the dump taken before any change. Created (mode C(0700)) if missing.
    type: path
    required: true
  dump_reserve_bytes:
    description:
      - Free space to keep in O(dump_dir) on top of the dump's size estimate (the size of the table data).
    type: int
    default: 1048576
  quiesced:
    description:
      - Set to V(true) to repair although the YBA platform process runs, once you know it does not write the
        database (for example a hung platform). Without it a running platform makes the module fail.
    type: bool
    default: false
  stale_age:
    description:
      - Seconds without an update after which an incomplete task is stale (see M(yba.remediation.metadb_info)).
    type: int
    default: 3600
  lock_timeout:
    description:
      - Seconds each repair waits for a table lock before it gives up (and changes nothing).
    type: int
    default: 10
  vacuum_dead_ratio:
    description:
      - Share of dead tuples from which a table is vacuumed.
    type: float
    default: 0.2
  vacuum_min_dead_tuples:
    description:
      - Minimum number of dead tuples before a table is vacuumed.
    type: int
    default: 1000
  install_amcheck:
    description:
      - Install the C(amcheck) extension (C(CREATE EXTENSION amcheck)) when it is missing and the server ships it,
        to check indexes with C(bt_index_check). Without it, indexes are checked by full index scans.
        This leaves the extension in the database (a change to YBA's database YBA did not make).
    type: bool
    default: false
seealso:
  - module: yba.remediation.metadb_info
  - module: yba.remediation.platform_service
"""

EXAMPLES = r"""
- name: Show what would be repaired, with the SQL
  yba.remediation.metadb_repair:
    dump_dir: /opt/yugabyte/data/metadb_dumps
  check_mode: true
  become: true
  register: plan

- name: Repair corrupt indexes and stale rows while the platform is stopped
  yba.remediation.metadb_repair:
    repairs: [reindex, stale_tasks, stale_backups, vacuum]
    dump_dir: /opt/yugabyte/data/metadb_dumps
  become: true
  register: repair

- name: Where the dump is
  ansible.builtin.debug:
    msg: "{{ repair.dump.path }}"
"""

RETURN = r"""
queries:
  description: Every SQL statement run (or, in check mode, that would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["BEGIN ISOLATION LEVEL REPEATABLE READ;", "SET LOCAL lock_timeout = '10s';", "REINDEX INDEX \"public\".\"ix\";", "COMMIT;"]
check_mode:
  description: Whether the module ran in check mode (task-level C(check_mode) included).
  returned: always
  type: bool
changes:
  description: Per repair kind, the rows changed (real run) or expected to change (check mode). Short, for run records.
  returned: always
  type: dict
  sample: {"reindex": {"indexes": 1}, "stale_backups": {"backup": 20}}
repairs:
  description: Per repair kind that had work, its SQL script, the row counts expected and (real run) the rows changed.
  returned: always
  type: dict
  sample: {"stale_backups": {"sql": "BEGIN ...", "expected": {"backup": 20, "by_state": {"In Progress": 20}},
                             "rows": {"backup": 20}}}
dump:
  description: The verified dump taken before the changes; V(null) when nothing was to change or in check mode.
  returned: always
  type: dict
  contains:
    path:
      description: Path of the dump file (custom format, mode 0600), as the module sees it (with O(host_root)).
      type: str
      sample: /opt/yugabyte/data/metadb_dumps/yugaware-20240201T101500Z.dump
    size_bytes:
      description: Size of the dump.
      type: int
    entries:
      description: Entries in its table of contents (C(pg_restore --list)).
      type: int
    seconds:
      description: Time the dump and its verification took.
      type: float
index_check:
  description:
    - The index check the plan is based on (the same shape as RV(yba.remediation.metadb_info#module:metadb.amcheck)),
      or V(null) when no repair asked for needs it.
    - C(method) is V(amcheck) or V(index_scan); C(skipped) lists indexes that could not be checked.
  returned: always
  type: dict
  sample: {"checked": true, "method": "index_scan", "indexes_checked": 17, "skipped": [], "installed": false,
           "corrupt": [{"index": "public.ix_backup_task_uuid", "table": "public.backup",
                        "error": "invalid page in block 3 of relation base/16384/16496"}],
           "reason": "the amcheck extension is not installed in this database; indexes checked by full index scans"}
task_layout:
  description: The C(task_info) layout found, V(details) (YBA 2.18 to 2.20) or V(task_params) (newer YBA).
  returned: when there is something to plan
  type: str
  sample: details
planned_dump:
  description: Where the dump would go and the space check (check mode, or before the dump).
  returned: when there is something to repair
  type: dict
  sample: {"dir": "/opt/yugabyte/data/metadb_dumps", "free_bytes": 1000000000, "needed_bytes": 3000000, "fits": true}
platform:
  description: The running platform process found on the host, else V(null).
  returned: always
  type: dict
timings:
  description: Seconds spent planning, dumping and repairing.
  returned: always
  type: dict
  sample: {"plan": 0.2, "dump": 0.5, "repairs": 0.9}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _metadb


def module_runner(module: AnsibleModule) -> _metadb.Runner:
    def run(args, data, env):
        return module.run_command(args, data=data, environ_update=env, check_rc=False, binary_data=False, umask=0o077)
    return run


def summary(steps, done=None, predicted=False):
    """Diff text: one line per repair kind, the problem before and what became of it."""
    lines = []
    for step in steps:
        if predicted:
            lines.append("%s: would repair %s" % (step.kind, step.expected))
        elif done is not None:
            lines.append("%s: repaired %s" % (step.kind, done.get(step.kind)))
        else:
            lines.append("%s: %s" % (step.kind, step.expected))
    return "\n".join(lines) + ("\n" if lines else "")


def take_dump(module, psql, conn, real_dir, lock_timeout):
    start = time.monotonic()
    if not os.path.isdir(real_dir):
        os.makedirs(real_dir, mode=0o700)
    path = os.path.join(real_dir, _metadb.dump_file_name(conn.database))
    run = module_runner(module)
    args = [conn.tool("pg_dump"), "-Fc", "--lock-wait-timeout=%d" % (lock_timeout * 1000), "-f", path] + \
        conn.conn_args() + ["-d", conn.database]
    rc, out, err = run(args, "", conn.env())
    if rc != 0:
        if os.path.exists(path):
            os.unlink(path)
        raise _metadb.MetadbError("pg_dump failed, nothing was changed: %s" % _metadb.classify_error(
            err or out, conn.target, conn.user))
    os.chmod(path, 0o600)
    rc, out, err = run([conn.tool("pg_restore"), "--list", path], "", {})
    if rc != 0:
        raise _metadb.MetadbError("the dump %s is not readable by pg_restore, nothing was changed: %s"
                                  % (path, (err or out).strip()[:300]))
    entries = _metadb.verify_listing(out)
    return {"path": path, "size_bytes": os.path.getsize(path), "entries": entries,
            "seconds": round(time.monotonic() - start, 3)}


def main() -> None:
    spec = _metadb.metadb_argument_spec()
    spec.update(
        repairs=dict(type="list", elements="str", choices=list(_metadb.REPAIR_KINDS),
                     default=["reindex", "stale_tasks", "stale_backups"]),
        dump_dir=dict(type="path", required=True),
        dump_reserve_bytes=dict(type="int", default=1048576),
        quiesced=dict(type="bool", default=False),
        stale_age=dict(type="int", default=3600),
        lock_timeout=dict(type="int", default=10),
        vacuum_dead_ratio=dict(type="float", default=0.2),
        vacuum_min_dead_tuples=dict(type="int", default=1000),
        install_amcheck=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    if p["lock_timeout"] < 1:
        module.fail_json(msg="lock_timeout must be at least 1 second, got %d" % p["lock_timeout"])
    if p["stale_age"] < 0 or p["dump_reserve_bytes"] < 0 or p["vacuum_min_dead_tuples"] < 0:
        module.fail_json(msg="stale_age, dump_reserve_bytes and vacuum_min_dead_tuples must be >= 0")
    if not os.path.isabs(p["dump_dir"]):
        module.fail_json(msg="dump_dir must be an absolute path on the host, got %s" % p["dump_dir"])
    from ansible_collections.yba.remediation.plugins.module_utils import _layout  # pylint: disable=import-outside-toplevel
    if not os.path.isdir(p["host_root"]):
        module.fail_json(msg="host_root %s is not a directory" % p["host_root"])
    layout = _layout.detect(p["host_root"])
    repairs = [k for k in _metadb.REPAIR_KINDS if k in p["repairs"]]
    result = dict(changed=False, check_mode=module.check_mode, queries=[], repairs={}, changes={}, dump=None,
                  platform=None, timings={}, index_check=None)
    t0 = time.monotonic()
    try:
        conn = _metadb.resolve_connection(p, layout)
        psql = _metadb.Psql(conn, module_runner(module))
        facts = psql.facts(repairs, p["stale_age"], install_amcheck=p["install_amcheck"] and not module.check_mode)
        result["index_check"] = facts.get("amcheck")
        result["task_layout"] = facts.get("task_layout")
        steps = _metadb.plan_repairs(facts, repairs, p["stale_age"], p["vacuum_dead_ratio"], p["vacuum_min_dead_tuples"])
    except _metadb.MetadbError as exc:
        module.fail_json(msg=str(exc), **result)
    if "reindex" in repairs:
        # never silence (an unchecked index is not a clean one), never a failure of the other repairs
        for warning in _metadb.index_check_warnings(facts.get("amcheck")):
            module.warn("reindex: %s" % warning)
    result["timings"]["plan"] = round(time.monotonic() - t0, 3)
    for step in steps:
        result["repairs"][step.kind] = {"sql": step.script(p["lock_timeout"]), "expected": step.expected}
        result["changes"][step.kind] = step.expected
        result["queries"] += _statements(step.script(p["lock_timeout"]))
    if not steps:
        module.exit_json(**result)

    proc = _metadb.platform_process(layout)
    result["platform"] = proc
    if proc and not p["quiesced"]:
        msg = ("refusing to repair the metadata DB while the YBA platform runs (pid %d) and writes it; stop the "
               "platform (yba-ctl stop yb-platform) or set quiesced=true when it is known not to write" % proc["pid"])
        if not module.check_mode:
            module.fail_json(msg=msg, **result)
        module.warn(msg)

    real_dir = _layout.join_root(p["host_root"], p["dump_dir"])
    try:
        estimate = int(facts.get("dump_estimate_bytes") or 0)
        enough, free, needed = _metadb.check_dump_space(real_dir, estimate, p["dump_reserve_bytes"])
    except (_metadb.MetadbError, OSError, ValueError) as exc:
        module.fail_json(msg="cannot check the space for the dump in %s: %s" % (real_dir, exc), **result)
    result["planned_dump"] = {"dir": real_dir, "free_bytes": free, "needed_bytes": needed, "fits": enough}
    if not enough:
        msg = ("not enough free space in %s for the dump taken before any repair: %d bytes free, %d needed; nothing "
               "was changed" % (real_dir, free, needed))
        # like the platform check above: in check mode an earlier step (a disk cleanup) may still free the space
        if not module.check_mode:
            module.fail_json(msg=msg, **result)
        module.warn(msg)

    if module.check_mode:
        result["changed"] = True
        if module._diff:
            result["diff"] = {"before": summary(steps), "after": summary(steps, predicted=True)}
        module.exit_json(**result)

    try:
        result["dump"] = take_dump(module, psql, conn, real_dir, p["lock_timeout"])
    except (_metadb.MetadbError, OSError) as exc:
        module.fail_json(msg=str(exc), **result)
    result["timings"]["dump"] = result["dump"]["seconds"]
    t1 = time.monotonic()
    done = {}
    for step in steps:
        try:
            _script, rows = psql.apply(step, p["lock_timeout"])
        except _metadb.MetadbError as exc:
            result["changed"] = bool(done)
            module.fail_json(msg="the %s repair failed and was rolled back (%s); earlier repairs (%s) are committed; "
                                 "the dump is %s" % (step.kind, exc, ", ".join(done) or "none",
                                                     result["dump"]["path"]), **result)
        done[step.kind] = rows
        result["repairs"][step.kind]["rows"] = rows
        result["changes"][step.kind] = rows
    result["timings"]["repairs"] = round(time.monotonic() - t1, 3)
    result["changed"] = any(any(v for v in rows.values()) for rows in done.values())
    if module._diff:
        result["diff"] = {"before": summary(steps), "after": summary(steps, done)}
    module.exit_json(**result)


def _statements(script):
    """Split one of our scripts into statements (ours end each statement with ';' at the end of a line)."""
    out, cur = [], []
    for line in script.split("\n"):
        if not line.strip():
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur))
            cur = []
    if cur:
        out.append("\n".join(cur))
    return out


if __name__ == "__main__":
    main()
