"""The demo's report: every number shown is read from the results the stages computed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hetfit.reports.document import Report


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)


def build_report(results: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Write report.html / report.md / results.json into ``directory``; return the paths."""
    cfg = results["config"]
    rep = Report(
        "hetfit demo: within-type heterogeneity from data to networks",
        f"hetfit {results['hetfit_version']}; {'quick' if cfg['quick'] else 'full'} budget; "
        f"seed {cfg['seed']}.  Every number below was computed by this run "
        "(results.json holds them all).",
    )
    stages = rep.section("Stages")
    stages.table([{"stage": s["name"], "wall time (s)": s["wall_time_s"]}
                  for s in results["stages"]])

    d = results["distributions"]
    s1 = rep.section("1. Within-type distributions of spike threshold")
    s1.text(f"Source: {d['source']}.  Widths come with 95% confidence intervals from a "
            "bootstrap that resamples donors (cells of one donor are not independent).  "
            "HWHM is the Lorentzian half-width (IQR/2), the form exact mean fields accept.")
    s1.table([{"type": r["type"], "cells": r["cells"], "donors": r["donors"],
               "family (AIC)": r["family"], "median (mV)": r["median_mV"],
               "SD (mV)": r["sd_mV"], "SD 95% CI": f"[{_f(r['sd_low'])}, {_f(r['sd_high'])}]",
               "HWHM (mV)": r["hwhm_mV"],
               "HWHM 95% CI": f"[{_f(r['hwhm_low'])}, {_f(r['hwhm_high'])}]"}
              for r in d["types"]])
    s1.figure("figures/distributions.png", "Fitted threshold distributions per type.")
    s1.figure("figures/threshold_spread.png", "Threshold SD per type with donor-level CIs.")

    p = results["parameters"]
    s2 = rep.section("2. Data-constrained model parameters")
    s2.text("Per-neuron Izhikevich parameters drawn from the epilepsy-donor types "
            "(spiny -> E, aspiny -> I), keeping the features' rank correlations; JSON files "
            f"any simulator can read (schema: {p['schema']}).")
    s2.table([{k: v for k, v in r.items()} for r in p["populations"]])

    r = results["recording"]
    s3 = rep.section("3. A recording with hidden heterogeneity")
    s3.text("E/I Izhikevich network of Gast, Solla & Kennedy (2023) with Lorentzian "
            f"thresholds; hidden values {r['truth']}; {r['n_units']} units, "
            f"{r['n_spikes']} spikes in {_f(r['duration_ms'])} ms ({r['file']}).")
    s3.figure("figures/recording.png", "Spike raster of the synthetic recording.")

    f = results["fit"]
    s4 = rep.section("4. Simulation-based inference of the widths")
    sims = f["simulations"]
    s4.text(f"NPE trained on {f['budget']} simulations "
            f"({sims.get('n_failed', 0)} failed and excluded); calibration on "
            f"{f['n_validation']} held-out simulations.")
    s4.table([{"parameter": k, "truth": v["truth"], "posterior mean": v["mean"],
               "median": v["median"], "90% interval": f"[{_f(v['ci90'][0])}, "
                                                     f"{_f(v['ci90'][1])}]",
               "truth inside": v["covered"]} for k, v in f["posterior"].items()])
    if f.get("sbc"):
        sbc = f["sbc"]
        rows = [{"parameter": k, "SBC rank KS p": sbc["ks_pvalue"][k]}
                for k in sbc["ks_pvalue"]]
        rec = f.get("recovery") or {}
        for row in rows:
            k = row["parameter"]
            if rec.get("median_relative_error"):
                row["median rel. error (held-out)"] = rec["median_relative_error"].get(k)
            if rec.get("interval_coverage"):
                row["90% interval coverage (held-out)"] = rec["interval_coverage"].get(k)
        s4.table(rows, caption="Calibration on held-out simulations")
    mis = f.get("misspecification")
    if mis:
        s4.text("The recording lies "
                + ("within" if mis.get("plausible") else "OUTSIDE")
                + f" the cloud of simulated summaries (p = {_f(mis.get('pvalue'))}).")
    s4.figure("figures/posterior.png", "Posterior of the threshold widths, with the truth.")

    c = results["comparison"]
    s5 = rep.section("5. Healthy vs epileptic: spread, synchrony and resilience")
    s5.text("Threshold spread in cortex resected for epilepsy vs for tumor access (Allen "
            "human cells, presets).  Ratio CI: delta method on the log SD ratio from the "
            "donor-bootstrap standard errors.")
    s5.table([{"type": row["type"], "tumor SD (mV)": row["tumor_sd_mV"],
               "epilepsy SD (mV)": row["epilepsy_sd_mV"],
               "ratio epilepsy/tumor": row["ratio_epilepsy_over_tumor"],
               "ratio 95% CI": f"[{_f(row['ratio_ci95'][0])}, {_f(row['ratio_ci95'][1])}]",
               "cells/donors (tumor)": "/".join(map(str, row["tumor_cells_donors"])),
               "cells/donors (epilepsy)": "/".join(map(str, row["epilepsy_cells_donors"]))}
              for row in c["spreads"]])
    s5.figure("figures/spread_ratio.png", "Threshold SD ratio, epilepsy over tumor donors.")
    sw = c["synchrony_sweep"]
    s5.text("Networks built from each condition's measured threshold half-widths (HWHM, mV): "
            f"{c['network_widths_hwhm_mV']}.  Synchrony at the measured inhibitory widths: "
            f"{ {k: {m: round(v, 4) for m, v in d.items()} for k, d in sw['at_measured_widths'].items()} }.")
    for note in sw.get("notes", []):
        s5.note(note)
    s5.figure("figures/synchrony_sweep.png",
              "Synchrony (Golomb chi, Kuramoto order) vs inhibitory threshold heterogeneity.")
    rs = c["resilience_sweep"]
    s5.text("Rate network of Hutt et al.: trend of each measure with sigma_h (Spearman rho): "
            + ", ".join(f"{k}: rho = {_f(v['rho'])}" for k, v in rs["trends"].items()) + ".")
    s5.figure("figures/resilience_D.png",
              "Distance D from the pre-perturbation state (Hutt et al. Eq. 22) vs "
              "excitability heterogeneity.")
    s5.figure("figures/spectral_radius.png",
              "Spectral radius of the Jacobian at the fixed point, numerics vs Eq. 19.")
    rich = c.get("rich2022")
    if rich:
        s5.text(f"Reference case on public data, Rich et al. 2022: {rich['contrast']}.  "
                f"Full report: {rich['report']}.")
        for note in rich.get("notes", []):
            s5.note(note)
    elif "rich2022" not in c:
        s5.note("The public data folder was not found, so the Rich et al. 2022 reference case "
                "was not run (pass --data-root).")
    return rep.write(directory, results)


def one_screen_summary(result: dict[str, Any]) -> str:
    """The terminal summary printed by ``hetfit demo``."""
    res = result["results"]
    lines = [f"hetfit demo ({'quick' if result['quick'] else 'full'}) finished in "
             f"{result['wall_time_s']:.0f} s; report: {result['report']['html']}"]
    lines.append("stages: " + ", ".join(f"{s['name']} {s['wall_time_s']:.0f}s"
                                        for s in result["stages"]))
    types = res["distributions"]["types"]
    lines.append("threshold SD by type (mV): " + ", ".join(
        f"{t['type']} {t['sd_mV']:.2f} [{t['sd_low']:.2f}, {t['sd_high']:.2f}]" for t in types))
    for k, v in res["fit"]["posterior"].items():
        lines.append(f"fit {k:<10} truth {v['truth']:<6g} mean {v['mean']:.3g} "
                     f"90% [{v['ci90'][0]:.3g}, {v['ci90'][1]:.3g}]")
    for row in res["comparison"]["spreads"]:
        lo, hi = row["ratio_ci95"]
        lines.append(f"{row['type']} threshold SD epilepsy/tumor: "
                     f"{row['ratio_epilepsy_over_tumor']:.2f} [{lo:.2f}, {hi:.2f}]")
    return "\n".join(lines)
