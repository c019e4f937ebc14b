"""Allen Cell Types adapters: specimen-details CSV, CellTypesCache (with and without allensdk),
feature-table joins.

Independent expectations: hand-written fixture values (tests/fixtures/tables/allen_*),
plain pandas group-bys of the raw database files, and the counts in the dataset's
PROVENANCE.md.  The allensdk comparison runs where allensdk is installed (the old-end
environment) and is skipped elsewhere.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hetfit.data_adapters.allen import (
    allen_table,
    read_allen,
    read_allen_cache,
    read_allen_ephys_features,
    read_allen_specimens,
)
from hetfit.errors import InputFileError, MissingDependencyError, SchemaError

FIX = Path(__file__).parent / "fixtures" / "tables"
TINY_SPEC = FIX / "allen_specimens_tiny.csv"
TINY_EPHYS = FIX / "allen_ephys_tiny.csv"
SPECIES = {"Homo Sapiens": "human", "Mus musculus": "mouse"}

# The manifest CellTypesCache (MANIFEST_VERSION 1.1) writes for a new cache folder.
MANIFEST = {
    "manifest": [
        {"type": "manifest_version", "value": "1.1"},
        {"key": "BASEDIR", "type": "dir", "spec": "."},
        {"key": "CELLS", "type": "file", "spec": "cells.json", "parent_key": "BASEDIR"},
        {"key": "EPHYS_DATA", "type": "file", "spec": "specimen_%d/ephys.nwb",
         "parent_key": "BASEDIR"},
        {"key": "EPHYS_FEATURES", "type": "file", "spec": "ephys_features.csv",
         "parent_key": "BASEDIR"},
        {"key": "MORPHOLOGY_FEATURES", "type": "file", "spec": "morphology_features.csv",
         "parent_key": "BASEDIR"},
        {"key": "RECONSTRUCTION", "type": "file", "spec": "specimen_%d/reconstruction.swc",
         "parent_key": "BASEDIR"},
        {"key": "MARKER", "type": "file", "spec": "specimen_%d/reconstruction.marker",
         "parent_key": "BASEDIR"},
        {"key": "EPHYS_SWEEPS", "type": "file", "spec": "specimen_%d/ephys_sweeps.json",
         "parent_key": "BASEDIR"},
    ]
}


def exact_records(raw: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: NaN -> None, numpy scalars -> Python (exact float repr)."""
    out = []
    for rec in raw.astype(object).to_dict("records"):
        out.append({k: (None if isinstance(v, float) and v != v else
                        v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


def build_cache(folder: Path, specimens_csv: Path, ephys_csv: Path | None = None) -> Path:
    """An offline CellTypesCache folder: cells.json holds the specimen-details records (the
    API model behind both the CSV download and get_cells()), as the API returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = pd.read_csv(specimens_csv, low_memory=False)
    (folder / "cells.json").write_text(json.dumps(exact_records(raw)))
    (folder / "manifest.json").write_text(json.dumps(MANIFEST, indent=2))
    if ephys_csv is not None:
        shutil.copy(ephys_csv, folder / "ephys_features.csv")
    return folder


# ----------------------------------------------------------------------------------------
# Hand-written fixture: exact mapping
# ----------------------------------------------------------------------------------------


def test_tiny_specimen_table_maps_every_label_and_feature():
    t = read_allen_specimens(TINY_SPEC)
    d = t.data.set_index("cell_id")
    assert list(d.index) == ["1001", "1002", "1003", "2001", "2002"]
    assert d["donor_id"].tolist() == ["9001", "9001", "9002", "8001", "8002"]
    assert d["species"].tolist() == ["human"] * 3 + ["mouse"] * 2
    assert d["region"].tolist() == ["MTG", "MTG", "FroL", "VISp", "VISp"]
    assert d["structure"].tolist() == ["MTG", "MTG", "FroL", "VISp4", "VISp5"]
    assert d["layer"].tolist() == ["3", "3", "5", "4", "5"]
    assert d["dendrite_type"].tolist() == ["spiny", "aspiny", "spiny", "aspiny", "spiny"]
    assert d["disease_state"].tolist()[:3] == ["epilepsy", "epilepsy", "tumor"]
    assert d["disease_state"].iloc[3:].isna().all()
    assert d["transgenic_line"].iloc[:3].isna().all()
    assert d["transgenic_line"].tolist()[3:] == ["Pvalb-IRES-Cre", "Rbp4-Cre_KL100"]
    assert d.loc["1001", "specimen_name"] == "H99.01.001.01.01"
    assert d.loc["1001", "donor_name"] == "H99.01.001"
    assert d.loc["2001", "reporter_status"] == "positive"
    assert set(d["dataset"]) == {"allen_cell_types"}
    # features, in database units (mV, pA, ms, MOhm, Hz/pA, Hz)
    assert d.loc["1001", "v_rest_mV"] == -71.0
    assert d.loc["1001", "rheobase_pA"] == 110.0
    assert d.loc["1001", "tau_m_ms"] == 21.0
    assert d.loc["1001", "r_input_MOhm"] == 150.0
    assert d.loc["2001", "fi_slope_Hz_per_pA"] == 0.90
    assert d.loc["1002", "adaptation"] == 0.01
    assert d.loc["1002", "mean_isi_ms"] == 20.0
    assert d.loc["1002", "firing_rate_Hz"] == 50.0
    assert d.loc["2002", "upstroke_downstroke_ratio"] == 3.5
    assert np.isnan(d.loc["1003", "adaptation"])
    # C = tau / R: 21 ms / 150 MOhm = 0.14 nF = 140 pF
    assert d.loc["1001", "capacitance_pF"] == pytest.approx(21e-3 / 150e6 * 1e12)
    assert t.report.rows_read == 5 and t.report.rows_kept == 5


def test_tiny_join_with_feature_table():
    t = read_allen_specimens(TINY_SPEC, ephys_features=TINY_EPHYS)
    d = t.data.set_index("cell_id")
    assert d.loc["1001", "v_threshold_mV"] == -40.0
    assert d.loc["1001", "distance_to_threshold_mV"] == pytest.approx(-40.0 + 71.0)
    assert d.loc["1002", "sag"] == 0.02
    # latency is in seconds in this table: 0.050 s -> 50 ms
    assert d.loc["1001", "latency_ms"] == pytest.approx(50.0)
    # AP amplitude = peak - threshold = 35 - (-40)
    assert d.loc["1001", "ap_amplitude_mV"] == pytest.approx(75.0)
    # the specimen table's tau wins over the disagreeing feature-table value (99 ms)
    assert d.loc["2002", "tau_m_ms"] == 18.0
    notes = " | ".join(t.report.notes)
    assert "1 duplicated specimen row" in notes
    assert "1 row(s) for specimens not in the cell table" in notes
    assert "tau_m_ms differs from the cell table for 1 cell" in notes
    assert "5 of 5 cells matched" in notes
    assert "3999" not in set(t.data["cell_id"])


def test_feature_table_alone_drops_identical_repeats_only():
    t = read_allen_ephys_features(TINY_EPHYS)
    assert t.n_cells == 6 and t.labels == ["dataset"]
    assert t.report.dropped_rows == {"repeated specimen row with identical values": 1}
    assert any("no donor ids" in n for n in t.report.notes)
    raw = pd.read_csv(TINY_EPHYS)
    raw.loc[5, "tau"] = 17.0  # the repeated row now conflicts
    with pytest.raises(SchemaError, match="duplicated cell id"):
        read_allen_ephys_features(raw)


def test_read_allen_dispatch(tmp_path):
    a = read_allen(TINY_SPEC)
    b = read_allen_specimens(TINY_SPEC)
    pd.testing.assert_frame_equal(a.data, b.data)
    cache = build_cache(tmp_path / "cache", TINY_SPEC)
    c = read_allen(cache, use_allensdk=False)
    pd.testing.assert_frame_equal(c.data, b.data)
    with pytest.raises(SchemaError, match="feature table"):
        read_allen(TINY_EPHYS, ephys_features=TINY_EPHYS)
    with pytest.raises(SchemaError, match="not an Allen"):
        read_allen(FIX / "lab_cells.csv")


def test_cache_files_equal_csv_path(tmp_path):
    cache = build_cache(tmp_path / "cache", TINY_SPEC, TINY_EPHYS)
    from_files = read_allen_cache(cache, use_allensdk=False)
    from_csv = read_allen_specimens(TINY_SPEC, ephys_features=TINY_EPHYS)
    pd.testing.assert_frame_equal(from_files.data, from_csv.data, check_exact=True)
    # the manifest file itself is accepted too
    again = read_allen_cache(cache / "manifest.json", use_allensdk=False)
    pd.testing.assert_frame_equal(again.data, from_csv.data)


def test_cache_without_manifest_uses_default_names(tmp_path):
    cache = build_cache(tmp_path / "cache", TINY_SPEC, TINY_EPHYS)
    (cache / "manifest.json").unlink()
    t = read_allen_cache(cache, use_allensdk=False)
    assert t.n_cells == 5 and "v_threshold_mV" in t.features


def test_cache_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_allen_cache(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="no cells.json") as exc:
        read_allen_cache(empty, use_allensdk=False)
    assert "never downloads" in exc.value.one_line()
    cache = build_cache(tmp_path / "cache", TINY_SPEC)
    (cache / "cells.json").write_text('[{"specimen__id": 1, "donor__spec')  # truncated
    with pytest.raises(InputFileError, match="cells.json"):
        read_allen_cache(cache, use_allensdk=False)
    (cache / "cells.json").write_text('{"specimen__id": 1}')
    with pytest.raises(InputFileError, match="not a list of cell records"):
        read_allen_cache(cache, use_allensdk=False)
    (cache / "manifest.json").write_text("{not json")
    with pytest.raises(InputFileError, match="manifest"):
        read_allen_cache(cache, use_allensdk=False)


def test_not_allen_tables_are_rejected():
    with pytest.raises(SchemaError, match="not an Allen specimen-details table"):
        read_allen_specimens(FIX / "lab_cells.csv")
    with pytest.raises(SchemaError, match="not an Allen Cell Types table"):
        allen_table(pd.DataFrame({"foo": [1]}))
    with pytest.raises(SchemaError, match="no 'specimen_id'"):
        read_allen_specimens(TINY_SPEC, ephys_features=pd.DataFrame({"id": [1001]}))
    with pytest.raises(SchemaError, match="no columns"):
        allen_table([])


def test_allensdk_missing_gives_install_hint(tmp_path, monkeypatch):
    import sys

    cache = build_cache(tmp_path / "cache", TINY_SPEC)
    monkeypatch.setitem(sys.modules, "allensdk", None)
    monkeypatch.setitem(sys.modules, "allensdk.core.cell_types_cache", None)
    with pytest.raises(MissingDependencyError, match=r"hetfit\[allen\]"):
        read_allen_cache(cache, use_allensdk=True)
    # default: falls back to the files when allensdk is absent
    assert read_allen_cache(cache).n_cells == 5


# ----------------------------------------------------------------------------------------
# allensdk path == file path (runs where allensdk is installed: the old-end environment)
# ----------------------------------------------------------------------------------------


@pytest.fixture
def offline_allensdk(monkeypatch):
    pytest.importorskip("allensdk", reason="allensdk not installed (install hetfit[allen])")
    from allensdk.api.queries.rma_api import RmaApi

    def no_network(*args, **kwargs):
        raise AssertionError("allensdk tried to query the network")

    monkeypatch.setattr(RmaApi, "model_query", no_network)
    return True


def test_allensdk_reads_the_same_table_tiny(tmp_path, offline_allensdk):
    cache = build_cache(tmp_path / "cache", TINY_SPEC, TINY_EPHYS)
    sdk = read_allen_cache(cache, use_allensdk=True)
    files = read_allen_cache(cache, use_allensdk=False)
    csv = read_allen_specimens(TINY_SPEC, ephys_features=TINY_EPHYS)
    pd.testing.assert_frame_equal(sdk.data, files.data, check_exact=True)
    pd.testing.assert_frame_equal(sdk.data, csv.data, check_exact=True)
    assert "allensdk" in sdk.report.source


def test_cache_files_equal_csv_path_full(tmp_path, shared_data):
    spec = shared_data("allen_cell_types", "cell_types_specimen_details.csv")
    feats = shared_data("allen_cell_types", "ephys_features.csv")
    cache = build_cache(tmp_path / "cache", spec, feats)
    files = read_allen_cache(cache, use_allensdk=False)
    csv = read_allen_specimens(spec, ephys_features=feats)
    pd.testing.assert_frame_equal(files.data, csv.data, check_exact=True)


def test_allensdk_reads_the_same_table_full(tmp_path, offline_allensdk, shared_data):
    spec = shared_data("allen_cell_types", "cell_types_specimen_details.csv")
    feats = shared_data("allen_cell_types", "ephys_features.csv")
    cache = build_cache(tmp_path / "cache", spec, feats)
    sdk = read_allen_cache(cache, use_allensdk=True)
    csv = read_allen_specimens(spec, ephys_features=feats)
    pd.testing.assert_frame_equal(sdk.data, csv.data, check_exact=True)
    assert sdk.n_cells == 2331


# ----------------------------------------------------------------------------------------
# The real database files (../shared/data)
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def allen_files():
    from conftest import shared_data_path

    spec = shared_data_path("allen_cell_types", "cell_types_specimen_details.csv")
    raw = pd.read_csv(spec, low_memory=False)
    return spec, raw, read_allen_specimens(spec)


def test_every_cell_read_with_its_ids(allen_files):
    _, raw, t = allen_files
    assert t.n_cells == len(raw) == 2331
    assert t.report.rows_dropped == 0
    assert set(t.data["cell_id"]) == set(raw["specimen__id"].astype(str))
    by_id = t.data.set_index("cell_id")
    raw_ids = raw.set_index(raw["specimen__id"].astype(str))
    # donor ids present for every cell and equal to the database's
    assert by_id["donor_id"].notna().all()
    assert (by_id["donor_id"] == raw_ids.loc[by_id.index, "donor__id"].astype(str)).all()
    np.testing.assert_array_equal(by_id["v_rest_mV"].to_numpy(),
                                  raw_ids.loc[by_id.index, "ef__vrest"].to_numpy())


@pytest.mark.parametrize(
    ("labels", "raw_cols"),
    [
        (["species"], ["donor__species"]),
        (["species", "dendrite_type"], ["donor__species", "tag__dendrite_type"]),
        (["transgenic_line"], ["line_name"]),
        (["region", "layer"], ["structure_parent__acronym", "structure__layer"]),
        (["species", "disease_state", "dendrite_type"],
         ["donor__species", "donor__disease_state", "tag__dendrite_type"]),
    ],
)
def test_per_type_counts_match_pandas_groupby(allen_files, labels, raw_cols):
    _, raw, t = allen_files
    r = raw.copy()
    r["donor__species"] = r["donor__species"].map(SPECIES)
    r[raw_cols] = r[raw_cols].astype(object).where(r[raw_cols].notna(), None)
    for c in raw_cols:
        r[c] = [None if v is None else str(v) for v in r[c]]
    expected = r.dropna(subset=raw_cols).groupby(raw_cols).agg(
        n_cells=("specimen__id", "size"), n_donors=("donor__id", "nunique")
    )
    got = t.counts(labels)
    assert got["n_cells"].to_dict() == expected["n_cells"].to_dict()
    assert got["n_donors"].to_dict() == expected["n_donors"].to_dict()
    assert got["n_cells"].sum() == raw.dropna(subset=raw_cols).shape[0]


def test_human_cells_by_disease_state_and_dendrite_type(allen_files):
    _, _, t = allen_files
    human = t.select(species="human")
    groups = human.groupby(["disease_state", "dendrite_type"])
    got = {k: g.n_cells for k, g in groups.items()}
    # PROVENANCE.md of allen_cell_types
    assert got == {
        ("epilepsy", "aspiny"): 68, ("epilepsy", "sparsely spiny"): 11,
        ("epilepsy", "spiny"): 271, ("tumor", "aspiny"): 11,
        ("tumor", "sparsely spiny"): 2, ("tumor", "spiny"): 48,
    }
    by_state = human.groupby("disease_state")
    assert by_state["epilepsy"].n_cells == 350 and by_state["epilepsy"].n_donors == 34
    assert by_state["tumor"].n_cells == 61 and by_state["tumor"].n_donors == 8
    assert groups.missing_label == 0


def test_join_with_full_features_reproduces_threshold_statistics(shared_data):
    folder = shared_data("allen_cell_types_ephys_full")
    spec = folder / "cell_types_specimen_details.csv"
    feats = folder / "all_features.csv"
    t = read_allen_specimens(spec, ephys_features=[feats, folder / "aibs_aggregated_ephys_v10.csv"])
    assert t.n_cells == 2333
    assert t.data["v_threshold_mV"].notna().all()
    # independent computation with pandas from the raw files
    raw = pd.read_csv(spec, low_memory=False)
    f = pd.read_csv(feats, low_memory=False).drop_duplicates("specimen_id")
    m = raw.merge(f, left_on="specimen__id", right_on="specimen_id")
    for state, sd_thr, sd_dtt in (("epilepsy", 3.71, 5.43), ("tumor", 3.14, 5.44)):
        sel = m[(m.donor__species == "Homo Sapiens") & (m.donor__disease_state == state)
                & (m.tag__dendrite_type == "spiny")]
        g = t.select(species="human", disease_state=state, dendrite_type="spiny")
        assert g.n_cells == len(sel)
        thr = g.values("v_threshold_mV")
        dtt = g.values("distance_to_threshold_mV")
        assert thr.mean() == pytest.approx(sel.threshold_v_long_square.mean(), abs=1e-9)
        assert dtt.std(ddof=1) == pytest.approx(
            (sel.threshold_v_long_square - sel.vrest).std(ddof=1), abs=1e-9
        )
        assert thr.std(ddof=1) == pytest.approx(sd_thr, abs=0.01)  # PROVENANCE table
        assert dtt.std(ddof=1) == pytest.approx(sd_dtt, abs=0.01)


def test_latency_unit_differs_between_releases(shared_data):
    old = read_allen_ephys_features(shared_data("allen_cell_types", "ephys_features.csv"))
    new = read_allen_ephys_features(shared_data("allen_cell_types_ephys_full",
                                                "all_features.csv"))
    assert new.n_cells == 2333  # two repeated specimen rows dropped
    assert any("latency is in ms" in n for n in old.report.notes)
    assert not any("latency is in ms" in n for n in new.report.notes)
    both = old.data.merge(new.data, on="cell_id", suffixes=("_old", "_new"))
    ratio = (both["latency_ms_old"] / both["latency_ms_new"]).dropna()
    assert len(ratio) > 700
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)  # same cells, same unit now


def test_allensdk_old_manifest_is_a_clear_error(tmp_path, offline_allensdk):
    cache = build_cache(tmp_path / "cache", TINY_SPEC, TINY_EPHYS)
    m = json.loads((cache / "manifest.json").read_text())
    m["manifest"][0]["value"] = "0.9"  # made by an older allensdk
    (cache / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputFileError, match="allensdk could not read") as exc:
        read_allen_cache(cache, use_allensdk=True)
    assert "use_allensdk=False" in exc.value.one_line()
    # the plain-file reader does not care about the manifest version
    assert read_allen_cache(cache, use_allensdk=False).n_cells == 5
