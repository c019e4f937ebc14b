"""Canonical names, units and plausible ranges of the per-cell table.

One row per cell.  Feature columns carry their unit in the name (``v_threshold_mV``) so a
table is self-describing.  Plausible ranges are deliberately wide: they exist to catch unit
mistakes (a threshold of -0.045 is volts, not millivolts; a tau of 0.02 is seconds), not to
judge physiology.  Each entry also gives the unit conversions most often met in files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    unit: str
    description: str
    plausible: tuple[float, float]
    # Likely wrong units and the factor that converts them into ``unit``.
    conversions: tuple[tuple[str, float], ...] = ()


FEATURES: dict[str, FeatureSpec] = {
    f.name: f
    for f in (
        FeatureSpec("v_rest_mV", "mV", "resting membrane potential", (-110.0, -30.0),
                    (("V", 1e3), ("mV", 1.0))),
        FeatureSpec("v_threshold_mV", "mV", "spike threshold (at rheobase)", (-80.0, 0.0),
                    (("V", 1e3), ("mV", 1.0))),
        FeatureSpec("distance_to_threshold_mV", "mV",
                    "spike threshold minus resting potential", (0.0, 80.0),
                    (("V", 1e3), ("mV", 1.0))),
        FeatureSpec("rheobase_pA", "pA", "smallest step current that evokes a spike",
                    (0.0, 3000.0), (("nA", 1e3), ("A", 1e12), ("pA", 1.0))),
        FeatureSpec("tau_m_ms", "ms", "membrane time constant", (0.5, 300.0),
                    (("s", 1e3), ("ms", 1.0))),
        FeatureSpec("r_input_MOhm", "MOhm", "input resistance", (1.0, 5000.0),
                    (("GOhm", 1e3), ("Ohm", 1e-6), ("MOhm", 1.0))),
        FeatureSpec("capacitance_pF", "pF", "membrane capacitance (tau_m / R_in)",
                    (1.0, 2000.0), (("nF", 1e3), ("F", 1e12), ("pF", 1.0))),
        FeatureSpec("sag", "1", "sag ratio of a hyperpolarizing step (0 = none)",
                    (-0.5, 1.0)),
        FeatureSpec("fi_slope_Hz_per_pA", "Hz/pA", "slope of the f-I curve above rheobase",
                    (0.0, 10.0), (("Hz/nA", 1e-3), ("Hz/pA", 1.0))),
        FeatureSpec("ap_width_ms", "ms", "action potential width at half height",
                    (0.05, 10.0), (("s", 1e3), ("ms", 1.0))),
        FeatureSpec("ap_amplitude_mV", "mV", "action potential amplitude (threshold to peak)",
                    (5.0, 200.0), (("V", 1e3), ("mV", 1.0))),
        FeatureSpec("adaptation", "1", "spike-frequency adaptation index", (-1.0, 2.0)),
        FeatureSpec("mean_isi_ms", "ms", "mean inter-spike interval", (0.5, 20000.0),
                    (("s", 1e3), ("ms", 1.0))),
    )
}

# Identifier and label columns (strings; missing values allowed except cell_id).
ID_COLUMNS: tuple[str, ...] = ("cell_id", "donor_id")
LABEL_COLUMNS: tuple[str, ...] = (
    "species",
    "region",
    "layer",
    "dendrite_type",  # spiny / aspiny / sparsely spiny
    "transgenic_line",
    "disease_state",  # e.g. epilepsy / tumor / healthy / epileptogenic / non-epileptogenic
    "cell_type",  # any user label
    "dataset",  # where the row came from
)
