# Unit tests of _upgrade: yba-ctl output parsers, bundle tarballs, archives (version order: test_version_order.py).
from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pytest

from ci_prerequisites import prerequisite_missing  # tests/unit/ci_prerequisites.py

from ansible_collections.yba.remediation.plugins.module_utils import _upgrade


def test_parse_ybactl_version() -> None:
    out = "INFO[2024-01-01T00:00:00Z] something\nYBA Installer: 2.20.1.3-b3\nYugabyteDB Anywhere: 2.18.1.0-b84\n"
    assert _upgrade.parse_ybactl_version(out) == {"installer": "2.20.1.3-b3", "yba": "2.18.1.0-b84"}
    assert _upgrade.parse_ybactl_version("garbage") == {"installer": None, "yba": None}


def tabwriter(rows):
    """What Go's tabwriter.NewWriter(os.Stdout, 3, 0, 1, ' ', 0) prints for PrintPreflightResults' rows."""
    cells = [["#", "Check name", "Status", "Error"]] + [[str(i + 1)] + list(r) for i, r in enumerate(rows)]
    widths = [max(max(len(c[i]) for c in cells) + 1, 3) for i in range(3)]
    return "".join("".join(c[i].ljust(widths[i]) for i in range(3)) + c[3] + "\n" for c in cells)


def test_parse_preflight_real_table() -> None:
    text = "INFO[2024-01-01T00:00:00Z] Running preflight check 'python'\n" + tabwriter([
        ("license", "Critical", "stat /opt/yba-ctl/YBA.lic: no such file or directory"),
        ("disk-availability", "Warning", "Available disk space on volume / is less than minimum required 25 GiB"),
        ("install does not exist", "Pass", ""),
        ("cpu", "Skipped", ""),
    ])
    rows = _upgrade.parse_preflight(text)
    assert rows == [
        {"name": "license", "status": "Critical", "error": "stat /opt/yba-ctl/YBA.lic: no such file or directory"},
        {"name": "disk-availability", "status": "Warning",
         "error": "Available disk space on volume / is less than minimum required 25 GiB"},
        {"name": "install does not exist", "status": "Pass", "error": ""},
        {"name": "cpu", "status": "Skipped", "error": ""},
    ]


def test_parse_preflight_tabs_and_fatal_tail() -> None:
    text = "#\tCheck name\tStatus\tError\n1\tpython\tCritical\tpython3 not found\n2\tmemory\tPass\t\n" \
           "FATAL[2024-01-01T00:00:00Z] preflight failed\n"
    assert _upgrade.parse_preflight(text) == [{"name": "python", "status": "Critical", "error": "python3 not found"},
                                              {"name": "memory", "status": "Pass", "error": ""}]
    assert _upgrade.parse_preflight("usage: yba-ctl [-h]\n") == []


def make_tar(path, members):
    """members: (name, bytes|None for a dir, linkname for a symlink when given as ('sym', target))."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif isinstance(data, tuple):
                info.type = tarfile.SYMTYPE
                info.linkname = data[1]
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755
                tar.addfile(info, io.BytesIO(data))
    return str(path)


META = json.dumps({"version_number": "2.20.1.3", "build_number": "3"}).encode()
TOP = "yba_installer_full-2.20.1.3-b3"


def good_bundle(tmp_path):
    return make_tar(tmp_path / ("%s-linux-x86_64.tar.gz" % TOP), [
        (TOP, None), (TOP + "/version_metadata.json", META), (TOP + "/yba-ctl", b"#!/bin/sh\necho hi\n"),
        (TOP + "/link", ("sym", "yba-ctl"))])


def test_tarball_inspected_and_extracted_beside_itself(tmp_path) -> None:
    tarball = good_bundle(tmp_path)
    assert _upgrade.inspect_tarball(tarball) == (TOP, "2.20.1.3-b3")
    dest = _upgrade.extract_tarball(tarball, TOP)
    assert dest == str(tmp_path / TOP)
    assert _upgrade.bundle_dir_problem(dest) is None
    assert _upgrade.read_version_metadata(os.path.join(dest, "version_metadata.json")) == "2.20.1.3-b3"
    assert sorted(os.listdir(tmp_path)) == sorted([TOP, os.path.basename(tarball)])  # no temp dir left


def test_tarball_with_a_dot_member_first(tmp_path) -> None:
    """`tar -C dir -czf b.tgz .` starts with ./ (the archive's own directory): not unsafe."""
    tarball = make_tar(tmp_path / ("%s-linux-x86_64.tar.gz" % TOP), [
        ("./", None), ("./" + TOP, None), ("./%s/version_metadata.json" % TOP, META),
        ("./%s/yba-ctl" % TOP, b"#!/bin/sh\necho hi\n")])
    assert _upgrade.inspect_tarball(tarball) == (TOP, "2.20.1.3-b3")
    dest = _upgrade.extract_tarball(tarball, TOP)
    assert _upgrade.bundle_dir_problem(dest) is None
    assert sorted(os.listdir(tmp_path)) == sorted([TOP, os.path.basename(tarball)])


@pytest.mark.parametrize("members,msg", [
    ([(TOP + "/version_metadata.json", META), ("../evil", b"x")], "leaves the bundle directory"),
    ([(TOP + "/version_metadata.json", META), ("/etc/evil", b"x")], "leaves the bundle directory"),
    ([(TOP + "/version_metadata.json", META), (TOP + "/l", ("sym", "/etc/passwd"))], "points outside"),
    ([(TOP + "/version_metadata.json", META), (TOP + "/l", ("sym", "../../x"))], "points outside"),
    ([(TOP + "/version_metadata.json", META), ("other/x", b"x")], "one top directory"),
    ([(TOP + "/yba-ctl", b"x")], "no %s/version_metadata.json" % TOP),
])
def test_tarball_refused(tmp_path, members, msg) -> None:
    tarball = make_tar(tmp_path / "b.tgz", members)
    with pytest.raises(ValueError, match=msg):
        _upgrade.inspect_tarball(tarball)


def archive(tmp_path, name="backup_24-01-01-00-00.tgz", dump=b"PGDMP\x01\x0e rest"):
    members = [("version_metadata_backup.json", META), ("data/yb-platform/keys/k", b"key")]
    if dump is not None:
        members.append(("platform_dump.sql", dump))
    return make_tar(tmp_path / name, members)


def test_verify_archive(tmp_path) -> None:
    path = archive(tmp_path)
    info = _upgrade.verify_archive(path)
    assert info["dump_ok"] and info["size"] == os.path.getsize(path) and len(info["sha256"]) == 64
    assert info["sha256"] == _upgrade.sha256_file(path)
    assert "platform_dump.sql" in info["members"] and "version_metadata_backup.json" in info["members"]


@pytest.mark.parametrize("dump,msg", [
    (None, "holds no platform_dump.sql at its root"), (b"\x00garbage", "neither a pg_dump custom-format dump")])
def test_verify_archive_refuses(tmp_path, dump, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        _upgrade.verify_archive(archive(tmp_path, dump=dump))


REAL_DUMP_MEMBERS = [(".", None), ("./platform_dump.sql", b"PGDMP\x01\x0e rest"),
                     ("./version_metadata_backup.json", META), ("./data", None), ("./data/yb-platform", None),
                     ("./data/yb-platform/keys", None), ("./data/yb-platform/keys/k", b"key")]


def test_verify_archive_of_a_real_createbackup_with_dot_slash_names(tmp_path) -> None:
    """yb_platform_backup.sh tars `-C <dir> .`: members are ./platform_dump.sql etc.; members are reported without
    the ./ and without the archive's own directory."""
    info = _upgrade.verify_archive(make_tar(tmp_path / "backup_24-01-01-00-00.tgz", REAL_DUMP_MEMBERS))
    assert info["dump_ok"] is True
    assert info["members"] == ["data", "data/yb-platform", "data/yb-platform/keys", "platform_dump.sql",
                               "version_metadata_backup.json"]


def test_verify_archive_needs_version_metadata_at_the_root(tmp_path) -> None:
    members = [m for m in REAL_DUMP_MEMBERS if m[0] != "./version_metadata_backup.json"] + \
        [("./data/version_metadata_backup.json", META)]  # not at the root: restoreBackup does not find it there
    with pytest.raises(ValueError, match="holds no version_metadata_backup.json at its root"):
        _upgrade.verify_archive(make_tar(tmp_path / "b.tgz", members))
    with pytest.raises(ValueError, match="holds no platform_dump.sql and no version_metadata_backup.json"):
        _upgrade.verify_archive(make_tar(tmp_path / "c.tgz", [("./data/yb-platform/keys/k", b"key")]))


@pytest.mark.parametrize("dump", [b"PGDMP\x01\x0e", b"--\n-- YSQL database dump\n--\n", b"\n-- PostgreSQL dump\n"])
def test_verify_archive_accepts_custom_format_and_plain_sql(tmp_path, dump) -> None:
    """pg_dump -Fc (YBA on PostgreSQL) or ysql_dump's plain SQL (YBA's metadata in YBDB)."""
    assert _upgrade.verify_archive(archive(tmp_path, dump=dump))["dump_ok"] is True


def test_verify_archive_missing_or_empty(tmp_path) -> None:
    with pytest.raises(ValueError, match="No such file"):
        _upgrade.verify_archive(str(tmp_path / "nope.tgz"))
    (tmp_path / "empty.tgz").write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        _upgrade.verify_archive(str(tmp_path / "empty.tgz"))


def test_newest_backup_only_from_this_run(tmp_path) -> None:
    old = archive(tmp_path, "backup_23-01-01-00-00.tgz")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    since = time.time()
    assert _upgrade.newest_backup(str(tmp_path), since) is None
    new = archive(tmp_path, "backup_24-01-01-00-00.tgz")
    (tmp_path / "other.tgz").write_bytes(b"x")
    assert _upgrade.newest_backup(str(tmp_path), since) == new
    assert _upgrade.newest_backup(str(tmp_path / "missing"), since) is None


BASE = dict(target_version="2.20.1.3-b3", bundle="/tmp/b.tgz", step="preflight", skip_checks=[],
            yba_ctl_skip_preflight=[], upgrade_timeout=1800, ready_timeout=600, min_free_mb=25600,
            yba_url="https://localhost", yba_api_token="t0ken-value")


@pytest.mark.parametrize("params,msg", [
    (dict(target_version="latest"), "target_version must be a YugabyteDB Anywhere version like 2.20.1.3-b3"),
    (dict(bundle="b.tgz"), "bundle must be an absolute path on the YBA host, got 'b.tgz'"),
    (dict(bundle_sha256="abc"), "bundle_sha256 must be 64 hex digits (a sha256), got 'abc'"),
    (dict(backup_sha256="z" * 64), "backup_sha256 must be 64 hex digits"),
    (dict(skip_checks=["bundle"]), "skip_checks: bundle cannot be skipped (never skippable: bundle, installed_version, "
                                   "target_newer, install_type)"),
    (dict(skip_checks=["nope"]), "skip_checks: unknown check 'nope'"),
    (dict(yba_ctl_skip_preflight=["a,b"]), "yba_ctl_skip_preflight: 'a,b' is not a yba-ctl preflight check name"),
    (dict(upgrade_timeout=0), "upgrade_timeout must be a positive number of seconds, got 0"),
    (dict(step="upgrade"), "step=upgrade needs backup_archive (the archive step=backup returned), or skip_backup"),
    (dict(step="upgrade", backup_archive="/b.tgz"), "step=upgrade needs backup_copy"),
    (dict(yba_url=None), "yba_url is required"),
])
def test_validate(params, msg) -> None:
    got = _upgrade.validate(dict(BASE, **params))
    assert got is not None and got.startswith(msg), got


def test_validate_accepts() -> None:
    assert _upgrade.validate(BASE) is None
    assert _upgrade.validate(dict(BASE, step="upgrade", skip_backup=True, skip_checks=["disk_space", "host_lock"],
                                  bundle_sha256="a" * 64)) is None


def test_size_text() -> None:
    assert _upgrade.size_text(25600) == "25 GiB" and _upgrade.size_text(16) == "16 MiB"


def test_run_command_timeout_kills_what_the_command_started(tmp_path) -> None:
    """yba-ctl createBackup/upgrade run the backup script and systemctl: a timeout kills the whole process group,
    not only yba-ctl (before, the child ran on unseen)."""
    from ansible_collections.yba.remediation.plugins.module_utils import _service

    pidfile = tmp_path / "child.pid"
    res = _service.run_command(["sh", "-c", "sleep 60 & echo $! > %s; echo started; wait" % pidfile], timeout=1)
    assert res.timed_out and res.rc == 124 and "killed with its process group" in res.stderr
    assert res.stdout.strip() == "started"
    child = int(pidfile.read_text().strip())
    deadline = time.time() + 5
    while time.time() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the command's child %d survived the timeout" % child
    # the other outcomes keep their meaning
    assert _service.run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10).rc == 3
    assert _service.run_command([str(tmp_path / "missing")], timeout=10).rc == 127
    ok = _service.run_command(["pwd"], timeout=10, cwd=str(tmp_path))
    assert ok.rc == 0 and ok.stdout.strip() == str(tmp_path) and not ok.timed_out


def _alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_running_restores_counts_yba_s_stored_states_on_postgres() -> None:
    """A real PostgreSQL with YBA's restore table: models/Restore.java stores @EnumValue("In Progress") (and
    "Created"); 'Completed'/'Failed' rows do not count (before, 'In Progress' rows were missed)."""
    import subprocess
    import sys

    from ansible_collections.yba.remediation.plugins.module_utils import _metadb

    collection = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_metadb.__file__))))
    sys.path.insert(0, os.path.join(collection, "benchmarks"))
    import metadb_repair_pg as pgtemp  # pylint: disable=import-error,import-outside-toplevel

    if os.geteuid() != 0 or not os.access(os.path.join(pgtemp.PG_BIN, "initdb"), os.X_OK):
        prerequisite_missing("needs root and the PostgreSQL 15 server binaries (PG_BIN=%s)" % pgtemp.PG_BIN)
    server = pgtemp.TempPostgres().start()
    try:
        server.sql("CREATE DATABASE yugaware;", db="postgres")

        def runner(args, data, env):
            proc = subprocess.run(args, input=data, capture_output=True, text=True, env=dict(os.environ, **env),
                                  check=False)
            return proc.returncode, proc.stdout, proc.stderr

        params = {"login_host": server.host, "login_port": server.port, "psql_path": pgtemp.PG_BIN}
        assert _metadb.running_restores(params, None, runner) == 0  # no restore table: nothing runs
        server.sql("CREATE TABLE restore (restore_uuid uuid PRIMARY KEY, state varchar(50) NOT NULL); "
                   "INSERT INTO restore VALUES (gen_random_uuid(), 'In Progress'), (gen_random_uuid(), 'Created'), "
                   "(gen_random_uuid(), 'Completed'), (gen_random_uuid(), 'Failed'), (gen_random_uuid(), 'Aborted');")
        assert _metadb.running_restores(params, None, runner) == 2
    finally:
        server.destroy()
