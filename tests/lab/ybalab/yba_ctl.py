"""The yba-ctl stand-in of the lab (FACTS 1.4/1.5): status, start/stop/restart, version, createBackup, upgrade.

Installed at <host.root>/usr/bin/yba-ctl by ybalab.platform.lifecycle.install_software, with the path of
lab.json baked in; a bundle copy made by ``lifecycle.make_bundle`` runs ``upgrade``. Services are managed
by the lab's mini-systemd (ybalab.platform.services), which honours unit drop-ins.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from typing import Any

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


def cmd_version(state: dict[str, Any]) -> int:
    v = lifecycle.installed_version(state) or "unknown"
    print(f"YBA Installer: {v}")
    print(f"YugabyteDB Anywhere: {v}")
    return 0


def _host_arg(state: dict[str, Any], path: str) -> str:
    """A path given on the host's command line, seen through host.root (already-mapped paths pass through)."""
    root = state["host"]["root"].rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path
    return paths.on_host(state, os.path.abspath(path))


def cmd_create_backup(state: dict[str, Any], args: argparse.Namespace) -> int:
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


def _vtuple(version: str) -> tuple[int, ...]:
    number, _sep, build = version.partition("-b")
    return tuple(int(x) for x in number.split(".")) + (int(build or 0),)


def cmd_upgrade(state: dict[str, Any], args: argparse.Namespace, bundle_dir: str | None) -> int:
    if not bundle_dir:
        raise CtlError("upgrade must be run from the new bundle directory: cd <bundle> && sudo ./yba-ctl upgrade")
    import json

    with open(os.path.join(bundle_dir, "version_metadata.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    target = f"{meta['version_number']}-b{meta['build_number']}"
    current = lifecycle.installed_version(state)
    if current is None:
        raise CtlError("YugabyteDB Anywhere is not installed; use install")
    if _vtuple(target) <= _vtuple(current):
        raise CtlError(f"Cannot upgrade: target version {target} is not newer than the installed version {current}")
    if not args.skip_preflight:
        need = int(state["host"].get("upgrade_min_free_mb", 25 * 1024 * int(state["host"].get("size_mb", 128))
                                     // (200 * 1024) or 16))
        st = os.statvfs(paths.install_root(state))
        free_mb = st.f_bavail * st.f_frsize / (1 << 20)
        if free_mb < need:
            raise CtlError(f"preflight check disk-availability failed: {free_mb:.1f} MiB free under "
                           f"{state['host'].get('install_root', '/opt/yugabyte')}, {need} MiB required "
                           "(the lab's scale of 25 GiB)")
    _log(state, "INFO", f"Upgrading YugabyteDB Anywhere from {current} to {target}")
    services.stop_unit(state, "yb-platform")
    lifecycle.install_software(state, target, active=True)
    lifecycle.prune_past_installs(state)
    services.start_all(state)
    _log(state, "INFO", f"Upgrade to {target} completed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yba-ctl", description="YBA installer (lab stand-in)")
    parser.add_argument("-f", "--force", action="store_true")
    parser.add_argument("--log_level", default="info")
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("status")
    sp.add_argument("service", nargs="?", choices=UNIT_CHOICES)
    for name in ("start", "stop", "restart"):
        sp = sub.add_parser(name)
        sp.add_argument("service", nargs="?", choices=UNIT_CHOICES)
    sub.add_parser("version")
    sp = sub.add_parser("createBackup")
    sp.add_argument("output_dir")
    sp.add_argument("--data_dir")
    sp.add_argument("--exclude_prometheus", action="store_true")
    sp.add_argument("--exclude_releases", action="store_true")
    sp.add_argument("--skip_restart", action="store_true")
    sp.add_argument("--verbose", "-v", action="store_true")
    sp = sub.add_parser("upgrade")
    sp.add_argument("--skip_preflight", "-s", action="store_true")
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
            return cmd_version(state)
        if args.command == "createBackup":
            return cmd_create_backup(state, args)
        if args.command == "upgrade":
            return cmd_upgrade(state, args, bundle_dir)
    except (CtlError, services.ServiceError) as exc:
        _log(state, "FATAL", str(exc))
        return 1
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:], os.environ.get("YBA_LAB_JSON", "lab.json")))
