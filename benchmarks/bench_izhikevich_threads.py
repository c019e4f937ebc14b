"""Thread scaling of batched Izhikevich simulation (``simulate_batch``, numba prange over sets).

Runs the same batch (``--sets`` parameter sets of the DESIGN.md single population, N neurons,
``--t-max`` ms, exact spikes at ``--dt``) with 1 and 2 threads, ``--repeats`` times
alternating, and reports the best wall time of each, their ratio, and the total CPU time of
each run (equal CPU time means the parallel runtime adds no work).  Wall-time speed-ups are
only meaningful on an otherwise idle machine: the load average before every run is printed.
A load-independent figure is also reported: the CPU time each thread of the process used
(``/proc/self/task/*/stat``) during a run.  With the work split evenly, the speed-up on
idle cores is ``total CPU / busiest thread's CPU`` ("ideal_speedup").

    /work/venv/bin/python benchmarks/bench_izhikevich_threads.py --sets 128 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from hetfit.models.batch import simulate_batch
from hetfit.models.presets import single_population


def _thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every thread of this process (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--sets", type=int, default=128)
    ap.add_argument("--t-max", type=float, default=1000.0)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args()
    net = single_population(n=args.n, delta_v=1.0, I_ext=50.0)
    widths = list(np.linspace(0.2, 3.0, args.sets))
    for th in args.threads:  # load/compile the kernels first
        simulate_batch(net, {"E.v_theta.width": widths[:2]}, 10 * args.dt, args.dt, seed=0,
                       n_threads=th)
    runs = []
    for rep in range(args.repeats):
        for th in args.threads:
            load = os.getloadavg()[0]
            before = _thread_cpu()
            res = simulate_batch(net, {"E.v_theta.width": widths}, args.t_max, args.dt,
                                 seed=0, n_threads=th)
            after = _thread_cpu()
            per_thread = sorted((after[t] - before.get(t, 0.0) for t in after), reverse=True)
            busy = [c for c in per_thread if c > 0.05 * max(per_thread[0], 1e-9)]
            runs.append({"rep": rep, "threads": th, "wall_s": res.meta["simulate_wall_s"],
                         "cpu_s": res.meta["simulate_cpu_s"], "load1_before": load,
                         "thread_cpu_s": [round(c, 3) for c in busy],
                         "ideal_speedup": sum(busy) / busy[0] if busy else float("nan")})
            print(json.dumps(runs[-1]), flush=True)
    best = {th: min(r["wall_s"] for r in runs if r["threads"] == th) for th in args.threads}
    cpu = {th: float(np.median([r["cpu_s"] for r in runs if r["threads"] == th]))
           for th in args.threads}
    base = args.threads[0]
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "n": args.n, "sets": args.sets,
           "dt_ms": args.dt, "t_max_ms": args.t_max, "best_wall_s": best,
           "median_cpu_s": cpu,
           "speedup_vs_1_thread": {th: best[base] / best[th] for th in args.threads},
           "ms_per_sim_per_core_cpu": {th: 1e3 * cpu[th] / args.sets for th in args.threads},
           "ideal_speedup_median": {th: float(np.median([r["ideal_speedup"] for r in runs
                                                         if r["threads"] == th]))
                                    for th in args.threads},
           "runs": runs}
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
