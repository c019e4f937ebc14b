"""Generic per-cell tables (CSV, TSV, Parquet, Excel) with a column mapping and units.

A lab's spreadsheet rarely uses hetfit's column names.  :func:`read_table` maps them::

    table = read_table(
        "cells.xlsx", sheet="L5",
        columns={"Threshold (mV)": "v_threshold_mV", "Rheobase (nA)": "rheobase_pA",
                 "Tau (s)": "tau_m_ms"},
        units={"Rheobase (nA)": "nA", "Tau (s)": "s"},
        labels={"Patient": "donor_id", "Layer": "layer"},
        constants={"disease_state": "epileptogenic", "species": "human"},
    )

- ``columns`` maps file columns to canonical *features* (see
  :data:`hetfit.data_adapters.schema.FEATURES`); ``labels`` maps file columns to ids
  (``cell_id``, ``donor_id``), canonical labels or your own label names; ``constants`` sets
  a label for every row (one condition per file).
- ``units`` gives the unit of a file column (by file or canonical name) as a string
  (``"nA"``, ``"s"``, ``"V"``, ``"MΩ"``) or a numeric factor into the canonical unit.
- A file column, feature or unit that does not exist is an error with suggestions; a
  column whose values are in the wrong unit is an error that names the fix.
- Without an id column, ids are generated as ``<file stem>[/<sheet>]:<row>`` (noted in
  the report).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hetfit.data_adapters.celltable import (
    CellTable,
    TableReport,
    check_units,
    numeric_column,
    text_column,
)
from hetfit.data_adapters.rawtables import (
    DELIMITERS,
    EXCEL_SUFFIXES,
    PARQUET_SUFFIXES,
    READ_NOTES,
    TEXT_SUFFIXES,
    excel_sheets,
    merge_duplicate_columns,
    parse_delimiter,
    read_raw,
    read_text_table,
    sniff_delimiter,
    text_options,
    text_read_kwargs,
    uses_decimal_comma,
)
from hetfit.data_adapters.schema import FEATURES, ID_COLUMNS, LABEL_COLUMNS, did_you_mean
from hetfit.errors import InputFileError, InsufficientDataError, SchemaError, option
from hetfit.io import existing_file

ColumnMap = Mapping[str, str] | Sequence[str]

__all__ = [
    "MAPPING_KEYS",
    "ColumnMap",
    "from_frame",
    "load_mapping",
    "read_mapped",
    "read_table",
    # file reading moved to rawtables (CellTable.read_csv needs it and celltable must not
    # import this module); re-exported so existing imports from here keep working
    "DELIMITERS",
    "EXCEL_SUFFIXES",
    "PARQUET_SUFFIXES",
    "READ_NOTES",
    "TEXT_SUFFIXES",
    "excel_sheets",
    "merge_duplicate_columns",
    "parse_delimiter",
    "read_raw",
    "read_text_table",
    "sniff_delimiter",
    "text_options",
    "text_read_kwargs",
    "uses_decimal_comma",
]


def read_table(
    path: str | Path,
    columns: ColumnMap | None = None,
    *,
    units: Mapping[str, str | float] | None = None,
    labels: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
    extras: Mapping[str, str] | None = None,
    id_column: str | None = None,
    donor_column: str | None = None,
    recode: Mapping[str, Mapping[Any, Any] | Callable[[Any], Any]] | None = None,
    sheet: str | int | None = None,
    keep_unmapped: bool = False,
    id_prefix: str | None = None,
    derive: bool = True,
    on_duplicate: str = "raise",
    on_implausible: str = "drop",
    drop_featureless: bool = True,
    read_kwargs: Mapping[str, Any] | None = None,
) -> CellTable:
    """Read a per-cell table file through a column mapping into a :class:`CellTable`.

    Parameters
    ----------
    path:
        CSV/TSV/TXT, Parquet or Excel file.
    columns:
        File column -> canonical feature name (a list means the names already are
        canonical).  ``None``: the file already uses canonical names (e.g. a table written by
        ``CellTable.write`` or by the trace feature extractor); every canonical feature, id
        and label column is taken as is.
    units:
        Unit of a file column, keyed by file column or canonical feature: a unit string
        (``"nA"``, ``"s"``, ``"V"``, ``"Hz/nA"``, ``"MΩ"``) or a factor into the canonical unit.
        Columns without an entry are taken to be in the canonical unit.
    labels:
        File column -> label name: ``cell_id``, ``donor_id``, a canonical label
        (``species``, ``region``, ``layer``, ``dendrite_type``, ``transgenic_line``,
        ``disease_state``, ``cell_type``, ``dataset``) or your own label name.
    constants:
        Label name -> value given to every row (e.g. ``{"disease_state": "tumor"}``).
    extras:
        File column -> new name for other columns to keep unchanged (numbers stay
        numbers), e.g. a lab's own adaptation ratio or the recording date.
    id_column, donor_column:
        Shortcuts for ``labels={id_column: "cell_id", donor_column: "donor_id"}``.
    recode:
        Label name -> {file value: new value} (or a function) applied after mapping, e.g.
        ``{"disease_state": {"Epilepsy": "epilepsy"}}``; unlisted values are unchanged.
    sheet:
        Excel sheet name or index.
    keep_unmapped:
        Keep the file's other columns as extra columns (default: drop them; their number
        is noted in the report).
    id_prefix:
        Prefix of generated cell ids (default: file stem, plus sheet).
    derive:
        Fill derivable features (distance to threshold, capacitance); see
        :meth:`CellTable.with_derived`.
    on_duplicate, on_implausible, drop_featureless:
        Passed to :class:`CellTable`.
    read_kwargs:
        Passed to the pandas reader.
    """
    p = existing_file(path, "table file")
    raw = read_raw(p, sheet=sheet, **dict(read_kwargs or {}))
    src = f"{p}" + (f" [sheet {sheet}]" if sheet is not None else "")
    prefix = id_prefix if id_prefix is not None else (
        p.stem + (f"/{sheet}" if sheet is not None else "")
    )
    return from_frame(
        raw, columns, units=units, labels=labels, constants=constants, extras=extras,
        id_column=id_column,
        donor_column=donor_column, recode=recode, keep_unmapped=keep_unmapped,
        id_prefix=prefix, derive=derive, on_duplicate=on_duplicate,
        on_implausible=on_implausible, drop_featureless=drop_featureless, source=src,
    )


def from_frame(
    raw: pd.DataFrame,
    columns: ColumnMap | None = None,
    *,
    units: Mapping[str, str | float] | None = None,
    labels: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
    extras: Mapping[str, str] | None = None,
    id_column: str | None = None,
    donor_column: str | None = None,
    recode: Mapping[str, Mapping[Any, Any] | Callable[[Any], Any]] | None = None,
    keep_unmapped: bool = False,
    id_prefix: str = "cell",
    derive: bool = True,
    on_duplicate: str = "raise",
    on_implausible: str = "drop",
    drop_featureless: bool = True,
    source: str = "DataFrame",
    report: TableReport | None = None,
) -> CellTable:
    """Apply a column mapping to an in-memory DataFrame (same arguments as :func:`read_table`).

    ``report`` carries drops of earlier stages (its ``rows_read`` is kept); by default
    ``rows_read = len(raw)``.
    """
    if not isinstance(raw, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame, got {type(raw).__name__}")
    read_notes = list(raw.attrs.get(READ_NOTES, ()))  # from read_raw: delimiter, duplicates
    raw = raw.copy()
    raw.columns = [str(c).strip() for c in raw.columns]
    available = list(raw.columns)
    if columns is None:  # canonical file: identity mapping of what is there
        columns = [c for c in raw.columns if c in FEATURES]
        auto = {c: c for c in raw.columns if c in ID_COLUMNS or c in LABEL_COLUMNS}
        labels = {**auto, **dict(labels or {})}
        if not columns:
            raise SchemaError(
                f"{source} has no canonical feature columns and no column mapping was given",
                hint=option("pass columns={'<file column>': '<feature>', ...}",
                            "add \"columns\": {\"<file column>\": \"<feature>\"} to the "
                            "--mapping file", "give the columns hetfit's canonical names")
                + "; features: " + str(sorted(FEATURES)),
            )
    feat_map = _feature_mapping(columns)
    label_map = dict(labels or {})
    extra_map = {str(k).strip(): str(v) for k, v in (extras or {}).items()}
    if id_column is not None:
        label_map[id_column] = "cell_id"
    if donor_column is not None:
        label_map[donor_column] = "donor_id"

    # --- check the mapping before touching values ----------------------------------------
    for kind, mapping in (("feature", feat_map), ("label", label_map), ("extras", extra_map)):
        for src in mapping:
            if src not in raw.columns:
                raise SchemaError(
                    f"{kind} mapping names column {src!r}, which is not in {source}",
                    hint=did_you_mean(src, available) + f"columns: {available[:40]}",
                )
    for src, dst in feat_map.items():
        if dst not in FEATURES:
            raise SchemaError(
                f"column {src!r} is mapped to {dst!r}, which is not a canonical feature",
                hint=did_you_mean(dst, list(FEATURES))
                + f"features: {sorted(FEATURES)}; "
                + option("map labels with labels=", "map labels under \"labels\""),
            )
    for src, dst in label_map.items():
        if dst in FEATURES:
            raise SchemaError(
                f"column {src!r} is mapped to feature {dst!r} through labels=",
                hint=option("map features with columns= (labels= is for ids and type labels)",
                            "map features under \"columns\" (\"labels\" is for ids and type "
                            "labels)"),
            )
        _check_label_name(dst)
    for src, dst in extra_map.items():
        if dst in FEATURES or dst in ID_COLUMNS or dst in LABEL_COLUMNS:
            raise SchemaError(
                f"extras maps {src!r} to the canonical name {dst!r}",
                hint=option("map features with columns= and ids/labels with labels=",
                            "map features under \"columns\" and ids/labels under \"labels\""),
            )
        _check_label_name(dst)
    for name in constants or {}:
        if name in FEATURES:
            raise SchemaError(
                f"constant {name!r} is a feature; constants are labels (one value for all rows)"
            )
        _check_label_name(name)
    targets = (list(feat_map.values()) + list(label_map.values()) + list(constants or {})
               + list(extra_map.values()))
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise SchemaError(
            f"canonical name(s) {dup} are mapped more than once",
            hint="map each canonical name from one column (or one constant)",
        )
    factors = _unit_factors(units or {}, feat_map)

    rep = report.copy() if report is not None else TableReport(source=source, rows_read=len(raw))
    if report is None or not rep.source:
        rep.source = source
    for note in read_notes:
        rep.note(note)
    out = pd.DataFrame(index=raw.index)
    conversions = []
    for src, dst in feat_map.items():
        col = numeric_column(raw[src], f"{dst} (column {src!r})")
        f = factors.get(dst, 1.0)
        if f != 1.0:
            col = col * f
            conversions.append(f"{src!r} x {f:g} -> {dst}")
        check_units(dst, col, where=f"column {src!r} of {source}", column=src)
        out[dst] = col
    if conversions:
        rep.note("unit conversions: " + "; ".join(conversions))
    for src, dst in label_map.items():
        out[dst] = text_column(raw[src])
    for name, value in (constants or {}).items():
        out[name] = pd.Series([value] * len(raw), index=raw.index, dtype=object)
    for src, dst in extra_map.items():
        out[dst] = raw[src]
    for name, rule in (recode or {}).items():
        if name not in out.columns:
            raise SchemaError(
                f"recode names {name!r}, which is not a mapped label",
                hint=f"mapped labels: {list(label_map.values()) + list(constants or {})}",
            )
        fn = rule if callable(rule) else (lambda v, r=rule: r.get(v, v))
        out[name] = pd.Series(
            [v if _na(v) else fn(v) for v in out[name].tolist()], index=out.index, dtype=object
        )
    if "cell_id" not in out.columns:
        out["cell_id"] = [f"{id_prefix}:{i + 1}" for i in range(len(out))]
        rep.note(f"no cell id column: ids generated as '{id_prefix}:<row>'")
    unmapped = [c for c in raw.columns
                if c not in feat_map and c not in label_map and c not in extra_map]
    if not keep_unmapped:  # all-empty spreadsheet columns are not worth a mention
        unmapped = [c for c in unmapped if raw[c].notna().any()]
    if keep_unmapped:
        for c in unmapped:
            if c in out.columns:
                raise SchemaError(
                    f"unmapped column {c!r} collides with a canonical name",
                    hint="map it explicitly or rename it",
                )
            out[c] = raw[c]
    elif unmapped:
        shown = ", ".join(repr(c) for c in unmapped[:10])
        more = f" and {len(unmapped) - 10} more" if len(unmapped) > 10 else ""
        rep.note(f"{len(unmapped)} unmapped column(s) ignored: {shown}{more}")
    if len(out) == 0:
        raise InsufficientDataError(
            f"{source} has no data rows", hint="check the file or the sheet"
        )
    table = CellTable(out, report=rep, on_duplicate=on_duplicate, on_implausible=on_implausible,
                      drop_featureless=drop_featureless)
    return table.with_derived() if derive else table


MAPPING_KEYS = (
    "columns", "units", "labels", "constants", "extras", "id_column", "donor_column",
    "sheet", "keep_unmapped", "id_prefix", "derive", "on_duplicate", "on_implausible",
    "drop_featureless",
)


def load_mapping(mapping: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check a column mapping: a JSON file or a dict with the keyword arguments of
    :func:`read_table` (``columns``, ``units``, ``labels``, ``constants``, ``extras``,
    ``id_column``, ``donor_column``, ``sheet`` ...), e.g.::

        {"columns": {"Threshold (mV)": "v_threshold_mV", "Tau (s)": "tau_m_ms"},
         "units": {"Tau (s)": "s"}, "id_column": "Cell",
         "constants": {"disease_state": "epileptogenic"}}

    Mapping files let command-line users (``hetfit estimate --source table``) describe a
    spreadsheet once.  Unknown keys are an error (a typo would otherwise be ignored).
    """
    if isinstance(mapping, Mapping):
        spec, src = dict(mapping), "mapping"
    else:
        p = existing_file(mapping, "column mapping file")
        try:
            spec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputFileError(f"cannot read mapping file {p}: {exc}",
                                 hint="it must be a JSON object") from exc
        src = str(p)
    if not isinstance(spec, dict):
        raise SchemaError(f"{src} must be a JSON object with keys like 'columns', 'units'")
    unknown = [k for k in spec if k not in MAPPING_KEYS]
    if unknown:
        raise SchemaError(
            f"{src}: unknown key(s) {unknown}",
            hint=did_you_mean(unknown[0], MAPPING_KEYS) + f"keys: {list(MAPPING_KEYS)}",
        )
    return spec


def read_mapped(
    path: str | Path, mapping: str | Path | Mapping[str, Any], **overrides: Any
) -> CellTable:
    """:func:`read_table` with the keyword arguments taken from a mapping file or dict
    (see :func:`load_mapping`); ``overrides`` (e.g. ``read_kwargs``, ``on_duplicate`` from
    command-line flags) take precedence over the mapping."""
    return read_table(path, **{**load_mapping(mapping), **overrides})


def _na(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _feature_mapping(columns: ColumnMap) -> dict[str, str]:
    if isinstance(columns, Mapping):
        return {str(k).strip(): str(v) for k, v in columns.items()}
    if isinstance(columns, (list, tuple)):
        return {str(c).strip(): str(c).strip() for c in columns}
    raise SchemaError(
        f"columns must be a mapping {{file column: feature}} or a list, got "
        f"{type(columns).__name__}"
    )


def _check_label_name(name: str) -> None:
    if name in ID_COLUMNS or name in LABEL_COLUMNS:
        return
    if not str(name).isidentifier():
        raise SchemaError(
            f"label name {name!r} is not a valid column name",
            hint="use letters, digits and underscores (e.g. 'recorder_name'); canonical labels: "
            f"{list(ID_COLUMNS + LABEL_COLUMNS)}",
        )


def _unit_factors(units: Mapping[str, str | float], feat_map: Mapping[str, str]) -> dict[str, float]:
    """Unit entries (keyed by file column or feature) -> factor per canonical feature."""
    out: dict[str, float] = {}
    for key, unit in units.items():
        feat = feat_map.get(key, key if key in feat_map.values() else None)
        if feat is None:
            raise SchemaError(
                f"units names {key!r}, which is neither a mapped file column nor a mapped "
                "feature",
                hint=did_you_mean(key, list(feat_map) + list(feat_map.values()))
                + f"mapped columns: {list(feat_map)}",
            )
        if isinstance(unit, (int, float)) and not isinstance(unit, bool):
            if not unit > 0:
                raise SchemaError(f"unit factor for {key!r} must be positive, got {unit}")
            out[feat] = float(unit)
        else:
            out[feat] = FEATURES[feat].factor(str(unit))
    return out
