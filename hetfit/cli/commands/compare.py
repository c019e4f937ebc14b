"""`hetfit compare`: within-type spread and network behaviour, healthy vs disease.

Examples::

    hetfit compare --preset allen-human --data-root ../shared/data --out allen_cmp --json
    hetfit compare --preset rich2022 --data-root ../shared/data --quick
    hetfit compare --healthy tumor.csv --disease epilepsy.csv --types spiny aspiny \\
        --features v_threshold_mV tau_m_ms --out cmp
    hetfit compare --preset allen-human --healthy disease_state=tumor \\
        --disease disease_state=epilepsy --types spiny --by dendrite_type layer

``--healthy``/``--disease`` take a cell-table file (CSV or Parquet written by hetfit, one
condition per file) or, with ``--preset``, ``column=value[,value]`` selections of the
preset's table.  ``--out DIR`` is written atomically: on any error no directory is left.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hetfit.errors import InputFileError, ParameterError

HELP = "compare within-type heterogeneity and network synchrony between healthy and disease"
DESCRIPTION = (
    "Healthy vs disease: per cell type, the spread of each feature in both conditions with "
    "donor-level 95% CIs, the width ratio with its CI and spread tests; then networks built "
    "from each condition's widths, with synchrony, step response and bistability (mean field "
    "where it applies, network simulation otherwise; the output says which). Presets: "
    "allen-human (Allen Cell Types, epilepsy vs tumor donors), rich2022 (epileptogenic vs "
    "non-epileptogenic L5 pyramidal cells)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("data")
    src.add_argument("--preset", help="allen-human or rich2022 (public data)")
    src.add_argument("--data-root", help="folder holding the public datasets (presets); "
                     "default $HETFIT_SHARED_DATA")
    src.add_argument("--healthy", metavar="A",
                     help="reference condition: a cell-table file, or column=value on the "
                     "preset's table")
    src.add_argument("--disease", metavar="B",
                     help="compared condition: a cell-table file, or column=value on the "
                     "preset's table")
    src.add_argument("--delimiter", metavar="CHAR",
                     help="column delimiter of --healthy/--disease CSV files, e.g. ';' or tab "
                     "(default: detected; decimal commas are read with ';' or tab)")
    src.add_argument("--encoding", metavar="NAME",
                     help="text encoding of --healthy/--disease CSV files (default utf-8; e.g. "
                     "latin-1)")
    src.add_argument("--reference", choices=("temporal", "frontal", "all"),
                     help="rich2022: which non-epileptogenic cells are the reference "
                     "(default temporal, as the publication's model)")
    src.add_argument("--link-donors", action="store_true",
                     help="rich2022: attach donor ids from Moradi Chameh et al. 2021 "
                     "(sensitivity analysis)")
    what = parser.add_argument_group("what to compare")
    what.add_argument("--types", nargs="+", metavar="TYPE",
                      help="cell types to compare (values of the first --by column, e.g. "
                      "spiny aspiny); each must be present in both conditions")
    what.add_argument("--by", nargs="+", metavar="LABEL",
                      help="label columns defining a type (default: the preset's, else "
                      "dendrite_type or cell_type); the preset also adds type x layer")
    what.add_argument("--features", nargs="+", metavar="FEATURE",
                      help="features to compare (default: all measured in both conditions)")
    what.add_argument("--min-cells", type=int, default=5,
                      help="fewest cells per condition and type (default 5)")
    what.add_argument("--min-donors", type=int, default=3,
                      help="fewest donors per condition and type (default 3)")
    run_g = parser.add_argument_group("analysis")
    run_g.add_argument("--no-network", action="store_true",
                       help="spread comparison only (no network models)")
    run_g.add_argument("--sweeps", action="store_true",
                       help="add heterogeneity-loss sweeps around the measured widths (E vs I "
                       "thresholds; drive and reset heterogeneity)")
    run_g.add_argument("--power", action="store_true",
                       help="add study planning: donors needed to detect a 25%% loss of spread "
                       "and the observed change (power by simulation)")
    run_g.add_argument("--quick", action="store_true",
                       help="fewer bootstrap replicates, small short networks (~20 s)")
    run_g.add_argument("--n-boot", type=int, help="bootstrap replicates (default 2000)")
    run_g.add_argument("--n-perm", type=int, help="permutations (default 2000)")
    run_g.add_argument("--replicates", type=int,
                       help="network replicates per condition (default 16; quick: 4)")
    run_g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run_g.add_argument("--out", metavar="DIR",
                       help="write report.html, report.md, results.json, spreads.csv and "
                       "figures here (atomically)")
    run_g.add_argument("--force", action="store_true",
                       help="write into an --out folder that holds other files; only files "
                       "hetfit wrote there are replaced, never yours")


def _criteria(text: str) -> dict[str, Any] | None:
    """``col=v1,v2`` -> {col: [v1, v2]}; None when ``text`` is not of that form."""
    if "=" not in text or Path(text).exists():
        return None
    out: dict[str, Any] = {}
    for part in text.split(";"):
        key, _, vals = part.partition("=")
        key = key.strip()
        if not key or not vals.strip():
            raise ParameterError(f"cannot read the selection {text!r}",
                                 hint="use column=value or column=value1,value2")
        values = [v.strip() for v in vals.split(",") if v.strip()]
        out[key] = values if len(values) > 1 else values[0]
    return out


def _read_table(path: str, what: str, args: argparse.Namespace | None = None) -> Any:
    from hetfit.data_adapters.celltable import CellTable
    from hetfit.data_adapters.tables import text_options
    from hetfit.io import existing_file

    p = existing_file(path, f"{what} cell table")
    if p.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputFileError(
            f"{what} table {p} has an unsupported suffix {p.suffix!r}",
            hint="give a .csv or .parquet cell table (one row per cell, canonical columns)",
        )
    opts = text_options(p, getattr(args, "delimiter", None), getattr(args, "encoding", None))
    return CellTable.read(p, read_kwargs=opts or None)


def _condition(text: str | None, default: Any, what: str) -> Any:
    from hetfit.disease.conditions import Condition

    if text is None:
        return default
    crit = _criteria(text)
    if crit is None:
        raise ParameterError(
            f"--{what} {text!r} is not a column=value selection",
            hint="with --preset, select the condition as column=value (e.g. "
            "disease_state=tumor); without --preset, pass a cell-table file",
        )
    name = ", ".join(f"{v if isinstance(v, str) else '/'.join(v)}" for v in crit.values())
    return Condition(name, crit)


def _check_sizes(args: argparse.Namespace) -> None:
    """Refuse replicate counts this machine cannot hold before reading any data: the
    smallest comparison (2 donors and --min-cells cells per condition) already needs this
    much (the library checks again with the real sizes)."""
    from hetfit.resources import (
        bootstrap_estimate,
        check_replicates,
        permutation_estimate,
        require_memory,
    )

    if args.n_boot is not None:
        require_memory(bootstrap_estimate(args.n_boot, 4, 0, n_stats=2,
                                          what=f"--n-boot {args.n_boot:,} (bootstrap "
                                          "replicates of at least 2 donors per condition)"),
                       "use a smaller --n-boot")
        check_replicates("--n-boot", args.n_boot)
    if args.n_perm is not None:
        require_memory(permutation_estimate(
            args.n_perm, 4, 2 * args.min_cells, what=f"--n-perm {args.n_perm:,} (permutations "
            f"of at least {2 * args.min_cells} cells)"), "use a smaller --n-perm")
        check_replicates("--n-perm", args.n_perm)


def run(args: argparse.Namespace) -> dict:
    from hetfit import console
    from hetfit.disease.conditions import Condition, run_comparison

    for name in ("min_cells", "min_donors"):
        if getattr(args, name) < 1:
            raise ParameterError(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("n_boot", "n_perm"):
        v = getattr(args, name)
        if v is not None and v < 100:
            raise ParameterError(f"--{name.replace('_', '-')} must be >= 100, got {v}")
    if args.replicates is not None and args.replicates < 2:
        raise ParameterError("--replicates must be >= 2")
    _check_sizes(args)
    if args.sweeps and args.no_network:
        raise ParameterError("--sweeps needs the network step", hint="drop --no-network")
    if args.out:
        from hetfit.io import claim_output_dir

        # refused before the (minutes of) work, not after it
        claim_output_dir(args.out, "compare", (), force=args.force, create=False)
    groupings = [tuple(args.by)] if args.by else None
    common = dict(types=args.types, features=args.features, quick=args.quick,
                  seed=args.seed, n_boot=args.n_boot, n_perm=args.n_perm,
                  n_replicates=args.replicates, min_cells=args.min_cells,
                  min_donors=args.min_donors, sweeps=args.sweeps, power=args.power)
    if args.preset:
        from hetfit.disease.presets import load_preset

        for flag in ("delimiter", "encoding"):
            if getattr(args, flag) is not None:
                raise ParameterError(f"--{flag} applies to --healthy/--disease table files, "
                                     "not to --preset data", hint=f"drop --{flag}")

        kw: dict[str, Any] = {}
        if args.preset.lower().startswith("rich"):
            if args.reference:
                kw["reference"] = args.reference
            if args.link_donors:
                kw["link_donors"] = True
        elif args.reference or args.link_donors:
            raise ParameterError("--reference and --link-donors apply to the rich2022 preset")
        preset = load_preset(args.preset, args.data_root, **kw)
        console.info(f"preset {preset.name}: {len(preset.table)} cells")
        inputs = {"preset": _report(preset.table)}
        healthy = _condition(args.healthy, preset.healthy, "healthy")
        disease = _condition(args.disease, preset.disease, "disease")
        result = run_comparison(preset, healthy=healthy, disease=disease,
                                groupings=groupings,
                                network=False if args.no_network else None, **common)
    else:
        if not (args.healthy and args.disease):
            raise ParameterError(
                "give --preset, or both --healthy and --disease cell-table files",
                hint="e.g. hetfit compare --preset allen-human --data-root ../shared/data",
            )
        h = _read_table(args.healthy, "healthy", args)
        d = _read_table(args.disease, "disease", args)
        inputs = {"healthy": _report(h), "disease": _report(d)}
        result = run_comparison(
            healthy_table=h, disease_table=d,
            healthy=Condition(Path(args.healthy).stem), disease=Condition(Path(args.disease).stem),
            groupings=groupings, network=False, **common)
    out: dict[str, Any] = result.to_dict()
    out["summary"] = _summary(result)
    out["inputs"] = inputs  # what the readers dropped or changed, also in the human output
    if args.out:
        from hetfit.disease.report import write_comparison_report
        from hetfit.io import staged_directory

        with staged_directory(args.out, "compare", force=args.force) as stage:
            write_comparison_report(result, stage)
        out["out"] = str(Path(args.out))
        console.info(f"report written to {args.out}")
    return out


def _report(table: Any) -> dict[str, Any] | None:
    report = getattr(table, "report", None)
    return None if report is None else report.to_dict()


def _summary(result: Any) -> dict[str, Any]:
    """Short headline numbers: primary ratios and network differences."""
    rows = []
    for r in result.spreads.ok_rows():
        c = r.primary()
        rows.append({"type": r.type_name, "feature": r.feature, "ratio": c.ratio.estimate,
                     "ratio_low": c.ratio.low, "ratio_high": c.ratio.high,
                     "p_permutation": c.tests["permutation"].pvalue, "q": r.q_value,
                     "resampling_unit": c.resampling_unit})
    nets = None
    if result.networks is not None:
        nets = {"model": result.networks.model,
                "engines": result.networks.engines,
                "differences": {k: {"difference": m.difference,
                                    "interval": list(m.difference_interval),
                                    "engine": m.engine}
                                for k, m in result.networks.measures.items()}}
    extra = {k: {kk: {"difference": m.difference, "interval": list(m.difference_interval),
                      "engine": m.engine} for kk, m in nc.measures.items()}
             for k, nc in result.extra_networks.items()}
    return {"contrast": result.spreads.contrast, "spreads": rows, "networks": nets,
            "extra_networks": extra}


def render(result: dict) -> str:
    from hetfit.cli.commands.estimate import table_report_lines

    s = result["summary"]
    lines = []
    for report in (result.get("inputs") or {}).values():
        lines += table_report_lines(report, max_notes=3)
    lines += [f"contrast: {s['contrast']}", ""]
    lines.append(f"{'type':<22} {'feature':<26} {'ratio [95% CI]':<24} {'p perm':>7} {'q':>6}")
    for r in s["spreads"]:
        ci = f"{r['ratio']:.3g} [{r['ratio_low']:.3g}, {r['ratio_high']:.3g}]"
        lines.append(f"{r['type'][:22]:<22} {r['feature'][:26]:<26} {ci:<24} "
                     f"{r['p_permutation']:>7.3g} {r['q']:>6.3g}")
    units = {r["resampling_unit"] for r in s["spreads"]}
    lines.append(f"(resampling unit: {', '.join(sorted(units))})")
    if s["networks"]:
        lines += ["", f"network model: {s['networks']['model']} (disease - healthy)"]
        for k, v in s["networks"]["differences"].items():
            lo, hi = v["interval"]
            lines.append(f"  {k:<24} {v['difference']:+.3g} [{lo:.3g}, {hi:.3g}]  "
                         f"({v['engine']})")
    for model, diffs in s.get("extra_networks", {}).items():
        lines += ["", f"network model: {model} (disease - healthy)"]
        for k, v in diffs.items():
            lo, hi = v["interval"]
            lines.append(f"  {k:<24} {v['difference']:+.3g} [{lo:.3g}, {hi:.3g}]  "
                         f"({v['engine']})")
    if result.get("out"):
        lines += ["", f"report: {result['out']}/report.html"]
    return "\n".join(lines)
