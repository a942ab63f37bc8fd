"""Issue 14: peers of one export class (an update group) share each exported path; only
the rules that depend on the peer itself (the eBGP AS-loop check, never back to the
source) are applied per peer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gracebgp.rib import adj_rib_out
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.export import ExportPolicy, export_class, export_path
from gracebgp.rib.export_step import PolicyStep
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Exported, Path, PeerInfo
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.context import CodecContext
from gracebgp.wire.iana import WellKnownCommunity
from gracebgp.wire.nlri import parse_prefix

from .helpers import EBGP_A, IBGP_C, IBGP_D, TABLE, path

V4 = IPV4_UNICAST
CTX = CodecContext()
B = PeerInfo(2, "192.0.2.2", 65002, "10.0.0.2", ibgp=False)
C = PeerInfo(6, "192.0.2.6", 65006, "10.0.0.6", ibgp=False)
K1, K2 = parse_prefix("10.1.0.0/24")[1], parse_prefix("10.2.0.0/24")[1]


def policy(peer: PeerInfo, **kw: object) -> ExportPolicy:
    return ExportPolicy(peer, 65000, "10.0.0.100", next_hop_v4="192.0.2.100", **kw)  # type: ignore[arg-type]


def table_of(*routes: tuple[int, Path]) -> LocRib:
    loc = LocRib()
    for k, p in routes:
        loc.offer(EBGP_A, [k], p)
    return loc


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[ExportPolicy]:
    """Every export_path call the Adj-RIBs-Out make, by the policy they pass."""
    calls: list[ExportPolicy] = []

    def counting(source: PeerInfo, p: Path, pol: ExportPolicy, family: object, table: object,
                 by_value: bool = False, step: PolicyStep | None = None) -> Path | None:
        calls.append(pol)
        return export_path(source, p, pol, V4, TABLE, by_value, step)

    monkeypatch.setattr(adj_rib_out, "export_path", counting)  # a spy: the real export runs
    return calls


def test_peers_that_differ_only_in_who_they_are_share_one_export(counted: list[ExportPolicy]) -> None:
    p = path(65001, 7)
    loc = table_of((K1, p), (K2, p))
    outs = [AdjRibOut(V4, policy(peer), TABLE) for peer in (B, C)]
    for out in outs:
        out.consider(loc.keys(), loc)
    assert outs[0].slot == outs[1].slot
    assert len(counted) == 1  # one export for both peers and both prefixes
    sent_b, sent_c = outs[0].pending[K1], outs[1].pending[K1]
    assert sent_b is not None and sent_b is sent_c
    own = export_path(EBGP_A, p, policy(B), V4, TABLE)  # what a peer's own export gives
    assert isinstance(sent_b, Exported) and own is not None and sent_b.same(own)
    assert sent_b.attrs.as_path == ((2, (65000, 65001, 7)),)


def test_the_as_loop_check_stays_per_peer(counted: list[ExportPolicy]) -> None:
    p = path(65001, 65006)  # holds C's AS: C would drop it (RFC 4271 §9.1.2)
    loc = table_of((K1, p))
    to_b, to_c = AdjRibOut(V4, policy(B), TABLE), AdjRibOut(V4, policy(C), TABLE)
    to_b.consider([K1], loc)
    to_c.consider([K1], loc)
    assert to_b.pending[K1] is not None and K1 not in to_c.pending  # nothing to send to C
    assert to_b.flush(CTX) and not to_c.flush(CTX) and len(to_b) == 1 and len(to_c) == 0
    assert export_path(EBGP_A, p, policy(C), V4, TABLE) is None
    assert len(counted) == 1


def test_a_different_policy_is_another_class() -> None:
    assert export_class(policy(B)) == export_class(policy(C))
    assert export_class(policy(B)) != export_class(policy(B, gshut=True))  # a drain
    assert export_class(policy(B)) != export_class(policy(IBGP_C))  # iBGP rules differ
    assert export_class(policy(IBGP_C)) == export_class(policy(IBGP_D))
    assert export_class(policy(IBGP_C)) != export_class(policy(replace(IBGP_D, rr_client=True)))
    # replace-peer-as rewrites the AS_PATH with the peer's AS: the AS stays in the class
    assert export_class(policy(B, replace_peer_as=True)) != export_class(policy(C, replace_peer_as=True))


def test_repolicy_moves_the_peer_to_the_new_class_and_back(counted: list[ExportPolicy]) -> None:
    p = path(65001, 8)
    loc = table_of((K1, p))
    out = AdjRibOut(V4, policy(B), TABLE)
    out.consider([K1], loc)
    plain = out.pending[K1]
    out.repolicy(policy(B, gshut=True))  # the drain's first phase
    out.consider([K1], loc)
    drained = out.pending[K1]
    assert plain is not None and drained is not None and drained is not plain
    assert int(WellKnownCommunity.GRACEFUL_SHUTDOWN) in drained.attrs.communities
    out.repolicy(policy(B))
    out.consider([K1], loc)
    assert out.pending[K1] is plain
    assert len(counted) == 2  # back in the first class: its memo entry is still good


def test_exports_keep_only_their_encoding_and_share_what_builds_them() -> None:
    """An export holds its block, no attribute object (read, they are decoded anew); the
    prepended AS_PATH and our NEXT_HOP it is built from are one object per result."""
    from gracebgp.rib.export import _next_hop, _prepended

    first = export_path(EBGP_A, path(65001, 9, comms=(5,)), policy(B), V4, TABLE)
    second = export_path(EBGP_A, path(65001, 9, comms=(6,)), policy(B), V4, TABLE)
    assert isinstance(first, Exported) and isinstance(second, Exported) and first.block != second.block
    assert first.attrs is not first.attrs and first.attrs.get(2) == second.attrs.get(2)
    assert first.attrs.as_path == ((2, (65000, 65001, 9)),)
    assert _prepended(((2, (65001, 9)),), 65000)[0] is _prepended(((2, (65001, 9)),), 65000)[0]
    attr, hop, _ = _next_hop(first.attrs.next_hop or "")
    assert (attr, hop) == (first.attrs.get(3), ("192.0.2.100",)) and _next_hop("192.0.2.100")[0] is attr
    assert first.next_hop is second.next_hop is hop  # one next-hop tuple for every export


def test_peers_of_one_class_reuse_the_packed_updates_when_their_contexts_are_equal() -> None:
    p = path(65001, 10)
    loc = table_of((K1, p), (K2, p))
    packed: dict = {}  # type: ignore[type-arg]
    sent = []
    for peer, ctx in ((B, CTX), (C, CodecContext()), (PeerInfo(7, "192.0.2.7", 65007, "10.0.0.7", False),
                                                     CodecContext(as4=False))):
        out = AdjRibOut(V4, policy(peer), TABLE)
        out.consider(loc.keys(), loc)
        sent.append(out.flush(ctx, packed))
    assert len(sent[0]) == 1 and sent[1] == sent[0] and sent[1][0] is sent[0][0]  # reused, not packed again
    assert sent[2] != sent[0]  # a 2-octet-AS session: its own encoding
    assert AdjRibOut(V4, policy(B), TABLE).flush(CTX, packed) == []  # nothing pending: nothing sent
