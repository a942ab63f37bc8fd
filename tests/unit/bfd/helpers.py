"""A BFD session under test, driven through its public inputs with a fixed clock."""

from __future__ import annotations

from gracebgp.bfd import BfdParams, BfdSession, ControlPacket, SessionState
from gracebgp.bfd.session import Output, SendPacket, StateChanged

LOCAL, REMOTE = 0x11, 0x22
T0 = 100.0


def half() -> float:
    return 0.5


def session(params: BfdParams | None = None, rand: object = half) -> BfdSession:
    return BfdSession(LOCAL, params or BfdParams(), rand, T0)  # type: ignore[arg-type]


def peer(state: SessionState, **fields: object) -> ControlPacket:
    """A packet from the peer; Your Discriminator is ours once it left Down."""
    your = 0 if state in (SessionState.DOWN, SessionState.ADMIN_DOWN) else LOCAL
    args: dict[str, object] = {"my_discriminator": REMOTE, "your_discriminator": your}
    args.update(fields)
    return ControlPacket(state, **args)  # type: ignore[arg-type]


def feed(s: BfdSession, packet: ControlPacket, now: float = T0) -> list[Output]:
    got = s.receive(packet, now)
    assert isinstance(got, list), got
    return got


def sent(out: list[Output]) -> list[ControlPacket]:
    return [o.packet for o in out if isinstance(o, SendPacket)]


def changes(out: list[Output]) -> list[tuple[SessionState, SessionState]]:
    return [(o.old, o.new) for o in out if isinstance(o, StateChanged)]


def to_state(s: BfdSession, state: SessionState) -> BfdSession:
    """Bring a fresh session into ``state`` the way a real exchange would."""
    if state == SessionState.ADMIN_DOWN:
        s.disable(T0)
    elif state == SessionState.INIT:
        feed(s, peer(SessionState.DOWN))
    elif state == SessionState.UP:
        feed(s, peer(SessionState.INIT))
    assert s.state == state
    return s
