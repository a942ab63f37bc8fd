"""Issue 10 finding 6: interned attribute sets and Paths are shared while routes use them
and released when none does. An export is kept as its encoding (``Exported``, issue 14):
in no intern table, one per source path and export class (the memo on the source path),
so exporting the same path again gives the same object."""

from __future__ import annotations

import gc
from dataclasses import replace

from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.export import ExportPolicy, export_path
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Exported, PathTable, PeerInfo, live_paths
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import AsPath, AttrSet, CodecContext, Communities, NextHop, Origin, parse_update
from gracebgp.wire.attrset import intern_derived, interned_count
from gracebgp.wire.nlri import parse_prefix
from gracebgp.wire.update import pack_ipv4

from .helpers import EBGP_A, EBGP_B, LOCAL

CTX = CodecContext()
V4 = IPV4_UNICAST


def policy(peer: PeerInfo) -> ExportPolicy:
    return ExportPolicy(peer, 65000, "10.0.0.100", next_hop_v4="192.0.2.100")


def key(i: int) -> int:
    return parse_prefix(f"10.{i >> 8}.{i & 255}.0/24")[1]


def received(i: int, table: PathTable) -> object:
    """The Path of a decoded UPDATE, as the speaker makes it (block-interned AttrSet)."""
    attrs = AttrSet([Origin(0), AsPath(((2, (65001, 1000 + i)),)), NextHop("192.0.2.1"),
                     Communities((65001 << 16 | i,))])
    (message,) = pack_ipv4(attrs, [key(i)], CTX)
    result = parse_update(message[19:], CTX)
    assert result.update is not None and result.update.attrs is not None
    return table.get(result.update.attrs, ("192.0.2.1",))


def settle() -> tuple[int, int, int]:
    """Paths alive, sets interned, exports alive."""
    gc.collect()
    return live_paths(), interned_count(), sum(1 for o in gc.get_objects() if o.__class__ is Exported)


def test_an_export_is_its_encoding_and_equal_exports_are_the_same() -> None:
    table = PathTable()
    src = received(1, table)
    base = settle()
    first = export_path(EBGP_A, src, policy(EBGP_B), V4, table)  # type: ignore[arg-type]
    again = export_path(EBGP_A, src, policy(EBGP_B), V4, table)  # type: ignore[arg-type]
    assert isinstance(first, Exported) and isinstance(again, Exported) and first.same(again)
    assert settle() == (base[0], base[1], base[2] + 2)  # no Path, no interned set
    # Its attributes are the block decoded: what an AttrSet of them encodes to.
    assert first.attrs.as_path == ((2, (65000, 65001, 1001)),) and first.next_hop == ("192.0.2.100",)
    assert AttrSet(first.attrs.attrs).wire(True) == first.block
    assert intern_derived(AttrSet(first.attrs.attrs)).wire(True) == first.block


def test_a_reestablished_peer_gets_the_identical_exported_path() -> None:
    table = PathTable()
    loc = LocRib()
    src = received(2, table)
    loc.offer(EBGP_A, [key(2)], src)  # type: ignore[arg-type]
    base = settle()
    out = AdjRibOut(V4, policy(EBGP_B), table)
    out.consider_all(loc)
    out.flush(CTX)
    sent = out.advertised[key(2)]
    grown = settle()
    assert grown == (base[0], base[1], base[2] + 1)  # one export, kept as its encoding
    for _ in range(50):  # the session flaps: a new Adj-RIB-Out with an equal policy
        out = AdjRibOut(V4, replace(policy(EBGP_B)), table)
        out.consider_all(loc)
        out.flush(CTX)
        assert out.advertised[key(2)] is sent
    assert settle() == grown
    # Another peer whose export is the same content shares the object too.
    other = AdjRibOut(V4, policy(replace(EBGP_B, index=7, address="192.0.2.7")), table)
    other.consider_all(loc)
    assert other.pending[key(2)] is sent


def test_a_new_policy_exports_anew() -> None:
    table = PathTable()
    loc = LocRib()
    loc.offer(EBGP_A, [key(3)], received(3, table))  # type: ignore[arg-type]
    out = AdjRibOut(V4, policy(EBGP_B), table)
    out.consider_all(loc)
    plain = out.pending[key(3)]
    out.repolicy(replace(policy(EBGP_B), gshut=True))  # RFC 8326 drain
    out.consider_all(loc)
    tagged = out.pending[key(3)]
    assert plain is not None and tagged is not None and tagged is not plain
    assert 65535 << 16 in tagged.attrs.communities


def test_paths_and_sets_are_released_when_no_route_uses_them() -> None:
    table = PathTable()
    base = settle()
    loc = LocRib()
    keys = []
    for i in range(100):
        keys.append(key(i))
        loc.offer(EBGP_A, [key(i)], received(i, table))  # type: ignore[arg-type]
    local = table.derived(AttrSet([Origin(0), AsPath(()), NextHop("192.0.2.9")]), ("192.0.2.9",))
    loc.offer(LOCAL, [key(200)], local)
    out = AdjRibOut(V4, policy(EBGP_B), table)
    out.consider_all(loc)
    out.flush(CTX)
    assert settle() == (base[0] + 101, base[1] + 101, base[2] + 101)  # 100 + 1 sources and exports
    del out  # the session goes down: its exports stay only in the sources' memos
    assert loc.retract(EBGP_A, keys) == keys  # and the peer's routes are withdrawn
    assert settle() == (base[0] + 1, base[1] + 1, base[2] + 1)  # the local route and its export
    loc.retract(LOCAL, [key(200)])
    del local
    assert settle() == base


def test_a_released_block_decodes_again_and_interns_again() -> None:
    table = PathTable()
    base = settle()
    first = received(5, table)
    assert settle() == (base[0] + 1, base[1] + 1, base[2])
    again = received(5, table)
    assert again is first  # still used: the same Path
    del first, again
    assert settle() == base
    third = received(5, table)
    assert settle() == (base[0] + 1, base[1] + 1, base[2])
    assert third is not None


def test_mp_paths_with_several_next_hops_are_released_one_by_one() -> None:
    table = PathTable()
    base = settle()
    # An AS path no other test builds: content interning would hand back a live twin.
    attrs = intern_derived(AttrSet([Origin(0), AsPath(((2, (65001, 4200000131)),))]))
    a = table.get(attrs, ("2001:db8::1",))
    b = table.get(attrs, ("2001:db8::2",))
    assert a is not b and table.get(attrs, ("2001:db8::1",)) is a
    del attrs
    assert settle() == (base[0] + 2, base[1] + 1, base[2])
    del a
    assert settle() == (base[0] + 1, base[1] + 1, base[2])
    assert table.get(b.attrs, ("2001:db8::2",)) is b
    del b
    assert settle() == base


def fresh(address: str) -> tuple[str, ...]:
    """A next-hop tuple made at run time (a literal one is a shared constant)."""
    return tuple(address.split(","))


def test_paths_of_one_next_hop_share_its_tuple() -> None:
    """Each UPDATE gives its next hop as a new tuple; the Paths made of different sets
    keep one tuple per next hop, not one each (issue 14: 48 bytes per attribute set)."""
    table = PathTable()
    made = [table.get(AttrSet([Origin(0), AsPath(((2, (65001, i)),)), NextHop("10.0.0.1")]),
                      fresh("10.0.0.1")) for i in range(3)]
    other = table.get(AttrSet([Origin(0), AsPath(((2, (65001, 9)),)), NextHop("10.0.0.2")]), ("10.0.0.2",))
    assert made[0].next_hop is made[1].next_hop is made[2].next_hop == ("10.0.0.1",)
    assert other.next_hop == ("10.0.0.2",) and other.next_hop is not made[0].next_hop
    mp = AttrSet([Origin(0), AsPath(((2, (65001, 7)),))])  # one set, two next hops (MP)
    first, second = table.get(mp, fresh("2001:db8::1")), table.get(mp, fresh("2001:db8::2"))
    assert table.get(AttrSet([Origin(0), AsPath(((2, (65001, 8)),))]), fresh("2001:db8::2")).next_hop \
        is second.next_hop and first.next_hop != second.next_hop


def test_an_export_and_a_received_path_of_one_next_hop_share_its_tuple() -> None:
    """One table of next-hop tuples for Paths and exports alike (rib.path.shared_hop)."""
    table = PathTable()
    received = table.get(AttrSet([Origin(0), AsPath(((2, (65001, 3)),)), NextHop("192.0.2.100")]),
                         fresh("192.0.2.100"))
    exported = export_path(EBGP_A, received, policy(EBGP_B), V4, table)
    assert exported is not None and exported.next_hop == ("192.0.2.100",)
    assert exported.next_hop is received.next_hop
