"""Whether the end of an Established session keeps the peer's routes (helper procedures).

RFC 4724 §4 ("normal BGP procedures ... when the TCP session terminates due to ... a BGP
NOTIFICATION"), §4.2 and §5 (TCP failure, a new connection while Established), RFC 8538
(N bit: NOTIFICATIONs other than Cease / Hard Reset keep routes too), RFC 9494 §4.1-§4.2
(LLGR alone is enough to retain), spec sections 3 and 6.
"""

from __future__ import annotations

from gracebgp.session.negotiate import Negotiated
from gracebgp.wire import Notification


def retain_routes(negotiated: Negotiated, sent: Notification | None, received: Notification | None,
                  *, hold_timer_expired: bool = False) -> bool:
    """True when the peer's routes are to be retained as stale, False when deleted now.

    1. The peer's GR (or GR + LLGR) capability must cover at least one negotiated family
       (RFC 4724 §5: "Graceful Restart Capability with one or more AFIs/SAFIs"; RFC 9494
       §4.2: GR lists no family but LLGR does = the GR period is zero, LLGR still applies).
    2. No NOTIFICATION either way (TCP closed or reset, our ``Stop(None)``, the peer came
       back on a new connection): retain (RFC 4724 §4.2).
    3. Hold timer expiry: retain. We send Hold Timer Expired, but the cause is silence
       and the spec (sections 3 and 6, "crash: TCP reset or silence") makes it a helper
       trigger with or without N. RFC 8538 covers it when N is negotiated; without N the
       letter of RFC 4724 §4 (a NOTIFICATION was sent) would delete: the spec wins here.
    4. Any other NOTIFICATION, sent or received: retain only when N was negotiated both
       ways and it is not Cease / Hard Reset (RFC 8538); otherwise delete (RFC 4724 §4).
    """
    if not negotiated.graceful_families:
        return False
    if sent is None and received is None:
        return True
    if hold_timer_expired:
        return True
    if not negotiated.notification_supported:
        return False
    return not any(n is not None and n.is_hard_reset for n in (sent, received))
