"""Coupled Izhikevich networks: synapses, connectivity, determinism, divergence, bad input.

Independent expectations: a solve_ivp integration of target neurons driven by conductances
rebuilt from the recorded presynaptic spike trains; all-to-all coupling through the rates
vs. the same network with explicit dense weights ``J/N`` (the sparse code path); binomial
in-degree statistics of Erdős–Rényi graphs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hetfit.errors import HetfitError, ParameterError
from hetfit.models.batch import simulate_izhikevich
from hetfit.models.connectivity import Connectivity, random_connectivity
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import StepCurrent
from hetfit.models.izhikevich import (
    IzhikevichNetwork,
    IzhikevichPopulation,
)
from hetfit.models.presets import gast2023_ei, single_population


def _drive_target_network():
    het_eta = Heterogeneity(center=150.0, width=40.0, family="gaussian", low=60, high=400)
    exc = IzhikevichPopulation("E", 20, eta=het_eta, b=0.0, kappa=0.0, g=0.0, tau_s=6.0,
                               E_syn=0.0)
    inh = IzhikevichPopulation("I", 20, C=20.0, k=1.0, v_r=-55.0, eta=het_eta, b=0.0,
                               kappa=0.0, g=0.0, tau_s=8.0, E_syn=-65.0, I_ext=-70.0)
    tgt = IzhikevichPopulation(
        "T", 3, b=-2.0, kappa=100.0, I_ext=120.0,
        g=Heterogeneity(center=4.0, width=2.0, family="gaussian", low=0.0, high=10.0),
    )
    J = {("T", "E"): 2.0, ("T", "I"): 1.0}
    return IzhikevichNetwork((exc, inh, tgt), J=J)


def _target_reference(res, net, i_target, t_max):
    """Integrate one target neuron with conductances rebuilt from presynaptic spikes."""
    tgt = net.population("T")
    g_i = res.meta["samples"]["T"]["g"][i_target]
    events = []
    for q, (name, pre) in enumerate((("E", net.population("E")), ("I", net.population("I")))):
        times, _ = res.spikes_of(name)
        J = net.J[2][q]
        events += [(t, q, J / pre.n) for t in times]
    events.sort()
    tau = np.array([6.0, 8.0])
    E = np.array([0.0, -65.0])
    s = np.zeros(2)
    t, y, spikes = 0.0, [tgt.v_r, 0.0], []
    bounds = [e[0] for e in events] + [t_max]

    def f(tt, yy, s0, t0):
        v, u = yy
        st = s0 * np.exp(-(tt - t0) / tau)
        syn = g_i * np.sum(st * (E - v))
        return [(tgt.k * (v - tgt.v_r) * (v - tgt.v_theta) - u + 120.0 + syn) / tgt.C,
                (tgt.b * (v - tgt.v_r) - u) / tgt.tau_u]

    def peak(tt, yy, s0, t0):
        return yy[0] - tgt.v_peak

    peak.terminal = True
    peak.direction = 1
    k = 0
    for t_next in bounds:
        while t < t_next:
            sol = solve_ivp(f, (t, t_next), y, args=(s.copy(), t), method="DOP853",
                            rtol=1e-10, atol=1e-8, events=peak, max_step=0.5)
            s = s * np.exp(-(sol.t[-1] - t) / tau)
            if sol.status == 1:
                spikes.append(sol.t[-1])
                y = [tgt.v_reset, sol.y[1, -1] + tgt.kappa]
            else:
                y = list(sol.y[:, -1])
            t = sol.t[-1]
        if k < len(events):
            s[events[k][1]] += events[k][2]
            k += 1
    return np.array(spikes)


def test_conductance_synapses_match_reconstructed_drive():
    net = _drive_target_network()
    t_max = 250.0
    res = simulate_izhikevich(net, t_max, 0.01, seed=0)
    assert not res.diverged
    assert res.spikes_of("E")[0].size > 50 and res.spikes_of("I")[0].size > 50
    for i in range(3):
        ref = _target_reference(res, net, i, t_max)
        t, idx = res.spikes_of("T")
        got = t[idx == i]
        assert ref.size >= 3
        assert got.size == ref.size, i
        assert np.max(np.abs(got - ref)) < 0.25, i


def _dense_connectivity(net):
    """All-to-all weights J_pq / N_q as an explicit matrix W[post, pre]."""
    sizes = net.sizes
    starts = np.concatenate([[0], np.cumsum(sizes)])
    W = np.zeros((net.n_neurons, net.n_neurons))
    for p in range(len(sizes)):
        for q in range(len(sizes)):
            W[starts[p]:starts[p + 1], starts[q]:starts[q + 1]] = net.J[p][q] / sizes[q]
    return Connectivity.from_matrix(W)


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_all_to_all_rates_equal_dense_explicit_weights(method):
    net = gast2023_ei(150, 150, delta_v_e=1.0, delta_v_i=0.5, I_e=60.0, I_i=30.0)
    dense = IzhikevichNetwork(net.populations, J=net.J, connectivity=_dense_connectivity(net))
    dt = 0.05 if method == "exact" else 0.01
    a = simulate_izhikevich(net, 200.0, dt, seed=1, method=method)
    b = simulate_izhikevich(dense, 200.0, dt, seed=1, method=method)
    assert a.n_spikes > 200
    # same model, two code paths (population gates vs per-neuron gates): identical up to
    # floating-point summation order
    assert b.n_spikes == a.n_spikes
    np.testing.assert_array_equal(b.spike_neurons, a.spike_neurons)
    np.testing.assert_allclose(b.spike_times_ms, a.spike_times_ms, atol=1e-6)


def test_erdos_renyi_in_degree_statistics():
    n, p = 2000, 0.1
    c = random_connectivity(n, n, p, weight=0.5, seed=3)
    deg = c.in_degrees()
    m = n - 1  # no autapses
    assert deg.mean() == pytest.approx(m * p, rel=0.01)
    # variance of a binomial; the sample variance of 2000 values has ~3% standard error
    assert deg.var() == pytest.approx(m * p * (1 - p), rel=0.12)
    assert c.out_degrees().mean() == pytest.approx(m * p, rel=0.01)
    assert not np.any(c.sources() == c.targets)
    assert np.all(c.weights == 0.5)
    fixed = random_connectivity(n, 500, p, seed=3, fixed_indegree=True)
    assert np.all(fixed.in_degrees() == 50)
    # CSR by source matches the dense matrix
    small = random_connectivity(30, 20, 0.3, weight=2.0, seed=4, allow_autapses=True)
    W = small.to_dense()
    assert W.shape == (30, 20)
    assert np.count_nonzero(W) == small.n_edges
    assert Connectivity.from_matrix(W).to_dense() == pytest.approx(W)


def test_sparse_network_graph_is_seeded_and_mean_input_matches_all_to_all():
    base = single_population(n=1000, delta_v=1.0, I_ext=50.0)
    sparse = single_population(n=1000, delta_v=1.0, I_ext=50.0, connection_p=0.3)
    a = simulate_izhikevich(base, 600.0, 0.05, seed=2, record_spikes=False)
    s1 = simulate_izhikevich(sparse, 600.0, 0.05, seed=2, record_spikes=False)
    s2 = simulate_izhikevich(sparse, 600.0, 0.05, seed=2, record_spikes=False)
    s3 = simulate_izhikevich(sparse, 600.0, 0.05, seed=5, record_spikes=False)
    np.testing.assert_array_equal(s1.meta["spike_counts"], s2.meta["spike_counts"])
    assert not np.array_equal(s1.meta["spike_counts"], s3.meta["spike_counts"])
    # weights J/(pN): same mean recurrent input, so a similar population rate
    assert s1.mean_rate_hz(t_start_ms=200) == pytest.approx(a.mean_rate_hz(t_start_ms=200),
                                                             rel=0.1)


def test_inhibitory_cross_coupling_lowers_excitatory_rate():
    low = simulate_izhikevich(gast2023_ei(200, 200, I_e=60.0, I_i=0.0), 400.0, 0.05, seed=0)
    high = simulate_izhikevich(gast2023_ei(200, 200, I_e=60.0, I_i=60.0), 400.0, 0.05, seed=0)
    assert high.mean_rate_hz("I", 100) > low.mean_rate_hz("I", 100)
    assert high.mean_rate_hz("E", 100) < low.mean_rate_hz("E", 100)


def test_same_seed_same_spikes_different_seed_differs():
    het = Heterogeneity(center=-40.0, width=1.0, low=-60.0, high=-20.0, sampling="random")
    pop = IzhikevichPopulation("E", 300, v_theta=het, I_ext=60.0, noise_sigma=30.0)
    net = IzhikevichNetwork.single(pop, J=1.0)
    a = simulate_izhikevich(net, 300.0, 0.05, seed=11)
    b = simulate_izhikevich(net, 300.0, 0.05, seed=11)
    c = simulate_izhikevich(net, 300.0, 0.05, seed=12)
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    assert a.n_spikes > 50
    assert not (a.n_spikes == c.n_spikes and np.array_equal(a.spike_times_ms, c.spike_times_ms))
    assert a.meta["seed"] == 11
    # seed=None draws a fresh seed and records it, so the run can be repeated
    d = simulate_izhikevich(net, 50.0, 0.05, seed=None)
    e = simulate_izhikevich(net, 50.0, 0.05, seed=d.meta["seed"])
    np.testing.assert_array_equal(d.spike_times_ms, e.spike_times_ms)


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_divergence_is_flagged_not_returned_as_numbers(method):
    # an absurd recovery sensitivity overflows u, then v: the state becomes non-finite
    pop = IzhikevichPopulation("E", 20, b=1e306, I_ext=100.0)
    res = simulate_izhikevich(pop, 50.0, 1.0, seed=0, method=method)
    assert res.diverged
    assert "diverged" in res.meta["status"]
    assert res.meta["failed_at_ms"] is not None and res.meta["failed_at_ms"] <= 50.0
    assert np.all(np.isnan(res.rates_hz))
    assert res.n_spikes == 0  # no spikes handed out from a failed run
    assert math.isnan(res.mean_rate_hz())


def test_step_current_input_compiles_to_grid():
    from hetfit.models.inputs import compile_segments

    a = StepCurrent.steps((0.0, 1.0), (10.0, 5.0))
    b = StepCurrent.from_array([0.0, 2.0, 4.0], dt_ms=5.0)
    start, val = compile_segments([a, b, 7.0], 0.1, 200)
    np.testing.assert_array_equal(start, [0, 50, 100])
    np.testing.assert_allclose(val, [[1, 0, 7], [1, 2, 7], [5, 4, 7]])
    ramp = StepCurrent.ramp(10.0, 20.0, 0.0, 10.0, step_ms=1.0)
    assert ramp.value_at(5.0) == 0.0
    assert ramp.value_at(14.5) == pytest.approx(4.5)
    assert ramp.value_at(25.0) == 10.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: IzhikevichPopulation("E", -5),
        lambda: IzhikevichPopulation("E", 0),
        lambda: IzhikevichPopulation("E", 10, C=float("nan")),
        lambda: IzhikevichPopulation("E", 10, tau_s=0.0),
        lambda: IzhikevichPopulation("E", 10, v_theta=Heterogeneity(-40.0, width=-1.0)),
        lambda: IzhikevichPopulation("E", 10, g=-1.0),
        lambda: IzhikevichPopulation("E", 10, g=Heterogeneity(10.0, 2.0)),
        lambda: IzhikevichPopulation("E", 10, noise_sigma=-1.0),
        lambda: IzhikevichPopulation("E", 10, v_peak=-70.0),
        lambda: IzhikevichPopulation("E", 10, eta="a lot"),
        lambda: IzhikevichNetwork((IzhikevichPopulation("E", 5),), J=[[1.0, 2.0]]),
        lambda: IzhikevichNetwork((IzhikevichPopulation("E", 5), IzhikevichPopulation("E", 5))),
        lambda: IzhikevichNetwork((IzhikevichPopulation("E", 5),), J={("E", "X"): 1.0}),
        lambda: IzhikevichNetwork((IzhikevichPopulation("E", 5),), J=float("nan")),
        lambda: IzhikevichNetwork((IzhikevichPopulation("E", 5),), connection_p=1.5),
        lambda: StepCurrent((0.0, 10.0), (1.0,)),
        lambda: StepCurrent((10.0, 5.0), (1.0, 2.0)),
        lambda: Connectivity(2, 2, np.array([0, 1, 2]), np.array([0, 1]), np.array([1.0])),
        lambda: random_connectivity(10, 10, 1.5),
        lambda: simulate_izhikevich(IzhikevichPopulation("E", 5), 100.0, 0.0),
        lambda: simulate_izhikevich(IzhikevichPopulation("E", 5), 100.0, -0.1),
        lambda: simulate_izhikevich(IzhikevichPopulation("E", 5), 100.0, 0.03),
        lambda: simulate_izhikevich(IzhikevichPopulation("E", 5), float("nan"), 0.1),
        lambda: simulate_izhikevich(IzhikevichPopulation("E", 5), 100.0, 0.1, method="rk4"),
        lambda: simulate_izhikevich("not a network", 100.0, 0.1),
    ],
)
def test_bad_input_raises_parameter_error(make):
    with pytest.raises(ParameterError) as info:
        make()
    assert isinstance(info.value, HetfitError)
    assert info.value.message  # a readable one-line message
