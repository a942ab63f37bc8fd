"""One side's routes as the proxy saw them pass, and the UPDATEs that restore them.

The relay keeps one table for what the VM announced (replayed to a new control node when
the old one fails, RFC 4271 §9: the new node learns the VM's Adj-RIB-In from scratch) and
one per control node for what it sent the VM (compared after the new node's End-of-RIB,
RFC 4724 §2, so that only what the new node no longer has is withdrawn from the VM).

A table is family -> prefix key -> (attribute set, MP next hop); the next hop is ``()``
for IPv4 unicast carried in NLRI, so that replay uses the form the sender used (RFC 4271
§4.3 NLRI or RFC 4760 §3 MP_REACH_NLRI). Families whose NLRI are not prefixes (kept raw by
the codec) are passed on but not recorded. Also here: the next-hop rewrite towards the VM.
"""

from __future__ import annotations

from collections.abc import Iterator

from gracebgp.types import IPV4_UNICAST, Family, make_family
from gracebgp.wire import AttrSet, CodecContext, MpReach, NextHop, Update, UpdateAction, UpdateResult
from gracebgp.wire.iana import AttrType
from gracebgp.wire.update import pack_ipv4, pack_mp, pack_withdrawals

Entry = tuple[AttrSet, tuple[str, ...]]


class RouteTable:
    """Prefixes per family with the attributes they were last announced with."""

    __slots__ = ("families",)

    def __init__(self) -> None:
        self.families: dict[Family, dict[int, Entry]] = {}

    def count(self) -> int:
        return sum(len(t) for t in self.families.values())

    def count_of(self, family: Family) -> int:
        return len(self.families.get(family, ()))

    def copy(self) -> RouteTable:
        other = RouteTable()
        other.families = {f: dict(t) for f, t in self.families.items()}
        return other

    def union(self, other: RouteTable) -> RouteTable:
        """A new table with this one's routes and ``other``'s (``other`` wins a prefix)."""
        out = self.copy()
        for family, table in other.families.items():
            out._table(family).update(table)
        return out

    def _table(self, family: Family) -> dict[int, Entry]:
        table = self.families.get(family)
        if table is None:
            table = self.families[family] = {}
        return table

    def apply(self, result: UpdateResult) -> None:
        """Record one parsed UPDATE: RFC 7606 §2 treat-as-withdraw removes every prefix it
        carries; a session-reset UPDATE is never applied (the relay ends the session)."""
        update = result.update
        if update is None or result.action == UpdateAction.SESSION_RESET:
            return
        v4 = self._table(IPV4_UNICAST) if update.withdrawn or update.nlri else None
        if v4 is not None:
            for key in update.withdrawn:
                v4.pop(key, None)
        unreach = update.mp_unreach
        if unreach is not None and unreach.withdrawn:
            table = self._table(make_family(unreach.afi, unreach.safi))
            for key in unreach.withdrawn:
                table.pop(key, None)
        reach = update.mp_reach
        withdraw = result.action == UpdateAction.TREAT_AS_WITHDRAW
        if v4 is not None and update.nlri:
            if withdraw or update.attrs is None:
                for key in update.nlri:
                    v4.pop(key, None)
            else:
                entry: Entry = (update.attrs, ())
                for key in update.nlri:
                    v4[key] = entry
        if reach is not None and reach.nlri:
            table = self._table(make_family(reach.afi, reach.safi))
            if withdraw or update.attrs is None:
                for key in reach.nlri:
                    table.pop(key, None)
            else:
                entry = (update.attrs, reach.next_hop)
                for key in reach.nlri:
                    table[key] = entry

    def replay(self, ctx: CodecContext) -> Iterator[bytes]:
        """UPDATEs announcing every recorded route, grouped by attributes and next hop."""
        for family, table in self.families.items():
            groups: dict[Entry, list[int]] = {}
            for key, entry in table.items():
                groups.setdefault(entry, []).append(key)
            for (attrs, next_hop), keys in groups.items():
                if family == IPV4_UNICAST and not next_hop:
                    yield from pack_ipv4(attrs, keys, ctx)
                else:
                    yield from pack_mp(attrs, family, next_hop, keys, ctx)

    def missing_from(self, newer: RouteTable, family: Family) -> list[int]:
        """The prefixes of ``family`` this table has and ``newer`` has not."""
        mine = self.families.get(family, {})
        theirs = newer.families.get(family, {})
        return [key for key in mine if key not in theirs]


def withdrawals(family: Family, keys: list[int], ctx: CodecContext) -> list[bytes]:
    return pack_withdrawals(family, keys, ctx) if keys else []


def rewrite_next_hop(update: Update, ipv4: str | None, ipv6: str | None, as4: bool) -> Update:
    """The UPDATE with its next hops set to the gateway's address of the matching family
    (NEXT_HOP, RFC 4271 §5.1.3; MP_REACH_NLRI's next hop, RFC 4760 §3 / RFC 2545 §3); an
    address family without a configured gateway address keeps its next hop."""
    attrs = update.attrs
    if ipv4 is not None and attrs is not None and attrs.get(AttrType.NEXT_HOP) is not None:
        attrs = AttrSet(tuple(NextHop(ipv4, a.flags) if a.code == AttrType.NEXT_HOP else a
                              for a in attrs.attrs), as4=as4)
    reach = update.mp_reach
    if reach is not None and reach.next_hop:
        v6 = ":" in reach.next_hop[0]
        new = ipv6 if v6 else ipv4
        if new is not None:
            reach = MpReach(reach.afi, reach.safi, (new,), reach.nlri, reach.raw, reach.flags,
                            reach.addpath)
    if attrs is update.attrs and reach is update.mp_reach:
        return update
    return update._replace(attrs=attrs, mp_reach=reach)
