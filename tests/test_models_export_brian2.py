"""`hetfit simulate --export brian2` (issue 12): the script gets exactly the neurons and the
graph hetfit draws for the seed, and Brian2 running it agrees with hetfit (run where Brian2 is
available: set HETFIT_BRIAN2_PYTHON to a Python that has brian2, which needs numpy < 2)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from hetfit.cli.main import main
from hetfit.models.batch import simulate_izhikevich
from hetfit.models.export_brian2 import MARKER, realize, write_brian2
from hetfit.models.presets import gast2023_ei
from hetfit.models.spec import NetworkSpec


def _net(sparse: bool):
    net = gast2023_ei(n_e=120, n_i=80, connection_p=0.25 if sparse else None,
                      sampling="random")
    return net


@pytest.mark.parametrize("sparse", [False, True])
def test_the_export_holds_the_draws_of_the_simulation_seed(sparse):
    net = _net(sparse)
    values, graph = realize(net, seed=5)
    res = simulate_izhikevich(net, 200.0, 0.1, seed=5)
    for pop in net.populations:
        for key, arr in res.meta["samples"][pop.name].items():
            np.testing.assert_array_equal(values[pop.name][key], arr)
    if sparse:
        # the exported graph, used as an explicit graph, reproduces the run spike for spike
        explicit = replace(net, connection_p=None, connectivity=graph)
        again = simulate_izhikevich(explicit, 200.0, 0.1, seed=5)
        assert res.n_spikes > 10
        np.testing.assert_array_equal(again.spike_times_ms, res.spike_times_ms)
    else:
        assert graph is None


def test_cli_export_writes_script_and_data_and_protects_user_files(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = NetworkSpec.from_network(_net(True), name="small").save(tmp_path / "small.json")
    assert main(["simulate", "--quiet", "--spec", str(spec), "--export", "brian2",
                 "--duration", "50", "--seed", "4"]) == 0
    script = tmp_path / "small_brian2.py"
    text = script.read_text()
    assert text.startswith(MARKER) and "Synapses(" in text and "seed 4" in text
    with np.load(tmp_path / "small_brian2.npz") as z:
        assert z["p0__v_theta"].shape == (120,) and z["E_p1_p0__w"].size > 0
    compile(text, str(script), "exec")  # valid Python
    # a rerun replaces hetfit's own export; a user's file of that name is refused
    assert main(["simulate", "--quiet", "--spec", str(spec), "--export", "brian2",
                 "--duration", "50", "--seed", "5"]) == 0
    mine = tmp_path / "mine.py"
    mine.write_text("print('my analysis')\n")
    assert main(["simulate", "--quiet", "--spec", str(spec), "--export", "brian2",
                 "--out", str(mine)]) == 2
    assert mine.read_text() == "print('my analysis')\n"
    capsys.readouterr()


BRIAN2_PYTHON = os.environ.get("HETFIT_BRIAN2_PYTHON")


@pytest.mark.skipif(not BRIAN2_PYTHON, reason="set HETFIT_BRIAN2_PYTHON to a Python with brian2")
@pytest.mark.slow
@pytest.mark.parametrize("sparse", [False, True])
def test_brian2_runs_the_export_like_hetfit(tmp_path, sparse):
    net = gast2023_ei(n_e=300, n_i=300, connection_p=0.2 if sparse else None)
    script = write_brian2(net, tmp_path / "net.py", seed=2, t_max_ms=300.0, dt_ms=0.01)
    out = subprocess.run([BRIAN2_PYTHON, str(script)], capture_output=True, text=True,
                         check=True, timeout=1200)
    brian = json.loads(out.stdout.strip().splitlines()[-1])
    ref = simulate_izhikevich(net, 300.0, 0.01, seed=2, method="euler")
    counts = ref.meta["spike_counts"]
    start = 0
    for pop in net.populations:
        ours = int(counts[start:start + pop.n].sum())
        start += pop.n
        assert abs(brian[pop.name]["spikes"] - ours) <= 0.02 * ours + 3, (pop.name, ours, brian)
