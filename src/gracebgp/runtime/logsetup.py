"""The daemon's log (``gracebgpd -l LEVEL --log-format text|json``, docs/logging.md): one
handler on standard error, a logger per subsystem, and no framework banners.

Loggers (the ``logger`` of a line is the name without ``gracebgp.``; ``gracebgp`` itself
is ``daemon``)::

    gracebgp            daemon     start, stop, signals, reload, re-execution, state directory
    gracebgp.session    session    session states, OPEN / NOTIFICATION / UPDATE (debug), up and down
    gracebgp.restart    restart    graceful restart and LLGR as helper and as restarting speaker, drain
    gracebgp.rib        rib        prefix limits, next hops, route refresh, the API route store
    gracebgp.config     config     peers added, removed and changed by a reload or the API
    gracebgp.api        api        the HTTP API and its listeners (uvicorn's lines too)
    gracebgp.transport  transport  TCP: listeners, refused connections, socket options
    gracebgp.runtime    runtime    the owner loop, resource limits (asyncio's lines too)

Text, for people (what the log always looked like, with the logger in brackets)::

    2026-12-04 22:13:21,415 INFO [session] peer 127.0.0.2: established: AS 65002 ...

JSON, one object per line, for machines; every line has the same keys: ``time`` (UTC, RFC
3339, microseconds), ``level``, ``logger``, ``peer`` (the neighbor's address or null),
``event`` (what happened, kebab-case, or null), ``msg`` (the text, without the "peer X: "
prefix) and ``fields`` (the event's details, JSON values), plus ``exc`` with a traceback::

    {"time": "2026-12-04T22:13:21.415213Z", "level": "info", "logger": "session",
     "peer": "127.0.0.2", "event": "session-up", "msg": "established: AS 65002 ...",
     "fields": {"peer_as": 65002, ...}}

With ``json`` nothing else is written to standard error: Python warnings are logged, and
so is an exception that would end the process.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

FORMATS = ("text", "json")
_PREFIX = "gracebgp."
#: Loggers of the libraries we run on, shown as our subsystem that runs them.
_FOREIGN = {"uvicorn": "api", "asyncio": "runtime", "py.warnings": "runtime"}


def subsystem(name: str) -> str:
    """The ``logger`` of a line: "session" for gracebgp.session, "daemon" for gracebgp."""
    if name.startswith(_PREFIX):
        return name[len(_PREFIX):]
    if name == "gracebgp":
        return "daemon"
    return _FOREIGN.get(name) or _FOREIGN.get(name.split(".", 1)[0], name)


class TextFormatter(logging.Formatter):
    """``asctime LEVEL [logger] message`` (and the traceback, if any, on the lines after)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return f"{record.asctime} {record.levelname} [{subsystem(record.name)}] {record.message}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in the text are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        peer = getattr(record, "peer", None)
        prefix = f"peer {peer}: "
        if peer and message.startswith(prefix):
            message = message[len(prefix):]
        fields = getattr(record, "fields", None)
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": subsystem(record.name),
            "peer": peer,
            "event": getattr(record, "event", None) or None,
            "msg": message,
            "fields": dict(fields) if isinstance(fields, Mapping) else {},
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # ASCII only: valid JSON whatever the encoding of the stream it goes to.
        return json.dumps(out, default=str)


class _FrameworkBanners(logging.Filter):
    """uvicorn's INFO lines are about its own life, not the daemon's: "Started server
    process", "Uvicorn running on ... (Press CTRL+C to quit)" (SIGINT withdraws every
    route), "Shutting down" (of the API only), "Waiting for connections to close. (CTRL+C to
    force quit)". Its warnings and errors stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_uvicorn() -> None:
    """Keep uvicorn's banners out of the log (idempotent; ``api.server`` calls it too, so
    an API served without ``setup`` is quiet as well). The daemon logs its own line."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _FrameworkBanners) for f in logger.filters):
        logger.addFilter(_FrameworkBanners())


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("gracebgp").critical("gracebgpd failed: %s: %s", kind.__name__, exc,
                                           exc_info=(kind, exc, tb), extra={"event": "crashed"})


def setup(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """The daemon's logging, replacing any handler the root logger had: ``level`` one of
    debug, info, warning, error; ``fmt`` one of ``FORMATS``. Returns the handler."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("asyncio").setLevel(logging.WARNING)  # "Using selector: EpollSelector"
    quiet_uvicorn()
    logging.captureWarnings(True)
    if fmt == "json":
        sys.excepthook = _uncaught
    return handler
