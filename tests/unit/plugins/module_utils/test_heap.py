# Unit tests of _heap: sizes, the systemd drop-in, unit environments, heap figures from metrics and the process.
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _heap as h, _service

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "service")


@pytest.mark.parametrize("text,size", [("4g", 4 << 30), ("4G", 4 << 30), ("4096m", 4 << 30), ("512M", 512 << 20),
                                       ("1073741824", 1 << 30), ("2gb", 2 << 30)])
def test_parse_size(text: str, size: int) -> None:
    assert h.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "4x", "-1g", "four", "4.5g"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a JVM heap size"):
        h.parse_size(text)


def test_format_size() -> None:
    assert [h.format_size(x) for x in (4 << 30, 1536 << 20, 1000)] == ["4g", "1536m", "1000"]


def test_heap_flags_last_wins() -> None:
    assert h.heap_flags(["-Xmx1g", "-J-Xmx2g", "-Xms512m", "-XX:+UseG1GC"]) == {"max": 2 << 30, "initial": 512 << 20}


def test_unit_environment_accumulates_and_resets() -> None:
    unit = ('[Unit]\nEnvironment="IGNORED=1"\n[Service]\nEnvironment="JAVA_HOME=/j" "JAVA_OPTS=-Dhttp.proxyHost=p -Xmx1g"\n'
            'Environment=A=1\n')
    assert h.unit_environment(unit) == {"JAVA_HOME": "/j", "JAVA_OPTS": "-Dhttp.proxyHost=p -Xmx1g", "A": "1"}
    assert h.unit_environment(unit + "Environment=\nEnvironment=B=2\n") == {"B": "2"}


def test_render_dropin_keeps_other_opts_and_round_trips() -> None:
    text = h.render_dropin("-Dhttp.proxyHost=proxy -Xmx1g -Xms1g", 4 << 30, 2 << 30)
    assert text.startswith("# Managed by yba.remediation.platform_heap")
    assert "YBA has no official heap setting" in text
    assert h.unit_environment(text)["JAVA_OPTS"] == "-Dhttp.proxyHost=proxy -Xms2g -Xmx4g"
    assert h.render_dropin("", 4096 << 20) == h.render_dropin("", 4 << 30)


def test_inherited_java_opts(tmp_path: t.Any) -> None:
    unit = tmp_path / "yb-platform.service"
    unit.write_text('[Service]\nEnvironment="JAVA_OPTS=-Dfrom.unit=1"\nExecStart=/x\n')
    d = tmp_path / "yb-platform.service.d"
    d.mkdir()
    (d / "10-proxy.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Dproxy=1 -Xmx1g"\n')
    (d / "99-yba-remediation-heap.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Xmx8g"\n')
    (d / "zz-override.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Xmx512m"\n')
    opts, later = h.inherited_java_opts(str(unit), h.DEFAULT_DROPIN)
    assert opts == "-Dproxy=1 -Xmx1g"
    assert later == [str(d / "zz-override.conf")]


def test_heap_from_metrics_and_report() -> None:
    with open(os.path.join(FIXTURES, "prometheus_metrics.txt"), encoding="utf-8") as handle:
        metrics = handle.read()
    assert h.heap_from_metrics(metrics) == {"used": 1932735283, "committed": 2147483648, "max": 2147483648}
    micrometer = 'jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 100\njvm_memory_used_bytes{area="heap",id="G1 Old Gen"} 300\n'
    assert h.heap_from_metrics(micrometer)["used"] == 400
    proc = _service.ProcessInfo(42, "S", ["python", "yugaware", "-Xmx2g"], rss_bytes=3 << 30, java_opts="-Xmx2g")
    report = h.heap_report(proc, metrics)
    assert report["xmx_bytes"] == 2 << 30 and report["heap_used_percent"] == 90.0
    assert report["source"] == ["process", "metrics"]
    assert h.heap_report(None, None)["heap_used_percent"] is None


# --------------------------------------------------------------------------- pressure and sizing

GIB, MIB = 1 << 30, 1 << 20


def test_raise_heap_adds_half_rounded_up() -> None:
    plan = h.raise_heap(GIB, 24 * GIB)
    assert plan == {"current": GIB, "target": 1536 * MIB, "cap": 20 * GIB, "raised": True, "capped": False}
    assert h.format_size(h.raise_heap(6 * GIB, 24 * GIB)["target"]) == "9g"
    # 1000m * 1.5 = 1500m, rounded UP to the next 256m
    assert h.raise_heap(1000 * MIB, 24 * GIB)["target"] == 1536 * MIB
    assert h.raise_heap(1000 * MIB, 24 * GIB, round_to=100 * MIB)["target"] == 1500 * MIB


def test_raise_heap_is_capped_by_memory_minus_reserve() -> None:
    plan = h.raise_heap(5 * GIB, 10 * GIB, reserve=4 * GIB)  # wants 7.5g, the host allows 6g
    assert (plan["target"], plan["cap"], plan["capped"], plan["raised"]) == (6 * GIB, 6 * GIB, True, True)
    # the cap is rounded DOWN to round_to
    assert h.raise_heap(2 * GIB, 8 * GIB + 100 * MIB, reserve=4 * GIB)["cap"] == 4 * GIB


@pytest.mark.parametrize("current,mem,reserve", [(6 * GIB, 8 * GIB, 4 * GIB),   # above the cap already
                                                 (4 * GIB, 8 * GIB, 4 * GIB),   # at the cap
                                                 (3 * GIB, 2 * GIB, 4 * GIB)])  # reserve larger than the host
def test_raise_heap_never_lowers(current: int, mem: int, reserve: int) -> None:
    plan = h.raise_heap(current, mem, reserve=reserve)
    assert plan["target"] == current and not plan["raised"] and plan["capped"]


def test_raise_heap_without_known_memory_is_not_capped() -> None:
    assert h.raise_heap(2 * GIB, None) == {"current": 2 * GIB, "target": 3 * GIB, "cap": None, "raised": True,
                                           "capped": False}


@pytest.mark.parametrize("kwargs,msg", [(dict(current=0), "positive size"), (dict(factor=1.0), "more than 1"),
                                        (dict(round_to=0), "round_to"), (dict(reserve=-1), "reserve")])
def test_raise_heap_rejects(kwargs: t.Dict[str, t.Any], msg: str) -> None:
    args = dict(current=GIB, mem_total=8 * GIB)
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        h.raise_heap(**args)


def test_current_max_heap_takes_the_largest_known() -> None:
    assert h.current_max_heap(None, 4 * GIB, 6 * GIB) == 6 * GIB
    assert h.current_max_heap(None, None, 0) is None


def test_under_pressure() -> None:
    assert h.under_pressure({"heap_used_percent": 90.8}, 80) is True
    assert h.under_pressure({"heap_used_percent": 80.0}, 80) is True
    assert h.under_pressure({"heap_used_percent": 61.0}, 80) is False
    assert h.under_pressure({"heap_used_percent": None}, 80) is None
    assert h.under_pressure({}, 80) is None


@pytest.mark.parametrize("text,expected", [
    ("-Xmx2g -Dhttp.proxyHost=p -Dhttp.proxyPort=3128 -Dhttp.proxyUser=bob -Dhttps.proxyPassword=s3cr3t -Dfoo=bar",
     "-Xmx2g -Dhttp.proxyHost=p -Dhttp.proxyPort=3128 -Dhttp.proxyUser=******** -Dhttps.proxyPassword=******** -Dfoo=bar"),
    ('[Service]\nEnvironment="JAVA_OPTS=-Xmx2g -Dhttps.proxyUser=bob -Dhttps.proxyPassword=s3cr3t"\n',
     '[Service]\nEnvironment="JAVA_OPTS=-Xmx2g -Dhttps.proxyUser=******** -Dhttps.proxyPassword=********"\n'),
    ("'-Dhttp.proxyPassword=with space' -Xmx1g", "'-Dhttp.proxyPassword=********' -Xmx1g"),
    ('-Dyb.secret="a b" -Dapi.token=xyz -Djavax.net.ssl.keyStorePassword=k', '-Dyb.secret=******** -Dapi.token=******** '
     '-Djavax.net.ssl.keyStorePassword=********'),
    ("-Dproxy=http://bob:pw@proxy:3128 https://u@h/x", "-Dproxy=http://********@proxy:3128 https://********@h/x"),
    ("--db-password=xyz --name=ok", "--db-password=******** --name=ok"),
    ("-Dhttp.proxyHost=proxy -Dhttp.nonProxyHosts=localhost|*.corp", "-Dhttp.proxyHost=proxy -Dhttp.nonProxyHosts=localhost|*.corp"),
    ("", ""),
    (None, None),
])
def test_redact(text: t.Optional[str], expected: t.Optional[str]) -> None:
    assert h.redact(text) == expected


def test_heap_report_and_process_dict_mask_secrets() -> None:
    proc = _service.ProcessInfo(7, "S", ["java", "-Dhttps.proxyPassword=s3cr3t", "play.core.server.ProdServerStart"],
                                1, None, "-Xmx1g -Dhttps.proxyPassword=s3cr3t")
    assert h.heap_report(proc)["java_opts"] == "-Xmx1g -Dhttps.proxyPassword=********"
    assert h.heap_report(proc)["xmx_bytes"] == 1 << 30
    assert proc.as_dict()["cmdline"] == ["java", "-Dhttps.proxyPassword=********", "play.core.server.ProdServerStart"]
    assert proc.cmdline[1] == "-Dhttps.proxyPassword=s3cr3t"  # matching still sees the real line
