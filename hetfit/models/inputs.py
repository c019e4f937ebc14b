"""Time-varying external input currents for network simulations.

A :class:`StepCurrent` is a piecewise-constant current in pA: ``values_pA[j]`` applies from
``times_ms[j]`` until ``times_ms[j+1]`` (the last value until the end of the run; before
``times_ms[0]`` the current is 0).  Any sampled waveform becomes a StepCurrent with
:meth:`StepCurrent.from_array` (sample-and-hold), ramps with :meth:`StepCurrent.ramp`.
Simulators compile the currents of all populations into one list of segments on the
integration grid (:func:`compile_segments`); a switch time that is not a multiple of
``dt`` takes effect at the nearest grid point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hetfit.errors import ParameterError


@dataclass(frozen=True)
class StepCurrent:
    """Piecewise-constant current.

    Parameters
    ----------
    times_ms:
        Switch times in ms, strictly increasing, >= 0.
    values_pA:
        Current in pA from each switch time on (same length as ``times_ms``).
    """

    times_ms: tuple[float, ...]
    values_pA: tuple[float, ...]

    def __post_init__(self) -> None:
        t = tuple(float(x) for x in np.atleast_1d(np.asarray(self.times_ms, dtype=float)))
        v = tuple(float(x) for x in np.atleast_1d(np.asarray(self.values_pA, dtype=float)))
        object.__setattr__(self, "times_ms", t)
        object.__setattr__(self, "values_pA", v)
        if len(t) != len(v):
            raise ParameterError(
                f"StepCurrent has {len(t)} switch times but {len(v)} values",
                hint="give one current value (pA) per switch time (ms)",
            )
        if len(t) == 0:
            raise ParameterError("StepCurrent needs at least one (time, value) pair")
        if not all(math.isfinite(x) for x in t + v):
            raise ParameterError("StepCurrent times and values must be finite (no NaN/inf)")
        if t[0] < 0 or any(b <= a for a, b in zip(t, t[1:])):
            raise ParameterError(
                "StepCurrent switch times must be >= 0 and strictly increasing",
                hint=f"got times_ms={t[:5]}{'...' if len(t) > 5 else ''}",
            )

    @classmethod
    def constant(cls, value_pA: float) -> StepCurrent:
        """A constant current from t = 0."""
        return cls((0.0,), (float(value_pA),))

    @classmethod
    def steps(cls, *pairs: tuple[float, float]) -> StepCurrent:
        """``StepCurrent.steps((0, 10.0), (200, 40.0))``: (time ms, value pA) pairs."""
        return cls(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    @classmethod
    def from_array(cls, values_pA: Sequence[float] | np.ndarray, dt_ms: float,
                   t0_ms: float = 0.0) -> StepCurrent:
        """Sample-and-hold waveform: sample ``j`` applies on ``[t0 + j dt, t0 + (j+1) dt)``."""
        arr = np.asarray(values_pA, dtype=float).ravel()
        if not (dt_ms > 0 and math.isfinite(dt_ms)):
            raise ParameterError(f"dt_ms of an input waveform must be > 0, got {dt_ms}")
        if arr.size == 0:
            raise ParameterError("input waveform is empty")
        return cls(tuple(t0_ms + dt_ms * np.arange(arr.size)), tuple(arr))

    @classmethod
    def ramp(cls, t_start_ms: float, t_stop_ms: float, start_pA: float, stop_pA: float,
             step_ms: float = 1.0, baseline_pA: float | None = None) -> StepCurrent:
        """Staircase approximation of a linear ramp (``step_ms`` per stair).

        Before ``t_start_ms`` the current is ``baseline_pA`` (default ``start_pA``); after
        ``t_stop_ms`` it stays at ``stop_pA``.
        """
        if not t_stop_ms > t_start_ms >= 0:
            raise ParameterError("ramp needs 0 <= t_start_ms < t_stop_ms")
        if not step_ms > 0:
            raise ParameterError(f"ramp step_ms must be > 0, got {step_ms}")
        n = max(1, int(round((t_stop_ms - t_start_ms) / step_ms)))
        times = t_start_ms + (t_stop_ms - t_start_ms) * np.arange(n + 1) / n
        # each stair holds the ramp value at its midpoint; the last stair is the end value
        mids = start_pA + (stop_pA - start_pA) * (np.arange(n) + 0.5) / n
        values = np.append(mids, stop_pA)
        base = start_pA if baseline_pA is None else baseline_pA
        if t_start_ms > 0:
            times = np.insert(times, 0, 0.0)
            values = np.insert(values, 0, base)
        return cls(tuple(times), tuple(values))

    def value_at(self, t_ms: float | np.ndarray) -> np.ndarray:
        """Current (pA) at time(s) ``t_ms``."""
        t = np.asarray(t_ms, dtype=float)
        idx = np.searchsorted(np.asarray(self.times_ms), t, side="right") - 1
        vals = np.asarray(self.values_pA)
        return np.where(idx >= 0, vals[np.clip(idx, 0, None)], 0.0)

    def to_dict(self) -> dict:
        return {"times_ms": list(self.times_ms), "values_pA": list(self.values_pA)}


CurrentLike = float | int | StepCurrent


def as_current(x: CurrentLike, what: str = "input current") -> StepCurrent:
    """Coerce a number (constant pA) or StepCurrent."""
    if isinstance(x, StepCurrent):
        return x
    try:
        val = float(x)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{what} must be a number (pA) or a StepCurrent, got {type(x).__name__}"
        ) from exc
    if not math.isfinite(val):
        raise ParameterError(f"{what} must be finite, got {val}")
    return StepCurrent.constant(val)


def compile_segments(currents: Sequence[CurrentLike], dt_ms: float,
                     n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-population currents into grid segments.

    Returns ``(seg_start, seg_val)``: segment ``j`` starts at step ``seg_start[j]`` (the first
    is 0) and holds the currents ``seg_val[j, p]`` (pA) of every population ``p``.
    """
    cur = [as_current(c) for c in currents]
    steps: set[int] = {0}
    for c in cur:
        for t in c.times_ms:
            s = int(round(t / dt_ms))
            if s < n_steps:
                steps.add(s)
    seg_start = np.array(sorted(steps), dtype=np.int64)
    seg_val = np.zeros((seg_start.size, max(len(cur), 1)))
    for p, c in enumerate(cur):
        # a switch at time t takes effect at grid step round(t/dt); the last one wins
        on_grid = np.round(np.asarray(c.times_ms) / dt_ms).astype(np.int64)
        idx = np.searchsorted(on_grid, seg_start, side="right") - 1
        vals = np.asarray(c.values_pA)
        seg_val[:, p] = np.where(idx >= 0, vals[np.clip(idx, 0, None)], 0.0)
    return seg_start, seg_val
