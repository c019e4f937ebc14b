"""Numba single-neuron Izhikevich integrator used to calibrate and check mapped parameters.

Every neuron has its own parameters (arrays of length N), unlike the network kernels where
most parameters are per population.  Forward Euler on

    C dv/dt = k (v - v_r)(v - v_theta) - u + I(t)
    tau_u du/dt = b (v - v_r) - u
    v >= v_peak: v <- v_reset, u <- u + kappa

with I(t) = I_step for t_on <= t < t_off and 0 otherwise.  The spike time is placed by
linear interpolation of v between the two steps around the crossing.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def izhikevich_step_response(C, k, v_r, v_t, b, tau_u, kappa, v_peak, v_reset, i_step,
                             t_on, t_off, t_total, dt, max_spikes,
                             stop_after=0):  # pragma: no cover
    """Simulate N independent neurons under a current step.

    Returns
    -------
    spikes: (N, max_spikes) spike times in ms (NaN padded; spikes beyond max_spikes are
        counted but not stored), counts: (N,), v_min: (N,) minimum v during the step,
        v_end: (N,) v at the end of the step, diverged: (N,) bool (non-finite state).
        ``stop_after > 0`` ends a neuron's simulation after that many spikes.
    """
    n = C.size
    n_steps = int(round(t_total / dt))
    spikes = np.full((n, max_spikes), np.nan)
    counts = np.zeros(n, dtype=np.int64)
    v_min = np.full(n, np.inf)
    v_end = np.full(n, np.nan)
    diverged = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        v = v_r[i]
        u = 0.0
        inv_c = 1.0 / C[i]
        inv_tau = 1.0 / tau_u[i]
        for s in range(n_steps):
            t = s * dt
            cur = i_step[i] if (t >= t_on and t < t_off) else 0.0
            dv = (k[i] * (v - v_r[i]) * (v - v_t[i]) - u + cur) * inv_c
            du = (b[i] * (v - v_r[i]) - u) * inv_tau
            v_new = v + dt * dv
            u = u + dt * du
            if not (np.isfinite(v_new) and np.isfinite(u)):
                diverged[i] = True
                break
            if v_new >= v_peak[i]:
                frac = (v_peak[i] - v) / (v_new - v) if v_new != v else 1.0
                c = counts[i]
                if c < max_spikes:
                    spikes[i, c] = t + frac * dt
                counts[i] = c + 1
                v = v_reset[i]
                u = u + kappa[i]
                if stop_after > 0 and counts[i] >= stop_after:
                    break
            else:
                v = v_new
            if t >= t_on and t < t_off:
                if v < v_min[i]:
                    v_min[i] = v
                v_end[i] = v
    return spikes, counts, v_min, v_end, diverged
