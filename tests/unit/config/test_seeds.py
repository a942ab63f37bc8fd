"""The two gobgpd configurations from seed 000 (GR demo, 192.168.128.132/134) load unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp.config import load_file
from gracebgp.types import IPV4_UNICAST

from .conftest import FIXTURES

SEED = Path(__file__).resolve().parents[4] / "shared" / "seeds" / "000_2a066cbdae717637.txt"


def test_seed_132_values() -> None:
    c = load_file(FIXTURES / "seed_132.toml")
    assert (c.global_.asn, c.global_.router_id) == (65001, "192.168.128.132")
    assert (c.global_.port, c.global_.local_address_list) == (179, ("0.0.0.0", "::"))
    (n,) = c.neighbors
    assert (n.neighbor_address, n.peer_as, n.local_as) == ("192.168.128.134", 65001, None)
    assert c.local_as_of(n) == 65001 and not c.is_ebgp(n)
    gr = n.graceful_restart
    assert (gr.enabled, gr.restart_time) == (True, 30)
    assert (gr.notification_enabled, gr.long_lived_enabled) == (False, False)
    assert gr.deferral_time == 360  # GoBGP's default, as in the seed's log ("Duration=360")
    (af,) = n.afi_safis
    assert (af.name, af.family, af.enabled) == ("ipv4-unicast", IPV4_UNICAST, True)
    assert (af.mp_graceful_restart, af.long_lived_graceful_restart) == (True, True)
    assert af.long_lived_restart_time == 30
    assert (n.hold_time, n.keepalive_interval, n.connect_retry) == (90, 30, 120)
    assert c.gracebgp.routes == ()


def test_seed_134_values() -> None:
    c = load_file(FIXTURES / "seed_134.toml")
    assert (c.global_.asn, c.global_.router_id) == (65001, "192.168.128.134")
    (n,) = c.neighbors
    assert (n.neighbor_address, n.peer_as) == ("192.168.128.132", 65001)
    gr = n.graceful_restart
    assert (gr.enabled, gr.long_lived_enabled) == (True, True)
    assert (gr.restart_time, gr.notification_enabled) == (30, True)
    (af,) = n.afi_safis
    assert (af.name, af.mp_graceful_restart, af.long_lived_graceful_restart, af.long_lived_restart_time) == (
        "ipv4-unicast", True, True, 30)


@pytest.mark.skipif(not SEED.exists(), reason=f"seed file {SEED} not present")
@pytest.mark.parametrize(("fixture", "router_id"), [("seed_132.toml", "192.168.128.132"),
                                                     ("seed_134.toml", "192.168.128.134")])
def test_fixture_is_the_seed_with_whitespace_restored(fixture: str, router_id: str) -> None:
    """Removing the line breaks we restored gives the blog's text back, byte for byte."""
    seed = SEED.read_text(encoding="utf-8")
    start = seed.index(f'[global.config]as = 65001router-id = "{router_id}"')
    blob = "".join(seed[start:].splitlines()[:2])  # the blog kept one line break, after router-id
    ours = "".join((FIXTURES / fixture).read_text().splitlines())
    assert ours == blob


def test_kube_router_style_both_families_with_gr() -> None:
    c = load_file(FIXTURES / "kube_router_style.toml")
    (n,) = c.neighbors
    assert [(af.name, af.enabled, af.mp_graceful_restart) for af in n.afi_safis] == [
        ("ipv4-unicast", True, True), ("ipv6-unicast", True, True)]
    assert (n.graceful_restart.restart_time, n.graceful_restart.deferral_time) == (90, 360)
    assert c.is_ebgp(n)


def test_always_compare_med_from_route_selection_options() -> None:
    from gracebgp.config import parse

    cfg = parse('[global.config]\n  as = 65001\n  router-id = "10.0.0.1"\n'
                "[global.route-selection-options.config]\n  always-compare-med = true\n")
    assert cfg.global_.always_compare_med is True
    plain = parse('[global.config]\n  as = 65001\n  router-id = "10.0.0.1"\n')
    assert plain.global_.always_compare_med is False
