"""Sparse synaptic connectivity (CSR by presynaptic neuron), seeded random graphs.

A :class:`Connectivity` stores weights ``W[post, pre]`` compactly by *source*: the targets of
presynaptic neuron ``j`` are ``targets[indptr[j]:indptr[j+1]]`` with ``weights`` at the same
positions.  That is the layout spike delivery needs (one contiguous run per spike).
:func:`random_connectivity` draws Erdős–Rényi graphs (every ordered pair independently with
probability ``p``) or graphs with a fixed in-degree, from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetfit.errors import ParameterError, option
from hetfit.resources import (
    Estimate,
    dense_graph_estimate,
    format_count,
    random_graph_estimate,
    require_memory,
)
from hetfit.seeding import SeedLike, as_generator


@dataclass(frozen=True, eq=False)
class Connectivity:
    """Weights ``W[post, pre]`` in CSR-by-presynaptic-neuron form.

    Attributes
    ----------
    n_pre, n_post:
        Number of presynaptic (source) and postsynaptic (target) neurons.
    indptr:
        int64, shape (n_pre + 1,): edges of source ``j`` are ``indptr[j]:indptr[j+1]``.
    targets:
        int64, shape (n_edges,): postsynaptic index of each edge, sorted within a source.
    weights:
        float64, shape (n_edges,): weight of each edge (dimensionless gate increment; in a
        conductance network the gate ``s`` of the target jumps by this amount per spike).
    """

    n_pre: int
    n_post: int
    indptr: np.ndarray
    targets: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        targets = np.ascontiguousarray(self.targets, dtype=np.int64)
        weights = np.ascontiguousarray(self.weights, dtype=np.float64)
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "weights", weights)
        if self.n_pre < 0 or self.n_post < 0:
            raise ParameterError("connectivity sizes must be >= 0")
        if indptr.shape != (self.n_pre + 1,) or indptr[0] != 0:
            raise ParameterError(
                f"indptr must have n_pre + 1 = {self.n_pre + 1} entries starting at 0"
            )
        if np.any(np.diff(indptr) < 0) or indptr[-1] != targets.size:
            raise ParameterError("indptr must be non-decreasing and end at the number of edges")
        if targets.shape != weights.shape:
            raise ParameterError(
                f"{targets.size} targets but {weights.size} weights",
                hint="give one weight per edge",
            )
        if targets.size and (targets.min() < 0 or targets.max() >= self.n_post):
            raise ParameterError(f"target indices must lie in [0, {self.n_post})")
        if not np.all(np.isfinite(weights)):
            raise ParameterError("connectivity weights must be finite (no NaN/inf)")

    @property
    def n_edges(self) -> int:
        return int(self.targets.size)

    def in_degrees(self) -> np.ndarray:
        """Number of inputs of every postsynaptic neuron."""
        return np.bincount(self.targets, minlength=self.n_post)

    def out_degrees(self) -> np.ndarray:
        """Number of outputs of every presynaptic neuron."""
        return np.diff(self.indptr)

    def sources(self) -> np.ndarray:
        """Presynaptic index of every edge."""
        return np.repeat(np.arange(self.n_pre, dtype=np.int64), self.out_degrees())

    def to_dense(self) -> np.ndarray:
        """Dense ``W[post, pre]`` (for small networks and tests)."""
        require_memory(Estimate(f"a dense {format_count(self.n_post)} x "
                                f"{format_count(self.n_pre)} weight matrix",
                                {"weights": 8 * self.n_post * self.n_pre}),
                       "use to_scipy() for a sparse matrix")
        W = np.zeros((self.n_post, self.n_pre))
        np.add.at(W, (self.targets, self.sources()), self.weights)
        return W

    def to_scipy(self):
        """``scipy.sparse.csr_matrix`` of ``W[post, pre]``."""
        from scipy import sparse

        return sparse.csr_matrix(
            (self.weights, (self.targets, self.sources())), shape=(self.n_post, self.n_pre)
        )

    @classmethod
    def from_matrix(cls, W) -> Connectivity:
        """From a dense array or scipy sparse matrix ``W[post, pre]`` (zeros are no edge)."""
        from scipy import sparse

        M = sparse.csc_matrix(W)  # column j = source j
        M.sum_duplicates()
        M.eliminate_zeros()
        M.sort_indices()
        n_post, n_pre = M.shape
        return cls(n_pre, n_post, M.indptr.astype(np.int64), M.indices.astype(np.int64),
                   M.data.astype(np.float64))

    @classmethod
    def dense(cls, n_post: int, n_pre: int, weight: float) -> Connectivity:
        """Every pair connected (autapses included) with the same weight."""
        require_memory(dense_graph_estimate(n_post, n_pre),
                       "use fewer neurons, or a random graph (random_connectivity)")
        targets = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
        indptr = np.arange(n_pre + 1, dtype=np.int64) * n_post
        return cls(n_pre, n_post, indptr, targets, np.full(targets.size, float(weight)))


def random_connectivity(
    n_post: int,
    n_pre: int,
    p: float,
    weight: float = 1.0,
    seed: SeedLike = None,
    *,
    fixed_indegree: bool = False,
    allow_autapses: bool = False,
) -> Connectivity:
    """Random graph with connection probability ``p`` and one weight for every edge.

    Parameters
    ----------
    n_post, n_pre:
        Number of target and source neurons.
    p:
        Connection probability in [0, 1].  Erdős–Rényi: each ordered pair independently, so
        in-degrees are Binomial(n_pre, p) (Binomial(n_pre - 1, p) without autapses in a
        square block).  With ``fixed_indegree`` every target gets exactly
        ``round(p * n_pre)`` distinct sources.
    weight:
        Weight of every edge (for a network of mean input equal to all-to-all coupling of
        strength ``J``, use ``J / (p * n_pre)``).
    seed:
        Seed of the graph.
    allow_autapses:
        Whether ``pre == post`` edges are allowed (only meaningful when ``n_pre == n_post``
        describe the same neurons).
    """
    for name, v in (("n_post", n_post), ("n_pre", n_pre)):
        if int(v) != v or v < 0:
            raise ParameterError(f"{name} must be a non-negative integer, got {v}")
    n_post, n_pre = int(n_post), int(n_pre)
    if not (0.0 <= p <= 1.0) or math.isnan(p):
        raise ParameterError(f"connection probability must lie in [0, 1], got {p}")
    if not math.isfinite(weight):
        raise ParameterError(f"weight must be finite, got {weight}")
    # a dense p over many neurons is TBs of edges: refuse before the first block is drawn
    require_memory(random_graph_estimate(n_post, n_pre, p, fixed_indegree=fixed_indegree),
                   option("use fewer neurons or a smaller connection probability p",
                          "use fewer neurons or a smaller connection probability"))
    rng = as_generator(seed)
    square_no_self = (not allow_autapses) and n_pre == n_post
    if fixed_indegree:
        k = int(round(p * n_pre))
        pool = n_pre - 1 if square_no_self else n_pre
        if k > pool:
            raise ParameterError(f"in-degree {k} exceeds the {pool} available sources")
        srcs = np.empty((n_post, k), dtype=np.int64)
        for i in range(n_post):
            cand = rng.choice(pool, size=k, replace=False)
            if square_no_self:
                cand = cand + (cand >= i)  # skip the neuron itself
            srcs[i] = cand
        tgt = np.repeat(np.arange(n_post, dtype=np.int64), k)
        src = srcs.ravel()
    else:
        src_parts, tgt_parts = [], []
        block = max(1, int(4_000_000 // max(n_post, 1)))
        for j0 in range(0, n_pre, block):
            j1 = min(n_pre, j0 + block)
            mask = rng.random((j1 - j0, n_post)) < p
            if square_no_self:
                jj = np.arange(j0, j1)
                mask[jj - j0, jj] = False
            s, t = np.nonzero(mask)
            src_parts.append(s + j0)
            tgt_parts.append(t)
        src = np.concatenate(src_parts) if src_parts else np.zeros(0, np.int64)
        tgt = np.concatenate(tgt_parts) if tgt_parts else np.zeros(0, np.int64)
    order = np.lexsort((tgt, src))
    src, tgt = src[order], tgt[order]
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_pre), out=indptr[1:])
    return Connectivity(n_pre, n_post, indptr, tgt, np.full(tgt.size, float(weight)))
