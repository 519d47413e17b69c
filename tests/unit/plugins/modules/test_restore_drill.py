# Unit tests of the restore_drill module over a routed fake of YBA's restore API (BackupHelper.restorePreflight /
# createRestoreTask with validateRestoreOverwrites, RestoreBackupController restore/page, TablesController listTables
# and drop), a real S3 (moto's threaded server) holding the backups' objects, and a real PostgreSQL (the throw-away
# server of benchmarks/metadb_repair_pg.py) standing for the universe's YSQL layer: a restore creates a database
# there, the module counts its rows and drops it over SQL with psql.
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.modules import restore_drill
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import Done, bucket_on, route_api

pytestmark = pytest.mark.usefixtures("raw_results")

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_api.__file__))))
sys.path.insert(0, os.path.join(COLLECTION, "benchmarks"))
pgtemp = pytest.importorskip("metadb_repair_pg")

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
TOKEN = "api-token-value-123"
KEY_ID = "AKIAUNITTESTKEY01"
SECRET = "unit-test-secret-key-0123456789"
PG_PASSWORD = "ysql-password-0123"
BUCKET = "drill-bucket"
U = "11111111-1111-1111-1111-111111111111"
CFG = "c0000000-0000-0000-0000-000000000001"
B_NEW, B_OLD, B_CQL = ("b0000000-0000-0000-0000-00000000000%d" % n for n in (1, 2, 3))
ROWS = {"customers": 3, "orders": 12}
# a table outside search_path: counted only when the query names its schema
SCHEMA_ROWS = {"sales.invoices": 5}


@pytest.fixture(scope="module")
def pg():
    if os.geteuid() != 0 or not os.access(os.path.join(pgtemp.PG_BIN, "initdb"), os.X_OK):
        pytest.skip("needs root and the PostgreSQL 15 server binaries")
    server = pgtemp.TempPostgres().start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def s3(plain_s3):
    pytest.importorskip("boto3")
    return bucket_on(plain_s3, KEY_ID, SECRET, BUCKET)


def location(b_uuid, keyspace):
    return "s3://%s/yba/univ-%s/ybc_backup-%s/full/2026-12-01T20:00:00/keyspace-%s_00ff" % (
        BUCKET, U, b_uuid.replace("-", ""), keyspace)


class FakeYBA:
    """YBA's restore routes as the source answers them; a restore reads the success marker from the bucket (a
    dangling backup fails the task "Got empty success marker response, exiting.") and creates the YSQL keyspace as
    a database of the real PostgreSQL (YCQL keyspaces are kept as table rows, dropped through the API)."""

    def __init__(self, s3, pg):
        self.s3, self.pg = s3, pg
        self.backups = {}
        for n, (b, ks, btype) in enumerate(((B_NEW, "yugabyte", "PGSQL_TABLE_TYPE"),
                                            (B_OLD, "yugabyte", "PGSQL_TABLE_TYPE"),
                                            (B_CQL, "shop", "YQL_TABLE_TYPE"))):
            loc = location(b, ks)
            self.backups[b] = {"backupUUID": b, "universeUUID": U, "storageConfigUUID": CFG, "state": "Completed",
                               "category": "YB_CONTROLLER", "createTime": "2026-12-01T2%d:00:00Z" % (3 - n),
                               "baseBackupUUID": b,
                               "backupInfo": {"backupType": btype, "backupList": [
                                   {"keyspace": ks, "storageLocation": loc, "backupType": btype}]}}
            self.put(loc)
        self.ycql = {}  # keyspace -> {table uuid: name}
        self.tasks = {}
        self.restores = []
        self.refuse_restore = None  # the 400 YBA answers although the module's own check passed (a race)
        self.fail_after_create = None  # the task fails with this error after it created the keyspace (partly restored)
        self.hang = False  # the task never ends (wait_timeout)
        self.seen = []

    def put(self, loc):
        key = loc.split("/", 3)[3]
        self.s3["client"].put_object(Bucket=BUCKET, Key=key + "/tablet-1/000000.sst", Body=b"x" * 64)
        self.s3["client"].put_object(Bucket=BUCKET, Key=key + "/success", Body=b"{}")

    def make_dangling(self, b):
        key = self.backups[b]["backupInfo"]["backupList"][0]["storageLocation"].split("/", 3)[3]
        for obj in self.s3["client"].list_objects_v2(Bucket=BUCKET, Prefix=key + "/").get("Contents", []):
            self.s3["client"].delete_object(Bucket=BUCKET, Key=obj["Key"])

    def databases(self):
        return set(self.pg.sql("SELECT datname FROM pg_database", db="postgres").split())

    def tables(self):
        out = [{"keySpace": "yugabyte", "tableName": "orders", "tableUUID": str(uuid.uuid4()),
                "tableType": "PGSQL_TABLE_TYPE", "relationType": "USER_TABLE_RELATION", "sizeBytes": 1.0}]
        for db in sorted(self.databases() - {"postgres", "template0", "template1"}):
            for row in self.pg.sql("SELECT n.nspname || '.' || c.relname || '.' || c.relkind::text FROM pg_class c JOIN "
                                   "pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND "
                                   "n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", db=db).split():
                schema, name, kind = row.split(".")
                out.append({"keySpace": db, "tableName": name, "pgSchemaName": schema, "tableUUID": str(uuid.uuid4()),
                            "tableType": "PGSQL_TABLE_TYPE", "sizeBytes": 2.0,
                            "relationType": "USER_TABLE_RELATION" if kind == "r" else "MATVIEW_TABLE_RELATION"})
        for ks, tables in self.ycql.items():
            out += [{"keySpace": ks, "tableName": name, "tableUUID": t, "tableType": "YQL_TABLE_TYPE",
                     "relationType": "USER_TABLE_RELATION", "sizeBytes": 3.0} for t, name in tables.items()]
        return out

    def send(self, client, method, path, body):
        self.seen.append((method, path, body))
        p = path.split("/api/v1/customers/%s/" % C, 1)[-1]
        if method == "GET" and p == "universes":
            return [{"universeUUID": U, "name": "orders"}]
        if method == "GET" and p == "configs":
            return [{"configUUID": CFG, "configName": "s3-live", "name": "S3", "type": "STORAGE", "state": "Active",
                     "data": {"BACKUP_LOCATION": "s3://%s/yba" % BUCKET, "AWS_HOST_BASE": self.s3["live"],
                              "PATH_STYLE_ACCESS": "true", "AWS_ACCESS_KEY_ID": "AK**********01",
                              "AWS_SECRET_ACCESS_KEY": "un**********89"}}]
        if method == "POST" and p == "backups/page":
            ents = [{"commonBackupInfo": {"backupUUID": b["backupUUID"], "baseBackupUUID": b["baseBackupUUID"],
                                          "state": b["state"]}}
                    for b in sorted(self.backups.values(), key=lambda x: x["createTime"], reverse=True)
                    if b["backupInfo"]["backupType"] == "PGSQL_TABLE_TYPE"]
            return {"entities": ents, "hasNext": False, "hasPrev": False, "totalCount": len(ents)}
        if method == "GET" and p.startswith("backups/"):
            return self.backups[p.split("/")[1]]
        if method == "GET" and p == "universes/%s/tables" % U:
            return self.tables()
        if method == "DELETE" and p.startswith("universes/%s/tables/" % U):
            t = p.rsplit("/", 1)[1]
            for tables in self.ycql.values():
                tables.pop(t, None)
            self.ycql = {k: v for k, v in self.ycql.items() if v}
            return self.task("Success")
        if method == "POST" and p == "restore/preflight":
            assert body["backupUUID"] in self.backups and body["universeUUID"] == U
            return {"backupCategory": "YB_CONTROLLER", "hasKMSHistory": False, "perLocationBackupInfoMap": {}}
        if method == "POST" and p == "restore":
            return self.restore(body)
        if method == "GET" and p.startswith("tasks/") and p.endswith("/failed_subtasks"):
            err = self.tasks[p.split("/")[1]][1]
            return {"failedSubTasks": [{"subTaskType": "RestoreBackupYbc", "errorString": err}] if err else []}
        if method == "GET" and p.startswith("tasks/"):
            return {"status": self.tasks[p.split("/")[1]][0], "title": "Restore"}
        if method == "POST" and p == "restore/page":
            return {"entities": list(reversed(self.restores)), "hasNext": False, "hasPrev": False,
                    "totalCount": len(self.restores)}
        raise _api.YBANotFound("No route for %s %s" % (method, path), status=404)

    def task(self, status, error=None):
        t = str(uuid.uuid4())
        self.tasks[t] = (status, error)
        return {"taskUUID": t, "resourceUUID": U}

    def restore(self, body):
        existing = {t["keySpace"] for t in self.tables()} | self.databases()
        for info in body["backupStorageInfoList"]:
            if info["backupType"] == "PGSQL_TABLE_TYPE" and (info["keyspace"] in existing or self.refuse_restore):
                raise _api.YBAValidationError("Keyspace %s already exists, overwriting data is not allowed"
                                              % info["keyspace"], status=400)
        error = None
        for info in body["backupStorageInfoList"]:
            key = info["storageLocation"].split("/", 3)[3]
            names = [o["Key"] for o in self.s3["client"].list_objects_v2(
                Bucket=BUCKET, Prefix=key + "/").get("Contents", [])]
            if key + "/success" not in names:
                error = "Got empty success marker response, exiting."
                break
            if info["backupType"] == "PGSQL_TABLE_TYPE":
                self.pg.sql('CREATE DATABASE "%s"' % info["keyspace"], db="postgres")
                self.pg.sql("".join("CREATE TABLE %s (id int); INSERT INTO %s SELECT generate_series(1, %d);"
                                    % (name, name, n) for name, n in ROWS.items()), db=info["keyspace"])
                # a schema outside search_path and a materialized view (MATVIEW_TABLE_RELATION: not counted)
                self.pg.sql("CREATE SCHEMA sales; CREATE TABLE sales.invoices (id int); INSERT INTO sales.invoices "
                            "SELECT generate_series(1, 5); ALTER DATABASE \"%s\" SET search_path = public; "
                            "CREATE MATERIALIZED VIEW order_ids AS SELECT id FROM orders" % info["keyspace"],
                            db=info["keyspace"])
            else:
                self.ycql[info["keyspace"]] = {str(uuid.uuid4()): "items"}
        error = error or self.fail_after_create
        answer = self.task("Running" if self.hang else "Failure" if error else "Success", error)
        self.restores.append({"restoreUUID": str(uuid.uuid4()), "state": "Failed" if error else "Completed",
                              "restoreSizeInBytes": 128, "restoreKeyspaceList": [
                                  {"taskUUID": answer["taskUUID"], "targetKeyspace": i["keyspace"]}
                                  for i in body["backupStorageInfoList"]]})
        return answer


@pytest.fixture
def yba(monkeypatch, s3, pg):
    fake = FakeYBA(s3, pg)
    yield route_api(monkeypatch, fake)
    for db in fake.databases() - {"postgres", "template0", "template1"}:
        pg.sql('DROP DATABASE "%s"' % db, db="postgres")


def run(pg, check=False, diff=False, ysql=True, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, customer_uuid=C, universe="orders",
                poll_interval=0.01, wait_timeout=5, verify_timeout=2,
                storage_credentials={"s3-live": {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}},
                _ansible_check_mode=check, _ansible_diff=diff)
    if ysql:
        base["ysql"] = {"host": pg.host, "port": pg.port, "user": "postgres", "password": PG_PASSWORD,
                        "maintenance_db": "postgres", "psql_path": pg.psql}
    base.update(args)
    warnings._global_warnings.clear()
    with patch_module_args(base):
        with pytest.raises(Done) as info:
            restore_drill.main()
    result = info.value.result
    text = json.dumps(result)
    for secret in (SECRET, TOKEN, KEY_ID, PG_PASSWORD):
        assert secret not in text, "a secret leaked into %s" % text
    if result["failed"]:
        assert "\n" not in result["msg"]
    return result


def sent(yba, what):
    return [(m, p) for m, p, _b in yba.seen if p.endswith(what)]


def test_check_mode_plans_the_newest_verified_backup_and_sends_nothing(yba, pg):
    yba.make_dangling(B_NEW)
    res = run(pg, check=True, diff=True)
    assert not res["failed"] and res["changed"]
    assert res["backup"]["backup_uuid"] == B_OLD and res["backup"]["verified"]
    assert [s["backup_uuid"] for s in res["skipped_backups"]] == [B_NEW]
    assert res["keyspaces"][0]["target"].startswith("drill_yugabyte_")
    assert sent(yba, "restore") == [] and sent(yba, "restore/preflight") == []
    assert res["record"]["summary"].startswith("RESTORE DRILL PLANNED")
    assert list(res["diff"]["after"].values()) == ["restored, checked, dropped (planned)"]


def test_drill_restores_counts_rows_drops_and_times(yba, pg):
    res = run(pg, expected_row_counts={"orders": 12})
    target = res["keyspaces"][0]["target"]
    assert not res["failed"] and res["changed"] and res["restored"] and res["verified"] and res["cleaned_up"]
    assert res["backup"]["backup_uuid"] == B_NEW and res["skipped_backups"] == []
    assert res["row_counts"] == {target: dict(ROWS, **SCHEMA_ROWS)}
    assert sorted(t["table"] for t in res["tables"]) == sorted(list(ROWS) + ["invoices"])
    assert [t["rows"] for t in res["tables"] if t["table"] == "invoices"] == [5]
    assert res["restore_state"] == "Completed" and res["rto_seconds"] >= 0
    assert target not in yba.databases()  # really dropped over SQL
    body = [b for m, p, b in yba.seen if p.endswith("/restore")][0]
    assert body["category"] == "YB_CONTROLLER" and body["backupStorageInfoList"][0]["keyspace"] == target
    posts = [p.split("/customers/%s/" % C)[1] for m, p, _b in yba.seen if m == "POST"]
    assert posts.index("restore/preflight") < posts.index("restore") < posts.index("restore/page")
    assert res["record"]["ok"] and res["record"]["summary"].startswith("RESTORE DRILL OK - backup %s" % B_NEW)


def test_wrong_row_count_fails_the_drill_and_still_reports(yba, pg):
    res = run(pg, expected_row_counts={"orders": 13}, cleanup=False)
    assert res["failed"] and "row counts differ from expected_row_counts: orders: 12 rows, expected 13" in res["msg"]
    assert res["restored"] and not res["verified"]


def test_existing_keyspace_is_refused_before_anything_is_sent(yba, pg):
    res = run(pg, scratch_keyspace="yugabyte")
    assert res["failed"] and "keyspace yugabyte already exists on universe orders; refusing" in res["msg"]
    assert sent(yba, "restore") == [] and not res["changed"]


def test_ybas_own_refusal_is_surfaced(yba, pg):
    yba.refuse_restore = True
    res = run(pg, scratch_keyspace="drill_race")
    assert res["failed"]
    assert "YBA refused the restore: HTTP 400: Keyspace drill_race already exists, overwriting data is not allowed" \
        in res["msg"]


def test_dangling_backup_fails_clearly(yba, pg):
    yba.make_dangling(B_NEW)
    res = run(pg, backup_uuid=B_NEW)
    assert res["failed"] and ("backup %s is dangling: " % B_NEW) in res["msg"]
    assert sent(yba, "restore") == [] and sent(yba, "restore/preflight") == []
    assert res["record"]["summary"].startswith("RESTORE DRILL FAILED")


def test_unverified_dangling_backup_fails_in_yba_with_its_error(yba, pg):
    yba.make_dangling(B_NEW)
    res = run(pg, backup_uuid=B_NEW, verify=False)
    assert res["failed"] and res["changed"]
    assert "the restore of backup %s failed in YBA" % B_NEW in res["msg"]
    assert "Got empty success marker response, exiting." in res["msg"]
    assert res["restore_state"] == "Failed" and not res["restored"]


def test_ysql_drill_without_sql_connection_is_refused(yba, pg):
    res = run(pg, ysql=False)
    assert res["failed"] and "needs the ysql connection" in res["msg"]
    assert sent(yba, "restore") == []


def test_ycql_tables_are_dropped_through_the_api_and_the_keyspace_is_reported_left(yba, pg):
    res = run(pg, ysql=False, backup_uuid=B_CQL, diff=True)
    target = res["keyspaces"][0]["target"]
    assert not res["failed"] and res["restored"] and res["verified"], res.get("msg")
    assert res["keyspaces"][0]["backup_type"] == "ycql" and res["row_counts"] == {}
    assert len([1 for m, p, _b in yba.seen if m == "DELETE" and "/tables/" in p]) == 1
    assert yba.ycql == {}
    # YBA's API cannot drop the keyspace itself: said, not hidden
    assert not res["cleaned_up"] and res["left_behind"] == [target] and res["keyspaces"][0]["left_behind"]
    assert "DROP KEYSPACE %s" % target in res["cleanup_note"]
    assert res["diff"]["after"] == {target: "present"} and res["record"]["left_behind"] == [target]
    assert res["record"]["summary"].endswith("left in place: %s" % target)


@pytest.mark.parametrize("args, msg", [
    ({"scratch_keyspace": "Bad-Name"}, "scratch keyspace 'Bad-Name' must match"),
    ({"max_candidates": 0}, "max_candidates must be 1 or more"),
    ({"expected_row_counts": {"orders": "many"}}, "expected_row_counts[orders] must be a whole number"),
    ({"wait_timeout": 0}, "wait_timeout must be more than 0"),
])
def test_bad_input_fails_before_anything_is_sent(yba, pg, args, msg):
    res = run(pg, **args)
    assert res["failed"] and msg in res["msg"] and res["msg"].endswith("nothing was sent")
    assert yba.seen == []


def test_failed_check_still_drops_the_scratch_keyspace(yba, pg):
    res = run(pg, expected_row_counts={"orders": 13})
    target = res["keyspaces"][0]["target"]
    # the row-count failure is the drill's error, and the scratch database is gone all the same
    assert res["failed"] and "row counts differ from expected_row_counts: orders: 12 rows, expected 13" in res["msg"]
    assert res["restored"] and not res["verified"] and res["cleaned_up"] and res["keyspaces"][0]["dropped"]
    assert target not in yba.databases()
    assert "cleanup_seconds" in res["durations"] and res["record"]["cleaned_up"]


def test_restore_task_timeout_still_drops_the_scratch_keyspace(yba, pg):
    yba.hang = True
    res = run(pg, wait_timeout=0.3)
    target = res["keyspaces"][0]["target"]
    assert res["failed"] and res["msg"].startswith("restore drill of orders: YBA API: ") and "still Running" in res["msg"]
    assert not res["restored"] and res["cleaned_up"]
    assert target not in yba.databases()


def test_failed_restore_with_cleanup_false_drops_nothing(yba, pg):
    yba.fail_after_create = "Restore of tablet failed"
    res = run(pg, ysql=False, backup_uuid=B_CQL, cleanup=False)
    target = res["keyspaces"][0]["target"]
    assert res["failed"] and "Restore of tablet failed" in res["msg"]
    assert not res["cleaned_up"] and not res["keyspaces"][0]["dropped"]
    assert [p for m, p, _b in yba.seen if m == "DELETE"] == []
    assert target in yba.ycql  # kept for inspection, as asked


def test_existing_database_without_tables_is_refused_before_anything_is_sent(yba, pg):
    pg.sql('CREATE DATABASE "drill_empty"', db="postgres")  # a keyspace without tables: not in the tables listing
    res = run(pg, scratch_keyspace="drill_empty")
    assert res["failed"] and "keyspace drill_empty already exists on universe orders; refusing" in res["msg"]
    assert sent(yba, "restore") == [] and not res["changed"]
    assert "drill_empty" in yba.databases()


def test_cleanup_drops_only_what_the_drill_created(yba, pg):
    res = run(pg)
    target = res["keyspaces"][0]["target"]
    assert not res["failed"] and res["cleaned_up"] and res["left_behind"] == [] and res["cleanup_note"] is None
    assert res["keyspaces"][0]["dropped"] and target not in yba.databases()
    assert "yugabyte" not in [k["target"] for k in res["keyspaces"]]


def test_cleanup_false_reports_what_is_left(yba, pg):
    res = run(pg, cleanup=False, diff=True)
    target = res["keyspaces"][0]["target"]
    assert not res["failed"] and not res["cleaned_up"] and res["left_behind"] == [target]
    assert target in yba.databases() and res["diff"]["after"] == {target: "present"}
