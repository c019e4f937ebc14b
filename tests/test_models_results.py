import numpy as np
import pytest

from hetfit.models.results import SpikeResult


def _result(times, neurons, rates, meta=None):
    return SpikeResult(np.asarray(times, float), np.asarray(neurons, np.int64), ("E", "I"),
                       (3, 1), np.array([0.5, 1.5, 2.5, 3.5]), np.asarray(rates, float),
                       t_max_ms=4.0, dt_ms=0.1, meta=meta or {})


def test_mean_rate_counts_spikes_per_population():
    r = _result([0.5, 1.0, 2.0, 3.0], [0, 1, 3, 3], np.zeros((2, 4)))
    # E: 2 spikes / 3 neurons / 4 ms; I: 2 spikes / 1 neuron / 4 ms
    assert r.mean_rate_hz("E") == pytest.approx(2 / 3 / 4e-3)
    assert r.mean_rate_hz("I") == pytest.approx(2 / 1 / 4e-3)
    assert r.mean_rate_hz() == pytest.approx(4 / 4 / 4e-3)
    assert r.mean_rate_hz("I", t_start_ms=2.5) == pytest.approx(1 / 1.5e-3)
    t, n = r.spikes_of("I")
    assert t.tolist() == [2.0, 3.0] and n.tolist() == [0, 0]


def test_mean_rate_falls_back_to_rates_without_spikes():
    rates = np.array([[10.0, 20.0, 30.0, 40.0], [100.0, 100.0, 100.0, 100.0]])
    r = _result([], [], rates, meta={"spikes_recorded": False})
    assert r.mean_rate_hz("E") == pytest.approx(25.0)
    assert r.mean_rate_hz("E", t_start_ms=2.0) == pytest.approx(35.0)
    assert r.mean_rate_hz() == pytest.approx((3 * 25.0 + 100.0) / 4)
    with pytest.raises(KeyError):
        r.population_slice("X")
