"""Graceful restart, long-lived GR, Hard Reset and drain: the pure rules (DESIGN.md section 1, L2)."""
