"""The end of event streams (runtime/eventbus.py): End after what was queued, nothing
after it, a stream opened after the end ends at once; replay after a Last-Event-ID of
this run or of another run (sequence numbers start again after a re-exec)."""

from __future__ import annotations

from gracebgp.core.events import Notice
from gracebgp.runtime.eventbus import End, EventBus


def test_end_of_streams_and_replay() -> None:
    bus = EventBus(clock=lambda: 1.0)
    sub = bus.subscribe(routes=False)
    bus.publish(Notice("command", "one", None, {}))
    bus.end("restart")
    bus.publish(Notice("command", "after the end", None, {}))  # not sent to ended streams
    assert sub.queue.get_nowait()["message"] == "one"  # type: ignore[index]
    end = sub.queue.get_nowait()
    assert end == End("restart", f"{bus.run}.1") and sub.queue.empty()
    assert bus.ending == {sub}
    bus.unsubscribe(sub)
    assert not bus.ending
    late = bus.subscribe(routes=False)  # after the end: the end at once
    assert isinstance(late.queue.get_nowait(), End)
    assert [e["message"] for e in bus.replay(f"{bus.run}.1")] == ["after the end"]
    other = EventBus()
    other.carry_over([{"seq": 9, "time": 0.5, "kind": "restart", "peer": None, "message": "old", "data": {}}])
    other.publish(Notice("command", "new", None, {}))
    assert [e["message"] for e in other.replay(f"{bus.run}.2")] == ["new"]  # another run
