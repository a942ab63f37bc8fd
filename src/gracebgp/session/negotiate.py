"""Our OPEN, the checks on the peer's OPEN, and the one ``Negotiated`` value of a session.

RFC 4271 §4.2 and §6.2 (OPEN and its errors), RFC 5492 §3-§5 (capabilities: used only when
both sides sent them; Unsupported Capability), RFC 6793 §4.1 and RFC 7607 (4-octet AS,
AS_TRANS, AS 0), RFC 6286 §2.2 (BGP Identifier), RFC 4760 §8 (families), RFC 7911 §4-§5
(ADD-PATH per direction), RFC 8654 §3-§4 (extended message), RFC 2918 / RFC 7313 §3.1
(route refresh), RFC 4724 §3 and RFC 8538 §2 (GR, R/N/F bits), RFC 9494 §3.1 and §4.1-§4.2
(LLGR), RFC 8950 §3 (extended next hop), draft-walton-bgp-hostname-capability (FQDN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from gracebgp.session.config import SessionConfig
from gracebgp.types import AFI, IPV4_UNICAST, Family, make_family
from gracebgp.wire import (
    AddPath,
    Capability,
    CodecContext,
    EnhancedRouteRefresh,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    Notification,
    Open,
    RouteRefreshCapability,
    UnknownParam,
)
from gracebgp.wire.addr import ipv4_bytes
from gracebgp.wire.capabilities import encode_capability
from gracebgp.wire.iana import (
    AS_TRANS,
    BGP_VERSION,
    AddPathMode,
    GrFamilyFlag,
    GrFlag,
    NotificationCode,
    OpenSubcode,
)

_F = GrFamilyFlag.FORWARDING
_C = TypeVar("_C")


# --- one side's GR / LLGR capability --------------------------------------------------

@dataclass(frozen=True, slots=True)
class GrCapability:
    """A Graceful Restart capability as the FSM and the restart code use it (RFC 4724 §3).

    ``restart_state`` is R, ``notification`` is N (RFC 8538 §2); ``families`` are the
    AFI/SAFIs listed, ``forwarding`` those of them with F set.
    """

    restart_state: bool
    notification: bool
    restart_time: int
    families: frozenset[Family]
    forwarding: frozenset[Family]

    @classmethod
    def from_wire(cls, cap: GracefulRestart) -> GrCapability:
        fams = [(make_family(afi, safi), flags) for afi, safi, flags in cap.families]
        return cls(bool(cap.flags & GrFlag.RESTART), bool(cap.flags & GrFlag.NOTIFICATION),
                   cap.restart_time, frozenset(f for f, _ in fams),
                   frozenset(f for f, flags in fams if flags & _F))


@dataclass(frozen=True, slots=True)
class LlgrCapability:
    """A Long-Lived GR capability (RFC 9494 §3.1): per family the stale time and the F bit."""

    stale_times: tuple[tuple[Family, int], ...]  # sorted by family
    forwarding: frozenset[Family]

    @classmethod
    def from_wire(cls, cap: LongLivedGracefulRestart) -> LlgrCapability:
        times = {make_family(afi, safi): stale for afi, safi, _, stale in cap.families}
        fwd = frozenset(make_family(a, s) for a, s, flags, _ in cap.families if flags & _F)
        return cls(tuple(sorted(times.items())), fwd)

    @property
    def families(self) -> frozenset[Family]:
        return frozenset(f for f, _ in self.stale_times)

    def stale_time(self, family: Family) -> int | None:
        """RFC 9494 §4.2: a family not listed has a Long-Lived Stale Time of zero."""
        return next((t for f, t in self.stale_times if f == family), None)


# --- the negotiated session -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Negotiated:
    """Everything both OPENs decided, in one immutable value (RFC 5492 §3: a capability is
    used only when both sides advertised it).

    * ``families``: in the Multiprotocol capabilities of both OPENs; a side that sent none
      implies IPv4 unicast (RFC 4760 §8, spec section 2).
    * ``add_path_rx``/``add_path_tx``: families whose NLRI carry Path Identifiers from the
      peer to us / from us to the peer (RFC 7911 §5).
    * ``peer_gr``/``local_gr``: the GR capabilities received/sent; ``gr_families`` are the
      negotiated families the peer's GR capability covers (the only ones whose EOR anybody
      waits for, spec problem 2). ``notification_supported``: N sent and received (RFC 8538).
    * ``peer_llgr``: the peer's LLGR capability, None when absent or when the peer sent no
      GR capability (RFC 9494 §4.1: then it "MUST be disregarded"); ``llgr_families``: the
      negotiated families it covers.
    * ``extended_next_hop``: NLRI families both sides accept with an IPv6 next hop.
    """

    local_as: int
    local_router_id: str
    peer_as: int
    peer_router_id: str
    ibgp: bool
    hold_time: int
    keepalive_time: int
    families: frozenset[Family]
    as4: bool
    add_path_rx: frozenset[Family]
    add_path_tx: frozenset[Family]
    extended_message: bool
    route_refresh: bool
    enhanced_route_refresh: bool
    local_gr: GrCapability | None
    peer_gr: GrCapability | None
    gr_families: frozenset[Family]
    notification_supported: bool
    local_llgr: LlgrCapability | None
    peer_llgr: LlgrCapability | None
    llgr_families: frozenset[Family]
    extended_next_hop: frozenset[Family]
    peer_hostname: str | None
    peer_domain: str | None
    local_open: Open
    peer_open: Open

    @property
    def graceful_families(self) -> frozenset[Family]:
        """Families whose routes a helper retains when the session goes down (RFC 4724 §4.2,
        RFC 9494 §4.2: GR first, then LLGR; either one is enough to retain)."""
        return self.gr_families | self.llgr_families

    def rx_context(self) -> CodecContext:
        """How to decode what the peer sends us."""
        return CodecContext(self.as4, self.add_path_rx, self.extended_message, self.ibgp,
                            self.extended_next_hop)

    def tx_context(self) -> CodecContext:
        """How to encode what we send the peer."""
        return CodecContext(self.as4, self.add_path_tx, self.extended_message, self.ibgp,
                            self.extended_next_hop)


# --- our OPEN ---------------------------------------------------------------------------

def _mp_caps(cfg: SessionConfig) -> tuple[Multiprotocol, ...]:
    return tuple(Multiprotocol(f.afi, f.safi) for f in cfg.families)


def build_open(cfg: SessionConfig) -> Open:
    """Our OPEN: capabilities in ascending code order, one Capabilities parameter.

    4-octet AS is always sent (RFC 6793 §4.1); My AS is AS_TRANS when the local AS needs 4
    octets. GR lists the families of ``GrConfig.listed`` (RFC 4724 §3), F where forwarding
    state is kept. LLGR goes out only next to GR (RFC 9494 §4.1, which config validation
    ensures) and only when configured (``long_lived`` or ``llgr``); helper-only lists no
    family in it either: we ask the peer to keep none of our routes.
    """
    caps: list[Capability] = list(_mp_caps(cfg))
    if cfg.route_refresh:
        caps.append(RouteRefreshCapability())
    if cfg.extended_next_hop:
        caps.append(ExtendedNextHop(tuple((f.afi, f.safi, AFI.IPV6) for f in cfg.extended_next_hop)))
    if cfg.extended_message:
        caps.append(ExtendedMessage())
    gr = cfg.graceful_restart
    if gr is not None:
        flags = (GrFlag.RESTART if gr.restarting else 0) | (GrFlag.NOTIFICATION if gr.notification else 0)
        fams = tuple((f.afi, f.safi, _F if f in gr.forwarding else 0) for f in gr.listed(cfg.families))
        caps.append(GracefulRestart(int(flags), gr.restart_time, fams))
    caps.append(FourOctetAs(cfg.local_as))
    if cfg.add_path:
        caps.append(AddPath(tuple((f.afi, f.safi, int(mode)) for f, mode in cfg.add_path)))
    if cfg.enhanced_route_refresh:
        caps.append(EnhancedRouteRefresh())
    if (cfg.llgr or cfg.long_lived) and gr is not None:
        llgr = () if gr.helper_only else cfg.llgr
        caps.append(LongLivedGracefulRestart(tuple(
            (f.afi, f.safi, _F if f in gr.forwarding else 0, t) for f, t in llgr)))
    if cfg.hostname:
        caps.append(Fqdn(cfg.hostname, cfg.domain))
    return Open.build(cfg.local_as, cfg.hold_time, cfg.router_id, tuple(caps))


# --- checking theirs --------------------------------------------------------------------

def _open_error(subcode: int, data: bytes = b"") -> Notification:
    return Notification(NotificationCode.OPEN_MESSAGE_ERROR, subcode, data)


def _families(caps: Iterable[Capability]) -> frozenset[Family]:
    """RFC 4760 §8 families of one OPEN; none at all implies IPv4 unicast (spec section 2)."""
    fams = frozenset(c.family for c in caps if isinstance(c, Multiprotocol))
    return fams or frozenset((IPV4_UNICAST,))


def _as_problem(peer: Open) -> bool:
    """RFC 6793 §4.1 consistency of My AS with capability 65, and RFC 7607 (AS 0)."""
    four = [c.asn for c in peer.capabilities if isinstance(c, FourOctetAs)]
    if not four:
        return peer.my_as in (0, AS_TRANS)  # AS_TRANS names no AS without the capability
    asn = four[-1]
    return asn == 0 or peer.my_as != (asn if asn <= 0xFFFF else AS_TRANS)


def check_open(cfg: SessionConfig, peer: Open) -> Notification | None:
    """The NOTIFICATION that refuses ``peer``'s OPEN, or None when it is acceptable.

    Checks, in order (RFC 4271 §6.2 unless noted):

    1. Version != 4: Unsupported Version Number, Data = the 2-octet version we support.
    2. An optional parameter other than Capabilities (2): Unsupported Optional Parameter.
    3. Bad Peer AS: AS 0 (RFC 7607), AS_TRANS without capability 65 or My AS inconsistent
       with it (RFC 6793 §4.1), or not the configured ``peer_as``.
    4. Bad BGP Identifier: 0.0.0.0, or equal to ours on an iBGP session (RFC 6286 §2.2).
    5. Unacceptable Hold Time: 1 or 2 seconds.
    6. Unsupported Capability (RFC 5492 §5) when no family is common to both OPENs; the
       Data lists our Multiprotocol capabilities, as FRR does.

    Malformed OPENs never get here: the codec raises them as OPEN Message Error /
    Unspecific (RFC 4271 §6.2, last paragraph). Unknown capabilities are ignored (RFC 5492 §3).
    """
    if peer.version != BGP_VERSION:
        return _open_error(OpenSubcode.UNSUPPORTED_VERSION_NUMBER, BGP_VERSION.to_bytes(2, "big"))
    if any(isinstance(p, UnknownParam) for p in peer.params):
        return _open_error(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER)
    if _as_problem(peer) or (cfg.peer_as is not None and peer.asn != cfg.peer_as):
        return _open_error(OpenSubcode.BAD_PEER_AS)
    peer_id = ipv4_bytes(peer.bgp_id)
    if peer_id == b"\0\0\0\0" or (peer.asn == cfg.local_as and peer_id == ipv4_bytes(cfg.router_id)):
        return _open_error(OpenSubcode.BAD_BGP_IDENTIFIER)
    if peer.hold_time in (1, 2):
        return _open_error(OpenSubcode.UNACCEPTABLE_HOLD_TIME)
    if not _families(peer.capabilities) & frozenset(cfg.families):
        data = b"".join(encode_capability(c) for c in _mp_caps(cfg))
        return _open_error(OpenSubcode.UNSUPPORTED_CAPABILITY, data)
    return None


# --- negotiation ------------------------------------------------------------------------

def _last(caps: Iterable[Capability], kind: type[_C]) -> _C | None:
    """The last instance: RFC 4724 §3 says so for GR; we use it for every single-instance
    capability (RFC 5492 §4 leaves multiple instances to each capability's document)."""
    found = None
    for c in caps:
        if isinstance(c, kind):
            found = c
    return found


def _add_path(caps: Iterable[Capability]) -> dict[Family, int]:
    """Send/Receive per family; an instance with a value outside 1..3 is ignored as a whole
    (RFC 7911 §4: "treated as not understood and ignored")."""
    modes: dict[Family, int] = {}
    for c in caps:
        if isinstance(c, AddPath) and all(m in (1, 2, 3) for _, _, m in c.entries):
            modes.update((make_family(afi, safi), m) for afi, safi, m in c.entries)
    return modes


def _gr(caps: tuple[Capability, ...]) -> tuple[GrCapability | None, LlgrCapability | None]:
    gr = _last(caps, GracefulRestart)
    llgr = _last(caps, LongLivedGracefulRestart)
    if gr is None:
        return None, None  # RFC 9494 §4.1: LLGR without GR is disregarded
    return GrCapability.from_wire(gr), LlgrCapability.from_wire(llgr) if llgr else None


def _has(caps: tuple[Capability, ...], kind: type[object]) -> bool:
    return any(isinstance(c, kind) for c in caps)


def _ext_nh(caps: tuple[Capability, ...]) -> set[tuple[int, int, int]]:
    return {(a, s, n) for c in caps if isinstance(c, ExtendedNextHop) for a, s, n in c.entries}


def keepalive_time(configured: int | None, hold: int) -> int:
    """Seconds between our KEEPALIVEs for a negotiated Hold Time ``hold``: the configured
    interval, at most a third of the Hold Time (RFC 4271 §10 suggests a third; §4.4 calls it
    "a reasonable maximum"), so a peer that negotiated a shorter Hold Time than ours is
    never starved; None configured: the third. Hold Time 0: none at all (RFC 4271 §4.4:
    "MUST NOT be sent")."""
    if hold == 0:
        return 0
    third = hold // 3
    return third if configured is None else max(1, min(configured, third))


def negotiate(cfg: SessionConfig, ours: Open, theirs: Open) -> Negotiated:
    """The session both OPENs describe. ``theirs`` must have passed ``check_open``.

    ``cfg`` gives our identity and keepalive interval; every capability decision is taken
    from the two OPENs as sent, so that a captured OPEN pair replays to the same result.

    * Hold time: the smaller of the two (RFC 4271 §4.2), so 0 when either side sent 0;
      keepalive time: ``keepalive_time(cfg.keepalive_time, hold)``.
    * ADD-PATH (RFC 7911 §5): we send Path Identifiers for F iff we advertised Send (2/3)
      and they advertised Receive (1/3) for F; we receive them iff the reverse holds.
    """
    oc, tc = ours.capabilities, theirs.capabilities
    families = _families(oc) & _families(tc)
    hold = min(ours.hold_time, theirs.hold_time)
    our_ap, their_ap = _add_path(oc), _add_path(tc)
    send, recv = int(AddPathMode.SEND), int(AddPathMode.RECEIVE)
    ap_tx = frozenset(f for f in families if our_ap.get(f, 0) & send and their_ap.get(f, 0) & recv)
    ap_rx = frozenset(f for f in families if our_ap.get(f, 0) & recv and their_ap.get(f, 0) & send)
    local_gr, local_llgr = _gr(oc)
    peer_gr, peer_llgr = _gr(tc)
    ext_nh = frozenset(make_family(a, s) for a, s, n in _ext_nh(oc) & _ext_nh(tc) if n == AFI.IPV6)
    fqdn = _last(tc, Fqdn)
    return Negotiated(
        local_as=cfg.local_as,
        local_router_id=cfg.router_id,
        peer_as=theirs.asn,
        peer_router_id=theirs.bgp_id,
        ibgp=theirs.asn == cfg.local_as,
        hold_time=hold,
        keepalive_time=keepalive_time(cfg.keepalive_time, hold),
        families=families,
        as4=_has(oc, FourOctetAs) and _has(tc, FourOctetAs),
        add_path_rx=ap_rx,
        add_path_tx=ap_tx,
        extended_message=_has(oc, ExtendedMessage) and _has(tc, ExtendedMessage),
        route_refresh=_has(oc, RouteRefreshCapability) and _has(tc, RouteRefreshCapability),
        enhanced_route_refresh=_has(oc, EnhancedRouteRefresh) and _has(tc, EnhancedRouteRefresh),
        local_gr=local_gr,
        peer_gr=peer_gr,
        gr_families=families & peer_gr.families if peer_gr else frozenset(),
        notification_supported=bool(local_gr and peer_gr and local_gr.notification and peer_gr.notification),
        local_llgr=local_llgr,
        peer_llgr=peer_llgr,
        llgr_families=families & peer_llgr.families if peer_llgr else frozenset(),
        extended_next_hop=ext_nh & families,
        peer_hostname=fqdn.hostname if fqdn else None,
        peer_domain=fqdn.domain if fqdn else None,
        local_open=ours,
        peer_open=theirs,
    )
