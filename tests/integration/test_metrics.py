"""``GET /metrics`` of a running gracebgpd, parsed with prometheus_client's own parser, says
what the API's peer listing and global view say (two daemons peered on loopback,
tests/integration/api_daemons.py): session state, messages by type, prefixes per peer and
family, the Loc-RIB size; and it follows changes (routes added, a session shut down).

Keepalives keep flowing between the two reads (every 3 s in the demo configuration), so
their counters are compared with a margin; every other value must be equal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .api_daemons import (
    A_ADDR,
    B_ADDR,
    DEMO_V4,
    DEMO_V6,
    Daemon,
    Pair,
    family_row,
    start_pair,
    wait_established,
    wait_until,
)

STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")
MESSAGE_TYPES = ("open", "update", "notification", "keepalive", "route_refresh")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    yield from start_pair()


def scrape(client: httpx.Client) -> Samples:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        assert family.name.startswith("gracebgp_"), family.name
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}; have {sorted(k for k in samples if k[0] == name)}"
    return samples[key]


def _settled(peers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A peer listing without what changes by itself (clocks, keepalives)."""
    out = []
    for peer in peers:
        p = {k: v for k, v in peer.items() if k not in ("uptime", "stale_until")}
        for direction in ("messages_received", "messages_sent"):
            p[direction] = {k: v for k, v in p[direction].items() if k != "keepalive"}
        out.append(p)
    return out


def snapshot(d: Daemon) -> tuple[list[dict[str, Any]], dict[str, Any], Samples]:
    """The peer listing, the global view and the metrics, read back to back while nothing
    but keepalives moved (an UPDATE in flight makes it read again, for at most 10 s)."""
    end = time.monotonic() + 10
    with d.client() as c:
        while True:
            peers, glob = c.get("/v1/peers").json(), c.get("/v1/global").json()
            m = scrape(c)
            after = c.get("/v1/peers").json(), c.get("/v1/global").json()
            if (_settled(after[0]), after[1]["rib"]) == (_settled(peers), glob["rib"]):
                return peers, glob, m
            assert time.monotonic() < end, "gracebgpd's counters kept changing for 10 s"
            time.sleep(0.1)


def check_agree(peers: list[dict[str, Any]], glob: dict[str, Any], m: Samples) -> None:
    """Every per-peer and RIB metric equals the API's answer (keepalives: at most a few more)."""
    assert {dict(k[1])["peer"] for k in m if k[0] == "gracebgp_peer_up"} == {p["address"] for p in peers}
    for p in peers:
        a = p["address"]
        assert value(m, "gracebgp_peer_up", peer=a) == (1.0 if p["state"] == "Established" else 0.0)
        for state in STATES:
            want = 1.0 if p["state"] == state else 0.0
            assert value(m, "gracebgp_peer_state", peer=a, state=state) == want
        assert value(m, "gracebgp_peer_established_total", peer=a) == p["established_count"]
        if p["uptime"] is not None:
            assert value(m, "gracebgp_peer_uptime_seconds", peer=a) >= p["uptime"]
        for direction in ("received", "sent"):
            for t in MESSAGE_TYPES:
                got = value(m, f"gracebgp_peer_messages_{direction}_total", peer=a, type=t)
                want = p[f"messages_{direction}"][t]
                if t == "keepalive":  # may have ticked between the two reads
                    assert want <= got <= want + 2, (a, direction, t, got, want)
                else:
                    assert got == want, (a, direction, t, got, want)
        for row in p["families"]:
            for kind in ("received", "accepted", "advertised", "stale"):
                got = value(m, f"gracebgp_peer_prefixes_{kind}", peer=a, family=row["family"])
                assert got == row[kind], (a, row["family"], kind, got, row[kind])
    for rib in glob["rib"]:
        assert value(m, "gracebgp_rib_prefixes", family=rib["family"]) == rib["prefixes"]
        assert value(m, "gracebgp_rib_paths", family=rib["family"]) == rib["paths"]
    families = {dict(k[1])["family"] for k in m if k[0] == "gracebgp_rib_prefixes"}
    assert families == {r["family"] for r in glob["rib"]}


def established(d: Daemon, peer: str) -> int:
    """How many times ``d`` logged its session with ``peer`` established."""
    return d.log.read_text().count(f"peer {peer}: established:")


def test_metrics_match_the_api(pair: Pair) -> None:
    wait_established(pair)
    for me, other in ((pair.a, pair.b), (pair.b, pair.a)):
        peers, glob, m = snapshot(me)
        check_agree(peers, glob, m)
        # Not just equal: the demo's numbers (each side originates 3 IPv4 + 2 IPv6 routes).
        o = other.address
        assert value(m, "gracebgp_peer_up", peer=o) == 1.0
        # as often as the log says it came up (1, unless it went down and came up again before
        # this test looked, as it once did on a loaded machine)
        assert value(m, "gracebgp_peer_established_total", peer=o) == established(me, o) >= 1
        for family, routes in (("ipv4-unicast", DEMO_V4), ("ipv6-unicast", DEMO_V6)):
            theirs, mine = len(routes[o]), len(routes[me.address])
            assert value(m, "gracebgp_peer_prefixes_received", peer=o, family=family) == theirs
            assert value(m, "gracebgp_peer_prefixes_accepted", peer=o, family=family) == theirs
            assert value(m, "gracebgp_peer_prefixes_advertised", peer=o, family=family) == mine
            assert value(m, "gracebgp_peer_prefixes_stale", peer=o, family=family) == 0
            assert value(m, "gracebgp_rib_prefixes", family=family) == theirs + mine
        # (Both sides connect at once: the collision loser's OPEN counts too, RFC 4271 §6.8.)
        assert 1 <= value(m, "gracebgp_peer_messages_received_total", peer=o, type="open") <= 2
        assert value(m, "gracebgp_peer_messages_received_total", peer=o, type="update") >= 1
        assert value(m, "gracebgp_local_routes") == len(DEMO_V4[me.address]) + len(DEMO_V6[me.address])
        assert value(m, "gracebgp_gr_stale_age_seconds", peer=o) == 0


def test_metrics_over_tcp_are_the_same_families(pair: Pair) -> None:
    with pair.tcp_client() as tcp, pair.a.client() as unix:
        assert set(scrape(tcp)) == set(scrape(unix))


def test_metrics_follow_added_routes(pair: Pair) -> None:
    wait_established(pair)
    n = 100
    prefixes = [f"10.77.{i}.0/24" for i in range(n)]
    base = len(DEMO_V4[A_ADDR])
    with pair.a.client() as a, pair.b.client() as b:
        assert a.post("/v1/paths", json={"paths": [{"prefix": p} for p in prefixes]}).json()["changed"] == n
        try:
            wait_until("B accepted A's routes", lambda: family_row(
                b.get(f"/v1/peers/{A_ADDR}").json(), "ipv4-unicast")["accepted"] == base + n)
            for d, peer, kind in ((pair.b, A_ADDR, "received"), (pair.b, A_ADDR, "accepted"),
                                  (pair.a, B_ADDR, "advertised")):
                peers, glob, m = snapshot(d)
                check_agree(peers, glob, m)
                got = value(m, f"gracebgp_peer_prefixes_{kind}", peer=peer, family="ipv4-unicast")
                assert got == base + n, (d.name, kind)
            assert value(snapshot(pair.a)[2], "gracebgp_local_routes") == n + base + len(DEMO_V6[A_ADDR])
        finally:
            assert a.post("/v1/paths/delete", json={"prefixes": prefixes}).json()["changed"] == n
        wait_until("B withdrew A's routes", lambda: family_row(
            b.get(f"/v1/peers/{A_ADDR}").json(), "ipv4-unicast")["accepted"] == base)
        peers, glob, m = snapshot(pair.b)
        check_agree(peers, glob, m)
        assert value(m, "gracebgp_peer_prefixes_received", peer=A_ADDR, family="ipv4-unicast") == base


def test_metrics_follow_a_shutdown(pair: Pair) -> None:
    wait_established(pair)
    with pair.b.client() as b, pair.a.client() as a:
        sent_before = b.get(f"/v1/peers/{A_ADDR}").json()["messages_sent"]["notification"]
        up_before = value(snapshot(pair.b)[2], "gracebgp_peer_established_total", peer=A_ADDR)
        got_before = a.get(f"/v1/peers/{B_ADDR}").json()["messages_received"]["notification"]
        assert b.post(f"/v1/peers/{A_ADDR}/shutdown", json={"message": "metrics test"}).status_code == 200
        try:
            wait_until("A sees the session down",
                       lambda: a.get(f"/v1/peers/{B_ADDR}").json()["state"] != "Established")
            for d, peer in ((pair.b, A_ADDR), (pair.a, B_ADDR)):
                peers, glob, m = snapshot(d)
                check_agree(peers, glob, m)
                assert value(m, "gracebgp_peer_up", peer=peer) == 0.0
            m = snapshot(pair.b)[2]
            assert value(m, "gracebgp_peer_state", peer=A_ADDR, state="Idle") == 1.0
            sent = value(m, "gracebgp_peer_messages_sent_total", peer=A_ADDR, type="notification")
            assert sent == sent_before + 1
            assert value(m, "gracebgp_peer_prefixes_received", peer=A_ADDR, family="ipv4-unicast") == 0
            m = snapshot(pair.a)[2]
            assert value(m, "gracebgp_peer_messages_received_total", peer=B_ADDR,
                         type="notification") == got_before + 1
        finally:
            assert b.post(f"/v1/peers/{A_ADDR}/enable").status_code == 200
        wait_established(pair)
        m = snapshot(pair.b)[2]
        assert value(m, "gracebgp_peer_up", peer=A_ADDR) == 1.0
        assert value(m, "gracebgp_peer_established_total", peer=A_ADDR) == up_before + 1 == established(
            pair.b, A_ADDR)


def test_owner_step_metrics_are_exported_and_sane(pair: Pair) -> None:
    """The owner's longest step and a histogram of its steps (issue 10 finding 4): present,
    consistent with each other, and the longest no longer than the daemon has run."""
    wait_established(pair)
    with pair.a.client() as a:
        uptime = a.get("/v1/global").json()["uptime"]
        m = scrape(a)
    longest = [(dict(labels), v) for (name, labels), v in m.items()
               if name == "gracebgp_owner_step_seconds_max"]
    assert len(longest) == 1
    labels, seconds = longest[0]
    assert 0.0 < seconds <= uptime + 1.0 and labels["input"]  # the kind of input of that step
    assert value(m, "gracebgp_owner_step_bound_seconds") == 0.05
    count = value(m, "gracebgp_owner_step_seconds_count")
    assert count > 0 and value(m, "gracebgp_owner_step_seconds_bucket", le="+Inf") == count
    edges = sorted((float(dict(labels)["le"]), v) for (name, labels), v in m.items()
                   if name == "gracebgp_owner_step_seconds_bucket")
    assert [v for _, v in edges] == sorted(v for _, v in edges)  # cumulative
    over = value(m, "gracebgp_owner_steps_over_bound_total")
    assert over == count - value(m, "gracebgp_owner_step_seconds_bucket", le="0.05")
    assert 0.0 < value(m, "gracebgp_owner_step_seconds_sum") <= count * seconds
    # the garbage collector's full collections: the first comes 5 minutes after start
    assert value(m, "gracebgp_gc_sweeps_total") == 0.0
    assert value(m, "gracebgp_gc_sweep_collected_total") == 0.0
    assert value(m, "gracebgp_gc_sweep_seconds_total") == 0.0 == value(m, "gracebgp_gc_sweep_last_seconds")
