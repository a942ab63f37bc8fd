"""``gracebgp neighbor ADDR`` / GetPeer ``settings`` (issue 15, item 1): every key a peer
runs with, its value, and where it came from: the neighbor's line, its peer group's
line, a dynamic-neighbors range, or the default; and the API and CLI carry it."""

from __future__ import annotations

from gracebgp.api.service import DaemonInfo, get_peer
from gracebgp.cli.render import peer_pairs
from gracebgp.config.effective import settings
from gracebgp.config.loader import parse_detailed
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.fromconfig import build_speaker

from .conftest import MINIMAL
from .test_dynamic_neighbors import GROUP, RANGE

TEXT = MINIMAL + GROUP + """\
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.2"
    peer-group = "leaves"
    peer-as = 65002
  [neighbors.timers.config]
    keepalive-interval = 5
""" + RANGE


def test_a_members_values_come_from_itself_its_group_or_the_default() -> None:
    got = {key: (value, source) for key, value, source in settings(parse_detailed(TEXT), "192.0.2.2")}
    assert got["config.neighbor-address"] == ("192.0.2.2", "neighbor, line 15")
    assert got["config.peer-as"] == ("65002", "neighbor, line 17")
    assert got["timers.config.hold-time"] == ("30", "peer group 'leaves', line 9")
    assert got["timers.config.keepalive-interval"] == ("5", "neighbor, line 19")
    assert got["config.auth-password"] == ("(set)", "peer group 'leaves', line 7")  # never the key
    assert got["timers.config.connect-retry"] == ("120", "default")
    assert got["afi-safis"] == ("ipv4-unicast", "default")  # the family of the neighbor's address
    assert settings(parse_detailed(TEXT), "192.0.2.9") == []


def test_a_dynamic_peers_values_come_from_its_range_and_group() -> None:
    got = {key: (value, source) for key, value, source in
           settings(parse_detailed(TEXT), "10.0.0.7", "10.0.0.0/24")}
    assert got["config.neighbor-address"] == ("10.0.0.7", "dynamic-neighbors range 10.0.0.0/24, line 22")
    assert got["config.peer-as"][0] == "any" and got["config.peer-as"][1].startswith("default")
    assert got["timers.config.hold-time"] == ("30", "peer group 'leaves', line 9")
    assert got["timers.config.keepalive-interval"] == ("10", "default")  # a third of the group's 30


def test_get_peer_and_the_cli_show_them() -> None:
    loaded = parse_detailed(TEXT)
    sp: Speaker = build_speaker(loaded.config)
    info = DaemonInfo("test", "node", 0.0, 179, (), "retain", True, loaded.config.global_,
                      settings=lambda address, rng: settings(loaded, address, rng))
    peer = get_peer(sp, "192.0.2.2", 1.0, info)
    assert ("timers.config.hold-time", "30", "peer group 'leaves', line 9") in \
        [(s.key, s.value, s.source) for s in peer.settings]
    pairs = dict(peer_pairs(peer))
    assert pairs["  timers.config.hold-time"] == "30  <- peer group 'leaves', line 9"
    assert get_peer(sp, "192.0.2.2", 1.0).settings == []  # ListPeers-like views carry none
