"""Load every public per-cell table through hetfit's adapters: timings, row bookkeeping and the
raw within-type spreads (SD, no model fitting) of spike threshold and distance to threshold.

Usage::

    python benchmarks/data_tables.py [--root ../shared/data] [--repeat 3]

Prints a Markdown table for benchmarks/RESULTS.md (section "## data tables").  The SDs here
are plain sample SDs over cells; estimates with donor-level bootstrap CIs are the job of
``hetfit.distributions``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from hetfit.data_adapters.datasets import DATASETS, load_dataset


def _timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def _sd(table, feature):
    v = table.values(feature) if feature in table.features else np.array([])
    return (len(v), float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"))


CONTRASTS = {
    # dataset -> (selection, grouping label)
    "allen_cell_types": ({"species": "human", "dendrite_type": "spiny"}, "disease_state"),
    "berg2021": ({"species": "human"}, "disease_state"),
    "moradi_chameh2021": ({"layer": "5", "cell_type": "pyramidal"}, "disease_state"),
    "rich2022": ({}, ["region", "disease_state"]),
    "chartrand2023": ({}, "lab"),
    "prince2021": ({}, "cell_type"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, numpy {np.__version__}")
    print()
    print("| dataset | rows read | kept | dropped | implausible values | cells w/o donor | "
          f"load time (s, median of {args.repeat}) |")
    print("|---|---|---|---|---|---|---|")
    tables = {}
    for name in DATASETS:
        t, dt = _timed(lambda n=name: load_dataset(n, root=args.root), args.repeat)
        tables[name] = t
        r = t.report
        no_donor = int(t.data["donor_id"].isna().sum())
        print(f"| {name} | {r.rows_read} | {r.rows_kept} | {r.rows_dropped} | "
              f"{sum(r.implausible_values.values())} | {no_donor} | {dt:.3f} |")
    rich_linked, dt = _timed(
        lambda: load_dataset("rich2022", root=args.root,
                             donors_from=Path(args.root) / "moradi_chameh2021_human_l23_l5"),
        args.repeat,
    )
    print(f"| rich2022 + donors linked from moradi_chameh2021 | {rich_linked.report.rows_read} | "
          f"{rich_linked.report.rows_kept} | 0 | 0 | "
          f"{int(rich_linked.data['donor_id'].isna().sum())} | {dt:.3f} |")

    print()
    print("| dataset | selection | group | cells | donors | SD threshold (mV) | SD DTT (mV) |")
    print("|---|---|---|---|---|---|---|")
    for name, (sel, by) in CONTRASTS.items():
        t = tables[name].select(**sel) if sel else tables[name]
        for key, g in t.groupby(by).items():
            n_thr, sd_thr = _sd(g, "v_threshold_mV")
            n_dtt, sd_dtt = _sd(g, "distance_to_threshold_mV")
            desc = ", ".join(f"{k}={v}" for k, v in sel.items()) or "all"
            labels = [by] if isinstance(by, str) else by
            grp = ", ".join(f"{k}={v}" for k, v in zip(labels, key))
            print(f"| {name} | {desc} | {grp} | {g.n_cells} | {g.n_donors} | "
                  f"{sd_thr:.2f} (n={n_thr}) | {sd_dtt:.2f} (n={n_dtt}) |")


if __name__ == "__main__":
    main()
