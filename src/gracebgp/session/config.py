"""What the operator configured for one peer: the input to our OPEN and to the FSM timers.

RFC 4271 §4.2 and §10 (hold time 0 or >= 3, ConnectRetryTime), RFC 4724 §3 (R/F bits,
Restart Time), RFC 8538 §2 (N bit), RFC 9494 §3.1 and §4.1 (LLGR needs GR), RFC 7911 §4
(ADD-PATH Send/Receive), RFC 8950 §3 (extended next hop), RFC 6793 (4-octet AS).
"""

from __future__ import annotations

from dataclasses import dataclass

from gracebgp.errors import EncodeError
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.addr import ipv4_bytes
from gracebgp.wire.iana import AddPathMode

MAX_RESTART_TIME = 0xFFF  # 12 bits, RFC 4724 §3
MAX_LLGR_STALE_TIME = 0xFFFFFF  # 24 bits, RFC 9494 §3.1


@dataclass(frozen=True, slots=True)
class GrConfig:
    """Our Graceful Restart capability (RFC 4724 §3, RFC 8538 §2).

    * ``restart_time``: seconds the peer should keep our routes after we go away. RFC 4724
      §4 suggests a value no larger than the hold time; 90 matches the default hold time.
    * ``notification``: the N bit. With N sent *and* received, NOTIFICATIONs other than
      Hard Reset keep routes too (RFC 8538).
    * ``restarting``: the R bit. Set only in the OPENs sent after a restart, until the
      restart has completed (RFC 4724 §4.1, §4.2: "MUST NOT be set unless ... restarted").
    * ``forwarding``: the families whose F bit is set: forwarding state really was kept
      across the restart (or the speaker does not program forwarding and says so).
    * ``helper_only``: list no AFI/SAFI at all. RFC 4724 §3: we then only support the
      receiving-speaker procedures and do not preserve our own forwarding state.
    * ``families``: the AFI/SAFIs our capability lists (RFC 4724 §3: those whose routes the
      peer is to keep when we restart; GoBGP's per-family ``mp-graceful-restart``); None:
      every configured family. Empty lists none, like ``helper_only``.
    """

    restart_time: int = 90
    notification: bool = True
    restarting: bool = False
    forwarding: frozenset[Family] = frozenset()
    helper_only: bool = False
    families: frozenset[Family] | None = None

    def listed(self, configured: tuple[Family, ...]) -> tuple[Family, ...]:
        """The families our GR capability lists, in configuration order (RFC 4724 §3)."""
        if self.helper_only:
            return ()
        return tuple(f for f in configured if self.families is None or f in self.families)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One configured peer. Validated on construction (ValueError names the field).

    ``peer_as`` None accepts any AS (for dynamic peers). ``families`` are the AFI/SAFIs
    we advertise in Multiprotocol capabilities, in this order. ``add_path`` maps a family
    to what we want (RFC 7911 §4: RECEIVE, SEND or BOTH). ``llgr`` holds (family, Long-lived
    Stale Time) pairs; it needs ``graceful_restart`` (RFC 9494 §4.1). ``long_lived`` sends
    the LLGR capability even when ``llgr`` is empty (RFC 9494 §3.1: "zero or more tuples"):
    we then keep a peer's routes long-lived but ask it to keep none of ours; a non-empty
    ``llgr`` sends it anyway; without ``graceful_restart`` neither does anything (RFC 9494
    §4.1: LLGR goes out only next to GR). ``extended_next_hop`` lists the NLRI families we accept with an
    IPv6 next hop (RFC 8950 §3).

    Timers (seconds): ``keepalive_time`` is the most we wait between KEEPALIVEs; the session
    uses the smaller of it and a third of the negotiated Hold Time (RFC 4271 §4.4, §10; None:
    that third), none at all with Hold Time 0; 0 only with ``hold_time`` 0.
    ``connect_retry_time`` spaces our outgoing connection attempts
    (RFC 4271 §10; 30 s is the OpenConfig default); after a failure the automatic restart
    waits ``idle_hold_time * 2**(n-1)`` for the n-th consecutive failure, at most
    ``max_idle_hold_time``; a session that stayed Established ``stable_time`` or longer
    resets n (see ``timers``). ``passive`` peers never connect out.
    """

    local_as: int
    router_id: str
    peer_address: str
    peer_as: int | None = None
    hold_time: int = 90
    keepalive_time: int | None = None
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    route_refresh: bool = True
    enhanced_route_refresh: bool = True
    extended_message: bool = True
    add_path: tuple[tuple[Family, AddPathMode], ...] = ()
    graceful_restart: GrConfig | None = None
    llgr: tuple[tuple[Family, int], ...] = ()
    long_lived: bool = False
    hostname: str | None = None
    domain: str = ""
    extended_next_hop: tuple[Family, ...] = ()
    passive: bool = False
    connect_retry_time: float = 30.0
    idle_hold_time: float = 1.0
    max_idle_hold_time: float = 120.0
    stable_time: float = 60.0

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise ValueError(f"peer {self.peer_address}: {problem}")


def _problems(cfg: SessionConfig) -> list[str]:
    out: list[str] = []
    if not 1 <= cfg.local_as <= 0xFFFFFFFF:
        out.append(f"local_as {cfg.local_as} is not a 4-octet AS number")
    if cfg.peer_as is not None and not 1 <= cfg.peer_as <= 0xFFFFFFFF:
        out.append(f"peer_as {cfg.peer_as} is not a 4-octet AS number")
    try:
        if ipv4_bytes(cfg.router_id) == b"\x00\x00\x00\x00":  # RFC 6286 §2.1: non-zero
            out.append("router_id must not be 0.0.0.0")
    except EncodeError:
        out.append(f"router_id {cfg.router_id!r} is not an IPv4 address")
    if cfg.hold_time != 0 and not 3 <= cfg.hold_time <= 0xFFFF:  # RFC 4271 §4.2
        out.append(f"hold_time {cfg.hold_time} must be 0 or 3..65535")
    ka = cfg.keepalive_time
    if ka is not None and not (0 if cfg.hold_time == 0 else 1) <= ka <= 0xFFFF:  # RFC 4271 §4.4
        out.append(f"keepalive_time {ka} must be 1..65535 (0 only with hold_time 0)")
    if not cfg.families or len(set(cfg.families)) != len(cfg.families):
        out.append("families must be non-empty and without duplicates")
    configured = set(cfg.families)
    extra = [f for f, _ in cfg.add_path if f not in configured]
    extra += [f for f, _ in cfg.llgr if f not in configured]
    extra += [f for f in cfg.extended_next_hop if f not in configured]
    gr = cfg.graceful_restart
    if gr is not None:
        extra += [f for f in gr.forwarding if f not in configured]
        extra += [f for f in gr.families or () if f not in configured]
        if not 0 <= gr.restart_time <= MAX_RESTART_TIME:
            out.append(f"restart_time {gr.restart_time} does not fit in 12 bits")
    if extra:
        out.append(f"families {sorted(set(extra))} are used but not configured")
    if any(int(mode) not in (1, 2, 3) for _, mode in cfg.add_path):
        out.append("add_path modes are RECEIVE (1), SEND (2) or BOTH (3)")
    if cfg.llgr and gr is None:
        out.append("llgr needs graceful_restart (RFC 9494 §4.1)")
    if any(not 0 <= t <= MAX_LLGR_STALE_TIME for _, t in cfg.llgr):
        out.append("llgr stale times must fit in 24 bits")
    if len((cfg.hostname or "").encode()) > 255 or len(cfg.domain.encode()) > 255:
        out.append("hostname and domain are at most 255 octets")
    if cfg.enhanced_route_refresh and not cfg.route_refresh:
        out.append("enhanced_route_refresh needs route_refresh: BoRR/EoRR are ROUTE-REFRESH messages "
                   "(RFC 7313 §3.2)")
    if cfg.connect_retry_time <= 0 or cfg.idle_hold_time < 0 or cfg.stable_time < 0:
        out.append("connect_retry_time must be > 0, idle_hold_time and stable_time >= 0")
    if cfg.max_idle_hold_time < cfg.idle_hold_time:
        out.append("max_idle_hold_time must be >= idle_hold_time")
    return out
