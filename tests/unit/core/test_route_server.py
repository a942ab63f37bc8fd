"""Speakers in memory as a route server and its clients (RFC 7947), and allow-own-as on
import (RFC 4271 §9.1.2 relaxed, GoBGP's meaning): configuration to wire to Loc-RIB."""

from __future__ import annotations

from gracebgp.config import parse
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import RESET, plan
from gracebgp.core.speaker import Speaker
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import AsPath, AttrSet, CodecContext, NextHop, Origin, encode_message
from gracebgp.wire.nlri import format_prefix, parse_prefix
from gracebgp.wire.update import Update

from .net import SpeakerNet


def speaker(asn: int, address: str, neighbors: str, routes: str = "") -> Speaker:
    cfg = parse(f'[global.config]\nas = {asn}\nrouter-id = "{address}"\n{neighbors}{routes}')
    settings = [NeighborSettings.from_config(n, cfg.global_) for n in cfg.neighbors]
    return Speaker(cfg.global_.asn, cfg.global_.router_id, settings,
                   [LocalRoute.from_config(r) for r in cfg.gracebgp.routes])


def neighbor(address: str, asn: int, extra: str = "") -> str:
    return f'[[neighbors]]\n[neighbors.config]\nneighbor-address = "{address}"\npeer-as = {asn}\n{extra}'


def route(prefix: str, extra: str = "") -> str:
    return f'[[gracebgp.routes]]\nprefix = "{prefix}"\n{extra}'


RS_CLIENT = "[neighbors.route-server.config]\nroute-server-client = true\n"
A, B, C, RS = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.10"


def learned(s: Speaker) -> dict[str, tuple[tuple[object, ...], tuple[str, ...], int | None, tuple[int, ...]]]:
    """prefix -> (AS_PATH, next hop, MED, communities) of the routes ``s`` learned."""
    return {format_prefix(k, 1): (cand[1].attrs.as_path, cand[1].next_hop, cand[1].attrs.med,
                                  cand[1].attrs.communities)
            for k, cand in s.loc[IPV4_UNICAST].items() if not cand[0].local}


def route_server_net() -> tuple[SpeakerNet, Speaker, Speaker, Speaker, Speaker]:
    net = SpeakerNet()
    rs = net.add(RS, speaker(65000, RS, neighbor(A, 65001, RS_CLIENT) + neighbor(B, 65002, RS_CLIENT)
                             + neighbor(C, 65003)))
    a = net.add(A, speaker(65001, A, neighbor(RS, 65000),
                           route("10.1.0.0/24", 'med = 5\ncommunities = ["65001:7"]\n')))
    b = net.add(B, speaker(65002, B, neighbor(RS, 65000), route("10.2.0.0/24", "med = 9\n")))
    c = net.add(C, speaker(65003, C, neighbor(RS, 65000), route("10.3.0.0/24", "med = 1\n")))
    net.run()
    return net, rs, a, b, c


def test_clients_see_each_other_as_if_directly_peered_rfc7947() -> None:
    _, rs, a, b, c = route_server_net()
    comm = 65001 << 16 | 7
    # §2.2.2.1 no AS prepended, §2.2.1 NEXT_HOP of the announcing client, §2.2.3 MED and
    # §2.2.4 communities as sent
    assert learned(b)["10.1.0.0/24"] == (((2, (65001,)),), (A,), 5, (comm,))
    assert learned(a)["10.2.0.0/24"] == (((2, (65002,)),), (B,), 9, ())
    # a route from a non-client goes to the clients unchanged too: they are the clients
    assert learned(a)["10.3.0.0/24"] == (((2, (65003,)),), (C,), 1, ())
    # the non-client C is an ordinary eBGP peer: our AS prepended, our next hop, no MED
    assert learned(c)["10.1.0.0/24"] == (((2, (65000, 65001)),), (RS,), None, (comm,))
    # no client gets its own route back
    assert "10.1.0.0/24" not in learned(a) and "10.2.0.0/24" not in learned(b)
    key_a = parse_prefix("10.1.0.0/24")[1]
    assert key_a not in rs.peers[A].adj_out[IPV4_UNICAST].advertised


def test_a_path_through_a_clients_as_is_not_sent_to_it() -> None:
    # One Loc-RIB (no per-client RIBs, RFC 7947 §2.3.2.1): the best path is the same for
    # every client, and a path whose AS_PATH holds a client's AS is not sent to that client.
    net = SpeakerNet()
    rs = net.add(RS, speaker(65000, RS, neighbor(A, 65001, RS_CLIENT) + neighbor(B, 65002, RS_CLIENT)))
    d = "127.0.0.4"  # AS 65002 again, behind A
    net.add(A, speaker(65001, A, neighbor(RS, 65000) + neighbor(d, 65002)))
    b = net.add(B, speaker(65002, B, neighbor(RS, 65000), route("10.2.0.0/24")))
    net.add(d, speaker(65002, d, neighbor(A, 65001), route("10.4.0.0/24")))
    net.run()
    assert "10.4.0.0/24" in {format_prefix(k, 1) for k, _ in rs.loc[IPV4_UNICAST].items()}
    assert "10.4.0.0/24" not in learned(b)


X = "127.0.0.21"


def own_as_update(allow: int, *asns: int) -> Speaker:
    """R (AS 65000) receives from its eBGP neighbor X (65005) 10.20.0.0/24 with AS_PATH
    ``asns`` (as a peer without a sender-side loop check sends it: FRR's default)."""
    option = f"[neighbors.as-path-options.config]\nallow-own-as = {allow}\n" if allow else ""
    net = SpeakerNet()
    r = net.add(RS, speaker(65000, RS, neighbor(X, 65005, option)))
    net.add(X, speaker(65005, X, neighbor(RS, 65000)))
    net.run()
    conn = next(end[2] for lk in net.links for end in (lk.a, lk.b) if end[:2] == (RS, X))
    attrs = AttrSet([Origin(0), AsPath(((2, asns),)), NextHop(X)])
    data = encode_message(Update(attrs=attrs, nlri=(parse_prefix("10.20.0.0/24")[1],)),
                          CodecContext(as4=True))
    net.queue.append((RS, ev.Received(X, conn, data)))
    net.run()
    return r


def test_own_as_refused_by_default_and_accepted_with_allow_own_as() -> None:
    # Two sites of AS 65000 joined through AS 65005: R sees [65005 65000].
    refused = own_as_update(0, 65005, 65000)
    assert "10.20.0.0/24" not in learned(refused)
    reasons = [why for rej in refused.peers[X].rejected.values() for _, why in rej.values()]
    assert reasons and all("AS loop" in why for why in reasons)
    accepted = own_as_update(1, 65005, 65000)
    assert learned(accepted)["10.20.0.0/24"][0] == ((2, (65005, 65000)),)
    # allow-own-as N: up to N times, not N + 1
    assert "10.20.0.0/24" not in learned(own_as_update(1, 65005, 65000, 65000))
    assert "10.20.0.0/24" in learned(own_as_update(2, 65005, 65000, 65000))


def test_a_changed_option_resets_the_session_on_reload() -> None:
    # What is accepted and sent changes: the new session exchanges the routes again.
    old = speaker(65000, RS, neighbor(A, 65001)).peers[A].settings
    options = "[neighbors.as-path-options.config]\n"
    for option in (RS_CLIENT, options + "allow-own-as = 1\n", options + "replace-peer-as = true\n",
                   'remove-private-as = "all"\n'):
        new = speaker(65000, RS, neighbor(A, 65001, option)).peers[A].settings
        p = plan(old, new)
        assert p.action == RESET and len(p.changed) == 1, (option, p)
