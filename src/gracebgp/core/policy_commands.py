"""Routing-policy commands (issue 16 item 4): replace the policy book (the API's edits of
defined sets, policy definitions and the global apply-policy, compiled by the API
service) and set or clear one neighbor's own apply-policy. Both re-run the policies over
the kept routes with ``core.policies.rebind`` and answer with its report (per peer and
family: how many routes changed on import and export); neither ever resets a session.

A book that no longer defines a policy some neighbor's own apply-policy names is refused
(409): GoBGP refuses to delete a policy still assigned, and removing it here would
leave that neighbor's filters pointing at nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gracebgp.core.policies import PolicyHost, rebind
from gracebgp.policy.book import ApplyPolicy, PolicyBook
from gracebgp.policy.definitions import Direction


class PolicyRefused(Exception):
    """A policy command that cannot be carried out: HTTP-like ``status`` and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ReplacePolicyBook:
    """Use ``book`` from now on (built by the API from the edited ``PolicySource``);
    ``what``: the edit, for the reply and the command notice (``added policy-definition x``)."""

    book: PolicyBook
    what: str = "policy replaced"


@dataclass(frozen=True, slots=True)
class SetPeerPolicy:
    """Neighbor ``address``'s own apply-policy (None: none, the global one applies)."""

    address: str
    apply_policy: ApplyPolicy | None = None


Result = tuple[int, str, object]


def _summary(report: list[dict[str, Any]]) -> str:
    moved = sum(r["import_changed"] for r in report)
    sent = sum(r["export_changed"] for r in report)
    return f"{moved} imported and {sent} exported routes changed, no session reset"


def replace_book(sp: PolicyHost, command: ReplacePolicyBook, now: float) -> Result:
    for peer in sp.peers.values():
        own = peer.settings.apply_policy
        if own is None:
            continue
        missing = [n for d in Direction for n in own.names(d) if n not in command.book.policies]
        if missing:
            raise PolicyRefused(409, f"{command.what} refused: neighbor {peer.address}'s apply-policy still "
                                     f"names policy {missing[0]!r} (change that apply-policy first)")
    report = rebind(sp, command.book, now)
    return 200, f"{command.what}: {_summary(report)}", {"changed": report}


def set_peer_policy(sp: PolicyHost, command: SetPeerPolicy, now: float) -> Result:
    peer = sp.peers.get(command.address)
    if peer is None:
        raise PolicyRefused(404, f"peer {command.address} not found")
    level = command.apply_policy
    if level is not None:
        try:
            sp.policy_book.check(level)
        except ValueError as exc:
            raise PolicyRefused(400, str(exc)) from None
        if level == ApplyPolicy():
            level = None
    peer.settings = replace(peer.settings, apply_policy=level)
    report = rebind(sp, sp.policy_book, now, only=frozenset({peer.address}))
    what = "cleared" if level is None else "set"
    return 200, f"neighbor {peer.address} apply-policy {what}: {_summary(report)}", {"changed": report}


HANDLERS: dict[type, Callable[[Any, Any, float], Result]] = {
    ReplacePolicyBook: replace_book, SetPeerPolicy: set_peer_policy,
}
