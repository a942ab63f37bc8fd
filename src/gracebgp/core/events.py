"""What goes into and comes out of the Speaker (DESIGN.md rule 2): facts in (past
tense), commands out (imperative), all frozen and slotted so tests compare whole lists
and a recorder can write them as JSON lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --- inputs: facts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The runtime is ready: listeners are up, peers may be started."""


@dataclass(frozen=True, slots=True)
class Connected:
    """A TCP connection for ``peer`` is up. ``outgoing`` is True when it answers our
    Connect with the same ``conn``; an accepted connection gets a fresh ``conn``."""

    peer: str
    conn: int
    local_address: str
    outgoing: bool


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    peer: str
    conn: int
    error: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    peer: str
    conn: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    peer: str
    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TimerDue:
    """``next_deadline()`` has passed."""


@dataclass(frozen=True, slots=True)
class InputDrained:
    """No input is waiting: a good moment to send what has been batched (DESIGN.md
    section 3: UPDATEs are packed per attribute set across many received UPDATEs)."""


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Stop every session. ``graceful``: close without NOTIFICATION (or with a Cease
    that is not Hard Reset when RFC 8538 is negotiated) so peers keep our routes;
    otherwise Cease/Administrative Shutdown, so they withdraw them at once."""

    graceful: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class Reconfigured:
    """The configuration was reloaded (SIGHUP). The speaker applies the difference: new
    peers start, removed ones stop with Cease/Peer De-configured, changed ones reset,
    untouched sessions stay up; local routes are added and withdrawn to match."""

    neighbors: tuple[Any, ...]  # NeighborSettings (core.peer), kept loose to avoid a cycle
    routes: tuple[Any, ...]  # LocalRoute (core.originate)


Input = (Started | Connected | ConnectFailed | Disconnected | Received | TimerDue | InputDrained
         | StopRequested | Reconfigured)

# --- outputs: commands -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    peer: str
    conn: int
    host: str
    port: int
    local_address: str | None = None
    ttl: int | None = None
    md5_password: str | None = None


@dataclass(frozen=True, slots=True)
class Send:
    peer: str
    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    peer: str
    conn: int


@dataclass(frozen=True, slots=True)
class Log:
    """Something an operator wants in the log: every session transition with its reason."""

    level: str  # "debug" | "info" | "warning" | "error"
    message: str
    peer: str | None = None


Output = Connect | Send | Close | Log
