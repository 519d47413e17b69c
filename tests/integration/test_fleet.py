"""A fleet of three lab YBA hosts (issue 14, "Fleet scale"): yba-lab-1 healthy, yba-lab-2 broken, yba-lab-3 with its
sshd stopped (unreachable). Diagnose and remediate run across all three through the CLI with forks 3 and report per
host; one failing or unreachable host does not stop the others; `-e yba_serial=1` rolls the hosts one at a time;
the host lock is per host. (Ansible ends a serial play when a whole batch failed: with yba_serial=1 the unreachable
host is the last one, as docs/fleet.md explains.)

The test starts and stops its own fleet (`ybalab fleet up 3` in $YBA_FLEET_DIR, default $YBA_LAB_DIR-fleet) and
fails when it cannot start. It needs no single lab: every run is limited to the group yba_fleet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventory" / "lab"
BIN = Path(sys.executable).parent
LAB_DIR = os.environ.get("YBA_LAB_DIR", "/tmp/yba-lab").rstrip("/")
FLEET_DIR = Path(os.environ.get("YBA_FLEET_DIR") or LAB_DIR + "-fleet")
HOSTS = ("yba-lab-1", "yba-lab-2", "yba-lab-3")
HEALTHY, BROKEN, UNREACHABLE = HOSTS
LOCK = "run/lock/yba-remediation.lock"  # host_lock's file on the host, under its root
TIMEOUT = 600

sys.path.insert(0, str(REPO / "tests" / "lab"))
from ybalab import hostns, labstate, services  # noqa: E402  pylint: disable=wrong-import-position


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "YBA_LAB_DIR": LAB_DIR,
        "YBA_FLEET_DIR": str(FLEET_DIR),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "cli"), str(REPO / "tests" / "lab"),
                                                    env.get("PYTHONPATH", "")])),
    })
    return env


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def explain(proc: subprocess.CompletedProcess[str], limit: int = 6000) -> str:
    return f"exit {proc.returncode}: {' '.join(map(str, proc.args))}\n{(proc.stdout + proc.stderr)[-limit:]}"


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "ybalab", "fleet", *args])


def host_state(name: str) -> dict[str, Any]:
    state = labstate.load(str(FLEET_DIR / name))
    assert state is not None, f"no lab.json for fleet host {name} in {FLEET_DIR}"
    return state


def lock_of(name: str) -> dict[str, Any] | None:
    """The host lock file as the host sees it (its own /run), read through its PID 1's root; None when absent."""
    pid = hostns.init_pid(host_state(name))
    assert pid is not None, f"fleet host {name} is not running"
    try:
        return json.loads(Path(f"/proc/{pid}/root/{LOCK}").read_text(encoding="utf-8") or "{}")
    except FileNotFoundError:
        return None


def cli(playbook: str, summary: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run([str(BIN / "yba-remediation"), "run", playbook, "-i", str(INVENTORY), "--limit", "yba_fleet",
                "--forks", "3", "--summary", str(summary), "--quiet", *extra])
    assert summary.is_file(), f"no run summary\n{explain(proc)}"
    return proc, json.loads(summary.read_text(encoding="utf-8"))


def adhoc_lock(host: str, state: str, owner: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "ansible"), "-i", str(INVENTORY), host, "-m", "yba.remediation.host_lock",
                "-a", f"host_root=/ owner={owner} state={state}"])


class LockWatch:
    """Polls the host lock of each host (every 0.2 s) while a run goes on: when each was seen held, and by whom."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.seen: dict[str, list[tuple[float, str]]] = {n: [] for n in names}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for name in self.names:
                try:
                    lock = lock_of(name)
                except (OSError, ValueError):  # replaced between open and read: the next poll sees it
                    continue
                if lock is not None:
                    self.seen[name].append((time.monotonic(), str(lock.get("owner"))))
            time.sleep(0.2)

    def __enter__(self) -> "LockWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def span(self, name: str, owner: str) -> tuple[float, float]:
        times = [t for t, o in self.seen[name] if o == owner]
        assert times, f"the lock of {owner} was never seen on {name}: {self.seen}"
        return min(times), max(times)


@pytest.fixture(scope="module", autouse=True)
def three_hosts() -> Any:
    """yba-lab-1 healthy, yba-lab-2 incident, yba-lab-3 incident with its sshd stopped. Never skipped."""
    fleet("down", "--purge")  # whatever an earlier run left
    proc = fleet("up", "3", "--scenario", "healthy,incident,incident")
    if proc.returncode != 0:
        fleet("down", "--purge")
        pytest.fail(f"the fleet did not start\n{explain(proc)}", pytrace=False)
    services.sshd_stop(host_state(UNREACHABLE))
    yield
    proc = fleet("down", "--purge")
    assert proc.returncode == 0, explain(proc)


def test_inventory_lists_the_fleet() -> None:
    proc = run([str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"])
    assert proc.returncode == 0, explain(proc)
    inv = json.loads(proc.stdout)
    assert inv["yba_fleet"]["hosts"] == list(HOSTS)
    assert set(HOSTS) <= set(inv["yba"]["hosts"]) | set(inv["yba_fleet"]["hosts"])
    for name in HOSTS:
        assert inv["_meta"]["hostvars"][name]["yba_lab_dir"] == str(FLEET_DIR / name)


def test_diagnose_reports_each_host(tmp_path: Path) -> None:
    proc, summary = cli("diagnose", tmp_path / "diagnose.json")
    assert proc.returncode != 0, "an unreachable host must fail the run"
    hosts = summary["hosts"]
    assert hosts[UNREACHABLE]["unreachable"] == 1, hosts
    assert hosts[HEALTHY]["failed"] == hosts[HEALTHY]["unreachable"] == 0, hosts
    assert hosts[BROKEN]["failed"] == hosts[BROKEN]["unreachable"] == 0, hosts
    record = summary["run_record"]
    assert UNREACHABLE not in record
    assert record[HEALTHY]["diagnosis"]["findings"] == [], record[HEALTHY]["diagnosis"]
    ids = set(record[BROKEN]["diagnosis"]["ids"])
    assert {"disk_full", "metadb_index_corrupt", "storage_unreachable"} <= ids, ids
    assert summary["failed_hosts"] == [UNREACHABLE], summary["failed_hosts"]
    # the evidence report per diagnosed host, beside the summary
    assert (tmp_path / f"diagnose-{HEALTHY}.html").is_file() and (tmp_path / f"diagnose-{BROKEN}.html").is_file()


HOST_FINDINGS = {"disk_full", "metadb_index_corrupt"}


def test_remediate_all_at_once_with_a_host_locked(tmp_path: Path) -> None:
    """Another run holds yba-lab-1's lock: that host stops at the lock, yba-lab-2 is repaired under its own lock at
    the same time, yba-lab-3 is unreachable; neither stops the others."""
    proc = adhoc_lock(HEALTHY, "present", "other-run")
    assert proc.returncode == 0, explain(proc)
    try:
        with LockWatch((HEALTHY, BROKEN)) as watch:
            proc, summary = cli("remediate", tmp_path / "remediate.json", "-e", "remediate_backups=false",
                                "-e", "yba_lock_wait_timeout=0")
        assert proc.returncode != 0
        hosts = summary["hosts"]
        assert hosts[UNREACHABLE]["unreachable"] == 1, hosts
        assert hosts[HEALTHY]["failed"] == 1 and hosts[HEALTHY]["changed"] == 0, hosts
        locked = [e for e in summary["errors"] if e["host"] == HEALTHY]
        assert locked and "other-run" in "\n".join(locked[0]["lines"]), summary["errors"]
        assert hosts[BROKEN]["failed"] == hosts[BROKEN]["unreachable"] == 0, hosts
        rem = summary["run_record"][BROKEN]["remediation"]
        assert HOST_FINDINGS <= set(rem["fixed"]) and rem["failed_step"] is None, rem
        assert sorted(summary["failed_hosts"]) == [HEALTHY, UNREACHABLE]
        # each host its own lock: yba-lab-2's run held its lock while yba-lab-1 kept the other run's, and released it
        run_id = summary["run_id"]
        assert watch.span(BROKEN, run_id) and watch.span(HEALTHY, "other-run")
        assert all(owner == "other-run" for _t, owner in watch.seen[HEALTHY]), watch.seen[HEALTHY][:5]
        assert lock_of(BROKEN) is None
        assert (lock_of(HEALTHY) or {}).get("owner") == "other-run"
    finally:
        adhoc_lock(HEALTHY, "absent", "other-run")
    assert lock_of(HEALTHY) is None


def test_remediate_one_host_at_a_time(tmp_path: Path) -> None:
    """-e yba_serial=1, after the run above: yba-lab-1 (healthy), then yba-lab-2 (repaired above), then yba-lab-3
    (unreachable: reported). Nothing changes on the two reachable hosts (a second run is idempotent), and their locks
    show the hosts one after the other."""
    with LockWatch((HEALTHY, BROKEN)) as watch:
        proc, summary = cli("remediate", tmp_path / "serial.json", "-e", "remediate_backups=false",
                            "-e", "yba_serial=1")
    assert proc.returncode != 0
    hosts = summary["hosts"]
    for name in (HEALTHY, BROKEN):
        assert hosts[name]["failed"] == hosts[name]["unreachable"] == hosts[name]["changed"] == 0, hosts
        rem = summary["run_record"][name]["remediation"]
        assert rem["fixed"] == rem["remaining"] == [] and rem["failed_step"] is None, rem
    assert hosts[UNREACHABLE]["unreachable"] == 1, hosts
    assert summary["failed_hosts"] == [UNREACHABLE]
    run_id = summary["run_id"]
    healthy_last = watch.span(HEALTHY, run_id)[1]
    broken_first = watch.span(BROKEN, run_id)[0]
    assert healthy_last < broken_first, f"yba-lab-2 started before yba-lab-1 was done: {watch.seen}"
    assert lock_of(HEALTHY) is None and lock_of(BROKEN) is None
