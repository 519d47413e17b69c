# Unit tests of the platform_heap module: input checks and the six steps on a yba-installer tree under host_root.
from __future__ import annotations

import json
import typing as t

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _service
from ansible_collections.yba.remediation.plugins.modules import platform_heap

UNIT = """[Service]
Environment="JAVA_HOME=/opt/yugabyte/software/active/jdk"
ExecStart=/opt/yugabyte/software/active/yb-platform/yugaware/bin/yugaware -Dhttps.port=443
"""


@pytest.mark.parametrize("params,msg", [
    (dict(state="present"), "max_heap is required when state=present (for example max_heap=4g)"),
    (dict(max_heap="lots"), "'lots' is not a JVM heap size"),
    (dict(max_heap="128m"), "max_heap 128m is below the 256m minimum the platform needs"),
    (dict(max_heap="64g"), "max_heap 64g is not less than the host's memory (8g)"),
    (dict(max_heap="2g", initial_heap="3g"), "initial_heap 3g exceeds max_heap 2g"),
    (dict(max_heap="2g", dropin_name="../x.conf"), "dropin_name must be a plain file name ending in .conf"),
])
def test_desired_sizes_rejects(params: t.Dict[str, t.Any], msg: str) -> None:
    base = dict(state="present", max_heap=None, initial_heap=None, dropin_name="99-yba-remediation-heap.conf")
    base.update(params)
    with pytest.raises(ValueError) as err:
        platform_heap.desired_sizes(base, 8 << 30)
    assert str(err.value).startswith(msg)


def host(tmp_path: t.Any) -> t.Any:
    (tmp_path / "opt/yba-ctl").mkdir(parents=True)
    (tmp_path / "opt/yba-ctl/yba-ctl.yml").write_text("installRoot: /opt/yugabyte\n")
    (tmp_path / "opt/yugabyte/software/2.18.1.0-b84").mkdir(parents=True)
    (tmp_path / "opt/yugabyte/data").mkdir(parents=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/systemd/system/yb-platform.service").write_text(UNIT)
    return tmp_path / "etc/systemd/system/yb-platform.service.d/99-yba-remediation-heap.conf"


def run(capsys: t.Any, **args: t.Any) -> t.Dict[str, t.Any]:
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            platform_heap.main()
    return json.loads(capsys.readouterr().out)


def test_six_steps(tmp_path: t.Any, capsys: t.Any, monkeypatch: t.Any) -> None:
    dropin = host(tmp_path)
    proc = {"opts": "-Xmx1g"}
    monkeypatch.setattr(_service, "platform_process", lambda layout, hints=(): _service.ProcessInfo(
        7, "S", ["yugaware"] + proc["opts"].split(), 1 << 30, None, proc["opts"]))
    root = str(tmp_path)
    r = run(capsys, host_root=root, max_heap="4096m", _ansible_check_mode=True, _ansible_diff=True)
    assert r["changed"] and r["restart_required"] and not dropin.exists()
    assert r["java_opts"] == "-Xmx4g" and r["diff"]["before"] == "" and "JAVA_OPTS=-Xmx4g" in r["diff"]["after"]
    assert r["running"]["xmx_bytes"] == 1 << 30
    r = run(capsys, host_root=root, max_heap="4g")
    assert r["changed"] and r["restart_required"] and dropin.read_text() == platform_heap._heap.render_dropin("", 4 << 30)
    assert r["path"] == "/etc/systemd/system/yb-platform.service.d/99-yba-remediation-heap.conf"
    assert not r["daemon_reloaded"]
    # not restarted yet: the file is in place but the process still runs with 1g -> a restart is still required
    r = run(capsys, host_root=root, max_heap="4g", _ansible_check_mode=True)
    assert not r["changed"] and r["restart_required"]
    proc["opts"] = "-Xmx4g"  # after the restart
    r = run(capsys, host_root=root, max_heap="4g", _ansible_check_mode=True)
    assert not r["changed"] and not r["restart_required"]
    r = run(capsys, host_root=root, max_heap="4g")
    assert not r["changed"] and not r["restart_required"]
    r = run(capsys, host_root=root, state="absent")
    assert r["changed"] and r["restart_required"] and not dropin.exists()
    r = run(capsys, host_root=root, state="absent")
    assert not r["changed"]


def test_keeps_other_java_opts_and_warns_about_later_dropins(tmp_path: t.Any, capsys: t.Any,
                                                             monkeypatch: t.Any) -> None:
    dropin = host(tmp_path)
    monkeypatch.setattr(_service, "platform_process", lambda layout, hints=(): None)
    warned: t.List[str] = []
    monkeypatch.setattr(platform_heap.AnsibleModule, "warn", lambda self, msg: warned.append(msg))
    d = dropin.parent
    d.mkdir()
    (d / "10-proxy.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Dhttps.proxyHost=proxy -Xmx1g"\n')
    (d / "zz-local.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Xmx512m"\n')
    r = run(capsys, host_root=str(tmp_path), max_heap="2g")
    assert r["java_opts"] == "-Dhttps.proxyHost=proxy -Xmx2g"
    assert not r["restart_required"]  # not running: the next start picks it up
    assert any("zz-local.conf sorts after 99-yba-remediation-heap.conf" in w for w in warned)


def test_replicated_and_missing_unit_fail_clearly(tmp_path: t.Any, capsys: t.Any) -> None:
    r = run(capsys, host_root=str(tmp_path), max_heap="2g")
    assert r["failed"] and r["msg"].startswith("no yb-platform systemd unit found under host_root")
