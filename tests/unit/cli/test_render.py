"""Formatting of durations and route flags, and the tables for one daemon and a fleet."""

from __future__ import annotations

import pytest

from gracebgp.cli.render import (
    event_line,
    event_rows,
    format_duration,
    global_pairs,
    global_rows,
    health_rows,
    health_summary,
    make_table,
    peer_pairs,
    peer_rows,
    render_text,
    route_flags,
    route_rows,
)
from tests.unit.cli import canned


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0, "0s"), (0.9, "0s"), (59, "59s"), (60, "1m0s"), (3723.4, "1h2m3s"),
    (3605, "1h0m5s"), (86400, "1d0h0m0s"), (90061, "1d1h1m1s"), (-3, "0s"),
])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_route_flags() -> None:
    assert route_flags(canned.path(best=True)) == "*>"
    assert route_flags(canned.path(best=False)) == "*"
    assert route_flags(canned.path(best=True, stale=True)) == "*>S"
    assert route_flags(canned.path(best=False, rejected="AS loop")) == ""
    # another path of the equal-cost set ([global.use-multiple-paths]); the best stays ">"
    assert route_flags(canned.path(best=False, multipath=True)) == "*="
    assert route_flags(canned.path(best=True, multipath=True)) == "*>"


def text_of(headers: list[str], rows: list[list[str]]) -> list[str]:
    return render_text(make_table(headers, rows)).splitlines()


def test_peers_one_row_per_family() -> None:
    headers, rows = peer_rows([(None, [canned.peer(), canned.peer("192.0.2.9", "Idle", None, True)])])
    assert headers[0] == "Peer Address" and "Node" not in headers
    assert rows[0] == ["192.0.2.2", "65001", "65002", "Established", "1h2m3s", "ipv4-unicast",
                       "3", "2", "5", "0"]
    assert rows[1][5:] == ["ipv6-unicast", "1", "1", "2", "1"]
    assert rows[2][3:5] == ["Idle (admin down)", "-"]
    lines = text_of(headers, rows)
    assert lines[0].split() == ["Peer", "Address", "Local", "AS", "Peer", "AS", "State", "Uptime", "Family",
                                "Received", "Accepted", "Advertised", "Stale"]
    assert lines[1].split() == rows[0]
    assert len(lines) == 5
    assert all(line == line.rstrip() for line in lines)


def test_peers_fleet_has_a_node_column() -> None:
    headers, rows = peer_rows([("a", [canned.peer()]), ("b", [canned.peer("192.0.2.3")])])
    assert headers[:2] == ["Node", "Peer Address"]
    assert [r[:2] for r in rows] == [["a", "192.0.2.2"], ["a", "192.0.2.2"],
                                     ["b", "192.0.2.3"], ["b", "192.0.2.3"]]
    lines = text_of(headers, rows)
    assert lines[0].startswith("Node  Peer Address")
    assert lines[3].startswith("b     192.0.2.3")


def test_routes_loc_and_adj() -> None:
    entries = [canned.path(), canned.path("10.0.1.0/24", best=False, source=None),
               canned.path("10.0.2.0/24", best=False, rejected="AS loop")]
    headers, rows = route_rows([(None, entries)], with_source=True)
    assert headers == [" ", "Prefix", "NextHop", "Peer", "Age", "Attrs"]
    assert rows[0] == ["*>", "10.0.0.0/24", "192.0.2.2", "192.0.2.2", "1m5s", "origin igp as-path [65002]"]
    assert rows[1][3] == "local"
    assert rows[2][5].endswith("(rejected: AS loop)")
    headers, rows = route_rows([("x", entries[:1])], with_source=False)
    assert headers == ["Node", " ", "Prefix", "NextHop", "Age", "Attrs"]
    # "[65002]" must stay text, not be taken for rich markup
    assert "as-path [65002]" in render_text(make_table(headers, rows))


def test_routes_show_the_add_path_ids_when_there_are_any() -> None:
    entries = [canned.path(path_id=1, multipath=True), canned.path(best=False, path_id=2, multipath=True),
               canned.path("10.0.1.0/24", best=False)]
    headers, rows = route_rows([(None, entries)], with_source=False)
    assert headers == [" ", "ID", "Prefix", "NextHop", "Age", "Attrs"]
    assert [r[:3] for r in rows] == [["*>", "1", "10.0.0.0/24"], ["*=", "2", "10.0.0.0/24"],
                                     ["*", "-", "10.0.1.0/24"]]


def test_global_single_and_fleet() -> None:
    pairs = dict(global_pairs(canned.global_()))
    assert pairs["Router ID"] == "192.0.2.1"
    assert pairs["Uptime"] == "1d1h1m1s"
    assert pairs["Routes ipv4-unicast"] == "10 prefixes, 12 paths"
    headers, rows = global_rows([("a", canned.global_()), ("b", canned.global_("edge2", "192.0.2.5"))])
    assert headers[:3] == ["Node", "AS", "Router ID"]
    assert rows[1][:3] == ["b", "65001", "192.0.2.5"]


def test_health_rows_and_summary() -> None:
    answers = [("a", canned.health(True)), ("b", canned.health(False))]
    headers, rows = health_rows(answers)
    assert headers == ["Node", "Type", "Severity", "Subject", "Reason", "Message"]
    assert rows == [["b", "PeerDown", "error", "192.0.2.9", "Idle", "session down since 5m"]]
    assert health_summary(answers) == "not healthy: 1 of 2 nodes (b)"
    assert health_summary([(None, canned.health(True))]) == "healthy"
    assert health_summary([(None, canned.health(False))]) == "not healthy"
    assert health_summary([("a", canned.health(True)), ("b", canned.health(True))]) == "all 2 nodes healthy"


def test_events() -> None:
    headers, rows = event_rows([(None, [canned.event()])])
    assert headers == ["Time", "Kind", "Peer", "Message"]
    assert rows[0][1:] == ["peer-state", "192.0.2.2", "Established"]
    assert event_line("a", canned.event()).endswith(" a peer-state 192.0.2.2 Established")
    prefixed = canned.event(message="peer 192.0.2.2: IDLE -> CONNECT")
    assert event_rows([(None, [prefixed])])[1][0][3] == "IDLE -> CONNECT"


def test_peer_detail() -> None:
    pairs = dict(peer_pairs(canned.peer(last_error="hold timer expired")))
    assert pairs["Last error"] == "hold timer expired"
    assert pairs["Description"] == "-"
    assert pairs["Family ipv6-unicast"].startswith("negotiated: received 1")
