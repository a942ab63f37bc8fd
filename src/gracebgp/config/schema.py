"""The map between GoBGP's TOML key paths and the model's fields, and the GoBGP keys not supported yet.

Each :class:`Section` describes one model: which TOML key path (relative to the
object's own table) fills which field, which arrays of tables hold child objects,
and which GoBGP keys gracebgp recognises but does not implement, so that those get
"not supported yet" rather than "unknown key". Key names are GoBGP's (kebab-case,
OpenConfig-style ``config`` containers); see docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

TomlPath = tuple[str, ...]
FieldPath = tuple[str, ...]


@dataclass(frozen=True)
class Child:
    """A field holding child objects: one table or an array of tables."""

    toml: TomlPath
    section: Section
    many: bool


@dataclass(frozen=True)
class Section:
    """How one model's fields are laid out in TOML."""

    name: str
    fields: Mapping[FieldPath, TomlPath]
    children: Mapping[str, Child] = field(default_factory=dict)
    #: GoBGP keys/sections (relative paths) that gracebgp does not implement yet.
    unsupported: frozenset[TomlPath] = frozenset()
    #: Keys that are wrong but recognisable, with the message that says what to write.
    hints: Mapping[TomlPath, str] = field(default_factory=dict)
    #: Valid keys read before the document is shaped (config.groups): offered as hints.
    others: frozenset[TomlPath] = frozenset()

    @cached_property
    def by_toml(self) -> dict[TomlPath, FieldPath]:
        return {t: f for f, t in self.fields.items()}

    @cached_property
    def child_by_toml(self) -> dict[TomlPath, tuple[str, Child]]:
        return {c.toml: (name, c) for name, c in self.children.items()}

    @cached_property
    def intermediates(self) -> frozenset[TomlPath]:
        """Tables that only contain other keys (``timers``, ``timers.config``...)."""
        paths = [*self.fields.values(), *(c.toml for c in self.children.values())]
        return frozenset(p[:n] for p in paths for n in range(1, len(p)))

    def candidates(self, rel: TomlPath) -> list[str]:
        """Every key that is valid (or known) directly under ``rel``."""
        paths = [*self.fields.values(), *(c.toml for c in self.children.values()), *self.unsupported,
                 *self.others]
        return sorted({p[len(rel)] for p in paths if len(p) > len(rel) and p[:len(rel)] == rel})


def _paths(*dotted: str) -> frozenset[TomlPath]:
    return frozenset(tuple(d.split(".")) for d in dotted)


ROUTE = Section(
    name="route",
    fields={
        ("prefix",): ("prefix",),
        ("next_hop",): ("next-hop",),
        ("origin",): ("origin",),
        ("communities",): ("communities",),
        ("large_communities",): ("large-communities",),
        ("med",): ("med",),
        ("local_pref",): ("local-pref",),
    },
)

GRACEBGP = Section(
    name="gracebgp",
    fields={
        ("state_dir",): ("state-dir",),
        ("api_socket",): ("api-socket",),
        ("api_socket_group",): ("api-socket-group",),
        ("api_socket_mode",): ("api-socket-mode",),
        ("api_listen",): ("api-listen",),
        ("api_token_file",): ("api-token-file",),
        ("api_tls_cert_file",): ("api-tls-cert-file",),
        ("api_tls_key_file",): ("api-tls-key-file",),
        ("metrics_listen",): ("metrics-listen",),
        ("sigterm",): ("sigterm",),
        ("forwarding_state_preserved",): ("forwarding-state-preserved",),
        ("fib",): ("fib",),
        ("fib_table",): ("fib-table",),
        ("fib_protocol",): ("fib-protocol",),
        ("fib_metric",): ("fib-metric",),
        ("fib_sweep_time",): ("fib-sweep-time",),
        ("fib_retain",): ("fib-retain",),
        ("fib_resolve_via_default",): ("fib-resolve-via-default",),
        ("drain_delay",): ("drain-delay",),
        ("establish_wait",): ("establish-wait",),
        ("llgr_to_ibgp",): ("llgr-to-ibgp",),
        ("provisional_hard_reset",): ("provisional-hard-reset",),
        ("record",): ("record",),
        ("rfc8212",): ("rfc8212",),
    },
    children={"routes": Child(("routes",), ROUTE, many=True)},
)

# GoBGP reads [[global.afi-safis]] for the families its RIB holds and nothing else: a
# prefix-limit (or any other neighbor afi-safi setting) there is parsed and never applied;
# only a neighbor's own afi-safi is checked (pkg/server/peer.go).
def _neighbor_only(key: str) -> str:
    return (f"{key} in [[global.afi-safis]] is not supported: GoBGP parses it there and applies "
            f"nothing (a {key} there has no effect); set it per neighbor in "
            f"[neighbors.afi-safis.{key}]")


#: GoBGP's per-family containers of an afi-safi entry (none of them implemented).
_FAMILY_CONTAINERS = _paths(
    "ipv4-unicast", "ipv6-unicast", "ipv4-labelled-unicast", "ipv6-labelled-unicast",
    "l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast", "l2vpn-evpn", "l2vpn-vpls",
    "route-target-membership",
)

#: ``[[global.afi-safis]]`` (config.global_afi): the family, and its own use-multiple-paths.
GLOBAL_AFI_SAFI = Section(
    name="global-afi-safi",
    fields={
        ("name",): ("config", "afi-safi-name"),
        ("multipath", "enabled"): ("use-multiple-paths", "config", "enabled"),
        ("multipath", "allow_multiple_as"): ("use-multiple-paths", "ebgp", "config", "allow-multiple-as"),
        ("multipath", "ebgp_maximum_paths"): ("use-multiple-paths", "ebgp", "config", "maximum-paths"),
        ("multipath", "ibgp_maximum_paths"): ("use-multiple-paths", "ibgp", "config", "maximum-paths"),
    },
    unsupported=_FAMILY_CONTAINERS,
    hints={(key,): _neighbor_only(key) for key in (
        "mp-graceful-restart", "long-lived-graceful-restart", "add-paths", "prefix-limit",
        "apply-policy", "route-selection-options")} | {
        ("config", "enabled"): "enabled in [[global.afi-safis]] is not supported: gracebgp's RIB "
                               "always holds ipv4-unicast and ipv6-unicast; enable a family per "
                               "neighbor in [neighbors.afi-safis.config]",
    },
)

#: ``[...apply-policy.config]`` of the global level, a neighbor or a peer group
#: (config.policy_model.ApplyPolicyConfig's fields).
_APPLY_POLICY: dict[tuple[str, ...], TomlPath] = {
    ("apply_policy", "import_policies"): ("apply-policy", "config", "import-policy-list"),
    ("apply_policy", "export_policies"): ("apply-policy", "config", "export-policy-list"),
    ("apply_policy", "default_import"): ("apply-policy", "config", "default-import-policy"),
    ("apply_policy", "default_export"): ("apply-policy", "config", "default-export-policy"),
}
_APPLY_POLICY_UNSUPPORTED = _paths("apply-policy.config.in-policy-list",
                                   "apply-policy.config.default-in-policy")

GLOBAL = Section(
    name="global",
    fields={
        ("asn",): ("config", "as"),
        ("router_id",): ("config", "router-id"),
        ("port",): ("config", "port"),
        ("local_address_list",): ("config", "local-address-list"),
        ("always_compare_med",): ("route-selection-options", "config", "always-compare-med"),
        ("multipath",): ("use-multiple-paths", "config", "enabled"),
        ("multipath_allow_multiple_as",): ("use-multiple-paths", "ebgp", "config", "allow-multiple-as"),
        ("multipath_ebgp_maximum_paths",): ("use-multiple-paths", "ebgp", "config", "maximum-paths"),
        ("multipath_ibgp_maximum_paths",): ("use-multiple-paths", "ibgp", "config", "maximum-paths"),
        **_APPLY_POLICY,
    },
    unsupported=_APPLY_POLICY_UNSUPPORTED | _paths(
        "confederation",
        "route-selection-options.config.ignore-as-path-length",
        "route-selection-options.config.external-compare-router-id",
        "route-selection-options.config.advertise-inactive-routes",
        "route-selection-options.config.enable-aigp",
        "route-selection-options.config.ignore-next-hop-igp-metric",
        "route-selection-options.config.disable-best-path-selection",
        "default-route-distance", "graceful-restart", "mpls-label-range",
    ),
    children={"afi_safis": Child(("afi-safis",), GLOBAL_AFI_SAFI, many=True)},
    hints={
        ("listen-config",): "[global.listen-config] is GoBGP's old schema; set port and "
                            "local-address-list in [global.config]",
        ("as",): "as belongs in [global.config]",
        ("router-id",): "router-id belongs in [global.config]",
    },
)

#: Per-neighbor use-multiple-paths: in GoBGP's schema, read by nothing in GoBGP's server
#: (only [global.use-multiple-paths] marks paths there).
_NEIGHBOR_MULTIPATH = ("use-multiple-paths per neighbor or peer group is not supported: GoBGP's "
                       "schema has it there, but gobgpd acts only on [global.use-multiple-paths]; "
                       "set it there, or per family in [global.afi-safis.use-multiple-paths]")

AFI_SAFI = Section(
    name="afi-safi",
    fields={
        ("name",): ("config", "afi-safi-name"),
        ("enabled",): ("config", "enabled"),
        ("mp_graceful_restart",): ("mp-graceful-restart", "config", "enabled"),
        ("long_lived_graceful_restart",): ("long-lived-graceful-restart", "config", "enabled"),
        ("long_lived_restart_time",): ("long-lived-graceful-restart", "config", "restart-time"),
        ("add_paths_receive",): ("add-paths", "config", "receive"),
        ("add_paths_send_max",): ("add-paths", "config", "send-max"),
        ("prefix_limit", "max_prefixes"): ("prefix-limit", "config", "max-prefixes"),
        ("prefix_limit", "shutdown_threshold_pct"): ("prefix-limit", "config", "shutdown-threshold-pct"),
        ("prefix_limit", "restart_timer"): ("prefix-limit", "config", "restart-timer"),
    },
    unsupported=_paths("route-selection-options") | _FAMILY_CONTAINERS,
    hints={
        ("apply-policy",): "apply-policy per afi-safi is not supported: set it for the neighbor in "
                           "[neighbors.apply-policy.config]; afi-safi-in-list in a statement's "
                           "bgp-conditions limits a statement to some families",
        ("afi-safi-name",): "afi-safi-name belongs in [neighbors.afi-safis.config] "
                            "(GoBGP's current schema)",
        ("use-multiple-paths",): _NEIGHBOR_MULTIPATH,
    },
)

TCP_AO_KEY = Section(
    name="tcp-ao-key",
    fields={
        ("send_id",): ("send-id",),
        ("recv_id",): ("recv-id",),
        ("algorithm",): ("algorithm",),
        ("secret",): ("secret",),
        ("secret_file",): ("secret-file",),
    },
)

#: ``[neighbors.bfd]`` (config.bfd): GoBGP 4.x's keys, then gracebgp's own.
_BFD: dict[tuple[str, ...], TomlPath] = {
    ("bfd", "enabled"): ("bfd", "config", "enabled"),
    ("bfd", "desired_minimum_tx_interval"): ("bfd", "config", "desired-minimum-tx-interval"),
    ("bfd", "required_minimum_receive"): ("bfd", "config", "required-minimum-receive"),
    ("bfd", "detection_multiplier"): ("bfd", "config", "detection-multiplier"),
    ("bfd", "port"): ("bfd", "config", "port"),
    ("bfd", "multihop"): ("bfd", "gracebgp", "multihop"),
    ("bfd", "graceful"): ("bfd", "gracebgp", "graceful"),
    ("bfd", "wait_for_up"): ("bfd", "gracebgp", "wait-for-up"),
}

NEIGHBOR = Section(
    name="neighbor",
    fields={
        ("neighbor_address",): ("config", "neighbor-address"),
        ("peer_as",): ("config", "peer-as"),
        ("local_as",): ("config", "local-as"),
        ("description",): ("config", "description"),
        ("admin_down",): ("config", "admin-down"),
        ("auth_password",): ("config", "auth-password"),
        ("auth_password_file",): ("gracebgp", "auth-password-file"),
        ("tcp_ao_current_key",): ("gracebgp", "tcp-ao-current-key"),
        ("hold_time",): ("timers", "config", "hold-time"),
        ("keepalive_interval",): ("timers", "config", "keepalive-interval"),
        ("connect_retry",): ("timers", "config", "connect-retry"),
        ("idle_hold_time_after_reset",): ("timers", "config", "idle-hold-time-after-reset"),
        ("passive_mode",): ("transport", "config", "passive-mode"),
        ("local_address",): ("transport", "config", "local-address"),
        ("remote_port",): ("transport", "config", "remote-port"),
        ("local_port",): ("transport", "config", "local-port"),
        ("tcp_mss",): ("transport", "config", "tcp-mss"),
        ("ip_tos",): ("transport", "config", "ip-tos"),
        ("bind_interface",): ("transport", "config", "bind-interface"),
        ("mtu_discovery",): ("transport", "config", "mtu-discovery"),
        ("ttl",): ("transport", "config", "ttl"),
        ("ebgp_multihop_enabled",): ("ebgp-multihop", "config", "enabled"),
        ("ebgp_multihop_ttl",): ("ebgp-multihop", "config", "multihop-ttl"),
        ("ttl_security_enabled",): ("ttl-security", "config", "enabled"),
        ("ttl_security_ttl_min",): ("ttl-security", "config", "ttl-min"),
        ("route_reflector_client",): ("route-reflector", "config", "route-reflector-client"),
        ("route_reflector_cluster_id",): ("route-reflector", "config", "route-reflector-cluster-id"),
        ("add_paths_receive",): ("add-paths", "config", "receive"),
        ("add_paths_send_max",): ("add-paths", "config", "send-max"),
        ("graceful_restart", "enabled"): ("graceful-restart", "config", "enabled"),
        ("graceful_restart", "restart_time"): ("graceful-restart", "config", "restart-time"),
        ("graceful_restart", "helper_only"): ("graceful-restart", "config", "helper-only"),
        ("graceful_restart", "deferral_time"): ("graceful-restart", "config", "deferral-time"),
        ("graceful_restart", "notification_enabled"): ("graceful-restart", "config", "notification-enabled"),
        ("graceful_restart", "long_lived_enabled"): ("graceful-restart", "config", "long-lived-enabled"),
        ("graceful_restart", "stale_routes_time"): ("graceful-restart", "config", "stale-routes-time"),
        ("allow_own_as",): ("as-path-options", "config", "allow-own-as"),
        ("replace_peer_as",): ("as-path-options", "config", "replace-peer-as"),
        ("remove_private_as",): ("config", "remove-private-as"),
        ("route_server_client",): ("route-server", "config", "route-server-client"),
        **_APPLY_POLICY,
        **_BFD,
    },
    children={"afi_safis": Child(("afi-safis",), AFI_SAFI, many=True),
              "tcp_ao_keys": Child(("gracebgp", "tcp-ao-keys"), TCP_AO_KEY, many=True)},
    unsupported=_paths(
        "config.neighbor-interface",
        "config.route-flap-damping", "config.send-community", "config.peer-type", "config.vrf",
        "config.send-software-version",
        "timers.config.minimum-advertisement-interval",
        "route-server.config.secondary-route",
        "error-handling", "logging",
    ) | _APPLY_POLICY_UNSUPPORTED,
    hints={("use-multiple-paths",): _NEIGHBOR_MULTIPATH},
    others=_paths("config.peer-group"),
)

#: ``[[dynamic-neighbors]]`` (config.dynamic adds the peer group's values).
DYNAMIC_NEIGHBOR = Section(
    name="dynamic-neighbor",
    fields={
        ("prefix",): ("config", "prefix"),
        ("peer_group",): ("config", "peer-group"),
        ("max_peers",): ("gracebgp", "max-peers"),
    },
)

# -- routing policy (issue 16; config.policy_model) ------------------------------------------

def _named(kind: str, entries: str) -> Section:
    """A set of [defined-sets.bgp-defined-sets]: its name key and its entries key."""
    return Section(name=kind, fields={("name",): (f"{kind}-name",), ("entries",): (entries,)})


PREFIX_ENTRY = Section(
    name="prefix-list",
    fields={("ip_prefix",): ("ip-prefix",), ("masklength_range",): ("masklength-range",)},
)

DEFINED_SETS = Section(
    name="defined-sets",
    fields={},
    children={
        "prefix_sets": Child(("prefix-sets",), Section(
            name="prefix-set", fields={("name",): ("prefix-set-name",)},
            children={"prefix_list": Child(("prefix-list",), PREFIX_ENTRY, many=True)}), many=True),
        "neighbor_sets": Child(("neighbor-sets",), Section(
            name="neighbor-set", fields={("name",): ("neighbor-set-name",),
                                         ("neighbor_info_list",): ("neighbor-info-list",)}), many=True),
        "community_sets": Child(("bgp-defined-sets", "community-sets"),
                                _named("community-set", "community-list"), many=True),
        "ext_community_sets": Child(("bgp-defined-sets", "ext-community-sets"),
                                    _named("ext-community-set", "ext-community-list"), many=True),
        "large_community_sets": Child(("bgp-defined-sets", "large-community-sets"),
                                      _named("large-community-set", "large-community-list"), many=True),
        "as_path_sets": Child(("bgp-defined-sets", "as-path-sets"),
                              _named("as-path-set", "as-path-list"), many=True),
    },
    unsupported=_paths("tag-sets"),
)

_BGP_CONDITIONS = ("conditions", "bgp-conditions")
_BGP_ACTIONS = ("actions", "bgp-actions")


def _match(field: str, where: TomlPath, set_key: str) -> dict[FieldPath, TomlPath]:
    table = (*where, field.replace("_", "-"))
    return {(field, "name"): (*table, set_key), (field, "options"): (*table, "match-set-options")}


def _set_communities(field: str, method: str) -> dict[FieldPath, TomlPath]:
    table = (*_BGP_ACTIONS, field.replace("_", "-"))
    return {(field, "options"): (*table, "options"),
            (field, "communities"): (*table, method, "communities-list")}


STATEMENT = Section(
    name="statement",
    fields={
        ("name",): ("name",),
        **_match("match_prefix_set", ("conditions",), "prefix-set"),
        **_match("match_neighbor_set", ("conditions",), "neighbor-set"),
        **_match("match_community_set", _BGP_CONDITIONS, "community-set"),
        **_match("match_ext_community_set", _BGP_CONDITIONS, "ext-community-set"),
        **_match("match_large_community_set", _BGP_CONDITIONS, "large-community-set"),
        **_match("match_as_path_set", _BGP_CONDITIONS, "as-path-set"),
        ("as_path_length", "operator"): (*_BGP_CONDITIONS, "as-path-length", "operator"),
        ("as_path_length", "value"): (*_BGP_CONDITIONS, "as-path-length", "value"),
        ("community_count", "operator"): (*_BGP_CONDITIONS, "community-count", "operator"),
        ("community_count", "value"): (*_BGP_CONDITIONS, "community-count", "value"),
        ("route_type",): (*_BGP_CONDITIONS, "route-type"),
        ("afi_safi_in",): (*_BGP_CONDITIONS, "afi-safi-in-list"),
        ("next_hop_in_list",): (*_BGP_CONDITIONS, "next-hop-in-list"),
        ("route_disposition",): ("actions", "route-disposition"),
        **_set_communities("set_community", "set-community-method"),
        **_set_communities("set_ext_community", "set-ext-community-method"),
        **_set_communities("set_large_community", "set-large-community-method"),
        ("set_med",): (*_BGP_ACTIONS, "set-med"),
        ("set_local_pref",): (*_BGP_ACTIONS, "set-local-pref"),
        ("set_next_hop",): (*_BGP_ACTIONS, "set-next-hop"),
        ("set_as_path_prepend", "asn"): (*_BGP_ACTIONS, "set-as-path-prepend", "as"),
        ("set_as_path_prepend", "repeat_n"): (*_BGP_ACTIONS, "set-as-path-prepend", "repeat-n"),
    },
    unsupported=_paths(
        "conditions.call-policy", "conditions.match-tag-set", "conditions.igp-conditions",
        "conditions.bgp-conditions.med-eq", "conditions.bgp-conditions.origin-eq",
        "conditions.bgp-conditions.local-pref-eq", "conditions.bgp-conditions.rpki-validation-result",
        "actions.igp-actions", "actions.bgp-actions.set-route-origin",
        "actions.bgp-actions.set-community.set-community-method.community-set-ref",
        "actions.bgp-actions.set-ext-community.set-ext-community-method.ext-community-set-ref",
    ),
    hints={
        (*_BGP_CONDITIONS, "afi-safi-in"): "the key is afi-safi-in-list (gobgpd reads that one and "
                                           "ignores afi-safi-in)",
        (*_BGP_CONDITIONS, "match-ext-community-set", "community-set"):
            "the key is ext-community-set (gobgpd ignores community-set here)",
        (*_BGP_CONDITIONS, "match-as-path-set", "community-set"):
            "the key is as-path-set (gobgpd ignores community-set here)",
    },
)

POLICY_DEFINITION = Section(
    name="policy-definition",
    fields={("name",): ("name",)},
    children={"statements": Child(("statements",), STATEMENT, many=True)},
)

CONFIG = Section(
    name="config",
    fields={},
    children={
        "global_": Child(("global",), GLOBAL, many=False),
        "neighbors": Child(("neighbors",), NEIGHBOR, many=True),
        "gracebgp": Child(("gracebgp",), GRACEBGP, many=False),
        "dynamic_neighbors": Child(("dynamic-neighbors",), DYNAMIC_NEIGHBOR, many=True),
        "defined_sets": Child(("defined-sets",), DEFINED_SETS, many=False),
        "policy_definitions": Child(("policy-definitions",), POLICY_DEFINITION, many=True),
    },
    unsupported=_paths(
        "rpki-servers", "bmp-servers", "vrfs", "mrt-dump", "zebra", "netlink",
        "collector",
    ),
    hints={
        ("neighbor",): "the GoBGP section is [[neighbors]] (plural)",
    },
    others=_paths("peer-groups"),
)

#: What a GoBGP section gracebgp does not implement configures, for its error message
#: (the key path, relative to the section that lists it as unsupported).
FEATURES: Mapping[TomlPath, str] = {
    ("rpki-servers",): "RPKI origin validation (RFC 6811)",
    ("bmp-servers",): "BMP monitoring (RFC 7854)",
    ("vrfs",): "VRFs (L3VPN, RFC 4364)",
    ("mrt-dump",): "MRT dumps (RFC 6396)",
    ("zebra",): "the zebra (FRR) FIB interface (gracebgp installs routes itself: fib = true in [gracebgp])",
    ("netlink",): "GoBGP's netlink FIB interface",
    ("collector",): "the InfluxDB collector",
    ("apply-policy", "config", "in-policy-list"): "the in-policy of GoBGP's older route-server model",
    ("apply-policy", "config", "default-in-policy"): "the in-policy of GoBGP's older route-server model",
    ("tag-sets",): "tag sets (GoBGP's IGP tags)",
    ("conditions", "call-policy"): "call-policy (a policy that calls another)",
    ("conditions", "match-tag-set"): "tag sets (GoBGP's IGP tags)",
    ("conditions", "igp-conditions"): "IGP conditions",
    ("conditions", "bgp-conditions", "med-eq"): "the med-eq condition",
    ("conditions", "bgp-conditions", "origin-eq"): "the origin-eq condition",
    ("conditions", "bgp-conditions", "local-pref-eq"): "the local-pref-eq condition",
    ("conditions", "bgp-conditions", "rpki-validation-result"): "RPKI origin validation (RFC 6811)",
    ("actions", "igp-actions"): "IGP actions (set-tag)",
    ("actions", "bgp-actions", "set-route-origin"): "the set-route-origin action",
    ("actions", "bgp-actions", "set-community", "set-community-method", "community-set-ref"):
        "set-community from a community-set (community-set-ref)",
    ("actions", "bgp-actions", "set-ext-community", "set-ext-community-method", "ext-community-set-ref"):
        "set-ext-community from an ext-community-set (ext-community-set-ref)",
    ("confederation",): "BGP confederations (RFC 5065)",
    ("route-server", "config", "secondary-route"): "route-server secondary routes (GoBGP's own extension)",
    ("l3vpn-ipv4-unicast",): "L3VPN (RFC 4364)",
    ("l3vpn-ipv6-unicast",): "L3VPN (RFC 4659)",
    ("l2vpn-evpn",): "EVPN (RFC 7432)",
    ("l2vpn-vpls",): "VPLS (RFC 4761)",
    ("ipv4-labelled-unicast",): "labelled unicast (RFC 8277)",
    ("ipv6-labelled-unicast",): "labelled unicast (RFC 8277)",
    ("route-target-membership",): "route target constraint (RFC 4684)",
    ("mpls-label-range",): "MPLS labels",
}
