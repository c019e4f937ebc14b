"""Theory of diversity-induced trivialization for the rate network (Hutt et al.; seed 002).

Equation numbers refer to Hutt, Trotter, Pariz, Valiante & Lefebvre, "Diversity-induced
trivialization and resilience of neural dynamics" (Chaos 2024; HAL hal-04162586).

Notation: ``sigma_h2`` is the excitability *variance* sigma_h^2 (the paper's axis),
``sigma_w2`` the unconditional weight variance Var[w_ij] (zeros included; see
:attr:`hetfit.models.rate_network.RateNetworkSpec.sigma_w2`), ``n`` the network size and
``beta`` the gain.  The theory assumes zero-mean connectivity (mu_w = 0) and zero-mean
excitability (mu_h = 0), as the paper does.

* Fixed-point spread (Eq. 14): ``sigma_u^2 = N sigma_w^2/4 (1 - 2/sqrt(4 + beta^2 pi^2 sigma_h^2))``.
  ``closure="self_consistent"`` replaces this approximation by the exact Gaussian average
  ``sigma_u^2 = N sigma_w^2/4 E[erf^2(beta X)]``, ``X ~ N(0, sigma_u^2 + sigma_h^2)``, i.e.
  ``(2/pi) arcsin(2 beta^2 v / (1 + 2 beta^2 v))``, solved for sigma_u^2.
* Spectral radius (Eq. 19): ``Gamma = sqrt((N-1) sigma_w^2 beta^2 / (pi sqrt(gamma)))`` with
  ``gamma = 1 + 4 beta^2 (sigma_u^2 + sigma_h^2)``.  (The paper writes ``(N-1) rho sigma_w^2``
  with sigma_w^2 the variance of non-zero weights; both are the same number.)
* Expected number of equilibria (Eq. 11) ``exp(N (log Gamma + (1/Gamma^2 - 1)/2))`` for
  Gamma >= 1 and 1 below; its expansion at Gamma ~ 1 (Eq. 20) ``1 + N (Gamma - 1)^2``.
* Critical heterogeneity (Eq. 21), the first-order solution of Gamma = 1, and the exact root.
* Resilience (Eq. 22): distance ``D = mean_i |u_i^original - u_i^perturbed|`` after a large
  random perturbation, with the return time, over many network realizations.

``rate_offset`` (the constant c subtracted from f, see :mod:`hetfit.models.rate_network`):
the theory is derived for an odd nonlinearity (c = 1/2, paper Eq. 13).  For c != 1/2 the
quenched row sums ``b_i = (1/2 - c) sum_j w_ij`` act as extra excitability of variance
``(N-1) sigma_w^2 (1/2 - c)^2``, which is added to sigma_h^2 (an extension of the paper,
checked against simulations in the tests).

The gradient mean field of Sec. II.B (Eqs. 3-5) is also provided: :func:`mean_field_rate`,
:func:`mean_field_potential`, :func:`mean_field_fixed_points`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.models.rate_network import RateNetworkSpec
from hetfit.seeding import SeedLike, child_seeds

Closure = Literal["paper", "self_consistent"]


# --------------------------------------------------------------------------------------------
# validation helpers
def _check_common(n: float, sigma_w2: float, beta: float) -> None:
    for name, v in (("n", n), ("sigma_w2", sigma_w2), ("beta", beta)):
        if not math.isfinite(float(v)):
            raise ParameterError(f"{name} must be finite, got {v}")
    if n < 2:
        raise ParameterError(f"network size n must be >= 2, got {n}")
    if sigma_w2 < 0:
        raise ParameterError(
            f"sigma_w2 must be >= 0, got {sigma_w2}",
            hint="it is the unconditional weight variance Var[w_ij] (zeros included)",
        )
    if beta <= 0:
        raise ParameterError(f"gain beta must be > 0, got {beta}")


def _as_variance_array(sigma_h2: float | np.ndarray) -> np.ndarray:
    s = np.asarray(sigma_h2, dtype=np.float64)
    if np.any(~np.isfinite(s)):
        raise ParameterError("sigma_h2 contains NaN or inf")
    if np.any(s < 0):
        raise ParameterError(
            "sigma_h2 must be >= 0 (it is a variance)",
            hint="pass the variance sigma_h^2, not a negative number",
        )
    return s


def _closure_check(closure: str) -> None:
    if closure not in ("paper", "self_consistent"):
        raise ParameterError(
            f"unknown closure {closure!r}", hint="use 'paper' (Eq. 14) or 'self_consistent'"
        )


def offset_variance(n: int, sigma_w2: float, rate_offset: float) -> float:
    """Variance ``(N-1) sigma_w^2 (1/2 - c)^2`` of the quenched bias from a non-odd nonlinearity."""
    return (n - 1) * sigma_w2 * (0.5 - rate_offset) ** 2


# --------------------------------------------------------------------------------------------
# Eq. 14 and Eq. 19
def _sigma_u2_scalar(s_eff: float, n: int, sigma_w2: float, beta: float, closure: str) -> float:
    if closure == "paper":
        return n * sigma_w2 / 4.0 * (1.0 - 2.0 / math.sqrt(4.0 + beta**2 * math.pi**2 * s_eff))
    from scipy.optimize import brentq

    scale = (n - 1) * sigma_w2 / 4.0

    def residual(su2: float) -> float:
        v = su2 + s_eff
        return su2 - scale * (2.0 / math.pi) * math.asin(2 * beta**2 * v / (1 + 2 * beta**2 * v))

    if s_eff == 0.0:
        return 0.0  # u = 0 is the fixed point of the odd, homogeneous network
    # residual(0) < 0 and residual(scale) >= 0 because arcsin(.)*2/pi < 1.
    return float(brentq(residual, 0.0, scale, xtol=1e-15, rtol=1e-12))


def fixed_point_variance(
    sigma_h2: float | np.ndarray,
    *,
    n: int,
    sigma_w2: float,
    beta: float,
    rate_offset: float = 0.5,
    closure: Closure = "paper",
) -> np.ndarray:
    """Spread sigma_u^2 of the fixed-point coordinates (paper Eq. 14).

    Returns the variance of ``sum_j w_ij (f_j - 1/2)``; for ``rate_offset != 1/2`` the quenched
    bias variance :func:`offset_variance` comes on top of it in the fixed point itself.
    """
    _check_common(n, sigma_w2, beta)
    _closure_check(closure)
    s = _as_variance_array(sigma_h2)
    extra = offset_variance(n, sigma_w2, rate_offset)
    out = np.vectorize(lambda x: _sigma_u2_scalar(x + extra, n, sigma_w2, beta, closure))(s)
    return np.asarray(out, dtype=np.float64)


def spectral_radius(
    sigma_h2: float | np.ndarray,
    *,
    n: int,
    sigma_w2: float,
    beta: float,
    rate_offset: float = 0.5,
    closure: Closure = "paper",
) -> np.ndarray:
    """Spectral radius Gamma of ``W diag(f'(u*))`` at the fixed point (paper Eq. 19).

    The eigenvalues of the Jacobian ``J = -I + W diag(f')`` fill a disk of radius Gamma
    around -1; the fixed point is stable for Gamma < 1.
    """
    s = _as_variance_array(sigma_h2)
    su2 = fixed_point_variance(s, n=n, sigma_w2=sigma_w2, beta=beta,
                               rate_offset=rate_offset, closure=closure)
    s_eff = s + offset_variance(n, sigma_w2, rate_offset)
    gamma = 1.0 + 4.0 * beta**2 * (su2 + s_eff)
    return np.sqrt((n - 1) * sigma_w2 * beta**2 / (math.pi * np.sqrt(gamma)))


# --------------------------------------------------------------------------------------------
# Eq. 11 / Eq. 20
def expected_equilibria_from_radius(
    gamma_radius: float | np.ndarray, n: int, form: Literal["eq11", "eq20"] = "eq11"
) -> np.ndarray:
    """Expected number of equilibria from the spectral radius (Eq. 11, or Eq. 20 expansion).

    Both give 1 for Gamma < 1 (a unique fixed point, Banach).  Eq. 11 is
    ``exp(N (log Gamma + (1/Gamma^2 - 1)/2))``; Eq. 20 its expansion ``1 + N (Gamma - 1)^2``
    at the threshold.
    """
    g = np.asarray(gamma_radius, dtype=np.float64)
    if np.any(~np.isfinite(g)) or np.any(g < 0):
        raise ParameterError("spectral radius must be finite and >= 0")
    if form == "eq11":
        with np.errstate(over="ignore"):
            above = np.exp(n * (np.log(np.maximum(g, 1.0)) + 0.5 * (1.0 / np.maximum(g, 1.0) ** 2 - 1.0)))
    elif form == "eq20":
        above = 1.0 + n * (g - 1.0) ** 2
    else:
        raise ParameterError(f"unknown form {form!r}", hint="use 'eq11' or 'eq20'")
    return np.where(g >= 1.0, above, 1.0)


def expected_equilibria(
    sigma_h2: float | np.ndarray,
    *,
    n: int,
    sigma_w2: float,
    beta: float,
    rate_offset: float = 0.5,
    closure: Closure = "paper",
    form: Literal["eq11", "eq20"] = "eq20",
) -> np.ndarray:
    """Expected number of equilibria <N>(sigma_h^2): Eq. 19 inserted into Eq. 20 (or Eq. 11)."""
    g = spectral_radius(sigma_h2, n=n, sigma_w2=sigma_w2, beta=beta,
                        rate_offset=rate_offset, closure=closure)
    return expected_equilibria_from_radius(g, n, form)


# --------------------------------------------------------------------------------------------
# Eq. 21
def critical_heterogeneity(
    *,
    n: int,
    sigma_w2: float,
    beta: float,
    rate_offset: float = 0.5,
    method: Literal["eq21", "exact"] = "eq21",
    closure: Closure = "paper",
) -> float:
    """Critical excitability variance sigma_{h,c}^2 at which Gamma = 1.

    ``method="eq21"``: the paper's first-order formula
    ``8/(pi^2 beta^2) (N^2 beta^4 sigma_w^4 - pi^2) / (N sigma_w^2 pi^2 beta^2 + 32)``;
    ``method="exact"``: the root of Eq. 19 (with the chosen closure).  Returns 0 when the
    homogeneous network is already below the transition (no heterogeneity needed).
    """
    _check_common(n, sigma_w2, beta)
    extra = offset_variance(n, sigma_w2, rate_offset)
    if method == "eq21":
        a = n * sigma_w2 * beta**2
        s_eff = 8.0 / (math.pi**2 * beta**2) * (a**2 - math.pi**2) / (a * math.pi**2 + 32.0)
        return max(0.0, s_eff - extra)
    if method != "exact":
        raise ParameterError(f"unknown method {method!r}", hint="use 'eq21' or 'exact'")
    from scipy.optimize import brentq

    def excess(s: float) -> float:
        return float(spectral_radius(s, n=n, sigma_w2=sigma_w2, beta=beta,
                                     rate_offset=rate_offset, closure=closure)) - 1.0

    if excess(0.0) <= 0.0:
        return 0.0
    hi = 1.0 / beta**2
    while excess(hi) > 0.0:
        hi *= 4.0
        if hi > 1e12:
            raise ParameterError(
                "the spectral radius never falls below 1 for these parameters",
                hint="check sigma_w2 and beta",
            )
    return float(brentq(excess, 0.0, hi, xtol=1e-16, rtol=1e-10))


def theory_parameters(spec: RateNetworkSpec) -> dict[str, float]:
    """Keyword arguments (n, sigma_w2, beta, rate_offset) of the theory functions for ``spec``.

    Raises :class:`ParameterError` when the spec violates the theory's assumptions
    (mu_w = 0, mu_h = 0, Gaussian excitability).
    """
    if abs(spec.mu_w) > 1e-12 * max(1.0, abs(spec.mu_e)):
        raise ParameterError(
            f"the trivialization theory assumes zero-mean connectivity, got mu_w={spec.mu_w:g}",
            hint="leave mu_i=None (balanced) or pick mu_i = g/(g-1) mu_e",
        )
    if spec.excitability.center != 0.0 or spec.excitability.family not in ("gaussian", "none"):
        raise ParameterError(
            "the trivialization theory assumes Gaussian excitability with mean mu_h = 0",
            hint="use Heterogeneity(0.0, sigma_h, family='gaussian')",
        )
    return {"n": int(spec.n), "sigma_w2": float(spec.sigma_w2), "beta": float(spec.beta),
            "rate_offset": float(spec.rate_offset)}


# --------------------------------------------------------------------------------------------
# Gradient mean field, Eqs. 3-5
def mean_field_rate(u: float | np.ndarray, mu_h: float, sigma_h2: float, beta: float) -> np.ndarray:
    """Population-averaged rate F(u) = (1 + erf(beta (u + mu_h) / sqrt(1 + 2 beta^2 sigma_h^2)))/2 (Eq. 4)."""
    from scipy.special import erf

    s = float(_as_variance_array(sigma_h2))
    c = math.sqrt(1.0 + 2.0 * beta**2 * s)
    return 0.5 * (1.0 + erf(beta * (np.asarray(u, dtype=np.float64) + mu_h) / c))


def mean_field_potential(
    u: float | np.ndarray, x0: float, mu_h: float, sigma_h2: float, beta: float
) -> np.ndarray:
    """Potential V(u) with ``du/dt = -dV/du = -u + x0 F(u)`` (Eq. 5, derived anew; V(-mu_h) offset free).

    ``V(u) = u^2/2 - x0/2 [u + (c/beta)(z erf(z) + exp(-z^2)/sqrt(pi))]``,
    ``z = beta (u + mu_h)/c``, ``c = sqrt(1 + 2 beta^2 sigma_h^2)``.
    """
    from scipy.special import erf

    s = float(_as_variance_array(sigma_h2))
    c = math.sqrt(1.0 + 2.0 * beta**2 * s)
    u = np.asarray(u, dtype=np.float64)
    z = beta * (u + mu_h) / c
    return 0.5 * u**2 - 0.5 * x0 * (u + (c / beta) * (z * erf(z) + np.exp(-(z**2)) / math.sqrt(math.pi)))


def mean_field_fixed_points(
    x0: float, mu_h: float, sigma_h2: float, beta: float, grid: int = 20001
) -> np.ndarray:
    """All roots of ``-u + x0 F(u) = 0`` (Eq. 3), found by sign changes on a fine grid + brentq."""
    from scipy.optimize import brentq

    lo, hi = min(0.0, x0) - 1.0, max(0.0, x0) + 1.0  # roots lie in x0*[0, 1]
    us = np.linspace(lo, hi, int(grid))

    def g(v: float | np.ndarray) -> np.ndarray:
        return -np.asarray(v) + x0 * mean_field_rate(v, mu_h, sigma_h2, beta)

    vals = g(us)
    roots = []
    for k in np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) <= 0)[0]:
        if vals[k] == 0.0:
            roots.append(us[k])
        elif vals[k + 1] != 0.0:
            roots.append(brentq(lambda v: float(g(v)), us[k], us[k + 1], xtol=1e-14))
    return np.unique(np.round(np.asarray(roots, dtype=np.float64), 12))


# --------------------------------------------------------------------------------------------
# Eq. 22: resilience distance
@dataclass
class ResilienceResult:
    """Per-trial outcome of the Eq. 22 protocol (one new network realization per trial).

    Attributes
    ----------
    distance:
        D per trial (NaN where either relaxation did not reach its criterion).
    return_time:
        Time (dimensionless) from the perturbation until ``mean |du/dt| < tol_final``
        (NaN when not reached within ``t_max``).
    settled_before, settled_after:
        Whether the pre-perturbation and post-perturbation relaxations met their criteria.
    diverged:
        Trials whose state became non-finite.
    """

    distance: np.ndarray
    return_time: np.ndarray
    settled_before: np.ndarray
    settled_after: np.ndarray
    diverged: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def n_valid(self) -> int:
        return int(np.count_nonzero(np.isfinite(self.distance)))

    def summary(self, resilient_below: float = 1e-3) -> dict[str, float]:
        """Counts and averages over trials.

        ``fraction_not_resilient``: among trials whose reference state settled, the fraction
        that either did not return to a stationary state or returned to one at distance
        ``D >= resilient_below``.
        """
        d = self.distance[np.isfinite(self.distance)]
        rt = self.return_time[np.isfinite(self.return_time)]
        n_ref = int(np.count_nonzero(self.settled_before))
        not_back = int(np.count_nonzero(self.settled_before & ~self.settled_after))
        nan = float("nan")
        return {
            "n_trials": int(self.distance.size),
            "n_no_reference_state": int(self.distance.size - n_ref),
            "n_not_returned": not_back,
            "n_valid": int(d.size),
            "n_diverged": int(np.count_nonzero(self.diverged)),
            "mean_distance": float(d.mean()) if d.size else nan,
            "median_distance": float(np.median(d)) if d.size else nan,
            "fraction_not_resilient": (
                (not_back + int(np.count_nonzero(d >= resilient_below))) / n_ref if n_ref else nan
            ),
            "mean_return_time": float(rt.mean()) if rt.size else nan,
        }


def _relax(weights, h, beta, offset, u, dt, tol, t_max, active):
    """Euler-integrate a batch (K, N) until mean |du/dt| < tol per row; returns (u, t_hit)."""
    from scipy.special import erf

    k = u.shape[0]
    t_hit = np.full(k, np.nan)
    n_steps = int(math.ceil(t_max / dt))
    todo = active.copy()
    for step in range(n_steps + 1):
        idx = np.nonzero(todo)[0]
        if idx.size == 0:
            break
        f = 0.5 * (1.0 + erf(beta * (u[idx] + h[idx]))) - offset
        du = -u[idx] + np.einsum("kij,kj->ki", weights[idx], f)
        bad = ~np.all(np.isfinite(du), axis=1)
        done = (np.mean(np.abs(du), axis=1) < tol) & ~bad
        t_hit[idx[done]] = step * dt
        todo[idx[done | bad]] = False
        if bad.any():
            u[idx[bad]] = np.nan
        if step == n_steps:
            break
        go = ~(done | bad)
        u[idx[go]] += dt * du[go]
    return u, t_hit


def resilience_distance(
    spec: RateNetworkSpec,
    *,
    n_trials: int = 50,
    seed: SeedLike = None,
    amplitude: float = 500.0,
    dt: float = 0.05,
    tol_before: float = 1e-6,
    tol_after: float = 1e-6,
    t_max: float = 2000.0,
    batch: int = 32,
) -> ResilienceResult:
    """Resilience protocol of Hutt et al. (Sec. III.A, Eq. 22) on ``n_trials`` realizations.

    Each trial draws new weights and excitabilities (seeded per trial via ``child_seeds``),
    starts from ``u_i ~ U[0, 1]``, relaxes (Euler, step ``dt`` = 0.05 as in the paper) until
    ``mean_i |du_i/dt| < tol_before``, adds ``Y_i ~ U[-amplitude, amplitude]`` (500 in the
    paper) and relaxes until ``mean_i |du_i/dt| < tol_after``.  Then
    ``D = mean_i |u_i^original - u_i^perturbed|``; the return time is the time needed after
    the perturbation.  The paper used ``tol_before=1e-3, tol_after=1e-4``; the looser first
    criterion leaves the reference state up to ~1e-3 away from its fixed point, which then
    shows up as a floor of D, so tighter defaults are used here.  Trials that do not settle
    within ``t_max`` (e.g. chaotic ones below the critical heterogeneity) get D = NaN and are
    counted in :meth:`ResilienceResult.summary`.
    """
    for name, v in (("amplitude", amplitude), ("dt", dt), ("tol_before", tol_before),
                    ("tol_after", tol_after), ("t_max", t_max)):
        if not (math.isfinite(v) and v > 0):
            raise ParameterError(f"{name} must be a finite number > 0, got {v}")
    if int(n_trials) != n_trials or n_trials < 1:
        raise ParameterError(f"n_trials must be a positive integer, got {n_trials}")
    if int(batch) != batch or batch < 1:
        raise ParameterError(f"batch must be a positive integer, got {batch}")
    n_trials = int(n_trials)
    seeds = child_seeds(seed, n_trials)
    n = int(spec.n)
    out_d = np.full(n_trials, np.nan)
    out_t = np.full(n_trials, np.nan)
    ok_before = np.zeros(n_trials, dtype=bool)
    ok_after = np.zeros(n_trials, dtype=bool)
    diverged = np.zeros(n_trials, dtype=bool)
    for start in range(0, n_trials, int(batch)):
        ids = range(start, min(n_trials, start + int(batch)))
        nets, u0, kicks = [], [], []
        for i in ids:
            rng = np.random.default_rng(int(seeds[i]))
            nets.append(spec.build(rng))
            u0.append(rng.uniform(0.0, 1.0, n))
            kicks.append(rng.uniform(-amplitude, amplitude, n))
        w = np.stack([net.weights for net in nets])
        h = np.stack([net.h for net in nets])
        u, t1 = _relax(w, h, spec.beta, spec.rate_offset, np.stack(u0), dt, tol_before, t_max,
                       np.ones(len(nets), dtype=bool))
        before = np.isfinite(t1)
        reference = u.copy()
        u2, t2 = _relax(w, h, spec.beta, spec.rate_offset, u + np.stack(kicks), dt, tol_after,
                        t_max, before)
        after = np.isfinite(t2)
        sl = slice(start, start + len(nets))
        ok_before[sl], ok_after[sl] = before, after
        diverged[sl] = ~np.all(np.isfinite(u), axis=1) | ~np.all(np.isfinite(u2), axis=1)
        good = before & after
        out_d[sl] = np.where(good, np.mean(np.abs(reference - u2), axis=1), np.nan)
        out_t[sl] = np.where(good, t2, np.nan)
    params = {"spec": spec.to_dict(), "amplitude": amplitude, "dt": dt, "tol_before": tol_before,
              "tol_after": tol_after, "t_max": t_max, "n_trials": n_trials}
    return ResilienceResult(out_d, out_t, ok_before, ok_after, diverged, params)
