"""Healthy vs disease: per-type spreads, then networks built from each condition's widths.

Two steps, each usable alone:

1. :func:`compare_spreads` -- for every cell type (grouping of labels, e.g. dendrite type,
   then dendrite type x layer where counts allow) and feature: each condition's width with a
   donor-level bootstrap CI, the width ratio disease/healthy with its CI, Brown-Forsythe,
   Fligner-Killeen and donor-level permutation tests (from
   :func:`hetfit.distributions.compare.compare_spread`), Benjamini-Hochberg q-values across
   all comparisons.  Types without enough cells or donors in either condition are listed
   with the reason, never silently fitted.
2. :func:`hetfit.disease.networks.compare_networks` -- each condition's widths become the
   heterogeneity of a network model
   (:class:`~hetfit.disease.networks.NetworkMapping`), which is then measured:
   synchrony, response to a sudden input step, bistability, with uncertainty from resampling
   donors (or cells) and network seeds.

:func:`run_comparison` chains both on a :class:`~hetfit.disease.presets.ComparisonPreset` or
on two tables.  Fast path (about 20 s on 2 cores once numba has compiled the kernels)::

    from hetfit.disease import load_preset, run_comparison, write_comparison_report
    result = run_comparison(load_preset("rich2022", root), quick=True, seed=0)
    write_comparison_report(result, "out_dir")

The result states its contrast ("epilepsy vs tumor donors"), its resampling unit and which
engine produced every network number (see :mod:`hetfit.disease.networks`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hetfit.data_adapters.celltable import text_column
from hetfit.data_adapters.schema import FEATURES, did_you_mean
from hetfit.disease.networks import NetworkMapping, compare_networks, network_sweeps
from hetfit.disease.power import plan_study
from hetfit.disease.samples import feature_values
from hetfit.distributions.compare import compare_spread
from hetfit.errors import InsufficientDataError, ParameterError, SchemaError
from hetfit.seeding import SeedLike, child_seeds

__all__ = [
    "ComparisonResult",
    "Condition",
    "NetworkMapping",
    "SpreadResults",
    "compare_spreads",
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
        return pd.DataFrame([r.flat() for r in self.rows])

    def to_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "disease": self.disease, "contrast": self.contrast,
                "rows": [r.to_dict() for r in self.rows], "notes": list(self.notes),
                "settings": self.settings}


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
            xh, dh = feature_values(sub_h, feat)
            xd, dd = feature_values(sub_d, feat)
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
    has_donors = [feature_values(t, feats[0])[1] is not None for t in (healthy, disease)]
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
    networks: Any  # hetfit.disease.networks.NetworkComparison or None
    notes: list[str]
    citation: str | None = None
    sweeps: dict[str, Any] = field(default_factory=dict)
    power: dict[str, Any] = field(default_factory=dict)
    extra_networks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description,
            "contrast": self.spreads.contrast, "healthy": self.healthy.to_dict(),
            "disease": self.disease.to_dict(), "citation": self.citation,
            "notes": list(self.notes), "spreads": self.spreads.to_dict(),
            "networks": None if self.networks is None else self.networks.to_dict(),
            "extra_networks": {k: v.to_dict() for k, v in self.extra_networks.items()},
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
    heterogeneity-loss sweeps around the measured widths
    (:func:`hetfit.disease.networks.network_sweeps`);
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
    if nets is not None and preset is not None and not quick:
        for extra in preset.extra_networks:
            if extra.feature in spreads.settings["features"]:
                result.extra_networks[extra.model] = compare_networks(
                    h_tab, d_tab, extra, names=names, seed=seed,
                    n_replicates=n_replicates or 16, n_seeds=3)
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
            x, d = feature_values(sub, feat)
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
