"""gracebgp-proxyd's configuration file: values, defaults, NAT plan and file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp.config.problems import ConfigError
from gracebgp.proxy.actions import DEFAULT_PREFIX_LIMIT
from gracebgp.proxy.config import SOCKET_NAME, load, parse, port_key
from gracebgp.proxy.placement import SessionKind, nodes_for

GOOD = """\
[proxy]
state-dir = "/run/p"
listen-port = 1179

[[networks]]
name = "blue"
gateway = ["192.168.100.1", "fd00:100::1"]
service = "192.168.100.2"
control-nodes = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
upstream-address = "10.0.0.2"
nat-port-range = [50000, 50003]
next-hop-rewrite = true
prefix-limit = 100
eor-timeout = 5

[[networks.vms]]
interface = "vmi-3"
addresses = ["192.168.100.3", "fd00:100::3"]
"""


def test_values_and_defaults() -> None:
    cfg = parse(GOOD)
    assert (cfg.state_dir, cfg.api_socket, cfg.listen_port, cfg.control_node_port) == \
        ("/run/p", f"/run/p/{SOCKET_NAME}", 1179, 179)
    (net,) = cfg.networks
    assert [str(a) for a in net.gateway] == ["192.168.100.1", "fd00:100::1"]
    assert [str(a) for a in net.service] == ["192.168.100.2"]
    assert net.control_nodes == ("10.0.0.11", "10.0.0.12", "10.0.0.13")
    o = net.options
    assert (o.next_hop_ipv4, o.next_hop_ipv6, o.prefix_limit, o.eor_timeout, o.rehome) == \
        ("192.168.100.1", "fd00:100::1", 100, 5.0, True)
    # three sessions (gateway v4 and v6, service v4) in a range of four ports
    keys = {port_key("blue", "vmi-3", SessionKind.GATEWAY, False),
            port_key("blue", "vmi-3", SessionKind.GATEWAY, True),
            port_key("blue", "vmi-3", SessionKind.SERVICE, False)}
    assert set(cfg.nat_ports) == keys
    assert len(set(cfg.nat_ports.values())) == 3
    assert all(50000 <= p <= 50003 for p in cfg.nat_ports.values())
    assert parse(GOOD).nat_ports == cfg.nat_ports  # the same file, the same ports


def test_relay_options_and_ports() -> None:
    text = GOOD.replace("eor-timeout = 5", "eor-timeout = 5\nrehome = false\nrehome-buffer = 4096\n"
                                           "attempt-timeout = 2.5")
    text = text.replace("listen-port = 1179", "listen-port = 1179\ncontrol-node-port = 1180\n"
                                              'api-socket = "/tmp/x.sock"')
    cfg = parse(text)
    o = cfg.networks[0].options
    assert (o.rehome, o.buffer_limit, o.attempt_timeout) == (False, 4096, 2.5)
    assert (cfg.control_node_port, cfg.api_socket) == (1180, "/tmp/x.sock")


def test_without_rewrite_next_hops_stay() -> None:
    cfg = parse(GOOD.replace("next-hop-rewrite = true", "next-hop-rewrite = false"))
    assert cfg.networks[0].options.next_hop_ipv4 is None


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, "p.toml")
    return [str(p) for p in info.value.problems]


def test_unknown_key_names_file_line_and_key() -> None:
    assert problems(GOOD.replace("prefix-limit = 100", "prefix-limt = 100")) == [
        "p.toml:13: networks[0].prefix-limt: unknown key (known: attempt-timeout, control-nodes, "
        "eor-timeout, gateway, name, nat-port-range, next-hop-rewrite, prefix-limit, rehome, "
        "rehome-buffer, service, upstream-address, upstream-pool, vms)"]


@pytest.mark.parametrize(("change", "expected"), [
    (("listen-port = 1179", "listen-port = 0"), "p.toml:3: proxy.listen-port: must be 1-65535"),
    (('upstream-address = "10.0.0.2"', 'upstream-address = "fd00::2"'),
     "p.toml:10: networks[0].upstream-address: must be of the control nodes' address family"),
    (("nat-port-range = [50000, 50003]", "nat-port-range = [50000, 50001]"),
     "p.toml:11: networks[0].nat-port-range: 3 sessions do not fit in NAT ports 50000-50001"),
    (('service = "192.168.100.2"', 'service = "192.168.100.1"'),
     "p.toml:8: networks[0].service: the service address must differ from the gateway address"),
    (('"10.0.0.12", "10.0.0.13"', '"10.0.0.11", "10.0.0.13"'),
     "p.toml:9: networks[0].control-nodes: a control node is listed twice"),
    (("prefix-limit = 100", "prefix-limit = 0"),
     "p.toml:13: networks[0].prefix-limit: must be greater than 0"),
    (('addresses = ["192.168.100.3", "fd00:100::3"]', 'addresses = ["vm"]'),
     "p.toml:18: networks[0].vms[0].addresses[0]: 'vm' is not an IP address"),
    (("eor-timeout = 5", 'eor-timeout = "5"'), "p.toml:14: networks[0].eor-timeout: must be a number"),
    # two sessions from one interface and family would share a NAT port
    (('addresses = ["192.168.100.3", "fd00:100::3"]', 'addresses = ["192.168.100.3", "192.168.100.4"]'),
     "p.toml:18: networks[0].vms[0].addresses: at most one IPv4 and one IPv6 address per VM interface "
     "(its sessions' NAT ports are per interface and family)"),
    (('gateway = ["192.168.100.1", "fd00:100::1"]', "gateway = [5]"),
     "p.toml:7: networks[0].gateway[0]: 5 is not an IP address"),
    (('"10.0.0.12", "10.0.0.13"', '"10.0.0.12", 1'),
     "p.toml:9: networks[0].control-nodes[2]: 1 is not an IP address"),
])
def test_bad_values(change: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    assert expected in problems(text)


def test_prefix_limit_has_a_default() -> None:
    (net,) = parse(GOOD.replace("prefix-limit = 100\n", "")).networks
    assert net.options.prefix_limit == DEFAULT_PREFIX_LIMIT == 10_000
    assert parse(GOOD).networks[0].options.prefix_limit == 100


def test_two_networks_same_upstream_overlapping_ranges() -> None:
    second = GOOD[GOOD.index("[[networks]]"):].replace('"blue"', '"red"')
    second = second.replace("192.168.100.", "192.168.200.").replace("fd00:100::", "fd00:200::")
    found = problems(GOOD + second)
    assert any("networks[1].nat-port-range: overlaps networks[0]'s range" in p for p in found)


def test_required_and_syntax() -> None:
    assert "p.toml:1: networks: at least one [[networks]] table is required" in problems("[proxy]\n")
    assert any(p.startswith("p.toml:1: (syntax)") for p in problems("[proxy\n"))
    found = problems('[[networks]]\nname = "x"\n')
    assert "p.toml:1: networks[0]: control-nodes is required" in found
    assert "p.toml:1: networks[0]: a network needs a gateway or a service address to answer on" in found


def test_load_reads_the_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD)
    assert load(path).networks[0].name == "blue"
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")


def test_the_documented_example_loads_with_the_ports_the_readme_shows() -> None:
    docs = Path(__file__).parents[3] / "docs"
    text = (docs / "proxy.md").read_text().split("```toml\n")[1].split("```")[0]
    cfg = parse(text, "docs/proxy.md")
    ports = {k.text(): p for k, p in cfg.nat_ports.items()}
    assert ports["blue/vmi-3/gateway"] == 50271 and ports["blue/vmi-3/service"] == 50314
    nodes = cfg.networks[0].control_nodes
    assert nodes_for("blue", "vmi-3", SessionKind.GATEWAY, nodes)[0] == "10.0.0.12"
    assert nodes_for("blue", "vmi-3", SessionKind.SERVICE, nodes)[0] == "10.0.0.11"
    readme = (docs.parent / "README.md").read_text()
    assert "gateway  50271     10.0.0.12     primary" in readme
    assert "service  50314     10.0.0.11     secondary" in readme


POOL = GOOD.replace('upstream-address = "10.0.0.2"', 'upstream-pool = "10.0.1.0/29"') + """
[[networks.vms]]
interface = "vmi-4"
addresses = ["192.168.100.4"]
"""


def test_upstream_pool_gives_each_session_an_address_of_its_own() -> None:
    cfg = parse(POOL.replace("[50000, 50003]", "[50000, 50010]"))
    pool = {f"10.0.1.{n}" for n in range(1, 7)}  # the /29's hosts
    addresses = cfg.upstream_addresses
    assert len(addresses) == len(cfg.nat_ports) == 6  # 2 interfaces x gateway v4/v6 + service
    assert set(addresses) == set(cfg.nat_ports) and len(set(addresses.values())) == 6
    assert set(addresses.values()) <= pool
    again = parse(POOL.replace("[50000, 50003]", "[50000, 50010]")).upstream_addresses
    assert again == addresses  # planned from the file: the same on every start
    assert parse(GOOD).upstream_addresses == {}  # one upstream address: none per session


@pytest.mark.parametrize(("change", "expected"), [
    (('upstream-pool = "10.0.1.0/29"', 'upstream-pool = "10.0.1.0/30"'),
     "p.toml:10: networks[0].upstream-pool: 6 sessions do not fit in the pool's 2 addresses"),
    (('upstream-pool = "10.0.1.0/29"', 'upstream-pool = "fd00:1::/120"'),
     "p.toml:10: networks[0].upstream-pool: must be of the control nodes' address family"),
    (('upstream-pool = "10.0.1.0/29"', 'upstream-pool = "10.0.1.1/29"'),
     "p.toml:10: networks[0].upstream-pool: '10.0.1.1/29' is not an IP prefix "
     "(10.0.1.1/29 has host bits set)"),
    (('upstream-pool = "10.0.1.0/29"', 'upstream-pool = "10.0.1.0/29"\nupstream-address = "10.0.0.2"'),
     "p.toml:5: networks[0]: one of upstream-address and upstream-pool is required (not both)"),
    (('upstream-pool = "10.0.1.0/29"\n', ""),
     "p.toml:5: networks[0]: one of upstream-address and upstream-pool is required (not both)"),
])
def test_bad_upstream_pool(change: tuple[str, str], expected: str) -> None:
    text = POOL.replace("[50000, 50003]", "[50000, 50010]").replace(*change)
    assert expected in problems(text)
