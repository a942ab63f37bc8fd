"""The owner hands the speaker the time of each input, not the time it got to it (issue 10
finding 4): inputs are stamped when queued, so a hold timer sees when a KEEPALIVE
arrived; events carry the time of the input that caused them, so the timeline's offsets
and the durations it reports agree even when the owner handles a burst late."""

from __future__ import annotations

import asyncio

from gracebgp.api import grview
from gracebgp.core import events as ev
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.owner import STEP_BOUND, InputQueue, Owner, StepTimes
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.types import IPV4_UNICAST


def restarting_speaker() -> Speaker:
    gr = GrConfig(120, True, forwarding=frozenset({IPV4_UNICAST}))
    session = SessionConfig(65001, "192.0.2.1", "192.0.2.2", 65002, graceful_restart=gr)
    return Speaker(65001, "192.0.2.1", [NeighborSettings("192.0.2.2", session, deferral_time=60.0)])


def test_a_late_burst_keeps_the_timeline_offsets_equal_to_its_durations() -> None:
    async def scenario() -> tuple[list[dict[str, object]], float]:
        speaker = restarting_speaker()
        speaker.establish_wait = 5.0
        owner = Owner(speaker, [])
        now = asyncio.get_running_loop().time()
        # A burst handled late: the restart began 8 s ago, the deferral's establish wait
        # (5 s) ran out 3 s ago, and the owner only now gets to both inputs.
        owner.handle(ev.Started("planned", "test"), now - 8.0)
        deadline = speaker.next_deadline()
        assert deadline is not None and abs(deadline - (now - 3.0)) < 1e-6
        owner.handle(ev.TimerDue(), deadline)
        return list(owner.bus.history), now

    history, _ = asyncio.run(scenario())
    line = grview.timeline(history)
    events = {e.data.get("event"): e for e in line.events}
    assert "selection-done" in events, [e.message for e in line.events]
    start, done = events["process-started"], events["selection-done"]
    after = done.data["after"]
    assert after == 5.0
    assert abs((done.time - start.time) - after) < 1e-3  # the timeline says what the message says
    assert "after 5.000s" in done.message


def test_inputs_carry_the_time_they_were_queued() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        queue = InputQueue()
        first = loop.time()
        queue.put_nowait(ev.TimerDue())
        await asyncio.sleep(0.05)
        queue.put_nowait(ev.InputDrained())
        stamps = []
        for _ in range(2):
            queue.get_nowait()
            stamps.append(queue.last_time - first)
        return stamps

    early, late = asyncio.run(scenario())
    assert early < 0.01 and late >= 0.05


def test_received_keepalives_are_handled_before_timers_with_their_arrival_time() -> None:
    # The owner's turn: queued input first (each with its queueing time), then timers.
    seen: list[tuple[str, float]] = []

    class Recording(Speaker):
        def handle(self, inp: ev.Input, now: float) -> list[ev.Output]:
            seen.append((type(inp).__name__, now))
            return super().handle(inp, now)

        def next_deadline(self) -> float | None:
            return 0.0  # always due: a hold timer that expired while the loop was held

    async def scenario() -> float:
        owner = Owner(Recording(65001, "192.0.2.1"), [])
        queued = asyncio.get_running_loop().time()
        owner.submit(ev.Received("192.0.2.2", 1, b""))
        task = asyncio.ensure_future(owner.run())
        for _ in range(100):
            if any(name == "TimerDue" for name, _ in seen):
                break
            await asyncio.sleep(0.01)
        owner.stop()
        await asyncio.wait_for(task, 5)
        return queued

    queued = asyncio.run(scenario())
    names = [name for name, _ in seen]
    assert names.index("Received") < names.index("TimerDue")
    assert abs(seen[names.index("Received")][1] - queued) < 0.01


def test_step_times_count_steps_over_the_bound() -> None:
    steps = StepTimes()
    for seconds in (0.001, 0.002, STEP_BOUND * 2, 0.3):
        steps.observe(seconds, "Continue" if seconds == 0.3 else "Received")
    assert (steps.max, steps.max_input, steps.over, steps.count) == (0.3, "Continue", 2, 4)
    assert sum(steps.buckets) == 4


def test_a_bfd_change_goes_ahead_of_queued_input() -> None:
    """Issue 18: a BFD failure is handled before a backlog of received UPDATEs, with the
    time it was queued."""
    async def scenario() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        queue = InputQueue()
        first = loop.time()
        queue.put_nowait(ev.Received("192.0.2.2", 1, b""))
        queue.put_nowait(ev.InputDrained())
        await asyncio.sleep(0.05)
        queue.put_nowait(ev.BfdChanged("192.0.2.2", "up", "down"))
        out = []
        while not queue.empty():
            out.append((type(queue.get_nowait()).__name__, queue.last_time - first))
        return out

    order = asyncio.run(scenario())
    assert [name for name, _ in order] == ["BfdChanged", "Received", "InputDrained"]
    assert order[0][1] >= 0.05 and order[1][1] < 0.01
