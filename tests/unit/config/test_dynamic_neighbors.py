"""``[[dynamic-neighbors]]`` (issue 15, item 2): a prefix and a peer group, the group's
values as each range's neighbor settings, any AS when the group has no peer-as, gracebgp's
``max-peers``, and what cannot serve a range refused at its line."""

from __future__ import annotations

from pathlib import Path

from gracebgp.config import parse, to_toml
from gracebgp.config.loader import check
from gracebgp.runtime.fromconfig import peers_hold, ranges_of

from .conftest import MINIMAL, problems

GROUP = """\
[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "leaves"
    auth-password = "s3cret"
  [peer-groups.timers.config]
    hold-time = 30
  [peer-groups.graceful-restart.config]
    enabled = true
    restart-time = 60
"""
RANGE = """\
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "10.0.0.0/24"
    peer-group = "leaves"
"""


def test_a_range_takes_its_groups_settings_and_any_as() -> None:
    cfg = parse(MINIMAL + GROUP + RANGE + "  [dynamic-neighbors.gracebgp]\n    max-peers = 20\n")
    (d,) = cfg.dynamic_neighbors
    assert (d.prefix, d.peer_group, d.max_peers, d.any_as) == ("10.0.0.0/24", "leaves", 20, True)
    assert (d.template.hold_time, d.template.auth_password, d.template.graceful_restart.restart_time) == \
        (30, "s3cret", 60)
    (r,) = ranges_of(cfg)
    assert (r.prefix, r.group, r.max_peers) == ("10.0.0.0/24", "leaves", 20)
    s = r.settings_for("10.0.0.7")
    assert (s.address, s.session.peer_address, s.session.peer_as, s.session.passive) == \
        ("10.0.0.7", "10.0.0.7", None, True)
    assert s.session.hold_time == 30 and s.sockets.md5_password == "s3cret"
    assert s.sockets.ttl is None  # any AS: not pinned to eBGP's single hop
    assert cfg.neighbors == ()


def test_the_groups_peer_as_is_checked() -> None:
    text = MINIMAL + GROUP.replace('auth-password = "s3cret"', "peer-as = 65010") + RANGE
    (r,) = ranges_of(parse(text))
    assert r.settings_for("10.0.0.7").session.peer_as == 65010
    assert r.settings_for("10.0.0.7").sockets.ttl == 1  # eBGP, single hop (as a neighbor)
    zero = MINIMAL + GROUP.replace('auth-password = "s3cret"', "peer-as = 0") + RANGE
    assert ranges_of(parse(zero))[0].template.session.peer_as is None  # 0: any AS (GoBGP)


def test_check_lists_the_ranges(tmp_path: Path) -> None:
    path = tmp_path / "gobgpd.conf"
    path.write_text(MINIMAL + GROUP + RANGE)
    status, text = check(path)
    assert status == 0
    assert "dynamic-neighbors 10.0.0.0/24: peer group 'leaves', any AS, no max-peers" in text


def test_what_cannot_serve_a_range_is_refused_at_its_line() -> None:
    text = MINIMAL + GROUP + RANGE + """\
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "10.0.1.1/24"
    peer-group = "leaves"
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "10.0.2.0/24"
    peer-group = "spines"
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "10.0.0.0/24"
    peer-group = "leaves"
  [dynamic-neighbors.gracebgp]
    max-peer = 3
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "2001:db8::/64"
  [dynamic-neighbors.gracebgp]
    max-peers = 0
"""
    found = [(p.line, p.key, p.message) for p in problems(text)]
    assert found == [
        (19, "dynamic-neighbors[1].config.prefix",
         "'10.0.1.1/24' has host bits set; did you mean 10.0.1.0/24?"),
        (24, "dynamic-neighbors[2].config.peer-group",
         "there is no peer group 'spines' (peer groups defined: 'leaves')"),
        (27, "dynamic-neighbors[3].config.prefix",
         "prefix 10.0.0.0/24 is given twice (also dynamic-neighbors[0])"),
        (30, "dynamic-neighbors[3].gracebgp.max-peer",
         "unknown key 'max-peer' in [dynamic-neighbors.gracebgp]; did you mean 'max-peers'?"),
        (32, "dynamic-neighbors[4].config.peer-group", "required key is missing: the [[peer-groups]] entry "
         "whose settings the range's peers take"),
    ]


def test_a_group_that_cannot_serve_a_range() -> None:
    ao = GROUP + """\
  [[peer-groups.gracebgp.tcp-ao-keys]]
    send-id = 1
    recv-id = 1
    algorithm = "hmac-sha-1-96"
    secret = "k"
"""
    ao = ao.replace('    auth-password = "s3cret"\n', "")
    (p,) = problems(MINIMAL + ao + RANGE)
    assert p.key == "dynamic-neighbors[0].config.peer-group" and "TCP-AO keys are not supported" in p.message
    v6 = GROUP + "  [peer-groups.transport.config]\n    local-address = \"2001:db8::1\"\n"
    (p,) = problems(MINIMAL + v6 + RANGE)
    assert p.message == ("peer group 'leaves': its local-address 2001:db8::1 is not of the family of "
                         "10.0.0.0/24")


def test_a_configuration_with_ranges_dumps_with_their_groups_and_parses_back_equal() -> None:
    for group in (GROUP, GROUP.replace('auth-password = "s3cret"', "peer-as = 65010")):
        cfg = parse(MINIMAL + group + RANGE + "  [dynamic-neighbors.gracebgp]\n    max-peers = 3\n")
        again = parse(to_toml(cfg))
        assert again == cfg
        assert again.dynamic_neighbors[0].any_as is cfg.dynamic_neighbors[0].any_as
        assert again.dynamic_neighbors[0].template == cfg.dynamic_neighbors[0].template


def test_a_ranges_restart_time_counts_in_how_long_peers_hold_our_routes() -> None:
    # RFC 4724 §4.2: dynamic peers keep our routes for the Restart Time we advertise them
    assert peers_hold(parse(MINIMAL + GROUP + RANGE)) == 60.0
    assert peers_hold(parse(MINIMAL + GROUP)) == 0.0


def test_a_neighbor_without_a_key_inside_a_keyed_range_is_refused() -> None:
    """The range's MD5 key covers every address of its prefix on the listeners: a keyless
    neighbor inside it could never connect to us (found in review: it silently stayed down)."""
    inside = '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "10.0.0.5"\n    peer-as = 65005\n'
    (p,) = problems(MINIMAL + GROUP + RANGE + inside)
    assert p.key == "neighbors[0].config.neighbor-address"
    assert "inside dynamic neighbor range 10.0.0.0/24" in p.message and "auth-password" in p.message
    # its own key (which wins inside the range), or an address outside: accepted
    parse(MINIMAL + GROUP + RANGE + inside + '    auth-password = "other"\n')
    parse(MINIMAL + GROUP + RANGE + inside.replace("10.0.0.5", "10.0.1.5"))
    # a range without a key: nothing to refuse
    parse(MINIMAL + GROUP.replace('    auth-password = "s3cret"\n', "") + RANGE + inside)
