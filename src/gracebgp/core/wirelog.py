"""What goes over a session, for the debug log (``gracebgpd -l debug``): each OPEN with its
capabilities decoded (RFC 5492 §4), each NOTIFICATION by code and subcode name with its
data (RFC 4271 §4.5, RFC 8538 §3 Hard Reset, RFC 9003 shutdown communication), and the
UPDATEs of a peer as one summary per input and direction, counted per family (announced,
withdrawn, End-of-RIB), never prefix by prefix.

None of this runs unless ``Speaker.debug`` is on: the runtime sets it once per input from
its ``gracebgp.session`` logger, so with the log above DEBUG the receive path pays the test
of one boolean per UPDATE, and nothing is formatted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gracebgp.api import schema as api
from gracebgp.core import events as ev
from gracebgp.session.negotiate import GrCapability, LlgrCapability
from gracebgp.types import IPV4_UNICAST, Family, family_name, make_family
from gracebgp.wire import Notification, Open, RouteRefresh, UpdateAction, UpdateResult
from gracebgp.wire.capabilities import (
    AddPath,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    UnknownCapability,
)
from gracebgp.wire.capabilities import RouteRefresh as RouteRefreshCapability
from gracebgp.wire.iana import (
    AFI,
    CeaseSubcode,
    FsmSubcode,
    GrFamilyFlag,
    GrFlag,
    HeaderSubcode,
    NotificationCode,
    OpenSubcode,
    RouteRefreshErrorSubcode,
    RouteRefreshSubtype,
    UpdateSubcode,
)

if TYPE_CHECKING:
    from gracebgp.rib.adj_rib_out import AdjRibOut
    from gracebgp.session.negotiate import Negotiated

_SUBCODES: dict[int, type[Any]] = {
    NotificationCode.MESSAGE_HEADER_ERROR: HeaderSubcode,
    NotificationCode.OPEN_MESSAGE_ERROR: OpenSubcode,
    NotificationCode.UPDATE_MESSAGE_ERROR: UpdateSubcode,
    NotificationCode.FSM_ERROR: FsmSubcode,
    NotificationCode.CEASE: CeaseSubcode,
    NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR: RouteRefreshErrorSubcode,
}
_ADD_PATH = {1: "receive", 2: "send", 3: "both"}
_F = GrFamilyFlag.FORWARDING


def _direction(sent: bool) -> str:
    return "sent" if sent else "received"


# --- OPEN ----------------------------------------------------------------------------------

def _capability(cap: Capability) -> str | None:
    """One capability as the debug log's text."""
    if isinstance(cap, Multiprotocol):
        return "multiprotocol " + str(cap.family)
    if isinstance(cap, RouteRefreshCapability):
        return "route-refresh"
    if isinstance(cap, EnhancedRouteRefresh):
        return "enhanced-route-refresh"
    if isinstance(cap, ExtendedMessage):
        return "extended-message"
    if isinstance(cap, FourOctetAs):
        return f"4-octet-as {cap.asn}"
    if isinstance(cap, GracefulRestart):
        r, n = int(bool(cap.flags & GrFlag.RESTART)), int(bool(cap.flags & GrFlag.NOTIFICATION))
        listed = ", ".join(f"{make_family(a, s)} F={int(bool(f & _F))}" for a, s, f in cap.families)
        return (f"graceful-restart R={r} N={n} restart-time {cap.restart_time}s "
                + (listed or "no family (helper only)"))
    if isinstance(cap, LongLivedGracefulRestart):
        return "long-lived-graceful-restart " + (", ".join(
            f"{make_family(a, s)} stale-time {t}s F={int(bool(f & _F))}" for a, s, f, t in cap.families)
            or "no family")
    if isinstance(cap, AddPath):
        return "add-path " + ", ".join(f"{make_family(a, s)} {_ADD_PATH.get(m, str(m))}"
                                       for a, s, m in cap.entries)
    if isinstance(cap, ExtendedNextHop):
        return "extended-next-hop " + ", ".join(f"{make_family(a, s)} via {_afi_name(nh)}"
                                                for a, s, nh in cap.entries)
    if isinstance(cap, Fqdn):
        return "hostname " + cap.hostname + (f".{cap.domain}" if cap.domain else "")
    if isinstance(cap, UnknownCapability):
        return f"capability {cap.code} ({cap.value.hex() or 'empty'})"
    return None  # pragma: no cover - every decoded capability is one of the above


def _family_names(families: Iterable[Family]) -> list[str]:
    return sorted(family_name(f) for f in families)


def open_capabilities(message: Open) -> api.Capabilities:
    """What one OPEN offers, as sent (the last instance of a single-instance capability):
    the API's ``Capabilities`` (GET /v1/peers/ADDR) and the debug log's OPEN fields."""
    caps = message.capabilities
    gr = next((c for c in reversed(caps) if isinstance(c, GracefulRestart)), None)
    llgr = next((c for c in reversed(caps) if isinstance(c, LongLivedGracefulRestart)), None)
    four = next((c.asn for c in reversed(caps) if isinstance(c, FourOctetAs)), None)
    fqdn = next((c for c in reversed(caps) if isinstance(c, Fqdn)), None)
    add_path = {make_family(a, sa): m for c in caps if isinstance(c, AddPath) for a, sa, m in c.entries}
    grp = None
    if gr is not None:
        g = GrCapability.from_wire(gr)
        grp = api.GrParams(restart_state=g.restart_state, notification=g.notification,
                         restart_time=g.restart_time,
                         families=[api.GrFamily(family=family_name(f), forwarding=f in g.forwarding)
                                   for f in sorted(g.families)])
    llgr_fams = None
    if llgr is not None:
        lc = LlgrCapability.from_wire(llgr)
        llgr_fams = [api.LlgrFamily(family=family_name(f), stale_time=t, forwarding=f in lc.forwarding)
                     for f, t in lc.stale_times]
    return api.Capabilities(
        four_octet_as=four,
        families=_family_names(c.family for c in caps if isinstance(c, Multiprotocol)),
        route_refresh=any(isinstance(c, RouteRefreshCapability) for c in caps),
        enhanced_route_refresh=any(isinstance(c, EnhancedRouteRefresh) for c in caps),
        extended_message=any(isinstance(c, ExtendedMessage) for c in caps),
        extended_next_hop=_family_names({make_family(a, sa) for c in caps if isinstance(c, ExtendedNextHop)
                                         for a, sa, nh in c.entries if nh == AFI.IPV6}),
        add_path=[api.AddPathFamily(family=family_name(f), mode=_ADD_PATH[m])  # type: ignore[arg-type]
                  for f, m in sorted(add_path.items()) if m in _ADD_PATH],
        graceful_restart=grp, llgr=llgr_fams,
        hostname=None if fqdn is None else fqdn.hostname + (f".{fqdn.domain}" if fqdn.domain else ""),
        other=sorted({c.code for c in caps if isinstance(c, UnknownCapability)}))


def _afi_name(afi: int) -> str:
    try:
        return AFI(afi).name.lower()
    except ValueError:
        return f"afi-{afi}"


def open_log(msg: Open, sent: bool, peer: str) -> ev.Log:
    parts = [t for t in (_capability(c) for c in msg.capabilities) if t]
    # The Multiprotocol capabilities read better as one item.
    mp = [p for p in parts if p.startswith("multiprotocol ")]
    if len(mp) > 1:
        at = parts.index(mp[0])
        parts = [p for p in parts if p not in mp]
        parts.insert(at, "multiprotocol " + ", ".join(p.split(" ", 1)[1] for p in mp))
    text = (f"OPEN {_direction(sent)}: AS {msg.asn}, hold time {msg.hold_time}s, router-id {msg.bgp_id}; "
            f"capabilities: {'; '.join(parts) if parts else 'none'}")
    return ev.Log("debug", text, peer, "session", f"open-{_direction(sent)}",
                  {"direction": _direction(sent), "version": msg.version, "asn": msg.asn,
                   "hold_time": msg.hold_time, "router_id": msg.bgp_id,
                   "capabilities": open_capabilities(msg).model_dump()})


# --- NOTIFICATION, ROUTE-REFRESH -------------------------------------------------------------

def notification_names(note: Notification) -> tuple[str, str]:
    """The code's and the subcode's IANA names (numbers where unknown)."""
    try:
        code = NotificationCode(note.code).name
    except ValueError:
        code = str(note.code)
    sub = str(note.subcode)
    kind = _SUBCODES.get(note.code)
    if kind is not None:
        with contextlib.suppress(ValueError):
            sub = kind(note.subcode).name
    elif note.code == NotificationCode.HOLD_TIMER_EXPIRED and note.subcode == 0:
        sub = "UNSPECIFIC"
    return code, sub


def _notification_text(note: Notification) -> tuple[str, dict[str, Any]]:
    code, sub = notification_names(note)
    fields: dict[str, Any] = {"code": note.code, "subcode": note.subcode, "code_name": code,
                              "subcode_name": sub, "data": note.data.hex()}
    text = f"{code}/{sub} ({note.code}/{note.subcode})"
    if note.is_hard_reset and len(note.data) >= 2:
        inner_text, inner = _notification_text(note.unwrap())
        fields["hard_reset"] = inner
        return f"{text} wrapping {inner_text}", fields
    if note.communication is not None:
        fields["communication"] = note.communication
        text += f", shutdown communication {note.communication!r}"
    elif note.data:
        text += f", data {note.data.hex()}"
    return text, fields


def notification_fields(note: Notification) -> dict[str, Any]:
    """Code and subcode (numbers and names), data (hex), the shutdown communication, and
    what a Hard Reset wraps, as log fields."""
    return _notification_text(note)[1]


def notification_log(note: Notification, sent: bool, peer: str) -> ev.Log:
    text, fields = _notification_text(note)
    return ev.Log("debug", f"NOTIFICATION {_direction(sent)}: {text}", peer, "session",
                  f"notification-{_direction(sent)}", {"direction": _direction(sent), **fields})


def route_refresh_log(msg: RouteRefresh, sent: bool, peer: str) -> ev.Log:
    family = make_family(msg.afi, msg.safi)
    try:
        subtype = RouteRefreshSubtype(msg.subtype).name
    except ValueError:
        subtype = str(msg.subtype)
    return ev.Log("debug", f"ROUTE-REFRESH {_direction(sent)}: {family} subtype {subtype}", peer,
                  "session", f"route-refresh-{_direction(sent)}",
                  {"direction": _direction(sent), "family": str(family), "subtype": subtype})


def message_log(msg: Open | Notification | RouteRefresh, sent: bool, peer: str) -> ev.Log:
    if isinstance(msg, Open):
        return open_log(msg, sent, peer)
    if isinstance(msg, Notification):
        return notification_log(msg, sent, peer)
    return route_refresh_log(msg, sent, peer)


# --- the session, at info ----------------------------------------------------------------------

def session_up(neg: Negotiated, families: Sequence[Family], peer: str) -> ev.Log:
    return ev.Log("info", f"established: AS {neg.peer_as} id {neg.peer_router_id} hold {neg.hold_time}s "
                  f"families {', '.join(str(f) for f in families) or 'none'}", peer, "session", "session-up",
                  {"peer_as": neg.peer_as, "router_id": neg.peer_router_id, "hold_time": neg.hold_time,
                   "families": [str(f) for f in families],
                   "graceful_restart": sorted(str(f) for f in neg.gr_families),
                   "llgr": sorted(str(f) for f in neg.llgr_families),
                   "notification": neg.notification_supported,
                   "peer_restarting": bool(neg.peer_gr and neg.peer_gr.restart_state)})


def peer_notification(note: Notification, peer: str) -> ev.Log:
    """The NOTIFICATION that ends the session, at every level (the debug trace has it too)."""
    return ev.Log("warning", f"NOTIFICATION received: {note.describe()}", peer, "session",
                  "peer-notification", notification_fields(note))


# --- UPDATE summaries -------------------------------------------------------------------------

class Tally:
    """The UPDATEs of one peer in one direction since the last summary."""

    __slots__ = ("families", "messages", "treat_as_withdraw")

    def __init__(self) -> None:
        self.messages = 0
        self.treat_as_withdraw = 0
        self.families: dict[Family, list[int]] = {}  # [announced, withdrawn, End-of-RIBs]

    def add(self, family: Family, announced: int = 0, withdrawn: int = 0, eor: int = 0) -> None:
        counts = self.families.get(family)
        if counts is None:
            counts = self.families[family] = [0, 0, 0]
        counts[0] += announced
        counts[1] += withdrawn
        counts[2] += eor


Tallies = dict[tuple[str, bool], Tally]


def _tally(tallies: Tallies, peer: str, sent: bool) -> Tally:
    t = tallies.get((peer, sent))
    if t is None:
        t = tallies[(peer, sent)] = Tally()
    return t


def count_received(tallies: Tallies, peer: str, result: UpdateResult) -> None:
    """One received UPDATE (RFC 7606 treat-as-withdraw: its announcements count as withdrawn)."""
    t = _tally(tallies, peer, False)
    t.messages += 1
    if result.eor is not None:
        t.add(result.eor, eor=1)
        return
    u = result.update
    if u is None:
        return
    gone = result.action == UpdateAction.TREAT_AS_WITHDRAW
    t.treat_as_withdraw += gone
    if u.withdrawn or u.nlri:
        t.add(IPV4_UNICAST, 0 if gone else len(u.nlri), len(u.withdrawn) + (len(u.nlri) if gone else 0))
    if u.mp_unreach is not None:
        t.add(u.mp_unreach.family, withdrawn=len(u.mp_unreach.withdrawn))
    if u.mp_reach is not None:
        n = len(u.mp_reach.nlri)
        t.add(u.mp_reach.family, 0 if gone else n, n if gone else 0)


def count_pending(tallies: Tallies, peer: str, rib_out: AdjRibOut) -> None:
    """What ``rib_out.flush()`` is about to send: the announcements, and the withdrawals of
    what was advertised (``AdjRibOut.flush`` drops the others)."""
    announced = withdrawn = 0
    advertised = None if rib_out.synced else rib_out.advertised  # (in sync: every one was sent)
    for key, path in rib_out.pending.items():
        if path is not None:
            announced += 1
        elif advertised is None or key in advertised:
            withdrawn += 1
    if announced or withdrawn:
        _tally(tallies, peer, True).add(rib_out.family, announced, withdrawn)


def count_eor(tallies: Tallies, peer: str, family: Family) -> None:
    _tally(tallies, peer, True).add(family, eor=1)


def count_sent(tallies: Tallies, peer: str, data: bytes) -> None:
    """UPDATE messages among the octets going to ``peer`` (their headers only)."""
    n, i, end = 0, 0, len(data)
    while i + 19 <= end:
        length = data[i + 16] << 8 | data[i + 17]
        if length < 19:
            break
        n += data[i + 18] == 2
        i += length
    if n:
        _tally(tallies, peer, True).messages += n


def summaries(tallies: Tallies) -> list[ev.Log]:
    """One debug line per peer and direction: "UPDATEs received: 3 messages; ipv4-unicast
    1000 announced, 20 withdrawn; ipv6-unicast End-of-RIB"."""
    out = []
    for (peer, sent), t in tallies.items():
        parts, fams = [], {}
        for family, (announced, withdrawn, eor) in sorted(t.families.items()):
            words = [w for w in (f"{announced} announced" if announced else "",
                                 f"{withdrawn} withdrawn" if withdrawn else "",
                                 "End-of-RIB" if eor else "") if w]
            parts.append(f"{family} {', '.join(words) or 'nothing'}")
            fams[str(family)] = {"announced": announced, "withdrawn": withdrawn, "end_of_rib": bool(eor)}
        if not t.messages and not fams:
            continue
        direction = _direction(sent)
        text = f"UPDATEs {direction}: {t.messages} message{'s' * (t.messages != 1)}"
        if parts:
            text += "; " + "; ".join(parts)
        if t.treat_as_withdraw:
            text += f"; {t.treat_as_withdraw} treated as withdraw (RFC 7606)"
        fields: dict[str, Any] = {"direction": direction, "messages": t.messages, "families": fams}
        if t.treat_as_withdraw:
            fields["treat_as_withdraw"] = t.treat_as_withdraw
        out.append(ev.Log("debug", text, peer, "session", f"updates-{direction}", fields))
    return out
