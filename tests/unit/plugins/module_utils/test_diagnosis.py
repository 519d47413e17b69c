# Unit tests of the pure diagnosis (_diagnosis.py) and its filter plugins.
from __future__ import annotations

import copy
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.yba.remediation.plugins.filter import diagnosis as filt
from ansible_collections.yba.remediation.plugins.module_utils import _diagnosis as dg
from ansible_collections.yba.remediation.plugins.module_utils._backupinfo import iso, parse_time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
NOW = parse_time("2024-02-01T12:00:00Z")
H = 3600
GIB = 1024 ** 3

HEALTHY_PLATFORM = {
    "install_type": "yba-installer", "state": "running",
    "disk": {"volume": {"path": "/opt/yugabyte", "total_bytes": 100 * GIB, "used_bytes": 40 * GIB,
                        "avail_bytes": 60 * GIB, "used_percent": 40.0},
             "volumes": [{"path": "/opt/yugabyte", "total_bytes": 100 * GIB, "used_bytes": 40 * GIB,
                          "avail_bytes": 60 * GIB, "used_percent": 40.0}],
             "by_category": {"logs": 5 * GIB, "releases": 20 * GIB, "postgres": GIB}},
    "process": {"running": True, "pid": 42, "stopped": False, "rss_bytes": 2 * GIB, "age_seconds": 86400},
    "heap": {"heap_used_bytes": GIB, "heap_max_bytes": 4 * GIB, "heap_used_percent": 25.0, "rss_bytes": 2 * GIB},
    "api": {"reachable": True, "healthy": True, "hung": False, "message": "ok", "latency_ms": 5},
    "services": {"yb-platform": {"state": "running", "raw": "Running"}},
}
HEALTHY_BACKUPS = {
    "api_reachable": True,
    "universes": [{"universe_uuid": "u1", "name": "orders", "present": True, "paused": False, "backups_enabled": True,
                   "last_completed_time": iso(NOW - 2 * H), "last_completed_age_seconds": 2 * H, "failed_24h": 0}],
    "storage_configs": [{"config_name": "s3", "name": "S3", "state": "Active", "reachable": True,
                         "probe": {"ok": True, "summary": "s3://b/p via http://s3: dns/connect/http ok in 3 ms"}}],
    "failed_24h": {"count": 0, "sample": [], "error": None},
    "in_progress": {"count": 0},
    "expired_not_deleted": {"count": 0, "oldest_expiry": None},
    "schedules": {"count": 1, "paused": {"count": 0, "sample": []}, "error": {"count": 0, "sample": []}},
}
HEALTHY_METADB = {
    "reachable": True, "error": None, "server_version": "15.5",
    "amcheck": {"checked": True, "reason": None, "indexes_checked": 19, "corrupt": []},
    "failed_migrations": [],
    "stale_backups": {"count": 0, "oldest_age_seconds": None, "by_state": {}, "sample": []},
    "stale_tasks": {"count": 0, "top_level": 0, "oldest_age_seconds": None, "sample": []},
    "schedules": {"paused": {"count": 0, "sample": []}, "error": {"count": 0, "sample": []}},
    "expired_not_deleted": {"count": 0, "oldest_expiry_age_seconds": None, "sample": []},
    "backup_summary": [{"universe_uuid": "u1", "universe_name": "orders",
                        "last_completed_time": "2024-02-01T10:00:00", "failed_24h": 0, "in_progress": 0}],
}


def incident():
    p, b, m = copy.deepcopy(HEALTHY_PLATFORM), copy.deepcopy(HEALTHY_BACKUPS), copy.deepcopy(HEALTHY_METADB)
    vol = {"path": "/opt/yugabyte", "total_bytes": 100 * GIB, "used_bytes": 96 * GIB, "avail_bytes": 4 * GIB,
           "used_percent": 96.0}
    p["disk"]["volume"], p["disk"]["volumes"] = vol, [vol]
    p["heap"].update(heap_used_bytes=int(3.6 * GIB), heap_used_percent=90.0)
    b["universes"][0].update(last_completed_time=iso(NOW - 80 * H), last_completed_age_seconds=80 * H, failed_24h=15)
    b["storage_configs"][0].update(reachable=False, probe={
        "ok": False, "failed_step": "connect", "error_class": "refused",
        "summary": "s3://b/p via http://127.0.0.1:1: connect failed (refused): 127.0.0.1:1 refused the connection"})
    b["failed_24h"] = {"count": 15, "sample": [], "error": "S3 endpoint unreachable"}
    b["schedules"]["paused"] = {"count": 2, "sample": [{"name": "daily", "failure_count": 3}]}
    b["expired_not_deleted"] = {"count": 120, "oldest_expiry": iso(NOW - 200 * H)}
    m["amcheck"]["corrupt"] = [{"index": "public.ix_backup_state", "table": "public.backup",
                                "error": "item order invariant violated\nDETAIL: x"}]
    m["stale_backups"] = {"count": 20, "oldest_age_seconds": 70 * H, "by_state": {"In Progress": 20}, "sample": ["b"]}
    return p, b, m


INCIDENT_IDS = {"disk_full", "heap_pressure", "metadb_index_corrupt", "metadb_stale_in_progress",
                "storage_unreachable", "backups_stale", "backups_failing", "schedules_paused", "retention_not_enforced"}


def ids(findings):
    return {f["id"] for f in findings}


def test_healthy_has_no_findings():
    assert dg.diagnose(HEALTHY_PLATFORM, HEALTHY_BACKUPS, HEALTHY_METADB, now=NOW) == []
    assert dg.render([]) == "YBA diagnosis: no problems found."


def test_incident_reports_every_seeded_problem():
    p, b, m = incident()
    findings = dg.diagnose(p, b, m, now=NOW)
    assert ids(findings) == INCIDENT_IDS
    for f in findings:
        assert set(f) == {"id", "severity", "title", "evidence", "fix_playbook", "manual_fix", "subject", "source",
                          "measured_by"}
        assert f["severity"] in dg.SEVERITIES and f["fix_playbook"] == dg.FIX_PLAYBOOKS[f["id"]]
        # every finding names either a playbook of the collection or the manual step
        assert bool(f["fix_playbook"]) != bool(f["manual_fix"])
        if f["fix_playbook"]:
            assert os.path.isfile(os.path.join(REPO, "playbooks", f["fix_playbook"]))
    by = {f["id"]: f for f in findings}
    assert by["disk_full"]["severity"] == "critical" and "96.0%" in by["disk_full"]["title"]
    assert "4.0 GiB free of 100.0 GiB" in by["disk_full"]["evidence"] and "releases 20.0 GiB" in by["disk_full"]["evidence"]
    assert by["heap_pressure"]["severity"] == "warning" and "90%" in by["heap_pressure"]["title"]
    assert by["backups_stale"]["subject"] == "orders" and "3.3 days" in by["backups_stale"]["evidence"]
    assert by["backups_failing"]["severity"] == "critical" and "S3 endpoint unreachable" in by["backups_failing"]["evidence"]
    storage = by["storage_unreachable"]
    assert "connect failed (refused): 127.0.0.1:1 refused the connection; nothing listens at the endpoint" \
        in storage["evidence"]
    assert "public.ix_backup_state on public.backup (item order invariant violated)" in by["metadb_index_corrupt"]["evidence"]
    assert "20 backups with no live task (20 In Progress" in by["metadb_stale_in_progress"]["evidence"]
    # most severe first, then runbook order
    sev = [dg.SEVERITIES.index(f["severity"]) for f in findings]
    assert sev == sorted(sev)
    assert [f["id"] for f in findings][0] == "disk_full"


def test_render_lists_severity_title_evidence_and_fix():
    p, b, m = incident()
    text = dg.render(dg.diagnose(p, b, m, now=NOW), "yba-lab")
    assert text.startswith("YBA diagnosis of yba-lab: 5 critical, 4 warning")
    assert " 1. [CRITICAL] Disk 96.0% full on the YBA host (/opt/yugabyte)" in text
    assert "fix:      playbooks/disk_cleanup.yml" in text
    assert "manual:   make the storage config's endpoint and credentials work" in text
    assert "fix:      playbooks/backup_retention.yml" in text


@pytest.mark.parametrize("state,proc,expected", [
    ("hung", {"running": True, "pid": 7, "stopped": True}, "platform_hung"),
    ("down", {"running": False}, "platform_down"),
])
def test_platform_states(state, proc, expected):
    p = copy.deepcopy(HEALTHY_PLATFORM)
    p["state"], p["process"] = state, proc
    p["api"] = {"reachable": False, "healthy": False, "hung": state == "hung", "message": "no answer within 5 s"}
    findings = dg.diagnose(p, now=NOW)
    assert ids(findings) == {expected}
    assert findings[0]["fix_playbook"] == "platform_service.yml"


def test_hung_evidence_names_the_stopped_process():
    p = copy.deepcopy(HEALTHY_PLATFORM)
    p["state"], p["process"] = "hung", {"running": True, "pid": 7, "stopped": True}
    assert "pid 7, the process is stopped" in dg.diagnose(p, now=NOW)[0]["evidence"]


def test_degraded_with_auth_rejection_is_an_auth_finding_not_a_platform_problem():
    p = copy.deepcopy(HEALTHY_PLATFORM)
    p["state"] = "degraded"
    p["api"] = {"reachable": True, "healthy": False, "message": "GET /api/v1/customers HTTP 401: Invalid token"}
    assert [(f["id"], f["severity"], f["fix_playbook"]) for f in dg.diagnose(p, now=NOW)] == [
        ("api_auth_failed", "critical", None)]
    p["api"]["message"] = "GET /api/v1/customers HTTP 500: db down"
    assert [(f["id"], f["severity"]) for f in dg.diagnose(p, now=NOW)] == [("platform_down", "warning")]


def test_heap_not_judged_when_platform_down():
    p = copy.deepcopy(HEALTHY_PLATFORM)
    p["state"] = "down"
    p["heap"]["heap_used_percent"] = 99.0
    assert ids(dg.diagnose(p, now=NOW)) == {"platform_down"}


def test_thresholds():
    p = copy.deepcopy(HEALTHY_PLATFORM)
    assert dg.diagnose(p, thresholds={"disk_warning_percent": 30}, now=NOW)[0]["severity"] == "warning"
    assert dg.diagnose(p, thresholds={"disk_warning_percent": 30, "disk_critical_percent": 35},
                       now=NOW)[0]["severity"] == "critical"
    b = copy.deepcopy(HEALTHY_BACKUPS)
    assert ids(dg.diagnose(None, b, thresholds={"rpo_hours": 1}, now=NOW)) == {"backups_stale"}
    with pytest.raises(ValueError, match="unknown diagnosis threshold 'rpo'"):
        dg.diagnose(None, thresholds={"rpo": 1})
    with pytest.raises(ValueError, match="must be a number"):
        dg.diagnose(None, thresholds={"rpo_hours": "soon"})


def test_failed_counts_severity():
    b = copy.deepcopy(HEALTHY_BACKUPS)
    b["failed_24h"] = {"count": 2, "error": None}
    f = dg.diagnose(None, b, now=NOW)
    assert [(x["id"], x["severity"], x["title"]) for x in f] == [("backups_failing", "warning",
                                                                  "2 backups failed in the last 24 hours")]


def test_universe_never_backed_up_is_stale_but_paused_or_disabled_or_deleted_are_not():
    b = copy.deepcopy(HEALTHY_BACKUPS)
    b["universes"] = [
        {"name": "never", "present": True, "last_completed_time": None, "last_completed_age_seconds": None},
        {"name": "paused", "present": True, "paused": True, "last_completed_age_seconds": None},
        {"name": "off", "present": True, "backups_enabled": False, "last_completed_age_seconds": None},
        {"name": "gone", "present": False, "last_completed_age_seconds": None},
    ]
    f = dg.diagnose(None, b, now=NOW)
    assert [(x["id"], x["subject"], x["evidence"]) for x in f] == [("backups_stale", "never", "no Completed backup at all")]


def test_one_backups_stale_finding_per_universe():
    b = copy.deepcopy(HEALTHY_BACKUPS)
    b["universes"] = [{"name": n, "last_completed_age_seconds": 100 * H, "last_completed_time": "x"} for n in "ab"]
    assert [x["subject"] for x in dg.diagnose(None, b, now=NOW)] == ["a", "b"]


def test_storage_queued_for_deletion_or_unprobed_is_ignored():
    b = copy.deepcopy(HEALTHY_BACKUPS)
    b["storage_configs"] = [{"config_name": "old", "state": "QueuedForDeletion", "reachable": False},
                            {"config_name": "np", "state": "Active", "reachable": None}]
    assert dg.diagnose(None, b, now=NOW) == []


def test_metadb_unreachable_only_finding_from_it():
    f = dg.diagnose(None, None, {"reachable": False, "error": "connection refused"}, now=NOW)
    assert [(x["id"], x["severity"], x["evidence"]) for x in f] == [("metadb_unreachable", "critical",
                                                                     "connection refused")]


def test_failed_migrations():
    m = copy.deepcopy(HEALTHY_METADB)
    m["failed_migrations"] = [{"version": "231", "description": "add column", "script": "V231__x.sql"}]
    f = dg.diagnose(None, None, m, now=NOW)
    assert ids(f) == {"metadb_failed_migrations"} and f[0]["evidence"] == "V231 add column"


def test_api_down_backup_findings_come_from_metadb():
    p, b, m = incident()
    m["backup_summary"] = [{"universe_uuid": "u1", "universe_name": "orders",
                            "last_completed_time": "2024-01-29T04:00:00", "failed_24h": 15, "in_progress": 20}]
    m["schedules"]["paused"] = {"count": 1, "sample": [{"uuid": "s", "name": "daily", "failure_count": 3}]}
    m["expired_not_deleted"] = {"count": 120, "oldest_expiry_age_seconds": 200 * H, "sample": []}
    down = {"api_reachable": False, "error": "cannot reach"}
    for backups in (down, None):
        f = dg.diagnose(None, backups, m, now=NOW)
        assert ids(f) == {"metadb_index_corrupt", "metadb_stale_in_progress", "backups_stale", "backups_failing",
                          "schedules_paused", "retention_not_enforced"}
        by = {x["id"]: x for x in f}
        assert by["backups_stale"]["source"] == "metadb_info" and "3.3 days" in by["backups_stale"]["evidence"]
        assert "(2024-01-29T04:00:00Z)" in by["backups_stale"]["evidence"]
        assert by["backups_failing"]["title"] == "15 backups failed in the last 24 hours"
        assert by["backups_failing"]["severity"] == "critical" and by["backups_failing"]["source"] == "metadb_info"
        assert by["backups_failing"]["evidence"] == ("by universe: orders 15 (from the metadata DB; the API could not "
                                                     "be read)")
        assert by["retention_not_enforced"]["title"] == "120 expired backups not deleted"
        assert by["retention_not_enforced"]["evidence"].startswith("oldest expired ")
        assert by["retention_not_enforced"]["evidence"].endswith(" ago (from the metadata DB)")
        assert "daily (3 failures)" in by["schedules_paused"]["evidence"]


def test_api_view_wins_over_metadb_when_both():
    p, b, m = incident()
    m["expired_not_deleted"] = {"count": 999, "oldest_expiry_age_seconds": 1}
    f = [x for x in dg.diagnose(None, b, m, now=NOW) if x["id"] == "retention_not_enforced"]
    assert len(f) == 1 and f[0]["title"] == "120 expired backups not deleted" and f[0]["source"] == "backup_info"


def test_tolerates_partial_and_garbage_input():
    assert dg.diagnose({"disk": {"volumes": [None, {"used_percent": "x"}]}, "heap": None}, now=NOW) == []
    assert dg.diagnose({}, {}, {}, now=NOW) == []
    assert dg.diagnose(None, {"api_reachable": True, "universes": "nope"}, now=NOW) == []


def test_filters():
    p, b, m = incident()
    assert ids(filt.diagnose(p, b, m, None, NOW)) == INCIDENT_IDS
    assert filt.diagnose({}, None, None) == []
    with pytest.raises(AnsibleFilterError, match="unknown diagnosis threshold"):
        filt.diagnose(p, thresholds={"nope": 1})
    with pytest.raises(AnsibleFilterError, match="thresholds must be a dict"):
        filt.diagnose(p, thresholds=[1])
    assert filt.diagnosis_report([], "h") == "YBA diagnosis of h: no problems found."
    with pytest.raises(AnsibleFilterError):
        filt.diagnosis_report("x")
    assert set(filt.FilterModule().filters()) == {"diagnose", "diagnosis_report", "diagnosis_measured",
                                                  "diagnosis_probes", "diagnosis_incomplete", "diagnosis_fixed"}
    # every filter has its documentation beside it
    for name in filt.FilterModule().filters():
        assert os.path.isfile(os.path.join(REPO, "plugins", "filter", name + ".yml")), name


def test_short_error_keeps_the_cause_on_one_line():
    wrapped = ('Failed to execute task {"platformVersion":"2.18.1.0-b84"}, hit error:\n\n CreateBackup failed: '
               'Unable to execute HTTP request: Connect to 127.0.0.1:9 failed: Connection refused')
    assert dg.short_error(wrapped) == ("CreateBackup failed: Unable to execute HTTP request: Connect to 127.0.0.1:9 "
                                       "failed: Connection refused")
    assert dg.short_error("S3  timeout\n") == "S3 timeout"
    assert dg.short_error(None) is None and dg.short_error("") is None


def test_report_sums_up_the_platform_problem_or_not():
    platform = copy.deepcopy(HEALTHY_PLATFORM)
    platform["versions"] = {"api": "2.18.1.0-b84"}
    platform["disk"]["max_used_percent"] = 40.0
    text = dg.render([], "yba-lab", platform)
    assert text == ("YBA diagnosis of yba-lab: no problems found.\n"
                    "    platform running (2.18.1.0-b84), heap 25% of 4.0 GiB, RSS 2.0 GiB, disk 40.0% used")
    assert dg.platform_summary(None) is None
    assert dg.platform_summary({"state": "down"}) == "platform down"


def test_backup_findings_point_at_the_playbooks_that_fix_them():
    assert dg.FIX_PLAYBOOKS["backups_stale"] == dg.FIX_PLAYBOOKS["backups_failing"] == "emergency_backup.yml"
    assert dg.FIX_PLAYBOOKS["schedules_paused"] == "backup_schedules.yml"
    assert not {"backups_stale", "backups_failing", "schedules_paused"} & set(dg.MANUAL_FIXES)


# ---------------------------------------------------------------- api_auth_failed, measured / fixed, probes, incomplete

AUTH_ERROR = "GET /api/v1/customers HTTP 401: Unable to authorize user (check yba_api_token)"
UNREAD_AUTH = {"api_reachable": False, "error": AUTH_ERROR, "error_kind": "auth", "status": 401,
               "url": "https://yba1.example.com:443/api/v1/customers", "probed_from": "yba1"}


def test_a_rejected_token_is_a_critical_finding_and_the_storage_finding_is_not_silently_gone():
    p, b, m = incident()
    findings = dg.diagnose(p, copy.deepcopy(UNREAD_AUTH), m, now=NOW)
    auth = [f for f in findings if f["id"] == "api_auth_failed"]
    assert [(f["severity"], f["fix_playbook"], f["source"]) for f in auth] == [("critical", None, "backup_info")]
    assert "HTTP 401" in auth[0]["evidence"] and "probed from yba1" in auth[0]["evidence"]
    assert "set yba_api_token" in auth[0]["manual_fix"]
    assert auth[0]["subject"] == "https://yba1.example.com:443/api/v1/customers"
    # the storage was not read: no storage finding, and the measured list says so (not "fixed")
    assert "storage_unreachable" not in ids(findings)
    measured = dg.measured(p, UNREAD_AUTH, m)
    assert "backup_info" not in measured and "backups" in measured  # the metadata DB stood in for the backup view
    line = dg.incomplete(p, UNREAD_AUTH, "yba1")
    assert line == ("yba1: diagnosis incomplete: the API rejected yba_api_token (HTTP 401 from"
                    " https://yba1.example.com:443/api/v1/customers) (probed from yba1); nothing was changed")


def test_the_platform_probe_and_backup_info_give_one_auth_finding():
    p, b, m = incident()
    p["state"] = "degraded"
    p["api"] = {"url": "https://localhost:443", "reachable": True, "healthy": False, "client_error": "auth",
                "message": AUTH_ERROR}
    findings = dg.diagnose(p, copy.deepcopy(UNREAD_AUTH), m, now=NOW)
    assert [f["source"] for f in findings if f["id"] == "api_auth_failed"] == ["backup_info"]
    assert "platform_down" not in ids(findings)
    # backups not gathered: the platform probe's refusal alone still makes the diagnosis incomplete
    assert [f["source"] for f in dg.diagnose(p, None, m, now=NOW) if f["id"] == "api_auth_failed"] == ["platform_info"]
    assert dg.incomplete(p, None, "h") == ("h: diagnosis incomplete: the API rejected yba_api_token (HTTP 401 from"
                                           " https://localhost:443/api/v1/customers); nothing was changed")


def test_a_client_side_tls_failure_of_backup_info_is_api_client_config_and_incomplete():
    p, b, m = incident()
    unread = {"api_reachable": False, "error_kind": "tls_verify", "url": "https://yba1:443/api/v1/customers",
              "error": "GET /api/v1/customers: TLS with https://yba1:443 failed on the client side: CERTIFICATE_VERIFY_FAILED",
              "probed_from": "yba1"}
    findings = dg.diagnose(p, unread, m, now=NOW)
    cfg = [f for f in findings if f["id"] == "api_client_config"]
    assert [(f["source"], f["severity"]) for f in cfg] == [("backup_info", "warning")]
    line = dg.incomplete(p, unread, "yba1")
    assert line.startswith("yba1: diagnosis incomplete: the API could not be read on the client side (tls_verify from")
    assert "\n" not in line and line.endswith("nothing was changed")


def test_a_down_or_hung_platform_explains_the_unread_api():
    p, b, m = incident()
    unread = {"api_reachable": False, "error": "not read: the platform is hung"}
    for state in ("hung", "down"):
        p["state"] = state
        assert dg.incomplete(p, unread, "h") is None
    # answers, but its authenticated API fails on the server side (platform_down warning): explained too
    p["state"], p["api"] = "degraded", {"reachable": True, "healthy": False,
                                        "message": "GET /api/v1/customers HTTP 500: db down"}
    assert "platform_down" in ids(dg.diagnose(p, None, None, now=NOW))
    assert dg.incomplete(p, {"api_reachable": False, "error": "HTTP 500", "error_kind": "server"}, "h") is None
    p["state"] = "running"
    assert dg.incomplete(p, {"api_reachable": False, "error": "GET /api/v1/customers: no answer within 5.0 s",
                             "error_kind": "timeout", "url": "https://h/api/v1/customers"}, "h") == (
        "h: diagnosis incomplete: the API could not be read from https://h/api/v1/customers:"
        " GET /api/v1/customers: no answer within 5.0 s; nothing was changed")
    assert dg.incomplete(p, b, "h") is None  # read: complete
    assert dg.incomplete(p, None, "h") is None  # not gathered, and the platform probe was fine


def test_fixed_only_where_measured_again():
    p, b, m = incident()
    before = dg.diagnose(p, b, m, now=NOW)
    assert "storage_unreachable" in ids(before)
    # second diagnosis: the API is down now -> no storage finding, but the storage was not measured: not fixed
    p2 = copy.deepcopy(p)
    p2["state"], p2["api"] = "hung", {"reachable": False, "hung": True, "message": "no answer"}
    p2["heap"] = {"heap_used_percent": None}
    unread = {"api_reachable": False, "error": "not read: the platform is hung"}
    after = dg.diagnose(p2, unread, m, now=NOW)
    measured = dg.measured(p2, unread, m)
    assert "storage_unreachable" not in ids(after) and "heap_pressure" not in ids(after)
    fixed = dg.fixed(before, after, measured)
    assert "storage_unreachable" not in fixed and "heap_pressure" not in fixed
    # the disk was measured again (platform_info's host facts): a disk no longer full is fixed
    vol = {"path": "/opt/yugabyte", "total_bytes": 100, "used_bytes": 50, "avail_bytes": 50, "used_percent": 50.0}
    p2["disk"]["volume"], p2["disk"]["volumes"] = vol, [vol]
    assert "disk_full" in dg.fixed(before, dg.diagnose(p2, unread, m, now=NOW), dg.measured(p2, unread, m))
    # with the storage probed again and reachable, it is fixed
    b2 = copy.deepcopy(b)
    b2["storage_configs"][0].update(reachable=True, probe={"ok": True, "summary": "ok"})
    after2 = dg.diagnose(p, b2, m, now=NOW)
    assert "storage_unreachable" in dg.fixed(before, after2, dg.measured(p, b2, m))
    # probed not at all (probe_storage false): not measured
    b3 = copy.deepcopy(b)
    b3["storage_configs"][0].update(reachable=None, probe=None)
    assert "storage_unreachable" not in dg.fixed(before, dg.diagnose(p, b3, m, now=NOW), dg.measured(p, b3, m))


def test_measured_keys():
    p, b, m = incident()
    b["storage_configs"][0]["config_uuid"] = "c1"
    assert dg.measured(p, b, m) == sorted([
        "platform_info", "platform_info:api", "platform_info:auth", "platform_info:tls", "platform_info:heap",
        "metadb_info:connect", "metadb_info", "backup_info", "backup_info:auth", "backup_info:tls",
        "backup_info:storage:c1", "backups"])
    assert dg.measured(None, None, {"reachable": False, "error": "x"}) == ["metadb_info:connect"]
    assert dg.measured(None) == []
    # every finding names what measures it, and the incident's findings are all measured by this diagnosis
    findings = dg.diagnose(p, b, m, now=NOW)
    assert {f["measured_by"] for f in findings} <= set(dg.measured(p, b, m))
    assert dg.fixed(findings, findings, dg.measured(p, b, m)) == []


def test_probes_name_where_they_ran():
    p, b, m = incident()
    b["probed_from"] = "yba1.example.com"
    b["storage_configs"][0]["probed_from"] = "yba1.example.com"
    got = {x["name"]: x for x in dg.probes(p, b, m, "yba1")}
    assert set(got) == {"platform_info", "platform_api", "metadb_info", "backup_info", "storage s3"}
    assert got["platform_info"] == {"name": "platform_info", "ran_on": "yba1", "ok": True, "error": None}
    assert got["backup_info"] == {"name": "backup_info", "ran_on": "yba1.example.com", "ok": True, "error": None}
    assert got["storage s3"]["ran_on"] == "yba1.example.com" and got["storage s3"]["ok"] is False
    assert "connect failed (refused)" in got["storage s3"]["error"]
    unread = dict(UNREAD_AUTH)
    assert [x for x in dg.probes(p, unread, m, "yba1") if x["name"] == "backup_info"] == [
        {"name": "backup_info", "ran_on": "yba1", "ok": False, "error": AUTH_ERROR}]
    storage = [f for f in dg.diagnose(p, b, m, now=NOW) if f["id"] == "storage_unreachable"][0]
    assert "(probed from yba1.example.com); nothing listens at the endpoint" in storage["evidence"]


def test_storage_compared_with_the_controller_tells_host_network_from_s3():
    p, b, m = incident()
    b["storage_configs"][0]["config_uuid"] = "cfg-1"

    def evidence(controller_ok):
        probe = {"ok": controller_ok, "probed_from": "ctl", "error_class": None if controller_ok else "refused"}
        facts = dict(b, controller_storage_probes={"cfg-1": probe})
        return [f for f in dg.diagnose(p, facts, m, now=NOW) if f["id"] == "storage_unreachable"][0]["evidence"]
    assert evidence(True).endswith("; the controller (ctl) reaches it: the YBA host's own network, DNS or firewall "
                                   "is at fault")
    assert evidence(False).endswith("; the controller (ctl) cannot reach it either (refused): S3 itself is down or "
                                    "AWS_HOST_BASE is wrong")


def test_filters_wrap_the_functions():
    p, b, m = incident()
    flt = filt.FilterModule().filters()
    assert flt["diagnosis_measured"](p, b, m) == dg.measured(p, b, m)
    assert flt["diagnosis_probes"](p, b, m, "h") == dg.probes(p, b, m, "h")
    assert flt["diagnosis_incomplete"](p, UNREAD_AUTH, "h").startswith("h: diagnosis incomplete")
    before = dg.diagnose(p, b, m, now=NOW)
    assert flt["diagnosis_fixed"](before, [], dg.measured(p, b, m)) == list(dict.fromkeys(f["id"] for f in before))
    with pytest.raises(AnsibleFilterError, match="diagnosis_fixed: expects"):
        flt["diagnosis_fixed"](before, None, [])
    with pytest.raises(AnsibleFilterError, match="facts must be dicts"):
        flt["diagnosis_measured"]("x")


def test_storage_checked_with_the_vault_keys_tells_a_wrong_config():
    p, b, m = incident()
    b["storage_configs"][0].update(config_uuid="cfg-1", reachable=True, probe={"ok": True, "summary": "reach ok"})
    keys = {"ok": False, "probed_from": "yba1", "error_class": "stored_keys_differ",
            "summary": "YBA's stored AWS_SECRET_ACCESS_KEY differs from the one given (compared by YBA's mask): ..."}
    facts = dict(b, key_storage_probes={"cfg-1": keys})
    storage = [f for f in dg.diagnose(p, facts, m, now=NOW) if f["id"] == "storage_unreachable"]
    assert len(storage) == 1 and storage[0]["title"] == "Backup storage s3 (S3) does not work with YBA's config"
    assert storage[0]["evidence"].endswith("(probed from yba1); YBA's storage config is wrong: it holds other keys "
                                           "than the vault's")
    facts = dict(b, key_storage_probes={"cfg-1": dict(keys, ok=True)})
    assert "storage_unreachable" not in ids(dg.diagnose(p, facts, m, now=NOW))


def test_failed_to_delete_is_retention_not_enforced_and_backup_retention_fixes_it():
    """A FailedToDelete backup is never retried by YBA's GC, expired or not: it counts (API view through
    backup_info's summary, and the metadata DB's view), the title says how many, the finding points at
    playbooks/backup_retention.yml like the other findings point at their playbooks."""
    from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi

    def resp(uuid, state, expiry_ago):
        return {"commonBackupInfo": {"backupUUID": uuid, "state": state, "createTime": iso(NOW - 300 * H)},
                "universeUUID": "u1", "universeName": "orders", "scheduleUUID": bi.NIL_UUID,
                "expiryTime": iso(NOW - expiry_ago)}

    summary = bi.summarize([resp("ftd", "FailedToDelete", -48 * H), resp("old", "Completed", 200 * H),
                            resp("ok", "Completed", -48 * H)], [{"universeUUID": "u1", "name": "orders"}], [], NOW)
    assert summary["expired_not_deleted"]["count"] == 2 and summary["expired_not_deleted"]["failed_to_delete"] == 1
    p, b, m = incident()
    b["expired_not_deleted"] = summary["expired_not_deleted"]
    f = next(x for x in dg.diagnose(None, b, m, now=NOW) if x["id"] == "retention_not_enforced")
    assert f["title"] == "2 expired backups not deleted (1 FailedToDelete: YBA's GC never retries them)"
    assert (f["fix_playbook"], f["manual_fix"]) == ("backup_retention.yml", None)
    assert os.path.isfile(os.path.join(REPO, "playbooks", "backup_retention.yml"))
    m["expired_not_deleted"] = {"count": 7, "failed_to_delete": 7, "oldest_expiry_age_seconds": 9 * H}
    f = next(x for x in dg.diagnose(None, None, m, now=NOW) if x["id"] == "retention_not_enforced")
    assert f["title"] == "7 expired backups not deleted (7 FailedToDelete: YBA's GC never retries them)"
    assert f["source"] == "metadb_info" and f["fix_playbook"] == "backup_retention.yml"
    assert "fix:      playbooks/backup_retention.yml" in dg.render([f], "yba-lab", None)


def test_failures_followed_by_a_completed_backup_are_not_failing():
    """YBA's "Backup Failure" alert resolves on the next successful backup: so does backups_failing (the incident's
    failures stay in the 24 h window after the emergency backups)."""
    b = copy.deepcopy(HEALTHY_BACKUPS)
    b["universes"][0].update(failed_24h=3, last_failed_time=iso(NOW - 3 * H), last_completed_time=iso(NOW - 2 * H))
    b["failed_24h"] = {"count": 3, "error": "S3 endpoint unreachable"}
    assert dg.diagnose(None, b, now=NOW) == []
    b["universes"][0]["last_completed_time"] = iso(NOW - 4 * H)  # the failures came after the last success
    f = dg.diagnose(None, b, now=NOW)
    assert [(x["id"], x["title"]) for x in f] == [("backups_failing", "3 backups failed in the last 24 hours")]
    assert f[0]["evidence"].startswith("by universe: ") and "S3 endpoint unreachable" in f[0]["evidence"]
    second = dict(b["universes"][0], name="ledger", universe_uuid="u2", failed_24h=2,
                  last_failed_time=iso(NOW - 5 * H), last_completed_time=iso(NOW - 1 * H))
    b["universes"].append(second)
    f = dg.diagnose(None, b, now=NOW)
    assert f[0]["title"] == "3 backups failed in the last 24 hours"
    assert "2 more followed by a Completed backup" in f[0]["evidence"]


def test_metadb_failures_followed_by_a_completed_backup_are_not_failing():
    m = copy.deepcopy(HEALTHY_METADB)
    m["backup_summary"] = [{"universe_uuid": "u1", "universe_name": "orders", "in_progress": 0, "failed_24h": 4,
                            "last_failed_time": "2024-02-01T09:00:00", "last_completed_time": "2024-02-01T10:00:00"}]
    assert "backups_failing" not in {x["id"] for x in dg.diagnose(None, None, m, now=NOW)}
    m["backup_summary"][0]["last_completed_time"] = "2024-02-01T08:00:00"
    assert "backups_failing" in {x["id"] for x in dg.diagnose(None, None, m, now=NOW)}
