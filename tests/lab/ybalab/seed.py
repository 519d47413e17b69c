"""Set-based SQL that rebuilds the yugaware DB and seeds a scenario's metadata (customer, universes, backups...)."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import uuid
from typing import Any

from ybalab.labstate import LabError
from ybalab.services import psql

SCHEMA = os.path.join(os.path.dirname(__file__), "schema.sql")
TASK_PARAMS_LAYOUT = os.path.join(os.path.dirname(__file__), "task_params_layout.sql")
# task_info layouts: "details" (YBA 2.18-2.20: details json = params + errorString), "task_params" (newer YBA:
# task_params json = params, details json NULL = TaskDetails with a YBAError)
TASK_LAYOUTS = ("details", "task_params")
_NS = uuid.UUID("6f1c2a4e-3b5d-4e7f-9a1b-2c3d4e5f6a7b")

CUSTOMER_CODE = "northgate"
CUSTOMER_NAME = "Northgate"
USER_EMAIL = "admin@northgate.example"
DB_VERSION = "2.18.1.0-b84"          # what every universe runs; its release dir exists on the host
UNUSED_DB_VERSION = "2.16.8.0-b12"   # a release no universe uses (incident disk content)
UNIVERSES = ("northgate-payments", "northgate-ledger", "northgate-analytics", "northgate-staging")
STORAGE_CONFIG_NAME = "s3-northgate-backups"
BACKUP_PREFIX = "northgate"
OWNER = "yba-lab"

# Per scenario: how the backup history looks.
HISTORY = {
    "healthy": {"interval_hours": 24, "periods": 750, "retention_days": 1095, "last_completed_hours_ago": 3},
    "incident": {"interval_hours": 6, "periods": 1248, "retention_days": 270, "last_completed_hours_ago": 73},
}
TASK_RETENTION_DAYS = 30  # installer's taskGC.task_retention_duration: older task rows are gone
INCIDENT_FAILED_24H = 15
INCIDENT_STALE_TASK_FAILED = 3
INCIDENT_STALE_TASK_MISSING = 3
INCIDENT_LIVE_IN_PROGRESS = 1
INCIDENT_DISK_FULL_FAILED = 8


def u5(name: str) -> str:
    """A stable UUID for a lab object."""
    return str(uuid.uuid5(_NS, name))


def ids() -> dict[str, Any]:
    """The stable identities of the lab's objects (the same across resets and labs)."""
    return {
        "customer_uuid": u5("customer"),
        "user_uuid": u5("user:admin"),
        "storage_config_uuid": u5("storage:s3"),
        "universes": [{"name": n, "uuid": u5(f"universe:{n}"), "schedule_uuid": u5(f"schedule:{n}"),
                       "schedule_name": f"every-6h-{n}"} for n in UNIVERSES],
    }


def q(v: Any) -> str:
    """An SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def storage_data(state: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The seeded storage config's data: the live endpoint (healthy) or the refusing one (the incident family);
    ``python -m ybalab storage <variant>`` (storage.py) switches it to the other faults."""
    from ybalab import storage
    return storage.variant_data(state, storage.default_variant(scenario))


def encrypt(state: dict[str, Any], data: dict[str, Any]) -> str:
    from ybalab.platform import crypto  # the platform engineer's at-rest encryption
    return crypto.encrypt(state, data)


def schema_sql(task_layout: str = "details") -> str:
    """The DDL of an empty yugaware in the given task_info layout."""
    paths = [SCHEMA] + ([TASK_PARAMS_LAYOUT] if task_layout == "task_params" else [])
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            out.append(fh.read())
    return "\n".join(out)


def universe_details(u: dict[str, Any], i: int) -> str:
    nodes = [{"nodeName": f"yb-prod-{u['name']}-n{k}", "nodeUuid": str(uuid.uuid5(_NS, f"node:{u['name']}:{k}")),
              "cloudInfo": {"private_ip": f"10.20.{i}.{10 + k}", "cloud": "aws", "region": "us-east-1",
                            "az": f"us-east-1{'abc'[k - 1]}"},
              "state": "Live", "isMaster": True, "isTserver": True} for k in (1, 2, 3)]
    return json.dumps({
        "universeUUID": u["uuid"],
        "nodePrefix": f"yb-prod-{u['name']}",
        "clusters": [{"uuid": str(uuid.uuid5(_NS, f"cluster:{u['name']}")), "clusterType": "PRIMARY",
                      "userIntent": {"universeName": u["name"], "ybSoftwareVersion": DB_VERSION, "numNodes": 3,
                                     "replicationFactor": 3, "providerType": "aws", "regionList": [],
                                     "instanceType": "c5.2xlarge", "enableYSQL": True, "enableYCQL": True,
                                     "useTimeSync": True}}],
        "nodeDetailsSet": nodes,
        "updateInProgress": False, "updateSucceeded": True, "backupInProgress": False, "universePaused": False,
        "ybcInstalled": True, "ybcSoftwareVersion": "2.0.0.0-b19",
    }, sort_keys=True)


def rebuild_db(state: dict[str, Any], task_layout: str = "details") -> None:
    """Drop and recreate yugaware from schema.sql. No extension is created: YBA never installs amcheck (the server's
    contrib may ship it; whether YBA's bundled PostgreSQL does is unknown, SOURCE-AUDIT section 5).

    ``task_layout="task_params"`` lays YBA's newer task_info layout (task_params_layout.sql) on top. The platform
    simulator and this seed write the older ``details`` layout, so that is for throw-away databases only.
    """
    if task_layout not in TASK_LAYOUTS:
        raise LabError(f"unknown task_info layout {task_layout!r}; choose from {', '.join(TASK_LAYOUTS)}")
    db = state["postgres"]["database"]
    psql(state, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE);\nCREATE DATABASE "{db}";\n', db="postgres")
    psql(state, schema_sql(task_layout))


def seed_sql(state: dict[str, Any], scenario: str, storage_data_enc: str) -> str:
    base = "healthy" if scenario == "healthy" else "incident"
    h = HISTORY[base]
    i = ids()
    cust, cfg = i["customer_uuid"], i["storage_config_uuid"]
    incident = base == "incident"
    ret_ms = h["retention_days"] * 86400000
    sql: list[str] = ["BEGIN;", "SET LOCAL client_min_messages = warning;"]
    # Flyway history: every migration applied successfully.
    sql.append(
        "INSERT INTO schema_version SELECT g, g::text, 'migration ' || g, 'SQL', 'V' || g || '__migration.sql', "
        "hashtext(g::text), 'postgres', now() - interval '500 days' + g * interval '1 day', 5 + g % 40, true "
        "FROM generate_series(1, 265) g;")
    sql.append(f"INSERT INTO customer (uuid, code, name, creation_date) VALUES ({q(cust)}, {q(CUSTOMER_CODE)}, "
               f"{q(CUSTOMER_NAME)}, now() - interval '800 days');")
    sql.append(f"INSERT INTO users (uuid, customer_uuid, email, role, api_token, creation_date) VALUES "
               f"({q(i['user_uuid'])}, {q(cust)}, {q(USER_EMAIL)}, 'SuperAdmin', {q(state['platform']['token'])}, "
               "now() - interval '800 days');")
    sql.append(f"INSERT INTO customer_config (config_uuid, customer_uuid, type, name, config_name, data, state) "
               f"VALUES ({q(cfg)}, {q(cust)}, 'STORAGE', 'S3', {q(STORAGE_CONFIG_NAME)}, {q(storage_data_enc)}, "
               "'Active');")
    sql.append("CREATE TEMP TABLE u_src (ord int, universe_uuid uuid, name text, sched uuid, sched_name text);")
    for n, u in enumerate(i["universes"]):
        sql.append(f"INSERT INTO universe (universe_uuid, customer_id, name, version, creation_date, "
                   f"universe_details_json) SELECT {q(u['uuid'])}, id, {q(u['name'])}, 42, "
                   f"now() - interval '780 days', {q(universe_details(u, n))} FROM customer WHERE uuid = {q(cust)};")
        sql.append(f"INSERT INTO u_src VALUES ({n}, {q(u['uuid'])}, {q(u['name'])}, {q(u['schedule_uuid'])}, "
                   f"{q(u['schedule_name'])});")
    freq_ms = h["interval_hours"] * 3600000

    def params(u: dict[str, Any]) -> str:
        return json.dumps({
            "storageConfigUUID": cfg, "universeUUID": u["universe_uuid"], "customerUUID": cust,
            "backupType": "PGSQL_TABLE_TYPE", "keyspaceTableList": [{"keyspace": "yugabyte", "tableNameList": []}],
            "timeBeforeDelete": ret_ms, "expiryTimeUnit": "DAYS", "schedulingFrequency": freq_ms,
            "frequencyTimeUnit": "HOURS", "scheduleName": u["sched_name"], "minNumBackupsToRetain": 3,
            "backupCategory": "YB_CONTROLLER", "parallelism": 8})

    for u in i["universes"]:
        uu = {"universe_uuid": u["uuid"], "sched_name": u["schedule_name"]}
        if incident:
            status, fails, nxt = "Paused", 3, "now() - interval '5 hours'"
        else:
            status, fails, nxt = "Active", 0, f"now() + interval '{h['interval_hours'] - 3} hours'"
        sql.append(f"INSERT INTO schedule (schedule_uuid, customer_uuid, owner_uuid, schedule_name, task_type, "
                   f"task_params, frequency, frequency_time_unit, status, failure_count, next_schedule_task_time, "
                   f"running_state, user_email) VALUES ({q(u['schedule_uuid'])}, {q(cust)}, {q(u['uuid'])}, "
                   f"{q(u['schedule_name'])}, 'CreateBackup', {q(params(uu))}, {freq_ms}, 'Hours', {q(status)}, "
                   f"{fails}, {nxt}, false, {q(USER_EMAIL)});")
    # The regular history: one scheduled YBC backup per universe per interval, mostly Completed.
    # BackupUtil.formatStorageLocation (V2): univ-<u>/ybc_backup-<base uuid, no dashes>/full/<backupLocationTS>;
    # each keyspace's location appends keyspace-<ks>_<backupParamsIdentifier, no dashes> (PARAMS_ID_SQL).
    loc = ("'s3://" + state["s3"]["bucket"] + "/" + BACKUP_PREFIX + "/univ-' || u.universe_uuid || "
           "'/ybc_backup-' || replace(x.id::text, '-', '') || '/full/' || "
           "to_char(x.ct, 'YYYY-MM-DD\"T\"HH24:MI:SS')")
    sql.append(f"""
CREATE TEMP TABLE b_src AS
SELECT x.id, x.tid, u.universe_uuid, u.name, u.sched, u.sched_name, x.ct, g,
       x.ct + interval '1 minute' * (8 + (g * 7 + u.ord) % 17) AS done,
       CASE WHEN g % 97 = 13 THEN 'Failed' ELSE 'Completed' END AS state,
       {loc} AS loc, (40000000 + (g * 7919 + u.ord * 104729) % 9000000)::bigint AS size
FROM u_src u CROSS JOIN generate_series(0, {h['periods'] - 1}) g
CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id, gen_random_uuid() AS tid,
    now() - interval '{h['last_completed_hours_ago']} hours' - g * interval '{h['interval_hours']} hours'
          - u.ord * interval '7 minutes' AS ct) x;
ALTER TABLE b_src ADD COLUMN tstate text, ADD COLUMN tdetails text, ADD COLUMN no_task boolean DEFAULT false,
    ADD COLUMN base uuid, ADD COLUMN kms boolean DEFAULT false, ADD COLUMN upd timestamptz, ADD COLUMN exp timestamptz,
    ADD COLUMN chain_size bigint;""")
    if incident:
        sql.append(_incident_rows(state, loc))
        sql.append(live_backup_row_sql(state))
    # Every row a full backup of its own until the incident's seeds say otherwise; a failed backup has no size.
    sql.append(f"UPDATE b_src SET base = id, size = CASE WHEN state = 'Completed' THEN size ELSE 0 END, "
               f"exp = CASE WHEN state IN ('Completed', 'Failed') THEN done + interval '{h['retention_days']} days' "
               "END;")
    if incident:
        sql.append(_retention_seeds_sql(h))
    # BackupUtil.formatStorageLocation (V2): a full's folder is named after its own uuid, an increment's after its
    # base's, under full/ or incremental/ (Backup.create: backupLocationTS).
    sql.append("UPDATE b_src SET loc = 's3://" + state["s3"]["bucket"] + "/" + BACKUP_PREFIX + "/univ-' || "
               "universe_uuid || '/ybc_backup-' || replace(base::text, '-', '') || "
               "CASE WHEN base = id THEN '/full/' ELSE '/incremental/' END || "
               "to_char(ct, 'YYYY-MM-DD\"T\"HH24:MI:SS');")
    sql.append(f"""
INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, backup_info,
    state, task_uuid, schedule_uuid, schedule_name, expiry, expiry_time_unit, create_time, update_time,
    completion_time, category, version, base_backup_uuid, has_kms_history, retry_count)
SELECT id, {q(cust)}, universe_uuid, {q(cfg)}, name,
    json_build_object('storageConfigUUID', {q(cfg)}::uuid, 'universeUUID', universe_uuid,
        'customerUuid', {q(cust)}::uuid, 'backupType', 'PGSQL_TABLE_TYPE', 'storageConfigType', 'S3',
        'storageLocation', loc, 'fullBackup', true, 'backupUuid', id, 'baseBackupUUID', base,
        'scheduleUUID', sched, 'scheduleName', sched_name, 'timeBeforeDelete', {ret_ms},
        'expiryTimeUnit', 'DAYS', 'totalBackupSizeInBytes', size,
        'backupSizeInBytes', size, 'fullChainSizeInBytes', coalesce(chain_size, size),
        'backupList', json_build_array(json_build_object('keyspace', 'yugabyte', 'storageConfigUUID', {q(cfg)}::uuid,
            'storageLocation', loc || '/keyspace-yugabyte_' || {PARAMS_ID_SQL},
            'backupParamsIdentifier', ({PARAMS_ID_SQL})::uuid, 'backupUuid', id, 'baseBackupUUID', base,
            'backupType', 'PGSQL_TABLE_TYPE', 'backupSizeInBytes', size))),
    state, tid, sched, sched_name, exp, 'Days',
    ct, coalesce(upd, CASE WHEN state = 'In Progress' THEN ct + interval '2 minutes' ELSE done END),
    CASE WHEN state IN ('Completed', 'Failed', 'FailedToDelete') THEN done END,
    'YB_CONTROLLER', 'V2', base, kms, 0
FROM b_src;""")
    # Tasks younger than the task GC horizon. Failure details are set below for the incident rows.
    err_hist = json.dumps({"errorString": "Failed to execute task CreateBackup, hit error:\n\n ybc backup failed: "
                           "tablet leader not found for table yugabyte.ledger_entries (TIMED_OUT)"})
    sql.append(f"""
INSERT INTO task_info (uuid, parent_uuid, position, task_type, task_state, create_time, update_time, percent_done,
    details, owner)
SELECT tid, NULL, -1, 'CreateBackup', CASE state WHEN 'Completed' THEN 'Success' ELSE 'Failure' END, ct, done,
    CASE state WHEN 'Completed' THEN 100 ELSE 35 END,
    CASE state WHEN 'Completed' THEN json_build_object('universeUUID', universe_uuid, 'backupUuid', id)
         ELSE {q(err_hist)}::json END, {q(OWNER)}
FROM b_src WHERE ct > now() - interval '{TASK_RETENTION_DAYS} days' AND tstate IS NULL AND NOT no_task;
INSERT INTO task_info (uuid, parent_uuid, position, task_type, task_state, create_time, update_time, percent_done,
    details, owner)
SELECT tid, NULL, -1, 'CreateBackup', tstate, ct, CASE WHEN tstate = 'Running' THEN now() ELSE done END,
    CASE tstate WHEN 'Running' THEN 40 ELSE 20 END, tdetails::json, {q(OWNER)}
FROM b_src WHERE tstate IS NOT NULL AND NOT no_task;
INSERT INTO customer_task (customer_uuid, task_uuid, type, target_type, target_name, target_uuid, create_time,
    completion_time, user_email)
SELECT {q(cust)}, b.tid, 'Create', 'Backup', b.name, b.universe_uuid, b.ct,
    CASE WHEN t.task_state IN ('Success', 'Failure') THEN t.update_time END,
    CASE WHEN b.sched IS NULL THEN {q(USER_EMAIL)} END
FROM b_src b JOIN task_info t ON t.uuid = b.tid;""")
    sql.append("ANALYZE;")
    sql.append("COMMIT;")
    return "\n".join(sql)


def _incident_rows(state: dict[str, Any], loc: str) -> str:
    """The last three days of the incident: disk-full failures, stale and live In Progress, S3 failures."""
    dead = state["s3"]["dead_endpoint"].split("//", 1)[1]
    host, port = dead.rsplit(":", 1)
    s3_err = json.dumps({
        "errorString": (
            "Failed to execute task {\"platformVersion\":\"2.18.1.0-b84\",\"sleepAfterMasterRestartMillis\":180000},"
            " hit error:\n\n CreateBackup failed: com.amazonaws.SdkClientException: Unable to execute HTTP request: "
            f"Connect to {host}:{port} [/{host}] failed: Connection refused (Connection refused)"),
        "error": {"code": "INTERNAL_ERROR", "message": f"Connect to {host}:{port} failed: Connection refused"}})
    disk_err = json.dumps({
        "errorString": ("Failed to execute task CreateBackup, hit error:\n\n java.io.IOException: No space left on "
                        "device: /opt/yugabyte/data/yb-platform/backup_staging")})
    stale_err = json.dumps({"errorString": "Failed to execute task CreateBackup, hit error:\n\n "
                            "java.lang.OutOfMemoryError: Java heap space"})
    rows = [
        # (how many, state, hours ago of the first, spacing hours, task state or None = no task row, details,
        #  scheduled?)
        (INCIDENT_DISK_FULL_FAILED, "Failed", 70.0, 5.0, "Failure", disk_err, True),
        (INCIDENT_STALE_TASK_FAILED, "In Progress", 66.0, 12.0, "Failure", stale_err, True),
        (INCIDENT_STALE_TASK_MISSING, "In Progress", 60.0, 11.0, "MISSING", None, True),
        (INCIDENT_FAILED_24H - 3, "Failed", 23.0, 1.5, "Failure", s3_err, True),
        (3, "Failed", 4.0, 1.0, "Failure", s3_err, False),
    ]
    out = []
    for n, st, first, step, tstate, details, sched in rows:
        out.append(f"""
INSERT INTO b_src (id, tid, universe_uuid, name, sched, sched_name, ct, done, state, loc, size, tstate, tdetails,
    no_task)
SELECT x.id, x.tid, u.universe_uuid, u.name,
    {'u.sched' if sched else 'NULL'}, {'u.sched_name' if sched else 'NULL'}, x.ct,
    x.ct + interval '9 minutes', {q(st)}, {loc}, 0,
    NULLIF({q(tstate)}, 'MISSING'), {q(details)}, {q(tstate == 'MISSING')}
FROM generate_series(0, {n - 1}) g JOIN u_src u ON u.ord = g % 4
CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id, gen_random_uuid() AS tid,
    now() - interval '1 hour' * ({first} - g * {step}) AS ct) x;""")
    return "\n".join(out)


# ---------------------------------------------------------------------------- issue 12: retention and reconcile
# The incident's retention story (tests/lab/README.md "Retention and reconciliation seeds"); lab.json ``seeded``
# records it after every reset of an incident-family scenario.
LIFECYCLE_DAYS = 4            # the bucket keeps objects of the Completed backups of the last 4 days only
GC_FAILED_RUNS = 12           # GC runs that met the dead storage: 10 expired backups each went FailedToDelete
GC_MAX_PER_RUN = 10           # yb.backup.delete_expired_backup_max_gc_size
# (universe index, period g of the regular history: 0 = the newest, 73 h old) of the seeded rows
CHAIN = {"universe": 1, "base": 8, "increments": (7, 6, 5)}                   # recent: objects present
EXPIRED_CHAIN = {"universe": 2, "base": 1201, "increments": (1200, 1199)}     # ~300 days old: expired
DANGLING = {"universe": 0, "g": 3}        # recent Completed, objects removed
KMS_HISTORY = {"universe": 3, "g": 1}     # recent Completed with backup_keys.json beside its keyspace folder
DELETED_UNIVERSE = "northgate-legacy"     # a universe deleted from YBA; its backups' objects stayed
ORPHAN_HOURS_AGO = (98, 121)              # key timestamps of the two orphan prefixes (existing, deleted universe)
KEY_LOCATION_SUFFIX = "backup_keys.json"  # Util.KEY_LOCATION_SUFFIX


def chain_ids(which: str, chain: dict[str, Any]) -> dict[str, Any]:
    """The stable uuids of a seeded chain: the base and its increments, oldest first."""
    return {"base": u5(f"backup:{which}:base"),
            "increments": [u5(f"backup:{which}:increment:{k}") for k in range(1, len(chain["increments"]) + 1)]}


DANGLING_UUID = u5("backup:dangling")
KMS_HISTORY_UUID = u5("backup:kms-history")


def _retention_seeds_sql(h: dict[str, Any]) -> str:
    """The incident's seeds for retention and reconciliation, as changes to the regular history in b_src (the row
    count stays: 5,022 backups).

    - Two incremental chains (a scheduled full and manual increments on it: BackupsController.createBackup with
      baseBackupUUID; models/Backup.java create/onCompletion/onIncrementCompletion): base_backup_uuid and
      backupInfo.baseBackupUUID = the full's uuid, the increment's own folder
      ``ybc_backup-<base>/incremental/<ts>``; the full's expiry extended to the last increment's create time +
      timeBeforeDelete and its fullChainSizeInBytes the chain's sum. ``fullBackup`` stays as the full has it: in
      BackupTableParams it means "every table of the keyspace" (isFullBackup), not "not an increment".
    - The dangling backup and the one with KMS history get stable uuids (their objects are set in scenarios.py).
    - The GC during the storage outage (commissioner/BackupGarbageCollector.java): it takes the expired backups
      oldest first, at most 10 per run; the canary failed (isCredentialUsable), so each went FailedToDelete at once,
      without a task, and no later run picks them up. It stopped when the metadata index got corrupted (every run
      fails since: ``Error running backup garbage collector``)."""
    ret = f"interval '{h['retention_days']} days'"
    values = []
    for which, chain in (("chain", CHAIN), ("expired_chain", EXPIRED_CHAIN)):
        ids_ = chain_ids(which, chain)
        values.append(f"({chain['universe']}, {chain['base']}, {q(ids_['base'])}::uuid, {q(ids_['base'])}::uuid)")
        values += [f"({chain['universe']}, {g}, {q(i)}::uuid, {q(ids_['base'])}::uuid)"
                   for g, i in zip(chain["increments"], ids_["increments"])]
    for spot, b in ((DANGLING, DANGLING_UUID), (KMS_HISTORY, KMS_HISTORY_UUID)):
        values.append(f"({spot['universe']}, {spot['g']}, {q(b)}::uuid, {q(b)}::uuid)")
    return f"""
UPDATE b_src b SET id = c.id, base = c.base,
    sched = CASE WHEN c.id = c.base THEN b.sched END, sched_name = CASE WHEN c.id = c.base THEN b.sched_name END,
    size = CASE WHEN c.id = c.base THEN b.size ELSE b.size / 8 END,
    kms = (c.id = {q(KMS_HISTORY_UUID)}::uuid)
FROM u_src u, (VALUES {', '.join(values)}) c(ord, g, id, base)
WHERE u.ord = c.ord AND b.universe_uuid = u.universe_uuid AND b.g = c.g AND b.state = 'Completed';
UPDATE b_src b SET chain_size = s.total, exp = greatest(b.exp, s.last_ct + {ret})
FROM (SELECT base, sum(size) AS total, max(ct) AS last_ct FROM b_src WHERE base IN (SELECT base FROM b_src
      WHERE base <> id) GROUP BY base) s
WHERE b.id = s.base;
UPDATE b_src b SET state = 'FailedToDelete',
    upd = now() - interval '72 hours' + (r.n / {GC_MAX_PER_RUN}) * interval '15 minutes' + r.n * interval '1 second'
FROM (SELECT id, row_number() OVER (ORDER BY ct, id) - 1 AS n FROM b_src
      WHERE exp < now() AND state IN ('Completed', 'Failed') AND base = id
        AND id NOT IN (SELECT base FROM b_src WHERE base <> id)) r
WHERE b.id = r.id AND r.n < {GC_FAILED_RUNS * GC_MAX_PER_RUN};"""


def incident_seeded(state: dict[str, Any]) -> dict[str, Any]:
    """lab.json ``seeded``: what the incident's retention seeds are, the counts read back from the DB."""
    i = ids()
    names = [u["name"] for u in i["universes"]]
    bucket = state["s3"]["bucket"]
    out = psql(state, "SELECT count(*) FILTER (WHERE expiry < now()), "
                      "count(*) FILTER (WHERE expiry < now() AND state = 'FailedToDelete'), "
                      "min(backup_info::json->'backupList'->0->>'storageLocation') FILTER (WHERE backup_uuid = "
                      f"{q(KMS_HISTORY_UUID)}) FROM backup;", tuples=True).stdout.strip()
    n_expired, n_ftd, loc = out.split("|")
    expired, ftd = int(n_expired), int(n_ftd)
    if not loc:
        raise LabError("seeding: the backup with KMS history is missing")
    # AWSUtil.deleteKeyIfExists: the key history sits beside the first keyspace folder of the backup
    keys = loc.split(f"s3://{bucket}/", 1)[1].rsplit("/", 1)[0] + "/" + KEY_LOCATION_SUFFIX
    chains = {}
    for which, chain in (("chain", CHAIN), ("expired_chain", EXPIRED_CHAIN)):
        chains[which] = {"universe": names[chain["universe"]], **chain_ids(which, chain)}
    return {
        "lifecycle_days": LIFECYCLE_DAYS,
        "expired": expired,
        "failed_to_delete": ftd,
        "dangling": [DANGLING_UUID],
        "orphans": [f"{BACKUP_PREFIX}/univ-{u}/ybc_backup-{b.replace('-', '')}/" for u, b, _h in _orphans()],
        "not_orphans": [keys],
        **chains,
    }


def _orphans() -> list[tuple[str, str, int]]:
    """(universe uuid, backup uuid, hours ago) of the orphan prefixes: a backup of an existing universe whose row
    a forced deletion dropped while the storage was dead (QueuedForForcedDeletion: the row goes even when the
    objects stay), and one of a universe deleted from YBA."""
    existing = ids()["universes"][3]["uuid"]
    return [(existing, u5("backup:orphan:forced"), ORPHAN_HOURS_AGO[0]),
            (u5(f"universe:{DELETED_UNIVERSE}"), u5("backup:orphan:deleted-universe"), ORPHAN_HOURS_AGO[1])]


def bucket_extras(state: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The seeded objects that are not a catalogued backup's data: the orphan prefixes (a data object and YBC's
    ``success`` marker under a keyspace folder each) and the KMS key history (``not_orphans``)."""
    seeded = state.get("seeded")
    if not seeded:
        return []
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for (u, b, hours), prefix in zip(_orphans(), seeded["orphans"]):
        ts = (now - datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")
        folder = f"{prefix}full/{ts}/keyspace-yugabyte_{hashlib.md5(f'{b}:params'.encode()).hexdigest()}"
        out.append((f"{folder}/tablet-{b.replace('-', '')}/000000.sst", b"\0" * 64))
        out.append((f"{folder}/success", json.dumps({"backupUUID": b, "keyspace": "yugabyte",
                                                     "backupType": "PGSQL_TABLE_TYPE"}).encode()))
    history = {"universe_keys": [{"key_ref": base64.b64encode(f"key-ref:{KMS_HISTORY_UUID}".encode()).decode(),
                                  "db_key_id": base64.b64encode(b"universe-key-1").decode()}]}
    out += [(key, json.dumps(history).encode()) for key in seeded["not_orphans"]]
    return out


def add_universes(state: dict[str, Any], count: int, prefix: str = "bench") -> dict[str, str]:
    """``count`` more universes like the seeded ones (YBC, YSQL + YCQL, no schedule, no backups), named
    ``<prefix>-000``...; kept in lab.json platform.universes until the next reset (which rebuilds the DB).
    For benchmarks over many universes. Returns {name: uuid} of the added ones."""
    if not 0 < count <= 500:
        raise LabError("count must be 1..500")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", prefix):
        raise LabError(f"prefix {prefix!r}: lower-case letters, digits and dashes")
    cust = ids()["customer_uuid"]
    added, sql = {}, ["BEGIN;"]
    for k in range(count):
        u = {"name": f"{prefix}-{k:03d}", "uuid": u5(f"universe:{prefix}-{k:03d}")}
        added[u["name"]] = u["uuid"]
        sql.append(f"INSERT INTO universe (universe_uuid, customer_id, name, version, creation_date, "
                   f"universe_details_json) SELECT {q(u['uuid'])}, id, {q(u['name'])}, 1, now() - interval '30 days', "
                   f"{q(universe_details(u, 10 + k % 240))} FROM customer WHERE uuid = {q(cust)} "
                   "ON CONFLICT DO NOTHING;")
    sql.append("COMMIT;")
    cp = psql(state, "\n".join(sql), check=False)
    if cp.returncode != 0:
        raise LabError(f"adding universes failed: {cp.stderr.strip()}")
    state["platform"]["universes"] = {**state["platform"]["universes"], **added}
    return added


# A seeded backup's backupParamsIdentifier without dashes (stable per backup row; the platform uses uuid4). Taken
# from the chain's base: an increment reuses the identifier of the base's matching keyspace
# (Backup.populateChildParams; for YSQL the keyspace name matches), so its keyspace folder has the same name.
PARAMS_ID_SQL = "md5(base::text || ':params')"


def seed(state: dict[str, Any], scenario: str) -> None:
    from ybalab import storage
    enc = encrypt(state, storage_data(state, scenario))
    state["storage_variant"] = storage.default_variant(scenario)
    state.pop("storage_deny_writes", None)  # moto's reset wiped the Deny policy with the IAM users
    cp = psql(state, seed_sql(state, scenario, enc), check=False)
    if cp.returncode != 0:
        raise LabError(f"seeding {scenario} failed: {cp.stderr.strip()}")
    if scenario == "healthy":
        state.pop("seeded", None)
    else:
        state["seeded"] = incident_seeded(state)


LIVE_BACKUP_UUID = str(uuid.uuid5(_NS, "backup:live"))
LIVE_TASK_UUID = str(uuid.uuid5(_NS, "task:live"))


def live_backup_row_sql(state: dict[str, Any]) -> str:
    """The incident's one live backup row (In Progress, ~12 min old); its task row comes after the platform start."""
    i = ids()
    u = i["universes"][0]
    cust, cfg = i["customer_uuid"], i["storage_config_uuid"]
    b = LIVE_BACKUP_UUID
    loc = (f"s3://{state['s3']['bucket']}/{BACKUP_PREFIX}/univ-{u['uuid']}/ybc_backup-{b.replace('-', '')}/full/' || "
           f"to_char(now() - interval '12 minutes', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '")
    return f"""
INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, backup_info,
    state, task_uuid, schedule_uuid, schedule_name, expiry, expiry_time_unit, create_time, update_time,
    completion_time, category, version, base_backup_uuid, has_kms_history, retry_count)
SELECT {q(b)}, {q(cust)}, {q(u['uuid'])}, {q(cfg)}, {q(u['name'])},
    json_build_object('storageConfigUUID', {q(cfg)}::uuid, 'universeUUID', {q(u['uuid'])}::uuid,
        'customerUuid', {q(cust)}::uuid, 'backupType', 'PGSQL_TABLE_TYPE', 'storageConfigType', 'S3',
        'storageLocation', '{loc}', 'fullBackup', true, 'backupUuid', {q(b)}::uuid, 'baseBackupUUID', {q(b)}::uuid,
        'timeBeforeDelete', {HISTORY['incident']['retention_days'] * 86400000}, 'expiryTimeUnit', 'DAYS',
        'backupList', json_build_array()),
    'In Progress', {q(LIVE_TASK_UUID)}, NULL, NULL, NULL, 'Days', now() - interval '12 minutes',
    now() - interval '10 minutes', NULL, 'YB_CONTROLLER', 'V2', {q(b)}, false, 0;"""


def live_task_sql() -> str:
    """The live backup's Running task. Inserted AFTER the platform started: a starting platform fails every
    incomplete task ("Platform restarted.", FACTS 3.8), and this one belongs to the platform that is up now."""
    i = ids()
    u = i["universes"][0]
    details = json.dumps({"universeUUID": u["uuid"], "backupUuid": LIVE_BACKUP_UUID,
                          "progress": "Uploading tablet data"})
    t = LIVE_TASK_UUID
    return f"""
BEGIN;
DELETE FROM customer_task WHERE task_uuid = {q(t)};
DELETE FROM task_info WHERE uuid = {q(t)};
INSERT INTO task_info (uuid, parent_uuid, position, task_type, task_state, create_time, update_time,
    percent_done, details, owner)
VALUES ({q(t)}, NULL, -1, 'CreateBackup', 'Running', now() - interval '12 minutes', now(), 40, {q(details)},
    {q(OWNER)});
INSERT INTO customer_task (customer_uuid, task_uuid, type, target_type, target_name, target_uuid, create_time,
    user_email)
VALUES ({q(i['customer_uuid'])}, {q(t)}, 'Create', 'Backup', {q(u['name'])}, {q(u['uuid'])},
    now() - interval '12 minutes', {q(USER_EMAIL)});
COMMIT;
"""


def seed_live_task(state: dict[str, Any]) -> None:
    cp = psql(state, live_task_sql(), check=False)
    if cp.returncode != 0:
        raise LabError(f"inserting the live backup's Running task failed: {cp.stderr.strip()}")
