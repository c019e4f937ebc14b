"""Spread comparison: calibration of the tests under the null, interval coverage, and what the
public data show.

1. Null calibration with donor effects (equal widths, different locations): rejection rate at
   alpha = 0.05 of the donor-level permutation test, Brown-Forsythe and Fligner-Killeen
   (the latter two treat cells as independent).
2. Coverage of the 95% interval for the width ratio (true ratio 0.6).
3. Real data: Rich et al. 2022 (DTT and threshold, epileptogenic vs temporal
   non-epileptogenic) and Allen human cells (epilepsy vs tumor donors, spiny and aspiny).

    python benchmarks/validate_spread_tests.py --reps 500 --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hetfit.distributions.compare import (
    brown_forsythe,
    compare_spread,
    fligner_killeen,
    permutation_spread_test,
)


def two_conditions(rng, w_a, w_b, n_donors=(10, 10), donor_sd=1.0, shift=5.0):
    out = []
    for k, (w, nd) in enumerate(zip((w_a, w_b), n_donors)):
        sizes = rng.integers(3, 9, size=nd)
        codes = np.repeat(np.arange(nd), sizes)
        x = -40 + k * shift + rng.normal(0, donor_sd * w, nd)[codes] + rng.normal(0, w, codes.size)
        out += [x, np.array([f"{k}-{c}" for c in codes], dtype=object)]
    return out


def null_calibration(reps, donor_sd, seed=0):
    rng = np.random.default_rng(seed)
    rej = {"permutation": 0, "brown_forsythe": 0, "fligner_killeen": 0}
    for r in range(reps):
        xa, da, xb, db = two_conditions(rng, 3.0, 3.0, (8, 12), donor_sd)
        rej["permutation"] += permutation_spread_test(xa, xb, da, db, n_perm=499,
                                                      seed=r).pvalue <= 0.05
        rej["brown_forsythe"] += brown_forsythe(xa, xb).pvalue <= 0.05
        rej["fligner_killeen"] += fligner_killeen(xa, xb).pvalue <= 0.05
    return {k: v / reps for k, v in rej.items()}


def ratio_coverage(reps, n_donors, seed=1):
    rng = np.random.default_rng(seed)
    hits = 0
    for r in range(reps):
        xa, da, xb, db = two_conditions(rng, 3.0, 1.8, (n_donors, n_donors))
        hits += compare_spread(xa, xb, da, db, n_boot=1000, n_perm=99, seed=r).ratio.contains(0.6)
    return hits / reps


def real_data(root: Path):
    from hetfit.data_adapters import load_dataset

    rows = []
    rich = load_dataset("rich2022", root / "rich2022_human_l5").data
    epi = rich[rich.disease_state == "epileptogenic"]
    non = rich[(rich.disease_state == "non-epileptogenic") & (rich.region == "temporal")]
    for feat in ("distance_to_threshold_mV", "v_threshold_mV"):
        res = compare_spread(non[feat], epi[feat], n_boot=4000, n_perm=9999, seed=0,
                             labels=("non-epileptogenic (temporal)", "epileptogenic"))
        rows.append(("rich2022 L5 pyramidal", feat, res))
    allen = load_dataset("allen_cell_types", root / "allen_cell_types_ephys_full").data
    human = allen[allen.species == "human"]
    for dend in ("spiny", "aspiny"):
        sub = human[human.dendrite_type == dend]
        a, b = sub[sub.disease_state == "tumor"], sub[sub.disease_state == "epilepsy"]
        for feat in ("v_threshold_mV", "distance_to_threshold_mV"):
            res = compare_spread(a[feat], b[feat], a.donor_id.to_numpy(object),
                                 b.donor_id.to_numpy(object), n_boot=4000, n_perm=9999,
                                 seed=0, labels=("tumor", "epilepsy"))
            rows.append((f"allen human {dend}", feat, res))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    for donor_sd in (0.0, 0.5, 1.0):
        print(json.dumps({"null_rejection_at_0.05": null_calibration(args.reps, donor_sd),
                          "donor_sd_relative": donor_sd, "reps": args.reps}), flush=True)
    for nd in (8, 15, 30):
        print(json.dumps({"ratio_ci_coverage": ratio_coverage(args.reps, nd),
                          "donors_per_condition": nd, "reps": args.reps}), flush=True)
    for name, feat, res in real_data(Path(args.data)):
        d = res.to_dict()
        print(json.dumps({
            "data": name, "feature": feat, "contrast": d["contrast"],
            "n_cells": d["n_cells"], "n_donors": d["n_donors"],
            "sd_a": round(res.width_a.estimate, 2), "sd_b": round(res.width_b.estimate, 2),
            "ratio": round(res.ratio.estimate, 3),
            "ratio_ci": [round(res.ratio.low, 3), round(res.ratio.high, 3)],
            "p_permutation": res.tests["permutation"].pvalue,
            "p_brown_forsythe": round(res.tests["brown_forsythe"].pvalue, 4),
            "p_fligner": round(res.tests["fligner_killeen"].pvalue, 4),
            "unit": res.resampling_unit}), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
