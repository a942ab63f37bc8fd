"""The routing-policy variant of the routing benchmark (``bench/routing.py --policy``,
issue 16 item 6), written for each daemon in its own language with the same meaning:

* import (every neighbor, i.e. the injector's routes): a prefix set of 10,000 entries
  (11.0.0.0/16 upwards, each "/24s inside it", which covers every /24 the injector sends)
  and a community condition (a community whose ASN is 1..9999, about 15% of the routes
  carry one: ``bench/bgpio.py`` draws them from 1..64511); both hold: LOCAL_PREF 200;
  every route is accepted either way;
* export (every neighbor, i.e. to the collector): add community 65000:100.

gracebgpd and gobgpd read the same GoBGP-schema TOML; BIRD gets a prefix set, a community
pair range and two filters; FRR a prefix-list, an expanded community-list and route-maps.
"""

from __future__ import annotations

ENTRIES = 10_000
LOCAL_PREF = 200
EXPORT_COMMUNITY = (65000, 100)


def _nets() -> list[str]:
    """The 10,000 /16s from 11.0.0.0/16 upwards."""
    return [f"{11 + i // 256}.{i % 256}.0.0/16" for i in range(ENTRIES)]


def gobgp_toml() -> str:
    """[defined-sets], [[policy-definitions]] and [global.apply-policy] (GoBGP's schema)."""
    out = ["[[defined-sets.prefix-sets]]", '  prefix-set-name = "injected"']
    for net in _nets():
        out += ["  [[defined-sets.prefix-sets.prefix-list]]", f'    ip-prefix = "{net}"',
                '    masklength-range = "24..24"']
    asn, value = EXPORT_COMMUNITY
    out += ["[defined-sets.bgp-defined-sets]",
            "  [[defined-sets.bgp-defined-sets.community-sets]]", '    community-set-name = "low-asn"',
            '    community-list = ["^[1-9][0-9]{0,3}:"]',
            "[[policy-definitions]]", '  name = "bench-import"',
            "  [[policy-definitions.statements]]", '    name = "prefer"',
            "    [policy-definitions.statements.conditions.match-prefix-set]",
            '      prefix-set = "injected"',
            "    [policy-definitions.statements.conditions.bgp-conditions.match-community-set]",
            '      community-set = "low-asn"',
            "    [policy-definitions.statements.actions]", '      route-disposition = "accept-route"',
            "    [policy-definitions.statements.actions.bgp-actions]", f"      set-local-pref = {LOCAL_PREF}",
            "[[policy-definitions]]", '  name = "bench-export"',
            "  [[policy-definitions.statements]]", '    name = "tag"',
            "    [policy-definitions.statements.actions]", '      route-disposition = "accept-route"',
            "    [policy-definitions.statements.actions.bgp-actions.set-community]", '      options = "add"',
            "      [policy-definitions.statements.actions.bgp-actions.set-community.set-community-method]",
            f'        communities-list = ["{asn}:{value}"]',
            "[global.apply-policy.config]", '  import-policy-list = ["bench-import"]',
            '  default-import-policy = "accept-route"', '  export-policy-list = ["bench-export"]',
            '  default-export-policy = "accept-route"', ""]
    return "\n".join(out)


def bird_defs() -> str:
    """BIRD: the prefix set and the two filters (``filter bench_in`` / ``bench_out``)."""
    nets = ",\n  ".join(f"{n}{{24,24}}" for n in _nets())
    asn, value = EXPORT_COMMUNITY
    return (f"define INJECTED = [\n  {nets}\n];\n"
            "filter bench_in {\n"
            f"  if net ~ INJECTED && bgp_community ~ [(1..9999, *)] then bgp_local_pref = {LOCAL_PREF};\n"
            "  accept;\n}\n"
            f"filter bench_out {{\n  bgp_community.add(({asn}, {value}));\n  accept;\n}}\n")


def frr_lines() -> list[str]:
    """FRR: prefix-list, community-list and route-maps (applied per neighbor by the caller
    as ``route-map BENCH-IN in`` / ``route-map BENCH-OUT out``)."""
    out = [f"ip prefix-list INJECTED seq {5 * (i + 1)} permit {n} ge 24 le 24" for i, n in enumerate(_nets())]
    asn, value = EXPORT_COMMUNITY
    out += ["bgp community-list expanded LOW-ASN seq 5 permit (^|_)[1-9][0-9]?[0-9]?[0-9]?:",
            "route-map BENCH-IN permit 10", " match ip address prefix-list INJECTED",
            " match community LOW-ASN", f" set local-preference {LOCAL_PREF}",
            "route-map BENCH-IN permit 20",
            "route-map BENCH-OUT permit 10", f" set community {asn}:{value} additive", "!"]
    return out
