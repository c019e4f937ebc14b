"""Simulation-based inference of heterogeneity widths from recorded activity.

Layout (simulator, prior and inference kept apart, as in ``sbi``):

- :mod:`~hetfit.inference.priors` — uniform / log-uniform priors over widths and nuisance
  parameters, with support checks;
- :mod:`~hetfit.inference.summaries` — versioned summary statistics from
  :mod:`hetfit.measures`, identical for simulations and recordings;
- :mod:`~hetfit.inference.simulator` — model spec + parameter sets + seeds -> summaries,
  failures flagged; :mod:`~hetfit.inference.problems` — named problems (``gast2023_ei``);
- :mod:`~hetfit.inference.store` and :mod:`~hetfit.inference.parallel` — resumable chunked
  simulation stores, filled in-process, by local processes or on Dask with one code path;
- :mod:`~hetfit.inference.estimators` (NPE default, NLE/NRE, embedding nets),
  :mod:`~hetfit.inference.posterior` and :mod:`~hetfit.inference.artifacts` (amortized
  posteriors saved with the metadata that made them);
- :mod:`~hetfit.inference.diagnostics` — SBC, coverage, recovery, predictive and
  misspecification checks that tolerate failed simulations;
- :mod:`~hetfit.inference.hierarchical` — cells + network activity constrain one width;
- :mod:`~hetfit.inference.fit` — the :class:`WidthFitter` estimator object.

Names are imported lazily: ``import hetfit.inference`` does not import torch or sbi.
"""

from __future__ import annotations

from hetfit._lazy import lazy_exports

_EXPORTS = {
    "Prior": "priors",
    "ParameterPrior": "priors",
    "SummarySpec": "summaries",
    "SUMMARY_VERSION": "summaries",
    "NetworkSimulator": "simulator",
    "Simulator": "simulator",
    "SimulationBatch": "simulator",
    "SimulationStore": "store",
    "SimulationExecutor": "parallel",
    "EstimatorConfig": "estimators",
    "train_posterior": "estimators",
    "WidthPosterior": "posterior",
    "save_posterior": "artifacts",
    "load_posterior": "artifacts",
    "convert_posterior": "artifacts",
    "sbc": "diagnostics",
    "expected_coverage": "diagnostics",
    "recovery": "diagnostics",
    "posterior_predictive_check": "diagnostics",
    "misspecification_check": "diagnostics",
    "joint_width_posterior": "hierarchical",
    "WidthFitter": "fit",
    "DEFAULT_BUDGET": "fit",
    "ei_width_problem": "problems",
    "problem_from_spec": "problems",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
