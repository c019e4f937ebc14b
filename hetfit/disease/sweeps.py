"""Heterogeneity-loss sweeps: what happens to synchrony and resilience as a width shrinks.

A sweep takes one heterogeneity width of a model (an excitability spread sigma_h, a
threshold half-width Delta_v of the E or the I population, the spread of drives or of
partial resets), sets it to each value of a grid running from 0 through the measured value
to above it, and measures the model at every value, over several network seeds:

* :func:`rate_network_sweep` -- the rate network of Hutt et al. (seed 002): resilience
  distance D and return time after a large random perturbation (Eq. 22 protocol), fraction
  of realizations that do not return, spectral radius of the Jacobian at the fixed point
  (numerical, and Eq. 19), expected number of equilibria (Eq. 20);
* :func:`izhikevich_sweep` -- a heterogeneous Izhikevich network (E/I or single
  population): Golomb's chi, Kuramoto order parameter, spectral peak of the population rate,
  rate and CV of ISI per population, the width below which the network synchronizes;
* :func:`synchrony_regimes` -- one such sweep per drive level, classified: where does losing
  heterogeneity raise synchrony, where does it not;
* :func:`step_response_sweep` -- the same network under a sudden step of input (Rich et al.
  2022 protocol): synchrony and rate after the step minus before;
* :func:`rich2022_step_sweep` -- the network of Rich et al. 2022 with its sudden input step;
* :func:`meanfield_sweep` -- the Izhikevich mean field (Gast, Solla & Kennedy): width of the
  bistable (hysteresis) range of a drive, steady-state rates, whether the asynchronous state
  is stable and the amplitude of macroscopic oscillations;

Every sweep returns a :class:`Sweep`: the grid of widths (with their unit), one
:class:`Curve` per measure (all replicate values, mean and a confidence interval over
replicates, and the *engine* that produced it: ``"network"``, ``"mean field"`` or
``"theory"``), transitions and notes.  Replicates at different widths share their seeds
(common random numbers: the same graph and the same standardized draws, scaled), so
differences along the grid are not sampling noise of the realizations.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import ParameterError, SimulationError
from hetfit.seeding import SeedLike, child_seeds

__all__ = [
    "Curve",
    "Regime",
    "Sweep",
    "Transition",
    "izhikevich_sweep",
    "meanfield_sweep",
    "rate_network_sweep",
    "rich2022_step_sweep",
    "step_response_sweep",
    "synchrony_regimes",
    "synchrony_verdict",
    "transition_width",
]


# ---------------------------------------------------------------------------------------
# plain results
# ---------------------------------------------------------------------------------------
@dataclass
class Curve:
    """One measure along a sweep.

    Attributes
    ----------
    name:
        Measure name, e.g. ``"chi_E"`` or ``"distance_D"``.
    unit:
        Unit of the values (``""`` when dimensionless).
    engine:
        What computed it: ``"network"`` (simulation of the network), ``"mean field"`` or
        ``"theory"`` (closed-form expression).
    values:
        Replicate values, shape ``(n_widths, n_replicates)``; NaN where a replicate failed
        (diverged, did not settle, too few spikes).
    level:
        Confidence level of :attr:`low`/:attr:`high`.
    """

    name: str
    unit: str
    engine: str
    values: np.ndarray
    level: float = 0.95

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=np.float64)
        self.values = v.reshape(v.shape[0], -1) if v.ndim != 2 else v

    @property
    def n_valid(self) -> np.ndarray:
        return np.sum(np.isfinite(self.values), axis=1)

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore"), _quiet_nan():
            return np.nanmean(self.values, axis=1)

    def _half_width(self) -> np.ndarray:
        from scipy import stats

        n = self.n_valid
        with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan():
            sd = np.nanstd(self.values, axis=1, ddof=1)
            t = stats.t.ppf(0.5 + self.level / 2.0, np.maximum(n - 1, 1))
            hw = t * sd / np.sqrt(n)
        return np.where(n >= 2, hw, np.where(n == 1, 0.0, np.nan))

    @property
    def low(self) -> np.ndarray:
        """Lower end of the t-interval of the mean over replicates (the mean itself for one)."""
        return self.mean - self._half_width()

    @property
    def high(self) -> np.ndarray:
        return self.mean + self._half_width()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "unit": self.unit, "engine": self.engine, "level": self.level,
            "mean": self.mean, "low": self.low, "high": self.high, "n_valid": self.n_valid,
            "values": self.values,
        }


@contextlib.contextmanager
def _quiet_nan():
    """Silence numpy's 'mean of empty slice' warnings (empty rows are meant to give NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        yield


@dataclass(frozen=True)
class Transition:
    """Where a measure crosses a threshold along the width axis.

    ``width`` is the largest width at which the curve's mean crosses ``threshold`` (linear
    interpolation between grid points), i.e. the heterogeneity below which the measure stays
    on the ``side`` of the threshold; ``None`` when the curve never crosses it.
    """

    measure: str
    threshold: float
    width: float | None
    side: str  # "above" (e.g. synchronous at low widths) or "below"
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure, "threshold": self.threshold, "width": self.width,
                "side": self.side, "rule": self.rule}


@dataclass
class Sweep:
    """Result of a heterogeneity sweep.

    Attributes
    ----------
    model:
        ``"rate_network"``, ``"izhikevich"``, ``"izhikevich_meanfield"``, ``"rich2022"``.
    parameter:
        The width that was varied, e.g. ``"E.v_theta"`` (threshold half-width of E) or
        ``"sigma_h"``.
    widths:
        Grid of widths (``unit``), ascending.
    reference_width:
        The measured (or the model's default) width, i.e. scale 1, if given.
    curves:
        Measures by name.
    transitions:
        Transitions by measure name (see :func:`transition_width`).
    notes:
        Caveats in words (failed replicates, regimes, where engines part).
    meta:
        Settings (durations, seeds, model parameters).
    """

    model: str
    parameter: str
    widths: np.ndarray
    unit: str
    curves: dict[str, Curve]
    reference_width: float | None = None
    transitions: dict[str, Transition] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def scales(self) -> np.ndarray | None:
        """Widths relative to the reference width (None without one)."""
        if not self.reference_width:
            return None
        return self.widths / float(self.reference_width)

    def curve(self, name: str) -> Curve:
        if name not in self.curves:
            raise ParameterError(f"no measure {name!r} in this sweep",
                                 hint=f"measures: {sorted(self.curves)}")
        return self.curves[name]

    def at(self, name: str, width: float | np.ndarray) -> np.ndarray:
        """Mean of measure ``name`` interpolated at ``width`` (NaN outside the grid)."""
        c = self.curve(name)
        m = c.mean
        ok = np.isfinite(m)
        if ok.sum() < 2:
            return np.full(np.shape(width), np.nan)
        return np.interp(width, self.widths[ok], m[ok], left=np.nan, right=np.nan)

    def trend(self, name: str) -> dict[str, float]:
        """Spearman rank correlation of a measure with the width (all replicate values).

        ``rho < 0``: the measure falls as heterogeneity rises.  Also the means at the
        smallest and the largest width.
        """
        from scipy import stats

        c = self.curve(name)
        x = np.repeat(self.widths, c.values.shape[1])
        y = c.values.ravel()
        ok = np.isfinite(y)
        m = c.mean
        out = {"rho": math.nan, "p_value": math.nan, "n": int(ok.sum()),
               "mean_at_min_width": float(m[0]), "mean_at_max_width": float(m[-1])}
        if ok.sum() >= 3 and np.ptp(y[ok]) > 0:
            r = stats.spearmanr(x[ok], y[ok])
            out["rho"], out["p_value"] = float(r[0]), float(r[1])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "parameter": self.parameter, "unit": self.unit,
            "widths": self.widths, "reference_width": self.reference_width,
            "scales": self.scales,
            "curves": {k: v.to_dict() for k, v in self.curves.items()},
            "trends": {k: self.trend(k) for k in self.curves},
            "transitions": {k: v.to_dict() for k, v in self.transitions.items()},
            "notes": list(self.notes), "meta": self.meta,
        }

    def to_frame(self):
        """Long table: one row per width and measure (mean, CI, engine)."""
        import pandas as pd

        rows = []
        for name, c in self.curves.items():
            for i, w in enumerate(self.widths):
                rows.append({"width": float(w), "measure": name, "unit": c.unit,
                             "engine": c.engine, "mean": float(c.mean[i]),
                             "low": float(c.low[i]), "high": float(c.high[i]),
                             "n_valid": int(c.n_valid[i])})
        return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _widths(widths: Any, what: str = "widths") -> np.ndarray:
    w = np.asarray(widths, dtype=np.float64).ravel()
    if w.size < 2:
        raise ParameterError(f"a sweep needs at least 2 {what}, got {w.size}",
                             hint="e.g. widths=np.linspace(0, 2 * measured, 9)")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ParameterError(f"{what} must be finite and >= 0",
                             hint="a width is a spread (SD or half-width)")
    if np.any(np.diff(w) <= 0):
        raise ParameterError(f"{what} must be strictly increasing")
    return w


def _count(n: Any, what: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or int(n) != n or n < minimum:
        raise ParameterError(f"{what} must be an integer >= {minimum}, got {n}")
    return int(n)


def transition_width(
    widths: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    threshold: float | None = None,
    *,
    side: str = "above",
    min_range: float = 0.0,
    measure: str = "",
) -> Transition:
    """Largest width at which ``values`` crosses ``threshold``.

    Parameters
    ----------
    widths, values:
        The curve (ascending widths; NaN values are skipped).
    threshold:
        Crossing level; default the midpoint between the curve's smallest and largest value.
    side:
        ``"above"``: the measure is above the threshold at small widths (synchrony that
        heterogeneity removes) and the returned width is where it falls below for good;
        ``"below"``: the reverse.
    min_range:
        If the curve's range (max - min) is smaller, no transition is reported (a midpoint of
        a flat curve is meaningless).
    """
    if side not in ("above", "below"):
        raise ParameterError(f"side must be 'above' or 'below', got {side!r}")
    x = np.asarray(widths, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    rule = "midpoint of the curve's range" if threshold is None else "given threshold"
    if x.size < 2:
        return Transition(measure, math.nan if threshold is None else float(threshold), None,
                          side, rule)
    lo, hi = float(y.min()), float(y.max())
    thr = 0.5 * (lo + hi) if threshold is None else float(threshold)
    if hi - lo < min_range:
        return Transition(measure, thr, None, side, f"{rule}; range {hi - lo:.3g} < {min_range}")
    s = (y - thr) if side == "above" else (thr - y)
    # last index where the curve is on the `side` of the threshold, followed by a point that
    # is not: the crossing between them
    on = s > 0
    idx = np.flatnonzero(on[:-1] & ~on[1:])
    if idx.size == 0:
        return Transition(measure, thr, None, side, rule)
    i = int(idx[-1])
    x0, x1, s0, s1 = x[i], x[i + 1], s[i], s[i + 1]
    w = x0 + (x1 - x0) * s0 / (s0 - s1) if s0 != s1 else x0
    return Transition(measure, thr, float(w), side, rule)


# ---------------------------------------------------------------------------------------
# Hutt et al. rate network
# ---------------------------------------------------------------------------------------
def rate_network_sweep(
    sigma_h: Sequence[float] | np.ndarray,
    *,
    spec: Any = None,
    n_trials: int = 20,
    n_realizations: int = 10,
    seed: SeedLike = 0,
    amplitude: float = 500.0,
    t_max: float = 500.0,
    reference_width: float | None = None,
    level: float = 0.95,
) -> Sweep:
    """Resilience and stability of the Hutt et al. rate network along excitability spreads.

    Parameters
    ----------
    sigma_h:
        Excitability standard deviations sigma_h (dimensionless, the model's unit), ascending.
    spec:
        :class:`~hetfit.models.rate_network.RateNetworkSpec`; default the paper's Fig. 2
        network (N = 100, rho = 0.05, g = 0.8, beta = 25) with the odd nonlinearity its theory
        assumes (``rate_offset = 0.5``).
    n_trials:
        Realizations per width for the Eq. 22 resilience protocol (the paper used 400).
    n_realizations:
        Realizations per width for the numerical spectral radius.
    seed:
        Root seed; trial k uses the same child seed at every width (common random numbers).
    amplitude, t_max:
        Perturbation half-range (500 in the paper) and the longest relaxation (time units of
        the model) before a trial counts as not settled.

    Returns
    -------
    Sweep
        Curves ``distance_D``, ``return_time``, ``not_resilient`` (1 when the trial did not
        come back to a stationary state or came back to another one, D >= 1e-3),
        ``no_stationary_state`` (1 when even the unperturbed network did not settle: the
        chaotic regime above the May-Wigner transition), ``spectral_radius`` (numerical, at
        the fixed point) -- all engine ``"network"`` -- and ``spectral_radius_eq19`` and
        ``expected_equilibria_eq20`` (engine ``"theory"``).
    """
    from hetfit.models import rate_theory as rt
    from hetfit.models.rate_network import RateNetworkSpec

    w = _widths(sigma_h, "sigma_h values")
    n_trials = _count(n_trials, "n_trials", 2)
    n_realizations = _count(n_realizations, "n_realizations", 1)
    if spec is None:
        spec = RateNetworkSpec(rate_offset=0.5)
    if not isinstance(spec, RateNetworkSpec):
        raise ParameterError("spec must be a hetfit.models.rate_network.RateNetworkSpec")
    root = int(child_seeds(seed, 1)[0])
    rseeds = child_seeds(root + 1, n_realizations)
    D = np.full((w.size, n_trials), np.nan)
    RT = np.full_like(D, np.nan)
    NR = np.full_like(D, np.nan)
    NS = np.full_like(D, np.nan)
    rad = np.full((w.size, n_realizations), np.nan)
    n_fp_fail = 0
    for i, s in enumerate(w):
        sp = spec.with_sigma_h(float(s))
        res = rt.resilience_distance(sp, n_trials=n_trials, seed=root, amplitude=amplitude,
                                     t_max=t_max)
        D[i] = res.distance
        RT[i] = res.return_time
        ref = res.settled_before
        NS[i] = np.where(ref, 0.0, 1.0)
        not_back = ref & ~res.settled_after
        far = np.isfinite(res.distance) & (res.distance >= 1e-3)
        NR[i] = np.where(ref, (not_back | far).astype(float), np.nan)
        for k, rs in enumerate(rseeds):
            net = sp.build(int(rs))
            try:
                u = net.fixed_point()
            except SimulationError:
                n_fp_fail += 1
                continue
            rad[i, k] = net.spectral_radius(u)
    curves = {
        "distance_D": Curve("distance_D", "", "network", D, level),
        "return_time": Curve("return_time", "relaxation times", "network", RT, level),
        "not_resilient": Curve("not_resilient", "fraction", "network", NR, level),
        "no_stationary_state": Curve("no_stationary_state", "fraction", "network", NS, level),
        "spectral_radius": Curve("spectral_radius", "", "network", rad, level),
    }
    notes = []
    try:
        tp = rt.theory_parameters(spec)
    except ParameterError as exc:
        notes.append(f"theory curves omitted: {exc.one_line()}")
    else:
        g19 = rt.spectral_radius(w**2, **tp)
        curves["spectral_radius_eq19"] = Curve("spectral_radius_eq19", "", "theory", g19, level)
        curves["expected_equilibria_eq20"] = Curve(
            "expected_equilibria_eq20", "", "theory",
            rt.expected_equilibria_from_radius(g19, tp["n"], "eq20"), level)
        crit = rt.critical_heterogeneity(**tp, method="exact")
        notes.append(
            f"critical heterogeneity (Gamma = 1, Eq. 19): sigma_h = {math.sqrt(crit):.4g} "
            f"(sigma_h^2 = {crit:.3g})"
        )
    if n_fp_fail:
        notes.append(f"{n_fp_fail} realization(s) without a fixed point found (spectral radius NaN)")
    unsettled = int(np.sum(NS == 1.0))
    if unsettled:
        notes.append(
            f"{unsettled} of {NS.size} trials never reached a stationary state before the "
            "perturbation (chaotic regime); they count in no_stationary_state, not in D"
        )
    sw = Sweep(
        model="rate_network", parameter="sigma_h", widths=w, unit="", curves=curves,
        reference_width=reference_width, notes=notes,
        meta={"spec": spec.to_dict(), "n_trials": n_trials, "n_realizations": n_realizations,
              "amplitude": amplitude, "t_max": t_max, "seed": seed},
    )
    sw.transitions["spectral_radius"] = transition_width(
        w, sw.curves["spectral_radius"].mean, 1.0, side="above",
        measure="spectral_radius")
    return sw


# ---------------------------------------------------------------------------------------
# Izhikevich networks
# ---------------------------------------------------------------------------------------
def _network_measures(
    res: Any, populations: Sequence[str], t_start_ms: float, t_stop_ms: float, tau_ms: float,
    segment_ms: float,
) -> dict[str, float]:
    """Synchrony, spectrum and rate measures of one SpikeResult in a window."""
    from hetfit import measures as m

    out: dict[str, float] = {}
    for p in populations:
        kw = m.spike_arrays(res, p)
        kw["t_start_ms"], kw["t_stop_ms"] = float(t_start_ms), float(t_stop_ms)
        n_sp = int(np.count_nonzero((kw["times_ms"] >= t_start_ms) & (kw["times_ms"] < t_stop_ms)))
        dur_s = (t_stop_ms - t_start_ms) / 1e3
        out[f"rate_{p}"] = n_sp / kw["n_units"] / dur_s
        out[f"chi_{p}"] = m.spike_train_chi(**kw, tau_ms=tau_ms)
        out[f"order_{p}"] = m.kuramoto_order(**kw, min_spikes=3)
        seg = min(segment_ms, t_stop_ms - t_start_ms)
        sp = m.rate_spectrum(**kw, bin_ms=1.0, segment_ms=seg, min_freq_hz=2.0)
        out[f"peak_freq_{p}"] = float(sp.peak_frequency_hz)
        out[f"peak_to_mean_{p}"] = float(sp.peak_to_mean)
        out[f"cv_isi_{p}"] = m.mean_cv_isi(**kw)
    return out


_UNITS = {"rate": "Hz", "chi": "", "order": "", "peak_freq": "Hz", "peak_to_mean": "",
          "cv_isi": ""}


def _unit_of(name: str) -> str:
    for prefix, unit in _UNITS.items():
        if name.startswith(prefix + "_"):
            return unit
    return ""


def _check_param(net: Any, population: str, parameter: str) -> Any:
    from hetfit.models.heterogeneity import Heterogeneity

    pop = net.population(population)
    spec = getattr(pop, parameter, None)
    if parameter not in ("v_theta", "eta", "g", "theta_reset"):
        raise ParameterError(
            f"cannot sweep {parameter!r}",
            hint="sweep one of the per-neuron parameters v_theta, eta, g, theta_reset",
        )
    if not isinstance(spec, Heterogeneity):
        raise ParameterError(
            f"population {population!r}: {parameter} is homogeneous, so it has no width to sweep",
            hint=f"give it a Heterogeneity, e.g. {parameter}=Heterogeneity(center, width)",
        )
    return spec


def _run_network_grid(
    network: Any, rows: list[dict[str, float]], seeds: list[int], t_max_ms: float,
    dt_ms: float, windows: Mapping[str, tuple[float, float]], tau_ms: float, segment_ms: float,
    n_threads: int | None, chunk_size: int,
) -> tuple[list[dict[str, dict[str, float]]], int]:
    """Simulate ``rows`` (one per set) in chunks; measures per set and window."""
    from hetfit.models.batch import simulate_batch

    pops = list(network.names)
    out: list[dict[str, dict[str, float]]] = []
    n_failed = 0
    for start in range(0, len(rows), chunk_size):
        sl = slice(start, start + chunk_size)
        br = simulate_batch(network, rows[sl], t_max_ms, dt_ms, seeds=seeds[sl],
                            record_spikes=True, n_threads=n_threads)
        for j in range(len(br)):
            if br.diverged[j]:
                n_failed += 1
                out.append({})
                continue
            r = br.result(j)
            out.append({name: _network_measures(r, pops, a, b, tau_ms, segment_ms)
                        for name, (a, b) in windows.items()})
    return out, n_failed


def _grid_rows(population: str, parameter: str, widths: np.ndarray, n_seeds: int,
               extra: Mapping[str, float] | None = None) -> list[dict[str, float]]:
    rows = []
    for wv in widths:
        for _ in range(n_seeds):
            r = {f"{population}.{parameter}.width": float(wv)}
            r.update(extra or {})
            rows.append(r)
    return rows


def izhikevich_sweep(
    network: Any,
    widths: Sequence[float] | np.ndarray,
    *,
    population: str = "E",
    parameter: str = "v_theta",
    n_seeds: int = 3,
    t_max_ms: float = 2000.0,
    t_start_ms: float = 500.0,
    dt_ms: float = 0.05,
    tau_ms: float = 5.0,
    seed: SeedLike = 0,
    reference_width: float | None = None,
    sync_measure: str | None = None,
    sync_threshold: float | None = None,
    n_threads: int | None = None,
    chunk_size: int = 64,
    level: float = 0.95,
) -> Sweep:
    """Synchrony of an Izhikevich network as one heterogeneity width is varied.

    Parameters
    ----------
    network:
        :class:`~hetfit.models.izhikevich.IzhikevichNetwork` whose ``population`` has a
        :class:`~hetfit.models.heterogeneity.Heterogeneity` for ``parameter`` (its family,
        center, range and sampling are kept; only the width changes).
    widths:
        Widths to simulate, ascending (unit of the parameter: mV for ``v_theta``, pA for
        ``eta``, nS for ``g``, dimensionless for ``theta_reset``).
    population, parameter:
        Which width to vary (per population: E vs I; per parameter: threshold ``v_theta``,
        drive ``eta``, coupling ``g``, partial reset ``theta_reset``).
    n_seeds:
        Network realizations per width (the same seeds at every width).
    t_max_ms, t_start_ms, dt_ms:
        Duration, start of the analysis window (transient dropped) and integration step (ms).
    tau_ms:
        Smoothing time constant of Golomb's chi (ms).
    sync_measure, sync_threshold:
        Measure and level defining "synchronous" for :attr:`Sweep.transitions`; default
        ``chi_<population>`` and the midpoint of its range (no transition when the range is
        below 0.1).

    Returns
    -------
    Sweep
        Curves per population p: ``chi_p``, ``order_p`` (Kuramoto, spike phases),
        ``peak_freq_p`` (Hz) and ``peak_to_mean_p`` (spectral peak of the population rate
        over its mean power, 2 Hz and above), ``rate_p`` (Hz), ``cv_isi_p``; engine
        ``"network"``.
    """
    w = _widths(widths)
    n_seeds = _count(n_seeds, "n_seeds", 1)
    if not 0 <= t_start_ms < t_max_ms:
        raise ParameterError("t_start_ms must lie in [0, t_max_ms)")
    base = _check_param(network, population, parameter)
    seeds = [int(s) for s in child_seeds(seed, n_seeds)] * w.size
    rows = _grid_rows(population, parameter, w, n_seeds)
    res, n_failed = _run_network_grid(
        network, rows, seeds, t_max_ms, dt_ms, {"all": (t_start_ms, t_max_ms)}, tau_ms,
        500.0, n_threads, chunk_size)
    names = sorted({k for r in res for k in r.get("all", {})})
    curves = {}
    for name in names:
        vals = np.array([r["all"][name] if r else np.nan for r in res]).reshape(w.size, n_seeds)
        curves[name] = Curve(name, _unit_of(name), "network", vals, level)
    notes = []
    if n_failed:
        notes.append(f"{n_failed} of {len(rows)} simulations diverged and were dropped")
    notes += _network_notes(curves, w, population, n_seeds)
    sw = Sweep(
        model="izhikevich", parameter=f"{population}.{parameter}", widths=w,
        unit=_PARAM_UNITS.get(parameter, ""), curves=curves, reference_width=reference_width,
        notes=notes,
        meta={"network": network.to_dict(), "family": base.family, "n_seeds": n_seeds,
              "t_max_ms": t_max_ms, "t_start_ms": t_start_ms, "dt_ms": dt_ms, "tau_ms": tau_ms,
              "seed": seed},
    )
    key = sync_measure or f"chi_{population}"
    if key in sw.curves:
        sw.transitions[key] = _sync_transition(sw, key, sync_threshold)
    return sw


def _network_notes(curves: Mapping[str, Curve], widths: np.ndarray, population: str,
                   n_seeds: int) -> list[str]:
    """Silent widths and seed-independent (deterministic) runs, in words."""
    notes = []
    rate = curves.get(f"rate_{population}")
    if rate is not None:
        m = rate.mean
        silent = widths[np.isfinite(m) & (m < 0.5)]
        if silent.size:
            text = (f"population {population} is silent (< 0.5 Hz) at width(s) "
                    f"{', '.join(f'{x:.3g}' for x in silent)}: synchrony is undefined there")
            if silent[0] == widths[0] and silent.size < widths.size:
                text += ("; heterogeneity is what makes the network active (seed 000: below a "
                         "critical heterogeneity the rate can be too low for any oscillation)")
            else:
                text += " (the network sits in a low-activity state at those widths)"
            notes.append(text)
    chi = curves.get(f"chi_{population}")
    if chi is not None and n_seeds > 1:
        v = chi.values
        with _quiet_nan():
            spread = np.nanmax(v, axis=1) - np.nanmin(v, axis=1)
        if np.isfinite(spread).any() and np.nanmax(spread) == 0.0:
            notes.append("all seeds gave identical runs (deterministic network: quantile "
                         "thresholds, all-to-all coupling, no noise); the interval shows no "
                         "seed variability")
    return notes


def _sync_transition(sw: Sweep, key: str, threshold: float | None) -> Transition:
    """Transition to synchrony, reported only where synchrony falls with the width."""
    tr = transition_width(sw.widths, sw.curves[key].mean, threshold, side="above",
                          min_range=0.1, measure=key)
    rho = sw.trend(key)["rho"]
    if tr.width is not None and not (rho < 0):
        return Transition(key, tr.threshold, None, "above",
                          f"{tr.rule}; not reported: {key} does not fall as the width grows "
                          f"(Spearman rho = {rho:.2f})")
    return tr


_PARAM_UNITS = {"v_theta": "mV", "eta": "pA", "g": "nS", "theta_reset": ""}


def synchrony_verdict(sweep: Sweep, measure: str, *, min_effect: float = 0.1,
                      alpha: float = 0.05) -> tuple[str, dict[str, float], float]:
    """Does losing heterogeneity raise synchrony along this sweep?

    ``"loss raises synchrony"`` when ``measure`` falls significantly as the width grows
    (Spearman test over all replicate values, level ``alpha``) and its mean curve spans at
    least ``min_effect``; ``"loss lowers synchrony"`` for the reverse; otherwise
    ``"no clear effect"``.  Returns (verdict, trend, range of the mean curve).
    """
    t = sweep.trend(measure)
    m = sweep.curve(measure).mean
    rng = float(np.nanmax(m) - np.nanmin(m)) if np.isfinite(m).any() else math.nan
    verdict = "no clear effect"
    if t["p_value"] < alpha and rng >= min_effect:
        verdict = "loss raises synchrony" if t["rho"] < 0 else "loss lowers synchrony"
    return verdict, t, rng


@dataclass
class Regime:
    """How synchrony depends on a width at one drive (one row of :func:`synchrony_regimes`).

    ``verdict`` is ``"loss raises synchrony"`` (synchrony falls significantly as the width
    grows, by at least ``min_effect``), ``"loss lowers synchrony"`` (the reverse) or
    ``"no clear effect"``.
    """

    drive_pA: float
    rate_hz: float  # mean rate of the swept population over the grid
    verdict: str
    rho: float
    p_value: float
    sync_range: float
    sweep: Sweep

    def to_dict(self) -> dict[str, Any]:
        return {"drive_pA": self.drive_pA, "rate_hz": self.rate_hz, "verdict": self.verdict,
                "rho": self.rho, "p_value": self.p_value, "sync_range": self.sync_range,
                "sweep": self.sweep.to_dict()}


def synchrony_regimes(
    network: Any,
    widths: Sequence[float] | np.ndarray,
    drives_pA: Sequence[float] | np.ndarray,
    *,
    population: str = "E",
    parameter: str = "v_theta",
    drive_population: str | None = None,
    measure: str | None = None,
    min_effect: float = 0.1,
    alpha: float = 0.05,
    n_seeds: int = 3,
    t_max_ms: float = 2000.0,
    t_start_ms: float = 500.0,
    dt_ms: float = 0.05,
    tau_ms: float = 5.0,
    seed: SeedLike = 0,
    n_threads: int | None = None,
    chunk_size: int = 64,
) -> list[Regime]:
    """Where does losing heterogeneity raise synchrony?  One width sweep per drive level.

    The seeds (Gast, Solla & Kennedy; the Neuron perspective, seed 000) say: in regular-
    spiking, high-activity regimes heterogeneity desynchronizes, so its loss raises
    synchrony; at low activity heterogeneity can instead promote synchrony (by raising the
    rate).  This function measures which applies at each drive of ``drive_population``
    (default the swept population): for every drive, ``measure`` (default
    ``chi_<population>``) is swept over ``widths`` and classified by the Spearman
    correlation of all replicate values with the width (``alpha``) and the size of the
    change (``min_effect``, the range of the mean curve).

    Returns
    -------
    list of :class:`Regime`, one per drive, with its full :class:`Sweep`.
    """
    w = _widths(widths)
    drives = np.asarray(drives_pA, dtype=np.float64).ravel()
    if drives.size < 1 or not np.all(np.isfinite(drives)):
        raise ParameterError("drives_pA must be finite numbers")
    n_seeds = _count(n_seeds, "n_seeds", 1)
    if not 0 <= t_start_ms < t_max_ms:
        raise ParameterError("t_start_ms must lie in [0, t_max_ms)")
    base = _check_param(network, population, parameter)
    dpop = drive_population or population
    network.population(dpop)
    key = measure or f"chi_{population}"
    seeds = [int(s) for s in child_seeds(seed, n_seeds)] * (w.size * drives.size)
    rows = []
    for d in drives:
        rows += _grid_rows(population, parameter, w, n_seeds, {f"{dpop}.eta": float(d)})
    res, n_failed = _run_network_grid(
        network, rows, seeds, t_max_ms, dt_ms, {"all": (t_start_ms, t_max_ms)}, tau_ms,
        500.0, n_threads, chunk_size)
    per = w.size * n_seeds
    out = []
    for k, d in enumerate(drives):
        chunk = res[k * per:(k + 1) * per]
        names = sorted({m for r in chunk for m in r.get("all", {})})
        curves = {}
        for name in names:
            vals = np.array([r["all"][name] if r else np.nan for r in chunk])
            curves[name] = Curve(name, _unit_of(name), "network", vals.reshape(w.size, n_seeds))
        n_bad = sum(1 for r in chunk if not r)
        extra_notes = _network_notes(curves, w, population, n_seeds)
        sw = Sweep(
            model="izhikevich", parameter=f"{population}.{parameter}", widths=w,
            unit=_PARAM_UNITS.get(parameter, ""), curves=curves,
            notes=([f"{n_bad} simulation(s) diverged and were dropped"] if n_bad else [])
            + extra_notes,
            meta={"drive_population": dpop, "drive_pA": float(d), "family": base.family,
                  "n_seeds": n_seeds, "t_max_ms": t_max_ms, "t_start_ms": t_start_ms,
                  "dt_ms": dt_ms, "tau_ms": tau_ms, "seed": seed},
        )
        if key not in sw.curves:
            raise ParameterError(f"measure {key!r} not computed",
                                 hint=f"measures: {sorted(sw.curves)}")
        sw.transitions[key] = _sync_transition(sw, key, None)
        verdict, t, rng = synchrony_verdict(sw, key, min_effect=min_effect, alpha=alpha)
        rate_key = f"rate_{population}"
        with _quiet_nan():
            rate = float(np.nanmean(sw.curves[rate_key].values)) if rate_key in sw.curves \
                else math.nan
        out.append(Regime(float(d), rate, verdict, t["rho"], t["p_value"], rng, sw))
    return out


def step_response_sweep(
    network: Any,
    widths: Sequence[float] | np.ndarray,
    *,
    step_pA: float,
    population: str = "E",
    parameter: str = "v_theta",
    step_population: str | None = None,
    t_step_ms: float = 1000.0,
    window_ms: float = 500.0,
    n_seeds: int = 3,
    dt_ms: float = 0.05,
    tau_ms: float = 5.0,
    seed: SeedLike = 0,
    reference_width: float | None = None,
    n_threads: int | None = None,
    chunk_size: int = 64,
    level: float = 0.95,
) -> Sweep:
    """Response of an Izhikevich network to a sudden input step, along a width (Rich protocol).

    The drive of ``step_population`` (default: the swept population) jumps by ``step_pA`` at
    ``t_step_ms`` and stays there.  Measures are taken in ``[t_step - window, t_step)``
    (before) and ``[t_step + window/5, t_step + window/5 + window)`` (after, the first fifth
    of a window is skipped as the onset transient); the run lasts until the end of the
    after-window.  This is the protocol of Rich et al. (2022): how far a sudden change of input
    pushes the network towards synchrony.

    Returns
    -------
    Sweep
        For each measure m of :func:`izhikevich_sweep`: ``m_before``, ``m_after`` and
        ``delta_m`` = after - before (per replicate).
    """
    from hetfit.models.inputs import StepCurrent

    w = _widths(widths)
    n_seeds = _count(n_seeds, "n_seeds", 1)
    if not (math.isfinite(step_pA) and step_pA != 0):
        raise ParameterError(f"step_pA must be a finite, non-zero current, got {step_pA}")
    if not (window_ms > 0 and t_step_ms >= window_ms):
        raise ParameterError("need window_ms > 0 and t_step_ms >= window_ms")
    _check_param(network, population, parameter)
    target = step_population or population
    pop = network.population(target)
    base_I = pop.I_ext
    if isinstance(base_I, StepCurrent) and len(base_I.times_ms) > 1:
        raise ParameterError(
            f"population {target!r} already has a time-varying input",
            hint="give it a constant I_ext; the step is added by the sweep",
        )
    i0 = float(base_I.values_pA[0]) if isinstance(base_I, StepCurrent) else float(base_I)
    stepped = network.replace_population(
        target, I_ext=StepCurrent.steps((0.0, i0), (float(t_step_ms), i0 + float(step_pA))))
    lag = window_ms / 5.0
    t_max = t_step_ms + lag + window_ms
    seeds = [int(s) for s in child_seeds(seed, n_seeds)] * w.size
    rows = _grid_rows(population, parameter, w, n_seeds)
    windows = {"before": (t_step_ms - window_ms, t_step_ms),
               "after": (t_step_ms + lag, t_max)}
    res, n_failed = _run_network_grid(stepped, rows, seeds, t_max, dt_ms, windows, tau_ms,
                                      min(500.0, window_ms), n_threads, chunk_size)
    names = sorted({k for r in res for k in r.get("before", {})})
    curves: dict[str, Curve] = {}
    for name in names:
        b = np.array([r["before"][name] if r else np.nan for r in res]).reshape(w.size, n_seeds)
        a = np.array([r["after"][name] if r else np.nan for r in res]).reshape(w.size, n_seeds)
        unit = _unit_of(name)
        curves[f"{name}_before"] = Curve(f"{name}_before", unit, "network", b, level)
        curves[f"{name}_after"] = Curve(f"{name}_after", unit, "network", a, level)
        curves[f"delta_{name}"] = Curve(f"delta_{name}", unit, "network", a - b, level)
    notes = []
    if n_failed:
        notes.append(f"{n_failed} of {len(rows)} simulations diverged and were dropped")
    return Sweep(
        model="izhikevich", parameter=f"{population}.{parameter}", widths=w,
        unit=_PARAM_UNITS.get(parameter, ""), curves=curves, reference_width=reference_width,
        notes=notes,
        meta={"protocol": "sudden input step (Rich et al. 2022)", "step_pA": step_pA,
              "step_population": target, "t_step_ms": t_step_ms, "window_ms": window_ms,
              "n_seeds": n_seeds, "dt_ms": dt_ms, "tau_ms": tau_ms, "seed": seed,
              "network": stepped.to_dict()},
    )


# ---------------------------------------------------------------------------------------
# Izhikevich mean field
# ---------------------------------------------------------------------------------------
def meanfield_sweep(
    model: Any,
    widths: Sequence[float] | np.ndarray,
    *,
    population: str = "I",
    scan_param: str = "eta",
    scan_population: str | None = None,
    scan_values: Sequence[float] | np.ndarray | None = None,
    t_max_ms: float = 2000.0,
    t_start_ms: float = 1000.0,
    dt_ms: float = 0.01,
    reference_width: float | None = None,
) -> Sweep:
    """Mean-field sweep of a threshold half-width: bistability, steady state, oscillation.

    Parameters
    ----------
    model:
        :class:`~hetfit.models.meanfield.IzhikevichMeanField` (Lorentzian thresholds).
    widths:
        Threshold half-widths Delta_v (mV) of ``population``, ascending.
    scan_param, scan_population, scan_values:
        The drive scanned for bistability (default: ``eta`` of the swept population over
        its current value +/- 100 pA in 81 steps).  ``bistable_range`` is the width (pA) of
        the widest interval of that drive with two or more stable fixed points (0 when
        there is none): a hysteresis the network can be switched across by a transient input.
    t_max_ms, t_start_ms, dt_ms:
        Simulation from the model's default initial state, used for the oscillation
        amplitude (relative peak-to-peak of the rate after ``t_start_ms``).

    Returns
    -------
    Sweep
        Curves (engine ``"mean field"``): ``bistable_range`` (pA), ``rate_<pop>`` (Hz,
        time-averaged), ``oscillation_<pop>`` (relative peak-to-peak of the rate),
        ``n_stable_fixed_points``.
    """
    from hetfit.models.meanfield import IzhikevichMeanField

    if not isinstance(model, IzhikevichMeanField):
        raise ParameterError("model must be a hetfit.models.meanfield.IzhikevichMeanField")
    w = _widths(widths)
    if not 0 <= t_start_ms < t_max_ms:
        raise ParameterError("t_start_ms must lie in [0, t_max_ms)")
    scan_pop = scan_population or population
    names = list(model.population_names)
    if population not in names or scan_pop not in names:
        raise ParameterError(f"unknown population; the mean field has {names}")
    if scan_values is None:
        cur = float(model.params_dict()["populations"][names.index(scan_pop)][scan_param])
        scan_values = np.linspace(cur - 100.0, cur + 100.0, 81)
    scan = np.asarray(scan_values, dtype=np.float64)
    P = len(names)
    bist = np.full(w.size, np.nan)
    n_stable = np.full(w.size, np.nan)
    rates = np.full((w.size, P), np.nan)
    osc = np.full((w.size, P), np.nan)
    n_div = 0
    for i, d in enumerate(w):
        mf = model.with_param("delta_v", float(d), population=population)
        rng = mf.scan_bistability(scan_param, scan, population=scan_pop)
        bist[i] = 0.0 if rng is None else rng[1] - rng[0]
        n_stable[i] = sum(1 for fp in mf.fixed_points() if fp.stable)
        sim = mf.simulate(t_max_ms, dt_ms)
        if sim.diverged:
            n_div += 1
            continue
        keep = sim.t_ms >= t_start_ms
        r = sim.rates_hz[:, keep]
        rates[i] = r.mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            osc[i] = np.ptp(r, axis=1) / np.maximum(r.mean(axis=1), 1e-9)
    curves = {
        "bistable_range": Curve("bistable_range", "pA", "mean field", bist),
        "n_stable_fixed_points": Curve("n_stable_fixed_points", "", "mean field", n_stable),
    }
    for k, p in enumerate(names):
        curves[f"rate_{p}"] = Curve(f"rate_{p}", "Hz", "mean field", rates[:, k])
        curves[f"oscillation_{p}"] = Curve(f"oscillation_{p}", "", "mean field", osc[:, k])
    notes = []
    if n_div:
        notes.append(f"the mean field diverged at {n_div} width(s)")
    sw = Sweep(
        model="izhikevich_meanfield", parameter=f"{population}.delta_v", widths=w, unit="mV",
        curves=curves, reference_width=reference_width, notes=notes,
        meta={"mean_field": model.params_dict(), "scan_param": scan_param,
              "scan_population": scan_pop, "scan_values": scan, "t_max_ms": t_max_ms,
              "dt_ms": dt_ms},
    )
    sw.transitions["bistable_range"] = transition_width(
        w, bist, 0.0 + 1e-9, side="above", measure="bistable_range")
    return sw


# ---------------------------------------------------------------------------------------
# Rich et al. 2022
# ---------------------------------------------------------------------------------------
_RICH_UNITS = {"chi_before": "", "chi_after": "", "delta_chi": "", "rate_before_hz": "Hz",
               "rate_after_hz": "Hz", "active_before": "cells", "active_after": "cells"}


def rich2022_step_sweep(
    widths_mV: Sequence[float] | np.ndarray,
    *,
    population: str = "E",
    n_seeds: int = 3,
    seed: SeedLike = 0,
    reference_width: float | None = None,
    spec: Any = None,
    level: float = 0.95,
    **step_kwargs: Any,
) -> Sweep:
    """Sudden-input-step protocol of Rich et al. (2022) along an excitability spread.

    For every width (the SD of the per-cell excitability offsets of ``population``, mV)
    and seed, :func:`hetfit.models.rich2022.step_response` is run: E cells receive a step of
    input, and Golomb's chi of the E spike trains after the step is compared with before.
    The paper's claim: with less heterogeneity (4.4 vs 7.8 mV in epileptogenic vs
    non-epileptogenic L5 cells) the same step pushes the network further into synchrony.

    Parameters
    ----------
    widths_mV:
        ``sigma_e`` (population ``"E"``) or ``sigma_i`` (``"I"``) values in mV, ascending.
    spec:
        Base :class:`~hetfit.models.rich2022.Rich2022Spec` (default: the published network).
    step_kwargs:
        Passed to ``step_response`` (``amplitude_mv``, ``baseline_mv``, ``t_step_ms``,
        ``window_ms``, ``settle_ms``, ``tau_ms``).

    Returns
    -------
    Sweep
        Curves ``delta_chi`` (after - before), ``chi_before``, ``chi_after``,
        ``rate_before_hz``, ``rate_after_hz``, ``active_before``, ``active_after``; engine
        ``"network"``.  Runs with fewer than two active cells in a window have NaN chi.
    """
    from dataclasses import replace

    from hetfit.models.rich2022 import Rich2022Spec, step_response

    w = _widths(widths_mV)
    n_seeds = _count(n_seeds, "n_seeds", 1)
    if population not in ("E", "I"):
        raise ParameterError(f"population must be 'E' or 'I', got {population!r}")
    base = spec if spec is not None else Rich2022Spec()
    if not isinstance(base, Rich2022Spec):
        raise ParameterError("spec must be a hetfit.models.rich2022.Rich2022Spec")
    field_name = "sigma_e_mv" if population == "E" else "sigma_i_mv"
    seeds = [int(s) for s in child_seeds(seed, n_seeds)]
    vals = {k: np.full((w.size, n_seeds), np.nan) for k in _RICH_UNITS}
    n_div = 0
    for i, s in enumerate(w):
        sp = replace(base, **{field_name: float(s)})
        for j, sd in enumerate(seeds):
            out = step_response(sp, seed=sd, **step_kwargs)
            if out.get("diverged"):
                n_div += 1
                continue
            for k in vals:
                vals[k][i, j] = float(out[k])
    curves = {k: Curve(k, _RICH_UNITS[k], "network", v, level) for k, v in vals.items()}
    notes = []
    n_nan = int(np.isnan(vals["chi_before"]).sum())
    if n_nan:
        notes.append(f"{n_nan} run(s) had fewer than two active E cells before the step "
                     "(chi undefined)")
    if n_div:
        notes.append(f"{n_div} run(s) diverged and were dropped")
    sw = Sweep(model="rich2022", parameter=f"{population}.sigma", widths=w, unit="mV",
               curves=curves, reference_width=reference_width, notes=notes,
               meta={"spec": base.to_dict(), "n_seeds": n_seeds, "seed": seed,
                     "protocol": "sudden input step (Rich et al. 2022)",
                     "step": dict(step_kwargs)})
    sw.transitions["delta_chi"] = _sync_transition(sw, "delta_chi", None)
    return sw
