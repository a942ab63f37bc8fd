"""``gracebgp peers`` and ``gracebgp neighbor ADDR`` show a session held down by its prefix
limit apart from an administrative shutdown, with when it comes back."""

from __future__ import annotations

from gracebgp.api.schema import PeerFamily
from gracebgp.cli.render import peer_pairs, peer_state
from tests.unit.cli import canned


def test_held_down_state_says_why_and_until_when() -> None:
    held = canned.peer(state="Idle", uptime=None, held_down="prefix-limit", restart_in=29.6)
    assert peer_state(held) == "Idle (prefix-limit, restart in 30s)"
    forever = canned.peer(state="Idle", uptime=None, held_down="prefix-limit")
    assert peer_state(forever) == "Idle (prefix-limit, until enabled)"
    both = canned.peer(state="Idle", uptime=None, admin_down=True, held_down="prefix-limit")
    assert peer_state(both) == "Idle (admin down)"  # the operator's shutdown comes first
    assert peer_state(canned.peer()) == "Established"


def test_neighbor_detail_shows_the_limit_of_each_family() -> None:
    fams = [PeerFamily(family="ipv4-unicast", configured=True, negotiated=True, received=3, accepted=3,
                       advertised=5, stale=0, max_prefixes=1000),
            PeerFamily(family="ipv6-unicast", configured=True, negotiated=True, received=1, accepted=1,
                       advertised=2, stale=0)]
    pairs = dict(peer_pairs(canned.peer(families=fams)))
    assert pairs["Family ipv4-unicast"].endswith("stale 0, max-prefixes 1000")
    assert pairs["Family ipv6-unicast"].endswith("stale 0")
