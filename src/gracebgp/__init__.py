"""gracebgp: a BGP speaker whose restarts, upgrades and drains never drop traffic."""

__version__ = "0.1.0"
