"""Rich et al. (2022) network: synchrony vs excitability heterogeneity, full-size runs.

1. Step protocol (hetfit's "sudden input change"): E input 10 mV -> 10 + A mV, Golomb chi
   (all cells, paper convention) in the 500 ms before vs after (100 ms settling), 20 seeds,
   sigma_e in {4.4, 7.8} mV (epileptogenic vs non-epileptogenic) and several amplitudes A.
2. Heterogeneity sweep: delta chi for A = 30 mV across sigma_e = 2..12 mV.
3. The paper's ramp protocol (E input 0 -> 31.25 mV over 2.5 s): chi and E rate in 100 ms
   windows, 10 seeds per sigma_e; reports the largest 100 ms-to-100 ms jump in chi (how
   "sudden" the transition is) and the input at which chi first exceeds 0.2.

Run::

    /work/venv/bin/python benchmarks/validate_rich2022.py --json out.json
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hetfit.models.rich2022 import (
    Rich2022Spec,
    ramp_input,
    simulate_rich2022,
    step_response,
    synchrony_trace,
)


def step_table(sigmas, amplitudes, seeds):
    rows = []
    for amp in amplitudes:
        for sig in sigmas:
            rs = [step_response(Rich2022Spec(sigma_e_mv=sig), amp, seed=s) for s in range(seeds)]
            d = np.array([r["delta_chi"] for r in rs])
            row = {"sigma_e_mv": sig, "amplitude_mv": amp,
                   "delta_chi_mean": float(np.nanmean(d)), "delta_chi_sd": float(np.nanstd(d)),
                   "delta_chi_min": float(np.nanmin(d)), "delta_chi_max": float(np.nanmax(d)),
                   "chi_before": float(np.nanmean([r["chi_before"] for r in rs])),
                   "chi_after": float(np.nanmean([r["chi_after"] for r in rs])),
                   "rate_before_hz": float(np.mean([r["rate_before_hz"] for r in rs])),
                   "rate_after_hz": float(np.mean([r["rate_after_hz"] for r in rs]))}
            rows.append(row)
            print(f"  A={amp} sigma_e={sig}: dchi {row['delta_chi_mean']:.3f}+-{row['delta_chi_sd']:.3f} "
                  f"[{row['delta_chi_min']:.3f}, {row['delta_chi_max']:.3f}] chi {row['chi_before']:.3f}"
                  f" -> {row['chi_after']:.3f}, rate {row['rate_before_hz']:.2f} -> "
                  f"{row['rate_after_hz']:.2f} Hz", flush=True)
    return rows


def ramp_table(sigmas, seeds):
    rows = []
    inp = ramp_input()
    for sig in sigmas:
        jumps, onsets, chis, rates = [], [], [], []
        for s in range(seeds):
            res = simulate_rich2022(Rich2022Spec(sigma_e_mv=sig), 2500.0, inp, seed=s)
            t, chi = synchrony_trace(res, window_ms=100.0, step_ms=100.0)
            chi = np.nan_to_num(chi)
            chis.append(chi)
            rates.append(res.rates_hz[0].reshape(25, 100).mean(axis=1))
            jumps.append(float(np.max(np.diff(chi))))
            above = np.nonzero(chi > 0.2)[0]
            onsets.append(float(inp[int(t[above[0]])]) if above.size else float("nan"))
        row = {"sigma_e_mv": sig, "max_chi_jump_mean": float(np.mean(jumps)),
               "onset_input_mv_mean": float(np.nanmean(onsets)),
               "chi_per_100ms": np.mean(chis, axis=0).round(3).tolist(),
               "rate_e_per_100ms": np.mean(rates, axis=0).round(2).tolist()}
        rows.append(row)
        print(f"  ramp sigma_e={sig}: largest chi jump {row['max_chi_jump_mean']:.3f}, chi > 0.2 "
              f"from input {row['onset_input_mv_mean']:.1f} mV\n    chi  {row['chi_per_100ms']}\n"
              f"    rate {row['rate_e_per_100ms']}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = {"date": time.strftime("%Y-%m-%d"), "load_avg_start": os.getloadavg()}
    print("step protocol", flush=True)
    out["step"] = step_table([4.4, 7.8], [20.0, 30.0, 40.0], args.seeds)
    print("heterogeneity sweep (A = 30 mV)", flush=True)
    out["sweep"] = step_table([2.0, 3.0, 4.4, 6.0, 7.8, 10.0, 12.0], [30.0], max(5, args.seeds // 2))
    print("ramp protocol", flush=True)
    out["ramp"] = ramp_table([4.4, 7.8], max(5, args.seeds // 2))
    out["total_seconds"] = time.perf_counter() - t0
    out["load_avg_end"] = os.getloadavg()
    print(f"total {out['total_seconds']:.0f} s")
    if args.json:
        from hetfit.io import atomic_write_json

        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
