"""Helpers shared by the interop tests: skip rules, a lab whose teardown is checked, the
two standard sessions between the lab's namespaces, and a route matcher."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.interop.netns import Lab, netns_names, pid_alive, requires_root_and_netns
from tests.interop.peers import Family, GrSpec, NeighborSpec, PeerDaemon, SeenRoute

interop = pytest.mark.interop

AS4 = 4200000001  # needs the 4-octet AS capability (RFC 6793)


def require(*drivers: type[PeerDaemon]) -> None:
    """Skip (saying what is missing) unless root + netns work and the daemons are installed."""
    requires_root_and_netns()
    for drv in drivers:
        missing = drv.missing_binaries()
        if missing:
            pytest.skip(
                f"{drv.kind} driver needs {', '.join(missing)} (apt-get install -y gobgpd bird2 frr exabgp)"
            )


def assert_nothing_left(lab: Lab) -> None:
    left = set(lab.namespaces) & set(netns_names())
    assert not left, f"namespaces left behind: {sorted(left)}"
    alive = [p for p in lab.processes if pid_alive(p.pid)]
    assert not alive, f"processes left alive: {[(p.name, p.pid) for p in alive]}"
    if not lab.keep_workdir:
        assert not lab.workdir.exists(), f"work dir left behind: {lab.workdir}"


@contextlib.contextmanager
def checked_lab(n: int = 2) -> Iterator[Lab]:
    """A lab whose clean teardown is asserted when the body succeeded."""
    lab = Lab(n)
    with lab:
        yield lab
    assert_nothing_left(lab)


def pair_neighbors(
    lab: Lab, me: int, peer_as: int, gr: GrSpec | None = None, passive: bool = False, port: int = 179
) -> list[NeighborSpec]:
    """The two sessions towards the other namespace: ipv4 over v4, ipv6 over v6 transport."""
    link = lab.links[0]
    ns = lab.ns(me)
    sessions: tuple[tuple[int, Family], ...] = ((4, "ipv4"), (6, "ipv6"))
    return [
        NeighborSpec(
            link.peer_addr(ns, fam), peer_as, (family,), passive=passive, graceful_restart=gr, port=port
        )
        for fam, family in sessions
    ]


def has(r: SeenRoute, **want: object) -> bool:
    return all(getattr(r, k) == v for k, v in want.items())


