"""`hetfit estimate` and `hetfit params` end to end (in-process CLI)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hetfit.cli.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cell_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 90
    rest = rng.normal(-70, 3, n)
    df = pd.DataFrame({
        "cell_id": [f"c{i}" for i in range(n)],
        "donor_id": [f"d{i % 15}" for i in range(n)],
        "cell_type": np.where(np.arange(n) < 82, "pyr", "rare"),
        "v_rest_mV": rest,
        "v_threshold_mV": rest + rng.lognormal(np.log(30), 0.15, n),
        "rheobase_pA": rng.lognormal(np.log(150), 0.3, n),
        "tau_m_ms": rng.lognormal(np.log(20), 0.25, n),
        "r_input_MOhm": rng.lognormal(np.log(150), 0.3, n),
    })
    path = tmp_path / "cells.csv"
    df.to_csv(path, index=False)
    return path, df


def test_estimate_then_params(capsys, tmp_path, cell_csv):
    path, df = cell_csv
    est_path = tmp_path / "out" / "estimate.json"
    code, out, err = _run(capsys, "estimate", "--source", "table", str(path), "--group-by",
                          "cell_type", "--n-boot", "200", "--n-gof", "0", "--families",
                          "gaussian,lognormal", "--out", str(est_path), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n_cells"] == 90 and res["n_types"] == 2 and res["out"] == str(est_path)
    rows = {(r["type"], r["feature"]): r for r in res["summary"]}
    assert rows[("rare", "v_rest_mV")]["status"] == "too_few_cells"
    pyr = rows[("pyr", "v_rest_mV")]
    assert pyr["n_cells"] == 82 and pyr["n_donors"] == 15
    assert pyr["sd"] == pytest.approx(df.v_rest_mV[:82].std(ddof=1))
    saved = json.loads(est_path.read_text())
    assert saved["schema"] == "hetfit.estimate"
    assert saved["provenance"]["inputs"] == [str(path)]

    params_path = tmp_path / "params.json"
    code, out, err = _run(capsys, "params", "--from", str(est_path), "--type", "pyr", "--n",
                          "60", "--no-adaptation", "--out", str(params_path), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["model"] == "izhikevich" and res["n"] == 60 and res["type"] == "pyr"
    spec = json.loads(params_path.read_text())
    assert spec["schema"] == "hetfit.population" and spec["n"] == 60
    assert spec["provenance"]["estimate_file"] == str(est_path)
    assert len(spec["parameters"]["k"]["values"]) == 60
    # human-readable output
    code, out, _ = _run(capsys, "params", "--from", str(est_path), "--type", "pyr", "--n", "20",
                        "--model", "lif")
    assert code == 0 and "lif population 'pyr', 20 neurons" in out


def test_params_from_a_preset_and_the_list(capsys, tmp_path):
    code, out, err = _run(capsys, "params", "--list-presets", "--json")
    assert code == 0, err
    names = [p["name"] for p in json.loads(out)["presets"]]
    assert "allen_human:tumor-spiny" in names
    out_path = tmp_path / "p.json"
    code, out, err = _run(capsys, "params", "--preset", "allen_human:tumor-spiny", "--n", "40",
                          "--no-adaptation", "--spike-shape", "meanfield", "--out",
                          str(out_path), "--json")
    assert code == 0, err
    spec = json.loads(out_path.read_text())
    assert spec["provenance"]["preset"] == "allen_human:tumor-spiny"
    assert set(spec["parameters"]["v_peak"]["values"]) == {1000.0}


@pytest.mark.parametrize("argv, message", [
    (["estimate", "--source", "table", "/no/such/file.csv"], "not found"),
    (["estimate", "--source", "dataset", "/tmp"], "--dataset"),
    (["params"], "--from ESTIMATE.json or --preset"),
    (["params", "--preset", "allen_human:nothing"], "no type"),
    (["params", "--preset", "allen_human"], "collection:type"),
    (["params", "--from", "/no/such/estimate.json"], "not found"),
])
def test_bad_arguments_give_one_line_errors(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and out == ""


def test_estimate_errors_on_unknown_group_column(capsys, cell_csv):
    path, _ = cell_csv
    code, _, err = _run(capsys, "estimate", "--source", "table", str(path), "--group-by",
                        "layer", "--n-gof", "0")
    assert code == 2 and "group_by column(s) not in the table" in err


@pytest.mark.slow  # feature extraction with eFEL dominates (~4-10 s)
def test_estimate_from_real_abf_recordings(capsys, shared_data):
    folder = shared_data("abf_current_clamp")
    code, out, err = _run(capsys, "estimate", "--source", "abf", str(folder), "--features",
                          "tau_m_ms,r_input_MOhm", "--min-cells", "3", "--n-gof", "0",
                          "--n-boot", "200", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["table_report"]["rows_read"] == 7 and res["n_cells"] == 7
    row = {r["feature"]: r for r in res["summary"]}["tau_m_ms"]
    assert row["status"] == "ok" and row["resampling"] == "cell" and row["n_donors"] is None
