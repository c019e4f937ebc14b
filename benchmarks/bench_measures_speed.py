"""Time every hetfit.measures function on simulation-sized and recording-sized inputs.

Run: /work/venv/bin/python benchmarks/bench_measures_speed.py [--repeats 7]

Inference evaluates the measures once per simulation (tens of thousands), so the per-call
cost at typical network sizes is what matters.  Numba kernels are compiled (or loaded from
the cache) by a warm-up call before timing; the cold compile time is reported separately.
Reported: median and minimum wall time (ms) over ``--repeats`` calls, as "median (min)"; on a
shared machine the minimum is the better estimate of the code's own cost.
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
        "rate_spectrum": lambda: m.rate_spectrum(
            **kw, bin_ms=10.0 if long else 1.0, segment_ms=10_000.0 if long else 1000.0),
        "network_bursts (rate)": lambda: m.network_bursts(**kw),
        "network_bursts (isi)": lambda: m.network_bursts(**kw, method="isi"),
    }


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up (compilation / cache load)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return float(np.median(out)) * 1e3, float(np.min(out)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import subprocess
    import sys

    # cold start: import + numba compilation in a fresh process with an empty cache
    env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "hetfit_cold_numba")}
    code = ("import shutil, os; shutil.rmtree(os.environ['NUMBA_CACHE_DIR'], ignore_errors=True);"
            "import time; t=time.perf_counter(); from hetfit import measures as m;"
            "from hetfit.measures.surrogates import poisson_trains as p;"
            "x,u=p(20,10.,1000.,seed=0); kw=dict(times_ms=x,units=u,n_units=20,t_stop_ms=1000.);"
            "[f(**kw) for f in (m.mean_cv_isi,m.mean_fano_factor,m.spike_train_chi,"
            "m.kuramoto_order,m.mean_pairwise_correlation,m.rate_spectrum,m.network_bursts)];"
            "print(f'{time.perf_counter()-t:.2f}')")
    cold = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    print(f"cold start (import + compile every kernel + first call of each measure): "
          f"{cold.stdout.strip() or cold.stderr.strip()[-200:]} s\n")

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
        results[label]["all of the above"] = tuple(
            sum(v[i] for v in results[label].values()) for i in (0, 1))
    print("| measure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for k in [*names, "all of the above"]:
        print(f"| {k} | " + " | ".join(
            f"{results[c][k][0]:.2f} ({results[c][k][1]:.2f})" for c in results) + " |")


if __name__ == "__main__":
    main()
