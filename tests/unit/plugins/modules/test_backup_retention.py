# Unit tests of the backup_retention module over a routed fake of the YBA API (backups/page, list_increments,
# backups/delete queueing, a GC that deletes what was queued) and a real S3 (moto) for the probe and the
# verification: plan vs apply, the floor, a second run that deletes nothing, a storage that fails its probe,
# bad input, no secret in any output.
from __future__ import annotations

import json
import time

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.modules import backup_retention
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import bucket_on, route_api

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
CFG = "11111111-2222-3333-4444-555555555555"
TOKEN = "api-token-value-123"
KEY_ID = "AKIAUNITTESTKEY01"
SECRET = "unit-test-secret-key-0123456789"
BUCKET = "ret-bucket"
H = 3600.0


@pytest.fixture(scope="module")
def s3(plain_s3):
    pytest.importorskip("boto3")
    return bucket_on(plain_s3, KEY_ID, SECRET, BUCKET)


def location(uuid):
    return "s3://%s/yba/univ-u-orders/ybc_backup-%s/full" % (BUCKET, uuid)


class FakeYBA:
    """The catalog of one universe: backups/page narrowed as BackupApiFilter says, list_increments, backups/delete
    (YBA drops unknown and in-progress uuids and queues the rest), GET backups/{b} (400 once gone) and a GC that
    deletes a queued backup at the next page read after it was queued."""

    def __init__(self, endpoint):
        self.config = {"configUUID": CFG, "customerUUID": C, "configName": "s3-prod", "name": "S3",
                       "type": "STORAGE", "state": "Active", "inUse": True,
                       "data": {"BACKUP_LOCATION": "s3://%s/yba" % BUCKET, "AWS_HOST_BASE": endpoint,
                                "PATH_STYLE_ACCESS": True, "SIGNING_REGION": "us-east-1",
                                "AWS_ACCESS_KEY_ID": "AK*********01", "AWS_SECRET_ACCESS_KEY": "un**********89"}}
        self.backups = {}
        self.universe = {"universeUUID": "u-orders", "name": "orders", "universeDetails": {}}
        self.schedules = {}
        self.page_bodies = []
        self.seen = []
        self.queued = set()

    def add(self, uuid, hours_ago, expired=True, state="Completed"):
        created = time.time() - hours_ago * H
        self.backups[uuid] = {
            "commonBackupInfo": {"backupUUID": uuid, "baseBackupUUID": uuid, "state": state,
                                 "createTime": bi.iso(created), "updateTime": bi.iso(created),
                                 "storageConfigUUID": CFG, "responseList": [{"keyspace": "yugabyte",
                                                                             "backupSizeInBytes": 2048,
                                                                             "defaultLocation": location(uuid)}]},
            "universeUUID": "u-orders", "universeName": "orders", "backupType": "PGSQL_TABLE_TYPE",
            "category": "YB_CONTROLLER", "hasIncrementalBackups": False, "lastBackupState": state,
            "scheduleUUID": bi.NIL_UUID, "expiryTime": bi.iso(created + (1 if expired else 1000) * H)}

    def gc(self):
        for uuid in self.queued:
            self.backups.pop(uuid, None)
        self.queued = set()

    def send(self, client, method, path, body):
        self.seen.append((method, path))
        base = "/api/v1/customers/%s/" % C
        if path == "/api/v1/customers":
            return [{"uuid": C}]
        rest = path[len(base):]
        if rest == "universes":
            return [self.universe]
        if rest.startswith("schedules/"):
            return self.schedules[rest.split("/")[1]]
        if rest == "configs":
            return [self.config]
        if rest == "backups/page":
            f = body["filter"]
            self.page_bodies.append(body)
            assert set(bi.BACKUP_FILTER) <= set(f)
            self.gc()
            items = sorted(self.backups.values(), key=lambda b: b["commonBackupInfo"]["createTime"])
            items = [b for b in items if not f["states"] or b["commonBackupInfo"]["state"] in f["states"]]
            items = [b for b in items if not f["universeUUIDList"] or b["universeUUID"] in f["universeUUIDList"]]
            if f["onlyShowDeletedUniverses"]:
                items = [b for b in items if b["universeUUID"] != self.universe["universeUUID"]]
            off, lim = body["offset"], body["limit"]
            return {"entities": items[off:off + lim], "hasNext": off + lim < len(items), "hasPrev": off > 0}
        if rest == "backups/delete":
            out = []
            for info in body["deleteBackupInfos"]:
                b = self.backups.get(info["backupUUID"])
                if b is None or b["commonBackupInfo"]["state"] in ("InProgress", "QueuedForDeletion"):
                    continue  # BackupHelper.createDeleteBackupTasks: skipped, logged only
                b["commonBackupInfo"]["state"] = "QueuedForDeletion"
                self.queued.add(info["backupUUID"])
                out.append({"taskUUID": "t-" + info["backupUUID"], "resourceUUID": info["backupUUID"]})
            return {"taskUUID": [x["taskUUID"] for x in out], "ybpTaskList": out}
        if rest.startswith("backups/"):
            uuid = rest.split("/")[1]
            if uuid not in self.backups:
                raise _api.YBAValidationError("Invalid customer or backup UUID", status=400)
            if rest.endswith("/list_increments"):
                return [self.backups[uuid]["commonBackupInfo"]]
            return {"state": self.backups[uuid]["commonBackupInfo"]["state"]}
        raise AssertionError((method, path))


@pytest.fixture
def yba(monkeypatch, s3):
    fake = route_api(monkeypatch, FakeYBA(s3["live"]))
    for k in range(1, 6):
        fake.add("b%d" % k, 6 * k)  # every backup of the universe expired
        for key in ("success", "keyspace-yugabyte/data.sst"):
            s3["client"].put_object(Bucket=BUCKET, Key="yba/univ-u-orders/ybc_backup-b%d/full/%s" % (k, key),
                                    Body=b"x")
    return fake


def run(capsys, check_mode=False, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, probe_timeout=2, backoff_retries=0,
                batch_interval=0, poll_interval=0.01, storage_credentials={"s3-prod": {
                    "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}})
    base.update(args)
    if check_mode:
        base["_ansible_check_mode"] = True
    base["_ansible_diff"] = True
    with patch_module_args(base):
        with pytest.raises(SystemExit):
            backup_retention.main()
    out = capsys.readouterr().out
    assert SECRET not in out and KEY_ID not in out and TOKEN not in out
    return json.loads(out)


def test_plan_deletes_nothing_and_shows_sizes_and_the_floor(yba, capsys):
    r = run(capsys, check_mode=True)
    assert r["changed"] is True and "failed" not in r
    assert r["summary"]["planned"] == 4 and r["summary"]["kept"] == 1 and r["summary"]["bytes_planned"] == 4 * 2048
    assert r["plan"][-1].startswith("keep   b1 orders/ysql Completed ")
    assert r["plan"][-1].endswith("2.0 KiB (expired): floor: newest verified chain 1 of 1 of orders ysql [yugabyte] "
                                  "(min_redundancy 1)")
    assert r["probes"][0]["ok"] is True and r["probes"][0]["mode"] == "read"
    assert not [s for s in yba.seen if s[1].endswith("backups/delete")] and r["batches"] == []
    assert len(yba.backups) == 5 and r["diff"]["after"].count("\n") == 1


def test_apply_deletes_all_but_the_floor_in_batches_and_a_second_run_deletes_nothing(yba, capsys):
    r = run(capsys, batch_size=3)
    assert "failed" not in r and r["changed"] is True, r.get("msg")
    assert sorted(yba.backups) == ["b1"]
    assert [len(b["requested"]) for b in r["batches"]] == [3, 1]
    assert r["summary"]["deleted"] == 4 and r["record"]["ok"] is True
    assert r["record"]["summary"] == "retention: 4 deleted (0 already gone), 0 queued, 0 failed, 1 kept, 0 reported"
    assert len([s for s in yba.seen if s[1].endswith("backups/delete")]) == 2
    again = run(capsys)
    assert again["changed"] is False and again["summary"]["planned"] == 0 and again["summary"]["kept"] == 1
    assert not [s for s in yba.seen[len(yba.seen) - again["requests"]:] if s[1].endswith("backups/delete")]


def test_a_dangling_newest_backup_does_not_count_and_the_next_verified_one_is_kept(yba, capsys, s3):
    for key in ("success", "keyspace-yugabyte/data.sst"):
        s3["client"].delete_object(Bucket=BUCKET, Key="yba/univ-u-orders/ybc_backup-b1/full/" + key)
    r = run(capsys, check_mode=True)
    floor = r["floors"][0]
    assert floor["kept"] == ["b2"] and floor["not_counted"][0]["backup_uuid"] == "b1"
    assert floor["not_counted"][0]["why"].startswith("dangling: no object under s3://ret-bucket/")
    assert {i["backup_uuid"]: i["action"] for i in r["backups"]}["b1"] == "delete"


def test_storage_that_fails_its_probe_refuses_before_the_first_delete(yba, capsys, s3):
    yba.config["data"]["AWS_HOST_BASE"] = s3["dead"]
    r = run(capsys, probe_timeout=1, verify_timeout=1)  # the floor cannot be verified: everything is kept
    assert "failed" not in r and r["changed"] is False and r["summary"]["kept"] == 5
    assert r["backups"][0]["why"].startswith("floor unknown for orders ysql [yugabyte]: cannot verify b1 in the bucket: listing")
    r = run(capsys, probe_timeout=1, verify=False)
    assert r["failed"] is True and r["changed"] is False
    assert r["msg"].startswith("no backup was deleted: the storage fails its canary probe: s3-prod: "
                               "s3://ret-bucket/yba via %s: " % s3["dead"])
    assert not [s for s in yba.seen if s[1].endswith("backups/delete")] and len(yba.backups) == 5


def test_a_backup_deleted_by_yba_meanwhile_is_done_not_failed(yba, capsys, monkeypatch):
    real = yba.send

    def send(client, method, path, body):  # the GC deletes b5 right after the plan read the catalog
        if path.endswith("backups/delete"):
            yba.backups.pop("b5", None)
        return real(client, method, path, body)

    monkeypatch.setattr(yba, "send", send)
    r = run(capsys)
    assert "failed" not in r and r["batches"][0]["dropped"] == ["b5"]
    assert {i["backup_uuid"]: i["result"] for i in r["backups"] if i.get("result")}["b5"] == "gone"


@pytest.mark.parametrize("args,msg", [
    (dict(batch_size=0), "batch_size must be 1 or more, got 0"),
    (dict(min_redundancy=-1), "min_redundancy must be 0 or more, got -1"),
    (dict(wait_timeout=0), "wait_timeout must be more than 0, got 0.0"),
])
def test_bad_input_fails_with_one_clear_message_and_sends_nothing(yba, capsys, args, msg):
    r = run(capsys, **args)
    assert r["failed"] is True and r["msg"] == msg and r["requests"] == 0 and yba.seen == []


def test_an_unknown_universe_is_named(yba, capsys):
    r = run(capsys, universes=["nope"])
    assert r["failed"] is True and r["msg"] == "unknown universe: nope (YBA has orders)"


def test_what_yba_keeps_on_purpose_is_not_deleted(yba, capsys):
    # a schedule's newest minNumBackupsToRetain Completed backups (taskParams of GET schedules/{s}) stay past expiry
    yba.schedules["s-1"] = {"scheduleUUID": "s-1", "taskParams": {"minNumBackupsToRetain": 4}}
    for b in yba.backups.values():
        b["scheduleUUID"] = "s-1"
    r = run(capsys, check_mode=True)
    assert [(i["backup_uuid"], i["action"]) for i in r["backups"]] == [("b5", "delete")]
    assert ("GET", "/api/v1/customers/%s/schedules/s-1" % C) in yba.seen
    # a paused universe: YBA's GC skips its expired backups (Backup.getCompletedExpiredBackups), so does retention
    yba.universe["universeDetails"]["universePaused"] = True
    r = run(capsys, check_mode=True)
    assert [(i["backup_uuid"], i["action"]) for i in r["backups"]] == [("b5", "keep")]
    assert r["backups"][0]["why"] == ("universe orders is paused: YBA's GC does not expire the backups of a paused "
                                      "universe (Backup.getCompletedExpiredBackups); resume it first")


def test_a_deleted_universe_is_named_by_its_uuid_and_its_backups_are_read(yba, capsys):
    gone = "dddddddd-0000-0000-0000-000000000001"
    for uuid, hours in (("d1", 6), ("d2", 12)):
        yba.add(uuid, hours)
        yba.backups[uuid].update(universeUUID=gone, universeName="old", isUniversePresent=False)
    r = run(capsys, check_mode=True, universes=[gone.upper()], verify=False, probe="none")
    assert [(i["backup_uuid"], i["action"]) for i in r["backups"]] == [("d2", "delete"), ("d1", "keep")]
    flags = [body["filter"]["onlyShowDeletedUniverses"] for body in yba.page_bodies]
    assert flags == [False, True] and all(b["filter"]["universeUUIDList"] == [gone] for b in yba.page_bodies)
    r = run(capsys, universes=["nope", gone])
    assert r["failed"] is True and r["msg"] == "unknown universe: nope (YBA has orders)"
