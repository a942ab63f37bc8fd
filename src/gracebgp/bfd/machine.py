r"""The BFD session state machine (RFC 5880 §6.2, §6.8.6, §6.8.4, §6.8.16) as a data table.

``TABLE[(state, event)] -> Transition(next state, diagnostic to set or None)``. Events are
the remote state of a received packet that passed every check, the Detection Time passing
without one, and the operator's enable/disable::

     recv Down                          recv Init / Up: Up
    +---------+   recv Down    +------+ ------------------> +----+
    |  Down   | -------------> | Init |                     | Up | recv Init / Up:
    |         | <------------- |      | <-- recv Down:      |    | stays Up
    +---------+  recv AdminDown+------+     stays Init      +----+
      |  ^  ^      or timeout (diag 3 / 1)                    |
      |  |  +---------------------------------------------------+
      |  |        recv Down / AdminDown (diag 3), timeout (diag 1)
      |  +-- recv Init: straight to Up (skips Init)
      +---- recv AdminDown, recv Up, timeout: stays Down

    any state --disable--> AdminDown (diag 7) --enable--> Down

In AdminDown every received packet is discarded after the remote variables
are updated (§6.8.6), and the Detection Time does not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gracebgp.bfd.codes import Diag, SessionState


class Event(IntEnum):
    """An input of the state machine."""

    RECV_ADMIN_DOWN = 0  # a valid packet with State AdminDown (§6.8.6)
    RECV_DOWN = 1
    RECV_INIT = 2
    RECV_UP = 3
    DETECTION_TIMEOUT = 4  # §6.8.4: Detection Time passed without a valid packet
    ADMIN_DISABLE = 5  # §6.8.16: the operator (or a planned stop) disables the session
    ADMIN_ENABLE = 6  # §6.8.16: re-enabled: back to Down


RECEIVED = {s: Event(int(s)) for s in SessionState}
"""The event of a received packet, by the packet's State field."""


@dataclass(frozen=True, slots=True)
class Transition:
    next_state: SessionState
    diag: Diag | None = None  # set bfd.LocalDiag to this; None leaves it as it is


AD, DN, IN, UP = SessionState.ADMIN_DOWN, SessionState.DOWN, SessionState.INIT, SessionState.UP
E = Event
_STAY_AD = Transition(AD)

TABLE: dict[tuple[SessionState, Event], Transition] = {
    # §6.8.6: "If bfd.SessionState is AdminDown: Discard the packet"; §6.8.4: no detection.
    (AD, E.RECV_ADMIN_DOWN): _STAY_AD,
    (AD, E.RECV_DOWN): _STAY_AD,
    (AD, E.RECV_INIT): _STAY_AD,
    (AD, E.RECV_UP): _STAY_AD,
    (AD, E.DETECTION_TIMEOUT): _STAY_AD,
    (AD, E.ADMIN_DISABLE): _STAY_AD,
    # §6.8.16: when enabled again, bfd.SessionState is set to Down.
    (AD, E.ADMIN_ENABLE): Transition(DN, Diag.NONE),
    # §6.8.6: in Down, a received Down moves to Init and a received Init to Up; a received
    # AdminDown changes nothing ("if bfd.SessionState is not Down"), nor does Up.
    (DN, E.RECV_ADMIN_DOWN): Transition(DN),
    (DN, E.RECV_DOWN): Transition(IN),
    (DN, E.RECV_INIT): Transition(UP, Diag.NONE),
    (DN, E.RECV_UP): Transition(DN),
    # §6.8.1: the Detection Time passing in Down only clears bfd.RemoteDiscr.
    (DN, E.DETECTION_TIMEOUT): Transition(DN),
    (DN, E.ADMIN_DISABLE): Transition(AD, Diag.ADMINISTRATIVELY_DOWN),
    (DN, E.ADMIN_ENABLE): Transition(DN),
    # §6.8.6: in Init, a received Init or Up moves to Up; AdminDown -> Down with diag 3.
    (IN, E.RECV_ADMIN_DOWN): Transition(DN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (IN, E.RECV_DOWN): Transition(IN),
    (IN, E.RECV_INIT): Transition(UP, Diag.NONE),
    (IN, E.RECV_UP): Transition(UP, Diag.NONE),
    # §6.8.4: Init or Up and the Detection Time passes: Down, diag 1.
    (IN, E.DETECTION_TIMEOUT): Transition(DN, Diag.CONTROL_DETECTION_TIME_EXPIRED),
    (IN, E.ADMIN_DISABLE): Transition(AD, Diag.ADMINISTRATIVELY_DOWN),
    (IN, E.ADMIN_ENABLE): Transition(IN),
    # §6.8.6: in Up, a received Down or AdminDown -> Down with diag 3.
    (UP, E.RECV_ADMIN_DOWN): Transition(DN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (UP, E.RECV_DOWN): Transition(DN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (UP, E.RECV_INIT): Transition(UP),
    (UP, E.RECV_UP): Transition(UP),
    (UP, E.DETECTION_TIMEOUT): Transition(DN, Diag.CONTROL_DETECTION_TIME_EXPIRED),
    (UP, E.ADMIN_DISABLE): Transition(AD, Diag.ADMINISTRATIVELY_DOWN),
    (UP, E.ADMIN_ENABLE): Transition(UP),
}
