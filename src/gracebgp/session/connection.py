"""One TCP connection of a session: its FSM sub-state, timers, and message framing.

RFC 4271 §4.1 and §6.1 (header checks, via ``gracebgp.wire.framing``), §8 ("one FSM per
connection" while collisions are resolved), RFC 8654 §4 (the receive limit grows to 65535
octets only once Extended Message is negotiated; OPEN and KEEPALIVE stay within 4096).
"""

from __future__ import annotations

from dataclasses import dataclass

from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.wire import DEFAULT_CONTEXT, CodecContext, Open
from gracebgp.wire.framing import check_header
from gracebgp.wire.iana import HEADER_LEN, MARKER, MAX_MESSAGE_LEN


@dataclass(slots=True, eq=False)
class Connection:
    """Mutable, owned by one ``Session``; never leaves it.

    ``outgoing`` tells who initiated it (RFC 4271 §6.8 keeps the connection initiated by
    the higher identifier). Messages are cut one at a time, so that the limits and codec
    context that an OPEN or KEEPALIVE changes apply to the very next message in the buffer.
    """

    id: int
    outgoing: bool
    state: State
    hold_at: float | None = None
    keepalive_at: float | None = None
    local_open: Open | None = None
    negotiated: Negotiated | None = None
    rx_context: CodecContext = DEFAULT_CONTEXT
    max_rx: int = MAX_MESSAGE_LEN
    max_tx: int = MAX_MESSAGE_LEN
    _buf: bytes = b""
    _pos: int = 0

    def use(self, negotiated: Negotiated) -> None:
        """Switch to the negotiated codec context and message limits (both OPENs known)."""
        self.negotiated = negotiated
        self.rx_context = negotiated.rx_context()
        self.max_rx = self.rx_context.max_message_len
        self.max_tx = negotiated.tx_context().max_message_len

    def feed(self, data: bytes) -> None:
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
        # UPDATE fast path (as wire.Framer): only the length needs checking; anything
        # irregular goes through check_header, which raises the exact error.
        if mtype != 2 or not 23 <= length <= self.max_rx or buf[i:i + 16] != MARKER:
            length, mtype = check_header(buf[i:i + HEADER_LEN], self.max_rx)
        if len(buf) - i < length:
            return None
        self._pos = i + length
        return mtype, buf[i + HEADER_LEN:i + length]
