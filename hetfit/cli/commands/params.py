"""`hetfit params`: data-constrained per-neuron model parameters from an estimate or preset.

Examples::

    hetfit params --from estimate.json --type human-epilepsy-spiny --n 1000 --out params.json
    hetfit params --preset allen_human:epilepsy-spiny --n 1000 --out params.json --json
    hetfit params --preset allen_mouse_lines:Pvalb_IRES_Cre --model lif --n 200 --out pv.json
    hetfit params --list-presets
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "draw N neurons from an estimated type and map them to model parameters"
DESCRIPTION = (
    "Draw N neurons from a type's fitted feature distributions (coupled by their rank "
    "correlations), map each to Izhikevich or LIF parameters (see docs/params.md for every "
    "mapping and its assumption), and write a population spec JSON: per-neuron values, "
    "per-parameter distributions, mapping notes and provenance, readable by hetfit, Brian2 "
    "and NEST users."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--from", dest="from_", metavar="ESTIMATE.json",
                     help="estimate written by 'hetfit estimate --out'")
    src.add_argument("--preset", metavar="COLLECTION:TYPE",
                     help="a shipped preset, e.g. allen_human:epilepsy-spiny")
    src.add_argument("--list-presets", action="store_true", help="list shipped presets")
    parser.add_argument("--type", dest="type_name", help="type in the estimate (needed when "
                        "it holds several)")
    parser.add_argument("--model", default="izhikevich", choices=("izhikevich", "lif"))
    parser.add_argument("--n", type=int, default=1000, help="number of neurons")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-correlations", action="store_true",
                        help="draw features independently (ignore rank correlations)")
    iz = parser.add_argument_group("Izhikevich mapping")
    iz.add_argument("--tau-u", type=float, default=100.0, help="recovery time constant (ms)")
    iz.add_argument("--spike-shape", default="izhikevich2007",
                    choices=("izhikevich2007", "meanfield"),
                    help="v_peak/v_reset convention: 35/-50 mV or 1000/-1000 mV")
    iz.add_argument("--no-sag", action="store_true", help="do not map b from sag")
    iz.add_argument("--b", type=float, default=0.0, help="b (nS) when sag is not used")
    iz.add_argument("--no-adaptation", action="store_true",
                    help="do not calibrate kappa to the adaptation index")
    iz.add_argument("--kappa", type=float, default=100.0,
                    help="kappa (pA) when adaptation is not used")
    iz.add_argument("--capacitance", default="tau_over_rin",
                    choices=("tau_over_rin", "model_tau"))
    iz.add_argument("--rheobase", default="step", choices=("step", "steady"))
    lif = parser.add_argument_group("LIF mapping")
    lif.add_argument("--threshold", default="measured", choices=("measured", "rheobase"))
    lif.add_argument("--t-ref", type=float, default=2.0, help="refractory period (ms)")
    parser.add_argument("--out", help="write the population spec JSON here (atomic)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from hetfit.errors import ParameterError
    from hetfit.params import presets as P

    if args.list_presets:
        return {"presets": P.list_presets()}
    if not args.from_ and not args.preset:
        raise ParameterError("say where the distributions come from",
                             hint="pass --from ESTIMATE.json or --preset COLLECTION:TYPE "
                             "(see --list-presets)")
    from hetfit.params.population import SCHEMA_NAME, _features_for, population_from_estimate
    from hetfit.resources import population_estimate, require_memory

    # refused before anything is read or drawn: the model's required features alone need this
    require_memory(population_estimate(args.n, len(_features_for(args.model))),
                   "use a smaller --n")
    if args.out:
        from hetfit.io import output_file

        output_file(args.out, schema=SCHEMA_NAME)  # refused before any work

    if args.preset:
        if args.type_name:
            raise ParameterError("--type goes with --from; a preset name already names the "
                                 "type (COLLECTION:TYPE)")
        est, group = P.preset_group(args.preset)
        source = {"preset": args.preset}
    else:
        from hetfit.distributions import EstimateResult

        est = EstimateResult.load(args.from_)
        group = est.group(args.type_name) if args.type_name else None
        if group is None and len(est.groups) != 1:
            raise ParameterError(
                f"{args.from_} holds {len(est.groups)} types; choose one with --type",
                hint=f"types: {[g.name for g in est.groups]}")
        group = group or est.groups[0]
        source = {"estimate_file": str(args.from_)}
    if args.model == "izhikevich":
        mapping = dict(tau_u_ms=args.tau_u, b_nS=args.b, use_sag=not args.no_sag,
                       kappa_pA=args.kappa, use_adaptation=not args.no_adaptation,
                       spike_shape=args.spike_shape, capacitance=args.capacitance,
                       rheobase=args.rheobase)
    else:
        mapping = dict(threshold=args.threshold, t_ref_ms=args.t_ref)
    spec = population_from_estimate(group, n=args.n, model=args.model, seed=args.seed,
                                    correlated=not args.no_correlations, **mapping)
    spec.provenance.update(source)
    spec.provenance["estimate"] = est.provenance
    params = {}
    for k, v in spec.values.items():
        d = spec.distributions.get(k) or {}
        q25, q50, q75 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
        params[k] = {"unit": spec.units.get(k, ""), "median": q50, "iqr": q75 - q25,
                     "family": d.get("family"), "center": d.get("center"),
                     "width": d.get("width")}
    out: dict[str, Any] = {"model": spec.model, "type": spec.name, "n": spec.n,
                           "parameters": params, "notes": spec.mapping.get("notes", []),
                           "diagnostics": {k: spec.diagnostics.get(k) for k in
                                           ("n_redrawn", "regime", "kappa_status",
                                            "thresholds_from") if k in spec.diagnostics}}
    if args.out:
        out["out"] = str(spec.save(args.out))
    return out


def render(result: dict[str, Any]) -> str:
    if "presets" in result:
        lines = [f"{len(result['presets'])} preset types:"]
        for p in result["presets"]:
            lines.append(f"  {p['name']:<52} cells={p['n_cells']:<5} donors="
                         f"{p['n_donors'] if p['n_donors'] is not None else '-':<4} "
                         f"features fitted={len(p['features_fitted'])}")
        return "\n".join(lines)
    lines = [f"{result['model']} population '{result['type']}', {result['n']} neurons"]
    for k, p in result["parameters"].items():
        fam = p["family"] or "-"
        lines.append(f"  {k:<9} median {p['median']:.4g} {p['unit']:<6} IQR {p['iqr']:.3g}  "
                     f"({fam}, width {p['width'] if p['width'] is None else round(p['width'], 4)})")
    for n in result["notes"]:
        lines.append(f"  note: {n}")
    if result.get("out"):
        lines.append(f"written: {result['out']}")
    return "\n".join(lines)
