"""The restarting speaker: selection deferral per family after our own restart, and the
answer to "what are we waiting for?". RFC 4724 §4.1, RFC 9494 §4.1, spec section 4 and
problem 2 (never wait for an End-of-RIB the peer cannot send).

After a restart (R=1 in our OPENs), route selection for a family, and with it every
UPDATE and End-of-RIB we send in that family, waits until End-of-RIB has arrived from
every peer in the family's *wait set*, or until the Selection_Deferral_Timer fires:

* a peer Established now is in the wait set of a family when (a) the family is
  negotiated on its current session, (b) its GR capability lists the family, and (c) it
  did not set R itself (a restarting peer waits for us too; RFC 4724 §4.1);
* a configured, enabled peer with GR configured that has not been Established since our
  start is waited for only until ``establish_deadline`` (like FRR's establish-wait), so a
  dead neighbor never holds selection for the whole deferral time.

Gate per family: CLOSED (deferring) -> OPEN (selection done), once; it never closes again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gracebgp.session.negotiate import Negotiated
from gracebgp.types import Family


@dataclass(frozen=True, slots=True)
class PeerView:
    """What the deferral needs to know about one configured peer."""

    address: str
    enabled: bool
    gr_configured: bool
    negotiated: Negotiated | None  # None unless Established
    eor_received: frozenset[Family]  # on the current session
    ever_established: bool  # since our start
    families: frozenset[Family] | None = None  # configured for the peer; None: any


@dataclass(frozen=True, slots=True)
class Waiting:
    """One entry of a family's wait set, with the reason for an operator."""

    address: str
    reason: str  # "End-of-RIB" or "not Established yet"


def wait_set(family: Family, peers: Iterable[PeerView], now: float,
             establish_deadline: float) -> list[Waiting]:
    """Whom ``family``'s selection still waits for (spec section 4 (a)-(c))."""
    out: list[Waiting] = []
    for p in peers:
        neg = p.negotiated
        if neg is None:
            configured = p.families is None or family in p.families
            if p.enabled and p.gr_configured and not p.ever_established and configured \
                    and now < establish_deadline:
                out.append(Waiting(p.address, "not Established yet"))
            continue
        peer_gr = neg.peer_gr
        if (family in neg.families and peer_gr is not None and family in peer_gr.families
                and not peer_gr.restart_state and family not in p.eor_received):
            out.append(Waiting(p.address, "End-of-RIB"))
    return out


@dataclass(slots=True)
class Deferral:
    """Selection deferral after our restart, for the families we configured."""

    started: float
    deadline: float  # the Selection_Deferral_Timer
    establish_deadline: float
    families: tuple[Family, ...]
    opened: dict[Family, tuple[float, str]] = field(default_factory=dict)  # family -> (when, why)
    establish_passed: bool = False

    def is_open(self, family: Family) -> bool:
        return family in self.opened

    @property
    def done(self) -> bool:
        return all(f in self.opened for f in self.families)

    def next_deadline(self) -> float | None:
        if self.done:
            return None
        if not self.establish_passed:
            return min(self.deadline, self.establish_deadline)
        return self.deadline

    def evaluate(self, peers: Iterable[PeerView], now: float) -> list[tuple[Family, str]]:
        """Open every gate whose wait set is empty or whose timer fired; returns the
        families opened now, with the reason."""
        views = list(peers)
        if now >= self.establish_deadline:
            self.establish_passed = True
        opened: list[tuple[Family, str]] = []
        for family in self.families:
            if family in self.opened:
                continue
            if now >= self.deadline:
                why = "Selection_Deferral_Timer expired"
            elif not wait_set(family, views, now, self.establish_deadline):
                why = ("End-of-RIB received from every peer in the wait set"
                       if any(family in p.eor_received for p in views)
                       else "no peer owes an End-of-RIB (none negotiated GR for it, or all restarting)")
            else:
                continue
            self.opened[family] = (now, why)
            opened.append((family, why))
        return opened

    def status(self, peers: Iterable[PeerView], now: float) -> list[dict[str, object]]:
        """Per family: open or not, whom it waits for and why, which EoRs arrived, and when
        the deferral timer fires (seconds from now)."""
        views = list(peers)
        out: list[dict[str, object]] = []
        for family in self.families:
            when = self.opened.get(family)
            waiting = [] if when else wait_set(family, views, now, self.establish_deadline)
            out.append({
                "family": str(family),
                "deferring": when is None,
                "waiting_for": [{"peer": w.address, "reason": w.reason} for w in waiting],
                "eor_received_from": sorted(p.address for p in views if family in p.eor_received),
                "deferral_expires_in": None if when else round(max(0.0, self.deadline - now), 3),
                "selection_done_after": round(when[0] - self.started, 3) if when else None,
                "reason": when[1] if when else None,
            })
        return out
