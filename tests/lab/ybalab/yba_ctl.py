"""The yba-ctl stand-in of the lab (FACTS 1.4/1.5, API-CAPABILITIES 7.1): status, start/stop/restart, version,
createBackup, preflight, upgrade, following yugabyte's managed/yba-installer (each function names its file).

Installed at <host.root>/usr/bin/yba-ctl by ybalab.platform.lifecycle.install_software, with the path of
lab.json baked in; a bundle copy made by ``lifecycle.make_bundle`` (or ``make_bundle_tarball``, ``python -m ybalab
bundle``) runs ``upgrade``. Services are managed by the lab's mini-systemd (ybalab.platform.services), which honours
unit drop-ins. As the lab has always done, ERROR and FATAL lines go to stderr (yba-installer logs all to stdout).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from typing import Any, Callable, NamedTuple

from ybalab.labstate import write_atomic
from ybalab.platform import lifecycle, paths, services

UNIT_CHOICES = ("postgres", "prometheus", "yb-platform")


class CtlError(Exception):
    """A fatal yba-ctl error: printed as ``FATAL ...`` with exit code 1."""


def _log(state: dict[str, Any], level: str, msg: str, echo: bool = True) -> None:
    line = f"{level}[{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}] {msg}"
    if echo:
        print(line, file=sys.stderr if level in ("ERROR", "FATAL") else sys.stdout, flush=True)
    home = paths.on_host(state, state["host"].get("yba_ctl_home", "/opt/yba-ctl"))
    try:
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "yba-ctl.log"), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError:
        pass  # a full disk must not stop yba-ctl from reporting


def _units(arg: str | None) -> tuple[str, ...]:
    return (arg,) if arg else UNIT_CHOICES


def _port(state: dict[str, Any], unit: str) -> str:
    if unit == "postgres":
        return str(state["postgres"]["port"])
    if unit == "yb-platform":
        return str(paths.https_port(state))
    spec = services.load_unit(state, unit) or {"ExecStart": ""}
    for arg in spec["ExecStart"].split():
        if arg.startswith("--web.listen-address="):
            return arg.rsplit(":", 1)[1]
    return ""


def _versions(state: dict[str, Any]) -> dict[str, str]:
    yba = lifecycle.installed_version(state) or "unknown"
    try:
        with open(os.path.join(state["postgres"]["data_dir"], "PG_VERSION"), encoding="ascii") as fh:
            pg = fh.read().strip()
    except OSError:
        pg = "unknown"
    return {"postgres": pg, "prometheus": "2.42.0", "yb-platform": yba}


def cmd_status(state: dict[str, Any], unit: str | None) -> int:
    ir = state["host"].get("install_root", "/opt/yugabyte")
    home = state["host"].get("yba_ctl_home", "/opt/yba-ctl")
    logs = {"postgres": f"{ir}/data/logs/postgres.log", "prometheus": f"{ir}/data/prometheus/prometheus.log",
            "yb-platform": f"{ir}/data/logs/application.log"}
    head = ["YBA Url", "Install Root", "yba-ctl config", "yba-ctl Logs"]
    vals = [state["platform"]["url"], ir, f"{home}/yba-ctl.yml", f"{home}/yba-ctl.log"]
    widths = [max(len(h), len(v)) + 2 for h, v in zip(head, vals)]
    print(" | ".join(h.rjust(w) for h, w in zip(head, widths)) + " |")
    print(" | ".join(v.rjust(w) for v, w in zip(vals, widths)) + " |")
    print()
    print("Services:")
    cols = ["Systemd service", "Version", "Port", "Log File Locations", "Running Status"]
    versions = _versions(state)
    rows = [[u, versions[u], _port(state, u), logs[u], services.unit_status(state, u)] for u in _units(unit)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) + 2 for i, c in enumerate(cols)]
    print(" | ".join(c.rjust(w) for c, w in zip(cols, widths)) + " |")
    for r in rows:
        print(" | ".join(v.rjust(w) for v, w in zip(r, widths)) + " |")
    return 0


def cmd_service(state: dict[str, Any], action: str, unit: str | None) -> int:
    """As yba-installer's service control (cmd/service_control.go, cmd/platform.go, cmd/postgres.go): ``stop``
    acts only on a unit whose status is Running (a crash-looping, Errored unit is left to systemd's
    Restart=always); ``start`` returns once systemd has started the unit, without waiting for the platform's
    HTTPS (PostgreSQL's unit is Type=notify, so its start waits for the server); ``restart`` always restarts."""
    units = _units(unit)
    if action in ("stop", "restart"):
        for u in reversed(UNIT_CHOICES):
            if u not in units:
                continue
            if action == "stop" and services.unit_status(state, u) != services.RUNNING:
                _log(state, "INFO", f"{u} is not running, nothing to stop")
                continue
            _log(state, "INFO", f"Stopping {u}")
            services.stop_unit(state, u)
    if action in ("start", "restart"):
        for u in UNIT_CHOICES:
            if u in units:
                _log(state, "INFO", f"Starting {u}")
                services.start_unit(state, u, wait=False)
    _log(state, "INFO", f"{action} of {', '.join(units)} completed")
    return 0


def cmd_version(state: dict[str, Any], bundle_dir: str | None) -> int:
    """cmd/version.go: this yba-ctl's own version (a bundle's is its target), then the installed YBA's."""
    print(f"YBA Installer: {_own_version(state, bundle_dir) or 'unknown'}")
    print(f"YugabyteDB Anywhere: {lifecycle.installed_version(state) or NOT_INSTALLED}")
    return 0


def _host_arg(state: dict[str, Any], path: str) -> str:
    """A path given on the host's command line, seen through host.root (already-mapped paths pass through)."""
    root = state["host"]["root"].rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path
    return paths.on_host(state, os.path.abspath(path))


def cmd_create_backup(state: dict[str, Any], args: argparse.Namespace, bundle_dir: str | None = None) -> int:
    """cmd/backup.go (installed yba-ctl only) running yb_platform_backup.sh create: platform stopped, pg_dump -Fc
    --clean, the active release's version_metadata.json as version_metadata_backup.json, certs/keys/licenses/
    swamper (+ releases, prometheus unless excluded), platform started again."""
    if bundle_dir:  # PreRun: !common.RunFromInstalled()
        home = state["host"].get("yba_ctl_home", "/opt/yba-ctl")
        raise CtlError(f"createBackup must be run from {home}/yba-ctl. It may be in the systems $PATH for easy of use.")
    _log(state, "INFO", "Creating a backup of your YugabyteDB Anywhere Installation.")
    out_dir = _host_arg(state, args.output_dir)
    data_dir = _host_arg(state, args.data_dir or state["host"].get("install_root", "/opt/yugabyte"))
    data = paths.data_dir(state)
    os.makedirs(out_dir, exist_ok=True)
    stopped = False
    if not args.skip_restart and services.unit_status(state, "yb-platform") == services.RUNNING:
        _log(state, "INFO", "Stopping yb-platform for the backup")
        services.stop_unit(state, "yb-platform")
        stopped = True
    dump = os.path.join(data_dir, "platform_dump.sql")
    archive = os.path.join(out_dir, time.strftime("backup_%y-%m-%d-%H-%M.tgz", time.gmtime()))
    try:
        pg = state["postgres"]
        _log(state, "INFO", f"Taking a dump of the yugaware database into {dump}")
        res = subprocess.run([os.path.join(pg.get("bin_dir", "/usr/lib/postgresql/15/bin"), "pg_dump"),
                              "-h", pg.get("host", "127.0.0.1"), "-p", str(pg["port"]), "-U", pg.get("user", "postgres"),
                              "-Fc", "--clean", "-f", dump, pg.get("database", "yugaware")],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise CtlError(f"pg_dump failed: {res.stderr.strip()}")
        members = [(dump, "platform_dump.sql")]
        # yb_platform_backup.sh copies software/<active>/**/yugaware/conf/version_metadata.json into the archive
        # as version_metadata_backup.json (restore checks the version against it)
        members.append((os.path.join(paths.active_dir(state), "yb-platform/yugaware/conf/version_metadata.json"),
                        "version_metadata_backup.json"))
        for rel in ("yb-platform/keys", "yb-platform/certs", "yba-installer/certs", "prometheus/swamper_targets",
                    "prometheus/swamper_rules", "yb-platform/licenses"):
            members.append((os.path.join(data, rel), f"data/{rel}"))
        if not args.exclude_releases:
            members.append((os.path.join(data, "yb-platform/releases"), "data/yb-platform/releases"))
        if not args.exclude_prometheus:
            members.append((os.path.join(data, "prometheus/storage"), "data/prometheus/snapshots"))
        _log(state, "INFO", f"Creating {archive}")
        try:
            with tarfile.open(archive, "w:gz") as tar:
                for src, arc in members:
                    if os.path.exists(src):
                        tar.add(src, arcname=arc)
        except OSError as exc:
            try:
                os.unlink(archive)
            except OSError:
                pass
            raise CtlError(f"tar: {archive}: Cannot write: {exc.strerror or exc}") from exc
        os.unlink(dump)
    finally:
        if stopped:
            _log(state, "INFO", "Starting yb-platform")
            services.start_unit(state, "yb-platform")
    host_archive = "/" + os.path.relpath(archive, state["host"]["root"])
    _log(state, "INFO", f"Backup written to {host_archive}", echo=False)
    print(host_archive)  # last line of stdout: the archive as the host sees it
    return 0


# ---------------------------------------------------------------------------------------------- run-time faults
KNOBS_FILE = "knobs.json"  # <lab dir>/knobs.json: the lab's run-time knobs (platform/tasks.py), removed by every reset
UPGRADE_FAULT_KEY = "upgrade_fault"
UPGRADE_FAULTS = ("preflight-critical", "die-halfway")


def _knobs_path(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], KNOBS_FILE)


def _read_knobs(state: dict[str, Any]) -> dict[str, Any]:
    try:
        with open(_knobs_path(state), encoding="utf-8") as fh:
            knobs = json.load(fh)
    except (OSError, ValueError):
        return {}
    return knobs if isinstance(knobs, dict) else {}


def upgrade_fault(state: dict[str, Any]) -> str | None:
    """The upgrade fault in force (``python -m ybalab upgrade-fault``), read at each yba-ctl run."""
    fault = _read_knobs(state).get(UPGRADE_FAULT_KEY)
    return fault if fault in UPGRADE_FAULTS else None


def set_upgrade_fault(state: dict[str, Any], fault: str) -> dict[str, Any]:
    """Set the upgrade fault (``none`` removes it), keeping the other knobs; returns {file, upgrade_fault}."""
    if fault != "none" and fault not in UPGRADE_FAULTS:
        raise ValueError(f"unknown upgrade fault {fault!r}; choose from {', '.join(UPGRADE_FAULTS)}, none")
    knobs = _read_knobs(state)
    if fault == "none":
        knobs.pop(UPGRADE_FAULT_KEY, None)
    else:
        knobs[UPGRADE_FAULT_KEY] = fault
    path = _knobs_path(state)
    if knobs:
        write_atomic(path, json.dumps(knobs, indent=2, sort_keys=True) + "\n", 0o644)
    elif os.path.exists(path):
        os.unlink(path)
    return {"file": path, "upgrade_fault": upgrade_fault(state)}


# ---------------------------------------------------------------------------------------------- preflight
# Statuses as pkg/preflight/checks/result.go names them (a Skipped check is never run nor printed).
PASS, WARNING, CRITICAL = "Pass", "Warning", "Critical"
MIB = 1 << 20
YBA_MIN_CPUS, YBA_MIN_MEMORY_GB = 4, 8  # checks/cpu.go defaultMinCPUs, checks/memory.go defaultMinMemoryLimit
PYTHON_BINARIES = ("python3.11", "python3.10", "python3")  # checks/python.go pythonBinaryNames


class Check(NamedTuple):
    name: str
    skip_allowed: bool
    run: Callable[[dict[str, Any]], tuple[str, str]]  # -> (status, error text, "" when none)


def _ctl_home(state: dict[str, Any]) -> str:
    return paths.on_host(state, state["host"].get("yba_ctl_home", "/opt/yba-ctl"))


def _installed_marker(state: dict[str, Any]) -> str:
    """common.YbaInstalledMarker(): <yba-ctl home>/.installed, written by a completed install."""
    return os.path.join(_ctl_home(state), ".installed")


def _config_file(state: dict[str, Any]) -> str:
    return os.path.join(_ctl_home(state), "yba-ctl.yml")


def _config(state: dict[str, Any]) -> dict[str, Any]:
    import yaml

    try:
        with open(_config_file(state), encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def humanize_ibytes(n: int) -> str:
    """go-humanize IBytes, as the disk check prints sizes: "12 MiB", "9.5 MiB", "25 GiB"."""
    if n < 1024:
        return f"{n} B"
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    e = min(int(math.floor(math.log(n) / math.log(1024))), len(units) - 1)
    val = math.floor(n / 1024 ** e * 10 + 0.5) / 10
    return f"{val:.0f} {units[e]}" if val >= 10 else f"{val:.1f} {units[e]}"


def upgrade_min_free_bytes(state: dict[str, Any]) -> int:
    """checks/diskavail.go's minFreeDiskUpgrade (25 GiB) scaled to the lab volume: lab.json
    ``host.upgrade_min_free_mb``, default 25/200 of ``host.size_mb`` (32 MiB of the 256 MiB volume)."""
    mb = state["host"].get("upgrade_min_free_mb")
    if mb is None:
        mb = int(state["host"].get("size_mb", 256)) * 25 // 200 or 16
    return int(float(mb) * MIB)


def _check_install_exists(state: dict[str, Any]) -> tuple[str, str]:
    # checks/exisiting_install.go InstallExists (no yba_installer.state in the lab: the marker decides)
    if not os.path.exists(_installed_marker(state)):
        return CRITICAL, "no current YugabyteDB Anywhere install found"
    return PASS, ""


def _check_install_not_exists(state: dict[str, Any]) -> tuple[str, str]:
    # checks/exisiting_install.go InstallNotExists
    if os.path.exists(_installed_marker(state)):
        return CRITICAL, "found existing YugabyteDB Anywhere install"
    return PASS, ""


def _check_validate_config(state: dict[str, Any]) -> tuple[str, str]:
    # checks/validate_config.go: an unreadable input file is fatal, one that does not parse is Critical
    import yaml

    path = _config_file(state)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise CtlError(f"Error: open {_host_view(state, path)}: {(exc.strerror or str(exc)).lower()}.") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return CRITICAL, f"Error: {exc}."
    if not isinstance(data, dict):
        return CRITICAL, f"The config at {_host_view(state, path)} is not valid. Errors: \n- (root): Invalid type."
    return PASS, ""


def _check_disk(state: dict[str, Any]) -> tuple[str, str]:
    # checks/diskavail.go: the install root must be writeable; statfs of its nearest existing parent; 25 GiB
    # when the install marker exists (an upgrade), else 200 GiB (both scaled to the lab volume).
    base = paths.install_root(state)
    if os.path.isdir(base):
        touch = os.path.join(base, ".touch")
        try:
            with open(touch, "w", encoding="ascii"):
                pass
            os.unlink(touch)
        except OSError:
            return CRITICAL, f"{_host_view(state, base)} is not writeable."
    parent = base
    while not os.path.exists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)
    st = os.statvfs(parent)
    avail = st.f_bavail * st.f_frsize
    need = upgrade_min_free_bytes(state)
    if not os.path.exists(_installed_marker(state)):
        need *= 8  # minFreeDiskInstall 200 GiB vs minFreeDiskUpgrade 25 GiB
    if avail < need:
        return CRITICAL, (f"Available disk space on volume {humanize_ibytes(avail)} is less than minimum required "
                          f"{humanize_ibytes(need)}")
    return PASS, ""


def _check_cpu(state: dict[str, Any]) -> tuple[str, str]:
    # checks/cpu.go; the lab's minimum is lab.json host.preflight_min_cpus (default 1; YBA's is 4)
    need = int(state["host"].get("preflight_min_cpus", 1))
    have = len(os.sched_getaffinity(0))
    if have < need:
        return CRITICAL, f"System currently has {have} CPU but requires {need} CPUs."
    return PASS, ""


def _check_memory(state: dict[str, Any]) -> tuple[str, str]:
    # checks/memory.go (MemTotal kB / 1e6); the lab's minimum is host.preflight_min_memory_gb (default 1; YBA's 8)
    need = float(state["host"].get("preflight_min_memory_gb", 1))
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            kb = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal"))
    except (OSError, StopIteration, ValueError) as exc:
        return CRITICAL, str(exc)
    if kb / 1e6 < need:
        return CRITICAL, f"System does not meet the minimum memory limit of {need:g} GB."
    return PASS, ""


def _check_python(state: dict[str, Any]) -> tuple[str, str]:
    # checks/python.go: the first of python3.11, python3.10, python3 that answers 3.10 or 3.11. Lab fault
    # preflight-critical: none of them answers (as on a host without a supported python), so the check, which
    # cannot be skipped, is Critical.
    if upgrade_fault(state) != "preflight-critical":
        for binary in PYTHON_BINARIES:
            try:
                out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
            m = re.search(r"Python (\d+)\.(\d+)", out.stdout.strip())
            if out.returncode != 0 or not m:
                continue
            if int(m.group(1)) == 3 and 10 <= int(m.group(2)) <= 11:
                _log(state, "INFO", f"System meets Python installation requirements with version {out.stdout.strip()}")
                return PASS, ""
            _log(state, "WARN", f"Found {out.stdout.strip()} on system but is not allowed Python version.")
    return CRITICAL, "System does not meet Python requirements. Please install Python 3.10 or 3.11."


def _check_user(state: dict[str, Any]) -> tuple[str, str]:
    # checks/user.go: a custom service user must exist (the default one is created by the install)
    import pwd

    uname = str(_config(state).get("service_username") or "yugabyte")
    try:
        pwd.getpwnam(uname)
    except KeyError:
        if uname != "yugabyte":
            return CRITICAL, (f"custom user '{uname}' is expected to exist, please create the user or update the "
                              "config back to the default user.")
    return PASS, ""


def _check_port(state: dict[str, Any]) -> tuple[str, str]:
    # checks/port.go: prometheus, platform and postgres ports must be free to listen on
    used = []
    for port in (_port(state, "prometheus"), _port(state, "yb-platform"), _port(state, "postgres")):
        if not port:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("", int(port)))
            except OSError:
                used.append(port)
    if used:
        return CRITICAL, f"could not listen on port(s) [{' '.join(used)}] - check they are free"
    return PASS, ""


def _check_license(state: dict[str, Any]) -> tuple[str, str]:
    # checks/license_installed.go: the installed license, LicenseFile() = <yba-ctl home>/yba.lic
    lic = os.path.join(_ctl_home(state), "yba.lic")
    if not os.path.exists(lic):
        return CRITICAL, f"stat {_host_view(state, lic)}: no such file or directory"
    return PASS, ""


def _check_pass(state: dict[str, Any]) -> tuple[str, str]:
    # db-config, validate-locale-config, postgres: the lab's config installs its own PostgreSQL, no locale
    return PASS, ""


# pkg/preflight/predefined_lists.go; skipAllowed as each checks/*.go declares it
UPGRADE_CHECKS = (
    Check("install-exists", True, _check_install_exists),
    Check("validate-config", True, _check_validate_config),
    Check("disk-availability", True, _check_disk),
    Check("cpu", True, _check_cpu),
    Check("memory", True, _check_memory),
    Check("python", False, _check_python),
)
INSTALL_CHECKS_WITH_POSTGRES = (
    Check("install does not exist", False, _check_install_not_exists),
    Check("validate-config", True, _check_validate_config),
    Check("user", False, _check_user),
    Check("cpu", True, _check_cpu),
    Check("memory", True, _check_memory),
    Check("port", False, _check_port),
    Check("python", False, _check_python),
    Check("disk-availability", True, _check_disk),
    Check("license", False, _check_license),
    Check("db-config", True, _check_pass),
    Check("validate-locale-config", True, _check_pass),
    Check("postgres", True, _check_pass),
)
REPLICATED_MIGRATE_CHECKS = (
    Check("install does not exist", False, _check_install_not_exists),
    Check("python", False, _check_python),
    Check("license", False, _check_license),
    Check("validate-locale-config", True, _check_pass),
)


def _host_view(state: dict[str, Any], path: str) -> str:
    return lifecycle.host_path(state, path)


def _skips(values: list[str] | None) -> list[str]:
    """cobra's StringSlice: ``-s a,b`` and repeated ``-s a -s b`` both add up."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def run_preflight(state: dict[str, Any], checks: tuple[Check, ...], skip: list[str]) -> list[tuple[str, str, str]]:
    """preflight.Run (pkg/preflight/preflight.go): each check not skipped, in order; a check that cannot be
    skipped named in ``skip`` is fatal. Returns (name, status, error) of the checks run."""
    results = []
    for check in checks:
        if check.name in skip:
            if not check.skip_allowed:
                raise CtlError(f"The preflight check '{check.name}' is at a critical level and cannot be skipped.")
            _log(state, "DEBUG", f"skipping preflight check '{check.name}'", echo=False)
            continue
        _log(state, "INFO", f"Running preflight check '{check.name}'")
        status, error = check.run(state)
        results.append((check.name, status, error))
        if error:
            if status == WARNING:
                _log(state, "WARN", f"{check.name} raised a warning: {error}")
            else:
                _log(state, "ERROR", f"preflight {check.name} failed: {error}")
    return results


def print_preflight_results(results: list[tuple[str, str, str]]) -> None:
    """PrintPreflightResults: Critical rows, then Warning, then Pass (error column empty), through Go's
    tabwriter (minwidth 3, padding 1, blanks): each of the first three columns is as wide as its widest cell + 1."""
    ordered = [r for status in (CRITICAL, WARNING, PASS) for r in results if r[1] == status]
    rows = [("#", "Check name", "Status", "Error")]
    rows += [(str(i), name, status, "" if status == PASS else error) for i, (name, status, error) in enumerate(ordered, 1)]
    widths = [max(3, max(len(r[c]) for r in rows) + 1) for c in range(3)]
    for r in rows:
        print("".join(r[c].ljust(widths[c]) for c in range(3)) + r[3])
    sys.stdout.flush()


def should_fail(results: list[tuple[str, str, str]]) -> bool:
    """ShouldFail: only a Critical check fails; Warnings do not."""
    return any(status == CRITICAL for _name, status, _error in results)


def cmd_preflight(state: dict[str, Any], args: argparse.Namespace) -> int:
    """cmd/preflight.go: ``list`` prints the install checks' names; otherwise the install list (``--upgrade``: the
    upgrade list, ``--migrate``: the replicated-migrate list) runs, the table is printed, and only a Critical
    check makes it fatal ("preflight failed", exit 1)."""
    if args.list == "list":
        print("Known preflight install checks:")
        for check in INSTALL_CHECKS_WITH_POSTGRES:
            print("  " + check.name)
        return 0
    checks = UPGRADE_CHECKS if args.upgrade else REPLICATED_MIGRATE_CHECKS if args.migrate \
        else INSTALL_CHECKS_WITH_POSTGRES
    results = run_preflight(state, checks, _skips(args.skip_preflight))
    print_preflight_results(results)
    if should_fail(results):
        raise CtlError("preflight failed")
    return 0


# ---------------------------------------------------------------------------------------------- upgrade
READY_POLL_SECONDS = 1.0  # WaitForYBAReady polls every 10 s; the lab every second
NOT_INSTALLED = "YugabyteDB Anywhere is not installed"


def _own_version(state: dict[str, Any], bundle_dir: str | None) -> str | None:
    """The version this yba-ctl installs: the bundle's version_metadata.json, or the active release's."""
    if bundle_dir:
        return lifecycle.metadata_version(os.path.join(bundle_dir, "version_metadata.json"))
    return lifecycle.installed_version(state)


def wait_for_yba_ready(state: dict[str, Any], version: str) -> None:
    """common.WaitForYBAReady: GET /api/v1/app_version (TLS not verified) until it answers, for at most lab.json
    ``host.upgrade_ready_secs`` (default 120; YBA's wait_for_yba_ready_secs), then the version must match."""
    url = state["platform"]["url"].rstrip("/") + "/api/v1/app_version"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    secs = float(state["host"].get("upgrade_ready_secs", 120))
    deadline = time.monotonic() + secs
    _log(state, "INFO", "Waiting for YBA ready.")
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5, context=ctx) as resp:
                body = resp.read()
            break
        except urllib.error.HTTPError as exc:  # an answer: its body is decoded as the version
            body = exc.read()
            break
        except OSError:
            if time.monotonic() >= deadline:
                raise CtlError(f"YBA at {url} not ready after {int(secs) // 60} minutes") from None
            _log(state, "INFO", f"YBA at {url} not ready. Checking again in {READY_POLL_SECONDS:g} seconds.")
            time.sleep(READY_POLL_SECONDS)
    try:
        running = str(json.loads(body).get("version", ""))
    except (ValueError, AttributeError):
        running = ""
    if running != version:
        raise CtlError(f"Running YBA version {running} does not match expected version {version}")


def cmd_upgrade(state: dict[str, Any], args: argparse.Namespace, bundle_dir: str | None) -> int:
    """cmd/upgrade.go: from the target bundle only; the target must be newer than the installed version; the
    upgrade preflight checks (fatal on Critical, the table printed); then each component upgraded and restarted,
    WaitForYBAReady, every service Running, and PostUpgrade's PrunePastInstalls (one older release kept).

    The lab's units run ``software/active``, so the link moves before the restart (yba-installer's PostUpgrade
    moves it after; its units name ``software/<version>``). Lab fault die-halfway: the platform is stopped and
    software/<target> half laid down when yba-ctl dies (exit 1): the platform stays down, ``active`` unchanged."""
    if not bundle_dir:  # common.RunFromInstalled()
        raise CtlError("Upgrade must be executed from the target yba bundle, not the existing install")
    installed = lifecycle.installed_version(state)
    if installed is None:
        raise CtlError("Cannot upgrade: " + NOT_INSTALLED)
    target = _own_version(state, bundle_dir)
    if target is None:
        raise CtlError(f"Cannot upgrade: no version_metadata.json in {bundle_dir}")
    if not lifecycle.version_less(installed, target):
        raise CtlError(f"upgrade target version '{target}' must be greater then the installed "
                       f"YugabyteDB Anywhere version '{installed}'")
    results = run_preflight(state, UPGRADE_CHECKS, _skips(args.skip_preflight))
    if should_fail(results):
        print_preflight_results(results)
        raise CtlError("preflight failed")
    fault = upgrade_fault(state)
    _log(state, "INFO", f"Upgrading YugabyteDB Anywhere from {installed} to {target}")
    for name in UNIT_CHOICES:
        _log(state, "INFO", "About to upgrade component " + name)
        if name == "yb-platform":
            if services.unit_status(state, name) == services.RUNNING:
                _log(state, "INFO", "Stopping yb-platform")
                services.stop_unit(state, name)
            if fault == "die-halfway":
                lifecycle.lay_down_partial(state, target)
                raise CtlError(f"Upgrade of {name} failed: signal: killed (lab fault die-halfway: "
                               f"software/{target} half laid down)")
            lifecycle.install_software(state, target, active=False)
        _log(state, "INFO", "Completed upgrade of component " + name)
    lifecycle.install_software(state, target, active=True)
    for name in UNIT_CHOICES:
        _log(state, "INFO", "About to restart component " + name)
        try:
            services.stop_unit(state, name)
            services.start_unit(state, name, wait=name != "yb-platform")
        except services.ServiceError as exc:
            raise CtlError(f"Failed restarting {name} after upgrade: {exc}") from exc
        _log(state, "INFO", "Completed restart of component " + name)
    wait_for_yba_ready(state, target)
    for name in UNIT_CHOICES:
        if services.unit_status(state, name) != services.RUNNING:
            raise CtlError(f"{name} is not running! upgrade failed")
    cmd_status(state, None)
    for old in lifecycle.prune_past_installs(state):
        _log(state, "WARN", "Removing old release directory "
             + _host_view(state, os.path.join(paths.software_dir(state), old)))
    _log(state, "INFO", f"Successfully upgraded YugabyteDB Anywhere to version {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # cobra's persistent flags (cmd/root.go: -f/--force, --log_level) go anywhere on the line
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-f", "--force", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--log_level", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="yba-ctl", description="YBA installer (lab stand-in)", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("status", parents=[common])
    sp.add_argument("service", nargs="?", choices=UNIT_CHOICES)
    for name in ("start", "stop", "restart"):
        sp = sub.add_parser(name, parents=[common])
        sp.add_argument("service", nargs="?", choices=UNIT_CHOICES)
    sub.add_parser("version", parents=[common])
    sp = sub.add_parser("createBackup", parents=[common])
    sp.add_argument("output_dir")
    sp.add_argument("--data_dir")
    sp.add_argument("--exclude_prometheus", action="store_true")
    sp.add_argument("--exclude_releases", action="store_true")
    sp.add_argument("--skip_restart", action="store_true")
    sp.add_argument("--verbose", "-v", action="store_true")
    sp = sub.add_parser("preflight", parents=[common])
    sp.add_argument("list", nargs="?", help="list: print the known (install) checks")
    sp.add_argument("--upgrade", action="store_true", help="run the upgrade checks")
    sp.add_argument("--migrate", action="store_true", help="run the replicated-migrate checks")
    sp.add_argument("--skip_preflight", "-s", action="append", metavar="NAME[,NAME]", help="checks to skip by name")
    sp = sub.add_parser("upgrade", parents=[common])
    sp.add_argument("--skip_preflight", "-s", action="append", metavar="NAME[,NAME]", help="checks to skip by name")
    return parser


def main(argv: list[str], lab_json: str, bundle_dir: str | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.geteuid() != 0:
        print("FATAL This command must be run as root (sudo yba-ctl ...)", file=sys.stderr)
        return 1
    try:
        state = paths.load_state(lab_json)
    except OSError as exc:
        print(f"FATAL cannot read the lab state {lab_json}: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "status":
            return cmd_status(state, args.service)
        if args.command in ("start", "stop", "restart"):
            return cmd_service(state, args.command, args.service)
        if args.command == "version":
            return cmd_version(state, bundle_dir)
        if args.command == "createBackup":
            return cmd_create_backup(state, args, bundle_dir)
        if args.command == "preflight":
            return cmd_preflight(state, args)
        if args.command == "upgrade":
            return cmd_upgrade(state, args, bundle_dir)
    except (CtlError, services.ServiceError) as exc:
        _log(state, "FATAL", str(exc))
        return 1
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:], os.environ.get("YBA_LAB_JSON", "lab.json")))
