"""Time every hetfit.measures function on simulation-sized and recording-sized inputs.

Run: /work/venv/bin/python benchmarks/bench_measures_speed.py [--repeats 7]

Inference evaluates the measures once per simulation (tens of thousands), so the per-call
cost at typical network sizes is what matters.  Numba kernels are compiled (or loaded from
the cache) by a warm-up call before timing; the cold compile time is reported separately.
Reported: median wall time (ms) over ``--repeats`` calls.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from hetfit import measures as m
from hetfit.measures.surrogates import modulated_poisson_trains

SHARED = Path(os.environ.get("HETFIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _measures(kw: dict, long: bool) -> dict:
    coarse = dict(dt_ms=50.0) if long else {}
    return {
        "rate_spread": lambda: m.rate_spread(**kw),
        "mean_cv_isi": lambda: m.mean_cv_isi(**kw),
        "mean_fano_factor": lambda: m.mean_fano_factor(**kw),
        "population_fano_factor": lambda: m.population_fano_factor(**kw),
        "spike_train_chi": lambda: m.spike_train_chi(**kw),
        "kuramoto_order": lambda: m.kuramoto_order(**kw, span="any" if long else "common",
                                                   **coarse),
        "mean_pairwise_correlation": lambda: m.mean_pairwise_correlation(**kw),
        "rate_spectrum": lambda: m.rate_spectrum(**kw, bin_ms=10.0 if long else 1.0),
        "network_bursts (rate)": lambda: m.network_bursts(**kw),
        "network_bursts (isi)": lambda: m.network_bursts(**kw, method="isi"),
    }


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation / cache load)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return float(np.median(out)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    cases = {}
    for n, dur in ((200, 2_000.0), (1000, 2_000.0), (1000, 10_000.0)):
        t, u = modulated_poisson_trains(n, 10.0, 20.0, 0.3, dur, seed=1)
        cases[f"sim N={n}, {dur / 1e3:g} s, {t.size} spikes"] = (
            dict(times_ms=t, units=u, n_units=n, t_start_ms=0.0, t_stop_ms=dur), False)
    big = SHARED / "retinal_waves_mea" / "Hennig2011_spikes_P5_Bic_10uM_16_Mar_2010_wash_day2.h5"
    if big.exists():
        from hetfit.data_adapters.activity import read_mea_hdf5

        t0 = time.perf_counter()
        rec = read_mea_hdf5(big)
        load_ms = (time.perf_counter() - t0) * 1e3
        cases[f"MEA {big.stem[:24]}..., {rec.n_units} ch, {rec.duration_ms / 1e3:.0f} s, "
              f"{rec.n_spikes} spikes (load {load_ms:.0f} ms)"] = (rec.spike_arrays(), True)

    names = list(_measures(next(iter(cases.values()))[0], False))
    results = {}
    for label, (kw, long) in cases.items():
        fns = _measures(kw, long)
        results[label] = {k: _time(fns[k], args.repeats) for k in names}
        results[label]["all of the above"] = sum(results[label].values())
    print("| measure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for k in [*names, "all of the above"]:
        print(f"| {k} | " + " | ".join(f"{results[c][k]:.2f}" for c in results) + " |")


if __name__ == "__main__":
    main()
