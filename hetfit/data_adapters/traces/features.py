"""Per-cell features from a current-step :class:`SweepSet`, each with a quality flag.

Every feature of :data:`CELL_FEATURES` (canonical names of
:mod:`hetfit.data_adapters.schema`) is returned as a :class:`Feature`: a value, a flag
``"ok"`` / ``"warn"`` / ``"missing"`` and, unless ok, the reason.  Nothing is silently
dropped: a value that cannot be measured is ``NaN`` with the reason; a value outside the
schema's plausible range is set to ``NaN`` with the measured value in the reason.

Definitions (sweeps are grouped by step amplitude):

``rheobase_pA``
    Smallest positive step with at least one spike during the step.  Missing when no step
    spikes, when the cell already fires at 0 pA, when the smallest step spikes (the rheobase
    is then only bounded), or when the bracket (largest silent step below it) is wider than
    ``max_rheobase_bracket_fraction`` of the rheobase.  ``warn`` when the bracket is wider
    than ``max_rheobase_step_fraction``, or a larger step is silent.
``v_threshold_mV``, ``ap_width_ms``, ``ap_amplitude_mV``, ``upstroke_downstroke_ratio``
    eFEL ``AP_begin_voltage``, ``AP_duration_half_width``, peak minus threshold, and the
    largest dV/dt of the upstroke over the largest |dV/dt| of the downstroke, of the first
    spike at rheobase (or of the first spiking step), skipping spikes whose onset sits on a
    preceding depolarizing event (see :mod:`.spikes`).
``latency_ms``
    From the step onset to the onset of the first spike at rheobase.
``v_rest_mV``
    Median of the per-sweep baselines (sweeps without holding current preferred).
``r_input_MOhm``, ``tau_m_ms``, ``sag``, ``capacitance_pF``
    See :mod:`.passive`; ``capacitance_pF = tau_m / R_in``.
``fi_slope_Hz_per_pA``
    Least-squares slope of firing rate (spikes / step duration) against amplitude from the
    rheobase step up to the step with the highest rate.
``adaptation``, ``mean_isi_ms``
    On the first step with at least ``min_spikes_adaptation`` spikes: the mean of
    ``(ISI[i+1] - ISI[i]) / (ISI[i+1] + ISI[i])`` (the Allen Institute's adaptation index)
    and the mean ISI.
``distance_to_threshold_mV``
    ``v_threshold_mV - v_rest_mV``.

Known eFEL failure modes are detected and flagged: thresholds placed on a preceding EPSP,
spikes missed or invented when a trace starts or sits depolarised, a noisy baseline, and too
few sweeps for a feature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetfit.data_adapters.schema import FEATURES
from hetfit.data_adapters.traces.passive import (
    SweepLevels,
    fit_rin,
    fit_tau,
    fixed_pulses,
    sag_ratio,
    sweep_levels,
)
from hetfit.data_adapters.traces.spikes import (
    SpikeSettings,
    SweepSpikes,
    independent_peaks,
    sweep_spikes,
)
from hetfit.data_adapters.traces.sweeps import SweepSet
from hetfit.errors import InsufficientDataError

OK, WARN, MISSING = "ok", "warn", "missing"
# Healthy action potentials rise 60-110 mV from threshold; below this they are suspect.
_SMALL_SPIKE_MV = 40.0

CELL_FEATURES: tuple[str, ...] = (
    "v_rest_mV", "v_threshold_mV", "distance_to_threshold_mV", "rheobase_pA", "tau_m_ms",
    "r_input_MOhm", "capacitance_pF", "sag", "fi_slope_Hz_per_pA", "ap_width_ms",
    "ap_amplitude_mV", "adaptation", "mean_isi_ms", "latency_ms", "upstroke_downstroke_ratio",
)


@dataclass(frozen=True)
class FeatureSettings:
    """Settings of feature extraction (units in the names).

    Parameters
    ----------
    spikes:
        Spike detection settings (eFEL thresholds, independent detector).
    baseline_ms:
        Length of the baseline window before the step.
    steady_state_fraction:
        Final fraction of the step used for the steady state (at most 100 ms).
    rin_max_deflection_mV:
        Steps used for R_in deflect the membrane by at most this much (the linear range).
    tau_min_deflection_mV, tau_max_deflection_mV, tau_max_sweeps:
        Hyperpolarizing steps used for tau: deflection within these bounds, the smallest
        ``tau_max_sweeps`` of them.
    max_noise_mV:
        Baseline noise (robust SD) above which dV/dt-based and passive features are flagged.
    depolarised_mV:
        A baseline above this is flagged as depolarised.
    max_baseline_spread_mV:
        Spread of the baselines across sweeps above which the resting potential is flagged.
    min_spikes_adaptation:
        Spikes needed on a step for adaptation and mean ISI.
    max_rheobase_step_fraction, max_rheobase_bracket_fraction:
        The rheobase is bracketed by the largest silent step below it: a bracket wider than
        the first fraction of the rheobase is flagged, wider than the second it is too
        coarse to report (missing).
    min_sweeps:
        Fewer sweeps than this are flagged at the cell level.
    use_fixed_pulses:
        Also use hyperpolarizing pulses that every sweep repeats outside the main step (test
        pulses) for R_in, tau and sag (see :func:`.passive.fixed_pulses`).
    """

    spikes: SpikeSettings = field(default_factory=SpikeSettings)
    baseline_ms: float = 100.0
    steady_state_fraction: float = 0.1
    rin_max_deflection_mV: float = 15.0
    tau_min_deflection_mV: float = 2.0
    tau_max_deflection_mV: float = 30.0
    tau_max_sweeps: int = 3
    max_noise_mV: float = 1.0
    depolarised_mV: float = -40.0
    max_baseline_spread_mV: float = 5.0
    min_spikes_adaptation: int = 4
    max_rheobase_step_fraction: float = 0.25
    max_rheobase_bracket_fraction: float = 0.5
    min_sweeps: int = 3
    use_fixed_pulses: bool = True


@dataclass(frozen=True)
class Feature:
    """One feature value with its quality.

    Attributes
    ----------
    value:
        In the canonical unit of the feature's name; NaN when missing.
    flag:
        ``"ok"``, ``"warn"`` (value kept, but see ``reason``) or ``"missing"``.
    reason:
        Why the value is missing or suspect (empty when ok).
    sweeps:
        Sweep numbers the value was computed from.
    """

    value: float
    flag: str
    reason: str = ""
    sweeps: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"value": None if not math.isfinite(self.value) else float(self.value),
                "flag": self.flag, "reason": self.reason, "sweeps": list(self.sweeps)}


def _missing(reason: str) -> Feature:
    return Feature(float("nan"), MISSING, reason)


def _with(value: float, problems: list[str], sweeps=()) -> Feature:
    if not math.isfinite(value):  # e.g. a zero deflection: never report NaN as ok
        return Feature(float("nan"), MISSING, "; ".join(["not measurable (no finite value)",
                                                          *problems]),
                       tuple(int(s) for s in sweeps))
    return Feature(float(value), WARN if problems else OK, "; ".join(problems),
                   tuple(int(s) for s in sweeps))


@dataclass
class CellFeatures:
    """Features of one cell with quality flags, per-sweep measurements and notes."""

    cell_id: str
    source: str
    features: dict[str, Feature]
    sweeps: list[dict[str, Any]]
    notes: list[str]

    def __getitem__(self, name: str) -> Feature:
        return self.features[name]

    def values(self) -> dict[str, float]:
        """Feature name -> value (NaN when missing)."""
        return {k: f.value for k, f in self.features.items()}

    def flags(self) -> dict[str, str]:
        return {k: f.flag for k, f in self.features.items()}

    def reasons(self) -> dict[str, str]:
        """Feature name -> reason, for every feature that is not ok."""
        return {k: f.reason for k, f in self.features.items() if f.flag != OK}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        from hetfit.io import to_jsonable

        return to_jsonable({
            "cell_id": self.cell_id, "source": self.source,
            "features": {k: f.to_dict() for k, f in self.features.items()},
            "sweeps": self.sweeps, "notes": self.notes,
        })

    def to_row(self) -> dict[str, Any]:
        """Flat row: ``cell_id``, ``source``, feature values, ``qc_<feature>`` flags and
        ``qc_reason_<feature>`` reasons."""
        row: dict[str, Any] = {"cell_id": self.cell_id, "source": self.source}
        row.update(self.values())
        row.update({f"qc_{k}": f.flag for k, f in self.features.items()})
        row.update({f"qc_reason_{k}": f.reason for k, f in self.features.items()})
        return row

    def to_frame(self):
        """One-row pandas DataFrame of :meth:`to_row`."""
        import pandas as pd

        return pd.DataFrame([self.to_row()])

    def sweeps_frame(self):
        """Per-sweep measurements (amplitude, baseline, steady state, spike counts from eFEL
        and from the independent detector, issues) as a DataFrame, one row per sweep;
        negative sweep numbers are fixed pre-step pulses."""
        import pandas as pd

        return pd.DataFrame(self.sweeps)


# ------------------------------------------------------------------------------ helpers
def _plausible(name: str, feat: Feature) -> Feature:
    """Values outside the schema's range become missing, keeping the measured value."""
    if feat.flag == MISSING or name not in FEATURES:
        return feat
    spec = FEATURES[name]
    lo, hi = getattr(spec, "typical_median", None) or spec.plausible
    if lo <= feat.value <= hi:
        return feat
    reason = (f"measured {feat.value:.4g} {spec.unit} is outside the plausible range "
              f"[{lo:g}, {hi:g}] {spec.unit} (offset, model cell or failed recording?)")
    if feat.reason:
        reason += f"; {feat.reason}"
    return Feature(float("nan"), MISSING, reason, feat.sweeps)


def _sweep_row(sw, lv: SweepLevels, sp: SweepSpikes | None, n_base: int | None) -> dict:
    """The per-sweep measurements reported in :attr:`CellFeatures.sweeps`."""
    return {
        "sweep_number": sw.sweep_number, "label": sw.label,
        "amplitude_pA": sw.stim_amplitude_pA, "holding_pA": sw.holding_pA,
        "stim_start_ms": sw.stim_start_ms, "stim_end_ms": sw.stim_end_ms,
        "baseline_mV": lv.baseline_mV, "baseline_noise_mV": lv.baseline_noise_mV,
        "steady_state_mV": lv.steady_state_mV, "deflection_mV": lv.deflection_mV,
        "clipped": lv.clipped, "n_spikes": None if sp is None else sp.count,
        "n_spikes_efel": None if sp is None else sp.n_efel,
        "n_spikes_independent": None if sp is None else sp.n_independent,
        "spike_source": "" if sp is None else sp.source,
        "spikes_in_baseline": n_base, "issues": [] if sp is None else list(sp.issues),
    }


def _baseline_spikes(sw, lv: SweepLevels, st: FeatureSettings) -> int:
    b0, b1 = lv.baseline_window_ms
    if not math.isfinite(b0):
        return 0
    return int(independent_peaks(sw.voltage_mV, sw.dt_ms, st.spikes, sw.index_of(b0),
                                 sw.index_of(b1) + 1).size)


def compute_features(sweeps: SweepSet, settings: FeatureSettings | None = None) -> CellFeatures:
    """Extract every feature of :data:`CELL_FEATURES` with quality flags from ``sweeps``.

    Raises
    ------
    InsufficientDataError
        When ``sweeps`` is empty.
    """
    st = settings or FeatureSettings()
    if len(sweeps) == 0:
        raise InsufficientDataError(
            f"{sweeps.cell_id or 'cell'}: no sweeps to extract features from",
            hint="check the recording; every sweep may have been dropped by the reader",
        )
    notes = list(sweeps.notes)
    if sweeps.dropped:
        notes.append(f"{len(sweeps.dropped)} sweep(s) dropped by the reader: "
                     + "; ".join(f"{n}: {r}" for n, r in sweeps.dropped[:5]))
    if len(sweeps) < st.min_sweeps:
        notes.append(f"only {len(sweeps)} sweep(s): too few for a step protocol "
                     f"(at least {st.min_sweeps} expected)")
    levels = [sweep_levels(sw, st.baseline_ms, st.steady_state_fraction) for sw in sweeps]
    spikes = [sweep_spikes(sw, st.spikes) for sw in sweeps]
    base_spikes = np.array([_baseline_spikes(sw, lv, st) for sw, lv in zip(sweeps, levels)])
    rows = [_sweep_row(sw, lv, sp, int(nb))
            for sw, lv, sp, nb in zip(sweeps, levels, spikes, base_spikes)]
    # fixed pre-step pulses: extra hyperpolarizing steps for the passive features only
    pulses = fixed_pulses(sweeps) if st.use_fixed_pulses else []
    p_levels = [sweep_levels(p, st.baseline_ms, st.steady_state_fraction) for p in pulses]
    p_spikes = [sweep_spikes(p, st.spikes) for p in pulses]
    for p, lv, sp in zip(pulses, p_levels, p_spikes):
        notes.append(f"passive features also use the {p.label} (sweep number {p.sweep_number})")
        rows.append(_sweep_row(p, lv, sp, None))

    amps = np.array([sw.stim_amplitude_pA for sw in sweeps])
    nums = np.array([sw.sweep_number for sw in sweeps])
    counts = np.array([sp.count for sp in spikes])
    noise = np.array([lv.baseline_noise_mV for lv in levels])
    med_noise = float(np.nanmedian(noise)) if np.any(np.isfinite(noise)) else float("nan")
    noise_msg = (f"noisy baseline (noise SD {med_noise:.2f} mV > {st.max_noise_mV:g} mV)"
                 if math.isfinite(med_noise) and med_noise > st.max_noise_mV else "")

    feats: dict[str, Feature] = {}
    feats["v_rest_mV"], baseline = _rest(sweeps, levels, base_spikes, noise_msg, st)
    depolarised = math.isfinite(baseline) and baseline > st.depolarised_mV
    depol_msg = (f"depolarised baseline ({baseline:.1f} mV > {st.depolarised_mV:g} mV): spike "
                 "detection and thresholds unreliable" if depolarised else "")

    rheo, spiking_index = _rheobase(amps, nums, counts, len(sweeps), st)
    rheo = _qualify_rheobase(rheo, spiking_index, amps, nums, spikes)
    feats["rheobase_pA"] = rheo
    feats.update(_spike_shape(sweeps, spikes, spiking_index, amps, noise_msg, depol_msg))
    if rheo.flag == MISSING and feats["latency_ms"].flag != MISSING:
        lat = feats["latency_ms"]
        feats["latency_ms"] = Feature(lat.value, WARN, "; ".join(filter(None, [
            f"rheobase undefined: latency of the first spiking step "
            f"({amps[spiking_index]:g} pA), which depends on its distance to the rheobase",
            lat.reason])), lat.sweeps)
    # passive features: main steps plus fixed hyperpolarizing pulses
    all_sweeps = list(sweeps) + pulses
    all_levels = levels + p_levels
    passive = (
        np.array([sw.stim_amplitude_pA for sw in all_sweeps]),
        np.array([sw.sweep_number for sw in all_sweeps], dtype=int),
        np.array([sp.count for sp in spikes + p_spikes], dtype=int),
        np.array([lv.clipped for lv in all_levels], dtype=bool),
        all_levels,
    )
    feats["r_input_MOhm"] = _rin(*passive, noise_msg, st)
    feats["tau_m_ms"] = _tau(all_sweeps, *passive, noise_msg, st)
    feats["sag"] = _sag(all_sweeps, *passive, st)
    feats["fi_slope_Hz_per_pA"] = _fi_slope(sweeps, amps, nums, counts, rheo, spikes, st)
    feats["adaptation"], feats["mean_isi_ms"] = _adaptation(amps, nums, spikes, st)

    # plausibility before the derived features, so that they inherit a rejection
    for name in list(feats):
        feats[name] = _plausible(name, feats[name])
    feats["distance_to_threshold_mV"] = _derived(
        feats["v_threshold_mV"], feats["v_rest_mV"], lambda a, b: a - b, "threshold", "rest")
    feats["capacitance_pF"] = _derived(
        feats["tau_m_ms"], feats["r_input_MOhm"], lambda a, b: a / b * 1e3, "tau_m", "R_in")
    for name in ("distance_to_threshold_mV", "capacitance_pF"):
        feats[name] = _plausible(name, feats[name])
    ordered = {name: feats[name] for name in CELL_FEATURES}
    return CellFeatures(sweeps.cell_id, sweeps.source, ordered, rows, notes)


def _derived(a: Feature, b: Feature, fn, name_a: str, name_b: str) -> Feature:
    if a.flag == MISSING or b.flag == MISSING:
        which = [n for n, f in ((name_a, a), (name_b, b)) if f.flag == MISSING]
        return _missing(f"needs {' and '.join(which)}, which {'is' if len(which) == 1 else 'are'} "
                        "missing")
    problems = [f"{n}: {f.reason}" for n, f in ((name_a, a), (name_b, b)) if f.flag == WARN]
    return _with(fn(a.value, b.value), problems, tuple(sorted(set(a.sweeps) | set(b.sweeps))))


def _rest(sweeps, levels, base_spikes, noise_msg, st) -> tuple[Feature, float]:
    base = np.array([lv.baseline_mV for lv in levels])
    hold = np.array([sw.holding_pA for sw in sweeps])
    nums = [sw.sweep_number for sw in sweeps]
    free = np.abs(hold) < 1.0
    problems = []
    use = free if free.any() else np.ones_like(free)
    if not free.any():
        problems.append(f"holding current {np.median(hold):.0f} pA in every sweep: the baseline "
                        "is not the resting potential")
    value = float(np.median(base[use]))
    spread = float(base[use].max() - base[use].min())
    if spread > st.max_baseline_spread_mV:
        problems.append(f"baseline varies by {spread:.1f} mV across sweeps (unstable recording)")
    if np.any(base_spikes[use] > 0):
        problems.append(f"spontaneous spikes in the baseline of {int(np.sum(base_spikes[use] > 0))}"
                        " sweep(s)")
    if noise_msg:
        problems.append(noise_msg)
    if value > st.depolarised_mV:
        problems.append(f"depolarised baseline ({value:.1f} mV)")
    return _with(value, problems, [n for n, u in zip(nums, use) if u]), value


def _qualify_rheobase(rheo: Feature, spiking_index, amps, nums, spikes) -> Feature:
    """Warn when the rheobase rests on the independent detector or on synaptic spikes."""
    if rheo.flag == MISSING:
        return rheo
    extra = []
    near = [i for i in range(len(amps)) if 0 <= amps[i] <= rheo.value
            and spikes[i].source != "efel"]
    if near:
        extra.append("spike counts from the independent detector (eFEL disagreed) in "
                     f"sweep(s) {[int(nums[i]) for i in near][:5]}")
    if spiking_index is not None and bool(np.all(spikes[spiking_index].onset_suspect)):
        extra.append(f"every spike at {rheo.value:g} pA rides on a preceding depolarizing "
                     "event (EPSP?): the rheobase may be underestimated")
    if not extra:
        return rheo
    return Feature(rheo.value, WARN, "; ".join(filter(None, [rheo.reason, *extra])), rheo.sweeps)


def _rheobase(amps, nums, counts, n_sweeps, st) -> tuple[Feature, int | None]:
    """Rheobase and the index of the sweep whose first spike defines the threshold."""
    pos = np.flatnonzero(amps > 0)
    spiking_pos = [i for i in pos if counts[i] > 0]
    first_spiking = min(spiking_pos, key=lambda i: (amps[i], i)) if spiking_pos else None
    if pos.size == 0:
        return _missing("no depolarizing step in the recording"), None
    if first_spiking is None:
        return _missing(f"no spikes up to the largest step ({amps.max():g} pA)"), None
    zero_spiking = [i for i in np.flatnonzero(amps == 0) if counts[i] > 0]
    if zero_spiking:
        return _missing(f"the cell fires during the 0 pA step ({counts[zero_spiking[0]]} spike(s)):"
                        " spontaneous activity, rheobase undefined"), first_spiking
    a_r = float(amps[first_spiking])
    silent_below = [i for i in np.flatnonzero(amps < a_r) if amps[i] >= 0 and counts[i] == 0]
    if not silent_below:
        return _missing(f"the smallest depolarizing step ({a_r:g} pA) already evokes spikes: "
                        "the rheobase is below it"), first_spiking
    a_l = float(max(amps[i] for i in silent_below))
    problems = []
    if n_sweeps < st.min_sweeps:
        problems.append(f"only {n_sweeps} sweep(s)")
    gap = a_r - a_l
    if gap > st.max_rheobase_bracket_fraction * a_r:
        return _missing(f"steps too coarse: the rheobase lies somewhere in ({a_l:g}, {a_r:g}] "
                        "pA"), first_spiking
    if gap > st.max_rheobase_step_fraction * a_r:
        problems.append(f"coarse steps: rheobase lies in ({a_l:g}, {a_r:g}] pA")
    silent_above = sorted({float(amps[i]) for i in np.flatnonzero(amps > a_r) if counts[i] == 0})
    if silent_above:
        problems.append(f"step(s) above rheobase without spikes: {silent_above[:3]} pA")
    return _with(a_r, problems, [nums[first_spiking]]), first_spiking


def _spike_shape(sweeps, spikes, start_index, amps, noise_msg, depol_msg) -> dict[str, Feature]:
    names = ("v_threshold_mV", "ap_width_ms", "ap_amplitude_mV", "upstroke_downstroke_ratio",
             "latency_ms")
    if start_index is None:
        reason = ("no depolarizing step" if not np.any(amps > 0)
                  else "no spikes during any depolarizing step")
        return {n: _missing(reason) for n in names}
    order = [i for i in np.argsort(amps, kind="stable") if amps[i] >= amps[start_index]
             and spikes[i].count > 0]
    order.remove(start_index)
    order.insert(0, start_index)
    chosen, skipped = None, 0
    for i in order:
        sp = spikes[i]
        clean = np.flatnonzero(~sp.onset_suspect & np.isfinite(sp.threshold_mV))
        if clean.size:
            chosen = (i, int(clean[0]))
            break
        skipped += sp.count
    if chosen is None:
        i = start_index
        return {n: _missing("every spike's onset sits on a preceding depolarizing event "
                            f"(onset {spikes[i].upstroke_delay_ms[0]:.1f} ms before the half-"
                            "maximal upstroke); threshold cannot be placed") for n in names}
    i, j = chosen
    sp, sw = spikes[i], sweeps[i]
    problems = []
    first = spikes[start_index]
    if i != start_index or j != 0:
        d = first.upstroke_delay_ms[0]
        problems.append(
            f"threshold misplaced on the first spike at {amps[start_index]:g} pA: its onset "
            f"({first.threshold_mV[0]:.1f} mV) precedes the upstroke by {d:.1f} ms (preceding "
            f"EPSP/depolarizing event); used spike {j + 1} of the {amps[i]:g} pA step instead")
    if sp.source != "efel":
        problems.append("spikes from the independent detector: " + "; ".join(sp.issues))
    elif sp.issues:
        problems.extend(sp.issues)
    if noise_msg:
        problems.append(noise_msg)
    if depol_msg:
        problems.append(depol_msg)
    num = [sw.sweep_number]
    shape_problems = list(problems)
    if sp.amplitude_mV[j] < _SMALL_SPIKE_MV:
        shape_problems.append(f"small spike ({sp.amplitude_mV[j]:.0f} mV from threshold to peak):"
                              " unhealthy cell, or filtering by an uncompensated access "
                              "resistance?")
    ratio = sp.upstroke_mV_per_ms[j] / abs(sp.downstroke_mV_per_ms[j]) \
        if sp.downstroke_mV_per_ms[j] < 0 else float("nan")
    lat_problems = [first.issues[0]] if first.source != "efel" and first.issues else []
    if first.onset_suspect[0]:
        lat_problems.append(f"the first spike at {amps[start_index]:g} pA rides on a preceding "
                            "depolarizing event (EPSP?)")
    return {
        "v_threshold_mV": _with(sp.threshold_mV[j], problems, num),
        "ap_width_ms": _with(sp.half_width_ms[j], shape_problems, num)
        if math.isfinite(sp.half_width_ms[j]) else _missing("half-width not measurable"),
        "ap_amplitude_mV": _with(sp.amplitude_mV[j], shape_problems, num),
        "upstroke_downstroke_ratio": _with(ratio, shape_problems, num),
        "latency_ms": _with(first.onset_time_ms[0] - sweeps[start_index].stim_start_ms,
                            lat_problems, [sweeps[start_index].sweep_number]),
    }


def _rin(amps, nums, counts, clipped, levels, noise_msg, st) -> Feature:
    defl = np.array([lv.deflection_mV for lv in levels])
    quiet = (counts == 0) & ~clipped & (amps != 0) & np.isfinite(defl)
    small = quiet & (np.abs(defl) <= st.rin_max_deflection_mV)
    problems = []
    use = np.flatnonzero(small)
    if use.size == 0:
        hyper = [i for i in np.argsort(np.abs(amps)) if quiet[i] and amps[i] < 0][:2]
        if not hyper:
            return _missing("no subthreshold step without spikes or clipping")
        use = np.array(hyper)
        problems.append(f"no step deflects less than {st.rin_max_deflection_mV:g} mV: used "
                        f"{np.round(defl[use], 1).tolist()} mV (V-I nonlinearity may bias R_in)")
    if use.size == 1:
        problems.append("from a single step")
    r, r2 = fit_rin(amps[use], defl[use])
    if use.size >= 3 and math.isfinite(r2) and r2 < 0.95:
        problems.append(f"V-I relation not linear (R^2 = {r2:.2f})")
    if noise_msg and np.min(np.abs(defl[use])) < 5 * float(np.nanmax([lv.baseline_noise_mV for lv in levels])):
        problems.append(noise_msg)
    return _with(r, problems, nums[use])


def _tau(sweeps, amps, nums, counts, clipped, levels, noise_msg, st) -> Feature:
    defl = np.array([lv.deflection_mV for lv in levels])
    cand = [i for i in np.argsort(np.abs(amps), kind="stable")
            if amps[i] < 0 and counts[i] == 0 and not clipped[i]]
    if not cand:
        return _missing("no hyperpolarizing step without spikes or clipping")
    good = [i for i in cand if st.tau_min_deflection_mV <= -defl[i] <= st.tau_max_deflection_mV]
    problems = []
    if not good:
        good = cand[:1]
        problems.append(f"no hyperpolarizing deflection within [{st.tau_min_deflection_mV:g}, "
                        f"{st.tau_max_deflection_mV:g}] mV: used {defl[good[0]]:.1f} mV")
    taus, used, fails, caveats = [], [], [], []
    for i in good[: st.tau_max_sweeps]:
        fit = fit_tau(sweeps[i], levels[i])
        if fit.ok:
            taus.append(fit.tau_ms)
            used.append(nums[i])
            if fit.reason:
                caveats.append(f"{amps[i]:g} pA: {fit.reason}")
        else:
            fails.append(f"{amps[i]:g} pA: {fit.reason}")
    if not taus:
        return _missing("exponential fit failed on every hyperpolarizing step (" +
                        "; ".join(fails) + ")")
    if fails:
        problems.append("fit rejected for " + "; ".join(fails))
    problems.extend(caveats)
    if len(taus) > 1 and max(taus) / min(taus) > 1.5:
        problems.append(f"tau varies across steps ({min(taus):.1f} to {max(taus):.1f} ms)")
    if noise_msg:
        problems.append(noise_msg)
    return _with(float(np.median(taus)), problems, used)


def _sag(sweeps, amps, nums, counts, clipped, levels, st) -> Feature:
    cand = [i for i in np.argsort(amps, kind="stable")
            if amps[i] < 0 and counts[i] == 0 and not clipped[i]]
    if not cand:
        return _missing("no hyperpolarizing step without spikes or clipping")
    i = cand[0]
    lv = levels[i]
    peak = lv.extreme_mV - lv.baseline_mV
    problems = []
    if -peak < 5.0:
        problems.append(f"small deflection ({peak:.1f} mV): sag unreliable")
    # the extreme of a noisy trace is biased by about 3 SD of the smoothed noise
    bias = 3.0 * lv.baseline_noise_mV / math.sqrt(max(1.0, 5.0 / sweeps[i].dt_ms))
    if math.isfinite(bias) and bias > 0.05 * abs(peak):
        problems.append(f"noise (SD {lv.baseline_noise_mV:.2f} mV) biases the sag peak by up to "
                        f"{bias:.1f} mV of a {abs(peak):.1f} mV deflection")
    return _with(sag_ratio(lv), problems, [nums[i]])


def _fi_slope(sweeps, amps, nums, counts, rheo: Feature, spikes, st) -> Feature:
    pos = [i for i in np.argsort(amps, kind="stable") if amps[i] > 0]
    if not any(counts[i] > 0 for i in pos):
        return _missing("no spikes during any depolarizing step")
    start_amp = rheo.value if rheo.flag != MISSING else min(amps[i] for i in pos if counts[i] > 0)
    supra = [i for i in pos if amps[i] >= start_amp]
    rates = np.array([counts[i] / (sweeps[i].stim_duration_ms / 1e3) for i in supra])
    last = int(np.argmax(rates))
    sel = supra[: last + 1]
    problems = []
    if rheo.flag == MISSING:
        problems.append("rheobase undefined: slope from the first spiking step")
    if len(sel) < 2:
        return _missing(f"only {len(sel)} step(s) from rheobase to the highest rate")
    if len(sel) == 2:
        problems.append("from 2 steps only")
    indep = [nums[i] for i in sel if spikes[i].source != "efel"]
    if indep:
        problems.append(f"spikes counted by the independent detector in sweeps "
                        f"{[int(x) for x in indep[:5]]}")
    x, y = amps[sel], rates[: last + 1]
    sxx = float(np.sum((x - x.mean()) ** 2))
    if sxx == 0:
        return _missing("the suprathreshold steps all have the same amplitude")
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx)  # least squares
    return _with(slope, problems, nums[sel])


def _adaptation(amps, nums, spikes, st) -> tuple[Feature, Feature]:
    pos = [i for i in np.argsort(amps, kind="stable") if amps[i] > 0 and spikes[i].count > 0]
    if not pos:
        r = "no spikes during any depolarizing step"
        return _missing(r), _missing(r)
    rich = [i for i in pos if spikes[i].count >= st.min_spikes_adaptation]
    if rich:
        i = rich[0]
        isi = np.diff(spikes[i].peak_time_ms)
        adapt = float(np.mean(np.diff(isi) / (isi[1:] + isi[:-1])))
        problems = ([f"spikes from the independent detector ({'; '.join(spikes[i].issues)})"]
                    if spikes[i].source != "efel" else [])
        return _with(adapt, problems, [nums[i]]), _with(float(np.mean(isi)), problems, [nums[i]])
    best = max(pos, key=lambda k: spikes[k].count)
    r = f"no step with at least {st.min_spikes_adaptation} spikes (at most {spikes[best].count})"
    if spikes[best].count >= 2:
        isi = np.diff(spikes[best].peak_time_ms)
        return _missing(r), _with(float(np.mean(isi)), [r], [nums[best]])
    return _missing(r), _missing(r)
