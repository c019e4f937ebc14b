"""Joint width inference from cells + network activity, against a brute-force grid posterior
(an independent implementation) on synthetic data where both sources agree."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.inference.hierarchical import cell_loglik_grid, joint_width_posterior
from hetfit.inference.priors import ParameterPrior, Prior
from hetfit.inference.toy_models import AnalyticGaussianPosterior, GaussianToy

PRIOR = Prior((ParameterPrior("delta_v", 0.2, 3.0, unit="mV"),
               ParameterPrior("drive", 0.0, 1.0, kind="nuisance")))
NET = GaussianToy(param_names=("delta_v", "drive"), sigma=0.3)
NET_POST = AnalyticGaussianPosterior(NET, PRIOR)
MU_RANGE = (-45.0, -35.0)


def _data(delta, mu=-40.0, n_cells=40, seed=0, x_delta=None):
    rng = np.random.default_rng(seed)
    cells = stats.cauchy.rvs(loc=mu, scale=delta, size=n_cells, random_state=rng)
    x = NET.simulate(np.array([[delta if x_delta is None else x_delta, 0.5]]),
                     [seed + 1000]).x[0]
    return cells, x


def _grid_posterior(cells, x, n=300):
    """Exact joint posterior on a (delta, mu) grid: uniform priors x Cauchy cells x
    Gaussian network likelihood (the toy's)."""
    d = np.linspace(0.2, 3.0, n)
    mu = np.linspace(*MU_RANGE, n)
    ll = stats.cauchy.logpdf(cells[None, None, :], loc=mu[None, :, None],
                             scale=d[:, None, None]).sum(axis=2)
    ll += stats.norm.logpdf(x[0], loc=d, scale=NET.sigma)[:, None]
    p = np.exp(ll - ll.max())
    p /= p.sum()
    pd, pm = p.sum(axis=1), p.sum(axis=0)
    md, mm = (pd * d).sum(), (pm * mu).sum()
    return md, np.sqrt((pd * d**2).sum() - md**2), mm, np.sqrt((pm * mu**2).sum() - mm**2)


def test_joint_posterior_matches_brute_force_grid_and_beats_each_source():
    cells, x = _data(1.2, seed=1)
    res = joint_width_posterior(cells, NET_POST, x, width="delta_v", location_prior=MU_RANGE,
                                family="lorentzian", n_proposal=40_000, n_samples=8000,
                                seed=2)
    md, sd, mm, sm = _grid_posterior(cells, x)
    s = res.summary()
    assert s["delta_v"]["mean"] == pytest.approx(md, abs=0.1 * sd)
    assert s["delta_v"]["sd"] == pytest.approx(sd, rel=0.1)
    assert s["mu"]["mean"] == pytest.approx(mm, abs=0.1 * sm)
    assert s["mu"]["sd"] == pytest.approx(sm, rel=0.1)
    # the joint width is sharper than either source alone; the sources agree
    assert s["delta_v"]["sd"] < min(res.cells_only[1], res.network_only[1])
    assert abs(res.tension) < 3 and res.to_dict()["consistent"]
    assert res.ess > 1000
    assert res.names[:2] == ("mu", "delta_v")


def test_disagreeing_sources_are_reported():
    cells, x = _data(2.5, n_cells=80, seed=3, x_delta=0.4)  # cells wide, network narrow
    res = joint_width_posterior(cells, NET_POST, x, width="delta_v", location_prior=MU_RANGE,
                                n_proposal=20_000, seed=0)
    assert res.tension > 3
    assert any("disagree" in n for n in res.notes)
    assert not res.to_dict()["consistent"]


def test_interval_coverage_over_synthetic_datasets():
    hits, n = 0, 40
    rng = np.random.default_rng(7)
    for k in range(n):
        delta = float(rng.uniform(0.5, 2.5))
        cells, x = _data(delta, n_cells=25, seed=100 + k)
        res = joint_width_posterior(cells, NET_POST, x, width="delta_v",
                                    location_prior=MU_RANGE, n_proposal=5000,
                                    n_samples=2000, n_grid=150, seed=k)
        lo, hi = res.summary()["delta_v"]["ci90"]
        hits += lo <= delta <= hi
    # 90% intervals: 36 of 40 expected; 31..40 is a 99% binomial range
    assert 31 <= hits <= 40, hits


def test_location_inferred_by_the_network():
    prior = Prior((ParameterPrior("delta_v", 0.2, 3.0), ParameterPrior(
        "v_theta", -45.0, -35.0, kind="nuisance")))
    net = GaussianToy(param_names=("delta_v", "v_theta"), sigma=0.3)
    rng = np.random.default_rng(5)
    cells = stats.cauchy.rvs(loc=-40.0, scale=1.0, size=50, random_state=rng)
    x = net.simulate(np.array([[1.0, -40.0]]), [4]).x[0]
    res = joint_width_posterior(cells, AnalyticGaussianPosterior(net, prior), x,
                                width="delta_v", location="v_theta", seed=1)
    s = res.summary()
    assert res.names == ("delta_v", "v_theta")
    assert s["delta_v"]["ci90"][0] < 1.0 < s["delta_v"]["ci90"][1]
    assert s["v_theta"]["ci90"][0] < -40.0 < s["v_theta"]["ci90"][1]
    # cells pin the location far better than the network alone (SD 0.3)
    assert s["v_theta"]["sd"] < 0.3


def test_cell_likelihoods_against_direct_formulas():
    y = np.array([-41.0, -39.5, -40.2])
    mu, d, sm = np.array([-40.0]), np.array([0.8]), 0.5
    g = cell_loglik_grid(y, mu, d, "gaussian", sm)[0, 0]
    assert g == pytest.approx(stats.norm.logpdf(y, -40.0, np.hypot(0.8, 0.5)).sum())
    v = cell_loglik_grid(y, mu, d, "lorentzian", sm)[0, 0]
    conv = [integrate.quad(lambda t, yy=yy: stats.cauchy.pdf(yy - t, -40.0, 0.8)
                           * stats.norm.pdf(t, 0.0, sm), -30, 30, limit=200)[0] for yy in y]
    assert v == pytest.approx(np.log(conv).sum(), rel=1e-6)
    c = cell_loglik_grid(y, mu, d, "lorentzian", 0.0)[0, 0]
    assert c == pytest.approx(stats.cauchy.logpdf(y, -40.0, 0.8).sum())
    # truncated to [-42, -36] (as the network's thresholds are truncated)
    lo, hi = -42.0, -36.0
    mass = stats.cauchy.cdf(hi, -40.0, 0.8) - stats.cauchy.cdf(lo, -40.0, 0.8)
    t = cell_loglik_grid(y, mu, d, "lorentzian", 0.0, bounds=(lo, hi))[0, 0]
    assert t == pytest.approx(stats.cauchy.logpdf(y, -40.0, 0.8).sum() - 3 * np.log(mass))
    gmass = stats.norm.cdf(hi, -40.0, 0.8) - stats.norm.cdf(lo, -40.0, 0.8)
    tg = cell_loglik_grid(y, mu, d, "gaussian", 0.0, bounds=(lo, hi))[0, 0]
    assert tg == pytest.approx(stats.norm.logpdf(y, -40.0, 0.8).sum() - 3 * np.log(gmass))


def test_bad_arguments():
    cells, x = _data(1.0)
    with pytest.raises(ParameterError, match="not a posterior parameter"):
        joint_width_posterior(cells, NET_POST, x, width="delta_I", location_prior=MU_RANGE)
    with pytest.raises(ParameterError, match="location_prior"):
        joint_width_posterior(cells, NET_POST, x, width="delta_v")
    with pytest.raises(ParameterError, match="family"):
        joint_width_posterior(cells, NET_POST, x, width="delta_v", location_prior=MU_RANGE,
                              family="uniform")
    with pytest.raises(ParameterError, match="outside the truncation bounds"):
        joint_width_posterior(cells, NET_POST, x, width="delta_v", location_prior=MU_RANGE,
                              bounds=(-41.0, -39.0))
    with pytest.raises(InsufficientDataError, match="at least 2"):
        joint_width_posterior([np.nan, -40.0], NET_POST, x, width="delta_v",
                              location_prior=MU_RANGE)
