# Unit tests of the backup_info module over a routed fake of the YBA API (requests are checked against the paging contract).
from __future__ import annotations

import json
import time

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.modules import backup_info

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
U = "11111111-1111-1111-1111-111111111111"
TOKEN = "secret-token-value"


def fake_backups(n):
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    return [{"commonBackupInfo": {"backupUUID": "b%d" % i, "state": "Failed", "createTime": created,
                                  "taskUUID": "t%d" % i},
             "universeUUID": U, "universeName": "orders", "lastBackupState": "Failed",
             "scheduleUUID": "00000000-0000-0000-0000-000000000000"} for i in range(n)]


@pytest.fixture
def routes(monkeypatch):
    seen = []
    backups = fake_backups(7)

    def send(self, method, url, path, data, headers, timeout, raw):
        body = json.loads(data) if data else None
        seen.append((method, path, body))
        if path == "/api/v1/customers":
            return [{"uuid": C, "code": "admin", "name": "n"}]
        if path.endswith("/universes"):
            return [{"universeUUID": U, "name": "orders"}]
        if path.endswith("/configs"):
            return [{"configUUID": "cfg", "configName": "s3", "name": "S3", "type": "STORAGE", "state": "Active",
                     "data": {"AWS_HOST_BASE": "http://127.0.0.1:1", "AWS_SECRET_ACCESS_KEY": "ab****yz",
                              "BACKUP_LOCATION": "s3://b/p"}},
                    {"configUUID": "x", "type": "ALERTS", "name": "x", "data": {}}]
        if path.endswith("/backups/page"):
            off, lim = body["offset"], body["limit"]
            return {"entities": backups[off:off + lim], "hasNext": off + lim < len(backups), "hasPrev": off > 0,
                    "totalCount": len(backups)}
        if path.endswith("/schedules/page"):
            # ScheduleResp (Schedule.toScheduleResp): the universe under backupInfo, no ownerUUID/taskParams.
            return {"entities": [{"scheduleUUID": "s", "scheduleName": "d", "status": "Paused", "failureCount": 4,
                                  "frequency": 21600000, "frequencyTimeUnit": "HOURS",
                                  "backupInfo": {"universeUUID": U}}],
                    "hasNext": False, "hasPrev": False, "totalCount": 1}
        if path.endswith("/failed_subtasks"):
            # YBA keeps the error on the failed subtasks; one task has none, so its status is read instead
            return {"failedSubTasks": [] if "/tasks/t0/" in path else [{"errorString": "boom", "subTaskState": "Failure"}]}
        if "/tasks/" in path:
            return {"status": "Failure", "details": {"taskDetails": [{"state": "Failure", "extraDetails": "status boom"}]}}
        raise AssertionError(path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    return seen


def run(capsys, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, probe_timeout=0.5)
    base.update(args)
    with patch_module_args(base):
        with pytest.raises(SystemExit):
            backup_info.main()
    return json.loads(capsys.readouterr().out)


def test_reads_everything_with_paging(routes, capsys):
    r = run(capsys, page_size=3)
    b = r["backups"]
    assert r["changed"] is False and b["api_reachable"] is True and b["customer_uuid"] == C
    pages = [body for m, p, body in routes if p.endswith("/backups/page")]
    assert [pg["offset"] for pg in pages] == [0, 3, 6]
    assert set(pages[0]["filter"]) == set(bi.BACKUP_FILTER)  # every key swagger requires
    assert pages[0]["sortBy"] == "createTime" and "needTotalCount" in pages[0]
    assert b["scanned_backups"] == 7 and b["truncated"] is False
    assert b["schedules"]["paused"]["count"] == 1
    cfg = b["storage_configs"][0]
    assert len(b["storage_configs"]) == 1 and cfg["data"]["AWS_SECRET_ACCESS_KEY"] == _api.MASK
    assert cfg["reachable"] is False and cfg["probe"]["locations"][0]["endpoint"] == "http://127.0.0.1:1"
    assert (cfg["probe"]["failed_step"], cfg["probe"]["error_class"]) == ("connect", "refused")
    assert b["requests"] == len(routes)
    lookups = [p.rsplit("/tasks/", 1)[1] for _m, p, _b in routes if "/tasks/" in p]
    assert sum(1 for p in lookups if p.endswith("/failed_subtasks")) == backup_info.ERROR_LOOKUPS
    assert b["failed_24h"]["count"] == 7 and b["failed_24h"]["error"] in ("boom", "status boom")
    assert set(b["failed_24h"]["errors"]) <= {"boom", "status boom"}
    assert ("t0" in lookups) == ("t0/failed_subtasks" in lookups)  # the fallback only where subtasks had nothing


def test_max_backups_truncates(routes, capsys):
    b = run(capsys, page_size=2, max_backups=3, probe_storage=False)["backups"]
    assert b["scanned_backups"] == 3 and b["truncated"] is True


def test_unreachable_fails_or_is_reported(monkeypatch, capsys):
    def send(self, method, url, path, data, headers, timeout, raw):
        raise _api.YBAUnreachable("cannot reach %s: refused (token %s)" % (self.base_url, TOKEN), method=method,
                                  path=path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    r = run(capsys, backoff_retries=0)
    assert r["failed"] is True
    assert r["msg"].startswith("cannot read the backup state from YBA: GET /api/v1/customers: cannot reach")
    assert TOKEN not in r["msg"]
    r = run(capsys, backoff_retries=0, allow_unreachable=True)
    assert "failed" not in r and r["backups"]["api_reachable"] is False
    assert TOKEN not in r["backups"]["error"]


def test_auth_error_always_fails(monkeypatch, capsys):
    def send(self, method, url, path, data, headers, timeout, raw):
        raise _api.YBAAuthError("Invalid token", status=401, method=method, path=path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    r = run(capsys, allow_unreachable=True)
    assert r["failed"] is True and r["status"] == 401
    # the failed result still says what was not read, why, from where: the diagnosis reports it as api_auth_failed
    b = r["backups"]
    assert b["api_reachable"] is False and b["error_kind"] == "auth" and b["status"] == 401
    assert b["error"] == "GET /api/v1/customers HTTP 401: Invalid token"
    assert b["url"] == "https://yba.example/api/v1/customers"
    assert b["probed_from"] == _api.this_host() and TOKEN not in json.dumps(r)


def test_unread_api_names_the_kind_and_where_it_ran(monkeypatch, capsys):
    def send(self, method, url, path, data, headers, timeout, raw):
        raise _api.YBATLSError("TLS failed: CERTIFICATE_VERIFY_FAILED", kind="tls_verify", method=method, path=path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    b = run(capsys, allow_unreachable=True)["backups"]
    assert (b["api_reachable"], b["error_kind"], b["probed_from"]) == (False, "tls_verify", _api.this_host())
    assert "status" not in b


def test_storage_probes_name_the_host_they_ran_on(routes, capsys):
    b = run(capsys)["backups"]
    assert b["probed_from"] == _api.this_host()
    assert [c["probed_from"] for c in b["storage_configs"]] == [_api.this_host()]
    assert run(capsys, probe_storage=False)["backups"]["storage_configs"][0]["probed_from"] is None


def test_ca_content_is_written_where_the_module_runs_and_used(routes, monkeypatch, capsys, tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    used = []
    real_init = _api.YBAClient.__init__

    def init(self, *a, **kw):
        real_init(self, *a, **kw)
        used.append((self.ca_path, self.ca_label))

    monkeypatch.setattr(_api.YBAClient, "__init__", init)
    r = run(capsys, ca_content=pem, probe_storage=False)
    assert "failed" not in r and used[-1][1] == "ca_content"
    assert used[-1][0].endswith("yba-ca.pem")
    r = run(capsys, ca_content="/etc/pki/ca.pem")
    assert r["failed"] and r["msg"].startswith("ca_content holds no PEM certificate")
    r = run(capsys, ca_content=pem, ca_path=str(tmp_path / "ca.pem"))
    assert r["failed"] and r["msg"] == "parameters are mutually exclusive: ca_path|ca_content"


def test_bad_input(capsys):
    assert run(capsys, window_hours=0)["msg"] == "window_hours must be more than 0, got 0.0"
    assert run(capsys, page_size=0)["msg"] == "page_size must be 1 or more, got 0"
    r = run(capsys, yba_url="yba.example")
    assert r["msg"] == "yba_url must start with http:// or https://, got 'yba.example'"


def test_schedule_resp_and_retention_lookup(monkeypatch, capsys):
    """schedules/page answers ScheduleResp; minNumBackupsToRetain comes from GET schedules/{s}, read only for the
    schedule that owns expired Completed backups; a failed subtask's "null" error is no error."""
    seen = []
    day = 86400
    expired = [{"commonBackupInfo": {"backupUUID": "c%d" % i, "state": "Completed", "taskUUID": "tc%d" % i,
                                     "createTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - (9 - i) * day)),
                                     "completionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - (9 - i) * day))},
                "universeUUID": U, "universeName": "orders", "scheduleUUID": "s-exp",
                "expiryTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * day))}
               for i in range(4)]
    failed = {"commonBackupInfo": {"backupUUID": "f", "state": "Failed", "taskUUID": "tf",
                                   "createTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))},
              "universeUUID": U, "universeName": "orders", "scheduleUUID": "s-ok"}
    nxt = int((time.time() + 3600) * 1000)

    def send(self, method, url, path, data, headers, timeout, raw):
        seen.append((method, path))
        if path == "/api/v1/customers":
            return [{"uuid": C}]
        if path.endswith("/universes"):
            return [{"universeUUID": U, "name": "orders"}]
        if path.endswith("/configs"):
            return []
        if path.endswith("/backups/page"):
            return {"entities": expired + [failed], "hasNext": False, "hasPrev": False, "totalCount": 5}
        if path.endswith("/schedules/page"):
            return {"entities": [
                {"scheduleUUID": "s-exp", "scheduleName": "exp", "status": "Active", "failureCount": 0,
                 "frequency": 86400000, "frequencyTimeUnit": "DAYS", "nextExpectedTask": nxt,
                 "backupInfo": {"universeUUID": U}},
                {"scheduleUUID": "s-ok", "scheduleName": "ok", "status": "Stopped", "failureCount": 0,
                 "frequency": 86400000, "frequencyTimeUnit": "DAYS", "backupInfo": {"universeUUID": U}}],
                "hasNext": False, "hasPrev": False, "totalCount": 2}
        if path.endswith("/schedules/s-exp"):
            return {"scheduleUUID": "s-exp", "ownerUUID": U, "status": "Active",
                    "taskParams": {"universeUUID": U, "minNumBackupsToRetain": 1}}
        if path.endswith("/tasks/tf/failed_subtasks"):
            return {"failedSubTasks": [{"subTaskUUID": "tf", "subTaskState": "Failure", "subTaskGroupType": "Preparation",
                                        "errorString": "null"}]}
        if path.endswith("/tasks/tf"):
            return {"status": "Failure", "target": "orders",
                    "details": {"taskDetails": [{"state": "Failure", "title": "CreateBackup", "extraDetails": []}]}}
        raise AssertionError(path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    b = run(capsys, probe_storage=False)["backups"]
    assert [p for _m, p in seen if "/schedules/" in p and not p.endswith("/page")] == [
        "/api/v1/customers/%s/schedules/s-exp" % C]
    assert b["expired_not_deleted"]["count"] == 3  # only the newest one is retained (minNumBackupsToRetain 1)
    items = {i["name"]: i for i in b["schedules"]["items"]}
    assert items["exp"]["universe_uuid"] == U and items["exp"]["next_time"] is not None
    assert items["ok"]["next_time"] is None
    assert b["universes"][0]["schedules"]["total"] == 2
    assert b["failed_24h"]["error"] == "CreateBackup failed"  # the "null" subtask error was skipped
