"""SessionConfig validation, our OPEN (build_open) and the checks on theirs (check_open).

RFC 4271 §4.2 and §6.2, RFC 5492 §5, RFC 6793 §4.1, RFC 7607, RFC 6286 §2.2, RFC 4724 §3,
RFC 8538 §2, RFC 9494 §3.1 and §4.1, RFC 7911 §4.
"""

from __future__ import annotations

from typing import Any

import pytest

from gracebgp.session import GrConfig, build_open, check_open
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import (
    AddPath,
    CapabilitiesParam,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    Notification,
    Open,
    UnknownCapability,
    UnknownParam,
)
from gracebgp.wire.iana import AddPathMode

from .helpers import config, peer_open

VPN = Family(1, 128)


# --- config -------------------------------------------------------------------------------

@pytest.mark.parametrize(("kw", "message"), [
    ({"hold_time": 1}, "hold_time 1 must be 0 or 3..65535"),  # RFC 4271 §4.2
    ({"hold_time": 2}, "hold_time 2"),
    ({"hold_time": 70000}, "hold_time 70000"),
    ({"local_as": 0}, "local_as 0"),
    ({"peer_as": 2**32}, "peer_as"),
    ({"router_id": "0.0.0.0"}, "router_id must not be 0.0.0.0"),
    ({"router_id": "2001:db8::1"}, "not an IPv4 address"),
    ({"families": ()}, "families must be non-empty"),
    ({"families": (IPV4_UNICAST, IPV4_UNICAST)}, "without duplicates"),
    ({"add_path": ((VPN, AddPathMode.BOTH),)}, "are used but not configured"),
    ({"add_path": ((IPV4_UNICAST, 4),)}, "add_path modes are RECEIVE"),  # RFC 7911 §4
    ({"llgr": ((IPV4_UNICAST, 3600),)}, "llgr needs graceful_restart"),  # RFC 9494 §4.1
    ({"graceful_restart": GrConfig(restart_time=4096)}, "12 bits"),  # RFC 4724 §3
    ({"graceful_restart": GrConfig(), "llgr": ((IPV4_UNICAST, 2**24),)}, "24 bits"),
    ({"route_refresh": False}, "enhanced_route_refresh needs route_refresh"),
    ({"connect_retry_time": 0}, "connect_retry_time must be > 0"),
    ({"idle_hold_time": 10, "max_idle_hold_time": 5}, "max_idle_hold_time"),
    ({"hostname": "x" * 256}, "255 octets"),
    ({"keepalive_time": 0}, "keepalive_time 0 must be 1..65535"),  # RFC 4271 §4.4: hold time expires
    ({"keepalive_time": 70000}, "keepalive_time 70000"),
])
def test_config_rejects(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**kw)


def test_config_accepts_hold_time_zero_and_three() -> None:
    """RFC 4271 §4.2: the Hold Time is zero or at least three seconds."""
    assert config(hold_time=0).hold_time == 0
    assert config(hold_time=3).hold_time == 3
    assert config(hold_time=0, keepalive_time=0).keepalive_time == 0  # no keepalives (§4.4)


# --- build_open -------------------------------------------------------------------------

def test_build_open_minimal() -> None:
    """One Capabilities parameter, capabilities in ascending code order."""
    o = build_open(config(enhanced_route_refresh=False, route_refresh=False, extended_message=False))
    assert (o.my_as, o.hold_time, o.bgp_id) == (65001, 90, "10.0.0.1")
    assert len(o.params) == 1 and isinstance(o.params[0], CapabilitiesParam)
    assert o.capabilities == (Multiprotocol(1, 1), Multiprotocol(2, 1), FourOctetAs(65001))


def test_build_open_everything_in_code_order() -> None:
    cfg = config(
        add_path=((IPV4_UNICAST, AddPathMode.BOTH),),
        graceful_restart=GrConfig(restart_time=120, notification=True, restarting=True,
                                  forwarding=frozenset({IPV6_UNICAST})),
        llgr=((IPV4_UNICAST, 3600),), hostname="gw1", domain="example.net",
        extended_next_hop=(IPV4_UNICAST,))
    caps = build_open(cfg).capabilities
    assert [c.code for c in caps] == [1, 1, 2, 5, 6, 64, 65, 69, 70, 71, 73]
    assert caps[3] == ExtendedNextHop(((1, 1, 2),))  # RFC 8950 §3: IPv4 NLRI, IPv6 next hop
    assert caps[4] == ExtendedMessage()
    # RFC 4724 §3 + RFC 8538 §2: R (0x8) and N (0x4); F (0x80) only where kept
    assert caps[5] == GracefulRestart(0xC, 120, ((1, 1, 0), (2, 1, 0x80)))
    assert caps[7] == AddPath(((1, 1, 3),))
    assert caps[9] == LongLivedGracefulRestart(((1, 1, 0, 3600),))
    assert caps[10] == Fqdn("gw1", "example.net")


def test_build_open_gr_helper_only_and_no_n_bit() -> None:
    """RFC 4724 §3: no AFI/SAFI = receiving-speaker support only; R=0 on a fresh start."""
    cfg = config(graceful_restart=GrConfig(restart_time=90, notification=False, helper_only=True))
    gr = next(c for c in build_open(cfg).capabilities if isinstance(c, GracefulRestart))
    assert gr == GracefulRestart(0, 90, ())


def test_build_open_gr_lists_only_its_families() -> None:
    """RFC 4724 §3: the listed AFI/SAFIs are those the peer keeps for us; GrConfig.families
    (GoBGP's mp-graceful-restart) picks them, in configuration order; empty lists none."""
    gr = GrConfig(restart_time=60, notification=False, forwarding=frozenset({IPV4_UNICAST, IPV6_UNICAST}),
                  families=frozenset({IPV6_UNICAST}))

    def cap(g: GrConfig) -> GracefulRestart:
        caps = build_open(config(graceful_restart=g)).capabilities
        return next(c for c in caps if isinstance(c, GracefulRestart))

    assert cap(gr) == GracefulRestart(0, 60, ((2, 1, 0x80),))
    none = GrConfig(restart_time=60, notification=False, families=frozenset())
    assert cap(none) == GracefulRestart(0, 60, ())
    with pytest.raises(ValueError, match="used but not configured"):
        config(families=(IPV4_UNICAST,), graceful_restart=gr)


def test_build_open_llgr_only_when_configured() -> None:
    """RFC 9494 §3.1: zero or more tuples. ``long_lived`` sends it with none (helper for
    LLGR); neither ``llgr`` nor ``long_lived``: no capability; helper-only: no tuples."""
    def llgr(**kw: Any) -> LongLivedGracefulRestart | None:
        caps = build_open(config(**kw)).capabilities
        return next((c for c in caps if isinstance(c, LongLivedGracefulRestart)), None)

    assert llgr(graceful_restart=GrConfig()) is None
    assert llgr(graceful_restart=GrConfig(), long_lived=True) == LongLivedGracefulRestart(())
    assert llgr(graceful_restart=GrConfig(helper_only=True), llgr=((IPV4_UNICAST, 60),)) == \
        LongLivedGracefulRestart(())
    assert llgr(long_lived=True) is None  # RFC 9494 §4.1: never without GR


def test_build_open_four_octet_as_uses_as_trans() -> None:
    """RFC 6793 §4.1/§4.2.1: AS_TRANS in My AS, the real AS in capability 65."""
    o = build_open(config(local_as=4200000001))
    assert o.my_as == 23456 and FourOctetAs(4200000001) in o.capabilities
    assert Open.decode(o.encode()[19:]).asn == 4200000001


def test_build_open_hold_time_zero() -> None:
    assert build_open(config(hold_time=0)).hold_time == 0


# --- check_open ---------------------------------------------------------------------------

def _err(subcode: int, data: bytes = b"") -> Notification:
    return Notification(2, subcode, data)


def test_acceptable_open() -> None:
    assert check_open(config(), peer_open()) is None


@pytest.mark.parametrize("version", [3, 5])
def test_unsupported_version(version: int) -> None:
    """RFC 4271 §6.2: Unsupported Version Number, Data = the 2-octet version we support."""
    o = Open(65002, 90, "10.0.0.2", peer_open().params, version=version)
    assert check_open(config(), o) == _err(1, b"\x00\x04")


def test_unsupported_optional_parameter() -> None:
    """RFC 4271 §6.2: a parameter other than Capabilities (RFC 5492 §4, type 2)."""
    o = Open(65002, 90, "10.0.0.2", (*peer_open().params, UnknownParam(1, b"\x00\x00")))
    assert check_open(config(), o) == _err(4)


@pytest.mark.parametrize(("my_as", "caps", "why"), [
    (65003, (FourOctetAs(65003),), "not the configured peer AS"),
    (65002, (FourOctetAs(65003),), "My AS and capability 65 disagree (RFC 6793 §4.1)"),
    (23456, (), "AS_TRANS without capability 65"),
    (23456, (FourOctetAs(65002),), "AS_TRANS but a 2-octet AS in capability 65"),
    (65002, (FourOctetAs(4200000002),), "4-octet AS but My AS is not AS_TRANS"),
    (0, (), "AS 0 (RFC 7607)"),
    (23456, (FourOctetAs(0),), "AS 0 in capability 65 (RFC 7607)"),
])
def test_bad_peer_as(my_as: int, caps: tuple[FourOctetAs, ...], why: str) -> None:
    """RFC 4271 §6.2: Bad Peer AS, no Data."""
    o = Open(my_as, 90, "10.0.0.2", (CapabilitiesParam((Multiprotocol(1, 1), *caps)),))
    assert check_open(config(peer_as=None if "configured" not in why else 65002), o) == _err(2), why


def test_any_peer_as_when_not_configured() -> None:
    """peer_as None (dynamic peers): any consistent AS is accepted, 2- or 4-octet."""
    assert check_open(config(peer_as=None), peer_open(asn=64999)) is None
    assert check_open(config(peer_as=None), peer_open(asn=4200000009)) is None
    two_octet_speaker = Open(65002, 90, "10.0.0.2", (CapabilitiesParam((Multiprotocol(1, 1),)),))
    assert check_open(config(), two_octet_speaker) is None


def test_bad_bgp_identifier() -> None:
    """RFC 4271 §6.2 / RFC 6286 §2.2: 0.0.0.0 always; our own identifier only on iBGP."""
    assert check_open(config(), peer_open(bgp_id="0.0.0.0")) == _err(3)
    ibgp = config(peer_as=65001)
    assert check_open(ibgp, peer_open(asn=65001, bgp_id="10.0.0.1")) == _err(3)
    assert check_open(config(), peer_open(bgp_id="10.0.0.1")) is None  # eBGP: allowed


@pytest.mark.parametrize(("hold", "ok"), [(0, True), (1, False), (2, False), (3, True), (65535, True)])
def test_hold_time(hold: int, ok: bool) -> None:
    """RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds"
    with Unacceptable Hold Time (2/6) and no Data."""
    assert check_open(config(), peer_open(hold=hold)) == (None if ok else _err(6))


def test_no_common_family_is_unsupported_capability() -> None:
    """RFC 5492 §5: Unsupported Capability, Data = the capabilities we need (our MP caps)."""
    v6_only = (CapabilitiesParam((Multiprotocol(2, 1), FourOctetAs(65002))),)
    o = Open(65002, 90, "10.0.0.2", v6_only)
    assert check_open(config(families=(IPV4_UNICAST,)), o) == _err(7, bytes.fromhex("010400010001"))
    # no MP capability at all implies IPv4 unicast (spec section 2)
    plain = Open(65002, 90, "10.0.0.2", (CapabilitiesParam((FourOctetAs(65002),)),))
    assert check_open(config(families=(IPV6_UNICAST,)), plain) == _err(7, bytes.fromhex("010400020001"))
    assert check_open(config(), plain) is None


def test_unknown_capabilities_are_ignored() -> None:
    """RFC 5492 §3: an unknown capability MUST NOT cause Unsupported Capability."""
    caps = (Multiprotocol(1, 1), UnknownCapability(200, b"\x01"), FourOctetAs(65002))
    assert check_open(config(), Open(65002, 90, "10.0.0.2", (CapabilitiesParam(caps),))) is None


def test_check_order_version_first() -> None:
    """Several errors: the version is reported first (nothing else can be trusted)."""
    o = Open(0, 1, "0.0.0.0", (UnknownParam(1, b""),), version=3)
    assert check_open(config(), o) == _err(1, b"\x00\x04")
