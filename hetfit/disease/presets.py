"""Ready-made healthy-vs-disease comparisons of public human data.

A :class:`ComparisonPreset` is data: a cell table, the two conditions to contrast, how cells
are grouped into types, the features whose spread is compared, how types map onto the
populations of a network model, and the caveats that come with the data.

``allen-human``
    Allen Cell Types Database, human cells (neurosurgical tissue): donors operated for
    epilepsy vs donors operated for tumor access (``donor__disease_state``).  Types: dendrite
    type (spiny, aspiny), and dendrite type x cortical layer where both conditions have
    enough cells and donors.  Networks: spiny -> E, aspiny -> I of the Gast, Solla & Kennedy
    E/I Izhikevich circuit, threshold half-widths from the measured thresholds; and (full
    runs) of the CUBA LIF network with the measured coefficient of variation of the membrane
    time constant.
    The tumor cells are not "healthy tissue": they come from cortex removed to reach a
    tumor.  In this database the contrast is between donor diagnoses, not between
    seizure-generating and other tissue of the same patients.

``rich2022``
    Rich et al. 2022 (Cell Reports 39, 110863): human L5 pyramidal cells from epileptogenic
    (frontal) vs non-epileptogenic tissue.  The publication built its network with the
    spreads of the temporal non-epileptogenic and the frontal epileptogenic cells (about
    7.8 vs 4.4 mV of distance to threshold), so that is the default contrast
    (``reference="temporal"``); ``reference="frontal"`` contrasts the frontal cells only
    (same lobe, 12 cells), ``"all"`` pools both non-epileptogenic sheets.
    **The cells carry no donor ids**: intervals and the permutation test resample cells.
    ``link_donors=True`` attaches donor ids from Moradi Chameh et al. 2021 (same lab and
    patients) by exact match of resting potential and threshold, for a donor-level
    sensitivity analysis (95 of 102 cells link).

:func:`load_preset` builds a preset by name from the folder that holds hetfit's shared
data (``root``); each loader also takes its dataset folder directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hetfit.disease.conditions import Condition, NetworkMapping
from hetfit.errors import InputFileError, ParameterError

__all__ = [
    "PRESETS",
    "ComparisonPreset",
    "allen_human_preset",
    "default_data_root",
    "load_preset",
    "rich2022_preset",
]


@dataclass(frozen=True)
class ComparisonPreset:
    """A public table with its healthy/disease contrast (see the module docstring)."""

    name: str
    description: str
    table: Any  # CellTable
    healthy: Condition
    disease: Condition
    groupings: tuple[tuple[str, ...], ...]
    features: tuple[str, ...]
    network: NetworkMapping | None
    citation: str
    notes: tuple[str, ...] = ()
    extra_networks: tuple[NetworkMapping, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description,
            "healthy": self.healthy.to_dict(), "disease": self.disease.to_dict(),
            "groupings": [list(g) for g in self.groupings], "features": list(self.features),
            "network": None if self.network is None else self.network.to_dict(),
            "extra_networks": [m.to_dict() for m in self.extra_networks],
            "citation": self.citation, "notes": list(self.notes),
            "table": self.table.summary() if hasattr(self.table, "summary") else None,
        }


def default_data_root() -> Path | None:
    """The shared-data folder: ``$HETFIT_SHARED_DATA`` if set, else None."""
    env = os.environ.get("HETFIT_SHARED_DATA")
    return Path(env).expanduser() if env else None


def _folder(root: str | Path | None, folder: str | Path | None, name: str) -> Path:
    if folder is not None:
        p = Path(folder).expanduser()
    else:
        base = Path(root).expanduser() if root is not None else default_data_root()
        if base is None:
            raise InputFileError(
                f"no data folder given for the preset's dataset {name!r}",
                hint="pass --data-root (the folder holding the public datasets) or set "
                "HETFIT_SHARED_DATA",
            )
        p = base / name
    if not p.is_dir():
        raise InputFileError(f"dataset folder not found: {p}",
                             hint=f"it should hold the {name!r} files (see its PROVENANCE.md)")
    return p


ALLEN_FEATURES = ("v_threshold_mV", "distance_to_threshold_mV", "rheobase_pA", "tau_m_ms",
                  "r_input_MOhm")


def allen_human_preset(root: str | Path | None = None, *, folder: str | Path | None = None,
                       ) -> ComparisonPreset:
    """Allen human cells: epilepsy vs tumor donors (see the module docstring).

    Parameters
    ----------
    root:
        Folder holding the public datasets (uses its ``allen_cell_types_ephys_full``).
    folder:
        The Allen dataset folder itself (overrides ``root``).
    """
    from hetfit.data_adapters.datasets import load_allen_cell_types

    table = load_allen_cell_types(_folder(root, folder, "allen_cell_types_ephys_full"))
    table = table.select(species="human")
    return ComparisonPreset(
        name="allen-human",
        description="Allen Cell Types Database, human neurosurgical tissue: cells from donors "
        "operated for epilepsy vs for tumor access, by dendrite type (and layer where "
        "counts allow)",
        table=table,
        healthy=Condition("tumor", {"disease_state": "tumor"}),
        disease=Condition("epilepsy", {"disease_state": "epilepsy"}),
        groupings=(("dendrite_type",), ("dendrite_type", "layer")),
        features=ALLEN_FEATURES,
        network=NetworkMapping(
            model="gast2023_ei",
            populations={"E": {"dendrite_type": "spiny"}, "I": {"dendrite_type": "aspiny"}},
            feature="v_threshold_mV", width="hwhm_iqr",
        ),
        extra_networks=(NetworkMapping(
            model="lif_cuba",
            populations={"E": {"dendrite_type": "spiny"}, "I": {"dendrite_type": "aspiny"}},
            feature="tau_m_ms", width="cv",
        ),),
        citation="Allen Institute for Brain Science. Allen Cell Types Database.",
        notes=(
            "tumor-access tissue is a control for diagnosis, not healthy brain; the contrast "
            "is between donors' diagnoses",
            "cells are nested in donors: intervals and permutation tests resample donors",
            "spiny cells are taken as excitatory and aspiny cells as inhibitory; sparsely "
            "spiny cells are left out of the network",
        ),
    )


RICH_FEATURES = ("v_threshold_mV", "distance_to_threshold_mV", "v_rest_mV", "rheobase_pA",
                 "r_input_MOhm")
_RICH_REFERENCES = {
    "temporal": ("non-epileptogenic (temporal)",
                 {"disease_state": "non-epileptogenic", "region": "temporal"}),
    "frontal": ("non-epileptogenic (frontal)",
                {"disease_state": "non-epileptogenic", "region": "frontal"}),
    "all": ("non-epileptogenic", {"disease_state": "non-epileptogenic"}),
}


def rich2022_preset(root: str | Path | None = None, *, folder: str | Path | None = None,
                    reference: str = "temporal", link_donors: bool = False,
                    donors_folder: str | Path | None = None) -> ComparisonPreset:
    """Rich et al. 2022 L5 pyramidal cells: epileptogenic vs non-epileptogenic tissue.

    Parameters
    ----------
    root, folder:
        As in :func:`allen_human_preset` (dataset ``rich2022_human_l5``).
    reference:
        Non-epileptogenic cells to contrast with: ``"temporal"`` (as the publication's model,
        default), ``"frontal"`` (same lobe as the epileptogenic cells) or ``"all"``.
    link_donors:
        Attach donor ids from Moradi Chameh et al. 2021 (``donors_folder`` or
        ``<root>/moradi_chameh2021_human_l23_l5``) for a donor-level sensitivity analysis.
    """
    from hetfit.data_adapters.datasets import load_rich2022

    if reference not in _RICH_REFERENCES:
        raise ParameterError(f"unknown reference {reference!r}",
                             hint=f"use one of {sorted(_RICH_REFERENCES)}")
    data = _folder(root, folder, "rich2022_human_l5")
    donors = None
    if link_donors:
        donors = _folder(root if folder is None else Path(folder).parent, donors_folder,
                         "moradi_chameh2021_human_l23_l5")
    table = load_rich2022(data, donors_from=donors)
    ref_name, ref_criteria = _RICH_REFERENCES[reference]
    notes = [
        "the epileptogenic cells are frontal; the default reference (temporal "
        "non-epileptogenic, as in the publication's model) differs in lobe as well as in "
        "tissue state; reference='frontal' holds the lobe fixed (12 cells)",
    ]
    if link_donors:
        notes.append(
            "donor ids linked from Moradi Chameh et al. 2021 by exact match of resting "
            "potential and threshold (sensitivity analysis); unlinked cells count as their "
            "own donor"
        )
    else:
        notes.append(
            "the published table has no donor (patient) ids: intervals and the permutation "
            "test resample cells as if independent, which understates the uncertainty if "
            "several cells come from one patient"
        )
    return ComparisonPreset(
        name="rich2022",
        description="Rich et al. 2022: human L5 pyramidal cells from epileptogenic (frontal) "
        f"vs {ref_name} tissue",
        table=table,
        healthy=Condition(ref_name, ref_criteria),
        disease=Condition("epileptogenic (frontal)", {"disease_state": "epileptogenic"}),
        groupings=(("cell_type",),),
        features=RICH_FEATURES,
        network=NetworkMapping(
            model="rich2022", populations={"E": {"cell_type": "pyramidal"}},
            feature="distance_to_threshold_mV", width="sd",
        ),
        citation="Rich S, Moradi Chameh H, Lefebvre J, Valiante TA (2022) Cell Reports 39, "
        "110863",
        notes=tuple(notes),
    )


PRESETS: dict[str, Callable[..., ComparisonPreset]] = {
    "allen-human": allen_human_preset,
    "rich2022": rich2022_preset,
}


def load_preset(name: str, root: str | Path | None = None, **kwargs: Any) -> ComparisonPreset:
    """A preset by name (``"allen-human"``, ``"rich2022"``) from the shared-data folder."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in PRESETS:
        from hetfit.data_adapters.schema import did_you_mean

        raise ParameterError(f"unknown comparison preset {name!r}",
                             hint=did_you_mean(key, list(PRESETS)) + f"presets: {list(PRESETS)}")
    return PRESETS[key](root, **kwargs)
