"""Recorded activity: spike trains of many units as one validated :class:`Recording`.

Readers
-------
* :func:`read_spike_csv` -- CSV/TSV with one row per spike (unit, time); seconds or ms.
* :func:`read_nwb_units` -- the Units table of an NWB 2 file (pynwb; times in s).
* :func:`read_neo` -- neo Block/Segment/SpikeTrains, or any file neo can read.
* :func:`read_mea_hdf5` -- the HDF5 MEA layout of the Eglen-lab retinal-wave repository and of
  Cotterill et al. 2016 (``spikes`` in s concatenated channel by channel, ``sCount`` per
  channel, optional ``names``, ``epos``, ``meta/``, ``summary/``).
* :func:`read_recording` -- picks one of the above from the file extension.

What every reader checks, and what it does (each outcome is counted in ``recording.report``):

* **NaN/infinite times** (and, in CSVs, missing units): an error by default
  (``nan_policy="raise"``); ``nan_policy="drop"`` drops and counts them.
* **Negative times**: always an error.  Times must run from the recording start; a negative
  time usually means times relative to a stimulus or a wrong offset.
* **Unsorted times**: the flat order across units is irrelevant and is always merged by time.
  But times that *decrease within one unit* mean a corrupt or mis-assembled file (typically
  trials concatenated with times restarting at 0, or a wrong column), so they are an error
  unless ``sort=True``, which sorts them and counts the out-of-order spikes.
* **Equal times within a unit**: a spike at exactly the time of the previous spike of its
  unit is either a duplicated row or a time stored at a coarse resolution (public MEA files
  have a few per cent of them); the data cannot tell which.  They are kept by default
  (``duplicates="keep"``) and counted with their units in ``report.changed``;
  ``duplicates="drop"`` drops and counts them.
* **Wrong time units**: a unit firing faster than 1000 Hz on average (one spike per ms) means
  seconds were read as ms; a recording longer than a day in which no unit exceeds 0.1 Hz, or
  one with >= 100 intervals none of which is shorter than 1 s, means ms were read as s.
  Either is an error naming the likely fix; ``check_time_units=False`` skips the check and
  ``check_time_units="warn"`` keeps its diagnosis as a report note instead (a sparse
  recording can be right and still look like a mix-up).
* **Spikes outside an explicit window** ``[t_start_ms, t_stop_ms)`` are dropped and counted.

Every drop reason (and every kept-but-changed count) lists its first few unit ids in
``report.examples``; :meth:`ReadReport.lines` renders it all for a human summary.
* **Empty recordings** and recordings with spikes from fewer than ``min_units`` units
  (default 2: network measures need pairs) raise :class:`~hetfit.errors.InsufficientDataError`.

The :class:`Recording` constructor itself validates structure (lengths, NaN, negative or
unsorted times, unit indices, window) and raises :class:`~hetfit.errors.SchemaError`; it does
not demand activity, so an empty simulation can still become a Recording (its measures are
NaN).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hetfit.errors import (
    InputFileError,
    InsufficientDataError,
    ParameterError,
    SchemaError,
    SimulationError,
    option,
    require,
)
from hetfit.io import atomic_write_text, existing_file

NanPolicy = Literal["raise", "drop"]
DuplicatePolicy = Literal["keep", "drop"]
TimeUnitCheck = bool | Literal["warn"]
_TIME_FACTORS = {"s": 1e3, "ms": 1.0}
N_EXAMPLES = 5  # unit ids listed per reason in a ReadReport
SAME_TIME = "spike(s) at the same time as the previous spike of their unit"


def _first_units(unit_ids: Sequence[str], counts: Any) -> tuple[str, ...]:
    """The first few units with a nonzero count (for a report's examples)."""
    return tuple(str(u) for u, c in zip(unit_ids, counts) if c)[:N_EXAMPLES]


@dataclass(frozen=True)
class ReadReport:
    """How a recording was read: rows (spikes) read, kept and dropped, and why.

    Attributes
    ----------
    source:
        File path or object description.
    rows_read, rows_kept, rows_dropped:
        Spikes (CSV rows) found, kept and dropped (``rows_read = rows_kept + rows_dropped``).
    dropped:
        Reason -> number of rows dropped for it.
    notes:
        Other facts worth knowing (sorting done, window extended, how the file was read ...).
    changed:
        Reason -> number of spikes kept but worth knowing about (e.g. spikes at the same
        time as the previous spike of their unit).
    examples:
        Reason (of ``dropped`` or ``changed``) -> the first few unit ids concerned (or
        ``row N`` for rows without a unit).
    """

    source: str
    rows_read: int
    rows_kept: int
    rows_dropped: int
    dropped: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    changed: dict[str, int] = field(default_factory=dict)
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: ``read N, kept K, dropped D (reason: n, ...)``."""
        text = f"{self.source}: read {self.rows_read}, kept {self.rows_kept}, dropped {self.rows_dropped}"
        if self.dropped:
            text += " (" + ", ".join(f"{k}: {v}" for k, v in self.dropped.items()) + ")"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain form (JSON output of ``hetfit fit``; :func:`read_report_lines` reads it)."""
        return {
            "source": self.source,
            "rows_read": int(self.rows_read),
            "rows_kept": int(self.rows_kept),
            "rows_dropped": int(self.rows_dropped),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "changed": {k: int(v) for k, v in self.changed.items()},
            "examples": {k: list(v) for k, v in self.examples.items()},
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """Human-readable lines: what was read, kept, dropped and changed, and the notes."""
        return read_report_lines(self.to_dict())


def read_report_lines(report: dict[str, Any] | None, what: str = "spikes") -> list[str]:
    """Human lines for a :meth:`ReadReport.to_dict` (as stored in a JSON result): rows read,
    kept and dropped, each reason with its count and first units, and the notes."""
    if not report:
        return []
    ex = report.get("examples") or {}

    def shown(reason: str, n: int) -> str:
        ids = [str(i) for i in ex.get(reason) or []]
        if not ids:
            return ""
        return f" ({', '.join(ids)}{', ...' if n > len(ids) else ''})"

    lines = [f"{report.get('source', 'recording')}: {report.get('rows_read', 0)} {what} read, "
             f"{report.get('rows_kept', 0)} kept, {report.get('rows_dropped', 0)} dropped"]
    lines += [f"  dropped {n}: {k}{shown(k, n)}" for k, n in (report.get("dropped") or {}).items()]
    lines += [f"  {n} {k}{shown(k, n)}" for k, n in (report.get("changed") or {}).items()]
    lines += [f"  note: {n}" for n in report.get("notes") or []]
    return lines


@dataclass(frozen=True)
class Recording:
    """Spike trains of ``n_units`` units as flat arrays sorted by time.

    Parameters
    ----------
    times_ms:
        Spike times in ms, ascending, within ``[t_start_ms, t_stop_ms)`` (float64).
    unit_index:
        Unit of each spike, an index into ``unit_ids`` (int64).
    unit_ids:
        Label of each unit (channel name, NWB unit id, neuron index ...); silent units allowed.
    t_start_ms, t_stop_ms:
        Recording window in ms (``t_start_ms >= 0``).
    metadata:
        Free-form provenance (source file, species, age, condition ...).
    report:
        What the reader read, kept and dropped.

    Raises
    ------
    SchemaError
        Mismatched lengths, NaN, negative or unsorted times, unit indices out of range,
        duplicate unit ids, or spikes outside the window.
    """

    times_ms: np.ndarray
    unit_index: np.ndarray
    unit_ids: tuple[str, ...]
    t_start_ms: float
    t_stop_ms: float
    metadata: dict[str, Any] = field(default_factory=dict)
    report: ReadReport | None = None

    def __post_init__(self) -> None:
        times = np.ascontiguousarray(np.asarray(self.times_ms, dtype=np.float64).ravel())
        units = np.asarray(self.unit_index).ravel()
        if units.size and not np.issubdtype(units.dtype, np.integer):
            raise SchemaError("unit_index must hold integer indices into unit_ids")
        units = np.ascontiguousarray(units.astype(np.int64))
        ids = tuple(str(u) for u in self.unit_ids)
        object.__setattr__(self, "times_ms", times)
        object.__setattr__(self, "unit_index", units)
        object.__setattr__(self, "unit_ids", ids)
        object.__setattr__(self, "t_start_ms", float(self.t_start_ms))
        object.__setattr__(self, "t_stop_ms", float(self.t_stop_ms))
        if times.shape != units.shape:
            raise SchemaError(
                f"times_ms has {times.size} spikes but unit_index has {units.size}",
                hint="give one unit index per spike",
            )
        if len(set(ids)) != len(ids):
            raise SchemaError("unit_ids contains duplicates", hint="give every unit a unique id")
        if not np.all(np.isfinite(times)):
            n = int(np.count_nonzero(~np.isfinite(times)))
            raise SchemaError(
                f"{n} spike time(s) are NaN or infinite",
                hint="drop them first (readers: nan_policy='drop')",
            )
        if not (math.isfinite(self.t_start_ms) and math.isfinite(self.t_stop_ms)):
            raise SchemaError("t_start_ms and t_stop_ms must be finite numbers of ms")
        if self.t_start_ms < 0:
            raise SchemaError(
                f"t_start_ms is negative ({self.t_start_ms})",
                hint="times are measured from the recording start, so t_start_ms >= 0",
            )
        if self.t_stop_ms <= self.t_start_ms:
            raise SchemaError(
                f"empty recording window [{self.t_start_ms}, {self.t_stop_ms}) ms",
                hint="t_stop_ms must exceed t_start_ms",
            )
        if times.size:
            if times.min() < 0:
                raise SchemaError(
                    f"{int(np.count_nonzero(times < 0))} spike time(s) are negative "
                    f"(earliest {times.min():g} ms)",
                    hint="times must run from the recording start; shift them so it is 0",
                )
            if np.any(np.diff(times) < 0):
                raise SchemaError(
                    "times_ms is not sorted ascending",
                    hint="build it with Recording.from_trains or a reader, which merge by time",
                )
            if times[0] < self.t_start_ms or times[-1] >= self.t_stop_ms:
                raise SchemaError(
                    f"spikes lie outside the window [{self.t_start_ms}, {self.t_stop_ms}) ms",
                    hint="widen the window or drop those spikes (Recording.select)",
                )
            if units.min() < 0 or units.max() >= len(ids):
                raise SchemaError(
                    f"unit_index values must lie in 0..{len(ids) - 1} (there are {len(ids)} unit ids)",
                )

    # -- basic properties -------------------------------------------------------------
    @property
    def n_units(self) -> int:
        """Number of units, silent ones included."""
        return len(self.unit_ids)

    @property
    def n_spikes(self) -> int:
        return int(self.times_ms.size)

    @property
    def duration_ms(self) -> float:
        return self.t_stop_ms - self.t_start_ms

    def spike_counts(self) -> np.ndarray:
        """Spikes per unit (shape (n_units,))."""
        return np.bincount(self.unit_index, minlength=self.n_units)

    @property
    def n_active_units(self) -> int:
        """Units with at least one spike."""
        return int(np.count_nonzero(self.spike_counts()))

    def firing_rates_hz(self) -> np.ndarray:
        """Mean rate of each unit over the window (Hz)."""
        return self.spike_counts() / (self.duration_ms / 1e3)

    def trains(self) -> list[np.ndarray]:
        """Per-unit spike-time arrays (ms), in ``unit_ids`` order."""
        order = np.argsort(self.unit_index, kind="stable")
        return np.split(self.times_ms[order], np.cumsum(self.spike_counts())[:-1])

    def spike_arrays(self) -> dict[str, Any]:
        """Keyword arguments for every :mod:`hetfit.measures` function."""
        return {
            "times_ms": self.times_ms,
            "units": self.unit_index,
            "n_units": self.n_units,
            "t_start_ms": self.t_start_ms,
            "t_stop_ms": self.t_stop_ms,
        }

    def summary(self) -> dict[str, Any]:
        """Plain summary (for ``--json`` output and logs)."""
        rates = self.firing_rates_hz()
        return {
            "n_units": self.n_units,
            "n_active_units": self.n_active_units,
            "n_spikes": self.n_spikes,
            "t_start_ms": self.t_start_ms,
            "t_stop_ms": self.t_stop_ms,
            "duration_s": self.duration_ms / 1e3,
            "mean_rate_hz": float(rates.mean()),
            "max_rate_hz": float(rates.max()),
            "report": self.report.to_dict() if self.report else None,
        }

    # -- derived recordings -----------------------------------------------------------
    def select(self, t_start_ms: float | None = None, t_stop_ms: float | None = None) -> Recording:
        """The same recording restricted to ``[t_start_ms, t_stop_ms)`` (ms)."""
        lo = self.t_start_ms if t_start_ms is None else float(t_start_ms)
        hi = self.t_stop_ms if t_stop_ms is None else float(t_stop_ms)
        if not (self.t_start_ms <= lo < hi <= self.t_stop_ms):
            raise ParameterError(
                f"window [{lo}, {hi}) ms is not inside the recording "
                f"[{self.t_start_ms}, {self.t_stop_ms}) ms"
            )
        a, b = np.searchsorted(self.times_ms, [lo, hi], side="left")
        report = self.report
        left_out = self.n_spikes - (b - a)
        if report is not None and left_out:  # the report says what the analysis leaves out
            reason = f"outside the analysed window [{lo:g}, {hi:g}) ms"
            outside = np.r_[self.unit_index[:a], self.unit_index[b:]]
            counts = np.bincount(outside, minlength=self.n_units)
            report = replace(
                report, rows_kept=report.rows_kept - left_out,
                rows_dropped=report.rows_dropped + left_out,
                dropped={**report.dropped, reason: report.dropped.get(reason, 0) + left_out},
                examples={**report.examples, reason: _first_units(self.unit_ids, counts)},
            )
        return replace(
            self, times_ms=self.times_ms[a:b], unit_index=self.unit_index[a:b],
            t_start_ms=lo, t_stop_ms=hi, report=report,
        )

    def require(self, min_units: int = 2, min_spikes: int = 1) -> Recording:
        """Return self, or raise InsufficientDataError if too few spikes or active units."""
        where = f" in {self.report.source}" if self.report else ""
        if self.n_spikes < max(1, min_spikes):
            raise InsufficientDataError(
                f"the recording has {self.n_spikes} spikes{where}; at least {max(1, min_spikes)} needed",
                hint="check the file, the selected window and the time unit",
            )
        if self.n_active_units < min_units:
            raise InsufficientDataError(
                f"the recording has spikes from {self.n_active_units} unit(s){where}; "
                f"network measures need at least {min_units}",
                hint="record more units" + option(", or pass min_units=1 to read it anyway",
                                                  ""),
            )
        return self

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write ``unit,time_ms`` rows atomically (readable with :func:`read_spike_csv`).

        A first comment line ``# hetfit-recording {json}`` keeps what rows alone would lose:
        the recording window and every unit, silent ones included.
        """
        import json

        ids = np.asarray(self.unit_ids, dtype=object)[self.unit_index]
        head = {"t_start_ms": float(self.t_start_ms), "t_stop_ms": float(self.t_stop_ms),
                "units": [str(u) for u in self.unit_ids]}
        lines = [f"{_CSV_HEADER} {json.dumps(head)}", "unit,time_ms"]
        lines += [f"{u},{t!r}" for u, t in zip(ids, self.times_ms.tolist())]
        return atomic_write_text(path, "\n".join(lines) + "\n")

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_trains(
        cls,
        trains: Sequence[Any],
        unit_ids: Sequence[Any] | None = None,
        t_start_ms: float = 0.0,
        t_stop_ms: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Recording:
        """Build from per-unit spike-time arrays in ms (each sorted); merged by time.

        ``t_stop_ms`` defaults to just after the last spike (pass the true end if known).
        """
        arrays = [np.asarray(t, dtype=np.float64).ravel() for t in trains]
        ids = [str(i) for i in range(len(arrays))] if unit_ids is None else list(unit_ids)
        if len(ids) != len(arrays):
            raise SchemaError(f"{len(arrays)} spike trains but {len(ids)} unit ids")
        for uid, a in zip(ids, arrays):
            if a.size > 1 and np.any(np.diff(a) < 0):
                raise SchemaError(f"spike times of unit {uid} are not sorted", hint="sort them")
        times = np.concatenate(arrays) if arrays else np.empty(0)
        units = np.repeat(np.arange(len(arrays), dtype=np.int64), [a.size for a in arrays])
        order = np.argsort(times, kind="stable")
        times, units = times[order], units[order]
        if t_stop_ms is None:
            t_stop_ms = float(np.nextafter(times.max(), np.inf)) if times.size else t_start_ms + 1.0
        return cls(times, units, tuple(ids), t_start_ms, t_stop_ms, dict(metadata or {}))

    @classmethod
    def from_spike_result(cls, result: Any, population: str | None = None) -> Recording:
        """A Recording of a simulation (all neurons, or one population), window [0, t_max_ms).

        Raises
        ------
        SimulationError
            If the simulation diverged: its spikes are not valid data.
        """
        if getattr(result, "diverged", False):
            raise SimulationError(
                "this simulation diverged; its spikes are not valid data",
                hint="count it as failed and drop it",
            )
        if population is None:
            times, units = result.spike_times_ms, result.spike_neurons
            ids = []
            for name, size in zip(result.population_names, result.population_sizes):
                ids += [f"{name}{i}" for i in range(size)]
        else:
            times, units = result.spikes_of(population)
            size = result.population_sizes[list(result.population_names).index(population)]
            ids = [f"{population}{i}" for i in range(size)]
        times = np.asarray(times, dtype=np.float64)
        units = np.asarray(units, dtype=np.int64)
        if times.size > 1 and np.any(np.diff(times) < 0):
            order = np.argsort(times, kind="stable")
            times, units = times[order], units[order]
        meta = {"source": "simulation", "population": population, **dict(result.meta)}
        report = ReadReport("simulation", int(times.size), int(times.size), 0)
        return cls(times, units, tuple(ids), 0.0, float(result.t_max_ms), meta, report)


# ---------------------------------------------------------------------------------------
# Validation shared by all readers
# ---------------------------------------------------------------------------------------


def check_time_units(recording: Recording, *, raise_error: bool = True) -> str | None:
    """Raise SchemaError when the spike times look like the wrong unit (see module docstring).

    With ``raise_error=False`` the diagnosis is returned instead (``None`` when the times look
    plausible), for callers that record it rather than stop.
    """
    rec = recording
    if rec.n_spikes == 0:
        return None
    counts = rec.spike_counts()
    rates = counts / (rec.duration_ms / 1e3)
    busy = counts >= 10
    source = rec.report.source if rec.report else "the recording"
    csv = rec.metadata.get("format") == "csv"  # only a CSV's time unit is the user's choice

    def fail(message: str, unit: str) -> str:
        if not raise_error:
            return message
        confirm = "(or check_time_units=False if the times are right)"
        if unit == "s":
            hint = option(f"pass time_unit='s' {confirm}",
                          "pass --time-unit s (or --no-time-unit-check if the times are right)"
                          if csv else "check the time unit the file was written with (or "
                          "pass --no-time-unit-check if the times are right)")
        else:
            hint = option(f"pass time_unit='ms' {confirm}",
                          "pass --time-unit ms (or, if the times really are in seconds, "
                          "--no-time-unit-check)" if csv else "check the time unit the file "
                          "was written with (or, if the times are right, pass "
                          "--no-time-unit-check)")
        raise SchemaError(message, hint=hint)

    if np.any(busy) and rates[busy].max() > 1000.0:
        u = int(np.flatnonzero(busy)[np.argmax(rates[busy])])
        return fail(
            f"unit {rec.unit_ids[u]} of {source} fires {rates[u]:.0f} Hz on average over "
            f"{rec.duration_ms:g} ms, faster than one spike per ms: the times are probably in "
            "seconds but were read as milliseconds", "s")
    day_ms = 86_400_000.0
    if rec.duration_ms > day_ms and rates.max() < 0.1:
        return fail(
            f"{source} lasts {rec.duration_ms / day_ms:.1f} days and no unit fires faster than "
            "0.1 Hz: the times are probably in milliseconds but were read as seconds", "ms")
    isi = np.diff(rec.times_ms[np.argsort(rec.unit_index, kind="stable")])
    same_unit = np.diff(np.sort(rec.unit_index, kind="stable")) == 0
    isi = isi[same_unit]
    positive = isi[isi > 0]
    if isi.size >= 100 and positive.size and positive.min() > 1000.0:
        return fail(
            f"none of the {isi.size} inter-spike intervals of {source} is shorter than "
            f"{positive.min() / 1e3:.1f} s: the times are probably in milliseconds but were "
            "read as seconds", "ms")
    return None


def _assemble(
    trains: list[np.ndarray],
    unit_ids: list[str],
    *,
    source: str,
    t_start_ms: float | None,
    t_stop_ms: float | None,
    nominal_stop_ms: float | None,
    nan_policy: NanPolicy,
    sort: bool,
    min_units: int,
    check_units: TimeUnitCheck,
    metadata: dict[str, Any],
    duplicates: DuplicatePolicy = "keep",
    dropped: dict[str, int] | None = None,
    notes: list[str] | None = None,
    rows_read: int | None = None,
    examples: dict[str, tuple[str, ...]] | None = None,
) -> Recording:
    """Validate per-unit trains (ms, file order) and build a Recording with its report."""
    if nan_policy not in ("raise", "drop"):
        raise ParameterError(f"nan_policy must be 'raise' or 'drop', got {nan_policy!r}")
    if duplicates not in ("keep", "drop"):
        raise ParameterError(f"duplicates must be 'keep' or 'drop', got {duplicates!r}")
    if check_units not in (True, False, "warn"):
        raise ParameterError(
            f"check_time_units must be True, False or 'warn', got {check_units!r}")
    dropped = dict(dropped or {})
    examples = dict(examples or {})
    changed: dict[str, int] = {}
    notes = list(notes or [])
    n_read = int(sum(a.size for a in trains)) if rows_read is None else int(rows_read)

    def count(into: dict[str, int], reason: str, per_unit: list[int]) -> None:
        into[reason] = into.get(reason, 0) + int(sum(per_unit))
        examples[reason] = _first_units(unit_ids, per_unit)

    # NaN / infinite times
    bad = [int(np.count_nonzero(~np.isfinite(a))) for a in trains]
    n_bad = sum(bad)
    if n_bad:
        if nan_policy == "raise":
            raise SchemaError(
                f"{n_bad} spike time(s) in {source} are NaN or infinite",
                hint="fix the file, or " + option(
                    "pass nan_policy='drop' to drop and count them",
                    "pass --nan-policy drop to drop and count them", "drop those rows"),
            )
        trains = [a[np.isfinite(a)] for a in trains]
        count(dropped, "NaN or infinite time", bad)
    # negative times
    n_neg = sum(int(np.count_nonzero(a < 0)) for a in trains)
    if n_neg:
        first = min(float(a.min()) for a in trains if a.size)
        raise SchemaError(
            f"{n_neg} spike time(s) in {source} are negative (earliest {first:g} ms)",
            hint="times must run from the recording start; shift them so the recording starts "
            "at 0 (e.g. subtract the start time)",
        )
    # order within units
    decreasing = [(uid, int(np.count_nonzero(np.diff(a) < 0))) for uid, a in zip(unit_ids, trains)]
    decreasing = [(uid, n) for uid, n in decreasing if n]
    if decreasing:
        total = sum(n for _, n in decreasing)
        if not sort:
            uid, n = decreasing[0]
            raise SchemaError(
                f"spike times decrease {total} time(s) within units of {source} (first: unit "
                f"{uid}, {n} time(s)); times restarting within a unit usually mean concatenated "
                "trials or a wrong column",
                hint="fix the file, or " + option(
                    "pass sort=True if the row order is meaningless",
                    "pass --sort-spikes if the row order is meaningless", "sort it by time"),
            )
        trains = [np.sort(a, kind="stable") for a in trains]
        notes.append(f"sorted spike times of {len(decreasing)} unit(s) ({total} out-of-order steps"
                     f"; first units {', '.join(u for u, _ in decreasing[:N_EXAMPLES])})")
    # Equal times within a unit: two spikes of one neuron cannot coincide, so they are either
    # duplicated rows or times stored at a coarse resolution (public MEA files have a few per
    # cent of these).  Which one cannot be told from the data, so they are kept by default --
    # and always counted with their units, so the summary shows them -- or dropped on request.
    same = [np.r_[False, np.diff(a) == 0] if a.size else np.zeros(0, bool) for a in trains]
    per_unit = [int(m.sum()) for m in same]
    if sum(per_unit):
        if duplicates == "drop":
            trains = [a[~m] for a, m in zip(trains, same)]
            count(dropped, SAME_TIME, per_unit)
        else:
            count(changed, SAME_TIME + ", kept", per_unit)
            notes.append("spikes that share their time with the previous spike of the same unit "
                         "are kept (often a coarse time resolution in the file); if they are "
                         "duplicated rows, "
                         + option("pass duplicates='drop'", "pass --duplicate-spikes drop",
                                  "remove them from the file"))
    # window
    last = max((float(a[-1]) for a in trains if a.size), default=None)
    start = 0.0 if t_start_ms is None else float(t_start_ms)
    if t_stop_ms is not None:
        stop = float(t_stop_ms)
    else:
        stop = nominal_stop_ms if nominal_stop_ms is not None else None
        if last is not None and (stop is None or last >= stop):
            if stop is not None:
                notes.append(
                    f"spikes run past the nominal end ({stop:g} ms); window extended to the "
                    f"last spike ({last:g} ms)"
                )
            else:
                notes.append("recording end not given: window ends at the last spike")
            stop = float(np.nextafter(last, np.inf))
        if stop is None:
            stop = start + 1.0
    if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start or start < 0:
        raise ParameterError(
            f"invalid recording window [{start}, {stop}) ms",
            hint="pass 0 <= t_start_ms < t_stop_ms (ms)",
        )
    outside = [int(np.count_nonzero((a < start) | (a >= stop))) for a in trains]
    if sum(outside):
        trains = [a[(a >= start) & (a < stop)] for a in trains]
        count(dropped, "outside the window", outside)
        notes.append(f"recording window [{start:g}, {stop:g}) ms")
    kept = int(sum(a.size for a in trains))
    report = ReadReport(
        source=source,
        rows_read=n_read,
        rows_kept=kept,
        rows_dropped=n_read - kept,
        dropped=dropped,
        notes=tuple(notes),
        changed=changed,
        examples=examples,
    )
    times = np.concatenate(trains) if trains else np.empty(0)
    units = np.repeat(np.arange(len(trains), dtype=np.int64), [a.size for a in trains])
    order = np.argsort(times, kind="stable")
    rec = Recording(times[order], units[order], tuple(unit_ids), start, stop, metadata, report)
    if rec.n_spikes == 0:
        raise InsufficientDataError(
            f"no spikes in {source}" + (f" after dropping {n_read} row(s)" if n_read else ""),
            hint="check the file, the window and the time unit",
        )
    if check_units is True:
        check_time_units(rec)
    elif check_units == "warn":
        doubt = check_time_units(rec, raise_error=False)
        if doubt:  # asked not to stop on it: keep the diagnosis where the summary shows it
            object.__setattr__(rec, "report", replace(
                report, notes=(*report.notes, f"time-unit check not applied: {doubt}")))
    return rec.require(min_units=min_units)


def _time_factor(time_unit: str) -> float:
    if time_unit not in _TIME_FACTORS:
        raise ParameterError(
            f"unknown time unit {time_unit!r}",
            hint=option("use time_unit='s' or time_unit='ms'", "use --time-unit s or ms")
        )
    return _TIME_FACTORS[time_unit]


# ---------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------


def read_spike_csv(
    path: str | os.PathLike,
    time_unit: Literal["s", "ms"] | None = None,
    unit_column: str = "unit",
    time_column: str | None = None,
    sep: str | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    nan_policy: NanPolicy = "raise",
    sort: bool = False,
    min_units: int = 2,
    check_time_units: TimeUnitCheck = True,
    duplicates: DuplicatePolicy = "keep",
    encoding: str | None = None,
) -> Recording:
    """Read a table with one row per spike: a unit column and a time column.

    Parameters
    ----------
    path:
        CSV (``,``) or TSV (``.tsv``/``.tab``: tab) file with a header row.
    time_unit:
        ``"s"`` or ``"ms"``.  May be omitted when the time column's name says it
        (``time_s``/``time_ms``, ``t_s``/``t_ms``); otherwise it is required, because the two
        are easy to confuse (the plausibility check catches most confusions anyway).
    unit_column:
        Column with unit labels (any strings or integers).
    time_column:
        Column with spike times; default ``time``, ``time_ms``, ``time_s``, ``t_ms`` or ``t_s``
        (the first present).
    sep:
        Column separator (default: the extension's -- tab for ``.tsv``/``.tab``, else ``,``
        -- unless the header is not split by it but by ``;``, tab or ``|``: semicolon- and
        tab-delimited exports are read as such, and noted).  Decimal commas are read when
        the separator is not a comma.
    t_start_ms, t_stop_ms:
        Recording window in ms (default: 0 to just after the last spike).  Spikes outside an
        explicit window are dropped and counted.
    nan_policy, sort, min_units, check_time_units, duplicates:
        See the module docstring.
    encoding:
        Text encoding (default UTF-8).
    """
    import pandas as pd

    from hetfit.data_adapters.tables import read_text_table

    p = existing_file(path, "spike table")
    default_sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    head = _csv_header(p)
    read_notes: list[str] = []
    kw: dict[str, Any] = {"skiprows": 1 if head else 0}
    if sep is not None:
        kw["sep"] = sep
    if encoding is not None:
        kw["encoding"] = encoding
    try:
        df = read_text_table(p, default_sep, kw, read_notes)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"cannot read {p} as text ({exc.reason} at byte {exc.start})",
            hint=option("pass encoding='latin-1' (or the file's encoding)",
                        "pass --encoding latin-1 (or the file's encoding)",
                        "save it as UTF-8 text"),
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(
            f"cannot read {p} as a table: {' '.join(str(exc).split())}",
            hint="check delimiters and quoting"
            + option(", or pass sep=...", ", or pass --delimiter (e.g. --delimiter ';')"),
        ) from exc
    cols = [str(c).strip() for c in df.columns]
    df.columns = cols
    if time_column is None:
        for cand in ("time", "time_ms", "time_s", "t_ms", "t_s"):
            if cand in cols:
                time_column = cand
                break
    missing = [c for c in (unit_column, time_column) if c is None or c not in cols]
    if missing:
        raise SchemaError(
            f"{p} lacks the column(s) {[m for m in missing if m] or ['time']} "
            f"(columns present: {cols})",
            hint=option("name them with unit_column= and time_column=",
                        "name the columns 'unit' and 'time_ms' (or 'time_s', or 'time' with "
                        "--time-unit)"),
        )
    if time_unit is None:
        suffix = time_column.rsplit("_", 1)[-1] if "_" in time_column else ""
        if suffix not in _TIME_FACTORS:
            raise ParameterError(
                f"the time unit of column {time_column!r} in {p} is not known",
                hint=option("pass time_unit='s' or time_unit='ms'",
                            "pass --time-unit s or --time-unit ms",
                            "name the column 'time_s' or 'time_ms'"),
            )
        time_unit = suffix  # type: ignore[assignment]
    factor = _time_factor(time_unit)
    raw_t = pd.to_numeric(df[time_column], errors="coerce")
    non_numeric = int((raw_t.isna() & df[time_column].notna()).sum())
    if non_numeric:
        bad = df.loc[raw_t.isna() & df[time_column].notna(), time_column].iloc[0]
        raise SchemaError(
            f"{non_numeric} value(s) in column {time_column!r} of {p} are not numbers "
            f"(e.g. {bad!r})",
            hint="the time column must hold numbers only",
        )
    t = raw_t.to_numpy(dtype=np.float64) * factor
    unit_raw = df[unit_column]
    no_unit = unit_raw.isna().to_numpy()
    dropped: dict[str, int] = {}
    n_rows = len(df)
    examples: dict[str, tuple[str, ...]] = {}
    if no_unit.any():
        if nan_policy == "raise":
            raise SchemaError(
                f"{int(no_unit.sum())} row(s) of {p} have no unit",
                hint="fix the file, or " + option(
                    "pass nan_policy='drop' to drop and count them",
                    "pass --nan-policy drop to drop and count them", "drop those rows"),
            )
        dropped["missing unit"] = int(no_unit.sum())
        examples["missing unit"] = tuple(  # 1-based data rows
            f"row {int(i) + 1}" for i in np.flatnonzero(no_unit)[:N_EXAMPLES])
        t, unit_raw = t[~no_unit], unit_raw[~no_unit]
    if head:  # window and unit list (silent units included) written by Recording.to_csv
        ids = list(head["units"])
        pos = {u: k for k, u in enumerate(ids)}
        labels = np.asarray(unit_raw.astype(str))
        unknown = sorted(set(labels) - set(pos))
        if unknown:
            raise SchemaError(f"{p}: unit(s) {unknown[:5]} are not in the file's unit list",
                              hint="the '# hetfit-recording' line and the rows disagree")
        inverse = np.array([pos[u] for u in labels], dtype=np.int64)
        t_start_ms = head["t_start_ms"] if t_start_ms is None else t_start_ms
        t_stop_ms = head["t_stop_ms"] if t_stop_ms is None else t_stop_ms
    else:
        ids, inverse = _unit_labels(unit_raw)
    trains = [t[inverse == k] for k in range(len(ids))]  # file order within each unit
    return _assemble(
        trains, ids, source=str(p), t_start_ms=t_start_ms, t_stop_ms=t_stop_ms,
        nominal_stop_ms=None, nan_policy=nan_policy, sort=sort, min_units=min_units,
        check_units=check_time_units, duplicates=duplicates, dropped=dropped,
        rows_read=n_rows, examples=examples, notes=read_notes,
        metadata={"source": str(p), "format": "csv", "time_unit_in_file": time_unit},
    )


_CSV_HEADER = "# hetfit-recording"


def _csv_header(path: Path) -> dict[str, Any] | None:
    """The ``# hetfit-recording {json}`` first line of a spike CSV, if present."""
    import json

    with open(path, "rb") as fh:
        first = fh.readline(1 << 22).decode("utf-8", errors="replace").strip()
    if not first.startswith(_CSV_HEADER):
        return None
    try:
        head = json.loads(first[len(_CSV_HEADER):])
        ok = (isinstance(head.get("units"), list) and float(head["t_stop_ms"])
              > float(head["t_start_ms"]) >= 0)
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise SchemaError(f"{path}: malformed '{_CSV_HEADER}' line",
                          hint="it must hold JSON with t_start_ms, t_stop_ms and units; "
                               "delete the line to read the rows alone")
    return head


def _unit_labels(values: Any) -> tuple[list[str], np.ndarray]:
    """Sorted unique unit labels (numeric order when all numeric) and each row's index."""
    import pandas as pd

    num = pd.to_numeric(values, errors="coerce")
    if len(values) and not num.isna().any():
        arr = num.to_numpy(dtype=np.float64)
        uniq, inverse = np.unique(arr, return_inverse=True)
        ids = [str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniq]
        return ids, inverse.ravel()
    arr = np.asarray(values.astype(str))
    uniq, inverse = np.unique(arr, return_inverse=True)
    return [str(u) for u in uniq], inverse.ravel()


def read_nwb_units(
    path: str | os.PathLike,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    nan_policy: NanPolicy = "raise",
    sort: bool = False,
    min_units: int = 2,
    check_time_units: TimeUnitCheck = True,
    duplicates: DuplicatePolicy = "keep",
    backend: Literal["auto", "pynwb", "h5py"] = "auto",
) -> Recording:
    """Read the Units table of an NWB 2 file (spike times in s, as NWB prescribes).

    The window is ``[t_start_ms, t_stop_ms)`` if given, else the span of the units'
    ``obs_intervals`` when present, else 0 to just after the last spike.

    Parameters
    ----------
    backend:
        ``"pynwb"`` builds the file with pynwb; ``"h5py"`` reads the Units table's datasets
        (``/units/id``, ``spike_times``, ``spike_times_index``, ``obs_intervals[_index]``)
        directly, which works where the installed pynwb cannot build a file (e.g. a newer
        schema or an hdmf/pynwb version clash); ``"auto"`` tries pynwb, then h5py, and says
        which one it used in the report.
    """
    p = existing_file(path, "NWB file")
    if backend not in ("auto", "pynwb", "h5py"):
        raise ParameterError(f"backend must be 'auto', 'pynwb' or 'h5py', got {backend!r}")
    notes: list[str] = []
    parsed = None
    if backend in ("auto", "pynwb"):
        try:
            parsed = _nwb_units_pynwb(p)
            notes.append("read with pynwb")
        except SchemaError:
            raise
        except Exception as exc:  # pynwb/hdmf raise many types while building a file
            if backend == "pynwb":
                if isinstance(exc, (InputFileError, ImportError)):
                    raise
                raise InputFileError(f"pynwb cannot read {p}: {exc}") from exc
            reason = " ".join(str(exc).split())[:160]
            notes.append(f"read with h5py (pynwb could not: {type(exc).__name__}: {reason})")
    if parsed is None:
        parsed = _nwb_units_h5py(p)
        if backend == "h5py":
            notes.append("read with h5py")
    ids, trains, nominal_start, nominal_stop, meta = parsed
    return _assemble(
        trains, ids, source=str(p),
        t_start_ms=t_start_ms if t_start_ms is not None else (nominal_start or None),
        t_stop_ms=t_stop_ms, nominal_stop_ms=nominal_stop, nan_policy=nan_policy, sort=sort,
        min_units=min_units, check_units=check_time_units, duplicates=duplicates,
        metadata=meta, notes=notes,
    )


def _no_units(p: Path) -> SchemaError:
    return SchemaError(
        f"{p} has no Units table (no sorted spike times)",
        hint="recordings need spike times in nwbfile.units; raw voltage is not read here",
    )


def _obs_span(intervals: list[np.ndarray]) -> tuple[float | None, float | None]:
    iv = [np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in intervals if np.size(a)]
    if not iv:
        return None, None
    allv = np.concatenate(iv)
    return float(allv[:, 0].min()) * 1e3, float(allv[:, 1].max()) * 1e3


def _nwb_units_pynwb(p: Path):
    pynwb = require("pynwb", "nwb", "reading NWB files")
    try:
        io = pynwb.NWBHDF5IO(str(p), "r", load_namespaces=True)
    except Exception as exc:  # not HDF5 at all: no point in trying h5py either
        raise InputFileError(f"cannot read {p} as an NWB file: {exc}") from exc
    try:
        nwbfile = io.read()
        units = nwbfile.units
        if units is None or len(units) == 0:
            raise _no_units(p)
        ids = [str(i) for i in units.id[:]]
        trains = [np.asarray(units.get_unit_spike_times(i), dtype=np.float64) * 1e3
                  for i in range(len(units))]
        start = stop = None
        if "obs_intervals" in units.colnames:
            start, stop = _obs_span([units.get_unit_obs_intervals(i) for i in range(len(units))])
        meta = {
            "source": str(p),
            "format": "nwb",
            "identifier": str(nwbfile.identifier),
            "session_description": str(nwbfile.session_description),
            "session_start_time": str(nwbfile.session_start_time),
        }
    finally:
        io.close()
    return ids, trains, start, stop, meta


def _ragged(group: Any, name: str) -> list[np.ndarray]:
    data = np.asarray(group[name][()])
    ends = np.asarray(group[f"{name}_index"][()], dtype=np.int64).ravel()
    starts = np.concatenate(([0], ends[:-1]))
    return [data[a:b] for a, b in zip(starts, ends)]


def _nwb_units_h5py(p: Path):
    import h5py

    try:
        fh = h5py.File(p, "r")
    except OSError as exc:
        raise InputFileError(f"cannot read {p} as an NWB (HDF5) file: {exc}") from exc
    with fh:
        if "units" not in fh or "spike_times" not in fh["units"]:
            raise _no_units(p)
        g = fh["units"]
        if "spike_times_index" not in g:
            raise SchemaError(f"{p}: units/spike_times has no spike_times_index")
        trains = [np.asarray(a, dtype=np.float64) * 1e3 for a in _ragged(g, "spike_times")]
        ids = [str(i) for i in np.asarray(g["id"][()]).ravel()] if "id" in g else [
            str(i) for i in range(len(trains))]
        if len(ids) != len(trains):
            raise SchemaError(f"{p}: {len(ids)} unit ids but {len(trains)} spike trains")
        start = stop = None
        if "obs_intervals" in g and "obs_intervals_index" in g:
            start, stop = _obs_span(_ragged(g, "obs_intervals"))
        meta = {"source": str(p), "format": "nwb"}
        for key in ("identifier", "session_description", "session_start_time"):
            if key in fh:
                meta[key] = str(_scalar(fh[key][()]))
    return ids, trains, start, stop, meta


def read_neo(
    source: Any,
    segment: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    nan_policy: NanPolicy = "raise",
    sort: bool = False,
    min_units: int = 2,
    check_time_units: TimeUnitCheck = True,
    duplicates: DuplicatePolicy = "keep",
) -> Recording:
    """Read spike trains from neo objects or from any file format neo reads.

    Parameters
    ----------
    source:
        A path (read with ``neo.io.get_io``), a ``neo.Block``, a ``neo.Segment`` or a list of
        ``neo.SpikeTrain``.  Times are converted to ms from their own units.
    segment:
        Which segment of a Block to read; required when the Block has several (their times
        restart, so they are never concatenated silently).
    t_start_ms, t_stop_ms:
        Window (ms); default the spike trains' own ``t_start``/``t_stop`` span.
    """
    neo = require("neo", "neo", "reading neo files")
    desc = type(source).__name__
    if isinstance(source, (str, os.PathLike)):
        p = existing_file(source, "neo file")
        desc = str(p)
        try:
            source = neo.io.get_io(str(p)).read_block()
        except Exception as exc:  # neo raises many types for unknown or corrupt files
            raise InputFileError(f"neo cannot read {p}: {exc}") from exc
    if isinstance(source, neo.Block):
        segs = source.segments
        if not segs:
            raise SchemaError(f"the neo Block from {desc} has no segments")
        if segment is None:
            if len(segs) > 1:
                raise ParameterError(
                    f"the neo Block from {desc} has {len(segs)} segments",
                    hint=option(f"choose one with segment=0..{len(segs) - 1}",
                                f"choose one with --segment 0..{len(segs) - 1}",
                                "save one segment per file"),
                )
            segment = 0
        if not 0 <= segment < len(segs):
            raise ParameterError(f"segment {segment} out of range 0..{len(segs) - 1}")
        source = segs[segment]
    spiketrains = list(source.spiketrains) if isinstance(source, neo.Segment) else list(source)
    if not all(isinstance(st, neo.SpikeTrain) for st in spiketrains):
        raise ParameterError(
            "read_neo needs a path, neo.Block, neo.Segment or a list of neo.SpikeTrain"
        )
    if not spiketrains:
        raise InsufficientDataError(f"no spike trains in {desc}")
    trains, ids = [], []
    starts, stops = [], []
    for i, st in enumerate(spiketrains):
        trains.append(np.asarray(st.rescale("ms").magnitude, dtype=np.float64).ravel())
        starts.append(float(st.t_start.rescale("ms").magnitude))
        stops.append(float(st.t_stop.rescale("ms").magnitude))
        label = st.name or st.annotations.get("unit_id") or st.annotations.get("id")
        ids.append(str(label) if label is not None else f"unit{i}")
    if len(set(ids)) != len(ids):
        ids = [f"{u}#{i}" for i, u in enumerate(ids)]
    start = t_start_ms if t_start_ms is not None else max(0.0, min(starts))
    return _assemble(
        trains, ids, source=desc, t_start_ms=start, t_stop_ms=t_stop_ms,
        nominal_stop_ms=max(stops), nan_policy=nan_policy, sort=sort, min_units=min_units,
        check_units=check_time_units, duplicates=duplicates,
        metadata={"source": desc, "format": "neo"},
    )


def _scalar(value: Any) -> Any:
    arr = np.asarray(value)
    if arr.size == 1:
        v = arr.reshape(-1)[0]
        if isinstance(v, (bytes, np.bytes_)):
            return v.decode("utf-8", "replace")
        return v.item() if hasattr(v, "item") else v
    if arr.dtype.kind == "S":
        return [x.decode("utf-8", "replace") for x in arr.reshape(-1)]
    return arr.tolist()


def read_mea_hdf5(
    path: str | os.PathLike,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
    nan_policy: NanPolicy = "raise",
    sort: bool = False,
    min_units: int = 2,
    check_time_units: TimeUnitCheck = True,
    duplicates: DuplicatePolicy = "keep",
) -> Recording:
    """Read an MEA recording in the Eglen-lab HDF5 layout (retinal-wave repository, Cotterill 2016).

    Layout: ``spikes`` (s, concatenated channel by channel), ``sCount`` (spikes per channel),
    optional ``names`` (channel labels; otherwise ``ch_0, ch_1, ...``), ``epos`` (2 x N
    electrode positions, um), ``array``, ``meta/*`` and ``summary/duration`` (s).  The window
    is ``[0, summary/duration)``, extended to the last spike when spikes run past it (noted in
    the report).
    """
    import h5py

    p = existing_file(path, "MEA HDF5 file")
    try:
        fh = h5py.File(p, "r")
    except OSError as exc:
        raise InputFileError(f"cannot open {p} as HDF5: {exc}") from exc
    with fh:
        missing = [k for k in ("spikes", "sCount") if k not in fh]
        if missing:
            raise SchemaError(
                f"{p} is not in the MEA HDF5 layout: no {missing} dataset(s) "
                f"(top-level keys: {sorted(fh.keys())})",
                hint="expected 'spikes' (s) and 'sCount' (spikes per channel)",
            )
        spikes = np.asarray(fh["spikes"][()], dtype=np.float64).ravel() * 1e3
        counts = np.asarray(fh["sCount"][()]).ravel().astype(np.int64)
        if counts.sum() != spikes.size or np.any(counts < 0):
            raise SchemaError(
                f"{p}: sCount sums to {counts.sum()} but there are {spikes.size} spikes",
                hint="the file is truncated or not in this layout",
            )
        if "names" in fh:
            ids = [str(x) for x in _scalar(fh["names"][()])] if counts.size > 1 else [
                str(_scalar(fh["names"][()]))]
        else:
            ids = [f"ch_{i}" for i in range(counts.size)]
        meta: dict[str, Any] = {"source": str(p), "format": "mea_hdf5"}
        if "meta" in fh:
            for k in fh["meta"]:
                meta[k] = _scalar(fh["meta"][k][()])
        if "array" in fh:
            meta["array"] = _scalar(fh["array"][()])
        if "epos" in fh:
            epos = np.asarray(fh["epos"][()], dtype=np.float64)
            if epos.shape == (2, counts.size):
                meta["electrode_positions_um"] = epos.T.tolist()
        nominal = None
        if "summary" in fh and "duration" in fh["summary"]:
            nominal = float(np.asarray(fh["summary"]["duration"][()]).reshape(-1)[0]) * 1e3
            meta["nominal_duration_s"] = nominal / 1e3
    if len(ids) != counts.size or len(set(ids)) != len(ids):
        ids = [f"ch_{i}" for i in range(counts.size)]
    trains = np.split(spikes, np.cumsum(counts)[:-1])
    return _assemble(
        list(trains), ids, source=str(p), t_start_ms=t_start_ms, t_stop_ms=t_stop_ms,
        nominal_stop_ms=nominal, nan_policy=nan_policy, sort=sort, min_units=min_units,
        check_units=check_time_units, duplicates=duplicates, metadata=meta,
    )


_READERS = {
    ".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv",
    ".nwb": "nwb",
    ".h5": "mea", ".hdf5": "mea",
}


def read_recording(
    path: str | os.PathLike,
    format: Literal["csv", "nwb", "neo", "mea"] | None = None,
    **kwargs: Any,
) -> Recording:
    """Read a recording, choosing the reader from ``format`` or the file extension.

    ``.csv/.tsv/.tab/.txt`` -> :func:`read_spike_csv`, ``.nwb`` -> :func:`read_nwb_units`,
    ``.h5/.hdf5`` -> :func:`read_mea_hdf5`, anything else -> :func:`read_neo`.  Keyword
    arguments go to the reader.
    """
    p = existing_file(path, "recording")
    fmt = format or _READERS.get(p.suffix.lower(), "neo")
    readers = {"csv": read_spike_csv, "nwb": read_nwb_units, "neo": read_neo, "mea": read_mea_hdf5}
    if fmt not in readers:
        raise ParameterError(f"unknown recording format {fmt!r}", hint=f"use one of {sorted(readers)}")
    return readers[fmt](p, **kwargs)
