"""Regenerate hetfit's shipped per-type presets from the Allen Cell Types data.

    python benchmarks/make_presets.py [--data ../shared/data] [--out hetfit/presets]

Reads ``allen_cell_types_ephys_full/`` (specimen details + the two per-cell feature tables)
through :func:`hetfit.data_adapters.read_allen_specimens`, estimates per-type distributions
with :class:`hetfit.distributions.WidthEstimator` (donor-level bootstrap), and writes one
compact JSON per collection plus ``PROVENANCE.md`` (inputs with SHA-1, date, hetfit version,
settings, this command).  Collections:

- ``allen_human``: human cells by donor disease state (epilepsy / tumor) x dendrite type.
- ``allen_human_layers``: human spiny and aspiny cells by disease state x layer group
  (L2/3 = layers 2 and 3; L4; L5; L6).
- ``allen_mouse``: mouse cells by dendrite type.
- ``allen_mouse_lines``: mouse cells by Cre line (lines with >= 50 cells).

Types below the estimator's minimum cells/donors are kept in the files with their status
(too_few_cells / too_few_donors), never fitted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FEATURES = [
    "v_rest_mV", "v_threshold_mV", "distance_to_threshold_mV", "rheobase_pA", "tau_m_ms",
    "r_input_MOhm", "capacitance_pF", "sag", "adaptation",
]
SETTINGS = dict(n_boot=2000, n_gof=200, level=0.95, min_cells=10, min_donors=5, seed=20240601)
FILES = ("cell_types_specimen_details.csv", "all_features.csv", "aibs_aggregated_ephys_v10.csv")


def sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def round_floats(obj, digits: int = 6):
    """Round every float to ``digits`` significant digits (presets stay small)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_floats(v, digits) for v in obj]
    return obj


def layer_group(v):
    s = str(v)
    if s in ("2", "3", "2/3"):
        return "L2_3"
    if s in ("6", "6a", "6b"):
        return "L6"
    return f"L{s}" if s not in ("nan", "None") else None


def main() -> int:
    ap = argparse.ArgumentParser(description="regenerate hetfit/presets from the Allen data")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "hetfit" / "presets"))
    ap.add_argument("--quick", action="store_true", help="small n_boot/n_gof (for testing)")
    args = ap.parse_args()


    from hetfit import __version__
    from hetfit.data_adapters import CellTable, read_allen_specimens
    from hetfit.distributions import WidthEstimator
    from hetfit.io import atomic_write_text, dumps

    folder = Path(args.data) / "allen_cell_types_ephys_full"
    spec, *feats = (folder / f for f in FILES)
    table = read_allen_specimens(spec, ephys_features=feats)
    settings = dict(SETTINGS)
    if args.quick:
        settings.update(n_boot=200, n_gof=0)
    df = table.data.copy()
    df["layer_group"] = df["layer"].map(layer_group)
    inputs = [{"file": f"allen_cell_types_ephys_full/{p.name}", "sha1": sha1(p),
               "bytes": p.stat().st_size} for p in (spec, *feats)]
    human = df[df.species == "human"]
    mouse = df[df.species == "mouse"]
    lines = mouse.transgenic_line.value_counts()
    big_lines = sorted(lines[lines >= 50].index)
    collections = {
        "allen_human": (human, ["disease_state", "dendrite_type"]),
        "allen_human_layers": (human[human.dendrite_type.isin(["spiny", "aspiny"])],
                               ["disease_state", "dendrite_type", "layer_group"]),
        "allen_mouse": (mouse, ["dendrite_type"]),
        "allen_mouse_lines": (mouse[mouse.transgenic_line.isin(big_lines)],
                              ["transgenic_line"]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/make_presets.py" + (" --quick" if args.quick else "")
    rows = []
    for name, (frame, group_by) in collections.items():
        t0 = time.perf_counter()
        sub = CellTable(frame.reset_index(drop=True), source=f"{spec} ({name} subset)")
        est = WidthEstimator(FEATURES, group_by=group_by, **settings).fit(sub)
        est.provenance.update({
            "dataset": "Allen Cell Types Database (Allen Institute for Brain Science)",
            "inputs": inputs, "collection": name, "command": command,
            "selection": {"species": "human" if "human" in name else "mouse",
                          "group_by": group_by},
        })
        est.provenance.pop("table_report", None)  # keeps presets small; counts are per type
        path = out / f"{name}.json"
        doc = round_floats(json.loads(dumps(est.to_dict(), indent=None)))
        atomic_write_text(path, json.dumps(doc, separators=(",", ":")) + "\n")
        n_ok = sum(g[f].ok for g in est.groups for f in FEATURES)
        rows.append((name, len(est.groups), n_ok, path.stat().st_size,
                     time.perf_counter() - t0, group_by))
        print(f"{name}: {len(est.groups)} types, {n_ok} fitted (type, feature) pairs, "
              f"{path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    today = dt.date.today().isoformat()
    lines_md = [
        "# Presets: provenance",
        "",
        "Per-type distributions of intrinsic features, computed by hetfit itself from the Allen",
        "Cell Types Database (Allen Institute for Brain Science, celltypes.brain-map.org; Allen",
        "terms of use apply, attribution: \"Allen Institute for Brain Science. Allen Cell Types",
        "Database.\"). Only derived numbers are stored here, never the raw tables.",
        "",
        f"- Generated: {today} with hetfit {__version__}",
        f"- Command: `{command}` (from the repository root; data folder `../shared/data`)",
        f"- Estimator settings: {settings}, families gaussian / lognormal / lorentzian / "
        "lorentzian_mix2, donor-level bootstrap (Allen `donor__id`); numbers rounded to 6 "
        "significant digits",
        f"- Features: {', '.join(FEATURES)}",
        "- Inputs (folder `allen_cell_types_ephys_full/`, see its PROVENANCE.md):",
    ]
    for i in inputs:
        lines_md.append(f"  - `{i['file']}` sha1 `{i['sha1']}` ({i['bytes']} bytes)")
    lines_md += ["", "| collection | grouped by | types | fitted (type, feature) | size |",
                 "|---|---|---|---|---|"]
    for name, ng, nok, size, _, gb in rows:
        lines_md.append(f"| {name} | {', '.join(gb)} | {ng} | {nok} | {size / 1024:.0f} KiB |")
    lines_md += [
        "",
        "Use: `hetfit params --preset allen_human:epilepsy-spiny --n 1000 --out params.json` or",
        "`hetfit.params.preset_group('allen_human:epilepsy-spiny')`; list with",
        "`hetfit params --list-presets`.  Layer groups: L2_3 = layers 2 and 3.  Human disease",
        "state is the donor's (epilepsy or tumor surgery), not a property of the tissue sample.",
        "",
    ]
    atomic_write_text(out / "PROVENANCE.md", "\n".join(lines_md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
