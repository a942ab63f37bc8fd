"""What an Established BGP session does when its BFD session goes down, as a decision table.

RFC 9384 (Cease subcode 10 "BFD Down"), RFC 5882 §4.3 (the C bit and graceful restart),
RFC 4724 §4.2 (the receiving speaker keeps the peer's routes as stale), RFC 8538 §5 (which
Cease a peer with N treats as graceful). Pure: the speaker asks ``decide`` and carries out
the answer.

    GR negotiated  peer's C bit  our bfd-graceful   action
    no             any           any                FLUSH: close, delete the peer's routes now
    yes            0             any                GRACEFUL: close, keep them stale (GR helper)
    yes            1             off                FLUSH (RFC 5882 §4.3: its forwarding failed)
    yes            1             on                 GRACEFUL (the operator's override, as BIRD's
                                                    "bfd graceful" treats every BFD Down)

A peer's C bit 0 says its BFD shares fate with its control plane, so BFD Down may be that
control plane restarting, which GR exists to ride out. C bit 1 says BFD runs apart from it,
so BFD Down means the forwarding path really failed and keeping the routes would black-hole
traffic, unless the operator says otherwise.

The NOTIFICATION (it may never arrive on a dead path, but is sent where it still can be):
FLUSH sends Cease/BFD Down, wrapped in Hard Reset for a peer with N so that it deletes our
routes too; GRACEFUL sends Cease/BFD Down unwrapped to a peer with N (RFC 8538: GR applies
on both sides) and nothing to a peer without N (any NOTIFICATION ends GR, RFC 4724 §4).
"""

from __future__ import annotations

from enum import Enum

from gracebgp.restart.shutdown import cease
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode


class BfdDownAction(Enum):
    FLUSH = "flush"
    GRACEFUL = "graceful"


TABLE: dict[tuple[bool, bool, bool], BfdDownAction] = {
    # (GR negotiated, peer's C bit, our bfd-graceful) -> action
    (False, False, False): BfdDownAction.FLUSH,
    (False, False, True): BfdDownAction.FLUSH,
    (False, True, False): BfdDownAction.FLUSH,
    (False, True, True): BfdDownAction.FLUSH,
    (True, False, False): BfdDownAction.GRACEFUL,
    (True, False, True): BfdDownAction.GRACEFUL,
    (True, True, False): BfdDownAction.FLUSH,
    (True, True, True): BfdDownAction.GRACEFUL,
}


def decide(gr_negotiated: bool, peer_c: bool, graceful: bool) -> BfdDownAction:
    """The row of the table above."""
    return TABLE[(gr_negotiated, peer_c, graceful)]


MESSAGE = "BFD Down"


def bfd_down_notification(action: BfdDownAction, notification_supported: bool) -> Notification | None:
    """The NOTIFICATION that goes with ``action`` (RFC 9384 Cease/BFD Down, RFC 8538 §5)."""
    if action is BfdDownAction.FLUSH:
        if notification_supported:
            return cease(CeaseSubcode.BFD_DOWN, MESSAGE, provisional_hard=True)
        return Notification.cease(CeaseSubcode.BFD_DOWN, MESSAGE)
    if notification_supported:
        return cease(CeaseSubcode.BFD_DOWN, MESSAGE)
    return None
