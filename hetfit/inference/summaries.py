"""Summary statistics of spiking activity for inference, computed the same way for
simulations and recordings.

A :class:`SummarySpec` names the statistics; :func:`summary_vector` computes them from plain
spike arrays with :mod:`hetfit.measures` (no re-implementation here).  The same function
serves simulated networks (:class:`~hetfit.models.results.SpikeResult`) and recordings
(:class:`~hetfit.data_adapters.activity.Recording`), which is what makes a posterior trained
on simulations applicable to data.

Observation model
-----------------
A spike-sorted recording only knows units that fired.  So by default every per-population
statistic is computed over **active units** (at least one spike in the analysis window), and
a simulation is observed through the same lens: ``units_per_population`` active neurons are
drawn at random (seeded by the simulation's own seed) from each population, matching the
number of units in the recording (``None`` observes every active neuron).

With ``observe_silent=True`` every recorded cell is listed, silent ones included (calcium
imaging, patch data, simulations): units are drawn from all neurons, rate statistics still
describe the units that fire, and the fraction of observed cells that fire
(``p.active_fraction``) is added.  This matters: when most cells of a type sit below
threshold (the FS cells of ``gast2023_ei`` at its default drives), the width of the
threshold distribution is visible mainly in how many cells fire — among the cells that do
fire, the far tail of a Lorentzian looks the same whatever its width.

Populations
-----------
With ``populations=("E", "I")`` statistics are computed per population; a recording must
then say which unit belongs where: unit ids beginning with the population name (``E12``,
``I3`` — what :meth:`Recording.from_spike_result` writes) are assigned to it (see
:func:`unit_populations`).  ``populations=None`` pools all units (recordings without cell-type
labels).

Statistics (per population ``p``, or ``all`` when pooled)
--------------------------------------------------------
- ``p.log_rate_mean``: log10 of the mean rate of active units (Hz);
- ``p.active_fraction`` (only with ``observe_silent``): fraction of observed cells that fire;
- ``p.log_rate_q10 … q90``: log10 of the 10/25/50/75/90 % quantiles of the unit rates (Hz) —
  threshold heterogeneity shows up first as a spread of firing rates;
- ``p.cv_isi``: mean CV of inter-spike intervals over units with >= 3 spikes;
- ``p.fano``: mean Fano factor of spike counts in ``fano_window_ms`` windows;
- ``net.chi``: Golomb's synchrony chi of the exponentially smoothed spike trains
  (``chi_tau_ms``), over all observed units;
- ``net.corr``: mean pairwise spike-count correlation (``corr_bin_ms`` bins, at most
  ``corr_max_pairs`` pairs, seeded);
- ``net.log_psd_peak_ratio``: log10 of the population-rate spectrum's peak-to-mean ratio
  (oscillation strength) above ``min_freq_hz``.

A statistic that cannot be computed (too few spikes, fewer than two active units) is NaN;
simulations with NaN summaries are flagged by the simulator and excluded from training.

``SUMMARY_VERSION`` changes whenever a definition changes; it is stored with every
simulation store and posterior, and a mismatch is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hetfit import measures as m
from hetfit.errors import (
    IncompatibleArtifactError,
    InsufficientDataError,
    ParameterError,
    SchemaError,
)

SUMMARY_VERSION = "1.1"

RATE_QUANTILES = (10, 25, 50, 75, 90)
POPULATION_STATS = ("log_rate_mean",) + tuple(f"log_rate_q{q}" for q in RATE_QUANTILES) + (
    "cv_isi", "fano")
# Needs every recorded cell, silent ones included (observe_silent=True).
SILENT_STATS = ("active_fraction",)
NETWORK_STATS = ("chi", "corr", "log_psd_peak_ratio")
# Rates are floored before the log so that a single slow unit does not produce -inf.
_RATE_FLOOR_HZ = 0.01


@dataclass(frozen=True)
class SummarySpec:
    """Which statistics to compute and how (all times in ms).

    Parameters
    ----------
    populations:
        Population names for per-population statistics, or ``None`` to pool all units.
    population_stats, network_stats:
        Subsets of :data:`POPULATION_STATS` and :data:`NETWORK_STATS`.
    units_per_population:
        Units observed per population (``None``: all).  Pooled summaries use
        ``{"all": n}``.
    observe_silent:
        ``False`` (default): only units that fire are seen, as in spike-sorted extracellular
        recordings.  ``True``: every cell is listed, silent ones included (imaging, patch
        data, simulations); adds the ``active_fraction`` statistic.
    chi_tau_ms, corr_bin_ms, corr_max_pairs, fano_window_ms, min_freq_hz, spectrum_bin_ms,
    spectrum_segment_ms:
        Parameters of the measures (see :mod:`hetfit.measures`).
    """

    populations: tuple[str, ...] | None = ("E", "I")
    population_stats: tuple[str, ...] | None = None
    network_stats: tuple[str, ...] = NETWORK_STATS
    units_per_population: dict[str, int] | None = None
    chi_tau_ms: float = 10.0
    corr_bin_ms: float = 10.0
    corr_max_pairs: int = 500
    fano_window_ms: float = 100.0
    min_freq_hz: float = 2.0
    spectrum_bin_ms: float = 2.0
    spectrum_segment_ms: float = 250.0
    observe_silent: bool = False

    def __post_init__(self) -> None:
        if self.population_stats is None:
            default = POPULATION_STATS + (SILENT_STATS if self.observe_silent else ())
            object.__setattr__(self, "population_stats", default)
        if self.populations is not None:
            pops = tuple(str(p) for p in self.populations)
            if not pops or len(set(pops)) != len(pops):
                raise ParameterError(f"summary populations must be distinct names, got {pops}")
            object.__setattr__(self, "populations", pops)
        for stat in self.population_stats:
            if stat in SILENT_STATS and not self.observe_silent:
                raise ParameterError(
                    f"statistic {stat!r} needs observe_silent=True (every recorded cell, "
                    "silent ones included, must be listed)")
            if stat not in POPULATION_STATS + SILENT_STATS:
                raise ParameterError(f"unknown population statistic {stat!r}",
                                     hint=f"choose from {POPULATION_STATS + SILENT_STATS}")
        for stat in self.network_stats:
            if stat not in NETWORK_STATS:
                raise ParameterError(f"unknown network statistic {stat!r}",
                                     hint=f"choose from {NETWORK_STATS}")
        object.__setattr__(self, "population_stats", tuple(self.population_stats))
        object.__setattr__(self, "network_stats", tuple(self.network_stats))
        if not (self.population_stats or self.network_stats):
            raise ParameterError("the summary set is empty")
        if self.units_per_population is not None:
            upp = {str(k): int(v) for k, v in dict(self.units_per_population).items()}
            groups = self.groups
            unknown = sorted(set(upp) - set(groups))
            if unknown:
                raise ParameterError(
                    f"units_per_population names {unknown}, not among {list(groups)}")
            if any(v < 2 for v in upp.values()):
                raise ParameterError(
                    f"units_per_population must be >= 2 per population, got {upp}",
                    hint="network measures need at least two units")
            object.__setattr__(self, "units_per_population", upp)
        for name in ("chi_tau_ms", "corr_bin_ms", "fano_window_ms", "spectrum_bin_ms",
                     "spectrum_segment_ms"):
            v = float(getattr(self, name))
            if not (v > 0 and math.isfinite(v)):
                raise ParameterError(f"{name} must be a positive number of ms, got {v}")

    @property
    def groups(self) -> tuple[str, ...]:
        """Unit groups of the per-population statistics (``("all",)`` when pooled)."""
        return self.populations if self.populations is not None else ("all",)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the entries of the summary vector, in order."""
        return tuple(f"{g}.{s}" for g in self.groups for s in self.population_stats) + tuple(
            f"net.{s}" for s in self.network_stats)

    @property
    def version(self) -> str:
        return SUMMARY_VERSION

    def vector(self, times_ms, units, unit_group, t_start_ms, t_stop_ms, seed=None
               ) -> np.ndarray:
        """:func:`summary_vector` with this spec."""
        return summary_vector(self, times_ms, units, unit_group, t_start_ms, t_stop_ms, seed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = "statistics"
        d["version"] = SUMMARY_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SummarySpec:
        d = dict(d)
        d.pop("kind", None)
        version = d.pop("version", SUMMARY_VERSION)
        if version != SUMMARY_VERSION:
            raise IncompatibleArtifactError(
                f"summary set version {version} differs from this hetfit's {SUMMARY_VERSION}",
                hint="re-simulate and retrain with this version of hetfit",
            )
        for k in ("populations", "population_stats", "network_stats"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


def unit_populations(unit_ids: Sequence[str], populations: Sequence[str]) -> np.ndarray:
    """Population index of each unit from its id prefix (``"E12"`` -> ``"E"``).

    The longest matching population name wins (so ``"E"`` and ``"E2"`` can coexist).

    Raises
    ------
    SchemaError
        When a unit id starts with none of the population names.
    """
    pops = sorted(enumerate(populations), key=lambda t: -len(t[1]))
    out = np.empty(len(unit_ids), dtype=np.int64)
    for i, uid in enumerate(unit_ids):
        for j, name in pops:
            if str(uid).startswith(name):
                out[i] = j
                break
        else:
            raise SchemaError(
                f"unit {uid!r} does not belong to any population {list(populations)}",
                hint="name units by population (e.g. 'E12', 'I3'), or fit pooled summaries "
                "(populations=None) when cell types are unknown",
            )
    return out


def observed_units(recording: Any, populations: tuple[str, ...] | None,
                   observe_silent: bool = False) -> dict[str, int]:
    """Observed units per population (``{"all": n}`` when pooled) of a recording: the units
    that fire, or every listed unit with ``observe_silent``."""
    active = np.bincount(recording.unit_index, minlength=len(recording.unit_ids)) > 0
    if observe_silent:
        active[:] = True
    if populations is None:
        return {"all": int(active.sum())}
    group = unit_populations(recording.unit_ids, populations)
    return {p: int(np.count_nonzero(active & (group == j))) for j, p in enumerate(populations)}


def _log_rate(x: float) -> float:
    return math.log10(max(x, _RATE_FLOOR_HZ)) if math.isfinite(x) else math.nan


def _group_stats(spec: SummarySpec, times: np.ndarray, units: np.ndarray, n_units: int,
                 t0: float, t1: float) -> list[float]:
    kw = {"times_ms": times, "units": units, "n_units": n_units, "t_start_ms": t0,
          "t_stop_ms": t1}
    out: list[float] = []
    all_rates = m.firing_rates(**kw) if n_units > 0 else np.empty(0)
    rates = all_rates[all_rates > 0]  # rate statistics describe the units that fire
    for stat in spec.population_stats:
        if stat == "log_rate_mean":
            out.append(_log_rate(float(rates.mean())) if rates.size else math.nan)
        elif stat.startswith("log_rate_q"):
            q = float(stat[len("log_rate_q"):])
            out.append(_log_rate(float(np.percentile(rates, q))) if rates.size else math.nan)
        elif stat == "active_fraction":
            out.append(float(np.mean(all_rates > 0)) if all_rates.size else math.nan)
        elif stat == "cv_isi":
            out.append(m.mean_cv_isi(**kw) if rates.size else math.nan)
        elif stat == "fano":
            out.append(m.mean_fano_factor(**kw, window_ms=spec.fano_window_ms)
                       if rates.size else math.nan)
    return out


def _select_units(times: np.ndarray, units: np.ndarray, group: np.ndarray, n_total: int,
                  g: int, n_obs: int | None, rng: np.random.Generator | None,
                  observe_silent: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Spikes of the observed units of group ``g`` (active ones only unless
    ``observe_silent``), reindexed 0..n-1, and the number of observed units."""
    members = np.flatnonzero(group == g)
    if not observe_silent:
        counts = np.bincount(units, minlength=n_total)
        members = members[counts[members] > 0]
    if n_obs is not None and members.size > n_obs:
        if rng is None:
            raise ParameterError("sub-sampling units needs a seed")
        members = np.sort(rng.choice(members, size=n_obs, replace=False))
    index = np.full(n_total, -1, dtype=np.int64)
    index[members] = np.arange(members.size)
    keep = index[units] >= 0
    return times[keep], index[units[keep]], int(members.size)


def summary_vector(
    spec: SummarySpec,
    times_ms: np.ndarray,
    units: np.ndarray,
    unit_group: np.ndarray,
    t_start_ms: float,
    t_stop_ms: float,
    seed: int | None = None,
) -> np.ndarray:
    """The summary vector (``spec.names`` order) of one set of spike trains.

    Parameters
    ----------
    spec:
        What to compute.
    times_ms, units:
        Flat spike times (ms) and unit indices ``0..n_units-1`` (any order).
    unit_group:
        Group index of every unit (index into ``spec.groups``; all zeros when pooled), so
        ``len(unit_group)`` is the number of units, silent ones included.
    t_start_ms, t_stop_ms:
        Analysis window (ms); spikes outside are ignored.
    seed:
        Seeds the choice of observed units (when ``units_per_population`` sub-samples) and
        the pair sample of the correlation.
    """
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    units = np.asarray(units, dtype=np.int64).ravel()
    group = np.asarray(unit_group, dtype=np.int64).ravel()
    n_total = group.size
    if n_total == 0:
        raise InsufficientDataError("no units to summarize")
    inside = (times >= t_start_ms) & (times < t_stop_ms)
    times, units = times[inside], units[inside]
    rng = np.random.default_rng(seed) if seed is not None else None
    out: list[float] = []
    sel_t, sel_u, offsets = [], [], 0
    for g, name in enumerate(spec.groups):
        n_obs = (spec.units_per_population or {}).get(name)
        t_g, u_g, n_g = _select_units(times, units, group, n_total, g, n_obs, rng,
                                      spec.observe_silent)
        out += _group_stats(spec, t_g, u_g, n_g, t_start_ms, t_stop_ms)
        sel_t.append(t_g)
        sel_u.append(u_g + offsets)
        offsets += n_g
    if spec.network_stats:
        t_all = np.concatenate(sel_t)
        u_all = np.concatenate(sel_u)
        order = np.argsort(t_all, kind="stable")
        t_all, u_all = t_all[order], u_all[order]
        kw = {"times_ms": t_all, "units": u_all, "n_units": max(offsets, 1),
              "t_start_ms": t_start_ms, "t_stop_ms": t_stop_ms}
        for stat in spec.network_stats:
            if offsets < 2:
                out.append(math.nan)
            elif stat == "chi":
                out.append(m.spike_train_chi(**kw, tau_ms=spec.chi_tau_ms))
            elif stat == "corr":
                out.append(m.mean_pairwise_correlation(
                    **kw, bin_ms=spec.corr_bin_ms, max_pairs=spec.corr_max_pairs,
                    seed=0 if seed is None else seed))
            elif stat == "log_psd_peak_ratio":
                sp = m.rate_spectrum(**kw, bin_ms=spec.spectrum_bin_ms,
                                     segment_ms=spec.spectrum_segment_ms,
                                     min_freq_hz=spec.min_freq_hz)
                r = sp.peak_to_mean
                out.append(math.log10(r) if r > 0 and math.isfinite(r) else math.nan)
    return np.asarray(out, dtype=np.float64)


def summaries_of_recording(spec: SummarySpec | TraceSpec, recording: Any,
                           seed: int | None = 0) -> np.ndarray:
    """Summary vector of a :class:`~hetfit.data_adapters.activity.Recording` over its window.

    Per-population summaries need unit ids that start with the population names.
    """
    if spec.populations is None:
        group = np.zeros(recording.n_units, dtype=np.int64)
    else:
        group = unit_populations(recording.unit_ids, spec.populations)
    return spec.vector(recording.times_ms, recording.unit_index, group,
                       recording.t_start_ms, recording.t_stop_ms, seed=seed)


def summaries_of_result(spec: SummarySpec | TraceSpec, result: Any, t_start_ms: float = 0.0,
                        seed: int | None = None) -> np.ndarray:
    """Summary vector of a :class:`~hetfit.models.results.SpikeResult` over
    ``[t_start_ms, t_max_ms)`` (NaN vector when the simulation diverged)."""
    if result.diverged:
        return np.full(len(spec.names), np.nan)
    names = list(result.population_names)
    sizes = list(result.population_sizes)
    if spec.populations is None:
        group = np.zeros(sum(sizes), dtype=np.int64)
    else:
        missing = [p for p in spec.populations if p not in names]
        if missing:
            raise ParameterError(f"the simulation has no population(s) {missing}; it has {names}")
        group = np.full(sum(sizes), -1, dtype=np.int64)
        start = 0
        for name, size in zip(names, sizes):
            if name in spec.populations:
                group[start:start + size] = spec.populations.index(name)
            start += size
    return spec.vector(result.spike_times_ms, result.spike_neurons, group, t_start_ms,
                       result.t_max_ms, seed=seed)


@dataclass(frozen=True)
class TraceSpec:
    """Raw population-rate traces as the "summary" vector, for embedding networks.

    The vector is the population rate (Hz per observed unit) of each population in
    consecutive bins of ``bin_ms`` over the analysis window, populations one after the
    other: ``[E bin 0..n-1, I bin 0..n-1]``.  Use it with
    ``EstimatorConfig(embedding="cnn", embedding_channels=len(populations))`` so a 1-D CNN
    sees each population as one channel.  Units are observed as in :class:`SummarySpec`
    (firing units only unless ``observe_silent``; ``units_per_population`` sub-samples).

    Parameters
    ----------
    window_ms:
        Length of the analysis window (ms); fixes the number of bins.
    bin_ms:
        Bin width (ms).
    populations, units_per_population, observe_silent:
        As in :class:`SummarySpec`.
    """

    window_ms: float
    bin_ms: float = 5.0
    populations: tuple[str, ...] | None = ("E", "I")
    units_per_population: dict[str, int] | None = None
    observe_silent: bool = False

    def __post_init__(self) -> None:
        for name in ("window_ms", "bin_ms"):
            v = float(getattr(self, name))
            if not (v > 0 and math.isfinite(v)):
                raise ParameterError(f"{name} must be a positive number of ms, got {v}")
        if self.n_bins < 4:
            raise ParameterError(
                f"a {self.window_ms:g} ms window holds only {self.n_bins} bins of "
                f"{self.bin_ms:g} ms", hint="use smaller bins or a longer window")
        if self.populations is not None:
            object.__setattr__(self, "populations", tuple(str(p) for p in self.populations))
        if self.units_per_population is not None:
            object.__setattr__(self, "units_per_population",
                               {str(k): int(v) for k, v in self.units_per_population.items()})

    @property
    def n_bins(self) -> int:
        return int(math.floor(self.window_ms / self.bin_ms + 1e-9))

    @property
    def groups(self) -> tuple[str, ...]:
        return self.populations if self.populations is not None else ("all",)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"{g}.rate_{k}" for g in self.groups for k in range(self.n_bins))

    @property
    def version(self) -> str:
        return SUMMARY_VERSION

    def vector(self, times_ms, units, unit_group, t_start_ms, t_stop_ms, seed=None
               ) -> np.ndarray:
        """Population-rate traces (Hz) of the observed units; NaN for a population without
        observed units."""
        times = np.asarray(times_ms, dtype=np.float64).ravel()
        units = np.asarray(units, dtype=np.int64).ravel()
        group = np.asarray(unit_group, dtype=np.int64).ravel()
        inside = (times >= t_start_ms) & (times < t_stop_ms)
        times, units = times[inside], units[inside]
        rng = np.random.default_rng(seed) if seed is not None else None
        stop = t_start_ms + self.n_bins * self.bin_ms
        out = []
        for g, name in enumerate(self.groups):
            n_obs = (self.units_per_population or {}).get(name)
            t_g, u_g, n_g = _select_units(times, units, group, group.size, g, n_obs, rng,
                                          self.observe_silent)
            if n_g == 0:
                out.append(np.full(self.n_bins, np.nan))
                continue
            _, rate = m.population_rate(t_g, u_g, n_g, t_start_ms, stop, bin_ms=self.bin_ms)
            out.append(rate[:self.n_bins])
        return np.concatenate(out)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = "traces"
        d["version"] = SUMMARY_VERSION
        return d
