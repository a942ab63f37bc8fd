"""fib.fbit: every row of the F-bit table, and 0 routes adopted."""

from __future__ import annotations

import pytest

from gracebgp.fib.fbit import Identity, Marker, forwarding_state, parse, render
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family

HERE = Identity("0f6c3a3e-1111-2222-3333-444455556666", 4026531840)
MARK = Marker(HERE, frozenset({"ipv4-unicast"}))


def test_marker_round_trip_and_garbage() -> None:
    assert parse(render(MARK)) == MARK
    assert parse("") is None
    assert parse("boot_id=x\nnetns=notanumber\n") is None
    assert parse("boot_id=\nnetns=1\n") is None
    assert parse("boot_id=b\nnetns=1\n") == Marker(Identity("b", 1), frozenset())


@pytest.mark.parametrize(("fib_on", "configured", "now", "previous", "family", "want", "why"), [
    (False, True, HERE, MARK, IPV4_UNICAST, True, "as configured"),
    (False, False, HERE, MARK, IPV4_UNICAST, False, "as configured"),
    (True, True, HERE, None, IPV4_UNICAST, False, "no marker"),
    (True, True, None, MARK, IPV4_UNICAST, False, "no marker"),
    (True, True, Identity("another-boot", HERE.netns), MARK, IPV4_UNICAST, False, "rebooted"),
    (True, True, Identity(HERE.boot_id, 1), MARK, IPV4_UNICAST, False, "another network namespace"),
    (True, True, HERE, MARK, IPV6_UNICAST, False, "did not install ipv6-unicast"),
    (True, False, HERE, MARK, IPV4_UNICAST, True, "7 ipv4-unicast routes of the previous run adopted"),
])
def test_every_row_of_the_f_bit_table(fib_on: bool, configured: bool, now: Identity | None,
                                      previous: Marker | None, family: Family, want: bool, why: str) -> None:
    f, reason = forwarding_state(family, fib_on, configured, now, previous, adopted=7)
    assert f is want
    assert why in reason


def test_no_route_of_ours_adopted_is_f_zero() -> None:
    # the previous run crashed before installing, deleted its routes, or the namespace's
    # inode was reused: the identity matches but nothing of ours is in the kernel
    f, reason = forwarding_state(IPV4_UNICAST, True, True, HERE, MARK, adopted=0)
    assert f is False and "no ipv4-unicast route of ours" in reason
