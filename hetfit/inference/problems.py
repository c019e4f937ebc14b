"""Named inference problems: a network preset, what is inferred, its prior, and the summaries.

``gast2023_ei`` — the RS/FS (E/I) Izhikevich network of Gast, Solla & Kennedy (PRE 2023;
:func:`hetfit.models.presets.gast2023_ei`, 500 + 500 neurons by default) with Lorentzian spike
thresholds drawn at random per network (``sampling="random"``: every simulated network, like
every real one, is one finite sample of its cell types).  Inferred by default:

=============  ======  ================================  ======================
parameter      unit    meaning                           default prior
=============  ======  ================================  ======================
``delta_v_E``  mV      threshold half-width of RS cells   LogUniform(0.25, 2.5)
``delta_v_I``  mV      threshold half-width of FS cells   LogUniform(0.25, 2.5)
``I_E``        pA      mean drive of RS cells (nuisance)  Uniform(40, 60)
=============  ======  ================================  ======================

The FS drive is fixed at the authors' 10 pA unless ``drive_i_range`` is given (e.g.
``(0, 20)``).  It is fixed by default for a measured reason: at these drives about 90% of FS
cells stay below threshold, so the FS width shows mainly in the fraction of FS cells that
fire — and a stronger FS drive raises that fraction just as a wider threshold distribution
does.  With both free, Delta_v(I) and the FS drive trade off along a ridge: at the default
budget Delta_v(I) is recovered to ~17% and the FS drive to ~32%, against 13% for Delta_v(I)
with the drive known (``benchmarks/RESULTS.md``, inference section).  The width range is the span Gast et al. explore; the RS drive range
brackets their 50 pA.

Observation: ``observe_silent=False`` (default) sees only units that fire, as spike sorting
does; ``observe_silent=True`` lists every cell, silent ones included (imaging, patch data,
simulations) and adds the fraction of cells that fire to the summaries — needed to recover
Delta_v(I) in this regime (see :mod:`hetfit.inference.summaries`).  Summaries are per
population (units labelled ``E…`` / ``I…``) over a 1 s analysis window after a 200 ms
transient.

:func:`problem_from_spec` builds a problem from ``"gast2023_ei"``,
``"gast2023_ei:n_e=400,duration_ms=1000"`` or a JSON file ``{"problem": "gast2023_ei",
"options": {...}}``, optionally matched to a recording (its duration and its number of
units per population), which is what ``hetfit fit`` does.
"""

from __future__ import annotations

import inspect
import json
import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from hetfit.errors import InputFileError, InsufficientDataError, ParameterError, SchemaError
from hetfit.inference.priors import ParameterPrior, Prior
from hetfit.inference.simulator import NetworkSimulator
from hetfit.inference.simulator import check_recording_matches as check_recording_matches
from hetfit.inference.summaries import SummarySpec, TraceSpec, observed_units
from hetfit.models.presets import gast2023_ei

# Longest recording window turned into a simulation length automatically (ms).
MAX_AUTO_DURATION_MS = 20_000.0


@dataclass(frozen=True)
class Check:
    """Range of a model option, declared in the problem function's signature with
    ``Annotated`` (see :func:`validate_options`): ``gt``/``ge`` bound a number, ``increasing``
    asks a ``(low, high)`` pair for ``low < high``."""

    gt: float | None = None
    ge: float | None = None
    increasing: bool = False

    def ok(self, value: Any) -> bool:
        if self.increasing:
            return value[0] < value[1]
        return ((self.gt is None or value > self.gt)
                and (self.ge is None or value >= self.ge))

    def describe(self) -> str:
        if self.increasing:
            return "with low < high"
        return " and ".join(f"{op} {b:g}" for op, b in ((">", self.gt), (">=", self.ge))
                            if b is not None)


# Option types of problem functions: the signature is the schema of a model spec.
Count = Annotated[int, Check(ge=1)]
Positive = Annotated[float, Check(gt=0)]
NonNegative = Annotated[float, Check(ge=0)]
Interval = Annotated[tuple[float, float], Check(increasing=True)]


def ei_width_problem(
    n_e: Count = 500,
    n_i: Count = 500,
    delta_v_range: Interval = (0.25, 2.5),
    drive_e_range: Interval | None = (40.0, 60.0),
    drive_i_range: Interval | None = None,
    duration_ms: Positive = 1000.0,
    transient_ms: NonNegative = 200.0,
    dt_ms: Positive = 0.1,
    units_per_population: dict[str, Count] | None = None,
    pooled: bool = False,
    observe_silent: bool = False,
    raw_traces: bool = False,
    trace_bin_ms: Positive = 5.0,
    width_scale: Literal["log", "linear"] = "log",
    summaries: SummarySpec | TraceSpec | None = None,
    n_threads: Count | None = None,
) -> tuple[NetworkSimulator, Prior]:
    """Simulator and prior for the widths of the E/I network (see the module docstring).

    Parameters
    ----------
    n_e, n_i:
        Neurons per population.
    delta_v_range:
        Prior range of both threshold half-widths (mV).
    drive_e_range, drive_i_range:
        Prior ranges of the drives (pA); ``None`` fixes the drive at the preset value
        (50 / 10 pA) instead of inferring it.
    duration_ms, transient_ms:
        Analysis window length and discarded initial transient (ms).
    dt_ms:
        Integration step (ms).
    units_per_population:
        Active units observed per population (match the recording), ``None`` = all active.
    pooled:
        Pool E and I units in the summaries (recordings without cell-type labels).
    observe_silent:
        Every recorded cell is listed, silent ones included (imaging, patch data,
        simulations); adds the fraction of cells that fire to the summaries.  The default
        (``False``) sees only units that fire, as spike sorting does.
    raw_traces, trace_bin_ms:
        Use the binned population-rate traces themselves (``trace_bin_ms`` bins) instead of
        summary statistics, for an embedding network
        (``EstimatorConfig(embedding="cnn", embedding_channels=2)``).
    width_scale:
        ``"log"`` (log-uniform width prior, default) or ``"linear"``.
    summaries:
        A custom :class:`SummarySpec` (overrides ``units_per_population``/``pooled``).
    """
    # Drives enter as per-set offsets on a zero base drive (the batch kernel's input
    # waveform is shared by all sets; offsets are per set).
    base_e = 50.0 if drive_e_range is None else 0.0
    base_i = 10.0 if drive_i_range is None else 0.0
    net = gast2023_ei(n_e=n_e, n_i=n_i, I_e=base_e, I_i=base_i, sampling="random")
    params = [ParameterPrior("delta_v_E", *delta_v_range, unit="mV", scale=width_scale),
              ParameterPrior("delta_v_I", *delta_v_range, unit="mV", scale=width_scale)]
    mapping = {"delta_v_E": "E.v_theta.width", "delta_v_I": "I.v_theta.width"}
    if drive_e_range is not None:
        params.append(ParameterPrior("I_E", *drive_e_range, unit="pA", kind="nuisance"))
        mapping["I_E"] = "E.I_offset"
    if drive_i_range is not None:
        params.append(ParameterPrior("I_I", *drive_i_range, unit="pA", kind="nuisance"))
        mapping["I_I"] = "I.I_offset"
    if summaries is None and raw_traces:
        summaries = TraceSpec(window_ms=duration_ms, bin_ms=trace_bin_ms,
                              populations=None if pooled else ("E", "I"),
                              units_per_population=units_per_population,
                              observe_silent=observe_silent)
    elif summaries is None:
        summaries = SummarySpec(populations=None if pooled else ("E", "I"),
                                units_per_population=units_per_population,
                                observe_silent=observe_silent)
    sim = NetworkSimulator(net, mapping, summaries, t_max_ms=transient_ms + duration_ms,
                           t_transient_ms=transient_ms, dt_ms=dt_ms, n_threads=n_threads)
    return sim, Prior(tuple(params))


PROBLEMS: dict[str, Callable[..., tuple[NetworkSimulator, Prior]]] = {
    "gast2023_ei": ei_width_problem,
}


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _split_options(text: str) -> list[str]:
    """Split ``a=1,b=[2,3]`` at commas outside brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


class _Mismatch(Exception):
    """A value does not fit an option type (internal: turned into a ParameterError)."""


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` (as parsed from JSON) converted to the type ``hint``, or :class:`_Mismatch`.

    Strict on purpose: ``"500"`` is not an integer and ``"true"`` not a boolean, so a
    misquoted spec is refused instead of silently meaning something else."""
    origin = get_origin(hint)
    if origin is Annotated:
        base, *checks = get_args(hint)
        value = _coerce(value, base)
        if not all(c.ok(value) for c in checks if isinstance(c, Check)):
            raise _Mismatch
        return value
    if origin in (Union, types.UnionType):
        for arm in get_args(hint):
            try:
                return _coerce(value, arm)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in get_args(hint)):
            return value
        raise _Mismatch
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise _Mismatch
        return tuple(_coerce(v, a) for v, a in zip(value, args))
    if origin is dict:
        key_t, val_t = get_args(hint)
        if not isinstance(value, dict):
            raise _Mismatch
        return {_coerce(k, key_t): _coerce(v, val_t) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is type(None):
        if value is None:
            return None
        raise _Mismatch
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if isinstance(value, bool):  # JSON true/false is not a number
        raise _Mismatch
    if hint is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)  # 4.0 or 1e3 from JSON
        raise _Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        raise _Mismatch
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise _Mismatch


def _describe(hint: Any) -> str:
    """What an option of type ``hint`` must be, in words."""
    origin = get_origin(hint)
    if origin is Annotated:
        base, *checks = get_args(hint)
        return " ".join([_describe(base)] + [c.describe() for c in checks
                                             if isinstance(c, Check)])
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in get_args(hint))
    if origin is tuple:
        return f"a list [low, high] of {len(get_args(hint))} numbers"
    if origin is dict:
        return f"an object {{name: {_describe(get_args(hint)[1])}}}"
    names = {type(None): "null", bool: "true or false", int: "an integer",
             float: "a finite number", str: "text"}
    if hint in names:
        return names[hint]
    return f"a {getattr(hint, '__name__', hint)}"


def _option_types(fn: Callable[..., Any]) -> dict[str, Any]:
    """Option name -> type of a problem function: its annotation, else its default's type."""
    hints = get_type_hints(fn, include_extras=True)
    out = {}
    for name, par in inspect.signature(fn).parameters.items():
        if par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
            continue
        default = par.default
        out[name] = hints.get(name, Any if default in (par.empty, None) else type(default))
    return out


def validate_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Check the options of problem ``name`` against its function's signature, before
    anything is built: unknown keys, types (from the annotations or defaults) and the ranges
    declared with :class:`Check`.  Returns the options converted (lists to tuples, 4.0 to 4).
    """
    fn = PROBLEMS[name]
    types_ = _option_types(fn)
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items()}
    out = {}
    for key, value in options.items():
        if key not in types_:
            raise ParameterError(
                f"unknown option {key!r} for model {name!r}",
                hint=f"options of {name}: {', '.join(types_)}")
        try:
            out[key] = _coerce(value, types_[key])
        except _Mismatch:
            try:
                got = json.dumps(value)
            except (TypeError, ValueError):
                got = repr(value)
            example = defaults.get(key)
            if example in (None, inspect.Parameter.empty):
                example = _example(types_[key])
            if _fits_unquoted(value, types_[key]):
                hint = "write numbers and true/false without quotes"
            elif example is None:  # an object option: only settable from Python
                hint = f"leave it out, or set it from Python ({fn.__module__}.{fn.__name__})"
            else:
                hint = "e.g. --model {}:{}={}".format(
                    name, key, json.dumps(example, separators=(",", ":")))
            raise ParameterError(
                f"model option {key!r} must be {_describe(types_[key])}, got {got[:80]}",
                hint=hint) from None
    return out


def _json_type(value: Any) -> str:
    return {list: "list", dict: "object", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _fits_unquoted(value: Any, hint: Any) -> bool:
    """Whether a text value would be valid without its quotes (``"500"``, ``"true"``)."""
    if not isinstance(value, str):
        return False
    try:
        _coerce(json.loads(value), hint)
    except (ValueError, _Mismatch):
        return False
    return True


def _example(hint: Any) -> Any:
    """The default of an option type, for a hint (the first non-null arm of a union)."""
    origin = get_origin(hint)
    if origin is Annotated:
        return _example(get_args(hint)[0])
    if origin in (Union, types.UnionType):
        return _example(next(a for a in get_args(hint) if a is not type(None)))
    if origin is Literal:
        return get_args(hint)[0]
    if origin is tuple:
        return [1.0, 2.0]
    if origin is dict:
        return {"E": 10}
    return {bool: True, int: 100, float: 1.0, str: "text"}.get(hint)


def parse_model_spec(spec: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``"name"``, ``"name:key=value,..."``, a JSON file path, or a dict -> (name, options).

    The options are checked against the problem function's signature
    (:func:`validate_options`) so that a wrong key, type or range is one clear error up
    front, not a failure deep inside the simulator."""
    if isinstance(spec, dict):
        d = dict(spec)
        where = "model spec"
    elif str(spec).lower().endswith(".json"):
        p = Path(spec).expanduser()
        if not p.is_file():
            raise InputFileError(f"model spec file not found: {p}")
        try:
            d = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"model spec {p} cannot be read: {exc}") from exc
        except ValueError as exc:
            raise InputFileError(f"model spec {p} is not valid JSON: {exc}") from exc
        where = f"model spec {p}"
        if not isinstance(d, dict):
            raise SchemaError(
                f"{where} holds a JSON {_json_type(d)}, not an object",
                hint='write {"problem": "gast2023_ei", "options": {"n_e": 400}}')
    else:
        name, _, rest = str(spec).partition(":")
        opts: dict[str, Any] = {}
        for item in filter(None, (s.strip() for s in _split_options(rest))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ParameterError(f"bad model option {item!r}", hint="use key=value")
            if key.strip() in opts:
                raise ParameterError(f"model option {key.strip()!r} is given twice")
            opts[key.strip()] = _parse_value(value.strip())
        d = {"problem": name.strip(), "options": opts}
        where = "model spec"
    extra = sorted(set(d) - {"problem", "options"}, key=str)
    if extra:
        raise SchemaError(f"{where} has unknown key(s) {extra}",
                          hint='a model spec has only "problem" and "options"')
    name = d.get("problem")
    if name is None:
        raise SchemaError(f'{where} does not name its "problem"',
                          hint=f'add "problem": one of {sorted(PROBLEMS)}')
    if not isinstance(name, str) or name not in PROBLEMS:
        raise ParameterError(f"unknown model {name!r}", hint=f"available: {sorted(PROBLEMS)}")
    opts = d.get("options")
    if opts is None:
        opts = {}
    if not isinstance(opts, dict):
        raise SchemaError(
            f'"options" of the {where} must be a JSON object, got a {_json_type(opts)}',
            hint='e.g. "options": {"n_e": 400, "n_i": 400}')
    return name, validate_options(name, opts)


def problem_from_spec(spec: str | dict[str, Any], recording: Any = None,
                      n_threads: int | None = None) -> tuple[NetworkSimulator, Prior]:
    """Build a named problem; with ``recording``, match its analysis window length and its
    active units per population (unless the spec sets them)."""
    name, opts = parse_model_spec(spec)
    if n_threads is not None:
        opts.setdefault("n_threads", n_threads)
    if recording is not None:
        length = float(recording.t_stop_ms - recording.t_start_ms)
        if "duration_ms" not in opts and length > MAX_AUTO_DURATION_MS:
            raise ParameterError(
                f"the recording window is {length / 1e3:g} s long; every training "
                f"simulation would have to run that long (limit {MAX_AUTO_DURATION_MS / 1e3:g} "
                "s)", hint="analyse a window (e.g. --window-ms 2000), or check the time unit "
                "(--time-unit) if the recording should be shorter")
        dt = float(opts.get("dt_ms", 0.1))
        # whole number of integration steps (the recording window is cut to match)
        dur = round(math.floor(float(recording.t_stop_ms - recording.t_start_ms) / dt + 1e-6)
                    * dt, 9)
        if "duration_ms" not in opts and dur <= 0:
            raise ParameterError(
                f"model option 'dt_ms' ({dt:g} ms) is longer than the recording window "
                f"({length:g} ms)", hint=f"use a smaller step, e.g. --model {name}:dt_ms=0.1")
        opts.setdefault("duration_ms", dur)
        pops = None if opts.get("pooled") else ("E", "I")
        try:
            units = observed_units(recording, pops, bool(opts.get("observe_silent")))
        except SchemaError as exc:
            raise SchemaError(
                exc.message, hint="label units by population (unit ids 'E…'/'I…') or add "
                "pooled=true to the model spec (e.g. --model gast2023_ei:pooled=true)"
            ) from exc
        sizes = {"E": int(opts.get("n_e", 500)), "I": int(opts.get("n_i", 500))}
        sizes["all"] = sizes["E"] + sizes["I"]
        for p, n in units.items():
            if n < 2:
                raise InsufficientDataError(
                    f"the recording has {n} observed unit(s) in population {p}; the summaries "
                    "need at least 2", hint="use a recording with more units, or pooled=true")
            if n > sizes[p]:
                raise ParameterError(
                    f"the recording has {n} units in population {p} but the model "
                    f"has only {sizes[p]} neurons there",
                    hint=f"enlarge the model, e.g. --model {name}:n_e=...,n_i=...")
        opts.setdefault("units_per_population", units)
    try:
        return PROBLEMS[name](**opts)
    except TypeError as exc:
        raise ParameterError(f"bad options for model {name!r}: {exc}") from exc
