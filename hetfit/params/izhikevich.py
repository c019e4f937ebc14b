"""Map measured per-cell features to Izhikevich (2007) quadratic-model parameters.

Model (units: C pF, k nS/mV, v mV, u and I pA, b nS, tau_u ms, kappa pA)::

    C dv/dt     = k (v - v_r)(v - v_theta) - u + I
    tau_u du/dt = b (v - v_r) - u
    v >= v_peak:  v <- v_reset,  u <- u + kappa

Mappings and the assumption behind each (also in ``docs/params.md``):

``v_r`` <- resting potential ``v_rest_mV``
    The model rests at ``v_r`` when ``I = 0``.
``v_theta`` <- spike threshold ``v_threshold_mV``
    ``v_theta`` is the model's instantaneous threshold (the unstable fixed point at
    ``I = 0``, above which ``v`` runs away), matched to the measured threshold as in
    Izhikevich (2007, ch. 8).  Measured thresholds (dV/dt criterion) lie a little below the
    true runaway point, so this is an approximation.
``C`` <- ``tau_m / R_in``
    ``C[pF] = 1000 tau_m[ms] / R_in[MOhm]`` (the passive membrane's capacitance).
    ``capacitance="model_tau"`` instead sets ``C = tau_m k (v_theta - v_r)`` so the model's
    own membrane time constant at rest, ``C / (k (v_theta - v_r))``, equals ``tau_m``.
``k`` <- rheobase and ``v_theta - v_r``
    Steady state (``u = b (v - v_r)``): ``I_ss(v) = -k (v - v_r)(v - v_theta) + b (v - v_r)``.
    If ``b < C / tau_u`` the resting state disappears in a saddle-node at the maximum of
    ``I_ss``, so the rheobase is ``I_rh = (k dv + b)^2 / (4 k)`` with ``dv = v_theta - v_r``
    (for ``b = 0``: ``I_rh = k dv^2 / 4``, i.e. ``k = 4 I_rh / dv^2``).  If ``b >= C/tau_u``
    the rest loses stability first through an Andronov-Hopf bifurcation at
    ``v_H = (v_r + v_theta)/2 + C/(2 k tau_u)``, and ``I_rh = I_ss(v_H) =
    (k dv + C/tau_u)(k dv + 2 b - C/tau_u) / (4 k)``.  Both are solved for ``k`` in closed
    form; the result is checked by simulation in the tests.
``b`` <- sag ratio
    For a small hyperpolarising step with ``u`` slower than ``v``, the peak deflection is
    ``dI / g`` (``g = k dv``, the model's conductance at rest with ``u`` frozen) and the
    steady state ``dI / (g + b)``, so ``sag = 1 - v_ss/v_peak = b / (g + b)`` and
    ``b = g sag / (1 - sag)``.  Exact for ``tau_u >> C/g``; Allen's sag is measured at
    about -100 mV, where the quadratic model is not linear, so treat it as an estimate.
    Without a sag value ``b = b_nS`` (default 0).
``kappa`` <- adaptation index
    Calibrated by simulation: the value for which the model's adaptation index,
    ``mean((ISI_{n+1} - ISI_n)/(ISI_{n+1} + ISI_n))`` over a 1-s step of
    ``rheobase + adaptation_delta_pA``, equals the measured index (bisection per neuron).
    Without an adaptation value ``kappa = kappa_pA`` (default 100 pA, Izhikevich's RS cell).
``tau_u``, ``v_peak``, ``v_reset``
    Not identifiable from these features: defaults 100/3 ms (a = 0.03/ms), 35 mV and
    -50 mV (Izhikevich 2007, regular-spiking cell), or the mean-field convention
    ``v_peak = 1000, v_reset = -1000`` of Gast, Solla & Kennedy.  Change them to suit.

Consistency diagnostics are returned with every mapping: the model's own input resistance
``1000 / (k dv + b)`` MOhm and membrane time constant ``C / (k dv)`` ms differ from the
measured ones because the quadratic model's I-V curve is a parabola fixed by threshold and
rheobase; the ratios show by how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import ParameterError

#: Features the mapping needs (canonical names) and optional ones.
REQUIRED = ("v_rest_mV", "v_threshold_mV", "rheobase_pA", "tau_m_ms", "r_input_MOhm")
OPTIONAL = ("sag", "adaptation")

#: Model parameters with their units.
UNITS = {
    "C": "pF", "k": "nS/mV", "v_r": "mV", "v_theta": "mV", "b": "nS", "tau_u": "ms",
    "kappa": "pA", "v_peak": "mV", "v_reset": "mV",
}
SPIKE_SHAPES = {
    "izhikevich2007": (35.0, -50.0),
    "meanfield": (1000.0, -1000.0),
}


def _arr(x, n: int | None = None, name: str = "value") -> np.ndarray:
    a = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if n is not None and a.size == 1 and n != 1:
        a = np.full(n, float(a[0]))
    if n is not None and a.size != n:
        raise ParameterError(f"{name}: expected {n} values, got {a.size}")
    return a


def quadratic_rheobase(k, v_r, v_theta, b=0.0, C=None, tau_u_ms=None) -> np.ndarray:
    """Rheobase (pA) of the quadratic (Izhikevich 2007) neuron.

    ``(k dv + b)^2 / (4 k)`` (saddle-node; with ``b = 0`` it is ``k dv^2 / 4``), or, when
    ``C`` and ``tau_u_ms`` are given and ``b >= C / tau_u`` (Andronov-Hopf first),
    ``(k dv + C/tau_u)(k dv + 2 b - C/tau_u) / (4 k)``.  ``dv = v_theta - v_r`` (mV),
    ``k`` nS/mV, ``b`` nS, ``C`` pF.
    """
    k, v_r, v_theta, b = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                               for a in (k, v_r, v_theta, b)))
    dv = v_theta - v_r
    sn = (k * dv + b) ** 2 / (4.0 * k)
    if C is None or tau_u_ms is None:
        return sn
    ac = np.asarray(C, dtype=np.float64) / np.asarray(tau_u_ms, dtype=np.float64)
    hopf = (k * dv + ac) * (k * dv + 2.0 * b - ac) / (4.0 * k)
    return np.where(b < ac, sn, hopf)


def bifurcation_regime(b, C, tau_u_ms) -> np.ndarray:
    """``"saddle-node"`` where ``b < C/tau_u`` (integrator), else ``"hopf"`` (resonator)."""
    return np.where(np.asarray(b) < np.asarray(C) / np.asarray(tau_u_ms), "saddle-node", "hopf")


def k_from_rheobase(rheobase_pA, v_r, v_theta, C, tau_u_ms, b_nS=0.0, sag=None):
    """Solve the rheobase equation for ``k`` (nS/mV) in closed form.

    With ``sag`` given, ``b = k dv sag/(1 - sag)`` (see module doc) and ``b_nS`` is ignored.

    Returns
    -------
    (k, b, regime): arrays; ``k`` is NaN where no positive solution exists.
    """
    I = np.asarray(rheobase_pA, dtype=np.float64)
    dv = np.asarray(v_theta, dtype=np.float64) - np.asarray(v_r, dtype=np.float64)
    ac = np.asarray(C, dtype=np.float64) / np.asarray(tau_u_ms, dtype=np.float64)
    I, dv, ac = np.broadcast_arrays(I, dv, ac)
    with np.errstate(invalid="ignore", divide="ignore"):
        if sag is not None:
            beta = np.broadcast_to(np.asarray(sag, dtype=np.float64) /
                                   (1.0 - np.asarray(sag, dtype=np.float64)), I.shape)
            k_sn = 4.0 * I / (dv**2 * (1.0 + beta) ** 2)
            b_sn = beta * k_sn * dv
            # Hopf branch: (k dv + ac)(k dv (1 + 2 beta) - ac) = 4 k I
            qa = dv**2 * (1.0 + 2.0 * beta)
            qb = 2.0 * beta * ac * dv - 4.0 * I
            qc = -(ac**2)
            k_h = (-qb + np.sqrt(qb**2 - 4.0 * qa * qc)) / (2.0 * qa)
            b_h = beta * k_h * dv
            use_sn = b_sn < ac
            k = np.where(use_sn, k_sn, k_h)
            b = np.where(use_sn, b_sn, b_h)
        else:
            b = np.broadcast_to(np.asarray(b_nS, dtype=np.float64), I.shape).astype(float)
            disc_sn = I * (I - b * dv)
            k_sn = (2.0 * I - b * dv + 2.0 * np.sqrt(disc_sn)) / dv**2
            qb = 2.0 * b * dv - 4.0 * I
            disc_h = qb**2 - 4.0 * dv**2 * ac * (2.0 * b - ac)
            k_h = (-qb + np.sqrt(disc_h)) / (2.0 * dv**2)
            k = np.where(b < ac, k_sn, k_h)
    k = np.where(np.isfinite(k) & (k > 0) & (dv > 0) & (I > 0), k, np.nan)
    b = np.where(np.isfinite(k), b, np.nan)
    return k, b, bifurcation_regime(np.nan_to_num(b), np.broadcast_to(C, k.shape),
                                    np.broadcast_to(tau_u_ms, k.shape))


def capacitance_pF(tau_m_ms, r_input_MOhm) -> np.ndarray:
    """Membrane capacitance ``C = tau_m / R_in`` in pF (ms / MOhm = nF -> x 1000)."""
    return 1000.0 * np.asarray(tau_m_ms, dtype=np.float64) / np.asarray(r_input_MOhm,
                                                                        dtype=np.float64)


def adaptation_index(spike_times_ms) -> float:
    """``mean((ISI_{n+1} - ISI_n) / (ISI_{n+1} + ISI_n))``; NaN with fewer than 3 spikes."""
    t = np.asarray(spike_times_ms, dtype=np.float64)
    t = t[np.isfinite(t)]
    isi = np.diff(t)
    if isi.size < 2:
        return float("nan")
    return float(np.mean(np.diff(isi) / (isi[1:] + isi[:-1])))


def _adaptation_rows(spikes: np.ndarray) -> np.ndarray:
    isi = np.diff(spikes, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.diff(isi, axis=1) / (isi[:, 1:] + isi[:, :-1])
    ok = np.isfinite(r)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 1, np.where(ok, r, 0.0).sum(axis=1) / n, np.nan)


def simulate_step(params: Mapping[str, Any], current_pA, duration_ms: float = 1000.0,
                  dt_ms: float = 0.02, max_spikes: int = 400) -> dict[str, np.ndarray]:
    """Simulate every neuron of ``params`` (arrays C, k, v_r, v_theta, b, tau_u, kappa,
    v_peak, v_reset) under a step of ``current_pA`` lasting ``duration_ms`` from t = 0.

    Returns spike times (ms, NaN padded), spike counts, minimum and final voltage, and a
    ``diverged`` flag per neuron.
    """
    from hetfit.params._kernels import izhikevich_step_response

    n = _arr(params["C"]).size
    p = {name: np.ascontiguousarray(_arr(params[name], n, name)) for name in UNITS}
    cur = np.ascontiguousarray(_arr(current_pA, n, "current_pA"))
    spikes, counts, v_min, v_end, div = izhikevich_step_response(
        p["C"], p["k"], p["v_r"], p["v_theta"], p["b"], p["tau_u"], p["kappa"],
        p["v_peak"], p["v_reset"], cur, 0.0, float(duration_ms), float(duration_ms),
        float(dt_ms), int(max_spikes))
    return {"spikes": spikes, "counts": counts, "v_min": v_min, "v_end": v_end,
            "diverged": div}


#: kappa values (pA) scanned before the bisection in :func:`calibrate_kappa`.
KAPPA_GRID = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0)


def calibrate_kappa(params: Mapping[str, Any], adaptation, current_pA,
                    grid: tuple[float, ...] = KAPPA_GRID, n_iter: int = 12,
                    tolerance: float = 0.01,
                    duration_ms: float = 1000.0, dt_ms: float = 0.05
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-neuron ``kappa`` (pA) reproducing a measured adaptation index.

    The model's index is *not* monotonic in kappa: it rises from 0 (kappa = 0: regular
    firing) to a maximum and falls again when strong adaptation leaves only a few, evenly
    spaced spikes.  The smallest kappa on the rising branch that matches is used: a scan of
    ``grid`` brackets the first crossing, then bisection refines it.

    Returns
    -------
    (kappa, status, achieved): status ``"ok"`` (achieved within ``tolerance`` of the
    target); ``"closest"`` (the target is above every index the model reaches with this
    tau_u, or lies in a jump of the index where the spike count changes: the kappa with the
    closest index is used); ``"at_lower_bound"`` (target <= index at kappa = 0, so kappa = 0); or
    ``"no_spikes"`` (fewer than 3 spikes at kappa = 0: kappa is NaN).  ``achieved`` is the
    model's index at the returned kappa.
    """
    target = _arr(adaptation)
    n = target.size
    base = {name: _arr(params[name], n, name) for name in UNITS}

    def index_at(kappa):
        out = simulate_step(dict(base, kappa=np.broadcast_to(kappa, (n,)).astype(float)),
                            current_pA, duration_ms, dt_ms)
        return np.where(out["counts"] >= 3, _adaptation_rows(out["spikes"]), np.nan)

    g = np.asarray(grid, dtype=float)
    scan = np.stack([index_at(kv) for kv in g], axis=1)  # (n, len(grid))
    kappa = np.full(n, np.nan)
    status = np.full(n, "closest", dtype=object)
    lo = np.zeros(n)
    hi = np.zeros(n)
    bracketed = np.zeros(n, dtype=bool)
    for i in range(n):
        a = scan[i]
        if not np.isfinite(a[0]):
            status[i] = "no_spikes"
            continue
        if target[i] <= a[0]:
            status[i], kappa[i] = "at_lower_bound", 0.0
            continue
        for j in range(1, g.size):
            if not np.isfinite(a[j]):
                break
            if a[j] >= target[i]:
                lo[i], hi[i], bracketed[i] = g[j - 1], g[j], True
                status[i] = "ok"
                break
        if not bracketed[i]:
            finite = np.isfinite(a)
            kappa[i] = g[finite][np.argmin(np.abs(a[finite] - target[i]))]
    if bracketed.any():
        sub = {name: v[bracketed] for name, v in base.items()}
        cur = _arr(current_pA, n, "current_pA")[bracketed]
        lo_b, hi_b, t_b = lo[bracketed], hi[bracketed], target[bracketed]
        for _ in range(n_iter):
            mid = 0.5 * (lo_b + hi_b)
            out = simulate_step(dict(sub, kappa=mid), cur, duration_ms, dt_ms)
            a_mid = np.where(out["counts"] >= 3, _adaptation_rows(out["spikes"]), np.inf)
            below = a_mid < t_b
            lo_b = np.where(below, mid, lo_b)
            hi_b = np.where(below, hi_b, mid)
        kappa[bracketed] = 0.5 * (lo_b + hi_b)
    achieved = np.full(n, np.nan)
    has = np.isfinite(kappa)
    if has.any():
        sub = {name: v[has] for name, v in base.items()}
        out = simulate_step(dict(sub, kappa=kappa[has]), _arr(current_pA, n)[has],
                            duration_ms, dt_ms)
        achieved[has] = np.where(out["counts"] >= 3, _adaptation_rows(out["spikes"]), np.nan)
    close = np.abs(achieved - target) <= tolerance
    status[(status == "ok") & ~close] = "closest"
    status[(status == "closest") & close] = "ok"
    return kappa, status.astype(str), achieved


def step_rheobase_spikes(params: Mapping[str, Any], current_pA, step_ms: float = 1000.0,
                         dt_ms: float = 0.05) -> np.ndarray:
    """True where a ``step_ms`` step of ``current_pA`` evokes at least one spike."""
    from hetfit.params._kernels import izhikevich_step_response

    n = _arr(params["C"]).size
    p = {name: np.ascontiguousarray(_arr(params[name], n, name)) for name in UNITS}
    cur = np.ascontiguousarray(_arr(current_pA, n, "current_pA"))
    _, counts, _, _, _ = izhikevich_step_response(
        p["C"], p["k"], p["v_r"], p["v_theta"], p["b"], p["tau_u"], p["kappa"], p["v_peak"],
        p["v_reset"], cur, 0.0, float(step_ms), float(step_ms), float(dt_ms), 1, 1)
    return counts >= 1


def _k_for_step_rheobase(rheo, vr, vt, C, tau_u_ms, k0, b0, beta, step_ms, dt_ms, v_peak,
                         v_reset, n_iter=14):
    """Bisection on k: the step of ``rheo`` pA must sit exactly at the spiking boundary.

    A larger k raises the rheobase (deeper, steeper I-V), so: a spike at ``rheo`` means k is
    too small.  14 halvings of a factor-2 bracket (geometric) pin k to ~4e-5 (relative).  ``b`` follows ``k`` when it comes from the sag (``b = beta k dv``).
    """
    n = rheo.size
    dv = vt - vr

    def b_of(k):
        return b0 if beta is None else beta * k * dv

    def spikes(k):
        p = {"C": C, "k": k, "v_r": vr, "v_theta": vt, "b": b_of(k),
             "tau_u": np.full(n, float(tau_u_ms)), "kappa": np.zeros(n),
             "v_peak": np.full(n, v_peak), "v_reset": np.full(n, v_reset)}
        return step_rheobase_spikes(p, rheo, step_ms, dt_ms)

    k0 = np.asarray(k0, dtype=float)
    lo = k0 * 0.9  # below the steady-state k a step of rheo always evokes a spike
    shrink = ~spikes(lo)
    for _ in range(20):
        if not shrink.any():
            break
        lo = np.where(shrink, lo * 0.5, lo)
        shrink = shrink & ~spikes(lo)
    hi = k0 * 2.0
    grow = spikes(hi)
    for _ in range(20):
        if not grow.any():
            break
        hi = np.where(grow, hi * 2.0, hi)
        grow = grow & spikes(hi)
    ok = ~grow & ~shrink
    for _ in range(n_iter):
        mid = np.sqrt(lo * hi)
        s = spikes(mid)
        lo = np.where(s, mid, lo)
        hi = np.where(s, hi, mid)
    k = hi  # smallest k tested without a spike at the measured rheobase
    return k, b_of(k), ok


@dataclass
class IzhikevichCells:
    """Per-neuron Izhikevich parameters mapped from features, with diagnostics.

    ``params[name]`` are arrays (units in :data:`UNITS`); ``valid`` marks neurons whose
    mapping succeeded; ``reasons`` says why others failed; ``diagnostics`` holds the model's
    own rheobase (pA), input resistance (MOhm) and membrane time constant (ms), and the
    bifurcation regime.
    """

    params: dict[str, np.ndarray]
    valid: np.ndarray
    reasons: list[str | None]
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.valid.size)

    def to_frame(self):
        import pandas as pd

        df = pd.DataFrame({**self.params, **self.diagnostics})
        df["valid"] = self.valid
        df["reason"] = self.reasons
        return df


def map_izhikevich(
    features: Mapping[str, Any],
    *,
    tau_u_ms: float = 100.0,
    b_nS: float = 0.0,
    use_sag: bool = True,
    kappa_pA: float = 100.0,
    use_adaptation: bool = True,
    adaptation_delta_pA: float = 40.0,
    spike_shape: str = "izhikevich2007",
    v_peak_mV: float | None = None,
    v_reset_mV: float | None = None,
    capacitance: str = "tau_over_rin",
    rheobase: str = "step",
    step_ms: float = 1000.0,
) -> IzhikevichCells:
    """Map per-cell features (arrays, canonical names and units) to Izhikevich parameters.

    Parameters
    ----------
    features:
        Mapping (dict, DataFrame) with ``v_rest_mV``, ``v_threshold_mV``, ``rheobase_pA``,
        ``tau_m_ms``, ``r_input_MOhm`` and optionally ``sag`` and ``adaptation``.
    tau_u_ms:
        Recovery time constant (ms).
    b_nS:
        ``b`` when no sag is used (default 0: the rheobase formula ``k dv^2/4``).
    use_sag:
        Map ``b`` from ``sag`` when the feature is present.
    kappa_pA:
        ``kappa`` when no adaptation is used.
    use_adaptation:
        Calibrate ``kappa`` from ``adaptation`` by simulation when present.
    adaptation_delta_pA:
        Step above rheobase (pA) at which the adaptation index is matched.
    spike_shape:
        ``"izhikevich2007"`` (v_peak 35, v_reset -50 mV) or ``"meanfield"`` (1000/-1000);
        overridden by ``v_peak_mV`` / ``v_reset_mV``.
    capacitance:
        ``"tau_over_rin"`` (default) or ``"model_tau"`` (see module doc).
    rheobase:
        ``"step"`` (default): the measured rheobase is the smallest ``step_ms``-long current
        step that evokes a spike; where ``b > 0`` the model's step rheobase lies below the
        steady-state (bifurcation) value because ``u`` lags ``v`` and the step overshoots,
        so ``k`` is found by simulating the step protocol (bisection).  ``"steady"``: use
        the closed-form bifurcation value everywhere.
    step_ms:
        Duration of the rheobase steps (ms); Allen's long squares last 1 s.
    """
    missing = [f for f in REQUIRED if f not in features]
    if missing:
        raise ParameterError(
            f"features needed for the Izhikevich mapping are missing: {missing}",
            hint=f"provide {list(REQUIRED)} (canonical names and units)",
        )
    if spike_shape not in SPIKE_SHAPES:
        raise ParameterError(f"unknown spike_shape {spike_shape!r}",
                             hint=f"use one of {list(SPIKE_SHAPES)}")
    if rheobase not in ("step", "steady"):
        raise ParameterError(f"unknown rheobase definition {rheobase!r}",
                             hint="use 'step' or 'steady'")
    if capacitance not in ("tau_over_rin", "model_tau"):
        raise ParameterError(f"unknown capacitance mapping {capacitance!r}",
                             hint="use 'tau_over_rin' or 'model_tau'")
    if not (tau_u_ms > 0 and math.isfinite(tau_u_ms)):
        raise ParameterError(f"tau_u_ms must be > 0, got {tau_u_ms}")
    vr = _arr(features["v_rest_mV"])
    n = vr.size
    vt = _arr(features["v_threshold_mV"], n, "v_threshold_mV")
    rheo = _arr(features["rheobase_pA"], n, "rheobase_pA")
    tau = _arr(features["tau_m_ms"], n, "tau_m_ms")
    rin = _arr(features["r_input_MOhm"], n, "r_input_MOhm")
    sag = _arr(features["sag"], n, "sag") if (use_sag and "sag" in features) else None
    adapt = (_arr(features["adaptation"], n, "adaptation")
             if (use_adaptation and "adaptation" in features) else None)
    vpk, vrs = SPIKE_SHAPES[spike_shape]
    vpk = float(v_peak_mV) if v_peak_mV is not None else vpk
    vrs = float(v_reset_mV) if v_reset_mV is not None else vrs

    reasons: list[str | None] = [None] * n

    def flag(mask, text):
        for i in np.flatnonzero(mask):
            if reasons[i] is None:
                reasons[i] = text

    flag(~np.isfinite(vr) | ~np.isfinite(vt) | ~np.isfinite(rheo) | ~np.isfinite(tau)
         | ~np.isfinite(rin), "missing feature value")
    dv = vt - vr
    flag(dv <= 0, "threshold not above resting potential")
    flag(rheo <= 0, "rheobase <= 0")
    flag((tau <= 0) | (rin <= 0), "tau_m or input resistance <= 0")
    if sag is not None:
        flag(~np.isfinite(sag) | (sag < 0) | (sag >= 1), "sag outside [0, 1)")
        sag_used = np.clip(np.nan_to_num(sag), 0.0, 0.99)
    else:
        sag_used = None
    with np.errstate(invalid="ignore", divide="ignore"):
        c_passive = capacitance_pF(tau, rin)
    if capacitance == "tau_over_rin":
        C = c_passive
        k, b, regime = k_from_rheobase(rheo, vr, vt, C, tau_u_ms, b_nS, sag_used)
    else:
        # C depends on k (C = tau k dv) and k on C only in the Hopf branch: iterate
        C = c_passive
        for _ in range(50):
            k, b, regime = k_from_rheobase(rheo, vr, vt, C, tau_u_ms, b_nS, sag_used)
            C_new = tau * k * dv
            if np.allclose(C_new, C, rtol=1e-12, equal_nan=True):
                break
            C = C_new
    flag(~np.isfinite(k), "no positive k reproduces this rheobase")
    refine = np.isfinite(k) & (np.nan_to_num(b) > 0) & (rheobase == "step")
    if refine.any():
        # b > 0: a current step overshoots (u lags v), so the step rheobase is below the
        # steady-state value; find k by simulating the measurement protocol
        sub_beta = None if sag_used is None else (sag_used / (1.0 - sag_used))[refine]
        k_ref, b_ref, ok_ref = _k_for_step_rheobase(
            rheo[refine], vr[refine], vt[refine], C[refine], tau_u_ms, k[refine],
            b[refine], sub_beta, step_ms, dt_ms=0.05, v_peak=vpk, v_reset=vrs)
        k[refine] = np.where(ok_ref, k_ref, np.nan)
        b[refine] = np.where(ok_ref, b_ref, np.nan)
        flag(refine & ~np.isfinite(k), "no k reproduces the step rheobase")
    with np.errstate(invalid="ignore", divide="ignore"):
        g_rest = k * dv
        flag(g_rest + b <= 0, "no stable resting state (k dv + b <= 0)")
    valid = np.array([r is None for r in reasons], dtype=bool)
    params = {
        "C": C, "k": k, "v_r": vr, "v_theta": vt, "b": np.asarray(b, dtype=float),
        "tau_u": np.full(n, float(tau_u_ms)), "kappa": np.full(n, float(kappa_pA)),
        "v_peak": np.full(n, vpk), "v_reset": np.full(n, vrs),
    }
    notes = []
    diagnostics: dict[str, np.ndarray] = {}
    if adapt is not None:
        ok = valid & np.isfinite(adapt)
        kappa = np.full(n, float(kappa_pA))
        kstatus = np.full(n, "not_calibrated", dtype=object)
        achieved = np.full(n, np.nan)
        if ok.any():
            sub = {name: params[name][ok] for name in UNITS}
            kap, st, ach = calibrate_kappa(sub, adapt[ok], rheo[ok] + adaptation_delta_pA)
            kappa[ok] = np.where(np.isfinite(kap), kap, float(kappa_pA))
            kstatus[ok] = st
            achieved[ok] = ach
        params["kappa"] = kappa
        diagnostics["kappa_status"] = kstatus.astype(str)
        diagnostics["adaptation_model"] = achieved
        n_close = int((kstatus == "closest").sum())
        n_low = int((kstatus == "at_lower_bound").sum())
        n_none = int((kstatus == "no_spikes").sum())
        if n_close or n_low or n_none:
            notes.append(
                f"kappa: {n_close} neuron(s) adapt more than this model reaches with tau_u = "
                f"{tau_u_ms} ms (closest kappa used; a longer tau_u reaches higher indices), "
                f"{n_low} adapt less than at kappa = 0, {n_none} fire < 3 spikes at rheobase + "
                f"{adaptation_delta_pA} pA (kappa = {kappa_pA} pA kept)")
    with np.errstate(invalid="ignore", divide="ignore"):
        diagnostics.update({
            "rheobase_steady_pA": quadratic_rheobase(k, vr, vt, b, C, tau_u_ms),
            "r_input_model_MOhm": 1000.0 / (g_rest + b),
            "tau_model_ms": C / g_rest,
            "r_input_ratio": (1000.0 / (g_rest + b)) / rin,
            "tau_ratio": (C / g_rest) / tau,
            "regime": np.asarray(regime).astype(str),
        })
    if n and valid.any():
        med = float(np.nanmedian(diagnostics["r_input_ratio"][valid]))
        notes.append(f"model input resistance / measured: median {med:.2f} (the quadratic "
                     "I-V is fixed by threshold and rheobase)")
    n_hopf = int(np.sum((diagnostics["regime"] == "hopf") & valid))
    if n_hopf:
        notes.append(f"{n_hopf} neuron(s) are resonators (b >= C/tau_u): their rheobase is set "
                     "by an Andronov-Hopf bifurcation")
    settings = {"rheobase": rheobase, "step_ms": step_ms, "tau_u_ms": tau_u_ms, "b_nS": b_nS, "use_sag": sag is not None,
                "kappa_pA": kappa_pA, "use_adaptation": adapt is not None,
                "adaptation_delta_pA": adaptation_delta_pA, "v_peak_mV": vpk,
                "v_reset_mV": vrs, "capacitance": capacitance}
    return IzhikevichCells(params, valid, reasons, diagnostics, settings, notes)
