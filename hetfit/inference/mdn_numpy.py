"""A trained mixture-density posterior evaluated with numpy alone.

NPE's default estimator (``sbi``'s mixture density network, MDN) is a small multilayer
perceptron that maps standardized summaries to the weights, means and Cholesky-type
precision factors of a mixture of Gaussians over the (standardized) parameters.  Once
trained it needs no autograd: :class:`NumpyMDN` holds its weights as arrays and samples or
evaluates the density in numpy, so applying a saved posterior to a new recording does not
import torch or sbi (about 3.5 s of a 5 s command on these machines).

The arithmetic follows ``sbi`` 0.27 (``MultivariateGaussianMDN`` and ``MoG``):

- ``h = relu(... relu(W1 ((x - x_mean) / x_std) + b1) ...)``;
- component logits ``W_l h + b_l``, means ``W_m h + b_m`` (K x d);
- precision factor ``A`` (upper triangular): ``softplus(W_d h + b_d)`` on the diagonal,
  ``W_u h + b_u`` above it; precision ``A^T A + eps I`` for densities;
- a sample of component k is ``mu_k + A_k^{-1} z``, ``z ~ N(0, I)``; parameters are then
  un-standardized, ``theta = s * shift_scale + shift``.

:func:`NumpyMDN.from_sbi` refuses anything it cannot reproduce exactly (flows, embedding
networks other than standardization, constrained-space transforms) by returning ``None``;
such posteriors keep using torch.  ``tests/test_inference_mdn_numpy.py`` checks the log
densities against sbi's to float32 precision and the samples against sbi's samples.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetfit.errors import IncompatibleArtifactError, InsufficientDataError

FORMAT = "hetfit-numpy-mdn"
FORMAT_VERSION = 1


def _softplus(a: np.ndarray) -> np.ndarray:
    # torch.nn.functional.softplus (beta 1, threshold 20)
    return np.where(a > 20.0, a, np.log1p(np.exp(np.minimum(a, 20.0))))


@dataclass
class NumpyMDN:
    """Weights of a trained sbi mixture density network (float64 copies).

    Attributes
    ----------
    x_shift, x_scale:
        Standardization of the summaries (k,), or ``None`` when the network used none.
    hidden:
        ``[(W, b), ...]`` of the hidden layers, each followed by ReLU; ``W`` is (out, in).
    logits, means, diagonal, upper:
        ``(W, b)`` of the output heads; ``upper`` is ``None`` for one parameter.
    theta_shift, theta_scale:
        Standardization of the parameters in training space (d,), or ``None``.
    epsilon:
        Added to the precision diagonal in densities (as sbi does).
    """

    x_shift: np.ndarray | None
    x_scale: np.ndarray | None
    hidden: list[tuple[np.ndarray, np.ndarray]]
    logits: tuple[np.ndarray, np.ndarray]
    means: tuple[np.ndarray, np.ndarray]
    diagonal: tuple[np.ndarray, np.ndarray]
    upper: tuple[np.ndarray, np.ndarray] | None
    theta_shift: np.ndarray | None
    theta_scale: np.ndarray | None
    epsilon: float

    @property
    def dim(self) -> int:
        return int(self.diagonal[1].size // self.n_components)

    @property
    def n_components(self) -> int:
        return int(self.logits[1].size)

    @property
    def n_summaries(self) -> int:
        return int(self.hidden[0][0].shape[1]) if self.hidden else int(self.logits[0].shape[1])

    # -- conversion from sbi ---------------------------------------------------------------
    @classmethod
    def from_sbi(cls, posterior: Any) -> NumpyMDN | None:
        """Copy the weights of an sbi ``DirectPosterior`` around a mixture density network;
        ``None`` if the estimator is anything this class cannot reproduce exactly."""
        try:
            from sbi.neural_nets.estimators.mixture_density_estimator import (
                MixtureDensityEstimator,
            )
            from sbi.utils.sbiutils import Standardize
            from torch import nn
        except ImportError:  # pragma: no cover - sbi layout changed
            return None
        est = getattr(posterior, "posterior_estimator", None)
        if type(est) is not MixtureDensityEstimator or est._prior_transform is not None:
            return None

        def arr(t: Any) -> np.ndarray:
            return t.detach().cpu().double().numpy().copy()

        x_shift = x_scale = None
        emb = est._embedding_net
        layers = list(emb) if isinstance(emb, nn.Sequential) else [emb]
        for layer in layers:
            if isinstance(layer, Standardize) and x_shift is None:
                x_shift, x_scale = arr(layer._mean), arr(layer._std)
            elif not isinstance(layer, nn.Identity):
                return None
        net = est.net
        hidden: list[tuple[np.ndarray, np.ndarray]] = []
        mods = list(net._hidden_net)
        for i, m in enumerate(mods):
            if isinstance(m, nn.Linear):
                if i + 1 >= len(mods) or not isinstance(mods[i + 1], nn.ReLU):
                    return None
                hidden.append((arr(m.weight), arr(m.bias)))
            elif not isinstance(m, (nn.ReLU, nn.Identity)) and not (
                    isinstance(m, nn.Dropout) and m.p == 0):
                return None

        def lin(m: Any) -> tuple[np.ndarray, np.ndarray]:
            return arr(m.weight), arr(m.bias)

        shift = scale = None
        if est.has_input_transform:
            shift, scale = arr(est._transform_shift), arr(est._transform_scale)
        return cls(
            x_shift=x_shift, x_scale=x_scale, hidden=hidden,
            logits=lin(net._logits_layer), means=lin(net._means_layer),
            diagonal=lin(net._unconstrained_diagonal_layer),
            upper=None if net._upper_layer is None else lin(net._upper_layer),
            theta_shift=shift, theta_scale=scale, epsilon=float(net._epsilon),
        )

    # -- the network ---------------------------------------------------------------------
    def mixture(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log weights (m, K), means (m, K, d) and precision factors (m, K, d, d) of the
        mixture over standardized parameters for summaries ``x`` (m, k)."""
        h = np.asarray(x, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != self.n_summaries:
            raise IncompatibleArtifactError(
                f"the posterior network expects {self.n_summaries} summaries, got shape "
                f"{np.shape(x)}")
        if self.x_shift is not None:
            h = (h - self.x_shift) / self.x_scale
        for w, b in self.hidden:
            h = np.maximum(h @ w.T + b, 0.0)
        m, k, d = h.shape[0], self.n_components, self.dim
        logits = h @ self.logits[0].T + self.logits[1]
        log_w = logits - _logsumexp(logits, axis=1)[:, None]
        mu = (h @ self.means[0].T + self.means[1]).reshape(m, k, d)
        diag = _softplus(h @ self.diagonal[0].T + self.diagonal[1]).reshape(m, k, d)
        a = np.zeros((m, k, d, d))
        idx = np.arange(d)
        a[:, :, idx, idx] = diag
        if self.upper is not None:
            rows, cols = np.triu_indices(d, k=1)
            # sbi fills the strict upper triangle row by row (torch.triu_indices order)
            a[:, :, rows, cols] = (h @ self.upper[0].T + self.upper[1]).reshape(
                m, k, rows.size)
        return log_w, mu, a

    def sample(self, x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples per observation, array (n, m, d), in the training space."""
        log_w, mu, a = self.mixture(x)
        m, k, d = mu.shape
        out = np.empty((n, m, d))
        for j in range(m):
            p = np.exp(log_w[j])
            comp = rng.choice(k, size=n, p=p / p.sum())
            z = rng.standard_normal((n, d))
            # solve A_k y = z for each sample (A upper triangular): back substitution
            aj = a[j, comp]  # (n, d, d)
            y = np.empty((n, d))
            for i in range(d - 1, -1, -1):
                s = z[:, i] - np.einsum("nj,nj->n", aj[:, i, i + 1:], y[:, i + 1:])
                y[:, i] = s / aj[:, i, i]
            out[:, j, :] = mu[j, comp] + y
        return self._unstandardize(out)

    def log_prob(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Log density of training-space parameters ``theta`` (n, d) given one observation
        ``x`` (k,) or (1, k): array (n,)."""
        log_w, mu, a = self.mixture(np.asarray(x, dtype=np.float64).reshape(1, -1))
        t = np.asarray(theta, dtype=np.float64)
        log_det = 0.0
        if self.theta_shift is not None:
            t = (t - self.theta_shift) / self.theta_scale
            log_det = -float(np.log(self.theta_scale).sum())
        d = self.dim
        prec = np.einsum("kji,kjl->kil", a[0], a[0]) + self.epsilon * np.eye(d)
        diff = t[:, None, :] - mu[0][None]  # (n, K, d)
        quad = np.einsum("nki,kil,nkl->nk", diff, prec, diff)
        sumlogdiag = np.log(np.diagonal(a[0], axis1=-2, axis2=-1)).sum(axis=-1)  # (K,)
        comp = -0.5 * d * np.log(2 * np.pi) + sumlogdiag[None] - 0.5 * quad
        return _logsumexp(log_w[0][None] + comp, axis=1) + log_det

    def _unstandardize(self, s: np.ndarray) -> np.ndarray:
        if self.theta_shift is None:
            return s
        return s * self.theta_scale + self.theta_shift

    # -- storage ---------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"epsilon": np.array(self.epsilon)}
        for name in ("x_shift", "x_scale", "theta_shift", "theta_scale"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        for i, (w, b) in enumerate(self.hidden):
            out[f"hidden{i}_W"], out[f"hidden{i}_b"] = w, b
        for name in ("logits", "means", "diagonal", "upper"):
            v = getattr(self, name)
            if v is not None:
                out[f"{name}_W"], out[f"{name}_b"] = v
        return out

    @classmethod
    def from_arrays(cls, a: Any) -> NumpyMDN:
        keys = set(a.keys() if hasattr(a, "keys") else a.files)

        def get(name: str) -> np.ndarray | None:
            return np.asarray(a[name], dtype=np.float64) if name in keys else None

        def pair(name: str) -> tuple[np.ndarray, np.ndarray] | None:
            w, b = get(f"{name}_W"), get(f"{name}_b")
            return None if w is None else (w, b)

        hidden = []
        while f"hidden{len(hidden)}_W" in keys:
            hidden.append(pair(f"hidden{len(hidden)}"))
        return cls(x_shift=get("x_shift"), x_scale=get("x_scale"), hidden=hidden,
                   logits=pair("logits"), means=pair("means"), diagonal=pair("diagonal"),
                   upper=pair("upper"), theta_shift=get("theta_shift"),
                   theta_scale=get("theta_scale"), epsilon=float(a["epsilon"]))


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    mx = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(mx, axis=axis) + np.log(np.sum(np.exp(a - mx), axis=axis))


def pack(mdn: NumpyMDN, header: dict[str, Any], reference_x: np.ndarray | None) -> bytes:
    """An ``.npz`` payload: the MDN weights, the reference summaries and a JSON header."""
    arrays = {f"mdn_{k}": v for k, v in mdn.to_arrays().items()}
    if reference_x is not None:
        arrays["reference_x"] = np.asarray(reference_x, dtype=np.float64)
    head = {"format": FORMAT, "format_version": FORMAT_VERSION, **header}
    arrays["header"] = np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack(data: Any) -> tuple[NumpyMDN, dict[str, Any], np.ndarray | None]:
    """Inverse of :func:`pack` (``data``: an opened ``np.load`` archive)."""
    head = json.loads(bytes(np.asarray(data["header"], dtype=np.uint8)).decode())
    if head.get("format") != FORMAT or int(head.get("format_version", -1)) > FORMAT_VERSION:
        raise IncompatibleArtifactError("not a hetfit numpy posterior of a known version")
    weights = {k[4:]: data[k] for k in data.files if k.startswith("mdn_")}
    ref = np.asarray(data["reference_x"]) if "reference_x" in data.files else None
    return NumpyMDN.from_arrays(weights), head, ref


def check_support(samples: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Boolean mask (n, m) of samples inside ``[low, high]`` in every coordinate."""
    return np.all((samples >= low) & (samples <= high), axis=-1)


def rejection_sample(mdn: NumpyMDN, x: np.ndarray, n: int, rng: np.random.Generator,
                     low: np.ndarray, high: np.ndarray, max_rounds: int = 200) -> np.ndarray:
    """Samples (n, m, d) restricted to the box ``[low, high]`` (the prior's support in the
    training space), by rejection as sbi's DirectPosterior does."""
    m = np.asarray(x).shape[0]
    if np.all(np.isinf(low)) and np.all(np.isinf(high)):
        return mdn.sample(x, n, rng)
    out = np.empty((n, m, mdn.dim))
    for j in range(m):
        got, parts = 0, []
        for _ in range(max_rounds):
            s = mdn.sample(x[j:j + 1], max(n, 64), rng)[:, 0, :]
            s = s[check_support(s, low, high)]
            parts.append(s)
            got += len(s)
            if got >= n:
                break
        else:
            raise InsufficientDataError(
                "almost all posterior mass lies outside the prior's support for this "
                "observation (acceptance below 1/200)",
                hint="the recording is probably unlike the training simulations; see the "
                "misspecification check")
        out[:, j, :] = np.concatenate(parts)[:n]
    return out
