"""Issue 11's "done means", through the CLI on the incident lab: once the runbook has fixed the host and the storage
config is repaired, backup_sla reports the 4 stale universes CRITICAL (a Nagios check exiting 2), emergency_backup
brings every universe within its RPO with backups verified in the bucket, backup_schedules resumes the Paused
schedules and a scheduled backup follows each, backup_sla then reports OK on all with its JSON, Prometheus textfile
and JUnit written; second runs change nothing; no secret in any output."""
from __future__ import annotations

import json
from pathlib import Path

import test_integration as drv  # the integration driver: lab reset, commands, environment
import test_remediate as runbook  # the runbook's CLI runs (lab heap settle vars)
import test_storage_config as storage  # the storage repair's vars file, CLI runner and secret check

PLAYBOOKS = drv.REPO / "playbooks"
UNIVERSES = {"northgate-payments", "northgate-ledger", "northgate-analytics", "northgate-staging"}


def run(tmp_path: Path, name: str, playbook: str, *extra: str) -> tuple[int, str, dict]:
    rc, output, summary = storage.run_cli(tmp_path, name, PLAYBOOKS / f"{playbook}.yml", *extra)
    storage.assert_no_secret(output, json.dumps(summary))
    return rc, output, summary


def sla(tmp_path: Path, name: str, vars_file: Path) -> tuple[int, str, dict]:
    """backup_sla as a monitoring system runs it: --nagios (its verdict line on stdout, its exit code), the JSON and
    JUnit on the controller, the .prom in a textfile directory of the YBA host."""
    return run(tmp_path, name, "backup_sla", "-e", f"@{vars_file}", "--nagios",
               "-e", f"backup_sla_output_dir={tmp_path / name}", "-e", "backup_sla_textfile_dir=/tmp")


def test_the_incident_backups_are_brought_back_within_rpo(tmp_path: Path) -> None:
    drv.reset("incident")
    vars_file = storage.desired_vars(tmp_path)

    # the host first (disk, metadata DB, platform): the runbook names the backup playbooks as the next steps
    record = runbook.remediate(tmp_path, "runbook")["remediation"]
    nxt = {f["id"]: f["fix_playbook"] for f in record["not_automated"] if f["fix_playbook"]}
    assert nxt == {"backups_stale": "emergency_backup.yml", "backups_failing": "emergency_backup.yml",
                   "schedules_paused": "backup_schedules.yml", "retention_not_enforced": "backup_retention.yml"}, record
    rc, output, _summary = run(tmp_path, "storage", "storage_config", "-e", f"@{vars_file}", "--quiet")
    assert rc == 0, output

    # the SLA as found: every universe beyond its RPO (73 h old backups, 6 h schedules -> RPO 9 h), schedules paused
    rc, output, summary = sla(tmp_path, "sla-before", vars_file)
    assert rc == 2, output  # CRITICAL
    assert "\nYBA BACKUP CRITICAL - 4 of 4 universes beyond RPO" in output, output  # stdout's first line
    before = summary["run_record"]["yba-lab"]["backup_sla"]
    assert before["status"] == "CRITICAL", before
    assert before["counts"]["universes"]["critical"] == before["counts"]["schedules"]["critical"] == 4, before

    # emergency backups: --check plans all 4 and takes none; the run takes and verifies them; a second run, none
    rc, output, summary = run(tmp_path, "emergency-check", "emergency_backup", "-e", f"@{vars_file}", "--check")
    assert rc == 0, output
    planned = summary["run_record"]["yba-lab"]["emergency_backup"]
    assert planned["check_mode"] is True and planned["counts"]["planned"] == 4, planned
    rc, output, summary = run(tmp_path, "emergency", "emergency_backup", "-e", f"@{vars_file}")
    assert rc == 0, output
    taken = summary["run_record"]["yba-lab"]["emergency_backup"]
    assert taken["ok"] is True and taken["counts"]["created"] == 4, taken
    created = [b for b in taken["backups"] if b["action"] == "created"]
    assert {b["universe"] for b in created} == UNIVERSES, taken
    assert all(b["verified"] and b["verified_objects"] > 1 and b["state"] == "Completed" for b in created), created
    rc, output, summary = run(tmp_path, "emergency-again", "emergency_backup", "-e", f"@{vars_file}")
    assert rc == 0, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
    assert summary["run_record"]["yba-lab"]["emergency_backup"]["counts"]["created"] == 0

    # the schedules back to work: each produces a Completed scheduled backup; a second run changes nothing
    rc, output, summary = run(tmp_path, "schedules", "backup_schedules", "-e", f"@{vars_file}",
                              "-e", "backup_schedules_wait_for_backup=true")
    assert rc == 0, output
    resumed = summary["run_record"]["yba-lab"]["backup_schedules"]
    assert resumed["ok"] is True and len(resumed["schedules"]) == 4, resumed
    for item in resumed["schedules"]:
        assert (item["before"], item["after"], item["changed"]) == ("Paused", "Active", True), item
        assert item["backup"]["state"] == "Completed", item
    rc, output, summary = run(tmp_path, "schedules-again", "backup_schedules", "-e", f"@{vars_file}")
    assert rc == 0, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]

    # the SLA now: OK on all, its three renderings written
    rc, output, summary = sla(tmp_path, "sla-after", vars_file)
    assert rc == 0, output
    assert "\nYBA BACKUP OK - " in output, output
    after = summary["run_record"]["yba-lab"]["backup_sla"]
    assert after["status"] == "OK", after
    assert {k: after["counts"][k]["ok"] for k in ("universes", "schedules", "storage")} == {
        "universes": 4, "schedules": 4, "storage": 1}, after
    report = json.loads(next((tmp_path / "sla-after").glob("*.json")).read_text(encoding="utf-8"))
    assert report["schema_version"] == 1 and {u["universe"] for u in report["universes"]} == UNIVERSES
    assert all(u["status"] == "ok" for u in report["universes"]), report["universes"]
    assert next((tmp_path / "sla-after").glob("*.xml")).read_text(encoding="utf-8").startswith("<?xml")
    assert any(o["kind"] == "prometheus" for o in after["outputs"]), after
