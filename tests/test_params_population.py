"""Population specs: copula sampling, JSON round trip and schema, conversion into hetfit's
model specs (checked by simulation), LIF mapping, presets, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hetfit.distributions.estimate import WidthEstimator
from hetfit.errors import IncompatibleArtifactError, InsufficientDataError, ParameterError
from hetfit.params import lif as L
from hetfit.params import population as P
from hetfit.params import presets

FEATS = ["v_rest_mV", "v_threshold_mV", "distance_to_threshold_mV", "rheobase_pA",
         "tau_m_ms", "r_input_MOhm"]


def _table(n=240, seed=0):
    """Cells with known correlations: rheobase falls with input resistance."""
    rng = np.random.default_rng(seed)
    rest = rng.normal(-70, 3, n)
    dtt = rng.lognormal(np.log(30), 0.15, n)
    rin = rng.lognormal(np.log(150), 0.35, n)
    rheo = 22000.0 / rin * rng.lognormal(0, 0.2, n)  # ~ dtt / rin with noise
    tau = rng.lognormal(np.log(20), 0.25, n)
    return pd.DataFrame({
        "cell_id": [f"c{i}" for i in range(n)], "donor_id": [f"d{i % 30}" for i in range(n)],
        "cell_type": "pyr", "v_rest_mV": rest, "v_threshold_mV": rest + dtt,
        "distance_to_threshold_mV": dtt, "rheobase_pA": rheo, "tau_m_ms": tau,
        "r_input_MOhm": rin,
    })


@pytest.fixture(scope="module")
def estimate():
    return WidthEstimator(FEATS, group_by="cell_type", families=("gaussian", "lognormal"),
                          n_boot=200, n_gof=0, seed=0).fit(_table())


def test_sampled_neurons_keep_marginals_and_rank_correlations(estimate):
    spec = P.population_from_estimate(estimate, n=2000, model="lif", seed=3)
    df = _table()
    rho_data = stats.spearmanr(df.r_input_MOhm, df.rheobase_pA).correlation
    feats = spec.features
    assert "rheobase_pA" not in feats  # the LIF mapping with the measured threshold
    spec_i = P.population_from_estimate(estimate, n=2000, model="izhikevich", seed=3,
                                        use_adaptation=False)
    f = spec_i.features
    rho = stats.spearmanr(f["r_input_MOhm"], f["rheobase_pA"]).correlation
    assert rho == pytest.approx(rho_data, abs=0.08)
    # log-normal marginal of the input resistance: median and log-SD recovered
    assert np.median(f["r_input_MOhm"]) == pytest.approx(np.median(df.r_input_MOhm), rel=0.08)
    assert np.std(np.log(f["r_input_MOhm"])) == pytest.approx(
        np.std(np.log(df.r_input_MOhm)), rel=0.1)
    # thresholds drawn as rest + distance: always above rest
    assert np.all(f["v_threshold_mV"] > f["v_rest_mV"])
    assert spec_i.diagnostics["thresholds_from"] == "rest + distance_to_threshold"
    # the Izhikevich parameters follow the mapping exactly for every neuron
    p = spec_i.values
    np.testing.assert_allclose(p["k"], 4 * f["rheobase_pA"] / (p["v_theta"] - p["v_r"]) ** 2)
    np.testing.assert_allclose(p["C"], 1000 * f["tau_m_ms"] / f["r_input_MOhm"])
    # uncorrelated draws lose the correlation
    spec_u = P.population_from_estimate(estimate, n=2000, model="izhikevich", seed=3,
                                        correlated=False, use_adaptation=False)
    rho_u = stats.spearmanr(spec_u.features["r_input_MOhm"],
                            spec_u.features["rheobase_pA"]).correlation
    assert abs(rho_u) < 0.08


def test_json_round_trip_and_schema(estimate, tmp_path):
    spec = P.population_from_estimate(estimate, n=50, seed=1, use_adaptation=False)
    path = spec.save(tmp_path / "params.json")
    d = json.loads(path.read_text())
    # the documented schema (docs/params.md): what a Brian2/NEST user reads
    assert d["schema"] == "hetfit.population" and d["schema_version"] == 1
    assert d["model"] == "izhikevich" and d["n"] == 50 and "C dv/dt" in d["equations"]
    units = {"C": "pF", "k": "nS/mV", "v_r": "mV", "v_theta": "mV", "b": "nS", "tau_u": "ms",
             "kappa": "pA", "v_peak": "mV", "v_reset": "mV"}
    assert {k: v["unit"] for k, v in d["parameters"].items()} == units
    for p in d["parameters"].values():
        assert len(p["values"]) == 50 and all(isinstance(x, float) for x in p["values"])
        assert p["mapping"] and set(p["summary"]) >= {"median", "iqr"}
        assert p["distribution"]["family"] in ("gaussian", "lognormal", "lorentzian", "none")
    assert len(d["features"]["rheobase_pA"]["values"]) == 50
    assert d["provenance"]["group"] == "pyr" and d["provenance"]["seed"] == 1
    again = P.load_population(path)
    for k, v in spec.values.items():
        np.testing.assert_array_equal(again.values[k], v)
    assert again.to_dict() == d | {"provenance": again.to_dict()["provenance"]}
    assert again.heterogeneity("v_theta").family == spec.distributions["v_theta"]["family"]


def test_same_seed_same_population(estimate):
    a = P.population_from_estimate(estimate, n=30, seed=5, use_adaptation=False)
    b = P.population_from_estimate(estimate, n=30, seed=5, use_adaptation=False)
    c = P.population_from_estimate(estimate, n=30, seed=6, use_adaptation=False)
    for k in a.values:
        np.testing.assert_array_equal(a.values[k], b.values[k])
    assert not np.array_equal(a.values["k"], c.values["k"])


def test_izhikevich_population_loads_into_hetfit_model(estimate):
    spec = P.population_from_estimate(estimate, n=400, seed=2, use_adaptation=False)
    pop = spec.to_izhikevich_population(name="E")
    assert pop.n == 400 and pop.C == pytest.approx(np.median(spec.values["C"]))
    drawn = pop.sample(seed=0)["v_theta"]
    # distance mode: common v_r plus each neuron's distance to threshold, summarized by the
    # best (AIC) of the families that allow negative voltages (mean and SD preserved)
    dtt = spec.values["v_theta"] - spec.values["v_r"]
    assert pop.v_theta.family == "gaussian"
    assert np.mean(drawn) == pytest.approx(pop.v_r + np.mean(dtt), abs=0.3)
    assert np.std(drawn) == pytest.approx(np.std(dtt), rel=0.15)
    with pytest.raises(IncompatibleArtifactError):
        spec.to_lif_population()


def test_per_neuron_population_keeps_every_value_like_the_spec_path(estimate, tmp_path):
    from hetfit.models.batch import simulate_izhikevich
    from hetfit.models.izhikevich import IzhikevichNetwork
    from hetfit.models.spec import load_spec

    spec = P.population_from_estimate(estimate, n=50, seed=2, use_adaptation=False)
    pop = spec.to_izhikevich_population(name="E", per_neuron=True, eta=300.0)
    drawn = pop.sample(seed=0)
    for k in ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa"):
        np.testing.assert_array_equal(drawn[k], spec.values[k])
    # the params file read as a network spec gives the same neurons, hence the same spikes
    net_spec = load_spec(spec.save(tmp_path / "p.json"))
    from dataclasses import replace

    net_spec = replace(net_spec, populations=(replace(
        net_spec.populations[0], name="E", parameters={**net_spec.populations[0].parameters,
                                                       "eta": 300.0}),))
    a = simulate_izhikevich(IzhikevichNetwork((pop,), J=0.0), 200.0, 0.05, seed=1)
    b = simulate_izhikevich(net_spec.network(seed=1), 200.0, 0.05, seed=1)
    assert a.n_spikes > 0
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)


def test_lif_population_fires_at_the_measured_rheobase():
    """threshold='rheobase': the LIF built from the mapping fires just above the measured
    rheobase and stays silent just below (hetfit's LIF simulator, long steps)."""
    from hetfit.models.lif import LIFNetwork, simulate_lif

    df = _table(40)
    spec = P.population_from_table(df, model="lif", threshold="rheobase", t_ref_ms=2.0)
    assert spec.n == 40
    np.testing.assert_allclose(spec.values["v_th"],
                               df.v_rest_mV + df.r_input_MOhm * df.rheobase_pA / 1000)
    # one population per neuron so every neuron gets its own R (per population in the model)
    for i in (0, 7):
        for factor, expect in ((0.98, 0), (1.02, 1)):
            pop = spec.to_lif_population(name="n", kind="E")
            pop = type(pop)(name="n", n=1, kind="E", tau_m_ms=spec.values["tau_m"][i],
                            e_l_mv=spec.values["e_l"][i], v_th_mv=spec.values["v_th"][i],
                            v_reset_mv=spec.values["e_l"][i], t_ref_ms=2.0,
                            r_m_mohm=spec.values["r_m"][i],
                            i_ext_pa=factor * df.rheobase_pA[i])
            res = simulate_lif(LIFNetwork((pop,)), t_max_ms=1000.0, dt_ms=0.05, seed=0)
            assert (res.n_spikes > 0) == bool(expect), (i, factor)


def test_lif_mapping_with_measured_threshold_reports_the_rheobase_mismatch():
    cells = L.map_lif({"v_rest_mV": [-70.0], "tau_m_ms": [20.0], "r_input_MOhm": [100.0],
                       "v_threshold_mV": [-40.0], "rheobase_pA": [150.0]})
    assert cells.params["C"][0] == pytest.approx(200.0)
    assert cells.diagnostics["rheobase_model_pA"][0] == pytest.approx(300.0)
    assert cells.diagnostics["rheobase_ratio"][0] == pytest.approx(2.0)
    assert "threshold='rheobase'" in cells.notes[0]
    with pytest.raises(ParameterError, match="missing"):
        L.map_lif({"v_rest_mV": [-70.0]})


def test_population_from_table_drops_and_counts_unmappable_cells():
    df = _table(20)
    df.loc[3, "v_threshold_mV"] = df.loc[3, "v_rest_mV"] - 5
    df.loc[4, "tau_m_ms"] = np.nan
    spec = P.population_from_table(df, model="izhikevich", use_adaptation=False)
    assert spec.n == 18
    assert spec.diagnostics["dropped"] == {"threshold not above resting potential": 1,
                                           "missing feature value": 1}
    assert "c3" not in spec.provenance["cell_ids"]


def test_presets_are_available_offline():
    names = [p["name"] for p in presets.list_presets()]
    assert "allen_human:epilepsy-spiny" in names and "allen_mouse_lines:Pvalb_IRES_Cre" in names
    est, grp = presets.preset_group("allen_human:epilepsy-spiny")
    assert grp.n_cells == 271 and grp.n_donors == 33
    assert grp["v_threshold_mV"].width("sd").estimate == pytest.approx(3.71, abs=0.01)
    assert est.provenance["inputs"][0]["sha1"]
    few = presets.preset_group("allen_human:tumor-sparsely_spiny")[1]
    with pytest.raises(InsufficientDataError, match="no fitted distribution"):
        P.population_from_estimate(few, n=10, use_adaptation=False)
    with pytest.raises(ParameterError, match="collection:type"):
        presets.preset_group("epilepsy-spiny")
    with pytest.raises(ParameterError, match="no type"):
        presets.preset_group("allen_human:healthy-spiny")


def test_population_bad_inputs(estimate, tmp_path):
    with pytest.raises(ParameterError, match="unknown model"):
        P.population_from_estimate(estimate, model="hodgkin_huxley")
    with pytest.raises(ParameterError, match="integer >= 1"):
        P.population_from_estimate(estimate, n=0)
    short = WidthEstimator(["v_threshold_mV"], n_boot=200, n_gof=0).fit(_table())
    with pytest.raises(InsufficientDataError, match="no estimate for"):
        P.population_from_estimate(short, n=10)
    spec = P.population_from_estimate(estimate, n=10, seed=0, use_adaptation=False)
    d = spec.to_dict()
    d["parameters"]["k"]["values"] = d["parameters"]["k"]["values"][:5]
    with pytest.raises(IncompatibleArtifactError, match="n = 10"):
        P.PopulationSpec.from_dict(d)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "hetfit.estimate"}')
    with pytest.raises(IncompatibleArtifactError, match="not a hetfit population"):
        P.load_population(bad)
    bad.write_text("{not json")
    from hetfit.errors import InputFileError

    with pytest.raises(InputFileError, match="not valid JSON"):
        P.load_population(bad)
