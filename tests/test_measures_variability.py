"""CV of ISI and Fano factor: analytic cases, hand-computed fixtures, few spikes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hetfit.errors import ParameterError
from hetfit.measures import (
    cv_isi,
    fano_factor,
    mean_cv_isi,
    mean_fano_factor,
    pooled_cv_isi,
    population_fano_factor,
)
from hetfit.measures.spiketrains import flatten_trains, split_by_unit
from hetfit.measures.surrogates import gamma_trains, periodic_trains, poisson_trains


def test_poisson_cv_and_fano_are_one():
    t, u = poisson_trains(60, 10.0, 20_000.0, seed=1)
    kw = dict(n_units=60, t_start_ms=0.0, t_stop_ms=20_000.0)
    # ~200 ISIs per unit: SE of one CV ~0.07, of the mean over 60 units ~0.01
    assert mean_cv_isi(t, u, **kw) == pytest.approx(1.0, abs=0.04)
    assert pooled_cv_isi(t, u, **kw) == pytest.approx(1.0, abs=0.04)
    # 200 windows per unit: SE of one Fano ~0.1, of the mean ~0.013
    assert mean_fano_factor(t, u, **kw, window_ms=100.0) == pytest.approx(1.0, abs=0.05)
    # independent units: the summed count is Poisson too
    assert population_fano_factor(t, u, **kw, window_ms=100.0) == pytest.approx(1.0, abs=0.25)


@pytest.mark.parametrize("shape", [0.5, 2.0, 4.0])
def test_gamma_cv_is_one_over_sqrt_shape(shape):
    t, u = gamma_trains(40, 20.0, shape, 20_000.0, seed=int(shape * 10))
    cv = mean_cv_isi(t, u, n_units=40, t_stop_ms=20_000.0)
    assert cv == pytest.approx(1.0 / math.sqrt(shape), rel=0.05)


def test_gamma_fano_tends_to_cv_squared_for_long_windows():
    # renewal theory: F(T) -> CV^2 when T >> mean ISI (here 20 mean ISIs)
    shape = 4.0
    t, u = gamma_trains(50, 20.0, shape, 50_000.0, seed=3)
    f = mean_fano_factor(t, u, n_units=50, t_stop_ms=50_000.0, window_ms=1000.0)
    assert f == pytest.approx(1.0 / shape, rel=0.15)


def test_periodic_trains_have_zero_cv():
    t, u = periodic_trains(5, 25.0, 2_000.0, offsets_ms=[0.0, 3.7, 7.1, 11.0, 24.9])
    cv = cv_isi(t, u, n_units=5, t_stop_ms=2_000.0)
    np.testing.assert_allclose(cv, 0.0, atol=1e-9)
    assert pooled_cv_isi(t, u, n_units=5, t_stop_ms=2_000.0) == pytest.approx(0.0, abs=1e-9)


def test_cv_matches_scipy_variation_per_unit():
    t, u = gamma_trains(8, 15.0, 3.0, 5_000.0, seed=11)
    cv = cv_isi(t, u, n_units=8, t_stop_ms=5_000.0)
    for k, train in enumerate(split_by_unit(t, u, 8)):
        assert cv[k] == pytest.approx(stats.variation(np.diff(train)), rel=1e-10)


def test_hand_computed_cv_fixture():
    # unit 0: ISIs 10, 20 -> mean 15, std 5 -> CV 1/3; unit 1: one ISI -> NaN; unit 2 silent
    t, u = flatten_trains([[0.0, 10.0, 30.0], [5.0, 6.0], []])
    cv = cv_isi(t, u, n_units=3, t_stop_ms=100.0)
    assert cv[0] == pytest.approx(1.0 / 3.0)
    assert math.isnan(cv[1]) and math.isnan(cv[2])
    assert mean_cv_isi(t, u, n_units=3, t_stop_ms=100.0) == pytest.approx(1.0 / 3.0)


def test_pooled_cv_includes_rate_differences():
    # two periodic units at different rates: per-unit CV 0, pooled ISIs {10,10,30,30}: CV 0.5
    t, u = flatten_trains([[0.0, 10.0, 20.0], [0.0, 30.0, 60.0]])
    np.testing.assert_allclose(cv_isi(t, u, t_stop_ms=100.0), 0.0, atol=1e-12)
    assert pooled_cv_isi(t, u, t_stop_ms=100.0) == pytest.approx(0.5)


def test_hand_computed_fano_fixture():
    # windows of 10 ms in [0, 40): unit 0 counts [3, 1, 0, 0] -> mean 1, var(ddof=1) 2 -> F 2
    # unit 1 counts [1, 1, 1, 1] -> F 0; unit 2 silent -> NaN; a spike at 41 ms is outside
    t, u = flatten_trains([[1.0, 2.0, 3.0, 15.0], [5.0, 15.0, 25.0, 35.0], [41.0]])
    f = fano_factor(t, u, n_units=3, t_stop_ms=40.0, window_ms=10.0)
    assert f[0] == pytest.approx(2.0)
    assert f[1] == pytest.approx(0.0)
    assert math.isnan(f[2])
    # population counts [4, 2, 1, 1]: mean 2, var(ddof=1) 2 -> 1
    assert population_fano_factor(t, u, n_units=3, t_stop_ms=40.0, window_ms=10.0) == pytest.approx(1.0)


def test_fano_matches_dense_numpy_computation():
    t, u = poisson_trains(7, [1.0, 5.0, 10.0, 20.0, 0.0, 3.0, 40.0], 3_000.0, seed=5)
    f = fano_factor(t, u, n_units=7, t_stop_ms=3_000.0, window_ms=50.0)
    for k, train in enumerate(split_by_unit(t, u, 7)):
        counts, _ = np.histogram(train, bins=np.arange(0.0, 3_000.0 + 1e-9, 50.0))
        expected = counts.var(ddof=1) / counts.mean() if counts.mean() > 0 else np.nan
        np.testing.assert_allclose(f[k], expected, rtol=1e-10)


def test_identical_poisson_units_give_population_fano_n():
    train, _ = poisson_trains(1, 10.0, 20_000.0, seed=2)
    n = 10
    t, u = flatten_trains([train] * n)
    unit_f = fano_factor(t, u, n_units=n, t_stop_ms=20_000.0)[0]
    pop_f = population_fano_factor(t, u, n_units=n, t_stop_ms=20_000.0)
    assert pop_f == pytest.approx(n * unit_f, rel=1e-9)


@pytest.mark.parametrize("spikes", [[], [12.0], [12.0, 30.0]])
def test_few_spikes_give_nan_not_errors(spikes):
    t, u = flatten_trains([spikes])
    kw = dict(n_units=1, t_stop_ms=100.0)
    assert np.isnan(cv_isi(t, u, **kw)).all()
    assert math.isnan(mean_cv_isi(t, u, **kw))
    assert math.isnan(pooled_cv_isi(t, u, **kw))
    f = fano_factor(t, u, **kw, window_ms=10.0)
    if spikes:
        assert np.isfinite(f).all()  # defined: counts vary over windows
    else:
        assert np.isnan(f).all() and math.isnan(mean_fano_factor(t, u, **kw, window_ms=10.0))


def test_fano_needs_two_windows():
    t, u = flatten_trains([[1.0, 2.0, 30.0]])
    assert np.isnan(fano_factor(t, u, t_stop_ms=40.0, window_ms=25.0)).all()
    assert math.isnan(population_fano_factor(t, u, t_stop_ms=40.0, window_ms=25.0))


def test_invalid_arguments_raise_parameter_error():
    t, u = flatten_trains([[1.0, 2.0, 3.0]])
    with pytest.raises(ParameterError, match="min_spikes"):
        cv_isi(t, u, min_spikes=2)
    with pytest.raises(ParameterError, match="bin width"):
        fano_factor(t, u, t_stop_ms=10.0, window_ms=0.0)
    with pytest.raises(ParameterError, match="NaN"):
        cv_isi(np.array([1.0, np.nan, 3.0]), np.zeros(3, int))
