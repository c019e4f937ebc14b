"""Resumable on-disk store of simulations.

Layout of a store directory::

    manifest.json                 identity + one entry per chunk (range, counts, sha256)
    chunks/c000000000-000000256.npz   theta, seeds, x, status of simulations [0, 256)
    .lock                         pid/host of the run currently filling the store

**Plan.**  Simulation ``i`` has a parameter set and a seed that depend only on the store's
root ``seed`` and on ``i``: block ``b = i // chunk_size`` draws ``chunk_size`` prior samples
from ``SeedSequence(seed, spawn_key=(b, 0))`` and ``chunk_size`` simulation seeds from
``SeedSequence(seed, spawn_key=(b, 1))``.  So any range of simulations can be (re)computed
in any order, by any worker, and a larger budget extends a smaller one.

**Crash safety.**  A chunk file is written atomically (temporary file + rename) *before*
the manifest that lists it, and both are written by the coordinating process only (workers,
local or Dask, only compute).  After a crash (even SIGKILL) a chunk is either complete on
disk or absent; on reopening, chunk files missing from the manifest are verified against
the plan and adopted, so nothing finished is lost and nothing stored is simulated twice.
Work that was in flight when the process died (at most ``max_in_flight`` chunks) is the only
work redone.

**Identity.**  The manifest records the simulator fingerprint (model spec + summary set and
version), the prior, the root seed and the chunk size; opening a store with anything
different raises :class:`~hetfit.errors.IncompatibleArtifactError` instead of mixing
simulations of different models.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import socket
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetfit._version import __version__
from hetfit.console import info, warn
from hetfit.errors import (
    ClusterError,
    IncompatibleArtifactError,
    InputFileError,
    InsufficientDataError,
    ParameterError,
)
from hetfit.inference.priors import Prior
from hetfit.inference.simulator import STATUS_NAMES, SimulationBatch, Simulator, count_status
from hetfit.io import atomic_write_bytes, atomic_write_json
from hetfit.seeding import child_seeds

FORMAT = "hetfit-simulation-store"
FORMAT_VERSION = 1
_CHUNK_RE = re.compile(r"^c(\d{9})-(\d{9})\.npz$")


@dataclass
class RunReport:
    """What one :meth:`SimulationStore.run` call did.

    Attributes
    ----------
    n_requested:
        Simulations the store should hold after the call (the budget).
    n_reused:
        Simulations already on disk before the call (not recomputed).
    n_simulated:
        Simulations executed and stored by this call.
    chunks_written:
        Chunk files written by this call.
    status_counts:
        Counts per status over all ``n_requested`` simulations (ok, diverged, ...).
    wall_time_s:
        Duration of the call.
    executor:
        Where the simulations ran.
    """

    n_requested: int
    n_reused: int
    n_simulated: int = 0
    chunks_written: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    wall_time_s: float = 0.0
    executor: str = ""


@dataclass
class StoredSimulations:
    """Simulations ``[0, n)`` of a store, in index order."""

    theta: np.ndarray
    x: np.ndarray
    status: np.ndarray
    seeds: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.status == 0

    def status_counts(self) -> dict[str, int]:
        return count_status(self.status)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SimulationStore:
    """A directory of simulation chunks for one (simulator, prior, seed).

    Parameters
    ----------
    path:
        Store directory (created if absent; an existing non-store directory that is not
        empty is refused).
    simulator:
        The :class:`~hetfit.inference.simulator.Simulator` whose outputs are stored.
    prior:
        Prior the parameter sets are drawn from.
    seed:
        Root seed (non-negative int) of the plan.
    chunk_size:
        Simulations per chunk file (and per task sent to a worker).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        simulator: Simulator,
        prior: Prior,
        seed: int,
        chunk_size: int = 256,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"store seed must be a non-negative integer, got {seed!r}")
        if int(chunk_size) != chunk_size or chunk_size < 1:
            raise ParameterError(f"chunk_size must be a positive integer, got {chunk_size}")
        if tuple(prior.names) != tuple(simulator.param_names):
            raise ParameterError(
                f"prior parameters {list(prior.names)} do not match the simulator's "
                f"{list(simulator.param_names)}",
                hint="give the prior the same parameter names, in the same order",
            )
        self.path = Path(path).expanduser()
        self.simulator = simulator
        self.prior = prior
        self.seed = int(seed)
        self.chunk_size = int(chunk_size)
        self._chunks: dict[tuple[int, int], dict[str, Any]] = {}
        self._open()

    # -- identity / manifest ----------------------------------------------------------
    @property
    def identity(self) -> dict[str, Any]:
        return {
            "simulator_fingerprint": self.simulator.fingerprint(),
            "simulator_spec": self.simulator.spec(),
            "param_names": list(self.simulator.param_names),
            "summary_names": list(self.simulator.summary_names),
            "summary_version": self.simulator.summary_version,
            "prior": self.prior.to_dict(),
            "seed": self.seed,
            "chunk_size": self.chunk_size,
        }

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def chunk_dir(self) -> Path:
        return self.path / "chunks"

    def _open(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise InputFileError(f"simulation store {self.path} exists and is not a directory")
        if self.manifest_path.exists():
            try:
                manifest = json.loads(self.manifest_path.read_text())
            except (OSError, ValueError) as exc:
                raise IncompatibleArtifactError(
                    f"simulation store manifest {self.manifest_path} is unreadable: {exc}",
                    hint="move the store away and start a new one",
                ) from exc
            if not isinstance(manifest, dict):
                raise IncompatibleArtifactError(
                    f"{self.manifest_path} is not a hetfit simulation store manifest")
            self._check_identity(manifest)
            try:
                for entry in manifest.get("chunks", []):
                    key = (int(entry["start"]), int(entry["stop"]))
                    if not (isinstance(entry["file"], str) and isinstance(entry["sha256"], str)
                            and isinstance(entry["counts"], dict)):
                        raise TypeError("file, sha256 or counts of the wrong type")
                    self._chunks[key] = entry
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise IncompatibleArtifactError(
                    f"simulation store manifest {self.manifest_path} is damaged (bad chunk "
                    f"entry: {type(exc).__name__}: {exc})",
                    hint="move the store away and start a new one") from exc
        elif self.path.exists() and any(
            p.name not in ("chunks", ".lock") for p in self.path.iterdir()
        ):
            raise IncompatibleArtifactError(
                f"{self.path} is not empty and holds no simulation-store manifest",
                hint="choose an empty or new directory for the simulation store",
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.chunk_dir.mkdir(exist_ok=True)
        self._reconcile()
        self._write_manifest()

    def _check_identity(self, manifest: dict[str, Any]) -> None:
        if manifest.get("format") != FORMAT:
            raise IncompatibleArtifactError(
                f"{self.manifest_path} is not a hetfit simulation store manifest"
            )
        if int(manifest.get("format_version", -1)) > FORMAT_VERSION:
            raise IncompatibleArtifactError(
                f"store format version {manifest.get('format_version')} is newer than this "
                f"hetfit supports ({FORMAT_VERSION})", hint="upgrade hetfit",
            )
        stored = manifest.get("identity", {})
        if not isinstance(stored, dict):
            stored = {}
        mine = json.loads(json.dumps(self.identity, default=str))
        keys = ("simulator_fingerprint", "param_names", "summary_names", "summary_version",
                "prior", "seed", "chunk_size")
        diff = [k for k in keys if stored.get(k) != mine.get(k)]
        if diff:
            details = "; ".join(f"{k}: store has {stored.get(k)!r}, requested {mine.get(k)!r}"
                                for k in diff if k != "simulator_spec")
            raise IncompatibleArtifactError(
                f"simulation store {self.path} was made for a different "
                f"{'/'.join(diff)} ({details[:400]})",
                hint="use another --store directory for this model/prior/seed, or delete "
                "the old store",
            )

    def _reconcile(self) -> None:
        """Adopt verified chunk files missing from the manifest; drop entries whose file is
        gone; remove temporary files left by a killed writer."""
        for tmp in self.chunk_dir.glob(".c*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        on_disk: dict[tuple[int, int], Path] = {}
        for p in self.chunk_dir.iterdir():
            m = _CHUNK_RE.match(p.name)
            if m:
                on_disk[(int(m.group(1)), int(m.group(2)))] = p
        for key in list(self._chunks):
            if key not in on_disk:
                warn(f"simulation store: chunk file for simulations {key} is missing; "
                     "they will be simulated again")
                del self._chunks[key]
        for key, p in sorted(on_disk.items()):
            if key in self._chunks:
                # Listed chunks are checked now, not when training loads them: a damaged one
                # is then reported before hours of simulations, not after.
                self._read_listed(self._chunks[key])
                continue
            # Not in the manifest (written after each chunk): never confirmed, so adopted
            # only if it reads back whole and matches the plan.  One that cannot be read was
            # cut short (a crash on a filesystem without atomic rename, a partial copy of the
            # store) and must not be trusted.  hetfit wrote it, inside its own store, yet it
            # is set aside under a new name rather than deleted or overwritten later: nothing
            # on disk is destroyed (it stays there to inspect or remove by hand), the store no
            # longer lists it, and its simulations are run again.
            try:
                data = p.read_bytes()
                z = np.load(io.BytesIO(data))
                arrays = {k: z[k] for k in ("theta", "seeds", "x", "status", "fingerprint")}
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile,
                    zlib.error) as exc:
                self._set_aside(p, exc)
                continue
            self._verify_chunk(arrays, key, p)
            self._chunks[key] = self._entry(key, p.name, arrays["status"], _sha256(data))
            info(f"simulation store: adopted finished chunk {p.name} (written before an "
                 "interruption)")
        keys = sorted(self._chunks)
        for (a0, a1), (b0, _b1) in zip(keys, keys[1:]):
            if b0 < a1:
                raise IncompatibleArtifactError(
                    f"simulation store {self.path} has overlapping chunks [{a0},{a1}) and "
                    f"starting at {b0}", hint="the store was modified by hand; start a new one"
                )

    def _read_listed(self, entry: dict[str, Any]) -> bytes:
        """Bytes of a chunk the manifest lists, refused if they changed since it was written
        (a confirmed chunk that changed is not hetfit's to repair: bit rot, an edit, a bad
        copy; the user decides)."""
        path = self.chunk_dir / entry["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputFileError(f"chunk file {path} cannot be read: {exc.strerror or exc}",
                                 hint="check the permissions of the store") from exc
        if _sha256(data) != entry["sha256"]:
            raise IncompatibleArtifactError(
                f"chunk {path} changed after it was written (checksum mismatch)",
                hint="move the file out of the store (its simulations will be run again) or "
                "restore it from a backup")
        return data

    def _set_aside(self, path: Path, why: BaseException) -> None:
        """Rename an unreadable, unlisted chunk file to ``NAME.unreadable[.N]`` (never
        replacing a file) so that it is neither trusted nor lost."""
        target = path.with_name(path.name + ".unreadable")
        n = 0
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.unreadable.{n}")
        reason = " ".join(f"{type(why).__name__}: {why}".split())[:120]
        try:
            os.rename(path, target)
        except OSError as exc:
            raise IncompatibleArtifactError(
                f"chunk file {path} is not in the store manifest and cannot be read "
                f"({reason}), and it cannot be moved aside ({exc.strerror or exc})",
                hint="move the file out of the store; its simulations will be run again",
            ) from exc
        warn(f"simulation store: chunk file {path.name} was not finished ({reason}); set "
             f"aside as {target.name}, its simulations will be run again")

    @staticmethod
    def _entry(key: tuple[int, int], name: str, status: np.ndarray, sha: str) -> dict[str, Any]:
        return {"file": name, "start": key[0], "stop": key[1],
                "counts": count_status(status), "sha256": sha}

    def _write_manifest(self) -> None:
        atomic_write_json(self.manifest_path, {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "hetfit_version": __version__,
            "identity": self.identity,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "n_stored": self.n_stored,
            "status_counts": self._total_counts(),
            "chunks": [self._chunks[k] for k in sorted(self._chunks)],
        })

    def _total_counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUS_NAMES.values(), 0)
        for e in self._chunks.values():
            for k, v in e["counts"].items():
                out[k] = out.get(k, 0) + int(v)
        return out

    # -- plan ---------------------------------------------------------------------------
    def _block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        root = np.random.SeedSequence(self.seed)
        theta_ss = np.random.SeedSequence(root.entropy, spawn_key=(b, 0))
        seed_ss = np.random.SeedSequence(root.entropy, spawn_key=(b, 1))
        theta = self.prior.sample(self.chunk_size, seed=np.random.default_rng(theta_ss))
        return theta, child_seeds(seed_ss, self.chunk_size)

    def planned(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(theta, seeds) of simulations ``[start, stop)`` — a pure function of the seed."""
        if not 0 <= start <= stop:
            raise ParameterError(f"bad simulation range [{start}, {stop})")
        thetas, seeds = [], []
        cs = self.chunk_size
        for b in range(start // cs, (stop - 1) // cs + 1 if stop > start else start // cs):
            t, s = self._block(b)
            lo, hi = max(start - b * cs, 0), min(stop - b * cs, cs)
            thetas.append(t[lo:hi])
            seeds.append(s[lo:hi])
        if not thetas:
            return np.empty((0, self.prior.dim)), np.empty(0, dtype=np.int64)
        return np.concatenate(thetas), np.concatenate(seeds)

    def _verify_chunk(self, z: Any, key: tuple[int, int], path: Path) -> None:
        theta, seeds = self.planned(*key)
        try:
            ok = (
                str(z["fingerprint"]) == self.simulator.fingerprint()
                and np.array_equal(z["seeds"], seeds)
                and np.array_equal(z["theta"], theta)
                and z["x"].shape == (key[1] - key[0], len(self.simulator.summary_names))
            )
        except (KeyError, ValueError) as exc:
            raise IncompatibleArtifactError(f"chunk file {path} is unreadable: {exc}") from exc
        if not ok:
            raise IncompatibleArtifactError(
                f"chunk file {path} does not belong to this store (its seeds, parameters or "
                "model differ from the plan)",
                hint="remove the file or start a new store",
            )

    # -- state ---------------------------------------------------------------------------
    @property
    def n_stored(self) -> int:
        return sum(b - a for a, b in self._chunks)

    def missing(self, n_total: int) -> list[tuple[int, int]]:
        """Ranges within ``[0, n_total)`` not yet stored, cut at chunk boundaries."""
        covered = np.zeros(n_total, dtype=bool)
        for a, b in self._chunks:
            covered[a:min(b, n_total)] = True
        out = []
        cs = self.chunk_size
        for b0 in range(0, n_total, cs):
            seg = covered[b0:b0 + cs]
            idx = np.flatnonzero(~seg)
            if idx.size == 0:
                continue
            # contiguous runs of missing indices inside this block
            runs = np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1)
            out.extend((b0 + int(r[0]), b0 + int(r[-1]) + 1) for r in runs)
        return out

    # -- running ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self):
        lock = self.path / ".lock"
        me = f"{os.getpid()}@{socket.gethostname()}"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = lock.read_text().strip() if lock.exists() else ""
                pid, _, host = owner.partition("@")
                if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                    with contextlib.suppress(FileNotFoundError):
                        lock.unlink()  # stale: its process is gone (e.g. killed)
                    continue
                raise IncompatibleArtifactError(
                    f"simulation store {self.path} is being filled by another process "
                    f"({owner or 'unknown'})",
                    hint=f"wait for it to finish, or remove {lock} if that process is gone",
                ) from None
            with os.fdopen(fd, "w") as fh:
                fh.write(me)
            break
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()

    def _write_chunk(self, key: tuple[int, int], theta, seeds, batch: SimulationBatch) -> None:
        buf = io.BytesIO()
        np.savez(buf, theta=theta, seeds=seeds, x=batch.x, status=batch.status,
                 start=np.int64(key[0]), stop=np.int64(key[1]),
                 fingerprint=np.array(self.simulator.fingerprint()))
        data = buf.getvalue()
        name = f"c{key[0]:09d}-{key[1]:09d}.npz"
        atomic_write_bytes(self.chunk_dir / name, data)
        self._chunks[key] = self._entry(key, name, batch.status, _sha256(data))
        self._write_manifest()

    def run(
        self,
        n_total: int,
        executor: Any = None,
        on_chunk: Callable[[RunReport], None] | None = None,
        max_in_flight: int | None = None,
    ) -> RunReport:
        """Make the store hold simulations ``[0, n_total)``, simulating only what is missing.

        Parameters
        ----------
        n_total:
            Total number of simulations wanted (the budget).
        executor:
            A :class:`~hetfit.inference.parallel.SimulationExecutor` (entered or not);
            ``None`` simulates in this process.
        on_chunk:
            Called after each chunk is safely stored, with the running report (progress
            display; raising from it stops the run and keeps what is stored).
        max_in_flight:
            Chunks queued at once (default: twice the executor's parallelism).
        """
        from hetfit.inference.parallel import SimulationExecutor, run_simulation_task

        if int(n_total) != n_total or n_total < 1:
            raise ParameterError(f"simulation budget must be a positive integer, got {n_total}")
        n_total = int(n_total)
        t0 = time.perf_counter()
        todo = self.missing(n_total)
        report = RunReport(n_requested=n_total,
                           n_reused=n_total - sum(b - a for a, b in todo))
        own = executor is None
        ex = SimulationExecutor() if own else executor
        entered = getattr(ex, "_executor", None) is not None
        with contextlib.ExitStack() as stack:
            if not entered:
                stack.enter_context(ex)
            report.executor = ex.description
            stack.enter_context(self._lock())
            # The simulator is shipped once per task; n_threads applies inside the worker.
            tasks = ((key, (self.simulator, *self.planned(*key), ex.n_threads)) for key in todo)
            every = max(1, len(todo) // 10)
            results = ex.map_unordered(run_simulation_task, tasks, max_in_flight=max_in_flight)
            for i, (key, batch) in enumerate(self._until_cluster_fails(results, n_total), 1):
                theta, seeds = self.planned(*key)
                if not isinstance(batch, SimulationBatch) or batch.x.shape != (
                    key[1] - key[0], len(self.simulator.summary_names)
                ):
                    raise IncompatibleArtifactError(
                        f"simulator returned {type(batch).__name__} of unexpected shape for "
                        f"simulations {key}"
                    )
                self._write_chunk(key, theta, seeds, batch)
                report.n_simulated += key[1] - key[0]
                report.chunks_written += 1
                report.wall_time_s = time.perf_counter() - t0
                if i % every == 0 or i == len(todo):
                    info(f"simulations: {report.n_reused + report.n_simulated}/{n_total} "
                         f"stored ({report.n_simulated} new, {report.wall_time_s:.1f} s)")
                if on_chunk is not None:
                    on_chunk(report)
        report.status_counts = self.load(n_total).status_counts()
        report.wall_time_s = time.perf_counter() - t0
        return report

    def _until_cluster_fails(self, results, n_total: int):
        """``results``, with a :class:`ClusterError` completed by what is safe on disk."""
        try:
            yield from results
        except ClusterError as exc:
            raise ClusterError(
                f"{exc.message}; the {self.n_stored} of {n_total} simulations finished so "
                f"far are kept in {self.path}", hint=exc.hint) from exc

    # -- reading ------------------------------------------------------------------------
    def load(self, n: int | None = None) -> StoredSimulations:
        """Simulations ``[0, n)`` (default: all contiguous from 0), in index order."""
        keys = sorted(self._chunks)
        if n is None:
            n = 0
            for a, b in keys:
                if a != n:
                    break
                n = b
        if n <= 0 or self.missing(n):
            raise InsufficientDataError(
                f"simulation store {self.path} holds {self.n_stored} simulations but "
                f"[0, {n}) is not complete",
                hint="run the simulations first (WidthFitter.simulate or hetfit fit)",
            )
        parts: dict[str, list[np.ndarray]] = {"theta": [], "x": [], "status": [], "seeds": []}
        for a, b in keys:
            if a >= n:
                break
            z = np.load(io.BytesIO(self._read_listed(self._chunks[(a, b)])))
            m = min(b, n) - a
            for k in parts:
                parts[k].append(z[k][:m])
        return StoredSimulations(
            theta=np.concatenate(parts["theta"]), x=np.concatenate(parts["x"]),
            status=np.concatenate(parts["status"]).astype(np.int8),
            seeds=np.concatenate(parts["seeds"]),
        )
