# Unit tests for the pure cleanup planner (_cleanup.plan_cleanup / validate_policy).
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils._cleanup import (
    OUTCOMES,
    PolicyError,
    final_outcome,
    plan_cleanup,
    target_met,
    validate_policy,
    validate_reserve,
    validate_target,
)
from ansible_collections.yba.remediation.plugins.module_utils._diskscan import Candidate

NOW = 1_700_000_000.0
DAY = 86400.0
ROOT = "/h/opt/yugabyte"
MB = 1 << 20


def cand(category, name, age_days, size=MB, kind="file", family=None, version="", is_open=False, dev=1, ino=None):
    path = "%s/%s" % (ROOT, name)
    return Candidate(category, path, kind, size, size, NOW - age_days * DAY, dev, ino or hash(path) & 0xFFFF,
                     family or category, version, is_open)


def logs(n, family="/h/opt/yugabyte/data/logs/application"):
    return [cand("logs", "data/logs/application-log-%02d.gz" % i, i, family=family) for i in range(1, n + 1)]


def paths(plan):
    return [u.path for u in plan.units]


def test_defaults_are_conservative():
    pol = validate_policy(None)
    assert pol["logs"] == {"enabled": True, "age_days": 7, "keep": 7}
    assert pol["software"]["keep"] == 1
    assert all(p["enabled"] for p in pol.values())


@pytest.mark.parametrize("policy, msg", [
    ({"nope": {}}, "unknown cleanup category 'nope'"),
    ({"logs": {"age_days": -1}}, "logs.age_days must not be negative"),
    ({"staging": {"age_hours": -3}}, "staging.age_hours must not be negative"),
    ({"logs": {"keep": "x"}}, "logs.keep must be a number"),
    ({"logs": {"colour": 1}}, "unknown setting 'colour' for category 'logs'"),
    ({"software": {"keep": 0}}, "software.keep must be at least 1"),
    ({"backup_archives": {"keep": 0}}, "backup_archives.keep must be at least 1"),
    ({"logs": {"enabled": "yes"}}, "logs.enabled must be a boolean"),
    ({"staging": {"patterns": "yb*"}}, "staging.patterns must be a list"),
])
def test_bad_policy(policy, msg):
    with pytest.raises(PolicyError) as err:
        validate_policy(policy)
    assert msg in str(err.value)


@pytest.mark.parametrize("target", [101, -1, "80", True])
def test_bad_target(target):
    with pytest.raises(PolicyError, match="target_used_percent"):
        validate_target(target)


def test_logs_keep_newest_and_age():
    pol = validate_policy({"logs": {"age_days": 10, "keep": 3}})
    plan = plan_cleanup(logs(20), pol, now=NOW)
    # 1..3 kept as newest, 4..9 too young, 10..20 deleted
    assert len(plan.units) == 11
    assert plan.outcome == "all_planned"
    assert plan.by_category == {"logs": {"files": 11, "bytes": 11 * MB}}
    assert paths(plan)[0].endswith("-20.gz")  # oldest first
    reasons = {s["path"].rsplit("-", 1)[1]: s["reason"] for s in plan.skipped}
    assert reasons["01.gz"].startswith("newest 3")
    assert reasons["05.gz"] == "younger than the category's age"


def test_keep_is_per_family():
    pol = validate_policy({"logs": {"age_days": 0, "keep": 1}})
    cands = logs(3) + logs(3, family="/h/opt/yugabyte/data/logs/audit")
    assert len(plan_cleanup(cands, pol, now=NOW).units) == 4


def test_disabled_category_untouched():
    pol = validate_policy({"logs": {"enabled": False}})
    plan = plan_cleanup(logs(40), pol, now=NOW)
    assert plan.units == [] and plan.outcome == "nothing_to_do"


def test_protected_open_and_outside_never_planned():
    pol = validate_policy({"core_dumps": {"age_days": 0}})
    cands = [
        cand("core_dumps", "data/postgres/core", 5),
        cand("core_dumps", "data/core.1", 5, is_open=True),
        Candidate("core_dumps", "/etc/core", "file", MB, MB, NOW - 9 * DAY, 1, 9, "core_dumps", "", False),
        cand("core_dumps", "core.2", 5),
    ]
    plan = plan_cleanup(cands, pol, now=NOW, protected=[ROOT + "/data/postgres"], allowed_roots=[ROOT])
    assert paths(plan) == [ROOT + "/core.2"]
    reasons = {s["path"]: s["reason"] for s in plan.skipped}
    assert reasons[ROOT + "/data/postgres/core"] == "protected path"
    assert reasons[ROOT + "/data/core.1"] == "open by a running process"
    assert reasons["/etc/core"] == "outside the allowed roots"


def test_dir_unit_containing_protected_path_is_refused():
    pol = validate_policy({"staging": {"age_hours": 0}})
    unit = cand("staging", "data", 3, kind="dir")
    plan = plan_cleanup([unit], pol, now=NOW, protected=[ROOT + "/data/postgres"], allowed_roots=[ROOT])
    assert plan.units == []


def test_software_never_active_nor_rollback():
    pol = validate_policy(None)
    versions = ["2.14.0.0-b1", "2.16.0.0-b2", "2.18.1.0-b84"]
    cands = [cand("software", "software/" + v, 30, kind="dir", version=v) for v in versions]
    plan = plan_cleanup(cands, pol, now=NOW, active_version="2.18.1.0-b84", rollback_version="2.16.0.0-b2")
    assert paths(plan) == [ROOT + "/software/2.14.0.0-b1"]
    pol2 = validate_policy({"software": {"keep": 2}})
    plan2 = plan_cleanup(cands, pol2, now=NOW, active_version="2.18.1.0-b84", rollback_version="2.16.0.0-b2")
    assert plan2.units == []


def test_releases_in_use_and_unknown():
    pol = validate_policy({"releases": {"age_days": 0}})
    cands = [cand("releases", "data/yb-platform/releases/" + v, 10, kind="dir", version=v)
             for v in ("2.18.1.0-b84", "2.16.0.0-b2")]
    plan = plan_cleanup(cands, pol, now=NOW, releases_in_use=["2.18.1.0-b84"])
    assert [u.version for u in plan.units] == ["2.16.0.0-b2"]
    unknown = plan_cleanup(cands, pol, now=NOW, releases_in_use=None)
    assert unknown.units == []
    assert {s["reason"] for s in unknown.skipped} == {"releases in use are unknown"}


def test_target_oldest_first_across_categories():
    pol = validate_policy({"logs": {"age_days": 0, "keep": 0}, "core_dumps": {"age_days": 0}})
    cands = logs(5) + [cand("core_dumps", "core.9", 3.5, size=4 * MB)]
    # capacity 100 MB, used 96 MB, target 90% -> need 6 MB: logs 5,4 (2 MB) then core (4 MB)
    plan = plan_cleanup(cands, pol, now=NOW, used_bytes=96 * MB, avail_bytes=4 * MB, target_used_percent=90)
    assert plan.outcome == "target_reached"
    assert [p.rsplit("/", 1)[1] for p in paths(plan)] == ["application-log-05.gz", "application-log-04.gz",
                                                          "core.9"]
    assert plan.need_bytes == 6 * MB
    assert plan.projected_used_percent == 90.0


def test_target_already_met_and_unreachable():
    pol = validate_policy({"logs": {"age_days": 0, "keep": 0}})
    met = plan_cleanup(logs(3), pol, now=NOW, used_bytes=50 * MB, avail_bytes=50 * MB, target_used_percent=80)
    assert met.outcome == "target_already_met" and met.units == []
    unreachable = plan_cleanup(logs(3), pol, now=NOW, used_bytes=99 * MB, avail_bytes=MB, target_used_percent=50)
    assert unreachable.outcome == "target_unreachable" and len(unreachable.units) == 3
    assert unreachable.projected_used_percent == 96.0


def test_target_ignores_other_volumes():
    pol = validate_policy({"logs": {"age_days": 0, "keep": 0}})
    cands = [cand("logs", "a-log-2024-01-01.gz", 9, dev=2), cand("logs", "b-log-2024-01-01.gz", 8, dev=1)]
    plan = plan_cleanup(cands, pol, now=NOW, used_bytes=91 * MB, avail_bytes=9 * MB, target_used_percent=90,
                        volume_dev=1)
    assert [u.dev for u in plan.units] == [1]


def test_idempotent_second_plan_is_empty():
    pol = validate_policy({"logs": {"age_days": 0, "keep": 2}})
    cands = logs(6)
    first = plan_cleanup(cands, pol, now=NOW)
    remaining = [c for c in cands if c not in first.units]
    assert plan_cleanup(remaining, pol, now=NOW).units == []


def test_hard_linked_files_free_nothing_so_do_not_reach_target():
    pol = validate_policy({"core_dumps": {"age_days": 0}})
    linked = Candidate("core_dumps", ROOT + "/core", "file", MB, 0, NOW - DAY * 3, 1, 5, "core_dumps", "", False)
    plan = plan_cleanup([linked], pol, now=NOW, used_bytes=95 * MB, avail_bytes=5 * MB, target_used_percent=90)
    assert plan.outcome == "target_unreachable"


def test_skipped_list_is_bounded():
    pol = validate_policy({"logs": {"keep": 1000}})
    plan = plan_cleanup(logs(50), pol, now=NOW, skipped_limit=10)
    assert len(plan.skipped) == 10 and plan.skipped_count == 50


def test_newest_createbackup_archive_is_kept_whatever_the_policy():
    archives = [cand("backup_archives", "backups/backup_24-01-%02d-00-00.tgz" % i, 40 - i, family="createBackup")
                for i in range(1, 4)]
    dump = cand("backup_archives", "data/platform_dump.sql", 40, family="platform_dump")
    pol = validate_policy({"backup_archives": {"age_days": 0}})
    pol["backup_archives"]["keep"] = 0  # a caller that bypasses validate_policy still cannot take it
    plan = plan_cleanup(archives + [dump], pol, now=NOW)
    newest = archives[-1].path
    assert newest not in paths(plan)
    assert set(paths(plan)) == {a.path for a in archives[:-1]} | {dump.path}
    # and with a target that only deleting everything could reach
    plan = plan_cleanup(archives + [dump], pol, now=NOW, used_bytes=99 * MB, avail_bytes=MB, target_used_percent=1)
    assert newest not in paths(plan) and plan.outcome == "target_unreachable"


def test_reserve_counts_against_the_target():
    pol = validate_policy({"logs": {"keep": 0, "age_days": 0}})
    # 80 MB used of 100 MB, target 80 %: met without a reserve, 3 MB short with one
    met = plan_cleanup(logs(5), pol, now=NOW, used_bytes=80 * MB, avail_bytes=20 * MB, target_used_percent=80)
    assert met.outcome == "target_already_met" and met.units == []
    short = plan_cleanup(logs(5), pol, now=NOW, used_bytes=80 * MB, avail_bytes=20 * MB, target_used_percent=80,
                         reserve_bytes=3 * MB)
    assert short.outcome == "target_reached"
    assert short.need_bytes == 3 * MB and short.reserve_bytes == 3 * MB
    assert len(short.units) == 3 and short.planned_bytes == 3 * MB
    assert short.summary()["reserve_bytes"] == 3 * MB
    too_much = plan_cleanup(logs(5), pol, now=NOW, used_bytes=80 * MB, avail_bytes=20 * MB, target_used_percent=80,
                            reserve_bytes=20 * MB)
    assert too_much.outcome == "target_unreachable" and len(too_much.units) == 5


@pytest.mark.parametrize("reserve", [-1, 1.5, "10", True])
def test_bad_reserve(reserve):
    with pytest.raises(PolicyError, match="reserve_bytes"):
        validate_reserve(reserve)


def test_target_met_counts_the_reserve():
    assert target_met(80 * MB, 20 * MB, 80.0) is True
    assert target_met(80 * MB, 20 * MB, 80.0, reserve_bytes=1) is False
    assert target_met(70 * MB, 30 * MB, 80.0, reserve_bytes=10 * MB) is True
    assert target_met(70 * MB, 30 * MB, None) is None


@pytest.mark.parametrize("planned, refused, met, outcome", [
    ("target_reached", 0, True, "target_reached"),
    ("target_reached", 2, True, "partial"),  # refusals are never reported as a reached target
    ("target_reached", 1, False, "partial"),
    ("all_planned", 1, None, "partial"),
    ("target_reached", 0, False, "target_missed"),
    ("target_unreachable", 0, False, "target_unreachable"),
    ("all_planned", 0, None, "all_planned"),
])
def test_final_outcome_is_honest(planned, refused, met, outcome):
    assert final_outcome(planned, refused, met) == outcome
    assert outcome in OUTCOMES
