"""runtime.fibkernel against a real kernel, in a lab namespace (issue 17, item 1): a batch
of adds with per-route errors (a prefix another protocol holds: EEXIST, not taken; an
unreachable gateway: ENETUNREACH), an in-place replace to an ECMP route, the dump of our
protocol's routes, the monitor (other protocols' routes and address changes reported, our
own echo dropped by its socket filter, a deletion of ours by someone else reported),
deletes that never touch another protocol's route. IPv4 and IPv6."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.interop.common import checked_lab, interop, require

pytestmark = interop
PROBE = Path(__file__).with_name("fib_probe.py")


def test_kernel_edge() -> None:
    require()
    with checked_lab(3) as lab:
        ns = lab.ns(1)  # between namespaces 0 and 2
        gw1, gw2 = lab.addr(0, ns), lab.addr(2, ns)
        gw6 = lab.addr(0, ns, 6)
        text = lab.run(ns, [sys.executable, str(PROBE), gw1, gw2, gw6], timeout=60)
        out = json.loads(text)
        e = out["errnos"]
        assert out["batch"] == [0, e["EEXIST"], e["ENETUNREACH"], 0]
        added = {r["dst"]: r for r in out["after_add"]}
        assert set(added) == {"10.99.0.0/24", "2001:db8:99::/48"}
        assert added["10.99.0.0/24"]["gateway"] == gw1 and added["10.99.0.0/24"]["metric"] == 20
        assert out["replace"] == [0]
        [route] = out["after_replace"]
        assert sorted(h["gateway"] for h in route["nexthops"]) == sorted([gw1, gw2])
        assert out["dump"] == [["10.99.0.0/24", sorted([gw1, gw2]), 254, 20],
                               ["2001:db8:99::/48", [gw6], 254, 20]]
        assert out["dump_in_loop"] == 2
        assert out["monitor"][0] == "10.96.0.0" and "link-or-address" in out["monitor"]
        assert not any(isinstance(m, str) and m.startswith("10.95.") for m in out["monitor"])
        assert out["own_seen"] == 0  # not even read: dropped by the socket filter
        assert out["own_deleted"] == [1, [None]]  # someone deleted ours: reported (review 17, item 7)
        assert out["delete"] == [0, e["ESRCH"], 0] and out["delete_rest_ok"]
        assert out["left"] == []
        [static] = out["static_kept"]
        assert static["protocol"] == "static"


START = Path(__file__).with_name("fib_start_probe.py")


def test_start_adopts_ours_deletes_our_leftovers_and_tells_f_truthfully(tmp_path: Path) -> None:
    """Review of issue 17, items 5, 6, 8: our protocol's routes in another table or at
    another metric (a previous run's settings) are deleted at start; another protocol's
    route of a prefix at any metric is a conflict; F=1 only after a retaining stop left
    routes that were found, F=0 after our routes were deleted; fib-table, fib-protocol and
    fib-metric decide which routes are ours and where ours go."""
    require()
    with checked_lab(2) as lab:
        gw = lab.addr(1, lab.ns(0))
        out = json.loads(lab.run(lab.ns(0), [sys.executable, str(START), str(tmp_path), gw], timeout=60))
    first, second, third, other = out["first"], out["second"], out["third"], out["other"]
    assert first["adopted"] == ["10.62.0.0/24"] and first["f"] is False  # no marker yet
    assert first["left"] == ["10.62.0.0/24 main 20"]  # the table-100 and metric-50 ones are gone
    foreign = {k: v for k, v in first["foreign"].items() if k.startswith("10.6")}  # not the link's own
    assert foreign == {"10.63.0.0/24": 196, "10.64.0.0/24": 4}
    assert second["f"] is True and second["adopted"] == ["10.62.0.0/24"]
    assert third["f"] is False and third["adopted"] == [] and third["left"] == []
    assert "no ipv4-unicast route of ours" in third["why"] or "no marker" in third["why"]
    assert other["adopted"] == ["10.65.0.0/24"]
    assert out["other_add"] == [0] and out["other_kernel"] == ["10.65.0.0/24 30", "10.66.0.0/24 30"]
