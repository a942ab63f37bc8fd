"""Control-node selection and NAT source ports (issue 20 item 1)."""

from __future__ import annotations

import random

import pytest

from gracebgp.proxy.placement import PortKey, PortRangeFull, SessionKind, nodes_for, plan, rank_nodes

GW, SVC = SessionKind.GATEWAY, SessionKind.SERVICE


def test_two_nodes_gateway_primary_service_secondary() -> None:
    nodes = ("10.0.0.11", "10.0.0.12")
    assert nodes_for("blue", "vmi-3", GW, nodes) == ("10.0.0.11", "10.0.0.12")
    assert nodes_for("blue", "vmi-3", SVC, nodes) == ("10.0.0.12", "10.0.0.11")


def test_one_node_takes_both_sessions() -> None:
    assert nodes_for("blue", "vmi-3", GW, ("a",)) == ("a",)
    assert nodes_for("blue", "vmi-3", SVC, ("a",)) == ("a",)


def test_more_nodes_two_sessions_on_different_nodes_and_full_failover_order() -> None:
    nodes = tuple(f"10.0.0.{i}" for i in range(1, 6))
    firsts = set()
    for n in range(200):
        gw = nodes_for("blue", f"vmi-{n}", GW, nodes)
        svc = nodes_for("blue", f"vmi-{n}", SVC, nodes)
        assert gw[0] != svc[0]
        assert sorted(gw) == sorted(nodes) == sorted(svc)
        firsts.add(gw[0])
    assert firsts == set(nodes)  # the hash spreads primaries over every node


def test_ranking_ignores_configured_order_beyond_two_nodes() -> None:
    nodes = ["a", "b", "c", "d"]
    ranked = rank_nodes("blue", "vmi-7", nodes)
    assert rank_nodes("blue", "vmi-7", list(reversed(nodes))) == ranked


def test_adding_a_node_moves_only_sessions_to_the_new_node() -> None:
    old = ("a", "b", "c")
    new = (*old, "d")
    moved = 0
    for n in range(400):
        before = rank_nodes("blue", f"vmi-{n}", old)[0]
        after = rank_nodes("blue", f"vmi-{n}", new)[0]
        if before != after:
            assert after == "d"  # rendezvous hashing: nothing moves between old nodes
            moved += 1
    assert 0 < moved < 400 * 0.4  # about a quarter


def keys(count: int) -> list[PortKey]:
    return [PortKey("blue", f"vmi-{n}", kind) for n in range(count) for kind in (GW, SVC)]


def test_plan_distinct_ports_in_range_independent_of_order() -> None:
    ks = keys(100)
    ports = plan(ks, 50000, 50512)
    assert len(set(ports.values())) == len(ks)
    assert all(50000 <= p <= 50512 for p in ports.values())
    shuffled = list(ks)
    random.Random(7).shuffle(shuffled)
    assert plan(shuffled, 50000, 50512) == ports


def test_plan_adding_a_session_keeps_almost_every_port() -> None:
    ks = keys(100)
    before = plan(ks, 50000, 50512)
    after = plan([*ks, PortKey("blue", "vmi-new", GW)], 50000, 50512)
    changed = [k for k in ks if before[k] != after[k]]
    assert len(changed) <= 2


def test_plan_full_range_and_bad_range() -> None:
    assert sorted(plan(keys(2), 100, 103).values()) == [100, 101, 102, 103]
    with pytest.raises(PortRangeFull):
        plan(keys(3), 100, 104)
    with pytest.raises(ValueError, match="not within"):
        plan(keys(1), 0, 10)
    with pytest.raises(ValueError, match="not within"):
        plan(keys(1), 20, 10)


def _mover(ks: list[PortKey], low: int, high: int) -> PortKey:
    """A new session whose arrival moves an existing session's port when nothing is kept."""
    before = plan(ks, low, high)
    for n in range(1000):
        new = PortKey("blue", f"vmi-new-{n}", GW)
        after = plan([*ks, new], low, high)
        if any(before[k] != after[k] for k in ks):
            return new
    raise AssertionError("no new session moves a port")


def test_plan_keeps_the_ports_an_earlier_run_used() -> None:
    ks = keys(100)
    before = plan(ks, 50000, 50300)
    new = _mover(ks, 50000, 50300)
    kept = {k.text(): p for k, p in before.items()}
    after = plan([*ks, new], 50000, 50300, kept=kept)
    assert all(after[k] == before[k] for k in ks)  # nobody moved
    assert after[new] not in before.values() and 50000 <= after[new] <= 50300
    # a kept port out of the range now, or kept twice, is planned again
    ours = ks[0]
    moved = plan(ks, 50000, 50300, kept={**kept, ours.text(): 40000})
    assert 50000 <= moved[ours] <= 50300 and len(set(moved.values())) == len(ks)
    twice = plan(ks, 50000, 50300, kept={ks[0].text(): 50007, ks[1].text(): 50007})
    assert twice[ks[0]] == 50007 and twice[ks[1]] != 50007
