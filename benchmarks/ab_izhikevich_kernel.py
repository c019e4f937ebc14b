"""Old vs new Izhikevich kernel, side by side: alternating A/B runs of the hetfit part of
``bench_izhikevich_vs_brian2.py`` on this machine, medians compared.

Each round runs the benchmark once with the old tree and once with this one (order
alternating per round, each in a fresh process with a warm numba cache), so slow drifts of
a shared machine hit both sides alike.

    git worktree add /tmp/kernel-base <base commit>
    python benchmarks/ab_izhikevich_kernel.py --base /tmp/kernel-base --rounds 3 \\
        -- --skip-brian --sets 32 --t-max 500 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def figures(res: dict) -> dict[str, float]:
    """Timed figures of one benchmark run (seconds; noise in ns per sample)."""
    out = {}
    for s in res["single_hetfit"]:
        out[f"single {s['method']} dt={s['dt_ms']} cpu_s"] = s["cpu_s"]
    for b in res["batch_hetfit"]:
        tag = f"batch {b['sets']} sets {b['method']} dt={b['dt_ms']} {b['threads']}thr"
        out[f"{tag} kernel_cpu_s"] = b["kernel_cpu_s"]
        out[f"{tag} kernel_wall_s"] = b["kernel_wall_s"]
    out["noise ns/sample"] = res["noise_ns_per_sample"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="root of the old checkout")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    extra = [a for a in args.bench_args if a != "--"]
    trees = {"old": str(Path(args.base).resolve()), "new": str(HERE)}
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for label in order:
                root = trees[label]
                f = os.path.join(tmp, f"{label}{r}.json")
                script = os.path.join(root, "benchmarks", "bench_izhikevich_vs_brian2.py")
                subprocess.run([sys.executable, script, "--json", f, *extra], check=True,
                               env=dict(os.environ, PYTHONPATH=root), cwd=tmp,
                               stdout=subprocess.DEVNULL)
                runs[label].append(figures(json.load(open(f))))
                print(f"round {r + 1} {label} done", flush=True)
    keys = list(runs["new"][0])
    rows = []
    print("\n| figure | old median | new median | new/old |\n|---|---:|---:|---:|")
    for k in keys:
        o = statistics.median(x[k] for x in runs["old"])
        n = statistics.median(x[k] for x in runs["new"])
        rows.append({"figure": k, "old": o, "new": n, "ratio": n / o,
                     "old_runs": [x[k] for x in runs["old"]],
                     "new_runs": [x[k] for x in runs["new"]]})
        print(f"| {k} | {o:.4g} | {n:.4g} | {n / o:.3f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": extra, "rounds": args.rounds, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
