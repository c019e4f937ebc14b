"""Rich et al. (2022) E/I network: less excitability heterogeneity, easier synchrony."""

from __future__ import annotations

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.models.rich2022 import (
    EPILEPTOGENIC_SIGMA_MV,
    NON_EPILEPTOGENIC_SIGMA_MV,
    Rich2022Spec,
    coupling_matrix,
    expected_rate_hz,
    ramp_input,
    simulate_rich2022,
    step_input,
    step_response,
    synchrony_trace,
    window_stats,
)

UNCOUPLED = dict(w_e_from_e_mv=0.0, w_e_from_i_mv=0.0, w_i_from_e_mv=0.0, w_i_from_i_mv=0.0)


def test_published_parameters_in_dimensional_units():
    s = Rich2022Spec()
    assert (s.n_e, s.n_i) == (800, 200)
    assert s.w_e_from_e_mv == pytest.approx(100.0)
    assert s.w_e_from_i_mv == pytest.approx(-293.75)
    assert s.w_i_from_e_mv == pytest.approx(187.5)
    assert s.bias_e_mv == pytest.approx(-15.625) and s.bias_i_mv == pytest.approx(-31.25)
    assert s.gain_per_mv == pytest.approx(4.8)
    assert s.noise_var_mv2 == pytest.approx(3.90625)
    assert s.time_unit_ms == pytest.approx(10.0)
    w = coupling_matrix(s)
    # one E spike moves an E target by (T0/tau_E) w_EE / N_E and an I target by (T0/tau_I) w_IE / N_E
    assert w[0, 1] == pytest.approx(100.0 / 800)
    assert w[0, 900] == pytest.approx(2 * 187.5 / 800)
    assert w[900, 0] == pytest.approx(-293.75 / 200)
    assert np.all(np.diag(w) == 0)
    # the paper's ramp ends at 0.5 / 0.016 = 31.25 mV after 2.5 s
    r = ramp_input()
    assert r.shape == (2500,) and r[-1] == pytest.approx(31.25) and r[0] == pytest.approx(0.0125)


def test_uncoupled_rates_follow_the_sigmoid_expectation():
    spec = Rich2022Spec(**UNCOUPLED)
    res = simulate_rich2022(spec, 4100.0, 10.0, seed=1)
    h = res.meta["h_mv"]
    late = res.spike_times_ms > 100.0
    rates = np.bincount(res.spike_neurons[late], minlength=1000) / 4.0
    pred_e = expected_rate_hz(spec.bias_e_mv + 10.0, h[:800], spec, "E")
    pred_i = expected_rate_hz(spec.bias_i_mv, h[800:], spec, "I")
    assert rates[:800].mean() == pytest.approx(pred_e.mean(), rel=0.03)
    assert rates[800:].mean() == pytest.approx(pred_i.mean(), rel=0.08)
    # every cell its own rate: cells with low offsets h fire more, as predicted
    assert np.corrcoef(rates[:800], pred_e)[0, 1] > 0.99
    # h has the requested spread
    assert np.std(h[:800]) == pytest.approx(NON_EPILEPTOGENIC_SIGMA_MV, rel=0.1)
    assert np.std(h[800:]) == pytest.approx(16.75, rel=0.15)


def test_asynchronous_network_rates_match_sigmoid_expectation():
    # weak drive, high heterogeneity: asynchronous (low chi); the mean activity and its
    # fluctuations predict every population's rate through the sigmoid
    spec = Rich2022Spec()
    res = simulate_rich2022(spec, 3200.0, 10.0, seed=2)
    stats = window_stats(res, 200.0, 3200.0)
    assert stats["chi"] < 0.1
    mu = res.meta["mean_u_mv"][:, 200:]
    h = res.meta["h_mv"]
    pred_e = expected_rate_hz(mu[0].mean(), h[:800], spec, "E", mu[0].var()).mean()
    pred_i = expected_rate_hz(mu[1].mean(), h[800:], spec, "I", mu[1].var()).mean()
    assert stats["rate_hz"] == pytest.approx(pred_e, rel=0.12)
    assert window_stats(res, 200.0, 3200.0, "I")["rate_hz"] == pytest.approx(pred_i, rel=0.05)


def test_lower_heterogeneity_gives_larger_synchrony_response_to_the_same_step():
    low, high = [], []
    for seed in range(4):
        low.append(step_response(Rich2022Spec(sigma_e_mv=EPILEPTOGENIC_SIGMA_MV), seed=seed))
        high.append(step_response(Rich2022Spec(sigma_e_mv=NON_EPILEPTOGENIC_SIGMA_MV), seed=seed))
    d_low = np.array([r["delta_chi"] for r in low])
    d_high = np.array([r["delta_chi"] for r in high])
    # every seed, with a margin: the low-heterogeneity network gains far more synchrony
    assert d_low.min() > d_high.max() + 0.02
    assert d_low.mean() > 1.3 * d_high.mean()
    # the step raises firing in both (it is the same input), so it is not a rate artefact:
    # the rates after the step are alike while synchrony differs
    r_low = np.mean([r["rate_after_hz"] for r in low])
    r_high = np.mean([r["rate_after_hz"] for r in high])
    assert r_low == pytest.approx(r_high, rel=0.25)
    assert np.mean([r["chi_after"] for r in low]) > np.mean([r["chi_after"] for r in high]) + 0.03


def test_determinism_and_synchrony_trace():
    spec = Rich2022Spec(sigma_e_mv=EPILEPTOGENIC_SIGMA_MV)
    inp = step_input(600.0, 300.0, 30.0, baseline_mv=10.0)
    a = simulate_rich2022(spec, 600.0, inp, seed=5)
    b = simulate_rich2022(spec, 600.0, inp, seed=5)
    c = simulate_rich2022(spec, 600.0, inp, seed=6)
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    assert not np.array_equal(a.spike_neurons, c.spike_neurons)
    t, chi = synchrony_trace(a, window_ms=100.0, step_ms=50.0)
    assert t.shape == chi.shape == (11,)
    # synchrony rises after the step at 300 ms
    assert np.nanmean(chi[t > 400]) > np.nanmean(chi[t < 250]) + 0.1
    # including silent cells only scales chi by sqrt(active/N)
    w = window_stats(a, 400.0, 600.0)
    w_active = window_stats(a, 400.0, 600.0, include_silent=False)
    assert w["chi"] == pytest.approx(w_active["chi"] * np.sqrt(w["n_active"] / 800))
    # population rates are the spike counts per bin
    assert a.rates_hz[0].sum() * 1e-3 * 800 == pytest.approx(np.count_nonzero(a.spike_neurons < 800))


def test_divergence_is_flagged():
    res = simulate_rich2022(Rich2022Spec(n_e=20, n_i=5), 50.0, 1e308, seed=1)
    assert res.diverged and "non-finite" in res.meta["status"]
    assert step_response(Rich2022Spec(n_e=20, n_i=5), 1e308, baseline_mv=0.0, seed=1) == {
        "diverged": True}


@pytest.mark.parametrize(
    "call",
    [
        lambda: Rich2022Spec(sigma_e_mv=-1.0),
        lambda: Rich2022Spec(n_e=0),
        lambda: Rich2022Spec(tau_e_ms=0.0),
        lambda: Rich2022Spec(connection_prob=0.0),
        lambda: Rich2022Spec(gain_per_mv=float("nan")),
        lambda: simulate_rich2022(Rich2022Spec(), 100.0, np.zeros(50)),
        lambda: simulate_rich2022(Rich2022Spec(), 100.0, np.full(100, np.nan)),
        lambda: simulate_rich2022(Rich2022Spec(), -5.0),
        lambda: simulate_rich2022(Rich2022Spec(), 100.0, dt_ms=20.0),
        lambda: step_input(100.0, 200.0, 5.0),
        lambda: step_response(Rich2022Spec(), 10.0, t_step_ms=100.0, window_ms=200.0),
    ],
)
def test_bad_inputs_raise_parameter_error(call):
    with pytest.raises(ParameterError):
        call()
