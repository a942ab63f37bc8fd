"""Whether a new control node can take over a VM's established session unnoticed.

The VM negotiated its session once (RFC 4271 §4.2, RFC 5492 §3) and will not do it again;
the proxy opens the new upstream session with the VM's own OPEN, and the new node's OPEN
must lead to the same negotiation wherever it changes the bytes or the messages either
side may send: the same AS (so eBGP/iBGP and the AS_PATH rules stay), the same families
(RFC 4760 §6: no UPDATEs for a family not negotiated), the same 4-octet AS (RFC 6793),
ADD-PATH per direction (RFC 7911), Extended Message (RFC 8654) and Extended Next Hop
(RFC 8950); ROUTE-REFRESH and Enhanced Route Refresh (RFC 2918, RFC 7313) where the VM
may use them; the node's graceful restart as the VM knows it (RFC 4724 §3: present, for
which families; the N bit, RFC 8538 §2; Long-Lived GR's families, RFC 9494 §3), which
decides what the VM keeps when the session ends. The Hold Time and the restart and stale
times may differ: the proxy keeps each leg alive on its own.
"""

from __future__ import annotations

from gracebgp.session.config import SessionConfig
from gracebgp.session.negotiate import Negotiated, negotiate
from gracebgp.types import Family
from gracebgp.wire import Open


def negotiate_legs(node_open: Open, vm_open: Open) -> Negotiated | None:
    """The session as the control node negotiated it with the VM (the node is "us":
    ``rx_context`` decodes what the VM sends, ``tx_context`` what the node sends); None
    when the node's OPEN cannot describe a session (its AS or identifier is invalid)."""
    try:
        cfg = SessionConfig(local_as=node_open.asn, router_id=node_open.bgp_id, peer_address="vm")
    except ValueError:
        return None
    return negotiate(cfg, node_open, vm_open)


def incompatibility(old: Negotiated, new: Negotiated) -> str | None:
    """Why ``new`` cannot stand in for ``old`` unnoticed by the VM, or None."""
    if new.local_as != old.local_as:
        return f"control node AS {new.local_as} differs from {old.local_as}"
    checks: tuple[tuple[str, object, object], ...] = (
        ("families", old.families, new.families),
        ("4-octet AS", old.as4, new.as4),
        ("ADD-PATH towards the VM", old.add_path_tx, new.add_path_tx),
        ("ADD-PATH from the VM", old.add_path_rx, new.add_path_rx),
        ("Extended Message", old.extended_message, new.extended_message),
        ("Extended Next Hop", old.extended_next_hop, new.extended_next_hop),
        ("graceful restart (families)", _gr(old), _gr(new)),
        ("the graceful restart N bit", old.notification_supported, new.notification_supported),
        ("long-lived graceful restart (families)", _llgr(old), _llgr(new)),
    )
    for name, was, now in checks:
        if was != now:
            return f"{name} negotiated differently ({was} before, {now} now)"
    if old.route_refresh and not new.route_refresh:
        return "the new control node lacks ROUTE-REFRESH, which the VM negotiated"
    if old.enhanced_route_refresh and not new.enhanced_route_refresh:
        return "the new control node lacks Enhanced Route Refresh, which the VM negotiated"
    return None


def _gr(n: Negotiated) -> frozenset[Family] | None:
    """The families the node's GR capability lists, None without one (what the VM, as
    the node's helper, keeps routes for when the session ends)."""
    return n.local_gr.families if n.local_gr is not None else None


def _llgr(n: Negotiated) -> frozenset[Family] | None:
    return frozenset(f for f, _ in n.local_llgr.stale_times) if n.local_llgr is not None else None
