"""Timer values of the session FSM: the OpenSent hold time, the idle-hold back-off, jitter.

RFC 4271 §8.2.2 ("a HoldTimer value of 4 minutes is suggested" after sending OPEN), §10
(jitter: multiply by a random factor in [0.75, 1.0]; timers as deadlines, not threads),
§8.1.1 (IdleHoldTimer and DampPeerOscillations: the method is left to implementations).

Timers are data. The session stores absolute deadlines (``now`` + interval, seconds on
the runtime's monotonic clock) and the runtime calls it back at ``next_deadline()``.
"""

from __future__ import annotations

OPENSENT_HOLD_TIME = 240.0
"""RFC 4271 §8.2.2: the "large value" the HoldTimer gets while we wait for the peer's OPEN."""


def idle_hold_delay(failures: int, base: float, cap: float) -> float:
    """Seconds the automatic restart waits after the ``failures``-th failure in a row.

    ``base * 2**(failures - 1)``, at most ``cap``: with the defaults (1 s, 120 s) the
    sequence is 1, 2, 4, 8, 16, 32, 64, 120, 120, ... The count of failures in a row is
    reset by Start, Stop, a peer restart detected by a new connection (RFC 4724 §5: "sets
    ConnectRetryCounter to zero"), and by a session that stayed Established ``stable_time``
    or longer, so one drop of a long-lived session is retried after ``base`` seconds while
    a flapping one backs off. This is the peer oscillation damping RFC 4271 §8.1.1 leaves
    to the implementation.
    """
    if failures <= 0:
        return 0.0
    return min(base * 2.0 ** min(failures - 1, 62), cap)


class Jitter:
    """RFC 4271 §10 jitter factors in [0.75, 1.0], from a seed: deterministic and replayable.

    ``seed`` None gives 1.0 every time (no jitter: exact timers for tests). Otherwise a
    xorshift32 sequence: not cryptographic, only meant to keep many sessions of one speaker
    from sending keepalives or connecting in lock-step. The runtime picks the seed (and a
    recorder can store it), the session never reads a clock or an entropy source.
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int | None = None) -> None:
        self._state = 0 if seed is None else (seed & 0xFFFFFFFF) or 0x9E3779B9

    def factor(self) -> float:
        x = self._state
        if not x:
            return 1.0
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._state = x
        return 0.75 + 0.25 * (x / 0x100000000)

    def apply(self, seconds: float) -> float:
        return seconds * self.factor()
