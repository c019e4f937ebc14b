"""Network bursts: population events in which many units fire together.

Two detectors, both on the pooled activity of all units:

``method="rate"`` (population-rate threshold)
    Spike counts of all units in bins of ``bin_ms`` are turned into the population rate (Hz
    per unit), optionally smoothed with a Gaussian of standard deviation ``smooth_ms``.  A
    burst is a run of bins whose rate exceeds the threshold: ``threshold_hz`` if given,
    else ``threshold_factor`` times the mean rate.  Runs closer than ``merge_gap_ms`` are
    merged.  Start/stop are the edges of the first/last supra-threshold bin, so smoothing
    widens bursts by about ``smooth_ms`` on each side.

``method="isi"`` (population inter-spike-interval threshold)
    All spikes are merged into one train.  A burst is a maximal run of consecutive spikes
    whose intervals are all <= ``max_isi_ms`` (default: a quarter of the mean population
    interval, i.e. a local population rate above four times the mean).  Runs with at least
    ``min_spikes`` spikes that are separated by at most ``merge_gap_ms`` (default
    ``10 * max_isi_ms``) are joined, since one chance long interval splits a dense burst.
    Start/stop are the first and last spike of the (joined) run.

Both keep only bursts with at least ``min_spikes`` spikes from at least ``min_units``
distinct units (and at least ``min_duration_ms``).  Defaults are for network bursts in
cultures and simulations; tune them for your data (and report them).  For independent Poisson
units the defaults detect (almost) no bursts.

No bursts is a result, not an error: the count and rate are 0, the fraction of spikes in
bursts is 0 (NaN if there are no spikes at all), and means over bursts are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.measures.spiketrains import SpikeData, population_counts, prepare_spikes


@dataclass(frozen=True)
class NetworkBursts:
    """Detected network bursts and their statistics.

    Attributes
    ----------
    start_ms, stop_ms:
        Burst edges (ms), arrays of shape (n_bursts,).
    n_spikes, n_units:
        Spikes and distinct units in each burst.
    count:
        Number of bursts.
    rate_hz:
        Bursts per second of analysed time (Hz).
    mean_duration_ms:
        Mean ``stop - start`` (ms); NaN without bursts.
    fraction_spikes_in_bursts:
        Spikes inside bursts / all spikes in the window; NaN without spikes.
    mean_participation:
        Mean over bursts of (units in the burst / n_units); NaN without bursts.
    mean_ibi_ms, cv_ibi:
        Mean and CV (ddof=0) of the intervals between consecutive burst starts (ms); NaN with
        fewer than 2 (mean) or 3 (CV) bursts.
    method:
        ``"rate"`` or ``"isi"``.
    """

    start_ms: np.ndarray
    stop_ms: np.ndarray
    n_spikes: np.ndarray
    n_units: np.ndarray
    count: int
    rate_hz: float
    mean_duration_ms: float
    fraction_spikes_in_bursts: float
    mean_participation: float
    mean_ibi_ms: float
    cv_ibi: float
    method: str


def _members(data: SpikeData, start: np.ndarray, stop: np.ndarray, closed: bool):
    """Burst index of each spike (-1 outside bursts); bursts are sorted and disjoint."""
    t = data.times_ms
    if start.size == 0:
        return np.full(t.size, -1, dtype=np.int64)
    idx = np.searchsorted(start, t, side="right") - 1
    inside = idx >= 0
    inside[inside] &= (t[inside] <= stop[idx[inside]]) if closed else (t[inside] < stop[idx[inside]])
    return np.where(inside, idx, -1)


def _stats(data: SpikeData, start, stop, n_sp, n_un, method: str) -> NetworkBursts:
    count = int(start.size)
    dur = stop - start
    ibi = np.diff(start)
    total = data.n_spikes
    nan = math.nan
    return NetworkBursts(
        start_ms=start,
        stop_ms=stop,
        n_spikes=n_sp.astype(np.int64),
        n_units=n_un.astype(np.int64),
        count=count,
        rate_hz=count / (data.duration_ms / 1e3),
        mean_duration_ms=float(dur.mean()) if count else nan,
        fraction_spikes_in_bursts=float(n_sp.sum() / total) if total else nan,
        mean_participation=float(np.mean(n_un / data.n_units)) if count else nan,
        mean_ibi_ms=float(ibi.mean()) if count >= 2 else nan,
        cv_ibi=float(ibi.std() / ibi.mean()) if count >= 3 and ibi.mean() > 0 else nan,
        method=method,
    )


def _count(data: SpikeData, start: np.ndarray, stop: np.ndarray, closed: bool):
    """Spikes and distinct units in each burst window."""
    member = _members(data, start, stop, closed)
    nb = start.size
    inb = member >= 0
    n_sp = np.bincount(member[inb], minlength=nb)
    pairs = np.unique(member[inb] * data.n_units + data.units[inb])
    n_un = np.bincount(pairs // data.n_units, minlength=nb) if nb else np.zeros(0, np.int64)
    return n_sp, n_un


def _merge(start: np.ndarray, stop: np.ndarray, gap_ms: float):
    """Merge consecutive windows separated by at most ``gap_ms``."""
    if start.size < 2 or gap_ms <= 0:
        return start, stop
    join = (start[1:] - stop[:-1]) <= gap_ms
    return start[np.concatenate(([True], ~join))], stop[np.concatenate((~join, [True]))]


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, stop) index pairs of the runs of True in a boolean array."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(padded)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def network_bursts(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    method: Literal["rate", "isi"] = "rate",
    bin_ms: float = 10.0,
    smooth_ms: float = 10.0,
    threshold_factor: float = 3.0,
    threshold_hz: float | None = None,
    merge_gap_ms: float | None = None,
    max_isi_ms: float | None = None,
    min_spikes: int | None = None,
    min_units: int = 2,
    min_duration_ms: float = 0.0,
) -> NetworkBursts:
    """Detect network bursts and summarise them (see the module docstring).

    Parameters
    ----------
    method:
        ``"rate"`` or ``"isi"``.
    bin_ms, smooth_ms, threshold_factor, threshold_hz:
        Rate method: bin width (ms), Gaussian smoothing SD (ms; 0 = none), threshold as a
        multiple of the mean population rate, or an absolute threshold (Hz per unit).
    merge_gap_ms:
        Bursts separated by at most this gap (ms) become one.  Rate method: supra-threshold
        runs are merged before the size filters (default 0: no merging).  ISI method: runs
        that already have ``min_spikes`` spikes are merged (default ``10 * max_isi_ms``), which
        rejoins bursts split by one stray long interval.
    max_isi_ms:
        ISI method: largest interval (ms) between consecutive population spikes inside a
        burst; default a quarter of the mean population interval.
    min_spikes:
        Smallest burst size in spikes (default 5 for ``"rate"``, 10 for ``"isi"``, where short
        runs of close spikes occur by chance).
    min_units:
        Smallest number of distinct units in a burst (default 2).
    min_duration_ms:
        Shortest burst (ms).
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    if method not in ("rate", "isi"):
        raise ParameterError(f"unknown burst method {method!r}", hint="use 'rate' or 'isi'")
    if min_spikes is None:
        min_spikes = 5 if method == "rate" else 10
    if min_spikes < 1 or min_units < 1 or min_duration_ms < 0:
        raise ParameterError("min_spikes and min_units must be >= 1 and min_duration_ms >= 0")
    if method == "rate":
        merge_gap_ms = 0.0 if merge_gap_ms is None else merge_gap_ms
        for name, v in (("smooth_ms", smooth_ms), ("merge_gap_ms", merge_gap_ms)):
            if not (v >= 0 and math.isfinite(v)):
                raise ParameterError(f"{name} must be >= 0 ms, got {v}")
        if threshold_hz is None and not (threshold_factor > 0 and math.isfinite(threshold_factor)):
            raise ParameterError(f"threshold_factor must be > 0, got {threshold_factor}")
        counts = population_counts(data, bin_ms).astype(np.float64)
        rate = counts / (data.n_units * bin_ms / 1e3)
        if smooth_ms > 0 and rate.size:
            from scipy.ndimage import gaussian_filter1d

            rate = gaussian_filter1d(rate, sigma=smooth_ms / bin_ms, mode="reflect")
        mean_rate = float(rate.mean()) if rate.size else 0.0
        thr = float(threshold_hz) if threshold_hz is not None else threshold_factor * mean_rate
        if rate.size == 0 or mean_rate <= 0:
            s = e = np.empty(0, dtype=np.int64)
        else:
            s, e = _runs(rate > thr)
        start, stop = _merge(data.t_start_ms + s * bin_ms, data.t_start_ms + e * bin_ms,
                             merge_gap_ms)
        closed = False
    else:
        t = data.times_ms
        if max_isi_ms is None:
            max_isi_ms = data.duration_ms / max(t.size, 1) / 4.0
        if not (max_isi_ms > 0 and math.isfinite(max_isi_ms)):
            raise ParameterError(f"max_isi_ms must be a positive number of ms, got {max_isi_ms}")
        if t.size < 2:
            s = e = np.empty(0, dtype=np.int64)
        else:
            s, e = _runs(np.diff(t) <= max_isi_ms)  # k short intervals = spikes s..s+k
        start, stop = t[s], t[e]
        closed = True
        # Runs big enough on their own are kept, then runs split by a stray long interval
        # are joined (merging first would chain chance runs of a Poisson background).
        big = (e - s + 1) >= min_spikes
        gap = 10.0 * max_isi_ms if merge_gap_ms is None else merge_gap_ms
        start, stop = _merge(start[big], stop[big], gap)
    n_sp, n_un = _count(data, start, stop, closed)
    keep = (n_sp >= min_spikes) & (n_un >= min_units) & ((stop - start) >= min_duration_ms)
    return _stats(data, start[keep], stop[keep], n_sp[keep], n_un[keep], method)
