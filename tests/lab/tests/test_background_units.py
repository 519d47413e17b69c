"""Pure parts of the platform's scheduler and backup state machine (no lab needed)."""
from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from ybalab.platform import background, tasks  # noqa: E402

NOW = datetime(2026, 12, 1, 8, 46, 30)  # a Tuesday


@pytest.mark.parametrize("expr, expected", [
    ("0 */6 * * *", datetime(2026, 12, 1, 12, 0)),
    ("*/15 * * * *", datetime(2026, 12, 1, 9, 0)),
    ("30 2 * * 1-5", datetime(2026, 12, 2, 2, 30)),
    ("0 0 * * 0", datetime(2026, 12, 6, 0, 0)),       # Sunday
    ("0 0 * * 7", datetime(2026, 12, 6, 0, 0)),       # 7 is Sunday too
    ("0 0 15 * 0", datetime(2026, 12, 6, 0, 0)),      # day-of-month OR day-of-week
    ("5,10 9 1 12 *", datetime(2026, 12, 1, 9, 5)),
    ("0 3 1 1 *", datetime(2027, 1, 1, 3, 0)),
])
def test_cron_next(expr: str, expected: datetime) -> None:
    assert background.cron_next(expr, NOW) == expected


@pytest.mark.parametrize("expr", ["* * *", "61 * * * *", "* * 32 * *", "* * 31 2 *"])
def test_cron_invalid(expr: str) -> None:
    with pytest.raises(ValueError):
        background.cron_next(expr, NOW)


def test_next_expected_task_time_skips_missed_intervals() -> None:
    sched = {"cron_expression": None, "frequency": 3600000}
    assert background.next_expected_task_time(None, sched, NOW) == NOW + timedelta(hours=1)
    assert background.next_expected_task_time(datetime(2026, 12, 1, 5, 0), sched, NOW) == datetime(2026, 12, 1, 9, 0)
    assert background.next_expected_task_time(datetime(2026, 12, 1, 9, 0), sched, NOW) == datetime(2026, 12, 1, 10, 0)
    assert background.next_expected_task_time(None, {"cron_expression": "0 * * * *", "frequency": 0}, NOW) == \
        datetime(2026, 12, 1, 9, 0)


def test_allowed_transitions_follow_backup_java() -> None:
    t = tasks.ALLOWED_TRANSITIONS
    assert "FailedToDelete" in t["Completed"] and "FailedToDelete" in t["Failed"]
    assert "FailedToDelete" in t["Stopped"] and "FailedToDelete" not in t["Skipped"]
    assert "QueuedForDeletion" in t["DeleteInProgress"]  # BackupGarbageCollector.start
    assert "Failed" not in t["Stopped"]  # a restart leaves a Stopped script backup Stopped
    assert "QueuedForForcedDeletion" not in t["Completed"]  # only via QueuedForDeletion
    assert t["FailedToDelete"] == {"Deleted", "QueuedForDeletion"}  # the GC itself never leaves it


def test_as_dict_reads_json_and_text_columns() -> None:
    assert tasks.as_dict({"a": 1}) == {"a": 1}
    assert tasks.as_dict('{"a": 1}') == {"a": 1}
    assert tasks.as_dict(None) == {} and tasks.as_dict("[1]") == {} and tasks.as_dict("{x") == {}
