"""Unit tests: event tracking, the summary, secret scrubbing."""

import io

from yba_remediation_cli.summary import REDACTED, RunTracker, build_summary, error_lines, scrub, secret_values


def test_scrub_keys_and_values():
    data = {"yba_api_token": "abc123", "nested": [{"password": "pw", "note": "token is abc123"}],
            "aws_secret_access_key": "s3cr3t", "count": 3, "token_set": True}
    out = scrub(data, {"abc123"})
    assert out["yba_api_token"] == REDACTED
    assert out["nested"][0] == {"password": REDACTED, "note": f"token is {REDACTED}"}
    assert out["aws_secret_access_key"] == REDACTED
    assert out["count"] == 3 and out["token_set"] is True


def test_secret_values_from_vars_and_env():
    found = secret_values({"yba_api_token": "tok-1234", "plain": "visible", "deep": {"secret_key": "sk-5678"}},
                          {"AWS_SECRET_ACCESS_KEY": "aws-9999", "HOME": "/root"})
    assert found == {"tok-1234", "sk-5678", "aws-9999"}


def _events():
    task = {"play": "P", "task": "T", "task_action": "ansible.builtin.command", "task_uuid": "u1"}
    return [
        {"event": "playbook_on_play_start", "event_data": {"play": "P"}},
        {"event": "playbook_on_task_start", "event_data": task},
        {"event": "runner_on_ok", "event_data": dict(task, host="h1", res={"changed": True})},
        {"event": "runner_on_failed", "event_data": dict(task, host="h2", res={"msg": "boom tok-1234\nmore"})},
        {"event": "runner_on_failed", "event_data": dict(task, host="h3", ignore_errors=True, res={})},
        {"event": "playbook_on_stats", "event_data": {
            "ok": {"h1": 1, "h3": 1}, "changed": {"h1": 1}, "failures": {"h2": 1}, "dark": {},
            "artifact_data": {"yba_run_record": {"h1": {"disk": {"freed_bytes": 10}}}}}},
    ]


def test_tracker_progress_and_summary():
    out = io.StringIO()
    tracker = RunTracker(out, {"tok-1234"})
    for event in _events():
        assert tracker(event) is True
    text = out.getvalue()
    assert "PLAY [P]" in text and "TASK [T]" in text
    assert "changed: h1" in text and f"failed: h2 - boom {REDACTED}" in text and "tok-1234" not in text
    assert tracker.failed_hosts() == ["h2"]
    summary = build_summary(tracker, {"playbook": "p.yml", "extra_vars": {"yba_api_token": "tok-1234"}},
                            "failed", 2, lambda: ["last line tok-1234"])
    assert summary["ok"] is False and summary["status"] == "failed"
    assert summary["hosts"]["h1"]["changed"] == 1 and summary["hosts"]["h2"]["failed"] == 1
    assert summary["tasks"] == [{"play": "P", "task": "T", "action": "ansible.builtin.command", "changed": ["h1"],
                                 "failed": ["h2"], "skipped": [], "unreachable": []}]
    assert summary["run_record"] == {"h1": {"disk": {"freed_bytes": 10}}}
    assert summary["extra_vars"]["yba_api_token"] == REDACTED
    assert summary["stdout_tail"] == [f"last line {REDACTED}"]


def test_success_needs_stats_and_no_failed_hosts():
    tracker = RunTracker(None)
    assert build_summary(tracker, {}, "successful", 0, list)["ok"] is False  # no stats event seen
    tracker({"event": "playbook_on_stats", "event_data": {"ok": {"h": 2}}})
    summary = build_summary(tracker, {}, "successful", 0, list)
    assert summary["ok"] is True and "stdout_tail" not in summary


def test_debug_messages_are_shown():
    out = io.StringIO()
    tracker = RunTracker(out)
    task = {"task": "Show", "task_action": "ansible.builtin.debug", "task_uuid": "d"}
    tracker({"event": "playbook_on_task_start", "event_data": task})
    tracker({"event": "runner_on_ok", "event_data": dict(task, host="h", res={"msg": ["line one", "line two"]})})
    tracker({"event": "runner_on_ok", "event_data": dict(task, host="h", res={"msg": "a\nb"})})
    assert "      line one\n      line two\n" in out.getvalue() and "      a\n      b\n" in out.getvalue()


def test_handlers_are_tasks_too():
    out = io.StringIO()
    tracker = RunTracker(out)
    task = {"task": "Restart", "task_action": "ansible.builtin.command", "task_uuid": "hd"}
    tracker({"event": "playbook_on_handler_task_start", "event_data": task})
    tracker({"event": "runner_on_ok", "event_data": dict(task, host="h", res={"changed": True})})
    assert "  HANDLER [Restart]" in out.getvalue()
    assert tracker.task_list()[0]["changed"] == ["h"]


def test_exit_status_and_ansible_rc():
    tracker = RunTracker(None)
    tracker({"event": "playbook_on_stats", "event_data": {"failures": {"h": 1}}})
    summary = build_summary(tracker, {}, "failed", 2, list)
    assert (summary["rc"], summary["ansible_rc"]) == (1, 2)  # rc: what the CLI exits with and prints
    ok = RunTracker(None)
    ok({"event": "playbook_on_stats", "event_data": {"ok": {"h": 1}}})
    assert (build_summary(ok, {}, "successful", 0, list)["rc"]) == 0


def test_argument_validation_failure_is_one_line_and_exit_2():
    out = io.StringIO()
    tracker = RunTracker(out, values={"pct": "abc"})
    task = {"task": "Validating arguments", "task_action": "ansible.builtin.validate_argument_spec", "task_uuid": "v"}
    res = {"msg": "Validation of arguments failed:\nargument 'pct' is of type str and we were unable to convert to "
                  "int: \"'abc'\" cannot be converted to an int",
           "argument_errors": ["argument 'pct' is of type str and we were unable to convert to int: "
                               "\"'abc'\" cannot be converted to an int"],
           "validate_args_context": {"type": "role", "name": "r"}}
    tracker({"event": "playbook_on_task_start", "event_data": task})
    for host in ("h1", "h2"):
        tracker({"event": "runner_on_failed", "event_data": dict(task, host=host, res=res),
                 "stdout": "\x1b[0;31m[ERROR]: Task failed: Action failed: Validation of arguments failed:\x1b[0m"})
    tracker({"event": "playbook_on_stats", "event_data": {"failures": {"h1": 1, "h2": 1}}})
    assert "failed: h1 - pct must be an integer, got 'abc'\n" in out.getvalue()
    assert tracker.argument_errors == ["pct must be an integer, got 'abc'"]
    summary = build_summary(tracker, {}, "failed", 2, list)
    assert summary["rc"] == 2 and summary["argument_errors"] == ["pct must be an integer, got 'abc'"]


def _failed(tracker, host, stdout, ignore=False):
    task = {"task": "T", "task_action": "ansible.builtin.command", "task_uuid": "t-" + host}
    tracker({"event": "runner_on_failed", "event_data": dict(task, host=host, ignore_errors=ignore, res={"msg": "m"}),
             "stdout": stdout})


def test_error_lines_start_at_the_cause_without_colour():
    tracker = RunTracker(None, {"tok-1234"})
    _failed(tracker, "ignored", "fatal: ignored one", ignore=True)
    _failed(tracker, "rescued", "fatal: rescued one")
    long = "\r\n".join(["\x1b[0;31m[ERROR]: the cause tok-1234\x1b[0m"] + [f"\x1b[0;31mline {n}\x1b[0m" for n in range(60)])
    _failed(tracker, "h", "\r\n" + long)
    tracker({"event": "playbook_on_stats", "event_data": {"failures": {"h": 1}, "rescued": {"rescued": 1}}})
    lines = error_lines(tracker, limit=10)
    assert lines[0] == f"[ERROR]: the cause {REDACTED}"
    assert lines[1:9] == [f"line {n}" for n in range(8)]
    assert lines[9] == "... (52 more lines in the run summary's errors)"
    summary = build_summary(tracker, {}, "failed", 2, list)
    assert [e["host"] for e in summary["errors"]] == ["rescued", "h"]
    assert len(summary["errors"][1]["lines"]) == 61 and "\x1b" not in str(summary["errors"])


def test_errors_outside_any_task_are_kept_whole():
    tracker = RunTracker(None)
    for text in ["\x1b[1;35m[WARNING]: something\x1b[0m", "\x1b[0;31m[ERROR]: YAML parsing failed: x\x1b[0m",
                 "\x1b[0;31mOrigin: /p.yml:5:4\x1b[0m", "\x1b[0;31m\x1b[0m", "\x1b[0;31m5    bad: [\x1b[0m"]:
        tracker({"event": "verbose", "stdout": text})
    assert error_lines(tracker) == ["[ERROR]: YAML parsing failed: x", "Origin: /p.yml:5:4", "", "5    bad: ["]


def test_diff_is_printed_with_secrets_scrubbed():
    out = io.StringIO()
    tracker = RunTracker(out, {"s3cr3t-value"}, show_diff=True)
    res = {"changed": True, "results": [
        {"changed": True, "diff": {"before": {"AWS_HOST_BASE": "http://dead:1", "KEY": "s3cr3t-value"},
                                   "after": {"AWS_HOST_BASE": "http://live:2", "KEY": "s3cr3t-value"}}},
        {"changed": False, "diff": {"before": {"x": 1}, "after": {"x": 2}}}]}
    tracker({"event": "runner_on_ok", "event_data": {"host": "h", "task": "t", "task_uuid": "u", "res": res}})
    text = out.getvalue()
    assert '-  "AWS_HOST_BASE": "http://dead:1",' in text and '+  "AWS_HOST_BASE": "http://live:2",' in text
    assert "s3cr3t-value" not in text and '"x"' not in text
    quiet = io.StringIO()
    RunTracker(quiet, set())({"event": "runner_on_ok", "event_data": {"host": "h", "task": "t", "task_uuid": "u",
                                                                      "res": res}})
    assert "AWS_HOST_BASE" not in quiet.getvalue()
