"""Every real recording in ../shared/data yields features or an explicit reason per feature.

Seven ABF step protocols from different rigs (abf_current_clamp) and one NWB 2 file with the
icephys tables (nwb_icephys_hippocampus).  Besides the per-feature contract, a few values are
checked against a second, deliberately plain computation made here with pyabf/numpy only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetfit.data_adapters.schema import FEATURES
from hetfit.data_adapters.traces import (
    CELL_FEATURES,
    cell_table_from_recordings,
    extract_cell_features,
    read_nwb,
    read_sweeps,
)

ABF_FILES = ["171116sh_0018.abf", "171116sh_0019.abf", "17o05028_ic_steps.abf", "18711001.abf",
             "190619B_0003.abf", "2019_07_24_0055_fsi.abf", "2020_03_02_0000.abf"]
NWB_FILE = ("nwb_icephys_hippocampus", "99111002.nwb")
RECORDINGS = [("abf_current_clamp", f) for f in ABF_FILES] + [NWB_FILE]

# Loose physiological sanity ranges for values reported as ok (tighter than the schema's
# unit-catching ranges).
SANE = {
    "v_rest_mV": (-90, -40), "v_threshold_mV": (-60, -15), "distance_to_threshold_mV": (5, 50),
    "rheobase_pA": (5, 1000), "tau_m_ms": (3, 100), "r_input_MOhm": (30, 2000),
    "capacitance_pF": (10, 1000), "sag": (-0.1, 0.6), "fi_slope_Hz_per_pA": (0.005, 2),
    "ap_width_ms": (0.2, 3), "ap_amplitude_mV": (40, 140), "adaptation": (-0.2, 0.6),
    "mean_isi_ms": (5, 1000), "latency_ms": (1, 1000), "upstroke_downstroke_ratio": (0.5, 10),
}

_cache: dict[str, object] = {}


def features_of(shared_data, folder: str, name: str):
    if name not in _cache:
        _cache[name] = extract_cell_features(shared_data(folder, name))
    return _cache[name]


@pytest.mark.data
@pytest.mark.parametrize("folder,name", RECORDINGS, ids=[r[1] for r in RECORDINGS])
def test_every_feature_has_a_value_or_a_reason(shared_data, folder, name):
    cell = features_of(shared_data, folder, name)
    assert list(cell.features) == list(CELL_FEATURES)
    for key, feat in cell.features.items():
        if feat.flag == "missing":
            assert math.isnan(feat.value) and feat.reason, key
            continue
        assert feat.flag in ("ok", "warn") and math.isfinite(feat.value), key
        lo, hi = FEATURES[key].plausible
        assert lo <= feat.value <= hi, (key, feat.value)
        if feat.flag == "warn":
            assert feat.reason, key
        else:
            lo, hi = SANE[key]
            assert lo <= feat.value <= hi, (key, feat.value)
    measured = [k for k, f in cell.features.items() if f.flag != "missing"]
    assert len(measured) >= 4, cell.reasons()  # every real recording yields something


def _spiking_amplitudes(path):
    """Second implementation with pyabf only: the varying epoch of the epoch table, and
    upward 0 mV crossings of the voltage inside it."""
    import pyabf

    abf = pyabf.ABF(str(path))
    out = {}
    for k in abf.sweepList:
        abf.setSweep(k)
        ep = abf.sweepEpochs
        table = pyabf.waveform.EpochTable(abf, 0).epochWaveformsBySweep
        levels = np.array([[w.levels[i] for i in range(len(ep.levels))] for w in table])
        varying = int(np.flatnonzero(levels.std(axis=0) > 0)[0])
        p1, p2 = ep.p1s[varying], ep.p2s[varying]
        v = abf.sweepY[p1:p2]
        out[float(ep.levels[varying])] = int(np.sum((v[:-1] < 0) & (v[1:] >= 0)))
    return out


@pytest.mark.data
@pytest.mark.parametrize("name,expected", [("171116sh_0018.abf", 50.0), ("18711001.abf", 70.0)])
def test_rheobase_matches_a_plain_pyabf_count(shared_data, name, expected):
    path = shared_data("abf_current_clamp", name)
    counts = _spiking_amplitudes(path)
    plain = min(a for a, n in counts.items() if a > 0 and n > 0)
    assert plain == expected
    cell = features_of(shared_data, "abf_current_clamp", name)
    assert cell["rheobase_pA"].value == plain
    # spike counts per step agree with the plain count too
    for row in cell.sweeps:
        if row["sweep_number"] >= 0:
            assert row["n_spikes"] == counts[row["amplitude_pA"]], row


@pytest.mark.data
def test_model_cell_input_resistance_from_recorded_current(shared_data):
    """2020_03_02_0000 is a passive (model-cell-like) recording whose protocol disagrees with
    the current the amplifier recorded; R_in must follow the recorded current."""
    import pyabf

    path = shared_data("abf_current_clamp", "2020_03_02_0000.abf")
    abf = pyabf.ABF(str(path))
    dv, di = [], []
    for k in abf.sweepList:
        abf.setSweep(k, channel=0)
        v = abf.sweepY.copy()
        abf.setSweep(k, channel=1)
        i = abf.sweepY.copy()
        base = slice(0, 1000)
        late = slice(5000, 6000)  # last 100 ms of the 0.5 s step (10 kHz)
        if v[late].max() > 250:  # amplifier clips near +300 mV
            continue
        dv.append(np.median(v[late]) - np.median(v[base]))
        di.append(np.median(i[late]) - np.median(i[base]))
    slope = np.polyfit(di, dv, 1)[0] * 1e3  # mV/pA -> MOhm
    cell = features_of(shared_data, "abf_current_clamp", "2020_03_02_0000.abf")
    assert cell["r_input_MOhm"].value == pytest.approx(slope, rel=0.03)
    assert cell["rheobase_pA"].flag == "missing" and "no spikes" in cell["rheobase_pA"].reason
    assert cell["v_rest_mV"].flag == "missing" and "plausible range" in cell["v_rest_mV"].reason
    assert any("recorded current" in n for n in cell.notes)


@pytest.mark.data
def test_depolarised_real_recordings_are_flagged(shared_data):
    # 190619B: strong steps hold the membrane above eFEL's -20 mV crossing level
    cell = features_of(shared_data, "abf_current_clamp", "190619B_0003.abf")
    rows = [r for r in cell.sweeps if r["spike_source"] == "independent"]
    assert rows and all(r["n_spikes_efel"] != r["n_spikes_independent"] for r in rows)
    assert cell["fi_slope_Hz_per_pA"].flag == "warn"
    # the NWB file has an uncorrected offset (baseline near -15 mV)
    cell = features_of(shared_data, *NWB_FILE)
    assert cell["v_rest_mV"].flag == "missing" and "depolarised" in cell["v_rest_mV"].reason


@pytest.mark.data
def test_nwb_backends_agree_on_the_real_file(shared_data):
    path = shared_data(*NWB_FILE)
    a = read_nwb(path, backend="h5py")
    b = read_nwb(path)  # pynwb, or h5py when this pynwb cannot build the extension file
    assert len(a) == len(b) == 16
    np.testing.assert_allclose(a.amplitudes_pA, np.arange(-2000.0, 1001.0, 200.0))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.voltage_mV, y.voltage_mV)
        np.testing.assert_array_equal(x.current_pA, y.current_pA)
    assert a[0].stim_start_ms == pytest.approx(31.2) and a[0].stim_end_ms == pytest.approx(431.2)


@pytest.mark.data
def test_cell_table_from_real_recordings(shared_data):
    paths = [shared_data("abf_current_clamp", n) for n in ("18711001.abf", "2020_03_02_0000.abf")]
    table = cell_table_from_recordings(
        paths, labels={"18711001": {"cell_type": "pyramidal", "donor_id": "m1"}},
        constant_labels={"species": "mouse", "dataset": "pyABF examples"})
    df = table.data
    assert list(df["cell_id"]) == ["18711001", "2020_03_02_0000"]
    assert list(df["species"]) == ["mouse", "mouse"]
    assert df.loc[0, "cell_type"] == "pyramidal" and df.loc[0, "donor_id"] == "m1"
    assert df.loc[0, "rheobase_pA"] == 70.0 and df.loc[0, "qc_rheobase_pA"] == "ok"
    assert np.isnan(df.loc[1, "rheobase_pA"]) and df.loc[1, "qc_rheobase_pA"] == "missing"
    assert "no spikes" in df.loc[1, "qc_reason_rheobase_pA"]
    assert table.report.rows_read == 2 and table.report.rows_kept == 2
    assert set(read_sweeps(paths[0]).amplitudes_pA) == set(np.arange(0.0, 291.0, 10.0))


@pytest.mark.data
def test_abf_command_source_choice(shared_data):
    """The protocol of 2020_03_02_0000 says -200 to 550 pA in 50 pA steps; the current the
    amplifier recorded (channel 1) differs for positive steps.  'auto' follows the recording."""
    from hetfit.data_adapters.traces import read_abf

    path = shared_data("abf_current_clamp", "2020_03_02_0000.abf")
    protocol = read_abf(path, command="protocol")
    np.testing.assert_allclose(protocol.amplitudes_pA, np.arange(-200.0, 551.0, 50.0))
    auto = read_abf(path)
    assert auto.amplitudes_pA[0] == pytest.approx(-200.0, abs=2.0)  # agree when negative
    assert auto.amplitudes_pA[6] == pytest.approx(50.0, abs=2.0)  # protocol says 100 pA
    assert any("recorded current" in n for n in auto.notes)
