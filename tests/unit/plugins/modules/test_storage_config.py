# Unit tests of the storage_config module over a routed fake of YBA's configs API (masking and unmasking as
# CommonUtils does, BACKUP_LOCATION read-only as CustomerConfigValidator) and a real S3 (moto's threaded server).
from __future__ import annotations

import copy
import json
import uuid as uuidlib

import pytest
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc
from ansible_collections.yba.remediation.plugins.modules import storage_config
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import Done, bucket_on, route_api

pytestmark = pytest.mark.usefixtures("raw_results")

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
TOKEN = "api-token-value-123"
KEY_ID = "AKIAUNITTESTKEY01"
SECRET = "unit-test-secret-key-0123456789"
OTHER_SECRET = "another-secret-key-9876543210"
BUCKET = "unit-bucket"
SEEDED = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def s3(plain_s3):
    """A real S3 (moto) with the bucket, and an endpoint where nothing listens."""
    pytest.importorskip("boto3")
    return bucket_on(plain_s3, KEY_ID, SECRET, BUCKET)


class FakeYBA:
    """The configs routes as YBA's CustomerConfigController answers them, plus the paged backups and schedules."""

    def __init__(self, endpoint):
        self.configs = {SEEDED: {"configUUID": SEEDED, "customerUUID": C, "configName": "seeded", "name": "S3",
                                 "type": "STORAGE", "state": "Active",
                                 "data": {"BACKUP_LOCATION": "s3://%s/yba" % BUCKET, "AWS_HOST_BASE": endpoint,
                                          "PATH_STYLE_ACCESS": True, "SIGNING_REGION": "us-east-1",
                                          "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}},
                        "a1a1a1a1-0000-0000-0000-000000000000": {
                            "configUUID": "a1a1a1a1-0000-0000-0000-000000000000", "customerUUID": C,
                            "configName": "alerts", "name": "ALERTS", "type": "ALERTS", "state": "Active", "data": {}}}
        self.in_use = set()
        self.backups = []  # (config uuid, state, backup uuid)
        self.schedules = []
        self.seen = []
        self.refuse = None  # a YBA 400 body for the next write

    def listed(self, cfg):
        out = copy.deepcopy(cfg)
        out["data"] = sc.mask_data(cfg["data"])  # CommonUtils.maskConfig
        out["inUse"] = cfg["configUUID"] in self.in_use
        out["universeDetails"] = [{"uuid": "u1", "name": "orders"}] if out["inUse"] else []
        return out

    def send(self, client, method, path, body):
        self.seen.append((method, path, copy.deepcopy(body)))
        base = "/api/v1/customers/%s/" % C
        if path == "/api/v1/customers":
            return [{"uuid": C}]
        rest = path[len(base):]
        if rest == "configs" and method == "GET":
            return [self.listed(c) for c in self.configs.values()]
        if rest in ("configs",) and method == "POST" or rest.startswith("configs/") and method == "PUT":
            if self.refuse:
                # YBPError with the request echoed (requestJson): what YBA answers, secrets included
                answer = dict(self.refuse, requestJson=body, httpMethod=method, requestUri=path)
                self.refuse = None
                raise client._http_error(method, path, 400, json.dumps(answer).encode(), None)
            if method == "POST":
                if any(c["configName"] == body["configName"] for c in self.configs.values()):
                    raise client._http_error(method, path, 409, json.dumps(
                        {"success": False, "error": "Configuration %s already exists" % body["configName"]}).encode(),
                        None)
                new = {"configUUID": str(uuidlib.uuid4()), "customerUUID": C, "state": "Active"}
                new.update({k: body[k] for k in ("configName", "name", "type")}, data=copy.deepcopy(body["data"]))
                self.configs[new["configUUID"]] = new
                return self.listed(new)
            cfg = self.configs[rest.split("/")[1]]
            data = {}
            for k, v in body["data"].items():  # CommonUtils.unmaskConfig: a value equal to its mask keeps the stored
                data[k] = cfg["data"].get(k) if sc.is_sensitive(k) and v == sc.mask_value(k, v) else v
            if data.get("BACKUP_LOCATION") != cfg["data"].get("BACKUP_LOCATION"):
                raise client._http_error(method, path, 400, json.dumps(
                    {"success": False, "error": {"data.BACKUP_LOCATION": ["Field is read-only."]}}).encode(), None)
            cfg.update(configName=body["configName"], data=data)
            return self.listed(cfg)
        if rest.startswith("configs/") and method == "DELETE":
            cfg_uuid = rest.split("/")[1]
            if any(b[0] == cfg_uuid and b[1] == "InProgress" for b in self.backups):
                raise client._http_error(method, path, 400, json.dumps(
                    {"success": False, "error": "Backup task associated with Configuration %s is in progress."
                     % cfg_uuid}).encode(), None)
            del self.configs[cfg_uuid]
            return {"success": True}
        if rest == "backups/page":
            f = body["filter"]
            hits = [{"commonBackupInfo": {"backupUUID": b[2], "state": b[1]}} for b in self.backups
                    if b[0] in f["storageConfigUUIDList"] and b[1] in f["states"]]
            return {"entities": hits[:body["limit"]], "hasNext": len(hits) > body["limit"], "hasPrev": False,
                    "totalCount": len(hits)}
        if rest == "schedules/page":
            hits = [s for s in self.schedules if s["status"] in body["filter"]["status"]]
            return {"entities": hits, "hasNext": False, "hasPrev": False, "totalCount": len(hits)}
        raise AssertionError((method, path))

    def writes(self):
        return [(m, p, b) for m, p, b in self.seen if m in ("POST", "PUT", "DELETE") and not p.endswith("/page")]


@pytest.fixture
def yba(monkeypatch, s3):
    return route_api(monkeypatch, FakeYBA(s3["dead"]))


def run(check=False, diff=False, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, customer_uuid=C, probe_timeout=2,
                _ansible_check_mode=check, _ansible_diff=diff)
    base.update(args)
    warnings._global_warnings.clear()
    with patch_module_args(base):
        with pytest.raises(Done) as info:
            storage_config.main()
    result = info.value.result
    text = json.dumps(result)
    for secret in (SECRET, OTHER_SECRET, TOKEN, KEY_ID):
        assert secret not in text, "a secret leaked into %s" % text
    return result


def creds(secret=SECRET):
    return {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": secret}


def live_data(s3, prefix="new"):
    return {"BACKUP_LOCATION": "s3://%s/%s" % (BUCKET, prefix), "AWS_HOST_BASE": s3["live"],
            "PATH_STYLE_ACCESS": True, "SIGNING_REGION": "us-east-1"}


def test_create_check_then_create_then_idempotent(yba, s3):
    r = run(check=True, name="fresh", data=live_data(s3), credentials=creds())
    assert r["changed"] and r["created"] and r["credentials_changed"] and not r["failed"]
    assert yba.writes() == [] and r["config"] is None
    assert r["diff"]["before"] == {} and r["diff"]["after"]["data"]["AWS_SECRET_ACCESS_KEY"] == sc.mask_value(
        "AWS_SECRET_ACCESS_KEY", SECRET)
    assert r["probe_before"]["ok"] and r["probe_before"]["mode"] == "read"  # check mode: no canary
    assert r["probed_from"] == _api.this_host() and r["probe_after"] is None
    assert not any(m == "POST" and p.endswith("/configs") for m, p, _b in yba.seen)

    r = run(name="fresh", data=live_data(s3), credentials=creds())
    assert r["changed"] and r["created"] and r["probe_before"]["ok"] and r["probe_after"]["ok"]
    assert [s["name"] for s in r["probe_after"]["locations"][0]["steps"]] == [
        "dns", "connect", "put", "get", "list", "delete", "confirm_gone"]
    (method, path, body), = yba.writes()
    assert method == "POST" and body["data"]["AWS_SECRET_ACCESS_KEY"] == SECRET  # sent in clear, once
    assert body["name"] == "S3" and body["type"] == "STORAGE" and body["configName"] == "fresh"
    assert r["config"]["configName"] == "fresh" and r["config"]["data"]["AWS_ACCESS_KEY_ID"] == "AK*************01"
    assert "POST /api/v1/customers/%s/configs 200" % C in r["requests"]

    yba.seen.clear()
    r = run(name="fresh", data=dict(live_data(s3), PATH_STYLE_ACCESS="true"), credentials=creds())
    assert not r["changed"] and r["changed_fields"] == [] and yba.writes() == []
    assert r["probe_before"]["ok"] and r["probe_before"]["mode"] == "read"


def test_fix_endpoint_check_mode_sends_no_put_then_fixes(yba, s3):
    desired = {"AWS_HOST_BASE": s3["live"]}
    r = run(check=True, diff=True, name="seeded", data=desired)
    assert r["changed"] and r["changed_fields"] == ["AWS_HOST_BASE"] and not r["credentials_changed"]
    assert yba.writes() == [] and yba.configs[SEEDED]["data"]["AWS_HOST_BASE"] == s3["dead"]
    assert r["diff"]["before"]["data"]["AWS_HOST_BASE"] == s3["dead"]
    assert r["diff"]["after"]["data"]["AWS_HOST_BASE"] == s3["live"]
    assert r["diff"]["after"]["data"]["AWS_SECRET_ACCESS_KEY"] == sc.mask_value("X_KEY", SECRET)
    # no secrets given: the probe checks reach only, and says so
    assert r["probe_before"]["error_class"] == "no_credentials"
    assert any("DNS, TCP and TLS only" in w for w in r["warnings"])

    r = run(name="seeded", data=desired, credentials=creds(), update_secrets="on_create")
    assert r["changed"] and not r["credentials_changed"] and r["probe_before"]["ok"] and r["probe_after"]["ok"]
    (method, path, body), = yba.writes()
    assert method == "PUT" and path.endswith("/configs/" + SEEDED)
    assert body["data"]["AWS_SECRET_ACCESS_KEY"] == sc.mask_value("K", SECRET)  # the mask sent back
    assert yba.configs[SEEDED]["data"]["AWS_SECRET_ACCESS_KEY"] == SECRET  # kept by YBA
    assert yba.configs[SEEDED]["data"]["AWS_HOST_BASE"] == s3["live"]
    assert r["config"]["data"]["AWS_HOST_BASE"] == s3["live"]
    r = run(name="seeded", data=desired, credentials=creds(), update_secrets="on_create")
    assert not r["changed"]


def test_update_secrets_always_vs_on_create(yba, s3):
    yba.configs[SEEDED]["data"]["AWS_HOST_BASE"] = s3["live"]
    r = run(uuid=SEEDED, credentials=creds(OTHER_SECRET), update_secrets="on_create")
    assert not r["changed"] and yba.writes() == []
    # the probe cannot use a secret YBA would not get
    assert r["probe_before"]["error_class"] == "no_credentials"
    r = run(check=True, uuid=SEEDED, credentials=creds(OTHER_SECRET))
    assert r["changed"] and r["credentials_changed"] and r["changed_fields"] == ["AWS_SECRET_ACCESS_KEY"]
    assert yba.writes() == []
    r = run(uuid=SEEDED, credentials=creds(OTHER_SECRET))
    assert r["changed"] and r["credentials_changed"] and r["probe_after"]["ok"]
    assert yba.configs[SEEDED]["data"]["AWS_SECRET_ACCESS_KEY"] == OTHER_SECRET
    assert r["config"]["data"]["AWS_SECRET_ACCESS_KEY"] == sc.mask_value("K", OTHER_SECRET)
    assert not run(uuid=SEEDED, credentials=creds(OTHER_SECRET))["changed"]


def test_location_is_read_only_unless_new_name(yba, s3):
    moved = dict(live_data(s3, "moved"))
    r = run(name="seeded", data=moved, credentials=creds())
    assert r["failed"] and r["msg"].startswith("BACKUP_LOCATION is read-only once a config exists in YBA "
                                               "(CustomerConfigValidator: \"Field is read-only.\"): seeded has "
                                               "s3://%s/yba, asked s3://%s/moved; nothing changed" % (BUCKET, BUCKET))
    assert "new_name" in r["msg"] and yba.writes() == []
    r = run(name="seeded", new_name="seeded-2", data=moved, credentials=creds())
    assert r["changed"] and r["created"] and r["replaced_config"]["configUUID"] == SEEDED
    assert r["replaced_config"]["BACKUP_LOCATION"] == "s3://%s/yba" % BUCKET
    assert r["config"]["configName"] == "seeded-2" and r["config"]["data"]["BACKUP_LOCATION"] == moved[
        "BACKUP_LOCATION"]
    assert yba.configs[SEEDED]["data"]["AWS_HOST_BASE"] == s3["dead"]  # the old one as it was
    again = run(name="seeded", new_name="seeded-2", data=moved, credentials=creds())
    assert not again["changed"] and not again["created"]


def test_dead_endpoint_refused_unless_force(yba, s3):
    r = run(name="fresh", data=dict(live_data(s3), AWS_HOST_BASE=s3["dead"]), credentials=creds())
    assert r["failed"] and not r["changed"] and yba.writes() == []
    assert r["msg"].startswith("the probe of the desired settings from %s failed: " % _api.this_host())
    assert "connect failed (refused)" in r["msg"]
    assert r["msg"].endswith("nothing was written (force=true writes anyway)")
    assert r["probe_before"]["error_class"] == "refused"
    r = run(name="fresh", data=dict(live_data(s3), AWS_HOST_BASE=s3["dead"]), credentials=creds(), force=True)
    assert r["changed"] and r["created"] and not r["probe_after"]["ok"]
    assert any("the probe after the create failed" in w for w in r["warnings"])


def test_yba_400_echoing_the_request_never_shows_the_secret(yba, s3):
    yba.refuse = {"success": False, "error": {"data.BACKUP_LOCATION": [
        "The AWS Access Key Id you provided does not exist in our records (key %s)." % SECRET]}}
    r = run(name="fresh", data=live_data(s3), credentials=creds())
    assert r["failed"] and not r["changed"] and r["status"] == 400
    assert r["msg"].startswith("YBA refused to create storage config fresh: data.BACKUP_LOCATION: The AWS Access Key "
                               "Id you provided does not exist in our records (key ********).")
    assert "requestJson" not in json.dumps(r)
    yba.refuse = {"success": False, "error": "Invalid config %s" % OTHER_SECRET}  # the secret sent
    r = run(uuid=SEEDED, data={"AWS_HOST_BASE": s3["live"]}, credentials=creds(OTHER_SECRET), force=True)
    assert r["failed"] and r["msg"].startswith("YBA refused to edit storage config seeded: Invalid config ********")


@pytest.mark.parametrize("args, msg", [
    (dict(uuid="99999999-9999-9999-9999-999999999999", data={"AWS_HOST_BASE": "http://h:9000"}),
     "no storage config with uuid 99999999-9999-9999-9999-999999999999: nothing changed (a config is created by name)"),
    (dict(uuid="a1a1a1a1-0000-0000-0000-000000000000"),
     "config with uuid a1a1a1a1-0000-0000-0000-000000000000 is a ALERTS config, not a storage config"),
    (dict(name="seeded", data={"AWS_HOST_BASE": "minio.internal/backups"}),
     "invalid storage config seeded: AWS_HOST_BASE 'minio.internal/backups' has a path; YBA takes scheme://host or "
     "scheme://host:port only; nothing changed"),
    (dict(name="seeded", data={"AWS_HOST_BASE": "https://s3.example.com:443"}),
     "invalid storage config seeded: AWS_HOST_BASE 'https://s3.example.com:443' names port 443 explicitly; YBA "
     "rejects :80 and :443, leave the port out; nothing changed"),
    (dict(name="seeded", data={"AWS_HOST_BASE": "ftp://h"}),
     "invalid storage config seeded: AWS_HOST_BASE 'ftp://h' is not a URL YBA accepts (scheme http, https or s3 and "
     "a host); nothing changed"),
    (dict(name="fresh", data={"BACKUP_LOCATION": "s3://b/p"}),
     "invalid storage config fresh: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY required unless IAM_INSTANCE_PROFILE "
     "is true; nothing changed"),
    (dict(name="fresh", credentials=creds()),
     "invalid storage config fresh: BACKUP_LOCATION is required; nothing changed"),
    (dict(name="fresh", data={"BACKUP_LOCATION": "b/p"}, credentials=creds()),
     "invalid storage config fresh: BACKUP_LOCATION 'b/p' must look like s3://bucket/prefix; nothing changed"),
    (dict(name="seeded", data={"AWS_SECRET_ACCESS_KEY": SECRET}),
     "AWS_SECRET_ACCESS_KEY belongs in credentials (no_log), not in data; nothing changed"),
    (dict(name="seeded", probe_timeout=0), "probe_timeout must be more than 0, got 0.0"),
])
def test_bad_input_one_message_nothing_changed(yba, args, msg):
    before = copy.deepcopy(yba.configs)
    r = run(**args)
    assert r["failed"] and r["msg"] == msg
    assert yba.writes() == [] and yba.configs == before


def test_missing_boto3_names_the_host(yba, monkeypatch):
    monkeypatch.setattr(_s3, "HAS_BOTO3", False)
    r = run(name="seeded", data={"AWS_HOST_BASE": "http://h:9000"})
    assert r["failed"] and "boto3" in r["msg"] and _api.this_host() in r["msg"] and yba.seen == []
    r = run(name="seeded", data={"AWS_HOST_BASE": "http://127.0.0.1:9"}, probe=False, check=True)
    assert r["changed"] and r["probe_before"] is None


def test_in_progress_warning_and_next_steps(yba, s3):
    yba.backups = [(SEEDED, "InProgress", "b-run"), (SEEDED, "FailedToDelete", "b-1"), (SEEDED, "FailedToDelete", "b-2"),
                   ("other", "FailedToDelete", "b-x")]
    yba.schedules = [{"scheduleUUID": "s1", "scheduleName": "orders-daily", "status": "Paused",
                      "backupInfo": {"storageConfigUUID": SEEDED}},
                     {"scheduleUUID": "s2", "scheduleName": "elsewhere", "status": "Paused",
                      "backupInfo": {"storageConfigUUID": "other"}}]
    r = run(name="seeded", data={"AWS_HOST_BASE": s3["live"]}, credentials=creds(), sample_size=1)
    assert r["changed"]
    assert any(w.startswith("1 backup on seeded is in progress; YBA allows the edit") for w in r["warnings"])
    assert r["next_steps"] == [
        "2 backups on seeded are FailedToDelete (e.g. b-1): re-queue their deletion now that the storage works",
        "1 schedule using seeded is Paused (orders-daily): resume it"]
    page = [b for m, p, b in yba.seen if p.endswith("/backups/page")][0]
    assert set(page["filter"]) == set(bi.BACKUP_FILTER)  # every list swagger requires


def test_absent(yba):
    yba.in_use.add(SEEDED)
    r = run(name="seeded", state="absent")
    assert r["failed"] and r["msg"].startswith("storage config seeded is in use (backups or Active schedules of "
                                               "orders): nothing deleted; force=true")
    r = run(check=True, name="seeded", state="absent", force=True)
    assert r["changed"] and yba.writes() == [] and SEEDED in yba.configs
    assert r["diff"]["after"] == {} and r["diff"]["before"]["data"]["AWS_SECRET_ACCESS_KEY"] == sc.mask_value(
        "K", SECRET)
    yba.backups = [(SEEDED, "InProgress", "b-run")]
    r = run(name="seeded", state="absent", force=True)
    assert r["failed"] and not r["changed"] and r["msg"] == (
        "YBA refused to delete storage config seeded: Backup task associated with Configuration %s is in progress."
        % SEEDED)
    yba.backups = []
    yba.seen.clear()
    r = run(name="seeded", state="absent", force=True)
    assert r["changed"] and r["config"] is None and SEEDED not in yba.configs
    assert [m for m, _p, _b in yba.writes()] == ["DELETE"]
    assert not run(name="seeded", state="absent")["changed"]
