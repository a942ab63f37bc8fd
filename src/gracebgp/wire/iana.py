"""Every BGP wire code as an IntEnum; unknown codes stay plain ints (DESIGN.md rule 4).

RFC 4271 §4 (message types, §4.5 error codes), §5 (attributes); RFC 5492 (capabilities);
RFC 1997 / RFC 8326 / RFC 9494 / RFC 7999 (well-known communities); RFC 4486 and RFC 8538
(Cease subcodes); RFC 7313 (ROUTE-REFRESH subtypes); RFC 9072 (extended optional parameters).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from gracebgp.types import AFI, IPV4_UNICAST, IPV6_UNICAST, SAFI, Family

__all__ = [
    "AFI",
    "AS_TRANS",
    "BGP_VERSION",
    "HEADER_LEN",
    "IPV4_UNICAST",
    "IPV6_UNICAST",
    "MARKER",
    "MAX_EXTENDED_MESSAGE_LEN",
    "MAX_MESSAGE_LEN",
    "SAFI",
    "AddPathMode",
    "AttrFlag",
    "AttrType",
    "CapabilityCode",
    "CeaseSubcode",
    "Family",
    "FsmSubcode",
    "GrFamilyFlag",
    "GrFlag",
    "HeaderSubcode",
    "MessageType",
    "NotificationCode",
    "OpenSubcode",
    "OptionalParamType",
    "Origin",
    "RouteRefreshErrorSubcode",
    "RouteRefreshSubtype",
    "SegmentType",
    "UpdateSubcode",
    "WellKnownCommunity",
]

BGP_VERSION = 4
MARKER = b"\xff" * 16
HEADER_LEN = 19
MAX_MESSAGE_LEN = 4096  # RFC 4271 §4.1
MAX_EXTENDED_MESSAGE_LEN = 65535  # RFC 8654 §3
AS_TRANS = 23456  # RFC 6793 §9


class MessageType(IntEnum):
    OPEN = 1
    UPDATE = 2
    NOTIFICATION = 3
    KEEPALIVE = 4
    ROUTE_REFRESH = 5


class NotificationCode(IntEnum):
    MESSAGE_HEADER_ERROR = 1
    OPEN_MESSAGE_ERROR = 2
    UPDATE_MESSAGE_ERROR = 3
    HOLD_TIMER_EXPIRED = 4
    FSM_ERROR = 5
    CEASE = 6
    ROUTE_REFRESH_MESSAGE_ERROR = 7


class HeaderSubcode(IntEnum):
    CONNECTION_NOT_SYNCHRONIZED = 1
    BAD_MESSAGE_LENGTH = 2
    BAD_MESSAGE_TYPE = 3


class OpenSubcode(IntEnum):
    UNSPECIFIC = 0
    UNSUPPORTED_VERSION_NUMBER = 1
    BAD_PEER_AS = 2
    BAD_BGP_IDENTIFIER = 3
    UNSUPPORTED_OPTIONAL_PARAMETER = 4
    UNACCEPTABLE_HOLD_TIME = 6
    UNSUPPORTED_CAPABILITY = 7
    ROLE_MISMATCH = 11


class UpdateSubcode(IntEnum):
    MALFORMED_ATTRIBUTE_LIST = 1
    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
    MISSING_WELL_KNOWN_ATTRIBUTE = 3
    ATTRIBUTE_FLAGS_ERROR = 4
    ATTRIBUTE_LENGTH_ERROR = 5
    INVALID_ORIGIN_ATTRIBUTE = 6
    INVALID_NEXT_HOP_ATTRIBUTE = 8
    OPTIONAL_ATTRIBUTE_ERROR = 9
    INVALID_NETWORK_FIELD = 10
    MALFORMED_AS_PATH = 11


class FsmSubcode(IntEnum):
    UNSPECIFIED = 0
    UNEXPECTED_IN_OPENSENT = 1
    UNEXPECTED_IN_OPENCONFIRM = 2
    UNEXPECTED_IN_ESTABLISHED = 3


class CeaseSubcode(IntEnum):
    MAX_PREFIXES_REACHED = 1
    ADMINISTRATIVE_SHUTDOWN = 2
    PEER_DECONFIGURED = 3
    ADMINISTRATIVE_RESET = 4
    CONNECTION_REJECTED = 5
    OTHER_CONFIGURATION_CHANGE = 6
    CONNECTION_COLLISION_RESOLUTION = 7
    OUT_OF_RESOURCES = 8
    HARD_RESET = 9
    BFD_DOWN = 10


class RouteRefreshErrorSubcode(IntEnum):
    INVALID_MESSAGE_LENGTH = 1


class CapabilityCode(IntEnum):
    MULTIPROTOCOL = 1
    ROUTE_REFRESH = 2
    EXTENDED_NEXT_HOP = 5
    EXTENDED_MESSAGE = 6
    GRACEFUL_RESTART = 64
    FOUR_OCTET_AS = 65
    ADD_PATH = 69
    ENHANCED_ROUTE_REFRESH = 70
    LONG_LIVED_GRACEFUL_RESTART = 71
    FQDN = 73


class OptionalParamType(IntEnum):
    CAPABILITIES = 2
    EXTENDED_LENGTH = 255  # RFC 9072 §2


class AttrType(IntEnum):
    ORIGIN = 1
    AS_PATH = 2
    NEXT_HOP = 3
    MULTI_EXIT_DISC = 4
    LOCAL_PREF = 5
    ATOMIC_AGGREGATE = 6
    AGGREGATOR = 7
    COMMUNITIES = 8
    ORIGINATOR_ID = 9
    CLUSTER_LIST = 10
    MP_REACH_NLRI = 14
    MP_UNREACH_NLRI = 15
    EXTENDED_COMMUNITIES = 16
    AS4_PATH = 17
    AS4_AGGREGATOR = 18
    LARGE_COMMUNITIES = 32


class AttrFlag(IntFlag):
    OPTIONAL = 0x80
    TRANSITIVE = 0x40
    PARTIAL = 0x20
    EXTENDED_LENGTH = 0x10


class Origin(IntEnum):
    IGP = 0
    EGP = 1
    INCOMPLETE = 2


class SegmentType(IntEnum):
    AS_SET = 1
    AS_SEQUENCE = 2
    AS_CONFED_SEQUENCE = 3
    AS_CONFED_SET = 4


class WellKnownCommunity(IntEnum):
    GRACEFUL_SHUTDOWN = 0xFFFF0000  # RFC 8326
    ACCEPT_OWN = 0xFFFF0001  # RFC 7611
    LLGR_STALE = 0xFFFF0006  # RFC 9494 §4.3
    NO_LLGR = 0xFFFF0007  # RFC 9494 §4.3
    BLACKHOLE = 0xFFFF029A  # RFC 7999
    NO_EXPORT = 0xFFFFFF01  # RFC 1997
    NO_ADVERTISE = 0xFFFFFF02  # RFC 1997
    NO_EXPORT_SUBCONFED = 0xFFFFFF03  # RFC 1997
    NO_PEER = 0xFFFFFF04  # RFC 3765


class RouteRefreshSubtype(IntEnum):
    NORMAL = 0  # RFC 2918
    BORR = 1  # RFC 7313 §3
    EORR = 2  # RFC 7313 §3


#: The Enhanced Route Refresh demarcation subtypes (RFC 7313 §3.2).
DEMARCATION = frozenset((RouteRefreshSubtype.BORR, RouteRefreshSubtype.EORR))


class GrFlag(IntFlag):
    """Restart Flags of the Graceful Restart capability (4 high bits)."""

    RESTART = 0x8  # RFC 4724 §3 "R"
    NOTIFICATION = 0x4  # RFC 8538 §2 "N"


class GrFamilyFlag(IntFlag):
    FORWARDING = 0x80  # RFC 4724 §3 / RFC 9494 §2 "F"


class AddPathMode(IntEnum):
    RECEIVE = 1  # RFC 7911 §4
    SEND = 2
    BOTH = 3
