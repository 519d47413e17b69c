"""The incident runbook (playbooks/remediate.yml) end to end, run as users run it: through the CLI, with --check
first, then for real, then twice more to show it has nothing left to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import test_integration as drv  # the integration driver: lab reset, commands, environment

RUNBOOK = drv.REPO / "playbooks" / "remediate.yml"
FIXED_BY_THE_RUNBOOK = {"disk_full", "metadb_index_corrupt", "metadb_stale_in_progress", "heap_pressure"}
NOT_AUTOMATED = {"storage_unreachable", "backups_stale", "backups_failing", "schedules_paused",
                 "retention_not_enforced"}


# The simulator's heap reaches its working size 2 s after a start; YBA's JVM needs the role's default 120 s.
LAB_VARS = ("-e", "platform_service_heap_settle_seconds=3")


def remediate(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    summary_file = tmp_path / f"{name}.json"
    proc = drv.run([str(drv.BIN / "yba-remediation"), "run", str(RUNBOOK), "-i", str(drv.INVENTORY),
                    "--summary", str(summary_file), "--quiet", *LAB_VARS, *extra])
    assert proc.returncode == 0, f"runbook ({name}) failed\n{drv.explain(proc)}"
    record = json.loads(summary_file.read_text(encoding="utf-8"))["run_record"]["yba-lab"]
    return record


def test_runbook_fixes_the_incident_and_is_idempotent(tmp_path: Path) -> None:
    drv.reset("incident")

    # check mode: every step says what it would do, nothing changes (the verifying diagnosis sees the same)
    checked = remediate(tmp_path, "check", "--check", "--diff")
    assert checked["remediation"]["check_mode"] is True
    assert FIXED_BY_THE_RUNBOOK | NOT_AUTOMATED <= set(checked["remediation"]["before"])
    assert checked["remediation"]["after"] == checked["remediation"]["before"]
    assert checked["disk_cleanup"]["check_mode"] is True and checked["disk_cleanup"]["files"] > 0
    assert checked["metadb_repair"]["check_mode"] is True
    assert checked["platform_service"]["check_mode"] is True

    # the real run fixes what the collection automates and names the manual steps for the rest
    fixed = remediate(tmp_path, "apply")
    result = fixed["remediation"]
    assert result["check_mode"] is False
    assert set(result["fixed"]) == FIXED_BY_THE_RUNBOOK, result
    assert result["remaining"] == []
    assert set(result["after"]) == NOT_AUTOMATED
    assert all(f["manual_fix"] for f in result["not_automated"])
    assert fixed["disk_cleanup"]["used_percent_after"] <= 80
    assert fixed["metadb_repair"]["dump"]["path"]
    assert fixed["platform_service"]["health"]["healthy"] is True
    # heap: restarted first (the metadata DB repair did), still under pressure once settled, so raised from the
    # current size (the lab's JVM default 1g) by half, never to a fixed size below it
    assert fixed["platform_service"]["heap_pressure_after_restart"] is True
    assert (fixed["platform_service"]["heap_raise"]["current_size"], fixed["platform_service"]["heap_raise"]["target_size"]) \
        == ("1g", "1536m")
    assert fixed["platform_service"]["heap"]["xmx_bytes"] == 1536 << 20
    assert fixed["platform_service"]["heap_pressure"] is False

    # check mode again, then a real run again: nothing left to do
    for name, extra in (("check-again", ("--check",)), ("apply-again", ())):
        again = remediate(tmp_path, name, *extra)["remediation"]
        assert again["fixed"] == [] and again["remaining"] == [], (name, again)
        assert set(again["before"]) == NOT_AUTOMATED, (name, again)
    record = remediate(tmp_path, "apply-third")
    assert "disk_cleanup" not in record and "metadb_repair" not in record
    assert record["platform_service"]["changed"] is False


def host_facts() -> tuple[float, str]:
    """(volume use in %, yba-ctl's status of postgres) as the lab host sees them, read over SSH."""
    proc = drv.run([str(drv.BIN / "ansible"), "-i", str(drv.INVENTORY), "yba", "-m", "ansible.builtin.shell",
                    "-a", "df --output=pcent /opt/yugabyte | tail -1; yba-ctl status postgres | tail -1",
                    "-o"])
    assert proc.returncode == 0, drv.explain(proc)
    out = proc.stdout.split("(stdout)", 1)[1]
    pct, status = out.split("\\n")[:2]
    return float(pct.strip().rstrip("%")), status.split("|")[-2].strip()


def test_runbook_brings_back_a_host_whose_disk_is_exhausted(tmp_path: Path) -> None:
    """The escalation at its worst: the volume at 100%, PostgreSQL down and unable to start, the platform hanging on
    its DB. The runbook frees the disk with the DB down, starts PostgreSQL (crash recovery), looks at the DB again,
    repairs it, heals the platform (and its heap), and a second run has nothing to do."""
    drv.reset("disk-exhausted")
    assert host_facts() == (100.0, "Errored")

    checked = remediate(tmp_path, "exhausted-check", "--check")["remediation"]
    assert {"disk_full", "metadb_unreachable"} <= set(checked["before"]) and checked["fixed"] == []
    assert host_facts() == (100.0, "Errored")  # check mode freed nothing and started nothing

    record = remediate(tmp_path, "exhausted-apply")
    result = record["remediation"]
    assert {"disk_full", "metadb_unreachable", "metadb_index_corrupt", "metadb_stale_in_progress"} <= \
        set(result["fixed"]), result
    assert result["remaining"] == [] and set(result["after"]) <= NOT_AUTOMATED, result
    assert record["disk_cleanup"]["used_percent_after"] <= 80
    assert record["metadb_repair"]["dump"]["path"]
    assert record["platform_service"]["health"]["healthy"] is True
    pct, status = host_facts()
    assert pct <= 80 and status == "Running"

    again = remediate(tmp_path, "exhausted-again")
    assert again["remediation"]["fixed"] == [] and again["remediation"]["remaining"] == []
    assert "disk_cleanup" not in again and "metadb_repair" not in again
