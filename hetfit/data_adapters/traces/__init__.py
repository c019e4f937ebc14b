"""Patch-clamp traces: NWB / ABF current-clamp files -> sweeps -> per-cell features."""
