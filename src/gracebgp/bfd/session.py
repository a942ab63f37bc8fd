"""One BFD session: RFC 5880's state variables, reception, transmission and deadlines, sans-IO.

RFC 5880 §6.8.1 (state variables), §6.8.2-§6.8.4 (timer negotiation, Detection Time),
§6.5 and §6.8.3 (Poll/Final on a parameter change), §6.8.6 (reception, after the checks of
``packet.decode``), §6.8.7 (transmission, jitter, Final as soon as practicable), §6.8.16
(AdminDown). Asynchronous mode only: Demand mode and the Echo function are not implemented,
so we never set D and always advertise a Required Min Echo RX Interval of 0 (§6.8.9).

Time comes in as ``now`` (seconds on the runtime's monotonic clock); the session keeps two
deadlines (next transmission, Detection Time) and the runtime calls ``expire(now)`` at
``next_deadline()``. Randomness (jitter) comes from the injected ``rand``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from gracebgp.bfd.codes import Diag, DiscardReason, SessionState
from gracebgp.bfd.machine import RECEIVED, TABLE, Event
from gracebgp.bfd.packet import ControlPacket, Discard, SimplePassword, encode
from gracebgp.bfd.timing import (
    Random,
    advertised_tx_us,
    detection_time_us,
    jittered_us,
    tx_interval_us,
)

US = 1_000_000


@dataclass(frozen=True, slots=True)
class BfdParams:
    """What is configured for one session (GoBGP's keys, microseconds; RFC 5880 §6.8.1)."""

    desired_min_tx_us: int = 1_000_000
    required_min_rx_us: int = 1_000_000
    detect_mult: int = 3
    passive: bool = False  # §6.1: the Passive role sends nothing until the peer is heard
    control_plane_independent: bool = False  # the C bit (§4.1): True only when fate is not shared
    auth: SimplePassword | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.detect_mult <= 255:
            raise ValueError("detect_mult is 1 to 255 (RFC 5880 §4.1: 8 bits, nonzero)")
        if not 1 <= self.desired_min_tx_us <= 0xFFFFFFFF:
            raise ValueError("desired_min_tx_us is 1 to 2^32-1 µs (RFC 5880 §6.8.1: nonzero)")
        if not 0 <= self.required_min_rx_us <= 0xFFFFFFFF:
            raise ValueError("required_min_rx_us is 0 to 2^32-1 µs")


@dataclass(frozen=True, slots=True)
class SendPacket:
    """Send these octets to the peer now (a periodic packet, a Final, a state change)."""

    data: bytes
    packet: ControlPacket


@dataclass(frozen=True, slots=True)
class StateChanged:
    """bfd.SessionState changed; ``remote_c`` is the peer's last C bit (RFC 5882 §4.3)."""

    old: SessionState
    new: SessionState
    diag: Diag | int
    remote_diag: Diag | int
    remote_c: bool


Output = SendPacket | StateChanged

#: What a hand-over carries (``BfdSession.export``); times are on the monotonic clock.
_CARRIED = ("local_discr", "state", "remote_state", "remote_discr", "local_diag", "remote_diag",
            "remote_min_rx_us", "remote_desired_min_tx_us", "remote_detect_mult", "remote_c",
            "poll_active", "tx_in_use_us", "rx_in_use_us", "next_tx", "detect_at", "up_since",
            "admin_rate_until", "flaps", "sent", "received", "discarded")


class BfdSession:
    """RFC 5880 §6.8.1's variables for one peer, and what changes them."""

    def __init__(self, local_discr: int, params: BfdParams, rand: Random, now: float) -> None:
        if not 0 < local_discr <= 0xFFFFFFFF:
            raise ValueError("bfd.LocalDiscr is a nonzero 32-bit value (RFC 5880 §6.8.1)")
        self.local_discr = local_discr
        self.params = params
        self._rand = rand
        self.state = SessionState.DOWN
        self.remote_state = SessionState.DOWN
        self.remote_discr = 0
        self.local_diag: Diag | int = Diag.NONE
        self.remote_diag: Diag | int = Diag.NONE
        self.remote_min_rx_us = 1  # §6.8.1: initialised to 1
        self.remote_desired_min_tx_us = 0
        self.remote_detect_mult = 0
        self.remote_c = False
        self.poll_active = False
        # The intervals in use, which lag the advertised ones during a Poll Sequence (§6.8.3).
        self.tx_in_use_us = advertised_tx_us(params.desired_min_tx_us, False)
        self.rx_in_use_us = params.required_min_rx_us
        self.next_tx: float | None = None if params.passive else now
        self.detect_at: float | None = None
        self.up_since: float | None = None
        self.admin_rate_until: float | None = None  # AdminDown at the Up rate until then
        self.flaps = 0
        self.sent = 0
        self.received = 0
        self.discarded = 0

    # --- values derived from the variables ------------------------------------------------

    @property
    def advertised_tx_us(self) -> int:
        return advertised_tx_us(self.params.desired_min_tx_us, self.state == SessionState.UP)

    @property
    def tx_interval_us(self) -> int:
        """§6.8.7: the negotiated transmission interval before jitter (0: do not send)."""
        return tx_interval_us(self.tx_in_use_us, self.remote_min_rx_us)

    @property
    def detection_time_us(self) -> int:
        """§6.8.4: how long we wait for the peer's next packet (0 before it was heard)."""
        return detection_time_us(self.remote_detect_mult, self.rx_in_use_us,
                                 self.remote_desired_min_tx_us)

    @property
    def remote_detection_time_us(self) -> int:
        """How long the peer waits for our next packet: our multiplier times max(what it
        asks to receive, what we advertise); a planned AdminDown is announced this long."""
        return self.params.detect_mult * max(self.remote_min_rx_us, self.advertised_tx_us)

    def next_deadline(self) -> float | None:
        times = [t for t in (self.next_tx, self.detect_at) if t is not None]
        return min(times) if times else None

    # --- hand-over between processes (the same host, the same monotonic clock) -----------

    def export(self) -> dict[str, Any]:
        """The variables, so another process can go on with this session unchanged."""
        return {name: int(v) if isinstance(v, IntEnum) else v
                for name in _CARRIED for v in (getattr(self, name),)}

    @classmethod
    def restore(cls, data: dict[str, Any], params: BfdParams, rand: Random) -> BfdSession:
        """The session ``export`` described, with the successor's ``params`` and jitter."""
        s = cls(int(data["local_discr"]), params, rand, 0.0)
        for name in _CARRIED:
            if name in data:
                setattr(s, name, data[name])
        s.state, s.remote_state = SessionState(s.state), SessionState(s.remote_state)
        return s

    # --- inputs ---------------------------------------------------------------------------

    def receive(self, packet: ControlPacket, now: float) -> list[Output] | Discard:
        """RFC 5880 §6.8.6 from the authentication check on (``decode`` made the others)."""
        if self.params.auth is None:
            if packet.auth is not None:
                self.discarded += 1
                return Discard(DiscardReason.AUTH_NOT_EXPECTED)
        else:
            failed = self.params.auth.check(packet.auth)
            if failed is not None:
                self.discarded += 1
                return failed
        self.received += 1
        self.remote_discr = packet.my_discriminator
        self.remote_state = packet.state
        self.remote_diag = packet.diag
        self.remote_min_rx_us = packet.required_min_rx_us
        self.remote_desired_min_tx_us = packet.desired_min_tx_us
        self.remote_detect_mult = packet.detect_mult
        self.remote_c = packet.control_plane_independent
        out: list[Output] = []
        if packet.final and self.poll_active:
            self._end_poll()  # §6.5: the Final ends our Poll Sequence
        if self.state == SessionState.ADMIN_DOWN:
            return out  # §6.8.6: discarded once the remote variables are updated
        self.detect_at = now + self.detection_time_us / US
        self._step(RECEIVED[packet.state], None, now, out)
        if packet.poll:
            out.append(self._send(final=True))  # §6.8.7: Final "as soon as practicable"
        self._rearm_tx(now)
        return out

    def expire(self, now: float) -> list[Output]:
        """Act on every deadline at or before ``now``: the Detection Time, then transmission."""
        out: list[Output] = []
        if self.detect_at is not None and now >= self.detect_at:
            self.detect_at = None
            self.remote_discr = 0  # §6.8.1: cleared when a Detection Time passes unheard
            self._step(Event.DETECTION_TIMEOUT, None, now, out)
        if self.next_tx is not None and now >= self.next_tx:
            self.next_tx = None
            if self._may_send():
                out.append(self._send(poll=self.poll_active))
            self._rearm_tx(now)
        return out

    def set_params(self, params: BfdParams, now: float) -> list[Output]:
        """A configuration change. While Up, a change of either interval starts a Poll
        Sequence and a slower TX or a faster RX takes effect only at its Final (§6.8.3)."""
        old, self.params = self.params, params
        changed = (old.desired_min_tx_us != params.desired_min_tx_us
                   or old.required_min_rx_us != params.required_min_rx_us)
        out: list[Output] = []
        if self.state == SessionState.UP and changed:
            self.tx_in_use_us = min(self.tx_in_use_us, self.advertised_tx_us)
            self.rx_in_use_us = max(self.rx_in_use_us, params.required_min_rx_us)
            self.poll_active = True
            if self._may_send():
                out.append(self._send(poll=True))
        else:
            self._end_poll()
        self._rearm_tx(now)
        return out

    def disable(self, now: float, diag: Diag = Diag.ADMINISTRATIVELY_DOWN) -> list[Output]:
        """§6.8.16: AdminDown with ``diag``; packets keep going out saying so."""
        out: list[Output] = []
        self._step(Event.ADMIN_DISABLE, diag, now, out)
        return out

    def enable(self, now: float) -> list[Output]:
        """§6.8.16: out of AdminDown into Down."""
        out: list[Output] = []
        self._step(Event.ADMIN_ENABLE, None, now, out)
        return out

    # --- internals ------------------------------------------------------------------------

    def _step(self, event: Event, diag: Diag | None, now: float, out: list[Output]) -> None:
        t = TABLE[(self.state, event)]
        if t.diag is not None:
            self.local_diag = diag if diag is not None else t.diag
        if t.next_state == self.state:
            return
        announce_until = now + self.remote_detection_time_us / US  # the peer's, while Up
        old, self.state = self.state, t.next_state
        if old == SessionState.UP and self.state == SessionState.ADMIN_DOWN:
            # §6.8.16: AdminDown "for at least one Detection Time" -- at the rate the peer
            # expects, so a lost packet is followed by another before its Detection Time.
            self.flaps += 1
            self.up_since = None
            self.poll_active = False
            self.admin_rate_until = announce_until
        elif self.state == SessionState.UP:
            self.up_since = now
            if self.advertised_tx_us != self.tx_in_use_us:
                # Up: the one-second floor of §6.8.3 lifts, a parameter change while Up.
                self.tx_in_use_us = min(self.tx_in_use_us, self.advertised_tx_us)
                self.poll_active = True
        else:
            if old == SessionState.UP:
                self.flaps += 1
                self.up_since = None
            self._end_poll()
        if self.state == SessionState.ADMIN_DOWN:
            self.detect_at = None  # §6.8.16: no detection while AdminDown
        out.append(StateChanged(old, self.state, self.local_diag, self.remote_diag,
                                self.remote_c))
        if self._may_send():  # tell the peer at once rather than at the next interval
            out.append(self._send(poll=self.poll_active))
            self.next_tx = None
            self._rearm_tx(now)

    def _end_poll(self) -> None:
        self.poll_active = False
        self.tx_in_use_us = self.advertised_tx_us
        self.rx_in_use_us = self.params.required_min_rx_us

    def _may_send(self) -> bool:
        """§6.8.7: not in the Passive role before the peer's discriminator is known, and not
        periodically when the peer asked for no packets (Required Min RX 0)."""
        if self.params.passive and self.remote_discr == 0:
            return False
        return self.remote_min_rx_us != 0

    def _rearm_tx(self, now: float) -> None:
        if self.admin_rate_until is not None and (now >= self.admin_rate_until
                                                  or self.state != SessionState.ADMIN_DOWN):
            self.admin_rate_until = None
            self._end_poll()  # to the 1 s floor of §6.8.3 (and the configured RX)
        if not self._may_send():
            self.next_tx = None
            return
        delay = jittered_us(self.tx_interval_us, self.params.detect_mult, self._rand) / US
        if self.next_tx is None or now + delay < self.next_tx:
            self.next_tx = now + delay

    def _packet(self, *, poll: bool = False, final: bool = False) -> ControlPacket:
        """§6.8.7: the fields of an outgoing packet from the state variables."""
        return ControlPacket(
            state=self.state,
            diag=self.local_diag,
            my_discriminator=self.local_discr,
            your_discriminator=self.remote_discr,
            detect_mult=self.params.detect_mult,
            desired_min_tx_us=self.advertised_tx_us,
            required_min_rx_us=self.params.required_min_rx_us,
            required_min_echo_rx_us=0,
            poll=poll,
            final=final,
            control_plane_independent=self.params.control_plane_independent,
            auth=None if self.params.auth is None else self.params.auth.section(),
        )

    def _send(self, *, poll: bool = False, final: bool = False) -> SendPacket:
        packet = self._packet(poll=poll and not final, final=final)
        self.sent += 1
        return SendPacket(encode(packet), packet)

