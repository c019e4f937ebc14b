"""`hetfit estimate`: per-type feature distributions with donor-level confidence intervals.

Examples::

    hetfit estimate --source allen cell_types_specimen_details.csv all_features.csv \\
        --select species=human --group-by disease_state,dendrite_type \\
        --features v_threshold_mV,tau_m_ms --out estimate.json
    hetfit estimate --source table cells.csv --group-by cell_type --json
    hetfit estimate --source table lab.xlsx --mapping mapping.json --group-by disease_state
    hetfit estimate --source abf recordings/ --label species=human --out estimate.json
    hetfit estimate --source dataset --dataset rich2022 ../shared/data/rich2022_human_l5 \\
        --group-by disease_state
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "estimate per-type feature distributions (widths with donor-level CIs, fitted families)"
DESCRIPTION = (
    "Read cells (Allen Cell Types files, a cell table, NWB/ABF recordings or a registered "
    "public dataset), group them into types and estimate, per type and feature, location and "
    "width (SD, IQR, Lorentzian HWHM, MAD, CV) with bootstrap CIs that resample donors, and "
    "the best-fitting family (Gaussian, log-normal, Lorentzian, Lorentzian mixture) with "
    "goodness of fit.  Types with too few cells or donors are reported, not fitted."
)
SOURCES = ("allen", "table", "nwb", "abf", "dataset")


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    from hetfit.errors import ParameterError

    out: dict[str, str] = {}
    for it in items or []:
        if "=" not in it:
            raise ParameterError(f"{what} must look like KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="input file(s) or folder(s); for --source allen the specimen "
                        "table or cache folder first, then feature tables to join")
    parser.add_argument("--source", required=True, choices=SOURCES,
                        help="kind of input")
    parser.add_argument("--mapping", help="column mapping JSON for --source table "
                        "(omit for tables with hetfit's canonical column names)")
    parser.add_argument("--delimiter", metavar="CHAR",
                        help="column delimiter of a --source table text file, e.g. ';' or "
                        "tab (default: detected; ',' ';' tab and '|' are recognised, and "
                        "decimal commas with ';' or tab)")
    parser.add_argument("--encoding", metavar="NAME",
                        help="text encoding of a --source table file (default utf-8; e.g. "
                        "latin-1 or cp1252 for older spreadsheet exports)")
    parser.add_argument("--on-duplicate", choices=("raise", "first"), default=None,
                        help="repeated cell ids in a --source table: raise (default) or keep "
                        "the first row of each id (the others are dropped and counted)")
    parser.add_argument("--dataset", help="registered dataset name for --source dataset "
                        "(rich2022, moradi_chameh2021, berg2021, chartrand2023, prince2021, "
                        "allen_cell_types)")
    parser.add_argument("--label", action="append", metavar="KEY=VALUE",
                        help="label shared by every cell of NWB/ABF recordings (repeatable)")
    parser.add_argument("--select", action="append", metavar="KEY=VALUE",
                        help="keep only cells with this label value (repeatable)")
    parser.add_argument("--group-by", default="", help="comma-separated label columns "
                        "defining a type (default: all cells are one type)")
    parser.add_argument("--features", help="comma-separated features (default: all present)")
    parser.add_argument("--families", default="gaussian,lognormal,lorentzian,lorentzian_mix2",
                        help="comma-separated families to fit (default: %(default)s)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    parser.add_argument("--n-gof", type=int, default=200,
                        help="parametric-bootstrap replicates for KS p-values (0: skip)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level")
    parser.add_argument("--ci-method", default="auto",
                        choices=("auto", "studentized", "bca", "percentile"))
    parser.add_argument("--min-cells", type=int, default=10)
    parser.add_argument("--min-donors", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the full estimate as JSON here (atomic)")


def _read(args: argparse.Namespace):
    from hetfit.errors import ParameterError

    src, paths = args.source, list(args.paths)
    given = [f for f, v in (("--delimiter", args.delimiter), ("--encoding", args.encoding),
                            ("--on-duplicate", args.on_duplicate)) if v is not None]
    if given and src != "table":
        raise ParameterError(f"{given[0]} applies to --source table only",
                             hint=f"drop {given[0]}")
    if src == "allen":
        from hetfit.data_adapters import read_allen

        extra = paths[1:] or None
        return read_allen(paths[0], **({"ephys_features": extra} if extra else {}))
    if src == "table":
        if len(paths) != 1:
            raise ParameterError("--source table reads one file", hint="pass a single PATH")
        from hetfit.data_adapters.tables import text_options

        opts = text_options(paths[0], args.delimiter, args.encoding)
        policy = {"on_duplicate": args.on_duplicate} if args.on_duplicate else {}
        if args.mapping:
            from hetfit.data_adapters import read_mapped

            return read_mapped(paths[0], args.mapping, **policy,
                               **({"read_kwargs": opts} if opts else {}))
        from hetfit.data_adapters import CellTable

        return CellTable.read(paths[0], read_kwargs=opts or None, **policy)
    if src in ("nwb", "abf"):
        from pathlib import Path

        from hetfit.data_adapters.traces import cell_table_from_recordings
        from hetfit.errors import InputFileError

        files = []
        for p in map(Path, paths):  # folders: every recording of this kind in them
            if p.is_dir():
                files += sorted(q for q in p.iterdir() if q.suffix.lower() == f".{src}")
            else:
                files.append(p)
        if not files:
            raise InputFileError(f"no .{src} files in {paths}",
                                 hint=f"pass .{src} files or folders holding them")
        table = cell_table_from_recordings(files, constant_labels=_pairs(args.label, "--label")
                                           or None, on_error="skip")
        if table.n_cells == 0:  # every file was skipped: say why instead of "no features"
            notes = "; ".join(table.report.notes[:3])
            raise InputFileError(f"none of the {len(files)} .{src} recording(s) could be read: "
                                 f"{notes}", hint=f"check that they are valid .{src} files")
        return table
    if not args.dataset:
        raise ParameterError("--source dataset needs --dataset NAME")
    if len(paths) != 1:
        raise ParameterError("--source dataset reads one folder", hint="pass the dataset folder")
    from hetfit.data_adapters import load_dataset

    return load_dataset(args.dataset, paths[0])


def _check_sizes(args: argparse.Namespace) -> None:
    """Refuse replicate counts this machine cannot hold before reading any data: the
    smallest type that is fitted (--min-cells cells, at least 3 donors) already needs this
    much (the library checks again with the real sizes)."""
    from hetfit.resources import (
        bootstrap_estimate,
        check_replicates,
        gof_estimate,
        require_memory,
    )

    cells = max(args.min_cells, 3)
    require_memory(bootstrap_estimate(
        args.n_boot, 3, cells, what=f"--n-boot {args.n_boot:,} (bootstrap replicates of at "
        f"least {cells} cells per type)"), "use a smaller --n-boot")
    require_memory(gof_estimate(args.n_gof),
                   "use a smaller --n-gof (0 skips the goodness-of-fit p-values)")
    check_replicates("--n-boot", args.n_boot)
    check_replicates("--n-gof", args.n_gof, "use a smaller --n-gof (0 skips the "
                     "goodness-of-fit p-values)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hetfit import console
    from hetfit.distributions import WidthEstimator
    from hetfit.errors import ParameterError
    from hetfit.io import atomic_write_json

    if args.mapping and args.source != "table":
        raise ParameterError("--mapping applies to --source table only")
    _check_sizes(args)
    if args.out:
        from hetfit.distributions.estimate import SCHEMA_NAME
        from hetfit.io import output_file

        output_file(args.out, schema=SCHEMA_NAME)  # refused before any work
    table = _read(args)
    sel = _pairs(args.select, "--select")
    if sel:
        table = table.select(**sel)
    console.info(f"{table.n_cells} cells, {table.n_donors} donors from {args.source}")
    est = WidthEstimator(
        features=_csv(args.features), group_by=_csv(args.group_by) or [],
        families=_csv(args.families) or [], n_boot=args.n_boot, n_gof=args.n_gof,
        level=args.level, ci_method=args.ci_method, min_cells=args.min_cells,
        min_donors=args.min_donors, seed=args.seed,
    )
    result = est.fit(table)
    result.provenance.update({"inputs": [str(p) for p in args.paths], "source_kind":
                              args.source, "selection": sel})
    summary = []
    for g in result.groups:
        for f in g.features.values():
            row: dict[str, Any] = {"type": g.name, "feature": f.feature, "status": f.status,
                                   "n_cells": f.n_cells, "n_donors": f.n_donors}
            if f.ok:
                sd = f.widths["sd"]
                row.update(sd=sd.estimate, sd_ci=[sd.low, sd.high],
                           hwhm=f.widths["hwhm_iqr"].estimate,
                           family=f.chosen_family, resampling=f.resampling_unit)
            else:
                row["reason"] = f.reason
            summary.append(row)
    out: dict[str, Any] = {
        "n_cells": table.n_cells, "n_types": len(result.groups), "features": result.features,
        "group_by": result.group_by, "table_report": table.report.to_dict(),
        "summary": summary,
    }
    if args.out:
        path = atomic_write_json(args.out, result.to_dict())
        out["out"] = str(path)
    else:
        out["estimate"] = result.to_dict()
    return out


def _fmt(v: float | None) -> str:
    return "nan" if v is None else f"{v:.3g}"


def table_report_lines(report: dict[str, Any] | None, max_notes: int = 8) -> list[str]:
    """What happened to the input rows, for the human summary: rows read/kept/dropped, each
    drop reason with its count and first ids, values set to missing, and the notes."""
    if not report:
        return []
    lines = [f"input {report.get('source') or 'table'}: {report.get('rows_read', 0)} rows read, "
             f"{report.get('rows_kept', 0)} kept, {report.get('rows_dropped', 0)} dropped"]
    ids = report.get("dropped_ids") or {}
    for reason, n in (report.get("dropped_rows") or {}).items():
        shown = ids.get(reason) or []
        more = ", ..." if n > len(shown) else ""
        lines.append(f"  dropped {n}: {reason}"
                     + (f" ({', '.join(map(str, shown))}{more})" if shown else ""))
    for feat, n in (report.get("implausible_values") or {}).items():
        if n:
            lines.append(f"  {feat}: {n} implausible value(s) set to missing")
    notes = list(report.get("notes") or [])
    lines += [f"  note: {n}" for n in notes[:max_notes]]
    if len(notes) > max_notes:
        lines.append(f"  ... and {len(notes) - max_notes} more note(s) (see --json)")
    return lines


def render(result: dict[str, Any]) -> str:
    lines = table_report_lines(result.get("table_report"))
    lines.append(f"{result['n_cells']} cells in {result['n_types']} type(s) "
                 f"(grouped by {', '.join(result['group_by']) or 'nothing'})")
    for r in result["summary"]:
        if r["status"] == "ok":
            lo, hi = r["sd_ci"]
            lines.append(
                f"  {r['type']:<28} {r['feature']:<26} n={r['n_cells']:<4} "
                f"donors={r['n_donors'] if r['n_donors'] is not None else '-':<4} "
                f"SD={_fmt(r['sd'])} [{_fmt(lo)}, {_fmt(hi)}]  HWHM={_fmt(r['hwhm'])}  "
                f"{r['family']}")
        else:
            lines.append(f"  {r['type']:<28} {r['feature']:<26} {r['status']}: {r['reason']}")
    if result.get("out"):
        lines.append(f"written: {result['out']}")
    return "\n".join(lines)
