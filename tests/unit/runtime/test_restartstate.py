"""runtime.restartstate: how the previous run ended (RFC 4724 §4.1: R=1 only after a real
restart), judged against how long peers hold our routes; damaged files set aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gracebgp.runtime.restartstate import HEARTBEAT, MARKER, RUNNING, RestartState

NOW = 1_800_000_000.0
HOLD = 120.0  # restart-time 120, no LLGR


def write(d: Path, name: str, data: object) -> None:
    (d / name).write_text(json.dumps(data))


def aside(d: Path, name: str) -> list[Path]:
    return sorted(d.glob(f"{name}.damaged-*"))


def test_nothing_left_is_a_cold_start(tmp_path: Path) -> None:
    prev = RestartState(tmp_path).classify(HOLD, NOW)
    assert prev.kind == "cold" and prev.problems == []


def test_crash_within_the_hold_is_unplanned_and_after_it_cold(tmp_path: Path) -> None:
    rs = RestartState(tmp_path)
    write(tmp_path, RUNNING, {"pid": 4242, "time": NOW - HOLD - HEARTBEAT + 1})
    prev = rs.classify(HOLD, NOW)
    assert prev.kind == "unplanned" and "pid 4242" in prev.detail
    # Before the fix, any crash up to 4095 + 60 s ago came back with R=1.
    write(tmp_path, RUNNING, {"pid": 4242, "time": NOW - HOLD - HEARTBEAT - 1})
    prev = rs.classify(HOLD, NOW)
    assert prev.kind == "cold" and "after the 120s peers hold our routes" in prev.detail


def test_planned_marker_judged_by_the_hold_and_classify_changes_nothing(tmp_path: Path) -> None:
    rs = RestartState(tmp_path)
    write(tmp_path, MARKER, {"pid": 7, "time": NOW - 10, "reason": "gracebgp restart",
                             "events": [{"kind": "restart"}]})
    prev = rs.classify(HOLD, NOW)
    assert prev.kind == "planned" and prev.events == [{"kind": "restart"}]
    assert (tmp_path / MARKER).exists() and not (tmp_path / RUNNING).exists()  # a failed start keeps it
    assert rs.classify(10_000.0, NOW + 5000).kind == "planned"  # LLGR: peers hold them longer
    assert rs.classify(HOLD, NOW + 200).kind == "cold"
    rs.begin(NOW)
    assert not (tmp_path / MARKER).exists()
    assert json.loads((tmp_path / RUNNING).read_text())["time"] == NOW


@pytest.mark.parametrize(("name", "content"), [
    (RUNNING, '{"time": null}'),
    (RUNNING, '{"pid": "x", "time": 1}'),
    (RUNNING, "garbage\x00\xff"),
    (RUNNING, "[1, 2]"),
    (MARKER, '{"events": 5, "time": 1800000000}'),
    (MARKER, '{"time": "yesterday"}'),
    (MARKER, '{"time": 1800000000, "events": [1]}'),
    (MARKER, "{not json"),
])
def test_a_damaged_file_is_reported_set_aside_and_ignored(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_bytes(content.encode("utf-8", "surrogateescape"))
    prev = RestartState(tmp_path).classify(HOLD, NOW)  # before the fix: TypeError, exit 1
    assert prev.kind == "cold"
    assert len(prev.problems) == 1 and str(tmp_path / name) in prev.problems[0]
    assert "is damaged" in prev.problems[0] and "set aside as" in prev.problems[0]
    assert not (tmp_path / name).exists()
    kept = aside(tmp_path, name)
    assert len(kept) == 1 and kept[0].read_bytes() == content.encode("utf-8", "surrogateescape")
    # The next start finds nothing damaged.
    assert RestartState(tmp_path).classify(HOLD, NOW).problems == []


def test_a_damaged_marker_does_not_hide_a_crash(tmp_path: Path) -> None:
    write(tmp_path, MARKER, {"events": 5})
    write(tmp_path, RUNNING, {"pid": 9, "time": NOW - 5})
    prev = RestartState(tmp_path).classify(HOLD, NOW)
    assert prev.kind == "unplanned" and len(prev.problems) == 1


def test_undo_puts_back_what_begin_replaced(tmp_path: Path) -> None:
    """A start-up that fails (a port in use) in a supervisor's loop must not turn an old
    crash into an endless R=1: the next start judges the previous run."""
    rs = RestartState(tmp_path)
    write(tmp_path, MARKER, {"pid": 7, "time": NOW - 10, "reason": "gracebgp restart"})
    marker = (tmp_path / MARKER).read_bytes()
    rs.undo(rs.begin(NOW))
    assert (tmp_path / MARKER).read_bytes() == marker and not (tmp_path / RUNNING).exists()
    (tmp_path / MARKER).unlink()
    write(tmp_path, RUNNING, {"pid": 9, "time": NOW - 1000})
    rs.undo(rs.begin(NOW))
    assert json.loads((tmp_path / RUNNING).read_text())["time"] == NOW - 1000
    assert rs.classify(HOLD, NOW).kind == "cold"
