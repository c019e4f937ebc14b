"""Healthy vs disease: per-type spreads, then networks built from each condition's widths.

Two steps, each usable alone:

1. :func:`compare_spreads` -- for every cell type (grouping of labels, e.g. dendrite type,
   then dendrite type x layer where counts allow) and feature: each condition's width with a
   donor-level bootstrap CI, the width ratio disease/healthy with its CI, Brown-Forsythe,
   Fligner-Killeen and donor-level permutation tests (from
   :func:`hetfit.distributions.compare.compare_spread`), Benjamini-Hochberg q-values across
   all comparisons.  Types without enough cells or donors in either condition are listed
   with the reason, never silently fitted.
2. :func:`compare_networks` -- each condition's widths become the heterogeneity of a network
   model (:class:`NetworkMapping`), which is then measured: synchrony, response to a sudden
   input step, bistability.  Uncertainty: ``n_replicates`` draws, each with widths from one
   donor-level bootstrap resample of that condition (all populations from the *same* donors)
   and its own network seed; point estimates use the measured widths with ``n_seeds`` seeds.

:func:`run_comparison` chains both on a :class:`~hetfit.disease.presets.ComparisonPreset` or
on two tables.  Fast path (about 20 s on 2 cores once numba has compiled the kernels)::

    from hetfit.disease import load_preset, run_comparison, write_comparison_report
    result = run_comparison(load_preset("rich2022", root), quick=True, seed=0)
    write_comparison_report(result, "out_dir")  The result states its contrast ("epilepsy vs tumor donors"), its resampling
unit and which engine produced every number: for the Izhikevich E/I circuit with Lorentzian
thresholds the mean field of Gast, Solla & Kennedy gives the fixed-point structure (steady
rates, bistable range), which is what that reduction captures; synchrony is a property of
spike timing that the mean field does not describe, so it comes from network simulations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError, SchemaError
from hetfit.seeding import SeedLike, child_seeds

__all__ = [
    "ComparisonResult",
    "Condition",
    "NetworkComparison",
    "NetworkMapping",
    "SpreadResults",
    "compare_networks",
    "compare_spreads",
    "network_sweeps",
    "run_comparison",
    "split_conditions",
    "study_plans",
]


# ---------------------------------------------------------------------------------------
# what is compared
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """One condition of a comparison: a name and the label values that select its cells.

    ``criteria`` maps label columns to a value or a list of accepted values, as in
    :meth:`hetfit.data_adapters.CellTable.select`; empty means "every cell of the table".
    """

    name: str
    criteria: Mapping[str, Any] = field(default_factory=dict)

    def select(self, table: Any) -> Any:
        """The cells of ``table`` in this condition."""
        if not self.criteria:
            return table
        try:
            return table.select(**dict(self.criteria))
        except InsufficientDataError as exc:
            raise InsufficientDataError(
                f"condition {self.name!r} selects no cells ({exc.message})", hint=exc.hint
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "criteria": dict(self.criteria)}


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


def split_conditions(table: Any, healthy: Condition, disease: Condition) -> tuple[Any, Any]:
    """The two conditions' cells of one table; overlapping selections are an error."""
    h = healthy.select(table)
    d = disease.select(table)
    shared = set(h.data["cell_id"]) & set(d.data["cell_id"])
    if shared:
        raise ParameterError(
            f"{len(shared)} cell(s) belong to both conditions {healthy.name!r} and "
            f"{disease.name!r}", hint="make the two conditions' criteria exclusive",
        )
    return h, d


# ---------------------------------------------------------------------------------------
# spreads
# ---------------------------------------------------------------------------------------
def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN."""
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    pv = p[ok]
    if pv.size == 0:
        return q
    order = np.argsort(pv)
    ranked = pv[order] * pv.size / np.arange(1, pv.size + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(pv)
    out[order] = np.minimum(adj, 1.0)
    q[ok] = out
    return q


@dataclass
class SpreadRow:
    """One (type, feature) comparison, or a record of why it was not made."""

    grouping: tuple[str, ...]
    labels: dict[str, str]
    feature: str
    unit: str
    status: str  # "ok" | "insufficient"
    reason: str | None = None
    n_cells: tuple[int, int] = (0, 0)
    n_donors: tuple[int | None, int | None] = (None, None)
    means: tuple[float, float] = (math.nan, math.nan)
    comparisons: dict[str, Any] = field(default_factory=dict)  # width name -> SpreadComparison
    q_value: float = math.nan

    @property
    def type_name(self) -> str:
        return " ".join(f"{v}" if k == "dendrite_type" or k == "cell_type" else f"{k} {v}"
                        for k, v in self.labels.items()) or "all cells"

    def primary(self) -> Any:
        return next(iter(self.comparisons.values())) if self.comparisons else None

    def flat(self) -> dict[str, Any]:
        """One flat record (primary width) for tables."""
        r: dict[str, Any] = {"type": self.type_name, **self.labels, "feature": self.feature,
                             "unit": self.unit, "status": self.status}
        r.update(n_cells_healthy=self.n_cells[0], n_cells_disease=self.n_cells[1],
                 n_donors_healthy=self.n_donors[0], n_donors_disease=self.n_donors[1],
                 mean_healthy=self.means[0], mean_disease=self.means[1])
        c = self.primary()
        if c is not None:
            r.update(width=c.width,
                     width_healthy=c.width_a.estimate, width_healthy_low=c.width_a.low,
                     width_healthy_high=c.width_a.high,
                     width_disease=c.width_b.estimate, width_disease_low=c.width_b.low,
                     width_disease_high=c.width_b.high,
                     ratio=c.ratio.estimate, ratio_low=c.ratio.low, ratio_high=c.ratio.high,
                     p_brown_forsythe=c.tests["brown_forsythe"].pvalue,
                     p_fligner_killeen=c.tests["fligner_killeen"].pvalue,
                     p_permutation=c.tests["permutation"].pvalue, q_permutation=self.q_value,
                     resampling_unit=c.resampling_unit)
        else:
            r["reason"] = self.reason
        return r

    def to_dict(self) -> dict[str, Any]:
        return {
            "grouping": list(self.grouping), "labels": self.labels, "type": self.type_name,
            "feature": self.feature, "unit": self.unit, "status": self.status,
            "reason": self.reason, "n_cells": list(self.n_cells),
            "n_donors": list(self.n_donors), "means": list(self.means),
            "q_value_permutation": self.q_value,
            "comparisons": {k: v.to_dict() for k, v in self.comparisons.items()},
        }


@dataclass
class SpreadResults:
    """All spread comparisons of one contrast (healthy = reference, ratio = disease/healthy)."""

    healthy: str
    disease: str
    rows: list[SpreadRow]
    notes: list[str]
    settings: dict[str, Any]

    @property
    def contrast(self) -> str:
        return f"{self.disease} vs {self.healthy} (ratio = width in {self.disease} / width in " \
               f"{self.healthy})"

    def ok_rows(self) -> list[SpreadRow]:
        return [r for r in self.rows if r.status == "ok"]

    def get(self, feature: str, **labels: Any) -> SpreadRow:
        """The row of ``feature`` for the type with exactly these labels."""
        want = {k: str(v) for k, v in labels.items()}
        for r in self.rows:
            if r.feature == feature and r.labels == want:
                return r
        raise ParameterError(f"no comparison of {feature!r} for type {want}",
                             hint=f"types: {sorted({r.type_name for r in self.rows})}")

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([r.flat() for r in self.rows])

    def to_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "disease": self.disease, "contrast": self.contrast,
                "rows": [r.to_dict() for r in self.rows], "notes": list(self.notes),
                "settings": self.settings}


def _values(table: Any, feature: str) -> tuple[np.ndarray, np.ndarray | None]:
    df = table.data
    x = df[feature].to_numpy(dtype=float)
    keep = np.isfinite(x)
    donors = None
    if "donor_id" in df.columns and df["donor_id"].notna().any():
        donors = df["donor_id"].to_numpy(dtype=object)[keep]
    return x[keep], donors


def _n_donors(donors: np.ndarray | None) -> int | None:
    if donors is None:
        return None
    return len({str(d) for d in donors if d is not None and d == d})


def _check_features(healthy: Any, disease: Any, features: Sequence[str] | None,
                    names: tuple[str, str]) -> list[str]:
    def measured(t):
        return [f for f in t.features if t.data[f].notna().any()]

    fh, fd = measured(healthy), measured(disease)
    if features is None:
        feats = [f for f in fh if f in fd]
        if not feats:
            raise SchemaError(
                "no feature is measured in both conditions",
                hint=f"{names[0]!r} has {fh}; {names[1]!r} has {fd}",
            )
        return feats
    feats = list(dict.fromkeys(features))
    from hetfit.data_adapters.schema import FEATURES, did_you_mean

    unknown = [f for f in feats if f not in FEATURES]
    if unknown:
        raise SchemaError(f"unknown feature(s) {unknown}",
                          hint=did_you_mean(unknown[0], list(FEATURES))
                          + f"features measured here: {sorted(set(fh) | set(fd))}")
    common = [f for f in feats if f in fh and f in fd]
    if not common:
        raise SchemaError(
            f"none of the requested features {feats} is measured in both conditions",
            hint=f"{names[0]!r} has {fh}; {names[1]!r} has {fd}",
        )
    return common


def _type_keys(table: Any, grouping: Sequence[str]) -> dict[tuple[str, ...], Any]:
    from hetfit.data_adapters.celltable import text_column

    df = table.data
    keys = [text_column(df[c]) for c in grouping]
    out: dict[tuple[str, ...], Any] = {}
    mask_all = np.ones(len(df), dtype=bool)
    for k in keys:
        mask_all &= k.notna().to_numpy()
    combos = sorted({tuple(str(k.iloc[i]) for k in keys) for i in np.flatnonzero(mask_all)})
    for combo in combos:
        m = mask_all.copy()
        for k, v in zip(keys, combo):
            m &= (k == v).to_numpy()
        out[combo] = m
    return out


def compare_spreads(
    healthy: Any,
    disease: Any,
    *,
    names: tuple[str, str] = ("healthy", "disease"),
    groupings: Sequence[Sequence[str]] = (("dendrite_type",),),
    types: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    widths: Sequence[str] = ("sd", "iqr"),
    min_cells: int = 5,
    min_donors: int = 3,
    n_boot: int = 2000,
    n_perm: int = 2000,
    level: float = 0.95,
    seed: SeedLike = 0,
) -> SpreadResults:
    """Per-type spread of each feature in two conditions, with CIs and tests.

    Parameters
    ----------
    healthy, disease:
        :class:`~hetfit.data_adapters.CellTable` of each condition (see
        :func:`split_conditions` to cut them from one table).
    names:
        Condition names for the output (e.g. ``("tumor", "epilepsy")``).
    groupings:
        Label columns defining cell types, coarse first; e.g.
        ``(("dendrite_type",), ("dendrite_type", "layer"))`` compares each dendrite type and
        then each dendrite type within each layer.  ``()`` compares all cells as one type.
    types:
        Restrict to types whose first grouping label takes one of these values (e.g.
        ``["spiny", "aspiny"]``).  Each must be present in both conditions.
    features:
        Features to compare; default every feature measured in both conditions.
    widths:
        Width statistics (first is primary): ``"sd"``, ``"iqr"``, ``"mad"``, ``"hwhm_mle"``.
    min_cells, min_donors:
        A type is compared only when each condition has at least ``min_cells`` cells with
        the feature and (when donor ids exist) ``min_donors`` donors; others are listed as
        ``status="insufficient"`` with the counts.
    n_boot, n_perm, level, seed:
        Bootstrap replicates, permutations, confidence level and seed.

    Raises
    ------
    SchemaError
        When a grouping column is missing, no feature is measured in both conditions, or a
        requested type is absent from one condition.
    InsufficientDataError
        When a condition has fewer than ``min_cells`` cells in total, or no type has enough
        cells in both conditions.
    """
    from hetfit.data_adapters.schema import FEATURES
    from hetfit.distributions.compare import compare_spread

    if not widths:
        raise ParameterError("give at least one width statistic", hint="e.g. widths=('sd',)")
    for lab, t in zip(names, (healthy, disease)):
        if len(t) < min_cells:
            raise InsufficientDataError(
                f"condition {lab!r} has {len(t)} cell(s); need at least {min_cells}",
                hint="add cells, pool conditions, or lower --min-cells knowingly",
            )
    feats = _check_features(healthy, disease, features, names)
    groupings = [tuple(g) for g in groupings] or [()]
    for g in groupings:
        for t, lab in zip((healthy, disease), names):
            missing = [c for c in g if c not in t.data.columns]
            if missing:
                raise SchemaError(
                    f"condition {lab!r} has no type column(s) {missing}",
                    hint=f"label columns present: {t.labels}",
                )
    if types is not None:
        if not groupings[0]:
            raise ParameterError("types were given but no grouping column",
                                 hint="pass groupings=[('dendrite_type',)] or similar")
        col = groupings[0][0]
        types = [str(t) for t in types]
        for t, lab in zip((healthy, disease), names):
            have = set(map(str, t.data[col].dropna().unique()))
            absent = [x for x in types if x not in have]
            if absent:
                raise SchemaError(
                    f"type(s) {absent} ({col}) have no cells in condition {lab!r}",
                    hint=f"{col} values in {lab!r}: {sorted(have)}; compare types present in "
                    "both conditions",
                )
    rows: list[SpreadRow] = []
    combos: list[tuple[tuple[str, ...], tuple[str, ...], np.ndarray, np.ndarray]] = []
    one_sided: list[str] = []
    for g in groupings:
        if not g:
            combos.append(((), (), np.ones(len(healthy), bool), np.ones(len(disease), bool)))
            continue
        kh, kd = _type_keys(healthy, g), _type_keys(disease, g)
        shared = sorted(set(kh) & set(kd))
        for c in sorted(set(kh) ^ set(kd)):
            if types is None or c[0] in types:
                lab = names[0] if c in kh else names[1]
                one_sided.append(f"{' '.join(c)} (only in {lab!r})")
        if types is not None:
            shared = [c for c in shared if c[0] in types]
        for c in shared:
            combos.append((g, c, kh[c], kd[c]))
        if g == groupings[0] and not shared:
            raise SchemaError(
                f"no cell type ({', '.join(g)}) has cells in both conditions",
                hint=f"{names[0]!r}: {sorted(kh)}; {names[1]!r}: {sorted(kd)}",
            )
    seeds = child_seeds(seed, max(1, len(combos) * len(feats) * len(widths)))
    i_seed = 0
    for g, combo, mh, md in combos:
        sub_h = healthy.subset(mh, reason="other type")
        sub_d = disease.subset(md, reason="other type")
        labels = dict(zip(g, combo))
        for feat in feats:
            xh, dh = _values(sub_h, feat)
            xd, dd = _values(sub_d, feat)
            row = SpreadRow(
                grouping=g, labels=labels, feature=feat, unit=FEATURES[feat].unit,
                status="ok", n_cells=(int(xh.size), int(xd.size)),
                n_donors=(_n_donors(dh), _n_donors(dd)),
                means=(float(np.mean(xh)) if xh.size else math.nan,
                       float(np.mean(xd)) if xd.size else math.nan),
            )
            short = []
            for lab, n, nd in zip(names, row.n_cells, row.n_donors):
                if n < min_cells or (nd is not None and nd < min_donors):
                    short.append(f"{lab}: {n} cells" + ("" if nd is None else f", {nd} donors"))
            if short:
                row.status = "insufficient"
                row.reason = (f"too few cells/donors ({'; '.join(short)}; need >= {min_cells} "
                              f"cells and >= {min_donors} donors per condition)")
                i_seed += len(widths)
                rows.append(row)
                continue
            if (dh is None) != (dd is None):  # donors known in one condition only
                dh = np.full(xh.size, None, dtype=object) if dh is None else dh
                dd = np.full(xd.size, None, dtype=object) if dd is None else dd
            for w in widths:
                try:
                    row.comparisons[w] = compare_spread(
                        xh, xd, dh, dd, width=w, n_boot=n_boot, n_perm=n_perm, level=level,
                        seed=int(seeds[i_seed]), labels=names, feature=feat,
                        min_cells=min_cells)
                except InsufficientDataError as exc:
                    row.status, row.reason = "insufficient", exc.one_line()
                    row.comparisons.clear()
                    i_seed += len(widths)
                    break
                i_seed += 1
            rows.append(row)
    ok = [r for r in rows if r.status == "ok"]
    if not ok:
        raise InsufficientDataError(
            "no cell type has enough cells and donors in both conditions for a comparison",
            hint="; ".join(f"{r.type_name} {r.feature}: {r.reason}" for r in rows[:4]),
        )
    p = np.array([r.primary().tests["permutation"].pvalue for r in ok])
    for r, q in zip(ok, _bh(p)):
        r.q_value = float(q)
    notes = []
    has_donors = [_values(t, feats[0])[1] is not None for t in (healthy, disease)]
    if not any(has_donors):
        notes.append("no donor ids: intervals and the permutation test resample cells as if "
                     "independent; they are too narrow if several cells share a donor")
    if one_sided:
        notes.append("types with cells in one condition only, not compared: "
                     + "; ".join(one_sided))
    notes.append(f"q-values: Benjamini-Hochberg over the {len(ok)} permutation tests")
    notes.append("Brown-Forsythe and Fligner-Killeen treat cells as independent (anti-"
                 "conservative with donor effects); the permutation test moves whole donors")
    return SpreadResults(
        healthy=names[0], disease=names[1], rows=rows, notes=notes,
        settings={"groupings": [list(g) for g in groupings], "types": types,
                  "features": feats, "widths": list(widths), "min_cells": min_cells,
                  "min_donors": min_donors, "n_boot": n_boot, "n_perm": n_perm,
                  "level": level, "seed": seed},
    )


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
    from hetfit.distributions.bootstrap import STATISTICS, make_clusters
    from hetfit.seeding import as_generator

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
        x, d = _values(sub, mapping.feature)
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
    from hetfit.disease.sweeps import _network_measures
    from hetfit.models.batch import simulate_batch
    from hetfit.models.inputs import StepCurrent
    from hetfit.models.presets import gast2023_ei

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
    from hetfit.models.meanfield import gast2023_ei_meanfield

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
    from hetfit.models.rich2022 import Rich2022Spec, step_response

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


_ENGINES = {
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
        import pandas as pd

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
    raise ParameterError(f"unknown network model {model!r}",
                         hint="use 'gast2023_ei' or 'rich2022'")


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
    from hetfit.disease.sweeps import izhikevich_sweep, meanfield_sweep
    from hetfit.models.heterogeneity import Heterogeneity
    from hetfit.models.meanfield import gast2023_ei_meanfield
    from hetfit.models.presets import gast2023_ei

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
    from hetfit.disease.sweeps import rich2022_step_sweep
    from hetfit.models.rich2022 import Rich2022Spec

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


# ---------------------------------------------------------------------------------------
# whole pipeline
# ---------------------------------------------------------------------------------------
@dataclass
class ComparisonResult:
    """Spread comparison plus (optionally) the network comparison, with provenance."""

    name: str
    description: str
    healthy: Condition
    disease: Condition
    spreads: SpreadResults
    networks: NetworkComparison | None
    notes: list[str]
    citation: str | None = None
    sweeps: dict[str, Any] = field(default_factory=dict)
    power: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description,
            "contrast": self.spreads.contrast, "healthy": self.healthy.to_dict(),
            "disease": self.disease.to_dict(), "citation": self.citation,
            "notes": list(self.notes), "spreads": self.spreads.to_dict(),
            "networks": None if self.networks is None else self.networks.to_dict(),
            "sweeps": {k: v.to_dict() for k, v in self.sweeps.items()},
            "power": {k: v.to_dict() for k, v in self.power.items()},
        }


def run_comparison(
    preset: Any = None,
    *,
    healthy_table: Any = None,
    disease_table: Any = None,
    healthy: Condition | None = None,
    disease: Condition | None = None,
    groupings: Sequence[Sequence[str]] | None = None,
    types: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    network: NetworkMapping | None | bool = None,
    quick: bool = False,
    seed: SeedLike = 0,
    n_boot: int | None = None,
    n_perm: int | None = None,
    n_replicates: int | None = None,
    min_cells: int = 5,
    min_donors: int = 3,
    sweeps: bool = False,
    power: bool = False,
) -> ComparisonResult:
    """Spread comparison and network comparison for a preset or two tables.

    Give either ``preset`` (a :class:`~hetfit.disease.presets.ComparisonPreset`) or both
    ``healthy_table`` and ``disease_table``.  Arguments given explicitly override the
    preset's.  ``network=False`` skips the network step; ``sweeps=True`` adds
    heterogeneity-loss sweeps around the measured widths (:func:`network_sweeps`);
    ``quick=True`` uses fewer bootstrap replicates and small, short networks (about 20 s on
    2 cores once the numba kernels are compiled).  ``power=True`` adds study planning
    (:func:`study_plans`).
    """
    notes: list[str] = []
    if preset is not None:
        healthy = healthy or preset.healthy
        disease = disease or preset.disease
        h_tab, d_tab = split_conditions(preset.table, healthy, disease)
        groupings = preset.groupings if groupings is None else groupings
        features = preset.features if features is None else features
        if network is None:
            network = preset.network
        notes.extend(preset.notes)
        name, desc, cite = preset.name, preset.description, preset.citation
    else:
        if healthy_table is None or disease_table is None:
            raise ParameterError("give a preset, or both healthy_table and disease_table")
        healthy = healthy or Condition("healthy")
        disease = disease or Condition("disease")
        h_tab, d_tab = healthy.select(healthy_table), disease.select(disease_table)
        name, desc, cite = "tables", f"{disease.name} vs {healthy.name}", None
        if groupings is None:
            groupings = _default_groupings(h_tab, d_tab)
        if network is None:
            network = False
    names = (healthy.name, disease.name)
    spreads = compare_spreads(
        h_tab, d_tab, names=names, groupings=groupings, types=types, features=features,
        min_cells=min_cells, min_donors=min_donors,
        n_boot=n_boot or (500 if quick else 2000), n_perm=n_perm or (500 if quick else 2000),
        seed=seed)
    nets = None
    if network:
        nets = compare_networks(h_tab, d_tab, network, names=names, quick=quick, seed=seed,
                                n_replicates=n_replicates or (4 if quick else 16),
                                n_seeds=2 if quick else 3)
    result = ComparisonResult(name, desc, healthy, disease, spreads, nets, notes, cite)
    if sweeps and nets is not None:
        result.sweeps.update(network_sweeps(nets, quick=quick, seed=seed))
    if power:
        key = network.feature if isinstance(network, NetworkMapping) else None
        result.power.update(study_plans(spreads, h_tab, d_tab, feature=key, quick=quick,
                                        seed=seed))
    return result


def study_plans(spreads: SpreadResults, healthy: Any, disease: Any, *,
                feature: str | None = None, ratios: Sequence[float] = (0.75,),
                quick: bool = False, seed: SeedLike = 0) -> dict[str, Any]:
    """Power of a future study for each type of the coarsest grouping (one feature).

    For every compared type: donors per condition needed to detect a width ratio of 0.75
    (a 25 % loss of spread) and the observed ratio, with the donor share of variance and
    cells per donor of the data (:func:`hetfit.disease.power.plan_study`).
    """
    from hetfit.disease.power import plan_study

    feats = spreads.settings["features"]
    feat = feature if feature in feats else feats[0]
    first = tuple(spreads.settings["groupings"][0]) if spreads.settings["groupings"] else ()
    rows = [r for r in spreads.ok_rows() if r.feature == feat and r.grouping == first]
    out: dict[str, Any] = {}
    seeds = child_seeds(seed, max(1, len(rows)))
    for r, sd in zip(rows, seeds):
        vals, dons = [], []
        for t in (healthy, disease):
            sub = t.select(**r.labels) if r.labels else t
            x, d = _values(sub, feat)
            vals.append(x)
            dons.append(d)
        obs = r.primary().ratio.estimate
        rat = list(ratios) + ([obs] if math.isfinite(obs) and abs(obs - 1.0) > 0.05 else [])
        plan = plan_study(vals, dons, rat, n_donors=(4, 8, 16, 32) if quick
                          else (4, 8, 16, 32, 64, 128), n_sim=60 if quick else 200,
                          seed=int(sd))
        out[f"{r.type_name}: {feat}"] = plan
    return out


def _default_groupings(h: Any, d: Any) -> list[tuple[str, ...]]:
    for col in ("dendrite_type", "cell_type"):
        if col in h.data.columns and col in d.data.columns and h.data[col].notna().any():
            return [(col,)]
    return [()]
