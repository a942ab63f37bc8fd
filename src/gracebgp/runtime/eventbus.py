"""The event stream behind WatchEvents: the speaker's Notices, stamped with a sequence
number and the wall-clock time, kept in a bounded history and fanned out to bounded
subscriber queues (a subscriber too slow to keep up is cut off, never the daemon)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gracebgp.core.events import Notice

HISTORY = 1000
QUEUE_LIMIT = 10_000


@dataclass(slots=True, eq=False)
class Subscriber:
    routes: bool
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    dropped: bool = False


class EventBus:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seq = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self.subscribers: set[Subscriber] = set()

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
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _drop(self, sub: Subscriber) -> None:
        """Too slow: end its stream (None) so the client sees it and can reconnect."""
        sub.dropped = True
        self.subscribers.discard(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)
