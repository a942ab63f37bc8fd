"""The maintenance drain (RFC 8326, spec section 6), on the in-memory network of
``grnet``."""

from __future__ import annotations

from gracebgp.core import commands as cmd
from gracebgp.session.state import State

from .grnet import A_V4, A_V6, B_V4, GSHUT, V6, A, B, E, Net, learned, neg, neighbor, pair, routes, speaker


def test_rfc8326_drain_readvertises_with_graceful_shutdown_then_withdraws_after_the_delay() -> None:
    net, a, b = pair()
    since = net.mark()
    reply = net.command(A, cmd.Drain(delay=30))
    assert reply.status == 200 and reply.result == {"phase": "gshut", "changed": 4}
    got = learned(b)
    assert set(got) == set(A_V4)
    assert all(GSHUT in p.attrs.communities and p.local_pref == 0 for p in got.values())  # RFC 8326 §4
    assert all(p.gshut for p in learned(b, V6).values())
    updates = [m for m in net.messages(A, B, since) if m.kind == "update"]
    assert {p for m in updates for p in m.announced} == set(A_V4) | set(A_V6)
    assert all(GSHUT in m.communities for m in updates)
    net.advance(29)
    assert set(learned(b)) == set(A_V4)
    net.advance(1)
    assert learned(b) == {} and learned(b, V6) == {}
    assert a.peers[B].session.state == State.ESTABLISHED  # the session stays up
    assert set(learned(a)) == set(B_V4)  # and A still uses B's routes
    drain = [e["event"] for e in net.events(A) if e["event"].startswith("drain")]
    assert drain == ["drain-gshut", "drain-withdrawn"]


def test_rfc8326_drain_cancel_restores_plain_advertisements() -> None:
    net, _a, b = pair()
    net.command(A, cmd.Drain(delay=30))
    reply = net.command(A, cmd.Drain(cancel=True))
    assert reply.status == 200 and reply.result == {"phase": None, "changed": 4}
    assert set(learned(b)) == set(A_V4)
    assert not any(p.gshut for p in learned(b).values())
    net.advance(40)  # the cancelled withdrawal never happens
    assert set(learned(b)) == set(A_V4) and not any(p.gshut for p in learned(b).values())


def test_rfc8326_drain_cancel_after_withdrawal_readvertises() -> None:
    net, _a, b = pair()
    net.command(A, cmd.Drain(delay=0))
    assert learned(b) == {}
    net.command(A, cmd.Drain(cancel=True))
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)
    assert not any(p.gshut for p in learned(b).values())


def test_rfc8326_drain_to_ibgp_sets_local_pref_0() -> None:
    net = Net()
    a = net.add(A, speaker(A, neighbor(A, E), originate=routes(A_V4, A_V6)))
    e = net.add(E, speaker(E, neighbor(E, A)))
    net.run()
    assert neg(a, E).ibgp
    assert all(p.attrs.local_pref == 100 for p in learned(e).values())
    net.command(A, cmd.Drain(delay=30))
    got = learned(e)
    assert set(got) == set(A_V4)
    assert all(p.attrs.local_pref == 0 and GSHUT in p.attrs.communities for p in got.values())


def test_spec6_drain_is_refused_or_ignored_sensibly() -> None:
    net, _a, _b = pair()
    assert net.command(A, cmd.Drain(cancel=True)).result == {"phase": None, "changed": 0}
    assert net.command(A, cmd.Drain(delay=-1)).status == 400
    assert net.command(A, cmd.Drain(delay=10)).status == 200
    assert net.command(A, cmd.Drain(delay=10)).result == {"phase": "gshut", "changed": 0}
