"""WidthFitter end to end on a toy with an exact posterior: simulation store, NPE training
(failed simulations excluded and counted), SBC/coverage/recovery, amortized application,
saved artifacts and their compatibility checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sbi")

from hetfit.errors import IncompatibleArtifactError, InputFileError, InsufficientDataError
from hetfit.inference.artifacts import load_posterior, read_metadata
from hetfit.inference.estimators import EstimatorConfig, train_posterior
from hetfit.inference.fit import WidthFitter
from hetfit.inference.priors import Prior
from hetfit.inference.summaries import SUMMARY_VERSION
from hetfit.inference.toy_models import GaussianToy
from hetfit.seeding import child_seeds

PRIOR = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)}, unit="mV")
TOY = GaussianToy(sigma=0.1, fail_prob=0.05)
SMALL = EstimatorConfig(hidden_features=32, num_transforms=3, training_batch_size=128,
                        learning_rate=1e-3, stop_after_epochs=10, max_num_epochs=150)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    fitter = WidthFitter(TOY, PRIOR, budget=1500, seed=3, store=tmp / "sims",
                         n_validation=300, estimator=SMALL, torch_threads=1, sbc_samples=100,
                         chunk_size=250)
    result = fitter.fit(posterior_path=tmp / "posterior.npz")
    return fitter, result, tmp


def test_failed_simulations_are_excluded_and_counted(fitted):
    fitter, result, _ = fitted
    counts = fitter.training_store().load(1500).status_counts()
    assert result.training.n_simulations == 1500
    assert result.training.n_excluded == 1500 - counts["ok"] > 0
    assert result.training.excluded_by_reason["diverged"] == counts["diverged"]
    assert result.training.excluded_by_reason["nonfinite_summary"] == counts["nonfinite_summary"]
    assert result.simulations.status_counts == counts


def test_npe_posterior_matches_the_exact_posterior(fitted):
    fitter, _, _ = fitted
    theta = PRIOR.sample(40, seed=9)
    x = GaussianToy(sigma=0.1).simulate(theta, child_seeds(10, 40)).x
    s = fitter.posterior_.sample_many(x, 2000, seed=1)
    exact_mean = TOY.posterior_mean(x, PRIOR)
    exact_sd = TOY.posterior_std(x, PRIOR)
    z = np.abs(s.mean(axis=0) - exact_mean) / exact_sd
    assert np.median(z) < 0.35, np.median(z)
    ratio = s.std(axis=0) / exact_sd
    assert 0.8 < np.median(ratio) < 1.25, np.median(ratio)


def test_sbc_and_recovery_on_held_out_simulations(fitted):
    _, result, _ = fitted
    sbc_res = result.sbc
    assert sbc_res is not None and sbc_res.n_cases + sbc_res.n_excluded == 300
    assert sbc_res.n_excluded > 0  # held-out failures were dropped, not fed to SBC
    assert all(sbc_res.calibrated.values()), sbc_res.ks_pvalue
    cov90 = sbc_res.coverage.at(0.9)
    assert all(0.82 <= v <= 0.97 for v in cov90.values()), cov90
    rec = result.recovery.to_dict()
    assert all(0.82 <= v <= 0.97 for v in rec["interval_coverage"].values())
    d = result.to_dict()
    json.dumps(d)  # plain data
    assert d["sbc"]["calibrated"] == {"a": True, "b": True}


def test_posterior_for_an_observation(fitted):
    fitter, _, _ = fitted
    x = GaussianToy(sigma=0.1).simulate(np.array([[0.25, 0.8]]), [123]).x[0]
    obs = fitter.posterior_for(x, n_samples=4000, seed=0, n_predictive=100)
    d = obs.to_dict()
    q = TOY.posterior_quantiles(x, PRIOR, [0.05, 0.5, 0.95])
    for j, name in enumerate("ab"):
        p = d["parameters"][name]
        assert p["unit"] == "mV"
        assert p["median"] == pytest.approx(q[1, j], abs=0.04)
        assert p["ci90"][0] == pytest.approx(q[0, j], abs=0.05)
        assert p["ci90"][1] == pytest.approx(q[2, j], abs=0.05)
    assert d["misspecification"]["plausible"]
    assert d["posterior_predictive"]["consistent"]
    with pytest.raises(InsufficientDataError, match="not finite"):
        fitter.posterior_for([np.nan, 0.2])


def test_rerun_resumes_the_store_without_simulating(fitted):
    fitter, _, _ = fitted
    train, val = fitter.simulate()
    assert train.n_simulated == 0 and train.n_reused == 1500
    assert val.n_simulated == 0


def test_saved_posterior_round_trip_and_metadata(fitted):
    fitter, result, tmp = fitted
    path = result.posterior_path
    loaded = load_posterior(path, simulator=TOY, prior=PRIOR)
    x = np.array([0.4, 0.6])
    np.testing.assert_array_equal(loaded.sample(x, 300, seed=5),
                                  fitter.posterior_.sample(x, 300, seed=5))
    meta = read_metadata(path)
    assert meta["summary_version"] == TOY.summary_version
    assert meta["simulator_spec"] == TOY.spec()
    assert meta["training"]["budget"] == 1500 and meta["training"]["root_seed"] == 3
    assert meta["training"]["n_excluded"] == result.training.n_excluded
    assert meta["hetfit_version"] and meta["sbi_version"] and meta["torch_version"]
    assert meta["sbc"]["calibrated"] == {"a": True, "b": True}
    again = WidthFitter.from_posterior(path, TOY, PRIOR, torch_threads=1)
    assert again.posterior_for(x, n_samples=500).summary["a"].median == pytest.approx(
        fitter.posterior_for(x, n_samples=500).summary["a"].median)
    assert SUMMARY_VERSION  # summary sets of networks are versioned too


def test_loading_refuses_mismatched_model_prior_or_file(fitted, tmp_path):
    _, result, _ = fitted
    path = result.posterior_path
    with pytest.raises(IncompatibleArtifactError, match=r"model differs in sigma") as info:
        load_posterior(path, simulator=GaussianToy(sigma=0.2, fail_prob=0.05))
    assert "train a posterior for this model" in str(info.value)
    other_prior = Prior.from_bounds({"a": (0.0, 2.0), "b": (0.0, 1.0)}, unit="mV")
    with pytest.raises(IncompatibleArtifactError, match=r"prior differs in parameters.0.high"):
        load_posterior(path, simulator=TOY, prior=other_prior)
    with pytest.raises(IncompatibleArtifactError, match="parameters"):
        load_posterior(path, simulator=GaussianToy(param_names=("a", "c"), sigma=0.1,
                                                   fail_prob=0.05))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a posterior file")
    with pytest.raises(IncompatibleArtifactError, match="not a hetfit posterior file"):
        load_posterior(bad)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(InputFileError, match="damaged"):
        load_posterior(truncated)
    with pytest.raises(InputFileError, match="not found"):
        load_posterior(tmp_path / "missing.npz")


def test_training_is_reproducible_and_needs_enough_valid_simulations():
    theta = PRIOR.sample(300, seed=1)
    batch = TOY.simulate(theta, child_seeds(2, 300))
    cfg = EstimatorConfig(hidden_features=16, num_transforms=1, max_num_epochs=3)
    p1, _ = train_posterior(theta, batch.x, PRIOR, batch.status, seed=4, n_threads=1, config=cfg)
    p2, _ = train_posterior(theta, batch.x, PRIOR, batch.status, seed=4, n_threads=1, config=cfg)
    x = np.array([0.5, 0.5])
    np.testing.assert_array_equal(p1.sample(x, 50, seed=0), p2.sample(x, 50, seed=0))
    status = batch.status.copy()
    status[:280] = 1
    with pytest.raises(InsufficientDataError, match="usable for training") as info:
        train_posterior(theta, batch.x, PRIOR, status, config=cfg)
    assert "diverged" in str(info.value)
