"""One TCP connection of a session: its FSM sub-state, timers, and message framing.

RFC 4271 §4.1 and §6.1 (header checks and framing: ``gracebgp.wire.framing.Framer``), §8
("one FSM per connection" while collisions are resolved), RFC 8654 §4 (the receive limit grows to 65535
octets only once Extended Message is negotiated; OPEN and KEEPALIVE stay within 4096).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.wire import DEFAULT_CONTEXT, CodecContext, Open
from gracebgp.wire.framing import Framer
from gracebgp.wire.iana import MAX_MESSAGE_LEN


@dataclass(slots=True, eq=False)
class Connection:
    """Mutable, owned by one ``Session``; never leaves it.

    ``outgoing`` tells who initiated it (RFC 4271 §6.8 keeps the connection initiated by
    the higher identifier). ``framer`` cuts the received bytes one message at a time, so
    that the limits and codec context that an OPEN or KEEPALIVE changes apply to the very
    next message in the buffer.
    """

    id: int
    outgoing: bool
    state: State
    hold_at: float | None = None
    keepalive_at: float | None = None
    local_open: Open | None = None
    negotiated: Negotiated | None = None
    rx_context: CodecContext = DEFAULT_CONTEXT
    max_tx: int = MAX_MESSAGE_LEN
    framer: Framer = field(default_factory=Framer)

    def use(self, negotiated: Negotiated) -> None:
        """Switch to the negotiated codec context and message limits (both OPENs known)."""
        self.negotiated = negotiated
        self.rx_context = negotiated.rx_context()
        self.framer.max_len = self.rx_context.max_message_len
        self.max_tx = negotiated.tx_context().max_message_len
