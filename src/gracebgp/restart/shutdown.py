"""What goes on the wire when a session is ended on purpose: the RFC 8538 §5 classes of
Cease subcodes (Hard Reset or not), the NOTIFICATION of each stop intent of spec section 6,
and the attribute changes of an RFC 8326 drain.

    intent            N negotiated                         no N
    restart (retain)  Cease/Administrative Reset           close TCP, no NOTIFICATION
    withdraw          Hard Reset wrapping Cease/<subcode>  Cease/<subcode>
    drain             GRACEFUL_SHUTDOWN re-advertised, then withdrawal (session stays up)

The session layer unwraps a Hard Reset for a peer without N (``Session._wire``), so the
"no N" column of a withdraw needs no code here.
"""

from __future__ import annotations

from enum import Enum

from gracebgp.rib.export import with_communities
from gracebgp.wire import Notification
from gracebgp.wire.attrset import AttrSet
from gracebgp.wire.iana import CeaseSubcode, WellKnownCommunity


class CeaseClass(Enum):
    """RFC 8538 §5: how a Cease subcode is sent to a peer that negotiated N."""

    HARD = "hard"  # always wrapped in Hard Reset: the peer deletes our routes
    PROVISIONAL = "provisional"  # wrapped only when configured so; default: GR applies
    NEVER = "never"  # never wrapped (the session never was or cannot be established)


#: RFC 8538 §5 table, spec section 6.
CEASE_CLASSES: dict[int, CeaseClass] = {
    CeaseSubcode.MAX_PREFIXES_REACHED: CeaseClass.HARD,
    CeaseSubcode.ADMINISTRATIVE_SHUTDOWN: CeaseClass.HARD,
    CeaseSubcode.PEER_DECONFIGURED: CeaseClass.HARD,
    CeaseSubcode.HARD_RESET: CeaseClass.HARD,
    CeaseSubcode.ADMINISTRATIVE_RESET: CeaseClass.PROVISIONAL,
    CeaseSubcode.OTHER_CONFIGURATION_CHANGE: CeaseClass.PROVISIONAL,
    CeaseSubcode.OUT_OF_RESOURCES: CeaseClass.PROVISIONAL,
    CeaseSubcode.BFD_DOWN: CeaseClass.PROVISIONAL,
    CeaseSubcode.CONNECTION_REJECTED: CeaseClass.NEVER,
    CeaseSubcode.CONNECTION_COLLISION_RESOLUTION: CeaseClass.NEVER,
}


def cease(subcode: int, message: str = "", *, provisional_hard: bool = False) -> Notification:
    """Cease/``subcode`` as sent to a peer that negotiated N (RFC 8538 §5): wrapped in Hard
    Reset when its class says so. Unknown subcodes are treated as provisional."""
    note = Notification.cease(subcode, message)
    klass = CEASE_CLASSES.get(subcode, CeaseClass.PROVISIONAL)
    if klass is CeaseClass.HARD or (klass is CeaseClass.PROVISIONAL and provisional_hard):
        return note if note.is_hard_reset else note.hard_reset()
    return note


def retain_stop(notification_supported: bool, message: str = "") -> Notification | None:
    """The planned-restart stop (spec section 6, "keep traffic"): Cease/Administrative Reset,
    *not* Hard Reset, where N was negotiated (RFC 8538 §4: the peer runs GR); otherwise no
    NOTIFICATION at all, since any NOTIFICATION without N deletes our routes (RFC 4724 §4)."""
    if not notification_supported:
        return None
    return Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET, message)


def withdraw_stop(message: str = "", subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN) -> Notification:
    """The withdrawing stop: Cease (Admin Shutdown / Peer De-configured), as Hard Reset (the
    session sends the inner Cease to a peer without N)."""
    return cease(subcode, message)


_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)


def llgr_stale_attrs(attrs: AttrSet) -> AttrSet:
    """RFC 9494 §4.2: a stale route that becomes LLGR-stale carries LLGR_STALE."""
    return with_communities(attrs, (_LLGR_STALE,))
