"""What happens to our kernel routes when gracebgpd stops, per way of stopping.

Spec section 6 and section 7; RFC 4724 §4 (a restart keeps forwarding). The order of
``stop --withdraw`` is: withdraw from the peers, wait until the withdrawals have left the
sockets, then delete our kernel routes. The other order loses more: with our routes gone
first, the peers still send us the traffic of the prefixes they have not yet withdrawn
and it meets no route here (or the default route: a loop or a black hole), while
withdrawing first lets the peers move the traffic to another path while we still forward
whatever they send until they have.

    how it stops                           BGP                          kernel routes
    -------------------------------------  ---------------------------  -----------------
    gracebgp restart                       GR: sessions closed, kept    kept
    gracebgp stop --retain, SIGTERM        GR: sessions closed, kept    kept
      with sigterm = retain
    crash, SIGKILL                         nothing sent (helper keeps)  kept (no code runs)
    gracebgp stop --withdraw, SIGINT,      withdrawn (Cease / Hard      deleted, after the
      SIGTERM with sigterm = withdraw      Reset)                       withdrawals left
    FIB retention off (fib-retain false)   as asked                     deleted at any stop
"""

from __future__ import annotations

from enum import IntEnum


class Step(IntEnum):
    """One step of a stop, in the order they run."""

    CLOSE_SESSIONS_GR = 1  # Cease/Administrative Reset with N, or TCP close: the peers keep our routes
    WITHDRAW_FROM_PEERS = 2  # Cease (Hard Reset with N): the peers delete our routes
    WAIT_WITHDRAWALS_SENT = 3  # the send queues are empty
    DELETE_KERNEL_ROUTES = 4  # every route of our protocol, table and metric
    KEEP_KERNEL_ROUTES = 5  # forwarding goes on; the next start adopts them


def stop_steps(withdraw: bool, retain_fib: bool = True) -> tuple[Step, ...]:
    """The steps of a stop: ``withdraw`` (``stop --withdraw``) or not (a restart,
    ``stop --retain``); ``retain_fib`` false deletes our routes at every stop."""
    if withdraw:
        return (Step.WITHDRAW_FROM_PEERS, Step.WAIT_WITHDRAWALS_SENT, Step.DELETE_KERNEL_ROUTES)
    if not retain_fib:
        return (Step.CLOSE_SESSIONS_GR, Step.WAIT_WITHDRAWALS_SENT, Step.DELETE_KERNEL_ROUTES)
    return (Step.CLOSE_SESSIONS_GR, Step.KEEP_KERNEL_ROUTES)
