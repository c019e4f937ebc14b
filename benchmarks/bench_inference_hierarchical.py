"""Cells + network activity constrain the same width: joint inference on synthetic data.

Uses the E/I posterior trained by ``bench_inference_recovery.py`` (``--fit-dir``).  For each
of ``--n`` synthetic datasets: widths and drives drawn from the prior; one network recording
simulated with them; ``--cells`` "patch-clamp" spike thresholds of RS cells drawn from the
same truncated Lorentzian the network uses (location -40 mV, width Delta_v(E), range
[-60, -20] mV) plus Gaussian measurement noise (``--sigma-m`` mV).  Reports, for
Delta_v(E): median relative error and 90%-interval coverage of the joint posterior, of the
network posterior alone and of the cells alone (grid posterior), the mean posterior SDs,
the importance ESS, and how often the two sources were flagged as inconsistent.

Usage::

    python benchmarks/bench_inference_hierarchical.py --fit-dir /tmp/hetfit_bench_inference \\
        [--model gast2023_ei] [--n 50] [--cells 20] [--sigma-m 0.5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fit-dir", required=True)
    ap.add_argument("--model", default="gast2023_ei")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--sigma-m", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    from hetfit.inference.artifacts import load_posterior
    from hetfit.inference.hierarchical import joint_width_posterior
    from hetfit.inference.problems import problem_from_spec
    from hetfit.models.heterogeneity import Heterogeneity
    from hetfit.seeding import child_seeds

    sim, prior = problem_from_spec(args.model)
    post = load_posterior(Path(args.fit_dir) / "posterior.pt", simulator=sim, prior=prior,
                          n_threads=2)
    s_theta, s_sim, s_cells = child_seeds(args.seed, 3)
    theta = prior.sample(args.n, seed=int(s_theta))
    seeds = child_seeds(int(s_sim), args.n)
    cell_seeds = child_seeds(int(s_cells), args.n)
    recs = []
    for k in range(0, args.n, 25):
        recs += sim.simulate_recordings(theta[k:k + 25], seeds[k:k + 25])
    j = prior.names.index("delta_v_E")
    rows = []
    t0 = time.perf_counter()
    for i, rec in enumerate(recs):
        if rec is None:
            continue
        delta = float(theta[i, j])
        rng = np.random.default_rng(int(cell_seeds[i]))
        true_thr = Heterogeneity(-40.0, delta, "lorentzian", -60.0, -20.0, "random").sample(
            args.cells, seed=rng)
        cells = true_thr + args.sigma_m * rng.standard_normal(args.cells)
        cells = np.clip(cells, -60.0, -20.0)
        x = sim.summaries_of(rec)
        res = joint_width_posterior(cells, post, x, width="delta_v_E",
                                    location_prior=(-45.0, -35.0), family="lorentzian",
                                    sigma_m=args.sigma_m, bounds=(-60.0, -20.0),
                                    n_proposal=20_000, seed=i)
        s = res.summary()["delta_v_E"]
        net = post.sample(x, 4000, seed=i)[:, j]
        rows.append({
            "truth": delta, "joint_mean": s["mean"], "joint_lo": s["ci90"][0],
            "joint_hi": s["ci90"][1], "joint_sd": s["sd"],
            "net_mean": float(net.mean()), "net_lo": float(np.quantile(net, 0.05)),
            "net_hi": float(np.quantile(net, 0.95)), "net_sd": float(net.std()),
            "cells_mean": res.cells_only[0], "cells_sd": res.cells_only[1],
            "ess": res.ess, "tension": res.tension,
        })
    wall = time.perf_counter() - t0
    truth = np.array([r["truth"] for r in rows])

    def rel(key):
        return float(np.median(np.abs(np.array([r[key] for r in rows]) - truth) / truth))

    def cov(lo, hi):
        return float(np.mean([(r[lo] <= r["truth"] <= r[hi]) for r in rows]))

    out = {
        "n_datasets": len(rows), "cells_per_dataset": args.cells, "sigma_m_mV": args.sigma_m,
        "median_relative_error": {"joint": rel("joint_mean"), "network_only": rel("net_mean"),
                                  "cells_only": rel("cells_mean")},
        "ci90_coverage": {"joint": cov("joint_lo", "joint_hi"),
                          "network_only": cov("net_lo", "net_hi")},
        "mean_posterior_sd": {k: float(np.mean([r[k] for r in rows]))
                              for k in ("joint_sd", "net_sd", "cells_sd")},
        "median_ess": float(np.median([r["ess"] for r in rows])),
        "fraction_inconsistent": float(np.mean([abs(r["tension"]) >= 3 for r in rows])),
        "wall_s": wall, "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    (Path(args.fit_dir) / "hierarchical.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
