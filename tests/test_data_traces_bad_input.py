"""Bad recordings give one clear HetfitError each (a test per case), never a deep traceback."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from hetfit.data_adapters.traces import (
    LIFNeuron,
    StepProtocol,
    cell_table_from_recordings,
    extract_cell_features,
    read_abf,
    read_nwb,
    read_sweeps,
    simulate_steps,
    write_abf1,
    write_nwb,
)
from hetfit.errors import HetfitError, InputFileError, ParameterError, SchemaError

AMPS = [-50.0, 0.0, 50.0, 100.0, 150.0, 200.0]
PROTOCOL = StepProtocol(100.0, 600.0, AMPS)


def pynwb_usable() -> bool:
    try:
        import pynwb

        pynwb.NWBFile(session_description="x", identifier="x",
                      session_start_time=datetime.datetime.now(datetime.timezone.utc))
        return True
    except Exception:  # missing, or pynwb/hdmf versions that cannot build a file
        return False


needs_pynwb = pytest.mark.skipif(not pynwb_usable(),
                                 reason="pynwb is missing or cannot build NWB files here")


@pytest.fixture(scope="module")
def sweeps():
    return simulate_steps(LIFNeuron(), AMPS, sweep_ms=700.0, noise_mV=0.1, seed=2)


@pytest.fixture(scope="module")
def good_abf(sweeps, tmp_path_factory):
    return write_abf1(sweeps, tmp_path_factory.mktemp("abf") / "good.abf")


@pytest.fixture(scope="module")
def good_nwb(sweeps, tmp_path_factory):
    if not pynwb_usable():
        pytest.skip("pynwb is missing or cannot build NWB files here")
    return write_nwb(sweeps, tmp_path_factory.mktemp("nwb") / "good.nwb")


def _nwbfile():
    import pynwb

    nwb = pynwb.NWBFile(session_description="test", identifier="test",
                        session_start_time=datetime.datetime(2020, 1, 1,
                                                             tzinfo=datetime.timezone.utc))
    device = nwb.create_device(name="amp")
    elec = nwb.create_icephys_electrode(name="e0", description="patch", device=device)
    return pynwb, nwb, elec


def _write(pynwb, nwb, path):
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


# ------------------------------------------------------------------------------------ ABF
def test_abf_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_abf(tmp_path / "nope.abf")


def test_abf_empty_file(tmp_path):
    (tmp_path / "empty.abf").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        read_abf(tmp_path / "empty.abf")


def test_abf_not_an_abf(tmp_path):
    (tmp_path / "notes.abf").write_text("time,voltage\n0,-70\n")
    with pytest.raises(InputFileError, match="not an ABF file"):
        read_abf(tmp_path / "notes.abf")


@pytest.mark.parametrize("keep", [0.6, 0.05])
def test_abf_truncated(good_abf, tmp_path, keep):
    data = good_abf.read_bytes()
    cut = tmp_path / "cut.abf"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputFileError, match="truncated|cannot read"):
        read_abf(cut)


def test_abf_channel_that_does_not_exist(good_abf):
    with pytest.raises(SchemaError, match="channel 2 does not exist"):
        read_abf(good_abf, channel=2)


def test_abf_channel_recording_current(shared_data):
    path = shared_data("abf_current_clamp", "2020_03_02_0000.abf")
    with pytest.raises(SchemaError, match="not a membrane potential"):
        read_abf(path, channel=1)


def test_abf_without_voltage_channel(sweeps, tmp_path):
    from pyabf.abfWriter import writeABF1

    data = np.vstack([s.voltage_mV for s in sweeps])  # stored as if it were pA
    writeABF1(data, str(tmp_path / "vc.abf"), 10000.0, units="pA")
    with pytest.raises(SchemaError, match="no channel records a membrane potential"):
        read_abf(tmp_path / "vc.abf")


def test_abf_without_stimulus(sweeps, tmp_path):
    path = write_abf1(sweeps, tmp_path / "bare.abf", include_protocol=False)
    with pytest.raises(SchemaError, match="no current step") as err:
        read_abf(path)
    assert "StepProtocol" in str(err.value)  # the hint says how to fix it
    assert len(read_abf(path, protocol=PROTOCOL)) == len(AMPS)


def test_abf_protocol_with_wrong_number_of_sweeps(good_abf):
    with pytest.raises(ParameterError, match="amplitudes"):
        read_abf(good_abf, protocol=StepProtocol(100.0, 600.0, AMPS[:3]))


# ------------------------------------------------------------------------------------ NWB
def test_nwb_empty_file(tmp_path):
    (tmp_path / "empty.nwb").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        read_nwb(tmp_path / "empty.nwb")


def test_nwb_not_hdf5(tmp_path):
    (tmp_path / "x.nwb").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(InputFileError, match="not an NWB/HDF5 file"):
        read_nwb(tmp_path / "x.nwb")


def test_hdf5_that_is_not_nwb(tmp_path):
    import h5py

    with h5py.File(tmp_path / "plain.nwb", "w") as f:
        f["v"] = np.zeros(10)
    with pytest.raises(InputFileError, match="not NWB"):
        read_nwb(tmp_path / "plain.nwb")


def test_nwb_truncated(good_nwb, tmp_path):
    data = good_nwb.read_bytes()
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="truncated|corrupt"):
        read_nwb(cut)


@needs_pynwb
def test_nwb_without_intracellular_data(tmp_path):
    pynwb, nwb, _ = _nwbfile()
    path = _write(pynwb, nwb, tmp_path / "nothing.nwb")
    for backend in ("auto", "h5py"):
        with pytest.raises(SchemaError, match="no current-clamp sweeps"):
            read_nwb(path, backend=backend)


@needs_pynwb
def test_nwb_voltage_clamp_only(tmp_path):
    from pynwb.icephys import VoltageClampSeries, VoltageClampStimulusSeries

    pynwb, nwb, elec = _nwbfile()
    stim = VoltageClampStimulusSeries(name="s0", data=np.full(1000, -0.07), rate=1e4,
                                      electrode=elec, gain=1.0)
    resp = VoltageClampSeries(name="r0", data=np.zeros(1000), rate=1e4, electrode=elec,
                              gain=1.0)
    nwb.add_intracellular_recording(electrode=elec, stimulus=stim, response=resp)
    path = _write(pynwb, nwb, tmp_path / "vc.nwb")
    with pytest.raises(SchemaError, match="VoltageClampSeries"):
        read_nwb(path)


@needs_pynwb
def test_nwb_current_clamp_without_stimulus(sweeps, tmp_path):
    from pynwb.icephys import CurrentClampSeries

    pynwb, nwb, elec = _nwbfile()
    for k, sw in enumerate(sweeps):
        nwb.add_acquisition(CurrentClampSeries(
            name=f"r{k}", data=sw.voltage_mV, conversion=1e-3, rate=1e4, electrode=elec,
            gain=1.0, starting_time=float(k)))
    path = _write(pynwb, nwb, tmp_path / "nostim.nwb")
    with pytest.raises(SchemaError, match="no stimulus") as err:
        read_nwb(path)
    assert "StepProtocol" in str(err.value)
    rescued = read_nwb(path, protocol=PROTOCOL)
    np.testing.assert_allclose(rescued.amplitudes_pA, AMPS)


@needs_pynwb
def test_nwb_with_two_cells_needs_an_electrode(sweeps, tmp_path):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    pynwb, nwb, e0 = _nwbfile()
    e1 = nwb.create_icephys_electrode(name="e1", description="second cell",
                                      device=nwb.devices["amp"])
    for elec, shift in ((e0, 0.0), (e1, 5.0)):
        for k, sw in enumerate(sweeps[:3]):
            stim = CurrentClampStimulusSeries(name=f"s_{elec.name}_{k}", data=sw.current_pA,
                                              conversion=1e-12, rate=1e4, electrode=elec,
                                              gain=1.0, starting_time=float(k))
            resp = CurrentClampSeries(name=f"r_{elec.name}_{k}", data=sw.voltage_mV + shift,
                                      conversion=1e-3, rate=1e4, electrode=elec, gain=1.0,
                                      starting_time=float(k))
            nwb.add_intracellular_recording(electrode=elec, stimulus=stim, response=resp)
    path = _write(pynwb, nwb, tmp_path / "two.nwb")
    with pytest.raises(SchemaError, match="2 electrodes"):
        read_nwb(path)
    one = read_nwb(path, electrode="e1")
    assert len(one) == 3 and one.cell_id == "two/e1"
    np.testing.assert_allclose(one[2].voltage_mV, sweeps[2].voltage_mV + 5.0)


def test_nwb_wrong_electrode(good_nwb):
    with pytest.raises(SchemaError, match="electrode 'e9'"):
        read_nwb(good_nwb, electrode="e9")


# ------------------------------------------------------------------------------ dispatch
def test_unknown_suffix(tmp_path):
    (tmp_path / "cell.dat").write_bytes(b"123")
    with pytest.raises(InputFileError, match="suffix"):
        read_sweeps(tmp_path / "cell.dat")


def test_wrong_argument_type():
    with pytest.raises(ParameterError, match="path or a SweepSet"):
        extract_cell_features(42)


def test_cell_table_skips_or_raises_on_a_corrupt_recording(good_abf, tmp_path):
    bad = tmp_path / "bad.abf"
    bad.write_bytes(b"ABF " + b"\x00" * 100)
    with pytest.raises(HetfitError, match="bad.abf"):
        cell_table_from_recordings([good_abf, bad])
    table = cell_table_from_recordings([good_abf, bad], on_error="skip")
    assert len(table) == 1
    assert table.report.rows_read == 2 and table.report.rows_dropped == 1
    assert any("bad.abf" in n for n in table.report.notes)


def test_folders_are_expanded_alone_or_inside_a_list(tmp_path):
    from hetfit.data_adapters.traces.extract import _expand

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for p in (a / "x.abf", a / "y.nwb", a / "notes.txt", b / "z.abf"):
        p.write_bytes(b"")
    assert [p.name for p in _expand(a)] == ["x.abf", "y.nwb"]
    assert [p.name for p in _expand([a, b / "z.abf"])] == ["x.abf", "y.nwb", "z.abf"]
    with pytest.raises(InputFileError, match="no .nwb or .abf"):
        _expand([tmp_path / "a", tmp_path])
