"""``[[peer-groups]]``: every neighbor section is inherited, the neighbor's own keys win, and
problems in a group's values point at the group's line (issue 15, items 1 and 3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gracebgp.config import Config, diff, parse, to_toml
from gracebgp.config.loader import check, parse_detailed

from .conftest import MINIMAL, problems

GLOBAL = {"global": {"config": {"as": 64512, "router-id": "192.0.2.1"}}}

#: A neighbor with a non-default value in every section a group may hold.
RICH: dict[str, Any] = {
    "config": {"neighbor-address": "192.0.2.2", "peer-as": 64513, "local-as": 64513,
               "description": "spine", "auth-password": "s3cret"},
    "timers": {"config": {"hold-time": 30, "keepalive-interval": 7, "connect-retry": 5,
                          "idle-hold-time-after-reset": 15}},
    "transport": {"config": {"passive-mode": True, "local-address": "192.0.2.1", "remote-port": 1790,
                             "local-port": 1791, "tcp-mss": 1400, "ip-tos": 16, "bind-interface": "eth0",
                             "mtu-discovery": False}},
    "ttl-security": {"config": {"enabled": True, "ttl-min": 254}},
    "route-reflector": {"config": {"route-reflector-client": True, "route-reflector-cluster-id": "10.0.0.1"}},
    "add-paths": {"config": {"receive": True}},
    "graceful-restart": {"config": {"enabled": True, "restart-time": 120, "helper-only": True,
                                    "deferral-time": 100, "notification-enabled": True,
                                    "long-lived-enabled": True, "stale-routes-time": 600}},
    "afi-safis": [
        {"config": {"afi-safi-name": "ipv4-unicast"},
         "mp-graceful-restart": {"config": {"enabled": True}},
         "long-lived-graceful-restart": {"config": {"enabled": True, "restart-time": 3600}},
         "add-paths": {"config": {"receive": False}},
         "prefix-limit": {"config": {"max-prefixes": 1000, "shutdown-threshold-pct": 80,
                                     "restart-timer": 60}}},
        {"config": {"afi-safi-name": "ipv6-unicast", "enabled": False}},
    ],
}
#: The sections RICH cannot hold together with ttl-security or MD5 or iBGP (route-server),
#: each in its own neighbor.
MULTIHOP: dict[str, Any] = {
    "config": {"neighbor-address": "192.0.2.3", "peer-as": 64514},
    "ebgp-multihop": {"config": {"enabled": True, "multihop-ttl": 3}},
    "as-path-options": {"config": {"allow-own-as": 2, "replace-peer-as": True}},
    "route-server": {"config": {"route-server-client": True}},
    "gracebgp": {"tcp-ao-current-key": 2,
                 "tcp-ao-keys": [{"send-id": 1, "secret": "k-alpha"},
                                 {"send-id": 2, "recv-id": 7, "algorithm": "aes-128-cmac-96",
                                  "secret": "k2"}]},
}


def load(*neighbors: dict[str, Any], groups: tuple[dict[str, Any], ...] = ()) -> Config:
    doc: dict[str, Any] = {**GLOBAL, "neighbors": list(neighbors)}
    if groups:
        doc["peer-groups"] = list(groups)
    return parse(json.dumps(doc, indent=1), "g.json", "json")


def split(neighbor: dict[str, Any], section: str, keys: tuple[str, ...] = ()) -> tuple[dict[str, Any],
                                                                                         dict[str, Any]]:
    """(the neighbor without ``section``, a group "g" holding it); for ``config``: ``keys`` only."""
    mine = copy.deepcopy(neighbor)
    group: dict[str, Any] = {"config": {"peer-group-name": "g"}}
    if section == "config":
        for key in keys:
            group["config"][key] = mine["config"].pop(key)
    else:
        group[section] = mine.pop(section)
    mine["config"]["peer-group"] = "g"
    return mine, group


@pytest.mark.parametrize(("neighbor", "section"), [
    *((RICH, s) for s in RICH if s != "config"),
    *((MULTIHOP, s) for s in MULTIHOP if s != "config"),
])
def test_every_section_is_inherited(neighbor: dict[str, Any], section: str) -> None:
    mine, group = split(neighbor, section)
    inherited = load(mine, groups=(group,))
    assert inherited == load(neighbor)
    assert inherited != load({k: v for k, v in neighbor.items() if k != section})  # the section matters


@pytest.mark.parametrize("key", ["peer-as", "local-as", "description", "auth-password"])
def test_group_config_keys_are_inherited(key: str) -> None:
    mine, group = split(RICH, "config", (key,))
    assert load(mine, groups=(group,)) == load(RICH)


def test_every_section_at_once_and_many_members() -> None:
    group = {k: copy.deepcopy(v) for k, v in RICH.items() if k != "config"}
    group["config"] = {"peer-group-name": "g", "peer-as": 64513, "local-as": 64513,
                       "description": "spine", "auth-password": "s3cret"}
    members = [{"config": {"neighbor-address": f"192.0.2.{n}", "peer-group": "g"}} for n in (2, 4)]
    config = load(*members, groups=(group,))
    expected = load(RICH)
    assert config.neighbors[0] == expected.neighbors[0]
    assert config.neighbors[1] == expected.neighbors[0].model_copy(update={"neighbor_address": "192.0.2.4"})


def test_neighbor_keys_override_the_group_key_by_key() -> None:
    group = {"config": {"peer-group-name": "g", "peer-as": 65100, "description": "group"},
             "timers": {"config": {"hold-time": 30, "connect-retry": 7}},
             "transport": {"config": {"passive-mode": True}},
             "afi-safis": [{"config": {"afi-safi-name": "ipv4-unicast"}},
                           {"config": {"afi-safi-name": "ipv6-unicast"}}]}
    neighbor = {"config": {"neighbor-address": "192.0.2.2", "peer-group": "g", "peer-as": 0,
                           "description": "mine"},
                "timers": {"config": {"hold-time": 9}},
                "transport": {"config": {"passive-mode": False}},  # a default value written wins too
                "afi-safis": [{"config": {"afi-safi-name": "ipv6-unicast"}}]}
    n = load(neighbor, groups=(group,)).neighbors[0]
    assert n.peer_as == 65100  # peer-as 0 on a member: the group's (GoBGP)
    assert n.description == "mine"
    assert (n.hold_time, n.keepalive_interval, n.connect_retry) == (9, 3, 7)  # keepalive: 9 // 3
    assert n.passive_mode is False
    assert [af.name for af in n.afi_safis] == ["ipv6-unicast"]  # an array replaces the group's


def test_a_neighbor_outside_the_group_is_unaffected() -> None:
    group = {"config": {"peer-group-name": "g", "peer-as": 65100},
             "timers": {"config": {"hold-time": 30}}}
    plain = {"config": {"neighbor-address": "192.0.2.9", "peer-as": 65009}}
    member = {"config": {"neighbor-address": "192.0.2.2", "peer-group": "g"}}
    config = load(plain, member, groups=(group,))
    assert [n.hold_time for n in config.neighbors] == [90, 30]


GROUPED = MINIMAL + """\
[[peer-groups]]
[peer-groups.config]
peer-group-name = "spines"
peer-as = 65100
[peer-groups.timers.config]
hold-time = 30
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-group = "spines"
"""  # peer-groups on line 4, its peer-as on 7, hold-time on 9; the neighbor's peer-group on 13


def test_toml_peer_group() -> None:
    n = parse(GROUPED).neighbors[0]
    assert (n.peer_as, n.hold_time) == (65100, 30)


def test_unknown_group_names_file_line_and_key() -> None:
    found = problems(GROUPED.replace('peer-group = "spines"', 'peer-group = "leaves"'))
    assert [(p.file, p.line, p.key, p.message) for p in found] == [
        ("t.toml", 13, "neighbors[0].config.peer-group",
         "there is no peer group 'leaves' (peer groups defined: 'spines')"),
    ]


def test_a_bad_inherited_value_points_at_the_group() -> None:
    found = problems(GROUPED.replace("hold-time = 30", "hold-time = 2") + """\
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.3"
peer-group = "spines"
""")
    assert [(p.line, p.key) for p in found] == [(9, "peer-groups[0].timers.config.hold-time")]  # once


def test_group_keys_are_checked_like_a_neighbors() -> None:
    text = GROUPED + """\
[[peer-groups]]
[peer-groups.config]
peer-group-name = "rs"
neighbor-address = "192.0.2.7"
[peer-groups.timers.config]
hold-tme = 30
[peer-groups.error-handling.config]
treat-as-withdraw = true
"""
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (17, "peer-groups[1].config.neighbor-address", "neighbor-address is set per neighbor, in "
         "[neighbors.config]: a peer group (GoBGP's PeerGroupConfig) has no such key"),
        (19, "peer-groups[1].timers.config.hold-tme",
         "unknown key 'hold-tme' in [peer-groups.timers.config]; did you mean 'hold-time'?"),
        (20, "peer-groups[1].error-handling", "section [peer-groups.error-handling] is GoBGP configuration "
         "gracebgp does not support yet"),
    ]


def test_group_problems_are_reported_once_with_members() -> None:
    text = GROUPED.replace("hold-time = 30", "hold-time = 30\n[peer-groups.logging.config]\nlevel = 1")
    assert [(p.line, p.key) for p in problems(text)] == [(10, "peer-groups[0].logging")]


def test_group_names_are_required_and_unique() -> None:
    text = GROUPED + '[[peer-groups]]\n[peer-groups.config]\npeer-group-name = "spines"\n' \
                     '[[peer-groups]]\n[peer-groups.config]\npeer-as = 1\n'
    assert [(p.line, p.key, p.message) for p in problems(text)] == [
        (16, "peer-groups[1].config.peer-group-name",
         "peer group 'spines' is defined twice (also peer-groups[0])"),
        (18, "peer-groups[2].config.peer-group-name",
         "required key is missing: the name neighbors refer to the group by"),
    ]


def test_omitted_peer_as_in_group_and_neighbor_is_any_as() -> None:
    # GoBGP's meaning: no peer-as anywhere (or 0) accepts whatever AS the OPEN names
    assert parse(GROUPED.replace("peer-as = 65100\n", "")).neighbors[0].peer_as is None
    assert parse(GROUPED.replace("peer-as = 65100", "peer-as = 0")).neighbors[0].peer_as is None


def test_check_shows_effective_values_and_their_source(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(GROUPED + "[neighbors.timers.config]\nhold-time = 9\n")
    code, text = check(path)
    assert code == 0
    assert text.splitlines()[1:] == [
        "neighbor 192.0.2.2 (peer-group 'spines'), as written (keys not listed take their defaults):",
        "  config.peer-as = 65100  <- peer group 'spines', line 7",
        "  config.neighbor-address = \"192.0.2.2\"  <- neighbor, line 12",
        "  timers.config.hold-time = 9  <- neighbor, line 15",
    ]


def test_check_hides_secrets() -> None:
    loaded = parse_detailed(GROUPED.replace("peer-as = 65100", 'peer-as = 65100\nauth-password = "s3cret"'))
    assert "  config.auth-password = (secret)  <- peer group 'spines', line 8" in loaded.explain()
    assert "s3cret" not in "\n".join(loaded.explain())


def test_a_changed_group_changes_its_members_on_reload() -> None:
    before, after = parse(GROUPED), parse(GROUPED.replace("peer-as = 65100", "peer-as = 65101"))
    d = diff(before, after)
    assert [(old.peer_as, new.peer_as) for old, new in d.changed] == [(65100, 65101)]
    assert diff(before, parse(GROUPED.replace('peer-group-name = "spines"', 'peer-group-name = "spines"\n'
                                              'description = "x"'))).cosmetic


def test_the_merged_configuration_dumps_without_groups() -> None:
    config = parse(GROUPED)
    text = to_toml(config)
    assert "peer-group" not in text and parse(text) == config


def test_a_group_no_neighbor_names_has_its_values_checked() -> None:
    text = MINIMAL + """\
[[peer-groups]]
[peer-groups.config]
peer-group-name = "spare"
[peer-groups.timers.config]
hold-time = 2
[peer-groups.transport.config]
local-address = "2001:db8::9"
tcp-mss = 20
"""
    assert [(p.line, p.key) for p in problems(text)] == [
        (8, "peer-groups[0].timers.config.hold-time"),
        (11, "peer-groups[0].transport.config.tcp-mss"),
    ]
    assert parse(text.replace("hold-time = 2", "hold-time = 3").replace("tcp-mss = 20", "tcp-mss = 1400"))
