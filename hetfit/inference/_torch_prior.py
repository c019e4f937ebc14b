"""torch distribution of the unbounded prior (imported only when torch is needed).

Kept in its own module so that ``sbi`` posteriors holding this prior can be pickled
(``torch.save``) and loaded again: the class must be importable by name.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Independent, SigmoidTransform, TransformedDistribution, Uniform


class LogisticBox(Independent):
    """``d`` independent standard logistic variables: ``logit(U)``, ``U ~ Uniform(0, 1)``.

    This is the image of a uniform box prior under the per-coordinate logit map used for
    training (see :mod:`hetfit.inference.priors`).  ``mean``/``stddev`` are given in closed
    form (0 and pi/sqrt(3)) because ``sbi`` standardizes parameters with them.
    """

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        base = Uniform(torch.zeros(self.dim), torch.ones(self.dim))
        super().__init__(TransformedDistribution(base, [SigmoidTransform().inv]), 1)

    @property
    def mean(self) -> torch.Tensor:
        return torch.zeros(self.dim)

    @property
    def stddev(self) -> torch.Tensor:
        return torch.full((self.dim,), math.pi / math.sqrt(3.0))

    @property
    def variance(self) -> torch.Tensor:
        return self.stddev**2

    def __reduce__(self):
        return (LogisticBox, (self.dim,))
