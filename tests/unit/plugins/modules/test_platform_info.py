# Unit tests of platform_info: version parsing, the platform state summary, and a run on a fake host tree.
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.modules import platform_info


def test_parse_ybactl_version():
    text = "YBA Installer: 2.18.1.0-b84\nYugabyteDB Anywhere: 2.18.1.0-b84\n"
    assert platform_info.parse_ybactl_version(text) == {"yba_ctl": "2.18.1.0-b84", "yba": "2.18.1.0-b84"}
    assert platform_info.parse_ybactl_version("garbage") == {"yba_ctl": None, "yba": None}


UP = {"running": True, "stopped": False, "age_seconds": 3600}
DOWN = {"running": False}


@pytest.mark.parametrize("process,api,expected", [
    (UP, {"healthy": True, "reachable": True}, "running"),
    (DOWN, {"healthy": True, "reachable": True}, "running"),
    (UP, {"healthy": False, "reachable": True, "hung": False}, "degraded"),
    (UP, {"healthy": False, "reachable": False, "hung": True}, "hung"),
    (dict(UP, stopped=True), {"healthy": False, "reachable": False, "hung": False}, "hung"),
    (dict(UP, age_seconds=10), {"healthy": False, "reachable": False, "hung": False}, "starting"),
    (UP, {"healthy": False, "reachable": False, "hung": False}, "hung"),
    (DOWN, {"healthy": False, "reachable": False, "hung": False}, "down"),
    (DOWN, {"healthy": False, "reachable": False, "hung": True}, "hung"),
    # a client-side TLS/CA problem never reads as a hung (or down) platform: only the process facts speak
    (UP, {"healthy": False, "reachable": False, "hung": False, "client_error": "tls_verify"}, "unknown"),
    (UP, {"healthy": False, "reachable": False, "hung": False, "client_error": "ca_file"}, "unknown"),
    (dict(UP, age_seconds=10), {"healthy": False, "reachable": False, "client_error": "ca_file"}, "unknown"),
    (dict(UP, stopped=True), {"healthy": False, "reachable": False, "client_error": "ca_file"}, "hung"),
    (DOWN, {"healthy": False, "reachable": False, "client_error": "ca_file"}, "down"),
    (DOWN, {"healthy": False, "reachable": False, "client_error": "tls_handshake"}, "unknown"),
    (UP, {"healthy": False, "reachable": True, "client_error": "auth"}, "degraded"),
])
def test_classify(process, api, expected):
    assert platform_info.classify(process, api) == expected


def test_run_on_fake_tree(tmp_path, capsys):
    root = tmp_path
    (root / "opt/yba-ctl").mkdir(parents=True)
    (root / "opt/yba-ctl/yba-ctl.yml").write_text("installRoot: /opt/yugabyte\nplatform:\n  port: 9\n")
    (root / "opt/yugabyte/data/logs").mkdir(parents=True)
    (root / "opt/yugabyte/data/logs/application.log").write_bytes(b"x" * 8192)
    args = dict(host_root=str(root), probe_timeout=0.5, yba_url="http://127.0.0.1:9")
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            platform_info.main()
    out = json.loads(capsys.readouterr().out)
    facts = out["platform"]
    assert out["changed"] is False
    assert facts["install_type"] == "yba-installer"
    assert facts["markers"]["/opt/yba-ctl/yba-ctl.yml"] is True
    assert facts["layout"]["install_root"] == "/opt/yugabyte"
    assert facts["disk"]["volume"]["path"] == "/opt/yugabyte"
    assert facts["disk"]["by_category"]["logs"] >= 8192
    assert facts["api"]["reachable"] is False
    assert facts["state"] in ("down", "hung", "running", "starting")  # the host running the tests may run anything


def test_bad_probe_timeout(tmp_path, capsys):
    with patch_module_args(dict(host_root=str(tmp_path), probe_timeout=0)):
        with pytest.raises(SystemExit):
            platform_info.main()
    assert json.loads(capsys.readouterr().out)["msg"] == "probe_timeout must be more than 0 seconds, got 0.0"


def test_api_options_fall_back_to_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("YBA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("YBA_VALIDATE_CERTS", "false")
    with patch_module_args(dict(host_root=str(tmp_path), probe_timeout=0.5, usage_by_category=False)):
        with pytest.raises(SystemExit):
            platform_info.main()
    out = json.loads(capsys.readouterr().out)
    assert out["platform"]["api"]["url"] == "http://127.0.0.1:9"


def test_ca_path_missing_on_the_host_is_a_client_error(tmp_path, capsys):
    (tmp_path / "opt/yba-ctl").mkdir(parents=True)
    (tmp_path / "opt/yba-ctl/yba-ctl.yml").write_text("installRoot: /opt/yugabyte\nplatform:\n  port: 9\n")
    missing = str(tmp_path / "controller-only" / "ca.pem")
    args = dict(host_root=str(tmp_path), probe_timeout=0.5, yba_url="https://127.0.0.1:9", ca_path=missing,
                yba_api_token="tok-123456", usage_by_category=False)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            platform_info.main()
    api = json.loads(capsys.readouterr().out)["platform"]["api"]
    assert api["client_error"] == "ca_file" and api["failed_check"] == "tls" and not api["hung"]
    assert "ca_path %s does not exist" % missing in api["message"]


def test_ca_content_must_be_pem(tmp_path, capsys):
    with patch_module_args(dict(host_root=str(tmp_path), ca_content="/etc/ca.pem")):
        with pytest.raises(SystemExit):
            platform_info.main()
    assert json.loads(capsys.readouterr().out)["msg"].startswith("ca_content holds no PEM certificate")
