# Unit tests of the restore drill's pure parts (plugins/module_utils/_restore.py): scratch names, the full-backup
# test, the keyspaces of a Backup, the RestoreBackupParams body, the tables listing and the row-count SQL.
from __future__ import annotations

import calendar

from ansible_collections.yba.remediation.plugins.module_utils import _restore as rd

WHEN = calendar.timegm((2026, 12, 1, 21, 5, 9, 0, 0, 0))
LOC = "s3://b/yba/univ-u/ybc_backup-1234/full/2026-12-01T20:00:00/keyspace-yugabyte_abcd"


def test_scratch_name_is_prefix_keyspace_and_utc_minute():
    assert rd.scratch_name("drill_", "yugabyte", WHEN) == "drill_yugabyte_202612012105"
    # odd characters are replaced, the name fits a PostgreSQL identifier and keeps its timestamp
    long = rd.scratch_name("drill_", "Orders-EU" + "x" * 80, WHEN)
    assert len(long) == 63 and long.endswith("_202612012105") and long.startswith("drill_orders_eu")
    assert rd.check_keyspace_name(long) is None


def test_keyspace_names_that_need_quoting_are_refused():
    assert rd.check_keyspace_name("drill_ok_1") is None
    for bad in ("Drill", "1drill", "drill-x", "", "a" * 64, 'x"; DROP DATABASE y; --'):
        assert "must match" in rd.check_keyspace_name(bad)


def test_full_backups_are_their_own_base():
    assert rd.is_full({"commonBackupInfo": {"backupUUID": "a", "baseBackupUUID": "a"}})
    assert not rd.is_full({"commonBackupInfo": {"backupUUID": "b", "baseBackupUUID": "a"}})
    assert rd.is_full({"backupUUID": "a", "backupInfo": {"baseBackupUUID": "a"}})


def test_keyspaces_of_a_backup_and_the_restore_body():
    full = {"backupUUID": "b1", "storageConfigUUID": "cfg", "category": "YB_CONTROLLER",
            "backupInfo": {"backupType": "PGSQL_TABLE_TYPE", "sse": False, "backupList": [
                {"keyspace": "yugabyte", "storageLocation": LOC},
                {"keyspace": "ks", "backupType": "YQL_TABLE_TYPE", "storageLocation": LOC + "2",
                 "tableNameList": ["t1"]}]}}
    kss = rd.keyspaces_of(full)
    assert [(k["keyspace"], k["backup_type"]) for k in kss] == [("yugabyte", rd.YSQL), ("ks", rd.YCQL)]
    for k in kss:
        k["target"] = "drill_" + k["keyspace"]
    body = rd.restore_body("target-u", full, kss, 4)
    # the category goes explicitly (RestoreBackupParams defaults to the script's), one entry per keyspace, renamed
    assert body["category"] == "YB_CONTROLLER" and body["universeUUID"] == "target-u"
    assert body["storageConfigUUID"] == "cfg" and body["parallelism"] == 4
    assert [(i["keyspace"], i["storageLocation"]) for i in body["backupStorageInfoList"]] == [
        ("drill_yugabyte", LOC), ("drill_ks", LOC + "2")]
    assert "tableNameList" not in body["backupStorageInfoList"][0]
    assert body["backupStorageInfoList"][1]["tableNameList"] == ["t1"]


def test_tables_by_keyspace_keeps_user_tables():
    listed = [{"keySpace": "k", "tableName": "t", "tableUUID": "1", "tableType": "PGSQL_TABLE_TYPE",
               "relationType": "USER_TABLE_RELATION", "sizeBytes": 10.0, "pgSchemaName": "sales"},
              {"keySpace": "k", "tableName": "t_idx", "relationType": "INDEX_TABLE_RELATION"},
              {"keySpace": "k", "tableName": "mv", "relationType": "MATVIEW_TABLE_RELATION"},
              {"keySpace": "k", "tableName": "0000.colocation.parent.tablename",
               "relationType": "COLOCATED_PARENT_TABLE_RELATION"},
              {"keySpace": "k", "tableName": "no_relation_type"},
              {"keySpace": "system", "tableName": "peers", "relationType": "SYSTEM_TABLE_RELATION"}]
    assert rd.tables_by_keyspace(listed) == {"k": [{"table": "t", "schema": "sales", "uuid": "1",
                                                    "type": "PGSQL_TABLE_TYPE", "size_bytes": 10.0}]}


def test_row_count_sql_qualifies_and_quotes_every_name():
    sql = rd.row_count_sql([{"schema": "public", "table": "orders"}, {"schema": "Sales", "table": 'we"ird'},
                            {"schema": "", "table": "t"}])
    assert sql == ("SELECT json_build_object('orders', (SELECT count(*) FROM \"public\".\"orders\"), "
                   "'Sales.we\"ird', (SELECT count(*) FROM \"Sales\".\"we\"\"ird\"), "
                   "'t', (SELECT count(*) FROM \"t\"));\n")
    assert rd.row_count_sql([]) == "SELECT '{}'::json;\n"


def test_record_lines():
    result = {"universe": "orders", "target_universe": "orders", "backup": {"backup_uuid": "b1"},
              "keyspaces": [{"target": "drill_x"}], "rto_seconds": 12.34, "cleaned_up": True,
              "skipped_backups": [{"backup_uuid": "b0", "problem": "gone"}]}
    ok = rd.record(result, True, False, 9)
    assert ok["summary"] == "RESTORE DRILL OK - backup b1 of orders restored into drill_x in 12.3 s, cleaned up"
    assert ok["skipped_backups"] == ["b0"] and ok["api_calls"] == 9
    assert rd.record(result, True, True, 3)["summary"].startswith("RESTORE DRILL PLANNED - backup b1")
    assert rd.record(result, False, False, 3, "boom")["summary"] == "RESTORE DRILL FAILED - orders: boom"


def test_the_bundled_psql_is_the_detected_install_layouts(monkeypatch):
    """A yba-ctl installRoot other than /opt/yugabyte (or a Replicated host): the layout's pgsql/bin, not a fixed
    path; the default layout's path only when no install is detected."""
    class Layout:
        pgsql_bin = "/data/yba/software/2024.2.1.0-b185/pgsql/bin"

    monkeypatch.setattr(rd._layout, "detect", lambda host_root: Layout)
    assert rd.bundled_psql() == "/data/yba/software/2024.2.1.0-b185/pgsql/bin/psql"
    Layout.pgsql_bin = None
    assert rd.bundled_psql() == "/opt/yugabyte/software/active/pgsql/bin/psql"
