"""`hetfit demo` end to end on a tiny budget (issue 7): every stage runs for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hetfit.cli.main import main
from hetfit.demo import pipeline
from hetfit.errors import HetfitError
from hetfit.reports.document import check_report

TINY = pipeline.DemoConfig(quick=True, n_per_population=60, duration_ms=500.0, budget=150,
                           n_validation=30, n_params_neurons=40, sweep_points=3,
                           sweep_seeds=1, rate_trials=3)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(pipeline.DemoConfig, "make", classmethod(lambda cls, q, s=0: TINY))


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_a_checked_report(tiny, tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--json", "--quiet", "--out", str(out), "--data-root", str(tmp_path)])
    stdout = capsys.readouterr().out
    assert code == 0
    doc = json.loads(stdout)
    assert [s["name"] for s in doc["stages"]] == [
        "distributions", "parameters", "recording", "fit", "comparison", "report"]
    assert Path(doc["report"]["html"]) == out / "report.html"
    images = check_report(out)  # every referenced figure exists, is a PNG, is not empty
    assert len(images) >= 8
    results = json.loads((out / "results.json").read_text())
    # spreads shown come from the shipped preset, read here independently of hetfit
    preset = json.loads((Path(pipeline.__file__).parents[1] / "presets" /
                         "allen_human.json").read_text())
    sd = {(g["labels"]["disease_state"], g["labels"]["dendrite_type"]):
          g["features"]["v_threshold_mV"]["widths"]["sd"]["estimate"] for g in preset["groups"]
          if "sd" in g["features"]["v_threshold_mV"]["widths"]}
    for row in results["comparison"]["spreads"]:
        t = row["type"]
        assert row["tumor_sd_mV"] == pytest.approx(sd[("tumor", t)])
        assert row["ratio_epilepsy_over_tumor"] == pytest.approx(
            sd[("epilepsy", t)] / sd[("tumor", t)])
        lo, hi = row["ratio_ci95"]
        assert lo < row["ratio_epilepsy_over_tumor"] < hi
    post = results["fit"]["posterior"]
    assert {"delta_v_E", "delta_v_I"} <= set(post) <= set(pipeline.TRUTH)
    for name, p in post.items():
        assert p["truth"] == pipeline.TRUTH[name]
        assert p["ci90"][0] <= p["median"] <= p["ci90"][1]
    # reusable parameter files load back into hetfit models
    from hetfit.params.population import load_population

    for rel in (r["file"] for r in results["parameters"]["populations"]):
        spec = load_population(out / rel)
        assert spec.n == TINY.n_params_neurons
    # the recording written is readable by the fit command's reader
    from hetfit.data_adapters import read_recording

    rec = read_recording(out / "recording.csv")
    assert rec.n_spikes == results["recording"]["n_spikes"]
    md = (out / "report.md").read_text()
    assert f"{results['recording']['n_spikes']} spikes" in md


def test_a_failing_stage_leaves_no_partial_report(tiny, tmp_path, monkeypatch, capsys):
    def broken(ctx):
        raise HetfitError("simulated failure in the fit stage")

    monkeypatch.setattr(pipeline, "STAGES", (("distributions", pipeline.stage_distributions),
                                             ("fit", broken)))
    out = tmp_path / "demo"
    code = main(["demo", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["hetfit demo: error: simulated failure in the fit stage"]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_demo_rejects_a_file_as_output_directory(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["demo", "--quiet", "--out", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err and f.read_text() == "x"
