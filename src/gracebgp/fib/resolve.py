"""Next-hop resolution through the kernel's routes: a BGP route is installed, and is a
candidate in selection, only when its next hop resolves.

RFC 4271 §9.1.2.1: "If the NEXT_HOP attribute of a BGP route depicts an address that is
not resolvable, or if it would become unresolvable if the route was installed in the
routing table, the BGP route MUST be excluded from the Phase 2 decision function."
RFC 4271 §5.1.3: the immediate next hop is the one of the route that covers the
NEXT_HOP address (a connected route: the address itself, on that link).

Resolution is a longest-prefix match over the kernel's routes of every protocol but ours
(a BGP route never resolves another one: no recursion through ourselves, which is what
"would become unresolvable if installed" rules out). The default route resolves only with
``via_default`` (off by default, as FRR's ``ip nht resolve-via-default``): a next hop
"reachable" only through the default route is usually a sign of a missing route.

Kernel routes come from the runtime's dump and monitor (``add`` / ``remove``); the
resolver remembers the answers it gave and, after a change, says which next hops now
resolve differently (``refresh``) so only the prefixes using them are looked at again.
"""

from __future__ import annotations

import ipaddress

from gracebgp.fib.model import Entry, Hop

#: How a connected (on-link) kernel route is written as an entry: one hop without gateway.
ON_LINK = ""


class Resolver:
    """The kernel's routes of one address family (other protocols only) and the next hops
    resolved through them. ``width``: 32 (IPv4) or 128 (IPv6)."""

    __slots__ = ("_answers", "_routes", "via_default", "width")

    def __init__(self, width: int, via_default: bool = False) -> None:
        self.width = width
        self.via_default = via_default
        self._routes: dict[int, dict[int, Entry]] = {}  # prefix length -> network -> entry
        self._answers: dict[str, Entry | None] = {}  # next hop -> its last answer

    def add(self, network: int, length: int, hops: Entry) -> None:
        """A kernel route of another protocol (or a connected one: ``(Hop(ON_LINK, ifindex),)``)."""
        self._routes.setdefault(length, {})[network] = hops

    def remove(self, network: int, length: int) -> None:
        table = self._routes.get(length)
        if table is not None:
            table.pop(network, None)
            if not table:
                del self._routes[length]

    def __len__(self) -> int:
        return sum(len(t) for t in self._routes.values())

    def _lookup(self, address: str) -> Entry | None:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and self.width == 32 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.max_prefixlen != self.width:
            return None
        value = int(ip)
        lowest = 0 if self.via_default else 1
        for length in sorted(self._routes, reverse=True):
            if length < lowest:
                break
            network = value & ~((1 << (self.width - length)) - 1)
            hops = self._routes[length].get(network)
            if hops is None:
                continue
            out = [Hop(address, h.ifindex) if h.gateway == ON_LINK else h for h in hops]
            return tuple(sorted(set(out)))
        return None

    def resolve(self, address: str) -> Entry | None:
        """The immediate next hops of ``address``, or None when it does not resolve."""
        if address in self._answers:
            return self._answers[address]
        answer = self._answers[address] = self._lookup(address)
        return answer

    def resolves(self, address: str) -> bool:
        """``address`` resolves (``rib.loc_rib.Reach``: the Loc-RIB parks routes that do not)."""
        return self.resolve(address) is not None

    def refresh(self) -> set[str]:
        """After ``add``/``remove``: the next hops asked about before whose answer changed."""
        moved = set()
        for address, old in self._answers.items():
            new = self._lookup(address)
            if new != old:
                self._answers[address] = new
                moved.add(address)
        return moved

    def adopt_answers(self, old: Resolver) -> None:
        """Take ``old``'s answers (a new table replaces it: ``refresh`` then says which next
        hops moved from what ``old`` answered)."""
        self._answers = old._answers

    def forget(self, address: str) -> None:
        """No route uses ``address`` any more: stop following it."""
        self._answers.pop(address, None)
