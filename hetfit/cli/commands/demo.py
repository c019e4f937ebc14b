"""`hetfit demo`: the whole job on embedded data, with a report."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "run the whole pipeline on embedded data and write a report"
DESCRIPTION = (
    "Within-type distributions (shipped Allen-derived presets, or raw Allen files with "
    "--allen) -> data-constrained E/I network parameters -> a synthetic recording with hidden "
    "widths -> simulation-based inference of those widths with calibration -> healthy vs "
    "epileptic comparison (spread, synchrony, resilience) -> report directory "
    "(report.html, report.md, PNG figures, results.json)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="hetfit_demo",
                        help="report directory (default hetfit_demo); an earlier demo report "
                        "there is replaced, a folder holding other files is refused")
    parser.add_argument("--force", action="store_true",
                        help="write into an --out folder that holds other files; only files "
                        "hetfit wrote there are replaced, never yours")
    parser.add_argument("--quick", action="store_true", help="reduced budget (about a minute)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--allen", metavar="PATH",
                        help="estimate distributions from raw Allen files (specimen-details "
                             "CSV or a CellTypesCache folder) instead of the shipped presets")
    parser.add_argument("--data-root", metavar="DIR",
                        help="public-data folder for the Rich et al. 2022 reference case "
                             "(default: $HETFIT_SHARED_DATA or ../shared/data if present)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hetfit.demo.pipeline import run_demo

    res = run_demo(args.out, quick=args.quick, seed=args.seed, allen=args.allen,
                   data_root=args.data_root, force=args.force)
    if args.json:  # the full numbers are in results.json; keep stdout to the essentials
        res = {k: v for k, v in res.items() if k != "results"} | {
            "summary": _headline(res["results"])}
    return res


def _headline(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "posterior": results["fit"]["posterior"],
        "sbc_ks_pvalue": (results["fit"].get("sbc") or {}).get("ks_pvalue"),
        "threshold_spread_ratios": [
            {k: r[k] for k in ("type", "ratio_epilepsy_over_tumor", "ratio_ci95")}
            for r in results["comparison"]["spreads"]],
    }


def render(result: dict[str, Any]) -> str:
    from hetfit.demo.report import one_screen_summary

    return one_screen_summary(result)
