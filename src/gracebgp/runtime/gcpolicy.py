"""Garbage-collector policy for a daemon that holds millions of routes.

CPython's default (a young collection every 700 allocations, full ones as the heap grows)
spends about a third of the time of a full-table ingest walking long-lived RIB objects
(measured: 1M prefixes in 6.6 s with the default, 4.4 s with this policy; see
docs/benchmarks.md). The routing state has no reference cycles on the hot path, so rarer
collections lose nothing but time.

What survives a young collection is, nearly always, routing state that lives until a
route goes (and is then freed by its reference count, frozen or not). So after each
young collection everything the collector tracks is frozen (``gc.freeze``: every
generation, and their counters zeroed): the collector never walks the routing state
again, and CPython never starts a middle or full collection by itself (issue 14: -5% CPU
for a 1M-route ingest and export, and no 0.2 s pause in the middle of it). The price: a
reference cycle that became garbage after it was frozen (an asyncio transport of a
session that lived through a young collection: a handful of objects) waits for
``sweep``, its ``__del__`` and weak-reference callbacks with it, and ``gc.get_objects``
does not see frozen objects. The daemon's heartbeat runs ``sweep`` once
``SWEEP_INTERVAL`` has passed (one full collection: 0.25 s with 1M routes, 0.05 s with a
few thousand; ``gracebgp_gc_sweep*`` metrics).

::

    allocation --50,000--> young collection --> everything frozen
                                                      |
               heartbeat, every SWEEP_INTERVAL: sweep <--+  (unfreeze, full collection)
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any

YOUNG_THRESHOLD = 50_000
SWEEP_INTERVAL = 300.0  # seconds between full collections


@dataclass
class SweepStats:
    """What the sweeps did since start (the metrics read it)."""

    sweeps: int = 0
    collected: int = 0  # objects the sweeps freed
    seconds: float = 0.0
    last_seconds: float = 0.0


STATS = SweepStats()
_sweeping = [False]  # (a young collection in another thread must not freeze mid-sweep)


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks`` entry: after a young collection, everything tracked is frozen."""
    if phase == "stop" and info["generation"] == 0 and not _sweeping[0]:
        gc.freeze()


def tune_gc() -> None:
    """Move everything allocated so far (code, config) out of the collector's sight,
    collect the young generation every 50,000 allocations instead of every 700, and
    freeze what each young collection leaves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


class Sweeper:
    """Runs ``sweep`` when ``SWEEP_INTERVAL`` has passed since the last one (the daemon's
    heartbeat asks it every minute, so a sweep comes every 5 to 6 minutes)."""

    def __init__(self, now: float, interval: float = SWEEP_INTERVAL) -> None:
        self.interval = interval
        self.last = now

    def tick(self, now: float) -> tuple[int, float] | None:
        """(objects collected, seconds) when a sweep ran, else None."""
        if now - self.last < self.interval:
            return None
        self.last = now
        return sweep()


def sweep() -> tuple[int, float]:
    """Everything frozen back in the collector's sight and one full collection: the
    cycles that became garbage after they were frozen are freed (the survivors are frozen
    again at the next young collection). Returns (objects collected, seconds)."""
    started = time.perf_counter()
    _sweeping[0] = True
    try:
        gc.unfreeze()
        collected = gc.collect()
    finally:
        _sweeping[0] = False
    seconds = time.perf_counter() - started
    STATS.sweeps += 1
    STATS.collected += collected
    STATS.seconds += seconds
    STATS.last_seconds = seconds
    return collected, seconds
