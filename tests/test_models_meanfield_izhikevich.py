"""Izhikevich mean field (Gast, Solla & Kennedy): exact limits against quadrature and against
the MPR model, fixed points, bifurcations, the E/I heterogeneity effect, batches, converters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from hetfit.errors import ParameterError
from hetfit.models.meanfield import (
    IzhikevichMeanField,
    IzhikevichMFPopulation,
    MPRMeanField,
    gast2023_ei_meanfield,
    meanfield_from_network,
    mpr_fixed_point_rates,
    network_input_series,
)
from hetfit.models.qif import QIFParams


def _lorentzian_average_rate_hz(pop: IzhikevichMFPopulation, G: float, GE: float) -> float:
    """Average over Lorentzian thresholds of the exact rate of one non-adapting neuron.

    C dv/dt = k v^2 + B v + A with B = -k (v_r + theta) - G, A = k v_r theta + eta + GE fires
    at (k / (pi C)) sqrt(A/k - (B/2k)^2) when the root is real.
    """
    C, k, vr, vt, D, eta = pop.C, pop.k, pop.v_r, pop.v_theta, pop.delta_v, pop.eta

    def rate(th: float) -> float:
        B = -k * (vr + th) - G
        A = k * vr * th + eta + GE
        disc = A / k - (B / (2 * k)) ** 2
        return k / (math.pi * C) * math.sqrt(disc) * 1e3 if disc > 0 else 0.0

    def lorentz(th: float) -> float:
        return D / math.pi / ((th - vt) ** 2 + D**2)

    # firing thresholds theta form a bounded interval: find it on a grid, integrate exactly
    grid = np.linspace(vt - 400.0, vt + 400.0, 80001)
    on = np.array([rate(t) > 0 for t in grid])
    if not on.any():
        return 0.0
    lo, hi = grid[on][0] - 0.01, grid[on][-1] + 0.01
    return quad(lambda t: rate(t) * lorentz(t), lo, hi, limit=400, epsabs=1e-12, epsrel=1e-11)[0]


def test_exact_without_adaptation_uncoupled():
    pop = IzhikevichMFPopulation(delta_v=1.0, eta=60.0, b=0.0, kappa=0.0)
    mf = IzhikevichMeanField(pop, J=0.0, g=0.0)
    fps = mf.fixed_points()
    assert len(fps) == 1 and fps[0].stable
    assert fps[0].rates_hz[0] == pytest.approx(_lorentzian_average_rate_hz(pop, 0.0, 0.0), rel=1e-7)


def test_exact_without_adaptation_with_conductance_coupling():
    # Self-consistency r = <rate(theta; G(r))> with G = g J tau_s r, solved by quadrature.
    pop = IzhikevichMFPopulation(delta_v=2.0, eta=70.0, b=0.0, kappa=0.0, E_r=0.0, tau_s=6.0)
    g, J = 15.0, 1.0

    def residual(r_hz: float) -> float:
        G = g * J * pop.tau_s * r_hz * 1e-3
        return _lorentzian_average_rate_hz(pop, G, G * pop.E_r) - r_hz

    r_star = brentq(residual, 1.0, 200.0, xtol=1e-10)
    mf = IzhikevichMeanField(pop, J=J, g=g)
    fps = mf.fixed_points()
    assert len(fps) == 1
    assert fps[0].rates_hz[0] == pytest.approx(r_star, rel=1e-6)
    sim = mf.simulate(1500.0, 0.01)
    assert sim.mean_rate_hz(t_start_ms=1200.0) == pytest.approx(r_star, rel=1e-4)


def test_drive_spread_reduces_to_the_mpr_model():
    # Delta_v = 0, b = kappa = g = 0: C v' = k (v - c)^2 + eta - k d^2 with c = (v_r + v_theta)/2,
    # d = (v_theta - v_r)/2, i.e. the QIF model with tau = C/k, eta_bar = eta/k - d^2 and
    # Delta = Delta_eta / k.  Trajectories must coincide (v shifted by c).
    C, k, vr, vt, eta, d_eta = 100.0, 0.7, -60.0, -40.0, 85.0, 3.5
    izh = IzhikevichMeanField(
        IzhikevichMFPopulation(C=C, k=k, v_r=vr, v_theta=vt, delta_v=0.0, eta=eta, b=0.0,
                               kappa=0.0, delta_eta=d_eta),
        J=0.0, g=0.0,
    )
    c, d = 0.5 * (vr + vt), 0.5 * (vt - vr)
    qif = QIFParams(tau_ms=C / k, eta_bar=eta / k - d**2, delta_eta=d_eta / k, J=0.0)
    mpr = MPRMeanField(qif)
    ri = izh.simulate(300.0, 0.01, y0=np.array([0.002, c - 3.0, 0.0, 0.0]))
    rm = mpr.simulate(300.0, 0.01, y0=np.array([0.002, -3.0, 0.0]))
    assert np.allclose(ri.rates_hz[0], rm.rates_hz[0], rtol=1e-8, atol=1e-9)
    assert np.allclose(ri.variable("v_E") - c, rm.variable("v"), rtol=1e-8, atol=1e-8)
    expected = mpr_fixed_point_rates(qif.eta_bar, qif.delta_eta, 0.0, qif.tau_ms)
    assert [f.rates_hz[0] for f in izh.fixed_points()] == pytest.approx(expected.tolist(), rel=1e-8)


def test_fixed_point_search_agrees_with_long_integration():
    mf = IzhikevichMeanField(IzhikevichMFPopulation(delta_v=1.0, eta=100.0), J=1.0, g=15.0)
    fps = mf.fixed_points()
    assert len(fps) == 1 and fps[0].stable and fps[0].kind == "stable focus"
    sim = mf.simulate(2500.0, 0.01)
    assert not sim.diverged
    assert sim.states[-1] == pytest.approx(fps[0].state, rel=1e-5, abs=1e-7)
    # the state vector is r, v, u, x with u = b (v - v_r) + kappa tau_u r and x = tau_s r
    r, v, u, x = fps[0].state
    assert u == pytest.approx(-2.0 * (v + 60.0) + 100.0 / 0.03 * r, rel=1e-9)
    assert x == pytest.approx(6.0 * r, rel=1e-12)


def test_adaptation_hopf_and_burst_frequency_near_onset():
    # DESIGN.md single population: adaptation-driven collective bursting between two Hopf
    # points; close to the upper (supercritical) one the burst frequency is Im(lambda)/2pi.
    mf = IzhikevichMeanField(IzhikevichMFPopulation(delta_v=1.0, kappa=100.0), J=1.0, g=15.0)
    br = mf.continuation("eta", 0.0, 150.0)
    hopfs = sorted(br.hopfs, key=lambda b: b.param)
    assert len(hopfs) == 2
    assert 40.0 < hopfs[0].param < hopfs[1].param < 70.0
    top = hopfs[1]
    inside = mf.with_param("eta", top.param - 0.05)
    f = inside.dominant_frequency(6000.0, 0.02, t_start_ms=3000.0)
    assert f == pytest.approx(top.frequency_hz, rel=0.03)
    outside = mf.with_param("eta", top.param + 5.0)
    assert math.isnan(outside.dominant_frequency(4000.0, 0.02, t_start_ms=2000.0))


def _fold_width(delta_e: float, delta_i: float) -> float:
    br = gast2023_ei_meanfield(delta_e, delta_i).continuation(
        "I_ext", 0.0, 100.0, population="I"
    )
    folds = sorted(b.param for b in br.folds)
    assert len(folds) in (0, 2)
    return folds[1] - folds[0] if folds else 0.0


def test_ei_bistable_range_shrinks_with_excitatory_threshold_heterogeneity():
    # Gast, Solla & Kennedy E/I circuit, input to the inhibitory population scanned.
    widths = [_fold_width(de, 1.0) for de in (0.25, 0.5, 1.0, 1.5, 2.0, 2.5)]
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert widths[0] > 20.0 and widths[-1] == 0.0  # the cusp lies between 2.0 and 2.5 mV
    # with equal widths in both populations the range also shrinks and vanishes
    both = [_fold_width(d, d) for d in (0.5, 1.0, 1.5, 2.0, 2.5)]
    assert all(a > b for a, b in zip(both, both[1:])) and both[-1] == 0.0
    # the fold-based width agrees with the fixed-point-count scan
    scan = gast2023_ei_meanfield(1.0, 1.0).scan_bistability(
        "I_ext", np.linspace(0.0, 60.0, 31), population="I"
    )
    assert scan[1] - scan[0] == pytest.approx(widths[2], abs=1e-3)
    assert gast2023_ei_meanfield(2.5, 1.0).scan_bistability(
        "I_ext", np.linspace(0.0, 60.0, 31), population="I"
    ) is None


def test_ei_inhibitory_heterogeneity_widens_hysteresis_and_removes_oscillations():
    # The other half of Gast et al.'s message: the heterogeneity of the *inhibitory*
    # population controls hysteresis (range grows with Delta_i) and resonance (Hopf points
    # only for small Delta_i).
    widths = [_fold_width(1.0, di) for di in (0.3, 1.0, 2.0)]
    assert widths[0] < widths[1] < widths[2]
    n_hopf = [len(gast2023_ei_meanfield(1.0, di).continuation(
        "I_ext", 0.0, 100.0, population="I").hopfs) for di in (0.1, 2.0)]
    assert n_hopf[0] >= 1 and n_hopf[1] == 0


def test_ei_hysteresis_sweep_matches_fold_range():
    mf = gast2023_ei_meanfield(1.0, 1.0)
    br = mf.continuation("I_ext", 0.0, 60.0, population="I")
    lo, hi = sorted(b.param for b in br.folds)
    vals = np.arange(15.0, 45.01, 1.0)
    sweep = mf.hysteresis_sweep(
        "I_ext", vals, population="I", readout="E", t_settle_ms=300.0, t_measure_ms=50.0,
        dt_ms=0.02,
    )
    got = sweep.hysteresis_range()
    assert got is not None
    assert lo - 1.0 <= got[0] <= lo + 1.0 and hi - 1.0 <= got[1] <= hi + 1.0


def test_silent_population_is_a_stable_boundary_state():
    # Below rest the threshold spread would push r negative; the rate is held at 0.
    mf = IzhikevichMeanField(IzhikevichMFPopulation(delta_v=1.0, eta=-20.0), J=1.0, g=15.0)
    fps = mf.fixed_points()
    assert len(fps) == 1 and fps[0].stable and fps[0].rates_hz[0] == 0.0
    v_rest = fps[0].state[1]
    # k (v - v_r)(v - v_theta) + eta - b (v - v_r) = 0 at the lower root
    assert 0.7 * (v_rest + 60) * (v_rest + 40) - 20.0 + 2.0 * (v_rest + 60) == pytest.approx(0.0, abs=1e-9)
    sim = mf.simulate(500.0, 0.01)
    assert not sim.diverged and np.all(sim.rates_hz >= 0.0)
    assert sim.rates_hz[0, -1] == 0.0
    assert sim.variable("v_E")[-1] == pytest.approx(v_rest, abs=1e-4)


def test_batch_equals_single_runs_and_input_equals_drive():
    mf = gast2023_ei_meanfield(1.0, 1.0)
    etas = np.array([10.0, 30.0, 60.0])
    batch = mf.simulate_batch("eta", etas, 200.0, 0.02, population="I")
    assert batch.rates_hz.shape == (3, 2, 2000)
    for i, e in enumerate(etas):
        one = mf.with_param("eta", e, population="I").simulate(200.0, 0.02)
        assert np.allclose(batch.rates_hz[i], one.rates_hz, rtol=1e-12, atol=0)
    via_input = mf.with_param("eta", 0.0, population="I").simulate_batch(
        "I_ext", etas, 200.0, 0.02, population="I"
    )
    assert np.allclose(via_input.rates_hz, batch.rates_hz, rtol=1e-12)
    # several parameters per set, each with its population
    vals = np.array([[0.5, 2.0, 20.0], [2.0, 0.5, 35.0]])
    multi = mf.simulate_batch(["delta_v", "delta_v", "I_ext"], vals, 200.0, 0.02,
                              population=["E", "I", "I"])
    assert multi.param_names == ("delta_v[E]", "delta_v[I]", "I_ext[I]")
    for i, (de, di, I) in enumerate(vals):
        one = mf.with_param("delta_v", de, "E").with_param("delta_v", di, "I").simulate(
            200.0, 0.02, I_ext=[0.0, I])
        assert np.allclose(multi.rates_hz[i], one.rates_hz, rtol=1e-12, atol=0)


def test_converter_from_the_network_preset_matches_the_meanfield_preset():
    from hetfit.models.inputs import StepCurrent
    from hetfit.models.presets import gast2023_ei

    ramp = StepCurrent.ramp(100.0, 300.0, 10.0, 50.0, step_ms=10.0)
    net = gast2023_ei(n_e=10, n_i=10, delta_v_e=0.7, delta_v_i=1.3, I_e=50.0, I_i=ramp)
    mf = meanfield_from_network(net)
    ref = gast2023_ei_meanfield(0.7, 1.3, eta_e=0.0, eta_i=0.0)
    assert np.allclose(mf._pvec(), ref._pvec())
    inp = network_input_series(net, 400.0, 0.1)
    assert inp.shape == (4000, 2)
    assert np.all(inp[:, 0] == 50.0)
    assert inp[500, 1] == pytest.approx(ramp.value_at(50.0)) and inp[-1, 1] == 50.0
    assert inp[2000, 1] == pytest.approx(float(ramp.value_at(200.0)))


def test_bad_input_raises_parameter_error():
    with pytest.raises(ParameterError, match="delta_v"):
        IzhikevichMFPopulation(delta_v=-1.0)
    with pytest.raises(ParameterError, match="tau_s"):
        IzhikevichMFPopulation(tau_s=0.0)
    with pytest.raises(ParameterError, match="finite"):
        IzhikevichMFPopulation(eta=float("nan"))
    pops = [IzhikevichMFPopulation("E"), IzhikevichMFPopulation("I")]
    with pytest.raises(ParameterError, match="shape"):
        IzhikevichMeanField(pops, J=np.ones((3, 3)), g=np.ones((2, 2)))
    with pytest.raises(ParameterError, match="distinct"):
        IzhikevichMeanField([IzhikevichMFPopulation("E"), IzhikevichMFPopulation("E")])
    mf = IzhikevichMeanField(pops, J=np.ones((2, 2)), g=np.ones((2, 2)))
    with pytest.raises(ParameterError, match="population"):
        mf.continuation("eta", 0.0, 10.0)  # which population?
    with pytest.raises(ParameterError, match="dt_ms"):
        mf.simulate(10.0, -0.1)
    with pytest.raises(ParameterError):
        mf.simulate_batch("delta_v", [-1.0], 10.0, 0.1, population="E")
    with pytest.raises(ParameterError, match="g must be"):
        IzhikevichMeanField(pops, J=np.ones((2, 2)), g=-np.ones((2, 2)))
