#!/usr/bin/env python3
"""ExaBGP API process used by the interop test drivers (``peers.ExaBgp``).

ExaBGP starts this script (``process`` block, ``encoder json``) and talks to it over
stdin/stdout:

* every line ExaBGP writes to our stdin (JSON messages: updates received, neighbor state
  changes; and ``done``/``error`` acknowledgements of our commands) is appended to
  ``--log`` as one JSON object per line: ``{"t": <unix time>, "json": {...}}`` for JSON
  input, ``{"t": ..., "text": "..."}`` otherwise;
* every line written to the FIFO ``--fifo`` by the test driver is forwarded to ExaBGP
  on our stdout (an API command such as ``announce route 10.0.0.0/24 next-hop self``).

The script exits when ExaBGP closes our stdin (ExaBGP stopped). Only the standard
library is used: it runs under whatever Python ExaBGP runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time


def forward_commands(fifo: str, lock: threading.Lock, log: str) -> None:
    """Copy lines from the FIFO to stdout, forever (daemon thread)."""
    # O_RDWR: opening never blocks and reads never see EOF when a writer goes away.
    fd = os.open(fifo, os.O_RDWR)
    buf = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            time.sleep(0.05)
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            with lock:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
                append(log, {"t": time.time(), "sent": text})


def append(log: str, record: dict[str, object]) -> None:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--log", required=True, help="JSON-lines file receiving everything ExaBGP sends us")
    ap.add_argument("--fifo", required=True, help="FIFO whose lines are forwarded to ExaBGP as commands")
    args = ap.parse_args()
    if not os.path.exists(args.fifo):
        os.mkfifo(args.fifo, 0o600)
    lock = threading.Lock()
    append(args.log, {"t": time.time(), "text": f"helper started pid={os.getpid()}"})
    threading.Thread(target=forward_commands, args=(args.fifo, lock, args.log), daemon=True).start()
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        record: dict[str, object] = {"t": time.time()}
        try:
            record["json"] = json.loads(line)
        except ValueError:
            record["text"] = line
        with lock:
            append(args.log, record)
    append(args.log, {"t": time.time(), "text": "helper: stdin closed, exiting"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
