"""`hetfit compare` (being built; see the issue tracker)."""

from __future__ import annotations

import argparse

from hetfit.errors import HetfitError

HELP = "compare (not available in this build yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> dict:
    raise HetfitError("'hetfit compare' is not available in this build yet")
