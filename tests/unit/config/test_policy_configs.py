"""The routing-policy files of tests/configs/gobgp/ (issue 16): each loads as gracebgpd
--check loads it, round-trips through the running-config dump, and its compiled book does
to routes what the file says it does (the policy engine run over each neighbor's
assignment, as the core runs it)."""

from __future__ import annotations

import json
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gracebgp.config import Config, check, load_file, parse, to_toml
from gracebgp.config.effective import settings
from gracebgp.config.loader import parse_detailed, read_file
from gracebgp.policy import Direction, NextHopKind, RouteType
from gracebgp.wire import AttrSet
from gracebgp.wire.communities import parse_community, parse_large_community

from ..policy.helpers import attrs as plain_attrs
from .policy_effect import attrs, decide

CONFIGS = Path(__file__).parents[2] / "configs" / "gobgp"
POLICY_FILES = sorted(CONFIGS.glob("policy-*.toml"))
IMPORT, EXPORT = Direction.IMPORT, Direction.EXPORT
SELF, ADDRESS = NextHopKind.SELF, NextHopKind.ADDRESS


def load(name: str) -> Config:
    return load_file(CONFIGS / name)


def comms(a: AttrSet) -> set[str]:
    return {f"{c >> 16}:{c & 0xFFFF}" for c in a.communities}


def test_every_feature_has_a_file() -> None:
    names = {p.stem.removeprefix("policy-") for p in POLICY_FILES}
    assert names >= {
        "prefix-set", "neighbor-set", "community-set", "ext-community-set", "large-community-set",
        "as-path-set", "as-path-length", "community-count", "route-type", "afi-safi-in", "next-hop-in-list",
        "route-disposition", "set-community", "set-ext-community", "set-large-community", "set-med",
        "set-local-pref", "set-next-hop", "set-as-path-prepend", "apply-global", "apply-neighbor",
        "apply-peer-group", "defaults", "kube-router", "cilium", "metallb"}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_loads_checks_and_round_trips(path: Path) -> None:
    code, out = check(path)
    assert code == 0, out
    assert "routing policy: defined sets:" in out
    cfg = load_file(path)
    assert cfg.policy_book.policies  # every file defines some
    assert parse(to_toml(cfg)) == cfg


Case = tuple[str, Direction, str, AttrSet, bool]
#: file -> (neighbor, direction, prefix, attributes, accepted) for routes the file decides.
DECISIONS: dict[str, list[Case]] = {
    "policy-prefix-set.toml": [
        ("192.0.2.2", IMPORT, "10.0.5.0/24", attrs(65002), True),
        ("192.0.2.2", IMPORT, "10.0.5.16/28", attrs(65002), True),
        ("192.0.2.2", IMPORT, "10.0.5.0/29", attrs(65002), False),  # longer than 28
        ("192.0.2.2", IMPORT, "10.0.0.0/16", attrs(65002), False),  # shorter than 24
        ("192.0.2.2", IMPORT, "10.1.0.0/24", attrs(65002), False),  # outside
        ("192.0.2.2", IMPORT, "2001:db8:1::/48", attrs(65002), True),
    ],
    "policy-neighbor-set.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), False),
        ("192.0.2.3", IMPORT, "10.0.0.0/24", attrs(), True),
    ],
    "policy-community-set.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, comms=("65002:666",)), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, comms=("65535:1",)), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, comms=("65002:6666",)), True),  # exact match
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), True),
    ],
    "policy-ext-community-set.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, ext=("rt:65002:100",)), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, ext=("soo:65002:100",)), True),
    ],
    "policy-large-community-set.toml": [  # match-set-options all
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, large=((65002, 1, 1), (65002, 1, 2))), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, large=((65002, 1, 1),)), True),
    ],
    "policy-as-path-set.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 64666, 65100), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 646660), True),
    ],
    "policy-as-path-length.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 1, 2, 3), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 1, 2), True),
    ],
    "policy-community-count.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, comms=("1:1", "1:2", "1:3")), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, comms=("1:1", "1:2")), True),
    ],
    "policy-afi-safi-in.toml": [
        ("192.0.2.2", IMPORT, "2001:db8::/32", attrs(65002), False),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), True),
    ],
    "policy-next-hop-in-list.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), True),  # next hop 192.0.2.9
    ],
    "policy-route-disposition.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 1, 2), False),  # b rejects
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), True),  # c accepts
    ],
}


@pytest.mark.parametrize(("name", "case"), [(n, c) for n, cases in DECISIONS.items() for c in cases],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_the_file_decides_routes(name: str, case: Case) -> None:
    address, direction, prefix, a, accepted = case
    assert decide(load(name), address, direction, prefix, a)[0] is accepted


def test_next_hop_in_list_rejects_its_next_hops() -> None:
    assert decide(load("policy-next-hop-in-list.toml"), "192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002),
                  nh="203.0.113.7")[0] is False


def test_route_type_keeps_ibgp_routes_from_export() -> None:
    cfg = load("policy-route-type.toml")
    for kind, accepted in ((RouteType.INTERNAL, False), (RouteType.EXTERNAL, True), (RouteType.LOCAL, True)):
        assert decide(cfg, "192.0.2.2", EXPORT, "10.0.0.0/24", attrs(), route_type=kind)[0] is accepted


def test_route_disposition_fall_through_keeps_the_earlier_actions() -> None:
    ok, a, _ = decide(load("policy-route-disposition.toml"), "192.0.2.2", IMPORT, "10.0.0.0/24",
                      attrs(65002, 1, med=5))
    assert ok and a.med == 105  # a's set-med +100 applied, then c accepted


Check = Callable[[bool, AttrSet, Any], bool]
#: file -> (neighbor, direction, prefix, attributes, what the result must satisfy).
ACTIONS: dict[str, list[tuple[str, Direction, str, AttrSet, Check]]] = {
    "policy-set-community.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, comms=("65002:1", "65003:1")),
         lambda o, a, h: o and comms(a) == {"65003:1", "65000:100"}),
    ],
    "policy-set-ext-community.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, ext=("rt:65002:100", "soo:65002:1")),
         lambda o, a, h: o and a.extended_communities == attrs(ext=("rt:65000:1",)).extended_communities),
    ],
    "policy-set-large-community.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, large=((65002, 1, 1),)),
         lambda o, a, h: o and a.large_communities == ((65002, 1, 1), parse_large_community("65000:0:2"))),
    ],
    "policy-set-med.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, med=25), lambda o, a, h: o and a.med == 15),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 1, 2, med=25), lambda o, a, h: o and a.med == 50),
        # 5 - 10 is below 0: not applied, as in GoBGP (the MED stays 5)
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, med=5), lambda o, a, h: o and a.med == 5),
    ],
    "policy-set-local-pref.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), lambda o, a, h: o and a.local_pref == 200),
    ],
    "policy-set-next-hop.toml": [
        ("192.0.2.2", EXPORT, "10.0.0.0/24", attrs(65002), lambda o, a, h: o and h.kind is SELF),
        ("192.0.2.2", EXPORT, "2001:db8:5::/48", attrs(65002),
         lambda o, a, h: o and (h.kind, h.address) == (ADDRESS, "2001:db8::1")),
    ],
    "policy-set-as-path-prepend.toml": [
        ("192.0.2.2", EXPORT, "10.0.0.0/24", attrs(65010),
         lambda o, a, h: o and a.as_path == ((2, (65000, 65000, 65010)),)),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002, 65010),
         lambda o, a, h: o and a.as_path == ((2, (65002, 65002, 65010)),)),
    ],
    "policy-apply-global.toml": [
        (n, IMPORT, "10.0.0.0/24", attrs(65002), lambda o, a, h: o and a.local_pref == 150)
        for n in ("192.0.2.2", "192.0.2.3")] + [
        (n, EXPORT, "10.0.0.0/24", attrs(), lambda o, a, h: o and comms(a) == {"65000:1"})
        for n in ("192.0.2.2", "192.0.2.3")],
    "policy-apply-neighbor.toml": [
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), lambda o, a, h: o and a.local_pref == 50),
        ("192.0.2.3", IMPORT, "10.0.0.0/24", attrs(65003), lambda o, a, h: o and a.local_pref == 150),
        ("192.0.2.2", EXPORT, "10.0.0.0/24", attrs(), lambda o, a, h: o and comms(a) == {"65000:1"}),
    ],
    "policy-apply-peer-group.toml": [
        ("192.0.2.10", IMPORT, "198.51.100.0/25", attrs(65010), lambda o, a, h: o),
        ("192.0.2.10", IMPORT, "10.0.0.0/24", attrs(65010), lambda o, a, h: not o),  # the group's default
        ("192.0.2.11", IMPORT, "10.0.0.0/24", attrs(65010), lambda o, a, h: o),  # its own default
    ],
    "policy-defaults.toml": [
        ("192.0.2.2", IMPORT, "10.244.3.0/24", attrs(65002), lambda o, a, h: o and comms(a) == {"65000:244"}),
        ("192.0.2.2", IMPORT, "10.0.0.0/24", attrs(65002), lambda o, a, h: not o),
        ("192.0.2.2", EXPORT, "10.0.0.0/24", attrs(65002), lambda o, a, h: o),
    ],
    "policy-kube-router.toml": [
        ("10.0.0.1", EXPORT, "10.244.1.0/24", plain_attrs(), lambda o, a, h: o and h.kind is SELF
         and a.as_path == ((2, (64512,)),)),
        ("10.0.0.1", EXPORT, "10.96.0.10/32", plain_attrs(), lambda o, a, h: o and h.kind is SELF),
        ("10.0.0.1", EXPORT, "10.100.7.1/32", plain_attrs(), lambda o, a, h: o),
        ("10.0.0.1", EXPORT, "10.244.2.0/24", plain_attrs(), lambda o, a, h: not o),  # another node's
        ("10.0.0.1", EXPORT, "0.0.0.0/0", plain_attrs(64500), lambda o, a, h: not o),
        ("10.0.0.1", IMPORT, "0.0.0.0/0", plain_attrs(64500), lambda o, a, h: not o),
    ],
    "policy-cilium.toml": [
        ("10.0.1.1", EXPORT, "10.200.5.0/24", plain_attrs(), lambda o, a, h: o and comms(a) == {"65001:100"}),
        ("10.0.1.1", EXPORT, "172.20.0.10/32", plain_attrs(), lambda o, a, h: o and comms(a) == {"65001:200"}
         and a.local_pref == 200 and a.large_communities == ((65001, 1, 200),)),
        ("10.0.1.1", EXPORT, "172.20.0.20/32", plain_attrs(), lambda o, a, h: o and comms(a) == {"65001:300"}
         and a.local_pref == 100),
        ("10.0.1.1", EXPORT, "172.20.0.30/32", plain_attrs(), lambda o, a, h: not o),
        ("10.0.1.1", EXPORT, "10.200.5.0/25", plain_attrs(), lambda o, a, h: not o),
    ],
    "policy-metallb.toml": [
        ("10.0.0.1", EXPORT, "203.0.113.5/32", plain_attrs(), lambda o, a, h: o and a.local_pref == 300
         and comms(a) == {"64512:300"}),
        ("10.0.0.1", EXPORT, "192.168.50.7/32", plain_attrs(),
         lambda o, a, h: o and a.communities == (parse_community("no-export"),)),
        ("10.0.0.1", EXPORT, "203.0.113.16/32", plain_attrs(), lambda o, a, h: not o),
    ],
}


@pytest.mark.parametrize(("name", "case"), [(n, c) for n, cases in ACTIONS.items() for c in cases],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_the_file_changes_routes(name: str, case: tuple[str, Direction, str, AttrSet, Check]) -> None:
    address, direction, prefix, a, want = case
    ok, result, nh = decide(load(name), address, direction, prefix, a)
    assert want(ok, result, nh), (ok, result.attrs, nh)


def test_rfc8212_rejects_for_ebgp_without_policy_only() -> None:
    text = (CONFIGS / "policy-apply-neighbor.toml").read_text()
    text = text.replace('  import-policy-list = ["lp150"]\n  export', "  export")
    text += '\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "192.0.2.4"\n    peer-as = 65000\n'
    off, on = parse(text), parse(text + "\n[gracebgp]\n  rfc8212 = true\n")
    route = ("10.0.0.0/24", attrs(65003))
    # 192.0.2.3: eBGP, no import policy at any level -> RFC 8212 §3 rejects; export has the global one
    assert decide(off, "192.0.2.3", IMPORT, *route)[0] and not decide(on, "192.0.2.3", IMPORT, *route)[0]
    assert decide(on, "192.0.2.3", EXPORT, *route)[0]
    assert decide(on, "192.0.2.2", IMPORT, *route)[0]  # its own import policy
    assert decide(on, "192.0.2.4", IMPORT, *route)[0]  # iBGP: RFC 8212 is about eBGP
    assert on.policy_book.rfc8212 and "rfc8212 on" in check_text(text + "\n[gracebgp]\n  rfc8212 = true\n")


def check_text(text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write(text)
        f.flush()
        return check(f.name)[1]


def test_check_prints_the_policies() -> None:
    out = check(CONFIGS / "policy-cilium.toml")[1].splitlines()
    assert out[1:] == [
        "routing policy: defined sets: 3 prefix, 0 neighbor, 0 community, 0 ext-community, "
        "0 large-community, 0 as-path; 2 policies",
        "  policy 'cilium-pod-cidr': 1 statements",
        "  policy 'cilium-services': 2 statements",
        "  global: import no policies (global), default accept-route; "
        "export no policies (global), default accept-route",
        "  neighbor 10.0.1.1: import no policies (global), default accept-route; "
        "export cilium-pod-cidr, cilium-services (own), default reject-route",
    ]
    assert not [line for line in check(CONFIGS / "getting-started.toml")[1].splitlines() if "policy" in line]


def test_a_member_shows_where_its_apply_policy_comes_from() -> None:
    path = CONFIGS / "policy-apply-peer-group.toml"
    out = check(path)[1].splitlines()
    group = "peer group 'customers'"
    assert f'  apply-policy.config.import-policy-list = ["customer-in"]  <- {group}, line 12' in out
    assert '  apply-policy.config.default-import-policy = "accept-route"  <- neighbor, line 25' in out
    loaded = parse_detailed(read_file(path), str(path))
    shown = {key: (value, source) for key, value, source in settings(loaded, "192.0.2.10")}
    assert shown["apply-policy.config.import-policy-list"] == ("customer-in", f"{group}, line 12")
    assert shown["apply-policy.config.default-import-policy"] == ("reject-route", f"{group}, line 13")
    assert shown["apply-policy.config.export-policy-list"] == ("(none)", "default")


def test_yaml_and_json_files_load_the_same_policy() -> None:
    cfg = load("policy-cilium.toml")
    doc = tomllib.loads((CONFIGS / "policy-cilium.toml").read_text())
    assert parse(json.dumps(doc), "c.json", "json") == cfg
    assert parse(yaml.safe_dump(doc), "c.yaml", "yaml") == cfg
