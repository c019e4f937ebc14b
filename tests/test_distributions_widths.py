"""Width measures and conversions against analytic values of the distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hetfit.distributions import widths as W
from hetfit.errors import ParameterError


def test_lorentzian_iqr_is_twice_hwhm_and_mad_is_hwhm():
    delta = 2.7
    d = stats.cauchy(loc=-40.0, scale=delta)
    iqr = d.ppf(0.75) - d.ppf(0.25)
    assert iqr == pytest.approx(2 * delta, rel=1e-12)
    assert W.hwhm_from_iqr(iqr) == pytest.approx(delta, rel=1e-12)
    assert W.iqr_from_hwhm(delta) == pytest.approx(iqr, rel=1e-12)
    # MAD: P(|X - x0| < Delta) = 1/2 for a Cauchy
    assert d.cdf(-40.0 + delta) - d.cdf(-40.0 - delta) == pytest.approx(0.5, abs=1e-12)
    assert W.hwhm_from_mad(delta) == delta


def test_gaussian_iqr_and_mad_constants():
    sigma = 3.2
    d = stats.norm(loc=5.0, scale=sigma)
    iqr = d.ppf(0.75) - d.ppf(0.25)
    assert W.sigma_from_iqr(iqr) == pytest.approx(sigma, rel=1e-12)
    assert W.iqr_from_sigma(sigma) == pytest.approx(iqr, rel=1e-12)
    assert W.IQR_PER_SIGMA == pytest.approx(1.3489795003921634, rel=1e-12)
    # MAD of a normal is z75 * sigma
    mad = d.ppf(0.75) - d.median()
    assert W.sigma_from_mad(mad) == pytest.approx(sigma, rel=1e-12)


def test_lognormal_iqr_round_trip():
    s, median = 0.4, 150.0
    d = stats.lognorm(s, scale=median)
    iqr = d.ppf(0.75) - d.ppf(0.25)
    assert W.iqr_from_lognormal_sigma(s, median) == pytest.approx(iqr, rel=1e-12)
    assert W.lognormal_sigma_from_iqr(iqr, median) == pytest.approx(s, rel=1e-12)


def test_convert_width_matches_iqr_between_families():
    # Gaussian sigma -> Lorentzian Delta at equal IQR: Delta = z75 sigma
    assert W.convert_width(1.0, "gaussian", "lorentzian") == pytest.approx(0.6744897501960817)
    assert W.convert_width(1.0, "lorentzian", "gaussian") == pytest.approx(1.482602218505602)
    for fam_a in ("gaussian", "lorentzian", "lognormal"):
        for fam_b in ("gaussian", "lorentzian", "lognormal"):
            w = W.convert_width(0.3, fam_a, fam_b, center=20.0)
            assert W.convert_width(w, fam_b, fam_a, center=20.0) == pytest.approx(0.3)
    # the converted distributions really have equal quartile spacing
    delta = W.convert_width(2.0, "gaussian", "lorentzian")
    g, c = stats.norm(0, 2.0), stats.cauchy(0, delta)
    assert g.ppf(0.75) - g.ppf(0.25) == pytest.approx(c.ppf(0.75) - c.ppf(0.25))


def test_width_measures_hand_computed():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0, np.nan])
    m = W.width_measures(x)
    assert m["iqr"] == pytest.approx(2.0)  # quartiles 2 and 4 (linear interpolation)
    assert m["hwhm_iqr"] == pytest.approx(1.0)
    assert m["mad"] == pytest.approx(1.0)  # |x - 3| = 2,1,0,1,7
    mean = 4.0
    sd = math.sqrt(((1 - mean) ** 2 + (2 - mean) ** 2 + (3 - mean) ** 2 + (4 - mean) ** 2
                    + (10 - mean) ** 2) / 4)
    assert m["sd"] == pytest.approx(sd)
    assert m["cv"] == pytest.approx(sd / mean)
    assert m["sigma_mad"] == pytest.approx(1.482602218505602)


def test_large_sample_estimates_converge_to_analytic_widths():
    rng = np.random.default_rng(1)
    c = -40.0 + 2.0 * rng.standard_cauchy(200_000)
    assert W.hwhm_from_iqr(W.iqr(c)) == pytest.approx(2.0, rel=0.01)
    assert W.hwhm_from_mad(W.mad(c)) == pytest.approx(2.0, rel=0.01)
    g = rng.normal(0.0, 3.0, 200_000)
    assert W.sigma_from_iqr(W.iqr(g)) == pytest.approx(3.0, rel=0.01)


def test_cv_undefined_for_voltages_and_bad_inputs():
    with pytest.raises(ParameterError, match="positive"):
        W.cv([-40.0, -42.0, -38.0])
    assert W.width_measures([-40.0, -42.0, -38.0])["cv"] is None
    with pytest.raises(ParameterError, match="no finite"):
        W.iqr([np.nan, np.inf])
    with pytest.raises(ParameterError, match="unknown family"):
        W.convert_width(1.0, "gaussian", "student")
    with pytest.raises(ParameterError, match="median"):
        W.convert_width(1.0, "gaussian", "lognormal")
    with pytest.raises(ParameterError, match=">= 0"):
        W.width_to_iqr(-1.0, "gaussian")
