"""``-t yaml`` and ``-t json``: the same keys give the same Config as TOML, and every problem
names its line (issue 15, item 7)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from gracebgp.config import ConfigError, ConfigProblem, load_file, parse
from gracebgp.config.formats import looks_like

from .conftest import FIXTURES, MINIMAL

FIXTURE_NAMES = ["full.toml", "kube_router_style.toml", "seed_132.toml", "seed_134.toml"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_yaml_and_json_load_to_the_toml_config(name: str) -> None:
    text = (FIXTURES / name).read_text()
    doc = tomllib.loads(text)
    expected = parse(text, name)
    assert parse(yaml.safe_dump(doc, sort_keys=False), "c.yaml", "yaml") == expected
    assert parse(json.dumps(doc, indent=2), "c.json", "json") == expected


def test_load_file_takes_the_config_type(tmp_path: Path) -> None:
    path = tmp_path / "gobgpd.yml"
    path.write_text("global:\n  config:\n    as: 65001\n    router-id: 192.0.2.1\n")
    assert load_file(path, "yaml").global_.asn == 65001


YAML = """\
global:
  config:
    as: 65001
    router-id: "192.0.2.1"
neighbors:
  - config:
      neighbor-address: 192.0.2.2
      peer-as: 65002
    timers:
      config:
        hold-time: 2
  - config:
      neighbor-address: 192.0.2.3
      peer-as: 65003
      colour: blue
"""


def test_yaml_problems_name_their_lines() -> None:
    found = _problems(YAML, "yaml")
    assert [(p.line, p.key) for p in found] == [
        (11, "neighbors[0].timers.config.hold-time"),
        (15, "neighbors[1].config.colour"),
    ]


JSON = """\
{
  "global": {"config": {"as": 65001, "router-id": "192.0.2.1"}},
  "neighbors": [
    {"config": {"neighbor-address": "192.0.2.2", "peer-as": 65002},
     "timers": {"config": {
        "hold-time": 2}}},
    {"config": {"neighbor-address": "192.0.2.3",
                "peer-as": 65003, "colour": "blue"}}
  ]
}
"""


def test_json_problems_name_their_lines() -> None:
    assert [(p.line, p.key) for p in _problems(JSON, "json")] == [
        (6, "neighbors[0].timers.config.hold-time"),
        (8, "neighbors[1].config.colour"),
    ]


def _problems(text: str, config_type: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse(text, "c", config_type)
    return list(info.value.problems)


def test_syntax_errors_carry_the_parsers_line() -> None:
    (y,) = _problems("global:\n  config:\n    as: [65001\n", "yaml")
    assert y.key == "(syntax)" and y.line == 4 and y.message.startswith("YAML syntax error: ")
    (j,) = _problems('{\n  "global": {\n    "config": {"as": 65001,}\n  }\n}\n', "json")
    assert (j.line, j.key) == (3, "(syntax)") and j.message.startswith("JSON syntax error: ")


def test_duplicate_yaml_keys_are_problems() -> None:
    (p,) = _problems("global:\n  config:\n    as: 1\n    as: 2\n", "yaml")
    assert (p.line, p.key, p.message) == (4, "global.config.as", "defined twice (first on line 3)")


def test_duplicate_json_keys_are_problems() -> None:
    """json.loads would keep the last one silently."""
    text = ('{"global": {"config": {"as": 65000, "router-id": "10.0.0.1",\n'
            '                       "as": 65009}}}\n')
    (p,) = _problems(text, "json")
    assert (p.line, p.key, p.message) == (2, "global.config.as", "defined twice (first on line 1)")
    # the same key in two objects of an array is not a repeat
    ok = ('{"global": {"config": {"as": 65000, "router-id": "10.0.0.1"}}, "neighbors": [\n'
          '  {"config": {"neighbor-address": "10.0.0.2", "peer-as": 65001}},\n'
          '  {"config": {"neighbor-address": "10.0.0.3", "peer-as": 65001}}]}\n')
    assert len(parse(ok, "t.json", "json").neighbors) == 2


def test_a_yaml_merge_key_with_an_override_is_not_a_repeat() -> None:
    """``<<: *anchor`` then a key of the mapping's own: standard YAML, the override wins."""
    text = ("global:\n  config:\n    as: 65000\n    router-id: 10.0.0.1\nneighbors:\n"
            "  - config: &base\n      peer-as: 65001\n      neighbor-address: 10.0.0.2\n"
            "  - config:\n      <<: *base\n      neighbor-address: 10.0.0.3\n")
    cfg = parse(text, "t.yaml", "yaml")
    assert [(n.neighbor_address, n.peer_as) for n in cfg.neighbors] == [("10.0.0.2", 65001),
                                                                        ("10.0.0.3", 65001)]
    (p,) = _problems(text + "      neighbor-address: 10.0.0.4\n", "yaml")  # written twice: still one
    assert (p.line, p.key, p.message) == (12, "neighbors[1].config.neighbor-address",
                                          "defined twice (first on line 11)")


def test_an_unquoted_community_in_yaml_stays_a_community() -> None:
    """YAML 1.1 reads 65000:10 as a base-60 number (3900010); gobgpd's YAML does not."""
    text = ("global:\n  config:\n    as: 65000\n    router-id: 10.0.0.1\n"
            "gracebgp:\n  routes:\n    - prefix: 192.0.2.0/24\n      communities: [65000:10]\n")
    (route,) = parse(text, "t.yaml", "yaml").gracebgp.routes
    assert list(route.communities) == ["65000:10"]


def test_a_tab_in_yaml_indentation_says_so() -> None:
    (p,) = _problems("global:\n\tconfig:\n    as: 1\n", "yaml")
    assert p.line == 2 and "YAML indents with spaces" in p.message


@pytest.mark.parametrize(("text", "config_type", "hint"), [
    (YAML, "toml", "the file looks like YAML: use -t yaml"),
    (JSON, "toml", "the file looks like JSON: use -t json"),
    (MINIMAL, "yaml", "the file looks like TOML: use -t toml (the default)"),
    (MINIMAL, "json", "the file looks like TOML: use -t toml (the default)"),
])
def test_the_wrong_config_type_says_which_to_use(text: str, config_type: str, hint: str) -> None:
    (p,) = _problems(text, config_type)
    assert p.key == "(syntax)" and p.message.endswith(hint), p.message


def test_looks_like() -> None:
    assert looks_like("# c\n---\nglobal:\n") == "yaml"
    assert looks_like("\n  {\"global\": {}}") == "json"
    assert looks_like("[global.config]\nas = 1\n") == "toml"
    assert looks_like("as = 1\n") == "toml"
    assert looks_like("???") is None


@pytest.mark.parametrize(("text", "config_type"), [("- 1\n- 2\n", "yaml"), ("[1, 2]", "json"), ("", "yaml")])
def test_a_document_must_be_a_mapping(text: str, config_type: str) -> None:
    (p,) = _problems(text, config_type)
    assert p.line == 1 and "must be a mapping of sections" in p.message


def test_peer_groups_in_yaml() -> None:
    config = parse("""\
global: {config: {as: 65001, router-id: 192.0.2.1}}
peer-groups:
  - config: {peer-group-name: g, peer-as: 65100}
    timers: {config: {hold-time: 30}}
neighbors:
  - config: {neighbor-address: 192.0.2.2, peer-group: g}
""", "c.yaml", "yaml")
    assert (config.neighbors[0].peer_as, config.neighbors[0].hold_time) == (65100, 30)
    (p,) = _problems("global: {config: {as: 65001, router-id: 192.0.2.1}}\nneighbors:\n"
                     "  - config: {neighbor-address: 192.0.2.3, peer-group: h}\n", "yaml")
    assert (p.line, p.key) == (3, "neighbors[0].config.peer-group")
