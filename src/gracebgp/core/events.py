"""What goes into and comes out of the Speaker (DESIGN.md rule 2): facts in (past
tense), commands out (imperative), all frozen and slotted so tests compare whole lists
and a recorder can write them as JSON lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gracebgp.rib.decision import Multipath
from gracebgp.types import Family

#: One family's own multipath settings (Tunables.multipath_families).
FamilyMultipath = tuple[Family, bool, bool, int, int]

# --- inputs: facts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The runtime is ready: listeners are up, peers may be started. ``restart`` says how
    the previous run ended, from the state directory: "cold" (a fresh start: R=0),
    "planned" (``gracebgp restart``, SIGTERM retain) or "unplanned" (a crash): the last two
    send R=1 and defer selection (RFC 4724 §4.1). ``detail`` explains it for the events."""

    restart: str = "cold"
    detail: str = ""


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
class Continue:
    """The speaker has work pending (``Speaker.pending()``: a large command carried out in
    slices, issue 10 finding 4): do its next slice. The runtime sends it after the inputs
    and timers that were ready, so no owner step is longer than one slice."""


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Stop every session. ``graceful``: close without NOTIFICATION (or with a Cease
    that is not Hard Reset when RFC 8538 is negotiated) so peers keep our routes;
    otherwise Cease/Administrative Shutdown, so they withdraw them at once."""

    graceful: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class Tunables:
    """The speaker-wide ``[gracebgp]`` settings the speaker reads at run time: how long
    selection deferral waits for a peer to come up at all (``establish_wait``, spec
    section 4), LLGR-stale routes to iBGP peers without LLGR (``llgr_ibgp``, RFC 9494
    §4.6), RFC 8538 §5's provisional Cease subcodes sent as Hard Reset
    (``provisional_hard``); and ``[global.use-multiple-paths]`` (``multipath``...), overridden
    per family by ``[global.afi-safis.use-multiple-paths]`` (``multipath_families``). Given to
    the Speaker when it is built, and in ``Reconfigured``."""

    establish_wait: float = 30.0
    llgr_ibgp: bool = False
    provisional_hard: bool = False
    #: ``[global.use-multiple-paths]``: mark each prefix's equal-cost set (rib.decision).
    multipath: bool = False
    multipath_allow_multiple_as: bool = False
    multipath_ebgp_maximum_paths: int = 0
    multipath_ibgp_maximum_paths: int = 0
    #: ``[[global.afi-safis]]`` with their own ``use-multiple-paths``: (family, enabled,
    #: allow-multiple-as, eBGP maximum-paths, iBGP maximum-paths), each replacing the four
    #: global values above for its family.
    multipath_families: tuple[FamilyMultipath, ...] = ()

    def use_multiple_paths(self, family: Family) -> Multipath | None:
        """``family``'s Loc-RIB multipath settings: its own block, else the global one;
        None: the best path alone."""
        own = next((m for m in self.multipath_families if m[0] == family), None)
        _, on, multiple_as, ebgp, ibgp = own or (family, self.multipath, self.multipath_allow_multiple_as,
                                                 self.multipath_ebgp_maximum_paths,
                                                 self.multipath_ibgp_maximum_paths)
        return Multipath(multiple_as, ebgp, ibgp) if on else None


@dataclass(frozen=True, slots=True)
class Reconfigured:
    """The configuration was reloaded (SIGHUP). The speaker applies the difference: new
    peers start, removed ones stop with Cease/Peer De-configured, changed ones reset,
    untouched sessions stay up; local routes are added and withdrawn to match; the
    ``tunables`` (None: unchanged) apply from this input on."""

    neighbors: tuple[Any, ...]  # NeighborSettings (core.peer), kept loose to avoid a cycle
    routes: tuple[Any, ...]  # LocalRoute (core.originate)
    tunables: Tunables | None = None
    ranges: tuple[Any, ...] = ()  # DynamicRange (core.dynamic): [[dynamic-neighbors]]
    #: PolicyBook (policy.book): the new routing policy; None: unchanged (core.policies).
    policy_book: Any = None


@dataclass(frozen=True, slots=True)
class RestartDecided:
    """How this run started, judged from the state directory before the API answers (the
    values of ``Started``): GetGrStatus says it from its first answer on. ``Started``
    repeats it when the listeners are up."""

    restart: str = "cold"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RoutesWatched:
    """Someone follows the route events (or no one does any more): ``on`` makes the
    speaker emit a "route" Notice per best-path change."""

    on: bool


@dataclass(frozen=True, slots=True)
class DebugLogged:
    """The runtime's wire logger was turned to debug (or back): ``on`` makes the speaker
    write the debug lines of ``core.wirelog`` (OPEN, NOTIFICATION, UPDATE summaries);
    off, none of that code runs."""

    on: bool


@dataclass(frozen=True, slots=True)
class CommandRequested:
    """An operator asked for something (API, CLI). The speaker answers with a ``Reply``
    carrying the same ``ref``. ``command`` is one of ``core.commands``."""

    ref: int
    command: Any


@dataclass(frozen=True, slots=True)
class BfdChanged:
    """gracebgp-bfdd reports that the BFD session with ``peer`` went from ``old`` to
    ``state`` (RFC 5880 §4.1 names, "admin-down" "down" "init" "up"), with our diagnostic,
    the peer's state and its C bit as last received (RFC 5882 §4.3)."""

    peer: str
    old: str
    state: str
    remote_state: str = "down"
    diag: str = "none"
    remote_c: bool = False


Input = (Started | Connected | ConnectFailed | Disconnected | Received | TimerDue | InputDrained
         | Continue | StopRequested | Reconfigured | RestartDecided | RoutesWatched | DebugLogged
         | CommandRequested | BfdChanged)

# --- outputs: commands -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AoKey:
    """One TCP-AO Master Key Tuple (RFC 5925 §3.1) for a peer: ``send_id`` / ``recv_id``
    (the KeyIDs of what we send / what we accept), ``algorithm`` (Linux's crypto name,
    ``hmac(sha1)`` or ``cmac(aes128)``), ``mac_len`` (octets) and the master ``key``."""

    send_id: int
    recv_id: int
    algorithm: str
    mac_len: int
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SocketOptions:
    """What one peer's TCP sockets need, in both directions (``runtime.sockopts`` sets
    them): ``md5_password`` the TCP MD5 signature key (RFC 2385), None for none; ``ttl``
    the IP TTL / IPv6 hop limit of what we send (None: the kernel's default); ``min_ttl``
    the lowest TTL accepted from the peer (GTSM, RFC 5082 §3), None for no check;
    ``tcp_mss`` the largest segment we send and announce; ``tos`` the IPv4 TOS / IPv6
    traffic class of what we send; ``bind_interface`` the device the session must use;
    ``pmtu_discovery`` path MTU discovery on (DF set) or off; ``local_port`` the source
    port of our own connections; ``ao_keys`` the TCP-AO keys (RFC 5925; exclusive with
    ``md5_password``) and ``ao_current`` the SendID of the one we sign with (None: the
    first). None everywhere: the kernel's default."""

    md5_password: str | None = None
    ao_keys: tuple[AoKey, ...] = ()
    ao_current: int | None = None
    ttl: int | None = None
    min_ttl: int | None = None
    tcp_mss: int | None = None
    tos: int | None = None
    bind_interface: str | None = None
    pmtu_discovery: bool | None = None
    local_port: int | None = None


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a TCP connection to ``host`` with the peer's socket ``options`` set before
    the SYN leaves (an MD5 key must sign the SYN, RFC 2385 §2)."""

    peer: str
    conn: int
    host: str
    port: int
    local_address: str | None = None
    options: SocketOptions = SocketOptions()


@dataclass(frozen=True, slots=True)
class AcceptFrom:
    """Set the listening sockets up for connections from ``peer``: its MD5 key on each
    listener (so the kernel checks the SYN's signature, RFC 2385) and the options its
    accepted connections get. None: the peer is gone, remove its key. Emitted for every
    peer before the listeners accept (``Speaker.accept_commands``), when a peer is added
    or removed, and when a reload changes its options."""

    peer: str
    options: SocketOptions | None


@dataclass(frozen=True, slots=True)
class Send:
    peer: str
    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close connection ``conn``. ``after_notification``: a NOTIFICATION was just written
    to it, so the runtime must make sure it arrives (RFC 4271 §6, §8: the NOTIFICATION is
    sent, *then* the connection is closed): drain what is queued, shut down the write
    side (FIN, never RST), read and discard until the peer closes or a bounded time has
    passed, then close. Without it the connection is simply closed (a TCP close without
    NOTIFICATION, e.g. the graceful-restart stop towards a peer without N)."""

    peer: str
    conn: int
    after_notification: bool = False


@dataclass(frozen=True, slots=True)
class Log:
    """Something an operator wants in the log: every session transition with its reason.
    The runtime logs it on logger ``gracebgp.<subsystem>`` (session, rib, restart, config);
    ``event`` names what happened (kebab-case, the same names as the Notices where there is
    one) and ``fields`` holds its details as JSON values: both go into the JSON log
    (runtime/logsetup.py), the text log shows the message."""

    level: str  # "debug" | "info" | "warning" | "error"
    message: str
    peer: str | None = None
    subsystem: str = "session"
    event: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to ``CommandRequested(ref)``: an HTTP-like ``status`` (200 done, 201
    created, 400 cannot be done as asked, 404 no such peer, 409 conflict) and a message."""

    ref: int
    status: int
    message: str = ""
    result: Any = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something an operator may watch for (spec/graceful-restart.md section 8): ``kind``
    is peer-state, peer-added, peer-removed, route, restart or command; ``data`` holds
    the machine-readable details (JSON values only)."""

    kind: str
    message: str
    peer: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreRoutes:
    """Make routes added or deleted through the API durable (issue 5, spec section 4:
    a restarted speaker re-advertises what it originated before its End-of-RIB). The
    runtime writes them to the state directory *before* it delivers the Reply that
    follows in the same output list. ``added`` are LocalRoute values (core.originate),
    ``removed`` canonical prefix texts."""

    added: tuple[Any, ...] = ()
    removed: tuple[str, ...] = ()
    ref: int = 0  # the command's Reply that reports a failed write; 0: the next Reply


Output = Connect | AcceptFrom | Send | Close | Log | Reply | Notice | StoreRoutes
