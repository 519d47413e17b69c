#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: prove that a backup restores - restore the newest verified backup of a universe into a
# scratch keyspace through the YBA API, check it, drop it, and report the time it took (an RTO figure).
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: restore_drill
short_description: Restore a verified YugabyteDB Anywhere backup into a scratch keyspace, check it, drop it, time it
version_added: 1.1.0
description:
  - Chooses the backup - O(backup_uuid), else the newest C(Completed) full backup of O(universe) whose objects are
    really in the bucket (checked with boto3 as YBA reads them - data objects and the C(success) marker of YB Controller
    backups, C(SnapshotInfoPB) of script backups); the newest O(max_candidates) are tried and the unverified ones
    reported in RV(skipped_backups). A named backup whose objects are missing (a dangling catalog entry) fails the drill
    before anything is sent, unless O(verify=false), in which case YBA's own restore task fails on it and its error is
    reported.
  - Names a scratch keyspace per keyspace of the backup, C(<scratch_prefix><keyspace>_<yyyymmddhhmm>) (UTC), or
    O(scratch_keyspace), and refuses to restore over a keyspace that exists on the target universe (read with
    C(GET universes/{u}/tables), and for a YSQL keyspace, which may have no table, in C(pg_database) over the O(ysql)
    connection; without O(ysql) an existing YSQL database without tables is not seen); YBA refuses too (400
    C(Keyspace ... already exists, overwriting data is not allowed)) and that refusal is reported as is.
  - Sends C(POST restore/preflight), then C(POST restore) into O(target_universe) (default, the source universe) with
    the backup's category, waits for the task, reads the restore's state on C(POST restore/page), and checks that every
    scratch keyspace and its tables are listed by C(GET universes/{u}/tables); with O(ysql), counts the rows of every
    restored table over SQL (and compares them with O(expected_row_counts)).
  - Drops the scratch keyspaces the drill created (absent before the restore, present after it; O(cleanup)), never one
    that existed before. YBA's API cannot drop a YSQL database, so a YSQL keyspace is dropped over the O(ysql)
    connection (C(DROP DATABASE)). A YCQL keyspace's tables are dropped with C(DELETE universes/{u}/tables/{t}), but
    YBA's API has no call that drops a YCQL keyspace (C(TablesController) drops tables only), so the emptied keyspace
    is left, named in RV(left_behind) with the C(DROP KEYSPACE) to run in C(ycqlsh) in RV(cleanup_note), and
    RV(cleaned_up) is V(false). The dropped keyspaces must then be gone. Once the restore was sent the cleanup runs
    whatever fails after it (the task, its wait, the check of the tables and rows), so a failed drill leaves no scratch keyspace
    behind either; that first failure stays the drill's error and a failure of the cleanup itself is reported in
    RV(cleanup_error). With O(cleanup=false) nothing is dropped, not even after a failure.
  - RV(rto_seconds) is the time from the restore request to its task's success.
  - Run it on the YBA host (or where the API, the bucket and the universe's YSQL port are reachable).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.storage
options:
  universe:
    description: The universe whose backup is drilled, by name or UUID.
    type: str
    required: true
  backup_uuid:
    description:
      - Drill this backup (it must be C(Completed)). Default, the newest verified full backup of O(universe).
    type: str
  target_universe:
    description:
      - Restore into this universe (a scratch universe), by name or UUID. Default, O(universe) itself, into renamed
        keyspaces.
    type: str
  keyspaces:
    description: Drill only these keyspaces of the backup. Default, all of them.
    type: list
    elements: str
    default: []
  scratch_prefix:
    description: Prefix of the scratch keyspace names.
    type: str
    default: drill_
  scratch_keyspace:
    description:
      - The scratch keyspace's name, for a backup of one keyspace (lower case letters, digits and C(_)).
    type: str
  max_candidates:
    description: How many of the newest full backups are verified, at most, to find one whose objects are all there.
    type: int
    default: 5
  verify:
    description:
      - Verify the backup's objects in the bucket before restoring. With V(false) the restore is sent whatever the bucket
        holds, and YBA's task says whether it can be read.
    type: bool
    default: true
  verify_timeout:
    description: Seconds each S3 request of the verification may take.
    type: float
    default: 10
  verify_ca_path:
    description: PEM file of the CA(s) trusted for an HTTPS storage endpoint, on the host the module runs on.
    type: path
  verify_validate_certs:
    description: Whether the verification checks the storage endpoint's TLS certificate.
    type: bool
    default: true
  parallelism:
    description: C(parallelism) of the restore request.
    type: int
    default: 8
  wait_timeout:
    description: Seconds the restore task (and each table drop) may take.
    type: float
    default: 3600
  poll_interval:
    description: The first delay between two polls of a task, in seconds.
    type: float
    default: 2
  cleanup:
    description:
      - Drop the scratch keyspaces after the check. A YSQL keyspace needs O(ysql) for that; without it the module
        fails before restoring, unless this is V(false).
    type: bool
    default: true
  expected_row_counts:
    description:
      - Row counts the restored tables must have, by table name (needs O(ysql)). A difference fails the drill.
    type: dict
    default: {}
  ysql:
    description:
      - A SQL connection to the target universe's YSQL endpoint (a tserver, port 5433), for the row counts and to drop
        a YSQL scratch keyspace. The client is O(ysql.psql_path), else C(ysqlsh) or C(psql) on E(PATH), else YBA's
        bundled C(psql) (the PostgreSQL protocol is YSQL's).
    type: dict
    suboptions:
      host:
        description: Host of the YSQL endpoint.
        type: str
        required: true
      port:
        description: Its port.
        type: int
        default: 5433
      user:
        description: The user (it must be allowed to drop the scratch database).
        type: str
        default: yugabyte
      password:
        description: Its password. Never logged nor returned.
        type: str
      maintenance_db:
        description: The database connected to for C(DROP DATABASE).
        type: str
        default: yugabyte
      psql_path:
        description: Path of C(ysqlsh) or C(psql) on the host.
        type: path
      connect_timeout:
        description: Seconds to wait for the connection.
        type: int
        default: 10
attributes:
  check_mode:
    support: full
    details:
      - Plans only - chooses and verifies the backup, names the scratch keyspaces and checks that none exists; sends no
        preflight, restore or drop.
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - Every run restores (a drill is an action) into a new scratch keyspace and, with O(cleanup), drops it; a YSQL
        drill ends with the universes as they started, a YCQL drill leaves its emptied scratch keyspace (RV(left_behind)).
notes:
  - C(changed) is V(true) for every drill that sent a restore, even when the scratch keyspace was dropped again (YBA
    records a restore and its task); check mode reports what a run would do.
requirements:
  - boto3 (on the host the module runs on, to verify; not needed with O(verify=false))
seealso:
  - module: yba.remediation.backup_info
  - module: yba.remediation.backup
"""

EXAMPLES = r"""
- name: Drill the newest verified backup of a universe into a scratch keyspace, with row counts and cleanup
  yba.remediation.restore_drill:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    universe: orders
    storage_credentials:
      s3-backups:
        AWS_ACCESS_KEY_ID: "{{ vault_s3_access_key }}"
        AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret_key }}"
    ysql:
      host: 10.0.1.11
      password: "{{ vault_yugabyte_password }}"
  register: drill

- name: Drill one backup into a scratch universe, keep the result for inspection
  yba.remediation.restore_drill:
    universe: orders
    backup_uuid: 6b7c9a1e-3f2d-4c8b-9a0e-1d2c3b4a5f60
    target_universe: orders-drill
    cleanup: false
"""

RETURN = r"""
universe:
  description: The source universe's name.
  returned: always
  type: str
universe_uuid:
  description: Its UUID.
  returned: always
  type: str
target_universe:
  description: The universe restored into.
  returned: always
  type: str
target_universe_uuid:
  description: Its UUID.
  returned: always
  type: str
backup:
  description:
    - The drilled backup - C(backup_uuid), C(created), C(completed), C(category), C(storage_config_uuid),
      C(universe_uuid), C(size_bytes), C(verified) (V(null) when not verified), C(verify_problem).
  returned: when a backup was chosen
  type: dict
skipped_backups:
  description: Newer backups passed over because their objects are not all in the bucket - C(backup_uuid), C(problem).
  returned: always
  type: list
  elements: dict
keyspaces:
  description:
    - One entry per keyspace of the backup - C(source), C(target) (the scratch keyspace), C(backup_type), C(location),
      C(tables) (as listed after the restore), C(restored), C(dropped) (the drill dropped it), C(left_behind) (it
      stays on the target universe).
  returned: always
  type: list
  elements: dict
preflight:
  description: YBA's answer to C(POST restore/preflight) (C(backupCategory), C(hasKMSHistory), C(perLocationBackupInfoMap)).
  returned: always
  type: dict
task_uuid:
  description: The restore task.
  returned: always
  type: str
task_error:
  description: The errors of the failed restore task (C(failed_subtasks)).
  returned: always
  type: str
restore_uuid:
  description: The restore (C(restore/page)).
  returned: always
  type: str
restore_state:
  description: Its state on C(restore/page) (C(Completed), C(Failed), ...).
  returned: always
  type: str
restore_size_bytes:
  description: C(restoreSizeInBytes) of the restore.
  returned: when restored
  type: int
tables:
  description: The restored tables - C(keyspace), C(table), C(uuid), C(type), C(size_bytes), C(rows) (V(null) without O(ysql)).
  returned: always
  type: list
  elements: dict
row_counts:
  description: "Rows per table per scratch keyspace, C({keyspace: {table: rows}}) (with O(ysql))."
  returned: always
  type: dict
restored:
  description: The restore task succeeded.
  returned: always
  type: bool
verified:
  description: The restored keyspaces and tables are listed (and the row counts match O(expected_row_counts)).
  returned: always
  type: bool
cleaned_up:
  description:
    - Every scratch keyspace the drill created was dropped and is gone, and none is left behind (V(false) for a YCQL
      drill - its emptied keyspace stays, see RV(left_behind) - and with O(cleanup=false)).
  returned: always
  type: bool
left_behind:
  description: The scratch keyspaces that stay on the target universe after the drill (O(cleanup=false), a YCQL keyspace).
  returned: always
  type: list
  elements: str
cleanup_note:
  description: Why a scratch keyspace was left behind, and how to drop it.
  returned: always
  type: str
cleanup_error:
  description: Why the cleanup failed, when it failed while the drill had already failed for another reason.
  returned: always
  type: str
durations:
  description: Seconds per step - C(restore_seconds), C(verify_seconds), C(cleanup_seconds), C(total_seconds).
  returned: always
  type: dict
rto_seconds:
  description: From the restore request to its task's success, in seconds (the drill's RTO figure).
  returned: always
  type: float
diff:
  description: The scratch keyspaces on the target universe before and after the drill.
  returned: always
  type: dict
requests:
  description: The API requests sent, as C(METHOD path status), in order.
  returned: always
  type: list
  elements: str
api_calls:
  description: How many API requests were sent, retries included.
  returned: always
  type: int
record:
  description:
    - The run record - C(summary) (one line), C(ok), C(check_mode), C(universe), C(target_universe), C(backup_uuid),
      C(scratch_keyspaces), C(rto_seconds), C(restore_state), C(tables), C(row_counts), C(cleaned_up), C(left_behind),
      C(skipped_backups), C(api_calls). No secret.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv
from ansible_collections.yba.remediation.plugins.module_utils import _restore as rd
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc


def check_input(p):
    """The one-line problem with the options, or None."""
    for name in ("wait_timeout", "poll_interval", "verify_timeout"):
        if p[name] <= 0:
            return "%s must be more than 0, got %s" % (name, p[name])
    if p["max_candidates"] < 1:
        return "max_candidates must be 1 or more, got %s" % p["max_candidates"]
    if p["parallelism"] < 1:
        return "parallelism must be 1 or more, got %s" % p["parallelism"]
    if p["scratch_keyspace"]:
        problem = rd.check_keyspace_name(p["scratch_keyspace"])
        if problem:
            return problem
    elif not rd.KEYSPACE_RE.match((p["scratch_prefix"] or "") + "x"):
        return "scratch_prefix %r must be lower case letters, digits and _" % p["scratch_prefix"]
    for name, value in (p["expected_row_counts"] or {}).items():
        try:
            if int(value) < 0 or str(int(value)) != str(value).strip():
                raise ValueError
        except (TypeError, ValueError):
            return "expected_row_counts[%s] must be a whole number of rows, got %r" % (name, value)
    if p["expected_row_counts"] and not p["ysql"]:
        return "expected_row_counts needs the ysql connection to count rows"
    for name, creds in (p["storage_credentials"] or {}).items():
        if not isinstance(creds, dict):
            return "storage_credentials[%s] must be a dict of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" % name
    return None


def main():
    spec = _api.api_argument_spec()
    spec.update(
        universe=dict(type="str", required=True),
        backup_uuid=dict(type="str"),
        target_universe=dict(type="str"),
        keyspaces=dict(type="list", elements="str", default=[], no_log=False),
        scratch_prefix=dict(type="str", default="drill_"),
        scratch_keyspace=dict(type="str", no_log=False),
        max_candidates=dict(type="int", default=5),
        storage_credentials=dict(type="dict", default={}, no_log=True),
        verify=dict(type="bool", default=True),
        verify_timeout=dict(type="float", default=10),
        verify_ca_path=dict(type="path"),
        verify_validate_certs=dict(type="bool", default=True),
        parallelism=dict(type="int", default=8),
        wait_timeout=dict(type="float", default=3600),
        poll_interval=dict(type="float", default=2),
        cleanup=dict(type="bool", default=True),
        expected_row_counts=dict(type="dict", default={}),
        ysql=dict(type="dict", options=dict(
            host=dict(type="str", required=True),
            port=dict(type="int", default=5433),
            user=dict(type="str", default="yugabyte"),
            password=dict(type="str", no_log=True),
            maintenance_db=dict(type="str", default="yugabyte"),
            psql_path=dict(type="path"),
            connect_timeout=dict(type="int", default=10),
        )),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    problem = check_input(p)
    if problem:
        module.fail_json(msg="%s; nothing was sent" % problem)
    if p["verify"] and not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3", reason="to verify the backup in the bucket on %s (or "
                                                  "verify=false)" % _api.this_host()),
                         exception=str(_s3.BOTO3_IMPORT_ERROR))
    client = _api.YBAClient.from_module(module)
    for creds in (p["storage_credentials"] or {}).values():
        for value in creds.values():
            if isinstance(value, str):
                client.add_secret(value)
    if p["ysql"] and p["ysql"].get("password"):
        client.add_secret(p["ysql"]["password"])

    def runner(args, data, env):
        return module.run_command(args, data=data, environ_update=env, binary_data=False)

    configs = {}

    def verifier(full):
        if not configs:
            configs.update({c.get("configUUID"): c for c in client.get(client.cpath("configs")) or []})
        config = configs.get(full.get("storageConfigUUID")) or {}
        if config.get("name") != "S3":
            return {"verified": False, "problem": "storage config %s is not an S3 config the drill can read" % (
                config.get("configName") or full.get("storageConfigUUID"))}
        settings = sc.probe_settings(config, sc.credentials_for(config, p["storage_credentials"]))[0]
        return bv.verify_backup(settings, full, timeout=p["verify_timeout"], ca_path=p["verify_ca_path"],
                                validate_certs=p["verify_validate_certs"])

    error = None
    drill = None
    try:
        sql = rd.sql_connection(p["ysql"])
        drill = rd.Drill(client, p, verifier, sql, runner)
        drill.plan()
        if not module.check_mode:
            drill.run()
    except rd.DrillError as err:
        error = str(err)
    except _api.YBAError as err:
        error = "YBA API: %s" % err
    result = drill.public() if drill is not None else {}
    before = {k["target"]: "absent" for k in result.get("keyspaces") or []}
    after = {k["target"]: ("present" if k.get("left_behind") else "absent") for k in result.get("keyspaces") or []}
    if module.check_mode and not error:
        after = {k: "restored, checked, dropped (planned)" for k in before}
    result.update(
        changed=bool(result.get("restored") or result.get("task_uuid")) or bool(module.check_mode and not error),
        diff={"before": before, "after": after},
        requests=["%s %s %s" % (m, pth, s if s is not None else "-") for m, pth, s in client.requests],
        api_calls=client.request_count,
        record=rd.record(result, error is None, module.check_mode, client.request_count, error))
    result = client.scrub_obj(result)
    if error:
        module.fail_json(msg=client.scrub("restore drill of %s: %s" % (p["universe"], error)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
