"""Issue 10 finding 6: a flap storm keeps the interned objects bounded by the table.

The sans-IO Speaker holds 5,000 paths (local routes, each its own attribute set) and is
driven by hand-made peer bytes: peer F connects, gets the whole table, sends a few paths
of its own (exported to the stable peer G) and goes away, 500 times.
"""

from __future__ import annotations

import gc

from gracebgp.config import parse
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.rib.path import Exported, live_paths
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import AsPath, AttrSet, CodecContext, Communities, NextHop, Origin
from gracebgp.wire.attrset import interned_count
from gracebgp.wire.capabilities import FourOctetAs, Multiprotocol
from gracebgp.wire.messages import Open
from gracebgp.wire.nlri import parse_prefix
from gracebgp.wire.update import pack_ipv4

F, G = "127.0.0.2", "127.0.0.3"
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
NOW = 1000.0
CONFIG = f"""
[global.config]
  as = 65000
  router-id = "127.0.0.1"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{F}"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{G}"
    peer-as = 65002
  [neighbors.transport.config]
    passive-mode = true
"""


class Driver:
    """The Speaker under test and the bytes its two raw peers send."""

    def __init__(self, local_paths: int, peer_paths: int) -> None:
        cfg = parse(CONFIG)
        self.sp = Speaker(cfg.global_.asn, cfg.global_.router_id,
                          [NeighborSettings.from_config(n, cfg.global_) for n in cfg.neighbors])
        for i in range(local_paths):
            self.sp.add_route(LocalRoute(f"172.16.{i >> 8}.{i & 255}/32", med=i,
                                         communities=(f"65000:{i}",)))
        self.sp.handle(ev.Started(), NOW)
        ctx = CodecContext()
        updates: list[bytes] = []
        for i in range(peer_paths):
            attrs = AttrSet([Origin(0), AsPath(((2, (65001, 1000 + i)),)), NextHop(F),
                             Communities((65001 << 16 | i,))])
            updates += pack_ipv4(attrs, [parse_prefix(f"10.0.{i}.0/24")[1]], ctx)
        self.updates = b"".join(updates)
        self.conn = 100
        self.sent: dict[str, int] = {}  # octets the speaker sent to each peer

    def _run(self, inp: ev.Input) -> None:
        self._count(self.sp.handle(inp, NOW))
        self._settle()

    def _count(self, outputs: list[ev.Output]) -> None:
        for out in outputs:
            if isinstance(out, ev.Send):
                self.sent[out.peer] = self.sent.get(out.peer, 0) + len(out.data)

    def _settle(self) -> None:
        """Run the slices of a large table or flush until nothing is pending."""
        for _ in range(1_000):
            if not self.sp.pending():
                return
            for inp in (ev.Continue(), ev.InputDrained()):
                self._count(self.sp.handle(inp, NOW))
        raise AssertionError("the speaker did not finish its slices")

    def up(self, peer: str, asn: int, data: bytes = b"") -> int:
        self.conn += 1
        hello = Open.build(asn, 90, peer, (Multiprotocol(1, 1), FourOctetAs(asn))).encode()
        self._run(ev.Connected(peer, self.conn, "127.0.0.1", outgoing=False))
        self._run(ev.Received(peer, self.conn, hello + KEEPALIVE + data))
        self._run(ev.InputDrained())
        assert self.sp.peers[peer].session.state == State.ESTABLISHED
        return self.conn

    def down(self, peer: str, conn: int) -> None:
        self._run(ev.Disconnected(peer, conn, "connection closed"))
        self._run(ev.InputDrained())


def counts() -> tuple[int, int, int]:
    """Received and local Paths alive, attribute sets interned, exported paths alive (kept
    as their encoding: ``Exported``, in no table)."""
    gc.collect()
    return live_paths(), interned_count(), sum(1 for o in gc.get_objects() if o.__class__ is Exported)


def test_500_flaps_of_a_peer_keep_interned_objects_bounded() -> None:
    d = Driver(local_paths=5000, peer_paths=20)
    d.up(G, 65002)
    sizes: list[tuple[int, int, int]] = []
    for n in range(500):
        conn = d.up(F, 65001, d.updates)
        if n == 0:
            assert len(d.sp.loc[IPV4_UNICAST]) == 5020
            first = counts()
        d.down(F, conn)
        if n % 100 == 99:
            sizes.append(counts())
    assert d.sent[F] > 500 * 5000 * 40  # the whole table went out every time
    # 5,000 local Paths and their 5,000 exports to F (kept by the local Paths' export memo)
    # stay; F's 20 Paths, their sets and their exports to G are gone with F's routes.
    assert sizes == [(first[0] - 20, first[1] - 20, first[2] - 20)] * 5, (first, sizes)


def test_state_returns_to_baseline_after_peer_down_and_withdrawal() -> None:
    base = counts()
    d = Driver(local_paths=300, peer_paths=50)
    d.up(G, 65002)
    conn = d.up(F, 65001, d.updates)
    # 300 local and 50 from F (Paths and sets); 300 exported to F and 50 to G
    assert counts() == (base[0] + 350, base[1] + 350, base[2] + 350)
    d.down(F, conn)
    assert counts() == (base[0] + 300, base[1] + 300, base[2] + 300)
    for family, key in list(d.sp.local_routes):
        d.sp.delete_route(family, key)
    d._run(ev.InputDrained())
    assert counts() == base
