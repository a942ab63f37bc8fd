"""A full-featured configuration survives load -> to_toml -> load, and the models behave as values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gracebgp.config import Config, Global, Neighbor, Route, load_file, parse, to_toml
from gracebgp.types import IPV4_UNICAST

from .conftest import FIXTURES


@pytest.mark.parametrize("name", ["full.toml", "seed_132.toml", "seed_134.toml", "kube_router_style.toml"])
def test_round_trip(name: str) -> None:
    config = load_file(FIXTURES / name)
    text = to_toml(config)
    again = parse(text, "dumped.toml")
    assert again == config
    assert to_toml(again) == text


def test_full_fixture_values() -> None:
    c = load_file(FIXTURES / "full.toml")
    g = c.global_
    assert (g.asn, g.router_id, g.port, g.local_address_list) == (64512, "192.0.2.1", 1179,
                                                                   ("192.0.2.1", "2001:db8::1"))
    a, b = c.neighbors
    assert (a.peer_as, a.local_as, a.description, a.admin_down, a.auth_password) == (
        64513, 4200000000, 'upstream "A" — primary', True, "s3cret")
    timers = (a.hold_time, a.keepalive_interval, a.connect_retry, a.idle_hold_time_after_reset)
    assert timers == (30, 10, 5, 15)
    assert (a.passive_mode, a.local_address, a.remote_port) == (True, "192.0.2.1", 1790)
    assert (a.ebgp_multihop_enabled, a.ebgp_multihop_ttl) == (True, 3)
    gr = a.graceful_restart
    assert (gr.enabled, gr.restart_time, gr.helper_only, gr.deferral_time, gr.notification_enabled,
            gr.long_lived_enabled, gr.stale_routes_time) == (True, 240, True, 180, True, True, 600)
    v4, v6 = a.afi_safis
    assert (v4.add_paths_receive, v4.add_paths_send_max) == (False, 0)  # its own values win
    assert (v6.add_paths_receive, v6.add_paths_send_max, v6.enabled) == (True, 0, False)  # inherited
    assert a.families == (IPV4_UNICAST,)
    assert (v4.long_lived_graceful_restart, v4.long_lived_restart_time) == (True, 86400)
    assert (b.neighbor_address, b.route_reflector_client, b.route_reflector_cluster_id) == (
        "2001:db8::2", True, "10.0.0.1")
    assert c.cluster_id_of(b) == "10.0.0.1" and c.cluster_id_of(a) == "192.0.2.1"
    assert b.afi_safis[0].name == "ipv6-unicast"  # GoBGP's default follows the neighbor address
    assert b.graceful_restart.restart_time == 90  # defaults to the hold time, as in GoBGP
    x = c.gracebgp
    assert (x.state_dir, x.api_socket, x.api_listen, x.api_token_file) == (
        "/var/lib/gracebgp-test", "/run/gracebgp-test.sock", "[::1]:8179", "/etc/gracebgp/token")
    assert (x.sigterm, x.forwarding_state_preserved) == ("withdraw", False)
    r1, r2 = x.routes
    assert r1 == Route(prefix="198.51.100.0/24", next_hop="192.0.2.1", origin="incomplete",
                       communities=("64512:100", "NO_EXPORT"), large_communities=("64512:1:2",),
                       med=50, local_pref=200)
    assert (r2.prefix, r2.next_hop, r2.origin, r2.med) == ("2001:db8:1::/48", None, "igp", None)


def test_models_are_frozen_hashable_values() -> None:
    c = load_file(FIXTURES / "seed_132.toml")
    with pytest.raises(ValidationError):
        c.neighbors[0].hold_time = 3
    assert hash(c) == hash(load_file(FIXTURES / "seed_132.toml"))
    assert c.neighbor("192.168.128.134") is c.neighbors[0] and c.neighbor("192.0.2.99") is None


def test_direct_construction_uses_gobgp_defaults_and_checks_conflicts() -> None:
    n = Neighbor(neighbor_address="2001:db8::9", peer_as=65010, hold_time=30)
    derived = (n.keepalive_interval, n.graceful_restart.restart_time, n.afi_safis[0].name)
    assert derived == (10, 30, "ipv6-unicast")
    g = Global(asn=65001, router_id="192.0.2.1")
    assert Config(global_=g, neighbors=(n,)).neighbors == (n,)
    with pytest.raises(ValidationError, match="already defined by neighbors"):
        Config(global_=g, neighbors=(n, n))
    with pytest.raises(ValidationError, match="route-reflector client must be iBGP"):
        Config(global_=g, neighbors=(n.model_copy(update={"route_reflector_client": True}),))
