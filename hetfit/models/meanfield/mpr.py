"""Exact mean field of QIF neurons with Lorentzian drives (Montbrió, Pazó & Roxin 2015).

For the network of :mod:`hetfit.models.qif` with N -> inf (and v_peak = -v_reset -> inf)::

    tau dr/dt = Delta/(pi tau) + 2 r v
    tau dv/dt = v^2 + eta_bar + I(t) + J tau s - (pi tau r)^2
    s = r  (instantaneous synapses)   or   tau_s ds/dt = -s + r

``r`` is the population rate (1/ms inside, Hz in results), ``v`` the centre of the Lorentzian
distribution of membrane potentials.  The reduction is exact (Ott-Antonsen manifold): no
approximation beyond N -> inf.

Fixed points (any tau_s, since s = r there) solve, with ``R = tau r``::

    eta_bar + I = pi^2 R^2 - J R - Delta^2 / (4 pi^2 R^2),      v = -Delta / (2 pi R)

i.e. the positive roots of ``pi^2 R^4 - J R^3 - (eta_bar + I) R^2 - Delta^2/(4 pi^2)``.  The
saddle-node (fold) points where the branch turns, ``d eta_bar / dR = 0``, are the positive
roots of ``2 pi^2 R^4 - J R^3 + Delta^2/(2 pi^2) = 0`` (:func:`mpr_saddle_nodes`).  Between
two folds the network is bistable (a low-activity node and a high-activity focus).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hetfit.errors import ParameterError
from hetfit.models.meanfield import _kernels as K
from hetfit.models.meanfield.base import MeanFieldModel
from hetfit.models.qif import QIFParams

__all__ = ["MPRMeanField", "mpr_saddle_nodes", "mpr_fixed_point_rates"]

_SLOTS = {"tau_ms": 0, "eta_bar": 1, "delta_eta": 2, "J": 3, "tau_s_ms": 4}


def mpr_fixed_point_rates(eta_total: float, delta_eta: float, J: float, tau_ms: float) -> np.ndarray:
    """All fixed-point rates (Hz, ascending) of the MPR model for total drive ``eta_bar + I``.

    Roots of ``pi^2 R^4 - J R^3 - eta R^2 - Delta^2/(4 pi^2)`` with ``R = tau r > 0``.
    For ``Delta = 0`` the quiescent state ``r = 0`` is included when ``eta < 0``.
    """
    if delta_eta > 0:
        roots = np.roots([math.pi**2, -J, -eta_total, 0.0, -(delta_eta**2) / (4 * math.pi**2)])
    else:
        roots = np.roots([math.pi**2, -J, -eta_total])
    R = roots.real[(np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots))) & (roots.real > 0)]
    R = np.sort(R)
    if delta_eta == 0 and eta_total < 0:
        R = np.concatenate([[0.0], R])
    return R / tau_ms * 1e3


def mpr_saddle_nodes(delta_eta: float, J: float) -> list[tuple[float, float]]:
    """Analytic saddle-node points ``(eta_bar, R = tau r)`` of the MPR fixed-point curve.

    They are the positive roots of ``2 pi^2 R^4 - J R^3 + Delta^2/(2 pi^2) = 0`` mapped
    through ``eta_bar(R) = pi^2 R^2 - J R - Delta^2/(4 pi^2 R^2)``; sorted by ``eta_bar``.
    Two points mean a bistable range ``(eta_low, eta_high)``; none means no bistability
    (J below the critical coupling).  Independent of ``tau``.
    """
    if delta_eta <= 0:
        raise ParameterError("saddle-node points need delta_eta > 0")
    roots = np.roots([2 * math.pi**2, -J, 0.0, 0.0, delta_eta**2 / (2 * math.pi**2)])
    R = roots.real[(np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots))) & (roots.real > 0)]
    out = []
    for Rv in np.sort(R):
        eta = math.pi**2 * Rv**2 - J * Rv - delta_eta**2 / (4 * math.pi**2 * Rv**2)
        out.append((float(eta), float(Rv)))
    out.sort()
    return out


class MPRMeanField(MeanFieldModel):
    """Montbrió-Pazó-Roxin mean field of a QIF population (exact for N -> inf).

    Parameters
    ----------
    params:
        :class:`~hetfit.models.qif.QIFParams` (the same object drives the network).

    Examples
    --------
    >>> mf = MPRMeanField(QIFParams(eta_bar=-5.0, delta_eta=1.0, J=15.0))
    >>> low, high = mf.scan_bistability("eta_bar", np.linspace(-8, -3, 51))
    """

    model_name = "mpr"
    population_names = ("QIF",)
    state_names = ("r", "v", "s")

    def __init__(self, params: QIFParams) -> None:
        if not isinstance(params, QIFParams):
            raise ParameterError(f"params must be a QIFParams, got {type(params).__name__}")
        self.params = params

    def __repr__(self) -> str:
        return f"MPRMeanField({self.params!r})"

    def params_dict(self) -> dict[str, Any]:
        return self.params.to_dict()

    def _pvec(self) -> np.ndarray:
        p = self.params
        return np.array([p.tau_ms, p.eta_bar, p.delta_eta, p.J, p.tau_s_ms], dtype=np.float64)

    def _validate_pvec(self, p: np.ndarray) -> None:
        QIFParams(*[float(x) for x in p])  # raises ParameterError on bad values

    def _rhs_kernel(self, y, p, inp, dy):
        K.mpr_rhs(y, p, inp, dy)

    def _integrate_kernel(self, y0, p, inp, dt, rec_every):
        y0 = np.array(y0, dtype=np.float64)
        if p[4] == 0.0:
            y0[2] = y0[0]
        out, y, steps, bad = K.integrate_mpr(y0, p, inp, dt, rec_every)
        if p[4] == 0.0:
            out[:, 2] = out[:, 0]
            y[2] = y[0]
        return out, y, steps, bad

    def _batch_kernel(self, Y0, Pm, inp, dt, rec_every):
        rates, final, bad = K.integrate_mpr_batch(Y0, Pm, inp, dt, rec_every)
        return rates[:, :, None], final, bad

    def _eta_slot(self, population_index: int) -> int:
        return 1

    def _state_scale(self) -> np.ndarray:
        r0 = 1.0 / (math.pi * self.params.tau_ms)
        return np.array([r0, 1.0, r0])

    def _default_y0(self) -> np.ndarray:
        r0 = 1e-3 / self.params.tau_ms
        return np.array([r0, -2.0, r0])

    def _n_active(self, p: np.ndarray) -> int:
        return 3 if p[4] > 0 else 2

    def _complete_state(self, y_active: np.ndarray, p: np.ndarray) -> np.ndarray:
        y = np.zeros(3)
        y[: y_active.size] = y_active
        if p[4] == 0:
            y[2] = y[0]
        return y

    def _param_slot(self, name: str, population: str | None) -> tuple[str, int]:
        if population not in (None, "QIF"):
            raise ParameterError(f"unknown population {population!r}", hint="the MPR model has one: 'QIF'")
        if name == "I_ext":
            return ("inp", 0)
        if name not in _SLOTS:
            raise ParameterError(
                f"unknown MPR parameter {name!r}", hint=f"use one of {sorted(_SLOTS) + ['I_ext']}"
            )
        return ("p", _SLOTS[name])

    def _fixed_point_states(self, p: np.ndarray, inp: np.ndarray) -> list[np.ndarray]:
        tau, eta, delta, J = p[0], p[1], p[2], p[3]
        rates = mpr_fixed_point_rates(eta + inp[0], delta, J, tau) * 1e-3
        out = []
        for r in rates:
            if r > 0:
                v = -delta / (2 * math.pi * tau * r)
                out.append(np.array([r, v, r]))
            else:
                # Delta = 0, quiescent: v at the rest point -sqrt(-eta) (stable) and the
                # threshold +sqrt(-eta) (unstable).
                sq = math.sqrt(-(eta + inp[0]))
                out.append(np.array([0.0, -sq, 0.0]))
                out.append(np.array([0.0, sq, 0.0]))
        return out

    def with_param(self, param: str, value: float, population: str | None = None) -> MPRMeanField:
        if param == "I_ext":
            raise ParameterError("I_ext is an input, not a parameter; pass it to simulate()")
        self._param_slot(param, population)
        return MPRMeanField(self.params.replace(**{param: float(value)}))

    def saddle_nodes(self) -> list[tuple[float, float]]:
        """Analytic saddle-node points ``(eta_bar, rate_hz)`` for this model's Delta and J."""
        return [
            (eta, R / self.params.tau_ms * 1e3)
            for eta, R in mpr_saddle_nodes(self.params.delta_eta, self.params.J)
        ]
