"""The platform simulator and yba-ctl stand-in in a live lab: backups against live/dead S3 and a full disk,
storage-config validation, retention edits and deletes, schedules, reconciliation on restart,
hang/crash/restart through yba-ctl, heap from a JAVA_OPTS drop-in, createBackup, upgrade."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from typing import Any, Iterator

import pytest

LAB = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, LAB)

from ybalab.platform import client as pclient  # noqa: E402
from ybalab.platform import crypto, lifecycle, services  # noqa: E402
from ybalab.platform import heap as heapmodel  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")


def ybalab(d: str, *args: str) -> None:
    env = dict(os.environ, YBA_LAB_DIR=d, PYTHONPATH=LAB)
    cp = subprocess.run([sys.executable, "-m", "ybalab", *args], env=env, text=True, capture_output=True,
                        timeout=300, check=False)
    assert cp.returncode == 0, f"ybalab {' '.join(args)}: {cp.stdout}\n{cp.stderr}"


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="yba-lab-plat-", dir="/tmp")
    os.chmod(d, 0o755)
    try:
        ybalab(d, "up", "--scenario", "healthy")
        yield d
    finally:
        env = dict(os.environ, YBA_LAB_DIR=d, PYTHONPATH=LAB)
        subprocess.run([sys.executable, "-m", "ybalab", "down"], env=env, capture_output=True, timeout=120,
                       check=False)
        shutil.rmtree(d, ignore_errors=True)


def load(d: str) -> dict[str, Any]:
    with open(os.path.join(d, "lab.json"), encoding="utf-8") as fh:
        return json.load(fh)


def reset(d: str, scenario: str, repair_index: bool = False) -> dict[str, Any]:
    ybalab(d, "reset", scenario)
    state = load(d)
    if repair_index:  # the incident's corrupted backup index would otherwise fail backup inserts at random
        sql(state, "REINDEX INDEX ix_backup_customer_state")
    return state


def sql(state: dict[str, Any], query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    pg = state["postgres"]
    with psycopg.connect(host="127.0.0.1", port=pg["port"], user="postgres", dbname="yugaware", autocommit=True) as c:
        cur = c.execute(query, args)
        return cur.fetchall() if cur.description else []


def yba_ctl(state: dict[str, Any], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    path = os.path.join(state["host"]["root"], "usr/bin/yba-ctl")
    cp = subprocess.run([path, *args], text=True, capture_output=True, timeout=120, check=False)
    if check:
        assert cp.returncode == 0, f"yba-ctl {' '.join(args)}: {cp.stdout}\n{cp.stderr}"
    return cp


def live_config(state: dict[str, Any], api: pclient.Client, name: str = "s3-live") -> str:
    s3 = state["s3"]
    status, body = api.call("POST", "/api/v1/customers/{c}/configs", {
        "configName": name, "name": "S3", "type": "STORAGE",
        "data": {"BACKUP_LOCATION": f"s3://{s3['bucket']}/lab-live", "AWS_ACCESS_KEY_ID": s3["access_key"],
                 "AWS_SECRET_ACCESS_KEY": s3["secret_key"], "AWS_HOST_BASE": s3["endpoint"],
                 "PATH_STYLE_ACCESS": "true", "SIGNING_REGION": s3["region"]}})
    assert status == 200, body
    return body["configUUID"]


def backup(api: pclient.Client, state: dict[str, Any], config: str, universe: str | None = None,
           tbd: int = 3 * 86400000) -> tuple[dict[str, Any], dict[str, Any]]:
    uni = universe or sorted(state["platform"]["universes"].values())[0]
    status, body = api.call("POST", "/api/v1/customers/{c}/backups", {
        "storageConfigUUID": config, "universeUUID": uni, "backupType": "PGSQL_TABLE_TYPE",
        "keyspaceTableList": [{"keyspace": "yugabyte"}], "timeBeforeDelete": tbd, "expiryTimeUnit": "DAYS"})
    assert status == 200, body
    task = api.wait_task(body["taskUUID"])
    rows = sql(state, "SELECT backup_uuid FROM backup WHERE task_uuid = %s", (body["taskUUID"],))
    status, b = api.call("GET", f"/api/v1/customers/{{c}}/backups/{rows[0][0]}")
    assert status == 200, b
    return task, b


def s3_keys(state: dict[str, Any], prefix: str) -> list[str]:
    import boto3

    s3 = state["s3"]
    cli = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                       aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
    return [o["Key"] for o in cli.list_objects_v2(Bucket=s3["bucket"], Prefix=prefix).get("Contents", [])]


def test_auth_and_version(labdir: str) -> None:
    state = reset(labdir, "healthy")
    anon = pclient.Client(state, token=None)
    assert anon.call("GET", "/api/v1/app_version") == (200, {"version": state["platform"]["version"]})
    status, body = anon.call("GET", "/api/v1/customers")
    assert status == 401 and body["success"] is False and body["error"] == "Unable to authorize user"
    status, body = pclient.Client(state, token="wrong").call("GET", "/api/v1/customers/{c}/configs")
    assert status == 401
    status, body = pclient.Client(state).call("GET", "/api/v1/customers")
    assert status == 200 and body[0]["uuid"] == state["platform"]["customer_uuid"]


def test_storage_config_validation_and_masking(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    s3 = state["s3"]
    dead = {"configName": "s3-dead", "name": "S3", "type": "STORAGE",
            "data": {"BACKUP_LOCATION": f"s3://{s3['bucket']}/x", "AWS_ACCESS_KEY_ID": s3["access_key"],
                     "AWS_SECRET_ACCESS_KEY": s3["secret_key"], "AWS_HOST_BASE": s3["dead_endpoint"]}}
    t0 = time.monotonic()
    status, body = api.call("POST", "/api/v1/customers/{c}/configs", dead)
    assert status == 400 and time.monotonic() - t0 < 10
    assert "Connection refused" in body["errorJson"]["data.BACKUP_LOCATION"][0]
    status, body = api.call("POST", "/api/v1/customers/{c}/configs", dict(dead, data={"BACKUP_LOCATION": "gs://x"}))
    assert status == 400 and set(body["errorJson"]) >= {"data.BACKUP_LOCATION", "data.AWS_ACCESS_KEY_ID"}
    cfg = live_config(state, api)
    row = sql(state, "SELECT data FROM customer_config WHERE config_uuid = %s", (cfg,))[0][0]
    assert s3["secret_key"] not in row and crypto.decrypt(state, row)["AWS_SECRET_ACCESS_KEY"] == s3["secret_key"]
    listed = {c["configUUID"]: c for c in api.call("GET", "/api/v1/customers/{c}/configs")[1]}
    masked = listed[cfg]["data"]
    assert masked["AWS_SECRET_ACCESS_KEY"] != s3["secret_key"] and "*" in masked["AWS_SECRET_ACCESS_KEY"]
    # Editing with the masked secrets keeps the stored secrets (YBA unmasks them).
    status, body = api.call("PUT", f"/api/v1/customers/{{c}}/configs/{cfg}/edit",
                            {"configName": "s3-live-2", "name": "S3", "type": "STORAGE", "data": masked})
    assert status == 200, body
    row = sql(state, "SELECT data, config_name FROM customer_config WHERE config_uuid = %s", (cfg,))[0]
    assert crypto.decrypt(state, row[0])["AWS_SECRET_ACCESS_KEY"] == s3["secret_key"] and row[1] == "s3-live-2"
    # Pointing the seeded config at the dead endpoint is refused, the config is unchanged.
    seeded = state["platform"]["storage_config_uuid"]
    data = dict(listed[seeded]["data"], AWS_HOST_BASE=s3["dead_endpoint"])
    status, body = api.call("PUT", f"/api/v1/customers/{{c}}/configs/{seeded}",
                            {"configName": listed[seeded]["configName"], "name": "S3", "type": "STORAGE", "data": data})
    assert status == 400 and "data.BACKUP_LOCATION" in body["errorJson"]


def test_backup_succeeds_against_live_s3_then_retention_and_delete(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = live_config(state, api)
    t0 = time.monotonic()
    task, b = backup(api, state, cfg)
    assert task["status"] == "Success" and time.monotonic() - t0 < 5
    assert b["state"] == "Completed" and b["completionTime"] and b["expiry"]
    loc = b["backupInfo"]["storageLocation"]
    prefix = loc.split(f"s3://{state['s3']['bucket']}/", 1)[1]
    assert len(s3_keys(state, prefix)) == 3
    stage = os.path.join(state["host"]["root"], "opt/yugabyte/data/yb-platform/backup_staging")
    assert os.listdir(stage) == []
    comp, exp = sql(state, "SELECT completion_time, expiry FROM backup WHERE backup_uuid = %s", (b["backupUUID"],))[0]
    assert (exp - comp).total_seconds() == pytest.approx(3 * 86400, abs=1)
    # Retention edit: 0 = keep forever; > 0 needs a unit; in-progress states refused.
    status, body = api.call("PUT", f"/api/v1/customers/{{c}}/backups/{b['backupUUID']}",
                            {"timeBeforeDeleteFromPresentInMillis": 0})
    assert status == 200 and "expiry" not in body
    status, body = api.call("PUT", f"/api/v1/customers/{{c}}/backups/{b['backupUUID']}",
                            {"timeBeforeDeleteFromPresentInMillis": 3600000})
    assert status == 400 and body["error"] == "Please provide a time unit for backup expiry"
    status, body = api.call("PUT", f"/api/v1/customers/{{c}}/backups/{b['backupUUID']}",
                            {"timeBeforeDeleteFromPresentInMillis": 3600000, "expiryTimeUnit": "HOURS"})
    assert status == 200 and body["expiry"] and body["expiryTimeUnit"] == "HOURS"
    # The paged list finds it by state and universe.
    status, page = api.call("POST", "/api/v1/customers/{c}/backups/page", {
        "filter": {"states": ["Completed"], "universeUUIDList": [b["universeUUID"]], "storageConfigUUIDList": [cfg]},
        "sortBy": "createTime", "direction": "DESC", "offset": 0, "limit": 10, "needTotalCount": True})
    assert status == 200 and page["totalCount"] == 1
    assert page["entities"][0]["commonBackupInfo"]["backupUUID"] == b["backupUUID"]
    # Delete really removes the objects, then the row (Backup V2).
    status, body = api.call("POST", "/api/v1/customers/{c}/backups/delete",
                            {"deleteBackupInfos": [{"backupUUID": b["backupUUID"], "storageConfigUUID": cfg}]})
    assert status == 200 and len(body["taskUUID"]) == 1
    assert api.wait_task(body["taskUUID"][0])["status"] == "Success"
    assert s3_keys(state, prefix) == []
    assert sql(state, "SELECT count(*) FROM backup WHERE backup_uuid = %s", (b["backupUUID"],))[0][0] == 0


def test_backup_and_delete_fail_against_dead_endpoint(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    s3 = state["s3"]
    dead = str(uuid.uuid4())
    data = {"BACKUP_LOCATION": f"s3://{s3['bucket']}/dead", "AWS_ACCESS_KEY_ID": s3["access_key"],
            "AWS_SECRET_ACCESS_KEY": s3["secret_key"], "AWS_HOST_BASE": s3["dead_endpoint"]}
    sql(state, "INSERT INTO customer_config (config_uuid, customer_uuid, type, name, config_name, data) "
               "VALUES (%s, %s, 'STORAGE', 'S3', 's3-dead', %s)",
        (dead, state["platform"]["customer_uuid"], crypto.encrypt(state, data)))
    t0 = time.monotonic()
    task, b = backup(api, state, dead)
    assert task["status"] == "Failure" and b["state"] == "Failed" and time.monotonic() - t0 < 10
    port = s3["dead_endpoint"].rsplit(":", 1)[1]
    _status, failed = api.call("GET", f"/api/v1/customers/{{c}}/tasks/{b['taskUUID']}/failed_subtasks")
    assert f"Connect to 127.0.0.1:{port} failed: Connection refused" in failed["failedSubTasks"][0]["errorString"]
    status, body = api.call("POST", "/api/v1/customers/{c}/backups/delete",
                            {"deleteBackupInfos": [{"backupUUID": b["backupUUID"]}]})
    assert api.wait_task(body["taskUUID"][0])["status"] == "Failure"
    assert api.call("GET", f"/api/v1/customers/{{c}}/backups/{b['backupUUID']}")[1]["state"] == "FailedToDelete"
    status, body = api.call("POST", "/api/v1/customers/{c}/backups/delete",
                            {"deleteBackupInfos": [{"backupUUID": b["backupUUID"]}], "deleteForcefully": True})
    assert api.wait_task(body["taskUUID"][0])["status"] == "Success"
    assert api.call("GET", f"/api/v1/customers/{{c}}/backups/{b['backupUUID']}")[0] == 400
    _status, metrics = pclient.Client(state, token=None).call("GET", "/api/v1/prometheus_metrics")
    assert "ybp_delete_backup_failure 1.0" in metrics


def test_backup_fails_when_disk_full(labdir: str) -> None:
    state = reset(labdir, "incident", repair_index=True)
    api = pclient.Client(state)
    cfg = live_config(state, api)
    task, b = backup(api, state, cfg)
    assert task["status"] == "Failure" and b["state"] == "Failed"
    _status, failed = api.call("GET", f"/api/v1/customers/{{c}}/tasks/{b['taskUUID']}/failed_subtasks")
    assert "No space left on device" in failed["failedSubTasks"][0]["errorString"]
    stage = os.path.join(state["host"]["root"], "opt/yugabyte/data/yb-platform/backup_staging")
    assert os.listdir(stage) == []  # the partial staging file is cleaned up


def test_stop_backup_and_edit_refusals(labdir: str) -> None:
    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = live_config(state, api)
    uni = sorted(state["platform"]["universes"].values())[1]
    status, body = api.call("POST", "/api/v1/customers/{c}/backups", {
        "storageConfigUUID": cfg, "universeUUID": uni, "backupType": "PGSQL_TABLE_TYPE", "timeBeforeDelete": 0})
    b_uuid = sql(state, "SELECT backup_uuid FROM backup WHERE task_uuid = %s", (body["taskUUID"],))[0][0]
    status, err = api.call("PUT", f"/api/v1/customers/{{c}}/backups/{b_uuid}",
                           {"timeBeforeDeleteFromPresentInMillis": 1000, "expiryTimeUnit": "DAYS"})
    assert status == 400 and err["error"] == "Cannot edit a backup that is in progress state"
    status, res = api.call("POST", f"/api/v1/customers/{{c}}/backups/{b_uuid}/stop")
    assert status == 200 and res["success"] is True
    assert api.wait_task(body["taskUUID"])["status"] == "Aborted"
    assert api.call("GET", f"/api/v1/customers/{{c}}/backups/{b_uuid}")[1]["state"] == "Stopped"
    status, err = api.call("POST", f"/api/v1/customers/{{c}}/backups/{b_uuid}/stop")
    assert status == 400 and "not in progress" in err["error"]
    # Universe backup switch.
    assert api.call("PUT", f"/api/v1/customers/{{c}}/universes/{uni}/update_backup_state?markActive=false")[0] == 200
    status, err = api.call("POST", "/api/v1/customers/{c}/backups", {"storageConfigUUID": cfg, "universeUUID": uni})
    assert status == 400 and err["error"] == "Taking backups on the universe is disabled"
    assert api.call("GET", f"/api/v1/customers/{{c}}/universes/{uni}")[1]["universeConfig"]["takeBackups"] == "false"
    # An unused config can be deleted.
    other = live_config(state, api, "s3-other")
    status, res = api.call("DELETE", f"/api/v1/customers/{{c}}/configs/{other}")
    assert status == 200 and api.wait_task(res["taskUUID"])["status"] == "Success"
    assert other not in {c["configUUID"] for c in api.call("GET", "/api/v1/customers/{c}/configs")[1]}


def test_schedules_edit_rules(labdir: str) -> None:
    state = reset(labdir, "incident")
    api = pclient.Client(state)
    status, page = api.call("POST", "/api/v1/customers/{c}/schedules/page", {
        "filter": {"status": ["Paused"]}, "sortBy": "scheduleName", "direction": "ASC", "offset": 0, "limit": 50,
        "needTotalCount": True})
    assert status == 200 and page["totalCount"] >= 1
    s = page["entities"][0]
    assert s["status"] == "Paused" and s["failureCount"] >= 3 and s["frequencyTimeUnit"] in ("DAYS", "HOURS")
    path = f"/api/v1/customers/{{c}}/schedules/{s['scheduleUUID']}"
    status, err = api.call("PUT", path, {"status": "Paused"})
    assert status == 400 and "internal state" in err["error"]
    status, body = api.call("PUT", path, {"status": "Active"})
    assert status == 200 and body["status"] == "Active" and body["failureCount"] == 0
    status, body = api.call("PUT", path, {"status": "Stopped"})
    assert status == 200 and body["status"] == "Stopped"
    assert api.call("GET", path)[1]["status"] == "Stopped"


def test_restart_reconciles_like_yba(labdir: str) -> None:
    state = reset(labdir, "healthy")
    cust = state["platform"]["customer_uuid"]
    uni = sorted(state["platform"]["universes"].values())[0]
    cfg = state["platform"]["storage_config_uuid"]
    t_run, b_run, b_del, b_stop = (str(uuid.uuid4()) for _i in range(4))
    sql(state, "INSERT INTO task_info (uuid, task_type, task_state, details) VALUES (%s, 'CreateBackup', 'Running', '{}')",
        (t_run,))
    for b, st, t in ((b_run, "In Progress", t_run), (b_del, "DeleteInProgress", None), (b_stop, "Stopped", None)):
        sql(state, "INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, "
                   "backup_info, state, task_uuid, create_time, base_backup_uuid) "
                   "VALUES (%s, %s, %s, %s, 'u', '{}', %s, %s, now(), %s)", (b, cust, uni, cfg, st, t, b))
    s_uuid = str(uuid.uuid4())
    sql(state, "INSERT INTO schedule (schedule_uuid, customer_uuid, owner_uuid, schedule_name, task_type, task_params, "
               "status, running_state) VALUES (%s, %s, %s, 'editing', 'CreateBackup', '{}', 'Editing', true)",
        (s_uuid, cust, uni))
    yba_ctl(state, "restart", "yb-platform")
    assert sql(state, "SELECT task_state, details FROM task_info WHERE uuid = %s", (t_run,))[0][0] == "Failure"
    assert "Platform restarted." in sql(state, "SELECT details FROM task_info WHERE uuid = %s", (t_run,))[0][0]
    got = dict(sql(state, "SELECT backup_uuid::text, state FROM backup WHERE backup_uuid = ANY(%s::uuid[])",
                   ([b_run, b_del, b_stop],)))
    assert got == {b_run: "Failed", b_del: "QueuedForDeletion", b_stop: "Failed"}
    assert sql(state, "SELECT status, running_state FROM schedule WHERE schedule_uuid = %s", (s_uuid,))[0] == \
        ("Error", False)


def test_hang_crash_restart_via_yba_ctl(labdir: str) -> None:
    state = reset(labdir, "platform-hung")
    anon = pclient.Client(state, token=None, timeout=2)
    with pytest.raises(OSError):  # TCP accepts, nothing ever answers
        anon.call("GET", "/api/v1/app_version")
    assert "Running" in yba_ctl(state, "status", "yb-platform").stdout.splitlines()[-1]
    yba_ctl(state, "restart", "yb-platform")
    assert anon.call("GET", "/api/v1/app_version")[0] == 200
    lifecycle.crash(state)
    assert os.path.exists(state["platform"]["pid_file"])
    assert "Errored" in yba_ctl(state, "status", "yb-platform").stdout.splitlines()[-1]
    with pytest.raises(OSError):
        anon.call("GET", "/api/v1/app_version")
    yba_ctl(state, "start", "yb-platform")
    assert anon.call("GET", "/api/v1/app_version")[0] == 200
    yba_ctl(state, "stop")
    out = yba_ctl(state, "status").stdout
    assert out.count(" Stopped |") == 3, out
    yba_ctl(state, "start")
    assert yba_ctl(state, "status").stdout.count(" Running |") == 3
    assert anon.call("GET", "/api/v1/app_version")[0] == 200


def _heap(state: dict[str, Any]) -> tuple[float, float]:
    _status, text = pclient.Client(state, token=None).call("GET", "/api/v1/prometheus_metrics")
    vals = {}
    for line in text.splitlines():
        if line.startswith('jvm_memory_bytes_used{area="heap"') or line.startswith('jvm_memory_bytes_max{area="heap"'):
            vals[line.split("{")[0]] = float(line.rsplit(" ", 1)[1])
    return vals["jvm_memory_bytes_used"], vals["jvm_memory_bytes_max"]


def _answer_seconds(state: dict[str, Any]) -> float:
    start = time.monotonic()
    assert pclient.Client(state, token=None).call("GET", "/api/v1/app_version")[0] == 200
    return time.monotonic() - start


def test_heap_from_java_opts_dropin(labdir: str) -> None:
    state = reset(labdir, "incident")
    time.sleep(heapmodel.DEFAULTS["warmup_seconds"])  # the live set grows to its size after a start
    used, mx = _heap(state)
    assert mx == 1 << 30 and 0.89 <= used / mx <= 0.95
    assert _answer_seconds(state) >= 0.1  # GC thrash: slow answers, the process keeps running
    dropin = os.path.join(state["host"]["root"], "etc/systemd/system/yb-platform.service.d/heap.conf")
    os.makedirs(os.path.dirname(dropin), exist_ok=True)
    with open(dropin, "w", encoding="utf-8") as fh:
        fh.write('[Service]\nEnvironment="JAVA_OPTS=-Xmx4g"\n')
    assert _heap(state)[1] == 1 << 30  # takes effect only at the next restart
    yba_ctl(state, "restart", "yb-platform")
    time.sleep(heapmodel.DEFAULTS["warmup_seconds"])
    used, mx = _heap(state)
    assert mx == 4 << 30 and used / mx < 0.4  # a bigger -Xmx relieves the pressure
    assert _answer_seconds(state) < 0.1
    pid = services.read_pid(state, "yb-platform")
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        assert b"-Xmx4g" in fh.read().split(b"\0")  # visible to `ps -o args`, as with the real start script
    os.unlink(dropin)
    yba_ctl(state, "restart", "yb-platform")
    assert _heap(state)[1] == 1 << 30


def test_create_backup_ctl(labdir: str) -> None:
    state = reset(labdir, "healthy")
    cp = yba_ctl(state, "createBackup", "/var/backups", "--exclude_releases", "--exclude_prometheus")
    printed = cp.stdout.strip().splitlines()[-1]
    assert printed.startswith("/var/backups/backup_") and printed.endswith(".tgz"), cp.stdout
    archive = os.path.join(state["host"]["root"], printed.lstrip("/"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "platform_dump.sql" in names and not any("releases" in n for n in names)
    assert not os.path.exists(os.path.join(state["host"]["root"], "opt/yugabyte/platform_dump.sql"))
    assert pclient.Client(state, token=None).call("GET", "/api/v1/app_version")[0] == 200  # restarted
    dump = subprocess.run(["pg_restore", "-l"], input=tarfile.open(archive).extractfile(
        "platform_dump.sql").read(), capture_output=True, check=True).stdout
    assert b"TABLE DATA public backup" in dump


def test_create_backup_ctl_disk_full(labdir: str) -> None:
    state = reset(labdir, "incident")
    cp = yba_ctl(state, "createBackup", "/opt/yugabyte/backups", check=False)
    assert cp.returncode == 1 and "No space left on device" in cp.stderr, cp.stderr
    assert services.unit_status(state, "yb-platform") == services.RUNNING  # restarted even on failure


def test_upgrade_from_bundle(labdir: str) -> None:
    state = reset(labdir, "healthy")
    soft = os.path.join(state["host"]["root"], "opt/yugabyte/software")
    before = sorted(os.listdir(soft))
    old_bundle = lifecycle.make_bundle(state, "2.16.0.0-b1", os.path.join(state["host"]["root"], "tmp/b-old"))
    cp = subprocess.run([os.path.join(old_bundle, "yba-ctl"), "upgrade", "-s"], capture_output=True, text=True,
                        check=False)
    assert cp.returncode == 1 and "not newer" in cp.stderr
    cp = yba_ctl(state, "upgrade", check=False)
    assert cp.returncode == 1 and "bundle directory" in cp.stderr
    bundle = lifecycle.make_bundle(state, "2.20.1.3-b3", os.path.join(state["host"]["root"], "tmp/b-new"))
    cp = subprocess.run([os.path.join(bundle, "yba-ctl"), "upgrade", "--skip_preflight"], capture_output=True,
                        text=True, check=False)
    assert cp.returncode == 0, cp.stderr + cp.stdout
    after = sorted(os.listdir(soft))
    assert after == ["2.18.1.0-b84", "2.20.1.3-b3", "active"], (before, after)
    assert os.readlink(os.path.join(soft, "active")) == "2.20.1.3-b3"
    assert pclient.Client(state, token=None).call("GET", "/api/v1/app_version")[1] == {"version": "2.20.1.3-b3"}
    assert "YugabyteDB Anywhere: 2.20.1.3-b3" in yba_ctl(state, "version").stdout


def test_concurrent_backups_run_in_parallel(labdir: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    state = reset(labdir, "healthy")
    api = pclient.Client(state)
    cfg = live_config(state, api)
    unis = sorted(state["platform"]["universes"].values())
    t0 = time.monotonic()
    backup(api, state, cfg, unis[0])
    single = time.monotonic() - t0
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: backup(api, state, cfg, unis[i % len(unis)]), range(8)))
    elapsed = time.monotonic() - t0
    assert [t["status"] for t, _b in results] == ["Success"] * 8
    assert len({b["backupUUID"] for _t, b in results}) == 8
    assert elapsed < 8 * single / 2, f"8 backups took {elapsed:.1f}s, one {single:.1f}s: not concurrent"


def test_platform_exits_when_metadb_is_down(labdir: str) -> None:
    state = reset(labdir, "healthy")
    yba_ctl(state, "stop", "postgres")
    try:
        yba_ctl(state, "stop", "yb-platform")
        cp = yba_ctl(state, "start", "yb-platform", check=False)
        assert cp.returncode == 1 and "exited during start-up" in cp.stderr, cp.stderr
        assert "Cannot connect to database" in cp.stderr
        assert " Stopped |" in yba_ctl(state, "status", "postgres").stdout
    finally:
        yba_ctl(state, "start")
    assert pclient.Client(state, token=None).call("GET", "/api/v1/app_version")[0] == 200
