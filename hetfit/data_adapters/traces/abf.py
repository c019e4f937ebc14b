"""Axon ABF (ABF1 and ABF2) current-clamp recordings -> :class:`SweepSet`, through pyabf.

Rigs differ: the membrane potential may be on any ADC channel, the command may come from the
protocol's epoch table or only from a recorded current channel, units may be mV or V, pA or
nA.  The reader picks the membrane-potential channel whose DAC is a current command, rebuilds
the command from the epoch table (pyabf ``sweepC``), and, when the rig also *recorded* the
injected current, checks the protocol against it (the recorded current wins when they differ,
and a note says so).  Every decision is written into ``SweepSet.notes``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

from hetfit.data_adapters.traces.sweeps import (
    StepProtocol,
    SweepSet,
    assemble_sweeps,
    find_step_window,
    is_current_unit,
    is_voltage_unit,
    step_window_at,
    to_mV,
    to_pA,
)
from hetfit.errors import InputFileError, ParameterError, SchemaError, require
from hetfit.io import existing_file

CommandSource = Literal["auto", "protocol", "recorded"]


def _open_abf(path: Path):
    pyabf = require("pyabf", "abf", "reading ABF files")
    if path.stat().st_size == 0:
        raise InputFileError(f"ABF file {path} is empty (0 bytes)", hint="re-export the recording")
    with open(path, "rb") as fh:
        signature = fh.read(4)
    if signature not in (b"ABF ", b"ABF2"):
        raise InputFileError(
            f"{path} is not an ABF file (signature {signature!r}, expected 'ABF ' or 'ABF2')",
            hint="check the file type; NWB files are read with read_nwb",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            abf = pyabf.ABF(str(path), loadData=True)
    except Exception as exc:  # pyabf raises bare exceptions of many kinds on damaged files
        raise InputFileError(
            f"cannot read ABF file {path}: {type(exc).__name__}: {exc}",
            hint="the file is probably truncated or corrupt; re-copy it from the acquisition PC",
        ) from exc
    expected = int(abf.dataPointCount)
    have = int(abf.data.size) if hasattr(abf, "data") else 0
    if have < expected or abf.sweepCount < 1 or abf.sweepPointCount < 3:
        raise InputFileError(
            f"ABF file {path} is truncated: header announces {expected} samples, "
            f"file holds {have}",
            hint="re-copy the file; the recording was cut off",
        )
    return abf


def _clean(s) -> str:
    if isinstance(s, bytes):
        s = s.decode("latin-1", "replace")
    return str(s or "").strip().strip("\x00").strip()


def _channel_table(abf) -> list[dict]:
    rows = []
    for ch in abf.channelList:
        adc_unit = _clean(abf.adcUnits[ch]) if ch < len(abf.adcUnits) else "?"
        dac_unit = _clean(abf.dacUnits[ch]) if ch < len(abf.dacUnits) else ""
        rows.append({
            "channel": ch,
            "name": _clean(abf.adcNames[ch]) if ch < len(abf.adcNames) else "?",
            "unit": adc_unit,
            "dac_unit": dac_unit,
            "voltage": is_voltage_unit(adc_unit),
            "current": is_current_unit(adc_unit),
            "current_command": is_current_unit(dac_unit),
        })
    return rows


def _describe(rows: list[dict]) -> str:
    return ", ".join(f"{r['channel']}: {r['name']} ({r['unit']})" for r in rows)


def _pick_channel(abf, path: Path, channel: int | None) -> tuple[int, list[dict], str]:
    rows = _channel_table(abf)
    if channel is not None:
        if channel not in abf.channelList:
            raise SchemaError(
                f"{path.name}: channel {channel} does not exist (channels {_describe(rows)})",
                hint="pick one of the listed channels, or leave channel unset to choose the "
                "membrane-potential channel automatically",
            )
        row = rows[abf.channelList.index(channel)]
        if not row["voltage"]:
            raise SchemaError(
                f"{path.name}: channel {channel} ({row['name']}) records {row['unit']!r}, "
                "not a membrane potential",
                hint=f"choose a channel recorded in mV (channels {_describe(rows)})",
            )
        return channel, rows, f"channel {channel} ({row['name']}, {row['unit']}) chosen by the user"
    volts = [r for r in rows if r["voltage"]]
    if not volts:
        raise SchemaError(
            f"{path.name}: no channel records a membrane potential (channels {_describe(rows)})",
            hint="this looks like a voltage-clamp recording; current-clamp sweeps are needed",
        )
    preferred = [r for r in volts if r["current_command"]] or volts
    row = preferred[0]
    why = "its DAC is a current command" if row["current_command"] else "first voltage channel"
    note = f"membrane potential from channel {row['channel']} ({row['name']}, {row['unit']}; {why})"
    if len(volts) > 1:
        note += f"; other voltage channels ignored: {[r['channel'] for r in volts if r is not row]}"
    return row["channel"], rows, note


def read_abf(
    path: str | os.PathLike,
    channel: int | None = None,
    protocol: StepProtocol | None = None,
    command: CommandSource = "auto",
    cell_id: str | None = None,
) -> SweepSet:
    """Read a current-clamp ABF file into a :class:`SweepSet` (time ms, voltage mV, current pA).

    Parameters
    ----------
    path:
        ``.abf`` file (ABF1 or ABF2).
    channel:
        ADC channel holding the membrane potential; ``None`` picks the voltage channel whose
        DAC is a current command.
    protocol:
        State the step protocol when the file has no usable command waveform (e.g. files
        written without an epoch table); overrides the file's protocol.
    command:
        ``"auto"``: command from the epoch table, checked against a recorded current channel
        when there is one (recorded wins if they differ by more than 5 pA and 5 %);
        ``"protocol"``: epoch table only; ``"recorded"``: step amplitudes from the recorded
        current channel.
    cell_id:
        Defaults to the file stem.

    Raises
    ------
    InputFileError
        Missing, empty, truncated or non-ABF file.
    SchemaError
        No membrane-potential channel, a wrong ``channel``, a voltage-clamp command, or no
        current step in the stimulus.
    """
    if command not in ("auto", "protocol", "recorded"):
        raise ParameterError(f"command must be 'auto', 'protocol' or 'recorded', got {command!r}")
    path = existing_file(path, "ABF file")
    abf = _open_abf(path)
    ch, rows, note = _pick_channel(abf, path, channel)
    notes = [note, f"ABF {abf.abfVersionString}, protocol {_clean(abf.protocol)!r}, "
             f"{abf.sweepCount} sweeps at {abf.dataRate / 1e3:g} kHz"]
    row = rows[abf.channelList.index(ch)]
    dt_ms = 1e3 / float(abf.dataRate)

    volts, commands, times = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sweep in abf.sweepList:
            abf.setSweep(sweep, channel=ch)
            v = to_mV(np.array(abf.sweepY, dtype=np.float64), row["unit"], f"{path.name} ch {ch}")
            volts.append(v)
            times.append(np.arange(v.size, dtype=np.float64) * dt_ms)
            if protocol is None:
                commands.append(np.array(abf.sweepC, dtype=np.float64))

    if protocol is not None:
        if len(protocol.amplitudes_pA) != abf.sweepCount:
            raise ParameterError(
                f"protocol has {len(protocol.amplitudes_pA)} amplitudes but {path.name} has "
                f"{abf.sweepCount} sweeps", hint="give one amplitude per sweep",
            )
        commands = [protocol.command(t, k) for k, t in enumerate(times)]
        notes.append("command from the user's StepProtocol")
        return assemble_sweeps(
            [(k, f"sweep {k}", times[k], volts[k], commands[k]) for k in range(len(volts))],
            cell_id=cell_id or path.stem, source=str(path), notes=notes, protocol=protocol,
        )

    has_dac = bool(row["dac_unit"]) and any(np.any(np.isfinite(c)) for c in commands)
    if has_dac and not row["current_command"]:
        raise SchemaError(
            f"{path.name}: the command of channel {ch} is in {row['dac_unit']!r}: a voltage-clamp "
            "command, not a current-clamp step",
            hint="current-clamp recordings are needed; pick the channel driven by a pA command",
        )
    if has_dac:
        n_nan = sum(int(np.sum(~np.isfinite(c))) for c in commands)
        if n_nan:
            notes.append(f"{n_nan} command samples undefined in the epoch table (unsupported "
                         "epoch type) were set to 0 pA")
        commands = [to_pA(np.nan_to_num(c, nan=0.0), row["dac_unit"], "DAC command")
                    for c in commands]
    recorded = _recorded_current(abf, rows, ch, len(volts))
    window = find_step_window(commands, dt_ms) if has_dac else None
    if window is None:
        raise SchemaError(
            f"{path.name}: no current step in the protocol's command waveform (epoch table "
            "empty, waveform from an external file, or gap-free recording)",
            hint="pass protocol=StepProtocol(start_ms=..., end_ms=..., amplitudes_pA=[...])",
        )
    notes.append("command from the protocol's epoch table")
    if recorded is not None and command in ("auto", "recorded"):
        rec_ch, rec_traces = recorded
        measured = _measured_amplitudes(rec_traces, window.start_index, window.end_index)
        diff = measured - window.amplitude_pA
        disagree = np.abs(diff) > np.maximum(5.0, 0.05 * np.abs(window.amplitude_pA))
        if command == "recorded" or np.any(disagree):
            new = [c.copy() for c in commands]
            for k, c in enumerate(new):
                c[window.start_index:window.end_index] += diff[k]
            commands = new
            notes.append(
                f"step amplitudes taken from the recorded current (channel {rec_ch}); the "
                f"protocol differs from it by up to {np.max(np.abs(diff)):.1f} pA"
                + (f" in {int(np.sum(disagree))} sweeps" if np.any(disagree) else "")
            )
        else:
            notes.append(f"protocol agrees with the recorded current (channel {rec_ch}) "
                         f"within {np.max(np.abs(diff)):.1f} pA")
    elif command == "recorded":
        raise SchemaError(
            f"{path.name}: command='recorded' but no channel records a current "
            f"(channels {_describe(rows)})",
            hint="use command='auto' to take the command from the protocol",
        )
    return assemble_sweeps(
        [(k, f"sweep {k}", times[k], volts[k], commands[k]) for k in range(len(volts))],
        cell_id=cell_id or path.stem, source=str(path), notes=notes,
        window=step_window_at(commands, window.start_index, window.end_index),
    )


def _recorded_current(abf, rows: list[dict], voltage_channel: int, n: int):
    """The first ADC channel recording a current (pA/nA), as arrays in pA, or None."""
    for r in rows:
        if r["channel"] != voltage_channel and r["current"]:
            traces = []
            for sweep in abf.sweepList[:n]:
                abf.setSweep(sweep, channel=r["channel"])
                traces.append(to_pA(np.array(abf.sweepY, dtype=np.float64), r["unit"]))
            return r["channel"], traces
    return None


def _measured_amplitudes(traces: list[np.ndarray], start: int, end: int) -> np.ndarray:
    """Step amplitude of recorded currents: median inside the step minus median before it."""
    n = end - start
    inner = slice(start + n // 10, end - n // 10)  # avoid the settling edges
    out = []
    for c in traces:
        before = c[max(0, start - n // 4):start]
        out.append(float(np.median(c[inner]) - (np.median(before) if before.size else 0.0)))
    return np.round(np.array(out), 1)
