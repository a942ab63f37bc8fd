"""TTL rules as GoBGP applies them (issue 11 finding 6, deliverable 4): GTSM (RFC 5082)
sends with TTL 255 and accepts nothing below ttl-min; single-hop eBGP sends with TTL 1;
ebgp-multihop sends with multihop-ttl; iBGP keeps the kernel's default. The options go
to both directions: the Connect command and the listeners (AcceptFrom)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gracebgp.config import ConfigError, parse
from gracebgp.core import events as ev
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import IN_PLACE, RESET
from gracebgp.core.speaker import Speaker

from .test_reload import _reload
from .test_speaker import demo_pair

B = "127.0.0.2"

BASE = """[global.config]
as = 65000
router-id = "192.0.2.1"
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.9"
peer-as = {peer_as}
"""
MULTIHOP = "[neighbors.ebgp-multihop.config]\nenabled = true\nmultihop-ttl = 3\n"
GTSM = "[neighbors.ttl-security.config]\nenabled = true\n"


def options(extra: str = "", peer_as: int = 65009) -> ev.SocketOptions:
    cfg = parse(BASE.format(peer_as=peer_as) + extra)
    return NeighborSettings.from_config(cfg.neighbors[0], cfg.global_).sockets


@pytest.mark.parametrize(("extra", "peer_as", "ttl", "min_ttl"), [
    ("", 65009, 1, None),  # single-hop eBGP
    (MULTIHOP, 65009, 3, None),
    ("", 65000, None, None),  # iBGP: the kernel's default
    (MULTIHOP, 65000, 3, None),  # as written: multihop-ttl
    (GTSM, 65009, 255, 255),  # GoBGP's default ttl-min: a directly connected peer
    (GTSM + "ttl-min = 254\n", 65009, 255, 254),  # two hops away
    (GTSM, 65000, 255, 255),  # iBGP too
    ("[neighbors.ttl-security.config]\nenabled = false\nttl-min = 200\n", 65009, 1, None),
])
def test_ttl_rules(extra: str, peer_as: int, ttl: int | None, min_ttl: int | None) -> None:
    o = options(extra, peer_as)
    assert (o.ttl, o.min_ttl) == (ttl, min_ttl)


def test_gtsm_and_multihop_exclude_each_other() -> None:
    with pytest.raises(ConfigError) as err:
        parse(BASE.format(peer_as=65009) + MULTIHOP + GTSM, "bgp.toml")
    (p,) = err.value.problems
    assert (p.line, p.key) == (12, "neighbors[0].ttl-security.config.enabled")
    assert "ttl-min = 256 - N" in p.message


@pytest.mark.parametrize("value", [0, 256])
def test_ttl_min_is_a_ttl(value: int) -> None:
    with pytest.raises(ConfigError) as err:
        parse(BASE.format(peer_as=65009) + GTSM + f"ttl-min = {value}\n", "bgp.toml")
    assert err.value.problems[0].key == "neighbors[0].ttl-security.config.ttl-min"


def test_both_directions_get_the_options() -> None:
    cfg = parse(BASE.format(peer_as=65009) + GTSM)
    s = Speaker(65000, "192.0.2.1", [NeighborSettings.from_config(cfg.neighbors[0], cfg.global_)], [])
    gtsm = ev.SocketOptions(ttl=255, min_ttl=255)
    assert s.accept_commands() == [ev.AcceptFrom("192.0.2.9", gtsm)]
    (connect,) = [o for o in s.handle(ev.Started(), 1.0) if isinstance(o, ev.Connect)]
    assert connect.options == gtsm


TRANSPORT = "[neighbors.transport.config]\n"


@pytest.mark.parametrize(("peer_as", "ttl"), [(65009, 5), (65000, 5)])
def test_transport_ttl_sets_the_ttl_where_no_other_rule_does(peer_as: int, ttl: int) -> None:
    assert options(TRANSPORT + "ttl = 5\n", peer_as).ttl == ttl


@pytest.mark.parametrize(("extra", "key"), [
    (GTSM + TRANSPORT + "ttl = 5\n", "ttl-security.config.enabled"),
    (MULTIHOP + TRANSPORT + "ttl = 5\n", "ebgp-multihop.config.enabled"),
    (TRANSPORT + "tcp-mss = 50\n", "transport.config.tcp-mss"),
    (TRANSPORT + "tcp-mss = 40000\n", "transport.config.tcp-mss"),
    (TRANSPORT + 'bind-interface = "a-very-long-interface"\n', "transport.config.bind-interface"),
    (TRANSPORT + 'bind-interface = "eth 0"\n', "transport.config.bind-interface"),
    (TRANSPORT + "ip-tos = 256\n", "transport.config.ip-tos"),
    (TRANSPORT + "local-port = 65536\n", "transport.config.local-port"),
])
def test_transport_values_linux_cannot_take_or_that_would_be_ignored_are_errors(extra: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(BASE.format(peer_as=65009) + extra, "bgp.toml")
    assert [p.key for p in err.value.problems] == [f"neighbors[0].{key}"]


def test_the_transport_keys_reach_the_socket_options() -> None:
    o = options(TRANSPORT + 'local-port = 1790\ntcp-mss = 1200\nip-tos = 192\nbind-interface = "eth1"\n'
                "mtu-discovery = false\n")
    assert o == ev.SocketOptions(ttl=1, tcp_mss=1200, tos=192, bind_interface="eth1", pmtu_discovery=False,
                                 local_port=1790)
    assert options(TRANSPORT + "mtu-discovery = true\n").pmtu_discovery is True
    assert options().pmtu_discovery is None  # absent: the kernel's default


def test_a_reload_resets_for_socket_options_and_not_for_the_next_source_port() -> None:
    net, a, _b = demo_pair()
    out, entry = _reload(net, a, lambda s: replace(s, sockets=replace(s.sockets, local_port=1790)))
    assert entry["action"] == IN_PLACE and entry["changed"] == ["local-port"]
    assert ev.AcceptFrom(B, a.peers[B].settings.sockets) in out
    out, entry = _reload(net, a, lambda s: replace(s, sockets=replace(s.sockets, tcp_mss=1200, tos=192)))
    assert entry["action"] == RESET and entry["changed"] == ["tcp-mss", "ip-tos"]
