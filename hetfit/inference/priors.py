"""Priors over heterogeneity widths and nuisance parameters.

A :class:`Prior` is a product of independent box priors, one per parameter, each uniform
either in the parameter itself (``scale="linear"``) or in its logarithm
(``scale="log"``, i.e. log-uniform: the natural choice for a width spanning a decade).

Training spaces.  Estimators learn either ``z = theta`` (linear) or ``z = log(theta)``
(log-scale parameters), on which the prior is a uniform box (``space="box"``; ``sbi``
rejects the flow samples that leak outside the box), or — the default of
:class:`~hetfit.inference.estimators.EstimatorConfig` — every coordinate further mapped to
``u = logit((z - low_z) / (high_z - low_z))`` (``space="unbounded"``), where the prior is a
standard logistic law and nothing can leak.  Per-dimension monotone maps leave rank
statistics (SBC) and central credible intervals unchanged, so every diagnostic is the same
in any space.

``Prior.torch_distribution(space)`` returns the prior in a training space as a
``torch.distributions`` object for ``sbi``; torch is imported only there.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from hetfit.errors import ParameterError
from hetfit.seeding import SeedLike, as_generator

Scale = Literal["linear", "log"]
Space = Literal["box", "unbounded"]
Kind = Literal["width", "nuisance"]

# Keep u finite: samples exactly on a box edge would map to +-inf.
_EPS = 1e-12


@dataclass(frozen=True)
class ParameterPrior:
    """Uniform (or log-uniform) prior of one parameter.

    Parameters
    ----------
    name:
        Parameter name, e.g. ``"delta_v_E"``; must be a valid identifier.
    low, high:
        Support of the prior, in ``unit``.  ``low < high``, both finite.
    unit:
        Physical unit, e.g. ``"mV"`` or ``"pA"`` (documentation and reports).
    kind:
        ``"width"`` for a heterogeneity width (must be >= 0) or ``"nuisance"`` for anything
        else inferred alongside (mean drive, coupling ...).
    scale:
        ``"linear"`` (uniform in the value) or ``"log"`` (uniform in log value; needs
        ``low > 0``).
    """

    name: str
    low: float
    high: float
    unit: str = ""
    kind: Kind = "width"
    scale: Scale = "linear"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ParameterError(
                f"prior parameter name {self.name!r} is not a valid identifier",
                hint="use names like 'delta_v_E' (letters, digits, underscores)",
            )
        lo, hi = float(self.low), float(self.high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ParameterError(
                f"prior bounds of {self.name!r} must be finite numbers, got [{self.low}, {self.high}]",
                hint="a uniform prior needs a bounded range, e.g. low=0.1, high=3.0",
            )
        if not lo < hi:
            raise ParameterError(
                f"prior of {self.name!r} has low={lo} >= high={hi}",
                hint="give low < high",
            )
        if self.kind not in ("width", "nuisance"):
            raise ParameterError(
                f"prior kind of {self.name!r} must be 'width' or 'nuisance', got {self.kind!r}"
            )
        if self.scale not in ("linear", "log"):
            raise ParameterError(
                f"prior scale of {self.name!r} must be 'linear' or 'log', got {self.scale!r}"
            )
        if self.kind == "width" and lo < 0:
            raise ParameterError(
                f"width prior {self.name!r} has low={lo} < 0; a heterogeneity width cannot be "
                "negative",
                hint="use low >= 0 (a small positive value such as 0.05 avoids degenerate "
                "homogeneous networks)",
            )
        if self.scale == "log" and lo <= 0:
            raise ParameterError(
                f"log-uniform prior of {self.name!r} needs low > 0, got {lo}",
                hint="use scale='linear' or a positive lower bound",
            )
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    # bounds in the space where the prior is uniform
    @property
    def z_bounds(self) -> tuple[float, float]:
        if self.scale == "log":
            return math.log(self.low), math.log(self.high)
        return self.low, self.high


@dataclass(frozen=True)
class Prior:
    """Independent uniform / log-uniform priors over named parameters.

    Examples
    --------
    >>> prior = Prior.from_bounds({"delta_v_E": (0.2, 2.5), "delta_v_I": (0.2, 2.5)}, unit="mV")
    >>> prior.sample(3, seed=0).shape
    (3, 2)
    """

    parameters: tuple[ParameterPrior, ...]

    def __post_init__(self) -> None:
        params = tuple(self.parameters)
        if not params:
            raise ParameterError("a prior needs at least one parameter")
        for p in params:
            if not isinstance(p, ParameterPrior):
                raise ParameterError(
                    f"prior entries must be ParameterPrior, got {type(p).__name__}"
                )
        names = [p.name for p in params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ParameterError(f"prior names must be unique; repeated: {dup}")
        object.__setattr__(self, "parameters", params)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls,
        bounds: Mapping[str, tuple[float, float]],
        unit: str = "",
        kind: Kind = "width",
        scale: Scale = "linear",
    ) -> Prior:
        """Prior with the same unit/kind/scale for every ``name: (low, high)``."""
        return cls(
            tuple(ParameterPrior(n, lo, hi, unit=unit, kind=kind, scale=scale)
                  for n, (lo, hi) in bounds.items())
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Prior:
        try:
            return cls(tuple(ParameterPrior(**p) for p in d["parameters"]))
        except (KeyError, TypeError) as exc:
            raise ParameterError(
                f"invalid prior description: {exc}",
                hint="expected {'parameters': [{'name', 'low', 'high', 'unit', 'kind', "
                "'scale'}, ...]}",
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        return {"parameters": [asdict(p) for p in self.parameters]}

    def fingerprint(self) -> str:
        """Stable hash of the prior (used to refuse mismatched stores and posteriors)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- properties -------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def dim(self) -> int:
        return len(self.parameters)

    @property
    def width_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters if p.kind == "width")

    @property
    def low(self) -> np.ndarray:
        return np.array([p.low for p in self.parameters])

    @property
    def high(self) -> np.ndarray:
        return np.array([p.high for p in self.parameters])

    def __getitem__(self, name: str) -> ParameterPrior:
        for p in self.parameters:
            if p.name == name:
                return p
        raise ParameterError(f"no parameter {name!r} in the prior; have {list(self.names)}")

    # -- checks -----------------------------------------------------------------------
    def as_theta(self, theta: Any) -> np.ndarray:
        """``theta`` as a float (n, dim) array, or a clear error for a wrong shape / NaN."""
        if isinstance(theta, Mapping):
            missing = [n for n in self.names if n not in theta]
            if missing:
                raise ParameterError(f"parameter values missing for {missing}")
            theta = [theta[n] for n in self.names]
        arr = np.asarray(theta, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ParameterError(
                f"parameter array has shape {np.shape(theta)}, expected (n, {self.dim}) for "
                f"parameters {list(self.names)}"
            )
        if not np.all(np.isfinite(arr)):
            raise ParameterError("parameter values contain NaN or infinity")
        return arr

    def contains(self, theta: Any) -> np.ndarray:
        """Boolean (n,) mask: which rows lie inside the prior support (bounds inclusive)."""
        arr = self.as_theta(theta)
        return np.all((arr >= self.low) & (arr <= self.high), axis=1)

    def check(self, theta: Any) -> np.ndarray:
        """Return ``theta`` as (n, dim), raising :class:`ParameterError` outside the support."""
        arr = self.as_theta(theta)
        inside = self.contains(arr)
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            bad = [f"{p.name}={arr[i, j]:g} not in [{p.low:g}, {p.high:g}] {p.unit}".strip()
                   for j, p in enumerate(self.parameters)
                   if not p.low <= arr[i, j] <= p.high]
            raise ParameterError(
                f"{int((~inside).sum())} parameter set(s) outside the prior support, e.g. "
                + "; ".join(bad),
                hint="widen the prior or choose values inside it",
            )
        return arr

    # -- sampling and densities -------------------------------------------------------
    def sample(self, n: int, seed: SeedLike = None) -> np.ndarray:
        """``n`` draws from the prior, shape (n, dim), in physical units."""
        if int(n) != n or n < 0:
            raise ParameterError(f"number of prior samples must be >= 0, got {n}")
        rng = as_generator(seed)
        zl = np.array([p.z_bounds[0] for p in self.parameters])
        zh = np.array([p.z_bounds[1] for p in self.parameters])
        z = rng.uniform(zl, zh, size=(int(n), self.dim))
        return self._from_z(z)

    def log_prob(self, theta: Any) -> np.ndarray:
        """Log density (n,) in physical units (``-inf`` outside the support)."""
        arr = self.as_theta(theta)
        out = np.zeros(arr.shape[0])
        for j, p in enumerate(self.parameters):
            zl, zh = p.z_bounds
            if p.scale == "log":
                with np.errstate(divide="ignore"):
                    out += -math.log(zh - zl) - np.log(np.where(arr[:, j] > 0, arr[:, j], np.nan))
            else:
                out += -math.log(zh - zl)
        out[~self.contains(arr) | np.isnan(out)] = -np.inf
        return out

    # -- unbounded parametrization used for training ----------------------------------
    def _z(self, theta: np.ndarray) -> np.ndarray:
        z = np.array(theta, dtype=np.float64, copy=True)
        for j, p in enumerate(self.parameters):
            if p.scale == "log":
                z[..., j] = np.log(z[..., j])
        return z

    def _from_z(self, z: np.ndarray) -> np.ndarray:
        theta = np.array(z, dtype=np.float64, copy=True)
        for j, p in enumerate(self.parameters):
            if p.scale == "log":
                theta[..., j] = np.exp(theta[..., j])
            # exp/log round trips can step 1 ulp outside the box
            theta[..., j] = np.clip(theta[..., j], p.low, p.high)
        return theta

    def to_unbounded(self, theta: Any) -> np.ndarray:
        """Map physical parameters (inside the support) to the unbounded training space."""
        z = self._z(self.check(theta))
        zl = np.array([p.z_bounds[0] for p in self.parameters])
        zh = np.array([p.z_bounds[1] for p in self.parameters])
        s = np.clip((z - zl) / (zh - zl), _EPS, 1.0 - _EPS)
        return np.log(s) - np.log1p(-s)

    def from_unbounded(self, u: Any) -> np.ndarray:
        """Inverse of :meth:`to_unbounded` (any leading shape, last axis = parameters)."""
        u = np.asarray(u, dtype=np.float64)
        zl = np.array([p.z_bounds[0] for p in self.parameters])
        zh = np.array([p.z_bounds[1] for p in self.parameters])
        s = 0.5 * (1.0 + np.tanh(0.5 * u))  # overflow-free logistic
        return self._from_z(zl + (zh - zl) * s)

    def to_space(self, theta: Any, space: Space) -> np.ndarray:
        """Physical parameters -> training space (``"box"``: z, ``"unbounded"``: logit z)."""
        if space == "unbounded":
            return self.to_unbounded(theta)
        _check_space(space)
        return self._z(self.check(theta))

    def from_space(self, v: Any, space: Space) -> np.ndarray:
        """Inverse of :meth:`to_space` (any leading shape, last axis = parameters)."""
        if space == "unbounded":
            return self.from_unbounded(v)
        _check_space(space)
        return self._from_z(np.asarray(v, dtype=np.float64))

    def torch_distribution(self, space: Space = "box"):
        """The prior in a training space as a torch distribution (for ``sbi``).

        ``"box"``: ``sbi``'s ``BoxUniform`` over z (``theta``, or ``log theta`` for
        log-scale parameters).  ``"unbounded"``: independent standard logistic variables
        (the image of the box under the logit map).
        """
        _check_space(space)
        if space == "unbounded":
            from hetfit.inference._torch_prior import LogisticBox

            return LogisticBox(self.dim)
        import torch
        from sbi.utils import BoxUniform

        lo = torch.tensor([p.z_bounds[0] for p in self.parameters], dtype=torch.float32)
        hi = torch.tensor([p.z_bounds[1] for p in self.parameters], dtype=torch.float32)
        return BoxUniform(lo, hi)

    # -- display ----------------------------------------------------------------------
    def describe(self) -> list[str]:
        return [
            f"{p.name} ~ {'LogUniform' if p.scale == 'log' else 'Uniform'}"
            f"({p.low:g}, {p.high:g}) {p.unit}".rstrip()
            for p in self.parameters
        ]


def _check_space(space: str) -> None:
    if space not in ("box", "unbounded"):
        raise ParameterError(f"unknown parameter space {space!r}",
                             hint="use 'box' or 'unbounded'")


def coerce_prior(prior: Prior | Mapping[str, Any] | Sequence[ParameterPrior]) -> Prior:
    """Accept a :class:`Prior`, its ``to_dict()`` form, or a sequence of parameter priors."""
    if isinstance(prior, Prior):
        return prior
    if isinstance(prior, Mapping):
        return Prior.from_dict(prior)
    if isinstance(prior, Iterable):
        return Prior(tuple(prior))
    raise ParameterError(f"cannot interpret {type(prior).__name__} as a prior")
