"""BFD wire codes and constants as IntEnums (RFC 5880 §4.1, §4.2; RFC 5881 §4, §5; RFC 5883 §5).

Unknown diagnostic codes survive decoding as plain ints (DESIGN.md rule 4); the state field
has two bits and every value is named.
"""

from __future__ import annotations

from enum import IntEnum

SINGLE_HOP_PORT = 3784
"""RFC 5881 §4: destination UDP port of single-hop BFD Control packets."""

MULTIHOP_PORT = 4784
"""RFC 5883 §5: destination UDP port of multihop BFD Control packets."""

SOURCE_PORTS = range(49152, 65536)
"""RFC 5881 §4: the source port is in 49152-65535, the same for every packet of a session."""

SINGLE_HOP_TTL = 255
"""RFC 5881 §5: single-hop packets are sent with TTL (Hop Limit) 255 and, without
authentication, received packets with any other TTL are discarded (GTSM, RFC 5082)."""

VERSION = 1
"""RFC 5880 §4.1: the protocol version."""

SLOW_TX_US = 1_000_000
"""RFC 5880 §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second."""


class SessionState(IntEnum):
    """RFC 5880 §4.1 "State (Sta)"."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diag(IntEnum):
    """RFC 5880 §4.1 "Diagnostic (Diag)": the local system's reason for its last change."""

    NONE = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8


class AuthType(IntEnum):
    """RFC 5880 §4.1 "Auth Type" (only Simple Password, §6.7.2, is verified here)."""

    RESERVED = 0
    SIMPLE_PASSWORD = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


class DiscardReason(IntEnum):
    """Why a received datagram was discarded (RFC 5880 §6.8.6, RFC 5881 §5); counted, never fatal."""

    TOO_SHORT = 1  # fewer octets than the mandatory section
    BAD_VERSION = 2  # §6.8.6: version is not 1
    BAD_LENGTH = 3  # §6.8.6: Length < 24 (26 with A), or more than the datagram
    ZERO_DETECT_MULT = 4  # §6.8.6
    MULTIPOINT = 5  # §6.8.6: the M bit is set
    ZERO_MY_DISCRIMINATOR = 6  # §6.8.6
    ZERO_YOUR_DISCRIMINATOR = 7  # §6.8.6: Your Discriminator 0 while State is not Down/AdminDown
    UNKNOWN_SESSION = 8  # §6.8.6: no session has that Your Discriminator (or that address)
    AUTH_NOT_EXPECTED = 9  # §6.8.6: A bit set, no authentication in use
    AUTH_MISSING = 10  # §6.8.6: A bit clear, authentication in use
    AUTH_FAILED = 11  # §6.7: the authentication section does not verify
    AUTH_MALFORMED = 12  # §4.2: an authentication section that does not parse
    BAD_TTL = 13  # RFC 5881 §5: single hop, TTL/Hop Limit other than 255
