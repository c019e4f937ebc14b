"""Short, documented mappings for public per-cell tables.

Each loader takes the folder that holds the published files (as distributed, unchanged) and
returns a :class:`~hetfit.data_adapters.celltable.CellTable` through the generic mapping of
:mod:`hetfit.data_adapters.tables`.  The mappings are data (module-level dicts) so that they
can be read, reused and tested.  Quirks of each table (units that differ from their own
documentation, missing donor ids) are handled here and stated in the docstrings and in the
table's report.

Conventions shared by all loaders: ``species`` is ``"human"``/``"mouse"``; ``layer`` drops
the ``L`` prefix (``"L2/3"``, ``"L2.3"`` -> ``"2/3"``, ``"L5"`` -> ``"5"``); ``disease_state``
is lower case (``"epilepsy"``, ``"tumor"``, ``"epileptogenic"``, ``"non-epileptogenic"``);
``dataset`` names the loader.

``load_dataset(name, folder)`` dispatches by name; :data:`DATASETS` lists the loaders with
the folder name used in hetfit's shared data (``<root>/<folder>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetfit.data_adapters.allen import read_allen_specimens
from hetfit.data_adapters.celltable import CellTable, TableReport, text_column
from hetfit.data_adapters.schema import did_you_mean
from hetfit.data_adapters.tables import from_frame, read_raw
from hetfit.errors import InputFileError, SchemaError


def _layer(v: Any) -> Any:
    """'L2/3', 'L2.3', 'L23' -> '2/3'; 'L5' -> '5'; other text unchanged."""
    if not isinstance(v, str):
        return v
    s = v.strip()
    if s[:1] in ("L", "l") and len(s) > 1 and s[1].isdigit():
        s = s[1:]
    if s in ("2.3", "23", "2-3"):
        s = "2/3"
    return s


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


def _file(folder: Path, name: str) -> Path:
    p = folder / name
    if not p.is_file():
        raise InputFileError(
            f"expected file {name!r} in {folder}",
            hint="pass the dataset folder as distributed (see its PROVENANCE.md)",
        )
    return p


def _folder(folder: str | Path) -> Path:
    p = Path(folder).expanduser()
    if not p.is_dir():
        raise InputFileError(f"dataset folder not found: {p}", hint="check the path")
    return p


# ----------------------------------------------------------------------------------------
# Rich et al. 2022 (human L5 pyramidal, epileptogenic vs non-epileptogenic)
# ----------------------------------------------------------------------------------------

RICH2022_COLUMNS: dict[str, str] = {
    "RMP(mV)": "v_rest_mV",
    "Threshold (mV)": "v_threshold_mV",
    "Distance to Threshold-DTT (mV)": "distance_to_threshold_mV",
    "Rheobase (pA)": "rheobase_pA",
    "Input Resistance (MΩ)": "r_input_MOhm",
    "Sag voltage amplitude (mV)": "sag_amplitude_mV",
    "First spike latency (ms)": "latency_ms",
    "Spike frequency adaptation ratio": "adaptation",
    "Avarage firing rate": "firing_rate_Hz",  # sic
}
RICH2022_LABELS: dict[str, str] = {"layer_name": "layer", "cell_type": "cell_type"}
# sheet -> (region, disease_state)
RICH2022_SHEETS: dict[str, tuple[str, str]] = {
    "Frontal_Epileptogenic": ("frontal", "epileptogenic"),
    "Frontal_Non-Epileptogenic": ("frontal", "non-epileptogenic"),
    "Temporal_Non-Epileptogenic": ("temporal", "non-epileptogenic"),
}
_CELL_TYPES = {"Pyr": "pyramidal", "Int": "interneuron"}


def load_rich2022(
    folder: str | Path,
    *,
    from_excel: bool = False,
    donors_from: str | Path | CellTable | None = None,
) -> CellTable:
    """Rich et al. 2022 (Cell Reports 39, 110863): human L5 pyramidal cells.

    One table per sheet of ``Raw data-Ephys -Features.xlsx`` (or its CSV copies):
    frontal epileptogenic (13 cells), frontal non-epileptogenic (12), temporal
    non-epileptogenic (77).  ``disease_state`` is ``"epileptogenic"`` /
    ``"non-epileptogenic"`` (a tissue label, not the patient's diagnosis), ``region``
    ``"frontal"`` / ``"temporal"``.  Cell ids are generated (``<sheet>:<row>``).

    **The cells carry no patient id**, so donor-level resampling is impossible from this
    table alone.  Same lab and patients as Moradi Chameh et al. 2021: with
    ``donors_from=<moradi_chameh2021 folder or table>`` donor ids are attached by an exact,
    unique match of (resting potential, threshold) (see :func:`link_donors`); the report
    says how many cells were linked.

    Features: RMP, threshold, distance to threshold (as published; equals threshold - RMP),
    rheobase, input resistance, sag *amplitude* (mV, not a ratio), first-spike latency,
    adaptation ratio, average firing rate.  The sheet of frontal epileptogenic cells also has
    duplicated helper columns (``Rheobase (pA).1``, ``adratio``, ``sagamp``, ``fislope``),
    which are ignored.
    """
    root = _folder(folder)
    tables = []
    for sheet, (region, state) in RICH2022_SHEETS.items():
        common = dict(
            columns=RICH2022_COLUMNS, labels=RICH2022_LABELS,
            constants={"species": "human", "region": region, "disease_state": state,
                       "dataset": "rich2022"},
            recode={"layer": _layer, "cell_type": lambda v: _CELL_TYPES.get(v, v)},
            id_prefix=sheet,
        )
        if from_excel:
            from hetfit.data_adapters.tables import read_table

            t = read_table(_file(root, "Raw data-Ephys -Features.xlsx"), sheet=sheet, **common)
        else:
            p = _file(root, f"{sheet}.csv")
            t = from_frame(read_raw(p), source=str(p), **common)
        tables.append(t)
    table = CellTable.concat(tables, source=f"rich2022 ({root})")
    if donors_from is not None:
        ref = donors_from if isinstance(donors_from, CellTable) else load_moradi_chameh2021(
            donors_from
        )
        table = link_donors(table, ref, on=("v_rest_mV", "v_threshold_mV"))
    return table


# ----------------------------------------------------------------------------------------
# Moradi Chameh et al. 2021 (human L2/3, L3c, L5; patient ids)
# ----------------------------------------------------------------------------------------

MORADI2021_COLUMNS: dict[str, str] = {
    "rmp": "v_rest_mV",
    "apthr": "v_threshold_mV",
    "rheo": "rheobase_pA",
    "tau": "tau_m_ms",
    "rin": "r_input_MOhm",
    "sag": "sag",
    "sagamp": "sag_amplitude_mV",
    "fislope": "fi_slope_Hz_per_pA",
    "aphw": "ap_width_ms",
    "apamp": "ap_amplitude_mV",
    "adratio": "adaptation",
    "avgisi": "mean_isi_ms",
    "latency": "latency_ms",
    "avg_rate": "firing_rate_Hz",
}
MORADI2021_UNITS: dict[str, str] = {"avgisi": "s"}  # ISIs in seconds, latency in ms
MORADI2021_LABELS: dict[str, str] = {
    "cell_id": "cell_id",
    "subject_id": "donor_id",
    "layer_name": "layer",
    "cell_type": "cell_type",
    "diagnosis": "disease_state",
    "recorder_name": "recorder",
    "sex": "donor_sex",
    "resection_location": "resection_location",
}
MORADI2021_EXTRAS: dict[str, str] = {"age": "donor_age", "seizure_duration": "seizure_years"}


def load_moradi_chameh2021(folder: str | Path) -> CellTable:
    """Moradi Chameh et al. 2021 (Nat Commun 12, 2497): 201 human cortical cells.

    ``cell_patient_ephys_combined.csv``: every cell has a patient id (``donor_id`` =
    ``subject_id``; 58 patients) and the patient's diagnosis (``disease_state``
    ``"epilepsy"`` / ``"tumor"``; missing for some).  Layers ``"2/3"``, ``"3c"``, ``"5"``;
    ``cell_type`` ``"pyramidal"`` / ``"interneuron"``; ``recorder`` (two experimenters) is a
    batch factor.  Units are not written in the file: mV, MOhm, pA, ms for tau, AP
    half-width and latency; the mean ISI is in seconds (converted); the f-I slope is taken
    as Hz/pA (values ~0.07; check the paper before relying on it).
    """
    root = _folder(folder)
    p = _file(root, "cell_patient_ephys_combined.csv")
    return from_frame(
        read_raw(p), MORADI2021_COLUMNS, units=MORADI2021_UNITS, labels=MORADI2021_LABELS,
        extras=MORADI2021_EXTRAS,
        constants={"species": "human", "dataset": "moradi_chameh2021"},
        recode={"layer": _layer, "cell_type": lambda v: _CELL_TYPES.get(v, v),
                "disease_state": _lower},
        source=str(p),
    )


# ----------------------------------------------------------------------------------------
# Berg et al. 2021 (human L2/3 excitatory patch-seq; mouse comparison cells)
# ----------------------------------------------------------------------------------------

BERG2021_COLUMNS: dict[str, str] = {
    "v_baseline": "v_rest_mV",
    "threshold_v_long_square": "v_threshold_mV",
    "rheobase_i": "rheobase_pA",
    "tau": "tau_m_ms",
    "input_resistance": "r_input_MOhm",
    "sag": "sag",
    "fi_fit_slope": "fi_slope_Hz_per_pA",
    "width_long_square": "ap_width_ms",
    "peak_v_long_square_rel": "ap_amplitude_mV",
    "adapt_mean": "adaptation",
    "latency_rheo": "latency_ms",
    "avg_rate_hero": "firing_rate_Hz",
    "upstroke_downstroke_ratio_long_square": "upstroke_downstroke_ratio",
}
# tau and latency are in seconds (as documented); the AP width is in seconds too although
# ephys_feature_names.csv says ms (values ~0.001).
BERG2021_UNITS: dict[str, str] = {"tau": "s", "latency_rheo": "s", "width_long_square": "s"}
BERG2021_HUMAN_LABELS: dict[str, str] = {
    "SpecimenID": "cell_id",
    "donor": "donor_id",
    "medical_conditions": "disease_state",
    "region": "region",
    "SeuratMapping": "cell_type",
    "batch": "batch",
    "collaborator": "collaborator",
    "hemisphere": "hemisphere",
    "gender": "donor_sex",
    "flag": "qc_flag",
}
BERG2021_MOUSE_LABELS: dict[str, str] = {
    "SpecimenID": "cell_id",
    "donor_mouse": "donor_id",
    "genotype_label": "transgenic_line",
    "SeuratMapping": "cell_type",
    "batch": "batch",
}


def load_berg2021(
    folder: str | Path, *, species: str | Sequence[str] = ("human", "mouse")
) -> CellTable:
    """Berg et al. 2021 (Nature 598, 151): L2/3 excitatory patch-seq cells.

    Human: ``human_IVSCC_excitatory_L23_consolidated_0131.csv`` (385 cells, 82 donors)
    joined on the specimen id to ``human_mouse_ephys_all_0127.csv``; ``disease_state`` is the
    donor's medical condition in lower case (``"epilepsy"``, ``"tumor"``, ``"both"``,
    ``"hydrocephalus"``, ``"other"``), ``cell_type`` the transcriptomic type.  Mouse: the
    ``mouse_IVSCC_..._0129.csv`` cells (``donor_id`` = mouse, ``transgenic_line`` = genotype).
    Cells without a feature row are dropped and counted.  Units: tau, latency and AP width
    in seconds (converted; the feature-name file says ms for the width, the values are s).
    ``ap_amplitude_mV`` is the AP height relative to threshold.
    """
    root = _folder(folder)
    wanted = [species] if isinstance(species, str) else list(species)
    for s in wanted:
        if s not in ("human", "mouse"):
            raise SchemaError(f"species must be 'human' and/or 'mouse', got {s!r}")
    ephys_path = _file(root, "human_mouse_ephys_all_0127.csv")
    ephys = read_raw(ephys_path)
    ephys["specimen_id"] = text_column(ephys["specimen_id"])
    parts = []
    specs = {
        "human": ("human_IVSCC_excitatory_L23_consolidated_0131.csv", BERG2021_HUMAN_LABELS),
        "mouse": ("mouse_IVSCC_excitatory_L23_consolidated_0129.csv", BERG2021_MOUSE_LABELS),
    }
    for s in wanted:
        name, labels = specs[s]
        p = _file(root, name)
        meta = read_raw(p)
        meta["SpecimenID"] = text_column(meta["SpecimenID"])
        rep = TableReport(source=str(p), rows_read=len(meta))
        merged = meta.merge(ephys, how="inner", left_on="SpecimenID", right_on="specimen_id")
        rep.drop("no ephys feature row for this specimen", len(meta) - len(merged))
        parts.append(from_frame(
            merged, BERG2021_COLUMNS, units=BERG2021_UNITS, labels=labels,
            constants={"species": s, "layer": "2/3", "dataset": "berg2021"},
            recode={"disease_state": _lower} if s == "human" else None,
            source=str(p), report=rep,
        ))
    return parts[0] if len(parts) == 1 else CellTable.concat(parts, source=f"berg2021 ({root})")


# ----------------------------------------------------------------------------------------
# Chartrand et al. 2023 (human L1 interneurons, three labs)
# ----------------------------------------------------------------------------------------

CHARTRAND2023_COLUMNS: dict[str, str] = {
    "v_baseline": "v_rest_mV",
    "threshold_v_rheo": "v_threshold_mV",
    "rheobase_i": "rheobase_pA",
    "tau": "tau_m_ms",
    "input_resistance": "r_input_MOhm",
    "sag": "sag",
    "fi_fit_slope": "fi_slope_Hz_per_pA",
    "width_rheo": "ap_width_ms",
    "peak_deltav_rheo": "ap_amplitude_mV",
    "adapt_mean": "adaptation",
    "mean_isi_hero": "mean_isi_ms",
    "latency_rheo": "latency_ms",
    "avg_rate_hero": "firing_rate_Hz",
    "upstroke_downstroke_ratio_rheo": "upstroke_downstroke_ratio",
}
CHARTRAND2023_UNITS: dict[str, str] = {
    "tau": "s", "width_rheo": "s", "mean_isi_hero": "s", "latency_rheo": "s",
}
CHARTRAND2023_META_LABELS: dict[str, str] = {
    "donor": "donor_id",
    "medical_conditions": "disease_state",
    "structure": "region",
    "old_layer": "layer",
    "dendrite_type": "dendrite_type",
    "t-type": "cell_type",
    "subclass": "subclass",
    "batch": "batch",
}
# lab -> (feature file, metadata key matching cell_name)
CHARTRAND2023_LABS: dict[str, tuple[str, str]] = {
    "allen": ("aibs_features_E.csv", "spec_id"),
    "tamas": ("tamas_features_E.csv", "sample_id"),
    "mansvelder": ("mansvelder_features_E.csv", "sample_id"),
}


def _chartrand_condition(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    low = v.strip().lower()
    return "tumor" if "tumor" in low else low


def _dendrite(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    s = v.replace("dendrite type - ", "").strip()
    return np.nan if s in ("NA", "") else s


def load_chartrand2023(
    folder: str | Path, *, labs: Sequence[str] = ("allen", "tamas", "mansvelder")
) -> CellTable:
    """Chartrand et al. 2023 (Science 382, eadf0805): human L1 interneurons, three labs.

    Features of each lab's file (one IPFX feature extractor for all), joined to the metadata
    file ``human_l1_dataset_2023_02_06.csv`` (Allen cells by specimen id, Tamás and
    Mansvelder cells by sample id) for donor, medical condition, region, layer, dendrite type
    and transcriptomic type.  ``lab`` (``"allen"``, ``"tamas"``, ``"mansvelder"``) is a label:
    the case for batch/lab effects.  Cells without metadata are kept with missing donor and
    labels (counted in a note; Mansvelder: most cells).  ``disease_state``: ``"epilepsy"``,
    ``"tumor"`` (all tumor spellings), ``"epileptiform events"``.  Units: tau, AP width, ISI
    and latency in seconds (converted).  ``failed_qc`` is kept as a column, not applied: the
    Allen QC fields are not recorded for the other labs, so most of their cells "fail".
    """
    root = _folder(folder)
    meta_path = _file(root, "human_l1_dataset_2023_02_06.csv")
    meta = read_raw(meta_path, low_memory=False)
    parts = []
    for lab in labs:
        if lab not in CHARTRAND2023_LABS:
            raise SchemaError(
                f"unknown lab {lab!r}",
                hint=did_you_mean(lab, list(CHARTRAND2023_LABS))
                + f"labs: {list(CHARTRAND2023_LABS)}",
            )
        fname, key = CHARTRAND2023_LABS[lab]
        p = _file(root, fname)
        feats = read_raw(p, low_memory=False)
        feats["cell_name"] = text_column(feats["cell_name"])
        m = meta[[key, *CHARTRAND2023_META_LABELS]].copy()
        m["_key"] = text_column(m[key])
        merged = feats.merge(m.drop(columns=[key]), how="left", left_on="cell_name",
                             right_on="_key")
        rep = TableReport(source=str(p), rows_read=len(feats))
        n_meta = int(merged["_key"].notna().sum())
        rep.note(f"{lab}: {n_meta} of {len(feats)} cells matched to the metadata by {key}")
        parts.append(from_frame(
            merged, CHARTRAND2023_COLUMNS, units=CHARTRAND2023_UNITS,
            labels={"cell_name": "cell_id", **CHARTRAND2023_META_LABELS},
            extras={"failed_qc": "failed_qc"},
            constants={"species": "human", "lab": lab, "dataset": "chartrand2023"},
            recode={"disease_state": _chartrand_condition, "dendrite_type": _dendrite,
                    "layer": _layer},
            source=str(p), report=rep,
        ))
    if not parts:
        raise SchemaError("labs is empty", hint=f"choose from {list(CHARTRAND2023_LABS)}")
    return parts[0] if len(parts) == 1 else CellTable.concat(
        parts, source=f"chartrand2023 ({root})"
    )


# ----------------------------------------------------------------------------------------
# Prince et al. 2021 (mouse PV, SST, non-fluorescent)
# ----------------------------------------------------------------------------------------

PRINCE2021_COLUMNS: dict[str, str] = {
    "Vrest (mV)": "v_rest_mV",
    "Input Resistance (megaohm)": "r_input_MOhm",
    "Cell Capacitance (pF)": "capacitance_pF",
    "Membrane Time Constant (ms)": "tau_m_ms",
    "Rheobase (nA)": "rheobase_pA",
    "fI slope (Hz/nA)": "fi_slope_Hz_per_pA",
    "Sag Amplitude (mV)": "sag_amplitude_mV",
    "Spike Threshold (mV)": "v_threshold_mV",
    "Spike Amplitude (mV)": "ap_amplitude_mV",
    "Spike Halfwidth (ms)": "ap_width_ms",
}
PRINCE2021_UNITS: dict[str, str] = {"Rheobase (nA)": "nA", "fI slope (Hz/nA)": "Hz/nA"}
_FLUORESCENCE = {"NF": "non-fluorescent", "PV+": "PV", "SST+": "SST"}


def load_prince2021(folder: str | Path, *, date_as_donor: bool = False) -> CellTable:
    """Prince et al. 2021 (Commun Biol 4, 935): 68 mouse neocortical cells, one lab.

    ``cell_type``: ``"PV"``, ``"SST"``, ``"non-fluorescent"`` (presumed pyramidal);
    layers ``"2/3"``, ``"5"``.  Rheobase in nA and f-I slope in Hz/nA (converted).  The
    lab's ``Adaptation Ratio`` (ISI ratio, 1-45) is a different quantity from the
    ``adaptation`` index and is kept as the column ``adaptation_ratio``.  No animal ids: the
    recording day (``YYmDD`` of the cell id) is kept as ``recording_day``; with
    ``date_as_donor=True`` it is used as ``donor_id`` (assumes one animal per day; noted).
    Negative rheobase values in the file are implausible and dropped (counted).
    """
    root = _folder(folder)
    p = _file(root, "ephys_features.csv")
    raw = read_raw(p)
    raw = raw.rename(columns={raw.columns[0]: "cell"})
    raw["recording_day"] = [str(c).split("-")[0] for c in raw["cell"]]
    labels = {"cell": "cell_id", "Fluorescence": "cell_type", "Layer": "layer",
              "recording_day": "recording_day"}
    table = from_frame(
        raw, PRINCE2021_COLUMNS, units=PRINCE2021_UNITS, labels=labels,
        extras={"Adaptation Ratio": "adaptation_ratio"},
        constants={"species": "mouse", "dataset": "prince2021"},
        recode={"layer": _layer, "cell_type": lambda v: _FLUORESCENCE.get(v, v)},
        source=str(p),
    )
    if date_as_donor:
        df = table.to_frame()
        df["donor_id"] = df["recording_day"]
        rep = table.report.copy()
        rep.notes = [n for n in rep.notes if not n.startswith("no donor ids")]
        table = table.rebuild(
            df, notes=["donor_id = recording day (assumes one animal per recording day)"],
            report=rep,
        )
    return table


# ----------------------------------------------------------------------------------------
# Allen Cell Types (folder layout of hetfit's shared data)
# ----------------------------------------------------------------------------------------


def load_allen_cell_types(folder: str | Path) -> CellTable:
    """Allen Cell Types Database from a folder with ``cell_types_specimen_details.csv`` and
    any of ``all_features.csv``, ``aibs_aggregated_ephys_v10.csv``, ``ephys_features.csv``
    (joined on the specimen id; see :mod:`hetfit.data_adapters.allen`)."""
    root = _folder(folder)
    spec = _file(root, "cell_types_specimen_details.csv")
    feats = [root / n for n in ("all_features.csv", "aibs_aggregated_ephys_v10.csv",
                                "ephys_features.csv") if (root / n).is_file()]
    return read_allen_specimens(spec, ephys_features=feats or None)


# ----------------------------------------------------------------------------------------
# Donor linking and registry
# ----------------------------------------------------------------------------------------


def link_donors(
    table: CellTable,
    reference: CellTable,
    on: Sequence[str] = ("v_rest_mV", "v_threshold_mV"),
    decimals: int = 6,
) -> CellTable:
    """Attach donor ids from ``reference`` to cells of ``table`` that match it exactly.

    Two tables published from the same recordings (Rich 2022 and Moradi Chameh 2021) share
    cells whose feature values are identical to many digits.  A cell of ``table`` gets the
    donor id of the reference cell whose features ``on`` are equal after rounding to
    ``decimals``, only when that match is unique in both directions; existing donor ids are
    kept.  The report notes how many cells were linked, ambiguous and unmatched.
    """
    for t, name in ((table, "table"), (reference, "reference")):
        missing = [c for c in on if c not in t.data.columns]
        if missing:
            raise SchemaError(f"{name} lacks the matching feature(s) {missing}")

    def keys(df: pd.DataFrame) -> pd.Series:
        vals = np.round(df[list(on)].to_numpy(dtype=float), decimals)
        ok = np.isfinite(vals).all(axis=1)
        return pd.Series([tuple(r) if k else None for r, k in zip(vals.tolist(), ok)],
                         index=df.index, dtype=object)

    tk, rk = keys(table.data), keys(reference.data)
    ref = reference.data.assign(_k=rk).dropna(subset=["_k"])
    ref_counts = ref["_k"].value_counts()
    tab_counts = tk.dropna().value_counts()
    donor_by_key = ref.drop_duplicates("_k").set_index("_k")["donor_id"]
    df = table.to_frame()
    linked = ambiguous = 0
    for i, k in tk.items():
        if k is None or k not in donor_by_key.index:
            continue
        if ref_counts[k] > 1 or tab_counts[k] > 1:
            ambiguous += 1
            continue
        if pd.isna(df.at[i, "donor_id"]) and not pd.isna(donor_by_key[k]):
            df.at[i, "donor_id"] = donor_by_key[k]
            linked += 1
    rep = table.report.copy()
    rep.notes = [n for n in rep.notes if "donor id" not in n]
    rep.note(
        f"donor ids linked for {linked} of {len(df)} cells from "
        f"{reference.report.source or 'reference'} by exact match of {list(on)} ({ambiguous} ambiguous, "
        f"{len(df) - linked - ambiguous} unmatched or already set)"
    )
    return table.rebuild(df, report=rep)


@dataclass(frozen=True)
class DatasetInfo:
    """A registered public table: loader, folder name in hetfit's shared data, citation."""

    name: str
    loader: Callable[..., CellTable]
    folder: str
    citation: str
    description: str


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("allen_cell_types", load_allen_cell_types, "allen_cell_types_ephys_full",
                    "Allen Institute for Brain Science. Allen Cell Types Database.",
                    "mouse and human cells, labels and per-cell features"),
        DatasetInfo("rich2022", load_rich2022, "rich2022_human_l5",
                    "Rich et al. 2022, Cell Reports 39, 110863",
                    "human L5 pyramidal, epileptogenic vs non-epileptogenic (no donor ids)"),
        DatasetInfo("moradi_chameh2021", load_moradi_chameh2021,
                    "moradi_chameh2021_human_l23_l5",
                    "Moradi Chameh et al. 2021, Nat Commun 12, 2497",
                    "human L2/3 and L5 cells with patient id and diagnosis"),
        DatasetInfo("berg2021", load_berg2021, "berg2021_human_l23_patchseq",
                    "Berg et al. 2021, Nature 598, 151",
                    "human (and mouse) L2/3 excitatory patch-seq cells"),
        DatasetInfo("chartrand2023", load_chartrand2023, "chartrand2023_human_l1_multilab",
                    "Chartrand et al. 2023, Science 382, eadf0805",
                    "human L1 interneurons from three labs"),
        DatasetInfo("prince2021", load_prince2021, "prince2021_mouse_pv_sst",
                    "Prince et al. 2021, Commun Biol 4, 935",
                    "mouse PV, SST and non-fluorescent cells, one lab"),
    )
}


def load_dataset(
    name: str, folder: str | Path | None = None, *, root: str | Path | None = None,
    **kwargs: Any,
) -> CellTable:
    """Load a registered public table by name.

    Parameters
    ----------
    name:
        A key of :data:`DATASETS`.
    folder:
        The dataset's folder; or give ``root`` (the folder holding all datasets) and the
        registered folder name is used.
    kwargs:
        Passed to the loader (e.g. ``donors_from=`` for rich2022).
    """
    if name not in DATASETS:
        raise SchemaError(
            f"unknown dataset {name!r}",
            hint=did_you_mean(name, list(DATASETS)) + f"datasets: {list(DATASETS)}",
        )
    info = DATASETS[name]
    if folder is None:
        if root is None:
            raise InputFileError(
                f"no folder given for dataset {name!r}",
                hint=f"pass folder=... or root=... (the folder holding '{info.folder}')",
            )
        folder = Path(root) / info.folder
    return info.loader(folder, **kwargs)


def dataset_table() -> pd.DataFrame:
    """The registry as a DataFrame (name, folder, citation, description)."""
    return pd.DataFrame(
        [{"name": d.name, "folder": d.folder, "citation": d.citation,
          "description": d.description} for d in DATASETS.values()]
    ).set_index("name")


