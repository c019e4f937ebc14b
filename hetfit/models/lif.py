"""Leaky integrate-and-fire networks with per-neuron time constants (timescale heterogeneity).

Neuron i (population p), current-based synapses (``synapse="current"``)::

    tau_m,i dv_i/dt   = -(v_i - E_L,i) + R_m I_ext,i + s_e,i + s_i,i
    tau_e,i ds_e,i/dt = -s_e,i        (each excitatory spike onto i: s_e,i += w, in mV)
    tau_i,i ds_i,i/dt = -s_i,i        (each inhibitory spike onto i: s_i,i += w, in mV; w < 0)
    v_i > v_th,i:  spike, v_i <- v_reset, held for t_ref

``s`` are synaptic input currents expressed as the voltage ``R_m I_syn`` they would hold the
membrane at (mV); this is the CUBA model of Brette et al. (2007, J Comput Neurosci 23:349;
Brian2 example ``CUBA.py``: ``dv/dt = (ge + gi - (v - El))/taum``).  ``R_m`` is in MOhm and
``I_ext`` in pA, so ``R_m I_ext`` is in mV after the factor 1e-3.

Conductance-based synapses (``synapse="conductance"``): ``s`` are conductances relative to
the leak conductance (dimensionless), ``tau_m dv/dt = -(v - E_L) + R_m I_ext + s_e (E_e - v)
+ s_i (E_i - v)``, weights >= 0.  For small conductances this reduces to the current-based
model with weights ``w (E_syn - v)``.

Integration is exact for the current-based model (a linear system between spikes): the
per-neuron propagators ``exp(-dt/tau_m,i)``, ``exp(-dt/tau_s,i)`` and
``tau_s/(tau_s - tau_m)(exp(-dt/tau_s) - exp(-dt/tau_m))`` are computed once, before the time
loop, for every neuron.  Conductances also decay exactly; v then relaxes exactly under the
step-averaged conductances (exponential Euler with averaged ``g``), see
:mod:`hetfit.models._lif_kernels` for the step order (Brian2's: update, threshold,
synapses, reset).

Every per-neuron parameter accepts a number, a
:class:`~hetfit.models.heterogeneity.Heterogeneity` (drawn with the run's seed) or an array of
``n`` explicit values (e.g. uniform draws).  Connectivity: Erdős–Rényi (or fixed in-degree)
random graphs per projection (:func:`hetfit.models.connectivity.random_connectivity`), merged
into one CSR-by-presynaptic-neuron graph; synapses made by an
``"E"`` population act on ``s_e``, by an ``"I"`` population on ``s_i``.  External drive:
constant current and/or an independent Poisson spike train per neuron into ``s_e``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.models.connectivity import random_connectivity
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.results import SpikeResult
from hetfit.seeding import SeedLike, as_generator, child_seeds

ParamLike = float | int | Heterogeneity | np.ndarray | Sequence[float]
Synapse = Literal["current", "conductance"]

_PER_NEURON = ("tau_m_ms", "tau_e_ms", "tau_i_ms", "e_l_mv", "v_th_mv", "i_ext_pa")
_POSITIVE = ("tau_m_ms", "tau_e_ms", "tau_i_ms")


def _is_param(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating, Heterogeneity, np.ndarray,
                          list, tuple)) and not isinstance(x, bool)


def _describe(x: ParamLike) -> Any:
    if isinstance(x, Heterogeneity):
        return x.to_dict()
    if isinstance(x, (np.ndarray, list, tuple)):
        a = np.asarray(x, dtype=np.float64)
        return {"values": "explicit", "n": int(a.size), "mean": float(a.mean()) if a.size else None}
    return float(x)


@dataclass(frozen=True, eq=False)
class LIFPopulation:
    """One population of LIF neurons.

    Parameters
    ----------
    name:
        Population label, e.g. ``"E"``.
    n:
        Number of neurons (>= 1).
    kind:
        ``"E"`` or ``"I"``: which synaptic variable (``s_e``/``s_i``) of the targets the
        synapses *made* by this population act on.
    tau_m_ms, tau_e_ms, tau_i_ms:
        Membrane time constant and decay times of the excitatory / inhibitory synaptic input
        *received* (ms, > 0): number, Heterogeneity or n values.
    e_l_mv:
        Leak reversal (resting) potential (mV).
    v_th_mv:
        Spike threshold (mV).
    v_reset_mv:
        Reset potential (mV).
    t_ref_ms:
        Absolute refractory period (ms, >= 0), rounded to whole steps.
    r_m_mohm:
        Membrane resistance (MOhm); scales ``i_ext_pa`` into mV.
    i_ext_pa:
        Constant external current (pA).
    poisson_rate_hz, poisson_weight:
        Rate (Hz) of an independent external Poisson spike train per neuron and the jump it
        causes in ``s_e`` (mV for current synapses, relative conductance otherwise).
    v_init_mv:
        Initial membrane potential: number, Heterogeneity, n values, or a ``(low, high)``
        pair for uniform draws (Brian2's CUBA uses ``(v_reset, v_th)``).  Default: ``e_l_mv``.
    """

    name: str
    n: int
    kind: Literal["E", "I"] = "E"
    tau_m_ms: ParamLike = 20.0
    tau_e_ms: ParamLike = 5.0
    tau_i_ms: ParamLike = 10.0
    e_l_mv: ParamLike = -60.0
    v_th_mv: ParamLike = -50.0
    v_reset_mv: float = -60.0
    t_ref_ms: float = 5.0
    r_m_mohm: float = 100.0
    i_ext_pa: ParamLike = 0.0
    poisson_rate_hz: float = 0.0
    poisson_weight: float = 0.0
    v_init_mv: ParamLike | tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError("population name must be a non-empty string")
        if isinstance(self.n, bool) or int(self.n) != self.n or self.n < 1:
            raise ParameterError(
                f"population {self.name!r}: n must be a positive integer, got {self.n}",
                hint="give the number of neurons, e.g. n=3200",
            )
        if self.kind not in ("E", "I"):
            raise ParameterError(
                f"population {self.name!r}: kind must be 'E' or 'I', got {self.kind!r}"
            )
        for name in _PER_NEURON:
            value = getattr(self, name)
            if not _is_param(value):
                raise ParameterError(
                    f"population {self.name!r}: {name} must be a number, a Heterogeneity or "
                    f"{self.n} values, got {type(value).__name__}"
                )
            if isinstance(value, (np.ndarray, list, tuple)):
                a = np.asarray(value, dtype=np.float64)
                if a.shape != (int(self.n),):
                    raise ParameterError(
                        f"population {self.name!r}: {name} has {a.size} values for "
                        f"{self.n} neurons", hint="give exactly one value per neuron",
                    )
                if not np.all(np.isfinite(a)):
                    raise ParameterError(f"population {self.name!r}: {name} contains NaN/inf")
                if name in _POSITIVE and np.any(a <= 0):
                    raise ParameterError(
                        f"population {self.name!r}: {name} values must be > 0 (ms)"
                    )
            elif not isinstance(value, Heterogeneity):
                if not math.isfinite(float(value)):
                    raise ParameterError(f"population {self.name!r}: {name} is {value}",
                                         hint="give a finite number")
                if name in _POSITIVE and float(value) <= 0:
                    raise ParameterError(
                        f"population {self.name!r}: {name} must be > 0 ms, got {value}"
                    )
            elif name in _POSITIVE and value.low <= 0 and value.width > 0:
                raise ParameterError(
                    f"population {self.name!r}: heterogeneous {name} can reach values <= 0",
                    hint=f"truncate it, e.g. Heterogeneity({value.center}, {value.width}, "
                         f"family='{value.family}', low=0.1*{value.center})",
                )
        for name in ("v_reset_mv", "t_ref_ms", "r_m_mohm", "poisson_rate_hz", "poisson_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(v)):
                raise ParameterError(f"population {self.name!r}: {name} must be a finite number,"
                                     f" got {v!r}")
        if self.t_ref_ms < 0:
            raise ParameterError(f"population {self.name!r}: t_ref_ms must be >= 0")
        if self.r_m_mohm <= 0:
            raise ParameterError(f"population {self.name!r}: r_m_mohm must be > 0")
        if self.poisson_rate_hz < 0:
            raise ParameterError(f"population {self.name!r}: poisson_rate_hz must be >= 0")
        vi = self.v_init_mv
        if isinstance(vi, tuple) and len(vi) == 2 and not isinstance(vi[0], (list, tuple)):
            if not (math.isfinite(vi[0]) and math.isfinite(vi[1]) and vi[0] <= vi[1]):
                raise ParameterError(
                    f"population {self.name!r}: v_init_mv range {vi} is not (low <= high)"
                )
        elif vi is not None and not _is_param(vi):
            raise ParameterError(f"population {self.name!r}: v_init_mv has an invalid type")

    def sample(self, seed: SeedLike = None) -> dict[str, np.ndarray]:
        """Per-neuron values of every heterogeneous parameter (float64 arrays of length n)."""
        n = int(self.n)
        seeds = child_seeds(seed, len(_PER_NEURON) + 1)
        out: dict[str, np.ndarray] = {}
        for k, name in enumerate(_PER_NEURON):
            out[name] = _values(getattr(self, name), n, int(seeds[k]))
        vi = self.v_init_mv
        if vi is None:
            out["v_init_mv"] = out["e_l_mv"].copy()
        elif isinstance(vi, tuple) and len(vi) == 2 and not isinstance(vi[0], (list, tuple)):
            out["v_init_mv"] = as_generator(int(seeds[-1])).uniform(vi[0], vi[1], n)
        else:
            out["v_init_mv"] = _values(vi, n, int(seeds[-1]))
        for name in _POSITIVE:
            if np.any(out[name] <= 0):
                raise ParameterError(f"population {self.name!r}: sampled {name} <= 0")
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "n": int(self.n), "kind": self.kind}
        for name in (*_PER_NEURON, "v_reset_mv", "t_ref_ms", "r_m_mohm", "poisson_rate_hz",
                     "poisson_weight"):
            d[name] = _describe(getattr(self, name))
        vi = self.v_init_mv
        d["v_init_mv"] = None if vi is None else (list(vi) if isinstance(vi, tuple) else _describe(vi))
        return d


def _values(x: ParamLike, n: int, seed: int) -> np.ndarray:
    if isinstance(x, Heterogeneity):
        return x.sample(n, seed=seed)
    if isinstance(x, (np.ndarray, list, tuple)):
        return np.array(x, dtype=np.float64)
    return np.full(n, float(x))


@dataclass(frozen=True)
class LIFProjection:
    """Random synapses from population ``pre`` onto population ``post``.

    Parameters
    ----------
    pre, post:
        Population names.
    p:
        Connection probability (Erdős–Rényi: each ordered pair independently).
    weight:
        Jump of the target's synaptic variable per spike: mV for current synapses (negative
        for inhibition, e.g. -9 mV in CUBA), relative conductance (>= 0) for conductance
        synapses.
    fixed_indegree:
        Every target gets exactly ``round(p * n_pre)`` distinct sources instead.
    allow_autapses:
        Allow ``i -> i`` edges when ``pre == post``.
    """

    pre: str
    post: str
    p: float
    weight: float
    fixed_indegree: bool = False
    allow_autapses: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.p, (int, float)) and 0.0 <= self.p <= 1.0):
            raise ParameterError(f"projection {self.pre}->{self.post}: p must be in [0, 1],"
                                 f" got {self.p}")
        if not math.isfinite(float(self.weight)):
            raise ParameterError(f"projection {self.pre}->{self.post}: weight must be finite")


@dataclass(frozen=True, eq=False)
class LIFNetwork:
    """Populations, projections and the synapse type of a LIF network.

    ``e_e_mv``/``e_i_mv`` are the reversal potentials of conductance synapses (ignored for
    current synapses).
    """

    populations: tuple[LIFPopulation, ...]
    projections: tuple[LIFProjection, ...] = ()
    synapse: Synapse = "current"
    e_e_mv: float = 0.0
    e_i_mv: float = -80.0

    def __post_init__(self) -> None:
        pops = tuple(self.populations)
        object.__setattr__(self, "populations", pops)
        object.__setattr__(self, "projections", tuple(self.projections))
        if not pops or not all(isinstance(p, LIFPopulation) for p in pops):
            raise ParameterError("a LIF network needs at least one LIFPopulation")
        names = [p.name for p in pops]
        if len(set(names)) != len(names):
            raise ParameterError(f"population names must be unique, got {names}")
        if self.synapse not in ("current", "conductance"):
            raise ParameterError(f"synapse must be 'current' or 'conductance', got {self.synapse!r}")
        for pr in self.projections:
            if not isinstance(pr, LIFProjection):
                raise ParameterError("projections must be LIFProjection objects")
            for end in (pr.pre, pr.post):
                if end not in names:
                    raise ParameterError(f"projection refers to unknown population {end!r}",
                                         hint=f"populations are {names}")
            if self.synapse == "conductance" and pr.weight < 0:
                raise ParameterError(
                    f"projection {pr.pre}->{pr.post}: conductance weights must be >= 0",
                    hint="inhibition comes from an 'I' population's reversal potential e_i_mv",
                )
        if self.synapse == "conductance":
            for p in pops:
                if p.poisson_weight < 0:
                    raise ParameterError(f"population {p.name!r}: poisson_weight must be >= 0 "
                                         "with conductance synapses")
        for name in ("e_e_mv", "e_i_mv"):
            if not math.isfinite(float(getattr(self, name))):
                raise ParameterError(f"{name} must be finite")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.populations)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(p.n) for p in self.populations)

    @property
    def n_neurons(self) -> int:
        return int(sum(self.sizes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "lif",
            "synapse": self.synapse,
            "e_e_mv": self.e_e_mv,
            "e_i_mv": self.e_i_mv,
            "populations": [p.to_dict() for p in self.populations],
            "projections": [vars(pr).copy() for pr in self.projections],
        }


# --------------------------------------------------------------------------------------------
# connectivity (CSR by presynaptic neuron)
def build_connectivity(net: LIFNetwork, seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays ``(indptr, targets, weights)`` by global presynaptic index for ``net``.

    One independent child seed per projection, so adding a projection does not change the
    others' graphs.
    """
    starts = np.concatenate([[0], np.cumsum(net.sizes)]).astype(np.int64)
    index = {name: k for k, name in enumerate(net.names)}
    seeds = child_seeds(seed, max(1, len(net.projections)))
    all_s, all_t, all_w = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for k, pr in enumerate(net.projections):
        a, b = index[pr.pre], index[pr.post]
        # random_connectivity drops i -> i only when told the blocks are the same neurons
        conn = random_connectivity(net.sizes[b], net.sizes[a], pr.p, pr.weight,
                                   seed=int(seeds[k]), fixed_indegree=pr.fixed_indegree,
                                   allow_autapses=pr.allow_autapses or a != b)
        s, t = conn.sources(), conn.targets
        all_s.append(s + starts[a])
        all_t.append(t + starts[b])
        all_w.append(np.full(s.size, float(pr.weight)))
    src = np.concatenate(all_s)
    tgt = np.concatenate(all_t)
    w = np.concatenate(all_w)
    order = np.lexsort((tgt, src))
    indptr = np.zeros(net.n_neurons + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=net.n_neurons), out=indptr[1:])
    return indptr, np.ascontiguousarray(tgt[order]), np.ascontiguousarray(w[order])


# --------------------------------------------------------------------------------------------
# propagators
def current_propagators(tau_m_ms: np.ndarray, tau_s_ms: np.ndarray, dt_ms: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact one-step propagators ``(p_m, p_s, k)`` for ``tau_m v' = -v + s``, ``tau_s s' = -s``.

    ``v(t+dt) = v p_m + s k`` and ``s(t+dt) = s p_s`` with ``p = exp(-dt/tau)`` and
    ``k = tau_s/(tau_s - tau_m) (p_s - p_m)`` (``(dt/tau_m) p_m`` when the taus coincide).
    """
    tm = np.asarray(tau_m_ms, dtype=np.float64)
    ts = np.asarray(tau_s_ms, dtype=np.float64)
    p_m = np.exp(-dt_ms / tm)
    p_s = np.exp(-dt_ms / ts)
    diff = ts - tm
    close = np.abs(diff) < 1e-9 * tm
    safe = np.where(close, 1.0, diff)
    # expm1 form avoids cancellation when tau_s is close to tau_m
    k_far = ts / safe * p_m * np.expm1(dt_ms / tm - dt_ms / ts)
    k = np.where(close, dt_ms / tm * p_m, k_far)
    return p_m, p_s, k


@dataclass
class _Compiled:
    arrays: dict[str, np.ndarray]
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _compile(net: LIFNetwork, dt_ms: float, seed: int) -> _Compiled:
    n = net.n_neurons
    seeds = child_seeds(seed, len(net.populations))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "tau_m", "tau_e", "tau_i", "v_rest", "v_th", "v_reset", "ref_steps", "pre_exc",
        "pois_lam", "pois_w", "v_init")}
    samples = {}
    for k, pop in enumerate(net.populations):
        s = pop.sample(int(seeds[k]))
        samples[pop.name] = s
        m = int(pop.n)
        cols["tau_m"].append(s["tau_m_ms"])
        cols["tau_e"].append(s["tau_e_ms"])
        cols["tau_i"].append(s["tau_i_ms"])
        cols["v_rest"].append(s["e_l_mv"] + 1e-3 * pop.r_m_mohm * s["i_ext_pa"])
        cols["v_th"].append(s["v_th_mv"])
        cols["v_reset"].append(np.full(m, float(pop.v_reset_mv)))
        cols["ref_steps"].append(np.full(m, int(round(pop.t_ref_ms / dt_ms)), dtype=np.int64))
        cols["pre_exc"].append(np.full(m, pop.kind == "E"))
        cols["pois_lam"].append(np.full(m, pop.poisson_rate_hz * dt_ms * 1e-3))
        cols["pois_w"].append(np.full(m, float(pop.poisson_weight)))
        cols["v_init"].append(s["v_init_mv"])
    a = {k: np.ascontiguousarray(np.concatenate(v)) for k, v in cols.items()}
    if net.synapse == "current":
        p_m, p_e, k_e = current_propagators(a["tau_m"], a["tau_e"], dt_ms)
        _, p_i, k_i = current_propagators(a["tau_m"], a["tau_i"], dt_ms)
    else:
        p_m = np.exp(-dt_ms / a["tau_m"])
        p_e = np.exp(-dt_ms / a["tau_e"])
        p_i = np.exp(-dt_ms / a["tau_i"])
        # step average of exp(-t/tau_s) over [0, dt]: mean conductance factor
        k_e = -a["tau_e"] * np.expm1(-dt_ms / a["tau_e"]) / dt_ms
        k_i = -a["tau_i"] * np.expm1(-dt_ms / a["tau_i"]) / dt_ms
    a.update(p_m=p_m, p_e=p_e, p_i=p_i, k_e=k_e, k_i=k_i, dt_over_tau_m=dt_ms / a["tau_m"])
    assert a["v_rest"].size == n
    return _Compiled(a, samples)


def _uniform_within_populations(a: dict[str, np.ndarray], starts: np.ndarray) -> bool:
    """Whether every kernel parameter is constant inside each population."""
    keys = ("v_rest", "p_m", "p_e", "p_i", "k_e", "k_i", "v_th", "v_reset", "ref_steps",
            "pre_exc")
    for lo, hi in zip(starts[:-1], starts[1:]):
        for k in keys:
            seg = a[k][lo:hi]
            if seg.size and np.any(seg != seg[0]):
                return False
    return True


def _frames_well_conditioned(a: dict[str, np.ndarray]) -> bool:
    """The frame kernel needs tau_s != tau_m (c = tau_s/(tau_s - tau_m) stays moderate)."""
    tm = a["tau_m"]
    return bool(np.all(np.abs(a["tau_e"] - tm) > 1e-3 * tm)
                and np.all(np.abs(a["tau_i"] - tm) > 1e-3 * tm))


def _check_grid(t_max_ms: float, dt_ms: float, rate_bin_ms: float) -> int:
    for name, v in (("t_max_ms", t_max_ms), ("dt_ms", dt_ms), ("rate_bin_ms", rate_bin_ms)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)) or v <= 0:
            raise ParameterError(f"{name} must be a finite number > 0, got {v!r}",
                                 hint="times are in ms, e.g. dt_ms=0.1")
    n_steps = int(round(t_max_ms / dt_ms))
    if n_steps < 1 or abs(n_steps * dt_ms - t_max_ms) > 1e-9 * max(1.0, t_max_ms):
        raise ParameterError(
            f"t_max_ms={t_max_ms} is not a whole number of steps dt_ms={dt_ms}",
            hint="choose t_max_ms as a multiple of dt_ms",
        )
    return n_steps


def _concrete_seed(seed: SeedLike) -> SeedLike:
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return seed


def simulate_lif(
    model: LIFNetwork | LIFPopulation,
    t_max_ms: float,
    dt_ms: float = 0.1,
    *,
    seed: SeedLike = None,
    rate_bin_ms: float = 1.0,
    record_v: Sequence[int] | np.ndarray | None = None,
) -> SpikeResult:
    """Simulate a LIF network (or one uncoupled population) for ``t_max_ms``.

    Parameters
    ----------
    model:
        :class:`LIFNetwork` or a single :class:`LIFPopulation` (no recurrent synapses).
    t_max_ms:
        Duration (ms), a whole number of steps.
    dt_ms:
        Step (ms).  Current-based integration is exact between spikes; spike times are
        resolved to the step (spikes are emitted at the end of the step in which ``v``
        crossed threshold).
    seed:
        Seeds heterogeneity draws, graphs, initial potentials and Poisson input (independent
        child seeds).  Same seed, same spikes; ``None`` draws one (kept in
        ``meta["seed"]``).
    rate_bin_ms:
        Width of the population-rate bins (ms).
    record_v:
        Global neuron indices whose membrane potential is recorded at every step
        (``meta["v_mv"]``, shape (n_rec, n_steps + 1), including t = 0).

    Returns
    -------
    SpikeResult
        ``meta``: seed, wall time, CPU time of the time loop (``run_cpu_time_s``) and
        ``neuron_updates_per_s`` from it, the kernel used, per-neuron ``spike_counts``,
        sampled parameters (``samples``, including ``v_init_mv``), ``n_synapses`` and
        ``graph_seed`` (``build_connectivity(model, graph_seed)`` rebuilds the exact graph);
        ``diverged`` with ``meta["status"]`` when the state became non-finite.
    """
    net = model if isinstance(model, LIFNetwork) else LIFNetwork((model,))
    if not isinstance(net, LIFNetwork):
        raise ParameterError("model must be a LIFNetwork or LIFPopulation")
    n_steps = _check_grid(t_max_ms, dt_ms, rate_bin_ms)
    seed = _concrete_seed(seed)
    s_graph, s_pop, s_noise = (int(x) for x in child_seeds(seed, 3))
    n = net.n_neurons
    rec = np.zeros(0, dtype=np.int64) if record_v is None else np.asarray(record_v, dtype=np.int64).ravel()
    if rec.size and (rec.min() < 0 or rec.max() >= n):
        raise ParameterError(f"record_v indices must lie in [0, {n})")
    t0 = time.perf_counter()
    comp = _compile(net, float(dt_ms), s_pop)
    a = comp.arrays
    indptr, targets, weights = build_connectivity(net, s_graph)
    from hetfit.models import _lif_kernels as K

    v = a["v_init"].copy()
    s_e = np.zeros(n)
    s_i = np.zeros(n)
    until = np.zeros(n, dtype=np.int64)
    v_rec = np.empty((rec.size, n_steps + 1))
    if rec.size:
        v_rec[:, 0] = v[rec]
    cap = int(min(max(1024, n * t_max_ms * 1e-3 * 20), 50_000_000))
    buffers = (np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64))
    graph = (indptr, targets, weights, a["pre_exc"])
    drive = (a["pois_lam"], a["pois_w"], s_noise % (2**32 - 1), rec, v_rec)
    starts = np.concatenate([[0], np.cumsum(net.sizes)]).astype(np.int64)
    pop_of = np.repeat(np.arange(len(net.sizes)), net.sizes).astype(np.int64)
    uniform = (net.synapse == "current" and _uniform_within_populations(a, starts)
               and _frames_well_conditioned(a))
    t_run, c_run = time.perf_counter(), time.thread_time()
    if uniform:
        first = starts[:-1]
        per_pop = {k: np.ascontiguousarray(a[k][first]) for k in (
            "v_rest", "p_m", "p_e", "p_i", "v_th", "v_reset", "ref_steps", "tau_m", "tau_e",
            "tau_i")}
        # c = tau_s / (tau_s - tau_m): weight of the synaptic exponential in v
        c_e = per_pop["tau_e"] / (per_pop["tau_e"] - per_pop["tau_m"])
        c_i = per_pop["tau_i"] / (per_pop["tau_i"] - per_pop["tau_m"])
        steps, neurons, n_sp, bad = K.run_current_uniform(
            n_steps, v, s_e, s_i, until, starts, pop_of,
            *(per_pop[k] for k in ("v_rest", "p_m", "p_e", "p_i")), c_e, c_i,
            *(per_pop[k] for k in ("v_th", "v_reset", "ref_steps")),
            *graph, *drive, *buffers,
        )
    elif net.synapse == "current":
        steps, neurons, n_sp, bad = K.run_current(
            n_steps, v, s_e, s_i, until,
            *(a[k] for k in ("v_rest", "p_m", "p_e", "p_i", "k_e", "k_i", "v_th", "v_reset",
                             "ref_steps")),
            *graph, *drive, *buffers,
        )
    else:
        steps, neurons, n_sp, bad = K.run_conductance(
            n_steps, v, s_e, s_i, until,
            *(a[k] for k in ("v_rest", "p_m", "p_e", "p_i", "k_e", "k_i", "dt_over_tau_m")),
            float(net.e_e_mv), float(net.e_i_mv),
            *(a[k] for k in ("v_th", "v_reset", "ref_steps")),
            *graph, *drive, *buffers,
        )
    cpu_s = time.thread_time() - c_run
    run_s = time.perf_counter() - t_run
    steps, neurons = steps[:n_sp], neurons[:n_sp]
    diverged = bad >= 0
    t_stop = (bad if diverged else n_steps) * dt_ms
    times = steps * float(dt_ms)
    bin_edges_n = int(math.ceil(t_max_ms / rate_bin_ms - 1e-9))
    # a spike at t = k dt belongs to the step ((k-1) dt, k dt]
    b = np.minimum(((times - 0.5 * dt_ms) // rate_bin_ms).astype(np.int64), bin_edges_n - 1)
    counts = np.zeros((len(net.sizes), bin_edges_n))
    np.add.at(counts, (pop_of[neurons], b), 1.0)
    widths = np.full(bin_edges_n, float(rate_bin_ms))
    widths[-1] = t_max_ms - rate_bin_ms * (bin_edges_n - 1)
    rates = counts / (np.asarray(net.sizes, dtype=np.float64)[:, None] * widths[None, :] * 1e-3)
    rate_t = rate_bin_ms * np.arange(bin_edges_n) + 0.5 * widths
    meta: dict[str, Any] = {
        "model": "lif",
        "synapse": net.synapse,
        "seed": seed,
        "wall_time_s": time.perf_counter() - t0,
        "run_time_s": run_s,
        "run_cpu_time_s": cpu_s,
        "neuron_updates_per_s": n * n_steps / cpu_s if cpu_s > 0 else float("nan"),
        "kernel": "current_uniform" if uniform else f"{net.synapse}_per_neuron",
        "spike_counts": np.bincount(neurons, minlength=n),
        "samples": comp.samples,
        "n_synapses": int(targets.size),
        "graph_seed": s_graph,
        "population_starts": starts,
        "network": net.to_dict(),
    }
    if rec.size:
        meta["v_mv"] = v_rec
        meta["v_neurons"] = rec
    if diverged:
        meta["status"] = (f"state (membrane potential or synaptic input) became non-finite by "
                          f"t = {t_stop:.3f} ms; check weights and drive")
    return SpikeResult(
        spike_times_ms=times,
        spike_neurons=neurons,
        population_names=net.names,
        population_sizes=net.sizes,
        rate_t_ms=rate_t,
        rates_hz=rates,
        t_max_ms=float(t_max_ms),
        dt_ms=float(dt_ms),
        diverged=bool(diverged),
        meta=meta,
    )


def lif_isi_ms(tau_m_ms: float | np.ndarray, r_i_mv: float | np.ndarray, e_l_mv: float,
               v_th_mv: float, v_reset_mv: float, t_ref_ms: float) -> np.ndarray:
    """Analytic interspike interval (ms) of an isolated LIF neuron under constant drive.

    ``t_ref + tau_m ln((R I - (v_reset - E_L)) / (R I - (v_th - E_L)))``; ``inf`` where the
    drive ``R I`` (mV) does not reach threshold.
    """
    tau = np.asarray(tau_m_ms, dtype=np.float64)
    ri = np.asarray(r_i_mv, dtype=np.float64)
    num = ri - (v_reset_mv - e_l_mv)
    den = ri - (v_th_mv - e_l_mv)
    with np.errstate(divide="ignore", invalid="ignore"):
        isi = t_ref_ms + tau * np.log(num / den)
    return np.where(den > 0, isi, np.inf)


def brette_cuba(
    heterogeneity: float = 0.0,
    seed: SeedLike = None,
    n_exc: int = 3200,
    n_inh: int = 800,
) -> LIFNetwork:
    """The CUBA benchmark network of Brette et al. (2007), as in Brian2's ``CUBA.py``.

    4,000 LIF neurons (3,200 E / 800 I), p = 0.02, tau_m 20 ms, tau_e 5 ms, tau_i 10 ms,
    E_L = -49 mV, v_th = -50 mV, v_reset = -60 mV, t_ref = 5 ms, w_e = 1.62 mV, w_i = -9 mV,
    v(0) ~ U(v_reset, v_th).  ``heterogeneity = h > 0`` draws tau_m, tau_e and tau_i of every
    neuron independently from ``U((1-h) base, (1+h) base)`` with ``seed``.
    """
    if not (math.isfinite(heterogeneity) and 0.0 <= heterogeneity < 1.0):
        raise ParameterError(f"heterogeneity must be in [0, 1), got {heterogeneity}",
                             hint="0.1 draws every tau from 0.9-1.1 x its base value")
    rng = as_generator(seed)

    def taus(base: float, n: int) -> float | np.ndarray:
        if heterogeneity == 0.0:
            return base
        return rng.uniform((1 - heterogeneity) * base, (1 + heterogeneity) * base, n)

    common = dict(e_l_mv=-49.0, v_th_mv=-50.0, v_reset_mv=-60.0, t_ref_ms=5.0,
                  v_init_mv=(-60.0, -50.0))
    pops = []
    for name, kind, n in (("E", "E", n_exc), ("I", "I", n_inh)):
        pops.append(LIFPopulation(name, n, kind=kind, tau_m_ms=taus(20.0, n),
                                  tau_e_ms=taus(5.0, n), tau_i_ms=taus(10.0, n), **common))
    proj = [LIFProjection(pre, post, 0.02, w) for pre, w in (("E", 1.62), ("I", -9.0))
            for post in ("E", "I")]
    return LIFNetwork(tuple(pops), tuple(proj), synapse="current")
