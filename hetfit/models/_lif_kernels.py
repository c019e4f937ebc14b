"""Numba kernels of the LIF network simulator (see :mod:`hetfit.models.lif`).

Every propagator (``exp(-dt/tau)`` and the synaptic-to-membrane coupling terms) is computed
once before the time loop and passed in; the loops only multiply and add.

Step ``s`` (1-based) advances the state from ``(s-1) dt`` to ``s dt``, in Brian2's order:

1. state update with the values at the start of the step; a neuron with ``until[i] >= s``
   is refractory and keeps ``v``; synaptic variables always decay;
2. threshold ``v > v_th`` (a refractory neuron sits at ``v_reset < v_th``);
3. spike delivery (no delay): a spike of ``j`` adds its edge weights to the excitatory or
   inhibitory synaptic variable of its targets; external Poisson input is added to the
   excitatory variable at the same point;
4. reset ``v <- v_reset`` and ``until[j] = s + ref_steps[j]`` (v held for ``t_ref``).

Three kernels share this order:

* :func:`run_current` — current synapses, per-neuron parameters (heterogeneous).
* :func:`run_current_uniform` — current synapses, parameters constant within each population.
  Synaptic variables are kept in a per-population decaying frame, ``s_i(t) = S_i F_p(t)``
  with the scalar ``F_p(t) = exp(-t/tau_s,p)``: the per-neuron decay then costs nothing and
  inputs are added as ``w / F_p(t)`` (the frame is renormalized long before under/overflow).
* :func:`run_conductance` — conductance synapses, per-neuron parameters.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_RENORM = 1e-100  # renormalize the decaying frame when it falls below this


@njit(cache=True)
def _grow(buf: np.ndarray, n_used: int) -> np.ndarray:
    out = np.empty(max(2 * buf.size, 1024), dtype=buf.dtype)
    out[:n_used] = buf[:n_used]
    return out


@njit(cache=True)
def _has_poisson(pois_lam):
    for i in range(pois_lam.size):
        if pois_lam[i] > 0.0:
            return True
    return False


@njit(cache=True)
def _nonfinite_bits(x):
    """Whether any float64 in ``x`` is inf/NaN, from its exponent bits.

    An integer test, because the kernels are compiled with fastmath, under which LLVM may
    fold floating-point ``isfinite`` checks to constants (and numba may compile callees with
    the caller's flags).
    """
    bits = x.view(np.int64)
    for i in range(bits.size):
        if (bits[i] >> 52) & 0x7FF == 0x7FF:
            return True
    return False


@njit(cache=True)
def _any_nonfinite(v, s_e, s_i):
    return _nonfinite_bits(v) or _nonfinite_bits(s_e) or _nonfinite_bits(s_i)


@njit(cache=True, fastmath=True, error_model="numpy")
def run_current(
    n_steps, v, s_e, s_i, until,
    v_rest, p_m, p_e, p_i, k_e, k_i, v_th, v_reset, ref_steps,
    indptr, targets, weights, pre_exc,
    pois_lam, pois_w, seed, rec_idx, v_rec, spike_step, spike_neuron,
):
    """Current synapses, per-neuron propagators (exact between spikes)::

        v <- v_rest + (v - v_rest) p_m + s_e k_e + s_i k_i ;  s <- s p_s

    Returns (spike_step, spike_neuron, n_spikes, bad_step) where the buffers may have been
    regrown and ``bad_step`` is the first step with a non-finite ``v`` (-1 if none).
    """
    n = v.size
    use_poisson = _has_poisson(pois_lam)
    if use_poisson:
        # numba's own generator (per thread), seeded for every run: reproducible, and much
        # faster to compile than passing a numpy Generator
        np.random.seed(seed)  # noqa: NPY002
    fired = np.empty(n, dtype=np.int64)
    n_sp = 0
    for step in range(1, n_steps + 1):
        for i in range(n):
            se = s_e[i]
            si = s_i[i]
            vn = v_rest[i] + (v[i] - v_rest[i]) * p_m[i] + se * k_e[i] + si * k_i[i]
            v[i] = vn if until[i] < step else v[i]
            s_e[i] = se * p_e[i]
            s_i[i] = si * p_i[i]
        n_fired = 0
        for i in range(n):
            if v[i] > v_th[i]:
                fired[n_fired] = i
                n_fired += 1
        for f in range(n_fired):
            j = fired[f]
            if pre_exc[j]:
                for e in range(indptr[j], indptr[j + 1]):
                    s_e[targets[e]] += weights[e]
            else:
                for e in range(indptr[j], indptr[j + 1]):
                    s_i[targets[e]] += weights[e]
            if n_sp == spike_step.size:
                spike_step = _grow(spike_step, n_sp)
                spike_neuron = _grow(spike_neuron, n_sp)
            spike_step[n_sp] = step
            spike_neuron[n_sp] = j
            n_sp += 1
            v[j] = v_reset[j]
            until[j] = step + ref_steps[j]
        if use_poisson:
            for i in range(n):
                if pois_lam[i] > 0.0:
                    s_e[i] += pois_w[i] * np.random.poisson(pois_lam[i])  # noqa: NPY002
        for r in range(rec_idx.size):
            v_rec[r, step] = v[rec_idx[r]]
        if (step % 256 == 0 or step == n_steps) and _any_nonfinite(v, s_e, s_i):
            return spike_step, spike_neuron, n_sp, step
    return spike_step, spike_neuron, n_sp, -1


@njit(cache=True, fastmath=True, error_model="numpy")
def run_current_uniform(
    n_steps, v, s_e, s_i, until, pop_start, pop_of,
    v_rest, p_m, p_e, p_i, k_e, k_i, v_th, v_reset, ref_steps,
    indptr, targets, weights, pre_exc,
    pois_lam, pois_w, seed, rec_idx, v_rec, spike_step, spike_neuron,
):
    """Current synapses with one value of every parameter per population.

    Parameter arrays have one entry per population (``pop_start`` has n_pop + 1 entries,
    ``pop_of`` maps neurons to populations).  ``s_e``/``s_i`` hold the frame-scaled variables
    ``S`` on entry and on return (the frame is folded back before returning).
    """
    n = v.size
    n_pop = pop_start.size - 1
    use_poisson = _has_poisson(pois_lam)
    if use_poisson:
        # numba's own generator (per thread), seeded for every run: reproducible, and much
        # faster to compile than passing a numpy Generator
        np.random.seed(seed)  # noqa: NPY002
    fired = np.empty(n, dtype=np.int64)
    frame_e = np.ones(n_pop)
    frame_i = np.ones(n_pop)
    inv_e = np.ones(n_pop)
    inv_i = np.ones(n_pop)
    shared_frame = True
    for p in range(1, n_pop):
        if p_e[p] != p_e[0] or p_i[p] != p_i[0]:
            shared_frame = False
    n_sp = 0
    for step in range(1, n_steps + 1):
        n_fired = 0
        for p in range(n_pop):
            lo = pop_start[p]
            # slices give 0-based loops: no negative-index wraparound, so the loop vectorizes
            vv = v[lo:pop_start[p + 1]]
            se = s_e[lo:pop_start[p + 1]]
            si = s_i[lo:pop_start[p + 1]]
            uu = until[lo:pop_start[p + 1]]
            vr = v_rest[p]
            pm = p_m[p]
            ae = k_e[p] * frame_e[p]
            ai = k_i[p] * frame_i[p]
            for i in range(vv.size):
                vn = vr + (vv[i] - vr) * pm + se[i] * ae + si[i] * ai
                vv[i] = vn if uu[i] < step else vv[i]
            frame_e[p] *= p_e[p]
            frame_i[p] *= p_i[p]
            if frame_e[p] < _RENORM or frame_i[p] < _RENORM:
                fe = frame_e[p]
                fi = frame_i[p]
                for i in range(se.size):
                    se[i] *= fe
                    si[i] *= fi
                frame_e[p] = 1.0
                frame_i[p] = 1.0
            inv_e[p] = 1.0 / frame_e[p]
            inv_i[p] = 1.0 / frame_i[p]
            th = v_th[p]
            for i in range(vv.size):
                if vv[i] > th:
                    fired[n_fired] = lo + i
                    n_fired += 1
        for f in range(n_fired):
            j = fired[f]
            if shared_frame:
                # one frame for all targets: no per-edge population lookup
                if pre_exc[j]:
                    scale = inv_e[0]
                    for e in range(indptr[j], indptr[j + 1]):
                        s_e[targets[e]] += weights[e] * scale
                else:
                    scale = inv_i[0]
                    for e in range(indptr[j], indptr[j + 1]):
                        s_i[targets[e]] += weights[e] * scale
            elif pre_exc[j]:
                for e in range(indptr[j], indptr[j + 1]):
                    t = targets[e]
                    s_e[t] += weights[e] * inv_e[pop_of[t]]
            else:
                for e in range(indptr[j], indptr[j + 1]):
                    t = targets[e]
                    s_i[t] += weights[e] * inv_i[pop_of[t]]
            if n_sp == spike_step.size:
                spike_step = _grow(spike_step, n_sp)
                spike_neuron = _grow(spike_neuron, n_sp)
            spike_step[n_sp] = step
            spike_neuron[n_sp] = j
            n_sp += 1
            p = pop_of[j]
            v[j] = v_reset[p]
            until[j] = step + ref_steps[p]
        if use_poisson:
            for i in range(n):
                if pois_lam[i] > 0.0:
                    s_e[i] += pois_w[i] * np.random.poisson(pois_lam[i])  # noqa: NPY002 * inv_e[pop_of[i]]
        for r in range(rec_idx.size):
            v_rec[r, step] = v[rec_idx[r]]
        if (step % 256 == 0 or step == n_steps) and _any_nonfinite(v, s_e, s_i):
            _fold(s_e, s_i, pop_start, frame_e, frame_i)
            return spike_step, spike_neuron, n_sp, step
    _fold(s_e, s_i, pop_start, frame_e, frame_i)
    return spike_step, spike_neuron, n_sp, -1


@njit(cache=True)
def _fold(s_e, s_i, pop_start, frame_e, frame_i):
    for p in range(pop_start.size - 1):
        for i in range(pop_start[p], pop_start[p + 1]):
            s_e[i] *= frame_e[p]
            s_i[i] *= frame_i[p]


@njit(cache=True, fastmath=True, error_model="numpy")
def run_conductance(
    n_steps, v, s_e, s_i, until,
    v_rest, p_m, p_e, p_i, k_e, k_i, dt_over_tau_m, e_e, e_i, v_th, v_reset, ref_steps,
    indptr, targets, weights, pre_exc,
    pois_lam, pois_w, seed, rec_idx, v_rec, spike_step, spike_neuron,
):
    """Conductance synapses (conductances relative to the leak, dimensionless).

    Conductances decay exactly (``s <- s p_s``); ``v`` relaxes exactly towards
    ``(v_rest + G_e E_e + G_i E_i)/(1 + G_e + G_i)`` at rate ``(1 + G_e + G_i)/tau_m`` with the
    step-averaged conductances ``G = s k`` (``k = tau_s (1 - p_s)/dt``).
    """
    n = v.size
    use_poisson = _has_poisson(pois_lam)
    if use_poisson:
        # numba's own generator (per thread), seeded for every run: reproducible, and much
        # faster to compile than passing a numpy Generator
        np.random.seed(seed)  # noqa: NPY002
    fired = np.empty(n, dtype=np.int64)
    n_sp = 0
    for step in range(1, n_steps + 1):
        for i in range(n):
            ge = s_e[i]
            gi = s_i[i]
            gbar_e = ge * k_e[i]
            gbar_i = gi * k_i[i]
            tot = 1.0 + gbar_e + gbar_i
            target = (v_rest[i] + gbar_e * e_e + gbar_i * e_i) / tot
            vn = target + (v[i] - target) * (p_m[i] * math.exp(-dt_over_tau_m[i] * (tot - 1.0)))
            v[i] = vn if until[i] < step else v[i]
            s_e[i] = ge * p_e[i]
            s_i[i] = gi * p_i[i]
        n_fired = 0
        for i in range(n):
            if v[i] > v_th[i]:
                fired[n_fired] = i
                n_fired += 1
        for f in range(n_fired):
            j = fired[f]
            if pre_exc[j]:
                for e in range(indptr[j], indptr[j + 1]):
                    s_e[targets[e]] += weights[e]
            else:
                for e in range(indptr[j], indptr[j + 1]):
                    s_i[targets[e]] += weights[e]
            if n_sp == spike_step.size:
                spike_step = _grow(spike_step, n_sp)
                spike_neuron = _grow(spike_neuron, n_sp)
            spike_step[n_sp] = step
            spike_neuron[n_sp] = j
            n_sp += 1
            v[j] = v_reset[j]
            until[j] = step + ref_steps[j]
        if use_poisson:
            for i in range(n):
                if pois_lam[i] > 0.0:
                    s_e[i] += pois_w[i] * np.random.poisson(pois_lam[i])  # noqa: NPY002
        for r in range(rec_idx.size):
            v_rec[r, step] = v[rec_idx[r]]
        if (step % 256 == 0 or step == n_steps) and _any_nonfinite(v, s_e, s_i):
            return spike_step, spike_neuron, n_sp, step
    return spike_step, spike_neuron, n_sp, -1
