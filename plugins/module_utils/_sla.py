# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the backup SLA of one YBA (freshness against the RPO, redundancy, schedules,
# storage) evaluated once (pure) and rendered as JSON, a Prometheus textfile, JUnit XML and a Nagios line.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One evaluation, four renderings.

``evaluate`` turns what the API answered (universes, schedules, backups, storage configs) plus the storage probes
and the bucket verifications into a document of verdicts; ``render_json``, ``render_prometheus``,
``render_junit`` and ``nagios`` only render that document, so the four outputs never disagree. Freshness, RPO
and the newest recovery point come from ``_freshness``; failures and expired backups from
``_backupinfo.summarize``.
"""
from __future__ import annotations

import datetime
import json
import os
import tempfile
import typing as t
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr

from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr

SCHEMA_VERSION = 1
OK, WARNING, CRITICAL, UNKNOWN, SKIPPED = "ok", "warning", "critical", "unknown", "skipped"
STATUSES = (OK, WARNING, CRITICAL, UNKNOWN, SKIPPED)
# Nagios plugin states and exit codes (Nagios plugin API); UNKNOWN outranks WARNING (the SLA cannot be vouched for)
# but not CRITICAL (a violation that is known wins).
NAGIOS = {OK: ("OK", 0), WARNING: ("WARNING", 1), CRITICAL: ("CRITICAL", 2), UNKNOWN: ("UNKNOWN", 3)}
RANK = {SKIPPED: 0, OK: 1, WARNING: 2, UNKNOWN: 3, CRITICAL: 4}
FAIL_ON = {"never": (), "critical": (CRITICAL, UNKNOWN), "warning": (WARNING, CRITICAL, UNKNOWN)}
DEFAULT_WARN_RATIO = 0.8
PROBE_MODES = ("reach", "read", "canary", "none")
CLASSNAME = "yba.backup_sla"


def thresholds(rpo_factor: float = fr.DEFAULT_FACTOR, default_rpo_seconds: float = fr.DEFAULT_RPO_SECONDS,
               rpo_seconds: t.Mapping[str, float] | None = None, rpo_from_schedules: bool = True,
               warn_ratio: float = DEFAULT_WARN_RATIO, min_copies: int = 1, window_hours: float = 24.0,
               failures_warning: int = 0, verify: bool = False, probe: str = "reach",
               backup_types: t.Sequence[str] | str = "auto") -> dict[str, t.Any]:
    """The knobs of an evaluation, as the JSON document and the JUnit properties show them."""
    return {"rpo_factor": float(rpo_factor), "default_rpo_seconds": float(default_rpo_seconds),
            "rpo_seconds": {str(k): float(v) for k, v in (rpo_seconds or {}).items()},
            "rpo_from_schedules": bool(rpo_from_schedules), "warn_ratio": float(warn_ratio),
            "min_copies": int(min_copies), "window_hours": float(window_hours),
            "failures_warning": int(failures_warning), "verify": bool(verify), "probe": probe,
            "backup_types": backup_types if isinstance(backup_types, str) else [
                fr.api_name(fr.backup_type_of(b)) for b in backup_types]}


def worst(statuses: t.Iterable[str]) -> str:
    out = SKIPPED
    for s in statuses:
        if RANK.get(s, 0) > RANK[out]:
            out = s
    return out


def duration(seconds: float | None) -> str:
    """73h, 45m, 2d: how a Nagios line and a reason say an age."""
    if seconds is None:
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds >= 4 * 86400:
        return "%dd" % round(seconds / 86400.0)
    if seconds >= 3 * 3600:
        return "%dh" % round(seconds / 3600.0)
    if seconds >= 120:
        return "%dm" % round(seconds / 60.0)
    return "%ds" % round(seconds)


# --------------------------------------------------------------------------------------------- storage

def independence_key(config: dict[str, t.Any] | None, config_uuid: str) -> str:
    """Two storage configs hold independent copies only when they point at different storage: the endpoint and
    bucket of an S3 config (two configs on one bucket are one copy), the location of other types; a config YBA no
    longer knows stands for itself."""
    if not config:
        return "config:" + config_uuid
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    location = str(data.get("BACKUP_LOCATION") or "")
    if config.get("name") == "S3":
        bucket = location[len("s3://"):] if location.startswith("s3://") else location
        return "s3:%s/%s" % (str(data.get("AWS_HOST_BASE") or "aws").rstrip("/").lower(), bucket.partition("/")[0])
    return "%s:%s" % (config.get("name"), location or config_uuid)


def storage_items(configs: t.Sequence[dict[str, t.Any]], probes: t.Mapping[str, dict[str, t.Any] | None],
                  used: t.Collection[str], probe_mode: str) -> list[dict[str, t.Any]]:
    """A verdict per STORAGE config: its probe passed (ok), failed (critical while backups use it, else warning),
    or was not run (skipped)."""
    out = []
    for cfg in configs:
        uuid = str(cfg.get("configUUID") or "")
        data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
        result = probes.get(uuid)
        item = {"config": cfg.get("configName"), "config_uuid": uuid, "type": cfg.get("name"),
                "location": data.get("BACKUP_LOCATION"), "in_use": uuid in used or bool(cfg.get("inUse")),
                "probe_mode": probe_mode, "probe_ok": None, "failed_step": None, "error_class": None,
                "probe_summary": None}
        if result is None:
            item.update(status=SKIPPED, reason="not probed (probe none)" if probe_mode == "none"
                        else "only S3 storage is probed")
        else:
            item.update(probe_ok=bool(result.get("ok")), failed_step=result.get("failed_step"),
                        error_class=result.get("error_class"), probe_summary=result.get("summary"),
                        probe_mode=result.get("mode", probe_mode))
            if result.get("ok"):
                item.update(status=OK, reason="%s probe passed" % item["probe_mode"])
            else:
                item.update(status=CRITICAL if item["in_use"] else WARNING,
                            reason="%s (%s): %s" % (result.get("failed_step"), result.get("error_class"),
                                                    result.get("error") or result.get("summary")))
        out.append(item)
    return sorted(out, key=lambda i: (str(i["config"] or ""), i["config_uuid"]))


# ------------------------------------------------------------------------------------------ evaluation

def _schedule_newest(backups: t.Iterable[dict[str, t.Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for b in backups:
        sched = bi._backup_fields(b)["schedule_uuid"]
        when = fr.success_time(b)
        if sched and when is not None and when > out.get(sched, 0.0):
            out[sched] = when
    return out


def _last_failures(backups: t.Iterable[dict[str, t.Any]]) -> dict[tuple[str, str], float]:
    """When each universe and backup type last had a backup fail (its update time: when it ended)."""
    out: dict[tuple[str, str], float] = {}
    for b in backups:
        f = bi._backup_fields(b)
        when = f["update_time"] or f["completion_time"] or f["create_time"]
        if f["state"] == bi.FAILED and when is not None:
            key = (str(f["universe_uuid"] or ""), fr.backup_type(b))
            out[key] = max(out.get(key, 0.0), when)
    return out


def _backup_schedules(schedules: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [s for s in schedules if s.get("taskType", "CreateBackup") == "CreateBackup"]


def evaluate(universes: t.Sequence[dict[str, t.Any]], schedules: t.Sequence[dict[str, t.Any]],
             backups: t.Sequence[dict[str, t.Any]], configs: t.Sequence[dict[str, t.Any]], now: float,
             limits: dict[str, t.Any], probes: t.Mapping[str, dict[str, t.Any] | None] | None = None,
             verifications: t.Mapping[str, dict[str, t.Any]] | None = None,
             min_retain: t.Mapping[str, int] | None = None, yba: dict[str, t.Any] | None = None,
             truncated: bool = False) -> dict[str, t.Any]:
    """The SLA document of one YBA (see README of the module for its schema).

    ``backups`` are backups/page entities newest first (any order works), ``configs`` GET configs answers (STORAGE
    ones are used), ``probes`` maps a config UUID to an ``_s3.probe`` result (None or absent: not probed),
    ``verifications`` maps a backup UUID to a ``_backupverify.verify_backup`` result (only with ``verify``)."""
    probes = probes or {}
    verifications = verifications or {}
    storage_cfgs = [c for c in configs if c.get("type") == "STORAGE"]
    by_cfg = {str(c.get("configUUID")): c for c in storage_cfgs}
    summary = bi.summarize(backups, universes, schedules, now, limits["window_hours"] * 3600.0, 5, min_retain)
    per_universe = {u["universe_uuid"]: u for u in summary["universes"]}
    newest = fr.latest(backups)
    last_failed = _last_failures(backups)
    sched_newest = _schedule_newest(backups)
    backup_scheds = _backup_schedules(schedules)
    rpo_schedules = backup_scheds if limits["rpo_from_schedules"] else []
    wanted = limits["backup_types"]

    used: set[str] = set()
    for s in backup_scheds:
        if s.get("status") != "Stopped" and fr.schedule_info(s)["storage_config_uuid"]:
            used.add(str(fr.schedule_info(s)["storage_config_uuid"]))
    for (_u, _typ, cfg) in newest:
        used.add(cfg)
    storage = storage_items(storage_cfgs, probes, used, limits["probe"])
    by_store = {s["config_uuid"]: s for s in storage}

    items = []
    for u in sorted(universes, key=lambda x: (str(x.get("name") or ""), str(x.get("universeUUID") or ""))):
        uuid, name = str(u.get("universeUUID") or ""), str(u.get("name") or "")
        skip = fr.universe_state(u)
        info = per_universe.get(uuid, {})
        mine = [s for s in backup_scheds if fr.schedule_info(s)["universe_uuid"] == uuid]
        for typ in fr.targets(u, backup_scheds, wanted):
            items.append(_universe_item(u, typ, skip, info, mine, rpo_schedules, newest, by_cfg, by_store,
                                        verifications, last_failed.get((uuid, typ)), now, limits))

    sched_items = []
    names = {str(u.get("universeUUID") or ""): u for u in universes}
    for s in sorted(backup_scheds, key=lambda x: (str(x.get("scheduleName") or ""), str(x.get("scheduleUUID")))):
        sched_items.append(_schedule_item(s, names, sched_newest, by_cfg, by_store, now, limits))

    doc = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": bi.iso(now), "generated_at_timestamp": round(now, 3),
        "yba": dict(yba or {}, api_reachable=True),
        "thresholds": limits,
        "universes": items, "schedules": sched_items, "storage": storage,
        "failed": {k: summary["failed_24h"][k] for k in ("count", "window_seconds", "sample")},
        "expired_not_deleted": summary["expired_not_deleted"],
        "scanned_backups": summary["scanned_backups"], "truncated": bool(truncated),
    }
    return _finish(doc)


def _universe_item(u: dict[str, t.Any], typ: str, skip: str | None, info: dict[str, t.Any],
                   mine: list[dict[str, t.Any]], rpo_schedules: list[dict[str, t.Any]],
                   newest: dict[tuple[str, str, str], dict[str, t.Any]], by_cfg: dict[str, dict[str, t.Any]],
                   by_store: dict[str, dict[str, t.Any]], verifications: t.Mapping[str, dict[str, t.Any]],
                   failed_at: float | None, now: float, limits: dict[str, t.Any]) -> dict[str, t.Any]:
    broken = {k: v for k, v in by_store.items() if v["probe_ok"] is False}
    uuid, name = str(u.get("universeUUID") or ""), str(u.get("name") or "")
    rpo, source = fr.rpo(u, typ, rpo_schedules, limits["rpo_seconds"], limits["default_rpo_seconds"],
                         limits["rpo_factor"])
    typ_scheds = [s for s in mine if fr.schedule_info(s)["backup_type"] == typ]
    item: dict[str, t.Any] = {
        "universe": name, "universe_uuid": uuid, "backup_type": fr.api_name(typ), "status": OK, "reason": "",
        "rpo_seconds": round(rpo, 3), "rpo_source": source, "warn_seconds": round(rpo * limits["warn_ratio"], 3),
        "last_success": None, "last_success_timestamp": None, "age_seconds": None, "copies": 0,
        "min_copies": limits["min_copies"], "copies_detail": [],
        "failed_in_window": int(info.get("failed_24h") or 0), "last_failure": None,
        "expired_not_deleted": int(info.get("expired_not_deleted") or 0),
        "schedules": sorted(str(s.get("scheduleName")) for s in typ_scheds),
    }
    # The newest Completed backup on each storage config: one copy each; configs on the same storage count once.
    groups: dict[str, dict[str, t.Any]] = {}
    unusable: tuple[float, dict[str, t.Any]] | None = None  # the newest copy that does not count, and why
    for (bu, btyp, cfg), b in newest.items():
        if bu != uuid or btyp != typ:
            continue
        f = bi._backup_fields(b)
        when = fr.success_time(b) or 0.0
        copy = {"config": (by_cfg.get(cfg) or {}).get("configName"), "config_uuid": cfg,
                "backup_uuid": f["backup_uuid"], "completed_at": bi.iso(when), "age_seconds": int(now - when),
                "within_rpo": now - when <= rpo, "verified": None, "problem": None, "counted": False}
        if limits["verify"]:
            v = verifications.get(str(f["backup_uuid"])) or {"verified": False, "problem": "not verified"}
            copy["verified"] = bool(v.get("verified"))
            copy["problem"] = None if copy["verified"] else (v.get("problem") or "not verified in the bucket")
        # a failed probe says nothing about what the bucket holds (verify does): the copy still counts, and the
        # schedules that write there make the item critical below
        copy["storage_probe_ok"] = (by_store.get(cfg) or {}).get("probe_ok")
        key = independence_key(by_cfg.get(cfg), cfg)
        item["copies_detail"].append(copy)
        if copy["problem"] is None and (key not in groups or when > groups[key]["when"]):
            groups[key] = {"when": when, "copy": copy}
        elif copy["problem"] is not None and (unusable is None or when > unusable[0]):
            unusable = (when, copy)
    item["copies_detail"].sort(key=lambda c: (c["age_seconds"], str(c["config"])))
    good = sorted(groups.values(), key=lambda g: -g["when"])
    for g in good:
        g["copy"]["counted"] = now - g["when"] <= rpo
    item["copies"] = sum(1 for g in good if now - g["when"] <= rpo)
    best = good[0]["when"] if good else None
    if best is not None:
        item.update(last_success=bi.iso(best), last_success_timestamp=round(best, 3), age_seconds=int(now - best))

    reasons: list[tuple[str, str]] = []
    if skip:
        item.update(status=SKIPPED, reason=skip)
        return item
    k = limits["min_copies"]
    if not item["copies_detail"]:
        reasons.append((CRITICAL, "no Completed backup"))
    elif len(good) < k:
        bad = [c for c in item["copies_detail"] if c["problem"]]
        if not good and bad:
            reasons.append((CRITICAL, "no usable backup: %s" % "; ".join(
                "%s %s" % (c["config"] or c["config_uuid"], c["problem"]) for c in bad)))
        else:
            reasons.append((CRITICAL, "%d of %d independent copies" % (len(good), k)))
    else:
        # the k-th freshest independent copy decides: min_copies copies must all be within the RPO
        age = now - good[k - 1]["when"]
        what = "newest backup" if k == 1 else "copy %d of %d" % (k, k)
        if age > rpo:
            reasons.append((CRITICAL, "%s %s old > RPO %s" % (what, duration(age), duration(rpo))))
        elif age > rpo * limits["warn_ratio"]:
            share = round(limits["warn_ratio"] * 100)
            reasons.append((WARNING, "%s %s old > %d%% of RPO %s" % (what, duration(age), share, duration(rpo))))
    if unusable is not None and best is not None and unusable[0] > best:
        reasons.append((WARNING, "the newest backup, on %s, does not count: %s" % (
            unusable[1]["config"] or unusable[1]["config_uuid"], unusable[1]["problem"])))
    for s in typ_scheds:
        cfg = str(fr.schedule_info(s)["storage_config_uuid"] or "")
        if s.get("status") != "Stopped" and cfg in broken:
            reasons.append((CRITICAL, "schedule %s writes to storage %s, which fails its probe" % (
                s.get("scheduleName"), broken[cfg]["config"] or cfg)))
    # the last attempt failed: no Completed backup since the newest failure (on any storage config)
    newest_done = max((fr.success_time(b) or 0.0 for (bu, btyp, _c), b in newest.items() if bu == uuid and btyp == typ),
                      default=None)
    item["last_failure"] = bi.iso(failed_at)
    if failed_at is not None and (newest_done is None or failed_at > newest_done):
        reasons.append((WARNING, "the last backup failed %s ago" % duration(now - failed_at)))
    elif limits["failures_warning"] > 0 and item["failed_in_window"] >= limits["failures_warning"]:
        reasons.append((WARNING, "%d failed in the last %s" % (item["failed_in_window"],
                                                               duration(limits["window_hours"] * 3600.0))))
    item["status"] = worst([OK] + [r[0] for r in reasons])
    item["reason"] = "; ".join(r[1] for r in sorted(reasons, key=lambda r: -RANK[r[0]])) or (
        "%s %s old, RPO %s, %d cop%s" % ("newest backup", duration(item["age_seconds"]), duration(rpo),
                                         item["copies"], "y" if item["copies"] == 1 else "ies"))
    return item


def _schedule_item(s: dict[str, t.Any], universes: dict[str, dict[str, t.Any]], sched_newest: dict[str, float],
                   by_cfg: dict[str, dict[str, t.Any]], by_store: dict[str, dict[str, t.Any]], now: float,
                   limits: dict[str, t.Any]) -> dict[str, t.Any]:
    broken = {k: v for k, v in by_store.items() if v["probe_ok"] is False}
    info = fr.schedule_info(s)
    owner = universes.get(str(info["universe_uuid"] or ""))
    interval = fr.schedule_interval_seconds(s)
    rpo = interval * limits["rpo_factor"] if interval else None
    last = sched_newest.get(str(s.get("scheduleUUID")))
    nxt = s.get("nextExpectedTask") if s.get("nextExpectedTask") is not None else s.get("nextScheduleTaskTime")
    cfg = str(info["storage_config_uuid"] or "")
    item = {"schedule": s.get("scheduleName"), "schedule_uuid": s.get("scheduleUUID"),
            "universe": owner.get("name") if owner else None, "universe_uuid": info["universe_uuid"],
            "backup_type": fr.api_name(info["backup_type"]), "state": s.get("status"), "status": OK, "reason": "",
            "failure_count": int(s.get("failureCount") or 0), "backlog": bool(s.get("backlogStatus")),
            "expected_interval_seconds": interval, "rpo_seconds": round(rpo, 3) if rpo else None,
            "last_success": bi.iso(last), "last_success_timestamp": round(last, 3) if last else None,
            "age_seconds": int(now - last) if last else None, "next_expected": bi.iso(bi.parse_time(nxt)),
            "storage_config": (by_cfg.get(cfg) or {}).get("configName"), "storage_config_uuid": cfg or None}
    skip = fr.universe_state(owner) if owner else "its universe is gone"
    if skip:
        item.update(status=SKIPPED, reason="universe %s" % skip if owner else skip)
        return item
    if s.get("status") == "Stopped":
        item.update(status=SKIPPED, reason="stopped")
        return item
    reasons: list[tuple[str, str]] = []
    if s.get("status") == "Paused":
        reasons.append((CRITICAL, "paused by YBA after %d failures" % item["failure_count"]))
    elif s.get("status") != "Active":
        reasons.append((UNKNOWN, "status %s" % s.get("status")))
    if cfg in broken:
        reasons.append((CRITICAL, "its storage %s fails its probe" % (broken[cfg]["config"] or cfg)))
    if rpo is not None:
        if last is None:
            reasons.append((CRITICAL, "no Completed backup"))
        elif now - last > rpo:
            reasons.append((CRITICAL, "newest backup %s old > %s (%s x %g)" % (
                duration(now - last), duration(rpo), duration(interval), limits["rpo_factor"])))
        elif now - last > rpo * limits["warn_ratio"]:
            reasons.append((WARNING, "newest backup %s old > %d%% of %s" % (
                duration(now - last), round(limits["warn_ratio"] * 100), duration(rpo))))
    # YBA never resets failureCount (Schedule.resetSchedule keeps it): it warns only until the schedule has
    # produced a Completed backup within its interval again; after that it is history, named in the reason.
    recovered = last is not None and interval is not None and now - last <= interval
    if item["failure_count"] and s.get("status") == "Active" and not recovered:
        reasons.append((WARNING, "failure count %d" % item["failure_count"]))
    if item["backlog"]:
        reasons.append((WARNING, "backlogged (a run was skipped while the universe was locked)"))
    item["status"] = worst([OK] + [r[0] for r in reasons])
    item["reason"] = "; ".join(r[1] for r in sorted(reasons, key=lambda r: -RANK[r[0]])) or (
        "%s, newest backup %s old%s" % (s.get("status"), duration(item["age_seconds"]),
                                        "; failure count %d kept by YBA from before" % item["failure_count"]
                                        if item["failure_count"] else ""))
    return item


def unreachable(error: str, error_kind: str, now: float, limits: dict[str, t.Any],
                yba: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """The document when YBA could not be read: nothing can be vouched for, everything is unknown."""
    doc = {"schema_version": SCHEMA_VERSION, "generated_at": bi.iso(now), "generated_at_timestamp": round(now, 3),
           "yba": dict(yba or {}, api_reachable=False, error=error, error_kind=error_kind),
           "thresholds": limits, "universes": [], "schedules": [], "storage": [],
           "failed": {"count": 0, "window_seconds": int(limits["window_hours"] * 3600), "sample": []},
           "expired_not_deleted": {"count": 0, "oldest_expiry": None, "sample": []},
           "scanned_backups": 0, "truncated": False}
    return _finish(doc)


def _finish(doc: dict[str, t.Any]) -> dict[str, t.Any]:
    groups = {"universes": doc["universes"], "schedules": doc["schedules"], "storage": doc["storage"]}
    summary: dict[str, t.Any] = {}
    for key, items in groups.items():
        summary[key] = {s: sum(1 for i in items if i["status"] == s) for s in STATUSES}
        summary[key]["total"] = len(items)
    if not doc["yba"].get("api_reachable"):
        overall = UNKNOWN
    else:
        overall = worst([OK] + [i["status"] for items in groups.values() for i in items])
    summary["status"] = overall
    doc["summary"] = summary
    doc["status"] = overall
    doc["nagios"] = nagios(doc)
    return doc


# ------------------------------------------------------------------------------------------- renderings

def _perf_label(text: str) -> str:
    return "'%s'" % str(text).replace("'", "''").replace("=", "_")


def nagios(doc: dict[str, t.Any]) -> dict[str, t.Any]:
    """``{status, exit_code, line}`` in the Nagios plugin format: ``YBA BACKUP <STATE> - <text>|<perfdata>``,
    perfdata the age of each universe x type's newest usable copy (seconds; warn and crit from its RPO)."""
    state, code = NAGIOS[doc.get("status", UNKNOWN) if doc.get("status") != SKIPPED else OK]
    yba = doc["yba"]
    if not yba.get("api_reachable"):
        text = "cannot read YBA at %s: %s" % (yba.get("url") or "?", yba.get("error"))
        return {"status": state, "exit_code": code, "line": "YBA BACKUP %s - %s" % (state, text), "text": text}
    units = doc["universes"]
    evaluated = sorted({i["universe"] for i in units if i["status"] != SKIPPED})
    parts = []
    for level in (CRITICAL, WARNING, UNKNOWN):
        hit = [i for i in units if i["status"] == level]
        if not hit:
            continue
        names = sorted({i["universe"] for i in hit})
        verb = {CRITICAL: "beyond RPO or without enough copies", WARNING: "near RPO or with warnings",
                UNKNOWN: "not evaluated"}[level]
        parts.append("%d of %d universes %s: %s" % (len(names), len(evaluated), verb, ", ".join(
            "%s/%s (%s)" % (i["universe"], i["backup_type"], i["reason"]) for i in hit)))
    for key, label in (("schedules", "schedule"), ("storage", "storage")):
        for level in (CRITICAL, WARNING, UNKNOWN):
            hit = [i for i in doc[key] if i["status"] == level]
            if hit:
                parts.append("%d %s %s: %s" % (len(hit), label, level, ", ".join(
                    "%s (%s)" % (i.get("schedule") or i.get("config"), i["reason"]) for i in hit)))
    if not parts:
        skipped = sum(1 for i in units if i["status"] == SKIPPED)
        parts.append("%d of %d universes within RPO with >= %d cop%s%s; %d schedules, %d storage configs ok" % (
            len(evaluated), len(evaluated), doc["thresholds"]["min_copies"],
            "y" if doc["thresholds"]["min_copies"] == 1 else "ies",
            " (%d skipped)" % skipped if skipped else "",
            sum(1 for i in doc["schedules"] if i["status"] == OK),
            sum(1 for i in doc["storage"] if i["status"] == OK)))
    perf = []
    for i in units:
        if i["status"] == SKIPPED:
            continue
        age = i["age_seconds"] if i["age_seconds"] is not None else "U"
        label = _perf_label("%s/%s" % (i["universe"], i["backup_type"]))
        perf.append("%s=%ss;%d;%d;0" % (label, age, round(i["warn_seconds"]), round(i["rpo_seconds"])))
    perf.append("universes_critical=%d;;;0" % sum(1 for i in units if i["status"] == CRITICAL))
    text = "; ".join(parts)
    return {"status": state, "exit_code": code, "line": "YBA BACKUP %s - %s|%s" % (state, text, " ".join(perf)),
            "text": text}


def render_json(doc: dict[str, t.Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _label_value(value: t.Any) -> str:
    # text exposition format: backslash, double quote and line feed are escaped in label values
    return str("" if value is None else value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


METRICS = {
    "yba_backup_sla_evaluation_timestamp_seconds": "When the backup SLA was evaluated (Unix time).",
    "yba_backup_sla_api_up": "Whether the YBA API could be read (1) or not (0, every verdict unknown).",
    "yba_backup_sla_status": "Overall verdict: 0 ok, 1 warning, 2 critical, 3 unknown (Nagios codes).",
    "yba_backup_sla_min_copies": "Independent storage configs that must each hold a backup within the RPO.",
    "yba_backup_last_success_timestamp_seconds":
        "Completion time of the newest usable Completed backup (Unix time, 0 if none); schedule empty for the "
        "universe x backup type.",
    "yba_backup_rpo_seconds": "The RPO the newest backup is held to (schedule empty for the universe x backup type).",
    "yba_backup_sla_ok": "1 when the item meets its SLA (ok, warning or skipped), 0 when critical or unknown.",
    "yba_backup_sla_item_status": "1 for the item's current verdict (ok, warning, critical, unknown, skipped).",
    "yba_backup_copies": "Independent storage configs holding a usable backup within the RPO.",
    "yba_backup_failed_backups": "Backups of the universe that failed within the evaluation window.",
    "yba_backup_expired_not_deleted": "Backups of the universe past their expiry and still not deleted.",
    "yba_schedule_paused": "1 when YBA paused the schedule (after repeated failures), else 0.",
    "yba_schedule_failure_count": "The schedule's failureCount as YBA reports it (never reset by YBA).",
    "yba_schedule_backlog": "1 when a run of the schedule is backlogged (the universe was locked), else 0.",
    "yba_schedule_expected_interval_seconds": "How often the schedule takes a backup.",
    "yba_storage_probe_success": "1 when the storage config's probe passed, 0 when it failed (not probed: absent).",
}


def render_prometheus(doc: dict[str, t.Any]) -> str:
    """The document as a node_exporter textfile: gauges prefixed yba_, HELP and TYPE once per metric, no sample
    timestamps (the textfile collector refuses them), label values escaped."""
    samples: dict[str, list[str]] = {name: [] for name in METRICS}
    series: set[str] = set()

    def add(name: str, value: float | int | bool, **labels: t.Any) -> None:
        text = ",".join('%s="%s"' % (k, _label_value(v)) for k, v in labels.items())
        key = "%s{%s}" % (name, text)
        if key in series:  # the collector rejects a whole file with a duplicate series: the first one stands
            return
        series.add(key)
        samples[name].append("%s%s %s" % (name, "{%s}" % text if text else "", _number(value)))

    up = bool(doc["yba"].get("api_reachable"))
    add("yba_backup_sla_evaluation_timestamp_seconds", doc["generated_at_timestamp"])
    add("yba_backup_sla_api_up", up)
    add("yba_backup_sla_status", NAGIOS[doc["status"] if doc["status"] != SKIPPED else OK][1])
    add("yba_backup_sla_min_copies", doc["thresholds"]["min_copies"])
    for i in doc["universes"]:
        lbl = {"universe": i["universe"], "backup_type": i["backup_type"], "schedule": ""}
        add("yba_backup_last_success_timestamp_seconds", i["last_success_timestamp"] or 0, **lbl)
        add("yba_backup_rpo_seconds", i["rpo_seconds"], **lbl)
        add("yba_backup_sla_ok", i["status"] in (OK, WARNING, SKIPPED), **lbl)
        for s in STATUSES:
            add("yba_backup_sla_item_status", i["status"] == s, status=s, **lbl)
        add("yba_backup_copies", i["copies"], universe=i["universe"], backup_type=i["backup_type"])
    seen_universes: dict[str, dict[str, t.Any]] = {}
    for i in doc["universes"]:
        seen_universes.setdefault(i["universe"], i)
    for name, i in sorted(seen_universes.items()):
        add("yba_backup_failed_backups", i["failed_in_window"], universe=name)
        add("yba_backup_expired_not_deleted", i["expired_not_deleted"], universe=name)
    for s in doc["schedules"]:
        # a schedule of a deleted universe (YBA deletes it only when it next fires) is named by its universe's UUID
        owner = s["universe"] or s["universe_uuid"] or ""
        lbl = {"universe": owner, "backup_type": s["backup_type"], "schedule": s["schedule"]}
        add("yba_backup_last_success_timestamp_seconds", s["last_success_timestamp"] or 0, **lbl)
        if s["rpo_seconds"] is not None:
            add("yba_backup_rpo_seconds", s["rpo_seconds"], **lbl)
        add("yba_backup_sla_ok", s["status"] in (OK, WARNING, SKIPPED), **lbl)
        for st in STATUSES:
            add("yba_backup_sla_item_status", s["status"] == st, status=st, **lbl)
        slbl = {"schedule": s["schedule"], "universe": owner}
        add("yba_schedule_paused", s["state"] == "Paused", **slbl)
        add("yba_schedule_failure_count", s["failure_count"], **slbl)
        add("yba_schedule_backlog", s["backlog"], **slbl)
        if s["expected_interval_seconds"]:
            add("yba_schedule_expected_interval_seconds", s["expected_interval_seconds"], **slbl)
    for c in doc["storage"]:
        if c["probe_ok"] is not None:
            add("yba_storage_probe_success", c["probe_ok"], config=c["config"] or c["config_uuid"])
    lines = []
    for name, help_text in METRICS.items():
        if not samples[name]:
            continue
        lines.append("# HELP %s %s" % (name, help_text.replace("\\", "\\\\").replace("\n", "\\n")))
        lines.append("# TYPE %s gauge" % name)
        lines.extend(samples[name])
    return "\n".join(lines) + "\n"


def _xml_text(text: t.Any) -> str:
    # XML 1.0 forbids most control characters even escaped: drop them
    clean = "".join(ch for ch in str(text) if ch in "\t\n\r" or ord(ch) >= 32)
    return _xml_escape(clean)


def _attr(value: t.Any) -> str:
    return quoteattr("".join(ch for ch in str(value) if ch in "\t\n\r" or ord(ch) >= 32))


def render_junit(doc: dict[str, t.Any], hostname: str = "localhost") -> str:
    """The document as JUnit XML valid against Ant's JUnit.xsd (windyroad): one testsuite for this YBA, a
    testcase per universe x backup type, per schedule and per storage config; failure = SLA violated, error =
    could not evaluate, skipped = paused or disabled. Warnings pass and are listed in system-out."""
    yba = doc["yba"]
    cases: list[tuple[str, str, str, str]] = []  # (classname, name, status, reason)
    for i in doc["universes"]:
        cases.append((CLASSNAME + ".universe", "%s/%s" % (i["universe"], i["backup_type"]), i["status"], i["reason"]))
    for s in doc["schedules"]:
        cases.append((CLASSNAME + ".schedule", "%s (%s)" % (s["schedule"], s["universe"] or "?"), s["status"],
                      s["reason"]))
    for c in doc["storage"]:
        cases.append((CLASSNAME + ".storage", str(c["config"] or c["config_uuid"]), c["status"], c["reason"]))
    if not yba.get("api_reachable"):
        cases.append((CLASSNAME + ".api", "read YBA", UNKNOWN, "cannot read YBA: %s" % yba.get("error")))
    failures = sum(1 for c in cases if c[2] == CRITICAL)
    errors = sum(1 for c in cases if c[2] == UNKNOWN)
    skipped = sum(1 for c in cases if c[2] == SKIPPED)
    stamp = datetime.datetime.fromtimestamp(doc["generated_at_timestamp"], tz=datetime.timezone.utc)
    props = [("yba_url", yba.get("url") or ""), ("yba_version", yba.get("version") or "unknown"),
             ("customer_uuid", yba.get("customer_uuid") or ""), ("schema_version", doc["schema_version"]),
             ("status", NAGIOS[doc["status"] if doc["status"] != SKIPPED else OK][0])]
    for key, value in sorted(doc["thresholds"].items()):
        props.append(("threshold." + key, json.dumps(value, sort_keys=True) if isinstance(value, (dict, list))
                      else value))
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>",
           '  <testsuite name=%s package=%s id="0" timestamp="%s" hostname=%s tests="%d" failures="%d" errors="%d" '
           'skipped="%d" time="0">' % (
               _attr("yba-backup-sla " + (yba.get("url") or hostname)), _attr(CLASSNAME),
               stamp.strftime("%Y-%m-%dT%H:%M:%S"), _attr(hostname or "localhost"), len(cases), failures, errors,
               skipped),
           "    <properties>"]
    out.extend('      <property name=%s value=%s/>' % (_attr(k), _attr(v)) for k, v in props)
    out.append("    </properties>")
    for classname, name, status, reason in cases:
        head = '    <testcase classname=%s name=%s time="0"' % (_attr(classname), _attr(name))
        if status == CRITICAL:
            out.append('%s>\n      <failure message=%s type="SLAViolated">%s</failure>\n    </testcase>' % (
                head, _attr(reason), _xml_text(reason)))
        elif status == UNKNOWN:
            out.append('%s>\n      <error message=%s type="NotEvaluated">%s</error>\n    </testcase>' % (
                head, _attr(reason), _xml_text(reason)))
        elif status == SKIPPED:
            out.append('%s>\n      <skipped message=%s/>\n    </testcase>' % (head, _attr(reason)))
        else:
            out.append(head + "/>")
    notes = [doc["nagios"]["line"]] + ["WARNING %s: %s" % (name, reason) for _c, name, status, reason in cases
                                       if status == WARNING]
    out.append("    <system-out>%s</system-out>" % _xml_text("\n".join(notes)))
    out.append("    <system-err></system-err>")
    out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------- writing

def read_text(path: str) -> str | None:
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_atomic(path: str, text: str, mode: int = 0o644) -> bool:
    """Write ``text`` to ``path`` as the textfile collector wants it: a temporary file in the same directory,
    flushed, then renamed over the target (readers see the old or the new file, never half of one). False when
    the file already held exactly this text (nothing written)."""
    if read_text(path) == text:
        return False
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def path_problem(path: str, kind: str) -> str | None:
    """Why an output path cannot be written (checked before the evaluation), or None."""
    if kind == "prometheus" and not path.endswith(".prom"):
        return "prometheus_path must end with .prom (node_exporter's textfile collector reads only *.prom): %s" % path
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return "%s_path's directory %s does not exist" % (kind, directory)
    if os.path.isdir(path):
        return "%s_path %s is a directory" % (kind, path)
    return None


def record(doc: dict[str, t.Any], outputs: list[dict[str, t.Any]], check_mode: bool) -> dict[str, t.Any]:
    """The run record of one evaluation: one line, the counts, what was written."""
    return {"status": doc["nagios"]["status"], "exit_code": doc["nagios"]["exit_code"],
            # what `yba-remediation run --nagios` prints and exits with
            "nagios": {"exit_code": doc["nagios"]["exit_code"], "line": doc["nagios"]["line"]},
            "summary": "YBA BACKUP %s - %s" % (doc["nagios"]["status"], doc["nagios"]["text"]),
            "counts": doc["summary"], "generated_at": doc["generated_at"], "check_mode": check_mode,
            "outputs": outputs}
