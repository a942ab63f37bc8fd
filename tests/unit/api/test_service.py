"""The API service on a sans-IO Speaker driven by hand-made wire messages: peer rows,
ListPaths tables and filters (pre/post policy), and the health conditions an operator
must see (never established, fewer families negotiated, hold time under 3 s refused,
settings that point to nothing)."""

from __future__ import annotations

import json

import pytest

from gracebgp.api import schema
from gracebgp.api.service import DaemonInfo, PathQuery, RequestError, health, list_peers, paths
from gracebgp.config.model import Global
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import SessionConfig
from gracebgp.session.negotiate import build_open
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import AsPath, AttrSet, CodecContext, NextHop, Open, Origin, Update
from gracebgp.wire.messages import KEEPALIVE_BYTES
from gracebgp.wire.nlri import parse_prefix
from gracebgp.wire.update import encode_update

X = "127.0.0.50"
CTX = CodecContext(as4=True)


def info(started: float = 0.0, problems: tuple[tuple[str, str, str, str], ...] = ()) -> DaemonInfo:
    return DaemonInfo("test", "node1", started, 179, ("127.0.0.1",), "retain", True,
                      Global(asn=65000, router_id="127.0.0.1"), problems)


def speaker(families: tuple[object, ...] = (IPV4_UNICAST,)) -> tuple[Speaker, int]:
    """Our speaker (AS 65000) with peer X (AS 65050), started; returns the connection id."""
    cfg = SessionConfig(65000, "127.0.0.1", X, 65050, hold_time=90, families=families)  # type: ignore[arg-type]
    s = Speaker(65000, "127.0.0.1", [NeighborSettings(X, cfg)], [LocalRoute("192.0.2.0/24")])
    out = s.handle(ev.Started(), 10.0)
    conn = next(o.conn for o in out if isinstance(o, ev.Connect))
    s.handle(ev.Connected(X, conn, "127.0.0.1", outgoing=True), 10.0)
    return s, conn


def establish(s: Speaker, conn: int, open_msg: Open) -> None:
    s.handle(ev.Received(X, conn, open_msg.encode()), 11.0)
    s.handle(ev.Received(X, conn, KEEPALIVE_BYTES), 11.0)


def peer_open(families: tuple[object, ...] = (IPV4_UNICAST,)) -> Open:
    return build_open(SessionConfig(65050, "10.0.0.50", "127.0.0.1", 65000, families=families))  # type: ignore[arg-type]


def announce(s: Speaker, conn: int, prefixes: list[str], *asns: int, now: float = 12.0) -> None:
    attrs = AttrSet([Origin(0), AsPath(((2, asns),)), NextHop(X)])
    keys = tuple(parse_prefix(p)[1] for p in prefixes)
    s.handle(ev.Received(X, conn, encode_update(Update(attrs=attrs, nlri=keys), CTX)), now)
    s.handle(ev.InputDrained(), now)


def lines(s: Speaker, q: PathQuery, now: float = 20.0) -> list[dict[str, object]]:
    return [json.loads(line) for chunk in paths(s, q, now) for line in chunk.decode().splitlines()]


def test_peer_rows_count_received_accepted_and_advertised_and_keep_refused_routes() -> None:
    s, conn = speaker()
    establish(s, conn, peer_open())
    announce(s, conn, ["10.1.0.0/24", "10.2.0.0/24"], 65050)
    announce(s, conn, ["10.3.0.0/24"], 65050, 65000)  # our own AS: refused (RFC 4271 §9.1.2)
    s.handle(ev.InputDrained(), 12.0)
    (peer,) = list_peers(s, 15.0)
    assert peer.state == "Established" and peer.uptime == pytest.approx(4.0)
    (row,) = peer.families
    assert (row.received, row.accepted, row.advertised, row.stale) == (3, 2, 1, 0)
    assert peer.messages_received.update == 2 and peer.messages_sent.update >= 1
    post = lines(s, PathQuery("adj-in", peer=X))
    assert [e["prefix"] for e in post] == ["10.1.0.0/24", "10.2.0.0/24"]
    pre = lines(s, PathQuery("adj-in", peer=X, post_policy=False))
    refused = [e for e in pre if e["rejected"]]
    assert [e["prefix"] for e in refused] == ["10.3.0.0/24"] and "AS loop" in str(refused[0]["rejected"])
    out = lines(s, PathQuery("adj-out", peer=X))
    assert [(e["prefix"], e["attrs"]["as_path"]) for e in out] == [("192.0.2.0/24", "65000")]  # type: ignore[index]


def test_loc_rib_listing_flags_best_and_age_and_filters_by_prefix() -> None:
    s, conn = speaker()
    establish(s, conn, peer_open())
    announce(s, conn, ["10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.9.0.0/24"], 65050, now=12.0)
    loc = lines(s, PathQuery())
    assert [e["prefix"] for e in loc] == ["10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.9.0.0/24",
                                          "192.0.2.0/24"]
    first = loc[0]
    assert first["best"] and first["source"] == X and first["age"] == pytest.approx(8.0)
    assert first["next_hop"] == [X]
    assert first["attrs_text"] == "origin igp as-path [65050] next-hop 127.0.0.50"
    assert [e["prefix"] for e in lines(s, PathQuery(prefix="10.1.2.0/24"))] == ["10.1.2.0/24"]
    longer = lines(s, PathQuery(prefix="10.1.0.0/16", longer=True))
    assert [e["prefix"] for e in longer] == ["10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25"]
    assert [e["prefix"] for e in lines(s, PathQuery(prefix="10.1.2.200"))] == ["10.1.2.128/25"]
    assert [e["prefix"] for e in lines(s, PathQuery(peer=X))][-1] == "10.9.0.0/24"  # local route filtered


def test_bad_queries_are_request_errors() -> None:
    s, _ = speaker()
    for q, status in ((PathQuery(family="ipv5-unicast"), 400), (PathQuery("adj-in"), 400),
                      (PathQuery("adj-in", peer="127.0.0.99"), 404), (PathQuery(prefix="2001:db8::/32"), 400),
                      (PathQuery(prefix="banana"), 400), (PathQuery(table="nope"), 400)):
        with pytest.raises(RequestError) as err:
            paths(s, q, 1.0)
        assert err.value.status == status, q


def test_health_reports_a_peer_that_never_established_after_the_grace_time() -> None:
    s, conn = speaker()
    s.handle(ev.ConnectFailed(X, conn, "Connection refused"), 11.0)
    assert health(s, info(started=10.0), 15.0).healthy
    h = health(s, info(started=10.0), 25.0)
    assert not h.healthy
    (c,) = h.conditions
    assert (c.type, c.subject, c.severity) == ("PeerNeverEstablished", X, "warning")
    assert "Connection refused" in c.message


def test_health_names_the_families_the_peer_did_not_negotiate() -> None:
    s, conn = speaker((IPV4_UNICAST, IPV6_UNICAST))
    establish(s, conn, peer_open((IPV4_UNICAST,)))
    (c,) = health(s, info(), 20.0).conditions
    assert c.type == "FamiliesNotNegotiated" and "ipv6-unicast" in c.message
    rows = {r.family: r for r in list_peers(s, 20.0)[0].families}
    assert rows["ipv6-unicast"].configured and not rows["ipv6-unicast"].negotiated


def test_health_reports_a_refused_hold_time_under_three_seconds() -> None:
    # RFC 4271 §4.2 / §6.2: a Hold Time of 1 or 2 seconds is refused (OPEN error subcode 6).
    s, conn = speaker()
    good = peer_open()
    bad = Open.build(good.asn, 2, good.bgp_id, good.capabilities)
    s.handle(ev.Received(X, conn, bad.encode()), 11.0)
    conds = health(s, info(), 12.0).conditions
    assert [c.type for c in conds] == ["HoldTimeRejected"]
    assert s.peers[X].stats.last_sent_notification == (2, 6)


def test_health_carries_the_daemons_own_problems() -> None:
    s, _ = speaker()
    h = health(s, info(problems=(("MissingReference", "api-token-file /nope", "TokenFileUnreadable",
                                  "cannot read the API token"),)), 11.0)
    assert not h.healthy and h.conditions[0] == schema.Condition(
        type="MissingReference", severity="error", subject="api-token-file /nope",
        reason="TokenFileUnreadable", message="cannot read the API token")
