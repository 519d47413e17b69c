"""Integration driver: reset the lab to each target's scenario and run the target as a role over real SSH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGETS_DIR = REPO / "tests" / "integration" / "targets"
TARGET_PLAYBOOK = REPO / "tests" / "integration" / "target.yml"
INVENTORY = REPO / "inventory" / "lab"
LAB_DIR = Path(os.environ.get("YBA_LAB_DIR", "/tmp/yba-lab"))
BIN = Path(sys.executable).parent
SMOKE_TARGET = "lab_smoke"
# a read-only playbook both ways of running must agree on; falls back to the smoke target
COMPARE_PLAYBOOK = REPO / "playbooks" / "diagnose.yml"
TIMEOUT = int(os.environ.get("YBA_INTEGRATION_TIMEOUT", "900"))


def discover_targets() -> list[str]:
    return sorted(p.parent.parent.name for p in TARGETS_DIR.glob("*/tasks/main.yml"))


def scenario_of(target: str) -> str:
    marker = TARGETS_DIR / target / "scenario"
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else "incident"


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "YBA_LAB_DIR": str(LAB_DIR),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
        "ANSIBLE_ROLES_PATH": str(TARGETS_DIR),
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    })
    env.update(extra)
    return env


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=environment(**env), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def explain(proc: subprocess.CompletedProcess[str], limit: int = 12000) -> str:
    output = (proc.stdout + "\n" + proc.stderr).strip()
    return f"exit {proc.returncode}: {' '.join(map(str, proc.args))}\n{output[-limit:]}"


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "ybalab", *args], PYTHONPATH=str(REPO / "tests" / "lab"))


def reset(scenario: str) -> None:
    proc = lab("reset", scenario)
    assert proc.returncode == 0, f"lab reset {scenario} failed\n{explain(proc)}"


def playbook_cmd(target: str, *extra: str) -> list[str]:
    return [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), str(TARGET_PLAYBOOK),
            "-e", f"yba_target={target}", *extra]


@pytest.fixture(scope="session", autouse=True)
def lab_up() -> None:
    """The lab must already be up (make test starts it): a missing lab is an error, never a skip."""
    if not (LAB_DIR / "lab.json").is_file():
        pytest.fail(f"no lab in {LAB_DIR} (lab.json missing): run `make lab-up` or `make test`", pytrace=False)
    proc = lab("status")
    if proc.returncode != 0:
        pytest.fail(f"lab in {LAB_DIR} is not healthy: {explain(proc)}", pytrace=False)


def test_targets_exist() -> None:
    assert discover_targets(), f"no integration targets under {TARGETS_DIR}"


@pytest.mark.parametrize("target", discover_targets())
def test_target(target: str) -> None:
    reset(scenario_of(target))
    proc = run(playbook_cmd(target))
    assert proc.returncode == 0, f"target {target} (scenario {scenario_of(target)}) failed\n{explain(proc)}"


def _paramiko_available() -> bool:
    proc = run([str(BIN / "ansible-doc"), "-t", "connection", "paramiko_ssh"])
    return proc.returncode == 0


@pytest.mark.deprecated_connection
@pytest.mark.skipif(not _paramiko_available(), reason="paramiko_ssh connection plugin absent (removed in ansible-core 2.21)")
def test_paramiko_connection() -> None:
    """paramiko_ssh is deprecated in ansible-core and removed in 2.21: this test goes when the plugin does."""
    reset(scenario_of(SMOKE_TARGET))
    proc = run(playbook_cmd(SMOKE_TARGET, "-e", "ansible_connection=paramiko_ssh"))
    assert proc.returncode == 0, f"paramiko_ssh run failed\n{explain(proc)}"


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def _recap_stats(stdout: str) -> dict[str, dict[str, int]]:
    """Per-host counts from the default callback's PLAY RECAP (ansible-core ships no JSON stdout callback)."""
    recap = stdout[stdout.rindex("PLAY RECAP"):]
    return {m[0]: dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, m[1:])))
            for m in RECAP.findall(recap)}


def test_runner_and_playbook_agree(tmp_path: Path) -> None:
    """The same playbook through the CLI (ansible-runner) and through plain ansible-playbook gives the same result."""
    if COMPARE_PLAYBOOK.is_file():
        playbook, extra, scenario = COMPARE_PLAYBOOK, [], "incident"
    else:
        playbook, extra, scenario = TARGET_PLAYBOOK, ["-e", f"yba_target={SMOKE_TARGET}"], scenario_of(SMOKE_TARGET)

    reset(scenario)
    summary_file = tmp_path / "summary.json"
    cli = run([str(BIN / "yba-remediation"), "run", str(playbook), "-i", str(INVENTORY), *extra,
               "--summary", str(summary_file), "--quiet"])
    assert summary_file.is_file(), f"the CLI wrote no summary\n{explain(cli)}"
    summary = json.loads(summary_file.read_text(encoding="utf-8"))

    reset(scenario)
    plain = run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), str(playbook), *extra],
                ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    assert (plain.returncode == 0) == (cli.returncode == 0), f"CLI:\n{explain(cli)}\nansible-playbook:\n{explain(plain)}"
    runner_stats = {h: {k: s[k] for k in ("ok", "changed", "failed", "unreachable", "skipped")}
                    for h, s in summary["hosts"].items()}
    assert "PLAY RECAP" in plain.stdout, explain(plain)
    assert runner_stats == _recap_stats(plain.stdout)
    assert summary["ok"] == (plain.returncode == 0)
