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


@numba.njit(cache=True)
def _cauchy_ll_row(x, w, loc, s2):  # pragma: no cover - numba
    ll = 0.0
    half_log = 0.5 * math.log(s2)
    for i in range(x.size):
        if w[i] != 0.0:
            d = x[i] - loc
            ll += w[i] * (half_log - math.log(s2 + d * d))
    return ll


@numba.njit(cache=True)
def cauchy_mle_rows(X, W, loc, s2, floor, max_iter, rtol):  # pragma: no cover - numba
    """Weighted Cauchy MLE per row (in place on ``loc`` and ``s2`` = scale^2).

    ``X`` is (1, n) (shared by all rows) or (B, n).  Safeguarded Newton on (loc, log scale):
    a step is kept when the Hessian is negative definite and the likelihood does not drop;
    otherwise the row takes an EM step (Student-t, 1 degree of freedom), which never lowers
    the likelihood.  Returns the number of iterations per row.
    """
    b_rows, n = W.shape
    iters = np.zeros(b_rows, dtype=np.int64)
    for b in range(b_rows):
        x = X[0] if X.shape[0] == 1 else X[b]
        w = W[b]
        m = 0.0
        for i in range(n):
            m += w[i]
        if m <= 0.0:
            continue
        mu = loc[b]
        sc2 = s2[b]
        ll = _cauchy_ll_row(x, w, mu, sc2)
        for it in range(max_iter):
            iters[b] = it + 1
            g_mu = 0.0
            g_s = 0.0
            h_mm = 0.0
            h_ss = 0.0
            h_ms = 0.0
            t_sum = 0.0
            t_x = 0.0
            for i in range(n):
                wi = w[i]
                if wi == 0.0:
                    continue
                r = x[i] - mu
                r2 = r * r
                d = sc2 + r2
                g_mu += wi * 2.0 * r / d
                g_s += wi * (r2 - sc2) / d
                h_mm += wi * 2.0 * (r2 - sc2) / (d * d)
                h_ss -= wi * 4.0 * sc2 * r2 / (d * d)
                h_ms -= wi * 4.0 * sc2 * r / (d * d)
                tau = wi * 2.0 * sc2 / d
                t_sum += tau
                t_x += tau * x[i]
            det = h_mm * h_ss - h_ms * h_ms
            accepted = False
            new_mu = mu
            new_s2 = sc2
            new_ll = ll
            if h_mm < 0.0 and det > 0.0:
                d_mu = -(h_ss * g_mu - h_ms * g_s) / det
                d_s = -(-h_ms * g_mu + h_mm * g_s) / det
                if d_s > 2.0:
                    d_s = 2.0
                elif d_s < -2.0:
                    d_s = -2.0
                cand_mu = mu + d_mu
                cand_s2 = max(sc2 * math.exp(2.0 * d_s), floor)
                cand_ll = _cauchy_ll_row(x, w, cand_mu, cand_s2)
                if math.isfinite(cand_ll) and cand_ll >= ll - 1e-12 * abs(ll):
                    accepted = True
                    new_mu, new_s2, new_ll = cand_mu, cand_s2, cand_ll
            if not accepted:  # EM step
                new_mu = t_x / t_sum
                ss = 0.0
                for i in range(n):
                    wi = w[i]
                    if wi == 0.0:
                        continue
                    r = x[i] - mu
                    tau = wi * 2.0 * sc2 / (sc2 + r * r)
                    e = x[i] - new_mu
                    ss += tau * e * e
                new_s2 = max(ss / m, floor)
                new_ll = _cauchy_ll_row(x, w, new_mu, new_s2)
            step = max(abs(new_mu - mu) / math.sqrt(new_s2), abs(math.log(new_s2 / sc2)))
            mu, sc2, ll = new_mu, new_s2, new_ll
            if (step <= rtol and accepted) or sc2 <= floor:
                break
        loc[b] = mu
        s2[b] = sc2
    return iters
