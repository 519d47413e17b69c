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


# ---------------------------------------------------------------- state=raised and never_lower: never lower the heap

GIB, MIB = 1 << 30, 1 << 20


@pytest.fixture
def raised_host(tmp_path: t.Any, monkeypatch: t.Any) -> t.Dict[str, t.Any]:
    env: t.Dict[str, t.Any] = {"dropin": host(tmp_path), "root": str(tmp_path), "opts": "", "mem": 24 * GIB,
                               "warned": []}
    monkeypatch.setattr(_service, "platform_process", lambda layout, hints=(): _service.ProcessInfo(
        7, "S", ["yugaware"] + env["opts"].split(), GIB, None, env["opts"] or None))
    monkeypatch.setattr(platform_heap._heap, "mem_total_bytes", lambda proc_root="/proc": env["mem"])
    monkeypatch.setattr(platform_heap.AnsibleModule, "warn", lambda self, msg: env["warned"].append(msg))
    return env


def test_raised_from_the_running_xmx(raised_host: t.Dict[str, t.Any], capsys: t.Any) -> None:
    raised_host["opts"] = "-Xmx6g"
    r = run(capsys, host_root=raised_host["root"], state="raised", _ansible_check_mode=True)
    assert r["changed"] and r["restart_required"] and not raised_host["dropin"].exists()
    assert (r["plan"]["current_size"], r["plan"]["target_size"], r["plan"]["capped"]) == ("6g", "9g", False)
    r = run(capsys, host_root=raised_host["root"], state="raised")
    assert r["changed"] and r["java_opts"] == "-Xmx9g" and r["max_heap_bytes"] == 9 * GIB
    assert "JAVA_OPTS=-Xmx9g" in raised_host["dropin"].read_text()


def test_raised_from_the_jvm_default_needs_the_reported_max(raised_host: t.Dict[str, t.Any], capsys: t.Any) -> None:
    r = run(capsys, host_root=raised_host["root"], state="raised")
    assert r["failed"] and r["msg"].startswith("cannot tell the platform's current max heap")
    r = run(capsys, host_root=raised_host["root"], state="raised", current_max_heap="1073741824.0")
    assert r["changed"] and r["plan"]["target_size"] == "1536m" and r["java_opts"] == "-Xmx1536m"


def test_raised_at_the_cap_changes_nothing_and_never_lowers(raised_host: t.Dict[str, t.Any], capsys: t.Any) -> None:
    raised_host["opts"] = "-Xmx6g"
    raised_host["mem"] = 8 * GIB  # cap = 8g - 4g = 4g, below the running 6g
    r = run(capsys, host_root=raised_host["root"], state="raised")
    assert not r["changed"] and not r["restart_required"] and not raised_host["dropin"].exists()
    assert r["plan"] == dict(r["plan"], current=6 * GIB, target=6 * GIB, cap=4 * GIB, raised=False, capped=True)
    assert any("cannot be raised from 6g" in w for w in raised_host["warned"])
    raised_host["mem"] = 12 * GIB  # cap 8g: raised to the cap, not to 9g
    r = run(capsys, host_root=raised_host["root"], state="raised", memory_reserve="4096m")
    assert r["changed"] and r["plan"]["target_size"] == "8g" and r["plan"]["capped"]


def test_raised_from_a_pending_dropin_larger_than_the_running_heap(raised_host: t.Dict[str, t.Any],
                                                                   capsys: t.Any) -> None:
    raised_host["opts"] = "-Xmx2g"
    run(capsys, host_root=raised_host["root"], max_heap="4g")  # written, not restarted yet
    r = run(capsys, host_root=raised_host["root"], state="raised")
    assert r["plan"]["current_size"] == "4g" and r["plan"]["target_size"] == "6g"


def test_never_lower_keeps_a_larger_heap(raised_host: t.Dict[str, t.Any], capsys: t.Any) -> None:
    raised_host["opts"] = "-Xmx6g"
    r = run(capsys, host_root=raised_host["root"], max_heap="4g", never_lower=True)
    assert not r["changed"] and r["kept"] and not r["restart_required"] and not raised_host["dropin"].exists()
    assert any("never_lower refuses to lower it to 4g" in w for w in raised_host["warned"])
    r = run(capsys, host_root=raised_host["root"], max_heap="8g", never_lower=True)
    assert r["changed"] and not r["kept"] and r["java_opts"] == "-Xmx8g"
    # the JVM default (no -Xmx) as the JVM reports it counts too
    raised_host["opts"] = ""
    raised_host["dropin"].unlink()
    r = run(capsys, host_root=raised_host["root"], max_heap="4g", never_lower=True, current_max_heap="6g")
    assert not r["changed"] and r["kept"]


@pytest.mark.parametrize("params,msg", [
    (dict(raise_factor=1.0), "raise_factor must be more than 1"),
    (dict(memory_reserve="lots"), "memory_reserve: 'lots' is not a JVM heap size"),
    (dict(current_max_heap="1.5g"), "current_max_heap: '1.5g' is not a JVM heap size"),
])
def test_raise_options_reject(params: t.Dict[str, t.Any], msg: str) -> None:
    with pytest.raises(ValueError) as err:
        platform_heap.raise_options(params)
    assert str(err.value).startswith(msg)


def test_proxy_credentials_never_leave_the_module_but_stay_in_the_dropin(
        tmp_path: t.Any, capsys: t.Any, monkeypatch: t.Any) -> None:
    """The unit's JAVA_OPTS carry proxy credentials: the drop-in written keeps them, the returns and the diff do not."""
    dropin = host(tmp_path)
    unit = tmp_path / "etc/systemd/system/yb-platform.service"
    opts = ("-Dhttps.proxyHost=proxy.corp -Dhttps.proxyPort=3128 -Dhttps.proxyUser=svc-yba -Dhttps.proxyPassword=Pr0xyS3cret "
            "-Dhttp.proxyPassword=Pr0xyS3cret -Dyb.cloud.token=T0kenValue -Dupstream=http://svc-yba:UrlS3cret@proxy.corp:3128")
    unit.write_text(unit.read_text().replace("[Service]\n", '[Service]\nEnvironment="JAVA_OPTS=%s -Xmx1g"\n' % opts))
    monkeypatch.setattr(_service, "platform_process", lambda layout, hints=(): _service.ProcessInfo(
        7, "S", ["java"] + opts.split() + ["-Xmx1g", "play.core.server.ProdServerStart"], 1 << 30, None, opts + " -Xmx1g"))
    for check in (True, False):
        r = run(capsys, host_root=str(tmp_path), max_heap="4g", _ansible_check_mode=check, _ansible_diff=True)
        out = json.dumps(r)
        for secret in ("Pr0xyS3cret", "svc-yba", "T0kenValue", "UrlS3cret"):
            assert secret not in out, (secret, out)
        assert "-Dhttps.proxyPassword=********" in r["java_opts"] and "-Dhttps.proxyHost=proxy.corp" in r["java_opts"]
        assert "-Dhttps.proxyPassword=********" in r["diff"]["after"] and "-Xmx4g" in r["diff"]["after"]
        assert "-Dhttps.proxyUser=********" in r["running"]["java_opts"]
    written = dropin.read_text()
    for secret in ("-Dhttps.proxyPassword=Pr0xyS3cret", "-Dhttps.proxyUser=svc-yba", "http://svc-yba:UrlS3cret@proxy.corp"):
        assert secret in written
    r = run(capsys, host_root=str(tmp_path), max_heap="4g", _ansible_diff=True)  # idempotent, still masked
    assert not r["changed"] and "Pr0xyS3cret" not in json.dumps(r)
