"""NWB 2 intracellular (icephys) current-clamp files -> :class:`SweepSet`.

Two layouts are read:

* NWB >= 2.4 files with the ``IntracellularRecordingsTable``: every row pairs a response
  (``CurrentClampSeries``) with its stimulus (``CurrentClampStimulusSeries``), possibly as a
  slice of a longer series.
* Older (or table-less) files: responses in ``/acquisition`` and stimuli in
  ``/stimulus/presentation``, paired by ``sweep_number``, else by start time and length, else
  by order.

The reader uses pynwb when it can build the file (``backend="pynwb"``), and falls back to
reading the same NWB structures with h5py (``backend="h5py"``) when pynwb cannot (typically a
file written with an extension namespace that the installed pynwb cannot construct).  Both
backends give identical sweeps; the note in ``SweepSet.notes`` says which one was used.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from hetfit.data_adapters.traces.sweeps import (
    StepProtocol,
    SweepSet,
    assemble_sweeps,
    is_voltage_unit,
    to_mV,
    to_pA,
)
from hetfit.errors import InputFileError, ParameterError, SchemaError, require
from hetfit.io import existing_file

Backend = Literal["auto", "pynwb", "h5py"]

_RESPONSE_TYPES = ("CurrentClampSeries",)
_SKIPPED_RESPONSE_TYPES = ("IZeroClampSeries", "VoltageClampSeries")
_STIMULUS_TYPES = ("CurrentClampStimulusSeries",)


@dataclass
class _Series:
    """One NWB TimeSeries (or a slice of it) in its stored unit after conversion/offset."""

    name: str
    kind: str
    unit: str
    values: np.ndarray
    rate: float | None
    timestamps: np.ndarray | None
    starting_time: float
    sweep_number: int | None
    electrode: str | None

    def time_ms(self) -> np.ndarray:
        if self.rate:
            return np.arange(self.values.size, dtype=np.float64) * (1e3 / self.rate)
        ts = np.asarray(self.timestamps, dtype=np.float64)
        return (ts - ts[0]) * 1e3

    @property
    def start_s(self) -> float:
        if self.timestamps is not None and len(self.timestamps):
            return float(self.timestamps[0])
        return float(self.starting_time)


def read_nwb(
    path: str | os.PathLike,
    protocol: StepProtocol | None = None,
    electrode: str | None = None,
    backend: Backend = "auto",
    cell_id: str | None = None,
) -> SweepSet:
    """Read the current-clamp sweeps of one cell from an NWB 2 file.

    Parameters
    ----------
    path:
        ``.nwb`` file.
    protocol:
        State the step protocol when the file stores no stimulus series.
    electrode:
        Name of the intracellular electrode (cell) to read when the file holds several.
    backend:
        ``"auto"`` (pynwb, falling back to h5py), ``"pynwb"`` or ``"h5py"``.
    cell_id:
        Defaults to the file stem (plus the electrode name when given).

    Raises
    ------
    InputFileError
        Missing, empty, truncated, corrupt or non-NWB file.
    SchemaError
        No current-clamp sweeps, several electrodes without ``electrode``, or no stimulus.
    """
    if backend not in ("auto", "pynwb", "h5py"):
        raise ParameterError(f"backend must be 'auto', 'pynwb' or 'h5py', got {backend!r}")
    path = existing_file(path, "NWB file")
    _check_hdf5(path)
    notes: list[str] = []
    if backend in ("auto", "pynwb"):
        try:
            records, layout = _records_pynwb(path)
            notes.append(f"read with pynwb ({layout})")
        except (InputFileError, SchemaError):
            raise
        except Exception as exc:  # pynwb/hdmf raise many types while building a file
            if backend == "pynwb":
                raise InputFileError(
                    f"pynwb cannot read {path.name}: {type(exc).__name__}: {_short(exc)}",
                    hint="try backend='h5py', or check the file with nwbinspector",
                ) from exc
            records, layout = _records_h5py(path)
            notes.append(f"read with h5py ({layout}); pynwb could not build the file: "
                         f"{type(exc).__name__}: {_short(exc, 160)}")
    else:
        records, layout = _records_h5py(path)
        notes.append(f"read with h5py ({layout})")
    return _assemble(path, records, notes, protocol, electrode, cell_id)


def _short(exc: BaseException, n: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[:n] + " ..."


def _check_hdf5(path: Path) -> None:
    h5py = require("h5py", "nwb", "reading NWB files")
    if path.stat().st_size == 0:
        raise InputFileError(f"NWB file {path} is empty (0 bytes)", hint="re-export the recording")
    if not h5py.is_hdf5(str(path)):
        raise InputFileError(
            f"{path} is not an NWB/HDF5 file (no HDF5 signature)",
            hint="the file is corrupt or of another type; ABF files are read with read_abf",
        )
    try:
        with h5py.File(str(path), "r") as f:
            version = f.attrs.get("nwb_version")
            if version is None:
                raise InputFileError(
                    f"{path.name} is an HDF5 file but not NWB (no 'nwb_version' attribute)",
                    hint="hetfit reads NWB 2 files; convert the recording with a NWB converter",
                )
            if isinstance(version, bytes):
                version = version.decode()
            if not str(version).startswith("2"):
                raise InputFileError(
                    f"{path.name} is NWB version {version}; hetfit reads NWB 2.x",
                    hint="convert NWB 1 files with the NWB conversion tools",
                )
    except InputFileError:
        raise
    except Exception as exc:  # truncated files fail inside h5py with OSError/KeyError
        raise InputFileError(
            f"cannot open NWB file {path}: {type(exc).__name__}: {_short(exc)}",
            hint="the file is probably truncated or corrupt; re-copy it",
        ) from exc


# --------------------------------------------------------------------------- pynwb backend
def _records_pynwb(path: Path) -> tuple[list[tuple[_Series, _Series | None]], str]:
    pynwb = require("pynwb", "nwb", "reading NWB files")
    from pynwb.icephys import (
        CurrentClampSeries,
        CurrentClampStimulusSeries,
        IZeroClampSeries,
        VoltageClampSeries,
    )

    def kind_of(ts) -> str:
        for cls in (IZeroClampSeries, CurrentClampSeries, VoltageClampSeries,
                    CurrentClampStimulusSeries):
            if isinstance(ts, cls):
                return cls.__name__
        return type(ts).__name__

    def series(ts, start: int = 0, count: int | None = None) -> _Series:
        stop = None if count is None or count < 0 else start + count
        data = np.asarray(ts.data[start:stop], dtype=np.float64)
        values = data * float(ts.conversion) + float(getattr(ts, "offset", 0.0) or 0.0)
        stamps = None
        if ts.rate is None and ts.timestamps is not None:
            stamps = np.asarray(ts.timestamps[start:stop], dtype=np.float64)
        start_time = float(ts.starting_time or 0.0) + (start / ts.rate if ts.rate else 0.0)
        elec = getattr(ts, "electrode", None)
        return _Series(
            name=ts.name, kind=kind_of(ts), unit=str(ts.unit), values=values,
            rate=float(ts.rate) if ts.rate else None, timestamps=stamps,
            starting_time=start_time,
            sweep_number=None if getattr(ts, "sweep_number", None) is None
            else int(ts.sweep_number),
            electrode=None if elec is None else str(elec.name),
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwb = io.read()
            table = nwb.intracellular_recordings
            if table is not None and len(table) > 0:
                records = []
                categories = table.category_tables
                responses = categories["responses"]["response"]
                stim_table = categories.get("stimuli")
                stimuli = stim_table["stimulus"] if stim_table is not None \
                    and "stimulus" in stim_table.colnames else None
                for i in range(len(table)):
                    ref = responses[i]
                    if not ref.isvalid():
                        continue
                    resp = series(ref.timeseries, int(ref.idx_start), int(ref.count))
                    stim = None
                    if stimuli is not None:
                        sref = stimuli[i]
                        if sref.isvalid():
                            stim = series(sref.timeseries, int(sref.idx_start), int(sref.count))
                    records.append((resp, stim))
                return records, "intracellular recordings table"
            responses = [series(ts) for ts in nwb.acquisition.values()
                         if isinstance(ts, (CurrentClampSeries, VoltageClampSeries))]
            stimuli = [series(ts) for ts in nwb.stimulus.values()
                       if isinstance(ts, CurrentClampStimulusSeries)]
            return _pair(responses, stimuli), "acquisition/stimulus series"


# --------------------------------------------------------------------------- h5py backend
def _attr(obj, name, default=None):
    value = obj.attrs.get(name, default)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return value


def _records_h5py(path: Path) -> tuple[list[tuple[_Series, _Series | None]], str]:
    h5py = require("h5py", "nwb", "reading NWB files")
    try:
        with h5py.File(str(path), "r") as f:
            return _records_from_h5(f, h5py)
    except (InputFileError, SchemaError):
        raise
    except Exception as exc:
        raise InputFileError(
            f"cannot read NWB file {path.name}: {type(exc).__name__}: {_short(exc)}",
            hint="the file is probably truncated or corrupt; re-copy it",
        ) from exc


def _records_from_h5(f, h5py) -> tuple[list[tuple[_Series, _Series | None]], str]:
    # Names of the series, looked up by object: h5py's ``.name`` of an object reached through
    # a reference searches the whole file and is slow.
    names = {}
    for group in ("acquisition", "stimulus/presentation"):
        if group in f:
            for key, item in f[group].items():
                names[item] = key

    def series(grp, start: int = 0, count: int | None = None) -> _Series:
        data = grp["data"]
        stop = None if count is None or count < 0 else start + count
        values = np.asarray(data[start:stop], dtype=np.float64)
        values = values * float(_attr(data, "conversion", 1.0)) + float(_attr(data, "offset", 0.0))
        rate, stamps, t0 = None, None, 0.0
        if "starting_time" in grp:
            rate = float(_attr(grp["starting_time"], "rate"))
            t0 = float(grp["starting_time"][()]) + start / rate
        elif "timestamps" in grp:
            stamps = np.asarray(grp["timestamps"][start:stop], dtype=np.float64)
        sweep = int(grp["sweep_number"][()]) if "sweep_number" in grp else None
        elec = None
        link = grp.get("electrode", getlink=True)
        if isinstance(link, h5py.SoftLink):
            elec = link.path.rsplit("/", 1)[-1]
        elif link is not None:
            elec = grp["electrode"].name.rsplit("/", 1)[-1]
        name = names.get(grp) or grp.name.rsplit("/", 1)[-1]
        return _Series(
            name=name, kind=str(_attr(grp, "neurodata_type", "")),
            unit=str(_attr(data, "unit", "")), values=values, rate=rate, timestamps=stamps,
            starting_time=t0, sweep_number=sweep, electrode=elec,
        )

    table_path = "general/intracellular_ephys/intracellular_recordings"
    if table_path in f and "responses/response" in f[table_path]:
        resp_col = f[table_path]["responses/response"]
        if resp_col.shape and resp_col.shape[0] > 0:
            stim_col = f[table_path]["stimuli/stimulus"] if "stimuli/stimulus" in f[table_path] \
                else None
            resp_rows = resp_col[()]
            stim_rows = stim_col[()] if stim_col is not None else None
            records = []
            for i, row in enumerate(resp_rows):
                start, count, ref = int(row[0]), int(row[1]), row[2]
                if start < 0 or count < 0 or not ref:
                    continue
                resp = series(f[ref], start, count)
                stim = None
                if stim_rows is not None:
                    s_start, s_count, s_ref = int(stim_rows[i][0]), int(stim_rows[i][1]), \
                        stim_rows[i][2]
                    if s_start >= 0 and s_count >= 0 and s_ref:
                        stim = series(f[s_ref], s_start, s_count)
                records.append((resp, stim))
            return records, "intracellular recordings table"

    def typed(group, types) -> list:
        out = []
        if group not in f:
            return out
        for item in f[group].values():
            if isinstance(item, h5py.Group) and _attr(item, "neurodata_type") in types:
                out.append(item)
        return out

    responses = [series(g) for g in typed("acquisition", _RESPONSE_TYPES + _SKIPPED_RESPONSE_TYPES)]
    stimuli = [series(g) for g in typed("stimulus/presentation", _STIMULUS_TYPES)]
    return _pair(responses, stimuli), "acquisition/stimulus series"


# --------------------------------------------------------------------------- shared logic
def _pair(responses: list[_Series], stimuli: list[_Series]) -> list[tuple[_Series, _Series | None]]:
    """Pair responses with stimuli by sweep number, else start time and length, else order."""
    stim_left = list(stimuli)
    pairs = []
    cc = [r for r in responses if r.kind in _RESPONSE_TYPES]
    by_order = len(cc) == len(stim_left)
    for r in responses:
        match = None
        if r.sweep_number is not None:
            match = next((s for s in stim_left if s.sweep_number == r.sweep_number
                          and (s.electrode is None or s.electrode == r.electrode)), None)
        if match is None:
            match = next((s for s in stim_left if abs(s.start_s - r.start_s) < 1e-6
                          and s.values.size == r.values.size
                          and (s.electrode is None or s.electrode == r.electrode)), None)
        if match is None and by_order and r.kind in _RESPONSE_TYPES and stim_left:
            match = stim_left[0]
        if match is not None:
            stim_left.remove(match)
        pairs.append((r, match))
    return pairs


def _stimulus_on_response_clock(stim: _Series, resp: _Series, t_ms: np.ndarray) -> np.ndarray:
    current = to_pA(stim.values, stim.unit, f"stimulus {stim.name}")
    if stim.values.size == resp.values.size and (stim.rate == resp.rate or not stim.rate):
        return current
    # different length or rate: sample-and-hold the stimulus onto the response clock
    t_stim = stim.time_ms() + (stim.start_s - resp.start_s) * 1e3
    idx = np.clip(np.searchsorted(t_stim, t_ms, side="right") - 1, 0, current.size - 1)
    return current[idx]


def _assemble(
    path: Path,
    records: list[tuple[_Series, _Series | None]],
    notes: list[str],
    protocol: StepProtocol | None,
    electrode: str | None,
    cell_id: str | None,
) -> SweepSet:
    skipped: dict[str, int] = {}
    usable = []
    for resp, stim in records:
        if resp.kind in _RESPONSE_TYPES or (resp.kind not in _SKIPPED_RESPONSE_TYPES
                                            and resp.unit and is_voltage_unit(resp.unit)):
            usable.append((resp, stim))
        else:
            skipped[resp.kind or "unknown"] = skipped.get(resp.kind or "unknown", 0) + 1
    if skipped:
        notes.append("skipped non-current-clamp series: "
                     + ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())))
    if not usable:
        raise SchemaError(
            f"{path.name}: no current-clamp sweeps (CurrentClampSeries) found"
            + (f"; the file holds {', '.join(f'{n} {k}' for k, n in skipped.items())}"
               if skipped else " (the file holds no intracellular recordings)"),
            hint="hetfit extracts features from current-clamp step protocols",
        )
    electrodes = sorted({r.electrode for r, _ in usable if r.electrode is not None})
    if electrode is not None:
        if electrode not in electrodes:
            raise SchemaError(
                f"{path.name}: no current-clamp sweeps from electrode {electrode!r} "
                f"(electrodes: {electrodes})", hint="pick one of the listed electrodes",
            )
        usable = [(r, s) for r, s in usable if r.electrode == electrode]
    elif len(electrodes) > 1:
        raise SchemaError(
            f"{path.name}: current-clamp sweeps from {len(electrodes)} electrodes {electrodes}",
            hint="read one cell at a time with electrode='<name>'",
        )
    usable.sort(key=lambda rs: (rs[0].sweep_number if rs[0].sweep_number is not None else -1,
                                rs[0].start_s))

    raw, dropped = [], []
    for k, (resp, stim) in enumerate(usable):
        number = resp.sweep_number if resp.sweep_number is not None else k
        t_ms = resp.time_ms()
        v = to_mV(resp.values, resp.unit, f"response {resp.name}")
        if protocol is not None:
            c = protocol.command(t_ms, len(raw))
        elif stim is None:
            dropped.append((number, f"{resp.name}: no stimulus series"))
            continue
        else:
            c = _stimulus_on_response_clock(stim, resp, t_ms)
        raw.append((number, resp.name, t_ms, v, c))
    if not raw:
        raise SchemaError(
            f"{path.name}: the current-clamp sweeps have no stimulus series",
            hint="pass protocol=StepProtocol(start_ms=..., end_ms=..., amplitudes_pA=[...])",
        )
    if protocol is not None and len(protocol.amplitudes_pA) != len(raw):
        raise ParameterError(
            f"protocol has {len(protocol.amplitudes_pA)} amplitudes but {path.name} has "
            f"{len(raw)} current-clamp sweeps", hint="give one amplitude per sweep",
        )
    if protocol is not None:
        notes.append("command from the user's StepProtocol")
    if dropped:
        notes.append(f"{len(dropped)} sweeps without stimulus dropped")
    cid = cell_id or (path.stem + (f"/{electrode}" if electrode else ""))
    return assemble_sweeps(raw, cell_id=cid, source=str(path), notes=notes,
                           protocol=protocol, dropped=dropped)
