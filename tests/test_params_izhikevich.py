"""Izhikevich mapping: rheobase formula vs stability analysis, mapped neurons vs an
independent integrator (scipy solve_ivp), sag and adaptation round trips, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hetfit.errors import ParameterError
from hetfit.params import izhikevich as IZ


def _onset_by_stability(C, k, v_r, v_t, b, tau_u, currents):
    """Smallest current at which the resting state is lost: fixed points of the 2-D system
    and the eigenvalues of its Jacobian, scanned over ``currents`` (independent of the
    closed-form rheobase)."""
    for I in currents:
        # fixed points: -k (v - v_r)(v - v_t) + b (v - v_r) = I  (quadratic in v)
        coeffs = [-k, k * (v_r + v_t) + b, -k * v_r * v_t - b * v_r - I]
        roots = np.roots(coeffs)
        real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
        if real.size == 0:
            return I  # saddle-node: no fixed point left
        v = real[0]  # the rest is the lower fixed point
        jac = np.array([[k * (2 * v - v_r - v_t) / C, -1.0 / C], [b / tau_u, -1.0 / tau_u]])
        if np.max(np.linalg.eigvals(jac).real) > 0:
            return I  # Andronov-Hopf: the rest became unstable
    return np.inf


@pytest.mark.parametrize("b", [0.0, -2.0, 1.0, 6.0])
def test_rheobase_formula_matches_loss_of_the_resting_state(b):
    C, k, v_r, v_t, tau_u = 100.0, 0.7, -60.0, -40.0, 33.3
    closed = float(IZ.quadratic_rheobase(k, v_r, v_t, b, C, tau_u))
    currents = np.arange(closed - 3.0, closed + 3.0, 0.01)
    onset = _onset_by_stability(C, k, v_r, v_t, b, tau_u, currents)
    assert onset == pytest.approx(closed, abs=0.02)
    regime = str(IZ.bifurcation_regime(b, C, tau_u))
    assert regime == ("hopf" if b >= C / tau_u else "saddle-node")
    if b == 0.0:
        assert closed == pytest.approx(k * (v_t - v_r) ** 2 / 4)


@pytest.mark.parametrize("b, sag", [(0.0, None), (-2.0, None), (1.0, None), (6.0, None),
                                    (None, 0.1), (None, 0.3)])
def test_k_from_rheobase_inverts_the_rheobase(b, sag):
    C, tau_u = np.array([150.0, 80.0]), 50.0
    v_r, v_t, I = np.array([-70.0, -65.0]), np.array([-40.0, -45.0]), np.array([300.0, 200.0])
    k, b_out, regime = IZ.k_from_rheobase(I, v_r, v_t, C, tau_u, b_nS=b or 0.0, sag=sag)
    assert np.all(np.isfinite(k)) and np.all(k > 0)
    if sag is not None:
        np.testing.assert_allclose(b_out, k * (v_t - v_r) * sag / (1 - sag))
    np.testing.assert_allclose(IZ.quadratic_rheobase(k, v_r, v_t, b_out, C, tau_u), I,
                               rtol=1e-10)


def _fires(p, i, current, t_max):
    C, k, vr, vt, b, tu = (float(p[n][i]) for n in ("C", "k", "v_r", "v_theta", "b", "tau_u"))

    def rhs(t, y):
        v, u = y
        return [(k * (v - vr) * (v - vt) - u + current) / C, (b * (v - vr) - u) / tu]

    def spike(t, y):
        return y[0] - 0.0
    spike.terminal, spike.direction = True, 1
    sol = solve_ivp(rhs, (0.0, t_max), [vr, 0.0], events=spike, max_step=5.0, rtol=1e-8,
                    atol=1e-8)
    return sol.t_events[0].size > 0


FEATURES = dict(v_rest_mV=[-70.0, -65.0, -72.0], v_threshold_mV=[-40.0, -45.0, -38.0],
                rheobase_pA=[150.0, 80.0, 200.0], tau_m_ms=[20.0, 15.0, 25.0],
                r_input_MOhm=[150.0, 200.0, 120.0], sag=[0.0, 0.1, 0.25])


def test_mapped_neurons_fire_at_the_measured_rheobase_in_an_independent_simulation():
    """Acceptance: the quadratic model built from the mapping has the measured rheobase
    (1-s steps, as in Allen's long squares), checked with scipy's solve_ivp."""
    cells = IZ.map_izhikevich(FEATURES, use_adaptation=False, tau_u_ms=33.3)
    assert cells.valid.all()
    p = cells.params
    # b = 0: closed form k = 4 I / dv^2
    assert p["b"][0] == 0.0 and p["k"][0] == pytest.approx(4 * 150.0 / 30.0**2)
    for i, rheo in enumerate(FEATURES["rheobase_pA"]):
        assert not _fires(p, i, 0.99 * rheo, 1000.0), i
        assert _fires(p, i, 1.01 * rheo, 1000.0), i
    # sag -> b in the small-signal, slow-u limit
    dv = np.subtract(FEATURES["v_threshold_mV"], FEATURES["v_rest_mV"])
    sag = np.array(FEATURES["sag"])
    np.testing.assert_allclose(p["b"], p["k"] * dv * sag / (1 - sag), rtol=1e-9)
    np.testing.assert_allclose(p["C"], 1000 * np.array(FEATURES["tau_m_ms"])
                               / np.array(FEATURES["r_input_MOhm"]))
    # diagnostics: model input resistance from the slope of I_ss at rest
    np.testing.assert_allclose(cells.diagnostics["r_input_model_MOhm"],
                               1000 / (p["k"] * dv + p["b"]))


def test_model_tau_capacitance_reproduces_tau():
    cells = IZ.map_izhikevich(FEATURES, use_adaptation=False, use_sag=False,
                              capacitance="model_tau")
    dv = np.subtract(FEATURES["v_threshold_mV"], FEATURES["v_rest_mV"])
    np.testing.assert_allclose(cells.params["C"] / (cells.params["k"] * dv),
                               FEATURES["tau_m_ms"], rtol=1e-9)


def test_sag_is_reproduced_when_recovery_is_slow():
    """Slow u (tau_u = 5 s): a small hyperpolarising step shows the mapped sag ratio."""
    feats = dict(v_rest_mV=[-70.0], v_threshold_mV=[-40.0], rheobase_pA=[150.0],
                 tau_m_ms=[20.0], r_input_MOhm=[150.0], sag=[0.2])
    cells = IZ.map_izhikevich(feats, use_adaptation=False, tau_u_ms=5000.0, rheobase="steady")
    p = {k: float(v[0]) for k, v in cells.params.items()}

    def rhs(t, y):
        v, u = y
        return [(p["k"] * (v - p["v_r"]) * (v - p["v_theta"]) - u - 5.0) / p["C"],
                (p["b"] * (v - p["v_r"]) - u) / p["tau_u"]]

    sol = solve_ivp(rhs, (0, 50000.0), [p["v_r"], 0.0], max_step=5.0, rtol=1e-9, atol=1e-9)
    v = sol.y[0]
    peak = p["v_r"] - v.min()
    steady = p["v_r"] - v[-1]
    assert 1 - steady / peak == pytest.approx(0.2, abs=0.01)


def test_kappa_calibration_reproduces_the_adaptation_index():
    feats = dict(v_rest_mV=[-70.0, -68.0], v_threshold_mV=[-40.0, -42.0],
                 rheobase_pA=[150.0, 120.0], tau_m_ms=[20.0, 18.0],
                 r_input_MOhm=[150.0, 160.0], adaptation=[0.02, 0.03])
    cells = IZ.map_izhikevich(feats, use_sag=False, tau_u_ms=200.0)
    assert list(cells.diagnostics["kappa_status"]) == ["ok", "ok"]
    p = cells.params
    for i, target in enumerate(feats["adaptation"]):
        C, k, vr, vt, b, tu, kap, vpk, vrs = (float(p[n][i]) for n in (
            "C", "k", "v_r", "v_theta", "b", "tau_u", "kappa", "v_peak", "v_reset"))
        current = feats["rheobase_pA"][i] + 40.0
        spikes, t0, y0 = [], 0.0, [vr, 0.0]

        def rhs(t, y, C=C, k=k, vr=vr, vt=vt, b=b, tu=tu, current=current):
            return [(k * (y[0] - vr) * (y[0] - vt) - y[1] + current) / C,
                    (b * (y[0] - vr) - y[1]) / tu]

        def peak(t, y, vpk=vpk):
            return y[0] - vpk
        peak.terminal, peak.direction = True, 1
        while t0 < 1000.0:  # independent event-driven integration with resets
            sol = solve_ivp(rhs, (t0, 1000.0), y0, events=peak, max_step=0.5, rtol=1e-8,
                            atol=1e-8)
            if sol.t_events[0].size == 0:
                break
            t0 = float(sol.t_events[0][0])
            spikes.append(t0)
            y0 = [vrs, float(sol.y_events[0][0][1]) + kap]
        assert IZ.adaptation_index(spikes) == pytest.approx(target, abs=0.012)


def test_invalid_cells_are_flagged_not_mapped():
    feats = dict(FEATURES)
    feats["v_threshold_mV"] = [-40.0, -70.0, -38.0]  # second below its rest
    feats["rheobase_pA"] = [150.0, 80.0, -5.0]
    cells = IZ.map_izhikevich(feats, use_adaptation=False)
    assert list(cells.valid) == [True, False, False]
    assert "threshold" in cells.reasons[1] and "rheobase" in cells.reasons[2]
    frame = cells.to_frame()
    assert list(frame.valid) == [True, False, False]


def test_bad_inputs():
    with pytest.raises(ParameterError, match="missing"):
        IZ.map_izhikevich({"v_rest_mV": [-70.0]})
    with pytest.raises(ParameterError, match="spike_shape"):
        IZ.map_izhikevich(FEATURES, spike_shape="round")
    with pytest.raises(ParameterError, match="tau_u_ms"):
        IZ.map_izhikevich(FEATURES, tau_u_ms=0.0)
    with pytest.raises(ParameterError, match="expected 3 values"):
        IZ.map_izhikevich(dict(FEATURES, tau_m_ms=[20.0, 15.0]))
    assert np.isnan(IZ.adaptation_index([10.0, 20.0]))
