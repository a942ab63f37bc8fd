"""Cut a TCP byte stream into BGP messages and check their headers (RFC 4271 §4.1, §6.1).

Header::

    +-------------------------------+
    |  Marker (16 octets, all ones) |
    +-------------------------------+
    |  Length (2)   |  Type (1)     |
    +-------------------------------+

RFC 8654 §4: with Extended Message negotiated the limit is 65535 octets, except for OPEN
and KEEPALIVE, which stay within 4096.
"""

from __future__ import annotations

from gracebgp.errors import FramingError
from gracebgp.wire.iana import (
    HEADER_LEN,
    MARKER,
    MAX_MESSAGE_LEN,
    HeaderSubcode,
    MessageType,
    NotificationCode,
)

# Minimum total lengths per type (RFC 4271 §4.2-§4.5, RFC 2918 §3).
_MIN_LEN = {1: 29, 2: 23, 3: 21, 4: 19, 5: 23}
_SMALL_ONLY = (MessageType.OPEN, MessageType.KEEPALIVE)


def _bad_length(length: int) -> FramingError:
    # RFC 4271 §6.1: the Data field contains the erroneous Length field.
    return FramingError(NotificationCode.MESSAGE_HEADER_ERROR, HeaderSubcode.BAD_MESSAGE_LENGTH,
                        length.to_bytes(2, "big"), f"bad message length {length}")


def check_header(header: bytes, max_len: int) -> tuple[int, int]:
    """Validate one 19-octet header; return (total length, type)."""
    if header[:16] != MARKER:
        raise FramingError(NotificationCode.MESSAGE_HEADER_ERROR,
                           HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, b"", "marker is not all ones")
    length = header[16] << 8 | header[17]
    mtype = header[18]
    minimum = _MIN_LEN.get(mtype)
    if minimum is None:
        raise FramingError(NotificationCode.MESSAGE_HEADER_ERROR, HeaderSubcode.BAD_MESSAGE_TYPE,
                           bytes([mtype]), f"unknown message type {mtype}")
    limit = MAX_MESSAGE_LEN if mtype in _SMALL_ONLY else max_len
    if length < minimum or length > limit or (mtype == MessageType.KEEPALIVE and length != HEADER_LEN):
        raise _bad_length(length)
    return length, mtype


class Framer:
    """Accumulates received bytes and cuts complete (type, body) messages: the one framer,
    used by the session's connections and by ``split_messages``.

    ``next_message`` cuts one message at a time, so that a limit changed by the message
    just cut (RFC 8654 §4: Extended Message, negotiated by OPEN and KEEPALIVE) applies to
    the very next message in the buffer; ``feed`` cuts everything complete at once.
    After a FramingError the stream cannot be trusted; the session must send the error as
    NOTIFICATION and close.
    """

    __slots__ = ("_buf", "_pos", "max_len")

    def __init__(self, max_len: int = MAX_MESSAGE_LEN) -> None:
        self._buf = b""
        self._pos = 0
        self.max_len = max_len

    @property
    def pending(self) -> int:
        """Octets received but not yet a complete message."""
        return len(self._buf) - self._pos

    def unread(self) -> bytes:
        """The octets received but not yet cut into a message (a session hand-over carries
        them to the next process, ``restart.handover``)."""
        return self._buf[self._pos:]

    def push(self, data: bytes) -> None:
        """Append received bytes (the ones already cut are dropped first)."""
        if self._pos:
            self._buf = self._buf[self._pos:]
            self._pos = 0
        self._buf = self._buf + data if self._buf else bytes(data)

    def next_message(self) -> tuple[int, bytes] | None:
        """The next complete (type, body), or None. Raises FramingError (RFC 4271 §6.1)."""
        buf, i = self._buf, self._pos
        if len(buf) - i < HEADER_LEN:
            return None
        length = buf[i + 16] << 8 | buf[i + 17]
        mtype = buf[i + 18]
        # UPDATE fast path: only the length needs checking; anything irregular goes
        # through check_header, which raises the exact error.
        if mtype != 2 or not 23 <= length <= self.max_len or buf[i:i + 16] != MARKER:
            length, mtype = check_header(buf[i:i + HEADER_LEN], self.max_len)
        if len(buf) - i < length:
            return None
        self._pos = i + length
        return mtype, buf[i + HEADER_LEN:i + length]

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """``push`` then every complete message."""
        self.push(data)
        out: list[tuple[int, bytes]] = []
        cut = self.next_message
        while (msg := cut()) is not None:
            out.append(msg)
        return out


def split_messages(data: bytes, max_len: int = MAX_MESSAGE_LEN) -> list[tuple[int, bytes]]:
    """All messages in ``data``, which must end on a message boundary."""
    framer = Framer(max_len)
    out = framer.feed(data)
    if framer.pending:
        raise FramingError(NotificationCode.MESSAGE_HEADER_ERROR, HeaderSubcode.BAD_MESSAGE_LENGTH,
                           b"", f"{framer.pending} trailing octets are not a whole message")
    return out
