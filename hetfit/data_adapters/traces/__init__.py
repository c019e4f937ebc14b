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

from hetfit._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
