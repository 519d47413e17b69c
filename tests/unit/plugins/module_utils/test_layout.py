# Unit tests for _layout: install detection on yba-installer and Replicated trees built in tmp.
from __future__ import annotations

import os

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _layout

CAMEL_YML = """\
# yba-ctl.yml 2.18 style
installRoot: "/opt/yugabyte"
host: 10.0.0.5
service_username: yugabyte
platform:
  port: 9443   # custom port
  restartSeconds: 10
  additional: |
    yb.foo = 1
    yb.bar = 2
  proxy:
    enable: false
postgres:
  install:
    enabled: true
    port: 5433
  useExisting:
    enabled: false
    port: 5432
prometheus:
  port: 9090
  retentionTime: 30d
  scrapeInterval: 10s
"""

SNAKE_YML = """\
installer:
  install_root: /data/yba
  wait_for_yba_ready_seconds: 300
platform:
  port: 443
postgres:
  install:
    enabled: false
  use_existing:
    enabled: true
    port: 6543
prometheus:
  retention_time: 7d
  oom_score_adjust: 500
"""


def _touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def build_installer(root, yml=CAMEL_YML, install_root="/opt/yugabyte", versions=("2.16.5.0-b1", "2.18.1.0-b84"),
                    active="2.18.1.0-b84", absolute_link=True):
    inst = os.path.join(root, install_root.lstrip("/"))
    for ver in versions:
        os.makedirs(os.path.join(inst, "software", ver, "pgsql", "bin"))
    os.symlink(("%s/software/%s" % (install_root, active)) if absolute_link else active,
               os.path.join(inst, "software", "active"))
    for sub in ("logs", "postgres", "pgsql/run/postgresql", "prometheus/storage", "prometheus/swamper_targets",
                "prometheus/swamper_rules", "yb-platform/releases/2.18.1.0-b84", "yb-platform/keys",
                "yba-installer/certs"):
        os.makedirs(os.path.join(inst, "data", sub))
    ctl = os.path.join(root, "opt/yba-ctl")
    _touch(os.path.join(ctl, "yba-ctl.yml"), yml.encode())
    _touch(os.path.join(ctl, "yba.lic"))
    _touch(os.path.join(ctl, ".installed"))
    _touch(os.path.join(root, "usr/bin/yba-ctl"))
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    return inst


def build_replicated(root, storage="/opt/yugabyte"):
    sp = os.path.join(root, storage.lstrip("/"))
    for sub in ("yugaware/data/logs", "yugaware/data/keys", "yugaware/data/certs", "yugaware/swamper_targets",
                "yugaware/swamper_rules", "releases/2.14.1.0-b36", "ybc/releases", "postgresql/14",
                "prometheusv2"):
        os.makedirs(os.path.join(sp, sub))
    _touch(os.path.join(root, "usr/local/bin/replicatedctl"))
    return sp


def test_installer_camel(tmp_path):
    root = str(tmp_path)
    inst = build_installer(root)
    lay = _layout.detect(root)
    assert lay.install_type == "yba-installer"
    assert lay.host_root == os.path.realpath(root)
    assert lay.install_root == inst
    assert lay.data_dir == os.path.join(inst, "data")
    assert lay.logs_dir == os.path.join(inst, "data", "logs")
    # absolute link target re-rooted at host_root, not followed to the controller's /opt
    assert lay.active_software == os.path.join(inst, "software", "2.18.1.0-b84")
    assert lay.active_version == "2.18.1.0-b84"
    assert lay.software_versions == ("2.16.5.0-b1", "2.18.1.0-b84")
    assert lay.rollback_version == "2.16.5.0-b1"
    assert lay.releases_dir == os.path.join(inst, "data", "yb-platform", "releases")
    assert lay.pgsql_bin == os.path.join(inst, "software", "2.18.1.0-b84", "pgsql", "bin")
    assert lay.platform_port == 9443
    assert lay.postgres_port == 5433
    assert lay.postgres_external is False
    assert lay.postgres_data == os.path.join(inst, "data", "postgres")
    assert lay.prometheus_retention == "30d"
    assert lay.config_style == "camel"
    assert lay.config["platform"]["additional"].startswith("yb.foo = 1")
    assert lay.yba_ctl_yml == os.path.join(root, "opt/yba-ctl/yba-ctl.yml")
    assert lay.yba_ctl_bin == os.path.join(root, "usr/bin/yba-ctl")
    assert lay.license_files == (os.path.join(root, "opt/yba-ctl/yba.lic"),)
    assert lay.tmp_dir == os.path.join(root, "tmp")
    assert lay.to_host(lay.data_dir) == "/opt/yugabyte/data"
    assert lay.host_path("/opt/yugabyte") == inst
    assert lay.as_dict()["software_versions"] == ["2.16.5.0-b1", "2.18.1.0-b84"]


def test_installer_snake_custom_root_relative_link(tmp_path):
    root = str(tmp_path)
    inst = build_installer(root, yml=SNAKE_YML, install_root="/data/yba", versions=("2024.2.1.0-b5",),
                           active="2024.2.1.0-b5", absolute_link=False)
    lay = _layout.detect(root)
    assert lay.install_type == "yba-installer"
    assert lay.install_root == inst
    assert lay.active_version == "2024.2.1.0-b5"
    assert lay.rollback_version is None
    assert lay.config_style == "snake"
    assert lay.prometheus_retention == "7d"
    assert lay.postgres_external is True
    assert lay.postgres_data is None
    assert lay.postgres_port == 6543


@pytest.mark.parametrize("with_yaml", [True, False])
def test_yaml_parsers_agree(monkeypatch, with_yaml):
    if not with_yaml:
        import builtins
        real_import = builtins.__import__

        def fake_import(name, *args, **kwargs):
            if name == "yaml":
                raise ImportError(name)
            return real_import(name, *args, **kwargs)
        monkeypatch.setattr(builtins, "__import__", fake_import)
    cfg = _layout.load_yaml(CAMEL_YML)
    assert cfg["installRoot"] == "/opt/yugabyte"
    assert cfg["platform"]["port"] == 9443
    assert cfg["platform"]["proxy"]["enable"] is False
    assert cfg["prometheus"]["retentionTime"] == "30d"
    assert "yb.bar = 2" in cfg["platform"]["additional"]


def test_simple_parser_lists_and_quotes():
    cfg = _layout.parse_simple_yaml("a:\n  - x\n  - 'y z'\nb: \"q # not comment\"\nc: ~\nd: 3 # c\n")
    assert cfg == {"a": ["x", "y z"], "b": "q # not comment", "c": None, "d": 3}


def test_config_get_both_styles():
    assert _layout.config_get({"prometheus": {"retention_time": "1d"}}, "prometheus", "retentionTime") == "1d"
    assert _layout.config_get({"prometheus": {"retentionTime": "2d"}}, "prometheus", "retention_time") == "2d"
    assert _layout.config_get({}, "x", default=5) == 5


def test_replicated(tmp_path):
    root = str(tmp_path)
    sp = build_replicated(root)
    lay = _layout.detect(root)
    assert lay.install_type == "replicated"
    assert lay.install_root == sp
    assert lay.data_dir == os.path.join(sp, "yugaware", "data")
    assert lay.logs_dir == os.path.join(sp, "yugaware", "data", "logs")
    assert lay.releases_dir == os.path.join(sp, "releases")
    assert lay.prometheus_storage == os.path.join(sp, "prometheusv2")
    assert lay.postgres_data == os.path.join(sp, "postgresql", "14")
    assert lay.swamper_dirs == (os.path.join(sp, "yugaware", "swamper_targets"),
                                os.path.join(sp, "yugaware", "swamper_rules"))
    assert lay.software_dir is None and lay.active_software is None
    assert lay.yba_ctl_yml is None


def test_replicated_explicit_storage_path(tmp_path):
    root = str(tmp_path)
    sp = build_replicated(root, storage="/srv/yb")
    assert _layout.detect(root).install_type == "unknown"
    lay = _layout.detect(root, install_root="/srv/yb")
    assert lay.install_type == "replicated"
    assert lay.install_root == sp


def test_unknown_and_bad_root(tmp_path):
    lay = _layout.detect(str(tmp_path))
    assert lay.install_type == "unknown"
    assert lay.data_dir is None
    with pytest.raises(ValueError):
        _layout.detect(str(tmp_path / "missing"))


def test_symlinked_install_root_stays_in_host(tmp_path):
    root = str(tmp_path)
    inst = build_installer(root, install_root="/mnt/disk/yugabyte")
    os.symlink("/mnt/disk/yugabyte", os.path.join(root, "opt", "yugabyte"))
    lay = _layout.detect(root)
    assert lay.install_root == inst


def test_resolve_in_root_never_escapes(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "a"))
    os.symlink("/etc", os.path.join(root, "a", "etc"))
    os.symlink("../../../../..", os.path.join(root, "a", "up"))
    assert _layout.resolve_in_root(root, "/a/etc/passwd") == os.path.join(os.path.realpath(root), "etc", "passwd")
    assert _layout.resolve_in_root(root, "/a/up/x") == os.path.join(os.path.realpath(root), "x")
    os.symlink("loop", os.path.join(root, "loop"))
    assert _layout.resolve_in_root(root, "/loop").startswith(os.path.realpath(root))


def test_protected_paths(tmp_path):
    root = str(tmp_path)
    inst = build_installer(root)
    lay = _layout.detect(root)
    prot = _layout.protected_paths(lay)
    for must in (lay.postgres_data, lay.yba_ctl_yml, lay.installed_marker, lay.keys_dir, lay.active_software,
                 os.path.join(inst, "software", "2.16.5.0-b1"), lay.swamper_dirs[0], lay.certs_dirs[0],
                 lay.license_files[0]):
        assert must in prot
    assert _layout.is_protected(os.path.join(lay.postgres_data, "base", "1", "123"), prot)
    assert not _layout.is_protected(os.path.join(lay.logs_dir, "application-log-2024-01-01.gz"), prot)
    assert not _layout.is_protected(lay.postgres_data + "_old", prot)
    rep_root = tmp_path / "rep"
    rep_root.mkdir()
    build_replicated(str(rep_root))
    rprot = _layout.protected_paths(_layout.detect(str(rep_root)))
    assert any(p.endswith("postgresql/14") for p in rprot)


@pytest.mark.parametrize("name", [
    "yba-ctl.yml", "yba-ctl.yml.2026-11-20", "yba-ctl.yml-2026-11-20", "yba-ctl.yml.bak", "yba-ctl.yml~",
    "yba-ctl.yml.orig", "yba-ctl.yaml.1", "yb-platform.conf", "yb-platform.conf.2024-01-01.gz", "config.json.old",
    "application.properties.bak", "server.pem.old", "server.key", "node.crt.2024-01-01", "yba.lic.bak",
    "logback.xml.2020-01-01", "yba-ctl.yml.log", "journal.log.json", ".pgpass",
])
def test_config_names_are_never_logs(name):
    assert _layout.is_config_name(name)
    assert not _layout.is_log_name(name)


@pytest.mark.parametrize("name", [
    "application-log-2024-01-31.gz", "audit-log-2024-01-31.gz", "postgres.log.1", "prometheus.log.2.gz",
    "yba-ctl.log-20240131.gz", "postgres-2024-01-31_000000.log", "yba-ctl.log", "audit_log.1",
])
def test_log_names(name):
    assert _layout.is_log_name(name)
    assert not _layout.is_config_name(name)


@pytest.mark.parametrize("name", ["catalog-2024-01-31.gz", "backup_24-01-29-10-00.tgz", "core.1234", "data.2024-01-01"])
def test_neither_log_nor_config(name):
    assert not _layout.is_log_name(name)
    assert not _layout.is_config_name(name)
