"""The control protocol between gracebgpd and gracebgp-bfdd: one JSON object per line.

gracebgpd -> bfdd:
  {"op": "set", "sessions": [spec, ...]}   the complete wanted set (added, changed, removed)
  {"op": "list"}                           answered by {"op": "list", "sessions": [status, ...]}
  {"op": "stop"}                           AdminDown every session (RFC 5880 §6.8.16), then exit
  {"op": "handoff"}                        from a successor bfdd (--take-over): the sessions and
                                           sockets (bfdd.handoff), then exit without AdminDown
bfdd writes its pid next to the socket (``bfdd.sock`` -> ``bfdd.pid``) while it runs.
bfdd -> gracebgpd:
  {"event": "snapshot", "pid": N, "code": digest, "sessions": [status, ...]}
                                           on connect: what runs now (re-adoption), and
                                           which code (code_fingerprint) it runs
  {"event": "state", "status": status, "old": "down"}  a session changed state
  {"op": "set" | "stop", "ok": true}                  the acknowledgement of a request
  {"op": "set", "ok": false, "failed": {key: why}}    sessions whose socket could not be set up
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gracebgp.bfd import codes
from gracebgp.bfd.codes import MULTIHOP_PORT, SINGLE_HOP_PORT


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """One wanted BFD session: the peer, how to reach it, its timers (µs)."""

    peer: str
    local: str = ""  # our source address; "": the kernel's choice
    multihop: bool = False
    port: int = SINGLE_HOP_PORT  # the peer's destination port
    desired_min_tx_us: int = 1_000_000
    required_min_rx_us: int = 1_000_000
    detect_mult: int = 3

    @property
    def key(self) -> str:
        """What names the session: the peer and the hop mode (RFC 5881 §3, RFC 5883 §4)."""
        return f"{self.peer}{'/multihop' if self.multihop else ''}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        spec = cls(**known)
        if not spec.peer:
            raise ValueError("a session needs a peer address")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_port(multihop: bool) -> int:
    return MULTIHOP_PORT if multihop else SINGLE_HOP_PORT


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("a control message is a JSON object")
    return value


def code_fingerprint() -> str:
    """A digest of the BFD code on disk (gracebgp.bfd and gracebgp.bfdd). gracebgp-bfdd
    reports the one it started with; a gracebgpd that finds another one knows bfdd runs
    older (or newer) code than it would start now."""
    h = hashlib.sha256()
    for package in (Path(codes.__file__).parent, Path(__file__).parent):
        for f in sorted(package.glob("*.py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
