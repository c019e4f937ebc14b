"""Simulation throughput of the inference simulator on each backend, and their equality.

Fills a fresh simulation store with the same plan (``--n`` simulations of the default E/I
width problem) four ways — in-process with 1 and 2 numba threads, 2 local worker processes
(1 thread each), and a Dask LocalCluster of 2 worker processes — and reports simulations per
second and whether every backend stored bit-identical summaries.

Usage::

    python benchmarks/bench_inference_scaling.py --out /tmp/hetfit_bench_scaling [--n 400]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--model", default="gast2023_ei")
    ap.add_argument("--chunk", type=int, default=50)
    args = ap.parse_args()

    from hetfit.inference.parallel import SimulationExecutor
    from hetfit.inference.problems import problem_from_spec
    from hetfit.inference.store import SimulationStore

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sim, prior = problem_from_spec(args.model)
    # warm-up: compile/load the numba kernels in this process
    warm = SimulationStore(out / "warm", sim, prior, seed=99, chunk_size=2)
    warm.run(2)
    backends = {
        "in-process, 1 thread": {"workers": 1, "n_threads": 1},
        "in-process, 2 threads": {"workers": 1, "n_threads": 2},
        "2 local processes x 1 thread": {"workers": 2, "n_threads": 1},
        "Dask LocalCluster, 2 workers x 1 thread": {"scheduler": "local:2", "n_threads": 1},
    }
    results, data = {}, {}
    load0 = os.getloadavg()
    for name, kw in backends.items():
        store = SimulationStore(out / name.replace(" ", "_").replace(",", ""), sim, prior,
                                seed=1, chunk_size=args.chunk)
        t0 = time.perf_counter()
        with SimulationExecutor(**kw) as ex:
            t1 = time.perf_counter()
            rep = store.run(args.n, executor=ex)
        t2 = time.perf_counter()
        data[name] = store.load()
        results[name] = {"startup_s": t1 - t0, "run_s": t2 - t1,
                         "sims_per_s": args.n / (t2 - t1),
                         "ms_per_sim": 1e3 * (t2 - t1) / args.n,
                         "status_counts": rep.status_counts}
        print(name, json.dumps(results[name]), flush=True)
    ref = data["in-process, 1 thread"]
    identical = {n: bool(np.array_equal(d.x, ref.x, equal_nan=True)
                         and np.array_equal(d.theta, ref.theta)) for n, d in data.items()}
    summary = {"n": args.n, "model": args.model, "loadavg_start": load0,
               "loadavg_end": os.getloadavg(), "backends": results,
               "identical_to_in_process": identical, "date": time.strftime("%Y-%m-%d %H:%M")}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
