"""The tutorial notebooks (issue 7): committed without outputs, and executed end to end on
the small budget (``HETFIT_NOTEBOOK_BUDGET=small``) in a temporary working directory, with a
Jupyter kernel that runs this interpreter.  Each notebook writes ``results.json``; its key
numbers are checked here against independent expectations (pandas on the raw files, the
shipped preset JSON, the publications' values, theory)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT, SHARED_DATA

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = {
    "distributions": "01_distributions_allen.ipynb",
    "sbi": "02_fit_heterogeneity_sbi.ipynb",
    "disease": "03_healthy_vs_epileptic.ipynb",
}
OUTPUT_DIRS = {"distributions": "01_distributions", "sbi": "02_fit_sbi",
               "disease": "03_healthy_vs_epileptic"}
KERNEL = "hetfit-notebook-test"


def leftover_outputs(nb) -> list[str]:
    """Descriptions of every output or execution count left in a notebook's code cells."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {i}: {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: execution count {cell.execution_count}")
    return found


# ---------------------------------------------------------------------------------------
# fast checks of the committed files
# ---------------------------------------------------------------------------------------
def test_notebooks_are_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    present = {p.name for p in NOTEBOOK_DIR.glob("*.ipynb")}
    assert set(NOTEBOOKS.values()) <= present
    for name in sorted(present):
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        nbformat.validate(nb)
        assert leftover_outputs(nb) == [], f"{name}: clear outputs before committing"
        assert nb.metadata["kernelspec"]["name"] == "python3", name
        sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "HETFIT_NOTEBOOK_BUDGET" in sources, f"{name}: no budget switch"


def test_output_check_detects_an_executed_cell():
    pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    nb = new_notebook(cells=[new_code_cell("1 + 1")])
    assert leftover_outputs(nb) == []
    cell = nb.cells[0]
    cell.execution_count = 1
    cell.outputs = [new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    assert leftover_outputs(nb) == ["cell 0: 1 output(s)", "cell 0: execution count 1"]


# ---------------------------------------------------------------------------------------
# execution on the small budget
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory):
    """A kernelspec whose kernel is this interpreter (not whatever 'python' is on PATH)."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hetfit tests", "language": "python"}))
    return root


@pytest.fixture(scope="module")
def executed(kernel_dirs, tmp_path_factory):
    """Run a notebook once (per module) and return its results.json as a dict."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cache: dict[str, dict] = {}

    def run(key: str) -> dict:
        if key not in cache:
            cache[key] = _execute(NOTEBOOKS[key], tmp_path_factory.mktemp(key), kernel_dirs,
                                  OUTPUT_DIRS[key])
        return cache[key]

    return run


def _execute(name: str, workdir: Path, kernel_dirs: Path, out_name: str) -> dict:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    km = KernelManager(kernel_name=KERNEL,
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dirs)]))
    with pytest.MonkeyPatch.context() as mp:  # the kernel inherits this environment
        mp.setenv("HETFIT_NOTEBOOK_BUDGET", "small")
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("HETFIT_SHARED_DATA", str(SHARED_DATA))
        mp.delenv("HETFIT_NOTEBOOK_OUT", raising=False)
        client = NotebookClient(nb, km=km, timeout=600, kernel_name=KERNEL,
                                resources={"metadata": {"path": str(workdir)}})
        client.execute()
    out = workdir / "hetfit-output" / out_name
    figures = sorted((out / "figures").glob("*.png"))
    assert figures and all(p.stat().st_size > 1000 for p in figures), figures
    results = json.loads((out / "results.json").read_text())
    results["_out"] = str(out)
    return results


def _have(*parts: str) -> bool:
    return SHARED_DATA.joinpath(*parts).exists()


@pytest.mark.slow  # executes the notebook: about 5-10 s
def test_distributions_notebook(executed):
    r = executed("distributions")
    types = r["types"]
    folder = SHARED_DATA / "allen_cell_types_ephys_full"
    if _have("allen_cell_types_ephys_full"):
        assert r["source"] == "raw"
        # independent computation with pandas from the raw Allen files
        spec = pd.read_csv(folder / "cell_types_specimen_details.csv", low_memory=False)
        feats = pd.read_csv(folder / "all_features.csv", low_memory=False)
        m = spec.merge(feats.drop_duplicates("specimen_id"), left_on="specimen__id",
                       right_on="specimen_id")
        human = m[m.donor__species == "Homo Sapiens"]
        for name, t in types.items():
            state, dendrite = name.split("-", 1)
            sel = human[(human.donor__disease_state == state)
                        & (human.tag__dendrite_type == dendrite.replace("_", " "))]
            assert t["n_cells"] == len(sel), name
            assert t["n_donors"] == sel.donor__id.nunique(), name
            assert t["sd"] == pytest.approx(sel.threshold_v_long_square.std(ddof=1), abs=1e-9)
        # the folder's PROVENANCE.md table: threshold SD 3.71 (spiny) and 4.61 mV (aspiny)
        assert types["epilepsy-spiny"]["sd"] == pytest.approx(3.71, abs=0.01)
        assert types["epilepsy-aspiny"]["sd"] == pytest.approx(4.61, abs=0.01)
    else:
        assert r["source"] == "preset"
        preset = json.loads((REPO_ROOT / "hetfit" / "presets" / "allen_human.json").read_text())
        for g in preset["groups"]:
            if g["name"] in types:
                sd = g["features"]["v_threshold_mV"]["widths"]["sd"]
                assert types[g["name"]]["sd"] == pytest.approx(sd["estimate"])
    for name, t in types.items():
        assert t["sd_low"] <= t["sd"] <= t["sd_high"], name
        assert t["hwhm_iqr_low"] <= t["hwhm_iqr"] <= t["hwhm_iqr_high"], name
    # the exported population spec, read as plain JSON
    spec_json = json.loads(Path(r["params_file"]).read_text())
    assert spec_json["schema"] == "hetfit.population" and spec_json["n"] == r["n_neurons"]
    v_theta = np.array(spec_json["parameters"]["v_theta"]["values"])
    v_r = np.array(spec_json["parameters"]["v_r"]["values"])
    assert v_theta.size == r["n_neurons"] and np.all(v_theta > v_r)  # thresholds above rest
    # Lorentzian demonstration: IQR/2 converges to Delta = 1 (quartiles at x0 +- Delta)
    assert r["lorentzian_demo"]["IQR/2 (= Delta estimate)"][-1] == pytest.approx(1.0, abs=0.03)


@pytest.mark.slow  # trains a posterior: about 20-30 s
def test_sbi_notebook_recovers_the_width_it_is_most_sensitive_to(executed):
    r = executed("sbi")
    truth = r["truth"]
    assert r["training"]["n_simulations"] == 800
    assert 0 < r["training"]["n_used"] <= 800
    best = r["most_constrained_width"]
    assert best in ("delta_v_E", "delta_v_I")
    p = r["posterior"][best]
    lo, hi = p["ci90"]
    assert lo <= truth[best] <= hi, (best, p)
    assert p["contraction"] > 0.3  # the recording constrains it well beyond the prior
    # held-out calibration: 90% intervals cover the truth about 90% of the time
    assert all(0.75 <= c <= 0.99 for c in r["recovery_coverage90"].values()), r
    assert all(r["sbc_calibrated"].values()), r["sbc_calibrated"]
    # misspecification: the model's own data pass, data from a different FS drive do not
    mis = r["misspecification_pvalue"]
    assert mis["synthetic"] > 0.05 and mis["fs_drive_80pA"] <= 0.01, mis
    from hetfit.inference.artifacts import read_metadata

    meta = read_metadata(r["posterior_file"])
    assert meta["training"]["budget"] == 800


@pytest.mark.slow  # comparisons, networks and sweeps: about 15-25 s
def test_disease_notebook(executed):
    r = executed("disease")
    rich = r["rich2022"]
    if _have("rich2022_human_l5"):
        # independent: SDs of the published distance-to-threshold column (pandas)
        col = "Distance to Threshold-DTT (mV)"
        sd_h = pd.read_csv(SHARED_DATA / "rich2022_human_l5" / "Temporal_Non-Epileptogenic.csv")[
            col].std(ddof=1)
        sd_d = pd.read_csv(SHARED_DATA / "rich2022_human_l5" / "Frontal_Epileptogenic.csv")[
            col].std(ddof=1)
        assert rich["widths_mV"]["healthy"] == pytest.approx(sd_h, abs=1e-9)
        assert rich["widths_mV"]["disease"] == pytest.approx(sd_d, abs=1e-9)
        ratio, lo, hi = rich["ratio"]
        assert ratio == pytest.approx(sd_d / sd_h) and lo < ratio < hi
        # Rich et al.: the network of the less heterogeneous tissue synchronizes more
        # after the same sudden step
        step = rich["step_delta_chi_E"]
        assert step["disease"] > step["healthy"] and step["difference_interval"][0] > 0
        sens = {row["resampled"]: row for row in rich["sensitivity"]}
        if "donor" in sens:  # resampling patients widens the interval of the ratio
            assert sens["donor"]["high"] - sens["donor"]["low"] > \
                sens["cell"]["high"] - sens["cell"]["low"]
    else:
        assert rich is None
    assert any("Allen human spiny" in f["contrast"] for f in r["findings"])
    for f in r["findings"]:
        assert f["low"] < f["ratio"] < f["high"], f
    # step response falls with the excitability spread (Rich et al. 2022, model)
    dchi = r["step_sweep"]["delta_chi"]
    assert dchi[0] > dchi[-1]
    # rate network: spectral radius vs Hutt et al. Eq. 19 where the network settles, and
    # below 1 (stable, resilient) for spreads above the critical heterogeneity
    rs = r["rate_sweep"]
    s2 = np.array(rs["sigma_h2"])
    num, theory = np.array(rs["spectral_radius"]), np.array(rs["spectral_radius_eq19"])
    settled = np.array(rs["no_stationary_state"]) == 0
    assert settled.sum() >= 2
    np.testing.assert_allclose(num[settled], theory[settled], rtol=0.15)
    assert np.all(num[s2 >= 1e-3] < 1.0) and np.all(np.array(rs["not_resilient"])[s2 >= 1e-3] == 0)
