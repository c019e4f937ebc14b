"""Simulators for inference: model spec + parameter sets + seeds -> summary vectors.

A simulator is data (a spec) plus a batched kernel, like an ``sbi`` simulator but explicit
about failure and randomness:

- ``simulate(theta, seeds)`` takes an (n, d) array of parameter sets in physical units and
  one integer seed per set (``hetfit.seeding.child_seeds``), so a set's output never depends
  on the batch it was run in, the chunk size or the worker that ran it;
- it returns a :class:`SimulationBatch`: summaries ``x`` (n, k) and a ``status`` code per
  set.  A simulation that diverged or whose summaries are not finite is *flagged*
  (``status != OK``; its row of ``x`` may hold NaN) and counted; training and diagnostics
  drop flagged rows explicitly and report how many and why (:func:`count_status`).
- ``spec()`` is a JSON-able description that, together with the seed, fully determines the
  output; its hash (:meth:`Simulator.fingerprint`) ties stores and saved posteriors to the
  model that produced them.

Concrete simulators: :class:`NetworkSimulator` (hetfit's batched Izhikevich networks +
:mod:`hetfit.inference.summaries`) and the reference toys of
:mod:`hetfit.inference.toy_models` (analytic posteriors, used to validate the machinery).
"""

from __future__ import annotations

import abc
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetfit.console import warn
from hetfit.data_adapters.activity import Recording
from hetfit.errors import ParameterError
from hetfit.inference.summaries import (
    SUMMARY_VERSION,
    SummarySpec,
    TraceSpec,
    observed_units,
    summaries_of_recording,
    summaries_of_result,
)
from hetfit.io import to_jsonable
from hetfit.models.batch import simulate_batch
from hetfit.models.izhikevich import as_network

# Status codes of one simulation.
OK = 0
DIVERGED = 1  # the model state became non-finite (SpikeResult.diverged)
NONFINITE_SUMMARY = 2  # the run finished but a summary is NaN/inf (e.g. too few spikes)
FAILED = 3  # the simulator reported an error for this set
STATUS_NAMES = {OK: "ok", DIVERGED: "diverged", NONFINITE_SUMMARY: "nonfinite_summary",
                FAILED: "failed"}


@dataclass
class SimulationBatch:
    """Summaries and status of a batch of simulations.

    Attributes
    ----------
    x:
        Summary vectors, float64 (n, k); rows with ``status != OK`` are not to be used.
    status:
        int8 (n,): ``OK``, ``DIVERGED``, ``NONFINITE_SUMMARY`` or ``FAILED``.
    """

    x: np.ndarray
    status: np.ndarray

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float64)
        if self.x.ndim != 2:
            raise ParameterError(f"summaries must be 2-D (n, k), got shape {self.x.shape}")
        self.status = np.asarray(self.status, dtype=np.int8)
        if self.status.shape != (self.x.shape[0],):
            raise ParameterError(
                f"status has shape {self.status.shape}, expected ({self.x.shape[0]},)"
            )
        # Never let a non-finite summary pass as OK.
        bad = (self.status == OK) & ~np.all(np.isfinite(self.x), axis=1)
        self.status[bad] = NONFINITE_SUMMARY

    @property
    def valid(self) -> np.ndarray:
        return self.status == OK


def count_status(status: np.ndarray) -> dict[str, int]:
    """Counts per status name, e.g. ``{'ok': 980, 'diverged': 3, ...}`` (all keys present)."""
    status = np.asarray(status)
    return {name: int(np.count_nonzero(status == code)) for code, name in STATUS_NAMES.items()}


def spec_fingerprint(spec: Mapping[str, Any]) -> str:
    """Short stable hash of a JSON-able spec."""
    text = json.dumps(to_jsonable(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Simulator(abc.ABC):
    """Base class: a seeded, batched map from parameter sets to summary vectors.

    Subclasses set ``param_names`` (tuple of parameter names, in the order of the columns
    of ``theta``) and ``summary_names``/``summary_version`` and implement :meth:`spec` and
    :meth:`simulate`.  Instances must be picklable (they are shipped to worker processes
    and Dask workers).
    """

    param_names: tuple[str, ...] = ()
    summary_names: tuple[str, ...] = ()
    summary_version: str = "0"

    @abc.abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able description that, with the seeds, determines the outputs."""

    @abc.abstractmethod
    def simulate(self, theta: np.ndarray, seeds: np.ndarray) -> SimulationBatch:
        """Simulate ``theta`` (n, d) with ``seeds`` (n,) -> :class:`SimulationBatch`."""

    def fingerprint(self) -> str:
        return spec_fingerprint(
            {"spec": self.spec(), "params": list(self.param_names),
             "summaries": list(self.summary_names), "summary_version": self.summary_version}
        )

    def check_theta(self, theta: Any, seeds: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate shapes of a batch (helper for subclasses)."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 1:
            theta = theta[None, :]
        if theta.ndim != 2 or theta.shape[1] != len(self.param_names):
            raise ParameterError(
                f"theta has shape {theta.shape}, expected (n, {len(self.param_names)}) for "
                f"parameters {list(self.param_names)}"
            )
        seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        if seeds.shape[0] != theta.shape[0]:
            raise ParameterError(
                f"got {seeds.shape[0]} seeds for {theta.shape[0]} parameter sets"
            )
        return theta, seeds


class NetworkSimulator(Simulator):
    """hetfit Izhikevich network + summary statistics, batched over parameter sets.

    Parameters
    ----------
    network:
        Base :class:`~hetfit.models.izhikevich.IzhikevichNetwork` (e.g. from
        :mod:`hetfit.models.presets`); everything not inferred stays as in it.
    parameters:
        Inferred parameter name -> key understood by
        :func:`hetfit.models.batch.simulate_batch`, e.g.
        ``{"delta_v_E": "E.v_theta.width", "delta_v_I": "I.v_theta.width",
        "I_ext_E": "E.I_ext"}``.  The order defines the columns of ``theta``.
    summaries:
        :class:`~hetfit.inference.summaries.SummarySpec` (statistics) or
        :class:`~hetfit.inference.summaries.TraceSpec` (raw rate traces for an embedding
        network).
    t_max_ms:
        Simulated duration (ms), including the transient.
    t_transient_ms:
        Initial stretch discarded before computing summaries (ms).
    dt_ms, method:
        Integration step and scheme (see :func:`hetfit.models.batch.simulate_izhikevich`).
    n_threads:
        numba threads of the batched kernel (not part of the spec: it does not change
        results).

    Each parameter set ``i`` is simulated with its own seed (heterogeneity draws, graph,
    noise and the choice of observed units all derive from it), so outputs are identical
    whatever the batch, chunk or worker.
    """

    def __init__(self, network: Any, parameters: Mapping[str, str], summaries: Any,
                 t_max_ms: float = 1100.0, t_transient_ms: float = 100.0,
                 dt_ms: float = 0.1, method: str = "exact",
                 n_threads: int | None = None) -> None:
        self.network = as_network(network)
        if not parameters:
            raise ParameterError("NetworkSimulator needs at least one inferred parameter")
        self.parameters = {str(k): str(v) for k, v in dict(parameters).items()}
        if not isinstance(summaries, (SummarySpec, TraceSpec)):
            raise ParameterError("summaries must be a SummarySpec or a TraceSpec")
        self.summaries = summaries
        if not (np.isfinite(t_max_ms) and t_max_ms > t_transient_ms >= 0):
            raise ParameterError(
                f"need t_max_ms > t_transient_ms >= 0, got {t_max_ms} and {t_transient_ms}")
        if not dt_ms > 0:
            raise ParameterError(f"dt_ms must be > 0, got {dt_ms}")
        window = getattr(summaries, "window_ms", None)
        if window is not None and window > t_max_ms - t_transient_ms + 1e-9:
            raise ParameterError(
                f"the trace window ({window:g} ms) is longer than the analysis window "
                f"({t_max_ms - t_transient_ms:g} ms)")
        if summaries.populations is not None:
            missing = [p for p in summaries.populations if p not in self.network.names]
            if missing:
                raise ParameterError(
                    f"summary populations {missing} are not in the network {self.network.names}")
        self.t_max_ms = float(t_max_ms)
        self.t_transient_ms = float(t_transient_ms)
        self.dt_ms = float(dt_ms)
        self.method = str(method)
        self.n_threads = n_threads
        self.param_names = tuple(self.parameters)
        self.summary_names = summaries.names
        self.summary_version = SUMMARY_VERSION

    def spec(self) -> dict[str, Any]:
        return {
            "model": "izhikevich_network",
            "network": self.network.to_dict(),
            "parameters": dict(self.parameters),
            "summaries": self.summaries.to_dict(),
            "t_max_ms": self.t_max_ms,
            "t_transient_ms": self.t_transient_ms,
            "dt_ms": self.dt_ms,
            "method": self.method,
        }

    def _summary_callback(self, result: Any) -> np.ndarray:
        seed = int(result.meta["seed"]) % (2**63)
        return summaries_of_result(self.summaries, result, self.t_transient_ms, seed=seed)

    def simulate(self, theta: np.ndarray, seeds: np.ndarray) -> SimulationBatch:
        theta, seeds = self.check_theta(theta, seeds)
        params = {key: theta[:, j] for j, key in enumerate(self.parameters.values())}
        res = simulate_batch(
            self.network, params, self.t_max_ms, self.dt_ms, seeds=[int(s) for s in seeds],
            method=self.method, record_spikes=True, summary=self._summary_callback,
            n_threads=self.n_threads,
        )
        x = res.summaries
        if x is None or x.shape != (len(seeds), len(self.summary_names)):
            x = np.full((len(seeds), len(self.summary_names)), np.nan)
            if res.summaries is not None and res.summaries.size:
                x[:] = res.summaries
        status = np.where(np.asarray(res.status) != 0, DIVERGED, OK).astype(np.int8)
        return SimulationBatch(x, status)

    def simulate_recordings(self, theta: Any, seeds: Any) -> list[Any]:
        """Full spike trains of parameter sets, as
        :class:`~hetfit.data_adapters.activity.Recording` objects over the analysis window
        (synthetic data for validation; diverged sets give ``None``)."""
        theta, seeds = self.check_theta(theta, seeds)
        params = {key: theta[:, j] for j, key in enumerate(self.parameters.values())}
        res = simulate_batch(self.network, params, self.t_max_ms, self.dt_ms,
                             seeds=[int(s) for s in seeds], method=self.method,
                             record_spikes=True, n_threads=self.n_threads)
        out = []
        for i in range(len(seeds)):
            r = res.result(i)
            if r.diverged:
                out.append(None)
                continue
            rec = Recording.from_spike_result(r)
            out.append(rec.select(self.t_transient_ms, self.t_max_ms))
        return out

    def check_recording(self, recording: Any) -> None:
        """Raise a clear error if ``recording`` cannot be summarized like the simulations
        (different window length, fewer units than the observation model expects)."""
        check_recording_matches(self, recording)

    def summaries_of(self, recording: Any, seed: int | None = 0) -> np.ndarray:
        """Summary vector of a recording, computed exactly as for simulations."""
        want = self.t_max_ms - self.t_transient_ms
        if recording.t_stop_ms - recording.t_start_ms > want:  # drop a sub-step remainder
            recording = recording.select(recording.t_start_ms, recording.t_start_ms + want)
        return summaries_of_recording(self.summaries, recording, seed=seed)

    def __repr__(self) -> str:
        return (f"NetworkSimulator(populations={self.network.names}, "
                f"parameters={self.parameters}, summaries={len(self.summary_names)}, "
                f"t_max_ms={self.t_max_ms})")


def check_recording_matches(simulator: NetworkSimulator, recording: Any) -> None:
    """Raise a clear error if ``recording`` cannot be summarized like the simulations."""
    dur = float(recording.t_stop_ms - recording.t_start_ms)
    want = simulator.t_max_ms - simulator.t_transient_ms
    if not math.isclose(dur, want, rel_tol=1e-3, abs_tol=1.0):
        raise ParameterError(
            f"the recording window is {dur:g} ms but the model summarizes {want:g} ms",
            hint="cut the recording to the same length (hetfit fit --window-ms) or train a "
            "posterior for this duration")
    spec = simulator.summaries
    units = observed_units(recording, spec.populations, spec.observe_silent)
    expected = spec.units_per_population
    if expected is not None and any(units.get(k, 0) < v for k, v in expected.items()):
        raise ParameterError(
            f"the recording has {units} observed units but the posterior was trained for "
            f"{expected}", hint="train a posterior for this recording (omit --posterior)")
    if spec.observe_silent and units and all(
            v == observed_units(recording, spec.populations).get(k) for k, v in units.items()):
        warn("the model counts silent cells (observe_silent) but the recording lists none; "
             "spike files (CSV) cannot list silent cells, so the active fraction reads 1")
