# Unit tests of _backupverify (a backup's objects checked in the bucket) against the real moto S3 server of the unit
# conftest: YBC and script layouts, a marker missing, no data, a masked location, wrong keys, no keys at all.
from __future__ import annotations

import uuid

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv


def settings(s3, user="yba", **over):
    data = {"BACKUP_LOCATION": "s3://yba-backups/northgate", "AWS_HOST_BASE": s3["url"], "PATH_STYLE_ACCESS": True,
            "SIGNING_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": s3["keys"][user]["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": s3["keys"][user]["SecretAccessKey"]}
    data.update(over)
    return data


def write(s3, location, names, body=b"x" * 10):
    key = location[len("s3://yba-backups/"):]
    for name in names:
        s3["admin"].put_object(Bucket="yba-backups", Key="%s/%s" % (key, name), Body=body)


def location(kind="ybc_backup", keyspace="keyspace-yugabyte"):
    return "s3://yba-backups/northgate/univ-%s/%s-%s/full/2026-12-01T10:00:00/%s_%s" % (
        uuid.uuid4(), kind, uuid.uuid4().hex, keyspace, uuid.uuid4().hex)


def backup(locations, category="YB_CONTROLLER"):
    """A Backup as GET backups/{b} answers it."""
    return {"backupUUID": str(uuid.uuid4()), "category": category, "state": "Completed",
            "backupInfo": {"backupList": [{"keyspace": "ks%d" % i, "storageLocation": loc}
                                          for i, loc in enumerate(locations)]}}


def backup_resp(locations, category="YB_CONTROLLER"):
    """A BackupResp as backups/page answers it."""
    return {"backupUUID": str(uuid.uuid4()), "category": category,
            "commonBackupInfo": {"state": "Completed", "responseList": [
                {"keyspace": "ks%d" % i, "defaultLocation": loc} for i, loc in enumerate(locations)]}}


def test_ybc_backup_with_success_marker_in_every_location_is_verified(s3):
    locs = [location(), location(keyspace="multi-table-app")]
    for loc in locs:
        write(s3, loc, ["success", "tablet-1/data.sst", "tablet-2/data.sst"])
    got = bv.verify_backup(settings(s3), backup(locs))
    assert got["verified"] is True and got["problem"] is None, got
    assert got["category"] == "YB_CONTROLLER"
    assert got["objects"] == 6 and got["bytes"] == 60
    assert [(r["location"], r["objects"], r["marker"]) for r in got["locations"]] == [(loc, 3, True) for loc in locs]
    # the same backup as backups/page answers it
    assert bv.verify_backup(settings(s3), backup_resp(locs))["verified"] is True


def test_script_backup_needs_snapshot_info(s3):
    loc = location(kind="backup")
    write(s3, loc, ["SnapshotInfoPB", "YSQLDump", "tablet-1/data.tar.gz"])
    assert bv.verify_backup(settings(s3), backup([loc], "YB_BACKUP_SCRIPT"))["verified"] is True
    # a `success` object does not make a script backup complete
    loc2 = location(kind="backup")
    write(s3, loc2, ["success", "tablet-1/data.tar.gz"])
    got = bv.verify_backup(settings(s3), backup([loc2], "YB_BACKUP_SCRIPT"))
    assert got["verified"] is False and "no SnapshotInfoPB marker" in got["problem"], got


def test_ybc_backup_without_success_marker_fails(s3):
    good, bad = location(), location()
    write(s3, good, ["success", "tablet-1/data.sst"])
    write(s3, bad, ["tablet-1/data.sst"])  # YBC never finished this location
    got = bv.verify_backup(settings(s3), backup([good, bad]))
    assert got["verified"] is False
    assert got["problem"].startswith("1 of 2 locations: no success marker under %s" % bad), got
    assert got["error_class"] == "no_marker"
    assert [r["marker"] for r in got["locations"]] == [True, False]


def test_marker_alone_or_nothing_is_not_a_backup(s3):
    only_marker, empty = location(), location()
    write(s3, only_marker, ["success"])
    got = bv.verify_backup(settings(s3), backup([only_marker]))
    assert not got["verified"] and "no data object" in got["problem"] and got["error_class"] == "no_data"
    got = bv.verify_backup(settings(s3), backup([empty]))
    assert not got["verified"] and got["problem"] == "no object under %s" % empty and got["objects"] == 0


def test_the_marker_and_the_keys_file_alone_are_not_restorable(s3):
    keys_only = location()
    write(s3, keys_only, ["success", "backup_keys.json"])
    got = bv.verify_backup(settings(s3), backup([keys_only]))
    assert not got["verified"] and got["error_class"] == "no_data" and got["objects"] == 2, got


def test_one_classifier_for_objects_and_locations():
    assert bv.object_kind("success", "YB_CONTROLLER") == bv.MARKER
    assert bv.object_kind("SnapshotInfoPB", "YB_CONTROLLER") == bv.DATA  # not this writer's marker
    assert bv.object_kind("SnapshotInfoPB", "") == bv.object_kind("success", "") == bv.MARKER
    for rel in ("backup_keys.json", "x/backup_keys.json", "dir/", ""):
        assert bv.object_kind(rel, "YB_CONTROLLER") == bv.OTHER, rel
    assert bv.object_kind("tablet-1/0.sst", "YB_CONTROLLER") == bv.DATA
    assert bv.location_problem("s3://b/k", "YB_CONTROLLER", 0, False, 0) == ("no object under s3://b/k", "missing")
    assert bv.location_problem("s3://b/k", "YB_CONTROLLER", 2, False, 2)[1] == "no_marker"
    assert bv.location_problem("s3://b/k", "YB_CONTROLLER", 2, True, 0)[1] == "no_data"
    assert bv.location_problem("s3://b/k", "YB_CONTROLLER", 2, True, 1) == (None, None)


def test_a_sibling_prefix_is_not_counted(s3):
    loc = location()
    write(s3, loc + "-other", ["success", "data"])  # <key>-other/ is not under <key>/
    got = bv.verify_backup(settings(s3), backup([loc]))
    assert not got["verified"] and got["objects"] == 0


@pytest.mark.parametrize("answer", [
    backup(["**********"]), backup_resp(["**********"]), backup([""]),
])
def test_masked_location_cannot_be_verified(s3, answer):
    got = bv.verify_backup(settings(s3), answer)
    assert got["verified"] is False and "hides the backup's storage location" in got["problem"], got
    assert got["error_class"] == "location_hidden"


def test_no_location_at_all(s3):
    got = bv.verify_backup(settings(s3), {"backupUUID": "b", "category": "YB_CONTROLLER", "backupInfo": {}})
    assert got == {"verified": False, "category": "YB_CONTROLLER", "objects": 0, "bytes": 0,
                   "problem": "the backup names no storage location", "error_class": "location_hidden",
                   "locations": []}


def test_s3_errors_are_classified_and_no_secret_shows(s3):
    loc = location()
    write(s3, loc, ["success", "data"])
    wrong = settings(s3, AWS_SECRET_ACCESS_KEY="not-the-secret-at-all")
    got = bv.verify_backup(wrong, backup([loc]))
    assert not got["verified"] and got["error_class"] == "signature", got
    assert "not-the-secret-at-all" not in repr(got) and s3["keys"]["yba"]["AccessKeyId"] not in repr(got)
    got = bv.verify_backup(settings(s3, BACKUP_LOCATION="s3://nope/x"), backup(["s3://nope/x/univ-1/b"]))
    assert got["error_class"] == "no_such_bucket" and "NoSuchBucket" in got["problem"], got


def test_without_keys_the_problem_says_how_to_give_them(s3, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role here
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    loc = location()
    write(s3, loc, ["success", "data"])
    data = settings(s3)
    del data["AWS_ACCESS_KEY_ID"], data["AWS_SECRET_ACCESS_KEY"]
    from ansible_collections.yba.remediation.plugins.module_utils import _s3
    monkeypatch.setattr(_s3, "_SESSION", [])  # a session that reads the environment above
    got = bv.verify_backup(data, backup([loc]))
    assert not got["verified"] and got["error_class"] == "no_credentials", got
    assert "storage_credentials" in got["problem"] and "AWS_SECRET_ACCESS_KEY" in got["problem"]


def test_region_location_is_listed_with_its_own_endpoint(s3):
    """A regional copy under REGION_LOCATIONS is listed through that entry's host base (here the same moto)."""
    loc = location().replace("s3://yba-backups/northgate", "s3://yba-versioned/eu")
    key = loc[len("s3://yba-versioned/"):]
    for name in ("success", "data"):
        s3["admin"].put_object(Bucket="yba-versioned", Key="%s/%s" % (key, name), Body=b"y")
    data = settings(s3, AWS_HOST_BASE="http://127.0.0.1:1",  # the default endpoint is dead
                    REGION_LOCATIONS=[{"REGION": "eu-west-1", "LOCATION": "s3://yba-versioned/eu",
                                       "AWS_HOST_BASE": s3["url"], "SIGNING_REGION": "us-east-1"}])
    got = bv.verify_backup(data, backup([loc]), timeout=2, attempts=1)
    assert got["verified"] is True, got


def test_unknown_category_accepts_either_marker(s3):
    loc = location()
    write(s3, loc, ["SnapshotInfoPB", "data"])
    answer = backup([loc])
    del answer["category"]
    got = bv.verify_backup(settings(s3), answer)
    assert got["verified"] is True and got["category"] == ""
