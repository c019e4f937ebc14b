"""Single-neuron Izhikevich reference for tests: ``scipy.integrate.solve_ivp`` (DOP853, tight
tolerances) with a terminal event at ``v = v_peak`` and the reset ``v <- v_reset``,
``u <- u + kappa`` (units: C pF, k nS/mV, v mV, b nS, tau_u ms, kappa and I pA, t ms)."""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp


def reference_spike_times(C, k, v_r, v_theta, b, tau_u, kappa, *, I, T, v_peak, v_reset,
                          v0=None, u0=0.0, rtol=1e-10, atol=1e-8,
                          max_step=math.inf) -> np.ndarray:
    """Spike times (ms) of one neuron in [0, T) from v(0) = v0 (default v_r), u(0) = u0."""

    def rhs(t, y):
        v, u = y
        return [(k * (v - v_r) * (v - v_theta) - u + I) / C, (b * (v - v_r) - u) / tau_u]

    def at_peak(t, y):
        return y[0] - v_peak

    at_peak.terminal = True
    at_peak.direction = 1
    t, y, out = 0.0, [v_r if v0 is None else v0, u0], []
    while t < T:
        sol = solve_ivp(rhs, (t, T), y, method="DOP853", rtol=rtol, atol=atol,
                        max_step=max_step, events=at_peak)
        if sol.status != 1:  # reached T without another spike
            break
        t = float(sol.t_events[0][0])
        out.append(t)
        y = [v_reset, float(sol.y_events[0][0][1]) + kappa]
    return np.array(out)


def reference_count(*args, **kwargs) -> int:
    """Number of spikes of :func:`reference_spike_times`."""
    return int(reference_spike_times(*args, **kwargs).size)
