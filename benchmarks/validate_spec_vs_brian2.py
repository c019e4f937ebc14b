"""A data-constrained three-population spec run by hetfit and by Brian2 (issue 12).

The network: E (mouse spiny cells), PV-like (Pvalb-IRES-Cre) and SST-like (Sst-IRES-Cre)
Izhikevich populations whose per-neuron C, k, v_r, v_theta, b, tau_u and kappa are drawn by
``hetfit params --preset allen_mouse...`` (each cell keeps its own values, written as explicit
arrays in a hand-assembled ``hetfit-network`` spec), sparse Erdős–Rényi connectivity with
log-normal per-edge weights, constant drives.  For each seed, hetfit simulates the spec
(``method="euler"``, the scheme Brian2 uses, dt 0.01 ms) and writes the Brian2 export of the
same seed, which Brian2 (cpp_standalone) runs; the script reports each population's rate and
the relative difference.

Run with the hetfit environment, pointing at a Python that has Brian2 (numpy < 2)::

    python benchmarks/validate_spec_vs_brian2.py --brian2-python /work/b2env/bin/python \\
        --seeds 5 --json benchmarks/out/spec_vs_brian2.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESETS = {"E": "allen_mouse:spiny", "PV": "allen_mouse_lines:Pvalb_IRES_Cre",
           "SST": "allen_mouse_lines:Sst_IRES_Cre"}
SYNAPSE = {"E": (0.0, 6.0), "PV": (-65.0, 8.0), "SST": (-65.0, 20.0)}  # E_syn mV, tau_s ms


def build_spec(sizes: dict[str, int], drives: dict[str, float], work: Path) -> dict:
    from hetfit.cli.main import main

    pops = {}
    for name, preset in PRESETS.items():
        out = work / f"{name}.json"
        code = main(["params", "--quiet", "--preset", preset, "--n", str(sizes[name]),
                     "--seed", "1", "--out", str(out)])
        if code != 0:
            raise SystemExit(f"hetfit params failed for {preset}")
        d = json.loads(out.read_text())
        pd = {"n": sizes[name]}
        for key in ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa"):
            pd[key] = {"values": d["parameters"][key]["values"]}
        pd["v_peak"] = d["parameters"]["v_peak"]["values"][0]
        pd["v_reset"] = d["parameters"]["v_reset"]["values"][0]
        pd["E_syn"], pd["tau_s"] = SYNAPSE[name]
        pd["g"] = 1.0
        pd["input"] = {"constant_pA": drives[name]}
        pops[name] = pd

    def conn(pre, post, p, median):
        return {"pre": pre, "post": post, "rule": {"erdos_renyi": p},
                "weight": {"family": "lognormal", "center": median, "width": 0.5,
                           "sampling": "random"}}

    connections = [conn("E", "E", 0.1, 0.004), conn("E", "PV", 0.2, 0.004),
                   conn("E", "SST", 0.2, 0.003), conn("PV", "E", 0.2, 0.006),
                   conn("PV", "PV", 0.2, 0.006), conn("SST", "E", 0.2, 0.004),
                   conn("SST", "PV", 0.2, 0.004)]
    return {"format": "hetfit-network", "format_version": 1, "model": "izhikevich",
            "name": "e_pv_sst", "description": "E / PV-like / SST-like populations from the "
            "Allen mouse presets, sparse log-normal weights (benchmarks/validate_spec_vs_"
            "brian2.py)", "populations": pops, "connections": connections}


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brian2-python", required=True)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--t-max", type=float, default=1000.0, help="ms")
    ap.add_argument("--dt", type=float, default=0.01, help="ms")
    ap.add_argument("--n", type=int, nargs=3, default=[800, 150, 100], metavar=("E", "PV", "SST"))
    ap.add_argument("--drives", type=float, nargs=3, default=[200.0, 300.0, 100.0],
                    metavar=("E", "PV", "SST"), help="pA")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from hetfit.models.batch import simulate_izhikevich
    from hetfit.models.export_brian2 import write_brian2
    from hetfit.models.spec import NetworkSpec

    work = Path(tempfile.mkdtemp(prefix="spec_b2_"))
    sizes = dict(zip(PRESETS, args.n))
    spec = NetworkSpec.from_dict(build_spec(sizes, dict(zip(PRESETS, args.drives)), work))
    spec.save(work / "e_pv_sst.json")
    rows = []
    for seed in range(args.seeds):
        net = spec.network(seed=seed)
        t0 = time.perf_counter()
        res = simulate_izhikevich(net, args.t_max, args.dt, seed=seed, method="euler",
                                  record_spikes=False)
        t_het = time.perf_counter() - t0
        script = write_brian2(net, work / f"seed{seed}.py", seed=seed, t_max_ms=args.t_max,
                              dt_ms=args.dt, name="e_pv_sst")
        t0 = time.perf_counter()
        out = subprocess.run([args.brian2_python, str(script), "--device", "cpp_standalone"],
                             capture_output=True, text=True, check=True)
        t_b2 = time.perf_counter() - t0
        brian = json.loads(out.stdout.strip().splitlines()[-1])
        counts = res.meta["spike_counts"]
        start = 0
        for pop in net.populations:
            ours = float(counts[start:start + pop.n].sum()) / pop.n / (args.t_max / 1e3)
            start += pop.n
            theirs = brian[pop.name]["rate_hz"]
            rows.append({"seed": seed, "population": pop.name, "hetfit_hz": ours,
                         "brian2_hz": theirs, "rel_diff": (theirs - ours) / ours if ours else
                         None, "hetfit_s": t_het, "brian2_s_with_build": t_b2})
            print(f"seed {seed} {pop.name:<4} hetfit {ours:8.3f} Hz  brian2 {theirs:8.3f} Hz  "
                  f"diff {100 * (theirs - ours) / ours:+.2f}%", flush=True)
    worst = max(abs(r["rel_diff"]) for r in rows)
    print(f"largest |difference|: {100 * worst:.2f}% over {args.seeds} seeds")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "rows": rows, "max_abs_rel_diff": worst, "t_max_ms": args.t_max, "dt_ms": args.dt,
            "sizes": sizes, "drives_pA": dict(zip(PRESETS, args.drives)),
            "machine": platform.processor() or platform.machine(),
            "python": sys.version.split()[0], "spec": str(work / "e_pv_sst.json")}, indent=2))
    print(f"spec and scripts in {work}")


if __name__ == "__main__":
    main_()
