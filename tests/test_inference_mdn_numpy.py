"""The numpy form of NPE's mixture density network against sbi's own implementation, and
applying a saved posterior without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sbi")

from scipy.stats import ks_2samp  # noqa: E402

from hetfit.errors import InsufficientDataError  # noqa: E402
from hetfit.inference.artifacts import load_posterior, save_posterior  # noqa: E402
from hetfit.inference.estimators import EstimatorConfig, train_posterior  # noqa: E402
from hetfit.inference.priors import ParameterPrior, Prior  # noqa: E402
from hetfit.inference.toy_models import GaussianToy  # noqa: E402
from hetfit.seeding import child_seeds  # noqa: E402

PRIOR = Prior((ParameterPrior("a", 0.1, 1.0, scale="log"), ParameterPrior("b", 0.0, 1.0)))
TOY = GaussianToy(sigma=0.1)


@pytest.fixture(scope="module")
def data():
    theta = PRIOR.sample(1500, seed=1)
    return theta, TOY.simulate(theta, child_seeds(2, 1500))


def _train(data, space: str, **kw):
    theta, batch = data
    cfg = EstimatorConfig(training_batch_size=128, learning_rate=1e-3, stop_after_epochs=5,
                          max_num_epochs=40, parameter_space=space, **kw)
    post, _ = train_posterior(theta, batch.x, PRIOR, batch.status, seed=0, n_threads=1,
                              config=cfg)
    return post


@pytest.fixture(scope="module", params=["unbounded", "box"])
def posterior(request, data):
    return _train(data, request.param)


def _sbi_samples(post, x, n):
    with torch.no_grad():
        u = post.estimator.sample((n,), x=torch.as_tensor(x, dtype=torch.float32),
                                  show_progress_bars=False).numpy().astype(np.float64)
    return post.prior.from_space(u, post.space)


def test_log_density_equals_sbi(posterior, data):
    mdn = posterior.numpy_mdn
    assert mdn is not None and mdn.dim == 2 and mdn.n_components == 10
    x = data[1].x[:1]
    u = PRIOR.to_space(PRIOR.sample(300, seed=3), posterior.space)
    ref = posterior.estimator.posterior_estimator.log_prob(
        torch.as_tensor(u, dtype=torch.float32)[:, None, :],
        condition=torch.as_tensor(x, dtype=torch.float32)).detach().numpy().ravel()
    np.testing.assert_allclose(mdn.log_prob(u, x), ref, atol=2e-4)


def test_samples_follow_the_same_law_as_sbis(posterior, data):
    for x in data[1].x[[0, 7]]:
        ours = posterior.sample(x, 5000, seed=11)
        theirs = _sbi_samples(posterior, x[None], 5000)
        assert PRIOR.contains(ours).all()
        for j in range(2):
            assert ks_2samp(ours[:, j], theirs[:, j]).pvalue > 1e-3
    again = posterior.sample(data[1].x[0], 100, seed=11)
    np.testing.assert_array_equal(again, posterior.sample(data[1].x[0], 100, seed=11))
    assert not np.array_equal(again, posterior.sample(data[1].x[0], 100, seed=12))


def test_box_space_rejects_samples_outside_the_prior(data):
    post = _train(data, "box")
    edge = np.array([[0.1, 0.0]])  # truth at the prior's corner: much mass leaks out
    u = post.numpy_mdn.sample(edge, 4000, np.random.default_rng(0))[:, 0, :]
    low, high = post.space_bounds()
    leaked = ~np.all((u >= low) & (u <= high), axis=1)
    assert 0.05 < leaked.mean() < 0.95
    s = post.sample_many(edge, 500, seed=0)
    assert s.shape == (500, 1, 2) and PRIOR.contains(s.reshape(-1, 2)).all()
    with pytest.raises(InsufficientDataError, match="outside the prior"):
        post.sample_many(np.array([[50.0, -40.0]]), 100, seed=0)


def test_flows_keep_the_sbi_path(data):
    post = _train(data, "unbounded", density_estimator="maf", hidden_features=16,
                  num_transforms=2)
    assert post.numpy_mdn is None
    assert PRIOR.contains(post.sample(data[1].x[0], 50, seed=0)).all()


_APPLY = """
import json, sys
import numpy as np
from hetfit.errors import InsufficientDataError  # noqa: E402
from hetfit.inference.artifacts import load_posterior
post = load_posterior(sys.argv[1])
s = post.sample(np.array(json.loads(sys.argv[2])), 200, seed=5)
print(json.dumps({"samples": s.tolist(),
                  "torch": "torch" in sys.modules, "sbi": "sbi" in sys.modules}))
"""


def test_saved_posterior_applies_without_torch_and_gives_the_same_numbers(data, tmp_path):
    post = _train(data, "unbounded")
    path = save_posterior(post, tmp_path / "posterior.npz")
    x = data[1].x[3]
    expected = post.sample(x, 200, seed=5)
    out = subprocess.run([sys.executable, "-c", _APPLY, str(path), json.dumps(x.tolist())],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["torch"] is False and got["sbi"] is False
    np.testing.assert_allclose(np.array(got["samples"]), expected, rtol=0, atol=1e-12)
    # in this process too, and the sbi form of the same weights samples like the trained one
    again = load_posterior(path)
    assert again.estimator is None and again.space == "unbounded"
    np.testing.assert_allclose(again.sample(x, 200, seed=5), expected, atol=1e-12)
