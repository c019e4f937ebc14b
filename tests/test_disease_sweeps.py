"""Heterogeneity-loss sweeps reproduce the qualitative claims of the seeds (small versions;
full-size runs: benchmarks/bench_compare_sweeps.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.disease.sweeps import (
    Curve,
    izhikevich_sweep,
    meanfield_sweep,
    rate_network_sweep,
    step_response_sweep,
    synchrony_regimes,
    transition_width,
)
from hetfit.errors import ParameterError


def test_transition_width_hand_computed():
    x = [0.0, 1.0, 2.0, 3.0]
    t = transition_width(x, [0.9, 0.8, 0.3, 0.1], 0.5)
    # crossing between (1, 0.8) and (2, 0.3): 1 + (0.8 - 0.5) / (0.8 - 0.3) = 1.6
    assert t.width == pytest.approx(1.6)
    assert transition_width(x, [0.9, 0.8, 0.3, 0.1]).threshold == pytest.approx(0.5)
    # rising curve, "below" side: below 0.5 until between 1 (0.2) and 2 (0.6) -> 1.75
    assert transition_width(x, [0.1, 0.2, 0.6, 0.9], 0.5, side="below").width == \
        pytest.approx(1.75)
    # a curve that re-enters: the last crossing counts
    assert transition_width(x, [0.9, 0.1, 0.9, 0.1], 0.5).width == pytest.approx(2.5)
    assert transition_width(x, [0.2, 0.25, 0.21, 0.2], min_range=0.1).width is None
    assert transition_width(x, [0.9, 0.9, 0.9, 0.9], 0.5).width is None
    assert transition_width(x, [0.9, np.nan, 0.2, np.nan], 0.5).width == pytest.approx(
        0.0 + 2.0 * 0.4 / 0.7)


def test_curve_interval_is_the_t_interval_of_the_mean():
    from scipy import stats

    v = np.array([[1.0, 2.0, 4.0], [3.0, np.nan, 5.0], [7.0, np.nan, np.nan]])
    c = Curve("m", "", "network", v, level=0.9)
    lo, hi = stats.t.interval(0.9, 2, loc=np.mean(v[0]), scale=stats.sem(v[0]))
    assert c.low[0] == pytest.approx(lo) and c.high[0] == pytest.approx(hi)
    lo, hi = stats.t.interval(0.9, 1, loc=4.0, scale=stats.sem([3.0, 5.0]))
    assert (c.low[1], c.high[1]) == (pytest.approx(lo), pytest.approx(hi))
    assert c.low[2] == c.high[2] == 7.0 and list(c.n_valid) == [3, 2, 1]


def test_rate_network_resilience_and_spectral_radius_fall_with_heterogeneity():
    from hetfit.models import rate_theory as rt
    from hetfit.models.rate_network import RateNetworkSpec

    sigma = np.sqrt([0.0, 1e-3, 3e-3])
    sw = rate_network_sweep(sigma, n_trials=6, n_realizations=3, seed=2, t_max=100.0)
    rad = sw.curves["spectral_radius"].mean
    assert rad[0] > 1.0 > rad[1] > rad[2]  # May-Wigner transition crossed (Fig. 2G)
    eq19 = sw.curves["spectral_radius_eq19"].mean
    spec = RateNetworkSpec(rate_offset=0.5)
    np.testing.assert_allclose(eq19, rt.spectral_radius(sigma**2, **rt.theory_parameters(spec)))
    assert np.all(np.diff(eq19) < 0)
    # without heterogeneity trials do not settle or do not come back (Fig. 3); with it they do
    bad0 = sw.curves["not_resilient"].mean[0] + sw.curves["no_stationary_state"].mean[0]
    assert bad0 > 0
    assert sw.curves["not_resilient"].mean[-1] == 0.0
    assert sw.curves["distance_D"].mean[-1] < 1e-4
    assert sw.curves["return_time"].mean[-1] < sw.curves["return_time"].mean[0]
    assert sw.transitions["spectral_radius"].width is not None
    assert sw.curves["spectral_radius_eq19"].engine == "theory"
    assert sw.curves["distance_D"].engine == "network"


def _fs_network(n: int = 200, eta: float = 200.0):
    from hetfit.models.heterogeneity import Heterogeneity
    from hetfit.models.izhikevich import IzhikevichNetwork, IzhikevichPopulation

    pop = IzhikevichPopulation(
        "I", n=n, C=20.0, k=1.0, v_r=-55.0,
        v_theta=Heterogeneity(-40.0, 1.0, "lorentzian", low=-55.0, high=-25.0), eta=eta,
        g=1.0, b=0.025, tau_u=5.0, kappa=0.0, tau_s=8.0, E_syn=-65.0)
    return IzhikevichNetwork.single(pop, J=10.0)


@pytest.mark.slow  # numba compilation of the Izhikevich kernels when the cache is cold
def test_threshold_heterogeneity_desynchronizes_a_regular_spiking_network():
    # strongly driven fast-spiking population (~80 Hz, regular spiking): the regime in which
    # the seeds say heterogeneity desynchronizes, so its loss raises synchrony
    sw = izhikevich_sweep(_fs_network(), [0.05, 0.5, 3.0], population="I", n_seeds=2,
                          t_max_ms=600.0, t_start_ms=200.0, seed=4)
    chi = sw.curves["chi_I"].mean
    assert chi[0] > 0.8 and chi[-1] < 0.15
    order = sw.curves["order_I"].mean
    assert order[0] > order[-1]
    assert sw.trend("chi_I")["rho"] < 0
    tr = sw.transitions["chi_I"]
    assert tr.width is not None and 0.05 < tr.width < 3.0
    assert np.all(sw.curves["rate_I"].mean > 40.0)
    assert sw.curves["chi_I"].engine == "network"
    # same seed, same sweep
    again = izhikevich_sweep(_fs_network(), [0.05, 0.5, 3.0], population="I", n_seeds=2,
                             t_max_ms=600.0, t_start_ms=200.0, seed=4)
    np.testing.assert_array_equal(again.curves["chi_I"].values, sw.curves["chi_I"].values)
    # regimes: the verdict says where the loss raises synchrony
    regs = synchrony_regimes(_fs_network(), [0.05, 0.5, 3.0], [200.0], population="I",
                             n_seeds=2, t_max_ms=600.0, t_start_ms=200.0, seed=4)
    assert regs[0].verdict == "loss raises synchrony" and regs[0].rate_hz > 40.0
    # where it does not: a regular-spiking population with spike-frequency adaptation
    # (DESIGN.md parameters) stays asynchronous at every threshold width
    from hetfit.disease.sweeps import synchrony_verdict
    from hetfit.models.presets import single_population

    rs = izhikevich_sweep(single_population(n=200, delta_v=1.0, I_ext=120.0), [0.05, 0.5, 3.0],
                          population="E", n_seeds=2, t_max_ms=600.0, t_start_ms=200.0, seed=1)
    assert np.all(rs.curves["chi_E"].mean < 0.1) and np.all(rs.curves["rate_E"].mean > 15.0)
    assert synchrony_verdict(rs, "chi_E")[0] == "no clear effect"
    assert rs.transitions["chi_E"].width is None
    # a sudden step of drive raises the rate at every width
    st = step_response_sweep(_fs_network(eta=80.0), [0.05, 3.0], step_pA=60.0,
                             population="I", t_step_ms=400.0, window_ms=300.0, n_seeds=1,
                             seed=1)
    assert np.all(st.curves["delta_rate_I"].mean > 5.0)
    np.testing.assert_allclose(
        st.curves["delta_chi_I"].values,
        st.curves["chi_I_after"].values - st.curves["chi_I_before"].values)


@pytest.mark.slow  # ~10 s of fixed-point scans
def test_meanfield_bistable_range_shrinks_with_excitatory_threshold_spread():
    from hetfit.models.meanfield import gast2023_ei_meanfield

    mf = gast2023_ei_meanfield(delta_e=1.0, delta_i=1.0)
    sw = meanfield_sweep(mf, [0.2, 1.0, 4.0], population="E", scan_param="eta",
                         scan_population="E", scan_values=np.linspace(0.0, 100.0, 21),
                         t_max_ms=600.0, t_start_ms=300.0)
    b = sw.curves["bistable_range"].mean
    assert b[0] > b[1] > 0.0 and b[2] == 0.0  # heterogeneity removes the hysteresis
    assert sw.curves["bistable_range"].engine == "mean field"
    assert sw.transitions["bistable_range"].width is not None
    assert 1.0 < sw.transitions["bistable_range"].width < 4.0


def test_sweep_inputs_are_checked():
    from hetfit.models.presets import single_population

    net = single_population(n=10, delta_v=0.0)  # homogeneous thresholds
    with pytest.raises(ParameterError, match="homogeneous"):
        izhikevich_sweep(net, [0.1, 1.0])
    with pytest.raises(ParameterError, match="increasing"):
        izhikevich_sweep(_fs_network(), [1.0, 0.5], population="I")
    with pytest.raises(ParameterError, match="at least 2"):
        rate_network_sweep([0.1])
    with pytest.raises(ParameterError, match=">= 0"):
        rate_network_sweep([-0.1, 0.1])
    with pytest.raises(ParameterError, match="cannot sweep"):
        izhikevich_sweep(_fs_network(), [0.1, 1.0], population="I", parameter="C")
    with pytest.raises(ParameterError, match="IzhikevichMeanField"):
        meanfield_sweep(object(), [0.1, 1.0])
    assert math.isnan(transition_width([0.0], [1.0]).threshold)


def test_rich2022_step_response_falls_with_excitability_spread():
    from hetfit.disease.sweeps import rich2022_step_sweep

    sw = rich2022_step_sweep([2.0, 4.4, 7.8, 12.0], n_seeds=2, seed=3, reference_width=7.8)
    d = sw.curves["delta_chi"]
    assert d.engine == "network"
    assert sw.trend("delta_chi")["rho"] < 0
    assert d.mean[1] > d.mean[2]  # 4.4 mV (epileptogenic) vs 7.8 mV (non-epileptogenic)
    np.testing.assert_allclose(d.values, sw.curves["chi_after"].values
                               - sw.curves["chi_before"].values)
    assert np.all(sw.curves["rate_after_hz"].mean > sw.curves["rate_before_hz"].mean)
    assert sw.scales is not None and sw.scales[2] == pytest.approx(1.0)
    tr = sw.transitions["delta_chi"]
    assert tr.width is not None and 2.0 < tr.width < 12.0


@pytest.mark.slow  # numba compilation of the Izhikevich kernels when the cache is cold
def test_gast_ei_circuit_inhibitory_but_not_excitatory_threshold_loss_raises_synchrony():
    from hetfit.disease.sweeps import synchrony_verdict
    from hetfit.models.presets import gast2023_ei

    # I thresholds at the published drives (E 50 pA, I 10 pA): the FS population synchronizes
    # as its thresholds become alike
    net = gast2023_ei(n_e=300, n_i=300, delta_v_e=1.0, delta_v_i=1.0)
    sw_i = izhikevich_sweep(net, [0.05, 0.5, 3.0], population="I", n_seeds=1,
                            t_max_ms=800.0, t_start_ms=200.0, seed=1)
    assert synchrony_verdict(sw_i, "chi_I")[0] == "loss raises synchrony"
    assert sw_i.curves["chi_I"].mean[0] > 2 * sw_i.curves["chi_I"].mean[-1]
    # E thresholds with E strongly driven (~30 Hz): asynchronous at every width, so losing
    # heterogeneity changes nothing -- where the claim does not hold
    net_e = gast2023_ei(n_e=300, n_i=300, delta_v_e=1.0, delta_v_i=1.0, I_e=80.0)
    sw_e = izhikevich_sweep(net_e, [0.05, 0.5, 3.0], population="E", n_seeds=1,
                            t_max_ms=800.0, t_start_ms=200.0, seed=1)
    assert np.all(sw_e.curves["chi_E"].mean < 0.05)
    assert np.all(sw_e.curves["rate_E"].mean > 20.0)
    assert synchrony_verdict(sw_e, "chi_E")[0] == "no clear effect"
