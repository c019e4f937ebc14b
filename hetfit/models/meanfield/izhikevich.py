"""Mean field of Izhikevich populations with Lorentzian spike thresholds.

Gast, Solla & Kennedy (2023), "Macroscopic dynamics of neural networks with heterogeneous
spiking thresholds", Phys. Rev. E 107, 024306 (arXiv 2209.03501), in the dimensional form of
DESIGN.md.  For population a (P populations, conductance synapses per presynaptic type)::

    C dr/dt = (Delta_v k^2 (v - v_r) + k Delta_eta) / (pi C) + r (k (2 v - v_r - v_theta) - G)
    C dv/dt = k v (v - v_r - v_theta) + k v_r v_theta + eta + I(t) - u
              + sum_b W_ab x_b (E_b - v) - pi C r (Delta_v + pi C r / k)
    du/dt   = (b (v - v_r) - u) / tau_u + kappa r
    tau_b dx_b/dt = -x_b + tau_b r_b        (per presynaptic population b)
    G = sum_b W_ab x_b,   W_ab = g_ab J_ab  (nS),   s_ab = J_ab x_b

which for one population is ``tau_s ds/dt = -s + tau_s J r`` with the conductance ``g s``.

Derivation (why it is exact in one respect and approximate in others): for a fixed threshold
``theta`` the membrane equation is a Riccati equation ``C v' = k v^2 + B(theta) v + A(theta)``
with ``B = -k (v_r + theta) - G`` and ``A = k v_r theta + eta + I - u + G E``.  A Lorentzian
density of ``v`` stays Lorentzian under it, its complex parameter ``z = y + i x`` obeying the
same equation, and for Lorentzian ``theta`` the population average is the value at the pole
``theta = v_theta - i Delta_v``.  With the rate ``r = k x / (pi C)`` and ``v = y`` this gives the
first two equations (a Lorentzian spread ``Delta_eta`` of the drive adds ``i Delta_eta`` the
same way).  Without adaptation (``b = kappa = 0``), with ``v_peak = -v_reset = inf`` and an
untruncated Lorentzian, the reduction is exact for N -> inf (the tests check the fixed-point
rate against the Lorentzian average of the single-neuron rate, with conductance coupling).
The steps that are *not* exact for the network:

* the recovery current ``u`` is treated as one population variable (the network has one
  ``u_i`` per neuron, which differs between fast and slow neurons);
* the reduction assumes ``v_peak = -v_reset = inf`` (finite values shorten the cycle);
* the threshold distribution must be exactly Lorentzian (truncation and small N change it),
  and ``Delta_v k |v - v_r|`` plays the role of the drive heterogeneity: small ``Delta_v``
  leaves the network close to homogeneous, where it can synchronise although the mean field
  (which has no such state for Delta_v > 0) predicts asynchrony.

See docs/meanfield.md for the measured agreement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from hetfit.errors import ParameterError
from hetfit.models.meanfield import _kernels as K
from hetfit.models.meanfield.base import MeanFieldModel

__all__ = [
    "IzhikevichMFPopulation",
    "IzhikevichMeanField",
    "gast2023_ei_meanfield",
    "meanfield_from_network",
    "network_input_series",
]

# order of the per-population block in the packed parameter vector (see _kernels.izh_rhs)
_POP_FIELDS = (
    "C", "k", "v_r", "v_theta", "delta_v", "eta", "b", "tau_u", "kappa", "E_r", "tau_s",
    "delta_eta",
)


@dataclass(frozen=True)
class IzhikevichMFPopulation:
    """One Izhikevich population with Lorentzian thresholds (mean-field parameters).

    Parameters
    ----------
    name:
        Population label (e.g. ``"E"``).
    C:
        Membrane capacitance (pF), > 0.
    k:
        Gain of the quadratic term (nS/mV), > 0.
    v_r:
        Resting potential (mV).
    v_theta:
        Centre of the Lorentzian spike-threshold distribution (mV).
    delta_v:
        Half-width at half-maximum of the threshold distribution (mV), >= 0.
    eta:
        Constant background drive (pA).
    b:
        Sub-threshold adaptation gain (nS).
    tau_u:
        Recovery time constant (ms), > 0 (``1/a`` of Izhikevich's ``a`` in 1/ms).
    kappa:
        Spike-triggered jump of the recovery current (pA) (Izhikevich's ``d``).
    E_r:
        Reversal potential (mV) of the synapses this population *makes*.
    tau_s:
        Decay time constant (ms) of the synapses this population makes, > 0.
    delta_eta:
        Half-width (pA) of a Lorentzian spread of the drive ``eta`` (independent of the
        thresholds), >= 0; it adds ``k delta_eta / (pi C)`` to ``C dr/dt`` (exact, as in the
        QIF model of Montbrió et al.).
    """

    name: str = "E"
    C: float = 100.0
    k: float = 0.7
    v_r: float = -60.0
    v_theta: float = -40.0
    delta_v: float = 1.0
    eta: float = 0.0
    b: float = -2.0
    tau_u: float = 1.0 / 0.03
    kappa: float = 100.0
    E_r: float = 0.0
    tau_s: float = 6.0
    delta_eta: float = 0.0

    def __post_init__(self) -> None:
        for f in _POP_FIELDS:
            v = float(getattr(self, f))
            if not math.isfinite(v):
                raise ParameterError(f"population {self.name!r}: {f} must be finite, got {v}")
        for f in ("C", "k", "tau_u", "tau_s"):
            if getattr(self, f) <= 0:
                raise ParameterError(
                    f"population {self.name!r}: {f} must be > 0, got {getattr(self, f)}"
                )
        if self.delta_v < 0:
            raise ParameterError(
                f"population {self.name!r}: delta_v must be >= 0 mV, got {self.delta_v}",
                hint="delta_v is the half-width of the threshold distribution (a spread)",
            )
        if self.delta_eta < 0:
            raise ParameterError(
                f"population {self.name!r}: delta_eta must be >= 0 pA, got {self.delta_eta}",
                hint="delta_eta is the half-width of the drive distribution (a spread)",
            )

    def replace(self, **changes: Any) -> IzhikevichMFPopulation:
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise ParameterError(f"unknown population field(s) {sorted(unknown)}",
                                 hint=f"use {list(_POP_FIELDS)}")
        return replace(self, **changes)

    def as_row(self) -> np.ndarray:
        return np.array([float(getattr(self, f)) for f in _POP_FIELDS])


def _as_matrix(x: Any, P: int, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        if P != 1:
            raise ParameterError(f"{name} must be a {P}x{P} matrix (row = postsynaptic)")
        a = a.reshape(1, 1)
    if a.shape != (P, P):
        raise ParameterError(f"{name} must have shape ({P}, {P}) (row = postsynaptic), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} contains NaN or inf")
    return a


class IzhikevichMeanField(MeanFieldModel):
    """Mean field of one or several coupled Izhikevich populations (Gast, Solla & Kennedy).

    Parameters
    ----------
    populations:
        One :class:`IzhikevichMFPopulation` or a sequence of them (distinct names).
    J:
        Dimensionless coupling strengths, scalar (one population) or (P, P) matrix with
        row = postsynaptic, column = presynaptic population.
    g:
        Synaptic conductance scales (nS), same shape as ``J``.  The b -> a conductance is
        ``g_ab s_ab`` with ``tau_b ds_ab/dt = -s_ab + tau_b J_ab r_b``.

    State (rates in 1/ms): ``r_<pop>``, ``v_<pop>`` (mV), ``u_<pop>`` (pA), ``x_<pop>``
    (presynaptic filtered rate, dimensionless).

    Examples
    --------
    >>> mf = IzhikevichMeanField(IzhikevichMFPopulation(delta_v=1.0, eta=40.0), J=1.0, g=15.0)
    >>> res = mf.simulate(1000.0, 0.01)
    >>> rate = res.mean_rate_hz(t_start_ms=500.0)
    """

    model_name = "izhikevich_meanfield"

    def __init__(
        self,
        populations: IzhikevichMFPopulation | Sequence[IzhikevichMFPopulation],
        J: Any = 1.0,
        g: Any = 15.0,
    ) -> None:
        if isinstance(populations, IzhikevichMFPopulation):
            populations = [populations]
        pops = list(populations)
        if not pops or not all(isinstance(p, IzhikevichMFPopulation) for p in pops):
            raise ParameterError("populations must be IzhikevichMFPopulation objects (at least one)")
        names = [p.name for p in pops]
        if len(set(names)) != len(names):
            raise ParameterError(f"population names must be distinct, got {names}")
        P = len(pops)
        self.populations = tuple(pops)
        self.J = _as_matrix(J, P, "J")
        self.g = _as_matrix(g, P, "g")
        if np.any(self.g < 0):
            raise ParameterError("conductance scales g must be >= 0 nS",
                                 hint="inhibition comes from a reversal potential below rest")
        self.population_names = tuple(names)
        self.state_names = tuple(
            f"{var}_{n}" for var in ("r", "v", "u", "x") for n in names
        )

    def __repr__(self) -> str:
        return f"IzhikevichMeanField(populations={self.populations!r}, J={self.J.tolist()}, g={self.g.tolist()})"

    def params_dict(self) -> dict[str, Any]:
        return {
            "populations": [asdict(p) for p in self.populations],
            "J": self.J.tolist(),
            "g": self.g.tolist(),
        }

    # -- packing -------------------------------------------------------------------------
    def _pvec(self) -> np.ndarray:
        P = len(self.populations)
        rows = np.concatenate([p.as_row() for p in self.populations])
        return np.concatenate([[float(P)], rows, (self.g * self.J).ravel()])

    def _validate_pvec(self, p: np.ndarray) -> None:
        if not np.all(np.isfinite(p)):
            raise ParameterError("parameter values contain NaN or inf")
        P = int(p[0])
        for a in range(P):
            row = p[1 + a * K.IZH_NPP: 1 + (a + 1) * K.IZH_NPP]
            IzhikevichMFPopulation(self.population_names[a], *[float(x) for x in row])

    def _unpack(self, p: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        P = int(p[0])
        block = p[1: 1 + P * K.IZH_NPP].reshape(P, K.IZH_NPP)
        cols = {f: block[:, i] for i, f in enumerate(_POP_FIELDS)}
        W = p[1 + P * K.IZH_NPP:].reshape(P, P)
        return cols, W

    def _param_slot(self, name: str, population: str | None) -> tuple[str, int]:
        a = self._pop_index(population)
        if name == "I_ext":
            return ("inp", a)
        if name not in _POP_FIELDS:
            raise ParameterError(
                f"unknown Izhikevich mean-field parameter {name!r}",
                hint=f"use one of {list(_POP_FIELDS) + ['I_ext']}",
            )
        return ("p", 1 + a * K.IZH_NPP + _POP_FIELDS.index(name))

    def _eta_slot(self, population_index: int) -> int:
        return 1 + population_index * K.IZH_NPP + _POP_FIELDS.index("eta")

    def with_param(self, param: str, value: float, population: str | None = None) -> IzhikevichMeanField:
        if param == "I_ext":
            raise ParameterError("I_ext is an input, not a parameter; pass it to simulate()")
        a = self._pop_index(population)
        self._param_slot(param, population)
        pops = list(self.populations)
        pops[a] = pops[a].replace(**{param: float(value)})
        return IzhikevichMeanField(pops, self.J, self.g)

    # -- kernels -------------------------------------------------------------------------
    def _rhs_kernel(self, y, p, inp, dy):
        K.izh_rhs(y, p, inp, dy)

    def _integrate_kernel(self, y0, p, inp, dt, rec_every):
        return K.integrate_izh(np.asarray(y0, dtype=np.float64), p, inp, dt, rec_every)

    def _batch_kernel(self, Y0, Pm, inp, dt, rec_every):
        return K.integrate_izh_batch(Y0, Pm, inp, dt, rec_every, True)

    def _state_scale(self) -> np.ndarray:
        P = len(self.populations)
        u_scale = [max(10.0, abs(p.kappa) * p.tau_u * 0.01, abs(p.b) * 10.0) for p in self.populations]
        return np.concatenate([np.full(P, 0.01), np.full(P, 10.0), u_scale, np.full(P, 0.1)])

    def _default_y0(self) -> np.ndarray:
        P = len(self.populations)
        return np.concatenate(
            [np.full(P, 1e-4), [p.v_r for p in self.populations], np.zeros(P), np.zeros(P)]
        )

    # -- fixed points via the rate reduction ----------------------------------------------
    def _rates_to_states(self, R: np.ndarray, p: np.ndarray, inp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Given rates R (M, P) in 1/ms: (residual of dv/dt = 0 in pA (M, P), states (M, 4P))."""
        c, W = self._unpack(p)
        C, k, vr, vt, D = c["C"], c["k"], c["v_r"], c["v_theta"], c["delta_v"]
        x = c["tau_s"] * R
        G = x @ W.T
        GE = (x * c["E_r"]) @ W.T
        q = D * k * k / (math.pi * C)
        qe = k * c["delta_eta"] / (math.pi * C)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (q * vr - qe + R * (k * (vr + vt) + G)) / (q + 2 * k * R)
        u = c["b"] * (v - vr) + c["kappa"] * c["tau_u"] * R
        pcr = math.pi * C * R
        res = (k * v * (v - vr - vt) + k * vr * vt + c["eta"] + inp - u + GE - G * v
               - pcr * (D + pcr / k))
        return res, np.concatenate([R, v, u, x], axis=1)

    def _fixed_point_states(self, p: np.ndarray, inp: np.ndarray) -> list[np.ndarray]:
        P = int(p[0])
        c, _ = self._unpack(p)
        cand: list[np.ndarray] = []
        if P == 1:
            grid = np.concatenate([np.geomspace(1e-9, 5.0, 4000)])
            res, _ = self._rates_to_states(grid[:, None], p, inp)
            f = res[:, 0]
            from scipy.optimize import brentq

            def g(rv: float) -> float:
                return float(self._rates_to_states(np.array([[rv]]), p, inp)[0][0, 0])

            for i in np.nonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)[0]:
                cand.append(np.array([brentq(g, grid[i], grid[i + 1], xtol=1e-15, rtol=1e-13)]))
        else:
            cand = self._multistart_rates(p, inp, P)
        states = []
        for rv in cand:
            _, st = self._rates_to_states(np.asarray(rv)[None, :], p, inp)
            y = self._newton(st[0], p, inp)
            if y is None or np.any(y[:P] <= 0):
                continue
            if all(np.max(np.abs(y - s) / self._state_scale()) > 1e-6 for s in states):
                states.append(y)
        states.extend(self._quiescent_states(p, inp))
        return states

    def _pinned(self, y: np.ndarray, p: np.ndarray) -> list[int]:
        P = int(p[0])
        return [a for a in range(P) if y[a] == 0.0]

    def _candidate_log_rates(self, p: np.ndarray, inp: np.ndarray, P: int) -> np.ndarray:
        """Starting points (log rates) for Newton.

        Two populations: cells of a log-spaced (r_1, r_2) grid in which both residuals change
        sign (every crossing of the two null-clines is bracketed, up to grid resolution).
        More populations: a coarse grid of starts.
        """
        if P == 2:
            g = np.linspace(math.log(1e-7), math.log(5.0), 240)
            A, B = np.meshgrid(g, g, indexing="ij")
            Z = np.stack([A.ravel(), B.ravel()], axis=1)
            F, _ = self._rates_to_states(np.exp(Z), p, inp)
            F1 = F[:, 0].reshape(A.shape)
            F2 = F[:, 1].reshape(A.shape)

            def crosses(Fm: np.ndarray) -> np.ndarray:
                c = np.stack([Fm[:-1, :-1], Fm[1:, :-1], Fm[:-1, 1:], Fm[1:, 1:]])
                return (c.min(axis=0) <= 0) & (c.max(axis=0) >= 0)

            ii, jj = np.nonzero(crosses(F1) & crosses(F2))
            h = g[1] - g[0]
            return np.stack([g[ii] + 0.5 * h, g[jj] + 0.5 * h], axis=1)
        axes = [np.linspace(math.log(1e-6), math.log(1.0), 8)] * P
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, P)

    def _multistart_rates(self, p: np.ndarray, inp: np.ndarray, P: int) -> list[np.ndarray]:
        """Vectorised damped Newton in log-rate space from :meth:`_candidate_log_rates`."""
        Z = self._candidate_log_rates(p, inp, P)
        if Z.size == 0:
            return []
        h = 1e-7
        for _ in range(40):
            F0, _ = self._rates_to_states(np.exp(Z), p, inp)
            Jm = np.empty((Z.shape[0], P, P))
            for j in range(P):
                Zh = Z.copy()
                Zh[:, j] += h
                Jm[:, :, j] = (self._rates_to_states(np.exp(Zh), p, inp)[0] - F0) / h
            ok = np.isfinite(F0).all(axis=1) & np.isfinite(Jm).all(axis=(1, 2))
            dZ = np.zeros_like(Z)
            det = np.linalg.det(np.where(ok[:, None, None], Jm, np.eye(P)))
            good = ok & (np.abs(det) > 1e-300)
            if np.any(good):
                dZ[good] = np.linalg.solve(Jm[good], -F0[good][..., None])[..., 0]
            dZ = np.clip(dZ, -1.0, 1.0)
            Z = np.clip(Z + dZ, math.log(1e-12), math.log(10.0))
            if np.max(np.abs(dZ)) < 1e-12:
                break
        F0, _ = self._rates_to_states(np.exp(Z), p, inp)
        scale = 1.0 + np.abs(self._unpack(p)[0]["eta"]) + np.abs(inp)
        conv = np.all(np.abs(F0) < 1e-6 * scale, axis=1)
        out: list[np.ndarray] = []
        for z in Z[conv]:
            r = np.exp(z)
            if all(np.max(np.abs(np.log(r) - np.log(o))) > 1e-5 for o in out):
                out.append(r)
        return out

    def _quiescent_states(self, p: np.ndarray, inp: np.ndarray) -> list[np.ndarray]:
        """Fixed points with every population silent (r = 0, no synaptic input).

        Each v solves ``k v^2 - (k (v_r + v_theta) + b) v + k v_r v_theta + b v_r + eta + I
        = 0``.  With heterogeneity the silent state is a fixed point of the projected
        dynamics only where the rate drift ``delta_v k^2 (v - v_r) + k delta_eta`` is <= 0
        (else the spread makes some neurons fire).  States with only some populations silent
        are not enumerated.
        """
        c, _ = self._unpack(p)
        P = int(p[0])
        per_pop = []
        for a in range(P):
            k, vr, vt, b = c["k"][a], c["v_r"][a], c["v_theta"][a], c["b"][a]
            roots = np.roots([k, -(k * (vr + vt) + b), k * vr * vt + b * vr + c["eta"][a] + inp[a]])
            D, de = c["delta_v"][a], c["delta_eta"][a]
            vs = [float(v) for v in roots[np.abs(roots.imag) < 1e-12].real
                  if (D == 0 and de == 0) or D * k * k * (v - vr) + k * de <= 1e-12]
            if not vs:
                return []
            per_pop.append(vs)
        import itertools

        out = []
        for combo in itertools.product(*per_pop):
            v = np.asarray(combo)
            y = np.concatenate([np.zeros(P), v, c["b"] * (v - c["v_r"]), np.zeros(P)])
            out.append(y)
        return out


def gast2023_ei_meanfield(
    delta_e: float = 1.0,
    delta_i: float = 1.0,
    eta_e: float = 50.0,
    eta_i: float = 10.0,
) -> IzhikevichMeanField:
    """E/I mean field of Gast, Solla & Kennedy: regular-spiking E, fast-spiking I.

    Parameter values as in the authors' published simulation scripts for the E/I hysteresis
    experiment (RS: C=100 pF, k=0.7, v_r=-60 mV, v_theta=-40 mV, a=0.03/ms, b=-2 nS, d=20 pA;
    FS: C=20 pF, k=1, v_r=-55 mV, v_theta=-40 mV, a=0.2/ms, b=0.025 nS, d=0; AMPA E_r=0 mV,
    tau=6 ms; GABA-A E_r=-65 mV, tau=8 ms; g=1 nS; J_EE=16, J_EI=16 (I->E), J_IE=4 (E->I),
    J_II=4; background drives eta_e=50 pA, eta_i=10 pA, the input to I being ramped 0-70 pA).

    Parameters
    ----------
    delta_e, delta_i:
        Threshold half-widths (mV) of E and I.
    eta_e, eta_i:
        Background drives (pA).
    """
    e = IzhikevichMFPopulation(
        "E", C=100.0, k=0.7, v_r=-60.0, v_theta=-40.0, delta_v=delta_e, eta=eta_e,
        b=-2.0, tau_u=1.0 / 0.03, kappa=20.0, E_r=0.0, tau_s=6.0,
    )
    i = IzhikevichMFPopulation(
        "I", C=20.0, k=1.0, v_r=-55.0, v_theta=-40.0, delta_v=delta_i, eta=eta_i,
        b=0.025, tau_u=1.0 / 0.2, kappa=0.0, E_r=-65.0, tau_s=8.0,
    )
    J = np.array([[16.0, 16.0], [4.0, 4.0]])
    return IzhikevichMeanField([e, i], J=J, g=np.ones((2, 2)))


def _center_width(x: Any, what: str) -> tuple[float, float, bool]:
    """(center, Lorentzian half-width, truncated?) of a number or Heterogeneity."""
    from hetfit.models.heterogeneity import Heterogeneity

    if isinstance(x, Heterogeneity):
        if x.width == 0 or x.family == "none":
            return float(x.center), 0.0, False
        if x.family != "lorentzian":
            raise ParameterError(
                f"{what}: the mean field needs a Lorentzian distribution, got {x.family!r}",
                hint="use family='lorentzian' (a Gaussian has no exact mean field)",
            )
        return float(x.center), float(x.width), bool(math.isfinite(x.low) or math.isfinite(x.high))
    if isinstance(x, np.ndarray):
        if np.all(x == x[0]):
            return float(x[0]), 0.0, False
        raise ParameterError(
            f"{what}: explicit per-neuron values have no exact mean field",
            hint="describe them by a Lorentzian Heterogeneity (centre, half-width)",
        )
    return float(x), 0.0, False


def _uniform_value(x: Any) -> float:
    """The single value of a homogeneous per-neuron parameter."""
    from hetfit.models.heterogeneity import Heterogeneity

    if isinstance(x, Heterogeneity):
        return float(x.center)
    if isinstance(x, np.ndarray):
        return float(x[0])
    return float(x)


def meanfield_from_network(net: Any) -> IzhikevichMeanField:
    """Mean field of an all-to-all :class:`~hetfit.models.izhikevich.IzhikevichNetwork`.

    Thresholds and drives may be homogeneous or Lorentzian (centre -> ``v_theta``/``eta``,
    half-width -> ``delta_v``/``delta_eta``); truncation ranges are ignored (the mean field
    assumes the full Lorentzian: with the authors' truncation to ``[v_r, 2 v_theta - v_r]``
    the network rate is a few % higher, see docs/meanfield.md), and so are ``v_peak``/
    ``v_reset`` (taken as +-inf).  ``C, k, v_r, b, tau_u, kappa`` must be the same for every
    neuron of a population (the reduction is exact only then; a ParameterError names the
    ones that vary).  Per-neuron conductance scales must be homogeneous and the
    reset full (``theta_reset = 0``).  The external currents ``I_ext`` of the network are
    *not* folded in: pass :func:`network_input_series` to ``simulate``.
    """
    from hetfit.models.izhikevich import IzhikevichNetwork

    if not isinstance(net, IzhikevichNetwork):
        raise ParameterError(f"expected an IzhikevichNetwork, got {type(net).__name__}")
    if net.sparse:
        raise ParameterError(
            "the mean field describes all-to-all coupling; this network is sparse",
            hint="build the network with connection_p=None",
        )
    from hetfit.models.izhikevich import MEMBRANE_PARAMS

    pops = []
    for pop in net.populations:
        varying = pop.varying_membrane_params()
        if varying:
            raise ParameterError(
                f"population {pop.name!r}: {', '.join(varying)} vary per neuron, but the exact "
                "mean-field reduction needs C, k, v_r, b, tau_u and kappa homogeneous (only "
                "thresholds and drives may be Lorentzian)",
                hint="use one value per population for these, or simulate the network itself",
            )
        # homogeneous: a number, a zero-width Heterogeneity or a constant explicit array
        mem = {nm: _uniform_value(getattr(pop, nm)) for nm in MEMBRANE_PARAMS}
        vt, dv, _ = _center_width(pop.v_theta, f"population {pop.name!r} v_theta")
        eta, de, _ = _center_width(pop.eta, f"population {pop.name!r} eta")
        g, dg, _ = _center_width(pop.g, f"population {pop.name!r} g")
        tr, dtr, _ = _center_width(pop.theta_reset, f"population {pop.name!r} theta_reset")
        if dg != 0 or dtr != 0 or tr != 0:
            raise ParameterError(
                f"population {pop.name!r}: heterogeneous g or a partial reset has no mean field here",
                hint="use homogeneous g and theta_reset = 0",
            )
        pops.append(IzhikevichMFPopulation(
            pop.name, C=mem["C"], k=mem["k"], v_r=mem["v_r"], v_theta=vt, delta_v=dv,
            eta=eta, b=mem["b"], tau_u=mem["tau_u"], kappa=mem["kappa"], E_r=pop.E_syn,
            tau_s=pop.tau_s, delta_eta=de,
        ))
    P = len(pops)
    gpost = np.array([_center_width(p.g, "g")[0] for p in net.populations])
    g = np.repeat(gpost[:, None], P, axis=1)
    return IzhikevichMeanField(pops, J=np.asarray(net.J, dtype=np.float64), g=g)


def network_input_series(net: Any, t_max_ms: float, dt_ms: float) -> np.ndarray:
    """External currents (pA) of the network's populations on the mean-field grid.

    Shape ``(n_steps, P)``, switching at the same grid points as the network simulator.
    """
    from hetfit.models.inputs import compile_segments
    from hetfit.models.meanfield.base import check_time

    n_steps = check_time(t_max_ms, dt_ms)
    seg_start, seg_val = compile_segments([p.I_ext for p in net.populations], dt_ms, n_steps)
    lengths = np.diff(np.append(seg_start, n_steps))
    return np.ascontiguousarray(np.repeat(seg_val, lengths, axis=0))
