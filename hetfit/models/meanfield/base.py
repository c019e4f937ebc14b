"""Shared machinery of the mean-field models: results, inputs, fixed points, scans.

A mean-field model is data (a parameter dataclass) plus a compiled right-hand side.  Every
model offers the same small API:

``simulate(t_max_ms, dt_ms, I_ext)``        time course (RK4), -> :class:`MeanFieldResult`
``fixed_points(I_ext)``                     all fixed points with stability
``continuation(param, start, stop)``        pseudo-arclength branch with folds / Hopf points
``scan_bistability(param, values)``         ``(low, high)`` of the bistable range, or None
``hysteresis_sweep(param, values)``         quasi-static up/down sweep by simulation
``dominant_frequency(t_max_ms, ...)``       oscillation frequency (Hz) of the rate
``simulate_batch(param, values, ...)``      many parameter sets in one parallel kernel

Units: time ms, rates reported in Hz (1/ms inside the equations), voltages mV, currents pA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.errors import ParameterError, SimulationError
from hetfit.models.meanfield.continuation import (
    Branch,
    continue_branch,
    jacobian_fd,
    newton_fixed_point,
)
from hetfit.models.meanfield.oscillations import dominant_frequency_hz, peak_frequency_hz

__all__ = [
    "FixedPoint", "HysteresisSweep", "MeanFieldBatch", "MeanFieldModel", "MeanFieldResult",
]


@dataclass
class MeanFieldResult:
    """Time course of a mean-field model.

    Attributes
    ----------
    t_ms:
        Sample times (ms), shape (n_samples,).
    rates_hz:
        Population rates (Hz), shape (n_populations, n_samples).
    states:
        Full state at each sample, shape (n_samples, n_state) (rates in 1/ms there).
    state_names:
        Names of the state components.
    population_names:
        Population names.
    diverged:
        True when the state became non-finite or left the model's domain (negative rate);
        samples after that point are NaN.
    meta:
        Model name, parameters, dt.
    """

    t_ms: np.ndarray
    rates_hz: np.ndarray
    states: np.ndarray
    state_names: tuple[str, ...]
    population_names: tuple[str, ...]
    diverged: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def variable(self, name: str) -> np.ndarray:
        """Time course of one state component, e.g. ``"v_E"`` or ``"r"`` (raw units)."""
        if name not in self.state_names:
            raise KeyError(f"no state variable {name!r}; have {self.state_names}")
        return self.states[:, self.state_names.index(name)]

    def mean_rate_hz(self, population: str | None = None, t_start_ms: float = 0.0) -> float:
        """Time-averaged rate (Hz) after ``t_start_ms``."""
        i = self._pop_index(population)
        m = self.t_ms >= t_start_ms
        if not np.any(m):
            raise ParameterError(f"t_start_ms={t_start_ms} is after the end of the simulation")
        return float(np.mean(self.rates_hz[i, m]))

    def _pop_index(self, population: str | None) -> int:
        if population is None:
            if len(self.population_names) > 1:
                raise ParameterError(
                    "this result has several populations; say which one",
                    hint=f"population= one of {self.population_names}",
                )
            return 0
        if population not in self.population_names:
            raise ParameterError(
                f"unknown population {population!r}", hint=f"use one of {self.population_names}"
            )
        return self.population_names.index(population)


@dataclass
class MeanFieldBatch:
    """Many parameter sets of one mean-field model integrated in one parallel kernel.

    Attributes
    ----------
    param_names:
        The varied parameters (``"name"`` or ``"name[population]"``).
    values:
        Parameter values, shape (n_sets, n_params).
    t_ms:
        Sample times (ms).
    rates_hz:
        Rates (Hz), shape (n_sets, n_populations, n_samples); NaN after a divergence.
    final_states:
        State at the end of each run (n_sets, n_state).
    diverged:
        Per set: the run became non-finite or left the model's domain.
    """

    param_names: tuple[str, ...]
    values: np.ndarray
    t_ms: np.ndarray
    rates_hz: np.ndarray
    final_states: np.ndarray
    diverged: np.ndarray
    population_names: tuple[str, ...]

    def mean_rates_hz(self, t_start_ms: float = 0.0) -> np.ndarray:
        """Time-averaged rates (n_sets, n_populations) after ``t_start_ms``."""
        m = self.t_ms >= t_start_ms
        if not np.any(m):
            raise ParameterError(f"t_start_ms={t_start_ms} is after the end of the simulation")
        return self.rates_hz[:, :, m].mean(axis=2)


@dataclass
class FixedPoint:
    """A fixed point of a mean-field model.

    Attributes
    ----------
    state:
        Full state vector (rates in 1/ms).
    rates_hz:
        Population rates (Hz).
    stable:
        All Jacobian eigenvalues have negative real part.
    eigenvalues:
        Jacobian eigenvalues (1/ms), sorted by decreasing real part.
    """

    state: np.ndarray
    rates_hz: np.ndarray
    stable: bool
    eigenvalues: np.ndarray

    @property
    def kind(self) -> str:
        """``"stable node/focus"``, ``"saddle"`` or ``"unstable focus"`` style label."""
        ev = self.eigenvalues
        n_unstable = int(np.sum(ev.real > 0))
        osc = bool(np.any(np.abs(ev.imag) > 1e-12))
        if n_unstable == 0:
            return "stable focus" if osc else "stable node"
        if n_unstable == 1 and np.all(np.abs(ev[ev.real > 0].imag) < 1e-12):
            return "saddle"
        return "unstable focus" if osc else "unstable node"


@dataclass
class HysteresisSweep:
    """Quasi-static sweep of a parameter up then down, by simulation.

    Attributes
    ----------
    values:
        Parameter values (ascending).
    up_mean_hz, down_mean_hz:
        Mean rate (Hz) of population ``population`` at each value, sweeping up / down
        (``down_*`` is stored in ascending order of ``values`` too).
    up_min_hz, up_max_hz, down_min_hz, down_max_hz:
        Range of the rate within the settling window (oscillation amplitude).
    """

    param_name: str
    population: str
    values: np.ndarray
    up_mean_hz: np.ndarray
    down_mean_hz: np.ndarray
    up_min_hz: np.ndarray
    up_max_hz: np.ndarray
    down_min_hz: np.ndarray
    down_max_hz: np.ndarray

    def hysteresis_range(self, rel_tol: float = 0.1, abs_tol_hz: float = 0.5) -> tuple[float, float] | None:
        """``(low, high)`` of the parameter values where up and down sweeps differ, or None.

        Two states differ when their mean rates differ by more than
        ``max(abs_tol_hz, rel_tol * max(rates))`` (or one oscillates and the other does not).
        """
        diff = np.abs(self.up_mean_hz - self.down_mean_hz)
        scale = np.maximum(abs_tol_hz, rel_tol * np.maximum(self.up_mean_hz, self.down_mean_hz))
        amp_up = self.up_max_hz - self.up_min_hz
        amp_dn = self.down_max_hz - self.down_min_hz
        osc_diff = np.abs(amp_up - amp_dn) > scale
        m = (diff > scale) | osc_diff
        if not np.any(m):
            return None
        idx = np.nonzero(m)[0]
        return float(self.values[idx[0]]), float(self.values[idx[-1]])


def _finite(name: str, x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ParameterError(f"{name} must be a finite number, got {x}")
    return x


def check_time(t_max_ms: float, dt_ms: float) -> int:
    t_max_ms = _finite("t_max_ms", t_max_ms)
    dt_ms = _finite("dt_ms", dt_ms)
    if dt_ms <= 0:
        raise ParameterError(f"dt_ms must be > 0, got {dt_ms}", hint="e.g. dt_ms=0.01")
    if t_max_ms <= 0:
        raise ParameterError(f"t_max_ms must be > 0, got {t_max_ms}")
    n = int(round(t_max_ms / dt_ms))
    if n < 1:
        raise ParameterError(f"t_max_ms={t_max_ms} is shorter than one step dt_ms={dt_ms}")
    return n


class MeanFieldModel:
    """Base class; subclasses define the parameter packing and the compiled kernels."""

    model_name = "meanfield"
    population_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()

    # -- to be provided by subclasses ------------------------------------------------------
    def _pvec(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rhs_kernel(self, y: np.ndarray, p: np.ndarray, inp: np.ndarray, dy: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def _integrate_kernel(self, y0, p, inp, dt, rec_every):  # pragma: no cover - abstract
        raise NotImplementedError

    def _state_scale(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _default_y0(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _param_slot(self, name: str, population: str | None) -> tuple[str, int]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _fixed_point_states(self, p: np.ndarray, inp: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _n_active(self, p: np.ndarray) -> int:
        """Number of leading state components that are dynamic (others are slaved)."""
        return len(self.state_names)

    def _complete_state(self, y_active: np.ndarray, p: np.ndarray) -> np.ndarray:
        y = np.zeros(len(self.state_names))
        y[: y_active.size] = y_active
        return y

    def params_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- inputs ------------------------------------------------------------------------------
    @property
    def n_populations(self) -> int:
        return len(self.population_names)

    def _pop_index(self, population: str | None) -> int:
        if population is None:
            if self.n_populations > 1:
                raise ParameterError(
                    "this model has several populations; say which one",
                    hint=f"population= one of {self.population_names}",
                )
            return 0
        if population not in self.population_names:
            raise ParameterError(
                f"unknown population {population!r}", hint=f"use one of {self.population_names}"
            )
        return self.population_names.index(population)

    def _input_const(self, I_ext: Any) -> np.ndarray:
        P = self.n_populations
        if I_ext is None:
            return np.zeros(P)
        arr = np.asarray(I_ext, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(P, float(arr))
        if arr.shape != (P,):
            raise ParameterError(
                f"constant I_ext must be a scalar or one value per population ({P}), "
                f"got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ParameterError("I_ext contains NaN or inf")
        return arr

    def _input_series(self, I_ext: Any, n_steps: int) -> np.ndarray:
        P = self.n_populations
        if I_ext is None or np.ndim(I_ext) == 0 or np.shape(I_ext) == (P,):
            c = self._input_const(I_ext)
            return np.ascontiguousarray(np.broadcast_to(c, (n_steps, P)))
        arr = np.asarray(I_ext, dtype=np.float64)
        if arr.ndim == 1 and P == 1:
            arr = arr[:, None]
        if arr.shape != (n_steps, P):
            raise ParameterError(
                f"time-varying I_ext must have shape ({n_steps}, {P}) (one row per step)"
                + (f" or ({n_steps},)" if P == 1 else "") + f", got {arr.shape}",
                hint="build one with hetfit.models.qif.drive_array(t_max_ms, dt_ms, times, values)",
            )
        if not np.all(np.isfinite(arr)):
            raise ParameterError("I_ext contains NaN or inf")
        return np.ascontiguousarray(arr)

    # -- right-hand side -----------------------------------------------------------------
    def rhs(self, y: np.ndarray, I_ext: Any = None) -> np.ndarray:
        """Time derivative of the state ``y`` (per ms) under constant input ``I_ext``."""
        y = np.ascontiguousarray(y, dtype=np.float64)
        if y.shape != (len(self.state_names),):
            raise ParameterError(f"state must have shape ({len(self.state_names)},), got {y.shape}")
        dy = np.empty_like(y)
        self._rhs_kernel(y, self._pvec(), self._input_const(I_ext), dy)
        return dy

    def _F(self, p: np.ndarray, inp: np.ndarray, slot: tuple[str, int] | None = None):
        """Right-hand side restricted to the active state, optionally of one parameter."""
        n_act = self._n_active(p)
        n = len(self.state_names)
        rhs = self._rhs_kernel
        p = p.copy()
        inp = inp.copy()

        def F(ya: np.ndarray, val: float | None = None) -> np.ndarray:
            if slot is not None and val is not None:
                (p if slot[0] == "p" else inp)[slot[1]] = val
            y = np.zeros(n)
            y[:n_act] = ya
            if n_act < n:
                y[n_act:] = self._complete_state(ya, p)[n_act:]
            dy = np.empty(n)
            rhs(y, p, inp, dy)
            return dy[:n_act]

        return F

    def jacobian(self, y: np.ndarray, I_ext: Any = None) -> np.ndarray:
        """Finite-difference Jacobian (1/ms) of the dynamic part of the state at ``y``."""
        p = self._pvec()
        n_act = self._n_active(p)
        F = self._F(p, self._input_const(I_ext))
        y = np.asarray(y, dtype=np.float64)
        return jacobian_fd(F, y[:n_act], 0.0, self._state_scale()[:n_act])

    # -- simulation ----------------------------------------------------------------------
    def simulate(
        self,
        t_max_ms: float,
        dt_ms: float = 0.01,
        I_ext: Any = None,
        *,
        y0: np.ndarray | None = None,
        record_dt_ms: float | None = None,
    ) -> MeanFieldResult:
        """Integrate the mean field with fixed-step RK4.

        Parameters
        ----------
        t_max_ms, dt_ms:
            Duration and step (ms).
        I_ext:
            External input per population (pA for Izhikevich, units of eta for QIF): None,
            a scalar, one value per population, or one row per step (``(n_steps, P)``;
            ``(n_steps,)`` for one population).
        y0:
            Initial state (default: a low-activity state).
        record_dt_ms:
            Sampling interval of the output (default: every 0.1 ms or every step if dt is
            larger).
        """
        n_steps = check_time(t_max_ms, dt_ms)
        inp = self._input_series(I_ext, n_steps)
        y = self._initial(y0)
        rec_dt = max(dt_ms, 0.1) if record_dt_ms is None else _finite("record_dt_ms", record_dt_ms)
        rec_every = max(1, int(round(rec_dt / dt_ms)))
        rec_every = min(rec_every, n_steps)
        out, _, steps_done, bad = self._integrate_kernel(
            y, self._pvec(), inp, float(dt_ms), rec_every
        )
        P = self.n_populations
        t = (np.arange(out.shape[0]) + 1) * rec_every * dt_ms
        return MeanFieldResult(
            t_ms=t,
            rates_hz=out[:, :P].T * 1e3,
            states=out,
            state_names=self.state_names,
            population_names=self.population_names,
            diverged=bool(bad),
            meta={
                "model": self.model_name,
                "params": self.params_dict(),
                "dt_ms": float(dt_ms),
                "steps_done": int(steps_done),
            },
        )

    def _initial(self, y0: np.ndarray | None) -> np.ndarray:
        if y0 is None:
            return self._default_y0()
        y = np.array(y0, dtype=np.float64)
        if y.shape != (len(self.state_names),):
            raise ParameterError(
                f"y0 must have shape ({len(self.state_names)},) ordered as {self.state_names}, "
                f"got {y.shape}"
            )
        if not np.all(np.isfinite(y)):
            raise ParameterError("y0 contains NaN or inf")
        return y

    # -- fixed points ----------------------------------------------------------------------
    def _pinned(self, y: np.ndarray, p: np.ndarray) -> list[int]:
        """State components held at a boundary at this fixed point (e.g. a silent rate)."""
        return []

    def _classify(self, y: np.ndarray, p: np.ndarray, inp: np.ndarray) -> FixedPoint:
        n_act = self._n_active(p)
        F = self._F(p, inp)
        J = jacobian_fd(F, y[:n_act], 0.0, self._state_scale()[:n_act])
        pinned = self._pinned(y, p)
        if pinned:
            keep = [i for i in range(n_act) if i not in pinned]
            J = J[np.ix_(keep, keep)]
        ev = np.linalg.eigvals(J)
        ev = ev[np.argsort(-ev.real)]
        P = self.n_populations
        return FixedPoint(
            state=y, rates_hz=y[:P] * 1e3, stable=bool(np.all(ev.real < 0)), eigenvalues=ev
        )

    def fixed_points(self, I_ext: Any = None) -> list[FixedPoint]:
        """All fixed points under constant input ``I_ext``, sorted by the first rate."""
        p = self._pvec()
        inp = self._input_const(I_ext)
        states = self._fixed_point_states(p, inp)
        fps = [self._classify(y, p, inp) for y in states]
        fps.sort(key=lambda f: float(f.state[0]))
        return fps

    def _stable_states_at(
        self, slot: tuple[str, int], value: float, base_p, base_inp, seeds=()
    ) -> list[np.ndarray]:
        """Stable fixed points at ``param = value``; ``seeds`` (states found nearby) are used
        as extra Newton starts so that two roots about to merge at a fold are both kept."""
        p = base_p.copy()
        inp = base_inp.copy()
        (p if slot[0] == "p" else inp)[slot[1]] = value
        states = list(self._fixed_point_states(p, inp))
        for y0 in seeds:
            y = self._newton(np.asarray(y0, dtype=np.float64), p, inp)
            if y is not None and np.all(np.isfinite(y)) and np.all(y[: self.n_populations] >= 0):
                states.append(y)
        scale = self._state_scale()
        unique: list[np.ndarray] = []
        for y in states:
            if all(np.max(np.abs(y - u) / scale) > 1e-6 for u in unique):
                unique.append(y)
        return [y for y in unique if self._classify(y, p, inp).stable]

    def bistable_ranges(
        self,
        param: str,
        values: Any,
        *,
        population: str | None = None,
        I_ext: Any = None,
        refine_tol: float | None = None,
    ) -> list[tuple[float, float]]:
        """Intervals of ``param`` with two or more stable fixed points.

        The number of stable fixed points is computed at every value in ``values`` (all
        fixed points, from the model's reduction to the rates), and each edge of a
        multistable interval is refined by bisection to ``refine_tol`` (default 1e-7 of the
        scan width), seeding the root search with the states found on the inside so that
        the edge converges to the fold itself.
        """
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim != 1 or vals.size < 2 or not np.all(np.isfinite(vals)):
            raise ParameterError("values must be a finite 1-D array with at least 2 entries")
        vals = np.sort(vals)
        slot = self._param_slot(param, population)
        p0 = self._pvec()
        inp0 = self._input_const(I_ext)
        stable = [self._stable_states_at(slot, v, p0, inp0) for v in vals]
        multi = np.array([len(s) >= 2 for s in stable])
        tol = (vals[-1] - vals[0]) * 1e-7 if refine_tol is None else float(refine_tol)

        def edge(inside: float, outside: float, seeds: list[np.ndarray]) -> float:
            for _ in range(200):
                if abs(outside - inside) <= tol:
                    break
                m = 0.5 * (inside + outside)
                st = self._stable_states_at(slot, m, p0, inp0, seeds)
                if len(st) >= 2:
                    inside, seeds = m, st
                else:
                    outside = m
            return 0.5 * (inside + outside)

        out = []
        i = 0
        while i < vals.size:
            if not multi[i]:
                i += 1
                continue
            j = i
            while j + 1 < vals.size and multi[j + 1]:
                j += 1
            lo = vals[i] if i == 0 else edge(vals[i], vals[i - 1], stable[i])
            hi = vals[j] if j == vals.size - 1 else edge(vals[j], vals[j + 1], stable[j])
            out.append((float(lo), float(hi)))
            i = j + 1
        return out

    def scan_bistability(
        self,
        param: str,
        values: Any,
        *,
        population: str | None = None,
        I_ext: Any = None,
    ) -> tuple[float, float] | None:
        """``(low, high)`` of the widest range of ``param`` with >= 2 stable fixed points, or None.

        Bistability between a fixed point and a limit cycle is not a fixed-point property;
        use :meth:`hysteresis_sweep` for that.
        """
        ranges = self.bistable_ranges(param, values, population=population, I_ext=I_ext)
        if not ranges:
            return None
        return max(ranges, key=lambda r: r[1] - r[0])

    def continuation(
        self,
        param: str,
        start: float,
        stop: float,
        *,
        population: str | None = None,
        I_ext: Any = None,
        y0: np.ndarray | None = None,
        p_scale: float | None = None,
        ds_max: float = 0.05,
        max_steps: int = 5000,
    ) -> Branch:
        """Continue the fixed-point branch in ``param`` from ``start`` towards ``stop``.

        The starting fixed point is ``y0`` if given, else the fixed point at ``start`` with
        the lowest rate (the branch is followed through folds, so an S-shaped curve is
        traced completely).  Returns a :class:`~hetfit.models.meanfield.continuation.Branch`
        with stability, folds and Hopf points (Hopf frequency in Hz).
        """
        start = _finite("start", start)
        stop = _finite("stop", stop)
        if start == stop:
            raise ParameterError("start and stop of the continuation must differ")
        slot = self._param_slot(param, population)
        p = self._pvec()
        inp = self._input_const(I_ext)
        (p if slot[0] == "p" else inp)[slot[1]] = start
        n_act = self._n_active(p)
        if y0 is None:
            states = self._fixed_point_states(p, inp)
            if not states:
                raise SimulationError(f"no fixed point at {param}={start}")
            y0 = min(states, key=lambda y: float(y[0]))
        F = self._F(p, inp, slot)
        lo, hi = min(start, stop), max(start, stop)
        scale = self._state_scale()[:n_act]
        br = continue_branch(
            F, np.asarray(y0, dtype=np.float64)[:n_act], start, lo, hi,
            y_scale=scale, p_scale=(hi - lo) if p_scale is None else p_scale,
            param_name=param, direction=1 if stop > start else -1,
            ds=min(0.01, ds_max), ds_max=ds_max, max_steps=max_steps,
        )
        if n_act < len(self.state_names):
            full = []
            for yv, pv in zip(br.states, br.params):
                pp = p.copy()
                ii = inp.copy()
                (pp if slot[0] == "p" else ii)[slot[1]] = pv
                y = np.zeros(len(self.state_names))
                y[:n_act] = yv
                y[n_act:] = self._complete_state(yv, pp)[n_act:]
                full.append(y)
            br.states = np.asarray(full)
        return br

    # -- simulation-based analyses ---------------------------------------------------------
    def with_param(self, param: str, value: float, population: str | None = None) -> MeanFieldModel:
        """A copy of the model with one parameter changed."""
        raise NotImplementedError  # pragma: no cover - abstract

    def hysteresis_sweep(
        self,
        param: str,
        values: Any,
        *,
        population: str | None = None,
        readout: str | None = None,
        t_settle_ms: float = 500.0,
        t_measure_ms: float = 200.0,
        dt_ms: float = 0.01,
        I_ext: Any = None,
        t_warmup_ms: float = 1000.0,
    ) -> HysteresisSweep:
        """Quasi-static up/down sweep of ``param`` through ``values`` by simulation.

        The model is first integrated for ``t_warmup_ms`` at the lowest value (from the
        default low-activity state); then at each value it is integrated for
        ``t_settle_ms`` from the previous end state, and the rate of population ``readout``
        is measured for ``t_measure_ms`` (mean, min, max).  Captures bistability between
        any attractors (fixed points or limit cycles).
        """
        vals = np.sort(np.asarray(values, dtype=np.float64))
        if vals.ndim != 1 or vals.size < 2 or not np.all(np.isfinite(vals)):
            raise ParameterError("values must be a finite 1-D array with at least 2 entries")
        slot = self._param_slot(param, population)
        n_settle = check_time(t_settle_ms, dt_ms)
        n_meas = check_time(t_measure_ms, dt_ms)
        inp_c = self._input_const(I_ext)
        ro = self._pop_index(readout)
        base_p = self._pvec()
        res = {}
        y = self._default_y0()
        if t_warmup_ms > 0:
            p = base_p.copy()
            inp = inp_c.copy()
            (p if slot[0] == "p" else inp)[slot[1]] = vals[0]
            n_warm = check_time(t_warmup_ms, dt_ms)
            series = np.ascontiguousarray(np.broadcast_to(inp, (n_warm, inp.size)))
            _, y, _, bad = self._integrate_kernel(y, p, series, float(dt_ms), n_warm)
            if bad:
                raise SimulationError(f"mean field diverged during warm-up at {param}={vals[0]}")
        for direction, seq in (("up", vals), ("down", vals[::-1])):
            mean, mn, mx = [], [], []
            for v in seq:
                p = base_p.copy()
                inp = inp_c.copy()
                (p if slot[0] == "p" else inp)[slot[1]] = v
                series = np.ascontiguousarray(np.broadcast_to(inp, (n_settle + n_meas, inp.size)))
                out, y_end, _, bad = self._integrate_kernel(y, p, series, float(dt_ms), 1)
                if bad:
                    raise SimulationError(
                        f"mean field diverged during the hysteresis sweep at {param}={v}",
                        hint="reduce dt_ms or check the parameters",
                    )
                r = out[n_settle:, ro] * 1e3
                mean.append(r.mean())
                mn.append(r.min())
                mx.append(r.max())
                y = y_end
            res[direction] = (np.asarray(mean), np.asarray(mn), np.asarray(mx))
        up, dn = res["up"], res["down"]
        return HysteresisSweep(
            param, self.population_names[ro], vals, up[0], dn[0][::-1], up[1], up[2],
            dn[1][::-1], dn[2][::-1],
        )

    def dominant_frequency(
        self,
        t_max_ms: float = 2000.0,
        dt_ms: float = 0.01,
        I_ext: Any = None,
        *,
        t_start_ms: float = 500.0,
        population: str | None = None,
        y0: np.ndarray | None = None,
        method: str = "peaks",
    ) -> float:
        """Oscillation frequency (Hz) of the population rate after ``t_start_ms``.

        ``method="peaks"`` (mean interval between maxima, precise for a limit cycle) or
        ``"spectrum"`` (largest spectral peak).  NaN when the rate settles to a fixed point:
        the peak-to-peak amplitude in the last quarter of the window is below 1e-3 of the
        mean rate, or below half of the amplitude in the first quarter (a decaying
        transient, not a limit cycle; lengthen ``t_max_ms`` if the approach is slow).
        """
        if not 0 <= t_start_ms < t_max_ms:
            raise ParameterError("t_start_ms must lie in [0, t_max_ms)")
        res = self.simulate(t_max_ms, dt_ms, I_ext, y0=y0, record_dt_ms=max(dt_ms, 0.05))
        if res.diverged:
            raise SimulationError("mean field diverged", hint="reduce dt_ms or check parameters")
        i = self._pop_index(population)
        m = res.t_ms >= t_start_ms
        r = res.rates_hz[i, m]
        q = max(r.size // 4, 2)
        amp_first, amp_last = float(np.ptp(r[:q])), float(np.ptp(r[-q:]))
        if amp_last <= 1e-3 * max(abs(float(r.mean())), 1e-9) or amp_last < 0.5 * amp_first:
            return math.nan
        dt_rec = float(res.t_ms[1] - res.t_ms[0])
        if method == "peaks":
            return peak_frequency_hz(r, dt_rec)
        if method == "spectrum":
            return dominant_frequency_hz(r, dt_rec)[0]
        raise ParameterError(f"unknown method {method!r}", hint="use 'peaks' or 'spectrum'")

    def _batch_kernel(self, Y0, Pm, inp, dt, rec_every):  # pragma: no cover - abstract
        raise NotImplementedError

    def _eta_slot(self, population_index: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_pvec(self, p: np.ndarray) -> None:
        """Raise ParameterError for invalid packed parameters (subclasses refine)."""
        if not np.all(np.isfinite(p)):
            raise ParameterError("parameter values contain NaN or inf")

    def simulate_batch(
        self,
        param: str | list[str],
        values: Any,
        t_max_ms: float,
        dt_ms: float = 0.01,
        I_ext: Any = None,
        *,
        population: str | list[str | None] | None = None,
        record_dt_ms: float | None = None,
        y0: np.ndarray | None = None,
    ) -> MeanFieldBatch:
        """Integrate many parameter sets at once (numba ``prange`` over sets, all cores).

        Parameters
        ----------
        param:
            Name of the varied parameter (any name accepted by :meth:`continuation`, incl.
            ``"I_ext"`` for a constant extra input), or a list of names (then ``values`` has
            one column per name and ``population`` one entry per name).
        values:
            Shape (n_sets,) for one parameter, (n_sets, n_params) for several.
        t_max_ms, dt_ms, I_ext:
            As in :meth:`simulate`; the input series is shared by all sets.
        population:
            Population of each varied parameter (needed with several populations).
        record_dt_ms:
            Sampling interval of the returned rates (default 0.1 ms).
        y0:
            Common initial state.

        Returns
        -------
        MeanFieldBatch
            Rates (n_sets, P, n_samples) in Hz, final states and a divergence flag per set.
        """
        names = [param] if isinstance(param, str) else list(param)
        pops = population if isinstance(population, list) else [population] * len(names)
        if len(pops) != len(names):
            raise ParameterError("give one population per varied parameter")
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim == 1 and len(names) == 1:
            vals = vals[:, None]
        if vals.ndim != 2 or vals.shape[1] != len(names) or vals.shape[0] < 1:
            raise ParameterError(
                f"values must have shape (n_sets, {len(names)}), got {np.shape(values)}"
            )
        if not np.all(np.isfinite(vals)):
            raise ParameterError("values contain NaN or inf")
        slots = [self._param_slot(nm, pp) for nm, pp in zip(names, pops)]
        n_steps = check_time(t_max_ms, dt_ms)
        base_inp = self._input_series(I_ext, n_steps)
        rec_dt = max(dt_ms, 0.1) if record_dt_ms is None else _finite("record_dt_ms", record_dt_ms)
        rec_every = min(max(1, int(round(rec_dt / dt_ms))), n_steps)
        Pm = np.repeat(self._pvec()[None, :], vals.shape[0], axis=0)
        for j, s in enumerate(slots):
            if s[0] == "p":
                Pm[:, s[1]] = vals[:, j]
        for j, s in enumerate(slots):
            if s[0] == "inp":
                # A constant extra input is exactly an extra drive: fold it into eta.
                Pm[:, self._eta_slot(s[1])] += vals[:, j]
        for p_row in Pm:
            self._validate_pvec(p_row)
        Y0 = np.ascontiguousarray(np.repeat(self._initial(y0)[None, :], vals.shape[0], axis=0))
        rates, final, bad = self._batch_kernel(Y0, Pm, base_inp, float(dt_ms), rec_every)
        t = (np.arange(rates.shape[1]) + 1) * rec_every * dt_ms
        labels = tuple(nm if pp is None else f"{nm}[{pp}]" for nm, pp in zip(names, pops))
        return MeanFieldBatch(
            labels, vals, t, np.transpose(rates, (0, 2, 1)) * 1e3, final, np.asarray(bad),
            self.population_names,
        )

    def _newton(self, y0: np.ndarray, p: np.ndarray, inp: np.ndarray) -> np.ndarray | None:
        n_act = self._n_active(p)
        F = self._F(p, inp)
        y = newton_fixed_point(F, y0[:n_act], 0.0, self._state_scale()[:n_act])
        if y is None:
            return None
        return self._complete_state(y, p) if n_act < len(self.state_names) else y
