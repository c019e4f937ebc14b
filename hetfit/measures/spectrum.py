"""Power spectrum of the population rate (Welch) and its peak.

The population rate ``r(t)`` (Hz per unit, bins of ``bin_ms``, see
:func:`hetfit.measures.rates.population_rate`) is split into Hann-windowed segments of
``segment_ms`` overlapping by half, each mean-removed, and their periodograms averaged
(Welch's method with density scaling, as ``scipy.signal.welch`` with its defaults; computed
here with numpy because importing ``scipy.signal`` costs ~1 s, most of applying a saved
posterior to a recording; the tests check it against scipy).  The power spectral density is in Hz^2/Hz; its
frequency resolution is ``1000 / segment_ms`` Hz and it reaches up to the Nyquist frequency
``500 / bin_ms`` Hz.

The peak is searched in ``[min_freq_hz, max_freq_hz]``; the lower cutoff keeps slow drifts and
the DC remainder from being reported as a rhythm.  Its frequency is refined by fitting a
parabola through the log-PSD at the maximal bin and its two neighbours (exact for a Gaussian
peak, and well within one bin for a Hann-windowed sinusoid).

For independent Poisson units the spectrum is flat at ``2 * mean_rate / n_units`` Hz^2/Hz
(one-sided), so ``peak_to_mean`` stays near the noise level of a flat spectrum (a few); an
oscillation gives a sharp peak far above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetfit.errors import ParameterError
from hetfit.measures.spiketrains import population_counts, prepare_spikes


@dataclass(frozen=True)
class Spectrum:
    """Welch power spectrum of a rate signal and its peak.

    Attributes
    ----------
    frequencies_hz:
        Frequencies (Hz).
    psd:
        Power spectral density (signal unit^2 / Hz; Hz^2/Hz for a rate in Hz).
    peak_frequency_hz:
        Frequency of the largest PSD value in the band (refined, see module docstring); NaN
        when the signal is too short, constant (e.g. no spikes), or the band is empty.
    peak_power:
        PSD at the maximal bin (signal unit^2 / Hz); NaN like ``peak_frequency_hz``.
    band_power:
        Integral of the PSD over the band (signal unit^2); 0 for a constant signal.
    peak_to_mean:
        ``peak_power`` / mean PSD in the band (dimensionless; ~1-5 for a flat spectrum).
    """

    frequencies_hz: np.ndarray
    psd: np.ndarray
    peak_frequency_hz: float
    peak_power: float
    band_power: float
    peak_to_mean: float


def welch(x: np.ndarray, fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Welch PSD: periodic Hann window, half overlap, constant detrend per
    segment, density scaling, mean over segments (``scipy.signal.welch`` defaults).

    Returns frequencies (unit of ``fs``) and the PSD (signal unit^2 per unit of ``fs``).
    """
    x = np.asarray(x, dtype=np.float64)
    step = nperseg - nperseg // 2
    n_seg = (x.size - nperseg) // step + 1
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nperseg) / nperseg)
    idx = np.arange(n_seg)[:, None] * step + np.arange(nperseg)[None, :]
    seg = x[idx]
    seg = (seg - seg.mean(axis=1, keepdims=True)) * win
    p = np.abs(np.fft.rfft(seg, axis=1)) ** 2
    p = p.mean(axis=0) / (fs * float(np.sum(win**2)))
    if nperseg % 2:
        p[1:] *= 2.0
    else:
        p[1:-1] *= 2.0
    return np.fft.rfftfreq(nperseg, 1.0 / fs), p


def power_spectrum(
    signal: Any,
    dt_ms: float,
    segment_ms: float = 1000.0,
    min_freq_hz: float = 1.0,
    max_freq_hz: float | None = None,
) -> Spectrum:
    """Welch spectrum of a regularly sampled signal and its peak (see the module docstring).

    Parameters
    ----------
    signal:
        1-D samples (e.g. a population rate in Hz, or ``SpikeResult.rates_hz[k]``).
    dt_ms:
        Sampling step (ms).
    segment_ms:
        Welch segment length (ms); shortened to the signal length when longer.
    min_freq_hz, max_freq_hz:
        Band searched for the peak (Hz); ``max_freq_hz`` defaults to the Nyquist frequency.
    """
    x = np.asarray(signal, dtype=np.float64).ravel()
    if not (dt_ms > 0 and math.isfinite(dt_ms)):
        raise ParameterError(f"dt_ms must be a positive number of ms, got {dt_ms}")
    if not (segment_ms > 0 and math.isfinite(segment_ms)):
        raise ParameterError(f"segment_ms must be a positive number of ms, got {segment_ms}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("the signal contains NaN or infinite values", hint="drop or fill them")
    fs = 1000.0 / dt_ms
    nyquist = fs / 2.0
    hi = nyquist if max_freq_hz is None else float(max_freq_hz)
    if not (0 <= min_freq_hz < hi):
        raise ParameterError(
            f"empty frequency band [{min_freq_hz}, {hi}] Hz",
            hint=f"use 0 <= min_freq_hz < max_freq_hz <= {nyquist:g} (Nyquist for dt_ms={dt_ms})",
        )
    nan = math.nan
    if x.size < 4:
        return Spectrum(np.empty(0), np.empty(0), nan, nan, nan, nan)
    nperseg = int(min(x.size, max(4, round(segment_ms / dt_ms))))
    f, p = welch(x, fs, nperseg)
    band = (f >= min_freq_hz) & (f <= hi)
    if not np.any(band):
        return Spectrum(f, p, nan, nan, nan, nan)
    df = f[1] - f[0] if f.size > 1 else 0.0
    band_power = float(p[band].sum() * df)
    idx = np.flatnonzero(band)
    k = idx[int(np.argmax(p[idx]))]
    peak = float(p[k])
    if not peak > 0:
        return Spectrum(f, p, nan, nan, band_power, nan)
    f_peak = float(f[k])
    if idx[0] < k < idx[-1] and p[k - 1] > 0 and p[k + 1] > 0:
        a, b, c = np.log(p[k - 1]), np.log(p[k]), np.log(p[k + 1])
        denom = a - 2.0 * b + c
        if denom < 0:
            f_peak += 0.5 * (a - c) / denom * df
    return Spectrum(
        frequencies_hz=f,
        psd=p,
        peak_frequency_hz=f_peak,
        peak_power=peak,
        band_power=band_power,
        peak_to_mean=peak / float(p[band].mean()),
    )


def rate_spectrum(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    bin_ms: float = 1.0,
    segment_ms: float = 1000.0,
    min_freq_hz: float = 1.0,
    max_freq_hz: float | None = None,
) -> Spectrum:
    """Welch spectrum of the population rate of spike trains (Hz per unit, bins of ``bin_ms``).

    NaN peak when fewer than 4 bins fit or no unit spikes.  See :func:`power_spectrum`.
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    counts = population_counts(data, bin_ms).astype(np.float64)
    rate = counts / (data.n_units * bin_ms / 1e3)
    return power_spectrum(rate, bin_ms, segment_ms, min_freq_hz, max_freq_hz)
