"""Per-type distribution presets shipped with hetfit (work offline).

Each file ``hetfit/presets/<collection>.json`` is an :class:`EstimateResult` computed by
hetfit itself from public data (see ``hetfit/presets/PROVENANCE.md``; regenerate with
``python benchmarks/make_presets.py``).  A preset is addressed as ``collection:type``, e.g.
``allen_human:epilepsy-spiny``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hetfit.errors import InputFileError, ParameterError


def preset_dir() -> Path:
    """Folder holding the preset JSON files."""
    return Path(__file__).resolve().parents[1] / "presets"


def _collections() -> dict[str, Path]:
    d = preset_dir()
    return {p.stem: p for p in sorted(d.glob("*.json"))} if d.is_dir() else {}


def load_preset(collection: str):
    """The :class:`~hetfit.distributions.estimate.EstimateResult` of one preset collection."""
    from hetfit.distributions.estimate import EstimateResult

    cols = _collections()
    if collection not in cols:
        raise InputFileError(
            f"no preset collection {collection!r}",
            hint=f"available: {sorted(cols)} (see 'hetfit params --list-presets')",
        )
    return EstimateResult.load(cols[collection])


def preset_group(name: str):
    """``(EstimateResult, GroupEstimate)`` for a preset name ``collection:type``."""
    if ":" not in name:
        raise ParameterError(
            f"preset names look like 'collection:type', got {name!r}",
            hint="list them with 'hetfit params --list-presets'",
        )
    collection, group = name.split(":", 1)
    est = load_preset(collection)
    try:
        return est, est.group(group)
    except ParameterError:
        raise ParameterError(
            f"no type {group!r} in preset collection {collection!r}",
            hint=f"types: {[g.name for g in est.groups]}",
        ) from None


def list_presets() -> list[dict[str, Any]]:
    """One record per preset type: name, labels, cells, donors, features fitted."""
    out = []
    for collection in _collections():
        est = load_preset(collection)
        for g in est.groups:
            fitted = [f for f, fe in g.features.items() if fe.ok]
            out.append({"name": f"{collection}:{g.name}", "collection": collection,
                        "labels": g.labels, "n_cells": g.n_cells, "n_donors": g.n_donors,
                        "features_fitted": fitted,
                        "source": (est.provenance or {}).get("dataset")})
    return out
