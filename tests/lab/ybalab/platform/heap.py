"""The simulated JVM heap of the YBA platform: use follows the load and -Xmx; pressure shows as SLOW answers.

A real YBA under heap pressure does not stop: G1 collects ever more often as the live set nears -Xmx (GC
thrash), every request waits behind the collector, the process stays in state S/R and answers slowly; past
-Xmx requests fail with ``java.lang.OutOfMemoryError: Java heap space`` after long full-GC pauses
(SOURCE-AUDIT 2.6 "Heap pressure"). This model keeps that shape, deterministic enough for tests:

- **live set** (what survives a GC): a base plus a cost per ``backup`` and ``task_info`` row of the metadata DB
  (YBA caches backup and task metadata), recounted at most every ``refresh_seconds``. A lab may pin it with
  lab.json ``platform.heap.retained_mib`` or, per host, with ``YBA_LAB_HEAP_RETAINED_MIB`` in the unit's
  environment (a drop-in), to stand for a host whose workload is bigger than its rows say.
- **warm-up**: after a start the live set grows from the base to its full size over ``warmup_seconds`` (caches
  fill), so heap use read right after a restart is too low, as on a real JVM.
- **garbage**: every request allocates ``garbage_per_request``; a young collection frees it when the young space
  (a quarter of what the live set leaves free) is full. Reported use = live set + uncollected garbage.
- **GC cost**: each request first waits ``gc_seconds * (p - knee) / (1 - p)`` (p = live set / max, nothing below
  the knee), capped at ``max_pause``; at p >= 1 it waits ``oom_pause`` and fails with OutOfMemoryError.

The defaults put the incident's 5,022 backups + 459 tasks at about 91 % of the lab's default 1 GiB heap
(about 0.17 s per request), the healthy scenario's 3,000 backups at about 63 % (no delay); -Xmx1536m brings the
incident down to about 61 %. The JVM default of the lab is 1 GiB (``server.parse_heap_max``), not a quarter of
RAM, so the incident is the same on every machine.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

MIB = 1 << 20
DEFAULTS: dict[str, float] = {
    "base_mib": 224.0,            # the platform's own classes, Play, Akka, Ebean caches at idle
    "backup_kib": 138.0,          # per backup row (the incident: 5,022 rows)
    "task_kib": 64.0,             # per task_info row
    "warmup_seconds": 2.0,
    "refresh_seconds": 5.0,
    "garbage_per_request_mib": 6.0,
    "knee": 0.75,                 # below this fraction of -Xmx the collector costs nothing visible
    "gc_seconds": 0.1,
    "max_pause": 20.0,
    "oom_pause": 15.0,
}


class OutOfMemory(RuntimeError):
    """The live set does not fit into -Xmx: the request fails as YBA's does."""


def settings(state: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, float]:
    """DEFAULTS overridden by lab.json ``platform.heap`` and the unit environment's YBA_LAB_HEAP_RETAINED_MIB."""
    out = dict(DEFAULTS)
    for key, value in ((state.get("platform") or {}).get("heap") or {}).items():
        if key in DEFAULTS or key == "retained_mib":
            out[key] = float(value)
    env = os.environ if environ is None else environ
    if env.get("YBA_LAB_HEAP_RETAINED_MIB"):
        out["retained_mib"] = float(env["YBA_LAB_HEAP_RETAINED_MIB"])
    return out


class HeapModel:
    """One JVM's heap. ``count_rows`` returns (backups, tasks) from the metadata DB, or raises when it cannot."""

    def __init__(self, max_bytes: int, count_rows: Callable[[], tuple[int, int]],
                 config: dict[str, float] | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_bytes = int(max_bytes)
        self.count_rows = count_rows
        self.cfg = dict(DEFAULTS, **(config or {}))
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.lock = threading.Lock()
        self.garbage = 0
        self.young_collections = 0
        self._target: int | None = None
        self._counted_at: float | None = None

    # ------------------------------------------------------------------ figures
    def target_live(self) -> int:
        """The live set once warm: pinned, or base + rows (last count kept while the DB cannot be read)."""
        if "retained_mib" in self.cfg:
            return int(self.cfg["retained_mib"] * MIB)
        now = self.clock()
        if self._counted_at is None or now - self._counted_at >= self.cfg["refresh_seconds"]:
            try:
                backups, tasks = self.count_rows()
                self._target = int(self.cfg["base_mib"] * MIB + backups * self.cfg["backup_kib"] * 1024
                                   + tasks * self.cfg["task_kib"] * 1024)
                self._counted_at = now
            except Exception:  # noqa: BLE001 - a DB hiccup keeps the last figure
                pass  # and the next request counts again: the JVM's caches do not empty because one count failed
        return self._target if self._target is not None else int(self.cfg["base_mib"] * MIB)

    def live(self) -> int:
        base = int(self.cfg["base_mib"] * MIB)
        target = self.target_live()
        warm = self.cfg["warmup_seconds"]
        ramp = 1.0 if warm <= 0 else min(1.0, max(0.0, (self.clock() - self.started) / warm))
        return base + int((target - base) * ramp) if target > base else target

    def pressure(self) -> float:
        """Live set / max heap: 1.0 and above means it does not fit."""
        return self.live() / float(self.max_bytes)

    def used(self) -> int:
        return min(self.live() + self.garbage, self.max_bytes)

    def delay(self, pressure: float | None = None) -> float:
        """Seconds a request waits behind the collector at this pressure."""
        p = self.pressure() if pressure is None else pressure
        if p >= 1.0:
            return self.cfg["oom_pause"]
        knee = self.cfg["knee"]
        if p <= knee:
            return 0.0
        return min(self.cfg["gc_seconds"] * (p - knee) / (1.0 - p), self.cfg["max_pause"])

    # ------------------------------------------------------------------ per request
    def on_request(self) -> None:
        """Allocate this request's garbage, collect when the young space is full, wait the GC's cost.

        Raises OutOfMemory when the live set does not fit into the heap (after the long pause)."""
        with self.lock:
            live = self.live()
            young = max((self.max_bytes - live) // 4, 0)
            self.garbage += int(self.cfg["garbage_per_request_mib"] * MIB)
            if self.garbage > young:
                self.garbage = 0
                self.young_collections += 1
            pause = self.delay(live / float(self.max_bytes))
        if pause > 0:
            self.sleep(pause)
        if live >= self.max_bytes:
            raise OutOfMemory("java.lang.OutOfMemoryError: Java heap space")

    def metrics(self) -> dict[str, int]:
        """``jvm_memory_bytes_*{area="heap"}`` as simpleclient_hotspot reports them."""
        with self.lock:
            return {"used": self.used(), "committed": self.max_bytes, "max": self.max_bytes}
