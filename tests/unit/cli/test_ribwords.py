"""The GoBGP-style word parser of ``gracebgp rib add``."""

from __future__ import annotations

import pytest

from gracebgp.api.schema import PathSpec
from gracebgp.cli.ribwords import WordError, is_keyword, parse_path_file, parse_path_words, prefixes_of_file


def test_prefix_alone() -> None:
    assert parse_path_words(["10.0.0.0/24"]) == PathSpec(prefix="10.0.0.0/24")


def test_every_keyword() -> None:
    spec = parse_path_words(["10.0.0.0/24", "nexthop", "192.0.2.1", "origin", "egp", "community",
                             "65000:1", "65000:2", "large-community", "65000:1:2", "med", "10",
                             "local-pref", "200"])
    assert spec == PathSpec(prefix="10.0.0.0/24", next_hop="192.0.2.1", origin="egp",
                            communities=["65000:1", "65000:2"], large_communities=["65000:1:2"],
                            med=10, local_pref=200)


def test_commas_aliases_and_case() -> None:
    spec = parse_path_words(["2001:db8::/48", "next-hop", "2001:db8::1", "COMMUNITY", "1:1,2:2",
                             "localpref", "5"])
    assert spec.next_hop == "2001:db8::1"
    assert spec.communities == ["1:1", "2:2"]
    assert spec.local_pref == 5


@pytest.mark.parametrize(("words", "message"), [
    ([], "missing the prefix"),
    (["community", "1:1"], "expected a prefix first"),
    (["10.0.0.0/24", "colour", "blue"], "unknown word 'colour' after 10.0.0.0/24"),
    (["10.0.0.0/24", "nexthop"], "nexthop needs a value"),
    (["10.0.0.0/24", "community", "med", "5"], "community needs a value (one or more)"),
    (["10.0.0.0/24", "med", "ten"], "med needs a number, not 'ten'"),
    (["10.0.0.0/24", "med", "4294967296"], "out of range"),
    (["10.0.0.0/24", "origin", "bgp"], "origin must be one of igp, egp, incomplete"),
    (["10.0.0.0/24", "med", "1", "med", "2"], "med given twice"),
    (["10.0.0.0/24", "nexthop", "192.0.2.1", "192.0.2.2"], "unknown word '192.0.2.2'"),
    (["10.0.0.0/24", "nexthop", "192.0.2.1,192.0.2.2"], "nexthop takes one value"),
])
def test_errors_are_one_clear_line(words: list[str], message: str) -> None:
    with pytest.raises(WordError) as caught:
        parse_path_words(words)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_file_lines_comments_and_positions() -> None:
    lines = ["# routes", "", "10.0.0.0/24 med 5", "10.0.1.0/24  # comment", "10.0.2.0/24 community 1:1"]
    specs = parse_path_file(lines, "routes.txt")
    assert [s.prefix for s in specs] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    assert specs[0].med == 5
    assert prefixes_of_file(lines) == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    with pytest.raises(WordError, match=r"^routes.txt:2: unknown word 'bogus'"):
        parse_path_file(["10.0.0.0/24", "10.0.1.0/24 bogus"], "routes.txt")


def test_is_keyword() -> None:
    assert is_keyword("nexthop") and is_keyword("Local-Pref")
    assert not is_keyword("10.0.0.0/24")
