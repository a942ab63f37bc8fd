"""The one owner task (DESIGN.md rule 1): takes facts from the queue, feeds the Speaker,
executes its commands, tells it when the queue is drained (so it sends batched UPDATEs)
and arms one timer at ``next_deadline()``.

No step may hold the loop for long (issue 10 finding 4): each input is handed to the
speaker with the time it was queued (``InputQueue``), not the time it is dequeued; the
input read from the sockets is handled before expired timers fire; large commands run
one slice (``ev.Continue``) per turn, with a turn of the event loop between slices; and
every step's duration is measured (``StepTimes``, exported as metrics).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable

from gracebgp.core import events as ev
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.eventbus import EventBus
from gracebgp.runtime.recorder import Recorder
from gracebgp.runtime.store import RouteStore
from gracebgp.runtime.transport import CLOSE_LINGER, Transport

log = logging.getLogger("gracebgp.runtime")
#: The speaker's subsystems (events.Log.subsystem) each log on a logger of their own.
_LOGGERS: dict[str, logging.Logger] = {}
#: Its debug lines (OPENs, NOTIFICATIONs, UPDATE summaries: core.wirelog) are made only
#: while this logger is enabled for DEBUG (checked once per input).
_wire_log = logging.getLogger("gracebgp.session")
_store_log = logging.getLogger("gracebgp.rib")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


STEP_BOUND = 0.05  # seconds: the longest owner step we aim for (a slice of a large command)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class InputQueue(asyncio.Queue[ev.Input]):
    """The owner's queue; remembers when each input was put (``loop.time()`` in the
    transport callback or the API handler), so the speaker sees when a KEEPALIVE arrived,
    not when a busy owner got to it. ``last_time``: the time of the input last taken."""

    _queue: deque[ev.Input]  # asyncio.Queue's own store (its _init makes it a deque)

    def __init__(self) -> None:
        super().__init__()
        self._times: deque[float] = deque()
        self.last_time = 0.0

    def _put(self, item: ev.Input) -> None:
        try:
            stamp = asyncio.get_running_loop().time()
        except RuntimeError:  # put before the loop runs: it cannot be late
            stamp = time.monotonic()
        if isinstance(item, ev.BfdChanged):
            # A BFD failure is acted on ahead of a backlog of UPDATEs (issue 18): the session
            # goes down within the detection time even while a table is arriving.
            self._times.appendleft(stamp)
            self._queue.appendleft(item)
            return
        self._times.append(stamp)
        super()._put(item)

    def _get(self) -> ev.Input:
        self.last_time = self._times.popleft()
        item: ev.Input = super()._get()
        return item


class StepTimes:
    """How long the owner's steps take (``speaker.handle`` plus executing its outputs):
    the longest, a histogram (``STEP_BUCKETS``), and the steps over ``STEP_BOUND``."""

    def __init__(self) -> None:
        self.max = 0.0
        self.max_input = ""  # the kind of input of the longest step
        self.count = 0
        self.total = 0.0
        self.over = 0
        self.buckets = [0] * (len(STEP_BUCKETS) + 1)  # the last one: +Inf

    def observe(self, seconds: float, kind: str) -> None:
        self.count += 1
        self.total += seconds
        self.buckets[bisect.bisect_left(STEP_BUCKETS, seconds)] += 1
        if seconds > STEP_BOUND:
            self.over += 1
        if seconds > self.max:
            self.max, self.max_input = seconds, kind


class Owner:
    def __init__(self, speaker: Speaker, listen: list[tuple[str, int]]) -> None:
        self.speaker = speaker
        self.listen = listen
        self.queue: InputQueue = InputQueue()
        self.transport = Transport(self.queue, speaker.peer_for)
        self._stop = asyncio.Event()
        self.hooks: list[Callable[[], None]] = []  # run after each drained batch (tests, dumps)
        self.bus = EventBus()
        self._refs = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ev.Reply]] = {}
        self.store: RouteStore | None = None  # durable API routes; None: not durable
        self.steps = StepTimes()
        self._watching = False  # what the speaker was told last (events.RoutesWatched)
        self._unstored: dict[int, str] = {}  # command ref -> why a slice's StoreRoutes failed
        #: Why API route changes are not durable now ("" when they are, or no store is
        #: wanted): the store could not be opened, or its last write failed (health).
        self.store_error = ""
        #: ``gracebgpd --record``: every handle() with its outputs (runtime.recorder); None: off.
        self.recorder: Recorder | None = None

    def _speak(self, inp: ev.Input, now: float) -> list[ev.Output]:
        """``speaker.handle``, recorded when a recording is on (one ``if`` when it is off);
        an input the speaker raised on is recorded with the error (a bug to replay)."""
        if self.recorder is None:
            return self.speaker.handle(inp, now)
        try:
            out = self.speaker.handle(inp, now)
        except Exception as exc:
            self.recorder.failed(now, inp, exc)
            raise
        self.recorder.step(now, inp, out)
        return out

    def feed(self, inp: ev.Input) -> None:
        """Hand a fact to the speaker now, before the owner task runs (the daemon's start-up
        decisions, e.g. ``RestartDecided`` before the API answers)."""
        self.handle(inp, asyncio.get_running_loop().time())

    def submit(self, inp: ev.Input) -> None:
        """Hand a fact to the owner from any task or signal handler of this loop."""
        self.queue.put_nowait(inp)

    def stop(self) -> None:
        self._stop.set()

    def rearm(self) -> None:
        """After ``stop()``: ``run`` may run again (a hand-over that did not happen)."""
        self._stop.clear()

    async def request(self, command: object, timeout: float = 60.0) -> ev.Reply:
        """Hand an operator command to the owner and wait for the speaker's Reply."""
        ref = next(self._refs)
        fut = self.awaiting(ref)
        self.submit(ev.CommandRequested(ref, command))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(ref, None)

    def awaiting(self, ref: int) -> asyncio.Future[ev.Reply]:
        """The future the speaker's ``Reply`` with ``ref`` will complete (when ``execute``
        carries it out)."""
        fut: asyncio.Future[ev.Reply] = asyncio.get_running_loop().create_future()
        self._pending[ref] = fut
        return fut

    def execute(self, outputs: list[ev.Output], now: float | None = None) -> None:
        """Carry out the speaker's commands; ``now``: the loop time of the input that
        produced them (events are stamped with it, so a timeline is right in a burst)."""
        t = self.transport
        unstored = ""  # why the last StoreRoutes failed; the next Reply reports it
        at = None if now is None else time.time() - (asyncio.get_running_loop().time() - now)
        for o in outputs:
            if isinstance(o, ev.Send):
                t.send(o.peer, o.conn, o.data)
            elif isinstance(o, ev.Connect):
                t.connect(o.peer, o.conn, o.host, o.port, o.local_address, o.options)
            elif isinstance(o, ev.AcceptFrom):
                t.accept_from(o.peer, o.options)
            elif isinstance(o, ev.Close):
                t.close(o.peer, o.conn, o.after_notification)
            elif isinstance(o, ev.Notice):
                self.bus.publish(o, at)
            elif isinstance(o, ev.StoreRoutes):
                why = self._store(o)
                if o.ref and why:  # a slice of a large command: its Reply, maybe steps later
                    self._unstored[o.ref] = why
                elif why:
                    unstored = why
            elif isinstance(o, ev.Reply):
                reply = o
                unstored = self._unstored.pop(o.ref, "") or unstored
                if unstored:
                    reply = ev.Reply(o.ref, 500, f"{o.message}, but they could not be stored ({unstored}): "
                                     "they are in effect now but will not survive a restart of gracebgpd",
                                     o.result)
                    unstored = ""
                fut = self._pending.get(o.ref)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
            elif isinstance(o, ev.Log):
                logger = _LOGGERS.get(o.subsystem)
                if logger is None:
                    logger = _LOGGERS[o.subsystem] = logging.getLogger(f"gracebgp.{o.subsystem}")
                logger.log(_LEVELS.get(o.level, logging.INFO), "%s%s", f"peer {o.peer}: " if o.peer else "",
                           o.message, extra={"peer": o.peer, "event": o.event or None, "fields": o.fields})

    def _store(self, o: ev.StoreRoutes) -> str:
        """Make API route changes durable before their Reply goes out; "" or why not."""
        if self.store is None:
            if self.store_error:  # wanted but unusable: never acknowledged as durable
                _store_log.error("%d routes added and %d deleted through the API are in effect but not "
                                 "stored: %s", len(o.added), len(o.removed), self.store_error,
                                 extra={"event": "store-failed"})
            return self.store_error
        try:
            self.store.apply(o.added, o.removed)
        except Exception as exc:  # a full disk must not take the sessions down
            _store_log.error("%d routes added and %d deleted through the API are in effect but not "
                             "stored: %s", len(o.added), len(o.removed), exc, extra={"event": "store-failed"})
            self.store_error = str(exc)
            return str(exc)
        self.store_error = ""
        return ""

    def handle(self, inp: ev.Input, now: float) -> None:
        """Feed one fact (at loop time ``now``); a bug must not take the daemon (and every
        session) down with it."""
        started = time.perf_counter()
        try:
            if (debug := _wire_log.isEnabledFor(logging.DEBUG)) != self.speaker.debug:
                self.execute(self._speak(ev.DebugLogged(debug), now), now)
            if (wants := self.bus.wants_routes) != self._watching:  # a follower came or went
                self._watching = wants
                self.execute(self._speak(ev.RoutesWatched(wants), now), now)
            self.execute(self._speak(inp, now), now)
            took = time.perf_counter() - started
            self.steps.observe(took, type(inp).__name__)
            if took > STEP_BOUND:
                log.debug("owner step of %.0f ms handling %s", took * 1000, type(inp).__name__,
                          extra={"event": "slow-step", "fields": {"ms": round(took * 1000, 1),
                                                                  "input": type(inp).__name__}})
        except Exception as exc:
            log.exception("internal error while handling %s; continuing", type(inp).__name__,
                          extra={"event": "internal-error"})
            if isinstance(inp, ev.CommandRequested):
                fut = self._pending.get(inp.ref)
                if fut is not None and not fut.done():
                    fut.set_result(ev.Reply(inp.ref, 500, f"internal error: {exc}"))

    async def start(self, restart: str = "cold", detail: str = "") -> None:
        """Listen, then start the speaker; ``restart``/``detail``: see ``events.Started``.
        A listener that cannot be bound is a start-up failure (OSError naming the address),
        not a daemon without a BGP port that says it is healthy. The peers' MD5 keys
        are known before the first listener is (events.AcceptFrom)."""
        accept: list[ev.Output] = list(self.speaker.accept_commands())
        if self.recorder is not None:
            self.recorder.call("accept_commands", accept)
        self.execute(accept)
        for host, port in self.listen:
            try:
                await self.transport.listen(host, port)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot listen on {host} port {port} (BGP): "
                                         f"{exc.strerror or exc}") from exc
        self.submit(ev.Started(restart, detail))

    async def run(self) -> None:
        """Until ``stop()``: the owner loop. Each turn: the inputs queued since the last turn
        (each with the time it was queued), then expired timers, then ``InputDrained``; then
        the next slice of pending work (``Continue``) and a turn of the event loop (so the
        sockets are read), or a wait for input, the next deadline or ``stop()``."""
        loop = asyncio.get_running_loop()
        speaker, queue = self.speaker, self.queue
        waiter: asyncio.Task[ev.Input] | None = None
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                # Only what was queued before this turn: the queue cannot grow while we
                # do not yield, so received KEEPALIVEs come before the hold timer.
                while not queue.empty() and not self._stop.is_set():
                    inp = queue.get_nowait()
                    self.handle(inp, queue.last_time)
                deadline = speaker.next_deadline()
                if deadline is not None and deadline <= loop.time():
                    self.handle(ev.TimerDue(), loop.time())
                self.handle(ev.InputDrained(), loop.time())
                for hook in self.hooks:
                    hook()
                if self._stop.is_set():
                    break
                if speaker.pending():
                    self.handle(ev.Continue(), loop.time())
                    await asyncio.sleep(0)  # let the transport read what arrived meanwhile
                    continue
                deadline = speaker.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                if waiter is None:
                    waiter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({waiter, stopper}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if waiter in done:
                    inp = waiter.result()
                    waiter = None
                    self.handle(inp, queue.last_time)
                elif stopper in done:
                    break
        finally:
            for task in (waiter, stopper):
                if task is not None:
                    task.cancel()

    async def shutdown(self, graceful: bool, message: str = "", linger: float = CLOSE_LINGER + 0.5) -> None:
        """Stop every session (see StopRequested). Connections closed after a NOTIFICATION
        close the way every such connection does (``Transport.close``: FIN, read until the
        peer closes, at most CLOSE_LINGER); wait for them, at most ``linger``, then close
        whatever is left."""
        loop = asyncio.get_running_loop()
        self.execute(self._speak(ev.StopRequested(graceful, message), loop.time()))
        await self.transport.wait_closed(linger)
        await self.transport.shutdown()
