"""OPEN, NOTIFICATION, KEEPALIVE and ROUTE-REFRESH messages, and whole-message codec.

RFC 4271 §4.2 (OPEN), §4.4 (KEEPALIVE), §4.5 (NOTIFICATION); RFC 5492 §4 (Capabilities
parameter); RFC 9072 §2 (extended optional parameters length); RFC 9003 §2 (shutdown
communication); RFC 8538 §3 (Hard Reset wraps the original code/subcode/data);
RFC 2918 §3 / RFC 7313 §3 and §5 (ROUTE-REFRESH and its subtypes).

OPEN body::

    +-----------+-------------+------------+------------------+--------------------+
    | Version 1 | My AS (2)   | Hold (2)   | BGP Identifier 4 | Opt Parm Len (1)   |
    +-----------+-------------+------------+------------------+--------------------+
    | Optional Parameters: Type (1), Length (1), Value  ... (RFC 9072: Length is 2  |
    | octets when Opt Parm Len is 255 followed by type 255 and a 2-octet length)    |
    +-------------------------------------------------------------------------------+
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Union

from gracebgp.errors import CodecError, EncodeError
from gracebgp.wire.addr import ipv4_bytes, ipv4_text
from gracebgp.wire.capabilities import Capability, FourOctetAs, decode_capabilities, encode_capability
from gracebgp.wire.context import CodecContext
from gracebgp.wire.framing import split_messages
from gracebgp.wire.iana import (
    AS_TRANS,
    BGP_VERSION,
    HEADER_LEN,
    MARKER,
    CeaseSubcode,
    MessageType,
    NotificationCode,
    OpenSubcode,
    OptionalParamType,
    RouteRefreshErrorSubcode,
    RouteRefreshSubtype,
)
from gracebgp.wire.update import Update, UpdateResult, encode_update, parse_update


def _frame(mtype: int, body: bytes) -> bytes:
    return MARKER + (HEADER_LEN + len(body)).to_bytes(2, "big") + bytes([mtype]) + body


def _open_error(reason: str) -> CodecError:
    return CodecError(NotificationCode.OPEN_MESSAGE_ERROR, OpenSubcode.UNSPECIFIC, reason=reason)


@dataclass(frozen=True, slots=True)
class CapabilitiesParam:
    """Optional parameter 2 holding one or more capabilities (RFC 5492 §4)."""

    capabilities: tuple[Capability, ...]
    type: int = OptionalParamType.CAPABILITIES

    def encode_value(self) -> bytes:
        return b"".join(encode_capability(c) for c in self.capabilities)


@dataclass(frozen=True, slots=True)
class UnknownParam:
    """Any other optional parameter; the session answers it with Unsupported Optional
    Parameter (RFC 4271 §6.2)."""

    type: int
    value: bytes

    def encode_value(self) -> bytes:
        return self.value


Param = Union[CapabilitiesParam, UnknownParam]


@dataclass(frozen=True, slots=True)
class Open:
    my_as: int  # the 2-octet field; AS_TRANS when the real AS needs 4 octets (RFC 6793 §4.1)
    hold_time: int
    bgp_id: str
    params: tuple[Param, ...] = ()
    version: int = BGP_VERSION
    extended_params: bool = False  # RFC 9072 encoding was (or must be) used

    @classmethod
    def build(cls, asn: int, hold_time: int, bgp_id: str, capabilities: tuple[Capability, ...],
              one_param_each: bool = False) -> Open:
        """An OPEN for ``asn``: 4-octet AS numbers go in capability 65, AS_TRANS in My AS."""
        caps = tuple(capabilities)
        if asn > 0xFFFF and not any(isinstance(c, FourOctetAs) for c in caps):
            raise EncodeError("a 4-octet AS needs the 4-octet AS capability")
        params: tuple[Param, ...] = (
            tuple(CapabilitiesParam((c,)) for c in caps) if one_param_each
            else ((CapabilitiesParam(caps),) if caps else ()))
        return cls(asn if asn <= 0xFFFF else AS_TRANS, hold_time, bgp_id, params)

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        return tuple(c for p in self.params if isinstance(p, CapabilitiesParam) for c in p.capabilities)

    @property
    def asn(self) -> int:
        """The speaker's AS: from capability 65 when present (RFC 6793 §4.1)."""
        for c in self.capabilities:
            if isinstance(c, FourOctetAs):
                return c.asn
        return self.my_as

    def encode(self) -> bytes:
        bgp_id = ipv4_bytes(self.bgp_id)
        values = [(p.type, p.encode_value()) for p in self.params]
        total = sum(2 + len(v) for _, v in values)
        # RFC 9072 §2: a Non-Extended length of 255 followed by type 255 *is* the extended
        # format, so such parameters must be written in the extended format.
        ambiguous = total == 255 and values[0][0] == OptionalParamType.EXTENDED_LENGTH
        if self.extended_params or total > 255 or ambiguous or any(len(v) > 255 for _, v in values):
            params = b"".join(bytes([t]) + len(v).to_bytes(2, "big") + v for t, v in values)
            opt = b"\xff\xff" + len(params).to_bytes(2, "big") + params  # RFC 9072 §2
        else:
            params = b"".join(bytes([t, len(v)]) + v for t, v in values)
            opt = bytes([len(params)]) + params
        body = (bytes([self.version]) + self.my_as.to_bytes(2, "big")
                + self.hold_time.to_bytes(2, "big") + bgp_id + opt)
        return _frame(MessageType.OPEN, body)

    @classmethod
    def decode(cls, body: bytes) -> Open:
        if len(body) < 10:
            raise _open_error("OPEN shorter than 10 octets")
        version = body[0]
        my_as = body[1] << 8 | body[2]
        hold = body[3] << 8 | body[4]
        bgp_id = ipv4_text(body[5:9])
        optlen = body[9]
        extended = optlen == 255 and len(body) >= 13 and body[10] == 255
        if extended:
            optlen = body[11] << 8 | body[12]
            start, hdr = 13, 3
        else:
            start, hdr = 10, 2
        if start + optlen != len(body):
            raise _open_error("optional parameters length does not match the message")
        params: list[Param] = []
        i, end = start, start + optlen
        while i < end:
            if i + hdr > end:
                raise _open_error("optional parameter header truncated")
            ptype = body[i]
            plen = (body[i + 1] << 8 | body[i + 2]) if extended else body[i + 1]
            j = i + hdr + plen
            if j > end:
                raise _open_error("optional parameter overruns the message")
            value = body[i + hdr:j]
            if ptype == OptionalParamType.CAPABILITIES:
                params.append(CapabilitiesParam(decode_capabilities(value)))
            else:
                params.append(UnknownParam(ptype, value))
            i = j
        return cls(my_as, hold, bgp_id, tuple(params), version, extended)


_COMMUNICATION = (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET)


@dataclass(frozen=True, slots=True)
class Notification:
    code: int
    subcode: int
    data: bytes = b""

    @classmethod
    def from_error(cls, error: CodecError) -> Notification:
        return cls(error.code, error.subcode, error.data)

    @classmethod
    def cease(cls, subcode: int, message: str = "") -> Notification:
        """Cease, with an RFC 9003 shutdown communication for Admin Shutdown / Reset."""
        data = b""
        if message and subcode in _COMMUNICATION:
            raw = message.encode("utf-8")[:255]
            while raw:  # never cut a UTF-8 sequence in half (RFC 9003 §2)
                try:
                    raw.decode("utf-8")
                    break
                except UnicodeDecodeError:
                    raw = raw[:-1]
            data = bytes([len(raw)]) + raw
        return cls(NotificationCode.CEASE, subcode, data)

    @property
    def communication(self) -> str | None:
        """RFC 9003 §2 shutdown communication, or None when absent or malformed."""
        if self.code != NotificationCode.CEASE or self.subcode not in _COMMUNICATION or not self.data:
            return None
        n = self.data[0]
        if n + 1 > len(self.data):
            return None
        try:
            return self.data[1:1 + n].decode("utf-8")
        except UnicodeDecodeError:
            return None

    @property
    def is_hard_reset(self) -> bool:
        return self.code == NotificationCode.CEASE and self.subcode == CeaseSubcode.HARD_RESET

    def hard_reset(self) -> Notification:
        """RFC 8538 §3: wrap this NOTIFICATION in Cease / Hard Reset."""
        return Notification(NotificationCode.CEASE, CeaseSubcode.HARD_RESET,
                            bytes([self.code, self.subcode]) + self.data)

    def unwrap(self) -> Notification:
        """The NOTIFICATION a Hard Reset carries (RFC 8538 §3), else this one."""
        if self.is_hard_reset and len(self.data) >= 2:
            return Notification(self.data[0], self.data[1], self.data[2:])
        return self

    def encode(self) -> bytes:
        return _frame(MessageType.NOTIFICATION, bytes([self.code, self.subcode]) + self.data)

    @classmethod
    def decode(cls, body: bytes) -> Notification:
        if len(body) < 2:
            raise CodecError(NotificationCode.MESSAGE_HEADER_ERROR, 2, reason="NOTIFICATION too short")
        return cls(body[0], body[1], body[2:])

    def name(self) -> str:
        """ "CEASE/ADMINISTRATIVE_SHUTDOWN", or numbers where the codes are unknown."""
        try:
            code = NotificationCode(self.code).name
        except ValueError:
            code = str(self.code)
        sub = str(self.subcode)
        if self.code == NotificationCode.CEASE:
            with contextlib.suppress(ValueError):
                sub = CeaseSubcode(self.subcode).name
        return f"{code}/{sub}"

    def describe(self) -> str:
        """Operator text: "CEASE/ADMINISTRATIVE_SHUTDOWN: 'maintenance'" and the like."""
        text = self.name()
        if self.is_hard_reset and len(self.data) >= 2:
            # RFC 8538 §3 wraps one NOTIFICATION; a peer may nest more, so show one level.
            inner = self.unwrap()
            text += " wrapping " + (f"{inner.name()} (nested)" if inner.is_hard_reset else inner.describe())
        elif self.communication:
            text += f": {self.communication!r}"
        return text


@dataclass(frozen=True, slots=True)
class Keepalive:
    def encode(self) -> bytes:
        return KEEPALIVE_BYTES


KEEPALIVE = Keepalive()
KEEPALIVE_BYTES = _frame(MessageType.KEEPALIVE, b"")


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    """RFC 2918 §3 with the RFC 7313 §3 subtype: AFI (2), Subtype (1), SAFI (1)."""

    afi: int
    safi: int
    subtype: int = RouteRefreshSubtype.NORMAL

    def encode(self) -> bytes:
        return _frame(MessageType.ROUTE_REFRESH,
                      self.afi.to_bytes(2, "big") + bytes([self.subtype, self.safi]))

    @classmethod
    def decode(cls, body: bytes) -> RouteRefresh:
        if len(body) != 4:  # RFC 7313 §5: the data is the complete message
            raise CodecError(NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR,
                             RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH,
                             _frame(MessageType.ROUTE_REFRESH, body), "ROUTE-REFRESH length is not 23")
        return cls(body[0] << 8 | body[1], body[3], body[2])


Message = Union[Open, UpdateResult, Notification, Keepalive, RouteRefresh]


def decode_body(mtype: int, body: bytes, ctx: CodecContext) -> Message:
    """Decode one framed message. UPDATEs never raise (they return an UpdateResult); the
    others raise CodecError carrying the NOTIFICATION to send."""
    if mtype == MessageType.UPDATE:
        return parse_update(body, ctx)
    if mtype == MessageType.KEEPALIVE:
        return KEEPALIVE
    if mtype == MessageType.OPEN:
        return Open.decode(body)
    if mtype == MessageType.NOTIFICATION:
        return Notification.decode(body)
    if mtype == MessageType.ROUTE_REFRESH:
        return RouteRefresh.decode(body)
    raise CodecError(NotificationCode.MESSAGE_HEADER_ERROR, 3, bytes([mtype]), f"message type {mtype}")


def decode_message(data: bytes, ctx: CodecContext) -> Message:
    """Decode exactly one whole message (header included)."""
    msgs = split_messages(data, ctx.max_message_len)
    if len(msgs) != 1:
        raise CodecError(NotificationCode.MESSAGE_HEADER_ERROR, 2, reason=f"{len(msgs)} messages, not 1")
    return decode_body(msgs[0][0], msgs[0][1], ctx)


def encode_message(msg: Open | Update | Notification | Keepalive | RouteRefresh, ctx: CodecContext) -> bytes:
    """Encode any message object, header included."""
    if isinstance(msg, Update):
        return encode_update(msg, ctx)
    out = msg.encode()
    if len(out) > ctx.max_message_len:
        raise EncodeError(f"message of {len(out)} octets exceeds {ctx.max_message_len}")
    return out
