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
    space, verifies the dump with C(pg_restore --list) and makes it mode C(0600). The dump is written to a
    temporary file created exclusively, then linked to its final name
    C(<login_db>-<UTC YYYYmmddTHHMMSS.ffffff>Z-<pid>-<random>.dump), so two dumps never share a name and a dump
    never replaces a file. Once the new dump is verified, only the newest O(dump_keep) dumps of this collection
    (files of that name pattern for O(login_db)) are kept in O(dump_dir); no other file there is ever touched.
  - Each repair kind runs in one transaction (C(REPEATABLE READ), C(lock_timeout)), so a kill or an error in the
    middle leaves that kind unchanged. C(VACUUM) cannot run in a transaction and changes no row.
  - Refuses to change anything while the YBA platform of the host is running. With O(quiesced=true) (the platform
    was stopped for the repair) it checks again that the platform is down immediately before the dump, before
    each repair and after the last one, and fails saying C(the platform came back (pid N)) if it is up
    (C(Restart=always), a watchdog, an operator).
  - Every refusal (bad input, the platform running, no C(pg_dump) or C(pg_restore), a dump directory that cannot
    be written, not enough free space for the dump) is raised in check mode exactly as in a real run, and says
    C(nothing was changed), so a caller can plan in check mode before it stops anything.
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
      - Returns the exact SQL it would run, the row counts it expects and the dumps it would remove; changes
        nothing and writes no dump.
      - Raises every refusal a real run would raise, except that with O(quiesced=true) a running platform is
        reported (RV(platform)), not refused, since the plan is made before the platform is stopped.
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
      - Free space to keep in O(dump_dir) on top of the dump's size estimate (the size of the table data,
        RV(yba.remediation.metadb_info#module:metadb.dump_estimate_bytes)).
    type: int
    default: 1048576
  dump_keep:
    description:
      - How many dumps of this collection (of O(login_db)) to keep in O(dump_dir), the new one included; older
        ones are removed once the new dump is verified (RV(dump_removed)). Files of any other name are never
        touched. At least V(1).
    type: int
    default: 5
  planned_free_bytes:
    description:
      - Check mode only. Bytes an earlier step of the same run would free on the filesystem of O(dump_dir) (the
        plan of a disk cleanup), counted as free by the space check, so a check-mode run of a whole runbook can
        plan the repair of a full disk. A real run measures the free space and ignores it.
    type: int
    default: 0
  quiesced:
    description:
      - Set to V(true) when the YBA platform was stopped for the repair. The module then verifies that it is
        still down immediately before the dump, before each repair and after the last one, and fails with
        C(the platform came back (pid N)) when it is up. In check mode a running platform is then reported, not
        refused (the plan is made before the platform is stopped).
      - With V(false) a running platform is refused, in check mode too.
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
      sample: /opt/yugabyte/data/metadb_dumps/yugaware-20240201T101500.123456Z-4242-9f86d081.dump
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
dump_removed:
  description:
    - Paths of the older dumps of this collection removed after the new dump was verified (check mode, that
      would be removed), keeping the newest O(dump_keep). Empty when nothing was to change.
  returned: always
  type: list
  elements: str
  sample: ["/opt/yugabyte/data/metadb_dumps/yugaware-20240101T101500.000001Z-4242-0a1b2c3d.dump"]
planned_dump:
  description:
    - Where the dump would go and the space check (check mode, or before the dump). C(estimate_bytes) is the
      dump's size estimate (the table data), C(needed_bytes) that plus O(dump_reserve_bytes), C(free_bytes) the
      free space plus C(planned_free_bytes) (O(planned_free_bytes) in check mode, else V(0)).
  returned: when there is something to repair
  type: dict
  sample: {"dir": "/opt/yugabyte/data/metadb_dumps", "free_bytes": 1000000000, "needed_bytes": 3000000, "fits": true,
           "estimate_bytes": 1951424, "planned_free_bytes": 0}
platform:
  description: The running platform process found on the host when the repair was planned, else V(null).
  returned: always
  type: dict
timings:
  description: Seconds spent planning, dumping and repairing.
  returned: always
  type: dict
  sample: {"plan": 0.2, "dump": 0.5, "repairs": 0.9}
"""

import os
import tempfile
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


def take_dump(module, conn, tools, real_dir, lock_timeout):
    """pg_dump into a temporary file of our own (mode 0600, created exclusively), verify it, then link it to its
    final, unique name: a dump is never written over another file."""
    start = time.monotonic()
    if not os.path.isdir(real_dir):
        os.makedirs(real_dir, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".%s-" % conn.database, suffix=".partial", dir=real_dir)
    os.close(fd)
    run = module_runner(module)
    try:
        args = [tools["pg_dump"], "-Fc", "--lock-wait-timeout=%d" % (lock_timeout * 1000), "-f", tmp] + \
            conn.conn_args() + ["-d", conn.database]
        rc, out, err = run(args, "", conn.env())
        if rc != 0:
            raise _metadb.MetadbError("pg_dump failed, nothing was changed: %s" % _metadb.classify_error(
                err or out, conn.target, conn.user))
        rc, out, err = run([tools["pg_restore"], "--list", tmp], "", {})
        if rc != 0:
            raise _metadb.MetadbError("the dump is not readable by pg_restore, nothing was changed: %s"
                                      % (err or out).strip()[:300])
        entries = _metadb.verify_listing(out)
        path = _metadb.publish_dump(tmp, real_dir, conn.database)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"path": path, "size_bytes": os.path.getsize(path), "entries": entries,
            "seconds": round(time.monotonic() - start, 3)}


def prune_dumps(real_dir, names):
    removed = []
    for name in names:
        path = os.path.join(real_dir, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def main() -> None:
    spec = _metadb.metadb_argument_spec()
    spec.update(
        repairs=dict(type="list", elements="str", choices=list(_metadb.REPAIR_KINDS),
                     default=["reindex", "stale_tasks", "stale_backups"]),
        dump_dir=dict(type="path", required=True),
        dump_reserve_bytes=dict(type="int", default=_metadb.DUMP_RESERVE_DEFAULT),
        dump_keep=dict(type="int", default=_metadb.DUMP_KEEP_DEFAULT),
        planned_free_bytes=dict(type="int", default=0),
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
    if p["dump_keep"] < 1:
        module.fail_json(msg="dump_keep must be at least 1 (the new dump is always kept), got %d" % p["dump_keep"])
    for name in ("stale_age", "dump_reserve_bytes", "vacuum_min_dead_tuples", "planned_free_bytes"):
        if p[name] < 0:
            module.fail_json(msg="%s must be >= 0, got %d" % (name, p[name]))
    if not os.path.isabs(p["dump_dir"]):
        module.fail_json(msg="dump_dir must be an absolute path on the host, got %s" % p["dump_dir"])
    from ansible_collections.yba.remediation.plugins.module_utils import _layout  # pylint: disable=import-outside-toplevel
    if not os.path.isdir(p["host_root"]):
        module.fail_json(msg="host_root %s is not a directory" % p["host_root"])
    layout = _layout.detect(p["host_root"])
    repairs = [k for k in _metadb.REPAIR_KINDS if k in p["repairs"]]
    result = dict(changed=False, check_mode=module.check_mode, queries=[], repairs={}, changes={}, dump=None,
                  dump_removed=[], platform=None, timings={}, index_check=None)
    t0 = time.monotonic()
    try:
        conn = _metadb.resolve_connection(p, layout)
        psql = _metadb.Psql(conn, module_runner(module))
        facts = psql.facts(repairs, p["stale_age"], install_amcheck=p["install_amcheck"] and not module.check_mode)
        result["index_check"] = facts.get("amcheck")
        result["task_layout"] = facts.get("task_layout")
        steps = _metadb.plan_repairs(facts, repairs, p["stale_age"], p["vacuum_dead_ratio"], p["vacuum_min_dead_tuples"])
    except _metadb.MetadbError as exc:
        module.fail_json(msg="%s; nothing was changed" % exc, **result)
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

    # Every refusal below is raised the same in check mode, so a caller (the role) that plans in check mode before
    # it stops the platform hears every "no" while nothing is stopped yet (issue 9, 2.3).
    proc = _metadb.platform_process(layout)
    result["platform"] = proc
    refusal = _metadb.platform_refusal(proc, p["quiesced"], module.check_mode)
    if refusal:
        module.fail_json(msg=refusal, **result)

    real_dir = _layout.join_root(p["host_root"], p["dump_dir"])
    try:
        tools = {name: conn.tool(name) for name in ("pg_dump", "pg_restore")}
        problem = _metadb.dump_dir_problem(real_dir)
        if problem:
            raise _metadb.MetadbError(problem)
        estimate = int(facts.get("dump_estimate_bytes") or 0)
        credit = p["planned_free_bytes"] if module.check_mode else 0
        enough, free, needed = _metadb.check_dump_space(real_dir, estimate, p["dump_reserve_bytes"], credit)
        existing = _metadb.our_dumps(real_dir, conn.database)
    except (_metadb.MetadbError, OSError, ValueError) as exc:
        module.fail_json(msg="cannot take the dump before the repair: %s; nothing was changed" % exc, **result)
    result["planned_dump"] = {"dir": real_dir, "free_bytes": free, "needed_bytes": needed, "fits": enough,
                              "estimate_bytes": estimate, "planned_free_bytes": credit}
    if not enough:
        module.fail_json(msg="not enough free space in %s for the dump taken before any repair: %d bytes free%s, %d "
                             "needed (table data %d + reserve %d); nothing was changed"
                             % (real_dir, free, " (with %d an earlier step would free)" % credit if credit else "",
                                needed, estimate, p["dump_reserve_bytes"]), **result)

    if module.check_mode:
        result["changed"] = True
        result["dump_removed"] = [os.path.join(real_dir, n) for n in
                                  _metadb.dumps_to_remove(existing, p["dump_keep"], new=1)]
        if module._diff:
            result["diff"] = {"before": summary(steps), "after": summary(steps, predicted=True)}
        module.exit_json(**result)

    def guard(stage, done=()):
        """The platform must not run while the dump is taken and the repairs write (Restart=always, issue 9 1.9)."""
        msg = _metadb.platform_refusal(_metadb.platform_process(layout), True, False, stage, list(done),
                                       (result["dump"] or {}).get("path"))
        if msg:
            result["changed"] = bool(done)
            module.fail_json(msg=msg, **result)

    guard("dump")
    try:
        result["dump"] = take_dump(module, conn, tools, real_dir, p["lock_timeout"])
        # the new dump is verified: keep the newest dump_keep of ours, never another file of the directory
        result["dump_removed"] = prune_dumps(real_dir, _metadb.dumps_to_remove(
            _metadb.our_dumps(real_dir, conn.database), p["dump_keep"]))
    except (_metadb.MetadbError, OSError) as exc:
        module.fail_json(msg=str(exc), **result)
    result["timings"]["dump"] = result["dump"]["seconds"]
    t1 = time.monotonic()
    done = {}
    for step in steps:
        guard(step.kind, done)
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
    guard("after", done)
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
