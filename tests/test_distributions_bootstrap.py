"""Donor-level bootstrap: weighted statistics vs explicit resamples, Cauchy MLE vs scipy,
cluster-robust SE vs the textbook formula, and coverage of the true width (acceptance:
synthetic recovery with donor effects)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from hetfit.distributions import bootstrap as B
from hetfit.errors import InsufficientDataError, ParameterError


def _expanded(x, w):
    return np.repeat(x, w.astype(int))


def test_weighted_statistics_equal_explicit_resamples():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=41), 1)  # rounding creates ties
    w = rng.integers(0, 4, size=(60, x.size)).astype(float)
    for q in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0):
        expect = [np.quantile(_expanded(x, r), q) for r in w]
        np.testing.assert_allclose(B.weighted_quantile(x, w, q), expect, rtol=0, atol=1e-12)
    np.testing.assert_allclose(B.weighted_sd(x, w), [np.std(_expanded(x, r), ddof=1) for r in w])
    np.testing.assert_allclose(B.weighted_mean(x, w), [np.mean(_expanded(x, r)) for r in w])
    mad = [np.median(np.abs(_expanded(x, r) - np.median(_expanded(x, r)))) for r in w]
    np.testing.assert_allclose(B.weighted_mad(x, w), mad, atol=1e-12)
    iqr = [np.subtract(*np.quantile(_expanded(x, r), [0.75, 0.25])) for r in w]
    np.testing.assert_allclose(B.weighted_iqr(x, w), iqr, atol=1e-12)


def test_cauchy_mle_matches_scipy_and_direct_optimisation():
    x = stats.cauchy.rvs(loc=-40.0, scale=2.0, size=300, random_state=11)
    loc, scale = B.weighted_cauchy_mle(x, np.ones((1, x.size)))
    s_loc, s_scale = stats.cauchy.fit(x)
    assert loc[0] == pytest.approx(s_loc, abs=1e-3)
    assert scale[0] == pytest.approx(s_scale, rel=1e-3)
    ll = stats.cauchy.logpdf(x, loc[0], scale[0]).sum()
    assert ll >= stats.cauchy.logpdf(x, s_loc, s_scale).sum() - 1e-9
    # frequency weights == MLE of the expanded sample (independent optimiser)
    w = np.random.default_rng(0).integers(0, 3, size=(3, x.size)).astype(float)
    locs, scales = B.weighted_cauchy_mle(x, w)
    for r in range(3):
        xe = _expanded(x, w[r])
        res = optimize.minimize(
            lambda p, xe=xe: -stats.cauchy.logpdf(xe, p[0], np.exp(p[1])).sum(),
            [np.median(xe), 0.0], method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000},
        )
        assert locs[r] == pytest.approx(res.x[0], abs=1e-4)
        assert scales[r] == pytest.approx(np.exp(res.x[1]), rel=1e-4)


def test_cauchy_mle_does_not_exist_when_half_the_values_tie():
    # Copas (1975): with >= n/2 equal values the likelihood is unbounded as scale -> 0
    x = np.array([1.0, 1.0, 1.0, 2.0, 5.0, 7.0])
    loc, scale = B.weighted_cauchy_mle(x, np.ones((1, 6)))
    assert np.isnan(scale[0]) and np.isnan(loc[0])


def test_cluster_robust_se_of_the_mean_equals_textbook_formula():
    rng = np.random.default_rng(5)
    donors = np.repeat(np.arange(7), [3, 5, 2, 6, 4, 4, 3])
    x = rng.normal(size=donors.size) + donors * 0.3
    cl = B.make_clusters(x.size, donors)
    _, se = B.cluster_robust_se(B.STATISTICS["mean"], x, cl, np.ones((1, 7)))
    # CR1-type: G/(G-1) * sum_g (sum_{i in g} (x_i - xbar))^2 / N^2
    u = np.array([np.sum(x[donors == g] - x.mean()) for g in range(7)])
    expect = np.sqrt(7 / 6 * np.sum(u**2) / x.size**2)
    assert se[0] == pytest.approx(expect, rel=1e-12)


def test_clusters_missing_donor_ids_and_fallback_to_cells():
    cl = B.make_clusters(5, ["a", "a", None, "b", np.nan])
    assert cl.unit == "donor" and cl.n_clusters == 4 and cl.n_without_donor == 2
    assert "own donor" in cl.note
    res = B.bootstrap_ci(np.arange(12.0), None, ["mean"], n_boot=200, seed=0)
    assert res.resampling_unit == "cell" and res.n_donors is None
    assert "as if independent" in res.note


def _hierarchical(rng, family, n_donors=20, donor_w=1.5, cell_w=3.0):
    sizes = rng.integers(4, 13, size=n_donors)
    donors = np.repeat(np.arange(n_donors), sizes)
    if family == "gaussian":
        x = -40 + rng.normal(0, donor_w, n_donors)[donors] + rng.normal(0, cell_w, donors.size)
        return x, donors, np.hypot(donor_w, cell_w)
    x = -40 + donor_w * rng.standard_cauchy(n_donors)[donors] \
        + cell_w * rng.standard_cauchy(donors.size)
    return x, donors, donor_w + cell_w


def test_synthetic_recovery_gaussian_with_donor_effects():
    """Acceptance: true width = SD of the cell-level marginal, sqrt(tau^2 + s^2); the donor-level
    95% interval contains it in >= 90 of 100 repetitions."""
    rng = np.random.default_rng(101)
    hits = 0
    for r in range(100):
        x, d, true = _hierarchical(rng, "gaussian", n_donors=30)
        iv = B.bootstrap_ci(x, d, ["sd"], n_boot=400, seed=r).intervals["sd"]
        hits += iv.contains(true)
    assert hits >= 90


def test_synthetic_recovery_lorentzian_with_donor_effects():
    """Acceptance: Cauchy donor offsets (HWHM 0.5) + Cauchy cells (HWHM 1.5) have a Cauchy
    marginal with HWHM 2.0; the interval for the ML HWHM contains it in >= 90 of 100."""
    rng = np.random.default_rng(202)
    hits = 0
    for r in range(100):
        x, d, true = _hierarchical(rng, "lorentzian", n_donors=30, donor_w=0.5, cell_w=1.5)
        iv = B.bootstrap_ci(x, d, ["hwhm_mle"], n_boot=300, seed=r).intervals["hwhm_mle"]
        hits += iv.contains(true)
    assert hits >= 90


def test_resampling_cells_undercovers_when_donors_differ():
    """Why donors: with strong donor effects, resampling cells gives intervals for the mean
    that are far too narrow; resampling donors does not."""
    rng = np.random.default_rng(7)
    hit_donor = hit_cell = 0
    for r in range(60):
        x, d, _ = _hierarchical(rng, "gaussian", n_donors=15, donor_w=3.0, cell_w=1.0)
        hit_donor += B.bootstrap_ci(x, d, ["mean"], n_boot=300, seed=r).intervals[
            "mean"].contains(-40.0)
        hit_cell += B.bootstrap_ci(x, None, ["mean"], n_boot=300, seed=r).intervals[
            "mean"].contains(-40.0)
    assert hit_donor >= 52  # ~0.95 * 60 minus sampling noise
    assert hit_cell <= 40  # cells-as-independent intervals are ~3x too narrow


def test_bootstrap_is_reproducible_and_methods_are_reported():
    rng = np.random.default_rng(0)
    x, d, _ = _hierarchical(rng, "gaussian")
    a = B.bootstrap_ci(x, d, ["sd", "iqr", "median"], n_boot=300, seed=9)
    b = B.bootstrap_ci(x, d, ["sd", "iqr", "median"], n_boot=300, seed=9)
    assert a.to_dict() == b.to_dict()
    assert a.intervals["sd"].method == "studentized"
    assert a.intervals["iqr"].method == "percentile"
    bca = B.bootstrap_ci(x, d, ["iqr"], n_boot=300, seed=9, method="bca")
    assert bca.intervals["iqr"].method == "bca"
    p = B.bootstrap_ci(x, d, ["sd"], n_boot=300, seed=9, method="percentile")
    assert p.intervals["sd"].method == "percentile"
    assert p.intervals["sd"].estimate == a.intervals["sd"].estimate
    assert a.n_donors == 20 and a.resampling_unit == "donor"


def test_bootstrap_bad_inputs():
    x = np.arange(10.0)
    with pytest.raises(ParameterError, match="non-finite"):
        B.bootstrap_ci(np.r_[x, np.nan], n_boot=200)
    with pytest.raises(ParameterError, match="n_boot"):
        B.bootstrap_ci(x, n_boot=10)
    with pytest.raises(ParameterError, match="level"):
        B.bootstrap_ci(x, n_boot=200, level=1.5)
    with pytest.raises(ParameterError, match="unknown statistic"):
        B.bootstrap_ci(x, statistics=["kurtosis"], n_boot=200)
    with pytest.raises(ParameterError, match="one donor id per cell"):
        B.bootstrap_ci(x, donors=["a"] * 3, n_boot=200)
    with pytest.raises(InsufficientDataError, match="at least 3"):
        B.bootstrap_ci(x, donors=["a"] * 5 + ["b"] * 5, n_boot=200)
    with pytest.raises(ParameterError, match="CI method"):
        B.bootstrap_ci(x, n_boot=200, method="abc")


def test_few_donors_never_give_an_infinite_interval(tmp_path, capsys):
    """With 4 donors the studentized t of the Lorentzian HWHM explodes; the interval must
    fall back to a finite one (it used to be reported as [x, inf] with an overflow warning)."""
    import json
    import warnings

    from hetfit.cli.main import main

    table = tmp_path / "cells.csv"
    table.write_text("cell_id,donor_id,cell_type,v_threshold_mV,tau_m_ms\n" + "".join(
        f"c{i},d{i % 4},pyr,{-45 + (i % 7) * 0.8:.2f},{15 + (i % 5) * 2.0:.1f}\n"
        for i in range(30)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code = main(["estimate", "--quiet", "--json", "--source", "table", str(table),
                     "--n-boot", "100", "--n-gof", "0", "--min-donors", "3"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    for group in doc["estimate"]["groups"]:
        for feature in group["features"].values():
            for name, w in feature["widths"].items():
                assert w["low"] is not None and w["high"] is not None, (name, w)
                assert w["low"] <= w["estimate"] <= w["high"], (name, w)
