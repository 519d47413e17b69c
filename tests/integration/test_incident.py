"""The Northgate incident end to end through the CLI, as one operator session (issues 11 to 14's "done means" on one
lab, one runbook run):

- before: backup_sla as a Nagios check says CRITICAL, 4 of 4 universes beyond their RPO (exit 2);
- runbook v2 (`remediate`) with the desired storage settings (the lab's live endpoint, the keys as from a vault):
  --check --diff plans every step and changes nothing; the run frees the disk, repairs the metadata DB, heals the
  platform and its heap, repairs the storage config, takes an emergency backup of every stale universe (verified in
  the bucket), resumes the paused schedules (each produces a Completed backup), deletes the ~720 expired backups
  YBA left (every universe keeps its floor), and verifies: ZERO findings and the SLA OK for every universe; the
  evidence report is written beside the summary; a second run changes nothing;
- after: backup_sla --nagios OK with its JSON, JUnit and Prometheus textfile; reconcile reports exactly the seeded
  dangling backup and orphan folders; a restore drill restores, checks and drops a scratch keyspace, and refuses
  the dangling backup; the guarded upgrade (token and AWX refusals, --check, the run with its createBackup copied to
  the controller, the canary backup on the new version, nothing to do the second time).

No secret in any output. The truth is read from the metadata DB with psql and from the host's tree, not through the
modules."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import test_integration as drv  # the integration driver: lab reset, commands, environment
import test_remediate as runbook  # the runbook's CLI runs, the incident's heap
import test_storage_config as storage  # the storage vars file (from the lab), CLI runner and secret check

PLAYBOOKS = drv.REPO / "playbooks"
UNIVERSES = {"northgate-payments", "northgate-ledger", "northgate-analytics", "northgate-staging"}
BACKUP_FINDINGS = {"storage_unreachable", "backups_stale", "backups_failing", "schedules_paused",
                   "retention_not_enforced"}
LEFT_UNDELETED = ("Completed", "Failed", "Stopped", "Skipped", "FailedToDelete", "QueuedForDeletion",
                  "DeleteInProgress")
OLD, NEW = "2.18.1.0-b84", "2.20.1.3-b3"
CANARY = "northgate-staging"


def lab() -> dict[str, Any]:
    return json.loads((drv.LAB_DIR / "lab.json").read_text(encoding="utf-8"))


def sql(query: str) -> str:
    pg = lab()["postgres"]
    return subprocess.run([f"{pg['bin_dir']}/psql", "-XAtq", "-h", pg["host"], "-p", str(pg["port"]), "-U", pg["user"],
                           "-d", pg["database"], "-c", query], check=True, capture_output=True, text=True).stdout.strip()


def expired_left() -> int:
    states = ", ".join(f"'{s}'" for s in LEFT_UNDELETED)
    return int(sql(f"SELECT count(*) FROM backup WHERE expiry < now() AND state IN ({states})"))


def run(tmp_path: Path, name: str, playbook: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    rc, output, summary = storage.run_cli(tmp_path, name, PLAYBOOKS / f"{playbook}.yml", *extra)
    storage.assert_no_secret(output, json.dumps(summary))
    return rc, output, summary


def record(summary: dict[str, Any], key: str) -> dict[str, Any]:
    return summary["run_record"]["yba-lab"][key]


def sla(tmp_path: Path, name: str, vars_file: Path) -> tuple[int, str, dict[str, Any]]:
    """backup_sla as a monitoring system runs it: --nagios (its verdict line on stdout, its exit code), the JSON and
    JUnit on the controller, the .prom in a textfile directory of the YBA host."""
    return run(tmp_path, name, "backup_sla", "-e", f"@{vars_file}", "--nagios",
               "-e", f"backup_sla_output_dir={tmp_path / name}", "-e", "backup_sla_textfile_dir=/tmp")


def host_tree() -> dict[str, Any]:
    root = Path(lab()["host"]["root"])
    software, backups = root / "opt/yugabyte/software", root / "opt/yugabyte/backups"
    return {"software": sorted(os.listdir(software)), "active": os.readlink(software / "active"),
            "backups": sorted(p.name for p in backups.glob("backup_*")) if backups.is_dir() else []}


def test_the_incident_to_zero_findings_in_one_run_then_drill_and_upgrade(tmp_path: Path) -> None:
    drv.reset("incident")
    seeded = lab()["seeded"]
    vars_file = storage.desired_vars(tmp_path)
    # the reconcile window as the bucket's lifecycle sees the seeded backups (read before the run adds new ones)
    window = sql("SELECT to_char((max(create_time) - interval '%d days' + interval '1 second') AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM backup WHERE state = 'Completed'" % seeded["lifecycle_days"])
    runbook.wait_for_the_incident_heap()

    # the SLA as found: every universe beyond its RPO (73 h old backups, 6 h schedules -> RPO 9 h), schedules paused
    rc, output, summary = sla(tmp_path, "sla-before", vars_file)
    assert rc == 2, output  # CRITICAL
    assert "\nYBA BACKUP CRITICAL - 4 of 4 universes beyond RPO" in output, output
    before = record(summary, "backup_sla")
    assert before["counts"]["universes"]["critical"] == before["counts"]["schedules"]["critical"] == 4, before

    # check mode: every step says what it would do, nothing changes (the verifying diagnosis sees the same)
    rc, output, summary = run(tmp_path, "check", "remediate", "-e", f"@{vars_file}", *runbook.LAB_VARS,
                              "--check", "--diff")
    assert rc == 0, output
    checked = summary["run_record"]["yba-lab"]
    assert checked["remediation"]["check_mode"] is True
    assert runbook.FIXED_BY_THE_RUNBOOK | BACKUP_FINDINGS <= set(checked["remediation"]["before"]), checked
    assert checked["remediation"]["after"] == checked["remediation"]["before"]
    for step in ("disk_cleanup", "metadb_repair", "platform_service", "emergency_backup", "backup_schedules",
                 "backup_retention"):
        assert checked[step]["check_mode"] is True, (step, checked[step])
    assert checked["emergency_backup"]["counts"]["planned"] == 4, checked["emergency_backup"]
    assert checked["backup_retention"]["counts"]["deleted"] == 0 and expired_left() > seeded["expired"] // 2

    # the run: broken to compliant, zero findings, the SLA OK for every universe
    rc, output, summary = run(tmp_path, "apply", "remediate", "-e", f"@{vars_file}", *runbook.LAB_VARS)
    assert rc == 0, output
    done = summary["run_record"]["yba-lab"]
    result = done["remediation"]
    assert result["after"] == [] and result["remaining"] == [] and result["not_automated"] == [], result
    assert set(result["fixed"]) == runbook.FIXED_BY_THE_RUNBOOK | BACKUP_FINDINGS, result
    assert result["failed_step"] is None and result["sla"]["status"] == "OK", result
    assert result["version"]["installed"] == OLD, result
    assert done["disk_cleanup"]["used_percent_after"] <= 80 and done["metadb_repair"]["dump"]["path"]
    # heap: restarted first (the metadata DB repair did), still under pressure once settled, so raised from the
    # current size (the lab's JVM default 1g) by half, never to a fixed size below it
    heap = done["platform_service"]
    assert heap["health"]["healthy"] is True and heap["heap_pressure_after_restart"] is True
    assert (heap["heap_raise"]["current_size"], heap["heap_raise"]["target_size"]) == ("1g", "1536m")
    assert heap["heap"]["xmx_bytes"] == 1536 << 20 and heap["heap_pressure"] is False
    assert done["storage_config"]["changed"] is True, done["storage_config"]
    taken = done["emergency_backup"]
    created = [b for b in taken["backups"] if b["action"] == "created"]
    assert taken["ok"] is True and {b["universe"] for b in created} == UNIVERSES, taken
    assert all(b["verified"] and b["verified_objects"] > 1 and b["state"] == "Completed" for b in created), created
    resumed = done["backup_schedules"]
    assert resumed["ok"] is True and len(resumed["schedules"]) == 4, resumed
    for item in resumed["schedules"]:
        assert (item["before"], item["after"], item["changed"]) == ("Paused", "Active", True), item
        assert item["backup"]["state"] == "Completed", item
    kept = done["backup_retention"]
    assert kept["ok"] is True and kept["left_after"] == [] and kept["counts"]["failed_to_delete"] == 0, kept
    assert {f["universe"] for f in kept["floors"] if f["met"] and f["kept"]} == UNIVERSES, kept["floors"]
    assert expired_left() == 0
    sla_record = done["backup_sla"]
    assert sla_record["status"] == "OK" and sla_record["counts"]["universes"]["ok"] == 4, sla_record
    # the evidence report, beside the summary
    page = (tmp_path / "apply-yba-lab.html").read_text(encoding="utf-8")
    assert "<svg" in page and all(u in page for u in UNIVERSES)
    assert (tmp_path / "apply-yba-lab.md").is_file()

    # a second run has nothing to do; its report names the version behind the approved one (upgrades are not
    # part of the runbook)
    rc, output, summary = run(tmp_path, "again", "remediate", "-e", f"@{vars_file}", *runbook.LAB_VARS,
                              "-e", f"remediate_latest_version={NEW}")
    assert rc == 0, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
    again = record(summary, "remediation")
    assert again["before"] == [] and again["fixed"] == [] and again["sla"]["status"] == "OK", again
    assert again["version"] == {"installed": OLD, "latest": NEW, "behind": True}, again
    assert f"{OLD} is behind {NEW}: upgrade with playbooks/upgrade.yml" in output, output

    # the SLA now, as monitoring reads it: OK on all, its three renderings written
    rc, output, summary = sla(tmp_path, "sla-after", vars_file)
    assert rc == 0 and "\nYBA BACKUP OK - " in output, output
    after = record(summary, "backup_sla")
    assert {k: after["counts"][k]["ok"] for k in ("universes", "schedules", "storage")} == {
        "universes": 4, "schedules": 4, "storage": 1}, after
    report = json.loads(next((tmp_path / "sla-after").glob("*.json")).read_text(encoding="utf-8"))
    assert report["schema_version"] == 1 and {u["universe"] for u in report["universes"]} == UNIVERSES
    assert next((tmp_path / "sla-after").glob("*.xml")).read_text(encoding="utf-8").startswith("<?xml")
    assert any(o["kind"] == "prometheus" for o in after["outputs"]), after

    # reconcile, read-only, within the bucket's lifecycle window: exactly the seeded dangling backup and orphans
    reconcile = ("-e", f"@{vars_file}", "-e", f"backup_reconcile_created_after={window}",
                 "-e", "backup_reconcile_orphan_grace=0", "-e", f"backup_reconcile_output_dir={tmp_path / 'rc'}")
    for name in ("reconcile", "reconcile-again"):
        rc, output, summary = run(tmp_path, name, "backup_reconcile", *reconcile)
        assert rc == 0, output
        assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
        found = record(summary, "backup_reconcile")
        assert found["ok"] is True and found["counts"]["dangling"] == len(seeded["dangling"]), found
        assert found["counts"]["orphans"] == len(seeded["orphans"]), found
        listed = json.loads(Path(found["controller_file"]).read_text(encoding="utf-8"))
        assert [d["backup_uuid"] for d in listed["dangling"]] == seeded["dangling"], listed["dangling"]
        assert sorted(o["key_prefix"] for o in listed["orphans"]) == sorted(seeded["orphans"]), listed["orphans"]

    # the drill: the newest verified backup of a universe restores into a scratch keyspace, is checked and dropped
    pg = lab()["postgres"]
    ysql = json.dumps({"restore_drill_ysql": {"host": pg["host"], "port": pg["port"], "user": pg["user"],
                                              "maintenance_db": "postgres"}})
    rc, output, summary = run(tmp_path, "drill", "restore_drill", "-e", f"@{vars_file}", "-e", ysql,
                              "-e", "restore_drill_universe=northgate-payments")
    assert rc == 0, output
    drill = record(summary, "restore_drill")
    assert drill["ok"] is True and drill["restore_state"] == "Completed" and drill["cleaned_up"] is True, drill
    assert drill["rto_seconds"] > 0 and drill["row_counts"], drill
    scratch = drill["scratch_keyspaces"]
    assert scratch and all(k.startswith("drill_") for k in scratch), drill
    assert not set(scratch) & set(sql("SELECT datname FROM pg_database").split()), "a scratch keyspace was left"
    # ... and fails clearly on the dangling backup, before asking YBA to restore it
    dangling = seeded["dangling"][0]
    universe = sql(f"SELECT universe_name FROM backup WHERE backup_uuid = '{dangling}'")
    rc, output, summary = run(tmp_path, "drill-dangling", "restore_drill", "-e", f"@{vars_file}", "-e", ysql,
                              "-e", f"restore_drill_universe={universe}", "-e", f"restore_drill_backup_uuid={dangling}")
    assert rc != 0 and f"backup {dangling} is dangling" in output, output
    assert record(summary, "restore_drill")["ok"] is False

    upgrade_then_nothing_to_do(tmp_path, vars_file)


def upgrade_then_nothing_to_do(tmp_path: Path, vars_file: Path) -> None:
    """Issue 13: `yba-remediation run upgrade` with the target and a bundle (a tarball on the controller, copied to
    the host) plans with --check and changes nothing; the real run backs up with yba-ctl createBackup, copies the
    archive to the controller (same sha256), upgrades with the bundle's yba-ctl and verifies the platform at the new
    version with its schedules as before; the canary backup of one small universe completes on the new version; the
    second run reports nothing to do and changes nothing."""
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
    rc, output, summary = run(tmp_path, "token", "upgrade", *args, "-e", "yba_api_token=not-the-token")
    assert rc != 0 and [ln for ln in output.splitlines() if "HTTP 401" in ln and "yba_api_token" in ln], output
    assert summary["hosts"]["yba-lab"]["changed"] == 0 and host_tree() == before and not copies.exists()

    # in AWX (a job id) the controller's copy would vanish with the job's container: refused without a copy dir
    rc, output, summary = run(tmp_path, "awx", "upgrade", *base, "-e", "awx_job_id=42")
    assert rc != 0 and "set yba_upgrade_backup_copy_dir to persistent storage" in output, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0 and host_tree() == before

    rc, output, summary = run(tmp_path, "upgrade-check", "upgrade", *args, "--check", "--diff")
    assert rc == 0, output
    planned = record(summary, "platform_upgrade")
    assert planned["check_mode"] is True and planned["action"] == "upgrade", planned
    assert planned["installed_version"] == OLD and planned["backup"] is None and planned["upgraded"] is False
    assert not [n for n, c in planned["checks"].items() if c["status"] == "fail"], planned["checks"]
    assert host_tree() == before and not copies.exists()

    rc, output, summary = run(tmp_path, "upgrade", "upgrade", *args)
    assert rc == 0, output
    done = record(summary, "platform_upgrade")
    assert done["upgraded"] is True and done["failed_step"] is None, done
    assert done["verify"]["app_version"] == NEW and done["verify"]["schedules_unchanged"] is True, done["verify"]
    copy = Path(done["backup_copy"])
    assert copy.parent == copies / "yba-lab" and copy.name == Path(done["backup"]["path"]).name, done
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == done["backup"]["sha256"]
    canary = record(summary, "emergency_backup")  # on the new version, verified in the bucket
    created = [b for b in canary["backups"] if b["action"] == "created"]
    assert canary["ok"] is True and {b["universe"] for b in created} == {CANARY}, canary
    assert all(b["verified"] and b["state"] == "Completed" for b in created), created
    after = host_tree()
    assert after["active"] == NEW and OLD in after["software"], after
    assert [b for b in after["backups"] if b not in before["backups"]] == [copy.name], after

    rc, output, summary = run(tmp_path, "upgrade-again", "upgrade", *args)
    assert rc == 0, output
    again = record(summary, "platform_upgrade")
    assert again["action"] == "none" and again["changed"] is False and again["upgraded"] is False, again
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
    assert host_tree() == after
