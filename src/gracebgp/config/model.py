"""Frozen, typed models of a gracebgp configuration: GoBGP's schema, one flat model per object.

Why pydantic (DESIGN.md §5) rather than frozen dataclasses: the constraints (ranges,
RFC rules, address syntax) are declared next to the fields and *every* violation is
collected in one pass, each with the location of the offending field, which the
loader turns into ``file:line: key``; the API layer reuses the same models (JSON
schema, OpenAPI) for AddPeer and friends. ``strict=True`` keeps TOML honest: ``"90"``
is not a hold time and ``1`` is not ``true``.

The models are flat where GoBGP nests ``config`` containers
(``[neighbors.timers.config] hold-time`` is ``Neighbor.hold_time``); the mapping lives
in :mod:`gracebgp.config.schema`. Defaults follow GoBGP (pkg/config/oc/default.go)
where GoBGP has one; each is stated on its field.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from gracebgp.config.bfd import Bfd
from gracebgp.config.extras import GraceBGP, Route
from gracebgp.config.fields import (
    ASN,
    MAX_GR_RESTART_TIME,
    MAX_IFNAME,
    MAX_LLGR_STALE_TIME,
    MAX_TCP_MSS,
    MIN_TCP_MSS,
    DottedQuad,
    Frozen,
    IPAddress,
    Port,
    Prefix,
    RouterId,
    Seconds,
    integral,
    normalize_ip,
    normalize_prefix,
)
from gracebgp.config.global_afi import GlobalAfiSafi, NamedFamily, UseMultiplePaths
from gracebgp.config.policy_compile import compile_book
from gracebgp.config.policy_model import ApplyPolicyField, DefinedSetsConfig, PolicyDefinitionConfig
from gracebgp.config.secrets import PasswordFile, PasswordFileField, md5_key_problem
from gracebgp.config.tcpao import TcpAoKey, current_problem, keys_problem
from gracebgp.policy.book import PolicyBook
from gracebgp.types import Family

__all__ = ["AfiSafi", "Config", "Global", "GlobalAfiSafi", "GraceBGP", "GracefulRestart", "Neighbor",
           "PrefixLimit", "Route", "UseMultiplePaths"]


# -- [global] --------------------------------------------------------------------------------

class Global(Frozen):
    """``[global.config]``: the speaker's identity and where it listens."""

    asn: ASN
    router_id: RouterId
    #: TCP port to listen on; -1 disables listening (GoBGP), 0 is rejected.
    port: int = Field(default=179, ge=-1, le=0xFFFF)
    #: Addresses to listen on; an empty list means the default, as in GoBGP.
    local_address_list: tuple[IPAddress, ...] = ("0.0.0.0", "::")
    #: RFC 4271 §9.1.2.2 c compares MED only between routes from the same neighbouring AS;
    #: true compares it across all of them (GoBGP/FRR ``always-compare-med``).
    always_compare_med: bool = False
    #: ``[global.use-multiple-paths.config] enabled``: mark each prefix's equal-cost set in
    #: the Loc-RIB (RFC 4271 §9.1.2.2 a-e equal; rib.decision.equal_cost), shown by
    #: ``routes available`` and installed as ECMP by the FIB.
    multipath: bool = False
    #: ``[global.use-multiple-paths.ebgp.config] allow-multiple-as``: the set may hold paths
    #: from different neighbouring ASes.
    multipath_allow_multiple_as: bool = False
    #: ``[global.use-multiple-paths.ebgp.config] maximum-paths`` / ``[...ibgp.config]
    #: maximum-paths``: at most this many paths in the set when the best is an eBGP / an
    #: iBGP path; 0: no limit.
    multipath_ebgp_maximum_paths: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    multipath_ibgp_maximum_paths: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    #: ``[[global.afi-safis]]``: a family's own ``use-multiple-paths``.
    afi_safis: tuple[GlobalAfiSafi, ...] = ()
    #: ``[global.apply-policy.config]`` (policy.book.ApplyPolicy); None: not written.
    apply_policy: ApplyPolicyField = None

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 is not a port; use -1 to disable listening or omit it for 179")
        return value

    @field_validator("local_address_list")
    @classmethod
    def _listen(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return value or ("0.0.0.0", "::")


# -- [[neighbors]] ---------------------------------------------------------------------------

def zero_is_any(value: Any) -> Any:
    """``peer-as = 0`` is GoBGP's "not set": any AS (None)."""
    return None if type(value) is int and value == 0 else value


class GracefulRestart(Frozen):
    """``[neighbors.graceful-restart.config]``: RFC 4724 GR, RFC 8538 N bit, RFC 9494 LLGR."""

    enabled: bool = False
    #: Restart Time advertised in our GR capability (RFC 4724 §3, 12 bits). Inside a
    #: Neighbor the default is its hold-time, as in GoBGP (RFC 4724 §4: "less than or
    #: equal to the Hold Time").
    restart_time: int = Field(default=90, ge=0, le=MAX_GR_RESTART_TIME)
    #: Helper (receiving speaker) only: never claim to preserve forwarding state.
    helper_only: bool = False
    #: Selection_Deferral_Timer after our own restart (RFC 4724 §4.1); GoBGP default 360.
    deferral_time: int = Field(default=360, ge=1, le=0xFFFF)
    #: RFC 8538 "N" bit: GR also covers sessions ended by NOTIFICATION.
    notification_enabled: bool = False
    #: Advertise the LLGR capability (RFC 9494) for the afi-safis that enable it.
    long_lived_enabled: bool = False
    #: Helper side: how long to keep a restarted peer's stale routes waiting for its
    #: End-of-RIB once the session is back, before purging them.
    stale_routes_time: Seconds = Field(default=360, ge=1)


class PrefixLimit(Frozen):
    """``[neighbors.afi-safis.prefix-limit.config]``: the most routes of one family the
    neighbor may send (RFC 4271 §9.1.2 leaves the bound to local configuration; RFC 4486
    §4 names the Cease subcode). The count is of the routes accepted into this family's
    Adj-RIB-In on the current session (core.limits)."""

    #: 0: no limit (GoBGP). One route more and the session is closed with Cease /
    #: Maximum Number of Prefixes Reached, and held down.
    max_prefixes: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    #: Warn (event, metric, health) once more than this percentage of max-prefixes is
    #: accepted; 0: no warning (GoBGP).
    shutdown_threshold_pct: int = Field(default=0, ge=0, le=100)
    #: Seconds the session stays down after exceeding the limit, then it starts again;
    #: 0: until ``gracebgp neighbor ADDR enable``.
    restart_timer: Annotated[int, BeforeValidator(integral)] = Field(default=0, ge=0, le=0xFFFFFFFF)

    @field_validator("shutdown_threshold_pct", "restart_timer")
    @classmethod
    def _needs_limit(cls, value: int, info: ValidationInfo) -> int:
        if value and info.data.get("max_prefixes") == 0:
            raise ValueError("applies to a limit, and max-prefixes is 0 (no limit): set max-prefixes")
        return value


class AfiSafi(NamedFamily):
    """``[[neighbors.afi-safis]]``: one address family negotiated with the neighbor."""

    #: GoBGP default: a listed afi-safi is enabled unless ``enabled = false``.
    enabled: bool = True
    #: ``[neighbors.afi-safis.mp-graceful-restart.config] enabled``: list this family in
    #: our GR capability (RFC 4724 §3).
    mp_graceful_restart: bool = False
    #: ``[neighbors.afi-safis.long-lived-graceful-restart.config] enabled``.
    long_lived_graceful_restart: bool = False
    #: ``... long-lived-graceful-restart.config] restart-time``: the LLGR stale time we
    #: advertise (RFC 9494 §3.1, 24 bits). GoBGP's default 0 retains nothing.
    long_lived_restart_time: int = Field(default=0, ge=0, le=MAX_LLGR_STALE_TIME)
    #: ``[neighbors.afi-safis.add-paths.config]`` (RFC 7911); default from the
    #: neighbor's own ``[neighbors.add-paths.config]``.
    add_paths_receive: bool = False
    #: > 0: advertise ADD-PATH Send and send up to this many paths per prefix to a peer
    #: that advertises Receive (RFC 7911 §4-§5, rib.adj_rib_out_addpath).
    add_paths_send_max: int = Field(default=0, ge=0, le=255)
    prefix_limit: PrefixLimit = PrefixLimit()


class Neighbor(Frozen):
    """``[[neighbors]]``: one configured BGP peer, keyed by ``neighbor_address``."""

    neighbor_address: IPAddress
    #: None (``peer-as`` omitted or 0, GoBGP's meaning): any AS; the OPEN is not checked
    #: against it and the session is iBGP when the OPEN names our AS, else eBGP. Then the
    #: options of one kind apply only on sessions of that kind: route-reflector-client on
    #: iBGP (RFC 4456), route-server-client and remove-private-as on eBGP (rib.export).
    peer_as: Annotated[ASN | None, BeforeValidator(zero_is_any)] = None
    #: None: the global AS (GoBGP's default).
    local_as: ASN | None = None
    description: str = ""
    admin_down: bool = False
    #: TCP MD5 signature key (RFC 2385); empty for none.
    auth_password: str = ""
    #: gracebgp's ``[neighbors.gracebgp] auth-password-file``: the key, read from a file.
    auth_password_file: PasswordFileField | None = None
    #: ``[[neighbors.gracebgp.tcp-ao-keys]]``: TCP-AO (RFC 5925) keys (config.tcpao).
    tcp_ao_keys: tuple[TcpAoKey, ...] = ()
    #: ``[neighbors.gracebgp] tcp-ao-current-key``: the send-id we sign with; None: the first key.
    tcp_ao_current_key: int | None = Field(default=None, ge=0, le=255)
    #: RFC 4271 §4.2: 0 (no keepalives) or at least 3 seconds. GoBGP default 90.
    hold_time: Seconds = 90
    #: Default hold-time / 3 (GoBGP; RFC 4271 §10 suggests one third), at most that; the
    #: session sends min(this, negotiated hold-time / 3) (``session.negotiate``).
    keepalive_interval: Seconds = 30
    #: ConnectRetryTimer (RFC 4271 §10). GoBGP's default is 120 s (the RFC suggests 120 too).
    connect_retry: Seconds = Field(default=120, ge=1)
    #: GoBGP's meaning: after an operator's reset (``gracebgp neighbor ADDR reset``) the
    #: session stays Idle this long before it connects again (RFC 4271 §8.1.1 IdleHoldTimer).
    #: Default 0, not GoBGP's 30: with graceful restart the peer keeps our routes stale
    #: meanwhile, and a restart-time of 30 s or less would run out first.
    idle_hold_time_after_reset: Seconds = 0
    passive_mode: bool = False
    #: Source address for the session; None: chosen by the kernel.
    local_address: IPAddress | None = None
    remote_port: Port = 179
    #: ``[neighbors.transport.config] local-port``: source port of our connections; 0: any.
    local_port: int = Field(default=0, ge=0, le=0xFFFF)
    #: ``... tcp-mss``: TCP_MAXSEG, 0 for the kernel's (Linux takes 88..32767).
    tcp_mss: int = 0
    #: ``... ip-tos``: IPv4 TOS / IPv6 traffic class of the session's packets; 0: the default.
    ip_tos: int = Field(default=0, ge=0, le=255)
    #: ``... bind-interface``: the network device the session must use (SO_BINDTODEVICE).
    bind_interface: str = ""
    #: ``... mtu-discovery``: path MTU discovery on or off; absent: the kernel's default.
    mtu_discovery: bool | None = None
    #: ``... ttl``: the TTL of the session's packets where no other rule sets it (core.sockets).
    ttl: int = Field(default=0, ge=0, le=255)
    ebgp_multihop_enabled: bool = False
    #: TTL for multihop eBGP; GoBGP's default when enabled is 255.
    ebgp_multihop_ttl: int = Field(default=255, ge=1, le=255)
    #: ``[neighbors.ttl-security.config] enabled``: GTSM (RFC 5082), send with TTL 255 and
    #: drop what arrives with a TTL below ``ttl_min``.
    ttl_security_enabled: bool = False
    #: ``... ttl-min``: the lowest TTL accepted, 256 - hops (GoBGP's default 255: one hop).
    ttl_security_ttl_min: int = Field(default=255, ge=1, le=255)
    route_reflector_client: bool = False
    #: None: the router-id (GoBGP's default).
    route_reflector_cluster_id: DottedQuad | None = None
    #: ``[neighbors.add-paths.config]``: defaults for every afi-safi (GoBGP semantics).
    add_paths_receive: bool = False
    add_paths_send_max: int = Field(default=0, ge=0, le=255)
    graceful_restart: GracefulRestart = GracefulRestart()
    #: Empty or absent: ipv4-unicast or ipv6-unicast after the neighbor address (GoBGP).
    afi_safis: tuple[AfiSafi, ...] = ()
    #: ``[neighbors.as-path-options.config] allow-own-as``: accept routes whose AS_PATH holds
    #: our AS up to this many times (0: none, RFC 4271 §9.1.2). GoBGP's uint8.
    allow_own_as: int = Field(default=0, ge=0, le=255)
    #: ``... replace-peer-as``: on export, each occurrence of the peer's AS in the AS_PATH
    #: becomes ours (GoBGP's meaning).
    replace_peer_as: bool = False
    #: ``[neighbors.config] remove-private-as``: "all" removes every private AS number
    #: (RFC 6996) from the AS_PATH sent to this eBGP neighbor, "replace" puts our AS in
    #: their place; "" (default) leaves them.
    remove_private_as: Literal["", "all", "replace"] = ""
    #: ``[neighbors.route-server.config] route-server-client``: RFC 7947 transparency
    #: towards this eBGP neighbor (rib.export).
    route_server_client: bool = False
    #: ``[neighbors.bfd]`` (config.bfd): BFD for this neighbor.
    bfd: Bfd = Bfd()
    #: ``[neighbors.apply-policy.config]``, or its peer group's (policy.book.ApplyPolicy); for
    #: a direction it sets, it replaces the global one (PolicyBook.assignment). None: not written.
    apply_policy: ApplyPolicyField = None

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """Fill the defaults GoBGP derives from other keys, before the fields are checked."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        hold = data.get("hold_time", 90)
        hold = integral(hold)
        hold_ok = isinstance(hold, int) and not isinstance(hold, bool) and hold >= 0
        if "keepalive_interval" not in data and hold_ok:
            data["keepalive_interval"] = hold // 3
        gr = data.get("graceful_restart")
        if gr is None or isinstance(gr, dict):
            gr = dict(gr or {})
            if "restart_time" not in gr and hold_ok:
                gr["restart_time"] = min(hold, MAX_GR_RESTART_TIME)
            data["graceful_restart"] = gr
        if not data.get("afi_safis"):
            name = "ipv4-unicast"
            address = data.get("neighbor_address")
            if isinstance(address, str) and ":" in address:
                name = "ipv6-unicast"
            data["afi_safis"] = ({"name": name},)
        receive = data.get("add_paths_receive")
        send_max = data.get("add_paths_send_max")
        if isinstance(data["afi_safis"], (list, tuple)):
            afs = []
            for item in data["afi_safis"]:
                af = dict(item) if isinstance(item, dict) else item
                if isinstance(af, dict) and receive is True:
                    af.setdefault("add_paths_receive", True)
                if isinstance(af, dict) and type(send_max) is int and 0 < send_max <= 255:
                    af.setdefault("add_paths_send_max", send_max)
                afs.append(af)
            data["afi_safis"] = tuple(afs) if isinstance(data["afi_safis"], tuple) else afs
        return data

    @field_validator("hold_time")
    @classmethod
    def _hold(cls, value: int) -> int:
        if value in (1, 2):
            raise ValueError(f"{value} is not a hold time: use 0 (no keepalives) or at least 3 "
                             "seconds (RFC 4271 §4.2)")
        return value

    @field_validator("keepalive_interval")
    @classmethod
    def _keepalive(cls, value: int, info: ValidationInfo) -> int:
        hold = info.data.get("hold_time")
        if not isinstance(hold, int):
            return value
        if hold == 0 and value:
            raise ValueError(f"{value} has no effect with hold-time 0, which sends no keepalives "
                             "(RFC 4271 §4.4): remove it or set a hold-time")
        if hold and not 1 <= value <= hold // 3:
            # the session sends min(keepalive-interval, negotiated hold-time / 3): a larger
            # value could never apply; 0 would let the peer's hold timer expire
            raise ValueError(f"{value} must be 1..{hold // 3}, at most a third of the hold-time ({hold}): "
                             "RFC 4271 §4.4 calls a third \"a reasonable maximum\"")
        return value

    @field_validator("auth_password")
    @classmethod
    def _md5_key(cls, value: str) -> str:
        why = md5_key_problem(value)
        if why:
            raise ValueError(why)
        return value

    @field_validator("auth_password_file")
    @classmethod
    def _one_key(cls, value: PasswordFile | None, info: ValidationInfo) -> PasswordFile | None:
        if value is not None and info.data.get("auth_password"):
            raise ValueError("auth-password is set too: give the TCP MD5 key in one place only")
        return value

    @field_validator("tcp_ao_keys")
    @classmethod
    def _ao_keys(cls, value: tuple[TcpAoKey, ...], info: ValidationInfo) -> tuple[TcpAoKey, ...]:
        if value and (info.data.get("auth_password") or info.data.get("auth_password_file")):
            raise ValueError("auth-password (TCP MD5) is set too: a session is protected by TCP MD5 or by "
                             "TCP-AO, not both (RFC 5925 obsoletes RFC 2385); remove one of them")
        why = keys_problem(value)
        if why:
            raise ValueError(why)
        return value

    @field_validator("tcp_ao_current_key")
    @classmethod
    def _ao_current(cls, value: int | None, info: ValidationInfo) -> int | None:
        if "tcp_ao_keys" not in info.data:
            return value  # the keys are wrong: that error is reported at their key
        why = current_problem(value, info.data["tcp_ao_keys"])
        if why:
            raise ValueError(why)
        return value

    @field_validator("ttl_security_enabled")
    @classmethod
    def _gtsm(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("ebgp_multihop_enabled"):
            raise ValueError("ebgp-multihop is enabled too: with GTSM every packet leaves with TTL 255 "
                             "(RFC 5082 §3); for a peer N hops away set ttl-min = 256 - N instead")
        if value and info.data.get("ttl"):
            raise ValueError("[neighbors.transport.config] ttl is set too: with GTSM every packet leaves "
                             "with TTL 255 (RFC 5082 §3)")
        return value

    @field_validator("ebgp_multihop_enabled")
    @classmethod
    def _one_ttl(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("ttl"):
            raise ValueError("[neighbors.transport.config] ttl is set too: multihop-ttl is the TTL of a "
                             "multihop session; set one of them")
        return value

    @field_validator("tcp_mss")
    @classmethod
    def _mss(cls, value: int) -> int:
        if value and not MIN_TCP_MSS <= value <= MAX_TCP_MSS:
            raise ValueError(f"{value} is not a segment size Linux takes: 0 (the kernel's) or "
                             f"{MIN_TCP_MSS}..{MAX_TCP_MSS} (TCP_MAXSEG)")
        return value

    @field_validator("bind_interface")
    @classmethod
    def _device(cls, value: str) -> str:
        bad = "/" in value or any(c.isspace() for c in value) or value in (".", "..")
        if len(value.encode()) > MAX_IFNAME or bad:
            raise ValueError(f"{value!r} is not a network interface name (at most {MAX_IFNAME} octets, "
                             "no '/' or blanks)")
        return value

    @property
    def md5_password(self) -> str:
        """The TCP MD5 key (RFC 2385) of the session, "" for none."""
        return self.auth_password_file.key if self.auth_password_file is not None else self.auth_password

    @field_validator("bfd")
    @classmethod
    def _bfd_peer(cls, value: Bfd, info: ValidationInfo) -> Bfd:
        peer = info.data.get("neighbor_address")
        if value.enabled and peer is not None and "%" in str(peer):
            raise ValueError(f"[neighbors.bfd.config] enabled: BFD to the scoped (link-local) address "
                             f"{peer} is not supported (gracebgp-bfdd matches packets by address, "
                             "without the interface)")
        return value

    @field_validator("local_address")
    @classmethod
    def _local(cls, value: str | None, info: ValidationInfo) -> str | None:
        peer = info.data.get("neighbor_address")
        if (value is not None and peer is not None
                and ipaddress.ip_address(value).version != ipaddress.ip_address(peer).version):
            raise ValueError(f"{value} is not in the address family of the neighbor {peer}")
        return value

    @property
    def families(self) -> tuple[Family, ...]:
        """The enabled address families, in configuration order."""
        return tuple(af.family for af in self.afi_safis if af.enabled)

    def afi_safi(self, family: Family) -> AfiSafi | None:
        return next((af for af in self.afi_safis if af.family == family), None)


# -- the whole file --------------------------------------------------------------------------

#: A location inside the model: field names and list indices, as pydantic reports them.
ModelLoc = tuple[str | int, ...]


class DynamicNeighbor(Frozen):
    """``[[dynamic-neighbors]]``: passive sessions accepted from any address inside
    ``prefix``, each with the settings of the peer group ``peer_group`` (config.dynamic,
    core.dynamic)."""

    prefix: Prefix
    peer_group: str
    #: ``[dynamic-neighbors.gracebgp] max-peers``: the most peers of this range at once
    #: (connecting, up, or kept for a graceful restart); None: no limit (GoBGP's).
    max_peers: int | None = Field(default=None, ge=1)
    # Not a key of the entry but what its peer-group says (config.dynamic sets it).
    _template: Neighbor | None = PrivateAttr(default=None)

    @property
    def template(self) -> Neighbor:
        """The group's values as one neighbor of the range (its address: the prefix's own)."""
        assert self._template is not None, "built by config.dynamic"
        return self._template

    @property
    def any_as(self) -> bool:
        """The group's peer-as is omitted or 0: whatever AS the OPEN names (GoBGP's meaning)."""
        return self.template.peer_as is None

    def with_group(self, template: Neighbor) -> DynamicNeighbor:
        out = self.model_copy()
        out._template = template
        return out


class Config(Frozen):
    """A whole configuration file."""

    global_: Global
    neighbors: tuple[Neighbor, ...] = ()
    gracebgp: GraceBGP = GraceBGP()
    dynamic_neighbors: tuple[DynamicNeighbor, ...] = ()
    #: ``[defined-sets]`` and ``[[policy-definitions]]`` as written (config.policy_model).
    defined_sets: DefinedSetsConfig = DefinedSetsConfig()
    policy_definitions: tuple[PolicyDefinitionConfig, ...] = ()

    @cached_property
    def policy_book(self) -> PolicyBook:
        """Every set and policy, the global apply-policy and [gracebgp] rfc8212, compiled once
        (the loader has reported every problem; ValueError for a Config built otherwise)."""
        return compile_book(self.defined_sets, self.policy_definitions, self.global_.apply_policy,
                            self.gracebgp.rfc8212)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        conflicts = config_conflicts(self.global_, self.neighbors, self.gracebgp.routes)
        if conflicts:
            raise ValueError("; ".join(message for _, message in conflicts))
        return self

    def neighbor(self, address: str) -> Neighbor | None:
        """The neighbor with this address (any spelling), None if there is none."""
        key = address_key(address)
        return next((n for n in self.neighbors if n.neighbor_address == key), None)

    def local_as_of(self, neighbor: Neighbor) -> int:
        return neighbor.local_as if neighbor.local_as is not None else self.global_.asn

    def cluster_id_of(self, neighbor: Neighbor) -> str:
        return neighbor.route_reflector_cluster_id or self.global_.router_id

    def is_ebgp(self, neighbor: Neighbor) -> bool | None:
        """None for any AS: the OPEN tells."""
        return None if neighbor.peer_as is None else neighbor.peer_as != self.local_as_of(neighbor)


def duplicates(keys: Sequence[str | None], what: str, label: str, where: ModelLoc,
               field: str) -> list[tuple[ModelLoc, str]]:
    """Each repeated key (None: not valid, skipped) as (location of the repeat, message);
    ``label`` names the list in the message (``neighbors`` -> "neighbors[0]")."""
    out: list[tuple[ModelLoc, str]] = []
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        j = first.setdefault(key, i)
        if j != i:
            out.append(((*where, i, field), f"{what} {key} is already defined by {label}[{j}]"))
    return out


def config_conflicts(global_: Global | None, neighbors: Sequence[Neighbor | None],
                     routes: Sequence[Route | None], check_duplicates: bool = True,
                     ) -> list[tuple[ModelLoc, str]]:
    """Rules that span objects, as (location, message). None entries (objects that did not
    validate) are skipped, so the loader can report these next to field errors; it finds
    duplicates itself, from the raw keys (``check_duplicates=False``)."""
    out: list[tuple[ModelLoc, str]] = []
    if check_duplicates:
        out += duplicates([n.neighbor_address if n else None for n in neighbors],
                          "neighbor", "neighbors", ("neighbors",), "neighbor_address")
        out += duplicates([r.prefix if r else None for r in routes],
                          "route", "gracebgp.routes", ("gracebgp", "routes"), "prefix")
        for i, n in enumerate(neighbors):
            if n is not None:
                out += duplicates([af.name for af in n.afi_safis],
                                  "afi-safi", "afi-safis", ("neighbors", i, "afi_safis"), "name")
    for i, n in enumerate(neighbors):
        if n is None:
            continue
        local_as = n.local_as if n.local_as is not None else (global_.asn if global_ else None)
        known = n.peer_as is not None  # any AS: the session's kind comes from the OPEN
        if n.route_reflector_client and known and local_as is not None and n.peer_as != local_as:
            out.append((("neighbors", i, "route_reflector_client"),
                        f"a route-reflector client must be iBGP (RFC 4456), but peer-as {n.peer_as} "
                        f"differs from the local AS {local_as}"))
        out += _ebgp_only(n, i, local_as)
    return sorted(out)


def _ebgp_only(n: Neighbor, i: int, local_as: int | None) -> list[tuple[ModelLoc, str]]:
    """Export options that only an eBGP neighbor has a use for, refused on an iBGP one
    rather than ignored; remove-private-as beside route-server-client, which GoBGP
    silently ignores there (RFC 7947 §2.2.2.1: a route server leaves the AS_PATH alone)."""
    out: list[tuple[ModelLoc, str]] = []
    ibgp = local_as is not None and n.peer_as is not None and n.peer_as == local_as
    if n.route_server_client and ibgp:
        out.append((("neighbors", i, "route_server_client"),
                    f"a route-server client is an eBGP neighbor (RFC 7947 §1), but peer-as {n.peer_as} "
                    f"is the local AS"))
    if n.remove_private_as and ibgp:
        out.append((("neighbors", i, "remove_private_as"),
                    f"remove-private-as applies to eBGP neighbors (GoBGP refuses it too), but peer-as "
                    f"{n.peer_as} is the local AS"))
    elif n.remove_private_as and n.route_server_client:
        out.append((("neighbors", i, "remove_private_as"),
                    "remove-private-as has no effect towards a route-server client, whose AS_PATH is "
                    "passed on unchanged (RFC 7947 §2.2.2.1; GoBGP ignores it there): remove one of them"))
    if n.replace_peer_as and ibgp:  # our AS replaced by our AS: nothing a test could see
        out.append((("neighbors", i, "replace_peer_as"),
                    f"replace-peer-as applies to eBGP neighbors (GoBGP refuses it too), but peer-as "
                    f"{n.peer_as} is the local AS"))
    return out


def address_key(value: Any) -> str | None:
    """The normalised form of a would-be address, None if it is not one."""
    try:
        return normalize_ip(value) if isinstance(value, str) else None
    except ValueError:
        return None


def prefix_key(value: Any) -> str | None:
    """The normalised form of a would-be prefix, None if it is not one."""
    try:
        return normalize_prefix(value) if isinstance(value, str) else None
    except ValueError:
        return None
