"""Table files into DataFrames: CSV/TSV/TXT, Parquet and Excel, with clear errors.

:func:`read_raw` picks the reader from the suffix; for text tables it detects the delimiter
(``,`` ``;`` tab ``|``) and decimal commas, and it resolves repeated header names.  How the
file was read is kept in ``df.attrs[READ_NOTES]`` for the table's report.

This module only reads files.  Mapping columns onto canonical features
(:mod:`hetfit.data_adapters.tables`) and validating them
(:mod:`hetfit.data_adapters.celltable`) both build on it -- ``CellTable.read_csv`` reads
through :func:`read_raw` and ``tables`` builds on ``CellTable`` -- so it sits below both and
imports neither.  Its names are re-exported by ``tables``, where they used to live.
"""

from __future__ import annotations

import codecs
import csv
import importlib
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hetfit.data_adapters.schema import did_you_mean
from hetfit.errors import (
    HetfitError,
    InputFileError,
    MissingDependencyError,
    ParameterError,
    SchemaError,
    option,
)
from hetfit.io import existing_file

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


def require_package(module: str, feature: str, pip_name: str | None = None) -> Any:
    """Import an optional package or raise :class:`MissingDependencyError` naming the pip
    package (for packages that no hetfit extra provides, e.g. pyarrow, xlrd)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        err = MissingDependencyError.__new__(MissingDependencyError)
        HetfitError.__init__(
            err,
            f"{feature} needs the optional package '{module}', which is not installed",
            hint=f"install it with: pip install {pip_name or module}",
        )
        raise err from exc


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
