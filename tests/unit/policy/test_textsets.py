"""GoBGP's regular-expression sets: anchoring rules and the as-path `_` syntax."""

from __future__ import annotations

import pytest

from gracebgp.policy.textsets import (
    ExtCommunitySet,
    as_path_pattern,
    as_path_text,
    community_pattern,
    ext_community_pattern,
    large_community_pattern,
    parse_ext_community,
)

SEQ, SET, CSEQ, CSET = 2, 1, 3, 4


def _path_matches(entry: str, *segments: tuple[int, tuple[int, ...]]) -> bool:
    return as_path_pattern(entry).search(as_path_text(segments)) is not None


def test_as_path_text_form() -> None:
    text = as_path_text(((CSEQ, (1, 2)), (CSET, (3, 4)), (SEQ, (65001, 65002)), (SET, (7, 8))))
    assert text == "(1 2) [3,4] 65001 65002 {7,8}"


@pytest.mark.parametrize(("entry", "path", "expected"), [
    ("_65001_", (65000, 65001, 65002), True),     # anywhere
    ("_65001_", (650011,), False),                # not part of another number
    ("_65001_", (165001, 2), False),
    ("^65001", (65001, 2), True),                 # neighbor AS
    ("^65001", (2, 65001), False),
    ("^65001_", (650012,), False),
    ("65001$", (2, 65001), True),                 # origin AS
    ("65001$", (65001, 2), False),
    ("_65001$", (2, 165001), False),
    ("^65001$", (65001,), True),                  # the only AS
    ("^65001$", (65001, 65001), False),
    ("^65001_65002_", (65001, 65002, 3), True),   # adjacency
    ("^$", (), True),                             # empty path: a locally originated route
    ("^6500[0-9]_", (65007, 1), True),
])
def test_as_path_regex_cases(entry: str, path: tuple[int, ...], expected: bool) -> None:
    assert _path_matches(entry, (SEQ, path)) is expected


def test_underscore_meets_set_and_confed_separators() -> None:
    assert _path_matches("_65003_", (SEQ, (1,)), (SET, (65003, 65004)))
    assert _path_matches("_65004_", (SEQ, (1,)), (SET, (65003, 65004)))
    assert _path_matches("_65010_", (CSEQ, (65010, 2)), (SEQ, (1,)))


@pytest.mark.parametrize(("entry", "text", "expected"), [
    ("65100:1", "65100:1", True),        # a literal is anchored: exact
    ("65100:1", "65100:10", False),
    ("65100:1", "165100:1", False),
    ("^65100:.*$", "65100:7", True),     # a regex as written
    ("^65100:.*$", "65101:7", False),
    ("65100:", "165100:3", True),        # unanchored regex matches inside
    (":100$", "65000:100", True),
    ("4266393601", "65100:1", True),     # a 32-bit number: exact HIGH:LOW
    ("no-export", "65535:65281", True),  # well-known names
    ("NO_EXPORT", "65535:65281", True),
    ("graceful-shutdown", "65535:0", True),
])
def test_community_entries(entry: str, text: str, expected: bool) -> None:
    assert (community_pattern(entry).search(text) is not None) is expected


@pytest.mark.parametrize(("entry", "text", "expected"), [
    ("65000:1:2", "65000:1:2", True),
    ("65000:1:2", "65000:1:20", False),
    ("^65000:1:.*$", "65000:1:99", True),
    ("^65000:1:.*$", "65000:2:99", False),
])
def test_large_community_entries(entry: str, text: str, expected: bool) -> None:
    assert (large_community_pattern(entry).search(text) is not None) is expected


def test_bad_regex_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        community_pattern("65000:(")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        as_path_pattern("_(65001_")


def test_ext_community_parse_and_match() -> None:
    rt = parse_ext_community("rt:65000:100")
    assert rt == 0x0002_FDE8_0000_0064
    soo = parse_ext_community("soo:65000:100")
    ip_rt = parse_ext_community("rt:10.0.0.1:100")
    as4_rt = parse_ext_community("rt:4200000000:100")
    assert ip_rt >> 56 == 0x01 and as4_rt >> 56 == 0x02
    assert ext_community_pattern("rt:65000:100").matches(rt)
    assert not ext_community_pattern("rt:65000:100").matches(soo)  # subtype differs
    assert ext_community_pattern("soo:65000:100").matches(soo)
    assert ext_community_pattern("rt:^65000:.*$").matches(rt)
    assert not ext_community_pattern("rt:65000:10").matches(rt)
    assert ext_community_pattern("rt:10.0.0.1:100").matches(ip_rt)
    assert ext_community_pattern("rt:64086.59904:100").matches(as4_rt)  # HIGH.LOW form
    assert len(ExtCommunitySet("e", ("rt:65000:100", "soo:1:1")).patterns) == 2


@pytest.mark.parametrize("entry", ["xx:65000:1", "rt", "rt:abc:1", "rt:10.0.0.1:70000"])
def test_bad_ext_communities(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_ext_community(entry)


def test_large_entry_containing_a_literal_is_wrapped() -> None:
    # "65000:1:2|7:7:7" holds a literal, so it becomes ^65000:1:2|7:7:7$: the first
    # branch is anchored at the start only, the second at the end only.
    pattern = large_community_pattern("65000:1:2|7:7:7")
    assert pattern.search("65000:1:25") and pattern.search("17:7:7")
    assert not pattern.search("165000:1:2")
