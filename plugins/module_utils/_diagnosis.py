# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the pure diagnosis (facts of platform_info, backup_info, metadb_info -> findings).
# Not a public API: the filter plugin yba.remediation.diagnose and the diagnose role use it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import re
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
    "api_auth_failed": None,  # the API rejected the token: no playbook fixes the inventory
    "api_client_config": None,  # the probe's own TLS/CA setting: no playbook fixes the inventory
    "metadb_unreachable": "platform_service.yml",  # the role starts postgres before yb-platform
    "metadb_index_corrupt": "metadb_repair.yml",
    "metadb_failed_migrations": None,
    "metadb_stale_in_progress": "metadb_repair.yml",
    "storage_unreachable": None,
    "backups_stale": "emergency_backup.yml",  # once storage works (the role probes it first)
    "backups_failing": "emergency_backup.yml",  # its failures carry the failed subtasks' errors
    "schedules_paused": "backup_schedules.yml",  # refuses to resume onto storage its probe finds broken
    "retention_not_enforced": "backup_retention.yml",  # FailedToDelete too; keeps a floor of verified chains
}
MANUAL_FIXES = {
    "api_auth_failed": "set yba_api_token (inventory, vault or YBA_API_TOKEN) to a valid API token of a YBA user allowed"
                       " to read and repair backups (YBA UI: User Profile > API Key; HTTP 401: wrong or expired token,"
                       " 403: the user lacks permission), and yba_customer_uuid if that user sees several customers."
                       " Nothing reads or repairs backups through the API until then; no playbook restarts the"
                       " platform for it",
    "api_client_config": "the API probe failed on the client side, not on the platform: set yba_ca_path to the CA that"
                         " signed the YBA certificate (the roles send that file from the controller to the host; a"
                         " module's ca_path must exist where the module runs), check yba_url and validate_certs."
                         " No playbook restarts the platform for it",
    "metadb_failed_migrations": "restore the metadata DB from a yba-ctl createBackup archive (yba-ctl restoreBackup)"
                                " or ask Yugabyte support; YBA will not start past a failed Flyway migration",
    "storage_unreachable": "make the storage config's endpoint and credentials work: playbooks/storage_config.yml"
                           " with the desired settings (keys from a vault) probes them from the YBA host, writes the"
                           " config through the API (PUT /api/v1/customers/{c}/configs/{id}, YBA re-validates) and"
                           " probes again; the finding's error_class says which setting to fix",
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
             source: str | None = None, measured_by: str | None = None) -> dict[str, t.Any]:
    """``measured_by`` is the entry of ``measured()`` that, present in a later diagnosis, shows the finding's facts
    were read again (so its absence there means fixed); by default its ``source``."""
    return {"id": fid, "severity": severity, "title": title, "evidence": evidence,
            "fix_playbook": FIX_PLAYBOOKS[fid], "manual_fix": MANUAL_FIXES.get(fid), "subject": subject,
            "source": source, "measured_by": measured_by or source}


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
                            "pid %s, %s" % (proc.get("pid"), why), source="platform_info",
                            measured_by="platform_info:api"))
    elif state == "down":
        svc = (" (yb-platform service: %s)" % pf_service.get("raw")) if pf_service.get("raw") else ""
        out.append(_finding("platform_down", "critical", "YBA platform is down",
                            "no platform process found and the API does not answer%s: %s"
                            % (svc, api.get("message") or "no answer"), source="platform_info",
                            measured_by="platform_info:api"))
    elif state == "degraded" and not _auth_rejected(api):
        out.append(_finding("platform_down", "warning", "YBA platform answers but its authenticated API fails",
                            str(api.get("message") or "an authenticated call failed"), source="platform_info",
                            measured_by="platform_info:api"))

    if _auth_rejected(api):
        out.append(_auth_finding(str(api.get("message") or "the API rejected the token"), api.get("url"),
                                 "platform_info", "platform_info:auth"))
    elif api.get("client_error"):
        client_error = api.get("client_error")
        out.append(_finding("api_client_config", "warning",
                            "The API probe failed on the client side (%s): the platform's health was not checked"
                            % client_error, str(api.get("message") or client_error), subject=api.get("url"),
                            source="platform_info", measured_by="platform_info:tls"))

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
            source="platform_info", measured_by="platform_info:heap"))
    return out


def _auth_rejected(api: dict[str, t.Any]) -> bool:
    """The platform probe's authenticated call was refused with HTTP 401/403 (the token, not the platform)."""
    message = str(api.get("message") or "")
    return api.get("client_error") == "auth" or "HTTP 401" in message or "HTTP 403" in message


def _auth_finding(evidence: str, url: t.Any, source: str, measured_by: str) -> dict[str, t.Any]:
    return _finding("api_auth_failed", "critical", "The YBA API rejected yba_api_token: nothing was read or checked"
                    " through the API", evidence, subject=url, source=source, measured_by=measured_by)


# ------------------------------------------------------------------------------------------ metadb

def _metadb_findings(metadb: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    if not metadb.get("reachable"):
        return [_finding("metadb_unreachable", "critical", "The YBA metadata database (yugaware) cannot be queried",
                         str(metadb.get("error") or "no error given"), source="metadb_info",
                         measured_by="metadb_info:connect")]
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

# What a failed reach probe of storage from the YBA host points at, by its error class (_s3.ERROR_CLASSES).
STORAGE_CAUSES = {
    "invalid_config": "YBA's storage config is wrong",
    "dns": "the YBA host cannot resolve the endpoint (its DNS, or a wrong AWS_HOST_BASE)",
    "refused": "nothing listens at the endpoint (S3 down, or a wrong AWS_HOST_BASE)",
    "unreachable": "the YBA host has no route to the endpoint (network, firewall)",
    "timeout": "the endpoint does not answer the YBA host (S3 down, a firewall dropping packets, or a proxy)",
    "tls": "the YBA host does not trust the endpoint's certificate (YBA's CA trust store) or TLS fails",
    "http_error": "the endpoint answers, but not as S3 does",
    # from the check with the inventory's keys (storage_probe, read-only, on the YBA host)
    "stored_keys_differ": "YBA's storage config is wrong: it holds other keys than the vault's",
    "signature": "YBA's storage config is wrong: the secret key does not match the access key",
    "invalid_access_key": "YBA's storage config is wrong: the access key is unknown to the endpoint",
    "access_denied": "YBA's storage config is wrong: its keys may not use the bucket",
    "no_such_bucket": "YBA's storage config is wrong: the bucket of BACKUP_LOCATION does not exist",
    "wrong_region": "YBA's storage config is wrong: SIGNING_REGION is not the bucket's region",
    "no_credentials": "YBA's storage config is wrong: it has no keys and IAM_INSTANCE_PROFILE is off",
}


def _storage_findings(backups: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    out = []
    for cfg in backups.get("storage_configs") or []:
        if not isinstance(cfg, dict) or cfg.get("state") not in (None, "Active"):
            continue
        keys = _d(_d(backups.get("key_storage_probes")).get(str(cfg.get("config_uuid"))))
        if cfg.get("reachable") is True and keys and not keys.get("ok"):
            # the endpoint answers, but the check with the vault's keys shows YBA's config cannot work
            cause = STORAGE_CAUSES.get(str(keys.get("error_class")), "the storage answers with an error")
            title = "Backup storage %s (%s) does not work with YBA's config" % (cfg.get("config_name"), cfg.get("name"))
            evidence = "%s (probed from %s); %s" % (keys.get("summary"), keys.get("probed_from"), cause)
            out.append(_finding("storage_unreachable", "critical", title, evidence, subject=cfg.get("config_name"),
                                source="backup_info", measured_by=_storage_key(cfg)))
            continue
        if cfg.get("reachable") is not False:
            continue
        probe = _d(cfg.get("probe"))
        evidence = str(probe.get("summary") or "probe failed")
        where = cfg.get("probed_from") or backups.get("probed_from")
        if where:
            evidence += " (probed from %s)" % where
        cause = STORAGE_CAUSES.get(str(probe.get("error_class")))
        if cause:
            evidence += "; " + cause
        other = _d(_d(backups.get("controller_storage_probes")).get(str(cfg.get("config_uuid"))))
        if other:
            # the same reach probe from the controller tells the YBA host's network from the endpoint itself
            evidence += ("; the controller (%s) reaches it: the YBA host's own network, DNS or firewall is at fault"
                         % other.get("probed_from") if other.get("ok") else
                         "; the controller (%s) cannot reach it either (%s): S3 itself is down or AWS_HOST_BASE is "
                         "wrong" % (other.get("probed_from"), other.get("error_class")))
        out.append(_finding("storage_unreachable", "critical",
                            "Backup storage %s (%s) is unreachable" % (cfg.get("config_name"), cfg.get("name")),
                            evidence, subject=cfg.get("config_name"), source="backup_info",
                            measured_by=_storage_key(cfg)))
    return out


def _storage_key(cfg: dict[str, t.Any]) -> str:
    return "backup_info:storage:%s" % (cfg.get("config_uuid") or cfg.get("config_name"))


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
                            evidence, subject=name, source=source, measured_by="backups"))
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
                    "%d backup%s failed in the last 24 hours" % (n, "s" if n != 1 else ""), evidence, source=source,
                    measured_by="backups")


def _still_failing(universes: list[dict[str, t.Any]]) -> tuple[list[dict[str, t.Any]], int]:
    """(the universes whose failures in the window are not followed by a Completed backup, the failures of the
    others). A universe backed up since its last failure is no longer failing, as YBA's own "Backup Failure" alert
    resolves on the next successful backup; without both times a failure counts as unresolved."""
    failing, recovered = [], 0
    for u in universes:
        n = int(_num(u.get("failed_24h")) or 0)
        if not n:
            continue
        last_failed, last_done = _parse_time(u.get("last_failed_time")), _parse_time(u.get("last_completed_time"))
        if last_failed is not None and last_done is not None and last_done > last_failed:
            recovered += n
        else:
            failing.append(u)
    return failing, recovered


def _failing_finding(universes: list[dict[str, t.Any]], total: int, error: str | None, th: dict[str, float],
                     source: str, note: str = "") -> dict[str, t.Any] | None:
    """backups_failing for the failures no later backup resolved; ``total`` (all failures in the window) counts
    when no universe carries its own count (an older backup_info answer)."""
    per_u = [u for u in universes if int(_num(u.get("failed_24h")) or 0)]
    failing, recovered = _still_failing(per_u)
    n = sum(int(_num(u.get("failed_24h")) or 0) for u in failing) if per_u else total
    if n < th["failed_warning_count"]:
        return None
    parts = []
    if failing:
        parts.append("by universe: " + ", ".join("%s %d" % (u.get("name"), int(_num(u.get("failed_24h")) or 0))
                                                 for u in failing) + note)
    if recovered:
        parts.append("%d more followed by a Completed backup" % recovered)
    if error:
        parts.append("last error: %s" % error)
    return _failing(n, th, "; ".join(parts), source)


def _not_deleted(n: int, ftd: int, evidence: str, source: str) -> dict[str, t.Any]:
    """retention_not_enforced, from the API's view or the metadata DB's: expired backups not deleted and every
    FailedToDelete one (YBA's GC never retries it: only an API delete after the storage is fixed does)."""
    title = "%d expired backup%s not deleted" % (n, "s" if n != 1 else "")
    if ftd:
        title += " (%d FailedToDelete: YBA's GC never retries them)" % ftd
    return _finding("retention_not_enforced", "warning", title, evidence, source=source, measured_by="backups")


def _backup_findings(backups: dict[str, t.Any], now: float, th: dict[str, float]) -> list[dict[str, t.Any]]:
    out = _storage_findings(backups)
    out += _stale_universes([u for u in backups.get("universes") or [] if isinstance(u, dict)],
                            now, th["rpo_hours"] * 3600.0, "backup_info")
    failed = _d(backups.get("failed_24h"))
    failing = _failing_finding([u for u in backups.get("universes") or [] if isinstance(u, dict)],
                               int(_num(failed.get("count")) or 0), short_error(failed.get("error")), th, "backup_info")
    if failing:
        out.append(failing)
    out += _schedule_findings(_d(backups.get("schedules")), "backup_info")
    expired = _d(backups.get("expired_not_deleted"))
    ne = int(_num(expired.get("count")) or 0)
    if ne >= th["expired_warning_count"]:
        out.append(_not_deleted(ne, int(_num(expired.get("failed_to_delete")) or 0),
                                "oldest expiry %s; the backup garbage collector is not deleting them"
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
                     names or "", source=source, measured_by="backups")]


def _metadb_backup_findings(metadb: dict[str, t.Any], now: float, th: dict[str, float]) -> list[dict[str, t.Any]]:
    """The backup findings from the metadata DB's view, for when the API cannot be read."""
    out = []
    summary = [s for s in metadb.get("backup_summary") or [] if isinstance(s, dict)]
    universes = [{"name": s.get("universe_name"), "universe_uuid": s.get("universe_uuid"),
                  "last_completed_time": s.get("last_completed_time")} for s in summary]
    out += _stale_universes(universes, now, th["rpo_hours"] * 3600.0, "metadb_info")
    failing = _failing_finding([{"name": s.get("universe_name"), "failed_24h": s.get("failed_24h"),
                                 "last_failed_time": s.get("last_failed_time"),
                                 "last_completed_time": s.get("last_completed_time")} for s in summary],
                               0, None, th, "metadb_info", " (from the metadata DB; the API could not be read)")
    if failing:
        out.append(failing)
    out += _schedule_findings(_d(metadb.get("schedules")), "metadb_info")
    expired = _d(metadb.get("expired_not_deleted"))
    ne = int(_num(expired.get("count")) or 0)
    if ne >= th["expired_warning_count"]:
        out.append(_not_deleted(ne, int(_num(expired.get("failed_to_delete")) or 0),
                                "oldest expired %s ago (from the metadata DB)"
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
    if _api_read(backups):
        findings += _backup_findings(dict(t.cast(dict, backups)), now, th)
    else:
        findings = _merge_client_side(findings, _unread_findings(_d(backups)))
        if isinstance(metadb, dict) and metadb.get("reachable"):
            findings += _metadb_backup_findings(dict(metadb), now, th)
    findings.sort(key=_order)
    return findings


def _api_read(backups: t.Any) -> bool:
    return isinstance(backups, dict) and bool(backups.get("api_reachable", True)) and "universes" in backups


def _unread_findings(backups: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The finding of an API that backup_info could not read for a client-side reason (token, CA, TLS)."""
    kind = backups.get("error_kind")
    error = str(backups.get("error") or "")
    where = (" (probed from %s)" % backups["probed_from"]) if backups.get("probed_from") else ""
    if kind == "auth":
        return [_auth_finding(error + where, backups.get("url"), "backup_info", "backup_info:auth")]
    if kind in ("ca_file", "tls_verify", "tls_handshake"):
        return [_finding("api_client_config", "warning", "Reading the API failed on the client side (%s): backups,"
                         " schedules and storage were not read through it" % kind, error + where,
                         subject=backups.get("url"), source="backup_info", measured_by="backup_info:tls")]
    return []


def _merge_client_side(findings: list[dict[str, t.Any]], extra: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """One finding per client-side cause: backup_info's (it names the failed request and where it ran) replaces the
    platform probe's of the same id."""
    ids = {f["id"] for f in extra}
    return [f for f in findings if f["id"] not in ids] + extra


CLIENT_SIDE_KINDS = ("auth", "ca_file", "tls_verify", "tls_handshake")


def measured(platform: t.Mapping[str, t.Any] | None, backups: t.Mapping[str, t.Any] | None = None,
             metadb: t.Mapping[str, t.Any] | None = None) -> list[str]:
    """What this diagnosis really read: the ``measured_by`` keys of the findings it could have made.

    A finding of an earlier diagnosis is fixed only when its ``measured_by`` is in this list and the finding is gone:
    a source that was not read this time (API down, metadata DB unreachable, storage not probed) proves nothing.
    Keys: ``platform_info`` (host facts: disk, process, services), ``platform_info:api`` (the platform's health was
    judged), ``platform_info:auth`` (an authenticated call answered), ``platform_info:tls`` (TLS to the API worked),
    ``platform_info:heap`` (JVM heap read), ``metadb_info:connect`` (metadb_info ran), ``metadb_info`` (the metadata DB
    was queried), ``backup_info`` (the API's backup state was read), ``backup_info:auth`` / ``backup_info:tls`` (its
    requests were accepted / its TLS worked), ``backup_info:storage:<config uuid>`` (that storage config was probed),
    ``backups`` (the backup, schedule and retention state was read, from the API or else the metadata DB).
    """
    out: set[str] = set()
    p, b, m = _d(platform), _d(backups), _d(metadb)
    if p:
        out.add("platform_info")
        api = _d(p.get("api"))
        if p.get("state") not in (None, "unknown"):
            out.add("platform_info:api")
        if api.get("healthy") or _auth_rejected(api):
            out.add("platform_info:auth")
        if api.get("reachable") or api.get("version") or api.get("client_error"):
            out.add("platform_info:tls")
        if _num(_d(p.get("heap")).get("heap_used_percent")) is not None:
            out.add("platform_info:heap")
    if m:
        out.add("metadb_info:connect")
        if m.get("reachable"):
            out.add("metadb_info")
    if _api_read(backups):
        out.update(("backup_info", "backup_info:auth", "backup_info:tls", "backups"))
        for cfg in b.get("storage_configs") or []:
            if isinstance(cfg, dict) and cfg.get("probe"):
                out.add(_storage_key(cfg))
    else:
        if b.get("error_kind") == "auth":
            out.add("backup_info:auth")
        elif b.get("error_kind") in CLIENT_SIDE_KINDS:
            out.add("backup_info:tls")
        if m.get("reachable"):
            out.add("backups")
    return sorted(out)


def fixed(before: t.Sequence[t.Mapping[str, t.Any]], after: t.Sequence[t.Mapping[str, t.Any]],
          after_measured: t.Iterable[str]) -> list[str]:
    """The ids of ``before``'s findings that a later diagnosis (``after`` findings, ``after_measured`` =
    ``measured()``) shows fixed: no finding of that id any more, and every earlier finding of it measured again."""
    seen = set(after_measured)
    after_ids = {f.get("id") for f in after if isinstance(f, dict)}
    out: list[str] = []
    for fid in dict.fromkeys(f.get("id") for f in before if isinstance(f, dict)):
        if fid in after_ids or fid is None:
            continue
        mine = [f for f in before if isinstance(f, dict) and f.get("id") == fid]
        if all((f.get("measured_by") or f.get("source")) in seen for f in mine):
            out.append(str(fid))
    return out


def probes(platform: t.Mapping[str, t.Any] | None, backups: t.Mapping[str, t.Any] | None = None,
           metadb: t.Mapping[str, t.Any] | None = None, ran_on: str | None = None) -> list[dict[str, t.Any]]:
    """Each probe of the diagnosis with where it ran: ``{name, ran_on, ok, error}``. ``ran_on`` is the host the
    modules ran on (the role's inventory host); backup_info names the machine it ran on itself (``probed_from``)."""
    out: list[dict[str, t.Any]] = []
    p, b, m = _d(platform), _d(backups), _d(metadb)
    if p:
        out.append({"name": "platform_info", "ran_on": ran_on, "ok": True, "error": None})
        api = _d(p.get("api"))
        out.append({"name": "platform_api", "ran_on": ran_on, "ok": bool(api.get("healthy")),
                    "error": None if api.get("healthy") else (api.get("message") or "no answer")})
    if m:
        out.append({"name": "metadb_info", "ran_on": ran_on, "ok": bool(m.get("reachable")),
                    "error": None if m.get("reachable") else (m.get("error") or "not queried")})
    if b:
        where = b.get("probed_from") or ran_on
        ok = _api_read(backups)
        out.append({"name": "backup_info", "ran_on": where, "ok": ok,
                    "error": None if ok else (b.get("error") or "not read")})
        for cfg in b.get("storage_configs") or []:
            probe = _d(cfg.get("probe")) if isinstance(cfg, dict) else {}
            if not probe:
                continue
            out.append({"name": "storage %s" % cfg.get("config_name"), "ran_on": cfg.get("probed_from") or where,
                        "ok": bool(probe.get("ok")), "error": None if probe.get("ok") else probe.get("summary")})
    return out


def incomplete(platform: t.Mapping[str, t.Any] | None, backups: t.Mapping[str, t.Any] | None = None,
               host: str | None = None) -> str | None:
    """ONE line saying why the diagnosis is incomplete, or None: the API was not read (or the platform probe was
    refused on the client side) while no platform_hung / platform_down finding explains it. A diagnosis must never
    read as green with the API unread."""
    p, b = _d(platform), _d(backups)
    api = _d(p.get("api"))
    if p.get("state") in ("hung", "down") or (p.get("state") == "degraded" and not _auth_rejected(api)):
        return None  # explained by the platform_hung / platform_down finding
    reason = None
    if b and not _api_read(backups):
        reason = _unread_reason(b.get("error_kind"), str(b.get("error") or "not read"), b.get("url"),
                                b.get("probed_from"))
    elif _auth_rejected(api) or api.get("client_error"):
        message = str(api.get("message") or api.get("client_error"))
        path = re.search(r"^[A-Z]+ (/\S*)", message)
        url = (str(api.get("url") or "").rstrip("/") + path.group(1)) if path and api.get("url") else api.get("url")
        reason = _unread_reason("auth" if _auth_rejected(api) else api.get("client_error"), message, url, None)
    if reason is None:
        return None
    return "%sdiagnosis incomplete: %s; nothing was changed" % (("%s: " % host) if host else "", reason)


def _unread_reason(kind: t.Any, error: str, url: t.Any, where: t.Any) -> str:
    status = re.search(r"HTTP (\d{3})", error)
    at = (" from %s" % url) if url else ""
    by = (" (probed from %s)" % where) if where else ""
    if kind == "auth":
        return "the API rejected yba_api_token (%s%s)%s" % (("HTTP %s" % status.group(1)) if status else "HTTP 401/403",
                                                            at, by)
    if kind in CLIENT_SIDE_KINDS:
        return "the API could not be read on the client side (%s%s: %s)%s; check yba_ca_path, yba_url and" \
               " yba_validate_certs" % (kind, at, error, by)
    return "the API could not be read%s%s: %s" % (at, by, error)


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
