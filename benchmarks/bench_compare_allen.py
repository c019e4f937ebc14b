"""Full `hetfit compare` on the Allen human preset: wall time, engines, headline numbers.

Acceptance: finishes in under 10 minutes on 2 cores, using the mean field where it applies
(fixed-point structure of the E/I circuit with Lorentzian thresholds) and network
simulations where it does not (synchrony, step response), and says which it used.

Run:  /work/venv/bin/python benchmarks/bench_compare_allen.py [--quick] [--no-sweeps]
      [--preset rich2022]
(the data root is ../shared/data next to the repository, or $HETFIT_SHARED_DATA).
Writes the report to benchmarks/out/compare_allen[_quick]/ and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-sweeps", action="store_true", help="without sweeps and power")
    ap.add_argument("--preset", default="allen-human")
    a = ap.parse_args()
    root = os.environ.get("HETFIT_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    out = REPO / "benchmarks" / "out" / (f"compare_{a.preset.replace('-', '_')}"
                                         + ("_quick" if a.quick else ""))
    cmd = [sys.executable, "-m", "hetfit", "compare", "--preset", a.preset, "--data-root",
           root, "--seed", "0", "--out", str(out), "--json"]
    if a.quick:
        cmd.append("--quick")
    if not a.no_sweeps:
        cmd += ["--sweeps", "--power"]
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit(r.returncode)
    res = json.loads(r.stdout)
    print(f"command: {' '.join(cmd[1:])}")
    print(f"wall time: {wall:.1f} s (load before {load0}, after {load1})")
    nets = res.get("networks")
    if nets:
        print("engines:", json.dumps(nets["engines"]))
        for k, m in nets["measures"].items():
            print(f"  {k:<22} {m['engine']:<10} healthy {m['healthy']:.4g} "
                  f"disease {m['disease']:.4g} diff {m['difference']:+.4g} "
                  f"[{m['difference_interval'][0]:.4g}, {m['difference_interval'][1]:.4g}]")
        for c, w in nets["widths"].items():
            print(f"  widths {c}: {w['point']} intervals {w['interval']}")
    for model, nc in res.get("extra_networks", {}).items():
        print(f"extra network {model}: widths "
              + "; ".join(f"{c} {w['point']}" for c, w in nc["widths"].items()))
        for k, m in nc["measures"].items():
            print(f"  {k:<22} {m['engine']:<10} healthy {m['healthy']:.4g} "
                  f"disease {m['disease']:.4g} diff {m['difference']:+.4g} "
                  f"[{m['difference_interval'][0]:.4g}, {m['difference_interval'][1]:.4g}]")
    for s in res["summary"]["spreads"]:
        print(f"  {s['type']:<18} {s['feature']:<26} ratio {s['ratio']:.3g} "
              f"[{s['ratio_low']:.3g}, {s['ratio_high']:.3g}] p {s['p_permutation']:.3g} "
              f"q {s['q']:.3g}")
    for k, sw in res.get("sweeps", {}).items():
        tr = {n: t["width"] for n, t in sw["transitions"].items()}
        trends = {n: None if t["rho"] is None else round(t["rho"], 2)
                  for n, t in sw["trends"].items() if n.startswith(("chi", "bistable"))}
        print(f"  sweep {k}: transitions {tr} trends {trends}")


if __name__ == "__main__":
    main()
