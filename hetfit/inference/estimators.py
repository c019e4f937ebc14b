"""Neural estimators (``sbi``): NPE by default, NLE and NRE selectable, optional embedding net.

=========  ====================================  ===================================
method     what is learned                       sampling
=========  ====================================  ===================================
``npe``    posterior ``q(theta | x)`` (flow)       direct, batched over observations
``nle``    likelihood ``q(x | theta)`` (flow)      MCMC (vectorized slice sampling)
``nre``    ratio ``p(x|theta) / p(x)`` (classifier)   MCMC (vectorized slice sampling)
=========  ====================================  ===================================

NPE is the default: amortized (a new recording costs one forward pass) and the cheapest to
diagnose (SBC over hundreds of observations takes seconds).

**Failed simulations.**  Rows flagged by the simulator (``status != OK``) or holding
non-finite summaries are removed *before* training and counted in the
:class:`TrainingReport` — never passed to ``sbi`` silently.  For NPE this is exact: the
training pairs then follow ``p(theta) p(x | theta)`` restricted to valid ``x``, whose
conditional ``p(theta | x)`` is the posterior for any valid observation.  NLE and NRE learn
``p(x | theta, valid)`` instead of ``p(x | theta)``; their posteriors are biased by
``1 / P(valid | theta)`` when failures depend on theta, which the report states.

**Embedding networks.**  ``embedding="cnn"`` (1-D convolutions) or ``"fc"`` learn features
from raw traces (e.g. a binned population rate) jointly with the flow (NPE and NRE only; NLE
models ``x`` itself).

Parameters are learned in the prior's unbounded (logit) space by default, so no probability
leaks outside the prior box (:mod:`hetfit.inference.priors`).  Training is seeded (``torch.manual_seed`` in a
forked RNG state) and runs on ``n_threads`` torch threads.
"""

from __future__ import annotations

import time
import warnings as warnings_module
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hetfit.console import info, library_output, library_warning, warn
from hetfit.errors import InsufficientDataError, ParameterError
from hetfit.inference.posterior import WidthPosterior, torch_context
from hetfit.inference.priors import Prior
from hetfit.inference.simulator import OK, count_status

METHODS = ("npe", "nle", "nre")
EMBEDDINGS = (None, "cnn", "fc")


@dataclass(frozen=True)
class EstimatorConfig:
    """How to train.  Defaults suit 2–6 parameters and 10–40 summaries.

    Parameters
    ----------
    method:
        ``"npe"`` (default), ``"nle"`` or ``"nre"``.
    density_estimator:
        NPE: ``"mdn"`` (mixture of 10 Gaussians, default), ``"maf"``, ``"nsf"``,
        ``"zuko_maf"``; NLE: ``"nsf"`` (default), ``"maf"``; NRE classifier: ``"resnet"``
        (default), ``"mlp"``.  Chosen on benchmarks (``benchmarks/RESULTS.md``): for 2–4
        parameters the mixture network was the best calibrated NPE estimator, and
        ``sbi``'s MAF with 50 hidden units trained poorly on the toy problems.
    hidden_features, num_transforms:
        Network size.
    embedding:
        ``None``, ``"cnn"`` or ``"fc"`` (learned features of a raw trace).
    embedding_dim:
        Output size of the embedding network.
    embedding_channels:
        For ``"cnn"``: the summary vector holds this many equally long traces one after the
        other (e.g. 2 for E and I rate traces), fed to the CNN as channels.
    training_batch_size, learning_rate, validation_fraction, stop_after_epochs,
    max_num_epochs:
        Passed to ``sbi``'s ``train`` (early stopping on a held-out validation split).
    mcmc_chains, mcmc_warmup:
        Slice-sampling settings for NLE/NRE posteriors.
    parameter_space:
        ``"unbounded"`` (default: logit-transformed, no leakage) or ``"box"`` (learn
        ``theta`` or ``log theta`` under a uniform box prior); see
        :mod:`hetfit.inference.priors`.
    """

    method: str = "npe"
    density_estimator: str | None = None
    hidden_features: int = 50
    num_transforms: int = 5
    embedding: str | None = None
    embedding_dim: int = 16
    embedding_channels: int = 1
    training_batch_size: int = 256
    learning_rate: float = 5e-4
    validation_fraction: float = 0.1
    stop_after_epochs: int = 20
    max_num_epochs: int = 2**31 - 1
    mcmc_chains: int = 20
    mcmc_warmup: int = 200
    parameter_space: str = "unbounded"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ParameterError(f"unknown inference method {self.method!r}",
                                 hint=f"use one of {METHODS}")
        if self.embedding not in EMBEDDINGS:
            raise ParameterError(f"unknown embedding {self.embedding!r}",
                                 hint="use None, 'cnn' or 'fc'")
        if self.embedding and self.method == "nle":
            raise ParameterError(
                "NLE models the summaries themselves and cannot use an embedding network",
                hint="use method='npe' (or 'nre') with an embedding, or summaries without one",
            )
        if self.parameter_space not in ("box", "unbounded"):
            raise ParameterError(f"unknown parameter_space {self.parameter_space!r}",
                                 hint="use 'box' or 'unbounded'")
        if not 0 < self.validation_fraction < 0.5:
            raise ParameterError(
                f"validation_fraction must be in (0, 0.5), got {self.validation_fraction}")
        for name in ("hidden_features", "num_transforms", "training_batch_size",
                     "stop_after_epochs", "max_num_epochs", "embedding_dim",
                     "embedding_channels"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ParameterError(f"{name} must be a positive integer, got {v}")

    @property
    def estimator_name(self) -> str:
        if self.density_estimator:
            return self.density_estimator
        return {"npe": "mdn", "nle": "nsf", "nre": "resnet"}[self.method]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingReport:
    """What training used and how it went."""

    method: str
    n_simulations: int
    n_used: int
    n_excluded: int
    excluded_by_reason: dict[str, int]
    epochs: int
    best_validation_loss: float
    train_time_s: float
    n_threads: int | None
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _NullTracker:
    """sbi tracker that records nothing (sbi's default writes TensorBoard logs to cwd)."""

    log_dir = None

    def log_metric(self, name, value, step=None) -> None:
        pass

    def log_metrics(self, metrics, step=None) -> None:
        pass

    def log_params(self, params) -> None:
        pass

    def add_figure(self, name, figure, step=None) -> None:
        pass

    def flush(self) -> None:
        pass


def _embedding_net(config: EstimatorConfig, n_x: int):
    from sbi.neural_nets.embedding_nets import CNNEmbedding, FCEmbedding

    if config.embedding == "cnn":
        ch = config.embedding_channels
        if n_x % ch:
            raise ParameterError(
                f"{n_x} summaries cannot be split into {ch} equally long traces",
                hint="set embedding_channels to the number of traces in the vector")
        return CNNEmbedding(input_shape=(n_x // ch,), in_channels=ch,
                            output_dim=config.embedding_dim)
    return FCEmbedding(input_dim=n_x, output_dim=config.embedding_dim)


def network_builder(config: EstimatorConfig, n_x: int) -> Any:
    """``sbi``'s builder of the network ``config`` describes: ``builder(theta, x)`` returns an
    untrained network sized (and z-scored) for that batch.

    Used to train and, with the same ``config``, to rebuild a saved network from its weights
    (:mod:`hetfit.inference.artifacts`), so both see exactly one architecture.
    """
    from sbi.neural_nets import classifier_nn, likelihood_nn, posterior_nn

    kw_net = {"hidden_features": config.hidden_features}
    if config.method == "npe":
        kw = {"embedding_net": _embedding_net(config, n_x)} if config.embedding else {}
        if config.estimator_name in ("nsf", "maf", "zuko_maf", "zuko_nsf"):
            kw["num_transforms"] = config.num_transforms
        return posterior_nn(model=config.estimator_name, **kw_net, **kw)
    if config.method == "nle":
        kw = ({"num_transforms": config.num_transforms}
              if config.estimator_name in ("nsf", "maf") else {})
        return likelihood_nn(model=config.estimator_name, **kw_net, **kw)
    kw = ({"embedding_net_x": _embedding_net(config, n_x)} if config.embedding else {})
    return classifier_nn(model=config.estimator_name, **kw_net, **kw)


def make_trainer(config: EstimatorConfig, prior: Prior, builder: Any) -> Any:
    """The ``sbi`` trainer (NPE, NLE or NRE) for ``config`` around a :func:`network_builder`.
    Call it inside :func:`torch_context`."""
    from sbi.inference import NLE, NPE, NRE

    common = {"prior": prior.torch_distribution(config.parameter_space),
              "show_progress_bars": False, "tracker": _NullTracker()}
    if config.method == "npe":
        return NPE(density_estimator=builder, **common)
    if config.method == "nle":
        return NLE(density_estimator=builder, **common)
    return NRE(classifier=builder, **common)


def build_sbi_posterior(trainer: Any, network: Any, config: EstimatorConfig) -> Any:
    """The ``sbi`` posterior around a trained ``network``: direct sampling for NPE, vectorized
    slice sampling (``config``'s chains and warm-up) for NLE and NRE."""
    if config.method == "npe":
        return trainer.build_posterior(network)
    from sbi.inference.posteriors import MCMCPosteriorParameters

    return trainer.build_posterior(
        network, sample_with="mcmc",
        posterior_parameters=MCMCPosteriorParameters(
            method="slice_np_vectorized", num_chains=config.mcmc_chains,
            warmup_steps=config.mcmc_warmup, thin=1, init_strategy="resample"),
    )


def trained_network(sbi_posterior: Any) -> Any:
    """The neural network inside an ``sbi`` posterior (density, likelihood or ratio)."""
    net = getattr(sbi_posterior, "posterior_estimator", None)
    if net is None:
        pf = sbi_posterior.potential_fn
        net = getattr(pf, "likelihood_estimator", None) or getattr(pf, "ratio_estimator", None)
    if net is None:  # pragma: no cover - sbi layout changed
        raise TypeError(f"no trained network found in {type(sbi_posterior).__name__}")
    return net


def valid_rows(x: np.ndarray, status: np.ndarray | None = None) -> np.ndarray:
    """Mask of usable simulations: status OK and all summaries finite."""
    ok = np.all(np.isfinite(x), axis=1)
    if status is not None:
        ok &= np.asarray(status) == OK
    return ok


def train_posterior(
    theta: np.ndarray,
    x: np.ndarray,
    prior: Prior,
    status: np.ndarray | None = None,
    summary_names: tuple[str, ...] | None = None,
    config: EstimatorConfig | None = None,
    seed: int = 0,
    n_threads: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[WidthPosterior, TrainingReport]:
    """Train an amortized posterior on simulations ``(theta, x)``.

    Parameters
    ----------
    theta:
        Parameter sets (n, d) in physical units, inside the prior.
    x:
        Summaries (n, k); rows with non-finite values are excluded and counted.
    prior:
        The prior ``theta`` was drawn from.
    status:
        Simulator status per row (optional); rows with ``status != OK`` are excluded.
    summary_names:
        Names of the columns of ``x`` (default ``x0, x1, ...``).
    config:
        :class:`EstimatorConfig` (default: NPE with a neural spline flow).
    seed:
        Seed of network initialisation, data split and batching.
    n_threads:
        torch threads (default: leave torch's setting).

    Returns
    -------
    (WidthPosterior, TrainingReport)
    """
    config = config or EstimatorConfig()
    theta = np.asarray(theta, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or theta.ndim != 2 or x.shape[0] != theta.shape[0]:
        raise ParameterError(
            f"theta {theta.shape} and x {x.shape} must be 2-D with the same number of rows")
    if summary_names is None:
        summary_names = tuple(f"x{j}" for j in range(x.shape[1]))
    if len(summary_names) != x.shape[1]:
        raise ParameterError(f"{len(summary_names)} summary names for {x.shape[1]} columns")
    n = x.shape[0]
    st = np.zeros(n, dtype=np.int8) if status is None else np.asarray(status, dtype=np.int8)
    ok = valid_rows(x, st)
    reasons = count_status(np.where(ok | (st != OK), st, 2))
    reasons.pop("ok", None)
    n_used = int(ok.sum())
    warnings: list[str] = []
    min_needed = max(50, 10 * prior.dim)
    if n_used < min_needed:
        raise InsufficientDataError(
            f"only {n_used} of {n} simulations are usable for training (need >= "
            f"{min_needed}); excluded: {reasons}",
            hint="increase the simulation budget or check why simulations fail",
        )
    if n_used < n:
        msg = (f"{n - n_used} of {n} simulations excluded from training "
               f"({', '.join(f'{k}: {v}' for k, v in reasons.items() if v)})")
        info(msg)
        warnings.append(msg)
        if config.method in ("nle", "nre"):
            w = ("NLE/NRE trained on valid simulations only learn p(x | theta, valid); "
                 "if failures depend on theta the posterior is biased by 1/P(valid|theta) "
                 "(NPE is not)")
            warn(w)
            warnings.append(w)
    const = np.flatnonzero(np.ptp(x[ok], axis=0) == 0)
    if const.size:
        w = (f"summaries {[summary_names[j] for j in const]} are constant across "
             "simulations and carry no information")
        warn(w)
        warnings.append(w)
    theta_u = prior.to_space(theta[ok], config.parameter_space)
    x_ok = x[ok]

    t0 = time.perf_counter()
    with torch_context(seed, n_threads) as torch:
        trainer = make_trainer(config, prior, network_builder(config, x.shape[1]))
        tt = torch.as_tensor(theta_u, dtype=torch.float32)
        xt = torch.as_tensor(x_ok, dtype=torch.float32)
        # sbi prints and logs on its own (--quiet must silence it): library_output captures
        # both; its printed lines go to info(), its warnings are recorded below
        with warnings_module.catch_warnings(record=True) as caught, library_output() as lib:
            warnings_module.simplefilter("always")
            trainer.append_simulations(tt, xt)
            est = trainer.train(
                training_batch_size=config.training_batch_size,
                learning_rate=config.learning_rate,
                validation_fraction=config.validation_fraction,
                stop_after_epochs=config.stop_after_epochs,
                max_num_epochs=config.max_num_epochs,
            )
            sbi_post = build_sbi_posterior(trainer, est, config)
        # sbi's training warnings (epoch cap reached, outliers in x) belong in the report,
        # whether or not they are shown (library_warning is silent under --quiet)
        sbi_messages = [" ".join(str(w.message).split()) for w in caught
                        if issubclass(w.category, UserWarning)] + lib.logged
        for msg in sbi_messages:
            if msg not in warnings:
                warnings.append(msg)
                library_warning(msg)
        for w in caught:
            if not issubclass(w.category, UserWarning):
                warnings_module.warn_explicit(w.message, w.category, w.filename, w.lineno)
        summary = trainer.summary
    train_time = time.perf_counter() - t0
    epochs = int(summary["epochs_trained"][-1]) if summary.get("epochs_trained") else 0
    best = (float(summary["best_validation_loss"][-1])
            if summary.get("best_validation_loss") else float("nan"))
    report = TrainingReport(
        method=config.method, n_simulations=n, n_used=n_used, n_excluded=n - n_used,
        excluded_by_reason=reasons, epochs=epochs, best_validation_loss=best,
        train_time_s=train_time, n_threads=n_threads, seed=int(seed),
        config=config.to_dict(), warnings=warnings,
    )
    info(f"trained {config.method.upper()} on {n_used} simulations: {epochs} epochs, "
         f"{train_time:.1f} s")
    # Keep a sample of the prior-predictive summaries for misspecification checks later.
    ref = x_ok[np.random.default_rng(seed).permutation(len(x_ok))[:2000]]
    posterior = WidthPosterior(sbi_post, prior, summary_names, method=config.method,
                               metadata=dict(metadata or {}), reference_x=ref,
                               n_threads=n_threads, space=config.parameter_space,
                               config=config.to_dict())
    return posterior, report
