"""Stopping on purpose and draining (``restart.shutdown``, ``rib.export``), and how the
RIB reads GRACEFUL_SHUTDOWN and LLGR_STALE on receipt.

RFC 8538 §3 (Hard Reset wraps the original NOTIFICATION), §4 (N: which NOTIFICATIONs keep
routes), §5 (class of each Cease subcode); RFC 4724 §4; RFC 8326 §4 (GRACEFUL_SHUTDOWN);
RFC 9494 §4.2-§4.4 and §4.6 (LLGR_STALE, least preferred, export, partial deployment);
spec sections 5 and 6.
"""

from __future__ import annotations

import pytest

from gracebgp.restart.shutdown import (
    CEASE_CLASSES,
    CeaseClass,
    cease,
    llgr_stale_attrs,
    retain_stop,
    withdraw_stop,
)
from gracebgp.rib.decision import select
from gracebgp.rib.export import ExportPolicy, export_path, with_communities
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.session.retention import retain_routes
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import Notification
from gracebgp.wire.iana import AttrType, CeaseSubcode, NotificationCode
from gracebgp.wire.iana import WellKnownCommunity as WK

from ..rib.helpers import EBGP_A, EBGP_B, IBGP_C, LOCAL, TABLE, cand, path
from .test_helper import negotiated

CEASE = NotificationCode.CEASE
HARD_RESET = CeaseSubcode.HARD_RESET
GSHUT, LLGR_STALE, NO_EXPORT = int(WK.GRACEFUL_SHUTDOWN), int(WK.LLGR_STALE), int(WK.NO_EXPORT)

# --- RFC 8538 §5: the class of each Cease subcode ----------------------------------------------

CLASSES = [
    (1, CeaseClass.HARD),  # Maximum Number of Prefixes Reached
    (2, CeaseClass.HARD),  # Administrative Shutdown
    (3, CeaseClass.HARD),  # Peer De-configured
    (4, CeaseClass.PROVISIONAL),  # Administrative Reset
    (5, CeaseClass.NEVER),  # Connection Rejected
    (6, CeaseClass.PROVISIONAL),  # Other Configuration Change
    (7, CeaseClass.NEVER),  # Connection Collision Resolution
    (8, CeaseClass.PROVISIONAL),  # Out of Resources
    (9, CeaseClass.HARD),  # Hard Reset
    (10, CeaseClass.PROVISIONAL),  # BFD Down
]


def test_rfc8538_5_every_cease_subcode_1_to_10_has_a_class() -> None:
    assert sorted(CEASE_CLASSES) == list(range(1, 11))


@pytest.mark.parametrize(("subcode", "klass"), CLASSES, ids=[CeaseSubcode(s).name for s, _ in CLASSES])
def test_rfc8538_5_class_of_cease_subcode(subcode: int, klass: CeaseClass) -> None:
    assert CEASE_CLASSES[subcode] is klass
    default, provisional_hard = cease(subcode), cease(subcode, provisional_hard=True)
    assert default.is_hard_reset == (klass is CeaseClass.HARD)
    assert provisional_hard.is_hard_reset == (klass is not CeaseClass.NEVER)
    for note in (default, provisional_hard):
        inner = note.unwrap()
        assert (inner.code, inner.subcode) == (CEASE, subcode)


def test_rfc8538_5_unknown_cease_subcode_is_provisional() -> None:
    assert not cease(42).is_hard_reset
    assert cease(42, provisional_hard=True).unwrap() == Notification(CEASE, 42)


# --- RFC 8538 §3: Hard Reset wraps the original NOTIFICATION -------------------------------------

def test_rfc8538_3_hard_reset_keeps_code_subcode_and_data() -> None:
    inner = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "maintenance window")
    note = cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "maintenance window")
    assert (note.code, note.subcode) == (CEASE, HARD_RESET)
    assert note.data == bytes([CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN]) + inner.data
    assert inner.data == bytes([18]) + b"maintenance window"  # RFC 9003 §2 communication
    assert note.unwrap() == inner and note.unwrap().communication == "maintenance window"
    assert note.encode()[19:] == bytes([6, 9, 6, 2, 18]) + b"maintenance window"
    assert Notification.decode(note.encode()[19:]).unwrap() == inner


def test_rfc8538_3_hard_reset_is_never_wrapped_twice() -> None:
    note = cease(HARD_RESET)
    assert note == Notification(CEASE, HARD_RESET) and note.unwrap() == note


def test_rfc8538_3_any_notification_can_be_wrapped() -> None:
    hold = Notification(NotificationCode.HOLD_TIMER_EXPIRED, 0)
    wrapped = hold.hard_reset()
    assert wrapped.data == bytes([4, 0]) and wrapped.unwrap() == hold


def keeps(note: Notification | None, n: bool) -> bool:
    """Does ending a GR session with ``note`` (sent by us) leave the peer's routes?"""
    return retain_routes(negotiated(n=n), note, None)


# --- spec section 6: the stop intents -------------------------------------------------------

def test_spec6_retain_stop_with_n_is_administrative_reset_not_hard_reset() -> None:
    note = retain_stop(True, "upgrade")
    assert note is not None and not note.is_hard_reset
    assert (note.code, note.subcode) == (CEASE, CeaseSubcode.ADMINISTRATIVE_RESET)
    assert note.communication == "upgrade"
    assert keeps(note, n=True)


def test_rfc4724_4_spec6_retain_stop_without_n_sends_no_notification() -> None:
    assert retain_stop(False, "upgrade") is None
    assert keeps(None, n=False)  # a plain TCP close keeps routes


@pytest.mark.parametrize("subcode", [CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.PEER_DECONFIGURED])
def test_spec6_withdraw_stop_is_hard_reset_wrapping_the_cease(subcode: int) -> None:
    note = withdraw_stop("bye", subcode)
    assert note.is_hard_reset and note.unwrap().subcode == subcode
    assert not keeps(note, n=True)


def test_spec6_withdraw_stop_default_is_administrative_shutdown() -> None:
    assert withdraw_stop().unwrap() == Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)


# --- RFC 8538 §4 / RFC 4724 §4: which endings keep the routes ---------------------------------

@pytest.mark.parametrize(("note", "n", "keep"), [
    (None, True, True),
    (None, False, True),
    (Notification.cease(4), True, True),
    (Notification(NotificationCode.UPDATE_MESSAGE_ERROR, 1), True, True),
    (Notification(NotificationCode.HOLD_TIMER_EXPIRED, 0), True, True),
    (cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN), True, False),
    (Notification(CEASE, HARD_RESET), True, False),
    (Notification.cease(4), False, False),
    (Notification(NotificationCode.UPDATE_MESSAGE_ERROR, 1), False, False),
], ids=["tcp-n", "tcp-no-n", "admin-reset-n", "update-error-n", "hold-n", "hard-reset-wrapped",
        "hard-reset-bare", "admin-reset-no-n", "update-error-no-n"])
def test_rfc8538_4_which_endings_keep_routes(note: Notification | None, n: bool, keep: bool) -> None:
    assert keeps(note, n=n) is keep


def test_rfc8538_4_sent_and_received_notifications_count_alike() -> None:
    with_n, without_n = negotiated(), negotiated(n=False)
    assert with_n.notification_supported and not without_n.notification_supported
    for note in (None, Notification.cease(4), cease(2), Notification(3, 1)):
        for neg in (with_n, without_n):
            n = neg.notification_supported
            assert retain_routes(neg, note, None) is keeps(note, n)
            assert retain_routes(neg, None, note) is keeps(note, n)


def test_rfc8538_2_n_counts_only_when_both_sides_sent_it() -> None:
    assert not negotiated(our_n=False).notification_supported
    assert not retain_routes(negotiated(our_n=False), Notification.cease(4), None)


def test_rfc4724_4_no_gr_capability_never_retains() -> None:
    assert not retain_routes(negotiated(gr=False), None, None)
    assert retain_routes(negotiated(restart_time=0, gr_families=(), llgr={IPV4_UNICAST: (100, True)}),
                         None, None)  # RFC 9494 §4.2: LLGR alone is enough


# --- RFC 8326: GRACEFUL_SHUTDOWN -----------------------------------------------------------------

def policy(target: PeerInfo, *, llgr: bool = False, llgr_ibgp: bool = False, gshut: bool = False,
           withdraw_all: bool = False) -> ExportPolicy:
    return ExportPolicy(target, 65000, "10.0.0.100", next_hop_v4="192.0.2.100", llgr=llgr,
                        llgr_ibgp=llgr_ibgp, gshut=gshut, withdraw_all=withdraw_all)


def export(source: PeerInfo, p: Path, target: PeerInfo, **kw: bool) -> Path | None:
    return export_path(source, p, policy(target, **kw), IPV4_UNICAST, TABLE)


def test_rfc8326_4_drain_tags_graceful_shutdown_and_sets_local_pref_0_to_ibgp() -> None:
    sent = export(LOCAL, path(lp=300, comms=(65000 << 16 | 1,)), IBGP_C, gshut=True)
    assert sent is not None
    assert sent.attrs.communities == (65000 << 16 | 1, GSHUT)
    assert sent.attrs.local_pref == 0


def test_rfc8326_4_drain_to_ebgp_tags_graceful_shutdown_without_local_pref() -> None:
    sent = export(IBGP_C, path(65010), EBGP_B, gshut=True)
    assert sent is not None
    assert sent.attrs.communities == (GSHUT,)
    assert sent.attrs.get(AttrType.LOCAL_PREF) is None  # RFC 4271 §5.1.5: not to eBGP


def test_rfc8326_4_graceful_shutdown_added_once() -> None:
    sent = export(EBGP_A, path(65001, comms=(GSHUT,)), IBGP_C, gshut=True)
    assert sent is not None and sent.attrs.communities == (GSHUT,)


def test_spec6_drain_second_phase_withdraws_everything() -> None:
    assert export(LOCAL, path(), IBGP_C, gshut=True, withdraw_all=True) is None
    assert export(LOCAL, path(), EBGP_B, withdraw_all=True) is None


def test_rfc8326_4_received_graceful_shutdown_lowers_local_pref_to_0() -> None:
    tagged = path(65001, lp=300, comms=(GSHUT,))
    assert tagged.gshut and tagged.local_pref == 0
    assert path(65001, lp=300).local_pref == 300
    # so a longer path without the community wins
    assert select([cand(EBGP_A, tagged), cand(EBGP_B, path(65002, 65003, 65004))]) == 1


def test_spec6_with_communities_keeps_attributes_sorted_and_is_identity_when_nothing_changes() -> None:
    attrs = path(65001, lp=100).attrs
    assert with_communities(attrs, ()) is attrs
    assert with_communities(attrs, (), 100) is attrs
    out = with_communities(attrs, (GSHUT, GSHUT), 0)
    assert out.communities == (GSHUT,) and out.local_pref == 0
    assert [a.code for a in out.attrs] == sorted(a.code for a in out.attrs)


# --- RFC 9494: LLGR-stale routes ------------------------------------------------------------------

def test_rfc9494_4_2_llgr_stale_attrs_attach_llgr_stale_once() -> None:
    attrs = path(65001, comms=(65001 << 16 | 5,)).attrs
    out = llgr_stale_attrs(attrs)
    assert out.communities == (65001 << 16 | 5, LLGR_STALE)
    assert llgr_stale_attrs(out) is out
    assert TABLE.get(out, ("192.0.2.254",)).llgr_stale


def test_rfc9494_4_3_llgr_stale_goes_to_llgr_peer_with_the_community_kept() -> None:
    stale = path(65001, comms=(LLGR_STALE,))
    for target in (EBGP_B, IBGP_C):
        sent = export(EBGP_A, stale, target, llgr=True)
        assert sent is not None and LLGR_STALE in sent.attrs.communities
        assert NO_EXPORT not in sent.attrs.communities


def test_rfc9494_4_3_llgr_stale_never_to_ebgp_without_llgr() -> None:
    stale = path(65001, comms=(LLGR_STALE,))
    assert export(EBGP_A, stale, EBGP_B) is None
    assert export(EBGP_A, stale, EBGP_B, llgr_ibgp=True) is None


def test_rfc9494_4_3_llgr_stale_not_to_ibgp_without_llgr_unless_configured() -> None:
    assert export(EBGP_A, path(65001, comms=(LLGR_STALE,)), IBGP_C) is None


def test_rfc9494_4_6_llgr_stale_to_ibgp_when_configured_with_no_export_and_local_pref_0() -> None:
    sent = export(EBGP_A, path(65001, lp=200, comms=(LLGR_STALE,)), IBGP_C, llgr_ibgp=True)
    assert sent is not None
    assert set(sent.attrs.communities) == {LLGR_STALE, NO_EXPORT}
    assert sent.attrs.local_pref == 0


def test_rfc9494_4_6_fresh_routes_are_unaffected_by_the_llgr_settings() -> None:
    sent = export(EBGP_A, path(65001, lp=200), IBGP_C, llgr_ibgp=True)
    assert sent is not None and sent.attrs.communities == () and sent.attrs.local_pref == 200
    assert export(EBGP_A, path(65001), EBGP_B) is not None


def test_rfc9494_4_3_received_llgr_stale_is_least_preferred() -> None:
    stale = path(65001, lp=1000, comms=(LLGR_STALE,))
    worse = path(65002, 65003, 65004, 65005, origin=2, lp=0, med=50)
    assert stale.llgr_stale
    assert select([cand(EBGP_A, stale), cand(EBGP_B, worse)]) == 1
    assert select([cand(EBGP_B, worse), cand(EBGP_A, stale)]) == 0


def test_rfc9494_4_4_between_two_llgr_stale_routes_normal_tie_breaking_applies() -> None:
    short = path(65001, comms=(LLGR_STALE,))
    long = path(65002, 65009, comms=(LLGR_STALE,))
    assert select([cand(EBGP_B, long), cand(EBGP_A, short)]) == 1


def test_rfc9494_4_3_loc_rib_replaces_best_when_the_route_becomes_llgr_stale() -> None:
    loc = LocRib()
    fresh = path(65001, lp=200)
    loc.offer(EBGP_A, [1], fresh)
    loc.offer(EBGP_B, [1], path(65002, 65003, lp=50))
    best = loc.best(1)
    assert best is not None and best[0] == EBGP_A
    loc.offer(EBGP_A, [1], TABLE.get(llgr_stale_attrs(fresh.attrs), fresh.next_hop))
    best = loc.best(1)
    assert best is not None and best[0] == EBGP_B
