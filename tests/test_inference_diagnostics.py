"""Diagnostics against exact posteriors: SBC, coverage, PPC and misspecification, with NaN
simulations present."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hetfit.errors import InsufficientDataError
from hetfit.inference.diagnostics import (
    coverage_from_ranks,
    misspecification_check,
    posterior_predictive_check,
    rank_uniformity,
    recovery,
    sbc,
)
from hetfit.inference.priors import Prior
from hetfit.inference.simulator import DIVERGED, NONFINITE_SUMMARY
from hetfit.inference.toy_models import AnalyticGaussianPosterior, GaussianToy
from hetfit.seeding import child_seeds

PRIOR = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)})
TOY = GaussianToy(sigma=0.1, fail_prob=0.1)


@pytest.fixture(scope="module")
def heldout():
    theta = PRIOR.sample(400, seed=21)
    batch = TOY.simulate(theta, child_seeds(22, 400))
    assert 0 < np.count_nonzero(batch.status) < 80  # some failed simulations are present
    return theta, batch


def test_sbc_accepts_the_exact_posterior_despite_failed_simulations(heldout):
    theta, batch = heldout
    res = sbc(AnalyticGaussianPosterior(TOY, PRIOR), theta, batch.x, batch.status,
              n_posterior_samples=100, seed=1)
    n_bad = int(np.count_nonzero(batch.status))
    assert res.n_excluded == n_bad and res.n_cases == 400 - n_bad
    assert res.excluded_by_reason["diverged"] == np.count_nonzero(batch.status == DIVERGED)
    assert res.excluded_by_reason["nonfinite_summary"] == np.count_nonzero(
        batch.status == NONFINITE_SUMMARY)
    assert all(res.calibrated.values()), res.ks_pvalue
    assert res.ranks.min() >= 0 and res.ranks.max() <= 100
    # coverage of central intervals is the nominal level up to binomial noise
    cov = res.coverage
    tol = 3.5 * np.sqrt(cov.levels * (1 - cov.levels) / res.n_cases)
    assert np.all(np.abs(cov.empirical - cov.levels[:, None]) <= tol[:, None] + 0.01)


def test_sbc_rejects_a_deliberately_overconfident_posterior(heldout):
    theta, batch = heldout
    res = sbc(AnalyticGaussianPosterior(TOY, PRIOR, scale=0.5), theta, batch.x, batch.status,
              n_posterior_samples=100, seed=1)
    assert not any(res.calibrated.values())
    assert max(res.ks_pvalue) < 1e-3
    # overconfident: 90% intervals cover far less than 90%
    assert max(res.coverage.at(0.9).values()) < 0.75


def test_rank_uniformity_against_known_distributions():
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 101, size=(500, 2))  # uniform on {0..L}: calibrated
    ks, chi = rank_uniformity(ranks, 100, seed=0)
    assert ks.min() > 0.01 and chi.min() > 0.01
    peaked = np.clip(rng.normal(50, 10, size=(500, 1)).round(), 0, 100)
    ks2, chi2 = rank_uniformity(peaked, 100, seed=0)
    assert ks2[0] < 1e-6 and chi2[0] < 1e-6


def test_coverage_from_ranks_hand_computed():
    # L = 10: rank fraction r/10 in [0.25, 0.75] is inside the central 50% interval
    ranks = np.array([[0], [3], [5], [7], [8], [10]])
    cov = coverage_from_ranks(ranks, 10, ("a",), levels=[0.5])
    assert cov.empirical[0, 0] == pytest.approx(3 / 6)  # ranks 3, 5, 7


def test_recovery_of_exact_posterior_means(heldout):
    theta, batch = heldout
    rec = recovery(AnalyticGaussianPosterior(TOY, PRIOR), theta, batch.x, batch.status,
                   n_posterior_samples=2000, seed=3)
    ok = batch.status == 0
    exact_mean = TOY.posterior_mean(batch.x[ok], PRIOR)
    np.testing.assert_allclose(rec.mean, exact_mean, atol=0.01)
    cov = rec.interval_coverage
    assert all(0.85 <= v <= 0.95 for v in cov.values()), cov


def test_misspecification_check_locates_observations():
    theta = PRIOR.sample(2000, seed=5)
    batch = TOY.simulate(theta, child_seeds(6, 2000))
    inside = TOY.simulate(np.array([[0.5, 0.5]]), [99]).x[0]
    res = misspecification_check(inside, batch.x, batch.status, ("x_a", "x_b"))
    assert res.plausible and res.outside == []
    assert res.n_excluded == int(np.count_nonzero(batch.status))
    far = np.array([0.5, 3.0])  # far outside anything the model can produce
    bad = misspecification_check(far, batch.x, batch.status, ("x_a", "x_b"))
    assert not bad.plausible and bad.outside == ["x_b"]
    assert bad.percentiles["x_b"] == 1.0
    # under the model, p-values are roughly uniform: about 1% fall below 0.01
    pv = [misspecification_check(batch.x[i], batch.x[1000:], batch.status[1000:], seed=i).pvalue
          for i in range(300) if batch.status[i] == 0]
    assert np.mean(np.array(pv) <= 0.05) < 0.1
    assert stats.kstest(pv, "uniform").pvalue > 1e-3
    with pytest.raises(InsufficientDataError, match="NaN"):
        misspecification_check([np.nan, 0.1], batch.x, batch.status)


def test_posterior_predictive_check_with_failing_simulator():
    post = AnalyticGaussianPosterior(TOY, PRIOR)
    x_obs = TOY.simulate(np.array([[0.3, 0.6]]), [7]).x[0]
    res = posterior_predictive_check(post, TOY, x_obs, n_simulations=300, seed=2)
    assert res.consistent
    assert res.n_excluded == res.excluded_by_reason["diverged"] + res.excluded_by_reason[
        "nonfinite_summary"] > 0
    assert res.n_simulations + res.n_excluded == 300
    # an observation the posterior cannot reproduce: x_a inconsistent with x_b's samples
    wrong = posterior_predictive_check(post, TOY, x_obs, n_simulations=300, seed=2,
                                       samples=np.tile([0.9, 0.6], (300, 1)))
    assert not wrong.consistent
    assert wrong.pvalues["x_a"] < 1e-3 and wrong.zscores["x_a"] < -3
