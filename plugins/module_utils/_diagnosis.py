# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the pure diagnosis (facts of platform_info, backup_info, metadb_info -> findings).
# Not a public API: the filter plugin yba.remediation.diagnose and the diagnose role use it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import time
import typing as t

SEVERITIES = ("critical", "warning", "info")

# Finding id -> the playbook of this collection that fixes it, or None where no playbook does (yet): those
# findings carry MANUAL_FIXES instead. The order is also the runbook order the report follows.
FIX_PLAYBOOKS: dict[str, str | None] = {
    "disk_full": "disk_cleanup.yml",
    "platform_down": "platform_service.yml",
    "platform_hung": "platform_service.yml",
    "heap_pressure": "platform_service.yml",
    "api_client_config": None,  # the probe's own TLS/CA/token setting: no playbook fixes the inventory
    "metadb_unreachable": "platform_service.yml",  # the role starts postgres before yb-platform
    "metadb_index_corrupt": "metadb_repair.yml",
    "metadb_failed_migrations": None,
    "metadb_stale_in_progress": "metadb_repair.yml",
    "storage_unreachable": None,
    "backups_stale": None,
    "backups_failing": None,
    "schedules_paused": None,
    "retention_not_enforced": None,
}
MANUAL_FIXES = {
    "api_client_config": "the API probe failed on the client side, not on the platform: set yba_ca_path to the CA that"
                         " signed the YBA certificate (the roles send that file from the controller to the host; a"
                         " module's ca_path must exist where the module runs), check yba_url and validate_certs,"
                         " and for a 401/403 check yba_api_token. No playbook restarts the platform for it",
    "metadb_failed_migrations": "restore the metadata DB from a yba-ctl createBackup archive (yba-ctl restoreBackup)"
                                " or ask Yugabyte support; YBA will not start past a failed Flyway migration",
    "storage_unreachable": "make the storage config's endpoint and credentials work (YBA UI: Integrations >"
                           " Backup, or PUT /api/v1/customers/{c}/configs/{id}); YBA re-validates READ and LIST",
    "backups_stale": "once storage works, take an on-demand backup of each stale universe (POST .../backups)",
    "backups_failing": "read the failed tasks' errors (GET .../tasks/{t}/failed_subtasks); usually storage or disk",
    # ScheduleController.editBackupSchedule refuses {"status": "Active"} alone (400 "Both schedule frequency and cron
    # expression cannot be null") and keeps failureCount: the body repeats the schedule's own timing.
    "schedules_paused": "once storage works, set each Paused schedule back to Active with its own timing: PUT"
                        " /api/v1/customers/{c}/schedules/{s} {\"status\": \"Active\", \"frequency\": <its"
                        " frequency, ms>, \"frequencyTimeUnit\": \"<its frequencyTimeUnit>\"}, or {\"status\":"
                        " \"Active\", \"cronExpression\": \"<its cron>\"} for a cron schedule (GET"
                        " .../schedules/{s} shows both); YBA keeps its failureCount",
    "retention_not_enforced": "once storage works, YBA's backup GC deletes expired backups again; failing that,"
                              " delete them through the API (POST .../backups/delete)",
}
FINDING_IDS = tuple(FIX_PLAYBOOKS)

DEFAULT_THRESHOLDS: dict[str, float] = {
    "disk_warning_percent": 80.0,   # used % (df semantics) of any volume of the install
    "disk_critical_percent": 90.0,
    "heap_warning_percent": 80.0,   # JVM heap used / max
    "heap_critical_percent": 95.0,
    "rpo_hours": 24.0,              # a universe needs a Completed backup at least this recent
    "failed_warning_count": 1,      # Failed backups in the last 24 h
    "failed_critical_count": 5,
    "expired_warning_count": 1,     # expired backups the GC has not deleted
}


def thresholds_with_defaults(thresholds: t.Mapping[str, t.Any] | None) -> dict[str, float]:
    """Defaults overridden by ``thresholds``; an unknown key or a non-number is a ValueError (typos must not pass)."""
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise ValueError("unknown diagnosis threshold %r (known: %s)" % (key, ", ".join(sorted(DEFAULT_THRESHOLDS))))
        if isinstance(value, bool):
            raise ValueError("diagnosis threshold %s must be a number, got %r" % (key, value))
        try:
            merged[key] = float(value)
        except (TypeError, ValueError):
            raise ValueError("diagnosis threshold %s must be a number, got %r" % (key, value)) from None
    return merged


def _finding(fid: str, severity: str, title: str, evidence: str, subject: str | None = None,
             source: str | None = None) -> dict[str, t.Any]:
    return {"id": fid, "severity": severity, "title": title, "evidence": evidence,
            "fix_playbook": FIX_PLAYBOOKS[fid], "manual_fix": MANUAL_FIXES.get(fid), "subject": subject,
            "source": source}


def _size(n: t.Any) -> str:
    try:
        value = float(n)
    except (TypeError, ValueError):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return "?"  # pragma: no cover


def _age(seconds: t.Any) -> str:
    try:
        s = int(seconds)
    except (TypeError, ValueError):
        return "?"
    if s >= 2 * 86400:
        return "%.1f days" % (s / 86400.0)
    if s >= 3600:
        return "%.1f hours" % (s / 3600.0)
    if s >= 60:
        return "%d minutes" % (s // 60)
    return "%d seconds" % s


def _d(value: t.Any) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


def _num(value: t.Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _iso(ts: float) -> str | None:
    from ansible_collections.yba.remediation.plugins.module_utils._backupinfo import iso
    return iso(ts)


def _parse_time(value: t.Any) -> float | None:
    # local import keeps this module importable on its own in the filter plugin's controller context
    from ansible_collections.yba.remediation.plugins.module_utils._backupinfo import parse_time
    return parse_time(value)


# ------------------------------------------------------------------------------------------ platform

def _platform_findings(platform: dict[str, t.Any], th: dict[str, float]) -> list[dict[str, t.Any]]:
    out = []
    disk = _d(platform.get("disk"))
    vols = [v for v in disk.get("volumes") or ([disk["volume"]] if disk.get("volume") else []) if isinstance(v, dict)]
    worst = max(vols, key=lambda v: _num(v.get("used_percent")) or 0.0) if vols else None
    if worst is not None:
        pct = _num(worst.get("used_percent")) or 0.0
        if pct >= th["disk_warning_percent"]:
            cats = sorted(((k, v) for k, v in _d(disk.get("by_category")).items() if _num(v)),
                          key=lambda kv: kv[1], reverse=True)[:4]
            biggest = ", ".join("%s %s" % (k, _size(v)) for k, v in cats)
            out.append(_finding(
                "disk_full", "critical" if pct >= th["disk_critical_percent"] else "warning",
                "Disk %.1f%% full on the YBA host (%s)" % (pct, worst.get("path")),
                "%s free of %s on %s%s" % (
                    _size(worst.get("avail_bytes")), _size(worst.get("total_bytes")), worst.get("path"),
                    ("; largest: " + biggest) if biggest else ""),
                subject=worst.get("path"), source="platform_info"))

    state = platform.get("state")
    api = _d(platform.get("api"))
    proc = _d(platform.get("process"))
    services = _d(platform.get("services"))
    pf_service = _d(services.get("yb-platform"))
    if state == "hung":
        why = "the process is stopped (state T)" if proc.get("stopped") else \
            "the API did not answer: %s" % (api.get("message") or "no answer")
        out.append(_finding("platform_hung", "critical", "YBA platform is up but not answering (hung)",
                            "pid %s, %s" % (proc.get("pid"), why), source="platform_info"))
    elif state == "down":
        svc = (" (yb-platform service: %s)" % pf_service.get("raw")) if pf_service.get("raw") else ""
        out.append(_finding("platform_down", "critical", "YBA platform is down",
                            "no platform process found and the API does not answer%s: %s"
                            % (svc, api.get("message") or "no answer"), source="platform_info"))
    elif state == "degraded":
        message = str(api.get("message") or "")
        if "HTTP 401" not in message and "HTTP 403" not in message:
            out.append(_finding("platform_down", "warning", "YBA platform answers but its authenticated API fails",
                                message or "an authenticated call failed", source="platform_info"))

    client_error = api.get("client_error")
    if client_error:
        out.append(_finding("api_client_config", "warning",
                            "The API probe failed on the client side (%s): the platform's health was not checked"
                            % client_error, str(api.get("message") or client_error), subject=api.get("url"),
                            source="platform_info"))

    heap = _d(platform.get("heap"))
    hpct = _num(heap.get("heap_used_percent"))
    if hpct is not None and hpct >= th["heap_warning_percent"] and state not in ("down",):
        out.append(_finding(
            "heap_pressure", "critical" if hpct >= th["heap_critical_percent"] else "warning",
            "YBA platform JVM heap %.0f%% used" % hpct,
            "%s used of %s max heap%s" % (_size(heap.get("heap_used_bytes")),
                                          _size(heap.get("heap_max_bytes") or heap.get("xmx_bytes")),
                                          ("; process RSS %s" % _size(heap.get("rss_bytes")))
                                          if heap.get("rss_bytes") else ""),
            source="platform_info"))
    return out


# ------------------------------------------------------------------------------------------ metadb

def _metadb_findings(metadb: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    if not metadb.get("reachable"):
        return [_finding("metadb_unreachable", "critical", "The YBA metadata database (yugaware) cannot be queried",
                         str(metadb.get("error") or "no error given"), source="metadb_info")]
    out = []
    amcheck = _d(metadb.get("amcheck"))
    corrupt = [c for c in amcheck.get("corrupt") or [] if isinstance(c, dict)]
    if corrupt:
        names = ", ".join("%s on %s" % (c.get("index"), c.get("table")) for c in corrupt[:5])
        first_error = str(corrupt[0].get("error") or "").splitlines()[0:1]
        out.append(_finding("metadb_index_corrupt", "critical",
                            "%d corrupt index%s in the metadata database" % (len(corrupt), "es" if len(corrupt) > 1 else ""),
                            "%s: %s%s" % (amcheck.get("method") or "index check", names,
                                          (" (%s)" % first_error[0]) if first_error else ""),
                            subject=str(corrupt[0].get("index")), source="metadb_info"))
    migrations = [m for m in metadb.get("failed_migrations") or [] if isinstance(m, dict)]
    if migrations:
        out.append(_finding("metadb_failed_migrations", "critical",
                            "%d failed schema migration%s in schema_version" % (len(migrations), "s" if len(migrations) > 1 else ""),
                            "; ".join("V%s %s" % (m.get("version"), m.get("description") or "") for m in migrations[:5]),
                            source="metadb_info"))
    stale_b = _d(metadb.get("stale_backups"))
    stale_t = _d(metadb.get("stale_tasks"))
    nb, nt = int(_num(stale_b.get("count")) or 0), int(_num(stale_t.get("count")) or 0)
    if nb or nt:
        parts = []
        if nb:
            states = ", ".join("%s %s" % (v, k) for k, v in sorted(_d(stale_b.get("by_state")).items()))
            parts.append("%d backup%s with no live task (%s; oldest %s)" % (
                nb, "s" if nb > 1 else "", states or "in progress", _age(stale_b.get("oldest_age_seconds"))))
        if nt:
            parts.append("%d incomplete task%s not updated for %s" % (nt, "s" if nt > 1 else "",
                                                                      _age(stale_t.get("oldest_age_seconds"))))
        out.append(_finding("metadb_stale_in_progress", "warning",
                            "Stale In Progress backups/tasks in the metadata database", "; ".join(parts),
                            source="metadb_info"))
    return out


# ------------------------------------------------------------------------------------------ backups

def _storage_findings(backups: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    out = []
    for cfg in backups.get("storage_configs") or []:
        if not isinstance(cfg, dict) or cfg.get("reachable") is not False or cfg.get("state") not in (None, "Active"):
            continue
        bad = [p for p in cfg.get("probes") or [] if isinstance(p, dict) and not p.get("reachable")]
        evidence = "; ".join("%s: %s" % (p.get("endpoint"), p.get("error")) for p in bad) or "probe failed"
        out.append(_finding("storage_unreachable", "critical",
                            "Backup storage %s (%s) is unreachable" % (cfg.get("config_name"), cfg.get("name")),
                            evidence, subject=cfg.get("config_name"), source="backup_info"))
    return out


def _stale_universes(universes: list[dict[str, t.Any]], now: float, rpo: float, source: str) -> list[dict[str, t.Any]]:
    out = []
    for u in universes:
        if u.get("present") is False or u.get("paused") or u.get("backups_enabled") is False:
            continue
        name = u.get("name") or u.get("universe_uuid")
        age = _num(u.get("last_completed_age_seconds"))
        done = _parse_time(u.get("last_completed_time")) if u.get("last_completed_time") else None
        if age is None and done is not None:
            age = now - done
        if age is not None and age <= rpo:
            continue
        if age is None:
            evidence = "no Completed backup at all"
        else:
            when = _iso(done) if done is not None else u.get("last_completed_time")
            evidence = "last Completed backup %s ago (%s), RPO %s" % (_age(age), when, _age(rpo))
        out.append(_finding("backups_stale", "critical", "No backup of universe %s within the RPO" % name,
                            evidence, subject=name, source=source))
    return out


def short_error(text: t.Any) -> str | None:
    """The cause of a YBA task error on one line: the part after YBA's "Failed to execute task {params}, hit error:"
    wrapper (the task parameters tell an operator nothing), whitespace folded."""
    if not text:
        return None
    cause = str(text).rsplit("hit error:", 1)[-1]
    return " ".join(cause.split()) or " ".join(str(text).split())


def _failing(n: int, th: dict[str, float], evidence: str, source: str) -> dict[str, t.Any]:
    """backups_failing, from the API's view or the metadata DB's."""
    return _finding("backups_failing", "critical" if n >= th["failed_critical_count"] else "warning",
                    "%d backup%s failed in the last 24 hours" % (n, "s" if n != 1 else ""), evidence, source=source)


def _not_deleted(n: int, evidence: str, source: str) -> dict[str, t.Any]:
    """retention_not_enforced, from the API's view or the metadata DB's."""
    return _finding("retention_not_enforced", "warning", "%d expired backup%s not deleted" % (n, "s" if n != 1 else ""),
                    evidence, source=source)


def _backup_findings(backups: dict[str, t.Any], now: float, th: dict[str, float]) -> list[dict[str, t.Any]]:
    out = _storage_findings(backups)
    out += _stale_universes([u for u in backups.get("universes") or [] if isinstance(u, dict)],
                            now, th["rpo_hours"] * 3600.0, "backup_info")
    failed = _d(backups.get("failed_24h"))
    n = int(_num(failed.get("count")) or 0)
    if n >= th["failed_warning_count"]:
        per_u = ", ".join("%s %d" % (u.get("name"), u.get("failed_24h")) for u in backups.get("universes") or []
                          if isinstance(u, dict) and u.get("failed_24h"))
        err = short_error(failed.get("error"))
        out.append(_failing(n, th, "%s%s" % (("by universe: " + per_u) if per_u else "",
                                             ("; last error: %s" % err) if err else ""), "backup_info"))
    out += _schedule_findings(_d(backups.get("schedules")), "backup_info")
    expired = _d(backups.get("expired_not_deleted"))
    ne = int(_num(expired.get("count")) or 0)
    if ne >= th["expired_warning_count"]:
        out.append(_not_deleted(ne, "oldest expiry %s; the backup garbage collector is not deleting them"
                                % expired.get("oldest_expiry"), "backup_info"))
    return out


def _schedule_findings(schedules: dict[str, t.Any], source: str) -> list[dict[str, t.Any]]:
    paused, error = _d(schedules.get("paused")), _d(schedules.get("error"))
    n_p, n_e = int(_num(paused.get("count")) or 0), int(_num(error.get("count")) or 0)
    if not (n_p or n_e):
        return []
    sample = [s for s in (paused.get("sample") or []) + (error.get("sample") or []) if isinstance(s, dict)]
    names = ", ".join("%s (%s failures)" % (s.get("name"), s.get("failure_count")) for s in sample[:5])
    parts = []
    if n_p:
        parts.append("%d Paused" % n_p)
    if n_e:
        parts.append("%d in Error" % n_e)
    return [_finding("schedules_paused", "warning", "Backup schedules not running: %s" % ", ".join(parts),
                     names or "", source=source)]


def _metadb_backup_findings(metadb: dict[str, t.Any], now: float, th: dict[str, float]) -> list[dict[str, t.Any]]:
    """The backup findings from the metadata DB's view, for when the API cannot be read."""
    out = []
    summary = [s for s in metadb.get("backup_summary") or [] if isinstance(s, dict)]
    universes = [{"name": s.get("universe_name"), "universe_uuid": s.get("universe_uuid"),
                  "last_completed_time": s.get("last_completed_time")} for s in summary]
    out += _stale_universes(universes, now, th["rpo_hours"] * 3600.0, "metadb_info")
    n = sum(int(_num(s.get("failed_24h")) or 0) for s in summary)
    if n >= th["failed_warning_count"]:
        per_u = ", ".join("%s %s" % (s.get("universe_name"), s.get("failed_24h")) for s in summary if s.get("failed_24h"))
        out.append(_failing(n, th, "by universe: %s (from the metadata DB; the API could not be read)" % per_u,
                            "metadb_info"))
    out += _schedule_findings(_d(metadb.get("schedules")), "metadb_info")
    expired = _d(metadb.get("expired_not_deleted"))
    ne = int(_num(expired.get("count")) or 0)
    if ne >= th["expired_warning_count"]:
        out.append(_not_deleted(ne, "oldest expired %s ago (from the metadata DB)"
                                % _age(expired.get("oldest_expiry_age_seconds")), "metadb_info"))
    return out


# ------------------------------------------------------------------------------------------ entry points

def _order(f: dict[str, t.Any]) -> tuple[int, int]:
    return (SEVERITIES.index(f["severity"]), FINDING_IDS.index(f["id"]))


def diagnose(platform: t.Mapping[str, t.Any] | None, backups: t.Mapping[str, t.Any] | None = None,
             metadb: t.Mapping[str, t.Any] | None = None, thresholds: t.Mapping[str, t.Any] | None = None,
             now: float | None = None) -> list[dict[str, t.Any]]:
    """Findings from the three fact sources; each may be None (not gathered). Pure apart from the clock default.

    ``platform`` is platform_info's ``platform``, ``backups`` backup_info's ``backups``, ``metadb``
    metadb_info's ``metadb``. When the API could not be read (``backups`` None or ``api_reachable`` false), the
    backup, schedule and retention findings come from the metadata DB instead.
    """
    th = thresholds_with_defaults(thresholds)
    now = time.time() if now is None else float(now)
    findings: list[dict[str, t.Any]] = []
    if isinstance(platform, dict) and platform:
        findings += _platform_findings(dict(platform), th)
    if isinstance(metadb, dict) and metadb:
        findings += _metadb_findings(dict(metadb))
    api_ok = isinstance(backups, dict) and backups.get("api_reachable", True) and "universes" in backups
    if api_ok:
        findings += _backup_findings(dict(t.cast(dict, backups)), now, th)
    elif isinstance(metadb, dict) and metadb.get("reachable"):
        findings += _metadb_backup_findings(dict(metadb), now, th)
    findings.sort(key=_order)
    return findings


def platform_summary(platform: t.Mapping[str, t.Any] | None) -> str | None:
    """One line of what platform_info saw, problem or not: state, version, heap, process RSS, fullest volume."""
    if not platform:
        return None
    versions = _d(platform.get("versions"))
    heap = _d(platform.get("heap"))
    process = _d(platform.get("process"))
    disk = _d(platform.get("disk"))
    parts = ["platform %s" % (platform.get("state") or "unknown")]
    version = versions.get("api") or versions.get("yba") or versions.get("yba_ctl")
    if version:
        parts[0] += " (%s)" % version
    if heap.get("heap_used_percent") is not None:
        parts.append("heap %.0f%% of %s" % (_num(heap["heap_used_percent"]) or 0, _size(heap.get("heap_max_bytes"))))
    rss = process.get("rss_bytes") or heap.get("rss_bytes")
    if rss:
        parts.append("RSS %s" % _size(rss))
    if disk.get("max_used_percent") is not None:
        parts.append("disk %.1f%% used" % (_num(disk["max_used_percent"]) or 0))
    return ", ".join(parts)


def render(findings: t.Sequence[t.Mapping[str, t.Any]], host: str | None = None,
           platform: t.Mapping[str, t.Any] | None = None) -> str:
    """One readable diagnosis: what the platform looks like, then a line per finding with its evidence and the
    playbook (or the manual step) that fixes it."""
    head = "YBA diagnosis%s: " % (" of %s" % host if host else "")
    summary = platform_summary(platform)
    if not findings:
        return head + "no problems found." + ("\n    " + summary if summary else "")
    counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITIES}
    lines = [head + ", ".join("%d %s" % (counts[s], s) for s in SEVERITIES if counts[s])]
    if summary:
        lines.append("    " + summary)
    for i, f in enumerate(findings, 1):
        lines.append("%2d. [%s] %s" % (i, str(f.get("severity", "")).upper(), f.get("title")))
        if f.get("evidence"):
            lines.append("      evidence: %s" % f.get("evidence"))
        if f.get("fix_playbook"):
            lines.append("      fix:      playbooks/%s" % f.get("fix_playbook"))
        else:
            lines.append("      manual:   %s" % f.get("manual_fix"))
    return "\n".join(lines)
