"""Transport security against real peers (issue 11 findings 1 and 6, deliverables 2 and 4),
one lab and one set of daemons for the module: TCP MD5 (RFC 2385) between gracebgpd and
FRR (``neighbor X password``), BIRD (``password``) and gobgpd (``auth-password``); GTSM
(RFC 5082) with FRR (``neighbor X ttl-security hops 1``) and BIRD (``ttl security on``);
the TTL of single-hop eBGP (gobgpd); and an FRR one router away (a sixth namespace behind
a forwarding one) that GTSM must keep out.

Each directly connected peer has two sessions with gracebgpd: over IPv4 both sides hold
the same key (and FRR and BIRD run GTSM); over IPv6 only gracebgpd holds one (the case of
the issue: before, gracebgpd connected to a peer without a password). Checked:

* the same key: Established on both sides, and every SYN on the wire carries the TCP
  MD5 signature option (kind 19, tshark ``tcp.options.md5.digest``), ours and theirs;
* a key on one side only: never Established, on either side; our SYNs are signed, the
  peer's are not, and health names MD5 (``TcpMd5Suspected``);
* a wrong key: a reload re-keys without touching the established sessions; once the
  sessions are started again they never come up and health names MD5; the right key
  again brings them up at once;
* GTSM: every BGP message between us and FRR or BIRD travels with TTL 255 (tshark
  ``ip.ttl``), both ways; to and from gobgpd (single-hop eBGP) with TTL 1;
* one hop too far: FRR's packets arrive with TTL 254, below our ttl-min 255: the session
  never comes up; with ttl-min 254 (two hops) it does;
* GoBGP's transport keys on the wire: towards gobgpd we set ip-tos 192 and tcp-mss 1200;
  our BGP messages carry DSCP CS6 and our SYN announces MSS 1200.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import Bird, Frr, GoBgpd, NeighborSpec, PeerDaemon, norm_addr
from tests.interop.test_gr_restarting_peers import Capture

pytestmark = interop

OURS = 65001
KEY = "gr4ce-md5-key"
KINDS = ("frr", "bird", "gobgpd")
ASN = {"frr": 65002, "bird": 65003, "gobgpd": 65004}
FAR_AS = 65005
GTSM_PEERS = ("frr", "bird")  # gobgpd's IPv4 session stays a plain single-hop eBGP one
GTSM_HOPS = 1


@dataclass
class Side:
    kind: str
    daemon: PeerDaemon
    theirs4: str  # the peer's addresses (our neighbor-addresses)
    theirs6: str
    ours4: str  # ours towards it (its neighbor-addresses)
    ours6: str


class TunedGraceBgpd(GraceBgpd):
    """gracebgpd with extra ``[neighbors.transport.config]`` keys per neighbor address."""

    transport: dict[str, str]

    def config(self) -> str:
        chunks = super().config().split("[[neighbors]]\n")
        for i, chunk in enumerate(chunks[1:], 1):
            m = re.search(r'neighbor-address = "([^"]+)"', chunk)
            extra = self.transport.get(norm_addr(m[1])) if m else None
            if extra:
                port = re.search(r"    remote-port = \d+\n", chunk)
                assert port is not None, chunk
                chunks[i] = chunk[:port.end()] + extra + chunk[port.end():]
        return "[[neighbors]]\n".join(chunks)


@dataclass
class Rig:
    lab: Lab
    g: TunedGraceBgpd
    cap: Capture
    sides: dict[str, Side]
    far: Side  # FRR behind a router


@dataclass(frozen=True)
class Syn:
    """A SYN (without ACK) as tshark decoded it."""

    src: str
    dst: str
    md5: bool  # carries the TCP MD5 signature option (kind 19)
    ttl: int  # IPv4 TTL or IPv6 hop limit
    line: str  # tshark's fields, for the report


def syns(cap: Capture) -> list[Syn]:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(cap.path), "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
         "-T", "json", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
         "-e", "tcp.option_kind", "-e", "tcp.options.md5.digest", "-e", "ip.ttl", "-e", "ipv6.hlim"],
        capture_output=True, text=True, timeout=60, check=False).stdout
    found = []
    for frame in json.loads(out or "[]"):
        f = {k: v[0] for k, v in frame["_source"]["layers"].items()}
        src, dst = f.get("ip.src") or f.get("ipv6.src", ""), f.get("ip.dst") or f.get("ipv6.dst", "")
        kinds = frame["_source"]["layers"].get("tcp.option_kind", [])
        line = (f"{src} > {dst} TTL {f.get('ip.ttl') or f.get('ipv6.hlim')} option kinds {','.join(kinds)}"
                f" md5 digest {f.get('tcp.options.md5.digest', '-')}")
        found.append(Syn(norm_addr(src), norm_addr(dst), "tcp.options.md5.digest" in f,
                         int(f.get("ip.ttl") or f.get("ipv6.hlim") or 0), line))
    return found


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    require(Frr, Bird, GoBgpd)
    # ns0 gracebgpd; ns1-3 FRR, BIRD, gobgpd; ns4 a router; ns5 FRR behind it
    lab = Lab(6, links=[(0, 1), (0, 2), (0, 3), (0, 4), (4, 5)])
    with lab:
        daemons: list[PeerDaemon] = [Frr(with_zebra=False), Bird(), GoBgpd()]
        sides = {k: Side(k, d, link.b_v4, link.b_v6, link.a_v4, link.a_v6)
                 for k, d, link in zip(KINDS, daemons, lab.links[:3], strict=True)}
        to_router, behind = lab.links[3], lab.links[4]
        lab.run(lab.ns(4), ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        lab.run(lab.ns(0), ["ip", "route", "add", f"{behind.b_v4}/32", "via", to_router.b_v4])
        lab.run(lab.ns(5), ["ip", "route", "add", f"{to_router.a_v4}/32", "via", behind.a_v4])
        far = Side("frr-far", Frr(with_zebra=False), behind.b_v4, "", to_router.a_v4, "")
        cap = Capture(lab, lab.ns(0), "any")
        g = TunedGraceBgpd()
        g.transport = {norm_addr(sides["gobgpd"].theirs4): "    ip-tos = 192\n    tcp-mss = 1200\n"}
        ours: list[NeighborSpec] = []
        for k, s in sides.items():
            gtsm = GTSM_HOPS if k in GTSM_PEERS else None
            ours += [NeighborSpec(s.theirs4, ASN[k], ("ipv4",), password=KEY, ttl_security=gtsm),
                     NeighborSpec(s.theirs6, ASN[k], ("ipv6",), password=KEY)]
        ours.append(NeighborSpec(far.theirs4, FAR_AS, ("ipv4",), local_address=far.ours4, ttl_security=1))
        g.start(lab, lab.ns(0), asn=OURS, router_id=sides["frr"].ours4, neighbors=ours)
        for i, (k, s) in enumerate(sides.items(), 1):
            gtsm = GTSM_HOPS if k in GTSM_PEERS else None
            s.daemon.start(lab, lab.ns(i), asn=ASN[k], router_id=s.theirs4,
                           neighbors=[NeighborSpec(s.ours4, OURS, ("ipv4",), password=KEY, ttl_security=gtsm),
                                      NeighborSpec(s.ours6, OURS, ("ipv6",))])  # no key over IPv6
        # FRR two hops away takes our TTL 254 (hops 2); we want 255 (one hop)
        far.daemon.start(lab, lab.ns(5), asn=FAR_AS, router_id=far.theirs4,
                         neighbors=[NeighborSpec(far.ours4, OURS, ("ipv4",), local_address=far.theirs4,
                                                 ttl_security=2)])
        yield Rig(lab, g, cap, sides, far)
        cap.stop()
    assert_nothing_left(lab)


def md5_condition(g: GraceBgpd, address: str) -> dict[str, object] | None:
    return next((c for c in g.health() if c["type"] == "TcpMd5Suspected" and c["subject"] == address), None)


def never_up(rig: Rig, s: Side, ours: str, theirs: str) -> None:
    """Not Established on either side, and gracebgpd's health names MD5 (after its 10 s grace)."""
    cond = wait_until(lambda: md5_condition(rig.g, theirs), 40, 0.5,
                      what=f"TcpMd5Suspected for {s.kind} at {theirs}")
    assert "TCP MD5" in str(cond), cond
    assert rig.g.session_state(theirs) != "Established"
    assert s.daemon.session_state(ours) != "Established", s.daemon.log_tail()


def test_the_same_key_comes_up_signed(rig: Rig) -> None:
    for s in rig.sides.values():
        rig.g.wait_established(s.theirs4, timeout=60)
        s.daemon.wait_established(s.ours4, timeout=60)
    seen = syns(rig.cap)
    for s in rig.sides.values():
        ours = [x for x in seen if (x.src, x.dst) == (norm_addr(s.ours4), norm_addr(s.theirs4))]
        theirs = [x for x in seen if (x.src, x.dst) == (norm_addr(s.theirs4), norm_addr(s.ours4))]
        assert ours or theirs, f"no SYN between us and {s.kind}"
        assert all(x.md5 for x in ours + theirs), [x.line for x in ours + theirs]
        for x in ours[:1] + theirs[:1]:
            print(f"MD5 {s.kind}: {x.line}")  # the wire evidence for the issue note


def test_a_key_on_one_side_only_never_comes_up(rig: Rig) -> None:
    for s in rig.sides.values():
        never_up(rig, s, s.ours6, s.theirs6)
        assert rig.g.peer_info(s.theirs6)["established_count"] == 0
    seen = syns(rig.cap)
    for s in rig.sides.values():
        ours = [x for x in seen if (x.src, x.dst) == (norm_addr(s.ours6), norm_addr(s.theirs6))]
        theirs = [x for x in seen if (x.src, x.dst) == (norm_addr(s.theirs6), norm_addr(s.ours6))]
        assert ours and all(x.md5 for x in ours), [x.line for x in ours]  # we always sign
        assert not any(x.md5 for x in theirs), [x.line for x in theirs]  # the peer has no key
        for x in (ours[:1] + theirs[:1]):
            print(f"MD5 one side {s.kind}: {x.line}")


def test_a_wrong_key_is_rekeyed_in_place_and_never_comes_up_again_until_fixed(rig: Rig) -> None:
    g = rig.g
    for s in rig.sides.values():
        g.wait_established(s.theirs4, timeout=60)
    since = {s.kind: g.peer_info(s.theirs4)["uptime"] for s in rig.sides.values()}
    spec = {norm_addr(n.address): n for n in g.neighbors}
    for s in rig.sides.values():  # one reload per peer: the established sessions stay up
        g.set_neighbor(replace(spec[norm_addr(s.theirs4)], password="wr0ng"))
    time.sleep(2)
    for s in rig.sides.values():
        info = g.peer_info(s.theirs4)
        assert info["state"] == "Established" and info["established_count"] == 1, info
        assert float(info["uptime"]) > float(since[s.kind]), info  # type: ignore[arg-type]
        assert s.daemon.session_state(s.ours4) == "Established"
    # start the sessions again (out of the configuration and back): the keys differ now
    for s in rig.sides.values():
        g.reset(s.theirs4)
    for s in rig.sides.values():
        never_up(rig, s, s.ours4, s.theirs4)
    # the right key: connecting again at once
    started = time.monotonic()
    for s in rig.sides.values():
        g.set_neighbor(replace(spec[norm_addr(s.theirs4)], password=KEY))
    for s in rig.sides.values():
        g.wait_established(s.theirs4, timeout=60)
        s.daemon.wait_established(s.ours4, timeout=60)
        assert md5_condition(g, s.theirs4) is None
    print(f"MD5 fixed key: all three up again {time.monotonic() - started:.1f}s after the reloads")


def bgp_ttls(cap: Capture, src: str, dst: str) -> tuple[set[int], list[str]]:
    """The TTLs of the BGP messages from ``src`` to ``dst`` (tshark), and a few lines."""
    out = subprocess.run(
        ["tshark", "-n", "-r", str(cap.path), "-Y", f"bgp && ip.src == {src} && ip.dst == {dst}",
         "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "ip.ttl", "-e", "bgp.type"],
        capture_output=True, text=True, timeout=60, check=False).stdout
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return {int(ln.split("\t")[2].split(",")[0]) for ln in lines}, lines[:3]


def test_gtsm_sessions_run_at_ttl_255_and_single_hop_ebgp_at_ttl_1(rig: Rig) -> None:
    for s in rig.sides.values():
        rig.g.wait_established(s.theirs4, timeout=60)
        s.daemon.wait_established(s.ours4, timeout=60)
    for s in rig.sides.values():
        want = 255 if s.kind in GTSM_PEERS else 1
        for src, dst in ((s.ours4, s.theirs4), (s.theirs4, s.ours4)):
            wait_until(lambda src=src, dst=dst: bgp_ttls(rig.cap, src, dst)[0], 20, 0.5,  # type: ignore[misc]
                       what=f"BGP messages {src} > {dst} in the capture")
            ttls, lines = bgp_ttls(rig.cap, src, dst)
            assert ttls == {want}, (s.kind, src, dst, lines)
            print(f"TTL {s.kind}: " + " | ".join(lines[:1]) + " (src dst ttl type)")


def test_gtsm_keeps_out_a_sender_one_hop_too_far(rig: Rig) -> None:
    g, far = rig.g, rig.far
    # FRR's packets reach us through the router with TTL 254; ours reach it with 254 (it
    # takes them, hops 2): our ttl-min 255 drops everything it sends after the handshake.
    arrived = wait_until(lambda: bgp_ttls(rig.cap, far.theirs4, far.ours4)[0]
                         or _tcp_ttls(rig.cap, far.theirs4, far.ours4), 40, 0.5,
                         what="packets from the FRR behind the router")
    assert arrived == {254}, arrived
    time.sleep(5)  # a few connection attempts both ways (connect-retry 1 s)
    assert g.session_state(far.theirs4) != "Established"
    assert g.peer_info(far.theirs4)["established_count"] == 0
    assert far.daemon.session_state(far.ours4) != "Established"
    print(f"GTSM far: packets from {far.theirs4} arrive with TTL {sorted(arrived)}; never Established")
    # two hops allowed: ttl-min 254 lets it in
    spec = next(n for n in g.neighbors if norm_addr(n.address) == norm_addr(far.theirs4))
    g.set_neighbor(replace(spec, ttl_security=2))
    g.wait_established(far.theirs4, timeout=60)
    far.daemon.wait_established(far.ours4, timeout=60)


def _tcp_ttls(cap: Capture, src: str, dst: str) -> set[int]:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(cap.path), "-Y", f"tcp && ip.src == {src} && ip.dst == {dst}",
         "-T", "fields", "-e", "ip.ttl"], capture_output=True, text=True, timeout=60, check=False).stdout
    return {int(x) for x in out.split()}


def test_gobgp_transport_keys_on_the_wire(rig: Rig) -> None:
    s = rig.sides["gobgpd"]
    rig.g.wait_established(s.theirs4, timeout=60)
    src, dst = norm_addr(s.ours4), norm_addr(s.theirs4)
    out = subprocess.run(
        ["tshark", "-n", "-r", str(rig.cap.path), "-Y", f"ip.src == {src} && ip.dst == {dst}",
         "-T", "fields", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.options.mss_val",
         "-e", "ip.dsfield", "-e", "bgp.type"],
        capture_output=True, text=True, timeout=60, check=False).stdout
    rows = [ln.split("\t") for ln in out.splitlines() if ln.strip()]
    syns = [r for r in rows if r[0] in ("1", "True") and r[1] in ("0", "False")]
    bgp = [r for r in rows if r[4]]
    assert syns and all(r[2] == "1200" for r in syns), syns  # our SYNs announce tcp-mss
    assert bgp and all(int(r[3], 16) == 0xC0 for r in bgp), bgp[:5]  # ip-tos 192: DSCP CS6
    print(f"transport keys: our SYN to gobgpd MSS {syns[0][2]}; {len(bgp)} BGP messages, DS {bgp[0][3]}")
