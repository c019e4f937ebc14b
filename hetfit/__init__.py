"""hetfit: within-cell-type heterogeneity, from recordings to network models.

``import hetfit`` is deliberately light: it never imports torch, sbi or allensdk.
Subpackages are imported on first use (``hetfit.models``, ``hetfit.inference`` ...).
"""

from __future__ import annotations

import importlib
from typing import Any

from hetfit._version import __version__
from hetfit.errors import HetfitError

_SUBPACKAGES = (
    "data_adapters",
    "distributions",
    "params",
    "models",
    "measures",
    "inference",
    "disease",
    "reports",
)

__all__ = ["HetfitError", "__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    # Lazy subpackage access keeps `import hetfit` fast (PEP 562).
    if name in _SUBPACKAGES:
        return importlib.import_module(f"hetfit.{name}")
    raise AttributeError(f"module 'hetfit' has no attribute {name!r}")
