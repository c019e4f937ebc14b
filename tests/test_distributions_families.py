"""Family fits against scipy, mixture recovery, model choice and goodness-of-fit calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hetfit.distributions import families as F
from hetfit.errors import ParameterError
from hetfit.models.heterogeneity import Heterogeneity


def test_single_family_mles_match_scipy():
    rng = np.random.default_rng(0)
    g = rng.normal(-40, 3, 200)
    fit = F.fit_family(g, "gaussian", n_gof=0)
    loc, scale = stats.norm.fit(g)
    assert fit.params["loc"] == pytest.approx(loc) and fit.params["scale"] == pytest.approx(scale)
    assert fit.loglik == pytest.approx(stats.norm.logpdf(g, loc, scale).sum())
    assert fit.aic == pytest.approx(2 * 2 - 2 * fit.loglik)
    assert fit.bic == pytest.approx(2 * np.log(200) - 2 * fit.loglik)

    ln = rng.lognormal(np.log(150), 0.4, 200)
    fit = F.fit_family(ln, "lognormal", n_gof=0)
    s, _, sc = stats.lognorm.fit(ln, floc=0)
    assert fit.params["sigma"] == pytest.approx(s, rel=1e-6)
    assert fit.params["median"] == pytest.approx(sc, rel=1e-6)
    assert fit.loglik == pytest.approx(stats.lognorm.logpdf(ln, s, 0, sc).sum(), rel=1e-9)

    c = stats.cauchy.rvs(-40, 2.0, size=300, random_state=3)
    fit = F.fit_family(c, "lorentzian", n_gof=0)
    loc, scale = stats.cauchy.fit(c)
    assert fit.params["loc"] == pytest.approx(loc, abs=1e-3)
    assert fit.params["scale"] == pytest.approx(scale, rel=1e-3)
    assert fit.loglik >= stats.cauchy.logpdf(c, loc, scale).sum() - 1e-9


def test_lorentzian_mixture_recovers_known_components():
    rng = np.random.default_rng(42)
    n = 3000
    first = rng.random(n) < 0.3
    x = np.where(first, -50 + 1.0 * rng.standard_cauchy(n), -40 + 2.0 * rng.standard_cauchy(n))
    fit = F.fit_family(x, "lorentzian_mix2", n_gof=0, seed=1)
    p = fit.params
    assert p["weights"] == pytest.approx([0.3, 0.7], abs=0.03)
    assert p["locs"] == pytest.approx([-50.0, -40.0], abs=0.2)
    assert p["scales"] == pytest.approx([1.0, 2.0], rel=0.15)
    assert fit.n_params == 5
    # the mixture beats a single Lorentzian by a wide AIC margin
    single = F.fit_family(x, "lorentzian", n_gof=0)
    assert fit.aic < single.aic - 100
    # CDF/ppf of the mixture are consistent and match the analytic mixture CDF
    q = np.array([0.05, 0.3, 0.5, 0.9])
    xq = fit.ppf(q)
    np.testing.assert_allclose(fit.cdf(xq), q, atol=1e-9)
    w, loc, sc = (np.array(p[k]) for k in ("weights", "locs", "scales"))
    analytic = (w[:, None] * stats.cauchy.cdf(xq[None, :], loc[:, None], sc[:, None])).sum(0)
    np.testing.assert_allclose(fit.cdf(xq), analytic, atol=1e-12)
    subpops = fit.to_heterogeneity()
    assert [round(a, 6) for a, _ in subpops] == [round(v, 6) for v in p["weights"]]
    assert all(isinstance(h, Heterogeneity) and h.family == "lorentzian" for _, h in subpops)


def test_model_choice_by_aic():
    rng = np.random.default_rng(5)
    g = rng.normal(-40, 3, 300)
    sel = F.fit_families(g, ("gaussian", "lorentzian"), n_gof=0)
    assert sel.chosen == "gaussian"
    assert sel.fit("lorentzian").delta_aic > 10
    c = stats.cauchy.rvs(-40, 2.0, size=300, random_state=8)
    sel = F.fit_families(c, ("gaussian", "lorentzian"), n_gof=50, seed=0)
    assert sel.chosen == "lorentzian" and sel.adequate
    assert sel.fit("gaussian").ks_p < 0.05  # heavy tails are not Gaussian
    h = sel.best.to_heterogeneity(low=-80, high=0)
    assert h.family == "lorentzian" and h.width == pytest.approx(sel.best.params["scale"])


def test_parametric_bootstrap_ks_is_calibrated_where_the_naive_p_is_not():
    """Lilliefors: with fitted parameters the classical KS p-value is far too large; the
    parametric-bootstrap p-value is close to uniform under the null."""
    rng = np.random.default_rng(9)
    p_boot, p_naive = [], []
    for r in range(120):
        fit = F.fit_family(rng.normal(0, 1, 40), "gaussian", n_gof=99, seed=r)
        p_boot.append(fit.ks_p)
        p_naive.append(fit.ks_p_naive)
    p_boot, p_naive = np.array(p_boot), np.array(p_naive)
    assert np.mean(p_naive) > 0.7  # optimistic (uniform would give 0.5)
    assert 0.4 < np.mean(p_boot) < 0.6
    assert np.mean(p_naive < 0.1) < 0.02
    assert 0.04 <= np.mean(p_boot < 0.1) <= 0.18
    # and it has power: Cauchy data are rejected as Gaussian
    fit = F.fit_family(stats.cauchy.rvs(size=100, random_state=1), "gaussian", n_gof=99, seed=0)
    assert fit.ks_p <= 0.02


def test_fit_status_instead_of_silent_fits():
    neg = np.linspace(-50, -30, 30)
    assert F.fit_family(neg, "lognormal").status == "not_applicable"
    few = F.fit_family(np.arange(8.0), "lorentzian_mix2")
    assert few.status == "too_few_cells" and "need" in few.reason
    const = F.fit_family(np.full(20, 3.0), "gaussian")
    assert const.status == "failed"
    with pytest.raises(ParameterError, match="not available"):
        const.cdf([1.0])
    sel = F.fit_families(np.full(20, 3.0), ("gaussian", "lorentzian"))
    assert sel.chosen is None and "no family" in sel.note


def test_bad_inputs():
    with pytest.raises(ParameterError, match="unknown distribution family"):
        F.fit_family(np.arange(20.0), "weibull")
    with pytest.raises(ParameterError, match="unknown distribution family"):
        F.parse_family("lorentzian_mix1")
    with pytest.raises(ParameterError, match="NaN"):
        F.fit_family(np.r_[np.arange(20.0), np.nan], "gaussian")


def test_selection_round_trips_through_dict():
    rng = np.random.default_rng(2)
    sel = F.fit_families(rng.normal(size=60), ("gaussian", "lorentzian"), n_gof=20, seed=3)
    again = F.FamilySelection.from_dict(sel.to_dict())
    assert again.to_dict() == sel.to_dict()
    x = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(again.best.cdf(x), sel.best.cdf(x))
