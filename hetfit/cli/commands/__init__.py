"""One module per subcommand.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> dict``; optionally ``render(result) -> str`` for human-readable output.
Modules must stay light at import time (``hetfit --help`` imports all of them): heavy
libraries are imported inside ``run``.
"""

COMMANDS = ("estimate", "params", "simulate", "fit", "compare", "demo")
