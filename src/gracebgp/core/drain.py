"""The RFC 8326 drain inside the Speaker: the export policy of each peer in the speaker's
current state, the drain's phases (routes re-advertised with GRACEFUL_SHUTDOWN, then
withdrawn after a delay, or restored when it ends) and the timer between them.

RFC 8326 §4 (GRACEFUL_SHUTDOWN, LOCAL_PREF 0 towards iBGP), spec section 6; RFC 9494
§4.3 and §4.6 (LLGR-stale routes in the export policy).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from gracebgp.core.restart_control import gate_open, notice, send_routes
from gracebgp.rib.export import ExportPolicy
from gracebgp.types import Family

if TYPE_CHECKING:
    from gracebgp.core.peer import Peer
    from gracebgp.core.speaker import Speaker


def policy(sp: Speaker, peer: Peer, family: Family) -> ExportPolicy:
    """The export policy of ``family`` towards ``peer`` in the speaker's current state."""
    base, neg = peer.policy, peer.negotiated
    assert base is not None
    return replace(base, llgr=neg is not None and family in neg.llgr_families and neg.local_llgr is not None,
                   llgr_ibgp=sp.llgr_ibgp, gshut=sp.drain is not None, withdraw_all=sp.drain == "withdrawn")


def set_drain(sp: Speaker, phase: str | None, now: float, delay: float = 0.0) -> int:
    """Enter a drain phase ("gshut", "withdrawn") or leave it (None); re-export every
    route to every peer, in table slices like a new session's table (issue 10 finding
    4: a 1M-route drain is seconds of work), without End-of-RIB. Returns how many route
    advertisements change: those in place (each is re-sent with or without
    GRACEFUL_SHUTDOWN, or withdrawn), or, when a drain ends after its withdrawal, the
    advertisements that withdrawal took away."""
    restore = sp.drain == "withdrawn" and phase is None
    sp.drain = phase
    sp.drain_deadline = now + delay if phase == "gshut" else None
    changed = sp.drain_withdrawn if restore else 0
    for peer in sp.peers.values():
        if peer.negotiated is None:
            continue
        for family, rib_out in peer.adj_out.items():
            rib_out.repolicy(policy(sp, peer, family))
            if not gate_open(sp, family):
                continue  # the deferral's end sends the table with this policy
            if not restore:
                changed += len(rib_out)
            send_routes(sp, peer, family, now, eor=False)
    sp.drain_withdrawn = changed if phase == "withdrawn" else 0
    what = {"gshut": f"drain: routes re-advertised with GRACEFUL_SHUTDOWN; withdrawal in {delay:g}s",
            "withdrawn": "drain: routes withdrawn from every peer", None: "drain ended: routes re-advertised"}
    said = {"gshut": f"drain: {changed} route advertisements re-sent with GRACEFUL_SHUTDOWN: peers that "
                     f"honour RFC 8326 prefer other paths, they still have ours; withdrawal in {delay:g}s",
            "withdrawn": f"drain: {changed} route advertisements withdrawn: the peers delete our routes; the "
                         "sessions stay up",
            None: f"drain ended: {changed} route advertisements re-sent without GRACEFUL_SHUTDOWN"}
    sp.log("info", said[phase], None, "restart", f"drain-{phase or 'ended'}", changed=changed, delay=delay)
    notice(sp, f"drain-{phase or 'ended'}", what[phase], changed=changed, delay=delay)
    return changed


def timers(sp: Speaker, now: float) -> None:
    """The drain's delay is over: withdraw (RFC 8326 §4, spec section 6)."""
    if sp.drain_deadline is not None and sp.drain_deadline <= now:
        sp.drain_deadline = None
        set_drain(sp, "withdrawn", now)
