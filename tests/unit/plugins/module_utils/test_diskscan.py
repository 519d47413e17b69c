# Unit tests for _diskscan: streaming scan, candidates, open files, symlink safety and safe delete.
from __future__ import annotations

import os
import time

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _diskscan, _layout
from ansible_collections.yba.remediation.plugins.module_utils._cleanup import plan_cleanup, validate_policy

from ansible_collections.yba.remediation.tests.unit.plugins.module_utils.test_layout import build_installer

OLD = time.time() - 40 * 86400
ELF_CORE = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x04\x00" + b"\x00" * 100


def put(path, data=b"x" * 5000, mtime=OLD):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture()
def host(tmp_path):
    root = str(tmp_path / "host")
    inst = build_installer(root)
    data = os.path.join(inst, "data")
    for day in range(1, 21):
        put(os.path.join(data, "logs", "application-log-2024-01-%02d.gz" % day), mtime=OLD - day * 86400)
        put(os.path.join(data, "logs", "audit-log-2024-01-%02d.gz" % day), mtime=OLD - day * 86400)
    put(os.path.join(data, "logs", "application.log"))
    put(os.path.join(root, "opt/yba-ctl/log_bundles/yba_installer_bundle-1700000000.tar.gz"))
    put(os.path.join(root, "opt/yba-ctl/log_bundles/yba_installer_bundle-1700000100.tar.gz"), mtime=OLD + 100)
    put(os.path.join(data, "platform_dump.sql"))
    put(os.path.join(inst, "backup_24-01-29-10-00.tgz"))
    put(os.path.join(data, "core.12345"), ELF_CORE)
    put(os.path.join(inst, "software/2.18.1.0-b84/core"), ELF_CORE)  # inside the active release: never
    put(os.path.join(inst, "software/2.18.1.0-b84/lib/core"), b"not a core dump, a file named core")
    put(os.path.join(inst, "software/2.16.5.0-b1/yb-platform/lib/a.jar"))
    put(os.path.join(inst, "software/2.14.0.0-b9/yb-platform/lib/a.jar"))
    put(os.path.join(data, "yb-platform/releases/2.18.1.0-b84/yugabyte-2.18.1.0-b84-linux-x86_64.tar.gz"))
    put(os.path.join(data, "yb-platform/releases/2.16.0.0-b2/yugabyte-2.16.0.0-b2-linux-x86_64.tar.gz"))
    put(os.path.join(data, "postgres/base/1/1234"))
    put(os.path.join(data, "postgres/core"), ELF_CORE)
    put(os.path.join(data, "prometheus/storage/01ABC/chunks/000001"))
    put(os.path.join(root, "tmp/yba-upload-1/part1"))
    put(os.path.join(root, "tmp/unrelated.txt"))
    put(os.path.join(root, "etc/passwd"))
    # planted symlinks: out of the host, at /etc, at the DB dir, and a staging-looking link to the DB
    os.symlink("/etc", os.path.join(data, "logs", "etc-link"))
    os.symlink(os.path.join(data, "postgres"), os.path.join(data, "logs", "application-log-2023-01-01.gz"))
    os.symlink("/opt/yugabyte/data/postgres", os.path.join(root, "tmp", "yba-evil"))
    os.symlink("/", os.path.join(inst, "backup_23-01-01-00-00.tgz"))
    return root


def scan(root, **kw):
    lay = _layout.detect(root)
    kw.setdefault("tmp_dir", lay.tmp_dir)
    kw.setdefault("staging_patterns", ["yba-*"])
    return lay, list(_diskscan.scan_candidates(lay, **kw))


def test_candidates_by_category(host):
    lay, cands = scan(host)
    by = {}
    for c in cands:
        by.setdefault(c.category, []).append(c)
    assert len(by["logs"]) == 40
    assert {c.family.rsplit("/", 1)[1] for c in by["logs"]} == {"application", "audit"}
    assert len(by["log_bundles"]) == 2
    archives = {os.path.basename(c.path) for c in by["backup_archives"]}
    assert archives == {"platform_dump.sql", "backup_24-01-29-10-00.tgz"}
    assert [os.path.basename(c.path) for c in by["core_dumps"]] == ["core.12345"]
    assert {c.version for c in by["software"]} == {"2.18.1.0-b84", "2.16.5.0-b1", "2.14.0.0-b9"}
    assert {c.version for c in by["releases"]} == {"2.18.1.0-b84", "2.16.0.0-b2"}
    assert [os.path.basename(c.path) for c in by["staging"]] == ["yba-upload-1"]
    assert by["staging"][0].kind == "dir" and by["staging"][0].size == 5000
    every = [c.path for c in cands]
    assert not any("/postgres" in p for p in every)
    assert not any(os.path.islink(p) for p in every)


def test_symlink_escape_never_deleted(host):
    lay, cands = scan(host)
    cats = ("logs", "log_bundles", "backup_archives", "core_dumps", "releases")
    pol = validate_policy({k: {"age_days": 0} for k in cats})
    pol["logs"]["keep"] = 0
    pol["staging"]["age_hours"] = 0
    allowed = [lay.install_root, lay.yba_ctl_home, lay.tmp_dir]
    prot = _layout.protected_paths(lay)
    plan = plan_cleanup(cands, pol, now=time.time(), protected=prot, allowed_roots=allowed,
                        active_version=lay.active_version, rollback_version=lay.rollback_version,
                        releases_in_use=["2.18.1.0-b84"])
    for unit in plan.units:
        _diskscan.delete_unit(unit, allowed, prot, set())
    assert os.path.exists(os.path.join(host, "etc/passwd"))
    assert os.path.exists("/etc/passwd")
    assert os.path.exists(os.path.join(lay.postgres_data, "base/1/1234"))
    assert os.path.exists(os.path.join(lay.postgres_data, "core"))
    assert os.path.isdir(lay.active_software)
    assert os.path.isdir(os.path.join(lay.software_dir, "2.16.5.0-b1"))  # rollback
    assert not os.path.exists(os.path.join(lay.software_dir, "2.14.0.0-b9"))
    assert os.path.exists(os.path.join(lay.releases_dir, "2.18.1.0-b84"))
    assert not os.path.exists(os.path.join(lay.releases_dir, "2.16.0.0-b2"))
    assert os.path.exists(os.path.join(lay.active_software, "lib/core"))
    assert os.path.exists(os.path.join(lay.active_software, "core"))
    assert not os.path.exists(os.path.join(lay.data_dir, "core.12345"))
    assert os.path.exists(os.path.join(host, "tmp/unrelated.txt"))
    assert os.path.islink(os.path.join(host, "tmp/yba-evil"))
    assert os.path.exists(os.path.join(lay.logs_dir, "application.log"))
    assert len([n for n in os.listdir(lay.logs_dir) if n.endswith(".gz")]) == 1  # only the symlink left
    # second scan + plan: nothing left to do
    _lay, again = scan(host)
    plan2 = plan_cleanup(again, pol, now=time.time(), protected=prot, allowed_roots=allowed,
                         active_version=lay.active_version, rollback_version=lay.rollback_version,
                         releases_in_use=["2.18.1.0-b84"])
    assert plan2.units == []


def test_open_file_is_detected_and_kept(host):
    lay = _layout.detect(host)
    target = os.path.join(lay.logs_dir, "application-log-2024-01-20.gz")
    with open(target, "rb"):
        opened = _diskscan.open_inodes()
        st = os.stat(target)
        assert (st.st_dev, st.st_ino) in opened
        _lay, cands = scan(host, opened=opened)
        match = [c for c in cands if c.path == target]
        assert match and match[0].open
        with pytest.raises(_diskscan.DeleteRefused, match="open by a running process"):
            _diskscan.delete_unit(match[0], [lay.install_root], (), opened)
    assert os.path.exists(target)


def test_delete_refuses_replaced_and_swapped_parent(host, tmp_path):
    lay, cands = scan(host)
    bundle = [c for c in cands if c.category == "log_bundles"][0]
    os.unlink(bundle.path)
    put(bundle.path)  # a new file with the same name: different inode
    with pytest.raises(_diskscan.DeleteRefused):
        _diskscan.delete_unit(bundle, [lay.yba_ctl_home], (), set())
    # parent swapped for a symlink after planning
    other = [c for c in cands if c.category == "backup_archives" and c.path.endswith(".tgz")][0]
    moved = str(tmp_path / "moved")
    os.rename(lay.install_root, moved)
    os.symlink(moved, lay.install_root)
    with pytest.raises(_diskscan.DeleteRefused, match="symlink"):
        _diskscan.delete_unit(other, [lay.install_root], (), set())
    assert os.path.exists(os.path.join(moved, os.path.basename(other.path)))


def test_usage_by_category(host):
    lay = _layout.detect(host)
    usage = _diskscan.usage_by_category(lay)
    assert usage["logs"] > 0 and usage["postgres"] > 0 and usage["software"] > 0 and usage["releases"] > 0
    assert usage["log_bundles"] > 0 and usage["backup_archives"] > 0 and usage["prometheus"] > 0
    assert usage["core_dumps"] > 0
    total = sum(usage.values())
    assert total == _diskscan.tree_stats(lay.install_root)[1] + _diskscan.tree_stats(lay.yba_ctl_home)[1]


def test_volume_and_recommendation(host):
    lay = _layout.detect(host)
    vol = _diskscan.volume(lay.install_root)
    assert 0 <= vol.used_percent <= 100
    rec = _diskscan.prometheus_recommendation(lay)
    assert rec["retention"] == "30d" and "prometheus.retentionTime" in rec["message"]


def test_rotated_family():
    assert _diskscan.rotated_family("application-log-2024-01-31.gz") == "application"
    assert _diskscan.rotated_family("audit-log-2024-01-31.gz") == "audit"
    assert _diskscan.rotated_family("postgres.log.1") == "postgres.log"
    assert _diskscan.rotated_family("prometheus.log.2.gz") == "prometheus.log"
    assert _diskscan.rotated_family("yba-ctl.log-20240131.gz") == "yba-ctl"
    assert _diskscan.rotated_family("application.log") is None
    assert _diskscan.rotated_family("postgres.log") is None


CONFIG_COPIES = ("yba-ctl.yml.2026-11-20", "yba-ctl.yml-20261120", "yba-ctl.yml.bak", "yba-ctl.yml~",
                 "yba-ctl.yml.orig", "yba-ctl.yaml.2025-01-01.gz", "server.pem.2024-01-01", "settings.json.1")


def test_config_copies_in_the_yba_ctl_home_are_never_logs(host):
    """Dated copies and backups of yba-ctl.yml (and of any config) in the yba-ctl home and the logs dir are kept."""
    lay = _layout.detect(host)
    copies = [put(os.path.join(lay.yba_ctl_home, n)) for n in CONFIG_COPIES]
    copies += [put(os.path.join(lay.logs_dir, "yb-platform.conf.2024-01-01")),
               put(os.path.join(lay.logs_dir, "logback.xml.2024-01-01.gz"))]
    rotated = put(os.path.join(lay.yba_ctl_home, "yba-ctl.log-20240131.gz"))
    _lay, cands = scan(host)
    by_path = {c.path: c for c in cands}
    assert by_path[rotated].category == "logs"
    assert [p for p in copies if p in by_path] == []
    pol = validate_policy({"logs": {"age_days": 0, "keep": 0}})
    allowed = [lay.install_root, lay.yba_ctl_home]
    prot = _layout.protected_paths(lay)
    plan = plan_cleanup(cands, pol, now=time.time(), protected=prot, allowed_roots=allowed, releases_in_use=[])
    for unit in plan.units:
        _diskscan.delete_unit(unit, allowed, prot, set())
    assert not os.path.exists(rotated)
    assert [p for p in copies if not os.path.exists(p)] == []


def test_delete_refuses_a_config_named_file(host):
    lay = _layout.detect(host)
    path = put(os.path.join(lay.yba_ctl_home, "yba-ctl.yml.2026-11-20"))
    st = os.lstat(path)
    fake = _diskscan.Candidate("logs", path, "file", st.st_size, st.st_blocks * 512, st.st_mtime, st.st_dev,
                               st.st_ino, "yba-ctl.yml", "", False)
    with pytest.raises(_diskscan.DeleteRefused, match="configuration file"):
        _diskscan.delete_unit(fake, [lay.yba_ctl_home], (), set())
    assert os.path.exists(path)


def test_newest_createbackup_archive_survives_the_most_aggressive_policy(host, tmp_path):
    """The createBackup archive a restoreBackup needs is never deleted, even with keep forced to 0."""
    lay = _layout.detect(host)
    out = os.path.join(lay.install_root, "data", "yba_backups")
    older = put(os.path.join(out, "backup_24-01-01-10-00.tgz"), mtime=OLD - 5 * 86400)
    newest = put(os.path.join(out, "backup_24-02-01-10-00.tgz"), mtime=OLD + 5 * 86400)
    _lay, cands = scan(host)
    pol = validate_policy({"backup_archives": {"age_days": 0}})
    pol["backup_archives"]["keep"] = 0  # as a caller bypassing validate_policy would
    allowed = [lay.install_root, lay.yba_ctl_home]
    plan = plan_cleanup(cands, pol, now=time.time(), protected=_layout.protected_paths(lay), allowed_roots=allowed,
                        releases_in_use=[])
    planned = {u.path for u in plan.units}
    assert older in planned and os.path.join(lay.install_root, "backup_24-01-29-10-00.tgz") in planned
    assert newest not in planned
    assert {"path": newest, "category": "backup_archives", "reason": "newest 1 of createBackup kept"} in plan.skipped
