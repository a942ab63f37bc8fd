"""runtime/gcpolicy.py: what survives a young collection is frozen, and a sweep frees the
cycles that became garbage after they were frozen (issue 14). The collector's state is
per process, so the policy runs in a child interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gracebgp
from gracebgp.api.metrics import gc_sweeps
from gracebgp.runtime import gcpolicy
from gracebgp.runtime.gcpolicy import SWEEP_INTERVAL, Sweeper

SRC = str(Path(gracebgp.__file__).resolve().parent.parent)  # the tree under test, in the child too

CHILD = textwrap.dedent("""
    import gc, weakref
    from gracebgp.runtime.gcpolicy import YOUNG_THRESHOLD, sweep, tune_gc

    class Node:
        pass

    tune_gc()
    base = gc.get_freeze_count()
    a, b = Node(), Node()
    a.other, b.other = b, a          # a reference cycle ...
    gone = weakref.ref(a)
    kept = [Node() for _ in range(2 * YOUNG_THRESHOLD)]   # ... alive through young collections
    assert gc.get_freeze_count() >= base + YOUNG_THRESHOLD, (base, gc.get_freeze_count())
    del a, b
    gc.collect()
    print("frozen cycle kept by a collection:", gone() is not None)
    collected, seconds = sweep()
    print("freed by the sweep:", gone() is None, collected >= 2, seconds >= 0)
    c, d = Node(), Node()
    c.other, d.other = d, c
    left = weakref.ref(c)
    del c, d
    gc.collect()                     # a full collection freezes nothing ...
    print("a full collection freezes nothing:", gc.get_freeze_count() == 0, left() is None)
    junk = [Node() for _ in range(YOUNG_THRESHOLD + 10)]   # ... the next young one does
    print("frozen again after it:", gc.get_freeze_count() >= len(kept))
""")


def test_survivors_are_frozen_and_a_sweep_frees_the_cycles_they_left() -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", CHILD], check=False, capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "frozen cycle kept by a collection: True",
        "freed by the sweep: True True True",
        "a full collection freezes nothing: True True",
        "frozen again after it: True",
    ]


def test_the_sweeper_runs_once_per_interval() -> None:
    sweeper = Sweeper(1000.0)
    assert sweeper.interval == SWEEP_INTERVAL
    assert sweeper.tick(1000.0 + SWEEP_INTERVAL - 1) is None
    ran = sweeper.tick(1000.0 + SWEEP_INTERVAL)
    assert ran is not None and ran[0] >= 0 and ran[1] >= 0
    assert sweeper.tick(1000.0 + SWEEP_INTERVAL + 60) is None  # counted from the last sweep
    assert sweeper.tick(1000.0 + 2 * SWEEP_INTERVAL) is not None


def test_the_sweeps_are_counted_for_the_metrics() -> None:
    before = gcpolicy.SweepStats(**vars(gcpolicy.STATS))
    collected, seconds = gcpolicy.sweep()
    stats = gcpolicy.STATS
    assert stats.sweeps == before.sweeps + 1 and stats.collected == before.collected + collected
    assert stats.last_seconds == seconds and stats.seconds >= before.seconds + seconds
    rendered = {m.name: m.samples[0].value for m in gc_sweeps(gcpolicy.SweepStats(3, 40, 0.75, 0.25))}
    assert rendered == {"gracebgp_gc_sweeps": 3, "gracebgp_gc_sweep_seconds": 0.75,
                        "gracebgp_gc_sweep_last_seconds": 0.25, "gracebgp_gc_sweep_collected": 40}
