"""A condition's sample of one feature: its finite values and their donor ids.

Shared by the spread comparison (:mod:`hetfit.disease.conditions`) and the networks built
from the measured widths (:mod:`hetfit.disease.networks`), so that both resample the same
cells; a module of its own because ``conditions`` builds on ``networks``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def feature_values(table: Any, feature: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The finite values of ``feature`` in a cell table and their donor ids (``None`` when
    the table has no donor ids): the sample a width is estimated from."""
    df = table.data
    x = df[feature].to_numpy(dtype=float)
    keep = np.isfinite(x)
    donors = None
    if "donor_id" in df.columns and df["donor_id"].notna().any():
        donors = df["donor_id"].to_numpy(dtype=object)[keep]
    return x[keep], donors
