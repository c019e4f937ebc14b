"""Summary statistics: hand-computed fixtures, NaN flagging for too few spikes/units, the
active-unit observation model, and identical vectors for a simulation and its recording."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.data_adapters.activity import Recording
from hetfit.errors import IncompatibleArtifactError, ParameterError, SchemaError
from hetfit.inference.summaries import (
    SUMMARY_VERSION,
    SummarySpec,
    summaries_of_recording,
    summaries_of_result,
    summary_vector,
    unit_populations,
)
from hetfit.models.results import SpikeResult


def _regular(rate_hz: float, t0: float, t1: float, phase: float = 0.0) -> np.ndarray:
    return np.arange(t0 + phase, t1, 1000.0 / rate_hz)


def _flat(trains):
    t = np.concatenate(trains)
    u = np.repeat(np.arange(len(trains)), [len(x) for x in trains])
    o = np.argsort(t, kind="stable")
    return t[o], u[o]


def test_hand_computed_rates_cv_and_quantiles():
    # 4 units over 1 s: 2, 4, 6, 8 Hz; perfectly regular (CV 0); one silent unit (ignored:
    # the observation model only sees active units).
    trains = [_regular(r, 0, 1000, 1.0) for r in (2, 4, 6, 8)] + [np.empty(0)]
    t, u = _flat(trains)
    spec = SummarySpec(populations=None, network_stats=())
    v = dict(zip(spec.names, summary_vector(spec, t, u, np.zeros(5, int), 0.0, 1000.0)))
    assert v["all.log_rate_mean"] == pytest.approx(math.log10(5.0))
    assert v["all.log_rate_q50"] == pytest.approx(math.log10(5.0))  # median of 2,4,6,8
    assert v["all.log_rate_q25"] == pytest.approx(math.log10(3.5))  # numpy linear quantile
    assert v["all.log_rate_q90"] == pytest.approx(math.log10(7.4))
    assert v["all.cv_isi"] == pytest.approx(0.0, abs=1e-12)
    # Fano factors of the 0/1/2 counts in ten 100-ms windows, computed by hand per unit
    # (2 Hz: 8/9, 4 Hz: 2/3, 6 Hz: 4/9, 8 Hz: 2/9), averaged over the active units
    assert v["all.fano"] == pytest.approx((8 / 9 + 2 / 3 + 4 / 9 + 2 / 9) / 4)


def test_per_population_statistics_and_identical_trains():
    spike = _regular(10, 5, 1000)
    trains = [spike, spike, spike + 0.0, spike]  # identical trains: chi = 1, corr = 1
    t, u = _flat(trains)
    spec = SummarySpec(populations=("E", "I"), population_stats=("log_rate_mean",),
                       network_stats=("chi", "corr"))
    v = dict(zip(spec.names, summary_vector(spec, t, u, np.array([0, 0, 1, 1]), 0.0, 1000.0)))
    assert v["E.log_rate_mean"] == pytest.approx(1.0)
    assert v["I.log_rate_mean"] == pytest.approx(1.0)
    assert v["net.chi"] == pytest.approx(1.0, abs=1e-6)
    assert v["net.corr"] == pytest.approx(1.0, abs=1e-9)


def test_too_few_spikes_or_units_give_nan_not_errors():
    spec = SummarySpec(populations=("E", "I"))
    # E has two units with two spikes each (no CV: fewer than 3 spikes); I is silent
    t = np.array([10.0, 20.0, 500.0, 600.0])
    u = np.array([0, 1, 0, 1])
    v = dict(zip(spec.names, summary_vector(spec, t, u, np.array([0, 0, 1, 1]), 0.0, 1000.0)))
    assert math.isfinite(v["E.log_rate_mean"])
    assert math.isnan(v["E.cv_isi"])
    assert all(math.isnan(v[f"I.{s}"]) for s in ("log_rate_mean", "log_rate_q50", "cv_isi"))
    empty = summary_vector(spec, np.empty(0), np.empty(0, int), np.array([0, 1]), 0.0, 100.0)
    assert np.isnan(empty).all()


def test_observe_silent_adds_the_active_fraction():
    # 5 cells, 2 of them silent: active fraction 3/5; rate statistics over the 3 that fire
    trains = [_regular(r, 0, 1000, 1.0) for r in (2, 4, 6)] + [np.empty(0), np.empty(0)]
    t, u = _flat(trains)
    spec = SummarySpec(populations=None, network_stats=(), observe_silent=True)
    assert "all.active_fraction" in spec.names
    v = dict(zip(spec.names, summary_vector(spec, t, u, np.zeros(5, int), 0.0, 1000.0)))
    assert v["all.active_fraction"] == pytest.approx(0.6)
    assert v["all.log_rate_mean"] == pytest.approx(math.log10(4.0))
    with pytest.raises(ParameterError, match="observe_silent"):
        SummarySpec(population_stats=("active_fraction",))


def test_unit_populations_from_ids():
    np.testing.assert_array_equal(unit_populations(["E1", "I2", "E20", "E2x"], ("E", "I")),
                                  [0, 1, 0, 0])
    np.testing.assert_array_equal(unit_populations(["E21", "E3"], ("E", "E2")), [1, 0])
    with pytest.raises(SchemaError, match="does not belong") as info:
        unit_populations(["E1", "ch07"], ("E", "I"))
    assert "pooled" in str(info.value)


def test_observation_subsample_is_seeded_and_sized():
    rng = np.random.default_rng(0)
    trains = [np.sort(rng.uniform(0, 2000, rng.integers(5, 40))) for _ in range(30)]
    t, u = _flat(trains)
    spec = SummarySpec(populations=None, units_per_population={"all": 10},
                       network_stats=("corr",))
    a = summary_vector(spec, t, u, np.zeros(30, int), 0.0, 2000.0, seed=1)
    b = summary_vector(spec, t, u, np.zeros(30, int), 0.0, 2000.0, seed=1)
    c = summary_vector(spec, t, u, np.zeros(30, int), 0.0, 2000.0, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    full = SummarySpec(populations=None, network_stats=("corr",))
    assert not np.array_equal(a, summary_vector(full, t, u, np.zeros(30, int), 0.0, 2000.0))


def test_simulation_and_its_recording_give_identical_summaries():
    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0, 1200, rng.integers(3, 30))) for _ in range(12)]
    t, u = _flat(trains)
    res = SpikeResult(t, u, ("E", "I"), (8, 4), np.arange(1200.0), np.zeros((2, 1200)),
                      1200.0, 0.1)
    spec = SummarySpec(units_per_population={"E": 5, "I": 3})
    from_sim = summaries_of_result(spec, res, t_start_ms=200.0, seed=9)
    rec = Recording.from_spike_result(res).select(200.0, 1200.0)
    from_rec = summaries_of_recording(spec, rec, seed=9)
    np.testing.assert_array_equal(from_sim, from_rec)
    res.diverged = True
    assert np.isnan(summaries_of_result(spec, res)).all()


def test_spec_validation_and_versioning():
    with pytest.raises(ParameterError, match="unknown population statistic"):
        SummarySpec(population_stats=("rate",))
    with pytest.raises(ParameterError, match=">= 2"):
        SummarySpec(units_per_population={"E": 1})
    with pytest.raises(ParameterError, match="not among"):
        SummarySpec(units_per_population={"X": 5})
    with pytest.raises(ParameterError, match="empty"):
        SummarySpec(population_stats=(), network_stats=())
    spec = SummarySpec(units_per_population={"E": 5, "I": 3})
    assert SummarySpec.from_dict(spec.to_dict()) == spec
    old = {**spec.to_dict(), "version": "0.1"}
    with pytest.raises(IncompatibleArtifactError, match=SUMMARY_VERSION):
        SummarySpec.from_dict(old)
