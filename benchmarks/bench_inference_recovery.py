"""Recovery, calibration and cost of width inference on the E/I Izhikevich network.

What it does (default budget, default problem ``gast2023_ei``):

1. ``WidthFitter.fit``: ``--budget`` training simulations + held-out validation simulations
   (resumable store under ``--out``), NPE training, SBC (rank KS test per parameter) and
   expected coverage on the held-out simulations.  Simulation and training wall times.
2. ``--n-test`` synthetic recordings: widths and drives drawn from the prior, simulated
   with fresh seeds, written to CSV and read back with hetfit's reader (the path a user's
   data takes), summarized and passed to the trained posterior.  Median relative error of
   the posterior mean and coverage of the 90% credible interval for each width.
3. Cost of applying the saved posterior to a new recording: in-process (load + summaries +
   4000 samples) and as a ``hetfit fit --posterior`` command (process start and imports
   included).

Usage::

    python benchmarks/bench_inference_recovery.py --out /tmp/hetfit_bench_inference \\
        [--budget 10000] [--n-test 100] [--model gast2023_ei] [--seed 1]

Results go to ``OUT/results.json`` and a Markdown summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--model", default="gast2023_ei")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="numba threads")
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--n-validation", type=int, default=None)
    ap.add_argument("--embedding", choices=("cnn", "fc"), default=None,
                    help="embedding network (use cnn with a raw_traces=true model)")
    ap.add_argument("--reuse", action="store_true",
                    help="evaluate OUT/posterior.pt from an earlier run instead of refitting")
    ap.add_argument("--unchecked", action="store_true",
                    help="with --reuse: accept a posterior whose stored model spec differs "
                    "from today's (e.g. trained before a spec field was added); the summary "
                    "names must still be identical")
    args = ap.parse_args()

    from hetfit.data_adapters.activity import read_spike_csv
    from hetfit.inference.artifacts import load_posterior
    from hetfit.inference.fit import DEFAULT_BUDGET, WidthFitter
    from hetfit.inference.problems import problem_from_spec
    from hetfit.seeding import child_seeds

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = args.budget or DEFAULT_BUDGET
    load0 = os.getloadavg()
    sim, prior = problem_from_spec(args.model, n_threads=args.threads)
    from hetfit.inference.estimators import EstimatorConfig

    channels = len(sim.summaries.groups) if args.embedding == "cnn" else 1
    estimator = EstimatorConfig(embedding=args.embedding, embedding_channels=channels)
    fitter = WidthFitter(sim, prior, budget=budget, seed=args.seed, store=out / "simulations",
                         n_validation=args.n_validation, n_threads=args.threads,
                         torch_threads=args.torch_threads, chunk_size=250,
                         estimator=estimator)
    if args.reuse and (out / "posterior.pt").exists() and (out / "fit.json").exists():
        # evaluate a posterior trained by an earlier run of this script
        if args.unchecked:
            post = load_posterior(out / "posterior.pt")
            if list(post.summary_names) != list(sim.summary_names):
                raise SystemExit("--unchecked: the posterior's summaries differ from the model's")
            fitter.posterior_ = post
        else:
            fitter = WidthFitter.from_posterior(out / "posterior.pt", sim, prior,
                                                torch_threads=args.torch_threads)
        saved = json.loads((out / "fit.json").read_text())
        fd, fit_wall = saved["fit"], saved["fit_wall_s"]
    else:
        t0 = time.perf_counter()
        fit = fitter.fit(posterior_path=out / "posterior.pt")
        fit_wall = time.perf_counter() - t0
        fd = fit.to_dict()
        (out / "fit.json").write_text(json.dumps({"fit": fd, "fit_wall_s": fit_wall,
                                                  "loadavg": load0}, indent=2))
    # Spike files cannot list silent cells: with observe_silent the recordings are used
    # directly (they list every cell); otherwise they go through CSV and hetfit's reader.
    via_csv = not sim.summaries.observe_silent

    # -- held-out synthetic recordings through the CSV reader ---------------------------
    s_theta, s_sim = child_seeds(args.seed + 10_000, 2)
    theta = prior.sample(args.n_test, seed=int(s_theta))
    seeds = child_seeds(int(s_sim), args.n_test)
    rec_dir = out / "test_recordings"
    rec_dir.mkdir(exist_ok=True)
    rows, failed = [], 0
    t_sim_test = time.perf_counter()
    recs = []
    for k in range(0, args.n_test, 25):
        recs += sim.simulate_recordings(theta[k:k + 25], seeds[k:k + 25])
    t_sim_test = time.perf_counter() - t_sim_test
    t_apply = []
    for i, rec in enumerate(recs):
        if rec is None:
            failed += 1
            continue
        path = rec_dir / f"rec{i:03d}.csv"
        rec.to_csv(path)
        data = (read_spike_csv(path, t_start_ms=rec.t_start_ms, t_stop_ms=rec.t_stop_ms)
                if via_csv else rec)
        t = time.perf_counter()
        try:
            obs = fitter.posterior_for(data, n_samples=4000, seed=i)
        except Exception as exc:
            failed += 1
            print(f"test recording {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        t_apply.append(time.perf_counter() - t)
        row = {"theta": theta[i].tolist(), "plausible": obs.misspecification.plausible}
        for p in obs.summary.parameters:
            row[p.name] = {"mean": p.mean, "median": p.median, "lo": p.interval[0],
                           "hi": p.interval[1]}
        rows.append(row)
    names = list(prior.names)
    rel, cover = {}, {}
    for j, n in enumerate(names):
        truth = np.array([r["theta"][j] for r in rows])
        mean = np.array([r[n]["mean"] for r in rows])
        lo = np.array([r[n]["lo"] for r in rows])
        hi = np.array([r[n]["hi"] for r in rows])
        rel[n] = float(np.median(np.abs(mean - truth) / np.abs(truth))) if np.all(
            truth != 0) else float("nan")
        cover[n] = float(np.mean((truth >= lo) & (truth <= hi)))

    # -- cost of applying the saved posterior ---------------------------------------------
    probe = rec_dir / "rec000.csv"
    t = time.perf_counter()
    checked = {} if args.unchecked else {"simulator": sim, "prior": prior}
    post = load_posterior(out / "posterior.pt", n_threads=1, **checked)
    t_load = time.perf_counter() - t
    data = (read_spike_csv(probe, t_start_ms=recs[0].t_start_ms, t_stop_ms=recs[0].t_stop_ms)
            if via_csv else recs[0])
    t = time.perf_counter()
    x = sim.summaries_of(data)
    post.summarize(x, n=4000, seed=0)
    t_obs = time.perf_counter() - t
    # The posterior was trained observing all units (units_per_population=None); say so,
    # otherwise the CLI matches the model to the recording's unit count.  (With
    # observe_silent the CSV lacks silent cells, so only the timing is meaningful.)
    spec = args.model + ("," if ":" in args.model else ":") + "units_per_population=null"
    cmd = [sys.executable, "-m", "hetfit", "fit", "--recording", str(probe), "--t-start-ms",
           str(recs[0].t_start_ms), "--t-stop-ms", str(recs[0].t_stop_ms), "--model",
           spec, "--posterior", str(out / "posterior.pt"), "--json", "--quiet"]
    t_cli, cli_ok = None, False
    if not args.unchecked:  # the CLI refuses a posterior made for another spec
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        t_cli = time.perf_counter() - t
        cli_ok = proc.returncode == 0

    results = {
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "loadavg_start": load0,
                    "loadavg_end": os.getloadavg(), "python": platform.python_version()},
        "command": " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "budget": budget, "model": args.model, "parameters": names,
        "estimator": estimator.to_dict(),
        "fit_wall_s": fit_wall,
        "simulation_wall_s": fd["simulations"]["wall_time_s"],
        "validation_simulation_wall_s": (fd["validation_simulations"] or {}).get("wall_time_s"),
        "train_time_s": fd["training"]["train_time_s"],
        "epochs": fd["training"]["epochs"],
        "training_excluded": fd["training"]["excluded_by_reason"],
        "sbc": fd["sbc"],
        "validation_recovery": fd["recovery"],
        "test": {"n_requested": args.n_test, "n_used": len(rows), "n_failed": failed,
                 "median_relative_error": rel, "ci90_coverage": cover,
                 "n_flagged_implausible": int(sum(not r["plausible"] for r in rows)),
                 "simulate_wall_s": t_sim_test,
                 "apply_s_median": float(np.median(t_apply)) if t_apply else None},
        "apply_cost_s": {"load_posterior": t_load, "summaries_plus_4000_samples": t_obs,
                         "cli_total_wall": t_cli, "cli_ok": cli_ok},
        "test_recordings_via_csv": via_csv,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if not cli_ok and not args.unchecked:
        print(proc.stderr, file=sys.stderr)


if __name__ == "__main__":
    main()
