# metadb_info / metadb_repair run as Ansible runs them (module process + the host's psql) on a throw-away PostgreSQL.
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from ci_prerequisites import prerequisite_missing  # tests/unit/ci_prerequisites.py

from ansible_collections.yba.remediation.plugins.module_utils import _metadb

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_metadb.__file__))))
COLLECTIONS_PATH = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION)))
sys.path.insert(0, os.path.join(COLLECTION, "benchmarks"))


try:
    import metadb_repair_pg as pgtemp
except ImportError as exc:
    prerequisite_missing(f"benchmarks/metadb_repair_pg.py not importable: {exc}")


@pytest.fixture(autouse=True, scope="module")
def prerequisites():
    if os.geteuid() != 0:
        prerequisite_missing("needs root (the throw-away PostgreSQL runs as the postgres user)")
    initdb = os.path.join(pgtemp.PG_BIN, "initdb")
    if not os.access(initdb, os.X_OK):
        prerequisite_missing(f"needs the PostgreSQL 15 server binaries: no {initdb} (PG_BIN={pgtemp.PG_BIN})")


STALE_TASK = "00000000-0000-0000-0000-00000000aaaa"


@pytest.fixture(scope="module")
def pg():
    server = pgtemp.TempPostgres().start()
    # a password-checked user for the wrong-credentials test
    server.add_password_login("pwuser", "right", "SUPERUSER")
    yield server
    server.destroy()


CORRUPT = "public." + pgtemp.CORRUPT_INDEX
PLATFORM_RESTARTED_ERROR = {"code": "PLATFORM_RESTARTED", "message": "Platform restarted.",
                            "originMessage": "Platform restarted."}


def make_db(pg, amcheck=False, task_layout="details"):
    """YBA's yugaware as the lab lays it (json columns, YBA's index names, no amcheck unless asked), with the root
    page of YBA's ix_backup_task_uuid physically corrupted."""
    pg.create_yugaware(rows=5000, stale=20, amcheck=amcheck, task_layout=task_layout)
    pg.corrupt_index()
    return pg


@pytest.fixture()
def db(pg):
    return make_db(pg)


@pytest.fixture(params=[("details", False), ("details", True), ("task_params", False)],
                ids=["details-no-amcheck", "details-amcheck", "task_params-no-amcheck"])
def any_db(pg, request):
    """Both task_info layouts; with and without the amcheck extension."""
    layout, amcheck = request.param
    make_db(pg, amcheck=amcheck, task_layout=layout)
    pg.layout, pg.amcheck = layout, amcheck
    return pg


class DumpDir:
    """A dump directory as the module is given it (``arg``, a host path) and as it is on disk (``real``)."""

    def __init__(self, root):
        self.root = root
        self.arg = "/var/backups/metadb"
        self.real = os.path.join(root, "var/backups/metadb")
        os.makedirs(self.real)


@pytest.fixture()
def dump_dir():
    # every run gets its own host_root, so no other YBA (another lab's platform) on this machine is "the host's"
    root = tempfile.mkdtemp(prefix="metadb-host-")
    yield DumpDir(root)
    subprocess.run(["rm", "-rf", root], check=False)


def module_cmd(name):
    return [sys.executable, "-m", "ansible_collections.yba.remediation.plugins.modules.%s" % name]


def args_file(pg, args, check=False, diff=False):
    base = {"login_host": pg.host, "login_port": pg.port, "psql_path": pgtemp.PG_BIN,
            "_ansible_check_mode": check, "_ansible_diff": diff}
    base.update(args)
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"ANSIBLE_MODULE_ARGS": base}, handle)
    handle.close()
    return handle.name


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = COLLECTIONS_PATH + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_module(pg, name, args, check=False, diff=False):
    path = args_file(pg, args, check, diff)
    try:
        proc = subprocess.run(module_cmd(name) + [path], capture_output=True, text=True, env=env(), timeout=120,
                              check=False)
    finally:
        os.unlink(path)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def data_dump(pg, db="yugaware"):
    """Plain-text dump, minus the random per-dump \\restrict key lines of recent pg_dump releases."""
    out = subprocess.run([os.path.join(pgtemp.PG_BIN, "pg_dump"), "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
                          "--no-owner", db], capture_output=True, check=True).stdout
    return b"\n".join(ln for ln in out.split(b"\n") if not ln.startswith((b"\\restrict", b"\\unrestrict")))


def counts(pg, db="yugaware"):
    tables = pg.sql("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_stat_user_tables", db=db).split(",")
    return {t: int(pg.sql("SELECT count(*) FROM %s" % t, db=db)) for t in tables}


def test_schema_is_yba_s(db):
    """The json columns of YBA, its index names, no amcheck: what the collection must cope with."""
    types = dict(ln.split("|") for ln in db.sql(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns WHERE (table_name, "
        "column_name) IN (('task_info', 'details'), ('backup', 'backup_info'), ('schedule', 'task_params'))"
    ).splitlines())
    assert types == {"task_info.details": "json", "backup.backup_info": "json", "schedule.task_params": "json"}
    assert db.sql("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") == "0"
    assert db.sql("SELECT indexname FROM pg_indexes WHERE tablename = 'backup' ORDER BY 1").split() == \
        ["ix_backup_task_uuid", "pk_backup"]


def test_info_finds_what_is_wrong(any_db):
    db = any_db
    res = run_module(db, "metadb_info", {})
    info = res["metadb"]
    assert res["changed"] is False and info["reachable"] is True and info["error"] is None, res
    check = info["amcheck"]
    assert check["checked"] is True and check["method"] == ("amcheck" if db.amcheck else "index_scan"), check
    assert check["indexes_checked"] > 10 and check["skipped"] == [] and check["installed"] is False
    assert [c["index"] for c in check["corrupt"]] == [CORRUPT]
    assert "invalid page in block" in check["corrupt"][0]["error"], check
    assert info["stale_backups"]["count"] == 21  # 20 In Progress + 1 DeleteInProgress without task
    assert info["stale_backups"]["by_state"] == {"In Progress": 20, "DeleteInProgress": 1}
    assert info["live_backups"]["count"] == 1
    assert info["stale_tasks"]["count"] == 2 and info["stale_tasks"]["top_level"] == 1
    assert info["schedules"]["paused"]["sample"][0]["failure_count"] == 3
    # one expired Completed backup and one FailedToDelete (never retried by YBA's GC), counted apart
    assert info["expired_not_deleted"]["count"] == 2 and info["expired_not_deleted"]["failed_to_delete"] == 1
    assert len(info["backup_summary"]) == 4
    assert "corrupt index %s on public.backup" % CORRUPT in info["findings"]
    assert "2 expired backups not deleted (1 FailedToDelete: YBA's garbage collector does not retry them)" in \
        info["findings"]
    assert not [f for f in info["findings"] if f.startswith("indexes not checked")]


def test_info_without_the_index_check_says_so(db):
    info = run_module(db, "metadb_info", {"amcheck": False})["metadb"]
    assert info["amcheck"]["checked"] is False
    assert "indexes not checked: index check disabled (amcheck=false)" in info["findings"]


def test_index_scan_check_finds_lost_index_entries(db):
    """Without amcheck, an index that returns fewer rows than its table is corrupt too (not only read errors)."""
    db.sql("REINDEX INDEX %s;" % CORRUPT)
    # hide heap rows from the index only: rows inserted while the index is not ready are not in it
    db.sql("UPDATE pg_index SET indisready = false WHERE indexrelid = 'pk_task_info'::regclass;"
           "INSERT INTO task_info (uuid, task_type, task_state, details) "
           "SELECT gen_random_uuid(), 'CreateBackup', 'Success', '{}' FROM generate_series(1, 3);"
           "UPDATE pg_index SET indisready = true WHERE indexrelid = 'pk_task_info'::regclass;")
    check = run_module(db, "metadb_info", {})["metadb"]["amcheck"]
    assert check["method"] == "index_scan"
    assert [c["index"] for c in check["corrupt"]] == ["public.pk_task_info"], check
    assert "a full scan of the index returns" in check["corrupt"][0]["error"]


def test_install_amcheck_uses_it(db):
    res = run_module(db, "metadb_info", {"install_amcheck": True})
    assert res["changed"] is True and res["metadb"]["amcheck"]["installed"] is True
    assert res["metadb"]["amcheck"]["method"] == "amcheck"
    assert [c["index"] for c in res["metadb"]["amcheck"]["corrupt"]] == [CORRUPT]


def test_install_amcheck_that_fails_falls_back(db):
    """amcheck cannot be installed (here: a user who may not create it; on a host: a server without contrib):
    the indexes are still checked, by full index scans, and the result says why."""
    db.sql("DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN; GRANT pg_read_all_data TO reader;", db="postgres")
    res = run_module(db, "metadb_info", {"install_amcheck": True, "login_user": "reader"})
    check = res["metadb"]["amcheck"]
    assert res["changed"] is False and check["installed"] is False and check["method"] == "index_scan", res
    assert "could not install the amcheck extension" in check["reason"], check
    assert [c["index"] for c in check["corrupt"]] == [CORRUPT]


def test_check_mode_changes_nothing_and_returns_sql(db, dump_dir):
    before = data_dump(db)
    res = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": list(_metadb.REPAIR_KINDS)},
                     check=True, diff=True)
    assert res["changed"] is True, res
    assert res["dump"] is None and os.listdir(dump_dir.real) == []
    assert 'REINDEX INDEX "public"."%s";' % pgtemp.CORRUPT_INDEX in res["queries"]
    assert res["index_check"]["method"] == "index_scan" and res["task_layout"] == "details"
    assert res["repairs"]["stale_backups"]["expected"]["backup"] == 21
    assert res["repairs"]["stale_tasks"]["expected"] == {"task_info": 2, "customer_task": 1}
    assert "would repair" in res["diff"]["after"]
    assert data_dump(db) == before


def test_default_plan_without_amcheck(db, dump_dir):
    """The default repairs (reindex first) do not fail for want of amcheck: the corrupt index is found by index
    scans, rebuilt, and the stale rows repaired; nothing installs amcheck."""
    res = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root})
    assert res.get("failed") is not True and res["changed"] is True, res
    assert res["repairs"]["reindex"]["rows"] == {"indexes": 1}
    assert res["repairs"]["stale_backups"]["rows"] == {"backup": 21}
    assert not res.get("warnings"), res.get("warnings")
    assert db.sql("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") == "0"


def stale_task_error(db, layout):
    """The error the repair wrote on the stale task, where the YBA of that layout keeps it."""
    if layout == "details":
        return json.loads(db.sql("SELECT details FROM task_info WHERE uuid = '%s'" % STALE_TASK))["errorString"]
    return json.loads(db.sql("SELECT details FROM task_info WHERE uuid = '%s'" % STALE_TASK))["error"]


def test_repair_fixes_keeps_live_rows_and_is_idempotent(any_db, dump_dir):
    db = any_db
    live = db.sql("SELECT backup_uuid FROM backup b JOIN task_info t ON t.uuid = b.task_uuid "
                  "WHERE t.task_state = 'Running' AND b.state = 'In Progress'")
    params_before = db.sql("SELECT %s FROM task_info WHERE uuid = '%s'" % (
        "task_params" if db.layout == "task_params" else "'-'", STALE_TASK))
    res = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": list(_metadb.REPAIR_KINDS)})
    assert res["changed"] is True, res
    assert res["task_layout"] == db.layout
    assert res["repairs"]["reindex"]["rows"] == {"indexes": 1}
    assert res["repairs"]["stale_tasks"]["rows"] == {"customer_task": 1, "task_info": 2}
    assert res["repairs"]["stale_backups"]["rows"] == {"backup": 21}
    dump = res["dump"]
    assert os.stat(dump["path"]).st_mode & 0o777 == 0o600 and dump["entries"] > 10
    # post-conditions
    info = run_module(db, "metadb_info", {})["metadb"]
    assert info["amcheck"]["checked"] and info["amcheck"]["corrupt"] == []
    assert info["stale_backups"]["count"] == 0 and info["stale_tasks"]["count"] == 0
    assert db.sql("SELECT state FROM backup WHERE backup_uuid = '%s'" % live) == "In Progress"
    assert db.sql("SELECT state FROM backup WHERE backup_uuid = '00000000-0000-0000-0000-00000000bbbb'") == \
        "QueuedForDeletion"
    if db.layout == "details":
        assert stale_task_error(db, "details") == "Platform restarted."
    else:
        assert stale_task_error(db, "task_params") == PLATFORM_RESTARTED_ERROR
        # the task's params are left alone, and no errorString is written into them
        assert db.sql("SELECT task_params FROM task_info WHERE uuid = '%s'" % STALE_TASK) == params_before
    assert db.sql("SELECT completion_time IS NOT NULL FROM customer_task WHERE task_uuid = '%s'" % STALE_TASK) == "t"
    # the repaired index is usable again: a read through it and an insert
    assert db.sql("SET enable_indexscan = on; SET enable_seqscan = off; "
                  "SELECT count(*) FROM backup WHERE task_uuid = '%s'" % STALE_TASK) == "0"
    # idempotent, and check mode agrees
    again = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": list(_metadb.REPAIR_KINDS)})
    assert again["changed"] is False and again["queries"] == [] and again["dump"] is None, again
    assert run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": list(_metadb.REPAIR_KINDS)},
                      check=True)["changed"] is False
    assert len(os.listdir(dump_dir.real)) == 1


def test_an_existing_task_error_is_kept(pg, dump_dir):
    """YBA sets the restart error only when the task has none (CustomerTaskManager.setTaskError): so does the
    repair, in either layout."""
    new_error = '{"error": {"code": "INTERNAL_ERROR", "message": "disk full", "originMessage": "disk full"}}'
    for layout, column, existing in (("details", "details", '{"errorString": "disk full"}'),
                                     ("task_params", "details", new_error)):
        pg.create_yugaware(rows=100, stale=2, task_layout=layout)
        pg.sql("UPDATE task_info SET %s = '%s' WHERE uuid = '%s'" % (column, existing, STALE_TASK))
        res = run_module(pg, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root,
                                               "repairs": ["stale_tasks"]})
        assert res["repairs"]["stale_tasks"]["rows"]["task_info"] == 2, res
        assert json.loads(pg.sql("SELECT %s FROM task_info WHERE uuid = '%s'" % (column, STALE_TASK))) == \
            json.loads(existing)
        assert pg.sql("SELECT task_state FROM task_info WHERE uuid = '%s'" % STALE_TASK) == "Failure"
        for name in os.listdir(dump_dir.real):
            os.unlink(os.path.join(dump_dir.real, name))


def test_dump_restores_with_identical_counts(db, dump_dir):
    original = counts(db)
    res = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root,
                                           "repairs": ["reindex", "stale_backups"]})
    db.sql("DROP DATABASE IF EXISTS scratch; CREATE DATABASE scratch;", db="postgres")
    subprocess.run([os.path.join(pgtemp.PG_BIN, "pg_restore"), "-h", db.host, "-p", str(db.port), "-U", "postgres",
                    "-d", "scratch", "--exit-on-error", res["dump"]["path"]], check=True, capture_output=True)
    assert counts(db, "scratch") == original
    # and the restored copy still has the rows as they were before the repair
    assert db.sql("SELECT count(*) FROM backup WHERE state = 'In Progress'", db="scratch") == "21"


@pytest.mark.parametrize("args,msg", [
    ({"login_port": 1}, "cannot connect to the metadata DB at 127.0.0.1:1/yugaware"),
    ({"login_user": "pwuser", "login_password": "wrong"}, "authentication to the metadata DB at"),
    ({"login_db": "nope"}, "has no such database"),
    ({"repairs": ["stale_backups", "drop_all"]}, "value of repairs must be one or more of"),
    ({"dump_reserve_bytes": 10 ** 18}, "not enough free space in"),
    ({"dump_dir": "relative/dir"}, "dump_dir must be an absolute path"),
    ({"repairs": ["stale_backups"]}, "writes through the corrupt index public.ix_backup_task_uuid; add reindex"),
    ({"psql_path": "/nonexistent/psql"}, "psql not found"),
])
def test_bad_input_fails_clearly_and_changes_nothing(db, dump_dir, args, msg):
    before = data_dump(db)
    full = {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": list(_metadb.REPAIR_KINDS)}
    full.update(args)
    res = run_module(db, "metadb_repair", full)
    assert res.get("failed") is True, res
    assert msg in res["msg"]
    assert "wrong" not in res["msg"] and "Traceback" not in res["msg"]
    assert data_dump(db) == before and os.listdir(dump_dir.real) == []


def test_info_reports_unreachable_without_failing(pg):
    res = run_module(pg, "metadb_info", {"login_port": 1})
    assert res.get("failed") is not True
    assert res["metadb"]["reachable"] is False and "cannot connect" in res["metadb"]["error"]


def test_dump_dir_on_a_full_filesystem(db, dump_dir):
    tiny = os.path.join(dump_dir.root, "tiny")
    os.makedirs(tiny)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", tiny], capture_output=True,
                      check=False).returncode:
        prerequisite_missing("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        res = run_module(db, "metadb_repair", {"dump_dir": "/tiny/dumps", "host_root": dump_dir.root,
                                               "repairs": ["reindex", "stale_backups"]})
        assert res.get("failed") is True and "not enough free space" in res["msg"], res
        assert db.sql("SELECT count(*) FROM backup WHERE state = 'In Progress'") == "21"
        # check mode refuses alike (every refusal comes before anything is stopped) ...
        res = run_module(db, "metadb_repair", {"dump_dir": "/tiny/dumps", "host_root": dump_dir.root,
                                               "repairs": ["reindex", "stale_backups"]}, check=True)
        assert res.get("failed") is True and "not enough free space" in res["msg"], res
        assert "nothing was changed" in res["msg"], res
        # ... unless an earlier step of the run (a disk cleanup) plans to free that space
        res = run_module(db, "metadb_repair", {"dump_dir": "/tiny/dumps", "host_root": dump_dir.root,
                                               "repairs": ["reindex", "stale_backups"],
                                               "planned_free_bytes": 1 << 30}, check=True)
        assert res.get("failed") is not True and res["changed"] is True, res
        assert db.sql("SELECT count(*) FROM backup WHERE state = 'In Progress'") == "21"
    finally:
        subprocess.run(["umount", tiny], check=False)


def test_refuses_while_the_platform_runs(db, dump_dir):
    root = dump_dir.root
    launcher = os.path.join(root, "opt/yugabyte/software/2.18.1.0-b84/yb-platform/yugaware/bin/yugaware")
    os.makedirs(os.path.dirname(launcher))
    os.makedirs(os.path.join(root, "opt/yugabyte/data"))
    with open(launcher, "w", encoding="utf-8") as handle:
        handle.write("import time\ntime.sleep(60)\n")
    os.chmod(launcher, 0o755)
    proc = subprocess.Popen([sys.executable, launcher])
    try:
        res = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": root,
                                               "repairs": ["reindex", "stale_backups"]})
        assert res.get("failed") is True and "refusing to repair the metadata DB while the YBA platform runs" in \
            res["msg"], res
        assert db.sql("SELECT count(*) FROM backup WHERE state = 'In Progress'") == "21"
        # quiesced=true means "stopped for this repair and kept down": a platform that runs is refused ...
        back = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": root,
                                                "repairs": ["reindex", "stale_backups"], "quiesced": True})
        assert back.get("failed") is True and "the platform runs (pid %d)" % proc.pid in back["msg"], back
        assert db.sql("SELECT count(*) FROM backup WHERE state = 'In Progress'") == "21"
        # ... while its plan, made before the role stops the platform, reports it and goes on
        plan = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": root,
                                                "repairs": ["reindex", "stale_backups"], "quiesced": True}, check=True)
        assert plan.get("failed") is not True and plan["changed"] is True and plan["platform"]["pid"] == proc.pid, plan
    finally:
        proc.kill()
        proc.wait()


def test_kill_in_the_middle_leaves_no_partial_change(db, dump_dir):
    """The stale_tasks repair updates customer_task, then blocks on a row lock of task_info; killing the module
    there (and its psql) must leave customer_task unchanged too: one transaction per repair kind."""
    locker = subprocess.Popen([db.psql, "-XAtq", "-h", db.host, "-p", str(db.port), "-U", "postgres", "-d", "yugaware",
                               "-c", "BEGIN; SELECT 1 FROM task_info WHERE uuid = '%s' FOR UPDATE; "
                               "SELECT pg_sleep(60);" % STALE_TASK], stdout=subprocess.DEVNULL)
    path = args_file(db, {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": ["stale_tasks"], "lock_timeout": 60})
    module = subprocess.Popen(module_cmd("metadb_repair") + [path], env=env(), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert pgtemp.wait_for(lambda: db.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'yba.remediation' "
            "AND wait_event_type = 'Lock'") == "1"), "the repair never reached the lock"
        # the first statement of the transaction has run: customer_task is updated, uncommitted
        pgtemp.kill_group(module)
    finally:
        locker.send_signal(signal.SIGINT)
        db.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
               "AND pid <> pg_backend_pid()")
        locker.wait()
        os.unlink(path)
    assert pgtemp.wait_for(lambda: db.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'yba.remediation'") == "0")
    assert db.sql("SELECT completion_time IS NULL FROM customer_task WHERE task_uuid = '%s'" % STALE_TASK) == "t"
    assert db.sql("SELECT task_state FROM task_info WHERE uuid = '%s'" % STALE_TASK) == "Running"
    # a later run completes the job
    time.sleep(0.1)
    res = run_module(db, "metadb_repair", {"dump_dir": dump_dir.arg, "host_root": dump_dir.root, "repairs": ["stale_tasks"]})
    assert res["repairs"]["stale_tasks"]["rows"] == {"customer_task": 1, "task_info": 2}, res


ROLE_PLAYBOOK = """
- name: The metadb_repair role, on a host whose filesystem the controller does not share
  hosts: yba
  gather_facts: false
  roles:
    - role: yba.remediation.metadb_repair
      vars:
        metadb_repair_host_root: "{root}"
        metadb_repair_dump_dir: /var/backups/yba-remediation/metadb
        metadb_repair_repairs: [reindex, stale_tasks, stale_backups]
        metadb_repair_quiesced: true
        metadb_repair_login_port: {port}
        metadb_repair_psql_path: "{psql}"
"""


def test_role_verifies_the_dump_on_the_host_not_on_the_controller(db, dump_dir):
    """The role's dump check must look at the YBA host. Here the "host" is this machine seen through a private
    mount namespace with a tmpfs on its dump directory, so the dump exists for the host only (as on a real,
    remote YBA host): a controller-side test (``is ansible.builtin.file``) fails, a stat on the host passes."""
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.access(ansible_playbook, os.X_OK):
        pytest.fail("ansible-playbook not next to %s" % sys.executable)
    backups = os.path.join(dump_dir.root, "var/backups")
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                               'mount -t tmpfs -o size=256m,mode=0755 tmpfs "$1" && echo ready && exec sleep 600',
                               "sh", backups], stdout=subprocess.PIPE, text=True)
    work = tempfile.mkdtemp(prefix="metadb-role-")
    try:
        assert holder.stdout.readline().strip() == "ready", "could not make the host's mount namespace"
        # every module of the play runs inside the host's namespace; the controller stays outside it
        interpreter = os.path.join(work, "host-python")
        with open(interpreter, "w", encoding="utf-8") as handle:
            handle.write('#!/bin/sh\nexec nsenter -t %d -m -- %s "$@"\n' % (holder.pid, sys.executable))
        os.chmod(interpreter, 0o755)
        inventory = os.path.join(work, "inventory.ini")
        with open(inventory, "w", encoding="utf-8") as handle:
            handle.write("[yba]\nyba-host ansible_connection=local ansible_python_interpreter=%s\n" % interpreter)
        playbook = os.path.join(work, "play.yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            handle.write(ROLE_PLAYBOOK.format(root=dump_dir.root, port=db.port, psql=pgtemp.PG_BIN))
        config = os.path.join(work, "ansible.cfg")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("[defaults]\n")
        environ = env()
        environ.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_CONFIG=config, ANSIBLE_NOCOLOR="1",
                       ANSIBLE_LOCAL_TEMP=os.path.join(work, "local-tmp"), ANSIBLE_HOME=os.path.join(work, "home"))
        proc = subprocess.run([ansible_playbook, "-i", inventory, playbook], capture_output=True, text=True,
                              env=environ, timeout=300, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-6000:]
        assert "Stat the dump on the host" in out and "metadata DB clean" in out, out[-6000:]
        # the dump is on the host (in its namespace) and nowhere on the controller
        dumps = subprocess.run(["nsenter", "-t", str(holder.pid), "-m", "--", "find", backups, "-name", "*.dump"],
                               capture_output=True, text=True, check=True).stdout.split()
        assert len(dumps) == 1 and not os.path.exists(dumps[0]), dumps
        assert db.sql("SELECT count(*) FROM backup WHERE state = 'In Progress'") == "1"  # the live one
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["rm", "-rf", work], check=False)


@pytest.mark.parametrize("ci, outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_prerequisite_fails_in_ci_and_skips_elsewhere(ci, outcome):
    env = dict(os.environ, CI=ci, PG_BIN="/nonexistent/postgresql/bin")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                           "-k", "test_schema_is_yba_s"], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert outcome in proc.stdout, proc.stdout + proc.stderr
    assert (proc.returncode != 0) == bool(ci), proc.stdout
    if ci:
        assert "prerequisite missing in CI: needs the PostgreSQL 15 server binaries" in proc.stdout
