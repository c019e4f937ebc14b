"""Heterogeneous Izhikevich network: hetfit vs Brian2 cpp_standalone (single thread).

The *same* network on both sides (DESIGN.md single population, ``presets.single_population``):
N Izhikevich neurons, C = 100 pF, k = 0.7 nS/mV, v_r = -60 mV, Lorentzian thresholds
(deterministic quantiles, centre -40 mV, Delta_v = 1 mV, truncated to [-60, -20] mV),
b = -2 nS, tau_u = 33.3 ms, kappa = 100 pA, v_peak = -v_reset = 1000 mV, all-to-all
conductance coupling through the population rate (g = 15 nS, E = 0 mV, tau_s = 6 ms, J = 1),
drive I = 50 pA, v(0) = v_r, u(0) = s(0) = 0.  Brian2 integrates with ``method='euler'`` and
dt = 0.01 ms (its all-to-all coupling goes through one gate neuron that every neuron reads as a
linked variable, the same O(N) scheme hetfit uses).

Parts:

1. single network, N = 10,000, 1 s: spike counts and CPU time of the simulation loop;
   hetfit with ``method='euler'`` (Brian2's scheme) and ``method='exact'`` at dt 0.01 and 0.05.
2. batched: 256 parameter sets (Delta_v from 0.2 to 3 mV), N = 1,000, 1 s each: hetfit
   ``simulate_batch`` with 1 and 2 threads (wall time) vs Brian2 running the sets one after
   another (one build, thresholds changed through ``run_args``; ``--brian-sets`` of them are
   timed and the total extrapolated).
3. inference throughput: CPU ms per simulation (N = 1,000, 1 s) in batched mode.
4. noise: ns per noise sample and the cost of noise per neuron update.

Timings: hetfit reports process CPU time of the kernel (compilation excluded) and wall time;
Brian2 reports ``device._last_run_time`` (std::clock CPU time of the run, code generation and
compilation excluded, ``openmp_threads = 0``).  Multi-thread speed-ups need wall time, which
other processes on a shared machine inflate: the load average is printed with the results.

Run with the environment that has Brian2 (numpy < 2), e.g.::

    /work/venv-brian/bin/python benchmarks/bench_izhikevich_vs_brian2.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

BRIAN_SCRIPT = r'''
import json, sys, time
import numpy as np
from brian2 import *
cfg = json.load(open(sys.argv[1]))
set_device('cpp_standalone', directory=cfg['outdir'], build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = 0
prefs.codegen.cpp.extra_compile_args_gcc = ['-w', '-O3', '-ffast-math', '-fno-finite-math-only',
                                            '-march=native']
defaultclock.dt = cfg['dt'] * ms
N = cfg['n']
ns = dict(k=0.7, v_r=-60.0, C=100.0, b=-2.0, tau_u=100.0 / 3.0, kappa=100.0, I_ext=cfg['drive'],
          g=15.0, E_r=0.0, tau_s=6.0, J_over_N=1.0 / N, v_peak=1000.0, v_reset=-1000.0)
eqs = """
dv/dt = (k*(v - v_r)*(v - v_t) - u + I_ext + g*s_tot*(E_r - v)) / (C*ms) : 1
du/dt = (b*(v - v_r) - u) / (tau_u*ms) : 1
v_t : 1 (constant)
s_tot : 1 (linked)
"""
P = NeuronGroup(N, eqs, threshold='v >= v_peak', reset='v = v_reset; u += kappa',
                method='euler', namespace=ns)
G = NeuronGroup(1, 'ds/dt = -s/(tau_s*ms) : 1', method='exact', namespace=ns)
P.s_tot = linked_var(G, 's', index=np.zeros(N, dtype=int))
S = Synapses(P, G, on_pre='s_post += J_over_N', namespace=ns)
S.connect()
P.v = -60.0
P.u = 0.0
P.v_t = np.array(cfg['thresholds'][0])
mon = SpikeMonitor(P, record=False)
run(cfg['t_max'] * ms)
t0 = time.time()
device.build(directory=cfg['outdir'], compile=True, run=False, debug=False)
build_s = time.time() - t0
out = {'build_s': build_s, 'runs': []}
for th in cfg['thresholds']:
    t0 = time.time()
    device.run(run_args={P.v_t: np.array(th)})
    wall = time.time() - t0
    out['runs'].append({'run_cpu_s': float(device._last_run_time), 'wall_s': wall,
                        'spikes': int(mon.num_spikes)})
print('RESULT' + json.dumps(out))
'''


def thresholds(n: int, delta_v: float) -> np.ndarray:
    from hetfit.models.presets import lorentzian_thresholds

    het = lorentzian_thresholds(-40.0, delta_v, -60.0)
    return het.sample(n) if hasattr(het, "sample") else np.full(n, float(het))


def run_brian(n: int, dt: float, t_max: float, drive: float, deltas) -> dict:
    with tempfile.TemporaryDirectory(prefix="brian_izh_") as tmp:
        cfg = {"outdir": os.path.join(tmp, "out"), "n": n, "dt": dt, "t_max": t_max,
               "drive": drive, "thresholds": [thresholds(n, d).tolist() for d in deltas]}
        cfg_path = os.path.join(tmp, "cfg.json")
        with open(cfg_path, "w") as fh:
            json.dump(cfg, fh)
        proc = subprocess.run([sys.executable, "-c", BRIAN_SCRIPT, cfg_path],
                              capture_output=True, text=True, check=False)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
        if proc.returncode != 0 or not line:
            raise RuntimeError(f"Brian2 failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return json.loads(line[0][len("RESULT"):])


def hetfit_single(n, dt, t_max, drive, method, repeats):
    from hetfit.models.batch import simulate_izhikevich
    from hetfit.models.presets import single_population

    net = single_population(n=n, delta_v=1.0, I_ext=drive)
    simulate_izhikevich(net, 10 * dt, dt, seed=0, method=method)  # load/compile
    cpu, wall, spikes = [], [], None
    for _ in range(repeats):
        r = simulate_izhikevich(net, t_max, dt, seed=0, method=method, record_spikes=False)
        cpu.append(r.meta["simulate_cpu_s"])
        wall.append(r.meta["simulate_wall_s"])
        spikes = int(np.sum(r.meta["spike_counts"]))
    return {"method": method, "dt_ms": dt, "spikes": spikes, "cpu_s": min(cpu),
            "wall_s": min(wall), "neuron_updates_per_s_per_core": n * t_max / dt / min(cpu)}


def hetfit_batch(n, dt, t_max, drive, deltas, threads, method):
    from hetfit.models.batch import simulate_batch
    from hetfit.models.heterogeneity import Heterogeneity
    from hetfit.models.presets import single_population

    net = single_population(n=n, delta_v=1.0, I_ext=drive)
    pop = net.populations[0]
    assert isinstance(pop.v_theta, Heterogeneity)
    params = {"E.v_theta.width": list(deltas)}
    simulate_batch(net, {"E.v_theta.width": list(deltas[:2])}, 10 * dt, dt, seed=0,
                   n_threads=threads, method=method)  # load/compile
    t0 = time.perf_counter()
    res = simulate_batch(net, params, t_max, dt, seed=0, n_threads=threads, method=method)
    wall = time.perf_counter() - t0
    return {"threads": threads, "method": method, "dt_ms": dt, "sets": len(deltas),
            "wall_s": wall, "kernel_wall_s": res.meta["simulate_wall_s"],
            "kernel_cpu_s": res.meta["simulate_cpu_s"],
            "cpu_ms_per_sim": 1e3 * res.meta["simulate_cpu_s"] / len(deltas),
            "spikes": res.spike_counts.sum(axis=1).tolist()}


def noise_cost(n=10_000, reps=2000):
    from hetfit.models import _izhikevich_kernels as K

    xi = np.zeros(n)
    K.fill_noise(xi, 0, n, np.uint64(1), 1.0)
    t0 = time.thread_time()
    for r in range(reps):
        K.fill_noise(xi, 0, n, np.uint64(K.noise_key_for_step(np.uint64(1), r)), 1.0)
    return (time.thread_time() - t0) / (n * reps) * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-single", type=int, default=10_000)
    ap.add_argument("--n-batch", type=int, default=1_000)
    ap.add_argument("--sets", type=int, default=256)
    ap.add_argument("--brian-sets", type=int, default=16,
                    help="Brian2 runs actually timed for the batch comparison (extrapolated)")
    ap.add_argument("--t-max", type=float, default=1000.0)
    ap.add_argument("--drive", type=float, default=50.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-brian", action="store_true")
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args()

    out: dict = {
        "machine": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(), "python": platform.python_version(),
        "load_before": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    T, drive = args.t_max, args.drive
    # 1. single network
    single = [hetfit_single(args.n_single, 0.01, T, drive, "euler", args.repeats),
              hetfit_single(args.n_single, 0.01, T, drive, "exact", args.repeats),
              hetfit_single(args.n_single, 0.05, T, drive, "exact", args.repeats)]
    out["single_hetfit"] = single
    if not args.skip_brian:
        b = run_brian(args.n_single, 0.01, T, drive, [1.0] * args.repeats)
        out["single_brian"] = {"build_s": b["build_s"],
                               "cpu_s": min(r["run_cpu_s"] for r in b["runs"]),
                               "spikes": b["runs"][0]["spikes"]}
        bc = out["single_brian"]["cpu_s"]
        for s in single:
            s["speedup_vs_brian"] = bc / s["cpu_s"]
            s["spike_count_rel_diff"] = s["spikes"] / out["single_brian"]["spikes"] - 1
        out["single_brian"]["neuron_updates_per_s"] = args.n_single * T / 0.01 / bc
    # 2.+3. batch
    deltas = np.linspace(0.2, 3.0, args.sets)
    batch = []
    for method, dt in (("euler", 0.01), ("exact", 0.05), ("exact", 0.1)):
        for threads in (1, 2):
            batch.append(hetfit_batch(args.n_batch, dt, T, drive, deltas, threads, method))
    out["batch_hetfit"] = [{k: v for k, v in b.items() if k != "spikes"} for b in batch]
    for method, dt in (("euler", 0.01), ("exact", 0.05), ("exact", 0.1)):
        one = [b for b in batch if b["threads"] == 1 and b["method"] == method and b["dt_ms"] == dt][0]
        two = [b for b in batch if b["threads"] == 2 and b["method"] == method and b["dt_ms"] == dt][0]
        out.setdefault("thread_scaling", []).append(
            {"method": method, "dt_ms": dt, "speedup_2_vs_1_threads": one["kernel_wall_s"] / two["kernel_wall_s"]})
    if not args.skip_brian:
        idx = np.linspace(0, args.sets - 1, args.brian_sets).astype(int)
        b = run_brian(args.n_batch, 0.01, T, drive, deltas[idx])
        per_run = np.mean([r["run_cpu_s"] for r in b["runs"]])
        brian_total = per_run * args.sets
        ref = [x for x in batch if x["method"] == "euler" and x["threads"] == 1][0]
        brian_spikes = np.array([r["spikes"] for r in b["runs"]])
        het_spikes = np.array(ref["spikes"])[idx]
        out["batch_brian"] = {"timed_sets": int(args.brian_sets), "cpu_s_per_run": per_run,
                              "extrapolated_total_cpu_s": brian_total, "build_s": b["build_s"],
                              "spike_count_rel_diff_euler": (het_spikes / brian_spikes - 1).tolist()}
        for x in out["batch_hetfit"]:
            x["speedup_vs_brian_sequential_wall"] = brian_total / x["kernel_wall_s"]
            x["speedup_vs_brian_sequential_cpu"] = brian_total / x["kernel_cpu_s"]
    # 4. noise
    out["noise_ns_per_sample"] = noise_cost()
    out["load_after"] = os.getloadavg()
    text = json.dumps(out, indent=2, default=float)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
