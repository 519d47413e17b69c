"""CLI tests: bad input exits 2 with one stderr line; a real ansible-runner run on localhost writes the summary."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from yba_remediation_cli.main import main, new_run_id

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
    # this checkout's CLI, whichever copy the venv has installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "cli"), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "yba_remediation_cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False, env=env)


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
    # the evidence report beside the summary, its paths on one line, the secret redacted there too
    report = summary_file.with_name("summary-localhost.html")
    assert f"evidence report: {summary_file.with_name('summary-localhost.md')} {report}\n" in proc.stdout
    lines = proc.stdout.splitlines()  # just before the verdict, which stays the last line
    assert lines[-1].startswith("OK: ") and lines[-2].startswith("evidence report: "), proc.stdout
    assert "smoke" in report.read_text() and "supersecret-42" not in report.read_text()


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


def _role_playbook(tmp_path):
    """A playbook whose role declares its arguments (meta/argument_specs.yml), as the collection's roles do."""
    role = tmp_path / "roles" / "sized"
    (role / "meta").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: S\n    options:\n"
        "      sized_percent: {type: int, default: 75, description: P}\n"
        "      sized_mode: {type: str, default: safe, choices: [safe, fast], description: M}\n")
    (role / "tasks" / "main.yml").write_text("- name: Change something\n  ansible.builtin.command: /bin/true\n"
                                             "  changed_when: true\n")
    playbook = tmp_path / "sized.yml"
    playbook.write_text("---\n- name: S\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: sized\n")
    return playbook


def test_malformed_role_argument_is_one_line_and_exit_2(tmp_path):
    playbook = _role_playbook(tmp_path)
    summary_file = tmp_path / "summary.json"
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local",
                    "-e", "sized_percent=abc", "--summary", str(summary_file))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == "yba-remediation: error: sized_percent must be an integer, got 'abc'\n"
    assert "failed: localhost - sized_percent must be an integer, got 'abc'" in proc.stdout
    assert "\x1b[" not in proc.stdout + proc.stderr and "<class" not in proc.stdout + proc.stderr
    assert "rc=2 " in proc.stdout.splitlines()[-1]
    summary = json.loads(summary_file.read_text())
    assert summary["rc"] == 2 and summary["argument_errors"] == ["sized_percent must be an integer, got 'abc'"]
    assert summary["hosts"]["localhost"]["changed"] == 0  # refused before the role's first task

    # two bad variables: still one line, naming both
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", "--quiet",
                    "-e", "sized_percent=7.5 sized_mode=reckless", "--summary", str(summary_file))
    assert proc.returncode == 2
    assert proc.stderr == ("yba-remediation: error: sized_percent must be an integer, got '7.5'; "
                           "sized_mode must be one of: safe, fast, got 'reckless'\n")


def test_result_line_rc_is_the_exit_status(tmp_path):
    playbook = tmp_path / "failing.yml"
    playbook.write_text("---\n- name: F\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                        "    - name: Fail\n      ansible.builtin.fail:\n        msg: planned failure\n")
    summary_file = tmp_path / "summary.json"
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local",
                    "--summary", str(summary_file), "--quiet")
    assert proc.returncode == 1
    assert f" rc={proc.returncode} " in proc.stdout.splitlines()[-1], proc.stdout
    # --quiet: the verdict is the only line on stdout; the evidence report is written all the same
    assert len(proc.stdout.splitlines()) == 1 and summary_file.with_name("summary-localhost.html").is_file()
    summary = json.loads(summary_file.read_text())
    assert summary["rc"] == 1 and summary["ansible_rc"] == 2  # ansible-playbook's own rc is kept apart


def test_failure_output_starts_with_the_cause(tmp_path):
    lines = "\\n".join(["the-first-cause"] + [f"detail {n}" for n in range(30)])
    playbook = tmp_path / "long.yml"
    playbook.write_text("---\n- name: L\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                        f"    - name: Fail long\n      ansible.builtin.fail:\n        msg: \"{lines}\"\n")
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local",
                    "--summary", str(tmp_path / "s.json"))
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("  | [ERROR]: Task failed: Action failed: the-first-cause"), proc.stderr
    assert "\x1b[" not in proc.stderr


def test_run_id_passed_and_recorded(tmp_path):
    playbook = tmp_path / "id.yml"
    playbook.write_text("---\n- name: I\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                        "    - name: Record the run id the play saw\n      ansible.builtin.set_stats:\n"
                        "        data:\n          yba_run_record: \"{{ {inventory_hostname: {'id': yba_run_id}} }}\"\n")
    base = ("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", "--quiet")
    ids = []
    for extra in ((), ()):
        summary_file = tmp_path / f"s{len(ids)}.json"
        proc = _run_cli(*base, *extra, "--summary", str(summary_file))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        summary = json.loads(summary_file.read_text())
        assert re.fullmatch(r"cli-\d{8}T\d{6}Z-\d+", summary["run_id"]), summary["run_id"]
        assert summary["run_record"]["localhost"]["id"] == summary["run_id"]
        assert f"run_id={summary['run_id']} " in proc.stdout
        ids.append(summary["run_id"])
    assert ids[0] != ids[1]  # another process, another id
    proc = _run_cli(*base, "-e", "yba_run_id=awx-job-42", "--summary", str(tmp_path / "given.json"))
    summary = json.loads((tmp_path / "given.json").read_text())
    assert summary["run_id"] == "awx-job-42" and summary["run_record"]["localhost"]["id"] == "awx-job-42"


def test_new_run_id_format():
    when = dt.datetime(2026, 12, 1, 11, 5, 9, tzinfo=dt.timezone.utc)
    assert new_run_id(when, 4321) == "cli-20261201T110509Z-4321"


VERDICT_PLAYBOOK = """---
- name: Judge
  hosts: all
  gather_facts: false
  tasks:
    - name: Record a verdict as backup_sla does
      ansible.builtin.set_stats:
        data:
          yba_run_record: "{{ {inventory_hostname: {'backup_sla': {'nagios': {'exit_code': code | int,
                              'line': 'YBA BACKUP ' ~ name ~ ' - ' ~ inventory_hostname ~ '|stale=' ~ code}}}} }}"
        aggregate: true
"""


@pytest.mark.parametrize("code, name", [(0, "OK"), (1, "WARNING"), (2, "CRITICAL")])
def test_nagios_prints_the_recorded_verdict_and_exits_with_its_code(tmp_path, code, name):
    playbook = tmp_path / "judge.yml"
    playbook.write_text(VERDICT_PLAYBOOK)
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local",
                    "-e", f"code={code}", "-e", f"name={name}", "--nagios", "--summary", str(tmp_path / "s.json"))
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stdout == f"YBA BACKUP {name} - localhost|stale={code}\n"  # nothing else on stdout
    assert "summary=" in proc.stderr


def test_nagios_is_unknown_when_the_run_fails_or_judges_nothing(tmp_path):
    playbook = tmp_path / "failing.yml"
    playbook.write_text("---\n- name: F\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                        "    - name: Fail\n      ansible.builtin.fail:\n        msg: the API is down\n")
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local", "--nagios",
                    "--summary", str(tmp_path / "s.json"))
    assert proc.returncode == 3 and proc.stdout.startswith("YBA BACKUP UNKNOWN - the check run failed: "), proc.stdout
    assert "the API is down" in proc.stdout.splitlines()[0]
    quiet = tmp_path / "quiet.yml"
    quiet.write_text("---\n- name: Q\n  hosts: all\n  gather_facts: false\n  tasks: []\n")
    proc = _run_cli("run", str(quiet), "-i", "localhost,", "-e", "ansible_connection=local", "--nagios",
                    "--summary", str(tmp_path / "q.json"))
    assert proc.returncode == 3 and "recorded no verdict" in proc.stdout
    assert main(["run", "/no/such.yml", "--nagios"]) == 3  # a check that cannot run is UNKNOWN, not CRITICAL


def test_nagios_puts_the_worst_host_first():
    from yba_remediation_cli import nagios
    summary = {"ok": True, "run_record": {
        "a": {"backup_sla": {"nagios": {"exit_code": 0, "line": "YBA BACKUP OK - a|x=1"}}},
        "b": {"backup_sla": {"nagios": {"exit_code": 2, "line": "YBA BACKUP CRITICAL - b\nlong text"}}},
        "c": {"backup_sla": {"nagios": {"exit_code": 3, "line": "YBA BACKUP UNKNOWN - c"}}}}}
    assert nagios.check_output(summary) == (2, ["b: YBA BACKUP CRITICAL - b", "c: YBA BACKUP UNKNOWN - c",
                                                "a: YBA BACKUP OK - a|x=1"])


def test_nagios_keeps_the_verdict_of_a_run_that_fails_on_it(tmp_path):
    """backup_sla_fail_on=warning fails the run after recording a WARNING: the check says WARNING (1), not UNKNOWN."""
    playbook = tmp_path / "judge.yml"
    playbook.write_text(VERDICT_PLAYBOOK + "    - name: Fail on the verdict\n      ansible.builtin.fail:\n"
                                           "        msg: YBA BACKUP WARNING\n")
    proc = _run_cli("run", str(playbook), "-i", "localhost,", "-e", "ansible_connection=local",
                    "-e", "code=1", "-e", "name=WARNING", "--nagios", "--summary", str(tmp_path / "s.json"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == "YBA BACKUP WARNING - localhost|stale=1\n"
