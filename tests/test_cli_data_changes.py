"""Issue 19, case 6: nothing the readers drop or change goes unsaid.

What the spike reader drops (by reason, with the first units) reaches `hetfit fit`'s JSON and
human output; `hetfit estimate` shows its dropped rows; a repeated column header is resolved
or refused, never silently half-read; semicolon- and tab-delimited tables (and decimal
commas) read; every hint the CLI prints names a flag the command has; a sparse long
recording can get past the ms/s check; `--quiet` silences sbi; report.md escapes labels.
Commands run in-process; nothing here trains a network except two tiny sbi runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hetfit.cli.main import build_parser, main
from hetfit.data_adapters.activity import read_recording, read_spike_csv
from hetfit.data_adapters.celltable import CellTable
from hetfit.data_adapters.tables import read_raw
from hetfit.errors import SchemaError

ROWS = [(f"c{i}", f"d{i % 6}", "pyr", -45 + (i % 7) * 0.8, 15 + (i % 5) * 2.0)
        for i in range(30)]
HEADER = ("cell_id", "donor_id", "cell_type", "v_threshold_mV", "tau_m_ms")
FAST = ["--n-boot", "100", "--n-gof", "0", "--min-donors", "3", "--families", "gaussian"]


def _table(path: Path, rows=ROWS, header=HEADER, sep=",", decimal=".") -> str:
    def cell(v):
        return f"{v:.2f}".replace(".", decimal) if isinstance(v, float) else str(v)

    lines = [sep.join(header)] + [sep.join(cell(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors exit inside the parser
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _spikes(n_units=6, per_unit=40, t_stop=2000.0, seed=0) -> list[tuple[str, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_units):
        times = np.sort(rng.uniform(0, t_stop, per_unit))
        rows += [(f"{'EI'[k % 2]}{k}", round(float(t), 3)) for t in times]
    return sorted(rows, key=lambda r: r[1])


def _spike_csv(path: Path, rows, header="unit,time_ms", sep=",") -> str:
    path.write_text(header + "\n" + "".join(f"{u}{sep}{t}\n" for u, t in rows))
    return str(path)


def _fit_read(argv: list[str]):
    """What `hetfit fit` reads and reports about a recording, without training: the
    command's own reading step, its result entry and the render of that entry."""
    from hetfit.cli.commands import fit
    from hetfit.errors import cli_hints

    args = build_parser().parse_args(["fit", *argv])
    with cli_hints(args._flags):
        rec = fit._read_recording(args)
    recording = fit.recording_result(args, rec)
    result = {"recording": json.loads(json.dumps(recording)),  # as in result.json
              "posterior": {"level": 0.9, "n_samples": 10, "parameters": {}},
              "checks": {}, "artifacts": {"posterior": "p.pt"}}
    return rec, result, fit.render(result)


# -- 1. fit says what the spike reader dropped --------------------------------------------


def test_fit_reports_spikes_dropped_outside_the_window_with_their_units(tmp_path):
    rows = _spikes()
    late = [(u, t) for u, t in rows if t >= 1500.0]
    path = _spike_csv(tmp_path / "rec.csv", rows)
    rec, result, text = _fit_read(["--recording", path, "--t-stop-ms", "1500"])
    got = result["recording"]
    assert got["rows_read"] == len(rows) and got["rows_dropped"] == len(late)
    assert got["dropped"] == {"outside the window": len(late)}
    first = sorted({u for u, _ in late})[:5]
    assert got["examples"]["outside the window"] == first
    assert f"dropped {len(late)}: outside the window ({', '.join(first)}, ...)" in text
    assert f"{len(rows)} spikes read, {len(rows) - len(late)} kept" in text


def test_fit_reports_rows_without_a_unit_and_what_window_ms_leaves_out(tmp_path):
    rows = _spikes()
    path = tmp_path / "rec.csv"
    path.write_text("unit,time_ms\n" + "".join(f"{u},{t}\n" for u, t in rows)
                    + ",12.5\n,40.0\n")
    rec, result, text = _fit_read(["--recording", str(path), "--nan-policy", "drop",
                                   "--window-ms", "1000"])
    got = result["recording"]
    n_late = sum(t >= 1000.0 for _, t in rows)
    assert got["dropped"]["missing unit"] == 2
    assert got["examples"]["missing unit"] == [f"row {len(rows) + 1}", f"row {len(rows) + 2}"]
    assert got["dropped"]["outside the analysed window [0, 1000) ms"] == n_late
    assert got["rows_kept"] == rec.n_spikes == len(rows) - n_late
    assert "dropped 2: missing unit" in text and "analysed window" in text


def test_every_spike_duplicated_is_counted_and_can_be_dropped(tmp_path):
    rows = _spikes()
    path = _spike_csv(tmp_path / "twice.csv", sorted(rows + rows, key=lambda r: r[1]))
    # kept by default (coarse time resolutions give real ties), but counted and shown
    rec, result, text = _fit_read(["--recording", path])
    assert rec.n_spikes == 2 * len(rows)
    (reason, n), = result["recording"]["changed"].items()
    assert n == len(rows) and "same time as the previous spike" in reason
    assert "--duplicate-spikes drop" in text and f"{len(rows)} spike(s) at the same time" in text
    # dropped on request, and counted as dropped
    rec, result, text = _fit_read(["--recording", path, "--duplicate-spikes", "drop"])
    assert rec.n_spikes == len(rows)
    assert result["recording"]["rows_dropped"] == len(rows)
    assert f"dropped {len(rows)}: spike(s) at the same time" in text


# -- 2. estimate's human summary shows dropped rows ---------------------------------------


def test_estimate_human_summary_lists_dropped_rows_with_ids(tmp_path, capsys):
    rows = [*ROWS, ("", "d1", "pyr", -40.0, 12.0), ("c99", "d1", "pyr", "", ""),
            ("c3", "d1", "pyr", -41.0, 13.0)]
    path = _table(tmp_path / "cells.csv", rows)
    code, out, err = _run(capsys, ["estimate", "--source", "table", path, "--quiet",
                                   "--on-duplicate", "first", *FAST])
    assert code == 0, err
    assert "33 rows read, 30 kept, 3 dropped" in out
    assert "dropped 1: missing cell_id (row 31)" in out
    assert "dropped 1: no feature values (c99)" in out
    assert "dropped 1: duplicated cell_id (kept first) (c3)" in out


# -- 3. a repeated column header is resolved or refused -----------------------------------


def test_repeated_header_with_different_values_is_refused_naming_the_column(tmp_path, capsys):
    rows = [(*r, r[3] + 5.0) for r in ROWS]
    path = _table(tmp_path / "dup.csv", rows, (*HEADER, "v_threshold_mV"))
    code, out, err = _run(capsys, ["estimate", "--source", "table", path, *FAST])
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "column 'v_threshold_mV' appears 2 times" in line and "columns 4, 6" in line


def test_repeated_header_with_the_same_values_is_merged_and_noted(tmp_path):
    rows = [(*r, r[3]) for r in ROWS]
    path = _table(tmp_path / "dup.csv", rows, (*HEADER, "v_threshold_mV"))
    table = CellTable.read(path)
    assert table.n_cells == 30 and "v_threshold_mV.1" not in table.data.columns
    assert any("'v_threshold_mV' appears 2 times" in n for n in table.report.notes)


def test_repeated_header_in_excel_and_spike_files(tmp_path):
    pytest.importorskip("openpyxl")
    frame = pd.DataFrame([[f"c{i}", -45.0 + i, -40.0] for i in range(5)])
    frame.columns = ["cell_id", "v_threshold_mV", "v_threshold_mV"]
    frame.to_excel(tmp_path / "dup.xlsx", index=False)
    with pytest.raises(SchemaError, match="'v_threshold_mV' appears 2 times"):
        read_raw(tmp_path / "dup.xlsx")
    spikes = tmp_path / "spikes.csv"
    spikes.write_text("unit,time_ms,time_ms\n" + "".join(
        f"E{k % 3},{t},{t + 1}\n" for k, t in enumerate(range(10, 400, 10))))
    with pytest.raises(SchemaError, match="'time_ms' appears 2 times"):
        read_spike_csv(spikes)


# -- 4. semicolon / tab delimiters, decimal commas, --delimiter ---------------------------


@pytest.mark.parametrize("sep, decimal", [(";", "."), (";", ","), ("\t", "."), ("\t", ",")])
def test_semicolon_and_tab_tables_read_through_estimate(tmp_path, capsys, sep, decimal):
    path = _table(tmp_path / "cells.csv", sep=sep, decimal=decimal)
    code, out, err = _run(capsys, ["estimate", "--source", "table", path, "--json", *FAST])
    assert code == 0, err
    res = json.loads(out)
    assert res["n_cells"] == 30 and res["features"] == ["v_threshold_mV", "tau_m_ms"]
    sd = {r["feature"]: r["sd"] for r in res["summary"]}
    assert sd["v_threshold_mV"] == pytest.approx(np.std([r[3] for r in ROWS], ddof=1),
                                                 rel=0.02)
    notes = res["table_report"]["notes"]
    assert any("separated by" in n for n in notes)
    assert any("decimal comma" in n for n in notes) == (decimal == ",")


def test_delimiter_flag_reads_what_sniffing_cannot(tmp_path, capsys):
    # a comma inside a column name makes the header look comma-delimited
    header = ("cell_id", "donor_id", "cell_type", "v_threshold_mV", "tau_m_ms", "remark, free")
    path = _table(tmp_path / "cells.csv", [(*r, "ok") for r in ROWS], header, sep=";")
    code, out, err = _run(capsys, ["estimate", "--source", "table", path, *FAST])
    assert code == 2 and "cell_id" in err
    code, out, err = _run(capsys, ["estimate", "--source", "table", path, "--delimiter", ";",
                                   "--json", *FAST])
    assert code == 0, err
    assert json.loads(out)["n_cells"] == 30
    code, out, err = _run(capsys, ["estimate", "--source", "table", path, "--delimiter",
                                   "ab", *FAST])
    assert code == 2 and "--delimiter must be one character" in err


def test_compare_reads_semicolon_tables_and_has_the_flags(tmp_path):
    from hetfit.cli.commands.compare import _read_table

    path = _table(tmp_path / "healthy.csv", sep=";", decimal=",")
    args = build_parser().parse_args(["compare", "--healthy", path, "--disease", path])
    assert _read_table(path, "healthy", args).n_cells == 30
    args = build_parser().parse_args(["compare", "--healthy", path, "--disease", path,
                                      "--delimiter", ",", "--encoding", "latin-1"])
    assert args.delimiter == "," and args.encoding == "latin-1"


def test_spike_csv_with_semicolons_and_decimal_commas(tmp_path):
    rows = _spikes()
    path = tmp_path / "rec.csv"
    path.write_text("unit;time_ms\n" + "".join(f"{u};{str(t).replace('.', ',')}\n"
                                               for u, t in rows))
    rec = read_recording(path)
    assert rec.n_spikes == len(rows)
    np.testing.assert_allclose(rec.times_ms, sorted(t for _, t in rows))
    assert any("semicolons" in n for n in rec.report.notes)


def test_sniffing_keeps_ordinary_files_as_they_were(tmp_path):
    from hetfit.data_adapters.tables import sniff_delimiter

    path = _table(tmp_path / "plain.csv")
    assert sniff_delimiter(path, ",") == ","
    path = _table(tmp_path / "plain.tsv", sep="\t")
    assert sniff_delimiter(path, "\t") == "\t"
    one = tmp_path / "one.csv"
    one.write_text("cell_id\nc1\nc2\n")
    assert sniff_delimiter(one, ",") == ","


# -- 5. every hint the CLI prints names a flag the command has ----------------------------


def _neo_two_segments(path: Path) -> str:
    neo = pytest.importorskip("neo")
    import quantities as pq

    block = neo.Block()
    for _ in range(2):
        seg = neo.Segment()
        for k in range(2):
            seg.spiketrains.append(neo.SpikeTrain(np.arange(1.0, 100.0, 7.0 + k) * pq.ms,
                                                  t_stop=100.0 * pq.ms, name=f"E{k}"))
        block.segments.append(seg)
    neo.io.PickleIO(str(path)).write_block(block)
    return str(path)


def _hint_cases():
    rows = _spikes()
    c = {}
    c["estimate-latin1"] = lambda t: ["estimate", "--source", "table", _latin1(t)]
    c["estimate-duplicate-ids"] = lambda t: [
        "estimate", "--source", "table", _table(t / "x.csv", [*ROWS, ROWS[0]])]
    c["estimate-no-cell-id"] = lambda t: [
        "estimate", "--source", "table", _table(t / "x.csv", header=("id", *HEADER[1:]))]
    c["estimate-threshold-in-volts"] = lambda t: [
        "estimate", "--source", "table",
        _table(t / "x.csv", [(*r[:3], r[3] / 1000, r[4]) for r in ROWS])]
    c["compare-latin1"] = lambda t: ["compare", "--healthy", _latin1(t), "--disease",
                                     _latin1(t), "--no-network"]
    c["compare-duplicate-ids"] = lambda t: [
        "compare", "--healthy", _table(t / "x.csv", [*ROWS, ROWS[0]]),
        "--disease", _table(t / "y.csv"), "--no-network"]
    c["fit-unsorted"] = lambda t: ["fit", "--recording", _spike_csv(
        t / "r.csv", [("E1", 10.0), ("E1", 5.0), ("I2", 20.0), ("I2", 40.0)])]
    c["fit-nan-time"] = lambda t: ["fit", "--recording", _spike_csv(
        t / "r.csv", [*rows, ("E1", "nan")])]
    c["fit-missing-unit"] = lambda t: ["fit", "--recording", _spike_csv(
        t / "r.csv", [*rows, ("", 5.0)])]
    c["fit-unknown-time-unit"] = lambda t: ["fit", "--recording", _spike_csv(
        t / "r.csv", rows, header="unit,time")]
    c["fit-no-time-column"] = lambda t: ["fit", "--recording", _spike_csv(
        t / "r.csv", rows, header="unit,stamp")]
    c["fit-seconds-as-ms"] = lambda t: ["fit", "--recording", _spike_csv(
        t / "r.csv", [(u, x / 1000) for u, x in rows])]
    c["fit-ms-as-seconds"] = lambda t: ["fit", "--time-unit", "s", "--recording", _spike_csv(
        t / "r.csv", sorted([(f"{p}{k}", float(x)) for k, p in enumerate("EIEI")
                             for x in np.arange(1.0 + k, 1000.0, 5.0)], key=lambda r: r[1]),
        header="unit,time")]
    c["fit-neo-segments"] = lambda t: ["fit", "--recording", _neo_two_segments(t / "r.pkl")]
    return c


def _latin1(t: Path) -> str:
    p = t / "latin1.csv"
    rows = [(f"c{i}é", *r[1:]) for i, r in enumerate(ROWS)]
    p.write_bytes(("\n".join([",".join(HEADER)] + [",".join(map(str, r)) for r in rows])
                   + "\n").encode("latin-1"))
    return str(p)


_HELP: dict[str, str] = {}


def _help(command: str, capsys) -> str:
    if command not in _HELP:
        code, out, _ = _run(capsys, [command, "--help"])
        assert code == 0
        _HELP[command] = out
    return _HELP[command]


@pytest.mark.parametrize("case", sorted(_hint_cases()))
def test_every_cli_hint_names_flags_that_exist(case, tmp_path, capsys):
    argv = _hint_cases()[case](tmp_path)
    code, out, err = _run(capsys, argv)
    assert code == 2 and out == "", err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"hetfit {argv[0]}: error:"), line
    # no Python keyword options (nan_policy='drop', sort=True, segment=0..1, units={...},
    # unit_column= ...); CLI syntax such as --model NAME:pooled=true is fine
    assert not re.search(r"\b[a-z][a-z_]*=(?![a-z])", line), line
    assert "read_table(" not in line
    flags = re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line)
    helptext = _help(argv[0], capsys)
    for flag in flags:
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", helptext), (flag, line)
    expected = {"estimate-latin1": "--encoding", "estimate-duplicate-ids": "--on-duplicate",
                "compare-latin1": "--encoding", "fit-unsorted": "--sort-spikes",
                "fit-nan-time": "--nan-policy", "fit-missing-unit": "--nan-policy",
                "fit-unknown-time-unit": "--time-unit", "fit-seconds-as-ms": "--time-unit",
                "fit-ms-as-seconds": "--no-time-unit-check", "fit-neo-segments": "--segment",
                "estimate-no-cell-id": "--mapping", "estimate-threshold-in-volts": "--mapping"}
    if case in expected:
        assert expected[case] in flags, line


def test_the_hinted_flags_fix_the_input(tmp_path, capsys):
    code, out, err = _run(capsys, ["estimate", "--source", "table", _latin1(tmp_path),
                                   "--encoding", "latin-1", "--json", *FAST])
    assert code == 0, err
    assert json.loads(out)["n_cells"] == 30
    rec, _, _ = _fit_read(["--recording", _spike_csv(
        tmp_path / "r.csv", [("E1", 10.0), ("E1", 5.0), ("I2", 20.0), ("I2", 40.0)]),
        "--sort-spikes"])
    assert rec.n_spikes == 4
    rec, _, _ = _fit_read(["--recording", _neo_two_segments(tmp_path / "r.pkl"),
                           "--segment", "1"])
    assert rec.unit_ids == ("E0", "E1")
    # outside the CLI the same errors name the Python keywords
    path = _spike_csv(tmp_path / "u.csv", [("E1", 10.0), ("E1", 5.0), ("I2", 20.0)])
    with pytest.raises(SchemaError, match=r"sort=True"):
        read_spike_csv(path)


# -- 6. a sparse long recording can get past the ms/s check -------------------------------


def _sparse_ten_hours(path: Path) -> str:
    rng = np.random.default_rng(3)
    rows = []
    for k in range(6):  # ~0.01 Hz with intervals of at least 5 s, for 10 hours
        t = np.cumsum(5.0 + rng.exponential(95.0, 400))
        rows += [(f"{'EI'[k % 2]}{k}", round(float(x), 3)) for x in t if x < 36_000.0]
    return _spike_csv(path, sorted(rows, key=lambda r: r[1]), header="unit,time_s")


def test_sparse_ten_hour_recording_gets_past_the_time_unit_check(tmp_path, capsys):
    path = _sparse_ten_hours(tmp_path / "sparse.csv")
    code, out, err = _run(capsys, ["fit", "--recording", path, "--out", str(tmp_path / "o")])
    assert code == 2 and "probably in milliseconds" in err and "--no-time-unit-check" in err
    # with the flag the reader lets it through (the diagnosis stays in the report) ...
    rec, result, text = _fit_read(["--recording", path, "--no-time-unit-check"])
    assert rec.duration_ms > 9 * 3600e3
    assert any("time-unit check not applied" in n for n in result["recording"]["notes"])
    assert "time-unit check not applied" in text
    # ... and the command stops later, for another reason (the window is too long to simulate)
    code, out, err = _run(capsys, ["fit", "--recording", path, "--no-time-unit-check",
                                   "--out", str(tmp_path / "o")])
    assert code == 2 and "probably in milliseconds" not in err
    assert not (tmp_path / "o").exists()


# -- 7. --quiet silences sbi; its warnings stay in the training report --------------------


# converges (sbi prints "converged after N epochs") / hits the epoch cap (sbi warns)
@pytest.mark.parametrize("stop_after, max_epochs", [(1, 200), (50, 2)])
def test_quiet_training_prints_nothing_but_keeps_sbi_warnings(capfd, monkeypatch, stop_after,
                                                              max_epochs):
    pytest.importorskip("sbi")
    from hetfit import console
    from hetfit.inference.estimators import EstimatorConfig, train_posterior
    from hetfit.inference.priors import Prior
    from hetfit.inference.toy_models import GaussianToy
    from hetfit.seeding import child_seeds

    monkeypatch.setattr(console, "_QUIET", True)
    prior = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)})
    theta = prior.sample(100, seed=1)
    batch = GaussianToy(sigma=0.1).simulate(theta, child_seeds(2, 100))
    cfg = EstimatorConfig(hidden_features=8, num_transforms=1, training_batch_size=50,
                          learning_rate=5e-3, stop_after_epochs=stop_after,
                          max_num_epochs=max_epochs)
    capfd.readouterr()
    _, report = train_posterior(theta, batch.x, prior, batch.status, seed=0, n_threads=1,
                                config=cfg)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    capped = any("max_num_epochs" in w for w in report.warnings)
    assert capped == (max_epochs == 2) == (report.epochs > max_epochs)


def test_library_output_captures_prints_and_log_warnings(capfd, monkeypatch):
    import logging

    from hetfit import console

    monkeypatch.setattr(console, "_QUIET", True)
    capfd.readouterr()
    with console.library_output() as lib:
        print("\r Neural network successfully converged after 7 epochs.", end="")
        logging.warning("only %s of proposal samples were accepted", "0.1%")
        logging.getLogger("sbi.inference").warning("z-scoring a constant summary")
    assert capfd.readouterr() == ("", "")
    assert lib.printed == ["Neural network successfully converged after 7 epochs."]
    assert lib.logged == ["only 0.1% of proposal samples were accepted",
                          "z-scoring a constant summary"]


# -- 8. report.md escapes labels ----------------------------------------------------------


def test_markdown_tables_escape_pipes_and_line_breaks(tmp_path):
    from hetfit.reports.document import Report

    rep = Report("Types | labels")
    rep.section("Spread of L2|3 cells").table(
        [{"type": "L2|3 basket", "feature": "v_threshold_mV", "width | SD": 1.5},
         {"type": "two\nlines", "feature": "tau_m_ms", "width | SD": 2.0}],
        caption="widths *per* type")
    md = rep.to_markdown()
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(table) == 4  # header, rule, two rows: the line break did not split a row
    for ln in table:
        assert len(re.split(r"(?<!\\)\|", ln)) == 5, ln  # 3 cells, unescaped pipes only
    assert r"L2\|3 basket" in md and "two lines" in md
    assert r"## Spread of L2\|3 cells" not in md and "## Spread of L2|3 cells" in md
    assert r"**widths \*per\* type**" in md


def test_compare_summary_states_what_the_readers_changed(tmp_path, capsys):
    from hetfit.cli.main import main

    rng = np.random.default_rng(0)
    paths = []
    for name, sd in (("h", 1.0), ("d", 0.6)):
        rows = ["cell_id,donor_id,cell_type,v_threshold_mV,tau_m_ms"]
        rows += [f"{name}{i},d{i % 5},pyr,{-45 + sd * rng.normal():.3f},15" for i in range(30)]
        if name == "h":
            rows.append("h_volt,d1,pyr,-200,15")  # implausible: set to missing, counted
        paths.append(tmp_path / f"{name}.csv")
        paths[-1].write_text("\n".join(rows) + "\n")
    code = main(["compare", "--quiet", "--healthy", str(paths[0]), "--disease", str(paths[1]),
                 "--no-network", "--quick", "--features", "v_threshold_mV"])
    out = capsys.readouterr().out
    assert code == 0
    assert "h.csv: 31 rows read, 31 kept, 0 dropped" in out
    assert "v_threshold_mV: 1 implausible value(s) set to missing" in out
