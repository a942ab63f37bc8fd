"""The embedded demo configuration: two loopback speakers that peer with each other."""

from __future__ import annotations

from gracebgp.config import parse
from gracebgp.config.default import demo_configs
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST


def test_demo_speakers_load_and_point_at_each_other() -> None:
    text_a, text_b = demo_configs(17901, 17902, "/tmp/gbd")
    a, b = parse(text_a, "a.toml"), parse(text_b, "b.toml")
    assert (a.global_.asn, a.global_.router_id, a.global_.port, a.global_.local_address_list) == (
        65001, "127.0.0.1", 17901, ("127.0.0.1",))
    assert (b.global_.asn, b.global_.router_id, b.global_.port, b.global_.local_address_list) == (
        65002, "127.0.0.2", 17902, ("127.0.0.2",))
    (na,), (nb,) = a.neighbors, b.neighbors
    assert (na.neighbor_address, na.peer_as, na.remote_port, na.local_address) == ("127.0.0.2", 65002, 17902,
                                                                                  "127.0.0.1")
    assert (nb.neighbor_address, nb.peer_as, nb.remote_port, nb.local_address) == ("127.0.0.1", 65001, 17901,
                                                                                  "127.0.0.2")
    for config, neighbor in ((a, na), (b, nb)):
        assert config.is_ebgp(neighbor)
        assert neighbor.families == (IPV4_UNICAST, IPV6_UNICAST)
        gr = neighbor.graceful_restart
        assert gr.enabled and gr.long_lived_enabled and gr.notification_enabled
        assert all(af.mp_graceful_restart and af.long_lived_graceful_restart
                   and af.long_lived_restart_time > 0 for af in neighbor.afi_safis)
        families = [r.family for r in config.gracebgp.routes]
        assert families.count(IPV4_UNICAST) == 3 and families.count(IPV6_UNICAST) == 2
    assert a.gracebgp.state_dir == "/tmp/gbd/speaker-a"
    assert a.gracebgp.api_socket == "/tmp/gbd/speaker-a/gracebgpd.sock"
    assert b.gracebgp.api_socket == "/tmp/gbd/speaker-b/gracebgpd.sock"


def test_demo_routes_are_documentation_prefixes_and_disjoint() -> None:
    import ipaddress

    docs = [ipaddress.ip_network(n)
            for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
    a, b = (parse(t) for t in demo_configs(1, 2, "/s"))
    prefixes = [ipaddress.ip_network(r.prefix) for c in (a, b) for r in c.gracebgp.routes]
    assert all(any(p.version == d.version and p.subnet_of(d) for d in docs) for p in prefixes)  # type: ignore[arg-type]
    assert len(set(prefixes)) == 10
    assert all(r.next_hop == "::ffff:127.0.0.1" for r in a.gracebgp.routes if r.family == IPV6_UNICAST)


def test_state_dir_with_quotes_and_backslashes() -> None:
    text_a, _ = demo_configs(1, 2, "/tmp/it's \\here")
    assert parse(text_a).gracebgp.state_dir == "/tmp/it's \\here/speaker-a"
