"""Sweep data model, step detection, unit normalization and the LIF generator's closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.data_adapters.traces.sweeps import (
    StepProtocol,
    Sweep,
    SweepSet,
    find_step_window,
    to_mV,
    to_pA,
)
from hetfit.data_adapters.traces.synthetic import LIFNeuron, simulate_steps
from hetfit.errors import ParameterError, SchemaError


def test_units_are_normalized_to_mV_and_pA():
    assert to_mV(np.array([-0.065]), "volts")[0] == pytest.approx(-65.0)
    assert to_mV(np.array([-65.0]), "mV")[0] == -65.0
    assert to_mV(np.array([-65000.0]), "uV")[0] == pytest.approx(-65.0)
    assert to_pA(np.array([0.2]), "nA")[0] == pytest.approx(200.0)
    assert to_pA(np.array([2e-10]), "amperes")[0] == pytest.approx(200.0)
    with pytest.raises(SchemaError, match="not a voltage unit"):
        to_mV(np.zeros(3), "pA")
    with pytest.raises(SchemaError, match="not a current unit"):
        to_pA(np.zeros(3), "mV")


def _protocol_commands(n_sweeps=6, n=3000, dt=0.1):
    """Commands laid out like a real FI protocol: fixed -100 pA test pulse, then a varying step."""
    cmds = []
    for k in range(n_sweeps):
        c = np.zeros(n)
        c[200:700] = -100.0          # fixed test pulse (same in every sweep)
        c[1200:2200] = -20.0 + 10.0 * k  # the varying main step
        cmds.append(c)
    return cmds


def test_step_window_is_the_varying_epoch_not_the_test_pulse():
    w = find_step_window(_protocol_commands(), dt_ms=0.1)
    assert (w.start_index, w.end_index) == (1200, 2200)
    np.testing.assert_allclose(w.amplitude_pA, -20.0 + 10.0 * np.arange(6))
    np.testing.assert_allclose(w.holding_pA, 0.0)


def test_step_window_for_identical_commands_and_missing_step():
    c = np.full(2000, 15.0)
    c[500:1500] = 65.0  # one sweep, holding 15 pA, step +50 pA
    w = find_step_window([c], dt_ms=0.1)
    assert (w.start_index, w.end_index) == (500, 1500)
    assert w.amplitude_pA[0] == pytest.approx(50.0) and w.holding_pA[0] == pytest.approx(15.0)
    assert find_step_window([np.zeros(2000), np.zeros(2000)], dt_ms=0.1) is None


def test_from_arrays_with_protocol_and_nan_sweep_dropped():
    t = np.arange(0, 300, 0.1)
    v = np.full((3, t.size), -70.0)
    v[1, 50] = np.nan
    s = SweepSet.from_arrays(t, v, protocol=StepProtocol(50.0, 250.0, [-10, 0, 10]))
    assert len(s) == 2 and s.dropped == ((1, "1 non-finite voltage samples"),)
    assert s.amplitudes_pA.tolist() == [-10.0, 10.0]
    assert s[1].stim_start_ms == pytest.approx(50.0) and s[1].stim_end_ms == pytest.approx(250.0)
    assert s[1].current_pA[s[1].index_of(100.0)] == 10.0


def test_from_arrays_without_stimulus_is_a_schema_error():
    t = np.arange(0, 100, 0.1)
    with pytest.raises(SchemaError, match="no stimulus"):
        SweepSet.from_arrays(t, [np.zeros(t.size)])
    with pytest.raises(SchemaError, match="no current step"):
        SweepSet.from_arrays(t, [np.zeros(t.size)], currents_pA=[np.zeros(t.size)])


def test_sweep_validation_messages():
    t = np.arange(0, 10, 0.1)
    with pytest.raises(SchemaError, match="equal length"):
        Sweep(t, np.zeros(5), np.zeros(t.size), 1.0, 5.0, 10.0)
    with pytest.raises(SchemaError, match="outside the sweep"):
        Sweep(t, np.zeros(t.size), np.zeros(t.size), 5.0, 50.0, 10.0)
    with pytest.raises(ParameterError):
        StepProtocol(10.0, 5.0, [1.0])


def test_lif_closed_forms_match_the_simulation():
    """The generator's analytic latency, ISI and spike counts hold in simulation (to one
    sample per spike), so they can serve as known answers for feature extraction."""
    cell = LIFNeuron(r_input_MOhm=200.0, tau_m_ms=25.0, v_rest_mV=-68.0, v_threshold_mV=-48.0)
    dt = 0.05
    amps = [90.0, 130.0, 200.0]
    s = simulate_steps(cell, amps, stim_start_ms=50.0, stim_end_ms=450.0, sweep_ms=500.0,
                       dt_ms=dt)
    assert cell.rheobase_pA() == pytest.approx(100.0)
    for sw, a in zip(s, amps):
        v, t = sw.voltage_mV, sw.time_ms
        crossings = t[1:][(v[1:] >= cell.v_peak_mV - 1e-9)]  # spike peaks
        if a < cell.rheobase_pA(400.0):
            assert crossings.size == 0
            # subthreshold steady state = rest + R I (closed form)
            assert np.median(v[sw.index_of(400):sw.index_of(450)]) == pytest.approx(
                cell.v_inf_mV(a), abs=1e-3)
            continue
        onsets = crossings - cell.ap_rise_ms
        assert onsets[0] - 50.0 == pytest.approx(cell.latency_ms(a), abs=dt + 1e-9)
        assert np.diff(onsets).mean() == pytest.approx(cell.isi_ms(a), abs=dt + 1e-9)
        assert abs(crossings.size - cell.spike_count(a, 400.0)) <= 1
    # the half-width formula of the linear spike waveform, checked by brute force
    sw = s[2]
    p = int(np.argmax(sw.voltage_mV))
    half = 0.5 * (cell.v_peak_mV + cell.v_threshold_mV)
    above = np.flatnonzero(sw.voltage_mV[p - 40:p + 60] >= half)
    assert (above.size * dt) == pytest.approx(cell.ap_half_width_ms, abs=2 * dt)
    assert math.isclose(cell.capacitance_pF, 25.0 / 200.0 * 1e3)
