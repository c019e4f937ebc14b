"""Generic table adapter: column mapping, units, labels, formats and bad inputs.

Expected values are hand-computed from the fixture files in tests/fixtures/tables/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hetfit.data_adapters.tables import excel_sheets, from_frame, read_raw, read_table
from hetfit.errors import InputFileError, InsufficientDataError, SchemaError

FIX = Path(__file__).parent / "fixtures" / "tables"

LAB_COLUMNS = {
    "RMP (mV)": "v_rest_mV",
    "Threshold (mV)": "v_threshold_mV",
    "Tau (s)": "tau_m_ms",
    "Rheobase (nA)": "rheobase_pA",
    "Rin (MOhm)": "r_input_MOhm",
}
LAB_UNITS = {"Tau (s)": "s", "Rheobase (nA)": "nA"}
LAB_LABELS = {"Patient": "donor_id", "Group": "disease_state", "Layer": "layer"}


def _lab(**kw):
    args = dict(columns=LAB_COLUMNS, units=LAB_UNITS, labels=LAB_LABELS, id_column="Cell",
                constants={"species": "human"})
    args.update(kw)
    return read_table(FIX / "lab_cells.csv", **args)


def test_mapping_units_labels_and_constants():
    t = _lab()
    d = t.data.set_index("cell_id")
    # c08 has no value at all -> dropped and counted
    assert list(d.index) == [f"c0{i}" for i in range(1, 8)]
    assert t.report.rows_read == 8 and t.report.dropped_rows == {"no feature values": 1}
    # hand-converted values: 0.0200 s = 20 ms, 0.150 nA = 150 pA
    assert d.loc["c01", "tau_m_ms"] == pytest.approx(20.0)
    assert d.loc["c02", "tau_m_ms"] == pytest.approx(25.0)
    assert d.loc["c01", "rheobase_pA"] == pytest.approx(150.0)
    assert d.loc["c05", "rheobase_pA"] == pytest.approx(75.0)
    assert d.loc["c01", "v_rest_mV"] == -70.0 and d.loc["c03", "v_threshold_mV"] == -50.0
    # missing spellings: empty (c05 tau), 'n/a' (c06 threshold), '-' (c07 rheobase)
    assert np.isnan(d.loc["c05", "tau_m_ms"])
    assert np.isnan(d.loc["c06", "v_threshold_mV"])
    assert np.isnan(d.loc["c07", "rheobase_pA"])
    assert t.report.missing_values["tau_m_ms"] == 1
    assert t.report.missing_values["v_threshold_mV"] == 1
    assert t.report.missing_values["rheobase_pA"] == 1
    # labels and constants
    assert d.loc["c04", "disease_state"] == "non-epileptogenic"
    assert d.loc["c05", "layer"] == "L2/3" and d.loc["c01", "donor_id"] == "P1"
    assert set(d["species"]) == {"human"}
    assert t.n_donors == 4
    # derived distance to threshold (given: threshold - rest) and capacitance (tau / R)
    assert d.loc["c02", "distance_to_threshold_mV"] == pytest.approx(-41.5 + 68.5)
    assert d.loc["c04", "capacitance_pF"] == pytest.approx(30e-3 / 200e6 * 1e12)
    # unmapped 'Notes' column is reported, not silently dropped
    assert any("'Notes'" in n for n in t.report.notes)
    assert any("x 1000 -> tau_m_ms" in n for n in t.report.notes)


def test_units_by_canonical_name_or_factor_give_the_same_table():
    a = _lab()
    b = _lab(units={"tau_m_ms": "s", "rheobase_pA": 1000.0})
    pd.testing.assert_frame_equal(a.data, b.data)


def test_recode_and_keep_unmapped():
    t = _lab(recode={"layer": {"L5": "5", "L2/3": "2/3"},
                     "disease_state": lambda v: v.upper()}, keep_unmapped=True)
    d = t.data.set_index("cell_id")
    assert d.loc["c01", "layer"] == "5" and d.loc["c05", "layer"] == "2/3"
    assert d.loc["c01", "disease_state"] == "EPILEPTOGENIC"
    assert d.loc["c05", "Notes"] == "tau not measured"
    with pytest.raises(SchemaError, match="recode names 'region'"):
        _lab(recode={"region": {"a": "b"}})


def test_list_of_canonical_columns_and_generated_ids(tmp_path):
    p = tmp_path / "canon.csv"
    pd.DataFrame({"v_rest_mV": [-70.0, -65.0], "tau_m_ms": [20.0, 15.0]}).to_csv(p, index=False)
    t = read_table(p, ["v_rest_mV", "tau_m_ms"])
    assert t.data["cell_id"].tolist() == ["canon:1", "canon:2"]
    assert any("ids generated" in n for n in t.report.notes)
    assert any("no donor ids" in n for n in t.report.notes)


def test_extras_keep_numbers():
    t = _lab(extras={"Notes": "comment"})
    assert "comment" in t.extras
    with pytest.raises(SchemaError, match="canonical name"):
        _lab(extras={"Notes": "layer"})


@pytest.mark.parametrize(
    ("kwargs", "match", "hint_part"),
    [
        ({"columns": {**LAB_COLUMNS, "Treshold (mV)": "v_threshold_mV"}},
         "not in", "Threshold (mV)"),
        ({"columns": {**LAB_COLUMNS, "Threshold (mV)": "v_thresh_mV"}},
         "not a canonical feature", "v_threshold_mV"),
        ({"units": {"Tau (s)": "fortnights"}}, "unknown unit", "ms"),
        ({"units": {"Tau (sec)": "s"}}, "neither a mapped file column", "Tau (s)"),
        ({"labels": {"Patient": "donor_id", "Group": "disease state"}},
         "not a valid column name", "disease_state"),
        ({"labels": {"Patient": "v_rest_mV"}}, "through labels=", "columns="),
        ({"constants": {"v_rest_mV": -70}}, "is a feature", ""),
        ({"labels": {"Patient": "donor_id", "Group": "layer", "Layer": "layer"}},
         "mapped more than once", ""),
        ({"units": {"Tau (s)": -1.0}}, "must be positive", ""),
    ],
)
def test_mapping_mistakes_are_clear_errors(kwargs, match, hint_part):
    with pytest.raises(SchemaError, match=match) as exc:
        _lab(**kwargs)
    assert hint_part in exc.value.one_line()


def test_wrong_unit_in_file_names_the_file_column():
    with pytest.raises(SchemaError) as exc:
        read_table(FIX / "lab_cells_volts.csv", {"Threshold (mV)": "v_threshold_mV"},
                   id_column="Cell")
    msg = exc.value.one_line()
    assert "'Threshold (mV)'" in msg and "look like V" in msg
    t = read_table(FIX / "lab_cells_volts.csv", {"Threshold (mV)": "v_threshold_mV"},
                   units={"Threshold (mV)": "V"}, id_column="Cell")
    assert t.values("v_threshold_mV").tolist() == pytest.approx([-45.0, -41.0, -50.0, -39.0])


def test_tau_given_in_seconds_without_declaring_it():
    with pytest.raises(SchemaError, match="look like s"):
        read_table(FIX / "lab_cells.csv", {"Tau (s)": "tau_m_ms"}, id_column="Cell")


def test_duplicate_ids_in_a_file():
    with pytest.raises(SchemaError, match="2 duplicated"):
        read_table(FIX / "lab_cells_duplicates.csv", {"Threshold (mV)": "v_threshold_mV"},
                   id_column="Cell")
    t = read_table(FIX / "lab_cells_duplicates.csv", {"Threshold (mV)": "v_threshold_mV"},
                   id_column="Cell", on_duplicate="first")
    assert t.data["cell_id"].tolist() == ["x1", "x2", "x3"]
    assert t.values("v_threshold_mV").tolist() == [-45.0, -44.0, -42.0]
    assert t.report.rows_read == 5 and t.report.rows_dropped == 2


def test_text_in_a_numeric_cell():
    with pytest.raises(SchemaError, match="non-numeric") as exc:
        read_table(FIX / "lab_cells_text.csv", {"Threshold (mV)": "v_threshold_mV"},
                   id_column="Cell")
    assert "-44 mV" in exc.value.one_line()


def test_excel_sheets(tmp_path):
    pytest.importorskip("openpyxl")
    src = pd.read_csv(FIX / "lab_cells.csv")
    xl = tmp_path / "lab.xlsx"
    with pd.ExcelWriter(xl) as w:
        src.iloc[:4].to_excel(w, sheet_name="epileptogenic", index=False)
        src.iloc[4:].to_excel(w, sheet_name="control", index=False)
    assert excel_sheets(xl) == ["epileptogenic", "control"]
    a = read_table(xl, LAB_COLUMNS, units=LAB_UNITS, labels=LAB_LABELS, id_column="Cell",
                   sheet="control", constants={"species": "human"})
    csv = _lab()
    expected = csv.data[csv.data["cell_id"].isin(["c05", "c06", "c07"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(a.data, expected)
    first = read_table(xl, LAB_COLUMNS, units=LAB_UNITS, id_column="Cell")  # default: sheet 0
    assert first.data["cell_id"].tolist() == ["c01", "c02", "c03", "c04"]
    with pytest.raises(SchemaError, match="no sheet 'Control'") as exc:
        read_table(xl, LAB_COLUMNS, units=LAB_UNITS, id_column="Cell", sheet="Control")
    assert "control" in exc.value.one_line()
    with pytest.raises(SchemaError, match="out of range"):
        read_table(xl, LAB_COLUMNS, units=LAB_UNITS, id_column="Cell", sheet=5)


def test_tsv_and_sniffed_txt(tmp_path):
    src = pd.read_csv(FIX / "lab_cells.csv")
    (tmp_path / "lab.tsv").write_text(src.to_csv(sep="\t", index=False))
    (tmp_path / "lab.txt").write_text(src.to_csv(sep=";", index=False))
    ref = _lab().data
    for name in ("lab.tsv", "lab.txt"):
        t = read_table(tmp_path / name, LAB_COLUMNS, units=LAB_UNITS, labels=LAB_LABELS,
                       id_column="Cell", constants={"species": "human"})
        pd.testing.assert_frame_equal(t.data, ref)


def test_parquet_source(tmp_path):
    pytest.importorskip("pyarrow")
    src = pd.read_csv(FIX / "lab_cells.csv")
    src.to_parquet(tmp_path / "lab.parquet")
    t = read_table(tmp_path / "lab.parquet", LAB_COLUMNS, units=LAB_UNITS, labels=LAB_LABELS,
                   id_column="Cell", constants={"species": "human"})
    pd.testing.assert_frame_equal(t.data, _lab().data)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"\n\n", "no columns"),
        ("binary.csv", bytes(range(256)) * 8, "not readable text"),
        ("broken.xlsx", b"PK\x03\x04 truncated zip", "corrupt"),
        ("broken.parquet", b"PAR1 nope", "corrupt"),
        ("table.sav", b"a,b\n1,2\n", "unsupported table format"),
        ("ragged.csv", b'a,b\n1,"unterminated\n', "malformed"),
    ],
)
def test_unreadable_files(tmp_path, name, content, match):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=match):
        read_table(p, {"a": "v_rest_mV"})


def test_missing_path_directory_and_header_only(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_table(tmp_path / "nope.csv", {"a": "v_rest_mV"})
    with pytest.raises(InputFileError, match="directory"):
        read_table(tmp_path, {"a": "v_rest_mV"})
    (tmp_path / "header.csv").write_text("Cell,RMP\n")
    with pytest.raises(InsufficientDataError, match="no data rows"):
        read_table(tmp_path / "header.csv", {"RMP": "v_rest_mV"}, id_column="Cell")


def test_from_frame_checks_its_input():
    with pytest.raises(SchemaError, match="DataFrame"):
        from_frame([1, 2, 3], {"a": "v_rest_mV"})
    with pytest.raises(SchemaError, match="mapping"):
        from_frame(pd.DataFrame({"a": [1.0]}), "v_rest_mV")


def test_read_raw_strips_header_whitespace(tmp_path):
    p = tmp_path / "ws.csv"
    p.write_text(" Cell , RMP (mV) \nq,-70\n")
    assert list(read_raw(p).columns) == ["Cell", "RMP (mV)"]


def test_canonical_file_needs_no_mapping(tmp_path):
    t = _lab()
    t.write(tmp_path / "canon.csv")
    back = read_table(tmp_path / "canon.csv")
    pd.testing.assert_frame_equal(back.data, t.data, check_dtype=False)
    with pytest.raises(SchemaError, match="no canonical feature columns"):
        read_table(FIX / "lab_cells.csv")


def test_mapping_files(tmp_path):
    import json

    from hetfit.data_adapters.tables import load_mapping, read_mapped

    spec = {"columns": LAB_COLUMNS, "units": LAB_UNITS, "labels": LAB_LABELS,
            "id_column": "Cell", "constants": {"species": "human"}}
    (tmp_path / "map.json").write_text(json.dumps(spec))
    pd.testing.assert_frame_equal(read_mapped(FIX / "lab_cells.csv", tmp_path / "map.json").data,
                                  _lab().data)
    with pytest.raises(SchemaError, match="unknown key") as exc:
        load_mapping({**spec, "unit": {}})
    assert "units" in exc.value.one_line()
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(SchemaError, match="JSON object"):
        load_mapping(tmp_path / "list.json")
    (tmp_path / "bad.json").write_text("{'columns': ")
    with pytest.raises(InputFileError, match="cannot read mapping"):
        load_mapping(tmp_path / "bad.json")
