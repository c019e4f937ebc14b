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

from hetfit._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
