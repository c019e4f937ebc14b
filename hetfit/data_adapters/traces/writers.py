"""Write a :class:`SweepSet` to NWB 2 (pynwb) or ABF1 (pyabf's writer).

Mainly for producing recordings with known answers (from :mod:`.synthetic`) that exercise
the readers exactly as a rig's files would.  Both writers are atomic: the file is written to a
temporary sibling and renamed into place.

* :func:`write_nwb` writes ``CurrentClampSeries`` responses (mV with conversion 1e-3) and
  ``CurrentClampStimulusSeries`` stimuli (pA with conversion 1e-12), either linked through the
  ``IntracellularRecordingsTable`` (``layout="table"``, NWB >= 2.4) or as plain
  acquisition/stimulus series paired by ``sweep_number`` (``layout="series"``).
* :func:`write_abf1` writes the voltage with ``pyabf.abfWriter.writeABF1`` (one channel,
  16-bit) and, for a linear step protocol, fills the ABF1 epoch table (pre-step, step with a
  per-sweep increment, post-step) so that pyabf rebuilds the command waveform on reading.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import struct
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np

from hetfit.data_adapters.traces.sweeps import SweepSet
from hetfit.errors import ParameterError, require


@contextlib.contextmanager
def _atomic_path(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_nwb(
    sweeps: SweepSet,
    path: str | os.PathLike,
    layout: Literal["table", "series"] = "table",
    session_start: _dt.datetime | None = None,
) -> Path:
    """Write ``sweeps`` as an NWB 2 icephys file; returns the path.

    Parameters
    ----------
    layout:
        ``"table"``: responses and stimuli linked in the intracellular recordings table;
        ``"series"``: plain acquisition and stimulus series with ``sweep_number``.
    session_start:
        Session start time (timezone-aware); defaults to 2000-01-01 UTC for reproducibility.
    """
    if layout not in ("table", "series"):
        raise ParameterError(f"layout must be 'table' or 'series', got {layout!r}")
    pynwb = require("pynwb", "nwb", "writing NWB files")
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    path = Path(path)
    start = session_start or _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
    nwb = pynwb.NWBFile(
        session_description=f"current-clamp steps of {sweeps.cell_id or 'a cell'}",
        identifier=sweeps.cell_id or "hetfit-sweeps",
        session_start_time=start,
    )
    device = nwb.create_device(name="amplifier")
    electrode = nwb.create_icephys_electrode(
        name="electrode_0", description="whole-cell patch electrode", device=device
    )
    t0 = 0.0
    for k, sw in enumerate(sweeps):
        rate = 1e3 / sw.dt_ms
        common = dict(rate=rate, starting_time=t0, electrode=electrode, gain=1.0,
                      sweep_number=np.uint32(sw.sweep_number))
        stim = CurrentClampStimulusSeries(
            name=f"stimulus_{k:03d}", data=sw.current_pA, conversion=1e-12, **common
        )
        resp = CurrentClampSeries(
            name=f"response_{k:03d}", data=sw.voltage_mV, conversion=1e-3, **common
        )
        if layout == "table":
            nwb.add_intracellular_recording(electrode=electrode, stimulus=stim, response=resp)
        else:
            nwb.add_stimulus(stim)
            nwb.add_acquisition(resp)
        t0 += float(sw.time_ms[-1] + sw.dt_ms) / 1e3 + 1.0
    with _atomic_path(path) as tmp, pynwb.NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    return path


def write_abf1(
    sweeps: SweepSet,
    path: str | os.PathLike,
    include_protocol: bool = True,
) -> Path:
    """Write ``sweeps`` as a one-channel ABF1 file (voltage in mV); returns the path.

    With ``include_protocol`` the step protocol is stored in the ABF1 epoch table, which
    requires the usual episodic protocol: one step per sweep, the same start/end in every
    sweep, amplitudes ``first + k * increment`` and one holding level.  Without it the file
    holds only voltages (like a gap-free export) and must be read with a ``StepProtocol``.
    """
    require("pyabf", "abf", "writing ABF files")
    from pyabf.abfWriter import writeABF1

    path = Path(path)
    n = {s.time_ms.size for s in sweeps}
    dts = {round(s.dt_ms, 9) for s in sweeps}
    if len(n) != 1 or len(dts) != 1:
        raise ParameterError("ABF1 needs sweeps of equal length and sampling rate")
    points = n.pop()
    dt_ms = dts.pop()
    data = np.vstack([s.voltage_mV for s in sweeps])
    with _atomic_path(path) as tmp:
        writeABF1(data, str(tmp), 1e3 / dt_ms, units="mV")
        if include_protocol:
            _write_epoch_table(tmp, sweeps, points)
    return path


# pyabf's writer emits a 4-block (2048-byte) header; the ABF1 epoch table lives in the
# extended header (bytes 2296-2668), so files with a protocol get the full 12-block header.
_BLOCK = 512
_SHORT_HEADER_BLOCKS = 4
_FULL_HEADER_BLOCKS = 12


def _write_epoch_table(path: Path, sweeps: SweepSet, points: int) -> None:
    amps = sweeps.amplitudes_pA
    holding = {round(s.holding_pA, 6) for s in sweeps}
    starts = {s.index_of(s.stim_start_ms) for s in sweeps}
    ends = {s.index_of(s.stim_end_ms) for s in sweeps}
    inc = float(amps[1] - amps[0]) if amps.size > 1 else 0.0
    if (len(holding) != 1 or len(starts) != 1 or len(ends) != 1
            or not np.allclose(amps, amps[0] + inc * np.arange(amps.size), atol=1e-6)):
        raise ParameterError(
            "the ABF1 epoch table stores only linear step protocols (same window, amplitudes "
            "first + k * increment, one holding level)",
            hint="write with include_protocol=False and read back with a StepProtocol",
        )
    hold, start, end = holding.pop(), starts.pop(), ends.pop()
    pre = points // 64  # pyabf (like Clampex) holds the first 1/64 of a sweep before epoch A
    if start < pre:
        raise ParameterError(f"the step must start after the first {pre} samples of a sweep")
    epochs = [  # (type 1 = step, first level, level increment, duration in samples)
        (1, hold, 0.0, start - pre),
        (1, hold + float(amps[0]), inc, end - start),
        (1, hold, 0.0, points - end),
    ]
    raw = path.read_bytes()
    short = _SHORT_HEADER_BLOCKS * _BLOCK
    if struct.unpack_from("i", raw, 40)[0] != _SHORT_HEADER_BLOCKS:
        raise ParameterError("unexpected ABF1 layout from pyabf's writer (data section pointer)")
    buf = bytearray(raw[:short]) + bytearray((_FULL_HEADER_BLOCKS - _SHORT_HEADER_BLOCKS) * _BLOCK)
    buf += raw[short:]
    struct.pack_into("i", buf, 40, _FULL_HEADER_BLOCKS)  # lDataSectionPtr
    with open(path, "wb") as fh:
        struct.pack_into("4s", buf, 1346, b"pA  ")  # sDACChannelUnit[0] (8 chars)
        struct.pack_into("4s", buf, 1350, b"    ")
        struct.pack_into("10s", buf, 1306, b"Cmd 0     ")  # sDACChannelName[0]
        struct.pack_into("10s", buf, 442, b"IN 0      ")  # sADCChannelName[0]
        struct.pack_into("2h", buf, 2296, 1, 0)  # nWaveformEnable (DAC 0 on)
        struct.pack_into("2h", buf, 2300, 1, 0)  # nWaveformSource (1 = epoch table)
        struct.pack_into("2h", buf, 2304, 0, 0)  # nInterEpisodeLevel (return to holding)
        for i, (kind, level, delta, duration) in enumerate(epochs):
            struct.pack_into("h", buf, 2308 + 2 * i, kind)
            struct.pack_into("f", buf, 2348 + 4 * i, level)
            struct.pack_into("f", buf, 2428 + 4 * i, delta)
            struct.pack_into("i", buf, 2508 + 4 * i, duration)
            struct.pack_into("i", buf, 2588 + 4 * i, 0)
        fh.write(bytes(buf))
