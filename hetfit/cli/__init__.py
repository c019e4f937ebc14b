"""Command-line interface (``hetfit``)."""
