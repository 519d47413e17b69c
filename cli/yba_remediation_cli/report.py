"""The evidence report of a run: per YBA host, a Markdown file and a self-contained HTML page (inline CSS and SVG,
no external asset) rendered from the JSON run summary, written beside it as ``<summary stem>-<host>.md|.html``."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any, Mapping

NO_SLA = "no backup_sla data in this run"
# the role records the report knows, in the order a run makes them (any other record is shown after them)
ROLE_ORDER = ("diagnosis", "disk_cleanup", "metadb_repair", "platform_service", "storage_config", "emergency_backup",
              "backup_schedules", "backup_sla", "backup_retention", "backup_reconcile", "restore_drill",
              "platform_upgrade", "remediation")
TIMING_KEY = re.compile(r"(?i)(duration|elapsed|seconds|_s$|started|finished|ended|_at$|wall)")
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;color:#1b1f23;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f3f4f6}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.8em}
.critical,.CRITICAL{color:#b00020;font-weight:bold}.warning,.WARNING{color:#a15c00;font-weight:bold}
.ok,.OK{color:#0a7a2f;font-weight:bold}.unknown,.UNKNOWN{color:#555;font-weight:bold}.muted{color:#666}
"""
STATUS_COLOUR = {"ok": "#2e9d4f", "warning": "#e0a100", "critical": "#c62828", "unknown": "#888888"}


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _e(value: Any) -> str:
    return html.escape(_s(value), quote=True)


def _md(value: Any) -> str:
    """A table cell or line of Markdown: one line, pipes and markup characters escaped, no raw HTML."""
    text = " ".join(_s(value).split())
    text = re.sub(r"([\\`|])", r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def duration(seconds: Any) -> str:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return "-"
    if value < 0:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} s"


def findings(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The findings of a host: the diagnosis' (diagnose), else what the remediation left (remaining + not automated);
    each once by id and subject, worst first."""
    diag = _dict(record.get("diagnosis"))
    rem = _dict(record.get("remediation"))
    items = _list(diag.get("findings"))
    if not items:
        items = _list(rem.get("remaining")) + _list(rem.get("not_automated"))
    seen: set[tuple[str, str]] = set()
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        key = (_s(item.get("id")), _s(item.get("subject")))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return sorted(out, key=lambda f: SEVERITY_RANK.get(_s(f.get("severity")).lower(), 3))


def _flag(value: Any) -> str:
    return "-" if value is None else "yes" if value is True else "no" if value is False else _s(value)


def role_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per role record present: changed, the counts (numbers of the record, its ``counts``, the length of its
    lists), the timings (``*_seconds``, ``timings``, ...), a one-line summary."""
    names = [n for n in ROLE_ORDER if n in record] + sorted(n for n in record if n not in ROLE_ORDER)
    rows = []
    for name in names:
        rec = _dict(record.get(name))
        changed = rec.get("changed")
        if changed is None and name == "remediation":
            changed = bool(_list(rec.get("fixed")))
        if changed is None and name == "disk_cleanup" and "freed_bytes" in rec:
            changed = bool(rec.get("freed_bytes"))
        counts: dict[str, Any] = {}
        timings: dict[str, Any] = {}
        for key, value in rec.items():
            if isinstance(value, bool) or key in ("check_mode", "exit_code"):
                continue
            if isinstance(value, (int, float)) or (isinstance(value, str) and TIMING_KEY.search(key)):
                (timings if TIMING_KEY.search(key) else counts)[key] = value
            elif isinstance(value, list) and key not in ("universes", "schedules", "controller_files", "outputs"):
                counts[key] = len(value)
        for key, value in _dict(rec.get("counts")).items():
            if isinstance(value, dict):
                value = _kv({k: v for k, v in value.items() if isinstance(v, (int, float, str))})
            counts[key] = value
        for key, value in _dict(rec.get("timings")).items():
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                timings[key] = value
        summary = rec.get("summary") if isinstance(rec.get("summary"), str) else None
        if name == "remediation" and rec.get("failed_step"):
            step = _dict(rec.get("failed_step"))
            summary = f"failed at {_s(step.get('task'))}: {_s(step.get('message'))}"
        rows.append({"role": name, "changed": _flag(changed), "check_mode": _flag(rec.get("check_mode")),
                     "counts": counts, "timings": timings,
                     "summary": summary or rec.get("outcome") or rec.get("status") or rec.get("failed_step") or "-"})
    return rows


def finding_state(record: Mapping[str, Any], finding: Mapping[str, Any]) -> str:
    """What the remediation says of a finding still there after it: the runbook's to fix (remaining) or not."""
    rem = _dict(record.get("remediation"))
    if not rem:
        return "-"
    fid = finding.get("id")
    if any(_dict(f).get("id") == fid for f in _list(rem.get("remaining"))):
        return "remaining (the runbook fixes it)"
    if any(_dict(f).get("id") == fid for f in _list(rem.get("not_automated"))):
        return "not automated"
    return "-"


def remediation_line(record: Mapping[str, Any]) -> str | None:
    rem = _dict(record.get("remediation"))
    if not rem:
        return None
    parts = [f"{label}: {', '.join(_s(i) for i in _list(rem.get(key))) or 'nothing'}"
             for key, label in (("before", "found at the start"), ("fixed", "fixed"), ("unverified", "unverified"))
             if key in rem]
    return "; ".join(parts)


def _sla_doc(sla: Mapping[str, Any]) -> dict[str, Any]:
    """Per universe/schedule data: in the record, else the controller's JSON document the role wrote."""
    if _list(sla.get("universes")) or _list(sla.get("schedules")):
        return dict(sla)
    for path in _list(sla.get("controller_files")):
        if isinstance(path, str) and path.endswith(".json"):
            try:
                doc = json.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                return doc
    return {}


def sla_rows(record: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(universe rows, schedule rows) of the backup_sla record: empty when the run had no SLA check."""
    doc = _sla_doc(_dict(record.get("backup_sla")))
    universes = [u for u in _list(doc.get("universes")) if isinstance(u, dict)]
    schedules = [s for s in _list(doc.get("schedules")) if isinstance(s, dict)]
    return universes, schedules


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out >= 0 else None


def freshness_svg(universes: list[dict[str, Any]]) -> str:
    """A timeline per universe and backup type: the RPO window (now-RPO .. now) shaded, the last success marked
    at its age, coloured by verdict; time runs left (older) to right (now)."""
    rows = [u for u in universes if _num(u.get("rpo_seconds")) is not None or _num(u.get("age_seconds")) is not None]
    label_w, chart_w, row_h, top = 260, 560, 28, 30
    span = max([_num(u.get("rpo_seconds")) or 0 for u in rows] + [_num(u.get("age_seconds")) or 0 for u in rows] + [1])
    span *= 1.1
    height = top + row_h * max(len(rows), 1) + 30
    width = label_w + chart_w + 20

    def x(age: float) -> float:
        return label_w + chart_w - min(age, span) / span * chart_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="backup freshness per universe">',
             f'<text x="{label_w}" y="18" font-size="12">{_e(duration(span))} ago</text>',
             f'<text x="{label_w + chart_w}" y="18" font-size="12" text-anchor="end">now</text>']
    for i, u in enumerate(rows):
        y = top + i * row_h
        rpo, age = _num(u.get("rpo_seconds")), _num(u.get("age_seconds"))
        status = _s(u.get("status")).lower()
        colour = STATUS_COLOUR.get(status, STATUS_COLOUR["unknown"])
        label = f"{_s(u.get('universe'))} {_s(u.get('backup_type'))}".strip()
        parts.append(f'<text x="4" y="{y + 17}" font-size="12">{_e(label[:40])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{chart_w}" height="{row_h - 8}" fill="#f3f4f6"/>')
        if rpo is not None:
            parts.append(f'<rect x="{x(rpo):.1f}" y="{y + 4}" width="{label_w + chart_w - x(rpo):.1f}" '
                         f'height="{row_h - 8}" fill="#cfe8d6"><title>RPO {_e(duration(rpo))}</title></rect>')
        if age is not None:
            tip = f"last success {_s(u.get('last_success'))}, {duration(age)} ago ({status or 'unknown'})"
            parts.append(f'<line x1="{x(age):.1f}" y1="{y + 10}" x2="{label_w + chart_w}" y2="{y + 10}" '
                         f'stroke="{colour}" stroke-width="2"/>')
            parts.append(f'<circle cx="{x(age):.1f}" cy="{y + 14}" r="6" fill="{colour}"><title>{_e(tip)}</title></circle>')
        else:
            parts.append(f'<text x="{label_w + 8}" y="{y + 18}" font-size="11" fill="{colour}">no usable backup</text>')
    legend_y = height - 8
    parts.append(f'<text x="{label_w}" y="{legend_y}" font-size="11" fill="#555">shaded: RPO window; dot: last '
                 'successful backup (green OK, amber WARNING, red CRITICAL)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _meta(summary: Mapping[str, Any], host: str) -> list[tuple[str, Any]]:
    stats = _dict(_dict(summary.get("hosts")).get(host))
    return [("Host", host), ("Playbook", summary.get("playbook")), ("Run id", summary.get("run_id")),
            ("Started", summary.get("started")), ("Ended", summary.get("ended") or _ended(summary)),
            ("Duration", duration(summary.get("duration_s"))), ("Status", summary.get("status")),
            ("Exit code", summary.get("rc")), ("Check mode", bool(summary.get("check"))),
            ("Limit", summary.get("limit")),
            ("Host recap", " ".join(f"{k}={v}" for k, v in stats.items()) if stats else "-"),
            ("Failed host", host in _list(summary.get("failed_hosts")))]


def _ended(summary: Mapping[str, Any]) -> str | None:
    try:
        start = dt.datetime.fromisoformat(str(summary.get("started")))
        return (start + dt.timedelta(seconds=float(summary.get("duration_s")))).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return None


def _kv(data: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_s(v)}" for k, v in data.items()) or "-"


def _universe_cols(u: Mapping[str, Any]) -> list[Any]:
    return [u.get("universe"), u.get("backup_type"), _s(u.get("status")).upper(), u.get("last_success") or "never",
            duration(u.get("age_seconds")), duration(u.get("rpo_seconds")), u.get("rpo_source"),
            f"{_s(u.get('copies'))}/{_s(u.get('min_copies'))}", u.get("reason")]


FINDING_HEAD = ["Id", "Severity", "Title", "Evidence", "Fix", "After the run"]


def _finding_cols(record: Mapping[str, Any], f: Mapping[str, Any], case: Any) -> list[Any]:
    fix = f"playbooks/{_s(f.get('fix_playbook'))}" if f.get("fix_playbook") else f.get("manual_fix") or "-"
    return [f.get("id"), case(_s(f.get("severity"))), f.get("title"), f.get("evidence"), fix, finding_state(record, f)]


UNIVERSE_HEAD = ["Universe", "Type", "Status", "Last success", "Age", "RPO", "RPO from", "Copies", "Reason"]
SCHEDULE_HEAD = ["Schedule", "Universe", "Type", "State", "Status", "Last success", "Age", "Interval", "Failures",
                 "Reason"]


def _schedule_cols(s: Mapping[str, Any]) -> list[Any]:
    return [s.get("schedule"), s.get("universe"), s.get("backup_type"), s.get("state"), _s(s.get("status")).upper(),
            s.get("last_success") or "never", duration(s.get("age_seconds")), duration(s.get("expected_interval_seconds")),
            s.get("failure_count"), s.get("reason")]


def _md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(_md(c) or " " for c in row) + " |" for row in rows]


def render_markdown(summary: Mapping[str, Any], host: str) -> str:
    record = _dict(_dict(summary.get("run_record")).get(host))
    lines = [f"# Evidence report: {_md(host)}", "", f"Run of `{_md(summary.get('playbook'))}`", "", "## Run", ""]
    lines += _md_table(["Field", "Value"], [[k, v] for k, v in _meta(summary, host)])
    found = findings(record)
    lines += ["", f"## Findings ({len(found)})", ""]
    if remediation_line(record):
        lines += [f"Remediation: {_md(remediation_line(record))}", ""]
    if found:
        lines += _md_table(FINDING_HEAD, [_finding_cols(record, f, str.upper) for f in found])
    else:
        lines.append("No finding recorded." if record.get("diagnosis") or record.get("remediation")
                     else "No diagnosis in this run.")
    rows = role_rows(record)
    lines += ["", "## What was done", ""]
    if rows:
        lines += _md_table(["Role", "Changed", "Check mode", "Counts", "Timings", "Summary"],
                           [[r["role"], r["changed"], r["check_mode"], _kv(r["counts"]), _kv(r["timings"]), r["summary"]]
                            for r in rows])
    else:
        lines.append("No run record for this host.")
    universes, schedules = sla_rows(record)
    lines += ["", "## Backup freshness and SLA", ""]
    sla = _dict(record.get("backup_sla"))
    if sla.get("summary"):
        lines += [f"Verdict: {_md(sla.get('summary'))}", ""]
    if universes:
        lines += _md_table(UNIVERSE_HEAD, [_universe_cols(u) for u in universes])
    else:
        lines.append(NO_SLA + ".")
    if schedules:
        lines += ["", "### Schedules", ""] + _md_table(SCHEDULE_HEAD, [_schedule_cols(s) for s in schedules])
    lines += ["", "## Run record", "", "```json", json.dumps(record, indent=2, sort_keys=True, default=str).replace("```", "`\u200b``"),
              "```", ""]
    return "\n".join(lines)


def _html_table(head: list[str], rows: list[list[Any]], status_col: int | None = None) -> str:
    out = ["<table><thead><tr>", "".join(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = f' class="{_e(_s(cell).lower())}"' if i == status_col and _s(cell) else ""
            cells.append(f"<td{cls}>{_e(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(summary: Mapping[str, Any], host: str) -> str:
    record = _dict(_dict(summary.get("run_record")).get(host))
    title = f"Evidence report: {host}"
    body = [f"<h1>{_e(title)}</h1>", f'<p class="muted">Run of {_e(summary.get("playbook"))}</p>', "<h2>Run</h2>",
            _html_table(["Field", "Value"], [[k, v] for k, v in _meta(summary, host)])]
    found = findings(record)
    body.append(f"<h2>Findings ({len(found)})</h2>")
    if remediation_line(record):
        body.append(f"<p>Remediation: {_e(remediation_line(record))}</p>")
    if found:
        body.append(_html_table(FINDING_HEAD, [_finding_cols(record, f, str.lower) for f in found], status_col=1))
    else:
        body.append("<p>" + ("No finding recorded." if record.get("diagnosis") or record.get("remediation")
                             else "No diagnosis in this run.") + "</p>")
    body.append("<h2>What was done</h2>")
    rows = role_rows(record)
    if rows:
        body.append(_html_table(["Role", "Changed", "Check mode", "Counts", "Timings", "Summary"],
                                [[r["role"], r["changed"], r["check_mode"], _kv(r["counts"]), _kv(r["timings"]),
                                  r["summary"]] for r in rows]))
    else:
        body.append("<p>No run record for this host.</p>")
    body.append("<h2>Backup freshness and SLA</h2>")
    sla = _dict(record.get("backup_sla"))
    if sla.get("summary"):
        body.append(f'<p>Verdict: <span class="{_e(_s(sla.get("status")).lower())}">{_e(sla.get("summary"))}</span></p>')
    universes, schedules = sla_rows(record)
    if universes:
        body.append(f'<div class="chart">{freshness_svg(universes)}</div>')
        body.append(_html_table(UNIVERSE_HEAD, [_universe_cols(u) for u in universes], status_col=2))
    else:
        body.append(f'<p class="muted" id="no-sla">{_e(NO_SLA)}</p>')
    if schedules:
        body.append("<h3>Schedules</h3>")
        body.append(_html_table(SCHEDULE_HEAD, [_schedule_cols(s) for s in schedules], status_col=4))
    body.append("<h2>Run record</h2><details><summary>raw run record (JSON)</summary><pre>"
                + _e(json.dumps(record, indent=2, sort_keys=True, default=str)) + "</pre></details>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _safe(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", host) or "_"


def report_hosts(summary: Mapping[str, Any]) -> list[str]:
    hosts = set(_dict(summary.get("run_record"))) | set(_dict(summary.get("hosts")))
    return sorted(str(h) for h in hosts)


def write_reports(summary_path: Path, summary: Mapping[str, Any] | None = None, out_dir: Path | None = None) -> list[Path]:
    """Write ``<stem>-<host>.md`` and ``.html`` per host of the summary; return the paths written."""
    if summary is None:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if not isinstance(summary, dict):
        raise ValueError("the run summary is not a JSON object")
    target = out_dir or summary_path.parent
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for host in report_hosts(summary):
        base = target / f"{summary_path.stem}-{_safe(host)}"
        for ext, render in ((".md", render_markdown), (".html", render_html)):
            path = base.with_name(base.name + ext)
            path.write_text(render(summary, host), encoding="utf-8")
            written.append(path)
    return written
