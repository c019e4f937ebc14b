"""Heterogeneity-loss sweeps at full size: the qualitative claims of the seeds.

1. Rate network of Hutt et al. (seed 002, Figs. 2-3): resilience distance D, fraction of
   realizations that do not return, return time and spectral radius (numerical and Eq. 19)
   against sigma_h.
2. Izhikevich networks: where does losing threshold heterogeneity raise synchrony?
   (a) fast-spiking inhibitory population (ING), (b) the E/I circuit of Gast, Solla & Kennedy
   with the FS threshold width swept, (c) one regular-spiking population with spike-frequency
   adaptation (DESIGN.md parameters).  One width sweep per drive, classified.
3. Mean field (Gast, Solla & Kennedy E/I): width of the bistable range of E drive against
   Delta_v(E) and Delta_v(I).

Run:  /work/venv/bin/python benchmarks/bench_compare_sweeps.py [--quick] [--only NAME]
Prints a Markdown summary and writes benchmarks/out/compare_sweeps.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def _machine() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rate_network(quick: bool) -> dict:
    from hetfit.disease.sweeps import rate_network_sweep

    s2 = np.array([0.0, 1e-5, 3e-5, 1e-4, 2e-4, 3e-4, 1e-3, 3e-3])
    t0 = time.perf_counter()
    sw = rate_network_sweep(np.sqrt(s2), n_trials=20 if quick else 100,
                            n_realizations=10 if quick else 30, seed=1)
    wall = time.perf_counter() - t0
    rows = []
    for i, s in enumerate(s2):
        rows.append({k: float(sw.curves[k].mean[i]) for k in sw.curves} | {"sigma_h2": s})
    return {"wall_s": wall, "rows": rows, "notes": sw.notes,
            "trends": {k: sw.trend(k) for k in ("distance_D", "not_resilient", "return_time",
                                                "spectral_radius")},
            "transition": sw.transitions["spectral_radius"].to_dict()}


def regimes(quick: bool) -> dict:
    from hetfit.disease.sweeps import synchrony_regimes
    from hetfit.models.heterogeneity import Heterogeneity
    from hetfit.models.izhikevich import IzhikevichNetwork, IzhikevichPopulation
    from hetfit.models.presets import gast2023_ei, single_population

    n = 300 if quick else 1000
    t_max = 1000.0 if quick else 2000.0
    seeds = 2 if quick else 3
    out = {}
    fs = IzhikevichPopulation(
        "I", n=n, C=20.0, k=1.0, v_r=-55.0,
        v_theta=Heterogeneity(-40.0, 1.0, "lorentzian", low=-55.0, high=-25.0), eta=100.0,
        g=1.0, b=0.025, tau_u=5.0, kappa=0.0, tau_s=8.0, E_syn=-65.0)
    cases = {
        "FS inhibitory population (J=10), Delta_v(I) swept, drive to I": (
            IzhikevichNetwork.single(fs, J=10.0), "I", "I", [20.0, 40.0, 80.0, 200.0]),
        "Gast E/I circuit, Delta_v(I) swept, drive to I (E drive 50 pA)": (
            gast2023_ei(n_e=n, n_i=n, delta_v_e=1.0, delta_v_i=1.0, I_i=0.0), "I", "I",
            [10.0, 30.0, 50.0, 70.0]),
        "Gast E/I circuit, Delta_v(E) swept, drive to E (I drive 10 pA)": (
            gast2023_ei(n_e=n, n_i=n, delta_v_e=1.0, delta_v_i=1.0, I_e=0.0), "E", "E",
            [30.0, 50.0, 80.0]),
        "RS population with adaptation (DESIGN.md), Delta_v swept, drive to E": (
            single_population(n=n, delta_v=1.0, I_ext=0.0), "E", "E",
            [40.0, 60.0, 80.0, 120.0]),
    }
    widths = [0.05, 0.2, 0.5, 1.0, 2.0, 4.0]
    for name, (net, pop, dpop, drives) in cases.items():
        t0 = time.perf_counter()
        regs = synchrony_regimes(net, widths, drives, population=pop, drive_population=dpop,
                                 n_seeds=seeds, t_max_ms=t_max, t_start_ms=t_max / 4, seed=1)
        wall = time.perf_counter() - t0
        out[name] = {
            "wall_s": wall, "n": n, "t_max_ms": t_max, "seeds": seeds, "widths": widths,
            "regimes": [{"drive_pA": r.drive_pA, "rate_hz": r.rate_hz, "verdict": r.verdict,
                         "rho": r.rho, "p": r.p_value, "range": r.sync_range,
                         "chi": [float(x) for x in r.sweep.curves[f"chi_{pop}"].mean],
                         "rate": [float(x) for x in r.sweep.curves[f"rate_{pop}"].mean],
                         "transition": r.sweep.transitions[f"chi_{pop}"].width}
                        for r in regs]}
    return out


def meanfield(quick: bool) -> dict:
    from hetfit.disease.sweeps import meanfield_sweep
    from hetfit.models.meanfield import gast2023_ei_meanfield

    widths = [0.2, 0.5, 1.0, 2.0, 4.0]
    out = {}
    for pop in ("E", "I"):
        mf = gast2023_ei_meanfield(delta_e=1.0, delta_i=1.0)
        t0 = time.perf_counter()
        sw = meanfield_sweep(mf, widths, population=pop, scan_param="eta", scan_population="E",
                             scan_values=np.linspace(0.0, 100.0, 26 if quick else 51),
                             t_max_ms=1000.0, t_start_ms=500.0)
        out[f"Delta_v({pop}) swept, bistable range of E drive"] = {
            "wall_s": time.perf_counter() - t0, "widths": widths,
            "bistable_range_pA": [float(x) for x in sw.curves["bistable_range"].mean],
            "rate_E_Hz": [float(x) for x in sw.curves["rate_E"].mean],
            "trend": sw.trend("bistable_range")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("rate", "regimes", "meanfield"))
    a = ap.parse_args()
    res = {"machine": _machine(), "date": time.strftime("%Y-%m-%d"),
           "load": Path("/proc/loadavg").read_text().split()[:3]}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    name = "compare_sweeps" + ("_quick" if a.quick else "") + (f"_{a.only}" if a.only else "")
    for key, fn in (("rate", rate_network), ("regimes", regimes), ("meanfield", meanfield)):
        if a.only and a.only != key:
            continue
        res[key] = fn(a.quick)
        print(f"== {key} done", flush=True)
        (out / f"{name}.json").write_text(json.dumps(res, indent=1, default=float))
    if "rate" in res:
        r = res["rate"]
        print(f"\n### Rate network (Hutt et al.), wall {r['wall_s']:.0f} s")
        print("| sigma_h^2 | D (mean) | not resilient | no stationary state | return time | "
              "Gamma (numerical) | Gamma (Eq. 19) |")
        print("|---|---|---|---|---|---|---|")
        for row in r["rows"]:
            print(f"| {row['sigma_h2']:.0e} | {row['distance_D']:.2e} | "
                  f"{row['not_resilient']:.2f} | {row['no_stationary_state']:.2f} | "
                  f"{row['return_time']:.1f} | {row['spectral_radius']:.3f} | "
                  f"{row['spectral_radius_eq19']:.3f} |")
        print(r["notes"], r["trends"], r["transition"])
    if "regimes" in res:
        for name, c in res["regimes"].items():
            print(f"\n### {name} (N={c['n']}, {c['t_max_ms']:.0f} ms, {c['seeds']} seeds, "
                  f"wall {c['wall_s']:.0f} s); widths {c['widths']} mV")
            print("| drive (pA) | mean rate (Hz) | chi along widths | verdict | rho (p) | "
                  "transition (mV) |")
            print("|---|---|---|---|---|---|")
            for g in c["regimes"]:
                chi = ", ".join("n/a" if not np.isfinite(x) else f"{x:.2f}" for x in g["chi"])
                tr = "none" if g["transition"] is None else f"{g['transition']:.2f}"
                print(f"| {g['drive_pA']:.0f} | {g['rate_hz']:.1f} | {chi} | {g['verdict']} | "
                      f"{g['rho']:.2f} ({g['p']:.2g}) | {tr} |")
    if "meanfield" in res:
        for name, c in res["meanfield"].items():
            print(f"\n### Mean field: {name} (wall {c['wall_s']:.0f} s)")
            print("widths", c["widths"], "bistable range (pA)",
                  [round(x, 1) for x in c["bistable_range_pA"]], "trend", c["trend"])


if __name__ == "__main__":
    main()
