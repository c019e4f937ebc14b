"""Batched simulation: equality with single runs, seeding, summaries, failures, bad input.

Independent expectation: every set of a batch equals ``simulate_izhikevich`` run alone with
the network of that set and the seed ``child_seeds(seed, n_sets)[i]`` (a second code path:
the serial kernel call instead of the parallel ``prange`` kernel).
"""

from __future__ import annotations

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.models.batch import simulate_batch, simulate_izhikevich
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import StepCurrent
from hetfit.models.izhikevich import (
    IzhikevichNetwork,
    IzhikevichPopulation,
)
from hetfit.models.presets import gast2023_ei
from hetfit.seeding import child_seeds


def _net():
    het = Heterogeneity(center=-40.0, width=1.0, low=-60.0, high=-20.0, sampling="random")
    pop = IzhikevichPopulation("E", 150, v_theta=het, I_ext=55.0, noise_sigma=20.0)
    return IzhikevichNetwork.single(pop, J=1.0)


PARAMS = {"E.v_theta.width": [0.5, 1.0, 2.0, 1.0], "E.I_ext": [50.0, 55.0, 60.0, 70.0],
          "J.E.E": [1.0, 0.5, 1.5, 1.0]}


def test_batch_sets_equal_single_runs_with_child_seeds():
    net = _net()
    res = simulate_batch(net, PARAMS, 200.0, 0.05, seed=7, n_threads=2, record_spikes=True)
    seeds = child_seeds(7, 4)
    assert res.seeds == [int(s) for s in seeds]
    for i in range(4):
        pop = net.populations[0]
        pop_i = IzhikevichPopulation(
            "E", 150, v_theta=Heterogeneity(center=-40.0, width=PARAMS["E.v_theta.width"][i],
                                            low=-60.0, high=-20.0, sampling="random"),
            I_ext=PARAMS["E.I_ext"][i], noise_sigma=pop.noise_sigma)
        single = simulate_izhikevich(IzhikevichNetwork.single(pop_i, J=PARAMS["J.E.E"][i]),
                                     200.0, 0.05, seed=int(seeds[i]))
        t, n = res.spikes[i]
        assert t.size > 10
        np.testing.assert_array_equal(t, single.spike_times_ms)
        np.testing.assert_array_equal(n, single.spike_neurons)
        np.testing.assert_array_equal(res.rates_hz[i], single.rates_hz)
        assert res.params["E.I_ext"][i] == PARAMS["E.I_ext"][i]
    # different sets really differ
    assert len({int(c) for c in res.spike_counts.sum(axis=1)}) > 1


def test_batch_independent_of_threads_chunks_and_batch_size():
    net = gast2023_ei(60, 40, sampling="random")
    params = {"I.v_theta.width": [0.2, 0.5, 1.0, 2.0, 3.0, 0.1], "E.I_ext": [60.0] * 6,
              "I.I_offset": [0, 10, 20, 30, 40, 50]}
    a = simulate_batch(net, params, 150.0, 0.1, seed=3, n_threads=2)
    b = simulate_batch(net, params, 150.0, 0.1, seed=3, n_threads=1, chunk_size=2)
    np.testing.assert_array_equal(a.spike_counts, b.spike_counts)
    np.testing.assert_array_equal(a.rates_hz, b.rates_hz)
    # the first sets of a larger batch are the sets of a smaller one (child seeds)
    first = {k: v[:3] for k, v in params.items()}
    c = simulate_batch(net, first, 150.0, 0.1, seed=3, n_threads=2)
    np.testing.assert_array_equal(c.spike_counts, a.spike_counts[:3])


def test_summary_callback_cv_and_failed_sets():
    net = _net()
    params = {"E.I_ext": [60.0, 60.0, 80.0], "E.b": [-2.0, 1e306, -2.0]}

    def summary(r):
        return [r.mean_rate_hz(t_start_ms=50.0), r.n_spikes]

    res = simulate_batch(net, params, 300.0, 0.05, seed=1, summary=summary,
                         record_spikes=True, n_threads=2)
    assert res.status[0] == 0 and res.status[2] == 0
    assert res.status[1] != 0  # non-finite state or runaway firing: either way a failure
    assert res.diverged.tolist() == [False, True, False]
    assert np.all(np.isnan(res.summaries[1]))
    assert np.all(np.isnan(res.rates_hz[1]))
    assert res.summaries[0, 1] == res.spike_counts[0].sum()
    assert res.summaries[2, 0] > res.summaries[0, 0]  # more drive, higher rate
    # per-neuron CV of ISI from the running sums equals the CV from the spike trains
    cv = res.cv_isi()
    times, neurons = res.spikes[0]
    for i in range(0, 150, 17):
        t = times[neurons == i]
        if t.size >= 3:
            isi = np.diff(t)
            assert cv[0, i] == pytest.approx(isi.std() / isi.mean(), rel=1e-9)
    assert np.all(np.isnan(cv[1]))
    mean = res.mean_rate_hz()
    assert np.isnan(mean[1, 0]) and mean[0, 0] > 0


def test_spike_buffer_overflow_is_rerun_not_truncated():
    # ~150 Hz x 100 neurons x 1 s exceeds the default buffer estimate (60 Hz + 4096)
    pop = IzhikevichPopulation("E", 100, I_ext=2000.0, g=0.0)
    res = simulate_batch(pop, None, 1000.0, 0.05, n_sets=2, seed=0, record_spikes=True,
                         n_threads=2)
    for i in range(2):
        assert res.spikes[i][0].size == res.spike_counts[i].sum() > 6000 + 4096


@pytest.mark.parametrize(
    "params,match",
    [
        ({"E.nope": [1.0]}, "unknown batch parameter"),
        ({"X.eta": [1.0]}, "unknown batch parameter"),
        ({"E.eta": [1.0, 2.0], "E.I_ext": [1.0]}, "one value per set"),
        ({"E.eta.width": [1.0]}, "homogeneous"),
        ({"E.v_theta.spread": [1.0]}, "heterogeneity field"),
        ({"J.E.X": [1.0]}, "unknown population"),
        ({"p.E.E": [0.1]}, "all-to-all"),
        ({"E.eta": [float("nan")]}, "not finite"),
        ({"E.C": [-1.0]}, "set 0"),
    ],
)
def test_bad_batch_parameters(params, match):
    pop = IzhikevichPopulation("E", 10, v_theta=Heterogeneity(-40.0, 1.0))
    with pytest.raises(ParameterError, match=match):
        simulate_batch(pop, params, 10.0, 0.1, seed=0)


def test_bad_batch_options():
    pop = IzhikevichPopulation("E", 10, I_ext=StepCurrent.steps((0, 1.0), (5, 2.0)))
    with pytest.raises(ParameterError, match="I_offset"):
        simulate_batch(pop, {"E.I_ext": [3.0]}, 10.0, 0.1, seed=0)
    with pytest.raises(ParameterError, match="n_threads"):
        simulate_batch(pop, None, 10.0, 0.1, n_sets=2, n_threads=0)
    with pytest.raises(ParameterError, match="batch size|empty"):
        simulate_batch(pop, None, 10.0, 0.1)
    with pytest.raises(ParameterError, match="sets"):
        simulate_batch(pop, {"E.eta": [1.0, 2.0]}, 10.0, 0.1, seeds=[1, 2, 3])


def test_slot_arrays_are_64_byte_aligned():
    """The Euler pass streams PN rows with AVX-512 loads; misaligned rows cost 8-10 %."""
    from hetfit.models.batch import _stack
    from hetfit.models.izhikevich import aligned_empty, compile_set, make_grid
    from hetfit.models.presets import single_population

    for shape in [(3,), (14, 1000), (5, 14, 7)]:
        a = aligned_empty(shape)
        assert a.shape == shape and a.dtype == np.float64 and a.ctypes.data % 64 == 0
    net = single_population(n=1000, delta_v=1.0)
    grid = make_grid(1.0, 0.01, 1.0, "euler")
    comp = [compile_set(net, s, grid) for s in (1, 2, 3)]
    assert all(c.pn.ctypes.data % 64 == 0 for c in comp)
    pn = _stack(comp)["PN"]
    assert pn.flags.c_contiguous and pn.ctypes.data % 64 == 0
    assert np.array_equal(pn, np.stack([c.pn for c in comp]))
