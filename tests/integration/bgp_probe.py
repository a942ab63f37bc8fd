"""A minimal BGP peer on a raw socket for the tests that watch gracebgpd's timing (issue 10
finding 4): it answers one connection from gracebgpd, negotiates IPv4 unicast with the
hold time it is given (RFC 4271 §4.2: the smaller one wins), sends its KEEPALIVEs on its
own schedule from a thread that nothing else can hold up, records when each of
gracebgpd's messages arrives (and any NOTIFICATION), and can send a table of /24s as
fast as TCP takes it. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4


def message(kind: int, body: bytes = b"") -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def open_message(asn: int, hold: int, router_id: str) -> bytes:
    caps = bytes([1, 4, 0, 1, 0, 1])  # RFC 4760: multiprotocol IPv4 unicast
    caps += bytes([65, 4]) + struct.pack("!I", asn)  # RFC 6793: 4-octet AS
    params = bytes([2, len(caps)]) + caps
    my_as = asn if asn <= 0xFFFF else 23456  # RFC 6793 §4.2.1: AS_TRANS
    return message(OPEN, struct.pack("!BHH", 4, my_as, hold) + socket.inet_aton(router_id)
                   + bytes([len(params)]) + params)


def table_updates(asn: int, next_hop: str, count: int, first: int = 0x14000000) -> list[bytes]:
    """``count`` /24s from ``first`` (20.0.0.0), about 1,000 per UPDATE (RFC 4271 §4.3)."""
    attrs = (bytes([0x40, 1, 1, 0])  # ORIGIN IGP
             + bytes([0x40, 2, 6, 2, 1]) + struct.pack("!I", asn)  # AS_PATH: AS_SEQUENCE [asn]
             + bytes([0x40, 3, 4]) + socket.inet_aton(next_hop))
    per = (4096 - 23 - len(attrs)) // 4
    out = []
    for start in range(0, count, per):
        nlri = b"".join(bytes([24]) + struct.pack("!I", first + (i << 8))[:3]
                        for i in range(start, min(count, start + per)))
        out.append(message(UPDATE, struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs + nlri))
    return out


@dataclass
class Probe:
    """Listens on ``address``:``port``; ``start()`` then ``stop()``."""

    address: str
    asn: int
    hold: int = 3
    keepalive: float = 1.0
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, type)
    notifications: list[bytes] = field(default_factory=list)
    sent_keepalives: int = 0
    established: threading.Event = field(default_factory=threading.Event)
    closed: bool = False
    error: str = ""

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.address, 0))
        self._listener.listen(1)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._keepalives, daemon=True)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._listener.close()

    def send(self, data: bytes) -> None:
        with self._send_lock:
            assert self._conn is not None
            self._conn.sendall(data)

    def send_table(self, count: int, next_hop: str) -> None:
        for update in table_updates(self.asn, next_hop, count):
            self.send(update)

    def gaps(self, since: float = 0.0) -> tuple[float, float]:
        """(longest gap between gracebgpd's messages of any kind, between its KEEPALIVEs),
        from ``since`` to now; the open end counts (a silence that is still going on)."""
        now = time.monotonic()
        every = [t for t, _ in self.arrivals if t >= since]
        keep = [t for t, k in self.arrivals if t >= since and k == KEEPALIVE]

        def longest(times: list[float]) -> float:
            points = [since, *times, now]
            return max(b - a for a, b in itertools.pairwise(points))
        return longest(every), longest(keep)

    def _keepalives(self) -> None:
        while not self._stop.is_set() and not self.established.wait(0.1):
            pass
        while not self._stop.wait(self.keepalive) and not self.closed:
            try:
                self.send(message(KEEPALIVE))
                self.sent_keepalives += 1
            except OSError as exc:
                self.error = f"sending a KEEPALIVE: {exc}"
                return

    def _read(self) -> None:
        while not self._stop.is_set() and self._conn is None:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(0.2)
            self._conn = conn
            self.send(open_message(self.asn, self.hold, self.address))
        buf = b""
        while not self._stop.is_set():
            try:
                chunk = self._conn.recv(1 << 20) if self._conn is not None else b""
            except TimeoutError:
                continue
            except OSError as exc:
                self.error, self.closed = f"reading: {exc}", True
                return
            if not chunk:
                self.closed = True
                return
            now = time.monotonic()
            buf += chunk
            i = 0
            while len(buf) - i >= 19:
                length = struct.unpack_from("!H", buf, i + 16)[0]
                if length < 19 or len(buf) - i < length:
                    break
                kind = buf[i + 18]
                self.arrivals.append((now, kind))
                if kind == OPEN:
                    self.send(message(KEEPALIVE))
                elif kind == KEEPALIVE:
                    self.established.set()
                elif kind == NOTIFICATION:
                    self.notifications.append(buf[i + 19:i + length])
                i += length
            buf = buf[i:]
