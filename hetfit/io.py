"""Atomic file output and JSON encoding shared by every module.

Nothing hetfit writes is ever left half-written: files are written to a temporary sibling
and renamed into place (``os.replace`` is atomic on POSIX and Windows), and whole output
directories are staged and renamed on success, so an interrupted or failed command leaves
either the previous state or the complete new one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
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


def os_error(exc: OSError, action: str = "write", path: str | os.PathLike | None = None,
             hint: str | None = None) -> InputFileError:
    """A one-line :class:`InputFileError` for an operating-system error (permission denied,
    disk full, read-only file system, ...), naming the path and a fix."""
    where = path if path is not None else (exc.filename or "")
    reason = exc.strerror or type(exc).__name__
    fixes = {errno.ENOSPC: "free disk space or choose another output folder",
             errno.EDQUOT: "free disk space or choose another output folder",
             errno.EACCES: "choose a folder you can write to, or fix its permissions",
             errno.EPERM: "choose a folder you can write to, or fix its permissions",
             errno.EROFS: "choose a folder on a writable file system"}
    return InputFileError(f"cannot {action} {where}: {reason}",
                          hint=hint or fixes.get(exc.errno or -1, "check the path"))


def check_writable_target(path: str | os.PathLike, what: str = "output") -> Path:
    """Refuse to replace anything but a regular file: a symbolic link (replacing it would
    drop the user's link, writing through it would leave the folder) or a device node, pipe,
    socket or folder (``--out /dev/null`` as root would otherwise replace the real device)."""
    path = Path(path)
    if path.is_symlink():
        raise InputFileError(f"{what} {path} is a symbolic link; hetfit neither replaces links "
                             "nor writes through them", hint="give the real path it points to")
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a device, pipe or socket)"
        raise InputFileError(f"{what} {path} is {kind}; hetfit writes only regular files",
                             hint="choose a file path for the output")
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary sibling + rename).

    Refuses to replace a symbolic link or a non-regular file (:func:`check_writable_target`);
    operating-system errors (full disk, no permission) become one-line
    :class:`~hetfit.errors.InputFileError`.
    """
    path = check_writable_target(Path(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise os_error(exc, "write", path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the result the usual permissions (0666 & ~umask)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, "write", path) from exc
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    return atomic_write_text(path, dumps(obj) + "\n")


# -- output files and folders the user names -------------------------------------------
OUTPUT_MARKER = ".hetfit-output.json"
_OWN_LEFTOVER = re.compile(r"^\.hetfit-(stage|old)-.*$")


def _hetfit_json(path: Path, schema: str, key: str = "schema") -> bool:
    if path.stat().st_size > 512 * 2**20:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if schema.encode() not in head:  # the schema key is written first
            return False
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(d, dict) and d.get(key) == schema


def _hetfit_npz(path: Path, member: str) -> bool:
    """An ``.npz`` holding ``member``, a JSON text (bytes or str) that names hetfit."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            if member not in z.files:
                return False
            arr = z[member]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return False
    text = bytes(arr).decode("utf-8", "replace") if arr.dtype == np.uint8 else str(arr)
    return "hetfit" in text


def _starts_with(path: Path, marker: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(marker.encode())) == marker.encode()
    except OSError:
        return False


def output_file(path: str | os.PathLike, *, flag: str = "--out", schema: str | None = None,
                npz_member: str | None = None, schema_key: str = "schema",
                text_marker: str | None = None) -> Path:
    """Check that ``path`` may receive a command's output file, before any work is done.

    A new path is fine; an existing path may only be a regular file that hetfit wrote for the
    same purpose — a JSON file whose ``"schema"`` is ``schema``, or an ``.npz`` holding
    ``npz_member`` — which is then replaced.  Anything else (a user's file, a link, a device)
    is refused: no command replaces a file it did not create.
    """
    p = Path(path).expanduser()
    check_writable_target(p, flag)
    if p.exists():
        mine = (text_marker is not None and _starts_with(p, text_marker)) or (
            schema is not None and _hetfit_json(p, schema, schema_key)) or (
            npz_member is not None and _hetfit_npz(p, npz_member))
        if not mine:
            raise InputFileError(
                f"{flag} {p} already exists and was not written by hetfit for this output; "
                "nothing was changed", hint=f"choose another {flag} path, or move that file")
    return p


def _read_marker(folder: Path) -> dict[str, Any] | None:
    m = folder / OUTPUT_MARKER
    if m.is_symlink() or not m.is_file():
        return None
    try:
        d = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    ok = (isinstance(d, dict) and d.get("format") == "hetfit-output"
          and isinstance(d.get("entries"), list))
    return d if ok else None


def _foreign_entries(folder: Path, command: str) -> tuple[set[str], set[str]]:
    """(entries hetfit ``command`` wrote there, entries it did not) of an existing folder."""
    marker = _read_marker(folder)
    listed = set(marker["entries"]) if marker and marker.get("command") == command else set()
    own, foreign = set(), set()
    for name in os.listdir(folder):
        if name == OUTPUT_MARKER and marker is not None:
            continue
        if _OWN_LEFTOVER.match(name):  # staging/trash of an interrupted hetfit run
            own.add(name)
        # hetfit never writes links: a listed name that is now a link was put there by someone
        elif name in listed and not (folder / name).is_symlink():
            own.add(name)
        else:
            foreign.add(name)
    return own, foreign


def _refuse_foreign(folder: Path, foreign: set[str], command: str, flag: str) -> None:
    names = sorted(foreign)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise InputFileError(
        f"{flag} {folder} already holds files that 'hetfit {command}' did not write ({shown}); "
        "nothing was changed",
        hint="choose a new or empty folder, or pass --force to write hetfit's files next to "
        "them (--force replaces only files hetfit wrote there)")


def _check_folder(final: Path, flag: str) -> None:
    if final.is_symlink():
        raise InputFileError(f"{flag} {final} is a symbolic link; hetfit does not write "
                             "through links", hint="give the real folder it points to")
    if final.exists() and not final.is_dir():
        raise InputFileError(f"{flag} {final} exists and is not a folder",
                             hint=f"choose a folder path for {flag}")


def _write_marker(folder: Path, command: str, entries: set[str]) -> None:
    from hetfit._version import __version__

    atomic_write_json(folder / OUTPUT_MARKER, {
        "format": "hetfit-output", "command": command, "hetfit_version": __version__,
        "entries": sorted(entries), "note": "files hetfit wrote here; a rerun of the same "
        "command may replace them, and nothing else"})


def claim_output_dir(path: str | os.PathLike, command: str, entries: tuple[str, ...],
                     force: bool = False, flag: str = "--out", create: bool = True) -> Path:
    """Check and mark a folder that a command writes into in place (``hetfit fit``: its
    resumable simulation store must survive an interruption, so it is not staged).

    The folder may be new, empty, or an earlier output of the same command.  A folder holding
    other files is refused unless ``force``; even then, an output named in ``entries`` that
    exists and was not written by hetfit is refused.  ``create=False`` only checks (call it
    before any work, so that bad input leaves nothing behind).
    """
    final = Path(os.path.abspath(Path(path).expanduser()))
    _check_folder(final, flag)
    own: set[str] = set()
    if final.exists():
        own, foreign = _foreign_entries(final, command)
        if foreign and not force:
            _refuse_foreign(final, foreign, command, flag)
        clash = foreign & set(entries)
        if clash:
            raise InputFileError(
                f"{flag} {final} holds {', '.join(sorted(clash))}, which hetfit did not "
                "write; --force replaces only hetfit's own files",
                hint=f"choose another {flag} folder, or move those files")
    if not create:
        return final
    try:
        final.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, "create", final) from exc
    _write_marker(final, command, {n for n in own if not _OWN_LEFTOVER.match(n)} | set(entries))
    return final


def _move_aside(src: Path, trash: Path) -> None:
    trash.mkdir(exist_ok=True)
    os.replace(src, trash / src.name)


def _remove_own(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(final: str | os.PathLike, command: str, force: bool = False,
                     flag: str = "--out") -> Iterator[Path]:
    """Yield a staging folder whose contents become ``final`` only if the block succeeds.

    - ``final`` new: the staging folder is a hidden sibling, renamed into place (atomic).
    - ``final`` exists (empty, or an earlier output of the same ``command``): the staging
      folder is a hidden folder inside it; on success each staged entry replaces hetfit's
      entry of that name, entries of the earlier run that the new one does not write are
      removed, and nothing else in the folder is touched.  ``--out .`` works the same way.
    - ``final`` holds files ``command`` did not write: refused before any work, unless
      ``force``; with ``force`` those files stay and a staged entry of the same name is
      refused rather than replacing one.
    - a symbolic link or a non-folder ``final`` is refused.

    On any exception (KeyboardInterrupt included) the staging folder is removed and
    ``final`` is untouched.  A marker file (:data:`OUTPUT_MARKER`) lists what hetfit wrote.
    """
    final = Path(os.path.abspath(Path(final).expanduser()))
    _check_folder(final, flag)
    exists = final.exists()
    own, foreign = _foreign_entries(final, command) if exists else (set(), set())
    if foreign and not force:
        _refuse_foreign(final, foreign, command, flag)
    parent = final if exists else final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".hetfit-stage-" if exists else f".{final.name}.",
                                      suffix=".partial", dir=parent))
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    except OSError as exc:
        raise os_error(exc, "write to", final) from exc
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    try:
        staged = {p.name for p in stage.iterdir()} - {OUTPUT_MARKER}
        if not exists:
            _write_marker(stage, command, staged)
            os.replace(stage, final)
            return
        clash = staged & foreign
        if clash:
            raise InputFileError(
                f"{flag} {final} holds {', '.join(sorted(clash))}, which hetfit did not write; "
                "--force replaces only hetfit's own files; nothing was changed",
                hint=f"choose another {flag} folder, or move those files")
        trash = final / f".hetfit-old-{os.getpid()}-{stage.name[-14:-8]}"
        for name in sorted(own - {stage.name}):
            _move_aside(final / name, trash)  # last run's files and leftovers, hetfit's only
        for name in sorted(staged):
            os.replace(stage / name, final / name)
        _write_marker(final, command, staged)
        _remove_own(trash)
        stage.rmdir()
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise os_error(exc, "write to", final) from exc
        raise


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
