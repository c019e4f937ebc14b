"""Healthy-vs-disease spread comparisons on the public tables, checked against plain pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hetfit.data_adapters.celltable import CellTable
from hetfit.disease.conditions import (
    Condition,
    _bh,
    compare_spreads,
    run_comparison,
    split_conditions,
)
from hetfit.disease.networks import population_widths
from hetfit.disease.presets import allen_human_preset, load_preset, rich2022_preset
from hetfit.errors import InsufficientDataError, ParameterError, SchemaError
from hetfit.io import dumps

RICH_COLS = {"v_threshold_mV": "Threshold (mV)",
             "distance_to_threshold_mV": "Distance to Threshold-DTT (mV)"}


def test_rich2022_lower_spread_in_epileptogenic_cells(shared_data):
    folder = shared_data("rich2022_human_l5")
    epi = pd.read_csv(folder / "Frontal_Epileptogenic.csv")
    temporal = pd.read_csv(folder / "Temporal_Non-Epileptogenic.csv")
    preset = rich2022_preset(folder=folder)
    h, d = split_conditions(preset.table, preset.healthy, preset.disease)
    res = compare_spreads(h, d, names=(preset.healthy.name, preset.disease.name),
                          groupings=preset.groupings, features=list(RICH_COLS),
                          n_boot=1000, n_perm=5000, seed=3)
    for feat, col in RICH_COLS.items():
        c = res.get(feat, cell_type="pyramidal").primary()
        # the widths are the plain SDs of the published columns
        assert c.width_a.estimate == pytest.approx(temporal[col].std(), rel=1e-12)
        assert c.width_b.estimate == pytest.approx(epi[col].std(), rel=1e-12)
        assert c.n_cells == (temporal[col].notna().sum(), epi[col].notna().sum())
        assert c.ratio.estimate == pytest.approx(epi[col].std() / temporal[col].std())
        assert c.ratio.low < c.ratio.estimate < c.ratio.high
        # no donor ids in the published table: cells are the resampling unit, and it is said
        assert c.resampling_unit == "cell"
    dtt = res.get("distance_to_threshold_mV", cell_type="pyramidal").primary()
    # the publication's model widths: about 4.4 (epileptogenic) vs 7.8 mV
    assert dtt.width_b.estimate == pytest.approx(4.4, abs=0.05)
    assert dtt.width_a.estimate == pytest.approx(7.8, abs=0.1)
    assert dtt.ratio.high < 1.0  # the CI excludes equal spread
    # borderline: p = 0.048 with 20,000 permutations (benchmarks/RESULTS.md); Monte Carlo SE
    # with 5000 permutations 0.003
    assert dtt.tests["permutation"].pvalue < 0.06
    thr = res.get("v_threshold_mV", cell_type="pyramidal").primary()
    assert thr.ratio.estimate < 0.6
    assert thr.tests["fligner_killeen"].pvalue < 0.05
    assert any("no donor ids" in n for n in res.notes)
    assert any("no donor" in n for n in preset.notes)


def test_rich2022_donor_linked_sensitivity_analysis(shared_data):
    shared_data("moradi_chameh2021_human_l23_l5")
    root = shared_data("rich2022_human_l5").parent
    preset = load_preset("rich2022", root, link_donors=True)
    res = run_comparison(preset, network=False, features=["distance_to_threshold_mV"],
                         n_boot=300, n_perm=300, seed=1)
    row = res.spreads.get("distance_to_threshold_mV", cell_type="pyramidal")
    assert row.primary().resampling_unit == "donor"
    assert row.n_donors[0] >= 20 and row.n_donors[1] >= 3
    # point estimates do not depend on the donor ids
    assert row.primary().ratio.estimate == pytest.approx(0.5597, abs=1e-3)


def _allen_raw(root):
    spec = pd.read_csv(root / "cell_types_specimen_details.csv")
    feats = pd.read_csv(root / "all_features.csv",
                        usecols=["specimen_id", "threshold_v_long_square", "vrest"])
    feats = feats.drop_duplicates("specimen_id")
    human = spec[spec["donor__species"] == "Homo Sapiens"].merge(
        feats, left_on="specimen__id", right_on="specimen_id", how="left")
    human["dtt"] = human["threshold_v_long_square"] - human["vrest"]
    return human


ALLEN_COLS = {"v_threshold_mV": "threshold_v_long_square", "rheobase_pA":
              "ef__threshold_i_long_square", "tau_m_ms": "ef__tau", "r_input_MOhm": "ef__ri",
              "distance_to_threshold_mV": "dtt"}


def test_allen_spreads_match_pandas_and_are_reproducible(shared_data):
    root = shared_data("allen_cell_types_ephys_full")
    raw = _allen_raw(root)
    preset = allen_human_preset(folder=root)
    res = run_comparison(preset, network=False, n_boot=300, n_perm=300, seed=5)
    sp = res.spreads
    assert (sp.healthy, sp.disease) == ("tumor", "epilepsy")
    checked = 0
    for (state, dend), g in raw.groupby(["donor__disease_state", "tag__dendrite_type"]):
        for feat, col in ALLEN_COLS.items():
            row = sp.get(feat, dendrite_type=dend)
            k = 0 if state == "tumor" else 1
            vals = g.loc[g[col].notna()]
            assert row.n_cells[k] == len(vals)
            assert row.n_donors[k] == vals["donor__id"].nunique()
            if row.status == "ok":
                c = row.primary()
                w = c.width_a if k == 0 else c.width_b
                assert w.estimate == pytest.approx(vals[col].std(), rel=1e-9)
                assert w.low < w.estimate < w.high
                assert c.resampling_unit == "donor"
                checked += 1
            else:  # only the sparsely spiny cells lack tumor donors
                assert dend == "sparsely spiny"
    assert checked == 2 * 2 * len(ALLEN_COLS)
    # layers: compared exactly where both conditions reach 5 cells and 3 donors (pandas)
    lay = raw.groupby(["tag__dendrite_type", "structure__layer", "donor__disease_state"]).agg(
        n=("threshold_v_long_square", "count"), d=("donor__id", "nunique"))
    for r in sp.rows:
        if r.grouping != ("dendrite_type", "layer") or r.feature != "v_threshold_mV":
            continue
        key = (r.labels["dendrite_type"], r.labels["layer"])
        enough = all(
            (key + (s,)) in lay.index and lay.loc[key + (s,), "n"] >= 5
            and lay.loc[key + (s,), "d"] >= 3 for s in ("tumor", "epilepsy"))
        assert (r.status == "ok") == enough, (key, r.reason)
    # same seed, same numbers; another seed moves only the intervals
    again = run_comparison(preset, network=False, n_boot=300, n_perm=300, seed=5)
    assert dumps(again.spreads.to_dict()) == dumps(sp.to_dict())
    other = run_comparison(preset, network=False, n_boot=300, n_perm=300, seed=6)
    a = sp.get("tau_m_ms", dendrite_type="spiny").primary()
    b = other.spreads.get("tau_m_ms", dendrite_type="spiny").primary()
    assert a.ratio.estimate == b.ratio.estimate and a.ratio.low != b.ratio.low
    json.loads(dumps(res.to_dict()))  # JSON-ready


def _table(n_h=20, n_d=20, seed=0, features=("v_threshold_mV", "tau_m_ms"), types=("spiny",)):
    rng = np.random.default_rng(seed)
    rows = []
    for cond, n, sd in (("tumor", n_h, 3.0), ("epilepsy", n_d, 1.5)):
        for i in range(n):
            r = {"cell_id": f"{cond}{i}", "donor_id": f"{cond}-d{i % 6}",
                 "disease_state": cond, "dendrite_type": types[i % len(types)]}
            if "v_threshold_mV" in features:
                r["v_threshold_mV"] = -40.0 + sd * rng.standard_normal()
            if "tau_m_ms" in features:
                r["tau_m_ms"] = 15.0 + 2.0 * rng.standard_normal()
            rows.append(r)
    return CellTable(pd.DataFrame(rows))


def test_synthetic_contrast_recovers_known_ratio():
    t = _table(n_h=120, n_d=120, seed=1)
    h, d = split_conditions(t, Condition("tumor", {"disease_state": "tumor"}),
                            Condition("epilepsy", {"disease_state": "epilepsy"}))
    res = compare_spreads(h, d, names=("tumor", "epilepsy"), n_boot=500, n_perm=500, seed=0)
    c = res.get("v_threshold_mV", dendrite_type="spiny").primary()
    assert c.ratio.low < 0.5 < c.ratio.high  # true ratio 1.5 / 3
    assert c.tests["permutation"].pvalue < 0.01
    tau = res.get("tau_m_ms", dendrite_type="spiny").primary()
    assert tau.ratio.low < 1.0 < tau.ratio.high  # same spread in both conditions


def test_bad_inputs_raise_clear_errors():
    t = _table()
    h, d = t.select(disease_state="tumor"), t.select(disease_state="epilepsy")
    with pytest.raises(InsufficientDataError, match="tumor.*3 cell"):
        compare_spreads(h.subset(np.arange(len(h)) < 3), d, names=("tumor", "epilepsy"))
    with pytest.raises(SchemaError, match="aspiny.*no cells in condition 'tumor'"):
        compare_spreads(h, d, names=("tumor", "epilepsy"), types=["aspiny"])
    only_thr = _table(features=("v_threshold_mV",)).select(disease_state="tumor")
    only_tau = _table(features=("tau_m_ms",)).select(disease_state="epilepsy")
    with pytest.raises(SchemaError, match="no feature is measured in both"):
        compare_spreads(only_thr, only_tau, names=("tumor", "epilepsy"))
    with pytest.raises(SchemaError, match="none of the requested features"):
        compare_spreads(h, only_tau, names=("tumor", "epilepsy"), features=["v_threshold_mV"])
    with pytest.raises(SchemaError, match="unknown feature"):
        compare_spreads(h, d, features=["v_thresh_mV"])
    spiny = _table(types=("spiny",)).select(disease_state="tumor")
    aspiny = _table(types=("aspiny",)).select(disease_state="epilepsy")
    with pytest.raises(SchemaError, match="no cell type"):
        compare_spreads(spiny, aspiny)
    with pytest.raises(SchemaError, match="no type column"):
        compare_spreads(h, d, groupings=[("layer",)])
    with pytest.raises(ParameterError, match="both conditions"):
        split_conditions(t, Condition("all"), Condition("tumor", {"disease_state": "tumor"}))
    with pytest.raises(InsufficientDataError, match="selects no cells"):
        Condition("x", {"disease_state": "stroke"}).select(t)
    with pytest.raises(ParameterError, match="unknown comparison preset"):
        load_preset("allen-mouse")


def test_benjamini_hochberg_against_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.20, np.nan])
    # sorted 0.01, 0.03, 0.04, 0.20 -> p*m/rank = 0.04, 0.06, 0.0533, 0.20 -> running minimum
    # from the top: 0.04, 0.0533, 0.0533, 0.20
    q = _bh(p)
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert np.isnan(q[4])


def test_population_widths_resample_donors_jointly():
    rng = np.random.default_rng(2)
    rows = []
    for i in range(60):
        rows.append({"cell_id": f"c{i}", "donor_id": f"d{i % 10}", "disease_state": "tumor",
                     "dendrite_type": "spiny" if i % 3 else "aspiny",
                     "v_threshold_mV": -40 + 2 * rng.standard_normal()})
    t = CellTable(pd.DataFrame(rows))
    from hetfit.disease.conditions import NetworkMapping

    m = NetworkMapping("gast2023_ei", {"E": {"dendrite_type": "spiny"},
                                        "I": {"dendrite_type": "aspiny"}},
                       "v_threshold_mV", "hwhm_iqr")
    pw = population_widths(t, m, 50, seed=1)
    for pop, dend in (("E", "spiny"), ("I", "aspiny")):
        x = t.select(dendrite_type=dend).values("v_threshold_mV")
        q1, q3 = np.quantile(x, [0.25, 0.75])
        assert pw.point[pop] == pytest.approx((q3 - q1) / 2)  # Lorentzian HWHM = IQR / 2
        assert pw.replicates[pop].shape == (50,)
    assert pw.n_donors == 10 and pw.resampling_unit == "donor"
    again = population_widths(t, m, 50, seed=1)
    np.testing.assert_array_equal(again.replicates["E"], pw.replicates["E"])
