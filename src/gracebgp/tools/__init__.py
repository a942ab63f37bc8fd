"""Operator tools built on the library (entry points, layer L5)."""
