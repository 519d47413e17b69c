"""Command line of the lab: up, reset, status, down and the run-time knobs (see tests/lab/README.md)."""
from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.request
from typing import Any

from ybalab import fleet, hosttree, labstate, scenarios, seed, services, storage
from ybalab.labstate import SCENARIOS, LabError


def _platform_status(state: dict[str, Any]) -> tuple[bool, str]:
    url = state["platform"]["url"] + "/api/v1/app_version"
    ctx = ssl.create_default_context(cafile=state["platform"]["ca_cert"])
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            return True, f"{resp.status} {resp.read(200).decode(errors='replace').strip()}"
    except Exception as exc:  # noqa: BLE001 - any failure is "down"
        return False, f"{type(exc).__name__}: {exc}"


def status() -> int:
    state = labstate.load()
    if state is None:
        print(f"lab: none at {labstate.lab_dir()}")
        return 1
    rows = []
    pg = state["postgres"]
    rows.append(("postgres", services.pg_running(state), f"127.0.0.1:{pg['port']} host pid={services.pg_pid(state)}"))
    s3 = state["s3"]
    rows.append(("s3", services.s3_running(state),
                 f"{s3['endpoint']} (dead endpoint {s3['dead_endpoint']}, black-holed {s3.get('blackhole_endpoint')}, "
                 f"region-aware {s3.get('region_endpoint')}, TLS {s3.get('tls_endpoint')}; "
                 f"storage config: {state.get('storage_variant')})"))
    ssh = state["ssh"]
    rows.append(("sshd", services.sshd_running(state), f"{ssh['user']}@127.0.0.1:{ssh['port']}"))
    root = state["host"]["root"]
    try:
        u = hosttree.usage(root)
        mounted = state["host"]["mounted"]
        ok = (not mounted) or os.path.ismount(root)
        rows.append(("host", ok, f"{root} {'tmpfs' if mounted else 'plain dir'} {u['pct']:.1f}% used"))
    except OSError as exc:
        rows.append(("host", False, str(exc)))
    up_, detail = _platform_status(state)
    scen = state.get("scenario")
    expected_down = scen in ("platform-hung", "platform-crashed")
    if expected_down and not up_:
        detail += f" (expected: scenario {scen})"
    bad = 0
    for name, ok, text in rows:
        print(f"{name:9} {'up  ' if ok else 'DOWN'} {text}")
        bad += not ok
    print(f"{'platform':9} {'up  ' if up_ else 'down' if expected_down else 'DOWN'} {state['platform']['url']} {detail}")
    bad += not (up_ or expected_down)
    print(f"{'scenario':9} {scen}  lab.json {labstate.lab_json(state['dir'])}")
    return 1 if bad else 0


def _loaded() -> dict[str, Any]:
    state = labstate.load()
    if state is None:
        raise LabError(f"no lab at {labstate.lab_dir()}: run `ybalab up` first")
    return state


def backup_speed(args: argparse.Namespace) -> dict[str, Any]:
    """Write (merge) or remove <lab dir>/knobs.json, which the platform reads at each backup's start
    (tasks.backup_knobs); prints the knobs in force."""
    from ybalab.platform import tasks

    state = _loaded()
    path = tasks.knobs_path(state)
    if args.reset:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    knobs: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            knobs = json.load(fh)
    for key, value in (("backup_seconds", args.seconds), ("backup_bytes_per_second", args.bytes_per_second),
                       ("backup_stage_bytes", args.stage_bytes)):
        if value is not None:
            if value < 0:
                raise LabError(f"{key} must not be negative")
            knobs[key] = value
    if knobs:
        labstate.write_atomic(path, json.dumps(knobs, indent=2, sort_keys=True) + "\n", 0o644)
    return {"file": path, "knobs": tasks.backup_knobs(state)}


def _check_version(version: str) -> None:
    from ybalab.platform import api

    if len(api.version_tuple(version)) < 4 or "-b" not in version:
        raise LabError(f"version {version!r}: expected <a>.<b>.<c>.<d>-b<build>, e.g. 2024.2.2.0-b70")


def platform_version(version: str) -> dict[str, Any]:
    """The platform re-installed at another version and restarted on the lab host (lab.json platform.version
    follows); a reset goes back to the scenario's version."""
    from ybalab import hostns

    _check_version(version)
    state = _loaded()
    now = hostns.call(state, "ybalab.platform.lifecycle", "switch_version", version, timeout=180)
    state["platform"]["version"] = now
    labstate.save(state)
    return {"version": now}


def bundle(version: str, host_dir: str) -> dict[str, Any]:
    """The installer bundle tarball for ``version`` built on the lab host (lifecycle.make_bundle_tarball); adds
    where the controller sees it (under host.root)."""
    from ybalab import hostns

    _check_version(version)
    if not host_dir.startswith("/"):
        raise LabError(f"--dir {host_dir!r}: a path on the lab host, absolute")
    state = _loaded()
    out = hostns.call(state, "ybalab.platform.lifecycle", "make_bundle_tarball", version, host_dir, timeout=60)
    out["controller_tarball"] = os.path.join(state["host"]["root"], out["tarball"].lstrip("/"))
    return out


def storage_vars(out: str) -> str:
    """The desired storage settings an operator gives the runbook for the lab (storage_config_configs and the keys
    in storage_config_credentials, as from a vault): the live S3 endpoint and the seeded config's bucket and prefix.
    Written to ``out`` (mode 0600, JSON: ``-e @out``); returns the path."""
    state = _loaded()
    s3 = state["s3"]
    desired = {
        "storage_config_configs": [{"name": seed.STORAGE_CONFIG_NAME, "data": {
            "BACKUP_LOCATION": f"s3://{s3['bucket']}/{seed.BACKUP_PREFIX}", "AWS_HOST_BASE": s3["endpoint"],
            "PATH_STYLE_ACCESS": True, "SIGNING_REGION": s3["region"]}}],
        "storage_config_credentials": {seed.STORAGE_CONFIG_NAME: {"AWS_ACCESS_KEY_ID": s3["access_key"],
                                                                  "AWS_SECRET_ACCESS_KEY": s3["secret_key"]}},
    }
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(desired, fh, indent=2, sort_keys=True)
    return out


def upgrade_fault(fault: str) -> dict[str, Any]:
    """The bundle yba-ctl's upgrade fault from its next run on (a key of <lab dir>/knobs.json; a reset clears it)."""
    from ybalab import yba_ctl

    return yba_ctl.set_upgrade_fault(_loaded(), fault)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ybalab", description="The YBA incident lab (YBA_LAB_DIR selects the lab).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start everything (idempotent) and reset to a scenario")
    p_up.add_argument("--scenario", default="incident", choices=SCENARIOS)
    p_reset = sub.add_parser("reset", help="put the running lab into a scenario")
    p_reset.add_argument("scenario", choices=SCENARIOS)
    sub.add_parser("status", help="one line per component; exit 1 if something is down")
    p_storage = sub.add_parser("storage", help="put the seeded S3 storage config into a fault (or heal it) "
                               "without a reset; prints the data written, secrets masked")
    p_storage.add_argument("variant", nargs="?", choices=(*storage.VARIANTS, "deny-writes"),
                           help="default: the scenario's own (refused; healthy for healthy); deny-writes: S3 "
                                "PutObject under univ-<uuid>/ of the named universes (all when none) is denied")
    p_storage.add_argument("universes", nargs="*", help="with deny-writes: universe names (or uuids)")
    p_speed = sub.add_parser("backup-speed", help="how long the platform's backups take, from the next backup on "
                             "(writes $YBA_LAB_DIR/knobs.json; no restart; a reset clears it)")
    p_speed.add_argument("--seconds", type=float, help="fixed seconds per backup (lab.json "
                         "platform.backup_seconds, default 0)")
    p_speed.add_argument("--bytes-per-second", type=float, help="plus staged bytes / this (platform."
                         "backup_bytes_per_second, default 16 MiB/s; 0 = no size part)")
    p_speed.add_argument("--stage-bytes", type=int, help="bytes staged per backup (platform.backup_stage_bytes, "
                         "default 8 MiB)")
    p_speed.add_argument("--reset", action="store_true", help="remove the knobs file (back to lab.json)")
    p_version = sub.add_parser("platform-version", help="run the platform at another YBA version until the next "
                               "reset (e.g. 2024.2.2.0-b70: serves pause_resume)")
    p_version.add_argument("version")
    p_bundle = sub.add_parser("bundle", help="build the YBA installer bundle tarball of a version on the lab host "
                              "(prints JSON: tarball, sha256, version, dir, ...)")
    p_bundle.add_argument("version", help="e.g. 2.20.1.3-b3")
    p_bundle.add_argument("--dir", default="/tmp/yba-bundles", help="host directory (default /tmp/yba-bundles)")
    p_svars = sub.add_parser("storage-vars", help="write the desired storage settings for the runbook (the live S3 "
                             "endpoint, the seeded config's bucket, the keys: a vars file, mode 0600; prints its path)")
    p_svars.add_argument("--out", required=True, help="the JSON vars file to write (-e @FILE)")
    p_fault = sub.add_parser("upgrade-fault", help="make the bundle yba-ctl's preflight report a Critical check or "
                             "its upgrade die half way, until `upgrade-fault none` or the next reset")
    p_fault.add_argument("fault", choices=("preflight-critical", "die-halfway", "none"))
    p_unis = sub.add_parser("add-universes", help="N more universes like the seeded ones (no schedules), until the "
                            "next reset: for benchmarks")
    p_unis.add_argument("count", type=int)
    p_unis.add_argument("--prefix", default="bench")
    p_down = sub.add_parser("down", help="stop everything this lab started and unmount")
    p_down.add_argument("--purge", action="store_true", help="also remove $YBA_LAB_DIR")
    fleet.add_parser(sub)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fleet":
            return fleet.main(args)
        if args.cmd == "up":
            st = scenarios.up(args.scenario)
            print(f"lab up: scenario {st['scenario']}, {labstate.lab_json(st['dir'])} (reset {st['reset_seconds']} s)")
            return 0
        if args.cmd == "reset":
            st = scenarios.reset(args.scenario)
            print(f"lab reset: scenario {st['scenario']} in {st['reset_seconds']} s")
            return 0
        if args.cmd == "status":
            return status()
        if args.cmd == "storage":
            print(json.dumps(storage.main(args.variant, args.universes), indent=2, sort_keys=True))
            return 0
        if args.cmd == "backup-speed":
            print(json.dumps(backup_speed(args), indent=2, sort_keys=True))
            return 0
        if args.cmd == "add-universes":
            state = _loaded()
            added = seed.add_universes(state, args.count, args.prefix)
            labstate.save(state)
            print(json.dumps({"added": added, "universes": len(state["platform"]["universes"])}, indent=2))
            return 0
        if args.cmd == "bundle":
            print(json.dumps(bundle(args.version, args.dir), indent=2, sort_keys=True))
            return 0
        if args.cmd == "storage-vars":
            print(storage_vars(args.out))
            return 0
        if args.cmd == "upgrade-fault":
            print(json.dumps(upgrade_fault(args.fault), indent=2, sort_keys=True))
            return 0
        if args.cmd == "platform-version":
            print(json.dumps(platform_version(args.version), indent=2, sort_keys=True))
            return 0
        left = scenarios.down(purge=args.purge)
        if left:
            print(f"lab down, but processes still reference the lab dir: {left}", file=sys.stderr)
            return 1
        print("lab down")
        return 0
    except LabError as exc:
        print(f"ybalab: {exc}", file=sys.stderr)
        return 2
