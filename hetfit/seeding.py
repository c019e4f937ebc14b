"""Seeds and random generators.

Every random path in hetfit takes a ``seed`` (int, ``numpy.random.SeedSequence``,
``numpy.random.Generator`` or ``None``) and turns it into a ``numpy.random.Generator`` here.
Batched code derives one independent child seed per parameter set with ``SeedSequence.spawn``
so that results do not depend on batch size, chunking or the number of workers.
"""

from __future__ import annotations

import numpy as np

from hetfit.errors import ParameterError

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a Generator for ``seed`` (a Generator is passed through unchanged)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is not None and int(seed) < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise ParameterError(
        f"seed must be an int, numpy SeedSequence, Generator or None, got {type(seed).__name__}"
    )


def child_seeds(seed: SeedLike, n: int) -> np.ndarray:
    """``n`` independent 63-bit integer seeds derived from ``seed``.

    The i-th child depends only on ``seed`` and ``i``, never on ``n``, so a batch of 256 and
    the first 10 of it give identical simulations for the first 10 sets.
    """
    if isinstance(seed, np.random.Generator):
        # A Generator has no stable identity: draw a root entropy value from it.
        root = np.random.SeedSequence(int(seed.integers(0, 2**63 - 1)))
    elif isinstance(seed, np.random.SeedSequence):
        root = seed
    else:
        as_generator(seed)  # validates
        root = np.random.SeedSequence(seed)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i))
        out[i] = int(child.generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> np.uint64(1))
    return out
