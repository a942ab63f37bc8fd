"""A misbehaving VM for the BGPaaS proxy's isolation test (issue 20): it connects from
SOURCE to the proxy's VM-facing ADDR port 179 and then, by MODE,

* ``garbage``: sends 64 octets that are no BGP header and reads until the proxy closes;
* ``flood``: sends an OPEN and a KEEPALIVE, then UPDATEs of COUNT /24 prefixes as fast as
  the socket takes them, reading (and ignoring) what comes back;
* ``deaf``: sends an OPEN and a KEEPALIVE and never reads again.

Messages are built here from the RFC 4271 §4 layouts, independent of the codec under test.
It prints what happened and exits after LIFETIME seconds at the latest.

    python proxy_vm.py MODE SOURCE ADDR [COUNT]
"""

from __future__ import annotations

import socket
import sys
import time

LIFETIME = 120.0
MARKER = b"\xff" * 16


def message(mtype: int, body: bytes) -> bytes:
    return MARKER + (19 + len(body)).to_bytes(2, "big") + bytes([mtype]) + body


def open_message(asn: int, router_id: str) -> bytes:
    # RFC 4271 §4.2: version 4, My AS, Hold Time 90, BGP Identifier, no optional parameters
    return message(1, bytes([4]) + asn.to_bytes(2, "big") + (90).to_bytes(2, "big")
                   + socket.inet_aton(router_id) + b"\x00")


def update(prefixes: list[tuple[int, int]], asn: int, next_hop: str) -> bytes:
    attrs = (b"\x40\x01\x01\x00"  # ORIGIN IGP
             + b"\x40\x02\x04\x02\x01" + asn.to_bytes(2, "big")  # AS_PATH: AS_SEQUENCE [asn]
             + b"\x40\x03\x04" + socket.inet_aton(next_hop))  # NEXT_HOP
    nlri = b"".join(bytes([24, a, b, c]) for a, (b, c) in ((10, p) for p in prefixes))
    return message(2, b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + nlri)


def main() -> None:
    mode, source, addr = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    sock = socket.create_connection((addr, 179), timeout=10, source_address=(source, 0))
    sock.settimeout(LIFETIME)
    print(f"{time.time():.3f} connected {mode}", flush=True)
    if mode == "garbage":
        sock.sendall(b"\x00" * 64)
    else:
        sock.sendall(open_message(65001, source) + message(4, b""))
    if mode == "deaf":
        time.sleep(LIFETIME)
        return
    if mode == "flood":
        prefixes = [(i // 256 % 256, i % 256) for i in range(count)]
        try:
            for i in range(0, len(prefixes), 500):
                sock.sendall(update(prefixes[i:i + 500], 65001, source))
        except OSError as exc:
            print(f"{time.time():.3f} send failed: {exc}", flush=True)
    got = b""
    try:
        while data := sock.recv(65536):
            got += data
    except OSError as exc:
        print(f"{time.time():.3f} receive ended: {exc}", flush=True)
    notification = [got[i + 19:i + 21].hex() for i in range(len(got) - 20)
                    if got[i:i + 16] == MARKER and got[i + 18] == 3]
    print(f"{time.time():.3f} closed by the proxy; NOTIFICATION code/subcode: {notification}", flush=True)


if __name__ == "__main__":
    main()
