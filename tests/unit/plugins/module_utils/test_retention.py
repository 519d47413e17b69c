# Unit tests of _retention: the plan (candidates, the floor of verified chains, pinned, in-progress increments,
# policy) and the batched deleter against a fake client that counts its calls.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _retention as rt

NOW = 1_800_000_000.0
H = 3600.0
U = "u-orders"


def resp(uuid, hours_ago, expired=True, state="Completed", universe=U, incs=False, expiry="default", schedule=None,
         keyspaces=()):
    created = NOW - hours_ago * H
    out = {"commonBackupInfo": {"backupUUID": uuid, "baseBackupUUID": uuid, "state": state,
                                "createTime": bi.iso(created), "updateTime": bi.iso(created),
                                "storageConfigUUID": "cfg", "totalBackupSizeInBytes": 1024,
                                "responseList": [{"defaultLocation": "s3://b/" + uuid, **({"keyspace": k} if k else {})}
                                                 for k in (keyspaces or [None])]},
           "universeUUID": universe, "universeName": universe[2:], "backupType": "PGSQL_TABLE_TYPE",
           "category": "YB_CONTROLLER", "hasIncrementalBackups": incs,
           "scheduleUUID": schedule or bi.NIL_UUID}
    if expiry == "default":
        out["expiryTime"] = bi.iso(NOW - H if expired else NOW + 24 * H)
    elif expiry is not None:
        out["expiryTime"] = expiry
    return out


def params(**kw):
    p = dict(min_redundancy=1, keep_days=0, keep_last=0, policy_by="universe", pinned=[], gc_interval=900)
    p.update(kw)
    return p


def planner(backups, chains=None, dangling=(), unverifiable=(), **kw):
    chains = chains or {}
    looked = []

    def chain_of(uuid):
        looked.append(uuid)
        return chains.get(uuid, [{"backupUUID": uuid, "state": "Completed"}])

    def verify(backup, increments):
        uuid = backup["commonBackupInfo"]["backupUUID"]
        if uuid in dangling:
            return {"verified": False, "error_class": "missing", "problem": "no object under s3://b/" + uuid}
        if uuid in unverifiable:
            return {"verified": False, "error_class": "network", "problem": "connect refused"}
        return {"verified": True}

    pl = rt.Planner(backups, NOW, params(**kw), chain_of, verify, configs={"cfg"})
    plan = pl.plan()
    plan["looked"] = looked
    plan["by"] = {i["backup_uuid"]: i for i in plan["items"]}
    return plan


def test_the_floor_holds_when_every_backup_of_a_universe_is_expired():
    plan = planner([resp("b%d" % k, 6 * k) for k in range(1, 6)])
    assert [i["backup_uuid"] for i in plan["items"] if i["action"] == "delete"] == ["b5", "b4", "b3", "b2"]
    kept = plan["by"]["b1"]
    assert kept["action"] == "keep" and kept["why"] == ("floor: newest verified chain 1 of 1 of orders ysql "
                                                        "(min_redundancy 1)")
    assert plan["floors"][0]["kept"] == ["b1"] and plan["floors"][0]["met"] is True


def test_min_redundancy_two_keeps_two_and_zero_keeps_none():
    backups = [resp("b%d" % k, 6 * k) for k in range(1, 4)]
    assert [i["action"] for i in planner(backups, min_redundancy=2)["items"]] == ["delete", "keep", "keep"]
    assert [i["action"] for i in planner(backups, min_redundancy=0)["items"]] == ["delete"] * 3


def test_dangling_chains_do_not_count_toward_the_floor():
    plan = planner([resp("b%d" % k, 6 * k) for k in range(1, 4)], dangling={"b1", "b2"})
    assert plan["floors"][0]["kept"] == ["b3"]
    assert [n["backup_uuid"] for n in plan["floors"][0]["not_counted"]] == ["b1", "b2"]
    assert plan["floors"][0]["not_counted"][0]["why"] == "dangling: no object under s3://b/b1"
    assert plan["by"]["b3"]["action"] == "keep" and plan["by"]["b1"]["action"] == "delete"


def test_no_verified_chain_at_all_says_the_floor_is_not_met_and_unverifiable_keeps_everything():
    plan = planner([resp("b1", 6), resp("b2", 12)], dangling={"b1", "b2"})
    assert plan["floors"][0]["met"] is False and [i["action"] for i in plan["items"]] == ["delete", "delete"]
    assert rt.record(plan["items"], plan["floors"], True, 3, True)["floor_short"] == ["orders/ysql"]
    plan = planner([resp("b1", 6), resp("b2", 12)], unverifiable={"b1"})
    assert [i["action"] for i in plan["items"]] == ["keep", "keep"]
    assert plan["by"]["b2"]["why"] == "floor unknown for orders ysql: cannot verify b1 in the bucket: connect refused"


def test_a_failed_increment_leaves_its_chain_counted_and_only_an_in_progress_one_disqualifies():
    chains = {"b1": [{"backupUUID": "i1", "state": "Failed"}, {"backupUUID": "b1", "state": "Completed"}],
              "b2": [{"backupUUID": "i2", "state": "InProgress"}, {"backupUUID": "b2", "state": "Completed"}]}
    verified = []
    plan = planner([resp("b1", 6, incs=True), resp("b2", 12, incs=True), resp("b3", 18)], chains=chains)
    assert plan["floors"][0]["kept"] == ["b1"] and plan["floors"][0]["not_counted"] == []
    assert plan["by"]["b3"]["action"] == "delete"
    plan = planner([resp("b2", 12, incs=True), resp("b3", 18)], chains=chains)
    assert plan["floors"][0]["not_counted"][0]["why"] == "increment i2 is InProgress"
    assert plan["floors"][0]["kept"] == ["b3"]
    # the failed increment is not verified (its objects may be partial): the full restores without it
    pl = rt.Planner([resp("b1", 6, incs=True)], NOW, params(), lambda u: chains[u],
                    lambda b, incs: verified.append([c["backupUUID"] for c in incs]) or {"verified": True})
    assert pl.plan()["floors"][0]["kept"] == ["b1"] and verified == [[]]


def test_below_the_floor_only_dangling_candidates_are_deleted():
    chains = {"b3": [{"backupUUID": "i3", "state": "InProgress"}, {"backupUUID": "b3", "state": "Completed"}]}
    plan = planner([resp("b1", 6), resp("b2", 12, state="Failed"), resp("b3", 18, incs=True), resp("b4", 24)],
                   chains=chains, dangling={"b1", "b4"})
    floor = plan["floors"][0]
    assert floor["met"] is False and floor["dangling"] == ["b1", "b4"]
    assert {u: i["action"] for u, i in plan["by"].items()} == {"b1": "delete", "b2": "keep", "b3": "keep",
                                                               "b4": "delete"}
    assert plan["by"]["b2"]["why"] == ("floor not met: only 0 of 1 verified chains of orders ysql; retention refuses "
                                       "to delete below the floor (only chains found dangling in the bucket are "
                                       "deleted)")


def test_the_plan_shows_the_chain_and_an_in_progress_increment_keeps_it():
    chains = {"b2": [{"backupUUID": "i2", "state": "Completed", "totalBackupSizeInBytes": 100},
                     {"backupUUID": "b2", "state": "Completed"}],
              "b3": [{"backupUUID": "i3", "state": "InProgress"}, {"backupUUID": "b3", "state": "Completed"}]}
    plan = planner([resp("b1", 6), resp("b2", 12, incs=True), resp("b3", 18, incs=True), resp("b4", 24)],
                   chains=chains)
    b2 = plan["by"]["b2"]
    assert b2["action"] == "delete" and b2["increments"] == ["i2"] and b2["size_bytes"] == 1124
    assert plan["by"]["b3"]["action"] == "keep"
    assert plan["by"]["b3"]["why"] == "increment i3 is InProgress: YBA refuses to delete the chain"
    # hasIncrementalBackups false (YBA computes it from the chain): not looked up
    assert sorted(plan["looked"]) == ["b2", "b3"]


def test_a_universe_backed_up_per_keyspace_keeps_a_chain_of_each_keyspace():
    backups = [resp("a1", 6, keyspaces=["orders"]), resp("a2", 12, keyspaces=["orders"]),
               resp("c1", 18, keyspaces=["customers"]), resp("c2", 24, keyspaces=["customers"]),
               resp("both", 30, keyspaces=["orders", "customers"])]
    plan = planner(backups)
    assert {u: i["action"] for u, i in plan["by"].items()} == {"a1": "keep", "a2": "delete", "c1": "keep",
                                                               "c2": "delete", "both": "keep"}
    assert sorted(f["keyspaces"] for f in plan["floors"]) == [["customers"], ["customers", "orders"], ["orders"]]
    assert plan["by"]["c1"]["why"] == "floor: newest verified chain 1 of 1 of orders ysql [customers] (min_redundancy 1)"
    short = planner(backups[:2], dangling={"a1", "a2"})
    assert rt.record(short["items"], short["floors"], True, 1, True)["floor_short"] == ["orders/ysql [orders]"]


def test_a_schedules_newest_three_completed_and_a_paused_universe_are_what_yba_keeps():
    backups = [resp("s%d" % k, 6 * k, schedule="sch") for k in range(1, 6)] + [
        resp("f1", 40, schedule="sch", state="Failed"), resp("ftd", 50, schedule="sch", state="FailedToDelete")]
    plan = planner(backups)
    # s1..s3 are YBA's minNumBackupsToRetain (3 by default): not candidates; Failed and FailedToDelete stay
    assert sorted(plan["by"]) == ["f1", "ftd", "s4", "s5"]
    pl = rt.Planner(backups, NOW, params(), lambda u: [{"backupUUID": u, "state": "Completed"}], None,
                    min_retain={"sch": 1}, paused={U})
    by = {i["backup_uuid"]: i for i in pl.plan()["items"]}
    assert sorted(by) == ["f1", "ftd", "s2", "s3", "s4", "s5"]
    assert by["s2"]["action"] == "keep" and by["s2"]["why"].startswith("universe orders is paused: ")
    assert (by["ftd"]["action"], by["ftd"]["reason"]) == ("delete", "failed_to_delete")


def test_pinned_stuck_failed_to_delete_and_not_candidates():
    backups = [resp("new", 1, expired=False), resp("b1", 6, expired=False), resp("pin", 12),
               resp("never", 18, expiry=None, state="FailedToDelete"), resp("ftd", 24, expired=False,
                                                                            state="FailedToDelete"),
               resp("q-old", 48, state="QueuedForDeletion"), resp("q-new", 0.1, state="QueuedForDeletion"),
               resp("run", 0.2, state="InProgress", expired=False)]
    plan = planner(backups, pinned=["pin"])
    by = plan["by"]
    assert sorted(by) == ["ftd", "never", "pin", "q-old"]
    assert (by["pin"]["action"], by["pin"]["why"]) == ("keep", "pinned (named in pinned)")
    # a FailedToDelete backup was a requested deletion: expiry null does not pin it, only pinned does
    assert (by["never"]["action"], by["never"]["reason"]) == ("delete", "failed_to_delete")
    assert planner(backups, pinned=["never"])["by"]["never"]["why"] == "pinned (named in pinned)"
    forever = planner([resp("new", 1, expired=False), resp("keep", 6, expiry=None)], keep_last=1)["by"]["keep"]
    assert (forever["action"], forever["why"]) == ("keep", "pinned (never expires)")
    assert (by["ftd"]["action"], by["ftd"]["reason"]) == ("delete", "failed_to_delete")
    assert by["q-old"]["action"] == "report" and by["q-old"]["why"].startswith("QueuedForDeletion since ")
    assert plan["floors"][0]["kept"] == ["new"]


def test_policy_keep_last_per_universe_and_keep_days():
    backups = [resp("b%d" % k, 24 * k, expired=False) for k in range(1, 6)]
    plan = planner(backups, keep_last=2)
    assert [(i["backup_uuid"], i["reason"]) for i in plan["items"]] == [("b5", "policy"), ("b4", "policy"),
                                                                        ("b3", "policy")]
    plan = planner(backups, keep_days=3.5)
    assert sorted(plan["by"]) == ["b4", "b5"]
    # everything past the policy: the floor still keeps the newest verified chain
    plan = planner(backups, keep_days=0.001)
    assert plan["by"]["b1"]["action"] == "keep" and plan["by"]["b1"]["why"].startswith("floor: ")


def test_a_gone_storage_config_and_a_backup_deleted_meanwhile():
    plan = planner([resp("b1", 6), resp("b2", 12)])
    assert plan["by"]["b2"]["action"] == "delete"
    orphan = resp("b3", 18)
    orphan["commonBackupInfo"]["storageConfigUUID"] = "gone-cfg"
    plan = planner([resp("b1", 6), orphan])
    assert plan["by"]["b3"]["action"] == "keep" and "its storage config gone-cfg is gone" in plan["by"]["b3"]["why"]
    plan = planner([resp("b1", 6), resp("b2", 12, incs=True)], chains={"b2": None})
    assert (plan["by"]["b2"]["action"], plan["by"]["b2"]["result"]) == ("gone", "gone")


# ---------------------------------------------------------------------------------------------- the deleter

class FakeClient:
    """POST backups/delete queues (YBA drops unknown uuids), the next page read after that shows them queued,
    and gc_after page reads later they are gone; every call is recorded."""

    def __init__(self, backups, fail=(), gc_after=1):
        self.state = {b: "Completed" for b in backups}
        self.fail = set(fail)
        self.gc_after = gc_after
        self.calls = []
        self.sleeps = []
        self.t = 0.0
        self.queued_at = {}
        self.hide_deleted = None

    def _sleep(self, s):
        self.sleeps.append(s)
        self.t += s

    def _clock(self):
        return self.t

    def cpath(self, suffix):
        return "/c/" + suffix

    def post(self, path, body, idempotent=None):
        self.calls.append(("POST", path, len(body["deleteBackupInfos"])))
        out = []
        for info in body["deleteBackupInfos"]:
            b = info["backupUUID"]
            if b not in self.state:
                continue
            out.append({"taskUUID": "t-" + b, "resourceUUID": b})
            if b in self.fail:
                self.state[b] = "FailedToDelete"
            else:
                self.state[b] = "QueuedForDeletion"
                self.queued_at[b] = len(self.calls)
        return {"taskUUID": [x["taskUUID"] for x in out], "ybpTaskList": out}

    def paged(self, path, query, limit):
        self.calls.append(("PAGE", path, query["filter"]["universeUUIDList"]))
        if self.hide_deleted is not None and not query["filter"]["onlyShowDeletedUniverses"]:
            return  # a YBA version that lists a deleted universe's backups only with onlyShowDeletedUniverses
            yield
        for b, at in list(self.queued_at.items()):
            if len(self.calls) - at > self.gc_after and self.state.get(b) == "QueuedForDeletion":
                del self.state[b]
        for b, s in self.state.items():
            yield {"commonBackupInfo": {"backupUUID": b, "baseBackupUUID": b, "state": s}, "universeUUID": U}

    def get(self, path, idempotent=None):
        self.calls.append(("GET", path))
        if "/tasks/" in path:
            b = path.rsplit("/t-", 1)[1]
            return {"status": "Failure" if b in self.fail else "Success",
                    "details": {"taskDetails": [{"state": "Failure", "extraDetails": "S3 refused"}]}}
        b = path.rsplit("/", 1)[1]
        if b not in self.state:
            raise _api.YBAValidationError("Invalid customer or backup UUID", status=400)
        return {"state": self.state[b]}


def items(n):
    return [{"backup_uuid": "b%02d" % k, "universe_uuid": U, "created": bi.iso(NOW - k * H), "action": "delete",
             "state": "Completed"} for k in range(n)]


def dparams(**kw):
    p = dict(batch_size=10, batch_interval=7, task_timeout=60, wait=True, wait_timeout=100, poll_interval=3)
    p.update(kw)
    return p


def test_batches_never_exceed_the_batch_size_and_wait_the_interval_between_them():
    todo = items(25)
    fake = FakeClient([i["backup_uuid"] for i in todo])
    d = rt.Deleter(fake, dparams())
    d.run(todo)
    posts = [c for c in fake.calls if c[0] == "POST"]
    assert [c[2] for c in posts] == [10, 10, 5]
    assert fake.sleeps.count(7) == 2  # between the three batches, not before the first
    assert [b["batch"] for b in d.batches] == [1, 2, 3] and all(not b["dropped"] for b in d.batches)
    assert {i["result"] for i in todo} == {"deleted"} and not fake.state
    # one page read per look at a batch (one universe), not one GET per backup
    assert not [c for c in fake.calls if c[0] == "GET"]


def test_requested_vs_queued_is_diffed_and_a_backup_gone_meanwhile_is_done():
    todo = items(3)
    fake = FakeClient(["b00", "b01"])  # b02 was deleted by YBA's GC between the plan and the delete
    d = rt.Deleter(fake, dparams())
    d.run(todo)
    assert d.batches[0]["dropped"] == ["b02"] and d.batches[0]["queued"] == ["b00", "b01"]
    assert (todo[2]["result"], todo[2]["detail"]) == ("gone", "already deleted (YBA's GC was first)")
    assert rt.failed_items(todo) == []


def test_a_batch_that_cannot_be_queued_stops_the_run_with_the_tasks_error():
    todo = items(25)
    fake = FakeClient([i["backup_uuid"] for i in todo], fail={"b13"})
    d = rt.Deleter(fake, dparams())
    d.run(todo)
    assert len([c for c in fake.calls if c[0] == "POST"]) == 2
    assert todo[13]["result"] == "failed_to_queue"
    assert todo[13]["detail"] == "YBA could not queue it (task t-b13 Failure: S3 refused); it is FailedToDelete"
    assert {i["result"] for i in todo[20:]} == {"not_requested"}
    assert todo[20]["detail"].startswith("stopped after batch 2: 1 backup(s) could not be queued (first: b13 YBA")


def test_a_deleted_universes_backups_are_also_read_with_only_show_deleted_universes():
    fake = FakeClient(["b00"], gc_after=5)
    fake.hide_deleted = True
    todo = items(1)
    rt.Deleter(fake, dparams(wait=False), deleted_universes={U}).run(todo)
    assert todo[0]["result"] == "queued"  # not taken for deleted although the first page hides it
    fake = FakeClient(["b00"], gc_after=5)
    fake.hide_deleted = True
    todo = items(1)
    rt.Deleter(fake, dparams(wait=False)).run(todo)
    assert todo[0]["result"] == "deleted"  # what the old read concluded


@pytest.mark.parametrize("err,gone", [
    (_api.YBAValidationError("Invalid customer: c or backup: b", status=400), True),  # Backup.getOrBadRequest
    (_api.YBANotFound("not found", status=404), True),
    (_api.YBAValidationError("Invalid customer UUID: c", status=400), False),  # a bad customer, not a gone backup
    (_api.YBAValidationError("Cannot delete backup in state InProgress", status=400), False),
    (_api.YBAError("Invalid customer: c or backup: b", status=500), False)])
def test_is_gone_is_the_one_backup_gone_check(err, gone):
    assert rt.is_gone(err) is gone


def test_wait_timeout_says_still_queued():
    todo = items(2)
    fake = FakeClient([i["backup_uuid"] for i in todo], gc_after=10 ** 6)
    d = rt.Deleter(fake, dparams(wait_timeout=9))
    d.run(todo)
    assert {i["result"] for i in todo} == {"timeout"}
    assert todo[0]["detail"].startswith("still queued after 9 s: YBA's GC deletes queued backups once per GC")
    assert sum(s for s in fake.sleeps if s >= 1) <= 9 + 2


def test_the_floor_walk_is_bounded_and_keeps_what_it_did_not_examine():
    backups = [resp("b%03d" % k, 6 * k) for k in range(1, 81)]
    plan = planner(backups, dangling={"b%03d" % k for k in range(1, 81)})
    floor = plan["floors"][0]
    assert (floor["examined"], floor["met"], floor["kept"]) == (rt.FLOOR_WALK_MIN, False, [])
    assert [plan["by"]["b%03d" % k]["action"] for k in (1, 50, 51, 80)] == ["delete", "delete", "keep", "keep"]
    assert plan["by"]["b051"]["why"] == ("floor: only 0 of 1 verified chains of orders ysql among the newest 50 "
                                         "examined; older ones are kept unexamined")
    # the walk stops at the oldest candidate: nothing older matters
    plan = planner([resp("b1", 6, expired=False), resp("b2", 12), resp("b3", 18, expired=False)], dangling={"b1"})
    assert plan["floors"][0]["examined"] == 2 and plan["floors"][0]["kept"] == ["b2"]  # b3 not examined


@pytest.mark.parametrize("n,expect", [(0, "0 B"), (1536, "1.5 KiB"), (30449052440, "28.4 GiB")])
def test_human_size(n, expect):
    assert rt.human_size(n) == expect
