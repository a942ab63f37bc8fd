"""The BFD Down decision table (RFC 5882 §4.3, RFC 4724 §4.2) and its NOTIFICATION (RFC 9384,
RFC 8538 §5): every (GR negotiated, peer C bit, our bfd-graceful) row, with and without N."""

from __future__ import annotations

import itertools

import pytest

from gracebgp.restart.bfd_down import TABLE, BfdDownAction, bfd_down_notification, decide
from gracebgp.wire.iana import CeaseSubcode, NotificationCode

FLUSH, GRACEFUL = BfdDownAction.FLUSH, BfdDownAction.GRACEFUL

ROWS = [
    # gr, peer_c, graceful -> action
    (False, False, False, FLUSH),
    (False, False, True, FLUSH),  # nothing to keep routes with
    (False, True, False, FLUSH),
    (False, True, True, FLUSH),
    (True, False, False, GRACEFUL),  # C=0: BFD shares fate with its control plane
    (True, False, True, GRACEFUL),
    (True, True, False, FLUSH),  # C=1: its forwarding failed
    (True, True, True, GRACEFUL),  # the operator's override
]


def test_table_is_complete() -> None:
    assert set(TABLE) == set(itertools.product((False, True), repeat=3))


@pytest.mark.parametrize(("gr", "peer_c", "graceful", "action"), ROWS)
def test_decision(gr: bool, peer_c: bool, graceful: bool, action: BfdDownAction) -> None:
    assert decide(gr, peer_c, graceful) is action


def test_notifications() -> None:
    hard = bfd_down_notification(FLUSH, notification_supported=True)
    assert hard is not None and hard.is_hard_reset
    inner = hard.unwrap()  # wraps Cease/BFD Down
    assert (inner.code, inner.subcode) == (NotificationCode.CEASE, CeaseSubcode.BFD_DOWN)
    plain = bfd_down_notification(FLUSH, notification_supported=False)
    assert plain is not None and not plain.is_hard_reset
    assert (plain.code, plain.subcode) == (NotificationCode.CEASE, CeaseSubcode.BFD_DOWN)
    soft = bfd_down_notification(GRACEFUL, notification_supported=True)
    assert soft is not None and (soft.code, soft.subcode) == (NotificationCode.CEASE,
                                                              CeaseSubcode.BFD_DOWN)
    assert bfd_down_notification(GRACEFUL, notification_supported=False) is None
