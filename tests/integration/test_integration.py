"""Integration driver: reset the lab to each target's scenario and run the target as a role over real SSH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import ansible.plugins.connection as ansible_connections
import pytest
from ansible import release as ansible_release

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
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        # the CLI of this checkout, whichever copy the venv's yba-remediation script was installed from
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "cli"), env.get("PYTHONPATH", "")])),
    })
    env.update(extra)
    return env


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=environment(**env), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def explain(proc: subprocess.CompletedProcess[str], limit: int = 12000) -> str:
    """The command, its failed tasks first (a long log's tail may not reach them), then the output's tail."""
    output = (proc.stdout + "\n" + proc.stderr).strip()
    lines = output.splitlines()
    failed = ["\n".join(lines[max(i - 2, 0):i + 30])[:4000] for i, line in enumerate(lines)
              if line.startswith(("fatal:", "failed:")) and "...ignoring" not in lines[i + 1:i + 40]]
    head = "failed tasks:\n" + "\n".join(failed[-3:]) + "\n---\n" if failed else ""
    return f"exit {proc.returncode}: {' '.join(map(str, proc.args))}\n{head}{output[-limit:]}"


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


def paramiko_plugin_gone(version: str = ansible_release.__version__,
                         plugin_dir: Path = Path(ansible_connections.__file__).parent) -> str:
    """Why the paramiko_ssh connection plugin is really gone ('' while it is there): ansible-core 2.21 removes it.
    Nothing else (paramiko not importable, ansible-doc failing) counts: the test runs and fails on those."""
    major_minor = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if major_minor >= (2, 21):
        return f"ansible-core {version} removed the paramiko_ssh connection plugin (2.21)"
    if not (plugin_dir / "paramiko_ssh.py").is_file():
        return f"no paramiko_ssh connection plugin in {plugin_dir}"
    return ""


@pytest.mark.parametrize("version, present, gone", [
    ("2.19.14", True, False), ("2.20.0rc1", True, False), ("2.19.14", False, True), ("2.21.0", True, True),
    ("2.22.1", False, True),
])
def test_paramiko_plugin_gone(tmp_path: Path, version: str, present: bool, gone: bool) -> None:
    if present:
        (tmp_path / "paramiko_ssh.py").write_text("# the plugin\n", encoding="utf-8")
    assert bool(paramiko_plugin_gone(version, tmp_path)) is gone


@pytest.mark.deprecated_connection
@pytest.mark.skipif(bool(paramiko_plugin_gone()), reason=paramiko_plugin_gone() or "present")
def test_paramiko_connection() -> None:
    """paramiko_ssh is deprecated in ansible-core and removed in 2.21: this test goes when the plugin does, and
    fails (not skips) while the plugin is there but cannot work."""
    doc = run([str(BIN / "ansible-doc"), "-t", "connection", "paramiko_ssh"])
    assert doc.returncode == 0, f"the paramiko_ssh plugin is installed but ansible-doc cannot load it\n{explain(doc)}"
    probe = run([sys.executable, "-c", "import paramiko"])
    assert probe.returncode == 0, f"the paramiko_ssh plugin is installed but paramiko is not importable\n{explain(probe)}"
    reset(scenario_of(SMOKE_TARGET))
    proc = run(playbook_cmd(SMOKE_TARGET, "-e", "ansible_connection=paramiko_ssh"))
    assert proc.returncode == 0, f"paramiko_ssh run failed\n{explain(proc)}"


def test_paramiko_test_fails_when_paramiko_is_broken(tmp_path: Path) -> None:
    """The plugin present but paramiko unusable is a failure of test_paramiko_connection, never a skip."""
    if paramiko_plugin_gone():
        pytest.skip(paramiko_plugin_gone())
    fake = tmp_path / "paramiko"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('paramiko hidden by the test')\n", encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                f"{Path(__file__).resolve()}::test_paramiko_connection"], PYTHONPATH=path)
    assert proc.returncode == 1 and "1 failed" in proc.stdout, explain(proc)
    assert "paramiko is not importable" in proc.stdout and "skipped" not in proc.stdout, explain(proc)


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def _recap_stats(stdout: str) -> dict[str, dict[str, int]]:
    """Per-host counts from the default callback's PLAY RECAP (ansible-core ships no JSON stdout callback)."""
    recap = stdout[stdout.rindex("PLAY RECAP"):]
    return {m[0]: dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, m[1:])))
            for m in RECAP.findall(recap)}


def test_runner_and_playbook_agree(tmp_path: Path) -> None:
    """The same playbook through the CLI (ansible-runner) and through plain ansible-playbook gives the same result."""
    if COMPARE_PLAYBOOK.is_file():
        # the expected outcome: a diagnosis that reports its findings and succeeds
        playbook, extra, scenario = COMPARE_PLAYBOOK, ["-e", "diagnose_fail_on=none"], "incident"
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
    # both must reach the expected outcome (success), not merely agree: two failures would "agree" too
    assert cli.returncode == 0, f"the CLI failed\n{explain(cli)}"
    assert plain.returncode == 0, f"ansible-playbook failed\n{explain(plain)}"
    runner_stats = {h: {k: s[k] for k in ("ok", "changed", "failed", "unreachable", "skipped")}
                    for h, s in summary["hosts"].items()}
    assert "PLAY RECAP" in plain.stdout, explain(plain)
    assert runner_stats == _recap_stats(plain.stdout)
    assert summary["ok"] == (plain.returncode == 0)
    assert summary["ok"] is True and summary["rc"] == 0
    assert re.fullmatch(r"cli-\d{8}T\d{6}Z-\d+", summary["run_id"]), summary["run_id"]


@pytest.mark.parametrize("playbook, bad, line", [
    ("remediate", "remediate_disk_target_used_percent=abc", "remediate_disk_target_used_percent must be an integer, got 'abc'"),
    ("diagnose", "diagnose_fail_on=sometimes", "diagnose_fail_on must be one of: none, warning, critical, got 'sometimes'"),
])
def test_cli_malformed_extra_var_is_one_line(tmp_path: Path, playbook: str, bad: str, line: str) -> None:
    """A malformed extra var: one line on stderr naming the variable and what it must be, exit 2, nothing changed."""
    summary_file = tmp_path / "summary.json"
    proc = run([str(BIN / "yba-remediation"), "run", playbook, "-i", str(INVENTORY), "-e", bad,
                "--summary", str(summary_file), "--quiet"])
    assert proc.returncode == 2, explain(proc)
    assert proc.stderr == f"yba-remediation: error: {line}\n", explain(proc)
    assert proc.stdout.startswith(f"FAILED: {playbook} status=failed rc=2 "), explain(proc)
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["argument_errors"] == [line]
    assert summary["hosts"]["yba-lab"]["changed"] == 0 and summary["hosts"]["yba-lab"]["failed"] == 1
    failed = [task for task in summary["tasks"] if task["failed"]]
    assert [task["action"] for task in failed] == ["ansible.builtin.validate_argument_spec"], summary["tasks"]
    assert not any(task["changed"] for task in summary["tasks"]), summary["tasks"]
