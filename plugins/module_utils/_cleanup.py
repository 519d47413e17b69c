# Private module_util: the disk cleanup planner of a YBA host, a pure function over scanned candidates.
#
# No I/O here: the scanner (_diskscan) streams Candidate records, this module applies the user's policy
# (categories, ages, keep-newest, releases in use, protected paths, target) and returns the plan.
from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.yba.remediation.plugins.module_utils._layout import (
    is_config_name,
    is_protected,
    is_within,
)
from ansible_collections.yba.remediation.plugins.module_utils._version import sort_key

if t.TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.yba.remediation.plugins.module_utils._diskscan import Candidate

DAY = 86400.0
HOUR = 3600.0

DEFAULT_STAGING_PATTERNS = (
    "yba-*", "yba_*", "yb-*", "yb_*", "ybc-*", "ybc_*", "shell_process_*", "releases-download-*", "*.yba.tmp",
)

# Conservative defaults: every category on, generous ages, keep the newest few of each kind.
DEFAULT_POLICY: t.Dict[str, t.Dict[str, t.Any]] = {
    "logs": {"enabled": True, "age_days": 7, "keep": 7},
    "log_bundles": {"enabled": True, "age_days": 1, "keep": 1},
    "staging": {"enabled": True, "age_hours": 24, "patterns": list(DEFAULT_STAGING_PATTERNS)},
    "backup_archives": {"enabled": True, "age_days": 3, "keep": 1},
    "core_dumps": {"enabled": True, "age_days": 1, "keep": 0},
    "software": {"enabled": True, "keep": 1},
    "releases": {"enabled": True, "age_days": 1},
}
_ALLOWED_KEYS = {
    "logs": {"enabled", "age_days", "keep"},
    "log_bundles": {"enabled", "age_days", "keep"},
    "staging": {"enabled", "age_hours", "patterns"},
    "backup_archives": {"enabled", "age_days", "keep"},
    "core_dumps": {"enabled", "age_days", "keep"},
    "software": {"enabled", "keep"},
    "releases": {"enabled", "age_days"},
}
CATEGORIES = tuple(DEFAULT_POLICY)
# The newest yba-ctl createBackup archive is the rollback of a metadata repair (yba-ctl restoreBackup, which the
# diagnosis names as the fix of a broken metadata DB): whatever the policy says, at least this many of the newest
# archives (backup_*.tgz anywhere the scan looks) are kept. One is enough for restoreBackup and is the most a full
# volume can afford; raise backup_archives.keep to keep more.
MIN_CREATEBACKUP_KEEP = 1


class PolicyError(ValueError):
    """Invalid cleanup policy or target; the message is meant for the user as is."""


def validate_policy(policy: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Merge a user policy over the defaults; raise PolicyError with one clear message on bad input."""
    merged = {cat: dict(values) for cat, values in DEFAULT_POLICY.items()}
    for cat, values in (policy or {}).items():
        if cat not in merged:
            raise PolicyError("unknown cleanup category %r; valid categories: %s" % (cat, ", ".join(CATEGORIES)))
        if values is None:
            continue
        if not isinstance(values, t.Mapping):
            raise PolicyError("category %r must be a dictionary of settings" % cat)
        for key, value in values.items():
            if value is None:
                continue
            if key not in _ALLOWED_KEYS[cat]:
                raise PolicyError("unknown setting %r for category %r; valid: %s"
                                  % (key, cat, ", ".join(sorted(_ALLOWED_KEYS[cat]))))
            if key in ("age_days", "age_hours", "keep"):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise PolicyError("%s.%s must be a number, got %r" % (cat, key, value))
                if value < 0:
                    raise PolicyError("%s.%s must not be negative, got %s" % (cat, key, _num(value)))
            if key == "enabled" and not isinstance(value, bool):
                raise PolicyError("%s.enabled must be a boolean, got %r" % (cat, value))
            if key == "patterns" and (isinstance(value, str) or not all(isinstance(p, str) for p in value)):
                raise PolicyError("%s.patterns must be a list of glob patterns" % cat)
            merged[cat][key] = list(value) if key == "patterns" else value
    if merged["software"]["keep"] < 1:
        raise PolicyError("software.keep must be at least 1: the version kept for rollback is never deleted")
    if merged["backup_archives"]["keep"] < MIN_CREATEBACKUP_KEEP:
        raise PolicyError("backup_archives.keep must be at least %d: the newest yba-ctl createBackup archive is the "
                          "rollback (yba-ctl restoreBackup) and is never deleted" % MIN_CREATEBACKUP_KEEP)
    return merged


def _num(value: t.Any) -> str:
    return "%g" % value if isinstance(value, (int, float)) else repr(value)


def validate_reserve(reserve: t.Optional[int]) -> int:
    if reserve is None:
        return 0
    if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
        raise PolicyError("reserve_bytes must be a whole number of bytes, 0 or more, got %r" % (reserve,))
    return reserve


def validate_target(target: t.Optional[float]) -> t.Optional[float]:
    if target is None:
        return None
    if isinstance(target, bool) or not isinstance(target, (int, float)):
        raise PolicyError("target_used_percent must be a number between 0 and 100, got %r" % (target,))
    if target < 0 or target > 100:
        raise PolicyError("target_used_percent must be between 0 and 100, got %s" % _num(target))
    return float(target)


@dataclass
class Plan:
    """The cleanup plan: units to delete in order, per-category totals, what was kept and why."""

    units: t.List["Candidate"] = field(default_factory=list)
    by_category: t.Dict[str, t.Dict[str, int]] = field(default_factory=dict)
    skipped: t.List[t.Dict[str, t.Any]] = field(default_factory=list)
    skipped_count: int = 0
    kept_by_reason: t.Dict[str, t.Dict[str, int]] = field(default_factory=dict)
    outcome: str = "nothing_to_do"
    need_bytes: int = 0
    reserve_bytes: int = 0
    planned_bytes: int = 0
    projected_used_percent: t.Optional[float] = None

    def summary(self) -> t.Dict[str, t.Any]:
        return {"outcome": self.outcome, "need_bytes": self.need_bytes, "reserve_bytes": self.reserve_bytes,
                "planned_bytes": self.planned_bytes,
                "projected_used_percent": self.projected_used_percent, "by_category": self.by_category}


OUTCOMES = {
    "target_already_met": "the volume is already at or below the target; nothing to delete",
    "target_reached": "the plan brings the volume to or below the target",
    "target_unreachable": "everything the policy allows is planned and the volume stays above the target",
    "all_planned": "no target given: everything the policy allows is planned",
    "nothing_to_do": "nothing the policy allows was found",
    "partial": "some planned deletions were refused at delete time (see refused); the plan was not carried out",
    "target_missed": "the plan was carried out but the volume measured after it (plus the reserve) is still above "
                     "the target",
}


def target_met(used_bytes: int, avail_bytes: int, target: t.Optional[float], reserve_bytes: int = 0) -> t.Optional[bool]:
    """Whether ``used + reserve`` is at or below the target share of the volume; None without a target."""
    capacity = used_bytes + avail_bytes
    if target is None or not capacity:
        return None
    return used_bytes + reserve_bytes <= int(capacity * target / 100.0)


def final_outcome(planned: str, refused: int, met_after: t.Optional[bool]) -> str:
    """The outcome of a real run: the plan's, unless deletions were refused ('partial') or the volume measured
    after a plan that should have reached the target is still above it ('target_missed')."""
    if refused:
        return "partial"
    if planned == "target_reached" and met_after is False:
        return "target_missed"
    return planned


def _skip(plan: Plan, cand: "Candidate", reason: str, limit: int) -> None:
    plan.skipped_count += 1
    generic = reason.split(" of ", 1)[0] if reason.startswith("newest ") else reason
    entry = plan.kept_by_reason.setdefault(generic, {"files": 0, "bytes": 0})
    entry["files"] += 1
    entry["bytes"] += cand.usage
    if len(plan.skipped) < limit:
        plan.skipped.append({"path": cand.path, "category": cand.category, "reason": reason})


def plan_cleanup(candidates: t.Iterable["Candidate"], policy: t.Mapping[str, t.Mapping[str, t.Any]], *,
                 now: float, protected: t.Sequence[str] = (), allowed_roots: t.Sequence[str] = (),
                 active_version: t.Optional[str] = None, rollback_version: t.Optional[str] = None,
                 releases_in_use: t.Optional[t.Iterable[str]] = None,
                 used_bytes: t.Optional[int] = None, avail_bytes: t.Optional[int] = None,
                 volume_dev: t.Optional[int] = None, target_used_percent: t.Optional[float] = None,
                 reserve_bytes: int = 0, skipped_limit: int = 200) -> Plan:
    """Plan a cleanup. ``policy`` is the output of validate_policy.

    Rules, in order: category enabled; never protected or outside allowed roots; never open by a process;
    never the active software or the one kept for rollback; never a release in use (and no release at all
    when releases in use are unknown, i.e. ``releases_in_use`` is None); keep the newest K of each family;
    older than the category's age. Then, with a target: oldest-first across categories until the volume, plus
    ``reserve_bytes`` the caller will write to it afterwards, is at or below the target (only units on the
    target volume count); without: every eligible unit.
    """
    plan = Plan(reserve_bytes=validate_reserve(reserve_bytes))
    in_use = None if releases_in_use is None else {str(v) for v in releases_in_use}
    families: t.Dict[t.Tuple[str, str], t.List["Candidate"]] = {}
    for cand in candidates:
        pol = policy.get(cand.category)
        if pol is None or not pol.get("enabled", True):
            continue
        if allowed_roots and not any(is_within(cand.path, r) and cand.path != r for r in allowed_roots):
            _skip(plan, cand, "outside the allowed roots", skipped_limit)
            continue
        holds_protected = cand.kind == "dir" and any(is_within(p, cand.path) for p in protected)
        if holds_protected or is_protected(cand.path, protected):
            _skip(plan, cand, "protected path", skipped_limit)
            continue
        if cand.open:
            _skip(plan, cand, "open by a running process", skipped_limit)
            continue
        if cand.kind == "file" and is_config_name(cand.path.rsplit("/", 1)[-1]):
            _skip(plan, cand, "configuration file", skipped_limit)
            continue
        if cand.category == "software":
            if cand.version == active_version:
                _skip(plan, cand, "active software version", skipped_limit)
                continue
            if cand.version == rollback_version:
                _skip(plan, cand, "software version kept for rollback", skipped_limit)
                continue
        if cand.category == "releases":
            if in_use is None:
                _skip(plan, cand, "releases in use are unknown", skipped_limit)
                continue
            if cand.version in in_use:
                _skip(plan, cand, "release in use by a universe", skipped_limit)
                continue
        families.setdefault((cand.category, cand.family), []).append(cand)

    eligible: t.List["Candidate"] = []
    for (category, family), members in families.items():
        pol = policy[category]
        members.sort(key=lambda c: (c.mtime, c.path), reverse=True)
        keep = int(pol.get("keep", 0) or 0)
        if category == "software":
            keep = max(0, keep - (1 if rollback_version else 0))  # the rollback version counts as one kept
            members.sort(key=lambda c: (sort_key(c.version), c.path), reverse=True)
        if category == "backup_archives" and family == "platform_dump":
            keep = 0
        if category == "backup_archives" and family == "createBackup":
            keep = max(keep, MIN_CREATEBACKUP_KEEP)  # the rollback archive, whatever the policy says
        if "age_hours" in pol:
            max_age = float(pol["age_hours"]) * HOUR
        else:
            max_age = float(pol.get("age_days", 0) or 0) * DAY
        for index, cand in enumerate(members):
            if index < keep:
                _skip(plan, cand, "newest %d of %s kept" % (keep, family.rsplit("/", 1)[-1]), skipped_limit)
            elif now - cand.mtime < max_age:
                _skip(plan, cand, "younger than the category's age", skipped_limit)
            else:
                eligible.append(cand)
    eligible.sort(key=lambda c: (c.mtime, c.path))

    target = validate_target(target_used_percent)
    capacity = (used_bytes or 0) + (avail_bytes or 0)
    if target is not None and used_bytes is not None and capacity:
        allowed_used = int(capacity * target / 100.0)
        need = used_bytes + plan.reserve_bytes - allowed_used
        plan.need_bytes = max(0, need)
        if need <= 0:
            plan.outcome = "target_already_met"
            for cand in eligible:
                _skip(plan, cand, "target already met", skipped_limit)
            eligible = []
        else:
            chosen = []
            freed = 0
            for cand in eligible:
                if freed >= need:
                    break
                if volume_dev is not None and cand.dev != volume_dev:
                    _skip(plan, cand, "not on the target volume", skipped_limit)
                    continue
                chosen.append(cand)
                freed += cand.usage
            eligible = chosen
            plan.outcome = "target_reached" if freed >= need else "target_unreachable"
    else:
        plan.outcome = "all_planned" if eligible else "nothing_to_do"

    plan.units = eligible
    for cand in eligible:
        cat = plan.by_category.setdefault(cand.category, {"files": 0, "bytes": 0})
        cat["files"] += 1
        cat["bytes"] += cand.usage
        plan.planned_bytes += cand.usage
    if used_bytes is not None and capacity:
        plan.projected_used_percent = round(100.0 * max(0, used_bytes - plan.planned_bytes) / capacity, 2)
    return plan
