"""Frequency estimators on signals of known frequency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.models.meanfield import dominant_frequency_hz, peak_frequency_hz


def _signal(f_hz: float, dt_ms: float, t_ms: float, harmonics: bool = False) -> np.ndarray:
    t = np.arange(0.0, t_ms, dt_ms) * 1e-3
    x = 10.0 + 3.0 * np.sin(2 * np.pi * f_hz * t + 0.4)
    if harmonics:  # a spiky, non-sinusoidal rhythm like a population burst
        x += 2.0 * np.sin(4 * np.pi * f_hz * t) + np.sin(6 * np.pi * f_hz * t + 1.0)
    return x


@pytest.mark.parametrize("f_hz", [7.3, 37.7, 61.2])
def test_both_estimators_recover_a_known_frequency(f_hz):
    x = _signal(f_hz, 0.5, 2000.0)
    f_spec, frac = dominant_frequency_hz(x, 0.5)
    assert f_spec == pytest.approx(f_hz, rel=5e-3)
    assert frac > 0.9
    assert peak_frequency_hz(x, 0.5) == pytest.approx(f_hz, rel=2e-3)
    # harmonics do not move the fundamental
    y = _signal(f_hz, 0.5, 2000.0, harmonics=True)
    assert dominant_frequency_hz(y, 0.5)[0] == pytest.approx(f_hz, rel=5e-3)


def test_flat_or_noisy_signals_have_no_clear_peak():
    f, frac = dominant_frequency_hz(np.full(1000, 3.0), 0.5)
    assert math.isnan(f) and frac == 0.0
    assert math.isnan(peak_frequency_hz(np.full(1000, 3.0), 0.5))
    noise = np.random.default_rng(0).normal(size=4000)
    assert dominant_frequency_hz(noise, 0.5)[1] < 0.05


def test_bad_input():
    with pytest.raises(ParameterError):
        dominant_frequency_hz(np.ones((3, 3)), 0.5)
    with pytest.raises(ParameterError):
        dominant_frequency_hz(np.ones(100), 0.0)
    with pytest.raises(ParameterError, match="NaN"):
        dominant_frequency_hz(np.array([1.0, np.nan] * 20), 0.5)
    with pytest.raises(InsufficientDataError):
        dominant_frequency_hz(np.ones(5), 0.5)
    with pytest.raises(ParameterError, match="band"):
        dominant_frequency_hz(_signal(10.0, 0.5, 100.0), 0.5, f_min_hz=2000.0)
