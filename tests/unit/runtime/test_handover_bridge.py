"""The keepalive bridge of a re-exec hand-over (issue 19, runtime.handover): a child that
sends a KEEPALIVE on each session every second while the new image starts; it stops
when the new image ends it, and by itself when the new image dies (so that the peers
see the connection close and fall back to graceful restart). Real sockets (socketpairs),
bounded waits."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time

from gracebgp.runtime import handover


def _read_for(sock: socket.socket, seconds: float) -> bytes:
    out = b""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        chunk = sock.recv(4096)
        if not chunk:
            return out + b"<EOF>"
        out += chunk
    return out


def test_issue19_bridge_sends_keepalives_until_stopped() -> None:
    ours, peer = socket.socketpair()
    try:
        os.environ[handover.ENV_BRIDGE] = str(handover.start_bridge([ours.fileno()]))
        got = _read_for(peer, handover.BRIDGE_INTERVAL * 2.5)
        assert got and got == handover.KEEPALIVE * (len(got) // 19), got  # whole KEEPALIVEs only
        handover.stop_bridge()
        assert handover.ENV_BRIDGE not in os.environ
        assert _read_for(peer, handover.BRIDGE_INTERVAL * 1.5) == b""  # stopped: nothing more
    finally:
        ours.close()
        peer.close()


def test_issue19_bridge_ends_when_the_new_image_dies() -> None:
    ours, peer = socket.socketpair()
    os.set_inheritable(ours.fileno(), True)
    code = ("import os, sys; from gracebgp.runtime import handover; "
            f"handover.start_bridge([{ours.fileno()}]); os._exit(0)")  # the new image dies at once
    proc = subprocess.run([sys.executable, "-c", code], pass_fds=(ours.fileno(),), timeout=30, check=True)
    assert proc.returncode == 0
    ours.close()
    got = _read_for(peer, handover.BRIDGE_INTERVAL * 4)
    peer.close()
    assert got.endswith(b"<EOF>"), got  # the bridge noticed and let the connection close


def test_issue19_bridge_keeps_no_other_descriptor() -> None:
    """Review of issue 19, item 9: a connection that is not handed over (not Established)
    closes with the re-execution; the bridge must not hold it open for its peer."""
    ours, peer = socket.socketpair()
    other, other_peer = socket.socketpair()
    pid = handover.start_bridge([ours.fileno()])
    try:
        other.close()  # our copy; the bridge's must be closed too
        assert _read_for(other_peer, handover.BRIDGE_INTERVAL * 0.8) == b"<EOF>"
        assert handover.KEEPALIVE in _read_for(peer, handover.BRIDGE_INTERVAL * 1.5)  # its own still works
    finally:
        os.kill(pid, 15)
        os.waitpid(pid, 0)
        for s in (ours, peer, other_peer):
            s.close()
