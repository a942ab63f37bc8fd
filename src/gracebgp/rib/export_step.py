"""An export policy that does the same to every route of a route type, applied inside
the export rules (``export.export_path``) rather than after them, and the rules no policy
may undo (``reassert``), which both ways of running export policy share.

Issue 16 item 6: run after ``export_path``, such a policy costs a second attribute set
and Path per exported set (the rules' result, then the policy's) and an evaluation; run
inside it, its actions edit the set the rules are building and the result is encoded
once, as without policy. GoBGP's order is kept: the actions see the route as the peer
would get it (our AS prepended, next hop self on eBGP, the drain's and LLGR's communities),
and those communities are applied again after them (``export.finish_export``), so the
result is the one ``ExportFilter`` gives after the rules, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gracebgp.policy.actions import Draft, NextHopChoice, NextHopKind
from gracebgp.policy.definitions import MatchCounter
from gracebgp.policy.route import RouteType
from gracebgp.policy.static import Folded
from gracebgp.rib.path import PeerInfo
from gracebgp.wire.attributes import NextHop
from gracebgp.wire.attrset import AttrSet, intern_value
from gracebgp.wire.communities import Communities
from gracebgp.wire.iana import AttrType, WellKnownCommunity

_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)


def route_type(source: PeerInfo) -> RouteType:
    """GoBGP's route-type of a route from ``source``: local, internal (iBGP), external."""
    if source.local:
        return RouteType.LOCAL
    return RouteType.INTERNAL if source.ibgp else RouteType.EXTERNAL


def reassert(before: AttrSet, after: AttrSet, external: bool) -> AttrSet:
    """The rules no policy may undo, applied to a policy's result ``after`` of ``before``:

    1. RFC 9494 §4.3: a route that came in LLGR-stale keeps LLGR_STALE (selection and
       export treat it as stale; a policy that drops the community does not make it fresh).
    2. RFC 4271 §5.1.5: LOCAL_PREF is never sent to an external peer, even when set by policy.
    """
    if after is before:
        return after
    out = after
    if _LLGR_STALE in before.communities and _LLGR_STALE not in out.communities:
        kept = [a for a in out.attrs if a.code != AttrType.COMMUNITIES]
        kept.append(Communities((*out.communities, _LLGR_STALE)))
        kept.sort(key=lambda a: int(a.code))
        out = intern_value(AttrSet(kept))
    if external and out.get(AttrType.LOCAL_PREF) is not None:
        out = intern_value(AttrSet([a for a in out.attrs if a.code != AttrType.LOCAL_PREF]))
    return out


def choose_next_hop(choice: NextHopChoice | None, current: tuple[str, ...], own: tuple[str, ...],
                    original: tuple[str, ...]) -> tuple[str, ...]:
    """A set-next-hop choice applied to ``current``: an address; "self", our address on
    the session (``own``; none known: unchanged); "unchanged", the next hop the route had
    before export rewrote it (``original``, GoBGP's meaning).

    An address of the other family than the route's next hop is not applied: IPv4 unicast
    carries an IPv4 NEXT_HOP (RFC 4271 §5.1.3) and an IPv6 route an IPv6 next hop (RFC
    2545 §3); gracebgp does not send RFC 8950 extended next hops. ``--explain`` shows the
    action and the next hop left as it was."""
    if choice is None:
        return current
    if choice.kind is NextHopKind.ADDRESS:
        if current and (":" in choice.address) != (":" in current[0]):
            return current
        return (choice.address,)
    if choice.kind is NextHopKind.SELF:
        return own or current
    return original or current


def with_next_hop(attrs: AttrSet, next_hop: tuple[str, ...]) -> AttrSet:
    """IPv4 unicast carries its next hop in the NEXT_HOP attribute (RFC 4271 §5.1.3): a
    set that has one gets the new address; the set is not interned."""
    if attrs.get(AttrType.NEXT_HOP) is None or attrs.next_hop == next_hop[0]:
        return attrs
    kept = [a for a in attrs.attrs if a.code != AttrType.NEXT_HOP]
    kept.append(NextHop(next_hop[0]))
    kept.sort(key=lambda a: int(a.code))
    return AttrSet(kept)


class ListDraft(Draft):
    """A draft over the attribute list the export rules are building (``out``, with
    ``index``: type code -> position): actions edit it in place, no set is made for the
    rules' result. A removed attribute leaves None in ``out`` until ``compact``."""

    __slots__ = ("index", "out", "removed")

    def __init__(self, out: list[Any], index: dict[int, int]) -> None:  # (no base set)
        self.out = out
        self.index = index
        self.next_hop = None
        self.removed = False

    def get(self, code: int) -> Any:
        i = self.index.get(code)
        return None if i is None else self.out[i]

    def put(self, code: int, attr: Any) -> None:
        i = self.index.get(code)
        if attr is None:
            if i is not None:
                self.out[i] = None
                del self.index[code]
                self.removed = True
        elif i is None:
            self.index[code] = len(self.out)
            self.out.append(attr)
        else:
            self.out[i] = attr

    def compact(self) -> None:
        """Drop the removed attributes' places (``index`` follows)."""
        if self.removed:
            self.removed = False
            self.out[:] = [a for a in self.out if a is not None]
            self.index.clear()
            self.index.update((a.code, i) for i, a in enumerate(self.out))


@dataclass(frozen=True, slots=True)
class PolicyStep:
    """One peer's export policy folded per route type (``by_type``, indexed by
    ``RouteType - 1``), every one accepting; ``own``: our address on the session (what
    "self" gives). Equal steps export equally, so the step is part of the export class's
    memo slot (``adj_rib_out``)."""

    by_type: tuple[Folded, Folded, Folded]
    own: tuple[str, ...]

    def counters(self, source: PeerInfo) -> tuple[MatchCounter, ...]:
        """The counters of the statements every route from ``source`` matches."""
        return tuple(s.counter for s in self.by_type[route_type(source) - 1].matched)

    def edit(self, source: PeerInfo, out: list[Any], index: dict[int, int], next_hop: tuple[str, ...],
             original: tuple[str, ...], external: bool) -> tuple[str, ...]:
        """``apply`` on the export rules' attribute list before it becomes a set (``out``
        and its ``index``, edited in place), when no drain or LLGR community is added
        after the policy (their order would differ); returns the next hop. The same
        result as ``apply``: ``reassert``'s rules and the set-next-hop choice included (a
        policy that adds LLGR_STALE gets ``finish_export`` after this, in ``export_path``)."""
        # (``route_type`` inlined: by_type is INTERNAL, EXTERNAL, LOCAL)
        folded = self.by_type[2 if source.index == 0 else 0 if source.ibgp else 1]
        if not folded.actions:
            return next_hop
        adds = folded.community_adds
        if adds is not None:  # (communities added only: nothing for reassert or the next hop)
            i = index.get(AttrType.COMMUNITIES)
            old = None if i is None else out[i]
            current = new = () if old is None else old.values
            for value in adds:
                if value not in new:
                    new = (*new, value)
            if new is not current:
                attr = Communities(new) if old is None else Communities(new, old.flags)
                if i is None:
                    index[AttrType.COMMUNITIES] = len(out)
                    out.append(attr)
                else:
                    out[i] = attr
            return next_hop
        draft = ListDraft(out, index)
        before = draft.get(AttrType.COMMUNITIES)
        for action in folded.actions:
            action.apply(draft)
        # reassert, rule 1 (RFC 9494 §4.3) and rule 2 (RFC 4271 §5.1.5)
        if before is not None and _LLGR_STALE in before.values:
            now = draft.get(AttrType.COMMUNITIES)
            values = () if now is None else now.values
            if _LLGR_STALE not in values:
                draft.put(AttrType.COMMUNITIES, Communities((*values, _LLGR_STALE)))
        if external:
            draft.put(AttrType.LOCAL_PREF, None)
        if draft.next_hop is not None:
            chosen = choose_next_hop(draft.next_hop, next_hop, self.own, original)
            if chosen != next_hop:
                next_hop = chosen
                old = draft.get(AttrType.NEXT_HOP)
                if old is not None and old.address != chosen[0]:
                    draft.put(AttrType.NEXT_HOP, NextHop(chosen[0]))
        draft.compact()
        return next_hop

    def apply(self, source: PeerInfo, attrs: AttrSet, next_hop: tuple[str, ...],
              original: tuple[str, ...], external: bool) -> tuple[AttrSet, tuple[str, ...]]:
        """The policy over the export rules' result (``attrs``, ``next_hop``) of a route
        from ``source`` whose Loc-RIB next hop is ``original``; not interned."""
        after, choice = self.by_type[route_type(source) - 1].apply(attrs)
        if after is not attrs:
            after = reassert(attrs, after, external)
        if choice is not None:
            chosen = choose_next_hop(choice, next_hop, self.own, original)
            if chosen != next_hop:
                next_hop = chosen
                after = with_next_hop(after, next_hop)
        return after, next_hop
