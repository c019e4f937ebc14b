"""QIF network: single-neuron and uncoupled-population rates against closed forms, inputs,
determinism, divergence and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.models.heterogeneity import Heterogeneity, lorentzian_quantiles
from hetfit.models.qif import QIFParams, drive_array, qif_period_ms, simulate_qif


@pytest.mark.parametrize("eta", [1.0, 4.0, 25.0])
def test_single_neuron_period_matches_closed_form(eta):
    # tau dv/dt = v^2 + eta has period pi tau / sqrt(eta) (v_peak = -v_reset = inf).
    tau = 10.0
    p = QIFParams(tau_ms=tau, eta_bar=eta, delta_eta=0.0, J=0.0)
    res = simulate_qif(p, 1, 400.0, 0.005, v0=-100.0)
    isi = np.diff(res.spike_times_ms)
    assert isi.size >= 10
    expected = math.pi * tau / math.sqrt(eta)
    assert qif_period_ms(eta, tau) == pytest.approx(expected)
    assert np.mean(isi) == pytest.approx(expected, rel=2e-3)
    # the spike times are sub-step, so every interval is within one step of the period
    assert np.max(np.abs(isi - expected)) <= 0.0051


def test_resting_neuron_never_fires():
    p = QIFParams(eta_bar=-1.0, delta_eta=0.0, J=0.0)
    res = simulate_qif(p, 3, 200.0, 0.01, v0=0.5)  # below the threshold +1
    assert res.n_spikes == 0
    assert qif_period_ms(-1.0, 10.0) == math.inf


def test_uncoupled_population_rate_is_the_average_of_single_neuron_rates():
    # J = 0: neuron i fires at sqrt(eta_i) / (pi tau) when eta_i > 0; the population rate is
    # the average over the deterministic Lorentzian quantiles actually simulated.
    n, tau = 2000, 10.0
    p = QIFParams(tau_ms=tau, eta_bar=1.0, delta_eta=0.5, J=0.0)
    res = simulate_qif(p, n, 400.0, 0.005, record_spikes=False)
    eta = lorentzian_quantiles(1.0, 0.5, n)
    expected_hz = np.mean(np.sqrt(np.maximum(eta, 0.0))) / (math.pi * tau) * 1e3
    assert res.rates_hz.shape == (1, 400)
    assert res.n_spikes == 0  # record_spikes=False keeps only the binned rate
    assert res.rates_hz[0, 100:].mean() == pytest.approx(expected_hz, rel=0.01)
    assert not res.diverged


def test_time_varying_input_switches_the_neuron_on():
    # drive_array builds one value per step; the neuron fires only after the switch.
    t_max, dt = 200.0, 0.01
    I = drive_array(t_max, dt, [0.0, 100.0, 100.0 + 1e-9], [0.0, 0.0, 4.0])
    assert I.shape == (20000,)
    assert I[9999] == 0.0 and I[10001] == pytest.approx(4.0)
    p = QIFParams(eta_bar=-1.0, delta_eta=0.0, J=0.0)
    res = simulate_qif(p, 1, t_max, dt, I_ext=I, v0=-1.0)
    assert res.n_spikes > 0 and res.spike_times_ms.min() > 100.0
    # after the switch the period is that of eta_total = 3
    isi = np.diff(res.spike_times_ms)
    assert isi[-1] == pytest.approx(qif_period_ms(3.0, 10.0), rel=5e-3)


def test_same_seed_same_spikes_and_seeds_differ():
    p = QIFParams(eta_bar=0.5, delta_eta=0.5, J=2.0)
    het = Heterogeneity(0.5, 0.5, "lorentzian", low=-50.0, high=50.0, sampling="random")
    a = simulate_qif(p, 300, 100.0, 0.01, eta=het, seed=3)
    b = simulate_qif(p, 300, 100.0, 0.01, eta=het, seed=3)
    c = simulate_qif(p, 300, 100.0, 0.01, eta=het, seed=4)
    assert np.array_equal(a.spike_times_ms, b.spike_times_ms)
    assert np.array_equal(a.spike_neurons, b.spike_neurons)
    assert a.n_spikes != c.n_spikes or not np.array_equal(a.spike_times_ms, c.spike_times_ms)


def test_spike_records_are_consistent_with_rates():
    p = QIFParams(eta_bar=2.0, delta_eta=0.5, J=3.0, tau_s_ms=5.0)
    res = simulate_qif(p, 500, 100.0, 0.01, rate_bin_ms=2.0)
    assert np.all(np.diff(res.spike_times_ms) >= 0)
    assert res.spike_neurons.min() >= 0 and res.spike_neurons.max() < 500
    # spikes emitted before t_max are all counted in the binned rate
    total_from_rates = res.rates_hz.sum() * 2.0 / 1e3 * 500
    in_window = np.count_nonzero(res.spike_times_ms < 100.0)
    assert total_from_rates == pytest.approx(in_window, abs=2)


def test_unstable_step_is_flagged_as_diverged():
    # dt = 1 ms with tau = 1 ms makes the Euler step of strongly inhibited neurons unstable.
    p = QIFParams(tau_ms=1.0, eta_bar=-400.0, delta_eta=1.0, J=0.0)
    res = simulate_qif(p, 50, 50.0, 1.0, v0=-30.0)
    assert res.diverged
    assert np.isnan(res.rates_hz[0, -1])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"delta_eta": -1.0},
        {"tau_ms": 0.0},
        {"tau_s_ms": -1.0},
        {"eta_bar": float("nan")},
        {"J": float("inf")},
    ],
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ParameterError):
        QIFParams(**kwargs)


def test_bad_simulation_arguments_raise():
    p = QIFParams()
    with pytest.raises(ParameterError, match="dt_ms"):
        simulate_qif(p, 10, 10.0, 0.0)
    with pytest.raises(ParameterError, match="n_neurons"):
        simulate_qif(p, -5, 10.0, 0.01)
    with pytest.raises(ParameterError, match="one value per step"):
        simulate_qif(p, 10, 10.0, 0.01, I_ext=np.zeros(7))
    with pytest.raises(ParameterError, match="NaN"):
        simulate_qif(p, 10, 10.0, 0.01, I_ext=np.full(1000, np.nan))
    with pytest.raises(ParameterError, match="one value per neuron"):
        simulate_qif(p, 10, 10.0, 0.01, eta=np.zeros(3))
    with pytest.raises(ParameterError, match="v_peak"):
        simulate_qif(p, 10, 10.0, 0.01, v_peak=0.5)
    with pytest.raises(ParameterError):
        p.replace(nonsense=1.0)
    with pytest.raises(ParameterError):
        drive_array(10.0, 0.01, [0, 5], [1.0])
