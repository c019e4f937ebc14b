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
* :func:`run_current_uniform` — current synapses, parameters constant within each population:
  the whole state lives in per-population decaying frames, so a step advances three scalars
  per population and the per-neuron work is one vectorized threshold test (see there).
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


_CHUNK = 64  # neurons per block of the vectorized threshold pre-check


@njit(cache=True, fastmath=True, error_model="numpy")
def run_current_uniform(
    n_steps, v, s_e, s_i, until, pop_start, pop_of,
    v_rest, p_m, p_e, p_i, c_e, c_i, v_th, v_reset, ref_steps,
    indptr, targets, weights, pre_exc,
    pois_lam, pois_w, seed, rec_idx, v_rec, spike_step, spike_neuron,
):
    """Current synapses, one value of every parameter per population, in decaying frames.

    With ``x = v - v_rest`` the exact solution between spikes is a sum of three decaying
    exponentials shared by the whole population,
    ``x_i(t) = a_i M(t) + b_i E(t) + g_i I(t)`` with ``M = p_m^n``, ``E = p_e^n``,
    ``I = p_i^n`` (scalars per population), ``b_i E = c_e s_e,i`` and ``c_e = tau_e/(tau_e -
    tau_m)`` (``k_e / (p_e - p_m)`` in the discrete propagator).  A time step only advances
    the three scalars; the coefficients change only when a neuron receives a spike
    (``b += c_e w / E``, ``a -= c_e w / M``: ``x`` continuous, ``s_e`` jumps by ``w``), spikes
    (``a`` set so that ``x = v_reset - v_rest``) or is refractory (re-pinned every step).  The
    threshold test reads ``a, b, g`` in blocks of ``_CHUNK`` neurons with a vectorized count
    and scans only blocks that reach threshold.  Exact, like :func:`run_current`; requires
    ``tau_e != tau_m`` and ``tau_i != tau_m`` (the caller falls back otherwise).

    Parameter arrays have one entry per population (``pop_start`` has n_pop + 1 entries,
    ``pop_of`` maps neurons to populations).  ``v``, ``s_e``, ``s_i`` are read on entry and
    written back on return.
    """
    n = v.size
    n_pop = pop_start.size - 1
    use_poisson = _has_poisson(pois_lam)
    if use_poisson:
        np.random.seed(seed)  # noqa: NPY002
    fr_m = np.ones(n_pop)
    fr_e = np.ones(n_pop)
    fr_i = np.ones(n_pop)
    ce_over_e = np.empty(n_pop)  # input increments c/E and c/M of the current frames
    ce_over_m = np.empty(n_pop)
    ci_over_i = np.empty(n_pop)
    ci_over_m = np.empty(n_pop)
    theta = np.empty(n_pop)
    x_reset = np.empty(n_pop)
    a = np.empty(n)
    b = np.zeros(n)
    g = np.zeros(n)
    for p in range(n_pop):
        theta[p] = v_th[p] - v_rest[p]
        x_reset[p] = v_reset[p] - v_rest[p]
        for i in range(pop_start[p], pop_start[p + 1]):
            b[i] = c_e[p] * s_e[i]
            g[i] = c_i[p] * s_i[i]
            a[i] = v[i] - v_rest[p] - b[i] - g[i]
    shared = True
    for p in range(1, n_pop):
        if (p_m[p] != p_m[0] or p_e[p] != p_e[0] or p_i[p] != p_i[0]
                or c_e[p] != c_e[0] or c_i[p] != c_i[0]):
            shared = False
    refractory = np.empty(n, dtype=np.int64)
    n_ref = 0
    for i in range(n):
        if until[i] >= 1:
            refractory[n_ref] = i
            n_ref += 1
    fired = np.empty(n, dtype=np.int64)
    n_sp = 0
    bad = -1
    for step in range(1, n_steps + 1):
        # 1. advance every neuron: only the frames move
        for p in range(n_pop):
            fr_m[p] *= p_m[p]
            fr_e[p] *= p_e[p]
            fr_i[p] *= p_i[p]
            if fr_m[p] < _RENORM or fr_e[p] < _RENORM or fr_i[p] < _RENORM:
                lo = pop_start[p]
                aa = a[lo:pop_start[p + 1]]
                bb = b[lo:pop_start[p + 1]]
                gg = g[lo:pop_start[p + 1]]
                fm = fr_m[p]
                fe = fr_e[p]
                fi = fr_i[p]
                for i in range(aa.size):
                    aa[i] *= fm
                    bb[i] *= fe
                    gg[i] *= fi
                fr_m[p] = 1.0
                fr_e[p] = 1.0
                fr_i[p] = 1.0
            ce_over_e[p] = c_e[p] / fr_e[p]
            ce_over_m[p] = c_e[p] / fr_m[p]
            ci_over_i[p] = c_i[p] / fr_i[p]
            ci_over_m[p] = c_i[p] / fr_m[p]
        # 2. refractory neurons keep v = v_reset (released ones integrate again)
        k = 0
        while k < n_ref:
            j = refractory[k]
            if until[j] < step:
                n_ref -= 1
                refractory[k] = refractory[n_ref]
                continue
            p = pop_of[j]
            a[j] = (x_reset[p] - b[j] * fr_e[p] - g[j] * fr_i[p]) / fr_m[p]
            k += 1
        # 3. threshold: vectorized block maxima, exact scan of blocks that reach theta
        n_fired = 0
        for p in range(n_pop):
            fm = fr_m[p]
            fe = fr_e[p]
            fi = fr_i[p]
            th = theta[p]
            for c0 in range(pop_start[p], pop_start[p + 1], _CHUNK):
                c1 = min(c0 + _CHUNK, pop_start[p + 1])
                aa = a[c0:c1]
                bb = b[c0:c1]
                gg = g[c0:c1]
                hits = 0  # a count (not a max) so that LLVM vectorizes the loop
                for i in range(aa.size):
                    hits += aa[i] * fm + bb[i] * fe + gg[i] * fi > th
                if hits > 0:
                    for i in range(aa.size):
                        if aa[i] * fm + bb[i] * fe + gg[i] * fi > th:
                            fired[n_fired] = c0 + i
                            n_fired += 1
        # 4. delivery: s jumps by w, x stays continuous
        for f in range(n_fired):
            j = fired[f]
            if shared:
                # all populations share the frames: no per-target population lookup
                if pre_exc[j]:
                    up = ce_over_e[0]
                    down = ce_over_m[0]
                    for e in range(indptr[j], indptr[j + 1]):
                        t = targets[e]
                        b[t] += weights[e] * up
                        a[t] -= weights[e] * down
                else:
                    up = ci_over_i[0]
                    down = ci_over_m[0]
                    for e in range(indptr[j], indptr[j + 1]):
                        t = targets[e]
                        g[t] += weights[e] * up
                        a[t] -= weights[e] * down
            elif pre_exc[j]:
                for e in range(indptr[j], indptr[j + 1]):
                    t = targets[e]
                    q = pop_of[t]
                    b[t] += weights[e] * ce_over_e[q]
                    a[t] -= weights[e] * ce_over_m[q]
            else:
                for e in range(indptr[j], indptr[j + 1]):
                    t = targets[e]
                    q = pop_of[t]
                    g[t] += weights[e] * ci_over_i[q]
                    a[t] -= weights[e] * ci_over_m[q]
        if use_poisson:
            for i in range(n):
                if pois_lam[i] > 0.0:
                    w = pois_w[i] * np.random.poisson(pois_lam[i])  # noqa: NPY002
                    q = pop_of[i]
                    b[i] += w * ce_over_e[q]
                    a[i] -= w * ce_over_m[q]
        # 5. reset, refractory bookkeeping, recording
        for f in range(n_fired):
            j = fired[f]
            p = pop_of[j]
            a[j] = (x_reset[p] - b[j] * fr_e[p] - g[j] * fr_i[p]) / fr_m[p]
            # (a neuron already in the list can only "fire" on non-finite state)
            if ref_steps[p] > 0 and until[j] < step:
                refractory[n_ref] = j
                n_ref += 1
            until[j] = step + ref_steps[p]
            if n_sp == spike_step.size:
                spike_step = _grow(spike_step, n_sp)
                spike_neuron = _grow(spike_neuron, n_sp)
            spike_step[n_sp] = step
            spike_neuron[n_sp] = j
            n_sp += 1
        for r in range(rec_idx.size):
            j = rec_idx[r]
            p = pop_of[j]
            v_rec[r, step] = v_rest[p] + a[j] * fr_m[p] + b[j] * fr_e[p] + g[j] * fr_i[p]
        if (step % 256 == 0 or step == n_steps) and _any_nonfinite(a, b, g):
            bad = step
            break
    for p in range(n_pop):
        for i in range(pop_start[p], pop_start[p + 1]):
            v[i] = v_rest[p] + a[i] * fr_m[p] + b[i] * fr_e[p] + g[i] * fr_i[p]
            s_e[i] = b[i] * fr_e[p] / c_e[p]
            s_i[i] = g[i] * fr_i[p] / c_i[p]
    return spike_step, spike_neuron, n_sp, bad


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
