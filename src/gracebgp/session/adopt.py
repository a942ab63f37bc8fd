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
from gracebgp.session.negotiate import Negotiated, check_open, negotiate
from gracebgp.session.state import State
from gracebgp.wire import Open
from gracebgp.wire.iana import HEADER_LEN


class AdoptError(GraceBGPError):
    """The session cannot be adopted (this configuration would not accept the peer's
    OPEN, the OPENs do not decode, or the peer has a connection already)."""


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
