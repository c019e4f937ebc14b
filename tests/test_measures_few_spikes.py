"""Every spike-train measure on degenerate input (0, 1, 2 spikes; 1 unit; silent units):
no exception, and NaN exactly where the documentation says a value is undefined."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit import measures as m
from hetfit.data_adapters.activity import Recording
from hetfit.measures.spiketrains import flatten_trains
from hetfit.models.results import SpikeResult


def _all_measures(kw):
    b = m.network_bursts(**kw)
    spec = m.rate_spectrum(**kw)
    return {
        "rate": m.rate_spread(**kw).mean_hz,
        "cv": m.mean_cv_isi(**kw),
        "pooled_cv": m.pooled_cv_isi(**kw),
        "fano": m.mean_fano_factor(**kw, window_ms=10.0),
        "pop_fano": m.population_fano_factor(**kw, window_ms=10.0),
        "chi": m.spike_train_chi(**kw),
        "kuramoto": m.kuramoto_order(**kw),
        "corr": m.mean_pairwise_correlation(**kw),
        "peak_hz": spec.peak_frequency_hz,
        "band_power": spec.band_power,
        "bursts": b.count,
        "burst_fraction": b.fraction_spikes_in_bursts,
    }


# (trains, which measures are finite); window [0, 100) ms
CASES = {
    "no spikes, 1 unit": ([[]], {"rate", "band_power", "bursts"}),
    "no spikes, 3 units": ([[], [], []], {"rate", "band_power", "bursts"}),
    "1 spike": ([[40.0]], {"rate", "fano", "pop_fano", "peak_hz", "band_power", "bursts",
                          "burst_fraction"}),
    "2 spikes, 1 unit": ([[40.0, 60.0]], {"rate", "fano", "pop_fano", "peak_hz", "band_power",
                                          "bursts", "burst_fraction"}),
    "2 spikes, 2 units": ([[40.0], [60.0]], {"rate", "fano", "pop_fano", "chi", "corr", "peak_hz",
                                             "band_power", "bursts", "burst_fraction"}),
    "1 unit, many spikes": ([np.arange(5.0, 100.0, 10.0)], {
        "rate", "cv", "pooled_cv", "fano", "pop_fano", "peak_hz", "band_power", "bursts",
        "burst_fraction"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_degenerate_inputs_give_documented_nans(name):
    trains, finite = CASES[name]
    t, u = flatten_trains(trains)
    values = _all_measures(dict(times_ms=t, units=u, n_units=len(trains), t_start_ms=0.0,
                                t_stop_ms=100.0))
    got_finite = {k for k, v in values.items() if math.isfinite(v)}
    assert got_finite == finite, values


def test_every_measure_runs_on_a_spike_result_and_a_recording():
    res = SpikeResult(
        spike_times_ms=np.array([0.0, 1.0, 20.0, 21.0, 40.0, 41.0, 60.0, 61.0]),
        spike_neurons=np.array([0, 1, 0, 1, 0, 1, 0, 1]),
        population_names=("E", "I"),
        population_sizes=(1, 1),
        rate_t_ms=np.array([50.0]),
        rates_hz=np.zeros((2, 1)),
        t_max_ms=100.0,
        dt_ms=0.1,
    )
    from_result = _all_measures(m.spike_arrays(res))
    from_recording = _all_measures(Recording.from_spike_result(res).spike_arrays())
    assert from_result == from_recording
    # two units spiking 1 ms apart every 20 ms: Kuramoto close to 1, identical CVs of 0
    assert from_result["kuramoto"] > 0.95 and from_result["cv"] == pytest.approx(0.0)
    one_pop = _all_measures(m.spike_arrays(res, "E"))  # a single unit: no synchrony
    assert math.isnan(one_pop["chi"]) and math.isnan(one_pop["corr"])
