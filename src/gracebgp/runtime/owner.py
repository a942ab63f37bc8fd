"""The one owner task (DESIGN.md rule 1): takes facts from the queue, feeds the Speaker,
executes its commands, tells it when the queue is drained (so it sends batched UPDATEs)
and arms one timer at ``next_deadline()``."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from gracebgp.core import events as ev
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.eventbus import EventBus
from gracebgp.runtime.store import RouteStore
from gracebgp.runtime.transport import Transport

log = logging.getLogger("gracebgp")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class Owner:
    def __init__(self, speaker: Speaker, listen: list[tuple[str, int]]) -> None:
        self.speaker = speaker
        self.listen = listen
        self.queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        self.transport = Transport(self.queue, speaker.peer_for)
        self._stop = asyncio.Event()
        self.hooks: list[Callable[[], None]] = []  # run after each drained batch (tests, dumps)
        self.bus = EventBus()
        self._refs = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ev.Reply]] = {}
        self.store: RouteStore | None = None  # durable API routes; None: not durable

    def submit(self, inp: ev.Input) -> None:
        """Hand a fact to the owner from any task or signal handler of this loop."""
        self.queue.put_nowait(inp)

    def stop(self) -> None:
        self._stop.set()

    async def request(self, command: object, timeout: float = 60.0) -> ev.Reply:
        """Hand an operator command to the owner and wait for the speaker's Reply."""
        ref = next(self._refs)
        fut: asyncio.Future[ev.Reply] = asyncio.get_running_loop().create_future()
        self._pending[ref] = fut
        self.submit(ev.CommandRequested(ref, command))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(ref, None)

    def _execute(self, outputs: list[ev.Output]) -> None:
        t = self.transport
        unstored = ""  # why the last StoreRoutes failed; the next Reply reports it
        for o in outputs:
            if isinstance(o, ev.Send):
                t.send(o.peer, o.conn, o.data)
            elif isinstance(o, ev.Connect):
                t.connect(o.peer, o.conn, o.host, o.port, o.local_address, o.ttl)
            elif isinstance(o, ev.Close):
                t.close(o.peer, o.conn)
            elif isinstance(o, ev.Notice):
                self.bus.publish(o)
            elif isinstance(o, ev.StoreRoutes):
                unstored = self._store(o) or unstored
            elif isinstance(o, ev.Reply):
                reply = o
                if unstored:
                    reply = ev.Reply(o.ref, 500, f"{o.message}, but they could not be stored ({unstored}): "
                                     "they are in effect now but will not survive a restart of gracebgpd",
                                     o.result)
                    unstored = ""
                fut = self._pending.get(o.ref)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
            elif isinstance(o, ev.Log):
                log.log(_LEVELS.get(o.level, logging.INFO), "%s%s",
                        f"peer {o.peer}: " if o.peer else "", o.message)

    def _store(self, o: ev.StoreRoutes) -> str:
        """Make API route changes durable before their Reply goes out; "" or why not."""
        if self.store is None:
            return ""
        try:
            self.store.apply(o.added, o.removed)
        except Exception as exc:  # a full disk must not take the sessions down
            log.error("%d routes added and %d deleted through the API are in effect but not "
                      "stored: %s", len(o.added), len(o.removed), exc)
            return str(exc)
        return ""

    def _handle(self, inp: ev.Input, now: float) -> None:
        """Feed one fact; a bug must not take the daemon (and every session) down with it."""
        self.speaker.watch_routes = self.bus.wants_routes
        try:
            self._execute(self.speaker.handle(inp, now))
        except Exception as exc:
            log.exception("internal error while handling %s; continuing", type(inp).__name__)
            if isinstance(inp, ev.CommandRequested):
                fut = self._pending.get(inp.ref)
                if fut is not None and not fut.done():
                    fut.set_result(ev.Reply(inp.ref, 500, f"internal error: {exc}"))

    async def start(self, restart: str = "cold", detail: str = "") -> None:
        """Listen, then start the speaker; ``restart``/``detail``: see ``events.Started``."""
        for host, port in self.listen:
            try:
                await self.transport.listen(host, port)
            except OSError as exc:
                log.error("cannot listen on %s port %d: %s", host, port, exc.strerror or exc)
        self.submit(ev.Started(restart, detail))

    async def run(self) -> None:
        """Until ``stop()``: the owner loop."""
        loop = asyncio.get_running_loop()
        speaker, queue = self.speaker, self.queue
        waiter: asyncio.Task[ev.Input] | None = None
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                try:
                    inp = queue.get_nowait()
                except asyncio.QueueEmpty:
                    self._handle(ev.InputDrained(), loop.time())
                    for hook in self.hooks:
                        hook()
                    deadline = speaker.next_deadline()
                    timeout = None if deadline is None else max(0.0, deadline - loop.time())
                    if waiter is None:
                        waiter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({waiter, stopper}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if waiter in done:
                        inp = waiter.result()
                        waiter = None
                    elif stopper in done:
                        break
                    else:
                        inp = ev.TimerDue()
                self._handle(inp, loop.time())
                deadline = speaker.next_deadline()
                if deadline is not None and deadline <= loop.time():
                    self._handle(ev.TimerDue(), loop.time())
        finally:
            for task in (waiter, stopper):
                if task is not None:
                    task.cancel()

    async def shutdown(self, graceful: bool, message: str = "", linger: float = 2.0) -> None:
        """Stop every session (see StopRequested), let the NOTIFICATIONs leave, close."""
        loop = asyncio.get_running_loop()
        self._execute(self.speaker.handle(ev.StopRequested(graceful, message), loop.time()))
        end = loop.time() + linger
        while self.transport.live and loop.time() < end:
            await asyncio.sleep(0.05)
        await self.transport.shutdown()
