"""Spec section 8: every graceful-restart transition is an event, with its cause; the
restart completes once the tables sent in slices are out. In-memory network of ``grnet``."""

from __future__ import annotations

from gracebgp.core import events as ev

from .grnet import (
    A_V4,
    A_V6,
    A,
    B,
    learned,
    llgr_net,
    neighbor,
    pair,
    restart_a,
    restarted_a,
    routes,
    speaker,
)
from .net import count_inputs


def test_spec8_helper_episode_events() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.advance(7)
    net.start(A, restarted_a(v4=A_V4[:2]), restart="unplanned")
    names = net.event_names(B)
    i = names.index("session-down")
    assert names[i:i + 2] == ["session-down", "helper-started"]
    ev_ = {e["event"]: e for e in net.events(B)}
    assert ev_["session-down"]["retained"] is True and ev_["session-down"]["peer"] == A
    assert "reset" in ev_["session-down"]["reason"] and ev_["session-down"]["notification"] is None
    assert ev_["helper-started"]["stale"] == {"ipv4-unicast": 3, "ipv6-unicast": 1}
    assert ev_["helper-started"]["restart_time"] == 120
    eor = [(e["family"], e["purged"], e["reason"], e.get("stale_seconds"))
           for e in net.events(B) if e["event"] == "eor-purged"]
    assert eor == [("ipv4-unicast", 1, "End-of-RIB", None), ("ipv6-unicast", 0, "End-of-RIB", 7.0)]
    received = [e["family"] for e in net.events(B) if e["event"] == "eor-received"][-2:]
    assert received == ["ipv4-unicast", "ipv6-unicast"]
    assert b.peers[A].stats.gr_events == {"helper-started": 1, "eor-purged": 2}


def test_spec8_restarting_speaker_events_in_order() -> None:
    net, _a, _b = pair()
    _a2, since = restart_a(net)
    wanted = ("deferral-started", "eor-received", "selection-done", "eor-sent", "restart-complete")
    seq = [(e["event"], e.get("family")) for e in net.events(A, since) if e["event"] in wanted]
    assert seq == [
        ("deferral-started", None),
        ("eor-received", "ipv4-unicast"), ("selection-done", "ipv4-unicast"), ("eor-sent", "ipv4-unicast"),
        ("eor-received", "ipv6-unicast"), ("selection-done", "ipv6-unicast"), ("eor-sent", "ipv6-unicast"),
        ("restart-complete", None),
    ]
    started = next(e for e in net.events(A, since) if e["event"] == "deferral-started")
    assert started["kind"] == "planned" and started["families"] == ["ipv4-unicast", "ipv6-unicast"]
    assert started["deferral_time"] == 360
    sent = [(e["family"], e["routes"], e["peer"]) for e in net.events(A, since) if e["event"] == "eor-sent"]
    assert sent == [("ipv4-unicast", 3, B), ("ipv6-unicast", 1, B)]


def test_spec8_llgr_events() -> None:
    net, _a, _b, _c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(110)
    names = [n for n in net.event_names(B) if n in ("session-down", "helper-started", "llgr-entered",
                                                     "llgr-expired", "stale-purged")]
    assert names == ["session-down", "helper-started", "llgr-entered", "llgr-entered",
                     "llgr-expired", "llgr-expired"]


def test_spec8_every_section_8_transition_has_an_event() -> None:
    """One story that passes through every transition; each leaves a "restart" Notice."""
    net, _a, b, _c, _d = llgr_net(restart_time=10, llgr=100)
    net.cut(A)
    net.run()
    net.advance(10)  # session-down, helper-started, llgr-entered
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:2], A_V6)),
              restart="planned")  # deferral-started, eor-*, selection-done, restart-complete, eor-purged
    net.cut(A)
    net.run()
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100, forwarding=False),
                         originate=routes(A_V4[:1])), restart="unplanned")  # stale-purged (F=0)
    net.cut(A)
    net.run()
    net.advance(10 + 100)  # llgr-entered, llgr-expired
    seen = set(net.event_names())
    required = {"session-down", "helper-started", "stale-purged", "eor-purged", "llgr-entered",
                "llgr-expired", "deferral-started", "eor-received", "eor-sent", "selection-done",
                "restart-complete"}
    assert required <= seen, required - seen
    purges = ("stale-purged", "eor-purged", "llgr-expired")
    reasons = {e["reason"] for e in net.events(B) if e["event"] in purges}
    assert {"End-of-RIB", "long-lived stale timer", "F=0 or capability missing"} <= reasons
    assert learned(b) == {}


def test_restart_complete_waits_for_tables_sent_in_slices() -> None:
    # Issue 10 finding 4: after the deferral, a large table goes out a slice per owner
    # step; "restart-complete" (every family selected, End-of-RIB sent) comes only after
    # the last End-of-RIB, and its duration is that of the last slice's input.
    many = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(5000))
    net, _a, b = pair(a_routes=routes(many, A_V6))
    net.deliver(A, ev.StopRequested(graceful=True, message="upgrade"))
    net.down.add(A)
    a = restarted_a(v4=many)
    a.table_slice = 1000
    seen = count_inputs(a)
    net.start(A, a)
    assert seen.count("Continue") >= 5  # the IPv4 table went out in slices
    names = net.event_names(A)
    assert "restart-complete" in names
    last_eor = max(i for i, n in enumerate(names) if n == "eor-sent")
    assert names.index("restart-complete") > last_eor
    assert set(many) <= set(learned(b)) and not a.sending
