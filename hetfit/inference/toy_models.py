"""Reference simulators with analytic posteriors, used to validate the inference machinery.

They follow the :class:`~hetfit.inference.simulator.Simulator` contract exactly (batched,
one seed per set, failures flagged), so stores, executors, estimators and diagnostics are
tested against an *independent* expectation: the exact posterior.

- :class:`GaussianToy`: ``x_j = theta_j + sigma * eps_j`` for each parameter, with optional
  pure-noise summaries.  Under the uniform prior the exact posterior of each coordinate is
  a normal ``N(x_j, sigma^2)`` truncated to the prior box (independent across coordinates).
- :class:`NoiseTraceToy`: a raw trace of ``n_samples`` i.i.d. normal values of standard
  deviation ``theta`` (a stand-in for a population-rate trace, to exercise embedding
  networks).  Exact posterior on a grid: ``p(s | x) ~ s^-T exp(-S / (2 s^2))`` on the box.

Both can flag a random fraction of simulations as failed/diverged (``fail_prob``) to
exercise NaN handling, and can sleep per simulation and log executed seeds
(``delay_s``/``log_path``; not part of the spec because they do not change results) so
tests can kill a run midway and count what was executed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetfit.errors import ParameterError
from hetfit.inference.simulator import (
    DIVERGED,
    NONFINITE_SUMMARY,
    OK,
    SimulationBatch,
    Simulator,
)


def _log_executed(log_path: str | None, seeds: np.ndarray) -> None:
    if not log_path:
        return
    # One line per simulation, appended with O_APPEND so concurrent workers do not clash.
    text = "".join(f"{int(s)}\n" for s in seeds)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _failures(rng: np.random.Generator, fail_prob: float) -> int:
    """Status of one simulation under random failure: OK, NONFINITE_SUMMARY or DIVERGED."""
    r = rng.uniform()
    if r < fail_prob / 2:
        return DIVERGED
    if r < fail_prob:
        return NONFINITE_SUMMARY
    return OK


@dataclass
class GaussianToy(Simulator):
    """``x = theta + sigma * noise`` (+ ``n_noise`` pure-noise summaries).

    Parameters
    ----------
    param_names:
        Names of the parameters (one summary per parameter).
    sigma:
        Noise standard deviation (same unit as theta).
    n_noise:
        Extra summaries that carry no information (standard normal noise).
    fail_prob:
        Probability that a simulation fails (half flagged diverged, half with a NaN
        summary), drawn from the simulation's own seed.
    delay_s, log_path:
        Test hooks: sleep per simulation; append each executed seed to ``log_path``.
    """

    param_names: tuple[str, ...] = ("a", "b")
    sigma: float = 0.3
    n_noise: int = 0
    fail_prob: float = 0.0
    delay_s: float = 0.0
    log_path: str | None = None
    summary_version: str = "toy-1"

    def __post_init__(self) -> None:
        self.param_names = tuple(self.param_names)
        if not self.sigma > 0:
            raise ParameterError(f"sigma must be > 0, got {self.sigma}")
        if not 0 <= self.fail_prob < 1:
            raise ParameterError(f"fail_prob must be in [0, 1), got {self.fail_prob}")
        self.summary_names = tuple(f"x_{n}" for n in self.param_names) + tuple(
            f"noise_{i}" for i in range(self.n_noise)
        )

    def spec(self) -> dict[str, Any]:
        return {"model": "gaussian_toy", "sigma": self.sigma, "n_noise": self.n_noise,
                "fail_prob": self.fail_prob}

    def simulate(self, theta: np.ndarray, seeds: np.ndarray) -> SimulationBatch:
        theta, seeds = self.check_theta(theta, seeds)
        n, d = theta.shape
        x = np.empty((n, d + self.n_noise))
        status = np.zeros(n, dtype=np.int8)
        for i in range(n):
            rng = np.random.default_rng(int(seeds[i]))
            x[i, :d] = theta[i] + self.sigma * rng.standard_normal(d)
            x[i, d:] = rng.standard_normal(self.n_noise)
            status[i] = _failures(rng, self.fail_prob) if self.fail_prob else OK
            if status[i] == NONFINITE_SUMMARY:
                x[i, 0] = np.nan
            elif status[i] == DIVERGED:
                x[i] = np.nan
        if self.delay_s:
            time.sleep(self.delay_s * n)
        _log_executed(self.log_path, seeds)
        return SimulationBatch(x, status)

    # -- exact posterior under a uniform (linear-scale) prior --------------------------
    def _truncnorm(self, x_obs: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float):
        from scipy import stats

        d = len(self.param_names)
        loc = np.asarray(x_obs, dtype=float)[..., :d]
        s = self.sigma * scale
        return stats.truncnorm((low - loc) / s, (high - loc) / s, loc=loc, scale=s)

    def posterior_quantiles(self, x_obs, prior, q) -> np.ndarray:
        """Exact marginal posterior quantiles ``q`` for each parameter, shape (len(q), d)."""
        _require_linear(prior)
        dist = self._truncnorm(x_obs, prior.low, prior.high, 1.0)
        return np.array([dist.ppf(qq) for qq in np.atleast_1d(q)])

    def posterior_mean(self, x_obs, prior) -> np.ndarray:
        """Exact posterior means (d,) (or (n, d) for a batch of observations)."""
        _require_linear(prior)
        return self._truncnorm(x_obs, prior.low, prior.high, 1.0).mean()

    def posterior_std(self, x_obs, prior) -> np.ndarray:
        _require_linear(prior)
        return self._truncnorm(x_obs, prior.low, prior.high, 1.0).std()


@dataclass
class NoiseTraceToy(Simulator):
    """Raw trace: ``n_samples`` i.i.d. ``N(0, theta^2)`` values (one parameter, the SD)."""

    param_names: tuple[str, ...] = ("sd",)
    n_samples: int = 64
    delay_s: float = 0.0
    log_path: str | None = None
    summary_version: str = "trace-1"

    def __post_init__(self) -> None:
        self.param_names = tuple(self.param_names)
        if len(self.param_names) != 1:
            raise ParameterError("NoiseTraceToy has exactly one parameter (the SD)")
        if self.n_samples < 2:
            raise ParameterError(f"n_samples must be >= 2, got {self.n_samples}")
        self.summary_names = tuple(f"t{i}" for i in range(self.n_samples))

    def spec(self) -> dict[str, Any]:
        return {"model": "noise_trace_toy", "n_samples": self.n_samples}

    def simulate(self, theta: np.ndarray, seeds: np.ndarray) -> SimulationBatch:
        theta, seeds = self.check_theta(theta, seeds)
        x = np.empty((theta.shape[0], self.n_samples))
        for i in range(theta.shape[0]):
            x[i] = theta[i, 0] * np.random.default_rng(int(seeds[i])).standard_normal(
                self.n_samples)
        _log_executed(self.log_path, seeds)
        return SimulationBatch(x, np.zeros(theta.shape[0], dtype=np.int8))

    def posterior_grid(self, x_obs, prior, n_grid: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """(grid, density) of the exact posterior of the SD on the prior box."""
        _require_linear(prior)
        s = np.linspace(prior.low[0], prior.high[0], n_grid)
        ss = float(np.sum(np.asarray(x_obs, dtype=float) ** 2))
        logp = -self.n_samples * np.log(s) - ss / (2 * s**2)
        p = np.exp(logp - logp.max())
        p /= float(np.sum((p[1:] + p[:-1]) * np.diff(s)) / 2.0)  # trapezoid rule
        return s, p


def _require_linear(prior) -> None:
    if any(p.scale != "linear" for p in prior.parameters):
        raise ParameterError("the analytic toy posteriors assume a linear-scale uniform prior")


class AnalyticGaussianPosterior:
    """The exact posterior of :class:`GaussianToy`, with the sampling interface of
    :class:`~hetfit.inference.posterior.WidthPosterior` (``names``, ``sample``,
    ``sample_many``).  ``scale < 1`` makes it deliberately overconfident, ``> 1``
    underconfident — the reference cases for calibration diagnostics."""

    def __init__(self, toy: GaussianToy, prior, scale: float = 1.0) -> None:
        _require_linear(prior)
        self.toy, self.prior, self.scale = toy, prior, float(scale)

    @property
    def names(self) -> tuple[str, ...]:
        return self.prior.names

    def sample_many(self, xs, n: int = 1000, seed=0) -> np.ndarray:
        xs = np.atleast_2d(np.asarray(xs, dtype=float))
        d = len(self.toy.param_names)
        dist = self.toy._truncnorm(xs, self.prior.low, self.prior.high, self.scale)
        rng = np.random.default_rng(seed)
        return dist.rvs(size=(int(n), xs.shape[0], d), random_state=rng)

    def sample(self, x, n: int = 1000, seed=0) -> np.ndarray:
        return self.sample_many(np.asarray(x, dtype=float)[None, :], n, seed)[:, 0, :]
