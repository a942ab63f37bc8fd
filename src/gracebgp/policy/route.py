"""What a policy sees of a route: where it came from, and its prefix and next hop.

The attributes come separately, as the route's ``AttrSet``; ``Source`` is what the
attribute-only conditions need beside them (see the package docstring on caching).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gracebgp.types import Family
from gracebgp.wire.nlri import key_parts, width_of


class RouteType(IntEnum):
    """GoBGP's route-type: learned over iBGP, over eBGP, or originated here."""

    INTERNAL = 1
    EXTERNAL = 2
    LOCAL = 3


@dataclass(frozen=True, slots=True)
class Source:
    """The peer the policy runs for and the kind of route.

    ``peer`` is the neighbor address match-neighbor-set tests: for an import policy the
    peer that sent the route, for an export policy the peer it is sent to (GoBGP's
    rule); "" for a global policy with no peer. ``peer_as`` is that peer's AS.
    ``route_type`` is how the route was learned (RFC 4271 §1.1 internal/external peers),
    or LOCAL for a route originated here.
    """

    peer: str
    peer_as: int
    route_type: RouteType


@dataclass(frozen=True, slots=True)
class Route:
    """One route's prefix (``family`` and the prefix key of ``gracebgp.wire.nlri``),
    its next hop (text, "" when none) and its source."""

    family: Family
    key: int
    next_hop: str
    source: Source

    def prefix(self) -> tuple[int, int] | None:
        """(address, length) for IPv4/IPv6 prefixes; None for other families."""
        try:
            return key_parts(self.key, width_of(self.family.afi))
        except ValueError:
            return None
