"""Network models: a network as data, one engine per model, one result type.

Start here:

- **The spec** — :class:`~hetfit.models.spec.NetworkSpec` (:mod:`hetfit.models.spec`): a
  network as data (populations with per-neuron parameters given as numbers, distributions or
  arrays; connections with rules and weights; inputs), read from and written to JSON files
  (``hetfit-network``, version 1; :func:`load_spec`, :func:`preset_spec` for the shipped
  ``single`` and ``gast2023_ei``; ``docs/network_spec.md``).  ``spec.network(seed)`` gives the
  engine object.
- **The engine** — :func:`~hetfit.models.batch.simulate_izhikevich` runs one network;
  :func:`~hetfit.models.batch.simulate_batch` runs many parameter sets of it in parallel
  (numba kernels, :mod:`hetfit.models._izhikevich_kernels`).  Engine objects:
  :class:`IzhikevichNetwork`, :class:`IzhikevichPopulation`, per-neuron distributions
  :class:`Heterogeneity`, inputs :class:`StepCurrent`, graphs :class:`Connectivity`.
- **The results** — :class:`~hetfit.models.results.SpikeResult` (one run: spike times and
  neurons, binned population rates, per-neuron counts, status) and
  :class:`~hetfit.models.batch.BatchResult` (many sets).

Other models: LIF (:mod:`~hetfit.models.lif`), QIF (:mod:`~hetfit.models.qif`), the Rich et al.
2022 network (:mod:`~hetfit.models.rich2022`), rate networks
(:mod:`~hetfit.models.rate_network`, :mod:`~hetfit.models.rate_theory`) and the exact mean
fields (:mod:`hetfit.models.meanfield`).  Names below are imported on first use, so importing
this package stays light.
"""

from __future__ import annotations

from hetfit._lazy import lazy_exports

_EXPORTS = {
    "NetworkSpec": "spec",
    "load_spec": "spec",
    "preset_spec": "spec",
    "SpecError": "spec",
    "simulate_izhikevich": "batch",
    "IzhikevichNetwork": "izhikevich",
    "IzhikevichPopulation": "izhikevich",
    "simulate_batch": "batch",
    "BatchResult": "batch",
    "SpikeResult": "results",
    "Heterogeneity": "heterogeneity",
    "StepCurrent": "inputs",
    "Connectivity": "connectivity",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
