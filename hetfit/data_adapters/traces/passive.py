"""Subthreshold measurements of one sweep and the passive features of a cell.

Per sweep: baseline (median of the window before the step), baseline noise (robust SD after
removing a linear trend), steady state (median of the last part of the step), deflections,
and whether the voltage clips at the amplifier/ADC limit.  Per cell:

* input resistance ``R_in`` (MOhm): least-squares slope through the origin of steady-state
  deflection against step amplitude, over small subthreshold steps;
* membrane time constant ``tau_m`` (ms): exponential fit ``V = a + b exp(-(t - t0) / tau)``
  to the onset of small hyperpolarizing steps, from 10 % of the deflection to its extreme
  (so that the sag of an h-current does not bend the fit), median over sweeps;
* sag ratio: ``(V_peak - V_ss) / (V_peak - V_base)`` of the largest hyperpolarizing step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetfit.data_adapters.traces.sweeps import Sweep, SweepSet


def fixed_pulses(sweeps: SweepSet, min_ms: float = 20.0) -> list[Sweep]:
    """Hyperpolarizing epochs that every sweep repeats before its main step (test pulses).

    Protocols often put a fixed -100 pA pulse before the varying step.  Each such
    epoch becomes one extra sweep (``sweep_number`` -1, -2 ...) whose voltage is the
    sample-wise median over all sweeps, usable for R_in, tau and sag.  Needs sweeps of equal
    length; returns ``[]`` otherwise.
    """
    if len(sweeps) == 0 or len({s.time_ms.size for s in sweeps}) != 1:
        return []
    first = sweeps[0]
    commands = np.vstack([s.current_pA for s in sweeps])
    constant = (commands.max(axis=0) - commands.min(axis=0)) <= 0.5
    hold = first.holding_pA
    mask = constant & (first.current_pA < hold - 0.5)
    # only epochs before the main step: after it the membrane still carries the step's
    # after-effects (afterhyperpolarization, rebound), which differ from sweep to sweep
    mask[first.stim_slice.start:] = False
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    out = []
    volts = None
    for a, b in zip(edges[::2], edges[1::2]):
        if (b - a) * first.dt_ms < min_ms or b >= first.time_ms.size:
            continue
        if volts is None:
            volts = np.median(np.vstack([s.voltage_mV for s in sweeps]), axis=0)
        out.append(Sweep(
            time_ms=first.time_ms, voltage_mV=volts, current_pA=first.current_pA,
            stim_start_ms=float(first.time_ms[a]), stim_end_ms=float(first.time_ms[b]),
            stim_amplitude_pA=float(np.median(first.current_pA[a:b]) - hold), holding_pA=hold,
            sweep_number=-(len(out) + 1),
            label=f"fixed {np.median(first.current_pA[a:b]) - hold:g} pA pulse at "
                  f"{first.time_ms[a]:g} ms (median of {len(sweeps)} sweeps)",
        ))
    return out


# The sag peak of an h-current develops over tens of ms: 5 ms smoothing keeps it while
# removing most of the noise that would bias the extreme.
_EXTREME_SMOOTH_MS = 5.0


@dataclass(frozen=True)
class SweepLevels:
    """Subthreshold levels of one sweep (mV)."""

    baseline_mV: float
    baseline_noise_mV: float
    baseline_drift_mV: float
    steady_state_mV: float
    extreme_mV: float  # most negative (hyperpolarizing step) or most positive smoothed V
    clipped: bool
    baseline_window_ms: tuple[float, float]

    @property
    def deflection_mV(self) -> float:
        return self.steady_state_mV - self.baseline_mV


def smooth(v: np.ndarray, dt_ms: float, width_ms: float = 1.0) -> np.ndarray:
    """Moving average over ``width_ms`` (edges use the available samples)."""
    k = max(1, int(round(width_ms / dt_ms)))
    if k == 1 or v.size < k:
        return v.astype(float)
    kernel = np.ones(k) / k
    num = np.convolve(v, kernel, mode="same")
    den = np.convolve(np.ones_like(v, dtype=float), kernel, mode="same")
    return num / den


def baseline_window(sweep: Sweep, baseline_ms: float = 100.0, settle_ms: float = 20.0) -> slice:
    """Samples before the step with the command at its holding level, at most ``baseline_ms``
    long, starting ``settle_ms`` after any earlier command epoch (e.g. a test pulse)."""
    b = sweep.index_of(sweep.stim_start_ms)
    dt = sweep.dt_ms
    a = max(0, b - int(round(baseline_ms / dt)))
    off = np.flatnonzero(np.abs(sweep.current_pA[:b] - sweep.holding_pA) > 0.5)
    if off.size:
        a = max(a, int(off[-1]) + 1 + int(round(settle_ms / dt)))
    if b - a < max(3, int(round(2.0 / dt))):  # too short: fall back to what is there
        a = max(0, b - int(round(baseline_ms / dt)))
    return slice(a, b)


def sweep_levels(sweep: Sweep, baseline_ms: float = 100.0, ss_fraction: float = 0.1,
                 ss_max_ms: float = 100.0) -> SweepLevels:
    """Baseline, noise, steady state and extreme of one sweep."""
    v, t, dt = sweep.voltage_mV, sweep.time_ms, sweep.dt_ms
    win = baseline_window(sweep, baseline_ms)
    base = v[win]
    if base.size >= 3:
        baseline = float(np.median(base))
        coef = np.polyfit(t[win], base, 1)
        resid = base - np.polyval(coef, t[win])
        noise = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
        drift = float(coef[0] * (t[win][-1] - t[win][0]))
    else:
        baseline, noise, drift = float(v[0]), float("nan"), float("nan")
    stim = sweep.stim_slice
    n = stim.stop - stim.start
    m = int(round(min(ss_max_ms, max(ss_fraction * sweep.stim_duration_ms, 5 * dt)) / dt))
    m = max(1, min(m, n))
    ss = float(np.median(v[stim.stop - m:stim.stop]))
    seg = smooth(v[stim], dt, _EXTREME_SMOOTH_MS)
    extreme = float(seg.min() if sweep.stim_amplitude_pA < 0 else seg.max())
    raw = v[stim]
    clipped = bool(raw.size and (np.mean(raw == raw.max()) > 0.1 or np.mean(raw == raw.min()) > 0.1))
    return SweepLevels(baseline, noise, drift, ss, extreme, clipped,
                       (float(t[win.start]) if win.stop > win.start else float("nan"),
                        float(t[win.stop - 1]) if win.stop > win.start else float("nan")))


def fit_rin(amplitudes_pA: np.ndarray, deflections_mV: np.ndarray) -> tuple[float, float]:
    """Slope through the origin of deflection vs amplitude, in MOhm, and its R^2."""
    i = np.asarray(amplitudes_pA, float)
    dv = np.asarray(deflections_mV, float)
    slope = float(np.sum(i * dv) / np.sum(i * i))  # mV/pA = GOhm
    pred = slope * i
    ss_tot = float(np.sum(dv * dv))
    r2 = 1.0 - float(np.sum((dv - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    return slope * 1e3, r2


@dataclass(frozen=True)
class TauFit:
    tau_ms: float
    r2: float
    window_ms: float
    ok: bool
    reason: str = ""  # why rejected, or a caveat when ok


def fit_tau(sweep: Sweep, levels: SweepLevels) -> TauFit:
    """Exponential fit to the onset of a hyperpolarizing step (see module docstring)."""
    from scipy.optimize import curve_fit

    v, t, dt = sweep.voltage_mV, sweep.time_ms, sweep.dt_ms
    stim = sweep.stim_slice
    seg_t, seg_v = t[stim], v[stim]
    sm = smooth(seg_v, dt)
    sign = -1.0 if sweep.stim_amplitude_pA < 0 else 1.0
    dev = sign * (sm - levels.baseline_mV)
    peak_dev = float(dev.max())
    if not peak_dev > 0:
        return TauFit(float("nan"), float("nan"), 0.0, False, "no deflection")
    end = int(np.argmax(dev))
    start_candidates = np.flatnonzero(dev[: end + 1] >= 0.1 * peak_dev)
    start = int(start_candidates[0]) if start_candidates.size else 0
    if end - start < 5:
        return TauFit(float("nan"), float("nan"), 0.0, False, "deflection too fast to fit")
    x = seg_t[start:end + 1] - seg_t[start]
    y = seg_v[start:end + 1]
    a0, b0 = float(sm[end]), float(seg_v[start] - sm[end])
    reach = np.flatnonzero(sign * (sm[start:end + 1] - sm[start]) >= 0.63 * sign * (sm[end] - sm[start]))
    tau0 = max(float(x[reach[0]]) if reach.size else float(x[-1]) / 3, 2 * dt)
    window = float(x[-1])

    def model(tt, a, b, tau):
        return a + b * np.exp(-tt / tau)

    try:
        (a, b, tau), _ = curve_fit(model, x, y, p0=(a0, b0, tau0),
                                   bounds=([-np.inf, -np.inf, dt / 10], [np.inf, np.inf, 50 * window]),
                                   maxfev=5000)
    except (RuntimeError, ValueError) as exc:
        return TauFit(float("nan"), float("nan"), window, False, f"fit failed ({exc})")
    pred = model(x, a, b, tau)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    if window < tau:
        return TauFit(float(tau), r2, window, False,
                      f"the deflection peaks {window:.1f} ms after onset, less than one tau "
                      f"({tau:.1f} ms)")
    if window < 3 * tau:
        return TauFit(float(tau), r2, window, True,
                      f"the deflection peaks {window:.1f} ms after onset, within 3 tau: fit "
                      "window short (sag?)")
    return TauFit(float(tau), r2, window, True)


def sag_ratio(levels: SweepLevels) -> float:
    """(V_peak - V_ss) / (V_peak - V_base) of a hyperpolarizing step (0 = no sag)."""
    denom = levels.extreme_mV - levels.baseline_mV
    if denom == 0:
        return float("nan")
    return float((levels.extreme_mV - levels.steady_state_mV) / denom)
