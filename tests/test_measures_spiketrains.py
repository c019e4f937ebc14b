"""Spike-array conversions, binning, validation, SpikeResult bridge, rates, surrogates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import ParameterError, SimulationError
from hetfit.measures import (
    bin_spikes,
    firing_rates,
    flatten_trains,
    population_rate,
    prepare_spikes,
    rate_spread,
    spike_arrays,
    split_by_unit,
)
from hetfit.measures.surrogates import (
    correlated_poisson_trains,
    gamma_trains,
    modulated_poisson_trains,
    periodic_trains,
    poisson_trains,
)
from hetfit.models.results import SpikeResult


def test_flatten_and_split_roundtrip():
    trains = [np.array([1.0, 5.0, 9.0]), np.array([]), np.array([2.0, 5.0])]
    t, u = flatten_trains(trains)
    assert t.tolist() == [1.0, 2.0, 5.0, 5.0, 9.0]
    assert u.tolist() == [0, 2, 0, 2, 0]  # equal times keep unit order
    back = split_by_unit(t, u, 3)
    for a, b in zip(back, trains):
        np.testing.assert_array_equal(a, b)


def test_bin_spikes_matches_numpy_histogram():
    t, u = poisson_trains(4, [5.0, 50.0, 0.0, 20.0], 1_000.0, seed=1)
    counts = bin_spikes(t, u, 7.0, n_units=4, t_stop_ms=1_000.0)
    n_bins = int(1_000.0 // 7.0)
    assert counts.shape == (4, n_bins)
    for k, train in enumerate(split_by_unit(t, u, 4)):
        expected, _ = np.histogram(train, bins=np.arange(n_bins + 1) * 7.0)
        np.testing.assert_array_equal(counts[k], expected)


def test_prepare_sorts_and_applies_window():
    data = prepare_spikes([30.0, 10.0, 20.0, 50.0], [1, 0, 1, 0], t_start_ms=15.0, t_stop_ms=50.0)
    assert data.times_ms.tolist() == [20.0, 30.0]  # 10 before, 50 at the (open) end
    assert data.units.tolist() == [1, 1]
    assert data.n_units == 2 and data.duration_ms == 35.0
    default = prepare_spikes([3.0, 7.0], [0, 0])
    assert default.t_start_ms == 0.0 and default.times_ms.size == 2  # last spike kept


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(times_ms=[1.0, np.nan], units=[0, 0]), "NaN"),
        (dict(times_ms=[1.0, 2.0], units=[0]), "entries"),
        (dict(times_ms=[1.0], units=[-1]), ">= 0"),
        (dict(times_ms=[1.0], units=[3], n_units=2), "out of range"),
        (dict(times_ms=[1.0], units=[0.5]), "integer"),
        (dict(times_ms=[1.0], units=[0], t_start_ms=5.0, t_stop_ms=5.0), "window"),
        (dict(times_ms=[], units=[]), "no units"),
    ],
)
def test_prepare_rejects_invalid_input(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        prepare_spikes(**kwargs)


def _result(diverged: bool = False) -> SpikeResult:
    return SpikeResult(
        spike_times_ms=np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        spike_neurons=np.array([0, 3, 1, 4, 0]),
        population_names=("E", "I"),
        population_sizes=(3, 2),
        rate_t_ms=np.array([0.5]),
        rates_hz=np.zeros((2, 1)),
        t_max_ms=100.0,
        dt_ms=0.1,
        diverged=diverged,
    )


def test_spike_arrays_from_spike_result():
    res = _result()
    kw = spike_arrays(res)
    assert kw["n_units"] == 5 and kw["t_stop_ms"] == 100.0 and kw["t_start_ms"] == 0.0
    inh = spike_arrays(res, "I")
    assert inh["units"].tolist() == [0, 1] and inh["n_units"] == 2
    # 2 spikes of neuron E0 over 0.1 s -> 20 Hz; E2 silent
    np.testing.assert_allclose(firing_rates(**spike_arrays(res, "E")), [20.0, 10.0, 0.0])
    with pytest.raises(SimulationError, match="diverged"):
        spike_arrays(_result(diverged=True))
    with pytest.raises(ParameterError):
        spike_arrays(object())


def test_rate_spread_hand_computed():
    # 1 s window: rates 3, 1, 0, 0 Hz
    t, u = flatten_trains([[10.0, 20.0, 30.0], [500.0], [], []])
    rs = rate_spread(t, u, n_units=4, t_stop_ms=1_000.0)
    rates = np.array([3.0, 1.0, 0.0, 0.0])
    assert rs.mean_hz == pytest.approx(1.0)
    assert rs.std_hz == pytest.approx(rates.std())
    assert rs.cv == pytest.approx(rates.std() / 1.0)
    assert rs.median_hz == pytest.approx(0.5)
    assert rs.iqr_hz == pytest.approx(np.percentile(rates, 75) - np.percentile(rates, 25))
    assert rs.fraction_silent == 0.5 and rs.n_units == 4
    silent = rate_spread(np.empty(0), np.empty(0, int), n_units=3, t_stop_ms=100.0)
    assert silent.mean_hz == 0.0 and math.isnan(silent.cv)


@pytest.mark.parametrize("kernel", ["none", "gaussian", "exponential", "box"])
def test_population_rate_preserves_mean_rate(kernel):
    t, u = poisson_trains(20, 8.0, 10_000.0, seed=4)
    tt, r = population_rate(t, u, n_units=20, t_stop_ms=10_000.0, bin_ms=2.0, kernel=kernel,
                            kernel_width_ms=10.0)
    assert tt[0] == pytest.approx(1.0) and tt.size == 5_000
    mean_rate = firing_rates(t, u, n_units=20, t_stop_ms=10_000.0).mean()
    assert r.mean() == pytest.approx(mean_rate, rel=0.01)
    if kernel == "none":
        assert r.sum() * 2.0 / 1e3 * 20 == pytest.approx(t.size)  # exact spike count


def test_population_rate_rejects_unknown_kernel():
    with pytest.raises(ParameterError, match="kernel"):
        population_rate([1.0], [0], t_stop_ms=10.0, kernel="triangle")


def test_surrogates_are_seeded_and_have_their_rates():
    for make in (
        lambda s: poisson_trains(5, 10.0, 1_000.0, seed=s),
        lambda s: gamma_trains(5, 10.0, 2.0, 1_000.0, seed=s),
        lambda s: modulated_poisson_trains(5, 10.0, 5.0, 0.5, 1_000.0, seed=s),
        lambda s: correlated_poisson_trains(5, 10.0, 0.2, 1_000.0, seed=s),
    ):
        a, b, c = make(3), make(3), make(4)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0])
        assert np.all(np.diff(a[0]) >= 0)
    t, u = gamma_trains(50, 12.0, 3.0, 10_000.0, seed=1)
    assert firing_rates(t, u, n_units=50, t_stop_ms=10_000.0).mean() == pytest.approx(12.0, rel=0.03)
    t, u = periodic_trains(2, 10.0, 100.0, offsets_ms=[0.0, 5.0])
    assert split_by_unit(t, u, 2)[1].tolist() == [5.0 + 10.0 * k for k in range(10)]
