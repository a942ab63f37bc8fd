"""The OPEN a GoBGP configuration file produces: NeighborSettings.from_config, then build_open.

GoBGP's rules for the graceful-restart keys (issue 11 findings 3 and 4): the GR capability
(RFC 4724 §3) lists only the afi-safis whose ``mp-graceful-restart`` is enabled, none when
no afi-safi enables it; the LLGR capability (RFC 9494 §3.1) goes out only with
``long-lived-enabled``, listing the afi-safis whose ``long-lived-graceful-restart`` is
enabled; ``helper-only`` lists no family in either.
"""

from __future__ import annotations

from pathlib import Path

from gracebgp.config import Global, Neighbor, load_file, parse
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import IN_PLACE, PeerPlan, plan
from gracebgp.session import build_open, negotiate
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import (
    CapabilitiesParam,
    Capability,
    FourOctetAs,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    Open,
)

from ..config.conftest import FIXTURES

HEAD = """\
[global.config]
as = 65001
router-id = "192.0.2.1"
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
"""


def _family(name: str, mp_gr: bool, llgr: int | None = None) -> str:
    text = f'[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "{name}"\n'
    if mp_gr:
        text += "[neighbors.afi-safis.mp-graceful-restart.config]\nenabled = true\n"
    if llgr is not None:
        text += ("[neighbors.afi-safis.long-lived-graceful-restart.config]\n"
                 f"enabled = true\nrestart-time = {llgr}\n")
    return text


def settings(text: str, forwarding_preserved: bool = True) -> NeighborSettings:
    cfg = parse(text)
    return NeighborSettings.from_config(cfg.neighbors[0], cfg.global_,
                                        forwarding_preserved=forwarding_preserved)


def caps(text: str, **kw: bool) -> tuple[Capability, ...]:
    return build_open(settings(text, **kw).session).capabilities


def gr_cap(text: str, **kw: bool) -> GracefulRestart | None:
    return next((c for c in caps(text, **kw) if isinstance(c, GracefulRestart)), None)


def llgr_cap(text: str, **kw: bool) -> LongLivedGracefulRestart | None:
    return next((c for c in caps(text, **kw) if isinstance(c, LongLivedGracefulRestart)), None)


def gr_section(**keys: object) -> str:
    lines = [f"{k.replace('_', '-')} = {str(v).lower() if isinstance(v, bool) else v}"
             for k, v in keys.items()]
    return "[neighbors.graceful-restart.config]\nenabled = true\n" + "".join(f"{x}\n" for x in lines)


# --- mp-graceful-restart: the families of our GR capability ----------------------------------

def test_gr_lists_only_the_families_with_mp_graceful_restart() -> None:
    """RFC 4724 §3: each listed AFI/SAFI is one whose routes the peer keeps when we restart;
    GoBGP lists the afi-safis with mp-graceful-restart, and so do we (F: forwarding kept)."""
    text = (HEAD + gr_section(restart_time=120) + _family("ipv4-unicast", True)
            + _family("ipv6-unicast", False))
    assert gr_cap(text) == GracefulRestart(0, 120, ((1, 1, 0x80),))
    assert gr_cap(text, forwarding_preserved=False) == GracefulRestart(0, 120, ((1, 1, 0),))
    both = HEAD + gr_section(restart_time=120) + _family("ipv4-unicast", True) + _family("ipv6-unicast", True)
    assert gr_cap(both) == GracefulRestart(0, 120, ((1, 1, 0x80), (2, 1, 0x80)))


def test_gr_without_any_mp_graceful_restart_lists_no_family() -> None:
    """Graceful restart enabled, no afi-safi with mp-graceful-restart (GoBGP's helper example):
    the capability goes out with no AFI/SAFI, as GoBGP sends it; RFC 4724 §3: we support the
    receiving-speaker procedures only, so the peer keeps none of our routes. (Before: every
    family was listed with F=1.)"""
    implicit = HEAD + gr_section()  # no afi-safis at all: ipv4-unicast after the address
    assert gr_cap(implicit) == GracefulRestart(0, 90, ())
    explicit = HEAD + gr_section(notification_enabled=True) + _family("ipv4-unicast", False)
    assert gr_cap(explicit) == GracefulRestart(0x4, 90, ())


def test_gr_families_and_the_helper_side_of_the_session() -> None:
    """Our GR capability decides what the peer keeps of ours; what we keep of the peer's is
    decided by the peer's capability (RFC 4724 §4.2), whatever families we list."""
    s = settings(HEAD + gr_section() + _family("ipv4-unicast", False))
    peer = Open(65002, 90, "192.0.2.2", (CapabilitiesParam((
        Multiprotocol(1, 1), GracefulRestart(0, 120, ((1, 1, 0),)), FourOctetAs(65002))),))
    n = negotiate(s.session, build_open(s.session), peer)
    assert n.local_gr is not None and n.local_gr.families == frozenset()
    assert n.gr_families == {IPV4_UNICAST}


def test_helper_only_lists_no_family_even_with_mp_graceful_restart() -> None:
    text = HEAD + gr_section(helper_only=True, long_lived_enabled=True) + _family("ipv4-unicast", True, 3600)
    assert gr_cap(text) == GracefulRestart(0, 90, ())
    assert llgr_cap(text) == LongLivedGracefulRestart(())  # RFC 9494 §3.1: zero tuples


def test_disabled_afi_safi_is_not_listed() -> None:
    text = (HEAD + gr_section() + _family("ipv4-unicast", True)
            + _family("ipv6-unicast", True).replace('"\n', '"\nenabled = false\n', 1))
    assert gr_cap(text) == GracefulRestart(0, 90, ((1, 1, 0x80),))
    assert Multiprotocol(2, 1) not in caps(text)


# --- long-lived-enabled: whether the LLGR capability goes out at all ---------------------------

def test_llgr_needs_long_lived_enabled_seed_132() -> None:
    """The .132 node of the field report (seeds/000_2a066cbdae717637.txt): afi-safi LLGR
    enabled but no ``long-lived-enabled``. gobgpd sends no LLGR capability; neither do we."""
    s = NeighborSettings.from_config(*_first(FIXTURES / "seed_132.toml"))
    open_caps = build_open(s.session).capabilities
    assert not any(isinstance(c, LongLivedGracefulRestart) for c in open_caps)
    assert GracefulRestart(0, 30, ((1, 1, 0x80),)) in open_caps
    assert s.session.llgr == ()  # so nothing counts on a long-lived stale time either


def test_llgr_with_long_lived_enabled_seed_134() -> None:
    s = NeighborSettings.from_config(*_first(FIXTURES / "seed_134.toml"))
    open_caps = build_open(s.session).capabilities
    assert LongLivedGracefulRestart(((1, 1, 0x80, 30),)) in open_caps
    assert GracefulRestart(0x4, 30, ((1, 1, 0x80),)) in open_caps


def test_long_lived_enabled_without_llgr_families_is_llgr_helper_only() -> None:
    """long-lived-enabled and no afi-safi with LLGR: the capability with no tuples (as
    GoBGP): we keep the peer's routes long-lived (both sides advertised it, RFC 9494 §4.2),
    it keeps none of ours."""
    text = HEAD + gr_section(long_lived_enabled=True) + _family("ipv4-unicast", True)
    assert llgr_cap(text) == LongLivedGracefulRestart(())
    s = settings(text)
    peer = Open(65002, 90, "192.0.2.2", (CapabilitiesParam((
        Multiprotocol(1, 1), GracefulRestart(0, 120, ((1, 1, 0),)), FourOctetAs(65002),
        LongLivedGracefulRestart(((1, 1, 0, 3600),)))),))
    n = negotiate(s.session, build_open(s.session), peer)
    assert n.local_llgr is not None and n.local_llgr.families == frozenset()
    assert n.llgr_families == {IPV4_UNICAST}


def test_llgr_families_follow_the_afi_safis() -> None:
    text = (HEAD + gr_section(long_lived_enabled=True) + _family("ipv4-unicast", True, 3600)
            + _family("ipv6-unicast", False, 600))
    assert llgr_cap(text) == LongLivedGracefulRestart(((1, 1, 0x80, 3600), (2, 1, 0x80, 600)))
    assert settings(text).session.llgr == ((IPV4_UNICAST, 3600), (IPV6_UNICAST, 600))


def test_no_llgr_without_graceful_restart() -> None:
    """RFC 9494 §4.1: LLGR only next to GR; GoBGP sends neither without GR enabled."""
    text = (HEAD + "[neighbors.graceful-restart.config]\nlong-lived-enabled = true\n"
            + _family("ipv4-unicast", True, 3600))
    assert gr_cap(text) is None and llgr_cap(text) is None


def _first(path: Path) -> tuple[Neighbor, Global]:
    cfg = load_file(path)
    return cfg.neighbors[0], cfg.global_


# --- keepalive-interval: the interval the session uses ----------------------------------------

def _negotiated_keepalive(text: str, their_hold: int) -> int:
    s = settings(text)
    caps = (Multiprotocol(1, 1), FourOctetAs(65002))
    peer = Open(65002, their_hold, "192.0.2.2", (CapabilitiesParam(caps),))
    return negotiate(s.session, build_open(s.session), peer).keepalive_time


def test_keepalive_interval_is_used_bounded_by_the_negotiated_hold_time() -> None:
    """issue 11 finding 5: the keepalive was always hold/3. Now min(keepalive-interval,
    negotiated hold time / 3) (RFC 4271 §10), none with hold time 0 (§4.4)."""
    text = HEAD + "[neighbors.timers.config]\nhold-time = 90\nkeepalive-interval = 10\n"
    assert settings(text).session.keepalive_time == 10
    assert _negotiated_keepalive(text, 90) == 10
    assert _negotiated_keepalive(text, 15) == 5  # the peer's 15 s hold time: a third of it
    assert _negotiated_keepalive(text, 0) == 0
    assert _negotiated_keepalive(HEAD, 90) == 30  # GoBGP's default: hold-time / 3
    assert _negotiated_keepalive(HEAD + "[neighbors.timers.config]\nhold-time = 9\n", 90) == 3


def test_keepalive_interval_change_is_applied_without_a_reset() -> None:
    """A local timer: the reload changes nothing on the wire; the next session uses it."""
    old = settings(HEAD)
    new = settings(HEAD + "[neighbors.timers.config]\nkeepalive-interval = 10\n")
    assert plan(old, new) == PeerPlan(("keepalive-interval",), IN_PLACE)
