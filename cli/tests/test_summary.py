"""Unit tests: event tracking, the summary, secret scrubbing."""

import io

from yba_remediation_cli.summary import REDACTED, RunTracker, build_summary, scrub, secret_values


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
