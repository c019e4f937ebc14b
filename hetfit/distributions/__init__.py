"""hetfit.distributions: within-type distributions with honest uncertainty.

- ``widths``: width measures (SD, IQR, Lorentzian HWHM, MAD, CV) and conversions.
- ``bootstrap``: confidence intervals that resample donors, not cells.
- ``families``: Gaussian, log-normal, Lorentzian and Lorentzian-mixture fits, AIC, and
  parametric-bootstrap goodness of fit.
- ``compare``: spread comparison between two conditions (Brown-Forsythe, Fligner-Killeen,
  donor-level permutation test, width ratio with CI).
- ``estimate``: :class:`WidthEstimator` -> :class:`EstimateResult` (JSON with provenance).

Names resolve lazily so ``import hetfit.distributions`` stays light.
"""

from __future__ import annotations

from hetfit._lazy import lazy_exports

_EXPORTS = {
    "WidthEstimator": "estimate",
    "EstimateResult": "estimate",
    "GroupEstimate": "estimate",
    "FeatureEstimate": "estimate",
    "bootstrap_ci": "bootstrap",
    "Interval": "bootstrap",
    "fit_family": "families",
    "fit_families": "families",
    "FamilyFit": "families",
    "FamilySelection": "families",
    "compare_spread": "compare",
    "compare_conditions": "compare",
    "SpreadComparison": "compare",
    "brown_forsythe": "compare",
    "fligner_killeen": "compare",
    "permutation_spread_test": "compare",
    "convert_width": "widths",
    "width_measures": "widths",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
