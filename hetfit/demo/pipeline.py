"""The whole hetfit job on embedded data: ``hetfit demo``.

Stages (each one a real computation; every number in the report comes from it):

1. **distributions** -- within-type distributions of human cortical neurons from the shipped
   Allen-derived presets (or, with ``allen=PATH``, estimated now from the raw Allen files):
   fitted families and donor-level 95% CIs of the spike-threshold spread.
2. **parameters** -- data-constrained per-neuron Izhikevich parameters for spiny (E) and
   aspiny (I) cells, written as reusable JSON population specs.
3. **recording** -- a synthetic recording from the E/I Izhikevich network of Gast, Solla &
   Kennedy (2023) with hidden threshold widths.
4. **fit** -- simulation-based inference (NPE) of those widths from the recording, with
   simulation-based calibration on held-out simulations.
5. **comparison** -- epilepsy vs tumor donors (presets): threshold spreads with CIs;
   networks built from each condition's widths (synchrony vs inhibitory threshold
   heterogeneity); resilience of the Hutt et al. rate network vs heterogeneity.  With the
   public data folder available, also the Rich et al. 2022 reference case (epileptogenic vs
   non-epileptogenic L5 pyramidal cells).
6. **report** -- ``report.html`` / ``report.md``, PNG figures and ``results.json``.

The output directory is staged and renamed only when every stage succeeded.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hetfit.console import info
from hetfit.errors import ParameterError

FEATURE = "v_threshold_mV"
# Hidden widths and drives of the synthetic recording (inside the fit's prior).
TRUTH = {"delta_v_E": 1.5, "delta_v_I": 0.6, "I_E": 50.0, "I_I": 10.0}


@dataclass(frozen=True)
class DemoConfig:
    """Budgets of the demo (``quick`` for a reduced run)."""

    quick: bool = False
    seed: int = 0
    n_per_population: int = 500
    duration_ms: float = 1000.0
    budget: int = 4000
    n_validation: int = 300
    n_params_neurons: int = 500
    sweep_points: int = 7
    sweep_seeds: int = 2
    rate_trials: int = 10

    @classmethod
    def make(cls, quick: bool, seed: int = 0) -> DemoConfig:
        if seed < 0 or int(seed) != seed:
            raise ParameterError(f"seed must be a non-negative integer, got {seed}")
        if quick:
            return cls(quick=True, seed=int(seed), n_per_population=200, duration_ms=1000.0,
                       budget=600, n_validation=100, n_params_neurons=200, sweep_points=5,
                       sweep_seeds=1, rate_trials=5)
        return cls(seed=int(seed))


@dataclass
class StageRecord:
    name: str
    wall_time_s: float
    outputs: list[str]
    summary: dict[str, Any]


class _Context:
    def __init__(self, cfg: DemoConfig, stage_dir: Path, final_dir: Path,
                 allen: str | None, data_root: Path | None) -> None:
        self.cfg = cfg
        self.dir = stage_dir
        self.final = final_dir
        self.allen = allen
        self.data_root = data_root
        self.results: dict[str, Any] = {}
        self.stages: list[StageRecord] = []
        (stage_dir / "figures").mkdir(parents=True, exist_ok=True)

    def rel(self, p: Path) -> str:
        return str(p.relative_to(self.dir))

    def figure(self, fig: Any, name: str) -> str:
        from hetfit.reports.figures import save_figure

        save_figure(fig, self.dir / "figures" / name)
        return f"figures/{name}"


def _ci(iv: Any) -> dict[str, float]:
    return {"estimate": float(iv.estimate), "low": float(iv.low), "high": float(iv.high)}


# ----------------------------------------------------------------------------------------
# 1. distributions
# ----------------------------------------------------------------------------------------
def stage_distributions(ctx: _Context) -> dict[str, Any]:
    from hetfit.reports.figures import plot_condition_comparison, plot_fitted_densities

    if ctx.allen:
        from hetfit.data_adapters import read_allen
        from hetfit.distributions import WidthEstimator

        table = read_allen(ctx.allen).select(species="human")
        info(f"distributions: estimating from {table.n_cells} human Allen cells")
        est = WidthEstimator(
            features=[FEATURE, "distance_to_threshold_mV", "tau_m_ms", "rheobase_pA"],
            group_by=["disease_state", "dendrite_type"], n_boot=500 if ctx.cfg.quick else 2000,
            n_gof=0 if ctx.cfg.quick else 100, seed=ctx.cfg.seed).fit(table)
        est.save(ctx.dir / "estimate.json")
        source = f"estimated now from {ctx.allen}"
    else:
        from hetfit.params.presets import load_preset

        est = load_preset("allen_human")
        source = ("shipped preset allen_human (computed by hetfit from the Allen Cell Types "
                  "Database; see hetfit/presets/PROVENANCE.md)")
    rows, dens, labels, sds, lo, hi = [], {}, [], [], [], []
    for g in est.groups:
        fe = g.features.get(FEATURE)
        if fe is None or not fe.ok:
            continue
        sd, hw = fe.widths["sd"], fe.widths["hwhm_iqr"]
        rows.append({"type": g.name, "cells": g.n_cells, "donors": g.n_donors,
                     "family": fe.chosen_family, "median_mV": fe.location["median"].estimate,
                     "sd_mV": sd.estimate, "sd_low": sd.low, "sd_high": sd.high,
                     "hwhm_mV": hw.estimate, "hwhm_low": hw.low, "hwhm_high": hw.high})
        dens[g.name] = fe.distribution()
        labels.append(g.name)
        sds.append(sd.estimate)
        lo.append(sd.low)
        hi.append(sd.high)
    if not rows:
        raise ParameterError(f"no type has a fitted {FEATURE} distribution in the estimate")
    figs = [
        ctx.figure(plot_fitted_densities(dens, feature="spike threshold (mV)",
                                         x_range=(-60.0, -20.0),
                                         title="Human cortical types: fitted threshold "
                                               "distributions"), "distributions.png"),
        ctx.figure(plot_condition_comparison(labels, sds, lo, hi,
                                             ylabel="threshold SD (mV), 95% donor CI",
                                             title="Within-type spread of spike threshold"),
                   "threshold_spread.png"),
    ]
    ctx.results["distributions"] = {"source": source, "feature": FEATURE, "types": rows}
    ctx.estimate = est
    return {"types": len(rows), "source": source, "figures": figs}


# ----------------------------------------------------------------------------------------
# 2. parameters
# ----------------------------------------------------------------------------------------
def _group(est: Any, disease: str, dendrite: str) -> Any:
    return est.group(disease_state=disease, dendrite_type=dendrite)


def stage_parameters(ctx: _Context) -> dict[str, Any]:
    from hetfit.params.population import population_from_estimate

    out, rows = [], []
    for pop, dendrite in (("E", "spiny"), ("I", "aspiny")):
        g = _group(ctx.estimate, "epilepsy", dendrite)
        spec = population_from_estimate(
            ctx.estimate, g.name, n=ctx.cfg.n_params_neurons, model="izhikevich",
            seed=ctx.cfg.seed, use_adaptation=not ctx.cfg.quick)
        path = ctx.dir / "params" / f"{pop}_{g.name}.json"
        spec.save(path)
        out.append(ctx.rel(path))
        v = spec.values
        rows.append({"population": pop, "type": g.name, "neurons": spec.n,
                     "C_pF": float(np.median(v["C"])), "k": float(np.median(v["k"])),
                     "v_r_mV": float(np.median(v["v_r"])),
                     "v_theta_median_mV": float(np.median(v["v_theta"])),
                     "v_theta_sd_mV": float(np.std(v["v_theta"])),
                     "file": ctx.rel(path)})
    ctx.results["parameters"] = {"populations": rows,
                                 "schema": "docs/params.md (readable by Brian2/NEST)"}
    return {"files": out}


# ----------------------------------------------------------------------------------------
# 3. synthetic recording, 4. fit
# ----------------------------------------------------------------------------------------
def _problem(ctx: _Context):
    from hetfit.inference.problems import ei_width_problem

    n = ctx.cfg.n_per_population
    # A simulated recording lists every cell, silent ones included: the fraction of FS cells
    # that fire is what pins Delta_v(I) (benchmarks/RESULTS.md, inference).
    return ei_width_problem(n_e=n, n_i=n, duration_ms=ctx.cfg.duration_ms,
                            observe_silent=True)


def stage_recording(ctx: _Context) -> dict[str, Any]:
    from hetfit.reports.figures import plot_raster

    sim, prior = _problem(ctx)
    theta = np.array([[TRUTH[name] for name in prior.names]])
    rec = sim.simulate_recordings(theta, [ctx.cfg.seed + 12345])[0]
    if rec is None:
        raise ParameterError("the synthetic recording diverged; try another --seed")
    path = rec.to_csv(ctx.dir / "recording.csv")
    t, u = rec.times_ms, rec.unit_index
    fig = plot_raster(t - rec.t_start_ms, u, max_neurons=2 * ctx.cfg.n_per_population,
                      title="Synthetic recording (E units then I units)")
    ctx.sim, ctx.prior, ctx.recording = sim, prior, rec
    ctx.results["recording"] = {"truth": dict(TRUTH), "n_units": rec.n_units,
                                "n_spikes": rec.n_spikes, "duration_ms": rec.duration_ms,
                                "file": ctx.rel(path)}
    return {"file": ctx.rel(path), "figure": ctx.figure(fig, "recording.png"),
            "n_spikes": rec.n_spikes}


def stage_fit(ctx: _Context) -> dict[str, Any]:
    import tempfile

    from hetfit.inference.estimators import EstimatorConfig
    from hetfit.inference.fit import WidthFitter
    from hetfit.reports.figures import plot_posterior_pairs

    store = Path(tempfile.mkdtemp(prefix="hetfit-demo-sims-"))
    # Larger steps and earlier stopping than the library default: on the demo's budgets this
    # trains 2-3x faster with the same validation loss and calibration (measured).
    estimator = EstimatorConfig(training_batch_size=128, learning_rate=1e-3,
                                stop_after_epochs=10)
    fitter = WidthFitter(ctx.sim, ctx.prior, budget=ctx.cfg.budget, seed=ctx.cfg.seed,
                         store=store, n_validation=ctx.cfg.n_validation, estimator=estimator,
                         torch_threads=1,  # small networks: one thread is faster (measured)
                         sbc_samples=100 if ctx.cfg.quick else 200)
    try:
        fit = fitter.fit(posterior_path=ctx.dir / "posterior.npz")
    finally:
        import shutil

        shutil.rmtree(store, ignore_errors=True)
    obs = fitter.posterior_for(ctx.recording, seed=ctx.cfg.seed)
    od = obs.to_dict()
    names = list(ctx.prior.names)
    samples = fitter.posterior_.sample(obs.x, 3000, seed=ctx.cfg.seed)
    widths = [i for i, n in enumerate(names) if n.startswith("delta_v")]
    fig = plot_posterior_pairs(samples[:, widths], [names[i] + " (mV)" for i in widths],
                               truth=[TRUTH[names[i]] for i in widths],
                               title="Posterior of threshold widths (star: hidden truth)")
    params = {}
    for name, p in od["parameters"].items():
        lo, hi = p["ci90"]
        params[name] = {"truth": TRUTH[name], "mean": p["mean"], "median": p["median"],
                        "ci90": [lo, hi], "covered": bool(lo <= TRUTH[name] <= hi)}
    fd = fit.to_dict()
    ctx.results["fit"] = {
        "budget": ctx.cfg.budget, "n_validation": ctx.cfg.n_validation,
        "simulations": fd["simulations"], "training": fd["training"],
        "posterior": params, "sbc": fd["sbc"], "recovery": fd["recovery"],
        "misspecification": od["misspecification"], "posterior_file": "posterior.npz",
    }
    return {"figure": ctx.figure(fig, "posterior.png"),
            "posterior": {k: v["mean"] for k, v in params.items()}}


# ----------------------------------------------------------------------------------------
# 5. healthy vs epileptic
# ----------------------------------------------------------------------------------------
def _ratio_ci(a: Any, b: Any, level: float = 0.95) -> dict[str, float]:
    """Width ratio b/a with a delta-method CI on the log ratio (independent donor sets)."""
    from scipy import stats

    r = b.estimate / a.estimate
    se = math.sqrt((a.se / a.estimate) ** 2 + (b.se / b.estimate) ** 2)
    z = stats.norm.ppf(0.5 + level / 2)
    return {"ratio": r, "low": r * math.exp(-z * se), "high": r * math.exp(z * se)}


def stage_comparison(ctx: _Context) -> dict[str, Any]:
    from hetfit.disease.sweeps import izhikevich_sweep, rate_network_sweep
    from hetfit.models.presets import gast2023_ei
    from hetfit.reports.figures import plot_condition_comparison, plot_sweep

    cfg = ctx.cfg
    est = ctx.estimate
    spread_rows, labels, rat, lo, hi = [], [], [], [], []
    widths: dict[str, dict[str, float]] = {}
    for dendrite, pop in (("spiny", "E"), ("aspiny", "I")):
        h = _group(est, "tumor", dendrite)[FEATURE]
        d = _group(est, "epilepsy", dendrite)[FEATURE]
        rc = _ratio_ci(h.widths["sd"], d.widths["sd"])
        spread_rows.append({
            "type": dendrite, "tumor_sd_mV": h.widths["sd"].estimate,
            "tumor_ci": [h.widths["sd"].low, h.widths["sd"].high],
            "epilepsy_sd_mV": d.widths["sd"].estimate,
            "epilepsy_ci": [d.widths["sd"].low, d.widths["sd"].high],
            "ratio_epilepsy_over_tumor": rc["ratio"], "ratio_ci95": [rc["low"], rc["high"]],
            "tumor_cells_donors": [h.n_cells, h.n_donors],
            "epilepsy_cells_donors": [d.n_cells, d.n_donors]})
        labels.append(f"{dendrite} threshold")
        rat.append(rc["ratio"])
        lo.append(rc["low"])
        hi.append(rc["high"])
        widths.setdefault("tumor", {})[pop] = h.widths["hwhm_iqr"].estimate
        widths.setdefault("epilepsy", {})[pop] = d.widths["hwhm_iqr"].estimate
    figs = [ctx.figure(plot_condition_comparison(
        labels, rat, lo, hi, ylabel="SD ratio epilepsy / tumor (95% CI)", reference=1.0,
        title="Allen human cells: threshold spread, epilepsy vs tumor donors"),
        "spread_ratio.png")]

    # Networks from each condition's widths: synchrony along the inhibitory threshold width
    # (the papers find inhibitory heterogeneity controls resonance and hysteresis).
    n = cfg.n_per_population
    w_h = widths["tumor"]
    net = gast2023_ei(n_e=n, n_i=n, delta_v_e=w_h["E"], delta_v_i=w_h["I"], sampling="random")
    grid = np.unique(np.round(np.concatenate([
        np.linspace(0.0, 2.0 * w_h["I"], cfg.sweep_points),
        [widths["epilepsy"]["I"], w_h["I"]]]), 6))
    grid = grid[grid > 0]
    sw = izhikevich_sweep(net, grid, population="I", parameter="v_theta",
                          n_seeds=cfg.sweep_seeds, t_max_ms=1000.0 if cfg.quick else 2000.0,
                          t_start_ms=300.0 if cfg.quick else 500.0, dt_ms=0.1,
                          seed=cfg.seed, reference_width=w_h["I"])
    curves = {k: (c.mean, c.low, c.high) for k, c in sw.curves.items()
              if k in ("chi_I", "chi_E", "order_I")}
    figs.append(ctx.figure(plot_sweep(
        sw.widths, curves, xlabel="I threshold half-width (mV)", ylabel="synchrony",
        markers={"tumor (measured)": w_h["I"], "epilepsy (measured)": widths["epilepsy"]["I"]},
        title="E/I Izhikevich network built from measured widths"), "synchrony_sweep.png"))
    at = {cond: {k: float(sw.at(k, w["I"])) for k in curves} for cond, w in widths.items()}

    # Resilience of the Hutt et al. rate network vs excitability heterogeneity (the
    # variance range of its Figs. 2-3, where the May-Wigner transition is crossed).
    s2 = np.array([0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3])
    sig = np.sqrt(s2)
    rs = rate_network_sweep(sig, n_trials=cfg.rate_trials, n_realizations=cfg.rate_trials,
                            seed=cfg.seed)
    rcurves = {k: (c.mean, c.low, c.high) for k, c in rs.curves.items()
               if k in ("distance_D", "spectral_radius", "spectral_radius_eq19")}
    figs.append(ctx.figure(plot_sweep(
        s2, {"distance D (after a perturbation)": rcurves["distance_D"]},
        xlabel="sigma_h^2 (variance of excitability)", ylabel="resilience distance D",
        logy=True, title="Rate network (Hutt et al.): D vs heterogeneity"),
        "resilience_D.png"))
    figs.append(ctx.figure(plot_sweep(
        s2, {"numerical (Jacobian)": rcurves["spectral_radius"],
             "theory (Eq. 19)": (rcurves["spectral_radius_eq19"][0], None, None)},
        xlabel="sigma_h^2 (variance of excitability)", ylabel="spectral radius",
        title="Rate network: spectral radius vs heterogeneity"), "spectral_radius.png"))
    result: dict[str, Any] = {
        "spreads": spread_rows, "network_widths_hwhm_mV": widths,
        "synchrony_sweep": {"parameter": sw.parameter, "widths": sw.widths,
                            "curves": {k: v[0] for k, v in curves.items()},
                            "at_measured_widths": at, "notes": sw.notes,
                            "trends": {k: sw.trend(k) for k in curves}},
        "resilience_sweep": {"sigma_h": sig, "sigma_h2": s2, "curves": {k: v[0] for k, v in rcurves.items()},
                             "trends": {k: rs.trend(k) for k in rcurves}, "notes": rs.notes},
    }
    if ctx.data_root is not None:
        result["rich2022"] = _rich_reference(ctx)
    ctx.results["comparison"] = result
    return {"figures": figs, "rich2022": "rich2022" in result}


def _rich_reference(ctx: _Context) -> dict[str, Any] | None:
    from hetfit.disease import run_comparison
    from hetfit.disease.presets import load_preset
    from hetfit.disease.report import write_comparison_report
    from hetfit.errors import HetfitError

    try:
        preset = load_preset("rich2022", ctx.data_root)
    except HetfitError as exc:
        info(f"comparison: Rich 2022 reference case skipped ({exc.one_line()})")
        return None
    res = run_comparison(preset, quick=True, seed=ctx.cfg.seed)
    paths = write_comparison_report(res, ctx.dir / "rich2022")
    d = res.to_dict()
    return {"report": ctx.rel(Path(paths["html"])), "contrast": d["contrast"],
            "notes": d["notes"], "spreads": d["spreads"], "networks": d["networks"]}


# ----------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------
STAGES: tuple[tuple[str, Callable[[_Context], dict[str, Any]]], ...] = (
    ("distributions", stage_distributions),
    ("parameters", stage_parameters),
    ("recording", stage_recording),
    ("fit", stage_fit),
    ("comparison", stage_comparison),
)


def find_data_root(data_root: str | os.PathLike | None) -> Path | None:
    """The public-data folder: the argument, ``$HETFIT_SHARED_DATA``, or ``../shared/data``
    next to the working directory (the layout of the hetfit repository's checkout)."""
    from hetfit.errors import InputFileError

    if data_root is not None:
        p = Path(data_root).expanduser()
        if not p.is_dir():
            raise InputFileError(f"data root {p} is not a folder",
                                 hint="point --data-root at the public-data folder")
        return p
    env = os.environ.get("HETFIT_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [Path.cwd().parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def run_demo(out: str | os.PathLike = "hetfit_demo", *, quick: bool = False, seed: int = 0,
             allen: str | os.PathLike | None = None,
             data_root: str | os.PathLike | None = None, force: bool = False
             ) -> dict[str, Any]:
    """Run every stage and write the report directory ``out`` (atomically; see
    :func:`hetfit.io.staged_directory` for what may be replaced and what ``force`` does)."""
    from hetfit._version import __version__
    from hetfit.io import existing_file, staged_directory

    cfg = DemoConfig.make(quick, seed)
    if allen is not None:
        allen = str(existing_file(allen, "Allen file"))
    root = find_data_root(data_root)
    final = Path(out).expanduser()
    t_all = time.perf_counter()
    with staged_directory(final, "demo", force=force) as stage:
        ctx = _Context(cfg, stage, final, allen, root)
        for name, fn in STAGES:
            info(f"[{name}] ...")
            t0 = time.perf_counter()
            summary = fn(ctx)
            dt = time.perf_counter() - t0
            info(f"[{name}] done in {dt:.1f} s")
            ctx.stages.append(StageRecord(name, round(dt, 2), [], summary))
        t0 = time.perf_counter()
        from hetfit.demo.report import build_report

        ctx.results["config"] = asdict(cfg)
        ctx.results["stages"] = [asdict(s) for s in ctx.stages]
        ctx.results["hetfit_version"] = __version__
        ctx.results["data_root"] = None if root is None else str(root)
        paths = build_report(ctx.results, stage)
        ctx.stages.append(StageRecord("report", round(time.perf_counter() - t0, 2), [], {}))
    rel = {k: (str(final / Path(v).relative_to(stage)) if isinstance(v, str) else
               [str(final / Path(x).relative_to(stage)) for x in v]) for k, v in paths.items()}
    return {
        "out": str(final), "quick": quick, "seed": seed,
        "stages": [{"name": s.name, "wall_time_s": s.wall_time_s} for s in ctx.stages],
        "report": rel, "results": ctx.results,
        "wall_time_s": round(time.perf_counter() - t_all, 2),
    }
