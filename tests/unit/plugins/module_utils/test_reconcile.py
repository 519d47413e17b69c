# Unit tests of _reconcile (the backup catalog against a bucket listing): YBA's folder layout, the three classes and
# what is never an orphan, the window, samples vs counts, memory flat in the object count (a synthetic stream),
# and the S3 side (listing, DeleteObjects in batches of 1000) against the real moto S3 server of the unit conftest.
from __future__ import annotations

import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _reconcile as rc

NOW = 1_800_000_000.0
DAY = 86400.0
BUCKET = "rec-bucket"
PREFIX = "northgate/"


def folder(u, b, kind="ybc_backup"):
    return "%suniv-%s/%s-%s" % (PREFIX, u, kind, b.replace("-", ""))


def resp(u, b=None, state="Completed", created=NOW - DAY, size=0, category="YB_CONTROLLER", name=None,
         kind="ybc_backup", locations=None):
    """A BackupResp as backups/page answers it, with its V2 location(s)."""
    b = b or str(uuid.uuid4())
    locs = locations or ["s3://%s/%s/full/2026-12-01T10:00:00/keyspace-yugabyte_%s" % (
        BUCKET, folder(u, b, kind), uuid.uuid4().hex)]
    return {"commonBackupInfo": {"backupUUID": b, "baseBackupUUID": b, "state": state, "createTime": bi.iso(created),
                                 "totalBackupSizeInBytes": size, "storageConfigUUID": "cfg",
                                 "responseList": [{"keyspace": "yugabyte", "defaultLocation": loc} for loc in locs]},
            "universeUUID": u, "universeName": name or "uni-" + u[:4], "category": category,
            "lastBackupState": state}


def objects_of(r, names=("tablet-1/000000.sst", "success"), mtime=NOW - DAY, size=100):
    out = []
    for sub in r["commonBackupInfo"]["responseList"]:
        key = sub["defaultLocation"].split("s3://%s/" % BUCKET, 1)[1]
        out += [("%s/%s" % (key, n), size, mtime) for n in names]
    return out


def reconcile(backups, objects, **kw):
    cat = rc.Catalog()
    for b in backups:
        cat.add(b)
    kw.setdefault("grace_seconds", 3600)
    rec = rc.Reconciler(cat, NOW, **kw)
    rec.feed(BUCKET, PREFIX, sorted(objects))
    return rec, rec.finish()


U1, U2 = str(uuid.uuid4()), str(uuid.uuid4())


def test_folder_of_follows_ybas_backup_identifier():
    u = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert rc.folder_of("p/univ-%s/ybc_backup-abc/full/2026-12-01T10:00:00/keyspace-x_1/success" % u) == (
        "p/univ-%s/ybc_backup-abc" % u, u, "abc")
    assert rc.folder_of("p/univ-%s/ybc_backup-abc/incremental/2026/keyspace-x/a" % u)[0] == "p/univ-%s/ybc_backup-abc" % u
    # the V1 script layout (yugabyte/yugabyte-db#7292) and an NFS-style path
    assert rc.folder_of("univ-%s/backup-2021-01-31T20:01:50-288874889/keyspace-postgres/x" % u)[2] == \
        "2021-01-31T20:01:50-288874889"
    assert rc.folder_of("a/b/nfsBucket/univ-%s/backup-1/x" % u)[0] == "a/b/nfsBucket/univ-%s/backup-1" % u
    # canaries, keys beside the layout and a folder name alone are not folders
    for key in ("p/%s.txt" % uuid.uuid4(), "p/.yba-remediation-canary/x.txt", "p/univ-%s/backup_keys.json" % u,
                "p/univ-%s/ybc_backup-abc" % u, "p/univ-notauuid/backup-1/x"):
        assert rc.folder_of(key) is None, key
    assert rc.backup_uuid_of("0f1e2d3c4b5a69788a9b0c1d2e3f4a5b") == u and rc.backup_uuid_of("2021-01-31") is None


def test_the_three_classes_and_nothing_else():
    good = resp(U1, size=200)
    missing = resp(U1)
    no_marker = resp(U2)
    marker_only = resp(U2)
    big = resp(U2, size=50 * 1048576)  # the catalog says 50 MiB, the bucket holds 200 bytes
    failed = resp(U1, state="Failed")  # not Completed: never dangling, but its folder is expected
    orphan_b = str(uuid.uuid4())
    objects = (objects_of(good) + objects_of(no_marker, names=("tablet-1/000000.sst",))
               + objects_of(marker_only, names=("success",)) + objects_of(big)
               + objects_of(failed, names=("tablet-1/000000.sst",))
               + [(folder(U2, orphan_b) + "/full/ts/keyspace-a_1/tablet-9/000000.sst", 1000, NOW - 2 * DAY),
                  (folder(U2, orphan_b) + "/full/ts/keyspace-a_1/success", 10, NOW - 2 * DAY)])
    rec, out = reconcile([good, missing, no_marker, marker_only, big, failed], objects, max_samples=10)
    c = out["counts"]
    assert (c["dangling"], c["orphans"], c["size_mismatches"]) == (3, 1, 1)
    assert {d["backup_uuid"]: d["error_class"] for d in out["dangling"]} == {
        missing["commonBackupInfo"]["backupUUID"]: "missing", no_marker["commonBackupInfo"]["backupUUID"]: "no_marker",
        marker_only["commonBackupInfo"]["backupUUID"]: "no_data"}
    assert out["orphans"][0]["prefix"] == "s3://%s/%s/" % (BUCKET, folder(U2, orphan_b))
    assert out["orphans"][0]["backup_uuid"] == orphan_b and out["orphans"][0]["objects"] == 2
    assert out["orphans"][0]["bytes"] == 1010 and out["orphans"][0]["age_seconds"] == int(2 * DAY)
    mm = out["size_mismatches"][0]
    assert mm["backup_uuid"] == big["commonBackupInfo"]["backupUUID"] and mm["catalog_bytes"] == 50 * 1048576
    assert mm["difference"] == 200 - 50 * 1048576
    assert c["judged_entries"] == 5 and c["catalog_entries"] == 6 and c["catalogued_folders"] == 5
    per = {u["universe_uuid"]: u for u in out["universes"]}
    assert per[U2]["dangling"] == 2 and per[U2]["orphans"] == 1 and per[U1]["dangling"] == 1
    assert out["universes"][0]["universe_uuid"] == U2  # most findings first


def test_sizes_within_tolerance_and_unknown_sizes_are_not_mismatches():
    exact = resp(U1, size=200)
    close = resp(U1, size=2 * 1048576)  # 200 bytes listed: 2 MiB off, beyond the 1 MiB floor and 10%
    unknown = resp(U1, size=0)
    _rec, out = reconcile([exact, close, unknown], objects_of(exact) + objects_of(close) + objects_of(unknown))
    assert out["counts"]["size_mismatches"] == 1
    assert out["size_mismatches"][0]["backup_uuid"] == close["commonBackupInfo"]["backupUUID"]
    _rec, out = reconcile([close], objects_of(close), size_tolerance_bytes=4 * 1048576)
    assert out["counts"]["size_mismatches"] == 0


def test_never_orphans_keys_canaries_increments_in_progress_young_and_deleted():
    base = resp(U1)
    inc_objects = [(folder(U1, base["commonBackupInfo"]["backupUUID"]) + "/incremental/ts/keyspace-y_2/success", 5,
                    NOW - DAY)]
    keys_only = folder(U1, str(uuid.uuid4())) + "/backup_keys.json"
    running_u = str(uuid.uuid4())
    running = resp(running_u, state="InProgress")
    running_orphan = folder(running_u, str(uuid.uuid4())) + "/full/ts/k/success"
    young = folder(U2, str(uuid.uuid4())) + "/full/ts/k/success"
    deleted = resp(U2, state="Deleted")
    deleted_objects = objects_of(deleted)
    extra = [(keys_only, 10, NOW - 9 * DAY), (running_orphan, 10, NOW - 9 * DAY), (young, 10, NOW - 60),
             (PREFIX + "%s.txt" % uuid.uuid4(), 10, NOW - DAY), (PREFIX + ".yba-remediation-canary/x.txt", 10, NOW - DAY),
             (PREFIX + "univ-%s/backup_keys.json" % U1, 10, NOW - DAY)]
    objects = objects_of(base) + inc_objects + extra + deleted_objects
    _rec, out = reconcile([base, running, deleted], objects)
    c = out["counts"]
    # the Deleted entry's objects are the only orphan: YBA forgot them
    assert c["orphans"] == 1 and out["orphans"][0]["backup_uuid"] == deleted["commonBackupInfo"]["backupUUID"]
    assert (c["keys_only_folders"], c["in_progress_folders"], c["young_folders"]) == (1, 1, 1)
    assert c["other_objects"] == 2 and c["excluded_objects"] == 2 and c["dangling"] == 0


def test_created_after_narrows_both_sides():
    old = resp(U1, created=NOW - 10 * DAY)
    new = resp(U1, created=NOW - DAY)
    old_orphan = (folder(U2, str(uuid.uuid4())) + "/full/ts/k/success", 1, NOW - 10 * DAY)
    new_orphan = (folder(U2, str(uuid.uuid4())) + "/full/ts/k/success", 1, NOW - 2 * DAY)
    _rec, out = reconcile([old, new], [old_orphan, new_orphan])
    assert out["counts"]["dangling"] == 2 and out["counts"]["orphans"] == 2
    _rec, out = reconcile([old, new], [old_orphan, new_orphan], created_after=NOW - 4 * DAY)
    c = out["counts"]
    assert c["dangling"] == 1 and out["dangling"][0]["backup_uuid"] == new["commonBackupInfo"]["backupUUID"]
    assert c["orphans"] == 1 and c["outside_window_entries"] == 1 and c["outside_window_folders"] == 1


def test_samples_are_capped_and_counts_are_complete():
    backups = [resp(U1) for _i in range(30)]
    _rec, out = reconcile(backups, [], max_samples=5)
    assert out["counts"]["dangling"] == 30 and len(out["dangling"]) == 5
    _rec, out = reconcile(backups, [], max_samples=0)
    assert out["counts"]["dangling"] == 30 and out["dangling"] == []


def test_entries_outside_the_listed_prefixes_are_unchecked_not_dangling():
    elsewhere = resp(U1, locations=["s3://other-bucket/x/univ-%s/ybc_backup-%s/full/ts/k" % (U1, "ab" * 16)])
    hidden = resp(U1, locations=["**********"])
    _rec, out = reconcile([elsewhere, hidden], [])
    assert out["counts"]["dangling"] == 0 and out["counts"]["unchecked_entries"] == 2


def test_paging_overlaps_are_deduplicated():
    b = resp(U1)
    cat = rc.Catalog()
    assert cat.add(b) is True and cat.add(b) is False and len(cat.entries) == 1


def _stream(n, universes=50):
    """n object keys in key order, 4 per backup folder, with no catalog entry (the worst case: every folder an
    orphan candidate) - generated, never held."""
    us = ["%08d-0000-4000-8000-000000000000" % i for i in range(universes)]
    per = n // universes
    for u in us:
        for j in range(per // 4):
            f = "%suniv-%s/ybc_backup-%032x/full/2026-12-01T10:00:00/keyspace-k_1/" % (PREFIX, u, j)
            for leaf in ("success", "tablet-a/000000.sst", "tablet-a/000001.sst", "tablet-b/000000.sst"):
                yield f + leaf, 1000, NOW - 30 * DAY


def _peak(n):
    rec = rc.Reconciler(rc.Catalog(), NOW, max_samples=20)
    tracemalloc.start()
    rec.feed(BUCKET, PREFIX, _stream(n))
    out = rec.finish()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out["counts"]["listed_objects"] == n and len(out["orphans"]) == 20
    return peak, out


def test_memory_is_flat_in_the_object_count():
    small, out_s = _peak(20_000)
    big, out_b = _peak(200_000)
    assert out_b["counts"]["orphans"] == 50_000 and out_b["counts"]["orphan_objects"] == 200_000
    # ten times the objects, the same memory (within noise): nothing per object or per folder is kept
    assert big < small * 1.5 + 64 * 1024, (small, big)


# ---------------------------------------------------------------------------------- S3 side (moto)

@pytest.fixture(scope="module")
def s3(plain_s3):
    boto3 = pytest.importorskip("boto3")
    client = boto3.client("s3", endpoint_url=plain_s3["live"], region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    client.create_bucket(Bucket=BUCKET)
    return client


def put_all(s3, keys, body=b"x" * 10):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=body), keys))


def test_listing_is_streamed_from_s3_and_matches(s3):
    u = str(uuid.uuid4())
    good = resp(u)
    keys = [k for k, _s, _m in objects_of(good)] + [folder(u, str(uuid.uuid4())) + "/full/ts/k/success"]
    put_all(s3, keys)
    got = list(rc.list_objects(s3, BUCKET, PREFIX + "univ-%s/" % u, page_size=1))
    assert [k for k, _s, _m in got] == sorted(keys) and all(s == 10 for _k, s, _m in got)
    assert all(abs(m - time.time()) < 300 for _k, _s, m in got)
    cat = rc.Catalog()
    cat.add(good)
    rec = rc.Reconciler(cat, time.time(), grace_seconds=0)
    rec.feed(BUCKET, PREFIX + "univ-%s/" % u, rc.list_objects(s3, BUCKET, PREFIX + "univ-%s/" % u))
    out = rec.finish()
    assert out["counts"]["dangling"] == 0 and out["counts"]["orphans"] == 1


def test_delete_prefix_batches_by_1000_and_leaves_neighbours(s3):
    u = str(uuid.uuid4())
    victim = folder(u, str(uuid.uuid4())) + "/"
    neighbour = victim[:-1] + "0/x"  # shares the text of the prefix, not the folder
    put_all(s3, ["%sfull/ts/k/tablet/%06d.sst" % (victim, i) for i in range(1001)] + [neighbour])
    calls = []
    real = s3.delete_objects

    def counting(**kw):
        calls.append(len(kw["Delete"]["Objects"]))
        return real(**kw)

    s3.delete_objects = counting
    try:
        out = rc.delete_prefix(s3, BUCKET, victim)
    finally:
        del s3.delete_objects
    assert calls == [1000, 1] and out["deleted"] == 1001 and out["bytes"] == 10010 and not out["errors"]
    left = [k for k, _s, _m in rc.list_objects(s3, BUCKET, PREFIX + "univ-%s/" % u)]
    assert left == [neighbour]
    assert rc.delete_prefix(s3, BUCKET, victim)["deleted"] == 0  # idempotent


def test_delete_prefix_stops_at_an_object_written_after_the_plan(s3):
    u = str(uuid.uuid4())
    victim = folder(u, str(uuid.uuid4())) + "/"
    put_all(s3, [victim + "a", victim + "b"])
    out = rc.delete_prefix(s3, BUCKET, victim, max_mtime=time.time() - 3600)
    assert out["deleted"] == 0 and "written after the plan" in out["stopped"]


# ---------------------------------------------------------------------------------- inputs, API side

def test_durations_and_times():
    assert rc.parse_duration("7d") == 7 * DAY and rc.parse_duration("90") == 90 and rc.parse_duration("1.5h") == 5400
    assert rc.parse_since("4d", NOW) == NOW - 4 * DAY
    assert rc.parse_since("2026-12-01T00:00:00Z", NOW) == bi.parse_time("2026-12-01T00:00:00Z")
    for bad in ("7 days", "-1d", "soon"):
        with pytest.raises(ValueError):
            rc.parse_since(bad, NOW) if bad == "soon" else rc.parse_duration(bad)


class FakeClient:
    def __init__(self, backups, drop=()):
        self.backups = {b["commonBackupInfo"]["backupUUID"]: b for b in backups}
        self.drop = set(drop)
        self.posts = []
        self.live = [U1]
        self.errors = set()
        self.pages = []

    def paged(self, path, body, limit=200, max_items=None):
        self.pages.append(body["filter"])
        wanted = body["filter"].get("universeUUIDList") or []
        return iter([b for b in self.backups.values() if not wanted or b["universeUUID"] in wanted])

    def cpath(self, s):
        return "/c/" + s

    def get(self, path):
        if path == "/c/universes":
            return [{"universeUUID": u} for u in self.live]
        key = path.rsplit("/", 1)[1]
        if key in self.errors:
            raise _api.YBAError("Internal Server Error", status=500)
        b = self.backups.get(key)
        if b is None:
            raise _api.YBAValidationError("Invalid customer or backup UUID", status=400)
        return {"backupUUID": b["commonBackupInfo"]["backupUUID"], "state": b["commonBackupInfo"]["state"]}

    def post(self, path, body):
        self.posts.append((path, body))
        return {"ybpTaskList": [{"taskUUID": "t", "resourceUUID": i["backupUUID"]} for i in body["deleteBackupInfos"]
                                if i["backupUUID"] not in self.drop]}


def test_dangling_are_read_again_then_forcibly_deleted_and_drops_reported():
    a, b, gone, queued = resp(U1), resp(U1), resp(U1), resp(U1, state="QueuedForDeletion")
    entries = [{"backup_uuid": x["commonBackupInfo"]["backupUUID"]} for x in (a, b, gone, queued)]
    client = FakeClient([a, b, queued], drop=[b["commonBackupInfo"]["backupUUID"]])
    todo, skipped = rc.still_dangling(client, entries)
    assert [s["reason"] for s in skipped] == ["no longer in the catalog", "now QueuedForDeletion"]
    out = rc.delete_dangling(client, todo)
    assert client.posts[0][0] == "/c/backups/delete" and client.posts[0][1]["deleteForcefully"] is True
    assert out["queued"] == [a["commonBackupInfo"]["backupUUID"]] and out["dropped"] == [
        b["commonBackupInfo"]["backupUUID"]]


def test_an_orphan_whose_backup_the_catalog_now_has_is_not_deleted():
    known = resp(U1)
    b = known["commonBackupInfo"]["backupUUID"]
    items = [{"prefix": "s3://x/a/", "backup_uuid": b, "universe_uuid": U1},
             {"prefix": "s3://x/b/", "backup_uuid": str(uuid.uuid4()), "universe_uuid": U1}]
    todo, skipped = rc.still_orphans(FakeClient([known]), items)
    assert [i["prefix"] for i in todo] == ["s3://x/b/"]
    assert skipped[0]["reason"].startswith("the catalog has backup %s" % b)


def test_orphans_of_a_foreign_universe_or_unreadable_are_never_deleted():
    # a bucket shared with another customer: its backup answers 400 "Invalid customer or backup UUID" as a gone one
    foreign, deleted_universe = str(uuid.uuid4()), str(uuid.uuid4())
    cat = rc.Catalog()
    cat.add(resp(deleted_universe, state="Deleted"))  # a deleted universe this catalog still names
    broken = str(uuid.uuid4())
    items = [{"prefix": "s3://x/f/", "backup_uuid": str(uuid.uuid4()), "universe_uuid": foreign},
             {"prefix": "s3://x/d/", "backup_uuid": str(uuid.uuid4()), "universe_uuid": deleted_universe},
             {"prefix": "s3://x/e/", "backup_uuid": broken, "universe_uuid": U1}]
    client = FakeClient([])
    client.errors.add(broken)
    todo, skipped = rc.still_orphans(client, items, cat)
    assert [i["prefix"] for i in todo] == ["s3://x/d/"]
    assert "foreign/unknown universe %s" % foreign in skipped[0]["reason"] and "not deleted" in skipped[0]["reason"]
    assert skipped[1]["reason"].startswith("backup %s could not be read again" % broken)


def test_a_v1_folder_is_deleted_only_when_its_universes_catalog_read_again_has_none():
    v1 = "%suniv-%s/backup-2021-01-31T20:01:50-288874889" % (PREFIX, U1)
    missed = resp(U1, category="YB_BACKUP_SCRIPT", locations=["s3://%s/%s/keyspace-yugabyte" % (BUCKET, v1)])
    other = "%suniv-%s/backup-2021-02-01T20:01:50-1" % (PREFIX, U1)
    item = {"prefix": "s3://%s/%s/" % (BUCKET, v1), "bucket": BUCKET, "key_prefix": v1 + "/", "backup_uuid": None,
            "universe_uuid": U1}
    item2 = dict(item, prefix="s3://%s/%s/" % (BUCKET, other), key_prefix=other + "/")
    client = FakeClient([missed])  # the first catalog read missed this row (offset paging), the re-read has it
    todo, skipped = rc.still_orphans(client, [item, item2])
    assert [i["prefix"] for i in todo] == [item2["prefix"]]
    assert skipped[0]["reason"] == "the catalog now has backup %s in it" % missed["commonBackupInfo"]["backupUUID"]
    assert client.pages and all(f["universeUUIDList"] == [U1] for f in client.pages)
    assert len(client.pages) == 2  # one re-read (two passes) per universe, not per folder


def test_regional_folders_of_a_multi_region_backup_are_not_orphans():
    # BackupUtil.getCommonBackupInfo: perRegionLocations are BackupUtil.RegionLocations {REGION, LOCATION, HOST_BASE}
    b = resp(U1)
    sub = b["commonBackupInfo"]["responseList"][0]
    regional = sub["defaultLocation"].replace(PREFIX, PREFIX + "eu/", 1)
    sub["perRegionLocations"] = [{"REGION": "eu-west-1", "LOCATION": regional, "HOST_BASE": "s3.eu-west-1.amazonaws.com"}]
    key = regional.split("s3://%s/" % BUCKET, 1)[1]
    objects = objects_of(b) + [(key + "/tablet-2/000000.sst", 100, NOW - 9 * DAY), (key + "/success", 1, NOW - 9 * DAY)]
    _rec, out = reconcile([b], objects, orphan_min_age=DAY)
    assert out["counts"]["orphans"] == 0 and out["counts"]["catalogued_folders"] == 2
    assert out["counts"]["dangling"] == 0
    # the regional location is judged too: gone from the bucket, the entry is dangling
    _rec, out = reconcile([b], objects_of(b))
    assert out["counts"]["dangling"] == 1 and "/eu/" in out["dangling"][0]["problem"]


def test_reconcile_and_verify_classify_a_location_alike():
    # _backupverify.object_kind / location_problem decide for both: keys file and directory placeholders are no data
    keys, placeholder, good = resp(U1), resp(U1), resp(U1)
    objects = (objects_of(keys, names=("success", "backup_keys.json")) + objects_of(placeholder, names=("success", "d/"))
               + objects_of(good))
    _rec, out = reconcile([keys, placeholder, good], objects)
    assert out["counts"]["dangling"] == 2
    assert {d["error_class"] for d in out["dangling"]} == {"no_data"}
    assert good["commonBackupInfo"]["backupUUID"] not in [d["backup_uuid"] for d in out["dangling"]]


def test_a_size_from_the_response_list_is_compared():
    # _retention.size_of: totalBackupSizeInBytes, else the sum of responseList[].backupSizeInBytes
    b = resp(U1, size=0)
    b["commonBackupInfo"]["responseList"][0]["backupSizeInBytes"] = 5 * 1048576
    _rec, out = reconcile([b], objects_of(b))
    assert out["counts"]["size_mismatches"] == 1 and out["size_mismatches"][0]["catalog_bytes"] == 5 * 1048576
