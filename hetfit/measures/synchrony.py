"""Synchrony: Golomb's chi, the Kuramoto order parameter from spike phases, and the mean
pairwise spike-count correlation.

Reference values (all three are 1 for identical spike trains):

* **Golomb's chi** (Golomb & Rinzel 1993; Golomb 2007, "Neuronal synchrony measures",
  Scholarpedia 2(1):1347).  For signals ``x_i(t)``, ``i = 1..N``, and their population
  average ``X(t) = (1/N) sum_i x_i(t)``::

      chi^2 = Var_t[X] / ((1/N) sum_i Var_t[x_i])

  chi = 1 for identical signals; for independent signals of equal variance ``chi^2 -> 1/N``,
  i.e. chi ~ 1/sqrt(N): compare chi between networks only at equal N.
  :func:`golomb_chi` applies it to any signals (membrane potentials, rates);
  :func:`spike_train_chi` applies it to spike trains smoothed with a causal exponential
  kernel, ``x_i(t) = sum_{t_k <= t} exp(-(t - t_k)/tau)`` (a synaptic-trace-like signal),
  whose time means and variances are exact integrals over the window (no sampling grid).
  Units without spikes carry no signal and are left out.

* **Kuramoto order parameter** ``R(t) = |(1/N(t)) sum_j exp(i phi_j(t))|`` with the phase of
  unit j rising linearly by 2 pi between consecutive spikes,
  ``phi_j(t) = 2 pi (t - t_k)/(t_{k+1} - t_k)`` for ``t_k <= t < t_{k+1}``; only units with a
  defined phase (between their first and last spike) count in ``N(t)``.  The result is the
  time average of ``R(t)``, by default over the span where all participating units have a
  phase.  For independent units the phases are uniform and independent and
  ``E[R] ~= sqrt(pi / (4 N))`` (:func:`kuramoto_chance_level`), a finite-size floor.

* **Mean pairwise correlation**: Pearson correlation of the spike counts of two units in bins
  of ``bin_ms``, averaged over pairs (all pairs, or ``max_pairs`` pairs drawn with ``seed``
  when there are more).  Independent trains give 0 in expectation.  Units whose counts do not
  vary (silent, or exactly one spike per bin) have no correlation and are left out.

Few units or spikes give NaN (documented per function), never an exception; invalid
arguments raise :class:`hetfit.errors.ParameterError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.measures import _kernels
from hetfit.measures.spiketrains import n_full_bins, prepare_spikes
from hetfit.seeding import SeedLike, as_generator

# Cap on the Kuramoto grid so long recordings stay fast; the time average of R(t) is
# unbiased for any sampling step, which only sets its variance.
MAX_SAMPLES = 100_000


def golomb_chi(signals: Any) -> float:
    """Golomb's synchrony measure chi of N signals sampled at common times.

    Parameters
    ----------
    signals:
        Array of shape (N, n_times): one row per unit (e.g. membrane potential in mV, or a
        smoothed rate); any unit, chi is dimensionless and scale-free.

    Returns
    -------
    float
        chi in [0, 1]; NaN when N < 2, when fewer than 2 time samples, or when no signal
        varies (denominator 0).
    """
    x = np.asarray(signals, dtype=np.float64)
    if x.ndim != 2:
        raise ParameterError(
            f"signals must be a 2-D array (units x times), got shape {x.shape}",
            hint="stack one row per unit",
        )
    if not np.all(np.isfinite(x)):
        raise ParameterError("signals contain NaN or infinite values", hint="drop or fill them")
    if x.shape[0] < 2 or x.shape[1] < 2:
        return math.nan
    denom = float(np.mean(x.var(axis=1)))
    if denom <= 0:
        return math.nan
    return float(min(1.0, math.sqrt(float(x.mean(axis=0).var()) / denom)))


def _grid_step(duration_ms: float, dt_ms: float) -> float:
    return max(float(dt_ms), duration_ms / MAX_SAMPLES)


def spike_train_chi(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    tau_ms: float = 10.0,
) -> float:
    """Golomb's chi of exponentially smoothed spike trains (see the module docstring).

    Parameters
    ----------
    tau_ms:
        Time constant of the causal exponential kernel (ms): spikes closer than about tau
        count as synchronous.

    Notes
    -----
    The time means and variances of the smoothed traces (each unit's and the population
    sum's) are exact continuous-time integrals over the window, computed from the spike
    times in O(number of spikes) (no sampling grid).  Each trace starts at its stationary
    mean ``rate_i * tau`` rather than 0, so the common rise from zero at ``t_start_ms`` does
    not masquerade as synchrony.

    Returns
    -------
    float
        chi in [0, 1]; NaN when fewer than 2 units spike in the window.
    """
    if not (tau_ms > 0 and math.isfinite(tau_ms)):
        raise ParameterError(f"tau_ms must be a positive number, got {tau_ms}")
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    counts = np.bincount(data.units, minlength=data.n_units)
    active = np.flatnonzero(counts > 0)
    if active.size < 2:
        return math.nan
    by_unit, offsets = _kernels.group_by_unit(data.times_ms, data.units, data.n_units)
    t0, t1, tau, dur = data.t_start_ms, data.t_stop_ms, float(tau_ms), data.duration_ms
    x0 = counts / dur * tau  # stationary mean of each trace
    var_sum = float(_kernels.exp_trace_variances(by_unit, offsets, x0, t0, t1, tau).sum())
    if var_sum <= 0:
        return math.nan
    px, px2 = _kernels.exp_trace_integrals(
        data.times_ms, 0, data.n_spikes, float(x0[active].sum()), t0, t1, tau
    )
    var_pop = max(px2 / dur - (px / dur) ** 2, 0.0)
    # chi^2 = Var[X/N] / mean_i Var[x_i] = Var[X] / (N * sum_i Var[x_i])
    return float(min(1.0, math.sqrt(var_pop / (active.size * var_sum))))


def kuramoto_chance_level(n_units: int) -> float:
    """Expected R of ``n_units`` independent uniform phases, ``sqrt(pi / (4 N))`` (large-N).

    This is the mean length of a 2-D random walk of N unit steps divided by N (Rayleigh
    limit); it is accurate to a few percent from N ~ 10.
    """
    if n_units < 1:
        raise ParameterError(f"n_units must be >= 1, got {n_units}")
    return math.sqrt(math.pi / (4.0 * n_units))


@dataclass(frozen=True)
class KuramotoTrace:
    """Kuramoto order parameter over time.

    Attributes
    ----------
    t_ms:
        Sample times (ms).
    r:
        R(t) in [0, 1]; NaN at samples that are not used (see ``span``).
    n_units:
        Number of units with a defined phase at each sample.
    n_units_used:
        Units that take part (at least ``min_spikes`` spikes in the window).
    """

    t_ms: np.ndarray
    r: np.ndarray
    n_units: np.ndarray
    n_units_used: int


def kuramoto_trace(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    dt_ms: float = 1.0,
    span: Literal["common", "any"] = "common",
    min_spikes: int = 2,
    min_units: int = 2,
) -> KuramotoTrace:
    """R(t) of spike phases on a grid of step ``dt_ms`` (see :func:`kuramoto_order`)."""
    if int(min_units) != min_units or min_units < 2:
        raise ParameterError(f"min_units must be an integer >= 2, got {min_units}")
    if int(min_spikes) != min_spikes or min_spikes < 2:
        raise ParameterError(
            f"min_spikes must be an integer >= 2, got {min_spikes}",
            hint="a phase needs two consecutive spikes",
        )
    if span not in ("common", "any"):
        raise ParameterError(f"unknown span {span!r}", hint="use 'common' or 'any'")
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    step = _grid_step(data.duration_ms, dt_ms)
    n_samples = n_full_bins(data.duration_ms, step)
    include = np.bincount(data.units, minlength=data.n_units) >= min_spikes
    n_used = int(include.sum())
    by_unit, offsets = _kernels.group_by_unit(data.times_ms, data.units, data.n_units)
    c, s, cnt = _kernels.phase_sums(by_unit, offsets, include, data.t_start_ms, step, n_samples)
    r = np.full(n_samples, np.nan)
    ok = cnt >= min_units
    if span == "common":
        ok &= cnt == n_used
    r[ok] = np.sqrt(c[ok] ** 2 + s[ok] ** 2) / cnt[ok]
    t = data.t_start_ms + (np.arange(n_samples) + 0.5) * step
    return KuramotoTrace(t_ms=t, r=np.minimum(r, 1.0), n_units=cnt, n_units_used=n_used)


def kuramoto_order(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    dt_ms: float = 1.0,
    span: Literal["common", "any"] = "common",
    min_spikes: int = 2,
    min_units: int = 2,
) -> float:
    """Time-averaged Kuramoto order parameter of spike phases (see the module docstring).

    Parameters
    ----------
    dt_ms:
        Sampling step of R(t) (ms); enlarged so that at most ``MAX_SAMPLES`` samples are used.
        The time average is unbiased for any step; the step only sets its variance.
    span:
        ``"common"`` (default): average only where every participating unit has a phase,
        i.e. from the latest first spike to the earliest last spike; then R(t) always
        averages the same units and its chance level is exactly that of ``n_units_used``
        independent phases.  ``"any"``: average wherever at least ``min_units`` units have a
        phase; this uses more of the recording (useful for sparse recordings) but near the
        window edges fewer units, and phases conditioned on a recent first spike, raise R
        above the chance level (by ~20% for 3 s of 2-20 Hz Poisson units).
    min_spikes:
        Units with fewer spikes in the window do not take part (default 2, the minimum for a
        phase); raise it to leave out near-silent units that would shrink the common span.
    min_units:
        Fewest units with a phase for a sample to count (default 2).

    Returns
    -------
    float
        Mean of R(t) over the used samples; NaN when fewer than ``min_units`` units have
        ``min_spikes`` spikes, or no sample qualifies (e.g. the common span is empty).
    """
    tr = kuramoto_trace(
        times_ms, units, n_units, t_start_ms, t_stop_ms, dt_ms, span, min_spikes, min_units
    )
    ok = np.isfinite(tr.r)
    return float(tr.r[ok].mean()) if np.any(ok) else math.nan


def _pair_from_index(k: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Map linear indices 0..n(n-1)/2-1 to pairs (i, j), i < j, in row-major order."""
    k = k.astype(np.float64)
    i = n - 2 - np.floor(np.sqrt(-8.0 * k + 4.0 * n * (n - 1) - 7.0) / 2.0 - 0.5)
    j = k + i + 1 - n * (n - 1) / 2 + (n - i) * ((n - i) - 1) / 2
    return i.astype(np.int64), j.astype(np.int64)


@dataclass(frozen=True)
class PairwiseCorrelations:
    """Spike-count correlations of unit pairs.

    Attributes
    ----------
    unit_a, unit_b:
        Unit indices of each pair (a < b).
    r:
        Pearson correlation of their counts per bin.
    n_units_used:
        Units whose counts vary (the ones pairs were formed from).
    sampled:
        True when pairs were drawn at random (more than ``max_pairs`` possible).
    """

    unit_a: np.ndarray
    unit_b: np.ndarray
    r: np.ndarray
    n_units_used: int
    sampled: bool

    @property
    def mean(self) -> float:
        """Mean correlation over the pairs (NaN without pairs)."""
        return float(self.r.mean()) if self.r.size else math.nan


def pairwise_correlations(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    bin_ms: float = 10.0,
    max_pairs: int = 5000,
    seed: SeedLike = 0,
) -> PairwiseCorrelations:
    """Pearson correlations of spike counts in bins of ``bin_ms`` for pairs of units.

    Parameters
    ----------
    bin_ms:
        Counting bin (ms); only whole bins are used.
    max_pairs:
        When the units whose counts vary form more pairs than this, ``max_pairs`` distinct
        pairs are drawn uniformly at random (with ``seed``); otherwise all pairs are used.
    seed:
        Seed for the pair sample.  The default (0) makes the result a deterministic function
        of the data.
    """
    if int(max_pairs) != max_pairs or max_pairs < 1:
        raise ParameterError(f"max_pairs must be a positive integer, got {max_pairs}")
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    n_bins = n_full_bins(data.duration_ms, bin_ms)
    empty = np.empty(0, dtype=np.int64)
    if n_bins < 2:
        return PairwiseCorrelations(empty, empty, np.empty(0), 0, False)
    offsets, bins, counts = _kernels.sparse_bin_counts(
        data.times_ms, data.units, data.n_units, data.t_start_ms, float(bin_ms), n_bins
    )
    c = counts.astype(np.float64)
    s1 = _kernels.unit_sums(offsets, c)
    s2 = _kernels.unit_sums(offsets, c * c)
    mean = s1 / n_bins
    var = s2 / n_bins - mean**2
    # Relative tolerance: exact-zero variance can come out as ~1e-17 in floating point.
    varying = np.flatnonzero(var > 1e-12 * np.maximum(mean**2, 1e-300)).astype(np.int64)
    m = varying.size
    n_pairs = m * (m - 1) // 2
    if n_pairs == 0:
        return PairwiseCorrelations(empty, empty, np.empty(0), int(m), False)
    sampled = n_pairs > max_pairs
    if sampled:
        pick = as_generator(seed).choice(n_pairs, size=int(max_pairs), replace=False)
        pick.sort()
    else:
        pick = np.arange(n_pairs)
    ia, ib = _pair_from_index(pick, m)
    a, b = varying[ia], varying[ib]
    prod = _kernels.pair_count_products(offsets, bins, counts, a, b)
    cov = prod / n_bins - mean[a] * mean[b]
    r = np.clip(cov / np.sqrt(var[a] * var[b]), -1.0, 1.0)
    return PairwiseCorrelations(a, b, r, int(m), bool(sampled))


def mean_pairwise_correlation(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    bin_ms: float = 10.0,
    max_pairs: int = 5000,
    seed: SeedLike = 0,
) -> float:
    """Mean spike-count correlation over unit pairs (see :func:`pairwise_correlations`).

    NaN when fewer than two units have varying counts or fewer than two bins fit.
    """
    return pairwise_correlations(
        times_ms, units, n_units, t_start_ms, t_stop_ms, bin_ms, max_pairs, seed
    ).mean
