"""``WidthFitter``: simulate, train, diagnose and apply a posterior over heterogeneity widths.

A small estimator object in the scikit-learn style::

    from hetfit.inference import WidthFitter, ei_width_problem

    simulator, prior = ei_width_problem()
    fitter = WidthFitter(simulator, prior, budget=10_000, seed=1, store="sims/")
    result = fitter.fit()                   # simulations (resumable) + NPE + SBC
    obs = fitter.posterior_for(recording)   # mean, median, 90% interval per width + checks
    fitter.save("posterior.npz")

Steps of :meth:`WidthFitter.fit`:

1. ``budget`` training simulations and ``n_validation`` held-out simulations (a second,
   independently seeded plan) go to resumable stores under ``store``
   (:mod:`hetfit.inference.store`), locally or on Dask (``scheduler``);
2. failed simulations are excluded and counted; the estimator (NPE by default) is trained
   (:mod:`hetfit.inference.estimators`);
3. on the held-out simulations: simulation-based calibration (rank uniformity per
   parameter), expected coverage and recovery of the true widths
   (:mod:`hetfit.inference.diagnostics`).

Results are plain dataclasses with ``to_dict()`` (JSON-ready).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetfit.console import info
from hetfit.errors import InsufficientDataError, ParameterError, option
from hetfit.inference.diagnostics import (
    MisspecificationResult,
    PredictiveCheckResult,
    RecoveryResult,
    SBCResult,
    misspecification_check,
    posterior_predictive_check,
    recovery,
    sbc,
)
from hetfit.inference.estimators import EstimatorConfig, TrainingReport, train_posterior
from hetfit.inference.posterior import PosteriorSummary, WidthPosterior, summarize_samples
from hetfit.inference.priors import Prior, coerce_prior
from hetfit.inference.store import RunReport, SimulationStore
from hetfit.resources import check_fit_sizes
from hetfit.seeding import child_seeds

DEFAULT_BUDGET = 10_000
# The density estimators are small networks: one torch thread trained 2-10x faster than two
# on the 2-core machines (thread hand-offs cost more than they save; benchmarks/RESULTS.md).
DEFAULT_TORCH_THREADS = 1


@dataclass
class FitResult:
    """What :meth:`WidthFitter.fit` did and found (plain data; ``posterior`` is the object)."""

    posterior: WidthPosterior
    training: TrainingReport
    simulations: RunReport
    validation: RunReport | None
    sbc: SBCResult | None
    recovery: RecoveryResult | None
    store_path: Path
    posterior_path: Path | None = None
    wall_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "training": asdict(self.training),
            "simulations": asdict(self.simulations),
            "validation_simulations": None if self.validation is None else asdict(
                self.validation),
            "sbc": None if self.sbc is None else self.sbc.to_dict(),
            "recovery": None if self.recovery is None else self.recovery.to_dict(),
            "store_path": str(self.store_path),
            "posterior_path": None if self.posterior_path is None else str(
                self.posterior_path),
            "wall_time_s": self.wall_time_s,
        }


@dataclass
class ObservationResult:
    """Posterior for one observation, with checks of whether the model can explain it."""

    summary: PosteriorSummary
    x: np.ndarray
    summary_names: tuple[str, ...]
    misspecification: MisspecificationResult | None = None
    predictive: PredictiveCheckResult | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = self.summary.to_dict()
        out["observed_summaries"] = dict(zip(self.summary_names, map(float, self.x)))
        out["misspecification"] = (None if self.misspecification is None
                                   else self.misspecification.to_dict())
        out["posterior_predictive"] = (None if self.predictive is None
                                       else self.predictive.to_dict())
        out["timings_s"] = self.timings_s
        return out


class WidthFitter:
    """Fit heterogeneity widths of a network model to activity with simulation-based inference.

    Parameters
    ----------
    simulator:
        A :class:`~hetfit.inference.simulator.Simulator` (e.g. from
        :func:`hetfit.inference.problems.ei_width_problem`).
    prior:
        :class:`~hetfit.inference.priors.Prior` over the simulator's parameters.
    budget:
        Training simulations.
    seed:
        Root seed: simulation plans, network initialisation, SBC sampling.
    store:
        Directory for the resumable simulation stores (``train/`` and ``validation/``);
        ``None`` uses a temporary directory (not resumable across sessions).
    n_validation:
        Held-out simulations for SBC/coverage/recovery (default ``min(500, budget // 10)``
        for NPE, 0 for NLE/NRE whose MCMC sampling makes SBC slow).
    estimator:
        :class:`~hetfit.inference.estimators.EstimatorConfig` (default NPE, MAF).
    scheduler, workers, n_threads, worker_timeout:
        Where simulations run, and how long a Dask run waits without any worker (see
        :class:`~hetfit.inference.parallel.SimulationExecutor`).
    torch_threads:
        torch threads for training and sampling (default 1, faster for these networks).
    chunk_size:
        Simulations per stored chunk / worker task.
    sbc_samples:
        Posterior draws per held-out case in SBC.
    """

    def __init__(
        self,
        simulator: Any,
        prior: Prior | dict[str, Any],
        budget: int = DEFAULT_BUDGET,
        seed: int = 0,
        store: str | os.PathLike | None = None,
        n_validation: int | None = None,
        estimator: EstimatorConfig | None = None,
        scheduler: Any = None,
        workers: int = 1,
        n_threads: int | None = None,
        torch_threads: int | None = None,
        chunk_size: int = 256,
        sbc_samples: int = 200,
        worker_timeout: float | None = None,
    ) -> None:
        self.simulator = simulator
        self.prior = coerce_prior(prior)
        if int(budget) != budget or budget < 1:
            raise ParameterError(f"budget must be a positive integer, got {budget}")
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed}")
        self.budget = int(budget)
        self.seed = int(seed)
        self.estimator = estimator or EstimatorConfig()
        if n_validation is None:
            n_validation = min(500, self.budget // 10) if self.estimator.method == "npe" else 0
        if int(n_validation) != n_validation or n_validation < 0:
            raise ParameterError(f"n_validation must be >= 0, got {n_validation}")
        self.n_validation = int(n_validation)
        self._store = Path(store).expanduser() if store is not None else None
        self.scheduler = scheduler
        self.workers = workers
        self.n_threads = n_threads
        self.worker_timeout = worker_timeout
        self.torch_threads = torch_threads or DEFAULT_TORCH_THREADS
        self.chunk_size = chunk_size
        self.sbc_samples = int(sbc_samples)
        s = child_seeds(self.seed, 3)
        self._validation_seed, self._train_seed, self._diag_seed = (int(v) for v in s)
        self.posterior_: WidthPosterior | None = None
        self.result_: FitResult | None = None

    # -- stores -------------------------------------------------------------------------
    @property
    def store(self) -> Path:
        """Directory of the simulation stores (a temporary one is made on first use)."""
        if self._store is None:
            self._store = Path(tempfile.mkdtemp(prefix="hetfit-simulations-"))
        return self._store

    def training_store(self) -> SimulationStore:
        return SimulationStore(self.store / "train", self.simulator, self.prior, self.seed,
                               self.chunk_size)

    def validation_store(self) -> SimulationStore:
        return SimulationStore(self.store / "validation", self.simulator, self.prior,
                               self._validation_seed, self.chunk_size)

    def _executor(self):
        from hetfit.inference.parallel import DEFAULT_WORKER_TIMEOUT_S, SimulationExecutor

        return SimulationExecutor(self.scheduler, self.workers, self.n_threads,
                                  worker_timeout=self.worker_timeout or DEFAULT_WORKER_TIMEOUT_S)

    def simulate(self) -> tuple[RunReport, RunReport | None]:
        """Fill the training (and validation) stores; resumes whatever is missing."""
        with self._executor() as ex:
            train = self.training_store().run(self.budget, executor=ex)
            val = (self.validation_store().run(self.n_validation, executor=ex)
                   if self.n_validation else None)
        return train, val

    # -- fitting ------------------------------------------------------------------------
    def fit(self, posterior_path: str | os.PathLike | None = None) -> FitResult:
        """Simulate (resuming), train, run diagnostics; save the posterior if a path is given."""
        from hetfit.inference.artifacts import posterior_metadata, save_posterior

        # a budget or model the machine cannot hold is refused before the first simulation
        check_fit_sizes(self.simulator, self.prior, budget=self.budget,
                        n_validation=self.n_validation, n_samples=0, chunk_size=self.chunk_size,
                        scheduler=self.scheduler, workers=self.workers)
        t0 = time.perf_counter()
        train_rep, val_rep = self.simulate()
        sims = self.training_store().load(self.budget)
        posterior, report = train_posterior(
            sims.theta, sims.x, self.prior, sims.status, self.simulator.summary_names,
            config=self.estimator, seed=self._train_seed, n_threads=self.torch_threads,
        )
        sbc_res = rec = None
        if self.n_validation:
            val = self.validation_store().load(self.n_validation)
            try:
                sbc_res = sbc(posterior, val.theta, val.x, val.status,
                              n_posterior_samples=self.sbc_samples, seed=self._diag_seed)
                rec = recovery(posterior, val.theta, val.x, val.status,
                               n_posterior_samples=1000, seed=self._diag_seed)
            except InsufficientDataError as exc:
                info(f"diagnostics skipped: {exc}")
        from dataclasses import asdict

        training = asdict(report)
        training.update({"budget": self.budget, "n_validation": self.n_validation, "root_seed": self.seed,
                         "store": str(self.store)})
        posterior.metadata = posterior_metadata(
            self.simulator, self.prior, training=training,
            sbc=None if sbc_res is None else sbc_res.to_dict(),
            recovery=None if rec is None else rec.to_dict(),
        )
        self.posterior_ = posterior
        result = FitResult(posterior, report, train_rep, val_rep, sbc_res, rec, self.store,
                           wall_time_s=time.perf_counter() - t0)
        if posterior_path is not None:
            result.posterior_path = save_posterior(posterior, posterior_path)
        self.result_ = result
        return result

    def save(self, path: str | os.PathLike) -> Path:
        """Save the trained posterior (with metadata) to ``path``."""
        from hetfit.inference.artifacts import save_posterior

        return save_posterior(self._require_posterior(), path)

    @classmethod
    def from_posterior(cls, path: str | os.PathLike, simulator: Any, prior: Any = None,
                       torch_threads: int | None = None,
                       trust_pickle: bool = False) -> WidthFitter:
        """A fitter around a saved posterior (refused if made for another model/prior).

        ``trust_pickle`` allows a legacy pickled ``.pt`` file (see
        :mod:`hetfit.inference.artifacts`: unpickling can run code)."""
        from hetfit.inference.artifacts import load_posterior

        prior = None if prior is None else coerce_prior(prior)
        post = load_posterior(path, simulator=simulator, prior=prior,
                              n_threads=torch_threads or DEFAULT_TORCH_THREADS,
                              trust_pickle=trust_pickle)
        training = post.metadata.get("training", {})
        fitter = cls(simulator, post.prior, budget=max(1, int(training.get("budget", 1))),
                     seed=int(training.get("root_seed", 0)), n_validation=0,
                     torch_threads=torch_threads)
        fitter.posterior_ = post
        return fitter

    def _require_posterior(self) -> WidthPosterior:
        if self.posterior_ is None:
            raise ParameterError("the fitter has no posterior yet",
                                 hint="call fit() or WidthFitter.from_posterior(path, ...)")
        return self.posterior_

    # -- applying -----------------------------------------------------------------------
    def observed_summaries(self, data: Any) -> np.ndarray:
        """Summary vector of a recording (or pass-through of a summary vector)."""
        if hasattr(data, "times_ms") and hasattr(data, "unit_ids"):
            check = getattr(self.simulator, "check_recording", None)
            if check is not None:
                check(data)
            return self.simulator.summaries_of(data)
        return np.asarray(data, dtype=np.float64).reshape(-1)

    def posterior_for(
        self,
        data: Any,
        n_samples: int = 4000,
        seed: int = 0,
        level: float = 0.9,
        check_misspecification: bool = True,
        n_predictive: int = 0,
    ) -> ObservationResult:
        """Posterior summary (mean, median, SD, central ``level`` interval per parameter) for
        a recording or summary vector, plus a misspecification check against the training
        simulations and, if ``n_predictive > 0``, a posterior predictive check on the first
        ``n_predictive`` of the ``n_samples`` samples."""
        if isinstance(n_predictive, bool) or int(n_predictive) != n_predictive or not (
                0 <= n_predictive <= n_samples):
            # a negative count sliced the samples from the end (samples - 2 simulations)
            raise ParameterError(
                f"n_predictive must be a whole number in [0, n_samples = {n_samples}], got "
                f"{n_predictive}", hint=option("0 skips the check; raise n_samples for more",
                                               "0 skips the check; raise --samples for more"))
        post = self._require_posterior()
        timings: dict[str, float] = {}
        t = time.perf_counter()
        x = self.observed_summaries(data)
        timings["summaries"] = time.perf_counter() - t
        t = time.perf_counter()
        samples = post.sample(x, n_samples, seed=seed)
        summary = summarize_samples(samples, post.prior, level)
        timings["posterior"] = time.perf_counter() - t
        mis = ppc = None
        if check_misspecification and post.reference_x is not None:
            t = time.perf_counter()
            mis = misspecification_check(x, post.reference_x,
                                         summary_names=post.summary_names, seed=seed)
            timings["misspecification"] = time.perf_counter() - t
        if n_predictive:
            t = time.perf_counter()
            ppc = posterior_predictive_check(post, self.simulator, x, n_predictive,
                                             seed=seed, samples=samples[:n_predictive])
            timings["predictive"] = time.perf_counter() - t
        return ObservationResult(summary, x, tuple(post.summary_names), mis, ppc, timings)
