"""An export policy that does the same to every route of a route type, applied inside
the export rules (``export.export_path``) rather than after them; and the set forms of
the rules no policy may undo (``reassert``, ``with_next_hop``: ``attr_edit`` on a set),
for ``ExportFilter``, which runs a policy after the rules.

Issue 16 item 6: run after ``export_path``, such a policy costs a second attribute set
and Path per exported set (the rules' result, then the policy's) and an evaluation; run
inside it, its actions edit the list the rules are building and the result is encoded
once, as without policy. GoBGP's order is kept: the actions see the route as the peer
would get it (our AS prepended, next hop self on eBGP, the drain's and LLGR's communities
already in the list), and ``attr_edit.finish`` applies those communities again after
them, so the result is the one ``ExportFilter`` gives after the rules, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gracebgp.policy.actions import NextHopChoice, NextHopKind
from gracebgp.policy.definitions import MatchCounter
from gracebgp.policy.route import RouteType
from gracebgp.policy.static import Folded
from gracebgp.rib.attr_edit import ListDraft, keep_rules, put_next_hop
from gracebgp.rib.path import PeerInfo
from gracebgp.wire.attrset import AttrSet, intern_value
from gracebgp.wire.communities import Communities
from gracebgp.wire.iana import AttrType, WellKnownCommunity

_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)
_COMMUNITIES = int(AttrType.COMMUNITIES)
_LOCAL_PREF = int(AttrType.LOCAL_PREF)
_NEXT_HOP = int(AttrType.NEXT_HOP)


def route_type(source: PeerInfo) -> RouteType:
    """GoBGP's route-type of a route from ``source``: local, internal (iBGP), external."""
    if source.local:
        return RouteType.LOCAL
    return RouteType.INTERNAL if source.ibgp else RouteType.EXTERNAL


def reassert(before: AttrSet, after: AttrSet, external: bool) -> AttrSet:
    """``attr_edit.keep_rules`` on a policy's result ``after`` of ``before``: the one
    interned set (``after`` itself when they change nothing)."""
    if after is before:
        return after
    came_stale = _LLGR_STALE in before.communities
    if not (came_stale and _LLGR_STALE not in after.communities) and not (
            external and after.get(_LOCAL_PREF) is not None):
        return after  # (the usual: nothing to keep, no list made)
    draft = ListDraft.of(after)
    keep_rules(draft, came_stale, external)
    return intern_value(draft.attrset())


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
    """``attr_edit.put_next_hop`` on a set (not interned; ``attrs`` when unchanged)."""
    old = attrs.get(_NEXT_HOP)
    if old is None or old.address == next_hop[0]:
        return attrs
    draft = ListDraft.of(attrs)
    put_next_hop(draft, next_hop[0])
    return draft.attrset()


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
        """The policy over the export rules' attribute list (``out`` and its ``index``,
        type code -> position, edited in place) of a route from ``source`` whose Loc-RIB
        next hop is ``original``, as ``ExportFilter`` runs it after them on the finished
        set: its actions, then the rules no policy undoes (``keep_rules``), then its
        set-next-hop choice; returns the next hop. (The caller applies
        ``attr_edit.finish`` after it.)"""
        # (``route_type`` inlined: by_type is INTERNAL, EXTERNAL, LOCAL)
        folded = self.by_type[2 if source.index == 0 else 0 if source.ibgp else 1]
        if not folded.actions:
            return next_hop
        adds = folded.community_adds
        if adds is not None:  # (the usual policy, in one step: no rule to keep, no next hop)
            i = index.get(_COMMUNITIES)
            old = None if i is None else out[i]
            current = new = () if old is None else old.values
            for value in adds:
                if value not in new:
                    new = (*new, value)
            if new is not current:  # (as set-community add makes it: the flags it had)
                attr = Communities(new) if old is None else Communities(new, old.flags)
                if i is None:
                    index[_COMMUNITIES] = len(out)
                    out.append(attr)
                else:
                    out[i] = attr
            return next_hop
        draft = ListDraft(out, index)
        came_stale = _LLGR_STALE in draft.communities()
        for action in folded.actions:
            action.apply(draft)
        keep_rules(draft, came_stale, external)
        if draft.next_hop is not None:
            next_hop = choose_next_hop(draft.next_hop, next_hop, self.own, original)
            put_next_hop(draft, next_hop[0])
        draft.compact()
        return next_hop
