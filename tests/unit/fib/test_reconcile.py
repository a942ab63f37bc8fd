"""fib.reconcile and fib.table: every case of the reconcile table (add, replace, unchanged,
delete, conflict), adoption held until the gate opens, the sweep, kernel answers."""

from __future__ import annotations

from gracebgp.fib.model import Hop, KernelRoute, Op, OpKind
from gracebgp.fib.reconcile import reconcile
from gracebgp.fib.table import FibTable
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire.nlri import parse_prefix

V4 = IPV4_UNICAST
A = (Hop("192.0.2.1"),)
B = (Hop("192.0.2.2"),)
AB = (Hop("192.0.2.1"), Hop("192.0.2.2"))
BGP = 196


def k(text: str) -> int:
    return parse_prefix(text)[1]


P1, P2, P3, P4 = k("10.1.0.0/24"), k("10.2.0.0/24"), k("10.3.0.0/24"), k("10.4.0.0/24")


def test_every_row_of_the_table() -> None:
    desired = {P1: A, P2: AB, P3: A}
    installed = {P1: A, P2: A, P4: B}
    plan = reconcile(V4, [P1, P2, P3, P4], desired, installed, {}, gate_open=True)
    assert plan.ops == [Op(OpKind.REPLACE, V4, P2, AB), Op(OpKind.ADD, V4, P3, A), Op(OpKind.DELETE, V4, P4)]
    assert plan.unchanged == 1 and plan.conflicts == {}


def test_a_prefix_held_by_another_protocol_is_a_conflict_not_overwritten() -> None:
    plan = reconcile(V4, [P1], {P1: A}, {}, {P1: 4}, gate_open=True)
    assert plan.ops == [] and plan.conflicts == {P1: 4}


def test_our_route_beside_another_protocols_is_still_ours_to_change() -> None:
    plan = reconcile(V4, [P1], {P1: B}, {P1: A}, {P1: 4}, gate_open=True)
    assert plan.ops == [Op(OpKind.REPLACE, V4, P1, B)]


def test_nothing_happens_while_the_gate_is_closed() -> None:
    plan = reconcile(V4, [P1, P2], {P1: A}, {P2: B}, {}, gate_open=False)
    assert plan.ops == [] and plan.unchanged == 0


def _adopted_table() -> FibTable:
    fib = FibTable([V4, IPV6_UNICAST], sweep_time=100.0)
    routes = [KernelRoute(V4, P1, A, BGP), KernelRoute(V4, P2, A, BGP), KernelRoute(V4, P4, B, BGP)]
    counts = fib.adopt(routes, now=10.0)
    assert counts == {V4: 3, IPV6_UNICAST: 0}
    return fib


def test_adopted_routes_stay_untouched_until_selection_is_done() -> None:
    fib = _adopted_table()
    fib.want(V4, P1, A)
    fib.want(V4, P2, B)
    fib.want(V4, P3, A)  # P4 not wanted at all (yet)
    assert fib.operations() == []
    assert fib.families[V4].adopted == {P1, P2, P4}
    fib.open_gate(V4)
    ops = fib.operations()
    assert ops == [Op(OpKind.REPLACE, V4, P2, B), Op(OpKind.ADD, V4, P3, A), Op(OpKind.DELETE, V4, P4)]
    assert fib.reconciled[-1].cause == "selection done"
    assert (fib.reconciled[-1].added, fib.reconciled[-1].replaced, fib.reconciled[-1].deleted,
            fib.reconciled[-1].unchanged) == (1, 1, 1, 1)
    assert fib.summary()[0]["pending"] == 3
    for op in ops:
        fib.applied(op)
    assert fib.families[V4].installed == {P1: A, P2: B, P3: A}
    assert fib.in_sync(V4)
    assert fib.families[V4].adopted == {P1}  # unchanged: never touched, still the old run's route


def test_the_sweep_reconciles_when_selection_never_completes() -> None:
    fib = _adopted_table()
    fib.want(V4, P1, A)
    assert fib.next_deadline() == 110.0
    fib.timer(109.9)
    assert fib.operations() == []
    fib.timer(110.0)
    assert fib.next_deadline() is None
    assert {(op.kind, op.key) for op in fib.operations()} == {(OpKind.DELETE, P2), (OpKind.DELETE, P4)}
    assert [r.cause for r in fib.reconciled] == ["sweep", "sweep"]  # both families
    fib.open_gate(V4)  # selection completes later: nothing more to do
    assert fib.operations() == []


def test_changes_after_the_gate_are_reconciled_one_prefix_at_a_time() -> None:
    fib = FibTable([V4])
    fib.open_gate(V4)
    assert fib.operations() == []
    fib.want(V4, P1, A)
    [op] = fib.operations()
    assert op == Op(OpKind.ADD, V4, P1, A)
    fib.applied(op)
    fib.want(V4, P1, A)  # the same entry again: nothing
    assert fib.operations() == []
    fib.want(V4, P1, AB)
    [op] = fib.operations()
    assert op.kind == OpKind.REPLACE
    fib.applied(op)
    fib.want(V4, P1, None)
    [op] = fib.operations()
    assert op == Op(OpKind.DELETE, V4, P1)
    fib.applied(op)
    assert fib.families[V4].installed == {} and fib.in_sync(V4)
    fib.want(V4, P2, None)  # never wanted, never installed: nothing
    assert fib.operations() == []


def test_a_failure_is_counted_per_prefix_and_retried_at_its_next_change() -> None:
    fib = FibTable([V4])
    fib.open_gate(V4)
    fib.want(V4, P1, A)
    [op] = fib.operations()
    fib.applied(op, errno=101)  # ENETUNREACH
    assert fib.families[V4].failures == {P1: (101, 1)}
    assert fib.families[V4].installed == {}
    fib.want(V4, P1, B)
    [op] = fib.operations()
    assert op == Op(OpKind.ADD, V4, P1, B)
    fib.applied(op, errno=101)
    assert fib.families[V4].failures == {P1: (101, 2)}
    fib.want(V4, P1, A)
    [op] = fib.operations()
    fib.applied(op)
    assert fib.families[V4].failures == {} and fib.families[V4].installed == {P1: A}


def test_kernel_changes_from_the_monitor() -> None:
    fib = FibTable([V4])
    fib.open_gate(V4)
    fib.want(V4, P1, A)
    for op in fib.operations():
        fib.applied(op)
    # someone deletes our route by hand: it comes back
    fib.kernel_route(KernelRoute(V4, P1, A, BGP), ours=True, gone=True)
    assert fib.operations() == [Op(OpKind.ADD, V4, P1, A)]
    # another protocol takes a prefix we want but do not hold: conflict until it goes
    fib.kernel_route(KernelRoute(V4, P2, B, 4), ours=False)
    fib.want(V4, P2, A)
    assert [op.key for op in fib.operations()] == []
    assert fib.families[V4].conflicts == {P2: 4}
    assert fib.summary()[0]["conflicts"] == 1
    fib.kernel_route(KernelRoute(V4, P2, B, 4), ours=False, gone=True)
    assert fib.operations() == [Op(OpKind.ADD, V4, P2, A)]
    assert fib.families[V4].conflicts == {}


def test_remove_all_deletes_every_route_of_ours() -> None:
    fib = _adopted_table()
    ops = fib.remove_all()
    assert [(op.kind, op.key) for op in ops] == [(OpKind.DELETE, P) for P in (P1, P2, P4)]
    for op in ops:
        fib.applied(op)
    assert fib.families[V4].installed == {} and fib.operations() == []


def test_a_lasting_disagreement_is_a_health_condition() -> None:
    from gracebgp.runtime.fibdriver import OUT_OF_SYNC, FibDriver, FibSettings

    d = FibDriver(FibSettings(), "/nonexistent")
    for f in d.table.families:
        d.table.open_gate(f)
    assert d.conditions(0.0) == []  # in sync: nothing wanted, nothing installed
    d.table.want(V4, P1, A)
    [op] = d.table.operations()  # handed to the kernel, no answer
    assert d.conditions(100.0) == []  # just started disagreeing
    [(kind, subject, reason, message)] = d.conditions(100.0 + OUT_OF_SYNC)
    assert (kind, subject, reason) == ("Fib", "fib ipv4-unicast", "FibOutOfSync") and "1 pending" in message
    d.table.applied(op)
    assert d.conditions(200.0 + OUT_OF_SYNC) == []


def test_a_delete_of_a_route_the_kernel_flushed_is_done_and_the_route_comes_back() -> None:
    # review of issue 17, item 2: the kernel deletes our route with its link or address and
    # tells nobody; our DELETE then finds nothing (ESRCH): the route is gone, not "installed"
    fib = FibTable([V4])
    fib.open_gate(V4)
    fib.want(V4, P1, A)
    [op] = fib.operations()
    fib.applied(op)
    fib.want(V4, P1, None)  # the next hop became unreachable
    [op] = fib.operations()
    fib.applied(op, errno=3)  # ESRCH
    assert fib.families[V4].installed == {} and fib.families[V4].failures == {}
    fib.want(V4, P1, A)  # the next hop is back
    assert fib.operations() == [Op(OpKind.ADD, V4, P1, A)]


def test_a_dump_corrects_what_we_believe_installed() -> None:
    fib = FibTable([V4])
    fib.open_gate(V4)
    for key in (P1, P2, P3):
        fib.want(V4, key, A)
    for op in fib.operations():
        fib.applied(op)
    assert fib.in_sync(V4)
    # the kernel flushed P1 and P2 (their link went down); P2 was re-added by us meanwhile
    assert fib.ours_in_kernel(V4, {P3: A}, skip={P2}) == 1
    assert not fib.in_sync(V4)
    assert fib.operations() == [Op(OpKind.ADD, V4, P1, A)]
    # someone replaced ours: the kernel's entry is believed, then put right
    assert fib.ours_in_kernel(V4, {P1: A, P2: A, P3: B}, skip=set()) == 1
    assert fib.operations() == [Op(OpKind.REPLACE, V4, P3, A)]


def test_failures_are_retried_on_the_timer_and_keep_the_family_out_of_sync() -> None:
    fib = FibTable([V4])
    fib.open_gate(V4)
    fib.want(V4, P1, A)
    [op] = fib.operations()
    fib.applied(op, errno=101)  # ENETUNREACH
    assert not fib.in_sync(V4)
    assert fib.operations() == []
    assert fib.retry() == 1
    [op] = fib.operations()
    assert op == Op(OpKind.ADD, V4, P1, A)
    fib.applied(op)
    assert fib.in_sync(V4) and fib.retry() == 0


def test_another_protocols_route_at_any_metric_is_a_conflict() -> None:
    # review of issue 17, item 8: at a lower metric it takes the traffic, at a higher one
    # ours would take its: reported, not installed, until every such route is gone
    fib = FibTable([V4])
    fib.open_gate(V4)
    fib.kernel_route(KernelRoute(V4, P1, B, 4, metric=100), ours=False)
    fib.kernel_route(KernelRoute(V4, P1, B, 186, metric=5), ours=False)
    fib.want(V4, P1, A)
    assert fib.operations() == []
    assert fib.families[V4].conflicts == {P1: 4}
    fib.kernel_route(KernelRoute(V4, P1, B, 4, metric=100), ours=False, gone=True)
    assert fib.operations() == [] and fib.families[V4].conflicts == {P1: 186}
    fib.kernel_route(KernelRoute(V4, P1, B, 186, metric=5), ours=False, gone=True)
    assert fib.operations() == [Op(OpKind.ADD, V4, P1, A)]


def test_a_deletion_of_ours_by_someone_else_is_checked_our_own_echo_is_not() -> None:
    # review of issue 17, item 7: the monitor now passes RTM_DELROUTE of our protocol
    import asyncio

    from gracebgp.runtime.fibdriver import FibDriver, FibSettings

    async def run() -> tuple[bool, bool, bool]:
        d = FibDriver(FibSettings(), "/nonexistent")
        s = d.settings
        d.table.open_gate(V4)
        d.table.want(V4, P1, A)
        for op in d.table.operations():
            d.table.applied(op)
        d._own_gone((KernelRoute(V4, P2, A, s.protocol, s.metric), s.table, 1, s.metric))  # our delete's echo
        echo = d._redump is not None
        d._own_gone((KernelRoute(V4, P1, A, s.protocol, 99), s.table, 1, 99))  # another metric: not ours
        other_metric = d._redump is not None
        d._own_gone((KernelRoute(V4, P1, A, s.protocol, s.metric), s.table, 1, s.metric))  # one we hold
        held = d._redump is not None
        if d._redump is not None:
            d._redump.cancel()
        return echo, other_metric, held

    assert asyncio.run(run()) == (False, False, True)


def test_route_changes_seen_while_the_dump_ran_are_not_lost() -> None:
    # the re-read runs in a thread now: the monitor's changes meanwhile may be newer than it
    from gracebgp.runtime.fibdriver import FibDriver, FibSettings

    d = FibDriver(FibSettings(), "/nonexistent")
    static = KernelRoute(V4, k("10.9.0.0/24"), A, 4, 20)
    gone = KernelRoute(V4, k("10.8.0.0/24"), B, 4, 20)
    d._during = [(static, 254, 1, 20, False), (gone, 254, 1, 20, True)]
    d._dumped([(gone, 254, 1, 20)])  # the dump read 10.8 before it went and 10.9 before it came
    assert d.resolvers[V4].resolves("10.9.0.1") and not d.resolvers[V4].resolves("10.8.0.1")
    assert d.table.families[V4].foreign == {static.key: 4}
