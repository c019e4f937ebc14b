"""Spike-train variability: CV of inter-spike intervals and Fano factor of spike counts.

Plain spike arrays in (see :mod:`hetfit.measures.spiketrains`), plain numbers out.
Reference values: a Poisson process has CV = 1 and Fano factor = 1; a gamma renewal process
of shape k has CV = 1/sqrt(k) and, for counting windows much longer than the mean ISI,
Fano factor -> CV^2 = 1/k; a perfectly periodic train has CV = 0.

Few spikes give NaN, never an exception: a unit with fewer than ``min_spikes`` spikes has no
CV (NaN), a unit without spikes in the window has no Fano factor (0/0), and summaries over
units ignore those NaNs; when no unit qualifies the summary is NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hetfit.errors import ParameterError
from hetfit.measures import _kernels
from hetfit.measures.spiketrains import (
    SpikeData,
    n_full_bins,
    population_counts,
    prepare_spikes,
)


def _isi_stats(data: SpikeData, min_spikes: int):
    if int(min_spikes) != min_spikes or min_spikes < 3:
        raise ParameterError(
            f"min_spikes must be an integer >= 3 (two intervals), got {min_spikes}",
            hint="a CV from a single interval is always 0 and meaningless",
        )
    n, mean, m2 = _kernels.isi_moments(data.times_ms, data.units, data.n_units)
    ok = n >= (min_spikes - 1)
    return n, mean, m2, ok


def cv_isi(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    min_spikes: int = 3,
) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each unit.

    ``CV_i = std(ISI_i) / mean(ISI_i)`` with the population standard deviation (ddof=0, as
    ``scipy.stats.variation`` and Elephant).  Dimensionless.

    Parameters
    ----------
    min_spikes:
        Units with fewer spikes in the window get NaN (default 3, i.e. at least two ISIs).

    Returns
    -------
    numpy.ndarray
        Shape (n_units,); NaN for units with too few spikes or a zero mean ISI (all spikes
        at one time).
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    n, mean, m2, ok = _isi_stats(data, min_spikes)
    out = np.full(data.n_units, np.nan)
    good = ok & (mean > 0)
    out[good] = np.sqrt(m2[good] / n[good]) / mean[good]
    return out


def pooled_cv_isi(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    min_spikes: int = 3,
) -> float:
    """CV of all ISIs of all units pooled into one distribution.

    Uses the ISIs of units with at least ``min_spikes`` spikes.  Unlike the mean of per-unit
    CVs, it also grows with the spread of rates across units (different mean ISIs widen the
    pooled distribution): for units that are each periodic at different rates it is > 0.
    NaN when no unit qualifies.
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    n, mean, m2, ok = _isi_stats(data, min_spikes)
    if not np.any(ok):
        return math.nan
    n, mean, m2 = n[ok].astype(np.float64), mean[ok], m2[ok]
    total = n.sum()
    grand = float(np.sum(n * mean) / total)
    if grand <= 0:
        return math.nan
    # Parallel combination of per-unit moments (Chan et al.).
    pooled_m2 = float(np.sum(m2 + n * (mean - grand) ** 2))
    return math.sqrt(pooled_m2 / total) / grand


def mean_cv_isi(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    min_spikes: int = 3,
) -> float:
    """Mean over units of :func:`cv_isi` (units without a CV ignored; NaN if none has one)."""
    cv = cv_isi(times_ms, units, n_units, t_start_ms, t_stop_ms, min_spikes)
    return float(np.mean(cv[np.isfinite(cv)])) if np.any(np.isfinite(cv)) else math.nan


def fano_factor(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    window_ms: float = 100.0,
) -> np.ndarray:
    """Fano factor of each unit's spike counts in consecutive windows.

    ``F_i = var(N_i) / mean(N_i)`` over the whole windows of ``window_ms`` that fit in the
    analysis window (a trailing partial window is not used), with the unbiased variance
    (ddof=1), so a Poisson train has expected F = 1 for any number of windows.

    Returns
    -------
    numpy.ndarray
        Shape (n_units,); NaN for units without spikes, and for every unit when fewer than
        two windows fit.
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    n_win = n_full_bins(data.duration_ms, window_ms)
    out = np.full(data.n_units, np.nan)
    if n_win < 2:
        return out
    offsets, _, counts = _kernels.sparse_bin_counts(
        data.times_ms, data.units, data.n_units, data.t_start_ms, float(window_ms), n_win
    )
    c = counts.astype(np.float64)
    s1 = _kernels.unit_sums(offsets, c)
    s2 = _kernels.unit_sums(offsets, c * c)
    mean = s1 / n_win
    var = (s2 - n_win * mean**2) / (n_win - 1)
    good = mean > 0
    out[good] = np.maximum(var[good], 0.0) / mean[good]
    return out


def mean_fano_factor(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    window_ms: float = 100.0,
) -> float:
    """Mean over units of :func:`fano_factor` (silent units ignored; NaN if none fired)."""
    f = fano_factor(times_ms, units, n_units, t_start_ms, t_stop_ms, window_ms)
    return float(np.mean(f[np.isfinite(f)])) if np.any(np.isfinite(f)) else math.nan


def population_fano_factor(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    window_ms: float = 100.0,
) -> float:
    """Fano factor of the summed spike count of all units per window (ddof=1).

    For independent units it equals the spike-weighted mean of the unit Fano factors; positive
    correlations between units raise it (for N identical Poisson trains it is N), so it is
    also a synchrony-sensitive measure.  NaN with fewer than two windows or no spikes.
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    counts = population_counts(data, window_ms).astype(np.float64)
    if counts.size < 2 or counts.sum() == 0:
        return math.nan
    return float(counts.var(ddof=1) / counts.mean())
