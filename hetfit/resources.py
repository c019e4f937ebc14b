"""Resource estimates made before allocating, and refusals of sizes the machine cannot hold.

Sizes come from users (``--n``, ``--duration``, ``--dt``, ``--budget``, ``--samples``,
``--n-boot``, a model option ``n_e=...``).  A size that cannot fit must be refused at once, in
one line that says what was asked for, how much memory it needs, what this machine allows and
how to get around it, instead of ending minutes later in a ``MemoryError``, the OOM killer
or a run that would take days.

Estimates
    Every estimator mirrors what the code really allocates (the functions named in each
    docstring) and counts only arrays that certainly exist at the same time, so an estimate is
    a lower bound of the peak: a refusal is never a false alarm from guessed overheads.
    Memory is split in two kinds:

    * *committed*: arrays that are written in full (state, per-neuron parameters, rates,
      edges, bootstrap weights, samples, training sets);
    * *reserved*: zero-filled buffers sized for a worst case and filled only as far as needed
      (the spike buffers of :func:`hetfit.models.batch.simulate_batch`, sized for a mean rate
      of 60 Hz).  Untouched pages of them cost address space, not RAM.

Limits (:func:`memory_limit`)
    Committed bytes are compared with the memory this process can use now: the smallest of
    ``MemAvailable`` (``/proc/meminfo``; ``os.sysconf`` elsewhere), the container's cgroup
    headroom (``memory.max - memory.current``), the ``ulimit -v`` headroom and, in strict
    overcommit mode, the commit headroom.  Committed plus reserved bytes are compared with the
    address space the process may take (``ulimit -v`` headroom; RAM + swap under the kernel's
    default heuristic overcommit).  ``HETFIT_MEMORY_LIMIT_BYTES`` (a number of bytes, e.g.
    ``8e9``) replaces both limits, e.g. to allow swap or to test; where no limit can be read,
    nothing is refused.

Run time (:func:`check_work`)
    A network simulation costs about 1 ns per neuron and time step on one core
    (benchmarks/RESULTS.md: 1000 neurons for 1 s at dt = 0.1 ms take ~10 ms CPU), so more than
    ``MAX_NEURON_STEPS`` = 10^14 neuron-steps per core (about a day) is refused as a size that
    would run for days; ``HETFIT_MAX_NEURON_STEPS`` changes the limit.  Resampling counts
    (``--n-boot``, ``--n-perm``, ``--n-gof``) above ``MAX_REPLICATES`` are refused too: they
    cannot improve an interval or a p-value and run for hours.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from hetfit.errors import ParameterError, ResourceError, option

MEMORY_LIMIT_ENV = "HETFIT_MEMORY_LIMIT_BYTES"
MAX_STEPS_ENV = "HETFIT_MAX_NEURON_STEPS"
#: Neuron-steps per core refused as "would run for days" (~1 ns each: about 28 hours).
MAX_NEURON_STEPS = 10**14
#: Bootstrap / permutation / goodness-of-fit replicates refused: the Monte Carlo error of a
#: p-value at 10^7 replicates is below 2e-4 already, and each replicate costs real time.
MAX_REPLICATES = 10**7
NS_PER_NEURON_STEP = 1.0

# Mean rate (Hz) the spike buffers of simulate_batch are sized for, and their slack.
_SPIKE_BUFFER_HZ = 60.0
_SPIKE_BUFFER_SLACK = 4096
_SPIKE_BUFFER_MAX = 2**31 - 1
_PARK_MAX_MS = 20.0  # hetfit.models.izhikevich._PARK_MAX_MS: sets the calendar ring
_INFO_SIZE = 6  # hetfit.models._izhikevich_kernels.INFO_SIZE


# ---------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------
def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'`` (binary units, as numpy's MemoryError says)."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover - unreachable


def format_count(n: float) -> str:
    """Thousands separators for whole numbers, 3 significant digits beyond 10^15."""
    if not math.isfinite(n):
        return "an unbounded number of"
    return f"{int(n):,}" if abs(n) < 1e15 else f"{n:.3g}"


def _duration(seconds: float) -> str:
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.0f} hours"
    if seconds < 3 * 365 * 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / (365 * 86400):.3g} years"


# ---------------------------------------------------------------------------------------
# the machine
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryLimit:
    """What this process may allocate now.

    ``committed``: bytes it can fill (None: unknown); ``address_space``: bytes it can
    reserve (None: no limit); ``*_source``: where each number came from (for the message).
    """

    committed: int | None
    committed_source: str
    address_space: int | None
    address_space_source: str


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key.strip()] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    except OSError:
        pass
    return out


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_headroom() -> int | None:
    """``memory.max - memory.current`` of this process's cgroup (v2, then v1)."""
    for limit_path, usage_path in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit = _read_int(limit_path)  # "max" (no limit) reads as None
        if limit is None or limit >= 2**60:  # v1 writes a huge number for "no limit"
            continue
        used = _read_int(usage_path) or 0
        return max(limit - used, 0)
    return None


def _rlimit_as_headroom() -> int | None:
    """``ulimit -v`` minus the address space this process already holds."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    return max(int(soft) - used, 0)


def _env_limit() -> int | None:
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(
            f"{MEMORY_LIMIT_ENV}={text!r} is not a number of bytes > 0",
            hint=f"e.g. {MEMORY_LIMIT_ENV}=8e9, or unset it to use the machine's memory")
    return int(value)


def memory_limit(limit_bytes: int | None = None) -> MemoryLimit:
    """The memory this process may use now (see the module docstring).

    ``limit_bytes`` (or ``HETFIT_MEMORY_LIMIT_BYTES``) replaces what is read from the machine.
    """
    if limit_bytes is not None:
        n = int(limit_bytes)
        return MemoryLimit(n, "the given limit", n, "the given limit")
    env = _env_limit()
    if env is not None:
        return MemoryLimit(env, MEMORY_LIMIT_ENV, env, MEMORY_LIMIT_ENV)
    info = _meminfo()
    committed: list[tuple[int, str]] = []
    space: list[tuple[int, str]] = []
    if "MemAvailable" in info:
        committed.append((info["MemAvailable"], "MemAvailable in /proc/meminfo"))
    else:
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            try:
                committed.append((os.sysconf("SC_AVPHYS_PAGES") * page, "available RAM"))
            except (ValueError, OSError):
                committed.append((os.sysconf("SC_PHYS_PAGES") * page, "physical RAM"))
        except (ValueError, OSError, AttributeError):
            pass
    cg = _cgroup_headroom()
    if cg is not None:
        committed.append((cg, "the container's memory limit (cgroup)"))
    rl = _rlimit_as_headroom()
    if rl is not None:
        committed.append((rl, "ulimit -v"))
        space.append((rl, "ulimit -v"))
    mode = _read_int("/proc/sys/vm/overcommit_memory")
    if mode == 2 and "CommitLimit" in info:
        head = max(info["CommitLimit"] - info.get("Committed_AS", 0), 0)
        committed.append((head, "the kernel's commit limit"))
        space.append((head, "the kernel's commit limit"))
    elif mode in (0, None) and "MemTotal" in info:
        # the default heuristic refuses single reservations beyond RAM + swap
        space.append((info["MemTotal"] + info.get("SwapTotal", 0), "RAM + swap"))
    c = min(committed) if committed else (None, "unknown")
    s = min(space) if space else (None, "no limit")
    return MemoryLimit(c[0], c[1], s[0], s[1])


# ---------------------------------------------------------------------------------------
# estimates
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """Bytes an operation allocates at its peak, by part.

    ``what`` names the size asked for (``"simulating 1,000 neurons x 20,000 steps"``);
    ``committed`` and ``reserved`` map part names to bytes (see the module docstring).
    """

    what: str
    committed: dict[str, int] = field(default_factory=dict)
    reserved: dict[str, int] = field(default_factory=dict)

    @property
    def committed_bytes(self) -> int:
        return int(sum(self.committed.values()))

    @property
    def reserved_bytes(self) -> int:
        return int(sum(self.reserved.values()))

    @property
    def total_bytes(self) -> int:
        return self.committed_bytes + self.reserved_bytes

    def parts(self, which: str = "all", k: int = 2) -> str:
        """The ``k`` largest parts, e.g. ``'spike buffers 6 GiB, rates 1 GiB'``."""
        items = {**self.committed, **self.reserved} if which == "all" else getattr(self, which)
        top = sorted(items.items(), key=lambda kv: -kv[1])[:k]
        return ", ".join(f"{name} {format_bytes(b)}" for name, b in top if b > 0)

    def __add__(self, other: Estimate) -> Estimate:
        def merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            out = dict(a)
            for key, v in b.items():
                out[key] = out.get(key, 0) + v
            return out

        return Estimate(self.what, merge(self.committed, other.committed),
                        merge(self.reserved, other.reserved))


def require_memory(estimate: Estimate, hint: str, limit_bytes: int | None = None) -> Estimate:
    """Raise :class:`~hetfit.errors.ResourceError` when ``estimate`` exceeds the machine.

    ``hint`` says how to get around it (name the flags); ``limit_bytes`` overrides
    :func:`memory_limit`.  Returns the estimate when it fits.
    """
    lim = memory_limit(limit_bytes)
    tail = f"; {MEMORY_LIMIT_ENV} sets the limit"
    if lim.committed is not None and estimate.committed_bytes > lim.committed:
        raise ResourceError(
            f"{estimate.what} needs at least {format_bytes(estimate.committed_bytes)} of "
            f"memory ({estimate.parts('committed')}) but this machine has "
            f"{format_bytes(lim.committed)} available ({lim.committed_source})",
            hint=hint + tail)
    if lim.address_space is not None and estimate.total_bytes > lim.address_space:
        raise ResourceError(
            f"{estimate.what} reserves at least {format_bytes(estimate.total_bytes)} of "
            f"memory ({estimate.parts('all')}) but this process may reserve "
            f"{format_bytes(lim.address_space)} ({lim.address_space_source})",
            hint=hint + tail)
    return estimate


def _steps(t_max_ms: float, dt_ms: float) -> float:
    """Number of time steps as a float (inf when it does not fit a float)."""
    try:
        n = float(t_max_ms) / float(dt_ms)
    except (OverflowError, ZeroDivisionError):
        return math.inf
    return float(round(n)) if math.isfinite(n) else math.inf


def default_rate_bin_ms(dt_ms: float) -> float:
    """The bin :func:`hetfit.models.batch.simulate_batch` uses when none is given."""
    return max(1, int(round(1.0 / dt_ms))) * dt_ms if dt_ms > 0 else 1.0


def spike_buffer_length(n_neurons: int, t_max_ms: float) -> int:
    """Spikes per set the buffers of ``simulate_batch`` hold (a 60 Hz mean rate + slack)."""
    return int(min(_SPIKE_BUFFER_MAX,
                   math.ceil(n_neurons * t_max_ms / 1e3 * _SPIKE_BUFFER_HZ) + _SPIKE_BUFFER_SLACK))


def simulation_estimate(
    sizes: tuple[int, ...] | list[int],
    t_max_ms: float,
    dt_ms: float,
    rate_bin_ms: float | None = None,
    *,
    n_sets: int = 1,
    chunk_size: int | None = None,
    n_edges: float = 0,
    sparse: bool = False,
    record_spikes: bool = True,
    record_v: bool = False,
    what: str | None = None,
) -> Estimate:
    """Peak bytes of :func:`hetfit.models.batch.simulate_batch`.

    Parameters
    ----------
    sizes:
        Neurons per population.
    t_max_ms, dt_ms, rate_bin_ms:
        Duration, step and rate bin (default: as ``simulate_batch``).
    n_sets, chunk_size:
        Parameter sets, and sets compiled and simulated together (default all).
    n_edges:
        Synapses of one set's sparse graph (:func:`expected_edges`); ``sparse`` whether the
        network is sparse at all (the kernel then keeps per-neuron gates).
    record_spikes, record_v:
        As in ``simulate_batch``.

    Counted (bytes; N neurons, P populations, B rate bins, m sets per chunk, R calendar
    slots, E edges):

    - results, n sets: rate counts and rates 2 x 8 P B, spike counts and ISI sums 3 x 8 N,
      status 48 (and 8 P B for ``record_v``) per set;
    - per chunk: compiled sets (14 kernel slots + 12 sampled parameters) 208 N and stacked
      kernel slots 112 N per set; edges max(72 + 16 (m - 1), 40 m) E (graph building, then the
      compiled and stacked copies); spike buffers 16 per spike of ``spike_buffer_length``
      per set (reserved);
    - one running kernel: state 56 N + per-neuron derived constants 24 N + spike flags, calendar R (16 + 8 P), and for sparse
      networks per-neuron gates (8 P + 16) N plus the event pool 3 x 8 (4 N + 64).
    """
    sizes = [int(s) for s in sizes]
    N = int(sum(sizes))
    P = max(len(sizes), 1)
    if rate_bin_ms is None:
        rate_bin_ms = default_rate_bin_ms(dt_ms)
    n_steps = _steps(t_max_ms, dt_ms)
    bin_steps = max(_steps(rate_bin_ms, dt_ms), 1.0)
    n_bins = math.ceil(n_steps / bin_steps) if math.isfinite(n_steps) else math.inf
    ring = math.ceil(_PARK_MAX_MS / dt_ms) + 3 if dt_ms > 0 and math.isfinite(
        _PARK_MAX_MS / dt_ms) else math.inf
    n = int(n_sets)
    m = min(int(chunk_size), n) if chunk_size else n
    E = float(n_edges)

    def b(x: float) -> int:  # sizes beyond any machine stay comparable without overflow
        return int(x) if math.isfinite(x) and x < 2**100 else 2**100

    committed = {
        "rates": b(2 * 8 * n * P * n_bins + (8 * n * P * n_bins if record_v else 0)),
        "spike counts and ISI sums": b(3 * 8 * n * N + 8 * _INFO_SIZE * n),
        "per-neuron parameters": b((208 + 112) * m * N),
        "synapses": b(max(72 + 16 * (m - 1), 40 * m) * E),
        "kernel state": b(80 * N + 8 * math.ceil(N / 8)
                          + ((8 * P + 16) * N + 24 * (4 * N + 64) if sparse else 0)),
        "spike calendar (20 ms / dt slots)": b(ring * (16 + 8 * P)),
    }
    reserved = {"spike buffers": b(16 * m * spike_buffer_length(N, t_max_ms))
                if record_spikes and math.isfinite(t_max_ms) else 0}
    if what is None:
        sets = f" x {format_count(n)} parameter sets" if n != 1 else ""
        what = (f"simulating {format_count(N)} neurons x {format_count(n_steps)} time steps"
                f"{sets}")
    return Estimate(what, committed, reserved)


def expected_edges(net: Any) -> float:
    """Synapses of one random graph of an :class:`~hetfit.models.izhikevich.IzhikevichNetwork`
    (0 for all-to-all networks; an explicit connectivity counts as it is)."""
    if getattr(net, "connectivity", None) is not None:
        return float(net.connectivity.n_edges)
    P = getattr(net, "connection_p", None)
    if P is None:
        return 0.0
    sizes = list(net.sizes)
    total = 0.0
    for p, n_post in enumerate(sizes):
        for q, n_pre in enumerate(sizes):
            prob = float(P[p][q])
            if prob == 0.0 or float(net.J[p][q]) == 0.0:
                continue  # _random_graph skips these blocks
            if net.fixed_indegree:
                total += n_post * round(prob * n_pre)
            else:
                pairs = n_pre - 1 if (p == q and not net.allow_autapses) else n_pre
                total += prob * n_post * max(pairs, 0)
    return total


def network_estimate(net: Any, t_max_ms: float, dt_ms: float, rate_bin_ms: float | None = None,
                     **kwargs: Any) -> Estimate:
    """:func:`simulation_estimate` for a network object (sizes and edges read from it)."""
    return simulation_estimate(net.sizes, t_max_ms, dt_ms, rate_bin_ms,
                               n_edges=expected_edges(net), sparse=bool(net.sparse), **kwargs)


def random_graph_estimate(n_post: int, n_pre: int, p: float, *,
                          fixed_indegree: bool = False) -> Estimate:
    """Peak bytes of :func:`hetfit.models.connectivity.random_connectivity`.

    Erdős–Rényi: 56 bytes per edge (the pieces from ``np.nonzero``, their concatenation,
    the sort order and the sorted copies live together) plus one 4M-entry block of random
    numbers and its mask (36 MB); fixed in-degree: 40 bytes per edge.
    """
    if fixed_indegree:
        E = float(n_post) * round(p * n_pre)
        parts = {"synapses": int(40 * E)}
    else:
        E = float(p) * n_post * n_pre
        parts = {"synapses": int(56 * E),
                 "random blocks": 9 * min(4_000_000, max(n_post, 1) * max(n_pre, 1))}
    return Estimate(f"a random graph of {format_count(n_post)} x {format_count(n_pre)} neurons "
                    f"(p = {p:g}, about {format_count(E)} synapses)", parts)


def dense_graph_estimate(n_post: int, n_pre: int) -> Estimate:
    """Bytes of :meth:`Connectivity.dense` (targets and weights, 16 per edge) or of a dense
    ``W`` (8 per entry; :meth:`Connectivity.to_dense`)."""
    E = float(n_post) * n_pre
    return Estimate(f"all-to-all connectivity of {format_count(n_post)} x "
                    f"{format_count(n_pre)} neurons ({format_count(E)} synapses)",
                    {"synapses": int(16 * E)})


def bootstrap_estimate(n_boot: int, n_clusters: int, n_cells: int, n_stats: int = 1,
                       what: str | None = None) -> Estimate:
    """Peak bytes of :func:`hetfit.distributions.bootstrap.bootstrap_ci`.

    Cluster draws (``rng.multinomial`` int64 and its float64 copy) 16 G, cell weights 8 n
    and replicates with their standard errors 16 per statistic, per replicate (G clusters,
    n cells).
    """
    B = int(n_boot)
    return Estimate(
        what or f"a bootstrap of {format_count(B)} replicates of {format_count(n_cells)} cells",
        {"cluster draws": 16 * B * int(n_clusters), "replicate weights": 8 * B * int(n_cells),
         "replicates": 16 * B * int(n_stats)})


def permutation_estimate(n_perm: int, n_units: int, n_cells: int,
                         what: str | None = None) -> Estimate:
    """Peak bytes of :func:`hetfit.distributions.compare.permutation_spread_test`:
    assignments and the kept sort order 16 U, condition weights of both groups 16 n, per
    permutation (U resampled units, n cells)."""
    K = int(n_perm) + 1
    return Estimate(what or f"a permutation test of {format_count(n_perm)} permutations of "
                    f"{format_count(n_cells)} cells",
                    {"assignments": 16 * K * int(n_units), "weights": 16 * K * int(n_cells)})


def gof_estimate(n_gof: int) -> Estimate:
    """Bytes of the parametric-bootstrap KS statistics (16 per replicate: the list of
    blocks and their concatenation), :func:`hetfit.distributions.families.fit_family`."""
    return Estimate(f"a goodness-of-fit bootstrap of {format_count(n_gof)} replicates",
                    {"KS statistics": 16 * int(n_gof)})


def posterior_samples_estimate(n_samples: int, n_params: int) -> Estimate:
    """Bytes of ``WidthPosterior.sample`` + ``summarize_samples``: the samples in the
    training space and in physical units (float64), 16 per sample and parameter."""
    return Estimate(f"drawing {format_count(n_samples)} posterior samples of {n_params} "
                    "parameters",
                    {"posterior samples": 16 * int(n_samples) * int(n_params)})


def training_set_estimate(n_sims: int, n_params: int, n_summaries: int) -> Estimate:
    """Bytes of the training set of :meth:`WidthFitter.fit`: the store's pieces and their
    concatenation (theta, summaries, seeds float64/int64 and status) 2 x (8 d + 8 k + 9), and
    the float32 tensors the estimator trains on 4 (d + k), per simulation."""
    n = int(n_sims)
    d, k = int(n_params), int(n_summaries)
    return Estimate(f"a training set of {format_count(n)} simulations",
                    {"stored simulations": 2 * n * (8 * d + 8 * k + 9),
                     "training tensors": 4 * n * (d + k)})


def population_estimate(n: int, n_features: int) -> Estimate:
    """Peak bytes of :func:`hetfit.params.population.population_from_estimate` before the
    mapping: normal draws, their copula transform and uniforms, and the per-feature values,
    8 bytes each per neuron and feature, plus the mapped parameter arrays (8 per feature)."""
    n = int(n)
    F = int(n_features)
    return Estimate(f"drawing {format_count(n)} neurons ({F} features)",
                    {"feature draws": 24 * n * F, "mapped parameters": 8 * n * F})


# ---------------------------------------------------------------------------------------
# run time and replicate counts
# ---------------------------------------------------------------------------------------
def _max_neuron_steps() -> float:
    text = os.environ.get(MAX_STEPS_ENV, "").strip()
    if not text:
        return float(MAX_NEURON_STEPS)
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not (v > 0):  # also NaN
        raise ParameterError(f"{MAX_STEPS_ENV}={text!r} is not a number > 0",
                             hint=f"e.g. {MAX_STEPS_ENV}=1e15, or unset it")
    return v


def check_work(n_neurons: int, n_steps: float, n_sets: int, hint: str, *,
               parallel: int = 1, what: str | None = None) -> float:
    """Refuse simulations that would run for days; returns the neuron-steps.

    ``n_neurons x n_steps x n_sets`` neuron-steps cost about ``NS_PER_NEURON_STEP`` ns each
    on one core; ``parallel`` cores share them.  Above ``MAX_NEURON_STEPS`` per core the run
    is refused with ``hint``.
    """
    work = float(n_neurons) * float(n_steps) * float(n_sets)
    limit = _max_neuron_steps() * max(int(parallel), 1)
    if not work <= limit:  # also inf/NaN
        seconds = work * NS_PER_NEURON_STEP * 1e-9 / max(int(parallel), 1)
        cores = f" on {parallel} cores" if parallel > 1 else " on one core"
        if what is None:
            sets = f" x {format_count(n_sets)} simulations" if n_sets != 1 else ""
            what = (f"{format_count(n_neurons)} neurons x {format_count(n_steps)} time steps"
                    f"{sets}")
        took = (f"about {_duration(seconds)}{cores}" if math.isfinite(seconds)
                else "forever")
        raise ResourceError(
            f"{what} is {work:.3g} neuron-steps: it would run for {took} (at ~1 ns per "
            f"neuron and step; the limit is {limit:.3g})",
            hint=f"{hint}; {MAX_STEPS_ENV} sets the limit")
    return work


def check_replicates(flag: str, n: int, hint: str | None = None) -> None:
    """Refuse more than ``MAX_REPLICATES`` resampling replicates for option ``flag``."""
    if n is not None and n > MAX_REPLICATES:
        raise ResourceError(
            f"{flag} {format_count(n)} is more than the {format_count(MAX_REPLICATES)} "
            "replicates hetfit runs: more cannot narrow an interval or a p-value measurably "
            "(Monte Carlo error below 0.0002) and would run for hours",
            hint=hint or f"use {flag} 10000 or fewer")


# ---------------------------------------------------------------------------------------
# checks at the points where sizes come in
# ---------------------------------------------------------------------------------------
def check_simulation(net: Any, t_max_ms: float, dt_ms: float, rate_bin_ms: float | None = None,
                     *, hint: str, n_sets: int = 1, chunk_size: int | None = None,
                     record_spikes: bool = True, record_v: bool = False, parallel: int = 1,
                     limit_bytes: int | None = None) -> Estimate:
    """Run time and memory of simulating ``net`` (see :func:`simulation_estimate`), refused
    with ``hint`` when they exceed the machine."""
    est = network_estimate(net, t_max_ms, dt_ms, rate_bin_ms, n_sets=n_sets,
                           chunk_size=chunk_size, record_spikes=record_spikes,
                           record_v=record_v)
    require_memory(est, hint, limit_bytes)
    check_work(net.n_neurons, _steps(t_max_ms, dt_ms), n_sets, hint, parallel=parallel)
    return est


def check_fit_sizes(
    simulator: Any,
    prior: Any,
    *,
    budget: int,
    n_validation: int | None = None,
    method: str = "npe",
    n_samples: int = 4000,
    n_predictive: int = 0,
    train: bool = True,
    chunk_size: int = 256,
    scheduler: Any = None,
    workers: int = 1,
    limit_bytes: int | None = None,
) -> None:
    """Everything :meth:`WidthFitter.fit` and ``posterior_for`` will allocate and run,
    checked before the first simulation: the simulation chunks (in this process unless a
    remote Dask ``scheduler`` runs them), the training set, the posterior samples and the
    posterior predictive simulations (always local)."""
    d = len(getattr(prior, "names", ())) or 1
    k = len(getattr(simulator, "summary_names", ())) or 1
    if n_validation is None:
        n_validation = min(500, int(budget) // 10) if method == "npe" else 0
    local = scheduler is None or str(scheduler).startswith("local")
    parallel = max(int(workers or 1), 1)
    if isinstance(scheduler, str) and scheduler.startswith("local:"):
        tail = scheduler.partition(":")[2]
        parallel = int(tail) if tail.isdigit() and int(tail) > 0 else parallel
    net = getattr(simulator, "network", None)
    smaller_model = option(
        "use a smaller model (n_e, n_i), a shorter duration_ms or a larger dt_ms",
        "use a smaller model (e.g. --model gast2023_ei:n_e=500,n_i=500), a shorter "
        "--window-ms or a larger dt_ms in --model")
    dask = option("", ", or run the simulations on a Dask cluster (--scheduler ADDRESS)")
    if train:
        est = training_set_estimate(int(budget) + int(n_validation), d, k)
        held = f" + {format_count(n_validation)} held out" if n_validation else ""
        require_memory(Estimate(f"a simulation budget of {format_count(budget)}{held}",
                                est.committed, est.reserved),
                       option("use a smaller budget", "use a smaller --budget"), limit_bytes)
    if net is not None:
        t_max = float(simulator.t_max_ms)
        dt = float(simulator.dt_ms)
        n_steps = _steps(t_max, dt)
        if train and local:
            n_total = int(budget) + int(n_validation)
            # numba runs every batch on all cores; worker processes add to that
            chunk = network_estimate(net, t_max, dt, n_sets=min(int(chunk_size), n_total),
                                     record_spikes=True)
            on = f" on each of {parallel} workers" if parallel > 1 else ""
            require_memory(
                Estimate(f"{chunk.what} (one chunk of simulations{on})",
                         {key: v * parallel for key, v in chunk.committed.items()},
                         {key: v * parallel for key, v in chunk.reserved.items()}),
                smaller_model + (option(", fewer workers", ", fewer --workers")
                                 if parallel > 1 else "") + dask, limit_bytes)
            check_work(net.n_neurons, n_steps, n_total,
                       smaller_model + option(", a smaller budget", ", a smaller --budget")
                       + dask, parallel=max(parallel, os.cpu_count() or 1))
        if n_predictive:
            hint = option("use a smaller n_predictive", "use a smaller --predictive")
            check_work(net.n_neurons, n_steps, n_predictive, hint, parallel=os.cpu_count() or 1)
            # posterior_predictive_check simulates every set in one batch, in this process
            require_memory(network_estimate(
                net, t_max, dt, n_sets=int(n_predictive), record_spikes=True,
                what=f"a posterior predictive check of {format_count(n_predictive)} "
                f"simulations of {format_count(net.n_neurons)} neurons"), hint, limit_bytes)
    require_memory(posterior_samples_estimate(n_samples, d),
                   option("draw fewer samples (n_samples)", "use fewer --samples"), limit_bytes)
