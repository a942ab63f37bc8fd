"""Errors on the wire: every malformed message ends the session with the NOTIFICATION the
codec chose (code, subcode and Data), UPDATE outcomes follow RFC 7606, and unexpected
messages are FSM errors with the RFC 6608 subcode of the state.

RFC 4271 §6.1-§6.6, RFC 6608 §3, RFC 7606 §2 and §5, RFC 8654 §4-§5, RFC 2918 §4,
RFC 7313 §4-§5.
"""

from __future__ import annotations

import pytest

from gracebgp.session import (
    BytesReceived,
    CloseConnection,
    NotEstablishedError,
    RouteRefreshReceived,
    SendBytes,
    SessionDown,
    State,
    Stop,
    TcpAccepted,
    TcpConnected,
    UpdateReceived,
)
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import (
    ExtendedMessage,
    FourOctetAs,
    Multiprotocol,
    Notification,
    RouteRefresh,
    UpdateAction,
)
from gracebgp.wire.iana import MARKER

from ..wire.wirebytes import MANDATORY, NLRI_10_0_1, attr, body, message
from .helpers import (
    EOR_V4,
    KEEPALIVE_MSG,
    Probe,
    config,
    peer_open,
    sent_notifications,
    summary,
)


def _update(payload: bytes) -> bytes:
    return message(2, payload)


# --- RFC 6608: unexpected messages before Established -----------------------------------------

@pytest.mark.parametrize(("setup", "subcode"), [("to_opensent", 1), ("to_openconfirm", 2)])
def test_update_before_established_is_an_fsm_error(setup: str, subcode: int) -> None:
    """RFC 6608 §3: FSM Error, "Receive Unexpected Message in OpenSent/OpenConfirm State",
    Data = the message type (2, UPDATE)."""
    p = getattr(Probe(), setup)()
    out = p(BytesReceived(1, EOR_V4))
    assert sent_notifications(out) == [Notification(5, subcode, b"\x02")]
    assert p.state is State.IDLE and not [o for o in out if isinstance(o, UpdateReceived)]


def test_open_on_an_established_connection_is_an_fsm_error() -> None:
    """RFC 6608 §3: subcode 3 in Established, Data = 1 (OPEN)."""
    p = Probe().to_established()
    assert sent_notifications(p(BytesReceived(1, peer_open().encode()))) == [Notification(5, 3, b"\x01")]


def test_route_refresh_in_opensent() -> None:
    p = Probe().to_opensent()
    assert sent_notifications(p(BytesReceived(1, RouteRefresh(1, 1).encode()))) == [
        Notification(5, 1, b"\x05")]


# --- RFC 4271 §6.1: header errors, in every state ----------------------------------------

@pytest.mark.parametrize(("data", "note"), [
    (b"\x00" * 16 + b"\x00\x13\x04", Notification(1, 1)),  # marker not all ones
    (MARKER + b"\x00\x12\x04", Notification(1, 2, b"\x00\x12")),  # length below 19
    (MARKER + b"\x00\x14\x04\x00", Notification(1, 2, b"\x00\x14")),  # KEEPALIVE is 19
    (MARKER + b"\x00\x14\x03\x06", Notification(1, 2, b"\x00\x14")),  # NOTIFICATION >= 21
    (MARKER + b"\x00\x13\x09", Notification(1, 3, b"\x09")),  # unknown message type
    (MARKER + b"\x10\x01\x02", Notification(1, 2, b"\x10\x01")),  # 4097 without Extended Message
])
@pytest.mark.parametrize("setup", ["to_opensent", "to_openconfirm", "to_established"])
def test_header_errors(setup: str, data: bytes, note: Notification) -> None:
    """RFC 4271 §6.1 (and RFC 8654 §5: over 4096 octets is Bad Message Length without the
    capability): the codec's code, subcode and Data go out as they are."""
    p = getattr(Probe(config(extended_message=False)), setup)()
    out = p(BytesReceived(1, data))
    assert sent_notifications(out) == [note]
    assert "state IDLE" in summary(out) and p.state is State.IDLE


def test_malformed_open_is_open_message_error_unspecific() -> None:
    """RFC 4271 §6.2 last paragraph: a recognised but malformed optional parameter -> 2/0."""
    p = Probe().to_opensent()
    # Capabilities parameter of 6 octets holding capability 65 that claims 5 octets of value
    bad = message(1, bytes([4]) + (65002).to_bytes(2, "big") + (90).to_bytes(2, "big")
                  + bytes([10, 0, 0, 2]) + bytes([8, 2, 6, 65, 5]) + (65002).to_bytes(4, "big"))
    out = p(BytesReceived(1, bad))
    (n,) = sent_notifications(out)
    assert (n.code, n.subcode) == (2, 0)


def test_route_refresh_length_error() -> None:
    """RFC 7313 §5: ROUTE-REFRESH Message Error / Invalid Message Length, Data = the message."""
    p = Probe().to_established()
    bad = message(5, b"\x00\x01\x00\x01\x00")
    assert sent_notifications(p(BytesReceived(1, bad))) == [Notification(7, 1, bad)]


def test_header_error_stops_processing_the_rest_of_the_read() -> None:
    p = Probe().to_established()
    out = p(BytesReceived(1, EOR_V4 + b"\x00" * 19 + EOR_V4))
    assert summary(out) == ["update", "NOTIFICATION 1/1@1", "close@1", "state IDLE", "down graceful=False"]


# --- RFC 7606 outcomes ----------------------------------------------------------------------

def test_session_reset_sends_the_codecs_update_error() -> None:
    """RFC 7606 §2 / RFC 4271 §6.3: Withdrawn Routes Length too large -> 3/1."""
    p = Probe().to_established()
    out = p(BytesReceived(1, _update(b"\x00\x05\x00\x00")))
    assert sent_notifications(out) == [Notification(3, 1)]
    d = next(o for o in out if isinstance(o, SessionDown))
    assert d.sent == Notification(3, 1) and "RFC 7606 session reset" in d.reason


def test_session_reset_carries_the_attribute_as_data() -> None:
    """RFC 7606 §5.3: MP_REACH_NLRI with wrong flags cannot be treated as withdraw: 3/4 with
    the erroneous attribute (type, length, value) as Data (RFC 4271 §6.3)."""
    bad_mp = attr(0x40, 14, b"\x00\x02\x01\x10" + b"\x20\x01\x0d\xb8" + b"\x00" * 12 + b"\x00")
    p = Probe().to_established()
    out = p(BytesReceived(1, _update(body(attrs=bad_mp + MANDATORY))))
    assert sent_notifications(out) == [Notification(3, 4, bad_mp)]


def test_treat_as_withdraw_keeps_the_session() -> None:
    """RFC 7606 §2: an invalid ORIGIN value is treat-as-withdraw: delivered, session up."""
    bad_origin = attr(0x40, 1, b"\x07") + MANDATORY[4:]
    p = Probe().to_established()
    out = p(BytesReceived(1, _update(body(attrs=bad_origin, nlri=NLRI_10_0_1))))
    (u,) = [o for o in out if isinstance(o, UpdateReceived)]
    assert u.result.action == UpdateAction.TREAT_AS_WITHDRAW and p.state is State.ESTABLISHED


def test_updates_are_delivered_in_order_with_eor() -> None:
    p = Probe().to_established()
    ann = _update(body(attrs=MANDATORY, nlri=NLRI_10_0_1))
    out = p(BytesReceived(1, ann + KEEPALIVE_MSG + EOR_V4))
    results = [o.result for o in out if isinstance(o, UpdateReceived)]
    assert [r.action for r in results] == [UpdateAction.ACCEPT, UpdateAction.ACCEPT]
    assert results[0].update is not None and len(results[0].update.nlri) == 1
    assert results[1].eor == IPV4_UNICAST


def test_one_read_comes_out_in_wire_order_and_each_update_restarts_the_hold_timer() -> None:
    """UPDATEs in Established take the session's hot path (the table's cell, inline): what a
    read holds still comes out in wire order, and each UPDATE restarts the Hold timer
    (RFC 4271 §8.2.2, Established: UpdateMsg restarts the HoldTimer)."""
    p = Probe().to_established()
    ann = _update(body(attrs=MANDATORY, nlri=NLRI_10_0_1))
    out = p(BytesReceived(1, ann + RouteRefresh(1, 1).encode() + ann))
    facts = [type(o) for o in out if isinstance(o, (UpdateReceived, RouteRefreshReceived))]
    assert facts == [UpdateReceived, RouteRefreshReceived, UpdateReceived]
    p.clock.now += 30.0
    assert [type(o) for o in p(BytesReceived(1, ann)) if isinstance(o, UpdateReceived)] == [UpdateReceived]
    hold_ends = p.clock.now + 90.0  # (the hold time both sides offered)
    p.fire_at(hold_ends - 1.0)
    assert p.state is State.ESTABLISHED  # (it would have expired 30 s earlier without the UPDATE)
    p.fire_at(hold_ends)
    assert p.state is not State.ESTABLISHED


# --- RFC 8654: extended messages once negotiated ----------------------------------------------

def _big_update() -> bytes:
    nlri = b"".join(bytes([24, 10, i // 256, i % 256]) for i in range(1500))  # 6000 octets
    return _update(body(attrs=MANDATORY, nlri=nlri))


def test_extended_message_accepted_once_negotiated() -> None:
    their = peer_open(caps=(Multiprotocol(1, 1), FourOctetAs(65002), ExtendedMessage()))
    p = Probe(config(families=(IPV4_UNICAST,))).to_opensent()
    out = p(BytesReceived(1, their.encode() + KEEPALIVE_MSG + _big_update()))
    (u,) = [o for o in out if isinstance(o, UpdateReceived)]
    assert u.result.update is not None and len(u.result.update.nlri) == 1500


def test_extended_message_rejected_when_not_negotiated() -> None:
    p = Probe(config(families=(IPV4_UNICAST,))).to_established()
    big = _big_update()
    assert sent_notifications(p(BytesReceived(1, big))) == [Notification(1, 2, big[16:18])]


def test_notification_data_is_cut_to_fit() -> None:
    """RFC 8654 §5: a NOTIFICATION to a peer without Extended Message fits in 4096 octets."""
    p = Probe().to_established()
    out = p(Stop(Notification(6, 2, b"x" * 5000)))
    (n,) = sent_notifications(out)
    assert len(n.encode()) == 4096


# --- ROUTE-REFRESH -----------------------------------------------------------------------------

@pytest.mark.parametrize(("rr", "delivered"), [
    (RouteRefresh(1, 1, 0), True),
    (RouteRefresh(2, 1, 1), True),  # BoRR, Enhanced Route Refresh negotiated
    (RouteRefresh(2, 1, 2), True),  # EoRR
    (RouteRefresh(1, 128, 0), False),  # RFC 2918 §4: family not negotiated: ignored
    (RouteRefresh(1, 1, 3), False),  # RFC 7313 §5: unknown subtype: ignored
])
def test_route_refresh_received(rr: RouteRefresh, delivered: bool) -> None:
    p = Probe().to_established()
    out = p(BytesReceived(1, rr.encode()))
    assert len(out) == 1 and isinstance(out[0], RouteRefreshReceived) and out[0].message == rr
    assert (out[0].ignored == "") is delivered  # an ignored one is reported, for the log
    assert p.state is State.ESTABLISHED


def test_borr_ignored_without_enhanced_route_refresh() -> None:
    """RFC 7313 §4: the demarcation subtypes only apply with the capability exchanged."""
    p = Probe(config(enhanced_route_refresh=False)).to_established()
    rr = RouteRefresh(1, 1, 1)
    assert p(BytesReceived(1, rr.encode())) == [RouteRefreshReceived(
        rr, "BoRR/EoRR without Enhanced Route Refresh negotiated (RFC 7313 §4)")]


def test_send_route_refresh() -> None:
    p = Probe().to_established()
    assert p.session.send_route_refresh(IPV6_UNICAST) == [SendBytes(1, RouteRefresh(2, 1).encode())]
    assert len(p.session.send_route_refresh(IPV4_UNICAST, 1)) == 1
    with pytest.raises(NotEstablishedError):
        p.session.send_route_refresh(Family(1, 128))
    q = Probe(config(enhanced_route_refresh=False)).to_established()
    with pytest.raises(NotEstablishedError):
        q.session.send_route_refresh(IPV4_UNICAST, 1)
    with pytest.raises(NotEstablishedError):
        Probe().to_openconfirm().session.send_route_refresh(IPV4_UNICAST)


# --- stale and bogus runtime events --------------------------------------------------------------

def test_events_for_closed_connections() -> None:
    """Bytes still in flight for a closed connection are dropped; a connect that completes
    after we gave up on it is closed again."""
    p = Probe().to_established()
    assert p(BytesReceived(7, KEEPALIVE_MSG)) == []
    assert p(TcpConnected(7)) == [CloseConnection(7)]


def test_duplicate_connection_id_is_a_runtime_bug() -> None:
    p = Probe().to_opensent()
    with pytest.raises(ValueError, match="already in use"):
        p(TcpAccepted(1))
