"""Plain results returned by every spiking simulator in :mod:`hetfit.models`.

Spike trains are stored compactly as two flat arrays (``spike_times_ms``,
``spike_neurons``) sorted by time, plus population boundaries; population rates are sampled
on a regular grid.  Analysis functions in :mod:`hetfit.measures` take these plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SpikeResult:
    """Output of one spiking-network simulation.

    Attributes
    ----------
    spike_times_ms:
        Spike times in ms, sorted ascending (float64, shape (n_spikes,)).
    spike_neurons:
        Global neuron index of each spike (int32/int64, shape (n_spikes,)).
    population_names:
        Names of the populations, e.g. ``("E", "I")``.
    population_sizes:
        Number of neurons per population; neuron indices are contiguous per population in
        this order.
    rate_t_ms:
        Times (ms) of the population-rate samples (bin centres).
    rates_hz:
        Population firing rate in Hz, shape (n_populations, n_samples).
    t_max_ms, dt_ms:
        Simulated duration and integration step (ms).
    diverged:
        True when the state became non-finite; such results must not be used as data.
    meta:
        Free-form provenance (model name, parameters, seed, wall time ...).
    """

    spike_times_ms: np.ndarray
    spike_neurons: np.ndarray
    population_names: tuple[str, ...]
    population_sizes: tuple[int, ...]
    rate_t_ms: np.ndarray
    rates_hz: np.ndarray
    t_max_ms: float
    dt_ms: float
    diverged: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_neurons(self) -> int:
        return int(sum(self.population_sizes))

    @property
    def n_spikes(self) -> int:
        return int(self.spike_times_ms.size)

    def population_slice(self, name: str) -> slice:
        """Neuron-index range of population ``name``."""
        start = 0
        for pname, size in zip(self.population_names, self.population_sizes):
            if pname == name:
                return slice(start, start + size)
            start += size
        raise KeyError(f"no population {name!r}; have {self.population_names}")

    def spikes_of(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(times_ms, neuron indices relative to the population) of population ``name``."""
        sl = self.population_slice(name)
        mask = (self.spike_neurons >= sl.start) & (self.spike_neurons < sl.stop)
        return self.spike_times_ms[mask], self.spike_neurons[mask] - sl.start

    def mean_rate_hz(self, name: str | None = None, t_start_ms: float = 0.0) -> float:
        """Mean firing rate per neuron (Hz) after ``t_start_ms``, of one population or all.

        When the simulator did not keep individual spikes (``meta["spikes_recorded"]`` is
        False) the rate is computed from the binned population rates instead (bins that
        start at or after ``t_start_ms``).
        """
        if self.meta.get("spikes_recorded", True) is False:
            return self._mean_rate_from_bins(name, t_start_ms)
        if name is None:
            times, n = self.spike_times_ms, self.n_neurons
        else:
            times, _ = self.spikes_of(name)
            n = self.population_sizes[self.population_names.index(name)]
        duration_s = (self.t_max_ms - t_start_ms) / 1e3
        if n == 0 or duration_s <= 0:
            return float("nan")
        return float(np.count_nonzero(times >= t_start_ms) / n / duration_s)

    def _mean_rate_from_bins(self, name: str | None, t_start_ms: float) -> float:
        rates = np.asarray(self.rates_hz, dtype=float)
        t = np.asarray(self.rate_t_ms, dtype=float)
        if t.size == 0:
            return float("nan")
        edges = np.append(t - (t[1] - t[0]) / 2 if t.size > 1 else [0.0], self.t_max_ms)
        width = np.diff(edges)
        keep = edges[:-1] >= t_start_ms - 1e-9
        if not np.any(keep):
            return float("nan")
        sizes = np.asarray(self.population_sizes, dtype=float)
        if name is None:
            per_bin = (rates * sizes[:, None]).sum(axis=0) / sizes.sum()
        else:
            per_bin = rates[self.population_names.index(name)]
        return float(np.sum(per_bin[keep] * width[keep]) / np.sum(width[keep]))
