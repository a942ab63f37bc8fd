"""[neighbors.bfd] and [peer-groups.bfd]: GoBGP 4.x's keys (microseconds) and gracebgp's
multihop / graceful, with file:line:key errors."""

from __future__ import annotations

import pytest

from gracebgp.bfd import BfdParams
from gracebgp.config import parse

from .conftest import MINIMAL, only
from .test_errors import NEIGHBOR  # [[neighbors]] 192.0.2.2, AS 65002: lines 4-7 after MINIMAL


def test_defaults_are_gobgps() -> None:
    bfd = parse(MINIMAL + NEIGHBOR).neighbors[0].bfd
    assert not bfd.enabled
    assert (bfd.desired_minimum_tx_interval, bfd.required_minimum_receive,
            bfd.detection_multiplier, bfd.destination_port) == (1_000_000, 1_000_000, 3, 3784)


def test_keys_reach_the_session_parameters() -> None:
    text = MINIMAL + NEIGHBOR + """\
[neighbors.bfd.config]
enabled = true
desired-minimum-tx-interval = 300000
required-minimum-receive = 200000
detection-multiplier = 4
[neighbors.bfd.gracebgp]
multihop = true
graceful = true
"""
    bfd = parse(text).neighbors[0].bfd
    assert bfd.enabled and bfd.multihop and bfd.graceful
    assert bfd.destination_port == 4784  # RFC 5883 §5
    assert bfd.params(control_plane_independent=True) == BfdParams(
        desired_min_tx_us=300_000, required_min_rx_us=200_000, detect_mult=4,
        control_plane_independent=True)


def test_port_is_the_peers_destination_port() -> None:
    text = MINIMAL + NEIGHBOR + "[neighbors.bfd.config]\nenabled = true\nport = 3785\n"
    assert parse(text).neighbors[0].bfd.destination_port == 3785


def test_peer_group_bfd_is_inherited_and_overridden() -> None:
    text = MINIMAL + """\
[[peer-groups]]
[peer-groups.config]
peer-group-name = "edge"
peer-as = 65002
[peer-groups.bfd.config]
enabled = true
desired-minimum-tx-interval = 300000
required-minimum-receive = 300000
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-group = "edge"
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.3"
peer-group = "edge"
[neighbors.bfd.config]
required-minimum-receive = 500000
"""
    a, b = parse(text).neighbors
    assert a.bfd.enabled and b.bfd.enabled
    assert (a.bfd.required_minimum_receive, b.bfd.required_minimum_receive) == (300_000, 500_000)
    assert b.bfd.desired_minimum_tx_interval == 300_000


@pytest.mark.parametrize(("key", "value", "words"), [
    ("desired-minimum-tx-interval", "49999", "greater than or equal to 50000"),
    ("required-minimum-receive", "10000", "greater than or equal to 50000"),
    ("detection-multiplier", "0", "greater than or equal to 1"),
    ("detection-multiplier", "256", "less than or equal to 255"),
    ("port", "70000", "less than or equal to 65535"),
])
def test_bad_values_name_file_line_and_key(key: str, value: str, words: str) -> None:
    text = MINIMAL + NEIGHBOR + f"[neighbors.bfd.config]\nenabled = true\n{key} = {value}\n"
    line, where, message = only(text)
    assert (line, where) == (10, f"neighbors[0].bfd.config.{key}")
    assert words in message


def test_unknown_bfd_key_is_an_error() -> None:
    text = MINIMAL + NEIGHBOR + "[neighbors.bfd.config]\nenabled = true\nmultiplier = 3\n"
    line, where, message = only(text)
    assert (line, where) == (10, "neighbors[0].bfd.config.multiplier")
    assert "unknown key" in message


@pytest.mark.parametrize("key", ["multihop", "graceful", "wait-for-up"])
def test_gracebgp_keys_without_bfd_enabled_are_refused(key: str) -> None:
    """They act on a BFD session only (review of issue 18, item 5: accepted, no effect)."""
    text = MINIMAL + NEIGHBOR + f"[neighbors.bfd.gracebgp]\n{key} = true\n"
    line, where, message = only(text)
    assert (line, where) == (9, f"neighbors[0].bfd.gracebgp.{key}")
    assert "enabled is false" in message


def test_bfd_in_a_dynamic_neighbors_peer_group_is_refused() -> None:
    text = MINIMAL + (
        '[[peer-groups]]\nconfig = { peer-group-name = "pg", peer-as = 65002 }\nbfd.config.enabled = true\n'
        '[[dynamic-neighbors]]\nconfig = { prefix = "10.9.0.0/24", peer-group = "pg" }\n')
    _line, where, message = only(text)
    assert where == "dynamic-neighbors[0].config.peer-group"
    assert "BFD" in message and "not supported for dynamic neighbors" in message


def test_bfd_to_a_link_local_neighbor_is_refused() -> None:
    """gracebgp-bfdd matches packets by address without the scope (review of issue 18,
    item 4): such a session would never come Up."""
    text = MINIMAL + """\
[[neighbors]]
[neighbors.config]
neighbor-address = "fe80::2%eth0"
peer-as = 65002
[neighbors.bfd.config]
enabled = true
"""
    _line, where, message = only(text)
    assert where == "neighbors[0]"
    assert "[neighbors.bfd.config] enabled" in message and "link-local" in message
