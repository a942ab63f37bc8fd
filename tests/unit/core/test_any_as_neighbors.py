"""Configured neighbors without peer-as (issue 15, item 3) on the in-memory network: from
the file as the daemon reads it, each takes the AS its OPEN names, eBGP for another AS and
iBGP for ours (GoBGP's meaning), and routes flow between them through the hub."""

from __future__ import annotations

from gracebgp.config import parse
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import SessionConfig
from gracebgp.session.state import State

from .grnet import Net, learned

HUB, HUB_AS = "127.0.0.1", 65000
EBGP, IBGP = "127.0.0.2", "127.0.0.3"

#: The hub's file: two neighbors, one without peer-as, one with peer-as = 0.
HUB_FILE = f"""\
[global.config]
as = {HUB_AS}
router-id = "{HUB}"
[[neighbors]]
[neighbors.config]
neighbor-address = "{EBGP}"
[[neighbors]]
[neighbors.config]
neighbor-address = "{IBGP}"
peer-as = 0
"""


def client(me: str, asn: int, prefix: str) -> Speaker:
    session = SessionConfig(asn, me, HUB, HUB_AS, connect_retry_time=5.0)
    return Speaker(asn, me, (NeighborSettings(HUB, session, local_address=me),), (LocalRoute(prefix),))


def test_configured_any_as_neighbors_come_up_ebgp_and_ibgp_and_routes_flow() -> None:
    cfg = parse(HUB_FILE)
    settings = tuple(NeighborSettings.from_config(n, cfg.global_) for n in cfg.neighbors)
    assert [s.session.peer_as for s in settings] == [None, None]
    net = Net()
    h = net.add(HUB, Speaker(HUB_AS, HUB, settings, (LocalRoute("192.0.2.0/24"),)))
    e = net.add(EBGP, client(EBGP, 65002, "10.2.0.0/16"))
    i = net.add(IBGP, client(IBGP, HUB_AS, "10.3.0.0/16"))
    net.run()
    for address, asn, ibgp in ((EBGP, 65002, False), (IBGP, HUB_AS, True)):
        peer = h.peers[address]
        assert peer.session.state is State.ESTABLISHED and not peer.dynamic
        assert peer.negotiated is not None
        assert (peer.negotiated.peer_as, peer.negotiated.ibgp) == (asn, ibgp)
    assert set(learned(h)) == {"10.2.0.0/16", "10.3.0.0/16"}
    # eBGP -> iBGP and iBGP -> eBGP through the hub, with the hub's own route
    assert set(learned(i)) == {"10.2.0.0/16", "192.0.2.0/24"}
    assert set(learned(e)) == {"10.3.0.0/16", "192.0.2.0/24"}
    # the eBGP side sees the hub's AS prepended; the iBGP side sees the eBGP origin AS
    assert learned(e)["10.3.0.0/16"].attrs.as_path == ((2, (HUB_AS,)),)  # AS_SEQUENCE
    assert learned(i)["10.2.0.0/16"].attrs.as_path == ((2, (65002,)),)
