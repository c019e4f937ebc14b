"""`hetfit simulate`: run a heterogeneous Izhikevich network preset.

Examples::

    hetfit simulate --spec net.json --duration 1000 --seed 1 --json
    hetfit simulate --preset single --n 1000 --delta-v 1.0 --drive 50 --duration 1000 --json
    hetfit simulate --preset gast2023_ei --n-e 2000 --n-i 2000 --delta-v-i 0.5 \\
        --drive-i 40 --seed 3 --out run.npz

``--out`` writes one ``.npz`` (atomically) with ``spike_times_ms``, ``spike_neurons``,
``rate_t_ms``, ``rates_hz`` (populations x bins), ``spike_counts`` (per neuron),
``population_names``, ``population_sizes`` and ``meta_json``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

HELP = "simulate a heterogeneous Izhikevich network (a spec file or a preset)"
DESCRIPTION = (
    "Simulate a heterogeneous Izhikevich network with Lorentzian spike thresholds and report "
    "spike counts and firing rates.  --spec runs a network spec file (populations, "
    "per-neuron parameters, connections, inputs; docs/network_spec.md).  Presets: 'single' "
    "(DESIGN.md parameters) and 'gast2023_ei' (RS/FS network of Gast, Solla & Kennedy, PRE "
    "2023), also shipped as spec files of the same names."
)

_EI_ONLY = ("n_e", "n_i", "delta_v_e", "delta_v_i", "drive_i")
_SINGLE_ONLY = ("coupling",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=("single", "gast2023_ei"), default=None,
                        help="network preset (default: single)")
    parser.add_argument("--spec", metavar="FILE",
                        help="run a network spec file (hetfit-network JSON, or a population "
                        "file written by 'hetfit params'), or a shipped spec by name "
                        "(single, gast2023_ei); see hetfit.models.spec")
    parser.add_argument("--n", type=int, default=None,
                        help="neurons per population (default 1000)")
    parser.add_argument("--n-e", type=int, default=None, help="E population size (E/I preset)")
    parser.add_argument("--n-i", type=int, default=None, help="I population size (E/I preset)")
    parser.add_argument("--delta-v", type=float, default=None,
                        help="Lorentzian half-width of spike thresholds in mV (default 1.0)")
    parser.add_argument("--delta-v-e", type=float, default=None, help="E threshold width (mV)")
    parser.add_argument("--delta-v-i", type=float, default=None, help="I threshold width (mV)")
    parser.add_argument("--drive", type=float, default=None,
                        help="common input current in pA (single; E population of the E/I "
                        "preset; default 50); with --spec, added to every population's input")
    parser.add_argument("--drive-i", type=float, default=None,
                        help="input to the I population in pA (E/I preset; default 10)")
    parser.add_argument("--coupling", type=float, default=None,
                        help="recurrent coupling J of the single preset (default 1)")
    parser.add_argument("--connection-p", type=float, default=None,
                        help="sparse random coupling with this probability (default: "
                        "all-to-all)")
    parser.add_argument("--sampling", choices=("quantiles", "random"), default=None,
                        help="deterministic Lorentzian quantiles (default) or seeded random "
                        "draws (presets)")
    parser.add_argument("--duration", type=float, default=1000.0,
                        help="simulated time in ms (default 1000)")
    parser.add_argument("--dt", type=float, default=None,
                        help="time step in ms (default 0.05; 0.01 with --export, whose "
                        "simulators integrate with Euler)")
    parser.add_argument("--method", choices=("exact", "euler"), default="exact",
                        help="spike handling: closed-form excursions (exact) or plain Euler")
    parser.add_argument("--bin", type=float, default=1.0,
                        help="population-rate bin width in ms (default 1)")
    parser.add_argument("--transient", type=float, default=0.0,
                        help="ms excluded from the reported mean rates (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write spikes and rates to this .npz file")
    parser.add_argument("--no-spikes", action="store_true",
                        help="do not keep individual spikes (rates and counts only)")
    parser.add_argument("--export", choices=("brian2",), default=None,
                        help="instead of simulating, write a script that runs the same network "
                        "(hetfit's per-neuron draws and graph for --seed) in that simulator, "
                        "to --out (a .py file; default NAME_brian2.py) and its .npz")


def _check(args: argparse.Namespace) -> None:
    from hetfit.errors import ParameterError

    if args.spec is not None:
        preset_only = ("preset", "n", "sampling", "coupling", "connection_p", "drive_i",
                       *_EI_ONLY)
        used = sorted({a for a in preset_only if getattr(args, a) is not None})
        if used:
            flags = ", ".join("--" + u.replace("_", "-") for u in used)
            raise ParameterError(f"{flags} set a preset's parameters, not a --spec file's",
                                 hint="change the values in the spec file (or drop --spec)")
    elif args.preset is None:
        args.preset = "single"
    used = [] if args.spec is not None else [
        a for a in (_EI_ONLY if args.preset == "single" else _SINGLE_ONLY)
        if getattr(args, a) is not None]
    if used:
        flags = ", ".join("--" + u.replace("_", "-") for u in used)
        other = "gast2023_ei" if args.preset == "single" else "single"
        verb = "apply" if len(used) > 1 else "applies"
        raise ParameterError(f"{flags} only {verb} to --preset {other}")
    if args.dt is None:
        args.dt = 0.01 if args.export is not None else 0.05
    for name in ("duration", "dt", "bin"):
        v = getattr(args, name)
        if not (math.isfinite(v) and v > 0):
            raise ParameterError(f"--{name} must be a finite number > 0, got {v}")
    if not (math.isfinite(args.transient) and 0 <= args.transient < args.duration):
        raise ParameterError(
            f"--transient must lie in [0, duration), got {args.transient}"
        )
    for name in ("delta_v", "delta_v_e", "delta_v_i", "drive", "drive_i", "coupling",
                 "connection_p"):
        v = getattr(args, name)
        if v is not None and not math.isfinite(v):
            raise ParameterError(f"--{name.replace('_', '-')} must be finite, got {v}")
    if args.seed < 0:
        raise ParameterError(f"--seed must be >= 0, got {args.seed}")
    if args.export is not None:
        if args.out is None:
            args.out = Path(f"{Path(args.spec).stem if args.spec else args.preset}_brian2.py")
        if args.out.suffix != ".py":
            raise ParameterError(f"--out must end in .py with --export, got {args.out}",
                                 hint="e.g. --out net_brian2.py")
        from hetfit.io import output_file
        from hetfit.models.export_brian2 import MARKER

        output_file(args.out, text_marker=MARKER)
        output_file(args.out.with_suffix(".npz"), npz_member="hetfit_export")
    elif args.out is not None:
        if args.out.suffix != ".npz":
            raise ParameterError(f"--out must end in .npz, got {args.out}",
                                 hint="e.g. --out run.npz")
        from hetfit.io import output_file

        # before simulating: never replace a file hetfit did not write, a link or a device
        output_file(args.out, npz_member="meta_json")


def _spec(args: argparse.Namespace):
    """The spec named by --spec (a file, else a shipped spec), with --drive added."""
    from dataclasses import replace

    from hetfit.errors import InputFileError
    from hetfit.models.inputs import StepCurrent
    from hetfit.models.spec import PRESET_DIR, load_spec, preset_spec

    path = Path(args.spec).expanduser()
    if path.exists():
        spec = load_spec(path)
    elif (PRESET_DIR / f"{args.spec}.json").is_file() and "/" not in args.spec:
        spec = preset_spec(args.spec)
    else:
        raise InputFileError(f"network spec not found: {path}",
                             hint="give a spec file, or a shipped name: single, gast2023_ei")
    if args.drive:
        pops = tuple(replace(p, input=StepCurrent(p.input.times_ms, tuple(
            v + args.drive for v in p.input.values_pA))) for p in spec.populations)
        spec = replace(spec, populations=pops)
    return spec


def _network(args: argparse.Namespace):
    from hetfit.models.presets import gast2023_ei, single_population

    if args.spec is not None:
        return _spec(args).network(seed=args.seed)
    n = 1000 if args.n is None else args.n
    if args.preset == "single":
        return single_population(
            n=n, delta_v=1.0 if args.delta_v is None else args.delta_v,
            I_ext=50.0 if args.drive is None else args.drive,
            J=1.0 if args.coupling is None else args.coupling,
            sampling=args.sampling or "quantiles", connection_p=args.connection_p,
        )
    dv = 1.0 if args.delta_v is None else args.delta_v
    return gast2023_ei(
        n_e=n if args.n_e is None else args.n_e, n_i=n if args.n_i is None else args.n_i,
        delta_v_e=dv if args.delta_v_e is None else args.delta_v_e,
        delta_v_i=dv if args.delta_v_i is None else args.delta_v_i,
        I_e=50.0 if args.drive is None else args.drive,
        I_i=10.0 if args.drive_i is None else args.drive_i,
        sampling=args.sampling or "quantiles", connection_p=args.connection_p,
    )


def _check_size(args: argparse.Namespace, net) -> None:
    """Refuse a network, duration or step this machine cannot hold or would run for days,
    before anything is allocated (building ``net`` allocates nothing)."""
    from hetfit.resources import check_work, network_estimate, require_memory

    est = network_estimate(net, args.duration, args.dt, args.bin,
                           record_spikes=not args.no_spikes)
    # name the fixes for the parts that dominate the estimate first
    share = {k: v / max(est.total_bytes, 1) for k, v in {**est.committed, **est.reserved}.items()}
    n_flag = ("smaller populations in the spec" if args.spec is not None else
              "a smaller " + ("--n" if args.preset == "single" else "--n (or --n-e/--n-i)"))
    dur, dt = "a shorter --duration", "a larger --dt"
    by_part = {"spike calendar (20 ms / dt slots)": [dt],
               "synapses": ["a smaller --connection-p", n_flag],
               "rates": ["a larger --bin", dur],
               "spike buffers": ["--no-spikes (rates and counts only)", n_flag, dur]}
    fixes = [f for part, fs in by_part.items() if share.get(part, 0) > 0.1 for f in fs]
    fixes = list(dict.fromkeys(fixes + [n_flag, dur, dt]))
    hint = "use " + ", ".join(fixes[:-1]) + " or " + fixes[-1]
    require_memory(est, hint)
    check_work(net.n_neurons, args.duration / args.dt, 1, f"use {n_flag}, {dur} or {dt}")


def run(args: argparse.Namespace) -> dict:
    import time

    import numpy as np

    from hetfit import console
    from hetfit.models.batch import simulate_izhikevich

    _check(args)
    net = _network(args)
    _check_size(args, net)
    if args.export is not None:
        from hetfit.models.export_brian2 import write_brian2

        script = write_brian2(net, args.out, seed=args.seed, t_max_ms=args.duration,
                              dt_ms=args.dt, name=args.spec or args.preset)
        return {"export": args.export, "script": str(script),
                "data": str(script.with_suffix(".npz")), "n_neurons": net.n_neurons,
                "seed": args.seed, "duration_ms": args.duration, "dt_ms": args.dt}
    console.info(f"simulating {net.n_neurons} neurons for {args.duration} ms (dt {args.dt} ms)")
    t0 = time.perf_counter()
    res = simulate_izhikevich(
        net, args.duration, args.dt, seed=args.seed, method=args.method,
        rate_bin_ms=args.bin, record_spikes=not args.no_spikes,
    )
    wall = time.perf_counter() - t0
    counts = np.asarray(res.meta["spike_counts"])
    pops = []
    start = 0
    for name, size in zip(res.population_names, res.population_sizes):
        pops.append({
            "name": name, "n": int(size),
            "spike_count": int(counts[start:start + size].sum()),
            "mean_rate_hz": res.mean_rate_hz(name, args.transient),
        })
        start += size
    out = {
        "preset": args.preset, "spec": args.spec, "method": args.method, "seed": args.seed,
        "n_neurons": res.n_neurons, "duration_ms": res.t_max_ms, "dt_ms": res.dt_ms,
        "spike_count": int(counts.sum()),
        "mean_rate_hz": res.mean_rate_hz(None, args.transient),
        "transient_ms": args.transient,
        "populations": pops, "diverged": bool(res.diverged), "status": res.meta["status"],
        "simulation_wall_s": round(wall, 4), "out": None,
    }
    if res.diverged:
        console.warn(f"simulation {res.meta['status']}; its rates are NaN and must not be used")
    if args.out is not None:
        out["out"] = str(_write_npz(args.out, res, out))
    return out


def _write_npz(path: Path, res, summary: dict) -> Path:
    import io

    import numpy as np

    from hetfit.io import atomic_write_bytes, dumps

    meta = {k: v for k, v in res.meta.items() if k not in ("spike_counts", "samples",
                                                           "isi_sum_ms", "isi_sq_sum_ms2")}
    meta["summary"] = summary
    meta["format"] = "hetfit-simulate"  # how a rerun knows this file is hetfit's to replace
    buf = io.BytesIO()
    np.savez_compressed(
        buf, spike_times_ms=res.spike_times_ms, spike_neurons=res.spike_neurons,
        rate_t_ms=res.rate_t_ms, rates_hz=res.rates_hz,
        spike_counts=np.asarray(res.meta["spike_counts"]),
        population_names=np.asarray(res.population_names),
        population_sizes=np.asarray(res.population_sizes),
        meta_json=np.asarray(dumps(meta)),
    )
    return atomic_write_bytes(path, buf.getvalue())


def render(result: dict) -> str:
    if "export" in result:
        return (f"wrote {result['script']} and {result['data']}: {result['n_neurons']} neurons, "
                f"{result['duration_ms']:g} ms at dt {result['dt_ms']:g} ms (Euler), seed "
                f"{result['seed']}; run it with python where {result['export']} is installed")
    lines = [
        f"{result['spec'] or result['preset']}: {result['n_neurons']} neurons, "
        f"{result['duration_ms']:g} ms "
        f"(dt {result['dt_ms']:g} ms, {result['method']}), status {result['status']}",
        f"  spikes: {result['spike_count']}, mean rate {result['mean_rate_hz']:.3f} Hz",
    ]
    for p in result["populations"]:
        lines.append(f"  {p['name']}: n={p['n']}, {p['spike_count']} spikes, "
                     f"{p['mean_rate_hz']:.3f} Hz")
    lines.append(f"  simulation wall time {result['simulation_wall_s']:.3f} s")
    if result.get("out"):
        lines.append(f"  wrote {result['out']}")
    return "\n".join(lines)
