"""Where simulations run: in-process, local processes/threads, or a Dask cluster — one code path.

Every backend is a :class:`concurrent.futures.Executor`:

=====================  =====================================================================
``scheduler=None``      ``workers=1``: in-process (numba threads inside each batch);
                        ``workers>1``: a ``ProcessPoolExecutor`` (spawned processes) or, with
                        ``backend="threads"``, a ``ThreadPoolExecutor``
``scheduler="local"``   a ``dask.distributed.LocalCluster`` with ``workers`` processes
``scheduler="tcp://…"`` an existing Dask scheduler (``dask-scheduler`` / ``dask-jobqueue``)
``scheduler=Client``    an existing ``dask.distributed.Client``
=====================  =====================================================================

Dask's ``Client.get_executor()`` is a ``concurrent.futures.Executor`` too, so the submitting
code (:meth:`SimulationExecutor.map_unordered`) is the same for all of them.  Each task
simulates one chunk of parameter sets with *their own* seeds, so results are identical on
every backend and for any number of workers (tested).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hetfit.errors import ParameterError


class _InProcessExecutor(cf.Executor):
    """Runs each task immediately in the calling process (returns completed futures)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            fut.set_exception(exc)
        return fut


def run_simulation_task(simulator: Any, theta, seeds, n_threads: int | None = None):
    """Worker entry point: simulate one chunk (top-level so it pickles by reference)."""
    if n_threads:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a core dependency
            return simulator.simulate(theta, seeds)
        old = numba.get_num_threads()
        numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
        try:
            return simulator.simulate(theta, seeds)
        finally:
            numba.set_num_threads(old)
    return simulator.simulate(theta, seeds)


class SimulationExecutor:
    """Context manager giving one ``concurrent.futures.Executor`` for any backend.

    Parameters
    ----------
    scheduler:
        ``None`` (local), ``"local"`` / ``"local:N"`` (a Dask LocalCluster with N worker
        processes), a scheduler address such as ``"tcp://10.0.0.5:8786"``, or a
        ``dask.distributed.Client``.
    workers:
        Local worker processes (``scheduler=None``) or LocalCluster workers.  ``1`` runs
        in the calling process, which is the fastest choice on one machine because the
        numba kernels are already parallel over parameter sets.
    n_threads:
        numba threads per task (``None``: numba's default, all cores).
    backend:
        ``"processes"`` (default) or ``"threads"`` for ``workers > 1`` without Dask.
    """

    def __init__(
        self,
        scheduler: Any = None,
        workers: int = 1,
        n_threads: int | None = None,
        backend: str = "processes",
    ) -> None:
        if int(workers) != workers or workers < 1:
            raise ParameterError(f"workers must be a positive integer, got {workers}")
        if n_threads is not None and (int(n_threads) != n_threads or n_threads < 1):
            raise ParameterError(f"n_threads must be a positive integer, got {n_threads}")
        if backend not in ("processes", "threads"):
            raise ParameterError(
                f"unknown backend {backend!r}", hint="use 'processes' or 'threads'"
            )
        self.scheduler = scheduler
        self.workers = int(workers)
        self.n_threads = n_threads
        self.backend = backend
        self._executor: cf.Executor | None = None
        self._client = None
        self._cluster = None
        self._own_client = False

    # -- lifecycle --------------------------------------------------------------------
    def __enter__(self) -> SimulationExecutor:
        self._executor = self._make_executor()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        ex, self._executor = self._executor, None
        if ex is not None and self._client is None and not isinstance(ex, _InProcessExecutor):
            ex.shutdown(wait=True, cancel_futures=True)
        if self._client is not None and self._own_client:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    @property
    def description(self) -> str:
        if self._client is not None:
            return f"dask scheduler {self._client.scheduler.address}"
        if self.workers == 1:
            return "in-process"
        return f"{self.workers} local {self.backend}"

    @property
    def parallelism(self) -> int:
        """How many tasks can usefully run at once."""
        if self._client is not None:
            try:
                return max(1, sum(self._client.nthreads().values()))
            except Exception:
                return self.workers
        return self.workers

    def _make_executor(self) -> cf.Executor:
        if self.scheduler is None:
            if self.workers == 1:
                return _InProcessExecutor()
            if self.backend == "threads":
                return cf.ThreadPoolExecutor(max_workers=self.workers)
            import multiprocessing as mp

            # spawn: forking a process whose numba/torch thread pools are running is unsafe.
            return cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=mp.get_context("spawn")
            )
        from hetfit.errors import require

        distributed = require("dask.distributed", "dask", "running simulations on Dask")
        if isinstance(self.scheduler, distributed.Client):
            self._client = self.scheduler
        elif isinstance(self.scheduler, str) and (
            self.scheduler == "local" or self.scheduler.startswith("local:")
        ):
            n = self.workers
            if self.scheduler.startswith("local:"):
                try:
                    n = int(self.scheduler.split(":", 1)[1])
                except ValueError as exc:
                    raise ParameterError(
                        f"bad scheduler {self.scheduler!r}", hint="use 'local' or 'local:4'"
                    ) from exc
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = distributed.Client(self._cluster)
            self._own_client = True
        elif isinstance(self.scheduler, str):
            try:
                self._client = distributed.Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ParameterError(
                    f"cannot connect to the Dask scheduler at {self.scheduler}: {exc}",
                    hint="check the address (e.g. tcp://host:8786) and that the scheduler "
                    "is running",
                ) from exc
            self._own_client = True
        else:
            raise ParameterError(
                f"scheduler must be None, 'local', an address or a dask Client, got "
                f"{type(self.scheduler).__name__}"
            )
        # pure=False: tasks are already keyed by their seeds; skip hashing the arrays.
        return self._client.get_executor(pure=False)

    # -- submission -------------------------------------------------------------------
    def map_unordered(
        self,
        fn: Callable[..., Any],
        tasks: Iterable[tuple[Any, tuple]],
        max_in_flight: int | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """Run ``fn(*args)`` for each ``(key, args)`` in ``tasks``; yield ``(key, result)``
        as tasks finish.  At most ``max_in_flight`` tasks are queued at once (bounded
        memory; an interruption loses at most that many chunks of work)."""
        if self._executor is None:
            raise RuntimeError("use SimulationExecutor as a context manager")
        if isinstance(self._executor, _InProcessExecutor):
            limit = 1  # it runs tasks on submission: queueing ahead would only delay results
        else:
            limit = max_in_flight or max(1, 2 * self.parallelism)
        pending: dict[cf.Future, Any] = {}
        it = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < limit:
                    try:
                        key, args = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    pending[self._executor.submit(fn, *args)] = key
                if not pending:
                    return
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                # Deterministic order among simultaneously finished tasks.
                for fut in sorted(done, key=lambda f: str(pending[f])):
                    key = pending.pop(fut)
                    yield key, fut.result()
        finally:
            for fut in pending:
                fut.cancel()

