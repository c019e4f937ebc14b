"""Error catalogue (issue 7): bad input of many kinds, through the CLI.

Every case must give exactly one line on stderr, exit code 2, nothing on stdout, and leave no
partial output behind (the ``--out`` target does not appear, and no temporary files remain
in the output folder).  Commands run in-process (``hetfit.cli.main.main``) to keep this fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hetfit.cli.main import main

GOOD_TABLE = "cell_id,donor_id,cell_type,v_threshold_mV,tau_m_ms\n" + "".join(
    f"c{i},d{i % 4},pyr,{-45 + (i % 7) * 0.8:.2f},{15 + (i % 5) * 2.0:.1f}\n" for i in range(30)
)


def _write(path: Path, text: str | bytes) -> str:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def _recording(path: Path, rows: list[tuple[str, float]]) -> str:
    return _write(path, "unit,time_ms\n" + "".join(f"{u},{t}\n" for u, t in rows))


def _spikes(n_units: int, per_unit: int = 40, rate_hz: float = 10.0) -> list[tuple[str, float]]:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(n_units):
        times = np.sort(rng.uniform(0, per_unit / rate_hz * 1e3, per_unit))
        rows += [(f"E{u}", float(t)) for t in times]
    return sorted(rows, key=lambda r: r[1])


def _spikes_ei() -> list[tuple[str, float]]:
    """A recording the default model accepts: 3 E and 3 I units over 2 s."""
    rows = [(("E" if int(u[1:]) < 3 else "I") + u[1:], t) for u, t in _spikes(6, per_unit=20)]
    return sorted(rows, key=lambda r: r[1])


def _user_dir(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("the user's own file")
    return path


def _symlink(link: Path, target: Path) -> Path:
    link.symlink_to(target, target_is_directory=target.is_dir())
    return link


def _fifo(path: Path) -> Path:
    import os

    os.mkfifo(path)
    return path


def _pickle(path: Path) -> str:
    import pickle

    path.write_bytes(pickle.dumps({"format": "hetfit-posterior", "format_version": 1}))
    return str(path)


def _npz_posterior(path: Path, header: dict, objects: bool = False) -> str:
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    if objects:
        arrays["state_0000"] = np.array([{"a": 1}], dtype=object)
    np.savez(path, **arrays)
    return str(path)


# Each case: id -> function(tmp_path) returning (argv, path that must not exist afterwards | None)
def _cases():
    c = {}

    # --- bad paths / unreadable files --------------------------------------------------
    c["estimate-missing-file"] = lambda t: (
        ["estimate", "--source", "table", str(t / "nope.csv"), "--out", str(t / "o.json")],
        t / "o.json")
    c["estimate-directory-as-file"] = lambda t: (
        ["estimate", "--source", "table", str(t), "--out", str(t / "o.json")], t / "o.json")
    c["estimate-binary-csv"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", b"\x00\x01\x02\xff" * 64)], None)
    c["estimate-empty-csv"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", "")], None)
    c["estimate-corrupt-abf"] = lambda t: (
        ["estimate", "--source", "abf", _write(t / "x.abf", b"ABF2" + b"\x00" * 100),
         "--out", str(t / "o.json")], t / "o.json")
    c["estimate-corrupt-nwb"] = lambda t: (
        ["estimate", "--source", "nwb", _write(t / "x.nwb", b"not an hdf5 file at all")], None)
    c["estimate-allen-missing"] = lambda t: (
        ["estimate", "--source", "allen", str(t / "allen_cells.csv")], None)
    # --- wrong columns / wrong units / bad numbers in files ------------------------------
    c["estimate-no-cell-id"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", "id,v_threshold_mV\na,-45\n")],
        None)
    c["estimate-threshold-in-volts"] = lambda t: (
        ["estimate", "--source", "table", _write(
            t / "x.csv", "cell_id,v_threshold_mV\n" + "".join(
                f"c{i},{-0.045 + i * 1e-4}\n" for i in range(20)))], None)
    c["estimate-text-in-number-column"] = lambda t: (
        ["estimate", "--source", "table", _write(
            t / "x.csv", "cell_id,tau_m_ms\na,12\nb,fast\nc,14\n")], None)
    c["estimate-duplicate-ids"] = lambda t: (
        ["estimate", "--source", "table", _write(
            t / "x.csv", "cell_id,tau_m_ms\na,12\na,13\nb,14\n")], None)
    c["estimate-unknown-feature"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE),
         "--features", "spike_magic_mV"], None)
    c["estimate-unknown-group-label"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE),
         "--group-by", "no_such_label"], None)
    c["estimate-negative-bootstrap"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE), "--n-boot", "-5"],
        None)
    c["estimate-level-above-one"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE), "--level", "1.5"],
        None)
    c["estimate-bad-mapping-json"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE),
         "--mapping", _write(t / "m.json", "{not json")], None)
    # --- params --------------------------------------------------------------------------
    c["params-missing-estimate"] = lambda t: (
        ["params", "--from", str(t / "est.json"), "--out", str(t / "p.json")], t / "p.json")
    c["params-not-an-estimate"] = lambda t: (
        ["params", "--from", _write(t / "est.json", json.dumps({"hello": 1})),
         "--out", str(t / "p.json")], t / "p.json")
    c["params-unknown-preset"] = lambda t: (
        ["params", "--preset", "allen_human:no-such-type", "--out", str(t / "p.json")],
        t / "p.json")
    c["params-zero-neurons"] = lambda t: (
        ["params", "--preset", "allen_human:epilepsy-spiny", "--n", "0",
         "--out", str(t / "p.json")], t / "p.json")
    # --- simulate: bad numbers -----------------------------------------------------------
    c["simulate-negative-dt"] = lambda t: (
        ["simulate", "--dt", "-0.1", "--out", str(t / "s.npz")], t / "s.npz")
    c["simulate-negative-n"] = lambda t: (["simulate", "--n", "-5"], None)
    c["simulate-negative-width"] = lambda t: (["simulate", "--delta-v", "-1"], None)
    c["simulate-nan-duration"] = lambda t: (["simulate", "--duration", "nan"], None)
    c["simulate-not-a-number"] = lambda t: (["simulate", "--n", "many"], None)
    # --- fit: bad recordings, bad models, bad posteriors, interrupted runs -------------
    c["fit-missing-recording"] = lambda t: (
        ["fit", "--recording", str(t / "rec.csv"), "--out", str(t / "fit")], t / "fit")
    c["fit-empty-recording"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", []), "--out", str(t / "fit")],
        t / "fit")
    c["fit-one-unit"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes(1)),
         "--out", str(t / "fit")], t / "fit")
    c["fit-negative-times"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", [("E0", -5.0)] + _spikes(3)),
         "--out", str(t / "fit")], t / "fit")
    c["fit-unknown-model"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes(4)), "--model",
         "no_such_model", "--out", str(t / "fit")], t / "fit")
    c["fit-corrupt-posterior"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes(4)), "--posterior",
         _write(t / "post.pt", b"\x80\x04 this is not a posterior"), "--out", str(t / "fit")],
        t / "fit")
    c["fit-zero-budget"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes(4)), "--budget", "0",
         "--out", str(t / "fit")], t / "fit")
    # --- compare ------------------------------------------------------------------------
    c["compare-missing-tables"] = lambda t: (
        ["compare", "--healthy", str(t / "a.csv"), "--disease", str(t / "b.csv"),
         "--out", str(t / "cmp")], t / "cmp")
    c["compare-too-few-cells"] = lambda t: (
        ["compare", "--healthy", _write(t / "a.csv", GOOD_TABLE), "--disease", _write(
            t / "b.csv", "cell_id,cell_type,v_threshold_mV,tau_m_ms\nx,pyr,-44,12\n"
            "y,pyr,-46,14\n"), "--no-network", "--out", str(t / "cmp")], t / "cmp")
    c["compare-no-shared-features"] = lambda t: (
        ["compare", "--healthy", _write(t / "a.csv", GOOD_TABLE), "--disease", _write(
            t / "b.csv", "cell_id,cell_type,rheobase_pA\n" + "".join(
                f"x{i},pyr,{100 + 7 * i}\n" for i in range(30))), "--no-network",
         "--out", str(t / "cmp")], t / "cmp")
    c["compare-unknown-preset"] = lambda t: (
        ["compare", "--preset", "no-such-preset", "--out", str(t / "cmp")], t / "cmp")
    # --- issue 19: outputs the user owns, posterior files -------------------------------
    c["compare-out-holds-user-files"] = lambda t: (
        ["compare", "--healthy", _write(t / "a.csv", GOOD_TABLE), "--disease",
         _write(t / "b.csv", GOOD_TABLE), "--no-network", "--out", str(_user_dir(t / "mine"))],
        None)
    c["compare-out-is-a-symlink"] = lambda t: (
        ["compare", "--healthy", _write(t / "a.csv", GOOD_TABLE), "--disease",
         _write(t / "b.csv", GOOD_TABLE), "--no-network", "--out",
         str(_symlink(t / "link", _user_dir(t / "real")))], None)
    c["estimate-out-is-a-device"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE), "--out", "/dev/null"],
        None)
    c["estimate-out-is-a-directory"] = lambda t: (
        ["estimate", "--source", "table", _write(t / "x.csv", GOOD_TABLE),
         "--out", str(_user_dir(t / "d"))], None)
    c["params-out-is-a-user-file"] = lambda t: (
        ["params", "--preset", "allen_human:epilepsy-spiny", "--n", "10",
         "--out", _write(t / "mine.json", '{"my": 1}')], None)
    c["simulate-out-is-a-pipe"] = lambda t: (
        ["simulate", "--n", "10", "--duration", "10", "--out", str(_fifo(t / "p.npz"))], None)
    c["fit-out-is-a-file"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()),
         "--out", _write(t / "o", "mine")], None)
    c["fit-store-is-a-file"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()),
         "--store", _write(t / "s", "mine"), "--out", str(t / "fit")], t / "fit")
    c["fit-legacy-pickle-posterior"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()), "--posterior",
         _pickle(t / "post.pt"), "--out", str(t / "fit")], t / "fit")
    c["fit-posterior-missing-keys"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()), "--posterior",
         _npz_posterior(t / "post.npz", {"format": "hetfit-posterior", "format_version": 2}),
         "--out", str(t / "fit")], t / "fit")
    c["fit-posterior-with-object-array"] = lambda t: (
        ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()), "--posterior",
         _npz_posterior(t / "post.npz", {"format": "hetfit-posterior"}, objects=True),
         "--out", str(t / "fit")], t / "fit")
    # --- issue 19: model specs, store, scheduler --------------------------------------
    # (a damaged store and a scheduler dying mid-run keep the store for resuming, so their
    # CLI checks live in tests/test_inference_robustness.py, not in this no-leftovers list)
    def fit_model(spec):
        return lambda t: (
            ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()), "--model",
             spec(t) if callable(spec) else spec, "--budget", "1", "--out", str(t / "fit")],
            t / "fit")

    c["fit-model-number-in-quotes"] = fit_model('gast2023_ei:n_e="many"')
    c["fit-model-word-for-number"] = fit_model("gast2023_ei:n_e=many")
    c["fit-model-nan-neurons"] = fit_model("gast2023_ei:n_e=NaN")
    c["fit-model-zero-step"] = fit_model("gast2023_ei:dt_ms=0")
    c["fit-model-text-in-range"] = fit_model('gast2023_ei:drive_i_range=[0,"a"]')
    c["fit-model-bool-in-quotes"] = fit_model('gast2023_ei:pooled="true"')
    c["fit-model-spec-file-list"] = fit_model(lambda t: _write(t / "m.json", "[1, 2]"))
    c["fit-model-spec-file-string"] = fit_model(lambda t: _write(t / "m.json", '"gast2023_ei"'))
    c["fit-model-spec-options-list"] = fit_model(lambda t: _write(
        t / "m.json", json.dumps({"problem": "gast2023_ei", "options": [1, 2]})))
    c["fit-model-spec-options-text"] = fit_model(lambda t: _write(
        t / "m.json", json.dumps({"problem": "gast2023_ei", "options": "n_e=400"})))

    def fit_scheduler(address):
        return lambda t: (
            ["fit", "--recording", _recording(t / "rec.csv", _spikes_ei()), "--budget", "1",
             "--scheduler", address, "--out", str(t / "fit")], t / "fit")

    c["fit-scheduler-with-space"] = fit_scheduler("foo bar")
    c["fit-scheduler-bad-scheme"] = fit_scheduler("http://host:8786")
    c["fit-scheduler-no-workers"] = fit_scheduler("local:0")
    c["fit-scheduler-unreachable"] = fit_scheduler("tcp://127.0.0.1:1")
    # --- argument-level mistakes --------------------------------------------------------
    c["unknown-option"] = lambda t: (["simulate", "--widht", "1"], None)
    c["missing-required-option"] = lambda t: (["fit"], None)
    return c


CASES = _cases()


def _run_cli(argv, capsys):
    argv = [argv[0], "--quiet", *argv[1:]]  # progress/info lines off: only the error remains
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors exit through SystemExit
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_exit_2_and_no_output(case, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    argv, forbidden = CASES[case](work)
    before = {p.name for p in work.iterdir()}
    code, out, err = _run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"{case}: exit {code}; stderr: {err}"
    assert out == "", f"{case}: stdout not empty: {out!r}"
    assert len(lines) == 1, f"{case}: expected one line, got: {err!r}"
    assert "Traceback" not in err and "error" in lines[0]
    if forbidden is not None:
        assert not Path(forbidden).exists(), f"{case}: partial output {forbidden} left behind"
    leftovers = {p.name for p in work.iterdir()} - before - {Path(forbidden).name
                                                              if forbidden else ""}
    assert not leftovers, f"{case}: files left behind: {leftovers}"


def test_catalogue_is_large():
    assert len(CASES) >= 25
