"""A restart that cannot come back does not go down (issue 10, finding 1), seen by FRR.

gracebgpd and FRR bgpd in two namespaces, graceful restart on both sides, one IPv4 and
one IPv6 session. gracebgpd's configuration file is broken (an unknown key), then
``gracebgp restart`` is run: the command fails with one line and exit 1, the daemon
keeps its PID and does not re-execute, and FRR, through its own ``vtysh ... json``,
shows both sessions Established with the same connection count and the same
established-since time, and our route present and not stale. Before the fix, the daemon
closed its sessions the graceful-restart way, re-executed, failed its check and exited:
FRR held our routes stale until the Restart Time, then dropped them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.interop.common import checked_lab, interop, pair_neighbors, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.peers import Family, Frr, GrSpec, RouteSpec, norm_addr

OURS, THEIRS = 65001, 65002
GR = GrSpec(restart_time=60)
PREFIX_V4, PREFIX_V6 = "10.1.0.0/24", "2001:db8:1::/48"


def frr_neighbor(p: Frr, address: str) -> dict[str, Any]:
    a = norm_addr(address)
    data = json.loads(p.vtysh(f"show bgp neighbors {a} json"))
    info: dict[str, Any] = data.get(a) or next(iter(data.values()), {})
    return info


def session_marks(p: Frr, address: str) -> tuple[str, int, int, object]:
    """What a flap would change: state, connections established / dropped, up since."""
    n = frr_neighbor(p, address)
    return (str(n.get("bgpState")), int(n.get("connectionsEstablished", -1)),
            int(n.get("connectionsDropped", -1)), n.get("bgpTimerUpEstablishedEpoch"))


@interop
def test_frr_keeps_session_and_fresh_routes_through_a_refused_restart() -> None:
    require(Frr)
    with checked_lab() as lab:
        link = lab.links[0]
        g, p = GraceBgpd(), Frr()
        g.start(lab, lab.ns(0), asn=OURS, router_id=link.a_v4, neighbors=pair_neighbors(lab, 0, THEIRS, GR),
                originate=[RouteSpec(PREFIX_V4), RouteSpec(PREFIX_V6)])
        p.start(lab, lab.ns(1), asn=THEIRS, router_id=link.b_v4, neighbors=pair_neighbors(lab, 1, OURS, GR))
        for addr in (link.a_v4, link.a_v6):
            p.wait_established(addr, timeout=45)
        assert not p.wait_route(link.a_v4, "ipv4", PREFIX_V4).stale
        assert not p.wait_route(link.a_v6, "ipv6", PREFIX_V6).stale
        before = {addr: session_marks(p, addr) for addr in (link.a_v4, link.a_v6)}
        assert all(m[0] == "Established" and m[1] >= 1 and m[3] for m in before.values()), before
        assert g.proc is not None
        pid, starts = g.proc.pid, g.starts()

        conf = g.workdir / "gracebgpd.toml"
        conf.write_text(conf.read_text().replace("[global.config]", "[global.config]\n  colour = 'blue'", 1))
        r = subprocess.run([sys.executable, "-m", "gracebgp.cli.main", "--socket", str(g.api_socket),
                            "restart"], capture_output=True, text=True, timeout=60, check=False)

        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr, g.log_tail(20))
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gracebgp: error: restart refused: "), r.stderr
        assert "colour" in lines[0] and f"{conf}:" in lines[0], lines[0]
        # Same process, never re-executed, still serving.
        g.check_alive()
        assert g.proc.pid == pid and g.proc.alive() and g.starts() == starts
        assert g.session_state(link.b_v4) == "Established"
        # FRR saw nothing: same sessions (no drop, no new connection), routes fresh.
        after = {addr: session_marks(p, addr) for addr in (link.a_v4, link.a_v6)}
        # FRR derives the up-since epoch from its uptime (whole seconds): it may tick by one.
        assert all(after[a][:3] == before[a][:3] and abs(int(after[a][3]) - int(before[a][3])) <= 1  # type: ignore[call-overload]
                   for a in before), (before, after)
        sessions: tuple[tuple[str, Family, str], ...] = ((link.a_v4, "ipv4", PREFIX_V4),
                                                         (link.a_v6, "ipv6", PREFIX_V6))
        for addr, family, prefix in sessions:
            route = p.find_route(addr, family, prefix)
            assert route is not None and not route.stale, route
