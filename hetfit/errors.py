"""User-facing errors.

Every error a user can cause (bad path, wrong column, wrong unit, bad number, incompatible
artifact, missing optional dependency) is a :class:`HetfitError`.  The CLI prints it as one
line and exits with code 2; ``--debug`` shows the traceback.  Messages say what is wrong
*and* how to fix it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator


class HetfitError(Exception):
    """Base class for errors caused by input the user can fix.

    Parameters
    ----------
    message:
        What is wrong, in one sentence.
    hint:
        How to fix it (optional); appended to the message.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = " ".join(str(message).split())
        self.hint = " ".join(str(hint).split()) if hint else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputFileError(HetfitError):
    """A path does not exist, is unreadable or has an unsupported format."""


class SchemaError(HetfitError):
    """A table lacks columns, has wrong types or values in implausible units."""


class ParameterError(HetfitError):
    """A numeric argument or model parameter is out of its valid range."""


class InsufficientDataError(HetfitError):
    """Too few cells, donors, spikes or units for the requested estimate."""


class IncompatibleArtifactError(HetfitError):
    """A saved artifact (posterior, chunk store) does not match the requested model or version."""


class SimulationError(HetfitError):
    """A simulation diverged or produced invalid output in a way that cannot be flagged and dropped."""


class ClusterError(HetfitError):
    """Where simulations run (a Dask scheduler or its workers, local worker processes) failed,
    vanished or cannot be reached; what is already stored is kept and a rerun resumes."""


class MissingDependencyError(HetfitError):
    """An optional extra is needed for this feature."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the optional package '{package}', which is not installed",
            hint=f"install it with: pip install 'hetfit[{extra}]'",
        )


def require(module: str, extra: str, feature: str):
    """Import an optional module or raise :class:`MissingDependencyError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(module.split(".")[0], extra, feature) from exc


# -- hints in the words of the interface in use ----------------------------------------------
# A hint that names a Python keyword (``nan_policy='drop'``) is no help on the command line,
# and one that names a flag the running command lacks is worse.  While a CLI command runs,
# main() sets the command's flags here and hints are built with :func:`option`.
_CLI_FLAGS: frozenset[str] | None = None
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


@contextlib.contextmanager
def cli_hints(flags: Iterable[str]) -> Iterator[None]:
    """Within this block hints built with :func:`option` name these command-line flags."""
    global _CLI_FLAGS
    previous = _CLI_FLAGS
    _CLI_FLAGS = frozenset(flags)
    try:
        yield
    finally:
        _CLI_FLAGS = previous


def in_cli() -> bool:
    """True while a ``hetfit`` command runs (hints should name flags, not keywords)."""
    return _CLI_FLAGS is not None


def option(api: str, cli: str, other: str = "") -> str:
    """The part of a hint that says how to set an option.

    ``api`` (Python keywords) in library use; ``cli`` while a command runs, unless it names a
    ``--flag`` the running command does not have: then ``other`` (default: nothing), so that
    no hint ever names an option the user cannot pass.
    """
    if _CLI_FLAGS is None:
        return api
    if all(f in _CLI_FLAGS for f in _FLAG.findall(cli)):
        return cli
    return other


class ResourceError(ParameterError):
    """A size the machine cannot hold or would take days to run (memory, time steps,
    replicates), refused before anything is allocated; see :mod:`hetfit.resources`."""
