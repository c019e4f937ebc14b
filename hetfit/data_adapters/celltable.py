"""The per-cell table: one row per cell, ids + type labels + canonical features.

:class:`CellTable` wraps a pandas DataFrame and validates it on construction against
:mod:`hetfit.data_adapters.schema`:

- ``cell_id`` is required; rows without one are dropped and counted; duplicated ids raise
  (or keep the first occurrence with ``on_duplicate="first"``, counted).
- id and label columns become strings (``5`` and ``5.0`` both become ``"5"``); missing stays
  missing.
- feature columns must be numeric (common "missing" spellings such as ``"n/a"`` or ``"-"``
  are read as missing; any other text is an error naming the column and the bad values).
- units: a column whose median lies outside the feature's plausible range is almost surely
  in another unit (threshold in V, tau in s); that raises :class:`SchemaError` with the
  conversion that fixes it.  Single values outside the range (median fine) are set to
  missing and counted (``on_implausible="drop"``, default), or raise / are kept.

**Missing values policy.**  A missing feature value is *kept as missing* (NaN): a cell with a
threshold but no tau still informs the threshold distribution.  Missing values are counted
per feature in the report, and estimators drop them per feature.  Only rows with *no*
feature value at all are dropped (``drop_featureless=True``), and counted.

Every table carries a :class:`TableReport`: rows read, kept, dropped (by reason), missing
and implausible values per feature, and notes.  ``rows_read == rows_kept + sum(dropped)``.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetfit.data_adapters.rawtables import READ_NOTES, read_raw, require_package
from hetfit.data_adapters.schema import (
    FEATURES,
    ID_COLUMNS,
    LABEL_COLUMNS,
    did_you_mean,
    suggest_conversions,
)
from hetfit.errors import InputFileError, InsufficientDataError, SchemaError, option
from hetfit.io import atomic_write_bytes, atomic_write_text, dumps, existing_file

# Text that means "no value" in hand-made tables.
NA_STRINGS = frozenset({"", "-", "--", "na", "n/a", "nan", "none", "null", "#n/a", "?", "."})
_ON_DUPLICATE = ("raise", "first")
_ON_IMPLAUSIBLE = ("drop", "raise", "keep")
REPORT_SUFFIX = ".report.json"
N_EXAMPLES = 5  # ids kept per drop reason in a TableReport
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d+,\d+\s*$")


@dataclass
class TableReport:
    """What happened to the rows of a table on their way in.

    Attributes
    ----------
    source:
        Where the rows came from (file path or description).
    rows_read:
        Rows in the input.
    rows_kept:
        Rows in the table.
    dropped_rows:
        Reason -> number of rows dropped for it.
    missing_values:
        Feature -> number of kept rows without a value (after implausible values were
        removed).
    implausible_values:
        Feature -> number of single values outside the plausible range that were set to
        missing (``on_implausible="drop"``) or kept (``"keep"``).
    notes:
        Free-text remarks (generated ids, missing donor ids, derived features, joins).
    dropped_ids:
        Reason -> the first few ids of the rows dropped for it (cell ids, or ``row N`` for
        rows without one), so that a summary can say which rows went.
    upstream:
        Reports of the tables this one was built from (e.g. one per sheet or per file).
    """

    source: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    dropped_rows: dict[str, int] = field(default_factory=dict)
    missing_values: dict[str, int] = field(default_factory=dict)
    implausible_values: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    upstream: list[dict[str, Any]] = field(default_factory=list)
    dropped_ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        """Total rows dropped."""
        return int(sum(self.dropped_rows.values()))

    def drop(self, reason: str, n: int, ids: Iterable[Any] = ()) -> None:
        """Count ``n`` rows dropped for ``reason`` (no-op for n == 0); ``ids`` are some of
        their ids (the first :data:`N_EXAMPLES` are kept)."""
        if n:
            self.dropped_rows[reason] = self.dropped_rows.get(reason, 0) + int(n)
            shown = self.dropped_ids.setdefault(reason, [])
            for i in ids:
                if len(shown) >= N_EXAMPLES:
                    break
                shown.append(str(i))
            if not shown:
                del self.dropped_ids[reason]

    def note(self, text: str) -> None:
        """Add a remark (duplicates are ignored)."""
        if text not in self.notes:
            self.notes.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_read": int(self.rows_read),
            "rows_kept": int(self.rows_kept),
            "rows_dropped": self.rows_dropped,
            "dropped_rows": {k: int(v) for k, v in self.dropped_rows.items()},
            "missing_values": {k: int(v) for k, v in self.missing_values.items()},
            "implausible_values": {k: int(v) for k, v in self.implausible_values.items()},
            "notes": list(self.notes),
            "upstream": list(self.upstream),
            "dropped_ids": {k: list(v) for k, v in self.dropped_ids.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableReport:
        return cls(
            source=str(d.get("source", "")),
            rows_read=int(d.get("rows_read", 0)),
            rows_kept=int(d.get("rows_kept", 0)),
            dropped_rows=dict(d.get("dropped_rows", {})),
            missing_values=dict(d.get("missing_values", {})),
            implausible_values=dict(d.get("implausible_values", {})),
            notes=list(d.get("notes", [])),
            upstream=list(d.get("upstream", [])),
            dropped_ids={k: list(v) for k, v in d.get("dropped_ids", {}).items()},
        )

    def copy(self) -> TableReport:
        return TableReport.from_dict(json.loads(json.dumps(self.to_dict())))

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"{self.source or 'table'}: {self.rows_read} rows read, {self.rows_kept} kept, "
            f"{self.rows_dropped} dropped"
        ]
        for reason, n in self.dropped_rows.items():
            lines.append(f"  dropped {n}: {reason}{_examples(self.dropped_ids.get(reason), n)}")
        for feat, n in self.implausible_values.items():
            lines.append(f"  {feat}: {n} implausible value(s)")
        missing = {k: v for k, v in self.missing_values.items() if v}
        if missing:
            lines.append(
                "  missing values: " + ", ".join(f"{k} {v}" for k, v in missing.items())
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        for up in self.upstream:
            sub = TableReport.from_dict(up).summary().splitlines()
            lines.extend("    " + ln for ln in ["from " + sub[0], *sub[1:]])
        return "\n".join(lines)

    __str__ = summary


def _examples(ids: Sequence[str] | None, n: int) -> str:
    """`` (e.g. a, b, c)`` for a summary line; empty without ids."""
    if not ids:
        return ""
    more = ", ..." if n > len(ids) else ""
    return f" ({', '.join(ids)}{more})"


# ----------------------------------------------------------------------------------------
# Column normalisation helpers
# ----------------------------------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str) and v.strip().lower() in NA_STRINGS:
        return True
    return False


def _to_text(v: Any) -> Any:
    """One id/label value as text: 5 -> '5', 5.0 -> '5', '  L5 ' -> 'L5', missing -> NaN."""
    if _is_missing(v):
        return np.nan
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isfinite(f) and f.is_integer() and abs(f) < 2**63:
            return str(int(f))
        return repr(f)
    return str(v).strip()


def text_column(s: pd.Series) -> pd.Series:
    """Convert a Series to object dtype holding str values or NaN (pandas 1.5 and 3.x)."""
    return pd.Series([_to_text(v) for v in s.tolist()], index=s.index, dtype=object, name=s.name)


def numeric_column(s: pd.Series, name: str) -> pd.Series:
    """Convert a feature column to float64; text that is not a number raises SchemaError."""
    if pd.api.types.is_bool_dtype(s):
        raise SchemaError(
            f"feature column '{name}' holds booleans, expected numbers",
            hint="map a numeric column to this feature",
        )
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    values = s.tolist()
    cleaned = [np.nan if _is_missing(v) else v for v in values]
    if isinstance(s.dtype, pd.CategoricalDtype):
        cleaned = [np.nan if _is_missing(v) else v for v in s.astype(object).tolist()]
    out = pd.to_numeric(pd.Series(cleaned, index=s.index, dtype=object), errors="coerce")
    bad = [v for v, o in zip(cleaned, out.tolist()) if not _is_missing(v) and _is_missing(o)]
    if bad:
        examples = sorted({str(b) for b in bad})[:5]
        if any(_DECIMAL_COMMA.match(e) for e in examples):
            hint = ("the values use a decimal comma: save the table with decimal points, or "
                    "with ';' between columns (decimal commas are then read)")
        else:
            hint = "fix or blank these cells (units belong in the column mapping, not in cells)"
        raise SchemaError(
            f"feature column '{name}' has {len(bad)} non-numeric value(s), e.g. {examples}",
            hint=hint,
        )
    return out.astype("float64")


def _finite_values(s: pd.Series) -> np.ndarray:
    a = s.to_numpy(dtype=float)
    return a[np.isfinite(a)]


_MIN_CELLS_FOR_TYPICAL = 5


def check_units(name: str, s: pd.Series, where: str = "", column: str | None = None) -> None:
    """Raise SchemaError when a feature column's median is outside its plausible range.

    ``column`` (the file's column name, if any) is used in the suggested fix."""
    spec = FEATURES[name]
    vals = _finite_values(s)
    if vals.size == 0:
        return
    med = float(np.median(vals))
    if spec.median_in_range(med):
        return
    fixes = suggest_conversions(name, vals.tolist())
    # A handful of cells can have an unusual but real median (e.g. one f-I slope near 0):
    # below _MIN_CELLS_FOR_TYPICAL values, a median inside the wide plausible range is only
    # an error when a unit conversion would explain it.
    if (vals.size < _MIN_CELLS_FOR_TYPICAL and not fixes
            and spec.plausible[0] <= med <= spec.plausible[1]):
        return
    lo, hi = spec.typical_median or spec.plausible
    src = f" (from {where})" if where else ""
    if fixes:
        unit, f = fixes[0]
        declare = option(
            f"declare the unit (units={{{(column or '<column>')!r}: '{unit}'}}) or ",
            f"declare the unit in a --mapping file (\"units\": {{\"{column or name}\": "
            f"\"{unit}\"}}) or ")
        hint = f"the values look like {unit}: {declare}multiply by {f:g} to get {spec.unit}"
    else:
        hint = f"check the column mapping and the unit: expected {spec.unit} ({spec.description})"
    raise SchemaError(
        f"feature '{name}'{src} has median {med:.4g}, outside the plausible range "
        f"[{lo:g}, {hi:g}] {spec.unit}: wrong unit or wrong column",
        hint=hint,
    )


# ----------------------------------------------------------------------------------------
# CellTable
# ----------------------------------------------------------------------------------------


class CellTable:
    """One row per cell: ``cell_id``, ``donor_id``, type labels, canonical features, extras.

    Parameters
    ----------
    data:
        A DataFrame whose columns use canonical names (see
        :mod:`hetfit.data_adapters.schema`); other columns are kept as extras.  Use
        :func:`hetfit.data_adapters.tables.read_table` to map a file's own column names.
    report:
        Report of earlier stages (adapter drops); validation adds to a copy of it.
    source:
        Where the rows came from (used when ``report`` is not given).
    on_duplicate:
        ``"raise"`` (default): duplicated ``cell_id`` is an error; ``"first"``: keep the
        first occurrence and count the others as dropped.
    on_implausible:
        Single values outside a feature's plausible range (column median fine):
        ``"drop"`` (default: set to missing, counted), ``"raise"``, or ``"keep"`` (counted).
    drop_featureless:
        Drop (and count) rows with no feature value at all.  Default True.

    Attributes
    ----------
    data:
        The validated DataFrame (treat as read-only; build a new CellTable to change it).
    report:
        :class:`TableReport`.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        report: TableReport | None = None,
        source: str | None = None,
        on_duplicate: str = "raise",
        on_implausible: str = "drop",
        drop_featureless: bool = True,
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise SchemaError(
                f"CellTable needs a pandas DataFrame, got {type(data).__name__}",
                hint="build one with pandas or use hetfit.data_adapters.read_table(path, ...)",
            )
        if on_duplicate not in _ON_DUPLICATE:
            raise SchemaError(f"on_duplicate must be one of {_ON_DUPLICATE}, got {on_duplicate!r}")
        if on_implausible not in _ON_IMPLAUSIBLE:
            raise SchemaError(
                f"on_implausible must be one of {_ON_IMPLAUSIBLE}, got {on_implausible!r}"
            )
        rep = report.copy() if report is not None else TableReport(source=source or "")
        if source and not rep.source:
            rep.source = source
        if report is None:
            rep.rows_read = len(data)
        self._data = _validate(data, rep, on_duplicate, on_implausible, drop_featureless)
        rep.rows_kept = len(self._data)
        self.report = rep
        self.on_implausible = on_implausible

    # -- construction shortcuts ----------------------------------------------------------

    @classmethod
    def _trusted(
        cls, data: pd.DataFrame, report: TableReport, on_implausible: str = "drop"
    ) -> CellTable:
        """Wrap an already validated frame (subsets of a CellTable) without re-validation."""
        obj = cls.__new__(cls)
        obj._data = data
        obj.on_implausible = on_implausible
        report.rows_kept = len(data)
        report.missing_values = {
            f: int(data[f].isna().sum()) for f in data.columns if f in FEATURES
        }
        obj.report = report
        return obj

    @classmethod
    def concat(cls, tables: Sequence[CellTable], source: str = "") -> CellTable:
        """Stack tables (union of columns).  Duplicated cell ids across tables raise."""
        tables = list(tables)
        if not tables:
            raise InsufficientDataError("no tables to concatenate")
        for t in tables:
            if not isinstance(t, CellTable):
                raise SchemaError(f"concat needs CellTables, got {type(t).__name__}")
        frame = pd.concat([t._data for t in tables], ignore_index=True, sort=False)
        rep = TableReport(
            source=source or " + ".join(t.report.source or "table" for t in tables),
            rows_read=sum(t.report.rows_read for t in tables),
        )
        policies = {t.on_implausible for t in tables}
        # Re-validation must not undo a part's policy: mixed policies keep values as they are.
        policy = policies.pop() if len(policies) == 1 else "keep"
        for t in tables:
            for reason, n in t.report.dropped_rows.items():
                rep.drop(reason, n, t.report.dropped_ids.get(reason, ()))
            if t.on_implausible != "keep":  # kept values are counted again on re-validation
                for feat, n in t.report.implausible_values.items():
                    rep.implausible_values[feat] = rep.implausible_values.get(feat, 0) + n
            rep.upstream.append(t.report.to_dict())  # notes stay with their part
        return cls(frame, report=rep, on_implausible=policy)

    # -- basic access ----------------------------------------------------------------------

    @property
    def data(self) -> pd.DataFrame:
        """The validated DataFrame (read-only by convention)."""
        return self._data

    def to_frame(self) -> pd.DataFrame:
        """A copy of the data as a plain DataFrame."""
        return self._data.copy()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def n_cells(self) -> int:
        return len(self._data)

    @property
    def n_donors(self) -> int:
        """Number of distinct donor ids (0 when none are known)."""
        return int(self._data["donor_id"].nunique(dropna=True))

    @property
    def has_donors(self) -> bool:
        """True when every cell has a donor id (needed for donor-level resampling)."""
        return bool(self._data["donor_id"].notna().all()) and len(self._data) > 0

    @property
    def features(self) -> list[str]:
        """Canonical feature columns present, in schema order."""
        return [f for f in FEATURES if f in self._data.columns]

    @property
    def labels(self) -> list[str]:
        """Label columns present (canonical labels first, then extras that are text)."""
        canon = [c for c in LABEL_COLUMNS if c in self._data.columns]
        return canon + [c for c in self.extras if not pd.api.types.is_numeric_dtype(self._data[c])]

    @property
    def extras(self) -> list[str]:
        """Columns that are not canonical ids, labels or features (kept as read)."""
        canon = set(ID_COLUMNS) | set(LABEL_COLUMNS) | set(FEATURES)
        return [c for c in self._data.columns if c not in canon]

    def values(self, feature: str, dropna: bool = True) -> np.ndarray:
        """Values of one feature as float64 (missing values removed by default)."""
        self._require_columns([feature], kind="feature")
        a = self._data[feature].to_numpy(dtype=float)
        return a[np.isfinite(a)] if dropna else a

    def donors(self, feature: str | None = None) -> np.ndarray:
        """Donor id per cell (object array; NaN where unknown), aligned with ``values``."""
        d = self._data
        if feature is not None:
            self._require_columns([feature], kind="feature")
            d = d[np.isfinite(d[feature].to_numpy(dtype=float))]
        return d["donor_id"].to_numpy(dtype=object)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready overview: cells, donors, non-missing values per feature, labels with
        their number of distinct values, and the report (for ``--json`` output)."""
        d = self._data
        return {
            "n_cells": self.n_cells,
            "n_donors": self.n_donors,
            "features": {f: int(d[f].notna().sum()) for f in self.features},
            "labels": {c: int(d[c].nunique(dropna=True)) for c in self.labels},
            "report": self.report.to_dict(),
        }

    def __repr__(self) -> str:
        return (
            f"CellTable({self.n_cells} cells, {self.n_donors} donors, "
            f"features={self.features}, labels={self.labels})"
        )

    def _require_columns(self, cols: Iterable[str], kind: str = "column") -> None:
        for c in cols:
            if c not in self._data.columns:
                pool = self.features if kind == "feature" else list(self._data.columns)
                raise SchemaError(
                    f"{kind} '{c}' is not in this table",
                    hint=did_you_mean(c, list(self._data.columns)) + f"available: {pool}",
                )

    # -- subsets and groups ---------------------------------------------------------------

    def subset(self, mask: Any, reason: str = "not selected") -> CellTable:
        """Rows where ``mask`` is True; the others are counted as dropped for ``reason``."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(self._data),):
            raise SchemaError(f"mask has shape {m.shape}, expected ({len(self._data)},)")
        rep = self.report.copy()
        rep.drop(reason, int((~m).sum()), self._data.loc[~m, "cell_id"].head(N_EXAMPLES))
        return CellTable._trusted(self._data[m].reset_index(drop=True), rep, self.on_implausible)

    def select(self, allow_empty: bool = False, **criteria: Any) -> CellTable:
        """Cells whose labels equal the given values (a list/tuple/set means "any of").

        ``table.select(species="human", disease_state=["epilepsy", "tumor"])``.  An empty
        result raises :class:`InsufficientDataError` listing the available values, unless
        ``allow_empty=True``.
        """
        self._require_columns(criteria, kind="label")
        mask = np.ones(len(self._data), dtype=bool)
        for col, want in criteria.items():
            wanted = (
                [_to_text(w) for w in want]
                if isinstance(want, (list, tuple, set, frozenset))
                else [_to_text(want)]
            )
            col_text = self._data[col] if self._data[col].dtype == object else text_column(
                self._data[col]
            )
            mask &= col_text.isin(wanted).to_numpy()
        if not mask.any() and not allow_empty:
            avail = {
                c: sorted(map(str, self._data[c].dropna().unique()))[:20] for c in criteria
            }
            raise InsufficientDataError(
                f"no cells match {criteria}",
                hint=f"available values: {avail}",
            )
        desc = ", ".join(f"{k}={v}" for k, v in criteria.items())
        return self.subset(mask, reason=f"not matching {desc}")

    def groupby(
        self, labels: str | Sequence[str], *, min_cells: int = 1, dropna: bool = True
    ) -> CellGroups:
        """Split by one or more label columns.

        Returns a :class:`CellGroups` mapping ``key tuple -> CellTable``.  Cells with a
        missing value in any grouping label are left out (``dropna=True``) and counted in
        ``CellGroups.missing_label``; groups with fewer than ``min_cells`` cells are left out
        and listed in ``CellGroups.skipped``.  Raises :class:`InsufficientDataError` when no
        group is left.
        """
        labels = [labels] if isinstance(labels, str) else list(labels)
        if not labels:
            raise SchemaError("groupby needs at least one label column")
        self._require_columns(labels, kind="label")
        if min_cells < 1:
            raise SchemaError(f"min_cells must be >= 1, got {min_cells}")
        keys = pd.DataFrame({c: text_column(self._data[c]) for c in labels})
        if not dropna:
            keys = keys.fillna("<missing>")
        has = keys.notna().all(axis=1).to_numpy()
        missing = int((~has).sum())
        if not has.any():
            raise InsufficientDataError(
                f"no cell has a value for {labels}",
                hint="group by labels this table has values for: "
                + str({c: int(self._data[c].notna().sum()) for c in self.labels}),
            )
        groups: dict[tuple[str, ...], CellTable] = {}
        skipped: dict[tuple[str, ...], int] = {}
        sub = keys[has]
        by = labels if len(labels) > 1 else labels[0]  # scalar keys for one label
        for key, idx in sub.groupby(by, sort=True).groups.items():
            key_t = tuple(key) if isinstance(key, tuple) else (key,)
            n = len(idx)
            if n < min_cells:
                skipped[key_t] = n
                continue
            m = np.zeros(len(self._data), dtype=bool)
            m[self._data.index.get_indexer(idx)] = True
            desc = ", ".join(f"{c}={v}" for c, v in zip(labels, key_t))
            groups[key_t] = self.subset(m, reason=f"not in group {desc}")
        if not groups:
            raise InsufficientDataError(
                f"no group of {labels} has at least {min_cells} cells",
                hint=f"group sizes: { {k: v for k, v in skipped.items()} }; lower min_cells",
            )
        return CellGroups(labels=tuple(labels), groups=groups, skipped=skipped,
                          missing_label=missing)

    def counts(self, labels: str | Sequence[str]) -> pd.DataFrame:
        """Cells and donors per group (rows with a missing label are not counted)."""
        labels = [labels] if isinstance(labels, str) else list(labels)
        self._require_columns(labels, kind="label")
        d = self._data[labels + ["donor_id"]].dropna(subset=labels)
        g = d.groupby(labels, sort=True)
        return pd.DataFrame({"n_cells": g.size(), "n_donors": g["donor_id"].nunique()})

    def describe(self) -> pd.DataFrame:
        """Per feature: n, missing, mean, sd, median, IQR (units in the names)."""
        rows = {}
        for f in self.features:
            v = self.values(f)
            q1, med, q3 = (np.percentile(v, [25, 50, 75]) if v.size else (np.nan,) * 3)
            rows[f] = {
                "n": int(v.size),
                "missing": int(len(self._data) - v.size),
                "mean": float(v.mean()) if v.size else np.nan,
                "sd": float(v.std(ddof=1)) if v.size > 1 else np.nan,
                "median": float(med),
                "iqr": float(q3 - q1),
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def with_derived(self) -> CellTable:
        """Add features that follow from others where they are missing.

        - ``distance_to_threshold_mV = v_threshold_mV - v_rest_mV``
        - ``capacitance_pF = 1000 * tau_m_ms / r_input_MOhm`` (single-compartment
          approximation C = tau / R; ms / MOhm = nF)

        Given values are never overwritten; when a given distance to threshold disagrees
        with threshold - rest by more than 0.5 mV, the number of such cells is noted.
        """
        df, notes = derive_features(self._data)
        return self.rebuild(df, notes=notes)

    def rebuild(
        self, data: pd.DataFrame, notes: Iterable[str] = (), report: TableReport | None = None
    ) -> CellTable:
        """A new, re-validated table from modified data, keeping this table's report and
        policies (for adapters that add columns or ids to a validated table)."""
        rep = (report or self.report).copy()
        if self.on_implausible == "keep":  # kept values are counted again on re-validation
            rep.implausible_values = {}
        for n in notes:
            rep.note(n)
        return CellTable(data, report=rep, on_implausible=self.on_implausible)

    # -- IO --------------------------------------------------------------------------------

    def write(self, path: str | Path) -> Path:
        """Write to ``.csv`` or ``.parquet`` (by suffix), atomically, with the report.

        CSV: the report goes to a sidecar ``<path>.report.json``.  Parquet: into the file's
        key-value metadata.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return self.to_csv(path)
        if suffix in (".parquet", ".pq"):
            return self.to_parquet(path)
        raise InputFileError(
            f"cannot write a cell table to '{path.name}': unknown suffix '{path.suffix}'",
            hint="use .csv or .parquet",
        )

    def to_csv(self, path: str | Path) -> Path:
        """Atomic CSV (+ ``<path>.report.json``)."""
        path = Path(path)
        atomic_write_text(path, self._data.to_csv(index=False))
        atomic_write_text(Path(str(path) + REPORT_SUFFIX), dumps(self.report.to_dict()) + "\n")
        return path

    def to_parquet(self, path: str | Path) -> Path:
        """Atomic Parquet with the report in the file metadata (needs pyarrow)."""
        pa = require_package("pyarrow", "Writing Parquet cell tables")
        import pyarrow.parquet as pq

        path = Path(path)
        frame = self._data.copy()
        for c in frame.columns:  # object columns of mixed text/NaN: store as text
            if frame[c].dtype == object:
                frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
        tbl = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(tbl.schema.metadata or {})
        meta[b"hetfit.report"] = dumps(self.report.to_dict(), indent=None).encode()
        tbl = tbl.replace_schema_metadata(meta)
        buf = io.BytesIO()
        pq.write_table(tbl, buf)
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def read(
        cls, path: str | Path, *, read_kwargs: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> CellTable:
        """Read a table written by :meth:`write` (``.csv`` or ``.parquet``).

        ``read_kwargs`` (CSV only) go to the pandas reader, e.g. ``sep`` or ``encoding``;
        other keyword arguments to the constructor (``on_duplicate`` ...)."""
        path = existing_file(path, "cell table")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return cls.read_csv(path, read_kwargs=read_kwargs, **kwargs)
        if suffix in (".parquet", ".pq"):
            if read_kwargs:
                raise InputFileError(f"{path.name} is a Parquet file: {sorted(read_kwargs)} "
                                     "apply to CSV tables only")
            return cls.read_parquet(path, **kwargs)
        raise InputFileError(
            f"cannot read a cell table from '{path.name}': unknown suffix '{path.suffix}'",
            hint="use .csv or .parquet, or "
            + option("read_table(path, columns=...) for other formats",
                     "describe other formats with a --mapping file",
                     "save the table as CSV"),
        )

    @classmethod
    def read_csv(
        cls, path: str | Path, *, read_kwargs: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> CellTable:
        """Read a canonical-column CSV (ids and labels read as text, so '007' stays '007').

        The delimiter is sniffed (``;`` and tab as well as ``,``; decimal commas with them)
        unless ``read_kwargs`` gives ``sep``; how the file was read is noted in the report."""
        path = existing_file(path, "cell table")
        text_cols = {c: str for c in (*ID_COLUMNS, *LABEL_COLUMNS)}
        df = read_raw(path, **{"dtype": text_cols, **dict(read_kwargs or {})})
        rep = TableReport(source=str(path), rows_read=len(df))
        for note in df.attrs.get(READ_NOTES, ()):
            rep.note(note)
        side = Path(str(path) + REPORT_SUFFIX)
        if side.exists():
            try:
                rep.upstream.append(json.loads(side.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                rep.note(f"report sidecar {side.name} unreadable; ignored")
        return cls(df, report=rep, **kwargs)

    @classmethod
    def read_parquet(cls, path: str | Path, **kwargs: Any) -> CellTable:
        """Read a Parquet cell table (report restored from the metadata when present)."""
        path = existing_file(path, "cell table")
        require_package("pyarrow", "Reading Parquet cell tables")
        import pyarrow.parquet as pq

        try:
            tbl = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputFileError(
                f"cannot read Parquet file {path}: {exc}",
                hint="is it a complete Parquet file? re-export it",
            ) from exc
        meta = tbl.schema.metadata or {}
        df = tbl.to_pandas()
        rep = TableReport(source=str(path), rows_read=len(df))
        if b"hetfit.report" in meta:
            try:
                rep.upstream.append(json.loads(meta[b"hetfit.report"].decode()))
            except ValueError:
                rep.note("stored report unreadable; ignored")
        return cls(df, report=rep, **kwargs)


@dataclass
class CellGroups(Mapping):
    """Result of :meth:`CellTable.groupby`: ``key tuple -> CellTable``.

    Attributes
    ----------
    labels:
        The grouping label columns.
    groups:
        Kept groups, sorted by key.
    skipped:
        Groups with fewer than ``min_cells`` cells: key -> number of cells.
    missing_label:
        Cells left out because a grouping label was missing.
    """

    labels: tuple[str, ...]
    groups: dict[tuple[str, ...], CellTable]
    skipped: dict[tuple[str, ...], int] = field(default_factory=dict)
    missing_label: int = 0

    def __getitem__(self, key: Any) -> CellTable:
        k = key if isinstance(key, tuple) else (key,)
        k = tuple(_to_text(v) for v in k)
        if k not in self.groups:
            hint = f"groups: {list(self.groups)}"
            if k in self.skipped:
                hint = f"it has {self.skipped[k]} cells, fewer than min_cells"
            raise KeyError(f"no group {k} ({hint})")
        return self.groups[k]

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def counts(self) -> pd.DataFrame:
        """Cells and donors per kept group."""
        rows = [
            {**dict(zip(self.labels, k)), "n_cells": t.n_cells, "n_donors": t.n_donors}
            for k, t in self.groups.items()
        ]
        return pd.DataFrame(rows).set_index(list(self.labels))


# ----------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------


def _validate(
    data: pd.DataFrame,
    rep: TableReport,
    on_duplicate: str,
    on_implausible: str,
    drop_featureless: bool,
) -> pd.DataFrame:
    df = data.copy()
    df.columns = [str(c) for c in df.columns]
    dup_cols = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup_cols:
        raise SchemaError(
            f"column(s) {dup_cols} appear more than once",
            hint="map each canonical name from exactly one source column",
        )
    df = df.reset_index(drop=True)
    if "cell_id" not in df.columns:
        raise SchemaError(
            "the table has no 'cell_id' column (one id per cell is required)",
            hint=did_you_mean("cell_id", list(df.columns))
            + option("map your id column to 'cell_id' (read_table(..., id_column='<name>')) or "
                     "let read_table generate ids",
                     "name the id column 'cell_id', or read the file with a --mapping file "
                     "(\"id_column\": \"<name>\"; without one ids are generated)",
                     "name the id column 'cell_id'"),
        )
    for c in ID_COLUMNS:
        if c in df.columns:
            df[c] = text_column(df[c])
        else:
            df[c] = pd.Series(np.nan, index=df.index, dtype=object)
    for c in LABEL_COLUMNS:
        if c in df.columns:
            df[c] = text_column(df[c])

    no_id = df["cell_id"].isna().to_numpy()
    if no_id.any():
        rows = np.flatnonzero(no_id)[:N_EXAMPLES] + 1  # 1-based data rows
        rep.drop("missing cell_id", int(no_id.sum()), (f"row {r}" for r in rows))
        df = df[~no_id].reset_index(drop=True)

    dup = df["cell_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        ids = sorted(set(df.loc[dup, "cell_id"]))
        if on_duplicate == "raise":
            raise SchemaError(
                f"{int(dup.sum())} duplicated cell id(s), e.g. {ids[:5]}",
                hint="cell ids must be unique; "
                + option("pass on_duplicate='first' to keep the first row of each id (drops "
                         "are counted), or ",
                         "pass --on-duplicate first to keep the first row of each id (drops "
                         "are counted), or ")
                + "fix the ids (prefix with the dataset)",
            )
        rep.drop("duplicated cell_id (kept first)", int(dup.sum()), ids)
        df = df[~dup].reset_index(drop=True)

    feats = [f for f in FEATURES if f in df.columns]
    for f in feats:
        col = numeric_column(df[f], f)
        a = col.to_numpy(dtype=float).copy()
        nonfinite = np.isinf(a)
        if nonfinite.any():
            a[nonfinite] = np.nan
            rep.implausible_values[f] = rep.implausible_values.get(f, 0) + int(nonfinite.sum())
        col = pd.Series(a, index=df.index, name=f)
        check_units(f, col, where=rep.source)
        spec = FEATURES[f]
        lo, hi = spec.plausible
        out = np.isfinite(a) & ((a < lo) | (a > hi))
        if out.any():
            n = int(out.sum())
            if on_implausible == "raise":
                bad = df.loc[out, "cell_id"].tolist()[:5]
                raise SchemaError(
                    f"feature '{f}' has {n} value(s) outside the plausible range "
                    f"[{lo:g}, {hi:g}] {spec.unit} (cells {bad})",
                    hint="check these cells"
                    + option("; pass on_implausible='drop' to set them missing (counted in "
                             "the report)", ""),
                )
            rep.implausible_values[f] = rep.implausible_values.get(f, 0) + n
            if on_implausible == "drop":
                a = a.copy()
                a[out] = np.nan
                col = pd.Series(a, index=df.index, name=f)
        df[f] = col.astype("float64")

    if feats and drop_featureless:
        empty = df[feats].isna().all(axis=1).to_numpy()
        if empty.any():
            rep.drop("no feature values", int(empty.sum()),
                     df.loc[empty, "cell_id"].head(N_EXAMPLES))
            df = df[~empty].reset_index(drop=True)
    elif not feats:
        rep.note("no canonical feature columns")

    rep.missing_values = {f: int(df[f].isna().sum()) for f in feats}
    if len(df) and df["donor_id"].isna().all():
        rep.note("no donor ids: cells cannot be resampled by donor")
    elif df["donor_id"].isna().any():
        rep.note(f"{int(df['donor_id'].isna().sum())} cell(s) without donor id")

    order = [c for c in ID_COLUMNS] + [c for c in LABEL_COLUMNS if c in df.columns] + feats
    order += [c for c in df.columns if c not in order]
    return df[order]


def derive_features(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Fill derivable features where missing (see :meth:`CellTable.with_derived`)."""
    out = df.copy()
    notes: list[str] = []

    def fill(target: str, values: pd.Series, how: str) -> None:
        if target in out.columns:
            cur = pd.to_numeric(out[target], errors="coerce")
            need = cur.isna() & values.notna()
            if need.any():
                out[target] = cur.where(~need, values)
                notes.append(f"{target}: {int(need.sum())} value(s) derived as {how}")
        elif values.notna().any():
            out[target] = values
            notes.append(f"{target}: {int(values.notna().sum())} value(s) derived as {how}")

    if {"v_threshold_mV", "v_rest_mV"} <= set(out.columns):
        dtt = pd.to_numeric(out["v_threshold_mV"], errors="coerce") - pd.to_numeric(
            out["v_rest_mV"], errors="coerce"
        )
        if "distance_to_threshold_mV" in out.columns:
            given = pd.to_numeric(out["distance_to_threshold_mV"], errors="coerce")
            off = (given - dtt).abs() > 0.5
            if off.any():
                notes.append(
                    f"distance_to_threshold_mV: {int(off.sum())} given value(s) differ from "
                    "v_threshold_mV - v_rest_mV by > 0.5 mV (kept as given)"
                )
        fill("distance_to_threshold_mV", dtt, "v_threshold_mV - v_rest_mV")
    if {"tau_m_ms", "r_input_MOhm"} <= set(out.columns):
        tau = pd.to_numeric(out["tau_m_ms"], errors="coerce")
        rin = pd.to_numeric(out["r_input_MOhm"], errors="coerce")
        cap = (1000.0 * tau / rin).where(rin > 0)
        fill("capacitance_pF", cap, "1000 * tau_m_ms / r_input_MOhm")
    return out, notes
