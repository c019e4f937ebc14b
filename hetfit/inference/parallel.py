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

A cluster that fails is a :class:`~hetfit.errors.ClusterError` (one line), never a hang or
a traceback: an unreachable scheduler is refused within ``connect_timeout``; a scheduler
that dies mid-run, a worker killed repeatedly or a crashed local worker process stops the
run with what is stored kept (rerunning resumes); no Dask worker for ``worker_timeout``
seconds stops it too.  While hetfit drives a Dask client, distributed's own log lines go
through :func:`hetfit.console.info` (one line each, no tracebacks, silenced by ``--quiet``).

Dask's ``Client.get_executor()`` is a ``concurrent.futures.Executor`` too, so the submitting
code (:meth:`SimulationExecutor.map_unordered`) is the same for all of them.  Each task
simulates one chunk of parameter sets with *their own* seeds, so results are identical on
every backend and for any number of workers (tested).
"""

from __future__ import annotations

import concurrent.futures as cf
import concurrent.futures.process  # noqa: F401  cf.process.BrokenProcessPool below
import contextlib
import logging
import math
import re
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hetfit.console import info
from hetfit.errors import ClusterError, ParameterError, option

ACCEPTED_SCHEDULERS = ("'local', 'local:N' (a Dask cluster of N local worker processes) or a "
                       "scheduler address such as tcp://10.0.0.5:8786")
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_ADDRESS = re.compile(r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+)"
                      r":(?P<port>\d{1,5})/?")
DEFAULT_WORKER_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 20.0


def check_scheduler(scheduler: Any, connect_timeout: float | None = None) -> Any:
    """``scheduler`` checked for form: ``None``, ``"local"``, ``("local", n)``, an address
    string, or a Dask ``Client`` (anything else is refused).  With ``connect_timeout``, a
    tcp:// address is also probed (:func:`_probe_tcp`), so that a command can refuse an
    unreachable scheduler before it writes anything."""
    if scheduler is None or not isinstance(scheduler, str):
        dist = sys.modules.get("distributed")  # a Client exists only once it is imported
        if scheduler is None or (dist is not None and isinstance(scheduler, dist.Client)):
            return scheduler
        raise ParameterError(
            f"scheduler must be None, 'local', an address or a dask Client, got "
            f"{type(scheduler).__name__}")
    text = scheduler.strip()
    if text == "local":
        return "local"
    if text.startswith("local:"):
        n = text.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise ParameterError(f"bad scheduler {scheduler!r}: N in local:N must be a whole "
                                 "number >= 1", hint="use 'local' or 'local:4'")
        return ("local", int(n))
    m = _ADDRESS.fullmatch(text)
    inproc = text.startswith("inproc://") and len(text) > 9 and not any(
        c.isspace() for c in text)
    if not inproc and (m is None or (m["scheme"] or "tcp") not in _SCHEMES
                       or not 1 <= int(m["port"]) <= 65535):
        raise ParameterError(f"bad scheduler {scheduler!r}", hint=f"use {ACCEPTED_SCHEDULERS}")
    if connect_timeout is not None:
        _probe_tcp(text, connect_timeout)
    return text


def _probe_tcp(address: str, timeout: float) -> None:
    """Fail fast, with the reason, when no Dask scheduler answers at a tcp:// address.

    Dask's own connect retries a refused port until its timeout and then says only 'timed
    out', and it waits for the handshake of a port that accepts but stays silent with no
    timeout at all (forever).  A scheduler writes its handshake first, a frame whose first
    8 bytes are its length, so reading those within ``timeout`` tells a live scheduler from
    a dead port, a silent one or another service."""
    m = _ADDRESS.fullmatch(address)
    if m is None or (m["scheme"] or "tcp") != "tcp":
        return  # tls/ws/ucx/inproc: left to Dask
    host, port = m["host"].strip("[]"), int(m["port"])
    where = f"the Dask scheduler at {address}"
    hint = ("check the address and that the scheduler is running ('dask scheduler' prints "
            "its address), or use 'local' for a Dask cluster on this machine")
    head = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            try:
                while len(head) < 8:
                    more = sock.recv(8 - len(head))
                    if not more:
                        break
                    head += more
            except TimeoutError:
                pass  # connected, but silent: reported below
    except socket.gaierror as exc:
        raise ClusterError(f"cannot reach {where}: unknown host {host!r} ({exc.strerror})",
                           hint=hint) from None
    except ConnectionRefusedError:
        raise ClusterError(f"cannot reach {where}: nothing listens there (connection refused)",
                           hint=hint) from None
    except TimeoutError:
        raise ClusterError(f"cannot reach {where}: no answer within {timeout:g} s",
                           hint=hint) from None
    except OSError as exc:
        raise ClusterError(f"cannot reach {where}: {exc.strerror or exc}", hint=hint) from None
    if len(head) < 8 or not 0 < struct.unpack("<Q", head)[0] < 2**24:
        raise ClusterError(f"something accepts connections at {address} but it is not a "
                           f"Dask scheduler (no Dask handshake within {timeout:g} s)",
                           hint=hint)


def _discard_half_made_client(exc: BaseException, client_cls: type) -> None:
    """A ``Client`` whose constructor failed still closes itself when garbage-collected:
    a wait of twice its timeout plus a traceback on stderr ("Exception ignored in
    Client.__del__"), after hetfit has printed its one-line error.  Close it now, briefly,
    and mark it closed so that its ``__del__`` does nothing."""
    tb = exc.__traceback__
    while tb is not None:
        obj = tb.tb_frame.f_locals.get("self")
        if isinstance(obj, client_cls):
            with contextlib.suppress(Exception):
                obj.close(timeout=2)
            obj.status = "closed"
        tb = tb.tb_next


class _DaskLogToInfo(logging.Handler):
    """distributed's warnings as hetfit info lines: one line each, no traceback, silenced
    by ``--quiet`` (its own handler prints multi-line records straight to stderr, which
    breaks the one-line error contract of the CLI)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(record.getMessage().split())
        except Exception:  # a malformed record must not stop the run
            return
        if text:
            info(f"dask: {text[:300]}")


@contextlib.contextmanager
def _dask_logging() -> Iterator[None]:
    """Route the loggers distributed configures (they do not propagate) to _DaskLogToInfo."""
    roots = ("distributed", "tornado", "bokeh")
    handler = _DaskLogToInfo()
    saved = []
    names = [n for n in list(logging.Logger.manager.loggerDict) if n.split(".")[0] in roots]
    for name in sorted(set(names) | set(roots)):
        logger = logging.getLogger(name)
        if logger.handlers or name in roots:
            saved.append((logger, list(logger.handlers), logger.propagate))
            logger.handlers = [handler]
            logger.propagate = False
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate


def _task(key: Any) -> str:
    """A task key in words: the store's keys are simulation ranges ``(start, stop)``."""
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, int) for k in key):
        return f"simulations [{key[0]}, {key[1]})"
    return f"task {key}"


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
    worker_timeout:
        Seconds a Dask run waits while the scheduler has no worker before it stops with a
        :class:`~hetfit.errors.ClusterError` (what is stored is kept).
    connect_timeout:
        Seconds to wait for a Dask scheduler to answer (also the grace period for a client
        that lost its scheduler to reconnect).
    """

    def __init__(
        self,
        scheduler: Any = None,
        workers: int = 1,
        n_threads: int | None = None,
        backend: str = "processes",
        worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        if int(workers) != workers or workers < 1:
            raise ParameterError(f"workers must be a positive integer, got {workers}")
        if n_threads is not None and (int(n_threads) != n_threads or n_threads < 1):
            raise ParameterError(f"n_threads must be a positive integer, got {n_threads}")
        if backend not in ("processes", "threads"):
            raise ParameterError(
                f"unknown backend {backend!r}", hint="use 'processes' or 'threads'"
            )
        for name, value in (("worker_timeout", worker_timeout),
                            ("connect_timeout", connect_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value > 0):
                raise ParameterError(f"{name} must be a number of seconds > 0, got {value!r}")
        self.scheduler = check_scheduler(scheduler)
        self.worker_timeout = float(worker_timeout)
        self.connect_timeout = float(connect_timeout)
        self.workers = int(workers)
        self.n_threads = n_threads
        self.backend = backend
        self._executor: cf.Executor | None = None
        self._client = None
        self._cluster = None
        self._own_client = False
        self._logging: contextlib.ExitStack | None = None
        self._no_worker_since: float | None = None
        self._unhealthy_since: float | None = None

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
        # Bounded and quiet: closing a client whose scheduler died would otherwise wait
        # twice its timeout and raise over the ClusterError that explains what happened.
        if self._client is not None and self._own_client:
            with contextlib.suppress(Exception):
                self._client.close(timeout=min(self.connect_timeout, 10.0))
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close(timeout=min(self.connect_timeout, 10.0))
        self._client = self._cluster = None
        logs, self._logging = self._logging, None
        if logs is not None:
            logs.close()

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
        self._logging = contextlib.ExitStack()
        self._logging.enter_context(_dask_logging())
        try:
            self._connect(distributed)
        except BaseException:
            self.close()
            raise
        # pure=False: tasks are already keyed by their seeds; skip hashing the arrays.
        return self._client.get_executor(pure=False)

    def _connect(self, distributed: Any) -> None:
        if isinstance(self.scheduler, distributed.Client):
            self._client = self.scheduler
            return
        if self.scheduler == "local" or isinstance(self.scheduler, tuple):
            n = self.workers if self.scheduler == "local" else self.scheduler[1]
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = distributed.Client(self._cluster)
            self._own_client = True
            return
        _probe_tcp(self.scheduler, self.connect_timeout)
        try:
            self._client = distributed.Client(self.scheduler, timeout=self.connect_timeout)
        except Exception as exc:  # whatever the handshake hit: one line, below
            _discard_half_made_client(exc, distributed.Client)
            # Another service on that port answers with bytes Dask reads as a frame length
            # (MemoryError for exabytes) or garbage: any failure here means "not a scheduler".
            why = ("what answers there does not speak the Dask protocol"
                   if isinstance(exc, (MemoryError, ValueError, TypeError, EOFError))
                   else f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
            raise ClusterError(
                f"cannot connect to the Dask scheduler at {self.scheduler}: {why}",
                hint="check the address (e.g. tcp://host:8786) and that a Dask scheduler, "
                "not another service, listens there") from None
        self._own_client = True

    # -- cluster health -----------------------------------------------------------------
    def _where(self) -> str:
        try:
            return f"the Dask scheduler at {self._client.scheduler.address}"
        except Exception:
            return "the Dask scheduler"

    def _lost(self, what: str) -> ClusterError:
        return ClusterError(
            what,
            hint=option("restart the scheduler and run again: the store resumes",
                        "restart the scheduler (or use another --scheduler) and rerun the "
                        "same command: it resumes from the store"))

    def _check_cluster(self) -> None:
        """Called while waiting for tasks: stop with a clear error instead of waiting forever
        when the scheduler is gone or has had no worker for ``worker_timeout`` seconds."""
        client = self._client
        if client is None:
            return
        now = time.monotonic()
        status = str(getattr(client, "status", "running"))
        n_workers = None
        if status == "running":
            try:
                n_workers = len(client.nthreads(callback_timeout=self.connect_timeout))
            except Exception:
                n_workers = None
        if n_workers is None:  # disconnected, reconnecting or not answering
            self._unhealthy_since = self._unhealthy_since or now
            if status in ("closing", "closed", "failed") or (
                    now - self._unhealthy_since > self.connect_timeout):
                raise self._lost(f"lost the connection to {self._where()} (it stopped or "
                                 "the network failed) while simulations were running")
            return
        self._unhealthy_since = None
        if n_workers:
            self._no_worker_since = None
            return
        if self._no_worker_since is None:
            self._no_worker_since = now
            info(f"no Dask worker at {self._where()}; waiting up to "
                 f"{self.worker_timeout:g} s for one to join")
        elif now - self._no_worker_since > self.worker_timeout:
            raise ClusterError(
                f"no Dask worker has been available at {self._where()} for "
                f"{self.worker_timeout:g} s",
                hint=option("start workers (dask worker ADDRESS) or raise worker_timeout, "
                            "then run again: the store resumes",
                            "start workers (dask worker ADDRESS) or raise --worker-timeout, "
                            "then rerun the same command: it resumes from the store"))

    def _result(self, fut: cf.Future, key: Any) -> Any:
        """A task's result, with cluster failures turned into one clear ClusterError."""
        try:
            return fut.result()
        except cf.CancelledError:
            # hetfit cancels only in map_unordered's cleanup, after it stopped waiting:
            # a cancelled task seen here was cancelled by the cluster.
            raise self._lost(f"lost {self._where()}: it stopped, restarted or the network "
                             f"failed while {_task(key)} were running") from None
        except cf.process.BrokenProcessPool:
            raise ClusterError(
                f"a local worker process died while running {_task(key)} (killed, or out of "
                "memory)",
                hint=option("use fewer workers, then run again: the store resumes",
                            "use fewer --workers and rerun the same command: it resumes "
                            "from the store")) from None
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                raise ClusterError(
                    f"Dask workers died repeatedly while running {_task(key)} (out of memory?)",
                    hint=option("give the workers more memory, then run again: the store "
                                "resumes", "give the workers more memory, then rerun the same "
                                "command: it resumes from the store")) from None
            if self._client is not None and str(getattr(self._client, "status",
                                                        "running")) != "running":
                raise self._lost(f"lost the connection to {self._where()} while running "
                                 f"{_task(key)} ({type(exc).__name__})") from None
            raise

    def _submit(self, fn: Callable[..., Any], args: tuple) -> cf.Future:
        try:
            return self._executor.submit(fn, *args)
        except Exception as exc:
            if self._client is not None and str(getattr(self._client, "status",
                                                        "running")) != "running":
                raise self._lost(f"lost the connection to {self._where()} "
                                 f"({type(exc).__name__})") from None
            raise

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
        # With Dask, wait in short slices and check the cluster in between: a scheduler
        # without workers never finishes a task and never says so.
        poll = None if self._client is None else min(1.0, self.worker_timeout / 4)
        try:
            while True:
                while not exhausted and len(pending) < limit:
                    try:
                        key, args = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    pending[self._submit(fn, args)] = key
                if not pending:
                    return
                done, _ = cf.wait(list(pending), timeout=poll, return_when=cf.FIRST_COMPLETED)
                if not done:
                    self._check_cluster()
                    continue
                # Deterministic order among simultaneously finished tasks.
                for fut in sorted(done, key=lambda f: str(pending[f])):
                    key = pending.pop(fut)
                    yield key, self._result(fut, key)
        finally:
            for fut in pending:
                fut.cancel()

