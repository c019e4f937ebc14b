"""Recorded activity: Recording validation, CSV/NWB/neo/MEA-HDF5 readers, bad recordings,
and every real MEA file in ../shared/data."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from hetfit import measures as m
from hetfit.data_adapters.activity import (
    ReadReport,
    Recording,
    read_mea_hdf5,
    read_neo,
    read_nwb_units,
    read_recording,
    read_spike_csv,
)
from hetfit.errors import (
    InputFileError,
    InsufficientDataError,
    ParameterError,
    SchemaError,
    SimulationError,
)
from hetfit.models.results import SpikeResult

# -- Recording ----------------------------------------------------------------------------


def test_recording_from_trains_and_back():
    rec = Recording.from_trains([[5.0, 1.0e3], [], [2.0, 3.0]], unit_ids=["a", "b", "c"],
                                t_stop_ms=2_000.0)
    assert rec.times_ms.tolist() == [2.0, 3.0, 5.0, 1000.0]
    assert rec.unit_index.tolist() == [2, 2, 0, 0]
    assert rec.n_units == 3 and rec.n_active_units == 2 and rec.n_spikes == 4
    np.testing.assert_allclose(rec.firing_rates_hz(), [1.0, 0.0, 1.0])
    assert [t.tolist() for t in rec.trains()] == [[5.0, 1000.0], [], [2.0, 3.0]]
    sub = rec.select(2.5, 10.0)
    assert sub.times_ms.tolist() == [3.0, 5.0] and sub.duration_ms == 7.5
    kw = rec.spike_arrays()
    assert m.firing_rates(**kw).tolist() == rec.firing_rates_hz().tolist()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(times_ms=[1.0, np.nan], unit_index=[0, 1]), "NaN"),
        (dict(times_ms=[-1.0, 2.0], unit_index=[0, 1]), "negative"),
        (dict(times_ms=[2.0, 1.0], unit_index=[0, 1]), "not sorted"),
        (dict(times_ms=[1.0, 2.0], unit_index=[0, 2]), "unit_index"),
        (dict(times_ms=[1.0], unit_index=[0, 1]), "spikes but"),
        (dict(times_ms=[1.0, 200.0], unit_index=[0, 1]), "outside the window"),
        (dict(times_ms=[1.0, 2.0], unit_index=[0, 1], unit_ids=("x", "x")), "duplicates"),
        (dict(times_ms=[1.0, 2.0], unit_index=[0, 1], t_start_ms=-5.0), "negative"),
    ],
)
def test_recording_constructor_rejects_bad_structure(kwargs, match):
    base = dict(unit_ids=("u0", "u1"), t_start_ms=0.0, t_stop_ms=100.0)
    base.update(kwargs)
    with pytest.raises(SchemaError, match=match):
        Recording(**base)


def test_recording_require_checks_activity():
    empty = Recording.from_trains([[], []], t_stop_ms=10.0)
    with pytest.raises(InsufficientDataError, match="0 spikes"):
        empty.require()
    one = Recording.from_trains([[1.0, 2.0], []], t_stop_ms=10.0)
    with pytest.raises(InsufficientDataError, match="1 unit"):
        one.require()
    assert one.require(min_units=1) is one


def _spike_result(diverged=False):
    return SpikeResult(
        spike_times_ms=np.array([1.0, 2.0, 2.0, 7.0]),
        spike_neurons=np.array([0, 2, 1, 0]),
        population_names=("E", "I"),
        population_sizes=(2, 1),
        rate_t_ms=np.array([5.0]),
        rates_hz=np.zeros((2, 1)),
        t_max_ms=10.0,
        dt_ms=0.1,
        diverged=diverged,
        meta={"model": "test"},
    )


def test_recording_from_spike_result():
    rec = Recording.from_spike_result(_spike_result())
    assert rec.unit_ids == ("E0", "E1", "I0")
    assert rec.t_stop_ms == 10.0 and rec.metadata["model"] == "test"
    np.testing.assert_allclose(rec.firing_rates_hz(), [200.0, 100.0, 100.0])
    exc = Recording.from_spike_result(_spike_result(), "E")
    assert exc.unit_ids == ("E0", "E1") and exc.n_spikes == 3
    with pytest.raises(SimulationError):
        Recording.from_spike_result(_spike_result(diverged=True))


# -- CSV ----------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_roundtrip(tmp_path):
    rec = Recording.from_trains([[1.5, 30.25], [2.0, 3.0, 40.0]], unit_ids=["n1", "n2"],
                                t_stop_ms=50.0)
    back = read_spike_csv(rec.to_csv(tmp_path / "s.csv"), t_stop_ms=50.0, check_time_units=False)
    np.testing.assert_array_equal(back.times_ms, rec.times_ms)
    assert [back.unit_ids[i] for i in back.unit_index] == [rec.unit_ids[i] for i in rec.unit_index]
    assert back.report.rows_read == 5 and back.report.rows_dropped == 0


def test_csv_seconds_and_units(tmp_path):
    rows = "unit,time\n" + "\n".join(
        f"{u},{t}" for u, t in [(2, 0.5), (10, 0.25), (2, 1.5), (10, 1.0), (2, 2.5)]
    )
    p = _write(tmp_path / "a.csv", rows)
    rec = read_spike_csv(p, time_unit="s", t_stop_ms=3_000.0)
    assert rec.unit_ids == ("2", "10")  # numeric labels sorted numerically
    assert rec.times_ms.tolist() == [250.0, 500.0, 1000.0, 1500.0, 2500.0]
    np.testing.assert_allclose(rec.firing_rates_hz(), [1.0, 2.0 / 3.0])
    same_ms = read_spike_csv(_write(tmp_path / "b.csv", rows.replace("time", "time_s")))
    np.testing.assert_array_equal(same_ms.times_ms, rec.times_ms)  # unit from the column name
    with pytest.raises(ParameterError, match="time_unit"):
        read_spike_csv(p)  # 'time' alone does not say s or ms
    with pytest.raises(ParameterError, match="time unit"):
        read_spike_csv(p, time_unit="us")


def test_csv_tsv_and_custom_columns(tmp_path):
    p = _write(tmp_path / "a.tsv", "cell\tt_ms\nx\t1\ny\t2\nx\t3\n")
    rec = read_spike_csv(p, unit_column="cell", check_time_units=False)
    assert rec.unit_ids == ("x", "y") and rec.times_ms.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(SchemaError, match="lacks the column"):
        read_spike_csv(p, unit_column="neuron")


def test_csv_nan_policy_counts_drops(tmp_path):
    p = _write(tmp_path / "n.csv", "unit,time_ms\n0,1\n0,\n1,5\n,7\n1,9\n0,12\n")
    with pytest.raises(SchemaError, match="no unit"):
        read_spike_csv(p, check_time_units=False)
    rec = read_spike_csv(p, nan_policy="drop", check_time_units=False)
    assert rec.n_spikes == 4
    rep = rec.report
    assert (rep.rows_read, rep.rows_kept, rep.rows_dropped) == (6, 4, 2)
    assert rep.dropped == {"missing unit": 1, "NaN or infinite time": 1}
    p2 = _write(tmp_path / "n2.csv", "unit,time_ms\n0,1\n0,\n1,5\n")
    with pytest.raises(SchemaError, match="NaN"):
        read_spike_csv(p2, check_time_units=False)


def test_csv_bad_recordings_give_clear_errors(tmp_path):
    cases = {
        "empty.csv": ("unit,time_ms\n", InsufficientDataError, "no spikes"),
        "one.csv": ("unit,time_ms\n0,1\n0,5\n0,9\n", InsufficientDataError, "1 unit"),
        "neg.csv": ("unit,time_ms\n0,-3\n1,5\n", SchemaError, "negative"),
        "text.csv": ("unit,time_ms\n0,abc\n1,5\n", SchemaError, "not numbers"),
        "unsorted.csv": ("unit,time_ms\n0,10\n1,2\n0,4\n1,8\n", SchemaError, "decrease"),
    }
    for name, (text, exc, match) in cases.items():
        with pytest.raises(exc, match=match):
            read_spike_csv(_write(tmp_path / name, text), check_time_units=False)
    # interleaved units are fine (only order within a unit matters) ...
    ok = read_spike_csv(_write(tmp_path / "inter.csv", "unit,time_ms\n0,4\n1,2\n0,6\n1,8\n"),
                        check_time_units=False)
    assert ok.times_ms.tolist() == [2.0, 4.0, 6.0, 8.0]
    # ... and sort=True accepts shuffled rows, saying so
    fixed = read_spike_csv(tmp_path / "unsorted.csv", sort=True, check_time_units=False)
    assert fixed.times_ms.tolist() == [2.0, 4.0, 8.0, 10.0]
    assert any("sorted" in n for n in fixed.report.notes)
    with pytest.raises(InputFileError, match="not found"):
        read_spike_csv(tmp_path / "missing.csv", time_unit="ms")


def test_wrong_time_units_are_detected(tmp_path):
    # 20 sorted units at ~5 Hz for 60 s with a 2 ms refractory period, written in seconds
    rng = np.random.default_rng(0)
    rows = []
    for u in range(20):
        t = np.cumsum(0.002 + rng.exponential(0.198, 400))
        for x in t[t < 60.0]:
            rows.append(f"{u},{x:.6f}")
    p = _write(tmp_path / "sec.csv", "unit,time\n" + "\n".join(rows) + "\n")
    good = read_spike_csv(p, time_unit="s")
    assert good.duration_ms == pytest.approx(60_000.0, rel=0.01)
    with pytest.raises(SchemaError, match="seconds but were read as milliseconds"):
        read_spike_csv(p, time_unit="ms")  # 300 spikes in 60 "ms": 5000 Hz
    # the same data written in ms but declared as s: 60,000 s (16.7 h), no interval < 1 s
    p_ms = _write(tmp_path / "ms.csv", "unit,time\n" + "\n".join(
        f"{r.split(',')[0]},{float(r.split(',')[1]) * 1e3:.3f}" for r in rows) + "\n")
    assert read_spike_csv(p_ms, time_unit="ms").n_spikes == good.n_spikes
    with pytest.raises(SchemaError, match="milliseconds but were read as seconds"):
        read_spike_csv(p_ms, time_unit="s")
    # a long recording with implausibly low rates (ms read as s, 10 min at 1 Hz -> 7 days)
    sparse = "unit,time\n" + "\n".join(f"{u},{t}" for u in (0, 1) for t in range(0, 600_000, 997))
    with pytest.raises(SchemaError, match="days"):
        read_spike_csv(_write(tmp_path / "long.csv", sparse), time_unit="s")


def test_explicit_window_drops_and_counts(tmp_path):
    p = _write(tmp_path / "w.csv", "unit,time_ms\n0,1\n1,2\n0,50\n1,60\n0,200\n")
    rec = read_spike_csv(p, t_start_ms=1.5, t_stop_ms=100.0, check_time_units=False)
    assert rec.times_ms.tolist() == [2.0, 50.0, 60.0]
    assert rec.report.dropped == {"outside the window": 2}
    assert "dropped 2" in rec.report.summary()


# -- NWB ----------------------------------------------------------------------------------


def _write_nwb(path: Path, trains_s, obs=None, with_units=True) -> Path:
    """NWB file written by pynwb (skips where pynwb cannot build an NWBFile)."""
    from datetime import datetime, timezone

    pynwb = pytest.importorskip("pynwb")
    try:
        nwb = pynwb.NWBFile(session_description="hetfit test", identifier="unit-test",
                            session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    except TypeError as exc:  # old pynwb with a newer hdmf (the old-end environment)
        pytest.skip(f"this pynwb cannot build NWB files here: {exc}")
    if with_units:
        for tr in trains_s:
            kw = {"obs_intervals": [list(obs)]} if obs is not None else {}
            nwb.add_unit(spike_times=list(tr), **kw)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _write_units_h5(path: Path, trains_s, obs=None) -> Path:
    """The NWB Units-table datasets written with h5py (the layout pynwb writes)."""
    with h5py.File(path, "w") as fh:
        fh["identifier"] = b"h5-test"
        g = fh.create_group("units")
        g["id"] = np.arange(len(trains_s))
        g["spike_times"] = np.concatenate([np.asarray(t, float) for t in trains_s])
        g["spike_times_index"] = np.cumsum([len(t) for t in trains_s])
        if obs is not None:
            g["obs_intervals"] = np.array([obs] * len(trains_s), dtype=float)
            g["obs_intervals_index"] = np.arange(1, len(trains_s) + 1)
    return path


NWB_TRAINS = [[0.1, 0.5, 1.25], [0.2, 0.3], []]


def test_nwb_units_are_read_in_ms(tmp_path):
    p = _write_nwb(tmp_path / "u.nwb", NWB_TRAINS)
    rec = read_nwb_units(p, check_time_units=False)
    assert rec.unit_ids == ("0", "1", "2")
    assert rec.times_ms.tolist() == pytest.approx([100.0, 200.0, 300.0, 500.0, 1250.0])
    assert rec.unit_index.tolist() == [0, 1, 1, 0, 0]
    assert rec.metadata["identifier"] == "unit-test"
    assert rec.report.notes[0] == "read with pynwb"
    assert read_recording(p, check_time_units=False).n_spikes == 5  # dispatch by extension
    # the h5py backend reads the same file to the same recording
    raw = read_nwb_units(p, check_time_units=False, backend="h5py")
    np.testing.assert_array_equal(raw.times_ms, rec.times_ms)
    np.testing.assert_array_equal(raw.unit_index, rec.unit_index)
    assert raw.unit_ids == rec.unit_ids and raw.metadata["identifier"] == "unit-test"
    with_obs = read_nwb_units(_write_nwb(tmp_path / "o.nwb", NWB_TRAINS[:2], obs=(0.0, 2.0)),
                              check_time_units=False)
    assert (with_obs.t_start_ms, with_obs.t_stop_ms) == (0.0, 2000.0)
    with pytest.raises(SchemaError, match="no Units"):
        read_nwb_units(_write_nwb(tmp_path / "none.nwb", [], with_units=False))


def test_nwb_units_layout_read_with_h5py(tmp_path):
    # runs in every environment, also where pynwb cannot build files
    p = _write_units_h5(tmp_path / "h.nwb", NWB_TRAINS, obs=(0.0, 2.0))
    rec = read_nwb_units(p, check_time_units=False, backend="h5py")
    assert rec.times_ms.tolist() == pytest.approx([100.0, 200.0, 300.0, 500.0, 1250.0])
    assert rec.unit_index.tolist() == [0, 1, 1, 0, 0]
    assert (rec.t_start_ms, rec.t_stop_ms) == (0.0, 2000.0)
    assert rec.metadata["identifier"] == "h5-test"
    auto = read_nwb_units(p, check_time_units=False)  # pynwb fails on this bare file
    np.testing.assert_array_equal(auto.times_ms, rec.times_ms)
    assert auto.report.notes[0].startswith("read with h5py")


def test_nwb_bad_files(tmp_path):
    bad = _write(tmp_path / "bad.nwb", "this is not hdf5")
    with pytest.raises(InputFileError, match="NWB"):
        read_nwb_units(bad)
    with h5py.File(tmp_path / "empty.nwb", "w") as fh:
        fh["identifier"] = b"x"
    with pytest.raises(SchemaError, match="no Units"):
        read_nwb_units(tmp_path / "empty.nwb", backend="h5py")
    with pytest.raises(ParameterError, match="backend"):
        read_nwb_units(bad, backend="zarr")


# -- neo ----------------------------------------------------------------------------------


def _neo_block(n_segments=1):
    import neo
    import quantities as pq

    block = neo.Block()
    for _ in range(n_segments):
        seg = neo.Segment()
        seg.spiketrains.append(neo.SpikeTrain([0.5, 1.0, 1.5] * pq.s, t_stop=2.0 * pq.s, name="a"))
        seg.spiketrains.append(neo.SpikeTrain([250.0, 1750.0] * pq.ms, t_stop=2000.0 * pq.ms,
                                              name="b"))
        block.segments.append(seg)
    return block


def test_neo_objects_and_files(tmp_path):
    import neo

    rec = read_neo(_neo_block(), check_time_units=False)
    assert rec.unit_ids == ("a", "b")
    assert rec.times_ms.tolist() == pytest.approx([250.0, 500.0, 1000.0, 1500.0, 1750.0])
    assert rec.t_stop_ms == pytest.approx(2000.0)
    seg_rec = read_neo(_neo_block().segments[0], check_time_units=False)
    np.testing.assert_array_equal(seg_rec.times_ms, rec.times_ms)
    with pytest.raises(ParameterError, match="segments"):
        read_neo(_neo_block(2), check_time_units=False)
    assert read_neo(_neo_block(2), segment=1, check_time_units=False).n_spikes == 5
    path = tmp_path / "b.pkl"
    neo.io.PickleIO(str(path)).write_block(_neo_block())
    from_file = read_recording(path, check_time_units=False)  # unknown extension -> neo
    np.testing.assert_array_equal(from_file.times_ms, rec.times_ms)


# -- MEA HDF5 -----------------------------------------------------------------------------


def _write_mea(path: Path, channels_s, duration_s, names=True) -> Path:
    with h5py.File(path, "w") as fh:
        fh["spikes"] = np.concatenate([np.asarray(c, float) for c in channels_s])
        fh["sCount"] = np.array([len(c) for c in channels_s], dtype=np.int32)
        if names:
            fh["names"] = np.array([f"ch_{i}_unit_0".encode() for i in range(len(channels_s))])
        fh["epos"] = np.vstack([np.arange(len(channels_s)) * 100.0, np.zeros(len(channels_s))])
        fh["meta/age"] = np.int32(6)
        fh["meta/cond"] = b"ctl"
        fh["summary/duration"] = float(duration_s)
    return path


def test_mea_hdf5_fixture(tmp_path):
    p = _write_mea(tmp_path / "x.h5", [[0.5, 1.0], [0.25], [2.0, 3.0, 3.0]], 4.0)
    rec = read_mea_hdf5(p, check_time_units=False)
    assert rec.unit_ids == ("ch_0_unit_0", "ch_1_unit_0", "ch_2_unit_0")
    assert rec.times_ms.tolist() == [250.0, 500.0, 1000.0, 2000.0, 3000.0, 3000.0]
    assert rec.unit_index.tolist() == [1, 0, 0, 2, 2, 2]
    assert rec.t_stop_ms == 4000.0
    assert rec.metadata["age"] == 6 and rec.metadata["cond"] == "ctl"
    assert rec.metadata["electrode_positions_um"][1] == [100.0, 0.0]
    assert any("share their time" in n for n in rec.report.notes)
    late = read_mea_hdf5(_write_mea(tmp_path / "y.h5", [[0.5], [5.0]], 4.0, names=False),
                         check_time_units=False)
    assert late.unit_ids == ("ch_0", "ch_1") and late.t_stop_ms > 5000.0
    assert any("past the nominal end" in n for n in late.report.notes)


def test_mea_hdf5_bad_layouts(tmp_path):
    with h5py.File(tmp_path / "no.h5", "w") as fh:
        fh["data"] = np.zeros(3)
    with pytest.raises(SchemaError, match="MEA HDF5 layout"):
        read_mea_hdf5(tmp_path / "no.h5")
    with h5py.File(tmp_path / "count.h5", "w") as fh:
        fh["spikes"] = np.array([0.1, 0.2, 0.3])
        fh["sCount"] = np.array([1, 1])
    with pytest.raises(SchemaError, match="sCount"):
        read_mea_hdf5(tmp_path / "count.h5")
    with pytest.raises(InputFileError, match="HDF5"):
        read_mea_hdf5(_write(tmp_path / "txt.h5", "plain text"))
    with pytest.raises(SchemaError, match="decrease"):
        read_mea_hdf5(_write_mea(tmp_path / "uns.h5", [[0.5, 0.2], [0.3]], 1.0),
                      check_time_units=False)


# -- every real MEA recording in ../shared/data -------------------------------------------


def _all_mea_files(shared_data):
    files = []
    for folder in ("retinal_waves_mea", "cotterill2016_hipsc_mea"):
        d = shared_data(folder)
        index = pd.read_csv(d / "index.csv")
        files += [(d / f, row) for f, (_, row) in zip(index["file"], index.iterrows())]
        assert len(list(d.glob("*.h5"))) == len(index)  # the index lists every file
    return files


@pytest.mark.data
def test_every_real_mea_recording_loads_and_yields_measures(shared_data):
    files = _all_mea_files(shared_data)
    assert len(files) == 26 + 133
    for path, row in files:
        rec = read_recording(path)
        assert isinstance(rec.report, ReadReport) and rec.report.rows_dropped == 0
        assert rec.n_spikes == row["total_spikes"] > 0
        assert rec.n_units == row["n_channels"] >= 10
        assert np.all(np.diff(rec.times_ms) >= 0)
        rates = rec.firing_rates_hz()
        assert 0 < rates.mean() < 50.0 and rates.max() < 200.0  # plausible MEA channel rates
        # window: the nominal duration, extended to the last spike where spikes run past it
        # (Kirkby2013_01_WT_P6: 951 s nominal, last spike at 994.68 s)
        nominal = row["duration_s"] * 1e3
        assert rec.duration_ms == pytest.approx(max(nominal, rec.times_ms[-1]), abs=1e-6)
        kw = rec.spike_arrays()
        # coarse settings: seconds-long retinal waves, hour-long recordings
        values = [
            m.rate_spread(**kw).mean_hz,
            m.mean_cv_isi(**kw),
            m.mean_fano_factor(**kw, window_ms=1_000.0),
            m.spike_train_chi(**kw, tau_ms=100.0),
            m.kuramoto_order(**kw, dt_ms=200.0, span="any"),
            m.mean_pairwise_correlation(**kw, bin_ms=100.0),
            m.rate_spectrum(**kw, bin_ms=100.0, segment_ms=100_000.0, min_freq_hz=0.01).peak_power,
            m.network_bursts(**kw, bin_ms=50.0, smooth_ms=100.0).rate_hz,
        ]
        assert all(math.isfinite(v) for v in values), (path.name, values)


def test_csv_round_trip_keeps_window_and_silent_units(tmp_path):
    from hetfit.data_adapters.activity import Recording, read_spike_csv

    rec = Recording(times_ms=np.array([210.0, 215.5, 400.25, 900.0]),
                    unit_index=np.array([0, 2, 0, 2]), unit_ids=("E0", "E1", "I0"),
                    t_start_ms=200.0, t_stop_ms=1200.0)
    back = read_spike_csv(rec.to_csv(tmp_path / "r.csv"))
    assert back.unit_ids == ("E0", "E1", "I0")  # the silent unit E1 survives
    assert (back.t_start_ms, back.t_stop_ms) == (200.0, 1200.0)
    np.testing.assert_array_equal(back.times_ms, rec.times_ms)
    np.testing.assert_array_equal(back.unit_index, rec.unit_index)
    # an explicit window still wins over the file's
    assert read_spike_csv(tmp_path / "r.csv", t_stop_ms=1000.0).t_stop_ms == 1000.0
    # a damaged header line is a clear error
    text = (tmp_path / "r.csv").read_text().splitlines()
    (tmp_path / "bad.csv").write_text("\n".join(["# hetfit-recording {not json"] + text[1:]))
    with pytest.raises(SchemaError, match="malformed"):
        read_spike_csv(tmp_path / "bad.csv")
