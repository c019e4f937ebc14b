"""LIF networks with heterogeneous time constants: numerics against closed-form solutions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hetfit.models.lif as lif
from hetfit.errors import ParameterError
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.lif import (
    LIFNetwork,
    LIFPopulation,
    LIFProjection,
    brette_cuba,
    current_propagators,
    lif_isi_ms,
    simulate_lif,
)

DT = 0.1


def _isis_by_neuron(res, n):
    out = []
    for i in range(n):
        t = res.spike_times_ms[res.spike_neurons == i]
        out.append(np.diff(t))
    return out


def test_single_neuron_isi_matches_analytic_formula():
    # tau_m ln((RI - (v_reset - E_L)) / (RI - (v_th - E_L))) + t_ref, R I = 100 MOhm * 250 pA = 25 mV
    pop = LIFPopulation("A", 1, tau_m_ms=20.0, e_l_mv=-65.0, v_th_mv=-50.0, v_reset_mv=-65.0,
                        t_ref_ms=2.0, r_m_mohm=100.0, i_ext_pa=250.0, v_init_mv=-65.0)
    res = simulate_lif(pop, 500.0, DT, seed=1)
    isi = np.diff(res.spike_times_ms)
    expected = 2.0 + 20.0 * math.log(25.0 / (25.0 - 15.0))  # 20.33 ms
    assert float(lif_isi_ms(20.0, 25.0, -65.0, -50.0, -65.0, 2.0)) == pytest.approx(expected)
    assert isi.size >= 20
    # spikes are resolved to the grid: every ISI within one step of the analytic value ...
    assert np.all(np.abs(isi - expected) <= DT + 1e-9)
    # ... and, since integration is exact, equal to the first grid point after the crossing
    t_free = expected - 2.0
    grid_isi = 2.0 + DT * (math.floor(t_free / DT) + 1)
    np.testing.assert_allclose(isi, grid_isi, atol=1e-9)


def test_heterogeneous_taus_give_each_neuron_its_own_analytic_rate():
    n = 40
    taus = Heterogeneity(15.0, 0.3, family="lognormal", low=5.0, high=60.0, sampling="random")
    drive = np.linspace(200.0, 400.0, n)  # pA, R I = 20..40 mV > 15 mV threshold distance
    pop = LIFPopulation("A", n, tau_m_ms=taus, e_l_mv=-65.0, v_th_mv=-50.0, v_reset_mv=-65.0,
                        t_ref_ms=3.0, r_m_mohm=100.0, i_ext_pa=drive, v_init_mv=-65.0)
    t_max = 2000.0
    res = simulate_lif(pop, t_max, DT, seed=3)
    tau_used = res.meta["samples"]["A"]["tau_m_ms"]
    assert np.unique(tau_used).size == n  # really heterogeneous
    isi_th = lif_isi_ms(tau_used, 0.1 * drive, -65.0, -50.0, -65.0, 3.0)
    for i, isi in enumerate(_isis_by_neuron(res, n)):
        assert np.all(np.abs(isi - isi_th[i]) <= DT + 1e-9), i
    # rate per neuron: spikes in (0, T] of a neuron starting at reset
    counts = res.meta["spike_counts"]
    first = isi_th - 3.0
    expected_counts = np.floor((t_max - first) / isi_th) + 1
    assert np.all(np.abs(counts - expected_counts) <= 1 + t_max * DT / isi_th**2)


def _psc_network(post_tau_m, post_tau_e, post_tau_i, synapse="current", w_e=2.0, w_i=-3.0):
    n_post = len(post_tau_m)
    pre_e = LIFPopulation("pre_e", 1, kind="E", e_l_mv=-65.0, v_th_mv=-50.0, v_reset_mv=-65.0,
                          t_ref_ms=2.0, i_ext_pa=230.0, v_init_mv=-65.0)
    pre_i = LIFPopulation("pre_i", 1, kind="I", e_l_mv=-65.0, v_th_mv=-50.0, v_reset_mv=-65.0,
                          t_ref_ms=2.0, i_ext_pa=170.0, v_init_mv=-65.0)
    post = LIFPopulation("post", n_post, tau_m_ms=np.asarray(post_tau_m, float),
                         tau_e_ms=np.asarray(post_tau_e, float),
                         tau_i_ms=np.asarray(post_tau_i, float),
                         e_l_mv=-70.0, v_th_mv=100.0, v_reset_mv=-70.0, v_init_mv=-60.0)
    proj = (LIFProjection("pre_e", "post", 1.0, w_e), LIFProjection("pre_i", "post", 1.0, w_i))
    return LIFNetwork((pre_e, pre_i, post), proj, synapse=synapse)


def _analytic_post(res, tau_m, tau_e, tau_i, w_e, w_i, v0=-60.0, e_l=-70.0):
    """Closed-form v(t) of a passive neuron hit by exponential currents at the pre spike times."""
    t = np.arange(res.meta["v_mv"].shape[1]) * DT
    v = e_l + (v0 - e_l) * np.exp(-t / tau_m)
    for pre, w, tau_s in ((0, w_e, tau_e), (1, w_i, tau_i)):
        for ts in res.spike_times_ms[res.spike_neurons == pre]:
            d = t - ts
            m = d > 1e-9
            if abs(tau_s - tau_m) < 1e-12:
                kern = d[m] / tau_m * np.exp(-d[m] / tau_m)
            else:
                kern = tau_s / (tau_s - tau_m) * (np.exp(-d[m] / tau_s) - np.exp(-d[m] / tau_m))
            v[m] += w * kern
    return v


@pytest.mark.parametrize("heterogeneous", [False, True])
def test_exact_integration_equals_analytic_solution_at_every_step(heterogeneous):
    if heterogeneous:  # per-neuron kernel, including tau_e == tau_m (limit formula)
        tm, te, ti = [20.0, 10.0, 7.0], [5.0, 10.0, 3.0], [10.0, 4.0, 7.0]
    else:  # one value per population: the frame-scaled kernel
        tm, te, ti = [20.0, 20.0], [5.0, 5.0], [10.0, 10.0]
    net = _psc_network(tm, te, ti)
    res = simulate_lif(net, 300.0, DT, seed=0, record_v=list(range(2, 2 + len(tm))))
    assert res.meta["kernel"] == ("current_per_neuron" if heterogeneous else "current_uniform")
    assert np.count_nonzero(res.spike_neurons == 0) > 5
    assert np.count_nonzero(res.spike_neurons == 1) > 3
    for k in range(len(tm)):
        expected = _analytic_post(res, tm[k], te[k], ti[k], 2.0, -3.0)
        np.testing.assert_allclose(res.meta["v_mv"][k], expected, atol=1e-9, rtol=0)


def test_propagators_match_direct_formula_and_limit():
    p_m, p_s, k = current_propagators(np.array([20.0, 10.0, 10.0]), np.array([5.0, 10.0, 10.0 + 1e-7]), 0.1)
    np.testing.assert_allclose(p_m, np.exp(-0.1 / np.array([20.0, 10.0, 10.0])))
    assert k[0] == pytest.approx(5.0 / (5.0 - 20.0) * (math.exp(-0.1 / 5) - math.exp(-0.1 / 20)), rel=1e-12)
    assert k[1] == pytest.approx(0.01 * math.exp(-0.01), rel=1e-12)
    assert k[2] == pytest.approx(k[1], rel=1e-6)  # continuous through tau_s = tau_m


def test_conductance_model_reduces_to_current_model_for_small_conductances():
    # COBA weight g (relative to leak) vs CUBA weight g (E_syn - E_L): same PSPs as g -> 0
    errors = []
    for g in (1e-2, 1e-3):
        coba = _psc_network([20.0], [5.0], [10.0], synapse="conductance", w_e=g, w_i=g)
        cuba = _psc_network([20.0], [5.0], [10.0], w_e=g * (0.0 - (-70.0)), w_i=g * (-80.0 - (-70.0)))
        traces = []
        for net in (coba, cuba):
            # start the post neuron at rest so deviations come from synaptic input only
            pops = list(net.populations)
            pops[2] = LIFPopulation("post", 1, tau_m_ms=20.0, tau_e_ms=5.0, tau_i_ms=10.0,
                                    e_l_mv=-70.0, v_th_mv=100.0, v_reset_mv=-70.0, v_init_mv=-70.0)
            net = LIFNetwork(tuple(pops), net.projections, synapse=net.synapse, e_e_mv=0.0, e_i_mv=-80.0)
            traces.append(simulate_lif(net, 300.0, DT, seed=0, record_v=[2]).meta["v_mv"][0])
        dev_cuba = np.max(np.abs(traces[1] + 70.0))
        assert dev_cuba > 0
        errors.append(np.max(np.abs(traces[0] - traces[1])) / dev_cuba)
    assert errors[0] < 0.05
    assert errors[1] < 0.005
    assert 5.0 < errors[0] / errors[1] < 20.0  # relative error ~ proportional to g


def _small_random_net(seed_hetero=0):
    taus = Heterogeneity(20.0, 2.0, family="gaussian", low=10.0, high=30.0, sampling="random")
    e = LIFPopulation("E", 160, kind="E", tau_m_ms=taus, e_l_mv=-65.0, v_th_mv=-50.0,
                      v_reset_mv=-65.0, t_ref_ms=2.0, poisson_rate_hz=4000.0,
                      poisson_weight=0.9, v_init_mv=(-65.0, -50.0))
    i = LIFPopulation("I", 40, kind="I", e_l_mv=-65.0, v_th_mv=-50.0, v_reset_mv=-65.0,
                      t_ref_ms=1.0, poisson_rate_hz=4000.0, poisson_weight=0.9,
                      v_init_mv=(-65.0, -50.0))
    proj = [LIFProjection(a, b, 0.1, w) for a, w in (("E", 0.5), ("I", -2.0)) for b in ("E", "I")]
    return LIFNetwork((e, i), tuple(proj))


def test_same_seed_same_spikes_different_seed_different_spikes():
    net = _small_random_net()
    a = simulate_lif(net, 200.0, DT, seed=11)
    b = simulate_lif(net, 200.0, DT, seed=11)
    c = simulate_lif(net, 200.0, DT, seed=12)
    assert a.n_spikes > 100
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    assert not (a.n_spikes == c.n_spikes and np.array_equal(a.spike_neurons, c.spike_neurons))
    # population rates are the spike counts per bin
    assert a.rates_hz.shape == (2, 200)
    assert a.rates_hz[0].sum() * 1e-3 * 160 == pytest.approx(np.count_nonzero(a.spike_neurons < 160))


def test_uniform_and_per_neuron_kernels_agree(monkeypatch):
    net = brette_cuba(0.0, seed=5, n_exc=320, n_inh=80)
    a = simulate_lif(net, 100.0, DT, seed=9)
    monkeypatch.setattr(lif, "_uniform_within_populations", lambda arrays, starts: False)
    b = simulate_lif(net, 100.0, DT, seed=9)
    assert a.meta["kernel"] == "current_uniform" and b.meta["kernel"] == "current_per_neuron"
    assert a.n_spikes > 50
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)


def test_brette_cuba_preset_structure():
    net = brette_cuba(0.1, seed=2)
    assert net.sizes == (3200, 800)
    e = net.populations[0]
    assert np.all((e.tau_m_ms >= 18.0) & (e.tau_m_ms <= 22.0))
    assert np.all((e.tau_e_ms >= 4.5) & (e.tau_e_ms <= 5.5))
    indptr, targets, weights = lif.build_connectivity(net, seed=1)
    n_syn = targets.size
    expected = 0.02 * 4000 * 3999
    assert abs(n_syn - expected) < 4 * math.sqrt(expected)
    assert set(np.unique(weights)) == {1.62, -9.0}
    # excitatory neurons project with +1.62 mV, inhibitory ones with -9 mV
    assert np.all(weights[: indptr[3200]] == 1.62) and np.all(weights[indptr[3200]:] == -9.0)


def test_divergence_is_flagged():
    pre = LIFPopulation("pre", 1, i_ext_pa=500.0, e_l_mv=-65.0, t_ref_ms=0.0)
    post = LIFPopulation("post", 1, e_l_mv=-65.0)
    net = LIFNetwork((pre, post), (LIFProjection("pre", "post", 1.0, 1e308),))
    res = simulate_lif(net, 100.0, DT, seed=0)
    assert res.diverged
    assert "non-finite" in res.meta["status"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: LIFPopulation("A", -5),
        lambda: LIFPopulation("A", 10, tau_m_ms=-1.0),
        lambda: LIFPopulation("A", 10, tau_m_ms=float("nan")),
        lambda: LIFPopulation("A", 10, tau_m_ms=np.ones(9)),
        lambda: LIFPopulation("A", 10, tau_e_ms=Heterogeneity(5.0, 2.0, family="gaussian")),
        lambda: LIFPopulation("A", 10, kind="X"),
        lambda: LIFPopulation("A", 10, t_ref_ms=-1.0),
        lambda: LIFNetwork((LIFPopulation("A", 3),), (LIFProjection("A", "B", 0.1, 1.0),)),
        lambda: LIFNetwork((LIFPopulation("A", 3),), (LIFProjection("A", "A", 0.1, -1.0),),
                           synapse="conductance"),
        lambda: LIFProjection("A", "A", 1.5, 1.0),
        lambda: simulate_lif(LIFPopulation("A", 3), 10.0, 0.0),
        lambda: simulate_lif(LIFPopulation("A", 3), 10.0, -0.1),
        lambda: simulate_lif(LIFPopulation("A", 3), 10.05, 0.1),
        lambda: simulate_lif(LIFPopulation("A", 3), float("nan"), 0.1),
        lambda: simulate_lif(LIFPopulation("A", 3), 10.0, 0.1, record_v=[5]),
        lambda: brette_cuba(1.5),
    ],
)
def test_bad_inputs_raise_parameter_error(make):
    with pytest.raises(ParameterError) as err:
        make()
    assert str(err.value)
