"""Numba kernels for heterogeneous Izhikevich networks.

The public model and its documentation live in :mod:`hetfit.models.izhikevich`; this module
only holds the compiled inner loops.  One parameter set ("set") is simulated by
:func:`run_set`; :func:`run_batch` runs many sets in parallel with ``numba.prange`` (one set
per task, so every core stays busy and a set's result does not depend on the worker count).

State per neuron: membrane potential ``v`` (mV) and recovery current ``u`` (pA).  With
``b(v - v_r)`` frozen over a step, ``u`` is advanced exactly (``u <- u e^{-dt/tau_u} +
b (v - v_r)(1 - e^{-dt/tau_u})``); ``v`` is advanced by forward Euler.  Synaptic gates decay
exactly between spikes.

Two spike methods
-----------------
``METHOD_EULER``
    Plain Euler: a spike is emitted at ``t_{n+1}`` when ``v(t_{n+1}) >= v_peak``; then
    ``v <- v_reset + theta (v_peak - v_reset)`` and ``u <- u + kappa``.  This is what Brian2
    does with ``method='euler'``; it needs small ``dt`` when ``|v_peak|`` is large.
``METHOD_EXACT``
    Quadratic neurons blow up in finite time, so Euler is inaccurate exactly where ``v`` is
    large.  Once ``v`` passes a cut-off ``v_cut`` (chosen from ``dt`` so that Euler is accurate
    below it), the neuron is taken out of the Euler loop ("parked", stored as NaN) and its
    excursion is solved in closed form with the other currents frozen at their current
    values: ``C dv/dt = k v^2 + B v + A`` is a Riccati equation with constant coefficients, so
    the time to reach ``v_peak`` (the spike time), the partial reset, the time to climb back
    from ``v_reset`` to the lower cut-off ``v_low`` and the value of ``v`` at the first grid
    point afterwards are all explicit (``atan``/``atanh`` in ``z = 2 k v + B``).  ``u`` is
    advanced over the excursion with the exact integral of ``v`` along that trajectory.
    Spikes are therefore placed with sub-step precision, delivered to the synapses at the
    step they fall in (with the exact synaptic decay from the spike to the step end), and
    the neuron re-enters the Euler loop through a ring-buffer calendar.  Transcendental
    functions are evaluated once per spike, never per neuron and step, so the hot loop stays
    a branch-free, SIMD-friendly update.

Noise
-----
Gaussian current noise is integrated by Euler–Maruyama.  Increments come from a
counter-based generator (SplitMix64 hash of ``(set key, step, neuron pair)``), so every draw
is reproducible whatever the number of threads, and each 64-bit hash gives two
variance-matched sums of four byte-uniforms (Irwin–Hall(4): exact mean and variance,
kurtosis 2.7, 1021 levels).  Euler–Maruyama has weak order one for any increment law with
the right mean and variance, and the noise accumulated over steps is Gaussian to high
accuracy (validated against the white-noise QIF firing rate in the tests); this costs
~0.4-0.6 ns per sample and vectorizes, several times less than exact normal deviates.

Layout and speed
----------------
Per-neuron constants are folded once (``B0 = -k (v_r + v_theta_i)``, ``A0 = k v_r v_theta_i
+ eta_i``), so the Euler pass is ``v += dt/C ((k v + B0 - g S) v + A0 + g SE + I - u)`` with
population scalars ``S = sum_q s_pq`` and ``SE = sum_q s_pq E_q``: a few FMAs per neuron,
contiguous float64 arrays, selects instead of branches, unsigned indices (no wrap-around
checks) so LLVM emits AVX-512 code.  Spikes are found by scanning the flag bytes eight at a
time.  The event pool of sparse deliveries has a fixed size: growing arrays inside the loop
made numba slow the whole kernel down.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# No 'nnan'/'ninf': parked neurons are NaN by design and comparisons with NaN must stay false.
_FASTMATH = {"contract", "arcp", "reassoc", "afn", "nsz"}
_JIT = {"cache": True, "fastmath": _FASTMATH, "nogil": True, "error_model": "numpy"}

METHOD_EULER = 0
METHOD_EXACT = 1

STATUS_OK = 0
STATUS_DIVERGED = 1  # non-finite state
STATUS_RUNAWAY = 2  # a neuron fired more than MAX_SPIKES_PER_EXCURSION times without returning

MAX_SPIKES_PER_EXCURSION = 64

# info[] slots returned per set
INFO_N_SPIKES = 0  # spikes emitted before t_max (recorded or not)
INFO_STATUS = 1
INFO_FAIL_STEP = 2  # step at which the set stopped (n_steps when it finished)
INFO_N_EXCURSIONS = 3
INFO_N_FALLBACK = 4
INFO_N_EARLY = 5  # sparse deliveries made early because the event pool was full
INFO_SIZE = 6

_EXC_OK = 0
_EXC_FALLBACK = 1
_EXC_RUNAWAY = 2
_EXC_NONFINITE = 3


# ---------------------------------------------------------------------------------------
# Closed-form pieces of C dv/dt = k v^2 + B v + A, written in z = 2 k v + B so that
# C dv/dt = (z^2 + D) / (4 k) with D = 4 k A - B^2, and dt = 2 C dz / (z^2 + D).
# ---------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _phi(x):
    """atan(sqrt x)/sqrt x for x > 0, atanh(sqrt -x)/sqrt -x for -1 < x < 0 (1 at 0)."""
    if abs(x) < 1e-6:
        return 1.0 - x / 3.0 + x * x / 5.0
    if x > 0.0:
        r = math.sqrt(x)
        return math.atan(r) / r
    r = math.sqrt(-x)
    if r >= 1.0:
        return math.inf
    return math.atanh(r) / r


@nb.njit(**_JIT)
def _psi(y):
    """tan(sqrt y)/sqrt y for y > 0, tanh(sqrt -y)/sqrt -y for y < 0 (1 at 0)."""
    if abs(y) < 1e-6:
        return 1.0 + y / 3.0 + 2.0 * y * y / 15.0
    if y > 0.0:
        r = math.sqrt(y)
        return math.tan(r) / r
    r = math.sqrt(-y)
    return math.tanh(r) / r


@nb.njit(**_JIT)
def g_tail(z, D):
    """``int_z^inf dz'/(z'^2 + D)`` for z > 0 beyond the upper root (stable for D -> 0)."""
    return _phi(D / (z * z)) / z


@nb.njit(**_JIT)
def g_tail_inv(g, D):
    """The z > 0 with ``g_tail(z, D) == g``."""
    return 1.0 / (g * _psi(D * g * g))


@nb.njit(**_JIT)
def propagate(z, tau, D, C, z_peak):
    """Advance ``dz/dt = (z^2 + D)/(2 C)`` by ``tau`` ms, stopping at ``z_peak``.

    Returns ``(reached_peak, z_end, t_peak)``; ``t_peak`` is the time (from the start) at
    which ``z_peak`` was reached, valid only when ``reached_peak``.
    """
    t_off = 0.0
    if D > 0.0 and z < 0.0:
        s = math.sqrt(D)
        t0 = 2.0 * C * math.atan(-z / s) / s  # time to reach z = 0
        if tau < t0:
            g = g_tail(-z, D) + tau / (2.0 * C)
            return False, -g_tail_inv(g, D), 0.0
        tau -= t0
        t_off = t0
        z = 0.0
    if D <= 0.0:
        w = math.sqrt(-D)
        if z <= w:
            if z < -w:  # below the lower root: rises towards it, never crosses
                g = g_tail(-z, D) + tau / (2.0 * C)
                return False, -g_tail_inv(g, D), 0.0
            if w == 0.0:  # D == 0 and z == 0: fixed point
                return False, z, 0.0
            zr = z / w  # between the roots: decays towards the lower one
            if zr >= 1.0:
                return False, z, 0.0
            return False, w * math.tanh(math.atanh(zr) - w * tau / (2.0 * C)), 0.0
    # upper branch: z >= 0 and above the upper root (or D > 0)
    if z == 0.0:
        g0 = 0.5 * math.pi / math.sqrt(D)
    else:
        g0 = g_tail(z, D)
    tp = 2.0 * C * (g0 - g_tail(z_peak, D))
    if z >= z_peak or tau >= tp:
        return True, z_peak, t_off + max(tp, 0.0)
    return False, g_tail_inv(g0 - tau / (2.0 * C), D), 0.0


@nb.njit(**_JIT)
def _v_integral(za, zb, D, T, C, k, B):
    """``int v dt`` (mV ms) along the exact trajectory from z_a to z_b taking ``T`` ms."""
    num = zb * zb + D
    den = za * za + D
    if num > 0.0 and den > 0.0 or num < 0.0 and den < 0.0:
        return C / (2.0 * k) * math.log(num / den) - B / (2.0 * k) * T
    # only reached when a trajectory sits exactly on a root: v is constant there
    return ((za + zb) * 0.5 - B) / (2.0 * k) * T


@nb.njit(**_JIT)
def excursion(v0, u0, t0, n, dt, R, k, C, B, A_nou, kappa, tau_u, b, v_r,
              z_peak, z_res, z_cut, z_low, sp_t):
    """Solve one supra-threshold excursion in closed form (frozen input currents).

    Starts at grid time ``t0 = n dt`` with ``v0 >= v_cut``.  Writes the spike times into
    ``sp_t`` and returns ``(code, n_spikes, m_return, v_return, u_return)``: the neuron
    re-enters the Euler loop at grid step ``m_return`` (``n < m_return < n + R``) with the
    given state.  ``code`` is ``_EXC_FALLBACK`` when ``v`` is not rising at ``v0`` (no
    excursion: keep integrating with Euler) and ``_EXC_RUNAWAY`` after too many spikes.
    """
    if not (math.isfinite(v0) and math.isfinite(u0) and math.isfinite(B)
            and math.isfinite(A_nou)):
        return _EXC_NONFINITE, 0, 0, 0.0, 0.0
    z = 2.0 * k * v0 + B
    A = A_nou - u0
    t = t0
    nsp = 0
    intv = 0.0
    t_cap = (n + R - 1) * dt
    m = n + 1
    while True:
        D = 4.0 * k * A - B * B
        t_target = t
        if z >= z_cut:
            if z <= 0.0 or z * z + D <= 0.0:
                if nsp == 0:
                    return _EXC_FALLBACK, 0, 0, 0.0, 0.0
            else:
                T = 2.0 * C * (g_tail(z, D) - g_tail(z_peak, D))
                if T < 0.0 or z >= z_peak:
                    T = 0.0
                if t + T <= t_cap:
                    intv += _v_integral(z, z_peak, D, T, C, k, B)
                    t += T
                    if nsp >= MAX_SPIKES_PER_EXCURSION:
                        return _EXC_RUNAWAY, nsp, 0, 0.0, 0.0
                    sp_t[nsp] = t
                    nsp += 1
                    A -= kappa
                    z = z_res
                    continue
                t_target = t_cap  # very slow upswing: return part-way, re-detected later
        elif z < z_low and z < 0.0 and z * z + D > 0.0:
            if z_low < 0.0 and z_low * z_low + D > 0.0:
                t_target = t + 2.0 * C * (g_tail(-z_low, D) - g_tail(-z, D))
            else:  # v_low lies beyond a stable root: relax towards it for 3 time constants
                t_target = t + 6.0 * C / math.sqrt(max(-D, 1e-300))
        m = int(math.ceil(t_target / dt - 1e-9))
        if m < n + 1:
            m = n + 1
        if m > n + R - 1:
            m = n + R - 1
        tau = m * dt - t
        if tau < 0.0:
            tau = 0.0
        hit, z_end, t_hit = propagate(z, tau, D, C, z_peak)
        if hit:
            intv += _v_integral(z, z_peak, D, t_hit, C, k, B)
            t += t_hit
            if nsp >= MAX_SPIKES_PER_EXCURSION:
                return _EXC_RUNAWAY, nsp, 0, 0.0, 0.0
            sp_t[nsp] = t
            nsp += 1
            A -= kappa
            z = z_res
            continue
        intv += _v_integral(z, z_end, D, tau, C, k, B)
        break
    t_end = m * dt
    span = t_end - t0
    v_ret = (z_end - B) / (2.0 * k)
    u_ret = u0 * math.exp(-span / tau_u)
    for j in range(nsp):
        u_ret += kappa * math.exp(-(t_end - sp_t[j]) / tau_u)
    u_ret += b / tau_u * (intv - v_r * span) * math.exp(-0.5 * span / tau_u)
    return _EXC_OK, nsp, m, v_ret, u_ret


# ---------------------------------------------------------------------------------------
# Noise: counter-based SplitMix64 -> variance-matched Irwin-Hall(4)
# ---------------------------------------------------------------------------------------
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_LO32 = np.uint64(0xFFFFFFFF)
_B0 = np.uint64(0x00FF00FF00FF00FF)
_W0 = np.uint64(0x0000FFFF0000FFFF)
_S8 = np.uint64(8)
_S16 = np.uint64(16)
_S32 = np.uint64(32)
# sum of four bytes (each + 0.5) has mean 512 and variance 4 * 256^2 / 12
_IH_SCALE = math.sqrt(3.0) / 256.0
_IH_SHIFT = 512.0 - 2.0


@nb.njit(**_JIT)
def _splitmix(x):
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


@nb.njit(**_JIT)
def noise_key_for_step(key, step):
    """64-bit key of one time step: SplitMix64 of (set key, step)."""
    return _splitmix(key + np.uint64(step) * _GAMMA)


@nb.njit(**_JIT)
def fill_noise(xi, lo, hi, step_key, scale):
    """``xi[lo:hi] = scale * eps``, eps zero-mean, unit variance, Irwin–Hall(4) shaped.

    Counter-based (reproducible for any thread count or population split): one SplitMix64
    hash of ``(step_key, pair index)`` gives the samples of neurons ``2m`` and ``2m + 1``, each
    the variance-matched sum of the four bytes of one 32-bit half (1021 levels, kurtosis
    2.7).  Byte sums use SWAR arithmetic, so there are two int-to-float conversions per hash.
    """
    for m in range((lo + 1) // 2, hi // 2):  # whole pairs: branch-free, vectorizes
        e0, e1 = _pair(step_key, m)
        i = np.uint64(2 * m)
        xi[i] = scale * e0
        xi[i + np.uint64(1)] = scale * e1
    if lo % 2 == 1 and lo < hi:  # odd first neuron: second half of its pair
        xi[lo] = scale * _pair(step_key, lo // 2)[1]
    if hi % 2 == 1 and hi - 1 >= lo and (hi - 1 != lo or lo % 2 == 0):
        xi[hi - 1] = scale * _pair(step_key, (hi - 1) // 2)[0]


@nb.njit(**_JIT)
def _pair(step_key, m):
    x = _splitmix(step_key + np.uint64(m) * _GAMMA)
    y = (x & _B0) + ((x >> _S8) & _B0)  # four 16-bit sums of byte pairs
    z = (y & _W0) + ((y >> _S16) & _W0)  # two 32-bit sums of four bytes
    return ((float(z & _LO32) - _IH_SHIFT) * _IH_SCALE,
            (float(z >> _S32) - _IH_SHIFT) * _IH_SCALE)


# ---------------------------------------------------------------------------------------
# Slot layout across the numba boundary.  Python (hetfit.models.izhikevich.compile_set)
# fills these arrays in one place; the kernels read them by these names only.
# ---------------------------------------------------------------------------------------
# per-neuron parameters: rows of PN, shape (PN_SIZE, N) [(sets, PN_SIZE, N) batched]
P_B0 = 0  # -k (v_r + v_theta) (nS)
P_A0 = 1  # k v_r v_theta + eta (pA)
P_G = 2  # conductance scale g (nS)
P_VRES = 3  # reset potential v_reset + theta (v_peak - v_reset) (mV)
P_V0 = 4  # initial v (mV)
P_U0 = 5  # initial u (pA)
P_K = 6  # k (nS/mV)
P_C = 7  # C (pF)
P_VR = 8  # v_r (mV)
P_B = 9  # b (nS)
P_TAU_U = 10  # tau_u (ms)
P_KAPPA = 11  # kappa (pA)
P_VCUT = 12  # exact method: upper cut-off v_cut (mV)
P_VLOW = 13  # exact method: re-entry level v_low (mV)
PN_SIZE = 14

# per-population scalars: rows of PP, shape (PP_SIZE, P) [(sets, PP_SIZE, P) batched].
# Q_K ... Q_VLOW hold the population's value when Q_HET == 0 (all its neurons share C, k,
# v_r, b, tau_u, kappa and hence v_cut, v_low); the Euler pass then keeps them in registers
# instead of streaming seven more per-neuron arrays.
Q_K = 0
Q_C = 1
Q_VR = 2
Q_B = 3
Q_TAU_U = 4
Q_KAPPA = 5
Q_VCUT = 6
Q_VLOW = 7
Q_HET = 8  # 1.0 when any of the above varies across the population's neurons
Q_VPEAK = 9  # v_peak (mV)
Q_ESYN = 10  # reversal potential of the synapses the population makes (mV)
Q_TAU_S = 11  # decay time of those synapses (ms)
Q_SIGMA = 12  # noise intensity (pA ms^1/2)
Q_IOFF = 13  # constant current added to the input waveform (pA; batched I_offset)
PP_SIZE = 14

# run controls: int64 array of CTL_SIZE
CTL_METHOD = 0
CTL_SPARSE = 1
CTL_N_STEPS = 2
CTL_BIN_STEPS = 3
CTL_RING = 4  # calendar slots R
CTL_RECORD_V = 5
CTL_SIZE = 6

# per-neuron values derived inside the kernel (rows of a work array)
_D_DTC = 0  # dt / C (ms/pF)
_D_EU = 1  # exp(-dt / tau_u)
_D_CU = 2  # b (1 - exp(-dt / tau_u)) (nS)
_D_SIZE = 3


# ---------------------------------------------------------------------------------------
# Hot loops (one population, one step).  Branch-free so that LLVM vectorizes them.
# ---------------------------------------------------------------------------------------
def _make_pass(exact: bool, sparse: bool, noisy: bool, het: bool):
    """Build the Euler pass over neurons ``lo:hi`` of one population for fixed flags.

    ``exact``: flag neurons at ``v >= v_cut`` and leave them untouched (their excursion is
    solved afterwards); otherwise plain Euler with spike at ``v >= v_peak`` and reset.
    ``sparse``: per-neuron gates ``Si, SEi`` instead of the population's ``S, SE``.
    ``noisy``: add the noise increments ``xi``.  ``het``: read k, dt/C, decay factors, v_r,
    v_cut and kappa per neuron instead of the population scalars in ``sc``.

    The flags are closure constants, so numba prunes the untaken branches and every variant
    touches only the arrays it needs (LLVM's alias checks stay cheap enough to vectorize).
    ``cache=True`` works for these closures: numba keys the cache on the bytecode plus the
    pickled cell contents, so each flag combination gets its own cache entry.
    """

    def euler_pass(V, U, F, nrn, lo, hi, S, SE, I, sc):
        B0, A0, G, VRES, Si, SEi, xi, Kn, DTCn, EUn, CUn, VRn, VCUTn, KAPPAn = nrn
        k, dtC, eu, cu, vr, vcut, vpeak, kappa = sc
        nf = 0
        for j in range(hi - lo):
            i = np.uint64(lo + j)  # unsigned index: no wrap-around branch, so LLVM vectorizes
            v = V[i]
            u = U[i]
            g = G[i]
            k_ = Kn[i] if het else k
            dtC_ = DTCn[i] if het else dtC
            eu_ = EUn[i] if het else eu
            cu_ = CUn[i] if het else cu
            vr_ = VRn[i] if het else vr
            s_ = Si[i] if sparse else S
            se_ = SEi[i] if sparse else SE
            drive = (k_ * v + B0[i] - g * s_) * v + A0[i] + g * se_ + I - u
            if noisy:
                if het:  # xi is a current here (pA), scaled by each neuron's dt/C
                    vn = v + dtC_ * (drive + xi[i])
                else:  # xi is already a voltage increment (mV)
                    vn = v + dtC_ * drive + xi[i]
            else:
                vn = v + dtC_ * drive
            un = u * eu_ + cu_ * (v - vr_)
            if exact:
                f = v >= (VCUTn[i] if het else vcut)
                V[i] = v if f else vn
                U[i] = u if f else un
            else:
                f = vn >= vpeak
                V[i] = VRES[i] if f else vn
                U[i] = un + (KAPPAn[i] if het else kappa) if f else un
            F[i] = f
            nf += f
        return nf

    return nb.njit(**_JIT)(euler_pass)


# 16 variants: exact/Euler x sparse/all-to-all x noise/none x per-neuron/population scalars
_PASS_XSNH = _make_pass(True, True, True, True)
_PASS_XSN0 = _make_pass(True, True, True, False)
_PASS_XS0H = _make_pass(True, True, False, True)
_PASS_XS00 = _make_pass(True, True, False, False)
_PASS_X0NH = _make_pass(True, False, True, True)
_PASS_X0N0 = _make_pass(True, False, True, False)
_PASS_X00H = _make_pass(True, False, False, True)
_PASS_X000 = _make_pass(True, False, False, False)
_PASS_ESNH = _make_pass(False, True, True, True)
_PASS_ESN0 = _make_pass(False, True, True, False)
_PASS_ES0H = _make_pass(False, True, False, True)
_PASS_ES00 = _make_pass(False, True, False, False)
_PASS_E0NH = _make_pass(False, False, True, True)
_PASS_E0N0 = _make_pass(False, False, True, False)
_PASS_E00H = _make_pass(False, False, False, True)
_PASS_E000 = _make_pass(False, False, False, False)


@nb.njit(**_JIT)
def _euler_pass(exact, sparse, noisy, het, V, U, F, nrn, lo, hi, S, SE, I, sc):
    """Run the pass variant for these flags (a numba function cannot index a table of them)."""
    a = (V, U, F, nrn, lo, hi, S, SE, I, sc)
    if exact:
        if sparse:
            if noisy:
                return _PASS_XSNH(*a) if het else _PASS_XSN0(*a)
            return _PASS_XS0H(*a) if het else _PASS_XS00(*a)
        if noisy:
            return _PASS_X0NH(*a) if het else _PASS_X0N0(*a)
        return _PASS_X00H(*a) if het else _PASS_X000(*a)
    if sparse:
        if noisy:
            return _PASS_ESNH(*a) if het else _PASS_ESN0(*a)
        return _PASS_ES0H(*a) if het else _PASS_ES00(*a)
    if noisy:
        return _PASS_E0NH(*a) if het else _PASS_E0N0(*a)
    return _PASS_E00H(*a) if het else _PASS_E000(*a)


@nb.njit(**_JIT)
def _mean_v(V, lo, hi, v_lo, v_hi):
    """Mean of V over neurons with v_lo <= v <= v_hi (parked neurons, NaN, are excluded)."""
    acc = 0.0
    cnt = 0
    for j in range(hi - lo):
        v = V[np.uint64(lo + j)]
        ok = (v >= v_lo) & (v <= v_hi)
        acc += v if ok else 0.0
        cnt += ok
    return acc / cnt if cnt > 0 else math.nan


@nb.njit(**_JIT)
def _count_nonfinite(X, Y, N):
    """Number of i with X[i] or Y[i] non-finite (branch-free, vectorizes)."""
    bad = 0
    for i in range(N):
        x = X[i]
        y = Y[i]
        bad += (x - x != 0.0) | (y - y != 0.0)  # inf - inf and NaN - NaN are NaN
    return bad


@nb.njit(**_JIT)
def _sparse_inputs(s_syn, Si, SEi, E_syn, dec, n_pop, N):
    """Per-neuron total gate and reversal-weighted gate; then decay the gates by one step."""
    for i in range(N):
        Si[i] = 0.0
        SEi[i] = 0.0
    for q in range(n_pop):
        e = E_syn[q]
        d = dec[q]
        row = s_syn[q]
        for i in range(N):
            x = row[i]
            Si[i] += x
            SEi[i] += x * e
            row[i] = x * d


# ---------------------------------------------------------------------------------------
# One parameter set
# ---------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def run_set(
    PN, PP, J, pop_start, pop_of,
    # input segments (shared): start step and values per population
    seg_start, seg_val,
    # sparse coupling (by presynaptic neuron); ctl[CTL_SPARSE] == 0 -> all-to-all via rates
    indptr, post, w,
    # run control (CTL_* slots), step (ms), noise key of the set
    ctl, dt, noise_key,
    # outputs (v_mean: population-mean membrane potential at bin ends, if record_v)
    rate_counts, spk_count, isi_sum, isi_sq, sp_times, sp_idx, info, v_mean,
):
    """Simulate one set: ``PN`` (PN_SIZE, N) per-neuron and ``PP`` (PP_SIZE, P) population
    parameters (``P_*`` / ``Q_*`` slots), coupling ``J`` (P, P), controls ``ctl``."""
    method = ctl[CTL_METHOD]
    sparse = ctl[CTL_SPARSE] != 0
    n_steps = ctl[CTL_N_STEPS]
    bin_steps = ctl[CTL_BIN_STEPS]
    R = ctl[CTL_RING]
    record_v = ctl[CTL_RECORD_V] != 0
    exact = method == METHOD_EXACT
    N = PN.shape[1]
    P = pop_start.shape[0] - 1
    B0 = PN[P_B0]
    A0 = PN[P_A0]
    G = PN[P_G]
    VRES = PN[P_VRES]
    Kn = PN[P_K]
    Cn = PN[P_C]
    VRn = PN[P_VR]
    Bn = PN[P_B]
    TAUn = PN[P_TAU_U]
    KAPPAn = PN[P_KAPPA]
    VCUTn = PN[P_VCUT]
    VLOWn = PN[P_VLOW]
    v_peak = PP[Q_VPEAK]
    E_syn = PP[Q_ESYN]
    tau_s = PP[Q_TAU_S]
    sigma = PP[Q_SIGMA]
    I_off = PP[Q_IOFF]
    V = PN[P_V0].copy()
    U = PN[P_U0].copy()
    n_words = (N + 7) // 8
    F = np.zeros(8 * n_words, dtype=np.uint8)  # padded so it can be scanned 8 bytes at a time
    F64 = F.view(np.uint64)
    xi = np.zeros(N)
    last = np.full(N, -1.0)
    cap = sp_times.shape[0]

    # precomputed per-population constants (homogeneous populations) ...
    het = np.empty(P, dtype=np.bool_)
    dtC = np.empty(P)
    eu = np.empty(P)
    cu = np.empty(P)
    dec = np.empty(P)
    noise_scale = np.empty(P)
    for p in range(P):
        het[p] = PP[Q_HET, p] != 0.0
        dtC[p] = dt / PP[Q_C, p]
        eu[p] = math.exp(-dt / PP[Q_TAU_U, p])
        cu[p] = PP[Q_B, p] * (1.0 - eu[p])
        dec[p] = math.exp(-dt / tau_s[p])
        # per-neuron C: the pass multiplies the noise current by each neuron's dt/C
        noise_scale[p] = (sigma[p] / math.sqrt(dt) if het[p]
                          else sigma[p] * math.sqrt(dt) / PP[Q_C, p])
    # ... and per neuron (copies of the population values for homogeneous populations, so
    # their excursions and fallback steps use bit-identical constants)
    D = np.empty((_D_SIZE, N))
    for p in range(P):
        for i in range(pop_start[p], pop_start[p + 1]):
            if het[p]:
                e = math.exp(-dt / TAUn[i])
                D[_D_DTC, i] = dt / Cn[i]
                D[_D_EU, i] = e
                D[_D_CU, i] = Bn[i] * (1.0 - e)
            else:
                D[_D_DTC, i] = dtC[p]
                D[_D_EU, i] = eu[p]
                D[_D_CU, i] = cu[p]
    DTCn = D[_D_DTC]
    EUn = D[_D_EU]
    CUn = D[_D_CU]
    inv_n = np.empty(P)
    vres_min = np.empty(P)  # lower end of the voltages averaged by record_v
    for p in range(P):
        inv_n[p] = 1.0 / max(pop_start[p + 1] - pop_start[p], 1)
        vres_min[p] = math.inf
        for i in range(pop_start[p], pop_start[p + 1]):
            vres_min[p] = min(vres_min[p], VRES[i])

    # synaptic gates: all-to-all -> s_pop[post, pre]; sparse -> s_syn[pre_pop, neuron]
    s_pop = np.zeros((P, P))
    s_syn = np.zeros((P, N)) if sparse else np.zeros((P, 1))
    Si = np.zeros(N) if sparse else np.zeros(1)
    SEi = np.zeros(N) if sparse else np.zeros(1)
    S = np.zeros(P)
    SE = np.zeros(P)
    nrn = (B0, A0, G, VRES, Si, SEi, xi, Kn, DTCn, EUn, CUn, VRn, VCUTn, KAPPAn)

    # calendar (ring buffer of R slots): returns from excursions and future spike deliveries
    ret_head = np.full(R, -1, dtype=np.int64)
    ret_next = np.full(N, -1, dtype=np.int64)
    ret_v = np.zeros(N)
    ret_u = np.zeros(N)
    pend = np.zeros((R, P))  # all-to-all: summed delivery factors per presynaptic population
    ev_head = np.full(R, -1, dtype=np.int64)  # sparse: linked lists of (neuron, factor)
    ev_cap = 64 if not sparse else 4 * N + 64  # fixed: growing arrays in-loop slows numba
    ev_next = np.empty(ev_cap, dtype=np.int64)
    ev_neu = np.empty(ev_cap, dtype=np.int64)
    ev_fac = np.empty(ev_cap)
    ev_free = -1
    ev_used = 0
    deliv = np.zeros(P)
    sp_t = np.empty(MAX_SPIKES_PER_EXCURSION + 1)

    check_steps = max(1, int(round(5.0 / dt)))
    n_rec = 0
    n_parked = 0
    n_exc = 0
    n_fallback = 0
    n_early = 0
    status = STATUS_OK
    seg = 0
    n_seg = seg_start.shape[0]
    t_max = n_steps * dt
    step = 0
    while step < n_steps:
        t_n = step * dt
        while seg + 1 < n_seg and seg_start[seg + 1] <= step:
            seg += 1
        # --- synaptic input seen during this step
        if sparse:
            _sparse_inputs(s_syn, Si, SEi, E_syn, dec, P, N)
        else:
            for p in range(P):
                acc = 0.0
                acce = 0.0
                for q in range(P):
                    acc += s_pop[p, q]
                    acce += s_pop[p, q] * E_syn[q]
                S[p] = acc
                SE[p] = acce
        # --- Euler pass, population by population
        nf = 0
        for p in range(P):
            lo = pop_start[p]
            hi = pop_start[p + 1]
            I = seg_val[seg, p] + I_off[p]
            noisy = sigma[p] > 0.0
            if noisy:
                fill_noise(xi, lo, hi, noise_key_for_step(noise_key, step), noise_scale[p])
            sc = (PP[Q_K, p], dtC[p], eu[p], cu[p], PP[Q_VR, p], PP[Q_VCUT, p], v_peak[p],
                  PP[Q_KAPPA, p])
            nf += _euler_pass(exact, sparse, noisy, het[p], V, U, F, nrn, lo, hi, S[p],
                              SE[p], I, sc)
        for q in range(P):
            deliv[q] = 0.0
        # --- flagged neurons: spikes (Euler) or excursions (exact)
        if nf > 0:
            for wi in range(n_words):
                if F64[wi] == 0:
                    continue
                for i in range(8 * wi, min(8 * wi + 8, N)):
                    if F[i] == 0:
                        continue
                    F[i] = 0
                    p = pop_of[i]
                    if not exact:
                        nsp = 1
                        sp_t[0] = t_n + dt
                    else:
                        if sparse:
                            s_here = Si[i]
                            se_here = SEi[i]
                        else:
                            s_here = S[p]
                            se_here = SE[p]
                        Bi = B0[i] - G[i] * s_here
                        Ai = A0[i] + G[i] * se_here + seg_val[seg, p] + I_off[p]
                        kk = Kn[i]  # each neuron's own C, k, v_r, b, tau_u, kappa
                        code, nsp, m_ret, v_ret, u_ret = excursion(
                            V[i], U[i], t_n, step, dt, R, kk, Cn[i], Bi, Ai, KAPPAn[i],
                            TAUn[i], Bn[i], VRn[i], 2.0 * kk * v_peak[p] + Bi,
                            2.0 * kk * VRES[i] + Bi, 2.0 * kk * VCUTn[i] + Bi,
                            2.0 * kk * VLOWn[i] + Bi, sp_t)
                        if code == _EXC_FALLBACK:
                            # not rising: ordinary Euler step for this neuron
                            v = V[i]
                            u = U[i]
                            dv = kk * v * v + Bi * v + Ai - u
                            if sigma[p] > 0.0 and het[p]:  # xi is a current (see the pass)
                                V[i] = v + DTCn[i] * (dv + xi[i])
                            else:
                                V[i] = v + DTCn[i] * dv + (xi[i] if sigma[p] > 0.0 else 0.0)
                            U[i] = u * EUn[i] + CUn[i] * (v - VRn[i])
                            n_fallback += 1
                            continue
                        if code == _EXC_RUNAWAY:
                            status = STATUS_RUNAWAY
                            break
                        if code == _EXC_NONFINITE:
                            status = STATUS_DIVERGED
                            break
                        n_exc += 1
                        V[i] = math.nan
                        U[i] = math.nan
                        n_parked += 1
                        slot = m_ret % R
                        ret_v[i] = v_ret
                        ret_u[i] = u_ret
                        ret_next[i] = ret_head[slot]
                        ret_head[slot] = i
                    for j in range(nsp):
                        ts = sp_t[j]
                        if ts >= t_max:
                            break
                        # record
                        if n_rec < cap:
                            sp_times[n_rec] = ts
                            sp_idx[n_rec] = i
                        n_rec += 1
                        rate_counts[p, min(int(ts / (bin_steps * dt)), rate_counts.shape[1] - 1)] += 1.0
                        spk_count[i] += 1
                        if last[i] >= 0.0:
                            isi = ts - last[i]
                            isi_sum[i] += isi
                            isi_sq[i] += isi * isi
                        last[i] = ts
                        # deliver at the step the spike falls in
                        js = int(math.ceil(ts / dt - 1e-9)) - 1  # (t_j, t_{j+1}] -> step j
                        if js < step:
                            js = step
                        fac = math.exp(-((js + 1) * dt - ts) / tau_s[p])
                        if js == step:
                            if sparse:
                                for e in range(indptr[i], indptr[i + 1]):
                                    s_syn[p, post[e]] += w[e] * fac
                            else:
                                deliv[p] += fac
                        else:
                            slot = js % R
                            if sparse:
                                if ev_free >= 0:
                                    node = ev_free
                                    ev_free = ev_next[node]
                                elif ev_used < ev_cap:
                                    node = ev_used
                                    ev_used += 1
                                else:
                                    # pool exhausted (never seen in practice): deliver now,
                                    # counted in info so it is not silent
                                    n_early += 1
                                    for e in range(indptr[i], indptr[i + 1]):
                                        s_syn[p, post[e]] += w[e] * fac
                                    continue
                                ev_neu[node] = i
                                ev_fac[node] = fac
                                ev_next[node] = ev_head[slot]
                                ev_head[slot] = node
                            else:
                                pend[slot, p] += fac
                if status != STATUS_OK:
                    break
            if status != STATUS_OK:
                break
        # --- deliveries scheduled for this step, then gates at t_{n+1}
        slot = step % R
        if sparse:
            node = ev_head[slot]
            while node >= 0:
                i = ev_neu[node]
                p = pop_of[i]
                fac = ev_fac[node]
                for e in range(indptr[i], indptr[i + 1]):
                    s_syn[p, post[e]] += w[e] * fac
                nxt = ev_next[node]
                ev_next[node] = ev_free
                ev_free = node
                node = nxt
            ev_head[slot] = -1
        else:
            for q in range(P):
                deliv[q] += pend[slot, q]
                pend[slot, q] = 0.0
            for p in range(P):
                for q in range(P):
                    s_pop[p, q] = s_pop[p, q] * dec[q] + J[p, q] * inv_n[q] * deliv[q]
        # --- neurons coming back from excursions at t_{n+1}
        rslot = (step + 1) % R
        i = ret_head[rslot]
        while i >= 0:
            V[i] = ret_v[i]
            U[i] = ret_u[i]
            n_parked -= 1
            nxt = ret_next[i]
            ret_next[i] = -1
            i = nxt
        ret_head[rslot] = -1
        step += 1
        if record_v and (step % bin_steps == 0 or step == n_steps):
            b_idx = (step - 1) // bin_steps
            for p in range(P):
                v_mean[p, b_idx] = _mean_v(V, pop_start[p], pop_start[p + 1], vres_min[p],
                                           v_peak[p])
        # --- divergence check every ~5 ms and at the end (NaN is legitimate only for
        #     parked neurons, which have both v and u NaN)
        if step % check_steps == 0 or step == n_steps:
            if _count_nonfinite(V, U, N) != n_parked:
                status = STATUS_DIVERGED
            if sparse:
                for q in range(P):
                    if _count_nonfinite(s_syn[q], s_syn[q], N) != 0:
                        status = STATUS_DIVERGED
            else:
                for p in range(P):
                    for q in range(P):
                        if not math.isfinite(s_pop[p, q]):
                            status = STATUS_DIVERGED
            if status != STATUS_OK:
                break
    info[INFO_N_SPIKES] = n_rec
    info[INFO_STATUS] = status
    info[INFO_FAIL_STEP] = step
    info[INFO_N_EXCURSIONS] = n_exc
    info[INFO_N_FALLBACK] = n_fallback
    info[INFO_N_EARLY] = n_early


@nb.njit(parallel=True, cache=True)
def run_batch(
    PN, PP, J, pop_start, pop_of, seg_start, seg_val, indptr, post, w, edge_off,
    ctl, dt, noise_keys,
    rate_counts, spk_count, isi_sum, isi_sq, sp_times, sp_idx, info, v_mean,
):
    """Simulate ``n_sets`` parameter sets in parallel; arrays carry a leading set axis.

    Sparse edges of set ``s`` are ``post[edge_off[s]:edge_off[s+1]]`` (and ``w``), indexed by
    ``indptr[s]`` relative to ``edge_off[s]``.
    """
    n_sets = PN.shape[0]
    for s in nb.prange(n_sets):
        e0 = edge_off[s]
        e1 = edge_off[s + 1]
        run_set(
            PN[s], PP[s], J[s], pop_start, pop_of, seg_start, seg_val,
            indptr[s], post[e0:e1], w[e0:e1], ctl, dt, noise_keys[s],
            rate_counts[s], spk_count[s], isi_sum[s], isi_sq[s], sp_times[s], sp_idx[s],
            info[s], v_mean[s],
        )
