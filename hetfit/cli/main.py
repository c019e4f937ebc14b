"""``hetfit`` entry point.

Contract for every subcommand:
- ``--json`` prints exactly one JSON document on stdout; logs and progress go to stderr
  (stdout is redirected to stderr while the command runs, so chatty libraries cannot
  corrupt the JSON).
- A :class:`~hetfit.errors.HetfitError` becomes one line on stderr and exit code 2
  (traceback only with ``--debug``); bad arguments are reported the same way.
- Errors of the environment (``OSError``: disk full, no permission, a closed or full
  stdout) are one line and exit code 2 as well.
- Unexpected exceptions exit 1 with a one-line summary (traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from hetfit._version import __version__
from hetfit.cli.commands import COMMANDS
from hetfit.errors import HetfitError, cli_hints

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER = 2
EXIT_INTERRUPTED = 130
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class _OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line plus exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        msg = " ".join(message.split())
        self.exit(EXIT_USER, f"{self.prog}: error: {msg} (see '{self.prog} --help')\n")


def _command_module(name: str):
    return importlib.import_module(f"hetfit.cli.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="hetfit",
        description=(
            "Within-cell-type heterogeneity: estimate per-type parameter distributions from "
            "recordings and databases, build and simulate heterogeneous networks, fit "
            "heterogeneity widths with simulation-based inference, and compare healthy vs "
            "epileptic tissue."
        ),
    )
    parser.add_argument("--version", action="version", version=f"hetfit {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout (logs go to stderr)"
    )
    common.add_argument(
        "--debug", action="store_true", help="show full tracebacks for errors"
    )
    common.add_argument(
        "--quiet", action="store_true", help="no progress bars or info messages on stderr"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for name in COMMANDS:
        mod = _command_module(name)
        p = sub.add_parser(
            name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
            parents=[common],
        )
        mod.add_arguments(p)
        # the command's flags, so that error hints name only flags it has (errors.option)
        p.set_defaults(_module=mod,
                       _flags=tuple(s for a in p._actions for s in a.option_strings))
    return parser


def _render_default(result: dict[str, Any]) -> str:
    from hetfit.io import dumps

    return dumps(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the quiet setting it makes (``--quiet``) ends with it, so that
    in-process callers (tests, notebooks) are not left silenced."""
    from hetfit import console

    was_quiet = console.is_quiet()
    try:
        return _main(argv)
    finally:
        console.set_quiet(was_quiet)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_USER
    args = parser.parse_args(argv)
    mod = args._module
    debug = bool(getattr(args, "debug", False))

    from hetfit import console

    console.set_quiet(bool(args.quiet) or console.is_quiet())
    real_stdout = sys.stdout
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr), cli_hints(args._flags):
            result = mod.run(args)
    except HetfitError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"hetfit {args.command}: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"hetfit {args.command}: interrupted; no partial output was kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the environment (disk full, permissions), not a bug: one line
        if debug:
            import traceback

            traceback.print_exc()
        from hetfit.io import os_error

        action = "write" if exc.errno in _WRITE_ERRNOS else "read or write"
        print(f"hetfit {args.command}: error: {os_error(exc, action).one_line()}",
              file=sys.stderr)
        return EXIT_USER
    except Exception as exc:  # last-resort handler: one line instead of a traceback
        if debug:
            import traceback

            traceback.print_exc()
        print(
            f"hetfit {args.command}: internal error: {type(exc).__name__}: "
            f"{' '.join(str(exc).split())} (rerun with --debug for the traceback and "
            "please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    result = dict(result or {})
    result.setdefault("command", args.command)
    result.setdefault("hetfit_version", __version__)
    result.setdefault("wall_time_s", round(time.perf_counter() - t0, 3))
    if args.json:
        from hetfit.io import dumps

        text = dumps(result)
    else:
        render = getattr(mod, "render", None) or _render_default
        text = render(result)
    try:
        print(text, file=real_stdout, flush=True)
    except OSError as exc:  # e.g. `--json > /dev/full`, or a closed pipe
        _silence(real_stdout)
        where = "standard output"
        print(f"hetfit {args.command}: error: cannot write the result to {where}: "
              f"{exc.strerror or type(exc).__name__} (redirect the output to a file or "
              "folder that has space, or use --out)", file=sys.stderr)
        return EXIT_USER
    return EXIT_OK


def _silence(stream) -> None:
    """Point a failed stdout at /dev/null so that Python's flush at exit adds no second
    error (the pattern the Python docs give for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing to do
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
