"""Per-peer BGP sessions (layer L2, sans-IO): our OPEN and the peer's, the RFC 4271 §8 FSM.

Start with ``Session`` (``fsm``; its transition tables in ``transitions``, the state they
change in ``machine``), its inputs and outputs (``events``), ``SessionConfig``
(``config``) and ``Negotiated`` (``negotiate``). RFC sections are cited in each module.
"""

from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.events import (
    BytesReceived,
    CloseConnection,
    Connect,
    Established,
    Input,
    NotificationReceived,
    Output,
    RouteRefreshReceived,
    SendBytes,
    SessionDown,
    Start,
    StateChanged,
    Stop,
    TcpAccepted,
    TcpClosed,
    TcpConnected,
    TcpFailed,
    TimerFired,
    UpdateReceived,
)
from gracebgp.session.fsm import NotEstablishedError, Session
from gracebgp.session.negotiate import (
    GrCapability,
    LlgrCapability,
    Negotiated,
    build_open,
    check_open,
    negotiate,
)
from gracebgp.session.retention import retain_routes
from gracebgp.session.state import ConnEvent, PeerEvent, State
from gracebgp.session.transitions import CONN_TABLE, PEER_TABLE

__all__ = [
    "CONN_TABLE",
    "PEER_TABLE",
    "BytesReceived",
    "CloseConnection",
    "ConnEvent",
    "Connect",
    "Established",
    "GrCapability",
    "GrConfig",
    "Input",
    "LlgrCapability",
    "Negotiated",
    "NotEstablishedError",
    "NotificationReceived",
    "Output",
    "PeerEvent",
    "RouteRefreshReceived",
    "SendBytes",
    "Session",
    "SessionConfig",
    "SessionDown",
    "Start",
    "State",
    "StateChanged",
    "Stop",
    "TcpAccepted",
    "TcpClosed",
    "TcpConnected",
    "TcpFailed",
    "TimerFired",
    "UpdateReceived",
    "build_open",
    "check_open",
    "negotiate",
    "retain_routes",
]
