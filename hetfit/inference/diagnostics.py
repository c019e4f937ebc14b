"""Calibration and model-checking diagnostics that tolerate failed (NaN) simulations.

Every function here drops unusable simulations (``status != OK`` or non-finite summaries)
explicitly and reports how many it dropped, so a few diverged networks never break a
diagnostic nor silently bias it.

- :func:`sbc` — simulation-based calibration (Talts et al. 2018).  For held-out pairs
  ``(theta_i, x_i)`` from the prior and simulator, the rank of ``theta_i`` among ``L``
  posterior draws given ``x_i`` is uniform on ``{0..L}`` for a calibrated posterior.  We test
  uniformity per parameter with a Kolmogorov–Smirnov test on the randomized ranks
  ``(rank + U) / (L + 1)``, which are exactly Uniform(0, 1) under calibration (the jitter
  removes the discreteness that makes a plain KS test on integer ranks conservative), and
  with a chi-square test on rank histograms.
- :func:`expected_coverage` — for nominal levels ``a``, the fraction of held-out cases whose
  true parameter lies in the central ``a`` credible interval (per parameter), from the same
  ranks: a calibrated posterior gives coverage ``= a``; overconfident posteriors fall below
  the diagonal, underconfident ones above.
- :func:`posterior_predictive_check` — simulate from posterior draws and locate each
  observed summary in the predictive distribution (two-sided percentile p-values with a
  Bonferroni-corrected verdict, plus a joint Mahalanobis percentile).
- :func:`misspecification_check` — is a real recording's summary vector plausible under the
  model at all?  Mahalanobis distance of the observation to the cloud of prior-predictive
  simulations (shrinkage covariance), calibrated empirically against held-out simulations,
  and per-summary percentiles.  A posterior for an observation far outside the simulated
  cloud is an extrapolation of the network and should not be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.inference.estimators import valid_rows
from hetfit.inference.simulator import count_status
from hetfit.seeding import SeedLike, as_generator, child_seeds

DEFAULT_LEVELS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


def _usable(theta: np.ndarray | None, x: np.ndarray, status: np.ndarray | None,
            what: str, min_n: int) -> tuple[np.ndarray, dict[str, int]]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ParameterError(f"{what}: summaries must be (n, k), got shape {x.shape}")
    ok = valid_rows(x, status)
    if theta is not None:
        ok &= np.all(np.isfinite(np.asarray(theta, dtype=np.float64)), axis=1)
    st = np.zeros(len(x), dtype=np.int8) if status is None else np.asarray(status, np.int8)
    reasons = count_status(np.where(ok | (st != 0), st, 2))
    reasons.pop("ok", None)
    if ok.sum() < min_n:
        raise InsufficientDataError(
            f"{what}: only {int(ok.sum())} usable simulations (need >= {min_n}); "
            f"excluded: {reasons}",
            hint="simulate more, or check why simulations fail",
        )
    return ok, reasons


# -- SBC and coverage ---------------------------------------------------------------------
@dataclass
class SBCResult:
    """Rank statistics of simulation-based calibration.

    Attributes
    ----------
    names:
        Parameter names.
    ranks:
        Integer ranks (m, d) in ``0..n_posterior_samples``.
    ks_pvalue, chi2_pvalue:
        Per-parameter p-values of the uniformity tests.
    n_cases, n_excluded, excluded_by_reason:
        Cases used and held-out simulations dropped (failed / NaN).
    n_posterior_samples:
        ``L``, posterior draws per case.
    alpha:
        Significance level of :attr:`calibrated`.
    """

    names: tuple[str, ...]
    ranks: np.ndarray
    ks_pvalue: np.ndarray
    chi2_pvalue: np.ndarray
    n_cases: int
    n_excluded: int
    excluded_by_reason: dict[str, int]
    n_posterior_samples: int
    alpha: float = 0.01
    coverage: CoverageResult | None = None

    @property
    def calibrated(self) -> dict[str, bool]:
        """Per parameter: True when rank uniformity is not rejected (KS p > alpha)."""
        return {n: bool(p > self.alpha) for n, p in zip(self.names, self.ks_pvalue)}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "n_cases": self.n_cases, "n_excluded": self.n_excluded,
            "excluded_by_reason": self.excluded_by_reason,
            "n_posterior_samples": self.n_posterior_samples, "alpha": self.alpha,
            "ks_pvalue": dict(zip(self.names, map(float, self.ks_pvalue))),
            "chi2_pvalue": dict(zip(self.names, map(float, self.chi2_pvalue))),
            "calibrated": self.calibrated,
        }
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_dict()
        return out


@dataclass
class CoverageResult:
    """Expected coverage of central credible intervals, per parameter.

    ``empirical[i, j]`` is the fraction of cases whose true parameter ``j`` lies in the
    central interval of nominal level ``levels[i]``.
    """

    names: tuple[str, ...]
    levels: np.ndarray
    empirical: np.ndarray
    n_cases: int

    def at(self, level: float) -> dict[str, float]:
        i = int(np.argmin(np.abs(self.levels - level)))
        if abs(self.levels[i] - level) > 1e-9:
            raise ParameterError(f"level {level} was not evaluated; have {list(self.levels)}")
        return dict(zip(self.names, map(float, self.empirical[i])))

    @property
    def max_abs_error(self) -> dict[str, float]:
        err = np.abs(self.empirical - self.levels[:, None]).max(axis=0)
        return dict(zip(self.names, map(float, err)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": [float(v) for v in self.levels],
            "empirical": {n: [float(v) for v in self.empirical[:, j]]
                          for j, n in enumerate(self.names)},
            "max_abs_error": self.max_abs_error, "n_cases": self.n_cases,
        }


def coverage_from_ranks(ranks: np.ndarray, n_posterior_samples: int, names,
                        levels=DEFAULT_LEVELS) -> CoverageResult:
    """Central-interval coverage implied by SBC ranks.

    The truth lies inside the central ``a`` interval of the ``L`` draws when its rank
    fraction ``r / L`` lies in ``[(1 - a)/2, (1 + a)/2]``.
    """
    levels = np.asarray(levels, dtype=float)
    if np.any((levels <= 0) | (levels >= 1)):
        raise ParameterError("coverage levels must lie in (0, 1)")
    frac = np.asarray(ranks, dtype=float) / float(n_posterior_samples)
    emp = np.stack([
        np.mean((frac >= (1 - a) / 2) & (frac <= (1 + a) / 2), axis=0) for a in levels
    ])
    return CoverageResult(tuple(names), levels, emp, int(frac.shape[0]))


def rank_uniformity(ranks: np.ndarray, n_posterior_samples: int, seed: SeedLike = 0,
                    n_bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(KS p-values, chi-square p-values) per column of integer SBC ranks."""
    from scipy import stats

    ranks = np.asarray(ranks)
    m, d = ranks.shape
    L = int(n_posterior_samples)
    u = (ranks + as_generator(seed).uniform(size=ranks.shape)) / (L + 1)
    ks = np.array([stats.kstest(u[:, j], "uniform").pvalue for j in range(d)])
    b = n_bins or int(np.clip(m // 10, 2, 20))
    counts = np.stack([np.histogram(u[:, j], bins=b, range=(0, 1))[0] for j in range(d)])
    chi = np.array([stats.chisquare(c).pvalue for c in counts])
    return ks, chi


def sbc(
    posterior: Any,
    theta: np.ndarray,
    x: np.ndarray,
    status: np.ndarray | None = None,
    n_posterior_samples: int = 200,
    seed: SeedLike = 0,
    alpha: float = 0.01,
    levels=DEFAULT_LEVELS,
) -> SBCResult:
    """Simulation-based calibration on held-out simulations.

    Parameters
    ----------
    posterior:
        Anything with ``names`` and ``sample_many(xs, n, seed) -> (n, m, d)`` in physical
        units (a :class:`~hetfit.inference.posterior.WidthPosterior`).
    theta, x, status:
        Held-out parameter sets drawn from the prior, their summaries and statuses.
        Failed / non-finite rows are excluded and counted.
    n_posterior_samples:
        ``L``, posterior draws per case.
    seed:
        Seeds posterior sampling and the rank jitter.
    alpha:
        Level of the uniformity verdict (:attr:`SBCResult.calibrated`).
    levels:
        Nominal levels of the coverage curve attached to the result.
    """
    theta = np.asarray(theta, dtype=np.float64)
    ok, reasons = _usable(theta, x, status, "SBC", min_n=10)
    s_sample, s_jitter = child_seeds(seed, 2)
    samples = posterior.sample_many(np.asarray(x)[ok], int(n_posterior_samples), seed=int(s_sample))
    ranks = np.sum(samples < theta[ok][None, :, :], axis=0)
    ks, chi = rank_uniformity(ranks, n_posterior_samples, seed=int(s_jitter))
    names = tuple(posterior.names)
    return SBCResult(
        names=names, ranks=ranks, ks_pvalue=ks, chi2_pvalue=chi, n_cases=int(ok.sum()),
        n_excluded=int((~ok).sum()), excluded_by_reason=reasons,
        n_posterior_samples=int(n_posterior_samples), alpha=alpha,
        coverage=coverage_from_ranks(ranks, n_posterior_samples, names, levels),
    )


def expected_coverage(posterior: Any, theta, x, status=None, n_posterior_samples: int = 200,
                      seed: SeedLike = 0, levels=DEFAULT_LEVELS) -> CoverageResult:
    """Expected coverage curve of central credible intervals (see :func:`sbc`)."""
    res = sbc(posterior, theta, x, status, n_posterior_samples, seed, levels=levels)
    assert res.coverage is not None
    return res.coverage


# -- recovery -----------------------------------------------------------------------------
@dataclass
class RecoveryResult:
    """Point-estimate accuracy and interval coverage on held-out synthetic data."""

    names: tuple[str, ...]
    truth: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    n_excluded: int

    @property
    def relative_error(self) -> np.ndarray:
        return np.abs(self.mean - self.truth) / np.abs(self.truth)

    @property
    def median_relative_error(self) -> dict[str, float]:
        return dict(zip(self.names, map(float, np.median(self.relative_error, axis=0))))

    @property
    def interval_coverage(self) -> dict[str, float]:
        inside = (self.truth >= self.lower) & (self.truth <= self.upper)
        return dict(zip(self.names, map(float, inside.mean(axis=0))))

    def to_dict(self) -> dict[str, Any]:
        return {"n_cases": int(self.truth.shape[0]), "n_excluded": self.n_excluded,
                "level": self.level, "median_relative_error": self.median_relative_error,
                "interval_coverage": self.interval_coverage}


def recovery(posterior: Any, theta, x, status=None, n_posterior_samples: int = 1000,
             level: float = 0.9, seed: SeedLike = 0) -> RecoveryResult:
    """Posterior mean / median / central interval for each held-out case vs the truth."""
    theta = np.asarray(theta, dtype=np.float64)
    ok, _ = _usable(theta, x, status, "recovery", min_n=1)
    s = posterior.sample_many(np.asarray(x)[ok], int(n_posterior_samples), seed=seed)
    a = (1 - level) / 2
    q = np.quantile(s, [a, 0.5, 1 - a], axis=0)
    return RecoveryResult(tuple(posterior.names), theta[ok], s.mean(axis=0), q[1], q[0], q[2],
                          level, int((~ok).sum()))


# -- predictive checks --------------------------------------------------------------------
def _shrunk_precision(ref: np.ndarray, shrinkage: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, precision) of ``ref`` with covariance shrunk towards its diagonal."""
    mu = ref.mean(axis=0)
    sd = ref.std(axis=0, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    z = (ref - mu) / sd
    corr = np.atleast_2d(np.cov(z, rowvar=False))
    corr = (1 - shrinkage) * corr + shrinkage * np.eye(corr.shape[0])
    prec = np.linalg.pinv(corr)
    return mu, prec / np.outer(sd, sd)


def _mahalanobis(v: np.ndarray, mu: np.ndarray, prec: np.ndarray) -> np.ndarray:
    d = np.atleast_2d(v) - mu
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, prec, d), 0.0))


@dataclass
class MisspecificationResult:
    """Where an observed summary vector lies relative to simulated ones.

    Attributes
    ----------
    distance:
        Mahalanobis distance of the observation to the simulated cloud.
    pvalue:
        Fraction (with +1 correction) of held-out simulations at least as far out: small
        values mean the model cannot produce data like the recording.
    percentiles:
        Per summary: fraction of simulations below the observed value.
    outside:
        Summaries whose observed value lies outside the central 99% of simulations.
    n_simulations, n_excluded:
        Simulations used / dropped (failed, NaN).
    """

    distance: float
    pvalue: float
    percentiles: dict[str, float]
    outside: list[str]
    n_simulations: int
    n_excluded: int
    alpha: float = 0.01

    @property
    def plausible(self) -> bool:
        return bool(self.pvalue > self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return {"distance": self.distance, "pvalue": self.pvalue, "plausible": self.plausible,
                "alpha": self.alpha, "outside_central_99pct": self.outside,
                "percentiles": self.percentiles, "n_simulations": self.n_simulations,
                "n_excluded": self.n_excluded}


def misspecification_check(
    x_obs: Any,
    x_sims: np.ndarray,
    status: np.ndarray | None = None,
    summary_names: tuple[str, ...] | None = None,
    shrinkage: float = 0.05,
    alpha: float = 0.01,
    seed: SeedLike = 0,
) -> MisspecificationResult:
    """Is ``x_obs`` plausible under the simulations ``x_sims`` (e.g. prior predictive)?

    Half of the usable simulations estimate the mean and (shrinkage) covariance, the other
    half calibrate the distance: ``pvalue = (1 + #{d_ref >= d_obs}) / (1 + n_ref)``, which is
    valid without assuming Gaussian summaries.
    """
    x_sims = np.asarray(x_sims, dtype=np.float64)
    ok, reasons = _usable(None, x_sims, status, "misspecification check", min_n=20)
    xo = np.asarray(x_obs, dtype=np.float64).reshape(-1)
    k = x_sims.shape[1]
    if xo.shape[0] != k:
        raise ParameterError(f"observation has {xo.shape[0]} summaries, simulations have {k}")
    if not np.all(np.isfinite(xo)):
        raise InsufficientDataError("the observed summaries contain NaN; cannot locate them")
    names = tuple(summary_names or (f"x{j}" for j in range(k)))
    ref = x_sims[ok]
    perm = as_generator(seed).permutation(len(ref))
    half = len(ref) // 2
    fit, cal = ref[perm[:half]], ref[perm[half:]]
    mu, prec = _shrunk_precision(fit, shrinkage)
    d_obs = float(_mahalanobis(xo, mu, prec)[0])
    d_cal = _mahalanobis(cal, mu, prec)
    pval = float((1 + np.count_nonzero(d_cal >= d_obs)) / (1 + len(d_cal)))
    pct = {n: float(np.mean(ref[:, j] < xo[j])) for j, n in enumerate(names)}
    lo, hi = np.quantile(ref, [0.005, 0.995], axis=0)
    outside = [n for j, n in enumerate(names) if not lo[j] <= xo[j] <= hi[j]]
    return MisspecificationResult(d_obs, pval, pct, outside, int(ok.sum()),
                                  int((~ok).sum()), alpha)


@dataclass
class PredictiveCheckResult:
    """Posterior predictive check of one observation.

    ``pvalues[name]`` is the two-sided predictive p-value of each observed summary
    (``2 min(P(x_rep <= x_obs), P(x_rep >= x_obs))``); ``consistent`` is False when any is
    below ``alpha / k`` (Bonferroni) or the joint Mahalanobis p-value is below ``alpha``.
    """

    pvalues: dict[str, float]
    zscores: dict[str, float]
    joint_pvalue: float
    n_simulations: int
    n_excluded: int
    excluded_by_reason: dict[str, int]
    alpha: float = 0.01

    @property
    def consistent(self) -> bool:
        k = max(1, len(self.pvalues))
        return bool(min(self.pvalues.values()) > self.alpha / k
                    and self.joint_pvalue > self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return {"consistent": self.consistent, "alpha": self.alpha,
                "joint_pvalue": self.joint_pvalue, "pvalues": self.pvalues,
                "zscores": self.zscores, "n_simulations": self.n_simulations,
                "n_excluded": self.n_excluded, "excluded_by_reason": self.excluded_by_reason}


def posterior_predictive_check(
    posterior: Any,
    simulator: Any,
    x_obs: Any,
    n_simulations: int = 200,
    seed: SeedLike = 0,
    alpha: float = 0.01,
    executor: Any = None,
    samples: np.ndarray | None = None,
) -> PredictiveCheckResult:
    """Simulate from posterior draws and compare the summaries with ``x_obs``.

    Parameters
    ----------
    posterior:
        A :class:`~hetfit.inference.posterior.WidthPosterior` (or anything with
        ``sample(x, n, seed)``); ignored when ``samples`` are given.
    simulator:
        The :class:`~hetfit.inference.simulator.Simulator` the posterior was trained for.
    x_obs:
        Observed summaries (k,).
    n_simulations:
        Posterior-predictive simulations (failed ones are dropped and counted).
    executor:
        Optional :class:`~hetfit.inference.parallel.SimulationExecutor` (entered).
    samples:
        Posterior samples to use instead of drawing them.
    """
    xo = np.asarray(x_obs, dtype=np.float64).reshape(-1)
    if isinstance(n_simulations, bool) or int(n_simulations) != n_simulations or (
            n_simulations < 1):
        # a negative count would slice the samples from the end and still simulate
        raise ParameterError(f"n_simulations must be a whole number >= 1, got {n_simulations}")
    n_simulations = int(n_simulations)
    s_post, s_sim, s_perm = child_seeds(seed, 3)
    if samples is None:
        samples = posterior.sample(xo, int(n_simulations), seed=int(s_post))
    theta = np.asarray(samples, dtype=np.float64)[:n_simulations]
    seeds = child_seeds(int(s_sim), len(theta))
    if executor is not None:
        from hetfit.inference.parallel import run_simulation_task

        key_batches = [(0, (simulator, theta, seeds, executor.n_threads))]
        batch = next(iter(executor.map_unordered(run_simulation_task, key_batches)))[1]
    else:
        batch = simulator.simulate(theta, seeds)
    ok, reasons = _usable(theta, batch.x, batch.status, "posterior predictive check", min_n=10)
    rep = batch.x[ok]
    names = tuple(getattr(simulator, "summary_names", ())) or tuple(
        f"x{j}" for j in range(rep.shape[1]))
    below = (rep <= xo).mean(axis=0)
    above = (rep >= xo).mean(axis=0)
    pv = np.minimum(1.0, 2 * np.minimum(below, above))
    sd = rep.std(axis=0, ddof=1)
    z = np.where(sd > 0, (xo - rep.mean(axis=0)) / np.where(sd > 0, sd, 1), 0.0)
    joint = misspecification_check(xo, rep, summary_names=names, seed=int(s_perm),
                                   alpha=alpha).pvalue if len(rep) >= 20 else float("nan")
    return PredictiveCheckResult(
        pvalues=dict(zip(names, map(float, pv))), zscores=dict(zip(names, map(float, z))),
        joint_pvalue=float(joint), n_simulations=int(ok.sum()),
        n_excluded=int((~ok).sum()), excluded_by_reason=reasons, alpha=alpha,
    )


@dataclass
class DiagnosticsReport:
    """Bundle of the diagnostics of one trained posterior (plain data for JSON)."""

    sbc: SBCResult | None = None
    recovery: RecoveryResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        if self.sbc is not None:
            out["sbc"] = self.sbc.to_dict()
        if self.recovery is not None:
            out["recovery"] = self.recovery.to_dict()
        return out
