"""Joint inference of a cell type's location and width from per-cell measurements *and*
network activity, so patch-clamp data and recordings constrain the same width.

Model
-----
A cell type's parameter (e.g. the spike threshold ``v_theta``, mV) is distributed across its
cells with location ``mu`` and width ``Delta`` in a family ``F`` — the same family the
network model uses (Lorentzian: ``Delta`` is the half-width at half-maximum; Gaussian: the
SD).  Two data sources see it:

1. **Cells** ``y_1..y_n`` measured one by one (a cell-table column), each with Gaussian
   measurement noise of SD ``sigma_m`` (0 allowed).  Their likelihood is analytic:
   ``y_j ~ F(mu, Delta) * N(0, sigma_m^2)``, i.e. a Voigt profile for the Lorentzian
   (``scipy.special.voigt_profile``) and ``N(mu, Delta^2 + sigma_m^2)`` for the Gaussian.
2. **Network activity** ``x`` (summary statistics of a recording) with an amortized NPE
   posterior ``q(theta | x)`` over the network's parameters ``theta``, one column of which
   is ``Delta`` (and optionally one is ``mu``; the rest are nuisance parameters).

With the SBI prior ``p(theta)`` used for training, ``q(theta | x) ∝ p(theta) p(x | theta)``,
so the joint posterior is ::

    p(mu, theta | y, x) ∝ p(mu) L_cells(y | mu, Delta(theta)) q(theta | x)

(when ``mu`` is a column of ``theta`` its prior is already in ``q``).  We sample it by
sampling-importance-resampling: draw ``theta_s ~ q(theta | x)``; weight each by the cell
likelihood integrated over ``mu``, ``w_s = ∫ p(mu) L_cells(y | mu, Delta_s) dmu``
(quadrature on a ``mu`` grid), resample, and draw ``mu`` from ``p(mu | y, Delta_s)`` on the
grid.  The effective sample size of the weights is reported; when cells are far more
informative than the network it drops, and ``n_proposal`` must grow.

The result also gives the two single-source posteriors of ``Delta`` (cells only, network
only) and a tension statistic ``(mean_c - mean_n) / sqrt(var_c + var_n)``: values beyond
about 3 mean the two sources disagree about the width (different cell populations, a
misspecified network, or a unit mismatch), and the joint estimate should not be trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.seeding import SeedLike, as_generator, child_seeds

Family = Literal["lorentzian", "gaussian"]


def _cell_logpdf(resid: np.ndarray, delta: np.ndarray, family: Family,
                 sigma_m: float) -> np.ndarray:
    """Log density of residuals ``y - mu`` (broadcast against ``delta``), closed forms."""
    if family == "gaussian":
        var = delta * delta + sigma_m * sigma_m
        return -0.5 * np.log(2.0 * math.pi * var) - resid * resid / (2.0 * var)
    if sigma_m > 0:
        from scipy import special

        with np.errstate(divide="ignore"):
            return np.log(special.voigt_profile(resid, sigma_m, delta))
    z = resid / delta
    return -np.log(math.pi * delta) - np.log1p(z * z)


def _log_mass(lo: float, hi: float, mu: np.ndarray, delta: np.ndarray, family: Family,
              sigma_m: float) -> np.ndarray:
    """Log probability that one cell falls in ``[lo, hi]`` (truncated families)."""
    if family == "gaussian":
        from scipy import special

        s = np.sqrt(delta * delta + sigma_m * sigma_m) * math.sqrt(2.0)
        mass = 0.5 * (special.erf((hi - mu) / s) - special.erf((lo - mu) / s))
    else:  # Lorentzian; measurement noise is ignored in the normaliser (it is much narrower)
        mass = (np.arctan((hi - mu) / delta) - np.arctan((lo - mu) / delta)) / math.pi
    with np.errstate(divide="ignore"):
        return np.log(mass)


def cell_loglik_grid(y: np.ndarray, mu: np.ndarray, delta: np.ndarray, family: Family,
                     sigma_m: float = 0.0,
                     bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Log-likelihood of cells ``y`` on a grid: array (len(delta), len(mu)) in nats.

    ``bounds=(low, high)``: the family truncated to that range (as the network's
    heterogeneity is), renormalised per ``(mu, delta)``.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    resid = (y[None, :] - mu[:, None])[None, :, :]  # (1, G_mu, n)
    out = np.empty((len(delta), len(mu)))
    step = max(1, 2_000_000 // max(1, resid.size))  # bounded memory per block
    for k in range(0, len(delta), step):
        d = delta[k:k + step, None, None]
        out[k:k + step] = _cell_logpdf(resid, d, family, sigma_m).sum(axis=2)
    if bounds is not None:
        out -= y.size * _log_mass(bounds[0], bounds[1], mu[None, :], delta[:, None], family,
                                  sigma_m)
    return out


@dataclass
class HierarchicalResult:
    """Joint posterior of a type's location and width (physical units).

    Attributes
    ----------
    samples:
        Joint draws, columns ``names`` (``mu``, the network parameters ...).
    names:
        Column names of ``samples``.
    width_name:
        Which column is the shared width.
    ess:
        Effective sample size of the importance weights (out of ``n_proposal``).
    cells_only, network_only:
        (mean, sd) of the width under each source alone.
    tension:
        ``(mean_cells - mean_network) / sqrt(var_cells + var_network)``.
    n_cells:
        Measurements used (finite values).
    """

    samples: np.ndarray
    names: tuple[str, ...]
    width_name: str
    ess: float
    n_proposal: int
    cells_only: tuple[float, float]
    network_only: tuple[float, float]
    tension: float
    n_cells: int
    family: str
    level: float = 0.9
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        return self.samples[:, self.names.index(name)]

    def summary(self) -> dict[str, dict[str, float]]:
        a = (1 - self.level) / 2
        out = {}
        for j, n in enumerate(self.names):
            s = self.samples[:, j]
            lo, med, hi = np.quantile(s, [a, 0.5, 1 - a])
            out[n] = {"mean": float(s.mean()), "median": float(med), "sd": float(s.std(ddof=1)),
                      f"ci{round(100 * self.level)}": [float(lo), float(hi)]}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameters": self.summary(), "width": self.width_name, "family": self.family,
            "ess": self.ess, "n_proposal": self.n_proposal, "n_cells": self.n_cells,
            "cells_only": {"mean": self.cells_only[0], "sd": self.cells_only[1]},
            "network_only": {"mean": self.network_only[0], "sd": self.network_only[1]},
            "tension": self.tension, "consistent": bool(abs(self.tension) < 3.0),
            "notes": self.notes,
        }


def _cell_values(cells: Any, feature: str | None) -> np.ndarray:
    if hasattr(cells, "values") and callable(cells.values) and feature is not None:
        vals = cells.values(feature)
    elif hasattr(cells, "__getitem__") and feature is not None and not isinstance(
            cells, np.ndarray):
        vals = cells[feature]
    else:
        vals = cells
    y = np.asarray(vals, dtype=np.float64).ravel()
    return y[np.isfinite(y)]


def joint_width_posterior(
    cells: Any,
    posterior: Any,
    x_obs: Any,
    width: str,
    location_prior: tuple[float, float] | None = None,
    location: str | None = None,
    feature: str | None = None,
    family: Family = "lorentzian",
    sigma_m: float = 0.0,
    bounds: tuple[float, float] | None = None,
    n_proposal: int = 20_000,
    n_samples: int = 4000,
    n_grid: int = 400,
    level: float = 0.9,
    seed: SeedLike = 0,
) -> HierarchicalResult:
    """Joint posterior of a type's location ``mu`` and width from cells + network activity.

    Parameters
    ----------
    cells:
        Per-cell values (array, in the unit of the network parameter, e.g. mV), or a
        :class:`~hetfit.data_adapters.celltable.CellTable` / DataFrame with ``feature``.
    posterior:
        Amortized network posterior with ``names`` and ``sample(x, n, seed)``
        (a :class:`~hetfit.inference.posterior.WidthPosterior`).
    x_obs:
        Observed network summaries.
    width:
        Name of the posterior's column that is this type's width (e.g. ``"delta_v_E"``).
    location_prior:
        ``(low, high)`` of a uniform prior on ``mu`` when the network posterior does not
        infer it (``location=None``).
    location:
        Name of the posterior's column that is ``mu``, if the network infers it.
    family:
        ``"lorentzian"`` or ``"gaussian"`` — must match the network's heterogeneity.
    sigma_m:
        SD of the measurement noise of single cells (same unit; 0 = exact).
    bounds:
        ``(low, high)`` when the network's heterogeneity is truncated to a range (e.g.
        ``(v_r, 2 v_theta - v_r)`` in :func:`hetfit.models.presets.gast2023_ei`); the cell
        likelihood is then the truncated family.
    n_proposal, n_samples:
        Network-posterior draws used as proposals / joint draws returned.
    n_grid:
        Points of the ``mu`` and width grids of the cell likelihood.
    """
    if family not in ("lorentzian", "gaussian"):
        raise ParameterError(f"family must be 'lorentzian' or 'gaussian', got {family!r}")
    if not (sigma_m >= 0 and math.isfinite(sigma_m)):
        raise ParameterError(f"sigma_m must be a finite number >= 0, got {sigma_m}")
    names = tuple(posterior.names)
    if width not in names:
        raise ParameterError(f"width {width!r} is not a posterior parameter; have {list(names)}")
    if location is not None and location not in names:
        raise ParameterError(f"location {location!r} is not a posterior parameter")
    if location is None:
        if location_prior is None:
            raise ParameterError(
                "give location_prior=(low, high) for the type's location, or name the "
                "posterior column that holds it with location=...")
        lo, hi = map(float, location_prior)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ParameterError(f"location_prior must be finite (low, high), got {location_prior}")
    y = _cell_values(cells, feature)
    if bounds is not None:
        lo_b, hi_b = map(float, bounds)
        if not lo_b < hi_b:
            raise ParameterError(f"bounds must be (low, high) with low < high, got {bounds}")
        outside = int(np.count_nonzero((y < lo_b) | (y > hi_b)))
        if outside:
            raise ParameterError(
                f"{outside} cell value(s) lie outside the truncation bounds {bounds}",
                hint="check units (mV) or widen the bounds")
    if y.size < 2:
        raise InsufficientDataError(
            f"only {y.size} finite cell measurement(s); need at least 2 for a width")
    s_prop, s_res, s_mu = (int(s) for s in child_seeds(seed, 3))
    theta = np.asarray(posterior.sample(x_obs, int(n_proposal), seed=s_prop), dtype=np.float64)
    jw = names.index(width)
    d = theta[:, jw]
    if np.any(d <= 0):
        raise ParameterError("the width posterior has non-positive draws; widths must be > 0")
    notes: list[str] = []
    if location is None:
        mu_grid = np.linspace(lo, hi, n_grid)
        d_grid = np.geomspace(d.min(), d.max(), n_grid) if d.max() > d.min() else d[:1]
        ll = cell_loglik_grid(y, mu_grid, d_grid, family, sigma_m, bounds)  # (G_d, G_mu)
        m = ll.max()
        lik = np.exp(ll - m)
        log_marg = np.log(_trapezoid(lik, mu_grid)) + m  # up to constants
        logw = np.interp(np.log(d), np.log(d_grid), log_marg)
    else:
        jm = names.index(location)
        mu_s = theta[:, jm]
        logw = np.empty(len(theta))
        for k in range(0, len(theta), 2000):  # bounded memory
            blk = slice(k, k + 2000)
            logw[blk] = _cell_logpdf(y[None, :] - mu_s[blk, None], d[blk, None], family,
                                     sigma_m).sum(axis=1)
            if bounds is not None:
                logw[blk] -= y.size * _log_mass(bounds[0], bounds[1], mu_s[blk], d[blk],
                                                family, sigma_m)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w**2))
    if ess < 200:
        notes.append(f"importance ESS is only {ess:.0f} of {len(w)}: the cells constrain the "
                     "width much more than the network posterior; raise n_proposal")
    rng = as_generator(s_res)
    pick = rng.choice(len(theta), size=int(n_samples), replace=True, p=w)
    chosen = theta[pick]
    if location is None:
        # mu | y, Delta on the grid (nearest width grid row), inverse-CDF with in-cell jitter
        rows = np.clip(np.searchsorted(np.log(d_grid), np.log(chosen[:, jw])), 0,
                       len(d_grid) - 1)
        rng_mu = as_generator(s_mu)
        post_mu = np.empty(len(chosen))
        cdfs = np.cumsum(lik, axis=1)
        cdfs /= cdfs[:, -1:]
        step = mu_grid[1] - mu_grid[0]
        u = rng_mu.uniform(size=len(chosen))
        for r in np.unique(rows):
            sel = rows == r
            idx = np.searchsorted(cdfs[r], u[sel])
            post_mu[sel] = mu_grid[np.clip(idx, 0, n_grid - 1)] + step * (
                rng_mu.uniform(size=sel.sum()) - 0.5)
        samples = np.column_stack([post_mu, chosen])
        out_names = ("mu",) + names
    else:
        samples = chosen
        out_names = names
    # single-source summaries of the width
    net_mean, net_sd = float(d.mean()), float(d.std(ddof=1))
    lo_d, hi_d = float(np.min(d)), float(np.max(d))
    prior_lo, prior_hi = _width_prior_range(posterior, width, lo_d, hi_d)
    cgrid = np.linspace(prior_lo, prior_hi, n_grid)
    c_mu = np.linspace(*(location_prior if location is None else
                         (float(np.min(theta[:, names.index(location)])),
                          float(np.max(theta[:, names.index(location)])))), n_grid)
    cll = cell_loglik_grid(y, c_mu, cgrid, family, sigma_m, bounds)
    cl = np.exp(cll - cll.max()).sum(axis=1)
    cl /= cl.sum()
    c_mean = float(np.sum(cl * cgrid))
    c_sd = float(math.sqrt(max(np.sum(cl * cgrid**2) - c_mean**2, 0.0)))
    tension = (c_mean - net_mean) / math.sqrt(c_sd**2 + net_sd**2) if (c_sd + net_sd) > 0 else 0.0
    if abs(tension) >= 3:
        notes.append(f"cells and network disagree about {width} (tension {tension:.1f} SD)")
    return HierarchicalResult(samples, out_names, width, ess, len(theta), (c_mean, c_sd),
                              (net_mean, net_sd), float(tension), int(y.size), family, level,
                              notes)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Trapezoid rule along the last axis (numpy 1.23 has only ``trapz``, numpy 2.4 only
    ``trapezoid``)."""
    dx = np.diff(x)
    return ((y[..., 1:] + y[..., :-1]) * dx).sum(axis=-1) / 2.0


def _width_prior_range(posterior: Any, width: str, lo: float, hi: float) -> tuple[float, float]:
    prior = getattr(posterior, "prior", None)
    if prior is not None and hasattr(prior, "__getitem__"):
        try:
            p = prior[width]
            return float(p.low), float(p.high)
        except Exception:
            pass
    return lo, hi
