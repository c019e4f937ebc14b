"""NLE and NRE (selectable) and an embedding network for raw traces, each checked against
the exact posterior of a toy; configuration errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sbi")

from hetfit.errors import ParameterError
from hetfit.inference.estimators import EstimatorConfig, train_posterior
from hetfit.inference.priors import Prior
from hetfit.inference.toy_models import GaussianToy, NoiseTraceToy
from hetfit.seeding import child_seeds

PRIOR = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)})
TOY = GaussianToy(sigma=0.1)
FAST = {"hidden_features": 32, "num_transforms": 2, "training_batch_size": 128,
        "learning_rate": 1e-3, "stop_after_epochs": 8, "max_num_epochs": 60}


@pytest.fixture(scope="module")
def toy_data():
    theta = PRIOR.sample(1000, seed=1)
    return theta, TOY.simulate(theta, child_seeds(2, 1000))


@pytest.mark.slow  # two trainings plus MCMC sampling (~20 s on 2 busy cores)
@pytest.mark.parametrize("method", ["nle", "nre"])
def test_likelihood_and_ratio_estimators_recover_the_exact_posterior(toy_data, method):
    theta, batch = toy_data
    cfg = EstimatorConfig(method=method, mcmc_chains=10, mcmc_warmup=50, **FAST)
    post, report = train_posterior(theta, batch.x, PRIOR, batch.status, seed=0, n_threads=1,
                                   config=cfg)
    assert report.method == method and post.method == method
    x = np.array([0.35, 0.7])
    s = post.sample(x, 400, seed=1)
    assert PRIOR.contains(s).all()
    exact_mean = TOY.posterior_mean(x, PRIOR)
    exact_sd = TOY.posterior_std(x, PRIOR)
    np.testing.assert_allclose(s.mean(axis=0), exact_mean, atol=0.5 * exact_sd.max())
    assert np.all((s.std(axis=0) > 0.6 * exact_sd) & (s.std(axis=0) < 1.6 * exact_sd))


@pytest.mark.slow  # trains a CNN embedding (~10 s)
def test_cnn_embedding_learns_a_trace_statistic():
    toy = NoiseTraceToy(n_samples=32)
    prior = Prior.from_bounds({"sd": (0.5, 2.0)})
    theta = prior.sample(1000, seed=1)
    batch = toy.simulate(theta, child_seeds(2, 1000))
    cfg = EstimatorConfig(embedding="cnn", embedding_dim=8, **FAST)
    post, _ = train_posterior(theta, batch.x, prior, seed=0, n_threads=1, config=cfg)
    for sd_true, seed in ((0.8, 3), (1.6, 4)):
        x = toy.simulate(np.array([[sd_true]]), [seed]).x[0]
        grid, dens = toy.posterior_grid(x, prior)
        step = grid[1] - grid[0]
        m = float(np.sum(grid * dens) * step)
        sd = float(np.sqrt(np.sum(grid**2 * dens) * step - m * m))
        s = post.sample(x, 2000, seed=0)[:, 0]
        assert abs(s.mean() - m) < 0.6 * sd + 0.05, (s.mean(), m, sd)
        assert 0.5 * sd < s.std() < 2.0 * sd


def test_configuration_errors():
    with pytest.raises(ParameterError, match="unknown inference method"):
        EstimatorConfig(method="abc")
    with pytest.raises(ParameterError, match="cannot use an embedding"):
        EstimatorConfig(method="nle", embedding="cnn")
    with pytest.raises(ParameterError, match="unknown embedding"):
        EstimatorConfig(embedding="rnn")
    with pytest.raises(ParameterError, match="validation_fraction"):
        EstimatorConfig(validation_fraction=0.7)
    theta = PRIOR.sample(10, seed=0)
    with pytest.raises(ParameterError, match="same number of rows"):
        train_posterior(theta, np.zeros((9, 2)), PRIOR)
