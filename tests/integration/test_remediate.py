"""The incident runbook (playbooks/remediate.yml) run as users run it, through the CLI: the disk-exhausted host
(stopped at the storage config without its desired settings, resumed with them to zero findings), a controller
killed half way and its run resumed, a rejected token, two runs at once, a failing step. The incident itself, from
broken to compliant in one run, is tests/integration/test_incident.py."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import test_integration as drv  # the integration driver: lab reset, commands, environment
import test_storage_config as storage  # the desired storage settings (the lab writes them)

RUNBOOK = drv.REPO / "playbooks" / "remediate.yml"
FIXED_BY_THE_RUNBOOK = {"disk_full", "metadb_index_corrupt", "metadb_stale_in_progress", "heap_pressure"}
BACKUP_FINDINGS = {"storage_unreachable", "backups_stale", "backups_failing", "schedules_paused",
                   "retention_not_enforced"}
# the host steps only (no storage settings needed): the lock and failure tests
HOST_ONLY = ("-e", "remediate_backups=false")


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
    its DB. Without the desired storage settings the runbook frees the disk with the DB down, starts PostgreSQL
    (crash recovery), looks at the DB again, repairs it, heals the platform (and its heap), then stops at the broken
    storage config naming the variables to set. Run again with them, it goes on from there (the host steps are not
    redone) to zero findings and the SLA OK; a third run has nothing to do."""
    drv.reset("disk-exhausted")
    assert host_facts() == (100.0, "Errored")

    checked = remediate(tmp_path, "exhausted-check", "--check")["remediation"]
    assert {"disk_full", "metadb_unreachable"} <= set(checked["before"]) and checked["fixed"] == []
    assert host_facts() == (100.0, "Errored")  # check mode freed nothing and started nothing

    rc, output, summary = run_cli(tmp_path, "exhausted-apply")
    assert rc != 0, output
    record = summary["run_record"]["yba-lab"]
    result = record["remediation"]
    assert {"disk_full", "metadb_unreachable", "metadb_index_corrupt", "metadb_stale_in_progress"} <= \
        set(result["fixed"]), result
    assert result["failed_step"]["task"].startswith("Stop before the backups"), result
    for text in ("s3-northgate-backups fails from the YBA host", "storage_config_configs", "storage_config_credentials",
                 "run again"):
        assert text in result["failed_step"]["message"], result["failed_step"]
    assert "storage_unreachable" in {f["id"] for f in result["remaining"]}, result
    assert "emergency_backup" not in record and "backup_retention" not in record, record.keys()
    assert record["disk_cleanup"]["used_percent_after"] <= 80
    assert record["metadb_repair"]["dump"]["path"]
    assert record["platform_service"]["health"]["healthy"] is True
    pct, status = host_facts()
    assert pct <= 80 and status == "Running"

    vars_file = storage.desired_vars(tmp_path)
    resumed = remediate(tmp_path, "exhausted-resumed", "-e", f"@{vars_file}")
    result = resumed["remediation"]
    assert result["after"] == [] and result["sla"]["status"] == "OK", result
    assert BACKUP_FINDINGS <= set(result["fixed"]), result
    assert "disk_cleanup" not in resumed and "metadb_repair" not in resumed, resumed.keys()
    assert resumed["emergency_backup"]["ok"] is True and resumed["backup_retention"]["ok"] is True

    again = remediate(tmp_path, "exhausted-again", "-e", f"@{vars_file}", changed=0)
    assert again["remediation"]["before"] == [] and again["remediation"]["fixed"] == []


def test_a_run_killed_half_way_is_resumed_by_the_next(tmp_path: Path) -> None:
    """The controller dies during the emergency backups (SIGKILL of the whole CLI, as a lost AWX node): the host
    lock stays with that run, so another run is refused with the way to resume it; the run started again with the
    same id does only what is left (no disk cleanup or metadata repair again) and ends with zero findings."""
    drv.reset("incident")
    vars_file = storage.desired_vars(tmp_path)
    cmd = [str(drv.BIN / "yba-remediation"), "run", str(RUNBOOK), "-i", str(drv.INVENTORY), *LAB_VARS,
           "-e", f"@{vars_file}", "-e", "yba_run_id=killed-run", "--summary", str(tmp_path / "killed.json")]
    proc = subprocess.Popen(cmd, cwd=drv.REPO, env=drv.environment(), stdout=subprocess.PIPE,  # noqa: S603
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "Back up every universe beyond its RPO" in line:
            break
    else:
        raise AssertionError("the run ended before its emergency backups:\n" + "".join(seen[-80:]))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)

    rc, output, summary = run_cli(tmp_path, "other", "-e", f"@{vars_file}", "-e", "yba_lock_wait_timeout=3")
    assert rc != 0 and "held by run killed-run" in output, output
    assert "resume it: run again with -e yba_run_id=killed-run" in output, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]

    record = remediate(tmp_path, "resumed", "-e", f"@{vars_file}", "-e", "yba_run_id=killed-run")
    result = record["remediation"]
    assert result["after"] == [] and result["sla"]["status"] == "OK", result
    assert "disk_full" not in result["before"] and "metadb_index_corrupt" not in result["before"], result
    assert "disk_cleanup" not in record and "metadb_repair" not in record, record.keys()
    assert "yba-remediation.lock" not in fingerprint()


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
                        "-e", "yba_lock_wait_timeout=5", *HOST_ONLY),
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
    again = remediate(tmp_path, "third", *HOST_ONLY, changed=0)["remediation"]
    assert again["fixed"] == [] and again["remaining"] == []


def test_a_failing_step_still_reports_and_releases_the_lock(tmp_path: Path) -> None:
    """The metadata repair refuses (its dump has nowhere to go) after the disk cleanup ran: the run fails naming the
    step, the report and the run record say what was done, the platform was never stopped, the lock is free."""
    drv.reset("incident")
    platform_pids = fingerprint().splitlines()[1]
    rc, output, summary = run_cli(tmp_path, "failing-step", "-e", "metadb_repair_dump_dir=/proc/yba-no-such-dir",
                                  *HOST_ONLY)
    assert rc != 0, output
    record = summary["run_record"]["yba-lab"]
    result = record["remediation"]
    assert "metadata" in result["failed_step"]["task"].lower() or "dump" in result["failed_step"]["message"], result
    assert "disk_full" in result["fixed"] and record["disk_cleanup"]["freed_bytes"] > 0, result
    assert "failed at" in output and "/proc/yba-no-such-dir" in output
    assert fingerprint().splitlines()[1] == platform_pids, "the platform was restarted by a refused repair"
    assert "yba-remediation.lock" not in fingerprint()
