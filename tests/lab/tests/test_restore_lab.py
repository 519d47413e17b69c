"""Restores in a live lab as issue 12's drill needs them (controllers/RestoreBackupController.java, BackupsController
restore, helpers/BackupHelper.createRestoreTask / validateRestoreOverwrites / restorePreflight, TablesController
.listTables): the restore task reads the backup's objects from the bucket and creates the keyspace as a real database
of the lab's PostgreSQL (in a tablespace off the YBA host's volume), listed by GET universes/{u}/tables until it is
dropped over SQL; YBA's refusal to overwrite a keyspace; a dangling backup fails the task for real."""
from __future__ import annotations

import os
import time
from typing import Any, Iterator

import pytest

from labtest import load, own_lab, ybalab  # noqa: E402  (puts the lab on sys.path)

from ybalab import hostns, services  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402
from ybalab.platform import tasks as ptasks  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")

C = "/api/v1/customers/{c}"
PAGE = {"sortBy": "createTime", "direction": "DESC", "offset": 0, "limit": 10, "needTotalCount": True}


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, Any]]:
    with own_lab("yba-lab-rst-", "incident", reuse=True) as (d, _own):
        ybalab(d, "storage", "healthy")
        state = load(d)
        yield {"dir": d, "state": state, "api": pclient.Client(state)}


def pg_sql(state: dict[str, Any], db: str, query: str) -> list[tuple[Any, ...]]:
    import psycopg

    pg = state["postgres"]
    with psycopg.connect(host="127.0.0.1", port=pg["port"], user="postgres", dbname=db, autocommit=True) as c:
        cur = c.execute(query)
        return cur.fetchall() if cur.description else []


def newest_backups(api: pclient.Client, universe: str, n: int = 2) -> list[dict[str, Any]]:
    status, page = api.call("POST", C + "/backups/page", dict(PAGE, limit=n, filter={
        "states": ["Completed"], "universeUUIDList": [universe]}))
    assert status == 200, page
    out = []
    for e in page["entities"]:
        status, full = api.call("GET", C + "/backups/" + e["commonBackupInfo"]["backupUUID"])
        assert status == 200, full
        out.append(full)
    return out


def restore_body(full: dict[str, Any], universe: str, keyspace: str) -> dict[str, Any]:
    return {"universeUUID": universe, "storageConfigUUID": full["storageConfigUUID"], "category": full["category"],
            "backupStorageInfoList": [{"backupType": "PGSQL_TABLE_TYPE", "keyspace": keyspace, "sse": False,
                                       "storageLocation": full["backupInfo"]["backupList"][0]["storageLocation"]}]}


def keyspaces(api: pclient.Client, universe: str) -> set[str]:
    status, tables = api.call("GET", f"{C}/universes/{universe}/tables")
    assert status == 200, tables
    return {t["keySpace"] for t in tables}


def restores(api: pclient.Client, universe: str) -> list[dict[str, Any]]:
    status, page = api.call("POST", C + "/restore/page", dict(PAGE, filter={"universeUUIDList": [universe]}))
    assert status == 200, page
    return page["entities"]


def test_restore_into_a_scratch_keyspace_then_dropped_over_sql(lab: dict[str, Any]) -> None:
    api, state = lab["api"], lab["state"]
    uni = sorted(state["platform"]["universes"].values())[0]
    full = newest_backups(api, uni, 1)[0]
    scratch = f"drill_lab_{int(time.time())}"
    loc = full["backupInfo"]["backupList"][0]["storageLocation"]

    status, pre = api.call("POST", C + "/restore/preflight", {"backupLocations": [loc], "universeUUID": uni,
                                                              "storageConfigUUID": full["storageConfigUUID"],
                                                              "backupUUID": full["backupUUID"]})
    assert status == 200 and pre["backupCategory"] == "YB_CONTROLLER" and pre["hasKMSHistory"] is False
    assert pre["perLocationBackupInfoMap"][loc]["isYSQLBackup"] is True
    assert pre["perLocationBackupInfoMap"][loc]["perBackupLocationKeyspaceTables"]["originalKeyspace"] == "yugabyte"
    # without the backup UUID the category comes from the success markers in the bucket
    status, pre = api.call("POST", C + "/restore/preflight", {"backupLocations": [loc], "universeUUID": uni,
                                                              "storageConfigUUID": full["storageConfigUUID"]})
    assert status == 200 and pre["backupCategory"] == "YB_CONTROLLER"

    before = len(restores(api, uni))
    status, task = api.call("POST", C + "/restore", restore_body(full, uni, scratch))
    assert status == 200 and task["resourceUUID"] == uni
    done = api.wait_task(task["taskUUID"])
    assert done["status"] == "Success" and done["type"] == "Restore" and done["title"].startswith("Restored Universe")
    ent = restores(api, uni)
    assert len(ent) == before + 1 and ent[0]["state"] == "Completed" and ent[0]["restoreSizeInBytes"] > 0
    assert ent[0]["restoreKeyspaceList"][0]["targetKeyspace"] == scratch
    assert ent[0]["restoreKeyspaceList"][0]["sourceKeyspace"] == "yugabyte"
    assert ent[0]["sourceUniverseUUID"] == uni

    # listed by the API, a real database with the backup's tables and rows, off the host volume
    status, tables = api.call("GET", f"{C}/universes/{uni}/tables")
    mine = {t["tableName"]: t for t in tables if t["keySpace"] == scratch}
    assert sorted(mine) == sorted(n for n, _r in ptasks.LAB_YSQL_TABLES["yugabyte"])
    assert all(t["tableType"] == "PGSQL_TABLE_TYPE" and t["sizeBytes"] > 0 for t in mine.values())
    counts = {n: pg_sql(state, scratch, f"SELECT count(*) FROM {n}")[0][0] for n in mine}
    assert counts == dict(ptasks.LAB_YSQL_TABLES["yugabyte"])
    assert pg_sql(state, "postgres", f"SELECT t.spcname FROM pg_database d JOIN pg_tablespace t "
                                     f"ON t.oid = d.dattablespace WHERE d.datname = '{scratch}'") == [
        (ptasks.UNIVERSE_TABLESPACE,)]

    # YBA refuses to restore over it (validateRestoreOverwrites), before any task
    status, err = api.call("POST", C + "/restore", restore_body(full, uni, scratch))
    assert status == 400 and err["error"] == f"Keyspace {scratch} already exists, overwriting data is not allowed"
    status, err = api.call("POST", C + "/restore", restore_body(full, uni, "yugabyte"))
    assert status == 400 and err["error"] == "Keyspace yugabyte already exists, overwriting data is not allowed"
    assert len(restores(api, uni)) == before + 1

    # dropped over a real SQL connection from the YBA host (its psql): gone from the listing
    hostns.run(state, ["psql", "-X", "-h", "127.0.0.1", "-p", str(state["postgres"]["port"]), "-U", "postgres",
                       "-d", "postgres", "-c", f"DROP DATABASE {scratch}"], timeout=30)
    assert scratch not in keyspaces(api, uni)
    assert "yugabyte" in keyspaces(api, uni)


def test_dangling_backup_fails_the_restore_task(lab: dict[str, Any]) -> None:
    api, state = lab["api"], lab["state"]
    # the incident's seeded dangling backup (lab.json seeded.dangling: a recent Completed backup without objects)
    dangling = (state.get("seeded") or {}).get("dangling") or []
    assert dangling, "the incident seeds a dangling backup"
    status, full = api.call("GET", C + "/backups/" + dangling[0])
    assert status == 200 and full["state"] == "Completed", full
    uni = full["universeUUID"]
    loc = full["backupInfo"]["backupList"][0]["storageLocation"]
    bucket, key = loc[len("s3://"):].split("/", 1)
    assert services.s3_client(state).list_objects_v2(Bucket=bucket, Prefix=key + "/").get("KeyCount", 0) == 0
    scratch = f"drill_dangling_{int(time.time())}"

    # the preflight only checks that the location is listable (it is: empty), as BackupHelper.restorePreflight
    status, pre = api.call("POST", C + "/restore/preflight", {"backupLocations": [loc], "universeUUID": uni,
                                                              "storageConfigUUID": full["storageConfigUUID"],
                                                              "backupUUID": full["backupUUID"]})
    assert status == 200, pre
    status, task = api.call("POST", C + "/restore", restore_body(full, uni, scratch))
    assert status == 200, task
    done = api.wait_task(task["taskUUID"])
    assert done["status"] == "Failure"
    status, failed = api.call("GET", f"{C}/tasks/{task['taskUUID']}/failed_subtasks")
    assert [(s["subTaskType"], s["errorString"]) for s in failed["failedSubTasks"]] == [
        ("RestoreBackupYbc", "Got empty success marker response, exiting.")]
    ent = restores(api, uni)[0]
    assert ent["state"] == "Failed" and ent["restoreKeyspaceList"][0]["state"] == "Failed"
    assert scratch not in keyspaces(api, uni)
    assert pg_sql(state, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{scratch}'") == []

    # a script-category restore of a YBC backup looks for SnapshotInfoPB, which YBC never writes
    good = next(b for b in newest_backups(api, uni, 3) if b["backupUUID"] != dangling[0])
    status, task = api.call("POST", C + "/restore", dict(restore_body(good, uni, scratch), category=None))
    assert status == 200
    assert api.wait_task(task["taskUUID"])["status"] == "Failure"
    status, failed = api.call("GET", f"{C}/tasks/{task['taskUUID']}/failed_subtasks")
    assert "SnapshotInfoPB" in failed["failedSubTasks"][0]["errorString"]


def test_restore_request_checks(lab: dict[str, Any]) -> None:
    api, state = lab["api"], lab["state"]
    uni = sorted(state["platform"]["universes"].values())[0]
    full = newest_backups(api, uni, 1)[0]
    body = restore_body(full, uni, "drill_checks")
    status, err = api.call("POST", C + "/restore", dict(body, backupStorageInfoList=[]))
    assert status == 400 and err["error"] == "Backup information not provided"
    bad_owner = dict(body, backupStorageInfoList=[dict(body["backupStorageInfoList"][0], newOwner="1bad")])
    status, err = api.call("POST", C + "/restore", bad_owner)
    assert status == 400 and err["error"] == "Invalid owner rename during restore operation"
    status, err = api.call("POST", C + "/restore/preflight", {"universeUUID": uni})
    assert status == 400 and set(err["error"]) == {"backupLocations", "storageConfigUUID"}
    status, err = api.call("POST", C + "/restore/page", dict(PAGE, filter={"states": ["Done"]}))
    assert status == 400
