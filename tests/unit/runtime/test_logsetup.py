"""The daemon's log (runtime/logsetup.py, docs/logging.md): the text and JSON formats, the
logger per subsystem, uvicorn's banners kept out, and what the speaker says: OPENs with
their capabilities, NOTIFICATIONs and UPDATE summaries at debug (nothing at all when debug
is off), and what a session going down does to the routes on both sides."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from gracebgp.config.default import demo_configs
from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.speaker import Speaker
from gracebgp.core.wirelog import open_capabilities as api_capabilities
from gracebgp.runtime import logsetup
from gracebgp.runtime.owner import Owner
from tests.unit.core.net import SpeakerNet
from tests.unit.core.test_speaker import speaker_from

A, B = "127.0.0.1", "127.0.0.2"
KEYS = {"time", "level", "logger", "peer", "event", "msg", "fields"}


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``setup`` changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    asyncio_level = logging.getLogger("asyncio").level
    try:
        yield
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
        sys.excepthook = hook
        logging.captureWarnings(False)
        logging.getLogger("asyncio").setLevel(asyncio_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    out = []
    for line in stream.getvalue().splitlines():
        obj = json.loads(line)  # every line is one JSON object
        assert set(obj) - {"exc", "stack"} == KEYS, obj
        out.append(obj)
    return out


# --- formats -----------------------------------------------------------------------------

def test_json_line_has_every_key_and_the_peer_outside_the_text(restore_logging: None) -> None:
    out = io.StringIO()
    logsetup.setup("debug", "json", out)
    logging.getLogger("gracebgp.session").info(
        "%s%s", "peer 192.0.2.2: ", "established: AS 65002 §4",
        extra={"peer": "192.0.2.2", "event": "session-up", "fields": {"peer_as": 65002}})
    logging.getLogger("gracebgp").warning("daemon line\nwith a second line")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gracebgp.runtime").exception("internal error")
    first, second, third = lines(out)
    assert first["logger"] == "session" and first["peer"] == "192.0.2.2" and first["event"] == "session-up"
    assert first["msg"] == "established: AS 65002 §4" and first["fields"] == {"peer_as": 65002}
    assert first["level"] == "info" and first["time"].endswith("Z") and "T" in first["time"]
    assert "\\u00a7" in out.getvalue().splitlines()[0]  # ASCII on the wire, whatever the locale
    assert second == {**second, "logger": "daemon", "peer": None, "event": None, "fields": {},
                      "msg": "daemon line\nwith a second line", "level": "warning"}
    assert third["logger"] == "runtime" and "ValueError: boom" in third["exc"]
    assert len(out.getvalue().splitlines()) == 3  # the traceback too is inside its line


def test_text_line_names_the_logger(restore_logging: None) -> None:
    out = io.StringIO()
    logsetup.setup("info", "text", out)
    logging.getLogger("gracebgp.restart").info("restart complete", extra={"event": "restart-complete"})
    logging.getLogger("gracebgp").info("stopped")
    logging.getLogger("gracebgp.session").debug("not at info")
    text = out.getvalue().splitlines()
    assert len(text) == 2
    assert text[0].endswith(" INFO [restart] restart complete")
    assert text[1].endswith(" INFO [daemon] stopped")


def test_setup_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="json"):
        logsetup.setup("info", "xml")


def test_framework_banners_are_dropped_warnings_kept(restore_logging: None) -> None:
    out = io.StringIO()
    logsetup.setup("debug", "json", out)
    uv = logging.getLogger("uvicorn.error")
    uv.info("Started server process [%d]", 1)
    uv.info("Uvicorn running on unix socket %s (Press CTRL+C to quit)", "/run/x.sock")
    uv.info("Waiting for connections to close. (CTRL+C to force quit)")
    uv.error("Cancel %s running task(s), timeout graceful shutdown exceeded", 1)
    logging.getLogger("asyncio").debug("Using selector: EpollSelector")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old thing", DeprecationWarning, stacklevel=1)
    got = lines(out)
    assert [(g["logger"], g["level"]) for g in got] == [("api", "error"), ("runtime", "warning")], got
    assert "CTRL+C" not in out.getvalue() and "Started server" not in out.getvalue()
    assert "old thing" in got[1]["msg"]


def test_uncaught_exception_is_one_json_line(restore_logging: None) -> None:
    out = io.StringIO()
    logsetup.setup("info", "json", out)
    try:
        raise RuntimeError("the end")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    (got,) = lines(out)
    assert got["level"] == "critical" and got["event"] == "crashed" and "RuntimeError" in got["exc"]


def test_owner_logs_speaker_lines_on_their_subsystem_logger(restore_logging: None) -> None:
    out = io.StringIO()
    logsetup.setup("info", "json", out)

    async def scenario() -> None:
        owner = Owner(Speaker(65001, "192.0.2.1"), [])
        owner.execute([ev.Log("info", "selection done", None, "restart", "selection-done", {"after": 0.1}),
                        ev.Log("warning", "NOTIFICATION received: CEASE/ADMINISTRATIVE_RESET", "192.0.2.2",
                               "session", "peer-notification", {"code": 6})])
        await owner.transport.shutdown()

    asyncio.run(scenario())
    first, second = lines(out)
    assert (first["logger"], first["event"], first["fields"], first["peer"]) == (
        "restart", "selection-done", {"after": 0.1}, None)
    assert (second["logger"], second["peer"], second["level"]) == ("session", "192.0.2.2", "warning")
    assert second["msg"] == "NOTIFICATION received: CEASE/ADMINISTRATIVE_RESET"


# --- what the speaker says --------------------------------------------------------------------

def pair(debug: bool) -> tuple[SpeakerNet, Speaker, Speaker]:
    """The demo speakers (GR with N, LLGR, both families) in memory, debug on or off."""
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    net = SpeakerNet()
    a, b = speaker_from(a_text), speaker_from(b_text)
    a.handle(ev.DebugLogged(debug), 0.0)
    b.handle(ev.DebugLogged(debug), 0.0)
    net.add(A, a)
    net.add(B, b)
    net.run()
    return net, a, b


def logs(net: SpeakerNet, name: str, event: str) -> list[ev.Log]:
    return [log for n, log in net.logs if n == name and log.event == event]


def test_debug_shows_opens_notifications_and_update_summaries() -> None:
    net, a, _b = pair(debug=True)
    # Both connect (a collision, RFC 4271 §6.8): an OPEN each way on each connection.
    sent, received = logs(net, A, "open-sent")[0], logs(net, A, "open-received")[0]
    assert len(logs(net, A, "open-sent")) == len(logs(net, B, "open-received")) >= 1
    assert sent.level == "debug" and sent.peer == B and sent.subsystem == "session"
    caps = received.fields["capabilities"]
    # The same keys and shapes as the API's peer_capabilities (GET /v1/peers/ADDR).
    assert caps["families"] == ["ipv4-unicast", "ipv6-unicast"] and caps["four_octet_as"] == 65002
    gr = caps["graceful_restart"]
    assert gr["notification"] and not gr["restart_state"] and gr["restart_time"] > 0
    assert {"family": "ipv4-unicast", "forwarding": True} in gr["families"]
    assert all(f["stale_time"] > 0 for f in caps["llgr"]) and len(caps["llgr"]) == 2
    neg = a.peers[B].negotiated
    assert neg is not None
    api = api_capabilities(neg.peer_open).model_dump()
    assert {k: api[k] for k in caps} == caps
    assert caps["route_refresh"] and caps["enhanced_route_refresh"] and caps["extended_message"]
    assert "graceful-restart R=0 N=1 restart-time" in received.message
    assert "4-octet-as 65002" in received.message
    # UPDATEs: counts per family, End-of-RIB included, never the prefixes themselves.
    summary = logs(net, B, "updates-received")
    fams: dict[str, dict[str, Any]] = {}
    for line in summary:
        for fam, counts in line.fields["families"].items():
            fams.setdefault(fam, {"announced": 0, "end_of_rib": False})
            fams[fam]["announced"] += counts["announced"]
            fams[fam]["end_of_rib"] |= counts["end_of_rib"]
    assert fams == {"ipv4-unicast": {"announced": 3, "end_of_rib": True},
                    "ipv6-unicast": {"announced": 2, "end_of_rib": True}}
    assert all("/" not in line.message for line in summary)
    assert sum(x.fields["families"].get("ipv4-unicast", {}).get("announced", 0)
               for x in logs(net, A, "updates-sent")) == 3
    # A withdrawing shutdown: the NOTIFICATION by name at both ends, Hard Reset unwrapped.
    before = len(logs(net, A, "notification-sent"))  # the collision's Cease, if any
    net.command(A, cmd.ShutdownPeer(B, "maintenance"))
    (note,) = logs(net, A, "notification-sent")[before:]
    assert note.message.startswith("NOTIFICATION sent: CEASE/HARD_RESET (6/9) wrapping "
                                   "CEASE/ADMINISTRATIVE_SHUTDOWN (6/2)"), note.message
    assert note.fields["hard_reset"]["communication"] == "maintenance"
    assert logs(net, B, "notification-received")[-1].fields["subcode_name"] == "HARD_RESET"
    warned = logs(net, B, "peer-notification")[-1]  # not only at debug
    assert warned.level == "warning"
    assert warned.fields["hard_reset"]["subcode_name"] == "ADMINISTRATIVE_SHUTDOWN"


def test_no_debug_no_trace() -> None:
    net, a, _b = pair(debug=False)
    assert not any(log.level == "debug" and log.event != "eor-received" for _, log in net.logs)
    assert not a.tallies
    assert not any(p.session.trace for p in a.peers.values())


def test_session_down_says_what_happens_to_the_routes_both_ways() -> None:
    # The peer stops the graceful-restart way (N negotiated: Cease/Administrative Reset).
    net, _a, _b = pair(debug=False)
    net.queue.append((A, ev.StopRequested(True, "gracebgp restart")))
    net.run()
    (mine,) = logs(net, A, "session-down")
    assert "its 5 routes: dropped (we are stopping)" in mine.message
    assert "our routes: the peer keeps them stale for up to" in mine.message
    assert mine.fields["routes_to_peer"]["fate"] == "kept-stale"
    (theirs,) = logs(net, B, "session-down")
    assert "its 5 routes: kept stale for up to" in theirs.message
    assert "graceful restart helper" in theirs.message
    assert theirs.fields["routes_from_peer"] == {**theirs.fields["routes_from_peer"], "count": 5,
                                                 "fate": "kept-stale"}
    assert "our routes" not in theirs.message  # the peer ended it: what it keeps is up to it
    # A withdrawing stop: Hard Reset, both sides delete.
    net, _a, _b = pair(debug=False)
    net.queue.append((A, ev.StopRequested(False, "SIGINT")))
    net.run()
    (mine,) = logs(net, A, "session-down")
    assert "our routes: the peer deletes them (Hard Reset, RFC 8538)" in mine.message
    (theirs,) = logs(net, B, "session-down")
    assert "its 5 routes: deleted (Hard Reset, RFC 8538); our routes: the peer deletes them" in theirs.message
    # The host vanishes: B keeps A's routes stale, and cannot know what A keeps.
    net, _a, _b = pair(debug=False)
    net.cut(A)
    net.run()
    (theirs,) = logs(net, B, "session-down")
    assert "its 5 routes: kept stale" in theirs.message and "our routes" not in theirs.message


def test_drain_and_peer_removal_say_what_the_peers_do() -> None:
    net, _a, _b = pair(debug=False)
    net.command(A, cmd.Drain(delay=5))
    (gshut,) = logs(net, A, "drain-gshut")
    assert gshut.subsystem == "restart" and gshut.fields["changed"] == 5
    assert "5 route advertisements re-sent with GRACEFUL_SHUTDOWN" in gshut.message
    assert "they still have ours" in gshut.message
    net.advance(6)
    (gone,) = logs(net, A, "drain-withdrawn")
    assert "withdrawn: the peers delete our routes; the sessions stay up" in gone.message
    net.command(A, cmd.DeletePeer(B))
    (removed,) = logs(net, A, "peer-removed")
    assert removed.subsystem == "config" and removed.fields["session_was_up"] is True
    assert "peer removed; Cease/Peer De-configured sent, the peer deletes our routes" in removed.message
