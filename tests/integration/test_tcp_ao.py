"""TCP-AO (RFC 5925) on real loopback sockets and between two gracebgpd (issue 11
deliverable 3). No Debian peer speaks TCP-AO, so gracebgpd is tested against gracebgpd.

Which tests run depends on the kernel (``tcpao.supported()``):

* With TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO): a listener keyed per peer
  accepts a connection signed with the same key and never one with another key or none;
  a rollover (a second key, made current, the first removed) on an established
  connection switches the key both sockets sign with, read back from the kernel
  (TCP_AO_INFO), without closing it; two daemons with the same keys come up, a reload
  that rolls the keys over keeps the session up past its hold time, and mismatched keys
  never come up and health names TCP-AO.
* Without it (the machines this project is tested on so far): a peer configured with
  TCP-AO is never connected to, nor accepted from, without it, and health says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gracebgp.config.default import demo_configs
from gracebgp.core import events as ev
from gracebgp.runtime import tcpao
from gracebgp.runtime import transport as tr

from .test_daemon import gracebgpd, wait_for
from .test_tcp_md5 import _api, _connect_with, _until, _until_true, free_port

A, B = "127.0.0.1", "127.0.0.2"
NO_AO = tcpao.supported()
K1 = ev.AoKey(1, 1, "hmac(sha1)", 12, "first")
K2 = ev.AoKey(2, 2, "cmac(aes128)", 12, "second")
needs_ao = pytest.mark.skipif(bool(NO_AO), reason=f"TCP-AO cannot be tested here: {NO_AO}")
lacks_ao = pytest.mark.skipif(not NO_AO, reason="this kernel has TCP-AO: the tests marked needs_ao run")


def _ao(*keys: ev.AoKey, current: int | None = None) -> ev.SocketOptions:
    return ev.SocketOptions(ao_keys=keys, ao_current=current)


async def _connect_ao(host: str, local: str, port: int, options: ev.SocketOptions,
                      timeout: float = 6.0) -> tuple[ev.Input, tr.Transport, asyncio.Queue[ev.Input]]:
    queue: asyncio.Queue[ev.Input] = asyncio.Queue()
    client = tr.Transport(queue, lambda _host: None)
    client.connect("p", 1, host, port, local, options)
    return await _until(queue, (ev.Connected, ev.ConnectFailed), timeout), client, queue


@lacks_ao
def test_without_kernel_support_nothing_goes_unauthenticated() -> None:
    """Our connect fails before any SYN leaves, naming the kernel; a plain connection from
    the peer's address completes in the kernel (the listener could not take the key) and
    is closed before anything of it is read."""
    port, client_port = free_port(A), free_port(A)

    async def run() -> None:
        plain = socket.socket()
        plain.bind((A, client_port))
        plain.listen()
        plain.setblocking(False)
        try:
            failed, client, _q = await _connect_ao(A, "127.0.0.3", client_port, _ao(K1))
            await client.shutdown()
            assert isinstance(failed, ev.ConnectFailed), failed
            assert "this kernel has no TCP-AO" in failed.error and "CONFIG_TCP_AO" in failed.error
            with pytest.raises(BlockingIOError):
                plain.accept()  # no SYN ever reached the port
        finally:
            plain.close()
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, lambda host: host if host == "127.0.0.3" else None)
        t.accept_from("127.0.0.3", _ao(K1))
        await t.listen(A, port)
        assert "127.0.0.3" in t.unkeyed
        try:
            reader, writer = await asyncio.open_connection(A, port, local_addr=("127.0.0.3", 0))
            writer.write(b"\xff" * 19)
            assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed, nothing read
            writer.close()
            with contextlib.suppress(TimeoutError):
                got = await asyncio.wait_for(queue.get(), 0.5)
                raise AssertionError(f"the unauthenticated connection reached the session: {got}")
        finally:
            await t.shutdown()

    asyncio.run(run())


@needs_ao
@pytest.mark.parametrize(("listen", "client"), [("127.0.0.1", "127.0.0.3"), ("::1", "::1")])
def test_listener_keys_accept_only_the_same_key_and_roll_over_live(listen: str, client: str) -> None:
    port = free_port(listen)

    async def run() -> None:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, lambda host: host if host == client else None)
        t.accept_from(client, _ao(K1, current=1))
        await t.listen(listen, port)
        try:
            other = (await _connect_ao(listen, client, port, _ao(replace(K1, key="other")), timeout=4))[0]
            assert isinstance(other, ev.ConnectFailed), other
            unsigned = await _connect_with(listen, client, port, None, timeout=4)
            assert isinstance(unsigned, ev.ConnectFailed), unsigned
            ok, c, _cq = await _connect_ao(listen, client, port, _ao(K1, current=1))
            assert isinstance(ok, ev.Connected), ok
            accepted = await _until(queue, ev.Connected, 5)
            mine_t, theirs_t = c.conns[("p", 1)].transport, t.conns[(accepted.peer, accepted.conn)].transport
            assert mine_t is not None and theirs_t is not None
            ours, theirs = mine_t.get_extra_info("socket"), theirs_t.get_extra_info("socket")
            assert tcpao.read_info(ours)["current_key"] == 1 == tcpao.read_info(theirs)["current_key"]
            # rollover on both ends, the connection stays: add K2, make it current, drop K1;
            # the accepting side through the Transport (AcceptFrom), as the daemon does it
            mine: tuple[ev.AoKey, ...] = (K1,)
            for keys, current in (((K1, K2), 1), ((K1, K2), 2), ((K2,), 2)):
                tcpao.roll_over(ours, listen, mine, keys, current)
                mine = keys
                t.accept_from(client, _ao(*keys, current=current))
            c.send("p", 1, b"\xff" * 16 + b"\x00\x13\x04")  # a KEEPALIVE, signed with K2 now
            got = await _until(queue, ev.Received, 5)
            assert got.conn == accepted.conn
            assert tcpao.read_info(ours)["current_key"] == 2 == tcpao.read_info(theirs)["current_key"]
            assert tcpao.read_info(theirs)["pkt_bad"] == 0
            await c.shutdown()
        finally:
            await t.shutdown()

    asyncio.run(run())


# --- two daemons ---------------------------------------------------------------------------

KEYS = """[[neighbors.gracebgp.tcp-ao-keys]]
send-id = 1
secret = "first"
"""
ROLLED = """[neighbors.gracebgp]
tcp-ao-current-key = 2
[[neighbors.gracebgp.tcp-ao-keys]]
send-id = 2
algorithm = "aes-128-cmac-96"
secret = "second"
"""


@pytest.fixture
def ao_pair(tmp_path: Path) -> Iterator[tuple[list[subprocess.Popen[bytes]], list[Path], list[Path]]]:
    texts = demo_configs(free_port(A), free_port(B), str(tmp_path))
    procs, logs, confs = [], [], []
    try:
        for name, demo in zip("AB", texts, strict=True):
            conf, log = tmp_path / f"{name}.toml", tmp_path / f"{name}.log"
            conf.write_text(demo.replace("[neighbors.graceful-restart.config]",
                                         KEYS + "[neighbors.graceful-restart.config]", 1))
            with log.open("wb") as out:
                procs.append(subprocess.Popen(gracebgpd("-f", str(conf), "-l", "debug"),
                                              stdout=out, stderr=subprocess.STDOUT))
            logs.append(log)
            confs.append(conf)
        yield procs, logs, confs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=10)


@lacks_ao
def test_two_daemons_without_kernel_support_stay_down_and_say_why(ao_pair: tuple[list[Any], list[Path],
                                                                                list[Path]],
                                                                    tmp_path: Path) -> None:
    _procs, logs, _confs = ao_pair
    for log in logs:
        # the sessions start before the API serves: wait for both lines, not the first
        wait_for(log, "this kernel has no TCP-AO")
        wait_for(log, "API on unix:")
    health = _until_true("health names TCP-AO", lambda: (h := _api(tmp_path, "a", "/v1/health"))
                         and any(c["type"] == "TcpAoUnavailable" for c in h["conditions"]) and h, logs=logs)
    kinds = {c["type"]: c for c in health["conditions"]}
    host = kinds["TcpAoUnavailable"]
    assert B in host["subject"] and "CONFIG_TCP_AO" in host["message"] and not health["healthy"]
    peer = _api(tmp_path, "a", f"/v1/peers/{B}")
    assert peer["state"] != "Established"
    assert not any("established:" in log.read_text() for log in logs)


@needs_ao
def test_two_daemons_roll_keys_over_without_a_reset(ao_pair: tuple[list[Any], list[Path], list[Path]],
                                                     tmp_path: Path) -> None:
    procs, logs, confs = ao_pair
    for log in logs:
        wait_for(log, "established:")
        wait_for(log, "API on unix:")

    def keepalives() -> int:
        peer = _api(tmp_path, "b", f"/v1/peers/{A}")
        return int(peer["messages_received"]["keepalive"]) if peer["state"] == "Established" else -1

    # step 1 on both: add key 2 and make it current; step 2: drop key 1
    for text in (KEYS + ROLLED, ROLLED):
        for proc, conf, log in zip(procs, confs, logs, strict=True):
            conf.write_text(conf.read_text().replace(KEYS + ROLLED if text == ROLLED else KEYS, text, 1))
            proc.send_signal(signal.SIGHUP)
            wait_for(log, "rolled over on the established connection", count=1 + (text == ROLLED))
    events = _api(tmp_path, "b", "/v1/events/history")
    entries = [p for e in events if e["kind"] == "reload" for p in e["data"]["peers"]]
    assert [e["action"] for e in entries] == ["applied in place"] * 2
    assert all("rolled over on the established connection" in e["detail"] for e in entries)
    before = keepalives()
    _until_true("4 more KEEPALIVEs (past the 9 s hold time) on key 2", lambda: keepalives() >= before + 4,
                logs=logs)
    assert all(log.read_text().count("established:") == 1 for log in logs)

    # A resets with a key B does not have: never up again, health names TCP-AO
    confs[0].write_text(confs[0].read_text().replace('"second"', '"wrong"'))
    procs[0].send_signal(signal.SIGHUP)
    wait_for(logs[0], "reload: tcp-ao-keys changed: session reset")
    cond = _until_true("the TcpAoSuspected condition", lambda: next(
        (c for c in _api(tmp_path, "a", "/v1/health")["conditions"] if c["type"] == "TcpAoSuspected"),
        None), timeout=40, logs=logs)
    assert cond["subject"] == B
    assert _api(tmp_path, "a", f"/v1/peers/{B}")["state"] != "Established"
