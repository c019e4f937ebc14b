"""Allen Cell Types Database -> :class:`~hetfit.data_adapters.celltable.CellTable`.

Three inputs, one mapping:

1. **Specimen-details CSV** (the database's "download all cells" table,
   ``cell_types_specimen_details.csv``): labels and the ``ef__*`` features.
   :func:`read_allen_specimens`.
2. **CellTypesCache directory** (``manifest.json``, ``cells.json``,
   ``ephys_features.csv``), read with allensdk's ``CellTypesCache`` when the ``allen`` extra
   is installed, or directly from the files without it; works offline on an existing cache
   (nothing is downloaded: a missing file is an error, never a download).
   :func:`read_allen_cache`.
3. **Per-cell feature tables** from ``CellTypesCache.get_ephys_features()`` (optionally merged
   with ``get_cells()`` metadata, as in ``aibs_aggregated_ephys_v10.csv``), joined on the
   specimen id to add spike threshold, sag, latency, AP amplitude/width.
   ``ephys_features=`` of the readers above, or :func:`read_allen_ephys_features` alone.

``cells.json`` holds the same records (same keys) as the specimen-details CSV, so both go
through :func:`allen_table`.  Database ids are kept: ``cell_id`` = specimen id, ``donor_id`` =
donor id (as text), plus ``specimen_name`` and ``donor_name``.

Label mapping (database column -> table column; values unchanged except species):

============================== ===================== ======================================
specimen details / cells.json  simplified get_cells  table column
============================== ===================== ======================================
specimen__id                   id / specimen_id      cell_id
donor__id                      donor_id              donor_id
donor__species                 species               species ("human", "mouse")
structure_parent__acronym      structure_area_abbrev region (e.g. VISp, MTG, FroL)
structure__layer               structure_layer_name  layer ("1", "2/3", "4", "5", "6a" ...)
tag__dendrite_type             dendrite_type         dendrite_type (spiny/aspiny/sparsely spiny)
line_name                      transgenic_line       transgenic_line (missing for human)
donor__disease_state           disease_state         disease_state (epilepsy/tumor; mouse: missing)
============================== ===================== ======================================

Feature mapping (units as in the database; checked by the schema):
``ef__vrest``/``vrest`` -> v_rest_mV, ``threshold_v_long_square`` -> v_threshold_mV,
``ef__threshold_i_long_square``/``threshold_i_long_square`` -> rheobase_pA,
``ef__tau``/``tau`` -> tau_m_ms, ``ef__ri``/``ri`` -> r_input_MOhm, ``sag`` -> sag,
``ef__f_i_curve_slope`` -> fi_slope_Hz_per_pA, ``ef__adaptation`` -> adaptation,
``ef__avg_isi`` -> mean_isi_ms, ``ef__avg_firing_rate`` -> firing_rate_Hz,
``ef__upstroke_downstroke_ratio_long_square`` -> upstroke_downstroke_ratio,
``latency`` (s) -> latency_ms, ``peak_v_long_square - threshold_v_long_square`` ->
ap_amplitude_mV, ``rheo_first_spike_hw`` (s, Tripathy-lab feature) -> ap_width_ms.
Derived: distance_to_threshold_mV, capacitance_pF (see ``CellTable.with_derived``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetfit.data_adapters.celltable import CellTable, TableReport, numeric_column, text_column
from hetfit.data_adapters.tables import read_raw
from hetfit.errors import InputFileError, SchemaError, require
from hetfit.io import existing_file

DATASET = "allen_cell_types"

# Specimen-details table (API model ApiCellTypesSpecimenDetail; CSV download; cells.json).
SPECIMEN_LABELS: dict[str, str] = {
    "specimen__id": "cell_id",
    "donor__id": "donor_id",
    "donor__species": "species",
    "structure_parent__acronym": "region",
    "structure__layer": "layer",
    "tag__dendrite_type": "dendrite_type",
    "line_name": "transgenic_line",
    "donor__disease_state": "disease_state",
}
SPECIMEN_EXTRAS: dict[str, str] = {
    "specimen__name": "specimen_name",
    "donor__name": "donor_name",
    "structure__acronym": "structure",
    "specimen__hemisphere": "hemisphere",
    "cell_reporter_status": "reporter_status",
    "tag__apical": "apical",
    "donor__age": "donor_age",
    "donor__sex": "donor_sex",
    "donor__race": "donor_race",
    "donor__years_of_seizure_history": "years_of_seizure_history",
    "csl__normalized_depth": "normalized_depth",
    "nr__reconstruction_type": "reconstruction_type",
}
SPECIMEN_FEATURES: dict[str, str] = {
    "ef__vrest": "v_rest_mV",
    "ef__threshold_i_long_square": "rheobase_pA",
    "ef__tau": "tau_m_ms",
    "ef__ri": "r_input_MOhm",
    "ef__f_i_curve_slope": "fi_slope_Hz_per_pA",
    "ef__adaptation": "adaptation",
    "ef__avg_isi": "mean_isi_ms",
    "ef__avg_firing_rate": "firing_rate_Hz",
    "ef__upstroke_downstroke_ratio_long_square": "upstroke_downstroke_ratio",
}

# allensdk CellTypesApi.simplify_cells_api keys (get_cells(simple=True)), also the metadata
# columns of tables that merge get_cells() with get_ephys_features().
SIMPLE_LABELS: dict[str, str] = {
    "donor_id": "donor_id",
    "species": "species",
    "structure_area_abbrev": "region",
    "structure_layer_name": "layer",
    "dendrite_type": "dendrite_type",
    "transgenic_line": "transgenic_line",
    "disease_state": "disease_state",
}
SIMPLE_EXTRAS: dict[str, str] = {
    "name": "specimen_name",
    "reporter_status": "reporter_status",
    "structure_hemisphere": "hemisphere",
    "apical": "apical",
    "normalized_depth": "normalized_depth",
    "reconstruction_type": "reconstruction_type",
}

# get_ephys_features() columns; factor converts into the canonical unit.
EPHYS_FEATURES: dict[str, tuple[str, float]] = {
    "vrest": ("v_rest_mV", 1.0),
    "threshold_v_long_square": ("v_threshold_mV", 1.0),
    "threshold_i_long_square": ("rheobase_pA", 1.0),
    "tau": ("tau_m_ms", 1.0),
    "ri": ("r_input_MOhm", 1.0),
    "sag": ("sag", 1.0),
    "f_i_curve_slope": ("fi_slope_Hz_per_pA", 1.0),
    "adaptation": ("adaptation", 1.0),
    "avg_isi": ("mean_isi_ms", 1.0),
    "latency": ("latency_ms", 1e3),  # seconds in recent releases (see _latency_factor)
    "upstroke_downstroke_ratio_long_square": ("upstroke_downstroke_ratio", 1.0),
    "rheo_first_spike_hw": ("ap_width_ms", 1e3),  # seconds (Tripathy lab, aggregated table)
}

_SPECIES = {"homo sapiens": "human", "mus musculus": "mouse", "human": "human", "mouse": "mouse"}


def _species(v: Any) -> Any:
    if isinstance(v, str):
        return _SPECIES.get(v.strip().lower(), v)
    return v


# ----------------------------------------------------------------------------------------
# Public readers
# ----------------------------------------------------------------------------------------


def read_allen(path: str | Path, **kwargs: Any) -> CellTable:
    """Read any Allen input: a CellTypesCache folder or manifest (:func:`read_allen_cache`),
    the specimen-details CSV (:func:`read_allen_specimens`) or a ``get_ephys_features()``
    table (:func:`read_allen_ephys_features`), chosen from what ``path`` is."""
    p = Path(path).expanduser()
    if p.is_dir() or p.suffix.lower() == ".json":
        return read_allen_cache(p, **kwargs)
    p = existing_file(p, "Allen file")
    header = read_raw(p, nrows=0)
    if "specimen__id" in header.columns:
        return read_allen_specimens(p, **kwargs)
    if "specimen_id" in header.columns:
        if kwargs.pop("ephys_features", None) is not None:
            raise SchemaError(
                f"{p.name} is a feature table; ephys_features= joins features to a specimen "
                "table or cache",
                hint="pass the specimen-details CSV as path and this file as ephys_features=",
            )
        return read_allen_ephys_features(p, **kwargs)
    raise SchemaError(
        f"{p.name} is not an Allen Cell Types table (no specimen__id or specimen_id column)",
        hint="pass the specimen-details CSV, a get_ephys_features() CSV or a CellTypesCache "
        "folder",
    )


def read_allen_specimens(
    path: str | Path,
    *,
    ephys_features: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame] | None = None,
    derive: bool = True,
    on_implausible: str = "drop",
) -> CellTable:
    """Read the specimen-details CSV (``cell_types_specimen_details.csv``).

    Parameters
    ----------
    path:
        The CSV downloaded from the Cell Types Database ("download all cells").
    ephys_features:
        Optional per-cell feature table(s) (``get_ephys_features()`` output such as
        ``ephys_features.csv``, ``all_features.csv`` or ``aibs_aggregated_ephys_v10.csv``),
        path or DataFrame, joined on the specimen id; see :func:`allen_table`.
    derive:
        Add distance to threshold and capacitance (see ``CellTable.with_derived``).
    on_implausible:
        Passed to :class:`CellTable`.
    """
    p = existing_file(path, "Allen specimen-details file")
    raw = read_raw(p, low_memory=False)
    if "specimen__id" not in raw.columns:
        raise SchemaError(
            f"{p.name} is not an Allen specimen-details table (no 'specimen__id' column)",
            hint="for a get_ephys_features() table use read_allen_ephys_features(); for a "
            "CellTypesCache folder use read_allen_cache()",
        )
    return allen_table(raw, ephys_features=ephys_features, source=str(p), derive=derive,
                       on_implausible=on_implausible)


def read_allen_ephys_features(
    path: str | Path | pd.DataFrame, *, derive: bool = True, on_implausible: str = "drop"
) -> CellTable:
    """Read a ``get_ephys_features()`` table on its own (ids + features; labels only if the
    table also carries ``get_cells()`` metadata columns, e.g. ``aibs_aggregated_ephys_v10``).
    """
    if isinstance(path, pd.DataFrame):
        raw, src = path, "ephys features DataFrame"
    else:
        p = existing_file(path, "Allen ephys-features file")
        raw, src = read_raw(p, low_memory=False), str(p)
    return allen_table(raw, source=src, derive=derive, on_implausible=on_implausible)


def read_allen_cache(
    cache: str | Path,
    *,
    use_allensdk: bool | None = None,
    ephys_features: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame] | None = None,
    derive: bool = True,
    on_implausible: str = "drop",
) -> CellTable:
    """Read an existing CellTypesCache directory (offline).

    Parameters
    ----------
    cache:
        The cache directory (holding ``manifest.json``) or the manifest file itself.
    use_allensdk:
        ``True``: read through ``allensdk.core.cell_types_cache.CellTypesCache`` (needs the
        ``allen`` extra); ``False``: read ``cells.json`` and ``ephys_features.csv`` directly;
        ``None`` (default): allensdk when installed, else the files.
    ephys_features:
        Extra feature table(s) to join (besides the cache's own ``ephys_features.csv``).

    Nothing is downloaded: when ``cells.json`` is absent this raises
    :class:`~hetfit.errors.InputFileError` instead of letting allensdk fetch it.
    """
    manifest, cells_path, feats_path = _cache_paths(Path(cache).expanduser())
    if use_allensdk is None:
        try:
            import allensdk  # noqa: F401

            use_allensdk = manifest is not None
        except ImportError:
            use_allensdk = False
    extra = _as_list(ephys_features)
    if use_allensdk:
        if manifest is None:
            raise InputFileError(
                f"no CellTypesCache manifest in {cache}",
                hint="pass the cache folder that holds manifest.json, or use_allensdk=False",
            )
        records, feats = _read_with_allensdk(manifest, feats_path)
        src = f"{cache} (allensdk CellTypesCache)"
    else:
        records = _read_cells_json(cells_path)
        feats = None
        if feats_path is not None and feats_path.exists():
            feats = read_raw(feats_path, low_memory=False)
        src = f"{cache} (cache files)"
    cells = pd.DataFrame.from_records(records)
    tables = ([feats] if feats is not None else []) + extra
    table = allen_table(cells, ephys_features=tables or None, source=src, derive=derive,
                        on_implausible=on_implausible)
    if feats is None:
        table.report.note("cache has no ephys_features.csv: features from cells.json only")
    return table


def allen_table(
    cells: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    ephys_features: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame] | None = None,
    source: str = "Allen cells",
    derive: bool = True,
    on_implausible: str = "drop",
) -> CellTable:
    """Map Allen records (specimen details, simplified ``get_cells()``, or
    ``get_ephys_features()`` rows) to a :class:`CellTable`, joining feature tables.

    Features present both in ``cells`` and a feature table keep the ``cells`` value; the
    number of cells where the two disagree is noted in the report.  Feature rows for
    specimens not in ``cells`` are not added (counted in a note).  Duplicated specimen rows
    in a feature table keep the first row (counted in a note).
    """
    df = cells if isinstance(cells, pd.DataFrame) else pd.DataFrame.from_records(list(cells))
    if len(df.columns) == 0:
        raise SchemaError(f"{source}: no columns (empty Allen table)")
    rep = TableReport(source=source, rows_read=len(df))
    frame = _map_allen_frame(df, rep, source)
    frame = _drop_identical_duplicates(frame, rep)
    for i, extra in enumerate(_as_list(ephys_features)):
        frame = _join_features(frame, extra, rep, label=f"feature table {i + 1}")
    table = CellTable(frame, report=rep, on_duplicate="raise", on_implausible=on_implausible)
    return table.with_derived() if derive else table


# ----------------------------------------------------------------------------------------
# Mapping
# ----------------------------------------------------------------------------------------


def _map_allen_frame(df: pd.DataFrame, rep: TableReport, source: str) -> pd.DataFrame:
    cols = set(df.columns)
    out = pd.DataFrame(index=df.index)
    if "specimen__id" in cols:
        labels, extras, feats = SPECIMEN_LABELS, SPECIMEN_EXTRAS, {
            k: (v, 1.0) for k, v in SPECIMEN_FEATURES.items()
        }
        feats = {**{k: v for k, v in EPHYS_FEATURES.items() if k in cols}, **feats}
        fmt = "specimen details"
    elif "specimen_id" in cols:
        labels = {"specimen_id": "cell_id", **SIMPLE_LABELS}
        extras, feats, fmt = SIMPLE_EXTRAS, EPHYS_FEATURES, "ephys features"
    elif {"id", "structure_layer_name"} <= cols:
        labels = {"id": "cell_id", **SIMPLE_LABELS}
        extras, feats, fmt = SIMPLE_EXTRAS, EPHYS_FEATURES, "simplified get_cells()"
    else:
        raise SchemaError(
            f"{source}: not an Allen Cell Types table (no specimen__id, specimen_id or id column)",
            hint="expected the specimen-details CSV, cells.json, or get_ephys_features() output",
        )
    rep.note(f"Allen format: {fmt}")
    for src, dst in labels.items():
        if src in cols:
            out[dst] = text_column(df[src])
    if "species" in out.columns:
        out["species"] = pd.Series([_species(v) for v in out["species"].tolist()],
                                   index=out.index, dtype=object)
    out["dataset"] = pd.Series([DATASET] * len(df), index=df.index, dtype=object)
    for src, dst in extras.items():
        if src in cols and dst not in out.columns:
            s = df[src]
            out[dst] = s if pd.api.types.is_numeric_dtype(s) else text_column(s)
    for src, (dst, factor) in feats.items():
        if src in cols and dst not in out.columns:
            values = numeric_column(df[src], f"{dst} (Allen column {src!r})")
            if src == "latency":
                factor = _latency_factor(values, rep, source)
            out[dst] = values * factor
    if {"peak_v_long_square", "threshold_v_long_square"} <= cols:
        amp = numeric_column(df["peak_v_long_square"], "peak_v_long_square") - numeric_column(
            df["threshold_v_long_square"], "threshold_v_long_square"
        )
        out["ap_amplitude_mV"] = amp
        rep.note("ap_amplitude_mV = peak_v_long_square - threshold_v_long_square")
    return out


def _drop_identical_duplicates(frame: pd.DataFrame, rep: TableReport) -> pd.DataFrame:
    """Feature tables repeat a specimen when it has several models (all_features.csv);
    repeated rows with identical mapped values are dropped and counted, conflicting ones are
    left for CellTable to reject."""
    ids = frame["cell_id"]
    dup = ids.duplicated(keep=False) & ids.notna()
    if not dup.any():
        return frame
    same = frame[dup].astype(str).duplicated(keep="first")
    drop = pd.Series(False, index=frame.index)
    drop[same[same].index] = True
    rep.drop("repeated specimen row with identical values", int(drop.sum()))
    return frame[~drop]


def _latency_factor(values: pd.Series, rep: TableReport, source: str) -> float:
    """The database's latency unit changed between releases: ms in the 2017-2018
    ``ephys_features`` (values ~10-1000), seconds later (~0.01-1).  Decide per table."""
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    if len(finite) and float(finite.median()) > 5.0:
        rep.note(f"{Path(source).name}: latency is in ms in this release (median "
                 f"{float(finite.median()):.3g}); used as ms")
        return 1.0
    return 1e3


def _join_features(
    frame: pd.DataFrame, extra: str | Path | pd.DataFrame, rep: TableReport, label: str
) -> pd.DataFrame:
    if isinstance(extra, pd.DataFrame):
        raw, name = extra, label
    else:
        p = existing_file(extra, "Allen ephys-features file")
        raw, name = read_raw(p, low_memory=False), p.name
    if "specimen_id" not in raw.columns:
        raise SchemaError(
            f"{name} has no 'specimen_id' column, so it cannot be joined to Allen cells",
            hint="pass get_ephys_features() output (ephys_features.csv, all_features.csv ...)",
        )
    sub_rep = TableReport(source=name, rows_read=len(raw))
    feats = _map_allen_frame(raw, sub_rep, name)
    feats = feats.drop(columns=[c for c in feats.columns if c not in _feature_cols(feats)
                                and c != "cell_id"])
    feats = feats[feats["cell_id"].notna()]
    dup = feats["cell_id"].duplicated(keep="first")
    if dup.any():
        rep.note(f"{name}: {int(dup.sum())} duplicated specimen row(s); first kept")
        feats = feats[~dup]
    known = set(frame["cell_id"].dropna())
    unknown = int((~feats["cell_id"].isin(known)).sum())
    if unknown:
        rep.note(f"{name}: {unknown} row(s) for specimens not in the cell table, not added")
    feats = feats.set_index("cell_id")
    ids = frame["cell_id"]
    matched = int(ids.isin(feats.index).sum())
    rep.note(f"{name}: joined on specimen id, {matched} of {len(frame)} cells matched")
    out = frame.copy()
    for f in feats.columns:
        vals = ids.map(feats[f]).astype(float)
        if f in out.columns:
            cur = out[f].astype(float)
            both = cur.notna() & vals.notna()
            differ = both & ~np.isclose(cur, vals, rtol=1e-6, atol=1e-9)
            if differ.any():
                rep.note(f"{name}: {f} differs from the cell table for {int(differ.sum())} "
                         "cell(s); cell-table value kept")
            out[f] = cur.where(cur.notna(), vals)
        else:
            out[f] = vals
    return out


def _feature_cols(df: pd.DataFrame) -> list[str]:
    from hetfit.data_adapters.schema import FEATURES

    return [c for c in df.columns if c in FEATURES]


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (str, Path, pd.DataFrame)):
        return [x]
    return list(x)


# ----------------------------------------------------------------------------------------
# CellTypesCache files
# ----------------------------------------------------------------------------------------


def _cache_paths(cache: Path) -> tuple[Path | None, Path, Path | None]:
    """(manifest, cells.json, ephys_features.csv) of a cache folder or manifest file."""
    if not cache.exists():
        raise InputFileError(f"CellTypesCache folder not found: {cache}",
                             hint="check the path (the folder that holds manifest.json)")
    if cache.is_file():
        manifest: Path | None = cache
        base = cache.parent
    else:
        base = cache
        manifest = next((base / n for n in ("manifest.json", "cell_types_manifest.json")
                         if (base / n).is_file()), None)
    cells, feats = base / "cells.json", base / "ephys_features.csv"
    if manifest is not None:
        specs = _manifest_files(manifest)
        cells = specs.get("CELLS", cells)
        feats = specs.get("EPHYS_FEATURES", feats)
    if not cells.is_file():
        raise InputFileError(
            f"no cells.json in the CellTypesCache at {cache}",
            hint="hetfit reads caches offline and never downloads; run "
            "CellTypesCache(manifest_file=...).get_cells() once with network access, or use "
            "read_allen_specimens() on the specimen-details CSV",
        )
    return manifest, cells, feats


def _manifest_files(manifest: Path) -> dict[str, Path]:
    """Resolve the file entries of an allensdk manifest.json (key -> path)."""
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        entries = doc["manifest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(
            f"{manifest} is not a readable allensdk manifest ({type(exc).__name__}: {exc})",
            hint="delete it and let CellTypesCache rebuild it, or pass use_allensdk=False",
        ) from exc
    by_key = {e.get("key"): e for e in entries if isinstance(e, dict) and "key" in e}

    def resolve(key: str, depth: int = 0) -> Path:
        e = by_key[key]
        spec = str(e.get("spec", "."))
        parent = e.get("parent_key")
        if parent and parent in by_key and depth < 20:
            return resolve(parent, depth + 1) / spec
        return manifest.parent / spec

    out = {}
    for key in ("CELLS", "EPHYS_FEATURES"):
        if key in by_key:
            out[key] = resolve(key)
    return out


def _read_cells_json(path: Path) -> list[dict]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"cannot read {path}: {type(exc).__name__}: {exc}",
            hint="the file may be truncated; delete it and re-create the cache with network "
            "access",
        ) from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputFileError(
            f"{path} is not a list of cell records",
            hint="expected the cells.json written by allensdk CellTypesCache.get_cells()",
        )
    return records


def _read_with_allensdk(manifest: Path, feats_path: Path | None) -> tuple[list[dict], Any]:
    require("allensdk", "allen", "Reading a CellTypesCache with allensdk")
    from allensdk.core.cell_types_cache import CellTypesCache

    try:
        ctc = CellTypesCache(manifest_file=str(manifest))
        # simple=False keeps every specimen-details field (donor, disease state, ef__*).
        records = ctc.get_cells(simple=False)
        feats = None
        if feats_path is not None and feats_path.exists():
            feats = pd.DataFrame.from_records(ctc.get_ephys_features())
    except Exception as exc:
        # allensdk raises its own types (e.g. ManifestVersionError for an old manifest)
        ours = isinstance(exc, (OSError, ValueError, KeyError))
        if not ours and not type(exc).__module__.startswith("allensdk"):
            raise
        raise InputFileError(
            f"allensdk could not read the cache at {manifest.parent}: {type(exc).__name__}: "
            f"{' '.join(str(exc).split())}",
            hint="try use_allensdk=False, or rebuild the cache",
        ) from exc
    return list(records), feats
