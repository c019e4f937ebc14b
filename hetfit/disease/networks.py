"""Networks built from each condition's measured widths, and sweeps around them.

:func:`compare_networks` turns the spread of one feature per population (e.g. the spike
threshold of spiny = E and aspiny = I cells) in each condition into the heterogeneity of a
network model and measures it:

* ``gast2023_ei`` -- the E/I Izhikevich circuit of Gast, Solla & Kennedy (2023) with
  Lorentzian thresholds (half-width = IQR/2 of the measured thresholds).  Engines: the
  mean field gives the fixed-point structure (stable rates, bistable range of E drive), which
  is what that reduction captures for Lorentzian thresholds; synchrony (Golomb chi, Kuramoto
  order, spectral peak) and the response to a sudden input step are spike-timing
  properties the mean field does not describe, so they come from network simulations.
* ``rich2022`` -- the network of Rich et al. (2022), sigma_e = SD of the measured distance
  to threshold, with its sudden-input-step protocol (network simulations only).
* ``lif_cuba`` -- the CUBA LIF network of Brette et al. (2007) with log-normal membrane time
  constants whose coefficient of variation is the measured one (timescale heterogeneity;
  network simulations only).

Uncertainty: ``n_replicates`` draws per condition, each with widths from one bootstrap
resample of that condition's donors (all populations from the *same* donors; cells when
there are no donor ids) and its own network seed; point values use the measured widths with
``n_seeds`` seeds.  Every measure carries the engine that produced it.

:func:`network_sweeps` scales the measured widths from 0 to twice the healthy value (and
adds drive and partial-reset heterogeneity) to show which cells and parameters matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from hetfit.disease.samples import feature_values
from hetfit.disease.sweeps import (
    _network_measures,
    izhikevich_sweep,
    meanfield_sweep,
    rich2022_step_sweep,
)
from hetfit.distributions.bootstrap import STATISTICS, make_clusters
from hetfit.errors import InsufficientDataError, ParameterError, SchemaError
from hetfit.models.batch import simulate_batch
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import StepCurrent
from hetfit.models.lif import brette_cuba, simulate_lif
from hetfit.models.meanfield import gast2023_ei_meanfield
from hetfit.models.presets import gast2023_ei
from hetfit.models.rich2022 import Rich2022Spec, step_response
from hetfit.seeding import SeedLike, as_generator, child_seeds

__all__ = [
    "MeasureComparison",
    "ModelSettings",
    "NetworkComparison",
    "NetworkMapping",
    "PopulationWidths",
    "compare_networks",
    "network_sweeps",
    "population_widths",
]


@dataclass(frozen=True)
class NetworkMapping:
    """How cell types of the data become populations of a network model.

    Attributes
    ----------
    model:
        ``"gast2023_ei"`` (Izhikevich E/I circuit with Lorentzian thresholds, Gast, Solla &
        Kennedy 2023) or ``"rich2022"`` (Rich et al. 2022 network).
    populations:
        Population name -> type labels, e.g. ``{"E": {"dendrite_type": "spiny"}}``.
    feature:
        Feature whose spread sets each population's heterogeneity width.
    width:
        Width statistic used as the model's width: ``"hwhm_iqr"`` (Lorentzian half-width,
        IQR/2) or ``"sd"`` (Gaussian sigma).
    """

    model: str
    populations: Mapping[str, Mapping[str, Any]]
    feature: str
    width: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "feature": self.feature, "width": self.width,
                "populations": {k: dict(v) for k, v in self.populations.items()}}


# ---------------------------------------------------------------------------------------
# widths for networks: joint donor bootstrap of all populations of a condition
# ---------------------------------------------------------------------------------------
@dataclass
class PopulationWidths:
    """Point estimate and bootstrap replicates of each population's width in one condition."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray]
    n_cells: dict[str, int]
    n_donors: int | None
    resampling_unit: str


def population_widths(table: Any, mapping: NetworkMapping, n_replicates: int,
                      seed: SeedLike) -> PopulationWidths:
    """Widths of ``mapping.feature`` per population, resampling donors jointly.

    One bootstrap replicate draws donors with replacement once; every population's width is
    computed from the drawn donors' cells, so E and I widths keep the dependence they have
    through shared donors.  Cells without a donor id are their own resampling unit.
    """
    if mapping.width not in STATISTICS:
        raise ParameterError(f"unknown width statistic {mapping.width!r}",
                             hint=f"use one of {sorted(STATISTICS)}")
    st = STATISTICS[mapping.width]
    xs, ds, names = [], [], []
    for pop, crit in mapping.populations.items():
        try:
            sub = table.select(**dict(crit))
        except InsufficientDataError as exc:
            raise InsufficientDataError(
                f"population {pop!r}: no cells with {dict(crit)}", hint=exc.hint) from None
        if mapping.feature not in sub.data.columns:
            raise SchemaError(f"population {pop!r}: feature {mapping.feature!r} not in the table")
        x, d = feature_values(sub, mapping.feature)
        if x.size < 3:
            raise InsufficientDataError(
                f"population {pop!r} has {x.size} cell(s) with {mapping.feature}; a width "
                "needs at least 3")
        xs.append(x)
        ds.append(d if d is not None else np.full(x.size, None, dtype=object))
        names.append(pop)
    all_d = np.concatenate(ds)
    cl = make_clusters(all_d.size, None if all(v is None for v in all_d) else all_d)
    rng = as_generator(seed)
    counts = rng.multinomial(cl.n_clusters, np.full(cl.n_clusters, 1.0 / cl.n_clusters),
                             size=int(n_replicates)).astype(np.float64)
    point, reps, ncell = {}, {}, {}
    start = 0
    for pop, x in zip(names, xs):
        idx = cl.index[start:start + x.size]
        start += x.size
        point[pop] = float(st.fn(x, np.ones((1, x.size)))[0])
        w = counts[:, idx]
        # a replicate that drew fewer than 3 cells of this population has no width (NaN);
        # compare_networks runs such replicates at the point estimate and says how many
        r = np.where(w.sum(axis=1) > 2, st.fn(x, w), np.nan)
        reps[pop] = r
        ncell[pop] = int(x.size)
    return PopulationWidths(point, reps, ncell,
                            None if cl.unit == "cell" else cl.n_clusters - cl.n_without_donor,
                            cl.unit)


# ---------------------------------------------------------------------------------------
# network models driven by measured widths
# ---------------------------------------------------------------------------------------
@dataclass
class ModelSettings:
    """Size and duration settings of the network evaluation (``quick`` shrinks them)."""

    n_per_population: int = 1000
    t_settle_ms: float = 500.0
    window_ms: float = 1000.0
    dt_ms: float = 0.05
    step_pA: float = 20.0
    tau_ms: float = 5.0
    scan_points: int = 26
    refine_tol_pA: float = 0.5

    @classmethod
    def quick(cls) -> ModelSettings:
        return cls(n_per_population=300, t_settle_ms=300.0, window_ms=500.0, dt_ms=0.1,
                   scan_points=13, refine_tol_pA=2.0)


def _gast_ei_network_measures(widths: list[dict[str, float]], seeds: list[int],
                              s: ModelSettings, drives: tuple[float, float]) -> list[dict]:
    """Network synchrony at the operating point and after a step of E drive."""
    t_step = s.t_settle_ms + s.window_ms
    lag = s.window_ms / 5.0
    t_max = t_step + lag + s.window_ms
    base = gast2023_ei(
        n_e=s.n_per_population, n_i=s.n_per_population, delta_v_e=1.0, delta_v_i=1.0,
        I_e=StepCurrent.steps((0.0, drives[0]), (t_step, drives[0] + s.step_pA)),
        I_i=drives[1])
    rows = [{"E.v_theta.width": w["E"], "I.v_theta.width": w["I"]} for w in widths]
    br = simulate_batch(base, rows, t_max, s.dt_ms, seeds=seeds, record_spikes=True)
    out = []
    for j in range(len(br)):
        if br.diverged[j]:
            out.append({})
            continue
        r = br.result(j)
        before = _network_measures(r, ["E", "I"], t_step - s.window_ms, t_step, s.tau_ms,
                                   min(500.0, s.window_ms))
        after = _network_measures(r, ["E", "I"], t_step + lag, t_max, s.tau_ms,
                                  min(500.0, s.window_ms))
        m = {k: before[k] for k in ("chi_E", "chi_I", "order_E", "rate_E", "rate_I",
                                    "peak_to_mean_E")}
        m["step_delta_chi_E"] = after["chi_E"] - before["chi_E"]
        m["step_delta_rate_E"] = after["rate_E"] - before["rate_E"]
        out.append(m)
    return out


def _gast_ei_meanfield_measures(widths: list[dict[str, float]], s: ModelSettings,
                                drives: tuple[float, float]) -> list[dict]:
    """Mean-field fixed-point structure: stable rates and the bistable range of E drive."""
    scan = np.linspace(drives[0] - 50.0, drives[0] + 50.0, s.scan_points)
    out = []
    for w in widths:
        mf = gast2023_ei_meanfield(delta_e=w["E"], delta_i=w["I"], eta_e=drives[0],
                                   eta_i=drives[1])
        fps = [fp for fp in mf.fixed_points() if fp.stable]
        ranges = mf.bistable_ranges("eta", scan, population="E", refine_tol=s.refine_tol_pA)
        widest = max((b - a for a, b in ranges), default=0.0)
        m = {"mf_bistable_range_pA": float(widest),
             "mf_n_stable_states": float(len(fps)),
             "mf_rate_E": float(fps[0].rates_hz[0]) if fps else math.nan,
             "mf_rate_I": float(fps[0].rates_hz[1]) if fps else math.nan}
        out.append(m)
    return out


def _rich_measures(widths: list[dict[str, float]], seeds: list[int]) -> list[dict]:
    """Rich et al. 2022 network: synchrony before/after its sudden input step."""
    out = []
    for w, sd in zip(widths, seeds):
        r = step_response(Rich2022Spec(sigma_e_mv=w["E"]), seed=sd)
        if r.get("diverged"):
            out.append({})
            continue
        out.append({"step_delta_chi_E": r["delta_chi"], "chi_before_E": r["chi_before"],
                    "chi_after_E": r["chi_after"], "rate_before_E": r["rate_before_hz"],
                    "rate_after_E": r["rate_after_hz"]})
    return out


def _lif_measures(widths: list[dict[str, float]], seeds: list[int], s: ModelSettings,
                  ) -> list[dict]:
    """CUBA LIF network (Brette et al. 2007) with log-normal membrane time constants.

    Each population keeps the benchmark's mean tau_m of 20 ms; its coefficient of variation
    is the measured one (log-normal, truncated to 2-200 ms).
    """
    base = brette_cuba()
    t_max = s.t_settle_ms + s.window_ms
    out = []
    for w, sd in zip(widths, seeds):
        pops = []
        for pop in base.populations:
            cv = float(w.get(pop.name, 0.0))
            if cv > 0:
                sig = math.sqrt(math.log1p(cv * cv))
                tau = Heterogeneity(20.0 / math.exp(sig * sig / 2.0), sig, "lognormal",
                                    low=2.0, high=200.0, sampling="random")
                pop = replace(pop, tau_m_ms=tau)
            pops.append(pop)
        res = simulate_lif(replace(base, populations=tuple(pops)), t_max, 0.1, seed=sd)
        if res.diverged:
            out.append({})
            continue
        m = _network_measures(res, ["E", "I"], s.t_settle_ms, t_max, s.tau_ms,
                              min(500.0, s.window_ms))
        out.append({k: m[k] for k in ("chi_E", "rate_E", "rate_I", "cv_isi_E")})
    return out


_ENGINES = {
    "lif_cuba": {
        "chi_E": ("network", "", "Golomb chi of E spike trains"),
        "rate_E": ("network", "Hz", "E rate"),
        "rate_I": ("network", "Hz", "I rate"),
        "cv_isi_E": ("network", "", "mean CV of E inter-spike intervals"),
    },
    "rich2022": {
        "step_delta_chi_E": ("network", "", "Golomb chi of E after a sudden input step minus "
                             "before (Rich et al. 2022 protocol)"),
        "chi_before_E": ("network", "", "chi of E before the step"),
        "chi_after_E": ("network", "", "chi of E after the step"),
        "rate_before_E": ("network", "Hz", "E rate before the step"),
        "rate_after_E": ("network", "Hz", "E rate after the step"),
    },
    "gast2023_ei": {
        "mf_bistable_range_pA": ("mean field", "pA",
                                 "width of the range of E drive with two stable states"),
        "mf_n_stable_states": ("mean field", "", "stable fixed points at the operating point"),
        "mf_rate_E": ("mean field", "Hz", "E rate of the (lowest) stable fixed point"),
        "mf_rate_I": ("mean field", "Hz", "I rate of the (lowest) stable fixed point"),
        "chi_E": ("network", "", "Golomb chi of E spike trains at the operating point"),
        "chi_I": ("network", "", "Golomb chi of I spike trains at the operating point"),
        "order_E": ("network", "", "Kuramoto order parameter of E spike phases"),
        "rate_E": ("network", "Hz", "E rate (network)"),
        "rate_I": ("network", "Hz", "I rate (network)"),
        "peak_to_mean_E": ("network", "", "spectral peak over mean power (E rate)"),
        "step_delta_chi_E": ("network", "",
                             "chi of E after a sudden step of E drive minus before"),
        "step_delta_rate_E": ("network", "Hz", "E rate after the step minus before"),
    },
}


@dataclass
class MeasureComparison:
    """One network measure in both conditions with its uncertainty."""

    name: str
    unit: str
    engine: str
    description: str
    point: tuple[float, float]  # healthy, disease at the measured widths (mean over seeds)
    interval_healthy: tuple[float, float]
    interval_disease: tuple[float, float]
    difference: float  # disease - healthy (point)
    difference_interval: tuple[float, float]
    replicates: tuple[np.ndarray, np.ndarray]
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "unit": self.unit, "engine": self.engine,
            "description": self.description, "healthy": self.point[0],
            "disease": self.point[1], "interval_healthy": list(self.interval_healthy),
            "interval_disease": list(self.interval_disease),
            "difference": self.difference, "difference_interval": list(self.difference_interval),
            "level": self.level, "n_replicates_valid": [int(np.isfinite(r).sum())
                                                        for r in self.replicates],
        }


@dataclass
class NetworkComparison:
    """Network measures of two conditions built from their measured widths."""

    model: str
    mapping: NetworkMapping
    healthy: str
    disease: str
    widths: dict[str, PopulationWidths]  # condition name -> widths
    measures: dict[str, MeasureComparison]
    engines: dict[str, str]
    notes: list[str]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        w = {}
        for cond, pw in self.widths.items():
            w[cond] = {
                "point": pw.point, "n_cells": pw.n_cells, "n_donors": pw.n_donors,
                "resampling_unit": pw.resampling_unit,
                "interval": {p: _pct(v, self.settings.get("level", 0.95))
                             for p, v in pw.replicates.items()},
            }
        return {"model": self.model, "mapping": self.mapping.to_dict(),
                "healthy": self.healthy, "disease": self.disease, "widths": w,
                "measures": {k: v.to_dict() for k, v in self.measures.items()},
                "engines": self.engines, "notes": list(self.notes),
                "settings": self.settings}

    def to_frame(self):
        rows = []
        for m in self.measures.values():
            rows.append({"measure": m.name, "unit": m.unit, "engine": m.engine,
                         self.healthy: m.point[0], f"{self.healthy}_low": m.interval_healthy[0],
                         f"{self.healthy}_high": m.interval_healthy[1],
                         self.disease: m.point[1], f"{self.disease}_low": m.interval_disease[0],
                         f"{self.disease}_high": m.interval_disease[1],
                         "difference": m.difference, "difference_low": m.difference_interval[0],
                         "difference_high": m.difference_interval[1]})
        return pd.DataFrame(rows)


def _pct(v: np.ndarray, level: float) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return (math.nan, math.nan)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(v, [a, 1.0 - a])
    return (float(lo), float(hi))


def _evaluate_model(model: str, widths: list[dict[str, float]], seeds: list[int],
                    s: ModelSettings, drives: tuple[float, float], use_network: bool,
                    use_meanfield: bool) -> list[dict[str, float]]:
    if model == "gast2023_ei":
        out = [dict() for _ in widths]
        if use_meanfield:
            for o, m in zip(out, _gast_ei_meanfield_measures(widths, s, drives)):
                o.update(m)
        if use_network:
            for o, m in zip(out, _gast_ei_network_measures(widths, seeds, s, drives)):
                o.update(m)
        return out
    if model == "rich2022":
        return _rich_measures(widths, seeds) if use_network else [dict() for _ in widths]
    if model == "lif_cuba":
        return _lif_measures(widths, seeds, s) if use_network else [dict() for _ in widths]
    raise ParameterError(f"unknown network model {model!r}",
                         hint="use 'gast2023_ei', 'rich2022' or 'lif_cuba'")


def compare_networks(
    healthy: Any,
    disease: Any,
    mapping: NetworkMapping,
    *,
    names: tuple[str, str] = ("healthy", "disease"),
    n_replicates: int = 16,
    n_seeds: int = 3,
    seed: SeedLike = 0,
    quick: bool = False,
    settings: ModelSettings | None = None,
    drives_pA: tuple[float, float] = (50.0, 10.0),
    network: bool = True,
    mean_field: bool = True,
    level: float = 0.95,
) -> NetworkComparison:
    """Build the network of ``mapping.model`` from each condition's widths and measure it.

    Parameters
    ----------
    healthy, disease:
        Cell tables of the two conditions.
    mapping:
        Populations, feature and width statistic (see :class:`NetworkMapping`).
    n_replicates:
        Donor-bootstrap replicates per condition; each gets its own network seed.
    n_seeds:
        Seeds at the point-estimate widths.
    quick:
        Small, short networks and coarse scans (about 20 s in total on 2 cores).
    drives_pA:
        Constant drives (E, I) in pA at the operating point (the published E/I setting is
        50 pA to E and 10-80 pA to I).
    network, mean_field:
        Which engines to run.
    """
    if mapping.model not in _ENGINES:
        raise ParameterError(f"no network model {mapping.model!r} in this build",
                             hint=f"models: {sorted(_ENGINES)}")
    n_replicates = int(n_replicates)
    if n_replicates < 2 or n_seeds < 1:
        raise ParameterError("need n_replicates >= 2 and n_seeds >= 1")
    s = settings or (ModelSettings.quick() if quick else ModelSettings())
    s_w, s_net = child_seeds(seed, 2)
    wseeds = child_seeds(int(s_w), 2)
    pw = {names[0]: population_widths(healthy, mapping, n_replicates, int(wseeds[0])),
          names[1]: population_widths(disease, mapping, n_replicates, int(wseeds[1]))}
    # one batch: per condition n_seeds point runs + n_replicates bootstrap runs
    widths, seeds, tags = [], [], []
    point_seeds = [int(x) for x in child_seeds(int(s_net), n_seeds)]
    rep_seeds = [int(x) for x in child_seeds(int(s_net) + 1, 2 * n_replicates)]
    n_fallback = 0
    for c_i, cname in enumerate(names):
        for sd in point_seeds:
            widths.append(dict(pw[cname].point))
            seeds.append(sd)
            tags.append((c_i, "point"))
        for k in range(n_replicates):
            w = {p: float(v[k]) for p, v in pw[cname].replicates.items()}
            if not all(math.isfinite(x) for x in w.values()):
                w = dict(pw[cname].point)
                n_fallback += 1
            widths.append(w)
            seeds.append(rep_seeds[c_i * n_replicates + k])
            tags.append((c_i, "rep"))
    # the mean field is deterministic: one evaluation per distinct width set
    out = _evaluate_model(mapping.model, widths, seeds, s, drives_pA, network, False)
    has_mf = any(v[0] == "mean field" for v in _ENGINES[mapping.model].values())
    if mean_field and has_mf:
        uniq = {}
        for i, w in enumerate(widths):
            uniq.setdefault(tuple(sorted(w.items())), []).append(i)
        keys = list(uniq)
        mf = _evaluate_model(mapping.model, [dict(k) for k in keys], [0] * len(keys), s,
                             drives_pA, False, True)
        for k, m in zip(keys, mf):
            for i in uniq[k]:
                out[i].update(m)
    eng = _ENGINES[mapping.model]
    names_m = [m for m in eng if any(m in o for o in out)]
    measures = {}
    tags_arr = np.array([t[1] for t in tags])
    cond_arr = np.array([t[0] for t in tags])
    for m in names_m:
        v = np.array([o.get(m, np.nan) for o in out], dtype=float)
        pts, reps = [], []
        for c_i in (0, 1):
            with np.errstate(invalid="ignore"):
                pv = v[(cond_arr == c_i) & (tags_arr == "point")]
                pts.append(float(np.nanmean(pv)) if np.isfinite(pv).any() else math.nan)
            reps.append(v[(cond_arr == c_i) & (tags_arr == "rep")])
        diff = reps[1] - reps[0]
        engine, unit, desc = eng[m]
        measures[m] = MeasureComparison(
            m, unit, engine, desc, (pts[0], pts[1]), _pct(reps[0], level), _pct(reps[1], level),
            pts[1] - pts[0], _pct(diff, level), (reps[0], reps[1]), level)
    notes = [
        f"widths: {mapping.width} of {mapping.feature} per population "
        f"({', '.join(f'{p} = {dict(c)}' for p, c in mapping.populations.items())})",
        f"uncertainty: {n_replicates} replicates per condition, each a bootstrap resample "
        f"({'/'.join(sorted({w.resampling_unit + 's' for w in pw.values()}))}) of the widths "
        f"with its own network seed ({level:.0%} percentile intervals); point values: "
        f"measured widths, mean over {n_seeds} seeds",
    ]
    for cname, w in pw.items():
        if w.resampling_unit == "cell":
            notes.append(f"{cname!r}: no donor ids, cells resampled as if independent")
    if n_fallback:
        notes.append(f"{n_fallback} bootstrap replicate(s) drew fewer than 3 cells of a "
                     "population and were run at the measured widths")
    n_fail = sum(1 for o in out if not o) if network else 0
    if n_fail:
        notes.append(f"{n_fail} network simulation(s) diverged and were dropped")
    if mapping.model == "gast2023_ei":
        notes.append(
            "engines: the mean field (Gast, Solla & Kennedy) gives the fixed-point structure "
            "(stable rates, bistable range of E drive) -- the part of the dynamics the "
            "reduction captures for Lorentzian thresholds; synchrony and the step response "
            "are spike-timing properties it does not describe, so they come from network "
            "simulations"
        )
    if mapping.model == "lif_cuba":
        notes.append(
            "engine: network simulations of the CUBA LIF network of Brette et al. 2007 "
            "(3200 E / 800 I, p = 0.02); each population's membrane time constants are "
            "log-normal with the benchmark's mean of 20 ms and the measured coefficient of "
            "variation (the measured means differ between conditions but are not used); "
            "no mean field for this model"
        )
    if mapping.model == "rich2022":
        notes.append(
            "engine: network simulations of the Rich et al. 2022 E/I Poisson rate network "
            "(800 E / 200 I); the measured width sets sigma_e, sigma_i stays at the published "
            "16.75 mV; same step for both conditions (E input 10 -> 40 mV)"
        )
    return NetworkComparison(
        model=mapping.model, mapping=mapping, healthy=names[0], disease=names[1], widths=pw,
        measures=measures, engines={k: eng[k][0] for k in names_m}, notes=notes,
        settings={"n_replicates": n_replicates, "n_seeds": n_seeds, "seed": seed,
                  "quick": quick, "drives_pA": list(drives_pA), "level": level,
                  "model_settings": s.__dict__.copy()},
    )


# ---------------------------------------------------------------------------------------
# heterogeneity-loss sweeps around the measured widths
# ---------------------------------------------------------------------------------------
SWEEP_SCALES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)


def network_sweeps(
    comparison: NetworkComparison,
    *,
    scales: Sequence[float] = SWEEP_SCALES,
    quick: bool = False,
    seed: SeedLike = 0,
    drives_pA: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Heterogeneity-loss sweeps of the comparison's model around the measured widths.

    Each population's threshold width is scaled from 0 to twice its value in the reference
    (healthy) condition, with the other population at its healthy width: network synchrony
    (engine ``"network"``) and the mean field's bistable range of E drive (engine
    ``"mean field"``).  Which cells matter (per parameter): the same network with
    heterogeneous drives (Lorentzian, half-width 0-20 pA) and partial resets (Lorentzian
    around 0.1, half-width 0-0.2, truncated to [0, 0.5]: a reset closer to the spike cut-off
    makes neurons fire without bound) of E and I, at the measured threshold widths.  The measured widths of both
    conditions are stored as ``meta["markers"]`` of the threshold sweeps.
    """
    if comparison.model == "rich2022":
        return _rich_sweeps(comparison, scales=scales, quick=quick, seed=seed)
    if comparison.model != "gast2023_ei":
        raise ParameterError(f"no sweeps for the model {comparison.model!r}")
    s = ModelSettings.quick() if quick else ModelSettings()
    drives = tuple(drives_pA or comparison.settings.get("drives_pA", (50.0, 10.0)))
    ref = comparison.widths[comparison.healthy].point
    dis = comparison.widths[comparison.disease].point
    sc = np.asarray(scales, dtype=float)
    n_seeds = 2 if quick else 3
    t_max = s.t_settle_ms + s.window_ms
    base = gast2023_ei(n_e=s.n_per_population, n_i=s.n_per_population,
                       delta_v_e=max(ref["E"], 1e-3), delta_v_i=max(ref["I"], 1e-3),
                       I_e=drives[0], I_i=drives[1])
    out: dict[str, Any] = {}
    seeds = child_seeds(seed, 8)
    for k, pop in enumerate(("E", "I")):
        widths = np.unique(sc * ref[pop])
        if widths.size < 2:
            continue
        sw = izhikevich_sweep(base, widths, population=pop, parameter="v_theta",
                              n_seeds=n_seeds, t_max_ms=t_max, t_start_ms=s.t_settle_ms,
                              dt_ms=s.dt_ms, tau_ms=s.tau_ms, seed=int(seeds[k]),
                              reference_width=ref[pop])
        sw.meta["markers"] = {comparison.healthy: ref[pop], comparison.disease: dis[pop]}
        out[f"{pop} threshold width (network)"] = sw
        mf = gast2023_ei_meanfield(delta_e=ref["E"], delta_i=ref["I"], eta_e=drives[0],
                                   eta_i=drives[1])
        msw = meanfield_sweep(
            mf, np.unique(np.maximum(widths, 1e-3)), population=pop, scan_param="eta",
            scan_population="E",
            scan_values=np.linspace(drives[0] - 50.0, drives[0] + 50.0, s.scan_points),
            t_max_ms=t_max, t_start_ms=s.t_settle_ms, reference_width=ref[pop])
        msw.meta["markers"] = sw.meta["markers"]
        out[f"{pop} threshold width (mean field)"] = msw
    # which parameter matters: drive and partial-reset heterogeneity on top of the thresholds
    extra = {"eta": (np.array([0.0, 2.5, 5.0, 10.0, 20.0]),
                     lambda w: Heterogeneity(0.0, max(w, 1e-6), "lorentzian", low=-200.0,
                                             high=200.0)),
             "theta_reset": (np.array([0.0, 0.05, 0.1, 0.2]),
                             lambda w: Heterogeneity(0.1, max(w, 1e-6), "lorentzian", low=0.0,
                                                     high=0.5))}
    if quick:
        extra = {"eta": extra["eta"]}
    for j, (param, (widths, make)) in enumerate(extra.items()):
        for k, pop in enumerate(("E", "I")):
            net = base.replace_population(pop, **{param: make(1.0)})
            sw = izhikevich_sweep(net, widths, population=pop, parameter=param,
                                  n_seeds=n_seeds, t_max_ms=t_max, t_start_ms=s.t_settle_ms,
                                  dt_ms=s.dt_ms, tau_ms=s.tau_ms,
                                  seed=int(seeds[2 + 2 * j + k]))
            sw.notes.append(f"{param} heterogeneity added on top of the measured threshold "
                            "widths (Lorentzian, truncated); no data constrain this width")
            out[f"{pop} {param} width (network)"] = sw
    return out


def _rich_sweeps(comparison: NetworkComparison, *, scales: Sequence[float], quick: bool,
                 seed: SeedLike) -> dict[str, Any]:
    """sigma_e around the measured widths and sigma_i around the published value."""
    ref = comparison.widths[comparison.healthy].point["E"]
    dis = comparison.widths[comparison.disease].point["E"]
    sc = np.asarray([x for x in scales if x > 0], dtype=float)
    n_seeds = 2 if quick else 4
    s_e, s_i = child_seeds(seed, 2)
    sw = rich2022_step_sweep(sc * ref, population="E", n_seeds=n_seeds, seed=int(s_e),
                             reference_width=ref)
    sw.meta["markers"] = {comparison.healthy: ref, comparison.disease: dis}
    out = {"E excitability width (network)": sw}
    if not quick:
        si = Rich2022Spec().sigma_i_mv
        swi = rich2022_step_sweep(sc * si, population="I", n_seeds=n_seeds, seed=int(s_i),
                                  reference_width=si)
        swi.notes.append("no data constrain the inhibitory width; swept around the published "
                         "16.75 mV with sigma_e at its default")
        out["I excitability width (network)"] = swi
    return out
