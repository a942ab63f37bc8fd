"""The clean point of a hand-over (issue 19, runtime.handover.quiesce): octets still in
our write buffer when the drain time is over abort the hand-over (no state file, no
descriptor left open) and ``resume`` carries on with the connection (review of issue 19,
item 5: they were lost: a message cut short, or UPDATEs recorded as advertised but never
sent). A real socketpair whose other end does not read."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from gracebgp.core.speaker import Speaker
from gracebgp.runtime import handover
from gracebgp.runtime.owner import Owner


def test_issue19_unsent_octets_abort_the_hand_over_and_the_process_resumes(tmp_path: Path) -> None:
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    async def scenario() -> tuple[str, bool, int, int]:
        loop = asyncio.get_running_loop()
        owner = Owner(Speaker(65001, "10.0.0.1"), [])
        proto = handover._Adopted("192.0.2.1", 1, owner.transport, False)
        await loop.connect_accepted_socket(lambda: proto, sock=ours)
        owner.transport.send("192.0.2.1", 1, b"\x00" * 4_000_000)  # far more than the kernel takes
        assert proto.transport is not None and proto.transport.get_write_buffer_size() > 0
        fds_before = len(os.listdir("/proc/self/fd"))
        owner.stop()
        with pytest.raises(handover.Aborted) as caught:
            await handover.quiesce(owner, tmp_path, {})
        fds_after = len(os.listdir("/proc/self/fd"))
        await handover.resume(owner)
        reading = proto.transport.is_reading()
        task = asyncio.ensure_future(owner.run())  # the owner loop runs again
        await asyncio.sleep(0.05)
        running = not task.done()
        owner.stop()
        await asyncio.wait_for(task, 5)
        proto.transport.abort()
        return str(caught.value), reading and running, fds_before, fds_after

    try:
        why, carried_on, before, after = asyncio.run(scenario())
    finally:
        peer.close()
    assert "octets still unsent" in why and "to 192.0.2.1" in why, why
    assert carried_on
    assert after == before  # the duplicated descriptor was closed
    assert not (tmp_path / handover.STATE_NAME).exists()
