"""gracebgp-wiredump: decode BGP messages (hex, or JSONL vector files) into readable lines.

    gracebgp-wiredump tests/vectors/peers/*.jsonl          # every message
    gracebgp-wiredump --summary tests/vectors/peers/*.jsonl
    echo ffff...ffff001304 | gracebgp-wiredump -            # hex on standard input
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gracebgp.errors import CodecError
from gracebgp.types import make_family
from gracebgp.wire import CodecContext, Framer, decode_body
from gracebgp.wire.text import describe


def context_from(record: dict[str, Any]) -> CodecContext:
    ctx = record.get("context") or {}
    return CodecContext(
        as4=bool(ctx.get("as4", True)),
        addpath=frozenset(make_family(a, s) for a, s in ctx.get("addpath", [])),
        extended_message=bool(ctx.get("extended_message", False)),
        ibgp=bool(ctx.get("ibgp", True)),
        extended_next_hop=frozenset(make_family(a, s) for a, s in ctx.get("extended_next_hop", [])),
    )


def records(path: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    out: list[dict[str, Any]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not JSON: {exc.msg}") from None
        else:
            out.append({"hex": line})
    return out


def decode_record(record: dict[str, Any]) -> list[str]:
    ctx = context_from(record)
    try:
        data = bytes.fromhex(record["hex"])
        framer = Framer(ctx.max_message_len)
        return [describe(decode_body(t, b, ctx), ctx.addpath) for t, b in framer.feed(data)]
    except (ValueError, KeyError) as exc:
        return [f"not a BGP message: {exc}"]
    except CodecError as exc:
        return [f"error {exc.code}/{exc.subcode}: {exc.reason}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gracebgp-wiredump", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="JSONL vector files, hex files, or - for stdin")
    ap.add_argument("--summary", action="store_true",
                    help="per file: message counts and the first lines of each kind")
    args = ap.parse_args(argv)
    for path in args.files:
        try:
            recs = records(path)
        except OSError as exc:
            print(f"{path}: {exc.strerror}", file=sys.stderr)
            return 1
        first = recs[0] if recs else {}
        head = f"{first.get('sender', '?')} -> {first.get('receiver', '?')}" if "sender" in first else ""
        print(f"== {path} {head} ({len(recs)} messages)")
        kinds: Counter[str] = Counter()
        for rec in recs:
            for line in decode_record(rec):
                kind = line.split(" ", 2)[0] + (" EoR" if "End-of-RIB" in line else "")
                kinds[kind] += 1
                if not args.summary or kinds[kind] <= 3:
                    print("  " + line)
        if args.summary:
            print("  counts: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
