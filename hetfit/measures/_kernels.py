"""Compiled loops shared by the measures (numba, cached).

All kernels take time-sorted float64 spike times and int64 unit indices (or per-unit groups
made by :func:`group_by_unit`) and run in O(number of spikes) or O(units x samples) without
building (units x bins) matrices, so they stay fast and small for long recordings and for the
tens of thousands of simulations inference evaluates.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def group_by_unit(times: np.ndarray, units: np.ndarray, n_units: int):
    """(times grouped by unit, offsets) with times ascending inside each unit.

    Unit ``u`` owns ``times_by_unit[offsets[u]:offsets[u + 1]]``.  ``times`` must already be
    sorted; the counting sort is stable, so that order is kept inside each unit.
    """
    return _group_by_unit(times, units, n_units)


@njit(cache=True)
def _group_by_unit(times, units, n_units):  # pragma: no cover - compiled
    offsets = np.zeros(n_units + 1, dtype=np.int64)
    for k in range(units.size):
        offsets[units[k] + 1] += 1
    for u in range(n_units):
        offsets[u + 1] += offsets[u]
    fill = offsets[:-1].copy()
    out = np.empty(times.size)
    for k in range(times.size):
        u = units[k]
        out[fill[u]] = times[k]
        fill[u] += 1
    return out, offsets


def unit_sums(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` per unit for values grouped by unit with ``offsets`` (empty -> 0)."""
    n_units = offsets.size - 1
    out = np.zeros(n_units)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    if values.size:
        # reduceat over non-empty groups only: each then ends where the next one starts.
        out[nonempty] = np.add.reduceat(values, starts[nonempty])
    return out


@njit(cache=True)
def isi_moments(times, units, n_units):  # pragma: no cover - compiled
    """Per-unit number of ISIs, mean ISI and sum of squared deviations (Welford, one pass)."""
    last = np.zeros(n_units)
    seen = np.zeros(n_units, dtype=np.bool_)
    n = np.zeros(n_units, dtype=np.int64)
    mean = np.zeros(n_units)
    m2 = np.zeros(n_units)
    for k in range(times.size):
        u = units[k]
        t = times[k]
        if seen[u]:
            isi = t - last[u]
            n[u] += 1
            d = isi - mean[u]
            mean[u] += d / n[u]
            m2[u] += d * (isi - mean[u])
        seen[u] = True
        last[u] = t
    return n, mean, m2


@njit(cache=True)
def sparse_bin_counts(times, units, n_units, t_start, bin_ms, n_bins):  # pragma: no cover
    """Non-zero spike counts per (unit, bin), grouped by unit with bins ascending.

    Returns ``offsets`` (n_units + 1), ``bins`` and ``counts``: unit ``u`` has count
    ``counts[j]`` in bin ``bins[j]`` for ``offsets[u] <= j < offsets[u + 1]``; bins it does not
    list hold 0.  Bins are ``[t_start + k*bin_ms, t_start + (k+1)*bin_ms)``, k < n_bins.
    """
    # pass 1: number of distinct non-empty bins per unit
    last_bin = np.full(n_units, -1, dtype=np.int64)
    n_runs = np.zeros(n_units, dtype=np.int64)
    for k in range(times.size):
        b = int(math.floor((times[k] - t_start) / bin_ms))
        if b >= n_bins:
            break
        u = units[k]
        if b != last_bin[u]:
            n_runs[u] += 1
            last_bin[u] = b
    offsets = np.zeros(n_units + 1, dtype=np.int64)
    for u in range(n_units):
        offsets[u + 1] = offsets[u] + n_runs[u]
    bins = np.empty(offsets[n_units], dtype=np.int64)
    counts = np.zeros(offsets[n_units], dtype=np.int64)
    # pass 2: fill (times are sorted, so each unit's bins arrive in ascending order)
    fill = offsets[:-1].copy()
    last_bin[:] = -1
    for k in range(times.size):
        b = int(math.floor((times[k] - t_start) / bin_ms))
        if b >= n_bins:
            break
        u = units[k]
        if b != last_bin[u]:
            bins[fill[u]] = b
            fill[u] += 1
            last_bin[u] = b
        counts[fill[u] - 1] += 1
    return offsets, bins, counts


@njit(cache=True)
def pair_count_products(offsets, bins, counts, a, b):  # pragma: no cover - compiled
    """``sum_k c_a[k] * c_b[k]`` for each pair (a[p], b[p]) by merging sparse count lists."""
    out = np.zeros(a.size)
    for p in range(a.size):
        i = offsets[a[p]]
        ie = offsets[a[p] + 1]
        j = offsets[b[p]]
        je = offsets[b[p] + 1]
        s = 0.0
        while i < ie and j < je:
            if bins[i] == bins[j]:
                s += counts[i] * counts[j]
                i += 1
                j += 1
            elif bins[i] < bins[j]:
                i += 1
            else:
                j += 1
        out[p] = s
    return out


@njit(cache=True)
def exp_trace_integrals(times, lo, hi, x0, t_start, t_stop, tau):  # pragma: no cover
    """Exact integrals of an exponentially filtered spike train over ``[t_start, t_stop]``.

    ``x(t) = x0 exp(-(t - t_start)/tau) + sum_{t_k <= t} exp(-(t - t_k)/tau)`` for the sorted
    spikes ``times[lo:hi]`` (all inside the window).  Treating ``x0`` as a spike of weight x0
    at ``t_start``, with weights w_k::

        int x   = tau * sum_k w_k (1 - e_k),            e_k = exp(-(t_stop - t_k)/tau)
        int x^2 = tau/2 * (sum_{k,l} w_k w_l exp(-|t_k - t_l|/tau) - (sum_k w_k e_k)^2)

    and the double sum is ``sum_k w_k^2 + 2 sum_l w_l a_l`` with the recursion
    ``a_l = exp(-(t_l - t_{l-1})/tau) (a_{l-1} + w_{l-1})``: O(number of spikes).
    """
    prev_t = t_start
    prev_w = x0
    a = 0.0
    pair = x0 * x0
    lin = x0 * (1.0 - math.exp(-(t_stop - t_start) / tau))
    tail = x0 * math.exp(-(t_stop - t_start) / tau)
    for k in range(lo, hi):
        t = times[k]
        a = math.exp(-(t - prev_t) / tau) * (a + prev_w)
        pair += 1.0 + 2.0 * a
        e = math.exp(-(t_stop - t) / tau)
        lin += 1.0 - e
        tail += e
        prev_t = t
        prev_w = 1.0
    return tau * lin, 0.5 * tau * (pair - tail * tail)


@njit(cache=True)
def exp_trace_variances(times_by_unit, offsets, x0, t_start, t_stop, tau):  # pragma: no cover
    """Time variance (ddof=0) of each unit's filtered train (see exp_trace_integrals)."""
    n_units = offsets.size - 1
    dur = t_stop - t_start
    out = np.zeros(n_units)
    for u in range(n_units):
        ix, ix2 = exp_trace_integrals(
            times_by_unit, offsets[u], offsets[u + 1], x0[u], t_start, t_stop, tau
        )
        v = ix2 / dur - (ix / dur) ** 2
        out[u] = v if v > 0.0 else 0.0
    return out


@njit(cache=True)
def phase_sums(times_by_unit, offsets, include, t_start, dt, n_samples):  # pragma: no cover
    """Sums of cos and sin of spike phases, and how many units have a phase, per sample.

    Only units with ``include[u]`` (and at least two spikes) take part.  A unit's phase at
    ``t`` with ``t_k <= t < t_{k+1}`` (consecutive spikes with ``t_{k+1} > t_k``) is
    ``2 pi (t - t_k)/(t_{k+1} - t_k)``; it is undefined before the first and from the last
    spike on.  Samples are ``t_n = t_start + (n + 0.5)*dt``.  Inside one interval the phase
    grows by a constant step per sample, so the unit vector is advanced by a rotation instead
    of a cos/sin per sample (exact up to rounding).
    """
    c = np.zeros(n_samples)
    s = np.zeros(n_samples)
    cnt = np.zeros(n_samples, dtype=np.int64)
    two_pi = 2.0 * math.pi
    n_units = offsets.size - 1
    for u in range(n_units):
        a = offsets[u]
        b = offsets[u + 1]
        if b - a < 2 or not include[u]:
            continue
        for k in range(a, b - 1):
            t0 = times_by_unit[k]
            t1 = times_by_unit[k + 1]
            if t1 <= t0:
                continue
            # samples with t0 <= t_n < t1
            n_a = int(math.ceil((t0 - t_start) / dt - 0.5))
            if n_a < 0:
                n_a = 0
            while n_a < n_samples and t_start + (n_a + 0.5) * dt < t0:
                n_a += 1
            if n_a >= n_samples:
                break
            width = t1 - t0
            t = t_start + (n_a + 0.5) * dt
            if t >= t1:
                continue
            ph = two_pi * (t - t0) / width
            zc = math.cos(ph)
            zs = math.sin(ph)
            step = two_pi * dt / width
            rc = math.cos(step)
            rs = math.sin(step)
            n = n_a
            while n < n_samples and t < t1:
                c[n] += zc
                s[n] += zs
                cnt[n] += 1
                zc, zs = zc * rc - zs * rs, zc * rs + zs * rc
                n += 1
                t = t_start + (n + 0.5) * dt
    return c, s, cnt
