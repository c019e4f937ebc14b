"""`hetfit fit`: infer heterogeneity widths of a network model from a recording (SBI).

Examples::

    # train a posterior for this recording (simulations resumable in OUT/simulations)
    hetfit fit --recording spikes.csv --time-unit s --model gast2023_ei --budget 10000 \\
        --out fit1 --json
    # run the simulations on a Dask cluster
    hetfit fit --recording spikes.csv --model gast2023_ei --budget 20000 \\
        --scheduler tcp://10.0.0.5:8786 --out fit2
    # apply a saved (amortized) posterior to another recording of the same shape
    hetfit fit --recording other.csv --model gast2023_ei --posterior fit1/posterior.npz --json

Output: posterior mean, median, SD and 90% interval per parameter; diagnostics (simulation-
based calibration of the trained posterior, coverage, recovery on held-out simulations, a
misspecification check of the recording against the simulations, and optionally a posterior
predictive check); paths of the saved artifacts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "infer heterogeneity widths from a recording with simulation-based inference"
DESCRIPTION = (
    "Fit the heterogeneity widths (e.g. spike-threshold half-widths of E and I cells) of a "
    "network model to recorded spike trains with neural posterior estimation.  Units must be "
    "labelled by population (unit ids E..., I...) unless the model is pooled "
    "(--model gast2023_ei:pooled=true).  Simulations are stored in resumable chunks: rerun "
    "the same command after an interruption and nothing is lost or repeated."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", required=True, metavar="FILE",
                        help="spike trains: CSV/TSV (unit,time), NWB (Units table), MEA HDF5 "
                        "or any neo-readable file")
    parser.add_argument("--model", default="gast2023_ei", metavar="SPEC",
                        help="inference problem: NAME[:key=value,...] or a JSON file "
                        "(default gast2023_ei; e.g. gast2023_ei:n_e=400,n_i=400)")
    parser.add_argument("--budget", type=int, default=None, metavar="N",
                        help="training simulations (default 10000; ignored with an existing "
                        "--posterior)")
    parser.add_argument("--posterior", metavar="PATH",
                        help="posterior file: applied if it exists (refused if made for "
                        "another model), otherwise the trained posterior is saved there "
                        "(default OUT/posterior.npz)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow a posterior in hetfit's old pickle format (.pt without its "
                        "numpy sidecar); unpickling can run any code, so only for files you "
                        "made or trust")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output directory for the posterior, simulation store and "
                        "result.json (default ./hetfit_fit when training)")
    parser.add_argument("--store", metavar="DIR",
                        help="simulation store directory (default OUT/simulations)")
    parser.add_argument("--force", action="store_true",
                        help="write into an --out folder that holds other files; only files "
                        "hetfit wrote there are replaced, never yours")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="Dask scheduler address (tcp://host:port) or 'local[:N]' for a "
                        "local Dask cluster; default: simulate in this process")
    parser.add_argument("--worker-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="with --scheduler: stop (keeping the stored simulations) when "
                        "no Dask worker has been available for this long (default 60)")
    parser.add_argument("--workers", type=int, default=1,
                        help="local worker processes (default 1: numba is already parallel)")
    parser.add_argument("--threads", type=int, default=None,
                        help="numba threads per simulation batch (default: all cores)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads for training (default 1: faster for these small networks)")
    parser.add_argument("--method", choices=("npe", "nle", "nre"), default="npe",
                        help="neural estimator (default npe)")
    parser.add_argument("--embedding", choices=("cnn", "fc"), default=None,
                        help="embedding network for the summaries (default: cnn when the "
                        "model uses raw rate traces, e.g. --model gast2023_ei:raw_traces=true)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--n-validation", type=int, default=None,
                        help="held-out simulations for calibration diagnostics "
                        "(default min(500, budget/10))")
    parser.add_argument("--predictive", type=int, default=0, metavar="N",
                        help="posterior predictive check with N simulations (default off)")
    parser.add_argument("--time-unit", choices=("s", "ms"), default=None,
                        help="time unit of a CSV recording (if its column name does not say)")
    parser.add_argument("--no-time-unit-check", action="store_true",
                        help="do not stop when the times look like a ms/s mix-up (e.g. a "
                        "sparse recording of many hours); the diagnosis is still reported")
    parser.add_argument("--delimiter", metavar="CHAR",
                        help="column delimiter of a CSV recording, e.g. ';' or tab (default: "
                        "detected)")
    parser.add_argument("--nan-policy", choices=("raise", "drop"), default="raise",
                        help="rows with a missing unit or a NaN time: raise (default) or drop "
                        "them (counted in the summary)")
    parser.add_argument("--sort-spikes", action="store_true",
                        help="sort spike times that decrease within a unit instead of "
                        "refusing the file (only if the row order is meaningless)")
    parser.add_argument("--duplicate-spikes", choices=("keep", "drop"), default="keep",
                        help="spikes at exactly the time of the previous spike of their unit: "
                        "keep (default; a coarse time resolution) or drop (duplicated rows); "
                        "counted in the summary either way")
    parser.add_argument("--segment", type=int, default=None, metavar="K",
                        help="segment of a multi-segment neo file to read (0-based)")
    parser.add_argument("--t-start-ms", type=float, default=None,
                        help="start of the recording window in ms (default: file start, 0)")
    parser.add_argument("--t-stop-ms", type=float, default=None,
                        help="end of the recording window in ms (default: the file's end or "
                        "just after the last spike; give it when the recording ran longer)")
    parser.add_argument("--window-ms", type=float, default=None,
                        help="analyse only the first WINDOW ms of the window")
    parser.add_argument("--samples", type=int, default=4000,
                        help="posterior samples for the reported statistics (default 4000)")


def _read_recording(args: argparse.Namespace):
    from hetfit.data_adapters.activity import read_recording
    from hetfit.errors import ParameterError

    path = Path(args.recording)
    kwargs = {k: getattr(args, k) for k in ("t_start_ms", "t_stop_ms")
              if getattr(args, k) is not None}
    kwargs.update(nan_policy=args.nan_policy, sort=args.sort_spikes,
                  duplicates=args.duplicate_spikes,
                  check_time_units="warn" if args.no_time_unit_check else True)
    suffix = path.suffix.lower()
    csv = suffix in (".csv", ".tsv", ".tab", ".txt")
    if csv and args.time_unit:
        kwargs["time_unit"] = args.time_unit
    if args.delimiter is not None:
        if not csv:
            raise ParameterError(f"--delimiter applies to CSV recordings, not {path.name}",
                                 hint="drop --delimiter")
        from hetfit.data_adapters.tables import parse_delimiter

        kwargs["sep"] = parse_delimiter(args.delimiter)
    if args.segment is not None:
        if csv or suffix in (".nwb", ".h5", ".hdf5"):
            raise ParameterError(f"--segment applies to multi-segment neo files, not "
                                 f"{path.name}", hint="drop --segment")
        if args.segment < 0:
            raise ParameterError(f"--segment must be >= 0, got {args.segment}")
        kwargs["segment"] = args.segment
    rec = read_recording(path, **kwargs)
    if args.window_ms is not None:
        if not args.window_ms > 0:
            raise ParameterError(f"--window-ms must be > 0, got {args.window_ms}")
        stop = rec.t_start_ms + float(args.window_ms)
        if stop > rec.t_stop_ms:
            raise ParameterError(
                f"--window-ms {args.window_ms:g} is longer than the recording "
                f"({rec.t_stop_ms - rec.t_start_ms:g} ms)")
        rec = rec.select(rec.t_start_ms, stop)
    return rec.require(min_units=2, min_spikes=2)


def recording_result(args: argparse.Namespace, rec) -> dict:
    """The recording part of the result: size, window, and what the reader (and
    --window-ms) dropped or changed, by reason with the first unit ids."""
    read = rec.report.to_dict() if rec.report is not None else {}
    read.pop("source", None)
    return {"path": str(args.recording), "n_units": rec.n_units,
            "n_active_units": rec.n_active_units, "n_spikes": rec.n_spikes,
            "window_ms": [rec.t_start_ms, rec.t_stop_ms], **read}


def recording_lines(recording: dict) -> list[str]:
    """Human lines for :func:`recording_result` (spikes read, kept, dropped and why)."""
    from hetfit.data_adapters.activity import read_report_lines

    if "rows_read" not in recording:
        return []
    lines = read_report_lines({**recording, "source": f"recording {recording['path']}"})
    lines.insert(1, f"  {recording['n_units']} units ({recording['n_active_units']} active), "
                    f"window {recording['window_ms'][0]:g}-{recording['window_ms'][1]:g} ms")
    return lines


def _estimator(args: argparse.Namespace, simulator):
    from hetfit.inference.estimators import EstimatorConfig
    from hetfit.inference.summaries import TraceSpec

    traces = isinstance(simulator.summaries, TraceSpec)
    embedding = args.embedding or ("cnn" if traces else None)
    channels = len(simulator.summaries.groups) if traces and embedding == "cnn" else 1
    return EstimatorConfig(method=args.method, embedding=embedding, embedding_channels=channels)


def _check_outputs(args: argparse.Namespace, out: Path, posterior_path: Path,
                   apply: bool) -> tuple[str, ...]:
    """Refuse outputs that would replace what hetfit did not write, before any work; returns
    the entries this run will write directly inside ``out`` (none: ``out`` is not used)."""
    from hetfit.errors import InputFileError
    from hetfit.inference.artifacts import FORMAT, sidecar_path
    from hetfit.io import claim_output_dir, output_file

    if apply:
        if not posterior_path.is_file():
            raise InputFileError(f"--posterior {posterior_path} is not a regular file",
                                 hint="pass the posterior file written by hetfit fit")
        targets = [out / "result.json"] if args.out is not None else []
    else:
        output_file(posterior_path, flag="--posterior", schema=FORMAT, schema_key="format",
                    npz_member="header")
        output_file(sidecar_path(posterior_path), flag="--posterior", schema=FORMAT,
                    schema_key="format")
        store = Path(args.store).expanduser() if args.store else out / "simulations"
        if store.is_symlink():
            raise InputFileError(f"--store {store} is a symbolic link; hetfit does not write "
                                 "through links", hint="give the real folder it points to")
        if store.exists() and not store.is_dir():
            raise InputFileError(f"--store {store} exists and is not a folder",
                                 hint="choose a folder path for --store")
        # an existing store's identity (model, prior, seed) is checked when it opens
        if store.is_dir() and any(store.iterdir()) and not (store / "manifest.json").is_file():
            raise InputFileError(f"--store {store} holds files that are not a hetfit "
                                 "simulation store; nothing was changed",
                                 hint="choose a new or empty folder for --store")
        targets = [posterior_path, sidecar_path(posterior_path), store, out / "result.json"]
    entries = tuple(sorted({t.name for t in targets
                            if os.path.abspath(t.parent) == os.path.abspath(out)}))
    if entries:
        claim_output_dir(out, "fit", entries, force=args.force, create=False)
    return entries


def run(args: argparse.Namespace) -> dict:
    from hetfit.console import info
    from hetfit.errors import ParameterError
    from hetfit.inference.fit import DEFAULT_BUDGET, WidthFitter
    from hetfit.inference.problems import problem_from_spec
    from hetfit.io import atomic_write_json, claim_output_dir

    for name in ("workers", "threads", "torch_threads", "samples"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ParameterError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if args.budget is not None and args.budget < 1:
        raise ParameterError(f"--budget must be >= 1, got {args.budget}")
    if not 0 <= args.predictive <= args.samples:
        # the check simulates from the first N posterior samples (a negative N used to
        # slice them from the end and run samples - 2 simulations)
        raise ParameterError(
            f"--predictive must lie in [0, --samples = {args.samples}], got {args.predictive}",
            hint="0 skips the posterior predictive check; raise --samples for more")
    if args.seed < 0:
        raise ParameterError(f"--seed must be >= 0, got {args.seed}")
    if not 0 < args.worker_timeout < float("inf"):
        raise ParameterError(f"--worker-timeout must be a number of seconds > 0, got "
                             f"{args.worker_timeout}")
    out = Path(args.out or "hetfit_fit").expanduser()
    posterior_path = Path(args.posterior).expanduser() if args.posterior else (
        out / "posterior.npz")
    apply = bool(args.posterior) and posterior_path.exists()
    if args.scheduler is not None:
        from hetfit.inference.parallel import check_scheduler

        # its form, and (when training needs it) that a tcp:// scheduler answers, before
        # anything is read or written
        check_scheduler(args.scheduler,
                        connect_timeout=None if apply else min(20.0, args.worker_timeout))
    # every output is checked before any work: a refusal leaves nothing behind
    entries = _check_outputs(args, out, posterior_path, apply)
    rec = _read_recording(args)
    simulator, prior = problem_from_spec(args.model, recording=rec, n_threads=args.threads)
    from hetfit.resources import check_fit_sizes

    # sizes the machine cannot hold are refused before any simulation or output
    check_fit_sizes(simulator, prior, budget=args.budget or DEFAULT_BUDGET,
                    n_validation=args.n_validation, method=args.method, n_samples=args.samples,
                    n_predictive=args.predictive, train=not apply, scheduler=args.scheduler,
                    workers=args.workers)
    # fail before any simulation or training if the recording cannot be summarized like them
    check = getattr(simulator, "check_recording", None)
    if check is not None:
        check(rec)
    info(f"recording: {rec.n_units} units ({rec.n_active_units} active), {rec.n_spikes} "
         f"spikes, {rec.duration_ms:g} ms")
    if entries and not apply:  # training: the store fills OUT from here on
        claim_output_dir(out, "fit", entries, force=args.force)
    result: dict = {
        "recording": recording_result(args, rec),
        "model": {"spec": args.model, "parameters": list(prior.names),
                  "prior": prior.describe(), "summaries": list(simulator.summary_names)},
    }
    if apply:
        info(f"applying saved posterior {posterior_path}")
        fitter = WidthFitter.from_posterior(posterior_path, simulator, prior,
                                            torch_threads=args.torch_threads,
                                            trust_pickle=args.trust_pickle)
        meta = fitter.posterior_.metadata
        result["training"] = meta.get("training", {})
        result["calibration"] = {"sbc": meta.get("sbc"), "recovery": meta.get("recovery")}
        result["trained_now"] = False
    else:
        fitter = WidthFitter(
            simulator, prior, budget=args.budget or DEFAULT_BUDGET, seed=args.seed,
            store=Path(args.store).expanduser() if args.store else out / "simulations",
            n_validation=args.n_validation, estimator=_estimator(args, simulator),
            scheduler=args.scheduler, workers=args.workers, n_threads=args.threads,
            torch_threads=args.torch_threads, worker_timeout=args.worker_timeout,
        )
        fit = fitter.fit(posterior_path=posterior_path)
        d = fit.to_dict()
        result["training"] = {**d["training"], "simulations": d["simulations"],
                              "validation_simulations": d["validation_simulations"]}
        result["calibration"] = {"sbc": d["sbc"], "recovery": d["recovery"]}
        result["trained_now"] = True
    obs = fitter.posterior_for(rec, n_samples=args.samples, seed=args.seed,
                               n_predictive=args.predictive)
    od = obs.to_dict()
    result["posterior"] = {"level": od["level"], "n_samples": od["n_samples"],
                           "parameters": od["parameters"]}
    result["checks"] = {"misspecification": od["misspecification"],
                        "posterior_predictive": od["posterior_predictive"]}
    result["observed_summaries"] = od["observed_summaries"]
    result["timings_s"] = od["timings_s"]
    from hetfit.inference.artifacts import sidecar_path

    write_result = result["trained_now"] or args.out is not None
    result["artifacts"] = {
        "posterior": str(posterior_path), "metadata": str(sidecar_path(posterior_path)),
        "store": str(fitter.store) if result["trained_now"] else None,
        "result": str(out / "result.json") if write_result else None,
    }
    if result["artifacts"]["result"]:
        if apply:  # only now that the posterior loaded and applied
            claim_output_dir(out, "fit", entries, force=args.force)
        atomic_write_json(out / "result.json", result)
    return result


def render(result: dict) -> str:
    post = result["posterior"]
    pct = round(100 * post["level"])
    lines = [f"posterior ({post['n_samples']} samples, {pct}% central intervals):"]
    for name, p in post["parameters"].items():
        lo, hi = p[f"ci{pct}"]
        lines.append(f"  {name:<12} mean {p['mean']:8.3f}  median {p['median']:8.3f}  "
                     f"{pct}% [{lo:.3f}, {hi:.3f}] {p['unit']}  (prior {p['prior_range']})")
    sbc = (result.get("calibration") or {}).get("sbc")
    if sbc:
        cal = ", ".join(f"{k}: p={v:.3f}" for k, v in sbc["ks_pvalue"].items())
        lines.append(f"calibration (SBC rank KS on {sbc['n_cases']} held-out sims): {cal}")
    mis = result["checks"].get("misspecification")
    if mis:
        verdict = "plausible" if mis["plausible"] else "OUTSIDE what the model produces"
        lines.append(f"recording vs simulations: {verdict} (p={mis['pvalue']:.3f}"
                     + (f"; outside: {', '.join(mis['outside_central_99pct'])}" if mis[
                         "outside_central_99pct"] else "") + ")")
    ppc = result["checks"].get("posterior_predictive")
    if ppc:
        lines.append(f"posterior predictive check: "
                     f"{'consistent' if ppc['consistent'] else 'INCONSISTENT'} "
                     f"(joint p={ppc['joint_pvalue']:.3f})")
    lines += recording_lines(result.get("recording") or {})
    warned = (result.get("training") or {}).get("warnings") or []
    lines += [f"training warning: {w}" for w in warned]
    art = result["artifacts"]
    lines.append(f"posterior file: {art['posterior']}")
    if art.get("store"):
        lines.append(f"simulation store: {art['store']}")
    return "\n".join(lines)
