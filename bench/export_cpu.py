"""CPU time of the RIB's hot path in one process, without sockets: decode the routing
benchmark's UPDATE stream (bench/bgpio.py: /24s, 10 per attribute set), announce it into
the Loc-RIB through a Channel, then export the whole table to P eBGP peers of one export
class (AdjRibOut.consider + flush of the changed set a budget at a time, as Speaker._flush
does, with the round's shared ``packed`` dict when P > 1 where the tree has it).

CPU time (``time.process_time``), not wall time: on a shared machine it moves far less
with the load, so two source trees can be compared in alternating runs:

    git archive REV src | tar -x -C /tmp/before
    .venv/bin/python bench/export_cpu.py --src /tmp/before/src --peers 10   # that commit
    .venv/bin/python bench/export_cpu.py --peers 10                          # this tree
"""

from __future__ import annotations

import argparse
import gc
import inspect
import itertools
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--src", type=Path, default=HERE.parent / "src",
                    help="the gracebgp source tree to measure")
    ap.add_argument("--peers", type=int, default=1, help="eBGP peers to export to (one class)")
    ap.add_argument("--routes", type=int, default=1_000_000)
    ap.add_argument("--daemon-gc", action="store_true",
                    help="collect garbage as gracebgpd does (runtime.gcpolicy), not at CPython's default")
    ap.add_argument("--policy", action="store_true",
                    help="import and export through the policy of bench/policyconf.py (issue 16)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(args.src))  # first: this tree's gracebgp, not the installed one
    from bench.bgpio import build_updates, update_bodies  # noqa: PLC0415 (after the path is set)

    from gracebgp.rib.adj_rib_out import AdjRibOut  # noqa: PLC0415
    from gracebgp.rib.channel import Channel  # noqa: PLC0415
    from gracebgp.rib.export import ExportPolicy  # noqa: PLC0415
    from gracebgp.rib.loc_rib import LocRib  # noqa: PLC0415
    from gracebgp.rib.path import PathTable, PeerInfo  # noqa: PLC0415
    from gracebgp.types import IPV4_UNICAST  # noqa: PLC0415
    from gracebgp.wire.context import CodecContext  # noqa: PLC0415
    from gracebgp.wire.update import parse_update  # noqa: PLC0415

    bodies = update_bodies(build_updates(args.routes, "10.253.0.2"))
    gc.collect()
    gc.freeze()
    if args.daemon_gc:  # the tree's own policy, whatever it is (thresholds, freezing)
        from gracebgp.runtime.gcpolicy import tune_gc  # noqa: PLC0415

        tune_gc()
    ctx = CodecContext(as4=True)
    table, loc = PathTable(), LocRib()
    changed: dict[object, set[int]] = {IPV4_UNICAST: set()}
    channel = Channel(IPV4_UNICAST, loc, changed, PeerInfo(1, "10.253.0.2", 65100, "10.253.0.2", False))  # type: ignore[arg-type]
    book = None
    if args.policy:
        from bench.policyconf import gobgp_toml  # noqa: PLC0415

        from gracebgp.config import parse  # noqa: PLC0415
        from gracebgp.config.policy_source import book_of  # noqa: PLC0415
        from gracebgp.rib.policy_attach import export_filter, import_filter  # noqa: PLC0415

        book = book_of(parse('[global.config]\nas = 65000\nrouter-id = "10.253.0.1"\n' + gobgp_toml()))
        channel.importer = import_filter(book, None, IPV4_UNICAST, channel.info, None, table, False)
    started = time.process_time()
    for body in bodies:
        u = parse_update(body, ctx).update
        assert u is not None and u.attrs is not None
        channel.announce(u.nlri, table.get(u.attrs, (u.attrs.next_hop or "",)), 0.0)
    ingest = time.process_time() - started
    keys = list(loc.entries)
    outs = [AdjRibOut(IPV4_UNICAST, ExportPolicy(PeerInfo(2 + p, f"10.253.1.{p + 1}", 65200 + p, "10.253.0.3",
                                                          False), 65000, "10.253.0.1", "10.253.0.1"), table)
            for p in range(args.peers)]
    if book is not None:
        for out in outs:
            out.exporter = export_filter(book, None, IPV4_UNICAST, out.policy, table)
    shares = "packed" in inspect.signature(AdjRibOut.flush).parameters  # (older trees: no sharing)
    messages = 0
    started = time.process_time()
    # As Speaker._flush: the changed prefixes are one set, taken a budget at a time
    changed_set, budget = set(keys), max(10_000, 100_000 // (args.peers + 1))
    while changed_set:
        packed: dict[object, object] = {}
        chunk = set(itertools.islice(changed_set, budget))
        changed_set.difference_update(chunk)
        for out in outs:
            out.consider(chunk, loc)
            flushed = out.flush(ctx, packed if args.peers > 1 else None) if shares else out.flush(ctx)  # type: ignore[arg-type]
            messages += len(flushed)
    export = time.process_time() - started
    label = f"{args.src}{' with policy' if book is not None else ''}"
    print(f"{label}: ingest {ingest:.2f} s CPU; export to {args.peers} peer(s) {export:.2f} s CPU "
          f"({messages} UPDATEs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
