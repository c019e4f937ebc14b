"""Patch-clamp traces: NWB / ABF current-clamp recordings -> sweeps -> per-cell features.

- :func:`read_sweeps`, :func:`read_abf`, :func:`read_nwb`: files -> :class:`SweepSet`
  (time ms, voltage mV, command pA, main step start/end/amplitude).
- :func:`extract_cell_features`: one recording -> :class:`CellFeatures` (every canonical
  feature with a quality flag ``ok``/``warn``/``missing`` and the reason).
- :func:`cell_table_from_recordings`: many recordings -> a ``CellTable``.
- :mod:`.synthetic` (LIF neuron with closed-form answers) and :mod:`.writers` (NWB, ABF1)
  produce recordings with known answers.

pynwb (extra ``nwb``), pyabf (``abf``) and eFEL (``features``) are imported only when used;
names here resolve lazily so that importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Sweep": "sweeps",
    "SweepSet": "sweeps",
    "StepProtocol": "sweeps",
    "find_step_window": "sweeps",
    "read_abf": "abf",
    "read_nwb": "nwb",
    "read_sweeps": "extract",
    "extract_cell_features": "extract",
    "cell_table_from_recordings": "extract",
    "CellFeatures": "features",
    "Feature": "features",
    "FeatureSettings": "features",
    "CELL_FEATURES": "features",
    "compute_features": "features",
    "SpikeSettings": "spikes",
    "LIFNeuron": "synthetic",
    "SynapticEvent": "synthetic",
    "simulate_steps": "synthetic",
    "write_nwb": "writers",
    "write_abf1": "writers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"hetfit.data_adapters.traces.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'hetfit.data_adapters.traces' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
