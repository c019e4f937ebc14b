"""Coverage of hetfit's donor-level bootstrap intervals for within-type widths.

Cells are drawn from a hierarchical model with donor effects; the "true width" is the width
of the cell-level *marginal* distribution of the generating model:

* Gaussian:   x = mu + a_donor + e_cell, a ~ N(0, tau^2), e ~ N(0, s^2)
              -> marginal N(mu, tau^2 + s^2), true SD = sqrt(tau^2 + s^2).
* Lorentzian: x = x0 + a_donor + e_cell, a ~ Cauchy(0, D_donor), e ~ Cauchy(0, D_cell)
              -> marginal Cauchy(x0, D_donor + D_cell) (Cauchy is closed under sums),
              true HWHM = D_donor + D_cell.

For each design the script repeats the draw ``--reps`` times and reports the fraction of
95% intervals that contain the true width, per interval method, plus the run time.

    python benchmarks/validate_width_coverage.py --reps 1000 --n-boot 1000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hetfit.distributions.bootstrap import bootstrap_ci


def draw(rng, family, n_donors, cells_lo, cells_hi, donor_width, cell_width):
    sizes = rng.integers(cells_lo, cells_hi + 1, size=n_donors)
    donors = np.repeat(np.arange(n_donors), sizes)
    if family == "gaussian":
        off = rng.normal(0.0, donor_width, n_donors)
        x = -40.0 + off[donors] + rng.normal(0.0, cell_width, donors.size)
        return x, donors, float(np.hypot(donor_width, cell_width))
    off = donor_width * rng.standard_cauchy(n_donors)
    x = -40.0 + off[donors] + cell_width * rng.standard_cauchy(donors.size)
    return x, donors, float(donor_width + cell_width)


DESIGNS = [
    # family, donors, cells per donor (lo, hi), donor width, cell width, statistic
    ("gaussian", 20, 4, 12, 1.5, 3.0, "sd"),
    ("gaussian", 10, 5, 15, 1.5, 3.0, "sd"),
    ("gaussian", 40, 2, 8, 1.5, 3.0, "sd"),
    ("gaussian", 20, 4, 12, 3.0, 1.5, "sd"),
    ("gaussian", 20, 4, 12, 1.5, 3.0, "sigma_iqr"),
    ("lorentzian", 20, 4, 12, 0.5, 1.5, "hwhm_mle"),
    ("lorentzian", 10, 5, 15, 0.5, 1.5, "hwhm_mle"),
    ("lorentzian", 20, 4, 12, 0.5, 1.5, "hwhm_iqr"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--methods", default="auto,percentile,bca")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    out = []
    for fam, nd, lo, hi, dw, cw, stat in DESIGNS:
        for method in args.methods.split(","):
            rng = np.random.default_rng(args.seed)
            hits = 0
            t0 = time.perf_counter()
            used = set()
            for r in range(args.reps):
                x, d, true = draw(rng, fam, nd, lo, hi, dw, cw)
                res = bootstrap_ci(x, d, [stat], n_boot=args.n_boot, method=method,
                                   seed=args.seed + r)
                iv = res.intervals[stat]
                used.add(iv.method)
                hits += iv.contains(true)
            row = {"family": fam, "donors": nd, "cells_per_donor": [lo, hi],
                   "donor_width": dw, "cell_width": cw, "statistic": stat,
                   "method": method, "used": sorted(used), "coverage": hits / args.reps,
                   "reps": args.reps, "seconds": round(time.perf_counter() - t0, 1)}
            out.append(row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
