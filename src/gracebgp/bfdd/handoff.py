"""Handing the running BFD sessions from one gracebgp-bfdd to its successor (an upgrade), so
the peers see no change: the same discriminators, timers, state and sockets (source ports).

The new bfdd (``--take-over``) connects to the old one's control socket and asks
``{"op": "handoff"}``; the old one stops its timers and answers on that connection with a
header line, its state as JSON, and its sockets' descriptors (SCM_RIGHTS, in chunks of
``CHUNK``); the new one adopts them and acknowledges with ``ok``, and only then does the old
one end, without AdminDown. Until the acknowledgement the old one runs on unchanged.

Stream layout after the request: ``header`` (one JSON line: ``length`` of the state,
``fds``, ``chunks``), then one octet for each further chunk of descriptors, then the state.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

CHUNK = 200  # descriptors per message (Linux allows 253)
TIMEOUT = 5.0
ACK = b"ok\n"


class HandoffError(Exception):
    """The old bfdd did not hand over (older code without the op, or a broken exchange)."""


def give(fileno: int, state: dict[str, Any], fds: list[int], timeout: float = TIMEOUT) -> bool:
    """The old side, on the requesting client's connection (``fileno``, duplicated here):
    send ``state`` and ``fds``; True once the successor acknowledged (then end)."""
    payload = json.dumps(state, separators=(",", ":")).encode()
    chunks = [fds[i:i + CHUNK] for i in range(0, len(fds), CHUNK)] or [[]]
    header = json.dumps({"op": "handoff", "ok": True, "length": len(payload), "fds": len(fds),
                         "chunks": len(chunks)}).encode() + b"\n"
    sock = socket.socket(fileno=os.dup(fileno))
    try:
        sock.setblocking(True)
        sock.settimeout(timeout)
        socket.send_fds(sock, [header], chunks[0])
        for chunk in chunks[1:]:
            socket.send_fds(sock, [b"."], chunk)
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < 16:
            got = sock.recv(16 - len(reply))
            if not got:
                break
            reply += got
        return reply == ACK
    except OSError:
        return False
    finally:
        sock.close()  # a duplicate: the connection itself stays with asyncio


def take(path: str, timeout: float = TIMEOUT) -> tuple[socket.socket, dict[str, Any], list[int]]:
    """The new side: ask the bfdd on ``path`` for its sessions; returns the connection (to
    acknowledge with ``ACK`` once adopted), the state and the descriptors in order."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    fds: list[int] = []
    try:
        sock.connect(path)
        sock.sendall(b'{"op":"handoff"}\n')
        deadline = time.monotonic() + timeout
        buf = bytearray()
        header: dict[str, Any] | None = None
        need = -1
        while need < 0 or len(buf) < need:
            if time.monotonic() > deadline:
                raise HandoffError(f"no complete hand-over within {timeout:g}s")
            data, got, _flags, _addr = socket.recv_fds(sock, 1 << 16, CHUNK + 53)
            fds.extend(got)
            if not data:
                raise HandoffError("the old gracebgp-bfdd closed the connection")
            buf += data
            while header is None and b"\n" in buf:
                line, _, rest = bytes(buf).partition(b"\n")
                message = json.loads(line)
                if message.get("event") == "snapshot":  # its greeting, before the answer
                    buf = bytearray(rest)
                    continue
                if not message.get("ok") or message.get("op") != "handoff":
                    raise HandoffError(f"the old gracebgp-bfdd refused: {message.get('error', message)}")
                header = message
                buf = bytearray(rest)
                need = int(header["chunks"]) - 1 + int(header["length"])
        assert header is not None
        if len(fds) != int(header["fds"]):
            raise HandoffError(f"{len(fds)} descriptors received, {header['fds']} announced")
        state = json.loads(bytes(buf[int(header["chunks"]) - 1:]))
        return sock, state, fds
    except (OSError, ValueError, KeyError) as exc:
        for fd in fds:
            os.close(fd)
        sock.close()
        raise HandoffError(str(exc)) from exc
    except HandoffError:
        for fd in fds:
            os.close(fd)
        sock.close()
        raise
