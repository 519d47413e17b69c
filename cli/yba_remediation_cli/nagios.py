"""`run --nagios`: a classic monitoring check's output from the verdicts a run recorded.

A role that judges (backup_sla) puts ``nagios: {exit_code, line}`` in its run record; this turns the verdicts of all
hosts into what a Nagios/Icinga plugin prints: the worst line first (with its perfdata), one line per other host
after it, and the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A run that failed or judged nothing is UNKNOWN.
"""

from __future__ import annotations

from typing import Any

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
# worst first: a CRITICAL host outranks one that could not be judged, which outranks a WARNING
_RANK = {CRITICAL: 3, UNKNOWN: 2, WARNING: 1, OK: 0}
PREFIX = "YBA BACKUP"


def verdicts(summary: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(exit code, host, line) of every Nagios verdict in the run record."""
    out = []
    for host, steps in sorted((summary.get("run_record") or {}).items()):
        for record in (steps or {}).values() if isinstance(steps, dict) else ():
            verdict = record.get("nagios") if isinstance(record, dict) else None
            if isinstance(verdict, dict) and verdict.get("exit_code") in NAMES and verdict.get("line"):
                out.append((int(verdict["exit_code"]), str(host), str(verdict["line"]).splitlines()[0]))
    return out


def check_output(summary: dict[str, Any], failure: str | None = None) -> tuple[int, list[str]]:
    """(exit code, lines to print) for a finished run: its ``summary`` and, if it failed, its first error."""
    found = verdicts(summary)
    if not summary.get("ok"):
        # a host that recorded its verdict is judged by it (a role that fails on its own CRITICAL or WARNING fails
        # the run too); a failed host without one, or a run that failed before any host, is UNKNOWN
        judged = {host for _code, host, _line in found}
        unjudged = [h for h in summary.get("failed_hosts") or [] if h not in judged]
        if unjudged or not found:
            cause = failure or "status %s" % summary.get("status")
            found.append((UNKNOWN, ", ".join(unjudged), "%s UNKNOWN - the check run failed: %s" % (PREFIX, cause)))
    if not found:
        return UNKNOWN, ["%s UNKNOWN - the playbook recorded no verdict (run backup_sla)" % PREFIX]
    found.sort(key=lambda v: -_RANK[v[0]])
    many = len({host for _code, host, _line in found if host}) > 1
    lines = [("%s: %s" % (host, line)) if many and host else line for _code, host, line in found]
    return found[0][0], lines
