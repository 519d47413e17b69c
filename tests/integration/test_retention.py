"""Issue 12's "done means", through the CLI on the incident lab after the runbook and the storage repair:
backup_retention brings the expired backups YBA never deleted (~720, FailedToDelete among them) to 0 while every
universe keeps its floor of verified backups; backup_reconcile reports exactly the seeded dangling backup and orphan
folders within the bucket's lifecycle window; restore_drill restores a verified backup into a scratch keyspace,
checks it and drops it, and fails clearly on the dangling backup; second runs of retention and reconcile change
nothing; no secret in any output. The truth is read from the metadata DB with psql, not through the modules."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import test_integration as drv  # the integration driver: lab reset, commands, environment
import test_remediate as runbook  # the runbook's CLI runs
import test_storage_config as storage  # the storage repair's vars file, CLI runner and secret check

PLAYBOOKS = drv.REPO / "playbooks"
UNIVERSES = {"northgate-payments", "northgate-ledger", "northgate-analytics", "northgate-staging"}
LEFT_UNDELETED = ("Completed", "Failed", "Stopped", "Skipped", "FailedToDelete", "QueuedForDeletion",
                  "DeleteInProgress")


def lab() -> dict:
    return json.loads((drv.LAB_DIR / "lab.json").read_text(encoding="utf-8"))


def sql(query: str) -> str:
    pg = lab()["postgres"]
    return subprocess.run([f"{pg['bin_dir']}/psql", "-XAtq", "-h", pg["host"], "-p", str(pg["port"]), "-U", pg["user"],
                           "-d", pg["database"], "-c", query], check=True, capture_output=True, text=True).stdout.strip()


def run(tmp_path: Path, name: str, playbook: str, *extra: str) -> tuple[int, str, dict]:
    rc, output, summary = storage.run_cli(tmp_path, name, PLAYBOOKS / f"{playbook}.yml", *extra)
    storage.assert_no_secret(output, json.dumps(summary))
    return rc, output, summary


def record(summary: dict, key: str) -> dict:
    return summary["run_record"]["yba-lab"][key]


def expired_left() -> int:
    states = ", ".join(f"'{s}'" for s in LEFT_UNDELETED)
    return int(sql(f"SELECT count(*) FROM backup WHERE expiry < now() AND state IN ({states})"))


def test_after_the_storage_fix_retention_reconcile_and_a_restore_drill(tmp_path: Path) -> None:
    drv.reset("incident")
    seeded = lab()["seeded"]
    vars_file = storage.desired_vars(tmp_path)

    # the host first (disk, metadata DB with its corrupt index, platform): the runbook names backup_retention.yml
    fixed = runbook.remediate(tmp_path, "runbook")["remediation"]
    nxt = {f["id"]: f["fix_playbook"] for f in fixed["not_automated"] if f["fix_playbook"]}
    assert nxt.get("retention_not_enforced") == "backup_retention.yml", fixed
    rc, output, _summary = run(tmp_path, "storage", "storage_config", "-e", f"@{vars_file}", "--quiet")
    assert rc == 0, output
    assert expired_left() > seeded["expired"] // 2  # YBA's GC (10 a minute now) is far from done

    # retention: --check plans and deletes nothing; the run brings expired-not-deleted to 0 with every universe's
    # floor kept (its newest verified backup); a second run changes nothing
    rc, output, summary = run(tmp_path, "retention-check", "backup_retention", "-e", f"@{vars_file}", "--check")
    assert rc == 0, output
    planned = record(summary, "backup_retention")
    assert planned["check_mode"] is True and planned["counts"]["planned"] > seeded["expired"] // 2, planned
    assert planned["counts"]["deleted"] == 0 and expired_left() > 0, planned
    fast = ("-e", "backup_retention_batch_interval=0", "-e", "backup_retention_poll_interval=2")
    rc, output, summary = run(tmp_path, "retention", "backup_retention", "-e", f"@{vars_file}", *fast)
    assert rc == 0, output
    done = record(summary, "backup_retention")
    assert done["ok"] is True and done["left_after"] == [], done
    assert done["counts"]["failed_to_delete"] == 0 and done["counts"]["deleted"] + done["counts"]["gone"] > 0, done
    assert {f["universe"] for f in done["floors"] if f["met"] and f["kept"]} == UNIVERSES, done["floors"]
    assert expired_left() == 0
    for universe in UNIVERSES:  # each keeps its newest Completed backup
        assert int(sql(f"SELECT count(*) FROM backup WHERE universe_name = '{universe}' AND state = 'Completed' "
                       "AND backup_uuid = base_backup_uuid")) >= 1, universe
    rc, output, summary = run(tmp_path, "retention-again", "backup_retention", "-e", f"@{vars_file}", *fast)
    assert rc == 0, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
    assert record(summary, "backup_retention")["counts"]["planned"] == 0

    # reconcile, read-only, within the bucket's lifecycle window: exactly the seeded dangling backup and orphans
    # (their objects were written by the reset, minutes ago: no grace period)
    window = sql("SELECT to_char((max(create_time) - interval '%d days' + interval '1 second') AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM backup WHERE state = 'Completed'" % seeded["lifecycle_days"])
    reconcile = ("-e", f"@{vars_file}", "-e", f"backup_reconcile_created_after={window}",
                 "-e", "backup_reconcile_orphan_grace=0", "-e", f"backup_reconcile_output_dir={tmp_path / 'rc'}")
    for name in ("reconcile", "reconcile-again"):
        rc, output, summary = run(tmp_path, name, "backup_reconcile", *reconcile)
        assert rc == 0, output
        assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
        found = record(summary, "backup_reconcile")
        assert found["ok"] is True and found["counts"]["dangling"] == len(seeded["dangling"]), found
        assert found["counts"]["orphans"] == len(seeded["orphans"]), found
        report = json.loads(Path(found["controller_file"]).read_text(encoding="utf-8"))
        assert [d["backup_uuid"] for d in report["dangling"]] == seeded["dangling"], report["dangling"]
        assert sorted(o["key_prefix"] for o in report["orphans"]) == sorted(seeded["orphans"]), report["orphans"]

    # the drill: the newest verified backup of a universe restores into a scratch keyspace, is checked and dropped
    pg = lab()["postgres"]
    ysql = {"restore_drill_ysql": {"host": pg["host"], "port": pg["port"], "user": pg["user"],
                                   "maintenance_db": "postgres"}}
    rc, output, summary = run(tmp_path, "drill", "restore_drill", "-e", f"@{vars_file}", "-e", json.dumps(ysql),
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
    rc, output, summary = run(tmp_path, "drill-dangling", "restore_drill", "-e", f"@{vars_file}",
                              "-e", json.dumps(ysql), "-e", f"restore_drill_universe={universe}",
                              "-e", f"restore_drill_backup_uuid={dangling}")
    assert rc != 0, output
    failed = record(summary, "restore_drill")
    assert failed["ok"] is False and failed.get("restore_state") in (None, ""), failed
    assert f"backup {dangling} is dangling" in output, output
