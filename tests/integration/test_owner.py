"""The owner task survives a bug in the Speaker: it logs the error and keeps serving."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gracebgp.core import events as ev
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.owner import Owner


class Faulty(Speaker):
    def __init__(self) -> None:
        super().__init__(65001, "10.0.0.1")
        self.seen: list[str] = []

    def handle(self, inp: ev.Input, now: float) -> list[ev.Output]:
        self.seen.append(type(inp).__name__)
        if isinstance(inp, ev.Received):
            raise RuntimeError("boom")
        return super().handle(inp, now)


def test_owner_keeps_running_after_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    speaker = Faulty()

    async def scenario() -> None:
        owner = Owner(speaker, [])
        task = asyncio.ensure_future(owner.run())
        owner.submit(ev.Received("192.0.2.1", 1, b"x"))
        owner.submit(ev.TimerDue())
        for _ in range(100):
            if "TimerDue" in speaker.seen:
                break
            await asyncio.sleep(0.01)
        owner.stop()
        await asyncio.wait_for(task, 5)

    with caplog.at_level(logging.ERROR, logger="gracebgp"):
        asyncio.run(scenario())
    assert speaker.seen.index("TimerDue") > speaker.seen.index("Received")
    assert any("internal error while handling Received" in r.message for r in caplog.records)
