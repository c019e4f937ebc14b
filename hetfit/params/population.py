"""Population specs: per-neuron parameters for N model neurons, saved as simulator-neutral JSON.

A :class:`PopulationSpec` holds, for one cell type and one model (``"izhikevich"`` or
``"lif"``), every parameter's N per-neuron values (the authoritative numbers), a summary
distribution per parameter as :class:`~hetfit.models.heterogeneity.Heterogeneity` (family
chosen by AIC), the per-neuron features they came from, the mapping settings and notes, and
provenance.  Build it from an estimate (:func:`population_from_estimate`: N neurons drawn
from the type's fitted distributions) or from a per-cell table
(:func:`population_from_table`: one model neuron per recorded cell).

JSON schema ``hetfit.population`` version 1 (documented with Brian2 and NEST examples in
``docs/params.md``)::

    {"schema": "hetfit.population", "schema_version": 1, "model": "izhikevich",
     "name": "human-epilepsy-spiny", "n": 1000, "equations": "...",
     "parameters": {"C": {"unit": "pF", "values": [...], "distribution": {...},
                          "mapping": "...", "summary": {...}}, ...},
     "features": {"v_rest_mV": {"unit": "mV", "values": [...]}, ...},
     "mapping": {"settings": {...}, "notes": [...]},
     "diagnostics": {...}, "provenance": {...}}

Load it back with :func:`load_population`; :meth:`PopulationSpec.to_izhikevich_population`
and :meth:`PopulationSpec.to_lif_population` give hetfit's model specs.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetfit._version import __version__
from hetfit.errors import (
    IncompatibleArtifactError,
    InputFileError,
    InsufficientDataError,
    ParameterError,
)
from hetfit.seeding import SeedLike, child_seeds

SCHEMA_NAME = "hetfit.population"
SCHEMA_VERSION = 1
MODELS = ("izhikevich", "lif")

EQUATIONS = {
    "izhikevich": (
        "C dv/dt = k (v - v_r)(v - v_theta) - u + I;  tau_u du/dt = b (v - v_r) - u;  "
        "if v >= v_peak: v <- v_reset, u <- u + kappa.  Units: C pF, k nS/mV, v mV, u and I "
        "pA, b nS, tau_u ms, kappa pA, t ms."
    ),
    "lif": (
        "tau_m dv/dt = -(v - e_l) + r_m I / 1000;  if v >= v_th: v <- v_reset, refractory "
        "for t_ref.  Units: tau_m ms, r_m MOhm, C = tau_m / r_m pF, v mV, I pA, t ms."
    ),
}

ASSUMPTIONS = {
    "izhikevich": {
        "v_r": "resting potential (v_rest_mV)",
        "v_theta": "spike threshold (v_threshold_mV), taken as the instantaneous threshold",
        "C": "tau_m / R_in (or C = tau_m k (v_theta - v_r) with capacitance='model_tau')",
        "k": "rheobase of the quadratic model: (k dv + b)^2/(4k) (saddle-node, b < C/tau_u), "
             "Andronov-Hopf value otherwise; with b > 0 fitted to the simulated 1-s step "
             "rheobase",
        "b": "sag ratio: b = k dv sag/(1 - sag) (slow-u, small-signal limit); else a constant",
        "tau_u": "not identifiable from the features: a constant",
        "kappa": "adaptation index at rheobase + 40 pA, calibrated by simulation; else a "
                 "constant",
        "v_peak": "constant (spike shape convention)",
        "v_reset": "constant (spike shape convention)",
    },
    "lif": {
        "tau_m": "membrane time constant (tau_m_ms)",
        "r_m": "input resistance (r_input_MOhm)",
        "C": "tau_m / r_m",
        "e_l": "resting potential (v_rest_mV)",
        "v_th": "measured threshold, or e_l + r_m rheobase / 1000 with threshold='rheobase'",
        "v_reset": "e_l unless given",
        "t_ref": "constant",
    },
}


def _features_for(model: str, group=None, mapping: Mapping[str, Any] | None = None
                  ) -> list[str]:
    mapping = dict(mapping or {})
    if model == "izhikevich":
        from hetfit.params.izhikevich import OPTIONAL, REQUIRED

        feats = list(REQUIRED)
        avail = set(group.features) if group is not None else set()
        for f in OPTIONAL:
            use = mapping.get("use_sag", True) if f == "sag" else mapping.get(
                "use_adaptation", True)
            if use and f in avail and group[f].ok:
                feats.append(f)
        return feats
    thr = mapping.get("threshold", "measured")
    return ["v_rest_mV", "tau_m_ms", "r_input_MOhm",
            "v_threshold_mV" if thr == "measured" else "rheobase_pA"]


def _map(model: str, features: Mapping[str, np.ndarray], mapping: Mapping[str, Any]):
    if model == "izhikevich":
        from hetfit.params.izhikevich import map_izhikevich

        return map_izhikevich(features, **mapping)
    from hetfit.params.lif import map_lif

    return map_lif(features, **mapping)


def _units(model: str) -> dict[str, str]:
    if model == "izhikevich":
        from hetfit.params.izhikevich import UNITS
    else:
        from hetfit.params.lif import UNITS
    return dict(UNITS)


def summarize(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "median": float(q50), "iqr": float(q75 - q25), "min": float(v.min()),
            "max": float(v.max())}


def fit_heterogeneity(values: np.ndarray, families: Sequence[str] = ("gaussian", "lognormal",
                                                                     "lorentzian")):
    """Summarize per-neuron values as a Heterogeneity (lowest AIC; truncated to their range)."""
    from hetfit.distributions.families import fit_families
    from hetfit.models.heterogeneity import Heterogeneity

    v = np.asarray(values, dtype=float)
    lo, hi = float(v.min()), float(v.max())
    if v.size < 5 or hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1.0):
        return Heterogeneity(float(np.median(v)), 0.0, "none"), None
    sel = fit_families(v, families, n_gof=0)
    if sel.best is None:
        return Heterogeneity(float(np.median(v)), 0.0, "none"), None
    best = sel.best
    het = best.to_heterogeneity(low=lo, high=hi)
    if not (het.low <= het.center <= het.high):  # pragma: no cover - defensive
        het = Heterogeneity(float(np.median(v)), 0.0, "none")
    return het, {"family": best.family, "aic": best.aic,
                 "delta_aic": {f.family: f.delta_aic for f in sel.fits if f.ok}}


@dataclass
class PopulationSpec:
    """Per-neuron parameters of one model population (see module doc)."""

    model: str
    name: str
    values: dict[str, np.ndarray]
    units: dict[str, str]
    distributions: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ParameterError(f"unknown model {self.model!r}", hint=f"use one of {MODELS}")
        sizes = {k: np.asarray(v).size for k, v in self.values.items()}
        if len(set(sizes.values())) > 1:
            raise ParameterError(f"parameters have different numbers of neurons: {sizes}")
        self.values = {k: np.asarray(v, dtype=float) for k, v in self.values.items()}
        for k, v in self.values.items():
            if not np.all(np.isfinite(v)):
                raise ParameterError(f"parameter {k!r} has non-finite values",
                                     hint="drop or remap invalid neurons first")

    @property
    def n(self) -> int:
        return int(next(iter(self.values.values())).size) if self.values else 0

    def heterogeneity(self, parameter: str):
        """The summary distribution of one parameter as a Heterogeneity."""
        from hetfit.models.heterogeneity import Heterogeneity

        if parameter not in self.distributions:
            raise ParameterError(f"no distribution for {parameter!r}",
                                 hint=f"parameters: {list(self.distributions)}")
        d = dict(self.distributions[parameter])
        d.pop("fit", None)
        return Heterogeneity.from_dict(d)

    # -- hetfit model specs ----------------------------------------------------------------
    def to_izhikevich_population(self, name: str | None = None, threshold: str = "distance",
                                 sampling: str = "quantiles", per_neuron: bool = False,
                                 **overrides: Any):
        """An :class:`~hetfit.models.izhikevich.IzhikevichPopulation` with ``n`` neurons.

        ``per_neuron=True`` gives every neuron its own ``C, k, v_r, v_theta, b, tau_u,
        kappa`` (explicit arrays; ``threshold`` and ``sampling`` are then unused), which is
        what ``hetfit simulate --spec`` does with a params file.  By default (a population
        that exact mean fields can describe) ``C, k, v_r, b, tau_u, kappa, v_peak, v_reset``
        are set to the medians of the per-neuron values.  Heterogeneity is
        kept in ``v_theta``: ``threshold="distance"`` (default) gives each neuron the common
        ``v_r`` plus its own distance to threshold ``v_theta_i - v_r_i`` (the excitability
        the neuron had), summarized as a Heterogeneity fitted to those values (best AIC of
        Gaussian and Lorentzian: a log-normal cannot describe negative voltages, so the skew
        of a log-normal distance to threshold is not kept);
        ``"absolute"`` uses the ``v_theta`` distribution as is.  For every per-neuron value,
        use :attr:`values` with a simulator that takes arrays (Brian2, NEST).
        """
        from dataclasses import replace as dc_replace

        from hetfit.models.izhikevich import IzhikevichPopulation

        if self.model != "izhikevich":
            raise IncompatibleArtifactError(
                f"this population spec is for the {self.model!r} model, not 'izhikevich'")
        if per_neuron:  # every cell keeps its own values (the engine takes arrays)
            from hetfit.models.izhikevich import IzhikevichPopulation

            shape = {k: self.values[k] for k in ("v_peak", "v_reset")}
            for k, v in shape.items():
                if np.ptp(v) > 0:
                    raise ParameterError(f"{k} differs between neurons, but the engine takes "
                                         "one value per population")
            kwargs = {k: np.asarray(self.values[k], dtype=float) for k in
                      ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa")}
            kwargs.update(name=name or "E", n=self.n, v_peak=float(shape["v_peak"][0]),
                          v_reset=float(shape["v_reset"][0]))
            kwargs.update(overrides)
            return IzhikevichPopulation(**kwargs)
        if threshold not in ("distance", "absolute"):
            raise ParameterError(f"unknown threshold mode {threshold!r}",
                                 hint="use 'distance' or 'absolute'")
        med = {k: float(np.median(v)) for k, v in self.values.items()}
        if threshold == "distance":
            vt_vals = med["v_r"] + (self.values["v_theta"] - self.values["v_r"])
            het, _ = fit_heterogeneity(vt_vals)
        else:
            het = self.heterogeneity("v_theta")
        het = dc_replace(het, sampling=sampling)
        kwargs = dict(name=name or "E", n=self.n, C=med["C"], k=med["k"], v_r=med["v_r"],
                      v_theta=het, b=med["b"], tau_u=med["tau_u"], kappa=med["kappa"],
                      v_peak=med["v_peak"], v_reset=med["v_reset"])
        kwargs.update(overrides)
        return IzhikevichPopulation(**kwargs)

    def to_lif_population(self, name: str | None = None, kind: str = "E", **overrides: Any):
        """An :class:`~hetfit.models.lif.LIFPopulation` with every per-neuron value.

        ``tau_m``, ``e_l`` and ``v_th`` are passed per neuron; ``r_m``, ``v_reset`` and
        ``t_ref`` are per population in that model and are set to their medians.
        """
        from hetfit.models.lif import LIFPopulation

        if self.model != "lif":
            raise IncompatibleArtifactError(
                f"this population spec is for the {self.model!r} model, not 'lif'")
        v = self.values
        kwargs = dict(name=name or "E", n=self.n, kind=kind, tau_m_ms=v["tau_m"].copy(),
                      e_l_mv=v["e_l"].copy(), v_th_mv=v["v_th"].copy(),
                      v_reset_mv=float(np.median(v["v_reset"])),
                      t_ref_ms=float(np.median(v["t_ref"])),
                      r_m_mohm=float(np.median(v["r_m"])))
        kwargs.update(overrides)
        return LIFPopulation(**kwargs)

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        assumptions = ASSUMPTIONS[self.model]
        params = {}
        for k, v in self.values.items():
            params[k] = {
                "unit": self.units.get(k, ""),
                "values": v.tolist(),
                "distribution": self.distributions.get(k),
                "mapping": assumptions.get(k, ""),
                "summary": summarize(v),
            }
        feats = {}
        from hetfit.data_adapters.schema import FEATURES

        for k, v in self.features.items():
            spec = FEATURES.get(k)
            feats[k] = {"unit": spec.unit if spec else "", "values": np.asarray(v).tolist()}
        return {
            "schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "model": self.model,
            "name": self.name, "n": self.n, "equations": EQUATIONS[self.model],
            "parameters": params, "features": feats, "mapping": self.mapping,
            "diagnostics": self.diagnostics, "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PopulationSpec:
        if d.get("schema") != SCHEMA_NAME:
            raise IncompatibleArtifactError(
                f"not a hetfit population spec (schema {d.get('schema')!r})",
                hint="pass the JSON written by 'hetfit params --out'")
        if int(d.get("schema_version", 0)) > SCHEMA_VERSION:
            raise IncompatibleArtifactError(
                f"population schema version {d.get('schema_version')} is newer than this "
                f"hetfit understands ({SCHEMA_VERSION})", hint="upgrade hetfit")
        params = d.get("parameters") or {}
        values = {k: np.asarray(p["values"], dtype=float) for k, p in params.items()}
        n = int(d.get("n", -1))
        for k, v in values.items():
            if v.size != n:
                raise IncompatibleArtifactError(
                    f"parameter {k!r} has {v.size} values but the spec says n = {n}",
                    hint="the file was edited or truncated; regenerate it")
        return cls(
            model=d["model"], name=d.get("name", ""), values=values,
            units={k: p.get("unit", "") for k, p in params.items()},
            distributions={k: p["distribution"] for k, p in params.items()
                           if p.get("distribution")},
            features={k: np.asarray(f["values"], dtype=float)
                      for k, f in (d.get("features") or {}).items()},
            mapping=dict(d.get("mapping") or {}), diagnostics=dict(d.get("diagnostics") or {}),
            provenance=dict(d.get("provenance") or {}),
        )

    def save(self, path: str | Path) -> Path:
        """Write the spec as JSON atomically."""
        from hetfit.io import atomic_write_json

        return atomic_write_json(path, self.to_dict())

    def to_frame(self):
        """Per-neuron table: one row per neuron, parameters and features as columns."""
        import pandas as pd

        return pd.DataFrame({**{k: v for k, v in self.values.items()},
                             **{k: v for k, v in self.features.items()}})


def load_population(path: str | Path) -> PopulationSpec:
    """Read a population spec written by :meth:`PopulationSpec.save` / ``hetfit params``."""
    import json

    from hetfit.io import existing_file

    p = existing_file(path, "population spec")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{p} is not valid JSON: {exc}",
                             hint="pass the file written by 'hetfit params --out'") from exc
    return PopulationSpec.from_dict(d)


def _finish(model, name, cells, features, provenance, extra_diag=None) -> PopulationSpec:
    values = {k: np.asarray(v, dtype=float)[cells.valid] for k, v in cells.params.items()}
    feats = {k: np.asarray(v, dtype=float)[cells.valid] for k, v in features.items()}
    dists = {}
    for k, v in values.items():
        het, fit = fit_heterogeneity(v)
        d = het.to_dict()
        if fit is not None:
            d["fit"] = fit
        dists[k] = d
    diag = {}
    for k, v in cells.diagnostics.items():
        arr = np.asarray(v)[cells.valid]
        if arr.dtype.kind in "fi":
            finite = arr[np.isfinite(arr)]
            diag[k] = summarize(finite) if finite.size else None
        else:
            u, c = np.unique(arr.astype(str), return_counts=True)
            diag[k] = {str(a): int(b) for a, b in zip(u, c)}
    diag.update(extra_diag or {})
    mapping = {"settings": cells.settings, "notes": cells.notes}
    return PopulationSpec(model, name, values, _units(model), dists, feats, mapping, diag,
                          provenance)


def _provenance(**extra: Any) -> dict[str, Any]:
    return {"hetfit_version": __version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
            .isoformat(), **extra}


def population_from_estimate(
    estimate,
    group: str | None = None,
    n: int = 1000,
    model: str = "izhikevich",
    seed: SeedLike = 0,
    correlated: bool = True,
    max_rounds: int = 20,
    **mapping: Any,
) -> PopulationSpec:
    """Draw ``n`` neurons from an estimated type and map them to model parameters.

    Parameters
    ----------
    estimate:
        An :class:`~hetfit.distributions.estimate.EstimateResult` (then ``group`` names the
        type; it may be omitted when there is one type) or a ``GroupEstimate``.
    n:
        Number of neurons.
    model:
        ``"izhikevich"`` or ``"lif"``.
    seed:
        Seed of the feature draws (the mapping itself is deterministic).
    correlated:
        Couple features with the type's rank correlations (Gaussian copula).
    max_rounds:
        Neurons whose features cannot be mapped (e.g. threshold below rest) are redrawn up
        to this many times; the number redrawn is reported in ``diagnostics``.
    mapping:
        Keyword arguments of :func:`~hetfit.params.izhikevich.map_izhikevich` or
        :func:`~hetfit.params.lif.map_lif`.
    """
    from hetfit.params.sampling import sample_features

    if model not in MODELS:
        raise ParameterError(f"unknown model {model!r}", hint=f"use one of {MODELS}")
    grp = _resolve_group(estimate, group)
    feats = _features_for(model, grp, mapping)
    missing = [f for f in feats if f not in grp.features]
    if missing:
        raise InsufficientDataError(
            f"type {grp.name!r} has no estimate for {missing}, needed by the {model} mapping",
            hint=f"estimate these features too (hetfit estimate --features "
            f"{','.join(feats)}) or use a preset",
        )
    # thresholds are drawn as rest + distance to threshold when the distance was estimated,
    # which keeps every threshold above its resting potential
    use_dtt = ("v_threshold_mV" in feats and "distance_to_threshold_mV" in grp.features
               and grp["distance_to_threshold_mV"].ok)
    draw = [("distance_to_threshold_mV" if (f == "v_threshold_mV" and use_dtt) else f)
            for f in feats]
    seeds = child_seeds(seed, max_rounds + 1)
    vals, info = sample_features(grp, draw, n, int(seeds[0]), correlated)
    if use_dtt:
        vals["v_threshold_mV"] = vals["v_rest_mV"] + vals["distance_to_threshold_mV"]
    cells = _map(model, vals, mapping)
    n_redrawn = 0
    for r in range(1, max_rounds + 1):
        bad = ~cells.valid
        if not bad.any():
            break
        n_redrawn += int(bad.sum())
        new, _ = sample_features(grp, draw, int(bad.sum()), int(seeds[r]), correlated)
        if use_dtt:
            new["v_threshold_mV"] = new["v_rest_mV"] + new["distance_to_threshold_mV"]
        for f in vals:
            vals[f][bad] = new[f]
        sub = _map(model, {f: v[bad] for f, v in vals.items()}, mapping)
        for k in cells.params:
            cells.params[k][bad] = sub.params[k]
        for k in cells.diagnostics:
            d = np.asarray(cells.diagnostics[k])
            if d.dtype.kind in "US":
                d = d.astype(object)
            d[bad] = sub.diagnostics[k]
            cells.diagnostics[k] = d
        cells.valid[bad] = sub.valid
        for j, i in enumerate(np.flatnonzero(bad)):
            cells.reasons[i] = sub.reasons[j]
    if not cells.valid.all():
        raise InsufficientDataError(
            f"{int((~cells.valid).sum())} of {n} neurons could not be mapped after "
            f"{max_rounds} redraws (e.g. {next(r for r in cells.reasons if r)})",
            hint="check the type's feature distributions (units?) or the mapping settings",
        )
    prov = _provenance(
        source="estimate", group=grp.name, group_labels=grp.labels, seed=_seed_repr(seed),
        correlated=correlated, sampling=info,
        estimate=getattr(estimate, "provenance", None),
    )
    return _finish(model, grp.name, cells, vals, prov,
                   {"n_redrawn": n_redrawn, "thresholds_from": "rest + distance_to_threshold"
                    if use_dtt else "v_threshold_mV"})


def population_from_table(table, model: str = "izhikevich", name: str = "cells",
                          **mapping: Any) -> PopulationSpec:
    """One model neuron per recorded cell (cells that cannot be mapped are dropped and
    counted in ``diagnostics["dropped"]``)."""
    from hetfit.distributions.compare import _as_frame

    if model not in MODELS:
        raise ParameterError(f"unknown model {model!r}", hint=f"use one of {MODELS}")
    df = _as_frame(table)
    if model == "izhikevich":
        from hetfit.params.izhikevich import OPTIONAL, REQUIRED

        feats = list(REQUIRED) + [f for f in OPTIONAL if f in df.columns]
    else:
        feats = _features_for(model, None, mapping)
    missing = [f for f in feats if f not in df.columns]
    if missing:
        raise ParameterError(f"the table lacks features for the {model} mapping: {missing}",
                             hint="add them (canonical names and units)")
    vals = {f: df[f].to_numpy(dtype=float) for f in feats}
    cells = _map(model, vals, mapping)
    dropped: dict[str, int] = {}
    for r in cells.reasons:
        if r:
            dropped[r] = dropped.get(r, 0) + 1
    if not cells.valid.any():
        raise InsufficientDataError(f"none of the {len(df)} cells could be mapped: {dropped}")
    ids = df["cell_id"].astype(str).to_numpy()[cells.valid].tolist() if "cell_id" in \
        df.columns else None
    prov = _provenance(source="table", n_cells=int(len(df)), cell_ids=ids)
    return _finish(model, name, cells, vals, prov, {"dropped": dropped})


def _seed_repr(seed):
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    return str(seed)


def _resolve_group(estimate, group):
    from hetfit.distributions.estimate import EstimateResult, GroupEstimate

    if isinstance(estimate, GroupEstimate):
        return estimate
    if not isinstance(estimate, EstimateResult):
        raise ParameterError(
            f"expected an EstimateResult or GroupEstimate, got {type(estimate).__name__}")
    if group is None:
        if len(estimate.groups) != 1:
            raise ParameterError(
                f"the estimate has {len(estimate.groups)} types; say which one",
                hint=f"types: {[g.name for g in estimate.groups]}")
        return estimate.groups[0]
    return estimate.group(group)


