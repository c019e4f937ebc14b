"""Public per-cell tables through their short mappings.

Each test recomputes the expected numbers with plain pandas from the raw files (or checks the
counts stated in the dataset's PROVENANCE.md).  Tests skip when ../shared/data is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hetfit.data_adapters.datasets import (
    DATASETS,
    RICH2022_COLUMNS,
    RICH2022_SHEETS,
    dataset_table,
    link_donors,
    load_berg2021,
    load_chartrand2023,
    load_dataset,
    load_moradi_chameh2021,
    load_prince2021,
    load_rich2022,
)
from hetfit.data_adapters.tables import read_table
from hetfit.errors import InputFileError, SchemaError


@pytest.fixture(scope="module")
def moradi():
    from conftest import shared_data_path

    folder = shared_data_path("moradi_chameh2021_human_l23_l5")
    return folder, load_moradi_chameh2021(folder)


def test_rich2022_loads_through_the_generic_adapter_with_a_short_mapping(shared_data):
    """The acceptance case: one read_table call per sheet with a nine-entry mapping."""
    xlsx = shared_data("rich2022_human_l5", "Raw data-Ephys -Features.xlsx")
    pytest.importorskip("openpyxl")
    t = read_table(xlsx, sheet="Frontal_Epileptogenic", columns=RICH2022_COLUMNS,
                   constants={"disease_state": "epileptogenic", "species": "human"})
    assert t.n_cells == 13
    raw = pd.read_excel(xlsx, sheet_name="Frontal_Epileptogenic")
    dtt = t.values("distance_to_threshold_mV")
    assert dtt.std(ddof=1) == pytest.approx(raw["Distance to Threshold-DTT (mV)"].std(ddof=1))
    # DESIGN.md / Rich et al.: epileptogenic width about 4.4 mV
    assert dtt.std(ddof=1) == pytest.approx(4.40, abs=0.01)
    assert not t.has_donors
    assert any("no donor ids" in n for n in t.report.notes)


def test_rich2022_all_sheets(shared_data):
    folder = shared_data("rich2022_human_l5")
    t = load_rich2022(folder)
    counts = t.counts(["region", "disease_state"])["n_cells"].to_dict()
    expected = {
        (region, state): len(pd.read_csv(folder / f"{sheet}.csv"))
        for sheet, (region, state) in RICH2022_SHEETS.items()
    }
    assert counts == expected == {
        ("frontal", "epileptogenic"): 13, ("frontal", "non-epileptogenic"): 12,
        ("temporal", "non-epileptogenic"): 77,
    }
    assert t.report.rows_read == 102 and t.report.rows_dropped == 0
    assert set(t.data["layer"]) == {"5"} and set(t.data["cell_type"]) == {"pyramidal"}
    # the published distance to threshold equals threshold - RMP (no inconsistency note)
    assert not any("differ" in n for n in t.report.notes)
    temporal = t.select(region="temporal").values("distance_to_threshold_mV")
    assert temporal.std(ddof=1) == pytest.approx(7.87, abs=0.01)  # "about 7.8 mV"
    # cells lack donor ids: say so
    assert t.n_donors == 0 and not t.has_donors
    assert any("no donor ids" in n for n in t.report.notes)


def test_rich2022_excel_equals_csv_copies(shared_data):
    pytest.importorskip("openpyxl")
    folder = shared_data("rich2022_human_l5")
    a = load_rich2022(folder)
    b = load_rich2022(folder, from_excel=True)
    cols = [c for c in a.data.columns if c != "cell_id"]
    pd.testing.assert_frame_equal(a.data[cols], b.data[cols])


def test_rich2022_donors_linked_from_moradi(shared_data, moradi):
    folder = shared_data("rich2022_human_l5")
    _, ref = moradi
    t = load_rich2022(folder, donors_from=ref)
    linked = t.data[t.data["donor_id"].notna()]
    assert len(linked) == 95
    assert any("donor ids linked for 95 of 102" in n for n in t.report.notes)
    # features NOT used for matching agree with the matched reference cell: the link is real
    r = ref.data.set_index(["v_rest_mV", "v_threshold_mV"])
    other = r.loc[list(zip(linked["v_rest_mV"], linked["v_threshold_mV"]))]
    assert (other["donor_id"].to_numpy() == linked["donor_id"].to_numpy()).all()
    agree = {}
    for f in ("rheobase_pA", "latency_ms", "sag_amplitude_mV", "firing_rate_Hz", "adaptation",
              "r_input_MOhm"):
        a, b = linked[f].to_numpy(), other[f].to_numpy()
        both = np.isfinite(a) & np.isfinite(b)
        agree[f] = (int(np.isclose(a[both], b[both], rtol=1e-6).sum()), int(both.sum()))
    assert agree["rheobase_pA"] == agree["latency_ms"] == (95, 95)
    assert agree["sag_amplitude_mV"] == agree["firing_rate_Hz"] == (95, 95)
    assert agree["adaptation"] == (86, 86)
    # one input resistance differs between the two publications (80.7 vs 87.5 MOhm)
    assert agree["r_input_MOhm"] == (94, 95)


def test_link_donors_refuses_ambiguous_matches():
    from hetfit.data_adapters.celltable import CellTable

    table = CellTable(pd.DataFrame({"cell_id": ["a", "b", "c"],
                                    "v_rest_mV": [-70.0, -65.0, -60.0]}))
    ref = CellTable(pd.DataFrame({"cell_id": ["x", "y", "z"], "donor_id": ["D1", "D2", "D3"],
                                  "v_rest_mV": [-70.0, -65.0, -65.0]}))
    out = link_donors(table, ref, on=["v_rest_mV"])
    assert out.data["donor_id"].tolist()[0] == "D1"
    assert out.data["donor_id"].iloc[1:].isna().all()  # -65 matches two donors; -60 none
    assert any("1 ambiguous" in n for n in out.report.notes)
    with pytest.raises(SchemaError, match="matching feature"):
        link_donors(table, ref, on=["tau_m_ms"])


def test_moradi_chameh2021_against_raw(moradi):
    folder, t = moradi
    raw = pd.read_csv(folder / "cell_patient_ephys_combined.csv")
    assert t.report.rows_read == len(raw) == 201
    assert t.report.dropped_rows == {"no feature values": 2}
    assert t.n_donors == raw["subject_id"].nunique() == 58
    assert t.has_donors
    # ISIs are in seconds in the file -> ms
    by_id = t.data.set_index("cell_id")
    raw_i = raw.set_index("cell_id")
    ok = raw_i["avgisi"].notna()
    np.testing.assert_allclose(by_id.loc[raw_i.index[ok], "mean_isi_ms"],
                               raw_i.loc[ok, "avgisi"] * 1000.0)
    # L5 pyramidal cells by diagnosis: count and donors as a pandas group-by of the raw file
    kept = raw[raw["cell_id"].isin(by_id.index)]
    sel = kept[(kept.layer_name == "L5") & (kept.cell_type == "Pyr")]
    expected = sel.groupby("diagnosis").agg(n=("cell_id", "size"), d=("subject_id", "nunique"))
    got = t.select(layer="5", cell_type="pyramidal").counts("disease_state")
    assert got.loc["epilepsy", "n_cells"] == expected.loc["Epilepsy", "n"]
    assert got.loc["tumor", "n_donors"] == expected.loc["Tumor", "d"] == 4
    # the one cell whose threshold is below its resting potential is flagged, not kept
    assert t.report.implausible_values.get("distance_to_threshold_mV") == int(
        ((raw.apthr - raw.rmp) < 0).sum()
    )


def test_berg2021_against_raw_and_provenance(shared_data):
    folder = shared_data("berg2021_human_l23_patchseq")
    t = load_berg2021(folder, species="human")
    meta = pd.read_csv(folder / "human_IVSCC_excitatory_L23_consolidated_0131.csv")
    ephys = pd.read_csv(folder / "human_mouse_ephys_all_0127.csv")
    m = meta.merge(ephys, left_on="SpecimenID", right_on="specimen_id")
    assert t.report.rows_read == len(meta)
    assert t.report.dropped_rows["no ephys feature row for this specimen"] == len(meta) - len(m)
    both = t.data.dropna(subset=["v_threshold_mV", "v_rest_mV"])
    got = both.groupby("disease_state").agg(n=("cell_id", "size"), d=("donor_id", "nunique"))
    assert (got.loc["epilepsy", "n"], got.loc["epilepsy", "d"]) == (229, 37)  # PROVENANCE
    assert (got.loc["tumor", "n"], got.loc["tumor", "d"]) == (43, 14)
    # tau and AP width are in seconds in the file -> ms
    mm = m.set_index(m["SpecimenID"].astype(str))
    d = t.data.set_index("cell_id")
    np.testing.assert_allclose(d["tau_m_ms"], mm.loc[d.index, "tau"] * 1000.0)
    assert 0.5 < d["ap_width_ms"].median() < 2.0
    assert set(d["species"]) == {"human"} and set(d["layer"]) == {"2/3"}


def test_berg2021_mouse_cells(shared_data):
    t = load_berg2021(shared_data("berg2021_human_l23_patchseq"), species="mouse")
    assert set(t.data["species"]) == {"mouse"}
    assert t.data["transgenic_line"].notna().all()
    with pytest.raises(SchemaError, match="species"):
        load_berg2021(shared_data("berg2021_human_l23_patchseq"), species="rat")


def test_chartrand2023_labs_against_raw(shared_data):
    folder = shared_data("chartrand2023_human_l1_multilab")
    t = load_chartrand2023(folder)
    for lab, fname, n_thr, mean_thr in (
        ("allen", "aibs_features_E.csv", 250, -38.3),
        ("tamas", "tamas_features_E.csv", 58, -33.6),
        ("mansvelder", "mansvelder_features_E.csv", 114, -40.7),
    ):
        raw = pd.read_csv(folder / fname, low_memory=False)
        thr = t.select(lab=lab).values("v_threshold_mV")
        assert len(thr) == raw["threshold_v_rheo"].notna().sum() == n_thr
        assert thr.mean() == pytest.approx(raw["threshold_v_rheo"].mean())
        assert thr.mean() == pytest.approx(mean_thr, abs=0.05)  # PROVENANCE
    assert set(t.data["lab"]) == {"allen", "tamas", "mansvelder"}
    assert t.data["tau_m_ms"].median() > 5.0  # seconds converted
    assert set(t.data["disease_state"].dropna()) <= {"epilepsy", "tumor", "epileptiform events"}
    assert set(t.data["dendrite_type"].dropna()) == {"aspiny"}
    with pytest.raises(SchemaError, match="unknown lab"):
        load_chartrand2023(folder, labs=["allan"])


def test_prince2021_against_raw(shared_data):
    folder = shared_data("prince2021_mouse_pv_sst")
    t = load_prince2021(folder)
    raw = pd.read_csv(folder / "ephys_features.csv")
    assert t.counts("cell_type")["n_cells"].to_dict() == {
        "PV": 17, "SST": 30, "non-fluorescent": 21
    }
    # rheobase nA -> pA; negative values are implausible and dropped (counted)
    negative = int((raw["Rheobase (nA)"] < 0).sum())
    assert t.report.implausible_values == {"rheobase_pA": negative}
    good = raw["Rheobase (nA)"][raw["Rheobase (nA)"] >= 0]
    assert t.values("rheobase_pA").mean() == pytest.approx(good.mean() * 1000.0)
    assert np.median(t.values("fi_slope_Hz_per_pA")) == pytest.approx(
        raw["fI slope (Hz/nA)"].median() / 1000.0
    )
    assert "adaptation_ratio" in t.extras and "adaptation" not in t.features
    assert not t.has_donors
    by_day = load_prince2021(folder, date_as_donor=True)
    assert by_day.n_donors == raw.iloc[:, 0].str.split("-").str[0].nunique() == 32
    assert any("recording day" in n for n in by_day.report.notes)


def test_registry_and_errors(tmp_path):
    assert set(DATASETS) == {"allen_cell_types", "rich2022", "moradi_chameh2021", "berg2021",
                             "chartrand2023", "prince2021"}
    assert list(dataset_table().index) == list(DATASETS)
    with pytest.raises(SchemaError, match="unknown dataset") as exc:
        load_dataset("rich2021", root=tmp_path)
    assert "rich2022" in exc.value.one_line()
    with pytest.raises(InputFileError, match="no folder"):
        load_dataset("rich2022")
    with pytest.raises(InputFileError, match="not found"):
        load_dataset("rich2022", root=tmp_path)
    (tmp_path / "rich2022_human_l5").mkdir()
    with pytest.raises(InputFileError, match="Frontal_Epileptogenic.csv"):
        load_dataset("rich2022", root=tmp_path)


def test_load_dataset_by_root(shared_data):
    root = shared_data()
    t = load_dataset("allen_cell_types", root=root)
    assert t.n_cells == 2333 and "v_threshold_mV" in t.features
