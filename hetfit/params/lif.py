"""Map measured per-cell features to leaky integrate-and-fire (LIF) parameters.

Model (units: tau ms, R MOhm, v mV, I pA)::

    tau_m dv/dt = -(v - E_L) + R I / 1000,   v >= v_th: spike, v <- v_reset, refractory t_ref

Mappings and assumptions (also in ``docs/params.md``):

``E_L`` <- resting potential; ``tau_m`` <- membrane time constant; ``R`` <- input resistance
    The passive membrane is the LIF's subthreshold dynamics.
``C = tau_m / R`` (pF)
    Reported for simulators that take a capacitance (NEST ``C_m``).
``v_th``
    ``threshold="measured"`` (default): the measured spike threshold.  The LIF's rheobase is
    then ``1000 (v_th - E_L) / R`` pA, usually well above the measured rheobase, because a
    real neuron's I-V bends upward below threshold; the ratio is reported.
    ``threshold="rheobase"``: ``v_th = E_L + R I_rh / 1000`` so that the LIF fires exactly
    at the measured rheobase (for long steps); the measured threshold is then not used.
``v_reset``, ``t_ref``
    Not identifiable from these features: default ``v_reset = E_L`` and ``t_ref = 2 ms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import ParameterError

REQUIRED = ("v_rest_mV", "tau_m_ms", "r_input_MOhm")
UNITS = {"tau_m": "ms", "r_m": "MOhm", "C": "pF", "e_l": "mV", "v_th": "mV",
         "v_reset": "mV", "t_ref": "ms"}


@dataclass
class LIFCells:
    """Per-neuron LIF parameters (arrays; units in :data:`UNITS`) with diagnostics."""

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


def lif_rheobase_pA(v_th, e_l, r_m_MOhm) -> np.ndarray:
    """Rheobase of the LIF for long steps: ``1000 (v_th - E_L) / R`` (pA)."""
    return 1000.0 * (np.asarray(v_th, float) - np.asarray(e_l, float)) / np.asarray(r_m_MOhm,
                                                                                     float)


def map_lif(
    features: Mapping[str, Any],
    *,
    threshold: str = "measured",
    v_reset_mV: float | None = None,
    t_ref_ms: float = 2.0,
) -> LIFCells:
    """Map per-cell features to LIF parameters.

    Parameters
    ----------
    features:
        ``v_rest_mV``, ``tau_m_ms``, ``r_input_MOhm`` and ``v_threshold_mV`` (for
        ``threshold="measured"``) or ``rheobase_pA`` (for ``threshold="rheobase"``).
    threshold:
        ``"measured"`` or ``"rheobase"`` (see module doc).
    v_reset_mV:
        Reset potential; default: each neuron's ``E_L``.
    t_ref_ms:
        Absolute refractory period (ms).
    """
    if threshold not in ("measured", "rheobase"):
        raise ParameterError(f"unknown threshold mapping {threshold!r}",
                             hint="use 'measured' or 'rheobase'")
    need = list(REQUIRED) + (["v_threshold_mV"] if threshold == "measured" else ["rheobase_pA"])
    missing = [f for f in need if f not in features]
    if missing:
        raise ParameterError(f"features needed for the LIF mapping are missing: {missing}",
                             hint=f"provide {need}")
    if t_ref_ms < 0:
        raise ParameterError(f"t_ref_ms must be >= 0, got {t_ref_ms}")
    e_l = np.atleast_1d(np.asarray(features["v_rest_mV"], dtype=float))
    n = e_l.size
    tau = np.broadcast_to(np.asarray(features["tau_m_ms"], dtype=float), (n,)).copy()
    r = np.broadcast_to(np.asarray(features["r_input_MOhm"], dtype=float), (n,)).copy()
    rheo = (np.broadcast_to(np.asarray(features["rheobase_pA"], dtype=float), (n,)).copy()
            if "rheobase_pA" in features else np.full(n, np.nan))
    thr = (np.broadcast_to(np.asarray(features["v_threshold_mV"], dtype=float), (n,)).copy()
           if "v_threshold_mV" in features else np.full(n, np.nan))
    v_th = thr if threshold == "measured" else e_l + r * rheo / 1000.0
    reasons: list[str | None] = [None] * n
    bad = ~np.isfinite(e_l) | ~np.isfinite(tau) | ~np.isfinite(r) | ~np.isfinite(v_th)
    for i in np.flatnonzero(bad):
        reasons[i] = "missing feature value"
    for i in np.flatnonzero(~bad & ((tau <= 0) | (r <= 0))):
        reasons[i] = "tau_m or input resistance <= 0"
    for i in np.flatnonzero(~bad & (v_th <= e_l)):
        reasons[i] = reasons[i] or "threshold not above resting potential"
    valid = np.array([x is None for x in reasons], dtype=bool)
    v_reset = e_l.copy() if v_reset_mV is None else np.full(n, float(v_reset_mV))
    with np.errstate(invalid="ignore", divide="ignore"):
        params = {"tau_m": tau, "r_m": r, "C": 1000.0 * tau / r, "e_l": e_l, "v_th": v_th,
                  "v_reset": v_reset, "t_ref": np.full(n, float(t_ref_ms))}
        model_rheo = lif_rheobase_pA(v_th, e_l, r)
        diagnostics = {"rheobase_model_pA": model_rheo, "rheobase_ratio": model_rheo / rheo}
    notes = []
    if threshold == "measured" and np.any(np.isfinite(diagnostics["rheobase_ratio"][valid])):
        med = float(np.nanmedian(diagnostics["rheobase_ratio"][valid]))
        notes.append(f"LIF rheobase / measured rheobase: median {med:.2f} with the measured "
                     "threshold (use threshold='rheobase' to match rheobase instead)")
    return LIFCells(params, valid, reasons, diagnostics,
                    {"threshold": threshold, "v_reset_mV": v_reset_mV, "t_ref_ms": t_ref_ms},
                    notes)
