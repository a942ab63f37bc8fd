"""A reload that changes only routing policy resets and restarts nothing (issue 16 item 3):
config.diff reports it in ``policy_changed`` and ``policy_peers``."""

from __future__ import annotations

from gracebgp.config import Config, diff, parse
from gracebgp.config.diff import applies_in_place

HEAD = """
[global.config]
as = 65001
router-id = "192.0.2.1"
{global_policy}
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
{neighbor_policy}
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.3"
peer-as = 65003
[gracebgp]
rfc8212 = {rfc8212}
[[defined-sets.prefix-sets]]
prefix-set-name = "pods"
[[defined-sets.prefix-sets.prefix-list]]
ip-prefix = "{prefix}"
masklength-range = "24..32"
[[policy-definitions]]
name = "p1"
[[policy-definitions.statements]]
[policy-definitions.statements.conditions.match-prefix-set]
prefix-set = "pods"
[policy-definitions.statements.actions]
route-disposition = "{disposition}"
[[policy-definitions]]
name = "p2"
"""
DEFAULTS = {"global_policy": "", "neighbor_policy": "", "rfc8212": "false", "prefix": "10.0.0.0/16",
            "disposition": "accept-route"}


def config(**changes: str) -> Config:
    return parse(HEAD.format(**{**DEFAULTS, **changes}))


def test_the_same_policy_is_no_change() -> None:
    d = diff(config(), config())
    assert d.empty and not d.policy_changed and d.policy_peers == ()


def test_sets_policies_global_policy_and_rfc8212_change_the_book_only() -> None:
    base = config()
    for change in ({"prefix": "10.1.0.0/16"}, {"disposition": "reject-route"}, {"rfc8212": "true"},
                   {"global_policy": '[global.apply-policy.config]\nexport-policy-list = ["p1"]'}):
        d = diff(base, config(**change))
        assert d.policy_changed, change
        assert not d.empty and d.policy_peers == ()
        assert (d.added, d.removed, d.changed, d.cosmetic) == ((), (), (), ()), change
        assert d.needs_restart == () and not d.global_changed and d.settings_changed == (), change


def test_a_neighbor_apply_policy_is_applied_in_place() -> None:
    own = ('[neighbors.apply-policy.config]\nimport-policy-list = ["p1"]\n'
           'default-import-policy = "reject-route"')
    old, new = config(), config(neighbor_policy=own)
    d = diff(old, new)
    assert d.policy_peers == ("192.0.2.2",) and not d.policy_changed and not d.empty
    assert d.changed == () and [n.neighbor_address for _, n in d.cosmetic] == ["192.0.2.2"]
    assert applies_in_place(old.neighbors[0], new.neighbors[0])
    # and back, and to another list
    assert diff(new, old).policy_peers == ("192.0.2.2",)
    other = own.replace('["p1"]', '["p2", "p1"]')
    assert diff(new, config(neighbor_policy=other)).policy_peers == ("192.0.2.2",)


def test_a_peer_group_apply_policy_change_reaches_its_members() -> None:
    text = HEAD.format(**DEFAULTS) + """
[[peer-groups]]
[peer-groups.config]
peer-group-name = "g"
[peer-groups.apply-policy.config]
export-policy-list = ["{name}"]
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.4"
peer-group = "g"
peer-as = 65004
"""
    d = diff(parse(text.replace("{name}", "p1")), parse(text.replace("{name}", "p2")))
    assert d.policy_peers == ("192.0.2.4",) and d.changed == () and not d.policy_changed
