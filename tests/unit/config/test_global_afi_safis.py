"""``[[global.afi-safis]]`` with its own ``use-multiple-paths`` (GoBGP's schema, OpenConfig's
meaning): the family's block wins for that family, the global block is the default for the
others; bad values name file, line and key; the per-neighbor form, which GoBGP parses and
never acts on, is refused saying so."""

from __future__ import annotations

from gracebgp.config import parse
from gracebgp.config.dump import to_toml
from gracebgp.config.global_afi import UseMultiplePaths
from gracebgp.rib.decision import Multipath
from gracebgp.runtime.fromconfig import tunables_of
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST

from .conftest import MINIMAL, only, problems

GLOBAL_MP = """\
[global.use-multiple-paths.config]
enabled = true
[global.use-multiple-paths.ebgp.config]
maximum-paths = 2
"""
MP = "[global.afi-safis.use-multiple-paths"


def family(name: str, body: str = "") -> str:
    return f'[[global.afi-safis]]\n[global.afi-safis.config]\nafi-safi-name = "{name}"\n{body}'


def block(**tables: str) -> str:
    """A family's use-multiple-paths block: table (config, ebgp, ibgp) -> its key lines."""
    return "".join(f"{MP}{'' if t == 'config' else '.' + t}.config]\n{lines}\n"
                   for t, lines in tables.items())


V4_OWN = family("ipv4-unicast", block(config="enabled = true", ibgp="maximum-paths = 3",
                                      ebgp="allow-multiple-as = true\nmaximum-paths = 8"))


def test_a_familys_block_loads_and_overrides_the_global_one_for_that_family_only() -> None:
    cfg = parse(MINIMAL + GLOBAL_MP + V4_OWN + family("ipv6-unicast"))
    v4, v6 = cfg.global_.afi_safis
    assert v4.family == IPV4_UNICAST and v4.multipath == UseMultiplePaths(
        enabled=True, allow_multiple_as=True, ebgp_maximum_paths=8, ibgp_maximum_paths=3)
    assert v6.family == IPV6_UNICAST and v6.multipath is None  # listed, no block of its own
    t = tunables_of(cfg)
    assert t.use_multiple_paths(IPV4_UNICAST) == Multipath(True, 8, 3)
    assert t.use_multiple_paths(IPV6_UNICAST) == Multipath(False, 2, 0)  # the global block


def test_a_familys_block_can_turn_multipath_off_for_it() -> None:
    off = family("ipv6-unicast", block(config="enabled = false"))
    t = tunables_of(parse(MINIMAL + GLOBAL_MP + off))
    assert t.use_multiple_paths(IPV6_UNICAST) is None
    assert t.use_multiple_paths(IPV4_UNICAST) == Multipath(False, 2, 0)


def test_a_familys_block_on_without_the_global_one() -> None:
    t = tunables_of(parse(MINIMAL + V4_OWN))
    assert t.use_multiple_paths(IPV4_UNICAST) == Multipath(True, 8, 3)
    assert t.use_multiple_paths(IPV6_UNICAST) is None


def test_omitted_keys_of_a_familys_block_take_the_defaults_not_the_global_values() -> None:
    only_on = family("ipv4-unicast", block(config="enabled = true"))
    t = tunables_of(parse(MINIMAL + GLOBAL_MP + only_on))
    assert t.use_multiple_paths(IPV4_UNICAST) == Multipath(False, 0, 0)  # no cap: its own block


def test_the_dump_parses_back_equal() -> None:
    cfg = parse(MINIMAL + GLOBAL_MP + V4_OWN + family("ipv6-unicast"))
    assert parse(to_toml(cfg)) == cfg


def test_bad_values_name_file_line_and_key() -> None:
    text = MINIMAL + family("ipv4-unicast", block(ebgp="maximum-paths = -1"))
    line, key, message = only(text)
    assert (line, key) == (8, "global.afi-safis[0].use-multiple-paths.ebgp.config.maximum-paths")
    assert "greater than or equal to 0" in message
    line, key, _ = only(MINIMAL + family("ipv4-unicast", block(config='enabled = "yes"')))
    assert (line, key) == (8, "global.afi-safis[0].use-multiple-paths.config.enabled")


def test_an_unsupported_or_repeated_family_is_an_error() -> None:
    line, key, message = only(MINIMAL + family("l2vpn-evpn"))
    assert (line, key) == (6, "global.afi-safis[0].config.afi-safi-name")
    assert "EVPN" in message and "not support" in message
    line, key, message = only(MINIMAL + family("ipv4-unicast") + family("ipv4-unicast"))
    assert (line, key) == (9, "global.afi-safis[1].config.afi-safi-name")
    assert "already defined by afi-safis[0]" in message


def test_an_unknown_key_in_a_familys_block_suggests_the_right_one() -> None:
    line, _, message = only(MINIMAL + family("ipv4-unicast", block(ebgp="maximum-path = 4")))
    assert line == 8 and "unknown key 'maximum-path'" in message and "'maximum-paths'" in message


def test_neighbor_afi_safi_settings_in_the_global_list_are_refused() -> None:
    line, key, message = only(MINIMAL + family("ipv4-unicast", "[global.afi-safis.add-paths.config]\n"
                                                              "receive = true\n"))
    assert (line, key) == (7, "global.afi-safis[0].add-paths")
    assert "add-paths in [[global.afi-safis]] is not supported" in message
    assert "[neighbors.afi-safis.add-paths]" in message
    line, key, message = only(MINIMAL + family("ipv4-unicast").replace('"\n', '"\nenabled = false\n'))
    assert (line, key) == (7, "global.afi-safis[0].config.enabled")
    assert "always holds ipv4-unicast and ipv6-unicast" in message


def test_per_neighbor_use_multiple_paths_is_refused_saying_gobgp_ignores_it() -> None:
    neighbor = '[[neighbors]]\n[neighbors.config]\nneighbor-address = "192.0.2.2"\npeer-as = 65002\n'
    per_af = (neighbor + "[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\n"
              + 'afi-safi-name = "ipv4-unicast"\n'
              + "[neighbors.afi-safis.use-multiple-paths.config]\nenabled = true\n")
    whole = neighbor + "[neighbors.use-multiple-paths.config]\nenabled = true\n"
    for text, line, key in ((per_af, 11, "neighbors[0].afi-safis[0].use-multiple-paths"),
                            (whole, 8, "neighbors[0].use-multiple-paths")):
        found = problems(MINIMAL + text)
        assert [(p.line, p.key) for p in found] == [(line, key)]
        message = found[0].message
        assert "not supported" in message and "GoBGP" in message and "acts only on" in message
        assert "[global.afi-safis.use-multiple-paths]" in message


def test_per_family_containers_in_the_global_list_are_not_supported_yet_not_unknown() -> None:
    text = MINIMAL + family("ipv4-unicast", "[global.afi-safis.ipv4-unicast.config]\n"
                                            "send-default-route = true\n")
    line, key, message = only(text)
    assert (line, key) == (7, "global.afi-safis[0].ipv4-unicast")
    assert "GoBGP configuration" in message and "does not support yet" in message
