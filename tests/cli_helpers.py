"""Running the CLI in-process for tests: exit code, stdout and stderr of one command."""

from __future__ import annotations

from hetfit.cli.main import main


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """``hetfit ARGV`` in this process; argparse errors exit through SystemExit."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
