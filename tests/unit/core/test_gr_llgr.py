"""Long-lived graceful restart (RFC 9494 §4.2-§4.3), on the in-memory network of
``grnet``."""

from __future__ import annotations

from .grnet import (
    A_V4,
    A_V6,
    LLGR_STALE,
    NO_LLGR,
    V6,
    A,
    B,
    D,
    learned,
    llgr_net,
    neighbor,
    routes,
    speaker,
)


def test_rfc9494_4_2_restart_timer_moves_stale_routes_to_llgr_and_deletes_no_llgr() -> None:
    net, _a, b, _c, _d = llgr_net()
    assert NO_LLGR in learned(b)["10.7.0.0/16"].attrs.communities
    net.cut(A)
    net.run()
    assert not any(p.llgr_stale for p in learned(b).values())  # GR period: unchanged
    net.advance(10)
    got = learned(b)
    assert set(got) == set(A_V4) and "10.7.0.0/16" not in got  # NO_LLGR: deleted
    assert all(LLGR_STALE in p.attrs.communities and p.llgr_stale for p in got.values())
    assert all(p.llgr_stale for p in learned(b, V6).values())
    entered = [e for e in net.events(B) if e["event"] == "llgr-entered"]
    got_events = [(e["family"], e["llgr_stale"], e["deleted"], e["stale_time"], e["expires_in"])
                  for e in entered]
    assert got_events == [("ipv4-unicast", 3, 1, 100, 100), ("ipv6-unicast", 1, 0, 100, 100)]


def test_rfc9494_4_3_llgr_stale_routes_go_only_to_llgr_peers_with_llgr_stale() -> None:
    net, _a, _b, c, d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(10)
    assert set(learned(c)) == set(A_V4)
    assert all(p.llgr_stale for p in learned(c).values())  # the community was kept
    assert learned(d) == {}  # eBGP without LLGR: withdrawn
    withdrawn = {p for m in net.messages(B, D) for p in m.withdrawn}
    assert set(A_V4) | {"10.7.0.0/16"} <= withdrawn


def test_rfc9494_4_2_llgr_timer_deletes_the_routes() -> None:
    net, _a, b, c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(10 + 99)
    assert set(learned(b)) == set(A_V4)
    net.advance(1)
    assert learned(b) == {} and learned(c) == {} and learned(b, V6) == {}
    expired = [(e["family"], e["purged"], e["reason"]) for e in net.events(B) if e["event"] == "llgr-expired"]
    assert expired == [("ipv4-unicast", 3, "long-lived stale timer"),
                       ("ipv6-unicast", 1, "long-lived stale timer")]


def test_rfc9494_4_2_restart_time_zero_goes_llgr_stale_at_once() -> None:
    net, _a, b, _c, _d = llgr_net(restart_time=0)
    net.cut(A)
    net.run()
    assert all(p.llgr_stale for p in learned(b).values()) and set(learned(b)) == set(A_V4)
    assert b.peers[A].gr.restart_deadline is None


def test_rfc9494_4_2_peer_back_during_llgr_refreshes_and_eor_purges() -> None:
    net, _a, b, c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(20)
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:1], A_V6)),
              restart="unplanned")
    assert set(learned(b)) == set(A_V4[:1])
    assert not any(p.llgr_stale for p in learned(b).values())  # fresh again, community gone
    assert not any(p.llgr_stale for p in learned(c).values())


def test_rfc9494_4_2_consecutive_restart_keeps_llgr_stale_routes_until_the_llgr_timer() -> None:
    net, _a, b, _c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(20)  # LLGR period since +10, its timer runs until +110
    net.hold_eor_from.add(A)
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:1], A_V6)),
              restart="cold")
    net.cut(A)  # down again before A's End-of-RIB
    net.run()
    assert set(A_V4) <= set(learned(b))  # A_V4[1:] must stay until the LLGR timer fires
