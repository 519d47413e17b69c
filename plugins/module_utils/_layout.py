# Private module_util: detect a YBA install (yba-installer or Replicated) and name every path on the host.
#
# All paths in a Layout are absolute REAL paths on the machine the code runs on, with ``host_root``
# applied: on a real host host_root is "/", in the lab it is the directory holding the host's tree.
# Symlinks inside the host tree are resolved as the host would resolve them (an absolute link target
# is taken relative to host_root), so a link never leads out of the host tree.
from __future__ import annotations

import glob
import os
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.yba.remediation.plugins.module_utils._version import sort_key

INSTALL_TYPES = ("yba-installer", "replicated", "unknown")

DEFAULT_INSTALL_ROOT = "/opt/yugabyte"
DEFAULT_YBA_CTL_HOME = "/opt/yba-ctl"
DEFAULT_PLATFORM_PORT = 443
DEFAULT_POSTGRES_PORT = 5432
DEFAULT_PROMETHEUS_RETENTION = "15d"
_MAX_SYMLINKS = 40


@dataclass(frozen=True)
class Layout:
    """Every path of one YBA host install. Paths that do not apply to the install type are None."""

    host_root: str
    install_type: str
    install_root: str
    data_dir: t.Optional[str] = None
    logs_dir: t.Optional[str] = None
    software_dir: t.Optional[str] = None
    active_software: t.Optional[str] = None
    active_version: t.Optional[str] = None
    software_versions: t.Tuple[str, ...] = ()
    rollback_version: t.Optional[str] = None
    releases_dir: t.Optional[str] = None
    ybc_releases_dir: t.Optional[str] = None
    node_agent_releases_dir: t.Optional[str] = None
    prometheus_storage: t.Optional[str] = None
    swamper_dirs: t.Tuple[str, ...] = ()
    postgres_data: t.Optional[str] = None
    postgres_backup_dir: t.Optional[str] = None
    pgsql_bin: t.Optional[str] = None
    pg_socket_dir: t.Optional[str] = None
    yba_ctl_home: t.Optional[str] = None
    yba_ctl_yml: t.Optional[str] = None
    yba_ctl_bin: t.Optional[str] = None
    yba_ctl_log: t.Optional[str] = None
    pgpass_file: t.Optional[str] = None
    log_bundles_dir: t.Optional[str] = None
    license_files: t.Tuple[str, ...] = ()
    installed_marker: t.Optional[str] = None
    certs_dirs: t.Tuple[str, ...] = ()
    keys_dir: t.Optional[str] = None
    platform_data_dir: t.Optional[str] = None
    platform_conf: t.Optional[str] = None
    ha_backup_dirs: t.Tuple[str, ...] = ()
    tmp_dir: t.Optional[str] = None
    systemd_dir: t.Optional[str] = None
    platform_unit: t.Optional[str] = None
    platform_port: int = DEFAULT_PLATFORM_PORT
    postgres_port: int = DEFAULT_POSTGRES_PORT
    postgres_external: bool = False
    prometheus_retention: str = DEFAULT_PROMETHEUS_RETENTION
    config_style: t.Optional[str] = None  # 'camel' (2.18-2.20), 'snake' (2025+), None (no yba-ctl.yml)
    config: t.Dict[str, t.Any] = field(default_factory=dict, hash=False, compare=False)

    def host_path(self, path: str) -> str:
        """Real path of a path as the YBA host names it (``/opt/yugabyte`` -> ``<host_root>/opt/yugabyte``)."""
        return join_root(self.host_root, path)

    def to_host(self, real_path: str) -> str:
        """The host's own name for a real path under host_root (inverse of host_path)."""
        return to_host(self.host_root, real_path)

    def as_dict(self) -> t.Dict[str, t.Any]:
        """JSON-friendly dict of every field (tuples become lists)."""
        out: t.Dict[str, t.Any] = {}
        for name in self.__dataclass_fields__:  # pylint: disable=no-member
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


# --------------------------------------------------------------------------- paths under host_root

def join_root(host_root: str, path: str) -> str:
    """Lexically place a host path under host_root (no symlink resolution)."""
    root = os.path.abspath(host_root)
    norm = os.path.normpath("/" + path.lstrip("/"))
    if root == "/":
        return norm
    return root if norm == "/" else root + norm


def to_host(host_root: str, real_path: str) -> str:
    root = os.path.realpath(host_root)
    real = os.path.abspath(real_path)
    if root == "/":
        return real
    if real == root:
        return "/"
    if real.startswith(root + "/"):
        return real[len(root):]
    return real


def resolve_in_root(host_root: str, path: str) -> str:
    """Resolve ``path`` (a host path) to a real path, following symlinks as the host sees them.

    Absolute link targets are re-rooted at host_root and ``..`` never climbs above host_root, so the
    result is always inside host_root. Missing components are kept lexically (like realpath).
    """
    root = os.path.realpath(host_root)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: t.List[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:
            resolved.append(part)
            continue
        hops += 1
        if hops > _MAX_SYMLINKS:
            resolved.append(part)
            continue
        tparts = [p for p in target.split("/") if p not in ("", ".")]
        if target.startswith("/"):
            resolved = []
        parts = tparts + parts
    if not resolved:
        return root
    return os.path.join(root, *resolved)


def existing_parent(path: str) -> str:
    """``path`` itself when it exists, else its nearest existing parent."""
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe


def is_within(path: str, parent: str) -> bool:
    """True when ``path`` is ``parent`` or below it (both absolute, normalized)."""
    parent = parent.rstrip("/") or "/"
    return path == parent or path.startswith(parent if parent == "/" else parent + "/")


# --------------------------------------------------------------------------- yba-ctl.yml

def _scalar(text: str) -> t.Any:
    text = text.strip()
    if not text:
        return None
    if text[0] in "\"'":
        quote = text[0]
        end = text.find(quote, 1)
        while quote == '"' and end > 0 and text[end - 1] == "\\":
            end = text.find(quote, end + 1)
        inner = text[1:end] if end > 0 else text[1:]
        return inner.replace("''", "'") if quote == "'" else inner.replace('\\"', '"')
    # strip trailing comment
    text = re.split(r"\s+#", text, maxsplit=1)[0].strip()
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~"):
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?\d+\.\d*", text):
        return float(text)
    if text in ("{}",):
        return {}
    if text in ("[]",):
        return []
    return text


def parse_simple_yaml(text: str) -> t.Dict[str, t.Any]:
    """Parse the YAML subset yba-ctl.yml uses: nested block mappings, scalars, simple lists, comments.

    Block scalars (``|``/``>``) are read as joined text. Anything fancier is ignored, never fatal.
    """
    result: t.Dict[str, t.Any] = {}
    # stack of (indent, container)
    stack: t.List[t.Tuple[int, t.Any]] = [(-1, result)]
    pending_key: t.Optional[t.Tuple[int, t.Dict[str, t.Any], str]] = None
    block: t.Optional[t.Tuple[int, t.Dict[str, t.Any], str, t.List[str]]] = None
    for raw in text.splitlines():
        if block is not None:
            indent = len(raw) - len(raw.lstrip(" "))
            if raw.strip() and indent <= block[0]:
                block[1][block[2]] = "\n".join(block[3]).strip("\n") + "\n"
                block = None
            else:
                block[3].append(raw.strip())
                continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if pending_key is not None:
            p_indent, p_parent, p_key = pending_key
            pending_key = None
            if indent > p_indent:
                container: t.Any = [] if stripped.startswith("- ") or stripped == "-" else {}
                p_parent[p_key] = container
                stack.append((p_indent, container))
        while len(stack) > 1 and indent <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        if stripped.startswith("-"):
            if isinstance(parent, list):
                parent.append(_scalar(stripped[1:]))
            continue
        if not isinstance(parent, dict):
            continue
        match = re.match(r"""^("[^"]*"|'[^']*'|[^:#]+?)\s*:(?:\s+(.*))?$""", stripped)
        if not match:
            continue
        key = match.group(1).strip("\"'")
        rest = (match.group(2) or "").strip()
        if rest and rest[0] in "|>":
            block = (indent, parent, key, [])
            continue
        if rest == "" or rest.startswith("#"):
            parent[key] = None
            pending_key = (indent, parent, key)
            continue
        parent[key] = _scalar(rest)
    if block is not None:
        block[1][block[2]] = "\n".join(block[3]).strip("\n") + "\n"
    return result


def load_yaml(text: str) -> t.Dict[str, t.Any]:
    """Parse YAML with PyYAML when importable, else with the small subset parser."""
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        return parse_simple_yaml(text)
    try:
        data = yaml.safe_load(text)
    except Exception:  # pylint: disable=broad-except
        return parse_simple_yaml(text)
    return data if isinstance(data, dict) else {}


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def config_style(config: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """'camel' when yba-ctl.yml uses camelCase keys (2.18-2.20), 'snake' for 2025+ style, None if empty."""
    if not config:
        return None
    if "installer" in config or "install_root" in config:
        return "snake"
    return "camel"


def config_get(config: t.Mapping[str, t.Any], *path: str, default: t.Any = None) -> t.Any:
    """Look up a dotted key in either key style: ``config_get(c, 'prometheus', 'retentionTime')``."""
    node: t.Any = config
    for part in path:
        if not isinstance(node, dict):
            return default
        want = _snake(part)
        found = False
        for key, value in node.items():
            if isinstance(key, str) and (key == part or _snake(key) == want):
                node, found = value, True
                break
        if not found:
            return default
    return default if node is None else node


def _read_config(path: str) -> t.Dict[str, t.Any]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return load_yaml(handle.read())
    except OSError:
        return {}


def _as_int(value: t.Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------- installed versions

def _software_versions(software_dir: str) -> t.Tuple[str, ...]:
    try:
        entries = list(os.scandir(software_dir))
    except OSError:
        return ()
    names = [e.name for e in entries if e.name != "active" and e.is_dir(follow_symlinks=False)]
    return tuple(sorted(names, key=sort_key))


def _rollback_version(versions: t.Sequence[str], active: t.Optional[str]) -> t.Optional[str]:
    """The version kept for rollback: the newest installed version older than the active one."""
    if not active:
        return versions[-1] if versions else None
    older = [v for v in versions if v != active and sort_key(v) < sort_key(active)]
    return older[-1] if older else None


# --------------------------------------------------------------------------- detection

def _exists(path: t.Optional[str]) -> bool:
    return bool(path) and os.path.lexists(t.cast(str, path))


def _find_yba_ctl_home(host_root: str, yba_ctl_home: t.Optional[str]) -> t.Optional[str]:
    if yba_ctl_home:
        return resolve_in_root(host_root, yba_ctl_home)
    candidates = [DEFAULT_YBA_CTL_HOME, "/root/yba-ctl"]
    candidates += [to_host(host_root, p) for p in sorted(glob.glob(join_root(host_root, "/home/*/yba-ctl")))]
    for cand in candidates:
        real = resolve_in_root(host_root, cand)
        if os.path.isfile(os.path.join(real, "yba-ctl.yml")):
            return real
    return None


def _replicated_signals(host_root: str) -> bool:
    for path in ("/etc/replicated.conf", "/usr/local/bin/replicatedctl", "/usr/bin/replicatedctl",
                 "/var/lib/replicated"):
        if os.path.lexists(join_root(host_root, path)):
            return True
    return False


def _installer_layout(host_root: str, install_root: str, ctl_home: t.Optional[str],
                      config: t.Dict[str, t.Any]) -> Layout:
    root = resolve_in_root(host_root, install_root)
    data = os.path.join(root, "data")
    software = os.path.join(root, "software")
    active_link = os.path.join(software, "active")
    active: t.Optional[str] = None
    if os.path.lexists(active_link):
        active = resolve_in_root(host_root, to_host(host_root, active_link))
        if not os.path.isdir(active):
            active = None
    versions = _software_versions(software)
    active_version = os.path.basename(active) if active else None
    if ctl_home is None:
        ctl_home = resolve_in_root(host_root, DEFAULT_YBA_CTL_HOME)
    bin_candidates = [join_root(host_root, "/usr/bin/yba-ctl"), os.path.join(ctl_home, "yba-ctl"),
                      join_root(host_root, "/usr/local/bin/yba-ctl")]
    ctl_bin = next((b for b in bin_candidates if os.path.isfile(b)), bin_candidates[0])
    platform_data = os.path.join(data, "yb-platform")
    licenses = sorted({p for pat in ("*.lic", "*.LIC") for p in glob.glob(os.path.join(glob.escape(ctl_home), pat))})
    licenses += sorted(glob.glob(os.path.join(glob.escape(platform_data), "licenses")))
    external = bool(config_get(config, "postgres", "useExisting", "enabled", default=False))
    pg_port = config_get(config, "postgres", "useExisting" if external else "install", "port")
    systemd = join_root(host_root, "/etc/systemd/system")
    return Layout(
        host_root=os.path.realpath(host_root),
        install_type="yba-installer",
        install_root=root,
        data_dir=data,
        logs_dir=os.path.join(data, "logs"),
        software_dir=software,
        active_software=active,
        active_version=active_version,
        software_versions=versions,
        rollback_version=_rollback_version(versions, active_version),
        releases_dir=os.path.join(platform_data, "releases"),
        ybc_releases_dir=os.path.join(platform_data, "ybc", "releases"),
        node_agent_releases_dir=os.path.join(platform_data, "node-agent", "releases"),
        prometheus_storage=os.path.join(data, "prometheus", "storage"),
        swamper_dirs=(os.path.join(data, "prometheus", "swamper_targets"),
                      os.path.join(data, "prometheus", "swamper_rules")),
        postgres_data=None if external else os.path.join(data, "postgres"),
        postgres_backup_dir=os.path.join(data, "postgres_backup"),
        pgsql_bin=os.path.join(active, "pgsql", "bin") if active else None,
        pg_socket_dir=os.path.join(data, "pgsql", "run", "postgresql"),
        yba_ctl_home=ctl_home,
        yba_ctl_yml=os.path.join(ctl_home, "yba-ctl.yml"),
        yba_ctl_bin=ctl_bin,
        yba_ctl_log=os.path.join(ctl_home, "yba-ctl.log"),
        pgpass_file=os.path.join(ctl_home, ".pgpass"),
        log_bundles_dir=os.path.join(ctl_home, "log_bundles"),
        license_files=tuple(licenses),
        installed_marker=os.path.join(ctl_home, ".installed"),
        certs_dirs=(os.path.join(data, "yba-installer", "certs"), os.path.join(platform_data, "certs")),
        keys_dir=os.path.join(platform_data, "keys"),
        platform_data_dir=platform_data,
        platform_conf=os.path.join(active, "yb-platform", "conf", "yb-platform.conf") if active else None,
        ha_backup_dirs=(os.path.join(platform_data, "platformBackups"),
                        os.path.join(platform_data, "platformReplication")),
        tmp_dir=resolve_in_root(host_root, "/tmp"),
        systemd_dir=systemd,
        platform_unit=os.path.join(systemd, "yb-platform.service"),
        platform_port=_as_int(config_get(config, "platform", "port"), DEFAULT_PLATFORM_PORT),
        postgres_port=_as_int(pg_port, DEFAULT_POSTGRES_PORT),
        postgres_external=external,
        prometheus_retention=str(config_get(config, "prometheus", "retentionTime",
                                            default=DEFAULT_PROMETHEUS_RETENTION)),
        config_style=config_style(config),
        config=config,
    )


def _replicated_layout(host_root: str, storage_path: str) -> Layout:
    root = resolve_in_root(host_root, storage_path)
    data = os.path.join(root, "yugaware", "data")
    pg_dirs = sorted(glob.glob(os.path.join(glob.escape(root), "postgresql", "*")), key=sort_key)
    pg_data = pg_dirs[-1] if pg_dirs else os.path.join(root, "postgresql", "14")
    licenses = tuple(sorted(glob.glob(os.path.join(glob.escape(data), "licenses"))))
    return Layout(
        host_root=os.path.realpath(host_root),
        install_type="replicated",
        install_root=root,
        data_dir=data,
        logs_dir=os.path.join(data, "logs"),
        releases_dir=os.path.join(root, "releases"),
        ybc_releases_dir=os.path.join(root, "ybc", "releases"),
        prometheus_storage=os.path.join(root, "prometheusv2"),
        swamper_dirs=(os.path.join(root, "yugaware", "swamper_targets"),
                      os.path.join(root, "yugaware", "swamper_rules")),
        postgres_data=pg_data,
        license_files=licenses,
        certs_dirs=(os.path.join(data, "certs"),),
        keys_dir=os.path.join(data, "keys"),
        platform_data_dir=data,
        ha_backup_dirs=(os.path.join(data, "platformBackups"), os.path.join(data, "platformReplication")),
        tmp_dir=resolve_in_root(host_root, "/tmp"),
        systemd_dir=join_root(host_root, "/etc/systemd/system"),
    )


def detect(host_root: str = "/", install_root: t.Optional[str] = None,
           yba_ctl_home: t.Optional[str] = None) -> Layout:
    """Detect the YBA install seen under ``host_root``.

    ``install_root`` / ``yba_ctl_home`` are host paths that override discovery (for a Replicated host,
    install_root is Replicated's storage_path). Never raises for a missing install: returns
    install_type 'unknown' with only host_root and install_root set.
    """
    if not os.path.isdir(host_root):
        raise ValueError("host_root %r is not a directory" % host_root)
    ctl_home = _find_yba_ctl_home(host_root, yba_ctl_home)
    config: t.Dict[str, t.Any] = {}
    if ctl_home and os.path.isfile(os.path.join(ctl_home, "yba-ctl.yml")):
        config = _read_config(os.path.join(ctl_home, "yba-ctl.yml"))
    cfg_root = config_get(config, "installRoot") or config_get(config, "installer", "installRoot")
    if install_root:
        real = resolve_in_root(host_root, install_root)
        if os.path.isdir(os.path.join(real, "software")) or (
                os.path.isdir(os.path.join(real, "data")) and not os.path.isdir(os.path.join(real, "yugaware"))):
            return _installer_layout(host_root, install_root, ctl_home, config)
        if os.path.isdir(os.path.join(real, "yugaware")):
            return _replicated_layout(host_root, install_root)
        return Layout(host_root=os.path.realpath(host_root), install_type="unknown", install_root=real,
                      yba_ctl_home=ctl_home, config=config, config_style=config_style(config))
    if config:
        return _installer_layout(host_root, str(cfg_root or DEFAULT_INSTALL_ROOT), ctl_home, config)
    default_real = resolve_in_root(host_root, DEFAULT_INSTALL_ROOT)
    if os.path.isdir(os.path.join(default_real, "yugaware")) and (
            _replicated_signals(host_root) or not os.path.isdir(os.path.join(default_real, "software"))):
        return _replicated_layout(host_root, DEFAULT_INSTALL_ROOT)
    if os.path.isdir(os.path.join(default_real, "software")) or os.path.isdir(os.path.join(default_real, "data")):
        return _installer_layout(host_root, DEFAULT_INSTALL_ROOT, ctl_home, config)
    return Layout(host_root=os.path.realpath(host_root), install_type="unknown", install_root=default_real)


def protected_paths(layout: Layout) -> t.Tuple[str, ...]:
    """Real paths (files or whole trees) that no cleanup may ever delete anything in or under.

    The metadata DB data dir and its dumps' restore source, keys, certs, licenses, swamper targets and
    rules, yba-ctl.yml and the install markers, the active release and the one kept for rollback, YBC and
    node-agent releases, systemd units, the Prometheus TSDB (retention is tuned, never rm'd).
    """
    paths: t.List[t.Optional[str]] = [
        layout.postgres_data, layout.keys_dir, layout.yba_ctl_yml, layout.installed_marker,
        layout.pgpass_file, layout.active_software, layout.ybc_releases_dir, layout.node_agent_releases_dir,
        layout.prometheus_storage, layout.platform_unit, layout.pg_socket_dir, layout.platform_conf,
    ]
    paths += list(layout.certs_dirs) + list(layout.swamper_dirs) + list(layout.license_files)
    if layout.software_dir:
        paths.append(os.path.join(layout.software_dir, "active"))
        if layout.rollback_version:
            paths.append(os.path.join(layout.software_dir, layout.rollback_version))
    if layout.yba_ctl_home:
        paths += [os.path.join(layout.yba_ctl_home, ".installing"), os.path.join(layout.yba_ctl_home, "yba.lic"),
                  os.path.join(layout.yba_ctl_home, "YBA.lic")]
    if layout.data_dir and layout.install_type == "yba-installer":
        paths.append(os.path.join(layout.data_dir, ".version.txt"))
    if layout.systemd_dir:
        for unit in ("yb-platform.service", "postgres.service", "prometheus.service"):
            paths.append(os.path.join(layout.systemd_dir, unit))
    seen: t.List[str] = []
    for path in paths:
        if path and path not in seen:
            seen.append(path)
    return tuple(seen)


# Configuration, its backups and key material are never cleanup candidates, whatever directory they are in:
# yba-ctl.yml.2026-11-20, yba-ctl.yml.bak, yba-ctl.yml~, yb-platform.conf.orig, server.pem.old, ... A name is
# a configuration name when one of its dot-separated parts (after the first) is a configuration extension.
CONFIG_EXTENSIONS = ("yml", "yaml", "conf", "cfg", "cnf", "ini", "json", "properties", "toml", "xml", "env",
                     "hocon", "pem", "key", "crt", "cert", "csr", "jks", "p12", "pfx", "lic", "pgpass", "service")
_CONFIG_NAME = re.compile(r"(?i)^\.?[^.]*(?:\.[^.]*)*?\.(?:%s)(?:$|[.~_#-])" % "|".join(CONFIG_EXTENSIONS))
# A log by name: a ".log" part, or a "log" word (application-log-2024-01-31.gz, audit_log.1), never config.
_LOG_NAME = re.compile(r"(?i)(?:^|[-._])logs?(?:$|[-._])")


def is_config_name(name: str) -> bool:
    """True when a file name is named after a configuration, key or license file (or a copy/backup of one)."""
    return bool(_CONFIG_NAME.match(name)) or name in (".pgpass", ".installed", ".installing")


def is_log_name(name: str) -> bool:
    """True when a file name is a log's by name (``*.log``, ``*.log.N``, ``*.log.gz``, ``application-log-DATE.gz``)
    and not a configuration's (see is_config_name)."""
    return bool(_LOG_NAME.search(name)) and not is_config_name(name)


def is_protected(path: str, protected: t.Iterable[str]) -> bool:
    """True when ``path`` (a real path) is a protected path or lies under one."""
    return any(is_within(path, p) for p in protected)
