"""Full-size validation of the trivialization theory (Hutt et al.) against the rate network.

Reproduces the quantities of the paper's Fig. 2 (G, H, I) and Fig. 3 with the Fig. 2
parameters (N = 100, rho = 0.05, g = 0.8, mu_e = 0.005, beta = 25, sigma_e^2 = sigma_i^2 =
0.0015):

1. spectral radius of ``W diag(f'(u*))`` at the fixed point, mean over realizations, vs Eq. 19
   (closures: the paper's Eq. 14 and the self-consistent Gaussian one), for the odd
   nonlinearity the theory assumes (``rate_offset = 0.5``) and the paper's literal
   ``(1 + erf)/2`` (``rate_offset = 0``, with the quenched-bias correction); also N = 400 with
   weights scaled to keep N sigma_w^2;
2. fixed-point spread Var(u*) vs Eq. 14 (Fig. 2I);
3. number of equilibria (continuation + random starts + Newton + dedup) vs Eq. 20 / Eq. 11;
4. critical heterogeneity: Eq. 21, exact roots of Eq. 19, and the numerical crossing;
5. resilience distance D and return time (Eq. 22 protocol; Fig. 3), tight and paper tolerances.

Run::

    OPENBLAS_NUM_THREADS=1 /work/venv/bin/python benchmarks/validate_rate_theory.py --json out.json
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from hetfit.models import rate_theory as rt
from hetfit.models.rate_network import RateNetworkSpec

GRID = [0.0, 2e-5, 5e-5, 1e-4, 2e-4, 4e-4, 1e-3, 3e-3, 1e-2]


def spectral(spec: RateNetworkSpec, n_real: int) -> list[dict]:
    tp = rt.theory_parameters(spec)
    rows = []
    for s2 in GRID:
        s = spec.with_sigma_h(math.sqrt(s2))
        radii, var_u, fails = [], [], 0
        for r in range(n_real):
            net = s.build(10_000 + r)
            try:
                u = net.fixed_point()
            except Exception:
                fails += 1
                continue
            radii.append(net.spectral_radius(u))
            var_u.append(float(np.mean(u**2)))
        g_p = float(rt.spectral_radius(s2, **tp, closure="paper"))
        g_s = float(rt.spectral_radius(s2, **tp, closure="self_consistent"))
        m = float(np.mean(radii))
        rows.append({
            "sigma_h2": s2, "n_ok": len(radii), "n_failed": fails,
            "radius_mean": m, "radius_sd": float(np.std(radii)),
            "eq19_paper": g_p, "eq19_self_consistent": g_s,
            "rel_err_paper": m / g_p - 1, "rel_err_self_consistent": m / g_s - 1,
            "var_u_mean": float(np.mean(var_u)),
            "eq14_paper": float(rt.fixed_point_variance(s2, **tp, closure="paper")),
            "eq14_self_consistent": float(rt.fixed_point_variance(s2, **tp, closure="self_consistent")),
        })
        print(f"  sigma_h2={s2:g}: radius {m:.3f}+-{np.std(radii):.3f}  Eq19 paper {g_p:.3f} "
              f"({(m / g_p - 1) * 100:+.1f}%)  self-consistent {g_s:.3f} ({(m / g_s - 1) * 100:+.1f}%)",
              flush=True)
    return rows


def crossing(rows: list[dict]) -> float:
    """sigma_h^2 where the mean numerical radius crosses 1 (linear interpolation)."""
    for a, b in zip(rows[:-1], rows[1:]):
        if a["radius_mean"] >= 1.0 > b["radius_mean"]:
            f = (a["radius_mean"] - 1.0) / (a["radius_mean"] - b["radius_mean"])
            return a["sigma_h2"] + f * (b["sigma_h2"] - a["sigma_h2"])
    return float("nan")


def equilibria(spec: RateNetworkSpec, n_real: int, n_starts: int) -> list[dict]:
    tp = rt.theory_parameters(spec)
    rows = []
    for s2 in [0.0, 5e-5, 1e-4, 2e-4, 4e-4, 1e-3]:
        s = spec.with_sigma_h(math.sqrt(s2))
        counts = [len(s.build(20_000 + r).find_equilibria(n_starts=n_starts, seed=r))
                  for r in range(n_real)]
        row = {"sigma_h2": s2, "mean_count": float(np.mean(counts)),
               "max_count": int(np.max(counts)),
               "eq20_paper": float(rt.expected_equilibria(s2, **tp, closure="paper")),
               "eq20_self_consistent": float(rt.expected_equilibria(s2, **tp, closure="self_consistent")),
               "eq11_paper": float(rt.expected_equilibria(s2, **tp, closure="paper", form="eq11"))}
        rows.append(row)
        print(f"  sigma_h2={s2:g}: equilibria mean {row['mean_count']:.2f} (max {row['max_count']}) "
              f"Eq20 paper {row['eq20_paper']:.2f} self-consistent {row['eq20_self_consistent']:.2f} "
              f"Eq11 {row['eq11_paper']:.1f}", flush=True)
    return rows


def resilience(spec: RateNetworkSpec, n_trials: int, tols: tuple[float, float]) -> list[dict]:
    rows = []
    for s2 in [0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3]:
        t0 = time.perf_counter()
        res = rt.resilience_distance(spec.with_sigma_h(math.sqrt(s2)), n_trials=n_trials,
                                     seed=7, tol_before=tols[0], tol_after=tols[1], t_max=1000.0)
        summ = res.summary()
        summ["sigma_h2"] = s2
        summ["seconds"] = time.perf_counter() - t0
        rows.append(summ)
        print(f"  sigma_h2={s2:g}: D mean {summ['mean_distance']:.2e} median "
              f"{summ['median_distance']:.2e} not resilient {summ['fraction_not_resilient']:.2f} "
              f"no reference state {summ['n_no_reference_state']}/{n_trials} return time "
              f"{summ['mean_return_time']:.1f}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realizations", type=int, default=50)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--json")
    args = ap.parse_args()
    t_start = time.perf_counter()
    out: dict = {"date": time.strftime("%Y-%m-%d"), "load_avg_start": os.getloadavg()}
    fig2 = RateNetworkSpec(rate_offset=0.5)
    tp = rt.theory_parameters(fig2)
    print("Eq. 19 vs numerics, odd nonlinearity (rate_offset=0.5), N=100", flush=True)
    out["spectral_offset_0.5"] = spectral(fig2, args.realizations)
    print("Eq. 19 vs numerics, paper's (1+erf)/2 (rate_offset=0), N=100", flush=True)
    out["spectral_offset_0"] = spectral(RateNetworkSpec(rate_offset=0.0), args.realizations)
    print("Eq. 19 vs numerics, N=400 (same N sigma_w^2), rate_offset=0.5", flush=True)
    big = RateNetworkSpec(n=400, var_e=0.0015 / 4, var_i=0.0015 / 4, mu_e=0.005 / 2, rate_offset=0.5)
    out["spectral_n400"] = spectral(big, max(10, args.realizations // 2))
    out["critical"] = {
        "eq21": rt.critical_heterogeneity(**tp),
        "exact_paper": rt.critical_heterogeneity(**tp, method="exact"),
        "exact_self_consistent": rt.critical_heterogeneity(**tp, method="exact", closure="self_consistent"),
        "numerical_crossing_n100": crossing(out["spectral_offset_0.5"]),
    }
    print("critical sigma_h^2:", out["critical"], flush=True)
    print("equilibria (N=100)", flush=True)
    out["equilibria"] = equilibria(fig2, 20, 100)
    print(f"resilience (Eq. 22), {args.trials} trials, tolerances 1e-6/1e-6", flush=True)
    out["resilience_tight"] = resilience(fig2, args.trials, (1e-6, 1e-6))
    print(f"resilience (Eq. 22), {args.trials} trials, paper tolerances 1e-3/1e-4", flush=True)
    out["resilience_paper_tol"] = resilience(fig2, args.trials, (1e-3, 1e-4))
    out["total_seconds"] = time.perf_counter() - t_start
    out["load_avg_end"] = os.getloadavg()
    print(f"total {out['total_seconds']:.0f} s", flush=True)
    if args.json:
        from hetfit.io import atomic_write_json

        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
