"""Views of graceful restart for the API (pure, like ``api.service``): our restart and its
selection deferral, the peers whose routes we keep, the timeline of the last restart
built from the event history (spec/graceful-restart.md sections 4 and 8), and what one
session's OPENs offered and decided (RFC 5492; GR and N: RFC 4724 §3, RFC 8538 §2;
LLGR: RFC 9494 §3.1; ADD-PATH: RFC 7911 §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gracebgp.api import schema as s
from gracebgp.core.peer import Peer
from gracebgp.core.restart_control import peer_views
from gracebgp.core.speaker import Speaker
from gracebgp.core.wirelog import open_capabilities
from gracebgp.restart.helper import Phase
from gracebgp.session.negotiate import Negotiated, build_open
from gracebgp.session.state import State
from gracebgp.types import Family, family_name

STATE_NAMES = {State.IDLE: "Idle", State.CONNECT: "Connect", State.ACTIVE: "Active",
           State.OPENSENT: "OpenSent", State.OPENCONFIRM: "OpenConfirm", State.ESTABLISHED: "Established"}
#: Events that open a timeline: the stop of a speaker, a start, or a peer going away.
_STOPPING = "stopping"
_STARTED = "process-started"


def gr_status(speaker: Speaker, now: float) -> s.GrStatus:
    d = speaker.deferral
    rows = d.status(peer_views(speaker), now) if d is not None else []
    deferral = [s.DeferralFamily.model_validate(row) for row in rows]
    helper: list[s.HelperPeer] = []
    for peer in sorted(speaker.peers.values(), key=address_order):
        g = peer.gr
        if not g.active:
            continue
        fams = [s.HelperFamily(family=family_name(f), phase=p.value,
                               stale=peer.adj_in[f].stale_count if f in peer.adj_in else 0)
                for f, p in sorted(g.phases.items())]
        helper.append(s.HelperPeer(
            peer=peer.address, state=STATE_NAMES[peer.session.state], families=fams,
            restart_timer_in=_left(g.restart_deadline, now), stale_timer_in=_left(g.stale_deadline, now),
            llgr_timer_in={family_name(f): round(t - now, 3) for f, t in sorted(g.llgr_deadlines.items())
                           if g.phases.get(f) is Phase.LLGR}))
    kind, detail = speaker.restart
    restarting = any(p.session.config.graceful_restart is not None
                     and p.session.config.graceful_restart.restarting for p in speaker.peers.values())
    return s.GrStatus(restart=kind, detail=detail, restart_bit=restarting,  # type: ignore[arg-type]
                      deferral=deferral, helper=helper, drain=speaker.drain)  # type: ignore[arg-type]


def address_order(peer: Peer) -> tuple[int, int, str]:
    """Peers in address order: IPv4 before IPv6, numerically."""
    return s.address_key(peer.address)


def _left(deadline: float | None, now: float) -> float | None:
    return None if deadline is None else round(max(0.0, deadline - now), 3)


def timeline(history: Iterable[Mapping[str, Any]], peer: str | None = None) -> s.Timeline:
    """The last restart's events, oldest first.

    Without ``peer``: from the last "stopping" event of the process before the newest
    start (carried over in the restart marker) or from the newest start, to now. With
    ``peer``: from that peer's last "session-down" that kept its routes, to now."""
    events = [e for e in history if e.get("kind") in ("restart", "peer-state")]
    if peer is not None:
        events = [e for e in events if e.get("peer") == peer]
        starts = [i for i, e in enumerate(events)
                  if _event(e) == "session-down" and e.get("data", {}).get("retained")]
        kind = "peer"
    else:
        started = [i for i, e in enumerate(events) if _event(e) == _STARTED]
        first = started[-1] if started else 0
        stops = [i for i, e in enumerate(events[:first]) if _event(e) == _STOPPING]
        starts = [stops[-1]] if stops else [first]
        kind = str(events[started[-1]].get("data", {}).get("restart", "cold")) if started else "unknown"
    chosen = events[starts[-1]:] if starts else events
    return s.Timeline(restart=kind, start=chosen[0]["time"] if chosen else None,
                      events=[s.Event.model_validate(e) for e in chosen])


def _event(e: Mapping[str, Any]) -> str:
    data = e.get("data")
    return str(data.get("event", "")) if isinstance(data, Mapping) else ""


# --- one session's capabilities ---------------------------------------------------------

def _names(families: Iterable[Family]) -> list[str]:
    return sorted(family_name(f) for f in families)


def negotiation(neg: Negotiated) -> s.Negotiation:
    """What both OPENs decided (``session.negotiate``), with who keeps whose routes."""
    fams = neg.families
    peer_helps = neg.peer_gr is not None and neg.local_gr is not None
    peer_llgr = neg.peer_llgr is not None and neg.local_llgr is not None
    return s.Negotiation(
        four_octet_as=neg.as4, families=_names(fams), route_refresh=neg.route_refresh,
        enhanced_route_refresh=neg.enhanced_route_refresh, extended_message=neg.extended_message,
        extended_next_hop=_names(neg.extended_next_hop), add_path_send=_names(neg.add_path_tx),
        add_path_receive=_names(neg.add_path_rx), notification=neg.notification_supported,
        gr_we_keep=_names(neg.gr_families),
        gr_peer_keeps=_names(fams & neg.local_gr.families) if peer_helps and neg.local_gr else [],
        llgr_we_keep=_names(neg.llgr_families),
        llgr_peer_keeps=_names(fams & neg.local_llgr.families) if peer_llgr and neg.local_llgr else [])


def session_view(peer: Peer) -> tuple[s.Capabilities, s.Capabilities | None, s.Negotiation | None]:
    """Our OPEN (as sent, else as it would go now), the peer's and the negotiation."""
    neg = peer.negotiated
    if neg is None:
        return open_capabilities(build_open(peer.session.config)), None, None
    return open_capabilities(neg.local_open), open_capabilities(neg.peer_open), negotiation(neg)
