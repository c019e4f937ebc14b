"""Draw per-neuron feature values for N model neurons from an estimated type.

Each feature keeps the family chosen for it by :class:`~hetfit.distributions.WidthEstimator`
(its fitted marginal distribution) and features are coupled by a Gaussian copula with the
type's Spearman rank correlations, so that e.g. cells with a high input resistance keep a
low rheobase.  Spearman's rho is converted to the copula's normal correlation by
``r = 2 sin(pi rho / 6)`` (exact for a Gaussian copula); a matrix that is not positive
definite is repaired by clipping its eigenvalues.

Each marginal is truncated to a plausible interval: the observed range widened by 25% of
its span on each side, intersected with the schema's plausible range (catches the heavy
tails of a Lorentzian) and with the physical domain (positive rheobase, time constant,
resistance; sag in [0, 1)).  Truncation is exact: uniforms are mapped into ``[F(low),
F(high)]`` before the inverse CDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.seeding import SeedLike, as_generator

#: Features that must stay strictly positive / inside [0, 1).
POSITIVE = {"rheobase_pA", "tau_m_ms", "r_input_MOhm", "capacitance_pF",
            "distance_to_threshold_mV", "mean_isi_ms", "ap_width_ms"}
UNIT_INTERVAL = {"sag"}
WIDEN = 0.25


def feature_bounds(feature: str, observed_range: tuple[float, float] | None) -> tuple[float,
                                                                                      float]:
    """Truncation interval for one feature (see module doc)."""
    from hetfit.data_adapters.schema import FEATURES

    lo, hi = -math.inf, math.inf
    if observed_range is not None:
        a, b = observed_range
        span = max(b - a, 1e-9 * max(abs(a), abs(b), 1.0))
        lo, hi = a - WIDEN * span, b + WIDEN * span
    spec = FEATURES.get(feature)
    if spec is not None:
        lo, hi = max(lo, spec.plausible[0]), min(hi, spec.plausible[1])
    if feature in POSITIVE:
        lo = max(lo, 1e-9 if observed_range is None else 0.05 * max(observed_range[0], 1e-9))
    if feature in UNIT_INTERVAL:
        lo, hi = max(lo, 0.0), min(hi, 0.99)
    if not lo < hi:
        raise ParameterError(f"{feature}: empty truncation interval [{lo}, {hi}]")
    return float(lo), float(hi)


def _nearest_correlation(r: np.ndarray) -> np.ndarray:
    r = 0.5 * (r + r.T)
    w, v = np.linalg.eigh(r)
    if w.min() > 1e-8:
        return r
    w = np.clip(w, 1e-6, None)
    r = (v * w) @ v.T
    d = np.sqrt(np.diag(r))
    return r / np.outer(d, d)


def copula_correlation(group, features: Sequence[str]) -> np.ndarray | None:
    """Normal-copula correlation among ``features`` from a type's Spearman matrix."""
    corr = getattr(group, "correlation", None)
    if not corr or corr.get("spearman") is None:
        return None
    names = list(corr["features"])
    if not all(f in names for f in features):
        return None
    idx = [names.index(f) for f in features]
    rho = np.asarray(corr["spearman"], dtype=float)[np.ix_(idx, idx)]
    if not np.all(np.isfinite(rho)):
        return None
    r = 2.0 * np.sin(np.pi * rho / 6.0)
    np.fill_diagonal(r, 1.0)
    return _nearest_correlation(r)


def sample_features(
    group,
    features: Sequence[str],
    n: int,
    seed: SeedLike = None,
    correlated: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``n`` correlated draws of ``features`` from a :class:`GroupEstimate`.

    Returns
    -------
    (values, info): values per feature (arrays of length n) and a record of the families,
    truncation bounds and copula correlation used.
    """
    if int(n) != n or n < 1:
        raise ParameterError(f"number of neurons must be an integer >= 1, got {n}")
    n = int(n)
    fits, bounds = {}, {}
    for f in features:
        fe = group[f]
        if not fe.ok or fe.families is None or fe.families.best is None:
            raise InsufficientDataError(
                f"type {group.name!r}: feature {f!r} has no fitted distribution "
                f"({fe.status}: {fe.reason or 'no family could be fitted'})",
                hint="estimate with more cells, pool types, or give this parameter a value",
            )
        fits[f] = fe.families.best
        bounds[f] = feature_bounds(f, fe.observed_range)
    rng = as_generator(seed)
    z = rng.standard_normal((n, len(features)))
    r = copula_correlation(group, features) if correlated else None
    if r is not None:
        z = z @ np.linalg.cholesky(r).T
    from scipy.special import ndtr

    u = ndtr(z)
    values = {}
    for j, f in enumerate(features):
        fit = fits[f]
        lo, hi = bounds[f]
        p_lo, p_hi = (float(v) for v in fit.cdf(np.array([lo, hi])))
        if p_hi - p_lo < 1e-12:
            raise ParameterError(f"{f}: the fitted distribution has no mass in [{lo}, {hi}]")
        q = p_lo + u[:, j] * (p_hi - p_lo)
        values[f] = np.clip(np.asarray(fit.ppf(q), dtype=float), lo, hi)
    info = {
        "families": {f: {"family": fits[f].family, "params": fits[f].params} for f in features},
        "bounds": {f: list(bounds[f]) for f in features},
        "copula_correlation": None if r is None else r.tolist(),
        "features": list(features),
    }
    return values, info
