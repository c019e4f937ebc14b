"""Per-type, per-feature distributions with donor-level uncertainty: :class:`WidthEstimator`.

>>> est = WidthEstimator(features=["v_threshold_mV", "tau_m_ms"],
...                      group_by=["species", "disease_state", "dendrite_type"], seed=0)
>>> result = est.fit(table)            # a CellTable or a DataFrame, one row per cell
>>> result.to_frame()                  # tidy summary, one row per (type, feature)
>>> result.save("estimate.json")       # atomic JSON with provenance; EstimateResult.load()

For every type (combination of ``group_by`` labels) and feature the result holds the number
of cells and donors, how many cells lacked the value, location (mean, median) and width
measures (SD, IQR, Lorentzian HWHM both as IQR/2 and by maximum likelihood, robust sigma
IQR/1.349, MAD, CV) each with a bootstrap confidence interval that resamples donors, the
fitted families with AIC and goodness of fit, the chosen family, and the rank correlations
between features (used by :mod:`hetfit.params` to sample correlated per-neuron values).
Types with too few cells or donors are reported with that status and are not fitted.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetfit._version import __version__
from hetfit.distributions.bootstrap import Interval, bootstrap_ci
from hetfit.distributions.families import (
    DEFAULT_FAMILIES,
    FamilySelection,
    fit_families,
    parse_family,
)
from hetfit.distributions.widths import IQR_PER_SIGMA
from hetfit.errors import (
    IncompatibleArtifactError,
    InputFileError,
    ParameterError,
    SchemaError,
    option,
)
from hetfit.seeding import SeedLike, child_seeds

SCHEMA_NAME = "hetfit.estimate"
SCHEMA_VERSION = 1

#: Width measures reported for every feature (see :mod:`hetfit.distributions.widths`).
WIDTH_NAMES = ("sd", "iqr", "hwhm_iqr", "sigma_iqr", "mad", "cv", "hwhm_mle")


def _unit(feature: str) -> str:
    from hetfit.data_adapters.schema import FEATURES

    spec = FEATURES.get(feature)
    return spec.unit if spec is not None else ""


def _slug(values: Sequence[Any]) -> str:
    import re

    parts = []
    for v in values:
        s = "NA" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        parts.append(re.sub(r"[^A-Za-z0-9.]+", "_", s).strip("_") or "NA")
    return "-".join(parts) if parts else "all"


@dataclass
class FeatureEstimate:
    """Distribution of one feature within one type."""

    feature: str
    unit: str
    status: str  # "ok", "too_few_cells", "too_few_donors"
    n_cells: int
    n_donors: int | None
    n_missing: int
    reason: str | None = None
    resampling_unit: str | None = None
    n_cells_without_donor: int = 0
    location: dict[str, Interval] = field(default_factory=dict)
    widths: dict[str, Interval] = field(default_factory=dict)
    families: FamilySelection | None = None
    notes: list[str] = field(default_factory=list)
    observed_range: tuple[float, float] | None = None  # min and max of the values

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def chosen_family(self) -> str | None:
        return self.families.chosen if self.families is not None else None

    def distribution(self, family: str | None = None):
        """The fitted :class:`~hetfit.distributions.families.FamilyFit` (chosen by default)."""
        if self.families is None:
            raise ParameterError(
                f"{self.feature}: no distribution was fitted ({self.status}: {self.reason})"
            )
        return self.families.fit(family or self.families.chosen)

    def width(self, name: str) -> Interval:
        if name not in self.widths:
            raise ParameterError(f"{self.feature}: width {name!r} not available",
                                 hint=f"available: {sorted(self.widths)}")
        return self.widths[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature, "unit": self.unit, "status": self.status,
            "reason": self.reason, "n_cells": self.n_cells, "n_donors": self.n_donors,
            "n_missing": self.n_missing, "resampling_unit": self.resampling_unit,
            "n_cells_without_donor": self.n_cells_without_donor,
            "location": {k: v.to_dict() for k, v in self.location.items()},
            "widths": {k: v.to_dict() for k, v in self.widths.items()},
            "chosen_family": self.chosen_family,
            "families": self.families.to_dict() if self.families is not None else None,
            "observed_range": None if self.observed_range is None else list(self.observed_range),
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureEstimate:
        fam = d.get("families")
        return cls(
            feature=d["feature"], unit=d.get("unit", ""), status=d["status"],
            n_cells=int(d.get("n_cells", 0)), n_donors=d.get("n_donors"),
            n_missing=int(d.get("n_missing", 0)), reason=d.get("reason"),
            resampling_unit=d.get("resampling_unit"),
            n_cells_without_donor=int(d.get("n_cells_without_donor", 0)),
            location={k: Interval.from_dict(v) for k, v in (d.get("location") or {}).items()},
            widths={k: Interval.from_dict(v) for k, v in (d.get("widths") or {}).items()},
            families=FamilySelection.from_dict(fam) if fam else None,
            notes=list(d.get("notes") or []),
            observed_range=None if d.get("observed_range") is None
            else (float(d["observed_range"][0]), float(d["observed_range"][1])),
        )


@dataclass
class GroupEstimate:
    """All feature estimates of one type."""

    name: str
    labels: dict[str, Any]
    n_cells: int
    n_donors: int | None
    features: dict[str, FeatureEstimate]
    correlation: dict[str, Any] | None = None  # {"features": [...], "spearman": [[...]], "n": k}

    def __getitem__(self, feature: str) -> FeatureEstimate:
        if feature not in self.features:
            raise ParameterError(f"feature {feature!r} not estimated for type {self.name!r}",
                                 hint=f"available: {list(self.features)}")
        return self.features[feature]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "labels": self.labels, "n_cells": self.n_cells,
            "n_donors": self.n_donors,
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "correlation": self.correlation,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupEstimate:
        return cls(d["name"], dict(d.get("labels") or {}), int(d.get("n_cells", 0)),
                   d.get("n_donors"),
                   {k: FeatureEstimate.from_dict(v) for k, v in d["features"].items()},
                   d.get("correlation"))


@dataclass
class EstimateResult:
    """Output of :meth:`WidthEstimator.fit`: one :class:`GroupEstimate` per type."""

    groups: list[GroupEstimate]
    group_by: list[str]
    features: list[str]
    settings: dict[str, Any]
    provenance: dict[str, Any]

    def group(self, name: str | None = None, **labels: Any) -> GroupEstimate:
        """A type by name (``"human-epilepsy-spiny"``) or by labels (``disease_state=...``)."""
        for g in self.groups:
            if name is not None and g.name == name:
                return g
            if name is None and labels and all(str(g.labels.get(k)) == str(v)
                                               for k, v in labels.items()):
                return g
        raise ParameterError(
            f"no type {name or labels} in this estimate",
            hint=f"types: {[g.name for g in self.groups]}",
        )

    def __iter__(self):
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION,
            "group_by": self.group_by, "features": self.features,
            "settings": self.settings, "provenance": self.provenance,
            "groups": [g.to_dict() for g in self.groups],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EstimateResult:
        if d.get("schema") != SCHEMA_NAME:
            raise IncompatibleArtifactError(
                f"not a hetfit estimate (schema {d.get('schema')!r})",
                hint="pass the JSON written by 'hetfit estimate --out' or "
                "EstimateResult.save()",
            )
        if int(d.get("schema_version", 0)) > SCHEMA_VERSION:
            raise IncompatibleArtifactError(
                f"estimate schema version {d.get('schema_version')} is newer than this "
                f"hetfit understands ({SCHEMA_VERSION})", hint="upgrade hetfit",
            )
        return cls([GroupEstimate.from_dict(g) for g in d.get("groups", [])],
                   list(d.get("group_by") or []), list(d.get("features") or []),
                   dict(d.get("settings") or {}), dict(d.get("provenance") or {}))

    def save(self, path: str | Path) -> Path:
        """Write JSON atomically (NaN/inf become null)."""
        from hetfit.io import atomic_write_json

        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> EstimateResult:
        import json

        from hetfit.io import existing_file

        p = existing_file(path, "estimate file")
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{p} is not valid JSON: {exc}",
                                 hint="pass the file written by 'hetfit estimate --out'") from exc
        return cls.from_dict(d)

    def to_frame(self):
        """Tidy summary: one row per (type, feature) with counts, widths, CIs and family."""
        import pandas as pd

        rows = []
        for g in self.groups:
            for f in g.features.values():
                row: dict[str, Any] = {"type": g.name, **{k: g.labels.get(k)
                                                          for k in self.group_by}}
                row.update(feature=f.feature, unit=f.unit, status=f.status, n_cells=f.n_cells,
                           n_donors=f.n_donors, n_missing=f.n_missing,
                           resampling_unit=f.resampling_unit, family=f.chosen_family)
                for name, iv in list(f.location.items()) + list(f.widths.items()):
                    row[name] = iv.estimate
                    row[f"{name}_low"] = iv.low
                    row[f"{name}_high"] = iv.high
                if f.families is not None and f.families.best is not None:
                    row["ks_p"] = f.families.best.ks_p
                    row["family_adequate"] = f.families.adequate
                rows.append(row)
        return pd.DataFrame(rows)


def _frame_and_source(table) -> tuple[Any, str, dict[str, Any] | None]:
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table, "DataFrame", None
    data = getattr(table, "data", None)
    if isinstance(data, pd.DataFrame):
        rep = getattr(table, "report", None)
        rep_d = rep.to_dict() if rep is not None and hasattr(rep, "to_dict") else None
        src = getattr(rep, "source", "") or type(table).__name__
        return data, src, rep_d
    raise SchemaError(
        f"expected a CellTable or a pandas DataFrame, got {type(table).__name__}",
        hint="read your data with hetfit.data_adapters (read_table, read_allen, ...)",
    )


class WidthEstimator:
    """Estimate per-type feature distributions with donor-level confidence intervals.

    Parameters
    ----------
    features:
        Feature columns (canonical names such as ``"v_threshold_mV"``); ``None`` = every
        schema feature present in the table.
    group_by:
        Label columns that define a type (e.g. ``["species", "disease_state",
        "dendrite_type"]``); empty = one group.  Missing labels form their own group ("NA").
    families:
        Families to fit (see :mod:`hetfit.distributions.families`).
    n_boot:
        Bootstrap replicates for every interval.
    n_gof:
        Parametric-bootstrap replicates for the KS goodness-of-fit p-values (0: skip).
    level:
        Confidence level.
    ci_method:
        ``"auto"`` (studentized where available, else BCa), ``"studentized"``, ``"bca"``,
        ``"percentile"``; see :func:`hetfit.distributions.bootstrap.bootstrap_ci`.
    min_cells, min_donors:
        A (type, feature) with fewer cells with a value, or, when donor ids are known, fewer
        donors, is reported as ``too_few_cells`` / ``too_few_donors`` and not fitted.
    donor_column:
        Column with donor ids (missing ids: the cell is its own resampling unit; no column
        or no ids at all: cells are resampled and the result says so).
    correlations:
        Also store Spearman rank correlations between features per type.
    seed:
        Seed; every (type, feature) gets its own child seed, so results do not depend on
        which other types or features are estimated.
    """

    def __init__(
        self,
        features: Sequence[str] | None = None,
        group_by: Sequence[str] | str = (),
        families: Sequence[str] = DEFAULT_FAMILIES,
        n_boot: int = 1000,
        n_gof: int = 200,
        level: float = 0.95,
        ci_method: str = "auto",
        min_cells: int = 10,
        min_donors: int = 5,
        donor_column: str = "donor_id",
        correlations: bool = True,
        seed: SeedLike = 0,
    ) -> None:
        self.features = None if features is None else list(features)
        self.group_by = [group_by] if isinstance(group_by, str) else list(group_by)
        self.families = list(families)
        for f in self.families:
            parse_family(f)
        if int(n_boot) != n_boot or n_boot < 100:
            raise ParameterError(f"n_boot must be an integer >= 100, got {n_boot}")
        if int(n_gof) != n_gof or n_gof < 0:
            raise ParameterError(f"n_gof must be a non-negative integer, got {n_gof}")
        if min_cells < 3 or min_donors < 3:
            raise ParameterError("min_cells and min_donors must be >= 3",
                                 hint="a bootstrap interval from fewer units is meaningless")
        if not 0.5 <= float(level) < 1.0:
            raise ParameterError(f"confidence level must be in [0.5, 1), got {level}",
                                 hint="e.g. 0.95 for 95% intervals")
        self.n_boot = int(n_boot)
        self.n_gof = int(n_gof)
        self.level = float(level)
        self.ci_method = ci_method
        self.min_cells = int(min_cells)
        self.min_donors = int(min_donors)
        self.donor_column = donor_column
        self.correlations = bool(correlations)
        if isinstance(seed, np.random.Generator):
            raise ParameterError("WidthEstimator needs an int seed (it is stored for "
                                 "provenance)", hint="pass e.g. seed=0")
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {
            "features": self.features, "group_by": self.group_by, "families": self.families,
            "n_boot": self.n_boot, "n_gof": self.n_gof, "level": self.level,
            "ci_method": self.ci_method, "min_cells": self.min_cells,
            "min_donors": self.min_donors, "donor_column": self.donor_column,
            "correlations": self.correlations,
            "seed": None if self.seed is None else int(self.seed)
            if not isinstance(self.seed, np.random.SeedSequence) else str(self.seed.entropy),
        }

    # ------------------------------------------------------------------------------------
    def fit(self, table) -> EstimateResult:
        """Estimate every (type, feature); returns an :class:`EstimateResult`."""
        import pandas as pd

        from hetfit import console

        df, source, report = _frame_and_source(table)
        features = self._resolve_features(df)
        missing = [c for c in self.group_by if c not in df.columns]
        if missing:
            raise SchemaError(
                f"group_by column(s) not in the table: {missing}",
                hint=f"label columns available: {sorted(map(str, df.columns))}",
            )
        has_donor_col = self.donor_column in df.columns
        if len(df) == 0:
            from hetfit.errors import InsufficientDataError

            raise InsufficientDataError("the table has no cells")
        if self.group_by:
            by = self.group_by[0] if len(self.group_by) == 1 else list(self.group_by)
            grouped = [sub for _, sub in df.groupby(by, dropna=False, sort=True)]
        else:
            grouped = [df]
        groups: list[GroupEstimate] = []
        seeds = child_seeds(self.seed, len(grouped))
        for sub, gseed in console.track(list(zip(grouped, seeds)), "estimating distributions"):
            labels = {}
            for col in self.group_by:
                v = sub[col].iloc[0]
                labels[col] = None if (v is None or (isinstance(v, float) and math.isnan(v))) \
                    else (v.item() if hasattr(v, "item") else v)
            donors_all = sub[self.donor_column] if has_donor_col else None
            n_donors = None
            if donors_all is not None and donors_all.notna().any():
                n_donors = int(donors_all.nunique(dropna=True))
            fseeds = child_seeds(int(gseed), len(features))
            fe = {
                feat: self._fit_feature(sub, feat, donors_all, int(fs))
                for feat, fs in zip(features, fseeds)
            }
            corr = self._correlation(sub, features) if self.correlations else None
            groups.append(GroupEstimate(_slug([labels[c] for c in self.group_by]), labels,
                                        int(len(sub)), n_donors, fe, corr))
        provenance = {
            "hetfit_version": __version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
            .isoformat(),
            "source": source,
            "table_report": report,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        }
        return EstimateResult(groups, list(self.group_by), features, self.get_params(),
                              provenance)

    def _resolve_features(self, df) -> list[str]:
        from hetfit.data_adapters.schema import FEATURES

        if self.features is None:
            feats = [f for f in FEATURES if f in df.columns]
            if not feats:
                raise SchemaError(
                    "no canonical feature columns in the table",
                    hint=option("name the columns to estimate with features=[...] or map the "
                                "table with hetfit.data_adapters.read_table",
                                "give the feature columns hetfit's canonical names (e.g. "
                                "v_threshold_mV), or map them with a --mapping file",
                                "give the feature columns hetfit's canonical names (e.g. "
                                "v_threshold_mV)"),
                )
            return feats
        missing = [f for f in self.features if f not in df.columns]
        if missing:
            raise SchemaError(f"feature column(s) not in the table: {missing}",
                              hint=f"columns available: {sorted(map(str, df.columns))}")
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [f for f in self.features
               if not is_numeric_dtype(df[f]) or is_bool_dtype(df[f])]
        if bad:
            raise SchemaError(f"feature column(s) are not numeric: {bad}",
                              hint="convert them to numbers (units in the column name)")
        return list(self.features)

    def _fit_feature(self, sub, feat: str, donors_all, seed: int) -> FeatureEstimate:
        vals = sub[feat].to_numpy(dtype=float)
        keep = np.isfinite(vals)
        x = vals[keep]
        n_missing = int((~keep).sum())
        unit = _unit(feat)
        donors = None
        n_donors = None
        if donors_all is not None:
            d = donors_all.to_numpy(dtype=object)[keep]
            known = np.array([v is not None and v == v and str(v) != "" for v in d], bool)
            if known.any():
                donors = d
                n_donors = int(len({str(v) for v in d[known]}))
        base = {"feature": feat, "unit": unit, "n_cells": int(x.size), "n_donors": n_donors,
                "n_missing": n_missing,
                "observed_range": (float(x.min()), float(x.max())) if x.size else None}
        if x.size < self.min_cells:
            return FeatureEstimate(status="too_few_cells", reason=(
                f"{x.size} cell(s) with a value (minimum {self.min_cells})"), **base)
        if donors is not None:
            n_units = n_donors + int(sum(1 for v in donors
                                         if not (v is not None and v == v and str(v) != "")))
            if n_units < self.min_donors:
                return FeatureEstimate(status="too_few_donors", reason=(
                    f"{n_donors} donor(s) (minimum {self.min_donors}): a donor-level interval "
                    "would be meaningless"), **base)
        if np.ptp(x) == 0:
            return FeatureEstimate(status="constant", reason="all values are equal", **base)
        s_boot, s_fam = child_seeds(seed, 2)
        stats = ["mean", "median", "sd", "iqr", "mad"]
        if np.all(x > 0):
            stats.append("cv")
        want_mle = any(parse_family(f)[0] == "lorentzian" for f in self.families)
        if want_mle:
            stats += ["hwhm_mle", "loc_mle"]
        bs = bootstrap_ci(x, donors, stats, n_boot=self.n_boot, level=self.level,
                          method=self.ci_method, seed=int(s_boot))
        iv = bs.intervals
        location = {"mean": iv["mean"], "median": iv["median"]}
        if "loc_mle" in iv:
            location["lorentzian_loc"] = iv["loc_mle"]
        widths = {"sd": iv["sd"], "iqr": iv["iqr"],
                  "hwhm_iqr": _scaled(iv["iqr"], 0.5),
                  "sigma_iqr": _scaled(iv["iqr"], 1.0 / IQR_PER_SIGMA),
                  "mad": iv["mad"]}
        if "cv" in iv:
            widths["cv"] = iv["cv"]
        if "hwhm_mle" in iv:
            widths["hwhm_mle"] = iv["hwhm_mle"]
        fams = fit_families(x, self.families, n_gof=self.n_gof, seed=int(s_fam))
        notes = [bs.note] if bs.note else []
        if fams.note:
            notes.append(fams.note)
        if fams.chosen == "lorentzian" or (fams.chosen or "").startswith("lorentzian_mix"):
            notes.append("heavy tails: the SD is not a consistent width for Lorentzian data; "
                         "use hwhm_mle or hwhm_iqr")
        return FeatureEstimate(
            status="ok", resampling_unit=bs.resampling_unit,
            n_cells_without_donor=bs.n_cells_without_donor, location=location, widths=widths,
            families=fams, notes=notes, **base,
        )

    @staticmethod
    def _correlation(sub, features: list[str]) -> dict[str, Any] | None:
        from scipy import stats

        if len(features) < 2:
            return None
        data = sub[features].to_numpy(dtype=float)
        ok = np.all(np.isfinite(data), axis=1)
        usable = [i for i in range(len(features)) if np.ptp(data[ok, i]) > 0] if ok.sum() else []
        if ok.sum() < 5 or len(usable) < 2:
            return {"features": features, "spearman": None, "n": int(ok.sum()),
                    "note": "fewer than 5 cells with every feature, or fewer than 2 "
                    "non-constant features: no correlations"}
        rho = np.eye(len(features))
        r = stats.spearmanr(data[ok][:, usable]).correlation
        if np.ndim(r) == 0:  # two variables: scipy returns the coefficient itself
            r = np.array([[1.0, float(r)], [float(r), 1.0]])
        for a, i in enumerate(usable):
            for b, j in enumerate(usable):
                rho[i, j] = r[a, b]
        return {"features": features, "spearman": rho.tolist(), "n": int(ok.sum())}


def _scaled(iv: Interval, factor: float) -> Interval:
    return Interval(iv.estimate * factor, iv.low * factor, iv.high * factor, iv.se * factor,
                    iv.level, iv.method)
