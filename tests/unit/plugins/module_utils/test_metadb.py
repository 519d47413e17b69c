# Unit tests of _metadb's pure parts: SQL builders, planner, psql output parsing, error mapping, dump checks.
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _metadb as m

AMCHECK_OK = {"checked": True, "reason": None, "indexes_checked": 5, "corrupt": []}
CORRUPT = {"checked": True, "reason": None, "indexes_checked": 5,
           "corrupt": [{"index": "public.ix_backup_customer_state", "table": "public.backup", "error": "bad"}]}


def facts(**kw):
    base = {"amcheck": AMCHECK_OK, "tables": [], "stale_tasks": {"count": 0, "top_level": 0},
            "stale_customer_tasks": 0, "stale_backups": {"count": 0, "by_state": {}}}
    base.update(kw)
    return base


def test_quoting():
    assert m.quote_ident('we"ird') == '"we""ird"'
    assert m.quote_literal("it's") == "'it''s'"
    assert m.qualified("public.ix_a") == '"public"."ix_a"'
    assert m.qualified("ix_a") == '"public"."ix_a"'
    assert m.sql_list(["In Progress", "Stopping"]) == "('In Progress', 'Stopping')"


def test_stale_backup_where_respects_stale_task_repair():
    plain = m.stale_backup_where(3600)
    assert "'In Progress'" in plain and "update_time" not in plain
    with_tasks = m.stale_backup_where(3600, stale_tasks_repaired=True)
    assert "t.update_time >= now() - interval '3600 seconds'" in with_tasks


def test_plan_nothing_to_do():
    assert m.plan_repairs(facts(), list(m.REPAIR_KINDS), 3600) == []


def test_plan_order_and_content():
    f = facts(amcheck=CORRUPT, stale_tasks={"count": 2, "top_level": 1}, stale_customer_tasks=1,
              stale_backups={"count": 20, "by_state": {"In Progress": 19, "DeleteInProgress": 1}},
              tables=[{"name": "schedule", "dead_tuples": 5000, "dead_ratio": 0.5},
                      {"name": "users", "dead_tuples": 10, "dead_ratio": 0.9}])
    steps = m.plan_repairs(f, ["vacuum", "stale_backups", "reindex", "stale_tasks"], 3600)
    assert [s.kind for s in steps] == ["reindex", "stale_tasks", "stale_backups", "vacuum"]
    assert steps[0].statements == ['REINDEX INDEX "public"."ix_backup_customer_state";']
    assert steps[1].expected == {"task_info": 2, "customer_task": 1}
    assert "customer_task" in steps[1].statements[0] and "task_info" in steps[1].statements[1]
    assert steps[2].expected["backup"] == 20
    assert "QueuedForDeletion" in steps[2].statements[0]
    # vacuum: the bloated table plus everything the other repairs rewrote; 'users' is below min_dead
    assert steps[3].expected["tables"] == ["backup", "customer_task", "schedule", "task_info"]
    assert not steps[3].transactional


def test_plan_only_enabled_kinds():
    f = facts(amcheck=CORRUPT, stale_backups={"count": 3, "by_state": {"In Progress": 3}},
              stale_tasks={"count": 1, "top_level": 1})
    steps = m.plan_repairs(f, ["stale_tasks"], 3600)
    assert [s.kind for s in steps] == ["stale_tasks"]


def test_plan_refuses_to_write_through_a_corrupt_index():
    f = facts(amcheck=CORRUPT, stale_backups={"count": 3, "by_state": {"In Progress": 3}})
    with pytest.raises(m.MetadbError, match="stale_backups repair writes through the corrupt index "
                                            "public.ix_backup_customer_state; add reindex"):
        m.plan_repairs(f, ["stale_backups"], 3600)


def test_plan_unknown_and_unchecked():
    with pytest.raises(m.MetadbError, match="unknown repair.*drop_everything"):
        m.plan_repairs(facts(), ["drop_everything"], 3600)
    with pytest.raises(m.MetadbError, match="amcheck did not run.*not installed"):
        m.plan_repairs(facts(amcheck={"checked": False, "reason": "not installed"}), ["reindex"], 3600)


def test_step_script_transaction_and_lock_timeout():
    step = m.Step("stale_backups", ["UPDATE backup SET state = 'Failed';"])
    script = step.script(7)
    lines = script.strip().split("\n")
    assert "SET jit = off;" in lines
    assert lines[-4:] == ["BEGIN ISOLATION LEVEL REPEATABLE READ;", "SET LOCAL lock_timeout = '7s';",
                          "UPDATE backup SET state = 'Failed';", "COMMIT;"]
    vac = m.Step("vacuum", ['VACUUM (ANALYZE) "public"."backup";'], transactional=False).script(3)
    assert "BEGIN" not in vac and "SET lock_timeout = '3s';" in vac


def test_step_counts():
    st = m.Step("stale_tasks", ["a;", "b;"])
    assert m.step_counts(st, "SET\nBEGIN\nSET\nUPDATE 1\nUPDATE 2\nCOMMIT\n") == {"customer_task": 1, "task_info": 2}
    sb = m.Step("stale_backups", ["a;"])
    assert m.step_counts(sb, "BEGIN\nSET\nUPDATE 50000\nCOMMIT\n") == {"backup": 50000}
    with pytest.raises(m.MetadbError, match="did not commit"):
        m.step_counts(sb, "BEGIN\nUPDATE 5\nROLLBACK\n")
    ri = m.Step("reindex", ["a;"])
    assert m.step_counts(ri, "BEGIN\nSET\nREINDEX\nCOMMIT\n") == {"indexes": 1}
    vac = m.Step("vacuum", ["a;", "b;"], transactional=False)
    assert m.step_counts(vac, "SET\nVACUUM\nVACUUM\n") == {"tables": 2}


@pytest.mark.parametrize("stderr,expect", [
    ('psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n', "cannot connect"),
    ('psql: error: connection to server at "h" failed: FATAL:  password authentication failed for user "postgres"',
     "authentication to the metadata DB at h:5432/yugaware failed for user postgres"),
    ('psql: error: FATAL:  role "nobody" does not exist', "authentication"),
    ('psql: error: FATAL:  database "nope" does not exist', "no such database"),
    ("psql:<stdin>:5: ERROR:  canceling statement due to lock timeout", "lock_timeout"),
    ("psql:<stdin>:7: FATAL:  terminating connection due to administrator command\nserver closed the connection",
     "ended the session"),
    ("ERROR:  something else", "psql failed"),
])
def test_classify_error(stderr, expect):
    msg = m.classify_error(stderr, "h:5432/yugaware", "postgres")
    assert expect in msg
    assert "\n" not in msg


def test_bloated_tables():
    tables = [{"name": "a", "dead_tuples": 2000, "dead_ratio": 0.3},
              {"name": "b", "dead_tuples": 2000, "dead_ratio": 0.1},
              {"name": "c", "dead_tuples": 10, "dead_ratio": 0.9}]
    assert m.bloated_tables(tables, 0.2, 1000) == ["a"]


def test_verify_listing():
    listing = ";\n; Archive created\n;\n215; 1259 16390 TABLE public backup postgres\n" \
              "3401; 0 16390 TABLE DATA public backup postgres\n"
    assert m.verify_listing(listing) == 2
    with pytest.raises(m.MetadbError, match="no data for the backup table"):
        m.verify_listing("215; 1259 16390 TABLE public backup postgres\n")


def test_unreachable_info_has_every_key():
    info = m.unreachable_info("boom")
    for key in m.UNREACHABLE_KEYS + ("reachable", "error"):
        assert key in info
    assert info["reachable"] is False and info["error"] == "boom"
    assert m.findings(info) == ["metadata DB unreachable: boom"]


def test_findings():
    info = m.unreachable_info("x")
    info.update(reachable=True, error=None, amcheck=CORRUPT,
                stale_backups={"count": 3}, schedules={"paused": {"count": 2}, "error": {"count": 0}},
                failed_migrations=[{"version": "9", "script": "V9__x.sql"}])
    out = m.findings(info)
    assert "corrupt index public.ix_backup_customer_state on public.backup" in out
    assert "3 backups in progress with no live task" in out
    assert "2 schedules Paused" in out
    assert "failed migration 9 (V9__x.sql)" in out


def test_info_sql_shape():
    sql = m.info_sql(stale_age=60, sample_size=3, amcheck=True)
    assert sql.count("DO $amcheck$") == 1
    assert "LIMIT 3" in sql and "interval '60 seconds'" in sql
    assert "CREATE EXTENSION" in sql and "IF ext_schema IS NULL AND false THEN" in sql
    assert "IF ext_schema IS NULL AND true THEN" in m.info_sql(install_amcheck=True)
    assert "DO $amcheck$" not in m.info_sql(amcheck=False)


class FakeLayout:
    def __init__(self, pgsql_bin, port=5433, pgpass=None):
        self.pgsql_bin = pgsql_bin
        self.postgres_port = port
        self.pgpass_file = pgpass


def _exe(path):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def test_resolve_connection_from_layout(tmp_path):
    _exe(str(tmp_path / "psql"))
    _exe(str(tmp_path / "pg_dump"))
    pgpass = tmp_path / ".pgpass"
    pgpass.write_text("*:*:*:*:secret\n")
    conn = m.resolve_connection({"login_host": None, "login_port": None}, FakeLayout(str(tmp_path), 5433, str(pgpass)))
    assert conn.psql == str(tmp_path / "psql") and conn.port == 5433 and conn.database == "yugaware"
    assert conn.tool("pg_dump") == str(tmp_path / "pg_dump")
    assert conn.env()["PGPASSFILE"] == str(pgpass) and "PGPASSWORD" not in conn.env()
    explicit = m.resolve_connection({"psql_path": str(tmp_path), "login_port": 6000, "login_password": "pw"},
                                    FakeLayout(None))
    assert explicit.psql == str(tmp_path / "psql") and explicit.port == 6000
    assert explicit.env()["PGPASSWORD"] == "pw"


def test_resolve_connection_missing_psql(tmp_path):
    with pytest.raises(m.MetadbError, match="psql not found"):
        m.resolve_connection({"psql_path": str(tmp_path / "nope" / "psql")}, None)


def test_psql_error_is_one_clear_message():
    conn = m.Connection(bin_dir=None, psql="/bin/psql", host="h", port=1, user="postgres", database="yugaware",
                        password="s3cret")

    def runner(args, data, env):
        assert env["PGPASSWORD"] == "s3cret" and "s3cret" not in " ".join(args)
        return 2, "", 'psql: error: connection to server at "h", port 1 failed: Connection refused\n'
    with pytest.raises(m.MetadbError) as err:
        m.Psql(conn, runner).info()
    assert str(err.value).startswith("cannot connect to the metadata DB at h:1/yugaware")
    assert "s3cret" not in str(err.value)


def test_dump_space(tmp_path):
    ok, free, needed = m.check_dump_space(str(tmp_path / "not" / "yet"), 1000, 10)
    assert ok and needed == 1010 and free > 0
    ok, _free, _needed = m.check_dump_space(str(tmp_path), 10 ** 18, 0)
    assert not ok
    assert m.dump_file_name("yugaware", 0) == "yugaware-19700101T000000Z.dump"
