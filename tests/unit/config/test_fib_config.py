"""The kernel FIB's ``[gracebgp]`` keys (issue 17): accepted with their values, bad values
refused at file:line:key, GoBGP's [zebra] refused with a pointer to ``fib = true``, a
change needs a restart (a reload keeps the running values and the F bit they decided)."""

from __future__ import annotations

from gracebgp.config import diff, parse
from gracebgp.runtime.fibconfig import SWEEP_MARGIN, keep_fib, sweep_time, with_forwarding
from gracebgp.runtime.fibdriver import FibDriver, FibSettings
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST

from .conftest import MINIMAL, only

FIB = MINIMAL + """\
[gracebgp]
fib = true
fib-table = 100
fib-protocol = 200
fib-metric = 30
fib-sweep-time = 120
fib-retain = false
fib-resolve-via-default = true
"""


def test_the_keys_and_their_defaults() -> None:
    g = parse(FIB).gracebgp
    assert (g.fib, g.fib_table, g.fib_protocol, g.fib_metric, g.fib_sweep_time, g.fib_retain,
            g.fib_resolve_via_default) == (True, 100, 200, 30, 120, False, True)
    d = parse(MINIMAL).gracebgp
    assert (d.fib, d.fib_table, d.fib_protocol, d.fib_metric, d.fib_sweep_time, d.fib_retain,
            d.fib_resolve_via_default) == (False, 254, 201, 20, 600, True, False)


def test_bad_values_name_file_line_and_key() -> None:
    line, key, message = only(MINIMAL + "[gracebgp]\nfib-table = 255\n")
    assert (line, key) == (5, "gracebgp.fib-table") and "local table" in message
    line, key, _ = only(MINIMAL + "[gracebgp]\nfib = true\nfib-protocol = 4\n")
    assert (line, key) == (6, "gracebgp.fib-protocol")
    line, key, _ = only(MINIMAL + "[gracebgp]\nfib-sweep-time = 0\n")
    assert (line, key) == (5, "gracebgp.fib-sweep-time")


def test_zebra_is_refused_with_a_pointer_to_fib() -> None:
    _, key, message = only(MINIMAL + "[zebra.config]\nenabled = true\n")
    assert key == "zebra" and "fib = true" in message


def test_a_fib_change_needs_a_restart_and_a_reload_keeps_the_running_values() -> None:
    running, new = parse(FIB), parse(MINIMAL + "[gracebgp]\nfib = true\nfib-table = 101\n")
    assert "gracebgp.fib-table changed from 100 to 101" in diff(running, new).needs_restart
    kept = keep_fib(running, new)
    assert kept.gracebgp.fib_table == 100 and not kept.gracebgp.fib_retain
    plain = parse(MINIMAL)
    assert keep_fib(plain, plain) is plain


def test_the_f_bit_follows_the_kernel_when_the_fib_is_on() -> None:
    cfg = parse(MINIMAL)
    assert with_forwarding(cfg, None) is cfg and cfg.gracebgp.forwarding_state_preserved
    driver = FibDriver(FibSettings(), "/nonexistent")
    driver.forwarding = {IPV4_UNICAST: (False, "no marker"), IPV6_UNICAST: (False, "no marker")}
    assert not with_forwarding(cfg, driver).gracebgp.forwarding_state_preserved
    driver.forwarding = {IPV4_UNICAST: (True, "adopted"), IPV6_UNICAST: (True, "adopted")}
    assert with_forwarding(cfg, driver).gracebgp.forwarding_state_preserved
    # one family with routes of ours is enough (the other had nothing to lose)
    driver.forwarding = {IPV4_UNICAST: (True, "adopted"), IPV6_UNICAST: (False, "none of ours")}
    assert with_forwarding(cfg, driver).gracebgp.forwarding_state_preserved
    # forwarding-state-preserved = false beside fib = true: never F=1 (it was silently unused)
    off = parse(MINIMAL + "[gracebgp]\nforwarding-state-preserved = false\n")
    assert not with_forwarding(off, driver).gracebgp.forwarding_state_preserved


def test_a_sweep_below_the_selection_deferral_is_raised() -> None:
    # review of issue 17, item 9: the sweep would delete adopted routes still being re-learned
    gr = ('[[neighbors]]\n[neighbors.config]\n  neighbor-address = "192.0.2.2"\n  peer-as = 65002\n'
          "[neighbors.graceful-restart.config]\n  enabled = true\n  deferral-time = {}\n")
    base = MINIMAL + "[gracebgp]\nfib = true\nfib-sweep-time = 120\n"
    assert sweep_time(parse(base)) == (120.0, "")  # no GR neighbor: no deferral
    cfg = parse(base.replace("[gracebgp]", gr.format(300) + "[gracebgp]"))
    seconds, why = sweep_time(cfg)
    assert seconds == 300 + SWEEP_MARGIN and "below the selection deferral time 300s" in why
    cfg = parse(base.replace("fib-sweep-time = 120", "fib-sweep-time = 900").replace(
        "[gracebgp]", gr.format(300) + "[gracebgp]"))
    assert sweep_time(cfg) == (900.0, "")
