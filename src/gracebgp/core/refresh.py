"""Route refresh inside the Speaker, both ways: answering a peer's ROUTE-REFRESH (RFC 2918
§4) and, with Enhanced Route Refresh (RFC 7313 §4), framing the answer with BoRR and EoRR
and marking and sweeping the routes of a peer that refreshes us.

Sending (the peer asked, or soft reset out)::

    ROUTE-REFRESH(0) --> BoRR --> the Adj-RIB-Out again, in table slices --> EoRR
                         (only with ERR; never before our End-of-RIB of the family)

Receiving (with ERR)::

    BoRR --> begin_refresh: every route of the family stale --> UPDATEs unmark
    EoRR --> end_refresh: what is still stale is removed
    no EoRR within stale-routes-time --> removed as well (RFC 7313 §4 "upper bound")

The marks are the Adj-RIB-In's single mark-and-sweep primitive (DESIGN.md rule 6); the
graceful-restart helper uses the same one, so the two are kept apart: a BoRR before the
peer's End-of-RIB is ignored when the peer sent the GR capability (RFC 7313 §4), and a
session that goes down in the middle of a refresh drops its marks before GR marks every
route (``session_down``).
"""

from __future__ import annotations

from typing import Protocol

from gracebgp.core.peer import Peer
from gracebgp.core.restart_control import RestartControl, RestartHost
from gracebgp.session.events import RouteRefreshReceived
from gracebgp.types import Family, make_family
from gracebgp.wire.iana import RouteRefreshSubtype
from gracebgp.wire.messages import RouteRefresh

RR = RouteRefreshSubtype


class RefreshHost(RestartHost, Protocol):
    """What route refresh needs of the speaker: what restart control needs (it sends the
    answers, in table slices), the refreshes in progress and the restart control."""

    @property
    def refreshing(self) -> dict[tuple[str, Family], float]: ...  # a peer's BoRR..EoRR: deadline

    @property
    def restart_control(self) -> RestartControl: ...


def received(sp: RefreshHost, peer: Peer, fact: RouteRefreshReceived, now: float) -> None:
    """A ROUTE-REFRESH from ``peer``: carry it out by subtype, or log why it is ignored."""
    msg = fact.message
    name = ("ROUTE-REFRESH", "BoRR", "EoRR")[msg.subtype] if msg.subtype <= RR.EORR else "ROUTE-REFRESH"
    if fact.ignored:
        sp.log("warning", f"{name} AFI {msg.afi} SAFI {msg.safi} subtype {msg.subtype} ignored: "
               f"{fact.ignored}", peer, "rib", "route-refresh-ignored", reason=fact.ignored)
        return
    family = make_family(msg.afi, msg.safi)
    if msg.subtype == RR.BORR:
        _begin(sp, peer, family, now)
    elif msg.subtype == RR.EORR:
        _end(sp, peer, family, now)
    else:
        answer(sp, peer, family, now)


# --- sending ----------------------------------------------------------------------------

def answer(sp: RefreshHost, peer: Peer, family: Family, now: float) -> None:
    """Send our Adj-RIB-Out of ``family`` again (RFC 2918 §4; soft reset out), in table
    slices; with Enhanced Route Refresh between BoRR and EoRR (RFC 7313 §4)."""
    rib_out, neg = peer.adj_out.get(family), peer.negotiated
    if rib_out is None or neg is None or not sp.restart_control.gate_open(family):
        return  # selection deferred: the table goes out with End-of-RIB when it is done
    job = sp.restart_control.sending.get((peer.address, family))
    if job is not None and job.rib_out is rib_out and job.eor:
        # The initial table is still going out: it answers the request, with End-of-RIB;
        # RFC 7313 §4: "MUST NOT send a BoRR ... before it sends the EoR".
        return
    enhanced = neg.enhanced_route_refresh
    if enhanced and (job is None or job.rib_out is not rib_out or not job.eorr):
        # A refresh already between its BoRR and EoRR starts over without a second BoRR.
        sp.send(peer, RouteRefresh(family.afi, family.safi, RR.BORR).encode(), now)
        sp.log("info", f"{family}: route refresh: BoRR sent, re-advertising {len(rib_out)} routes", peer,
               "rib", "route-refresh-started", family=str(family), routes=len(rib_out))
    sp.restart_control.send_routes(sp, peer, family, now, eor=False, again=True, eorr=enhanced)


# --- receiving ----------------------------------------------------------------------------

def _begin(sp: RefreshHost, peer: Peer, family: Family, now: float) -> None:
    """RFC 7313 §4 BoRR: "it MUST mark all the routes with the given <AFI, SAFI> from
    that peer as stale"."""
    adj, neg, key = peer.adj_in.get(family), peer.negotiated, (peer.address, family)
    if adj is None or neg is None:
        return
    if neg.peer_gr is not None and family not in peer.eor_received:
        # RFC 7313 §4: "MUST ignore any BoRRs ... before the speaker receives the EoR".
        sp.log("warning", f"{family}: BoRR before the peer's End-of-RIB ignored (RFC 7313 §4)", peer, "rib",
               "borr-ignored", family=str(family))
        return
    if adj.refreshing and key not in sp.refreshing:
        sp.log("warning", f"{family}: BoRR ignored: the routes are stale for graceful restart", peer, "rib",
               "borr-ignored", family=str(family))
        return
    again = key in sp.refreshing  # a second BoRR: everything must come again
    adj.begin_refresh(sweep=False)
    bound = peer.settings.stale_path_time
    sp.refreshing[key] = now + bound
    sp.log("info", f"{family}: BoRR received: {len(adj)} routes marked stale until EoRR (at most "
           f"{bound:g}s){' again' if again else ''}", peer, "rib", "borr-received", family=str(family),
           routes=len(adj))


def _end(sp: RefreshHost, peer: Peer, family: Family, now: float) -> None:
    """RFC 7313 §4 EoRR: "it MUST immediately remove any routes from the peer that are
    still marked as stale"; one without a BoRR "MAY" be ignored, and is."""
    if sp.refreshing.pop((peer.address, family), None) is None:
        sp.log("warning", f"{family}: EoRR without a BoRR ignored (RFC 7313 §4)", peer, "rib", "eorr-ignored",
               family=str(family))
        return
    _sweep(sp, peer, family, "EoRR received")


def _sweep(sp: RefreshHost, peer: Peer, family: Family, why: str) -> None:
    adj, info = peer.adj_in.get(family), peer.info
    if adj is None or info is None:
        return
    gone = adj.end_refresh()
    sp.log("info", f"{family}: {why}: {len(gone)} routes the peer did not re-advertise removed", peer, "rib",
           "route-refresh-done", family=str(family), removed=len(gone), reason=why)


def timers(sp: RefreshHost, now: float) -> None:
    """RFC 7313 §4: "MAY remove any routes ... still marked as stale ... without waiting
    for an EoRR message" once the local upper bound (stale-routes-time) is reached."""
    for (address, family), due in list(sp.refreshing.items()):
        if due > now:
            continue
        del sp.refreshing[(address, family)]
        peer = sp.peers.get(address)
        if peer is not None:
            _sweep(sp, peer, family, f"no EoRR within {peer.settings.stale_path_time:g}s")


def session_down(sp: RefreshHost, peer: Peer) -> None:
    """The session of a refresh in progress went down: its marks are dropped (not swept),
    so that graceful restart retains and marks every route (RFC 4724 §4.2)."""
    for address, family in [k for k in sp.refreshing if k[0] == peer.address]:
        del sp.refreshing[(address, family)]
        adj = peer.adj_in.get(family)
        if adj is not None:
            adj.abandon_refresh()
