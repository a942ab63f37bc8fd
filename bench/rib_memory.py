"""Where the memory of a full table goes, by the line that allocated it (tracemalloc), in
one process without sockets: the routing benchmark's UPDATE stream (bench/bgpio.py: /24s,
10 per attribute set) decoded and announced into the Loc-RIB through a Channel, then
exported to one eBGP peer (AdjRibOut.consider + flush a budget at a time, as
Speaker._flush does). The peer's session is up before the table comes, as in the routing
benchmark, so its Adj-RIB-Out is in sync and holds nothing per prefix (``--kept``: one
that keeps its table, as a session that comes up later does until its table has gone
out). Issue 14 item 3: the figure is MB per 100k routes, the unit of the routing
benchmark's "RSS growth" column; what the socket buffers, the framer and the owner add in
the daemon is not here. As in the daemon, the Adj-RIB-In settles after each flush round:
holding the whole table from one peer, it reads its routes from the Loc-RIB and keeps no
dict (``--held``: one that keeps its dict, as before 2026-12-06).

    .venv/bin/python bench/rib_memory.py --routes 300000
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--src", type=Path, default=HERE.parent / "src",
                    help="the gracebgp source tree to measure")
    ap.add_argument("--routes", type=int, default=300_000)
    ap.add_argument("--top", type=int, default=20, help="allocation sites to list")
    ap.add_argument("--kept", action="store_true", help="an Adj-RIB-Out that keeps its table")
    ap.add_argument("--held", action="store_true", help="an Adj-RIB-In that keeps its dict")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(args.src))
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
    tracemalloc.start(4)
    before = tracemalloc.take_snapshot()
    ctx = CodecContext(as4=True)
    table, loc = PathTable(), LocRib()
    changed: dict[object, set[int]] = {IPV4_UNICAST: set()}
    channel = Channel(IPV4_UNICAST, loc, changed,  # type: ignore[arg-type]
                      PeerInfo(1, "10.253.0.2", 65100, "10.253.0.2", False))
    out = AdjRibOut(IPV4_UNICAST, ExportPolicy(PeerInfo(2, "10.253.1.1", 65200, "10.253.0.3", False), 65000,
                                               "10.253.0.1", "10.253.0.1"), table)
    syncs = hasattr(out, "table_sent") and not args.kept  # (trees before 615f86d: always a table)
    if syncs:
        loc.dirty = changed[IPV4_UNICAST]  # (as the Speaker does)
        out.table_sent(loc, out.epoch)  # its session came up with the Loc-RIB empty
    for body in bodies:
        u = parse_update(body, ctx).update
        assert u is not None and u.attrs is not None
        channel.announce(u.nlri, table.get(u.attrs, (u.attrs.next_hop or "",)), 0.0)
    todo = changed[IPV4_UNICAST]
    while todo:
        chunk = set(itertools.islice(todo, 100_000))
        todo -= chunk
        if syncs:
            out.consider(chunk, loc, False, loc.take_before(chunk))
        else:
            out.consider(chunk, loc)
        out.flush(ctx)
        if not args.held and hasattr(channel, "settle"):  # (trees before: always a dict)
            channel.settle()
    if syncs:
        out.settle(loc)
    del bodies, chunk
    gc.collect()
    after = tracemalloc.take_snapshot()
    stats = after.compare_to(before, "traceback")
    scale = 100_000 / args.routes / 2**20
    total = sum(s.size_diff for s in stats)
    held = "in sync, no table" if getattr(out, "synced", False) else "a table"
    held_in = "read from the Loc-RIB" if getattr(channel, "reads_loc", False) else "a dict"
    print(f"{args.routes:,} routes, {len(loc)} in the Loc-RIB, {len(channel)} received ({held_in}), "
          f"{len(out)} advertised ({held}): "
          f"{total * scale:.1f} MB per 100k routes held after export\n")
    print("| MB/100k | objects | allocated at (caller > line) |\n| ---: | ---: | --- |")
    for s in stats[:args.top]:
        frames = [f"{Path(f.filename).name}:{f.lineno}" for f in s.traceback if f.filename != __file__]
        print(f"| {s.size_diff * scale:.2f} | {s.count_diff:,} | {' > '.join(frames[-2:])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
