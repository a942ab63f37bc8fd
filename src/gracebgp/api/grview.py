"""Views of graceful restart for the API (pure, like ``api.service``): our restart and its
selection deferral, the peers whose routes we keep, and the timeline of the last restart
built from the event history (spec/graceful-restart.md sections 4 and 8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gracebgp.api import schema as s
from gracebgp.core.graceful import peer_views
from gracebgp.core.speaker import Speaker
from gracebgp.restart.helper import Phase
from gracebgp.session.state import State
from gracebgp.types import family_name

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
    for peer in speaker.peers.values():
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
