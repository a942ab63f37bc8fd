"""When a session ends, are the peer's routes retained (SessionDown.graceful)?

RFC 4724 §4 and §4.2 (TCP failure keeps, NOTIFICATION deletes), §5 (a new connection while
Established), RFC 8538 (N bit; Cease / Hard Reset always deletes), RFC 9494 §4.1-§4.2
(LLGR-only), spec sections 3 and 6.
"""

from __future__ import annotations

import pytest

from gracebgp.session import (
    BytesReceived,
    CloseConnection,
    GrConfig,
    Negotiated,
    Output,
    Session,
    SessionDown,
    Start,
    State,
    Stop,
    TcpAccepted,
    TcpClosed,
    TcpFailed,
    build_open,
    negotiate,
    retain_routes,
)
from gracebgp.wire import (
    Capability,
    FourOctetAs,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    Notification,
    Open,
)

from .helpers import (
    GR,
    KEEPALIVE_MSG,
    Probe,
    SessionPair,
    Side,
    config,
    peer_config,
    peer_open,
    sent_notifications,
    summary,
    with_gr,
)

BASIC: tuple[Capability, ...] = (Multiprotocol(1, 1), Multiprotocol(2, 1), FourOctetAs(65002))
PEER_GR = GracefulRestart(0, 120, ((1, 1, 0x80), (2, 1, 0x80)))  # no N
PEER_GR_N = GracefulRestart(0x4, 120, ((1, 1, 0x80), (2, 1, 0x80)))
CEASE_RESET = Notification.cease(4)  # Administrative Reset
HARD = Notification.cease(2).hard_reset()


def gr_peer(*extra: Capability) -> Open:
    return peer_open(caps=BASIC + extra)


def down(outputs: list[Output]) -> SessionDown:
    (d,) = [o for o in outputs if isinstance(o, SessionDown)]
    return d


# --- the rules, one by one -----------------------------------------------------------------

def _neg(their: Open, gr: GrConfig | None = GR) -> Negotiated:
    cfg = config(graceful_restart=gr)
    return negotiate(cfg, build_open(cfg), their)


@pytest.mark.parametrize(("peer", "sent", "received", "hold", "keep", "why"), [
    (PEER_GR, None, None, False, True, "RFC 4724 §4.2: TCP closed or reset"),
    (PEER_GR, Notification(4, 0), None, True, True, "hold timer: silence (spec section 3)"),
    (PEER_GR, None, CEASE_RESET, False, False, "RFC 4724 §4: NOTIFICATION without N"),
    (PEER_GR, CEASE_RESET, None, False, False, "RFC 4724 §4: also when we send it"),
    (PEER_GR_N, None, CEASE_RESET, False, True, "RFC 8538: N both ways, not Hard Reset"),
    (PEER_GR_N, Notification(3, 1), None, False, True, "RFC 8538: any code, e.g. UPDATE error"),
    (PEER_GR_N, None, HARD, False, False, "RFC 8538: Hard Reset received"),
    (PEER_GR_N, HARD, None, False, False, "RFC 8538: Hard Reset sent"),
    (None, None, None, False, False, "no GR capability from the peer"),
    (GracefulRestart(0, 120, ()), None, None, False, False, "GR without families: helper only"),
    (GracefulRestart(0, 120, ((1, 128, 0),)), None, None, False, False, "GR only for unnegotiated"),
])
def test_retain_routes(peer: GracefulRestart | None, sent: Notification | None,
                       received: Notification | None, hold: bool, keep: bool, why: str) -> None:
    their = gr_peer(peer) if peer else gr_peer()
    n = _neg(their)
    assert retain_routes(n, sent, received, hold_timer_expired=hold) is keep, why


def test_n_needs_our_n_too() -> None:
    """RFC 8538: without N in *our* capability a NOTIFICATION still deletes."""
    n = _neg(gr_peer(PEER_GR_N), GrConfig(notification=False))
    assert not retain_routes(n, None, CEASE_RESET)


def test_llgr_only_peer_retains() -> None:
    """RFC 9494 §4.1-§4.2: GR with no families (Restart Time 0) + LLGR: LLGR still applies."""
    n = _neg(gr_peer(GracefulRestart(0, 0, ()), LongLivedGracefulRestart(((1, 1, 0x80, 3600),))))
    assert retain_routes(n, None, None)


# --- through the FSM ----------------------------------------------------------------------------

def test_tcp_failure_with_gr_is_graceful() -> None:
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    d = down(p(TcpFailed(1, "connection reset")))
    assert d.graceful and d.sent is None and d.received is None
    assert d.reason == "TCP failed: connection reset"
    assert d.negotiated.gr_families == {(1, 1), (2, 1)}


def test_tcp_closed_without_gr_is_not() -> None:
    p = Probe(config()).to_established()
    d = down(p(TcpClosed(1)))
    assert not d.graceful and d.reason == "TCP connection closed by the peer"


def test_hold_expiry_with_gr_is_graceful() -> None:
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    t0 = p.clock.now
    p.fire_at(t0 + 30)
    p.fire_at(t0 + 60)
    d = down(p.fire_at(t0 + 90))
    assert d.graceful and d.sent == Notification(4, 0)


def test_notification_received_with_and_without_n() -> None:
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    d = down(p(BytesReceived(1, CEASE_RESET.encode())))
    assert not d.graceful and d.received == CEASE_RESET
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR_N))
    assert down(p(BytesReceived(1, CEASE_RESET.encode()))).graceful
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR_N))
    assert not down(p(BytesReceived(1, HARD.encode()))).graceful


def test_stop_without_notification_is_graceful() -> None:
    """Stop(None) closes TCP silently (spec section 6, "retain" without N)."""
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    out = p(Stop(None, "restart"))
    assert summary(out) == ["close@1", "state IDLE", "down graceful=True"]
    assert down(out).reason == "restart"


def test_stop_with_admin_reset_and_n_is_graceful() -> None:
    """Spec section 6: planned restart with N negotiated sends Cease / Administrative Reset."""
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR_N))
    d = down(p(Stop(CEASE_RESET)))
    assert d.graceful and d.sent == CEASE_RESET


def test_hard_reset_never_goes_to_a_peer_without_n() -> None:
    """Spec section 6: "Never send Hard Reset to a peer that did not advertise N": the
    wrapped NOTIFICATION goes out instead (RFC 8538 §3 unwrap)."""
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    out = p(Stop(HARD))
    assert sent_notifications(out) == [Notification.cease(2)]
    assert not down(out).graceful
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR_N))
    out = p(Stop(HARD))
    assert sent_notifications(out) == [HARD] and not down(out).graceful


def test_new_connection_while_established_with_gr() -> None:
    """RFC 4724 §4.2/§5: the peer restarted: close the old connection without NOTIFICATION,
    SessionDown(graceful), go on with the new connection."""
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    out = p(TcpAccepted(99))
    assert summary(out) == ["close@1", "OPEN@99", "state OPENSENT", "down graceful=True"]
    d = down(out)
    assert d.reason == "peer restarted (new connection while established)"
    assert d.sent is None and d.received is None
    assert p.session.consecutive_failures == 0
    restarted = gr_peer(GracefulRestart(0x8, 120, ((1, 1, 0x80), (2, 1, 0x80))))
    p(BytesReceived(99, restarted.encode() + KEEPALIVE_MSG))
    assert p.state is State.ESTABLISHED
    assert p.session.negotiated is not None and p.session.negotiated.peer_gr is not None
    assert p.session.negotiated.peer_gr.restart_state


def test_new_connection_while_established_without_gr_is_rejected() -> None:
    """No GR from the peer: RFC 4271 §6.8, the new connection is refused with Cease /
    Connection Rejected (6/5) and the Established session is untouched."""
    p = Probe(with_gr(config())).to_established()  # the peer sent no GR capability
    assert summary(p(TcpAccepted(99))) == ["NOTIFICATION 6/5@99", "close@99"]
    assert p.session.connections == {1: State.ESTABLISHED}


def test_peer_process_restart_end_to_end() -> None:
    """Side B crashes without closing TCP, comes back with R=1 and connects: A acts as the
    GR helper (graceful SessionDown) and the session is Established again at once."""
    pair = SessionPair(with_gr(config()), with_gr(peer_config()))
    pair.establish(a_passive=True, b_passive=False)
    pair.peer_of.clear()  # the old TCP connection just goes silent
    pair.b = Side("b", Session(with_gr(peer_config(), GrConfig(restarting=True)), conn_ids=pair.ids))
    pair.a.outputs.clear()
    pair.feed(pair.b, Start())
    pair.run()
    assert pair.a.session.state is pair.b.session.state is State.ESTABLISHED
    d = down(pair.a.outputs)
    assert d.graceful and d.reason == "peer restarted (new connection while established)"
    neg = pair.a.session.negotiated
    assert neg is not None and neg.peer_gr is not None and neg.peer_gr.restart_state


def test_a_close_after_a_notification_says_so() -> None:
    """Issue 10 finding 8: the runtime must see which closes follow a NOTIFICATION (then it
    shuts down the write side and waits for the peer) and which are plain TCP closes."""
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR_N))
    assert [o for o in p(Stop(CEASE_RESET)) if isinstance(o, CloseConnection)] == [
        CloseConnection(1, after_notification=True)]
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    assert [o for o in p(Stop(None)) if isinstance(o, CloseConnection)] == [CloseConnection(1)]
    p = Probe(with_gr(config())).to_established(gr_peer(PEER_GR))
    closes = [o for o in p(TcpAccepted(99)) if isinstance(o, CloseConnection)]
    assert closes == [CloseConnection(1)]  # the peer restarted: no NOTIFICATION, plain close
