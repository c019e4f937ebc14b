"""`hetfit fit`: bad recordings give one-line errors with exit code 2; an end-to-end run
trains, saves and re-applies a posterior, and refuses it for a different model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hetfit.cli.main import main


def _csv(path, rows, header="unit,time_ms"):
    path.write_text(header + "\n" + "".join(f"{u},{t}\n" for u, t in rows))
    return path


def _run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors exit from inside the parser
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _good_rows(n_units=6, rate_hz=20.0, t_stop=1000.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_units):
        pop = "E" if k % 2 == 0 else "I"
        times = np.sort(rng.uniform(0, t_stop, int(rate_hz * t_stop / 1000)))
        rows += [(f"{pop}{k}", round(float(t), 3)) for t in times]
    rows.sort(key=lambda r: r[1])
    return rows


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("empty", "no spikes|empty"),
        ("one_unit", "unit"),
        ("unsorted", "decreas|sort"),
        ("negative", "negative"),
        ("wrong_units", "seconds|ms"),
        ("too_long", "window-ms"),
        ("missing", "not found"),
        ("unlabelled", "does not belong|pooled"),
    ],
)
def test_bad_recordings_give_one_line_errors(tmp_path, capsys, case, fragment):
    path = tmp_path / f"{case}.csv"
    extra: list[str] = []
    if case == "empty":
        _csv(path, [])
    elif case == "one_unit":
        _csv(path, [("E1", t) for t in np.arange(5.0, 1000.0, 50.0)])
    elif case == "unsorted":
        _csv(path, [("E1", 10.0), ("E1", 5.0), ("I2", 20.0), ("I2", 40.0)])
    elif case == "negative":
        _csv(path, [("E1", -5.0), ("E1", 10.0), ("I2", 20.0), ("I2", 40.0)])
    elif case == "wrong_units":
        # millisecond values declared as seconds: 200 regular spikes per unit 5 "s" apart
        _csv(path, sorted([(f"{p}{k}", float(t)) for k, p in enumerate("EIEI")
                           for t in np.arange(1.0 + k, 1000.0, 5.0)], key=lambda r: r[1]),
             header="unit,time")
        extra = ["--time-unit", "s"]
    elif case == "missing":
        pass
    elif case == "too_long":  # 10 minutes: would make every simulation 10 minutes long
        _csv(path, [(u, t * 600.0) for u, t in _good_rows()])
    elif case == "unlabelled":
        _csv(path, [(f"ch{u}", t) for u, t in _good_rows()])
    code, out, err = _run(capsys, ["fit", "--recording", str(path), "--budget", "10",
                                   "--out", str(tmp_path / "o"), *extra])
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hetfit fit: error:"), err
    assert any(f in lines[0].lower() for f in fragment.split("|")), lines[0]
    assert not (tmp_path / "o").exists()  # nothing is created before the input is checked


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    path = _csv(tmp_path / "r.csv", _good_rows())
    for argv, frag in (
        (["--budget", "0"], "--budget"),
        (["--window-ms", "5000"], "longer than the recording"),
        (["--model", "unknown"], "unknown model"),
        (["--method", "xyz"], "invalid choice"),
    ):
        code, out, err = _run(capsys, ["fit", "--recording", str(path), *argv])
        assert code == 2 and out == "" and frag in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # simulates and trains a small network (~30-60 s on 2 busy cores)
def test_fit_end_to_end_then_reuse_and_refuse(tmp_path, capsys):
    from hetfit.inference.problems import ei_width_problem

    sim, _ = ei_width_problem(n_e=40, n_i=40, duration_ms=500.0, transient_ms=100.0)
    rec = sim.simulate_recordings(np.array([[1.0, 1.5, 50.0]]), [7])[0]
    csv = tmp_path / "rec.csv"
    rec.to_csv(csv)
    model = "gast2023_ei:n_e=40,n_i=40,transient_ms=100"
    window = ["--t-start-ms", "100", "--t-stop-ms", "600"]
    code, out, err = _run(capsys, ["fit", "--recording", str(csv), *window, "--model", model,
                                   "--budget", "300", "--out", str(tmp_path / "fit"),
                                   "--torch-threads", "1", "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["trained_now"] is True
    params = res["posterior"]["parameters"]
    assert set(params) == {"delta_v_E", "delta_v_I", "I_E"}
    for p in params.values():
        lo, hi = p["ci90"]
        assert p["prior_range"][0] <= lo <= p["median"] <= hi <= p["prior_range"][1]
        assert lo <= p["mean"] <= hi
    assert res["training"]["n_simulations"] == 300
    assert res["training"]["n_used"] + res["training"]["n_excluded"] == 300
    assert set(res["calibration"]["sbc"]["ks_pvalue"]) == set(params)
    assert "plausible" in res["checks"]["misspecification"]
    post = tmp_path / "fit" / "posterior.npz"
    assert res["artifacts"]["posterior"] == str(post) and post.exists()
    assert (tmp_path / "fit" / "posterior.json").exists()
    assert json.loads((tmp_path / "fit" / "result.json").read_text())["trained_now"]
    # reuse: no training, same posterior summaries for the same seed
    code, out2, err = _run(capsys, ["fit", "--recording", str(csv), *window, "--model", model,
                                    "--posterior", str(post), "--json"])
    assert code == 0, err
    res2 = json.loads(out2)
    assert res2["trained_now"] is False
    assert res2["posterior"]["parameters"]["delta_v_E"]["median"] == pytest.approx(
        params["delta_v_E"]["median"])
    code, text, _ = _run(capsys, ["fit", "--recording", str(csv), *window, "--model", model,
                                  "--posterior", str(post)])
    assert code == 0 and text.startswith("posterior (4000 samples, 90% central intervals):")
    assert all(name in text for name in params) and "recording vs simulations:" in text
    # a posterior is refused for another model (different network size)
    code, out3, err = _run(capsys, ["fit", "--recording", str(csv), *window, "--model",
                                    "gast2023_ei:n_e=50,n_i=50,transient_ms=100",
                                    "--posterior", str(post), "--json"])
    assert code == 2 and out3 == ""
    lines = err.strip().splitlines()  # progress lines may precede the one error line
    assert lines[-1].startswith("hetfit fit: error:") and "trained for a different model" in lines[-1]
    assert sum("error" in ln for ln in lines) == 1


def test_cli_and_inference_imports_stay_light():
    import subprocess
    import sys

    code = ("import sys, hetfit.inference, hetfit.inference.fit, hetfit.cli.commands.fit, "
            "hetfit.cli.main; hetfit.cli.main.build_parser(); "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'sbi', 'dask')]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
