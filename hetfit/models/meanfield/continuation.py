"""Pseudo-arclength continuation of fixed points of ``dy/dt = F(y, p)`` in one parameter.

Generic and small: the mean-field classes supply ``F`` (their compiled right-hand side) and
typical magnitudes of each state variable (the continuation works in scaled variables, so a
rate of 0.01/ms and a voltage of -50 mV weigh alike).  The branch is followed through folds
(saddle-node points), where it turns back in the parameter; stability comes from the
eigenvalues of the Jacobian at every point, and changes of stability are classified as folds
(a real eigenvalue crosses zero, the branch turns) or Hopf points (a complex pair crosses,
its imaginary part gives the frequency of the emerging oscillation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hetfit.errors import ParameterError, SimulationError

__all__ = ["Branch", "BifurcationPoint", "continue_branch", "jacobian_fd", "newton_fixed_point"]

Vector = np.ndarray
RHS = Callable[[Vector, float], Vector]


def jacobian_fd(F: RHS, y: Vector, p: float, y_scale: Vector) -> Vector:
    """Central finite-difference Jacobian dF/dy (n x n)."""
    n = y.size
    J = np.empty((n, n))
    for i in range(n):
        h = 1e-6 * max(abs(y[i]), y_scale[i])
        e = np.zeros(n)
        e[i] = h
        J[:, i] = (F(y + e, p) - F(y - e, p)) / (2 * h)
    return J


def _dF_dp(F: RHS, y: Vector, p: float, p_scale: float) -> Vector:
    h = 1e-6 * max(abs(p), p_scale)
    return (F(y, p + h) - F(y, p - h)) / (2 * h)


def newton_fixed_point(
    F: RHS, y0: Vector, p: float, y_scale: Vector, *, tol: float = 1e-10, max_iter: int = 50
) -> Vector | None:
    """Newton iteration for ``F(y, p) = 0`` from ``y0``; None when it does not converge."""
    y = np.array(y0, dtype=np.float64)
    for _ in range(max_iter):
        f = F(y, p)
        if not np.all(np.isfinite(f)):
            return None
        J = jacobian_fd(F, y, p, y_scale)
        try:
            dy = np.linalg.solve(J, -f)
        except np.linalg.LinAlgError:
            return None
        # Damp steps that are large compared with the variables' scale.
        step = np.max(np.abs(dy) / y_scale)
        if step > 1.0:
            dy /= step
        y = y + dy
        if np.max(np.abs(dy) / y_scale) < tol:
            return y
    return None


@dataclass
class BifurcationPoint:
    """A fold (saddle-node) or Hopf point on a branch.

    Attributes
    ----------
    kind:
        ``"fold"`` or ``"hopf"``.
    param:
        Parameter value at the bifurcation.
    state:
        State vector at the bifurcation (interpolated).
    frequency_hz:
        Hopf only: ``|Im(lambda)| / (2 pi)`` of the critical pair, converted from 1/ms to Hz.
    """

    kind: str
    param: float
    state: np.ndarray
    frequency_hz: float = math.nan


@dataclass
class Branch:
    """A continued branch of fixed points.

    Attributes
    ----------
    param_name:
        Name of the continued parameter.
    params:
        Parameter value of each point (n_points,).
    states:
        Fixed-point states (n_points, n_state).
    max_real_eig:
        Largest real part of the Jacobian eigenvalues at each point (1/ms).
    stable:
        ``max_real_eig < 0``.
    bifurcations:
        Folds and Hopf points found along the branch, in branch order.
    """

    param_name: str
    params: np.ndarray
    states: np.ndarray
    max_real_eig: np.ndarray
    stable: np.ndarray
    bifurcations: list[BifurcationPoint] = field(default_factory=list)

    @property
    def folds(self) -> list[BifurcationPoint]:
        return [b for b in self.bifurcations if b.kind == "fold"]

    @property
    def hopfs(self) -> list[BifurcationPoint]:
        return [b for b in self.bifurcations if b.kind == "hopf"]

    def stable_intervals(self) -> list[tuple[float, float]]:
        """Parameter intervals covered by each stable segment of the branch."""
        out = []
        idx = np.nonzero(self.stable)[0]
        if idx.size == 0:
            return out
        splits = np.nonzero(np.diff(idx) > 1)[0]
        starts = np.concatenate([[idx[0]], idx[splits + 1]])
        ends = np.concatenate([idx[splits], [idx[-1]]])
        for s, e in zip(starts, ends):
            seg = self.params[s: e + 1]
            out.append((float(seg.min()), float(seg.max())))
        return out

    def multistable_intervals(self) -> list[tuple[float, float]]:
        """Parameter intervals where two or more stable segments of this branch overlap."""
        iv = self.stable_intervals()
        out = []
        for i in range(len(iv)):
            for j in range(i + 1, len(iv)):
                lo = max(iv[i][0], iv[j][0])
                hi = min(iv[i][1], iv[j][1])
                if hi > lo:
                    out.append((lo, hi))
        out.sort()
        merged: list[tuple[float, float]] = []
        for lo, hi in out:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return merged


def _eig_info(F: RHS, y: Vector, p: float, y_scale: Vector) -> tuple[float, float, float]:
    """(max real part, max real part among complex pairs, |imag| of that pair)."""
    ev = np.linalg.eigvals(jacobian_fd(F, y, p, y_scale))
    max_re = float(np.max(ev.real))
    cplx = ev[np.abs(ev.imag) > 1e-9 * max(1.0, float(np.max(np.abs(ev))))]
    if cplx.size:
        j = int(np.argmax(cplx.real))
        return max_re, float(cplx.real[j]), float(abs(cplx.imag[j]))
    return max_re, -math.inf, math.nan


def continue_branch(
    F: RHS,
    y0: Vector,
    p0: float,
    p_min: float,
    p_max: float,
    *,
    y_scale: Vector,
    p_scale: float,
    param_name: str = "p",
    direction: int = 1,
    ds: float = 0.02,
    ds_min: float = 1e-7,
    ds_max: float = 0.1,
    max_steps: int = 5000,
    newton_tol: float = 1e-10,
) -> Branch:
    """Follow the fixed-point branch through ``(y0, p0)`` until ``p`` leaves ``[p_min, p_max]``.

    Parameters
    ----------
    F:
        Right-hand side ``F(y, p) -> dy/dt``.
    y0:
        Approximate fixed point at ``p0`` (refined by Newton first).
    p_min, p_max:
        Parameter window; continuation stops when the branch leaves it.
    y_scale, p_scale:
        Typical magnitudes of the state variables and of parameter changes; arclength is
        measured in these units.
    direction:
        +1 to start towards increasing ``p``, -1 towards decreasing.
    ds, ds_min, ds_max:
        Initial, minimal and maximal arclength step (scaled units).
    """
    y_scale = np.asarray(y_scale, dtype=np.float64)
    if not p_min < p_max:
        raise ParameterError(f"empty continuation window [{p_min}, {p_max}]")
    if direction not in (1, -1):
        raise ParameterError(f"direction must be +1 or -1, got {direction}")
    y = newton_fixed_point(F, y0, p0, y_scale, tol=newton_tol)
    if y is None:
        raise SimulationError(
            f"no fixed point found near the start of the continuation ({param_name}={p0})",
            hint="start from a state obtained by simulating to steady state",
        )
    n = y.size
    S = np.concatenate([y_scale, [p_scale]])

    def G(z: Vector) -> Vector:
        return F(z[:n] * S[:n], z[n] * S[n])

    def JG(z: Vector) -> Vector:
        yy, pp = z[:n] * S[:n], z[n] * S[n]
        Jy = jacobian_fd(F, yy, pp, y_scale) * S[:n][None, :]
        Jp = _dF_dp(F, yy, pp, p_scale) * S[n]
        return np.column_stack([Jy, Jp])

    z = np.concatenate([y / S[:n], [p0 / S[n]]])
    # initial tangent: F_y dy + F_p dp = 0, with dp = 1
    Jz = JG(z)
    try:
        dy = np.linalg.solve(Jz[:, :n], -Jz[:, n])
        t = np.concatenate([dy, [1.0]])
    except np.linalg.LinAlgError:
        t = np.zeros(n + 1)
        t[n] = 1.0
    t = direction * t / np.linalg.norm(t)

    def step(z: Vector, t: Vector, h: float) -> tuple[Vector, Vector, int] | None:
        """Predictor-corrector step of arclength h; (z, tangent, Newton iterations)."""
        z_pred = z + h * t
        zc = z_pred.copy()
        for n_iter in range(1, 13):
            r = np.concatenate([G(zc), [t @ (zc - z_pred)]])
            Jz = np.vstack([JG(zc), t[None, :]])
            try:
                dz = np.linalg.solve(Jz, -r)
            except np.linalg.LinAlgError:
                return None
            zc = zc + dz
            if not np.all(np.isfinite(zc)):
                return None
            if np.max(np.abs(dz)) < newton_tol:
                A = np.vstack([JG(zc), t[None, :]])
                try:
                    t_new = np.linalg.solve(A, np.concatenate([np.zeros(n), [1.0]]))
                except np.linalg.LinAlgError:
                    t_new = (zc - z) / np.linalg.norm(zc - z)
                return zc, t_new / np.linalg.norm(t_new), n_iter
        return None

    zs = [z.copy()]
    ts = [t.copy()]
    h = ds
    for _ in range(max_steps):
        res = step(z, t, h)
        if res is None:
            h *= 0.5
            if h < ds_min:
                break
            continue
        z, t, n_iter = res
        zs.append(z.copy())
        ts.append(t.copy())
        if n_iter <= 4:
            h = min(h * 1.5, ds_max)
        pp = float(z[n] * S[n])
        if pp < p_min or pp > p_max:
            break

    params = np.asarray([zz[n] * S[n] for zz in zs])
    states = np.asarray([zz[:n] * S[:n] for zz in zs])
    info = [_eig_info(F, yv, float(pv), y_scale) for yv, pv in zip(states, params)]
    max_re = np.asarray([i[0] for i in info])
    cre = np.asarray([i[1] for i in info])
    tp = np.asarray([tt[n] for tt in ts])

    def fine_walk(i: int, changed: Callable[[Vector, Vector], bool]) -> list[tuple[Vector, Vector]]:
        """Re-walk the segment i -> i+1 in ~40 small steps until ``changed`` is true."""
        hh = float(np.linalg.norm(zs[i + 1] - zs[i])) / 40.0
        zz, tt = zs[i], ts[i]
        walk = [(zz, tt)]
        for _ in range(120):
            r = step(zz, tt, hh)
            if r is None:
                break
            zz, tt, _ = r
            walk.append((zz, tt))
            if changed(zz, tt):
                break
        return walk

    bifs: list[BifurcationPoint] = []
    for i in range(len(params) - 1):
        if tp[i] * tp[i + 1] < 0:
            sign_t = float(np.sign(tp[i]))
            walk = fine_walk(i, lambda zz, tt, s0=sign_t: np.sign(tt[n]) != s0)
            wp = np.asarray([w[0][n] * S[n] for w in walk])
            wy = np.asarray([w[0][:n] * S[:n] for w in walk])
            bifs.append(_fold_point(wp, wy, max(0, len(wp) - 2)))
        if np.isfinite(cre[i]) and np.isfinite(cre[i + 1]) and cre[i] * cre[i + 1] < 0:
            s0 = np.sign(cre[i])

            def crossed(zz: Vector, tt: Vector, s0: float = s0) -> bool:
                c = _eig_info(F, zz[:n] * S[:n], float(zz[n] * S[n]), y_scale)[1]
                return bool(np.isfinite(c) and np.sign(c) != s0)

            walk = fine_walk(i, crossed)
            a, b = walk[-2][0], walk[-1][0]
            ia = _eig_info(F, a[:n] * S[:n], float(a[n] * S[n]), y_scale)
            ib = _eig_info(F, b[:n] * S[:n], float(b[n] * S[n]), y_scale)
            w = ia[1] / (ia[1] - ib[1]) if np.isfinite(ib[1]) and ia[1] != ib[1] else 0.0
            zh = a + w * (b - a)
            bifs.append(
                BifurcationPoint(
                    "hopf", float(zh[n] * S[n]), zh[:n] * S[:n],
                    float((ia[2] + w * (ib[2] - ia[2])) / (2 * math.pi) * 1e3),
                )
            )
    return Branch(param_name, params, states, max_re, max_re < 0, bifs)


def _fold_point(params: Vector, states: Vector, i: int) -> BifurcationPoint:
    """Turning point near points i, i+1: vertex of a parabola p(s) through 3 close points."""
    lo = max(0, min(i - 1, len(params) - 3))
    idx = np.arange(lo, lo + 3)
    idx = idx[idx < len(params)]
    if idx.size < 3:
        return BifurcationPoint("fold", float(params[i]), states[i].copy())
    # arclength coordinate in state+param space (normalised per component)
    pts = np.column_stack([states[idx], params[idx]])
    scale = np.maximum(np.abs(pts).max(axis=0), 1e-12)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts / scale, axis=0), axis=1))])
    c = np.polyfit(s, params[idx], 2)
    if c[0] == 0:
        return BifurcationPoint("fold", float(params[i]), states[i].copy())
    s_star = -c[1] / (2 * c[0])
    s_star = float(np.clip(s_star, s[0], s[-1]))
    p_star = float(np.polyval(c, s_star))
    y_star = np.array([np.interp(s_star, s, states[idx, k]) for k in range(states.shape[1])])
    return BifurcationPoint("fold", p_star, y_star)
