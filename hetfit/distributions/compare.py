"""Is one condition's within-type spread different from another's?

For one cell type measured in two conditions (e.g. cells from epilepsy vs tumor donors, or
epileptogenic vs non-epileptogenic tissue), :func:`compare_spread` reports

* the width of each condition with a donor-level bootstrap CI,
* the effect size ``ratio = width_b / width_a`` with a CI from resampling donors within each
  condition (stratified cluster bootstrap; studentized on the log scale for the SD and the
  Lorentzian HWHM, percentile for IQR and MAD),
* Brown-Forsythe (Levene with median centring) and Fligner-Killeen tests: classic cell-level
  tests, which treat cells as independent and are therefore anti-conservative when cells
  share donors,
* a donor-level permutation test of ``log(width_b / width_a)``: values are centred on their
  condition's median (so a location shift does not look like a spread change), then
  condition labels are permuted among donors, keeping each donor's cells together.

A comparison is a measurement with a confidence interval and a stated contrast, not a
verdict: report the ratio and its CI whatever the p-values say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.distributions.bootstrap import (
    STATISTICS,
    Interval,
    Statistic,
    _percentile_ci,
    cluster_robust_se,
    draw_cluster_counts,
    evaluate,
    make_clusters,
    replicate_weights,
)
from hetfit.errors import InsufficientDataError, ParameterError, option
from hetfit.resources import bootstrap_estimate, permutation_estimate, require_memory
from hetfit.seeding import SeedLike, as_generator, child_seeds

WIDTHS = ("sd", "iqr", "mad", "hwhm_mle")


# ---------------------------------------------------------------------------------------
# classic cell-level tests (implemented from their definitions; checked against scipy)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    """A test statistic, its reference distribution's degrees of freedom and p-value."""

    name: str
    statistic: float
    pvalue: float
    df: tuple[float, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "statistic": self.statistic, "pvalue": self.pvalue,
                "df": list(self.df), "note": self.note}


_CELL_LEVEL_NOTE = "cells treated as independent: anti-conservative when cells share donors"


def _check_groups(groups: Sequence[np.ndarray], min_size: int = 2) -> list[np.ndarray]:
    if len(groups) < 2:
        raise ParameterError("a spread test needs at least two groups")
    out = []
    for i, g in enumerate(groups):
        a = np.asarray(g, dtype=np.float64).ravel()
        if not np.all(np.isfinite(a)):
            raise ParameterError(f"group {i} contains NaN or inf",
                                 hint="drop missing cells first and report the count")
        if a.size < min_size:
            raise InsufficientDataError(f"group {i} has {a.size} value(s); need >= {min_size}")
        out.append(a)
    return out


def brown_forsythe(*groups) -> TestResult:
    """Brown-Forsythe test: one-way ANOVA on ``|x - median(group)|``.

    ``F = (N-k)/(k-1) * sum_i n_i (zbar_i - zbar)^2 / sum_ij (z_ij - zbar_i)^2`` with
    ``z_ij = |x_ij - median_i|``, compared with F(k-1, N-k).  Equals
    ``scipy.stats.levene(..., center="median")``.
    """
    from scipy import stats

    gs = _check_groups(groups)
    z = [np.abs(g - np.median(g)) for g in gs]
    k = len(z)
    n = np.array([a.size for a in z], dtype=float)
    big_n = n.sum()
    zbar_i = np.array([a.mean() for a in z])
    zbar = np.concatenate(z).mean()
    between = float(np.sum(n * (zbar_i - zbar) ** 2))
    within = float(sum(np.sum((a - m) ** 2) for a, m in zip(z, zbar_i)))
    if within == 0:
        raise ParameterError("all absolute deviations are equal within groups: test undefined")
    f = (big_n - k) / (k - 1) * between / within
    return TestResult("brown_forsythe", float(f), float(stats.f.sf(f, k - 1, big_n - k)),
                      (float(k - 1), float(big_n - k)), _CELL_LEVEL_NOTE)


def fligner_killeen(*groups) -> TestResult:
    """Fligner-Killeen median-centred test of equal spread.

    Ranks ``r`` of ``|x_ij - median_i|`` among all N cells (ties averaged) give scores
    ``a = Phi^-1(1/2 + r / (2 (N + 1)))``; the statistic
    ``sum_i n_i (abar_i - abar)^2 / var(a)`` is compared with chi2(k-1).  Equals
    ``scipy.stats.fligner(..., center="median")``.
    """
    from scipy import stats
    from scipy.special import ndtri

    gs = _check_groups(groups)
    dev = [np.abs(g - np.median(g)) for g in gs]
    allv = np.concatenate(dev)
    big_n = allv.size
    ranks = stats.rankdata(allv)
    a = ndtri(0.5 + ranks / (2.0 * (big_n + 1)))
    var = np.var(a, ddof=1)
    if var == 0:
        raise ParameterError("all absolute deviations are tied: test undefined")
    bounds = np.cumsum([0] + [d.size for d in dev])
    abar = a.mean()
    stat = sum(
        (hi - lo) * (a[lo:hi].mean() - abar) ** 2 for lo, hi in zip(bounds[:-1], bounds[1:])
    ) / var
    k = len(gs)
    return TestResult("fligner_killeen", float(stat), float(stats.chi2.sf(stat, k - 1)),
                      (float(k - 1),), _CELL_LEVEL_NOTE)


# ---------------------------------------------------------------------------------------
# donor-level permutation test
# ---------------------------------------------------------------------------------------
def _units(donors_a, donors_b, n_a, n_b):
    """Resampling/permutation units for two conditions; returns (index_a, index_b, n_units,
    unit name, note)."""
    if donors_a is None and donors_b is None:
        idx = np.arange(n_a + n_b)
        return idx[:n_a], idx[n_a:], n_a + n_b, "cell", (
            "no donor ids: cells permuted/resampled as if independent"
        )
    da = [None] * n_a if donors_a is None else list(np.asarray(donors_a, dtype=object))
    db = [None] * n_b if donors_b is None else list(np.asarray(donors_b, dtype=object))
    # donors seen in both conditions become two units, (donor, a) and (donor, b)
    tagged = [("a", d) if d is not None and d == d and str(d) != "" else None for d in da]
    tagged += [("b", d) if d is not None and d == d and str(d) != "" else None for d in db]
    cl = make_clusters(n_a + n_b, [None if t is None else f"{t[0]}|{t[1]}" for t in tagged])
    shared = {str(d) for d in da if d is not None and d == d} & {
        str(d) for d in db if d is not None and d == d
    }
    notes = [cl.note] if cl.note else []
    if shared:
        notes.append(f"{len(shared)} donor(s) contribute cells to both conditions; each "
                     "(donor, condition) pair is one unit, which ignores the pairing")
    return (cl.index[:n_a], cl.index[n_a:], cl.n_clusters, cl.unit,
            "; ".join(notes) if notes else None)


def permutation_spread_test(
    a, b, donors_a=None, donors_b=None, width: str = "sd", n_perm: int = 2000,
    seed: SeedLike = None,
) -> TestResult:
    """Donor-level permutation test of ``log(width_b / width_a)`` (two-sided).

    Each condition is centred on its own median; then the condition labels are permuted
    among donors (all of a donor's cells move together).  ``p = (1 + #{|T*| >= |T|}) /
    (1 + n_perm)``.  Without donor ids, cells are permuted and the note says so.
    """
    xa = np.asarray(a, dtype=np.float64).ravel()
    xb = np.asarray(b, dtype=np.float64).ravel()
    _check_groups([xa, xb], min_size=3)
    st = _width_stat(width)
    ia, ib, n_units, unit, note = _units(donors_a, donors_b, xa.size, xb.size)
    ua, ub = np.unique(ia), np.unique(ib)
    if ua.size < 2 or ub.size < 2:
        raise InsufficientDataError(
            f"a permutation test needs >= 2 {unit}s per condition (got {ua.size} and {ub.size})"
        )
    x = np.concatenate([xa - np.median(xa), xb - np.median(xb)])
    unit_of_cell = np.concatenate([ia, ib])
    is_b_unit = np.zeros(n_units, dtype=bool)
    is_b_unit[ub] = True
    n_b_units = int(is_b_unit.sum())
    rng = as_generator(seed)
    n_perm = int(n_perm)
    if n_perm < 99:
        raise ParameterError(f"n_perm must be >= 99, got {n_perm}")
    require_memory(permutation_estimate(n_perm, n_units, x.size),
                   option("use a smaller n_perm", "use a smaller --n-perm"))
    # observed statistic, then permuted assignments (rows) of units to condition b
    assign = np.zeros((n_perm + 1, n_units), dtype=np.float64)
    assign[0] = is_b_unit
    chosen = np.argsort(rng.random((n_perm, n_units)), axis=1)[:, :n_b_units]
    np.put_along_axis(assign[1:], chosen, 1.0, axis=1)
    wb = assign[:, unit_of_cell]
    wa = 1.0 - wb
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.log(evaluate(st.fn, x, wb)) - np.log(evaluate(st.fn, x, wa))
    t_obs = t[0]
    null = t[1:][np.isfinite(t[1:])]
    p = float((1 + np.sum(np.abs(null) >= abs(t_obs) - 1e-12)) / (1 + null.size))
    return TestResult("permutation_log_width_ratio", float(t_obs), p, (), note or
                      f"{unit}-level permutation of condition labels ({n_perm} permutations)")


# ---------------------------------------------------------------------------------------
# effect size with a stratified donor bootstrap
# ---------------------------------------------------------------------------------------
def _width_stat(width: str) -> Statistic:
    if width not in WIDTHS:
        raise ParameterError(f"unknown width measure {width!r}", hint=f"use one of {WIDTHS}")
    return STATISTICS[width]


def _ratio_ci(xa, xb, cla, clb, st: Statistic, n_boot, level, rng) -> tuple[Interval, Interval,
                                                                             Interval]:
    n_cells = 0 if st.influence is not None else xa.size + xb.size  # weights: percentile only
    require_memory(bootstrap_estimate(n_boot, cla.n_clusters + clb.n_clusters, n_cells, 2),
                   option("use a smaller n_boot", "use a smaller --n-boot"))
    ca = draw_cluster_counts(cla.n_clusters, n_boot, rng)
    cb = draw_cluster_counts(clb.n_clusters, n_boot, rng)
    if st.influence is not None:
        ta, sea = cluster_robust_se(st, xa, cla, np.vstack([np.ones(cla.n_clusters), ca]))
        tb, seb = cluster_robust_se(st, xb, clb, np.vstack([np.ones(clb.n_clusters), cb]))
        method = "studentized"
    else:
        ta = np.r_[st.fn(xa, np.ones((1, xa.size))), evaluate(st.fn, xa,
                                                                replicate_weights(cla, ca))]
        tb = np.r_[st.fn(xb, np.ones((1, xb.size))), evaluate(st.fn, xb,
                                                                replicate_weights(clb, cb))]
        sea = seb = None
        method = "percentile"
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.log(tb) - np.log(ta)
    theta = float(lr[0])
    reps = lr[1:]
    ok = np.isfinite(reps)
    alpha = 1.0 - level
    ci = None
    if method == "studentized":
        se = np.sqrt(sea**2 + seb**2) if st.log else np.sqrt((sea / ta) ** 2 + (seb / tb) ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (reps - theta) / se[1:]
        good = np.isfinite(t)
        if good.sum() >= 0.9 * reps.size and np.isfinite(se[0]) and se[0] > 0:
            tq = np.quantile(t[good], [alpha / 2, 1 - alpha / 2])
            ci = (theta - tq[1] * se[0], theta - tq[0] * se[0])
    if ci is None:
        # quantile widths: percentile interval (BCa's jackknife acceleration is unreliable
        # for quantiles; see hetfit.distributions.bootstrap.bootstrap_ci)
        ci = _percentile_ci(reps[ok], level) if ok.sum() > 10 else (float("nan"),
                                                                       float("nan"))
        method = "percentile"
    ratio = Interval(float(np.exp(theta)), float(np.exp(ci[0])), float(np.exp(ci[1])),
                     float(np.std(np.exp(reps[ok]), ddof=1)), level, method)

    def one(tt, se_arr, cl, x):
        r = tt[1:][np.isfinite(tt[1:])]
        if se_arr is not None:
            g = np.log if st.log else (lambda v: v)
            with np.errstate(invalid="ignore", divide="ignore"):
                tstat = (g(tt[1:]) - g(tt[0])) / se_arr[1:]
            tstat = tstat[np.isfinite(tstat)]
            if tstat.size >= 0.9 * (tt.size - 1) and se_arr[0] > 0:
                q = np.quantile(tstat, [alpha / 2, 1 - alpha / 2])
                lo, hi = g(tt[0]) - q[1] * se_arr[0], g(tt[0]) - q[0] * se_arr[0]
                if st.log:
                    lo, hi = np.exp(lo), np.exp(hi)
                return Interval(float(tt[0]), float(lo), float(hi), float(np.std(r, ddof=1)),
                                level, "studentized")
        lo, hi = _percentile_ci(r, level) if r.size > 10 else (float("nan"), float("nan"))
        return Interval(float(tt[0]), lo, hi, float(np.std(r, ddof=1)), level, "percentile")

    return one(ta, sea, cla, xa), one(tb, seb, clb, xb), ratio


@dataclass
class SpreadComparison:
    """Spread of one feature in condition b relative to condition a."""

    label_a: str
    label_b: str
    width: str
    n_cells: tuple[int, int]
    n_donors: tuple[int | None, int | None]
    width_a: Interval
    width_b: Interval
    ratio: Interval  # width_b / width_a
    tests: dict[str, TestResult]
    resampling_unit: str
    feature: str | None = None
    n_dropped: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def log_ratio(self) -> float:
        return float(np.log(self.ratio.estimate))

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "contrast": f"{self.width} of {self.label_b} / {self.width} of {self.label_a}",
            "label_a": self.label_a, "label_b": self.label_b, "width": self.width,
            "n_cells": list(self.n_cells), "n_donors": list(self.n_donors),
            "n_dropped_nan": list(self.n_dropped),
            "width_a": self.width_a.to_dict(), "width_b": self.width_b.to_dict(),
            "ratio": self.ratio.to_dict(),
            "tests": {k: v.to_dict() for k, v in self.tests.items()},
            "resampling_unit": self.resampling_unit, "notes": self.notes,
        }


def _drop_nan(x, donors):
    x = np.asarray(x, dtype=np.float64).ravel()
    keep = np.isfinite(x)
    d = None
    if donors is not None:
        d = np.asarray(donors, dtype=object).ravel()
        if d.size != x.size:
            raise ParameterError(f"{d.size} donor ids for {x.size} values",
                                 hint="give one donor id per cell")
        d = d[keep]
    return x[keep], d, int((~keep).sum())


def compare_spread(
    a,
    b,
    donors_a=None,
    donors_b=None,
    width: str = "sd",
    n_boot: int = 2000,
    n_perm: int = 2000,
    level: float = 0.95,
    seed: SeedLike = None,
    labels: tuple[str, str] = ("a", "b"),
    feature: str | None = None,
    min_cells: int = 5,
) -> SpreadComparison:
    """Compare the within-type spread of one feature between two conditions.

    Parameters
    ----------
    a, b:
        Per-cell values in condition a (reference) and b, in the feature's unit.  NaNs are
        dropped and counted (``n_dropped``).
    donors_a, donors_b:
        Donor id per cell (or None).  Without donor ids the CIs and the permutation test
        resample cells and ``notes`` says so.
    width:
        ``"sd"`` (default), ``"iqr"``, ``"mad"`` or ``"hwhm_mle"`` (Lorentzian Delta).
    n_boot, n_perm:
        Bootstrap replicates for the CIs and permutations for the test.
    level:
        Confidence level of the intervals.
    seed:
        Seed (bootstrap and permutations use independent child seeds).
    labels:
        Names of the conditions, e.g. ``("tumor", "epilepsy")``.
    min_cells:
        Fewer cells in a condition raise :class:`InsufficientDataError`.

    Returns
    -------
    SpreadComparison with ``ratio = width_b / width_a`` and its CI, each condition's width
    with its CI, and the tests ``brown_forsythe``, ``fligner_killeen`` and ``permutation``.
    """
    xa, da, dropped_a = _drop_nan(a, donors_a)
    xb, db, dropped_b = _drop_nan(b, donors_b)
    for lab, x in zip(labels, (xa, xb)):
        if x.size < min_cells:
            raise InsufficientDataError(
                f"condition {lab!r} has {x.size} cell(s) with a value; need >= {min_cells}",
                hint="pool types or lower min_cells knowingly",
            )
    st = _width_stat(width)
    if (da is None) != (db is None):
        raise ParameterError(
            "donor ids were given for one condition only",
            hint="pass donor ids for both conditions, or for neither",
        )
    cla = make_clusters(xa.size, da)
    clb = make_clusters(xb.size, db)
    for lab, cl in zip(labels, (cla, clb)):
        if cl.n_clusters < 3:
            raise InsufficientDataError(
                f"condition {lab!r} has only {cl.n_clusters} {cl.unit}(s)",
                hint="a donor-level interval needs >= 3 donors per condition",
            )
    s_boot, s_perm = child_seeds(seed, 2)
    rng = as_generator(int(s_boot))
    w_a, w_b, ratio = _ratio_ci(xa, xb, cla, clb, st, int(n_boot), level, rng)
    tests = {
        "brown_forsythe": brown_forsythe(xa, xb),
        "fligner_killeen": fligner_killeen(xa, xb),
        "permutation": permutation_spread_test(xa, xb, da, db, width, n_perm, int(s_perm)),
    }
    notes = [n for n in (cla.note, clb.note) if n]
    unit = "donor" if cla.unit == "donor" else "cell"
    for lab, cl in zip(labels, (cla, clb)):
        if cl.unit == "donor" and cl.n_clusters < 10:
            notes.append(f"{lab!r} has {cl.n_clusters} donors: intervals approximate")
    if width == "sd":
        notes.append("SD is not robust to outliers; compare with width='iqr' or 'mad'")
    return SpreadComparison(
        label_a=str(labels[0]), label_b=str(labels[1]), width=width,
        n_cells=(int(xa.size), int(xb.size)),
        n_donors=(None if cla.unit == "cell" else cla.n_clusters - cla.n_without_donor,
                  None if clb.unit == "cell" else clb.n_clusters - clb.n_without_donor),
        width_a=w_a, width_b=w_b, ratio=ratio, tests=tests, resampling_unit=unit,
        feature=feature, n_dropped=(dropped_a, dropped_b), notes=list(dict.fromkeys(notes)),
    )


def compare_conditions(
    table,
    features: Sequence[str],
    condition: str,
    a: str,
    b: str,
    group_by: Sequence[str] = (),
    donor_column: str | None = "donor_id",
    width: str = "sd",
    n_boot: int = 2000,
    n_perm: int = 2000,
    level: float = 0.95,
    seed: SeedLike = None,
    min_cells: int = 5,
) -> list[dict[str, Any]]:
    """:func:`compare_spread` for every type (``group_by``) and feature of a cell table.

    Returns one plain dict per (type, feature): the type's labels plus the comparison, or
    ``status = "insufficient"`` with the reason when a condition has too few cells/donors.
    """
    df = _as_frame(table)
    missing = [c for c in [condition, *group_by, *features] if c not in df.columns]
    if missing:
        raise ParameterError(f"columns not in the table: {missing}",
                             hint=f"available: {sorted(map(str, df.columns))}")
    conds = set(df[condition].dropna().astype(str))
    for lab in (a, b):
        if lab not in conds:
            raise ParameterError(f"condition {lab!r} not found in column {condition!r}",
                                 hint=f"values present: {sorted(conds)}")
    use_donor = donor_column is not None and donor_column in df.columns
    out = []
    by = list(group_by)[0] if len(group_by) == 1 else list(group_by)
    groups = [((), df)] if not group_by else list(df.groupby(by, dropna=False, sort=True))
    seeds = child_seeds(seed, len(groups) * len(features))
    i = 0
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        labels = {g: (None if v != v else v) for g, v in zip(group_by, key)}
        cond = sub[condition].astype(str)
        for feat in features:
            sa, sb = sub[cond == a], sub[cond == b]
            row: dict[str, Any] = {"type": labels, "feature": feat, "condition": condition}
            try:
                res = compare_spread(
                    sa[feat].to_numpy(dtype=float), sb[feat].to_numpy(dtype=float),
                    sa[donor_column].to_numpy(dtype=object) if use_donor else None,
                    sb[donor_column].to_numpy(dtype=object) if use_donor else None,
                    width=width, n_boot=n_boot, n_perm=n_perm, level=level,
                    seed=int(seeds[i]), labels=(a, b), feature=feat, min_cells=min_cells,
                )
                row.update(status="ok", **res.to_dict())
            except InsufficientDataError as exc:
                row.update(status="insufficient", reason=exc.one_line(),
                           n_cells=[int(sa[feat].notna().sum()), int(sb[feat].notna().sum())])
            out.append(row)
            i += 1
    return out


def _as_frame(table):
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    for attr in ("df", "data", "frame", "table"):
        obj = getattr(table, attr, None)
        if isinstance(obj, pd.DataFrame):
            return obj
    to_frame = getattr(table, "to_frame", None) or getattr(table, "to_dataframe", None)
    if callable(to_frame):
        return to_frame()
    raise ParameterError(
        f"expected a pandas DataFrame or a CellTable, got {type(table).__name__}"
    )
