"""Messages and progress bars.  Everything here goes to stderr so that ``--json`` output on
stdout stays one clean JSON document."""

from __future__ import annotations

import contextlib
import io
import logging
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


def library_warning(message: str) -> None:
    """A warning from a library (sbi, torch) on stderr, unless quiet.

    Callers also record it where it belongs (e.g. the training report), so ``--quiet``
    hides it from the terminal without losing it."""
    if not _QUIET:
        print(f"warning: {message}", file=sys.stderr, flush=True)


class LibraryOutput:
    """What a library printed (``printed``) and logged (``logged``) in :func:`library_output`."""

    def __init__(self) -> None:
        self.printed: list[str] = []
        self.logged: list[str] = []


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        msg = " ".join(record.getMessage().split())
        if msg and msg not in self.into:
            self.into.append(msg)


@contextlib.contextmanager
def library_output() -> Iterator[LibraryOutput]:
    """Capture what a chatty library prints on stdout and logs at warning level.

    sbi prints "Neural network successfully converged after N epochs." (with a carriage
    return and no newline) whatever its progress-bar setting, and warns through the root
    logger, which writes to stderr: neither respects ``--quiet``.  Inside this block both are
    captured; on exit the printed lines go to :func:`info` (silent when quiet) and the log
    messages are left in ``.logged`` for the caller to record and show with
    :func:`library_warning`.
    """
    out = LibraryOutput()
    buf = io.StringIO()
    handler = _Collect(out.logged)
    root = logging.getLogger()
    root.addHandler(handler)  # also keeps logging from installing its stderr fallback
    try:
        with contextlib.redirect_stdout(buf):
            yield out
    finally:
        root.removeHandler(handler)
        text = buf.getvalue().replace("\r", "\n")
        out.printed = [ln.strip() for ln in text.splitlines() if ln.strip()]
        for line in out.printed:
            info(line)


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
