"""CUBA benchmark (Brette et al. 2007): hetfit's LIF simulator vs Brian2 cpp_standalone.

4,000 LIF neurons (3,200 E / 800 I), p = 0.02, tau_m 20 ms, tau_e 5 ms, tau_i 10 ms,
w_e 1.62 mV, w_i -9 mV, dt 0.1 ms, 1 s; everything else as in Brian2's ``examples/CUBA.py``
(E_L -49 mV, threshold -50 mV, reset -60 mV, refractory 5 ms, v(0) ~ U(-60, -50) mV).
Heterogeneous variant: tau_m, tau_e, tau_i of every neuron drawn from U(0.9, 1.1) x base.

Run with the environment that has Brian2 (numpy < 2), e.g.::

    /work/venv-brian/bin/python benchmarks/bench_lif_cuba_vs_brian2.py --repeats 3

Timings exclude building and are CPU times of the simulation loop, so that other processes on
a shared machine do not inflate them: hetfit's ``meta['run_cpu_time_s']`` (``time.thread_time``
around the numba time-stepping kernel; compilation and graph building excluded) and Brian2's
``device._last_run_time``, which Brian2 measures with ``std::clock()`` (process CPU time) when
OpenMP is off (``openmp_threads = 0``, single thread); code generation and compilation are
excluded.  The median over repeats is reported.  Firing rates are compared as means over the repeats (each repeat a
different seed for both simulators).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BRIAN_SCRIPT = r'''
import json, sys, time
import numpy as np
from brian2 import *
hetero, seed, outdir = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
set_device('cpp_standalone', directory=outdir, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = 0
prefs.codegen.cpp.extra_compile_args_gcc = ['-w', '-O3', '-ffast-math', '-fno-finite-math-only', '-march=native']
seed_ = seed
np.random.seed(seed_)
defaultclock.dt = 0.1*ms
Vt = -50*mV; Vr = -60*mV; El = -49*mV
if hetero > 0:
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    taum : second (constant)
    taue : second (constant)
    taui : second (constant)
    """
else:
    taum = 20*ms; taue = 5*ms; taui = 10*ms
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
P = NeuronGroup(4000, eqs, threshold='v>Vt', reset='v = Vr', refractory=5*ms, method='exact')
P.v = 'Vr + rand() * (Vt - Vr)'
P.ge = 0*mV
P.gi = 0*mV
if hetero > 0:
    rng = np.random.default_rng(seed_)
    P.taum = rng.uniform(1 - hetero, 1 + hetero, 4000) * 20*ms
    P.taue = rng.uniform(1 - hetero, 1 + hetero, 4000) * 5*ms
    P.taui = rng.uniform(1 - hetero, 1 + hetero, 4000) * 10*ms
we = (60 * 0.27 / 10) * mV
wi = (-20 * 4.5 / 10) * mV
Ce = Synapses(P, P, on_pre='ge += we')
Ci = Synapses(P, P, on_pre='gi += wi')
Ce.connect('i<3200', p=0.02)
Ci.connect('i>=3200', p=0.02)
s_mon = SpikeMonitor(P)
run(1 * second)
device.build(directory=outdir, compile=True, run=True, debug=False)
i = np.asarray(s_mon.i)
out = {"run_time_s": float(device._last_run_time), "n_spikes": int(i.size),
       "rate_e_hz": float(np.sum(i < 3200) / 3200.0), "rate_i_hz": float(np.sum(i >= 3200) / 800.0)}
print("RESULT " + json.dumps(out))
'''


def run_brian(hetero: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "cuba_brian.py")
        with open(script, "w") as fh:
            fh.write(BRIAN_SCRIPT)
        proc = subprocess.run([sys.executable, script, str(hetero), str(seed), os.path.join(d, "out")],
                              capture_output=True, text=True, timeout=1200)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise RuntimeError(f"Brian2 run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def run_hetfit(hetero: float, seed: int) -> dict:
    from hetfit.models.lif import brette_cuba, simulate_lif

    net = brette_cuba(hetero, seed=seed)
    r = simulate_lif(net, 1000.0, 0.1, seed=seed)
    return {"run_time_s": r.meta["run_cpu_time_s"], "run_wall_s": r.meta["run_time_s"],
            "wall_time_s": r.meta["wall_time_s"], "kernel": r.meta["kernel"],
            "n_spikes": r.n_spikes, "rate_e_hz": r.mean_rate_hz("E"),
            "rate_i_hz": r.mean_rate_hz("I"), "n_synapses": r.meta["n_synapses"]}


def machine() -> dict:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "python": platform.python_version(),
            "numpy": np.__version__, "load_avg": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hetero", type=float, nargs="+", default=[0.0, 0.1])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    import brian2

    from hetfit.models.lif import brette_cuba, simulate_lif

    simulate_lif(brette_cuba(0.0, n_exc=8, n_inh=2, seed=0), 10.0, 0.1, seed=0)  # compile numba
    report = {"machine": machine(), "brian2": brian2.__version__,
              "date": time.strftime("%Y-%m-%d"), "cases": {}}
    for h in args.hetero:
        rows = {"hetfit": [], "brian2": []}
        for rep in range(args.repeats):
            seed = 1000 + rep
            rows["hetfit"].append(run_hetfit(h, seed))
            rows["brian2"].append(run_brian(h, seed))
            print(f"hetero={h} rep={rep} hetfit={rows['hetfit'][-1]} brian2={rows['brian2'][-1]}",
                  flush=True)
        t_h = statistics.median(r["run_time_s"] for r in rows["hetfit"])
        t_b = statistics.median(r["run_time_s"] for r in rows["brian2"])
        rate = {k: {pop: float(np.mean([r[f"rate_{pop}_hz"] for r in v])) for pop in ("e", "i")}
                for k, v in rows.items()}
        report["cases"][str(h)] = {
            "runs": rows,
            "median_run_time_s": {"hetfit": t_h, "brian2": t_b},
            "speedup": t_b / t_h,
            "hetfit_neuron_updates_per_s": 4000 * 10000 / t_h,
            "brian2_neuron_updates_per_s": 4000 * 10000 / t_b,
            "mean_rate_hz": rate,
            "rate_rel_diff_e": rate["hetfit"]["e"] / rate["brian2"]["e"] - 1,
            "rate_rel_diff_i": rate["hetfit"]["i"] / rate["brian2"]["i"] - 1,
        }
        print(json.dumps({k: v for k, v in report["cases"][str(h)].items() if k != "runs"},
                         indent=1), flush=True)
    report["machine"]["load_avg_end"] = os.getloadavg()
    if args.json:
        from hetfit.io import atomic_write_json

        atomic_write_json(args.json, report)


if __name__ == "__main__":
    main()
