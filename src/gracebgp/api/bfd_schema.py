"""The API's BFD session model (``GET /v1/bfd``, ``gracebgp bfd``): gracebgp-bfdd's view of
one session, RFC 5880 §6.8.1's variables in operator words (intervals in microseconds)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BfdSession(BaseModel):
    peer: str
    local: str = Field(description="our source address; empty: the kernel's choice")
    multihop: bool = Field(description="RFC 5883 (port 4784) rather than RFC 5881 single hop")
    port: int
    state: str = Field(description="admin-down, down, init or up (RFC 5880 §4.1)")
    remote_state: str
    local_discriminator: int
    remote_discriminator: int
    tx_interval_us: int = Field(description="negotiated: max(our Desired Min TX, their Required Min RX)")
    rx_interval_us: int = Field(description="negotiated: max(our Required Min RX, their Desired Min TX)")
    detect_mult: int
    remote_detect_mult: int
    detection_time_us: int = Field(description="their multiplier x the negotiated RX interval (§6.8.4)")
    local_c: bool = Field(description="our C bit: BFD runs apart from the BGP process")
    remote_c: bool = Field(description="the peer's C bit, as last received")
    uptime: float | None = Field(description="seconds since Up; None when not Up")
    local_diag: str
    remote_diag: str
    flaps: int = Field(description="Up -> Down transitions")
    sent: int
    received: int
    discarded: int
