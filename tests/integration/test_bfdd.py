"""gracebgp-bfdd on loopback: two real bfdd processes (127.0.0.1 and 127.0.0.2, UDP 3784)
bring a session Up through the control socket, negotiate fast timers, detect a silent peer
within its Detection Time, take an AdminDown as a signal rather than a failure (RFC 5880
§6.8.16), and keep running when the client goes away (what gracebgpd's re-exec needs)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gracebgp.bfd import ControlPacket, SessionState, encode
from gracebgp.bfd.codes import SINGLE_HOP_PORT
from gracebgp.bfdd.client import BfddClient
from gracebgp.bfdd.protocol import SessionSpec, code_fingerprint
from gracebgp.config import parse
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.bfdlink import BfdLink
from gracebgp.runtime.owner import Owner

A, B = "127.0.0.1", "127.0.0.2"
FAST = {"desired_min_tx_us": 50_000, "required_min_rx_us": 50_000, "detect_mult": 3}


def _start(tmp: Path, name: str, listen: str) -> tuple[subprocess.Popen[bytes], str]:
    path = str(tmp / f"{name}.sock")
    proc = subprocess.Popen([sys.executable, "-m", "gracebgp.bfdd", "--socket", path, "--listen", listen,
                             "--orphan-timeout", "30"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / f"{name}.log", "wb"))  # noqa: SIM115
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        assert proc.poll() is None, (tmp / f"{name}.log").read_text()
        assert time.monotonic() < deadline, "bfdd did not create its control socket"
        time.sleep(0.02)
    return proc, path


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[tuple[tuple[subprocess.Popen[bytes], str], ...]]:
    pair = (_start(tmp_path, "a", A), _start(tmp_path, "b", B))
    yield pair
    for proc, _ in pair:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


class Watch:
    """A client of one bfdd that records every event."""

    def __init__(self, path: str, peer: str, local: str) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self.client = BfddClient(path, self._got, spawn=False)
        self.spec = SessionSpec(peer=peer, local=local)

    def _got(self, msg: dict[str, Any]) -> None:
        self.events.append((time.monotonic(), msg))
        self.changed.set()

    def state(self) -> str | None:
        for _, msg in reversed(self.events):
            if msg.get("event") == "state":
                return str(msg["status"]["state"])
        return None

    async def until(self, state: str, timeout: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for _, msg in reversed(self.events):
                if msg.get("event") == "state" and msg["status"]["state"] == state:
                    return dict(msg["status"])
            left = deadline - loop.time()
            assert left > 0, f"no {state} within {timeout}s: {self.events}"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


Scenario = Callable[[tuple[Watch, Watch], Any], Awaitable[None]]


def run_up(daemons: Any, scenario: Scenario) -> None:
    """Both sessions Up (each bfdd configured through its control socket), then ``scenario``."""
    async def main() -> None:
        (_, path_a), (_, path_b) = daemons
        wa, wb = Watch(path_a, B, A), Watch(path_b, A, B)
        for w in (wa, wb):
            await w.client.start()
            await w.client.set_sessions([w.spec])
        await wa.until("up", 10)
        await wb.until("up", 10)
        try:
            await scenario((wa, wb), daemons)
        finally:
            for w in (wa, wb):
                await w.client.close()
    asyncio.run(main())


def test_session_comes_up_with_the_c_bit_and_fast_timers(daemons: Any) -> None:
    run_up(daemons, _fast_timers)


async def _fast_timers(up: tuple[Watch, Watch], daemons: Any) -> None:
    wa, wb = up
    listing = await wa.client.list_sessions()
    [s] = listing["sessions"]
    assert (s["state"], s["local_c"], s["remote_c"]) == ("up", True, True)
    assert s["local_discriminator"] and s["remote_discriminator"]
    for w in (wa, wb):
        await w.client.set_sessions([SessionSpec(**{**w.spec.to_dict(), **FAST})])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:  # the Poll Sequence ends with the Final; both sides then run at 50 ms
        [s] = (await wa.client.list_sessions())["sessions"]
        if s["tx_interval_us"] == 50_000 and s["detection_time_us"] == 150_000:
            break
        assert loop.time() < deadline, s
        await asyncio.sleep(0.05)
    assert s["state"] == "up" and s["flaps"] == 0


def test_silent_peer_is_detected_within_detection_time(daemons: Any) -> None:
    run_up(daemons, _silent_peer)


async def _silent_peer(up: tuple[Watch, Watch], daemons: Any) -> None:
    wa, wb = up
    for w in (wa, wb):
        await w.client.set_sessions([SessionSpec(**{**w.spec.to_dict(), **FAST})])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while (await wa.client.list_sessions())["sessions"][0]["detection_time_us"] != 150_000:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    proc_b = daemons[1][0]
    proc_b.send_signal(signal.SIGKILL)  # no AdminDown: silence
    killed = time.monotonic()
    down = await wa.until("down", 5)
    seen = next(t for t, m in wa.events if m.get("event") == "state" and m["status"]["state"] == "down")
    took = seen - killed
    assert down["local_diag"] == "control-detection-time-expired"
    assert took < 0.5, f"detected after {took:.3f}s (detection time 150 ms)"


def test_admin_down_is_a_signal_and_bfdd_outlives_its_client(daemons: Any) -> None:
    run_up(daemons, _admin_down)


async def _admin_down(up: tuple[Watch, Watch], daemons: Any) -> None:
    wa, wb = up
    await wb.client.close()  # gracebgpd B goes away (a re-exec): its bfdd keeps the session
    await asyncio.sleep(1.0)
    [s] = (await wa.client.list_sessions())["sessions"]
    assert s["state"] == "up"
    again = Watch(daemons[1][1], A, B)
    await again.client.start()  # the new gracebgpd: the snapshot holds the running session
    snapshot = next(m for _, m in again.events if m.get("event") == "snapshot")
    assert [x["state"] for x in snapshot["sessions"]] == ["up"]
    await again.client.stop_daemon()  # for good: AdminDown first
    down = await wa.until("down", 5)
    assert (down["remote_state"], down["local_diag"]) == ("admin-down", "neighbor-signaled-session-down")
    await again.client.close()


def test_ttl_below_255_and_malformed_packets_are_discarded_and_counted(daemons: Any) -> None:
    """RFC 5881 §5: single hop takes TTL 255 only; RFC 5880 §6.8.6: a malformed packet is
    dropped with its reason; neither stops bfdd."""
    async def main() -> None:
        watch = Watch(daemons[0][1], B, A)
        await watch.client.start()
        await watch.client.set_sessions([watch.spec])
        down = encode(ControlPacket(SessionState.DOWN, my_discriminator=7))
        for ttl, data in ((254, down), (255, down[:20]), (255, b"\x40" + down[1:])):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
                sock.bind((B, 0))
                sock.sendto(data, (A, SINGLE_HOP_PORT))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while True:
            listing = await watch.client.list_sessions()
            if len(listing["discards"]) == 3:
                break
            assert loop.time() < deadline, listing["discards"]
            await asyncio.sleep(0.05)
        assert listing["discards"] == {"bad_ttl": 1, "too_short": 1, "bad_version": 1}
        [s] = listing["sessions"]
        assert s["received"] == 0 and s["state"] == "down"
        await watch.client.close()
    asyncio.run(main())


def test_bfdd_running_other_code_hands_its_sessions_to_the_new_one(daemons: Any) -> None:
    """After an upgrade the new gracebgpd finds bfdd running other code: a new bfdd takes
    over its sessions and sockets (--take-over), so the peer sees no change at all: no state
    change, the same discriminator and source port, packets on time (its session never
    leaves Up; FRR and BIRD take AdminDown as a failure, so there is none)."""
    async def scenario(up: tuple[Watch, Watch], daemons: Any) -> None:
        wa, wb = up
        old_pid = wa.client.pid
        before = (await wb.client.list_sessions())["sessions"][0]
        await wa.client.close()
        wb.events.clear()
        events: list[dict[str, Any]] = []
        command = [sys.executable, "-m", "gracebgp.bfdd", "--listen", A, "--orphan-timeout", "30"]
        fresh = BfddClient(daemons[0][1], events.append, command=command)
        await fresh.start(code="the code on disk after an upgrade")
        try:
            await fresh.set_sessions([wa.spec])
            assert fresh.pid not in (None, old_pid) and fresh.code == code_fingerprint()
            for _ in range(100):  # the old one ends once the new one has its sockets, and the
                if not os.path.exists(f"/proc/{old_pid}"):  # client that started the new one
                    break  # collects it (here the test process is the old one's parent)
                await asyncio.sleep(0.05)
            assert not os.path.exists(f"/proc/{old_pid}"), "the old bfdd runs on, or is a zombie"
            [mine] = events[0]["sessions"]
            assert mine["state"] == "up" and mine["local_discriminator"] == before["remote_discriminator"]
            for _ in range(60):  # the new bfdd's packets reach the peer (1 s interval)
                after = (await wb.client.list_sessions())["sessions"][0]
                if after["received"] >= before["received"] + 2:
                    break
                await asyncio.sleep(0.1)
            assert after["received"] >= before["received"] + 2, (before, after)
            assert after["state"] == "up" and after["flaps"] == before["flaps"]
            assert after["remote_discriminator"] == before["remote_discriminator"]
            assert not [m for _, m in wb.events if m.get("event") == "state"], wb.events
        finally:
            await fresh.close()
            pid = int(Path(daemons[0][1].removesuffix(".sock") + ".pid").read_text())
            os.kill(pid, signal.SIGKILL)
    run_up(daemons, scenario)


def test_bfdd_that_cannot_hand_over_is_kept(daemons: Any, tmp_path: Path) -> None:
    """A running bfdd without the hand-over (older code) is kept, never stopped: the new
    bfdd started with --take-over gives up (exit 3) and the client stays connected."""
    async def scenario(up: tuple[Watch, Watch], daemons: Any) -> None:
        wa, wb = up
        old_pid = wa.client.pid
        await wa.client.close()
        wb.events.clear()
        refuse = tmp_path / "refuse.py"  # a bfdd whose take-over always fails, like old code's
        refuse.write_text("import sys\nsys.exit(3)\n")
        fresh = BfddClient(daemons[0][1], lambda _m: None, command=[sys.executable, str(refuse)])
        await fresh.start(code="the code on disk after an upgrade")
        try:
            assert fresh.pid == old_pid
            assert (await fresh.list_sessions())["sessions"][0]["state"] == "up"
            assert not [m for _, m in wb.events if m.get("event") == "state"], wb.events
        finally:
            await fresh.close()
    run_up(daemons, scenario)


def test_unusable_local_address_fails_that_session_only(tmp_path: Path) -> None:
    """A session whose local address is not on the host (EADDRNOTAVAIL) is reported in the
    reply; the other sessions of the set are set up and the connection goes on (review of
    issue 18, item 3: the OSError killed the client's handler, the reply never came)."""
    proc, path = _start(tmp_path, "c", A)

    async def main() -> None:
        client = BfddClient(path, lambda _m: None, spawn=False)
        await client.start()
        try:
            ok = await client.set_sessions([SessionSpec(peer="127.0.0.9", local=A),
                                            SessionSpec(peer="127.0.0.10")])
            assert ok == {}
            failed = await client.set_sessions([SessionSpec(peer="127.0.0.9", local="192.0.2.77"),
                                                SessionSpec(peer="127.0.0.10"),
                                                SessionSpec(peer="127.0.0.11"),
                                                SessionSpec(peer="127.0.0.12", local="192.0.2.78")])
            assert set(failed) == {"127.0.0.9", "127.0.0.12"}, failed
            assert "assign" in failed["127.0.0.9"].lower(), failed  # EADDRNOTAVAIL's text
            listing = await client.list_sessions()
            by_key = {s["key"]: s for s in listing["sessions"]}
            assert set(by_key) == {"127.0.0.9", "127.0.0.10", "127.0.0.11"}
            assert by_key["127.0.0.9"]["local"] == A  # kept its old socket and spec
        finally:
            await client.close()
            proc.terminate()
            proc.wait(10)
    asyncio.run(main())


def _link_config(state_dir: Path, bfd: bool) -> Any:
    text = (f'[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\n[gracebgp]\nstate-dir = "{state_dir}"\n'
            f'[[neighbors]]\n[neighbors.config]\nneighbor-address = "{B}"\npeer-as = 65002\n'
            f'[neighbors.transport.config]\nlocal-address = "{A}"\n')
    return parse(text + ("[neighbors.bfd.config]\nenabled = true\n" if bfd else ""))


def _link(tmp_path: Path, bfd: bool) -> Any:
    return BfdLink(Owner(Speaker(65001, "192.0.2.1"), []), _link_config(tmp_path, bfd))


def test_gracebgpd_without_bfd_stops_a_leftover_bfdd(tmp_path: Path) -> None:
    """Review of issue 18, item 7: a gracebgpd without BFD that found a bfdd.sock stayed
    connected to an idle bfdd forever (which stopped its orphan timer)."""
    proc, path = _start(tmp_path, "bfdd", A)  # the state directory's bfdd.sock

    async def main() -> None:
        link = _link(tmp_path, bfd=False)
        assert link.path == path
        await link.start()
        assert link.client is None and not link.connected
    asyncio.run(main())
    assert proc.wait(10) == 0


def test_bfdd_gone_clears_the_status_until_it_is_back(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Review of issue 18, item 7: when bfdd died, status and metrics kept its last word."""
    async def main() -> None:
        link = _link(tmp_path, bfd=True)
        await link.start()
        try:
            assert link.connected
            [s] = await link.sessions()
            assert s["peer"] == B and link.status
            old = link.client.pid
            os.kill(old, signal.SIGKILL)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while "went away: BFD status unknown" not in caplog.text:
                assert loop.time() < deadline, caplog.text
                await asyncio.sleep(0.02)
            assert not link.status or link.client.pid != old  # cleared, or already a new bfdd's
            while link.client.pid == old or not link.connected:  # the client starts a new one
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
            [s] = await link.sessions()
            assert s["peer"] == B
        finally:
            await link.finish(keep=False)
    with caplog.at_level("WARNING", logger="gracebgp.bfd"):
        asyncio.run(main())


def test_a_bfdd_started_before_a_re_exec_that_dies_is_collected(tmp_path: Path) -> None:
    """A bfdd that this process started before re-executing itself (gracebgpd's planned
    restart keeps its PID, and no Popen is left to wait for the child) and that then dies
    is collected when its connection goes, not left a zombie until gracebgpd exits."""
    path = str(tmp_path / "bfdd.sock")
    argv = [sys.executable, "-m", "gracebgp.bfdd", "--socket", path, "--listen", A, "--orphan-timeout", "30"]
    old = os.posix_spawn(sys.executable, argv, dict(os.environ))  # our child, with no Popen

    async def main() -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not os.path.exists(path):
            assert loop.time() < deadline, "bfdd did not create its control socket"
            await asyncio.sleep(0.02)
        client = BfddClient(path, lambda _: None, log_path=str(tmp_path / "bfdd-new.log"))
        await client.start()
        try:
            assert client.pid == old
            os.kill(old, signal.SIGKILL)
            while os.path.exists(f"/proc/{old}"):  # a zombie keeps its /proc entry
                assert loop.time() < deadline, Path(f"/proc/{old}/stat").read_text()
                await asyncio.sleep(0.05)
            while client.pid == old or not client.connected.is_set():  # a new one, started by the client
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
            assert isinstance(client.pid, int)
            return client.pid
        finally:
            if client.pid != old:
                await client.stop_daemon()
            await client.close()

    new = asyncio.run(main())
    for _ in range(100):  # the new bfdd ends on "stop"; collect it (bounded)
        if os.waitpid(new, os.WNOHANG)[0]:
            break
        time.sleep(0.05)
    else:
        os.kill(new, signal.SIGKILL)
        raise AssertionError("the new bfdd did not stop")
