# Unit tests of the api_client_config finding (_diagnosis.py): a probe that failed on the client side is its own
# finding with the fix, never platform_hung or platform_down.
from __future__ import annotations

import copy

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _diagnosis as dg

GIB = 1024 ** 3
PLATFORM = {
    "install_type": "yba-installer", "state": "running",
    "process": {"running": True, "pid": 42, "stopped": False, "rss_bytes": 2 * GIB, "age_seconds": 86400},
    "heap": {"heap_used_bytes": None, "heap_max_bytes": None, "heap_used_percent": None},
    "api": {"url": "https://yba.example.com", "reachable": True, "healthy": True, "hung": False, "message": "ok",
            "client_error": None},
    "services": {"yb-platform": {"state": "running", "raw": "Running"}},
}


@pytest.mark.parametrize("state,kind,message", [
    ("unknown", "ca_file", "ca_path /etc/pki/yba/ca.pem does not exist on yba-1, where this request runs"),
    ("unknown", "tls_verify", "certificate verify failed: unable to get local issuer certificate"),
])
def test_client_side_probe_failure_is_its_own_finding(state, kind, message):
    p = copy.deepcopy(PLATFORM)
    p["state"] = state
    p["api"].update(reachable=kind == "auth", healthy=False, client_error=kind, message=message)
    findings = dg.diagnose(p, now=0)
    assert [(f["id"], f["severity"]) for f in findings] == [("api_client_config", "warning")]
    finding = findings[0]
    assert kind in finding["title"] and finding["evidence"] == message
    assert finding["fix_playbook"] is None  # never a restart: the inventory's TLS/CA/token setting is the fix
    assert "yba_ca_path" in finding["manual_fix"]
    assert finding["subject"] == "https://yba.example.com"
    assert "manual:   the API probe failed on the client side" in dg.render(findings)


def test_a_stopped_process_is_still_hung_next_to_a_client_problem():
    p = copy.deepcopy(PLATFORM)
    p["state"] = "hung"
    p["process"]["stopped"] = True
    p["api"].update(reachable=False, healthy=False, client_error="ca_file", message="ca missing")
    assert {f["id"] for f in dg.diagnose(p, now=0)} == {"platform_hung", "api_client_config"}


def test_no_client_error_no_finding():
    assert dg.diagnose(copy.deepcopy(PLATFORM), now=0) == []
