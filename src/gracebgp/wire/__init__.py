"""The BGP wire codec (layer L1): bytes <-> frozen message objects, no I/O.

Start with ``decode_message``/``encode_message`` and ``Framer``; UPDATEs decode into an
``UpdateResult`` whose ``action`` is the RFC 7606 outcome.
"""

from gracebgp.wire.attributes import (
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    AtomicAggregate,
    ClusterList,
    LocalPref,
    MultiExitDisc,
    NextHop,
    Origin,
    OriginatorId,
    UnknownAttribute,
    encode_attribute,
)
from gracebgp.wire.attrset import AttrSet, decode_attribute, to_two_octet
from gracebgp.wire.capabilities import (
    AddPath,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    UnknownCapability,
)
from gracebgp.wire.capabilities import (
    RouteRefresh as RouteRefreshCapability,
)
from gracebgp.wire.communities import Communities, ExtendedCommunities, LargeCommunities
from gracebgp.wire.context import DEFAULT_CONTEXT, CodecContext
from gracebgp.wire.framing import Framer, split_messages
from gracebgp.wire.messages import (
    KEEPALIVE,
    CapabilitiesParam,
    Keepalive,
    Message,
    Notification,
    Open,
    RouteRefresh,
    UnknownParam,
    decode_body,
    decode_message,
    encode_message,
)
from gracebgp.wire.mpnlri import MpReach, MpUnreach
from gracebgp.wire.outcome import Problem, UpdateAction
from gracebgp.wire.update import (
    Update,
    UpdateResult,
    encode_update,
    end_of_rib,
    pack_ipv4,
    pack_mp,
    pack_withdrawals,
    parse_update,
)

__all__ = [
    "DEFAULT_CONTEXT",
    "KEEPALIVE",
    "AddPath",
    "Aggregator",
    "As4Aggregator",
    "As4Path",
    "AsPath",
    "AtomicAggregate",
    "AttrSet",
    "CapabilitiesParam",
    "Capability",
    "ClusterList",
    "CodecContext",
    "Communities",
    "EnhancedRouteRefresh",
    "ExtendedCommunities",
    "ExtendedMessage",
    "ExtendedNextHop",
    "FourOctetAs",
    "Fqdn",
    "Framer",
    "GracefulRestart",
    "Keepalive",
    "LargeCommunities",
    "LocalPref",
    "LongLivedGracefulRestart",
    "Message",
    "MpReach",
    "MpUnreach",
    "MultiExitDisc",
    "Multiprotocol",
    "NextHop",
    "Notification",
    "Open",
    "Origin",
    "OriginatorId",
    "Problem",
    "RouteRefresh",
    "RouteRefreshCapability",
    "UnknownAttribute",
    "UnknownCapability",
    "UnknownParam",
    "Update",
    "UpdateAction",
    "UpdateResult",
    "decode_attribute",
    "decode_body",
    "decode_message",
    "encode_attribute",
    "encode_message",
    "encode_update",
    "end_of_rib",
    "pack_ipv4",
    "pack_mp",
    "pack_withdrawals",
    "parse_update",
    "split_messages",
    "to_two_octet",
]
