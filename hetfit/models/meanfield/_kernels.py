"""Numba right-hand sides and fixed-step RK4 integrators of the mean-field models.

Parameters travel as flat float64 vectors (layouts documented next to each right-hand side)
so that one compiled kernel serves every parameter set, and batched kernels can ``prange``
over rows of a parameter matrix.  Time in ms, rates in 1/ms inside the kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# ---------------------------------------------------------------------------------------
# Montbrió-Pazó-Roxin (QIF, Lorentzian drives)
# p = [tau_ms, eta_bar, delta, J, tau_s_ms]; y = [r (1/ms), v, s (1/ms)]; inp = [I]
# tau dr/dt = delta/(pi tau) + 2 r v
# tau dv/dt = v^2 + eta_bar + I + J tau s_eff - (pi tau r)^2,   s_eff = r if tau_s == 0 else s
# tau_s ds/dt = -s + r
# ---------------------------------------------------------------------------------------
MPR_NP = 5


@njit(cache=True)
def mpr_rhs(y, p, inp, dy):  # pragma: no cover - compiled
    tau = p[0]
    eta = p[1]
    delta = p[2]
    J = p[3]
    tau_s = p[4]
    r = y[0]
    v = y[1]
    s_eff = r
    if tau_s > 0.0:
        s_eff = y[2]
        dy[2] = (r - y[2]) / tau_s
    else:
        dy[2] = 0.0
    dy[0] = (delta / (math.pi * tau) + 2.0 * r * v) / tau
    dy[1] = (v * v + eta + inp[0] + J * tau * s_eff - (math.pi * tau * r) ** 2) / tau


# ---------------------------------------------------------------------------------------
# Izhikevich populations with Lorentzian thresholds (Gast, Solla & Kennedy 2023), P pops.
# p = [P, per population a (IZH_NPP values): C, k, v_r, v_theta, Delta, eta, b, tau_u,
#      kappa, E_syn, tau_syn, Delta_eta, then W (P x P, row = postsynaptic, nS) = g_ab * J_ab]
# y = [r (P), v (P), u (P), x (P)];  x_b: tau_b dx_b/dt = -x_b + tau_b r_b, so the
# synaptic activation of the b -> a synapse is s_ab = J_ab x_b.
# C dr_a/dt = (Delta k^2 (v - v_r) + k Delta_eta)/(pi C) + r (k (2 v - v_r - v_theta) - G_a)
# C dv_a/dt = k v (v - v_r - v_theta) + k v_r v_theta + eta + I - u + sum_b W_ab x_b (E_b - v)
#             - pi C r (Delta + pi C r / k)
# du_a/dt   = (b (v - v_r) - u) / tau_u + kappa r,     G_a = sum_b W_ab x_b
# ---------------------------------------------------------------------------------------
IZH_NPP = 12


# Derived per-population constants (computed once per integration, so the right-hand side
# has no divisions): see izh_derive for the layout.
IZH_NC = 14


@njit(cache=True)
def izh_derive(p):  # pragma: no cover - compiled
    P = int(p[0])
    c = np.empty(P * IZH_NC)
    for a in range(P):
        base = 1 + a * IZH_NPP
        C = p[base]
        k = p[base + 1]
        j = a * IZH_NC
        c[j] = 1.0 / C
        c[j + 1] = k
        c[j + 2] = p[base + 2]  # v_r
        c[j + 3] = p[base + 3]  # v_theta
        c[j + 4] = p[base + 4] * k * k / (math.pi * C)  # Delta k^2 / (pi C)
        c[j + 5] = k * p[base + 11] / (math.pi * C)  # k Delta_eta / (pi C)
        c[j + 6] = p[base + 5]  # eta
        c[j + 7] = p[base + 6]  # b
        c[j + 8] = 1.0 / p[base + 7]  # 1 / tau_u
        c[j + 9] = p[base + 8]  # kappa
        c[j + 10] = p[base + 9]  # E_syn
        c[j + 11] = 1.0 / p[base + 10]  # 1 / tau_s
        c[j + 12] = math.pi * C  # pi C
        c[j + 13] = p[base + 4]  # Delta
    return c


@njit(cache=True)
def izh_rhs_c(y, c, W, P, inp, dy):  # pragma: no cover - compiled
    for a in range(P):
        j = a * IZH_NC
        k = c[j + 1]
        v_r = c[j + 2]
        v_t = c[j + 3]
        r = y[a]
        v = y[P + a]
        u = y[2 * P + a]
        G = 0.0
        GE = 0.0
        for q in range(P):
            w = W[a * P + q] * y[3 * P + q]
            G += w
            GE += w * c[q * IZH_NC + 10]
        pcr = c[j + 12] * r
        dy[a] = (c[j + 4] * (v - v_r) + c[j + 5] + r * (k * (2.0 * v - v_r - v_t) - G)) * c[j]
        dy[P + a] = (
            k * v * (v - v_r - v_t) + k * v_r * v_t + c[j + 6] + inp[a] - u + GE - G * v
            - pcr * (c[j + 13] + pcr / k)
        ) * c[j]
        dy[2 * P + a] = (c[j + 7] * (v - v_r) - u) * c[j + 8] + c[j + 9] * r
        dy[3 * P + a] = r - y[3 * P + a] * c[j + 11]


@njit(cache=True)
def izh_rhs(y, p, inp, dy):  # pragma: no cover - compiled
    P = int(p[0])
    izh_rhs_c(y, izh_derive(p), p[1 + P * IZH_NPP:], P, inp, dy)


# ---------------------------------------------------------------------------------------
# RK4 drivers.  inp has shape (n_steps, n_inp); it is held constant within a step.
# Output: states recorded every `rec_every` steps (after the step), shape (n_rec, n_state).
# Divergence: non-finite state, or a rate below -rate_tol (MPR: impossible unless the step
# is unstable; Izhikevich: rates are projected onto r >= 0 after each step).
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _rk4_step_mpr(y, p, inp, dt, k1, k2, k3, k4, tmp):  # pragma: no cover - compiled
    n = y.size
    mpr_rhs(y, p, inp, k1)
    for i in range(n):
        tmp[i] = y[i] + 0.5 * dt * k1[i]
    mpr_rhs(tmp, p, inp, k2)
    for i in range(n):
        tmp[i] = y[i] + 0.5 * dt * k2[i]
    mpr_rhs(tmp, p, inp, k3)
    for i in range(n):
        tmp[i] = y[i] + dt * k3[i]
    mpr_rhs(tmp, p, inp, k4)
    for i in range(n):
        y[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])


@njit(cache=True)
def _rk4_step_izh(y, c, W, P, inp, dt, k1, k2, k3, k4, tmp):  # pragma: no cover - compiled
    n = y.size
    izh_rhs_c(y, c, W, P, inp, k1)
    for i in range(n):
        tmp[i] = y[i] + 0.5 * dt * k1[i]
    izh_rhs_c(tmp, c, W, P, inp, k2)
    for i in range(n):
        tmp[i] = y[i] + 0.5 * dt * k2[i]
    izh_rhs_c(tmp, c, W, P, inp, k3)
    for i in range(n):
        tmp[i] = y[i] + dt * k3[i]
    izh_rhs_c(tmp, c, W, P, inp, k4)
    h6 = dt / 6.0
    for i in range(n):
        y[i] += h6 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
    # r >= 0: below v_r the threshold term pushes r negative; the network is then silent,
    # so the rate is held at the boundary r = 0 (projected dynamics).
    for a in range(P):
        if y[a] < 0.0:
            y[a] = 0.0


@njit(cache=True)
def _bad_state(y, n_rates, rate_tol):  # pragma: no cover - compiled
    for i in range(y.size):
        if not math.isfinite(y[i]):
            return True
    for i in range(n_rates):
        if y[i] < -rate_tol:
            return True
    return False


@njit(cache=True)
def integrate_mpr(y0, p, inp, dt, rec_every):  # pragma: no cover - compiled
    n_steps = inp.shape[0]
    n = y0.size
    n_rec = n_steps // rec_every
    out = np.full((n_rec, n), np.nan)
    y = y0.copy()
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    tmp = np.empty(n)
    for step in range(n_steps):
        _rk4_step_mpr(y, p, inp[step], dt, k1, k2, k3, k4, tmp)
        if _bad_state(y, 1, 1e-9):
            return out, y, step + 1, True
        if (step + 1) % rec_every == 0:
            out[(step + 1) // rec_every - 1] = y
    return out, y, n_steps, False


@njit(cache=True)
def integrate_izh(y0, p, inp, dt, rec_every):  # pragma: no cover - compiled
    n_steps = inp.shape[0]
    n = y0.size
    P = int(p[0])
    c = izh_derive(p)
    W = p[1 + P * IZH_NPP:].copy()
    n_rec = n_steps // rec_every
    out = np.full((n_rec, n), np.nan)
    y = y0.copy()
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    tmp = np.empty(n)
    for step in range(n_steps):
        _rk4_step_izh(y, c, W, P, inp[step], dt, k1, k2, k3, k4, tmp)
        if _bad_state(y, P, 1e-9):
            return out, y, step + 1, True
        if (step + 1) % rec_every == 0:
            out[(step + 1) // rec_every - 1] = y
    return out, y, n_steps, False


@njit(cache=True, parallel=True)
def integrate_izh_batch(Y0, Pm, inp, dt, rec_every, rec_rates_only):  # pragma: no cover
    """Batched RK4 over rows of ``Pm`` (n_sets, n_params); ``inp`` (n_steps, P) shared."""
    n_sets = Pm.shape[0]
    n = Y0.shape[1]
    P = int(Pm[0, 0])
    n_steps = inp.shape[0]
    n_rec = n_steps // rec_every
    n_out = P if rec_rates_only else n
    out = np.full((n_sets, n_rec, n_out), np.nan)
    final = np.empty((n_sets, n))
    bad = np.zeros(n_sets, dtype=np.bool_)
    for j in prange(n_sets):
        y = Y0[j].copy()
        p = Pm[j]
        c = izh_derive(p)
        W = p[1 + P * IZH_NPP:].copy()
        k1 = np.empty(n)
        k2 = np.empty(n)
        k3 = np.empty(n)
        k4 = np.empty(n)
        tmp = np.empty(n)
        for step in range(n_steps):
            _rk4_step_izh(y, c, W, P, inp[step], dt, k1, k2, k3, k4, tmp)
            if _bad_state(y, P, 1e-9):
                bad[j] = True
                break
            if (step + 1) % rec_every == 0:
                ir = (step + 1) // rec_every - 1
                for i in range(n_out):
                    out[j, ir, i] = y[i]
        final[j] = y
    return out, final, bad


@njit(cache=True, parallel=True)
def integrate_mpr_batch(Y0, Pm, inp, dt, rec_every):  # pragma: no cover - compiled
    """Batched RK4 of the MPR model over rows of ``Pm``; records the rate only."""
    n_sets = Pm.shape[0]
    n = Y0.shape[1]
    n_steps = inp.shape[0]
    n_rec = n_steps // rec_every
    out = np.full((n_sets, n_rec), np.nan)
    final = np.empty((n_sets, n))
    bad = np.zeros(n_sets, dtype=np.bool_)
    for j in prange(n_sets):
        y = Y0[j].copy()
        p = Pm[j]
        k1 = np.empty(n)
        k2 = np.empty(n)
        k3 = np.empty(n)
        k4 = np.empty(n)
        tmp = np.empty(n)
        for step in range(n_steps):
            _rk4_step_mpr(y, p, inp[step], dt, k1, k2, k3, k4, tmp)
            if _bad_state(y, 1, 1e-9):
                bad[j] = True
                break
            if (step + 1) % rec_every == 0:
                out[j, (step + 1) // rec_every - 1] = y[0]
        final[j] = y
    return out, final, bad
