"""`up`, `reset <scenario>` and `down`: bring the lab's services up and put every part into a scenario's state."""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ybalab import faults, hostns, hostsfile, hosttree, labstate, seed, services
from ybalab.labstate import SCENARIOS, LabError, notice

PLATFORM_VERSION = hosttree.YBA_VERSION


def initial_state(d: str) -> dict[str, Any]:
    used: set[int] = set()

    def port() -> int:
        p = labstate.free_port(used)
        used.add(p)
        return p

    ids = seed.ids()
    hostname = os.path.basename(d.rstrip("/")).replace("_", "-")[-60:] or "yba-lab"
    data = os.path.join(d, "host", "opt", "yugabyte", "data")  # the metadata DB lives on the host volume
    return {
        "dir": d,
        "scenario": None,
        "created": int(time.time()),
        "host": {"root": os.path.join(d, "host"), "mounted": False, "size_mb": hosttree.SIZE_MB,
                 "hostname": hostname,
                 "install_root": "/opt/yugabyte", "yba_ctl_home": "/opt/yba-ctl", "yba_ctl": "/usr/bin/yba-ctl",
                 "python": "/usr/bin/python3",
                 "venv_python": os.path.join(labstate.VENV_BIN, "python"), "manifest": os.path.join(d, "host_manifest.json")},
        "ssh": {"host": "127.0.0.1", "port": port(), "user": services.SSH_USER,
                "key": os.path.join(d, "ssh", "id_ed25519"), "known_hosts": os.path.join(d, "ssh", "known_hosts"),
                "host_key": os.path.join(d, "ssh", "ssh_host_ed25519_key"),
                "pid_file": os.path.join(d, "ssh", "sshd.pid")},
        "postgres": {"host": "127.0.0.1", "port": port(), "user": "postgres", "database": "yugaware",
                     "data_dir": os.path.join(data, "postgres"), "bin_dir": labstate.PG_BIN,
                     "socket_dir": os.path.join(data, "pgsql", "run", "postgresql"),
                     "log": os.path.join(data, "logs", "postgres.log"),
                     "pid_file": os.path.join(data, "postgres", "postmaster.pid")},
        "s3": {"endpoint": "", "port": port(), "dead_endpoint": f"http://127.0.0.1:{labstate.dead_port()}",
               "blackhole_endpoint": f"http://127.0.0.1:{port()}",
               "region_endpoint": f"http://127.0.0.1:{port()}", "tls_endpoint": f"https://127.0.0.1:{port()}",
               "ca_cert": os.path.join(d, "tls", "s3-ca.pem"),
               "host_unreachable_name": services.host_unreachable_name(hostname),
               "host_unreachable_endpoint": "", "host_unreachable_address": services.HOST_UNREACHABLE_ADDRESS,
               "bucket": "yba-backups", "versioned_bucket": "yba-backups-versioned", "region": "us-east-1",
               "eu_bucket": "yba-backups-eu", "eu_region": "eu-west-1",
               # IAM keys: created by moto at every reset (services.s3_reset)
               "access_key": "", "secret_key": "", "readonly_access_key": "", "readonly_secret_key": "",
               "rotated_access_key": "", "rotated_secret_key": "",
               "pid_file": os.path.join(d, "moto.pid")},
        "tls": {"ca_cert": os.path.join(d, "tls", "ca.pem"), "ca_key": os.path.join(d, "tls", "ca.key"),
                "server_cert": os.path.join(d, "tls", "server.pem"),
                "server_key": os.path.join(d, "tls", "server.key")},
        "s3_tls": {"ca_cert": os.path.join(d, "tls", "s3-ca.pem"), "ca_key": os.path.join(d, "tls", "s3-ca.key"),
                   "server_cert": os.path.join(d, "tls", "s3-server.pem"),
                   "server_key": os.path.join(d, "tls", "s3-server.key")},
        "platform": {"url": f"https://127.0.0.1:{port()}", "token": services.new_secret(24),
                     "customer_uuid": ids["customer_uuid"], "storage_config_uuid": ids["storage_config_uuid"],
                     "universes": {u["name"]: u["uuid"] for u in ids["universes"]},
                     "ca_cert": os.path.join(d, "tls", "ca.pem"), "cert": os.path.join(d, "tls", "server.pem"),
                     "host_ca_cert": "/opt/yugabyte/data/yba-installer/certs/ca.pem",
                     "key": os.path.join(d, "tls", "server.key"),
                     "pid_file": os.path.join(d, "platform.pid"), "log": os.path.join(d, "platform.log"),
                     "version": PLATFORM_VERSION,
                     "s3_ca_trust": []},  # CA files the platform trusts for S3 (platform/s3client.py)
    }


def up(scenario: str = "incident") -> dict[str, Any]:
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    d = labstate.lab_dir()
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # postgres and ybaops must traverse it
    parent = os.path.dirname(d)
    if not os.stat(parent).st_mode & 0o001:
        raise LabError(f"{parent} is not traversable by other users; choose another YBA_LAB_DIR")
    fresh = initial_state(d)
    state = _merge(fresh, labstate.load(d) or {})
    # what this checkout provides wins over a lab.json that another checkout wrote into a reused YBA_LAB_DIR
    state["host"]["venv_python"] = fresh["host"]["venv_python"]
    s3 = state["s3"]
    s3["endpoint"] = f"http://127.0.0.1:{s3['port']}"
    services.tls_ensure(state)
    services.ensure_ssh_user()
    hosttree.mount(state)
    labstate.save(state)  # the host reads lab.json from its first moment
    hostns.start(state)
    services.pg_init(state)
    services.pg_start(state)
    services.s3_start(state)
    services.sshd_start(state)
    services.user_known_hosts_add(state)
    hostsfile.controller_add(state)
    hostsfile.host_ensure(state)
    labstate.save(state)
    return reset(scenario, state)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """lab.json from an older lab version gains the keys it lacks; what it has wins (ports, token stay)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def _on_host(state: dict[str, Any], module: str, function: str, *args: Any) -> Any:
    return hostns.call(state, f"ybalab.platform.{module}", function, *args)


def reset(scenario: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    state = state or labstate.load()
    if state is None:
        raise LabError(f"no lab at {labstate.lab_dir()}: run `ybalab up` first")
    t0 = time.monotonic()
    if not hostns.running(state):
        raise LabError("the lab host is not running: run `ybalab up`")
    _on_host(state, "services", "stop_all", ["prometheus", "yb-platform"])
    # After disk-exhausted PostgreSQL cannot start until the volume has room: empty it first (the DB stays).
    hosttree.wipe(state)
    from ybalab.hostinit import HOST_ROOT_DIRS
    hostns.run(state, ["find", *HOST_ROOT_DIRS, "-mindepth", "1", "-delete"])
    services.pg_start(state)
    for check, name in ((services.s3_running, "s3"), (services.sshd_running, "sshd")):
        if not check(state):
            raise LabError(f"{name} is not running: run `ybalab up`")
    state["scenario"] = scenario
    state["platform"]["version"] = PLATFORM_VERSION  # the tree below installs it (`ybalab platform-version` undone)
    state["platform"]["universes"] = {u["name"]: u["uuid"] for u in seed.ids()["universes"]}  # add-universes undone
    labstate.save(state)
    try:  # run-time knobs (`ybalab backup-speed`) do not outlive a reset
        os.unlink(os.path.join(state["dir"], "knobs.json"))
    except FileNotFoundError:
        pass

    with ThreadPoolExecutor(max_workers=1) as pool:
        # S3 (new IAM keys, which the seeded storage config carries) while the DB is rebuilt; the bucket's objects
        # (listed from the seeded DB) while the index is corrupted and the host tree is built.
        s3_ready = pool.submit(services.s3_reset, state)
        seed.rebuild_db(state)
        s3_ready.result()
        labstate.save(state)
        seed.seed(state, scenario)
        # read before the index is corrupted
        bucket = pool.submit(_seed_bucket, state, _bucket_objects(state) + seed.bucket_extras(state))
        corrupted = faults.corrupt_index(state) if scenario != "healthy" else None
        # The DB and the host tree share the host volume: the tree is filled to the scenario's usage only once the
        # database has its size (and a checkpoint has trimmed its WAL).
        services.psql(state, "CHECKPOINT;")
        hosttree.build(state, scenario)
        bucket.result()
    if corrupted:
        state["fault"] = {"corrupt_index": corrupted}
    else:
        state.pop("fault", None)
    state.pop("platform_error", None)
    state["reset_seconds"] = round(time.monotonic() - t0, 2)
    labstate.save(state)
    try:
        _on_host(state, "services", "start_unit", "prometheus")
        _on_host(state, "lifecycle", "start")
        if scenario != "healthy":
            seed.seed_live_task(state)
        if scenario == "platform-hung":
            _on_host(state, "lifecycle", "hang")
        elif scenario == "platform-crashed":
            _on_host(state, "lifecycle", "crash")
    except LabError as exc:  # the simulator's failure must not hide the rest of the lab
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        first = f"{lines[0]} {lines[-1]}" if lines else type(exc).__name__
        notice(f"platform did not start: {first} (see {state['platform']['log']}); "
               "`ybalab status` shows it DOWN")
        state["platform_error"] = first
        labstate.save(state)
        if scenario != "healthy":
            seed.seed_live_task(state)
    if scenario == "disk-exhausted":
        state["fault"]["disk_exhausted"] = exhaust_disk(state)
    state["reset_seconds"] = round(time.monotonic() - t0, 2)
    labstate.save(state)
    return state


def exhaust_disk(state: dict[str, Any]) -> dict[str, Any]:
    """The escalation's end state: the volume at 100% (a JVM heap dump took the last of it), PostgreSQL crashed
    and refusing to start ("could not write lock file ... No space left on device"; the host's Restart=always
    keeps trying), the platform up but without its DB, the UI unresponsive."""
    # PostgreSQL dies first; while it is down the last bytes go (what it freed included), so the host's
    # Restart=always cannot start it again until someone frees space.
    _on_host(state, "lifecycle", "crash_postgres")
    filler = hosttree.fill_to_full(state)
    if services.pg_running(state):
        raise LabError("disk-exhausted: PostgreSQL still accepts connections on a full volume")
    return {"filler": filler, "usage": hosttree.usage(state["host"]["root"])}


def _bucket_objects(state: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Objects for the recent Completed backups (the last ``seed.LIFECYCLE_DAYS`` days before the newest one), so
    the bucket looks real: per keyspace location (the V2 layout the platform writes, tasks.storage_location) a data
    object and YBC's ``success`` marker. Older backups have none: the incident's bucket lifecycle rule removed
    them (and moto stores about 100 objects a second, so the whole history would make a reset slow). The incident's
    dangling backup (lab.json ``seeded.dangling``) has none either."""
    dangling = set((state.get("seeded") or {}).get("dangling") or [])
    rows = services.psql(state, f"""
SELECT backup_info::json->'backupList'->0->>'storageLocation', backup_uuid FROM backup
WHERE state = 'Completed'
  AND create_time > (SELECT max(create_time) FROM backup WHERE state = 'Completed')
      - interval '{seed.LIFECYCLE_DAYS} days';""", tuples=True).stdout.split()
    bucket = state["s3"]["bucket"]
    objects = []
    for line in rows:
        loc, b = line.split("|")
        if b in dangling:
            continue
        prefix = loc.split(f"s3://{bucket}/", 1)[1]
        tablet = b.replace("-", "")
        objects.append((f"{prefix}/tablet-{tablet}/000000.sst", b"\0" * 64))
        marker = {"backupUUID": b, "keyspace": "yugabyte", "backupType": "PGSQL_TABLE_TYPE"}
        objects.append((f"{prefix}/success", json.dumps(marker).encode()))
    return objects


def _seed_bucket(state: dict[str, Any], objects: list[tuple[str, bytes]]) -> None:
    s3 = services.s3_client(state)
    bucket = state["s3"]["bucket"]
    with ThreadPoolExecutor(max_workers=8) as pool:  # boto3 clients are thread-safe
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects))


def down(purge: bool = False) -> list[int]:
    d = labstate.lab_dir()
    state = labstate.load(d)
    if state is not None:
        hostns.stop(state)  # its PID 1 stops the units (PostgreSQL cleanly), the kernel ends the rest
        services.user_known_hosts_remove(state)
        hostsfile.controller_remove(state)
        services.s3_stop(state)
        hosttree.umount(state)
    for pid in labstate.processes_referencing(d, killable_only=True):
        labstate.kill_tree(pid, timeout=2)
    left = [p for p in labstate.processes_referencing(d) if labstate.pid_alive(p)]
    if purge and os.path.isdir(d):
        if state is not None and os.path.ismount(state["host"]["root"]):
            raise LabError(f"{state['host']['root']} is still mounted; not purging")
        shutil.rmtree(d)
    return left
