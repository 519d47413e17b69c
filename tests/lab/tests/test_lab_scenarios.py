"""The lab itself: up/reset/down on a private YBA_LAB_DIR, the incident's facts, ssh + sudo, no leftovers."""
from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any, Iterator

import pytest

from labtest import LAB, own_lab, ybalab  # noqa: E402  (puts the lab on sys.path)

from ybalab import labstate  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")

# no merge joins either: costing one reads the ends of an index (get_actual_variable_range), corrupt or not
NO_INDEX = ("SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; "
            "SET enable_mergejoin = off;")


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, Any]]:
    with own_lab("yba-lab-test-", "incident") as (d, _own):
        yield {"dir": d}


def state(lab: dict[str, Any]) -> dict[str, Any]:
    with open(os.path.join(lab["dir"], "lab.json"), encoding="utf-8") as fh:
        return json.load(fh)


def sql(lab: dict[str, Any], query: str) -> list[list[str]]:
    pg = state(lab)["postgres"]
    cp = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-h", "127.0.0.1", "-p", str(pg["port"]), "-U", "postgres",
                         "-d", "yugaware", "-c", NO_INDEX + query], text=True, capture_output=True, check=True)
    return [ln.split("|") for ln in cp.stdout.splitlines() if ln]


def one(lab: dict[str, Any], query: str) -> int:
    return int(sql(lab, query)[0][0])


def test_incident_disk_is_really_full(lab: dict[str, Any]) -> None:
    st = state(lab)
    root = st["host"]["root"]
    assert st["host"]["mounted"] and os.path.ismount(root)
    vfs = os.statvfs(root)
    used = vfs.f_blocks - vfs.f_bfree
    assert used / (used + vfs.f_bavail) >= 0.95
    data = os.path.join(root, "opt/yugabyte/data")
    logs = os.listdir(os.path.join(data, "logs"))
    assert sum(n.startswith("application-log-") and n.endswith(".gz") for n in logs) >= 35
    assert os.path.exists(os.path.join(data, "platform_dump.sql"))
    assert os.path.isdir(os.path.join(data, "yb-platform/releases/2.18.1.0-b84"))
    assert os.path.isdir(os.path.join(data, "yb-platform/releases/2.16.8.0-b12"))
    assert os.path.islink(os.path.join(root, "opt/yugabyte/software/active"))
    assert os.access(os.path.join(root, "opt/yugabyte/software/active/pgsql/bin/psql"), os.X_OK)
    # ages are real
    stale = os.path.join(root, "tmp/yb-backup-staging-9f2c1e7a.tmp")
    assert time.time() - os.stat(stale).st_mtime > 86400
    with open(st["host"]["manifest"], encoding="utf-8") as fh:
        manifest = json.load(fh)
    assert {"log-rotated", "log-bundle", "tmp-stale", "core-dump", "release-unused", "prometheus-block",
            "createbackup-archive", "pg-dump-leftover"} <= {f["category"] for f in manifest["files"]}
    yml = open(os.path.join(root, "opt/yba-ctl/yba-ctl.yml"), encoding="utf-8").read()
    assert f"port: {st['postgres']['port']}" in yml and "retentionTime: 15d" in yml


def test_incident_index_corruption_without_amcheck(lab: dict[str, Any]) -> None:
    """YBA never installs amcheck: the lab's yugaware has none, and the corrupt index (YBA's own
    ix_backup_task_uuid) fails every read through it, and every INSERT into backup."""
    st = state(lab)
    assert st["fault"]["corrupt_index"]["index"] == "ix_backup_task_uuid"
    assert one(lab, "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") == 0
    pg = st["postgres"]
    cp = subprocess.run([labstate.PG_BIN + "/psql", "-XAtq", "-h", "127.0.0.1", "-p", str(pg["port"]), "-U", "postgres",
                         "-d", "yugaware", "-c", "SET enable_seqscan = off; SET enable_bitmapscan = off; "
                         "SELECT count(*) FROM backup WHERE task_uuid IS NOT NULL"],
                        text=True, capture_output=True, check=False)
    assert cp.returncode != 0 and "invalid page in block" in cp.stderr, cp.stdout + cp.stderr


def test_incident_rows_match_the_spec(lab: dict[str, Any]) -> None:
    st = state(lab)
    assert 4900 <= one(lab, "SELECT count(*) FROM backup") <= 5200
    assert one(lab, "SELECT count(*) FROM backup WHERE state = 'Completed' AND create_time > now() - interval '72 hours'") == 0
    assert one(lab, "SELECT count(*) FROM backup WHERE state = 'Failed' AND create_time > now() - interval '24 hours'") == 15
    failed = sql(lab, "SELECT t.task_state, t.details FROM backup b JOIN task_info t ON t.uuid = b.task_uuid "
                      "WHERE b.state = 'Failed' AND b.create_time > now() - interval '24 hours'")
    assert len(failed) == 15 and all(r[0] == "Failure" for r in failed)
    dead = st["s3"]["dead_endpoint"].split("//")[1]
    assert all(dead in r[1] and "Connection refused" in r[1] for r in failed)
    inprog = dict((r[0], int(r[1])) for r in sql(lab, """
        SELECT coalesce(t.task_state, 'missing'), count(*) FROM backup b LEFT JOIN task_info t ON t.uuid = b.task_uuid
        WHERE b.state = 'In Progress' GROUP BY 1"""))
    assert inprog.get("Failure", 0) >= 1 and inprog.get("missing", 0) >= 1 and inprog.get("Running", 0) >= 1
    assert sql(lab, "SELECT DISTINCT status FROM schedule") == [["Paused"]]
    assert one(lab, "SELECT min(failure_count) FROM schedule") >= 3
    assert one(lab, "SELECT count(*) FROM backup WHERE state IN ('Completed', 'Failed') AND expiry < now()") > 100
    assert one(lab, "SELECT count(*) FROM universe") == 4
    assert one(lab, "SELECT count(*) FROM schema_version WHERE NOT success") == 0
    token = sql(lab, "SELECT api_token FROM users")[0][0]
    assert token == st["platform"]["token"]
    data = sql(lab, "SELECT data FROM customer_config WHERE type = 'STORAGE'")[0][0]
    assert "AWS_HOST_BASE" not in data and st["s3"]["secret_key"] not in data
    from ybalab.platform import crypto
    assert crypto.decrypt(st, data)["AWS_HOST_BASE"] == st["s3"]["dead_endpoint"]


def test_bucket_has_recent_backup_objects(lab: dict[str, Any]) -> None:
    import boto3
    s3 = state(lab)["s3"]
    client = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
    keys = client.list_objects_v2(Bucket=s3["bucket"], Prefix="northgate/")["KeyCount"]
    assert keys >= 32


def test_ssh_and_sudo(lab: dict[str, Any]) -> None:
    ssh = state(lab)["ssh"]
    cp = subprocess.run(["ssh", "-i", ssh["key"], "-p", str(ssh["port"]), "-o", "BatchMode=yes",
                         "-o", f"UserKnownHostsFile={ssh['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
                         "-o", "ControlMaster=no", f"{ssh['user']}@127.0.0.1", "id -un; sudo -n id -u"],
                        text=True, capture_output=True, check=False, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == ["ybaops", "0"]


@pytest.mark.parametrize("connection", ["ssh", "paramiko_ssh"])
def test_lab_inventory_reaches_the_host_with_become(lab: dict[str, Any], connection: str) -> None:
    repo = os.path.dirname(os.path.dirname(LAB))
    env = dict(os.environ, YBA_LAB_DIR=lab["dir"], PATH=os.path.join(repo, ".venv", "bin") + ":" + os.environ["PATH"],
               ANSIBLE_DEPRECATION_WARNINGS="false")
    cp = subprocess.run(["ansible", "-i", "inventory/lab", "yba", "-m", "ansible.builtin.command", "-a", "id -u",
                         "-e", f"ansible_connection={connection}"], cwd=repo, env=env, text=True,
                        capture_output=True, check=False, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "yba-lab | CHANGED | rc=0" in cp.stdout and cp.stdout.strip().endswith("0")


def test_up_is_idempotent(lab: dict[str, Any]) -> None:
    before = state(lab)
    pids = [labstate.read_pid(os.path.join(before["dir"], p)) for p in ("moto.pid", "ssh/sshd.pid")]
    ybalab(lab["dir"], "up", "--scenario", "incident")
    after = state(lab)
    assert {k: after[k]["port"] for k in ("ssh", "postgres", "s3")} == \
        {k: before[k]["port"] for k in ("ssh", "postgres", "s3")}
    assert after["platform"]["token"] == before["platform"]["token"]
    # services that were up are kept (postgres restarts: the incident's index corruption needs it)
    assert [labstate.read_pid(os.path.join(after["dir"], p)) for p in ("moto.pid", "ssh/sshd.pid")] == pids


def test_reset_healthy(lab: dict[str, Any]) -> None:
    t0 = time.monotonic()
    ybalab(lab["dir"], "reset", "healthy")
    assert time.monotonic() - t0 < 20
    st = state(lab)
    vfs = os.statvfs(st["host"]["root"])
    assert (vfs.f_blocks - vfs.f_bfree) / vfs.f_blocks < 0.8
    assert one(lab, "SELECT count(*) FROM backup WHERE state = 'Completed' AND create_time > now() - interval '24 hours'") >= 4
    assert one(lab, "SELECT count(*) FROM backup WHERE state <> 'Completed' AND create_time > now() - interval '72 hours'") == 0
    assert one(lab, "SELECT count(*) FROM backup WHERE state = 'In Progress'") == 0
    assert one(lab, "SELECT count(*) FROM backup WHERE expiry < now()") == 0
    assert sql(lab, "SELECT DISTINCT status FROM schedule") == [["Active"]]
    assert one(lab, "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") == 0
    sql(lab, "SET enable_indexscan = on; SET enable_indexonlyscan = on; SET enable_seqscan = off; "
             "SET enable_bitmapscan = off; SELECT count(*) FROM backup WHERE task_uuid IS NOT NULL")
    assert "fault" not in st


def test_black_holed_s3_endpoint_accepts_and_never_answers(lab: dict[str, Any]) -> None:
    import socket

    port = int(state(lab)["s3"]["blackhole_endpoint"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:  # the handshake succeeds
        sock.sendall(b"GET / HTTP/1.1\r\nHost: s3\r\n\r\n")
        sock.settimeout(1.0)
        with pytest.raises(socket.timeout):
            sock.recv(1)


def test_down_leaves_nothing(lab: dict[str, Any]) -> None:
    st = state(lab)
    ybalab(lab["dir"], "down")
    assert not os.path.ismount(st["host"]["root"])
    assert labstate.processes_referencing(lab["dir"]) == []
    for port in (st["ssh"]["port"], st["postgres"]["port"], st["s3"]["port"],
                 *(int(st["s3"][k].rsplit(":", 1)[1]) for k in ("blackhole_endpoint", "region_endpoint", "tls_endpoint"))):
        assert not labstate.port_open(port)
    with open("/etc/hosts", encoding="utf-8") as fh:  # the controller's entry for the host-unreachable name is gone
        assert st["s3"]["host_unreachable_name"] not in fh.read()
    cp = ybalab(lab["dir"], "status", check=False)
    assert cp.returncode == 1
