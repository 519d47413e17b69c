"""Issue 13's "done means", through the CLI on the incident lab after the runbook: `yba-remediation run upgrade`
with the target and a bundle (a tarball on the controller, copied to the host) plans with --check and changes
nothing; the real run backs up with yba-ctl createBackup, copies the archive to the controller (same sha256),
upgrades with the bundle's yba-ctl and verifies the platform at the new version with its schedules as before; the
canary backup of one small universe completes on the new version (the storage repaired first); the second run
reports nothing to do and changes nothing. No secret in any output."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import test_integration as drv  # the integration driver: lab reset, commands, environment
import test_remediate as runbook  # the runbook's CLI runs
import test_storage_config as storage  # the CLI runner and the secret check

OLD, NEW = "2.18.1.0-b84", "2.20.1.3-b3"
CANARY = "northgate-staging"


def lab() -> dict:
    return json.loads((drv.LAB_DIR / "lab.json").read_text(encoding="utf-8"))


def host_path(path: str) -> Path:
    """A path of the lab host as the controller sees it (the host's tree lives under host.root)."""
    return Path(lab()["host"]["root"]) / path.lstrip("/")


def host_tree() -> dict:
    software = host_path("/opt/yugabyte/software")
    backups = host_path("/opt/yugabyte/backups")
    return {"software": sorted(os.listdir(software)), "active": os.readlink(software / "active"),
            "backups": sorted(p.name for p in backups.glob("backup_*")) if backups.is_dir() else []}


def run(tmp_path: Path, name: str, *extra: str, playbook: str = "upgrade") -> tuple[int, str, dict]:
    rc, output, summary = storage.run_cli(tmp_path, name, drv.REPO / "playbooks" / f"{playbook}.yml", *extra)
    storage.assert_no_secret(output, json.dumps(summary))
    return rc, output, summary


def test_upgrade_after_the_runbook_then_nothing_to_do(tmp_path: Path) -> None:
    drv.reset("incident")
    runbook.remediate(tmp_path, "runbook")
    # the storage repaired too, so the canary backup on the new version can reach the bucket
    vars_file = storage.desired_vars(tmp_path)
    rc, output, _summary = run(tmp_path, "storage", "-e", f"@{vars_file}", "--quiet", playbook="storage_config")
    assert rc == 0, output
    built = drv.lab("bundle", NEW)
    assert built.returncode == 0, drv.explain(built)
    bundle = json.loads(built.stdout)
    copies = tmp_path / "copies"
    base = ("-e", f"yba_upgrade_target={NEW}", "-e", f"yba_upgrade_bundle={bundle['controller_tarball']}",
            "-e", "yba_upgrade_bundle_from=controller", "-e", f"yba_upgrade_bundle_sha256={bundle['sha256']}",
            "-e", f"@{vars_file}", "-e", f"platform_upgrade_canary_universe={CANARY}")
    args = (*base, "-e", f"yba_upgrade_backup_copy_dir={copies}")
    before = host_tree()
    assert before["active"] == OLD

    # a rejected token is found by the input checks, before anything is copied or backed up
    rc, output, summary = run(tmp_path, "token", *args, "-e", "yba_api_token=not-the-token")
    assert rc != 0 and [ln for ln in output.splitlines() if "HTTP 401" in ln and "yba_api_token" in ln], output
    assert summary["hosts"]["yba-lab"]["changed"] == 0 and host_tree() == before and not copies.exists()

    # in AWX (a job id) the controller's copy would vanish with the job's container: refused without a copy dir
    rc, output, summary = run(tmp_path, "awx", *base, "-e", "awx_job_id=42")
    assert rc != 0 and "set yba_upgrade_backup_copy_dir to persistent storage" in output, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0 and host_tree() == before

    rc, output, summary = run(tmp_path, "check", *args, "--check", "--diff")
    assert rc == 0, output
    planned = summary["run_record"]["yba-lab"]["platform_upgrade"]
    assert planned["check_mode"] is True and planned["action"] == "upgrade", planned
    assert planned["installed_version"] == OLD and planned["backup"] is None and planned["upgraded"] is False
    assert not [n for n, c in planned["checks"].items() if c["status"] == "fail"], planned["checks"]
    assert host_tree() == before and not copies.exists()

    rc, output, summary = run(tmp_path, "upgrade", *args)
    assert rc == 0, output
    done = summary["run_record"]["yba-lab"]["platform_upgrade"]
    assert done["upgraded"] is True and done["failed_step"] is None, done
    assert done["verify"]["app_version"] == NEW and done["verify"]["schedules_unchanged"] is True, done["verify"]
    copy = Path(done["backup_copy"])
    assert copy.parent == copies / "yba-lab" and copy.name == Path(done["backup"]["path"]).name, done
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == done["backup"]["sha256"]
    canary = summary["run_record"]["yba-lab"]["emergency_backup"]  # on the new version, verified in the bucket
    created = [b for b in canary["backups"] if b["action"] == "created"]
    assert canary["ok"] is True and {b["universe"] for b in created} == {CANARY}, canary
    assert all(b["verified"] and b["state"] == "Completed" for b in created), created
    after = host_tree()
    assert after["active"] == NEW and OLD in after["software"], after
    assert [b for b in after["backups"] if b not in before["backups"]] == [copy.name], after

    rc, output, summary = run(tmp_path, "again", *args)
    assert rc == 0, output
    again = summary["run_record"]["yba-lab"]["platform_upgrade"]
    assert again["action"] == "none" and again["changed"] is False and again["upgraded"] is False, again
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
    assert host_tree() == after
