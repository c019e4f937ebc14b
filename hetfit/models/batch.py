"""Batched simulation of many parameter sets of one Izhikevich network.

:func:`simulate_batch` compiles every set (per-neuron draws, graph, seeds) in Python and runs
all of them inside one numba kernel with ``prange`` over sets (dynamic scheduling, one set per
task), so there is no process start-up and every core stays busy.  Set ``i`` is seeded with
``hetfit.seeding.child_seeds(seed, n_sets)[i]``: its result is identical to
``simulate_izhikevich(network_i, ..., seed=child_seeds(seed, n_sets)[i])`` and does not depend
on the batch size, chunking or the number of threads.

What varies per set is given as ``params``: a mapping from keys to one value per set (or a
list of per-set mappings).  Keys:

- ``"<pop>.<field>"`` for population scalars (``v_peak, v_reset, tau_s, E_syn,
  noise_sigma``);
- ``"<pop>.<param>"`` for per-neuron parameters (``C, k, v_r, v_theta, eta, g, theta_reset,
  b, tau_u, kappa, v_init, u_init``): the homogeneous value, or the center of a
  Heterogeneity (an explicit per-neuron array cannot be replaced by one number per set);
- ``"<pop>.<param>.center"``, ``.width``, ``.low``, ``.high``: fields of that parameter's
  Heterogeneity (the base population must already have one; family, range and sampling
  are kept);
- ``"<pop>.I_ext"`` (constant drive in pA; the base input must be constant) and
  ``"<pop>.I_offset"`` (pA added to the base input waveform);
- ``"J.<post>.<pre>"`` coupling strength, ``"p.<post>.<pre>"`` connection probability.

The result keeps what inference needs without copying spike trains: population rates on a
bin grid, per-neuron spike counts and ISI sums (for rates, rate spread and CV of ISI), a
status per set, and optionally every spike (``record_spikes=True``) or a per-set summary
vector computed by a Python callback on each set's :class:`~hetfit.models.results.SpikeResult`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hetfit.errors import ParameterError, option
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import StepCurrent, compile_segments
from hetfit.models.izhikevich import (
    _PER_NEURON,
    _SCALARS,
    CompiledSet,
    IzhikevichNetwork,
    IzhikevichPopulation,
    Method,
    aligned_empty,
    as_network,
    compile_set,
    concrete_seed,
    kernel_controls,
    make_grid,
    pop_layout,
    positive,
)
from hetfit.models.results import SpikeResult
from hetfit.resources import network_estimate, require_memory
from hetfit.seeding import SeedLike, child_seeds

_STATUS_TEXT = {0: "ok", 1: "diverged (non-finite state)",
                2: "runaway firing (a neuron kept spiking without returning below v_cut)"}


@dataclass
class BatchResult:
    """Results of :func:`simulate_batch` (leading axis = parameter set).

    Attributes
    ----------
    population_names, population_sizes:
        Network layout (neurons are indexed population by population).
    rate_t_ms:
        Bin centres (ms) of the population rates.
    rates_hz:
        Population rates, shape (n_sets, n_populations, n_bins), Hz.
    spike_counts:
        Spikes per neuron, shape (n_sets, n_neurons).
    isi_sum_ms, isi_sq_sum_ms2:
        Per-neuron sums of inter-spike intervals and of their squares (for CV of ISI).
    status:
        0 ok, 1 diverged, 2 runaway firing; ``diverged`` is ``status != 0``.
    seeds:
        Seed of every set.
    params:
        The per-set values of the varied parameters.
    spikes:
        ``[(times_ms, neurons), ...]`` per set when ``record_spikes`` (sorted by time).
    summaries:
        ``(n_sets, n_features)`` from the ``summary`` callback (NaN rows for failed sets).
    v_mean_mV:
        ``(n_sets, n_populations, n_bins)`` mean membrane potential at bin ends (mV) when
        ``record_v``.
    """

    population_names: tuple[str, ...]
    population_sizes: tuple[int, ...]
    dt_ms: float
    t_max_ms: float
    rate_t_ms: np.ndarray
    rates_hz: np.ndarray
    spike_counts: np.ndarray
    isi_sum_ms: np.ndarray
    isi_sq_sum_ms2: np.ndarray
    status: np.ndarray
    seeds: list
    params: dict[str, np.ndarray]
    spikes: list[tuple[np.ndarray, np.ndarray]] | None = None
    summaries: np.ndarray | None = None
    samples: list[dict[str, dict[str, np.ndarray]]] | None = None
    v_mean_mV: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def diverged(self) -> np.ndarray:
        return self.status != 0

    @property
    def n_spikes(self) -> np.ndarray:
        return self.spike_counts.sum(axis=1)

    def mean_rate_hz(self) -> np.ndarray:
        """Mean rate per neuron of each population, shape (n_sets, n_populations)."""
        out = np.empty((len(self), len(self.population_sizes)))
        start = 0
        for p, n in enumerate(self.population_sizes):
            out[:, p] = self.spike_counts[:, start:start + n].sum(axis=1) / n / (self.t_max_ms / 1e3)
            start += n
        out[self.diverged] = np.nan
        return out

    def cv_isi(self) -> np.ndarray:
        """Per-neuron CV of inter-spike intervals (NaN with fewer than 3 spikes)."""
        m = np.maximum(self.spike_counts - 1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.isi_sum_ms / m
            var = self.isi_sq_sum_ms2 / m - mean**2
            cv = np.sqrt(np.maximum(var, 0.0)) / mean
        cv[self.spike_counts < 3] = np.nan
        cv[self.diverged] = np.nan
        return cv

    def result(self, i: int) -> SpikeResult:
        """Set ``i`` as a :class:`SpikeResult` (empty spike arrays unless recorded)."""
        st = int(self.status[i])
        recorded = self.spikes is not None and st == 0
        if recorded:
            times, neurons = self.spikes[i]
        else:  # a failed set never hands out spikes as if they were data
            times, neurons = np.zeros(0), np.zeros(0, dtype=np.int64)
        meta = {
            "model": "izhikevich",
            "seed": self.seeds[i],
            "status": _STATUS_TEXT.get(st, str(st)),
            "spike_counts": self.spike_counts[i],
            "isi_sum_ms": self.isi_sum_ms[i],
            "isi_sq_sum_ms2": self.isi_sq_sum_ms2[i],
            "params": {k: float(v[i]) for k, v in self.params.items()},
            "spikes_recorded": recorded,
            "failed_at_ms": (float(self.meta["per_set"]["fail_step"][i]) * self.dt_ms
                             if st != 0 else None),
        }
        meta.update({k: v for k, v in self.meta.items() if k != "per_set"})
        for k, v in self.meta.get("per_set", {}).items():
            if k != "fail_step":
                meta[k] = v[i]
        if self.samples is not None:
            meta["samples"] = self.samples[i]
        if self.v_mean_mV is not None:
            meta["v_mean_mV"] = self.v_mean_mV[i]
            meta["v_mean_t_ms"] = np.minimum(
                self.rate_t_ms + 0.5 * (self.rate_t_ms[1] - self.rate_t_ms[0])
                if self.rate_t_ms.size > 1 else np.array([self.t_max_ms]), self.t_max_ms)
        return SpikeResult(
            spike_times_ms=times, spike_neurons=neurons,
            population_names=self.population_names, population_sizes=self.population_sizes,
            rate_t_ms=self.rate_t_ms, rates_hz=self.rates_hz[i], t_max_ms=self.t_max_ms,
            dt_ms=self.dt_ms, diverged=bool(st != 0), meta=meta,
        )


# ---------------------------------------------------------------------------------------
# parameter variations
# ---------------------------------------------------------------------------------------
def _per_set_params(params: Any, n_sets: int | None) -> tuple[list[dict[str, float]], int]:
    if params is None:
        if n_sets is None:
            raise ParameterError("give params, seeds or n_sets to define the batch size")
        return [{} for _ in range(n_sets)], n_sets
    if isinstance(params, Mapping):
        cols = {str(k): np.atleast_1d(np.asarray(v, dtype=float)) for k, v in params.items()}
        lengths = {k: v.size for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise ParameterError(
                f"every varied parameter needs one value per set; got lengths {lengths}"
            )
        n = next(iter(lengths.values())) if lengths else (n_sets or 0)
        rows = [{k: float(v[i]) for k, v in cols.items()} for i in range(n)]
    else:
        rows = [{str(k): float(v) for k, v in dict(r).items()} for r in params]
        n = len(rows)
    if n_sets is not None and n != n_sets:
        raise ParameterError(f"params define {n} sets but {n_sets} seeds/sets were requested")
    for i, r in enumerate(rows):
        for k, v in r.items():
            if not math.isfinite(v):
                raise ParameterError(f"set {i}: parameter {k} is not finite ({v})")
    return rows, n


def _apply(net: IzhikevichNetwork, row: Mapping[str, float]) -> tuple[IzhikevichNetwork, np.ndarray]:
    """The network of one set and its per-population input offsets (pA)."""
    names = list(net.names)
    I_off = np.zeros(len(names))
    pops = {p.name: p for p in net.populations}
    J = [list(r) for r in net.J]
    P = None if net.connection_p is None else [list(r) for r in net.connection_p]
    for key, val in row.items():
        parts = key.split(".")
        if parts[0] in ("J", "p") and len(parts) == 3:
            post, pre = parts[1], parts[2]
            if post not in names or pre not in names:
                raise ParameterError(f"{key}: unknown population; have {names}")
            if parts[0] == "J":
                J[names.index(post)][names.index(pre)] = val
            else:
                if P is None:
                    raise ParameterError(
                        f"{key}: the network is all-to-all; set connection_p to vary probabilities"
                    )
                P[names.index(post)][names.index(pre)] = val
            continue
        if parts[0] not in pops or len(parts) not in (2, 3):
            raise ParameterError(
                f"unknown batch parameter {key!r}",
                hint=f"use '<pop>.<field>', '<pop>.<param>.width', 'J.<post>.<pre>'; pops: {names}",
            )
        pop: IzhikevichPopulation = pops[parts[0]]
        fld = parts[1]
        if fld in ("I_ext", "I_offset") and len(parts) == 2:
            if fld == "I_offset":
                I_off[names.index(pop.name)] += val
            else:
                cur: StepCurrent = pop.I_ext
                if len(set(cur.values_pA)) > 1:
                    raise ParameterError(
                        f"{key}: {pop.name}.I_ext is a waveform",
                        hint=f"vary '{pop.name}.I_offset' to add a constant to it",
                    )
                # the input waveform is shared by all sets: a new constant is an offset
                I_off[names.index(pop.name)] += val - cur.values_pA[0]
            continue
        if fld in _SCALARS and len(parts) == 2:
            pops[pop.name] = replace(pop, **{fld: val})
            continue
        if fld in _PER_NEURON:
            base = getattr(pop, fld)
            if isinstance(base, np.ndarray):
                raise ParameterError(
                    f"{key}: {pop.name}.{fld} is an explicit per-neuron array",
                    hint=f"give {pop.name}.{fld} a number or a Heterogeneity in the base "
                    "network to vary it per set",
                )
            if len(parts) == 2:
                new = replace(base, center=val) if isinstance(base, Heterogeneity) else val
            else:
                attr = parts[2]
                if attr not in ("center", "width", "low", "high"):
                    raise ParameterError(f"{key}: unknown heterogeneity field {attr!r}")
                if not isinstance(base, Heterogeneity):
                    raise ParameterError(
                        f"{key}: {pop.name}.{fld} is homogeneous",
                        hint=f"give {pop.name}.{fld} a Heterogeneity (family, range, sampling) "
                        "in the base network; the batch then varies its fields",
                    )
                new = replace(base, **{attr: val})
            pops[pop.name] = replace(pop, **{fld: new})
            continue
        raise ParameterError(f"unknown batch parameter {key!r}")
    net2 = replace(net, populations=tuple(pops[n] for n in names), J=J,
                   connection_p=P if P is not None else None)
    return net2, I_off


# ---------------------------------------------------------------------------------------
# main entry
# ---------------------------------------------------------------------------------------
def simulate_batch(
    model: IzhikevichNetwork | IzhikevichPopulation,
    params: Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]] | None,
    t_max_ms: float,
    dt_ms: float = 0.05,
    *,
    seed: SeedLike = None,
    seeds: Sequence[SeedLike] | None = None,
    n_sets: int | None = None,
    method: str = "exact",
    rate_bin_ms: float | None = None,
    record_spikes: bool = False,
    summary: Callable[[SpikeResult], Sequence[float]] | None = None,
    n_threads: int | None = None,
    chunk_size: int | None = None,
    cutoff_fraction: float = 0.1,
    keep_samples: bool = False,
    record_v: bool = False,
) -> BatchResult:
    """Simulate many parameter sets of one network in parallel.

    Parameters
    ----------
    model:
        Base network (or population).
    params:
        Per-set parameter values (see module docstring for keys), or ``None`` to run the
        base network with ``n_sets`` different seeds.
    t_max_ms, dt_ms:
        Duration and step (ms); see :func:`simulate_izhikevich`.
    seed:
        Root seed; set ``i`` uses ``child_seeds(seed, n_sets)[i]``.
    seeds:
        Explicit per-set seeds instead (overrides ``seed``).
    n_sets:
        Number of sets when ``params`` is ``None`` and ``seeds`` not given.
    method, rate_bin_ms, cutoff_fraction:
        As in :func:`simulate_izhikevich`.
    record_spikes:
        Return every spike of every set (16 bytes per spike).  Buffers are sized for a mean
        rate of 60 Hz; a set that fires more is re-run alone (same seed, identical result) to
        collect all of its spikes.
    summary:
        ``f(SpikeResult) -> vector`` applied to each set (spikes included when
        ``record_spikes``); results in ``BatchResult.summaries``.
    n_threads:
        Worker threads (default: all numba threads).
    chunk_size:
        Sets compiled and simulated together (bounds memory); default all.
    keep_samples:
        Keep the sampled per-neuron parameters of every set in ``BatchResult.samples``.
    record_v:
        Record the population-mean membrane potential at the end of every rate bin
        (``BatchResult.v_mean_mV``, mV): the mean over neurons with ``v_reset <= v <=
        v_peak`` (neurons inside a solved spike excursion are left out; in the QIF limit their
        contributions above and below would cancel).
    """
    import numba

    from hetfit.models import _izhikevich_kernels as K

    net = as_network(model)
    if seeds is not None:
        seed_list = [concrete_seed(s) for s in seeds]  # None -> fresh, recorded seed
        rows, n = _per_set_params(params, len(seed_list))
    else:
        rows, n = _per_set_params(params, n_sets)
        root = concrete_seed(seed)
        seed_list = [int(s) for s in child_seeds(root, n)]
    if n == 0:
        raise ParameterError("the batch is empty")
    dt_ms = positive("dt_ms", dt_ms)
    if rate_bin_ms is None:  # 1 ms bins (or one step when dt > 1 ms)
        rate_bin_ms = max(1, int(round(1.0 / dt_ms))) * dt_ms
    grid = make_grid(t_max_ms, dt_ms, rate_bin_ms, method)
    if not (0 < cutoff_fraction <= 1.0):
        raise ParameterError(f"cutoff_fraction must lie in (0, 1], got {cutoff_fraction}")
    max_threads = numba.config.NUMBA_NUM_THREADS
    if n_threads is None:
        n_threads = max_threads
    if int(n_threads) != n_threads or n_threads < 1:
        raise ParameterError(f"n_threads must be a positive integer, got {n_threads}")
    n_threads = min(int(n_threads), max_threads)
    if chunk_size is None:
        chunk_size = n
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ParameterError(f"chunk_size must be a positive integer, got {chunk_size}")

    # refuse sizes this machine cannot hold before the first array is allocated
    require_memory(
        network_estimate(net, grid.t_max_ms, dt_ms, rate_bin_ms, n_sets=n,
                         chunk_size=chunk_size, record_spikes=record_spikes, record_v=record_v),
        option("use fewer neurons or sets, a shorter t_max_ms, a larger dt_ms or rate_bin_ms, "
               "a smaller chunk_size or record_spikes=False",
               "use a smaller network or a shorter simulation"))
    starts, pop_of = pop_layout(net)
    N = net.n_neurons
    P = len(net.populations)
    n_bins = grid.n_bins
    seg_start, seg_val = compile_segments([p.I_ext for p in net.populations], dt_ms,
                                          grid.n_steps)
    rate_counts = np.zeros((n, P, n_bins))
    spk_count = np.zeros((n, N), dtype=np.int64)
    isi_sum = np.zeros((n, N))
    isi_sq = np.zeros((n, N))
    info = np.zeros((n, K.INFO_SIZE), dtype=np.int64)
    v_mean = np.full((n, P, n_bins if record_v else 0), np.nan)
    spikes: list | None = [None] * n if record_spikes else None
    samples: list | None = [None] * n if keep_samples else None
    summaries: list | None = [None] * n if summary is not None else None
    per_set_meta = {"v_cut": [None] * n, "n_excursions": np.zeros(n, np.int64),
                    "n_fallback_steps": np.zeros(n, np.int64),
                    "fail_step": np.zeros(n, np.int64),
                    "n_early_deliveries": np.zeros(n, np.int64)}
    t_sim = 0.0
    cpu_sim = 0.0
    cap = int(min(2**31 - 1, math.ceil(N * grid.t_max_ms / 1e3 * 60.0) + 4096)) if (
        record_spikes) else 0

    ctl = kernel_controls(grid, net.sparse, record_v)
    ctl_nov = kernel_controls(grid, net.sparse, False)  # reruns that only collect spikes
    old_threads = numba.get_num_threads()
    try:
        numba.set_num_threads(n_threads)
        for c0 in range(0, n, chunk_size):
            idx = list(range(c0, min(n, c0 + chunk_size)))
            comp: list[CompiledSet] = []
            for i in idx:
                try:
                    net_i, off_i = _apply(net, rows[i])
                    comp.append(compile_set(net_i, seed_list[i], grid, cutoff_fraction,
                                            I_off=off_i))
                except ParameterError as exc:
                    raise ParameterError(f"set {i}: {exc.message}", hint=exc.hint) from exc
            arrays = _stack(comp)
            m = len(idx)
            sp_t = np.zeros((m, cap))
            sp_i = np.zeros((m, cap), dtype=np.int64)
            t0 = time.perf_counter()
            c0_cpu = time.process_time()
            _launch(K, arrays, pop_of, starts, seg_start, seg_val, ctl, grid,
                    rate_counts[c0:c0 + m], spk_count[c0:c0 + m], isi_sum[c0:c0 + m],
                    isi_sq[c0:c0 + m], sp_t, sp_i, info[c0:c0 + m], v_mean[c0:c0 + m],
                    n_threads)
            t_sim += time.perf_counter() - t0
            cpu_sim += time.process_time() - c0_cpu
            for j, i in enumerate(idx):
                if record_spikes:
                    nrec = int(info[i, K.INFO_N_SPIKES])
                    if nrec > cap:  # buffer too small: rerun this set alone (deterministic)
                        one = _stack([comp[j]])
                        bt = np.zeros((1, nrec))
                        bi = np.zeros((1, nrec), dtype=np.int64)
                        dummy = (np.zeros((1, P, n_bins)), np.zeros((1, N), np.int64),
                                 np.zeros((1, N)), np.zeros((1, N)),
                                 np.zeros((1, K.INFO_SIZE), np.int64))
                        _launch(K, one, pop_of, starts, seg_start, seg_val, ctl_nov, grid,
                                *dummy[:4], bt, bi, dummy[4], np.zeros((1, P, 0)))
                        times, neurons = bt[0], bi[0]
                    else:
                        times, neurons = sp_t[j, :nrec], sp_i[j, :nrec]
                    order = np.lexsort((neurons, times))
                    spikes[i] = (times[order].copy(), neurons[order].copy())
                if keep_samples:
                    samples[i] = comp[j].samples
                per_set_meta["v_cut"][i] = comp[j].v_cut
                per_set_meta["n_excursions"][i] = info[i, K.INFO_N_EXCURSIONS]
                per_set_meta["n_fallback_steps"][i] = info[i, K.INFO_N_FALLBACK]
                per_set_meta["fail_step"][i] = info[i, K.INFO_FAIL_STEP]
                per_set_meta["n_early_deliveries"][i] = info[i, K.INFO_N_EARLY]
            del sp_t, sp_i
            if summary is not None:
                partial = _result_shell(net, grid, rate_counts, spk_count, isi_sum, isi_sq,
                                        info, seed_list, rows, spikes, samples, per_set_meta,
                                        v_mean)
                for i in idx:
                    if info[i, K.INFO_STATUS] != 0:
                        summaries[i] = None
                        continue
                    summaries[i] = np.atleast_1d(np.asarray(summary(partial.result(i)),
                                                            dtype=float))
    finally:
        numba.set_num_threads(old_threads)

    res = _result_shell(net, grid, rate_counts, spk_count, isi_sum, isi_sq, info, seed_list,
                        rows, spikes, samples, per_set_meta, v_mean)
    if summaries is not None:
        good = [s for s in summaries if s is not None]
        width = good[0].size if good else 0
        out = np.full((n, width), np.nan)
        for i, s in enumerate(summaries):
            if s is not None:
                if s.size != width:
                    raise ParameterError(
                        f"summary returned {s.size} values for set {i} but {width} before"
                    )
                out[i] = s
        res.summaries = out
    res.meta.update({
        "method": method, "cutoff_fraction": cutoff_fraction, "n_threads": n_threads,
        "simulate_wall_s": t_sim, "simulate_cpu_s": cpu_sim, "rate_bin_ms": grid.bin_ms, "network": net.to_dict(),
    })
    return res


def _result_shell(net, grid, rate_counts, spk_count, isi_sum, isi_sq, info, seed_list, rows,
                  spikes, samples, per_set_meta, v_mean=None) -> BatchResult:
    from hetfit.models import _izhikevich_kernels as K

    sizes = np.asarray(net.sizes, dtype=float)
    widths = np.full(grid.n_bins, grid.bin_ms)
    widths[-1] = grid.t_max_ms - grid.bin_ms * (grid.n_bins - 1)
    rates = rate_counts / sizes[None, :, None] / (widths[None, None, :] / 1e3)
    status = info[:, K.INFO_STATUS].copy()
    rates[status != 0] = np.nan
    rate_t = np.minimum(grid.bin_ms * (np.arange(grid.n_bins) + 0.5), grid.t_max_ms)
    keys = sorted({k for r in rows for k in r})
    params = {k: np.array([r.get(k, np.nan) for r in rows]) for k in keys}
    return BatchResult(
        population_names=net.names, population_sizes=net.sizes, dt_ms=grid.dt_ms,
        t_max_ms=grid.t_max_ms, rate_t_ms=rate_t, rates_hz=rates, spike_counts=spk_count,
        isi_sum_ms=isi_sum, isi_sq_sum_ms2=isi_sq, status=status, seeds=list(seed_list),
        params=params, spikes=spikes, samples=samples,
        v_mean_mV=None if v_mean is None or v_mean.shape[2] == 0 else _masked(v_mean, status),
        meta={"per_set": per_set_meta},
    )


def _masked(v_mean: np.ndarray, status: np.ndarray) -> np.ndarray:
    out = v_mean.copy()
    out[status != 0] = np.nan
    return out


def _stack(comp: list[CompiledSet]) -> dict[str, np.ndarray]:
    """Stack compiled sets along a leading set axis (sparse edges concatenated)."""
    out: dict[str, np.ndarray] = {
        "PN": np.stack([c.pn for c in comp], out=aligned_empty((len(comp),) + comp[0].pn.shape)),
        "PP": np.ascontiguousarray(np.stack([c.pp for c in comp])),
        "J": np.ascontiguousarray(np.stack([c.J for c in comp])),
    }
    n_edges = np.array([c.post.size for c in comp], dtype=np.int64)
    out["edge_off"] = np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64)
    width = max(c.indptr.size for c in comp)
    indptr = np.zeros((len(comp), width), dtype=np.int64)
    for j, c in enumerate(comp):
        indptr[j, :c.indptr.size] = c.indptr
    out["indptr"] = indptr
    out["post"] = np.ascontiguousarray(np.concatenate([c.post for c in comp]).astype(np.int64))
    out["w"] = np.ascontiguousarray(np.concatenate([c.w for c in comp]).astype(np.float64))
    out["noise_keys"] = np.array([c.noise_key for c in comp], dtype=np.uint64)
    return out


def _launch(K, a, pop_of, starts, seg_start, seg_val, ctl, grid, rate_counts, spk_count,
            isi_sum, isi_sq, sp_t, sp_i, info, v_mean, n_threads: int = 1) -> None:
    """Run stacked sets ``a`` (see :func:`_stack`) with run controls ``ctl``."""
    import numba

    m = a["PN"].shape[0]
    if m == 1 or n_threads == 1:
        # serial path: calls the per-set kernel directly (no parallel runtime to load)
        for s in range(m):
            e0, e1 = a["edge_off"][s], a["edge_off"][s + 1]
            K.run_set(a["PN"][s], a["PP"][s], a["J"][s], starts, pop_of, seg_start, seg_val,
                      a["indptr"][s], a["post"][e0:e1], a["w"][e0:e1], ctl, grid.dt_ms,
                      a["noise_keys"][s], rate_counts[s], spk_count[s], isi_sum[s], isi_sq[s],
                      sp_t[s], sp_i[s], info[s], v_mean[s])
        return
    old = numba.set_parallel_chunksize(1)
    try:
        K.run_batch(a["PN"], a["PP"], a["J"], starts, pop_of, seg_start, seg_val,
                    a["indptr"], a["post"], a["w"], a["edge_off"], ctl, grid.dt_ms,
                    a["noise_keys"], rate_counts, spk_count, isi_sum, isi_sq, sp_t, sp_i, info,
                    v_mean)
    finally:
        numba.set_parallel_chunksize(old)


# ---------------------------------------------------------------------------------------
# One network, one run
# ---------------------------------------------------------------------------------------
def simulate_izhikevich(
    model: IzhikevichNetwork | IzhikevichPopulation,
    t_max_ms: float,
    dt_ms: float = 0.05,
    *,
    seed: SeedLike = None,
    method: Method = "exact",
    rate_bin_ms: float | None = None,
    record_spikes: bool = True,
    cutoff_fraction: float = 0.1,
    record_v: bool = False,
) -> SpikeResult:
    """Simulate a heterogeneous Izhikevich network (one parameter set of
    :func:`simulate_batch`).

    Parameters
    ----------
    model:
        :class:`IzhikevichNetwork` (or a single population, simulated uncoupled).
    t_max_ms:
        Duration (ms), a whole number of steps.
    dt_ms:
        Integration step (ms).  ``method="exact"``: 0.05 ms gives spike counts within about
        1% of a converged reference for the DESIGN.md parameters, 0.1 ms within a few %;
        ``method="euler"`` with ``v_peak = 1000`` needs 0.01 ms or less.
    seed:
        Seeds heterogeneity draws (random sampling), the sparse graph and the noise.  The
        same seed gives identical spike trains; ``None`` draws a fresh seed (stored in
        ``result.meta["seed"]``).
    method:
        ``"exact"`` (closed-form spike excursions above ``v_cut``) or ``"euler"``.
    rate_bin_ms:
        Width of the population-rate bins (ms); default 1 ms (or ``dt`` if larger).
    record_spikes:
        Keep every spike time and neuron index (``False``: only rates and counts).
    cutoff_fraction:
        Sets ``v_cut`` for ``method="exact"`` (smaller = more of the spike solved exactly).
    record_v:
        Also record the population-mean membrane potential at the end of every rate bin
        (``meta["v_mean_mV"]``, shape (populations, bins), at times ``meta["v_mean_t_ms"]``);
        neurons inside a closed-form spike excursion are left out of the mean.

    Returns
    -------
    SpikeResult
        ``meta`` holds the seed, per-neuron spike counts (``spike_counts``), the sampled
        per-neuron parameters (``samples``), ``v_cut`` per population, wall time and
        counters.  ``diverged=True`` (with ``meta["status"]``) when the state became
        non-finite or a neuron fired without bound; such results must not be used as data.
    """
    net = as_network(model)
    seed = concrete_seed(seed)
    t0 = time.perf_counter()
    res = simulate_batch(
        net, None, t_max_ms, dt_ms, seeds=[seed], method=method, rate_bin_ms=rate_bin_ms,
        record_spikes=record_spikes, n_threads=1, cutoff_fraction=cutoff_fraction,
        keep_samples=True, record_v=record_v,
    )
    out = res.result(0)
    out.meta["seed"] = seed
    out.meta["wall_time_s"] = time.perf_counter() - t0
    return out
