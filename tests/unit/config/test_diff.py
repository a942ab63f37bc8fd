"""SIGHUP semantics: added peers start, removed stop, changed reset, untouched stay up."""

from __future__ import annotations

from gracebgp.config import Config, diff, parse
from gracebgp.config.diff import changed_fields

from .conftest import MINIMAL


def _config(*neighbors: str, extra: str = "", head: str = MINIMAL) -> Config:
    text = head
    for spec in neighbors:
        address, _, rest = spec.partition(";")
        text += (f'[[neighbors]]\n[neighbors.config]\nneighbor-address = "{address}"\n'
                 f"peer-as = 65002\n{rest}\n")
    return parse(text + extra)


def test_identical_configs_have_an_empty_diff() -> None:
    a = _config("192.0.2.2", "192.0.2.3")
    d = diff(a, _config("192.0.2.2", "192.0.2.3"))
    assert d.empty and not d.global_changed and d.needs_restart == ()


def test_added_removed_changed_untouched() -> None:
    old = _config("192.0.2.2", "192.0.2.3", "192.0.2.4;[neighbors.timers.config]\nhold-time = 30")
    new = _config("192.0.2.2", "192.0.2.4;[neighbors.timers.config]\nhold-time = 60", "2001:db8::5")
    d = diff(old, new)
    assert [n.neighbor_address for n in d.added] == ["2001:db8::5"]
    assert [n.neighbor_address for n in d.removed] == ["192.0.2.3"]
    assert [(o.hold_time, n.hold_time) for o, n in d.changed] == [(30, 60)]
    assert changed_fields(*d.changed[0]) == ("hold_time", "keepalive_interval", "graceful_restart")
    assert d.cosmetic == () and not d.global_changed and d.needs_restart == ()
    untouched = {n.neighbor_address for n in new.neighbors} - {n.neighbor_address for n in d.added} - {
        o.neighbor_address for o, _ in d.changed}
    assert untouched == {"192.0.2.2"}


def test_address_spelling_does_not_make_a_change() -> None:
    assert diff(_config("2001:DB8::5"), _config("2001:db8:0::5")).empty


def test_afi_safi_and_gr_changes_reset_the_session() -> None:
    gr = '[neighbors.graceful-restart.config]\nenabled = true'
    d = diff(_config("192.0.2.2"), _config(f"192.0.2.2;{gr}"))
    assert len(d.changed) == 1 and changed_fields(*d.changed[0]) == ("graceful_restart",)
    af = '[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "ipv6-unicast"'
    d = diff(_config("192.0.2.2"), _config(f"192.0.2.2;{af}"))
    assert len(d.changed) == 1 and changed_fields(*d.changed[0]) == ("afi_safis",)


def test_description_only_is_cosmetic_admin_down_is_not() -> None:
    d = diff(_config("192.0.2.2"), _config('192.0.2.2;description = "new"'))
    assert d.changed == () and len(d.cosmetic) == 1 and not d.empty
    d = diff(_config("192.0.2.2"), _config("192.0.2.2;admin-down = true"))
    assert len(d.changed) == 1 and d.cosmetic == ()


def test_global_changes_need_a_restart() -> None:
    other = MINIMAL.replace("65001", "65009").replace("192.0.2.1", "192.0.2.9") + "port = 1790\n"
    d = diff(_config("192.0.2.2"), _config("192.0.2.2", head=other))
    assert d.global_changed
    assert d.needs_restart == (
        "global.config.as changed from 65001 to 65009",
        "global.config.router-id changed from 192.0.2.1 to 192.0.2.9",
        "global.config.port changed from 179 to 1790",
    )
    assert d.changed == () and d.added == () and d.removed == ()


def test_listen_and_api_changes_need_a_restart_settings_do_not() -> None:
    listen = MINIMAL + 'local-address-list = ["192.0.2.1"]\n'
    extra = '[gracebgp]\napi-socket = "/tmp/x.sock"\nsigterm = "withdraw"\n'
    d = diff(_config(), _config(head=listen, extra=extra))
    assert d.needs_restart == (
        "global.config.local-address-list changed from [0.0.0.0, ::] to [192.0.2.1]",
        "gracebgp.api-socket changed from /run/gracebgp/gracebgpd.sock to /tmp/x.sock",
    )
    assert d.settings_changed == ("gracebgp.sigterm",)
    d = diff(_config(), _config(extra="[gracebgp]\nforwarding-state-preserved = false\n"))
    assert d.needs_restart == () and d.settings_changed == ("gracebgp.forwarding-state-preserved",)


def _routes(*specs: str) -> Config:
    return _config(extra="".join(f'[[gracebgp.routes]]\nprefix = "{p}"\n{rest}\n'
                                 for p, _, rest in (s.partition(";") for s in specs)))


def test_routes_added_removed_and_replaced() -> None:
    old = _routes("192.0.2.0/25", "192.0.2.128/25;med = 5", "2001:db8::/48")
    new = _routes("192.0.2.0/25", "192.0.2.128/25;med = 7", "198.51.100.0/24")
    d = diff(old, new)
    assert [(r.prefix, r.med) for r in d.routes_added] == [("192.0.2.128/25", 7), ("198.51.100.0/24", None)]
    assert [r.prefix for r in d.routes_removed] == ["2001:db8::/48"]
    assert d.added == d.removed == () and d.changed == () and not d.global_changed


def test_settings_of_the_next_connection_are_cosmetic_session_contents_are_not() -> None:
    """Issue 10 finding 8: only what the OPEN or the connection carries resets a session."""
    for change in ("[neighbors.timers.config]\nconnect-retry = 5",
                   "[neighbors.timers.config]\nidle-hold-time-after-reset = 5",
                   "[neighbors.transport.config]\npassive-mode = true",
                   '[neighbors.graceful-restart.config]\nenabled = true\ndeferral-time = 30'):
        base = "[neighbors.graceful-restart.config]\nenabled = true" if "graceful" in change else ""
        d = diff(_config(f"192.0.2.2;{base}"), _config(f"192.0.2.2;{change}"))
        assert len(d.cosmetic) == 1 and d.changed == (), change
    for change in ("[neighbors.graceful-restart.config]\nenabled = true\nrestart-time = 30",
                   "[neighbors.transport.config]\nremote-port = 1790",
                   "local-as = 65009"):
        base = "[neighbors.graceful-restart.config]\nenabled = true" if "graceful" in change else ""
        d = diff(_config(f"192.0.2.2;{base}"), _config(f"192.0.2.2;{change}"))
        assert len(d.changed) == 1 and d.cosmetic == (), change
