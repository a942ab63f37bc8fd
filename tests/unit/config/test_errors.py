"""Every kind of configuration error names the file, the line and the key, and all are reported at once."""

from __future__ import annotations

import pytest

from gracebgp.config import ConfigError, ConfigProblem, check, load_file, parse
from gracebgp.errors import GraceBGPError

from .conftest import MINIMAL, only, problems

NEIGHBOR = """\
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
"""  # in MINIMAL + NEIGHBOR: [[neighbors]] on line 4, neighbor-address on 6, peer-as on 7


def test_error_type_and_format() -> None:
    with pytest.raises(ConfigError) as info:
        parse("bogus = 1\n" + MINIMAL, "dir/x.toml")
    assert isinstance(info.value, GraceBGPError)
    assert info.value.problems == (ConfigProblem("dir/x.toml", 1, "bogus", "unknown top-level key 'bogus'"),)
    assert str(info.value) == "dir/x.toml:1: bogus: unknown top-level key 'bogus'"


def test_toml_syntax_error_uses_tomllib_line() -> None:
    line, key, message = only(MINIMAL + "[[neighbors]]\n[neighbors.config]\npeer-as = = 1\n")
    assert (line, key) == (6, "(syntax)")
    assert message.startswith("TOML syntax error: ") and message.endswith("(column 11)")


def test_toml_redefined_table_is_a_syntax_error() -> None:
    line, key, _ = only(MINIMAL + "[global.config]\n")
    assert (line, key) == (4, "(syntax)")


@pytest.mark.parametrize(("extra", "line", "key", "message"), [
    ("[[neighbors]]\n[neighbors.config]\nneighbour-address = \"192.0.2.2\"\npeer-as = 1\n", 6,
     "neighbors[0].config.neighbour-address",
     "unknown key 'neighbour-address' in [neighbors.config]; did you mean 'neighbor-address'?"),
    ("[gracebgp]\nstate_dir = \"/x\"\n", 5, "gracebgp.state_dir",
     "unknown key 'state_dir' in [gracebgp]; did you mean 'state-dir'?"),
    ("[gracebgp]\ncolour = 1\n", 5, "gracebgp.colour", "unknown key 'colour' in [gracebgp]"),
])
def test_unknown_keys(extra: str, line: int, key: str, message: str) -> None:
    found = problems(MINIMAL + extra)
    # the misspelt neighbor-address also leaves the required key missing
    assert found[-1] == ConfigProblem("t.toml", line, key, message)


def test_unknown_key_in_global_config() -> None:
    assert only("[global.config]\nas = 1\nrouter-id = \"192.0.2.1\"\nrouterid = 3\n") == (
        4, "global.config.routerid", "unknown key 'routerid' in [global.config]; did you mean 'router-id'?")


def test_unknown_key_in_afi_safi_and_route() -> None:
    text = MINIMAL + NEIGHBOR + """[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"
[neighbors.afi-safis.mp-graceful-restart.config]
enable = true
[[gracebgp.routes]]
prefix = "192.0.2.0/24"
nexthop = "192.0.2.1"
"""
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (12, "neighbors[0].afi-safis[0].mp-graceful-restart.config.enable",
         "unknown key 'enable' in [neighbors.afi-safis.mp-graceful-restart.config]; did you mean 'enabled'?"),
        (15, "gracebgp.routes[0].nexthop",
         "unknown key 'nexthop' in [gracebgp.routes]; did you mean 'next-hop'?"),
    ]


@pytest.mark.parametrize(("section", "text"), [
    ("zebra", "[zebra.config]\nenabled = true\n"),
    ("bmp-servers", "[[bmp-servers]]\n[bmp-servers.config]\naddress = \"127.0.0.1\"\n"),
    ("rpki-servers", "[[rpki-servers]]\n[rpki-servers.config]\naddress = \"127.0.0.1\"\n"),
    ("mrt-dump", "[[mrt-dump]]\n[mrt-dump.config]\ndump-type = \"updates\"\n"),
    ("vrfs", "[[vrfs]]\n[vrfs.config]\nname = \"v\"\n"),
    ("collector", "[collector.config]\nurl = \"x\"\n"),
])
def test_unsupported_gobgp_sections(section: str, text: str) -> None:
    line, key, message = only(MINIMAL + "\n" + text)
    assert (line, key) == (5, section)
    assert message.startswith("section [") and section in message
    assert message.endswith("which gracebgp does not support yet")


def test_unsupported_gobgp_neighbor_keys() -> None:
    text = MINIMAL + NEIGHBOR + """description = "x"
[neighbors.apply-policy.config]
in-policy-list = ["p"]
"""
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (10, "neighbors[0].apply-policy.config.in-policy-list", "key neighbors.apply-policy.config."
         "in-policy-list is GoBGP configuration for the in-policy of GoBGP's older route-server model, "
         "which gracebgp does not support yet"),
    ]


@pytest.mark.parametrize(("extra", "line", "key", "message"), [
    ('[neighbors.timers.config]\nhold-time = 1\n', 9, "neighbors[0].timers.config.hold-time",
     "1 is not a hold time: use 0 (no keepalives) or at least 3 seconds (RFC 4271 §4.2)"),
    ('[neighbors.timers.config]\nhold-time = 2\n', 9, "neighbors[0].timers.config.hold-time",
     "2 is not a hold time: use 0 (no keepalives) or at least 3 seconds (RFC 4271 §4.2)"),
    ('[neighbors.timers.config]\nhold-time = 65536\n', 9, "neighbors[0].timers.config.hold-time",
     "must be less than or equal to 65535, got 65536"),
    ('[neighbors.timers.config]\nhold-time = 9\nkeepalive-interval = 9\n', 10,
     "neighbors[0].timers.config.keepalive-interval",
     '9 must be 1..3, at most a third of the hold-time (9): RFC 4271 §4.4 calls a third '
     '"a reasonable maximum"'),
    ('[neighbors.timers.config]\nhold-time = 90\nkeepalive-interval = 31\n', 10,
     "neighbors[0].timers.config.keepalive-interval",
     '31 must be 1..30, at most a third of the hold-time (90): RFC 4271 §4.4 calls a third '
     '"a reasonable maximum"'),
    ('[neighbors.timers.config]\nkeepalive-interval = 0\n', 9,  # the peer's hold timer would expire
     "neighbors[0].timers.config.keepalive-interval",
     '0 must be 1..30, at most a third of the hold-time (90): RFC 4271 §4.4 calls a third '
     '"a reasonable maximum"'),
    ('[neighbors.timers.config]\nhold-time = 0\nkeepalive-interval = 10\n', 10,
     "neighbors[0].timers.config.keepalive-interval",
     "10 has no effect with hold-time 0, which sends no keepalives (RFC 4271 §4.4): remove it or set "
     "a hold-time"),
    ('[neighbors.timers.config]\nconnect-retry = 0\n', 9, "neighbors[0].timers.config.connect-retry",
     "must be greater than or equal to 1, got 0"),
    ('[neighbors.timers.config]\nhold-time = 90.5\n', 9, "neighbors[0].timers.config.hold-time",
     "expected an integer, got 90.5"),
    ('[neighbors.graceful-restart.config]\nrestart-time = 4096\n', 9,
     "neighbors[0].graceful-restart.config.restart-time", "must be less than or equal to 4095, got 4096"),
    ('[neighbors.graceful-restart.config]\nenabled = 1\n', 9,
     "neighbors[0].graceful-restart.config.enabled", "expected true or false, got 1"),
    ('[neighbors.transport.config]\nremote-port = 0\n', 9, "neighbors[0].transport.config.remote-port",
     "must be greater than or equal to 1, got 0"),
    ('[neighbors.transport.config]\nlocal-address = "2001:db8::1"\n', 9,
     "neighbors[0].transport.config.local-address",
     "2001:db8::1 is not in the address family of the neighbor 192.0.2.2"),
    ('[neighbors.transport.config]\nlocal-address = "192.0.2.300"\n', 9,
     "neighbors[0].transport.config.local-address", "'192.0.2.300' is not an IPv4 or IPv6 address"),
    ('[neighbors.ebgp-multihop.config]\nmultihop-ttl = 256\n', 9,
     "neighbors[0].ebgp-multihop.config.multihop-ttl", "must be less than or equal to 255, got 256"),
    ('[neighbors.route-reflector.config]\nroute-reflector-cluster-id = "::1"\n', 9,
     "neighbors[0].route-reflector.config.route-reflector-cluster-id",
     "'::1' is not an IPv4 dotted quad such as 192.0.2.1"),
    ('[neighbors.route-reflector.config]\nroute-reflector-client = true\n', 9,
     "neighbors[0].route-reflector.config.route-reflector-client",
     "a route-reflector client must be iBGP (RFC 4456), but peer-as 65002 differs from the local AS 65001"),
    ('[neighbors.add-paths.config]\nsend-max = 256\n', 9, "neighbors[0].add-paths.config.send-max",
     "must be less than or equal to 255, got 256"),
    ('description = 7\n', 8, "neighbors[0].config.description", "expected a string, got 7"),
    ('local-as = 4294967296\n', 8, "neighbors[0].config.local-as",
     "must be less than or equal to 4294967295, got 4294967296"),
    ('auth-password = "' + "x" * 81 + '"\n', 8, "neighbors[0].config.auth-password",
     "81 octets long; a TCP MD5 key has at most 80 (Linux TCP_MD5SIG_MAXKEYLEN)"),  # the key never echoed
    ('auth-password = "' + "é" * 41 + '"\n', 8, "neighbors[0].config.auth-password",
     "82 octets long; a TCP MD5 key has at most 80 (Linux TCP_MD5SIG_MAXKEYLEN)"),
    ('[neighbors.timers]\nconfig = 5\n', 9, "neighbors[0].timers.config",
     "must be a table, written [neighbors.timers.config]"),
])
def test_neighbor_value_errors(extra: str, line: int, key: str, message: str) -> None:
    assert only(MINIMAL + NEIGHBOR + extra) == (line, key, message)


@pytest.mark.parametrize(("address", "message"), [
    ('"192.0.2.256"', "'192.0.2.256' is not an IPv4 or IPv6 address"),
    ('"peer.example"', "'peer.example' is not an IPv4 or IPv6 address"),
    ("3232235521", "expected a string, got 3232235521"),
])
def test_invalid_neighbor_address(address: str, message: str) -> None:
    text = MINIMAL + NEIGHBOR.replace('"192.0.2.2"', address)
    assert only(text) == (6, "neighbors[0].config.neighbor-address", message)


@pytest.mark.parametrize(("peer_as", "message"), [
    ("-1", "must be greater than or equal to 1, got -1"),  # 0 is any AS (test_any_as)
    ("4294967296", "must be less than or equal to 4294967295, got 4294967296"),
    ('"65002"', 'expected an integer, got "65002"'),
    ("true", "expected an integer, got true"),
])
def test_peer_as_out_of_range_or_wrong_type(peer_as: str, message: str) -> None:
    text = MINIMAL + NEIGHBOR.replace("peer-as = 65002", f"peer-as = {peer_as}")
    assert only(text) == (7, "neighbors[0].config.peer-as", message)


def test_hold_time_zero_and_three_are_valid() -> None:
    for hold, keepalive in ((0, 0), (3, 1)):
        c = parse(MINIMAL + NEIGHBOR + f"[neighbors.timers.config]\nhold-time = {hold}\n")
        assert (c.neighbors[0].hold_time, c.neighbors[0].keepalive_interval) == (hold, keepalive)


def test_duplicate_neighbor_addresses_even_in_other_spellings() -> None:
    text = MINIMAL + """
[[neighbors]]
[neighbors.config]
neighbor-address = "2001:db8::1"
peer-as = 1
[[neighbors]]
[neighbors.config]
neighbor-address = "2001:DB8:0::1"
peer-as = "broken too"
"""
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (11, "neighbors[1].config.neighbor-address",
         "neighbor 2001:db8::1 is already defined by neighbors[0]"),
        (12, "neighbors[1].config.peer-as", 'expected an integer, got "broken too"'),
    ]


@pytest.mark.parametrize(("name", "message"), [
    ("l2vpn-evpn",
     "afi-safi 'l2vpn-evpn' is EVPN (RFC 7432), which gracebgp does not support yet; "
     "gracebgp supports only ipv4-unicast and ipv6-unicast"),
    ("ipv4-flowspec",
     "afi-safi 'ipv4-flowspec' is FlowSpec (RFC 8955), which gracebgp does not support yet; "
     "gracebgp supports only ipv4-unicast and ipv6-unicast"),
    ("ipv4_unicast", "unknown afi-safi 'ipv4_unicast'; gracebgp supports only ipv4-unicast and ipv6-unicast"),
])
def test_afi_safi_names(name: str, message: str) -> None:
    af = f'[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "{name}"\n'
    text = MINIMAL + NEIGHBOR + af
    assert only(text) == (10, "neighbors[0].afi-safis[0].config.afi-safi-name", message)


def test_afi_safi_listed_twice_and_llgr_stale_time_range() -> None:
    af = '[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "ipv6-unicast"\n'
    llgr = "[neighbors.afi-safis.long-lived-graceful-restart.config]\nrestart-time = 16777216\n"
    assert [(p.line, p.key, p.message) for p in problems(MINIMAL + NEIGHBOR + af + llgr + af)] == [
        (12, "neighbors[0].afi-safis[0].long-lived-graceful-restart.config.restart-time",
         "must be less than or equal to 16777215, got 16777216"),
        (15, "neighbors[0].afi-safis[1].config.afi-safi-name",
         "afi-safi ipv6-unicast is already defined by afi-safis[0]"),
    ]


def test_add_paths_send_max_is_accepted_and_inherited() -> None:
    """GoBGP's add-paths example (send-max 8) loads (RFC 7911 Send, issue 15 item 6); the
    neighbor's [neighbors.add-paths.config] is the default of every afi-safi without its own."""
    af = ('[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "ipv4-unicast"\n'
          "[neighbors.afi-safis.add-paths.config]\nreceive = true\nsend-max = 8\n")
    v4 = parse(MINIMAL + NEIGHBOR + af).neighbors[0].afi_safis[0]
    assert (v4.add_paths_receive, v4.add_paths_send_max) == (True, 8)
    whole = "[neighbors.add-paths.config]\nsend-max = 3\n"
    v4 = parse(MINIMAL + NEIGHBOR + whole).neighbors[0].afi_safis[0]
    assert (v4.add_paths_receive, v4.add_paths_send_max) == (False, 3)


def test_afi_safi_name_outside_its_config_table_gets_a_hint() -> None:
    text = MINIMAL + NEIGHBOR + '[[neighbors.afi-safis]]\nafi-safi-name = "ipv4-unicast"\n'
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (8, "neighbors[0].afi-safis[0].config.afi-safi-name", "required key is missing"),
        (9, "neighbors[0].afi-safis[0].afi-safi-name",
         "afi-safi-name belongs in [neighbors.afi-safis.config] (GoBGP's current schema)"),
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("", [(1, "global.config.as", "required key is missing"),
          (1, "global.config.router-id", "required key is missing")]),
    ("[global.config]\nas = 65001\n", [(1, "global.config.router-id", "required key is missing")]),
    ('[global.config]\nas = 65001\nrouter-id = "1.2.3"\n',
     [(3, "global.config.router-id", "'1.2.3' is not an IPv4 dotted quad such as 192.0.2.1")]),
    ('[global.config]\nas = 65001\nrouter-id = "2001:db8::1"\n',
     [(3, "global.config.router-id", "'2001:db8::1' is not an IPv4 dotted quad such as 192.0.2.1")]),
    ('[global.config]\nas = 65001\nrouter-id = 3221225985\n',
     [(3, "global.config.router-id", "expected a string, got 3221225985")]),
    ('[global.config]\nas = 65001\nrouter-id = "0.0.0.0"\n',
     [(3, "global.config.router-id", "the BGP Identifier must not be 0.0.0.0 (RFC 6286 §2.1)")]),
    ('[global.config]\nas = 0\nrouter-id = "192.0.2.1"\n',
     [(2, "global.config.as", "must be greater than or equal to 1, got 0")]),
    ('[global.config]\nas = 4294967296\nrouter-id = "192.0.2.1"\n',
     [(2, "global.config.as", "must be less than or equal to 4294967295, got 4294967296")]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\nport = 0\n',
     [(4, "global.config.port", "0 is not a port; use -1 to disable listening or omit it for 179")]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\nlocal-address-list = ["::", "x"]\n',
     [(4, "global.config.local-address-list[1]", "'x' is not an IPv4 or IPv6 address")]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\nlocal-address-list = "::"\n',
     [(4, "global.config.local-address-list", 'expected an array, got "::"')]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\n[global.listen-config]\nport = 1790\n',
     [(4, "global.listen-config",
       "[global.listen-config] is GoBGP's old schema; set port and local-address-list in [global.config]")]),
    ('[global]\nas = 1\n[global.config]\nas = 1\nrouter-id = "192.0.2.1"\n',
     [(2, "global.as", "as belongs in [global.config]")]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\n[[neighbor]]\n',
     [(4, "neighbor", "the GoBGP section is [[neighbors]] (plural)")]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\n[neighbors]\n',
     [(4, "neighbors", "must be an array of tables, written [[neighbors]]")]),
    ('[global.config]\nas = 1\nrouter-id = "192.0.2.1"\n[[gracebgp]]\n',
     [(4, "gracebgp", "must be a table, written [gracebgp]")]),
])
def test_global_errors(text: str, expected: list[tuple[int, str, str]]) -> None:
    assert [(p.line, p.key, p.message) for p in problems(text)] == expected


def test_missing_neighbor_keys_point_at_the_enclosing_table() -> None:
    text = MINIMAL + "\n[[neighbors]]\n[neighbors.config]\ndescription = \"x\"\n\n[[neighbors]]\n"
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (6, "neighbors[0].config.neighbor-address", "required key is missing"),
        (9, "neighbors[1].config.neighbor-address", "required key is missing"),
    ]


ROUTE = '[[gracebgp.routes]]\nprefix = "192.0.2.0/24"\n'  # lines 4 and 5 after MINIMAL


@pytest.mark.parametrize(("extra", "line", "key", "message"), [
    ('next-hop = "2001:db8::1"\n', 6, "gracebgp.routes[0].next-hop",
     "2001:db8::1 is not in the address family of 192.0.2.0/24"),
    ('origin = "bgp"\n', 6, "gracebgp.routes[0].origin", "must be 'igp', 'egp' or 'incomplete', got \"bgp\""),
    ('communities = ["65536:1"]\n', 6, "gracebgp.routes[0].communities[0]",
     "'65536:1' is not a community (\"65000:100\" or a well-known name)"),
    ('communities = "65000:1"\n', 6, "gracebgp.routes[0].communities", 'expected an array, got "65000:1"'),
    ('large-communities = ["1:2"]\n', 6, "gracebgp.routes[0].large-communities[0]",
     "'1:2' is not a large community (\"65000:1:2\", 32-bit parts)"),
    ("med = -1\n", 6, "gracebgp.routes[0].med", "must be greater than or equal to 0, got -1"),
    ("local-pref = 4294967296\n", 6, "gracebgp.routes[0].local-pref",
     "must be less than or equal to 4294967295, got 4294967296"),
    (ROUTE, 7, "gracebgp.routes[1].prefix", "route 192.0.2.0/24 is already defined by gracebgp.routes[0]"),
])
def test_route_errors(extra: str, line: int, key: str, message: str) -> None:
    assert only(MINIMAL + ROUTE + extra) == (line, key, message)


@pytest.mark.parametrize(("prefix", "message"), [
    ("192.0.2.1/24", "'192.0.2.1/24' has host bits set; did you mean 192.0.2.0/24?"),
    ("192.0.2.0", "'192.0.2.0' has no prefix length; write 192.0.2.0/32"),
    ("192.0.2.0/33", "'192.0.2.0/33' is not a prefix such as 192.0.2.0/24"),
])
def test_route_prefix_errors(prefix: str, message: str) -> None:
    assert only(MINIMAL + ROUTE.replace("192.0.2.0/24", prefix)) == (5, "gracebgp.routes[0].prefix", message)


@pytest.mark.parametrize(("extra", "line", "key", "message"), [
    ('sigterm = "keep"\n', 5, "gracebgp.sigterm", "must be 'retain' or 'withdraw', got \"keep\""),
    ('api-listen = "127.0.0.1:8179"\n', 5, "gracebgp.api-listen",
     "a TCP API listener needs api-token-file (the token that guards it)"),
    ('api-token-file = "/t"\napi-listen = "::1:8179"\n', 6, "gracebgp.api-listen",
     "'::1:8179': write an IPv6 address in brackets, e.g. [::1]:8179"),
    ('api-token-file = "/t"\napi-listen = "localhost"\n', 6, "gracebgp.api-listen",
     "'localhost' is not host:port (use [addr]:port for IPv6)"),
    ('api-socket = ""\n', 5, "gracebgp.api-socket", 'must have at least 1 character, got ""'),
    ("forwarding-state-preserved = \"yes\"\n", 5, "gracebgp.forwarding-state-preserved",
     'expected true or false, got "yes"'),
])
def test_gracebgp_section_errors(extra: str, line: int, key: str, message: str) -> None:
    assert only(MINIMAL + "[gracebgp]\n" + extra) == (line, key, message)


def test_all_problems_are_reported_in_file_order() -> None:
    text = """\
[global.config]
as = 0
router-id = "192.0.2.1"
[[peer-groups]]
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
[neighbors.timers.config]
hold-time = 1
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "l3vpn-ipv4-unicast"
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65003
[neighbors.graceful-restart.config]
restart-time = 5000
[gracebgp]
sigterm = "drop"
"""
    with pytest.raises(ConfigError) as info:
        parse(text, "multi.toml")
    assert [(p.line, p.key) for p in info.value.problems] == [
        (2, "global.config.as"),
        (4, "peer-groups[0].config.peer-group-name"),
        (10, "neighbors[0].timers.config.hold-time"),
        (13, "neighbors[0].afi-safis[0].config.afi-safi-name"),
        (16, "neighbors[1].config.neighbor-address"),
        (19, "neighbors[1].graceful-restart.config.restart-time"),
        (21, "gracebgp.sigterm"),
    ]
    lines = str(info.value).splitlines()
    assert len(lines) == 7 and all(line.startswith("multi.toml:") for line in lines)
    assert lines[0] == "multi.toml:2: global.config.as: must be greater than or equal to 1, got 0"


def test_inline_tables_and_dotted_keys_are_located() -> None:
    text = """neighbors = [
  { config = { neighbor-address = "192.0.2.2", peer-as = 65002 } },  # [0]
  { config.neighbor-address = "192.0.2.3", config.peer-as = -5 },
]
""" + MINIMAL
    assert only(text) == (3, "neighbors[1].config.peer-as", "must be greater than or equal to 1, got -5")


def test_load_file_problems(tmp_path: pytest.TempPathFactory) -> None:
    missing = f"{tmp_path}/nope.toml"
    with pytest.raises(ConfigError) as info:
        load_file(missing)
    assert str(info.value) == f"{missing}: cannot read the file: No such file or directory"
    bad = f"{tmp_path}/latin1.toml"
    with open(bad, "wb") as f:
        f.write(MINIMAL.encode() + b'[gracebgp]\nstate-dir = "/caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_file(bad)
    assert info.value.problems == (ConfigProblem(bad, 5, "(syntax)", "the file is not valid UTF-8"),)


def test_check_exit_status_and_output(tmp_path: pytest.TempPathFactory) -> None:
    good = f"{tmp_path}/good.toml"
    with open(good, "w") as f:
        f.write(MINIMAL + NEIGHBOR)
    assert check(good) == (0, f"{good}: configuration OK (1 neighbors, 0 routes)")
    bad = f"{tmp_path}/bad.toml"
    with open(bad, "w") as f:
        f.write(MINIMAL.replace("65001", "0") + NEIGHBOR.replace("65002", '"x"'))
    assert check(bad) == (1, "\n".join([
        f"{bad}:2: global.config.as: must be greater than or equal to 1, got 0",
        f'{bad}:7: neighbors[0].config.peer-as: expected an integer, got "x"',
    ]))


def test_values_gobgp_accepts() -> None:
    c = parse(MINIMAL + "port = -1\n" + NEIGHBOR + "[neighbors.timers.config]\nhold-time = 90.0\n")
    assert c.global_.port == -1  # GoBGP: do not listen
    assert (c.neighbors[0].hold_time, c.neighbors[0].keepalive_interval) == (90, 30)
    assert parse(MINIMAL + "local-address-list = []\n").global_.local_address_list == ("0.0.0.0", "::")


def test_stale_routes_time_must_be_positive() -> None:
    text = MINIMAL + NEIGHBOR + "[neighbors.graceful-restart.config]\nstale-routes-time = 0\n"
    assert only(text) == (9, "neighbors[0].graceful-restart.config.stale-routes-time",
                          "must be greater than or equal to 1, got 0")


def test_unterminated_document_reports_its_last_line() -> None:
    line, key, message = only(MINIMAL + 'description = """never closed\n\n')
    assert (line, key) == (5, "(syntax)") and message.startswith("TOML syntax error:")
