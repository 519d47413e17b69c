# Unit tests of _metadb's pure parts: SQL builders, planner, psql output parsing, error mapping, dump checks.
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _metadb as m

AMCHECK_OK = {"checked": True, "method": "amcheck", "reason": None, "indexes_checked": 5, "corrupt": [], "skipped": []}
CORRUPT = {"checked": True, "method": "index_scan", "reason": None, "indexes_checked": 5, "skipped": [],
           "corrupt": [{"index": "public.ix_backup_task_uuid", "table": "public.backup", "error": "bad"}]}


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
    assert steps[0].statements == ['REINDEX INDEX "public"."ix_backup_task_uuid";']
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
                                            "public.ix_backup_task_uuid; add reindex"):
        m.plan_repairs(f, ["stale_backups"], 3600)


def test_plan_unknown_and_unchecked():
    with pytest.raises(m.MetadbError, match="unknown repair.*drop_everything"):
        m.plan_repairs(facts(), ["drop_everything"], 3600)
    # an index check that did not run does not fail the plan (SOURCE-AUDIT 1 #2): the other repairs go ahead
    unchecked = facts(amcheck={"checked": False, "reason": "not installed"}, stale_backups={"count": 3, "by_state": {}})
    assert [s.kind for s in m.plan_repairs(unchecked, ["reindex", "stale_backups"], 3600)] == ["stale_backups"]
    assert m.index_check_warnings(unchecked["amcheck"]) == ["indexes not checked: not installed"]
    assert m.index_check_warnings(None) == ["indexes not checked: the index check did not run"]


def test_index_check_warnings():
    assert m.index_check_warnings(AMCHECK_OK) == []
    skipped = dict(AMCHECK_OK, method="index_scan", skipped=[{"index": "public.ix_x", "table": "public.t",
                                                              "reason": "the planner will not scan this index in full"}])
    assert m.index_check_warnings(skipped) == [
        "1 index not checked (index_scan): public.ix_x (the planner will not scan this index in full)"]


def test_stale_tasks_statements_per_layout():
    old = m.stale_tasks_statements(60)[1]
    # details layout (YBA 2.18-2.20): errorString inside details, only if absent; json-safe (no CASE json/text mix)
    assert "jsonb_set(ti.details::jsonb, '{errorString}', to_jsonb('Platform restarted.'::text))::json" in old
    assert "ELSE ti.details::json END" in old and "::text\n" not in old
    new = m.stale_tasks_statements(60, "task_params")[1]
    # newer YBA: TaskDetails.error = YBAError(PLATFORM_RESTARTED, "Platform restarted."), only if absent
    assert "jsonb_build_object('code', 'PLATFORM_RESTARTED', 'message', 'Platform restarted.', " \
           "'originMessage', 'Platform restarted.')" in new
    assert "'{error}'" in new and "ti.details IS NULL" in new and "errorString" not in new
    assert "task_params" not in new  # the params are never rewritten
    with pytest.raises(m.MetadbError, match="unknown task_info layout"):
        m.stale_tasks_statements(60, "nope")


def test_plan_uses_the_task_layout():
    f = facts(stale_tasks={"count": 1, "top_level": 1}, task_layout="task_params")
    step = m.plan_repairs(f, ["stale_tasks"], 3600)[0]
    assert "PLATFORM_RESTARTED" in step.statements[1]
    assert "errorString" in m.plan_repairs(facts(stale_tasks={"count": 1, "top_level": 1}), ["stale_tasks"],
                                           3600)[0].statements[1]
    assert "'task_layout', CASE WHEN EXISTS" in m.plan_sql(3600, ["stale_tasks"])


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
    assert "corrupt index public.ix_backup_task_uuid on public.backup" in out
    assert "3 backups in progress with no live task" in out
    assert "2 schedules Paused" in out
    assert "failed migration 9 (V9__x.sql)" in out
    info.update(amcheck={"checked": False, "reason": "index check disabled (amcheck=false)"},
                expired_not_deleted={"count": 12, "failed_to_delete": 2})
    out = m.findings(info)
    assert "indexes not checked: index check disabled (amcheck=false)" in out
    assert "12 expired backups not deleted (2 FailedToDelete: YBA's garbage collector does not retry them)" in out


def test_info_sql_shape():
    sql = m.info_sql(stale_age=60, sample_size=3, amcheck=True)
    assert sql.count("DO $idxcheck$") == 1
    assert "LIMIT 3" in sql and "interval '60 seconds'" in sql
    assert "CREATE EXTENSION" in sql and "IF ext_schema IS NULL AND false THEN" in sql
    # one snapshot for the index and table counts; read-only unless it may install amcheck
    assert "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nDO $idxcheck$" in sql
    installing = m.info_sql(install_amcheck=True)
    assert "IF ext_schema IS NULL AND true THEN" in installing and "READ ONLY" not in installing
    assert "DO $idxcheck$" not in m.info_sql(amcheck=False)
    # the fallback without amcheck: a full index scan (no seq scan, no sort) against a seq-scan count
    assert "method := 'index_scan'" in sql and "set_config('enable_sort', 'off', true)" in sql
    assert "EXPLAIN (FORMAT JSON, COSTS OFF)" in sql
    # FailedToDelete counted with the expired, and apart
    assert "OR b.state = 'FailedToDelete'" in sql and "'failed_to_delete', count(*) FILTER" in sql
    # reads never plan a merge join (costing one reads the index's ends, corrupt or not)
    assert "SET enable_mergejoin = off;" in sql


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
    # what an earlier step of the run would free counts (check mode of a whole run)
    ok, free2, _needed = m.check_dump_space(str(tmp_path), 10 ** 18, 0, credit=10 ** 18)
    assert ok and free2 >= 10 ** 18


def test_dump_space_report(tmp_path):
    space = m.dump_space("/var/backups/x", str(tmp_path / "var/backups/x"), str(tmp_path), 1000, 24)
    assert space["exists"] is False and space["path"] == "/var/backups/x"
    assert space["estimate_bytes"] == 1000 and space["needed_bytes"] == 1024 and space["reserve_bytes"] == 24
    assert space["free_bytes"] > 0 and space["size_bytes"] >= space["free_bytes"] and space["fits"] is True
    assert space["problem"] is None
    # the mount point is a host path (host_root removed) of the filesystem holding the nearest existing parent
    st_dev = os.stat(str(tmp_path)).st_dev
    assert os.stat(m.mount_point(str(tmp_path / "var/backups/x"))).st_dev == st_dev
    assert os.path.ismount(m.mount_point(str(tmp_path))) or m.mount_point(str(tmp_path)) == "/"
    unknown = m.dump_space("/d", str(tmp_path), "/", None)
    assert unknown["needed_bytes"] is None and unknown["fits"] is None
    assert m.dump_space("/d", str(tmp_path), "/", 10 ** 18)["fits"] is False


def test_dump_names_never_collide():
    """Issue 9 2.2: two dumps in the same second (the old names had second resolution) get different names."""
    now = 1764590000.25
    a = m.dump_file_name("yugaware", now)
    b = m.dump_file_name("yugaware", now)
    assert a != b
    assert a.startswith("yugaware-20251201T115320.250000Z-%d-" % os.getpid()) and a.endswith(".dump")
    assert m.dump_file_name("yugaware", 0, pid=7, token="00ff") == "yugaware-19700101T000000.000000Z-7-00ff.dump"
    # microseconds that round up carry into the seconds
    assert m.dump_file_name("yugaware", 9.9999999, pid=1, token="a") == "yugaware-19700101T000010.000000Z-1-a.dump"
    assert len({m.dump_file_name("yugaware", now) for _i in range(200)}) == 200
    pattern = m.dump_name_re("yugaware")
    assert pattern.match(a) and pattern.match("yugaware-20240201T101500Z.dump")  # an earlier release's name
    for other in ("yugaware-20240201T101500Z.dump.bak", "notes.txt", "yugaware.dump", "yugaware-latest.dump",
                  "other-20240201T101500Z.dump", ".yugaware-abc.partial", "yugaware-20240201T101500Z-1-xyz.dump"):
        assert not pattern.match(other), other


def test_publish_never_overwrites(tmp_path, monkeypatch):
    """Issue 9 2.2: the final name is taken by a hard link, which fails instead of replacing a file."""
    taken = tmp_path / "yugaware-19700101T000000.000000Z-1-aa.dump"
    taken.write_text("the earlier dump")
    names = iter(["yugaware-19700101T000000.000000Z-1-aa.dump", "yugaware-19700101T000000.000000Z-1-bb.dump"])
    monkeypatch.setattr(m, "dump_file_name", lambda database: next(names))
    tmp = tmp_path / ".yugaware-x.partial"
    tmp.write_text("the new dump")
    final = m.publish_dump(str(tmp), str(tmp_path), "yugaware")
    assert final == str(tmp_path / "yugaware-19700101T000000.000000Z-1-bb.dump")
    assert taken.read_text() == "the earlier dump" and open(final).read() == "the new dump"
    assert not tmp.exists()
    monkeypatch.setattr(m, "dump_file_name", lambda database: taken.name)
    tmp.write_text("another")
    with pytest.raises(m.MetadbError, match="could not give the dump"):
        m.publish_dump(str(tmp), str(tmp_path), "yugaware", attempts=3)
    assert taken.read_text() == "the earlier dump"


def test_our_dumps_and_retention(tmp_path):
    """Issue 9 2.8: only our own dumps of this database, newest first; the rest of the directory is never touched."""
    ours = ["yugaware-20260101T000000.000001Z-5-aa.dump", "yugaware-20260101T000000.000002Z-4-bb.dump",
            "yugaware-20251231T235959Z.dump", "yugaware-20260102T000000.000000Z-1-cc.dump"]
    for name in ours + ["notes.txt", "yugaware-20200101T000000Z.dump.bak", "other-20260101T000000Z.dump"]:
        (tmp_path / name).write_text("x")
    os.mkdir(str(tmp_path / "yugaware-20300101T000000Z.dump"))  # a directory of that name: not ours
    os.symlink(str(tmp_path / "notes.txt"), str(tmp_path / "yugaware-20300102T000000Z.dump"))  # nor a symlink
    found = m.our_dumps(str(tmp_path), "yugaware")
    assert found == ["yugaware-20260102T000000.000000Z-1-cc.dump", "yugaware-20260101T000000.000002Z-4-bb.dump",
                     "yugaware-20260101T000000.000001Z-5-aa.dump", "yugaware-20251231T235959Z.dump"]
    assert m.our_dumps(str(tmp_path / "missing"), "yugaware") == []
    assert m.dumps_to_remove(found, 2) == found[2:]
    assert m.dumps_to_remove(found, 5) == []
    # check mode: the new dump is still to come and counts as one of the kept
    assert m.dumps_to_remove(found, 2, new=1) == found[1:]
    assert m.dumps_to_remove(found, 1, new=1) == found
    with pytest.raises(m.MetadbError, match="dump_keep must be at least 1"):
        m.dumps_to_remove(found, 0)


def test_dump_dir_problem(tmp_path):
    assert m.dump_dir_problem(str(tmp_path)) is None
    assert m.dump_dir_problem(str(tmp_path / "new" / "dir")) is None
    (tmp_path / "file").write_text("x")
    assert m.dump_dir_problem(str(tmp_path / "file")) == "dump_dir %s exists and is not a directory" % (tmp_path / "file")
    assert "cannot be created: %s is not a directory" % (tmp_path / "file") in m.dump_dir_problem(
        str(tmp_path / "file" / "sub"))


def test_platform_refusal():
    """Issue 9 1.9 and 2.3: a running platform is refused in check mode as in a real run, except at the plan of a
    quiesced check-mode run (the role plans before it stops the platform); quiesced, it must stay down."""
    up = {"pid": 4242}
    assert m.platform_refusal(None, False, False) is None
    assert m.platform_refusal(None, True, False, "after", ["reindex"]) is None
    for check in (False, True):
        msg = m.platform_refusal(up, False, check)
        assert msg.startswith("refusing to repair the metadata DB while the YBA platform runs (pid 4242)")
        assert msg.endswith("nothing was changed")
    assert m.platform_refusal(up, True, True) is None
    assert m.platform_refusal(up, True, False).startswith("the platform runs (pid 4242) although quiesced=true")
    msg = m.platform_refusal(up, True, False, "dump")
    assert msg.startswith("the platform came back (pid 4242) before the dump") and "nothing was changed" in msg
    msg = m.platform_refusal(up, True, False, "stale_backups", ["reindex"], "/d/x.dump")
    assert "before the stale_backups repair" in msg and "the repairs reindex are committed, the others not run" in msg
    assert "the dump is /d/x.dump" in msg
    msg = m.platform_refusal(up, True, False, "reindex", [], "/d/x.dump")
    assert "the DB was not changed" in msg
    msg = m.platform_refusal(up, False, False, "after", ["reindex", "vacuum"])
    assert "after the last repair" in msg and "the repairs reindex, vacuum are committed;" in msg


def test_dump_estimate_in_info():
    assert "'dump_estimate_bytes', (SELECT coalesce(sum(pg_table_size(c.oid)), 0)" in m.info_sql()
    assert "'dump_estimate_bytes', (SELECT coalesce(sum(pg_table_size(c.oid)), 0)" in m.plan_sql(60, ["reindex"])
    assert m.unreachable_info("x")["dump_estimate_bytes"] is None
