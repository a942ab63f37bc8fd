"""Large AddPaths/DeletePaths are carried out in slices (issue 10 finding 4): each owner
step checks or applies at most ``Speaker.slice_routes`` routes, the whole request is
checked before anything changes (all or nothing), the Reply comes with the last slice,
and timers, KEEPALIVEs and other inputs are handled between slices."""

from __future__ import annotations

from typing import Any

import pytest

from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.speaker import SLICE_ROUTES, Speaker
from gracebgp.session.state import State

from .net import count_inputs
from .test_speaker import demo_pair, learned

A, B = "127.0.0.1", "127.0.0.2"


def routes(n: int, second: int = 100) -> tuple[LocalRoute, ...]:
    return tuple(LocalRoute(f"10.{second + i // 256}.{i % 256}.0/24", "192.0.2.1") for i in range(n))


def replies(out: list[ev.Output]) -> list[ev.Reply]:
    return [o for o in out if isinstance(o, ev.Reply)]


def run_sliced(s: Speaker, ref: int, command: object, now: float = 1.0) -> tuple[ev.Reply, list[int]]:
    """Feed the command, then Continue until its Reply; the number of local routes after
    each step."""
    sizes: list[int] = []
    out = s.handle(ev.CommandRequested(ref, command), now)
    for _ in range(10_000):
        sizes.append(len(s.local_routes))
        got = replies(out)
        if got:
            assert not s.jobs  # (changes wait for the flush: pending() until InputDrained)
            return got[0], sizes
        assert s.pending()
        out = s.handle(ev.Continue(), now)
    raise AssertionError("the command never finished")


def test_a_large_add_is_done_in_bounded_slices_and_answered_after_the_last() -> None:
    s = Speaker(65000, "192.0.2.1")
    s.slice_routes = 100
    s.handle(ev.Started(), 0.0)
    reply, sizes = run_sliced(s, 1, cmd.AddRoutes(routes(1050)))
    assert reply == ev.Reply(1, 200, "1050 routes added", {"changed": 1050, "unchanged": 0})
    # 11 steps check 1050 routes (nothing changes yet), 11 more apply them, 100 at most each
    assert len(sizes) >= 21
    assert max(b - a for a, b in zip([0, *sizes], sizes, strict=False)) <= 100
    assert sizes[:10] == [0] * 10 and sizes[-1] == 1050
    stored = [o for o in s.handle(ev.InputDrained(), 1.0) if isinstance(o, ev.StoreRoutes)]
    assert stored == []  # the StoreRoutes went out with the slices that applied them


def test_every_slice_stores_what_it_applied_before_the_reply() -> None:
    s = Speaker(65000, "192.0.2.1")
    s.slice_routes = 100
    out = s.handle(ev.CommandRequested(3, cmd.AddRoutes(routes(250))), 1.0)
    outs = [out]
    while s.jobs:
        outs.append(s.handle(ev.Continue(), 1.0))
    stored = [o for step in outs for o in step if isinstance(o, ev.StoreRoutes)]
    assert sum(len(o.added) for o in stored) == 250 and {o.ref for o in stored} == {3}
    last = outs[-1]
    assert isinstance(last[-2], ev.Reply) and last.index(last[-2]) > last.index(stored[-1])


def test_all_or_nothing_a_bad_route_in_the_last_slice_changes_nothing() -> None:
    s = Speaker(65000, "192.0.2.1")
    s.slice_routes = 100
    bad = (*routes(1000), LocalRoute("10.200.0.0/24", "2001:db8::1"))
    reply, sizes = run_sliced(s, 2, cmd.AddRoutes(bad))
    assert reply.status == 400 and reply.message.startswith("paths[1000] 10.200.0.0/24")
    assert set(sizes) == {0} and len(sizes) == 11  # checked in 11 slices, never applied
    assert not s.local_routes


def test_a_large_delete_is_sliced_too_and_bad_prefixes_refuse_the_whole_request() -> None:
    s = Speaker(65000, "192.0.2.1")
    s.slice_routes = 100
    run_sliced(s, 1, cmd.AddRoutes(routes(500)))
    prefixes = tuple(r.prefix for r in routes(500))
    reply, _ = run_sliced(s, 2, cmd.DeleteRoutes((*prefixes, "banana")))
    assert reply.status == 400 and len(s.local_routes) == 500
    reply, sizes = run_sliced(s, 3, cmd.DeleteRoutes(prefixes[:450]))
    assert reply.result == {"changed": 450, "unchanged": 0}
    assert len(s.local_routes) == 50 and max(a - b for a, b in zip([500, *sizes], sizes, strict=False)) <= 100


def test_route_commands_queue_in_order_behind_a_sliced_one() -> None:
    s = Speaker(65000, "192.0.2.1")
    s.slice_routes = 100
    prefixes = tuple(r.prefix for r in routes(300))
    out = s.handle(ev.CommandRequested(1, cmd.AddRoutes(routes(300))), 1.0)
    out += s.handle(ev.CommandRequested(2, cmd.DeleteRoutes(prefixes)), 1.0)
    out += s.handle(ev.CommandRequested(3, cmd.EnablePeer("192.0.2.9")), 1.0)  # not a route job: at once
    assert [r.ref for r in replies(out)] == [3]
    while s.jobs:
        out += s.handle(ev.Continue(), 1.0)
    assert [(r.ref, r.status) for r in replies(out)] == [(3, 404), (1, 200), (2, 200)]
    assert not s.local_routes


def test_small_requests_still_finish_in_one_step() -> None:
    s = Speaker(65000, "192.0.2.1")
    out = s.handle(ev.CommandRequested(1, cmd.AddRoutes(routes(SLICE_ROUTES // 2))), 1.0)
    assert replies(out)[0].result == {"changed": SLICE_ROUTES // 2, "unchanged": 0}
    assert not s.jobs


def test_keepalives_and_updates_go_out_between_slices() -> None:
    # Timers run between the slices: one slice per simulated second, and the sessions'
    # KEEPALIVEs and hold timers keep running while a long AddRoutes is in progress; the
    # routes already applied reach the peer before the command is done.
    net, a, b = demo_pair()
    a.slice_routes = 50
    neg = a.peers[B].session.negotiated
    assert neg is not None and neg.hold_time > 0
    keepalives = a.peers[B].stats.sent[4]
    net.queue.append((A, ev.CommandRequested(9, cmd.AddRoutes(routes(3000, 150)))))
    steps = 0
    while steps < 1000 and (steps == 0 or a.jobs):
        net.now += 1.0
        for name, s in net.speakers.items():
            if (d := s.next_deadline()) is not None and d <= net.now:
                net.queue.append((name, ev.TimerDue()))
        if a.jobs or a.sending:
            net.queue.append((A, ev.Continue()))
        while net.queue:  # deliver without finishing the command (SpeakerNet.run would)
            name, inp = net.queue.pop(0)
            for o in net.speakers[name].handle(inp, net.now):
                net.execute(name, o)
            if not net.queue:
                for name, s in net.speakers.items():
                    for o in s.handle(ev.InputDrained(), net.now):
                        net.execute(name, o)
        steps += 1
        if steps == 90:  # 60 steps checked, 30 applied: those already reached B
            assert 0 < sum(1 for p in learned(b) if p.startswith("10.1")) < 3000
            assert not [r for n, r in net.replies if r.ref == 9]
    assert steps > 2 * neg.hold_time  # the command outlasted the hold time twice...
    assert a.peers[B].stats.sent[4] - keepalives >= steps // neg.hold_time  # ...KEEPALIVEs went out
    assert a.peers[B].session.state == State.ESTABLISHED and b.peers[A].session.state == State.ESTABLISHED
    assert {r.prefix for r in routes(3000, 150)} <= set(learned(b))
    assert [r.status for n, r in net.replies if r.ref == 9] == [200]


def test_a_large_initial_table_goes_out_in_slices_with_the_end_of_rib_last(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A session coming up gets the whole table (RFC 4724 §4.2), a slice per owner step;
    # the End-of-RIB follows the last slice, never a route.
    from gracebgp.config.default import demo_configs
    from gracebgp.rib.adj_rib_out import AdjRibOut

    from .net import SpeakerNet
    from .test_speaker import speaker_from

    sizes: list[int] = []
    consider = AdjRibOut.consider

    def recorded(self: AdjRibOut, keys: Any, loc: Any, again: bool = False, before: Any = None,
                 found: Any = None) -> None:
        keys = list(keys) if found is None else keys  # (a round's lookup is of its own list)
        if self.policy.peer.address == B:  # A's exports to B (B's own flushes aside)
            sizes.append(len(keys))
        consider(self, keys, loc, again, before, found)

    monkeypatch.setattr(AdjRibOut, "consider", recorded)
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    net = SpeakerNet()
    a = speaker_from(a_text)
    a.table_slice = 2000
    for r in routes(10_000, 150):
        a.add_route(r)
    a.handle(ev.InputDrained(), 0.0)  # no peer up yet: only the table will send them
    net.add(A, a)
    b = net.add(B, speaker_from(b_text))
    net.run()
    assert b.peers[A].session.state == State.ESTABLISHED
    assert {r.prefix for r in routes(10_000, 150)} <= set(learned(b))
    assert max(sizes) <= 2000 and sum(1 for n in sizes if n) >= 5
    eors = [n.data for name, n in net.notices if name == A and n.data.get("event") == "eor-sent"
            and n.data.get("family") == "ipv4-unicast"]
    assert len(eors) == 1 and eors[0]["routes"] >= 10_000  # sent once, after every route
    assert not a.sending


def test_a_large_flush_is_cut_into_batches() -> None:
    net, a, b = demo_pair()
    a.flush_budget = 1000  # the floor: 10,000 keys a flush
    reply = net.command(A, cmd.AddRoutes(routes(25_000, 150)))
    assert reply.status == 200
    assert {r.prefix for r in routes(25_000, 150)} <= set(learned(b))
    # The same through the owner's eyes: one InputDrained exports at most the budget.
    delete = cmd.DeleteRoutes(tuple(r.prefix for r in routes(25_000, 150)))
    out = a.handle(ev.CommandRequested(99, delete), 9.0)
    while a.jobs:
        out += a.handle(ev.Continue(), 9.0)
    assert a.pending() and sum(len(d) for d in a.changed.values()) == 25_000
    a.handle(ev.InputDrained(), 9.0)
    assert sum(len(d) for d in a.changed.values()) == 15_000 and a.pending()
    for _ in range(2):
        a.handle(ev.InputDrained(), 9.0)
    assert not a.pending()


def test_a_route_refresh_answer_goes_out_in_slices_without_an_end_of_rib() -> None:
    net, a, b = demo_pair()
    assert net.command(A, cmd.AddRoutes(routes(5000, 150))).status == 200
    a.table_slice = 1000
    seen = count_inputs(a)
    updates = b.peers[A].session.received_counts[2]
    eors = sum(1 for name, n in net.notices if name == A and n.data.get("event") == "eor-sent")
    assert net.command(A, cmd.ResetPeer(B, "soft-out")).status == 200
    assert seen.count("Continue") >= 4  # 5,003 IPv4 routes, 1,000 a step
    assert b.peers[A].session.received_counts[2] > updates
    assert {r.prefix for r in routes(5000, 150)} <= set(learned(b)) and not a.sending
    assert sum(1 for name, n in net.notices if name == A and n.data.get("event") == "eor-sent") == eors


def test_a_drain_re_exports_in_slices_and_its_withdrawal_too() -> None:
    # RFC 8326 drain of a large table: the GRACEFUL_SHUTDOWN re-advertisement, the
    # withdrawal and the restore on cancel go out a table slice per owner step, not in one.
    from gracebgp.types import IPV4_UNICAST
    from gracebgp.wire.nlri import format_prefix

    def drained(s: Speaker) -> dict[str, bool]:  # prefix -> carries GRACEFUL_SHUTDOWN
        return {format_prefix(k, 1): c[1].gshut for k, c in s.loc[IPV4_UNICAST].items()
                if not c[0].local}

    net, a, b = demo_pair()
    assert net.command(A, cmd.AddRoutes(routes(5000, 150))).status == 200
    mine = {r.prefix for r in routes(5000, 150)}
    a.table_slice = 1000
    seen = count_inputs(a)
    reply = net.command(A, cmd.Drain(delay=30))
    assert reply.status == 200 and reply.result["changed"] >= 5000  # the advertisements in place
    assert seen.count("Continue") >= 4
    got = drained(b)
    assert mine <= set(got) and all(got[p] for p in mine)
    assert not a.sending
    n = seen.count("Continue")
    reply = net.command(A, cmd.Drain(cancel=True))
    assert reply.result["changed"] >= 5000 and seen.count("Continue") >= n + 4
    assert not any(drained(b).values())
    n = seen.count("Continue")
    withdrawn = net.command(A, cmd.Drain(delay=0))
    assert withdrawn.result["phase"] == "withdrawn" and seen.count("Continue") >= n + 4
    assert not mine & set(learned(b))
    restored = net.command(A, cmd.Drain(cancel=True))
    # what the withdrawal took away comes back (Drain(delay=0) counts both of its phases)
    assert restored.result["changed"] == reply.result["changed"] == withdrawn.result["changed"] // 2
    assert mine <= set(learned(b)) and not a.sending
    assert a.peers[B].session.state == State.ESTABLISHED
