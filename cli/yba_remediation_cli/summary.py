"""Turn ansible-runner events into live progress lines and a JSON run summary, with secrets scrubbed."""

from __future__ import annotations

import difflib
import json
import re
import sys
from typing import Any, Callable, Iterable, Mapping, TextIO

from yba_remediation_cli.argerrors import describe_all, plain

REDACTED = "********"
SECRET_KEY = re.compile(r"(?i)(token|password|passwd|secret|access_key|private_key|api_key|credential)")
SECRET_ENV = ("YBA_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN")
HOST_RESULT = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}
# what a role shows the operator (e.g. the diagnosis report) is printed under its task
DEBUG_ACTIONS = ("ansible.builtin.debug", "debug")
# the action that validates a role's arguments (meta/argument_specs.yml) before its first task
VALIDATE_ACTIONS = ("ansible.builtin.validate_argument_spec", "validate_argument_spec")
# ansible-playbook's rc on failure (2: a host failed, 4: unreachable or a parse error, ...) is not the CLI's
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ERROR_LINES = 200  # at most this many lines of error text per failure are kept in the summary
STAT_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
             "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


def _lines(msg: Any) -> list[str]:
    if isinstance(msg, list):
        return [str(item) for item in msg]
    return str(msg).splitlines()


def _text(side: Any) -> list[str]:
    if isinstance(side, str):
        return side.splitlines()
    return json.dumps(side, indent=2, sort_keys=True, default=str).splitlines() if side not in (None, {}) else []


def diff_lines(res: Mapping[str, Any]) -> list[str]:
    """The unified diff of every before/after a task result carries (its own ``diff``, or its loop items')."""
    diffs: list[Any] = []
    for holder in [res] + [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("changed")]:
        value = holder.get("diff")
        diffs.extend(value if isinstance(value, list) else [value] if value else [])
    out: list[str] = []
    for diff in diffs:
        if not isinstance(diff, dict) or ("before" not in diff and "after" not in diff):
            continue
        out.extend(line.rstrip("\n") for line in difflib.unified_diff(
            _text(diff.get("before")), _text(diff.get("after")), str(diff.get("before_header") or "before"),
            str(diff.get("after_header") or "after"), lineterm=""))
    return out


def secret_values(extra_vars: dict[str, Any], environ: dict[str, str]) -> set[str]:
    """Literal secret strings to blank out wherever they appear (extra vars with secret names, credential env)."""
    found = {v for k, v in environ.items() if k in SECRET_ENV and v}
    stack: list[Any] = [extra_vars]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and SECRET_KEY.search(str(key)) and value:
                    found.add(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return {s for s in found if len(s) >= 4}


def scrub(data: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of data with secret-named string leaves and known secret values redacted."""
    if isinstance(data, dict):
        return {k: (REDACTED if isinstance(v, str) and v and SECRET_KEY.search(str(k)) else scrub(v, secrets))
                for k, v in data.items()}
    if isinstance(data, list):
        return [scrub(v, secrets) for v in data]
    if isinstance(data, str):
        for secret in secrets:
            data = data.replace(secret, REDACTED)
        return data
    return data


class RunTracker:
    """The ansible-runner event handler: prints progress and remembers what each task did on each host."""

    def __init__(self, out: TextIO | None = sys.stdout, secrets: set[str] | None = None,
                 values: Mapping[str, Any] | None = None, show_diff: bool = False) -> None:
        self.out = out
        self.show_diff = show_diff  # --diff: print the before/after of each change
        self.secrets = secrets or set()
        self.values = values or {}  # the extra vars: named in argument errors
        self.argument_errors: list[str] = []  # one plain line per bad variable
        self.errors: list[dict[str, Any]] = []  # {host, lines}: what ansible printed for each failure, from its start
        self._verbose_error: list[str] | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, dict[str, int]] = {}
        self.custom_stats: dict[str, Any] = {}
        self.saw_stats = False

    def _say(self, line: str) -> None:
        if self.out is not None:
            self.out.write(scrub(line, self.secrets) + "\n")
            self.out.flush()

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "verbose":
            self._verbose(event.get("stdout") or "")
            return True
        self._verbose_error = None
        if kind == "playbook_on_play_start":
            self._say(f"PLAY [{data.get('play', '')}]")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self._task(data)
            label = "HANDLER" if kind == "playbook_on_handler_task_start" else "TASK"
            self._say(f"  {label} [{data.get('task', '')}]")
        elif kind in HOST_RESULT:
            self._host_result(HOST_RESULT[kind], data, event.get("stdout") or "")
        elif kind == "playbook_on_stats":
            self._stats(data)
        return True  # keep the event in the artifacts

    def _task(self, data: dict[str, Any]) -> dict[str, Any]:
        key = data.get("task_uuid") or data.get("uuid") or str(len(self.tasks))
        return self.tasks.setdefault(key, {
            "play": data.get("play", ""), "task": data.get("task", ""), "action": data.get("task_action", ""),
            "changed": [], "failed": [], "skipped": [], "unreachable": [], "ok": [],
        })

    def _host_result(self, status: str, data: dict[str, Any], text: str) -> None:
        task = self._task(data)
        host = data.get("host", "?")
        res = data.get("res") or {}
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        if status == "ok" and res.get("changed"):
            status = "changed"
        task[status].append(host)
        line = f"    {status}: {host}"
        argument_errors = res.get("argument_errors") if status == "failed" else None
        if argument_errors and (task["action"] in VALIDATE_ACTIONS or "validate_args_context" in res):
            described = describe_all([str(e) for e in argument_errors], self.values)
            self.argument_errors += [d for d in described if d not in self.argument_errors]
            line += " - " + "; ".join(described)
        elif status in ("failed", "unreachable") and res.get("msg"):
            line += f" - {plain(str(res['msg'])).strip().splitlines()[0][:300]}"
        if status in ("failed", "unreachable"):
            self._error_block(host, text)
        self._say(line)
        if self.show_diff and status == "changed":
            for text in diff_lines(res):
                self._say(f"      {text}")
        if status == "ok" and task["action"] in DEBUG_ACTIONS and "msg" in res:
            for message in _lines(res["msg"]):
                self._say(f"      {message}")

    def _error_block(self, host: str | None, text: str) -> None:
        lines = [line.rstrip() for line in plain(text).splitlines()]
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            self.errors.append({"host": host, "lines": lines[:ERROR_LINES]})

    def _verbose(self, text: str) -> None:
        """Errors ansible prints outside any task (a playbook that does not parse, a bad inventory): one verbose
        event per line; an error starts at its [ERROR]/ERROR! line and runs until the next event of another kind."""
        for line in plain(text).splitlines() or [""]:
            if line.startswith(("[ERROR]", "ERROR!")):
                self._verbose_error = [line.rstrip()]
                self.errors.append({"host": None, "lines": self._verbose_error})
            elif line.startswith(("[WARNING]", "[DEPRECATION WARNING]")):
                self._verbose_error = None
            elif self._verbose_error is not None and len(self._verbose_error) < ERROR_LINES:
                self._verbose_error.append(line.rstrip())

    def _stats(self, data: dict[str, Any]) -> None:
        self.saw_stats = True
        hosts: set[str] = set()
        for key in STAT_KEYS:
            hosts.update((data.get(key) or {}).keys())
        self.stats = {h: {name: int((data.get(key) or {}).get(h, 0)) for key, name in STAT_KEYS.items()}
                      for h in sorted(hosts)}
        self.custom_stats = data.get("artifact_data") or {}
        for host, counts in self.stats.items():
            self._say("  " + host + " " + " ".join(f"{k}={v}" for k, v in counts.items()))

    def failed_hosts(self) -> list[str]:
        return sorted(h for h, c in self.stats.items() if c["failed"] or c["unreachable"])

    def task_list(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in t.items() if k != "ok"} for t in self.tasks.values()]


def error_lines(tracker: RunTracker, limit: int = 40) -> list[str]:
    """What to show the operator of a failed run: each error from its FIRST line (the cause comes first), errors of
    hosts that ended the run failed and errors outside any task, at most limit lines in all."""
    failed = set(tracker.failed_hosts())
    shown: list[str] = []
    for error in tracker.errors:
        if tracker.saw_stats and error["host"] is not None and error["host"] not in failed:
            continue  # a failure the play rescued
        room = limit - len(shown)
        if room <= 0:
            break
        lines = error["lines"]
        if len(lines) <= room:
            shown += lines
        else:
            shown += lines[:room - 1] + [f"... ({len(lines) - room + 1} more lines in the run summary's errors)"]
    return [scrub(line, tracker.secrets) for line in shown]


def build_summary(tracker: RunTracker, meta: dict[str, Any], status: str, rc: int | None,
                  stdout_tail: Callable[[], list[str]]) -> dict[str, Any]:
    """The JSON run summary: meta (playbook, options, run id, timing) + outcome + per-host stats, per-task results,
    errors and run record. rc is the CLI's exit status (what the result line prints and the process returns);
    ansible_rc is ansible-playbook's own (2 when a host failed, 4 when one was unreachable or nothing parsed)."""
    ok = status == "successful" and rc == 0 and tracker.saw_stats and not tracker.failed_hosts()
    if ok:
        exit_code = EXIT_OK
    elif tracker.argument_errors:
        exit_code = EXIT_USAGE  # a variable the user gave is malformed: bad input, as for any other usage error
    else:
        exit_code = EXIT_FAILED
    summary: dict[str, Any] = dict(meta)
    summary.update({
        "status": status if ok or status != "successful" else "failed",
        "rc": exit_code,
        "ansible_rc": rc,
        "ok": ok,
        "hosts": tracker.stats,
        "failed_hosts": tracker.failed_hosts(),
        "tasks": tracker.task_list(),
        "run_record": tracker.custom_stats.get("yba_run_record", {}),
    })
    if not ok:
        summary["argument_errors"] = tracker.argument_errors
        summary["errors"] = tracker.errors
        summary["stdout_tail"] = [plain(line) for line in stdout_tail()]
    return scrub(summary, tracker.secrets)
