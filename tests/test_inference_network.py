"""The E/I network simulator for inference: seeding, batch independence, divergence flags,
the same summaries for a simulation and its recording, and model specs matched to
recordings."""

from __future__ import annotations

import numpy as np
import pytest

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.inference.problems import (
    check_recording_matches,
    ei_width_problem,
    parse_model_spec,
    problem_from_spec,
)
from hetfit.inference.simulator import DIVERGED, OK

THETA = np.array([[0.5, 2.0, 50.0, 10.0], [2.0, 0.5, 45.0, 5.0], [1.0, 1.0, 55.0, 15.0]])


@pytest.fixture(scope="module")
def small():
    # the FS drive is inferred too here (optional in the problem) to exercise 4 parameters
    return ei_width_problem(n_e=60, n_i=60, duration_ms=400.0, transient_ms=100.0,
                            drive_i_range=(0.0, 20.0))


def test_batch_independence_and_seeding(small):
    sim, prior = small
    assert prior.names == sim.param_names == ("delta_v_E", "delta_v_I", "I_E", "I_I")
    seeds = np.array([11, 12, 13])
    batch = sim.simulate(THETA, seeds)
    assert batch.x.shape == (3, len(sim.summary_names))
    alone = sim.simulate(THETA[1:2], seeds[1:2])
    np.testing.assert_array_equal(alone.x[0], batch.x[1])  # independent of the batch
    again = sim.simulate(THETA, seeds)
    np.testing.assert_array_equal(again.x, batch.x)  # deterministic
    other = sim.simulate(THETA[:1], [99])
    assert not np.array_equal(other.x[0], batch.x[0])  # a new network draw differs


def test_diverged_sets_are_flagged_not_returned_as_numbers(small):
    sim, _ = small
    theta = np.array([[1.0, 1.0, 1e9, 10.0], [1.0, 1.0, 50.0, 10.0]])  # 1e9 pA: runaway
    batch = sim.simulate(theta, [1, 2])
    assert batch.status[0] == DIVERGED and np.isnan(batch.x[0]).all()
    assert batch.status[1] == OK and np.isfinite(batch.x[1]).all()


def test_recording_path_gives_the_training_summaries(small):
    """A recording made from a simulation, summarized like real data, reproduces the
    summaries the simulator fed to training (same spikes, same seed for pair sampling)."""
    sim, _ = small
    seeds = [11, 12]
    recs = sim.simulate_recordings(THETA[:2], seeds)
    batch = sim.simulate(THETA[:2], seeds)
    for i, rec in enumerate(recs):
        assert (rec.t_start_ms, rec.t_stop_ms) == (100.0, 500.0)
        check_recording_matches(sim, rec)
        np.testing.assert_array_equal(sim.summaries_of(rec, seed=seeds[i]), batch.x[i])


def test_problem_specs_and_recording_matching(small):
    sim, _ = small
    rec = sim.simulate_recordings(THETA[:1], [5])[0]
    name, opts = parse_model_spec("gast2023_ei:n_e=60,n_i=60,delta_v_range=[0.3,2.0]")
    assert name == "gast2023_ei" and opts["delta_v_range"] == (0.3, 2.0)
    sim2, prior2 = problem_from_spec(
        "gast2023_ei:n_e=60,n_i=60,transient_ms=100", recording=rec)
    assert sim2.t_max_ms - sim2.t_transient_ms == pytest.approx(400.0)
    n_active = {p: int(np.count_nonzero(
        np.bincount(rec.unit_index, minlength=rec.n_units)[[i for i, u in enumerate(
            rec.unit_ids) if u.startswith(p)]])) for p in ("E", "I")}
    assert sim2.summaries.units_per_population == n_active
    np.testing.assert_array_equal(sim2.summaries_of(rec), sim2.summaries_of(rec))
    with pytest.raises(ParameterError, match="only 10 neurons"):
        problem_from_spec("gast2023_ei:n_e=10,n_i=10", recording=rec)
    with pytest.raises(ParameterError, match="unknown model"):
        problem_from_spec("nonsense")
    with pytest.raises(ParameterError, match="key=value"):
        parse_model_spec("gast2023_ei:n_e")
    short = rec.select(100.0, 300.0)
    with pytest.raises(ParameterError, match="window is 200 ms but the model summarizes 400"):
        check_recording_matches(sim2, short)
    e_only = rec.select(100.0, 500.0)
    keep = np.array([uid.startswith("E") for uid in e_only.unit_ids])[e_only.unit_index]
    from dataclasses import replace

    no_i = replace(e_only, times_ms=e_only.times_ms[keep], unit_index=e_only.unit_index[keep])
    with pytest.raises(InsufficientDataError, match="0 observed unit"):
        problem_from_spec("gast2023_ei:n_e=60,n_i=60", recording=no_i)


def test_raw_rate_traces_for_an_embedding_network():
    """Traces (E and I population rates in bins) are the same through the simulator and the
    recording path, equal the spike counts per bin, and train a 2-channel CNN embedding."""
    pytest.importorskip("sbi")
    from hetfit.inference.estimators import EstimatorConfig, train_posterior
    from hetfit.seeding import child_seeds

    sim, prior = ei_width_problem(n_e=40, n_i=40, duration_ms=300.0, transient_ms=100.0,
                                  raw_traces=True, trace_bin_ms=10.0, observe_silent=True)
    assert len(sim.summary_names) == 60 and sim.summary_names[30] == "I.rate_0"
    theta = prior.sample(2, seed=3)
    batch = sim.simulate(theta, [5, 6])
    rec = sim.simulate_recordings(theta[:1], [5])[0]
    np.testing.assert_array_equal(sim.summaries_of(rec, seed=5), batch.x[0])
    # independent check: E spikes per 10 ms bin / (40 cells * 10 ms)
    e = np.array([uid.startswith("E") for uid in rec.unit_ids])[rec.unit_index]
    counts = np.histogram(rec.times_ms[e], bins=np.arange(100.0, 401.0, 10.0))[0]
    np.testing.assert_allclose(batch.x[0, :30], counts / (40 * 10e-3))
    theta = prior.sample(200, seed=1)
    train = sim.simulate(theta, child_seeds(2, 200))
    cfg = EstimatorConfig(embedding="cnn", embedding_channels=2, hidden_features=16,
                          max_num_epochs=5, training_batch_size=64)
    post, report = train_posterior(theta, train.x, prior, train.status, sim.summary_names,
                                   config=cfg, seed=0, n_threads=1)
    s = post.sample(batch.x[1], 100, seed=0)
    assert s.shape == (100, 3) and prior.contains(s).all()
    with pytest.raises(ParameterError, match="equally long traces"):
        train_posterior(theta, train.x[:, :59], prior, train.status,
                        config=EstimatorConfig(embedding="cnn", embedding_channels=2))
