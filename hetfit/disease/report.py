"""Report of a healthy-vs-disease comparison: JSON + figures + Markdown/HTML.

:func:`write_comparison_report` renders a :class:`~hetfit.disease.conditions.ComparisonResult`
(spreads, networks, optional sweeps and power curves) into a directory through
:class:`hetfit.reports.document.Report`: ``report.html``, ``report.md``, ``results.json``
(every number, including the ones not shown), ``spreads.csv`` and PNG figures.  The text
states the contrast, the resampling unit, and for every network number the engine that
produced it; it reports what the data show whichever way they point.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["sweep_figures", "write_comparison_report"]


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def _ci(est: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{_fmt(est, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "x"


def _summary_section(rep: Any, result: Any) -> None:
    """Headline numbers in words, whichever way they point."""
    sp = result.spreads
    sec = rep.section("Summary")
    ok = sp.ok_rows()
    sig = [r for r in ok if r.q_value < 0.05]
    lower = [r for r in ok if r.primary().ratio.high < 1.0]
    higher = [r for r in ok if r.primary().ratio.low > 1.0]

    def lst(rows: list) -> str:
        return "; ".join(f"{r.type_name} {r.feature} "
                         f"{_ci(r.primary().ratio.estimate, r.primary().ratio.low, r.primary().ratio.high)}"
                         for r in rows) or "none"

    sec.text(f"{len(ok)} type x feature comparisons of {sp.disease} against {sp.healthy}. "
             f"Width ratio CI below 1 (less spread in {sp.disease}): {lst(lower)}. "
             f"CI above 1 (more spread): {lst(higher)}. Permutation q < 0.05 after "
             f"Benjamini-Hochberg: {lst(sig)}.")
    for nc in [result.networks, *result.extra_networks.values()]:
        if nc is None:
            continue
        parts = []
        for key in [k for k in nc.measures if k.startswith(("chi", "step_delta_chi",
                                                              "mf_bistable"))]:
            m = nc.measures[key]
            parts.append(f"{key} ({m.engine}) {_fmt(m.point[0])} vs {_fmt(m.point[1])}, "
                         f"difference {_ci(m.difference, *m.difference_interval)}")
        sec.text(f"Networks ({nc.model}) built from each condition's widths, {nc.healthy} vs "
                 f"{nc.disease}: " + "; ".join(parts) + ".")


def _spread_section(rep: Any, result: Any, fig_dir: Path, files: list[str]) -> None:
    from hetfit.reports.figures import plot_condition_comparison, save_figure

    sp = result.spreads
    level = sp.settings.get("level", 0.95)
    sec = rep.section("Within-type spread")
    sec.text(
        f"Contrast: {sp.contrast}. Widths are {sp.settings['widths'][0]} (primary) with "
        f"{level:.0%} confidence intervals from a bootstrap that resamples "
        f"{_unit_text(sp)}; the permutation test moves whole "
        f"{'donors' if _unit_text(sp) == 'donors' else 'cells'} between conditions."
    )
    rows = []
    for r in sp.ok_rows():
        c = r.primary()
        rows.append({
            "type": r.type_name, "feature": r.feature,
            f"n {sp.healthy} (donors)": _n(r.n_cells[0], r.n_donors[0]),
            f"n {sp.disease} (donors)": _n(r.n_cells[1], r.n_donors[1]),
            f"width {sp.healthy}": _ci(c.width_a.estimate, c.width_a.low, c.width_a.high),
            f"width {sp.disease}": _ci(c.width_b.estimate, c.width_b.low, c.width_b.high),
            "ratio": _ci(c.ratio.estimate, c.ratio.low, c.ratio.high),
            **({f"{w} ratio": _ci(o.ratio.estimate, o.ratio.low, o.ratio.high)
                for w, o in list(r.comparisons.items())[1:2]}),
            "p BF": c.tests["brown_forsythe"].pvalue,
            "p FK": c.tests["fligner_killeen"].pvalue,
            "p perm": c.tests["permutation"].pvalue, "q perm": r.q_value,
        })
    sec.table(rows, caption=f"ratio = width in {sp.disease} / width in {sp.healthy}")
    skipped = [r for r in sp.rows if r.status != "ok"]
    if skipped:
        seen: dict[str, str] = {}
        for r in skipped:
            seen.setdefault(r.type_name, r.reason or "")
        sec.note("Not compared (too few cells or donors): " + "; ".join(
            f"{k}: {v}" for k, v in seen.items()))
    # one forest plot per feature: width ratio with CI for every compared type
    for feat in sp.settings["features"]:
        sel = [r for r in sp.ok_rows() if r.feature == feat]
        if not sel:
            continue
        fig = plot_condition_comparison(
            [r.type_name for r in sel], [r.primary().ratio.estimate for r in sel],
            [r.primary().ratio.low for r in sel], [r.primary().ratio.high for r in sel],
            ylabel=f"{sp.settings['widths'][0]} ratio", reference=1.0,
            title=f"{feat}: {sp.disease} / {sp.healthy}")
        _log_ratio_axis(fig, [r.primary().ratio.low for r in sel])
        name = f"figures/spread_ratio_{_slug(feat)}.png"
        save_figure(fig, fig_dir.parent / name)
        files.append(name)
        sec.figure(name, f"Width ratio of {feat} with {level:.0%} CI; 1 = no change.")
    for n in sp.notes:
        sec.note(n)


def _log_ratio_axis(fig: Any, lows: list[float]) -> None:
    """Ratios are multiplicative: show them on a log axis (symmetric around 1)."""
    lows = [x for x in lows if x is not None and math.isfinite(x)]
    if lows and min(lows) > 0:
        ax = fig.axes[0]
        ax.set_yscale("log")
        ax.relim()
        ax.autoscale_view()


def _n(cells: int, donors: int | None) -> str:
    return f"{cells}" if donors is None else f"{cells} ({donors})"


def _unit_text(sp: Any) -> str:
    units = {r.primary().resampling_unit for r in sp.ok_rows()}
    return "donors" if units == {"donor"} else ("cells" if units == {"cell"} else
                                                "donors where known, else cells")


def _network_section(rep: Any, nc: Any, fig_dir: Path, files: list[str]) -> None:
    from hetfit.reports.figures import plot_condition_comparison, save_figure

    sec = rep.section(f"Networks built from each condition ({nc.model})")
    wrows = []
    lvl = nc.settings.get("level", 0.95)
    for cond, pw in nc.widths.items():
        for pop, v in pw.point.items():
            reps = pw.replicates[pop]
            ok = reps[np.isfinite(reps)]
            lo, hi = (np.quantile(ok, [(1 - lvl) / 2, (1 + lvl) / 2]) if ok.size > 1
                      else (math.nan, math.nan))
            wrows.append({"condition": cond, "population": pop,
                          f"{nc.mapping.width} of {nc.mapping.feature}": _ci(v, lo, hi),
                          "cells": pw.n_cells[pop],
                          "donors": "n/a (cells resampled)" if pw.n_donors is None
                          else pw.n_donors})
    sec.table(wrows, caption="Widths given to the model (bootstrap percentile interval)")
    mrows = []
    for m in nc.measures.values():
        mrows.append({"measure": m.name, "engine": m.engine, "unit": m.unit,
                      nc.healthy: _ci(m.point[0], *m.interval_healthy),
                      nc.disease: _ci(m.point[1], *m.interval_disease),
                      "difference": _ci(m.difference, *m.difference_interval),
                      "meaning": m.description})
    sec.table(mrows, caption=f"Network measures (point: measured widths; interval: "
                             f"{lvl:.0%} over bootstrap replicates with new seeds)")
    for key in [k for k in nc.measures if k.startswith("chi") or k.startswith("step_delta_chi")
                or k.startswith("mf_bistable")][:4]:
        m = nc.measures[key]
        fig = plot_condition_comparison(
            [nc.healthy, nc.disease], list(m.point),
            [m.interval_healthy[0], m.interval_disease[0]],
            [m.interval_healthy[1], m.interval_disease[1]],
            ylabel=f"{m.name} {('(' + m.unit + ')') if m.unit else ''}",
            title=f"{m.name} ({m.engine})")
        name = f"figures/network_{_slug(nc.model)}_{_slug(m.name)}.png"
        save_figure(fig, fig_dir.parent / name)
        files.append(name)
        sec.figure(name, f"{m.description}; engine: {m.engine}.")
    for n in nc.notes:
        sec.note(n)


def sweep_figures(sweep: Any, directory: str | os.PathLike, *,
                  measures: list[str] | None = None, markers: dict[str, float] | None = None,
                  prefix: str = "sweep") -> list[str]:
    """One PNG per measure of a :class:`~hetfit.disease.sweeps.Sweep` (mean with CI band).

    ``markers`` draws vertical lines, e.g. the measured widths of two conditions.  Returns
    the file names (relative to ``directory``).
    """
    from hetfit.reports.figures import plot_sweep, save_figure

    d = Path(directory)
    names = measures or list(sweep.curves)
    out = []
    for name in names:
        c = sweep.curve(name)
        fig = plot_sweep(
            sweep.widths, {f"{name} ({c.engine})": (c.mean, c.low, c.high)},
            xlabel=f"{sweep.parameter} width ({sweep.unit})" if sweep.unit
            else f"{sweep.parameter} width", ylabel=f"{name} ({c.unit})" if c.unit else name,
            title=f"{sweep.model}: {name}", markers=markers)
        fn = f"{prefix}_{_slug(sweep.parameter)}_{_slug(name)}.png"
        save_figure(fig, d / fn)
        out.append(fn)
    return out


def _sweep_section(rep: Any, key: str, sweep: Any, fig_dir: Path, files: list[str]) -> None:
    from hetfit.disease.sweeps import synchrony_verdict

    sec = rep.section(f"Heterogeneity sweep: {key}")
    sec.text(f"Model {sweep.model}, width of {sweep.parameter} varied over "
             f"{_fmt(float(sweep.widths[0]))}-{_fmt(float(sweep.widths[-1]))} {sweep.unit}.")
    rows = []
    for name in sweep.curves:
        t = sweep.trend(name)
        rows.append({"measure": name, "engine": sweep.curves[name].engine,
                     "at smallest width": t["mean_at_min_width"],
                     "at largest width": t["mean_at_max_width"], "Spearman rho": t["rho"],
                     "p": t["p_value"]})
    sec.table(rows, caption="Trend of each measure with the width (rho < 0: falls as "
                            "heterogeneity rises)")
    for name in sweep.curves:
        if not name.startswith(("chi_", "delta_chi")):
            continue
        verdict, t, rng = synchrony_verdict(sweep, name)
        pop = name.rsplit("_", 1)[-1] if name.startswith("chi_") else "E"
        rate = sweep.curves.get(f"rate_{pop}") or sweep.curves.get("rate_after_hz")
        act = ""
        if rate is not None and np.isfinite(rate.values).any():
            act = f" at {_fmt(float(np.nanmean(rate.values)))} Hz mean rate"
        if verdict == "loss raises synchrony":
            tail = ("Heterogeneity desynchronizes here, as the seeds say for active, "
                    "regular-spiking networks.")
        else:
            tail = "The claim that losing heterogeneity raises synchrony does not hold here."
        sec.text(f"{name}: {verdict}{act} (Spearman rho {_fmt(t['rho'], 2)}, p "
                 f"{_fmt(t['p_value'], 2)}; range of the mean {_fmt(rng, 2)}). {tail}")
    for name, tr in sweep.transitions.items():
        sec.text(f"Transition ({name}, threshold {_fmt(tr.threshold)}): "
                 + (f"width {_fmt(tr.width)} {sweep.unit}" if tr.width is not None
                    else f"none ({tr.rule})"))
    markers = sweep.meta.get("markers")
    main = [k for k in sweep.curves if k.startswith(("chi", "distance_D", "spectral_radius",
                                                     "bistable", "delta_chi"))][:4]
    for fn in sweep_figures(sweep, fig_dir, measures=main, markers=markers,
                            prefix=f"sweep_{_slug(key)}"):
        files.append(f"figures/{fn}")
        sec.figure(f"figures/{fn}", fn)
    for n in sweep.notes:
        sec.note(n)


def _power_section(rep: Any, result: Any, fig_dir: Path, files: list[str]) -> None:
    from hetfit.reports.figures import plot_sweep, save_figure

    sec = rep.section("Study planning: donors needed to detect a change of spread")
    sec.text("Power of the donor-level permutation test (alpha 0.05) by simulation with the "
             "donor share of variance and cells per donor measured here (Gaussian model, "
             "equal donors per condition).")
    rows = []
    for key, plan in result.power.items():
        curves = {}
        for label, pc in plan.curves.items():
            test = next(iter(pc.power))
            m = pc.minimum_donors[test]
            rows.append({"type and feature": key, "width ratio": label.split()[-1],
                         "donor share of variance": plan.icc,
                         "cells per donor": plan.cells_per_donor,
                         "donors per condition for 80% power":
                             "> " + str(int(pc.n_donors[-1, 0])) if m is None else round(m, 1)})
            curves[label] = (pc.power[test], pc.interval[test][:, 0], pc.interval[test][:, 1])
        x = next(iter(plan.curves.values())).n_donors[:, 0]
        fig = plot_sweep(x, curves, xlabel="donors per condition", ylabel="power",
                         title=f"power: {key}")
        name = f"figures/power_{_slug(key)}.png"
        save_figure(fig, fig_dir.parent / name)
        files.append(name)
        sec.figure(name, f"Power against donors per condition ({key}).")
        for n in plan.notes:
            sec.note(f"{key}: {n}")
    sec.table(rows)


def write_comparison_report(result: Any, directory: str | os.PathLike, *,
                            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the report of ``result`` into ``directory`` (created if needed).

    Returns the paths written (``html``, ``markdown``, ``json``, ``csv``, ``figures``).
    Write into a :func:`hetfit.io.staged_directory` to make the whole directory atomic.
    """
    from hetfit._version import __version__
    from hetfit.io import atomic_write_text
    from hetfit.reports.document import Report

    d = Path(directory)
    fig_dir = d / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    sp = result.spreads
    rep = Report(f"hetfit compare: {sp.disease} vs {sp.healthy}",
                 f"{result.description} (hetfit {__version__})")
    intro = rep.section("Contrast and data")
    intro.text(f"Contrast: {sp.contrast}.")
    intro.table([
        {"condition": result.healthy.name, "role": "reference",
         "selection": str(dict(result.healthy.criteria)) or "whole table"},
        {"condition": result.disease.name, "role": "compared",
         "selection": str(dict(result.disease.criteria)) or "whole table"},
    ])
    if result.citation:
        intro.text(f"Data: {result.citation}")
    for n in result.notes:
        intro.note(n)
    _summary_section(rep, result)
    _spread_section(rep, result, fig_dir, files)
    for nc in [result.networks, *result.extra_networks.values()]:
        if nc is not None:
            _network_section(rep, nc, fig_dir, files)
    for key, sw in result.sweeps.items():
        _sweep_section(rep, key, sw, fig_dir, files)
    if result.power:
        _power_section(rep, result, fig_dir, files)
    payload = result.to_dict()
    if extra:
        payload.update(extra)
    paths = rep.write(d, payload)
    csv = d / "spreads.csv"
    atomic_write_text(csv, sp.to_frame().to_csv(index=False))
    paths["csv"] = str(csv)
    return paths
