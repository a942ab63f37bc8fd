"""Session hand-over between two Speakers (issue 19): the sessions of one speaker are
captured at a clean point, a new speaker built from the configuration adopts them, and
the peer sees nothing but KEEPALIVEs: no OPEN, no End-of-RIB, no UPDATE, unless the new
configuration exports something else (then exactly that difference)."""

from __future__ import annotations

import contextlib

from gracebgp.config.default import demo_configs
from gracebgp.core import events as ev
from gracebgp.core.handover import (
    adopt_all,
    adopt_session,
    capture,
    capture_helpers,
    helping,
    reconcile,
    refusals,
)
from gracebgp.core.speaker import Speaker
from gracebgp.restart.handover import HandoverState, SessionRecord, decode, encode
from gracebgp.restart.helper import Phase
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.nlri import format_prefix

from .net import SpeakerNet
from .test_speaker import speaker_from

A, B = "127.0.0.1", "127.0.0.2"


def _pair() -> tuple[SpeakerNet, Speaker, Speaker, str]:
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    net = SpeakerNet()
    a = net.add(A, speaker_from(a_text))
    b = net.add(B, speaker_from(b_text))
    net.run()
    assert all(p.session.state is State.ESTABLISHED for p in (*a.peers.values(), *b.peers.values()))
    return net, a, b, a_text


def _records(a: Speaker) -> list[SessionRecord]:
    fds = {addr: c for addr, p in a.peers.items() if (c := p.established_conn()) is not None}
    records = capture(a, fds, 0.0)
    # Through the state format, as the runtime passes them.
    return list(decode(encode(HandoverState(1, 0.0, tuple(records)))).sessions)


def _take_over(net: SpeakerNet, old: Speaker, new: Speaker) -> list[ev.Output]:
    """What the runtime does: adopt, read the Adj-RIB-Ins and unread octets, reconcile,
    start, then the first timer turn (a KEEPALIVE at once)."""
    records = _records(old)
    net.speakers[A] = new
    out: list[ev.Output] = []
    for r in records:
        assert adopt_session(new, r, r.fd, r.established, net.now) == ""
    for r in records:
        out += new.handle(ev.Received(r.peer, r.fd, r.adj_in + r.unread), net.now)
    for r in records:
        reconcile(new, r, net.now)
    out += new.handle(ev.Started("cold", "session hand-over"), net.now)
    out += new.handle(ev.TimerDue(), net.now)
    out += new.handle(ev.InputDrained(), net.now)
    return out


def _sent_types(out: list[ev.Output]) -> list[int]:
    return [o.data[18] for o in out if isinstance(o, ev.Send)]


def test_issue19_adopted_sessions_send_only_a_keepalive_and_keep_every_route() -> None:
    net, a, b, a_text = _pair()
    loc_before = {f: dict(a.loc[f].items()) for f in a.loc}
    b_before = {f: {k: (c[1].attrs, c[1].next_hop) for k, c in b.loc[f].items()} for f in b.loc}
    b_up = {addr: p.session.established_since for addr, p in b.peers.items()}
    a2 = speaker_from(a_text)
    out = _take_over(net, a, a2)
    assert _sent_types(out) == [4] * len(a.peers)  # one KEEPALIVE per session, nothing else
    for out_item in out:
        net.execute(A, out_item)
    net.run()
    net.advance(5)
    assert all(p.session.state is State.ESTABLISHED for p in a2.peers.values())
    assert {addr: p.session.established_since for addr, p in b.peers.items()} == b_up
    assert {f: {k: (c[1].attrs, c[1].next_hop) for k, c in b.loc[f].items()} for f in b.loc} == b_before
    for f, before in loc_before.items():
        assert set(dict(a2.loc[f].items())) == set(before)
    # B's routes are back in A's Adj-RIB-In, and what A advertised is known as advertised.
    peer = a2.peers[B]
    assert peer.route_count() == a.peers[B].route_count() > 0
    assert {f: set(r.advertised) for f, r in peer.adj_out.items()} == \
        {f: set(r.advertised) for f, r in a.peers[B].adj_out.items()}


def test_issue19_a_changed_configuration_sends_exactly_the_difference() -> None:
    net, a, b, a_text = _pair()
    a2 = speaker_from(a_text.replace('prefix = "192.0.2.0/26"', 'prefix = "192.0.2.128/26"'))
    assert a2.local_routes != a.local_routes
    out = _take_over(net, a, a2)
    updates = [o for o in out if isinstance(o, ev.Send) and o.data[18] == 2]
    assert updates  # the one route changed: withdrawn and announced
    for item in out:
        net.execute(A, item)
    net.run()
    keys = {k for k, c in b.loc[IPV4_UNICAST].items() if not c[0].local}
    texts = {format_prefix(k, 1) for k in keys}
    assert "192.0.2.128/26" in texts and "192.0.2.0/26" not in texts


def test_issue19_a_peer_the_new_configuration_refuses_is_not_adopted() -> None:
    net, a, _b, a_text = _pair()
    records = _records(a)
    a2 = speaker_from(a_text.replace("peer-as = 65002", "peer-as = 65009"))
    why = adopt_session(a2, records[0], records[0].fd, 0.0, net.now)
    assert "no longer accepts the peer's OPEN" in why
    assert a2.peers[B].session.state is State.IDLE


def test_issue19_a_restarting_peer_s_stale_routes_and_timers_are_carried() -> None:
    """RFC 4724 §4.2 across a hand-over: B is away (A keeps its routes stale); a new
    speaker takes A's place with B's routes still stale, still in its Loc-RIB, the
    restart timer still running, and purges them when it fires."""
    net, a, _b, a_text = _pair()
    net.cut(B)  # B vanishes: A keeps its routes stale
    net.run()
    peer = a.peers[B]
    kept, deadline = peer.route_count(), peer.gr.next_deadline()
    assert kept > 0 and deadline is not None and refusals(a) == [] and helping(a) == 1
    helpers = capture_helpers(a, 0.0)
    state = decode(encode(HandoverState(1, 0.0, (), {}, tuple(helpers))))
    assert state.version == 2 and len(state.helpers) == 1
    a2 = speaker_from(a_text)
    net.speakers[A] = a2
    out, refused = adopt_all(a2, [], net.now, state.helpers, 0.0)
    assert refused == {}
    for o in out:
        net.execute(A, o)
    for o in a2.handle(ev.Started("cold", "session hand-over"), net.now):
        net.execute(A, o)
    net.run()
    p2 = a2.peers[B]
    assert p2.route_count() == kept
    assert sum(c.stale_count for c in p2.adj_in.values()) == kept
    assert p2.gr.active and p2.gr.next_deadline() == deadline
    b_routes = {f: {k for k, c in a2.loc[f].items() if not c[0].local} for f in a2.loc}
    assert any(b_routes.values())  # still selected: still advertised to everyone else
    net.advance(deadline - net.now + 1.0)
    # The restart timer fired in the new speaker: LLGR-stale now (RFC 9494 §4.2), then gone.
    assert p2.route_count() == kept and set(p2.gr.phases.values()) == {Phase.LLGR}, p2.gr.phases
    llgr_end = p2.gr.next_deadline()
    assert llgr_end is not None
    net.advance(llgr_end - net.now + 1.0, step=60.0)
    assert p2.route_count() == 0 and not p2.gr.active


def test_issue19_a_changed_local_as_or_router_id_is_not_adopted() -> None:
    """RFC 4271 §6.3: the peer holds the session to the AS and router-id of our OPEN; a new
    configuration with another one is a new session (was: adopted, UPDATEs with the new AS
    on a session negotiated with the old one)."""
    net, a, _b, a_text = _pair()
    records = _records(a)
    for old, new, said in (("as = 65001", "as = 65009", "local AS changed (65001 -> 65009)"),
                           ('router-id = "127.0.0.1"', 'router-id = "127.0.0.9"', "router-id changed")):
        a2 = speaker_from(a_text.replace(old, new, 1))
        why = adopt_session(a2, records[0], records[0].fd, 0.0, net.now)
        assert said in why
        assert a2.peers[B].session.state is State.IDLE
        assert not a2.peers[B].adj_out or not any(r.advertised for r in a2.peers[B].adj_out.values())
    # The same configuration (the R and F bits of a new start aside) is adopted.
    assert adopt_session(speaker_from(a_text), records[0], records[0].fd, 0.0, net.now) == ""


def test_issue19_no_hand_over_while_our_deferral_or_a_table_is_open() -> None:
    """The End-of-RIB owed after our restart or with a table going out would never be sent
    by the new process (it starts without deferral and sends no table): refused."""
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    deferring = speaker_from(a_text)
    deferring.handle(ev.Started("planned", "test"), 0.0)
    assert deferring.deferral is not None
    assert any("selection is still deferred" in why for why in refusals(deferring))
    net = SpeakerNet()
    a = net.add(A, speaker_from(a_text))
    a.table_slice = 1  # a table goes out over several steps
    net.add(B, speaker_from(b_text))
    for _ in range(10_000):
        if a.sending and a.peers[B].session.state is State.ESTABLISHED:
            break
        with contextlib.suppress(AssertionError):  # one delivery at a time ("did not settle")
            net.run(limit=1)
    assert a.sending
    assert any("still going out to 127.0.0.2" in why for why in refusals(a))
    net.run()
    assert not a.sending and refusals(a) == []
