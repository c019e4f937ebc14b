"""Synchrony measures: Golomb chi, Kuramoto order parameter, pairwise correlations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.measures import (
    golomb_chi,
    kuramoto_chance_level,
    kuramoto_order,
    kuramoto_trace,
    mean_pairwise_correlation,
    pairwise_correlations,
    spike_train_chi,
)
from hetfit.measures.spiketrains import bin_spikes, flatten_trains
from hetfit.measures.surrogates import (
    correlated_poisson_trains,
    periodic_trains,
    poisson_trains,
)
from hetfit.measures.synchrony import _pair_from_index

T = 20_000.0


@pytest.fixture(scope="module")
def poisson100():
    return poisson_trains(100, 10.0, T, seed=7)


@pytest.fixture(scope="module")
def identical10():
    train, _ = poisson_trains(1, 10.0, T, seed=8)
    return flatten_trains([train] * 10)


# -- Golomb chi on signals --------------------------------------------------------------


def test_golomb_chi_identical_signals_is_one():
    x = np.sin(np.linspace(0, 20, 500))
    assert golomb_chi(np.tile(x, (7, 1))) == pytest.approx(1.0)


def test_golomb_chi_independent_noise_scales_as_one_over_sqrt_n():
    rng = np.random.default_rng(0)
    for n in (25, 100):
        chi = golomb_chi(rng.normal(size=(n, 20_000)))
        assert chi == pytest.approx(1.0 / math.sqrt(n), rel=0.05)


def test_golomb_chi_common_plus_private_signal_matches_formula():
    # x_i = s + e_i: chi^2 = (vs + ve/N) / (vs + ve)
    rng = np.random.default_rng(1)
    n, vs, ve = 50, 1.0, 3.0
    s = rng.normal(scale=math.sqrt(vs), size=40_000)
    x = s + rng.normal(scale=math.sqrt(ve), size=(n, s.size))
    expected = math.sqrt((vs + ve / n) / (vs + ve))
    assert golomb_chi(x) == pytest.approx(expected, rel=0.02)


def test_golomb_chi_hand_fixtures():
    # antiphase: the average is constant -> chi = 0
    assert golomb_chi([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]) == pytest.approx(0.0)
    # one unit, constant signals, one sample: undefined -> NaN
    assert math.isnan(golomb_chi([[1.0, 2.0, 3.0]]))
    assert math.isnan(golomb_chi(np.ones((3, 10))))
    assert math.isnan(golomb_chi(np.ones((3, 1))))
    with pytest.raises(ParameterError, match="2-D"):
        golomb_chi(np.ones(5))


# -- chi of spike trains ------------------------------------------------------------------


def test_spike_train_chi_identical_trains_is_one(identical10):
    t, u = identical10
    assert spike_train_chi(t, u, n_units=10, t_stop_ms=T) == pytest.approx(1.0, abs=1e-9)


def test_spike_train_chi_poisson_is_near_one_over_sqrt_n(poisson100):
    t, u = poisson100
    assert spike_train_chi(t, u, n_units=100, t_stop_ms=T) == pytest.approx(0.1, rel=0.1)
    # 25 of them: chi ~ 1/5 (the finite-size floor grows as N shrinks)
    sub = u < 25
    assert spike_train_chi(t[sub], u[sub], n_units=25, t_stop_ms=T) == pytest.approx(0.2, rel=0.1)


def test_spike_train_chi_ignores_silent_units(poisson100):
    t, u = poisson100
    a = spike_train_chi(t, u, n_units=100, t_stop_ms=T)
    b = spike_train_chi(t, u, n_units=150, t_stop_ms=T)  # 50 silent units added
    assert a == pytest.approx(b, rel=1e-12)


def test_spike_train_chi_common_input_matches_formula():
    # shared fraction c of spikes: the smoothed traces are s + e_i with var ratio c:(1-c),
    # so chi^2 = (c + (1-c)/N) / 1
    c, n = 0.3, 20
    t, u = correlated_poisson_trains(n, 20.0, c, 100_000.0, seed=4)
    expected = math.sqrt(c + (1 - c) / n)
    assert spike_train_chi(t, u, n_units=n, t_stop_ms=100_000.0) == pytest.approx(expected, rel=0.05)


def _sampled_chi(trains, t_stop, tau, dt=0.005):
    """Second implementation: traces sampled densely with numpy, then golomb_chi."""
    grid = np.arange(0.0, t_stop, dt)
    rows = []
    for tr in trains:
        tr = np.asarray(tr, dtype=float)
        if tr.size == 0:
            continue
        x = tr.size / t_stop * tau * np.exp(-grid / tau)  # stationary start
        for tk in tr:
            after = grid >= tk
            x[after] += np.exp(-(grid[after] - tk) / tau)
        rows.append(x)
    return golomb_chi(np.array(rows))


def test_spike_train_chi_matches_densely_sampled_traces():
    trains = [[3.0, 50.0, 51.0, 120.0], [10.0, 52.0, 140.0], [], [49.0, 90.0, 91.5, 180.0]]
    t, u = flatten_trains(trains)
    for tau in (2.0, 10.0, 40.0):
        exact = spike_train_chi(t, u, n_units=4, t_stop_ms=200.0, tau_ms=tau)
        assert exact == pytest.approx(_sampled_chi(trains, 200.0, tau), rel=1e-3)


@pytest.mark.parametrize("spikes", [[[]], [[5.0]], [[5.0, 9.0]], [[5.0], []]])
def test_spike_train_chi_few_units_is_nan(spikes):
    t, u = flatten_trains(spikes)
    assert math.isnan(spike_train_chi(t, u, n_units=len(spikes), t_stop_ms=100.0))


# -- Kuramoto -----------------------------------------------------------------------------


def test_kuramoto_identical_trains_is_one(identical10):
    t, u = identical10
    assert kuramoto_order(t, u, n_units=10, t_stop_ms=T) == pytest.approx(1.0, abs=1e-9)


def test_kuramoto_poisson_is_at_finite_size_chance_level(poisson100):
    t, u = poisson100
    # independent expectation: Monte Carlo mean resultant of 100 uniform phases
    rng = np.random.default_rng(0)
    mc = np.abs(np.exp(1j * rng.uniform(0, 2 * np.pi, (20_000, 100))).mean(axis=1)).mean()
    assert kuramoto_chance_level(100) == pytest.approx(mc, rel=0.01)
    assert kuramoto_order(t, u, n_units=100, t_stop_ms=T) == pytest.approx(mc, rel=0.06)


def test_kuramoto_periodic_phase_offsets_hand_computed():
    # same period, phase offsets psi_j: R(t) = |mean_j exp(i psi_j)| at all times
    p = 40.0
    t, u = periodic_trains(3, p, 4_000.0, offsets_ms=[0.0, 0.0, p / 4])
    expected = abs(2 + 1j) / 3
    assert kuramoto_order(t, u, n_units=3, t_stop_ms=4_000.0) == pytest.approx(expected, rel=1e-9)
    t, u = periodic_trains(4, p, 4_000.0, offsets_ms=[0.0, p / 4, p / 2, 3 * p / 4])
    assert kuramoto_order(t, u, n_units=4, t_stop_ms=4_000.0) == pytest.approx(0.0, abs=1e-9)


def test_kuramoto_common_span_uses_only_times_all_units_have_a_phase():
    # unit 0 spikes 0..1000 ms, unit 1 from 500 ms: common span [500, 1000)
    t, u = flatten_trains([np.arange(0.0, 1001.0, 50.0), np.arange(500.0, 2000.0, 50.0)])
    tr = kuramoto_trace(t, u, n_units=2, t_stop_ms=2_000.0, dt_ms=1.0)
    used = tr.t_ms[np.isfinite(tr.r)]
    assert used.min() >= 500.0 and used.max() < 1000.0
    # both periodic with equal period and zero offset inside the span: R = 1
    assert np.allclose(tr.r[np.isfinite(tr.r)], 1.0)
    any_span = kuramoto_trace(t, u, n_units=2, t_stop_ms=2_000.0, span="any")
    assert np.isfinite(any_span.r).sum() == np.isfinite(tr.r).sum()  # min_units=2 -> same


@pytest.mark.parametrize("spikes", [[[]], [[1.0, 2.0, 3.0]], [[1.0], [2.0]], [[1.0, 5.0], [2.0]]])
def test_kuramoto_few_units_or_spikes_is_nan(spikes):
    t, u = flatten_trains(spikes)
    assert math.isnan(kuramoto_order(t, u, n_units=len(spikes), t_stop_ms=100.0))


def test_kuramoto_min_spikes_leaves_out_sparse_units():
    # unit 2 has two spikes far apart: it would shrink the common span; min_spikes drops it
    base = np.arange(0.0, 1000.0, 20.0)
    t, u = flatten_trains([base, base + 10.0, [400.0, 450.0]])
    narrow = kuramoto_trace(t, u, n_units=3, t_stop_ms=1000.0)
    wide = kuramoto_trace(t, u, n_units=3, t_stop_ms=1000.0, min_spikes=3)
    assert narrow.n_units_used == 3 and wide.n_units_used == 2
    assert np.isfinite(wide.r).sum() > np.isfinite(narrow.r).sum()
    # antiphase pair (offset half a period) -> R = 0
    assert kuramoto_order(t, u, n_units=3, t_stop_ms=1000.0, min_spikes=3) == pytest.approx(0.0, abs=1e-9)


# -- pairwise correlations --------------------------------------------------------------


def test_pair_index_decoding_matches_triu():
    n = 9
    i, j = _pair_from_index(np.arange(n * (n - 1) // 2), n)
    ti, tj = np.triu_indices(n, k=1)
    np.testing.assert_array_equal(i, ti)
    np.testing.assert_array_equal(j, tj)


def test_correlation_identical_is_one_and_poisson_is_zero(identical10, poisson100):
    t, u = identical10
    assert mean_pairwise_correlation(t, u, n_units=10, t_stop_ms=T) == pytest.approx(1.0)
    t, u = poisson100
    pc = pairwise_correlations(t, u, n_units=100, t_stop_ms=T, bin_ms=10.0)
    assert pc.r.size == 4950 and not pc.sampled
    # 2000 bins: each r has SD ~ 1/sqrt(2000) = 0.022; their mean is near 0
    assert abs(pc.mean) < 0.005
    assert pc.r.std() == pytest.approx(1 / math.sqrt(2000), rel=0.1)


def test_correlation_matches_numpy_corrcoef_of_dense_counts():
    t, u = poisson_trains(12, np.linspace(2.0, 30.0, 12), 5_000.0, seed=9)
    pc = pairwise_correlations(t, u, n_units=12, t_stop_ms=5_000.0, bin_ms=20.0)
    dense = bin_spikes(t, u, 20.0, n_units=12, t_stop_ms=5_000.0)
    expected = np.corrcoef(dense)[pc.unit_a, pc.unit_b]
    np.testing.assert_allclose(pc.r, expected, atol=1e-10)


def test_correlation_of_shared_input_model_is_c():
    # 100 s at 20 Hz: the shared train has ~500 spikes, so its realised count variance (which
    # sets r) is within a few percent of its expectation
    t, u = correlated_poisson_trains(20, 20.0, 0.25, 100_000.0, seed=12)
    r = mean_pairwise_correlation(t, u, n_units=20, t_stop_ms=100_000.0, bin_ms=50.0)
    assert r == pytest.approx(0.25, rel=0.1)


def test_correlation_hand_fixture_and_excluded_units():
    # bins of 10 ms over [0, 40): a counts [1,0,1,0], b [0,1,0,1] -> r = -1; c [1,0,1,0] -> r(a,c)=1
    # d fires once per bin (constant counts) and e is silent: both have no correlation
    trains = [[1.0, 21.0], [11.0, 31.0], [2.0, 22.0], [1.0, 11.0, 21.0, 31.0], []]
    t, u = flatten_trains(trains)
    pc = pairwise_correlations(t, u, n_units=5, t_stop_ms=40.0, bin_ms=10.0)
    assert pc.n_units_used == 3
    got = {(int(a), int(b)): r for a, b, r in zip(pc.unit_a, pc.unit_b, pc.r)}
    assert got == pytest.approx({(0, 1): -1.0, (0, 2): 1.0, (1, 2): -1.0})
    assert pc.mean == pytest.approx(-1.0 / 3.0)


def test_correlation_pair_sampling_is_seeded(poisson100):
    t, u = poisson100
    kw = dict(n_units=100, t_stop_ms=T, max_pairs=300)
    a = pairwise_correlations(t, u, **kw, seed=1)
    b = pairwise_correlations(t, u, **kw, seed=1)
    c = pairwise_correlations(t, u, **kw, seed=2)
    assert a.sampled and a.r.size == 300
    np.testing.assert_array_equal(a.unit_a, b.unit_a)
    np.testing.assert_array_equal(a.r, b.r)
    assert not np.array_equal(a.unit_a * 100 + a.unit_b, c.unit_a * 100 + c.unit_b)
    pairs = set(zip(a.unit_a.tolist(), a.unit_b.tolist()))
    assert len(pairs) == 300 and all(x < y for x, y in pairs)


@pytest.mark.parametrize("spikes", [[[]], [[1.0, 15.0]], [[1.0], []], [[1.0], [15.0]]])
def test_correlation_few_units_or_spikes(spikes):
    t, u = flatten_trains(spikes)
    r = mean_pairwise_correlation(t, u, n_units=len(spikes), t_stop_ms=40.0, bin_ms=10.0)
    if len(spikes) == 2 and all(len(s) for s in spikes):
        assert r == pytest.approx(-1.0 / 3.0)  # counts [1,0,0,0] vs [0,1,0,0]
    else:
        assert math.isnan(r)
