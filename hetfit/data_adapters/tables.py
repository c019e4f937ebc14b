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

import csv
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hetfit.data_adapters.celltable import (
    CellTable,
    TableReport,
    check_units,
    numeric_column,
    require_package,
    text_column,
)
from hetfit.data_adapters.schema import FEATURES, ID_COLUMNS, LABEL_COLUMNS, did_you_mean
from hetfit.errors import InputFileError, InsufficientDataError, SchemaError, option
from hetfit.io import existing_file

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

ColumnMap = Mapping[str, str] | Sequence[str]


def read_raw(
    path: str | Path, *, sheet: str | int | None = None, **read_kwargs: Any
) -> pd.DataFrame:
    """Read a CSV/TSV/TXT, Parquet or Excel file into a DataFrame, with clear errors.

    Parameters
    ----------
    path:
        File path; the format is taken from the suffix.
    sheet:
        Excel sheet name or 0-based index (default: the first sheet).
    read_kwargs:
        Passed to the pandas reader (e.g. ``encoding``, ``sep``, ``dtype``).

    Raises
    ------
    InputFileError
        Missing, empty, unreadable or corrupt file, or unsupported suffix.
    SchemaError
        Unknown Excel sheet.
    """
    path = existing_file(path, "table file")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputFileError(f"table file {path} is empty", hint="check the export step")
    notes: list[str] = []
    try:
        if suffix in TEXT_SUFFIXES:
            _refuse_binary(path)
            df = read_text_table(path, TEXT_SUFFIXES[suffix], read_kwargs, notes)
            header = None  # read_text_table merged repeated names already
        elif suffix in PARQUET_SUFFIXES:
            require_package("pyarrow", "Reading Parquet tables")
            df = pd.read_parquet(path, **read_kwargs)
            header = None
        elif suffix in EXCEL_SUFFIXES:
            df, header = _read_excel(path, sheet, read_kwargs)
        else:
            raise InputFileError(
                f"unsupported table format '{path.suffix}' ({path.name})",
                hint="use .csv, .tsv, .txt, .parquet, .xlsx or .xls",
            )
        df = merge_duplicate_columns(df, header, str(path), notes)
    except (InputFileError, SchemaError):
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputFileError(f"table file {path} has no columns ({exc})",
                             hint="check the export step") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"table file {path} is not readable text ({exc.reason} at byte {exc.start})",
            hint="is it a binary file with a .csv name? otherwise "
            + option("pass encoding='latin-1'", "pass --encoding latin-1",
                     "save it as UTF-8 text"),
        ) from exc
    except pd.errors.ParserError as exc:
        raise InputFileError(
            f"table file {path} is malformed: {' '.join(str(exc).split())}",
            hint="check delimiters and quoting"
            + option(", or pass sep=...", ", or pass --delimiter (e.g. --delimiter ';')"),
        ) from exc
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(
            f"cannot read table file {path}: {type(exc).__name__}: {exc}",
            hint="the file may be corrupt or truncated; re-export it",
        ) from exc
    except Exception as exc:  # pyarrow / openpyxl raise their own types for corrupt files
        if type(exc).__module__.split(".")[0] in ("pyarrow", "openpyxl", "xlrd"):
            raise InputFileError(
                f"cannot read table file {path}: {type(exc).__name__}: {exc}",
                hint="the file may be corrupt or truncated; re-export it",
            ) from exc
        raise
    if not isinstance(df, pd.DataFrame):  # pragma: no cover - defensive
        raise InputFileError(f"{path} did not read as a table")
    df.columns = [str(c).strip() for c in df.columns]
    # how the file was read (delimiter found, decimal commas, merged duplicate columns):
    # table readers copy these into their report
    df.attrs[READ_NOTES] = notes
    return df


# ----------------------------------------------------------------------------------------
# Text tables: delimiter and decimal sniffing, duplicated header names
# ----------------------------------------------------------------------------------------

READ_NOTES = "hetfit_read_notes"
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
                    "space": " "}
_SHOWN = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "'|'", " ": "spaces"}
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d+,\d+(?:[eE][+-]?\d+)?\s*$")
_SNIFF_LINES = 200


def _head_lines(path: Path, encoding: str | None, skip: int, n: int) -> list[str]:
    """The first ``n`` non-empty lines after ``skip`` lines (decoding errors replaced:
    this only looks for delimiters)."""
    lines: list[str] = []
    with open(path, encoding=encoding or "utf-8-sig", errors="replace", newline="") as fh:
        for k, line in enumerate(fh):
            if k < skip:
                continue
            if line.strip():
                lines.append(line.rstrip("\r\n"))
            if len(lines) >= n:
                break
    return lines


def _fields(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


def sniff_delimiter(
    path: str | Path, default: str | None = ",", *, encoding: str | None = None,
    skip_lines: int = 0,
) -> str | None:
    """The column delimiter of a text table.

    ``default`` (the suffix's delimiter) is kept whenever it splits the header into two or
    more columns, so ordinary files are read exactly as before.  Otherwise the first of
    ``, ; tab |`` that splits the header and every sampled line into the same number (>= 2)
    of columns is taken -- a semicolon- or tab-delimited ``.csv``, as European spreadsheet
    exports are.  Returns ``default`` when none fits (a one-column table).
    """
    lines = _head_lines(Path(path), encoding, skip_lines, _SNIFF_LINES)
    if not lines:
        return default
    if default is not None and len(_fields(lines[0], default)) >= 2:
        return default
    consistent, header_only = [], []
    for sep in DELIMITERS:
        counts = [len(_fields(ln, sep)) for ln in lines]
        if counts[0] >= 2:
            header_only.append((counts[0], sep))
            if all(c == counts[0] for c in counts[1:]):
                consistent.append((counts[0], sep))
    found = consistent or header_only  # quoted line breaks make counts uneven
    if not found:
        return default
    return max(found, key=lambda c: c[0])[1]  # max() keeps the first of equal counts


def uses_decimal_comma(
    path: str | Path, sep: str, *, encoding: str | None = None, skip_lines: int = 0
) -> bool:
    """True when a table whose columns are not separated by commas writes numbers with a
    decimal comma (``-45,2``), as spreadsheets in many European locales do."""
    if sep == ",":
        return False
    lines = _head_lines(Path(path), encoding, skip_lines, _SNIFF_LINES)
    return any(_DECIMAL_COMMA.match(f) for ln in lines[1:] for f in _fields(ln, sep))


def text_read_kwargs(
    path: Path, default_sep: str | None, read_kwargs: Mapping[str, Any], notes: list[str]
) -> dict[str, Any]:
    """pandas ``read_csv`` arguments for a text table: the delimiter (given, or sniffed
    with :func:`sniff_delimiter`) and decimal commas; what was detected goes to ``notes``."""
    kw = dict(read_kwargs)
    skip = kw.get("skiprows") if isinstance(kw.get("skiprows"), int) else 0
    enc = kw.get("encoding")
    if "delimiter" in kw:
        kw["sep"] = kw.pop("delimiter")
    if "sep" in kw:
        sep = kw["sep"]
    else:
        sep = sniff_delimiter(path, default_sep, encoding=enc, skip_lines=skip)
        if sep is None:
            kw.update(sep=None, engine="python")  # let pandas sniff (e.g. spaces)
        else:
            kw["sep"] = sep
            if default_sep is not None and sep != default_sep:
                notes.append(f"columns are separated by {_SHOWN.get(sep, repr(sep))} "
                             "(detected)")
    if (sep is not None and "decimal" not in kw
            and uses_decimal_comma(path, sep, encoding=enc, skip_lines=skip)):
        kw["decimal"] = ","
        notes.append("numbers use a decimal comma (detected; read as decimal points)")
    return kw


def read_text_table(
    path: Path, default_sep: str | None, read_kwargs: Mapping[str, Any], notes: list[str]
) -> pd.DataFrame:
    """``pd.read_csv`` with the delimiter and decimal comma detected
    (:func:`text_read_kwargs`) and repeated header names resolved
    (:func:`merge_duplicate_columns`); pandas' own exceptions propagate."""
    kw = text_read_kwargs(path, default_sep, read_kwargs, notes)
    df = pd.read_csv(path, **kw)
    return merge_duplicate_columns(df, _text_header(path, kw), str(path), notes)


def _text_header(path: Path, kw: Mapping[str, Any]) -> list[str] | None:
    """The header row as written (pandas renames a repeated name ``x`` to ``x.1``)."""
    if (kw.get("header", "infer") not in ("infer", 0) or kw.get("names") is not None
            or kw.get("index_col") not in (None, False) or kw.get("usecols") is not None):
        return None
    keep = ("sep", "engine", "encoding", "skiprows", "comment", "quotechar", "escapechar",
            "encoding_errors")
    row = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                      **{k: kw[k] for k in keep if k in kw})
    return [str(v) for v in row.iloc[0].tolist()] if len(row) else None


def merge_duplicate_columns(
    df: pd.DataFrame, header: Sequence[Any] | None, source: str, notes: list[str]
) -> pd.DataFrame:
    """Resolve column names that appear more than once in a file's header.

    pandas reads them as ``x``, ``x.1``, ... and later code would silently use the first.
    Copies that hold the same values (equal wherever the copy has one) are merged into the
    first and noted; copies that disagree raise :class:`SchemaError` naming the column,
    because which one is meant cannot be known.
    """
    names = [str(h).strip() for h in (header if header is not None and len(header)
                                      == df.shape[1] else df.columns)]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name and name.lower() != "nan":  # blank header cells are named apart by pandas
            groups.setdefault(name, []).append(i)
    drop: set[int] = set()
    for name, pos in groups.items():
        if len(pos) < 2:
            continue
        first = df.iloc[:, pos[0]]
        for p in pos[1:]:
            other = df.iloc[:, p]
            differ = other.notna() & ~(first.notna() & (first == other))
            if differ.any():
                cols = ", ".join(str(q + 1) for q in pos)
                raise SchemaError(
                    f"column {name!r} appears {len(pos)} times in the header of {source} "
                    f"(columns {cols}) and the copies differ in {int(differ.sum())} row(s)",
                    hint="rename or delete the extra column(s) in the file, so that each "
                    "name means one column",
                )
        drop.update(pos[1:])
        notes.append(f"column {name!r} appears {len(pos)} times in the header with the same "
                     "values; one copy kept")
    if not drop:
        return df
    # the first of each repeated name keeps its own name (pandas renames only the others)
    return df.iloc[:, [i for i in range(df.shape[1]) if i not in drop]].copy()


def parse_delimiter(text: str) -> str:
    """A ``--delimiter`` value: one character, or ``tab``/``comma``/``semicolon``/``pipe``/
    ``space`` (``\\t`` also means tab)."""
    from hetfit.errors import ParameterError

    sep = _DELIMITER_NAMES.get(text.strip().lower(), text) if text.strip() else text
    if len(sep) != 1 or sep in "\"'\r\n" or sep.isalnum():
        raise ParameterError(
            f"--delimiter must be one character such as ';' or ',' (or 'tab'), got {text!r}",
            hint="e.g. --delimiter ';' or --delimiter tab",
        )
    return sep


def text_options(
    path: str | Path, delimiter: str | None = None, encoding: str | None = None
) -> dict[str, Any]:
    """pandas read arguments for a text table from the ``--delimiter``/``--encoding`` flags
    (empty when neither is given); refused for files that are not text tables."""
    import codecs

    from hetfit.errors import ParameterError

    kw: dict[str, Any] = {}
    if delimiter is None and encoding is None:
        return kw
    if Path(path).suffix.lower() not in TEXT_SUFFIXES:
        given = "--delimiter" if delimiter is not None else "--encoding"
        raise ParameterError(
            f"{given} applies to text tables (.csv, .tsv, .tab, .txt), not {Path(path).name}",
            hint=f"drop {given}",
        )
    if delimiter is not None:
        kw["sep"] = parse_delimiter(delimiter)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ParameterError(f"unknown text encoding {encoding!r}",
                                 hint="e.g. --encoding latin-1, cp1252 or utf-16") from None
        kw["encoding"] = encoding
    return kw


def _refuse_binary(path: Path) -> None:
    """Text tables never contain NUL bytes; binary files renamed .csv do."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        raise InputFileError(
            f"table file {path} is not readable text (it contains binary data)",
            hint="is it an Excel/Parquet/ABF file with a .csv name? save it as CSV or use "
            "the right suffix",
        )


def _read_excel(
    path: Path, sheet: str | int | None, read_kwargs: dict
) -> tuple[pd.DataFrame, list[str] | None]:
    if path.suffix.lower() == ".xls":
        require_package("xlrd", "Reading .xls files")
    else:
        require_package("openpyxl", "Reading Excel files")
    with pd.ExcelFile(path) as xf:
        names = list(xf.sheet_names)
        if sheet is None:
            target: str | int = 0
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise SchemaError(
                    f"sheet index {sheet} out of range: {path.name} has {len(names)} sheet(s)",
                    hint=f"sheets: {names}",
                )
            target = sheet
        else:
            if sheet not in names:
                raise SchemaError(
                    f"no sheet {sheet!r} in {path.name}",
                    hint=did_you_mean(sheet, names) + f"sheets: {names}",
                )
            target = sheet
        df = pd.read_excel(xf, sheet_name=target, **read_kwargs)
        header = None
        if read_kwargs.get("header", 0) == 0 and read_kwargs.get("usecols") is None:
            row = pd.read_excel(xf, sheet_name=target, header=None, nrows=1)
            header = ["" if pd.isna(v) else str(v) for v in row.iloc[0].tolist()] if len(
                row) else None
        return df, header


def excel_sheets(path: str | Path) -> list[str]:
    """Sheet names of an Excel workbook."""
    path = existing_file(path, "Excel file")
    require_package("openpyxl", "Reading Excel files")
    try:
        with pd.ExcelFile(path) as xf:
            return list(xf.sheet_names)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"cannot read Excel file {path}: {exc}",
                             hint="the file may be corrupt; re-export it") from exc


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
    import json

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
