# Unit tests of the backup_sla module over a routed fake of the YBA API (the paged queries as YBA answers them) and a
# real S3 (moto's threaded server) for the storage probe and the bucket verification: verdicts, outputs written
# atomically, check mode writing nothing, fail_on, an unreachable API vs a rejected token, no secret anywhere.
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import xmlschema
from ansible.module_utils.testing import patch_module_args
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.modules import backup_sla
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import bucket_on, route_api

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
CFG = "11111111-2222-3333-4444-555555555555"
TOKEN = "api-token-value-123"
KEY_ID = "AKIAUNITTESTKEY01"
SECRET = "unit-test-secret-key-0123456789"
BUCKET = "sla-bucket"
H = 3600.0
XSD = Path(__file__).resolve().parents[1] / "module_utils" / "fixtures" / "junit-windyroad.xsd"


@pytest.fixture(scope="module")
def s3(plain_s3):
    pytest.importorskip("boto3")
    return bucket_on(plain_s3, KEY_ID, SECRET, BUCKET)


class FakeYBA:
    """Universes, configs, backups/page and schedules/page as YBA answers them (BackupResp, ScheduleResp)."""

    def __init__(self, endpoint):
        now = time.time()
        self.universes = [self.universe("orders"), self.universe("billing")]
        self.config = {"configUUID": CFG, "customerUUID": C, "configName": "s3-prod", "name": "S3",
                       "type": "STORAGE", "state": "Active", "inUse": True,
                       "data": {"BACKUP_LOCATION": "s3://%s/yba" % BUCKET, "AWS_HOST_BASE": endpoint,
                                "PATH_STYLE_ACCESS": True, "SIGNING_REGION": "us-east-1",
                                "AWS_ACCESS_KEY_ID": "AK*********01", "AWS_SECRET_ACCESS_KEY": "un**********89"}}
        self.schedules = [self.schedule(n) for n in ("orders", "billing")]
        self.backups = [self.backup(n, now - 3 * H) for n in ("orders", "billing")]
        self.seen = []

    @staticmethod
    def universe(name):
        return {"universeUUID": "u-" + name, "name": name, "universeConfig": {"takeBackups": "true"},
                "universeDetails": {"universePaused": False, "clusters": [
                    {"clusterType": "PRIMARY", "userIntent": {"enableYSQL": True, "enableYCQL": False}}]}}

    @staticmethod
    def schedule(name, status="Active", failures=0):
        return {"scheduleUUID": "s-" + name, "scheduleName": "daily-" + name, "taskType": "CreateBackup",
                "status": status, "failureCount": failures, "frequency": 86400000, "frequencyTimeUnit": "DAYS",
                "backlogStatus": False, "backupInfo": {"universeUUID": "u-" + name, "backupType": "PGSQL_TABLE_TYPE",
                                                       "storageConfigUUID": CFG}}

    @staticmethod
    def backup(name, when, uuid=None):
        uuid = uuid or "b-%s-%d" % (name, when)
        stamp = bi.iso(when)
        return {"commonBackupInfo": {"backupUUID": uuid, "baseBackupUUID": uuid, "state": "Completed",
                                     "createTime": stamp, "updateTime": stamp, "completionTime": stamp,
                                     "storageConfigUUID": CFG, "taskUUID": "t-" + uuid,
                                     "responseList": [{"keyspace": "yugabyte",
                                                       "defaultLocation": "s3://%s/yba/univ-u-%s/ybc_backup-%s/full"
                                                       % (BUCKET, name, uuid)}]},
                "universeUUID": "u-" + name, "universeName": name, "backupType": "PGSQL_TABLE_TYPE",
                "category": "YB_CONTROLLER", "lastBackupState": "Completed", "scheduleUUID": "s-" + name,
                "scheduleName": "daily-" + name}

    def send(self, client, method, path, body):
        self.seen.append((method, path))
        base = "/api/v1/customers/%s/" % C
        if path == "/api/v1/app_version":
            return {"version": "2.18.1.0-b84"}
        if path == "/api/v1/customers":
            return [{"uuid": C}]
        rest = path[len(base):]
        if rest == "universes":
            return self.universes
        if rest == "configs":
            return [self.config, {"configUUID": "a", "type": "ALERTS", "name": "x", "configName": "a", "data": {}}]
        if rest in ("backups/page", "schedules/page"):
            items = self.backups if rest == "backups/page" else self.schedules
            if rest == "backups/page":  # newest first, narrowed as BackupApiFilter says
                f = body["filter"]
                items = sorted((b for b in items if (not f["universeUUIDList"] or b["universeUUID"] in
                                                     f["universeUUIDList"])
                                and (not f["states"] or b["commonBackupInfo"]["state"] in f["states"])),
                               key=lambda b: b["commonBackupInfo"]["createTime"], reverse=True)
            off, lim = body["offset"], body["limit"]
            assert set(body["filter"]) == set(bi.BACKUP_FILTER if rest == "backups/page" else bi.SCHEDULE_FILTER)
            return {"entities": items[off:off + lim], "hasNext": off + lim < len(items), "hasPrev": off > 0,
                    "totalCount": len(items)}
        raise AssertionError((method, path))


@pytest.fixture
def yba(monkeypatch, s3):
    return route_api(monkeypatch, FakeYBA(s3["live"]))


def run(capsys, check_mode=False, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, probe_timeout=2, backoff_retries=0)
    base.update(args)
    if check_mode:
        base["_ansible_check_mode"] = True
    with patch_module_args(base):
        with pytest.raises(SystemExit):
            backup_sla.main()
    return json.loads(capsys.readouterr().out)


def outputs(tmp_path):
    return dict(json_path=str(tmp_path / "sla.json"), prometheus_path=str(tmp_path / "yba_backup.prom"),
                junit_path=str(tmp_path / "sla.xml"))


def test_healthy_is_ok_and_the_three_files_are_written_and_parse(yba, capsys, tmp_path):
    r = run(capsys, **outputs(tmp_path))
    assert "failed" not in r and r["status"] == "ok" and r["nagios"]["exit_code"] == 0, r.get("nagios")
    assert r["changed"] is True and [o["changed"] for o in r["outputs"]] == [True, True, True]
    assert [i["universe"] for i in r["universes"]] == ["billing", "orders"]
    assert r["universes"][0]["rpo_source"] == "schedule daily-billing" and r["universes"][0]["copies"] == 1
    assert r["storage"][0]["probe_ok"] is True and r["storage"][0]["probe_mode"] == "reach"
    doc = json.loads((tmp_path / "sla.json").read_text())
    assert doc == r["report"] and doc["schema_version"] == 1 and doc["yba"]["version"] == "2.18.1.0-b84"
    prom = (tmp_path / "yba_backup.prom").read_text()
    assert prom == r["prometheus"]
    fams = {f.name: f for f in text_string_to_metric_families(prom)}
    ok = [s for s in fams["yba_backup_sla_ok"].samples if s.labels["schedule"] == ""]
    assert sorted((s.labels["universe"], s.value) for s in ok) == [("billing", 1), ("orders", 1)]
    xmlschema.XMLSchema(str(XSD)).validate((tmp_path / "sla.xml").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sla.json", "sla.xml", "yba_backup.prom"]
    assert r["record"]["summary"].startswith("YBA BACKUP OK - 2 of 2 universes within RPO")
    assert r["requests"] == len(yba.seen)


def test_check_mode_writes_nothing_and_says_what_it_would_write(yba, capsys, tmp_path):
    (tmp_path / "yba_backup.prom").write_text("old\n")
    r = run(capsys, check_mode=True, **outputs(tmp_path))
    assert r["changed"] is True and all(o["changed"] for o in r["outputs"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yba_backup.prom"]
    assert (tmp_path / "yba_backup.prom").read_text() == "old\n"
    assert r["record"]["check_mode"] is True and r["prometheus"].startswith("# HELP ")


def test_atomic_rewrite_and_no_change_without_files(yba, capsys, tmp_path):
    run(capsys, **outputs(tmp_path))
    inode = (tmp_path / "yba_backup.prom").stat().st_ino
    r = run(capsys, **outputs(tmp_path))
    assert r["changed"] is True  # the evaluation time is in every file
    assert (tmp_path / "yba_backup.prom").stat().st_ino != inode  # renamed over
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert run(capsys)["changed"] is False and run(capsys)["outputs"] == []


def test_stale_and_paused_is_critical_and_fail_on_fails_after_writing(yba, capsys, tmp_path):
    old = time.time() - 73 * H
    yba.backups = [yba.backup(n, old) for n in ("orders", "billing")]
    yba.schedules = [yba.schedule(n, status="Paused", failures=3) for n in ("orders", "billing")]
    r = run(capsys, **outputs(tmp_path))
    assert "failed" not in r and r["status"] == "critical"
    assert r["nagios"]["line"].startswith("YBA BACKUP CRITICAL - 2 of 2 universes beyond RPO or without enough "
                                          "copies: billing/ysql (newest backup 73h old > RPO 36h)")
    r = run(capsys, fail_on="critical", **outputs(tmp_path))
    assert r["failed"] is True and r["msg"] == r["nagios"]["line"] and r["nagios"]["exit_code"] == 2
    assert json.loads((tmp_path / "sla.json").read_text())["status"] == "critical"
    r = run(capsys, rpo_seconds={"orders": 100 * H, "billing": 100 * H}, fail_on="warning")
    assert r["failed"] is True and r["universes"][0]["status"] == "ok"  # the paused schedules stay critical
    assert r["schedules"][0]["reason"].startswith("paused by YBA after 3 failures; newest backup 73h old")


def test_rpo_override_of_60_seconds_makes_it_critical(yba, capsys):
    r = run(capsys, rpo_seconds={"orders": 60})
    orders = next(i for i in r["universes"] if i["universe"] == "orders")
    assert (orders["status"], orders["rpo_source"], orders["reason"]) == ("critical", "override",
                                                                          "newest backup 3h old > RPO 60s")


def test_a_truncated_scan_still_finds_each_universes_newest_backup(yba, capsys):
    """max_backups stops the scan among billing's many recent backups; orders' only (old) backup is read for orders
    alone: it reads 20 h old, not "no Completed backup"."""
    now = time.time()
    yba.backups = [yba.backup("billing", now - k * 60) for k in range(1, 8)] + [yba.backup("orders", now - 20 * H)]
    r = run(capsys, max_backups=3, page_size=2)
    orders = next(i for i in r["universes"] if i["universe"] == "orders")
    assert orders["age_seconds"] >= 20 * H - 60 and orders["status"] == "ok", orders
    assert r["report"]["truncated"] is True


def test_dead_storage_endpoint_is_critical(yba, capsys, s3):
    yba.config["data"]["AWS_HOST_BASE"] = s3["dead"]
    r = run(capsys)
    assert r["status"] == "critical" and r["storage"][0]["error_class"] == "refused"
    assert "writes to storage s3-prod, which fails its probe" in r["universes"][0]["reason"]
    assert 'yba_storage_probe_success{config="s3-prod"} 0' in r["prometheus"]


def test_verify_finds_the_objects_or_says_what_is_missing(yba, capsys, s3):
    creds = {"s3-prod": {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}}
    good = yba.backups[0]
    prefix = good["commonBackupInfo"]["responseList"][0]["defaultLocation"][len("s3://%s/" % BUCKET):]
    for key in ("success", "keyspace-yugabyte/data.sst"):
        s3["client"].put_object(Bucket=BUCKET, Key="%s/%s" % (prefix, key), Body=b"x")
    r = run(capsys, verify=True, probe="canary", storage_credentials=creds)
    by = {i["universe"]: i for i in r["universes"]}
    assert by["orders"]["status"] == "ok" and by["orders"]["copies_detail"][0]["verified"] is True
    assert by["billing"]["status"] == "critical" and by["billing"]["copies"] == 0
    assert by["billing"]["reason"].startswith("no usable backup: s3-prod no object under s3://%s/" % BUCKET)
    assert r["storage"][0]["probe_mode"] == "canary" and r["storage"][0]["probe_ok"] is True
    text = json.dumps(r)
    assert SECRET not in text and KEY_ID not in text and TOKEN not in text
    # in check mode the canary is not written: a read probe instead
    r = run(capsys, check_mode=True, verify=True, probe="canary", storage_credentials=creds)
    assert r["storage"][0]["probe_mode"] == "read"


def test_unreachable_api_is_unknown_unless_fail_on(monkeypatch, capsys, tmp_path):
    def send(self, method, url, path, data, headers, timeout, raw):
        raise _api.YBAUnreachable("cannot reach %s: refused (token %s)" % (self.base_url, TOKEN), method=method,
                                  path=path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    r = run(capsys, **outputs(tmp_path))
    assert "failed" not in r and r["status"] == "unknown" and r["nagios"]["exit_code"] == 3
    assert r["report"]["yba"]["error_kind"] == "unreachable" and TOKEN not in json.dumps(r)
    assert r["nagios"]["line"].startswith("YBA BACKUP UNKNOWN - cannot read YBA at https://yba.example: "
                                          "GET /api/v1/app_version: cannot reach")
    assert "yba_backup_sla_api_up 0" in (tmp_path / "yba_backup.prom").read_text()
    xmlschema.XMLSchema(str(XSD)).validate((tmp_path / "sla.xml").read_text())
    r = run(capsys, fail_on="critical")
    assert r["failed"] is True and r["msg"].startswith("YBA BACKUP UNKNOWN")


def test_rejected_token_fails(monkeypatch, capsys):
    def send(self, method, url, path, data, headers, timeout, raw):
        if path == "/api/v1/app_version":
            return {"version": "2.18.1.0-b84"}
        raise _api.YBAAuthError("Invalid token", status=401, method=method, path=path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    r = run(capsys)
    assert r["failed"] is True and r["status"] == 401
    assert r["msg"] == "cannot read the backup state from YBA: GET /api/v1/customers HTTP 401: Invalid token"


@pytest.mark.parametrize("args, message", [
    (dict(prometheus_path="/tmp/sla.txt"), "prometheus_path must end with .prom"),
    (dict(json_path="/nonexistent-dir/sla.json"), "json_path's directory /nonexistent-dir does not exist"),
    (dict(warn_ratio=1.5), "warn_ratio must be more than 0 and at most 1, got 1.5"),
    (dict(min_copies=0), "min_copies must be 1 or more, got 0"),
    (dict(rpo_seconds={"orders": "soon"}), "rpo_seconds.orders must be a number of seconds more than 0, got 'soon'"),
    (dict(backup_types=["redis"]), "unknown backup type 'redis': use ysql or ycql"),
])
def test_bad_input_is_one_clear_line_before_any_request(yba, capsys, args, message):
    r = run(capsys, **args)
    assert r["failed"] is True and message in r["msg"] and r["requests"] == 0 and yba.seen == []
