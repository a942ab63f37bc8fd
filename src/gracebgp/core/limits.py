"""Prefix limits: how many routes of a family a peer may send (GoBGP's
``[neighbors.afi-safis.prefix-limit.config]``), the warning past the threshold, and the
session closed and held down above the limit until ``restart-timer`` or the operator.

RFC 4271 §6.7 (a locally configured upper bound; above it the session is ended with a
Cease), RFC 4486 §4 (subcode 1, Maximum Number of Prefixes Reached, with AFI, SAFI and
the bound as data), RFC 8538 §5 (that subcode is always sent as a Hard Reset where N was
negotiated, so the peer deletes our routes rather than keep them stale).

What is counted: the routes of the family accepted into the peer's Adj-RIB-In on the
current session, after the import checks (an AS loop, RFC 4271 §9.1.2, is not accepted;
there is no import policy yet), one per path with ADD-PATH. Routes still stale from an
earlier session or a route refresh in progress count once the peer announces them again.
The count is read per UPDATE (``len`` of the table), never per prefix.

    Established --count > threshold--> warned (event "threshold-reached", health warning)
    Established --count > max-prefixes--> NOTIFICATION 6/1 (Hard Reset with N), routes
        deleted --> held down --restart-timer s / EnablePeer--> started again
    (threshold or limit 0: never; restart-timer 0: held until EnablePeer)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gracebgp.core import events as ev
from gracebgp.core.limitsettings import Limits, LimitState, PrefixLimitSettings, configured
from gracebgp.core.peer import Peer
from gracebgp.core.views import Emits, Peers
from gracebgp.restart.shutdown import CEASE_CLASSES, CeaseClass
from gracebgp.types import Family, family_name
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode, NotificationCode


class LimitHost(Emits, Peers, Protocol):
    """What the prefix limits need of the speaker."""

    def stop_peer(self, peer: Peer, note: Notification | None, why: str, now: float) -> None: ...


#: The ``reason`` of a peer held down by its limit (peers API ``held_down``).
HELD: Literal["prefix-limit"] = "prefix-limit"
__all__ = ["HELD", "LimitHost", "LimitState", "LimitView", "Limits", "PrefixLimitSettings", "check",
           "conditions", "configured", "deadlines", "due", "holding", "notification", "release", "views"]


def notification(family: Family, limit: int) -> Notification:
    """Cease / Maximum Number of Prefixes Reached, as sent to a peer that negotiated N.

    RFC 4486 §4, the Data field::

        +-------------------------------+
        | AFI (2 octets)                |
        +-------------------------------+
        | SAFI (1 octet)                |
        +-------------------------------+
        | Prefix upper bound (4 octets) |
        +-------------------------------+

    RFC 8538 §5 lists subcode 1 as "Hard Reset": it goes out wrapped (RFC 8538 §3: Cease /
    Hard Reset whose data is the inner code, subcode and data); the session sends the
    inner Cease alone to a peer without N (``Session._wire``)."""
    data = family.afi.to_bytes(2, "big") + family.safi.to_bytes(1, "big") + limit.to_bytes(4, "big")
    note = Notification(NotificationCode.CEASE, CeaseSubcode.MAX_PREFIXES_REACHED, data)
    return note.hard_reset() if CEASE_CLASSES[note.subcode] is CeaseClass.HARD else note


def accepted(peer: Peer, family: Family) -> int:
    """The routes that count against ``family``'s limit (see the module docstring)."""
    adj = peer.adj_in.get(family)
    return len(adj) - adj.stale_count if adj is not None else 0


def check(sp: LimitHost, peer: Peer, now: float) -> None:
    """After an UPDATE from ``peer`` (or a reload that changed its limits): warn past a
    threshold, close the session past a limit. O(families), whatever the UPDATE held."""
    if peer.negotiated is None:
        return
    state, session = peer.limit, peer.stats.established_count
    for family, lim in peer.settings.prefix_limits:
        count = accepted(peer, family)
        if count > lim.max_prefixes:
            _exceeded(sp, peer, family, count, lim, now)
            return
        threshold = lim.threshold
        if threshold is None:
            continue
        if count > threshold:
            if state.warned.get(family) != session:
                state.warned[family] = session
                _notice(sp, peer, "threshold-reached",
                        f"{family_name(family)}: {count} routes accepted, over {lim.threshold_pct}% of "
                        f"max-prefixes {lim.max_prefixes}", family, count, lim)
        else:
            state.warned.pop(family, None)


def _exceeded(sp: LimitHost, peer: Peer, family: Family, count: int, lim: PrefixLimitSettings,
              now: float) -> None:
    """RFC 4271 §6.7: above the bound, end the session with a Cease; hold it down."""
    state = peer.limit
    state.held, state.held_count = family, count
    state.restart_at = now + lim.restart_timer if lim.restart_timer > 0 else None
    state.exceeded[family] = state.exceeded.get(family, 0) + 1
    state.warned.clear()
    until = (f"held down for {lim.restart_timer:g}s (restart-timer)" if state.restart_at is not None
             else f"held down until `gracebgp neighbor {peer.address} enable`")
    what = (f"{family_name(family)}: {count} routes accepted, over max-prefixes {lim.max_prefixes}")
    sp.log("warning", f"prefix limit exceeded: {what}; closing the session with Cease/Maximum Number of "
           f"Prefixes Reached, {until}", peer, "rib", "limit-exceeded", family=family_name(family),
           count=count, max_prefixes=lim.max_prefixes)
    _notice(sp, peer, "limit-exceeded", f"{what}: session closed, {until}", family, count, lim,
            restart_in=lim.restart_timer if state.restart_at is not None else None)
    # The routes go with the session: a NOTIFICATION (a Hard Reset where N was negotiated)
    # never leaves them stale (session.retention.retain_routes, RFC 8538 §5).
    sp.stop_peer(peer, notification(family, lim.max_prefixes), f"prefix limit exceeded ({what})", now)


def _notice(sp: LimitHost, peer: Peer, event: str, message: str, family: Family, count: int,
            lim: PrefixLimitSettings, **extra: Any) -> None:
    sp.emit(ev.Notice("prefix-limit", f"peer {peer.address}: {message}", peer.address, {
        "event": event, "family": family_name(family), "accepted": count, "max_prefixes": lim.max_prefixes,
        "threshold": lim.threshold, **extra}))


# --- held down ------------------------------------------------------------------------

def holding(sp: LimitHost, peer: Peer) -> bool:
    """True (and logged) when ``peer`` must not be started: held down by its limit."""
    family = peer.limit.held
    if family is None:
        return False
    sp.log("info", f"held down after exceeding its {family_name(family)} prefix limit, not started", peer,
           "rib", "limit-held-down", family=family_name(family))
    return True


def release(sp: LimitHost, peer: Peer, why: str) -> bool:
    """End the hold (restart-timer, EnablePeer); False when there was none."""
    state = peer.limit
    family = state.held
    if family is None:
        return False
    state.held, state.restart_at = None, None
    sp.emit(ev.Notice("prefix-limit", f"peer {peer.address}: no longer held down ({why})", peer.address,
                      {"event": "released", "family": family_name(family), "reason": why}))
    return True


def deadlines(peers: Iterable[Peer]) -> list[float]:
    return [p.limit.restart_at for p in peers if p.limit.restart_at is not None]


def due(sp: LimitHost, now: float) -> Iterator[Peer]:
    """Peers whose restart-timer has run out: released, for the speaker to start."""
    for peer in list(sp.peers.values()):
        at = peer.limit.restart_at
        if at is not None and at <= now and release(sp, peer, "restart-timer expired"):
            yield peer


# --- views (API, metrics, health) ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LimitView:
    family: Family
    max_prefixes: int
    threshold: int | None
    accepted: int
    reached: bool  # over the threshold now, or held down for this family
    exceeded: int  # sessions closed for this family


def views(peer: Peer) -> list[LimitView]:
    state = peer.limit
    out = []
    for family, lim in peer.settings.prefix_limits:
        count = accepted(peer, family)
        threshold = lim.threshold
        over = threshold is not None and count > threshold
        out.append(LimitView(family, lim.max_prefixes, threshold, count, over or state.held == family,
                             state.exceeded.get(family, 0)))
    return out


def conditions(peer: Peer, now: float) -> list[tuple[str, Literal["warning", "error"], str, str]]:
    """Health conditions as (type, severity, reason, message)."""
    state = peer.limit
    out: list[tuple[str, Literal["warning", "error"], str, str]] = []
    if state.held is not None:
        lim = dict(peer.settings.prefix_limits).get(state.held)
        bound = f"max-prefixes {lim.max_prefixes}" if lim is not None else "its limit"
        when = (f"starts again in {max(0.0, state.restart_at - now):.0f}s (restart-timer)"
                if state.restart_at is not None else
                f"held down until `gracebgp neighbor {peer.address} enable`")
        out.append(("PrefixLimitExceeded", "error", "MaxPrefixesReached",
                    f"sent {state.held_count} {family_name(state.held)} routes, over {bound}: session "
                    f"closed with Cease/Maximum Number of Prefixes Reached; {when}"))
    for v in views(peer):
        if v.threshold is not None and v.accepted > v.threshold and state.held is None:
            out.append(("PrefixLimitThreshold", "warning", "ThresholdReached",
                        f"{v.accepted} {family_name(v.family)} routes accepted, over the warning threshold "
                        f"{v.threshold} of max-prefixes {v.max_prefixes}: one route over the limit closes "
                        "the session"))
    return out
