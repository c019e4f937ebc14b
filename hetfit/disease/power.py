"""Statistical power of spread comparisons: how many donors and cells does a study need?

A lab planning a healthy-vs-disease comparison of within-type heterogeneity wants to know
how many patients (donors) and cells per patient it takes to detect a given change of
spread.  Cells of one donor are not independent, so the answer depends on how much of the
spread lies *between* donors.  This module answers by simulation.

Generative model (Gaussian, per condition c in {healthy, disease})::

    x_dj = mu + b_d + e_dj,   b_d ~ N(0, icc * s_c^2),   e_dj ~ N(0, (1 - icc) * s_c^2)

so the cell-level marginal SD is ``s_c`` (the "true width", as in
:mod:`hetfit.distributions`), ``icc`` is the share of variance between donors, and the
width ratio is ``s_disease / s_healthy``.  For every design (donors per condition, cells per
donor) ``n_sim`` studies are simulated and each is analysed with the spread tests of
:mod:`hetfit.distributions.compare` (Brown-Forsythe, Fligner-Killeen, donor-level
permutation test of the log width ratio) and the classic F-test of variances; power is the
fraction of studies with p < alpha (with a Wilson interval).  At ``width_ratio = 1`` the same
numbers are the tests' type I error: with donor effects the cell-level tests reject too
often, the donor-level permutation test does not.

The F-test's power for independent Gaussian cells has a closed form (the variance ratio is
``r^2`` times an F variable), which :func:`f_test_power` gives; the simulation reproduces it
(tests), which checks the machinery independently of the other tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.seeding import SeedLike, as_generator, child_seeds

__all__ = [
    "TESTS",
    "PowerCurve",
    "SpreadStudyDesign",
    "StudyPlan",
    "estimate_icc",
    "f_test_power",
    "minimum_sample_size",
    "plan_study",
    "simulate_spread_study",
    "spread_power",
]

TESTS = ("brown_forsythe", "fligner_killeen", "permutation", "f_test")


@dataclass(frozen=True)
class SpreadStudyDesign:
    """One study design.

    Parameters
    ----------
    n_donors:
        Donors (patients, animals) per condition: ``(healthy, disease)``.
    cells_per_donor:
        Cells recorded per donor.
    width_ratio:
        True ratio of cell-level SDs, disease / healthy (1 = no change).
    icc:
        Share of the variance between donors, in [0, 1) (0 = cells independent).
    """

    n_donors: tuple[int, int]
    cells_per_donor: int
    width_ratio: float
    icc: float = 0.0

    def __post_init__(self) -> None:
        nd = tuple(int(n) for n in np.broadcast_to(np.asarray(self.n_donors), (2,)))
        object.__setattr__(self, "n_donors", nd)
        if min(nd) < 2:
            raise ParameterError(f"need at least 2 donors per condition, got {nd}")
        if int(self.cells_per_donor) != self.cells_per_donor or self.cells_per_donor < 1:
            raise ParameterError(f"cells_per_donor must be an integer >= 1, got "
                                 f"{self.cells_per_donor}")
        if not (math.isfinite(self.width_ratio) and self.width_ratio > 0):
            raise ParameterError(f"width_ratio must be > 0, got {self.width_ratio}",
                                 hint="e.g. 0.56 for the 4.4 vs 7.8 mV of Rich et al. 2022")
        if not 0.0 <= self.icc < 1.0:
            raise ParameterError(f"icc must lie in [0, 1), got {self.icc}",
                                 hint="the share of variance between donors")
        if min(nd) * self.cells_per_donor < 3:
            raise ParameterError("each condition needs at least 3 cells in total")

    @property
    def n_cells(self) -> tuple[int, int]:
        return (self.n_donors[0] * self.cells_per_donor, self.n_donors[1] * self.cells_per_donor)


def simulate_spread_study(design: SpreadStudyDesign, seed: SeedLike = None,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One simulated study: ``(x_healthy, donors_healthy, x_disease, donors_disease)``.

    The healthy condition has cell-level SD 1, the disease condition ``width_ratio``.
    """
    rng = as_generator(seed)
    out = []
    for c, s in enumerate((1.0, design.width_ratio)):
        nd, k = design.n_donors[c], design.cells_per_donor
        b = rng.normal(0.0, s * math.sqrt(design.icc), nd)
        e = rng.normal(0.0, s * math.sqrt(1.0 - design.icc), (nd, k))
        out.append((b[:, None] + e).ravel())
        out.append(np.repeat(np.arange(nd) + 10_000 * c, k).astype(object))
    return out[0], out[1], out[2], out[3]


def _f_test(xa: np.ndarray, xb: np.ndarray) -> float:
    from scipy import stats

    va, vb = np.var(xa, ddof=1), np.var(xb, ddof=1)
    f = vb / va
    p = stats.f.cdf(f, xb.size - 1, xa.size - 1)
    return float(min(1.0, 2.0 * min(p, 1.0 - p)))


def _pvalues(xa, da, xb, db, tests: Sequence[str], n_perm: int, seed: int,
             use_donors: bool) -> dict[str, float]:
    from hetfit.distributions.compare import (
        brown_forsythe,
        fligner_killeen,
        permutation_spread_test,
    )

    out = {}
    for t in tests:
        if t == "brown_forsythe":
            out[t] = brown_forsythe(xa, xb).pvalue
        elif t == "fligner_killeen":
            out[t] = fligner_killeen(xa, xb).pvalue
        elif t == "permutation":
            out[t] = permutation_spread_test(
                xa, xb, da if use_donors else None, db if use_donors else None,
                n_perm=n_perm, seed=seed).pvalue
        elif t == "f_test":
            out[t] = _f_test(xa, xb)
    return out


def _wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    if n == 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    p = k / n
    den = 1.0 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, c - h), min(1.0, c + h))


@dataclass
class PowerCurve:
    """Power of each test along a grid of donors per condition.

    Attributes
    ----------
    n_donors:
        Donors per condition ``(n_points, 2)`` (healthy, disease).
    n_cells:
        Cells per condition ``(n_points, 2)``.
    power:
        Test name -> rejection rate at each grid point.
    interval:
        Test name -> ``(n_points, 2)`` Wilson 95 % interval of the rejection rate.
    minimum_donors:
        Test name -> smallest number of healthy-condition donors reaching ``target`` power
        (linear interpolation between grid points; None when the grid never reaches it).
    """

    n_donors: np.ndarray
    n_cells: np.ndarray
    power: dict[str, np.ndarray]
    interval: dict[str, np.ndarray]
    minimum_donors: dict[str, float | None]
    width_ratio: float
    icc: float
    cells_per_donor: int
    alpha: float
    target: float
    n_sim: int
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_donors": self.n_donors, "n_cells": self.n_cells,
            "power": self.power, "interval": self.interval,
            "minimum_donors": self.minimum_donors, "width_ratio": self.width_ratio,
            "icc": self.icc, "cells_per_donor": self.cells_per_donor, "alpha": self.alpha,
            "target": self.target, "n_sim": self.n_sim, "notes": list(self.notes),
            "settings": self.settings,
        }

    def to_frame(self):
        import pandas as pd

        rows = []
        for t, p in self.power.items():
            for i in range(p.size):
                rows.append({"test": t, "n_donors_healthy": int(self.n_donors[i, 0]),
                             "n_donors_disease": int(self.n_donors[i, 1]),
                             "n_cells_healthy": int(self.n_cells[i, 0]),
                             "n_cells_disease": int(self.n_cells[i, 1]), "power": float(p[i]),
                             "low": float(self.interval[t][i, 0]),
                             "high": float(self.interval[t][i, 1])})
        return pd.DataFrame(rows)


def _min_n(n: np.ndarray, p: np.ndarray, target: float) -> float | None:
    above = np.flatnonzero(p >= target)
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(n[0])
    n0, n1, p0, p1 = n[i - 1], n[i], p[i - 1], p[i]
    return float(n0 + (n1 - n0) * (target - p0) / (p1 - p0)) if p1 > p0 else float(n1)


def spread_power(
    width_ratio: float,
    n_donors: Sequence[int] | np.ndarray,
    *,
    cells_per_donor: int = 5,
    icc: float = 0.0,
    donor_ratio: float = 1.0,
    tests: Sequence[str] = ("brown_forsythe", "fligner_killeen", "permutation"),
    alpha: float = 0.05,
    target: float = 0.8,
    n_sim: int = 400,
    n_perm: int = 199,
    seed: SeedLike = 0,
) -> PowerCurve:
    """Power to detect a change of spread, by simulating studies with donor effects.

    Parameters
    ----------
    width_ratio:
        True SD ratio disease / healthy (``1`` gives each test's type I error).
    n_donors:
        Grid of donors in the healthy condition; the disease condition has
        ``round(donor_ratio * n)`` donors.
    cells_per_donor:
        Cells per donor (1 with ``icc=0`` is a plain cell-level design).
    icc:
        Share of variance between donors (estimate it from pilot data with
        :func:`estimate_icc`).
    tests:
        Any of ``"brown_forsythe"``, ``"fligner_killeen"``, ``"permutation"`` (donor-level;
        cell-level when ``cells_per_donor == 1``) and ``"f_test"``.
    alpha, target:
        Significance level and the power a design must reach for ``minimum_donors``.
    n_sim, n_perm:
        Simulated studies per grid point and permutations per permutation test.
    seed:
        Root seed; grid point i uses child seed i (same studies for every test).
    """
    grid = np.asarray(n_donors, dtype=float).ravel()
    if grid.size < 1 or np.any(grid != np.round(grid)) or np.any(grid < 2):
        raise ParameterError("n_donors must be integers >= 2", hint="e.g. [4, 8, 16, 32]")
    if np.any(np.diff(grid) <= 0):
        raise ParameterError("n_donors must be strictly increasing")
    bad = [t for t in tests if t not in TESTS]
    if bad or not tests:
        raise ParameterError(f"unknown test(s) {bad}", hint=f"use any of {TESTS}")
    if not 0.0 < alpha < 0.5 or not 0.0 < target < 1.0:
        raise ParameterError("alpha must lie in (0, 0.5) and target in (0, 1)")
    if int(n_sim) != n_sim or n_sim < 20:
        raise ParameterError(f"n_sim must be an integer >= 20, got {n_sim}")
    if not donor_ratio > 0:
        raise ParameterError(f"donor_ratio must be > 0, got {donor_ratio}")
    designs = [SpreadStudyDesign((int(n), max(2, int(round(donor_ratio * n)))),
                                 int(cells_per_donor), float(width_ratio), float(icc))
               for n in grid]
    use_donors = cells_per_donor > 1
    rej = {t: np.zeros(grid.size) for t in tests}
    for i, (design, s) in enumerate(zip(designs, child_seeds(seed, grid.size))):
        sims = child_seeds(int(s), int(n_sim))
        for ss in sims:
            rng = np.random.default_rng(int(ss))
            xa, da, xb, db = simulate_spread_study(design, rng)
            pv = _pvalues(xa, da, xb, db, tests, int(n_perm),
                          int(rng.integers(0, 2**63 - 1)), use_donors)
            for t, p in pv.items():
                rej[t][i] += p < alpha
    power = {t: r / n_sim for t, r in rej.items()}
    interval = {t: np.array([_wilson(int(k), int(n_sim)) for k in r]) for t, r in rej.items()}
    nd = np.array([d.n_donors for d in designs])
    notes = []
    if icc > 0 and any(t in tests for t in ("brown_forsythe", "fligner_killeen", "f_test")):
        notes.append("cell-level tests (Brown-Forsythe, Fligner-Killeen, F) ignore donor "
                     "effects; with icc > 0 their rejection rate exceeds alpha even without a "
                     "change (check with width_ratio = 1)")
    if "permutation" in tests and n_perm < 999:
        notes.append(f"permutation p-values from {n_perm} permutations (resolution "
                     f"{1 / (n_perm + 1):.3f})")
    return PowerCurve(
        n_donors=nd, n_cells=np.array([d.n_cells for d in designs]), power=power,
        interval=interval,
        minimum_donors={t: _min_n(grid, p, target) for t, p in power.items()},
        width_ratio=float(width_ratio), icc=float(icc), cells_per_donor=int(cells_per_donor),
        alpha=alpha, target=target, n_sim=int(n_sim), notes=notes,
        settings={"donor_ratio": donor_ratio, "n_perm": n_perm, "seed": seed,
                  "tests": list(tests), "model": "Gaussian donor + cell effects"},
    )


def minimum_sample_size(
    width_ratio: float,
    *,
    cells_per_donor: int = 5,
    icc: float = 0.0,
    test: str = "permutation",
    target: float = 0.8,
    max_donors: int = 256,
    **kwargs: Any,
) -> float | None:
    """Donors per condition needed for ``target`` power with ``test`` (None if > max).

    Evaluates :func:`spread_power` on a doubling grid 2, 4, 8, ... up to ``max_donors``,
    stopping at the first grid point above the target, and interpolates.
    """
    grid = []
    n = 4
    while n <= max_donors:
        grid.append(n)
        n *= 2
    found = None
    lo_n, lo_p = None, None
    for n in grid:
        pc = spread_power(width_ratio, [n], cells_per_donor=cells_per_donor, icc=icc,
                          tests=(test,), target=target, **kwargs)
        p = float(pc.power[test][0])
        if p >= target:
            if lo_n is None:
                return float(n)
            found = lo_n + (n - lo_n) * (target - lo_p) / (p - lo_p) if p > lo_p else n
            break
        lo_n, lo_p = n, p
    return None if found is None else float(found)


def f_test_power(width_ratio: float, n_a: int, n_b: int, alpha: float = 0.05) -> float:
    """Exact power of the two-sided F-test of variances for independent Gaussian cells.

    ``F = s_b^2 / s_a^2`` is ``r^2`` times an F(n_b - 1, n_a - 1) variable, so the power is
    ``P(r^2 F < f_lo) + P(r^2 F > f_hi)`` with the null quantiles ``f_lo, f_hi``.
    """
    from scipy import stats

    if n_a < 2 or n_b < 2:
        raise ParameterError("the F-test needs at least 2 cells per condition")
    d1, d2 = n_b - 1, n_a - 1
    lo, hi = stats.f.ppf([alpha / 2.0, 1.0 - alpha / 2.0], d1, d2)
    r2 = float(width_ratio) ** 2
    return float(stats.f.cdf(lo / r2, d1, d2) + stats.f.sf(hi / r2, d1, d2))


def estimate_icc(values: Sequence[float] | np.ndarray, donors: Sequence[Any]) -> float:
    """Share of variance between donors (one-way random-effects ANOVA estimator).

    ``icc = (MSB - MSW) / (MSB + (k0 - 1) MSW)`` with the usual ``k0`` for unequal donor
    sizes; truncated to [0, 1).  Needs at least 2 donors with cells and one donor with 2+.
    """
    x = np.asarray(values, dtype=float).ravel()
    d = np.asarray(donors, dtype=object).ravel()
    if x.size != d.size:
        raise ParameterError(f"{d.size} donor ids for {x.size} values")
    ok = np.isfinite(x) & np.array([v is not None and v == v for v in d])
    x, d = x[ok], d[ok].astype(str)
    labels, idx = np.unique(d, return_inverse=True)
    g = labels.size
    if g < 2:
        raise InsufficientDataError("estimating the donor share of variance needs >= 2 donors")
    n_i = np.bincount(idx)
    big_n = x.size
    if big_n - g < 1:
        raise InsufficientDataError("every donor has one cell: within-donor variance unknown")
    means = np.bincount(idx, weights=x) / n_i
    grand = x.mean()
    msb = float(np.sum(n_i * (means - grand) ** 2) / (g - 1))
    msw = float(np.sum((x - means[idx]) ** 2) / (big_n - g))
    k0 = (big_n - np.sum(n_i**2) / big_n) / (g - 1)
    den = msb + (k0 - 1.0) * msw
    icc = (msb - msw) / den if den > 0 else 0.0
    return float(min(max(icc, 0.0), 0.99))


@dataclass
class StudyPlan:
    """Power curves for a future study shaped like a measured one (see :func:`plan_study`)."""

    icc: float
    cells_per_donor: int
    has_donors: bool
    curves: dict[str, PowerCurve]  # label of the width ratio -> curve
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"icc": self.icc, "cells_per_donor": self.cells_per_donor,
                "has_donors": self.has_donors,
                "curves": {k: v.to_dict() for k, v in self.curves.items()},
                "notes": list(self.notes)}


def plan_study(
    values: Sequence[np.ndarray],
    donors: Sequence[np.ndarray | None],
    width_ratios: Sequence[float] = (0.75,),
    *,
    n_donors: Sequence[int] = (4, 8, 16, 32, 64),
    test: str = "permutation",
    n_sim: int = 200,
    n_perm: int = 199,
    seed: SeedLike = 0,
) -> StudyPlan:
    """How many donors would a study like this one need to detect a given width ratio?

    The donor share of variance (:func:`estimate_icc`, each condition centred on its own
    mean so that a location difference does not count as donor variance) and the median
    number of cells per donor are taken from the measured data; :func:`spread_power` then
    gives the power of ``test`` for each ratio in ``width_ratios``.  Without donor ids the
    plan is for independent cells (``cells_per_donor = 1``), and the notes say so.
    """
    xs, ds = [], []
    has = all(d is not None for d in donors) and len(values) == len(donors)
    for c, (x, d) in enumerate(zip(values, donors)):
        x = np.asarray(x, dtype=float)
        ok = np.isfinite(x)
        xs.append(x[ok] - x[ok].mean())
        if has:
            ds.append(np.array([f"{c}|{v}" for v in np.asarray(d, dtype=object)[ok]],
                               dtype=object))
    notes = []
    if has:
        allx, alld = np.concatenate(xs), np.concatenate(ds)
        icc = estimate_icc(allx, alld)
        _, counts = np.unique(alld.astype(str), return_counts=True)
        k = max(1, int(round(float(np.median(counts)))))
        notes.append(f"donor share of variance {icc:.2f} and {k} cells per donor (median) "
                     "from the data")
    else:
        icc, k = 0.0, 1
        notes.append("no donor ids: planned for independent cells (one cell per donor); a "
                     "real study with several cells per patient needs more")
    curves = {}
    for j, r in enumerate(width_ratios):
        curves[f"ratio {r:.3g}"] = spread_power(
            float(r), n_donors, cells_per_donor=k, icc=icc, tests=(test,), n_sim=n_sim,
            n_perm=n_perm, seed=int(child_seeds(seed, len(width_ratios))[j]))
    return StudyPlan(float(icc), k, has, curves, notes)
