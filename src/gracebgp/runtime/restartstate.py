"""How the previous run of gracebgpd ended, from two small files in the state directory:
the start-up's answer to "is this a restart?" (RFC 4724 §4.1: R=1 only after a real
restart; a cold start sends R=0; spec section 4).

* ``running.json``: written once the start-up succeeded (listeners bound), refreshed by a
  heartbeat, removed by a withdrawing stop. The state directory's lock
  (runtime.instance) is taken before this file is read: found then without a restart
  marker, the previous process died (crash, SIGKILL, power loss): an *unplanned* restart.
* ``restart.json``: written by a retaining stop (``gracebgp restart``, SIGTERM with
  ``sigterm = "retain"``) just before the process exits or re-executes: a *planned*
  restart. It carries the stopping process's last restart events, so the timeline of the
  restart spans both processes.

A previous run that ended longer ago than peers hold our routes (``hold``: the longest
Restart Time we advertise, plus the LLGR stale time where LLGR is advertised, RFC 4724
§4.2, RFC 9494 §4.2) is a cold start: the peers have dropped our routes, R=1 would
promise a restart they no longer wait for. A crash is judged from the last heartbeat,
which is up to ``HEARTBEAT`` seconds before the death, so its window is widened by that.

A file that is not what we wrote (garbage, ``{"time": null}``, ``{"events": 5}``) is
reported, renamed ``<name>.damaged-<UTC time>`` and ignored: never a crash at start-up.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEARTBEAT = 60.0  # how often a running daemon refreshes running.json
RUNNING = "running.json"
MARKER = "restart.json"


@dataclass(frozen=True)
class PreviousRun:
    kind: str  # "cold" | "planned" | "unplanned"
    detail: str
    events: list[dict[str, Any]] = field(default_factory=list)  # from a planned restart
    #: One line per damaged state file set aside (health conditions, the log).
    problems: list[str] = field(default_factory=list)


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically and durably: a crash leaves the old file or the new one."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def set_aside(path: Path, now: float) -> Path:
    """Rename a damaged file out of the way (kept for a post-mortem); returns its new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists() and n < 100:  # bounded: two damaged files in one second
        aside, n = path.with_name(f"{path.name}.damaged-{stamp}-{n}"), n + 1
    os.replace(path, aside)
    return aside


def _number(data: dict[str, Any], key: str) -> float:
    if key not in data:
        raise ValueError(f"{key!r} is missing")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key!r} is {json.dumps(value)}, not a number")
    return float(value)


def _validate(name: str, data: object) -> dict[str, Any]:
    """ValueError unless ``data`` has the shape we write for ``name``."""
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    _number(data, "time")
    pid = data.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int)):
        raise ValueError(f"'pid' is {json.dumps(pid)}, not an integer")
    if name == MARKER:
        events = data.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("'events' is not a list of objects")
        if not isinstance(data.get("reason", ""), str):
            raise ValueError("'reason' is not text")
    return data


class RestartState:
    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)

    def _read(self, name: str, now: float, problems: list[str]) -> dict[str, Any] | None:
        path = self.dir / name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            why: str = exc.strerror or str(exc)
        else:
            try:
                return _validate(name, json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, ValueError) as exc:
                why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        try:
            where = f"set aside as {set_aside(path, now).name}"
        except OSError as exc:
            where = f"could not be set aside ({exc.strerror or exc})"
        problems.append(f"{path} is damaged ({why}); {where}; ignored")
        return None

    def classify(self, hold: float, now: float | None = None) -> PreviousRun:
        """How the previous run ended; changes nothing but setting damaged files aside.
        Call with the state directory's lock held (runtime.instance). ``hold``: how long
        peers keep our routes after we go (see the module's docstring)."""
        now = time.time() if now is None else now
        problems: list[str] = []
        marker, running = self._read(MARKER, now, problems), self._read(RUNNING, now, problems)
        if marker is not None:
            age = now - float(marker["time"])
            if 0 <= age <= hold:
                return PreviousRun("planned", f"{marker.get('reason') or 'planned restart'}, "
                                   f"{age:.1f}s ago (pid {marker.get('pid')})",
                                   list(marker.get("events", [])), problems)
            return PreviousRun("cold", f"the restart marker is {age:.0f}s old, over the {hold:.0f}s peers "
                               "hold our routes", problems=problems)
        if running is not None:
            age = now - float(running["time"])  # since its last heartbeat
            if 0 <= age <= hold + HEARTBEAT:
                return PreviousRun("unplanned", f"previous gracebgpd (pid {running.get('pid')}) did not "
                                   f"stop cleanly; its last heartbeat {age:.0f}s ago", problems=problems)
            return PreviousRun("cold", f"previous gracebgpd (pid {running.get('pid')}) died over "
                               f"{age:.0f}s ago, after the {hold:.0f}s peers hold our routes",
                               problems=problems)
        return PreviousRun("cold", "no previous run, or it stopped with a withdrawal", problems=problems)

    def begin(self, now: float | None = None) -> dict[str, bytes | None]:
        """This run starts: from now on a death is a crash (``running.json``). Returns what
        it replaced, for ``undo`` when the start-up fails after all."""
        self.dir.mkdir(parents=True, exist_ok=True)
        before: dict[str, bytes | None] = {}
        for name in (RUNNING, MARKER):
            try:
                before[name] = (self.dir / name).read_bytes()
            except OSError:
                before[name] = None
        _write(self.dir / RUNNING, {"pid": os.getpid(), "time": time.time() if now is None else now})
        with contextlib.suppress(OSError):
            (self.dir / MARKER).unlink()
        return before

    def undo(self, before: dict[str, bytes | None]) -> None:
        """A start-up that failed before any session: the files as ``begin`` found them,
        so the next start judges the previous run, not this one (no endless R=1)."""
        for name, data in before.items():
            with contextlib.suppress(OSError):
                if data is None:
                    (self.dir / name).unlink(missing_ok=True)
                else:
                    (self.dir / name).write_bytes(data)

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
