"""Firing rates: per unit, their spread across units, and the population rate.

All functions take the plain spike arrays described in :mod:`hetfit.measures.spiketrains`
(``times_ms, units, n_units, t_start_ms, t_stop_ms``).  Rates are in Hz (spikes per second per
unit).  Silent units count (rate 0): they are part of the spread of rates, which is itself a
heterogeneity measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.measures.spiketrains import population_counts, prepare_spikes

Kernel = Literal["none", "gaussian", "exponential", "box"]


def firing_rates(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
) -> np.ndarray:
    """Mean firing rate of each unit over the window, in Hz (shape (n_units,)).

    ``rate_i = (spikes of unit i in [t_start, t_stop)) / ((t_stop - t_start) / 1000)``.
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    counts = np.bincount(data.units, minlength=data.n_units).astype(np.float64)
    return counts / (data.duration_ms / 1e3)


@dataclass(frozen=True)
class RateSpread:
    """Mean and spread of unit firing rates (Hz).

    Attributes
    ----------
    mean_hz, std_hz:
        Mean and standard deviation (ddof=0) of the unit rates.
    cv:
        ``std_hz / mean_hz``; NaN when no unit fired (mean 0).
    median_hz, iqr_hz:
        Median and inter-quartile range of the unit rates.
    fraction_silent:
        Fraction of units without a spike in the window.
    n_units:
        Units included (silent ones too).
    """

    mean_hz: float
    std_hz: float
    cv: float
    median_hz: float
    iqr_hz: float
    fraction_silent: float
    n_units: int


def rate_spread(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
) -> RateSpread:
    """Mean firing rate and its spread across units (see :class:`RateSpread`).

    With one unit the spread is 0 (std, IQR) and the CV is 0 if it fired; no value is
    undefined except the CV of an all-silent population (NaN: 0/0).
    """
    rates = firing_rates(times_ms, units, n_units, t_start_ms, t_stop_ms)
    mean = float(rates.mean())
    std = float(rates.std())
    q25, q50, q75 = np.percentile(rates, [25.0, 50.0, 75.0])
    return RateSpread(
        mean_hz=mean,
        std_hz=std,
        cv=std / mean if mean > 0 else math.nan,
        median_hz=float(q50),
        iqr_hz=float(q75 - q25),
        fraction_silent=float(np.mean(rates == 0.0)),
        n_units=int(rates.size),
    )


def population_rate(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    bin_ms: float = 1.0,
    kernel: Kernel = "none",
    kernel_width_ms: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Population firing rate per unit, in Hz, on a regular grid.

    ``r(t_k) = (spikes of all units in bin k) / (n_units * bin_ms / 1000)``, optionally
    smoothed with a unit-area kernel, so its time average equals the mean unit rate.

    Parameters
    ----------
    bin_ms:
        Bin width (ms).  Only whole bins inside the window are used.
    kernel:
        ``"none"``; ``"gaussian"`` (standard deviation ``kernel_width_ms``, reflecting edges);
        ``"exponential"`` (causal, time constant ``kernel_width_ms``); ``"box"`` (centred
        moving average of width ``kernel_width_ms``).
    kernel_width_ms:
        Kernel width (ms), see ``kernel``.

    Returns
    -------
    t_ms, rate_hz:
        Bin centres (ms) and the rate (Hz per unit), both shape (n_bins,).
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    counts = population_counts(data, bin_ms).astype(np.float64)
    rate = counts / (data.n_units * bin_ms / 1e3)
    rate = smooth(rate, bin_ms, kernel, kernel_width_ms)
    t = data.t_start_ms + (np.arange(rate.size) + 0.5) * bin_ms
    return t, rate


def smooth(
    signal: np.ndarray, dt_ms: float, kernel: Kernel = "gaussian", width_ms: float = 5.0
) -> np.ndarray:
    """Smooth a regularly sampled signal with a unit-area kernel (see :func:`population_rate`)."""
    signal = np.asarray(signal, dtype=np.float64)
    if kernel == "none" or signal.size == 0:
        return signal
    if not (width_ms > 0 and math.isfinite(width_ms)):
        raise ParameterError(f"kernel width must be a positive number of ms, got {width_ms}")
    if kernel == "gaussian":
        from scipy.ndimage import gaussian_filter1d

        return gaussian_filter1d(signal, sigma=width_ms / dt_ms, mode="reflect")
    if kernel == "exponential":
        from scipy.signal import lfilter

        decay = math.exp(-dt_ms / width_ms)
        # y[n] = decay*y[n-1] + (1-decay)*x[n]: causal exponential with unit DC gain.
        return lfilter([1.0 - decay], [1.0, -decay], signal)
    if kernel == "box":
        from scipy.ndimage import uniform_filter1d

        size = max(1, int(round(width_ms / dt_ms)))
        return uniform_filter1d(signal, size=size, mode="reflect")
    raise ParameterError(
        f"unknown kernel {kernel!r}", hint="use 'none', 'gaussian', 'exponential' or 'box'"
    )

