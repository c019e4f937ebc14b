"""Montbrió-Pazó-Roxin mean field: closed-form fixed points and saddle-nodes against the
numerical integration, continuation, bistability scans and the Jacobian."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import ParameterError, SimulationError
from hetfit.models.meanfield import MPRMeanField, mpr_fixed_point_rates, mpr_saddle_nodes
from hetfit.models.qif import QIFParams

BISTABLE = QIFParams(tau_ms=10.0, eta_bar=-5.0, delta_eta=1.0, J=15.0)


def _closed_form_folds(delta: float, J: float) -> tuple[float, float]:
    # eta(R) = pi^2 R^2 - J R - Delta^2/(4 pi^2 R^2); folds where d eta / dR = 0, found here
    # by brute-force minimisation/maximisation of eta(R) on a fine grid (independent of the
    # quartic used in the library).
    R = np.geomspace(1e-3, 5.0, 400001)
    eta = math.pi**2 * R**2 - J * R - delta**2 / (4 * math.pi**2 * R**2)
    d = np.diff(eta)
    turns = np.nonzero(np.sign(d[:-1]) != np.sign(d[1:]))[0] + 1
    vals = sorted(float(eta[i]) for i in turns)
    assert len(vals) == 2
    return vals[0], vals[1]


def test_saddle_nodes_match_the_turning_points_of_the_fixed_point_curve():
    lo, hi = _closed_form_folds(1.0, 15.0)
    sn = mpr_saddle_nodes(1.0, 15.0)
    assert [e for e, _ in sn] == pytest.approx([lo, hi], abs=1e-6)
    # tau drops out of the fold positions in eta; rates scale with 1/tau
    mf = MPRMeanField(BISTABLE)
    assert [e for e, _ in mf.saddle_nodes()] == pytest.approx([lo, hi], abs=1e-6)
    assert mf.saddle_nodes()[0][1] == pytest.approx(sn[0][1] / 10.0 * 1e3)


def test_continuation_and_scan_find_the_analytic_bistable_range():
    lo, hi = (e for e, _ in mpr_saddle_nodes(1.0, 15.0))
    mf = MPRMeanField(BISTABLE)
    br = mf.continuation("eta_bar", -8.0, -2.0)
    folds = sorted(b.param for b in br.folds)
    assert folds == pytest.approx([lo, hi], abs=2e-3 * (hi - lo))
    assert not br.hopfs  # instantaneous synapses: fixed points only
    # the S-shaped branch: low and high segments stable, the middle one a saddle
    assert br.multistable_intervals()[0] == pytest.approx((lo, hi), abs=2e-3 * (hi - lo))
    scan = mf.scan_bistability("eta_bar", np.linspace(-8.0, -2.0, 31))
    assert scan == pytest.approx((lo, hi), abs=1e-4)
    # same folds with exponential synapses (s = r at a fixed point)
    br_s = MPRMeanField(BISTABLE.replace(tau_s_ms=5.0)).continuation("eta_bar", -8.0, -2.0)
    assert sorted(b.param for b in br_s.folds) == pytest.approx([lo, hi], abs=2e-3 * (hi - lo))


def test_no_bistability_below_the_critical_coupling():
    # Double root of 2 pi^2 R^4 - J R^3 + Delta^2/(2 pi^2): J_c = pi (1024/27)^(1/4) sqrt(Delta)
    delta = 0.7
    J_c = math.pi * (1024 / 27) ** 0.25 * math.sqrt(delta)
    assert len(mpr_saddle_nodes(delta, 1.02 * J_c)) == 2
    assert mpr_saddle_nodes(delta, 0.98 * J_c) == []
    mf = MPRMeanField(QIFParams(delta_eta=delta, J=0.98 * J_c))
    assert mf.scan_bistability("eta_bar", np.linspace(-10.0, 2.0, 61)) is None
    assert all(len(mpr_fixed_point_rates(e, delta, 0.98 * J_c, 10.0)) == 1
               for e in np.linspace(-10.0, 2.0, 61))


def test_integration_converges_to_the_closed_form_fixed_points():
    mf = MPRMeanField(BISTABLE)
    fps = mf.fixed_points()
    assert [f.kind for f in fps] == ["stable node", "saddle", "stable focus"]
    expected = mpr_fixed_point_rates(-5.0, 1.0, 15.0, 10.0)
    assert [f.rates_hz[0] for f in fps] == pytest.approx(expected.tolist(), rel=1e-9)
    low = mf.simulate(400.0, 0.01)
    assert low.mean_rate_hz(t_start_ms=300.0) == pytest.approx(expected[0], rel=1e-4)
    high = mf.simulate(800.0, 0.01, y0=fps[2].state * np.array([1.2, 0.8, 1.2]))
    assert high.mean_rate_hz(t_start_ms=700.0) == pytest.approx(expected[2], rel=1e-3)
    # v at the fixed point: -Delta / (2 pi tau r)
    assert fps[0].state[1] == pytest.approx(-1.0 / (2 * math.pi * 10.0 * fps[0].state[0]))


def test_jacobian_matches_the_analytic_derivatives():
    mf = MPRMeanField(BISTABLE)
    tau, J = 10.0, 15.0
    for fp in mf.fixed_points():
        r, v = fp.state[0], fp.state[1]
        analytic = np.array(
            [[2 * v / tau, 2 * r / tau],
             [(J * tau - 2 * math.pi**2 * tau**2 * r) / tau, 2 * v / tau]]
        )
        assert mf.jacobian(fp.state) == pytest.approx(analytic, rel=1e-5, abs=1e-9)
        ev = np.sort_complex(np.linalg.eigvals(analytic))
        assert np.sort_complex(fp.eigenvalues) == pytest.approx(ev, rel=1e-5, abs=1e-9)


def test_hopf_frequency_predicts_the_limit_cycle_near_onset():
    # Inhibition with synaptic kinetics oscillates for small Delta (Devalle et al. 2017);
    # close to the Hopf point the cycle's frequency is Im(lambda)/(2 pi).
    mf = MPRMeanField(QIFParams(tau_ms=10.0, eta_bar=10.0, delta_eta=0.3, J=-20.0, tau_s_ms=5.0))
    br = mf.continuation("delta_eta", 0.3, 3.0)
    assert len(br.hopfs) == 1
    hopf = br.hopfs[0]
    near = mf.with_param("delta_eta", hopf.param - 0.01)
    f = near.dominant_frequency(3000.0, 0.01, t_start_ms=2000.0)
    assert f == pytest.approx(hopf.frequency_hz, rel=0.02)
    # beyond the Hopf point the focus is stable: no oscillation
    assert math.isnan(mf.with_param("delta_eta", hopf.param + 0.2).dominant_frequency(
        3000.0, 0.01, t_start_ms=2000.0))


def test_hysteresis_sweep_by_simulation_matches_the_folds():
    lo, hi = (e for e, _ in mpr_saddle_nodes(1.0, 15.0))
    vals = np.arange(-7.0, -1.99, 0.25)
    sweep = MPRMeanField(BISTABLE).hysteresis_sweep(
        "eta_bar", vals, t_settle_ms=300.0, t_measure_ms=50.0, dt_ms=0.02
    )
    got = sweep.hysteresis_range()
    assert got is not None
    # the sweep brackets the folds to within one grid step
    assert lo - 0.25 <= got[0] <= lo + 0.25
    assert hi - 0.25 <= got[1] <= hi + 0.25
    up_low = sweep.up_mean_hz[vals < hi]
    assert np.all(up_low < 20.0)  # stays on the low branch until the upper fold


def test_batch_equals_individual_runs():
    mf = MPRMeanField(BISTABLE)
    etas = np.array([-7.0, -4.0, -1.0])
    batch = mf.simulate_batch("eta_bar", etas, 100.0, 0.01)
    assert batch.rates_hz.shape == (3, 1, 1000)
    assert not batch.diverged.any()
    for i, e in enumerate(etas):
        single = mf.with_param("eta_bar", e).simulate(100.0, 0.01)
        assert np.allclose(batch.rates_hz[i, 0], single.rates_hz[0], rtol=1e-12, atol=0)
    # a constant extra input is the same as a shift of eta_bar
    shifted = mf.with_param("eta_bar", -6.0).simulate_batch("I_ext", [2.0], 100.0, 0.01)
    assert np.allclose(shifted.rates_hz[0, 0], batch.rates_hz[1, 0], rtol=1e-12)


def test_bad_input_raises_parameter_error():
    mf = MPRMeanField(BISTABLE)
    with pytest.raises(ParameterError, match="dt_ms"):
        mf.simulate(10.0, 0.0)
    with pytest.raises(ParameterError, match="NaN"):
        mf.simulate(10.0, 0.01, I_ext=np.full(1000, np.nan))
    with pytest.raises(ParameterError, match="shape"):
        mf.simulate(10.0, 0.01, I_ext=np.zeros(17))
    with pytest.raises(ParameterError, match="y0"):
        mf.simulate(10.0, 0.01, y0=np.zeros(5))
    with pytest.raises(ParameterError, match="unknown MPR parameter"):
        mf.continuation("nonsense", 0.0, 1.0)
    with pytest.raises(ParameterError):
        mf.simulate_batch("delta_eta", [-1.0], 10.0, 0.01)  # negative width in a batch
    with pytest.raises(ParameterError):
        MPRMeanField(QIFParams(delta_eta=-0.1))
    with pytest.raises(ParameterError):
        mf.scan_bistability("eta_bar", [1.0])


def test_unstable_integration_is_flagged_not_returned_as_numbers():
    mf = MPRMeanField(QIFParams(eta_bar=10.0, delta_eta=1.0, J=15.0))
    res = mf.simulate(400.0, 5.0)  # dt far beyond RK4 stability at ~300 Hz
    assert res.diverged
    assert np.isnan(res.rates_hz[0, -1])
    assert res.meta["steps_done"] < 80
    batch = mf.simulate_batch("eta_bar", [10.0, -5.0], 400.0, 5.0)
    assert batch.diverged.tolist() == [True, False]
    with pytest.raises(SimulationError, match="diverged"):
        mf.dominant_frequency(400.0, 5.0, t_start_ms=100.0)


def test_time_varying_input_equals_chained_runs():
    # A step in I_ext is the same as stopping, changing the input and continuing.
    mf = MPRMeanField(BISTABLE.replace(tau_s_ms=5.0))
    dt = 0.01
    I = np.concatenate([np.zeros(10000), np.full(10000, 4.0)])
    whole = mf.simulate(200.0, dt, I_ext=I, record_dt_ms=dt)
    first = mf.simulate(100.0, dt, I_ext=0.0, record_dt_ms=dt)
    second = mf.simulate(100.0, dt, I_ext=4.0, y0=first.states[-1], record_dt_ms=dt)
    assert np.array_equal(whole.states[:10000], first.states)
    assert np.allclose(whole.states[10000:], second.states, rtol=1e-13, atol=0)
    # the kick moves the population to the high branch, where it stays after I returns to 0
    kicked = mf.simulate(600.0, dt, I_ext=np.concatenate([np.zeros(10000), np.full(10000, 4.0),
                                                          np.zeros(40000)]))
    assert kicked.mean_rate_hz(t_start_ms=500.0) == pytest.approx(
        mpr_fixed_point_rates(-5.0, 1.0, 15.0, 10.0)[-1], rel=1e-3)
