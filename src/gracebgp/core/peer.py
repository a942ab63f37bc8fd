"""One configured neighbor inside the Speaker: its session, connections, tables and
export policy, and the mapping from operator configuration to session configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gracebgp.core.events import SocketOptions
from gracebgp.core.limitsettings import Limits, LimitState, configured
from gracebgp.core.sockets import socket_options
from gracebgp.core.stats import PeerStats
from gracebgp.restart.helper import GrHelper
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.aspath_rules import RemovePrivateAs
from gracebgp.rib.channel import Channel
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.path import Path, PeerInfo
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
        add_path = tuple((_FAMILY_NAMES[a.name], AddPathMode.RECEIVE) for a in neighbor.afi_safis
                         if a.enabled and a.add_paths_receive)
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
                   route_server_client=neighbor.route_server_client)

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


def next_hops_for(local_address: str, router_id: str) -> tuple[str | None, tuple[str, ...]]:
    """Our next hops on a session whose local end is ``local_address``: the address itself
    for its family; for the other family an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2)
    or, for IPv4 routes over an IPv6 session, the router id."""
    if ":" in local_address:
        return router_id, (local_address,)
    return local_address, (f"::ffff:{local_address}",)


def family_width(family: Family) -> int:
    return 32 if family.afi == AFI.IPV4 else 128

