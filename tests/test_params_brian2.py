"""A Brian2 user can read a population spec: the Brian2 example in docs/params.md is run on
a spec written by hetfit (skipped where brian2 is not installed; it is in the
/work/venv-brian environment of the benchmarks)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "params.md"


def _doc_block(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(title, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_docs_examples_name_only_fields_the_schema_has(tmp_path):
    """Schema check without Brian2: every field the Brian2 and NEST examples read exists."""
    import json

    from hetfit.params.population import PopulationSpec

    n = 4
    vals = {"C": [100.0] * n, "k": [0.7] * n, "v_r": [-60.0] * n, "v_theta": [-40.0] * n,
            "b": [0.0] * n, "tau_u": [100.0] * n, "kappa": [100.0] * n,
            "v_peak": [35.0] * n, "v_reset": [-50.0] * n}
    from hetfit.params.izhikevich import UNITS

    spec = PopulationSpec("izhikevich", "t", {k: np.array(v) for k, v in vals.items()},
                          dict(UNITS), features={"rheobase_pA": np.full(n, 70.0)})
    d = json.loads(spec.save(tmp_path / "params.json").read_text())
    code = _doc_block("### Reading it in Brian2")
    for name in re.findall(r'P\["(\w+)"\]', code):
        assert name in d["parameters"], name
    for name in re.findall(r'spec\["features"\]\["(\w+)"\]', code):
        assert name in d["features"], name
    nest_code = _doc_block("### Reading it in NEST")
    from hetfit.params.lif import UNITS as LIF_UNITS

    for name in re.findall(r'P\["(\w+)"\]', nest_code):
        assert name in LIF_UNITS, name


def test_brian2_runs_the_documented_reader(tmp_path, monkeypatch):
    brian2 = pytest.importorskip("brian2")
    from hetfit.params.izhikevich import UNITS
    from hetfit.params.population import PopulationSpec

    # neurons with b = 0 mapped from known features: rheobase = k dv^2 / 4 exactly
    n = 5
    rheo = np.array([60.0, 80.0, 100.0, 120.0, 140.0])
    dv = 20.0
    vals = {"C": np.full(n, 100.0), "k": 4 * rheo / dv**2, "v_r": np.full(n, -60.0),
            "v_theta": np.full(n, -40.0), "b": np.zeros(n), "tau_u": np.full(n, 100.0),
            "kappa": np.full(n, 100.0), "v_peak": np.full(n, 35.0),
            "v_reset": np.full(n, -50.0)}
    spec = PopulationSpec("izhikevich", "t", vals, dict(UNITS),
                          features={"rheobase_pA": rheo})
    spec.save(tmp_path / "params.json")
    monkeypatch.chdir(tmp_path)
    brian2.prefs.codegen.target = "numpy"
    brian2.start_scope()
    ns: dict = {}
    exec(_doc_block("### Reading it in Brian2"), ns)  # run the documented example
    counts = np.asarray(ns["spikes"].count)
    assert counts.shape == (n,) and np.all(counts > 0)  # rheobase + 40 pA fires every neuron
    # and a step just below each neuron's rheobase does not fire
    G = ns["G"]
    brian2.start_scope()
    G2 = brian2.NeuronGroup(n, G.equations, threshold="v >= v_peak",
                            reset="v = v_reset; u += kappa", method="euler")
    for name in ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa", "v_peak", "v_reset"):
        setattr(G2, name, getattr(G, name)[:])
    G2.v = G.v_r[:]
    G2.I_ext = 0.98 * rheo * brian2.pA
    mon = brian2.SpikeMonitor(G2)
    brian2.run(1000 * brian2.ms)
    assert np.all(np.asarray(mon.count) == 0)
