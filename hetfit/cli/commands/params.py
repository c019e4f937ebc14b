"""`hetfit params` (being built; see the issue tracker)."""

from __future__ import annotations

import argparse

from hetfit.errors import HetfitError

HELP = "params (not available in this build yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> dict:
    raise HetfitError("'hetfit params' is not available in this build yet")
