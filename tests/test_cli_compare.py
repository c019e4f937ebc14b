"""`hetfit compare`: presets, cell-table files, reports and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hetfit.cli.main import main
from hetfit.data_adapters.celltable import CellTable
from hetfit.reports.document import check_report


def _cli(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _write(tmp_path, name, n, *, sd=2.0, types=("spiny",), features=("v_threshold_mV",),
           seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        r = {"cell_id": f"{name}{i}", "donor_id": f"{name}-d{i % 5}",
             "dendrite_type": types[i % len(types)]}
        for f in features:
            r[f] = {"v_threshold_mV": -40.0, "tau_m_ms": 15.0}[f] + sd * rng.standard_normal()
        rows.append(r)
    path = tmp_path / f"{name}.csv"
    CellTable(pd.DataFrame(rows)).write(path)
    return path


def _no_leftovers(parent, name):
    return not any(p.name.startswith(f".{name}.") for p in parent.iterdir())


def test_rich2022_preset_report(shared_data, tmp_path, capsys):
    root = shared_data("rich2022_human_l5").parent
    out = tmp_path / "rich"
    code, stdout, err = _cli(["compare", "--preset", "rich2022", "--data-root", str(root),
                              "--no-network", "--n-boot", "300", "--n-perm", "500",
                              "--seed", "1", "--out", str(out), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    rows = {r["feature"]: r for r in res["summary"]["spreads"]}
    assert rows["distance_to_threshold_mV"]["ratio"] == pytest.approx(4.4035 / 7.8683, abs=1e-3)
    assert rows["distance_to_threshold_mV"]["resampling_unit"] == "cell"
    assert "no donor" in " ".join(res["notes"])
    assert "epileptogenic (frontal) vs non-epileptogenic (temporal)" in res["contrast"]
    for f in ("report.html", "report.md", "results.json", "spreads.csv"):
        assert (out / f).is_file()
    assert len(check_report(out)) >= 2  # every referenced figure exists and is a PNG
    saved = json.loads((out / "results.json").read_text())
    assert saved["spreads"]["rows"][0]["feature"] == res["spreads"]["rows"][0]["feature"]
    csv = pd.read_csv(out / "spreads.csv")
    assert set(csv["feature"]) == set(rows)
    # human-readable output
    code, text, _ = _cli(["compare", "--preset", "rich2022", "--data-root", str(root),
                          "--no-network", "--n-boot", "200", "--n-perm", "200"], capsys)
    assert code == 0 and "distance_to_threshold_mV" in text and "ratio" in text


def test_two_table_files(tmp_path, capsys):
    a = _write(tmp_path, "tumor", 40, sd=3.0, types=("spiny", "aspiny"), seed=1)
    b = _write(tmp_path, "epilepsy", 40, sd=1.0, types=("spiny", "aspiny"), seed=2)
    code, stdout, err = _cli(["compare", "--healthy", str(a), "--disease", str(b), "--types",
                              "spiny", "aspiny", "--n-boot", "200", "--n-perm", "200",
                              "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert {r["type"] for r in res["summary"]["spreads"]} == {"spiny", "aspiny"}
    assert all(r["ratio"] < 0.6 for r in res["summary"]["spreads"])
    assert res["healthy"]["name"] == "tumor" and res["networks"] is None


@pytest.mark.parametrize("case", ["too_few", "types", "features", "preset", "selection"])
def test_bad_inputs_one_line_exit_2_no_output(case, tmp_path, capsys):
    out = tmp_path / "out"
    if case == "too_few":
        a = _write(tmp_path, "tumor", 3)
        b = _write(tmp_path, "epilepsy", 30)
        args, msg = ["--healthy", str(a), "--disease", str(b)], "3 cell"
    elif case == "types":
        a = _write(tmp_path, "tumor", 30, types=("spiny",))
        b = _write(tmp_path, "epilepsy", 30, types=("spiny", "aspiny"))
        args, msg = ["--healthy", str(a), "--disease", str(b), "--types", "aspiny"], "aspiny"
    elif case == "features":
        a = _write(tmp_path, "tumor", 30, features=("v_threshold_mV",))
        b = _write(tmp_path, "epilepsy", 30, features=("tau_m_ms",))
        args, msg = ["--healthy", str(a), "--disease", str(b)], "no feature is measured in both"
    elif case == "preset":
        args, msg = ["--preset", "allen-mouse", "--data-root", str(tmp_path)], "unknown"
    else:
        a = _write(tmp_path, "tumor", 30)
        args, msg = ["--healthy", str(a), "--disease", str(tmp_path / "missing.csv")], \
            "not found"
    code, stdout, err = _cli(["compare", *args, "--out", str(out), "--json"], capsys)
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hetfit compare: error:"), err
    assert msg in lines[0]
    assert stdout == ""
    assert not out.exists() and _no_leftovers(tmp_path, "out")


def test_error_through_a_real_process(tmp_path):
    a = _write(tmp_path, "tumor", 30, features=("v_threshold_mV",))
    b = _write(tmp_path, "epilepsy", 30, features=("tau_m_ms",))
    r = subprocess.run([sys.executable, "-m", "hetfit", "compare", "--healthy", str(a),
                        "--disease", str(b), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # ~20-40 s: quick network models on the Allen preset
def test_allen_preset_quick_with_networks(shared_data, tmp_path, capsys):
    root = shared_data("allen_cell_types_ephys_full").parent
    out = tmp_path / "allen"
    code, stdout, err = _cli(["compare", "--preset", "allen-human", "--data-root", str(root),
                              "--quick", "--seed", "2", "--out", str(out), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    nets = res["networks"]
    engines = set(nets["engines"].values())
    assert engines == {"mean field", "network"}  # says which engine produced each number
    assert nets["engines"]["chi_E"] == "network"
    assert nets["engines"]["mf_bistable_range_pA"] == "mean field"
    for cond in ("tumor", "epilepsy"):
        w = nets["widths"][cond]
        assert w["resampling_unit"] == "donor" and set(w["point"]) == {"E", "I"}
    # the network and its mean field agree on the steady E rate within 25%
    m = nets["measures"]
    for cond in ("healthy", "disease"):
        assert m["rate_E"][cond] == pytest.approx(m["mf_rate_E"][cond], rel=0.25)
    assert len(check_report(out)) >= 5
    html = (out / "report.html").read_text()
    assert "mean field" in html and "network" in html


def test_preset_with_selected_conditions(shared_data, capsys):
    # region-matched contrast: frontal epileptogenic vs frontal non-epileptogenic cells
    root = shared_data("rich2022_human_l5").parent
    code, stdout, err = _cli(["compare", "--preset", "rich2022", "--data-root", str(root),
                              "--healthy", "disease_state=non-epileptogenic;region=frontal",
                              "--features", "distance_to_threshold_mV", "--no-network",
                              "--n-boot", "200", "--n-perm", "200", "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    row = res["spreads"]["rows"][0]
    assert row["n_cells"] == [12, 13]
    raw = pd.read_csv(root / "rich2022_human_l5" / "Frontal_Non-Epileptogenic.csv")
    width = row["comparisons"]["sd"]["width_a"]["estimate"]
    assert width == pytest.approx(raw["Distance to Threshold-DTT (mV)"].std())
    code, _, err = _cli(["compare", "--preset", "rich2022", "--data-root", str(root),
                         "--healthy", "tumor.csv"], capsys)
    assert code == 2 and "column=value" in err
