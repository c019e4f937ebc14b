"""Allen Cell Types: the three read paths on the same data (specimen-details CSV, an offline
CellTypesCache folder read from its files, and the same folder read with allensdk when it is
installed) -- timings and a check that the tables are identical.

Usage (allensdk lives in the old-end environment)::

    python benchmarks/data_allen_cache.py [--root ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from hetfit.data_adapters.allen import read_allen_cache, read_allen_specimens

MANIFEST_FILES = {"CELLS": "cells.json", "EPHYS_FEATURES": "ephys_features.csv"}


def build_cache(folder: Path, specimens_csv: Path, ephys_csv: Path) -> None:
    raw = pd.read_csv(specimens_csv, low_memory=False)
    records = [{k: (None if isinstance(v, float) and v != v else
                    v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
               for rec in raw.astype(object).to_dict("records")]
    (folder / "cells.json").write_text(json.dumps(records))  # exact floats, NaN -> null
    entries = [{"type": "manifest_version", "value": "1.1"},
               {"key": "BASEDIR", "type": "dir", "spec": "."}]
    entries += [{"key": k, "type": "file", "spec": v, "parent_key": "BASEDIR"}
                for k, v in MANIFEST_FILES.items()]
    (folder / "manifest.json").write_text(json.dumps({"manifest": entries}))
    shutil.copy(ephys_csv, folder / "ephys_features.csv")


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    spec = Path(args.root) / "allen_cell_types" / "cell_types_specimen_details.csv"
    feats = Path(args.root) / "allen_cell_types" / "ephys_features.csv"
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        build_cache(cache, spec, feats)
        csv, t_csv = timed(lambda: read_allen_specimens(spec, ephys_features=feats), args.repeat)
        files, t_files = timed(lambda: read_allen_cache(cache, use_allensdk=False), args.repeat)
        rows = [("specimen CSV + ephys_features.csv", csv, t_csv),
                ("CellTypesCache files (no allensdk)", files, t_files)]
        try:
            import allensdk

            sdk, t_sdk = timed(lambda: read_allen_cache(cache, use_allensdk=True), args.repeat)
            rows.append((f"CellTypesCache via allensdk {allensdk.__version__}", sdk, t_sdk))
        except ImportError:
            print("allensdk not installed: allensdk path skipped")
    print(f"pandas {pd.__version__}")
    print(f"| path | cells | identical to CSV path | time (s, median of {args.repeat}) |")
    print("|---|---|---|---|")
    for name, table, t in rows:
        same = table.data.equals(csv.data)
        print(f"| {name} | {table.n_cells} | {same} | {t:.3f} |")


if __name__ == "__main__":
    main()
