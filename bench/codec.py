"""Codec throughput: decode and encode IPv4 UPDATEs the way a full table arrives.

Workload (issue 2): UPDATEs of 10 IPv4 /24 prefixes each; every UPDATE carries a new
path-attribute block (so block interning never hits), built from attributes drawn the way
a real table shares them: ORIGIN IGP, one NEXT_HOP, an AS_PATH of 2-4 ASNs from a pool
of 20,000 paths, MED from 100 values, two communities from 500. Caches start cold each
run. Reported: prefixes per second (median of runs) and peak RSS growth.

    make bench            # or: .venv/bin/python bench/codec.py --updates 100000
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time

from gracebgp.wire import (
    AsPath,
    AttrSet,
    CodecContext,
    Communities,
    Framer,
    MultiExitDisc,
    NextHop,
    Origin,
    Update,
    encode_update,
    pack_ipv4,
    parse_update,
)
from gracebgp.wire.attrset import clear_caches
from gracebgp.wire.nlri import make_key
from gracebgp.wire.outcome import UpdateAction

CTX = CodecContext(as4=True, ibgp=False)
PER_UPDATE = 10


def build_stream(n_updates: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    paths = [tuple(rng.randrange(1, 4_200_000_000) for _ in range(rng.randint(2, 4)))
             for _ in range(20_000)]
    comms = [rng.randrange(1 << 32) for _ in range(500)]
    seen: set[tuple[int, int, int, int]] = set()
    out = []
    base = 1 << 24  # 1.0.0.0
    for u in range(n_updates):
        while True:
            choice = (rng.randrange(len(paths)), rng.randrange(100), rng.randrange(500), rng.randrange(500))
            if choice not in seen:
                seen.add(choice)
                break
        p, med, c1, c2 = choice
        attrs = AttrSet([Origin(0), AsPath(((2, paths[p]),)), NextHop("192.0.2.1"),
                         MultiExitDisc(med * 10), Communities((comms[c1], comms[c2]))])
        keys = [make_key((base + (u * PER_UPDATE + i) * 256) & 0xFFFFFFFF, 24, 32) for i in range(PER_UPDATE)]
        out.extend(pack_ipv4(attrs, keys, CTX))
    return b"".join(out)


def decode_run(stream: bytes, cold: bool = True) -> tuple[float, list[Update]]:
    """Frame and parse the whole stream; cold: with empty intern tables."""
    if cold:
        clear_caches()
    gc.collect()
    t0 = time.perf_counter()
    framer = Framer()
    results = []
    prefixes = 0
    for off in range(0, len(stream), 65536):
        for _mtype, body in framer.feed(stream[off:off + 65536]):
            r = parse_update(body, CTX)
            if r.action != UpdateAction.ACCEPT or r.update is None:
                raise SystemExit(f"unexpected outcome {r}")
            prefixes += len(r.update.nlri)
            results.append(r.update)
    dt = time.perf_counter() - t0
    return prefixes / dt, results


def _fresh(attrs: AttrSet | None) -> AttrSet:
    """The same attributes in a new AttrSet (no cached wire bytes), so encoding is real."""
    assert attrs is not None
    return AttrSet(attrs.attrs)


def encode_run(updates: list[Update]) -> float:
    fresh = [Update(u.withdrawn, _fresh(u.attrs), u.nlri) for u in updates]
    gc.collect()
    t0 = time.perf_counter()
    prefixes = 0
    for u in fresh:
        encode_update(u, CTX)
        prefixes += len(u.nlri)
    return prefixes / (time.perf_counter() - t0)


def pack_run(updates: list[Update]) -> float:
    sets = [(_fresh(u.attrs), u.nlri) for u in updates]
    gc.collect()
    t0 = time.perf_counter()
    prefixes = 0
    for attrs, keys in sets:
        pack_ipv4(attrs, keys, CTX)
        prefixes += len(keys)
    return prefixes / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    stream = build_stream(args.updates)
    n_prefixes = args.updates * PER_UPDATE
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dec, warm, enc, pack = [], [], [], []
    updates: list[Update] = []
    for _ in range(args.runs):
        # Each measured run holds only its own results, so every run sees the same heap.
        updates = []
        rate, updates = decode_run(stream)
        dec.append(rate)
        enc.append(encode_run(updates))
        pack.append(pack_run(updates))
        updates = []
        warm.append(decode_run(stream, cold=False)[0])  # intern tables filled by the cold run
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"codec benchmark: {args.updates:,} UPDATEs, {n_prefixes:,} IPv4 /24 prefixes, "
          f"{len(stream) / 1e6:.1f} MB on the wire, new attribute block every {PER_UPDATE} prefixes")
    print(f"{'operation (framing + RFC 7606 parse)':<34}{'prefixes/s (median)':>22}{'runs':>30}")
    for name, vals in (("decode, every block new", dec),
                       ("decode, blocks seen before", warm),
                       ("encode (Update -> bytes)", enc),
                       ("encode (pack_ipv4 by attr set)", pack)):
        runs = ", ".join(f"{v / 1e6:.2f}M" for v in vals)
        print(f"{name:<34}{statistics.median(vals):>22,.0f}{runs:>30}")
    print(f"peak RSS growth while holding {n_prefixes:,} decoded prefixes and their UPDATEs: "
          f"{(rss1 - rss0) / 1024:.1f} MB (ru_maxrss)")


if __name__ == "__main__":
    main()
