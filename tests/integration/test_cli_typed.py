"""Issue 12 item 4, the CLI as people type it, against two real gracebgpd daemons on
loopback: global options after the command, ``neighbor ADDR`` with both OPENs, reset and
reset --hard as the peer sees them, sorted peers, health in operator words, live ages,
``--peer local``, fleet health with a node that does not answer, completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration.test_cli import (
    B_ADDR,
    Pair,
    as_json,
    established,
    free_port,
    gb,
    ok,
    one_line_error,
    pair,
    until,
)

__all__ = ["pair"]  # the module's daemons (a fixture of test_cli, started again for this module)


def test_global_options_after_the_command(pair: Pair) -> None:
    established(pair)
    for args in (["peers", "--json"], ["peers", "-j"], ["peers", "--socket", pair.a, "--json"]):
        r = gb(*args, sock=None if "--socket" in args else pair.a)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)[0]["address"] == B_ADDR
    one = json.loads(ok("neighbor", B_ADDR, "-j", sock=pair.a))
    assert one["address"] == B_ADDR and one["negotiated"]["notification"] is True


def test_neighbor_shows_both_opens_and_what_the_session_uses(pair: Pair) -> None:
    established(pair)
    out = ok("neighbor", B_ADDR, sock=pair.a)
    rows = {line[:24].strip(): line[24:].split("  ") for line in out.splitlines() if line[24:]}
    table = out.split("\n\n", 1)[1].splitlines()
    assert table[0].split() == ["Capability", "Ours", "Peer's", "In", "use"]
    assert any(line.split()[:6] == ["4-octet", "AS", "AS", "65001", "AS", "65002"] for line in table)
    gr = next(line for line in table if line.startswith("Graceful restart "))
    assert gr.split("  ")[-1].strip() == "yes, with N (RFC 8538)" and gr.count("N=1, restart time 120s") == 2
    for family in ("ipv4-unicast", "ipv6-unicast"):
        assert f"GR {family}" in rows and f"LLGR {family}" in rows
        llgr = next(line for line in table if line.startswith(f"LLGR {family}"))
        assert llgr.count("stale time 3600s, F=1") == 2 and llgr.endswith("each keeps the other's routes")
    j = as_json("neighbor", B_ADDR, sock=pair.a)
    assert j["local_capabilities"]["four_octet_as"] == 65001
    assert j["peer_capabilities"]["four_octet_as"] == 65002
    assert [f["forwarding"] for f in j["peer_capabilities"]["graceful_restart"]["families"]] == [True, True]


def test_reset_keeps_our_routes_and_reset_hard_does_not(pair: Pair) -> None:
    established(pair)
    out = ok("neighbor", B_ADDR, "reset", sock=pair.a)
    assert out == (f"peer {B_ADDR} reset: the session restarts; the peer keeps our ipv4-unicast, "
                   "ipv6-unicast routes meanwhile (graceful restart with N, RFC 8538)\n")
    # B saw a plain Cease/Administrative Reset and kept A's routes as helper
    until(lambda: any("graceful restart helper started" in e["message"]
                      for e in as_json("events", sock=pair.b)), "B keeps A's routes")
    established(pair)
    out = ok("neighbor", B_ADDR, "reset", "--hard", sock=pair.a)
    assert out == (f"peer {B_ADDR} reset with an RFC 8538 Hard Reset: the peer deletes our routes now and "
                   "learns them again when the session is back\n")
    until(lambda: any("CEASE/HARD_RESET wrapping CEASE/ADMINISTRATIVE_RESET" in e["message"]
                      for e in as_json("events", sock=pair.b)), "B got a Hard Reset")
    established(pair)
    r = gb("neighbor", B_ADDR, "softreset", "--hard", sock=pair.a)
    assert r.returncode == 2 and "--hard only goes with 'neighbor ADDR reset'" in one_line_error(r)


def test_peers_sorted_health_in_words_and_live_ages(pair: Pair) -> None:
    established(pair)
    port = free_port("127.0.0.9")  # nothing listens there: our connects are refused
    ok("neighbor", "add", "127.0.0.10", "--as", "65010", "--passive", sock=pair.a)
    ok("neighbor", "add", "127.0.0.9", "--as", "65009", "--port", str(port), sock=pair.a)
    try:
        lines = ok("peers", sock=pair.a).splitlines()[1:]
        assert [line.split()[0] for line in lines] == [B_ADDR, B_ADDR, "127.0.0.9", "127.0.0.10"]
        assert [p["address"] for p in as_json("peers", sock=pair.a)] == [B_ADDR, "127.0.0.9", "127.0.0.10"]
        refused = (f"connection refused by 127.0.0.9 port {port} (nothing listens there, or a firewall "
                   "rejects it)")
        until(lambda: refused in (as_json("neighbor", "127.0.0.9", sock=pair.a)["last_error"]), "refused")
        # never Established after 10 s: a warning, in words
        until(lambda: refused in gb("health", sock=pair.a).stdout, "health says refused", timeout=30)
        r = gb("health", sock=pair.a)
        assert r.returncode == 1 and "Errno" not in r.stdout and "Connect call failed" not in r.stdout
        first = ok("gr", "status", sock=pair.a).splitlines()[0]
        until(lambda: ok("gr", "status", sock=pair.a).splitlines()[0] != first, "the start's age moves")
        assert first.startswith("this run: cold start ") and " ago (" in first
    finally:
        for peer in ("127.0.0.9", "127.0.0.10"):
            gb("neighbor", "del", peer, sock=pair.a)


def test_peer_local_is_what_the_peer_column_prints(pair: Pair) -> None:
    established(pair)
    rows = ok("routes", "available", "ipv4", "unicast", "--peer", "local", sock=pair.a).splitlines()
    assert rows[0].split()[:3] == ["Prefix", "NextHop", "Peer"] and len(rows) == 4
    assert all(line.split()[3] == "local" for line in rows[1:])
    mine = as_json("routes", "available", "ipv4", "unicast", "--peer", "local", sock=pair.a)
    assert len(mine) == 3 and {e["source"] for e in mine} == {None}
    r = gb("routes", "received", "ipv4", "unicast", "--peer", "local", sock=pair.a)
    assert r.returncode == 2 and "'local' is this speaker, not a neighbor" in one_line_error(r)


def test_fleet_health_counts_a_node_that_does_not_answer(pair: Pair) -> None:
    established(pair)
    fleet = ["--host", f"a={pair.a}", "--host", f"b={pair.b}"]
    assert gb(*fleet, "health").stdout.splitlines()[-1] == "all 2 nodes healthy"
    r = gb(*fleet, "--host", "c=/tmp/gb-no-such.sock", "health")
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "not healthy: 1 of 3 nodes (c)"
    assert r.stderr.startswith("gracebgp: error: node c: cannot reach gracebgpd at /tmp/gb-no-such.sock")
    r = gb(*fleet, "--host", "c=/tmp/gb-no-such.sock", "health", "--json")
    assert r.returncode == 1
    assert {h["node"]: h["healthy"] for h in json.loads(r.stdout)} == {"a": True, "b": True, "c": False}


def test_shell_completion_of_the_installed_command() -> None:
    env = {**os.environ, "_GRACEBGP_COMPLETE": "complete_bash", "COMP_WORDS": "gracebgp routes av",
           "COMP_CWORD": "2"}
    r = subprocess.run([sys.executable, "-m", "gracebgp.cli.main"], env=env, capture_output=True, text=True,
                       timeout=30, check=False)
    assert (r.returncode, r.stdout.split()) == (0, ["available"])
    script = ok("--show-completion", "bash")
    assert "_GRACEBGP_COMPLETE=complete_bash" in script
