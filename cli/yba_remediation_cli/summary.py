"""Turn ansible-runner events into live progress lines and a JSON run summary, with secrets scrubbed."""

from __future__ import annotations

import re
import sys
from typing import Any, Callable, Iterable, TextIO

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
STAT_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
             "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


def _lines(msg: Any) -> list[str]:
    if isinstance(msg, list):
        return [str(item) for item in msg]
    return str(msg).splitlines()


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

    def __init__(self, out: TextIO | None = sys.stdout, secrets: set[str] | None = None) -> None:
        self.out = out
        self.secrets = secrets or set()
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
        if kind == "playbook_on_play_start":
            self._say(f"PLAY [{data.get('play', '')}]")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self._task(data)
            label = "HANDLER" if kind == "playbook_on_handler_task_start" else "TASK"
            self._say(f"  {label} [{data.get('task', '')}]")
        elif kind in HOST_RESULT:
            self._host_result(HOST_RESULT[kind], data)
        elif kind == "playbook_on_stats":
            self._stats(data)
        return True  # keep the event in the artifacts

    def _task(self, data: dict[str, Any]) -> dict[str, Any]:
        key = data.get("task_uuid") or data.get("uuid") or str(len(self.tasks))
        return self.tasks.setdefault(key, {
            "play": data.get("play", ""), "task": data.get("task", ""), "action": data.get("task_action", ""),
            "changed": [], "failed": [], "skipped": [], "unreachable": [], "ok": [],
        })

    def _host_result(self, status: str, data: dict[str, Any]) -> None:
        task = self._task(data)
        host = data.get("host", "?")
        res = data.get("res") or {}
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        if status == "ok" and res.get("changed"):
            status = "changed"
        task[status].append(host)
        line = f"    {status}: {host}"
        if status in ("failed", "unreachable") and res.get("msg"):
            line += f" - {str(res['msg']).splitlines()[0][:300]}"
        self._say(line)
        if status == "ok" and task["action"] in DEBUG_ACTIONS and "msg" in res:
            for text in _lines(res["msg"]):
                self._say(f"      {text}")

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


def build_summary(tracker: RunTracker, meta: dict[str, Any], status: str, rc: int | None,
                  stdout_tail: Callable[[], list[str]]) -> dict[str, Any]:
    """The JSON run summary: meta (playbook, options, timing) + outcome + per-host stats, per-task results and run record."""
    ok = status == "successful" and rc == 0 and tracker.saw_stats and not tracker.failed_hosts()
    summary: dict[str, Any] = dict(meta)
    summary.update({
        "status": status if ok or status != "successful" else "failed",
        "rc": rc,
        "ok": ok,
        "hosts": tracker.stats,
        "failed_hosts": tracker.failed_hosts(),
        "tasks": tracker.task_list(),
        "run_record": tracker.custom_stats.get("yba_run_record", {}),
    })
    if not ok:
        summary["stdout_tail"] = stdout_tail()
    return scrub(summary, tracker.secrets)
