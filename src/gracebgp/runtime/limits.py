"""Resource limits of the daemon's process: rate-limited log lines for things that repeat
under abuse (refused connections, EMFILE on accept), the file-descriptor budget (raise the
soft RLIMIT_NOFILE, keep a share for BGP whatever the API sees), and a quiet asyncio
handler for ``socket.accept() out of system resource``.

asyncio's accept loop logs that error with a traceback for every one of up to ``backlog``
attempts per readiness event and retries a second later: with uvicorn's backlog of 2048
that was 22 MB of log in 5 s. Here it becomes one line per listener per interval, with a
count.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gracebgp.runtime")

INTERVAL = 10.0
#: Descriptors kept out of the API's reach: BGP listeners and sessions, the store, logs.
BGP_RESERVE = 128
#: Most concurrent connections one API listener accepts, whatever the fd limit.
API_CONNECTIONS = 256
#: A soft RLIMIT_NOFILE is raised to the hard limit, but not beyond this.
FD_TARGET = 65536
_ACCEPT_FAILED = "socket.accept() out of system resource"
Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class RateLimited:
    """One kind of repeated log line. The first in an interval is logged in full; the
    rest are counted, and one summary line (``summary % (count, interval)``) is logged
    when the interval ends: ``"%d more ... in the last %d s"``. ``event``: the JSON log's
    event of both kinds of line (runtime/logsetup.py)."""

    def __init__(self, logger: logging.Logger, level: int, summary: str, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic, event: str | None = None) -> None:
        self._logger, self._level, self._summary = logger, level, summary
        self._extra = {"event": event}
        self._interval, self._clock = interval, clock
        self._window_end = float("-inf")
        self.suppressed = 0
        self.total = 0
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, message: str, *args: object) -> None:
        self.total += 1
        now = self._clock()
        if now >= self._window_end:
            self.flush()
            self._logger.log(self._level, message, *args, extra=self._extra)
            self._window_end = now + self._interval
            return
        self.suppressed += 1
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a unit test): the next call flushes
                return
            self._timer = loop.call_later(max(0.0, self._window_end - now), self.flush)

    def flush(self) -> None:
        """Log the summary of what was suppressed, if anything."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.suppressed:
            self._logger.log(self._level, self._summary, self.suppressed, round(self._interval),
                             extra={**self._extra, "fields": {"suppressed": self.suppressed}})
            self.suppressed = 0


def fd_limit() -> int:
    """The process's soft RLIMIT_NOFILE (a large number when unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return FD_TARGET if soft == resource.RLIM_INFINITY else int(soft)


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (at most FD_TARGET); returns the
    soft limit in force. Called once at daemon start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = FD_TARGET if hard == resource.RLIM_INFINITY else min(int(hard), FD_TARGET)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the file descriptor limit from %d to %d: %s", soft, want, exc,
                        extra={"event": "fd-limit"})
    return fd_limit()


def api_connection_cap(listeners: int = 2, cap: int = API_CONNECTIONS) -> int:
    """Concurrent connections one API listener may hold: at most ``cap``, and all API
    listeners together at most half of what the fd limit leaves after BGP_RESERVE, so a
    flood of API connections never takes the descriptors BGP needs."""
    share = (fd_limit() - BGP_RESERVE) // (2 * max(1, listeners))
    return max(4, min(cap, share))


class _QuietAccept:
    """Loop exception handler: accept() failures for lack of resources (EMFILE, ENFILE,
    ENOBUFS, ENOMEM) are logged rate-limited per listening socket; the rest go on."""

    def __init__(self, previous: Handler | None) -> None:
        self.previous = previous
        self.limiters: dict[str, RateLimited] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != _ACCEPT_FAILED:
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        where = _sockname(context.get("socket"))
        limiter = self.limiters.get(where)
        if limiter is None:
            limiter = self.limiters[where] = RateLimited(
                log, logging.ERROR, f"%d more failed accept() on {where} in the last %d s",
                event="accept-failed")
        exc = context.get("exception")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        limiter("cannot accept connections on %s: %s (file descriptor limit %d); asyncio retries "
                "every second, further failures are counted", where, reason, fd_limit())


def _sockname(sock: object) -> str:
    try:
        name = sock.getsockname()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return "a listening socket"
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]} port {name[1]}"
    return f"unix:{name}" if name else "a listening socket"


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Install the rate-limited accept-error handler on ``loop`` (once; idempotent)."""
    current = loop.get_exception_handler()
    if not isinstance(current, _QuietAccept):
        loop.set_exception_handler(_QuietAccept(current))
