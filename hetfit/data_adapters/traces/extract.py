"""Public entry points: recordings (NWB/ABF paths or sweeps) -> per-cell features -> cell table.

>>> from hetfit.data_adapters.traces import extract_cell_features, cell_table_from_recordings
>>> cell = extract_cell_features("cell1.abf")                 # doctest: +SKIP
>>> cell["rheobase_pA"].value, cell["rheobase_pA"].flag       # doctest: +SKIP
>>> table = cell_table_from_recordings(["cell1.abf", "cell2.nwb"],
...                                    constant_labels={"species": "mouse"})  # doctest: +SKIP

The table is a :class:`~hetfit.data_adapters.celltable.CellTable` with the canonical feature
columns, one ``qc_<feature>`` flag column (``ok``/``warn``/``missing``) and one
``qc_reason_<feature>`` column per feature, ``source`` and ``n_sweeps``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from hetfit.data_adapters.traces.features import CellFeatures, FeatureSettings, compute_features
from hetfit.data_adapters.traces.sweeps import StepProtocol, SweepSet
from hetfit.errors import HetfitError, InputFileError, ParameterError, SchemaError

PathLike = str | os.PathLike
_SUFFIXES = {".nwb": "nwb", ".abf": "abf"}


def read_sweeps(
    path: PathLike,
    protocol: StepProtocol | None = None,
    channel: int | None = None,
    electrode: str | None = None,
    cell_id: str | None = None,
) -> SweepSet:
    """Read a ``.nwb`` or ``.abf`` current-clamp file (format chosen by the suffix).

    ``channel`` applies to ABF files, ``electrode`` to NWB files; see
    :func:`~hetfit.data_adapters.traces.abf.read_abf` and
    :func:`~hetfit.data_adapters.traces.nwb.read_nwb`.
    """
    p = Path(path)
    kind = _SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputFileError(
            f"cannot tell the format of {p.name!r} from its suffix",
            hint="hetfit reads current-clamp recordings from .nwb (NWB 2) and .abf (Axon) files",
        )
    if kind == "abf":
        if electrode is not None:
            raise ParameterError("electrode= applies to NWB files; ABF files take channel=")
        from hetfit.data_adapters.traces.abf import read_abf

        return read_abf(p, channel=channel, protocol=protocol, cell_id=cell_id)
    if channel is not None:
        raise ParameterError("channel= applies to ABF files; NWB files take electrode=")
    from hetfit.data_adapters.traces.nwb import read_nwb

    return read_nwb(p, protocol=protocol, electrode=electrode, cell_id=cell_id)


def extract_cell_features(
    path_or_sweeps: PathLike | SweepSet,
    settings: FeatureSettings | None = None,
    protocol: StepProtocol | None = None,
    channel: int | None = None,
    electrode: str | None = None,
    cell_id: str | None = None,
) -> CellFeatures:
    """Per-cell features with quality flags from one recording or a :class:`SweepSet`.

    Parameters
    ----------
    path_or_sweeps:
        ``.nwb`` / ``.abf`` file, or sweeps already read (e.g. from
        :meth:`SweepSet.from_arrays`).
    settings:
        :class:`FeatureSettings` (detection thresholds, windows, QC limits).
    protocol, channel, electrode, cell_id:
        Passed to the reader (see :func:`read_sweeps`).

    Returns
    -------
    CellFeatures
        ``result["rheobase_pA"].value / .flag / .reason`` for every canonical feature;
        ``result.to_dict()`` (JSON-ready), ``result.to_row()`` (flat dict) and
        ``result.to_frame()`` (one-row DataFrame).
    """
    if isinstance(path_or_sweeps, SweepSet):
        if any(x is not None for x in (protocol, channel, electrode)):
            raise ParameterError("protocol/channel/electrode apply to files, not to a SweepSet")
        sweeps = path_or_sweeps
        if cell_id:
            from dataclasses import replace

            sweeps = replace(sweeps, cell_id=cell_id)
    elif isinstance(path_or_sweeps, (str, os.PathLike)):
        sweeps = read_sweeps(path_or_sweeps, protocol=protocol, channel=channel,
                             electrode=electrode, cell_id=cell_id)
    else:
        raise ParameterError(
            f"expected a path or a SweepSet, got {type(path_or_sweeps).__name__}",
            hint="pass the path of a .nwb/.abf file or SweepSet.from_arrays(...)",
        )
    return compute_features(sweeps, settings)


def _label_columns() -> tuple[str, ...]:
    from hetfit.data_adapters.schema import ID_COLUMNS, LABEL_COLUMNS

    return tuple(c for c in ID_COLUMNS if c != "cell_id") + tuple(LABEL_COLUMNS)


def _check_label_keys(keys: Iterable[str], where: str) -> None:
    allowed = _label_columns()
    bad = sorted(set(keys) - set(allowed))
    if bad:
        raise SchemaError(
            f"{where}: unknown label column(s) {bad}",
            hint=f"use {list(allowed)}; free-form labels go in 'cell_type'",
        )


def cell_table_from_recordings(
    paths: Sequence[PathLike] | PathLike,
    labels: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]] | None = None,
    constant_labels: Mapping[str, Any] | None = None,
    settings: FeatureSettings | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    channel: int | None = None,
    electrode: str | None = None,
):
    """Extract features from many recordings (one cell each) into a cell table.

    Parameters
    ----------
    paths:
        ``.nwb`` / ``.abf`` files, or a folder (all such files in it, sorted).
    labels:
        Per-cell labels: a mapping ``{path or cell id: {label: value}}`` or a sequence of
        dicts aligned with ``paths``.  Keys are the schema's label columns (``donor_id``,
        ``species``, ``layer``, ``disease_state``, ``cell_type`` ...).
    constant_labels:
        Labels shared by every row (e.g. ``{"species": "human", "dataset": "lab A"}``).
    settings:
        :class:`FeatureSettings`.
    on_error:
        ``"raise"``: an unreadable recording stops the build (its error names the file);
        ``"skip"``: it is left out and counted in ``table.report`` with the reason.
    channel, electrode:
        Passed to the ABF / NWB reader for every file.

    Returns
    -------
    CellTable
        Canonical feature columns plus ``qc_<feature>``, ``qc_reason_<feature>``, ``source``
        and ``n_sweeps``; the report counts files read, kept and skipped.
    """
    import pandas as pd

    from hetfit.data_adapters.celltable import CellTable, TableReport

    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    path_list = _expand(paths)
    per_cell = _per_cell_labels(labels, path_list)
    if constant_labels:
        _check_label_keys(constant_labels, "constant_labels")
    report = TableReport(source=f"{len(path_list)} recording(s)", rows_read=len(path_list))
    rows, seen = [], {}
    for p, lab in zip(path_list, per_cell):
        try:
            sweeps = read_sweeps(p, channel=channel if Path(p).suffix.lower() == ".abf" else None,
                                 electrode=electrode if Path(p).suffix.lower() == ".nwb" else None)
            cell = compute_features(sweeps, settings)
        except HetfitError as exc:
            if on_error == "raise":
                raise
            report.drop(f"unreadable recording ({type(exc).__name__})", 1)
            report.note(f"skipped {Path(p).name}: {exc.one_line()}")
            continue
        row = cell.to_row()
        cid = str(row["cell_id"])
        if cid in seen:  # same file stem in two folders
            cid = f"{Path(p).parent.name}/{cid}"
        seen[cid] = p
        row["cell_id"] = cid
        row["n_sweeps"] = len(sweeps)
        row.update(dict(constant_labels or {}))
        row.update(lab)
        rows.append(row)
        warned = [k for k, f in cell.features.items() if f.flag != "ok"]
        if warned:
            report.note(f"{cid}: not ok: " + ", ".join(
                f"{k} ({cell.features[k].flag})" for k in warned))
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame({"cell_id": pd.Series([], dtype=object)})
    return CellTable(frame, report=report, drop_featureless=True)


def _expand(paths: Sequence[PathLike] | PathLike) -> list[Path]:
    """Files to read: folders (alone or inside a list) become their .nwb/.abf files."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise InputFileError("no recordings given", hint="pass a list of .nwb/.abf paths")
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in _SUFFIXES)
            if not found:
                raise InputFileError(f"no .nwb or .abf files in folder {p}")
            out.extend(found)
        else:
            out.append(p)
    return out


def _per_cell_labels(labels, paths: list[Path]) -> list[dict[str, Any]]:
    """The labels of each path (a dict per path, empty when none given)."""
    if labels is None:
        return [{} for _ in paths]
    if isinstance(labels, Mapping):
        for key, lab in labels.items():
            if not isinstance(lab, Mapping):
                raise SchemaError(
                    f"labels[{key!r}] must be a dict of label -> value",
                    hint="use constant_labels={...} for labels shared by every cell",
                )
            _check_label_keys(lab, f"labels[{key!r}]")
        keyed = {str(k): dict(v) for k, v in labels.items()}
        known = {str(p) for p in paths} | {p.stem for p in paths} | {p.name for p in paths}
        unknown = sorted(set(keyed) - known)
        if unknown:
            raise SchemaError(f"labels given for unknown recording(s) {unknown[:5]}",
                              hint="key labels by the path, file name or file stem")
        return [keyed.get(str(p)) or keyed.get(p.name) or keyed.get(p.stem) or {}
                for p in paths]
    labels = list(labels)
    if len(labels) != len(paths):
        raise SchemaError(f"{len(labels)} label entries for {len(paths)} recordings",
                          hint="give one dict of labels per path, in the same order")
    for k, lab in enumerate(labels):
        _check_label_keys(lab, f"labels[{k}]")
    return [dict(lab) for lab in labels]
