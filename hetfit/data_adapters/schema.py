"""Canonical names, units and plausible ranges of the per-cell table.

One row per cell.  Feature columns carry their unit in the name (``v_threshold_mV``) so a
table is self-describing.  Plausible ranges are deliberately wide: they exist to catch unit
mistakes (a threshold of -0.045 is volts, not millivolts; a tau of 0.02 is seconds), not to
judge physiology.  Each entry also gives the unit conversions most often met in files: the
factor multiplies a value in that unit into the canonical unit.

Names are stable: other modules (distributions, params, trace features) rely on them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hetfit.errors import SchemaError

_VOLT = (("V", 1e3), ("mV", 1.0), ("uV", 1e-3))
_TIME_MS = (("s", 1e3), ("ms", 1.0), ("us", 1e-3))
_DIMENSIONLESS = (("1", 1.0), ("ratio", 1.0), ("%", 0.01))


@dataclass(frozen=True)
class FeatureSpec:
    """One canonical feature.

    Attributes
    ----------
    name:
        Column name, unit included (``v_threshold_mV``).
    unit:
        Canonical unit (``"1"`` for dimensionless).
    description:
        What the feature is, in a few words.
    plausible:
        (low, high) range in the canonical unit.  A column whose *median* lies outside it is
        almost certainly in another unit; single values outside it are flagged.
    conversions:
        (unit, factor) pairs: ``value_in_unit * factor`` is the value in ``unit``.
    """

    name: str
    unit: str
    description: str
    plausible: tuple[float, float]
    # Likely wrong units and the factor that converts them into ``unit``.
    conversions: tuple[tuple[str, float], ...] = ()
    # Range for the *median* of a column, when narrower than ``plausible`` (a rheobase of
    # 0.1 pA is possible for one cell, a median of 0.1 means the column is in nA).
    typical_median: tuple[float, float] | None = None

    def factor(self, unit: str) -> float:
        """Factor converting values given in ``unit`` into :attr:`unit`.

        Raises :class:`~hetfit.errors.SchemaError` for a unit this feature does not know.
        """
        u = normalize_unit(unit)
        for name, f in self.conversions:
            if normalize_unit(name) == u:
                return f
        if u == normalize_unit(self.unit):
            return 1.0
        known = sorted({name for name, _ in self.conversions} | {self.unit})
        raise SchemaError(
            f"unknown unit {unit!r} for feature '{self.name}' (canonical unit {self.unit})",
            hint=f"use one of {known} or give a numeric factor that converts into {self.unit}",
        )

    def in_range(self, value: float) -> bool:
        """True when one value lies in :attr:`plausible`."""
        lo, hi = self.plausible
        return lo <= value <= hi

    def median_in_range(self, median: float) -> bool:
        """True when a column median lies in :attr:`typical_median` (or :attr:`plausible`)."""
        lo, hi = self.typical_median or self.plausible
        return lo <= median <= hi


FEATURES: dict[str, FeatureSpec] = {
    f.name: f
    for f in (
        FeatureSpec("v_rest_mV", "mV", "resting membrane potential", (-110.0, -30.0), _VOLT),
        FeatureSpec("v_threshold_mV", "mV", "spike threshold (at rheobase)", (-80.0, 0.0), _VOLT,
                    (-75.0, -10.0)),
        FeatureSpec("distance_to_threshold_mV", "mV",
                    "spike threshold minus resting potential", (0.0, 80.0), _VOLT, (2.0, 70.0)),
        FeatureSpec("rheobase_pA", "pA", "smallest step current that evokes a spike",
                    (0.0, 3000.0), (("nA", 1e3), ("A", 1e12), ("uA", 1e6), ("pA", 1.0)),
                    (3.0, 3000.0)),
        FeatureSpec("tau_m_ms", "ms", "membrane time constant", (0.5, 300.0), _TIME_MS,
                    (1.0, 300.0)),
        FeatureSpec("r_input_MOhm", "MOhm", "input resistance", (1.0, 5000.0),
                    (("GOhm", 1e3), ("kOhm", 1e-3), ("Ohm", 1e-6), ("MOhm", 1.0)), (5.0, 5000.0)),
        FeatureSpec("capacitance_pF", "pF", "membrane capacitance (tau_m / R_in)",
                    (1.0, 2000.0), (("nF", 1e3), ("uF", 1e6), ("F", 1e12), ("pF", 1.0)),
                    (5.0, 2000.0)),
        FeatureSpec("sag", "1", "sag ratio of a hyperpolarizing step (0 = none)",
                    (-0.5, 1.0), _DIMENSIONLESS),
        FeatureSpec("fi_slope_Hz_per_pA", "Hz/pA", "slope of the f-I curve above rheobase",
                    (0.0, 10.0), (("Hz/nA", 1e-3), ("Hz/pA", 1.0)), (0.003, 10.0)),
        FeatureSpec("ap_width_ms", "ms", "action potential width at half height",
                    (0.05, 10.0), _TIME_MS, (0.1, 10.0)),
        FeatureSpec("ap_amplitude_mV", "mV", "action potential amplitude (threshold to peak)",
                    (5.0, 200.0), _VOLT),
        FeatureSpec("adaptation", "1", "spike-frequency adaptation index", (-1.0, 2.0),
                    _DIMENSIONLESS),
        FeatureSpec("mean_isi_ms", "ms", "mean inter-spike interval", (0.5, 20000.0), _TIME_MS,
                    (2.0, 20000.0)),
        # Added with the table adapters (published tables report these directly).
        FeatureSpec("sag_amplitude_mV", "mV",
                    "sag amplitude of a hyperpolarizing step (peak minus steady state)",
                    (0.0, 50.0), _VOLT, (0.1, 50.0)),
        FeatureSpec("latency_ms", "ms", "latency of the first spike at rheobase",
                    (0.0, 5000.0), _TIME_MS, (1.0, 5000.0)),
        FeatureSpec("firing_rate_Hz", "Hz", "mean firing rate during a suprathreshold step",
                    (0.0, 500.0), (("Hz", 1.0), ("kHz", 1e3))),
        FeatureSpec("upstroke_downstroke_ratio", "1",
                    "ratio of AP upstroke to downstroke speed", (0.3, 20.0), _DIMENSIONLESS),
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

_UNIT_ALIASES = {
    "Ω": "Ohm", "ω": "Ohm", "ohm": "Ohm", "ohms": "Ohm",
    "µ": "u", "μ": "u",
    "megaohm": "MOhm", "megaohms": "MOhm", "mohm": "MOhm", "mΩ": "MOhm",
    "gigaohm": "GOhm", "sec": "s", "second": "s", "seconds": "s",
    "msec": "ms", "millisecond": "ms", "milliseconds": "ms",
    "volt": "V", "volts": "V", "millivolt": "mV", "millivolts": "mV",
    "hz/na": "Hz/nA", "hz/pa": "Hz/pA", "dimensionless": "1", "": "1",
}


def normalize_unit(unit: str) -> str:
    """Canonical spelling of a unit string ('MΩ' -> 'MOhm', 'µs' -> 'us', 'sec' -> 's')."""
    u = str(unit).strip()
    low = u.lower()
    if low in _UNIT_ALIASES:
        return _UNIT_ALIASES[low]
    if u in _UNIT_ALIASES:
        return _UNIT_ALIASES[u]
    for src, dst in (("Ω", "Ohm"), ("µ", "u"), ("μ", "u")):
        u = u.replace(src, dst)
    return u.replace("ohm", "Ohm")


def is_feature(name: str) -> bool:
    """True when ``name`` is a canonical feature column."""
    return name in FEATURES


def feature_spec(name: str) -> FeatureSpec:
    """The :class:`FeatureSpec` of a canonical feature (clear error with suggestions if unknown)."""
    try:
        return FEATURES[name]
    except KeyError:
        raise SchemaError(
            f"unknown feature '{name}'",
            hint=_did_you_mean(name, FEATURES) + f"canonical features: {sorted(FEATURES)}",
        ) from None


def canonical_columns() -> tuple[str, ...]:
    """Every canonical column name: ids, labels, then features."""
    return (*ID_COLUMNS, *LABEL_COLUMNS, *FEATURES)


def suggest_conversions(name: str, values: Iterable[float]) -> list[tuple[str, float]]:
    """Units whose conversion brings the median of ``values`` into the plausible range.

    Used to turn "implausible values" into an actionable message ("looks like volts:
    multiply by 1000").  Returns ``[]`` when no known conversion helps.
    """
    spec = feature_spec(name)
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return []
    med = finite[len(finite) // 2]
    out = []
    for unit, f in spec.conversions:
        if f != 1.0 and spec.median_in_range(med * f):
            out.append((unit, f))
    return out


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.5)
    return f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """'did you mean ...? ' text for an error hint ('' when nothing is close)."""
    return _did_you_mean(name, choices)
