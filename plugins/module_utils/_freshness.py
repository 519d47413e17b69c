# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: backup freshness (RPO) per universe, backup type and storage config (pure,
# plus one paged reader). The one place that says which backups a universe needs, how old they may be and which is
# the newest good one; the backup, backup_schedule and backup_sla modules share it.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi

YSQL = "PGSQL_TABLE_TYPE"
YCQL = "YQL_TABLE_TYPE"
# What operators call them (and the options accept), by YBA's backupType.
API_NAMES = {YSQL: "ysql", YCQL: "ycql"}
BACKUP_TYPES = {v: k for k, v in API_NAMES.items()}
DEFAULT_FACTOR = 1.5  # RPO = the schedule's interval x this, unless given
DEFAULT_RPO_SECONDS = 86400.0  # a universe without a schedule and without an override
# TimeUnit names (java.util.concurrent.TimeUnit plus YBA's MONTHS/YEARS, BackupUtil) in seconds.
UNIT_SECONDS = {"NANOSECONDS": 1e-9, "MICROSECONDS": 1e-6, "MILLISECONDS": 1e-3, "SECONDS": 1.0, "MINUTES": 60.0,
                "HOURS": 3600.0, "DAYS": 86400.0, "MONTHS": 30 * 86400.0, "YEARS": 365 * 86400.0}


def backup_type_of(value: t.Any) -> str:
    """``ysql``/``ycql`` (any case) or YBA's backupType name, as YBA's backupType name; ValueError otherwise."""
    text = str(value or "").strip()
    if text.upper() in (YSQL, YCQL):
        return text.upper()
    if text.lower() in BACKUP_TYPES:
        return BACKUP_TYPES[text.lower()]
    raise ValueError("unknown backup type %r: use ysql or ycql" % (value,))


def api_name(backup_type: str | None) -> str:
    return API_NAMES.get(str(backup_type or ""), str(backup_type or "").lower() or "unknown")


def _details(universe: dict[str, t.Any]) -> dict[str, t.Any]:
    return universe.get("universeDetails") if isinstance(universe.get("universeDetails"), dict) else {}


def universe_apis(universe: dict[str, t.Any]) -> list[str]:
    """The backup types of the APIs enabled on the universe's primary cluster (userIntent.enableYSQL/enableYCQL);
    YCQL is on unless disabled (UserIntent's default), YSQL only when enabled."""
    clusters = _details(universe).get("clusters") or []
    primary = next((c for c in clusters if isinstance(c, dict) and c.get("clusterType") == "PRIMARY"),
                   clusters[0] if clusters else {})
    intent = primary.get("userIntent") if isinstance(primary, dict) and isinstance(primary.get("userIntent"), dict) \
        else {}
    out = []
    if intent.get("enableYSQL"):
        out.append(YSQL)
    if intent.get("enableYCQL", True):
        out.append(YCQL)
    return out


def universe_state(universe: dict[str, t.Any]) -> str | None:
    """Why no backup can be taken of a universe now (None: it can): paused, or backups disabled."""
    config = universe.get("universeConfig") if isinstance(universe.get("universeConfig"), dict) else {}
    if _details(universe).get("universePaused"):
        return "paused"
    if str(config.get("takeBackups", "true")).lower() == "false":
        return "backups disabled (takeBackups=false)"
    return None


def schedule_info(schedule: dict[str, t.Any]) -> dict[str, t.Any]:
    """The backup side of a schedule: ``backupInfo`` of a ScheduleResp (schedules/page), else ``taskParams`` of a
    Schedule entity (GET schedules/{s})."""
    info = schedule.get("backupInfo") if isinstance(schedule.get("backupInfo"), dict) else {}
    params = schedule.get("taskParams") if isinstance(schedule.get("taskParams"), dict) else {}
    return {"universe_uuid": bi.schedule_universe(schedule),
            "backup_type": info.get("backupType") or params.get("backupType") or YSQL,
            "storage_config_uuid": info.get("storageConfigUUID") or params.get("storageConfigUUID")}


_CRON_NAMES = {name: n for names in (("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
                                     ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                      "DEC"))
               for n, name in enumerate(names, 0 if names[0] == "SUN" else 1)}


def _cron_values(spec: str, lo: int, hi: int, shift: int = 0) -> set[int]:
    """The values of one cron field (``*``, ``?``, lists, ranges, steps, day and month names); ``shift`` moves
    numbers (Quartz counts weekdays 1-7 from Sunday, Unix cron 0-7 from Sunday). ValueError on what it cannot read
    (``L``, ``W``, ``#``)."""
    def number(text: str) -> int:
        if text.upper() in _CRON_NAMES:
            return _CRON_NAMES[text.upper()]
        return int(text) + shift

    out: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = number(a), number(b)
        else:
            start = number(part)
            end = hi if step > 1 else start
        out.update(range(start, end + 1, max(1, step)))
    return {v % 7 if hi == 7 else v for v in out if lo <= v <= hi}


def cron_interval_seconds(expr: str) -> float | None:
    """The longest gap between two runs of a cron expression (5 Unix fields, or Quartz with seconds first) over
    the next 400 days: what a schedule's RPO must cover, a monthly schedule's month included. None when it cannot
    be read."""
    fields = str(expr or "").split()
    quartz = len(fields) in (6, 7)
    if quartz:  # seconds first, an optional year last
        fields = fields[1:6]
    if len(fields) != 5:
        return None
    try:
        minutes, hours, days, months = (_cron_values(fields[0], 0, 59), _cron_values(fields[1], 0, 23),
                                        _cron_values(fields[2], 1, 31), _cron_values(fields[3], 1, 12))
        weekdays = _cron_values(fields[4], 0, 7, shift=-1 if quartz else 0)
    except ValueError:
        return None
    times = sorted(h * 3600 + m * 60 for h in hours for m in minutes)
    if not times:
        return None
    any_day, any_weekday = fields[2] in ("*", "?"), fields[4] in ("*", "?")
    start = datetime.date(2026, 1, 5)
    run_days = []
    for n in range(400):
        date = start + datetime.timedelta(days=n)
        dom_ok, dow_ok = date.day in days, (date.isoweekday() % 7) in weekdays
        ok = (dom_ok and dow_ok) if (any_day or any_weekday) else (dom_ok or dow_ok)  # Vixie cron's rule
        if ok and date.month in months:
            run_days.append(n)
    if not run_days or (len(run_days) == 1 and len(times) == 1):
        return None
    gaps = [b - a for a, b in zip(times, times[1:])]  # within a day
    gaps += [(b - a) * 86400 + times[0] - times[-1] for a, b in zip(run_days, run_days[1:])]  # across days
    return float(max(gaps))


def schedule_interval_seconds(schedule: dict[str, t.Any]) -> float | None:
    """How often a schedule takes a full backup: its ``frequency`` (milliseconds, whatever frequencyTimeUnit says:
    the unit is for display, ScheduleController) or its cron expression; for an incremental schedule the increment
    frequency when shorter (the newest increment is the recovery point)."""
    interval = None
    freq = schedule.get("frequency")
    if isinstance(freq, (int, float)) and not isinstance(freq, bool) and freq > 0:
        interval = float(freq) / 1000.0
    elif schedule.get("cronExpression"):
        interval = cron_interval_seconds(schedule["cronExpression"])
    inc = schedule.get("incrementalBackupFrequency")
    if isinstance(inc, (int, float)) and not isinstance(inc, bool) and inc > 0:
        inc_seconds = float(inc) / 1000.0
        interval = inc_seconds if interval is None else min(interval, inc_seconds)
    return interval


def _key_of(universe: dict[str, t.Any]) -> tuple[str, str]:
    return str(universe.get("universeUUID") or ""), str(universe.get("name") or "")


def targets(universe: dict[str, t.Any], schedules: t.Sequence[dict[str, t.Any]],
            backup_types: t.Sequence[str] | str = "auto") -> list[str]:
    """The backup types a universe must keep fresh: ``auto`` = those its CreateBackup schedules take (any status:
    a Paused schedule still says what should exist), else the APIs it has enabled; or the types given (only those
    enabled on it)."""
    uuid, _name = _key_of(universe)
    enabled = universe_apis(universe)
    if backup_types != "auto":
        wanted = [backup_type_of(b) for b in backup_types]
        return [b for b in wanted if b in enabled]
    scheduled = []
    for s in schedules:
        info = schedule_info(s)
        if info["universe_uuid"] == uuid and s.get("taskType", "CreateBackup") == "CreateBackup" \
                and info["backup_type"] not in scheduled:
            scheduled.append(info["backup_type"])
    return scheduled or enabled


def rpo(universe: dict[str, t.Any], backup_type: str, schedules: t.Sequence[dict[str, t.Any]],
        overrides: t.Mapping[str, float] | None = None, default_seconds: float | None = None,
        factor: float = DEFAULT_FACTOR) -> tuple[float, str]:
    """(RPO seconds, where it comes from) for a universe and backup type: an override by universe name or UUID
    (``override``), else the shortest interval of its Active or Paused schedules of that type x ``factor``
    (``schedule <name>``), else ``default_seconds`` (``default``)."""
    uuid, name = _key_of(universe)
    overrides = overrides or {}
    for key in (name, uuid):
        if key and key in overrides:
            return float(overrides[key]), "override"
    best: tuple[float, str] | None = None
    for s in schedules:
        info = schedule_info(s)
        if info["universe_uuid"] != uuid or info["backup_type"] != backup_type or s.get("status") == "Stopped":
            continue
        interval = schedule_interval_seconds(s)
        if interval and (best is None or interval * factor < best[0]):
            best = (interval * factor, "schedule %s" % s.get("scheduleName"))
    if best:
        return best
    return float(default_seconds if default_seconds is not None else DEFAULT_RPO_SECONDS), "default"


def success_time(backup: dict[str, t.Any]) -> float | None:
    """When a Completed backup (a BackupResp or a Backup) became a recovery point: its completion, or the newest
    Completed increment of its chain (``lastIncrementalBackupTime`` with ``lastBackupState`` Completed)."""
    f = bi._backup_fields(backup)
    common = backup.get("commonBackupInfo") if isinstance(backup.get("commonBackupInfo"), dict) else {}
    state = common.get("state") or backup.get("state")
    if state != bi.COMPLETED:
        return None
    done = f["completion_time"] or f["update_time"] or f["create_time"]
    inc = bi.parse_time(backup.get("lastIncrementalBackupTime"))
    if inc and backup.get("lastBackupState") == bi.COMPLETED and (done is None or inc > done):
        return inc
    return done


def backup_type(backup: dict[str, t.Any]) -> str:
    info = backup.get("backupInfo") if isinstance(backup.get("backupInfo"), dict) else {}
    return backup.get("backupType") or info.get("backupType") or YSQL


def storage_config_uuid(backup: dict[str, t.Any]) -> str | None:
    return bi._backup_fields(backup)["storage_config_uuid"]


def latest(backups: t.Iterable[dict[str, t.Any]]) -> dict[tuple[str, str, str], dict[str, t.Any]]:
    """The newest Completed backup per (universe UUID, backup type, storage config UUID)."""
    out: dict[tuple[str, str, str], tuple[float, dict[str, t.Any]]] = {}
    for b in backups:
        when = success_time(b)
        if when is None:
            continue
        key = (str(bi._backup_fields(b)["universe_uuid"] or ""), backup_type(b), str(storage_config_uuid(b) or ""))
        if key not in out or when > out[key][0]:
            out[key] = (when, b)
    return {k: v[1] for k, v in out.items()}


def read_latest(client: t.Any, universe_uuid: str, wanted: t.Iterable[tuple[str, str | None]],
                page_size: int = 50, max_items: int = 2000) -> dict[tuple[str, str, str], dict[str, t.Any]]:
    """The newest Completed backups of one universe from ``backups/page`` (newest first, Completed only), reading
    only until each wanted (backup type, storage config UUID or None for any) has one, or ``max_items``."""
    wanted = set(wanted)
    configs = sorted({cfg for _typ, cfg in wanted if cfg})
    query = {"filter": dict(bi.BACKUP_FILTER, universeUUIDList=[universe_uuid], states=[bi.COMPLETED],
                            # only those configs when every wanted pair names one (a new redundant config's few
                            # backups are not searched for among thousands on the other)
                            storageConfigUUIDList=configs if all(cfg for _typ, cfg in wanted) else []),
             "sortBy": "createTime", "direction": "DESC"}
    found: list[dict[str, t.Any]] = []
    have: set[tuple[str, str]] = set()
    for b in client.paged(client.cpath("backups/page"), query, limit=page_size, max_items=max_items):
        if success_time(b) is None:
            continue
        found.append(b)
        have.update({(backup_type(b), str(storage_config_uuid(b) or "")), (backup_type(b), None)})
        if all((typ, cfg) in have for typ, cfg in wanted):
            break
    return latest(found)


def newest_for(found: t.Mapping[tuple[str, str, str], dict[str, t.Any]], universe_uuid: str, backup_type: str,
               config_uuid: str | None = None) -> dict[str, t.Any] | None:
    """The newest Completed backup of a universe and type, on one storage config or on any."""
    best: tuple[float, dict[str, t.Any]] | None = None
    for (u, typ, cfg), b in found.items():
        if u != universe_uuid or typ != backup_type or (config_uuid and cfg != config_uuid):
            continue
        when = success_time(b) or 0.0
        if best is None or when > best[0]:
            best = (when, b)
    return best[1] if best else None
