"""What a prefix limit costs on the receive path: the sans-IO Speaker takes UPDATEs of one
IPv4 prefix each (the worst case for a per-UPDATE hook: core.limits.check runs once per
UPDATE, never per prefix), 400 to a TCP read, from one Established peer. Reported: the
best of ``--runs`` times for all UPDATEs, without and with a limit (max-prefixes far above
the count, shutdown-threshold-pct 80, so both checks run and neither fires).

    .venv/bin/python bench/prefix_limit.py --updates 40000 --runs 7
"""

from __future__ import annotations

import argparse
import time

from gracebgp.core import events as ev
from gracebgp.core.limits import PrefixLimitSettings
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import SessionConfig
from gracebgp.session.negotiate import build_open
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import AsPath, AttrSet, CodecContext, NextHop, Origin, Update, encode_update
from gracebgp.wire.messages import KEEPALIVE_BYTES

PEER = "127.0.0.50"
PER_READ = 400


def run(updates: int, limited: bool) -> float:
    cfg = SessionConfig(65000, "127.0.0.1", PEER, 65050, hold_time=90, families=(IPV4_UNICAST,))
    limits = ((IPV4_UNICAST, PrefixLimitSettings(10 * updates, 80)),) if limited else ()
    sp = Speaker(65000, "127.0.0.1", [NeighborSettings(PEER, cfg, prefix_limits=limits)])
    conn = next(o.conn for o in sp.handle(ev.Started(), 1.0) if isinstance(o, ev.Connect))
    sp.handle(ev.Connected(PEER, conn, "127.0.0.1", outgoing=True), 1.0)
    their_open = build_open(SessionConfig(65050, "10.0.0.50", "127.0.0.1", 65000, families=(IPV4_UNICAST,)))
    sp.handle(ev.Received(PEER, conn, their_open.encode()), 1.0)
    sp.handle(ev.Received(PEER, conn, KEEPALIVE_BYTES), 1.0)
    attrs = AttrSet([Origin(0), AsPath(((2, (65050,)),)), NextHop(PEER)])
    ctx = CodecContext(as4=True)
    msgs = [encode_update(Update(attrs=attrs, nlri=((24 << 32) | (0x0A000000 + (i << 8)),)), ctx)
            for i in range(updates)]
    reads = [b"".join(msgs[i:i + PER_READ]) for i in range(0, len(msgs), PER_READ)]
    t0 = time.perf_counter()
    for data in reads:
        sp.handle(ev.Received(PEER, conn, data), 2.0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    for limited in (False, True):
        best = min(run(args.updates, limited) for _ in range(args.runs))
        print(f"{'with' if limited else 'no'} limit: {best:.3f} s for {args.updates} UPDATEs, "
              f"{best / args.updates * 1e6:.2f} µs each")


if __name__ == "__main__":
    main()
