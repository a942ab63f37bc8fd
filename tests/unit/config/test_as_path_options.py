"""``[neighbors.as-path-options.config]``, ``[neighbors.config] remove-private-as`` and
``[neighbors.route-server.config]`` (issue 15, items 4 and 5): read into the model and the
speaker's settings, inherited from peer groups, and refused where they cannot apply."""

from __future__ import annotations

from gracebgp.config import parse
from gracebgp.core.peer import NeighborSettings
from gracebgp.rib.aspath_rules import RemovePrivateAs

from .conftest import MINIMAL, only, problems

EBGP = """
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
"""


def settings(text: str) -> NeighborSettings:
    cfg = parse(text)
    return NeighborSettings.from_config(cfg.neighbors[0], cfg.global_)


def test_defaults_change_nothing() -> None:
    s = settings(MINIMAL + EBGP)
    assert (s.allow_own_as, s.replace_peer_as, s.remove_private_as, s.route_server_client) == (
        0, False, RemovePrivateAs.NONE, False)


def test_keys_reach_the_speakers_settings() -> None:
    s = settings(MINIMAL + EBGP + 'remove-private-as = "replace"\n'
                 "[neighbors.as-path-options.config]\nallow-own-as = 3\nreplace-peer-as = true\n")
    assert (s.allow_own_as, s.replace_peer_as, s.remove_private_as) == (3, True, RemovePrivateAs.REPLACE)
    assert s.export_options() == {"replace_peer_as": True, "remove_private_as": RemovePrivateAs.REPLACE,
                                  "route_server_client": False}
    rs = settings(MINIMAL + EBGP + "[neighbors.route-server.config]\nroute-server-client = true\n")
    assert rs.route_server_client and rs.export_options()["route_server_client"]


def test_bad_values_name_line_and_key() -> None:
    line, key, message = only(MINIMAL + EBGP + 'remove-private-as = "some"\n')
    assert (line, key) == (9, "neighbors[0].config.remove-private-as")
    assert "'all'" in message and "'replace'" in message
    line, key, _ = only(MINIMAL + EBGP + "[neighbors.as-path-options.config]\nallow-own-as = 256\n")
    assert (line, key) == (10, "neighbors[0].as-path-options.config.allow-own-as")


def test_remove_private_as_and_route_server_client_are_ebgp_only() -> None:
    ibgp = EBGP.replace("65002", "65001")  # MINIMAL's AS
    line, key, message = only(MINIMAL + ibgp + 'remove-private-as = "all"\n')
    assert (line, key) == (9, "neighbors[0].config.remove-private-as")
    assert "eBGP" in message and "65001" in message
    rs_client = "[neighbors.route-server.config]\nroute-server-client = true\n"
    line, key, message = only(MINIMAL + ibgp + rs_client)
    assert (line, key) == (10, "neighbors[0].route-server.config.route-server-client")
    assert "RFC 7947" in message


def test_replace_peer_as_is_ebgp_only() -> None:
    """On an iBGP neighbor it would replace our AS by our AS: nothing to see, so refused
    (GoBGP: "can't set replace-peer-as for iBGP peer")."""
    ibgp = EBGP.replace("65002", "65001")  # MINIMAL's AS
    option = "[neighbors.as-path-options.config]\nreplace-peer-as = true\n"
    line, key, message = only(MINIMAL + ibgp + option)
    assert (line, key) == (10, "neighbors[0].as-path-options.config.replace-peer-as")
    assert "eBGP" in message and "65001" in message
    assert settings(MINIMAL + EBGP + option).replace_peer_as


def test_remove_private_as_beside_route_server_client_is_refused() -> None:
    line, key, message = only(MINIMAL + EBGP + 'remove-private-as = "all"\n'
                              "[neighbors.route-server.config]\nroute-server-client = true\n")
    assert (line, key) == (9, "neighbors[0].config.remove-private-as")
    assert "RFC 7947 §2.2.2.1" in message


def test_secondary_route_is_not_supported_yet() -> None:
    line, key, message = only(MINIMAL + EBGP + "[neighbors.route-server.config]\nroute-server-client = true\n"
                              "secondary-route = true\n")
    assert (line, key) == (11, "neighbors[0].route-server.config.secondary-route")
    assert "does not support yet" in message


def group(name: str, body: str) -> str:
    """A peer group with remove-private-as "all" and ``body`` (more sections)."""
    return (f'\n[[peer-groups]]\n[peer-groups.config]\npeer-group-name = "{name}"\npeer-as = 65010\n'
            f'remove-private-as = "all"\n{body}')


def member(address: str, name: str, body: str = "") -> str:
    return (f'\n[[neighbors]]\n[neighbors.config]\nneighbor-address = "{address}"\n'
            f'peer-group = "{name}"\n{body}')


def test_a_peer_group_gives_its_members_the_options_and_a_member_overrides() -> None:
    text = MINIMAL + group("ix", "[peer-groups.as-path-options.config]\nallow-own-as = 1\n"
                                 "[peer-groups.route-server.config]\nroute-server-client = false\n")
    text += member("192.0.2.2", "ix") + member("192.0.2.3", "ix", 'remove-private-as = "replace"\n'
                                               "[neighbors.as-path-options.config]\nallow-own-as = 4\n")
    first, second = parse(text).neighbors
    assert (first.remove_private_as, first.allow_own_as, first.route_server_client) == ("all", 1, False)
    assert (second.remove_private_as, second.allow_own_as) == ("replace", 4)


def test_a_group_of_route_server_clients_with_remove_private_as_is_refused_at_the_group() -> None:
    text = MINIMAL + group("rs", "[peer-groups.route-server.config]\nroute-server-client = true\n")
    found = problems(text + member("192.0.2.2", "rs"))
    assert [p.message for p in found] and all("route-server client" in p.message for p in found)
    assert found[0].line == 9  # the group's remove-private-as line
