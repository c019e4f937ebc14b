"""Heterogeneous Izhikevich networks: specs (data) and the simulator.

Model (Gast, Solla & Kennedy 2023; seed 001 adds eta_i, g_i and theta_i), neuron i of
population p, presynaptic populations q::

    C dv_i/dt      = k (v_i - v_r)(v_i - v_theta_i) - u_i + eta_i + I_ext,p(t)
                     + g_i sum_q s_pq (E_q - v_i) + noise
    tau_u du_i/dt  = b (v_i - v_r) - u_i
    spike at v_i >= v_peak:  v_i <- v_reset + theta_i (v_peak - v_reset),  u_i <- u_i + kappa
    tau_q ds_pq/dt = -s_pq + tau_q J_pq r_q(t)            (all-to-all, through the rate r_q)

Units: C pF, k nS/mV, v mV, u/eta/I pA, b and g nS, tau ms, kappa pA, rates Hz (1/ms inside
the equations).  ``s`` is a dimensionless gate: every spike of population q raises
``s_pq`` by ``J_pq / N_q``.  Synapses belong to the *presynaptic* population (its ``E_syn``
reversal potential and ``tau_s`` decay time), so an E/I network has AMPA-like and GABA-like
gates; ``g_i`` (nS) scales every conductance neuron i receives.  With sparse coupling each
neuron has its own gates ``s_iq``, raised by the edge weight of every spike it receives
(``J_pq / (p N_q)`` for Erdős–Rényi graphs, so the mean input equals the all-to-all case).

Partial reset (seed 001, Zhang & Cui 2025): ``theta_i = 0`` is the full reset; ``0 < theta_i
< 1`` keeps the fraction ``theta_i`` of the distance ``v_peak - v_reset``, i.e. the neuron
restarts closer to the spike cut-off.  The paper's text allows 0 < theta <= 1 but its
equation is not in the text we have; with the peak value in the formula ``theta = 1`` would
restart the neuron at ``v_peak`` (a spike every step), so theta must be < 1 here.

Every per-neuron parameter (``C``, ``k``, ``v_r``, ``v_theta``, ``eta``, ``g``,
``theta_reset``, ``b``, ``tau_u``, ``kappa``, ``v_init``, ``u_init``; neuron i uses its own
``C_i, k_i, ...`` in the equations above) is a number (homogeneous), a
:class:`~hetfit.models.heterogeneity.Heterogeneity` (Lorentzian with deterministic quantiles
or random draws, Gaussian, log-normal; truncated to a stated range) or an explicit array of
length ``n``.  ``v_peak, v_reset, tau_s, E_syn, noise_sigma`` are population scalars.  The
exact mean field (:func:`hetfit.models.meanfield.meanfield_from_network`) needs ``C, k, v_r,
b, tau_u, kappa`` homogeneous.

Numerics
--------
``method="exact"`` (default) integrates with Euler below a cut-off ``v_cut`` and solves the
spike excursion above it in closed form (see :mod:`hetfit.models._izhikevich_kernels`): a
quadratic neuron blows up in finite time, so with the other currents frozen over the
excursion the time to reach ``v_peak``, the reset, the climb back from ``v_reset`` and the
recovery current are explicit.  Spikes get sub-step times and the neuron re-enters the Euler
loop afterwards; transcendental functions are evaluated once per spike, never per neuron and
step.  ``v_cut = (v_r + v_theta)/2 + cutoff_fraction * C / (k dt)`` (capped half-way to
``v_peak``; per neuron from its own C, k, v_r and the threshold centre) is where one Euler
step changes ``z = 2 k v + B`` by ``cutoff_fraction``.
``method="euler"`` is plain Euler with threshold ``v_peak`` (Brian2's scheme).

Measured trade-off (benchmarks/RESULTS.md, population rates against dt -> 0): ``exact`` is
within 0.1-0.9 % at dt = 0.05-0.2 ms; ``euler`` is within ~1 % at 0.01 ms and 1-3 % at
0.02 ms when ``v_peak = 1000``.  Use dt = 0.05-0.1 ms with ``exact`` for sweeps and inference
(N = 1000, 1 s: ~10 ms CPU at 0.1 ms), dt <= 0.01 ms with ``euler``.  Noise and input changes
are frozen during a solved excursion (a few ms at most).

Public API
----------
- :class:`IzhikevichPopulation`, :class:`IzhikevichNetwork` (frozen dataclasses)
- :func:`hetfit.models.batch.simulate_izhikevich` (also ``hetfit.models.simulate_izhikevich``)
  ``(model, t_max_ms, dt_ms=0.05, seed=None, ...) -> SpikeResult``
- batched runs: :func:`hetfit.models.batch.simulate_batch`; presets:
  :mod:`hetfit.models.presets`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.models.connectivity import Connectivity, random_connectivity
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import CurrentLike, StepCurrent, as_current
from hetfit.seeding import SeedLike, child_seeds

ParamLike = float | int | Heterogeneity | np.ndarray
Method = Literal["exact", "euler"]

# Per-neuron parameters: a number, a Heterogeneity or an explicit length-n array each.  The
# first five keep the sampling seeds they always had (children 0-4 of the population seed);
# the others draw theirs from child 5, an independent spawn, so adding them changed no
# existing simulation.
_PER_NEURON_V1 = ("v_theta", "eta", "g", "theta_reset", "v_init")
_PER_NEURON_V2 = ("C", "k", "v_r", "b", "tau_u", "kappa", "u_init")
_PER_NEURON = _PER_NEURON_V1 + _PER_NEURON_V2
# the membrane parameters of the exact mean-field reduction (must be homogeneous there)
MEMBRANE_PARAMS = ("C", "k", "v_r", "b", "tau_u", "kappa")
# population scalars (spike shape, the synapses the population makes, noise)
_SCALARS = ("v_peak", "v_reset", "tau_s", "E_syn", "noise_sigma")
_POSITIVE = {"C": "pF", "k": "nS/mV", "tau_u": "ms"}
_UNITS = {"C": "pF", "k": "nS/mV", "v_r": "mV", "v_theta": "mV", "eta": "pA", "g": "nS",
          "theta_reset": "", "b": "nS", "tau_u": "ms", "kappa": "pA", "v_init": "mV",
          "u_init": "pA"}
# longest excursion (ms) kept out of the Euler loop in one go; sets the calendar length
_PARK_MAX_MS = 20.0


def _center(x: ParamLike) -> float:
    """Representative value: the centre of a Heterogeneity, the median of an explicit array."""
    if isinstance(x, Heterogeneity):
        return float(x.center)
    if isinstance(x, np.ndarray):
        return float(np.median(x))
    return float(x)


def _value_range(x: ParamLike) -> tuple[float, float]:
    """Smallest and largest value a per-neuron parameter can take (sampling bounds)."""
    if isinstance(x, Heterogeneity):
        if x.width == 0 or x.family == "none":
            return float(x.center), float(x.center)
        low = 0.0 if x.family == "lognormal" else -math.inf
        return max(float(x.low), low), float(x.high)
    if isinstance(x, np.ndarray):
        return float(x.min()), float(x.max())
    return float(x), float(x)


def is_uniform(x: ParamLike) -> bool:
    """Whether a per-neuron parameter takes a single value across the population."""
    lo, hi = _value_range(x)
    return lo == hi


def _key(x: Any) -> Any:
    # explicit arrays compare and hash by value (dataclass equality would be elementwise)
    if isinstance(x, np.ndarray):
        return ("array", x.shape, x.tobytes())
    return x


@dataclass(frozen=True, eq=False)
class IzhikevichPopulation:
    """One population of Izhikevich neurons (one cell type).

    Every per-neuron parameter (``C, k, v_r, v_theta, eta, g, theta_reset, b, tau_u, kappa,
    v_init, u_init``) is a number (homogeneous), a
    :class:`~hetfit.models.heterogeneity.Heterogeneity` (drawn per neuron), or an explicit
    1-D array of length ``n`` (e.g. values mapped cell by cell with ``hetfit params``;
    stored as a read-only float64 copy).  ``v_peak, v_reset, tau_s, E_syn, noise_sigma``
    are population scalars.

    Parameters
    ----------
    name:
        Population label (e.g. ``"E"``, ``"I"``, ``"RS"``).
    n:
        Number of neurons (>= 1).
    C:
        Membrane capacitance (pF), > 0.
    k:
        Gain of the quadratic term (nS/mV), > 0.
    v_r:
        Resting potential (mV).
    v_theta:
        Spike threshold (mV), e.g. Lorentzian with width Delta_v.
    eta:
        Constant per-neuron drive (pA).
    g:
        Synaptic conductance scale (nS) of each neuron's inputs (must be >= 0; truncate a
        Lorentzian with ``low=0``).
    theta_reset:
        Partial-reset coefficient in [0, 1).
    b:
        Sensitivity of the recovery current (nS).
    tau_u:
        Recovery time constant (ms), > 0; Izhikevich's ``a = 1 / tau_u``.
    kappa:
        Jump of ``u`` per spike (pA); Izhikevich's ``d``.
    v_peak, v_reset:
        Spike cut-off and reset potential (mV).  Large values (1000 / -1000) approximate the
        quadratic integrate-and-fire limit in which mean-field theory is exact.
    tau_s:
        Decay time (ms) of the synaptic gate of the synapses this population *makes*.
    E_syn:
        Reversal potential (mV) of the synapses this population makes (0 for AMPA-like,
        about -65 for GABA_A-like).
    I_ext:
        Common external current (pA): number or :class:`~hetfit.models.inputs.StepCurrent`.
    noise_sigma:
        Independent white-noise current per neuron, intensity in pA ms^(1/2): over a step
        the voltage receives ``noise_sigma * sqrt(dt) / C_i * eps`` with unit-variance eps.
    v_init:
        Initial membrane potential (mV); default ``v_r`` (each neuron's own).
    u_init:
        Initial recovery current (pA).
    """

    name: str = "E"
    n: int = 1000
    C: ParamLike = 100.0
    k: ParamLike = 0.7
    v_r: ParamLike = -60.0
    v_theta: ParamLike = -40.0
    eta: ParamLike = 0.0
    g: ParamLike = 15.0
    theta_reset: ParamLike = 0.0
    b: ParamLike = -2.0
    tau_u: ParamLike = 100.0 / 3.0
    kappa: ParamLike = 100.0
    v_peak: float = 1000.0
    v_reset: float = -1000.0
    tau_s: float = 6.0
    E_syn: float = 0.0
    I_ext: CurrentLike = 0.0
    noise_sigma: float = 0.0
    v_init: ParamLike | None = None
    u_init: ParamLike = 0.0

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_key(getattr(self, f.name)) == _key(getattr(other, f.name))
                   for f in fields(self))

    def __hash__(self) -> int:
        return hash(tuple(_key(getattr(self, f.name)) for f in fields(self)))

    def _per_neuron_value(self, name: str) -> ParamLike:
        """Validate one per-neuron field; returns the normalized value."""
        v = getattr(self, name)
        unit = _UNITS[name]
        if isinstance(v, Heterogeneity):
            if name in _POSITIVE:
                lo, _ = _value_range(v)
                if not lo >= 0.0:
                    raise ParameterError(
                        f"population {self.name!r}: {name} must be > 0 {unit}; its "
                        f"heterogeneity allows values down to {lo}",
                        hint="truncate it with low > 0 (or use family='lognormal')",
                    )
            return v
        if isinstance(v, (list, tuple, np.ndarray)):
            try:
                arr = np.array(v, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ParameterError(
                    f"population {self.name!r}: {name} array must hold numbers"
                ) from exc
            if arr.ndim != 1 or arr.size != self.n:
                raise ParameterError(
                    f"population {self.name!r}: explicit {name} must be a 1-D array of "
                    f"length n = {self.n}, got shape {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                bad = int(np.sum(~np.isfinite(arr)))
                raise ParameterError(
                    f"population {self.name!r}: explicit {name} has {bad} non-finite value(s)"
                )
            if name in _POSITIVE and not np.all(arr > 0):
                raise ParameterError(
                    f"population {self.name!r}: {name} must be > 0 {unit}; "
                    f"{int(np.sum(arr <= 0))} value(s) are not (min {arr.min():g})"
                )
            arr.flags.writeable = False  # frozen spec: nobody edits the neurons behind its back
            return arr
        try:
            fv = float(v)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"population {self.name!r}: {name} must be a number, a Heterogeneity or a "
                f"1-D array of length n, got {type(v).__name__}"
            ) from exc
        if not math.isfinite(fv):
            raise ParameterError(f"population {self.name!r}: {name} must be finite, got {v}")
        if name in _POSITIVE and fv <= 0:
            raise ParameterError(
                f"population {self.name!r}: {name} must be > 0 {unit}, got {fv}"
            )
        return fv

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError("population name must be a non-empty string")
        try:
            n_ok = int(self.n) == self.n and self.n >= 1
        except (TypeError, ValueError):
            n_ok = False
        if not n_ok:
            raise ParameterError(
                f"population {self.name!r}: number of neurons must be an integer >= 1, "
                f"got {self.n!r}"
            )
        object.__setattr__(self, "n", int(self.n))
        for name in _SCALARS:
            v = getattr(self, name)
            try:
                fv = float(v)
            except (TypeError, ValueError) as exc:
                shown = (f"an array of {np.size(v)} values" if np.ndim(v) else repr(v))
                raise ParameterError(
                    f"population {self.name!r}: {name} must be one number for the whole "
                    f"population, got {shown}",
                    hint="v_peak, v_reset, tau_s, E_syn and noise_sigma are per population"
                ) from exc
            if not math.isfinite(fv):
                raise ParameterError(f"population {self.name!r}: {name} must be finite, got {v}")
            object.__setattr__(self, name, fv)
        for name in _PER_NEURON:
            if getattr(self, name) is None and name == "v_init":
                continue
            object.__setattr__(self, name, self._per_neuron_value(name))
        object.__setattr__(self, "I_ext", as_current(self.I_ext, f"{self.name}.I_ext"))
        if self.tau_s <= 0:
            raise ParameterError(
                f"population {self.name!r}: tau_s must be > 0 ms, got {self.tau_s}"
            )
        if self.noise_sigma < 0:
            raise ParameterError(
                f"population {self.name!r}: noise_sigma must be >= 0, got {self.noise_sigma}"
            )
        if not self.v_peak > self.v_reset:
            raise ParameterError(
                f"population {self.name!r}: v_peak ({self.v_peak} mV) must exceed v_reset "
                f"({self.v_reset} mV)"
            )
        vt = _center(self.v_theta)
        vr_max = _value_range(self.v_r)[1] if isinstance(self.v_r, np.ndarray) else _center(
            self.v_r)
        if not self.v_peak > max(vt, vr_max):
            raise ParameterError(
                f"population {self.name!r}: v_peak ({self.v_peak} mV) must lie above v_r and "
                f"the threshold center ({vt} mV)"
            )
        tr = self.theta_reset
        if isinstance(tr, Heterogeneity):
            if tr.low < 0 or tr.high > 1:
                raise ParameterError(
                    f"population {self.name!r}: theta_reset heterogeneity must be truncated to "
                    f"[0, 1], got [{tr.low}, {tr.high}]",
                    hint="pass low=0.0, high=1.0 to Heterogeneity",
                )
        else:
            lo, hi = _value_range(tr)
            if not (0.0 <= lo and hi < 1.0):
                raise ParameterError(
                    f"population {self.name!r}: theta_reset must lie in [0, 1), got "
                    f"{tr if not isinstance(tr, np.ndarray) else f'values in [{lo}, {hi}]'}",
                    hint="0 is a full reset; theta_reset = 1 would restart the neuron at v_peak",
                )
        g = self.g
        if isinstance(g, Heterogeneity):
            if g.low < 0:
                raise ParameterError(
                    f"population {self.name!r}: conductance scale g must be >= 0; its "
                    f"heterogeneity allows values down to {g.low}",
                    hint="truncate it with low=0.0",
                )
        elif _value_range(g)[0] < 0:
            raise ParameterError(
                f"population {self.name!r}: g must be >= 0 nS, got "
                f"{g if not isinstance(g, np.ndarray) else f'a minimum of {g.min()}'}"
            )

    def varying_membrane_params(self) -> tuple[str, ...]:
        """Names among C, k, v_r, b, tau_u, kappa that differ between neurons."""
        return tuple(nm for nm in MEMBRANE_PARAMS if not is_uniform(getattr(self, nm)))

    # -- per-neuron values ---------------------------------------------------------------
    def sample(self, seed: SeedLike = None) -> dict[str, np.ndarray]:
        """Per-neuron float64 arrays (length ``n``) of every per-neuron parameter.

        Keys: ``v_theta, eta, g, theta_reset, v_init, C, k, v_r, b, tau_u, kappa, u_init``.
        The first five use children 0-4 of ``seed`` (as before these parameters could vary),
        the rest children of child 5.
        """
        base = child_seeds(seed, len(_PER_NEURON_V1) + 1)
        ext = child_seeds(int(base[-1]), len(_PER_NEURON_V2))
        seeds = dict(zip(_PER_NEURON_V1, base)) | dict(zip(_PER_NEURON_V2, ext))
        out: dict[str, np.ndarray] = {}
        for name in _PER_NEURON_V2 + _PER_NEURON_V1:  # v_r first: default of v_init
            spec = getattr(self, name)
            if spec is None:  # v_init: each neuron starts at its own v_r
                vals = out["v_r"].copy()
            elif isinstance(spec, Heterogeneity):
                vals = spec.sample(self.n, seed=int(seeds[name]))
            elif isinstance(spec, np.ndarray):
                vals = spec.copy()
            else:
                vals = np.full(self.n, float(spec))
            out[name] = np.ascontiguousarray(vals, dtype=np.float64)
        out = {name: out[name] for name in _PER_NEURON}
        tr = out["theta_reset"]
        if np.any(tr >= 1.0) or np.any(tr < 0.0):
            raise ParameterError(
                f"population {self.name!r}: sampled theta_reset values outside [0, 1)",
                hint="truncate the distribution with high < 1",
            )
        for name, unit in _POSITIVE.items():
            if not np.all(out[name] > 0):
                raise ParameterError(
                    f"population {self.name!r}: sampled {name} values <= 0 {unit}",
                    hint="truncate the distribution with low > 0",
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (explicit per-neuron arrays become lists)."""
        d: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if isinstance(val, (Heterogeneity, StepCurrent)):
                d[f.name] = val.to_dict()
            elif isinstance(val, np.ndarray):
                d[f.name] = val.tolist()
            else:
                d[f.name] = val
        return d


def _as_matrix(J: Any, names: Sequence[str], what: str) -> tuple[tuple[float, ...], ...]:
    P = len(names)
    if isinstance(J, Mapping):
        M = np.zeros((P, P))
        for key, val in J.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ParameterError(
                    f"{what} keys must be (post, pre) population-name pairs, got {key!r}"
                )
            post, pre = key
            if post not in names or pre not in names:
                raise ParameterError(f"{what}: unknown population in {key!r}; have {list(names)}")
            M[names.index(post), names.index(pre)] = float(val)
    else:
        M = np.asarray(J, dtype=float)
        if M.ndim == 0:
            M = np.full((P, P), float(M))
        if M.shape != (P, P):
            raise ParameterError(
                f"{what} must be a {P}x{P} matrix [post, pre] for populations {list(names)}, "
                f"got shape {M.shape}"
            )
    if not np.all(np.isfinite(M)):
        raise ParameterError(f"{what} must be finite (no NaN/inf)")
    return tuple(tuple(float(x) for x in row) for row in M)


@dataclass(frozen=True)
class IzhikevichNetwork:
    """Populations plus coupling.

    Parameters
    ----------
    populations:
        One or more :class:`IzhikevichPopulation` with distinct names (neurons are indexed
        population by population, in this order).
    J:
        Coupling strengths ``J[post][pre]`` (dimensionless): a number (same for all pairs), a
        P x P matrix, or a mapping ``{("E", "I"): 16.0, ...}`` (missing pairs are 0).  Each
        spike of population ``pre`` raises the gate of ``post`` by ``J / N_pre``
        (all-to-all) or by the edge weight ``J / (p N_pre)`` (sparse).
    connection_p:
        ``None`` (default): all-to-all coupling through the population rates (O(N) per step).
        A number or P x P matrix: sparse random coupling with these connection
        probabilities (a new seeded graph per simulation seed).
    fixed_indegree:
        Sparse graphs with exactly ``round(p N_pre)`` inputs per neuron instead of
        Erdős–Rényi.
    allow_autapses:
        Whether a neuron may connect to itself in sparse graphs.
    connectivity:
        An explicit :class:`~hetfit.models.connectivity.Connectivity` over all neurons
        (weights are the gate increments; ``J`` and ``connection_p`` are then unused).
    """

    populations: tuple[IzhikevichPopulation, ...]
    J: Any = 0.0
    connection_p: Any = None
    fixed_indegree: bool = False
    allow_autapses: bool = False
    connectivity: Connectivity | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        pops = self.populations
        if isinstance(pops, IzhikevichPopulation):
            pops = (pops,)
        pops = tuple(pops)
        if not pops or not all(isinstance(p, IzhikevichPopulation) for p in pops):
            raise ParameterError("a network needs one or more IzhikevichPopulation objects")
        names = [p.name for p in pops]
        if len(set(names)) != len(names):
            raise ParameterError(f"population names must be unique, got {names}")
        object.__setattr__(self, "populations", pops)
        object.__setattr__(self, "J", _as_matrix(self.J, names, "J"))
        if self.connection_p is not None:
            Pm = _as_matrix(self.connection_p, names, "connection_p")
            if any(not 0.0 <= x <= 1.0 for row in Pm for x in row):
                raise ParameterError("connection probabilities must lie in [0, 1]")
            object.__setattr__(self, "connection_p", Pm)
        if self.connectivity is not None:
            c = self.connectivity
            if not isinstance(c, Connectivity):
                raise ParameterError("connectivity must be a hetfit Connectivity")
            if c.n_pre != self.n_neurons or c.n_post != self.n_neurons:
                raise ParameterError(
                    f"connectivity is {c.n_post}x{c.n_pre} but the network has "
                    f"{self.n_neurons} neurons"
                )

    @classmethod
    def single(cls, population: IzhikevichPopulation, J: float = 1.0,
               connection_p: float | None = None) -> IzhikevichNetwork:
        """A one-population network with recurrent coupling ``J``."""
        return cls((population,), J=J, connection_p=connection_p)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.populations)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(p.n for p in self.populations)

    @property
    def n_neurons(self) -> int:
        return int(sum(self.sizes))

    @property
    def sparse(self) -> bool:
        return self.connectivity is not None or self.connection_p is not None

    def population(self, name: str) -> IzhikevichPopulation:
        for p in self.populations:
            if p.name == name:
                return p
        raise ParameterError(f"no population {name!r}; have {list(self.names)}")

    def replace_population(self, name: str, **changes: Any) -> IzhikevichNetwork:
        """A copy with fields of population ``name`` changed."""
        self.population(name)  # raises for unknown names
        pops = tuple(replace(p, **changes) if p.name == name else p for p in self.populations)
        return replace(self, populations=pops)

    def to_dict(self) -> dict[str, Any]:
        return {
            "populations": [p.to_dict() for p in self.populations],
            "J": [list(r) for r in self.J],
            "connection_p": None if self.connection_p is None else [list(r) for r in self.connection_p],
            "fixed_indegree": self.fixed_indegree,
            "allow_autapses": self.allow_autapses,
            "explicit_connectivity": self.connectivity is not None,
        }


def as_network(model: IzhikevichNetwork | IzhikevichPopulation) -> IzhikevichNetwork:
    """Networks pass through; a lone population becomes an uncoupled network."""
    if isinstance(model, IzhikevichNetwork):
        return model
    if isinstance(model, IzhikevichPopulation):
        return IzhikevichNetwork((model,), J=0.0)
    raise ParameterError(
        f"expected an IzhikevichNetwork or IzhikevichPopulation, got {type(model).__name__}"
    )


# ---------------------------------------------------------------------------------------
# Compilation to kernel arrays
# ---------------------------------------------------------------------------------------
@dataclass
class Grid:
    """Time grid shared by all sets of a run."""

    dt_ms: float
    t_max_ms: float
    n_steps: int
    bin_steps: int
    ring: int
    method: int

    @property
    def n_bins(self) -> int:
        return -(-self.n_steps // self.bin_steps)

    @property
    def bin_ms(self) -> float:
        return self.bin_steps * self.dt_ms


def positive(name: str, v: Any) -> float:
    """``v`` as a float after checking it is a finite number > 0 (ParameterError otherwise)."""
    try:
        fv = float(v)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a number, got {v!r}") from exc
    if not (math.isfinite(fv) and fv > 0):
        raise ParameterError(f"{name} must be a finite number > 0, got {v}")
    return fv


def make_grid(t_max_ms: float, dt_ms: float, rate_bin_ms: float, method: str) -> Grid:
    from hetfit.models import _izhikevich_kernels as K

    t_max_ms = positive("t_max_ms", t_max_ms)
    dt_ms = positive("dt_ms", dt_ms)
    rate_bin_ms = positive("rate_bin_ms", rate_bin_ms)
    n_steps = int(round(t_max_ms / dt_ms))
    if n_steps < 1 or abs(n_steps * dt_ms - t_max_ms) > 1e-6 * max(dt_ms, 1e-12) * max(n_steps, 1):
        raise ParameterError(
            f"t_max_ms={t_max_ms} is not a whole number of steps of dt_ms={dt_ms}",
            hint="choose t_max_ms as a multiple of dt_ms",
        )
    bin_steps = int(round(rate_bin_ms / dt_ms))
    if bin_steps < 1 or abs(bin_steps * dt_ms - rate_bin_ms) > 1e-6 * rate_bin_ms:
        raise ParameterError(
            f"rate_bin_ms={rate_bin_ms} is not a whole number of steps of dt_ms={dt_ms}",
            hint="choose rate_bin_ms as a multiple of dt_ms",
        )
    if method not in ("exact", "euler"):
        raise ParameterError(f"unknown method {method!r}", hint="use 'exact' or 'euler'")
    ring = int(math.ceil(_PARK_MAX_MS / dt_ms)) + 3
    return Grid(float(dt_ms), n_steps * float(dt_ms), n_steps, bin_steps, ring,
                K.METHOD_EXACT if method == "exact" else K.METHOD_EULER)


@dataclass
class CompiledSet:
    """Kernel arrays of one parameter set (see :func:`compile_set`).

    ``pn`` (PN_SIZE, N) and ``pp`` (PP_SIZE, P) hold the per-neuron and per-population
    values in the slots named ``P_*`` / ``Q_*`` in :mod:`hetfit.models._izhikevich_kernels`.
    """

    pn: np.ndarray
    pp: np.ndarray
    J: np.ndarray
    indptr: np.ndarray
    post: np.ndarray
    w: np.ndarray
    noise_key: np.uint64
    samples: dict[str, dict[str, np.ndarray]]
    v_cut: dict[str, Any]


def cutoffs(pop: IzhikevichPopulation, dt_ms: float, cutoff_fraction: float,
            smp: Mapping[str, np.ndarray] | None = None) -> tuple[Any, Any]:
    """``(v_cut, v_low)`` in mV for the exact-spike method.

    ``v_cut = v_mid + cutoff_fraction C / (k dt)`` (capped half-way from ``v_mid`` to
    ``v_peak``), ``v_low = v_mid - (same span)``, ``v_mid = (v_r + v_theta_center)/2``:
    per neuron (arrays) from the sampled ``C, k, v_r`` in ``smp``, or floats from the
    population's centre values when ``smp`` is None.  The threshold enters through its
    centre only, so populations with homogeneous C, k, v_r share one cut-off.
    """
    vt = _center(pop.v_theta)
    if smp is None:
        C, k, v_r = _center(pop.C), _center(pop.k), _center(pop.v_r)
        v_mid = 0.5 * (v_r + vt)
        span = cutoff_fraction * C / (k * dt_ms)
        span = min(span, 0.5 * (pop.v_peak - v_mid))
        return v_mid + span, v_mid - span
    # same operation order as the scalar branch: elementwise IEEE results are identical
    v_mid = 0.5 * (smp["v_r"] + vt)
    span = cutoff_fraction * smp["C"] / (smp["k"] * dt_ms)
    span = np.minimum(span, 0.5 * (pop.v_peak - v_mid))
    return v_mid + span, v_mid - span


def _check_step_stability(pop: IzhikevichPopulation, smp: Mapping[str, np.ndarray],
                          dt_ms: float) -> None:
    """Refuse neurons whose threshold is so far from ``v_r`` that Euler cannot hold rest.

    Near rest the linearized membrane relaxes at ``lambda_i = k_i |v_theta_i - v_r_i| / C_i``
    per ms (each neuron's own k, C, v_r); from ``lambda dt = 2`` the Euler update around the
    fixed point is unstable: ``v`` flips in a growing 2-cycle and, further out, reaches the
    spike cut-off every few steps — spurious kHz firing that no divergence check sees (``v``
    stays bounded by the reset).  Measured for one neuron at dt = 0.05 ms with input:
    lambda dt = 1.8-2.5 rests, 3.9 fires 1.8 kHz (Euler 10 kHz).  Untruncated Lorentzian
    thresholds put a few neurons there (at N = 10^4, Delta_v = 2 mV the extreme quantiles
    lie ~12,700 mV from the centre), so thresholds must be truncated to a physical range.
    """
    v_theta = smp["v_theta"]
    if v_theta.size == 0:
        return
    dist = np.abs(v_theta - smp["v_r"])
    ratio = smp["k"] * dist * dt_ms / smp["C"]
    if np.max(ratio) >= 2.0:
        bad = ratio >= 2.0
        n_bad = int(np.sum(bad))
        limit = float(np.min(2.0 * smp["C"][bad] / (smp["k"][bad] * dt_ms)))
        raise ParameterError(
            f"population {pop.name!r}: {n_bad} neuron(s) have thresholds up to "
            f"{float(np.max(dist[bad])):.0f} mV from v_r, too far for dt = {dt_ms:g} ms "
            f"(k|v_theta - v_r| dt / C up to {float(np.max(ratio)):.2f} >= 2: the Euler step "
            "cannot hold their resting state and they would fire spuriously)",
            hint=f"truncate the threshold distribution to within {limit:.0f} mV of v_r "
            "(e.g. Heterogeneity(center, width, low=..., high=...)), or lower dt_ms",
        )


def aligned_empty(shape: int | tuple[int, ...], align: int = 64) -> np.ndarray:
    """Uninitialised float64 array whose data starts on an ``align``-byte boundary.

    The kernel streams the rows of the per-neuron slot array (B0, A0, G, VRES) with 64-byte
    AVX-512 loads; they all share the array's alignment, and at 16 mod 64 (where a large
    numpy/glibc allocation often lands) every load splits a cache line: the batched
    N = 1,000 euler run was 8-10 % slower than with the rows on 64-byte boundaries.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    buf = np.empty(8 * n + align, dtype=np.uint8)
    start = (-buf.ctypes.data) % align
    return buf[start:start + 8 * n].view(np.float64).reshape(shape)


def draw_network(net: IzhikevichNetwork, seed: SeedLike
                 ) -> tuple[dict[str, dict[str, np.ndarray]], Connectivity | None, int]:
    """Everything one simulation draws from its ``seed``: per-neuron values by population
    (``IzhikevichPopulation.sample``), the graph (``None`` for all-to-all coupling) and the
    noise seed.  Used by :func:`compile_set` and by exports to other simulators, so both see
    the same neurons and synapses."""
    s_het, s_graph, s_noise = (int(x) for x in child_seeds(seed, 3))
    pop_seeds = child_seeds(s_het, len(net.populations))
    samples = {pop.name: pop.sample(int(ps)) for pop, ps in zip(net.populations, pop_seeds)}
    conn = None
    if net.sparse:
        conn = net.connectivity if net.connectivity is not None else _random_graph(net, s_graph)
    return samples, conn, s_noise


def compile_set(net: IzhikevichNetwork, seed: SeedLike, grid: Grid,
                cutoff_fraction: float = 0.1, I_off: Sequence[float] | None = None) -> CompiledSet:
    """Draw every per-neuron value and the graph of one simulation from ``seed``.

    The one place that fills the kernel's slot arrays (``P_*`` rows of ``pn``, ``Q_*`` rows
    of ``pp``).  ``I_off``: constant current (pA) added to each population's input.
    """
    from hetfit.models import _izhikevich_kernels as K

    samples, conn, s_noise = draw_network(net, seed)
    P = len(net.populations)
    starts, _ = pop_layout(net)
    pn = aligned_empty((K.PN_SIZE, net.n_neurons))  # rows 64-byte aligned when 8 | N
    pp = np.zeros((K.PP_SIZE, P))
    v_cut_meta: dict[str, Any] = {}
    for p, pop in enumerate(net.populations):
        smp = samples[pop.name]
        vt, eta, k, v_r = smp["v_theta"], smp["eta"], smp["k"], smp["v_r"]
        _check_step_stability(pop, smp, grid.dt_ms)
        if np.any(smp["g"] < 0):
            raise ParameterError(f"population {pop.name!r}: sampled g values below 0")
        v_cut, v_low = cutoffs(pop, grid.dt_ms, cutoff_fraction, smp)
        sl = slice(int(starts[p]), int(starts[p + 1]))
        rows = {
            K.P_B0: -k * (v_r + vt),
            K.P_A0: k * v_r * vt + eta,
            K.P_G: smp["g"],
            K.P_VRES: pop.v_reset + smp["theta_reset"] * (pop.v_peak - pop.v_reset),
            K.P_V0: smp["v_init"], K.P_U0: smp["u_init"],
            K.P_K: k, K.P_C: smp["C"], K.P_VR: v_r, K.P_B: smp["b"],
            K.P_TAU_U: smp["tau_u"], K.P_KAPPA: smp["kappa"],
            K.P_VCUT: v_cut, K.P_VLOW: v_low,
        }
        for slot, vals in rows.items():
            pn[slot, sl] = vals
        # population values for the fast path; meaningful only when Q_HET == 0
        uniform = ((K.Q_K, k), (K.Q_C, smp["C"]), (K.Q_VR, v_r), (K.Q_B, smp["b"]),
                   (K.Q_TAU_U, smp["tau_u"]), (K.Q_KAPPA, smp["kappa"]),
                   (K.Q_VCUT, v_cut), (K.Q_VLOW, v_low))
        het = any(np.any(vals != vals[0]) for _, vals in uniform)
        for slot, vals in uniform:
            pp[slot, p] = vals[0]
        pp[K.Q_HET, p] = 1.0 if het else 0.0
        pp[K.Q_VPEAK, p] = pop.v_peak
        pp[K.Q_ESYN, p] = pop.E_syn
        pp[K.Q_TAU_S, p] = pop.tau_s
        pp[K.Q_SIGMA, p] = pop.noise_sigma
        pp[K.Q_IOFF, p] = 0.0 if I_off is None else float(I_off[p])
        v_cut_meta[pop.name] = v_cut.copy() if het else float(v_cut[0])
    for slot in range(K.PN_SIZE):
        if not np.all(np.isfinite(pn[slot])):
            raise ParameterError(f"non-finite per-neuron parameter values (kernel slot {slot})")
    J = np.asarray(net.J, dtype=np.float64)
    if conn is not None:
        indptr, post, w = conn.indptr, conn.targets, conn.weights
    else:
        indptr = np.zeros(1, np.int64)
        post = np.zeros(0, np.int64)
        w = np.zeros(0)
    return CompiledSet(pn, pp, J, indptr, post, w, np.uint64(s_noise & 0xFFFFFFFFFFFFFFFF),
                       samples, v_cut_meta)


def kernel_controls(grid: Grid, sparse: bool, record_v: bool) -> np.ndarray:
    """The ``CTL_*`` run-control array shared by every set of a run."""
    from hetfit.models import _izhikevich_kernels as K

    ctl = np.zeros(K.CTL_SIZE, dtype=np.int64)
    ctl[K.CTL_METHOD] = grid.method
    ctl[K.CTL_SPARSE] = int(bool(sparse))
    ctl[K.CTL_N_STEPS] = grid.n_steps
    ctl[K.CTL_BIN_STEPS] = grid.bin_steps
    ctl[K.CTL_RING] = grid.ring
    ctl[K.CTL_RECORD_V] = int(bool(record_v))
    return ctl


def _random_graph(net: IzhikevichNetwork, seed: int) -> Connectivity:
    """Block-wise random graph over all neurons; weights ``J_pq / (p_pq N_q)``."""
    starts = np.concatenate([[0], np.cumsum(net.sizes)])
    P = len(net.populations)
    block_seeds = child_seeds(seed, P * P)
    src_all, tgt_all, w_all = [], [], []
    for p in range(P):
        for q in range(P):
            prob = net.connection_p[p][q]
            Jpq = net.J[p][q]
            if prob == 0.0 or Jpq == 0.0:
                continue
            nq = net.sizes[q]
            c = random_connectivity(
                net.sizes[p], nq, prob, Jpq / (prob * nq), int(block_seeds[p * P + q]),
                fixed_indegree=net.fixed_indegree,
                allow_autapses=net.allow_autapses or p != q,
            )
            src_all.append(c.sources() + starts[q])
            tgt_all.append(c.targets + starts[p])
            w_all.append(c.weights)
    n = net.n_neurons
    if not src_all:
        return Connectivity(n, n, np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0))
    src = np.concatenate(src_all)
    tgt = np.concatenate(tgt_all)
    w = np.concatenate(w_all)
    order = np.lexsort((tgt, src))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return Connectivity(n, n, indptr, tgt[order], w[order])


def pop_layout(net: IzhikevichNetwork) -> tuple[np.ndarray, np.ndarray]:
    starts = np.concatenate([[0], np.cumsum(net.sizes)]).astype(np.int64)
    pop_of = np.repeat(np.arange(len(net.sizes), dtype=np.int64), net.sizes)
    return starts, pop_of


def concrete_seed(seed: SeedLike) -> SeedLike:
    """Replace ``None`` by fresh OS entropy (recorded so the run can be repeated)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return seed
