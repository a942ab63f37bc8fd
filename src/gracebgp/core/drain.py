"""The RFC 8326 drain inside the Speaker (``DrainControl``, an object of its own handed a
narrow view of the speaker): the export policy of each peer in the speaker's
current state, the drain's phases (routes re-advertised with GRACEFUL_SHUTDOWN, then
withdrawn after a delay, or restored when it ends) and the timer between them.

RFC 8326 §4 (GRACEFUL_SHUTDOWN, LOCAL_PREF 0 towards iBGP), spec section 6; RFC 9494
§4.3 and §4.6 (LLGR-stale routes in the export policy).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from gracebgp.core.peer import Peer
from gracebgp.core.restart_control import RestartControl, RestartHost, notice
from gracebgp.rib.export import ExportPolicy
from gracebgp.types import Family


class DrainHost(RestartHost, Protocol):
    """What the drain needs of the speaker: what restart control needs to send the routes
    again, and one setting."""

    @property
    def llgr_ibgp(self) -> bool: ...  # LLGR-stale routes to iBGP peers without LLGR (RFC 9494 §4.6)


class DrainControl:
    """The drain state of one Speaker: the phase (None, "gshut" or "withdrawn"), when the
    withdrawal is due, and how many advertisements the withdrawal took away (restored
    when the drain is cancelled). Handed a ``DrainHost`` view of the speaker and the
    speaker's ``RestartControl`` (which sends the routes again); each step is handed the
    view, none is kept (no reference cycle holds a Speaker)."""

    def __init__(self, restart: RestartControl) -> None:
        self._restart = restart
        self.phase: str | None = None
        self.deadline: float | None = None
        self.withdrawn = 0

    def policy(self, sp: DrainHost, peer: Peer, family: Family) -> ExportPolicy:
        """The export policy of ``family`` towards ``peer`` in the speaker's current state."""
        base, neg = peer.policy, peer.negotiated
        assert base is not None
        llgr = neg is not None and family in neg.llgr_families and neg.local_llgr is not None
        return replace(base, llgr=llgr, llgr_ibgp=sp.llgr_ibgp, gshut=self.phase is not None,
                       withdraw_all=self.phase == "withdrawn")

    def set(self, sp: DrainHost, phase: str | None, now: float, delay: float = 0.0) -> int:
        """Enter a drain phase ("gshut", "withdrawn") or leave it (None); re-export every
        route to every peer, in table slices like a new session's table (issue 10 finding
        4: a 1M-route drain is seconds of work), without End-of-RIB. Returns how many route
        advertisements change: those in place (each is re-sent with or without
        GRACEFUL_SHUTDOWN, or withdrawn), or, when a drain ends after its withdrawal, the
        advertisements that withdrawal took away."""
        restart = self._restart
        restore = self.phase == "withdrawn" and phase is None
        self.phase = phase
        self.deadline = now + delay if phase == "gshut" else None
        changed = self.withdrawn if restore else 0
        for peer in sp.peers.values():
            if peer.negotiated is None:
                continue
            for family, rib_out in peer.adj_out.items():
                rib_out.repolicy(self.policy(sp, peer, family))
                if not restart.gate_open(family):
                    continue  # the deferral's end sends the table with this policy
                if not restore:
                    changed += len(rib_out)
                restart.send_routes(sp, peer, family, now, eor=False)
        self.withdrawn = changed if phase == "withdrawn" else 0
        what = {"gshut": f"drain: routes re-advertised with GRACEFUL_SHUTDOWN; withdrawal in {delay:g}s",
                "withdrawn": "drain: routes withdrawn from every peer",
                None: "drain ended: routes re-advertised"}
        said = {"gshut": f"drain: {changed} route advertisements re-sent with GRACEFUL_SHUTDOWN: peers "
                         f"that honour RFC 8326 prefer other paths, they still have ours; withdrawal in "
                         f"{delay:g}s",
                "withdrawn": f"drain: {changed} route advertisements withdrawn: the peers delete our routes; "
                             "the sessions stay up",
                None: f"drain ended: {changed} route advertisements re-sent without GRACEFUL_SHUTDOWN"}
        sp.log("info", said[phase], None, "restart", f"drain-{phase or 'ended'}", changed=changed,
               delay=delay)
        notice(sp, f"drain-{phase or 'ended'}", what[phase], changed=changed, delay=delay)
        return changed

    def timers(self, sp: DrainHost, now: float) -> None:
        """The drain's delay is over: withdraw (RFC 8326 §4, spec section 6)."""
        if self.deadline is not None and self.deadline <= now:
            self.deadline = None
            self.set(sp, "withdrawn", now)
