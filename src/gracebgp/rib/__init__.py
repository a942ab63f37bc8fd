"""Routing tables (layer L2, pure): Adj-RIB-In, Loc-RIB with best-path selection,
Adj-RIB-Out with the export rules, and UPDATE packing."""
