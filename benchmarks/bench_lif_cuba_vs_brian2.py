"""CUBA benchmark (Brette et al. 2007): hetfit's LIF simulator vs Brian2 cpp_standalone.

4,000 LIF neurons (3,200 E / 800 I), p = 0.02, tau_m 20 ms, tau_e 5 ms, tau_i 10 ms,
w_e 1.62 mV, w_i -9 mV, dt 0.1 ms, 1 s; everything else as in Brian2's ``examples/CUBA.py``
(E_L -49 mV, threshold -50 mV, reset -60 mV, refractory 5 ms, v(0) ~ U(-60, -50) mV).
Heterogeneous variant: tau_m, tau_e, tau_i of every neuron drawn from U(0.9, 1.1) x base.

Both simulators run the *same* network: hetfit draws the graph, the per-neuron time constants
and the initial potentials, and Brian2 is given exactly those (``Synapses.connect(i=, j=)``,
per-neuron ``taum/taue/taui`` parameters in the heterogeneous case, constants otherwise).
Each repeat uses a new seed (new network) for both.

Run with the environment that has Brian2 (numpy < 2)::

    /work/venv-brian/bin/python benchmarks/bench_lif_cuba_vs_brian2.py --repeats 5

Timings exclude building and are CPU times of the simulation loop, so that other processes on
a shared machine inflate them less: hetfit's ``meta['run_cpu_time_s']`` (``time.thread_time``
around the numba time-stepping kernel; compilation and graph building excluded) and Brian2's
``device._last_run_time``, which Brian2 measures with ``std::clock()`` (process CPU time) when
OpenMP is off (``openmp_threads = 0``, single thread); code generation and C++ compilation
are excluded.  Medians over repeats are reported, and the per-repeat ratios.
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
import json, sys
import numpy as np
from brian2 import *
data = np.load(sys.argv[1])
hetero, outdir = float(sys.argv[2]) > 0, sys.argv[3]
set_device('cpp_standalone', directory=outdir, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = 0
defaultclock.dt = 0.1*ms
Vt = -50*mV; Vr = -60*mV; El = -49*mV
if hetero:
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
P.v = data['v0'] * mV
P.ge = 0*mV
P.gi = 0*mV
if hetero:
    P.taum = data['taum'] * ms
    P.taue = data['taue'] * ms
    P.taui = data['taui'] * ms
we = (60 * 0.27 / 10) * mV
wi = (-20 * 4.5 / 10) * mV
Ce = Synapses(P, P, on_pre='ge += we')
Ci = Synapses(P, P, on_pre='gi += wi')
Ce.connect(i=data['pre_e'], j=data['post_e'])
Ci.connect(i=data['pre_i'], j=data['post_i'])
s_mon = SpikeMonitor(P)
run(1 * second)
device.build(directory=outdir, compile=True, run=True, debug=False)
i = np.asarray(s_mon.i)
out = {"run_time_s": float(device._last_run_time), "n_spikes": int(i.size),
       "rate_e_hz": float(np.sum(i < 3200) / 3200.0), "rate_i_hz": float(np.sum(i >= 3200) / 800.0),
       "n_synapses": int(len(Ce) + len(Ci))}
print("RESULT " + json.dumps(out))
'''


def run_hetfit(hetero: float, seed: int, export: str) -> dict:
    from hetfit.models.lif import brette_cuba, build_connectivity, simulate_lif

    net = brette_cuba(hetero, seed=seed)
    r = simulate_lif(net, 1000.0, 0.1, seed=seed)
    indptr, targets, _ = build_connectivity(net, r.meta["graph_seed"])
    pre = np.repeat(np.arange(4000), np.diff(indptr))
    exc = pre < 3200
    s = r.meta["samples"]
    np.savez(export, v0=np.concatenate([s["E"]["v_init_mv"], s["I"]["v_init_mv"]]),
             taum=np.concatenate([s["E"]["tau_m_ms"], s["I"]["tau_m_ms"]]),
             taue=np.concatenate([s["E"]["tau_e_ms"], s["I"]["tau_e_ms"]]),
             taui=np.concatenate([s["E"]["tau_i_ms"], s["I"]["tau_i_ms"]]),
             pre_e=pre[exc], post_e=targets[exc], pre_i=pre[~exc], post_i=targets[~exc])
    return {"run_time_s": r.meta["run_cpu_time_s"], "run_wall_s": r.meta["run_time_s"],
            "kernel": r.meta["kernel"], "n_spikes": r.n_spikes,
            "rate_e_hz": r.mean_rate_hz("E"), "rate_i_hz": r.mean_rate_hz("I"),
            "n_synapses": r.meta["n_synapses"]}


def run_brian(hetero: float, export: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "cuba_brian.py")
        with open(script, "w") as fh:
            fh.write(BRIAN_SCRIPT)
        proc = subprocess.run([sys.executable, script, export, str(hetero), os.path.join(d, "out")],
                              capture_output=True, text=True, timeout=1800)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise RuntimeError(f"Brian2 run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


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
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--hetero", type=float, nargs="+", default=[0.0, 0.1])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    import brian2

    from hetfit.models.lif import brette_cuba, simulate_lif

    # compile every numba kernel the benchmark uses before timing
    for h in args.hetero:
        simulate_lif(brette_cuba(h, n_exc=8, n_inh=2, seed=0), 10.0, 0.1, seed=0)
    report = {"machine": machine(), "brian2": brian2.__version__,
              "date": time.strftime("%Y-%m-%d"), "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for h in args.hetero:
            rows = {"hetfit": [], "brian2": []}
            for rep in range(args.repeats):
                seed = 1000 + rep
                export = os.path.join(tmp, f"net_{h}_{rep}.npz")
                rows["hetfit"].append(run_hetfit(h, seed, export))
                rows["brian2"].append(run_brian(h, export))
                print(f"hetero={h} rep={rep} hetfit={rows['hetfit'][-1]} "
                      f"brian2={rows['brian2'][-1]}", flush=True)
            t_h = statistics.median(r["run_time_s"] for r in rows["hetfit"])
            t_b = statistics.median(r["run_time_s"] for r in rows["brian2"])
            rate = {k: {pop: float(np.mean([r[f"rate_{pop}_hz"] for r in v])) for pop in ("e", "i")}
                    for k, v in rows.items()}
            report["cases"][str(h)] = {
                "runs": rows,
                "median_run_cpu_s": {"hetfit": t_h, "brian2": t_b},
                "speedup_of_medians": t_b / t_h,
                "speedup_per_repeat": [b["run_time_s"] / a["run_time_s"]
                                       for a, b in zip(rows["hetfit"], rows["brian2"])],
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
