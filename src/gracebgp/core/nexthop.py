"""The semantic NEXT_HOP check of received routes: a route whose next hop is an address
of this speaker is ignored, logged (rate-limited per peer) and counted.

RFC 4271 §6.3: "The IP address in the NEXT_HOP MUST meet the following criteria to be
considered semantically correct: a) It MUST NOT be the IP address of the receiving
speaker. ... If the NEXT_HOP attribute is semantically incorrect, the error SHOULD be
logged, and the route SHOULD be ignored. In this case, a NOTIFICATION message SHOULD NOT be
sent, and the connection SHOULD NOT be closed." RFC 4271 §5.1.3: "A BGP speaker SHALL NOT
install a route with itself as the next hop." The rule has no eBGP/iBGP distinction, and
neither has this check; it covers the NEXT_HOP attribute and the MP_REACH_NLRI next hop
(RFC 4760 §3: the network address of the next hop).

Our addresses are the local ends of the open TCP connections of every peer (what the
runtime reported in ``Connected``), in each text form a next hop can take (IPv4 also as
IPv4-mapped IPv6, RFC 4291 §2.5.5.2). The router id is not one: it need not be an address
of ours. A next hop equal to the sending peer's own address is always the peer's (two
speakers on one host, e.g. 127.0.0.1 with other ports, share the address), never ignored.

Checked once per UPDATE (one set lookup in the Speaker), not per prefix (DESIGN.md §3).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol

from gracebgp.core.peer import Peer
from gracebgp.core.views import Emits
from gracebgp.types import Family


class NextHopHost(Emits, Protocol):
    """What the check needs of the speaker: the time of the input and its log."""

    @property
    def now(self) -> float: ...

REASON = "NEXT_HOP is an address of ours (RFC 4271 §5.1.3, §6.3 a): ignored"
#: After the first line about a peer, at most one line per interval, with a count.
LOG_INTERVAL = 60.0


def _forms(address: str) -> list[str]:
    """The text forms of one of our addresses that a next hop may carry."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return []
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):  # the decoder writes the mapped form in hex
        return [str(ip), f"::ffff:{ip}", ipaddress.IPv6Address(f"::ffff:{ip}").compressed]
    return [ip.compressed]


def own_addresses(peers: Iterable[Peer]) -> frozenset[str]:
    """Our addresses on the open connections, in every form a next hop can take: the
    Speaker keeps the set and computes it again only when a connection opens or closes."""
    return frozenset(form for p in peers for a in p.local_addresses.values() for form in _forms(a))


def _same(a: str, b: str) -> bool:
    return _forms(a)[:1] == _forms(b)[:1]


def ignored(speaker: NextHopHost, peer: Peer, family: Family, next_hop: tuple[str, ...], count: int) -> bool:
    """True when the routes of one UPDATE (``count`` prefixes of ``family``), whose next
    hop the caller found in ``speaker.own``, are to be ignored; counts them and logs,
    rate-limited."""
    if _same(next_hop[0], peer.address):
        return False
    st = peer.stats
    st.own_next_hop += count
    st.own_next_hop_unlogged += count
    now, last = speaker.now, st.own_next_hop_logged_at
    if last is None or now - last >= LOG_INTERVAL:
        more = "" if last is None else f" in the last {now - last:.0f}s"
        speaker.log("warning", f"{st.own_next_hop_unlogged} {family} route(s) with NEXT_HOP {next_hop[0]}"
                    f"{more}: {REASON} (no more than one line per {LOG_INTERVAL:.0f}s; "
                    f"{st.own_next_hop} in all)", peer, "rib", "next-hop-ignored", family=str(family),
                    next_hop=next_hop[0], total=st.own_next_hop)
        st.own_next_hop_logged_at = now
        st.own_next_hop_unlogged = 0
    return True
