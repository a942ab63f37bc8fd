"""What the speaker does when gracebgp-bfdd reports a peer's BFD session changing state.

RFC 5882 §3.2 and RFC 5880 §6.8.16 (AdminDown, ours or the peer's, is not a failure: the
session is left alone), RFC 9384 (an Established session whose BFD fails goes down at
once, Cease/BFD Down), RFC 5882 §4.3 and restart.bfd_down (with graceful restart: keep
the peer's routes stale or flush them, by the peer's C bit and ``[neighbors.bfd.gracebgp]
graceful``). A BGP session comes up whether BFD is up or not, unless ``wait-for-up``
holds it (not started, or stopped while not Established) until BFD is Up; otherwise only a
BFD failure while BFD was Up acts on it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from gracebgp.core import events as ev
from gracebgp.core.peer import Peer
from gracebgp.core.restart_control import notice
from gracebgp.core.views import Emits, Peers
from gracebgp.restart.bfd_down import bfd_down_notification, decide
from gracebgp.wire import Notification


class BfdHost(Emits, Peers, Protocol):
    """What this part needs of the speaker: the peers, outputs, and a reset."""

    def reset_peer(self, peer: Peer, note: Notification | None, why: str, now: float,
                   idle_hold: float = 0.0) -> None: ...

    def stop_peer(self, peer: Peer, note: Notification | None, why: str, now: float) -> None: ...


def holding(sp: Emits, peer: Peer) -> bool:
    """``wait-for-up``: the session does not start while its BFD session is not Up."""
    if peer.settings.bfd_wait and not peer.bfd_up:
        sp.log("info", "not started: waiting for BFD to come Up (bfd wait-for-up)", peer, "bfd", "bfd-wait")
        return True
    return False


def failed(change: ev.BfdChanged) -> bool:
    """An Up session went Down for a reason other than AdminDown on either side."""
    return change.old == "up" and change.state == "down" and change.remote_state != "admin-down"


def changed(sp: BfdHost, change: ev.BfdChanged, now: float) -> None:
    peer = sp.peers.get(change.peer)
    if peer is None:
        return
    if change.old == "adopted" and peer.bfd_up:  # bfdd's snapshot on reconnecting
        if change.state == "up":
            return  # no change
        change = replace(change, old="up")  # it went down while we were away: judge it so
    fields = {"state": change.state, "old": change.old, "remote_state": change.remote_state,
              "diag": change.diag, "remote_c": change.remote_c}
    peer.bfd_up = change.state == "up"
    if change.state == "up" or change.old == "up":
        notice(sp, f"bfd-{change.state}", f"BFD {change.old} -> {change.state} ({change.diag})", peer,
               **fields)
    neg = peer.negotiated
    if peer.settings.bfd_wait and neg is None and not peer.admin_down:
        if peer.bfd_up and change.old != "up":
            sp.reset_peer(peer, None, "BFD up (bfd wait-for-up)", now)  # start it now
        elif change.old == "up" and not peer.bfd_up:
            sp.stop_peer(peer, None, "BFD down (bfd wait-for-up)", now)  # no session while BFD is down
        return
    if not failed(change):
        return
    if neg is None:
        sp.log("info", f"BFD down ({change.diag}); the session is not established", peer, "bfd",
               "bfd-down", **fields)
        return
    action = decide(bool(neg.graceful_families), change.remote_c, peer.settings.bfd_graceful)
    note = bfd_down_notification(action, neg.notification_supported)
    why = f"BFD down ({change.diag}, peer C bit {int(change.remote_c)}): {action.value}"
    sp.log("warning", why, peer, "bfd", "bfd-down", action=action.value, **fields)
    sp.reset_peer(peer, note, why, now)
