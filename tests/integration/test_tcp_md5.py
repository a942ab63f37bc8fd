"""TCP MD5 (RFC 2385) on real loopback sockets (issue 11 finding 1).

* The runtime's Transport: a listener keyed per peer address (IPv4, IPv6) accepts a
  connection signed with the same key and never one with another key or none; the keys
  are read back from the kernel (``ss -e`` lists a socket's ``md5keys``); a new key on the
  listener leaves the established connection alone.
* Two gracebgpd: the same key -> Established; a reload with another key (from
  ``auth-password-file``) keeps the established session up past its hold time and the
  reload event says the listeners were re-keyed; after a reset the keys differ, the session
  never comes back and health names MD5 as the likely cause; the right key again brings
  it up at once.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gracebgp.config.default import demo_configs
from gracebgp.core import events as ev
from gracebgp.runtime import transport as tr

from .test_daemon import gracebgpd, wait_for

A, B = "127.0.0.1", "127.0.0.2"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def md5keys(port: int, state: str = "established") -> list[str]:
    """The ``md5keys:...`` of each socket on ``port`` as the kernel reports them."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to read TCP MD5 keys back from the kernel")
    out = subprocess.run(["ss", "-Htnie", "state", state, f"( sport = :{port} or dport = :{port} )"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return [w.split("=")[0] for w in out.split() if "md5keys:" in w]


async def _until(queue: asyncio.Queue[ev.Input], kind: Any, timeout: float) -> Any:
    async def wait() -> Any:
        while True:
            item = await queue.get()
            if isinstance(item, kind):
                return item
    return await asyncio.wait_for(wait(), timeout)


async def _connect_with(host: str, local: str, port: int, key: str | None, timeout: float = 8.0,
                        then: Callable[[], None] | None = None) -> ev.Input:
    """Connect from ``local`` with ``key``: the first Connected or ConnectFailed; ``then``
    runs while the connection is still open."""
    queue: asyncio.Queue[ev.Input] = asyncio.Queue()
    client = tr.Transport(queue, lambda _host: None)
    client.connect("p", 1, host, port, local, ev.SocketOptions(md5_password=key))
    try:
        got: ev.Input = await _until(queue, (ev.Connected, ev.ConnectFailed), timeout)
        if then is not None:
            then()
        return got
    finally:
        await client.shutdown()


@pytest.mark.parametrize(("listen", "server", "client"),
                         [("127.0.0.1", A, "127.0.0.3"), ("::1", "::1", "::1")])
def test_listener_keys_accept_only_the_same_key(monkeypatch: pytest.MonkeyPatch, listen: str, server: str,
                                               client: str) -> None:
    monkeypatch.setattr(tr, "CONNECT_TIMEOUT", 2.0)
    port = free_port(listen)

    async def run() -> None:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, lambda host: "peer" if host == client else None)
        t.accept_from(client, ev.SocketOptions(md5_password="right"))  # before listening
        await t.listen(listen, port)
        assert md5keys(port, "listening") == [f"md5keys:{client}/{128 if ':' in client else 32}"]
        try:
            keys: list[str] = []
            ok = await _connect_with(server, client, port, "right", then=lambda: keys.extend(md5keys(port)))
            assert isinstance(ok, ev.Connected), ok
            accepted = await _until(queue, ev.Connected, 5)
            assert not accepted.outgoing
            width = 128 if ":" in server else 32
            # both ends, read back from the kernel: our outgoing socket's key for the server,
            # and the accepted socket's, copied from the listener's key for the client
            assert sorted(keys) == sorted([f"md5keys:{server}/{width}", f"md5keys:{client}/{width}"])
            for wrong in ("wrong", None):
                failed = await _connect_with(server, client, port, wrong)
                assert isinstance(failed, ev.ConnectFailed), failed
                assert "no answer from" in failed.error
            # a new key on the listener: the next connection needs it; established ones stay
            t.accept_from(client, ev.SocketOptions(md5_password="rotated"))
            assert isinstance(await _connect_with(server, client, port, "right"), ev.ConnectFailed)
            assert isinstance(await _connect_with(server, client, port, "rotated"), ev.Connected)
            t.accept_from(client, None)  # removed: the key leaves the listener
            assert md5keys(port, "listening") == []
        finally:
            await t.shutdown()

    asyncio.run(run())


def test_a_dropped_signed_connect_fails_naming_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tr, "CONNECT_TIMEOUT", 1.0)
    port = free_port(A)

    async def run() -> ev.Input:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, lambda host: None)
        await t.listen(A, port)  # no key for anyone: a signed SYN is dropped (RFC 2385 §3)
        try:
            return await _connect_with(A, "127.0.0.4", port, "k")
        finally:
            await t.shutdown()

    failed = asyncio.run(run())
    assert isinstance(failed, ev.ConnectFailed)
    assert "TCP MD5 is configured" in failed.error


def test_a_closed_connect_sends_no_more_syns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signed SYN to a port nothing listens on gets no RST (Linux answers only with the
    key it would find on a listener), so the SYN is retransmitted after 1 s, 3 s, ...:
    the Close the session sends for an attempt it gave up (another connection came up)
    must stop them, or the peer sees a new connection while Established (RFC 4724 §4.2:
    our restart, for a GR peer)."""
    port = free_port(A)

    async def run() -> list[ev.Input]:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, lambda host: "late")
        client = tr.Transport(asyncio.Queue(), lambda host: None)
        client.connect("p", 1, A, port, "127.0.0.5", ev.SocketOptions(md5_password="k"))
        await asyncio.sleep(0.2)  # the first SYN is out, unanswered
        client.close("p", 1)
        t.accept_from("127.0.0.5", ev.SocketOptions(md5_password="k"))
        await t.listen(A, port)  # the retransmitted SYN would be accepted now
        try:
            await asyncio.sleep(2.5)
            return [queue.get_nowait() for _ in range(queue.qsize())]
        finally:
            await t.shutdown()
            await client.shutdown()

    assert asyncio.run(run()) == []


# --- two daemons ---------------------------------------------------------------------------


def _api(state: Path, name: str, path: str) -> Any:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(state / f"speaker-{name}" / "gracebgpd.sock")),
                      base_url="http://gracebgpd", timeout=10) as c:
        return c.get(path).json()


def _until_true(what: str, probe: Any, timeout: float = 20.0, logs: list[Path] | None = None) -> Any:
    """Poll ``probe`` until it is true; the failure shows the daemons' log tails."""
    end = time.monotonic() + timeout
    got = None
    while time.monotonic() < end:
        try:
            got = probe()
        except (httpx.TransportError, json.JSONDecodeError, KeyError):
            got = None
        if got:
            return got
        time.sleep(0.2)
    tails = "".join(f"\n--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}" for p in logs or ())
    raise AssertionError(f"{what}: not within {timeout}s (last: {got!r}){tails}")


Pair = tuple[list[subprocess.Popen[bytes]], list[Path], list[Path], Path]


@pytest.fixture
def keyed_pair(tmp_path: Path) -> Iterator[Pair]:
    texts = demo_configs(free_port(A), free_port(B), str(tmp_path))
    procs, logs, confs = [], [], []
    key = tmp_path / "b.key"
    key.write_text("same\n")
    try:
        for name, demo in zip("AB", texts, strict=True):
            conf, log = tmp_path / f"{name}.toml", tmp_path / f"{name}.log"
            # A holds the key in its configuration, B reads it from a file (a Kubernetes Secret)
            extra = 'auth-password = "same"\n' if name == "A" else ""
            text = demo.replace('[neighbors.timers.config]', extra + '[neighbors.timers.config]', 1)
            if name == "B":
                text = text.replace("[neighbors.graceful-restart.config]",
                                    f'[neighbors.gracebgp]\nauth-password-file = "{key}"\n'
                                    "[neighbors.graceful-restart.config]", 1)
            conf.write_text(text)
            with log.open("wb") as out:
                procs.append(subprocess.Popen(gracebgpd("-f", str(conf), "-l", "debug"),
                                              stdout=out, stderr=subprocess.STDOUT))
            logs.append(log)
            confs.append(conf)
        yield procs, logs, confs, key
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=10)


def test_two_daemons_with_md5_rekey_mismatch_and_health(keyed_pair: Pair, tmp_path: Path) -> None:
    procs, logs, _confs, key = keyed_pair
    for log in logs:
        wait_for(log, "established:")
    ports = [_api(tmp_path, n, "/v1/global")["listen_port"] for n in "ab"]
    assert any(k.startswith("md5keys:127.0.0.") for k in md5keys(ports[0]) + md5keys(ports[1]))

    def keepalives() -> int:
        peer = _api(tmp_path, "b", f"/v1/peers/{A}")
        return int(peer["messages_received"]["keepalive"]) if peer["state"] == "Established" else -1

    # B's key file changes: its listener is re-keyed, the established session keeps its key
    key.write_text("other\n")
    procs[1].send_signal(signal.SIGHUP)
    wait_for(logs[1], "reload: auth-password changed: applied in place")
    events = _api(tmp_path, "b", "/v1/events/history")
    (reload,) = [e for e in events if e["kind"] == "reload"]
    (entry,) = reload["data"]["peers"]
    assert entry["action"] == "applied in place" and entry["changed"] == ["auth-password"]
    assert "listening sockets" in entry["detail"]
    before = keepalives()
    _until_true("4 more KEEPALIVEs (past the 9 s hold time) on the old key",
                lambda: keepalives() >= before + 4, logs=logs)
    assert logs[1].read_text().count("established:") == 1

    # a reset: the keys differ now, the session stays down and health says why
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(tmp_path / "speaker-a" / "gracebgpd.sock")),
                      base_url="http://gracebgpd", timeout=10) as c:
        assert c.post(f"/v1/peers/{B}/reset", json={"mode": "hard"}).status_code == 200

    def md5_condition() -> dict[str, Any] | None:
        conds = _api(tmp_path, "a", "/v1/health")["conditions"]
        return next((c for c in conds if c["type"] == "TcpMd5Suspected"), None)

    cond = _until_true("the TcpMd5Suspected health condition", md5_condition, timeout=30, logs=logs)
    assert cond["subject"] == B and "TCP MD5" in cond["message"]
    assert _api(tmp_path, "a", f"/v1/peers/{B}")["state"] != "Established"

    # the right key again: B tries again at once
    key.write_text("same")
    procs[1].send_signal(signal.SIGHUP)
    wait_for(logs[1], "established:", count=2, timeout=20)
    _until_true("health clear of MD5", lambda: md5_condition() is None, logs=logs)
