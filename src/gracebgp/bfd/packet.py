r"""The BFD Control packet codec: bytes <-> ControlPacket, malformed input -> Discard.

RFC 5880 §4.1 (the mandatory section), §4.2 (the authentication section), §6.8.6 (the
checks a received packet must pass before it reaches a session; those that need no session
are made here, the rest in ``session``), §6.7.2 (Simple Password). Decoding never raises:
a datagram that fails a check comes back as ``Discard(reason)``, which the runtime counts.

Mandatory section (RFC 5880 §4.1), 24 octets, all fields big-endian::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       My Discriminator                        |
    |                      Your Discriminator                       |
    |                    Desired Min TX Interval                    |
    |                   Required Min RX Interval                    |
    |                 Required Min Echo RX Interval                 |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Optional authentication section (A bit set, §4.2): Auth Type, Auth Len, then the
type's data (Simple Password: Auth Key ID, 1-16 octets of password, §4.2.1).
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from gracebgp.bfd.codes import VERSION, AuthType, Diag, DiscardReason, SessionState

MANDATORY_LEN = 24
_HEAD = struct.Struct("!BBBBIIIII")

_P, _F, _C, _A, _D, _M = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01


@dataclass(frozen=True, slots=True)
class Auth:
    """An authentication section (RFC 5880 §4.2): its type, key id and the rest raw."""

    auth_type: AuthType | int
    key_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ControlPacket:
    """One BFD Control packet; intervals in microseconds as on the wire (RFC 5880 §4.1)."""

    state: SessionState
    diag: Diag | int = Diag.NONE
    my_discriminator: int = 0
    your_discriminator: int = 0
    detect_mult: int = 3
    desired_min_tx_us: int = 1_000_000
    required_min_rx_us: int = 1_000_000
    required_min_echo_rx_us: int = 0
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    demand: bool = False
    auth: Auth | None = None


@dataclass(frozen=True, slots=True)
class Discard:
    """A datagram that failed a check (RFC 5880 §6.8.6); ``detail`` says what was seen."""

    reason: DiscardReason
    detail: str = ""


def _diag(value: int) -> Diag | int:
    try:
        return Diag(value)
    except ValueError:
        return value


def _auth_type(value: int) -> AuthType | int:
    try:
        return AuthType(value)
    except ValueError:
        return value


def encode(packet: ControlPacket) -> bytes:
    """The packet's octets, Length set from what is written (RFC 5880 §4.1)."""
    if packet.poll and packet.final:
        raise ValueError("RFC 5880 §4.1: a Control packet never has both Poll and Final set")
    auth = b""
    if packet.auth is not None:
        body = bytes([packet.auth.key_id]) + packet.auth.data
        auth = bytes([int(packet.auth.auth_type), 2 + len(body)]) + body
    flags = (
        (int(packet.state) << 6)
        | (_P if packet.poll else 0)
        | (_F if packet.final else 0)
        | (_C if packet.control_plane_independent else 0)
        | (_A if packet.auth is not None else 0)
        | (_D if packet.demand else 0)
    )
    head = _HEAD.pack(
        (VERSION << 5) | (int(packet.diag) & 0x1F),
        flags,
        packet.detect_mult,
        MANDATORY_LEN + len(auth),
        packet.my_discriminator,
        packet.your_discriminator,
        packet.desired_min_tx_us,
        packet.required_min_rx_us,
        packet.required_min_echo_rx_us,
    )
    return head + auth


def decode(data: bytes) -> ControlPacket | Discard:
    """Parse one datagram and make the session-independent checks of RFC 5880 §6.8.6."""
    if len(data) < MANDATORY_LEN:
        return Discard(DiscardReason.TOO_SHORT, f"{len(data)} octets")
    vd, flags, mult, length, my_d, your_d, tx, rx, echo = _HEAD.unpack_from(data)
    if vd >> 5 != VERSION:
        return Discard(DiscardReason.BAD_VERSION, f"version {vd >> 5}")
    has_auth = bool(flags & _A)
    if length < (MANDATORY_LEN + 2 if has_auth else MANDATORY_LEN) or length > len(data):
        return Discard(DiscardReason.BAD_LENGTH, f"Length {length}, datagram {len(data)}")
    if mult == 0:
        return Discard(DiscardReason.ZERO_DETECT_MULT)
    if flags & _M:
        return Discard(DiscardReason.MULTIPOINT)
    if my_d == 0:
        return Discard(DiscardReason.ZERO_MY_DISCRIMINATOR)
    state = SessionState(flags >> 6)
    if your_d == 0 and state not in (SessionState.DOWN, SessionState.ADMIN_DOWN):
        return Discard(DiscardReason.ZERO_YOUR_DISCRIMINATOR, f"State {state.name}")
    auth: Auth | None = None
    if has_auth:
        atype, alen = data[MANDATORY_LEN], data[MANDATORY_LEN + 1]
        if alen < 3 or MANDATORY_LEN + alen > length:
            return Discard(DiscardReason.AUTH_MALFORMED, f"Auth Len {alen}")
        auth = Auth(_auth_type(atype), data[MANDATORY_LEN + 2],
                    bytes(data[MANDATORY_LEN + 3:MANDATORY_LEN + alen]))
    return ControlPacket(
        state=state,
        diag=_diag(vd & 0x1F),
        my_discriminator=my_d,
        your_discriminator=your_d,
        detect_mult=mult,
        desired_min_tx_us=tx,
        required_min_rx_us=rx,
        required_min_echo_rx_us=echo,
        poll=bool(flags & _P),
        final=bool(flags & _F),
        control_plane_independent=bool(flags & _C),
        demand=bool(flags & _D),
        auth=auth,
    )


@dataclass(frozen=True, slots=True)
class SimplePassword:
    """Simple Password authentication (RFC 5880 §6.7.2): a key id and 1-16 octets."""

    key_id: int
    password: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.password) <= 16:
            raise ValueError("RFC 5880 §4.2.1: a Simple Password is 1 to 16 octets")

    def section(self) -> Auth:
        return Auth(AuthType.SIMPLE_PASSWORD, self.key_id, self.password)

    def check(self, auth: Auth | None) -> Discard | None:
        """RFC 5880 §6.8.6 and §6.7.2: None if the packet authenticates, else why not."""
        if auth is None:
            return Discard(DiscardReason.AUTH_MISSING)
        if auth.auth_type != AuthType.SIMPLE_PASSWORD:
            return Discard(DiscardReason.AUTH_FAILED, f"Auth Type {int(auth.auth_type)}")
        if auth.key_id != self.key_id or not hmac.compare_digest(auth.data, self.password):
            return Discard(DiscardReason.AUTH_FAILED, f"key id {auth.key_id}")
        return None
