"""WidthEstimator: statuses, counts, JSON round trip, reproducibility, Allen data vs pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hetfit.distributions.estimate import EstimateResult, WidthEstimator
from hetfit.errors import (
    IncompatibleArtifactError,
    InsufficientDataError,
    ParameterError,
    SchemaError,
)

FAST = dict(families=("gaussian", "lorentzian"), n_boot=200, n_gof=0)


def _table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    # type A: 20 donors x 6 cells, Gaussian thresholds with donor effects
    for d in range(20):
        off = rng.normal(0, 1.0)
        for _ in range(6):
            rows.append(("A", f"a{d}", -40 + off + rng.normal(0, 3.0), rng.lognormal(3, 0.3)))
    # type B: only 6 cells
    for i in range(6):
        rows.append(("B", f"b{i}", -45 + rng.normal(), 20.0))
    # type C: 40 cells from 3 donors
    for i in range(40):
        rows.append(("C", f"c{i % 3}", -38 + rng.normal(), 15.0 + rng.normal()))
    df = pd.DataFrame(rows, columns=["cell_type", "donor_id", "v_threshold_mV", "tau_m_ms"])
    df.loc[[0, 5, 7], "tau_m_ms"] = np.nan
    df["cell_id"] = [f"cell{i}" for i in range(len(df))]
    return df


def test_statuses_counts_and_estimates():
    df = _table()
    res = WidthEstimator(["v_threshold_mV", "tau_m_ms"], group_by="cell_type", seed=1,
                         **FAST).fit(df)
    assert [g.name for g in res] == ["A", "B", "C"]
    a = res.group("A")
    thr, tau = a["v_threshold_mV"], a["tau_m_ms"]
    assert thr.status == "ok" and thr.n_cells == 120 and thr.n_donors == 20
    assert tau.n_cells == 117 and tau.n_missing == 3
    cells = df[df.cell_type == "A"].v_threshold_mV
    assert thr.width("sd").estimate == pytest.approx(cells.std(ddof=1))
    q75, q25 = np.quantile(cells, [0.75, 0.25])
    assert thr.width("iqr").estimate == pytest.approx(q75 - q25)
    assert thr.width("hwhm_iqr").estimate == pytest.approx((q75 - q25) / 2)
    assert thr.width("sigma_iqr").estimate == pytest.approx((q75 - q25) / 1.3489795003921634)
    assert thr.location["median"].estimate == pytest.approx(cells.median())
    sd = thr.width("sd")
    assert sd.low < sd.estimate < sd.high and sd.method == "studentized"
    assert thr.chosen_family == "gaussian"
    assert "cv" not in thr.widths and "cv" in tau.widths  # CV only for positive features
    assert thr.resampling_unit == "donor"
    b, c = res.group("B")["v_threshold_mV"], res.group("C")["v_threshold_mV"]
    assert b.status == "too_few_cells" and b.families is None and not b.widths
    assert c.status == "too_few_donors" and c.n_donors == 3 and "donor" in c.reason
    with pytest.raises(ParameterError, match="no distribution was fitted"):
        c.distribution()
    corr = a.correlation
    assert corr["features"] == ["v_threshold_mV", "tau_m_ms"] and corr["n"] == 117
    frame = res.to_frame()
    assert len(frame) == 6 and set(frame.status) == {"ok", "too_few_cells", "too_few_donors"}


def test_json_round_trip_and_reproducibility(tmp_path):
    df = _table()
    est = WidthEstimator(["v_threshold_mV"], group_by=["cell_type"], seed=3, **FAST)
    res = est.fit(df)
    path = res.save(tmp_path / "est.json")
    again = EstimateResult.load(path)
    assert again.to_dict() == json.loads(path.read_text())
    pd.testing.assert_frame_equal(again.to_frame(), res.to_frame())
    res2 = est.fit(df)
    d1, d2 = res.to_dict(), res2.to_dict()
    d1["provenance"].pop("created_utc"), d2["provenance"].pop("created_utc")
    assert d1 == d2
    fit = again.group("A")["v_threshold_mV"].distribution()
    assert fit.family == "gaussian" and fit.cdf([-40.0])[0] == pytest.approx(
        res.group("A")["v_threshold_mV"].distribution().cdf([-40.0])[0])
    assert again.provenance["hetfit_version"] and again.settings["seed"] == 3


def test_without_donor_column_cells_are_resampled():
    df = _table().drop(columns="donor_id")
    res = WidthEstimator(["v_threshold_mV"], group_by="cell_type", seed=0, **FAST).fit(df)
    thr = res.group("C")["v_threshold_mV"]  # no donors known: not "too few donors"
    assert thr.status == "ok" and thr.resampling_unit == "cell" and thr.n_donors is None
    assert any("as if independent" in n for n in thr.notes)


def test_estimator_bad_inputs(tmp_path):
    df = _table()
    with pytest.raises(SchemaError, match="group_by"):
        WidthEstimator(["v_threshold_mV"], group_by="layer", **FAST).fit(df)
    with pytest.raises(SchemaError, match="not in the table"):
        WidthEstimator(["rheobase_pA"], **FAST).fit(df)
    with pytest.raises(SchemaError, match="not numeric"):
        WidthEstimator(["donor_id"], **FAST).fit(df)
    with pytest.raises(ParameterError, match="unknown distribution family"):
        WidthEstimator(families=("gamma",))
    with pytest.raises(ParameterError, match="n_boot"):
        WidthEstimator(n_boot=5)
    with pytest.raises(InsufficientDataError, match="no cells"):
        WidthEstimator(["v_threshold_mV"], **FAST).fit(df.iloc[:0])
    with pytest.raises(SchemaError, match="DataFrame"):
        WidthEstimator(**FAST).fit([1, 2, 3])
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "something else"}')
    with pytest.raises(IncompatibleArtifactError, match="not a hetfit estimate"):
        EstimateResult.load(bad)


def test_allen_human_types_match_a_plain_pandas_computation(shared_data):
    from hetfit.data_adapters import read_allen_specimens

    folder = shared_data("allen_cell_types_ephys_full")
    spec = folder / "cell_types_specimen_details.csv"
    feats = folder / "all_features.csv"
    table = read_allen_specimens(spec, ephys_features=feats)
    res = WidthEstimator(["v_threshold_mV"], group_by=["disease_state", "dendrite_type"],
                         min_donors=5, seed=0, **FAST).fit(table.select(species="human"))
    # independent computation on the raw files
    raw = pd.read_csv(spec, low_memory=False)
    raw = raw[raw.donor__species == "Homo Sapiens"]
    thr = pd.read_csv(feats).drop_duplicates("specimen_id")[["specimen_id",
                                                             "threshold_v_long_square"]]
    raw = raw.merge(thr, left_on="specimen__id", right_on="specimen_id", how="left")
    grouped = raw.groupby(["donor__disease_state", "tag__dendrite_type"])
    for (state, dend), sub in grouped:
        g = res.group(disease_state=state, dendrite_type=dend)
        f = g["v_threshold_mV"]
        assert g.n_cells == len(sub)
        assert f.n_donors == sub.donor__id.nunique()
        if f.ok:
            assert f.width("sd").estimate == pytest.approx(
                sub.threshold_v_long_square.std(ddof=1), rel=1e-9)
        else:
            assert f.status in ("too_few_cells", "too_few_donors")
    spiny = res.group(disease_state="epilepsy", dendrite_type="spiny")["v_threshold_mV"]
    assert spiny.n_cells == 271 and spiny.n_donors == 33
    assert spiny.width("sd").estimate == pytest.approx(3.71, abs=0.01)  # PROVENANCE.md table
