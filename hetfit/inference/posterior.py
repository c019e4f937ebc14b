"""A trained, amortized posterior over heterogeneity widths, in physical units.

:class:`WidthPosterior` wraps an ``sbi`` posterior trained in a parameter space of
:class:`~hetfit.inference.priors.Prior` and gives plain numpy results in physical units
(mV, pA ...): samples, and per-parameter mean, median, SD and central credible intervals.
It is amortized: one trained object is applied to any number of observations, each in
milliseconds (NPE) — no retraining.

NPE's default mixture density network is sampled in numpy
(:class:`~hetfit.inference.mdn_numpy.NumpyMDN`), freshly trained or loaded, so a saved
posterior applies without importing torch or sbi and gives the same numbers either way.
Other estimators (flows, NLE/NRE with MCMC) sample through sbi.

Sampling is reproducible: every call takes a ``seed``; the numpy path draws from its own
``numpy.random.Generator``, the torch path runs under a forked torch/numpy RNG state, so
neither depends on nor disturbs global random state.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.inference.mdn_numpy import NumpyMDN, rejection_sample
from hetfit.inference.priors import Prior
from hetfit.seeding import SeedLike, as_generator


@contextlib.contextmanager
def torch_context(seed: SeedLike = None, n_threads: int | None = None) -> Iterator[Any]:
    """Seeded torch (and numpy-global) RNG state and a fixed torch thread count, restored
    on exit.  Yields the torch module."""
    import torch

    seed_int = int(as_generator(seed).integers(0, 2**62)) if not isinstance(
        seed, (int, np.integer)) else int(seed)
    old_threads = torch.get_num_threads()
    np_state = np.random.get_state()  # noqa: NPY002 - restored below
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_int)
        np.random.seed(seed_int % 2**32)  # noqa: NPY002 - sbi slice sampling uses it
        if n_threads:
            torch.set_num_threads(int(n_threads))
        try:
            yield torch
        finally:
            torch.set_num_threads(old_threads)
            np.random.set_state(np_state)  # noqa: NPY002


@dataclass
class ParameterSummary:
    """Posterior summary of one parameter (physical units)."""

    name: str
    unit: str
    kind: str
    mean: float
    median: float
    sd: float
    interval: tuple[float, float]
    level: float
    prior_range: tuple[float, float]


@dataclass
class PosteriorSummary:
    """Per-parameter posterior summaries for one observation."""

    parameters: list[ParameterSummary]
    n_samples: int
    level: float
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ParameterSummary:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        pct = round(100 * self.level)
        return {
            "level": self.level,
            "n_samples": self.n_samples,
            "parameters": {
                p.name: {
                    "unit": p.unit, "kind": p.kind, "mean": p.mean, "median": p.median,
                    "sd": p.sd, f"ci{pct}": list(p.interval), "prior_range": list(p.prior_range),
                }
                for p in self.parameters
            },
            **self.extra,
        }


def summarize_samples(samples: np.ndarray, prior: Prior, level: float = 0.9,
                      extra: dict[str, Any] | None = None) -> PosteriorSummary:
    """Mean, median, SD and central ``level`` interval of each column of ``samples``."""
    if not 0 < level < 1:
        raise ParameterError(f"credible level must be in (0, 1), got {level}")
    a = (1 - level) / 2
    q = np.quantile(samples, [a, 0.5, 1 - a], axis=0)
    out = []
    for j, p in enumerate(prior.parameters):
        out.append(ParameterSummary(
            name=p.name, unit=p.unit, kind=p.kind, mean=float(samples[:, j].mean()),
            median=float(q[1, j]), sd=float(samples[:, j].std(ddof=1)),
            interval=(float(q[0, j]), float(q[2, j])), level=level,
            prior_range=(p.low, p.high),
        ))
    return PosteriorSummary(out, n_samples=int(samples.shape[0]), level=level,
                            extra=dict(extra or {}))


class WidthPosterior:
    """Amortized posterior ``p(theta | x)`` in physical units.

    Parameters
    ----------
    estimator:
        The ``sbi`` posterior object (trained in the prior's ``space``); ``None`` when only
        the numpy form ``numpy_mdn`` was loaded.
    prior:
        The :class:`Prior` it was trained under.
    summary_names:
        Names of the summary statistics (the columns of ``x``), in order.
    method:
        ``"npe"``, ``"nle"`` or ``"nre"``.
    metadata:
        Provenance (model spec, prior, summary version, training budget ...), see
        :mod:`hetfit.inference.artifacts`.
    reference_x:
        A sample of valid training summaries (prior predictive), kept with the posterior so
        that a new observation can be checked for misspecification without the simulation
        store.
    n_threads:
        torch threads used when sampling.
    space:
        Training space of the estimator (``"box"`` or ``"unbounded"``, see
        :mod:`hetfit.inference.priors`).
    numpy_mdn:
        numpy copy of a mixture density network; derived from ``estimator`` when omitted
        (``None`` for estimators it cannot reproduce).
    config:
        The :class:`~hetfit.inference.estimators.EstimatorConfig` (as a dict) the network was
        built with; saving a posterior needs it to rebuild the network from its weights.
    """

    def __init__(self, estimator: Any, prior: Prior, summary_names: Sequence[str],
                 method: str = "npe", metadata: dict[str, Any] | None = None,
                 reference_x: np.ndarray | None = None,
                 n_threads: int | None = None, space: str = "box",
                 numpy_mdn: NumpyMDN | None = None,
                 config: dict[str, Any] | None = None) -> None:
        if estimator is None and numpy_mdn is None:
            raise ParameterError("a posterior needs an sbi estimator or a numpy MDN")
        if numpy_mdn is None and method == "npe":
            numpy_mdn = NumpyMDN.from_sbi(estimator)
        self.estimator = estimator
        self.numpy_mdn = numpy_mdn
        self.prior = prior
        self.summary_names = tuple(summary_names)
        self.method = method
        self.metadata = dict(metadata or {})
        self.reference_x = None if reference_x is None else np.asarray(reference_x, float)
        self.n_threads = n_threads
        self.space = space
        self.config = None if config is None else dict(config)

    @property
    def names(self) -> tuple[str, ...]:
        return self.prior.names

    def check_x(self, x: Any) -> np.ndarray:
        """Observed summaries as float (m, k); NaN -> :class:`InsufficientDataError`."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        k = len(self.summary_names)
        if arr.ndim != 2 or arr.shape[1] != k:
            raise ParameterError(
                f"observation has shape {np.shape(x)}, expected ({k},) summaries "
                f"{list(self.summary_names)[:6]}{'...' if k > 6 else ''}"
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            names = sorted({self.summary_names[j] for j in np.flatnonzero(bad.any(axis=0))})
            raise InsufficientDataError(
                f"observed summaries {names} are not finite (too few spikes or units to "
                "compute them)",
                hint="use a longer recording, more units, or a summary set without these "
                "statistics",
            )
        return arr

    def _sample_u(self, torch, x: np.ndarray, n: int) -> np.ndarray:
        xt = torch.as_tensor(x, dtype=torch.float32)
        if self.method == "npe" and hasattr(self.estimator, "sample_batched") and len(x) > 1:
            s = self.estimator.sample_batched((n,), x=xt, show_progress_bars=False)
            return s.numpy().astype(np.float64)  # (n, m, d)
        out = []
        for i in range(len(x)):
            s = self.estimator.sample((n,), x=xt[i:i + 1], show_progress_bars=False)
            out.append(s.numpy().astype(np.float64))
        return np.stack(out, axis=1)

    def sample(self, x: Any, n: int = 1000, seed: SeedLike = 0) -> np.ndarray:
        """``n`` posterior samples (n, d) for one observation (physical units)."""
        xa = self.check_x(x)
        if xa.shape[0] != 1:
            raise ParameterError("sample() takes one observation; use sample_many()")
        return self.sample_many(xa, n, seed)[:, 0, :]

    def sample_many(self, xs: Any, n: int = 1000, seed: SeedLike = 0) -> np.ndarray:
        """``n`` samples for each of m observations: array (n, m, d), physical units."""
        xa = self.check_x(xs)
        if int(n) != n or n < 1:
            raise ParameterError(f"number of posterior samples must be >= 1, got {n}")
        if self.numpy_mdn is not None:
            low, high = self.space_bounds()
            u = rejection_sample(self.numpy_mdn, xa, int(n), as_generator(seed), low, high)
            return self.prior.from_space(u, self.space)
        with torch_context(seed, self.n_threads) as torch, torch.no_grad(), \
                warnings.catch_warnings():
            # sbi lowers its internal batch size for memory; nothing for the user to do
            warnings.filterwarnings("ignore", message=".*max_sampling_batch_size.*")
            u = self._sample_u(torch, xa, int(n))
        return self.prior.from_space(u, self.space)

    def space_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The prior's support in the training space (infinite when ``"unbounded"``)."""
        if self.space == "unbounded":
            inf = np.full(self.prior.dim, np.inf)
            return -inf, inf
        z = np.array([p.z_bounds for p in self.prior.parameters], dtype=np.float64)
        return z[:, 0], z[:, 1]

    def summarize(self, x: Any, n: int = 4000, seed: SeedLike = 0, level: float = 0.9
                  ) -> PosteriorSummary:
        """Mean, median, SD and central ``level`` credible interval per parameter."""
        return summarize_samples(self.sample(x, n, seed), self.prior, level)

    def __repr__(self) -> str:
        return (f"WidthPosterior(method={self.method!r}, parameters={list(self.names)}, "
                f"summaries={len(self.summary_names)})")
