"""Population-rate spectrum: flat Poisson level, oscillation peak, cutoff, degenerate input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.measures import power_spectrum, rate_spectrum
from hetfit.measures.spectrum import welch
from hetfit.measures.spiketrains import flatten_trains
from hetfit.measures.surrogates import modulated_poisson_trains, poisson_trains


def test_poisson_population_rate_is_white_at_two_rate_over_n():
    # shot noise of N independent Poisson units at nu Hz: one-sided PSD 2 nu / N (Hz^2/Hz)
    n, nu = 100, 10.0
    t, u = poisson_trains(n, nu, 20_000.0, seed=3)
    spec = rate_spectrum(t, u, n_units=n, t_stop_ms=20_000.0, bin_ms=1.0)
    band = spec.frequencies_hz >= 1.0
    assert spec.psd[band].mean() == pytest.approx(2 * nu / n, rel=0.05)
    assert spec.peak_to_mean < 6.0  # no rhythm: the largest of ~500 noisy bins


@pytest.mark.parametrize("freq", [8.0, 13.3, 40.0])
def test_oscillating_rate_peaks_at_its_frequency(freq):
    t, u = modulated_poisson_trains(200, 10.0, freq, 0.5, 5_000.0, seed=int(freq))
    spec = rate_spectrum(t, u, n_units=200, t_stop_ms=5_000.0, bin_ms=1.0, segment_ms=1000.0)
    assert spec.peak_frequency_hz == pytest.approx(freq, abs=0.5)  # resolution 1 Hz
    assert spec.peak_to_mean > 20.0


def test_sinusoid_power_and_peak():
    dt = 1.0  # ms
    tt = np.arange(0, 10_000.0, dt) / 1e3
    x = 2.0 * np.sin(2 * np.pi * 25.0 * tt) + 5.0
    spec = power_spectrum(x, dt, segment_ms=2000.0, min_freq_hz=0.0)
    assert spec.peak_frequency_hz == pytest.approx(25.0, abs=0.1)
    # Parseval: total power = variance of the signal = A^2 / 2
    assert spec.band_power == pytest.approx(2.0, rel=0.02)


def test_min_frequency_cutoff_skips_slow_drift():
    tt = np.arange(0, 20_000.0, 1.0) / 1e3
    x = 10.0 * np.sin(2 * np.pi * 0.5 * tt) + 1.0 * np.sin(2 * np.pi * 20.0 * tt)
    full = power_spectrum(x, 1.0, segment_ms=4000.0, min_freq_hz=0.0)
    cut = power_spectrum(x, 1.0, segment_ms=4000.0, min_freq_hz=2.0)
    assert full.peak_frequency_hz == pytest.approx(0.5, abs=0.25)
    assert cut.peak_frequency_hz == pytest.approx(20.0, abs=0.25)


def test_degenerate_inputs_give_nan_peaks():
    t, u = flatten_trains([[], []])
    spec = rate_spectrum(t, u, n_units=2, t_stop_ms=1000.0)
    assert math.isnan(spec.peak_frequency_hz) and math.isnan(spec.peak_power)
    assert spec.band_power == 0.0
    t, u = flatten_trains([[1.0]])
    short = rate_spectrum(t, u, n_units=1, t_stop_ms=3.0, bin_ms=1.0)
    assert math.isnan(short.peak_frequency_hz)
    one = rate_spectrum(t, u, n_units=1, t_stop_ms=500.0)
    assert np.isfinite(one.peak_frequency_hz)  # one spike still has a (flat) spectrum


def test_bad_arguments_raise():
    with pytest.raises(ParameterError, match="band"):
        power_spectrum(np.zeros(100), 1.0, min_freq_hz=600.0)
    with pytest.raises(ParameterError, match="dt_ms"):
        power_spectrum(np.zeros(100), 0.0)
    with pytest.raises(ParameterError, match="NaN"):
        power_spectrum(np.array([1.0, np.nan, 2.0, 3.0, 4.0]), 1.0)


@pytest.mark.parametrize("n, nperseg", [(1000, 250), (1001, 250), (999, 333), (64, 64),
                                        (500, 7), (10, 4)])
def test_numpy_welch_equals_scipy(n, nperseg):
    from scipy.signal import welch as scipy_welch

    x = np.random.default_rng(n + nperseg).normal(5.0, 2.0, n)
    f, p = welch(x, 500.0, nperseg)
    f_ref, p_ref = scipy_welch(x, fs=500.0, window="hann", nperseg=nperseg,
                               detrend="constant", scaling="density")
    np.testing.assert_allclose(f, f_ref, rtol=1e-12)
    np.testing.assert_allclose(p, p_ref, rtol=1e-10, atol=1e-14)
