# Unit tests of the platform_upgrade module: a host tree under tmp_path with fake yba-ctl scripts on disk (the installed
# one and the bundle's), the API routed to a fake that reads the same state file, the metadata DB readers faked.
from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import typing as t

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api, _metadb
from ansible_collections.yba.remediation.plugins.modules import platform_upgrade
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import Done, route_api

TOKEN = "upgrade-secret-token-4242"
DB_PASSWORD = "db-secret-pass-7777"
OLD, NEW = "2.18.1.0-b84", "2.20.1.3-b3"
TOP = "yba_installer_full-2.20.1.3-b3"
CUSTOMER = "f33e3c9b-75ab-4c30-80ad-cba85646ea39"

# The fake yba-ctl: state in a JSON file (version, services, fault switches); host paths under ROOT.
FAKE_CTL = r'''#!{python}
import json, os, sys, tarfile, time, io
ROOT = {root!r}
STATE = {state!r}
BUNDLE = {bundle}
with open(STATE) as fh:
    st = json.load(fh)
args = [a for a in sys.argv[1:] if a != "-f"]
cmd = args[0] if args else ""
def save():
    with open(STATE, "w") as fh:
        json.dump(st, fh)
if cmd == "version":
    print("YBA Installer: %s" % st["version"])
    print("YugabyteDB Anywhere: %s" % st["version"])
elif cmd == "status":
    print("Services:")
    print(" Systemd service | Version | Running Status |")
    for s in ("postgres", "prometheus", "yb-platform"):
        print(" %s | %s | %s |" % (s, st["version"], st["services"].get(s, "Running")))
elif cmd == "createBackup":
    out = ROOT + args[1]
    os.makedirs(out, exist_ok=True)
    print("INFO[x] Creating a backup of YBA")
    path = os.path.join(out, time.strftime("backup_%y-%m-%d-%H-%M.tgz", time.gmtime()))
    with tarfile.open(path, "w:gz") as tar:  # yb_platform_backup.sh tars -C <dir> .: ./ names
        for name, data in (("./platform_dump.sql", st.get("dump", "PGDMP\x01rest").encode("latin-1")),
                           ("./version_metadata_backup.json", b"{{}}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    st.setdefault("calls", []).append(sys.argv[1:])
    # 2.18/2.20: yb-platform stopped for the dump, restarted with systemctl, not waited for: the API does not
    # answer for a while after createBackup returns
    st["api_down_probes"] = st.get("backup_restart_probes", 0)
    save()
    sys.exit(st.get("backup_rc", 0))
elif cmd == "preflight":
    if BUNDLE is None:
        sys.exit("not a bundle")
    print("INFO[x] Running preflight checks")
    rows = st.get("preflight", [["install-exists", "Pass", ""], ["disk-availability", "Pass", ""]])
    print("#  Check name          Status   Error")
    for i, (n, s, e) in enumerate(rows):
        print("%-3s%-20s%-9s%s" % (i + 1, n, s, e))
    st.setdefault("calls", []).append(["preflight"] + args[1:])
    save()
    sys.exit(1 if any(r[1] == "Critical" for r in rows) else 0)
elif cmd == "upgrade":
    st.setdefault("calls", []).append(["upgrade", os.getcwd()] + args[1:])
    if BUNDLE is None:
        sys.exit("FATAL Upgrade must be executed from the target yba bundle, not the existing install")
    if st.get("upgrade_fault") == "die-halfway":
        st["services"]["yb-platform"] = "Stopped"
        save()
        print("FATAL upgrade died halfway", file=sys.stderr)
        sys.exit(1)
    with open(os.path.join(BUNDLE, "version_metadata.json")) as fh:
        meta = json.load(fh)
    st["version"] = "%s-b%s" % (meta["version_number"], meta["build_number"])
    save()
else:
    sys.exit("unknown command %s" % cmd)
'''


class FakeYBA:
    def __init__(self, state_file: str) -> None:
        self.state_file = state_file
        self.tasks: t.List[t.Dict[str, t.Any]] = []
        self.schedules = [{"scheduleUUID": "s1", "status": "Active"}, {"scheduleUUID": "s2", "status": "Paused"}]
        self.schedules_after: t.Optional[t.List[t.Dict[str, t.Any]]] = None
        self.down = False
        self.schedules_error: t.Optional[str] = None  # "before" | "after": GET schedules fails then
        self.version_format = lambda v: v  # what app_version answers for the installed version

    def state(self) -> t.Dict[str, t.Any]:
        with open(self.state_file) as fh:
            return json.load(fh)

    def send(self, client: t.Any, method: str, path: str, body: t.Any) -> t.Any:
        st = self.state()
        if self.down or st["services"].get("yb-platform", "Running") != "Running":
            raise _api.YBAUnreachable("connection refused", method=method, path=path)
        if path == "/api/v1/app_version":
            if st.get("api_down_probes"):
                st["api_down_probes"] -= 1
                with open(self.state_file, "w") as fh:
                    json.dump(st, fh)
                raise _api.YBAUnreachable("connection refused (restarting)", method=method, path=path)
            return {"version": self.version_format(st["version"])}
        if path == "/api/v1/customers":
            return [{"uuid": CUSTOMER}]
        if path.endswith("/tasks_list"):
            return self.tasks
        if path.endswith("/schedules"):
            upgraded = st["version"] != st["initial"]
            if self.schedules_error == ("after" if upgraded else "before"):
                raise _api.YBAError("internal error", status=500, method=method, path=path)
            return self.schedules_after if upgraded and self.schedules_after is not None else self.schedules
        raise _api.YBANotFound("no route %s" % path, status=404)


def write_ctl(path: str, root: str, state: str, bundle: bool) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(FAKE_CTL.format(python=sys.executable, root=root, state=state,
                                 bundle="os.path.dirname(os.path.abspath(__file__))" if bundle else "None"))
    os.chmod(path, 0o755)


def bundle_tarball(root: str, state: str, version_number: str = "2.20.1.3", build: str = "3") -> str:
    """A bundle tarball on the host: one top dir with version_metadata.json and the bundle's yba-ctl."""
    src = os.path.join(root, "..", "bundle-src")
    write_ctl(os.path.join(src, "yba-ctl"), root, state, bundle=True)
    top = "yba_installer_full-%s-b%s" % (version_number, build)
    path = os.path.join(root, "opt/bundles", "%s-linux-x86_64.tar.gz" % top)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(src, "yba-ctl"), arcname=top + "/yba-ctl")
        meta = json.dumps({"version_number": version_number, "build_number": build}).encode()
        info = tarfile.TarInfo(top + "/version_metadata.json")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    return "/opt/bundles/%s-linux-x86_64.tar.gz" % top


CLEAN_DB = dict(_metadb.unreachable_info("x"), reachable=True, error=None, database_size_bytes=4 << 20)


@pytest.fixture
def host(tmp_path: t.Any, monkeypatch: t.Any, raw_results: None) -> t.Dict[str, t.Any]:
    root = str(tmp_path / "host")
    os.makedirs(os.path.join(root, "opt/yba-ctl"))
    with open(os.path.join(root, "opt/yba-ctl/yba-ctl.yml"), "w") as fh:
        fh.write("installRoot: /opt/yugabyte\n")
    for d in ("opt/yugabyte/software/" + OLD, "opt/yugabyte/data/yb-platform/keys", "run/lock"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.symlink(OLD, os.path.join(root, "opt/yugabyte/software/active"))
    state = str(tmp_path / "state.json")
    with open(state, "w") as fh:
        json.dump({"version": OLD, "initial": OLD, "services": {}}, fh)
    write_ctl(os.path.join(root, "usr/bin/yba-ctl"), root, state, bundle=False)
    fake = route_api(monkeypatch, FakeYBA(state))
    db = {"info": json.loads(json.dumps(CLEAN_DB)), "restores": 0}
    monkeypatch.setattr(_metadb, "collect_info", lambda params, layout, runner, **kw: db["info"])
    monkeypatch.setattr(_metadb, "running_restores", lambda params, layout, runner: db["restores"])
    return {"root": root, "state": state, "fake": fake, "db": db, "bundle": bundle_tarball(root, state)}


def st(host: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    with open(host["state"]) as fh:
        return json.load(fh)


def set_state(host: t.Dict[str, t.Any], **kw: t.Any) -> None:
    data = st(host)
    data.update(kw)
    with open(host["state"], "w") as fh:
        json.dump(data, fh)


def run(host: t.Dict[str, t.Any], check: bool = False, **args: t.Any) -> t.Dict[str, t.Any]:
    base = dict(target_version=NEW, bundle=host["bundle"], host_root=host["root"], yba_url="https://localhost",
                yba_api_token=TOKEN, login_password=DB_PASSWORD, min_free_mb=1, ready_timeout=5,
                _ansible_check_mode=check, _ansible_diff=True)
    base.update(args)
    with patch_module_args(base):
        with pytest.raises(Done) as info:
            platform_upgrade.main()
    result = info.value.result
    text = json.dumps(result)
    assert TOKEN not in text and DB_PASSWORD not in text
    return result


def test_check_mode_runs_every_check_and_changes_nothing(host: t.Dict[str, t.Any]) -> None:
    before = sorted(os.listdir(os.path.join(host["root"], "opt/bundles")))
    r = run(host, check=True, step="upgrade", skip_backup=True)
    assert not r["failed"], r["msg"]
    assert list(r["checks"]) == list(platform_upgrade._upgrade.CHECKS)
    assert r["checks"]["yba_ctl_preflight"]["status"] == "skipped"  # the tarball is extracted by the real run
    assert r["changed"] is True and r["action"] == "upgrade" and r["upgraded"] is False
    assert r["diff"] == {"before": {"version": OLD}, "after": {"version": NEW}}
    assert sorted(os.listdir(os.path.join(host["root"], "opt/bundles"))) == before
    assert "calls" not in st(host) and st(host)["version"] == OLD


def test_check_mode_diff_shows_the_version_change_of_the_steps_that_plan_it(host: t.Dict[str, t.Any]) -> None:
    """step=preflight plans the whole upgrade, step=backup only the backup: its diff keeps the version."""
    for step, after in (("preflight", NEW), ("backup", OLD), ("upgrade", NEW)):
        r = run(host, check=True, step=step, skip_backup=step == "upgrade")
        assert not r["failed"], r["msg"]
        assert r["diff"] == {"before": {"version": OLD}, "after": {"version": after}}, step
    assert st(host)["version"] == OLD


def test_bundle_pending_in_check_mode_and_before_the_copy(host: t.Dict[str, t.Any]) -> None:
    for check in (True, False):  # the caller copies the bundle after step=preflight, never in check mode
        r = run(host, check=check, step="preflight", bundle="/opt/bundles/not-yet.tgz", bundle_pending=True)
        assert not r["failed"], r["msg"]
        assert r["checks"]["bundle"]["status"] == "skipped" and "copied to the host after these checks" in \
            r["checks"]["bundle"]["message"]
        assert r["checks"]["yba_ctl_preflight"]["status"] == "skipped"
        assert r["changed"] is False
    r = run(host, step="backup", bundle="/opt/bundles/not-yet.tgz", bundle_pending=True)
    assert r["failed"] and r["failed_step"] == "preflight" and "bundle: /opt/bundles/not-yet.tgz does not exist" in r["msg"]


def test_preflight_extracts_and_parses_the_table(host: t.Dict[str, t.Any]) -> None:
    set_state(host, preflight=[["install-exists", "Pass", ""], ["memory", "Warning", "only 2 GB of memory"]])
    r = run(host, step="preflight", yba_ctl_skip_preflight=["cpu", "python"])
    assert not r["failed"], r["msg"]
    assert r["bundle_extracted"] == "/opt/bundles/" + TOP and r["changed"] is True
    assert r["checks"]["bundle"]["message"].endswith("(extracted to /opt/bundles/%s)" % TOP)
    assert r["yba_ctl_preflight"][1] == {"name": "memory", "status": "Warning", "error": "only 2 GB of memory"}
    assert r["checks"]["yba_ctl_preflight"]["status"] == "warning"
    assert st(host)["calls"] == [["preflight", "--upgrade", "-s", "cpu,python"]]
    # a second preflight reuses the extracted bundle: nothing changes
    r = run(host, step="preflight")
    assert r["changed"] is False and "already extracted" in r["checks"]["bundle"]["message"]


def test_critical_preflight_row_fails_naming_it(host: t.Dict[str, t.Any]) -> None:
    set_state(host, preflight=[["python", "Critical", "python3 not found"], ["cpu", "Pass", ""]])
    r = run(host, step="backup")
    assert r["failed"] and r["failed_step"] == "preflight"
    assert "yba_ctl_preflight: python Critical: python3 not found" in r["msg"] and r["backup"] is None
    assert [c[0] for c in st(host)["calls"]] == ["preflight"]  # no createBackup
    r = run(host, step="backup", skip_checks=["yba_ctl_preflight"])
    assert not r["failed"] and r["checks"]["yba_ctl_preflight"]["status"] == "skipped"


def test_backup_then_upgrade_then_idempotent(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="backup")
    assert not r["failed"], r["msg"]
    assert r["changed"] is True and r["backup"]["dump_ok"] and r["backup"]["path"].startswith("/opt/yugabyte/backups/")
    assert "platform_dump.sql" in r["backup"]["members"] and "restoreBackup %s" % r["backup"]["path"] in r["way_back"]
    assert st(host)["calls"][-1] == ["createBackup", "/opt/yugabyte/backups", "--exclude_prometheus",
                                     "--exclude_releases"]
    backup = r["backup"]
    r = run(host, step="upgrade", backup_archive=backup["path"], backup_sha256=backup["sha256"],
            backup_copy="controller:/b.tgz")
    assert not r["failed"], r["msg"]
    assert r["changed"] is True and r["upgraded"] is True and st(host)["version"] == NEW
    assert st(host)["calls"][-1] == ["upgrade", os.path.join(host["root"], "opt/bundles", TOP)]  # cwd = the bundle
    assert r["verify"]["app_version"] == NEW and r["verify"]["schedules_unchanged"] is True
    assert r["verify"]["services"]["yb-platform"] == "Running" and r["verify"]["authenticated"] is True
    assert r["diff"] == {"before": {"version": OLD}, "after": {"version": NEW}}
    assert "copy kept at controller:/b.tgz" in r["way_back"]
    # at the target: nothing, at any step
    calls = len(st(host)["calls"])
    for step in ("preflight", "backup"):
        r = run(host, step=step)
        assert not r["failed"] and r["changed"] is False and r["action"] == "none", r["msg"]
    r = run(host, step="upgrade", backup_archive=backup["path"], backup_copy="x")
    assert r["changed"] is False and r["action"] == "none" and r["checks"]["disk_space"]["status"] == "skipped"
    assert len(st(host)["calls"]) == calls


def test_downgrade_refused(host: t.Dict[str, t.Any]) -> None:
    set_state(host, version="2.20.2.0-b1", initial="2.20.2.0-b1")
    r = run(host, step="preflight")
    assert r["failed"] and r["msg"].startswith("preflight failed: target_newer: 2.20.1.3-b3 is older than the "
                                               "installed 2.20.2.0-b1; downgrades are not supported")


def test_bundle_of_another_version_or_bad_sha(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="preflight", target_version="2.20.1.4")
    assert r["failed"] and "bundle: %s is version 2.20.1.3-b3, not the target_version 2.20.1.4" % host["bundle"] in r["msg"]
    r = run(host, step="preflight", bundle_sha256="0" * 64)
    assert r["failed"] and "bundle_sha256 says 000" in r["msg"]
    assert not os.path.exists(os.path.join(host["root"], "opt/bundles", TOP))


def test_busy_unhealthy_and_dirty_db_fail_before_any_change(host: t.Dict[str, t.Any]) -> None:
    host["fake"].tasks = [{"id": "t1", "title": "Create Backup", "status": "Running"}]
    host["db"]["info"]["amcheck"]["corrupt"] = [{"index": "public.ix_b", "table": "public.backup", "error": "x"}]
    host["db"]["restores"] = 1
    set_state(host, services={"prometheus": "Stopped"})
    r = run(host, step="backup")
    assert r["failed"] and r["failed_step"] == "preflight"
    assert "no_running_tasks: wait for or stop: task Create Backup t1 (Running); 1 restores In Progress" in r["msg"]
    assert "platform_healthy: not Running: prometheus Stopped" in r["msg"]
    assert "metadb_clean: corrupt index public.ix_b on public.backup" in r["msg"]
    assert [c[0] for c in st(host)["calls"]] == ["preflight"]


def test_host_lock_owner(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="preflight", lock_owner="run-1")
    assert r["failed"] and "host_lock: the host lock is not held by run-1: no lock is held" in r["msg"]
    r = run(host, step="preflight")
    assert r["checks"]["host_lock"] == {"status": "warning", "message": "no lock_owner given; no lock is held"}
    r = run(host, step="preflight", lock_owner="run-1", check=True)  # a check run takes no lock: free is enough
    assert r["checks"]["host_lock"] == {"status": "pass", "message": "free: the real run takes it as run-1"}


def test_disk_space_message(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="preflight", min_free_mb=1 << 30)
    msg = r["checks"]["disk_space"]["message"]
    assert r["failed"] and "MiB free on /opt/yugabyte (volume of the install root), need" in msg
    assert "(1048576 GiB for the upgrade + the backup archive's estimated size)" in msg


def test_upgrade_that_dies_reports_the_way_back(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="backup")
    set_state(host, upgrade_fault="die-halfway")
    r = run(host, step="upgrade", backup_archive=r["backup"]["path"], backup_copy="s3://b/k")
    assert r["failed"] and r["failed_step"] == "upgrade" and r["changed"] is True and r["upgraded"] is False
    assert "yba-ctl upgrade failed" in r["msg"] and "upgrade died halfway" in r["msg"]
    assert "reinstall %s" % OLD in r["way_back"] and "s3://b/k" in r["way_back"]
    assert r["backup"]["dump_ok"]


def test_schedules_changed_fail_verify(host: t.Dict[str, t.Any]) -> None:
    host["fake"].schedules_after = [{"scheduleUUID": "s1", "status": "Paused"},
                                    {"scheduleUUID": "s2", "status": "Paused"}]
    r = run(host, step="upgrade", skip_backup=True)
    assert r["failed"] and r["failed_step"] == "verify" and r["upgraded"] is True
    assert "schedules changed: s1 Active -> Paused" in r["msg"]
    assert r["way_back"].startswith("no backup was taken (skip_backup)")
    assert any("skip_backup" in w for w in r["warnings"])


def test_changed_archive_refused(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="backup")
    r = run(host, step="upgrade", backup_archive=r["backup"]["path"], backup_sha256="a" * 64, backup_copy="x")
    assert r["failed"] and r["failed_step"] == "backup" and "changed: sha256" in r["msg"]
    assert st(host)["version"] == OLD and r["upgraded"] is False


def test_replicated_refused(host: t.Dict[str, t.Any]) -> None:
    root = host["root"]
    os.remove(os.path.join(root, "opt/yba-ctl/yba-ctl.yml"))
    os.makedirs(os.path.join(root, "opt/yugabyte/yugaware"))
    os.makedirs(os.path.join(root, "etc"))
    open(os.path.join(root, "etc/replicated.conf"), "w").close()
    r = run(host, step="preflight", yba_ctl_path="/usr/bin/yba-ctl")
    assert r["failed"] and "install_type: Replicated installs are upgraded from the Replicated admin console" in r["msg"]


@pytest.mark.parametrize("args,msg", [
    (dict(skip_checks=["target_newer"]), "skip_checks: target_newer cannot be skipped"),
    (dict(step="upgrade"), "step=upgrade needs backup_archive"),
    (dict(bundle_sha256="xyz"), "bundle_sha256 must be 64 hex digits (a sha256), got 'xyz'"),
])
def test_bad_input_one_line(host: t.Dict[str, t.Any], args: t.Dict[str, t.Any], msg: str) -> None:
    r = run(host, **args)
    assert r["failed"] and r["msg"].startswith(msg) and "\n" not in r["msg"]
    assert "calls" not in st(host)


def test_backup_waits_for_the_platform_createbackup_restarted(host: t.Dict[str, t.Any]) -> None:
    """createBackup (2.18/2.20) restarts yb-platform without waiting: step=backup waits until the API answers, so
    the next step=upgrade's platform_healthy check passes."""
    set_state(host, backup_restart_probes=2)
    r = run(host, step="backup")
    assert not r["failed"], r["msg"]
    assert st(host)["api_down_probes"] == 0 and "backup_ready" in r["timings"]
    r = run(host, step="upgrade", backup_archive=r["backup"]["path"], backup_sha256=r["backup"]["sha256"],
            backup_copy="controller:/b.tgz")
    assert not r["failed"], r["msg"]
    assert r["checks"]["platform_healthy"]["status"] == "pass" and r["upgraded"] is True


def test_backup_fails_when_the_platform_does_not_come_back(host: t.Dict[str, t.Any]) -> None:
    set_state(host, backup_restart_probes=10 ** 6)
    r = run(host, step="backup", ready_timeout=1)
    assert r["failed"] and r["failed_step"] == "backup" and r["changed"] is True
    assert "the platform it stopped for the dump does not answer 1 s after it (ready_timeout)" in r["msg"]
    assert r["backup"]["dump_ok"] and "restoreBackup %s" % r["backup"]["path"] in r["way_back"]


def test_plan_says_createbackup_stops_the_platform(host: t.Dict[str, t.Any]) -> None:
    r = run(host, check=True, step="backup")
    line = next(x for x in r["plan"] if " createBackup " in x)
    assert "it stops yb-platform while the dump is taken" in line and "wait up to 5 s for the API" in line


def test_unexpected_api_error_before_the_upgrade_keeps_the_result(host: t.Dict[str, t.Any]) -> None:
    """A YBAError from the schedules read before yba-ctl upgrade: failed_step upgrade, nothing upgraded."""
    host["fake"].schedules_error = "before"
    r = run(host, step="upgrade", skip_backup=True)
    assert r["failed"] and r["failed_step"] == "upgrade" and r["upgraded"] is False
    assert r["msg"].startswith("upgrade failed: GET /api/v1/customers/%s/schedules HTTP 500" % CUSTOMER)
    assert r["way_back"].startswith("no backup was taken") and st(host)["version"] == OLD
    assert not any(c[0] == "upgrade" for c in st(host)["calls"])


def test_schedules_unreadable_after_the_upgrade_is_a_verify_problem(host: t.Dict[str, t.Any]) -> None:
    host["fake"].schedules_error = "after"
    r = run(host, step="upgrade", skip_backup=True)
    assert r["failed"] and r["failed_step"] == "verify" and r["upgraded"] is True and r["changed"] is True
    assert "does not verify: the schedules were not read after the upgrade: GET" in r["msg"]
    assert r["verify"]["app_version"] == NEW and r["verify"]["schedules_unchanged"] is False


def test_unexpected_error_after_yba_ctl_upgrade_is_failed_step_verify(
        host: t.Dict[str, t.Any], monkeypatch: t.Any) -> None:
    def boom(self):
        raise RuntimeError("no route to the verification")

    monkeypatch.setattr(platform_upgrade._upgrade.Upgrade, "verify", boom)
    r = run(host, step="upgrade", skip_backup=True)
    assert r["failed"] and r["failed_step"] == "verify" and r["changed"] is True and st(host)["version"] == NEW
    assert r["msg"] == "verify failed: no route to the verification"


def test_no_extraction_after_a_failed_check(host: t.Dict[str, t.Any]) -> None:
    r = run(host, step="preflight", min_free_mb=1 << 30)
    assert r["failed"] and r["checks"]["disk_space"]["status"] == "fail"
    assert "bundle_extracted" not in r and r["changed"] is False
    assert not os.path.exists(os.path.join(host["root"], "opt/bundles", TOP))


def test_preview_to_stable_refused(host: t.Dict[str, t.Any]) -> None:
    set_state(host, version="2.21.0.1-b1", initial="2.21.0.1-b1")
    bundle = bundle_tarball(host["root"], host["state"], "2024.1.0.0", "129")
    r = run(host, step="preflight", target_version="2024.1.0.0-b129", bundle=bundle)
    assert r["failed"] and r["checks"]["target_newer"]["status"] == "fail"
    assert "target_newer: upgrading from a preview release (2.21.0.1-b1) to a stable release (2024.1.0.0-b129) " \
           "is not supported" in r["msg"]


@pytest.mark.parametrize("status", ["Abort", "Running", "Created", "Initializing"])
def test_a_task_still_running_blocks(host: t.Dict[str, t.Any], status: str) -> None:
    host["fake"].tasks = [{"id": "t9", "title": "Create Backup", "status": status},
                          {"id": "t8", "title": "Old", "status": "Aborted"}]
    r = run(host, step="preflight")
    assert r["failed"] and "no_running_tasks: wait for or stop: task Create Backup t9 (%s)" % status in r["msg"]
    assert "t8" not in r["msg"]


def test_unreadable_task_list_fails_the_check(host: t.Dict[str, t.Any], monkeypatch: t.Any) -> None:
    send = host["fake"].send

    def no_tasks(client, method, path, body):
        if path.endswith("/tasks_list"):
            raise _api.YBAError("internal error", status=500, method=method, path=path)
        return send(client, method, path, body)

    monkeypatch.setattr(host["fake"], "send", no_tasks)
    r = run(host, step="preflight")
    assert r["failed"] and r["checks"]["no_running_tasks"]["status"] == "fail"
    assert "no_running_tasks: the task list (GET tasks_list) was not read from the API" in r["msg"]
    r = run(host, step="preflight", skip_checks=["no_running_tasks"])
    assert not r["failed"] and r["checks"]["no_running_tasks"]["status"] == "skipped"


def test_verify_matches_an_app_version_without_build(host: t.Dict[str, t.Any]) -> None:
    """app_version compared by CompareYbVersions: 2.20.1.3 is the target 2.20.1.3-b3 (no build: any build)."""
    host["fake"].version_format = lambda v: v.split("-")[0]
    r = run(host, step="upgrade", skip_backup=True)
    assert not r["failed"], r["msg"]
    assert r["verify"]["app_version"] == "2.20.1.3" and r["upgraded"] is True
