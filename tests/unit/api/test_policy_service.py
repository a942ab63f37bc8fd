"""The routing-policy service (api/policy_service.py) on in-memory speakers exchanging
routes: the listing with match counts per statement and the neighbors' own levels, a
route explained on import and export (counters untouched), and a neighbor's level edited
through the command path without a session reset."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gracebgp.api import metrics
from gracebgp.api import policy_service as pol
from gracebgp.api.service import RequestError
from gracebgp.cli.policies import policy_rows
from gracebgp.config.policy_source import PolicySource, parse_apply_policy
from gracebgp.core.speaker import Speaker

from ..core.net import SpeakerNet
from ..core.test_policy_wiring import A, B, M, learned, triangle
from ..core.test_route_server import neighbor, route, speaker
from .test_service import X, announce, establish, info, peer_open
from .test_service import speaker as service_speaker

PODS = {"name": "pods", "prefix_list": [{"ip_prefix": "10.1.0.0/16", "masklength_range": "16..24"}]}
SOURCE = PolicySource().with_set("prefix", PODS).with_policy(
    {"name": "pods-in", "statements": [
        {"name": "pods", "match_prefix_set": {"name": "pods"}, "set_local_pref": 200,
         "route_disposition": "accept-route"},
        {"name": "rest", "route_disposition": "reject-route"}]}).with_policy(
    {"name": "tag", "statements": [{"name": "t", "set_community": {"options": "add",
                                                                   "communities": ["65000:99"]}}]})


def _net() -> tuple[SpeakerNet, Speaker, Speaker, Speaker]:
    book = SOURCE.with_global(parse_apply_policy({"import_policies": ["pods-in"]})).build()
    return triangle(book)


def counts(m: Speaker) -> dict[tuple[str, str], int]:
    book = m.policy_book
    return {(p.name, s.name): s.counter.matches for p in book.policies.values() for s in p.statements}


def test_listing_shows_statements_with_match_counts_and_neighbor_levels() -> None:
    net, m, _, _ = _net()
    reply = net.command(M, pol.set_level(m, B, {"export_policies": ["tag"]}))
    assert reply.status == 200, reply.message
    view = pol.listing(m)
    rows = {(a.peer, a.direction): a for a in view.assignments}
    assert set(rows) == {("global", "import"), ("global", "export"), (B, "export")}
    stmts = {s.statement: s for s in rows[("global", "import")].statements}
    assert stmts["pods"].match_prefixes == ["10.1.0.0/16 16..24"] and stmts["pods"].matches == 1
    assert stmts["rest"].disposition == "reject" and stmts["rest"].matches == 1
    assert rows[(B, "export")].statements[0].actions == ["set-community add 65000:99"]
    assert rows[(B, "export")].statements[0].matches == 1  # 10.1.1.0/24 went out to B
    assert [lv.neighbor for lv in pol.levels(m)] == ["global", A, B]


def test_explain_import_and_export_with_the_result_and_no_counting() -> None:
    _, m, _, _ = _net()
    before = counts(m)
    rejected, = pol.explain(m, A, "10.9.0.0/24", "import")
    assert rejected.result == "rejected" and rejected.decided_by == "pods-in/rest" and rejected.after is None
    assert [(s.statement, s.matched, s.decided) for s in rejected.steps] == [
        ("pods", False, "none"), ("rest", True, "reject")]
    accepted, = pol.explain(m, A, "10.1.1.0/24", "import")
    assert accepted.result == "accepted" and accepted.decided_by == "pods-in/pods"
    assert accepted.steps[0].actions == ["set-local-pref 200"]
    assert "local_pref" not in accepted.before["attrs"] and accepted.after is not None
    assert accepted.after["attrs"]["local_pref"] == 200
    out, = pol.explain(m, B, "10.1.1.0/24", "export")
    assert out.result == "accepted" and out.decided_by == "no policy" and out.policies == []
    assert counts(m) == before


def test_explain_refuses_what_is_not_there() -> None:
    _, m, _, _ = _net()
    with pytest.raises(RequestError) as e:
        pol.explain(m, A, "10.77.0.0/24", "import")
    assert e.value.status == 404 and "10.77.0.0/24" in str(e.value)
    with pytest.raises(RequestError) as e:
        pol.explain(m, A, "10.1.1.0/24", "sideways")
    assert e.value.status == 400
    with pytest.raises(RequestError) as e:
        pol.explain(m, A, "2001:db8::/32", "import")
    assert e.value.status == 400 and "ipv4-unicast" in str(e.value)


def test_neighbor_level_keys_merge_and_clearing_applies_the_global_one_again() -> None:
    net, m, _, b = _net()
    ups = {p.address: p.stats.established_count for p in m.peers.values()}
    net.command(M, pol.set_level(m, A, {"import_policies": ["tag"]}))
    assert set(learned(b)) == {"10.1.1.0/24", "10.9.0.0/24"}
    net.command(M, pol.set_level(m, A, {"default_import": "reject-route"}))
    own = m.peers[A].settings.apply_policy
    assert own is not None and own.import_policies == ("tag",) and own.default_import is not None
    net.command(M, pol.clear_level(m, A))
    assert set(learned(b)) == {"10.1.1.0/24"}
    assert {p.address: p.stats.established_count for p in m.peers.values()} == ups
    assert pol.explain(m, A, "10.1.1.0/24", "import")[0].policies == ["pods-in"]


def test_metrics_count_matches_per_statement() -> None:
    _, m, _, _ = _net()
    text = metrics.render(metrics.registry_for(m, info(), lambda: 100.0)).decode()
    assert 'gracebgp_policy_statement_matches_total{policy="pods-in",statement="pods"} 1.0' in text
    assert 'gracebgp_policy_statement_matches_total{policy="pods-in",statement="rest"} 1.0' in text
    assert 'gracebgp_policy_statement_matches_total{policy="tag",statement="t"} 0.0' in text


def test_cilium_like_export_pod_cidr_and_services_with_their_communities_the_rest_rejected() -> None:
    """Issue 16's Cilium scenario: the pod CIDR and two service /32s exported to one peer
    with different communities, everything else rejected, and ``gracebgp policies``
    showing it, with the match counts."""
    source = PolicySource().with_set("prefix", {"name": "pod-cidr", "prefix_list": [
        {"ip_prefix": "10.0.0.0/24"}]}).with_set("prefix", {"name": "services", "prefix_list": [
            {"ip_prefix": "10.96.0.0/16", "masklength_range": "32..32"}]}).with_policy(
        {"name": "cilium-export", "statements": [
            {"name": "pods", "match_prefix_set": {"name": "pod-cidr"},
             "set_community": {"options": "add", "communities": ["65000:100"]},
             "route_disposition": "accept-route"},
            {"name": "svc", "match_prefix_set": {"name": "services"},
             "set_community": {"options": "add", "communities": ["65000:200"]},
             "route_disposition": "accept-route"},
            {"name": "rest", "route_disposition": "reject-route"}]})
    net = SpeakerNet()
    m = speaker(65000, M, neighbor(B, 65002), "".join(route(p) for p in (
        "10.0.0.0/24", "10.96.0.10/32", "10.96.0.11/32", "192.0.2.0/24")))
    m.policy_book = source.build()
    m.peers[B].settings = replace(m.peers[B].settings,
                                  apply_policy=parse_apply_policy({"export_policies": ["cilium-export"]}))
    net.add(M, m)
    b = net.add(B, speaker(65002, B, neighbor(M, 65000)))
    net.run()
    got = {p: path.attrs.communities for p, path in learned(b).items()}
    pods, svc = 65000 << 16 | 100, 65000 << 16 | 200
    assert got == {"10.0.0.0/24": (pods,), "10.96.0.10/32": (svc,), "10.96.0.11/32": (svc,)}
    headers, rows = policy_rows([(None, pol.listing(m))])
    table = [dict(zip(headers, row, strict=True)) for row in rows]
    assert [(r["Peer"], r["Direction"], r["Statement"], r["Match Prefixes (Min..Max Len)"], r["Route Action"],
             r["Path Actions"]) for r in table] == [
        (B, "export", "pods", "10.0.0.0/24", "accept", "set-community add 65000:100"),
        (B, "export", "svc", "10.96.0.0/16 32..32", "accept", "set-community add 65000:200"),
        (B, "export", "rest", "-", "reject", "-")]
    # Matches: 1, 2 and 1 routes; the export runs count each time the table is considered
    # (here twice: at session up and at the first flush), so the ratio is what is pinned.
    pods_n, svc_n, rest_n = (int(r["Matches"]) for r in table)
    assert pods_n >= 1 and svc_n == 2 * pods_n and rest_n == pods_n



def test_explain_says_when_a_route_was_refused_before_any_policy() -> None:
    s, conn = service_speaker()
    establish(s, conn, peer_open())
    announce(s, conn, ["10.5.0.0/24"], 65050, 65000)  # our AS in the path: refused (RFC 4271 §9.1.2)
    announce(s, conn, ["10.6.0.0/24"], 65050)
    assert pol.explain(s, X, "10.6.0.0/24", "import")[0].decided_by == "no policy"
    with pytest.raises(RequestError) as e:
        pol.explain(s, X, "10.5.0.0/24", "import")
    assert e.value.status == 404 and "refused before any policy (AS loop" in str(e.value)
