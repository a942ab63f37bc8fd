"""How the previous run of gracebgpd ended, from two small files in the state directory:
the start-up's answer to "is this a restart?" (RFC 4724 §4.1: R=1 only after a real
restart; a cold start sends R=0; spec section 4).

* ``running.json``: written at start, removed by a withdrawing stop. Found at start
  without a restart marker: the previous process died (crash, SIGKILL, power loss):
  an *unplanned* restart.
* ``restart.json``: written by a retaining stop (``gracebgp restart``, SIGTERM with
  ``sigterm = "retain"``) just before the process exits or re-executes: a *planned*
  restart. It carries the stopping process's last restart events, so the timeline of the
  restart spans both processes.

A marker older than the largest Restart Time a peer can hold our routes for (4095 s,
RFC 4724 §3) means the peers have long given up: that is a cold start.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_AGE = 4095.0  # RFC 4724 §3: the largest Restart Time (12 bits)
HEARTBEAT = 60.0  # how often a running daemon refreshes running.json
RUNNING = "running.json"
MARKER = "restart.json"


@dataclass(frozen=True)
class PreviousRun:
    kind: str  # "cold" | "planned" | "unplanned"
    detail: str
    events: list[dict[str, Any]] = field(default_factory=list)  # from a planned restart


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically and durably: a crash leaves the old file or the new one."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class RestartState:
    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)

    def detect(self, now: float | None = None) -> PreviousRun:
        """Classify the previous run's end, then start this one (``running.json``)."""
        now = time.time() if now is None else now
        marker, running = _read(self.dir / MARKER), _read(self.dir / RUNNING)
        with contextlib.suppress(OSError):
            (self.dir / MARKER).unlink()
        result = PreviousRun("cold", "no previous run, or it stopped with a withdrawal")
        if marker is not None:
            age = now - float(marker.get("time", 0))
            if 0 <= age <= MAX_AGE:
                result = PreviousRun("planned", f"{marker.get('reason', 'planned restart')}, "
                                     f"{age:.1f}s ago (pid {marker.get('pid')})",
                                     [e for e in marker.get("events", []) if isinstance(e, dict)])
            else:
                result = PreviousRun("cold", f"restart marker is {age:.0f}s old: peers no longer hold "
                                     "our routes")
        elif running is not None:
            age = now - float(running.get("time", 0))  # since its last heartbeat
            if 0 <= age <= MAX_AGE + HEARTBEAT:
                result = PreviousRun("unplanned", f"previous gracebgpd (pid {running.get('pid')}) did "
                                     "not stop cleanly")
        self.dir.mkdir(parents=True, exist_ok=True)
        _write(self.dir / RUNNING, {"pid": os.getpid(), "time": now})
        return result

    def heartbeat(self, now: float | None = None) -> None:
        """Refresh ``running.json`` so that a crash is judged by when it happened."""
        _write(self.dir / RUNNING, {"pid": os.getpid(), "time": time.time() if now is None else now})

    def planned(self, reason: str, events: list[dict[str, Any]]) -> None:
        """A retaining stop: the next start is a planned restart (R=1)."""
        _write(self.dir / MARKER, {"pid": os.getpid(), "time": time.time(), "reason": reason,
                                   "events": events[-200:]})
        with contextlib.suppress(OSError):
            (self.dir / RUNNING).unlink()

    def clean(self) -> None:
        """A withdrawing stop: peers dropped our routes, the next start is cold (R=0)."""
        for name in (MARKER, RUNNING):
            with contextlib.suppress(OSError):
                (self.dir / name).unlink()
