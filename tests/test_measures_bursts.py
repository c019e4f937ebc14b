"""Network bursts: planted bursts are found, Poisson activity has none, hand fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.measures import network_bursts
from hetfit.measures.spiketrains import flatten_trains
from hetfit.measures.surrogates import poisson_trains

T = 20_000.0


@pytest.fixture(scope="module")
def planted():
    """50 units at 2 Hz background + 8 bursts (every unit fires 3 spikes within 50 ms)."""
    rng = np.random.default_rng(5)
    n = 50
    bt, bu = poisson_trains(n, 2.0, T, seed=6)
    starts = np.sort(rng.choice(np.arange(1_000.0, T - 1_000.0, 2_000.0), 8, replace=False))
    extra_t = np.concatenate([s + rng.uniform(0, 50.0, (n, 3)).ravel() for s in starts])
    extra_u = np.tile(np.repeat(np.arange(n), 3), starts.size)
    t = np.concatenate([bt, extra_t])
    u = np.concatenate([bu, extra_u])
    order = np.argsort(t, kind="stable")
    return t[order], u[order], starts, extra_t.size


@pytest.mark.parametrize("method", ["rate", "isi"])
def test_planted_bursts_are_found(planted, method):
    t, u, starts, n_burst_spikes = planted
    b = network_bursts(t, u, n_units=50, t_stop_ms=T, method=method)
    assert b.count == starts.size
    # rate: smoothing widens the edges; isi: a sparse leading edge (gaps > max_isi_ms) can be
    # cut off, shifting the start by a few intervals
    slack = 30.0 if method == "rate" else 15.0
    np.testing.assert_allclose(b.start_ms, starts, atol=slack)
    assert np.all(b.stop_ms - b.start_ms < 50.0 + 2 * slack)
    assert b.rate_hz == pytest.approx(starts.size / (T / 1e3))
    assert b.mean_participation == pytest.approx(1.0)
    np.testing.assert_array_equal(b.n_units, 50)
    # planted spikes / all spikes, plus the background spikes that fall inside the windows
    # (50 units x 2 Hz over the detected durations, plus up to one per edge for the ISI
    # method, whose edges sit on spikes; bound at the mean + 4 SD)
    background = 50 * 2.0 * (b.stop_ms - b.start_ms).sum() / 1e3 + 2 * b.count
    planted_fraction = n_burst_spikes / t.size
    assert planted_fraction <= b.fraction_spikes_in_bursts
    assert b.fraction_spikes_in_bursts <= (n_burst_spikes + background + 4 * background**0.5) / t.size
    assert b.mean_ibi_ms == pytest.approx(np.diff(starts).mean(), abs=slack)
    assert b.cv_ibi == pytest.approx(np.diff(starts).std() / np.diff(starts).mean(), rel=0.1)


@pytest.mark.parametrize("method", ["rate", "isi"])
def test_poisson_activity_has_no_bursts(method):
    t, u = poisson_trains(100, 5.0, T, seed=8)
    b = network_bursts(t, u, n_units=100, t_stop_ms=T, method=method)
    assert b.count == 0
    assert b.rate_hz == 0.0 and b.fraction_spikes_in_bursts == 0.0
    assert math.isnan(b.mean_duration_ms) and math.isnan(b.mean_ibi_ms)


def test_isi_method_hand_fixture():
    # population train 0, 100..104 (units alternate), 300: one burst of 5 spikes, 2 units
    t, u = flatten_trains([[0.0, 100.0, 102.0, 104.0], [101.0, 103.0, 300.0]])
    b = network_bursts(t, u, n_units=2, t_stop_ms=400.0, method="isi", max_isi_ms=2.0,
                       min_spikes=5)
    assert b.count == 1
    assert (b.start_ms[0], b.stop_ms[0]) == (100.0, 104.0)
    assert b.n_spikes.tolist() == [5] and b.n_units.tolist() == [2]
    assert b.fraction_spikes_in_bursts == pytest.approx(5 / 7)
    assert b.mean_duration_ms == pytest.approx(4.0)
    # one unit only -> rejected by min_units=2
    t1, u1 = flatten_trains([[100.0, 101.0, 102.0, 103.0, 104.0], [300.0]])
    assert network_bursts(t1, u1, t_stop_ms=400.0, method="isi", max_isi_ms=2.0,
                          min_spikes=5).count == 0


def test_rate_method_hand_fixture_and_merging():
    # bins of 10 ms, no smoothing, absolute threshold 50 Hz per unit (2 units: > 1 spike/bin)
    t, u = flatten_trains([[12.0, 15.0, 42.0, 45.0], [13.0, 43.0, 80.0]])
    kw = dict(n_units=2, t_stop_ms=100.0, bin_ms=10.0, smooth_ms=0.0, threshold_hz=50.0,
              min_spikes=2)
    b = network_bursts(t, u, **kw)
    assert b.count == 2
    np.testing.assert_allclose(b.start_ms, [10.0, 40.0])
    np.testing.assert_allclose(b.stop_ms, [20.0, 50.0])
    assert b.n_spikes.tolist() == [3, 3]
    assert b.fraction_spikes_in_bursts == pytest.approx(6 / 7)
    merged = network_bursts(t, u, **kw, merge_gap_ms=20.0)
    assert merged.count == 1 and (merged.start_ms[0], merged.stop_ms[0]) == (10.0, 50.0)


@pytest.mark.parametrize("spikes", [[[]], [[5.0]], [[5.0, 6.0], []]])
def test_few_spikes_give_no_bursts(spikes):
    t, u = flatten_trains(spikes)
    for method in ("rate", "isi"):
        b = network_bursts(t, u, n_units=len(spikes), t_stop_ms=100.0, method=method)
        assert b.count == 0
        if t.size == 0:
            assert math.isnan(b.fraction_spikes_in_bursts)
        else:
            assert b.fraction_spikes_in_bursts == 0.0


def test_bad_arguments():
    t, u = flatten_trains([[1.0, 2.0]])
    with pytest.raises(ParameterError, match="method"):
        network_bursts(t, u, method="magic")
    with pytest.raises(ParameterError, match="max_isi_ms"):
        network_bursts(t, u, method="isi", max_isi_ms=-1.0)
    with pytest.raises(ParameterError, match="threshold_factor"):
        network_bursts(t, u, threshold_factor=0.0)
