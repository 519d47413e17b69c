"""The incident's retention and reconciliation seeds (issue 12): every entry of lab.json ``seeded`` checked against
the real metadata DB (psql) and the real bucket (boto3 against moto) right after ``ybalab reset incident``."""
from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any, Iterator

import pytest

from labtest import load, own_lab, ybalab  # noqa: E402  (puts the lab on sys.path)

from ybalab import services  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")

SEEDED_KEYS = {"lifecycle_days", "expired", "failed_to_delete", "dangling", "orphans", "not_orphans", "chain",
               "expired_chain"}
# the incident's backup index is corrupt: read without any index (and no merge join, which reads an index's ends)
NO_INDEX = ("SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; "
            "SET enable_mergejoin = off;\n")
TS = re.compile(r"/(?:full|incremental)/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)/")


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    with own_lab("yba-lab-seeds-", "incident", reuse=True) as (d, _own):
        yield d


@pytest.fixture(scope="module")
def lab(labdir: str) -> dict[str, Any]:
    """The lab right after a reset to the incident: its state, the bucket's keys, the DB's backup rows."""
    ybalab(labdir, "reset", "incident")
    state = load(labdir)
    s3 = services.s3_client(state)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=state["s3"]["bucket"])
            for o in page.get("Contents", [])]
    rows = rows_of(state, """
SELECT json_build_object('uuid', backup_uuid, 'base', base_backup_uuid, 'state', state, 'universe', universe_name,
    'universe_uuid', universe_uuid, 'schedule', schedule_uuid, 'kms', has_kms_history,
    'created', extract(epoch FROM create_time), 'expiry', extract(epoch FROM expiry),
    'expired', expiry < now(), 'info', backup_info::json) FROM backup""")
    return {"state": state, "seeded": state["seeded"], "keys": keys, "rows": {r["uuid"]: r for r in rows},
            "now": float(query(state, "SELECT extract(epoch FROM now())")[0])}


def query(state: dict[str, Any], sql: str) -> list[str]:
    return [ln for ln in services.psql(state, NO_INDEX + sql + ";", tuples=True).stdout.splitlines() if ln]


def rows_of(state: dict[str, Any], sql: str) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in query(state, sql)]


def key_of(state: dict[str, Any], location: str) -> str:
    return location.split(f"s3://{state['s3']['bucket']}/", 1)[1]


def locations(row: dict[str, Any]) -> list[str]:
    return [sub["storageLocation"] for sub in row["info"]["backupList"]]


def objects_under(lab: dict[str, Any], prefix: str) -> list[str]:
    return [k for k in lab["keys"] if k.startswith(prefix.rstrip("/") + "/")]


def newest_completed(lab: dict[str, Any], universe: str | None = None) -> float:
    return max(r["created"] for r in lab["rows"].values()
               if r["state"] == "Completed" and universe in (None, r["universe"]))


def test_seeded_has_the_agreed_keys(lab: dict[str, Any]) -> None:
    seeded = lab["seeded"]
    assert set(seeded) == SEEDED_KEYS
    assert seeded["lifecycle_days"] == 4
    assert seeded["chain"]["universe"] != seeded["expired_chain"]["universe"]


def test_expired_and_failed_to_delete_are_the_db_counts(lab: dict[str, Any]) -> None:
    seeded, rows = lab["seeded"], lab["rows"].values()
    expired = [r for r in rows if r["expired"]]
    assert seeded["expired"] == len(expired) and 650 <= seeded["expired"] <= 800
    ftd = [r for r in rows if r["state"] == "FailedToDelete"]
    assert seeded["failed_to_delete"] == len(ftd) and all(r["expired"] for r in ftd)
    by_state = {st: sum(r["state"] == st for r in expired) for st in {r["state"] for r in expired}}
    assert by_state["Completed"] > by_state["FailedToDelete"] > 0, by_state  # a mix
    # the GC takes the oldest first: every FailedToDelete backup is older than every expired Completed full
    fulls = [r for r in expired if r["state"] == "Completed" and r["uuid"] == r["base"]]
    assert max(r["created"] for r in ftd) < min(r["created"] for r in fulls)
    # the canary failed before any task: no DeleteBackupYb task for them
    assert query(lab["state"], "SELECT count(*) FROM task_info WHERE task_type = 'DeleteBackupYb'") == ["0"]


def _check_chain(lab: dict[str, Any], chain: dict[str, Any]) -> list[dict[str, Any]]:
    rows = lab["rows"]
    base = rows[chain["base"]]
    incs = [rows[b] for b in chain["increments"]]
    assert len(incs) >= 2
    tbd = base["info"]["timeBeforeDelete"] / 1000
    assert base["base"] == base["uuid"] and base["schedule"] is not None
    for r in [base] + incs:
        assert r["universe"] == chain["universe"] and r["state"] == "Completed"
        assert r["base"] == chain["base"] and r["info"]["baseBackupUUID"] == chain["base"]
        assert r["info"]["backupUuid"] == r["uuid"]
        assert all(sub["baseBackupUUID"] == chain["base"] and sub["backupUuid"] == r["uuid"]
                   for sub in r["info"]["backupList"])
    folder = f"/univ-{base['universe_uuid']}/ybc_backup-{chain['base'].replace('-', '')}/"
    assert all(folder + "full/" in loc for loc in locations(base))
    created = [base["created"]]
    for r in incs:
        assert r["schedule"] is None  # manual increments on a scheduled full
        assert all(folder + "incremental/" in loc for loc in locations(r))
        # Backup.populateChildParams: the keyspace keeps the base's backupParamsIdentifier
        assert [s["backupParamsIdentifier"] for s in r["info"]["backupList"]] == \
            [s["backupParamsIdentifier"] for s in base["info"]["backupList"]]
        created.append(r["created"])
    assert created == sorted(created) and len(set(created)) == len(created)
    # Backup.onIncrementCompletion: the full expires with the chain, its fullChainSizeInBytes is the chain's sum
    assert base["expiry"] >= created[-1] + tbd - 1
    assert base["info"]["fullChainSizeInBytes"] == sum(r["info"]["backupSizeInBytes"] for r in [base] + incs) > 0
    return [base] + incs


def test_recent_chain_has_its_objects(lab: dict[str, Any]) -> None:
    chain = _check_chain(lab, lab["seeded"]["chain"])
    window = newest_completed(lab) - lab["seeded"]["lifecycle_days"] * 86400
    for r in chain:
        assert not r["expired"] and window < r["created"] < newest_completed(lab, r["universe"])
        for loc in locations(r):
            got = objects_under(lab, key_of(lab["state"], loc))
            assert key_of(lab["state"], loc) + "/success" in got and len(got) >= 2, (loc, got)


def test_expired_chain_is_expired_and_its_objects_are_gone(lab: dict[str, Any]) -> None:
    chain = _check_chain(lab, lab["seeded"]["expired_chain"])
    for r in chain:
        assert r["expired"]
        assert all(objects_under(lab, key_of(lab["state"], loc)) == [] for loc in locations(r))


def test_dangling_is_recent_completed_without_objects(lab: dict[str, Any]) -> None:
    seeded = lab["seeded"]
    assert len(seeded["dangling"]) == 1
    in_chains = {seeded[c]["base"] for c in ("chain", "expired_chain")} | {
        b for c in ("chain", "expired_chain") for b in seeded[c]["increments"]}
    window = newest_completed(lab) - seeded["lifecycle_days"] * 86400
    for b in seeded["dangling"]:
        r = lab["rows"][b]
        assert r["state"] == "Completed" and not r["expired"] and r["base"] == b and b not in in_chains
        assert not any(x["base"] == b and x["uuid"] != b for x in lab["rows"].values())  # no increments
        assert window < r["created"] < newest_completed(lab, r["universe"])  # recent, not the newest
        folder = key_of(lab["state"], r["info"]["storageLocation"]).split("/full/", 1)[0]
        assert folder.endswith(f"/univ-{r['universe_uuid']}/ybc_backup-{b.replace('-', '')}")
        assert objects_under(lab, folder) == []
        assert all(objects_under(lab, key_of(lab["state"], loc)) == [] for loc in locations(r))


def test_orphans_have_objects_and_no_catalog_entry(lab: dict[str, Any]) -> None:
    seeded, state = lab["seeded"], lab["state"]
    universes = set(query(state, "SELECT universe_uuid::text FROM universe"))
    assert len(seeded["orphans"]) == 2
    in_catalog = []
    for prefix in seeded["orphans"]:
        m = re.fullmatch(r"[^/]+/univ-([0-9a-f-]{36})/ybc_backup-([0-9a-f]{32})/", prefix)
        assert m, prefix
        uni, folder = m.groups()
        in_catalog.append(uni in universes)
        got = objects_under(lab, prefix)
        assert any(k.endswith("/success") for k in got) and any(not k.endswith("/success") for k in got), got
        for k in got:  # the key's timestamp is older than a day
            ts = datetime.datetime.strptime(TS.search(k).group(1), "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            assert ts < lab["now"] - 86400, k
        # no catalog row of any state names the folder, as its uuid or in a location
        assert not any(folder in (r["uuid"].replace("-", ""), r["base"].replace("-", ""))
                       or f"ybc_backup-{folder}/" in json.dumps(r["info"]) for r in lab["rows"].values())
    assert sorted(in_catalog) == [False, True]  # one under an existing universe, one under a deleted one


def test_not_orphans_sit_beside_a_catalogued_backup(lab: dict[str, Any]) -> None:
    seeded, state = lab["seeded"], lab["state"]
    # YBA's storage canary (AWSUtil.validateOnBucket) deletes its object again: only the KMS key history is listed
    assert len(seeded["not_orphans"]) == 1
    for key in seeded["not_orphans"]:
        assert key in lab["keys"] and key.endswith("/backup_keys.json")
        owners = [r for r in lab["rows"].values()
                  if any(key == key_of(state, loc).rsplit("/", 1)[0] + "/backup_keys.json" for loc in locations(r))]
        assert len(owners) == 1 and owners[0]["kms"] and owners[0]["state"] == "Completed", owners
        assert not owners[0]["expired"]
        body = services.s3_client(state).get_object(Bucket=state["s3"]["bucket"], Key=key)["Body"].read()
        assert json.loads(body)["universe_keys"]


def test_the_bucket_holds_nothing_else(lab: dict[str, Any]) -> None:
    """Every object is a recent Completed backup's (not the dangling one's), an orphan's, or a not-orphan; every
    recent Completed backup but the dangling one has its success marker."""
    seeded, state = lab["seeded"], lab["state"]
    window = newest_completed(lab) - seeded["lifecycle_days"] * 86400
    recent = [key_of(state, loc) + "/" for r in lab["rows"].values()
              if r["state"] == "Completed" and r["created"] > window and r["uuid"] not in seeded["dangling"]
              for loc in locations(r)]
    assert len(recent) >= 4 * 4 * seeded["lifecycle_days"] - 8
    allowed = tuple(recent + seeded["orphans"])
    stray = [k for k in lab["keys"] if not k.startswith(allowed) and k not in seeded["not_orphans"]]
    assert stray == []
    assert all(p + "success" in lab["keys"] for p in recent)
    # older backups have no objects: the bucket's lifecycle rule removed them
    old = [r for r in lab["rows"].values() if r["created"] <= window]
    assert old and not any(objects_under(lab, key_of(state, loc)) for r in old for loc in locations(r))


def test_the_issue_11_picture_stays(lab: dict[str, Any]) -> None:
    """Row count and the newest backup of each universe as the issue-11 tests and the heap model expect them."""
    assert len(lab["rows"]) == 5022
    for uni in lab["state"]["platform"]["universes"]:
        age_h = (lab["now"] - newest_completed(lab, uni)) / 3600
        assert 73 <= age_h < 74, (uni, age_h)
