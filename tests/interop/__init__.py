"""Interop test library: real BGP daemons in network namespaces (see README.md)."""
