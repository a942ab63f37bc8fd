"""TCP-AO (RFC 5925) on the sans-IO speaker: the keys reach the Connect command and the
listeners; a reload that adds a key, switches the current key and removes the old one
is applied in place (the runtime rolls the keys over on the established connection,
RFC 5925 §3.3) and says so in the reload event; a change the kernel cannot make on a
live connection resets the session; health names TCP-AO for a silent peer and for a
kernel without it."""

from __future__ import annotations

from dataclasses import replace

from gracebgp.api.service import health
from gracebgp.core import events as ev
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import AO_ROLLED, IN_PLACE, RESET, ao_rollover
from gracebgp.session.state import State

from .test_reload import _reload
from .test_speaker import demo_pair
from .test_tcp_md5 import X, _info, _silent

B = "127.0.0.2"
K1 = ev.AoKey(1, 1, "hmac(sha1)", 12, "one")
K2 = ev.AoKey(2, 2, "hmac(sha1)", 12, "two")
AO1 = ev.SocketOptions(ao_keys=(K1,), ao_current=1)


def _ao(settings: NeighborSettings, keys: tuple[ev.AoKey, ...], current: int | None) -> NeighborSettings:
    return replace(settings, sockets=replace(settings.sockets, ao_keys=keys, ao_current=current))


def test_rollover_rules() -> None:
    both = ev.SocketOptions(ao_keys=(K1, K2), ao_current=1)
    assert ao_rollover(AO1, both)  # add a key
    assert ao_rollover(both, replace(both, ao_current=2))  # switch the current key
    assert ao_rollover(both, ev.SocketOptions(ao_keys=(K2,), ao_current=2))  # drop the old one
    assert not ao_rollover(ev.SocketOptions(), AO1)  # a connection cannot start using TCP-AO
    assert not ao_rollover(AO1, ev.SocketOptions())  # nor stop
    assert not ao_rollover(AO1, ev.SocketOptions(ao_keys=(replace(K1, key="changed"),)))  # same IDs
    assert not ao_rollover(AO1, ev.SocketOptions(ao_keys=(K1, replace(K2, recv_id=1))))  # RecvID taken


def test_a_key_rollover_is_applied_in_place_step_by_step() -> None:
    net, a, _b = demo_pair()
    a.peers[B].settings = _ao(a.peers[B].settings, (K1,), 1)
    since = a.peers[B].session.established_since
    for keys, current in (((K1, K2), 1), ((K1, K2), 2), ((K2,), 2)):
        out, entry = _reload(net, a, lambda s, k=keys, c=current: _ao(s, k, c))
        accepts = [o for o in out if isinstance(o, ev.AcceptFrom)]
        assert [(o.options.ao_keys, o.options.ao_current) for o in accepts if o.options] == [(keys, current)]
        assert not [o for o in out if isinstance(o, (ev.Send, ev.Close, ev.Connect))]
        assert entry["action"] == IN_PLACE and entry["detail"] == AO_ROLLED
        assert a.peers[B].session.state is State.ESTABLISHED
        assert a.peers[B].session.established_since == since


def test_changing_a_key_under_its_ids_resets_the_session() -> None:
    net, a, _b = demo_pair()
    a.peers[B].settings = _ao(a.peers[B].settings, (K1,), 1)
    _out, entry = _reload(net, a, lambda s: _ao(s, (replace(K1, key="new"),), 1))
    assert entry["action"] == RESET and entry["changed"] == ["tcp-ao-keys"]
    assert entry["detail"] == "TCP-AO keys changed: connecting with them now"


def test_turning_ao_on_resets_the_session() -> None:
    net, a, _b = demo_pair()
    _out, entry = _reload(net, a, lambda s: _ao(s, (K1,), 1))
    assert entry["action"] == RESET
    assert sorted(entry["changed"]) == ["tcp-ao-current-key", "tcp-ao-keys"]


def test_health_names_tcp_ao() -> None:
    s = _silent("TimeoutError (TCP-AO is configured: ...)", AO1)
    conds = {c.type: c for c in health(s, _info(10.0), 21.0).conditions}
    c = conds["TcpAoSuspected"]
    assert (c.severity, c.subject, c.reason) == ("error", X, "PeerSilent") and "tcp-ao-keys" in c.message
    assert "TcpMd5Suspected" not in conds
    s = _silent("[Errno 92] cannot set the socket options (TCP-AO, TTL): this kernel has no TCP-AO (it "
                "needs Linux 6.7 or later built with CONFIG_TCP_AO); ...", AO1)
    c = {c.type: c for c in health(s, _info(10.0), 21.0).conditions}["TcpAoUnavailable"]
    assert c.reason == "NoKernelSupport" and "CONFIG_TCP_AO" in c.message
