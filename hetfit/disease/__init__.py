"""hetfit.disease: healthy vs diseased tissue through within-type heterogeneity.

What loss of within-type heterogeneity does to synchrony and resilience, measured on data
and on models:

- :mod:`~hetfit.disease.conditions`: two conditions of the same cell types (e.g. cortex
  resected for epilepsy vs for tumor access) -> per-type spread estimates with donor-level
  CIs and spread tests -> networks built from each condition's widths -> synchrony and
  resilience on each, with uncertainty from resampling donors/cells and network seeds.
- :mod:`~hetfit.disease.networks`: the network of each condition (E/I Izhikevich circuit with
  its mean field, or the Rich et al. 2022 network) built from the measured widths.
- :mod:`~hetfit.disease.sweeps`: heterogeneity-loss sweeps (a width scaled from its measured
  value down to zero and up): synchrony (chi, order parameter, spectral peak), the transition
  to synchrony, resilience (distance D, return time, spectral radius), bistability width
  (mean field), response to a sudden input step.
- :mod:`~hetfit.disease.power`: how many cells/donors a study needs to detect a given change of
  spread (power curve, minimum n for 80 % power), by simulation with donor effects.
- :mod:`~hetfit.disease.presets`: the public Allen human cells split by donor disease state and
  the Rich et al. 2022 L5 table (epileptogenic vs non-epileptogenic).
- :mod:`~hetfit.disease.report`: JSON + figures + Markdown/HTML report.

Names are resolved lazily (PEP 562), so ``import hetfit.disease`` stays cheap.
"""

from __future__ import annotations

from hetfit._lazy import lazy_exports

_EXPORTS = {
    # conditions
    "Condition": "conditions",
    "SpreadResults": "conditions",
    "ComparisonResult": "conditions",
    "compare_spreads": "conditions",
    # networks built from measured widths
    "NetworkComparison": "networks",
    "NetworkMapping": "networks",
    "ModelSettings": "networks",
    "compare_networks": "networks",
    "network_sweeps": "networks",
    "population_widths": "networks",
    "run_comparison": "conditions",
    "split_conditions": "conditions",
    # sweeps
    "Curve": "sweeps",
    "Sweep": "sweeps",
    "Transition": "sweeps",
    "rate_network_sweep": "sweeps",
    "izhikevich_sweep": "sweeps",
    "meanfield_sweep": "sweeps",
    "step_response_sweep": "sweeps",
    "synchrony_regimes": "sweeps",
    "rich2022_step_sweep": "sweeps",
    "Regime": "sweeps",
    "transition_width": "sweeps",
    # power
    "PowerCurve": "power",
    "SpreadStudyDesign": "power",
    "simulate_spread_study": "power",
    "spread_power": "power",
    "minimum_sample_size": "power",
    "f_test_power": "power",
    "estimate_icc": "power",
    "plan_study": "power",
    "StudyPlan": "power",
    # presets
    "ComparisonPreset": "presets",
    "PRESETS": "presets",
    "load_preset": "presets",
    "allen_human_preset": "presets",
    "rich2022_preset": "presets",
    # report
    "write_comparison_report": "report",
    "sweep_figures": "report",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
