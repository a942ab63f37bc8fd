"""GoBGP's ``[neighbors.afi-safis.prefix-limit.config]`` loads with its meaning, bad values
name file, line and key, and the global afi-safi form (which GoBGP parses and never
applies) is refused with a pointer to the per-neighbor form."""

from __future__ import annotations

import pytest

from gracebgp.config import parse
from gracebgp.config.diff import diff
from gracebgp.config.dump import to_toml
from gracebgp.config.model import PrefixLimit
from gracebgp.core.limits import PrefixLimitSettings
from gracebgp.core.peer import NeighborSettings
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST

from .conftest import MINIMAL, only, problems

NEIGHBOR = """\
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
"""


def _afi_safi(name: str, limit: str) -> str:
    return (f'[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "{name}"\n'
            f"[neighbors.afi-safis.prefix-limit.config]\n{limit}")


GOBGP_STYLE = MINIMAL + NEIGHBOR + _afi_safi(
    "ipv4-unicast", "max-prefixes = 1000\nshutdown-threshold-pct = 80\nrestart-timer = 30\n") + _afi_safi(
    "ipv6-unicast", "max-prefixes = 200\n")


def test_gobgp_prefix_limit_loads_and_reaches_the_speaker_settings() -> None:
    cfg = parse(GOBGP_STYLE)
    n = cfg.neighbors[0]
    assert n.afi_safis[0].prefix_limit == PrefixLimit(max_prefixes=1000, shutdown_threshold_pct=80,
                                                      restart_timer=30)
    assert n.afi_safis[1].prefix_limit == PrefixLimit(max_prefixes=200)
    settings = NeighborSettings.from_config(n, cfg.global_)
    assert settings.prefix_limits == (
        (IPV4_UNICAST, PrefixLimitSettings(1000, 80, 30.0)),
        (IPV6_UNICAST, PrefixLimitSettings(200, 0, 0.0)),
    )
    assert settings.prefix_limits[0][1].threshold == 800  # GoBGP: warn above 1000 * 80 / 100


def test_no_prefix_limit_means_no_limit() -> None:
    cfg = parse(MINIMAL + NEIGHBOR + _afi_safi("ipv4-unicast", "max-prefixes = 0\n"))
    assert NeighborSettings.from_config(cfg.neighbors[0], cfg.global_).prefix_limits == ()
    cfg = parse(MINIMAL + NEIGHBOR)
    assert NeighborSettings.from_config(cfg.neighbors[0], cfg.global_).prefix_limits == ()


def test_disabled_family_carries_no_limit() -> None:
    text = MINIMAL + NEIGHBOR + _afi_safi("ipv4-unicast", "max-prefixes = 5\n") + _afi_safi(
        "ipv6-unicast", "max-prefixes = 5\n").replace('"ipv6-unicast"\n', '"ipv6-unicast"\nenabled = false\n')
    cfg = parse(text)
    limits = NeighborSettings.from_config(cfg.neighbors[0], cfg.global_).prefix_limits
    assert [f for f, _ in limits] == [IPV4_UNICAST]


def test_prefix_limit_round_trips_through_dump() -> None:
    cfg = parse(GOBGP_STYLE)
    text = to_toml(cfg)
    assert "[neighbors.afi-safis.prefix-limit.config]" in text
    assert parse(text) == cfg


@pytest.mark.parametrize(("limit", "key", "message"), [
    ("max-prefixes = -1\n", "max-prefixes", "must be greater than or equal to 0, got -1"),
    ("max-prefixes = 4294967296\n", "max-prefixes",
     "must be less than or equal to 4294967295, got 4294967296"),
    ('max-prefixes = "100"\n', "max-prefixes", 'expected an integer, got "100"'),
    ("max-prefixes = 10\nshutdown-threshold-pct = 101\n", "shutdown-threshold-pct",
     "must be less than or equal to 100, got 101"),
    ("max-prefixes = 10\nrestart-timer = -5\n", "restart-timer",
     "must be greater than or equal to 0, got -5"),
    ("max-prefixes = 10\nrestart-timer = 2.5\n", "restart-timer", "expected an integer, got 2.5"),
    ("shutdown-threshold-pct = 75\n", "shutdown-threshold-pct",
     "applies to a limit, and max-prefixes is 0 (no limit): set max-prefixes"),
    ("restart-timer = 30\n", "restart-timer",
     "applies to a limit, and max-prefixes is 0 (no limit): set max-prefixes"),
    ("max-prefix = 10\n", "max-prefix",
     "unknown key 'max-prefix' in [neighbors.afi-safis.prefix-limit.config]; did you mean 'max-prefixes'?"),
])
def test_bad_values_name_file_line_and_key(limit: str, key: str, message: str) -> None:
    text = MINIMAL + NEIGHBOR + _afi_safi("ipv4-unicast", limit)
    line = 12 + limit.splitlines().index(next(x for x in limit.splitlines() if x.startswith(key)))
    assert only(text) == (line, f"neighbors[0].afi-safis[0].prefix-limit.config.{key}", message)


def test_restart_timer_accepts_a_whole_float_as_gobgp_writes_it() -> None:
    cfg = parse(MINIMAL + NEIGHBOR + _afi_safi("ipv4-unicast", "max-prefixes = 10\nrestart-timer = 30.0\n"))
    assert cfg.neighbors[0].afi_safis[0].prefix_limit.restart_timer == 30


def test_global_afi_safis_prefix_limit_is_refused_not_ignored() -> None:
    # GoBGP reads [[global.afi-safis]] for its RIB's families only: a prefix-limit written
    # there is parsed and never applied. Accepting it would be a limit that limits nothing.
    text = MINIMAL + """[[global.afi-safis]]
[global.afi-safis.config]
afi-safi-name = "ipv4-unicast"
[global.afi-safis.prefix-limit.config]
max-prefixes = 10
"""
    line, key, message = only(text)
    assert (line, key) == (7, "global.afi-safis[0].prefix-limit")
    assert "a prefix-limit there has no effect" in message
    assert "[neighbors.afi-safis.prefix-limit]" in message


def test_every_problem_at_once() -> None:
    text = MINIMAL + NEIGHBOR + _afi_safi("ipv4-unicast", "max-prefixes = -1\n") + _afi_safi(
        "ipv6-unicast", "max-prefixes = 1\nshutdown-threshold-pct = 200\n")
    assert [(p.line, p.key) for p in problems(text)] == [
        (12, "neighbors[0].afi-safis[0].prefix-limit.config.max-prefixes"),
        (18, "neighbors[0].afi-safis[1].prefix-limit.config.shutdown-threshold-pct"),
    ]


def test_a_prefix_limit_change_applies_in_place_another_afi_safi_change_does_not() -> None:
    old = parse(GOBGP_STYLE)
    lower = parse(GOBGP_STYLE.replace("max-prefixes = 1000", "max-prefixes = 10"))
    d = diff(old, lower)
    assert d.changed == () and len(d.cosmetic) == 1
    d = diff(old, parse(GOBGP_STYLE.replace('"ipv6-unicast"\n', '"ipv6-unicast"\nenabled = false\n')))
    assert len(d.changed) == 1
