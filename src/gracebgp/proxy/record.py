"""What an operator asks of a proxied session: counts per message type and direction,
timestamps, the last NOTIFICATION each way and the re-homing history (issue 20 item 3).

Pure data: the relay updates it as messages pass, the daemon's API serialises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gracebgp.wire import Notification
from gracebgp.wire.iana import MessageType


def type_name(mtype: int) -> str:
    """"update", "keepalive", ...; the number for a type the codec does not know."""
    try:
        return MessageType(mtype).name.lower().replace("_", "-")
    except ValueError:
        return str(mtype)


@dataclass(slots=True)
class Direction:
    """One direction of one session (VM to control node, or back)."""

    counts: dict[str, int] = field(default_factory=dict)
    octets: int = 0
    last_message: float | None = None
    last_keepalive: float | None = None
    last_notification: str | None = None
    last_notification_at: float | None = None

    def saw(self, mtype: int, size: int, now: float) -> None:
        name = type_name(mtype)
        self.counts[name] = self.counts.get(name, 0) + 1
        self.octets += size
        self.last_message = now
        if mtype == MessageType.KEEPALIVE:
            self.last_keepalive = now

    def notified(self, notification: Notification, now: float) -> None:
        self.last_notification = notification.describe()
        self.last_notification_at = now

    def as_dict(self) -> dict[str, object]:
        return {"counts": dict(self.counts), "octets": self.octets,
                "last_message": self.last_message, "last_keepalive": self.last_keepalive,
                "last_notification": self.last_notification,
                "last_notification_at": self.last_notification_at}


@dataclass(slots=True)
class Rehoming:
    """One attempt to move a session to another control node (issue 20 item 4)."""

    started: float
    from_node: str
    reason: str
    tried: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    to_node: str | None = None
    upstream_up: float | None = None
    finished: float | None = None
    outcome: str = "in progress"
    replayed_updates: int = 0
    withdrawn_from_vm: int = 0
    buffered_updates: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"started": self.started, "from_node": self.from_node, "reason": self.reason,
                "tried": list(self.tried), "failures": list(self.failures), "to_node": self.to_node,
                "upstream_up": self.upstream_up,
                "finished": self.finished, "outcome": self.outcome,
                "replayed_updates": self.replayed_updates, "withdrawn_from_vm": self.withdrawn_from_vm,
                "buffered_updates": self.buffered_updates}
