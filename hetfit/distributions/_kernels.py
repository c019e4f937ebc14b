"""Numba kernels for the distribution fits (hot loops of the mixture EM)."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def _mixture_em_one(x, w, loc, sc, min_scale, max_iter, tol):  # pragma: no cover - numba
    """EM for one K-component Cauchy mixture (in place on w, loc, sc); returns (loglik, iters).

    The Cauchy is a Student-t with one degree of freedom, i.e. a Gaussian scale mixture, so
    EM treats both the component label and the Gaussian precision as missing data
    (E-step: responsibilities r_ik and precision weights u_ik = 2 g_k^2 / (g_k^2 + d_ik^2);
    M-step: weighted mean and variance).  Each iteration never decreases the likelihood.
    """
    n = x.size
    k = w.size
    dens = np.empty(k)
    coef = np.empty(k)
    ru = np.empty((n, k))  # r_ik * u_ik
    nk = np.empty(k)
    new_loc = np.empty(k)
    prev = -np.inf
    ll = -np.inf
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        for j in range(k):
            nk[j] = 0.0
            coef[j] = w[j] * sc[j] / math.pi
        ll = 0.0
        for i in range(n):  # E-step (Cauchy densities have polynomial tails: no underflow)
            s = 0.0
            for j in range(k):
                d = x[i] - loc[j]
                dens[j] = coef[j] / (sc[j] * sc[j] + d * d)
                s += dens[j]
            ll += math.log(s)
            for j in range(k):
                r = dens[j] / s
                d = x[i] - loc[j]
                g2 = sc[j] * sc[j]
                nk[j] += r
                ru[i, j] = r * 2.0 * g2 / (g2 + d * d)
        for j in range(k):  # M-step
            num = 0.0
            den = 0.0
            for i in range(n):
                num += ru[i, j] * x[i]
                den += ru[i, j]
            new_loc[j] = num / max(den, 1e-300)
            ss = 0.0
            for i in range(n):
                e = x[i] - new_loc[j]
                ss += ru[i, j] * e * e
            w[j] = max(nk[j] / n, 1e-12)
            loc[j] = new_loc[j]
            sc[j] = max(math.sqrt(ss / max(nk[j], 1e-300)), min_scale)
        if abs(ll - prev) <= tol * abs(ll):
            break
        prev = ll
    return ll, n_iter


@numba.njit(cache=True)
def mixture_em_rows(X, W, L, S, min_scale, max_iter, tol):  # pragma: no cover - numba
    """Run :func:`_mixture_em_one` on every row (data set) of ``X``; updates W, L, S in place.

    Returns the log-likelihood per row (at the start of the final iteration) and iterations.
    """
    b = X.shape[0]
    ll = np.empty(b)
    iters = np.empty(b, dtype=np.int64)
    for r in range(b):
        w = W[r].copy()
        loc = L[r].copy()
        sc = S[r].copy()
        ll[r], iters[r] = _mixture_em_one(X[r], w, loc, sc, min_scale[r], max_iter, tol)
        W[r] = w
        L[r] = loc
        S[r] = sc
    return ll, iters
