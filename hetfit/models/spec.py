"""A network as data: the spec file every stage can read.

A :class:`NetworkSpec` declares a network in one form, the way Brian2's ``NeuronGroup`` or
PyRates' templates do: populations whose per-neuron parameters are numbers, distributions or
explicit arrays; connections between populations; inputs.  It is plain data (JSON file format
``hetfit-network``, version 1, schema in ``hetfit/presets/networks/schema-v1.json``) and
:meth:`NetworkSpec.network` turns it into hetfit's engine object for one simulation seed.

File format (version 1)::

    {"format": "hetfit-network", "format_version": 1, "model": "izhikevich",
     "name": "my_net", "description": "...",
     "populations": {
        "E": {"n": 800, "C": 100.0, "k": 0.7, "v_r": -60.0,
              "v_theta": {"family": "lorentzian", "center": -40.0, "width": 1.0,
                          "low": -60.0, "high": -20.0, "sampling": "quantiles"},
              "kappa": {"values": [20.0, 21.5, ...]},            # one value per neuron
              "tau_s": 6.0, "E_syn": 0.0,
              "input": {"constant_pA": 50.0}},                   # or steps / waveform
        "I": {...}},
     "connections": [
        {"pre": "E", "post": "E", "J": 16.0},                     # all-to-all (default rule)
        {"pre": "E", "post": "I", "J": 4.0, "rule": {"erdos_renyi": 0.1}},
        {"pre": "I", "post": "E", "rule": {"fixed_in_degree": 50},
         "weight": {"family": "lognormal", "center": 0.02, "width": 0.5}},
        {"pre": "I", "post": "I", "rule": {"edges": {"pre": [0, 1], "post": [1, 0]}},
         "weight": 0.05}]}

Parameter values (Izhikevich, units as in :class:`~hetfit.models.izhikevich.IzhikevichPopulation`:
C pF, k nS/mV, v_r/v_theta/v_init mV, b/g nS, tau_u/tau_s ms, kappa/eta/u_init pA): a number,
a distribution ``{"family": "lorentzian"|"gaussian"|"lognormal", "center", "width", "low",
"high", "sampling": "quantiles"|"random"}`` (random draws are seeded by the simulation seed),
or ``{"values": [...]}`` with one value per neuron.

Connections: ``J`` is the total coupling (each spike of ``pre`` raises the gate of ``post`` by
``J / N_pre``, or by ``J / (p N_pre)`` per edge of a random graph, so the mean input is the
same); ``weight`` gives the gate increment of each edge directly (a number or a
distribution drawn per edge).  Rules: ``"all_to_all"`` (default), ``{"erdos_renyi": p}``,
``{"fixed_in_degree": K}``, ``{"edges": {"pre": [...], "post": [...]}}`` (indices within the
two populations).  Missing pairs are not connected.

Inputs: ``{"constant_pA": x}``, ``{"steps": [[t_ms, pA], ...]}`` (from each switch time on) or
``{"waveform": {"dt_ms": dt, "values_pA": [...]}}``.

Errors name the offending key (``populations.E.v_theta.width``) and the file.  Only the
Izhikevich model is runnable from a spec in this version.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetfit.errors import HetfitError, ParameterError, SchemaError
from hetfit.io import atomic_write_json, existing_file, to_jsonable
from hetfit.models.connectivity import Connectivity, random_connectivity
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import StepCurrent
from hetfit.models.izhikevich import IzhikevichNetwork, IzhikevichPopulation
from hetfit.resources import dense_graph_estimate, require_memory
from hetfit.seeding import SeedLike, child_seeds

FORMAT = "hetfit-network"
FORMAT_VERSION = 1
MODELS = ("izhikevich",)
PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "networks"

#: Izhikevich parameters a spec may set, per neuron or per population (units in the module
#: docstring); the engine's defaults apply to the ones left out.
IZHIKEVICH_PARAMETERS = ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa", "eta", "g",
                         "theta_reset", "v_init", "u_init", "v_peak", "v_reset", "tau_s",
                         "E_syn", "noise_sigma")
_DIST_KEYS = ("family", "center", "width", "low", "high", "sampling")
#: parameters the engine keeps per population (spike shape, the synapses a population makes)
POPULATION_SCALARS = ("v_peak", "v_reset", "tau_s", "E_syn", "noise_sigma")


class SpecError(SchemaError):
    """A network spec with a missing, unknown or malformed key (the message names it)."""


def _where(path: str, message: str, source: str | None) -> SpecError:
    prefix = f"network spec {source}: " if source else "network spec: "
    return SpecError(f"{prefix}{path}: {message}",
                     hint="the format: docs/network_spec.md")


def _number(v: Any, path: str, source: str | None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _where(path, f"must be a finite number, got {json.dumps(v)}", source)
    return float(v)


def _mapping(v: Any, path: str, source: str | None) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise _where(path, f"must be an object, got {type(v).__name__}", source)
    return v


def _unknown(d: Mapping[str, Any], allowed: tuple[str, ...], path: str,
             source: str | None) -> None:
    extra = sorted(set(d) - set(allowed))
    if extra:
        raise _where(f"{path}.{extra[0]}" if path else extra[0],
                     f"unknown key; allowed: {', '.join(allowed)}", source)


# -- parameter values ------------------------------------------------------------------
def parameter_from_json(v: Any, n: int, path: str, source: str | None = None
                        ) -> float | Heterogeneity | np.ndarray:
    """A number, a :class:`Heterogeneity` or an array of ``n`` per-neuron values."""
    if isinstance(v, Mapping):
        if "values" in v:
            _unknown(v, ("values",), path, source)
            arr = v["values"]
            if not isinstance(arr, list) or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in arr):
                raise _where(f"{path}.values", "must be a list of numbers", source)
            a = np.asarray(arr, dtype=np.float64)
            if a.size != n:
                raise _where(f"{path}.values", f"has {a.size} values for n = {n} neurons",
                             source)
            if not np.all(np.isfinite(a)):
                raise _where(f"{path}.values", "must be finite (no NaN/inf)", source)
            return a
        _unknown(v, _DIST_KEYS, path, source)
        for key in ("family", "center"):
            if key not in v:
                raise _where(f"{path}.{key}", "is missing", source)
        kw: dict[str, Any] = {"family": v["family"], "sampling": v.get("sampling", "quantiles")}
        for key in ("center", "width", "low", "high"):
            if v.get(key) is not None:
                kw[key] = _number(v[key], f"{path}.{key}", source)
        if kw.get("width", 0.0) < 0:
            raise _where(f"{path}.width", f"a width (HWHM or SD) must be >= 0, got "
                         f"{kw['width']}", source)
        try:
            return Heterogeneity(**kw)
        except ParameterError as exc:
            raise _where(path, exc.one_line(), source) from exc
    return _number(v, path, source)


def parameter_to_json(v: Any) -> Any:
    if isinstance(v, Heterogeneity):
        return v.to_dict()
    if isinstance(v, np.ndarray):
        return {"values": v.tolist()}
    return float(v)


def _input_from_json(v: Any, path: str, source: str | None) -> StepCurrent:
    d = _mapping(v, path, source)
    if len(d) != 1:
        raise _where(path, "give exactly one of constant_pA, steps, waveform", source)
    kind, val = next(iter(d.items()))
    try:
        if kind == "constant_pA":
            return StepCurrent.constant(_number(val, f"{path}.constant_pA", source))
        if kind == "steps":
            if not isinstance(val, list) or not all(isinstance(s, list) and len(s) == 2
                                                    for s in val):
                raise _where(f"{path}.steps", "must be a list of [t_ms, pA] pairs", source)
            return StepCurrent.steps(*[(_number(t, f"{path}.steps", source),
                                        _number(x, f"{path}.steps", source)) for t, x in val])
        if kind == "waveform":
            w = _mapping(val, f"{path}.waveform", source)
            _unknown(w, ("dt_ms", "values_pA", "t_start_ms"), f"{path}.waveform", source)
            vals = w.get("values_pA")
            if not isinstance(vals, list) or not vals:
                raise _where(f"{path}.waveform.values_pA", "must be a non-empty list", source)
            return StepCurrent.from_array(
                [_number(x, f"{path}.waveform.values_pA", source) for x in vals],
                _number(w.get("dt_ms"), f"{path}.waveform.dt_ms", source),
                t0_ms=_number(w.get("t_start_ms", 0.0), f"{path}.waveform.t_start_ms",
                              source))
    except ParameterError as exc:
        if isinstance(exc, SpecError):
            raise
        raise _where(path, exc.one_line(), source) from exc
    raise _where(f"{path}.{kind}", "unknown input; use constant_pA, steps or waveform",
                 source)


def _input_to_json(c: StepCurrent) -> dict[str, Any]:
    if len(c.times_ms) == 1 and c.times_ms[0] == 0.0:
        return {"constant_pA": c.values_pA[0]}
    return {"steps": [[t, v] for t, v in zip(c.times_ms, c.values_pA)]}


# -- the spec ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Population:
    """One population: size, parameter values (number, distribution or array) and input."""

    name: str
    n: int
    parameters: Mapping[str, Any] = field(default_factory=dict)
    input: StepCurrent = field(default_factory=lambda: StepCurrent.constant(0.0))


@dataclass(frozen=True)
class Connection:
    """Synapses from population ``pre`` onto ``post``.

    ``rule``: ``("all_to_all",)``, ``("erdos_renyi", p)``, ``("fixed_in_degree", K)`` or
    ``("edges", pre_index, post_index)``.  ``J``: total coupling; ``weight``: per-edge gate
    increment (number or distribution), exclusive with ``J``.
    """

    pre: str
    post: str
    rule: tuple[Any, ...] = ("all_to_all",)
    J: float | None = None
    weight: float | Heterogeneity | None = None

    @property
    def sparse(self) -> bool:
        return self.rule[0] != "all_to_all"


def _rule_from_json(v: Any, path: str, source: str | None) -> tuple[Any, ...]:
    if v is None or v == "all_to_all":
        return ("all_to_all",)
    d = _mapping(v, path, source)
    if len(d) != 1:
        raise _where(path, "give one of erdos_renyi, fixed_in_degree, edges", source)
    kind, val = next(iter(d.items()))
    if kind == "erdos_renyi":
        p = _number(val, f"{path}.erdos_renyi", source)
        if not 0.0 < p <= 1.0:
            raise _where(f"{path}.erdos_renyi", f"connection probability must lie in (0, 1], "
                         f"got {p}", source)
        return ("erdos_renyi", p)
    if kind == "fixed_in_degree":
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise _where(f"{path}.fixed_in_degree", f"must be an integer >= 1, got "
                         f"{json.dumps(val)}", source)
        return ("fixed_in_degree", int(val))
    if kind == "edges":
        e = _mapping(val, f"{path}.edges", source)
        _unknown(e, ("pre", "post"), f"{path}.edges", source)
        idx = []
        for key in ("pre", "post"):
            a = e.get(key)
            if not isinstance(a, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                  and i >= 0 for i in a):
                raise _where(f"{path}.edges.{key}", "must be a list of neuron indices >= 0",
                             source)
            idx.append(np.asarray(a, dtype=np.int64))
        if idx[0].size != idx[1].size:
            raise _where(f"{path}.edges", f"{idx[0].size} pre but {idx[1].size} post indices",
                         source)
        return ("edges", idx[0], idx[1])
    raise _where(f"{path}.{kind}", "unknown rule; use all_to_all, erdos_renyi, "
                 "fixed_in_degree or edges", source)


def _rule_to_json(rule: tuple[Any, ...]) -> Any:
    kind = rule[0]
    if kind == "all_to_all":
        return "all_to_all"
    if kind == "edges":
        return {"edges": {"pre": rule[1].tolist(), "post": rule[2].tolist()}}
    return {kind: rule[1]}


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network as data (see the module docstring for the file format)."""

    populations: tuple[Population, ...]
    connections: tuple[Connection, ...] = ()
    model: str = "izhikevich"
    name: str = "network"
    description: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    # -- reading and writing ------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Any, source: str | None = None) -> NetworkSpec:
        d = _mapping(d, "<top level>", source)
        if d.get("format") != FORMAT:
            raise _where("format", f"must be {FORMAT!r}, got {json.dumps(d.get('format'))}",
                         source)
        version = d.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise _where("format_version", f"must be an integer, got {json.dumps(version)}",
                         source)
        if version > FORMAT_VERSION:
            raise SpecError(f"network spec {source or ''} has format version {version}, newer "
                            f"than this hetfit reads ({FORMAT_VERSION})", hint="upgrade hetfit")
        _unknown(d, ("format", "format_version", "model", "name", "description",
                     "populations", "connections", "provenance"), "", source)
        model = d.get("model", "izhikevich")
        if model not in MODELS:
            raise _where("model", f"{json.dumps(model)} is not a model hetfit can run from a "
                         f"spec; runnable: {', '.join(MODELS)}", source)
        pops_d = _mapping(d.get("populations"), "populations", source)
        if not pops_d:
            raise _where("populations", "needs at least one population", source)
        pops = []
        for name, pd in pops_d.items():
            path = f"populations.{name}"
            pd = _mapping(pd, path, source)
            _unknown(pd, ("n", "input", *IZHIKEVICH_PARAMETERS), path, source)
            n = pd.get("n")
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise _where(f"{path}.n", f"must be an integer >= 1, got {json.dumps(n)}",
                             source)
            params = {k: parameter_from_json(v, n, f"{path}.{k}", source)
                      for k, v in pd.items() if k not in ("n", "input")}
            inp = (_input_from_json(pd["input"], f"{path}.input", source) if "input" in pd
                   else StepCurrent.constant(0.0))
            pops.append(Population(str(name), n, params, inp))
        names = [p.name for p in pops]
        conns = []
        raw = d.get("connections", [])
        if not isinstance(raw, list):
            raise _where("connections", "must be a list", source)
        seen = set()
        for i, cd in enumerate(raw):
            path = f"connections[{i}]"
            cd = _mapping(cd, path, source)
            _unknown(cd, ("pre", "post", "rule", "J", "weight"), path, source)
            for key in ("pre", "post"):
                if cd.get(key) not in names:
                    raise _where(f"{path}.{key}", f"must name a population ({', '.join(names)})"
                                 f", got {json.dumps(cd.get(key))}", source)
            pair = (cd["pre"], cd["post"])
            if pair in seen:
                raise _where(path, f"a second connection {pair[0]} -> {pair[1]}", source)
            seen.add(pair)
            if ("J" in cd) == ("weight" in cd):
                raise _where(path, "give exactly one of J (total coupling) or weight "
                             "(per-edge increment)", source)
            rule = _rule_from_json(cd.get("rule"), f"{path}.rule", source)
            J = _number(cd["J"], f"{path}.J", source) if "J" in cd else None
            w = None
            if "weight" in cd:
                if rule[0] == "all_to_all":
                    raise _where(f"{path}.weight", "per-edge weights need a graph rule "
                                 "(erdos_renyi, fixed_in_degree or edges); use J for "
                                 "all-to-all coupling", source)
                w = parameter_from_json(cd["weight"], 1, f"{path}.weight", source)
                if isinstance(w, np.ndarray):
                    raise _where(f"{path}.weight", "give a number or a distribution", source)
            if rule[0] == "fixed_in_degree":
                npre = pops[names.index(cd["pre"])].n - (cd["pre"] == cd["post"])
                if rule[1] > npre:  # no autapses within a population
                    raise _where(f"{path}.rule.fixed_in_degree", f"{rule[1]} inputs per neuron "
                                 f"but only {npre} possible sources in {cd['pre']}", source)
            if rule[0] == "edges":
                npre, npost = (pops[names.index(cd[k])].n for k in ("pre", "post"))
                if rule[1].size and (rule[1].max() >= npre or rule[2].max() >= npost):
                    raise _where(f"{path}.rule.edges", f"indices must be < {npre} (pre) and "
                                 f"< {npost} (post)", source)
            conns.append(Connection(cd["pre"], cd["post"], rule, J, w))
        spec = cls(tuple(pops), tuple(conns), model, str(d.get("name", "network")),
                   str(d.get("description", "")), dict(d.get("provenance") or {}))
        try:  # the engine's own checks (positive C, v_peak above threshold, ...)
            spec.network(seed=0, check_only=True)
        except HetfitError as exc:
            if isinstance(exc, SpecError):
                raise
            raise SpecError(f"network spec {source or ''}: {exc.message}",
                            hint=exc.hint) from exc
        return spec

    def to_dict(self) -> dict[str, Any]:
        pops = {}
        for p in self.populations:
            pd: dict[str, Any] = {"n": p.n}
            pd.update({k: parameter_to_json(v) for k, v in p.parameters.items()})
            pd["input"] = _input_to_json(p.input)
            pops[p.name] = pd
        conns = []
        for c in self.connections:
            cd: dict[str, Any] = {"pre": c.pre, "post": c.post, "rule": _rule_to_json(c.rule)}
            if c.J is not None:
                cd["J"] = c.J
            else:
                cd["weight"] = parameter_to_json(c.weight)
            conns.append(cd)
        return to_jsonable({"format": FORMAT, "format_version": FORMAT_VERSION,
                            "model": self.model, "name": self.name,
                            "description": self.description, "populations": pops,
                            "connections": conns, "provenance": dict(self.provenance)})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the spec as JSON (atomically)."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def from_network(cls, net: IzhikevichNetwork, name: str = "network",
                     description: str = "") -> NetworkSpec:
        """The spec of an engine network built in Python (all-to-all or random graphs)."""
        if net.connectivity is not None:
            raise ParameterError("a network with an explicit Connectivity has no rule-based "
                                 "spec", hint="describe its edges with the 'edges' rule")
        pops = []
        for p in net.populations:
            params = {k: getattr(p, k) for k in IZHIKEVICH_PARAMETERS
                      if getattr(p, k) is not None}
            pops.append(Population(p.name, p.n, params, p.I_ext))
        conns = []
        for i, post in enumerate(net.names):
            for j, pre in enumerate(net.names):
                if net.J[i][j] == 0.0:
                    continue
                rule: tuple[Any, ...] = ("all_to_all",)
                if net.connection_p is not None:
                    prob = net.connection_p[i][j]
                    if prob == 0.0:
                        continue
                    rule = (("fixed_in_degree", int(round(prob * net.sizes[j])))
                            if net.fixed_indegree else ("erdos_renyi", prob))
                conns.append(Connection(pre, post, rule, J=net.J[i][j]))
        return cls(tuple(pops), tuple(conns), "izhikevich", name, description)

    # -- to the engine ------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.populations)

    @property
    def n_neurons(self) -> int:
        return int(sum(p.n for p in self.populations))

    def network(self, seed: SeedLike = None, check_only: bool = False) -> IzhikevichNetwork:
        """The engine network for one simulation ``seed``.

        Random graphs of uniform kind (all Erdős–Rényi, or all fixed in-degree, with ``J``)
        are drawn by the simulator from its seed, exactly as for the Python presets; any
        other connectivity (per-edge weight distributions, explicit edges, mixed rules) is
        built here from ``seed``.  ``check_only`` builds the populations and skips graphs.
        """
        pops = tuple(IzhikevichPopulation(name=p.name, n=p.n, I_ext=p.input,
                                          **dict(p.parameters)) for p in self.populations)
        names = list(self.names)
        J = np.zeros((len(names), len(names)))
        sparse = [c for c in self.connections if c.sparse]
        if not sparse:
            for c in self.connections:
                J[names.index(c.post), names.index(c.pre)] = c.J
            return IzhikevichNetwork(pops, J=J)
        kinds = {c.rule[0] for c in self.connections}
        if (len(kinds) == 1 and kinds <= {"erdos_renyi", "fixed_in_degree"}
                and all(c.J is not None for c in self.connections)):
            P = np.zeros_like(J)
            for c in self.connections:
                i, j = names.index(c.post), names.index(c.pre)
                J[i, j] = c.J
                P[i, j] = (c.rule[1] if c.rule[0] == "erdos_renyi"
                           else c.rule[1] / self.populations[j].n)
            return IzhikevichNetwork(pops, J=J, connection_p=P,
                                     fixed_indegree=kinds == {"fixed_in_degree"})
        if check_only:
            return IzhikevichNetwork(pops, J=0.0)
        return IzhikevichNetwork(pops, J=0.0, connectivity=self._graph(seed))

    def mean_field(self) -> Any:
        """The exact mean field of this network (Gast, Solla & Kennedy reduction;
        :func:`hetfit.models.meanfield.meanfield_from_network`), where one exists: all-to-all
        coupling, Lorentzian or homogeneous thresholds and drives, homogeneous membrane
        parameters, full reset.  Otherwise a :class:`~hetfit.errors.ParameterError` says
        which part of the spec has no exact reduction.  Inputs are not folded in (pass
        :func:`hetfit.models.meanfield.izhikevich.network_input_series` to its ``simulate``).
        """
        from hetfit.models.meanfield import meanfield_from_network

        return meanfield_from_network(self.network(seed=0))

    def _graph(self, seed: SeedLike) -> Connectivity:
        starts = np.concatenate([[0], np.cumsum([p.n for p in self.populations])])
        names = list(self.names)
        seeds = child_seeds(seed, 2 * max(1, len(self.connections)))
        src, tgt, w = [], [], []
        for i, c in enumerate(self.connections):
            q, p = names.index(c.pre), names.index(c.post)
            n_pre, n_post = self.populations[q].n, self.populations[p].n
            kind = c.rule[0]
            if kind == "edges":
                s, t = c.rule[1], c.rule[2]
                frac = s.size / (n_pre * n_post)
            elif kind == "all_to_all":
                require_memory(dense_graph_estimate(n_post, n_pre),
                               "use a random graph rule (erdos_renyi) or fewer neurons")
                s = np.repeat(np.arange(n_pre, dtype=np.int64), n_post)
                t = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
                frac = 1.0
            else:
                prob = c.rule[1] if kind == "erdos_renyi" else c.rule[1] / n_pre
                g = random_connectivity(n_post, n_pre, min(prob, 1.0), 1.0,
                                        int(seeds[2 * i]),
                                        fixed_indegree=kind == "fixed_in_degree",
                                        allow_autapses=p != q)
                s, t = g.sources(), g.targets
                frac = prob
            if c.J is not None:
                weights = np.full(s.size, c.J / (frac * n_pre) if frac > 0 else 0.0)
            elif isinstance(c.weight, Heterogeneity):
                weights = c.weight.sample(s.size, seed=int(seeds[2 * i + 1]))
            else:
                weights = np.full(s.size, float(c.weight))
            src.append(s + starts[q])
            tgt.append(t + starts[p])
            w.append(weights)
        n = self.n_neurons
        s, t, ww = np.concatenate(src), np.concatenate(tgt), np.concatenate(w)
        order = np.lexsort((t, s))
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(s, minlength=n), out=indptr[1:])
        return Connectivity(n, n, indptr, t[order], ww[order])


def spec_from_population_file(d: Mapping[str, Any], source: str | None = None) -> NetworkSpec:
    """A one-population, uncoupled network from a ``hetfit params`` file (every per-neuron
    value kept as an explicit array)."""
    if d.get("model") != "izhikevich":
        raise _where("model", f"population file of model {json.dumps(d.get('model'))}; "
                     "only Izhikevich populations run from a spec in this version", source)
    params = d.get("parameters") or {}
    pd: dict[str, Any] = {"n": d.get("n")}
    for k, p in params.items():
        if k not in IZHIKEVICH_PARAMETERS:
            raise _where(f"parameters.{k}", "is not an Izhikevich parameter", source)
        vals = p.get("values") if isinstance(p, Mapping) else None
        if k in POPULATION_SCALARS and isinstance(vals, list) and vals:
            # the engine holds these per population: equal values collapse to one number
            if any(v != vals[0] for v in vals):
                raise _where(f"parameters.{k}", "differs between neurons, but the engine "
                             "takes one value per population", source)
            pd[k] = vals[0]
            continue
        pd[k] = {"values": vals}
    name = str(d.get("name") or "P").replace(" ", "_")
    return NetworkSpec.from_dict({
        "format": FORMAT, "format_version": FORMAT_VERSION, "model": "izhikevich",
        "name": name, "description": f"hetfit params population {name}, uncoupled",
        "populations": {name: pd}, "connections": [],
        "provenance": {"population_file": source, **dict(d.get("provenance") or {})}},
        source)


def load_spec(path: str | os.PathLike) -> NetworkSpec:
    """Read a network spec file, or a population file written by ``hetfit params``."""
    p = existing_file(path, "network spec")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpecError(f"network spec {p} is not valid JSON: {exc}",
                        hint="check the file (a JSON object, UTF-8)") from exc
    if isinstance(d, Mapping) and d.get("schema") == "hetfit.population":
        return spec_from_population_file(d, str(p))
    return NetworkSpec.from_dict(d, str(p))


def preset_spec(name: str) -> NetworkSpec:
    """A network spec shipped with hetfit (``hetfit/presets/networks/NAME.json``)."""
    path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        have = sorted(q.stem for q in PRESET_DIR.glob("*.json") if not q.stem.startswith("schema"))
        raise ParameterError(f"no shipped network spec {name!r}", hint=f"available: {have}")
    return load_spec(path)
