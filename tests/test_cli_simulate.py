"""`hetfit simulate`: JSON report, .npz output, one-line errors with exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hetfit.cli.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report_matches_written_npz(capsys, tmp_path):
    out_file = tmp_path / "run.npz"
    code, out, err = _run(capsys, "simulate", "--preset", "gast2023_ei", "--n-e", "120",
                          "--n-i", "80", "--drive-i", "30", "--duration", "200", "--dt", "0.1",
                          "--seed", "4", "--json", "--out", str(out_file))
    assert code == 0, err
    rep = json.loads(out)
    assert rep["command"] == "simulate"
    assert rep["n_neurons"] == 200 and rep["status"] == "ok" and rep["diverged"] is False
    assert [p["name"] for p in rep["populations"]] == ["E", "I"]
    assert sum(p["spike_count"] for p in rep["populations"]) == rep["spike_count"]
    with np.load(out_file) as z:
        assert z["spike_times_ms"].size == rep["spike_count"]
        assert z["rates_hz"].shape[0] == 2
        assert list(z["population_sizes"]) == [120, 80]
        meta = json.loads(str(z["meta_json"]))
        e_rate = rep["populations"][0]["mean_rate_hz"]
        assert np.count_nonzero(z["spike_neurons"] < 120) / 120 / 0.2 == pytest.approx(e_rate)
    assert meta["seed"] == 4
    assert rep["mean_rate_hz"] == pytest.approx(rep["spike_count"] / 200 / 0.2)
    # same seed, same numbers
    code2, out2, _ = _run(capsys, "simulate", "--preset", "gast2023_ei", "--n-e", "120",
                          "--n-i", "80", "--drive-i", "30", "--duration", "200", "--dt", "0.1",
                          "--seed", "4", "--json")
    assert code2 == 0 and json.loads(out2)["spike_count"] == rep["spike_count"]


def test_human_readable_output(capsys):
    code, out, _ = _run(capsys, "simulate", "--n", "50", "--duration", "50", "--no-spikes",
                        "--transient", "10")
    assert code == 0
    assert "single: 50 neurons" in out and "mean rate" in out


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--n", "-5"], "number of neurons"),
        (["--dt", "0"], "--dt"),
        (["--dt", "0.03", "--duration", "100"], "multiple of dt"),
        (["--delta-v", "-1"], "Delta_v"),
        (["--drive-i", "3"], "gast2023_ei"),
        (["--preset", "gast2023_ei", "--coupling", "2"], "single"),
        (["--delta-v", "nan"], "finite"),
        (["--transient", "5000"], "--transient"),
        (["--out", "x.txt"], ".npz"),
        (["--connection-p", "2"], "probabilit"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = _run(capsys, "simulate", "--duration", "20", *argv)
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if "error" in ln]
    assert len(lines) == 1 and fragment in lines[0]
    assert out == ""


@pytest.mark.parametrize("argv,fragment", [(["--n", "ten"], "invalid int"),
                                           (["--method", "rk4"], "invalid choice")])
def test_argparse_errors_exit_2(capsys, argv, fragment):
    with pytest.raises(SystemExit) as info:
        main(["simulate", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
