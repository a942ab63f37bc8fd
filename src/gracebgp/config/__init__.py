"""Configuration: GoBGP-schema TOML -> frozen models, with file:line errors and a diff for reload."""

from gracebgp.config.diff import ConfigDiff, diff
from gracebgp.config.dump import to_toml
from gracebgp.config.loader import check, load_file, parse
from gracebgp.config.model import AfiSafi, Config, Global, GraceBGP, GracefulRestart, Neighbor, Route
from gracebgp.config.problems import ConfigError, ConfigProblem

__all__ = [
    "AfiSafi",
    "Config",
    "ConfigDiff",
    "ConfigError",
    "ConfigProblem",
    "Global",
    "GraceBGP",
    "GracefulRestart",
    "Neighbor",
    "Route",
    "check",
    "diff",
    "load_file",
    "parse",
    "to_toml",
]
