"""Garbage-collector policy for a daemon that holds millions of routes.

CPython's default (a young collection every 700 allocations, full ones as the heap grows)
spends about a third of the time of a full-table ingest walking long-lived RIB objects
(measured: 1M prefixes in 6.6 s with the default, 4.4 s with this policy; see
docs/benchmarks.md). The routing state has no reference cycles on the hot path, so rarer
collections lose nothing but time.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Move everything allocated so far (code, config) out of the collector's sight and
    collect the young generation every 50,000 allocations instead of every 700."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
