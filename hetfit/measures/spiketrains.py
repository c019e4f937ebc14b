"""Spike-train containers as plain arrays: validation, conversions and binning.

Every measure in :mod:`hetfit.measures` takes the same plain data:

``times_ms``
    spike times in ms (float, shape (n_spikes,));
``units``
    the unit (neuron, channel) index of each spike, integers in ``[0, n_units)``;
``n_units``
    number of units, silent ones included (default: ``max(units) + 1``);
``t_start_ms``, ``t_stop_ms``
    the analysis window ``[t_start_ms, t_stop_ms)`` in ms.  Spikes outside it are ignored,
    which is how a transient is discarded.  Defaults: ``t_start_ms = 0`` (simulations start
    at 0) and ``t_stop_ms`` just after the last spike; pass the true recording end whenever it
    is known, because the default underestimates the duration and so overestimates rates.

:func:`spike_arrays` turns a :class:`hetfit.models.results.SpikeResult` (optionally one
population) or a :class:`hetfit.data_adapters.activity.Recording` into exactly these keyword
arguments, so ``cv_isi(**spike_arrays(result, "E"))`` works for every measure.

Input problems that no analysis can fix (NaN times, unit indices out of range, arrays of
different lengths, an empty or reversed window) raise :class:`hetfit.errors.ParameterError`.
Times need not be sorted: they are sorted here (stable, so equal times keep their order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetfit.errors import ParameterError


@dataclass(frozen=True)
class SpikeData:
    """Validated spikes restricted to the analysis window (what the measures work on).

    Attributes
    ----------
    times_ms:
        Spike times in ms inside ``[t_start_ms, t_stop_ms)``, sorted ascending (float64).
    units:
        Unit index of each spike (int64, in ``[0, n_units)``).
    n_units:
        Number of units, silent ones included.
    t_start_ms, t_stop_ms:
        Analysis window (ms).
    """

    times_ms: np.ndarray
    units: np.ndarray
    n_units: int
    t_start_ms: float
    t_stop_ms: float

    @property
    def duration_ms(self) -> float:
        return self.t_stop_ms - self.t_start_ms

    @property
    def n_spikes(self) -> int:
        return int(self.times_ms.size)


def prepare_spikes(
    times_ms: Any,
    units: Any,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
) -> SpikeData:
    """Validate plain spike arrays and restrict them to the analysis window.

    Parameters
    ----------
    times_ms, units, n_units, t_start_ms, t_stop_ms:
        See the module docstring.

    Returns
    -------
    SpikeData
        Time-sorted float64 times and int64 unit indices inside ``[t_start_ms, t_stop_ms)``.

    Raises
    ------
    ParameterError
        Mismatched lengths, NaN/infinite times, non-integer or out-of-range unit indices,
        ``n_units < 1`` or a window with ``t_stop_ms <= t_start_ms``.
    """
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    unit_arr = np.asarray(units).ravel()
    if times.shape != unit_arr.shape:
        raise ParameterError(
            f"times_ms has {times.size} entries but units has {unit_arr.size}",
            hint="pass one unit index per spike time",
        )
    if times.size and not np.all(np.isfinite(times)):
        bad = int(np.count_nonzero(~np.isfinite(times)))
        raise ParameterError(
            f"{bad} spike time(s) are NaN or infinite",
            hint="drop them before computing measures (the recording readers can do this)",
        )
    if unit_arr.size and not np.issubdtype(unit_arr.dtype, np.integer):
        as_float = unit_arr.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise ParameterError(
                "units must be integer indices",
                hint="map unit labels to 0..n_units-1 (e.g. numpy.unique(..., return_inverse=True))",
            )
    unit_arr = unit_arr.astype(np.int64)
    if unit_arr.size and unit_arr.min() < 0:
        raise ParameterError("unit indices must be >= 0", hint="use indices 0..n_units-1")
    max_unit = int(unit_arr.max()) if unit_arr.size else -1
    if n_units is None:
        n_units = max_unit + 1
    n_units = int(n_units)
    if n_units < 1:
        raise ParameterError(
            "there are no units (n_units < 1)", hint="pass n_units, the number of recorded units"
        )
    if max_unit >= n_units:
        raise ParameterError(
            f"unit index {max_unit} is out of range for n_units={n_units}",
            hint="n_units must exceed the largest unit index",
        )
    t_start = 0.0 if t_start_ms is None else float(t_start_ms)
    if t_stop_ms is None:
        t_stop = float(np.nextafter(times.max(), np.inf)) if times.size else math.nan
    else:
        t_stop = float(t_stop_ms)
    if not (math.isfinite(t_start) and math.isfinite(t_stop)) or t_stop <= t_start:
        raise ParameterError(
            f"the analysis window [{t_start}, {t_stop}) ms is empty or invalid",
            hint="pass t_start_ms < t_stop_ms (the recording's start and end, in ms)",
        )
    if times.size > 1 and np.any(times[1:] < times[:-1]):
        order = np.argsort(times, kind="stable")
        times, unit_arr = times[order], unit_arr[order]
    lo, hi = np.searchsorted(times, [t_start, t_stop], side="left")
    return SpikeData(
        times_ms=np.ascontiguousarray(times[lo:hi]),
        units=np.ascontiguousarray(unit_arr[lo:hi]),
        n_units=n_units,
        t_start_ms=t_start,
        t_stop_ms=t_stop,
    )


def spike_arrays(obj: Any, population: str | None = None) -> dict[str, Any]:
    """Keyword arguments ``times_ms, units, n_units, t_start_ms, t_stop_ms`` for any measure.

    Parameters
    ----------
    obj:
        A :class:`~hetfit.models.results.SpikeResult` (window ``[0, t_max_ms)``) or a
        :class:`~hetfit.data_adapters.activity.Recording` (its own window).
    population:
        For a SpikeResult, restrict to one population (unit indices become relative to it).

    Raises
    ------
    SimulationError
        For a SpikeResult flagged ``diverged``: its spikes are not valid data.
    ParameterError
        For an object that is neither.
    """
    if hasattr(obj, "spike_times_ms") and hasattr(obj, "population_sizes"):
        if getattr(obj, "diverged", False):
            from hetfit.errors import SimulationError

            raise SimulationError(
                "this simulation diverged; its spikes are not valid data",
                hint="drop it (count it as failed) instead of computing measures",
            )
        if population is None:
            times, units, n = obj.spike_times_ms, obj.spike_neurons, obj.n_neurons
        else:
            times, units = obj.spikes_of(population)
            n = obj.population_sizes[list(obj.population_names).index(population)]
        return {
            "times_ms": times,
            "units": units,
            "n_units": int(n),
            "t_start_ms": 0.0,
            "t_stop_ms": float(obj.t_max_ms),
        }
    if hasattr(obj, "times_ms") and hasattr(obj, "unit_index"):
        if population is not None:
            raise ParameterError("a Recording has no populations", hint="omit population")
        return {
            "times_ms": obj.times_ms,
            "units": obj.unit_index,
            "n_units": int(obj.n_units),
            "t_start_ms": float(obj.t_start_ms),
            "t_stop_ms": float(obj.t_stop_ms),
        }
    raise ParameterError(
        f"cannot take spikes from a {type(obj).__name__}",
        hint="pass a SpikeResult or a Recording, or call the measure with plain arrays",
    )


def split_by_unit(
    times_ms: Any, units: Any, n_units: int | None = None
) -> list[np.ndarray]:
    """Per-unit sorted spike-time arrays (ms) from flat arrays; silent units get empty arrays.

    All spikes are kept (no analysis window).
    """
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    finite = times[np.isfinite(times)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(np.nextafter(finite.max(), np.inf)) if finite.size else 1.0
    return _split(prepare_spikes(times, units, n_units, lo, hi))


def _split(data: SpikeData) -> list[np.ndarray]:
    order = np.argsort(data.units, kind="stable")  # stable: keeps time order within a unit
    counts = np.bincount(data.units, minlength=data.n_units)
    return np.split(data.times_ms[order], np.cumsum(counts)[:-1])


def flatten_trains(trains: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Flat time-sorted ``(times_ms, units)`` from a list of per-unit spike-time arrays (ms).

    The i-th array becomes unit ``i``; equal times keep unit order (stable sort).
    """
    arrays = [np.asarray(t, dtype=np.float64).ravel() for t in trains]
    if not arrays:
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
    times = np.concatenate(arrays)
    units = np.repeat(np.arange(len(arrays), dtype=np.int64), [a.size for a in arrays])
    order = np.argsort(times, kind="stable")
    return times[order], units[order]


def n_full_bins(duration_ms: float, bin_ms: float) -> int:
    """Number of whole bins of ``bin_ms`` in ``duration_ms`` (a trailing partial bin is dropped)."""
    if not (bin_ms > 0 and math.isfinite(bin_ms)):
        raise ParameterError(f"bin width must be a positive number of ms, got {bin_ms}")
    return int(math.floor(duration_ms / bin_ms + 1e-9))


def bin_spikes(
    times_ms: Any,
    units: Any,
    bin_ms: float,
    n_units: int | None = None,
    t_start_ms: float | None = None,
    t_stop_ms: float | None = None,
) -> np.ndarray:
    """Spike counts per unit and bin, shape (n_units, n_bins), int64.

    Bins are ``[t_start + k*bin_ms, t_start + (k+1)*bin_ms)``; only whole bins inside the window
    are used (spikes in a trailing partial bin are not counted).  For many units and long
    recordings this matrix is large: the measures that need per-unit counts use sparse kernels
    instead.
    """
    data = prepare_spikes(times_ms, units, n_units, t_start_ms, t_stop_ms)
    return _bin_units(data, bin_ms)


def _bin_units(data: SpikeData, bin_ms: float) -> np.ndarray:
    nb = n_full_bins(data.duration_ms, bin_ms)
    idx = np.floor((data.times_ms - data.t_start_ms) / bin_ms).astype(np.int64)
    keep = idx < nb
    flat = data.units[keep] * nb + idx[keep]
    return np.bincount(flat, minlength=data.n_units * nb).reshape(data.n_units, nb)


def population_counts(data: SpikeData, bin_ms: float) -> np.ndarray:
    """Spike counts of all units together per whole bin of ``bin_ms`` (shape (n_bins,), int64)."""
    nb = n_full_bins(data.duration_ms, bin_ms)
    idx = np.floor((data.times_ms - data.t_start_ms) / bin_ms).astype(np.int64)
    return np.bincount(idx[idx < nb], minlength=nb)[:nb]
