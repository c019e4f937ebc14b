"""Sparse random rate network with heterogeneous excitability (Hutt et al.; seed 002).

Model (Hutt, Trotter, Pariz, Valiante & Lefebvre, *Chaos* 2024, "Diversity-induced
trivialization and resilience of neural dynamics", Eq. 1), time in units of the relaxation
time (dimensionless)::

    du_i/dt = -u_i + sum_j w_ij (f_j(u_j) - c) + I_i(t)
    f_j(u)  = (1 + erf(beta (u + h_j))) / 2          h_j ~ N(mu_h, sigma_h^2)

``c`` (``rate_offset``) is 0 in the paper's Eq. 1.  The paper's theory (Eq. 13: "f and
rho(u) are anti-symmetric and symmetric to the origin") treats the nonlinearity as odd,
i.e. ``c = 1/2``.  With ``c = 0`` the quenched row sums ``sum_j w_ij / 2`` act as an extra
per-neuron bias of variance ``N sigma_w^2 / 4``; :mod:`hetfit.models.rate_theory` accounts
for it (``rate_offset`` argument), so both conventions can be compared with the theory.

Weights (the paper's weighted Erdős–Rényi graph): every ordered pair ``i != j`` is connected
with probability ``rho``; a connection is excitatory with probability ``g`` and then drawn
from ``N(mu_e, sigma_e^2)``, otherwise from ``N(mu_i, sigma_i^2)``.  The default
``mu_i = g/(g-1) mu_e`` makes the connectivity balanced (``E[w_ij] = 0``).  Unconditional
moments (zeros included)::

    mu_w      = rho (g mu_e + (1-g) mu_i)
    sigma_w^2 = rho (g (sigma_e^2 + mu_e^2) + (1-g)(sigma_i^2 + mu_i^2)) - mu_w^2

(the paper prints ``rho(g sigma_e^2 + (1-g) sigma_i^2 + g mu_w^2/(1-g))``, which equals the
above for the balanced case once its ``mu_w`` is read as ``mu_e``).

Defaults are the parameters of the paper's Fig. 2 (N = 100, rho = 0.05, g = 0.8,
mu_e = 0.005, beta = 25, sigma_e^2 = sigma_i^2 = 0.0015).

A :class:`RateNetworkSpec` is data; :meth:`RateNetworkSpec.build` draws one realization
(weights and excitabilities) as a :class:`RateNetwork`, which simulates, finds fixed points
and evaluates the Jacobian ``J = -I + W diag(f'(u))``.  Weights are stored dense: the
networks of this model class (N up to a few thousand) fit easily and dense BLAS products
are the fastest option at these sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hetfit.errors import ParameterError, SimulationError
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.seeding import SeedLike, as_generator

_SQRT_PI = math.sqrt(math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(float(value)):
        raise ParameterError(f"{name} must be a finite number, got {value}", hint="give a number")


@dataclass(frozen=True)
class RateNetworkSpec:
    """Parameters of the Hutt et al. rate network (dimensionless units).

    Parameters
    ----------
    n:
        Number of units N.
    connection_prob:
        Erdős–Rényi connection probability rho (self-connections excluded).
    exc_fraction:
        Probability g that a connection is excitatory.
    mu_e, var_e:
        Mean and variance of excitatory weights.
    mu_i, var_i:
        Mean and variance of inhibitory weights; ``mu_i=None`` gives the balanced value
        ``g/(g-1) mu_e`` (zero mean connectivity).
    beta:
        Gain of the erf nonlinearity.
    excitability:
        Distribution of h_j (Gaussian ``N(mu_h, sigma_h^2)`` in the paper; ``width`` is the
        standard deviation sigma_h).  Drawn at random per realization.
    rate_offset:
        Constant c subtracted from f before coupling: 0 is the paper's Eq. 1, 0.5 the odd
        nonlinearity its theory assumes.
    """

    n: int = 100
    connection_prob: float = 0.05
    exc_fraction: float = 0.8
    mu_e: float = 0.005
    var_e: float = 0.0015
    mu_i: float | None = None
    var_i: float = 0.0015
    beta: float = 25.0
    excitability: Heterogeneity = field(
        default_factory=lambda: Heterogeneity(0.0, 0.0, family="gaussian", sampling="random")
    )
    rate_offset: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or int(self.n) != self.n or self.n < 2:
            raise ParameterError(
                f"rate network size n must be an integer >= 2, got {self.n}",
                hint="use e.g. n=100 as in Hutt et al. Fig. 2",
            )
        for name in ("connection_prob", "exc_fraction", "mu_e", "var_e", "var_i", "beta",
                     "rate_offset"):
            _check_finite(name, getattr(self, name))
        if self.mu_i is not None:
            _check_finite("mu_i", self.mu_i)
        if not 0.0 < self.connection_prob <= 1.0:
            raise ParameterError(
                f"connection_prob must be in (0, 1], got {self.connection_prob}",
                hint="it is the Erdős–Rényi connection probability rho",
            )
        if not 0.0 <= self.exc_fraction <= 1.0:
            raise ParameterError(f"exc_fraction must be in [0, 1], got {self.exc_fraction}")
        if self.mu_i is None and self.exc_fraction == 1.0:
            raise ParameterError(
                "the balanced inhibitory mean g/(g-1) mu_e is undefined for exc_fraction = 1",
                hint="give mu_i explicitly or use exc_fraction < 1",
            )
        if self.var_e < 0 or self.var_i < 0:
            raise ParameterError(
                f"weight variances must be >= 0, got var_e={self.var_e}, var_i={self.var_i}"
            )
        if self.beta <= 0:
            raise ParameterError(f"gain beta must be > 0, got {self.beta}")
        if not isinstance(self.excitability, Heterogeneity):
            raise ParameterError(
                "excitability must be a hetfit.models.heterogeneity.Heterogeneity",
                hint="e.g. Heterogeneity(0.0, sigma_h, family='gaussian', sampling='random')",
            )

    # -- connectivity moments --------------------------------------------------------------
    @property
    def inhibitory_mean(self) -> float:
        """mu_i actually used (balanced value when ``mu_i`` is None)."""
        if self.mu_i is not None:
            return float(self.mu_i)
        g = self.exc_fraction
        return g / (g - 1.0) * self.mu_e

    @property
    def mu_w(self) -> float:
        """Unconditional mean weight E[w_ij] (zeros included)."""
        g, rho = self.exc_fraction, self.connection_prob
        return rho * (g * self.mu_e + (1.0 - g) * self.inhibitory_mean)

    @property
    def sigma_w2(self) -> float:
        """Unconditional weight variance Var[w_ij] (zeros included)."""
        g, rho, mi = self.exc_fraction, self.connection_prob, self.inhibitory_mean
        second = rho * (g * (self.var_e + self.mu_e**2) + (1.0 - g) * (self.var_i + mi**2))
        return second - self.mu_w**2

    @property
    def sigma_h2(self) -> float:
        """Excitability variance sigma_h^2 (the paper's heterogeneity axis)."""
        return float(self.excitability.width) ** 2

    def with_sigma_h(self, sigma_h: float) -> RateNetworkSpec:
        """Copy with excitability standard deviation ``sigma_h`` (same family and mean)."""
        return replace(self, excitability=replace(self.excitability, width=float(sigma_h)))

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("n", "connection_prob", "exc_fraction", "mu_e",
                                            "var_e", "mu_i", "var_i", "beta", "rate_offset")}
        d["excitability"] = self.excitability.to_dict()
        return d

    # -- realization ------------------------------------------------------------------------
    def draw_weights(self, seed: SeedLike = None) -> np.ndarray:
        """One dense weight matrix ``W[i, j]`` (j -> i), shape (n, n), zero diagonal."""
        rng = as_generator(seed)
        n = int(self.n)
        connected = rng.random((n, n)) < self.connection_prob
        np.fill_diagonal(connected, False)
        excitatory = rng.random((n, n)) < self.exc_fraction
        z = rng.standard_normal((n, n))
        w = np.where(
            excitatory,
            self.mu_e + math.sqrt(self.var_e) * z,
            self.inhibitory_mean + math.sqrt(self.var_i) * z,
        )
        return np.where(connected, w, 0.0)

    def build(self, seed: SeedLike = None) -> RateNetwork:
        """Draw weights and excitabilities (independent streams of one seed)."""
        rng = as_generator(seed)
        w_seed, h_seed = rng.integers(0, 2**63 - 1, size=2)
        weights = self.draw_weights(int(w_seed))
        h = self.excitability.sample(int(self.n), seed=int(h_seed))
        return RateNetwork(weights=weights, h=h, beta=float(self.beta),
                           rate_offset=float(self.rate_offset), spec=self)


@dataclass
class RateTrajectory:
    """Result of :meth:`RateNetwork.simulate`.

    Attributes
    ----------
    t:
        Sample times (dimensionless), shape (n_samples,).
    u:
        States, shape (n_samples, N).
    diverged:
        True when the state became non-finite; ``u`` must not be used then.
    """

    t: np.ndarray
    u: np.ndarray
    diverged: bool = False

    @property
    def final(self) -> np.ndarray:
        return self.u[-1]


@dataclass
class RateNetwork:
    """One realization of the rate network: weights ``W`` (j -> i) and excitabilities ``h``."""

    weights: np.ndarray
    h: np.ndarray
    beta: float = 25.0
    rate_offset: float = 0.0
    spec: RateNetworkSpec | None = None

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.h = np.asarray(self.h, dtype=np.float64)
        n = self.h.shape[0] if self.h.ndim == 1 else -1
        if self.weights.ndim != 2 or self.weights.shape != (n, n):
            raise ParameterError(
                f"weights must be square (N, N) and h of length N; got weights "
                f"{self.weights.shape}, h {self.h.shape}",
                hint="W[i, j] is the weight from unit j to unit i",
            )
        if not (np.all(np.isfinite(self.weights)) and np.all(np.isfinite(self.h))):
            raise ParameterError("weights and h must be finite (found NaN or inf)")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ParameterError(f"gain beta must be a finite number > 0, got {self.beta}")

    @property
    def n(self) -> int:
        return int(self.h.shape[0])

    # -- nonlinearity -----------------------------------------------------------------------
    def rates(self, u: np.ndarray) -> np.ndarray:
        """f_j(u_j) = (1 + erf(beta (u_j + h_j))) / 2, in [0, 1]."""
        return 0.5 * (1.0 + _erf(self.beta * (u + self.h)))

    def slopes(self, u: np.ndarray) -> np.ndarray:
        """f_j'(u_j) = beta/sqrt(pi) exp(-beta^2 (u_j + h_j)^2)."""
        return self.beta / _SQRT_PI * np.exp(-((self.beta * (u + self.h)) ** 2))

    def rhs(self, u: np.ndarray, drive: np.ndarray | float = 0.0) -> np.ndarray:
        """du/dt = -u + W (f(u) - c) + drive; works on (N,) or batched (K, N) states."""
        coupled = (self.rates(u) - self.rate_offset) @ self.weights.T
        return -u + coupled + drive

    def jacobian(self, u: np.ndarray) -> np.ndarray:
        """J = -I + W diag(f'(u)) (paper Eq. 15)."""
        return self.weights * self.slopes(u)[None, :] - np.eye(self.n)

    def spectral_radius(self, u: np.ndarray) -> float:
        """Largest |eigenvalue| of ``J + I = W diag(f'(u))`` (radius of the disk around -1)."""
        ev = np.linalg.eigvals(self.weights * self.slopes(u)[None, :])
        return float(np.max(np.abs(ev)))

    # -- dynamics ---------------------------------------------------------------------------
    def simulate(
        self,
        t_max: float,
        dt: float = 0.05,
        u0: np.ndarray | None = None,
        drive: np.ndarray | float = 0.0,
        record_every: int = 1,
    ) -> RateTrajectory:
        """Integrate with exponential Euler (exact for the linear leak) of step ``dt``.

        ``u0`` defaults to zeros.  Returns states every ``record_every`` steps; a non-finite
        state stops the run and sets ``diverged``.
        """
        _check_step(t_max, dt)
        if int(record_every) != record_every or record_every < 1:
            raise ParameterError(f"record_every must be a positive integer, got {record_every}")
        u = self._initial(u0)
        drive_arr = np.asarray(drive, dtype=np.float64)
        if drive_arr.ndim > 1 or (drive_arr.ndim == 1 and drive_arr.shape != (self.n,)):
            raise ParameterError(f"drive must be a number or have shape ({self.n},), "
                                 f"got shape {drive_arr.shape}")
        if not np.all(np.isfinite(drive_arr)):
            raise ParameterError("drive contains NaN or inf")
        n_steps = int(round(t_max / dt))
        decay = math.exp(-dt)
        ts, us = [0.0], [u.copy()]
        diverged = False
        for k in range(1, n_steps + 1):
            with np.errstate(over="ignore", invalid="ignore"):  # flagged below instead
                target = (self.rates(u) - self.rate_offset) @ self.weights.T + drive_arr
                u = target + (u - target) * decay
            if k % record_every == 0 or k == n_steps:
                if not np.all(np.isfinite(u)):
                    diverged = True
                    ts.append(k * dt)
                    us.append(u.copy())
                    break
                ts.append(k * dt)
                us.append(u.copy())
        return RateTrajectory(np.asarray(ts), np.asarray(us), diverged=diverged)

    def _initial(self, u0: np.ndarray | None) -> np.ndarray:
        if u0 is None:
            return np.zeros(self.n)
        u = np.array(u0, dtype=np.float64)
        if u.shape != (self.n,):
            raise ParameterError(f"u0 must have shape ({self.n},), got {u.shape}")
        if not np.all(np.isfinite(u)):
            raise ParameterError("u0 contains NaN or inf")
        return u

    # -- equilibria -------------------------------------------------------------------------
    def fixed_point(
        self,
        u0: np.ndarray | None = None,
        tol: float = 1e-10,
        max_iter: int = 100,
    ) -> np.ndarray:
        """A fixed point ``u* = W (f(u*) - c)``.

        Without ``u0`` the fixed point is followed by continuation in the coupling strength:
        ``u = lam W (f(u) - c)`` is solved for ``lam`` from 0 (where ``u = 0``) to 1, each step
        by damped Newton iterations started from the previous solution (steps are halved
        when Newton fails).  This picks the branch connected to the uncoupled state, also
        beyond the May-Wigner transition where that fixed point is unstable.  With ``u0``,
        damped Newton runs from ``u0``.  Raises :class:`SimulationError` when
        ``max |du/dt| < tol`` is not reached.
        """
        if u0 is not None:
            u, ok = self._newton(self._initial(u0), 1.0, tol, max_iter)
        else:
            u, ok = self._continuation(tol, max_iter)
        if not ok:
            raise SimulationError(
                "no fixed point found",
                hint="try another starting point u0 (e.g. a simulated state) or find_equilibria()",
            )
        return u

    def _newton(
        self, u: np.ndarray, lam: float, tol: float, max_iter: int
    ) -> tuple[np.ndarray, bool]:
        """Damped Newton for ``-u + lam W (f(u) - c) = 0`` with backtracking on ||F||."""

        def resid(v: np.ndarray) -> np.ndarray:
            return -v + lam * ((self.rates(v) - self.rate_offset) @ self.weights.T)

        eye = np.eye(self.n)
        r = resid(u)
        norm = float(np.max(np.abs(r)))
        for _ in range(int(max_iter)):
            if norm < tol:
                return u, True
            jac = lam * self.weights * self.slopes(u)[None, :] - eye
            try:
                step = np.linalg.solve(jac, -r)
            except np.linalg.LinAlgError:
                return u, False
            t = 1.0
            while t > 1e-6:
                trial = u + t * step
                r_trial = resid(trial)
                n_trial = float(np.max(np.abs(r_trial)))
                if np.isfinite(n_trial) and n_trial < (1.0 - 0.25 * t) * norm:
                    break
                t *= 0.5
            else:
                return u, False
            u, r, norm = trial, r_trial, n_trial
        return u, bool(norm < tol)

    def _continuation(self, tol: float, max_iter: int) -> tuple[np.ndarray, bool]:
        u = np.zeros(self.n)
        lam, step = 0.0, 0.1
        while lam < 1.0:
            target = min(1.0, lam + step)
            v, ok = self._newton(u, target, tol, max_iter)
            if ok:
                u, lam = v, target
                step = min(0.25, step * 1.5)
            else:
                step *= 0.5
                if step < 1e-4:
                    return u, False
        return u, True

    def find_equilibria(
        self,
        n_starts: int = 200,
        seed: SeedLike = None,
        spread: float | None = None,
        tol: float = 1e-10,
        dedup_tol: float = 1e-6,
    ) -> np.ndarray:
        """Distinct fixed points: the continuation branch plus ``n_starts`` random starts.

        The fixed point reached by continuation (:meth:`fixed_point`) comes first.  Starts are
        Gaussian around zero with standard deviations spread log-uniformly between
        ``spread/10`` and ``spread`` (default ``spread``: the larger of the typical input size
        ``sqrt(sum_ij w_ij^2 / N)``, the excitability spread and ``1/beta``); each is refined
        by damped Newton iterations and solutions closer than ``dedup_tol`` (max-norm) are
        merged.  The result (shape (n_found, N)) is a lower bound on the number of
        equilibria.
        """
        if int(n_starts) != n_starts or n_starts < 1:
            raise ParameterError(f"n_starts must be a positive integer, got {n_starts}")
        rng = as_generator(seed)
        if spread is None:
            scale = float(np.sqrt(np.sum(self.weights**2) / self.n))
            spread = max(scale, float(np.std(self.h)), 1.0 / self.beta)
        if not (math.isfinite(spread) and spread > 0):
            raise ParameterError(f"spread must be > 0, got {spread}")
        found: list[np.ndarray] = []

        def add(u: np.ndarray) -> None:
            if not any(np.max(np.abs(u - v)) < dedup_tol for v in found):
                found.append(u)

        u, ok = self._continuation(tol, 100)
        if ok:
            add(u)
        widths = spread * 10.0 ** rng.uniform(-1.0, 0.0, int(n_starts))
        for width in widths:
            u, ok = self._newton(rng.normal(0.0, width, self.n), 1.0, tol, 100)
            if ok:
                add(u)
        return np.asarray(found).reshape(len(found), self.n)


def _check_step(t_max: float, dt: float) -> None:
    if not (math.isfinite(dt) and dt > 0):
        raise ParameterError(f"time step dt must be > 0, got {dt}", hint="e.g. dt=0.05")
    if not (math.isfinite(t_max) and t_max > 0):
        raise ParameterError(f"duration t_max must be > 0, got {t_max}")
    if dt > t_max:
        raise ParameterError(f"dt={dt} exceeds the duration t_max={t_max}")
