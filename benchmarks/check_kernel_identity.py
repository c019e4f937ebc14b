"""Bit-identity check of the Izhikevich kernel against an older checkout.

Runs a handful of representative simulations (single population and gast2023_ei; all-to-all
and sparse; with and without noise; ``exact`` and ``euler``; batched with per-set overrides
``E.v_theta.width``, ``E.I_offset``, ``E.C``, ``E.tau_u``, ``J.E.I`` on 2 threads) once
with this tree and once with the old code, each in its own process, and compares spike
times, neurons, counts, rates and mean voltages exactly.

    git worktree add /tmp/kernel-base <base commit>
    python benchmarks/check_kernel_identity.py --base /tmp/kernel-base

Exit status 0 only when every array is bit-identical.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]


def run_cases(path: str) -> None:
    from hetfit.models import batch as _batch
    from hetfit.models import izhikevich as _izh
    from hetfit.models import presets
    from hetfit.models.batch import simulate_batch
    from hetfit.models.heterogeneity import Heterogeneity
    from hetfit.models.izhikevich import IzhikevichNetwork, IzhikevichPopulation

    # the script runs against two versions of hetfit; simulate_izhikevich moved from
    # models.izhikevich to models.batch (import cycle) after the base commit
    simulate_izhikevich = getattr(_batch, "simulate_izhikevich", None) or _izh.simulate_izhikevich

    out = {}

    def rec(name, r):
        out[name + ".t"] = r.spike_times_ms
        out[name + ".i"] = r.spike_neurons
        out[name + ".c"] = np.asarray(r.meta["spike_counts"])
        out[name + ".rate"] = r.rates_hz

    t0 = time.time()
    single = presets.single_population(n=2000, delta_v=1.0, I_ext=50.0)
    for m, dt in (("exact", 0.05), ("euler", 0.01)):
        rec(f"single_{m}", simulate_izhikevich(single, 300.0, dt, seed=1, method=m))
    ei = presets.gast2023_ei(n_e=800, n_i=200)
    rec("ei_a2a_exact", simulate_izhikevich(ei, 300.0, 0.05, seed=2))
    rec("ei_a2a_euler", simulate_izhikevich(ei, 200.0, 0.01, seed=2, method="euler"))
    eis = presets.gast2023_ei(n_e=800, n_i=200, connection_p=0.2, sampling="random")
    rec("ei_sparse_exact", simulate_izhikevich(eis, 300.0, 0.05, seed=3))
    rec("ei_sparse_euler", simulate_izhikevich(eis, 200.0, 0.01, seed=3, method="euler"))
    noisy = IzhikevichNetwork.single(IzhikevichPopulation(
        n=1000, v_theta=Heterogeneity(-40.0, 1.0, low=-60.0, high=-20.0), eta=Heterogeneity(30.0, 5.0, "gaussian", sampling="random"),
        g=Heterogeneity(15.0, 2.0, low=0.0), theta_reset=Heterogeneity(0.1, 0.05, "gaussian", 0.0, 0.5, "random"), noise_sigma=40.0, I_ext=20.0), J=1.0)
    rec("noise_exact", simulate_izhikevich(noisy, 300.0, 0.05, seed=4))
    rec("noise_euler", simulate_izhikevich(noisy, 200.0, 0.01, seed=4, method="euler"))
    noisy_sp = IzhikevichNetwork((noisy.populations[0],), J=1.0, connection_p=0.1)
    rec("noise_sparse_exact", simulate_izhikevich(noisy_sp, 300.0, 0.05, seed=5))
    rec("noise_sparse_euler", simulate_izhikevich(noisy_sp, 200.0, 0.01, seed=5, method="euler"))
    # batched: per-set overrides incl. E.v_theta.width, E.I_offset, E.C, E.tau_u; 2 threads
    single_s = presets.single_population(n=500, delta_v=1.0, I_ext=50.0)
    params = {"E.v_theta.width": [0.3, 1.0, 2.0, 3.0], "E.I_offset": [0.0, 5.0, -5.0, 10.0],
              "E.C": [100.0, 90.0, 110.0, 100.0], "E.tau_u": [33.3, 40.0, 25.0, 33.3]}
    for m, dt in (("exact", 0.05), ("euler", 0.01)):
        b = simulate_batch(single_s, params, 200.0, dt, seed=6, method=m, record_spikes=True, n_threads=2)
        for j in range(len(b)):
            out[f"batch_{m}_{j}.t"], out[f"batch_{m}_{j}.i"] = b.spikes[j]
            out[f"batch_{m}_{j}.c"] = b.spike_counts[j]
        be = simulate_batch(ei, {"I.v_theta.width": [0.5, 1.5], "J.E.I": [10.0, 20.0]}, 200.0, dt, seed=7, method=m, record_v=True, n_threads=2)
        out[f"batch_ei_{m}.c"] = be.spike_counts
        out[f"batch_ei_{m}.v"] = be.v_mean_mV
    np.savez(path, **out)
    print(f"{len(out)} arrays in {time.time() - t0:.1f} s from {presets.__file__}")


def compare(fa: str, fb: str) -> int:
    a, b = np.load(fa), np.load(fb)
    if sorted(a.files) != sorted(b.files):
        print("different result sets:", set(a.files) ^ set(b.files))
        return 1
    bad = 0
    for k in sorted(a.files):
        x, y = a[k], b[k]
        if not (x.shape == y.shape and np.array_equal(x, y, equal_nan=True)):
            bad += 1
            msg = f"{k}: shapes {x.shape} {y.shape}"
            if x.shape == y.shape and x.size:
                msg += f", max |diff| {np.nanmax(np.abs(x - y))}"
            print("DIFF", msg)
    names = sorted({k.rsplit(".", 1)[0] for k in a.files})
    print(f"{len(a.files) - bad}/{len(a.files)} arrays bit-identical across {len(names)} cases")
    for n in names:
        if n + ".c" in a.files:
            print(f"  {n}: {int(np.sum(a[n + '.c']))} spikes (base) vs "
                  f"{int(np.sum(b[n + '.c']))} (this tree)")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="root of the old checkout (a git worktree)")
    ap.add_argument("--run", help=argparse.SUPPRESS)  # internal: run the cases, write npz
    args = ap.parse_args()
    if args.run:
        run_cases(args.run)
        return
    if not args.base:
        ap.error("--base is required")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for label, root in (("base", args.base), ("this tree", str(HERE))):
            f = os.path.join(tmp, label.replace(" ", "_") + ".npz")
            env = dict(os.environ, PYTHONPATH=root)
            print(f"[{label}] {root}", flush=True)
            subprocess.run([sys.executable, __file__, "--run", f], env=env, check=True,
                           cwd=tmp)
            files.append(f)
        sys.exit(compare(*files))


if __name__ == "__main__":
    main()
