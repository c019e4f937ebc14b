"""hetfit.params: from measured per-cell features to model parameters.

- :func:`map_izhikevich` / :func:`map_lif`: per-cell feature -> parameter mappings, each with
  its assumption documented (``hetfit.params.izhikevich``, ``hetfit.params.lif`` and
  ``docs/params.md``).
- :func:`population_from_estimate`: N neurons drawn from an estimated type (fitted marginals
  coupled by the type's rank correlations) and mapped; :func:`population_from_table`: one
  neuron per recorded cell.
- :class:`PopulationSpec` (+ :func:`load_population`): per-neuron values, per-parameter
  Heterogeneity summaries, provenance; JSON readable by hetfit, Brian2 and NEST users.
- :func:`list_presets` / :func:`load_preset`: per-type estimates shipped with hetfit
  (computed from the Allen Cell Types Database by ``benchmarks/make_presets.py``).

Names resolve lazily so ``import hetfit.params`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "map_izhikevich": "izhikevich",
    "quadratic_rheobase": "izhikevich",
    "k_from_rheobase": "izhikevich",
    "IzhikevichCells": "izhikevich",
    "map_lif": "lif",
    "LIFCells": "lif",
    "sample_features": "sampling",
    "PopulationSpec": "population",
    "population_from_estimate": "population",
    "population_from_table": "population",
    "load_population": "population",
    "list_presets": "presets",
    "load_preset": "presets",
    "preset_group": "presets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"hetfit.params.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'hetfit.params' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
