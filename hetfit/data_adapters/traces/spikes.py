"""Spikes of one sweep: eFEL, an independent detector, and checks for eFEL's failure modes.

eFEL finds peaks as upward/downward crossings of a fixed voltage (``Threshold``, -20 mV) and
places each spike's onset (``AP_begin``) by walking back from the peak while dV/dt stays above
``DerivativeThreshold`` (10 mV/ms).  Two situations break this, and both are common in real
recordings:

* **depolarised traces** -- when the membrane sits near or above the crossing level (a
  depolarised cell, an uncorrected offset, a plateau during strong steps) successive spikes
  never cross back below it and are merged or missed, and a sweep that *starts* above it has
  an unpaired crossing.  A second, shape-based detector (peaks with at least
  ``min_spike_height_mV`` of prominence and a fast upstroke, whatever their absolute level)
  counts the spikes independently; when the two counts differ the sweep is flagged and the
  independent spikes are used.
* **onsets on a preceding depolarizing event** -- when an EPSP (or the charging at step onset)
  is fast enough to exceed the derivative threshold and runs into the spike, the walk back
  from the peak does not stop at the spike's own onset but at the event's, and the threshold
  is reported several mV too low.  A spike's own upstroke accelerates within a fraction of a
  millisecond; an onset that precedes the half-maximal upstroke by more than
  ``max_onset_delay_ms`` is flagged as misplaced.

Every spike therefore carries its onset voltage (threshold), amplitude, half-width, where
they came from, and whether its onset is suspect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetfit.data_adapters.traces.sweeps import Sweep
from hetfit.errors import require


@dataclass(frozen=True)
class SpikeSettings:
    """Spike detection settings (units in the names).

    Parameters
    ----------
    threshold_mV:
        eFEL ``Threshold``: crossing level for peak detection.
    dvdt_threshold_mV_per_ms:
        eFEL ``DerivativeThreshold``: onset (threshold) criterion.
    min_spike_height_mV:
        Minimum prominence of a spike for the independent detector.
    max_onset_delay_ms:
        Largest plausible delay between a spike's onset and its half-maximal upstroke;
        longer delays mean the onset sits on a preceding depolarizing event.
    """

    threshold_mV: float = -20.0
    dvdt_threshold_mV_per_ms: float = 10.0
    min_spike_height_mV: float = 20.0
    max_onset_delay_ms: float = 1.0


@dataclass
class SweepSpikes:
    """Spikes found during the main step of one sweep (arrays have one entry per spike)."""

    peak_time_ms: np.ndarray
    peak_mV: np.ndarray
    onset_time_ms: np.ndarray
    threshold_mV: np.ndarray
    amplitude_mV: np.ndarray
    half_width_ms: np.ndarray
    onset_suspect: np.ndarray
    n_efel: int
    n_independent: int
    source: str  # "efel" or "independent"
    issues: list[str] = field(default_factory=list)
    upstroke_delay_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upstroke_mV_per_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downstroke_mV_per_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def count(self) -> int:
        return int(self.peak_time_ms.size)


_TAIL_MS = 10.0


def _dvdt(v: np.ndarray, dt_ms: float) -> np.ndarray:
    return np.gradient(v, dt_ms)


def independent_peaks(
    v: np.ndarray, dt_ms: float, settings: SpikeSettings, lo: int = 0, hi: int | None = None
) -> np.ndarray:
    """Indices of spike peaks in ``v[lo:hi]``: prominence >= min_spike_height_mV within a
    20 ms window and an upstroke faster than the derivative threshold in the 3 ms before the
    peak.  No absolute voltage level is used, so offsets and depolarised traces do not matter.
    """
    from scipy.signal import find_peaks

    hi = v.size if hi is None else hi
    seg = v[lo:hi]
    if seg.size < 5:
        return np.zeros(0, dtype=int)
    wlen = max(3, int(round(20.0 / dt_ms)) | 1)
    peaks, _ = find_peaks(seg, prominence=settings.min_spike_height_mV, wlen=wlen,
                          distance=max(1, int(round(0.5 / dt_ms))))
    dv = _dvdt(v, dt_ms)
    back = max(2, int(round(3.0 / dt_ms)))
    keep = [p + lo for p in peaks
            if np.max(dv[max(0, p + lo - back):p + lo + 1]) >= settings.dvdt_threshold_mV_per_ms]
    return np.asarray(keep, dtype=int)


def _onset_index(dv: np.ndarray, peak: int, floor: int, dth: float) -> int:
    """First sample of the run of dV/dt > ``dth`` that carries the upstroke to the peak
    (eFEL's AP_begin rule, without interpolation)."""
    i = floor + int(np.argmax(dv[floor:peak + 1]))
    while i > floor and dv[i - 1] > dth:
        i -= 1
    return i


def _half_width(t: np.ndarray, v: np.ndarray, onset: int, peak: int, limit: int) -> float:
    half = 0.5 * (v[onset] + v[peak])
    rise = np.flatnonzero(v[onset:peak + 1] >= half)
    if rise.size == 0:
        return float("nan")
    r = onset + int(rise[0])
    t_rise = t[r] if r == onset else t[r - 1] + (half - v[r - 1]) * (t[r] - t[r - 1]) / (
        v[r] - v[r - 1])
    fall = np.flatnonzero(v[peak:limit] < half)
    if fall.size == 0:
        return float("nan")
    f = peak + int(fall[0])
    t_fall = t[f - 1] + (v[f - 1] - half) * (t[f] - t[f - 1]) / (v[f - 1] - v[f])
    return float(t_fall - t_rise)


def _upstroke_delay(t: np.ndarray, dv: np.ndarray, onset: int, peak: int) -> float:
    """Time from the onset to the first sample reaching half the maximal upstroke."""
    if peak <= onset:
        return 0.0
    seg = dv[onset:peak + 1]
    top = float(seg.max())
    k = int(np.flatnonzero(seg >= (0.5 * top if top > 0 else top))[0])
    return float(t[onset + k] - t[onset])


def _efel_spikes(sweep: Sweep, settings: SpikeSettings) -> dict:
    efel = require("efel", "features", "spike features with eFEL")
    lo, hi = sweep.stim_slice.start, sweep.stim_slice.stop
    # a spike peaking just before the step ends needs its downstroke to be seen
    stop = min(sweep.time_ms.size, hi + int(round(_TAIL_MS / sweep.dt_ms)))
    trace = {
        "T": sweep.time_ms[lo:stop], "V": sweep.voltage_mV[lo:stop],
        "stim_start": [float(sweep.time_ms[lo])], "stim_end": [float(sweep.time_ms[stop - 1])],
        # per-trace settings: doubles set after eFEL's globals, so the user's globals stay
        "Threshold": [float(settings.threshold_mV)],
        "DerivativeThreshold": [float(settings.dvdt_threshold_mV_per_ms)],
        "interp_step": [float(sweep.dt_ms)],
    }
    names = ["peak_time", "AP_begin_time", "AP_begin_voltage", "AP_duration_half_width"]
    out = efel.get_feature_values([trace], names, raise_warnings=False)[0]
    res = {k: (np.zeros(0) if out.get(k) is None else np.asarray(out[k], dtype=float))
           for k in names}
    end = float(sweep.time_ms[hi - 1])
    inside = res["peak_time"] <= end + 1e-9
    if res["AP_duration_half_width"].size == res["peak_time"].size:
        res["AP_duration_half_width"] = res["AP_duration_half_width"][inside]
    res["peak_time"] = res["peak_time"][inside]
    return res


def _depolarisation_issues(v: np.ndarray, dt: float, lo: int, hi: int,
                           level_mV: float) -> list[str]:
    """A trace that starts, or a step that sits, above eFEL's crossing level."""
    issues = []
    start_v = float(np.median(v[: max(1, int(round(1.0 / dt)))]))
    if start_v > level_mV:
        issues.append(f"trace starts at {start_v:.1f} mV, above the spike-detection threshold "
                      f"({level_mV:g} mV)")
    if hi > lo:
        stim_v = float(np.median(v[lo:hi]))
        if stim_v > level_mV:
            above = float(np.mean(v[lo:hi] > level_mV))
            issues.append(f"membrane sits at {stim_v:.1f} mV during the step, above the "
                          f"spike-detection threshold ({level_mV:g} mV; "
                          f"{100 * above:.0f}% of the step)")
    return issues


def sweep_spikes(sweep: Sweep, settings: SpikeSettings | None = None) -> SweepSpikes:
    """Spikes during the main step of ``sweep`` with per-spike threshold, amplitude,
    half-width and quality, from eFEL and checked against the independent detector."""
    settings = settings or SpikeSettings()
    t, v, dt = sweep.time_ms, sweep.voltage_mV, sweep.dt_ms
    lo, hi = sweep.stim_slice.start, sweep.stim_slice.stop
    dv = _dvdt(v, dt)
    issues: list[str] = []

    ef = _efel_spikes(sweep, settings)
    ef_peaks = ef["peak_time"]
    tail = min(v.size, hi + int(round(_TAIL_MS / dt)))
    ind = independent_peaks(v, dt, settings, lo, tail)
    ind = ind[ind < hi]
    n_ef, n_ind = int(ef_peaks.size), int(ind.size)

    issues.extend(_depolarisation_issues(v, dt, lo, hi, settings.threshold_mV))
    use_efel = n_ef == n_ind
    if not use_efel:
        issues.append(f"eFEL found {n_ef} spike(s), the independent detector {n_ind}: "
                      "spikes counted with the independent detector")
        peaks = ind
    else:
        # eFEL's peak times mapped onto sample indices
        peaks = np.clip(np.searchsorted(t, ef_peaks - 1e-9), 0, v.size - 1).astype(int)
        peaks = np.array([p if p == 0 or v[p] >= v[p - 1] else p - 1 for p in peaks], dtype=int)

    n = int(peaks.size)
    onset_t = np.full(n, np.nan)
    thr = np.full(n, np.nan)
    width = np.full(n, np.nan)
    up = np.full(n, np.nan)
    down = np.full(n, np.nan)
    delay = np.full(n, np.nan)
    suspect = np.zeros(n, dtype=bool)
    begins_t, begins_v, widths = ef["AP_begin_time"], ef["AP_begin_voltage"], ef["AP_duration_half_width"]
    widths_aligned = use_efel and widths.size == n and begins_t.size == n
    for j, p in enumerate(peaks):
        floor = lo if j == 0 else int(peaks[j - 1])
        prev_t = t[floor]
        onset = None
        if use_efel:
            cand = np.flatnonzero((begins_t > prev_t - 1e-9) & (begins_t <= t[p] + 1e-9))
            if cand.size:
                b = int(cand[-1])
                onset = int(np.clip(np.searchsorted(t, begins_t[b] - 1e-9), 0, v.size - 1))
                thr[j] = begins_v[b]
        if onset is None:
            onset = _onset_index(dv, int(p), floor, settings.dvdt_threshold_mV_per_ms)
            thr[j] = v[onset]
        onset_t[j] = t[onset]
        limit = int(peaks[j + 1]) if j + 1 < n else min(v.size, hi + int(round(20 / dt)))
        width[j] = widths[j] if widths_aligned else _half_width(t, v, onset, int(p), limit)
        up[j] = float(dv[onset:int(p) + 1].max())
        down[j] = float(dv[int(p):max(limit, int(p) + 2)].min())
        delay[j] = _upstroke_delay(t, dv, onset, int(p))
        suspect[j] = delay[j] > settings.max_onset_delay_ms
    return SweepSpikes(
        peak_time_ms=t[peaks] if n else np.zeros(0), peak_mV=v[peaks] if n else np.zeros(0),
        onset_time_ms=onset_t, threshold_mV=thr, amplitude_mV=(v[peaks] - thr) if n
        else np.zeros(0), half_width_ms=width, onset_suspect=suspect, n_efel=n_ef,
        n_independent=n_ind, source="efel" if use_efel else "independent", issues=issues,
        upstroke_delay_ms=delay, upstroke_mV_per_ms=up, downstroke_mV_per_ms=down,
    )
