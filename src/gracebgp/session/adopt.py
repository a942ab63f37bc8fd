"""A session handed over by the previous process (issue 19): an Established connection
put into a fresh ``Session`` without any message exchanged, from the two OPENs the
session was negotiated with.

RFC 4271 §8.2.2: the session is in Established; its HoldTimer runs from now (the old
process read up to a message boundary a moment ago) and its KeepaliveTimer is due at
once, so the peer hears from the new process on the first timer turn (§4.4).
"""

from __future__ import annotations

from gracebgp.errors import CodecError, GraceBGPError
from gracebgp.session.connection import Connection
from gracebgp.session.events import Output
from gracebgp.session.fsm import Session
from gracebgp.session.negotiate import Negotiated, build_open, check_open, negotiate
from gracebgp.session.state import State
from gracebgp.wire import Open
from gracebgp.wire.capabilities import Capability, GracefulRestart, LongLivedGracefulRestart
from gracebgp.wire.iana import HEADER_LEN


class AdoptError(GraceBGPError):
    """The session cannot be adopted (this configuration would not accept the peer's
    OPEN or would send another OPEN itself, the OPENs do not decode, or the peer has a
    connection already)."""


def _as_negotiated(open_: Open) -> tuple[object, ...]:
    """What of our OPEN the peer holds the session to: AS, BGP Identifier, Hold Time and
    the capabilities, without the flags that say how this process started (R, and F per
    family: RFC 4724 §3, RFC 9494 §2), which only mean something in a new OPEN."""
    caps: list[Capability] = []
    for c in open_.capabilities:
        if isinstance(c, GracefulRestart):
            caps.append(GracefulRestart(0, c.restart_time, tuple((a, s, 0) for a, s, _ in c.families)))
        elif isinstance(c, LongLivedGracefulRestart):
            caps.append(LongLivedGracefulRestart(tuple((a, s, 0, t) for a, s, _, t in c.families)))
        else:
            caps.append(c)
    return (open_.asn, open_.bgp_id, open_.hold_time, tuple(sorted(caps, key=repr)))


def changed_identity(ours: Open, now: Open) -> str:
    """Why our recorded OPEN ``ours`` no longer describes this configuration's (``now``),
    "" when it does: the peer checked AS_PATHs and router-ids against the OPEN it got
    (RFC 4271 §6.3, §9.1.2.2), so a changed local AS, router-id or capability needs a
    new session."""
    if ours.asn != now.asn:
        return f"the local AS changed ({ours.asn} -> {now.asn})"
    if ours.bgp_id != now.bgp_id:
        return f"the router-id changed ({ours.bgp_id} -> {now.bgp_id})"
    if _as_negotiated(ours) != _as_negotiated(now):
        return "the hold time or the capabilities we would send changed"
    return ""


def adopt(session: Session, conn_id: int, outgoing: bool, our_open: bytes, their_open: bytes,
          established_at: float, now: float) -> tuple[Negotiated, list[Output]]:
    """Put the connection ``conn_id`` into ``session`` as Established; returns what it
    negotiated and the session's outputs (StateChanged). ``established_at``: when the
    session came up, in the caller's clock (its uptime goes on)."""
    m = session.machine
    if m.conns:
        raise AdoptError("the peer already has a connection in this process")
    try:
        ours = Open.decode(our_open[HEADER_LEN:])
        theirs = Open.decode(their_open[HEADER_LEN:])
    except CodecError as exc:
        raise AdoptError(f"the OPENs of the session do not decode: {exc.reason}") from None
    refused = check_open(m.cfg, theirs)
    if refused is not None:
        raise AdoptError(f"the configuration no longer accepts the peer's OPEN ({refused.describe()})")
    changed = changed_identity(ours, build_open(m.cfg))
    if changed:
        raise AdoptError(f"{changed}: the session is re-opened with the new OPEN")
    neg = negotiate(m.cfg, ours, theirs)
    conn = Connection(conn_id, outgoing, State.ESTABLISHED, local_open=ours)
    conn.use(neg)
    m.out, m.facts = [], []
    m.conns[conn_id] = conn
    m.enabled, m.passive = True, m.cfg.passive
    m.connect_retry_at = m.idle_hold_at = None
    m.established_at = established_at
    m.restart_hold(conn, now)
    conn.keepalive_at = now if neg.keepalive_time else None
    m.reason = "session handed over by the previous process"
    m.sync(now)
    out, m.out = m.out, []
    return neg, out
