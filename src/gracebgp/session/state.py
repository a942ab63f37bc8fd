"""The vocabulary of the session FSM: its states and the events its two tables are keyed by.

RFC 4271 §8.1 (events, numbered as there where one exists), §8.2.2 (states); RFC 4273
(bgpPeerState numbering 1..6, also GoBGP's); RFC 6608 (FSM error subcodes per state).
"""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """RFC 4271 §8.2.2 states, numbered as RFC 4273 bgpPeerState (and GoBGP) number them."""

    IDLE = 1
    CONNECT = 2
    ACTIVE = 3
    OPENSENT = 4
    OPENCONFIRM = 5
    ESTABLISHED = 6


CONNECTION_STATES = (State.CONNECT, State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED)
"""The states one TCP connection can be in. An accepted connection starts in OpenSent (we
send our OPEN at once, there is no DelayOpen); an outgoing one in Connect."""


class PeerEvent(IntEnum):
    """Events addressed to the peer as a whole, looked up with the peer's state.

    Values are the RFC 4271 §8.1 event numbers.
    """

    MANUAL_START = 1  # Start(passive=False)
    MANUAL_STOP = 2  # Stop(...)
    MANUAL_START_PASSIVE = 4  # Start(passive=True): ManualStart_with_PassiveTcpEstablishment
    CONNECT_RETRY_EXPIRES = 9  # ConnectRetryTimer_Expires
    IDLE_HOLD_EXPIRES = 13  # IdleHoldTimer_Expires: the automatic restart after a failure
    TCP_ACCEPTED = 17  # TcpConnectionConfirmed: the peer connected to us


class ConnEvent(IntEnum):
    """Events addressed to one TCP connection, looked up with that connection's state.

    Values are the RFC 4271 §8.1 event numbers; ROUTE_REFRESH (RFC 2918) and the message
    error that is not about an OPEN (RFC 4271 §6.1, §6.3-§6.4, RFC 7313 §5) have none, so
    they get numbers above the RFC's range.
    """

    HOLD_TIMER_EXPIRES = 10
    KEEPALIVE_TIMER_EXPIRES = 11
    TCP_CONNECTED = 16  # Tcp_CR_Acked: our outgoing connection succeeded
    TCP_FAILED = 18  # TcpConnectionFails: failed, reset or closed by the peer
    OPEN = 19  # BGPOpen: a valid OPEN (it passed check_open)
    MESSAGE_ERROR = 21  # BGPHeaderErr and any other CodecError from the codec
    OPEN_ERROR = 22  # BGPOpenMsgErr: decoded, but check_open rejected it
    COLLISION_DUMP = 23  # OpenCollisionDump: this connection lost RFC 4271 §6.8
    NOTIFICATION = 25  # NotifMsg (and NotifMsgVerErr, 24: handled the same way)
    KEEPALIVE = 26  # KeepAliveMsg
    UPDATE = 27  # UpdateMsg: ACCEPT, ATTRIBUTE_DISCARD or TREAT_AS_WITHDRAW (RFC 7606)
    UPDATE_ERROR = 28  # UpdateMsgErr: the RFC 7606 outcome is SESSION_RESET
    ROUTE_REFRESH = 100  # RFC 2918 / RFC 7313 ROUTE-REFRESH


MESSAGE_TYPE_OF = {
    ConnEvent.OPEN: 1,
    ConnEvent.OPEN_ERROR: 1,
    ConnEvent.UPDATE: 2,
    ConnEvent.UPDATE_ERROR: 2,
    ConnEvent.KEEPALIVE: 4,
    ConnEvent.ROUTE_REFRESH: 5,
}
"""The BGP message type behind a message event: the Data of an RFC 6608 FSM error."""
