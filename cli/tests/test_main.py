"""CLI tests: bad input exits 2 with one stderr line; a real ansible-runner run on localhost writes the summary."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from yba_remediation_cli.main import main

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """---
- name: Trivial play
  hosts: all
  gather_facts: false
  tasks:
    - name: Report a change
      ansible.builtin.command: /bin/true
      changed_when: true
    - name: Nothing to do
      ansible.builtin.debug:
        msg: "token {{ yba_api_token }}"
    - name: Emit a run record
      ansible.builtin.set_stats:
        data:
          # ansible-core 2.19 does not template dict keys: build the per-host mapping in one expression
          yba_run_record: "{{ {inventory_hostname: {'smoke': {'done': true, 'token': yba_api_token}}} }}"
        aggregate: true
"""


@pytest.mark.parametrize("argv, message", [
    (["run", "no_such_playbook"], "unknown playbook 'no_such_playbook'"),
    (["run", "/no/such.yml"], "playbook file not found"),
    (["run", "PLAYBOOK", "-i", "/no/such/inventory"], "inventory not found"),
    (["run", "PLAYBOOK", "-e", "not-a-pair"], "malformed extra vars"),
    (["run", "PLAYBOOK", "-e", "{oops"], "malformed extra vars"),
    (["frobnicate"], "invalid choice"),
    ([], "required: command"),
])
def test_bad_input_exits_2(tmp_path, capsys, argv, message):
    playbook = tmp_path / "p.yml"
    playbook.write_text(PLAYBOOK)
    code = main([str(playbook) if a == "PLAYBOOK" else a for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_list_runs(capsys):
    assert main(["list"]) == 0


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "yba_remediation_cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)


def test_real_run_on_localhost(tmp_path):
    playbook = tmp_path / "trivial.yml"
    playbook.write_text(PLAYBOOK)
    summary_file = tmp_path / "out" / "summary.json"
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local",
                    "-e", f"ansible_python_interpreter={sys.executable}", "-e", "yba_api_token=supersecret-42",
                    "--summary", str(summary_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TASK [Report a change]" in proc.stdout and "changed: localhost" in proc.stdout
    assert "supersecret-42" not in proc.stdout
    raw = summary_file.read_text()
    assert "supersecret-42" not in raw
    summary = json.loads(raw)
    assert summary["ok"] is True and summary["status"] == "successful" and summary["rc"] == 0
    assert summary["hosts"]["localhost"]["changed"] == 1 and summary["hosts"]["localhost"]["failed"] == 0
    assert [t["task"] for t in summary["tasks"] if t["changed"]] == ["Report a change"]
    assert summary["run_record"]["localhost"]["smoke"]["done"] is True
    assert summary["run_record"]["localhost"]["smoke"]["token"] == "********"


def test_real_run_failure_and_check(tmp_path):
    playbook = tmp_path / "failing.yml"
    playbook.write_text("---\n- name: F\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                        "    - name: Fail\n      ansible.builtin.fail:\n        msg: planned failure\n")
    summary_file = tmp_path / "summary.json"
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", "--check",
                    "--summary", str(summary_file), "--quiet")
    assert proc.returncode == 1
    summary = json.loads(summary_file.read_text())
    assert summary["ok"] is False and summary["check"] is True
    assert summary["failed_hosts"] == ["localhost"]
    assert summary["tasks"][0]["failed"] == ["localhost"]
