"""API and BGP listener abuse against a live gracebgpd (tests/integration/api_daemons.py:
A with its API on a Unix socket and on TCP, B its configured peer on 127.0.0.2), all on
loopback:

* 500 connections to A's BGP port from addresses that are not configured neighbors, and
  200 requests that are not HTTP on the TCP API: a few log lines with a count, not one
  per connection;
* a slowloris of 2,000 connections with unfinished request heads on the TCP API, with A's
  fd limit at 1024: the BGP session with B survives a reset (B connects again), the
  Unix-socket API answers, the slow connections are closed after the head deadline, and
  A's log grows by a few lines;
* A's fd limit squeezed until accept() fails with EMFILE: one line per listener, never a
  line per attempt, and A works again once descriptors are back.

The tests share one pair (module scope) and each measures only the log it adds.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import time
from collections.abc import Iterator

import pytest

from .api_daemons import A_ADDR, B_ADDR, Daemon, Pair, established, start_pair, wait_until

SLOWLORIS = 2000
HEAD_DEADLINE = 10.0  # runtime/httpguard.py HEAD_TIMEOUT
LOG_INTERVAL = 10.0  # runtime/limits.py INTERVAL


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SLOWLORIS + 512
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"needs RLIMIT_NOFILE >= {need} for the test process (hard limit {hard})")
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        yield from start_pair()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class LogMark:
    """What a daemon's log gained since this mark."""

    def __init__(self, d: Daemon) -> None:
        self.d = d
        self.offset = d.log.stat().st_size

    def added(self) -> str:
        with self.d.log.open("rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def size(self) -> int:
        return self.d.log.stat().st_size - self.offset


def unix_api_answers(d: Daemon) -> bool:
    with d.client(timeout=5.0) as c:
        return c.get("/v1/global").status_code == 200


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_unconfigured_bgp_connections_are_logged_with_a_count(pair: Pair) -> None:
    mark = LogMark(pair.a)
    refused = 0
    for i in range(500):  # 127.0.1.1 ... 127.0.2.244: loopback, none of them a neighbor
        source = f"127.0.{1 + i // 250}.{1 + i % 250}"
        with socket.socket() as s:
            s.settimeout(5.0)
            s.bind((source, 0))
            s.connect((A_ADDR, pair.a.port))
            with contextlib.suppress(OSError):
                if s.recv(1) == b"":
                    refused += 1
    assert refused == 500
    text = wait_until("the summary of the refused connections", lambda: (
        t if "more connections from addresses that are not configured neighbors" in (t := mark.added())
        else None), timeout=LOG_INTERVAL + 10)
    full = [line for line in text.splitlines() if "refused: not a configured neighbor" in line]
    summaries = [line for line in text.splitlines() if "not configured neighbors refused" in line]
    assert 1 <= len(full) <= 2 and 1 <= len(summaries) <= 2, text
    counted = sum(int(line.split(" WARNING [transport] ")[1].split()[0]) for line in summaries)
    assert len(full) + counted == 500, text
    with pair.a.client() as c:
        assert established(c, B_ADDR) is not None


def test_invalid_requests_are_logged_with_a_count(pair: Pair) -> None:
    mark = LogMark(pair.a)
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", pair.api_port), timeout=5.0) as s:
            s.sendall(b"\x16\x03\x01 not HTTP at all\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 400")
    text = mark.added()
    assert text.count("invalid HTTP request") == 1, text[:3000]
    assert "Invalid HTTP request received" not in text, text[:3000]


def test_slowloris_on_the_tcp_api_leaves_bgp_and_the_unix_api_working(pair: Pair) -> None:
    a = pair.a
    resource.prlimit(a.proc.pid, resource.RLIMIT_NOFILE, (1024, 1024))  # as in the report
    mark = LogMark(a)
    with pair.b.client() as b:
        before = b.get(f"/v1/peers/{A_ADDR}").json()["established_count"]
    held: list[socket.socket] = []
    try:
        start = time.monotonic()
        for _ in range(SLOWLORIS):
            s = socket.socket()
            s.settimeout(2.0)
            try:
                s.connect(("127.0.0.1", pair.api_port))
                s.sendall(b"GET /v1/global HTTP/1.1\r\nHost: gracebgpd\r\nX-Slow: ")
            except OSError:
                pass  # refused over the cap: closed by A at once
            held.append(s)
        opened = time.monotonic()
        assert opened - start < HEAD_DEADLINE, "opening the connections took too long for the test"
        # the fds A holds stay bounded whatever it is sent
        assert open_fds(a.proc.pid) < 600, open_fds(a.proc.pid)
        # the Unix-socket API answers during the flood
        assert unix_api_answers(a)
        # the configured peer can connect: B resets its session and comes back Established
        with pair.b.client() as b:
            assert b.post(f"/v1/peers/{A_ADDR}/reset", json={}).status_code == 200
            wait_until("B Established with A again during the flood", lambda: (
                (p := established(b, A_ADDR)) is not None and p["established_count"] > before))
        # the slow connections are closed by A after the head deadline
        def all_closed() -> bool:  # poll(): our descriptors go beyond select()'s 1024
            by_fd = {s.fileno(): s for s in held if s.fileno() >= 0}
            poller = select.poll()
            for fd in by_fd:
                poller.register(fd, select.POLLIN)
            for fd, _ in poller.poll(0):
                with contextlib.suppress(OSError):
                    by_fd[fd].recv(4096)
                by_fd[fd].close()
            return all(s.fileno() < 0 for s in held)
        wait_until("every slow connection closed by A", all_closed, timeout=HEAD_DEADLINE + 10, interval=0.5)
        closed_after = time.monotonic() - opened
        assert closed_after < HEAD_DEADLINE + 10
        assert unix_api_answers(a)
        with pair.tcp_client(timeout=5.0) as c:  # the TCP API itself serves again
            assert c.get("/v1/global").status_code == 200
        wait_until("the summary of the refused connections", lambda: "more connections refused over the cap"
                   in mark.added(), timeout=LOG_INTERVAL + 10)
    finally:
        for s in held:
            s.close()
    text = mark.added()
    assert "Traceback" not in text and "out of system resource" not in text, text[:3000]
    ours = [line for line in text.splitlines() if f"peer {B_ADDR}:" not in line]  # not the reset's
    assert len(ours) <= 4 and mark.size() < 4000, text[:3000]
    assert sum("closed the connection from" in line for line in ours) == 1, text[:3000]
    pair.assert_alive()


def test_emfile_on_accept_is_logged_once_per_listener(pair: Pair) -> None:
    a = pair.a
    mark = LogMark(a)
    held: list[socket.socket] = []
    try:
        resource.prlimit(a.proc.pid, resource.RLIMIT_NOFILE, (open_fds(a.proc.pid) + 1, 1024))
        for target in [("127.0.0.1", pair.api_port)] * 20 + [(A_ADDR, a.port)] * 20:
            s = socket.socket()
            s.settimeout(2.0)
            with contextlib.suppress(OSError):
                s.bind(("127.0.3.1", 0))
                s.connect(target)
            held.append(s)
        wait_until("the EMFILE line for both listeners", lambda: mark.added().count(
            "cannot accept connections on") >= 2, timeout=10)
        time.sleep(1.5)  # asyncio retries accept() every second: those retries must stay quiet
    finally:
        resource.prlimit(a.proc.pid, resource.RLIMIT_NOFILE, (1024, 1024))
        for s in held:
            s.close()
    wait_until("A's Unix-socket API answers again", lambda: unix_api_answers(a))
    text = mark.added()
    assert text.count("cannot accept connections on") == 2, text[:3000]
    assert "Traceback" not in text and "out of system resource" not in text, text[:3000]
    assert mark.size() < 3000, text[:3000]
    with pair.a.client() as c:
        assert established(c, B_ADDR) is not None
