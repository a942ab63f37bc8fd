"""Make the golden scenarios of tests/scenarios/ again: each is a run of the sans-IO
in-memory network of tests/unit/core (grnet.Net: Speakers joined by a fake network and a
fake clock) with a Recorder on one or more of its Speakers, exactly as gracebgpd's owner
records with ``--record`` (runtime/recorder.py). tests/scenarios/test_replay.py replays
them and compares every output.

    python tools/record_scenarios.py              # every scenario
    python tools/record_scenarios.py drain llgr   # some, by name

Run it when a scenario itself should change (its story, or behaviour that changes what a
peer answers); to accept new outputs for the same inputs, re-bless instead
(docs/scenarios.md).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.unit.core.grnet import (  # noqa: E402
    A_V4,
    A_V6,
    ASN,
    B_V4,
    B_V6,
    V4,
    A,
    B,
    C,
    D,
    Net,
    neighbor,
    routes,
)

from gracebgp.core import commands as cmd  # noqa: E402
from gracebgp.core import events as ev  # noqa: E402
from gracebgp.core.originate import LocalRoute  # noqa: E402
from gracebgp.core.peer import NeighborSettings  # noqa: E402
from gracebgp.core.speaker import Speaker  # noqa: E402
from gracebgp.runtime.recorder import Recorder, SpeakerArgs, recorded  # noqa: E402
from gracebgp.wire.iana import MARKER  # noqa: E402

OUT = ROOT / "tests" / "scenarios"
KEY = b"tests/scenarios"  # the redaction key: fixed, so a re-made scenario is the same file


class Scenario:
    """One run of the network with recorders on some of its speakers (``subject``)."""

    def __init__(self) -> None:
        self.net = Net()
        self.records: dict[str, io.StringIO] = {}
        self.recorders: dict[str, Recorder] = {}

    def speaker(self, me: str, *neighbors: NeighborSettings, originate: tuple[LocalRoute, ...] = (),
                record: str | None = None) -> Speaker:
        """A Speaker at ``me``, built as the daemon builds it (SpeakerArgs); with ``record``,
        recorded into ``record``.jsonl (a second Speaker there starts a new run in it)."""
        args = SpeakerArgs(ASN[me], me, tuple(neighbors), tuple(originate))
        sp = args.build()
        if record is not None:
            rec = self.recorders.get(record)
            if rec is None:
                self.records[record] = io.StringIO()
                rec = self.recorders[record] = Recorder(self.records[record], record, KEY)
            rec.begin(args)
            recorded(sp, rec)
        return sp

    def pair(self, record: tuple[str, ...], a_neighbor: NeighborSettings | None = None,
             b_neighbor: NeighborSettings | None = None) -> tuple[Speaker, Speaker]:
        """A and B (grnet.pair), recorded as "a" and/or "b"."""
        a = self.net.add(A, self.speaker(A, a_neighbor or neighbor(A, B), originate=routes(A_V4, A_V6),
                                         record="a" if "a" in record else None))
        b = self.net.add(B, self.speaker(B, b_neighbor or neighbor(B, A), originate=routes(B_V4, B_V6, me=B),
                                         record="b" if "b" in record else None))
        self.net.run()
        return a, b


def planned_restart() -> Scenario:
    s = Scenario()
    s.pair(("a", "b"))
    s.net.advance(5)
    s.net.deliver(A, ev.StopRequested(graceful=True, message="gracebgp restart"))
    s.net.cut(A)
    s.net.run()
    s.net.advance(2)
    s.net.start(A, s.speaker(A, neighbor(A, B), originate=routes(A_V4, A_V6), record="a"), restart="planned")
    s.net.advance(5)
    return s


def six_minutes() -> Scenario:
    s = Scenario()
    s.pair(("a",), a_neighbor=neighbor(A, B, deferral=360), b_neighbor=neighbor(B, A, families=(V4,)))
    s.net.cut(A)
    s.net.run()
    s.net.start(A, s.speaker(A, neighbor(A, B, deferral=360), originate=routes(A_V4, A_V6), record="a"),
                restart="planned")
    s.net.advance(5)
    return s


def llgr() -> Scenario:
    s = Scenario()
    net = s.net
    a_routes = (*routes(A_V4, A_V6), LocalRoute("10.7.0.0/16", communities=("65535:7",)))  # NO_LLGR
    net.add(A, s.speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=a_routes))
    net.add(B, s.speaker(B, neighbor(B, A, restart_time=10, llgr=100), neighbor(B, C, llgr=100),
                         neighbor(B, D, gr=False), record="b"))
    net.add(C, s.speaker(C, neighbor(C, B, llgr=100)))
    net.add(D, s.speaker(D, neighbor(D, B, gr=False)))
    net.run()
    net.cut(A)  # a crash: GR, then LLGR after the restart time (10 s)
    net.run()
    net.advance(20)
    net.start(A, s.speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:1], A_V6)),
              restart="unplanned")
    net.advance(3)
    return s


def _update(body: bytes) -> bytes:
    return MARKER + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


def treat_as_withdraw() -> Scenario:
    s = Scenario()
    net = s.net
    net.add(A, s.speaker(A, neighbor(A, B), originate=routes(A_V4, A_V6)))
    b = net.add(B, s.speaker(B, neighbor(B, A), neighbor(B, C), record="b"))
    net.add(C, s.speaker(C, neighbor(C, B)))
    net.run()
    # As the owner does when the session logger is at debug: UPDATE summaries.
    assert b.handle(ev.DebugLogged(True), net.now) == []
    conn = b.peers[A].established_conn()
    assert conn is not None
    attrs = (b"\x40\x01\x01\x05"  # ORIGIN 5: malformed (RFC 7606 §7.1: treat-as-withdraw)
             + b"\x40\x02\x06\x02\x01" + ASN[A].to_bytes(4, "big")  # AS_PATH: AS_SEQUENCE [65001]
             + b"\x40\x03\x04" + bytes([127, 0, 0, 1]))  # NEXT_HOP 127.0.0.1
    nlri = b"\x1a\xc0\x00\x02\x00"  # 192.0.2.0/26, one of A's routes
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + nlri
    net.deliver(B, ev.Received(A, conn, _update(body)))
    net.advance(2)
    return s


def drain() -> Scenario:
    s = Scenario()
    s.pair(("a",))
    s.net.command(A, cmd.Drain(delay=30))
    s.net.advance(30)
    s.net.command(A, cmd.Drain(cancel=True))
    s.net.advance(2)
    return s


def hard_reset() -> Scenario:
    s = Scenario()
    s.pair(("a", "b"))
    s.net.command(A, cmd.ShutdownPeer(B, "decommission"))  # RFC 8538: Hard Reset, routes deleted
    s.net.advance(5)
    s.net.command(A, cmd.EnablePeer(B))
    s.net.advance(5)
    return s


SCENARIOS: dict[str, tuple[Callable[[], Scenario], str]] = {
    "planned-restart": (planned_restart, (
        "A planned restart (gracebgp restart): A (a.jsonl) stops the graceful-restart way (Cease/"
        "Administrative Reset with N), comes back as a new process with R=1 and defers selection "
        "until B's End-of-RIB; B (b.jsonl) keeps A's routes stale meanwhile and purges none.")),
    "six-minutes": (six_minutes, (
        "The six-minute case: A configures IPv4 and IPv6, B negotiates IPv4 only; after A's "
        "planned restart (a.jsonl, second run) selection for both families ends at B's IPv4 "
        "End-of-RIB, not after the 360 s deferral timer.")),
    "llgr": (llgr, (
        "An LLGR episode at the helper B (b.jsonl): A crashes, B keeps A's routes stale for the "
        "restart time (10 s), then LLGR-stale (LLGR_STALE added, the NO_LLGR route deleted, sent "
        "only to the LLGR peer C); A comes back with fewer routes and its End-of-RIB purges the rest.")),
    "treat-as-withdraw": (treat_as_withdraw, (
        "RFC 7606 treat-as-withdraw at B (b.jsonl, debug log lines on): an UPDATE from A with a "
        "malformed ORIGIN (5) withdraws the route it carries (192.0.2.0/26): B withdraws it from C; "
        "the session stays up.")),
    "drain": (drain, (
        "An RFC 8326 drain at A (a.jsonl): A's routes re-advertised with GRACEFUL_SHUTDOWN, withdrawn "
        "after the 30 s delay, the sessions up; the drain cancelled, the routes advertised again.")),
    "hard-reset": (hard_reset, (
        "An RFC 8538 Hard Reset: A (a.jsonl) shuts its peer B down (Cease/Hard Reset wrapping "
        "Administrative Shutdown, 'decommission'); B (b.jsonl) deletes A's routes at once, no GR; "
        "A enables B again and the session and routes come back.")),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"scenarios to make (default: all of {', '.join(SCENARIOS)})")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        ap.error(f"no scenario {', '.join(unknown)}; there are {', '.join(SCENARIOS)}")
    for name in args.names or SCENARIOS:
        make, about = SCENARIOS[name]
        scenario = make()
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.jsonl"):
            old.unlink()
        for file, text in scenario.records.items():
            (folder / f"{file}.jsonl").write_text(text.getvalue())
        (folder / "README.md").write_text(f"# {name}\n\n{about}\n\nMade by tools/record_scenarios.py.\n")
        sizes = ", ".join(f"{f}.jsonl {len(t.getvalue().splitlines())} lines"
                          for f, t in scenario.records.items())
        print(f"{name}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
