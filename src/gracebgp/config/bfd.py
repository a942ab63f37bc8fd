"""``[neighbors.bfd]`` / ``[peer-groups.bfd]``: BFD for a neighbor, GoBGP 4.x's keys plus gracebgp's.

GoBGP's ``[neighbors.bfd.config]``: ``enabled``, ``desired-minimum-tx-interval`` and
``required-minimum-receive`` (microseconds, default 1 s each), ``detection-multiplier``
(default 3), ``port`` (the peer's destination port). gracebgp's ``[neighbors.bfd.gracebgp]``:
``multihop`` (RFC 5883 instead of RFC 5881), ``graceful`` (a BFD Down of a peer with GR
negotiated keeps its routes even when its C bit says its forwarding failed, like BIRD's
``bfd graceful``; restart.bfd_down has the table) and ``wait-for-up`` (no BGP session while
BFD is not Up).
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from gracebgp.bfd.codes import MULTIHOP_PORT, SINGLE_HOP_PORT
from gracebgp.bfd.session import BfdParams
from gracebgp.config.fields import Frozen

#: The shortest interval accepted: 50 ms, what tests/integration/test_bfdd.py runs (two
#: gracebgp-bfdd on loopback at 50 ms x 3: Up, and a silent peer detected within its
#: 150 ms Detection Time). Shorter intervals were never measured here: a Python event
#: loop on a shared core can be late by tens of milliseconds, so they are refused.
MIN_INTERVAL_US = 50_000
MAX_INTERVAL_US = 0xFFFFFFFF


class Bfd(Frozen):
    """One neighbor's BFD (RFC 5880 asynchronous mode)."""

    enabled: bool = False
    #: RFC 5880 §6.8.1 bfd.DesiredMinTxInterval (µs); while not Up at least 1 s (§6.8.3).
    desired_minimum_tx_interval: int = Field(default=1_000_000, ge=MIN_INTERVAL_US, le=MAX_INTERVAL_US)
    #: bfd.RequiredMinRxInterval (µs).
    required_minimum_receive: int = Field(default=1_000_000, ge=MIN_INTERVAL_US, le=MAX_INTERVAL_US)
    #: bfd.DetectMult.
    detection_multiplier: int = Field(default=3, ge=1, le=255)
    #: The peer's destination UDP port; None: 3784 single hop (RFC 5881 §4), 4784 multihop
    #: (RFC 5883 §5).
    port: int | None = Field(default=None, ge=1, le=0xFFFF)
    #: ``[neighbors.bfd.gracebgp] multihop``: RFC 5883 (port 4784, no TTL 255 check).
    multihop: bool = False
    #: ``[neighbors.bfd.gracebgp] graceful``: BFD Down with GR negotiated always keeps the
    #: peer's routes (restart.bfd_down).
    graceful: bool = False
    #: ``[neighbors.bfd.gracebgp] wait-for-up``: the BGP session starts (connects, accepts)
    #: only while BFD is Up, and stops when BFD goes down (core.bfd). Default: BGP comes up
    #: whether BFD is up or not.
    wait_for_up: bool = False

    @field_validator("multihop", "graceful", "wait_for_up")
    @classmethod
    def _effective(cls, value: bool, info: ValidationInfo) -> bool:
        """gracebgp's keys act on a BFD session only: without ``enabled`` they are refused."""
        if value and not info.data.get("enabled"):
            raise ValueError("has no effect while [bfd.config] enabled is false: enable BFD or remove it")
        return value

    @property
    def destination_port(self) -> int:
        if self.port is not None:
            return self.port
        return MULTIHOP_PORT if self.multihop else SINGLE_HOP_PORT

    def params(self, control_plane_independent: bool) -> BfdParams:
        """The session parameters gracebgp-bfdd runs (``control_plane_independent``: the C
        bit, true only when BFD runs apart from gracebgpd)."""
        return BfdParams(
            desired_min_tx_us=self.desired_minimum_tx_interval,
            required_min_rx_us=self.required_minimum_receive,
            detect_mult=self.detection_multiplier,
            control_plane_independent=control_plane_independent,
        )
