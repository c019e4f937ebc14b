"""Parametric families for a within-type distribution: fits, goodness of fit, model choice.

Families
--------
``gaussian``
    ``N(loc, scale^2)``; width = SD ``scale``.
``lognormal``
    ``log x ~ N(log median, sigma^2)``; only for strictly positive features (rheobase, tau,
    input resistance).  Width = ``sigma`` (dimensionless).
``lorentzian``
    Cauchy with location ``loc`` and half-width at half-maximum ``scale`` (Delta), fitted by
    maximum likelihood.  This is the heterogeneity exact mean-field reductions accept.
``lorentzian_mixK`` (K >= 2, e.g. ``lorentzian_mix2``)
    ``sum_k w_k Cauchy(loc_k, scale_k)``, fitted by EM with several starts.  A mean field
    accepts it as K sub-populations, each with its own Lorentzian.

Goodness of fit
---------------
Every fit reports AIC, BIC, the Kolmogorov-Smirnov distance ``D`` and two p-values:
``ks_p_naive`` from the KS distribution (valid only for a *fixed* hypothesised
distribution: with parameters fitted to the same data it is far too optimistic), and
``ks_p``, a parametric-bootstrap (Lilliefors-type) p-value: ``n_gof`` data sets are drawn
from the fitted model, refitted, and their KS distances give the null distribution of
``D``.  Use ``ks_p``.  Model choice is by lowest AIC among the families that could be fitted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.distributions.bootstrap import weighted_cauchy_mle
from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.seeding import SeedLike, as_generator

#: Families fitted by default.
DEFAULT_FAMILIES: tuple[str, ...] = ("gaussian", "lognormal", "lorentzian", "lorentzian_mix2")
_SINGLE = ("gaussian", "lognormal", "lorentzian")
_MIX = re.compile(r"^lorentzian_mix(\d+)$")
_LOG_PI = math.log(math.pi)


def parse_family(name: str) -> tuple[str, int]:
    """``(base, n_components)`` of a family name; raises for unknown names."""
    if name in _SINGLE:
        return name, 1
    m = _MIX.match(str(name))
    if m and int(m.group(1)) >= 2:
        return "lorentzian_mix", int(m.group(1))
    raise ParameterError(
        f"unknown distribution family {name!r}",
        hint="use gaussian, lognormal, lorentzian or lorentzian_mixK with K >= 2 "
        "(e.g. lorentzian_mix2)",
    )


def n_parameters(name: str) -> int:
    base, k = parse_family(name)
    return 2 if base in _SINGLE else 3 * k - 1


# ---------------------------------------------------------------------------------------
# densities and CDFs (vectorized over data sets: params are arrays of shape (B,) or (B, K))
# ---------------------------------------------------------------------------------------
def _logpdf(name: str, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    from scipy.special import logsumexp

    base, _ = parse_family(name)
    if base == "gaussian":
        z = (x - p["loc"][..., None]) / p["scale"][..., None]
        return -0.5 * z * z - np.log(p["scale"][..., None]) - 0.5 * math.log(2 * math.pi)
    if base == "lognormal":
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.log(x)
            z = (lx - np.log(p["median"])[..., None]) / p["sigma"][..., None]
            out = -0.5 * z * z - np.log(p["sigma"][..., None]) - lx - 0.5 * math.log(2 * math.pi)
        return np.where(x > 0, out, -np.inf)
    if base == "lorentzian":
        g = p["scale"][..., None]
        return np.log(g) - _LOG_PI - np.log(g * g + (x - p["loc"][..., None]) ** 2)
    # mixture: params (..., K)
    g = p["scales"][..., :, None]
    comp = (
        np.log(p["weights"][..., :, None]) + np.log(g) - _LOG_PI
        - np.log(g * g + (x[..., None, :] - p["locs"][..., :, None]) ** 2)
    )
    return logsumexp(comp, axis=-2)


def _cdf(name: str, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    from scipy.special import ndtr

    base, _ = parse_family(name)
    if base == "gaussian":
        return ndtr((x - p["loc"][..., None]) / p["scale"][..., None])
    if base == "lognormal":
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(np.maximum(x, 1e-300)) - np.log(p["median"])[..., None]) / p["sigma"][
                ..., None
            ]
        return np.where(x > 0, ndtr(z), 0.0)
    if base == "lorentzian":
        return 0.5 + np.arctan((x - p["loc"][..., None]) / p["scale"][..., None]) / math.pi
    comp = 0.5 + np.arctan(
        (x[..., None, :] - p["locs"][..., :, None]) / p["scales"][..., :, None]
    ) / math.pi
    return (p["weights"][..., :, None] * comp).sum(axis=-2)


def _rvs(name: str, p: dict[str, float], size: tuple[int, ...], rng: np.random.Generator):
    base, _ = parse_family(name)
    if base == "gaussian":
        return rng.normal(p["loc"], p["scale"], size=size)
    if base == "lognormal":
        return p["median"] * np.exp(rng.normal(0.0, p["sigma"], size=size))
    if base == "lorentzian":
        return p["loc"] + p["scale"] * rng.standard_cauchy(size=size)
    w = np.asarray(p["weights"])
    comp = rng.choice(w.size, size=size, p=w / w.sum())
    return np.asarray(p["locs"])[comp] + np.asarray(p["scales"])[comp] * rng.standard_cauchy(
        size=size
    )


def ks_distance(x: np.ndarray, cdf_values: np.ndarray) -> np.ndarray:
    """KS distance ``sup |F_n - F|`` per row, given sorted data's model CDF values (B, n)."""
    n = cdf_values.shape[-1]
    i = np.arange(1, n + 1)
    d_plus = np.max(i / n - cdf_values, axis=-1)
    d_minus = np.max(cdf_values - (i - 1) / n, axis=-1)
    return np.maximum(d_plus, d_minus)


# ---------------------------------------------------------------------------------------
# maximum-likelihood fits, vectorized over data sets (rows of X)
# ---------------------------------------------------------------------------------------
def _fit_rows(name: str, X: np.ndarray, init: dict[str, Any] | None = None,
              rng: np.random.Generator | None = None, n_init: int = 8,
              max_iter: int = 2000, tol: float = 1e-9) -> dict[str, np.ndarray]:
    base, k = parse_family(name)
    if base == "gaussian":
        return {"loc": X.mean(axis=1), "scale": X.std(axis=1)}
    if base == "lognormal":
        lx = np.log(X)
        return {"median": np.exp(lx.mean(axis=1)), "sigma": lx.std(axis=1)}
    if base == "lorentzian":
        loc, scale = weighted_cauchy_mle(X, np.ones_like(X))
        return {"loc": loc, "scale": scale}
    return _fit_mixture_rows(X, k, init=init, rng=rng, n_init=n_init, max_iter=max_iter,
                             tol=tol)


#: Smallest mixture component, in cells and as a fraction of the sample.  A component on a
#: handful of cells can shrink onto them and inflate the likelihood without describing a
#: sub-population, so such solutions are rejected.
MIN_COMPONENT_CELLS = 5
MIN_COMPONENT_FRACTION = 0.05


def _fit_mixture_rows(X, k, init=None, rng=None, n_init=8, max_iter=2000, tol=1e-9):
    from hetfit.distributions._kernels import mixture_em_rows

    B, n = X.shape
    X = np.ascontiguousarray(X, dtype=np.float64)
    q25, q50, q75 = np.quantile(X, [0.25, 0.5, 0.75], axis=1)
    iqr = np.maximum(q75 - q25, 1e-12 * np.maximum(np.ptp(X, axis=1), 1e-300))
    # a component narrower than 1% of the half-IQR would model measurement rounding,
    # not a sub-population
    min_scale = np.ascontiguousarray(0.005 * iqr)
    min_w = max(MIN_COMPONENT_CELLS / n, MIN_COMPONENT_FRACTION)
    starts = []
    if init is not None:
        starts.append((np.broadcast_to(init["weights"], (B, k)),
                       np.broadcast_to(init["locs"], (B, k)),
                       np.broadcast_to(init["scales"], (B, k))))
    else:
        qs = (np.arange(k) + 0.5) / k
        starts.append((np.full((B, k), 1.0 / k), np.quantile(X, qs, axis=1).T,
                       np.repeat((0.5 * iqr / k)[:, None], k, axis=1)))
        starts.append((np.full((B, k), 1.0 / k),
                       q50[:, None] + (qs[None, :] - 0.5) * 2 * iqr[:, None],
                       np.repeat((0.5 * iqr)[:, None], k, axis=1)))
        rng = rng or np.random.default_rng(0)
        for _ in range(max(0, n_init - 2)):
            idx = rng.integers(0, n, size=(B, k))
            starts.append((rng.dirichlet(np.ones(k), size=B),
                           np.take_along_axis(X, idx, axis=1),
                           (0.5 * iqr)[:, None] * rng.uniform(0.2, 1.0, size=(B, k))))
    best_w = np.full((B, k), np.nan)
    best_l = np.full((B, k), np.nan)
    best_s = np.full((B, k), np.nan)
    best_ll = np.full(B, -np.inf)
    for w0, l0, s0 in starts:
        w = np.array(w0, dtype=np.float64, order="C")
        loc = np.array(l0, dtype=np.float64, order="C")
        sc = np.maximum(np.array(s0, dtype=np.float64, order="C"), min_scale[:, None])
        ll, _ = mixture_em_rows(X, w, loc, sc, min_scale, max_iter, tol)
        valid = np.all(w >= min_w, axis=1) & np.isfinite(ll)
        better = valid & (ll > best_ll)
        best_w[better], best_l[better], best_s[better] = w[better], loc[better], sc[better]
        best_ll[better] = ll[better]
    order = np.argsort(np.where(np.isfinite(best_l), best_l, 0.0), axis=1)
    return {
        "weights": np.take_along_axis(best_w, order, axis=1),
        "locs": np.take_along_axis(best_l, order, axis=1),
        "scales": np.take_along_axis(best_s, order, axis=1),
    }


# ---------------------------------------------------------------------------------------
# public result
# ---------------------------------------------------------------------------------------
@dataclass
class FamilyFit:
    """Maximum-likelihood fit of one family to one sample, with goodness of fit.

    ``params``: gaussian ``loc, scale`` (SD, MLE i.e. ddof=0); lognormal ``median, sigma``;
    lorentzian ``loc, scale`` (HWHM Delta); lorentzian_mixK ``weights, locs, scales`` (lists,
    components sorted by location).  All in the feature's unit except lognormal sigma and
    mixture weights.
    """

    family: str
    params: dict[str, Any]
    n: int
    loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    ks_stat: float | None = None
    ks_p_naive: float | None = None
    ks_p: float | None = None
    n_gof: int = 0
    status: str = "ok"
    reason: str | None = None
    delta_aic: float | None = None
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def n_params(self) -> int:
        return n_parameters(self.family)

    def _arrays_p(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.params.items()}

    def cdf(self, x) -> np.ndarray:
        """Model CDF at ``x``."""
        self._require_ok()
        x = np.asarray(x, dtype=np.float64)
        return _cdf(self.family, x.reshape(-1), self._arrays_p()).reshape(x.shape)

    def logpdf(self, x) -> np.ndarray:
        """Model log-density at ``x`` (per unit of the feature)."""
        self._require_ok()
        x = np.asarray(x, dtype=np.float64)
        return _logpdf(self.family, x.reshape(-1), self._arrays_p()).reshape(x.shape)

    def pdf(self, x) -> np.ndarray:
        """Probability density at ``x``."""
        return np.exp(self.logpdf(x))

    def ppf(self, q) -> np.ndarray:
        """Quantile function (closed form for single families, bisection for mixtures)."""
        self._require_ok()
        from scipy import stats

        q = np.asarray(q, dtype=np.float64)
        base, _ = parse_family(self.family)
        p = self.params
        if base == "gaussian":
            return stats.norm.ppf(q, p["loc"], p["scale"])
        if base == "lognormal":
            return stats.lognorm.ppf(q, p["sigma"], scale=p["median"])
        if base == "lorentzian":
            return stats.cauchy.ppf(q, p["loc"], p["scale"])
        # F(x) = sum_k w_k F_k(x) lies between the components' CDFs, so the q-quantile lies
        # between the smallest and largest component q-quantiles: bisect in that bracket.
        qf = q.reshape(-1)
        comp = stats.cauchy.ppf(qf[None, :], np.asarray(p["locs"])[:, None],
                                np.asarray(p["scales"])[:, None])
        lo, hi = comp.min(axis=0), comp.max(axis=0)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < qf
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return (0.5 * (lo + hi)).reshape(q.shape)

    def rvs(self, n: int, seed: SeedLike = None) -> np.ndarray:
        """``n`` random draws from the fitted model."""
        self._require_ok()
        return _rvs(self.family, self.params, (int(n),), as_generator(seed))

    def to_heterogeneity(self, low: float = -math.inf, high: float = math.inf,
                         sampling: str = "quantiles"):
        """The fit as :class:`hetfit.models.heterogeneity.Heterogeneity` (single families).

        For a mixture, returns a list of ``(weight, Heterogeneity)`` sub-populations.
        """
        from hetfit.models.heterogeneity import Heterogeneity

        self._require_ok()
        base, _ = parse_family(self.family)
        p = self.params
        if base == "gaussian":
            return Heterogeneity(p["loc"], p["scale"], "gaussian", low, high, sampling)
        if base == "lognormal":
            return Heterogeneity(p["median"], p["sigma"], "lognormal", low, high, sampling)
        if base == "lorentzian":
            return Heterogeneity(p["loc"], p["scale"], "lorentzian", low, high, sampling)
        return [
            (float(w), Heterogeneity(float(loc), float(s), "lorentzian", low, high, sampling))
            for w, loc, s in zip(p["weights"], p["locs"], p["scales"])
        ]

    def _require_ok(self) -> None:
        if not self.ok:
            raise ParameterError(
                f"the {self.family} fit is not available: {self.reason or self.status}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family, "status": self.status, "reason": self.reason,
            "params": self.params, "n": self.n, "n_params": self.n_params,
            "loglik": self.loglik, "aic": self.aic, "bic": self.bic,
            "delta_aic": self.delta_aic, "ks_stat": self.ks_stat,
            "ks_p_naive": self.ks_p_naive, "ks_p": self.ks_p, "n_gof": self.n_gof,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FamilyFit:
        keys = ("family", "params", "n", "loglik", "aic", "bic", "ks_stat", "ks_p_naive",
                "ks_p", "n_gof", "status", "reason", "delta_aic")
        return cls(**{k: d.get(k) for k in keys if k in d})


def _to_python(p: dict[str, np.ndarray], row: int, k: int) -> dict[str, Any]:
    if k == 1:
        return {key: float(v[row]) for key, v in p.items()}
    return {key: [float(a) for a in v[row]] for key, v in p.items()}


def fit_family(
    x, family: str, n_gof: int = 200, seed: SeedLike = None, n_init: int = 8
) -> FamilyFit:
    """Fit one family to ``x`` by maximum likelihood and test its goodness of fit.

    Parameters
    ----------
    x:
        Per-cell values of one feature (NaNs are dropped by the caller, not here).
    family:
        ``"gaussian"``, ``"lognormal"``, ``"lorentzian"`` or ``"lorentzian_mixK"``.
    n_gof:
        Parametric-bootstrap replicates for the KS p-value ``ks_p`` (0 skips it; then only
        the optimistic ``ks_p_naive`` is reported).
    seed:
        Seed for the mixture starts and the parametric bootstrap.
    n_init:
        Number of EM starts for mixtures.

    Returns
    -------
    FamilyFit; ``status`` is ``"not_applicable"`` (e.g. log-normal with values <= 0),
    ``"too_few_cells"`` or ``"failed"`` with a ``reason`` instead of raising.
    """
    from scipy import stats

    base, k = parse_family(family)
    x = np.asarray(x, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise ParameterError(
            "values contain NaN or inf", hint="drop missing cells first and report the count"
        )
    n = x.size
    npar = n_parameters(family)
    if n < max(3 * npar, 5):
        return FamilyFit(family, {}, n, status="too_few_cells",
                         reason=f"{n} cells for {npar} parameters (need >= {max(3 * npar, 5)})")
    if np.ptp(x) == 0:
        return FamilyFit(family, {}, n, status="failed", reason="all values are equal")
    if base == "lognormal" and np.any(x <= 0):
        return FamilyFit(family, {}, n, status="not_applicable",
                         reason="log-normal needs values > 0")
    rng = as_generator(seed)
    p = _fit_rows(family, x[None, :], rng=rng, n_init=n_init)
    if not all(np.all(np.isfinite(v)) for v in p.values()):
        reason = ("maximum likelihood does not exist for these data (half of the cells or "
                  "more share one value)")
        if base == "lorentzian_mix":
            reason = (f"no {k}-component solution with every component holding >= "
                      f"{MIN_COMPONENT_CELLS} cells and >= {MIN_COMPONENT_FRACTION:.0%} of "
                      "them")
        return FamilyFit(family, {}, n, status="failed", reason=reason)
    params = _to_python(p, 0, k)
    pk = {key: v[0] for key, v in p.items()}
    ll = float(_logpdf(family, x, pk).sum())
    xs = np.sort(x)
    d = float(ks_distance(xs, _cdf(family, xs, pk)))
    p_naive = float(stats.kstwo.sf(d, n))
    fit = FamilyFit(
        family, params, n, loglik=ll, aic=2 * npar - 2 * ll, bic=npar * math.log(n) - 2 * ll,
        ks_stat=d, ks_p_naive=p_naive,
    )
    if n_gof:
        fit.ks_p = _parametric_bootstrap_p(family, params, p, n, d, int(n_gof), rng)
        fit.n_gof = int(n_gof)
    return fit


def _parametric_bootstrap_p(family, params, p_rows, n, d_obs, n_gof, rng) -> float:
    """Lilliefors-type p-value: KS distances of data sets simulated from and refitted to
    the fitted model."""
    base, k = parse_family(family)
    d_sim = []
    block = 64
    for s in range(0, n_gof, block):
        b = min(block, n_gof - s)
        X = _rvs(family, params, (b, n), rng)
        init = None
        if base == "lorentzian_mix":
            init = {key: np.asarray(v[0]) for key, v in p_rows.items()}
        # replicates start at the fitted (true, in the bootstrap world) parameters, so a
        # looser tolerance loses nothing measurable in the KS distance
        p = _fit_rows(family, X, init=init, rng=rng, max_iter=500, tol=1e-7)
        X.sort(axis=1)
        with np.errstate(invalid="ignore"):
            d_sim.append(ks_distance(X, _cdf(family, X, p)))
    d_sim = np.concatenate(d_sim)
    d_sim = d_sim[np.isfinite(d_sim)]
    return float((1 + np.sum(d_sim >= d_obs)) / (1 + d_sim.size))


@dataclass
class FamilySelection:
    """Fits of several families to one sample and the AIC choice among them."""

    fits: list[FamilyFit]
    chosen: str | None
    criterion: str = "aic"
    adequate: bool | None = None  # chosen family's ks_p >= 0.05 (None if not tested)
    note: str | None = None

    def fit(self, family: str) -> FamilyFit:
        for f in self.fits:
            if f.family == family:
                return f
        raise ParameterError(f"family {family!r} was not fitted")

    @property
    def best(self) -> FamilyFit | None:
        return self.fit(self.chosen) if self.chosen else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen, "criterion": self.criterion, "adequate": self.adequate,
            "note": self.note, "fits": [f.to_dict() for f in self.fits],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FamilySelection:
        return cls([FamilyFit.from_dict(f) for f in d.get("fits", [])], d.get("chosen"),
                   d.get("criterion", "aic"), d.get("adequate"), d.get("note"))


def fit_families(
    x,
    families: Sequence[str] = DEFAULT_FAMILIES,
    n_gof: int = 200,
    seed: SeedLike = None,
    alpha: float = 0.05,
) -> FamilySelection:
    """Fit each family, choose the lowest AIC, and say whether the choice fits adequately.

    ``adequate`` is ``ks_p >= alpha`` for the chosen family (parametric-bootstrap KS).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        raise InsufficientDataError("no values to fit a distribution to")
    families = list(dict.fromkeys(families))
    if not families:
        raise ParameterError("no families requested")
    for f in families:
        parse_family(f)
    from hetfit.seeding import child_seeds

    seeds = child_seeds(seed, len(families))
    fits = [fit_family(x, f, n_gof=n_gof, seed=int(s)) for f, s in zip(families, seeds)]
    ok = [f for f in fits if f.ok]
    if not ok:
        return FamilySelection(fits, None, note="no family could be fitted")
    best_aic = min(f.aic for f in ok)
    for f in ok:
        f.delta_aic = f.aic - best_aic
    chosen = min(ok, key=lambda f: f.aic)
    adequate = None if chosen.ks_p is None else bool(chosen.ks_p >= alpha)
    note = None
    if adequate is False:
        note = (f"the lowest-AIC family ({chosen.family}) is rejected by the parametric-"
                f"bootstrap KS test (p = {chosen.ks_p:.3g}); no fitted family describes "
                "these data well")
    return FamilySelection(fits, chosen.family, "aic", adequate, note)
