"""Hutt et al. rate network: weights, nonlinearity, dynamics and equilibria."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from hetfit.errors import ParameterError, SimulationError
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.rate_network import RateNetwork, RateNetworkSpec


def test_weight_statistics_match_the_erdos_renyi_mixture():
    spec = RateNetworkSpec(n=600)
    w = spec.draw_weights(seed=1)
    off = w[~np.eye(spec.n, dtype=bool)]
    assert np.all(np.diag(w) == 0)
    m = off.size
    nz = off[off != 0]
    # connection probability and excitatory fraction (E weights ~ N(0.005, 0.0015) > 0 mostly;
    # classify by the mixture component means instead: count of draws is binomial)
    assert abs(nz.size / m - spec.connection_prob) < 4 * math.sqrt(0.05 * 0.95 / m)
    # unconditional moments against the closed forms of the spec
    assert spec.inhibitory_mean == pytest.approx(0.8 / (0.8 - 1) * 0.005)
    assert spec.mu_w == pytest.approx(0.0, abs=1e-15)  # balanced by default
    assert spec.sigma_w2 == pytest.approx(0.05 * (0.0015 + 0.8 * 0.005**2 / 0.2))
    se_mean = math.sqrt(spec.sigma_w2 / m)
    assert abs(off.mean() - spec.mu_w) < 4 * se_mean
    assert off.var() == pytest.approx(spec.sigma_w2, rel=0.03)
    # an unbalanced spec has the mixture mean
    s2 = RateNetworkSpec(n=600, mu_i=-0.005)
    assert s2.mu_w == pytest.approx(0.05 * (0.8 * 0.005 - 0.2 * 0.005))
    off2 = s2.draw_weights(seed=2)[~np.eye(600, dtype=bool)]
    assert abs(off2.mean() - s2.mu_w) < 4 * math.sqrt(s2.sigma_w2 / m)


def test_build_is_seeded_and_uses_the_excitability_distribution():
    spec = RateNetworkSpec(n=300).with_sigma_h(0.03)
    a, b, c = spec.build(5), spec.build(5), spec.build(6)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.h, b.h)
    assert not np.array_equal(a.h, c.h) and not np.array_equal(a.weights, c.weights)
    assert spec.sigma_h2 == pytest.approx(0.03**2)
    assert np.std(a.h) == pytest.approx(0.03, rel=0.15)


def test_rates_slopes_and_jacobian():
    net = RateNetworkSpec(n=30, rate_offset=0.5).with_sigma_h(0.02).build(3)
    u = np.random.default_rng(0).normal(0, 0.05, 30)
    np.testing.assert_allclose(net.rates(u), 0.5 * (1 + erf(25 * (u + net.h))))
    # slope: derivative of the rate, by central differences
    eps = 1e-7
    np.testing.assert_allclose(net.slopes(u), (net.rates(u + eps) - net.rates(u - eps)) / (2 * eps),
                               rtol=1e-6, atol=1e-6)
    jac_fd = np.empty((30, 30))
    for j in range(30):
        e = np.zeros(30)
        e[j] = eps
        jac_fd[:, j] = (net.rhs(u + e) - net.rhs(u - e)) / (2 * eps)
    np.testing.assert_allclose(net.jacobian(u), jac_fd, atol=1e-6)


def test_fixed_point_and_simulation_agree_when_stable():
    spec = RateNetworkSpec(n=100, rate_offset=0.5).with_sigma_h(math.sqrt(1e-3))
    net = spec.build(2)
    u_star = net.fixed_point()
    assert np.max(np.abs(net.rhs(u_star))) < 1e-10
    assert net.spectral_radius(u_star) < 1.0  # stable (above the critical heterogeneity)
    traj = net.simulate(200.0, dt=0.05, u0=np.random.default_rng(1).uniform(0, 1, 100),
                        record_every=100)
    assert not traj.diverged
    np.testing.assert_allclose(traj.final, u_star, atol=1e-8)


def test_exponential_euler_is_exact_without_coupling():
    net = RateNetwork(np.zeros((3, 3)), np.zeros(3), beta=25.0)
    u0 = np.array([1.0, -2.0, 0.5])
    traj = net.simulate(2.0, dt=0.25, u0=u0, drive=np.array([0.3, 0.0, -1.0]))
    t = traj.t[:, None]
    expected = np.array([0.3, 0.0, -1.0]) + (u0 - np.array([0.3, 0.0, -1.0])) * np.exp(-t)
    np.testing.assert_allclose(traj.u, expected, rtol=1e-12, atol=1e-12)


def test_equilibria_are_fixed_points_distinct_and_symmetric():
    # homogeneous odd network (h = 0, c = 1/2): u* and -u* are both equilibria
    spec = RateNetworkSpec(n=100, rate_offset=0.5)
    net = spec.build(0)
    eq = net.find_equilibria(n_starts=60, seed=1)
    assert eq.shape[0] >= 3
    for u in eq:
        assert np.max(np.abs(net.rhs(u))) < 1e-9
    d = np.max(np.abs(eq[:, None, :] - eq[None, :, :]), axis=2) + np.eye(len(eq))
    assert d.min() > 1e-6
    for u in eq:
        assert np.min(np.max(np.abs(eq + u[None, :]), axis=1)) < 1e-7
    assert np.min(np.max(np.abs(eq), axis=1)) < 1e-9  # u = 0 itself


def test_divergence_is_flagged():
    net = RateNetwork(np.full((3, 3), 1e308), np.zeros(3))
    traj = net.simulate(10.0, dt=0.1, drive=1e308)
    assert traj.diverged
    assert not np.all(np.isfinite(traj.final))


def test_no_fixed_point_from_a_bad_start_is_an_error():
    net = RateNetworkSpec(n=20, rate_offset=0.5).build(0)
    with pytest.raises(SimulationError):
        net.fixed_point(u0=np.full(20, 1e6), max_iter=1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RateNetworkSpec(n=1),
        lambda: RateNetworkSpec(n=-10),
        lambda: RateNetworkSpec(connection_prob=0.0),
        lambda: RateNetworkSpec(connection_prob=1.2),
        lambda: RateNetworkSpec(exc_fraction=1.5),
        lambda: RateNetworkSpec(var_e=-1.0),
        lambda: RateNetworkSpec(beta=0.0),
        lambda: RateNetworkSpec(beta=float("nan")),
        lambda: RateNetworkSpec(exc_fraction=1.0),
        lambda: RateNetworkSpec(excitability=0.1),
        lambda: RateNetworkSpec().with_sigma_h(-0.1),
        lambda: RateNetwork(np.zeros((3, 3)), np.zeros(4)),
        lambda: RateNetwork(np.full((2, 2), np.nan), np.zeros(2)),
        lambda: RateNetwork(np.zeros((2, 2)), np.zeros(2)).simulate(10.0, dt=0.0),
        lambda: RateNetwork(np.zeros((2, 2)), np.zeros(2)).simulate(10.0, dt=0.1, u0=[np.nan, 0]),
        lambda: RateNetwork(np.zeros((2, 2)), np.zeros(2)).simulate(10.0, dt=0.1, drive=[1.0]),
        lambda: RateNetwork(np.zeros((2, 2)), np.zeros(2)).find_equilibria(n_starts=0),
    ],
)
def test_bad_inputs_raise_parameter_error(make):
    with pytest.raises(ParameterError):
        make()


def test_excitability_family_is_respected():
    h = Heterogeneity(0.0, 0.05, family="gaussian", low=-0.06, high=0.06, sampling="random")
    net = RateNetworkSpec(n=500, excitability=h).build(1)
    assert np.all(np.abs(net.h) <= 0.06)
