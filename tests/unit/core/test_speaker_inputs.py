"""What the daemon used to set on the Speaker from outside now arrives as inputs through
``Speaker.handle`` (issue 13, item 3), so a recording sees it: the ``[gracebgp]`` tunables
in ``Reconfigured`` (and at construction), the restart kind in ``RestartDecided`` before the
API answers, route watching in ``RoutesWatched``; connection ids are counted per Speaker."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gracebgp.api.grview import gr_status
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.speaker import Speaker
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode, MessageType

from .grnet import A, B, neighbor
from .test_speaker import demo_pair

OTHER_CHANGE = Notification.cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE)


def notifications(out: list[ev.Output]) -> list[Notification]:
    return [Notification.decode(o.data[19:]) for o in out
            if isinstance(o, ev.Send) and o.data[18] == MessageType.NOTIFICATION]


@pytest.mark.parametrize(("tunables", "sent"), [
    (None, OTHER_CHANGE),  # RFC 8538 §5: Other Configuration Change is provisional, plain by default
    (ev.Tunables(provisional_hard=True), OTHER_CHANGE.hard_reset()),
])
def test_tunables_arrive_in_reconfigured_and_apply_to_that_reload(tunables: ev.Tunables | None,
                                                                  sent: Notification) -> None:
    net, a, _b = demo_pair()
    neighbors = tuple(replace(p.settings, session=replace(p.settings.session, hold_time=30))
                      for p in a.peers.values())
    out = a.handle(ev.Reconfigured(neighbors, (), tunables), net.now)
    assert notifications(out) == [sent]


def test_tunables_given_at_construction() -> None:
    tuned = ev.Tunables(establish_wait=5.0, llgr_ibgp=True, provisional_hard=True)
    sp = Speaker(65001, A, (neighbor(A, B),), tunables=tuned)
    assert (sp.establish_wait, sp.llgr_ibgp, sp.provisional_hard) == (5.0, True, True)
    plain = Speaker(65001, A, (neighbor(A, B),))
    assert (plain.establish_wait, plain.llgr_ibgp, plain.provisional_hard) == (30.0, False, False)


def test_restart_decided_is_what_gr_status_says_before_started() -> None:
    sp = Speaker(65001, A, (neighbor(A, B),))
    assert gr_status(sp, 0.0).restart == "cold"
    assert sp.handle(ev.RestartDecided("planned", "gracebgp restart"), 0.0) == []
    status = gr_status(sp, 0.0)
    assert (status.restart, status.detail) == ("planned", "gracebgp restart")


def test_routes_watched_turns_the_route_notices_on_and_off() -> None:
    sp = Speaker(65001, A, (), (LocalRoute("192.0.2.0/24"),))
    sp.handle(ev.Started(), 0.0)

    def route_notices(out: list[ev.Output]) -> list[str]:
        return [o.message for o in out if isinstance(o, ev.Notice) and o.kind == "route"]

    assert sp.handle(ev.RoutesWatched(True), 1.0) == []
    assert route_notices(sp.handle(ev.InputDrained(), 1.0)) == ["192.0.2.0/24 via - from local"]
    sp.add_route(LocalRoute("198.51.100.0/24"))
    sp.handle(ev.RoutesWatched(False), 2.0)
    assert route_notices(sp.handle(ev.InputDrained(), 2.0)) == []


def test_connection_ids_are_counted_per_speaker() -> None:
    def first_connect(sp: Speaker) -> int:
        return next(o.conn for o in sp.handle(ev.Started(), 0.0) if isinstance(o, ev.Connect))

    assert first_connect(Speaker(65001, A, (neighbor(A, B),))) == 1
    assert first_connect(Speaker(65001, A, (neighbor(A, B),))) == 1  # not 2: no process-wide counter
