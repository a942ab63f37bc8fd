"""GoBGP features gracebgp does not implement are refused, each by name, all in one run
(issue 15, item 8); "did you mean" only offers keys of GoBGP's schema or gracebgp's own."""

from __future__ import annotations

import pytest

from gracebgp.config.groups import PEER_GROUP
from gracebgp.config.schema import CONFIG, Section

from .conftest import MINIMAL, problems

EVERYTHING = MINIMAL + """\
[global.confederation.config]
  enabled = true
  identifier = 65000
[[vrfs]]
  [vrfs.config]
    name = "red"
[[rpki-servers]]
  [rpki-servers.config]
    address = "127.0.0.1"
[[bmp-servers]]
  [bmp-servers.config]
    address = "127.0.0.1"
[[mrt-dump]]
  [mrt-dump.config]
    dump-type = "updates"
[zebra.config]
  enabled = true
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.2"
    peer-as = 65002
""" + "".join(f"""\
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{name}"
""" for name in ("ipv4-flowspec", "l2vpn-evpn", "l3vpn-ipv4-unicast", "ls", "ipv4-mup"))


def test_every_unsupported_feature_is_named_in_one_run() -> None:
    found = [(p.line, p.key, p.message) for p in problems(EVERYTHING)]
    names = [
        (4, "global.confederation", "BGP confederations (RFC 5065)"),
        (7, "vrfs", "VRFs (L3VPN, RFC 4364)"),
        (10, "rpki-servers", "RPKI origin validation (RFC 6811)"),
        (13, "bmp-servers", "BMP monitoring (RFC 7854)"),
        (16, "mrt-dump", "MRT dumps (RFC 6396)"),
        (19, "zebra", "the zebra (FRR) FIB interface"),
        (27, "neighbors[0].afi-safis[0].config.afi-safi-name", "FlowSpec (RFC 8955)"),
        (30, "neighbors[0].afi-safis[1].config.afi-safi-name", "EVPN (RFC 7432)"),
        (33, "neighbors[0].afi-safis[2].config.afi-safi-name", "L3VPN (RFC 4364)"),
        (36, "neighbors[0].afi-safis[3].config.afi-safi-name", "BGP-LS (RFC 7752)"),
        (39, "neighbors[0].afi-safis[4].config.afi-safi-name", "BGP-MUP"),
    ]
    assert [(line, key) for line, key, _ in found] == [(line, key) for line, key, _ in names]
    for (_, _, message), (_, _, feature) in zip(found, names, strict=True):
        assert feature in message and "which gracebgp does not support yet" in message


#: Key names of GoBGP's configuration schema (pkg/config/oc) that gracebgp's sections
#: name, and gracebgp's own extension keys ([gracebgp], [neighbors.gracebgp]).
_GOBGP_WORDS = """
global config as router-id port local-address-list route-selection-options always-compare-med
ignore-as-path-length external-compare-router-id advertise-inactive-routes enable-aigp
ignore-next-hop-igp-metric disable-best-path-selection apply-policy confederation use-multiple-paths
default-route-distance graceful-restart mpls-label-range afi-safis neighbors neighbor-address peer-as
local-as description admin-down auth-password peer-group neighbor-interface remove-private-as
route-flap-damping send-community peer-type vrf send-software-version timers hold-time
keepalive-interval connect-retry idle-hold-time-after-reset minimum-advertisement-interval transport
passive-mode local-address remote-port local-port tcp-mss ip-tos bind-interface mtu-discovery ttl
ebgp-multihop enabled multihop-ttl ttl-security ttl-min route-reflector route-reflector-client
route-reflector-cluster-id add-paths receive send-max restart-time helper-only deferral-time
notification-enabled long-lived-enabled stale-routes-time as-path-options error-handling logging
route-server route-server-client secondary-route allow-own-as replace-peer-as
bfd desired-minimum-tx-interval required-minimum-receive detection-multiplier
afi-safi-name mp-graceful-restart long-lived-graceful-restart prefix-limit
max-prefixes shutdown-threshold-pct restart-timer ipv4-unicast ipv6-unicast ipv4-labelled-unicast
ipv6-labelled-unicast l3vpn-ipv4-unicast l3vpn-ipv6-unicast l2vpn-evpn l2vpn-vpls
route-target-membership peer-groups peer-group-name rpki-servers bmp-servers vrfs mrt-dump zebra
netlink collector defined-sets policy-definitions dynamic-neighbors ebgp ibgp allow-multiple-as
maximum-paths
import-policy-list export-policy-list default-import-policy default-export-policy in-policy-list
default-in-policy prefix-sets prefix-set-name prefix-list ip-prefix masklength-range neighbor-sets
neighbor-set-name neighbor-info-list bgp-defined-sets community-sets community-set-name community-list
ext-community-sets ext-community-set-name ext-community-list large-community-sets large-community-set-name
large-community-list as-path-sets as-path-set-name as-path-list tag-sets name statements conditions
match-prefix-set prefix-set match-set-options match-neighbor-set neighbor-set bgp-conditions
match-community-set community-set match-ext-community-set ext-community-set match-large-community-set
large-community-set match-as-path-set as-path-set as-path-length operator value community-count route-type
afi-safi-in-list next-hop-in-list call-policy match-tag-set igp-conditions med-eq origin-eq local-pref-eq
rpki-validation-result actions route-disposition igp-actions bgp-actions set-community options
set-community-method communities-list community-set-ref set-ext-community set-ext-community-method
ext-community-set-ref set-large-community set-large-community-method set-med set-local-pref set-next-hop
set-as-path-prepend repeat-n set-route-origin
"""
_GRACEBGP_WORDS = """
gracebgp auth-password-file tcp-ao-current-key tcp-ao-keys send-id recv-id algorithm secret secret-file
state-dir api-socket api-socket-group api-socket-mode api-listen api-token-file api-tls-cert-file
api-tls-key-file metrics-listen sigterm forwarding-state-preserved drain-delay establish-wait
llgr-to-ibgp provisional-hard-reset rfc8212 record routes prefix next-hop origin communities
large-communities med local-pref max-peers multihop graceful wait-for-up
fib fib-table fib-protocol fib-metric fib-sweep-time fib-retain fib-resolve-via-default
"""
GOBGP_KEYS = frozenset(_GOBGP_WORDS.split())
GRACEBGP_KEYS = frozenset(_GRACEBGP_WORDS.split())


def sections(section: Section) -> list[Section]:
    out = [section]
    for child in section.children.values():
        out += sections(child.section)
    return out


@pytest.mark.parametrize("section", [*sections(CONFIG), PEER_GROUP], ids=lambda s: s.name)
def test_hints_only_offer_gobgp_or_gracebgp_keys(section: Section) -> None:
    paths = [*section.fields.values(), *(c.toml for c in section.children.values()), *section.unsupported,
             *section.others]
    offered = {key for path in paths for n in range(len(path)) for key in section.candidates(path[:n])}
    assert offered - GOBGP_KEYS - GRACEBGP_KEYS == set()
