"""Known answers: LIF neurons -> NWB (pynwb) and ABF1 (pyabf writer) files -> read back ->
features.  Expected values come from the generating model's closed forms (R_in, tau_m, rest,
threshold, spike waveform) and, for the rheobase, from the analytic rheobase of a step of the
protocol's duration rounded up to the protocol's current grid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.data_adapters.traces import (
    LIFNeuron,
    StepProtocol,
    extract_cell_features,
    read_sweeps,
    simulate_steps,
    write_abf1,
    write_nwb,
)

STIM = (100.0, 600.0)  # ms
CELLS = {
    # name: (neuron, first step pA, step pA, n sweeps)
    "pyramidal": (LIFNeuron(150.0, 20.0, -70.0, -49.5), -100.0, 10.0, 41),
    "high_rin": (LIFNeuron(420.0, 38.0, -64.0, -42.6, v_reset_mV=-55.0, v_peak_mV=25.0),
                 -40.0, 4.0, 41),
    "fast": (LIFNeuron(90.0, 12.0, -75.0, -52.0, v_reset_mV=-62.0, v_peak_mV=35.0,
                       ap_rise_ms=0.3, ap_fall_ms=0.9), -200.0, 20.0, 36),
}


def pynwb_usable() -> bool:
    try:
        import datetime

        import pynwb

        pynwb.NWBFile(session_description="x", identifier="x",
                      session_start_time=datetime.datetime.now(datetime.timezone.utc))
        return True
    except Exception:  # missing, or pynwb/hdmf versions that cannot build a file
        return False


needs_pynwb = pytest.mark.skipif(not pynwb_usable(),
                                 reason="pynwb is missing or cannot build NWB files here")


def expected_rheobase(neuron: LIFNeuron, amps: np.ndarray) -> tuple[float, float]:
    """(continuous analytic rheobase for the step duration, first grid step at or above it)."""
    exact = neuron.rheobase_pA(STIM[1] - STIM[0])
    grid = float(amps[amps >= exact][0])
    # the protocol must not put a step within 0.2 % of the exact value (sampling decides there)
    assert abs(grid - exact) > 2e-3 * exact
    return exact, grid


@pytest.fixture(scope="module", params=sorted(CELLS))
def generated(request, tmp_path_factory):
    name = request.param
    neuron, first, step, n = CELLS[name]
    amps = first + step * np.arange(n)
    sweeps = simulate_steps(neuron, amps, stim_start_ms=STIM[0], stim_end_ms=STIM[1],
                            sweep_ms=700.0, dt_ms=0.1, noise_mV=0.1, seed=7, cell_id=name)
    folder = tmp_path_factory.mktemp(name)
    return name, neuron, amps, sweeps, {"abf": write_abf1(sweeps, folder / f"{name}.abf")}


@pytest.fixture(scope="module")
def nwb_cell(tmp_path_factory):
    """One cell through NWB (pynwb is slow to write and read: one protocol, 21 sweeps)."""
    neuron = CELLS["pyramidal"][0]
    amps = -100.0 + 20.0 * np.arange(21)
    sweeps = simulate_steps(neuron, amps, stim_start_ms=STIM[0], stim_end_ms=STIM[1],
                            sweep_ms=700.0, dt_ms=0.1, noise_mV=0.1, seed=11, cell_id="nwb")
    return neuron, amps, sweeps, write_nwb(sweeps, tmp_path_factory.mktemp("nwb") / "c.nwb")


def check_recovery(cell, neuron: LIFNeuron, amps: np.ndarray) -> None:
    f = cell.features
    exact, grid = expected_rheobase(neuron, amps)
    # acceptance: rheobase, tau and R_in within 5 % of the generating model
    assert f["rheobase_pA"].value == grid
    assert abs(f["rheobase_pA"].value - exact) <= 0.05 * exact
    assert f["tau_m_ms"].value == pytest.approx(neuron.tau_m_ms, rel=0.05)
    assert f["r_input_MOhm"].value == pytest.approx(neuron.r_input_MOhm, rel=0.05)
    # tighter than the acceptance: the model is exact up to noise and quantization
    assert f["tau_m_ms"].value == pytest.approx(neuron.tau_m_ms, rel=0.01)
    assert f["r_input_MOhm"].value == pytest.approx(neuron.r_input_MOhm, rel=0.01)
    assert f["capacitance_pF"].value == pytest.approx(neuron.capacitance_pF, rel=0.02)
    assert f["v_rest_mV"].value == pytest.approx(neuron.v_rest_mV, abs=0.1)
    assert f["v_threshold_mV"].value == pytest.approx(neuron.v_threshold_mV, abs=0.5)
    assert f["distance_to_threshold_mV"].value == pytest.approx(
        neuron.v_threshold_mV - neuron.v_rest_mV, abs=0.5)
    assert f["ap_amplitude_mV"].value == pytest.approx(neuron.ap_amplitude_mV, abs=0.6)
    assert f["ap_width_ms"].value == pytest.approx(neuron.ap_half_width_ms, abs=0.1 + 1e-9)
    assert f["latency_ms"].value == pytest.approx(neuron.latency_ms(grid), abs=0.25)
    upstroke = (neuron.v_peak_mV - neuron.v_threshold_mV) / neuron.ap_rise_ms
    downstroke = (neuron.v_peak_mV - neuron.v_reset_mV) / neuron.ap_fall_ms
    assert f["upstroke_downstroke_ratio"].value == pytest.approx(upstroke / downstroke,
                                                                 rel=0.03)
    assert abs(f["sag"].value) < 0.02  # a passive membrane has no sag
    assert abs(f["adaptation"].value) < 0.01  # LIF ISIs are all equal
    isi_amp = amps[cell.sweeps[f["mean_isi_ms"].sweeps[0]]["sweep_number"]]
    assert f["mean_isi_ms"].value == pytest.approx(neuron.isi_ms(isi_amp), abs=0.15)
    # f-I slope: regression of the closed-form rates over the same steps
    used = np.array([amps[s] for s in f["fi_slope_Hz_per_pA"].sweeps])
    dur_s = (STIM[1] - STIM[0]) / 1e3
    rates = [neuron.spike_count(a, STIM[1] - STIM[0]) / dur_s for a in used]
    assert f["fi_slope_Hz_per_pA"].value == pytest.approx(np.polyfit(used, rates, 1)[0],
                                                          rel=0.05)
    assert all(x.flag == "ok" for x in f.values()), cell.reasons()


def test_features_from_simulated_sweeps():
    """In memory, no file format involved (the other cells go through ABF1 below)."""
    neuron, first, step, n = CELLS["pyramidal"]
    amps = first + step * np.arange(n)
    sweeps = simulate_steps(neuron, amps, stim_start_ms=STIM[0], stim_end_ms=STIM[1],
                            sweep_ms=700.0, dt_ms=0.1, noise_mV=0.1, seed=3)
    check_recovery(extract_cell_features(sweeps), neuron, amps)


def test_abf1_roundtrip_recovers_known_features(generated):
    name, neuron, amps, sweeps, files = generated
    back = read_sweeps(files["abf"])
    assert len(back) == len(sweeps)
    np.testing.assert_allclose(back.amplitudes_pA, amps)  # from the ABF1 epoch table
    assert back[0].stim_start_ms == pytest.approx(STIM[0])
    assert back[0].stim_end_ms == pytest.approx(STIM[1])
    # 16-bit storage: the voltage survives to within the ADC resolution
    assert np.max(np.abs(back[3].voltage_mV - sweeps[3].voltage_mV)) < 0.01
    check_recovery(extract_cell_features(files["abf"]), neuron, amps)


@needs_pynwb
def test_nwb_roundtrip_recovers_known_features(nwb_cell):
    neuron, amps, sweeps, path = nwb_cell
    back = read_sweeps(path)
    assert "intracellular recordings table" in back.notes[0]
    np.testing.assert_allclose(back.amplitudes_pA, amps)
    np.testing.assert_allclose(back[5].voltage_mV, sweeps[5].voltage_mV)
    check_recovery(extract_cell_features(back), neuron, amps)


@needs_pynwb
def test_nwb_series_layout_and_h5py_backend_agree(tmp_path):
    """The table-less layout (pairing by sweep_number) and the h5py reader give the same
    sweeps as the pynwb reader of the table layout."""
    from hetfit.data_adapters.traces import read_nwb

    neuron = LIFNeuron(200.0, 25.0, -68.0, -47.0)
    sweeps = simulate_steps(neuron, [-50.0, 0.0, 50.0, 120.0], sweep_ms=700.0, noise_mV=0.1,
                            seed=3)
    table = write_nwb(sweeps, tmp_path / "table.nwb", layout="table")
    series = write_nwb(sweeps, tmp_path / "series.nwb", layout="series")
    reads = [read_nwb(table, backend="pynwb"), read_nwb(table, backend="h5py"),
             read_nwb(series, backend="pynwb"), read_nwb(series, backend="h5py")]
    assert "acquisition/stimulus series" in reads[2].notes[0]
    for r in reads:
        assert [s.sweep_number for s in r] == [0, 1, 2, 3]
        np.testing.assert_allclose(r.amplitudes_pA, [-50.0, 0.0, 50.0, 120.0])
        for a, b in zip(r, sweeps):
            np.testing.assert_allclose(a.voltage_mV, b.voltage_mV)
            np.testing.assert_allclose(a.current_pA, b.current_pA, atol=1e-9)
            assert a.stim_start_ms == pytest.approx(b.stim_start_ms)


def test_abf_without_protocol_needs_a_step_protocol(tmp_path):
    neuron, first, step, n = CELLS["pyramidal"]
    amps = first + step * np.arange(n)
    sweeps = simulate_steps(neuron, amps, sweep_ms=700.0, noise_mV=0.1, seed=1)
    path = write_abf1(sweeps, tmp_path / "bare.abf", include_protocol=False)
    cell = extract_cell_features(path, protocol=StepProtocol(STIM[0], STIM[1], amps))
    assert cell["rheobase_pA"].value == expected_rheobase(neuron, amps)[1]
    assert cell["r_input_MOhm"].value == pytest.approx(neuron.r_input_MOhm, rel=0.01)
    assert not math.isnan(cell["tau_m_ms"].value)
