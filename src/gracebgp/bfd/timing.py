"""BFD interval negotiation and jitter (RFC 5880 §6.8.2, §6.8.3, §6.8.4, §6.8.7), pure.

All intervals are microseconds, as on the wire. "The slower of both sides" is the rule of
each direction: we send no faster than the peer can receive, and we declare the peer dead
only after it had the chance to send ``its multiplier`` packets at the slower of its own
rate and what we asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from gracebgp.bfd.codes import SLOW_TX_US

Random = Callable[[], float]
"""A source of floats in [0, 1): injected, so tests pin the jitter and the core stays pure."""


def tx_interval_us(desired_min_tx_us: int, remote_min_rx_us: int) -> int:
    """RFC 5880 §6.8.2 / §6.8.7: send every max(our Desired Min TX, their Required Min RX).

    0 means "do not send periodically": the peer's Required Min RX Interval is 0, it does
    not want our packets (§6.8.7).
    """
    if remote_min_rx_us == 0:
        return 0
    return max(desired_min_tx_us, remote_min_rx_us)


def detection_time_us(remote_detect_mult: int, required_min_rx_us: int,
                      remote_desired_min_tx_us: int) -> int:
    """RFC 5880 §6.8.4 (asynchronous mode): the peer's Detect Mult times the negotiated
    interval at which it sends, max(our Required Min RX, its last Desired Min TX)."""
    return remote_detect_mult * max(required_min_rx_us, remote_desired_min_tx_us)


def advertised_tx_us(configured_us: int, up: bool) -> int:
    """RFC 5880 §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second."""
    return configured_us if up else max(configured_us, SLOW_TX_US)


def jittered_us(interval_us: int, detect_mult: int, rand: Random) -> int:
    """RFC 5880 §6.8.7: each interval reduced by a random 0-25%, so it is 75-100% of the
    negotiated one; with bfd.DetectMult 1, no more than 90% (75-90%)."""
    r = min(max(rand(), 0.0), 1.0)
    top = 0.90 if detect_mult == 1 else 1.0
    return int(interval_us * (0.75 + (top - 0.75) * r))
