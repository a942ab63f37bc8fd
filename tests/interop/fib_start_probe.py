"""Run inside a lab namespace by test_fib_kernel.py: ``FibDriver.start`` and ``stop``
against the namespace's kernel (what is adopted, what is deleted, the F bit across stops)
and prints what happened as one JSON object (argv: a state directory, a neighbor's address)."""

from __future__ import annotations

import json
import subprocess
import sys

from gracebgp.fib.model import Hop, Op, OpKind
from gracebgp.runtime.fibdriver import FibDriver, FibSettings
from gracebgp.runtime.fibkernel import DEFAULT_PROTOCOL
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.nlri import format_prefix, parse_prefix

P = str(DEFAULT_PROTOCOL)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def ours() -> list[str]:
    """Every route of our protocol in every table: 'prefix table metric'."""
    argv = ["ip", "-j", "-4", "route", "show", "table", "all", "proto", P]
    routes = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout or "[]")
    return sorted(f"{r['dst']} {r.get('table', 'main')} {r.get('metric', 0)}" for r in routes)


def start(state: str, settings: FibSettings) -> tuple[FibDriver, dict[str, object]]:
    d = FibDriver(settings, state)
    bit, why = d.start()[IPV4_UNICAST]
    fib = d.table.families[IPV4_UNICAST]
    return d, {"f": bit, "why": why, "adopted": sorted(format_prefix(k, 1) for k in fib.installed),
               "foreign": {format_prefix(k, 1): p for k, p in fib.foreign.items()}, "left": ours()}


def main() -> None:
    state, gw = sys.argv[1:3]
    via = ["via", gw, "proto"]
    ip("route", "add", "10.60.0.0/24", *via, P, "table", "100", "metric", "20")  # a former fib-table
    ip("route", "add", "10.61.0.0/24", *via, P, "metric", "50")  # a former fib-metric
    ip("route", "add", "10.62.0.0/24", *via, P, "metric", "20")  # ours
    ip("route", "add", "10.63.0.0/24", *via, "196", "metric", "20")  # FRR's staticd: not ours
    ip("route", "add", "10.64.0.0/24", *via, "static", "metric", "100")  # another metric: a conflict
    out: dict[str, object] = {}
    d, out["first"] = start(state, FibSettings())
    d.stop(withdraw=False)  # a retaining stop: the marker stays
    d, out["second"] = start(state, FibSettings())
    d.stop(withdraw=True)  # our routes deleted: the marker goes
    d, out["third"] = start(state, FibSettings())
    d.stop(withdraw=False)
    # other fib-table / fib-protocol / fib-metric: only routes of those are ours
    ip("route", "add", "10.65.0.0/24", *via, "202", "table", "100", "metric", "30")
    other = FibSettings(table=100, protocol=202, metric=30)
    d, out["other"] = start(state, other)
    assert d.kernel is not None
    key = parse_prefix("10.66.0.0/24")[1]
    add = Op(OpKind.ADD, IPV4_UNICAST, key, (Hop(gw),))
    out["other_add"] = [e for _, e in d.kernel.apply([add])]
    text = subprocess.run(["ip", "-j", "route", "show", "table", "100", "proto", "202"], capture_output=True,
                          text=True, check=True).stdout
    out["other_kernel"] = sorted(f"{r['dst']} {r.get('metric', 0)}" for r in json.loads(text))
    d.stop(withdraw=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
