"""Priors over widths and nuisance parameters: support checks, sampling, transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hetfit.errors import ParameterError
from hetfit.inference.priors import ParameterPrior, Prior


def _prior() -> Prior:
    return Prior((
        ParameterPrior("delta_v_E", 0.2, 2.5, unit="mV"),
        ParameterPrior("delta_v_I", 0.1, 3.0, unit="mV", scale="log"),
        ParameterPrior("I_ext_E", 40.0, 90.0, unit="pA", kind="nuisance"),
    ))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"name": "w", "low": 1.0, "high": 1.0}, "low=1.0 >= high=1.0"),
        ({"name": "w", "low": 2.0, "high": 1.0}, "low=2.0 >= high=1.0"),
        ({"name": "w", "low": float("nan"), "high": 1.0}, "finite"),
        ({"name": "w", "low": 0.0, "high": float("inf")}, "finite"),
        ({"name": "w", "low": -0.5, "high": 1.0}, "cannot be negative"),
        ({"name": "w", "low": 0.0, "high": 1.0, "scale": "log"}, "needs low > 0"),
        ({"name": "bad name", "low": 0.0, "high": 1.0}, "identifier"),
        ({"name": "w", "low": 0.0, "high": 1.0, "kind": "other"}, "kind"),
    ],
)
def test_invalid_bounds_raise_clear_errors(kwargs, fragment):
    with pytest.raises(ParameterError, match=fragment) as info:
        ParameterPrior(**kwargs)
    assert "\n" not in str(info.value)


def test_nuisance_may_be_negative_and_names_must_be_unique():
    ParameterPrior("drive", -50.0, 50.0, kind="nuisance")
    with pytest.raises(ParameterError, match="repeated"):
        Prior((ParameterPrior("a", 0, 1), ParameterPrior("a", 0, 2)))
    with pytest.raises(ParameterError, match="at least one"):
        Prior(())


def test_samples_follow_uniform_and_log_uniform_laws():
    prior = _prior()
    s = prior.sample(4000, seed=3)
    assert s.shape == (4000, 3)
    assert prior.contains(s).all()
    # independent expectation: closed-form CDFs of the uniform and log-uniform laws
    assert stats.kstest(s[:, 0], stats.uniform(0.2, 2.3).cdf).pvalue > 1e-3
    assert stats.kstest(s[:, 1], stats.loguniform(0.1, 3.0).cdf).pvalue > 1e-3
    assert stats.kstest(s[:, 2], stats.uniform(40.0, 50.0).cdf).pvalue > 1e-3
    np.testing.assert_array_equal(s, prior.sample(4000, seed=3))
    assert not np.array_equal(s, prior.sample(4000, seed=4))


def test_log_prob_matches_closed_form_and_is_minus_inf_outside():
    prior = _prior()
    theta = np.array([[1.0, 0.5, 60.0], [3.0, 0.5, 60.0]])
    lp = prior.log_prob(theta)
    expected = -math.log(2.3) - math.log(math.log(30.0)) - math.log(0.5) - math.log(50.0)
    assert lp[0] == pytest.approx(expected)
    assert lp[1] == -np.inf


def test_check_names_the_offending_parameter():
    prior = _prior()
    with pytest.raises(ParameterError, match=r"delta_v_E=3 not in \[0.2, 2.5\] mV"):
        prior.check([[3.0, 0.5, 60.0]])
    with pytest.raises(ParameterError, match="expected"):
        prior.check([[1.0, 0.5]])
    with pytest.raises(ParameterError, match="NaN"):
        prior.check([[1.0, np.nan, 60.0]])


def test_unbounded_transform_round_trip_and_torch_density():
    torch = pytest.importorskip("torch")
    prior = _prior()
    theta = prior.sample(500, seed=1)
    u = prior.to_unbounded(theta)
    np.testing.assert_allclose(prior.from_unbounded(u), theta, rtol=1e-10, atol=1e-10)
    # Prior mass maps to the standard logistic law in u: independent closed form
    # log p(u) = -u - 2 log(1 + exp(-u)) per coordinate.
    tp = prior.torch_distribution("unbounded")
    uu = torch.tensor([[0.3, -1.2, 2.0]])
    expected = sum(-v - 2 * math.log1p(math.exp(-v)) for v in (0.3, -1.2, 2.0))
    assert float(tp.log_prob(uu)) == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(tp.mean, torch.zeros(3))
    assert float(tp.stddev[0]) == pytest.approx(math.pi / math.sqrt(3))
    # extreme unbounded values stay inside the box
    edge = prior.from_unbounded(np.array([[-1e4, 1e4, 0.0]]))
    assert prior.contains(edge).all()
    # box space: z = theta or log(theta), uniform on the z-box
    z = prior.to_space(theta, "box")
    np.testing.assert_allclose(z[:, 1], np.log(theta[:, 1]))
    np.testing.assert_allclose(prior.from_space(z, "box"), theta, rtol=1e-12)
    box = prior.torch_distribution("box")
    zz = torch.tensor([[1.0, math.log(0.5), 60.0]])
    assert float(box.log_prob(zz)) == pytest.approx(
        -math.log(2.3) - math.log(math.log(30.0)) - math.log(50.0), rel=1e-5)
    with pytest.raises(ParameterError, match="parameter space"):
        prior.to_space(theta, "sphere")


def test_round_trip_dict_and_fingerprint():
    prior = _prior()
    again = Prior.from_dict(prior.to_dict())
    assert again == prior
    assert again.fingerprint() == prior.fingerprint()
    other = Prior.from_bounds({"delta_v_E": (0.2, 2.6)}, unit="mV")
    assert other.fingerprint() != prior.fingerprint()
    assert prior.width_names == ("delta_v_E", "delta_v_I")
    with pytest.raises(ParameterError, match="invalid prior description"):
        Prior.from_dict({"parameters": [{"name": "a"}]})
