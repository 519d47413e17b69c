"""The simulated JVM heap (ybalab.platform.heap): use follows the rows and -Xmx, pressure makes answers slow."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from ybalab.platform import heap  # noqa: E402

GIB = 1 << 30
INCIDENT_ROWS = (5022, 459)  # backups, task_info rows of the incident scenario
HEALTHY_ROWS = (3000, 120)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def model(max_bytes: int, rows: tuple[int, int] = INCIDENT_ROWS, warm: bool = True, **cfg: float) -> tuple[heap.HeapModel, Clock]:
    clock = Clock()
    m = heap.HeapModel(max_bytes, lambda: rows, cfg, clock=clock, sleep=clock.sleep)
    if warm:
        clock.now += m.cfg["warmup_seconds"]
    return m, clock


def test_incident_is_about_90_percent_of_the_default_heap_and_slow():
    m, clock = model(GIB)
    assert 0.89 <= m.pressure() <= 0.92
    m.on_request()
    assert 0.1 <= clock.slept[-1] <= 0.3  # GC thrash: every answer waits
    used = m.metrics()["used"]
    assert 0.89 * GIB <= used <= 0.95 * GIB
    assert m.metrics()["max"] == GIB


def test_bigger_xmx_relieves_smaller_worsens():
    small = model(GIB)[0]
    bigger, clock = model(1536 << 20)
    assert bigger.pressure() < 0.65
    bigger.on_request()
    assert clock.slept == []  # no visible GC cost below the knee
    smaller, clock = model(960 << 20)
    assert smaller.pressure() > small.pressure() and smaller.delay() > small.delay()
    smaller.on_request()
    assert clock.slept[-1] > 0.5


def test_healthy_scenario_has_no_pressure():
    m, clock = model(GIB, HEALTHY_ROWS)
    assert m.pressure() < 0.7
    for _request in range(50):
        m.on_request()
    assert clock.slept == []
    assert m.metrics()["used"] < 0.8 * GIB


def test_live_set_does_not_fit_out_of_memory_after_a_long_pause():
    m, clock = model(GIB, retained_mib=1100)
    with pytest.raises(heap.OutOfMemory, match="Java heap space"):
        m.on_request()
    assert clock.slept == [m.cfg["oom_pause"]]


def test_warm_up_reads_low_right_after_a_start():
    m, clock = model(GIB, warm=False)
    early = m.pressure()
    clock.now += m.cfg["warmup_seconds"] / 2
    half = m.pressure()
    clock.now += m.cfg["warmup_seconds"]
    assert early < half < m.pressure()
    assert early == pytest.approx(m.cfg["base_mib"] / 1024.0)


def test_garbage_is_collected_in_the_young_space():
    m = model(GIB)[0]
    live = m.live()
    seen = set()
    for _request in range(20):
        m.on_request()
        seen.add(m.metrics()["used"] - live)
    assert m.young_collections > 0 and min(seen) >= 0
    assert max(seen) <= (GIB - live) // 4


def model_counting(rows: list[tuple[int, int] | None], clock: Clock) -> heap.HeapModel:
    """A heap over the row counts in rows[0]; None makes the count fail as a DB error does."""
    def count() -> tuple[int, int]:
        if rows[0] is None:
            raise RuntimeError("db error")
        return rows[0]

    return heap.HeapModel(GIB, count, clock=clock, sleep=clock.sleep)


def test_rows_are_recounted_and_a_db_error_keeps_the_last_count():
    rows: list[tuple[int, int] | None] = [INCIDENT_ROWS]
    clock = Clock()
    m = model_counting(rows, clock)
    clock.now += 10
    high = m.live()
    rows[0] = HEALTHY_ROWS
    assert m.live() == high  # not recounted within refresh_seconds
    clock.now += m.cfg["refresh_seconds"]
    low = m.live()
    assert low < high
    rows[0] = None
    clock.now += m.cfg["refresh_seconds"]
    assert m.live() == low
    # a failed count is retried at the next request, not after another refresh_seconds (a DB error at the one
    # moment of a refresh must not hide the live set from a whole diagnosis)
    rows[0] = INCIDENT_ROWS
    assert m.live() == high


def test_a_first_count_that_fails_is_retried_at_once():
    rows: list[tuple[int, int] | None] = [None]
    clock = Clock()
    m = model_counting(rows, clock)
    clock.now += 10
    base = m.live()
    rows[0] = INCIDENT_ROWS
    clock.now += 0.1
    assert m.live() > base and m.pressure() > 0.85


def test_settings_from_lab_json_and_unit_environment():
    state = {"platform": {"heap": {"warmup_seconds": 0, "retained_mib": 500, "unknown": 1}}}
    cfg = heap.settings(state, environ={})
    assert cfg["warmup_seconds"] == 0 and cfg["retained_mib"] == 500 and "unknown" not in cfg
    assert heap.settings(state, environ={"YBA_LAB_HEAP_RETAINED_MIB": "5600"})["retained_mib"] == 5600
    assert "retained_mib" not in heap.settings({}, environ={})
