"""A BGP relay for interop tests: it stands between a real peer and gracebgpd and can lose
the peer's withdrawals, so that gracebgpd keeps routes the peer no longer has: the
inconsistency Enhanced Route Refresh repairs (RFC 7313 §1, §4: at EoRR the receiver
removes what the peer did not re-advertise).

It accepts one connection at a time on LISTEN (the peer's neighbor address and port),
connects to UPSTREAM (gracebgpd) from SOURCE (the address gracebgpd knows this peer by)
and copies both ways. From the peer to gracebgpd it copies whole BGP messages (RFC 4271
§4.1 header: 16-octet marker, 2-octet length, type); while the file ARM exists it drops
every UPDATE whose Withdrawn Routes Length (RFC 4271 §4.3) is not zero and prints
``dropped``. It knows nothing else of BGP (independent of the codec under test) and
exits after LIFETIME seconds at the latest.

    python bgp_relay.py LISTEN_ADDR LISTEN_PORT UPSTREAM_ADDR UPSTREAM_PORT SOURCE_ADDR ARM
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time

LIFETIME = 1800.0


def _say(text: str) -> None:
    print(f"{time.time():.3f} {text}", flush=True)


def _copy(src: socket.socket, dst: socket.socket) -> None:
    """gracebgpd -> peer: bytes as they come."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _shut(src, dst)


def _shut(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _relay(src: socket.socket, dst: socket.socket, arm: str) -> None:
    """peer -> gracebgpd: message by message, withdrawals dropped while armed."""
    buf = b""
    try:
        while data := src.recv(65536):
            buf += data
            while len(buf) >= 19 and len(buf) >= (length := int.from_bytes(buf[16:18], "big")) >= 19:
                msg, buf = buf[:length], buf[length:]
                withdrawn = int.from_bytes(msg[19:21], "big") if msg[18] == 2 and length >= 23 else 0
                if withdrawn and os.path.exists(arm):
                    _say(f"dropped UPDATE of {length} octets ({withdrawn} octets of withdrawn routes)")
                    continue
                dst.sendall(msg)
    except OSError:
        pass
    _shut(src, dst)


def main(argv: list[str]) -> None:
    listen_addr, listen_port, up_addr, up_port, source, arm = argv
    deadline = time.monotonic() + LIFETIME
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((listen_addr, int(listen_port)))
    server.listen(4)
    server.settimeout(1.0)
    _say(f"listening on {listen_addr}:{listen_port}")
    while time.monotonic() < deadline:
        try:
            peer, addr = server.accept()
        except TimeoutError:
            continue
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            up.bind((source, 0))
            up.settimeout(5.0)
            up.connect((up_addr, int(up_port)))
            up.settimeout(None)
        except OSError as exc:
            _say(f"upstream {up_addr}:{up_port} from {source}: {exc}")
            peer.close()
            up.close()
            continue
        _say(f"relaying {addr[0]} <-> {up_addr}:{up_port} from {source}")
        a = threading.Thread(target=_relay, args=(peer, up, arm), daemon=True)
        b = threading.Thread(target=_copy, args=(up, peer), daemon=True)
        a.start()
        b.start()
        while a.is_alive() and time.monotonic() < deadline:
            a.join(1.0)
        b.join(5.0)
        peer.close()
        up.close()
        _say("connection closed")


if __name__ == "__main__":
    main(sys.argv[1:])
