"""How well do mapped Izhikevich neurons reproduce the features they were built from?

For several shipped presets, draw N neurons (``population_from_estimate``), then measure
each model neuron like an experimenter would: the rheobase by bisection on the current of
1-s steps (a different search from the one that fitted k), the adaptation index at
rheobase + 40 pA, and the model's input resistance and time constant at rest.

    python benchmarks/validate_params_mapping.py --n 300
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

PRESETS = ("allen_human:epilepsy-spiny", "allen_human:tumor-spiny",
           "allen_human:epilepsy-aspiny", "allen_mouse_lines:Pvalb_IRES_Cre",
           "allen_mouse_lines:Sst_IRES_Cre", "allen_mouse:spiny")


def measured_rheobase(params, guess, n_iter=30):
    from hetfit.params.izhikevich import step_rheobase_spikes

    lo = np.zeros_like(guess)
    hi = 3.0 * guess
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        s = step_rheobase_spikes(params, mid, 1000.0, 0.05)
        hi = np.where(s, mid, hi)
        lo = np.where(s, lo, mid)
    return hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--tau-u", type=float, default=100.0)
    args = ap.parse_args()
    from hetfit.params import population_from_estimate, preset_group
    from hetfit.params.izhikevich import adaptation_index, simulate_step

    for name in PRESETS:
        t0 = time.perf_counter()
        _, grp = preset_group(name)
        spec = population_from_estimate(grp, n=args.n, seed=0, tau_u_ms=args.tau_u)
        p, f = spec.values, spec.features
        rheo = measured_rheobase(p, f["rheobase_pA"])
        err = np.abs(rheo / f["rheobase_pA"] - 1.0)
        row = {"preset": name, "n": spec.n,
               "rheobase_rel_error_median": float(np.median(err)),
               "rheobase_rel_error_p95": float(np.quantile(err, 0.95)),
               "hopf_fraction": spec.diagnostics["regime"].get("hopf", 0) / spec.n,
               "r_input_ratio_median": spec.diagnostics["r_input_ratio"]["median"],
               "tau_ratio_median": spec.diagnostics["tau_ratio"]["median"]}
        if "adaptation" in f:
            out = simulate_step(p, f["rheobase_pA"] + 40.0, 1000.0, 0.05)
            a = np.array([adaptation_index(s) for s in out["spikes"]])
            ok = np.isfinite(a)
            row.update(kappa_status=spec.diagnostics["kappa_status"],
                       adaptation_abs_error_median=float(np.median(np.abs(a[ok]
                                                                          - f["adaptation"][ok]))),
                       adaptation_target_median=float(np.median(f["adaptation"])),
                       adaptation_model_median=float(np.median(a[ok])))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
