"""The receiving speaker (helper) of graceful restart and long-lived GR for one peer: per
family, what the end of a session, each timer, a new session and End-of-RIB do to the
peer's routes. RFC 4724 §4.2, RFC 9494 §4.2-§4.3, RFC 8538 §4, spec sections 3 and 5.

The decisions are a table; the Speaker carries out the actions on the Adj-RIB-In with the
one mark-and-sweep primitive (DESIGN.md rule 6)::

    (none) --down, GR period > 0----------> STALE      (MARK: begin_refresh)
    (none) --down, GR 0, LLGR time > 0-----> LLGR       (MARK_LLGR)
    (none) --down, not retained------------> (none)     (DELETE)
    STALE  --restart timer, LLGR time > 0--> LLGR       (TO_LLGR)
    STALE  --restart timer, no LLGR--------> (none)     (PURGE)
    LLGR   --long-lived stale timer--------> (none)     (PURGE)
    STALE/LLGR --new session, covered------> AWAIT_EOR  (stale-path timer starts)
    STALE/LLGR --new session, not covered--> (none)     (PURGE: no GR, no family, F=0)
    AWAIT_EOR --End-of-RIB / stale timer---> (none)     (PURGE)
    any    --down again, retained----------> STALE      (MARK: consecutive restart sweeps
                                                          what is still stale, §4.2)
    AWAIT_EOR --down again, LLGR timer running--> LLGR  (MARK_KEEP_LLGR: RFC 9494 §4.2, the
                                                          LLGR-stale routes are not deleted and
                                                          their timer is not restarted)
    AWAIT_EOR --LLGR timer (still running)--> (none)     (PURGE: RFC 9494 §4.2, the timer
                                                          runs on after re-establishment)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from gracebgp.session.negotiate import Negotiated
from gracebgp.types import Family


class Phase(Enum):
    STALE = "stale"  # GR: kept while the peer restarts
    LLGR = "llgr-stale"  # RFC 9494: kept, least preferred, tagged LLGR_STALE
    AWAIT_EOR = "await-eor"  # the peer is back; waiting for its End-of-RIB


class Event(Enum):
    DOWN_RETAIN = "down-retain"
    DOWN_LLGR = "down-llgr"
    DOWN_DELETE = "down-delete"
    DOWN_IN_LLGR = "down-in-llgr"  # down again before the EoR of an LLGR episode
    RESTART_TIMER = "restart-timer"
    RESTART_TIMER_LLGR = "restart-timer-llgr"
    LLGR_TIMER = "llgr-timer"
    UP_COVERED = "up-covered"
    UP_NOT_COVERED = "up-not-covered"
    EOR = "eor"
    STALE_TIMER = "stale-timer"


class Action(Enum):
    NONE = "none"
    MARK = "mark"  # begin_refresh (sweeping what a previous restart left stale)
    MARK_LLGR = "mark-llgr"  # begin_refresh, then straight to LLGR-stale
    MARK_KEEP_LLGR = "mark-keep-llgr"  # mark without sweeping, then LLGR-stale
    DELETE = "delete"  # forget every route of the family now
    PURGE = "purge"  # end_refresh: what is still stale goes
    TO_LLGR = "to-llgr"  # stale routes become LLGR-stale (NO_LLGR ones are deleted)


#: Why a purge happened, for the events of spec section 8.
REASONS = {Event.EOR: "End-of-RIB", Event.RESTART_TIMER: "restart timer",
           Event.STALE_TIMER: "stale-path timer", Event.LLGR_TIMER: "long-lived stale timer",
           Event.UP_NOT_COVERED: "F=0 or capability missing", Event.DOWN_DELETE: "session reset"}

_ANY: tuple[Phase | None, ...] = (None, Phase.STALE, Phase.LLGR, Phase.AWAIT_EOR)
_AWAY = (Phase.STALE, Phase.LLGR)

TABLE: dict[tuple[Phase | None, Event], tuple[Phase | None, Action]] = {
    **{(p, Event.DOWN_RETAIN): (Phase.STALE, Action.MARK) for p in _ANY},
    **{(p, Event.DOWN_LLGR): (Phase.LLGR, Action.MARK_LLGR) for p in _ANY},
    **{(p, Event.DOWN_DELETE): (None, Action.DELETE) for p in _ANY},
    (Phase.STALE, Event.RESTART_TIMER): (None, Action.PURGE),
    (Phase.STALE, Event.RESTART_TIMER_LLGR): (Phase.LLGR, Action.TO_LLGR),
    (Phase.LLGR, Event.LLGR_TIMER): (None, Action.PURGE),
    (Phase.AWAIT_EOR, Event.LLGR_TIMER): (None, Action.PURGE),
    (Phase.AWAIT_EOR, Event.DOWN_IN_LLGR): (Phase.LLGR, Action.MARK_KEEP_LLGR),
    **{(p, Event.UP_COVERED): (Phase.AWAIT_EOR, Action.NONE) for p in _AWAY},
    **{(p, Event.UP_NOT_COVERED): (None, Action.PURGE) for p in _AWAY},
    (Phase.AWAIT_EOR, Event.EOR): (None, Action.PURGE),
    (Phase.AWAIT_EOR, Event.STALE_TIMER): (None, Action.PURGE),
}
"""(phase, event) -> (next phase, action). A pair not listed changes nothing."""


@dataclass(frozen=True, slots=True)
class Step:
    family: Family
    event: Event
    action: Action
    phase: Phase | None  # after the step


@dataclass(slots=True)
class GrHelper:
    """Helper state for one peer: the phase of each family and the three kinds of timer."""

    phases: dict[Family, Phase] = field(default_factory=dict)
    restart_deadline: float | None = None  # RFC 4724 §4.2 restart timer (peer away)
    stale_deadline: float | None = None  # local stale-path timer (peer back, no EoR yet)
    llgr_deadlines: dict[Family, float] = field(default_factory=dict)  # RFC 9494 §4.2
    llgr_times: dict[Family, int] = field(default_factory=dict)  # from the last session
    restart_time: int = 0

    # --- queries ---------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return bool(self.phases)

    def next_deadline(self) -> float | None:
        times = [t for t in (self.restart_deadline, self.stale_deadline) if t is not None]
        times += self.llgr_deadlines.values()
        return min(times, default=None)

    def waiting_for_eor(self) -> list[Family]:
        return sorted(f for f, p in self.phases.items() if p is Phase.AWAIT_EOR)

    # --- events ------------------------------------------------------------------------
    def step(self, family: Family, event: Event) -> Step | None:
        """Apply TABLE to ``event`` for ``family``: the phase moves and the Step says what
        to do; None (nothing changes) where the table has no entry."""
        hit = TABLE.get((self.phases.get(family), event))
        if hit is None:
            return None
        phase, action = hit
        if phase is None:
            self.phases.pop(family, None)
        else:
            self.phases[family] = phase
        if phase is None or phase is Phase.STALE:
            self.llgr_deadlines.pop(family, None)  # RFC 9494 §4.2: kept until EoR or expiry
        return Step(family, event, action, phase)

    def session_down(self, families: Iterable[Family], neg: Negotiated, retained: bool,
                     now: float) -> list[Step]:
        """The session ended. ``retained`` is the RFC 4724 §4 / RFC 8538 §4 verdict
        (``session.retention.retain_routes``). Per family (RFC 9494 §4.2): a GR period (the
        Restart Time, for families in the GR capability) keeps it STALE; without one, a
        Long-lived Stale Time makes it LLGR-stale at once; otherwise it is deleted.
        LLGR is used only when both sides advertised it."""
        gr_time = neg.peer_gr.restart_time if neg.peer_gr is not None else 0
        llgr_on = neg.local_llgr is not None and neg.peer_llgr is not None
        steps: list[Step] = []
        self.restart_deadline = self.stale_deadline = None
        self.restart_time = gr_time
        for family in sorted(families):
            llgr = (neg.peer_llgr.stale_time(family) or 0) if llgr_on and neg.peer_llgr else 0
            self.llgr_times[family] = llgr if family in neg.llgr_families else 0
            grace = gr_time if family in neg.gr_families else 0
            if retained and family in self.llgr_deadlines and self.phases.get(family) is Phase.AWAIT_EOR:
                event = Event.DOWN_IN_LLGR  # RFC 9494 §4.2: the running LLGR timer is kept
            elif retained and grace > 0:
                event = Event.DOWN_RETAIN
            elif retained and self.llgr_times[family] > 0:
                event = Event.DOWN_LLGR
            else:
                event = Event.DOWN_DELETE
            step = self.step(family, event)
            if step is not None:
                steps.append(step)
                if step.phase is Phase.LLGR and family not in self.llgr_deadlines:
                    self.llgr_deadlines[family] = now + self.llgr_times[family]
        if any(p is Phase.STALE for p in self.phases.values()):
            self.restart_deadline = now + gr_time
        return steps

    def established(self, neg: Negotiated, now: float, stale_path_time: float) -> list[Step]:
        """RFC 4724 §4.2: the peer is back. Families it no longer covers (no GR capability,
        family not negotiated or not listed, F=0; RFC 9494 §4.2 likewise for LLGR) are
        purged now; the others wait for End-of-RIB, bounded by the stale-path timer."""
        self.restart_deadline = None
        steps: list[Step] = []
        for family in sorted(self.phases):
            covered = family in neg.families and _forwarding_kept(neg, family, self.phases[family])
            step = self.step(family, Event.UP_COVERED if covered else Event.UP_NOT_COVERED)
            if step is not None:
                steps.append(step)
        self.stale_deadline = now + stale_path_time if self.waiting_for_eor() else None
        return steps

    def end_of_rib(self, family: Family) -> Step | None:
        step = self.step(family, Event.EOR)
        if not self.waiting_for_eor():
            self.stale_deadline = None
        return step

    def timers(self, now: float) -> list[Step]:
        steps: list[Step] = []
        if self.restart_deadline is not None and self.restart_deadline <= now:
            self.restart_deadline = None
            for family in sorted(f for f, p in self.phases.items() if p is Phase.STALE):
                llgr = self.llgr_times.get(family, 0)
                step = self.step(family, Event.RESTART_TIMER_LLGR if llgr > 0 else Event.RESTART_TIMER)
                if step is not None:
                    steps.append(step)
                    if step.phase is Phase.LLGR:
                        self.llgr_deadlines[family] = now + llgr
        for family, due in sorted(self.llgr_deadlines.items()):
            if due <= now:
                step = self.step(family, Event.LLGR_TIMER)
                if step is not None:
                    steps.append(step)
        if self.stale_deadline is not None and self.stale_deadline <= now:
            self.stale_deadline = None
            for family in self.waiting_for_eor():
                step = self.step(family, Event.STALE_TIMER)
                if step is not None:
                    steps.append(step)
        return steps

    def forget(self) -> None:
        """The peer was deleted or reset hard: no episode any more."""
        self.phases.clear()
        self.llgr_deadlines.clear()
        self.restart_deadline = self.stale_deadline = None


def _forwarding_kept(neg: Negotiated, family: Family, phase: Phase) -> bool:
    """Does the new OPEN still cover ``family``? In the GR period (RFC 4724 §4.2): its GR
    capability lists the family with F=1. In the LLGR period (RFC 9494 §4.2): its LLGR
    capability does, and we advertised LLGR too."""
    if phase is Phase.LLGR:
        return (neg.peer_llgr is not None and neg.local_llgr is not None
                and family in neg.llgr_families and family in neg.peer_llgr.forwarding)
    return neg.peer_gr is not None and family in neg.peer_gr.forwarding
