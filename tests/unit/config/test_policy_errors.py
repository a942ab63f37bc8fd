"""Routing-policy configuration errors (issue 16 item 2): each names the file, the line and
the key to fix, and what is wrong; GoBGP policy keys gracebgp does not implement are
refused as such."""

from __future__ import annotations

import pytest

from .conftest import MINIMAL, only, problems

#: MINIMAL (3 lines) + a neighbor (lines 4-7) + sets (from line 8).
BASE = MINIMAL + """[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
[[defined-sets.prefix-sets]]
prefix-set-name = "ps"
[[defined-sets.prefix-sets.prefix-list]]
ip-prefix = "10.0.0.0/8"
masklength-range = "8..24"
[[defined-sets.neighbor-sets]]
neighbor-set-name = "ns"
neighbor-info-list = ["192.0.2.2"]
[[defined-sets.bgp-defined-sets.community-sets]]
community-set-name = "cs"
community-list = ["65000:1"]
[[defined-sets.bgp-defined-sets.as-path-sets]]
as-path-set-name = "as"
as-path-list = ["^65002_"]
[[policy-definitions]]
name = "p"
[[policy-definitions.statements]]
name = "s"
"""
#: The first line after BASE.
NEXT = BASE.count("\n") + 1
STATEMENT = "policy-definitions[0].statements[0]"


def at(text: str) -> tuple[int, str, str]:
    """(line relative to the end of BASE, key, message) of the one problem of BASE + text."""
    line, key, message = only(BASE + text)
    return line - NEXT, key, message


def test_the_base_is_valid() -> None:
    from gracebgp.config import parse
    assert parse(BASE).policy_book.policies["p"].statements[0].name == "s"


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    ('[policy-definitions.statements.conditions.match-prefix-set]\nprefix-set = "nope"\n', 1,
     f"{STATEMENT}.conditions.match-prefix-set.prefix-set",
     "prefix-set 'nope' is not defined (defined prefix-sets: 'ps')"),
    ('[policy-definitions.statements.conditions.match-neighbor-set]\nneighbor-set = "nope"\n', 1,
     f"{STATEMENT}.conditions.match-neighbor-set.neighbor-set",
     "neighbor-set 'nope' is not defined (defined neighbor-sets: 'ns')"),
    ('[policy-definitions.statements.conditions.bgp-conditions.match-large-community-set]\n'
     'large-community-set = "nope"\n', 1,
     f"{STATEMENT}.conditions.bgp-conditions.match-large-community-set.large-community-set",
     "large-community-set 'nope' is not defined (defined large-community-sets: none)"),
    ('[policy-definitions.statements.conditions.match-prefix-set]\nprefix-set = "ps"\n'
     'match-set-options = "all"\n', 2, f"{STATEMENT}.conditions.match-prefix-set.match-set-options",
     "match-prefix-set: match-set-options all is not allowed (only any or invert)"),
    ('[policy-definitions.statements.conditions.match-neighbor-set]\nneighbor-set = "ns"\n'
     'match-set-options = "all"\n', 2, f"{STATEMENT}.conditions.match-neighbor-set.match-set-options",
     "match-neighbor-set: match-set-options all is not allowed (only any or invert)"),
    ('[policy-definitions.statements.conditions.bgp-conditions.match-community-set]\ncommunity-set = "cs"\n'
     'match-set-options = "some"\n', 2,
     f"{STATEMENT}.conditions.bgp-conditions.match-community-set.match-set-options",
     "must be 'any', 'all' or 'invert', got \"some\""),
    ('[policy-definitions.statements.actions]\nroute-disposition = "accept"\n', 1,
     f"{STATEMENT}.actions.route-disposition",
     "must be 'none', 'accept-route' or 'reject-route', got \"accept\""),
    ('[policy-definitions.statements.actions.bgp-actions]\nset-med = "++5"\n', 1,
     f"{STATEMENT}.actions.bgp-actions.set-med", "set-med '++5' must be a number, +N or -N"),
    ('[policy-definitions.statements.actions.bgp-actions]\nset-next-hop = "me"\n', 1,
     f"{STATEMENT}.actions.bgp-actions.set-next-hop",
     "set-next-hop 'me' must be an address, self or unchanged"),
    ('[policy-definitions.statements.actions.bgp-actions.set-as-path-prepend]\n'
     'as = "first-as"\nrepeat-n = 1\n', 1, f"{STATEMENT}.actions.bgp-actions.set-as-path-prepend.as",
     "set-as-path-prepend as 'first-as' must be an AS number or last-as"),
    ('[policy-definitions.statements.actions.bgp-actions.set-as-path-prepend]\nas = "last-as"\n', 0,
     f"{STATEMENT}.actions.bgp-actions.set-as-path-prepend.repeat-n", "required key is missing"),
    ('[policy-definitions.statements.actions.bgp-actions.set-community]\noptions = "append"\n', 1,
     f"{STATEMENT}.actions.bgp-actions.set-community.options",
     "must be 'add', 'remove' or 'replace', got \"append\""),
    ('[policy-definitions.statements.actions.bgp-actions.set-large-community]\noptions = "add"\n'
     '[policy-definitions.statements.actions.bgp-actions.set-large-community.set-large-community-method]\n'
     'communities-list = ["1:2"]\n', 3,
     f"{STATEMENT}.actions.bgp-actions.set-large-community.set-large-community-method.communities-list",
     None),
    ('[policy-definitions.statements.conditions.bgp-conditions.as-path-length]\n'
     'operator = "gt"\nvalue = 2\n', 1, f"{STATEMENT}.conditions.bgp-conditions.as-path-length.operator",
     "must be 'eq', 'ge' or 'le', got \"gt\""),
    ('[policy-definitions.statements.conditions.bgp-conditions]\nroute-type = "ibgp"\n', 1,
     f"{STATEMENT}.conditions.bgp-conditions.route-type",
     "must be 'none', 'internal', 'external' or 'local', got \"ibgp\""),
    ('[policy-definitions.statements.conditions.bgp-conditions]\nafi-safi-in-list = ["l2vpn-evpn"]\n', 1,
     f"{STATEMENT}.conditions.bgp-conditions.afi-safi-in-list[0]", None),
    ('[policy-definitions.statements.conditions.bgp-conditions]\nnext-hop-in-list = ["10.0.0.1/8"]\n', 1,
     f"{STATEMENT}.conditions.bgp-conditions.next-hop-in-list[0]", None),
])
def test_a_bad_statement_names_its_key(text: str, line: int, key: str, message: str | None) -> None:
    found = at(text)
    assert found[:2] == (line, key), found
    if message is not None:
        assert found[2] == message


SETS_AT = MINIMAL.count("\n") + 5  # the line of prefix-set-name in BASE


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ('masklength-range = "8..24"', 'masklength-range = "8-24"',
     "defined-sets.prefix-sets[0].prefix-list[0].masklength-range",
     'masklength-range \'8-24\' must be MIN..MAX, e.g. "24..32"'),
    ('masklength-range = "8..24"', 'masklength-range = "8..33"',
     "defined-sets.prefix-sets[0].prefix-list[0].masklength-range", None),
    ('ip-prefix = "10.0.0.0/8"', 'ip-prefix = "10.0.0.1/8"',
     "defined-sets.prefix-sets[0].prefix-list[0].ip-prefix", None),
    ('neighbor-info-list = ["192.0.2.2"]', 'neighbor-info-list = ["192.0.2.300"]',
     "defined-sets.neighbor-sets[0].neighbor-info-list[0]", None),
    ('neighbor-info-list = ["192.0.2.2"]', "neighbor-info-list = []",
     "defined-sets.neighbor-sets[0].neighbor-info-list", None),
    ('community-list = ["65000:1"]', 'community-list = ["65000:(1"]',
     "defined-sets.bgp-defined-sets.community-sets[0].community-list[0]", None),
    ('as-path-list = ["^65002_"]', 'as-path-list = ["^65002_["]',
     "defined-sets.bgp-defined-sets.as-path-sets[0].as-path-list[0]", None),
    ('community-set-name = "cs"', 'community-set-name = ""',
     "defined-sets.bgp-defined-sets.community-sets[0].community-set-name", None),
])
def test_a_bad_set_names_its_key(old: str, new: str, key: str, message: str | None) -> None:
    assert BASE.count(old) == 1
    line, found_key, found = only(BASE.replace(old, new))
    assert found_key == key
    assert BASE.splitlines()[line - 1] == old  # the line of the key
    if message is not None:
        assert found == message
    if key.endswith("list[0]") or "range" in key or "ip-prefix" in key:
        assert "'" in found or '"' in found  # the offending value is quoted


def test_ext_and_large_entries_are_checked() -> None:
    text = BASE + """[[defined-sets.bgp-defined-sets.ext-community-sets]]
ext-community-set-name = "es"
ext-community-list = ["encap:vxlan"]
[[defined-sets.bgp-defined-sets.large-community-sets]]
large-community-set-name = "ls"
large-community-list = ["^1:2:(3$"]
"""
    found = [(p.line - NEXT, p.key, p.message) for p in problems(text)]
    assert [f[:2] for f in found] == [
        (2, "defined-sets.bgp-defined-sets.ext-community-sets[0].ext-community-list[0]"),
        (5, "defined-sets.bgp-defined-sets.large-community-sets[0].large-community-list[0]")]
    assert "other kinds are not supported" in found[0][2] and "regular expression" in found[1][2]


def test_names_defined_twice() -> None:
    text = BASE + """[[policy-definitions.statements]]
name = "s"
[[policy-definitions]]
name = "p"
[[defined-sets.prefix-sets]]
prefix-set-name = "ps"
[[defined-sets.bgp-defined-sets.as-path-sets]]
as-path-set-name = "cs"
"""
    found = [(p.line - NEXT, p.key, p.message) for p in problems(text)]
    assert found == [
        (1, "policy-definitions[0].statements[1].name",
         "policy 'p': statement 's' is already defined (entry 0)"),
        (3, "policy-definitions[1].name", "policy 'p' is already defined (entry 0)"),
        (5, "defined-sets.prefix-sets[1].prefix-set-name", "prefix-set 'ps' is already defined (entry 0)"),
    ]  # a name may be used once per kind: as-path-set "cs" beside community-set "cs" is fine


def test_unnamed_statements_get_gobgps_names_and_can_collide() -> None:
    line, key, message = at('[[policy-definitions.statements]]\n[[policy-definitions.statements]]\n'
                            'name = "p_stmt1"\n')
    assert (line, key) == (2, "policy-definitions[0].statements[2].name")
    assert message == "policy 'p': statement 'p_stmt1' is already defined (entry 1)"


@pytest.mark.parametrize(("text", "key"), [
    ('[global.apply-policy.config]\nimport-policy-list = ["p", "q"]\n',
     "global.apply-policy.config.import-policy-list[1]"),
    ('[[neighbors]]\n[neighbors.config]\nneighbor-address = "192.0.2.3"\npeer-as = 65003\n'
     '[neighbors.apply-policy.config]\nexport-policy-list = ["q"]\n',
     "neighbors[1].apply-policy.config.export-policy-list[0]"),
    ('[[peer-groups]]\n[peer-groups.config]\npeer-group-name = "g"\n[peer-groups.apply-policy.config]\n'
     'import-policy-list = ["q"]\n[[neighbors]]\n[neighbors.config]\nneighbor-address = "192.0.2.3"\n'
     'peer-group = "g"\npeer-as = 65003\n',
     "peer-groups[0].apply-policy.config.import-policy-list[0]"),
])
def test_an_undefined_policy_is_named_where_it_is_applied(text: str, key: str) -> None:
    line, found_key, message = only(BASE + text)
    assert found_key == key
    assert message == "policy 'q' is not defined in [[policy-definitions]] (defined: 'p')"
    assert '"q"' in (BASE + text).splitlines()[line - 1]


@pytest.mark.parametrize(("text", "message"), [
    ('[global.apply-policy.config]\ndefault-import-policy = "accept"\n',
     "must be 'accept-route' or 'reject-route', got \"accept\""),
    ('[global.apply-policy.config]\nimport-policy-list = "p"\n', 'expected an array, got "p"'),
])
def test_a_bad_apply_policy_value(text: str, message: str) -> None:
    assert at(text)[0] == 1 and at(text)[2] == message


@pytest.mark.parametrize(("text", "what"), [
    ("[policy-definitions.statements.conditions]\ncall-policy = \"p\"\n", "call-policy"),
    ("[policy-definitions.statements.conditions.match-tag-set]\ntag-set = \"t\"\n", "tag sets"),
    ("[policy-definitions.statements.conditions.bgp-conditions]\nmed-eq = 5\n", "med-eq"),
    ("[policy-definitions.statements.conditions.bgp-conditions]\norigin-eq = \"igp\"\n", "origin-eq"),
    ("[policy-definitions.statements.conditions.bgp-conditions]\nlocal-pref-eq = 5\n", "local-pref-eq"),
    ("[policy-definitions.statements.conditions.bgp-conditions]\nrpki-validation-result = \"valid\"\n",
     "RPKI"),
    ("[policy-definitions.statements.actions.bgp-actions]\nset-route-origin = \"igp\"\n", "set-route-origin"),
    ("[policy-definitions.statements.actions.bgp-actions.set-community.set-community-method]\n"
     "community-set-ref = \"cs\"\n", "community-set-ref"),
    ("[[defined-sets.tag-sets]]\ntag-set-name = \"t\"\n", "tag sets"),
    ("[global.apply-policy.config]\ndefault-in-policy = \"accept-route\"\n", "in-policy"),
])
def test_gobgp_policy_keys_not_implemented_are_refused(text: str, what: str) -> None:
    line, key, message = at(text)
    written = (BASE + text).splitlines()[line + NEXT - 1].split(" =")[0].strip("[]").split(".")[-1]
    assert line >= 0 and key.endswith(written), (line, key)
    assert what in message and message.endswith("which gracebgp does not support yet"), message


@pytest.mark.parametrize(("text", "hint"), [
    ('[policy-definitions.statements.conditions.bgp-conditions]\nafi-safi-in = ["ipv4-unicast"]\n',
     "afi-safi-in-list"),
    ('[policy-definitions.statements.conditions.bgp-conditions.match-ext-community-set]\n'
     'community-set = "x"\n', "the key is ext-community-set"),
    ('[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "ipv4-unicast"\n'
     '[neighbors.afi-safis.apply-policy.config]\nimport-policy-list = ["p"]\n',
     "apply-policy per afi-safi is not supported"),
])
def test_recognisable_mistakes_get_a_hint(text: str, hint: str) -> None:
    if text.startswith("[[neighbors.afi"):  # belongs to the neighbor: before the sets
        head, _, rest = BASE.partition("[[defined-sets")
        line, key, message = only(head + text + "[[defined-sets" + rest)
    else:
        line, key, message = at(text)
    assert key.endswith(("afi-safi-in", "community-set", "apply-policy")) and line > 0
    assert hint in message, message


def test_an_undefined_policy_in_a_group_nobody_uses_or_a_dynamic_range() -> None:
    group = ('[[peer-groups]]\n[peer-groups.config]\npeer-group-name = "g"\npeer-as = 65009\n'
             '[peer-groups.apply-policy.config]\nexport-policy-list = ["p", "q"]\n')
    line, key, message = at(group)
    assert (line, key) == (5, "peer-groups[0].apply-policy.config.export-policy-list[1]")
    assert message == "policy 'q' is not defined in [[policy-definitions]] (defined: 'p')"
    line, key, message = at(group + '[[dynamic-neighbors]]\n[dynamic-neighbors.config]\n'
                                    'prefix = "198.51.100.0/24"\npeer-group = "g"\n')
    assert (line, key) == (9, "dynamic-neighbors[0].config.peer-group")
    assert message == "peer group 'g': policy 'q' is not defined in [[policy-definitions]] (defined: 'p')"
