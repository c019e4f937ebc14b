"""Frequency of (population-rate) oscillations, from plain arrays.

Used identically on network population rates and mean-field rates so that both are measured
the same way.  Elephant-like: plain arrays in, plain numbers out.
"""

from __future__ import annotations

import math

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError

__all__ = ["dominant_frequency_hz", "peak_frequency_hz"]


def dominant_frequency_hz(
    signal: np.ndarray,
    dt_ms: float,
    *,
    f_min_hz: float = 1.0,
    f_max_hz: float | None = None,
    pad_factor: int = 8,
) -> tuple[float, float]:
    """Frequency (Hz) of the largest peak of the Hann-windowed power spectrum.

    Parameters
    ----------
    signal:
        Regularly sampled signal (e.g. population rate in Hz), 1-D.
    dt_ms:
        Sampling interval (ms).
    f_min_hz, f_max_hz:
        Search band (Hz); ``f_max_hz`` defaults to the Nyquist frequency.
    pad_factor:
        Zero-padding factor (finer frequency grid); the peak is refined by parabolic
        interpolation of the log power.

    Returns
    -------
    (frequency_hz, peak_fraction)
        ``peak_fraction`` is the share of the (mean-removed) signal power within +-2 bins of
        the peak: near 1 for a clean oscillation, small for noise or a flat signal.  A
        constant signal gives ``(nan, 0.0)``.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ParameterError(f"signal must be 1-D, got shape {x.shape}")
    if dt_ms <= 0 or not math.isfinite(dt_ms):
        raise ParameterError(f"dt_ms must be > 0, got {dt_ms}")
    if x.size < 8:
        raise InsufficientDataError(f"need at least 8 samples for a spectrum, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("signal contains NaN or inf", hint="drop diverged simulations first")
    x = x - x.mean()
    total = float(np.sum(x * x))
    if total <= 1e-20 * max(1.0, x.size):
        return math.nan, 0.0
    w = np.hanning(x.size)
    n_fft = int(2 ** math.ceil(math.log2(x.size * max(1, int(pad_factor)))))
    spec = np.abs(np.fft.rfft(x * w, n=n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, d=dt_ms * 1e-3)
    f_hi = freqs[-1] if f_max_hz is None else min(float(f_max_hz), freqs[-1])
    band = np.nonzero((freqs >= f_min_hz) & (freqs <= f_hi))[0]
    if band.size < 3:
        raise ParameterError(
            f"frequency band [{f_min_hz}, {f_hi}] Hz holds too few spectral bins",
            hint="use a longer signal or a wider band",
        )
    i = int(band[np.argmax(spec[band])])
    f = float(freqs[i])
    if 0 < i < spec.size - 1 and spec[i - 1] > 0 and spec[i + 1] > 0:
        a, b, c = np.log(spec[i - 1]), np.log(spec[i]), np.log(spec[i + 1])
        denom = a - 2 * b + c
        if denom < 0:
            f += 0.5 * (a - c) / denom * (freqs[1] - freqs[0])
    # Power near the peak: a +-2-bin window of the *unpadded* resolution.
    half = 2 * max(1, n_fft // x.size)
    near = spec[max(0, i - half): i + half + 1].sum()
    return f, float(near / spec[1:].sum()) if spec[1:].sum() > 0 else 0.0


def peak_frequency_hz(signal: np.ndarray, dt_ms: float, *, min_prominence: float = 0.1) -> float:
    """Frequency (Hz) from the mean interval between successive maxima of ``signal``.

    More precise than a spectrum for a clean limit cycle.  Maxima must rise above their
    surroundings by ``min_prominence`` times the signal's peak-to-peak range.  Returns NaN
    when fewer than 3 maxima are found (no oscillation).
    """
    from scipy.signal import find_peaks

    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ParameterError("signal must be a finite 1-D array")
    ptp = float(np.ptp(x)) if x.size else 0.0
    if ptp <= 0:
        return math.nan
    peaks, _ = find_peaks(x, prominence=min_prominence * ptp)
    if peaks.size < 3:
        return math.nan
    # Sub-sample peak positions by parabolic interpolation.
    pos = peaks.astype(np.float64)
    ok = (peaks > 0) & (peaks < x.size - 1)
    pk = peaks[ok]
    a, b, c = x[pk - 1], x[pk], x[pk + 1]
    denom = a - 2 * b + c
    shift = np.where(denom != 0, 0.5 * (a - c) / np.where(denom != 0, denom, 1.0), 0.0)
    pos[ok] += shift
    period_ms = float(np.mean(np.diff(pos))) * dt_ms
    return 1e3 / period_ms
