"""Messages and progress bars.  Everything here goes to stderr so that ``--json`` output on
stdout stays one clean JSON document."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_QUIET = os.environ.get("HETFIT_QUIET", "") not in ("", "0")


def set_quiet(quiet: bool) -> None:
    """Silence :func:`info` and progress bars (errors are always shown)."""
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    return _QUIET


def info(message: str) -> None:
    """One informational line on stderr."""
    if not _QUIET:
        print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """One warning line on stderr (shown even when quiet)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def track(
    iterable: Iterable[T], description: str = "", total: int | None = None
) -> Iterator[T]:
    """Iterate with a progress bar on stderr when it is a terminal and not quiet."""
    if _QUIET or not sys.stderr.isatty():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(
        iterable, description=description, total=total, console=Console(stderr=True),
        transient=True,
    )
