"""One configured neighbor inside the Speaker: its session, connections, tables and
export policy, and the mapping from operator configuration to session configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gracebgp.core.events import SocketOptions
from gracebgp.core.limitsettings import Limits, LimitState, configured
from gracebgp.core.sockets import socket_options
from gracebgp.core.stats import PeerStats
from gracebgp.policy.book import ApplyPolicy, PolicyBook
from gracebgp.restart.helper import GrHelper
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.adj_rib_out_addpath import rib_out_for
from gracebgp.rib.aspath_rules import RemovePrivateAs
from gracebgp.rib.channel import Channel
from gracebgp.rib.channel_addpath import channel_for
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.rib.policy_attach import export_filter, import_filter, same
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.fsm import Session
from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.types import AFI, IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire.iana import AddPathMode

_FAMILY_NAMES = {"ipv4-unicast": IPV4_UNICAST, "ipv6-unicast": IPV6_UNICAST}


@dataclass(frozen=True, slots=True)
class NeighborSettings:
    """What the speaker needs of one neighbor's configuration, independent of the config
    package (which sits beside this layer): built by ``from_config``."""

    address: str
    session: SessionConfig
    port: int = 179
    local_address: str | None = None
    sockets: SocketOptions = field(default_factory=SocketOptions)  # MD5, TTL, GTSM: both directions
    rr_client: bool = False
    cluster_id: str | None = None
    admin_down: bool = False
    description: str = ""
    deferral_time: float = 360.0  # Selection_Deferral_Timer after our restart (RFC 4724 §4.1)
    stale_path_time: float = 360.0  # helper: local bound on the wait for End-of-RIB (spec 3)
    idle_hold_after_reset: float = 0.0  # Idle this long after an operator's reset (GoBGP's meaning)
    prefix_limits: Limits = ()  # per family, only those with max-prefixes > 0 (core.limits)
    #: Import: routes whose AS_PATH holds our AS up to this many times are accepted.
    allow_own_as: int = 0
    #: Export (rib.aspath_rules, rib.export): the peer's AS becomes ours; private AS
    #: numbers removed or replaced; RFC 7947 route-server client (attributes unchanged).
    replace_peer_as: bool = False
    remove_private_as: RemovePrivateAs = RemovePrivateAs.NONE
    route_server_client: bool = False
    #: RFC 7911: per family with ``add-paths send-max`` > 0, how many paths per prefix go to
    #: the peer when ADD-PATH Send is negotiated (rib.adj_rib_out_addpath).
    add_path_send_max: tuple[tuple[Family, int], ...] = ()
    #: The neighbor's own apply-policy (its own or its peer group's); None: the global one
    #: applies (``policy.book``, issue 16).
    apply_policy: ApplyPolicy | None = None
    #: ``[neighbors.bfd.gracebgp] graceful``: a BFD failure with GR negotiated keeps the peer's
    #: routes even when its C bit is 1 (core.bfd, restart.bfd_down).
    bfd_graceful: bool = False
    #: ``[neighbors.bfd.gracebgp] wait-for-up``: the session starts only while BFD is Up (core.bfd).
    bfd_wait: bool = False

    def send_max(self, family: Family, neg: Negotiated) -> int | None:
        """Paths per prefix for ``family`` on the session ``neg``; None: one, without Path
        Identifiers (ADD-PATH Send not negotiated, RFC 7911 §5)."""
        if family not in neg.add_path_tx:
            return None
        return next((n for f, n in self.add_path_send_max if f == family), None)

    @classmethod
    def from_config(cls, neighbor: Any, global_: Any, *, forwarding_preserved: bool = True,
                    hostname: str | None = None) -> NeighborSettings:
        """From a ``gracebgp.config`` Neighbor and Global (duck-typed)."""
        families = tuple(_FAMILY_NAMES[a.name] for a in neighbor.afi_safis if a.enabled) or (
            (IPV6_UNICAST,) if ":" in neighbor.neighbor_address else (IPV4_UNICAST,))
        gr_cfg = neighbor.graceful_restart
        gr = None
        llgr: tuple[tuple[Family, int], ...] = ()
        if gr_cfg.enabled:
            # As GoBGP: the GR capability lists the afi-safis whose mp-graceful-restart is
            # enabled, none when no afi-safi enables it (RFC 4724 §3: helper only); the LLGR
            # capability goes out only with long-lived-enabled (RFC 9494 §3.1).
            listed = frozenset(_FAMILY_NAMES[a.name] for a in neighbor.afi_safis
                               if a.enabled and a.mp_graceful_restart)
            gr = GrConfig(restart_time=gr_cfg.restart_time, notification=gr_cfg.notification_enabled,
                          forwarding=frozenset(families) if forwarding_preserved else frozenset(),
                          helper_only=gr_cfg.helper_only, families=listed)
            if gr_cfg.long_lived_enabled:
                llgr = tuple((_FAMILY_NAMES[a.name], a.long_lived_restart_time) for a in neighbor.afi_safis
                             if a.enabled and a.long_lived_graceful_restart)
        # RFC 7911 §4: Receive (1) for receive = true, Send (2) for send-max > 0, or both (3).
        add_path = tuple((_FAMILY_NAMES[a.name], AddPathMode((1 if a.add_paths_receive else 0)
                                                             | (2 if a.add_paths_send_max else 0)))
                         for a in neighbor.afi_safis
                         if a.enabled and (a.add_paths_receive or a.add_paths_send_max))
        send_max = tuple((_FAMILY_NAMES[a.name], a.add_paths_send_max) for a in neighbor.afi_safis
                         if a.enabled and a.add_paths_send_max)
        session = SessionConfig(
            local_as=neighbor.local_as or global_.asn, router_id=global_.router_id,
            peer_address=neighbor.neighbor_address, peer_as=neighbor.peer_as,
            hold_time=int(neighbor.hold_time), keepalive_time=int(neighbor.keepalive_interval),
            families=families, add_path=add_path,
            graceful_restart=gr, llgr=llgr, long_lived=gr is not None and gr_cfg.long_lived_enabled,
            hostname=hostname, passive=neighbor.passive_mode,
            connect_retry_time=float(neighbor.connect_retry),
        )
        # Any AS (a dynamic neighbor's group without peer-as): iBGP or eBGP is known only
        # from the OPEN, so the TTL is not pinned to eBGP's single hop.
        ebgp = session.peer_as is not None and session.peer_as != session.local_as
        sockets = socket_options(neighbor, ebgp=ebgp)
        return cls(neighbor.neighbor_address, session, neighbor.remote_port, neighbor.local_address, sockets,
                   neighbor.route_reflector_client,
                   neighbor.route_reflector_cluster_id, neighbor.admin_down, neighbor.description,
                   float(gr_cfg.deferral_time), float(gr_cfg.stale_routes_time),
                   idle_hold_after_reset=float(neighbor.idle_hold_time_after_reset),
                   prefix_limits=configured((_FAMILY_NAMES[a.name], a.prefix_limit)
                                            for a in neighbor.afi_safis if a.enabled),
                   allow_own_as=neighbor.allow_own_as, replace_peer_as=neighbor.replace_peer_as,
                   remove_private_as=RemovePrivateAs(neighbor.remove_private_as),
                   route_server_client=neighbor.route_server_client, add_path_send_max=send_max,
                   apply_policy=getattr(neighbor, "apply_policy", None),
                   bfd_graceful=neighbor.bfd.enabled and neighbor.bfd.graceful,
                   bfd_wait=neighbor.bfd.enabled and neighbor.bfd.wait_for_up)

    def export_options(self) -> dict[str, Any]:
        """The ExportPolicy fields this neighbor's configuration sets."""
        return {"replace_peer_as": self.replace_peer_as, "remove_private_as": self.remove_private_as,
                "route_server_client": self.route_server_client}


@dataclass(slots=True)
class Peer:
    """Runtime state of one neighbor (owned by the Speaker, mutated only by it)."""

    index: int
    settings: NeighborSettings
    session: Session
    local_addresses: dict[int, str] = field(default_factory=dict)  # conn -> our address
    info: PeerInfo | None = None  # set while Established
    negotiated: Negotiated | None = None
    adj_in: dict[Family, Channel] = field(default_factory=dict)  # the doors to the Loc-RIB
    adj_out: dict[Family, AdjRibOut] = field(default_factory=dict)
    gr: GrHelper = field(default_factory=GrHelper)  # helper state (spec section 3, 5)
    eor_received: set[Family] = field(default_factory=set)  # on the current session
    policy: ExportPolicy | None = None  # base export policy of the current session
    admin_down: bool = False  # administratively shut down (configuration or ShutdownPeer)
    dynamic: bool = False  # added through the API or a dynamic-neighbors range, not the file's
    dynamic_range: str | None = None  # the [[dynamic-neighbors]] prefix it was accepted through
    # Routes import refused (key -> (path, reason)): Adj-RIB-In "pre-policy" only.
    rejected: dict[Family, dict[int, tuple[Path, str]]] = field(default_factory=dict)
    stats: PeerStats = field(default_factory=PeerStats)
    # Connections closed after a NOTIFICATION that the runtime has not reported gone yet,
    # and when a reset's new start is due at the latest (see Speaker.reset_peer).
    closing: set[int] = field(default_factory=set)
    start_at: float | None = None
    idle_until: float | None = None  # an operator's reset: Idle until then (idle-hold-time-after-reset)
    limit: LimitState = field(default_factory=LimitState)  # prefix limits (core.limits)
    bfd_up: bool = False  # gracebgp-bfdd's last word on this peer's BFD session (core.bfd)

    @property
    def address(self) -> str:
        return self.settings.address

    def established_conn(self) -> int | None:
        return next((c for c, s in self.session.connections.items() if s == State.ESTABLISHED), None)

    def route_count(self) -> int:
        return sum(len(r) for r in self.adj_in.values())

    def families(self) -> tuple[Family, ...]:
        """The families configured for this peer."""
        return self.settings.session.families

    def open_family(self, family: Family, neg: Negotiated, info: PeerInfo, loc: LocRib,
                    changed: dict[Family, set[int]], export: ExportPolicy, table: PathTable,
                    book: PolicyBook, now: float) -> None:
        """The session ``neg`` came up with ``family``: its door to the Loc-RIB (the one kept
        for graceful restart when it has the right shape) and a new Adj-RIB-Out, each with
        Path Identifiers or not as negotiated (RFC 7911 §5), chosen once per session, and
        the import and export policy of ``book`` for this session."""
        add_path = family in neg.add_path_rx
        channel = channel_for(family, loc, changed, info, add_path, self.adj_in.get(family))
        self.adj_in[family] = channel
        send_max = self.settings.send_max(family, neg)
        rib_out = self.adj_out[family] = rib_out_for(family, export, table, send_max)
        if send_max is not None:
            loc.every_change = True
        own = self.settings.apply_policy
        importer = import_filter(book, own, family, info, export, table, add_path)
        if same(channel.importer, importer):
            channel.importer = importer  # (this session's source and next hop)
        else:  # routes kept from the last session, under another policy: run the new one
            channel.reimport(importer, now)
        rib_out.exporter = export_filter(book, own, family, export, table)


def next_hops_for(local_address: str, router_id: str) -> tuple[str | None, tuple[str, ...]]:
    """Our next hops on a session whose local end is ``local_address``: the address itself
    for its family; for the other family an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2)
    or, for IPv4 routes over an IPv6 session, the router id."""
    if ":" in local_address:
        return router_id, (local_address,)
    return local_address, (f"::ffff:{local_address}",)


def family_width(family: Family) -> int:
    return 32 if family.afi == AFI.IPV4 else 128

