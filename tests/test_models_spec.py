"""Network specs as data (issue 12, first step): the shipped spec files are the Python presets,
a spec runs bit-identically to the network it describes, the file format has a JSON Schema
that agrees with the reader, errors name the offending key, and rule-built graphs are what
the rules say."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from hetfit.cli.main import main
from hetfit.models.batch import simulate_izhikevich
from hetfit.models.presets import gast2023_ei, single_population
from hetfit.models.spec import PRESET_DIR, NetworkSpec, SpecError, load_spec, preset_spec

SCHEMA = json.loads((PRESET_DIR / "schema-v1.json").read_text())


def _same_run(net_a, net_b, seed=3, t=150.0):
    a = simulate_izhikevich(net_a, t, 0.1, seed=seed)
    b = simulate_izhikevich(net_b, t, 0.1, seed=seed)
    assert a.n_spikes > 20
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)


@pytest.mark.parametrize("name, factory", [("single", single_population),
                                           ("gast2023_ei", gast2023_ei)])
def test_shipped_specs_are_the_python_presets(name, factory):
    shipped = preset_spec(name)
    assert shipped.to_dict()["populations"] == NetworkSpec.from_network(
        factory()).to_dict()["populations"]
    assert shipped.to_dict()["connections"] == NetworkSpec.from_network(
        factory()).to_dict()["connections"]
    # the preset and the spec built from it run identically
    small = factory(**({"n": 300} if name == "single" else {"n_e": 200, "n_i": 200}))
    spec = NetworkSpec.from_dict(NetworkSpec.from_network(small).to_dict())
    _same_run(small, spec.network(seed=3))


@pytest.mark.parametrize("fixed", [False, True])
def test_random_graph_specs_run_like_the_preset(fixed):
    from dataclasses import replace

    net = gast2023_ei(n_e=200, n_i=200, connection_p=0.2)
    net = replace(net, fixed_indegree=fixed)
    d = NetworkSpec.from_network(net).to_dict()
    kinds = {next(iter(c["rule"])) for c in d["connections"]}
    assert kinds == {"fixed_in_degree" if fixed else "erdos_renyi"}
    _same_run(net, NetworkSpec.from_dict(json.loads(json.dumps(d))).network(seed=3))


def test_round_trip_keeps_arrays_distributions_and_inputs(tmp_path):
    d = {"format": "hetfit-network", "format_version": 1, "name": "t",
         "populations": {"A": {"n": 5, "eta": {"family": "lorentzian", "center": 1.0,
                                               "width": 0.5},
                               "v_theta": {"family": "gaussian", "center": -40.0,
                                           "width": 2.0, "sampling": "random"},
                               "input": {"steps": [[0.0, 10.0], [50.0, 30.0]]}},
                         "B": {"n": 3, "input": {"waveform": {"dt_ms": 1.0,
                                                              "values_pA": [1.0, 2.0]}}}},
         "connections": [{"pre": "A", "post": "B", "J": 2.0, "rule": {"erdos_renyi": 0.5}}]}
    spec = NetworkSpec.from_dict(d)
    path = spec.save(tmp_path / "net.json")
    again = load_spec(path)
    assert again.to_dict() == spec.to_dict()
    pop = again.network(seed=1).population("A")
    assert pop.I_ext.value_at(60.0) == 30.0


def _validate(doc) -> None:
    import jsonschema

    jsonschema.validate(doc, SCHEMA)


def test_shipped_specs_follow_the_json_schema():
    pytest.importorskip("jsonschema")
    for path in PRESET_DIR.glob("*.json"):
        if not path.stem.startswith("schema"):
            _validate(json.loads(path.read_text()))


def _base() -> dict:
    return json.loads((PRESET_DIR / "gast2023_ei.json").read_text())


def _bad_specs():
    def edit(fn):
        d = _base()
        fn(d)
        return d

    def pop_e(**kv):
        return edit(lambda d: d["populations"]["E"].update(kv))

    return {
        "populations.E.n": pop_e(n="many"),
        "populations.E.v_theta.width": pop_e(v_theta={"family": "lorentzian",
                                                      "center": -40.0, "width": -1.0}),
        "populations.E.tau": pop_e(tau=5.0),
        "populations.E.C": pop_e(C="big"),
        "populations.E.kappa.values": pop_e(kappa={"values": [1.0, 2.0]}),
        "populations.E.input": pop_e(input={"constant_pA": 1.0, "steps": [[0, 1]]}),
        "connections[0].pre": edit(lambda d: d["connections"][0].update(pre="X")),
        "connections[0]": edit(lambda d: d["connections"][0].update(weight=1.0)),
        "connections[0].rule.erdos_renyi": edit(
            lambda d: d["connections"][0].update(rule={"erdos_renyi": 1.5})),
        "format_version": edit(lambda d: d.update(format_version="1")),
        "connections[0].rule.fixed_in_degree": edit(
            lambda d: d["connections"][0].update(rule={"fixed_in_degree": 1000})),
        "model": edit(lambda d: d.update(model="hodgkin_huxley")),
        "populations": edit(lambda d: d.update(populations={})),
    }


@pytest.mark.parametrize("key", sorted(_bad_specs()))
def test_errors_name_the_offending_key_and_the_schema_agrees(key):
    doc = _bad_specs()[key]
    with pytest.raises(SpecError) as info:
        NetworkSpec.from_dict(doc, source="net.json")
    msg = str(info.value)
    assert f"net.json: {key}:" in msg and "\n" not in msg, msg
    jsonschema = pytest.importorskip("jsonschema")
    # the shipped schema refuses the same documents (except the engine-level range checks
    # a schema cannot express, which it need not)
    if key not in ("populations.E.kappa.values", "connections[0].pre",
                   "connections[0].rule.fixed_in_degree"):
        with pytest.raises(jsonschema.ValidationError):
            _validate(doc)


def test_engine_checks_are_spec_errors_too():
    d = _base()
    d["populations"]["E"]["C"] = -5.0
    with pytest.raises(SpecError, match="C must be > 0 pF"):
        NetworkSpec.from_dict(d)


def _two_pop(connections, n_a=400, n_b=300):
    return NetworkSpec.from_dict({
        "format": "hetfit-network", "format_version": 1,
        "populations": {"A": {"n": n_a}, "B": {"n": n_b}}, "connections": connections})


def test_rule_built_graphs_are_what_the_rules_say():
    spec = _two_pop([
        {"pre": "A", "post": "B", "rule": {"erdos_renyi": 0.1},
         "weight": {"family": "lognormal", "center": 0.02, "width": 0.5, "sampling": "random"}},
        {"pre": "B", "post": "A", "rule": {"fixed_in_degree": 7}, "J": 3.0},
        {"pre": "B", "post": "B", "rule": {"edges": {"pre": [0, 1, 2], "post": [5, 6, 7]}},
         "weight": 0.5},
    ])
    g = spec.network(seed=11).connectivity
    W = g.to_dense()  # [post, pre] over all 700 neurons; A = 0..399, B = 400..699
    ab = W[400:, :400]
    n_ab = np.count_nonzero(ab)
    expected = 0.1 * 400 * 300
    assert abs(n_ab - expected) < 4 * math.sqrt(expected * 0.9)  # binomial count
    w = ab[ab != 0]
    assert np.median(w) == pytest.approx(0.02, rel=0.05)  # log-normal median
    assert np.std(np.log(w)) == pytest.approx(0.5, rel=0.05)  # log-normal sigma
    ba = W[:400, 400:]
    assert np.all(np.count_nonzero(ba, axis=1) == 7)  # exactly K inputs per neuron
    np.testing.assert_allclose(ba[ba != 0], 3.0 / (7 / 300 * 300))  # J / (p N_pre)
    bb = W[400:, 400:]
    assert sorted(zip(*np.nonzero(bb))) == [(5, 0), (6, 1), (7, 2)]
    assert np.all(bb[np.nonzero(bb)] == 0.5)
    # same seed, same graph; another seed, another graph
    np.testing.assert_array_equal(spec.network(seed=11).connectivity.to_dense(), W)
    assert not np.array_equal(spec.network(seed=12).connectivity.to_dense(), W)


def test_explicit_all_to_all_block_matches_rate_coupling():
    """An all-to-all block in an explicit graph (weights J/N_pre on every pair) is the same
    coupling as hetfit's rate-based all-to-all path: the two must spike alike."""
    base = NetworkSpec.from_network(gast2023_ei(n_e=150, n_i=150)).to_dict()
    mixed = json.loads(json.dumps(base))
    # one zero-weight edge forces the explicit-graph path for the whole network
    mixed["connections"].append({"pre": "I", "post": "I", "weight": 0.0,
                                 "rule": {"edges": {"pre": [0], "post": [1]}}})
    mixed["connections"] = [c for c in mixed["connections"]
                            if (c["pre"], c["post"]) != ("I", "I") or "weight" in c]
    rate = NetworkSpec.from_dict(base)
    rate_net = rate.network(seed=0)
    rate_net = type(rate_net)(rate_net.populations, J=np.where(
        np.array([[0, 0], [0, 1]]) == 1, 0.0, np.asarray(rate_net.J)))
    explicit = NetworkSpec.from_dict(mixed).network(seed=0)
    assert explicit.connectivity is not None
    a = simulate_izhikevich(rate_net, 300.0, 0.1, seed=1)
    b = simulate_izhikevich(explicit, 300.0, 0.1, seed=1)
    ca, cb = a.meta["spike_counts"], b.meta["spike_counts"]
    assert ca.sum() > 100
    assert abs(int(cb.sum()) - int(ca.sum())) <= 0.01 * ca.sum() + 2


# -- CLI ---------------------------------------------------------------------------------
def test_simulate_spec_runs_a_file_and_a_shipped_name(tmp_path, capsys):
    spec = NetworkSpec.from_network(gast2023_ei(n_e=100, n_i=100), name="small")
    path = spec.save(tmp_path / "net.json")
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--json", "--spec", str(path),
                                   "--duration", "100", "--seed", "2"])
    assert code == 0, err
    via_spec = json.loads(out)
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--json", "--preset", "gast2023_ei",
                                   "--n-e", "100", "--n-i", "100", "--duration", "100",
                                   "--seed", "2"])
    assert code == 0, err
    assert json.loads(out)["populations"] == via_spec["populations"]
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--json", "--spec", "single",
                                   "--duration", "20"])
    assert code == 0 and json.loads(out)["n_neurons"] == 1000, err


def test_simulate_spec_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    d = _base()
    d["populations"]["I"]["tau_u"] = {"family": "gaussian"}
    bad.write_text(json.dumps(d))
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--spec", str(bad)])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "populations.I.tau_u.center: is missing" in err
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--spec", "single", "--n", "5"])
    assert code == 2 and "--n" in err and "spec" in err
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--spec", str(Path(tmp_path, "no"))])
    assert code == 2 and "not found" in err


def test_params_file_runs_as_a_spec_and_every_per_neuron_value_is_used(tmp_path, capsys):
    """`hetfit params ... --out s.json && hetfit simulate --spec s.json`; each neuron fires
    as a single-neuron solve_ivp reference of its own C, k, v_r, v_theta, b, tau_u, kappa
    predicts, and perturbing one neuron's C or tau_u moves that neuron's count (only)."""
    from dataclasses import replace

    import izhikevich_reference

    from hetfit.models.inputs import StepCurrent

    big = tmp_path / "s.json"
    assert main(["params", "--quiet", "--preset", "allen_human:epilepsy-spiny", "--model",
                 "izhikevich", "--n", "1000", "--out", str(big)]) == 0
    capsys.readouterr()
    code, out, err = run_cli(capsys, ["simulate", "--quiet", "--json", "--spec", str(big),
                                   "--duration", "200", "--drive", "300"])
    assert code == 0, err
    assert json.loads(out)["n_neurons"] == 1000 and json.loads(out)["spike_count"] > 0

    small = tmp_path / "s8.json"
    assert main(["params", "--quiet", "--preset", "allen_human:epilepsy-spiny", "--model",
                 "izhikevich", "--n", "8", "--seed", "3", "--out", str(small)]) == 0
    capsys.readouterr()
    doc = json.loads(small.read_text())
    names = ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa")
    drive, t_ms = 400.0, 1000.0

    def counts(d):
        path = tmp_path / "edited.json"
        path.write_text(json.dumps(d))
        spec = load_spec(path)
        pop = replace(spec.populations[0], input=StepCurrent.constant(drive))
        net = replace(spec, populations=(pop,)).network(seed=0)
        res = simulate_izhikevich(net, t_ms, 0.02, seed=0)
        assert not res.diverged
        return np.asarray(res.meta["spike_counts"])

    def reference(d):
        p = d["parameters"]
        return np.array([izhikevich_reference.reference_count(
            *(p[k]["values"][i] for k in names), I=drive, T=t_ms,
            v_peak=p["v_peak"]["values"][i], v_reset=p["v_reset"]["values"][i])
            for i in range(8)])

    base = counts(doc)
    assert len(set(base.tolist())) > 2  # the neurons really differ
    assert np.all(np.abs(base - reference(doc)) <= 1), (base, reference(doc))
    for key, factor in (("C", 0.7), ("tau_u", 4.0)):
        edited = json.loads(json.dumps(doc))
        edited["parameters"][key]["values"][3] *= factor
        moved = counts(edited)
        want = reference(edited)
        assert abs(moved[3] - want[3]) <= 1 and moved[3] != base[3], (key, moved, want)
        np.testing.assert_array_equal(np.delete(moved, 3), np.delete(base, 3))


def test_explicit_per_neuron_arrays_reach_the_engine_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    eta = rng.normal(0.0, 5.0, 6)
    d = {"format": "hetfit-network", "format_version": 1,
         "populations": {"A": {"n": 6, "eta": {"values": eta.tolist()},
                               "C": {"values": [90.0, 95.0, 100.0, 105.0, 110.0, 115.0]}}}}
    spec = NetworkSpec.from_dict(d)
    again = load_spec(spec.save(tmp_path / "a.json"))
    assert again.to_dict() == spec.to_dict()
    res = simulate_izhikevich(again.network(seed=0), 20.0, 0.1, seed=0)
    np.testing.assert_array_equal(res.meta["samples"]["A"]["eta"], eta)
    np.testing.assert_array_equal(res.meta["samples"]["A"]["C"], d["populations"]["A"]["C"]
                                  ["values"])
    bad = json.loads(json.dumps(d))
    bad["populations"]["A"]["C"]["values"][2] = -1.0
    with pytest.raises(SpecError, match="C"):
        NetworkSpec.from_dict(bad)


def test_mean_field_is_derived_where_exact_and_refused_with_a_reason_elsewhere():
    from hetfit.errors import ParameterError
    from hetfit.models.meanfield import meanfield_from_network

    mf = preset_spec("gast2023_ei").mean_field()
    ref = meanfield_from_network(gast2023_ei())
    assert mf.populations == ref.populations and mf.population_names == ref.population_names
    np.testing.assert_array_equal(np.asarray(mf.J), np.asarray(ref.J))
    gaussian = _base()
    gaussian["populations"]["E"]["v_theta"]["family"] = "gaussian"
    with pytest.raises(ParameterError, match="Lorentzian"):
        NetworkSpec.from_dict(gaussian).mean_field()
    sparse = _base()
    for c in sparse["connections"]:
        c["rule"] = {"erdos_renyi": 0.2}
    with pytest.raises(ParameterError, match="all-to-all"):
        NetworkSpec.from_dict(sparse).mean_field()
    varying = _base()
    varying["populations"]["I"]["C"] = {"values": list(np.linspace(18.0, 22.0, 1000))}
    with pytest.raises(ParameterError, match="C vary per neuron"):
        NetworkSpec.from_dict(varying).mean_field()
