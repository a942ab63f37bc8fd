"""Issue 12 item 4, the CLI as people type it, without a daemon: global options after the
command, help without type names, shell completion, sorted tables, live ages, fleet
health counting a node that did not answer, the reset and rib del wording, ``--peer
local``, and connect failures in operator words."""

from __future__ import annotations

import errno
import json
import re

import httpx
import pytest

from gracebgp.api.schema import Done, GrStatus, Negotiation, PathsChanged, Peer
from gracebgp.cli.arrange import global_options_first
from gracebgp.cli.lifecycle import gr_lines, live_ages
from gracebgp.cli.main import command, run
from gracebgp.cli.peers import reset_words
from gracebgp.cli.render import health_summary, peer_rows, unreachable_health
from gracebgp.cli.routes import changed_words
from gracebgp.runtime.transport import CONNECT_TIMEOUT, connect_failure
from tests.unit.cli import canned
from tests.unit.cli.fake import FakeDaemon, install

Capture = pytest.CaptureFixture[str]


def nobody(request: httpx.Request) -> httpx.Response:
    """A socket nothing listens on."""
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> FakeDaemon:
    fake = FakeDaemon()
    install(monkeypatch, {"/a.sock": fake, "/b.sock": FakeDaemon("edge2", "192.0.2.9"), "/c.sock": nobody})
    return fake


@pytest.mark.parametrize(("typed", "meant"), [
    (["peers", "--json"], ["--json", "peers"]),
    (["peers", "-j", "--socket", "/x"], ["-j", "--socket", "/x", "peers"]),
    (["peers", "--socket=/x"], ["--socket=/x", "peers"]),
    (["global", "--ca-file", "/ca.pem"], ["--ca-file", "/ca.pem", "global"]),
    (["routes", "available", "ipv4", "unicast", "--json", "--peer", "local"],
     ["--json", "routes", "available", "ipv4", "unicast", "--peer", "local"]),
    (["routes", "-j", "available", "ipv4", "unicast"], ["-j", "routes", "available", "ipv4", "unicast"]),
    (["--host", "a=/a", "peers", "--host", "b=/b"], ["--host", "b=/b", "--host", "a=/a", "peers"]),
    # a command's own option keeps its value, whatever it looks like; so does what follows --
    (["neighbor", "192.0.2.2", "shutdown", "--message", "--json"],
     ["neighbor", "192.0.2.2", "shutdown", "--message", "--json"]),
    (["neighbor", "192.0.2.2", "shutdown", "-m", "-j", "-j"],
     ["-j", "neighbor", "192.0.2.2", "shutdown", "-m", "-j"]),
    (["rib", "del", "--", "--json"], ["rib", "del", "--", "--json"]),
    (["--json", "peers"], ["--json", "peers"]),
])
def test_global_options_after_the_command_move_before_it(typed: list[str], meant: list[str]) -> None:
    assert global_options_first(typed, command()) == meant


def test_peers_json_after_the_command_and_j(daemon: FakeDaemon, capsys: Capture) -> None:
    for args in (["peers", "--json"], ["peers", "-j"], ["peers", "--socket", "/a.sock", "-j"]):
        code = run(["--socket", "/a.sock", *args] if "--socket" not in args else args)
        out, err = capsys.readouterr()
        assert (code, err) == (0, ""), args
        assert json.loads(out)[0]["address"] == "192.0.2.2"
    assert run(["neighbor", "192.0.2.2", "--json", "--socket", "/a.sock"]) == 0
    assert json.loads(capsys.readouterr().out)["address"] == "192.0.2.2"


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(group, "commands", None)
    if subs is None:
        return [path]
    return [path] + [p for name, sub in subs.items() for p in _commands(sub, (*path, name))]


def test_no_help_shows_a_python_type(capsys: Capture) -> None:
    paths = _commands(command())
    assert ("neighbor",) in paths and ("rib", "del") in paths and ("gr", "status") in paths
    for path in paths:
        assert run([*path, "--help"]) == 0
        out = capsys.readouterr().out
        assert not re.search(r"<[a-z]+(\[[a-z]+\])?>", out), (path, out)
        usage = out.splitlines()[0].replace("COMMAND [ARGS]...", "COMMAND")  # click's, for groups
        assert "{" not in usage and "[[" not in usage and "]..." not in usage, usage
        if path:
            assert "Global options go before or after the command" in out
    assert run(["routes", "available", "--help"]) == 0
    usage = capsys.readouterr().out.splitlines()[0]
    assert usage == "Usage: gracebgp routes available [OPTIONS] AFI SAFI [PREFIX]"


def test_shell_completion_is_on(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as done:
        run(["--show-completion", "bash"])
    assert done.value.code == 0
    assert "_GRACEBGP_COMPLETE" in capsys.readouterr().out
    monkeypatch.setenv("_GRACEBGP_COMPLETE", "complete_bash")
    for words, cword, want in (("gracebgp ne", "1", ["neighbor"]),
                               ("gracebgp routes available ip", "3", ["ipv4", "ipv6"]),
                               ("gracebgp neighbor 192.0.2.2 soft", "3", ["softreset"]),
                               ("gracebgp neighbor 192.0.2.2 softreset ", "4", ["in", "out"])):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", cword)
        with pytest.raises(SystemExit):
            run([])
        assert capsys.readouterr().out.split() == want, words


def test_peers_are_listed_in_address_order() -> None:
    peers = [canned.peer(a) for a in ("192.0.2.10", "2001:db8::1", "192.0.2.9", "10.0.0.1")]
    _, rows = peer_rows([(None, peers)])
    assert [r[0] for r in rows[::2]] == ["10.0.0.1", "192.0.2.9", "192.0.2.10", "2001:db8::1"]


def test_gr_status_ages_are_live() -> None:
    assert live_ages("gracebgp restart, 1.6s ago (pid 7)", 300.0) == "gracebgp restart, 5m1s ago (pid 7)"
    st = GrStatus(restart="planned", detail="gracebgp restart, 1.6s ago (pid 7)", restart_bit=False,
                  deferral=[], helper=[], drain=None)
    assert gr_lines(st, 3723.0)[0] == ("this run: planned start 1h2m3s ago (gracebgp restart, 1h2m4s ago "
                                       "(pid 7)); R bit in our OPENs: 0")
    assert gr_lines(st, 10.0)[0] != gr_lines(st, 20.0)[0]


def test_a_node_that_does_not_answer_is_not_healthy(daemon: FakeDaemon, capsys: Capture) -> None:
    daemon.healthy = True
    fleet = ["--host", "a=/a.sock", "--host", "b=/b.sock"]
    assert run([*fleet, "health"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "all 2 nodes healthy"
    code = run([*fleet, "--host", "c=/c.sock", "health"])  # nothing listens on /c.sock
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("gracebgp: error: node c: cannot reach gracebgpd at /c.sock")
    assert out.splitlines()[-1] == "not healthy: 1 of 3 nodes (c)"
    assert any(line.split()[:3] == ["c", "NodeUnreachable", "error"] for line in out.splitlines())
    assert run([*fleet, "--host", "c=/c.sock", "--json", "health"]) == 1
    nodes = {h["node"]: h["healthy"] for h in json.loads(capsys.readouterr().out)}
    assert nodes == {"a": True, "b": True, "c": False}


def test_health_summary_words() -> None:
    ok = canned.health(True)
    assert health_summary([(None, ok)]) == "healthy"
    assert health_summary([("a", ok), *unreachable_health([("b", "cannot reach gracebgpd")])]) == (
        "not healthy: 1 of 2 nodes (b)")


def _peer(notification: bool, keeps: list[str], state: str = "Established") -> Peer:
    neg = Negotiation(four_octet_as=True, families=["ipv4-unicast", "ipv6-unicast"], route_refresh=True,
                      enhanced_route_refresh=False, extended_message=False, extended_next_hop=[],
                      add_path_send=[], add_path_receive=[], notification=notification, gr_we_keep=keeps,
                      gr_peer_keeps=keeps, llgr_we_keep=[], llgr_peer_keeps=[])
    return canned.peer(state=state, negotiated=neg if state == "Established" else None)


def test_reset_says_what_the_peer_does_with_our_routes() -> None:
    plain = Done(message="peer 192.0.2.2 reset")
    assert reset_words(_peer(True, ["ipv4-unicast", "ipv6-unicast"]), plain) == (
        "peer 192.0.2.2 reset: the session restarts; the peer keeps our ipv4-unicast, ipv6-unicast routes "
        "meanwhile (graceful restart with N, RFC 8538)")
    assert reset_words(_peer(True, ["ipv4-unicast"]), plain).endswith(
        "(graceful restart with N, RFC 8538) and deletes our ipv6-unicast routes")
    assert "the peer deletes our routes (it did not negotiate graceful restart with N" in reset_words(
        _peer(False, ["ipv4-unicast"]), plain)
    hard = Done(message="peer 192.0.2.2 reset with a Hard Reset (RFC 8538); idle for 5s (x) before it")
    assert reset_words(_peer(True, ["ipv4-unicast"]), hard) == (
        "peer 192.0.2.2 reset with an RFC 8538 Hard Reset: the peer deletes our routes now and learns them "
        "again when the session is back; idle for 5s (x) before it")
    assert "not Established" in reset_words(_peer(True, [], state="Active"), plain)


def test_reset_hard_sends_hard_reset_and_goes_only_with_reset(daemon: FakeDaemon, capsys: Capture) -> None:
    assert run(["--socket", "/a.sock", "neighbor", "192.0.2.2", "reset", "--hard"]) == 0
    assert json.loads(daemon.requests[-1].content)["hard_reset"] is True
    assert run(["--socket", "/a.sock", "neighbor", "192.0.2.2", "reset"]) == 0
    assert json.loads(daemon.requests[-1].content)["hard_reset"] is False
    capsys.readouterr()
    assert run(["--socket", "/a.sock", "neighbor", "192.0.2.2", "enable", "--hard"]) == 2
    assert "--hard only goes with 'neighbor ADDR reset'" in capsys.readouterr().err
    assert run(["neighbor", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "hard reset: the session restarts" not in help_text and "reset --hard" in help_text


def test_rib_words() -> None:
    assert changed_words(PathsChanged(changed=0, unchanged=1), "deleted", ["10.9.0.0/24"]) == (
        "no route 10.9.0.0/24 to delete: this speaker does not originate it")
    assert changed_words(PathsChanged(changed=1, unchanged=2), "deleted", ["a", "b", "c"]) == (
        "deleted 1 route; 2 prefixes not found (not originated here)")
    assert changed_words(PathsChanged(changed=2, unchanged=0), "deleted", ["a", "b"]) == "deleted 2 routes"
    assert changed_words(PathsChanged(changed=1, unchanged=1), "added") == (
        "added 1 route; 1 was already there, identical")


def test_peer_local_selects_our_own_routes(daemon: FakeDaemon, capsys: Capture) -> None:
    assert run(["--socket", "/a.sock", "routes", "available", "ipv4", "unicast", "--peer", "local"]) == 0
    assert "peer=" not in str(daemon.requests[-1].url)  # all routes asked, ours kept
    assert capsys.readouterr().out == "no routes\n"  # the fake's routes all came from 192.0.2.2
    assert run(["--socket", "/a.sock", "routes", "received", "ipv4", "unicast", "--peer", "local"]) == 2
    assert "'local' is this speaker, not a neighbor" in capsys.readouterr().err


@pytest.mark.parametrize(("exc", "words"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('192.0.2.1', 179)"),
     "connection refused by 192.0.2.1 port 179 (nothing listens there, or a firewall rejects it)"),
    (TimeoutError(), f"no answer from 192.0.2.1 port 179 within {CONNECT_TIMEOUT:g}s (timed out: the peer "
                     "is down or unreachable, or a firewall drops our SYN)"),
    (OSError(errno.EHOSTUNREACH, "Connect call failed"), "no route to 192.0.2.1 port 179 (host unreachable)"),
    (OSError(errno.ENETUNREACH, "Connect call failed"),
     "no route to 192.0.2.1 port 179 (network unreachable)"),
    (OSError(errno.EINVAL, "cannot set the socket options (TTL): Invalid argument"),
     "cannot connect to 192.0.2.1 port 179: cannot set the socket options (TTL): Invalid argument"),
])
def test_connect_failures_in_operator_words(exc: BaseException, words: str) -> None:
    got = connect_failure(exc, "192.0.2.1", 179)
    assert got == words
    assert "Errno" not in got and "Connect call failed" not in got
