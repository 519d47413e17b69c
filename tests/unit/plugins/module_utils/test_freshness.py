# Unit tests of _freshness: which backups a universe needs, its RPO and its newest recovery point.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr

U = "11111111-0000-0000-0000-000000000001"
CFG = "cccccccc-0000-0000-0000-000000000001"
CFG2 = "cccccccc-0000-0000-0000-000000000002"


def universe(ysql=True, ycql=True, paused=False, take=True):
    return {"universeUUID": U, "name": "orders",
            "universeConfig": {"takeBackups": "true" if take else "false"},
            "universeDetails": {"universePaused": paused, "clusters": [
                {"clusterType": "PRIMARY", "userIntent": {"enableYSQL": ysql, "enableYCQL": ycql}}]}}


def schedule(name="every-6h", status="Active", freq=6 * 3600000, cron=None, btype="PGSQL_TABLE_TYPE", inc=0):
    s = {"scheduleName": name, "status": status, "taskType": "CreateBackup", "frequency": 0 if cron else freq,
         "cronExpression": cron, "incrementalBackupFrequency": inc,
         "backupInfo": {"universeUUID": U, "backupType": btype, "storageConfigUUID": CFG}}
    return s


def backup(done, state="Completed", btype="PGSQL_TABLE_TYPE", cfg=CFG, uuid="b1", **extra):
    b = {"universeUUID": U, "universeName": "orders", "backupType": btype,
         "commonBackupInfo": {"backupUUID": uuid, "state": state, "storageConfigUUID": cfg,
                              "createTime": done, "completionTime": done}}
    b.update(extra)
    return b


@pytest.mark.parametrize("expr, seconds", [("0 */6 * * *", 6 * 3600), ("30 1 * * *", 86400),
                                           ("0 2 * * 1-5", 3 * 86400), ("0 0 2 * * ?", 86400),
                                           ("15,45 * * * *", 1800), ("not cron", None),
                                           ("0 0 1 * *", 31 * 86400), ("0 3 * * MON-FRI", 3 * 86400),
                                           ("0 0 1 JAN,JUL *", 184 * 86400), ("0 0 2 ? * 2-6", 3 * 86400),
                                           ("0 0 L * ?", None)])
def test_cron_interval_is_the_longest_gap(expr, seconds):
    assert fr.cron_interval_seconds(expr) == seconds


def test_targets_follow_the_schedules_else_the_enabled_apis():
    assert fr.targets(universe(), [schedule(status="Paused")]) == ["PGSQL_TABLE_TYPE"]
    assert fr.targets(universe(), []) == ["PGSQL_TABLE_TYPE", "YQL_TABLE_TYPE"]
    assert fr.targets(universe(ysql=False), []) == ["YQL_TABLE_TYPE"]
    assert fr.targets(universe(ycql=False), [], ["ysql", "ycql"]) == ["PGSQL_TABLE_TYPE"]
    with pytest.raises(ValueError, match="unknown backup type 'redis'"):
        fr.targets(universe(), [], ["redis"])


def test_rpo_override_then_schedule_times_factor_then_default():
    u = universe()
    sched = [schedule(), schedule(name="daily", freq=86400000), schedule(name="old", status="Stopped", freq=3600000)]
    assert fr.rpo(u, "PGSQL_TABLE_TYPE", sched) == (6 * 3600 * 1.5, "schedule every-6h")
    assert fr.rpo(u, "PGSQL_TABLE_TYPE", sched, {"orders": 600}) == (600.0, "override")
    assert fr.rpo(u, "PGSQL_TABLE_TYPE", sched, {U: 60}, factor=2) == (60.0, "override")
    assert fr.rpo(u, "YQL_TABLE_TYPE", sched, default_seconds=7200) == (7200.0, "default")
    assert fr.rpo(u, "PGSQL_TABLE_TYPE", [schedule(cron="0 2 * * *")], factor=1) == (86400.0, "schedule every-6h")
    assert fr.rpo(u, "PGSQL_TABLE_TYPE", [schedule(inc=900000)], factor=2) == (1800.0, "schedule every-6h")


def test_universe_state_tells_why_no_backup_can_run():
    assert fr.universe_state(universe()) is None
    assert fr.universe_state(universe(paused=True)) == "paused"
    assert "takeBackups=false" in fr.universe_state(universe(take=False))


def test_latest_per_universe_type_and_config_counts_completed_and_increments():
    backups = [backup("2026-11-30T10:00:00Z", uuid="old"), backup("2026-11-30T12:00:00Z", uuid="new"),
               backup("2026-11-30T13:00:00Z", state="Failed", uuid="failed"),
               backup("2026-11-30T09:00:00Z", cfg=CFG2, uuid="copy"),
               backup("2026-11-30T08:00:00Z", btype="YQL_TABLE_TYPE", uuid="ycql",
                      lastIncrementalBackupTime="2026-11-30T14:00:00Z", lastBackupState="Completed")]
    found = fr.latest(backups)
    assert {k: v["commonBackupInfo"]["backupUUID"] for k, v in found.items()} == {
        (U, "PGSQL_TABLE_TYPE", CFG): "new", (U, "PGSQL_TABLE_TYPE", CFG2): "copy",
        (U, "YQL_TABLE_TYPE", CFG): "ycql"}
    assert fr.newest_for(found, U, "PGSQL_TABLE_TYPE")["commonBackupInfo"]["backupUUID"] == "new"
    assert fr.newest_for(found, U, "PGSQL_TABLE_TYPE", CFG2)["commonBackupInfo"]["backupUUID"] == "copy"
    assert fr.success_time(found[(U, "YQL_TABLE_TYPE", CFG)]) == fr.bi.parse_time("2026-11-30T14:00:00Z")
    assert fr.newest_for(found, U, "PGSQL_TABLE_TYPE", "nope") is None


class PagedClient:
    def __init__(self, backups):
        self.backups = backups
        self.read = 0
        self.queries = []

    def cpath(self, suffix):
        return "/api/v1/customers/c/" + suffix

    def paged(self, path, query, limit=200, max_items=None):
        self.queries.append(query)
        for b in self.backups:
            self.read += 1
            yield b


def test_read_latest_stops_once_every_wanted_pair_is_found():
    newest_first = [backup("2026-11-30T12:00:00Z", uuid="n%d" % i) for i in range(5)] + \
        [backup("2026-11-29T12:00:00Z", cfg=CFG2, uuid="copy")] + [backup("2026-11-28T12:00:00Z")] * 50
    client = PagedClient(newest_first)
    found = fr.read_latest(client, U, [("PGSQL_TABLE_TYPE", None)])
    assert client.read == 1 and len(found) == 1
    assert client.queries[0]["filter"]["universeUUIDList"] == [U]
    assert client.queries[0]["filter"]["states"] == ["Completed"]
    assert client.queries[0]["filter"]["storageConfigUUIDList"] == []  # any config: no filter
    client = PagedClient(newest_first)
    found = fr.read_latest(client, U, [("PGSQL_TABLE_TYPE", CFG), ("PGSQL_TABLE_TYPE", CFG2)])
    assert client.read == 6 and set(k[2] for k in found) == {CFG, CFG2}
    assert client.queries[0]["filter"]["storageConfigUUIDList"] == [CFG, CFG2]
