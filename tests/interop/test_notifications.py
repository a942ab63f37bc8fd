"""Every NOTIFICATION gracebgpd sends arrives (issue 10 finding 8), read back from the
peers' own logs: 20 resets towards FRR and 20 towards gobgpd, spread over the kinds of
reset an operator causes (ResetPeer, a reload whose change needs a new session, a
neighbor shutdown and enable, and stopping the daemon), all with graceful restart and
the N bit (RFC 8538) negotiated. Each must be logged by the peer as a received
NOTIFICATION with the code and subcode we sent; FRR must never take our reconnect for a
restart ("NSF peer closed the session"), which it did when our new connection beat the
NOTIFICATION. One lab and one set of daemons for the module."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest

from gracebgp.api.client import Client
from gracebgp.api.schema import Event
from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import Frr, GoBgpd, GrSpec, NeighborSpec, RouteSpec

pytestmark = interop

OURS, FRR_AS, GOBGP_AS = 65001, 65002, 65003
GR = GrSpec(restart_time=120, notification=True)
ROUNDS = 20  # NOTIFICATIONs per peer daemon; the last one is the daemon's stop
KINDS = ("reset", "reload", "shutdown")
#: What each kind puts on the wire to a peer that negotiated N (spec section 6), as
#: (code, subcode, wrapped in Hard Reset): Administrative Reset and Other Configuration
#: Change are RFC 8538 "provisional" (sent plain), Administrative Shutdown goes out as a
#: Hard Reset (6/9) wrapping 6/2.
EXPECTED = {"reset": (6, 4, False), "reload": (6, 6, False), "shutdown": (6, 2, True), "stop": (6, 2, True)}
#: gobgpd holds a peer down for ~5 s after a NOTIFICATION, so it gets four sessions (one
#: address pair each) and five rounds; FRR is back at once and gets twenty rounds.
GOBGP_SESSIONS = 4

_FRR_NOTE = re.compile(r"%NOTIFICATION(\(Hard Reset\))?: received from neighbor (\S+) (\d+)/(\d+)")
_GOBGP_NOTE = re.compile(r'msg="received notification".* Code=(\d+) .*Data="\[([\d ]*)\]".* Key=(\S+) '
                         r"Subcode=(\d+)")


@dataclass
class Rig:
    lab: Lab
    g: GraceBgpd
    frr: Frr
    gobgp: GoBgpd
    frr_addr: str  # FRR's address, as we configure it
    our_frr_side: str  # our address towards FRR, as FRR logs it
    gobgp_addrs: list[str]  # gobgpd's addresses, one per session
    our_gobgp_sides: list[str]


def frr_notes(rig: Rig) -> list[tuple[int, int, bool]]:
    """FRR's log lines for NOTIFICATIONs received from us (a Hard Reset shows the inner one)."""
    text = _read(rig.frr.workdir / "bgpd.log")
    return [(int(m[3]), int(m[4]), bool(m[1])) for m in _FRR_NOTE.finditer(text) if m[2] == rig.our_frr_side]


def gobgp_notes(rig: Rig, ours: str) -> list[tuple[int, int, bool]]:
    """gobgpd's ``received notification`` lines for the session from ``ours`` (a Hard
    Reset is shown as 6/9 with the inner code and subcode first in Data)."""
    out = []
    for m in _GOBGP_NOTE.finditer(_read(rig.gobgp.workdir / "gobgpd.log")):
        if m[3] != ours:
            continue
        code, sub, data = int(m[1]), int(m[4]), [int(x) for x in m[2].split()]
        hard = code == 6 and sub == 9 and len(data) >= 2
        out.append((data[0], data[1], True) if hard else (code, sub, False))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    require(Frr, GoBgpd)
    lab = Lab(3, links=[(0, 1), (0, 2)])
    with lab:
        to_frr, to_gobgp = lab.links
        ns0, ns2 = lab.ns(0), lab.ns(2)
        ours = [to_gobgp.a_v4] + [f"10.254.1.{11 + i}" for i in range(GOBGP_SESSIONS - 1)]
        theirs = [to_gobgp.b_v4] + [f"10.254.1.{21 + i}" for i in range(GOBGP_SESSIONS - 1)]
        for ns, extra in ((ns0, ours[1:]), (ns2, theirs[1:])):
            for addr in extra:
                lab.run(ns, ["ip", "addr", "add", f"{addr}/24", "dev", to_gobgp.ifname(ns)])
        g, frr, gobgp = GraceBgpd(), Frr(with_zebra=False), GoBgpd()
        pairs = list(zip(ours, theirs, strict=True))
        g.start(lab, ns0, asn=OURS, router_id=to_frr.a_v4,
                neighbors=[NeighborSpec(to_frr.b_v4, FRR_AS, graceful_restart=GR)]
                + [NeighborSpec(t, GOBGP_AS, graceful_restart=GR, local_address=o) for o, t in pairs],
                originate=[RouteSpec("10.1.0.0/24")])
        frr.start(lab, lab.ns(1), asn=FRR_AS, router_id=to_frr.b_v4,
                  neighbors=[NeighborSpec(to_frr.a_v4, OURS, graceful_restart=GR)])
        gobgp.start(lab, ns2, asn=GOBGP_AS, router_id=to_gobgp.b_v4,
                    neighbors=[NeighborSpec(o, OURS, graceful_restart=GR, local_address=t)
                               for o, t in pairs])
        yield Rig(lab, g, frr, gobgp, to_frr.b_v4, to_frr.a_v4, theirs, ours)
    assert_nothing_left(lab)


def _counts(rig: Rig, targets: list[str]) -> list[int]:
    out = []
    for t in targets:
        if t == rig.frr_addr:
            out.append(len(frr_notes(rig)))
        else:
            out.append(len(gobgp_notes(rig, rig.our_gobgp_sides[rig.gobgp_addrs.index(t)])))
    return out


def _wait_logged(rig: Rig, targets: list[str], want: int, what: str) -> None:
    wait_until(lambda: all(c >= want for c in _counts(rig, targets)) or None, 10, 0.05,
               what=f"the peers to log the NOTIFICATION of {what} ({want} each)")


def _up(rig: Rig, targets: list[str], timeout: float = 30.0) -> None:
    for t in targets:
        rig.g.wait_established(t, timeout)
        if t == rig.frr_addr:
            rig.frr.wait_established(rig.our_frr_side, timeout)
        else:
            rig.gobgp.wait_established(rig.our_gobgp_sides[rig.gobgp_addrs.index(t)], timeout)


def _reload_events(rig: Rig) -> list[Event]:
    return [e for e in rig.g._api(Client.events_history) if e.kind == "reload"]


def _reset(rig: Rig, kind: str, targets: list[str], want: int) -> None:
    g = rig.g
    if kind == "reset":
        for t in targets:
            g._api(partial(Client.reset_peer, address=t, mode="hard"))
    elif kind == "reload":  # a hold-time change needs a new OPEN: the session is reset
        # (the driver writes keepalive-interval = hold-time / 3: it changes too, 3 <-> 4)
        g.neighbors = [replace(nb, hold_time=12 if nb.hold_time == 9 else 9) if nb.address in targets else nb
                       for nb in g.neighbors]
        before = len(_reload_events(rig))
        g._reload()
        # the reload event says per peer what changed and what was done
        last = wait_until(lambda: _reload_events(rig)[before:], 10, 0.05, what="the reload event")[0]
        assert {p["peer"]: (p["changed"], p["action"], p["notification"]) for p in last.data["peers"]} == {
            t: (["hold-time", "keepalive-interval"], "session reset", "CEASE/OTHER_CONFIGURATION_CHANGE")
            for t in targets}
    elif kind == "shutdown":
        for t in targets:
            g._api(partial(Client.shutdown_peer, address=t, message="maintenance"))
        _wait_logged(rig, targets, want, kind)
        for t in targets:
            g._api(partial(Client.enable_peer, address=t))
    _wait_logged(rig, targets, want, kind)
    _up(rig, targets)


def test_every_notification_reaches_frr_and_gobgpd(rig: Rig) -> None:
    frr, gobgps = [rig.frr_addr], rig.gobgp_addrs
    _up(rig, frr + gobgps)
    to_frr = [KINDS[n % len(KINDS)] for n in range(ROUNDS - 1)]
    to_gobgp = [KINDS[n % len(KINDS)] for n in range(ROUNDS // GOBGP_SESSIONS - 1)]
    for n, kind in enumerate(to_frr):
        _reset(rig, kind, frr, n + 1)
    for n, kind in enumerate(to_gobgp):
        _reset(rig, kind, gobgps, n + 1)
    rig.g.stop_withdraw()  # the last NOTIFICATION of every session: Hard Reset, routes go
    to_frr.append("stop")
    to_gobgp.append("stop")
    _wait_logged(rig, frr, len(to_frr), "the stop")
    _wait_logged(rig, gobgps, len(to_gobgp), "the stop")

    assert frr_notes(rig) == [EXPECTED[k] for k in to_frr]
    for ours in rig.our_gobgp_sides:
        assert gobgp_notes(rig, ours) == [EXPECTED[k] for k in to_gobgp], ours
    assert sum(_counts(rig, gobgps)) == ROUNDS == len(frr_notes(rig))
    # Our reconnect never overtook a NOTIFICATION: FRR would take it for our restart.
    assert "NSF peer closed the session" not in _read(rig.frr.workdir / "bgpd.log")
