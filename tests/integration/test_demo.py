"""`make demo` as a user runs it: the lossless-restart demo (gracebgp.tools.demo) as its
own process, bounded. It must exit 0 and say that A's routes never left B's table and
that A kept its PID across the restart."""

from __future__ import annotations

import re
import subprocess
import sys

TIMEOUT = 120.0  # the demo takes well under a minute; its own waits are bounded by 30 s


def test_demo_restart_is_lossless_with_the_same_pid() -> None:
    try:
        r = subprocess.run([sys.executable, "-m", "gracebgp.tools.demo"], capture_output=True, text=True,
                           timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:  # the demo's clean-up did not run: say so
        raise AssertionError(f"the demo did not finish within {TIMEOUT:.0f}s:\n{exc.stdout!r}") from exc
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "OK: zero disappearance" in out and "FAILED" not in out, out
    samples = re.search(r"samples of B's table:\s+(\d+)", out)
    assert samples is not None and int(samples.group(1)) >= 10, out
    present = re.search(r"A's routes at B:\s+min (\d+) of (\d+)", out)
    assert present is not None and present.group(1) == present.group(2) != "0", out
    pids = re.search(r"A's PID before/after:\s+(\d+) / (\d+) \(the same\)", out)
    assert pids is not None and pids.group(1) == pids.group(2), out
    assert "restart-complete" in out, out  # A's timeline was printed
    assert "work directory removed" in out, out
