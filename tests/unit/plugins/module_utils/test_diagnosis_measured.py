# Unit tests of what a diagnosis really read (_diagnosis.measured / fixed), where each probe ran (probes), the
# api_auth_failed finding and the one line of an incomplete diagnosis (incomplete).
from __future__ import annotations

import copy

from ansible_collections.yba.remediation.plugins.filter import diagnosis as filt
from ansible_collections.yba.remediation.plugins.module_utils import _diagnosis as dg

from test_diagnosis import HEALTHY_METADB, NOW, incident  # noqa: F401  (sibling test module, same directory)

AUTH_ERROR = "GET /api/v1/customers HTTP 401: Unable to authorize user (check yba_api_token)"
UNREAD_AUTH = {"api_reachable": False, "error": AUTH_ERROR, "error_kind": "auth", "status": 401,
               "url": "https://yba1.example.com:443/api/v1/customers", "probed_from": "yba1"}


def ids(findings):
    return {f["id"] for f in findings}


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
    b2["storage_configs"][0].update(reachable=True, probes=[{"endpoint": "http://s3", "reachable": True}])
    after2 = dg.diagnose(p, b2, m, now=NOW)
    assert "storage_unreachable" in dg.fixed(before, after2, dg.measured(p, b2, m))
    # probed not at all (probe_storage false): not measured
    b3 = copy.deepcopy(b)
    b3["storage_configs"][0].update(reachable=None, probes=[])
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
    assert "Connection refused" in got["storage s3"]["error"]
    unread = dict(UNREAD_AUTH)
    assert [x for x in dg.probes(p, unread, m, "yba1") if x["name"] == "backup_info"] == [
        {"name": "backup_info", "ran_on": "yba1", "ok": False, "error": AUTH_ERROR}]
    storage = [f for f in dg.diagnose(p, b, m, now=NOW) if f["id"] == "storage_unreachable"][0]
    assert storage["evidence"].endswith("(probed from yba1.example.com)")


def test_filters_wrap_the_functions():
    p, b, m = incident()
    flt = filt.FilterModule().filters()
    assert flt["diagnosis_measured"](p, b, m) == dg.measured(p, b, m)
    assert flt["diagnosis_probes"](p, b, m, "h") == dg.probes(p, b, m, "h")
    assert flt["diagnosis_incomplete"](p, UNREAD_AUTH, "h").startswith("h: diagnosis incomplete")
    before = dg.diagnose(p, b, m, now=NOW)
    assert flt["diagnosis_fixed"](before, [], dg.measured(p, b, m)) == list(dict.fromkeys(f["id"] for f in before))
