"""Run inside a lab namespace by test_fib_kernel.py: drives runtime.fibkernel against the
namespace's kernel and prints what happened as one JSON object (argv: the two neighbor
addresses, the two IPv6 ones)."""

from __future__ import annotations

import asyncio
import errno
import json
import subprocess
import sys
from typing import Any

from gracebgp.fib.model import Hop, Op, OpKind
from gracebgp.runtime.fibkernel import KernelFib, Monitor, dump
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire.nlri import format_prefix, parse_prefix


def key(text: str) -> int:
    return parse_prefix(text)[1]


def routes(*args: str) -> list[object]:
    """``ip -j route show ARGS`` for IPv4 and IPv6 together."""
    out: list[object] = []
    versions = ("-6",) if ":" in "".join(args) else ("-4",) if args and args[0][0].isdigit() else ("-4", "-6")
    for version in versions:
        text = subprocess.run(["ip", "-j", version, "route", "show", *args], capture_output=True, text=True,
                              check=True).stdout
        out += json.loads(text or "[]")
    return out


def main() -> None:
    gw1, gw2, gw6 = sys.argv[1:4]
    fib = KernelFib(protocol=196, metric=20)
    v4, v6 = IPV4_UNICAST, IPV6_UNICAST
    out: dict[str, object] = {}
    static = ["ip", "route", "add", "10.98.0.0/24", "via", gw1, "proto", "static", "metric", "20"]
    subprocess.run(static, check=True)
    add = Op(OpKind.ADD, v4, key("10.99.0.0/24"), (Hop(gw1),))
    ecmp = Op(OpKind.REPLACE, v4, key("10.99.0.0/24"), (Hop(gw1), Hop(gw2)))
    conflict = Op(OpKind.ADD, v4, key("10.98.0.0/24"), (Hop(gw2),))
    unreachable = Op(OpKind.ADD, v4, key("10.97.0.0/24"), (Hop("203.0.113.1"),))
    add6 = Op(OpKind.ADD, v6, key("2001:db8:99::/48"), (Hop(gw6),))
    out["batch"] = [e for _, e in fib.apply([add, conflict, unreachable, add6])]
    out["after_add"] = routes("proto", "196")
    out["replace"] = [e for _, e in fib.apply([ecmp])]
    out["after_replace"] = routes("10.99.0.0/24")
    ours = [(format_prefix(r.key, r.family.afi), [h.gateway for h in r.hops], table, metric)
            for r, table, _type, metric in dump([v4, v6]) if r.protocol == 196]
    out["dump"] = sorted(ours)

    async def in_loop() -> int:  # as the daemon dumps after a link change: inside its loop
        return sum(1 for r, *_ in dump([v4, v6]) if r.protocol == 196)

    out["dump_in_loop"] = asyncio.run(in_loop())
    changes: list[Any] = []
    mon = Monitor(196, changes.append)
    subprocess.run(["ip", "route", "add", "10.96.0.0/24", "via", gw1, "proto", "static"], check=True)
    extra = [Op(OpKind.ADD, v4, key(f"10.95.{i // 256}.{i % 256}/32"), (Hop(gw1),)) for i in range(600)]
    fib.apply(extra)  # our own echo: skipped by the monitor
    subprocess.run(["ip", "addr", "add", "10.200.0.1/32", "dev", "lo"], check=True)
    mon.readable()
    changes_before = len(changes)
    subprocess.run(["ip", "route", "del", "10.95.0.0/32", "proto", "196"], check=True)  # someone else
    mon.readable()
    out["own_deleted"] = [mon.own_deleted, changes[changes_before:]]
    out["monitor"] = ["link-or-address" if c is None else c.get_attr("RTA_DST") for c in changes]
    out["own_seen"] = mon.own_seen  # the socket filter drops our echo in the kernel
    deletes = [Op(OpKind.DELETE, v4, key("10.99.0.0/24")), Op(OpKind.DELETE, v4, key("10.98.0.0/24")),
               Op(OpKind.DELETE, v6, key("2001:db8:99::/48")), *(Op(OpKind.DELETE, v4, o.key) for o in extra)]
    results = [e for _, e in fib.apply(deletes)]
    out["delete"] = results[:3]
    out["delete_rest_ok"] = results[3] == errno.ESRCH and all(e == 0 for e in results[4:])
    out["left"] = routes("proto", "196")
    out["static_kept"] = routes("10.98.0.0/24")
    out["errnos"] = {"EEXIST": errno.EEXIST, "ENETUNREACH": errno.ENETUNREACH, "ESRCH": errno.ESRCH}
    fib.close()
    mon.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
