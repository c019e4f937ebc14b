"""Full-size validation of trace feature extraction (hetfit.data_adapters.traces).

Part 1 (known answers): N random LIF neurons (R_in, tau_m, rest, threshold drawn from wide
ranges), each recorded with its own step protocol, written to ABF1 (pyabf writer; every cell)
and NWB (pynwb; every 5th cell), read back and analysed.  Errors are measured against the
generating model's closed forms; the rheobase against the analytic rheobase rounded up to the
protocol's grid (the best any step protocol can do) and against the continuous value.

Part 2 (real recordings): every file in ../shared/data/abf_current_clamp and
nwb_icephys_hippocampus: read + extraction time and the flag summary.

Usage::

    python benchmarks/traces_feature_recovery.py --n 60 --seed 0 [--json out.json]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from hetfit.data_adapters.traces import (
    LIFNeuron,
    extract_cell_features,
    read_sweeps,
    simulate_steps,
    write_abf1,
    write_nwb,
)
from hetfit.io import atomic_write_json
from hetfit.seeding import as_generator

STIM = (100.0, 600.0)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def random_cell(rng: np.random.Generator) -> tuple[LIFNeuron, np.ndarray]:
    rest = rng.uniform(-78.0, -60.0)
    theta = rest + rng.uniform(12.0, 30.0)
    neuron = LIFNeuron(
        r_input_MOhm=float(np.exp(rng.uniform(np.log(60.0), np.log(600.0)))),
        tau_m_ms=rng.uniform(8.0, 50.0), v_rest_mV=rest, v_threshold_mV=theta,
        v_reset_mV=theta - rng.uniform(5.0, 15.0), v_peak_mV=rng.uniform(20.0, 40.0),
        ap_rise_ms=rng.uniform(0.3, 0.6), ap_fall_ms=rng.uniform(0.8, 2.0),
    )
    rheo = neuron.rheobase_pA(STIM[1] - STIM[0])
    step = max(2.0, float(np.round(rheo / 15.0)))  # about 15 steps below rheobase
    amps = step * np.arange(-8, 33)
    return neuron, amps


def part1(n: int, seed: int) -> dict:
    rng = as_generator(seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n):
            neuron, amps = random_cell(rng)
            sweeps = simulate_steps(neuron, amps, stim_start_ms=STIM[0], stim_end_ms=STIM[1],
                                    sweep_ms=700.0, dt_ms=0.05, noise_mV=0.2,
                                    seed=int(rng.integers(2**31)), cell_id=f"c{k}")
            exact = neuron.rheobase_pA(STIM[1] - STIM[0])
            grid = float(amps[amps >= exact][0])
            formats = ["memory", "abf"] + (["nwb"] if k % 5 == 0 else [])
            for fmt in formats:
                t0 = time.perf_counter()
                if fmt == "memory":
                    cell = extract_cell_features(sweeps)
                elif fmt == "abf":
                    cell = extract_cell_features(read_sweeps(write_abf1(sweeps, Path(tmp) / "c.abf")))
                else:
                    cell = extract_cell_features(read_sweeps(write_nwb(sweeps, Path(tmp) / "c.nwb")))
                dt = time.perf_counter() - t0
                f = cell.features
                rows.append({
                    "cell": k, "format": fmt, "seconds": dt,
                    "rheobase_vs_grid": f["rheobase_pA"].value - grid,
                    "rheobase_rel_vs_exact": (f["rheobase_pA"].value - exact) / exact,
                    "grid_step_rel": (amps[1] - amps[0]) / exact,
                    "tau_rel": f["tau_m_ms"].value / neuron.tau_m_ms - 1,
                    "rin_rel": f["r_input_MOhm"].value / neuron.r_input_MOhm - 1,
                    "cap_rel": f["capacitance_pF"].value / neuron.capacitance_pF - 1,
                    "threshold_err_mV": f["v_threshold_mV"].value - neuron.v_threshold_mV,
                    "rest_err_mV": f["v_rest_mV"].value - neuron.v_rest_mV,
                    "width_err_ms": f["ap_width_ms"].value - neuron.ap_half_width_ms,
                    "n_not_ok": sum(x.flag != "ok" for x in f.values()),
                })
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    out = {}
    for fmt in sorted({r["format"] for r in rows}):
        sel = [r for r in rows if r["format"] == fmt]

        def arr(key, sel=sel):
            return np.array([r[key] for r in sel], dtype=float)

        out[fmt] = {
            "cells": len(sel),
            "rheobase_equals_grid_expectation": float(np.mean(arr("rheobase_vs_grid") == 0)),
            "rheobase_within_5pct_of_exact": float(np.mean(np.abs(arr("rheobase_rel_vs_exact")) <= 0.05)),
            "rheobase_max_rel_err_vs_exact": float(np.nanmax(np.abs(arr("rheobase_rel_vs_exact")))),
            "grid_step_rel_median": float(np.median(arr("grid_step_rel"))),
            "tau_max_abs_rel_err": float(np.nanmax(np.abs(arr("tau_rel")))),
            "tau_within_5pct": float(np.mean(np.abs(arr("tau_rel")) <= 0.05)),
            "rin_max_abs_rel_err": float(np.nanmax(np.abs(arr("rin_rel")))),
            "rin_within_5pct": float(np.mean(np.abs(arr("rin_rel")) <= 0.05)),
            "cap_max_abs_rel_err": float(np.nanmax(np.abs(arr("cap_rel")))),
            "threshold_max_abs_err_mV": float(np.nanmax(np.abs(arr("threshold_err_mV")))),
            "rest_max_abs_err_mV": float(np.nanmax(np.abs(arr("rest_err_mV")))),
            "width_max_abs_err_ms": float(np.nanmax(np.abs(arr("width_err_ms")))),
            "cells_with_any_flag": int(np.sum(arr("n_not_ok") > 0)),
            "seconds_per_cell_median": float(np.median(arr("seconds"))),
        }
    return out


def part2() -> list[dict]:
    files = sorted((SHARED / "abf_current_clamp").glob("*.abf")) + sorted(
        (SHARED / "nwb_icephys_hippocampus").glob("*.nwb"))
    out = []
    for path in files:
        t0 = time.perf_counter()
        sweeps = read_sweeps(path)
        t1 = time.perf_counter()
        cell = extract_cell_features(sweeps)
        t2 = time.perf_counter()
        flags = cell.flags()
        out.append({
            "file": path.name, "sweeps": len(sweeps), "read_s": t1 - t0, "features_s": t2 - t1,
            "ok": sum(v == "ok" for v in flags.values()),
            "warn": sum(v == "warn" for v in flags.values()),
            "missing": sum(v == "missing" for v in flags.values()),
            "rheobase_pA": cell["rheobase_pA"].value, "tau_m_ms": cell["tau_m_ms"].value,
            "r_input_MOhm": cell["r_input_MOhm"].value,
            "v_threshold_mV": cell["v_threshold_mV"].value,
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="random LIF cells (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = {"machine": platform.platform(), "python": platform.python_version(),
           "n": args.n, "seed": args.seed, "known_answers": part1(args.n, args.seed)}
    res["real_recordings"] = part2() if SHARED.exists() else []
    res["total_seconds"] = time.perf_counter() - t0
    for fmt, s in res["known_answers"].items():
        print(f"[{fmt}] " + ", ".join(f"{k}={v:.4g}" for k, v in s.items()))
    for r in res["real_recordings"]:
        print(r)
    print(f"total {res['total_seconds']:.1f} s")
    if args.json:
        atomic_write_json(args.json, res)


if __name__ == "__main__":
    main()
