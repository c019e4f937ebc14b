"""CellTable: schema validation, report bookkeeping, grouping, derived features, IO.

Expected values are computed by hand in the tests or independently with plain pandas.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hetfit.data_adapters.celltable import REPORT_SUFFIX, CellTable, TableReport
from hetfit.data_adapters.schema import FEATURES, suggest_conversions
from hetfit.errors import (
    InputFileError,
    InsufficientDataError,
    MissingDependencyError,
    SchemaError,
)


def _frame(**overrides):
    base = {
        "cell_id": ["a", "b", "c", "d", "e", "f"],
        "donor_id": ["d1", "d1", "d2", "d2", "d3", np.nan],
        "disease_state": ["epilepsy", "epilepsy", "tumor", "tumor", "tumor", "epilepsy"],
        "layer": [5, 5.0, "2/3", "2/3", 5, None],
        "v_rest_mV": [-70.0, -68.0, -72.0, -65.0, -75.0, -71.0],
        "v_threshold_mV": [-45.0, -41.0, -50.0, -40.0, -44.0, np.nan],
        "tau_m_ms": [20.0, 25.0, 18.0, 30.0, np.nan, 22.0],
        "r_input_MOhm": [100.0, 150.0, 80.0, 200.0, 120.0, 110.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def _check_bookkeeping(t: CellTable) -> None:
    r = t.report
    assert r.rows_kept == len(t)
    assert r.rows_read == r.rows_kept + r.rows_dropped


def test_valid_table_types_order_and_report():
    t = CellTable(_frame(), source="hand-made")
    d = t.data
    assert list(d.columns[:2]) == ["cell_id", "donor_id"]
    assert d["layer"].tolist()[:5] == ["5", "5", "2/3", "2/3", "5"]  # 5 and 5.0 -> "5"
    assert pd.isna(d["layer"].iloc[5])
    assert all(d[f].dtype == np.float64 for f in t.features)
    assert t.features == ["v_rest_mV", "v_threshold_mV", "tau_m_ms", "r_input_MOhm"]
    assert t.n_cells == 6 and t.n_donors == 3 and not t.has_donors
    # NaN policy: missing values are kept as missing and counted per feature
    assert t.report.missing_values == {
        "v_rest_mV": 0, "v_threshold_mV": 1, "tau_m_ms": 1, "r_input_MOhm": 0
    }
    assert t.report.rows_dropped == 0
    assert any("without donor id" in n for n in t.report.notes)
    _check_bookkeeping(t)
    np.testing.assert_array_equal(t.values("v_threshold_mV"), [-45.0, -41.0, -50.0, -40.0, -44.0])


def test_numeric_ids_become_text_without_decimal_point():
    t = CellTable(pd.DataFrame({"cell_id": [525011903.0, 2.0], "v_rest_mV": [-70.0, -60.0]}))
    assert t.data["cell_id"].tolist() == ["525011903", "2"]


def test_not_a_dataframe_is_a_schema_error():
    with pytest.raises(SchemaError, match="DataFrame"):
        CellTable({"cell_id": ["a"]})


def test_missing_cell_id_column():
    with pytest.raises(SchemaError, match="cell_id") as exc:
        CellTable(_frame().rename(columns={"cell_id": "cell"}))
    assert "id_column" in exc.value.one_line()


def test_rows_without_cell_id_are_dropped_and_counted():
    t = CellTable(_frame(cell_id=["a", None, "c", "", "e", "f"]))
    assert t.report.dropped_rows == {"missing cell_id": 2}
    assert t.data["cell_id"].tolist() == ["a", "c", "e", "f"]
    _check_bookkeeping(t)


def test_duplicate_ids_raise_or_keep_first():
    df = _frame(cell_id=["a", "b", "a", "c", "b", "d"])
    with pytest.raises(SchemaError, match="2 duplicated cell id") as exc:
        CellTable(df)
    assert "on_duplicate" in exc.value.one_line()
    t = CellTable(df, on_duplicate="first")
    assert t.report.dropped_rows == {"duplicated cell_id (kept first)": 2}
    assert t.data["cell_id"].tolist() == ["a", "b", "c", "d"]
    # the first occurrence is kept: a -> -70, b -> -68 (rows 0 and 1)
    assert t.data["v_rest_mV"].tolist()[:2] == [-70.0, -68.0]
    _check_bookkeeping(t)


@pytest.mark.parametrize(
    ("feature", "values", "unit", "factor"),
    [
        ("v_threshold_mV", [-0.045, -0.041, -0.050], "V", 1e3),
        ("v_rest_mV", [-0.070, -0.068, -0.072], "V", 1e3),
        ("tau_m_ms", [0.020, 0.025, 0.018], "s", 1e3),
        ("rheobase_pA", [0.15, 0.10, 0.20], "nA", 1e3),
        ("ap_width_ms", [0.0009, 0.0011, 0.0010], "s", 1e3),
        ("r_input_MOhm", [1.0e8, 1.5e8, 0.8e8], "Ohm", 1e-6),
        ("fi_slope_Hz_per_pA", [120.0, 80.0, 300.0], "Hz/nA", 1e-3),
    ],
)
def test_wrong_units_are_caught_with_the_fix(feature, values, unit, factor):
    df = pd.DataFrame({"cell_id": ["a", "b", "c"], feature: values})
    with pytest.raises(SchemaError) as exc:
        CellTable(df)
    msg = exc.value.one_line()
    assert feature in msg and "plausible" in msg
    assert f"look like {unit}" in msg and f"{factor:g}" in msg
    # and the suggested conversion really fixes it
    fixed = df.assign(**{feature: np.asarray(values) * factor})
    assert CellTable(fixed).n_cells == 3
    assert (unit, factor) in suggest_conversions(feature, values)


def test_single_implausible_values_drop_raise_or_keep():
    df = _frame(v_threshold_mV=[-45.0, -41.0, 5.0, -40.0, -44.0, -95.0])  # 2 outliers
    t = CellTable(df)
    assert t.report.implausible_values == {"v_threshold_mV": 2}
    assert t.report.missing_values["v_threshold_mV"] == 2
    assert np.isnan(t.data["v_threshold_mV"].iloc[2]) and np.isnan(t.data["v_threshold_mV"].iloc[5])
    with pytest.raises(SchemaError, match="2 value"):
        CellTable(df, on_implausible="raise")
    kept = CellTable(df, on_implausible="keep")
    assert kept.report.implausible_values == {"v_threshold_mV": 2}
    assert kept.data["v_threshold_mV"].iloc[2] == 5.0


def test_infinite_values_are_counted_and_removed():
    t = CellTable(_frame(tau_m_ms=[20.0, np.inf, 18.0, 30.0, -np.inf, 22.0]))
    assert t.report.implausible_values == {"tau_m_ms": 2}
    assert t.report.missing_values["tau_m_ms"] == 2


def test_text_in_numeric_column_is_an_error_but_na_spellings_are_missing():
    bad = _frame(v_rest_mV=["-70", "-68 mV", -72.0, -65.0, "about -75", -71.0])
    with pytest.raises(SchemaError, match="non-numeric") as exc:
        CellTable(bad)
    assert "-68 mV" in exc.value.one_line()
    ok = _frame(v_rest_mV=["-70", "n/a", -72.0, "-", "NA", -71.0])
    t = CellTable(ok)
    assert t.report.missing_values["v_rest_mV"] == 3
    assert t.data["v_rest_mV"].iloc[0] == -70.0


def test_featureless_rows_are_dropped_and_counted():
    df = _frame()
    df.loc[[1, 4], ["v_rest_mV", "v_threshold_mV", "tau_m_ms", "r_input_MOhm"]] = np.nan
    t = CellTable(df)
    assert t.report.dropped_rows == {"no feature values": 2}
    assert t.data["cell_id"].tolist() == ["a", "c", "d", "f"]
    _check_bookkeeping(t)
    assert CellTable(df, drop_featureless=False).n_cells == 6


def test_duplicate_column_names_are_an_error():
    df = pd.DataFrame([["a", -70.0, -71.0]], columns=["cell_id", "v_rest_mV", "v_rest_mV"])
    with pytest.raises(SchemaError, match="more than once"):
        CellTable(df)


def test_boolean_feature_column_is_an_error():
    with pytest.raises(SchemaError, match="booleans"):
        CellTable(pd.DataFrame({"cell_id": ["a", "b"], "sag": [True, False]}))


def test_groupby_matches_plain_pandas():
    df = _frame()
    t = CellTable(df)
    groups = t.groupby("disease_state")
    expected = df.groupby("disease_state").size().to_dict()
    assert {k[0]: g.n_cells for k, g in groups.items()} == expected
    assert groups["tumor"].data["cell_id"].tolist() == ["c", "d", "e"]
    counts = t.counts("disease_state")
    assert counts.loc["tumor", "n_donors"] == 2 and counts.loc["epilepsy", "n_donors"] == 1
    # subgroup reports keep the bookkeeping invariant
    for g in groups.values():
        _check_bookkeeping(g)


def test_groupby_missing_labels_min_cells_and_errors():
    t = CellTable(_frame())
    g = t.groupby(["disease_state", "layer"], min_cells=2)
    # layer missing for 'f' -> left out and counted; (tumor, 5) has 1 cell -> skipped
    assert g.missing_label == 1
    assert g.skipped == {("tumor", "5"): 1}
    assert set(g) == {("epilepsy", "5"), ("tumor", "2/3")}
    assert g[("tumor", "2/3")].n_cells == 2
    with pytest.raises(KeyError, match="fewer than min_cells"):
        g[("tumor", "5")]
    with pytest.raises(SchemaError, match="not in this table"):
        t.groupby("dendrite_type")
    empty = CellTable(_frame(region=[np.nan] * 6))
    with pytest.raises(InsufficientDataError, match="no cell has a value"):
        empty.groupby("region")
    with pytest.raises(InsufficientDataError, match="at least 10 cells"):
        t.groupby("disease_state", min_cells=10)


def test_select_and_empty_selection():
    t = CellTable(_frame())
    sub = t.select(disease_state="tumor", layer=["2/3", 7])
    assert sub.data["cell_id"].tolist() == ["c", "d"]
    assert sub.report.rows_dropped == 4
    with pytest.raises(InsufficientDataError) as exc:
        t.select(disease_state="healthy")
    assert "epilepsy" in exc.value.one_line() and "tumor" in exc.value.one_line()
    assert t.select(disease_state="healthy", allow_empty=True).n_cells == 0


def test_derived_features_against_hand_computation():
    t = CellTable(_frame()).with_derived()
    d = t.data.set_index("cell_id")
    # distance to threshold = threshold - rest
    assert d.loc["a", "distance_to_threshold_mV"] == pytest.approx(25.0)
    assert d.loc["b", "distance_to_threshold_mV"] == pytest.approx(27.0)
    assert np.isnan(d.loc["f", "distance_to_threshold_mV"])  # no threshold
    # C = tau / R in SI units: 20e-3 s / 100e6 Ohm = 2e-10 F = 200 pF
    assert d.loc["a", "capacitance_pF"] == pytest.approx(20e-3 / 100e6 * 1e12)
    assert d.loc["d", "capacitance_pF"] == pytest.approx(30e-3 / 200e6 * 1e12)
    assert any("distance_to_threshold_mV: 5 value(s) derived" in n for n in t.report.notes)


def test_given_distance_to_threshold_is_kept_and_inconsistency_noted():
    df = _frame(distance_to_threshold_mV=[25.0, 20.0, 22.0, 25.0, 31.0, np.nan])
    t = CellTable(df).with_derived()
    assert t.data["distance_to_threshold_mV"].tolist()[:2] == [25.0, 20.0]
    assert any("1 given value(s) differ" in n for n in t.report.notes)


def test_csv_roundtrip_keeps_text_ids_and_report(tmp_path):
    df = _frame(cell_id=["007", "b", "c", "d", "e", "f"])
    t = CellTable(df, source="hand-made")
    path = t.write(tmp_path / "cells.csv")
    assert path.exists() and (tmp_path / ("cells.csv" + REPORT_SUFFIX)).exists()
    back = CellTable.read(path)
    pd.testing.assert_frame_equal(back.data, t.data, check_dtype=False)
    assert back.data["cell_id"].iloc[0] == "007"
    assert back.report.upstream[0]["source"] == "hand-made"
    # no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.csv", "cells.csv.report.json"]


def test_parquet_roundtrip(tmp_path):
    pytest.importorskip("pyarrow")
    t = CellTable(_frame(), source="hand-made")
    path = t.write(tmp_path / "cells.parquet")
    back = CellTable.read(path)
    pd.testing.assert_frame_equal(back.data, t.data, check_dtype=False)
    assert back.report.upstream[0]["rows_kept"] == 6


def test_io_errors(tmp_path):
    t = CellTable(_frame())
    with pytest.raises(InputFileError, match="unknown suffix"):
        t.write(tmp_path / "cells.xlsx")
    with pytest.raises(InputFileError, match="not found"):
        CellTable.read(tmp_path / "missing.csv")


def test_corrupt_parquet_is_an_input_error(tmp_path):
    pytest.importorskip("pyarrow")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputFileError, match="Parquet"):
        CellTable.read(bad)


def test_parquet_without_pyarrow_names_the_package(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(MissingDependencyError, match="pip install pyarrow"):
        CellTable(_frame()).write(tmp_path / "cells.parquet")
    assert not (tmp_path / "cells.parquet").exists()


def test_concat_sums_reports_and_rejects_duplicate_ids():
    a = CellTable(_frame(), source="A")
    b_df = _frame(cell_id=list("uvwxyz"))
    b_df.loc[0, "v_threshold_mV"] = 10.0  # implausible: dropped and counted in b
    b = CellTable(b_df, source="B")
    both = CellTable.concat([a, b])
    assert both.n_cells == 12
    assert both.report.rows_read == 12
    assert both.report.implausible_values == {"v_threshold_mV": 1}
    assert [u["source"] for u in both.report.upstream] == ["A", "B"]
    with pytest.raises(SchemaError, match="duplicated"):
        CellTable.concat([a, a])


def test_report_roundtrip_and_summary():
    t = CellTable(_frame(cell_id=["a", None, "c", "d", "e", "f"]))
    d = t.report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert TableReport.from_dict(d).to_dict() == d
    assert "1 dropped" in t.report.summary() and "missing cell_id" in t.report.summary()


def test_schema_conversion_factors_are_consistent():
    # every listed conversion of a feature into its own unit is 1, and factor() finds each
    for spec in FEATURES.values():
        for unit, f in spec.conversions:
            assert spec.factor(unit) == f
        assert spec.factor(spec.unit) == 1.0
    with pytest.raises(SchemaError, match="unknown unit"):
        FEATURES["tau_m_ms"].factor("fortnight")


def test_concat_respects_each_parts_implausible_policy():
    df = _frame(v_threshold_mV=[-45.0, -41.0, 5.0, -40.0, -44.0, -42.0])
    kept = CellTable(df, on_implausible="keep", source="K")
    dropped = CellTable(df.assign(cell_id=list("uvwxyz")), source="D")
    both = CellTable.concat([kept, dropped])
    thr = both.data.set_index("cell_id")["v_threshold_mV"]
    assert thr["c"] == 5.0 and np.isnan(thr["w"])  # each part as it was
    assert both.report.implausible_values == {"v_threshold_mV": 2}  # counted once each
    same = CellTable.concat([dropped, CellTable(df.assign(cell_id=list("ghijkl")))])
    assert same.on_implausible == "drop"
    assert same.report.implausible_values == {"v_threshold_mV": 2}


def test_package_exports_resolve_lazily():
    import subprocess
    import sys

    import hetfit.data_adapters as da

    for name in da.__all__:
        assert getattr(da, name) is not None
    with pytest.raises(AttributeError):
        da.no_such_name  # noqa: B018
    # importing the package alone does not import pandas (exports are lazy)
    code = "import sys, hetfit.data_adapters; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_summary_is_json_ready():
    from hetfit.io import dumps

    t = CellTable(_frame())
    s = t.summary()
    assert s["n_cells"] == 6 and s["n_donors"] == 3
    assert s["features"]["v_threshold_mV"] == 5 and s["labels"]["layer"] == 2
    assert json.loads(dumps(s))["report"]["rows_read"] == 6


def test_tiny_tables_accept_unusual_real_values_but_still_catch_units():
    # One or two cells with a real but atypical median (f-I slope near 0) are not a unit error...
    t = CellTable(pd.DataFrame({"cell_id": ["a", "b"], "fi_slope_Hz_per_pA": [0.001, 0.002]}))
    assert t.values("fi_slope_Hz_per_pA").tolist() == [0.001, 0.002]
    # ...but a single threshold in volts still is, because a conversion explains it.
    with pytest.raises(SchemaError, match="V"):
        CellTable(pd.DataFrame({"cell_id": ["a"], "v_threshold_mV": [-0.045]}))
    # with many cells the typical-median check applies as before
    with pytest.raises(SchemaError):
        CellTable(pd.DataFrame({"cell_id": [str(i) for i in range(10)],
                                "fi_slope_Hz_per_pA": [1e-5] * 10}))
