"""Connection collisions (RFC 4271 §6.8, RFC 6286 §2.3): both outcomes, every place.

The survivor is always the connection initiated by the speaker with the higher BGP
Identifier; the loser gets Cease / Connection Collision Resolution (6/7).
"""

from __future__ import annotations

import pytest

from gracebgp.session import BytesReceived, SendBytes, Start, State, TcpAccepted, TcpConnected
from gracebgp.session.collision import keep_outgoing

from .helpers import KEEPALIVE_MSG, Probe, SessionPair, config, peer_config, peer_open, summary


@pytest.mark.parametrize(("local", "remote", "local_as", "remote_as", "outgoing"), [
    ("10.0.0.1", "10.0.0.2", 65001, 65002, False),  # peer is higher: keep its connection
    ("10.0.0.9", "10.0.0.2", 65001, 65002, True),  # we are higher: keep ours
    ("9.255.255.255", "10.0.0.0", 1, 1, False),  # compared as 4-octet unsigned integers
    ("200.0.0.1", "10.0.0.0", 1, 1, True),
    ("10.0.0.1", "10.0.0.1", 65005, 65002, True),  # RFC 6286 §2.3: equal ids, larger AS wins
    ("10.0.0.1", "10.0.0.1", 65001, 65002, False),
])
def test_keep_outgoing(local: str, remote: str, local_as: int, remote_as: int, outgoing: bool) -> None:
    assert keep_outgoing(local, local_as, remote, remote_as) is outgoing


@pytest.mark.parametrize(("a_id", "a_keeps_outgoing"), [("10.0.0.1", False), ("10.0.0.9", True)])
def test_simultaneous_open_both_sides_agree(a_id: str, a_keeps_outgoing: bool) -> None:
    """Both speakers connect at once: each resolves the collision at the first OPEN and both
    keep the same TCP connection, the one initiated by the higher identifier."""
    pair = SessionPair(config(router_id=a_id), peer_config())
    pair.establish(a_passive=False, b_passive=False)
    (a_conn, a_state), = pair.a.session.connections.items()
    (b_conn, b_state), = pair.b.session.connections.items()
    assert a_state is b_state is State.ESTABLISHED
    assert pair.peer_of[("a", a_conn)][1] == b_conn  # the same TCP connection on both ends
    assert pair.a.session.machine.conns[a_conn].outgoing is a_keeps_outgoing
    assert pair.b.session.machine.conns[b_conn].outgoing is not a_keeps_outgoing
    loser_side = pair.b if a_keeps_outgoing else pair.a
    assert any(s.startswith("NOTIFICATION 6/7@") for s in summary(loser_side.outputs))


def _two_connections() -> Probe:
    """Our connection 1 in OpenConfirm, the peer's connection 99 in OpenSent."""
    p = Probe(config()).to_openconfirm()
    assert summary(p(TcpAccepted(99))) == ["OPEN@99"]
    assert p.session.connections == {1: State.OPENCONFIRM, 99: State.OPENSENT}
    return p


def test_openconfirm_connection_loses_to_the_higher_peer() -> None:
    """RFC 4271 §6.8 step 2: local id lower: close the existing OpenConfirm connection and
    accept the one the remote initiated."""
    p = _two_connections()
    out = p(BytesReceived(99, peer_open().encode()))
    assert summary(out) == ["NOTIFICATION 6/7@1", "close@1", "KEEPALIVE@99"]
    assert p.session.connections == {99: State.OPENCONFIRM}
    assert summary(p(BytesReceived(99, KEEPALIVE_MSG))) == ["state ESTABLISHED", "established"]


def test_new_connection_loses_to_the_lower_peer() -> None:
    """RFC 4271 §6.8 step 3: local id higher: close the new connection, keep ours."""
    p = Probe(config(router_id="10.0.0.9")).to_openconfirm()
    p(TcpAccepted(99))
    out = p(BytesReceived(99, peer_open().encode()))
    assert summary(out) == ["NOTIFICATION 6/7@99", "close@99"]
    assert p.session.connections == {1: State.OPENCONFIRM}
    assert summary(p(BytesReceived(1, KEEPALIVE_MSG))) == ["state ESTABLISHED", "established"]


def test_collision_with_a_connection_still_in_opensent() -> None:
    """RFC 4271 §6.8 "MAY also examine connections in an OpenSent state if it knows the BGP
    Identifier": both belong to one configured peer, so the first OPEN decides."""
    p = Probe(config()).to_opensent()
    p(TcpAccepted(99))
    out = p(BytesReceived(1, peer_open().encode()))  # OPEN on our own connection first
    assert summary(out) == ["NOTIFICATION 6/7@1", "close@1"]  # the peer's connection wins
    assert p.session.connections == {99: State.OPENSENT}


def test_established_closes_a_later_connection() -> None:
    """RFC 4271 §6.8: "a connection collision with an existing BGP connection that is in the
    Established state causes closing of the newly created connection"; a connect attempt
    still pending is just cancelled."""
    p = Probe(config())
    p(Start())  # connection 1 pending
    p(TcpAccepted(99))
    p(BytesReceived(99, peer_open().encode()))
    p(TcpConnected(1))  # ours connects late: OPEN goes out on it
    assert p.session.connections == {1: State.OPENSENT, 99: State.OPENCONFIRM}
    out = p(BytesReceived(99, KEEPALIVE_MSG))
    assert summary(out) == ["NOTIFICATION 6/7@1", "close@1", "state ESTABLISHED", "established"]

    q = Probe(config())
    q(Start())
    q(TcpAccepted(99))
    out = q(BytesReceived(99, peer_open().encode() + KEEPALIVE_MSG))
    assert summary(out) == ["KEEPALIVE@99", "state OPENCONFIRM", "close@1", "state ESTABLISHED",
                            "established"]


def test_the_peers_newest_connection_supersedes_its_older_one() -> None:
    """Two connections from the peer before either is Established: the older is abandoned
    by the peer (one attempt at a time), so it is closed without NOTIFICATION."""
    p = Probe(config(passive=True))
    p(Start())
    p(TcpAccepted(98))
    assert summary(p(TcpAccepted(99))) == ["close@98", "OPEN@99"]
    assert p.session.connections == {99: State.OPENSENT}


def test_each_connection_gets_its_own_open() -> None:
    p = Probe(config()).to_opensent()
    out = p(TcpAccepted(99))
    assert [o.conn for o in out if isinstance(o, SendBytes)] == [99]
