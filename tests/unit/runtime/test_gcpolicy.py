"""runtime/gcpolicy.py: what survives a young collection is frozen, and a sweep frees the
cycles that became garbage after they were frozen (issue 14). The collector's state is
per process, so the policy runs in a child interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from gracebgp.runtime.gcpolicy import SWEEP_INTERVAL, Sweeper

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
    junk = [Node() for _ in range(YOUNG_THRESHOLD + 10)]   # the next young collection
    print("frozen again after it:", gc.get_freeze_count() >= len(kept))
""")


def test_survivors_are_frozen_and_a_sweep_frees_the_cycles_they_left() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], check=False, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "frozen cycle kept by a collection: True",
        "freed by the sweep: True True True",
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
