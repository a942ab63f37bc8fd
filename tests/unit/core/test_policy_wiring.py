"""Routing policy wired into the speaker (issue 16 item 2, 3, 5): import between the
Adj-RIB-In (kept pre-policy) and the Loc-RIB, export per peer after the export rules,
local routes through the export policy, a new policy applied without a session reset,
and the GR / LLGR / RFC 8326 / NO_EXPORT semantics kept with policy in place."""

from __future__ import annotations

from dataclasses import replace

from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.policies import explain, rebind
from gracebgp.core.policy_commands import ReplacePolicyBook, SetPeerPolicy
from gracebgp.core.speaker import Speaker
from gracebgp.policy import (
    ApplyPolicy,
    Assignment,
    Direction,
    Disposition,
    MatchPrefixSet,
    Policy,
    PolicyBook,
    PrefixSet,
    PrependAsPath,
    RouteType,
    SetLocalPref,
    SetNextHop,
    SetOp,
    Source,
    Statement,
    set_community,
)
from gracebgp.policy.book import DefinedSets
from gracebgp.rib.path import Path, PathTable
from gracebgp.rib.policy_filter import PolicyFilter
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import AsPath, AttrSet, NextHop, Origin
from gracebgp.wire.communities import Communities
from gracebgp.wire.iana import WellKnownCommunity
from gracebgp.wire.nlri import format_prefix, parse_prefix

from . import grnet
from .net import SpeakerNet
from .test_route_server import neighbor, route, speaker

M, A, B, C = "127.0.0.10", "127.0.0.1", "127.0.0.2", "127.0.0.3"
ACCEPT, REJECT = Disposition.ACCEPT, Disposition.REJECT
PODS = PrefixSet.parse("pods", (("10.1.0.0/16", "16..24"),))
COMM = 65000 << 16 | 99


def book(import_: tuple[Policy, ...] = (), export: tuple[Policy, ...] = (), *,
         default_import: Disposition | None = None, default_export: Disposition | None = None,
         extra: tuple[Policy, ...] = ()) -> PolicyBook:
    policies = {p.name: p for p in (*import_, *export, *extra)}
    return PolicyBook(DefinedSets(prefix_sets={"pods": PODS}), policies,
                      ApplyPolicy(tuple(p.name for p in import_), tuple(p.name for p in export),
                                  default_import, default_export))


def pods_lp200() -> Policy:
    return Policy("pods-in", (Statement("pods", (MatchPrefixSet(PODS),), (SetLocalPref(200),), ACCEPT),
                              Statement("rest", (), (), REJECT)))


def tag_and_prepend() -> Policy:
    return Policy("tag-out", (Statement("tag", (), (set_community(SetOp.ADD, ("65000:99",)),
                                                    PrependAsPath(None, 2)), Disposition.NONE),))


def learned(s: Speaker) -> dict[str, Path]:
    return {format_prefix(k, 1): cand[1] for k, cand in s.loc[IPV4_UNICAST].items() if not cand[0].local}


def triangle(policy: PolicyBook, m_extra: str = "", a_routes: str = "") -> tuple[SpeakerNet, Speaker,
                                                                                  Speaker, Speaker]:
    """A (65001) -> M (65000, the policy) -> B (65002)."""
    net = SpeakerNet()
    m = speaker(65000, M, neighbor(A, 65001) + neighbor(B, 65002) + m_extra)
    m.policy_book = policy
    net.add(M, m)
    a = net.add(A, speaker(65001, A, neighbor(M, 65000), a_routes or (
        route("10.1.1.0/24") + route("10.9.0.0/24", 'communities = ["65001:7"]\n'))))
    b = net.add(B, speaker(65002, B, neighbor(M, 65000)))
    net.run()
    return net, m, a, b


def test_import_policy_changes_and_refuses_routes_adj_rib_in_keeps_them_pre_policy() -> None:
    _, m, _, b = triangle(book((pods_lp200(),)))
    got = learned(m)
    assert set(got) == {"10.1.1.0/24"} and got["10.1.1.0/24"].local_pref == 200
    kept = m.peers[A].adj_in[IPV4_UNICAST].routes
    assert {format_prefix(k, 1) for k in kept} == {"10.1.1.0/24", "10.9.0.0/24"}  # pre-policy
    assert all(p.attrs.local_pref is None for p in kept.values())  # as received (eBGP: none)
    assert set(learned(b)) == {"10.1.1.0/24"}  # the refused route goes nowhere
    stmts = {s.name: s.counter.matches for s in pods_lp200().statements}
    assert stmts == {"pods": 0, "rest": 0}  # (a fresh policy object: counters are per object)
    counted = {s.name: s.counter.matches for s in m.policy_book.policies["pods-in"].statements}
    assert counted == {"pods": 1, "rest": 1}


def test_export_policy_runs_after_the_export_rules_last_as_is_our_as() -> None:
    _, _, _, b = triangle(book(export=(tag_and_prepend(),)))
    path = learned(b)["10.1.1.0/24"]
    # our AS prepended by the eBGP rule first, then twice more by last-as (GoBGP's order)
    assert path.attrs.as_path == ((2, (65000, 65000, 65000, 65001)),)
    assert COMM in path.attrs.communities and 65001 << 16 | 7 not in path.attrs.communities
    assert COMM in learned(b)["10.9.0.0/24"].attrs.communities


def test_local_routes_pass_the_export_policy() -> None:
    reject_local = Policy("no-local", (Statement("pods", (MatchPrefixSet(PODS),), (), ACCEPT),
                                       Statement("rest", (), (), REJECT)))
    net = SpeakerNet()
    m = speaker(65000, M, neighbor(B, 65002), route("10.1.5.0/24") + route("192.0.2.0/24"))
    m.policy_book = book(export=(reject_local,))
    net.add(M, m)
    b = net.add(B, speaker(65002, B, neighbor(M, 65000)))
    net.run()
    assert set(learned(b)) == {"10.1.5.0/24"}


def test_neighbor_apply_policy_replaces_the_global_one_for_that_peer() -> None:
    net = SpeakerNet()
    m = speaker(65000, M, neighbor(A, 65001) + neighbor(B, 65002) + neighbor(C, 65003))
    deny = Policy("deny", (Statement("all", (), (), REJECT),))
    m.policy_book = book(export=(tag_and_prepend(),), extra=(deny,))
    m.peers[C].settings = replace(m.peers[C].settings, apply_policy=ApplyPolicy(export_policies=("deny",)))
    net.add(M, m)
    net.add(A, speaker(65001, A, neighbor(M, 65000), route("10.1.1.0/24")))
    b = net.add(B, speaker(65002, B, neighbor(M, 65000)))
    c = net.add(C, speaker(65003, C, neighbor(M, 65000)))
    net.run()
    assert COMM in learned(b)["10.1.1.0/24"].attrs.communities
    assert learned(c) == {}


def test_set_next_hop_address_on_export_and_local_pref_never_to_ebgp() -> None:
    out = Policy("nh", (Statement("nh", (), (SetNextHop.parse("192.0.2.77"), SetLocalPref(300)), ACCEPT),))
    _, _, _, b = triangle(book(export=(out,)))
    path = learned(b)["10.1.1.0/24"]
    assert path.next_hop == ("192.0.2.77",) and path.attrs.next_hop == "192.0.2.77"
    assert path.attrs.local_pref is None  # RFC 4271 §5.1.5 even when policy sets it


def test_no_export_still_holds_with_an_accepting_export_policy() -> None:
    everything = Policy("all", (Statement("all", (), (), ACCEPT),))
    _, _, _, b = triangle(book(export=(everything,)), a_routes=route(
        "10.1.2.0/24", 'communities = ["no-export"]\n') + route("10.1.3.0/24"))
    assert set(learned(b)) == {"10.1.3.0/24"}  # RFC 1997: not beyond our AS


def test_a_new_policy_applies_without_reset_and_sends_only_differences() -> None:
    net, m, _a, b = triangle(book((pods_lp200(),)))
    assert set(learned(b)) == {"10.1.1.0/24"}
    ups = {p.address: p.stats.established_count for p in m.peers.values()}
    sent_before = m.peers[B].stats.sent[2]  # UPDATEs (type 2)
    new = book(export=(tag_and_prepend(),))  # the import policy goes: 10.9 is accepted now
    net.queue.append((M, ev.Reconfigured(tuple(p.settings for p in m.peers.values()), (),
                                         policy_book=new)))
    net.run()
    assert set(learned(b)) == {"10.1.1.0/24", "10.9.0.0/24"}
    assert all(COMM in p.attrs.communities for p in learned(b).values())
    assert {p.address: p.stats.established_count for p in m.peers.values()} == ups
    assert all(p.session.state.name == "ESTABLISHED" for p in m.peers.values())
    reload = [n for _, n in net.notices if n.kind == "reload"][-1]
    by_peer = {(e["peer"], e["family"]): e for e in reload.data["policy"]}
    # 10.9 now accepted, 10.1.1 without the local-pref 200
    assert by_peer[(A, "ipv4-unicast")]["import_changed"] == 2
    assert by_peer[(B, "ipv4-unicast")]["export_changed"] == 2  # both go out tagged
    # one UPDATE per attribute set: 10.1.1 (LP gone, tag added) and 10.9
    assert m.peers[B].stats.sent[2] - sent_before <= 2
    # unchanged policy for A's direction: nothing sent back to A
    assert m.peers[A].adj_out[IPV4_UNICAST].pending == {}


def test_explain_import_and_export_with_the_trace_and_no_counting() -> None:
    _, m, _, _ = triangle(book((pods_lp200(),), (tag_and_prepend(),)))
    key = parse_prefix("10.9.0.0/24")[1]
    path, decision = explain(m, m.peers[A], IPV4_UNICAST, key, Direction.IMPORT)
    assert path is not None and decision is not None and not decision.accepted
    assert decision.trace is not None
    assert [(t.statement, t.matched, t.decided) for t in decision.trace] == [
        ("pods", False, Disposition.NONE), ("rest", True, REJECT)]
    counts = {s.name: s.counter.matches for s in m.policy_book.policies["pods-in"].statements}
    explain(m, m.peers[A], IPV4_UNICAST, key, Direction.IMPORT)
    assert {s.name: s.counter.matches for s in m.policy_book.policies["pods-in"].statements} == counts
    key = parse_prefix("10.1.1.0/24")[1]
    exported, decision = explain(m, m.peers[B], IPV4_UNICAST, key, Direction.EXPORT)
    assert exported is not None and decision is not None and decision.accepted
    assert decision.trace is not None and decision.trace[0].actions == (
        "set-community add 65000:99", "set-as-path-prepend last-as x2")


def test_llgr_stale_survives_a_policy_that_replaces_communities() -> None:
    stale = int(WellKnownCommunity.LLGR_STALE)
    wipe = Policy("wipe", (Statement("w", (), (set_community(SetOp.REPLACE, ("65000:1",)),), ACCEPT),))
    table = PathTable()
    path = table.get(AttrSet([Origin(0), AsPath(((2, (65001,)),)), NextHop(A), Communities((stale,))]), (A,))
    flt = PolicyFilter(Assignment((wipe,)), Source(A, 65001, RouteType.EXTERNAL), IPV4_UNICAST, table)
    out = flt.one(parse_prefix("10.1.1.0/24")[1], path)
    assert out is not None and stale in out.attrs.communities and 65000 << 16 | 1 in out.attrs.communities
    assert out.llgr_stale  # selection still ranks it as stale (RFC 9494 §4.3)


LP150 = Policy("lp150", (Statement("all", (), (SetLocalPref(150),), ACCEPT),))


def test_rfc4724_helper_keeps_the_routes_as_the_import_policy_made_them() -> None:
    net, _a, b = grnet.pair()
    rebind(b, book((LP150,)), net.now)
    assert all(p.local_pref == 150 for p in grnet.learned(b).values())
    net.cut(grnet.A)
    net.run()
    got = grnet.learned(b)
    assert set(got) == set(grnet.A_V4) and all(p.local_pref == 150 for p in got.values())
    assert grnet.stale(b, grnet.A) == set(grnet.A_V4)  # kept stale, still through the policy
    net.start(grnet.A, grnet.restarted_a(v4=grnet.A_V4[:2]), restart="unplanned")
    got = grnet.learned(b)
    assert set(got) == set(grnet.A_V4[:2]) and all(p.local_pref == 150 for p in got.values())


def test_rfc8326_drain_wins_over_an_export_policy_that_sets_local_pref() -> None:
    net = grnet.Net()
    a = net.add(grnet.A, grnet.speaker(grnet.A, grnet.neighbor(grnet.A, grnet.E),
                                       originate=grnet.routes(grnet.A_V4, grnet.A_V6)))
    e = net.add(grnet.E, grnet.speaker(grnet.E, grnet.neighbor(grnet.E, grnet.A)))
    a.policy_book = book(export=(Policy("lp300", (Statement("all", (), (SetLocalPref(300),), ACCEPT),)),))
    net.run()
    assert all(p.attrs.local_pref == 300 for p in grnet.learned(e).values())  # iBGP: sent
    net.command(grnet.A, cmd.Drain(delay=30))
    got = grnet.learned(e)
    assert set(got) == set(grnet.A_V4)
    assert all(p.attrs.local_pref == 0 and grnet.GSHUT in p.attrs.communities for p in got.values())


def test_rfc9494_llgr_with_policy_in_place_no_llgr_deleted_stale_kept_and_only_to_llgr_peers() -> None:
    # B imports through a policy that replaces every community (it would drop LLGR_STALE)
    # and exports through one that accepts everything: NO_LLGR routes are still deleted
    # when GR turns into LLGR, the others stay LLGR-stale (selection and export see it),
    # and go only to the LLGR peer C, never to D.
    net, _a, b, c, d = grnet.llgr_net()
    wipe = Policy("wipe", (Statement("w", (), (set_community(SetOp.REPLACE, ("65002:1",)),), ACCEPT),))
    everything = Policy("all", (Statement("all", (), (), ACCEPT),))
    rebind(b, book((wipe,), (everything,)), net.now)
    assert "10.7.0.0/16" in grnet.learned(b)  # NO_LLGR is matched on the received route
    net.cut(grnet.A)
    net.run()
    net.advance(10)
    got = grnet.learned(b)
    assert set(got) == set(grnet.A_V4) and "10.7.0.0/16" not in got
    assert all(p.llgr_stale and grnet.LLGR_STALE in p.attrs.communities for p in got.values())
    assert set(grnet.learned(c)) == set(grnet.A_V4) and all(p.llgr_stale for p in grnet.learned(c).values())
    assert grnet.learned(d) == {}


def test_a_reload_after_api_edits_puts_the_files_policy_back_whole() -> None:
    # The API cleared B's apply-policy and deleted the policy it named; a reload of the
    # unchanged file brings back both (the file's book, not the running one, goes with the
    # file's neighbors), instead of failing on a policy that no longer exists.
    from gracebgp.config.policy_source import PolicySource, parse_apply_policy

    src = PolicySource().with_policy({"name": "tag", "statements": [
        {"name": "t", "set_community": {"options": "add", "communities": ["65000:99"]},
         "route_disposition": "accept-route"}]})
    net, m, _a, b = triangle(src.build())
    file_settings = tuple(replace(p.settings, apply_policy=parse_apply_policy({"export_policies": ["tag"]}))
                          if p.address == B else p.settings for p in m.peers.values())
    net.queue.append((M, ev.Reconfigured(file_settings, (), policy_book=src.build())))
    net.run()
    assert COMM in learned(b)["10.1.1.0/24"].attrs.communities
    assert net.command(M, SetPeerPolicy(B, None)).status == 200  # the API's two edits
    assert net.command(M, ReplacePolicyBook(src.without_policy("tag").build())).status == 200
    assert COMM not in learned(b)["10.1.1.0/24"].attrs.communities
    net.queue.append((M, ev.Reconfigured(file_settings, (), policy_book=src.build())))
    net.run()
    assert COMM in learned(b)["10.1.1.0/24"].attrs.communities
    assert list(m.policy_book.policies) == ["tag"]
