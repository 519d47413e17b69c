# Unit tests of the backup_reconcile module over a routed fake of the YBA API (backups/page with its filters,
# GET backups/{b}, the forced POST backups/delete) and a real S3 (moto's threaded server): read-only by default,
# check mode deletes nothing, honest changed, diff, idempotent second runs, max_delete, bad input, a failed listing,
# no secret in any output.
from __future__ import annotations

import json
import time
import uuid

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.modules import backup_reconcile
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import bucket_on, route_api

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
CFG = "11111111-2222-3333-4444-555555555555"
TOKEN = "api-token-value-123"
KEY_ID = "AKIARECONCILEKEY01"
SECRET = "reconcile-secret-key-0123456789"
BUCKET = "reconcile-bucket"
DAY = 86400.0


@pytest.fixture(scope="module")
def s3(plain_s3):
    pytest.importorskip("boto3")
    return bucket_on(plain_s3, KEY_ID, SECRET, BUCKET)


class FakeYBA:
    """Configs, universes, backups/page (BackupResp, only full backups, BackupApiFilter), GET backups/{b} and
    POST backups/delete (BackupsController.deleteYb: queues each deletable backup, skips the rest silently)."""

    def __init__(self, endpoint, prefix):
        self.prefix = prefix  # each test its own BACKUP_LOCATION, so the shared bucket does not mix tests
        self.config = {"configUUID": CFG, "customerUUID": C, "configName": "s3-prod", "name": "S3",
                       "type": "STORAGE", "state": "Active", "inUse": True,
                       "data": {"BACKUP_LOCATION": "s3://%s/%s" % (BUCKET, prefix), "AWS_HOST_BASE": endpoint,
                                "PATH_STYLE_ACCESS": True, "SIGNING_REGION": "us-east-1",
                                "AWS_ACCESS_KEY_ID": "AK*********01", "AWS_SECRET_ACCESS_KEY": "re**********89"}}
        self.universes = {}
        self.backups = []
        self.deletes = []
        self.tasks = {}  # task uuid -> backup uuid
        self.fail_tasks_of = set()  # backups whose DeleteBackupYb task fails
        self.seen = []

    def universe(self, name, live=True):
        u = str(uuid.uuid4())
        if live:
            self.universes[u] = name
        return u

    def location(self, u, b):
        return "s3://%s/%s/univ-%s/ybc_backup-%s/full/2026-12-01T10:00:00/keyspace-yugabyte_%s" % (
            BUCKET, self.prefix, u, b.replace("-", ""), uuid.uuid4().hex)

    def backup(self, u, name, created, state="Completed"):
        b = str(uuid.uuid4())
        stamp = bi.iso(created)
        self.backups.append({
            "commonBackupInfo": {"backupUUID": b, "baseBackupUUID": b, "state": state, "createTime": stamp,
                                 "updateTime": stamp, "completionTime": stamp, "storageConfigUUID": CFG,
                                 "totalBackupSizeInBytes": 0,
                                 "responseList": [{"keyspace": "yugabyte", "defaultLocation": self.location(u, b)}]},
            "universeUUID": u, "universeName": name, "category": "YB_CONTROLLER", "lastBackupState": state,
            "isUniversePresent": u in self.universes})
        return b

    def find(self, b):
        return next((x for x in self.backups if x["commonBackupInfo"]["backupUUID"] == b), None)

    def send(self, client, method, path, body):
        self.seen.append((method, path))
        base = "/api/v1/customers/%s/" % C
        if path == "/api/v1/customers":
            return [{"uuid": C}]
        rest = path[len(base):]
        if rest == "universes":
            return [{"universeUUID": u, "name": n} for u, n in self.universes.items()]
        if rest == "configs":
            return [self.config, {"configUUID": "a", "type": "ALERTS", "name": "x", "configName": "a", "data": {}}]
        if rest == "backups/page":
            f = body["filter"]
            assert set(f) == set(bi.BACKUP_FILTER)
            items = [b for b in self.backups
                     if (not f["universeUUIDList"] or b["universeUUID"] in f["universeUUIDList"])
                     and (not f["universeNameList"] or b["universeName"] in f["universeNameList"])
                     and (not f["onlyShowDeletedUniverses"] or b["universeUUID"] not in self.universes)]
            items.sort(key=lambda b: b["commonBackupInfo"]["createTime"], reverse=True)
            off, lim = body["offset"], body["limit"]
            return {"entities": items[off:off + lim], "hasNext": off + lim < len(items), "hasPrev": off > 0}
        if method == "GET" and rest.startswith("tasks/"):
            b = self.tasks[rest.split("/")[1]]
            if b in self.fail_tasks_of:
                return {"status": "Failure", "title": "Deleted Backup", "percent": 100.0}
            return {"status": "Success", "title": "Deleted Backup", "percent": 100.0}
        if method == "GET" and rest.startswith("backups/"):
            found = self.find(rest.split("/")[1])
            if found is None:
                raise _api.YBAValidationError("Invalid customer: %s or backup: %s" % (C, rest), status=400)
            return {"backupUUID": found["commonBackupInfo"]["backupUUID"],
                    "state": found["commonBackupInfo"]["state"]}
        if rest == "backups/delete":
            self.deletes.append(body)
            tasks = []
            for info in body["deleteBackupInfos"]:
                found = self.find(info["backupUUID"])
                if found is None or found["commonBackupInfo"]["state"] in ("InProgress", "QueuedForDeletion"):
                    continue
                found["commonBackupInfo"]["state"] = found["lastBackupState"] = "QueuedForDeletion"
                tasks.append({"taskUUID": str(uuid.uuid4()), "resourceUUID": info["backupUUID"]})
                self.tasks[tasks[-1]["taskUUID"]] = info["backupUUID"]
            return {"taskUUID": [t["taskUUID"] for t in tasks], "ybpTaskList": tasks}
        raise AssertionError((method, path))


def put(s3, location_or_key, names=("tablet-1/000000.sst", "success")):
    key = location_or_key.split("s3://%s/" % BUCKET, 1)[-1]
    for n in names:
        s3["client"].put_object(Bucket=BUCKET, Key="%s/%s" % (key, n) if n else key, Body=b"x" * 10)


@pytest.fixture
def lab(monkeypatch, s3):
    """One universe 'orders' with a good backup, a dangling one, an old dangling one (10 days), a deleted
    universe's good backup, an orphan folder; a canary and a backup_keys.json beside."""
    fake = route_api(monkeypatch, FakeYBA(s3["live"], "rec-%s" % uuid.uuid4().hex[:8]))
    now = time.time()
    u = fake.universe("orders")
    gone_u = fake.universe("legacy", live=False)
    fake.good = fake.backup(u, "orders", now - DAY)
    fake.dangling = fake.backup(u, "orders", now - 2 * DAY)
    fake.old = fake.backup(u, "orders", now - 10 * DAY)
    fake.legacy = fake.backup(gone_u, "legacy", now - 3 * DAY)
    fake.u, fake.gone_u = u, gone_u
    for b in (fake.good, fake.legacy):
        put(s3, fake.find(b)["commonBackupInfo"]["responseList"][0]["defaultLocation"])
    fake.orphan = "%s/univ-%s/ybc_backup-%s" % (fake.prefix, u, uuid.uuid4().hex)
    put(s3, fake.orphan, names=("full/ts/keyspace-a_1/tablet-1/000000.sst", "full/ts/keyspace-a_1/success"))
    put(s3, "%s/%s.txt" % (fake.prefix, uuid.uuid4()), names=("",))
    put(s3, "%s/univ-%s/backup_keys.json" % (fake.prefix, u), names=("",))
    return fake


def run(capsys, check_mode=False, diff=False, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, backoff_retries=0, orphan_grace="0",
                storage_credentials={"s3-prod": {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}})
    base.update(args)
    if check_mode:
        base["_ansible_check_mode"] = True
    if diff:
        base["_ansible_diff"] = True
    with patch_module_args(base):
        with pytest.raises(SystemExit):
            backup_reconcile.main()
    out = capsys.readouterr().out
    assert SECRET not in out and TOKEN not in out
    return json.loads(out)


def test_read_only_by_default_finds_dangling_orphans_and_deleted_universes(lab, capsys):
    r = run(capsys)
    assert "failed" not in r, r.get("msg")
    assert r["changed"] is False and not lab.deletes
    c = r["counts"]
    assert (c["dangling"], c["orphans"], c["size_mismatches"]) == (2, 1, 0)
    assert sorted(d["backup_uuid"] for d in r["dangling"]) == sorted([lab.dangling, lab.old])
    assert r["orphans"][0]["prefix"] == "s3://%s/%s/" % (BUCKET, lab.orphan)
    # the deleted universe's backup was read (second page query) and its objects are not an orphan
    assert c["catalog_entries"] == 4 and c["judged_entries"] == 4
    assert c["other_objects"] == 1 and c["excluded_objects"] == 1
    only_deleted = [m for m, p in lab.seen if p.endswith("backups/page")]
    assert len(only_deleted) == 2
    assert r["storage"][0]["config"] == "s3-prod" and r["storage"][0]["objects"] == 8
    assert r["summary"].startswith("dangling 2, orphan folders 1 (2 objects, 20 bytes), size mismatches 0")
    assert r["record"]["counts"] == c and r["requests"] == len(lab.seen)


def test_a_window_and_a_universe_narrow_the_run(lab, capsys):
    r = run(capsys, created_after="4d")
    assert r["counts"]["dangling"] == 1 and r["dangling"][0]["backup_uuid"] == lab.dangling
    assert r["counts"]["outside_window_entries"] == 1
    r = run(capsys, universes=["legacy"])  # a deleted universe, by the name its backups carry
    assert r["counts"]["dangling"] == 0 and r["counts"]["orphans"] == 0 and r["counts"]["catalog_entries"] == 1
    assert r["storage"][0]["prefixes"] == ["s3://%s/%s/univ-%s/" % (BUCKET, lab.prefix, lab.gone_u)]
    r = run(capsys, universes=[lab.u], created_after="4d")
    assert (r["counts"]["dangling"], r["counts"]["orphans"]) == (1, 1)


def test_delete_dangling_check_mode_then_apply_then_nothing(lab, capsys):
    r = run(capsys, check_mode=True, diff=True, delete_dangling=True, created_after="4d")
    assert r["changed"] is True and not lab.deletes
    assert r["actions"]["delete_dangling"]["planned"] == 1 and lab.dangling in r["diff"]["before"]
    assert "would delete 1 dangling" in r["summary"]
    r = run(capsys, diff=True, delete_dangling=True, created_after="4d")
    assert r["changed"] is True and r["actions"]["delete_dangling"]["queued"] == [lab.dangling]
    assert lab.deletes == [{"deleteBackupInfos": [{"backupUUID": lab.dangling}], "deleteForcefully": True}]
    assert lab.find(lab.dangling)["commonBackupInfo"]["state"] == "QueuedForDeletion"
    assert lab.find(lab.old)["commonBackupInfo"]["state"] == "Completed"  # outside the window
    assert [p for m, p in lab.seen if p.endswith("/tasks/" + next(iter(lab.tasks)))]  # its task waited for
    r = run(capsys, delete_dangling=True, created_after="4d")
    assert r["changed"] is False and r["counts"]["dangling"] == 0 and len(lab.deletes) == 1


def test_a_failed_deletion_task_fails_the_run_with_its_error(lab, capsys):
    lab.fail_tasks_of.add(lab.dangling)
    r = run(capsys, delete_dangling=True, created_after="4d")
    assert r["failed"] is True and r["changed"] is True
    assert r["msg"].startswith("deleting dangling catalog entries failed: %s: task " % lab.dangling)
    assert "ended Failure" in r["msg"] and r["actions"]["delete_dangling"]["queued"] == []


def test_delete_orphans_respects_min_age_check_mode_and_is_idempotent(lab, capsys, s3):
    r = run(capsys, delete_orphans=True)  # default orphan_min_age 7d: the orphan was written just now
    assert r["changed"] is False and r["actions"]["delete_orphans"]["planned"] == 0 and r["counts"]["orphans"] == 1
    r = run(capsys, check_mode=True, diff=True, delete_orphans=True, orphan_min_age="0")
    assert r["changed"] is True and r["actions"]["delete_orphans"]["planned"] == 1
    assert lab.orphan in r["diff"]["before"]
    listed = s3["client"].list_objects_v2(Bucket=BUCKET, Prefix=lab.orphan + "/")
    assert listed["KeyCount"] == 2
    r = run(capsys, delete_orphans=True, orphan_min_age="0")
    assert r["changed"] is True and r["actions"]["delete_orphans"]["deleted_objects"] == 2
    assert s3["client"].list_objects_v2(Bucket=BUCKET, Prefix=lab.orphan + "/")["KeyCount"] == 0
    # the canary and backup_keys.json are still there, the catalogued objects too
    assert s3["client"].list_objects_v2(Bucket=BUCKET, Prefix=lab.prefix + "/")["KeyCount"] == 6
    r = run(capsys, delete_orphans=True, orphan_min_age="0")
    assert r["changed"] is False and r["counts"]["orphans"] == 0


def test_more_than_max_delete_refuses_before_deleting(lab, capsys):
    r = run(capsys, delete_dangling=True, max_delete=1)
    assert r["failed"] is True and not lab.deletes
    assert r["msg"] == ("nothing deleted: 2 dangling catalog entries qualify, more than max_delete 1; narrow the run "
                        "with created_after or universes, or raise max_delete")
    assert r["counts"]["dangling"] == 2


def test_a_failed_listing_fails_the_run_instead_of_calling_everything_dangling(lab, capsys):
    lab.config["data"]["BACKUP_LOCATION"] = "s3://no-such-bucket-rec/x"
    r = run(capsys)
    assert r["failed"] is True and "nothing is judged on a partial listing" in r["msg"]
    assert "no-such-bucket-rec" in r["msg"] and "counts" not in r


@pytest.mark.parametrize("args, message", [
    ({"orphan_grace": "soon"}, "orphan_grace: 'soon' is not a duration such as 0, 90s, 30m, 12h, 7d or 2w"),
    ({"created_after": "yesterday"}, "created_after: 'yesterday' is neither an ISO 8601 time"),
    ({"max_delete": 0}, "max_delete must be 1 or more, got 0"),
    ({"storage_config": "nope"}, "storage_config nope is not an S3 storage config of this YBA (S3 configs: s3-prod)"),
    ({"universes": ["nope"]}, "universes: nope is neither a universe of this YBA (orders) nor the universe of any"),
])
def test_bad_input_fails_with_one_clear_line(lab, capsys, args, message):
    r = run(capsys, **args)
    assert r["failed"] is True and r["msg"].startswith(message), r["msg"]
    assert "\n" not in r["msg"] and not lab.deletes


def test_entries_of_another_config_are_not_judged_against_this_bucket(lab, capsys):
    # config B (another endpoint) writes to a bucket of the same name: its entry must not look dangling here
    other = lab.backup(lab.u, "orders", time.time() - DAY)
    lab.find(other)["commonBackupInfo"]["storageConfigUUID"] = str(uuid.uuid4())
    for args in ({}, {"storage_config": "s3-prod"}):
        r = run(capsys, **args)
        assert "failed" not in r, r.get("msg")
        assert r["counts"]["dangling"] == 2 and other not in [d["backup_uuid"] for d in r["dangling"]]
        assert r["counts"]["unchecked_entries"] == 1
    r = run(capsys, check_mode=True, delete_dangling=True)
    assert r["actions"]["delete_dangling"]["planned"] == 2


def test_a_region_location_under_backup_location_is_listed_once(lab, capsys, s3):
    lab.config["data"]["REGION_LOCATIONS"] = [{"REGION": "eu-west-1", "LOCATION": "s3://%s/%s/eu" % (BUCKET, lab.prefix)}]
    regional = "%s/eu/univ-%s/ybc_backup-%s" % (lab.prefix, lab.u, uuid.uuid4().hex)
    put(s3, regional, names=("full/ts/keyspace-a_1/tablet-1/000000.sst", "full/ts/keyspace-a_1/success"))
    r = run(capsys, check_mode=True, delete_orphans=True, orphan_min_age="0")
    assert "failed" not in r, r.get("msg")
    assert r["counts"]["orphans"] == 2 and r["counts"]["listed_objects"] == 10
    assert r["actions"]["delete_orphans"]["planned"] == 2
    assert r["storage"][1]["covered_by"] == ["s3://%s/%s/" % (BUCKET, lab.prefix)] and r["storage"][1]["objects"] == 0


def test_an_orphan_of_a_foreign_universe_in_a_shared_bucket_is_not_deleted(lab, capsys, s3):
    # another customer's backup: GET backups/{b} answers 400 "Invalid customer ..." as for a gone one
    foreign = "%s/univ-%s/ybc_backup-%s" % (lab.prefix, uuid.uuid4(), uuid.uuid4().hex)
    put(s3, foreign, names=("full/ts/keyspace-a_1/tablet-1/000000.sst", "full/ts/keyspace-a_1/success"))
    r = run(capsys, delete_orphans=True, orphan_min_age="0")
    assert "failed" not in r, r.get("msg")
    o = r["actions"]["delete_orphans"]
    assert r["counts"]["orphans"] == 2 and o["deleted_prefixes"] == ["s3://%s/%s/" % (BUCKET, lab.orphan)]
    assert [s["prefix"] for s in o["skipped"]] == ["s3://%s/%s/" % (BUCKET, foreign)]
    assert "foreign/unknown universe" in o["skipped"][0]["reason"]
    assert s3["client"].list_objects_v2(Bucket=BUCKET, Prefix=foreign + "/")["KeyCount"] == 2
