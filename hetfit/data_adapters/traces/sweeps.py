"""Plain data model for current-clamp sweeps: time (ms), membrane potential (mV), command (pA).

Readers (:mod:`.nwb`, :mod:`.abf`) turn files into a :class:`SweepSet`; feature extraction
(:mod:`.features`) only ever sees this model, so it does not care which file format or rig the
data came from.  Units are normalized once, here: time in ms, voltage in mV, current in pA.

The stimulus of every sweep is described by its *main step*: start/end (ms) and amplitude (pA,
relative to the holding current).  :func:`find_step_window` recovers it from command waveforms;
:class:`StepProtocol` lets a user state it when a file stores no usable command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from hetfit.errors import ParameterError, SchemaError

# Factors that convert a stored unit into mV / pA.  Keys are lower-case, spaces removed.
VOLTAGE_UNITS: dict[str, float] = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
    "uv": 1e-3, "µv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
}
CURRENT_UNITS: dict[str, float] = {
    "pa": 1.0, "picoampere": 1.0, "picoamperes": 1.0,
    "na": 1e3, "nanoampere": 1e3, "nanoamperes": 1e3,
    "ua": 1e6, "µa": 1e6, "microampere": 1e6, "microamperes": 1e6,
    "fa": 1e-3,
    "a": 1e12, "amp": 1e12, "amps": 1e12, "ampere": 1e12, "amperes": 1e12,
}


def _unit_key(unit: str | bytes | None) -> str:
    if isinstance(unit, bytes):
        unit = unit.decode("utf-8", "replace")
    return "".join(str(unit or "").split()).lower()


def is_voltage_unit(unit: str | bytes | None) -> bool:
    """True when ``unit`` names a voltage (mV, V, volts, uV ...)."""
    return _unit_key(unit) in VOLTAGE_UNITS


def is_current_unit(unit: str | bytes | None) -> bool:
    """True when ``unit`` names a current (pA, nA, A, amperes ...)."""
    return _unit_key(unit) in CURRENT_UNITS


def to_mV(values: np.ndarray, unit: str | bytes | None, what: str = "voltage") -> np.ndarray:
    """Convert ``values`` stored in ``unit`` into mV (float64)."""
    key = _unit_key(unit)
    if key not in VOLTAGE_UNITS:
        raise SchemaError(
            f"{what} has unit {unit!r}, which is not a voltage unit",
            hint="membrane potential must be in mV, V or uV; is this a voltage-clamp recording "
            "or the wrong channel?",
        )
    return np.asarray(values, dtype=np.float64) * VOLTAGE_UNITS[key]


def to_pA(values: np.ndarray, unit: str | bytes | None, what: str = "current") -> np.ndarray:
    """Convert ``values`` stored in ``unit`` into pA (float64)."""
    key = _unit_key(unit)
    if key not in CURRENT_UNITS:
        raise SchemaError(
            f"{what} has unit {unit!r}, which is not a current unit",
            hint="the current-clamp command must be in pA, nA or A; is this a voltage-clamp "
            "command or the wrong channel?",
        )
    return np.asarray(values, dtype=np.float64) * CURRENT_UNITS[key]


@dataclass(frozen=True)
class Sweep:
    """One current-clamp sweep.

    Parameters
    ----------
    time_ms, voltage_mV, current_pA:
        Equal-length 1-D arrays: sample times within the sweep (ms, increasing), membrane
        potential (mV) and command current (pA, including any holding current).
    stim_start_ms, stim_end_ms:
        Start and end of the main current step (ms, same clock as ``time_ms``).
    stim_amplitude_pA:
        Amplitude of the main step relative to ``holding_pA`` (pA; negative = hyperpolarizing).
    holding_pA:
        Command level just before the step (pA).
    sweep_number:
        Index of the sweep in its file.
    label:
        Name of the sweep in its file (e.g. the NWB series name).
    """

    time_ms: np.ndarray
    voltage_mV: np.ndarray
    current_pA: np.ndarray
    stim_start_ms: float
    stim_end_ms: float
    stim_amplitude_pA: float
    holding_pA: float = 0.0
    sweep_number: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        t = np.asarray(self.time_ms, dtype=np.float64)
        v = np.asarray(self.voltage_mV, dtype=np.float64)
        i = np.asarray(self.current_pA, dtype=np.float64)
        object.__setattr__(self, "time_ms", t)
        object.__setattr__(self, "voltage_mV", v)
        object.__setattr__(self, "current_pA", i)
        where = f"sweep {self.sweep_number}" + (f" ({self.label})" if self.label else "")
        if t.ndim != 1 or v.shape != t.shape or i.shape != t.shape:
            raise SchemaError(
                f"{where}: time, voltage and current must be 1-D arrays of equal length, got "
                f"shapes {t.shape}, {v.shape}, {i.shape}"
            )
        if t.size < 3:
            raise SchemaError(f"{where}: has only {t.size} samples", hint="the sweep is empty")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise SchemaError(f"{where}: sample times must be finite and strictly increasing")
        start, end = float(self.stim_start_ms), float(self.stim_end_ms)
        if not (np.isfinite(start) and np.isfinite(end) and np.isfinite(self.stim_amplitude_pA)):
            raise SchemaError(f"{where}: stimulus start, end and amplitude must be finite")
        if not (t[0] <= start < end <= t[-1] + self.dt_ms):
            raise SchemaError(
                f"{where}: stimulus window [{start:g}, {end:g}] ms lies outside the sweep "
                f"[{t[0]:g}, {t[-1]:g}] ms or is empty"
            )

    @property
    def dt_ms(self) -> float:
        """Sampling interval (ms)."""
        return float(self.time_ms[1] - self.time_ms[0])

    @property
    def sampling_rate_kHz(self) -> float:
        return 1.0 / self.dt_ms

    @property
    def stim_duration_ms(self) -> float:
        return float(self.stim_end_ms - self.stim_start_ms)

    def index_of(self, t_ms: float) -> int:
        """Index of the first sample at or after ``t_ms``."""
        return int(np.searchsorted(self.time_ms, t_ms - 1e-9 * max(1.0, abs(t_ms))))

    @property
    def stim_slice(self) -> slice:
        """Samples inside the main step."""
        return slice(self.index_of(self.stim_start_ms), self.index_of(self.stim_end_ms))


@dataclass(frozen=True)
class StepProtocol:
    """A square-step protocol stated by the user when a file stores no command waveform.

    Parameters
    ----------
    start_ms, end_ms:
        Step start and end within each sweep (ms).
    amplitudes_pA:
        One step amplitude per sweep, in sweep order (pA, relative to ``holding_pA``).
    holding_pA:
        Command level outside the step (pA).
    """

    start_ms: float
    end_ms: float
    amplitudes_pA: Sequence[float]
    holding_pA: float = 0.0

    def __post_init__(self) -> None:
        amps = tuple(float(a) for a in np.atleast_1d(np.asarray(self.amplitudes_pA, float)))
        object.__setattr__(self, "amplitudes_pA", amps)
        if not (np.isfinite(self.start_ms) and np.isfinite(self.end_ms)) or not (
            0 <= self.start_ms < self.end_ms
        ):
            raise ParameterError(
                f"StepProtocol needs 0 <= start_ms < end_ms, got {self.start_ms}, {self.end_ms}"
            )
        if not amps or not np.all(np.isfinite(amps)):
            raise ParameterError("StepProtocol.amplitudes_pA must be finite, one per sweep")

    @classmethod
    def linear(
        cls, start_ms: float, end_ms: float, first_pA: float, step_pA: float, n_sweeps: int,
        holding_pA: float = 0.0,
    ) -> StepProtocol:
        """Steps ``first_pA, first_pA + step_pA, ...`` (the usual episodic protocol)."""
        return cls(start_ms, end_ms, first_pA + step_pA * np.arange(int(n_sweeps)), holding_pA)

    def command(self, time_ms: np.ndarray, sweep_index: int) -> np.ndarray:
        """Command waveform (pA) of sweep ``sweep_index`` sampled at ``time_ms``."""
        if not 0 <= sweep_index < len(self.amplitudes_pA):
            raise ParameterError(
                f"StepProtocol has {len(self.amplitudes_pA)} amplitudes but sweep "
                f"{sweep_index} was requested",
                hint="give one amplitude per sweep in the file",
            )
        out = np.full(np.shape(time_ms), self.holding_pA, dtype=np.float64)
        inside = (time_ms >= self.start_ms) & (time_ms < self.end_ms)
        out[inside] += self.amplitudes_pA[sweep_index]
        return out


@dataclass(frozen=True)
class SweepSet:
    """The sweeps of one cell, in acquisition order, with where they came from.

    Parameters
    ----------
    sweeps:
        The kept sweeps.
    cell_id:
        Identifier of the cell (defaults to the file stem in the readers).
    source:
        File path or description.
    notes:
        What the reader had to decide or correct (channel chosen, command source ...).
    dropped:
        ``(sweep_number, reason)`` for every sweep the reader did not keep.
    """

    sweeps: tuple[Sweep, ...]
    cell_id: str = ""
    source: str = ""
    notes: tuple[str, ...] = ()
    dropped: tuple[tuple[int, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sweeps", tuple(self.sweeps))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "dropped", tuple(tuple(d) for d in self.dropped))
        for s in self.sweeps:
            if not isinstance(s, Sweep):
                raise SchemaError(f"SweepSet holds Sweep objects, got {type(s).__name__}")

    def __len__(self) -> int:
        return len(self.sweeps)

    def __iter__(self) -> Iterator[Sweep]:
        return iter(self.sweeps)

    def __getitem__(self, i: int) -> Sweep:
        return self.sweeps[i]

    @property
    def amplitudes_pA(self) -> np.ndarray:
        return np.array([s.stim_amplitude_pA for s in self.sweeps], dtype=np.float64)

    def with_notes(self, *notes: str) -> SweepSet:
        return replace(self, notes=self.notes + tuple(n for n in notes if n))

    @classmethod
    def from_arrays(
        cls,
        time_ms: np.ndarray,
        voltages_mV: np.ndarray | Sequence[np.ndarray],
        currents_pA: np.ndarray | Sequence[np.ndarray] | None = None,
        protocol: StepProtocol | None = None,
        cell_id: str = "",
        source: str = "arrays",
    ) -> SweepSet:
        """Build sweeps from arrays (one row per sweep) and command waveforms or a protocol.

        ``time_ms`` is shared by all sweeps.  Give either ``currents_pA`` (the command of
        every sweep; the main step is found with :func:`find_step_window`) or ``protocol``.
        Sweeps containing non-finite voltages are dropped and reported in ``dropped``.
        """
        t = np.asarray(time_ms, dtype=np.float64)
        volts = [np.asarray(v, dtype=np.float64) for v in voltages_mV]
        if protocol is not None:
            if len(protocol.amplitudes_pA) != len(volts):
                raise ParameterError(
                    f"protocol has {len(protocol.amplitudes_pA)} amplitudes for "
                    f"{len(volts)} sweeps", hint="give one amplitude per sweep",
                )
            currents = [protocol.command(t, k) for k in range(len(volts))]
        elif currents_pA is not None:
            currents = [np.asarray(c, dtype=np.float64) for c in currents_pA]
            if len(currents) != len(volts):
                raise SchemaError(f"{len(volts)} voltage sweeps but {len(currents)} commands")
        else:
            raise SchemaError(
                "no stimulus given for the sweeps",
                hint="pass currents_pA (command waveforms) or protocol=StepProtocol(...)",
            )
        return assemble_sweeps(
            [(k, f"sweep_{k}", t, v, c) for k, (v, c) in enumerate(zip(volts, currents))],
            cell_id=cell_id, source=source, protocol=protocol,
        )


@dataclass(frozen=True)
class StepWindow:
    """Main step found in a set of command waveforms."""

    start_index: int
    end_index: int
    holding_pA: np.ndarray  # per sweep
    amplitude_pA: np.ndarray  # per sweep, relative to holding


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True values."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _amplitudes(commands: list[np.ndarray], start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    holding, amps = [], []
    for c in commands:
        inside = float(np.median(c[start:end]))
        before = c[max(0, start - max(1, (end - start) // 4)):start]
        after = c[end:end + max(1, (end - start) // 4)]
        ref = before if before.size else after
        h = float(np.median(ref)) if ref.size else 0.0
        holding.append(h)
        amps.append(inside - h)
    return np.array(holding), np.array(amps)


def step_window_at(commands_pA: Sequence[np.ndarray], start: int, end: int) -> StepWindow:
    """Holding level and step amplitude of every command for a known step ``[start, end)``."""
    holding, amps = _amplitudes([np.asarray(c, dtype=np.float64) for c in commands_pA],
                                start, end)
    return StepWindow(start, end, holding, amps)


def find_step_window(
    commands_pA: Sequence[np.ndarray], dt_ms: float, min_step_ms: float = 5.0
) -> StepWindow | None:
    """Locate the main current step in command waveforms (pA).

    With several equal-length sweeps the main step is the longest run of samples where the
    command differs between sweeps (the epoch a step protocol varies; fixed test pulses and
    holding epochs are constant across sweeps).  When all sweeps carry the same command (one
    sweep, or repeats) it is the longest run where the command departs from its initial level.
    Returns ``None`` when no step of at least ``min_step_ms`` exists.
    """
    commands = [np.asarray(c, dtype=np.float64) for c in commands_pA]
    if not commands or any(c.size < 3 for c in commands):
        return None
    if any(not np.all(np.isfinite(c)) for c in commands):
        return None
    min_len = max(1, int(round(min_step_ms / dt_ms)))
    scale = max(float(np.max(np.abs(np.concatenate(commands)))), 1.0)
    tol = 1e-6 * scale
    same_length = len({c.size for c in commands}) == 1
    if len(commands) >= 2 and same_length:
        stack = np.vstack(commands)
        varying = (stack.max(axis=0) - stack.min(axis=0)) > tol
        runs = [r for r in _runs(varying) if r[1] - r[0] >= min_len]
        if runs:
            # longest run, earliest on ties: the epoch the protocol steps through
            start, end = max(runs, key=lambda r: (r[1] - r[0], -r[0]))
            holding, amps = _amplitudes(commands, start, end)
            return StepWindow(start, end, holding, amps)
    # identical (or single) commands: departure from the initial level
    ref = commands[0]
    initial = float(np.median(ref[: max(1, min(len(ref) // 100, 50))]))
    runs = [r for r in _runs(np.abs(ref - initial) > tol) if r[1] - r[0] >= min_len]
    if not runs:
        return None
    start, end = max(runs, key=lambda r: (r[1] - r[0], -r[0]))
    if not same_length and any(c.size < end for c in commands):
        return None
    holding, amps = _amplitudes(commands, start, end)
    return StepWindow(start, end, holding, amps)


def assemble_sweeps(
    raw: Sequence[tuple[int, str, np.ndarray, np.ndarray, np.ndarray]],
    cell_id: str = "",
    source: str = "",
    notes: Sequence[str] = (),
    protocol: StepProtocol | None = None,
    dropped: Sequence[tuple[int, str]] = (),
    min_step_ms: float = 5.0,
    window: StepWindow | None = None,
) -> SweepSet:
    """Turn ``(sweep_number, label, time_ms, voltage_mV, current_pA)`` tuples into a SweepSet.

    Finds the main step (or takes it from ``protocol``, or uses ``window`` found by the
    caller on the same sweeps), drops sweeps whose voltage contains non-finite samples
    (reported in ``dropped``) and raises :class:`SchemaError` when no stimulus can be found.
    """
    dropped = list(dropped)
    kept, positions = [], []
    for pos, (num, label, t, v, c) in enumerate(raw):
        if not np.all(np.isfinite(v)):
            dropped.append((int(num), f"{int(np.sum(~np.isfinite(v)))} non-finite voltage samples"))
        else:
            kept.append((num, label, t, v, c))
            positions.append(pos)
    if not kept:
        raise SchemaError(
            f"{source or 'recording'}: no usable sweep"
            + (f" ({len(dropped)} dropped: {dropped[0][1]})" if dropped else ""),
            hint="check that the file holds current-clamp sweeps",
        )
    dt = float(kept[0][2][1] - kept[0][2][0])
    if protocol is not None:
        start = int(np.searchsorted(kept[0][2], protocol.start_ms - 1e-9))
        end = int(np.searchsorted(kept[0][2], protocol.end_ms - 1e-9))
        if end - start < 2:
            raise ParameterError(
                f"protocol step [{protocol.start_ms}, {protocol.end_ms}] ms lies outside the "
                f"sweeps (0 to {kept[0][2][-1]:g} ms)"
            )
        if len(protocol.amplitudes_pA) < len(raw):
            raise ParameterError(
                f"protocol has {len(protocol.amplitudes_pA)} amplitudes for {len(raw)} sweeps",
                hint="give one amplitude per sweep in the file",
            )
        window = StepWindow(start, end, np.full(len(kept), protocol.holding_pA),
                            np.array([protocol.amplitudes_pA[p] for p in positions]))
    elif window is None or len(kept) != len(raw):
        window = find_step_window([c for *_, c in kept], dt, min_step_ms=min_step_ms)
    if window is None:
        raise SchemaError(
            f"{source or 'recording'}: no current step found in the command waveform "
            "(the stimulus is constant or missing)",
            hint="pass protocol=StepProtocol(start_ms=..., end_ms=..., amplitudes_pA=[...]) "
            "to state the step protocol",
        )
    sweeps = []
    for k, (num, label, t, v, c) in enumerate(kept):
        end_idx = min(window.end_index, t.size - 1)
        sweeps.append(
            Sweep(
                time_ms=t, voltage_mV=v, current_pA=c,
                stim_start_ms=float(t[window.start_index]), stim_end_ms=float(t[end_idx]),
                stim_amplitude_pA=float(np.round(window.amplitude_pA[k], 3)) + 0.0,
                holding_pA=float(np.round(window.holding_pA[k], 3)) + 0.0,
                sweep_number=int(num), label=str(label),
            )
        )
    return SweepSet(tuple(sweeps), cell_id=cell_id, source=source, notes=tuple(notes),
                    dropped=tuple(dropped))
