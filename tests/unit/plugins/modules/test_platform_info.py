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


def _fake_proc(root, pid, argv, state="S", rss_kb=1000):
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    fields = [state] + ["0"] * 18 + ["12345"]
    (d / "stat").write_text("%d (python) %s\n" % (pid, " ".join(fields)))
    (d / "status").write_text("Name:\tpython\nVmRSS:\t%d kB\n" % rss_kb)


def test_find_process_prefers_this_hosts_unit(tmp_path):
    from ansible_collections.yba.remediation.plugins.module_utils import _layout

    host = tmp_path / "host"
    (host / "opt/yba-ctl").mkdir(parents=True)
    (host / "opt/yba-ctl/yba-ctl.yml").write_text("installRoot: /opt/yugabyte\n")
    (host / "opt/yugabyte/software").mkdir(parents=True)
    (host / "etc/systemd/system").mkdir(parents=True)
    exe = "/opt/yugabyte/software/2.18/yb-platform/yugaware/bin/yugaware"
    (host / "etc/systemd/system/yb-platform.service").write_text(
        "[Service]\nExecStart=%s -Dconfig.file=/x/yb-platform.conf\n" % exe)
    proc = tmp_path / "proc"
    # another lab's platform on the same machine (bigger), and this host's
    _fake_proc(proc, 100, ["python", "/tmp/other-lab/host" + exe, "-Dconfig.file=/x/yb-platform.conf"], rss_kb=9000)
    _fake_proc(proc, 200, ["python", str(host) + exe, "-Dconfig.file=/x/yb-platform.conf"], state="T", rss_kb=10)
    layout = _layout.detect(str(host))
    found = platform_info.find_process(layout, [], proc_root=str(proc))
    assert found is not None and found.pid == 200 and found.stopped
    (proc / "200" / "stat").unlink()
    assert platform_info.find_process(layout, [], proc_root=str(proc)) is None  # the other lab's is not ours


def test_api_options_fall_back_to_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("YBA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("YBA_VALIDATE_CERTS", "false")
    with patch_module_args(dict(host_root=str(tmp_path), probe_timeout=0.5, usage_by_category=False)):
        with pytest.raises(SystemExit):
            platform_info.main()
    out = json.loads(capsys.readouterr().out)
    assert out["platform"]["api"]["url"] == "http://127.0.0.1:9"
