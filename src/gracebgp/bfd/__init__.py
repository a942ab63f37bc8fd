"""BFD (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883 multihop), sans-IO.

``codes`` (wire codes), ``packet`` (the Control packet codec and its discard reasons),
``machine`` (the §6.8.6 state table), ``timing`` (interval negotiation, jitter),
``session`` (one session's state variables, Poll/Final, its deadlines) and ``grdecision``
(what a BGP session does when its BFD goes down). No I/O here: the runtime (gracebgp.bfdd)
owns the sockets and the clock.
"""

from gracebgp.bfd.codes import (
    MULTIHOP_PORT,
    SINGLE_HOP_PORT,
    SINGLE_HOP_TTL,
    AuthType,
    Diag,
    DiscardReason,
    SessionState,
)
from gracebgp.bfd.machine import TABLE, Event
from gracebgp.bfd.packet import ControlPacket, Discard, decode, encode
from gracebgp.bfd.session import BfdParams, BfdSession, SendPacket, StateChanged

__all__ = [
    "MULTIHOP_PORT",
    "SINGLE_HOP_PORT",
    "SINGLE_HOP_TTL",
    "TABLE",
    "AuthType",
    "BfdParams",
    "BfdSession",
    "ControlPacket",
    "Diag",
    "Discard",
    "DiscardReason",
    "Event",
    "SendPacket",
    "SessionState",
    "StateChanged",
    "decode",
    "encode",
]
