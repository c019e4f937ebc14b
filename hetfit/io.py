"""Atomic file output and JSON encoding shared by every module.

Nothing hetfit writes is ever left half-written: files are written to a temporary sibling
and renamed into place (``os.replace`` is atomic on POSIX and Windows), and whole output
directories are staged and renamed on success, so an interrupted or failed command leaves
either the previous state or the complete new one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hetfit.errors import InputFileError


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/pandas scalars and arrays, paths and dataclasses into JSON-safe types.

    Non-finite floats become ``None`` (JSON has no NaN); callers that need to keep the
    distinction should report NaN counts explicitly.
    """
    import dataclasses

    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """JSON text of ``obj`` after :func:`to_jsonable` (strict: no NaN tokens)."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary sibling + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the result the usual permissions (0666 & ~umask)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    return atomic_write_text(path, dumps(obj) + "\n")


@contextlib.contextmanager
def staged_directory(final: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``final`` only if the block succeeds.

    On any exception (including KeyboardInterrupt) the staging directory is removed and
    ``final`` is untouched, so a failed run leaves no partial output behind.
    """
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise InputFileError(
            f"output path {final} exists and is not a directory",
            hint="choose another --out directory",
        )
    if final.exists() and not overwrite:
        raise InputFileError(
            f"output directory {final} already exists",
            hint="remove it or pass --overwrite",
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(stage, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def existing_file(path: str | os.PathLike, what: str = "input file") -> Path:
    """Return ``path`` as a Path after checking it is a readable file (clear error otherwise)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputFileError(f"{what} not found: {p}", hint="check the path and spelling")
    if p.is_dir():
        raise InputFileError(f"{what} {p} is a directory, expected a file")
    if not os.access(p, os.R_OK):
        raise InputFileError(f"{what} {p} is not readable", hint="check file permissions")
    return p
