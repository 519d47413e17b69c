"""Fidelity of the platform simulator to YBA's published API (swagger.json): every served route exists there,
and the request and response bodies of every served route validate against its definitions, on a live lab
with exchange recording (YBA_LAB_RECORD) switched on."""
from __future__ import annotations

import os
import time
from typing import Any, Iterator

import pytest

from labtest import own_lab, set_platform_keys  # noqa: E402  (puts the lab on sys.path)

from ybalab.platform import api as papi  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402
from ybalab import hostns  # noqa: E402
from ybalab.platform import fidelity, lifecycle  # noqa: E402


ZERO = "00000000-0000-0000-0000-000000000000"


def test_every_served_route_is_a_swagger_operation() -> None:
    paths = fidelity.operation_paths()  # swagger's, plus the INTERNAL ones described from YBA's source
    missing = [f"{m} {t}" for m, t, _n, _a in papi.ROUTES
               if m.lower() not in paths.get(t, {}) and t not in papi.NEWER_THAN_SWAGGER]
    assert missing == []
    # the newer ones are described from YBA's source in fidelity.NEWER_OPERATIONS (validated like swagger's)
    assert all(m.lower() in fidelity.NEWER_OPERATIONS.get(t, {}) for m, t, _n, _a in papi.ROUTES
               if t in papi.NEWER_THAN_SWAGGER)


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, Any]]:
    """The lab at $YBA_LAB_DIR when one is up there (reset to healthy), else a lab of its own in /tmp; the platform
    records its exchanges while the module runs."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    with own_lab("yba-lab-fid-", "healthy", reuse=True) as (d, own):
        record = os.path.join(d, "exchanges.jsonl")
        if os.path.exists(record):
            os.unlink(record)
        state = set_platform_keys(d, record=record, password="lab-password")
        try:
            hostns.run(state, ["yba-ctl", "restart", "yb-platform"], timeout=120)  # on the lab host
            lifecycle.wait_https(state)
            yield {"state": state, "record": record}
        finally:
            if not own and os.path.isfile(os.path.join(d, "lab.json")):
                set_platform_keys(d, record=None, password=None)


class Recorder:
    """Calls the simulator, validates each exchange client-side, remembers which routes were exercised."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.api = pclient.Client(state)
        self.anon = pclient.Client(state, token=None)
        self.problems: list[str] = []
        self.deviations: set[str] = set()
        self.covered: set[tuple[str, str]] = set()
        self.calls = 0
        self.invalid = 0

    def __call__(self, method: str, path: str, body: Any = None, expect: int = 200, auth: bool = True,
                 invalid_request: bool = False) -> Any:
        """invalid_request: the body is deliberately outside swagger; fidelity must say so (and YBA answer 400)."""
        client = self.api if auth else self.anon
        status, resp = client.call(method, path, body)
        self.calls += 1
        concrete = path.replace("{c}", client.customer)
        assert status == expect, f"{method} {concrete}: {status} {resp}"
        problems, used = fidelity.check_exchange(method, concrete, body, status, resp)
        self.deviations |= used
        if invalid_request:
            assert any(p.startswith("request:") for p in problems), (method, concrete, body)
            self.invalid += 1
            problems = [p for p in problems if not p.startswith("request:")]
        for p in problems:
            self.problems.append(f"{method} {concrete} -> {status}: {p}")
        found = fidelity.find_operation(method, concrete)
        if found and 200 <= status < 300:
            self.covered.add((method, found[0]))
        return resp


def test_every_route_exchange_validates(lab: dict[str, Any]) -> None:
    state = lab["state"]
    call = Recorder(state)
    s3 = state["s3"]
    uni = sorted(state["platform"]["universes"].values())[0]
    page_q = {"filter": {}, "sortBy": "createTime", "direction": "DESC", "offset": 0, "limit": 5,
              "needTotalCount": True}

    call("GET", "/api/v1/app_version", auth=False)
    call("GET", "/api/v1/prometheus_metrics", auth=False)
    login = call("POST", "/api/v1/api_login", {"email": "admin@northgate.example", "password": "lab-password"},
                 auth=False)
    assert login["apiToken"] == state["platform"]["token"]
    call("POST", "/api/v1/api_login", {"email": "admin@northgate.example", "password": "nope"}, expect=401,
         auth=False)
    call("GET", "/api/v1/customers", expect=401, auth=False)
    call("GET", "/api/v1/customers")
    call("GET", "/api/v1/customers/{c}")
    call("GET", "/api/v1/customers/{c}/universes")
    call("GET", f"/api/v1/customers/{{c}}/universes/{uni}")
    call("GET", f"/api/v1/customers/{{c}}/universes/{ZERO}", expect=400)
    call("GET", f"/api/v1/customers/{{c}}/universes/{uni}/backups")
    call("PUT", f"/api/v1/customers/{{c}}/universes/{uni}/update_backup_state?markActive=true")
    configs = call("GET", "/api/v1/customers/{c}/configs")
    data = {"BACKUP_LOCATION": f"s3://{s3['bucket']}/fidelity", "AWS_ACCESS_KEY_ID": s3["access_key"],
            "AWS_SECRET_ACCESS_KEY": s3["secret_key"], "AWS_HOST_BASE": s3["endpoint"], "PATH_STYLE_ACCESS": "true"}
    body = {"configName": "s3-fidelity", "name": "S3", "type": "STORAGE", "data": data}
    cfg = call("POST", "/api/v1/customers/{c}/configs", body)["configUUID"]
    call("POST", "/api/v1/customers/{c}/configs",
         dict(body, configName="s3-dead", data=dict(data, AWS_HOST_BASE=s3["dead_endpoint"])), expect=400)
    call("PUT", f"/api/v1/customers/{{c}}/configs/{cfg}", dict(body, configName="s3-fidelity-1"))
    call("PUT", f"/api/v1/customers/{{c}}/configs/{cfg}/edit", dict(body, configName="s3-fidelity-2"))
    spare = call("POST", "/api/v1/customers/{c}/configs", dict(body, configName="s3-spare"))["configUUID"]
    assert call("DELETE", f"/api/v1/customers/{{c}}/configs/{spare}") == {
        "success": True, "message": f"Config {spare} deleted"}
    spare = call("POST", "/api/v1/customers/{c}/configs", dict(body, configName="s3-spare-2"))["configUUID"]
    task = call("DELETE", f"/api/v1/customers/{{c}}/configs/{spare}/delete")
    call.api.wait_task(task["taskUUID"])

    created = call("POST", "/api/v1/customers/{c}/backups", {
        "storageConfigUUID": cfg, "universeUUID": uni, "backupType": "PGSQL_TABLE_TYPE",
        "keyspaceTableList": [{"keyspace": "yugabyte", "tableNameList": [], "tableUUIDList": []}],
        "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS", "sse": False, "parallelism": 8})
    call("GET", f"/api/v1/customers/{{c}}/tasks/{created['taskUUID']}")
    call.api.wait_task(created["taskUUID"])
    call("GET", f"/api/v1/customers/{{c}}/tasks/{created['taskUUID']}/failed_subtasks")
    by_task = call("GET", f"/api/v1/customers/{{c}}/universes/{uni}/backups/tasks/{created['taskUUID']}")
    assert [b["state"] for b in by_task] == ["Completed"]
    call("GET", "/api/v1/customers/{c}/tasks_list")
    call("GET", f"/api/v1/customers/{{c}}/tasks_list?uUUID={uni}")
    page = call("POST", "/api/v1/customers/{c}/backups/page",
                dict(page_q, filter={"states": ["Completed"], "storageConfigUUIDList": [cfg]}))
    b_uuid = page["entities"][0]["commonBackupInfo"]["backupUUID"]
    call("POST", "/api/v1/customers/{c}/backups/page",
         dict(page_q, filter={"states": ["Failed", "InProgress"], "universeUUIDList": [uni],
                              "dateRangeStart": "2020-01-01T00:00:00Z", "dateRangeEnd": "2099-01-01T00:00:00Z"}))
    call("POST", "/api/v1/customers/{c}/backups/page", dict(page_q, filter={"states": ["In Progress"]}), expect=400,
         invalid_request=True)
    b_full = call("GET", f"/api/v1/customers/{{c}}/backups/{b_uuid}")
    # a restore into a scratch keyspace, the refusal to restore over it, the restores and the universe's tables
    locs = [sub["storageLocation"] for sub in b_full["backupInfo"]["backupList"]]
    call("POST", "/api/v1/customers/{c}/restore/preflight",
         {"backupLocations": locs, "storageConfigUUID": cfg, "universeUUID": uni, "backupUUID": b_uuid})
    scratch = f"fidelity_{int(time.time())}"
    restore = {"universeUUID": uni, "storageConfigUUID": cfg, "category": b_full["category"],
               "backupStorageInfoList": [{"backupType": "PGSQL_TABLE_TYPE", "keyspace": scratch,
                                          "storageLocation": locs[0], "sse": False}]}
    assert call.api.wait_task(call("POST", "/api/v1/customers/{c}/restore", restore)["taskUUID"])["status"] == "Success"
    call("POST", "/api/v1/customers/{c}/restore", restore, expect=400)
    call("POST", "/api/v1/customers/{c}/restore/page", dict(page_q, filter={"universeUUIDList": [uni]}))
    assert scratch in {t["keySpace"] for t in call("GET", f"/api/v1/customers/{{c}}/universes/{uni}/tables")}
    chain = call("GET", f"/api/v1/customers/{{c}}/backups/{b_uuid}/list_increments")
    assert [i["backupUUID"] for i in chain] == [b_uuid]  # listIncrementalBackups: the chain, the full included
    call("GET", f"/api/v1/customers/{{c}}/backups/{ZERO}/list_increments", expect=400)
    call("PUT", f"/api/v1/customers/{{c}}/backups/{b_uuid}",
         {"timeBeforeDeleteFromPresentInMillis": 172800000, "expiryTimeUnit": "DAYS"})
    call("PUT", f"/api/v1/customers/{{c}}/backups/{b_uuid}", {"timeBeforeDeleteFromPresentInMillis": -1},
         expect=400)
    call("POST", f"/api/v1/customers/{{c}}/backups/{b_uuid}/stop", expect=400)
    running = call("POST", "/api/v1/customers/{c}/backups", {
        "storageConfigUUID": cfg, "universeUUID": uni, "backupType": "PGSQL_TABLE_TYPE", "timeBeforeDelete": 0})
    time.sleep(0.1)
    r_uuid = [e["commonBackupInfo"]["backupUUID"] for e in call(
        "POST", "/api/v1/customers/{c}/backups/page", dict(page_q, filter={"states": ["InProgress"]}))["entities"]]
    if r_uuid:
        call("POST", f"/api/v1/customers/{{c}}/backups/{r_uuid[0]}/stop")
    call.api.wait_task(running["taskUUID"])
    deleted = call("POST", "/api/v1/customers/{c}/backups/delete",
                   {"deleteBackupInfos": [{"backupUUID": b_uuid, "storageConfigUUID": cfg}], "deleteForcefully": False})
    call.api.wait_task(deleted["taskUUID"][0])

    schedules = call("POST", "/api/v1/customers/{c}/schedules/page",
                     {"filter": {"status": ["Active", "Paused", "Stopped"]}, "sortBy": "scheduleName",
                      "direction": "ASC", "offset": 0, "limit": 10, "needTotalCount": True})
    s_uuid = schedules["entities"][0]["scheduleUUID"]
    call("GET", "/api/v1/customers/{c}/schedules")
    call("GET", f"/api/v1/customers/{{c}}/schedules/{s_uuid}")
    call("PUT", f"/api/v1/customers/{{c}}/schedules/{s_uuid}", {"status": "Stopped"})
    call("PUT", f"/api/v1/customers/{{c}}/schedules/{s_uuid}",
         {"status": "Active", "frequency": 86400000, "frequencyTimeUnit": "DAYS"})
    call("PUT", f"/api/v1/customers/{{c}}/schedules/{s_uuid}", {"status": "Paused"}, expect=400)
    call("PUT", f"/api/v1/customers/{{c}}/schedules/{s_uuid}", {"status": "Active"}, expect=400)
    assert configs  # the seeded config was listed

    assert call.problems == [], "\n".join(call.problems)
    # The reviewed deviation list is exactly what the exchanges needed: no stale entry.
    assert call.deviations == {d.id for d in fidelity.DEVIATIONS}, "deviations no exchange needed"
    version = state["platform"]["version"]
    served = {(m, t) for m, t, _n, _a in papi.ROUTES
              if t not in papi.NEWER_THAN_SWAGGER or papi.version_at_least(version, papi.NEWER_THAN_SWAGGER[t])}
    assert served - call.covered == set(), "routes not exercised"

    # The platform recorded every exchange; the recorded requests and responses validate as well.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(lab["record"], encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.strip()]
        if len(lines) >= call.calls:
            break
        time.sleep(0.1)
    assert len(lines) >= call.calls  # plus the task polls of wait_task
    used: set[str] = set()
    recorded = fidelity.validate_record_file(lab["record"], used=used)
    assert used == call.deviations
    assert len(recorded) == call.invalid and all("-> 400: request:" in p for p in recorded), recorded
