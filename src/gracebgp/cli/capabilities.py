"""The session part of ``gracebgp neighbor ADDR``: what our OPEN and the peer's offered
and what the session uses (RFC 5492 §3: a capability is used when both sides sent it),
with both sides' graceful-restart parameters (RFC 4724 §3: restart time, R and F bits;
RFC 8538 §2: N), LLGR per family (RFC 9494: stale time, F) and ADD-PATH per family
(RFC 7911 §4). Pure: schema objects in, table rows out.
"""

from __future__ import annotations

from collections.abc import Callable

from gracebgp.api.schema import Capabilities, GrParams, LlgrFamily, Negotiation, Peer

CAPABILITY_COLUMNS = ["Capability", "Ours", "Peer's", "In use"]
Rows = list[list[str]]
#: Stands in for the negotiation before Established (the In use column then shows "-").
_NOTHING = Negotiation(four_octet_as=False, families=[], route_refresh=False, enhanced_route_refresh=False,
                       extended_message=False, extended_next_hop=[], add_path_send=[], add_path_receive=[],
                       notification=False, gr_we_keep=[], gr_peer_keeps=[], llgr_we_keep=[],
                       llgr_peer_keeps=[])


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _list(names: list[str]) -> str:
    return ", ".join(names) or "-"


def _gr_side(gr: GrParams | None) -> str:
    if gr is None:
        return "not sent"
    helper = "" if gr.families else ", helper only"
    return f"R={int(gr.restart_state)} N={int(gr.notification)}, restart time {gr.restart_time}s{helper}"


def _gr_family(gr: GrParams | None, family: str) -> str:
    if gr is None:
        return "-"
    found = next((f for f in gr.families if f.family == family), None)
    return "not listed" if found is None else f"F={int(found.forwarding)}"


def _llgr_family(llgr: list[LlgrFamily] | None, family: str) -> str:
    if llgr is None:
        return "-"
    found = next((f for f in llgr if f.family == family), None)
    return "not listed" if found is None else f"stale time {found.stale_time}s, F={int(found.forwarding)}"


def _keeps(we: bool, they: bool) -> str:
    if we and they:
        return "each keeps the other's routes"
    if we:
        return "we keep the peer's routes"
    return "the peer keeps ours" if they else "no"


def _add_path(caps: Capabilities | None, family: str) -> str:
    if caps is None:
        return "-"
    return next((a.mode for a in caps.add_path if a.family == family), "-")


def capability_rows(peer: Peer) -> Rows:
    """Capability, Ours, Peer's, In use; one row per capability, per family where the
    capability is per family. Before Established only our side is known."""
    ours, theirs, neg = peer.local_capabilities, peer.peer_capabilities, peer.negotiated
    if ours is None:
        return []
    both = (ours, theirs)

    def side(pick: Callable[[Capabilities], str]) -> list[str]:
        return [pick(c) if c is not None else "-" for c in both]

    def used(text: str) -> str:
        return text if neg is not None else "-"

    n = neg or _NOTHING
    rows: Rows = [
        ["4-octet AS", *side(lambda c: f"AS {c.four_octet_as}" if c.four_octet_as is not None else "no"),
         used(_yes(n.four_octet_as))],
        ["Multiprotocol", *side(lambda c: _list(c.families)), used(_list(n.families))],
        ["Route refresh", *side(lambda c: _yes(c.route_refresh)), used(_yes(n.route_refresh))],
        ["Enhanced route refresh", *side(lambda c: _yes(c.enhanced_route_refresh)),
         used(_yes(n.enhanced_route_refresh))],
        ["Extended message", *side(lambda c: _yes(c.extended_message)), used(_yes(n.extended_message))],
        ["Extended next hop", *side(lambda c: _list(c.extended_next_hop)), used(_list(n.extended_next_hop))],
    ]
    families = sorted({a.family for c in both if c is not None for a in c.add_path})
    for family in families:
        send, receive = family in n.add_path_send, family in n.add_path_receive
        rows.append([f"ADD-PATH {family}", _add_path(ours, family), _add_path(theirs, family),
                     used("both directions" if send and receive else "we send" if send
                          else "we receive" if receive else "no")])
    grs = (ours.graceful_restart, theirs.graceful_restart if theirs is not None else None)
    gr_used = "no" if None in grs else "yes, with N (RFC 8538)" if n.notification else "yes, without N"
    rows.append(["Graceful restart", _gr_side(grs[0]), _gr_side(grs[1]) if theirs is not None else "-",
                 used(gr_used)])
    gr_families = sorted({f.family for g in grs if g is not None for f in g.families})
    for family in gr_families:
        rows.append([f"GR {family}", _gr_family(grs[0], family),
                     _gr_family(grs[1], family) if theirs is not None else "-",
                     used(_keeps(family in n.gr_we_keep, family in n.gr_peer_keeps))])
    llgrs = (ours.llgr, theirs.llgr if theirs is not None else None)
    if any(x is not None for x in llgrs):
        rows.append(["Long-lived GR", *("sent" if x is not None else "not sent" for x in llgrs),
                     used(_yes(None not in llgrs and None not in grs))])
    for family in sorted({f.family for x in llgrs if x is not None for f in x}):
        rows.append([f"LLGR {family}", _llgr_family(llgrs[0], family), _llgr_family(llgrs[1], family),
                     used(_keeps(family in n.llgr_we_keep, family in n.llgr_peer_keeps))])
    if ours.hostname or (theirs is not None and theirs.hostname):
        rows.append(["Hostname", *side(lambda c: c.hostname or "-"), "-"])
    for code in sorted({code for c in both if c is not None for code in c.other}):
        sent = ["sent" if c is not None and code in c.other else "-" for c in both]
        rows.append([f"Capability {code}", *sent, used("no (unknown to gracebgp)")])
    return rows


def capability_note(peer: Peer) -> str | None:
    """A line under the table when only our side is known."""
    if peer.local_capabilities is None or peer.negotiated is not None:
        return None
    return ("not Established: 'Ours' is the OPEN we would send now; the peer's OPEN and what the "
            "session uses appear once it is Established")
