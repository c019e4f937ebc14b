"""Width measures of a within-type distribution and conversions between them.

A "width" is a spread in the feature's own unit (mV for a threshold).  Different model
families use different widths:

* Gaussian: standard deviation ``sigma``.  For Gaussian data ``IQR = 2 z75 sigma ~= 1.349 sigma``
  and the median absolute deviation ``MAD = z75 sigma ~= 0.6745 sigma``
  (``z75 = Phi^-1(0.75)``).
* Lorentzian (Cauchy): half-width at half-maximum ``Delta`` (what exact mean fields use).
  Its quartiles are ``x0 +- Delta``, so ``IQR = 2 Delta`` and ``MAD = Delta``.  A Lorentzian
  has no finite variance: the sample SD of Lorentzian data does not converge and must not be
  used as a width.
* Log-normal: ``sigma`` of ``log(x)`` (dimensionless) and the median ``m``:
  ``IQR = 2 m sinh(z75 sigma)``.

Conversions between families match the interquartile range (the robust width every family
has), e.g. a Gaussian of SD ``sigma`` corresponds to a Lorentzian with ``Delta = z75 sigma``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from hetfit.errors import ParameterError

#: Phi^-1(0.75): upper quartile of the standard normal.
Z75 = 0.6744897501960817
#: IQR of a standard normal (IQR = IQR_PER_SIGMA * sigma).
IQR_PER_SIGMA = 2.0 * Z75
#: Scale factor making the MAD a consistent estimator of a Gaussian sigma (1.4826).
MAD_TO_SIGMA = 1.0 / Z75

WidthFamily = Literal["gaussian", "lorentzian", "lognormal"]


def _finite_1d(x, what: str = "values") -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise ParameterError(f"no finite {what} to compute a width from")
    return a


def iqr(x) -> float:
    """Interquartile range ``q75 - q25`` (linear interpolation, NaNs ignored)."""
    a = _finite_1d(x)
    q25, q75 = np.quantile(a, [0.25, 0.75])
    return float(q75 - q25)


def mad(x) -> float:
    """Raw median absolute deviation ``median(|x - median(x)|)`` (not rescaled)."""
    a = _finite_1d(x)
    return float(np.median(np.abs(a - np.median(a))))


def cv(x) -> float:
    """Coefficient of variation ``SD / mean`` (ddof=1) of strictly positive values.

    Only ratio-scale features (rheobase, tau, input resistance) have a meaningful CV; for
    a voltage such as a threshold (negative, arbitrary zero) it is undefined and this raises.
    """
    a = _finite_1d(x)
    if np.any(a <= 0):
        raise ParameterError(
            "the coefficient of variation needs strictly positive values",
            hint="CV is meaningless for voltages (arbitrary zero); report SD, IQR or MAD instead",
        )
    if a.size < 2:
        raise ParameterError("the coefficient of variation needs at least 2 values")
    return float(np.std(a, ddof=1) / np.mean(a))


def hwhm_from_iqr(iqr_value: float) -> float:
    """Lorentzian HWHM ``Delta = IQR / 2`` (exact for a Cauchy distribution)."""
    return float(iqr_value) / 2.0


def iqr_from_hwhm(delta: float) -> float:
    """IQR of a Lorentzian with HWHM ``delta``: ``2 delta``."""
    return 2.0 * float(delta)


def sigma_from_iqr(iqr_value: float) -> float:
    """Gaussian SD from the IQR: ``sigma = IQR / 1.349`` (exact for a normal distribution)."""
    return float(iqr_value) / IQR_PER_SIGMA


def iqr_from_sigma(sigma: float) -> float:
    """IQR of a Gaussian with SD ``sigma``: ``1.349 sigma``."""
    return IQR_PER_SIGMA * float(sigma)


def sigma_from_mad(mad_value: float) -> float:
    """Gaussian SD from the raw MAD: ``sigma = 1.4826 MAD``."""
    return float(mad_value) * MAD_TO_SIGMA


def hwhm_from_mad(mad_value: float) -> float:
    """Lorentzian HWHM from the raw MAD: ``Delta = MAD`` (P(|X - x0| < Delta) = 1/2)."""
    return float(mad_value)


def lognormal_sigma_from_iqr(iqr_value: float, median: float) -> float:
    """Log-normal shape ``sigma`` (SD of log x) from IQR and median: ``asinh(IQR/(2 m)) / z75``."""
    if median <= 0:
        raise ParameterError(f"a log-normal median must be > 0, got {median}")
    return math.asinh(float(iqr_value) / (2.0 * float(median))) / Z75


def iqr_from_lognormal_sigma(sigma: float, median: float) -> float:
    """IQR of a log-normal with shape ``sigma`` and median ``median``: ``2 m sinh(z75 sigma)``."""
    return 2.0 * float(median) * math.sinh(Z75 * float(sigma))


def width_to_iqr(width: float, family: WidthFamily, center: float | None = None) -> float:
    """IQR of ``family`` with the given width (``center`` = median, needed for log-normal)."""
    if width < 0:
        raise ParameterError(f"a width must be >= 0, got {width}")
    if family == "gaussian":
        return iqr_from_sigma(width)
    if family == "lorentzian":
        return iqr_from_hwhm(width)
    if family == "lognormal":
        if center is None:
            raise ParameterError("log-normal widths need the median (center) to convert")
        return iqr_from_lognormal_sigma(width, center)
    raise ParameterError(
        f"unknown family {family!r}", hint="use 'gaussian', 'lorentzian' or 'lognormal'"
    )


def iqr_to_width(iqr_value: float, family: WidthFamily, center: float | None = None) -> float:
    """Width of ``family`` whose IQR is ``iqr_value`` (inverse of :func:`width_to_iqr`)."""
    if iqr_value < 0:
        raise ParameterError(f"an IQR must be >= 0, got {iqr_value}")
    if family == "gaussian":
        return sigma_from_iqr(iqr_value)
    if family == "lorentzian":
        return hwhm_from_iqr(iqr_value)
    if family == "lognormal":
        if center is None:
            raise ParameterError("log-normal widths need the median (center) to convert")
        return lognormal_sigma_from_iqr(iqr_value, center)
    raise ParameterError(
        f"unknown family {family!r}", hint="use 'gaussian', 'lorentzian' or 'lognormal'"
    )


def convert_width(
    width: float,
    from_family: WidthFamily,
    to_family: WidthFamily,
    center: float | None = None,
) -> float:
    """Convert a width between families at equal interquartile range.

    Examples: a Gaussian ``sigma = 1`` mV becomes a Lorentzian ``Delta = 0.674`` mV;
    a Lorentzian ``Delta = 1`` mV becomes a Gaussian ``sigma = 1.483`` mV.
    ``center`` (the median) is needed only when a log-normal is involved.
    """
    return iqr_to_width(width_to_iqr(width, from_family, center), to_family, center)


def width_measures(x) -> dict[str, float | None]:
    """All width measures of a sample (NaNs ignored), in the sample's unit.

    Returns ``sd`` (ddof=1), ``iqr``, ``hwhm_iqr`` (= IQR/2, the Lorentzian Delta),
    ``sigma_iqr`` (= IQR/1.349, robust Gaussian sigma), ``mad`` (raw), ``sigma_mad``
    (= 1.4826 MAD) and ``cv`` (None unless all values are > 0).
    """
    a = _finite_1d(x)
    q = iqr(a)
    m = mad(a)
    return {
        "sd": float(np.std(a, ddof=1)) if a.size > 1 else None,
        "iqr": q,
        "hwhm_iqr": hwhm_from_iqr(q),
        "sigma_iqr": sigma_from_iqr(q),
        "mad": m,
        "sigma_mad": sigma_from_mad(m),
        "cv": cv(a) if (a.size > 1 and np.all(a > 0)) else None,
    }
