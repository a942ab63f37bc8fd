"""Dynamic neighbors (core.dynamic) on the in-memory network: which range an accepted
connection belongs to, any AS, the cap, forgetting a peer whose session is gone, keeping
one a graceful-restart helper waits for, and a reload of the ranges."""

from __future__ import annotations

from dataclasses import replace

from gracebgp.api.service import list_peers
from gracebgp.cli.render import peer_pairs, peer_rows
from gracebgp.core import events as ev
from gracebgp.core.commands import EnablePeer, ShutdownPeer
from gracebgp.core.dynamic import DynamicRange
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode

from .grnet import Net, learned, stale

HUB, HUB_AS = "127.0.0.1", 65000
WIDE, NARROW = "127.0.0.0/24", "127.0.0.16/28"
V4 = IPV4_UNICAST


def template(prefix: str, peer_as: int | None = None, restart_time: int = 60) -> NeighborSettings:
    """A peer group's settings as the daemon builds them (address: the prefix's)."""
    session = SessionConfig(HUB_AS, HUB, prefix.split("/", maxsplit=1)[0], peer_as, passive=True,
                            graceful_restart=GrConfig(restart_time, forwarding=frozenset({V4})))
    return NeighborSettings(prefix.split("/", maxsplit=1)[0], session)


def client(me: str, asn: int, prefix: str, restart: str = "") -> Speaker:
    gr = GrConfig(60, forwarding=frozenset({V4}), restarting=bool(restart))
    session = SessionConfig(asn, me, HUB, HUB_AS, graceful_restart=gr, connect_retry_time=5.0)
    return Speaker(asn, me, (NeighborSettings(HUB, session, local_address=me),), (LocalRoute(prefix),))


def hub(*ranges: DynamicRange, neighbors: tuple[NeighborSettings, ...] = ()) -> Speaker:
    return Speaker(HUB_AS, HUB, neighbors, (LocalRoute("192.0.2.0/24"),), ranges=ranges)


def reload(net: Net, h: Speaker, neighbors: tuple[NeighborSettings, ...],
           ranges: tuple[DynamicRange, ...]) -> list[ev.Output]:
    """SIGHUP with these neighbors and ranges; every output carried out."""
    out = h.handle(ev.Reconfigured(neighbors, (LocalRoute("192.0.2.0/24"),), None, ranges), net.now)
    for o in out:
        net.execute(HUB, o)
    net.run()
    return out


def wide(max_peers: int | None = None, peer_as: int | None = None) -> DynamicRange:
    return DynamicRange(WIDE, "any", template(WIDE, peer_as), max_peers)


def test_any_as_peers_come_up_ebgp_or_ibgp_by_the_as_they_send() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.add("127.0.0.3", client("127.0.0.3", HUB_AS, "10.3.0.0/16"))
    net.run()
    for address, ibgp in (("127.0.0.2", False), ("127.0.0.3", True)):
        peer = h.peers[address]
        assert peer.session.state is State.ESTABLISHED
        assert peer.dynamic and peer.dynamic_range == WIDE
        assert peer.settings.session.peer_as is None and peer.settings.session.passive
        assert peer.negotiated is not None and peer.negotiated.ibgp is ibgp
    assert set(learned(h)) == {"10.2.0.0/16", "10.3.0.0/16"}
    assert any(n.kind == "peer-added" and n.peer == "127.0.0.2" for _, n in net.notices)


def test_longest_prefix_wins_and_its_group_checks_the_as() -> None:
    net = Net()
    h = net.add(HUB, hub(wide(), DynamicRange(NARROW, "narrow", template(NARROW, 65099))))
    net.add("127.0.0.17", client("127.0.0.17", 65099, "10.17.0.0/16"))
    net.add("127.0.0.18", client("127.0.0.18", 65002, "10.18.0.0/16"))  # in the /28: AS 65099 only
    net.run()
    assert h.peers["127.0.0.17"].dynamic_range == NARROW
    assert h.peers["127.0.0.17"].session.state is State.ESTABLISHED
    assert "127.0.0.18" not in h.peers  # OPEN refused (Bad Peer AS), then forgotten
    # RFC 4271 §6.2: Bad Peer AS is OPEN Message Error subcode 2
    assert any("OPEN_MESSAGE_ERROR/2" in log.message for name, log in net.logs if name == "127.0.0.18")
    assert set(learned(h)) == {"10.17.0.0/16"}


def test_a_configured_neighbor_wins_over_a_range_and_outside_every_range_is_refused() -> None:
    static = NeighborSettings("127.0.0.5", SessionConfig(HUB_AS, HUB, "127.0.0.5", 65005, passive=True))
    h = hub(wide(), neighbors=(static,))
    assert h.peer_for("127.0.0.5") == "127.0.0.5"
    assert h.peer_for("127.0.0.77") == "127.0.0.77"
    assert h.peer_for("127.0.1.9") is None and h.peer_for("::1") is None
    net = Net()
    net.add(HUB, h)
    net.add("127.0.0.5", client("127.0.0.5", 65005, "10.5.0.0/16"))
    net.run()
    peer = h.peers["127.0.0.5"]
    assert peer.session.state is State.ESTABLISHED and not peer.dynamic and peer.dynamic_range is None
    # A connection reported from outside every range gets no peer: it is closed.
    out = h.handle(ev.Connected("127.0.1.9", 1 << 21, HUB, outgoing=False), net.now)
    assert out == [ev.Close("127.0.1.9", 1 << 21)] and "127.0.1.9" not in h.peers


def test_over_the_cap_cease_out_of_resources_then_closed() -> None:
    net = Net()
    h = net.add(HUB, hub(wide(max_peers=1)))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    assert h.peers["127.0.0.2"].session.state is State.ESTABLISHED
    out = h.handle(ev.Connected("127.0.0.3", 1 << 21, HUB, outgoing=False), net.now)
    note = Notification.cease(CeaseSubcode.OUT_OF_RESOURCES)  # RFC 4486 §3
    assert out[-2:] == [ev.Send("127.0.0.3", 1 << 21, note.encode()), ev.Close("127.0.0.3", 1 << 21)]
    assert "127.0.0.3" not in h.peers
    refused = [log for log in out if isinstance(log, ev.Log) and log.event == "dynamic-peer-refused"]
    assert refused and "max-peers (1)" in refused[0].message
    # The one peer leaves: its slot is free again.
    net.queue.append(("127.0.0.2", ev.StopRequested(graceful=False, message="bye")))
    net.run()
    assert "127.0.0.2" not in h.peers
    net.add("127.0.0.3", client("127.0.0.3", 65003, "10.3.0.0/16"))
    net.run()
    assert h.peers["127.0.0.3"].session.state is State.ESTABLISHED


def test_a_peer_whose_session_is_gone_is_forgotten() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    net.queue.append(("127.0.0.2", ev.StopRequested(graceful=False, message="decommissioned")))
    net.run()
    assert "127.0.0.2" not in h.peers and learned(h) == {}
    removed = [n for _, n in net.notices if n.kind == "peer-removed" and n.peer == "127.0.0.2"]
    assert removed and removed[0].data == {"dynamic_range": WIDE}
    assert h.peer_for("127.0.0.2") == "127.0.0.2"  # it may come back: a new peer then


def test_graceful_restart_keeps_a_dynamic_peer_stale_until_it_comes_back() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    net.cut("127.0.0.2")  # its host vanishes: the hub is its GR helper (RFC 4724 §4.2)
    net.run()
    net.advance(30)
    assert h.peers["127.0.0.2"].dynamic_range == WIDE  # kept for its Restart Time (60 s)
    assert stale(h, "127.0.0.2") == {"10.2.0.0/16"} and "10.2.0.0/16" in learned(h)
    (held,) = list_peers(h, net.now)  # the AS whose routes are held, not 0 ("any AS")
    assert (held.state, held.peer_as, held.families[0].stale) == ("Active", 65002, 1), held
    net.start("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16", restart="graceful"), "graceful")
    peer = h.peers["127.0.0.2"]
    assert peer.session.state is State.ESTABLISHED and peer.dynamic_range == WIDE
    assert stale(h, "127.0.0.2") == set() and "10.2.0.0/16" in learned(h)  # refreshed
    assert not any(n.kind == "peer-removed" for _, n in net.notices)


def test_a_configured_any_as_neighbor_shows_the_held_as_until_the_purge() -> None:
    """A configured neighbor without peer-as: while graceful restart holds its routes the
    API shows the AS they came from; once purged (its Restart Time, RFC 4724 §4.2), or
    after a session that ended without graceful restart, 0 again (no AS known)."""
    net = Net()
    h = net.add(HUB, hub(neighbors=(template("127.0.0.2/32", restart_time=60),)))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    net.cut("127.0.0.2")
    net.run()
    net.advance(30)
    (held,) = list_peers(h, net.now)
    assert (held.peer_as, held.families[0].stale) == (65002, 1), held
    net.advance(40)
    (purged,) = list_peers(h, net.now)
    assert (purged.peer_as, purged.families[0].stale, learned(h)) == (0, 0, {}), purged
    net.start("127.0.0.2", client("127.0.0.2", 65003, "10.3.0.0/16"), "back")
    assert list_peers(h, net.now)[0].peer_as == 65003
    net.queue.append(("127.0.0.2", ev.StopRequested(graceful=False, message="bye")))
    net.run()
    assert list_peers(h, net.now)[0].peer_as == 0


def test_graceful_restart_state_goes_when_the_restart_time_is_up() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    net.cut("127.0.0.2")
    net.run()
    net.advance(55)
    assert "127.0.0.2" in h.peers
    net.advance(10)
    assert "127.0.0.2" not in h.peers and learned(h) == {}


def test_reload_removes_or_changes_the_dynamic_peers_of_a_range() -> None:
    net = Net()
    h = net.add(HUB, hub(wide(), DynamicRange(NARROW, "narrow", template(NARROW))))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.add("127.0.0.17", client("127.0.0.17", 65017, "10.17.0.0/16"))
    net.run()
    assert h.peers["127.0.0.17"].dynamic_range == NARROW
    # The /28 goes, the /24's group now says hold-time 30: 127.0.0.17 moves to the /24
    # and both sessions reset with the new hold time (as a changed neighbor would).
    changed = template(WIDE)
    changed = replace(changed, session=replace(changed.session, hold_time=30))
    out = reload(net, h, (), (DynamicRange(WIDE, "any", changed),))
    assert ev.AcceptFrom(NARROW, None) in out and ev.AcceptFrom(WIDE, changed.sockets) not in out
    net.advance(15)  # the reset's close wait, the clients' connect-retry
    for address in ("127.0.0.2", "127.0.0.17"):
        peer = h.peers[address]
        assert peer.dynamic_range == WIDE and peer.settings.session.hold_time == 30
        assert peer.session.state is State.ESTABLISHED
    # No range at all: the peers stop with Cease/Peer De-configured and are gone.
    assert ev.AcceptFrom(WIDE, None) in reload(net, h, (), ())
    assert "127.0.0.2" not in h.peers and "127.0.0.17" not in h.peers
    assert any("PEER_DECONFIGURED" in log.message for name, log in net.logs if name == "127.0.0.2")


def test_reload_making_a_dynamic_peer_a_configured_neighbor_keeps_its_session() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    static = wide().settings_for("127.0.0.2")
    reload(net, h, (static,), (wide(),))
    peer = h.peers["127.0.0.2"]
    assert peer.session.state is State.ESTABLISHED and not peer.dynamic and peer.dynamic_range is None
    net.queue.append(("127.0.0.2", ev.StopRequested(graceful=False, message="bye")))
    net.run()
    assert "127.0.0.2" in h.peers  # a configured neighbor stays when its session goes down


def test_the_api_and_the_cli_mark_dynamic_peers_and_they_disappear() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    (peer,) = list_peers(h, net.now)
    assert (peer.address, peer.dynamic, peer.dynamic_range, peer.peer_as) == ("127.0.0.2", True, WIDE, 65002)
    _, rows = peer_rows([(None, [peer])])
    assert rows[0][:3] == ["127.0.0.2 (dynamic)", str(HUB_AS), "65002"]
    assert ("Dynamic", f"yes, accepted from the dynamic-neighbors range {WIDE}") in peer_pairs(peer)
    net.queue.append(("127.0.0.2", ev.StopRequested(graceful=False, message="bye")))
    net.run()
    assert list_peers(h, net.now) == []


def test_a_dynamic_peer_shut_down_by_the_operator_stays_down_until_enabled() -> None:
    net = Net()
    h = net.add(HUB, hub(wide()))
    net.add("127.0.0.2", client("127.0.0.2", 65002, "10.2.0.0/16"))
    net.run()
    assert net.command(HUB, ShutdownPeer("127.0.0.2", "maintenance")).status == 200
    net.advance(20)  # the peer tries again: refused, the shut-down peer is still there
    peer = h.peers["127.0.0.2"]
    assert peer.admin_down and peer.session.state is not State.ESTABLISHED
    assert net.command(HUB, EnablePeer("127.0.0.2")).status == 200
    net.advance(20)
    assert h.peers["127.0.0.2"].session.state is State.ESTABLISHED
