"""Wall times of the distribution and parameter pipeline (numba caches warm).

    python benchmarks/bench_distributions_speed.py

Prints one JSON line per measurement: the donor-level bootstrap per statistic (300 cells,
30 donors, 2000 replicates), family fits with and without the parametric-bootstrap KS
(300 cells, 200 replicates), the estimator on the Allen human cells (9 features x 6 types)
and population building (1000 neurons) with and without the simulated calibrations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def timed(fn, repeat=3):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    from hetfit.data_adapters import load_dataset
    from hetfit.distributions import WidthEstimator, bootstrap_ci, fit_family
    from hetfit.params import population_from_estimate

    rng = np.random.default_rng(0)
    donors = np.repeat(np.arange(30), 10)
    x = -40 + rng.normal(0, 1.5, 30)[donors] + 2 * rng.standard_cauchy(300)
    bootstrap_ci(x[:50], donors[:50], ["sd", "iqr", "hwhm_mle"], n_boot=200, seed=0)  # warm
    for stat in ("mean", "sd", "median", "iqr", "mad", "hwhm_mle"):
        t, _ = timed(lambda s=stat: bootstrap_ci(x, donors, [s], n_boot=2000, seed=1))
        print(json.dumps({"bootstrap_ci": stat, "cells": 300, "donors": 30, "n_boot": 2000,
                          "seconds": round(t, 4)}), flush=True)
    fit_family(x[:40], "lorentzian_mix2", n_gof=5)  # warm
    for fam in ("gaussian", "lorentzian", "lorentzian_mix2"):
        for n_gof in (0, 200):
            t, _ = timed(lambda f=fam, g=n_gof: fit_family(x, f, n_gof=g, seed=0), repeat=2)
            print(json.dumps({"fit_family": fam, "cells": 300, "n_gof": n_gof,
                              "seconds": round(t, 3)}), flush=True)
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    table = load_dataset("allen_cell_types", root / "allen_cell_types_ephys_full")
    human = table.select(species="human")
    feats = ["v_rest_mV", "v_threshold_mV", "distance_to_threshold_mV", "rheobase_pA",
             "tau_m_ms", "r_input_MOhm", "capacitance_pF", "sag", "adaptation"]
    for n_gof in (0, 200):
        est = WidthEstimator(feats, group_by=["disease_state", "dendrite_type"], n_boot=2000,
                             n_gof=n_gof, seed=0)
        t, res = timed(lambda e=est: e.fit(human), repeat=1)
        print(json.dumps({"WidthEstimator": "allen human, 9 features x 6 types",
                          "n_boot": 2000, "n_gof": n_gof, "seconds": round(t, 1)}), flush=True)
    population_from_estimate(res, group="epilepsy-spiny", n=20, seed=0)  # warm kernels
    for label, kw in (("izhikevich, all calibrations", {}),
                      ("izhikevich, no adaptation calibration", {"use_adaptation": False}),
                      ("izhikevich, closed form only", {"use_adaptation": False,
                                                        "rheobase": "steady"}),
                      ("lif", {"model": "lif"})):
        t, spec = timed(lambda k=kw: population_from_estimate(res, group="epilepsy-spiny",
                                                              n=1000, seed=0, **k), repeat=1)
        print(json.dumps({"population_from_estimate": label, "n": 1000,
                          "seconds": round(t, 2)}), flush=True)


if __name__ == "__main__":
    main()
