"""A ``[[neighbors]]`` entry whose ``peer-as`` is omitted or 0 (issue 15, item 3): GoBGP's
"any AS", accepted with that meaning: the model's ``peer_as`` is None, ``--check`` says
"any AS", ``gracebgp neighbor ADDR`` says where it came from, the dump round-trips it, a
reload to a fixed AS resets the session, and the iBGP-only or eBGP-only options are not
judged against a stand-in AS."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp.config import diff, parse, to_toml
from gracebgp.config.effective import settings
from gracebgp.config.loader import check, parse_detailed
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import changed_settings

from .conftest import MINIMAL, problems

#: MINIMAL (as 65001) and one neighbor without peer-as; line 6 is [neighbors.config].
ANY = MINIMAL + """\
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
"""
ZERO = ANY + "peer-as = 0\n"  # line 8


@pytest.mark.parametrize("text", [ANY, ZERO], ids=["omitted", "zero"])
def test_omitted_or_zero_peer_as_is_any_as(text: str) -> None:
    cfg = parse(text)
    (n,) = cfg.neighbors
    assert n.peer_as is None and cfg.is_ebgp(n) is None  # the OPEN tells
    s = NeighborSettings.from_config(n, cfg.global_)
    assert s.session.peer_as is None  # no AS check of the OPEN (session.negotiate)
    assert s.sockets.ttl is None  # not pinned to eBGP's single hop: the kind is not known yet


def test_a_fixed_peer_as_is_still_checked() -> None:
    assert parse(ANY + "peer-as = 65002\n").neighbors[0].peer_as == 65002
    (p,) = problems(ANY + "peer-as = false\n")
    assert (p.line, p.key, p.message) == (7, "neighbors[0].config.peer-as", "expected an integer, got false")


def test_check_shows_any_as(tmp_path: Path) -> None:
    path = tmp_path / "gobgpd.conf"
    fixed = '[[neighbors]]\n[neighbors.config]\nneighbor-address = "192.0.2.3"\npeer-as = 65003\n'
    path.write_text(ANY + fixed)
    code, text = check(path)
    assert code == 0
    assert text.splitlines()[1:] == [
        "neighbor 192.0.2.2: any AS (peer-as omitted or 0: the OPEN's AS is accepted, iBGP when it is "
        "ours, else eBGP (GoBGP's meaning))"]


def test_neighbor_settings_say_where_any_as_came_from() -> None:
    def peer_as(text: str) -> tuple[str, str]:
        got = {key: (value, source) for key, value, source in settings(parse_detailed(text), "192.0.2.2")}
        return got["config.peer-as"]

    value, source = peer_as(ANY)
    assert value == "any" and source.startswith("default (peer-as omitted or 0")
    assert peer_as(ZERO) == ("any", "neighbor, line 7")


@pytest.mark.parametrize("text", [ANY, ZERO], ids=["omitted", "zero"])
def test_dump_writes_no_peer_as_and_parses_back_equal(text: str) -> None:
    cfg = parse(text)
    dumped = to_toml(cfg)
    assert "\npeer-as" not in dumped and "peer-as = 0" not in dumped
    assert parse(dumped) == cfg


def test_any_as_to_a_fixed_as_is_a_change_that_resets() -> None:
    before, fixed = parse(ANY), parse(ANY + "peer-as = 65001\n")  # even the stand-in-like local AS
    for old, new in ((before, fixed), (fixed, before)):
        d = diff(old, new)
        assert [(a.peer_as, b.peer_as) for a, b in d.changed] == [(old.neighbors[0].peer_as,
                                                                   new.neighbors[0].peer_as)]
        assert d.cosmetic == ()
        settings_of = [NeighborSettings.from_config(c.neighbors[0], c.global_) for c in (old, new)]
        assert changed_settings(*settings_of) == ("session.peer_as",)  # an identity change: Hard Reset
    assert diff(parse(ANY), parse(ZERO)).empty  # 0 and omitted mean the same


RR = "[neighbors.route-reflector.config]\nroute-reflector-client = true\n"
RS = "[neighbors.route-server.config]\nroute-server-client = true\n"
PRIVATE = "remove-private-as = \"all\"\n"


@pytest.mark.parametrize("extra", [RR, RS, PRIVATE], ids=["rr-client", "rs-client", "remove-private-as"])
def test_options_of_one_session_kind_are_accepted_with_any_as(extra: str) -> None:
    # GoBGP accepts them (no check against the peer type when peer-as is 0); they act
    # only on sessions of their kind, which the OPEN decides (rib.export).
    (n,) = parse(ANY + extra).neighbors
    assert n.peer_as is None
    assert (n.route_reflector_client, n.route_server_client, n.remove_private_as) == (
        extra is RR, extra is RS, "all" if extra is PRIVATE else "")


def test_the_same_options_are_still_refused_where_the_as_says_otherwise() -> None:
    (p,) = problems(ANY + "peer-as = 65002\n" + RR)
    assert p.message.startswith("a route-reflector client must be iBGP (RFC 4456), but peer-as 65002")
    (p,) = problems(ANY + "peer-as = 65001\n" + RS)
    assert p.message.startswith("a route-server client is an eBGP neighbor (RFC 7947 §1)")
    (p,) = problems(ANY + PRIVATE + RS)  # any AS does not lift this one: no effect either way
    assert p.message.startswith("remove-private-as has no effect towards a route-server client")


def test_a_dynamic_range_without_peer_as_may_be_route_server_clients() -> None:
    # The old stand-in (the global AS) made such a group look iBGP and refused it.
    text = MINIMAL + """\
[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "clients"
  [peer-groups.route-server.config]
    route-server-client = true
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "10.0.0.0/24"
    peer-group = "clients"
"""
    (d,) = parse(text).dynamic_neighbors
    assert d.any_as and d.template.route_server_client
