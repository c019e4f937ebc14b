"""Current-clamp recordings with known answers: a leaky integrate-and-fire (LIF) neuron.

The membrane follows ``tau_m dV/dt = -(V - v_rest) + R_in I(t)`` and is integrated *exactly*
(piecewise-constant current per sample, exponential update), so every passive quantity has a
closed form: input resistance ``R_in``, membrane time constant ``tau_m``, resting potential,
rheobase ``(v_threshold - v_rest) / (R_in (1 - exp(-T / tau_m)))`` for a step of duration
``T``, first-spike latency and inter-spike interval.  When V reaches ``v_threshold`` a
stereotyped action potential is written from the sample that crossed (linear rise to
``v_peak`` in ``ap_rise_ms``, linear fall to ``v_reset`` in ``ap_fall_ms``), then integration
resumes from ``v_reset``; the spike's threshold, amplitude and half-width are therefore known
too (up to the sub-sample overshoot of the crossing).

The generator also produces the situations in which feature extractors fail: synaptic events
(brief current pulses, i.e. EPSPs) riding into a spike, sweeps that start depolarised, a
constant voltage offset, and measurement noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hetfit.data_adapters.traces.sweeps import Sweep, SweepSet
from hetfit.errors import ParameterError
from hetfit.seeding import SeedLike, as_generator


@dataclass(frozen=True)
class LIFNeuron:
    """LIF neuron with a stereotyped spike (units in the names).

    Parameters
    ----------
    r_input_MOhm, tau_m_ms, v_rest_mV, v_threshold_mV:
        Passive properties and the voltage threshold.
    v_reset_mV:
        Potential after each spike (the end of the spike waveform).
    v_peak_mV, ap_rise_ms, ap_fall_ms:
        Spike waveform: linear rise from threshold to the peak, linear fall to the reset.
    """

    r_input_MOhm: float = 150.0
    tau_m_ms: float = 20.0
    v_rest_mV: float = -70.0
    v_threshold_mV: float = -50.0
    v_reset_mV: float = -60.0
    v_peak_mV: float = 30.0
    ap_rise_ms: float = 0.5
    ap_fall_ms: float = 1.5

    def __post_init__(self) -> None:
        if not (self.r_input_MOhm > 0 and self.tau_m_ms > 0):
            raise ParameterError("r_input_MOhm and tau_m_ms must be positive")
        if not (self.v_rest_mV < self.v_threshold_mV < self.v_peak_mV):
            raise ParameterError("need v_rest_mV < v_threshold_mV < v_peak_mV")
        if not self.v_reset_mV < self.v_threshold_mV:
            raise ParameterError("v_reset_mV must lie below v_threshold_mV")
        if not (self.ap_rise_ms > 0 and self.ap_fall_ms > 0):
            raise ParameterError("ap_rise_ms and ap_fall_ms must be positive")

    # ---- closed forms -------------------------------------------------------------------
    @property
    def capacitance_pF(self) -> float:
        """C = tau_m / R_in (ms / MOhm = nF -> pF)."""
        return self.tau_m_ms / self.r_input_MOhm * 1e3

    @property
    def ap_duration_ms(self) -> float:
        return self.ap_rise_ms + self.ap_fall_ms

    @property
    def ap_amplitude_mV(self) -> float:
        """Peak minus threshold."""
        return self.v_peak_mV - self.v_threshold_mV

    @property
    def ap_half_width_ms(self) -> float:
        """Width at half height between threshold and peak of the linear spike waveform."""
        half = 0.5 * (self.v_peak_mV + self.v_threshold_mV)
        fall = self.ap_fall_ms * (self.v_peak_mV - half) / (self.v_peak_mV - self.v_reset_mV)
        return 0.5 * self.ap_rise_ms + fall

    def v_inf_mV(self, amplitude_pA: float) -> float:
        """Steady-state potential under a step (R_in I: MOhm * pA = 1e-3 mV)."""
        return self.v_rest_mV + self.r_input_MOhm * amplitude_pA * 1e-3

    def rheobase_pA(self, duration_ms: float = math.inf) -> float:
        """Smallest step (pA) that reaches threshold within ``duration_ms`` starting at rest."""
        gain = 1.0 if math.isinf(duration_ms) else -math.expm1(-duration_ms / self.tau_m_ms)
        return (self.v_threshold_mV - self.v_rest_mV) / (self.r_input_MOhm * gain) * 1e3

    def latency_ms(self, amplitude_pA: float) -> float:
        """Time from step onset (at rest) to the first threshold crossing (inf if none)."""
        v_inf = self.v_inf_mV(amplitude_pA)
        if v_inf <= self.v_threshold_mV:
            return math.inf
        return self.tau_m_ms * math.log((v_inf - self.v_rest_mV) / (v_inf - self.v_threshold_mV))

    def isi_ms(self, amplitude_pA: float) -> float:
        """Inter-spike interval under a sustained step (inf if subthreshold)."""
        v_inf = self.v_inf_mV(amplitude_pA)
        if v_inf <= self.v_threshold_mV:
            return math.inf
        return self.ap_duration_ms + self.tau_m_ms * math.log(
            (v_inf - self.v_reset_mV) / (v_inf - self.v_threshold_mV)
        )

    def spike_count(self, amplitude_pA: float, duration_ms: float) -> int:
        """Number of threshold crossings during a step of ``duration_ms`` (continuous time)."""
        first = self.latency_ms(amplitude_pA)
        if not first < duration_ms:
            return 0
        return 1 + int(math.floor((duration_ms - first) / self.isi_ms(amplitude_pA) + 1e-12))


@dataclass(frozen=True)
class SynapticEvent:
    """A brief current pulse added to one sweep (an EPSP when positive).

    ``charge_pC`` is delivered as a square pulse of ``duration_ms`` starting at ``time_ms``;
    the voltage jump is about ``charge_pC / C``.
    """

    sweep: int
    time_ms: float
    charge_pC: float
    duration_ms: float = 0.5


def simulate_steps(
    neuron: LIFNeuron,
    amplitudes_pA: Sequence[float],
    stim_start_ms: float = 100.0,
    stim_end_ms: float = 600.0,
    sweep_ms: float = 800.0,
    dt_ms: float = 0.1,
    noise_mV: float = 0.0,
    seed: SeedLike = None,
    holding_pA: float = 0.0,
    events: Sequence[SynapticEvent] = (),
    v_initial_mV: float | Sequence[float] | None = None,
    v_offset_mV: float = 0.0,
    cell_id: str = "lif",
) -> SweepSet:
    """Simulate a square-step protocol on ``neuron`` and return the sweeps.

    Parameters
    ----------
    amplitudes_pA:
        One step amplitude per sweep (pA, relative to ``holding_pA``).
    stim_start_ms, stim_end_ms, sweep_ms, dt_ms:
        Step window, sweep length and sampling interval (ms).
    noise_mV:
        SD of Gaussian measurement noise added to the recorded voltage (mV).
    seed:
        Seed for the noise (same seed, same traces).
    events:
        Synaptic current pulses (not part of the command waveform).
    v_initial_mV:
        Potential at the first sample of each sweep (default: the steady state under the
        holding current); a depolarised start relaxes with ``tau_m``.
    v_offset_mV:
        Constant added to the recorded voltage (an uncorrected offset).
    """
    amps = np.asarray(amplitudes_pA, dtype=np.float64)
    if amps.ndim != 1 or amps.size == 0 or not np.all(np.isfinite(amps)):
        raise ParameterError("amplitudes_pA must be a non-empty 1-D list of finite values")
    if not (0 < stim_start_ms < stim_end_ms <= sweep_ms) or not dt_ms > 0:
        raise ParameterError("need 0 < stim_start_ms < stim_end_ms <= sweep_ms and dt_ms > 0")
    from scipy.signal import lfilter

    rng = as_generator(seed)
    n = int(round(sweep_ms / dt_ms))
    t = np.arange(n, dtype=np.float64) * dt_ms
    on = (t >= stim_start_ms - 1e-9) & (t < stim_end_ms - 1e-9)
    decay = math.exp(-dt_ms / neuron.tau_m_ms)
    n_rise = max(1, int(round(neuron.ap_rise_ms / dt_ms)))
    n_fall = max(1, int(round(neuron.ap_fall_ms / dt_ms)))
    rise = np.arange(n_rise) / n_rise
    fall = neuron.v_peak_mV + (neuron.v_reset_mV - neuron.v_peak_mV) * np.arange(n_fall) / n_fall
    v0 = np.broadcast_to(
        np.asarray(neuron.v_inf_mV(holding_pA) if v_initial_mV is None else v_initial_mV,
                   dtype=np.float64), amps.shape)
    sweeps = []
    for k, amp in enumerate(amps):
        command = np.where(on, holding_pA + amp, holding_pA)
        injected = command.copy()
        for ev in events:
            if ev.sweep == k:
                pulse = (t >= ev.time_ms - 1e-9) & (t < ev.time_ms + ev.duration_ms - 1e-9)
                injected[pulse] += ev.charge_pC / ev.duration_ms * 1e3  # pC/ms = nA -> pA
        v_inf = neuron.v_rest_mV + neuron.r_input_MOhm * injected * 1e-3
        v = np.empty(n)
        v[0] = v0[k]
        i = 0  # v[: i + 1] is final
        while i < n - 1:
            # exact update v[j+1] = d v[j] + (1 - d) v_inf[j] as a linear filter, up to the
            # next threshold crossing
            seg, _ = lfilter([1.0 - decay], [1.0, -decay], v_inf[i:n - 1], zi=[decay * v[i]])
            cross = np.flatnonzero(seg >= neuron.v_threshold_mV)
            if v[i] >= neuron.v_threshold_mV and i == 0:
                cross = np.array([-1])  # starts above threshold: spike at once
            if cross.size == 0:
                v[i + 1:] = seg
                break
            c = i + 1 + int(cross[0])  # first sample at or above threshold
            v[i + 1:c + 1] = seg[: c - i]
            # the spike rises from the sample that crossed threshold: no flat step at the
            # crossing, so dV/dt keeps the shape a real upstroke has
            spike = np.concatenate([v[c] + (neuron.v_peak_mV - v[c]) * rise, fall])
            m = min(spike.size, n - c)
            v[c:c + m] = spike[:m]
            i = c + m
            if i >= n:
                break
            v[i] = neuron.v_reset_mV
        recorded = v + v_offset_mV
        if noise_mV > 0:
            recorded = recorded + rng.normal(0.0, noise_mV, size=n)
        sweeps.append(Sweep(
            time_ms=t, voltage_mV=recorded, current_pA=command,
            stim_start_ms=float(t[on][0]), stim_end_ms=float(t[on][-1] + dt_ms),
            stim_amplitude_pA=float(amp), holding_pA=float(holding_pA), sweep_number=k,
            label=f"sweep {k}",
        ))
    return SweepSet(tuple(sweeps), cell_id=cell_id, source="simulated LIF neuron",
                    notes=(f"simulated: {neuron}",))
