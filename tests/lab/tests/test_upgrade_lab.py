"""The yba-ctl stand-in's guarded-upgrade parts in a live lab: the bundle tarball (`ybalab bundle`), `preflight`
(YBA's table, exit codes, skips), `upgrade` from an extracted bundle (happy path, same version, downgrade, from the
installed yba-ctl), the upgrade faults (`ybalab upgrade-fault`: preflight-critical, die-halfway) and their reset,
and createBackup's version_metadata_backup.json (managed/yba-installer cmd/upgrade.go, cmd/preflight.go,
pkg/preflight/*, cmd/backup.go)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
from typing import Any, Iterator

import pytest

from labtest import load, own_lab, set_lab_keys, ybalab  # noqa: E402  (puts the lab on sys.path)

from ybalab import hostns, hosttree  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402
from ybalab.platform import lifecycle, services  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")

OLD, NEW = hosttree.YBA_VERSION, "2.20.1.3-b3"  # 2.18.1.0-b84 -> the design's bundle
UPGRADE_CHECKS = ["install-exists", "validate-config", "disk-availability", "cpu", "memory", "python"]


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    with own_lab("yba-lab-upg-", "healthy", reuse=True) as (d, _own):
        yield d


def sh(state: dict[str, Any], script: str) -> subprocess.CompletedProcess[str]:
    """A shell line on the lab host (its /opt/yugabyte, /tmp, /usr/bin/yba-ctl)."""
    return hostns.run(state, ["bash", "-c", script], check=False, timeout=180)


def bundle(d: str, version: str, extract_to: str) -> dict[str, Any]:
    """`ybalab bundle <version>`, extracted with tar on the host under extract_to; adds the extracted dir."""
    out = json.loads(ybalab(d, "bundle", version).stdout)
    state = load(d)
    cp = sh(state, f"rm -rf {extract_to} && mkdir -p {extract_to} && tar -xzf {out['tarball']} -C {extract_to}")
    assert cp.returncode == 0, cp.stderr
    out["extracted"] = f"{extract_to}/{out['top_dir']}"
    return out


def table(stdout: str) -> list[tuple[str, str, str, str]]:
    """YBA's preflight table (tab-aligned `#  Check name  Status  Error`), cut at the header's column starts."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if re.match(r"^#\s+Check name\s+Status\s+Error$", line))
    h = lines[head]
    cols = [0, h.index("Check name"), h.index("Status"), h.index("Error")]
    rows = []
    for line in lines[head + 1:]:
        if not re.match(r"^\d+ ", line):
            break
        rows.append(tuple(line[a:b].strip() for a, b in zip(cols, cols[1:] + [len(line)])))
    return rows  # type: ignore[return-value]


def set_host_key(d: str, key: str, value: Any) -> None:
    """A lab.json host.* key (None removes it), read by yba-ctl at its next run."""
    set_lab_keys(d, "host", **{key: value})


def app_version(state: dict[str, Any]) -> str:
    code, body = pclient.Client(state, token=None).call("GET", "/api/v1/app_version")[:2]
    assert code == 200, body
    return body["version"]


def software(state: dict[str, Any]) -> tuple[list[str], str]:
    soft = os.path.join(state["host"]["root"], "opt/yugabyte/software")
    return sorted(os.listdir(soft)), os.readlink(os.path.join(soft, "active"))


def unit_status(state: dict[str, Any], unit: str) -> str:
    return sh(state, f"yba-ctl status {unit}").stdout.splitlines()[-1].split("|")[-2].strip()


def test_bundle_tarball_extracts_and_runs(labdir: str) -> None:
    b = bundle(labdir, NEW, "/tmp/ext-a")
    state = load(labdir)
    assert b["tarball"] == f"/tmp/yba-bundles/yba_installer_full-{NEW}-linux-x86_64.tar.gz"
    assert (b["version"], b["dir"], b["top_dir"]) == (NEW, "/tmp/yba-bundles", f"yba_installer_full-{NEW}")
    with open(b["controller_tarball"], "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == b["sha256"]
    with tarfile.open(b["controller_tarball"]) as tar:
        assert sorted(tar.getnames()) == [b["top_dir"], f"{b['top_dir']}/version_metadata.json",
                                          f"{b['top_dir']}/yba-ctl"]
    cp = sh(state, f"cd {b['extracted']} && ./yba-ctl version")
    assert cp.returncode == 0 and cp.stdout.splitlines() == [f"YBA Installer: {NEW}", f"YugabyteDB Anywhere: {OLD}"]
    assert sh(state, "yba-ctl version").stdout.splitlines()[0] == f"YBA Installer: {OLD}"


def test_preflight_table_exit_codes_and_skips(labdir: str) -> None:
    state = load(labdir)
    ctl = bundle(labdir, NEW, "/tmp/ext-b")["extracted"] + "/yba-ctl"
    cp = sh(state, f"{ctl} preflight --upgrade")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "#  Check name        Status Error" in cp.stdout.splitlines()  # Go tabwriter: widest cell + 1
    assert [(r[1], r[2]) for r in table(cp.stdout)] == [(n, "Pass") for n in UPGRADE_CHECKS]
    cp = sh(state, f"{ctl} preflight --upgrade -s cpu,memory")
    kept = [n for n in UPGRADE_CHECKS if n not in ("cpu", "memory")]
    assert cp.returncode == 0 and [r[1] for r in table(cp.stdout)] == kept
    cp = sh(state, f"{ctl} preflight --upgrade -s cpu --skip_preflight python")
    assert cp.returncode == 1 and "FATAL" in cp.stderr
    assert "The preflight check 'python' is at a critical level and cannot be skipped." in cp.stderr
    cp = sh(state, f"{ctl} preflight list")
    assert cp.returncode == 0 and cp.stdout.splitlines()[0] == "Known preflight install checks:"
    assert "  install does not exist" in cp.stdout.splitlines() and "  disk-availability" in cp.stdout.splitlines()
    # the install list on an installed host: Critical rows first
    cp = sh(state, "yba-ctl preflight")
    assert cp.returncode == 1 and table(cp.stdout)[0][1:3] == ("install does not exist", "Critical")
    # disk-availability: 25 GiB scaled by host.upgrade_min_free_mb; Critical -> exit 1, skippable
    set_host_key(labdir, "upgrade_min_free_mb", 100 * 1024)
    try:
        cp = sh(state, f"{ctl} preflight --upgrade")
        assert cp.returncode == 1 and "FATAL" in cp.stderr and "preflight failed" in cp.stderr
        rows = table(cp.stdout)
        assert rows[0][:3] == ("1", "disk-availability", "Critical"), rows
        assert re.fullmatch(r"Available disk space on volume [\d.]+ MiB is less than minimum required 100 GiB",
                            rows[0][3]), rows[0][3]
        assert [r[2] for r in rows[1:]] == ["Pass"] * 5 and rows[1][3] == ""
        cp = sh(state, f"{ctl} upgrade -f")
        assert cp.returncode == 1 and table(cp.stdout)[0][1:3] == ("disk-availability", "Critical")
        assert software(state)[1] == OLD
        cp = sh(state, f"{ctl} preflight --upgrade -s disk-availability")
        assert cp.returncode == 0 and "disk-availability" not in [r[1] for r in table(cp.stdout)]
    finally:
        set_host_key(labdir, "upgrade_min_free_mb", None)


def test_preflight_critical_fault_blocks_upgrade(labdir: str) -> None:
    state = load(labdir)
    ctl = bundle(labdir, NEW, "/tmp/ext-c")["extracted"] + "/yba-ctl"
    out = json.loads(ybalab(labdir, "upgrade-fault", "preflight-critical").stdout)
    assert out == {"file": os.path.join(labdir, "knobs.json"), "upgrade_fault": "preflight-critical"}
    try:
        cp = sh(state, f"{ctl} preflight --upgrade")
        assert cp.returncode == 1 and "preflight failed" in cp.stderr
        assert table(cp.stdout)[0] == ("1", "python", "Critical",
                                       "System does not meet Python requirements. Please install Python 3.10 or 3.11.")
        cp = sh(state, f"{ctl} upgrade -f")
        assert cp.returncode == 1 and "FATAL" in cp.stderr and "preflight failed" in cp.stderr
        assert table(cp.stdout)[0][1:3] == ("python", "Critical")
        cp = sh(state, f"{ctl} upgrade -f -s python")
        assert cp.returncode == 1 and "'python' is at a critical level and cannot be skipped" in cp.stderr
        assert software(state)[1] == OLD and app_version(state) == OLD  # nothing stopped, nothing laid down
        assert NEW not in software(state)[0]
    finally:
        ybalab(labdir, "upgrade-fault", "none")
    assert not os.path.exists(os.path.join(labdir, "knobs.json"))
    assert sh(state, f"{ctl} preflight --upgrade").returncode == 0


def test_die_halfway_leaves_platform_down_and_active_unchanged(labdir: str) -> None:
    state = load(labdir)
    ctl = bundle(labdir, NEW, "/tmp/ext-d")["extracted"] + "/yba-ctl"
    ybalab(labdir, "upgrade-fault", "die-halfway")
    try:
        cp = sh(state, f"{ctl} upgrade -f")
    finally:
        ybalab(labdir, "upgrade-fault", "none")
    assert cp.returncode != 0 and "FATAL" in cp.stderr and "Upgrade of yb-platform failed" in cp.stderr, cp.stderr
    names, active = software(state)
    assert active == OLD and NEW in names
    new_dir = os.path.join(state["host"]["root"], "opt/yugabyte/software", NEW)
    assert not os.path.exists(os.path.join(new_dir, "yb-platform/yugaware/conf/version_metadata.json"))
    assert unit_status(state, "yb-platform") == "Stopped"
    assert not services.https_answers(int(state["platform"]["url"].rsplit(":", 1)[1]))
    assert sh(state, "yba-ctl version").stdout.splitlines()[1] == f"YugabyteDB Anywhere: {OLD}"
    assert sh(state, "yba-ctl start yb-platform").returncode == 0  # the way back: the old release starts
    lifecycle.wait_https(state, 60)
    assert app_version(state) == OLD


def test_upgrade_happy_path_then_same_version_and_downgrade(labdir: str) -> None:
    state = load(labdir)
    b = bundle(labdir, NEW, "/tmp/ext-e")
    assert sh(state, f"test -d /opt/yugabyte/software/{OLD}").returncode == 0
    cp = sh(state, f"cd {b['extracted']} && ./yba-ctl upgrade -f")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    log = cp.stdout
    steps = ["Running preflight check 'python'", "About to upgrade component yb-platform",
             "About to restart component yb-platform", "Waiting for YBA ready.",
             f"Removing old release directory /opt/yugabyte/software/{hosttree.OLD_YBA_VERSION}",
             f"Successfully upgraded YugabyteDB Anywhere to version {NEW}"]
    at = [log.index(s) for s in steps]
    assert at == sorted(at), log
    assert software(state) == ([OLD, NEW, "active"], NEW)  # PrunePastInstalls keeps one older release
    assert app_version(state) == NEW
    assert sh(state, "yba-ctl version").stdout.splitlines() == [f"YBA Installer: {NEW}", f"YugabyteDB Anywhere: {NEW}"]
    assert all(unit_status(state, u) == "Running" for u in ("postgres", "prometheus", "yb-platform"))
    # createBackup (installed yba-ctl) records the running version in version_metadata_backup.json
    cp = sh(state, "yba-ctl createBackup /opt/yugabyte/backups --exclude_releases --exclude_prometheus")
    assert cp.returncode == 0, cp.stderr
    archive = os.path.join(state["host"]["root"], cp.stdout.strip().splitlines()[-1].lstrip("/"))
    with tarfile.open(archive) as tar:
        assert {"platform_dump.sql", "version_metadata_backup.json"} <= set(tar.getnames())
        meta = json.load(tar.extractfile("version_metadata_backup.json"))  # type: ignore[arg-type]
    assert meta == {"version_number": "2.20.1.3", "build_number": "3"}
    lifecycle.wait_https(state, 60)
    # the same version again, a downgrade, and the installed yba-ctl: refused before anything changes
    cp = sh(state, f"cd {b['extracted']} && ./yba-ctl upgrade -f")
    assert cp.returncode == 1 and (f"upgrade target version '{NEW}' must be greater then the installed YugabyteDB "
                                   f"Anywhere version '{NEW}'") in cp.stderr, cp.stderr
    old = bundle(labdir, OLD, "/tmp/ext-f")
    cp = sh(state, f"{old['extracted']}/yba-ctl upgrade -f -s cpu")
    assert cp.returncode == 1 and (f"upgrade target version '{OLD}' must be greater then the installed YugabyteDB "
                                   f"Anywhere version '{NEW}'") in cp.stderr, cp.stderr
    cp = sh(state, "yba-ctl upgrade -f")
    assert cp.returncode == 1
    assert "Upgrade must be executed from the target yba bundle, not the existing install" in cp.stderr
    cp = sh(state, f"{b['extracted']}/yba-ctl createBackup /tmp/nope")
    assert cp.returncode == 1 and "createBackup must be run from /opt/yba-ctl/yba-ctl" in cp.stderr
    assert software(state) == ([OLD, NEW, "active"], NEW) and app_version(state) == NEW


def test_reset_clears_the_upgrade_fault(labdir: str) -> None:
    ybalab(labdir, "upgrade-fault", "die-halfway")
    with open(os.path.join(labdir, "knobs.json"), encoding="utf-8") as fh:
        assert json.load(fh) == {"upgrade_fault": "die-halfway"}
    ybalab(labdir, "reset", "healthy")
    assert not os.path.exists(os.path.join(labdir, "knobs.json"))
    state = load(labdir)
    assert software(state)[1] == OLD
    ctl = bundle(labdir, NEW, "/tmp/ext-g")["extracted"] + "/yba-ctl"
    cp = sh(state, f"{ctl} preflight --upgrade")
    assert cp.returncode == 0 and {r[2] for r in table(cp.stdout)} == {"Pass"}


def test_version_order_and_sizes_as_yba_installer() -> None:
    from ybalab import yba_ctl

    # common.LessVersions: four numbers, then the build
    assert lifecycle.version_less("2.18.1.0-b84", "2.20.1.3-b3")
    assert lifecycle.version_less("2.20.1.3-b3", "2.20.1.3-b10") and not lifecycle.version_less(NEW, NEW)
    assert lifecycle.version_less("2.20.1.3-b3", "2024.1.0.0-b1") and lifecycle.version_key("active") is None
    # go-humanize IBytes, as checks/diskavail.go prints sizes
    assert [yba_ctl.humanize_ibytes(n) for n in (1023, 9227468, 32 << 20, 25 << 30)] == \
        ["1023 B", "8.8 MiB", "32 MiB", "25 GiB"]
