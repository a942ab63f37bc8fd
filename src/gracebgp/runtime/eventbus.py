"""The event stream behind WatchEvents: the speaker's Notices, stamped with a sequence
number and the wall-clock time, kept in a bounded history and fanned out to bounded
subscriber queues (a subscriber too slow to keep up is cut off, never the daemon).

Streams end cleanly when the daemon stops or re-executes: :meth:`EventBus.end` puts an
:class:`End` in every queue. Each process has its own ``run`` id, so an SSE id
(``<run>.<seq>``) says which process numbered it: sequence numbers start again after a
re-exec, and :meth:`EventBus.replay` knows a reconnecting client's last id is from
another run."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gracebgp.core.events import Notice

HISTORY = 1000
QUEUE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class End:
    """The last item of every stream when the daemon stops (``reason`` "stop") or
    re-executes for a planned restart ("restart")."""

    reason: str
    last_id: str


@dataclass(slots=True, eq=False)
class Subscriber:
    routes: bool
    #: events, then End; None when it fell behind (events lost)
    queue: asyncio.Queue[dict[str, Any] | End | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    dropped: bool = False


class EventBus:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seq = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self.subscribers: set[Subscriber] = set()
        self.run = secrets.token_hex(4)  # this process's numbering of events
        self.ended: End | None = None
        self.ending: set[Subscriber] = set()  # streams given End that have not closed yet

    @property
    def wants_routes(self) -> bool:
        return any(s.routes for s in self.subscribers)

    def publish(self, notice: Notice, at: float | None = None) -> None:
        """``at``: when it happened (the wall-clock time of the input that caused it);
        default now."""
        self._seq += 1
        event = {"seq": self._seq, "time": round(self._clock() if at is None else at, 6), "kind": notice.kind,
                 "peer": notice.peer, "message": notice.message, "data": dict(notice.data)}
        if notice.kind != "route":
            self.history.append(event)
        for sub in list(self.subscribers):
            if notice.kind == "route" and not sub.routes:
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(sub)

    def carry_over(self, events: list[dict[str, Any]]) -> None:
        """Put the previous process's last events (a planned restart's marker) at the
        start of the history, renumbered, times kept, so a timeline spans the restart."""
        for old in events:
            self._seq += 1
            data = {**old.get("data", {}), "previous_run": True}
            self.history.append({**old, "seq": self._seq, "data": data})

    def subscribe(self, routes: bool) -> Subscriber:
        sub = Subscriber(routes)
        if self.ended is not None:
            sub.queue.put_nowait(self.ended)
            return sub
        self.subscribers.add(sub)
        return sub

    def event_id(self, seq: int) -> str:
        return f"{self.run}.{seq}"

    def end(self, reason: str) -> None:
        """The daemon stops or re-executes: every stream gets End(reason) after what it
        has queued (the oldest queued events give way if its queue is full)."""
        self.ended = End(reason, self.event_id(self._seq))
        self.ending, self.subscribers = self.subscribers, set()  # nothing is published after End
        for sub in self.ending:
            while sub.queue.full():
                sub.queue.get_nowait()
            sub.queue.put_nowait(self.ended)

    def replay(self, last_id: str) -> list[dict[str, Any]]:
        """The history a client reconnecting with SSE id ``last_id`` has not seen: after
        that sequence number in this run; from another run (the daemon re-executed since),
        this run's own events (those carried over from the previous run were sent by it).
        Route events are not kept, so they are not replayed."""
        run, _, seq = last_id.partition(".")
        if run == self.run and seq.isdigit():
            return [e for e in self.history if e["seq"] > int(seq)]
        return [e for e in self.history if not e.get("data", {}).get("previous_run")]

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        self.ending.discard(sub)

    def _drop(self, sub: Subscriber) -> None:
        """Too slow: end its stream (None) so the client sees it and can reconnect."""
        sub.dropped = True
        self.subscribers.discard(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)
