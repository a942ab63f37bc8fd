"""What the speaker counts about each peer for operators: messages sent by type, session
history, graceful-restart episodes (spec/graceful-restart.md section 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

MESSAGE_TYPES = ("other", "open", "update", "notification", "keepalive", "route_refresh")


@dataclass(slots=True)
class PeerStats:
    sent: list[int] = field(default_factory=lambda: [0] * 6)
    established_count: int = 0
    last_error: str = ""
    down_since: float | None = None  # when the session last went down (None: never up)
    stale_since: float | None = None  # when our copy of its routes became stale
    last_stale_duration: float | None = None  # seconds the last stale episode lasted
    gr_events: dict[str, int] = field(default_factory=dict)  # helper episodes by outcome

    last_sent_notification: tuple[int, int] | None = None  # (code, subcode)
    created: float = 0.0  # when the speaker got this peer (start-up or AddPeer)
    tcp_up_at: float | None = None  # the last TCP connection with the peer came up
    connect_error: str = ""  # why our last connect failed ("" since one succeeded)
    # Routes ignored because their NEXT_HOP is ours (core.nexthop, RFC 4271 §6.3 a): in
    # all, since the last log line, and when that line was logged.
    own_next_hop: int = 0
    own_next_hop_unlogged: int = 0
    own_next_hop_logged_at: float | None = None

    def count_sent(self, data: bytes) -> None:
        """Count the BGP messages in ``data`` (whole messages, back to back) by type and
        note a NOTIFICATION's code. RFC 4271 §4.1: octets 16-17 are the length, octet 18
        the type; §4.5: a NOTIFICATION's code and subcode follow the header."""
        counts = self.sent
        i, n = 0, len(data)
        while i + 19 <= n:
            mtype = data[i + 18]
            counts[mtype if mtype < 6 else 0] += 1
            if mtype == 3 and i + 21 <= n:
                self.last_sent_notification = (data[i + 19], data[i + 20])
            length = (data[i + 16] << 8) | data[i + 17]
            if length < 19:
                return
            i += length

    def gr_event(self, what: str) -> None:
        self.gr_events[what] = self.gr_events.get(what, 0) + 1
