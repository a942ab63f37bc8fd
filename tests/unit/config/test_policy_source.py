"""The policy as data (config.policy_source): the API's edits and the recordings' JSON."""

from __future__ import annotations

import pytest

from gracebgp.config.policy_source import PolicySource, apply_policy_json, parse_apply_policy
from gracebgp.policy import Direction, Disposition

PODS = {"name": "pods", "prefix_list": [{"ip_prefix": "10.0.0.0/8", "masklength_range": "24..32"}]}
LP = {"name": "lp", "statements": [{"name": "a", "match_prefix_set": {"name": "pods"}, "set_local_pref": 200,
                                     "route_disposition": "accept-route"}]}


def source() -> PolicySource:
    return PolicySource().with_set("prefix", PODS).with_policy(LP).with_global(
        parse_apply_policy({"import_policies": ["lp"], "default_import": "reject-route"}))


def test_edits_build_a_book_that_carries_its_source_and_round_trips_as_json() -> None:
    src = source()
    book = src.build()
    assert book.source is src and list(book.policies) == ["lp"]
    assignment = book.assignment(None, Direction.IMPORT, external=True)
    assert [p.name for p in assignment.policies] == ["lp"] and assignment.default is Disposition.REJECT
    assert PolicySource.from_json(src.to_json()) == src
    assert apply_policy_json(src.global_policy) == {"import_policies": ["lp"], "export_policies": [],
                                                    "default_import": "reject-route", "default_export": None}


def test_replacing_keeps_the_order_and_deleting_what_is_used_is_refused_at_build() -> None:
    src = source().with_set("prefix", {"name": "other", "prefix_list": []})
    src = src.with_set("prefix", {**PODS, "prefix_list": [{"ip_prefix": "10.1.0.0/16"}]})
    assert [s.name for s in src.defined_sets.prefix_sets] == ["pods", "other"]
    assert src.defined_sets.prefix_sets[0].prefix_list[0].ip_prefix == "10.1.0.0/16"
    with pytest.raises(ValueError, match="prefix-set 'pods' is not defined"):
        src.without_set("prefix", "pods").build()
    with pytest.raises(ValueError, match="policy 'lp' is not defined"):
        src.without_policy("lp").build()
    src.without_set("prefix", "other").build()  # unused: fine


def test_bad_input_says_what_and_where() -> None:
    with pytest.raises(ValueError, match="unknown set kind 'colour'"):
        PolicySource().with_set("colour", PODS)
    with pytest.raises(ValueError, match="prefix_list"):
        PolicySource().with_set("prefix", {"name": "x", "prefix_list": "10.0.0.0/8"})
    with pytest.raises(ValueError, match="default_import"):
        parse_apply_policy({"default_import": "maybe"})
    with pytest.raises(KeyError):
        PolicySource().without_policy("nope")
    with pytest.raises(ValueError, match="masklength"):
        PolicySource().with_set("prefix", {"name": "x", "prefix_list": [
            {"ip_prefix": "10.0.0.0/8", "masklength_range": "30..20"}]}).build()
