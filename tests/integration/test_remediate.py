"""The incident runbook (playbooks/remediate.yml) end to end, run as users run it: through the CLI, with --check
first, then for real, then twice more to show it has nothing left to do."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import test_integration as drv  # the integration driver: lab reset, commands, environment

RUNBOOK = drv.REPO / "playbooks" / "remediate.yml"
FIXED_BY_THE_RUNBOOK = {"disk_full", "metadb_index_corrupt", "metadb_stale_in_progress", "heap_pressure"}
NOT_AUTOMATED = {"storage_unreachable", "backups_stale", "backups_failing", "schedules_paused",
                 "retention_not_enforced"}


# The simulator's heap reaches its working size 2 s after a start and recounts the rows behind it every 5 s (on a
# loaded machine a 3 s settle could read it before its first recount); YBA's JVM needs the role's default 120 s.
LAB_VARS = ("-e", "platform_service_heap_settle_seconds=8")


def cli_command(playbook: Path, summary_file: Path, *extra: str) -> list[str]:
    return [str(drv.BIN / "yba-remediation"), "run", str(playbook), "-i", str(drv.INVENTORY),
            "--summary", str(summary_file), "--quiet", *LAB_VARS, *extra]


def run_cli(tmp_path: Path, name: str, *extra: str, playbook: Path = RUNBOOK) -> tuple[int, str, dict[str, Any]]:
    """(exit code, output, JSON summary) of one CLI run."""
    summary_file = tmp_path / f"{name}.json"
    proc = drv.run(cli_command(playbook, summary_file, *extra))
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    return proc.returncode, drv.explain(proc), summary


def remediate(tmp_path: Path, name: str, *extra: str, changed: int | None = None) -> dict[str, Any]:
    rc, output, summary = run_cli(tmp_path, name, *extra)
    assert rc == 0, f"runbook ({name}) failed\n{output}"
    if changed is not None:  # the PLAY RECAP's count: the run's own lock is bookkeeping, not a change
        assert summary["hosts"]["yba-lab"]["changed"] == changed, (name, summary["hosts"])
    return summary["run_record"]["yba-lab"]


def heap_used_fraction() -> float:
    """The platform's JVM heap use / max, from its metrics endpoint (the controller reaches the lab's API)."""
    lab = json.loads((drv.LAB_DIR / "lab.json").read_text(encoding="utf-8"))["platform"]
    request = urllib.request.Request(lab["url"] + "/api/v1/prometheus_metrics", headers={"X-AUTH-YW-API-TOKEN": lab["token"]})
    context = ssl.create_default_context(cafile=lab["ca_cert"])
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310 (the lab's https URL)
        text = answer.read().decode()
    values = {line.split("{", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(('jvm_memory_bytes_used{area="heap"', 'jvm_memory_bytes_max{area="heap"'))}
    return values["jvm_memory_bytes_used"] / values["jvm_memory_bytes_max"]


def wait_for_the_incident_heap(timeout: float = 60) -> None:
    """The incident as the operator finds it: the platform warmed up to its heap pressure before the run starts
    (right after a reset the simulated JVM's live set is still growing)."""
    deadline = time.monotonic() + timeout
    while heap_used_fraction() < 0.85:
        assert time.monotonic() < deadline, f"the incident's heap never reached 85 % ({heap_used_fraction():.0%})"
        time.sleep(1)


def test_runbook_fixes_the_incident_and_is_idempotent(tmp_path: Path) -> None:
    drv.reset("incident")
    wait_for_the_incident_heap()

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
    # each names its next step: the playbook that fixes it (storage first, then backups and schedules) or the manual fix
    assert {f["id"]: f["fix_playbook"] or "manual" for f in result["not_automated"]} == {
        "storage_unreachable": "manual", "backups_stale": "emergency_backup.yml",
        "backups_failing": "emergency_backup.yml", "schedules_paused": "backup_schedules.yml",
        "retention_not_enforced": "backup_retention.yml"}
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
        again = remediate(tmp_path, name, *extra, changed=0)["remediation"]
        assert again["fixed"] == [] and again["remaining"] == [], (name, again)
        assert set(again["before"]) == NOT_AUTOMATED, (name, again)
    record = remediate(tmp_path, "apply-third", changed=0)
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


FINGERPRINT = (
    # the files of the install and of yba-ctl (PostgreSQL's own data dir aside: it writes WAL on its own)
    "find /opt/yugabyte /opt/yba-ctl /var/backups -type f -not -path '/opt/yugabyte/data/postgres/*' | sort | md5sum;"
    # the platform's and PostgreSQL's processes
    " pgrep -f '[P]rodServerStart' | sort | tr '\\n' ' '; echo; head -1 /opt/yugabyte/data/postgres/postmaster.pid;"
    # the metadata DB's rows a repair would fail and the index file a reindex would replace
    " /opt/yugabyte/software/active/pgsql/bin/psql -XAtq -h 127.0.0.1 -p {port} -U postgres -d yugaware"
    " -c \"select count(*) from backup where state = 'In Progress'\""
    " -c \"select relfilenode from pg_class where relname = 'ix_backup_task_uuid'\""
    " -c \"select count(*) from task_info where task_state in ('Failure', 'Aborted')\";"
    # the heap drop-in and the lock
    " cat /etc/systemd/system/yb-platform.service.d/*.conf 2>/dev/null | md5sum; ls /run/lock"
)


def fingerprint() -> str:
    """What any change to the lab host shows in, read over SSH: files, pids, metadata rows, heap drop-in."""
    port = json.loads((drv.LAB_DIR / "lab.json").read_text(encoding="utf-8"))["postgres"]["port"]
    proc = drv.run([str(drv.BIN / "ansible"), "-i", str(drv.INVENTORY), "yba", "-m", "ansible.builtin.shell",
                    "-a", FINGERPRINT.format(port=port)])
    assert proc.returncode == 0, drv.explain(proc)
    return proc.stdout.split(">>", 1)[1].strip()  # after ansible's "yba-lab | CHANGED | rc=0 >>"


PLAYBOOKS = ("remediate", "disk_cleanup", "metadb_repair", "platform_service", "diagnose")


def test_wrong_token_stops_every_playbook_before_its_first_change(tmp_path: Path) -> None:
    """A rejected API token is found before anything is touched, by every playbook, in one line; the runbook used
    to delete files, repair the DB, fail live backups and restart the platform first."""
    drv.reset("incident")
    before = fingerprint()
    for name in PLAYBOOKS:
        rc, output, summary = run_cli(tmp_path, f"token-{name}", "-e", "yba_api_token=not-the-token",
                                      playbook=drv.REPO / "playbooks" / f"{name}.yml")
        assert rc != 0, f"{name} passed with a wrong token\n{output}"
        lines = [line for line in output.splitlines() if "HTTP 401" in line and "yba_api_token" in line]
        assert lines, f"{name}: no line names the rejected token\n{output}"
        assert "nothing was changed" in lines[0], (name, lines[0])
        assert summary["hosts"]["yba-lab"]["changed"] == 0, (name, summary["hosts"])
        assert "not-the-token" not in output.split("\n", 1)[1]  # the first line is the command itself
        assert fingerprint() == before, f"{name} changed the host before failing"


def test_two_runs_at_once_never_both_change_the_host(tmp_path: Path) -> None:
    """Two runbooks started together: one holds the host lock from its first diagnosis to its report, the other
    waits its bound and refuses, naming the holder, having changed nothing."""
    drv.reset("incident")
    procs = {}
    for name in ("first", "second"):
        procs[name] = subprocess.Popen(  # noqa: S603 (our own CLI)
            cli_command(RUNBOOK, tmp_path / f"{name}.json", "-e", f"yba_run_id=concurrent-{name}",
                        "-e", "yba_lock_wait_timeout=5"),
            cwd=drv.REPO, env=drv.environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {name: proc.communicate(timeout=drv.TIMEOUT)[0] for name, proc in procs.items()}
    codes = {name: proc.returncode for name, proc in procs.items()}
    assert sorted(code == 0 for code in codes.values()) == [False, True], (codes, outputs)
    winner = next(name for name, code in codes.items() if code == 0)
    loser = next(name for name, code in codes.items() if code != 0)
    summaries = {name: json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8")) for name in procs}
    assert summaries[winner]["hosts"]["yba-lab"]["changed"] > 0
    assert summaries[loser]["hosts"]["yba-lab"]["changed"] == 0, summaries[loser]["hosts"]
    assert f"held by run concurrent-{winner}" in outputs[loser], outputs[loser]
    refused = summaries[loser]["run_record"]["yba-lab"]["remediation"]
    assert refused["failed_step"] and refused["fixed"] == [] and refused["before"] == [], refused
    # the winner released its lock: a third run takes it at once and has nothing to fix
    again = remediate(tmp_path, "third", changed=0)["remediation"]
    assert again["fixed"] == [] and again["remaining"] == []


def test_a_failing_step_still_reports_and_releases_the_lock(tmp_path: Path) -> None:
    """The metadata repair refuses (its dump has nowhere to go) after the disk cleanup ran: the run fails naming the
    step, the report and the run record say what was done, the platform was never stopped, the lock is free."""
    drv.reset("incident")
    platform_pids = fingerprint().splitlines()[1]
    rc, output, summary = run_cli(tmp_path, "failing-step", "-e", "metadb_repair_dump_dir=/proc/yba-no-such-dir")
    assert rc != 0, output
    record = summary["run_record"]["yba-lab"]
    result = record["remediation"]
    assert "metadata" in result["failed_step"]["task"].lower() or "dump" in result["failed_step"]["message"], result
    assert "disk_full" in result["fixed"] and record["disk_cleanup"]["freed_bytes"] > 0, result
    assert "failed at" in output and "/proc/yba-no-such-dir" in output
    assert fingerprint().splitlines()[1] == platform_pids, "the platform was restarted by a refused repair"
    assert "yba-remediation.lock" not in fingerprint()
