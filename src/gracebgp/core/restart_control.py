"""Restart control inside the Speaker (``RestartControl``, an object of its own handed a
narrow view of the speaker, ``RestartHost``): carries out the graceful-restart helper's
steps (``restart.helper``) on a peer's Adj-RIB-In and the Loc-RIB, runs selection deferral after
our own restart (``restart.restarting``), sends each peer's table with End-of-RIB once the
gate opens, and emits every transition of spec section 8 as a "restart" Notice with its
cause. The RFC 8326 drain is ``core.drain``.

RFC 4724 §4.1-§4.2, RFC 9494 §4.2-§4.3 and §4.6, spec sections 3-5 and 8.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from gracebgp.core import events as ev
from gracebgp.core.advertise import Outbound, advertise
from gracebgp.core.peer import Peer
from gracebgp.core.views import Emits, Peers
from gracebgp.restart.helper import REASONS, Action, Event, Step
from gracebgp.restart.restarting import Deferral, PeerView
from gracebgp.restart.shutdown import llgr_stale_attrs
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.path import PathTable
from gracebgp.session import events as se
from gracebgp.session.negotiate import Negotiated
from gracebgp.types import Family


def notice(sp: Emits, event: str, message: str, peer: Peer | None = None, **data: Any) -> None:
    """One spec-section-8 event: kind "restart", ``data["event"]`` names the transition."""
    text = f"peer {peer.address}: {message}" if peer is not None else message
    sp.emit(ev.Notice("restart", text, peer.address if peer is not None else None,
                      {"event": event, **data}))


def _why_deleted(down: se.SessionDown) -> str:
    """Why the way the session ended deletes routes a graceful restart would keep (RFC 4724
    §4, RFC 8538 §4); "" when it does not."""
    notes = [n for n in (down.sent, down.received) if n is not None]
    if not notes:
        return ""
    if any(n.is_hard_reset for n in notes):
        return "Hard Reset, RFC 8538"
    if not down.negotiated.notification_supported:
        return "a NOTIFICATION without the N bit of RFC 8538"
    return ""


#: Why stale routes go (restart.helper.REASONS), for the log.
_PURGED = {"End-of-RIB": "End-of-RIB: the peer did not re-advertise them",
           "restart timer": "restart timer: the peer did not come back in time",
           "stale-path timer": "stale-path timer: no End-of-RIB in time",
           "long-lived stale timer": "long-lived stale timer expired",
           "F=0 or capability missing": "the new session keeps no forwarding state for them (F=0 or "
                                        "no capability)",
           "consecutive restart": "the peer restarted again before its End-of-RIB"}


def set_restarting(peer: Peer, on: bool) -> None:
    cfg = peer.session.config
    gr = cfg.graceful_restart
    if gr is not None and gr.restarting != on:
        peer.session.reconfigure(replace(cfg, graceful_restart=replace(gr, restarting=on)))


def peer_views(sp: Peers) -> list[PeerView]:
    return [PeerView(p.address, not p.admin_down, p.settings.session.graceful_restart is not None,
                     p.negotiated, frozenset(p.eor_received), p.stats.established_count > 0,
                     frozenset(p.families()))
            for p in sp.peers.values()]


class TableSend:
    """The initial advertisement of one family to one peer, in progress: the Loc-RIB's
    keys when it began, sent ``Speaker.table_slice`` per owner step (issue 10 finding 4:
    a 1M-route table is seconds of work). Routes that change meanwhile go out with the
    normal flush; a key sent twice is sent once (AdjRibOut compares), except in a route
    refresh (``again``), which re-advertises every key once."""

    __slots__ = ("again", "eor", "eorr", "epoch", "keys", "pos", "rib_out")

    def __init__(self, rib_out: AdjRibOut, keys: list[int], eor: bool = True, again: bool = False,
                 eorr: bool = False) -> None:
        self.rib_out = rib_out
        self.epoch = rib_out.epoch  # (AdjRibOut.table_sent)
        self.keys = keys
        self.pos = 0
        self.eor = eor  # End-of-RIB after the last slice (not for a ROUTE-REFRESH answer)
        self.again = again  # a route refresh: send each key even when unchanged
        self.eorr = eorr  # RFC 7313 §4: EoRR after the last slice (its BoRR went before)


class RestartHost(Emits, Peers, Outbound, Protocol):
    """What restart control needs of the speaker: the peers, the Loc-RIBs and the path
    table, the outputs, how to send (``advertise``), and three settings."""

    @property
    def table(self) -> PathTable: ...

    @property
    def table_slice(self) -> int: ...  # keys of a table sent per owner step

    @property
    def stopping(self) -> bool: ...  # our own stop: no helper episodes

    @property
    def establish_wait(self) -> float: ...  # deferral: how long a peer may take to come up


class RestartControl:
    """The restart state of one Speaker, and the steps that change it: the helper's steps
    on each peer's tables, selection deferral after our restart (``deferral``; None when
    we did not restart), the initial tables going out (``sending``) and whether the
    restart-complete event is still due (``unannounced``). Each step that needs more
    than this state is handed a ``RestartHost`` view of the speaker (as holo-bgp hands its
    functions an ``InstanceUpView``), never the Speaker; none is kept, so no reference
    cycle holds a Speaker (its paths are freed by reference counting, ``rib.path``)."""

    def __init__(self) -> None:
        self.deferral: Deferral | None = None  # selection deferral after our restart
        self.sending: dict[tuple[str, Family], TableSend] = {}  # initial tables going out
        self.unannounced = False  # selection done, restart-complete waits for the tables

    def next_deadline(self) -> float | None:
        return self.deferral.next_deadline() if self.deferral is not None else None

    # --- helper (receiving speaker) ---------------------------------------------------------

    def session_down(self, sp: RestartHost, peer: Peer, down: se.SessionDown, what: str, now: float) -> None:
        """Spec section 3 "Mark": retain (stale), go LLGR-stale at once, or delete, per family."""
        neg, info = down.negotiated, peer.info
        if info is None:
            return
        # When we stop ourselves, the routes we held go with this process: no helper episode.
        steps = peer.gr.session_down(list(peer.adj_in), neg, down.graceful and not sp.stopping, now)
        notes = [n.unwrap().name() for n in (down.sent, down.received) if n is not None]
        notice(sp, "session-down", f"session down: {what}", peer, reason=what,
               notification=notes[0] if notes else None, retained=down.graceful)
        before = peer.route_count()
        kept: dict[str, int] = {}
        llgr = 0  # the longest LLGR stale time of the families kept
        for step in steps:
            self._apply(sp, peer, step, now)
            if step.action in (Action.MARK, Action.MARK_LLGR, Action.MARK_KEEP_LLGR):
                kept[str(step.family)] = len(peer.adj_in[step.family])
                llgr = max(llgr, peer.gr.llgr_times.get(step.family, 0))
        theirs, theirs_data = self._their_routes(sp, peer, down, before, kept, llgr)
        ours, ours_data = self._our_routes(sp, down)
        sp.log("info", f"session down: {what}; {theirs}" + (f"; {ours}" if ours else ""), peer, "session",
               "session-down", reason=what,
               notification_sent=down.sent.describe() if down.sent else None,
               notification_received=down.received.describe() if down.received else None,
               routes_from_peer=theirs_data, routes_to_peer=ours_data)
        if kept:
            total = sum(kept.values())
            if peer.stats.stale_since is None:  # a consecutive restart continues the episode
                peer.stats.stale_since = now
            peer.stats.gr_event("helper-started")
            time = peer.gr.restart_time
            notice(sp, "helper-started", f"graceful restart helper started: {total} routes kept stale for "
                   f"up to {time}s", peer, stale=kept, restart_time=time, reason=what)


    def _their_routes(self, sp: RestartHost, peer: Peer, down: se.SessionDown, before: int,
                      kept: dict[str, int], longest: int) -> tuple[str, dict[str, Any]]:
        """What happens to the routes the peer sent us, in words and as log fields."""
        if kept:
            total, time = sum(kept.values()), peer.gr.restart_time
            if time > 0:
                how = f"kept stale for up to {time}s" + (
                    f", then LLGR-stale for up to {longest}s" if longest else "")
            else:
                how = f"kept LLGR-stale for up to {longest}s"
            return (f"its {total} routes: {how} (we are its graceful restart helper)",
                    {"count": total, "fate": "kept-stale" if time > 0 else "llgr-stale", "seconds": time,
                     "llgr_seconds": longest})
        fate = "deleted"
        if sp.stopping:
            why, fate = "we are stopping", "dropped"
        elif down.graceful:  # to be retained, but its Restart Time is 0 and no LLGR stale time
            why = "its restart time is 0"
        elif not down.negotiated.graceful_families:
            why = "it did not ask us to keep them: no graceful restart for its families"
        else:
            why = _why_deleted(down) or "the session was reset"
        count = f"its {before} routes" if before else "its routes (none)"
        return f"{count}: {fate} ({why})", {"count": before, "fate": fate, "why": why}


    def _our_routes(self, sp: RestartHost, down: se.SessionDown) -> tuple[str, dict[str, Any] | None]:
        """What the peer does with our routes, by the same rules as ``session.retention.
        retain_routes`` with the roles swapped: our GR / LLGR capability, the peer's ability to
        help (its own GR capability), the NOTIFICATION sent or received and the N bit. Said
        when we ended the session (a NOTIFICATION sent, our stop) or the peer's NOTIFICATION
        deletes them; not when the peer went away or ended it the graceful-restart way: then
        whether it keeps anything depends on what it is doing ("", None)."""
        neg = down.negotiated
        if down.sent is None and not sp.stopping and (down.received is None or not _why_deleted(down)):
            return "", None
        ours, peer_gr = neg.local_gr, neg.peer_gr
        grace = ours.restart_time if ours is not None else 0
        gr_fams = (frozenset() if ours is None or peer_gr is None or grace == 0
                   else neg.families & ours.families)
        # RFC 9494 §4.1-§4.2: LLGR applies when both sides sent it (next to GR).
        llgr = neg.local_llgr if neg.peer_llgr is not None and peer_gr is not None else None
        llgr_times = {f: t for f, t in llgr.stale_times if t > 0 and f in neg.families} if llgr else {}
        longest = max(llgr_times.values(), default=0)
        covered = gr_fams | frozenset(llgr_times)
        if peer_gr is None:
            why = "it did not negotiate graceful restart"
        elif not covered:
            why = "our graceful restart capability asks it to keep none"
        else:
            why = _why_deleted(down)
        if why:
            return f"our routes: the peer deletes them ({why})", {"fate": "deleted", "why": why}
        if gr_fams:
            how = f"keeps them stale for up to {grace}s" + (f", then LLGR-stale for up to {longest}s"
                                                             if longest else "")
        else:
            how = f"keeps them LLGR-stale for up to {longest}s"
        only = "" if covered == neg.families else f" ({', '.join(sorted(str(f) for f in covered))} only)"
        return (f"our routes: the peer {how}{only} (graceful restart)",
                {"fate": "kept-stale" if gr_fams else "llgr-stale", "seconds": grace if gr_fams else 0,
                 "llgr_seconds": longest, "families": sorted(str(f) for f in covered)})


    def established(self, sp: RestartHost, peer: Peer, neg: Negotiated, now: float) -> None:
        """RFC 4724 §4.2 "Re-established": purge what the new session does not cover."""
        peer.eor_received.clear()
        notice(sp, "session-up", f"session up, peer R={int(bool(neg.peer_gr and neg.peer_gr.restart_state))}",
               peer, families=sorted(str(f) for f in neg.families),
               peer_gr=sorted(str(f) for f in neg.gr_families),
               peer_llgr=sorted(str(f) for f in neg.llgr_families),
               peer_restarting=bool(neg.peer_gr and neg.peer_gr.restart_state),
               notification=neg.notification_supported)
        for step in peer.gr.established(neg, now, peer.settings.stale_path_time):
            self._apply(sp, peer, step, now)


    def end_of_rib(self, sp: RestartHost, peer: Peer, family: Family, now: float) -> None:
        peer.eor_received.add(family)
        notice(sp, "eor-received", f"{family}: End-of-RIB received", peer, family=str(family))
        step = peer.gr.end_of_rib(family)
        if step is not None:
            self._apply(sp, peer, step, now)
        self.evaluate_deferral(sp, now)


    def timers(self, sp: RestartHost, now: float) -> None:
        """The helper's timers of every peer and the selection deferral's, when due."""
        for peer in sp.peers.values():
            due = peer.gr.next_deadline()
            if due is not None and due <= now:
                for step in peer.gr.timers(now):
                    self._apply(sp, peer, step, now)
        if self.deferral is not None:
            due = self.deferral.next_deadline()
            if due is not None and due <= now:
                self.evaluate_deferral(sp, now)


    def _apply(self, sp: RestartHost, peer: Peer, step: Step, now: float) -> None:
        """Carry out one helper step on the peer's tables (DESIGN.md rule 6 primitive)."""
        info, family = peer.info, step.family
        adj = peer.adj_in.get(family)
        if info is None or adj is None:
            return
        action = step.action
        if action in (Action.MARK, Action.MARK_LLGR, Action.MARK_KEEP_LLGR):
            # RFC 4724 §4.2: a consecutive restart sweeps what is still stale, except
            # LLGR-stale routes, which wait for their own timer (RFC 9494 §4.2).
            swept = adj.begin_refresh(sweep=action is not Action.MARK_KEEP_LLGR)
            if swept:
                self._purged(sp, peer, family, len(swept), "consecutive restart", now)
            if action is not Action.MARK:
                self._to_llgr(sp, peer, family, now)
        elif action is Action.DELETE:
            adj.clear()
            if step.event is Event.DOWN_DELETE and peer.negotiated is None:
                del peer.adj_in[family]
        elif action is Action.PURGE:
            gone = adj.end_refresh()
            self._purged(sp, peer, family, len(gone), REASONS.get(step.event, step.event.value), now)
        elif action is Action.TO_LLGR:
            self._to_llgr(sp, peer, family, now)


    def _to_llgr(self, sp: RestartHost, peer: Peer, family: Family, now: float) -> None:
        """RFC 9494 §4.2-§4.3: stale routes become LLGR-stale (LLGR_STALE attached, least
        preferred); those carrying NO_LLGR are deleted instead. They stay marked stale, so
        the peer's End-of-RIB still sweeps them when it comes back."""
        n, deleted = peer.adj_in[family].relabel_stale(
            lambda path: None if path.no_llgr else sp.table.get(llgr_stale_attrs(path.attrs), path.next_hop),
            now)
        until = peer.gr.llgr_deadlines.get(family)
        peer.stats.gr_event("llgr-entered")
        stale_time = peer.gr.llgr_times.get(family, 0)
        sp.log("info", f"{family}: restart time over, the peer is not back: {n} of its routes kept "
               "LLGR-stale "
               f"(least preferred) for up to {stale_time}s, {deleted} with NO_LLGR deleted", peer, "restart",
               "llgr-entered", family=str(family), llgr_stale=n, deleted=deleted, stale_time=stale_time)
        notice(sp, "llgr-entered", f"{family}: {n} routes LLGR-stale, {deleted} NO_LLGR routes deleted",
               peer, family=str(family), llgr_stale=n, deleted=deleted,
               stale_time=peer.gr.llgr_times.get(family, 0),
               expires_in=None if until is None else until - now)


    def _purged(self, sp: RestartHost, peer: Peer, family: Family, count: int, reason: str,
                now: float) -> None:
        st = peer.stats
        data: dict[str, Any] = {"family": str(family), "purged": count, "reason": reason}
        if st.stale_since is not None and not any(a.refreshing for a in peer.adj_in.values()):
            st.last_stale_duration = now - st.stale_since
            st.stale_since = None
            data["stale_seconds"] = round(st.last_stale_duration, 3)
        event = {"End-of-RIB": "eor-purged", "long-lived stale timer": "llgr-expired"}.get(reason,
                                                                                           "stale-purged")
        st.gr_event(event)
        sp.log("info", f"{family}: {count} stale routes of the peer deleted ({_PURGED.get(reason, reason)})",
               peer, "restart", event, **data)
        notice(sp, event, f"{family}: {count} stale routes purged ({reason})", peer, **data)

    # --- restarting speaker -----------------------------------------------------------------

    def begin_restart(self, sp: RestartHost, kind: str, detail: str, now: float) -> None:
        """We restarted (planned or not): R=1 in our OPENs and selection deferral (RFC 4724
        §4.1) for every peer with GR configured; nothing to do when no peer has GR."""
        gr_peers = [p for p in sp.peers.values()
                    if p.settings.session.graceful_restart is not None
                    and not p.settings.session.graceful_restart.helper_only]
        if not gr_peers:
            notice(sp, "restart-detected", f"{kind} restart ({detail}); no peer has graceful restart: "
                   "no deferral", kind=kind, detail=detail)
            sp.log("info", f"{kind} restart, but no peer has graceful restart: routes are selected and "
                   "sent as the sessions come up", None, "restart", "restart-detected", kind=kind,
                   detail=detail)
            return
        for p in gr_peers:
            set_restarting(p, True)
        deferral_time = max(p.settings.deferral_time for p in gr_peers)
        families = tuple(sorted({f for p in gr_peers for f in p.families()} & set(sp.loc)))
        self.deferral = Deferral(now, now + deferral_time, now + min(sp.establish_wait, deferral_time),
                                 families)
        notice(sp, "deferral-started", f"{kind} restart ({detail}): R=1 sent; route selection deferred for "
               f"{', '.join(str(f) for f in families)} until End-of-RIB from the peers or {deferral_time:g}s",
               kind=kind, detail=detail, families=[str(f) for f in families], deferral_time=deferral_time,
               establish_wait=min(sp.establish_wait, deferral_time))
        sp.log("info", f"{kind} restart: R=1 in our OPENs, the peers keep our routes stale meanwhile; route "
               f"selection deferred for {', '.join(str(f) for f in families)} until End-of-RIB from the "
               "peers "
               f"(at most {deferral_time:g}s)", None, "restart", "deferral-started", kind=kind,
               families=[str(f) for f in families], deferral_time=deferral_time)


    def gate_open(self, family: Family) -> bool:
        d = self.deferral
        return d is None or d.is_open(family)


    def evaluate_deferral(self, sp: RestartHost, now: float) -> None:
        d = self.deferral
        if d is None or d.done:
            return
        for family, why in d.evaluate(peer_views(sp), now):
            notice(sp, "selection-done", f"{family}: selection done after {now - d.started:.3f}s: {why}",
                   family=str(family), reason=why, after=round(now - d.started, 3))
            sp.log("info", f"{family}: selection done after {now - d.started:.3f}s ({why}): our routes and "
                   "End-of-RIB go to the peers, which then delete the stale routes we did not re-advertise",
                   None, "restart", "selection-done", family=str(family), reason=why,
                   after=round(now - d.started, 3))
            for peer in sp.peers.values():
                self.send_table(sp, peer, family, now)
        if d.done:
            for peer in sp.peers.values():
                set_restarting(peer, False)  # RFC 4724 §4.1: R only in the OPENs of the restart
            self.unannounced = True
            self._restart_complete(sp, now)


    def _restart_complete(self, sp: RestartHost, now: float) -> None:
        """Once every family is selected and every table with its End-of-RIB has gone out."""
        d = self.deferral
        if d is None or not self.unannounced or self.sending:
            return
        self.unannounced = False
        notice(sp, "restart-complete", f"restart complete after {now - d.started:.3f}s: every family "
               "selected, End-of-RIB sent", after=round(now - d.started, 3))
        sp.log("info", f"restart complete after {now - d.started:.3f}s: every family selected, our routes "
               "and "
               "End-of-RIB sent to every peer", None, "restart", "restart-complete",
               after=round(now - d.started, 3))


    def send_table(self, sp: RestartHost, peer: Peer, family: Family, now: float) -> None:
        """The initial advertisement of ``family`` to ``peer``: every best route, then
        End-of-RIB (RFC 4724 §2, §4.2). Locally originated routes are in the Loc-RIB, so
        they always precede the EoR (spec section 4). A table larger than one slice goes out
        over several owner steps (``advance_tables``), its EoR with the last."""
        self.send_routes(sp, peer, family, now, eor=True)


    def send_routes(self, sp: RestartHost, peer: Peer, family: Family, now: float, eor: bool,
                    again: bool = False, eorr: bool = False) -> None:
        """Every best route of ``family`` to ``peer`` in slices (the first one now); ``eor``:
        End-of-RIB after the last; ``again`` and ``eorr``: a route refresh (see TableSend).
        Starting again a table still going out keeps what it was to end with."""
        rib_out, neg = peer.adj_out.get(family), peer.negotiated
        if rib_out is None or neg is None or not self.gate_open(family):
            return
        old = self.sending.get((peer.address, family))
        if old is not None and old.rib_out is rib_out:
            eor, again, eorr = eor or old.eor, again or old.again, eorr or old.eorr
        self.sending[(peer.address, family)] = TableSend(rib_out, sp.loc[family].keys(), eor, again, eorr)
        self._send_slice(sp, peer.address, family, now)


    def advance_tables(self, sp: RestartHost, now: float) -> None:
        """One slice of every table being sent."""
        for address, family in list(self.sending):
            self._send_slice(sp, address, family, now)
        self._restart_complete(sp, now)


    def _send_slice(self, sp: RestartHost, address: str, family: Family, now: float) -> None:
        job = self.sending[(address, family)]
        peer = sp.peers.get(address)
        neg = peer.negotiated if peer is not None else None
        if peer is None or neg is None or peer.adj_out.get(family) is not job.rib_out:
            del self.sending[(address, family)]  # the session went down: a new one sends anew
            return
        rib_out, start, end = job.rib_out, job.pos, job.pos + max(1, sp.table_slice)
        job.pos = end
        done = end >= len(job.keys)
        if done:
            del self.sending[(address, family)]
        sent = advertise(sp, peer, family, rib_out, job.keys[start:end], now, again=job.again,
                         eor=done and job.eor, eorr=done and job.eorr)
        if done and sent:
            rib_out.table_sent(sp.loc[family], job.epoch)  # (in sync when no change is left unflushed)
        if done and job.eorr:
            sp.log("info", f"{family}: route refresh answered: {len(rib_out)} routes, then EoRR", peer, "rib",
                   "route-refresh-answered", family=str(family), routes=len(rib_out))
        if done and job.eor:
            notice(sp, "eor-sent", f"{family}: {len(rib_out)} routes and End-of-RIB sent", peer,
                   family=str(family), routes=len(rib_out))
