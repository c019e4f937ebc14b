import math

import numpy as np
import pytest
from scipy import stats

from hetfit.errors import ParameterError
from hetfit.models.heterogeneity import Heterogeneity, homogeneous, lorentzian_quantiles


def test_lorentzian_quantiles_match_formula_and_cdf():
    n = 9
    x = lorentzian_quantiles(-40.0, 1.5, n)
    i = np.arange(1, n + 1)
    expected = -40.0 + 1.5 * np.tan(np.pi * ((i - 0.5) / n - 0.5))
    np.testing.assert_allclose(x, expected)
    # the quantile grid sits at the midpoint probabilities (i - 1/2)/n of the Cauchy CDF
    np.testing.assert_allclose(stats.cauchy(-40.0, 1.5).cdf(x), (i - 0.5) / n, atol=1e-12)
    assert x[n // 2] == pytest.approx(-40.0)
    np.testing.assert_allclose(x + x[::-1], -80.0)  # symmetric about the centre


def test_midpoint_quantiles_average_the_lorentzian_tail_better():
    # Uncoupled QIF neurons (tau dv/dt = v^2 + eta) fire at sqrt(eta)/pi per unit tau; for a
    # Lorentzian eta (centre 0, HWHM 1) the population average is exactly
    # Re sqrt(i) / pi = cos(pi/4) / pi (MPR 2015, Eq. 11 with J = 0).  The average over the
    # midpoint quantiles must approach it with a smaller error than the i/(n+1) grid, whose
    # truncated tail biases it low.
    n = 10_000
    exact = np.cos(np.pi / 4) / np.pi
    mid = np.mean(np.sqrt(np.maximum(lorentzian_quantiles(0.0, 1.0, n), 0.0))) / np.pi
    i = np.arange(1, n + 1)
    old = np.mean(np.sqrt(np.maximum(np.tan(np.pi * (i / (n + 1) - 0.5)), 0.0))) / np.pi
    assert abs(mid / exact - 1) < 0.5 * abs(old / exact - 1)
    assert mid == pytest.approx(exact, rel=0.01)


def test_gaussian_quantiles_have_target_moments():
    x = Heterogeneity(10.0, 2.0, family="gaussian").sample(20000)
    assert x.mean() == pytest.approx(10.0, abs=1e-9)
    assert x.std() == pytest.approx(2.0, rel=5e-3)


def test_random_sampling_is_seeded_and_truncated():
    h = Heterogeneity(-40.0, 2.0, low=-45.0, high=-30.0, sampling="random")
    a, b, c = h.sample(5000, seed=1), h.sample(5000, seed=1), h.sample(5000, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= -45.0 and a.max() <= -30.0
    # truncated Cauchy: its median is where the CDF is midway between the bounds' masses
    d = stats.cauchy(-40.0, 2.0)
    p = 0.5 * (d.cdf(-45.0) + d.cdf(-30.0))
    assert np.median(a) == pytest.approx(d.ppf(p), abs=0.15)


def test_truncated_quantiles_respect_bounds():
    x = Heterogeneity(1.0, 0.5, low=0.0, high=2.0).sample(1001)
    assert x.min() > 0.0 and x.max() < 2.0
    assert np.median(x) == pytest.approx(1.0, abs=1e-9)  # symmetric truncation
    # midpoint probabilities of the allowed mass [p_lo, p_hi]
    d = stats.cauchy(1.0, 0.5)
    p_lo, p_hi = d.cdf(0.0), d.cdf(2.0)
    q = p_lo + (p_hi - p_lo) * (np.arange(1, 1002) - 0.5) / 1001
    np.testing.assert_allclose(x, d.ppf(q), rtol=1e-12, atol=1e-12)


def test_lognormal_median_and_homogeneous():
    x = Heterogeneity(20.0, 0.3, family="lognormal").sample(4001)
    assert np.median(x) == pytest.approx(20.0, rel=1e-9)
    np.testing.assert_array_equal(homogeneous(3.0).sample(4), np.full(4, 3.0))
    np.testing.assert_array_equal(Heterogeneity(3.0, 0.0).sample(3), np.full(3, 3.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(center=0.0, width=-1.0),
        dict(center=math.nan, width=1.0),
        dict(center=0.0, width=1.0, family="uniformish"),
        dict(center=0.0, width=1.0, low=1.0, high=0.0),
        dict(center=-1.0, width=0.2, family="lognormal"),
        dict(center=5.0, width=1.0, low=0.0, high=2.0),
    ],
)
def test_bad_heterogeneity_is_a_clear_error(kwargs):
    with pytest.raises(ParameterError):
        Heterogeneity(**kwargs)


def test_round_trip_dict():
    h = Heterogeneity(-40.0, 1.0, low=-60.0)
    assert Heterogeneity.from_dict(h.to_dict()) == h
    with pytest.raises(ParameterError):
        h.sample(-3)
